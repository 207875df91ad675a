//! Placing an order with the lab: submit (idempotent) and re-order by reference (claims 7, 15 g,
//! 16), each one `OrderPlaced` in the lab's inbox.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use reprint_bus::message;
use reprint_bus::subjects::{self, Address};
use reprint_domain::protocol::{OrderPlaced, Sender, Stage};
use reprint_domain::web_order::Command;
use reprint_domain::{OrderId, Route, SiteId};
use reprint_eventstore::OutboxMessage;
use reprint_eventstore::sql::Arg;
use reprint_service::problem::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use super::check::{
    Checked, ItemRequest, OrderRequest, carried_profiles, check_order_request, give_profiles,
};
use super::orders::{OrderView, order_view};
use super::{new_order_id, owned_order};
use crate::auth::User;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::orders;
use crate::state::AppState;

/// `OrderPlaced` for the lab's inbox (`reprint_bus::message`): the message id is
/// `<gateway>:<order>:order-placed`, the same for a submit retried, so the lab receives the order
/// once. It carries the user's registration number at the lab (in `customer`) and at the
/// delivery counter (`counter_registration_number`), each as that site told this gateway (the
/// lab's slip, the counter's `ready_for_pickup`): each site finds the user's file by its own
/// number only.
fn placed_message(
    state: &AppState,
    order: OrderId,
    c: &Checked,
    digital_copy: bool,
) -> AppResult<OutboxMessage> {
    let mut body = placed(state, order, c)?;
    body.digital_copy = digital_copy;
    let lab = subjects::SiteId::parse(c.lab.as_str())?;
    Ok(message::to_inbox(
        state.gateway.as_str(),
        Address::lab(lab),
        &body,
        None,
        None,
    )?)
}

fn placed(state: &AppState, order: OrderId, c: &Checked) -> AppResult<OrderPlaced> {
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
        customer: c.customer.clone(),
        items: c.placed_items.clone(),
        counter_extract: None,
        // Set by `placed_message` from the request (or the order re-ordered).
        digital_copy: false,
        counter_registration_number: c.at_counter.clone(),
        source_profiles: c.source_profiles.clone(),
    })
}

/// Refuses the digital copy (422) when the lab's catalog does not list `digital-copy:zip`
/// (`super::quote::lab_sells_digital_copy`).
async fn sells_digital_copy(state: &AppState, lab: &SiteId) -> AppResult<()> {
    if super::quote::lab_sells_digital_copy(state, lab).await? {
        Ok(())
    } else {
        Err(AppError::Unprocessable(format!(
            "{lab} does not sell the digital copy: order prints only, or choose another lab"
        )))
    }
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

async fn order_by_key(state: &AppState, user: &User, key: &str) -> AppResult<Option<Keyed>> {
    db::fetch_one::<Keyed>(
        &state.store,
        "SELECT id, reorder_of FROM gw_orders WHERE account = $1 AND idem_key = $2",
        &[Arg::Text(user.id.clone()), Arg::Text(key.to_string())],
    )
    .await
}

/// The order an idempotency key was first used for: its id, and the order it re-orders.
#[derive(sqlx::FromRow)]
struct Keyed {
    id: String,
    reorder_of: Option<String>,
}

/// Seconds a client is told to wait before sending a duplicate again while the first is in
/// flight (a submit takes a database transaction; one second is ample).
const RETRY_AFTER_SECS: &str = "1";

/// What a request with an idempotency key answers when that key is already stored: the first
/// request's outcome, the order it made with the status it answered (`status`), when the key was
/// used for this same operation (`same`); 409 `idempotency_key_reused` when it was used for
/// another order (a client's mistake, not worth retrying).
async fn replay(
    state: &AppState,
    user: &User,
    key: &str,
    keyed: Keyed,
    same: bool,
    status: StatusCode,
) -> AppResult<Response> {
    if !same {
        return Err(AppError::conflict(
            "idempotency_key_reused",
            format!(
                "this idempotency key was already used for order {}; send a new key for another order",
                keyed.id
            ),
        ));
    }
    tracing::debug!(order = %keyed.id, key, "idempotent replay");
    Ok((status, Json(order_view(state, user, &keyed.id).await?)).into_response())
}

/// A duplicate that raced the first request with the same key and lost, in the store: the
/// unique key of `gw_orders (account, idem_key)` (two new orders), or the order's version (two
/// submits of one order). The first request's outcome is then looked up; until it is there, the
/// client is told to come back (409 with `Retry-After`), never 500.
fn lost_race(e: &AppError) -> bool {
    match e {
        AppError::Store(reprint_eventstore::Error::Database(sqlx::Error::Database(db))) => {
            db.is_unique_violation()
        }
        AppError::Store(e) => e.is_retryable(),
        _ => false,
    }
}

/// 409 with `Retry-After`: the first request with this key is still in flight.
fn in_flight(e: AppError) -> Response {
    tracing::debug!(error = %e, "a duplicate raced the first request with its key");
    let p = reprint_service::Problem::new(
        StatusCode::CONFLICT,
        "idempotency_in_flight",
        "a request with this idempotency key (or another change of this order) is being handled at the same moment; send it again in a moment",
    );
    let mut r = p.into_response();
    r.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static(RETRY_AFTER_SECS),
    );
    r
}

