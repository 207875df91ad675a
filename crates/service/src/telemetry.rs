//! Tracing set-up shared by the services: `RUST_LOG` filters the log lines (default `info`),
//! `REPRINT_LOG=json` writes JSON lines, and OpenTelemetry spans are exported by OTLP/HTTP
//! (protobuf) when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is, e.g.
//! `http://127.0.0.1:4318/v1/traces`) or `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL, `/v1/traces`
//! is appended) is set. Without either, no OpenTelemetry layer is installed and nothing is
//! exported: logging costs what it did before.
//!
//! The exported spans name their service by `OTEL_SERVICE_NAME`, else `<service>@<site>` (e.g.
//! `reprint-lab@lab-a`), and carry `reprint.site`. Spans at `info` and above are exported
//! (`OTEL_TRACES_FILTER`, in `RUST_LOG` syntax, changes that); the batch exporter's own knobs
//! (`OTEL_BSP_SCHEDULE_DELAY`, `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_EXPORTER_OTLP_HEADERS`, ...)
//! are read by the OpenTelemetry SDK. Only plain `http://` collectors are supported (the
//! exporter is built without TLS): run a collector or agent beside the service.
//!
//! [`init`] is safe to call more than once (tests start several apps in one process): only the
//! first call installs anything. Keep the returned [`Telemetry`] until the service has stopped:
//! dropping it (or [`Telemetry::shutdown`]) flushes the spans still in the batch.

use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::{Request, Response};
use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use reprint_bus::trace::{TRACEPARENT, TRACESTATE, TraceContext};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,async_nats=warn";
/// tower-sessions wraps every request in an info span of its own ("call"). Kept out of logs and
/// traces alike, whatever `RUST_LOG` says: a span that logs see but traces do not would become
/// the parent that messages carry, a span nobody exported, and break the trace.
const SPANS_NEVER_WANTED: &str = "tower_sessions=warn";
/// What is exported by default: our spans at info, never the exporter's own HTTP client
/// (whose spans would export themselves in a loop).
const DEFAULT_TRACES_FILTER: &str =
    "info,sqlx=warn,async_nats=warn,reqwest=off,hyper=off,hyper_util=off,h2=off,opentelemetry=off";

/// Where spans go, read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpSettings {
    /// The full URL spans are POSTed to (ends in `/v1/traces` unless set verbatim).
    pub endpoint: String,
    /// The `service.name` resource attribute.
    pub service_name: String,
}

fn non_empty(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl OtlpSettings {
    /// The settings for `service` at `site` from the process environment, `None` when no OTLP
    /// endpoint is configured.
    pub fn from_env(service: &str, site: Option<&str>) -> Option<OtlpSettings> {
        OtlpSettings::from_vars(service, site, non_empty)
    }

    /// As [`OtlpSettings::from_env`], reading variables through `var`.
    pub fn from_vars(
        service: &str,
        site: Option<&str>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Option<OtlpSettings> {
        let endpoint = match var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            Some(e) => e,
            None => {
                let base = var("OTEL_EXPORTER_OTLP_ENDPOINT")?;
                format!("{}/v1/traces", base.trim_end_matches('/'))
            }
        };
        let service_name = var("OTEL_SERVICE_NAME").unwrap_or_else(|| match site {
            Some(site) => format!("{service}@{site}"),
            None => service.to_string(),
        });
        Some(OtlpSettings {
            endpoint,
            service_name,
        })
    }
}

/// The installed exporter (if any); flushes it when dropped.
#[must_use = "dropping Telemetry flushes and stops the span exporter"]
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// True when spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports the spans still waiting in the batch, then stops the exporter. Blocks (up to
    /// the exporter's timeout) while it sends.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("telemetry: flushing spans at shutdown failed: {e}");
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sets up logging, plus span export when configured (see the module docs). `service` is the
/// program's name (`reprint-lab`), `site` the site it runs (`lab-a`) when known.
pub fn init(service: &str, site: Option<&str>) -> Telemetry {
    let mut filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    for directive in SPANS_NEVER_WANTED.split(',') {
        if let Ok(d) = directive.parse() {
            filter = filter.add_directive(d);
        }
    }
    let json = std::env::var("REPRINT_LOG")
        .map(|v| v == "json")
        .unwrap_or(false);
    let fmt = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_filter(filter)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer().with_filter(filter).boxed()
    };

    let settings = OtlpSettings::from_env(service, site);
    let provider = match &settings {
        Some(s) => match build_provider(s, site) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("telemetry: not exporting spans to {}: {e}", s.endpoint);
                None
            }
        },
        None => None,
    };
    let otel = provider.as_ref().map(|p| {
        let mut traces_filter = non_empty("OTEL_TRACES_FILTER")
            .and_then(|f| EnvFilter::try_new(f).ok())
            .unwrap_or_else(|| EnvFilter::new(DEFAULT_TRACES_FILTER));
        for directive in SPANS_NEVER_WANTED.split(',') {
            if let Ok(d) = directive.parse() {
                traces_filter = traces_filter.add_directive(d);
            }
        }
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("reprint"))
            .with_filter(traces_filter)
    });

    let installed = tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        // Filtered to ERROR: an unfiltered layer is interested in every span, so spans the log
        // and trace filters leave out (tower-sessions' own request span) would exist again and
        // become the current span whose context an outgoing message carries, breaking the
        // trace from the gateway to the lab (tests/tests/trace.rs).
        .with(
            crate::last_error::ErrorLayer
                .with_filter(tracing_subscriber::filter::LevelFilter::ERROR),
        )
        .try_init()
        .is_ok();
    if !installed {
        // Someone was first (a test's second app): leave theirs alone.
        if let Some(p) = provider {
            let _ = p.shutdown();
        }
        return Telemetry::default();
    }
    match &settings {
        Some(s) if provider.is_some() => tracing::info!(
            service,
            site,
            endpoint = %s.endpoint,
            service_name = %s.service_name,
            "telemetry ready, exporting spans by OTLP/HTTP"
        ),
        _ => tracing::info!(service, site, "telemetry ready"),
    }
    Telemetry { provider }
}

