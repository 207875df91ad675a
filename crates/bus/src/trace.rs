//! W3C trace context (`traceparent`, `tracestate`) in NATS message headers, bridged to
//! OpenTelemetry.
//!
//! [`TraceContext`] owns the wire format. A consumer [`TraceContext::extract`]s it from a
//! message and handles the message inside [`TraceContext::span`]: when the service exports
//! spans (an OpenTelemetry layer is installed, see `reprint_service::telemetry`), that span is a
//! child of the remote parent named by the header, so the handling joins the sender's trace. A
//! publisher puts [`TraceContext::outgoing`] on the messages it sends: the *current span's*
//! context, so the next hop becomes a child of the span that sent it (gateway span -> lab
//! span -> counter span). Without an OpenTelemetry layer the same functions fall back to what
//! the message carried ([`TraceContext::child`]) or a new root, so every log line of a handling
//! still carries the order's `trace_id` across labs, counters and the gateway.
//!
//! Format (<https://www.w3.org/TR/trace-context/>): `00-<32 hex trace id>-<16 hex parent
//! id>-<2 hex flags>`, lowercase; all-zero ids are invalid; version `ff` is invalid; a future
//! version is read by its first four fields.

use std::fmt;
use std::future::Future;
use std::str::FromStr;

use async_nats::HeaderMap;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

tokio::task_local! {
    /// The context a piece of work arrived with ([`TraceContext::run`]): what
    /// [`TraceContext::outgoing`] continues when spans are not exported.
    static CARRIED: TraceContext;
}

/// The `traceparent` header name.
pub const TRACEPARENT: &str = "traceparent";
/// The `tracestate` header name.
pub const TRACESTATE: &str = "tracestate";

/// The `sampled` bit of the trace flags.
pub const FLAG_SAMPLED: u8 = 0x01;

/// A malformed `traceparent`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid traceparent {value:?}: {reason}")]
pub struct TraceError {
    /// The header value.
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A W3C trace context: the trace, the parent span, flags and the vendor `tracestate`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TraceContext {
    /// 16-byte trace id, never all zero.
    pub trace_id: [u8; 16],
    /// 8-byte id of the span that sent the message, never all zero.
    pub parent_id: [u8; 8],
    /// Trace flags (bit 0: sampled).
    pub flags: u8,
    /// The `tracestate` header, passed through unchanged.
    pub tracestate: Option<String>,
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    loop {
        for chunk in out.chunks_mut(16) {
            let r = uuid::Uuid::new_v4().as_u128().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
        if out.iter().any(|b| *b != 0) {
            return out;
        }
    }
}

fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

impl TraceContext {
    /// Starts a new trace (random trace id and span id), sampled.
    pub fn new_root() -> TraceContext {
        TraceContext {
            trace_id: random_bytes(),
            parent_id: random_bytes(),
            flags: FLAG_SAMPLED,
            tracestate: None,
        }
    }

    /// The same trace with a new span id: what a publisher puts on the message it sends
    /// while handling work that belongs to `self`.
    pub fn child(&self) -> TraceContext {
        TraceContext {
            parent_id: random_bytes(),
            ..self.clone()
        }
    }

    /// True when the sampled flag is set.
    pub fn sampled(&self) -> bool {
        self.flags & FLAG_SAMPLED != 0
    }

    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id_hex(&self) -> String {
        hex::encode(self.trace_id)
    }

    /// The parent (span) id as 16 lowercase hex digits.
    pub fn parent_id_hex(&self) -> String {
        hex::encode(self.parent_id)
    }

    /// The `traceparent` value, version 00.
    pub fn traceparent(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            self.trace_id_hex(),
            self.parent_id_hex(),
            self.flags
        )
    }

    /// Parses a `traceparent` value (and keeps `tracestate` if given).
    pub fn parse(traceparent: &str, tracestate: Option<&str>) -> Result<TraceContext, TraceError> {
        let err = |reason| TraceError {
            value: traceparent.to_string(),
            reason,
        };
        let v = traceparent.trim();
        if v.len() < 55 {
            return Err(err("shorter than 55 characters"));
        }
        let version = parse_hex::<1>(&v[..2]).ok_or_else(|| err("version is not 2 hex digits"))?;
        match version[0] {
            0xff => return Err(err("version ff is invalid")),
            0x00 if v.len() != 55 => return Err(err("version 00 must be exactly 55 characters")),
            0x00 => {}
            // A future version: read the first four fields, the rest must be separated by '-'.
            _ if v.len() > 55 && v.as_bytes()[55] != b'-' => {
                return Err(err("unexpected data after the flags"));
            }
            _ => {}
        }
        let b = v.as_bytes();
        if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return Err(err("fields are not separated by '-'"));
        }
        let trace_id =
            parse_hex::<16>(&v[3..35]).ok_or_else(|| err("trace id is not 32 lowercase hex"))?;
        let parent_id =
            parse_hex::<8>(&v[36..52]).ok_or_else(|| err("parent id is not 16 lowercase hex"))?;
        let flags = parse_hex::<1>(&v[53..55]).ok_or_else(|| err("flags are not 2 hex digits"))?;
        if trace_id.iter().all(|x| *x == 0) {
            return Err(err("trace id is all zero"));
        }
        if parent_id.iter().all(|x| *x == 0) {
            return Err(err("parent id is all zero"));
        }
        let tracestate = tracestate
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        Ok(TraceContext {
            trace_id,
            parent_id,
            flags: flags[0],
            tracestate,
        })
    }