/// Runs `first` (the request as if it were the first with `key`); when it fails because a
/// duplicate got there first (or the key turns out to be stored meanwhile), answers what
/// [`replay`] answers for the stored key; a race whose winner is not visible yet answers 409
/// with `Retry-After`. With `look_first` the stored key is looked up before `first` runs;
/// without it (the caller knows the key cannot have made an order yet: the order it submits is
/// still a draft, or the key was drawn just now) `first` runs at once: a key already used for
/// another order still fails `first` on the unique `(account, idem_key)` of `gw_orders` and is
/// answered by [`replay`] after it.
async fn once(
    state: &AppState,
    user: &User,
    key: &str,
    look_first: bool,
    same: impl Fn(&Keyed) -> bool,
    status: StatusCode,
    first: impl std::future::Future<Output = AppResult<Response>>,
) -> AppResult<Response> {
    if look_first && let Some(keyed) = order_by_key(state, user, key).await? {
        let same = same(&keyed);
        return replay(state, user, key, keyed, same, status).await;
    }
    match first.await {
        Ok(r) => Ok(r),
        Err(e) => match order_by_key(state, user, key).await? {
            Some(keyed) => {
                let same = same(&keyed);
                replay(state, user, key, keyed, same, status).await
            }
            None if lost_race(&e) => Ok(in_flight(e)),
            None => Err(e),
        },
    }
}

/// Submit the order to the lab (idempotent: the same key answers the same order, also while
/// the first request is in flight: then the first's outcome, or 409 with `Retry-After`; a key
/// used for another order answers 409 `idempotency_key_reused`).
#[utoipa::path(post, path = "/api/v1/orders/{id}/submit", request_body = OrderRequest,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = OrderView),
        (status = 404, description = "no such order of this user"),
        (status = 409, description = "already submitted, changed at the same moment (with `Retry-After`), or the key was used for another order"),
        (status = 422, description = "the order check refused the order"),
        (status = 503, description = "the lab did not answer")))]
