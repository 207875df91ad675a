//! A new order id for the logged-in user (claim 26 a-c).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use reprint_domain::web_order::Command;
use reprint_service::problem::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::new_order_id;
use crate::auth::User;
use crate::error::AppResult;
use crate::orders;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderCreated {
    pub order: String,
    pub status_url: String,
}

/// Claim 26 a-c: an order id for the logged-in (verified) user.
#[utoipa::path(post, path = "/api/v1/orders", responses((status = 201, body = OrderCreated), (status = 401, description = "not logged in")))]
pub async fn create_order(State(state): State<AppState>, user: User) -> AppResult<Response> {
    let oid = new_order_id(&state);
    let order = oid.to_string();
    orders::run(
        &state,
        &order,
        vec![Command::Request {
            account: user.id.clone(),
            at: state.clock.now(),
        }],
        |_, _| Ok(vec![]),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(OrderCreated {
            status_url: format!("/api/v1/orders/{order}"),
            order,
        }),
    )
        .into_response())
}
