//! An order: its id (claim 26 a-c), its status and timeline (claims 10, 28), the live updates, the
//! user's orders, and cancelling one.

use std::convert::Infallible;

use axum::extract::{Path, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use reprint_bus::message;
use reprint_bus::subjects::{self, Address};
use reprint_domain::protocol::{OrderCancelled, Stage, StatusChanged};
use reprint_domain::web_order::{Command, WebStage};
use reprint_domain::{SiteId, SiteKind};
use reprint_eventstore::sql::Arg;
use reprint_service::problem::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{ms_to_rfc3339, owned_order, parse_order};
use crate::auth::User;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::orders;
use crate::state::AppState;

/// Cancel the order, until the lab starts printing it.
///
/// How the lab learns of it: for a submitted order, two messages go to the outbox in the
/// transaction that records the cancellation: `OrderCancelled` on
/// `reprint.v1.lab.<lab>.order.cancelled` (the lab's inbox: it cancels its reception if it has
/// not started printing, else it says in the order's status that the cancellation came too
/// late) and `StatusChanged { stage: cancelled }` on `reprint.v1.status.<gw>.<order>` (everybody
/// following the order). See the README of this crate, "Cancelling an order". The gateway's own
/// record is final either way: later status changes of a cancelled order go on its timeline
/// but do not move its stage.
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", params(("id" = String, Path)),
    responses((status = 200, body = OrderView), (status = 404),
        (status = 409, description = "too late (printing), or changed at the same moment")))]
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
        // Said by the gateway on the lab's behalf: under the gateway's id, so that it does not
        // take the place of the lab's own `<lab>:<order>:status:cancelled`.
        let to_all = message::status(state.gateway.as_str(), &change, None, None)?;
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

/// Where an order stands for its live updates: its stage and detail, the count of its timeline
/// entries (`seq`: every status, the slip and a cancellation add one) and when the last of them
/// happened, by the site that said so.
#[derive(sqlx::FromRow)]
struct Latest {
    stage: String,
    detail: Option<String>,
    seq: i64,
    at_ms: Option<i64>,
}

async fn latest(state: &AppState, order: &str) -> AppResult<Option<Latest>> {
    db::fetch_one(
        &state.store,
        "SELECT o.stage, o.detail,
           (SELECT CAST(COUNT(*) AS BIGINT) FROM gw_timeline t WHERE t.order_id = o.id) AS seq,
           (SELECT t.at_ms FROM gw_timeline t WHERE t.order_id = o.id ORDER BY t.position DESC LIMIT 1) AS at_ms
         FROM gw_orders o WHERE o.id = $1",
        &[Arg::Text(order.to_string())],
    )
    .await
}

fn stage_event(l: &Latest) -> SseEvent {
    SseEvent::default()
        .event("stage")
        .id(l.seq.to_string())
        .data(
            serde_json::json!({
                "stage": l.stage,
                "detail": l.detail,
                "seq": l.seq,
                "at": l.at_ms.map(ms_to_rfc3339),
            })
            .to_string(),
        )
}

/// Live updates of one order (server-sent events): a `stage` event
/// `{stage, detail, seq, at}` on connect (where the order stands now) and after every change.
/// `seq` counts the order's timeline entries (the `timeline` of the order's view has `seq`
/// entries): a client that shows the timeline already has an event whose `seq` it has, and
/// adds nothing for it; `at` is when the last entry happened, by the site that said so (not
/// when the event was sent). The event's `id` is its `seq`.
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
    // Subscribed before the first read: a change in between comes again, with its seq.
    let rx = state.updates.subscribe();
    let order = view.order.clone();
    let now = latest(&state, &order).await?.unwrap_or(Latest {
        stage: view.stage,
        detail: view.detail,
        seq: i64::try_from(view.timeline.len()).unwrap_or(0),
        at_ms: None,
    });
    let first = futures::stream::once(async move { Ok(stage_event(&now)) });
    let rest = tokio_stream::wrappers::BroadcastStream::new(rx).filter_map(move |u| {
        let order = order.clone();
        let state = state.clone();
        async move {
            match u {
                Ok(u) if u.order == order => match latest(&state, &order).await {
                    Ok(Some(l)) => Some(Ok(stage_event(&l))),
                    _ => None,
                },
                // Updates missed (a slow client): where the order stands now.
                Err(_) => match latest(&state, &order).await {
                    Ok(Some(l)) => Some(Ok(stage_event(&l))),
                    _ => None,
                },
                _ => None,
            }
        }
    });
    Ok(Sse::new(first.chain(rest)).keep_alive(KeepAlive::default()))
}
