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

/// The store answers: a transaction begins and commits.
pub async fn store_check(store: &reprint_eventstore::Store) -> Check {
    let outcome = match store.begin().await {
        Ok(tx) => tx.commit().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    Check {
        name: "store".into(),
        ok: outcome.is_ok(),
        detail: outcome.err().unwrap_or_else(|| "ok".into()),
    }
}

/// The NATS connection. A service that works offline (the counter) reports it without being
/// unready: `required` false.
pub fn nats_check(client: &async_nats::Client, required: bool, more: &str) -> Check {
    let connected = client.connection_state() == async_nats::connection::State::Connected;
    let state = match (connected, required) {
        (true, _) => "connected",
        (false, true) => "not connected",
        (false, false) => "offline (working locally)",
    };
    Check {
        name: "nats".into(),
        ok: connected || !required,
        detail: if more.is_empty() {
            state.to_string()
        } else {
            format!("{state}; {more}")
        },
    }
}