    /// Writes `traceparent` (and `tracestate` when present) into `headers`, replacing any.
    pub fn inject(&self, headers: &mut HeaderMap) {
        headers.insert(TRACEPARENT, self.traceparent().as_str());
        if let Some(state) = &self.tracestate {
            headers.insert(TRACESTATE, state.as_str());
        }
    }

    /// A header map holding only this context.
    pub fn to_headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        self.inject(&mut headers);
        headers
    }

    /// Reads the context from `headers`: `Ok(None)` when there is no `traceparent`, an error
    /// when it is malformed.
    pub fn extract(headers: &HeaderMap) -> Result<Option<TraceContext>, TraceError> {
        let Some(parent) = headers.get(TRACEPARENT) else {
            return Ok(None);
        };
        let state = headers.get(TRACESTATE).map(|v| v.as_str());
        TraceContext::parse(parent.as_str(), state).map(Some)
    }

    /// The context of a received message, or a new root trace when it has none or a
    /// malformed one (logged): what a consumer uses, since a bad header must not stop work.
    pub fn extract_or_new(headers: Option<&HeaderMap>) -> TraceContext {
        match headers.map(TraceContext::extract) {
            Some(Ok(Some(ctx))) => ctx,
            Some(Err(e)) => {
                tracing::debug!(error = %e, "ignoring malformed trace context, starting a new trace");
                TraceContext::new_root()
            }
            _ => TraceContext::new_root(),
        }
    }

    /// An `info` span carrying `trace_id` and `parent_id` as fields, and (when spans are
    /// exported) a child of this context's remote span; enter it (or `.instrument(...)` a
    /// future) while handling the message. `operation` names the span (`otel.name`).
    pub fn span(&self, operation: &str) -> tracing::Span {
        let span = message_span(operation);
        span.record("trace_id", self.trace_id_hex());
        span.record("parent_id", self.parent_id_hex());
        self.adopt(&span);
        span
    }

    /// An `info` span starting a new trace (for work that arrived without a context), with
    /// its `trace_id` field set to the trace OpenTelemetry gave it when spans are exported.
    pub fn root_span(operation: &str) -> tracing::Span {
        let span = message_span(operation);
        let ctx = TraceContext::from_span_context(span.context().span().span_context())
            .unwrap_or_else(TraceContext::new_root);
        span.record("trace_id", ctx.trace_id_hex());
        span
    }

    /// Makes `span` (not yet entered) a child of this context's remote span. A no-op when no
    /// OpenTelemetry layer is installed or the span is disabled.
    pub fn adopt(&self, span: &tracing::Span) {
        if let Err(e) = span.set_parent(self.otel_context()) {
            tracing::trace!(error = %e, "span not linked to the remote parent");
        }
    }

    /// The OpenTelemetry span context of the sender's span (remote).
    pub fn to_span_context(&self) -> SpanContext {
        let state = self
            .tracestate
            .as_deref()
            .and_then(|s| TraceState::from_str(s).ok())
            .unwrap_or_default();
        SpanContext::new(
            TraceId::from_bytes(self.trace_id),
            SpanId::from_bytes(self.parent_id),
            TraceFlags::new(self.flags),
            true,
            state,
        )
    }

    /// The context to send on a message from the span `span_context`; `None` when it is not
    /// valid (no OpenTelemetry layer, or a disabled span).
    pub fn from_span_context(span_context: &SpanContext) -> Option<TraceContext> {
        if !span_context.is_valid() {
            return None;
        }
        let state = span_context.trace_state().header();
        Some(TraceContext {
            trace_id: span_context.trace_id().to_bytes(),
            parent_id: span_context.span_id().to_bytes(),
            flags: span_context.trace_flags().to_u8(),
            tracestate: (!state.is_empty()).then_some(state),
        })
    }

    /// An OpenTelemetry [`opentelemetry::Context`] whose (remote) span is this one: the
    /// parent to give a span with `OpenTelemetrySpanExt::set_parent`.
    pub fn otel_context(&self) -> opentelemetry::Context {
        opentelemetry::Context::new().with_remote_span_context(self.to_span_context())
    }

    /// The context of the current `tracing` span as OpenTelemetry sees it: `None` when no
    /// OpenTelemetry layer is installed (spans are not exported).
    pub fn current() -> Option<TraceContext> {
        let cx = tracing::Span::current().context();
        TraceContext::from_span_context(cx.span().span_context())
    }

    /// What to put on a message sent now: the current span's context (so the receiver's span
    /// becomes its child). Without exported spans: a child of `fallback`, else of the context
    /// the work is [`TraceContext::run`] in, else a new root.
    pub fn outgoing(fallback: Option<&TraceContext>) -> TraceContext {
        if let Some(current) = TraceContext::current() {
            return current;
        }
        match fallback {
            Some(ctx) => ctx.child(),
            None => CARRIED
                .try_with(TraceContext::child)
                .unwrap_or_else(|_| TraceContext::new_root()),
        }
    }

    /// Runs `work` inside `span` (usually [`TraceContext::span`] of `self`), with `self` as the
    /// context [`TraceContext::outgoing`] continues when spans are not exported.
    pub async fn run<F: Future>(self, span: tracing::Span, work: F) -> F::Output {
        CARRIED.scope(self, work.instrument(span)).await
    }
}

