//! A new order id for the logged-in user (claim 26 a-c), idempotent with an `Idempotency-Key`:
//! a retried create answers the draft the first made, never a second draft.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use reprint_domain::web_order::Command;
use reprint_eventstore::sql::{self, Arg};
use reprint_service::problem::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::new_order_id;
use crate::auth::User;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::orders;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderCreated {
    pub order: String,
    pub status_url: String,
}

fn created(order: String) -> Response {
    (
        StatusCode::CREATED,
        Json(OrderCreated {
            status_url: format!("/api/v1/orders/{order}"),
            order,
        }),
    )
        .into_response()
}

/// The key of a create (and of a send-on, which creates an order too), when one was sent: 1 to
/// 200 visible characters.
pub(super) fn create_key(headers: &HeaderMap) -> AppResult<Option<String>> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v.to_str().ok().filter(|k| visible_key(k)).ok_or_else(|| {
        AppError::BadRequest("the idempotency key must be 1 to 200 visible ASCII characters".into())
    })?;
    Ok(Some(key.to_string()))
}

/// The document's rule for the key (`^[!-~]([ -~]*[!-~])?$`, 1 to 200 characters): printable
/// ASCII, spaces inside only (a tab or a space at either end is refused, as the schema says).
fn visible_key(k: &str) -> bool {
    let b = k.as_bytes();
    (1..=200).contains(&b.len())
        && b.iter().all(|c| (b' '..=b'~').contains(c))
        && b.first().is_some_and(|c| *c != b' ')
        && b.last().is_some_and(|c| *c != b' ')
}

/// The draft a key made for this account, if it did.
async fn keyed(state: &AppState, user: &User, key: &str) -> AppResult<Option<String>> {
    Ok(db::fetch_one::<(String,)>(
        &state.store,
        "SELECT order_id FROM gw_create_keys WHERE account = $1 AND idem_key = $2",
        &[Arg::Text(user.id.clone()), Arg::Text(key.to_string())],
    )
    .await?
    .map(|(o,)| o))
}

/// Makes the draft; with a key, the key is stored with it in the same transaction (the unique
/// key of `gw_create_keys` lets one of two racing duplicates through).
async fn make(state: &AppState, user: &User, key: Option<&str>) -> AppResult<String> {
    let order = new_order_id(state).to_string();
    let request = vec![Command::Request {
        account: user.id.clone(),
        at: state.clock.now(),
    }];
    let Some(key) = key else {
        orders::run_loaded(state, orders::fresh(&order), request, |_, _| Ok(vec![])).await?;
        return Ok(order);
    };
    let mut tx = state.store.begin().await?;
    sql::exec(
        tx.conn(),
        "INSERT INTO gw_create_keys (account, idem_key, order_id, created_ms) VALUES ($1, $2, $3, $4)",
        &[
            Arg::Text(user.id.clone()),
            Arg::Text(key.to_string()),
            Arg::Text(order.clone()),
            Arg::Int(state.now_ms()),
        ],
    )
    .await
    .map_err(reprint_eventstore::Error::from)?;
    let mut loaded = orders::fresh(&order);
    orders::execute(&mut tx, &mut loaded, request).await?;
    tx.commit().await?;
    Ok(order)
}

/// A duplicate that lost the race for the key in the store (or had its transaction refused
/// while the first held it).
fn lost_race(e: &AppError) -> bool {
    match e {
        AppError::Store(reprint_eventstore::Error::Database(sqlx::Error::Database(db))) => {
            db.is_unique_violation()
        }
        AppError::Store(e) => e.is_retryable(),
        _ => false,
    }
}

/// 409 with `Retry-After`: the first request with this key is still being handled.
fn in_flight() -> Response {
    let mut r = reprint_service::Problem::new(
        StatusCode::CONFLICT,
        "idempotency_in_flight",
        "a request with this idempotency key is being handled at the same moment; send it again in a moment",
    )
    .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// Claim 26 a-c: an order id for the logged-in (verified) user. With an `Idempotency-Key`
/// the same key answers the same draft (201 again), also while the first request is in flight
/// (its outcome, or 409 with `Retry-After`); without one every call makes a new draft.
#[utoipa::path(post, path = "/api/v1/orders",
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 200, pattern = "^[!-~]([ -~]*[!-~])?$",
        description = "1 to 200 visible ASCII characters; a retried create with the same key answers the same order")),
    responses((status = 201, body = OrderCreated),
        (status = 400, description = "an idempotency key that is empty, too long or not text"),
        (status = 401, description = "not logged in"),
        (status = 409, description = "a request with the same key is in flight (with `Retry-After`)")))]
pub async fn create_order(
    State(state): State<AppState>,
    user: User,
    headers: HeaderMap,
) -> AppResult<Response> {
    let Some(key) = create_key(&headers)? else {
        return Ok(created(make(&state, &user, None).await?));
    };
    if let Some(order) = keyed(&state, &user, &key).await? {
        tracing::debug!(%order, key, "idempotent create replayed");
        return Ok(created(order));
    }
    match make(&state, &user, Some(&key)).await {
        Ok(order) => Ok(created(order)),
        Err(e) => match keyed(&state, &user, &key).await? {
            Some(order) => Ok(created(order)),
            None if lost_race(&e) => {
                tracing::debug!(error = %e, key, "a duplicate create raced the first");
                Ok(in_flight())
            }
            None => Err(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::visible_key;

    #[test]
    fn an_idempotency_key_is_what_the_document_says() {
        assert!(visible_key("order-2026-12-04 kiosk 7"));
        assert!(visible_key("a"));
        assert!(visible_key(&"k".repeat(200)));
        assert!(!visible_key(""));
        assert!(!visible_key(&"k".repeat(201)));
        assert!(!visible_key(" leading"));
        assert!(!visible_key("trailing "));
        assert!(!visible_key("tab\there"));
        assert!(!visible_key("\u{e9}t\u{e9}"));
    }
}
