//! The lab's HTTP server: the operator console ([`crate::web`]), the JSON API with its OpenAPI
//! document ([`crate::api`]), both behind the operator log-in ([`crate::auth`]), plus
//! `/healthz`, `/readyz` and `/metrics` (which need no log-in). Errors are answered through
//! [`LabError`]'s one mapping to HTTP (`crate::error`).

use axum::Router;
use reprint_service::health::{self, Check};

use crate::error::LabError;
use crate::state::Lab;
use crate::{api, web};

pub fn router(lab: Lab) -> Router {
    let checks_lab = lab.clone();
    let health = health::routes(
        move || {
            let lab = checks_lab.clone();
            async move { readiness(&lab).await }
        },
        lab.metrics.clone(),
    );
    let app = web::routes()
        .merge(api::routes())
        .fallback(not_found)
        .with_state(lab.clone());
    let metrics = lab.metrics.clone();
    app.merge(health)
        .layer(axum::middleware::from_fn(
            move |req, next: axum::middleware::Next| {
                let metrics = metrics.clone();
                async move {
                    let response = next.run(req).await;
                    let class = format!("{}xx", response.status().as_u16() / 100);
                    metrics.http_requests.with_label_values(&[&class]).inc();
                    response
                }
            },
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(64 * 1024))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(reprint_service::telemetry::http_span)
                .on_response(reprint_service::telemetry::http_response),
        )
}

async fn readiness(lab: &Lab) -> Vec<Check> {
    let store = match lab.store.begin().await {
        Ok(tx) => {
            let _ = tx.rollback().await;
            Check {
                name: "store".into(),
                ok: true,
                detail: "ok".into(),
            }
        }
        Err(e) => Check {
            name: "store".into(),
            ok: false,
            detail: e.to_string(),
        },
    };
    let connected = lab.client.connection_state() == async_nats::connection::State::Connected;
    vec![
        store,
        Check {
            name: "nats".into(),
            ok: connected,
            detail: if connected {
                "connected"
            } else {
                "not connected"
            }
            .into(),
        },
    ]
}

async fn not_found() -> LabError {
    LabError::NotFound("no such page".into())
}
