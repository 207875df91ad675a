//! `/healthz` (the process answers), `/readyz` (its store and NATS answer) and `/metrics`
//! (Prometheus text), served without a log-in.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::metrics::Metrics;

/// One readiness check's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

type CheckFn = dyn Fn() -> Pin<Box<dyn Future<Output = Vec<Check>> + Send>> + Send + Sync;

#[derive(Clone)]
struct HealthState {
    checks: Arc<CheckFn>,
    metrics: Metrics,
}

/// The three routes, as a router to merge into a service's own.
pub fn routes<F, Fut>(checks: F, metrics: Metrics) -> Router
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Vec<Check>> + Send + 'static,
{
    let checks: Arc<CheckFn> = Arc::new(move || Box::pin(checks()));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(HealthState { checks, metrics })
}

async fn readyz(State(s): State<HealthState>) -> impl IntoResponse {
    let checks = (s.checks)().await;
    let ok = checks.iter().all(|c| c.ok);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(serde_json::json!({ "ready": ok, "checks": checks })),
    )
}

async fn metrics_text(State(s): State<HealthState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        s.metrics.render(),
    )
}
