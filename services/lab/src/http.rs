//! The lab's HTTP router: the operator console ([`crate::web`]), the JSON API with its OpenAPI
//! document ([`crate::api`]), both behind the operator log-in ([`crate::auth`]), plus
//! `/healthz`, `/readyz` and `/metrics` (which need no log-in), inside the layers every service
//! shares (`reprint_service::server::layers`). Errors are answered through [`LabError`]'s one
//! mapping to HTTP (`crate::error`).

use axum::Router;
use reprint_service::health;

use crate::error::LabError;
use crate::state::Lab;
use crate::{api, web};

pub fn router(lab: Lab) -> Router {
    let checks_lab = lab.clone();
    let health = health::routes(
        move || {
            let lab = checks_lab.clone();
            async move {
                vec![
                    health::store_check(&lab.store).await,
                    health::nats_check(&lab.client, true, ""),
                ]
            }
        },
        lab.metrics.clone(),
    );
    let app = web::routes()
        .merge(api::routes())
        .fallback(not_found)
        .with_state(lab.clone())
        .layer(crate::auth::session_layer(&lab))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            lab.config.http.max_body_bytes,
        ));
    reprint_service::server::layers(
        app.merge(health),
        lab.metrics.clone(),
        lab.config.http.timeouts(),
    )
}

async fn not_found() -> LabError {
    LabError::NotFound("no such page".into())
}
