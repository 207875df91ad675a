//! The storage an order reserves for its images (claims 9, 26 d-e), against the user's quota and
//! the gateway's capacity.

use axum::extract::{Path, State};
use reprint_domain::OrderId;
use reprint_domain::web_order::{Command, Event as OrderEvent, Quota, WebStage};
use reprint_eventstore::sql::{self, Arg};
use reprint_eventstore::{ExpectedVersion, Transaction};
use reprint_service::problem::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ms_to_rfc3339, owned_order};
use crate::auth::User;
use crate::error::{AppError, AppResult};
use crate::events::{StorageEvent, storage_stream};
use crate::orders;
use crate::state::{AppState, to_new};

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageRequest {
    /// Bytes the order's images need in all.
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "super::check::whole_number")]
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Reservation {
    pub order: String,
    pub reserved: u64,
    pub used: u64,
    pub remaining: u64,
    pub expires_at: String,
}

/// Bytes stored plus bytes reserved and not yet used by open draft orders other than
/// `except_order`, of one account or of everybody, as the transaction `tx` sees them.
async fn committed_bytes(
    tx: &mut Transaction,
    account: Option<&str>,
    except_order: &str,
    now: i64,
) -> AppResult<u64> {
    // One account's images, or everybody's: the total the projection keeps (`gw_stored_bytes`),
    // not a sum over every image stored.
    let (filter, args, stored_query) = match account {
        Some(a) => (
            "WHERE account = $1",
            vec![Arg::Text(a.to_string())],
            "SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM gw_images WHERE account = $1",
        ),
        None => (
            "",
            vec![],
            "SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM gw_stored_bytes",
        ),
    };
    let stored = sql::scalar_i64(tx.conn(), stored_query, &args).await?;
    let n = args.len();
    let mut rargs = args;
    rargs.push(Arg::Int(now));
    rargs.push(Arg::Text(except_order.to_string()));
    rargs.push(Arg::Text(WebStage::Draft.as_str().to_string()));
    let and = if n == 0 { "WHERE" } else { "AND" };
    let reserved = sql::scalar_i64(
        tx.conn(),
        &format!(
            "SELECT CAST(COALESCE(SUM(reserved - used), 0) AS BIGINT) FROM gw_orders {filter} {and} stage = ${} AND expires_ms > ${} AND reserved > used AND id <> ${}",
            n + 3,
            n + 1,
            n + 2
        ),
        &rargs,
    )
    .await?;
    Ok(u64::try_from(stored.max(0) + reserved.max(0)).unwrap_or(0))
}

/// How often a reservation that lost a race with another one of the same account is decided
/// again before the user is asked to retry.
const RESERVE_ATTEMPTS: u32 = 16;

/// Claims 9 and 26 d-e: declare the storage the order needs; reserved for a limited time, or
/// refused with the reason (the user's quota, the gateway's free capacity).
///
/// Race-free per account: the decision reads the account's storage stream version, the sums
/// and the order in one transaction and appends to both streams with the versions it read, so
/// of two concurrent reservations the second conflicts and is decided again, seeing the first.
/// The gateway's capacity (everybody's sum) is checked in the same transaction but not
/// serialised across accounts: it may be overshot by reservations of different users made at
/// the same instant.
#[utoipa::path(put, path = "/api/v1/orders/{id}/storage", request_body = StorageRequest,
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = Reservation), (status = 404),
        (status = 409, description = "over_quota, no_capacity, or the order is not a draft"),
        (status = 503, description = "the storage cannot be reserved now")))]
pub async fn reserve_storage(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Json(req): Json<StorageRequest>,
) -> AppResult<Json<Reservation>> {
    let (oid, loaded) = owned_order(&state, &user, &id).await?;
    // The first attempt decides on the order as just read (no second read); one that lost a
    // race reads it again.
    let mut read_before = Some(loaded);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match try_reserve(&state, &user, oid, req.bytes, read_before.take()).await {
            Err(AppError::Store(e)) if e.is_retryable() && attempt < RESERVE_ATTEMPTS => {
                let pause = rand::random::<u64>() % (5 * u64::from(attempt)) + 1;
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            }
            Err(AppError::Store(e)) if e.is_retryable() => {
                return Err(AppError::Unavailable(
                    "too many reservations at once; try again in a moment".into(),
                ));
            }
            other => return other.map(Json),
        }
    }
}

/// One attempt at the reservation, on the order as this transaction reads it or as
/// `read_before` (read outside it: the events are appended at the version read then, so a
/// change since fails the append with a version conflict, and the caller tries again).
async fn try_reserve(
    state: &AppState,
    user: &User,
    oid: OrderId,
    bytes: u64,
    read_before: Option<orders::Loaded>,
) -> AppResult<Reservation> {
    let order_id = oid.to_string();
    let at = state.clock.now();
    let now = at.timestamp_millis();
    let cfg = &state.config.storage;
    let mut tx = state.store.begin().await?;
    let ledger = storage_stream(&user.id);
    let claims = tx.stream_version(&ledger).await?;
    let mut loaded = orders::load_unless_read(&mut tx, &order_id, read_before).await?;
    let quota = Quota {
        user_quota: cfg.user_quota_bytes,
        user_committed: committed_bytes(&mut tx, Some(&user.id), &order_id, now).await?,
        capacity: cfg.capacity_bytes,
        all_committed: committed_bytes(&mut tx, None, &order_id, now).await?,
    };
    let ttl =
        chrono::Duration::try_seconds(cfg.reservation_ttl_secs).unwrap_or(chrono::Duration::MAX);
    let events = orders::execute(
        &mut tx,
        &mut loaded,
        vec![Command::Reserve {
            bytes,
            ttl,
            quota,
            at,
        }],
    )
    .await?;
    let Some(OrderEvent::StorageReserved { expires_ms, .. }) = events.first().cloned() else {
        return Err(AppError::internal("a reservation made another event"));
    };
    // The account's storage claims, appended at the version read: of two concurrent
    // reservations of one account the second conflicts and is decided again.
    let claim = StorageEvent::Claimed {
        order: order_id.clone(),
        bytes,
        expires_ms,
        at_ms: now,
    };
    // Written with the order's events in one statement at the commit.
    tx.append_deferred(ledger, ExpectedVersion::after(claims), to_new(&[claim])?);
    tx.commit().await?;
    Ok(Reservation {
        order: order_id,
        reserved: bytes,
        used: loaded.state.used,
        remaining: bytes.saturating_sub(loaded.state.used),
        expires_at: ms_to_rfc3339(expires_ms),
    })
}
