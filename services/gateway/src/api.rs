//! The ordering API of seed 000 (claims 9, 10, 11, 12, 26, 28, 29) as JSON under `/api/v1`.

use std::collections::BTreeMap;
use std::convert::Infallible;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use reprint_bus::BusError;
use reprint_bus::message;
use reprint_bus::request::request_json;
use reprint_bus::subjects::{self, Address, RpcMethod};
use reprint_domain::order_check::{MAX_LINES, OrderError, check_order};
use reprint_domain::protocol::{
    CatalogReply, Customer, LocaleReply, OrderCancelled, OrderPlaced, PlacedItem, QuoteReply,
    QuoteRequest, Sender, Stage, StatusChanged,
};
use reprint_domain::{
    Charge, Currency, ImageId, Money, OrderId, PrintSize, Route, SiteId, SiteKind,
};
use reprint_eventstore::sql::{self, Arg};
use reprint_eventstore::{ExpectedVersion, OutboxMessage, Transaction};
use reprint_service::problem::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::User;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::events::{ItemRecord, StorageEvent, storage_stream};
use crate::orders::{self, Loaded};
use crate::state::{AppState, to_new};
use reprint_domain::web_order::{Command, Event as OrderEvent, Quota, WebStage};

fn ms_to_rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// A new order id (UUID v7) from the gateway's clock and the random source, here at the edge.
pub fn new_order_id(state: &AppState) -> OrderId {
    let random: [u8; 10] = rand::random();
    OrderId::from_parts(u64::try_from(state.now_ms()).unwrap_or(0), random)
}

fn parse_order(id: &str) -> AppResult<OrderId> {
    OrderId::parse(id).map_err(|_| AppError::NotFound(format!("order {id}")))
}

/// The order if it is the user's; someone else's is "not found", like one that does not exist.
pub async fn owned_order(state: &AppState, user: &User, id: &str) -> AppResult<(OrderId, Loaded)> {
    let oid = parse_order(id)?;
    let loaded = state.load_order(&oid.to_string()).await?;
    if !loaded.state.exists() || loaded.state.account != user.id {
        return Err(AppError::NotFound(format!("order {id}")));
    }
    Ok((oid, loaded))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderCreated {
    pub order: String,
    pub status_url: String,
}

/// Claim 26 a-c: an order id for the logged-in (verified) user.
#[utoipa::path(post, path = "/api/v1/orders", responses((status = 201, body = OrderCreated), (status = 401)))]
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

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageRequest {
    /// Bytes the order's images need in all.
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
    let (filter, args) = match account {
        Some(a) => ("WHERE account = $1", vec![Arg::Text(a.to_string())]),
        None => ("", vec![]),
    };
    let stored = sql::scalar_i64(
        tx.conn(),
        &format!("SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM gw_images {filter}"),
        &args,
    )
    .await?;
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
    responses((status = 200, body = Reservation), (status = 404), (status = 409, description = "over_quota or no_capacity")))]
