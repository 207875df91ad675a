//! Placing an order with the lab: submit (idempotent) and re-order by reference (claims 7, 15 g,
//! 16), each one `OrderPlaced` in the lab's inbox.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use reprint_bus::message;
use reprint_bus::subjects::{self, Address};
use reprint_domain::protocol::{Customer, OrderPlaced, Sender, Stage};
use reprint_domain::web_order::Command;
use reprint_domain::{OrderId, Route, SiteId};
use reprint_eventstore::OutboxMessage;
use reprint_eventstore::sql::Arg;
use reprint_service::problem::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use super::check::{Checked, ItemRequest, OrderRequest, check_order_request, customer};
use super::orders::{OrderView, order_view};
use super::{new_order_id, owned_order};
use crate::auth::User;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::orders;
use crate::state::AppState;

/// `OrderPlaced` for the lab's inbox (`reprint_bus::message`): the message id is
/// `<gateway>:<order>:order-placed`, the same for a submit retried, so the lab receives the order
/// once.
async fn placed_message(
    state: &AppState,
    user: &User,
    order: OrderId,
    c: &Checked,
) -> AppResult<OutboxMessage> {
    let customer = customer(state, &user.id, c.lab.as_str()).await?;
    let body = placed(state, order, c, customer)?;
    let lab = subjects::SiteId::parse(c.lab.as_str())?;
    Ok(message::to_inbox(
        state.gateway.as_str(),
        Address::lab(lab),
        &body,
        None,
        None,
    )?)
}

fn placed(
    state: &AppState,
    order: OrderId,
    c: &Checked,
    customer: Customer,
) -> AppResult<OrderPlaced> {
    let gw = SiteId::parse(state.gateway.as_str())?;
    Ok(OrderPlaced {
        order,
        route: Route::Internet,
        sender: Sender::Gateway(gw),
        lab: c.lab.clone(),
        delivery_counter: c.counter.clone(),
        placed_at: state.clock.now(),
        data_receive: None,
        currency: c.currency,
        customer,
        items: c.placed_items.clone(),
        counter_extract: None,
        // The web's order form offers prints only; the lab's digital copy is not sold here yet.
        digital_copy: false,
    })
}

fn idempotency_key(headers: &HeaderMap, body: Option<&String>) -> AppResult<String> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| body.cloned())
        .ok_or_else(|| {
            AppError::BadRequest(
                "send an Idempotency-Key header (or idempotency_key) with the order".into(),
            )
        })?;
    if key.is_empty() || key.len() > 200 {
        return Err(AppError::BadRequest(
            "the idempotency key must be 1 to 200 characters".into(),
        ));
    }
    Ok(key)
}

async fn order_by_key(state: &AppState, user: &User, key: &str) -> AppResult<Option<String>> {
    Ok(db::fetch_one::<(String,)>(
        &state.store,
        "SELECT id FROM gw_orders WHERE account = $1 AND idem_key = $2",
        &[Arg::Text(user.id.clone()), Arg::Text(key.to_string())],
    )
    .await?
    .map(|(id,)| id))
}

/// Submit the order to the lab (idempotent: the same key returns the same order).
#[utoipa::path(post, path = "/api/v1/orders/{id}/submit", request_body = OrderRequest,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = OrderView), (status = 404), (status = 409), (status = 422)))]
pub async fn submit(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(req): Json<OrderRequest>,
) -> AppResult<Json<OrderView>> {
    let (oid, loaded) = owned_order(&state, &user, &id).await?;
    let key = idempotency_key(&headers, req.idempotency_key.as_ref())?;
    if let Some(existing) = order_by_key(&state, &user, &key).await? {
        return Ok(Json(order_view(&state, &user, &existing).await?));
    }
    // Refused before the order check when it cannot be submitted at all.
    loaded.state.can_submit()?;
    let checked = check_order_request(&state, &user, &req.lab, &req.counter, &req.items).await?;
    // Images sent with this order must have arrived whole; others are references to images
    // uploaded before (claims 7, 16: a re-order sends no bytes).
    // The current span's context (the HTTP request's) goes with it: the lab's handling becomes
    // its child.
    let to_lab = placed_message(&state, &user, oid, &checked).await?;
    let submit = Command::Submit {
        lab: checked.lab.to_string(),
        counter: checked.counter.to_string(),
        items: checked.items.clone(),
        idempotency_key: key,
        reorder_of: None,
        at: state.clock.now(),
    };
    orders::run(&state, &oid.to_string(), vec![submit], |_, _| {
        Ok(vec![to_lab])
    })
    .await?;
    state
        .metrics
        .orders
        .with_label_values(&[Stage::Placed.as_str()])
        .inc();
    state.publish_update(&oid.to_string(), Stage::Placed.as_str(), "order placed");
    Ok(Json(order_view(&state, &user, &oid.to_string()).await?))
}

#[derive(Debug, Clone, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ReorderRequest {
    #[serde(default)]
    pub lab: Option<String>,
    #[serde(default)]
    pub counter: Option<String>,
    /// Items to print this time; by default the same as the earlier order.
    #[serde(default)]
    pub items: Option<Vec<ItemRequest>>,
}

/// Re-order by reference (claims 7, 15 g, 16): a new order of images already uploaded, or
/// edited versions of them (edit lists), without sending any bytes.
#[utoipa::path(post, path = "/api/v1/orders/{id}/reorder", request_body = ReorderRequest,
    params(("id" = String, Path)), responses((status = 201, body = OrderView), (status = 404)))]
pub async fn reorder(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let req: ReorderRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ReorderRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| AppError::Unprocessable(format!("re-order body: {e}")))?
    };
    let (src, loaded) = owned_order(&state, &user, &id).await?;
    let prev = loaded.state.reorderable()?.clone();
    let key = match headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
        Some(k) => k.to_string(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    if let Some(existing) = order_by_key(&state, &user, &key).await? {
        return Ok((
            StatusCode::OK,
            Json(order_view(&state, &user, &existing).await?),
        )
            .into_response());
    }
    let items = req.items.unwrap_or_else(|| {
        prev.items
            .iter()
            .map(|i| ItemRequest {
                image: i.image.clone(),
                size: i.size.clone(),
                quantity: i.quantity,
                edits: i
                    .edits
                    .as_deref()
                    .and_then(|e| serde_json::from_str(e).ok()),
            })
            .collect()
    });
    let lab = req.lab.unwrap_or(prev.lab);
    let counter = req.counter.unwrap_or(prev.counter);
    let checked = check_order_request(&state, &user, &lab, &counter, &items).await?;
    let oid = new_order_id(&state);
    let to_lab = placed_message(&state, &user, oid, &checked).await?;
    let at = state.clock.now();
    let commands = vec![
        Command::Request {
            account: user.id.clone(),
            at,
        },
        Command::Submit {
            lab: checked.lab.to_string(),
            counter: checked.counter.to_string(),
            items: checked.items.clone(),
            idempotency_key: key,
            reorder_of: Some(src.to_string()),
            at,
        },
    ];
    orders::run(&state, &oid.to_string(), commands, |_, _| Ok(vec![to_lab])).await?;
    state
        .metrics
        .orders
        .with_label_values(&[Stage::Placed.as_str()])
        .inc();
    Ok((
        StatusCode::CREATED,
        Json(order_view(&state, &user, &oid.to_string()).await?),
    )
        .into_response())
}