/// The span every message handling runs in; the fields are filled in by the callers.
fn message_span(operation: &str) -> tracing::Span {
    tracing::info_span!(
        "reprint.message",
        otel.name = operation,
        otel.kind = "consumer",
        trace_id = tracing::field::Empty,
        parent_id = tracing::field::Empty,
        subject = tracing::field::Empty,
        message_id = tracing::field::Empty,
        order = tracing::field::Empty,
    )
}

impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.traceparent())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn spec_example_round_trips() {
        let ctx = TraceContext::parse(EXAMPLE, Some("congo=t61rcWkgMzE")).unwrap();
        assert_eq!(ctx.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.parent_id_hex(), "00f067aa0ba902b7");
        assert!(ctx.sampled());
        assert_eq!(ctx.traceparent(), EXAMPLE);

        let headers = ctx.to_headers();
        let back = TraceContext::extract(&headers).unwrap().unwrap();
        assert_eq!(back, ctx);
        assert_eq!(back.tracestate.as_deref(), Some("congo=t61rcWkgMzE"));
    }

    #[test]
    fn malformed_are_rejected() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "0-04bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        ] {
            assert!(TraceContext::parse(bad, None).is_err(), "{bad:?} accepted");
        }
        // A future version with extra fields is read by its first four.
        let future = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever";
        assert!(TraceContext::parse(future, None).is_ok());
    }

    #[test]
    fn header_absent_or_bad() {
        assert_eq!(TraceContext::extract(&HeaderMap::new()), Ok(None));
        let mut h = HeaderMap::new();
        h.insert(TRACEPARENT, "garbage");
        assert!(TraceContext::extract(&h).is_err());
        let fresh = TraceContext::extract_or_new(Some(&h));
        assert_eq!(fresh.traceparent().len(), 55);
    }

    #[test]
    fn child_keeps_trace_changes_span() {
        let root = TraceContext::new_root();
        let child = root.child();
        assert_eq!(child.trace_id, root.trace_id);
        assert_ne!(child.parent_id, root.parent_id);
        assert_ne!(TraceContext::new_root().trace_id, root.trace_id);
        let parsed = TraceContext::parse(&child.traceparent(), None).unwrap();
        assert_eq!(parsed, child);
    }

    #[test]
    fn span_context_round_trip() {
        let ctx =
            TraceContext::parse(EXAMPLE, Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")).unwrap();
        let sc = ctx.to_span_context();
        assert!(sc.is_valid());
        assert!(sc.is_remote());
        assert!(sc.is_sampled());
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
        assert_eq!(sc.trace_state().get("rojo"), Some("00f067aa0ba902b7"));
        let back = TraceContext::from_span_context(&sc).unwrap();
        assert_eq!(back, ctx);
        assert_eq!(back.traceparent(), EXAMPLE);

        // Not sampled stays not sampled; no tracestate stays none.
        let unsampled = TraceContext::parse(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            None,
        )
        .unwrap();
        let sc = unsampled.to_span_context();
        assert!(!sc.is_sampled());
        assert_eq!(TraceContext::from_span_context(&sc), Some(unsampled));

        // The OpenTelemetry context made for `set_parent` holds the same span.
        let cx = ctx.otel_context();
        assert_eq!(cx.span().span_context(), &ctx.to_span_context());
    }

    #[test]
    fn invalid_span_context_sends_nothing() {
        assert_eq!(
            TraceContext::from_span_context(&SpanContext::empty_context()),
            None
        );
        // No OpenTelemetry layer here: the current span has no context, so an outgoing
        // message continues what the work arrived with, or starts a new trace.
        assert_eq!(TraceContext::current(), None);
        let incoming = TraceContext::parse(EXAMPLE, None).unwrap();
        let out = TraceContext::outgoing(Some(&incoming));
        assert_eq!(out.trace_id, incoming.trace_id);
        assert_ne!(out.parent_id, incoming.parent_id);
        assert_ne!(TraceContext::outgoing(None).trace_id, incoming.trace_id);
    }

    #[test]
    fn malformed_header_starts_a_new_root_span_context() {
        let mut h = HeaderMap::new();
        h.insert(
            TRACEPARENT,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
        );
        let ctx = TraceContext::extract_or_new(Some(&h));
        let sc = ctx.to_span_context();
        assert!(sc.is_valid());
        assert_ne!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
    }

    /// With an OpenTelemetry layer installed (as when a service exports spans): the handling
    /// span is a child of the remote parent, and what it sends names the handling span.
    #[test]
    fn handling_span_is_a_child_of_the_remote_parent() {
        use opentelemetry::trace::TracerProvider as _;
        use tracing_subscriber::layer::SubscriberExt;

        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let incoming = TraceContext::parse(EXAMPLE, None).unwrap();
            let span = incoming.span("handle lab.order.placed");
            let out = span.in_scope(|| TraceContext::outgoing(None));
            assert_eq!(out.trace_id, incoming.trace_id, "same trace");
            assert_ne!(
                out.parent_id, incoming.parent_id,
                "the handling span's own id"
            );
            assert!(out.sampled());

            // A span inside the handling span is its child, in the same trace.
            let inner = span.in_scope(|| {
                let inner = tracing::info_span!("inner");
                inner.in_scope(|| TraceContext::current().unwrap())
            });
            assert_eq!(inner.trace_id, incoming.trace_id);
            assert_ne!(inner.parent_id, out.parent_id);

            // A malformed header: the consumer starts a new root, which is a trace of its own.
            let fresh = TraceContext::extract_or_new(Some(&{
                let mut h = HeaderMap::new();
                h.insert(TRACEPARENT, "garbage");
                h
            }));
            let span = fresh.span("handle");
            let out = span.in_scope(|| TraceContext::outgoing(None));
            assert_eq!(out.trace_id, fresh.trace_id);
            assert_ne!(out.trace_id, incoming.trace_id);
        });
    }
}