pub async fn reserve_storage(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Json(req): Json<StorageRequest>,
) -> AppResult<Json<Reservation>> {
    let (oid, _) = owned_order(&state, &user, &id).await?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match try_reserve(&state, &user, oid, req.bytes).await {
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

async fn try_reserve(
    state: &AppState,
    user: &User,
    oid: OrderId,
    bytes: u64,
) -> AppResult<Reservation> {
    let order_id = oid.to_string();
    let at = state.clock.now();
    let now = at.timestamp_millis();
    let cfg = &state.config.storage;
    let mut tx = state.store.begin().await?;
    let ledger = storage_stream(&user.id);
    let claims = tx.stream_version(&ledger).await?;
    let mut loaded = orders::load(&mut tx, &order_id).await?;
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
    tx.append(&ledger, ExpectedVersion::after(claims), &to_new(&[claim])?)
        .await?;
    tx.commit().await?;
    Ok(Reservation {
        order: order_id,
        reserved: bytes,
        used: loaded.state.used,
        remaining: bytes.saturating_sub(loaded.state.used),
        expires_at: ms_to_rfc3339(expires_ms),
    })
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemRequest {
    /// The image id (SHA-256, 64 lowercase hex digits) of an image you uploaded.
    pub image: String,
    /// A print size code: L, 2L, KG, DSC, Hagaki, Square, 4x6, 5x7, 8x10.
    pub size: String,
    pub quantity: u32,
    /// An edit list (JSON), applied at print time: the edited image is a reference plus edits.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub edits: Option<Value>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    pub lab: String,
    /// The delivery counter where the prints are collected and paid.
    pub counter: String,
    pub items: Vec<ItemRequest>,
    /// Optional here when the `Idempotency-Key` header is sent.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

struct Checked {
    lab: SiteId,
    counter: SiteId,
    currency: Currency,
    items: Vec<ItemRecord>,
    placed_items: Vec<PlacedItem>,
}

/// A site of the directory of the kind asked: its id, its currency and the print sizes it
/// announces.
async fn directory_site(
    state: &AppState,
    id: &str,
    kind: SiteKind,
) -> AppResult<(SiteId, String, Vec<PrintSize>)> {
    let sid = SiteId::parse(id).map_err(|e| AppError::Unprocessable(e.to_string()))?;
    let bid = subjects::SiteId::parse(id).map_err(|e| AppError::Unprocessable(e.to_string()))?;
    let entry = state.directory.get(&bid).await?;
    let want = match kind {
        SiteKind::Lab => subjects::SiteKind::Lab,
        SiteKind::Counter => subjects::SiteKind::Counter,
    };
    match entry {
        Some(e) if e.site.kind == want => {
            let sizes = e
                .site
                .sizes
                .iter()
                .filter_map(|s| PrintSize::parse(s).ok())
                .collect();
            Ok((sid, e.site.currency, sizes))
        }
        _ => Err(AppError::Unprocessable(format!(
            "{id} is not a {kind} of the site directory"
        ))),
    }
}

/// The one order check (`reprint_domain::check_order`) at the gateway's door, for a quote, a
/// submission and a re-order: the sizes the lab announces in the site directory, quantities,
/// edit lists, the customer. Refused in the lab's own words, before anything is sent to it.
async fn check_order_request(
    state: &AppState,
    user: &User,
    lab: &str,
    counter: &str,
    items: &[ItemRequest],
) -> AppResult<Checked> {
    if items.len() > MAX_LINES {
        return Err(OrderError::TooManyLines { count: items.len() }.into());
    }
    let (lab, currency, sizes) = directory_site(state, lab, SiteKind::Lab).await?;
    let (counter, _, _) = directory_site(state, counter, SiteKind::Counter).await?;
    let currency = Currency::parse(&currency)
        .map_err(|e| AppError::Unavailable(format!("the lab announces a bad currency: {e}")))?;
    let mut records = Vec::new();
    let mut placed = Vec::new();
    for it in items {
        let image = ImageId::parse(&it.image)
            .map_err(|_| AppError::NotFound(format!("image {}", it.image)))?;
        let size = PrintSize::parse(&it.size)?;
        let edits = match &it.edits {
            None | Some(Value::Null) => None,
            Some(v) => {
                let s = v.to_string();
                if s.len() > 16 * 1024 {
                    return Err(AppError::Unprocessable("edit list over 16 KiB".into()));
                }
                Some(s)
            }
        };
        let (name, phash): (String, Option<String>) = db::fetch_one(
            &state.store,
            "SELECT name, phash FROM gw_images WHERE account = $1 AND image = $2",
            &[Arg::Text(user.id.clone()), Arg::Text(image.to_hex())],
        )
        .await?
        .ok_or_else(|| AppError::NotFound(format!("image {}", it.image)))?;
        let phash = phash.and_then(|h| u64::from_str_radix(&h, 16).ok());
        records.push(ItemRecord {
            image: image.to_hex(),
            name: name.clone(),
            size: size.code().to_string(),
            quantity: it.quantity,
            edits: edits.clone(),
        });
        placed.push(PlacedItem {
            image,
            name,
            size,
            quantity: it.quantity,
            edits,
            perceptual_hash: phash,
            history: vec![],
        });
    }
    let customer = customer(state, &user.id, lab.as_str()).await?;
    check_order(&customer, &placed, &sizes)?;
    Ok(Checked {
        lab,
        counter,
        currency,
        items: records,
        placed_items: placed,
    })
}

async fn customer(state: &AppState, account: &str, lab: &str) -> AppResult<Customer> {
    let (name, telephone, address, email, registration_number): (
        String,
        String,
        Option<String>,
        String,
        Option<String>,
    ) = db::fetch_one(
        &state.store,
        "SELECT a.name, a.telephone, a.address, a.email, r.number FROM gw_accounts a
         LEFT JOIN gw_registrations r ON r.account = a.id AND r.site = $2 WHERE a.id = $1",
        &[Arg::Text(account.to_string()), Arg::Text(lab.to_string())],
    )
    .await?
    .ok_or_else(|| AppError::Unauthorized("the account no longer exists".into()))?;
    Ok(Customer {
        name,
        telephone,
        address,
        email: Some(email),
        registration_number,
    })
}

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

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QuoteView {
    pub lab: SiteQuote,
    pub counter: SiteQuote,
    /// Both charges together (what the user pays at the counter), when both sites answered
    /// in the same currency.
    #[schema(value_type = Option<Object>)]
    pub total: Option<Money>,
}

/// One site's answer to the quote (`reprint_domain::protocol::QuoteReply`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SiteQuote {
    pub site: String,
    /// `lab` or `counter`.
    pub site_kind: String,
    /// The site's charge with its explained lines (`reprint_domain::Charge`).
    #[schema(value_type = Object)]
    pub charge: Charge,
    /// When the prints would be ready (labs only).
    pub estimated_finish: Option<String>,
}

impl SiteQuote {
    fn from_reply(asked: &SiteId, kind: SiteKind, r: QuoteReply) -> AppResult<SiteQuote> {
        if &r.site != asked || r.site_kind != kind {
            return Err(AppError::Unavailable(format!(
                "{asked} answered the quote as {} {}",
                r.site_kind, r.site
            )));
        }
        Ok(SiteQuote {
            site: r.site.to_string(),
            site_kind: r.site_kind.to_string(),
            charge: r.charge,
            estimated_finish: r
                .estimated_finish
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        })
    }
}

fn rpc_error(site: &str, e: BusError) -> AppError {
    match e {
        BusError::NoResponders { .. } => {
            AppError::Unavailable(format!("{site} is not answering (offline?)"))
        }
        BusError::TimedOut { .. } => {
            AppError::Unavailable(format!("{site} did not answer in time"))
        }
        BusError::Remote { code, message } if code == "internal" => {
            AppError::Unavailable(format!("{site} could not answer: {message}"))
        }
        BusError::Remote { code, message } => {
            AppError::Unprocessable(format!("{site} refused: {code}: {message}"))
        }
        BusError::Json { source, .. } => {
            tracing::warn!(%site, error = %source, "unreadable reply");
            AppError::Unavailable(format!(
                "{site} answered something this gateway cannot read"
            ))
        }
        other => AppError::Bus(other),
    }
}

/// A price quote from the chosen lab and delivery counter, each by its own policy, with the
/// explained lines: `QuoteRequest { customer, items, at }` on `reprint.v1.rpc.<site>.quote`
/// to both sites at once, each with the user's registration number at that site.
#[utoipa::path(post, path = "/api/v1/orders/{id}/quote", request_body = OrderRequest,
    params(("id" = String, Path)), responses((status = 200, body = QuoteView), (status = 503)))]
pub async fn quote(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Json(req): Json<OrderRequest>,
) -> AppResult<Json<QuoteView>> {
    owned_order(&state, &user, &id).await?;
    let checked = check_order_request(&state, &user, &req.lab, &req.counter, &req.items).await?;
    let at = state.clock.now();
    let for_lab = QuoteRequest {
        customer: customer(&state, &user.id, checked.lab.as_str()).await?,
        items: checked.placed_items.clone(),
        at,
    };
    let for_counter = QuoteRequest {
        customer: customer(&state, &user.id, checked.counter.as_str()).await?,
        items: checked.placed_items.clone(),
        at,
    };
    let timeout = state.rpc_timeout();
    let lab_subject = subjects::rpc(
        &subjects::SiteId::parse(checked.lab.as_str())?,
        RpcMethod::Quote,
    );
    let counter_subject = subjects::rpc(
        &subjects::SiteId::parse(checked.counter.as_str())?,
        RpcMethod::Quote,
    );
    let (l, c) = tokio::join!(
        request_json::<_, QuoteReply>(&state.nats, &lab_subject, &for_lab, timeout),
        request_json::<_, QuoteReply>(&state.nats, &counter_subject, &for_counter, timeout),
    );
    let l = l.map_err(|e| rpc_error(checked.lab.as_str(), e))?;
    let c = c.map_err(|e| rpc_error(checked.counter.as_str(), e))?;
    let total = reprint_domain::amount_due(&l.charge, &c.charge).ok();
    Ok(Json(QuoteView {
        lab: SiteQuote::from_reply(&checked.lab, SiteKind::Lab, l)?,
        counter: SiteQuote::from_reply(&checked.counter, SiteKind::Counter, c)?,
        total,
    }))
}

/// Cancel the order, until the lab starts printing it.
///
/// How the lab learns of it: for a submitted order, two messages go to the outbox in the
/// transaction that records the cancellation: `OrderCancelled` on
/// `reprint.v1.lab.<lab>.order.cancelled` (the lab's inbox: it cancels its reception if it has
/// not started printing, else it says in the order's status that the cancellation came too
/// late) and `StatusChanged { stage: cancelled }` on `reprint.v1.status.<order>` (everybody
/// following the order). See the README of this crate, "Cancelling an order". The gateway's own
/// record is final either way: later status changes of a cancelled order go on its timeline
/// but do not move its stage.
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", params(("id" = String, Path)),
    responses((status = 200, body = OrderView), (status = 404), (status = 409)))]
