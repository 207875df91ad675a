//! The HTTP server every service runs, written once: the shared layers around a service's own
//! router ([`layers`]) and the accept loop with its time-outs and graceful shutdown ([`serve`]).
//!
//! Why not `axum::serve`: it sets no timer on hyper, so a client that sends its request head one
//! byte at a time holds a connection (and whatever it waits for) as long as it likes. Here
//! hyper's own `header_read_timeout` closes such a connection, and every request body that sends
//! nothing for a while is answered 408 (an idle time-out between the body's frames, so a long
//! upload that keeps sending is not cut).
//!
//! The layers, outermost first: trace span per request, panic caught as a 500 problem (never a
//! dropped connection), the security headers of every page (CSP with `frame-ancestors 'none'`,
//! `Referrer-Policy`, `X-Content-Type-Options`, `X-Frame-Options` for old browsers), requests
//! counted by status class in `http_requests_total`, and the body idle time-out.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderName, HeaderValue, Request, header};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::metrics::Metrics;
use crate::shutdown::Shutdown;

/// What a slow client may take ([`crate::config::HttpSection::timeouts`]).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// The whole request head must arrive within this.
    pub header_read: Duration,
    /// A request body that sends nothing for this long is answered 408.
    pub body_idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        crate::config::HttpSection::default().timeouts()
    }
}

/// The Content-Security-Policy of every page: only this origin's scripts, styles, images and
/// forms; images also as `data:`/`blob:` (previews of files picked for upload); never framed.
/// Inline scripts and styles are allowed because the server-rendered pages carry small ones.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: blob:; \
     style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; connect-src 'self'; \
     object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// The shared layers around a service's router (see the module documentation).
pub fn layers(router: Router, metrics: Metrics, timeouts: Timeouts) -> Router {
    let counted = metrics.clone();
    router
        .layer(axum::middleware::from_fn(
            move |req: Request<axum::body::Body>, next: axum::middleware::Next| {
                idle_body_timeout(req, next, timeouts.body_idle)
            },
        ))
        .layer(axum::middleware::from_fn(
            move |req, next: axum::middleware::Next| {
                let metrics = counted.clone();
                async move {
                    let response = next.run(req).await;
                    let class = format!("{}xx", response.status().as_u16() / 100);
                    metrics.http_requests.with_label_values(&[&class]).inc();
                    response
                }
            },
        ))
        .layer(security_header(
            header::CONTENT_SECURITY_POLICY,
            CONTENT_SECURITY_POLICY,
        ))
        .layer(security_header(header::REFERRER_POLICY, "same-origin"))
        .layer(security_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(security_header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |panic: Box<dyn std::any::Any + Send>| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                axum::response::IntoResponse::into_response(crate::Problem::internal(format!(
                    "a request handler panicked: {what}"
                )))
            },
        ))
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(crate::telemetry::http_span)
                .on_response(crate::telemetry::http_response),
        )
}

/// Wraps the request body so that a body sending nothing for `idle` ends in an error, and
/// answers such a request 408 whatever the handler made of the broken body.
async fn idle_body_timeout(
    req: Request<axum::body::Body>,
    next: axum::middleware::Next,
    idle: Duration,
) -> axum::response::Response {
    let timed_out = Arc::new(AtomicBool::new(false));
    let (parts, body) = req.into_parts();
    let body = axum::body::Body::new(IdleBody {
        inner: body,
        idle,
        sleep: Box::pin(tokio::time::sleep(idle)),
        timed_out: timed_out.clone(),
    });
    let response = next.run(Request::from_parts(parts, body)).await;
    if timed_out.load(Ordering::SeqCst) {
        return axum::response::IntoResponse::into_response(crate::Problem::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request body stopped arriving (nothing for {} s); send it again",
                idle.as_secs()
            ),
        ));
    }
    response
}

/// A request body with an idle time-out between its frames.
struct IdleBody {
    inner: axum::body::Body,
    idle: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
    timed_out: Arc<AtomicBool>,
}

impl http_body::Body for IdleBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                let next = tokio::time::Instant::now() + this.idle;
                this.sleep.as_mut().reset(next);
                Poll::Ready(frame)
            }
            Poll::Pending => {
                if this.sleep.as_mut().poll(cx).is_ready() {
                    this.timed_out.store(true, Ordering::SeqCst);
                    return Poll::Ready(Some(Err(axum::Error::new("the request body stopped"))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

fn security_header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// Serves `router` on `listener` until `shutdown`, then lets the requests in hand finish (at
/// most `drain` long). Handlers may extract `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    timeouts: Timeouts,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.clone().wait() => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and the like: pause instead of spinning.
                tracing::warn!(error = %e, "accepting a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let service = router
            .clone()
            .map_request(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                req
            });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running {DRAIN:?} after shutdown; closing them");
    }
    Ok(())
}

/// How long requests in hand may take to finish after shutdown.
const DRAIN: Duration = Duration::from_secs(10);