/// The span of one HTTP request, for tower-http's `TraceLayer` (every service wraps its router
/// in `TraceLayer::new_for_http().make_span_with(http_span).on_response(http_response)`): `info` (so it is exported
/// by default), named `<METHOD> <route>`, a child of the caller's span when the request carries
/// a valid `traceparent` header. The query string is left out (it may hold a token).
pub fn http_span<B>(request: &Request<B>) -> tracing::Span {
    let method = request.method();
    let path = request.uri().path();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(path, |m| m.as_str());
    let span = tracing::info_span!(
        "http.request",
        otel.name = %format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        url.path = %path,
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
    );
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(ctx) =
        header(TRACEPARENT).and_then(|v| TraceContext::parse(v, header(TRACESTATE)).ok())
    {
        ctx.adopt(&span);
    }
    span
}

/// Records the status on the request's span, for `TraceLayer::on_response`.
pub fn http_response<B>(response: &Response<B>, latency: Duration, span: &tracing::Span) {
    span.record("http.response.status_code", response.status().as_u16());
    tracing::debug!(
        status = response.status().as_u16(),
        latency_ms = latency.as_millis() as u64,
        "response"
    );
}

fn build_provider(
    settings: &OtlpSettings,
    site: Option<&str>,
) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(settings.endpoint.clone())
        .build()?;
    let mut resource = Resource::builder().with_service_name(settings.service_name.clone());
    if let Some(site) = site {
        resource = resource.with_attribute(KeyValue::new("reprint.site", site.to_string()));
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn nothing_configured_exports_nothing() {
        assert_eq!(
            OtlpSettings::from_vars("reprint-lab", Some("lab-a"), vars(&[])),
            None
        );
    }

    #[test]
    fn base_endpoint_gets_the_traces_path_and_the_site_names_the_service() {
        let s = OtlpSettings::from_vars(
            "reprint-lab",
            Some("lab-a"),
            vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/")]),
        )
        .unwrap();
        assert_eq!(s.endpoint, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(s.service_name, "reprint-lab@lab-a");
    }

    #[test]
    fn traces_endpoint_is_used_verbatim_and_service_name_overrides() {
        let s = OtlpSettings::from_vars(
            "reprint-gateway",
            None,
            vars(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/custom"),
                ("OTEL_SERVICE_NAME", "gw-1"),
            ]),
        )
        .unwrap();
        assert_eq!(s.endpoint, "http://c:4318/custom");
        assert_eq!(s.service_name, "gw-1");
    }
}