pub async fn cancel(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> AppResult<Json<OrderView>> {
    let (oid, _) = owned_order(&state, &user, &id).await?;
    let at = state.clock.now();
    let cancel = Command::Cancel {
        reason: "cancelled by the user".into(),
        at,
    };
    let decided = orders::run(&state, &oid.to_string(), vec![cancel], |before, _| {
        let Some(sub) = &before.submitted else {
            return Ok(vec![]); // a draft: the network never heard of it
        };
        let lab = SiteId::parse(&sub.lab)?;
        // The lab, in its inbox: it stops the order if it has not started printing.
        let cancelled = OrderCancelled {
            order: oid,
            lab: lab.clone(),
            reason: "cancelled by the user at the gateway".into(),
            at,
        };
        let to_lab = message::to_inbox(
            state.gateway.as_str(),
            Address::lab(subjects::SiteId::parse(lab.as_str())?),
            &cancelled,
            None,
            None,
        )?;
        // Everybody following the order.
        let change = StatusChanged {
            order: oid,
            stage: Stage::Cancelled,
            site: lab,
            site_kind: SiteKind::Lab,
            at,
            detail: "cancelled by the user at the gateway".into(),
            charge: None,
        };
        let mut to_all = message::status(&change, None, None)?;
        // Said by the gateway on the lab's behalf: under the gateway's id, so that it does not
        // take the place of the lab's own `<lab>:<order>:status:cancelled`.
        to_all.message_id = message::message_id(state.gateway.as_str(), oid, "status:cancelled");
        Ok(vec![to_lab, to_all])
    })
    .await?;
    if !decided.events.is_empty() {
        state
            .metrics
            .orders
            .with_label_values(&[Stage::Cancelled.as_str()])
            .inc();
        state.publish_update(
            &oid.to_string(),
            Stage::Cancelled.as_str(),
            "cancelled by the user",
        );
    }
    Ok(Json(order_view(&state, &user, &oid.to_string()).await?))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntry {
    pub stage: String,
    pub site: String,
    pub detail: String,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderImage {
    pub image: String,
    pub name: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    pub order: String,
    /// draft, placed, received, printing, printed, dispatched, ready_for_pickup, collected,
    /// settled, rejected, cancelled.
    pub stage: String,
    /// Claims 10, 28: whether the order has been successfully completed.
    pub completed: bool,
    pub created_at: String,
    pub lab: Option<String>,
    pub counter: Option<String>,
    pub reserved: u64,
    pub used: u64,
    pub reservation_expires_at: Option<String>,
    pub images: Vec<OrderImage>,
    #[schema(value_type = Vec<Object>)]
    pub items: Value,
    pub timeline: Vec<TimelineEntry>,
    pub detail: Option<String>,
    /// The lab's reception record (the slip), once the lab received the order.
    #[schema(value_type = Option<Object>)]
    pub slip: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub charge: Option<Value>,
    pub reorder_of: Option<String>,
}

pub async fn order_view(state: &AppState, user: &User, id: &str) -> AppResult<OrderView> {
    let row: OrderRow = db::fetch_one(
        &state.store,
        "SELECT id, stage, created_ms, lab, counter, reserved, used, expires_ms, items_json, detail,
         slip_json, charge_json, reorder_of FROM gw_orders WHERE id = $1 AND account = $2",
        &[Arg::Text(id.to_string()), Arg::Text(user.id.clone())],
    )
    .await?
    .ok_or_else(|| AppError::NotFound(format!("order {id}")))?;
    let images: Vec<(String, String, i64)> = db::fetch(
        &state.store,
        "SELECT image, name, bytes FROM gw_order_images WHERE order_id = $1 ORDER BY image",
        &[Arg::Text(id.to_string())],
    )
    .await?;
    let timeline: Vec<(String, String, String, i64)> = db::fetch(
        &state.store,
        "SELECT stage, site, detail, at_ms FROM gw_timeline WHERE order_id = $1 ORDER BY position",
        &[Arg::Text(id.to_string())],
    )
    .await?;
    let parse = |c: Option<String>| c.and_then(|s| serde_json::from_str::<Value>(&s).ok());
    Ok(OrderView {
        order: row.id,
        completed: WebStage::parse(&row.stage).is_some_and(|s| s.is_completed()),
        stage: row.stage,
        created_at: ms_to_rfc3339(row.created_ms),
        lab: row.lab,
        counter: row.counter,
        reserved: u64::try_from(row.reserved).unwrap_or(0),
        used: u64::try_from(row.used).unwrap_or(0),
        reservation_expires_at: (row.expires_ms > 0).then(|| ms_to_rfc3339(row.expires_ms)),
        images: images
            .into_iter()
            .map(|(image, name, bytes)| OrderImage {
                image,
                name,
                bytes: u64::try_from(bytes).unwrap_or(0),
            })
            .collect(),
        items: parse(row.items_json).unwrap_or(Value::Array(vec![])),
        timeline: timeline
            .into_iter()
            .map(|(stage, site, detail, at_ms)| TimelineEntry {
                stage,
                site,
                detail,
                at: ms_to_rfc3339(at_ms),
            })
            .collect(),
        detail: row.detail,
        slip: parse(row.slip_json),
        charge: parse(row.charge_json),
        reorder_of: row.reorder_of,
    })
}

/// An order as [`order_view`] reads it (`gw_orders`).
#[derive(sqlx::FromRow)]
struct OrderRow {
    id: String,
    stage: String,
    created_ms: i64,
    lab: Option<String>,
    counter: Option<String>,
    reserved: i64,
    used: i64,
    expires_ms: i64,
    items_json: Option<String>,
    detail: Option<String>,
    slip_json: Option<String>,
    charge_json: Option<String>,
    reorder_of: Option<String>,
}

/// Claims 10, 28: the status of an order.
#[utoipa::path(get, path = "/api/v1/orders/{id}", params(("id" = String, Path)),
    responses((status = 200, body = OrderView), (status = 404)))]
pub async fn get_order(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> AppResult<Json<OrderView>> {
    let oid = parse_order(&id)?;
    Ok(Json(order_view(&state, &user, &oid.to_string()).await?))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderSummary {
    pub order: String,
    pub stage: String,
    pub created_at: String,
    pub lab: Option<String>,
    pub counter: Option<String>,
    pub items: u64,
}

/// An order as [`list_orders_of`] reads it (`gw_orders`).
#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: String,
    stage: String,
    created_ms: i64,
    lab: Option<String>,
    counter: Option<String>,
    items_json: Option<String>,
}

pub async fn list_orders_of(state: &AppState, user: &User) -> AppResult<Vec<OrderSummary>> {
    let rows: Vec<SummaryRow> = db::fetch(
        &state.store,
        "SELECT id, stage, created_ms, lab, counter, items_json FROM gw_orders WHERE account = $1
         ORDER BY created_ms DESC LIMIT 500",
        &[Arg::Text(user.id.clone())],
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| OrderSummary {
            order: r.id,
            stage: r.stage,
            created_at: ms_to_rfc3339(r.created_ms),
            lab: r.lab,
            counter: r.counter,
            items: r
                .items_json
                .and_then(|s| serde_json::from_str::<Vec<Value>>(&s).ok())
                .map_or(0, |v| v.len() as u64),
        })
        .collect())
}

/// The user's orders, newest first.
#[utoipa::path(get, path = "/api/v1/orders", responses((status = 200, body = Vec<OrderSummary>)))]
pub async fn list_orders(
    State(state): State<AppState>,
    user: User,
) -> AppResult<Json<Vec<OrderSummary>>> {
    Ok(Json(list_orders_of(&state, &user).await?))
}

/// Live updates of one order (server-sent events): `stage` events with the new stage.
#[utoipa::path(get, path = "/api/v1/orders/{id}/events", params(("id" = String, Path)),
    responses((status = 200, description = "text/event-stream")))]