pub async fn submit(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(req): Json<OrderRequest>,
) -> AppResult<Response> {
    let (oid, loaded) = owned_order(&state, &user, &id).await?;
    let key = idempotency_key(&headers, req.idempotency_key.as_ref())?;
    let order = oid.to_string();
    // A draft never submitted: no key has made this order yet.
    let look_first = loaded.state.can_submit().is_err();
    let first = async {
        // Refused before the order check when it cannot be submitted at all.
        loaded.state.can_submit()?;
        let mut checked =
            check_order_request(&state, &user, &req.lab, &req.counter, &req.items).await?;
        checked.source_profiles =
            super::check::source_profiles(&req.source_profiles, &checked.placed_items)?;
        // Images sent with this order must have arrived whole; others are references to images
        // uploaded before (claims 7, 16: a re-order sends no bytes).
        // The current span's context (the HTTP request's) goes with it: the lab's handling
        // becomes its child.
        if req.digital_copy {
            sells_digital_copy(&state, &checked.lab).await?;
        }
        let to_lab = placed_message(&state, oid, &checked, req.digital_copy)?;
        let at = state.clock.now();
        let submit = Command::Submit {
            lab: checked.lab.to_string(),
            counter: checked.counter.to_string(),
            items: checked.items.clone(),
            idempotency_key: key.clone(),
            reorder_of: None,
            digital_copy: req.digital_copy,
            at,
        };
        // The profiles stay with the order: a re-order or a send-on carries them.
        let commands = std::iter::once(submit)
            .chain(give_profiles(&checked.source_profiles, at)?)
            .collect();
        orders::run_loaded(&state, loaded.clone(), commands, |_, _| Ok(vec![to_lab])).await?;
        state
            .metrics
            .orders
            .with_label_values(&[Stage::Placed.as_str()])
            .inc();
        state.publish_update(&order, Stage::Placed.as_str(), "order placed");
        Ok(Json(order_view(&state, &user, &order).await?).into_response())
    };
    once(
        &state,
        &user,
        &key,
        look_first,
        |k| k.id == order,
        StatusCode::OK,
        first,
    )
    .await
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
    /// The lab's digital copy again; by default as the earlier order had it.
    #[serde(default)]
    pub digital_copy: Option<bool>,
}

/// Re-order by reference (claims 7, 15 g, 16): a new order of images already uploaded, or
/// edited versions of them (edit lists), without sending any bytes. With an `Idempotency-Key`
/// the same key answers the same new order (201), also while the first request is in flight
/// (then 409 with `Retry-After` until it is stored); without one every call is a new order.
#[utoipa::path(post, path = "/api/v1/orders/{id}/reorder", request_body = ReorderRequest,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = OrderView),
        (status = 404, description = "no such order of this user"),
        (status = 409, description = "not submitted, changed at the same moment (with `Retry-After`), or the key was used for another order"),
        (status = 422, description = "the body or the order check refused the order"),
        (status = 503, description = "the lab did not answer")))]
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
    let keyed = headers.contains_key("idempotency-key");
    let key = if keyed {
        idempotency_key(&headers, None)?
    } else {
        uuid::Uuid::new_v4().to_string()
    };
    let source = src.to_string();
    let first = async {
        let prev = loaded.state.reorderable()?.clone();
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
        let lab = req.lab.unwrap_or_else(|| prev.lab.clone());
        let counter = req.counter.unwrap_or_else(|| prev.counter.clone());
        let digital_copy = req.digital_copy.unwrap_or(prev.digital_copy);
        let mut checked = check_order_request(&state, &user, &lab, &counter, &items).await?;
        // Each image keeps the source profile the first order gave it.
        checked.source_profiles = carried_profiles(&prev, &checked.placed_items);
        if digital_copy {
            sells_digital_copy(&state, &checked.lab).await?;
        }
        let oid = new_order_id(&state);
        let to_lab = placed_message(&state, oid, &checked, digital_copy)?;
        let at = state.clock.now();
        let mut commands = vec![
            Command::Request {
                account: user.id.clone(),
                at,
            },
            Command::Submit {
                lab: checked.lab.to_string(),
                counter: checked.counter.to_string(),
                items: checked.items.clone(),
                idempotency_key: key.clone(),
                reorder_of: Some(source.clone()),
                digital_copy,
                at,
            },
        ];
        commands.extend(give_profiles(&checked.source_profiles, at)?);
        let fresh = orders::fresh(&oid.to_string());
        orders::run_loaded(&state, fresh, commands, |_, _| Ok(vec![to_lab])).await?;
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
    };
    once(
        &state,
        &user,
        &key,
        keyed,
        |k| k.reorder_of.as_deref() == Some(source.as_str()),
        StatusCode::CREATED,
        first,
    )
    .await
}