pub async fn order_events(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> AppResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let view = get_order(State(state.clone()), user, Path(id.clone()))
        .await?
        .0;
    let rx = state.updates.subscribe();
    let order = view.order.clone();
    let first = futures::stream::once(async move {
        Ok(SseEvent::default()
            .event("stage")
            .data(serde_json::json!({"stage": view.stage, "detail": view.detail}).to_string()))
    });
    let rest = tokio_stream::wrappers::BroadcastStream::new(rx).filter_map(move |u| {
        let order = order.clone();
        async move {
            match u {
                Ok(u) if u.order == order => Some(Ok(SseEvent::default()
                    .event("stage")
                    .data(serde_json::json!({"stage": u.stage, "detail": u.detail}).to_string()))),
                _ => None,
            }
        }
    });
    Ok(Sse::new(first.chain(rest)).keep_alive(KeepAlive::default()))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SiteView {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub address: String,
    pub time_zone: String,
    pub currency: String,
    pub sizes: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    pub prices: Value,
    pub policy_summary: String,
    pub icc_profiles: Vec<String>,
    pub stale: bool,
}

/// The labs and counters of the site directory, with addresses, sizes, prices and ICC
/// profiles (claims 11, 25, 29).
#[utoipa::path(get, path = "/api/v1/sites", responses((status = 200, body = Vec<SiteView>)))]
pub async fn sites(State(state): State<AppState>) -> AppResult<Json<Vec<SiteView>>> {
    Ok(Json(list_sites(&state).await?))
}

pub async fn list_sites(state: &AppState) -> AppResult<Vec<SiteView>> {
    let now = state.clock.now();
    let entries = state.directory.list().await?;
    Ok(entries
        .into_iter()
        .filter(|e| e.site.kind != subjects::SiteKind::Gateway)
        .map(|e| SiteView {
            stale: e.site.is_stale(now),
            id: e.site.id.to_string(),
            kind: e.site.kind.to_string(),
            name: e.site.name,
            address: e.site.address,
            time_zone: e.site.time_zone,
            currency: e.site.currency,
            sizes: e.site.sizes,
            prices: serde_json::to_value(&e.site.prices).unwrap_or(Value::Null),
            policy_summary: e.site.policy_summary,
            icc_profiles: e.site.icc_profiles,
        })
        .collect())
}

/// Asks site `id` (of the directory) `method` with the empty request `{}`.
async fn site_rpc<R: serde::de::DeserializeOwned>(
    state: &AppState,
    id: &str,
    method: RpcMethod,
) -> AppResult<R> {
    let sid = subjects::SiteId::parse(id).map_err(|_| AppError::NotFound(format!("site {id}")))?;
    if state.directory.get(&sid).await?.is_none() {
        return Err(AppError::NotFound(format!("site {id}")));
    }
    request_json::<_, R>(
        &state.nats,
        &subjects::rpc(&sid, method),
        &serde_json::json!({}),
        state.rpc_timeout(),
    )
    .await
    .map_err(|e| rpc_error(id, e))
}

/// A lab's services and products with prices and ICC profiles (claims 11, 25, 29), asked of
/// the site itself (`CatalogReply`).
#[utoipa::path(get, path = "/api/v1/sites/{id}/catalog", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404), (status = 503)))]
pub async fn site_catalog(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Json<CatalogReply>> {
    Ok(Json(site_rpc(&state, &id, RpcMethod::Catalog).await?))
}

/// A site's locale: currency, language, time zone, sizes (claim 12; `LocaleReply`).
#[utoipa::path(get, path = "/api/v1/sites/{id}/locale", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404), (status = 503)))]
pub async fn site_locale(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Json<LocaleReply>> {
    Ok(Json(site_rpc(&state, &id, RpcMethod::Locale).await?))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImageView {
    pub image: String,
    pub name: String,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    pub format: String,
    /// Print sizes this image has enough pixels for.
    pub sizes_ok: Vec<String>,
}

pub async fn images_of(state: &AppState, user: &User) -> AppResult<Vec<ImageView>> {
    let rows: Vec<(String, String, i64, i64, i64, String)> = db::fetch(
        &state.store,
        "SELECT image, name, bytes, width, height, format FROM gw_images WHERE account = $1 ORDER BY created_ms DESC LIMIT 1000",
        &[Arg::Text(user.id.clone())],
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|(image, name, bytes, width, height, format)| {
            let (w, h) = (
                u32::try_from(width).unwrap_or(0),
                u32::try_from(height).unwrap_or(0),
            );
            ImageView {
                image,
                name,
                bytes: u64::try_from(bytes).unwrap_or(0),
                width: w,
                height: h,
                format,
                sizes_ok: PrintSize::ALL
                    .iter()
                    .filter(|s| s.has_enough_pixels(w, h, 300))
                    .map(|s| s.code().to_string())
                    .collect(),
            }
        })
        .collect())
}

/// The user's images.
#[utoipa::path(get, path = "/api/v1/images", responses((status = 200, body = Vec<ImageView>)))]
pub async fn list_images(
    State(state): State<AppState>,
    user: User,
) -> AppResult<Json<Vec<ImageView>>> {
    Ok(Json(images_of(&state, &user).await?))
}

#[derive(Debug, Deserialize)]
pub struct DownloadQuery {
    /// `zip` for the ZIP container with history.json; default: the image with its history
    /// embedded (XMP).
    #[serde(default)]
    pub format: Option<String>,
}

async fn owned_image(state: &AppState, user: &User, image: &str) -> AppResult<(String, String)> {
    let id = ImageId::parse(image).map_err(|_| AppError::NotFound(format!("image {image}")))?;
    db::fetch_one(
        &state.store,
        "SELECT image, name FROM gw_images WHERE account = $1 AND image = $2",
        &[Arg::Text(user.id.clone()), Arg::Text(id.to_hex())],
    )
    .await?
    .ok_or_else(|| AppError::NotFound(format!("image {image}")))
}

async fn read_image(state: &AppState, hash: &str) -> AppResult<Vec<u8>> {
    let mut buf = Vec::new();
    state.images.copy_to(hash, &mut buf).await?;
    Ok(buf)
}

/// The print history of an image, from the slips of the user's orders that printed it. An
/// order that was cancelled or rejected made no print, slip or not: it is never history (nor
/// evidence for a repeat-order discount).
async fn history_of(
    state: &AppState,
    user: &User,
    image: &str,
) -> AppResult<reprint_media::PrintHistory> {
    let rows: Vec<(Option<String>, Option<String>, Option<String>)> = db::fetch(
        &state.store,
        "SELECT lab, slip_json, items_json FROM gw_orders WHERE account = $1 AND slip_json IS NOT NULL
         AND stage NOT IN ($2, $3) ORDER BY submitted_ms",
        &[
            Arg::Text(user.id.clone()),
            Arg::Text(Stage::Cancelled.as_str().to_string()),
            Arg::Text(Stage::Rejected.as_str().to_string()),
        ],
    )
    .await?;
    let mut history = reprint_media::PrintHistory::new();
    for (lab, slip_json, items_json) in rows {
        let items: Vec<ItemRecord> = items_json
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        if !items.iter().any(|i| i.image == image) {
            continue;
        }
        let Some(slip) = slip_json.and_then(|s| serde_json::from_str::<Value>(&s).ok()) else {
            continue;
        };
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        let registration = text(slip.get("registration_number"));
        let reception = text(slip.pointer("/reception/number"));
        let date = text(slip.pointer("/reception/received_at"))
            .and_then(|d| chrono::DateTime::parse_from_rfc3339(&d).ok())
            .map(|d| d.date_naive());
        if let (Some(registration_number), Some(reception_number), Some(date)) =
            (registration, reception, date)
        {
            let _ = history.push(reprint_media::PrintRecord {
                site: lab.unwrap_or_default(),
                registration_number,
                reception_number,
                date,
            });
        }
    }
    Ok(history)
}

/// Download an image with its print history embedded (XMP), or as the ZIP container
/// (`?format=zip`) (seed 004; claim 15 f-g).
#[utoipa::path(get, path = "/api/v1/images/{image}", params(("image" = String, Path), ("format" = Option<String>, Query)),
    responses((status = 200, description = "the image bytes or a ZIP"), (status = 404)))]
pub async fn download_image(
    State(state): State<AppState>,
    user: User,
    Path(image): Path<String>,
    Query(q): Query<DownloadQuery>,
) -> AppResult<Response> {
    let (hash, name) = owned_image(&state, &user, &image).await?;
    let bytes = read_image(&state, &hash).await?;
    let history = history_of(&state, &user, &hash).await?;
    let zip = q.format.as_deref() == Some("zip");
    let (body, mime, filename) =
        tokio::task::spawn_blocking(move || -> AppResult<(Vec<u8>, String, String)> {
            if zip {
                let z = reprint_media::history::container::container_bytes(&name, &bytes, &history)
                    .map_err(crate::error::media_error)?;
                Ok((z, "application/zip".into(), format!("{name}.zip")))
            } else {
                let mime = reprint_media::validate::sniff(&bytes)
                    .map_or("application/octet-stream", |f| f.mime());
                let out = if history.is_empty() {
                    bytes
                } else {
                    reprint_media::history::xmp::write_history(&bytes, &history).unwrap_or(bytes)
                };
                Ok((out, mime.to_string(), name))
            }
        })
        .await
        .map_err(AppError::internal)??;
    let disposition = format!(
        "attachment; filename=\"{}\"",
        filename.replace(['"', '\\', '\r', '\n'], "_")
    );
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// A small JPEG preview of an image (EXIF orientation applied), built once per content and
/// size and then served from the cache ([`crate::thumbs`]).
pub async fn thumbnail(
    State(state): State<AppState>,
    user: User,
    Path(image): Path<String>,
) -> AppResult<Response> {
    let (hash, _) = owned_image(&state, &user, &image).await?;
    let edge = crate::thumbs::ALBUM_EDGE;
    let thumb = match crate::thumbs::get(&state.store, &hash, edge).await? {
        Some(t) => t,
        None => {
            let bytes = read_image(&state, &hash).await?;
            let thumb = tokio::task::spawn_blocking(move || {
                reprint_media::thumbnail::thumbnail_jpeg(
                    &bytes,
                    edge,
                    crate::thumbs::ALBUM_QUALITY,
                    &reprint_media::Limits::default(),
                )
            })
            .await
            .map_err(AppError::internal)?
            .map_err(crate::error::media_error)?;
            if let Err(e) =
                crate::thumbs::put(&state.store, &hash, edge, &thumb, state.now_ms()).await
            {
                // The preview is still good for this response; the next one builds it again.
                tracing::warn!(image = %hash, error = %e, "thumbnail not cached");
            }
            thumb
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "private, max-age=86400"),
        ],
        thumb,
    )
        .into_response())
}

/// Counts of this gateway's orders by stage, lab and delivery counter, for the ops dashboard.
pub async fn stage_counts(state: &AppState) -> AppResult<BTreeMap<(String, String, String), i64>> {
    let rows: Vec<(String, String, String, i64)> = db::fetch(
        &state.store,
        "SELECT stage, COALESCE(lab, ''), COALESCE(counter, ''), CAST(COUNT(*) AS BIGINT)
         FROM gw_orders GROUP BY stage, lab, counter",
        &[],
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|(stage, lab, counter, n)| ((stage, lab, counter), n))
        .collect())
}
