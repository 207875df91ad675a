//! The lab's inbox (docs/flows.md, Fig. 1 step 2 and Fig. 2 step 2): placed orders from both
//! routes, collections and settlements from the counters, users' cancellations from the
//! gateway (`cancel_order`).
//!
//! An order is handled in ONE transaction with the inbox (the consumer's batch): it is checked
//! (this lab, its currency, sizes it prices and prints, a known delivery counter, a customer it
//! can identify, edits it can apply, images present in the object store); then the customer's
//! individual user file is found or registered, a reception is opened under the next reception
//! number with the lab's charge and estimated finish, the production row is written, and
//! `ReceptionRecorded` (the slip, S307) plus `StatusChanged(received)` go to the outbox. An
//! order it cannot fulfil gets `OrderRejected` with the reason plus `StatusChanged(rejected)`,
//! and nothing else: the work on the file runs under a savepoint that is rolled back when the
//! domain refuses, so nothing is half recorded.
//!
//! A cancellation may overtake its order (a redelivery of the order after the user cancelled):
//! `cancel_order` then records it in `lab_early_cancellations`, and when the order arrives it is
//! not opened (no user file, no reception number, nothing on the printers' queue):
//! `StatusChanged(cancelled)` goes out instead, plus `OrderRejected` when the sender is a
//! counter (which closes its own reception on a rejection); a gateway closed the order itself
//! when the user cancelled. A redelivery of either message changes nothing more.
//!
//! # The finish estimate
//! Each printer makes `prints_per_hour` prints. Its queue is the prints of the receptions
//! `received` or `printing` assigned to it (`lab_queue`). An order's prints of each size go to
//! the first printer that prints the size; the order is finished when its slowest printer has
//! worked off its queue plus this order: `now + handling_minutes + max over printers of
//! (queue + order's prints) / prints_per_hour`, rounded up to the minute.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use futures::future::BoxFuture;
use reprint_bus::consumer::{Handler, HandlerError, Incoming};
use reprint_bus::subjects::{self, Address, Subject, Topic};
use reprint_bus::trace::TraceContext;
use reprint_domain::charge::local_date;
use reprint_domain::extract::{Sharing, extract};
use reprint_domain::file::{Command, OpenReception, OrderItem, Route};
use reprint_domain::order_check::check_order;
use reprint_domain::protocol::{
    CollectionRecorded, OrderCancelled, OrderPlaced, OrderRejected, PlacedItem, ReceptionRecorded,
    RejectCode, Sender, SettlementRecorded, Stage, StatusChanged, order_items,
};
use reprint_domain::{
    Charge, EarlierPrint, OrderId, ReceptionNumber, Recognition, SiteId, SiteKind, Telephone,
};
use reprint_eventstore::Transaction;
use reprint_eventstore::sql::{self, ts};
use reprint_media::PerceptualHash;
use reprint_site::{Identity, SiteError};

use crate::db;
use crate::error::LabError;
use crate::reception;
use crate::state::{Lab, outbox};
use reprint_domain::production;

/// The consumer's name (its inbox table key and durable name).
pub fn consumer_name(site: &SiteId) -> String {
    format!("lab-{site}-inbox")
}

/// The inbox handler: routes by subject.
pub struct LabInbox(pub Lab);

impl Handler for LabInbox {
    fn handle<'a>(
        &'a self,
        tx: &'a mut Transaction,
        message: &'a Incoming,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let topic = match Subject::parse(&message.subject) {
                Ok(Subject::Inbox { topic, .. }) => topic,
                _ => {
                    return Err(HandlerError::permanent(format!(
                        "not a lab inbox subject: {}",
                        message.subject
                    )));
                }
            };
            // What this handling sends continues the trace from its span (the consumer's
            // `handle <topic>` span, a child of the sender's).
            let trace = Some(TraceContext::outgoing(message.trace().as_ref()).traceparent());
            let result = match topic {
                Topic::OrderPlaced => receive_order(&self.0, tx, message, trace.as_deref()).await,
                Topic::CollectionRecorded => {
                    let c: CollectionRecorded = message.json()?;
                    crate::settlement::collection(&self.0, tx, &c).await
                }
                Topic::SettlementRecorded => {
                    let s: SettlementRecorded = message.json()?;
                    crate::settlement::settlement(&self.0, tx, &s, trace.as_deref()).await
                }
                Topic::OrderCancelled => {
                    let c: OrderCancelled = message.json()?;
                    cancel_order(&self.0, tx, &c, trace.as_deref()).await
                }
                other => {
                    return Err(HandlerError::permanent(format!(
                        "a lab does not receive {other}"
                    )));
                }
            };
            result.map_err(handler_error)
        })
    }
}

/// Store and NATS trouble is worth a retry; anything else will not get better.
pub fn handler_error(e: LabError) -> HandlerError {
    match e {
        LabError::Store(s) => HandlerError::from(s),
        LabError::Bus(b) if b.is_transient() => HandlerError::transient(b),
        other => HandlerError::permanent(other.to_string()),
    }
}

/// Why an order is refused, for the sender.
#[derive(Debug)]
pub struct Refusal {
    pub code: RejectCode,
    pub reason: String,
}

fn refuse(code: RejectCode, reason: impl Into<String>) -> Refusal {
    Refusal {
        code,
        reason: reason.into(),
    }
}

/// The bus address of an order's sender.
pub fn sender_address(sender: &Sender) -> Result<Address, LabError> {
    let (kind, id) = match sender {
        Sender::Gateway(id) => (subjects::SiteKind::Gateway, id),
        Sender::Counter(id) => (subjects::SiteKind::Counter, id),
    };
    Address::parse(kind, id.as_str()).map_err(|e| LabError::BadRequest(e.to_string()))
}

pub fn status_subject(order: &OrderId) -> Result<String, LabError> {
    let id = subjects::OrderId::parse(order.to_string())
        .map_err(|e| LabError::BadRequest(e.to_string()))?;
    Ok(subjects::status(&id))
}

fn json_err(e: serde_json::Error) -> LabError {
    LabError::Internal(format!("JSON: {e}"))
}

/// Writes a status change to the outbox.
pub async fn enqueue_status(
    lab: &Lab,
    tx: &mut Transaction,
    order: OrderId,
    stage: Stage,
    detail: String,
    charge: Option<Charge>,
    trace: Option<&str>,
) -> Result<(), LabError> {
    let id = format!("{}:{order}:status:{}", lab.site(), stage.as_str());
    enqueue_status_as(lab, tx, id, order, stage, detail, charge, trace).await?;
    // `reprint_orders_total{stage}`: an order moved to `stage` here, counted once the move has
    // committed (a batch rolled back and handled again, a redelivery skipped by the inbox, a
    // request that failed count nothing). A note at the same stage is not a move.
    let orders = lab.metrics.orders.clone();
    tx.after_commit(move || orders.with_label_values(&[stage.as_str()]).inc());
    Ok(())
}

/// Writes a status change under the message id `id` (one per order and stage for a move;
/// another for a note at the same stage, which the stage's id would deduplicate away).
#[allow(clippy::too_many_arguments)]
async fn enqueue_status_as(
    lab: &Lab,
    tx: &mut Transaction,
    id: String,
    order: OrderId,
    stage: Stage,
    detail: String,
    charge: Option<Charge>,
    trace: Option<&str>,
) -> Result<(), LabError> {
    let at = lab.clock.now();
    let change = StatusChanged {
        order,
        stage,
        site: lab.site().clone(),
        site_kind: SiteKind::Lab,
        at,
        detail,
        charge,
    };
    let message = outbox(
        id,
        status_subject(&order)?,
        "status_changed",
        &change,
        trace,
    )
    .map_err(json_err)?;
    tx.enqueue(&[message]).await?;
    Ok(())
}

/// Writes the rejection of an order to its sender plus the status.
pub async fn enqueue_rejection(
    lab: &Lab,
    tx: &mut Transaction,
    order: OrderId,
    sender: &Sender,
    refusal: &Refusal,
    trace: Option<&str>,
) -> Result<(), LabError> {
    enqueue_order_rejected(lab, tx, order, sender, refusal, trace).await?;
    enqueue_status(
        lab,
        tx,
        order,
        Stage::Rejected,
        format!("rejected by {}: {}", lab.config.site.name, refusal.reason),
        None,
        trace,
    )
    .await
}

/// Writes `OrderRejected` to the order's sender (without a status).
async fn enqueue_order_rejected(
    lab: &Lab,
    tx: &mut Transaction,
    order: OrderId,
    sender: &Sender,
    refusal: &Refusal,
    trace: Option<&str>,
) -> Result<(), LabError> {
    let to = sender_address(sender)?;
    let rejected = OrderRejected {
        order,
        lab: lab.site().clone(),
        code: refusal.code,
        reason: refusal.reason.clone(),
        at: lab.clock.now(),
    };
    let subject = subjects::order_rejected(&to).map_err(|e| LabError::BadRequest(e.to_string()))?;
    let message = outbox(
        format!("{}:{order}:rejected", lab.site()),
        subject,
        "order_rejected",
        &rejected,
        trace,
    )
    .map_err(json_err)?;
    tx.enqueue(&[message]).await?;
    Ok(())
}

/// A user's cancellation (`order.cancelled`, from the gateway), in the inbox transaction.
///
/// - The reception is still `received` (printing has not started): it is cancelled in the
///   user file, the production row moves to `cancelled` (off the queue and the printers'
///   backlog) and `StatusChanged(cancelled)` goes out.
/// - Printing has started (or the order went further): the file is left alone and a status
///   note at the order's current stage says the cancellation came too late.
/// - Already cancelled or rejected: nothing more to do (a redelivery).
/// - An order this lab has not received (the cancellation overtook it, e.g. on a redelivery of
///   the order): the cancellation is recorded in `lab_early_cancellations` (once), and
///   `receive_order` closes the order as cancelled when it arrives.
///
/// Decided by `reprint_domain::production` (cancel only while `received`) through
/// [`crate::reception`]: when a start of printing wins the race, the cancellation's append
/// conflicts, the message is handled again and finds printing started: too late.
pub async fn cancel_order(
    lab: &Lab,
    tx: &mut Transaction,
    c: &OrderCancelled,
    trace: Option<&str>,
) -> Result<(), LabError> {
    if &c.lab != lab.site() {
        return Err(LabError::BadRequest(format!(
            "a cancellation for lab {}, this is {}",
            c.lab,
            lab.site()
        )));
    }
    let order = c.order.to_string();
    let now = lab.clock.now();
    let reason = match c.reason.trim() {
        "" => "cancelled by the user".to_string(),
        r => r.chars().take(500).collect(),
    };
    let Some(row) = db::production_by_order(tx, &order).await? else {
        if db::record_early_cancellation(tx, &order, &reason, c.at, now).await? {
            tracing::info!(order = %c.order, "cancellation of an order not received yet: recorded, the order will not be opened");
        } else {
            tracing::debug!(order = %c.order, "cancellation of an order not received yet: recorded before");
        }
        return Ok(());
    };
    let decided = reception::execute(
        tx,
        &order,
        production::Command::Cancel {
            reason: reason.clone(),
            at: now,
        },
        &reason,
    )
    .await;
    match decided {
        Ok((_, events)) if events.is_empty() => {
            tracing::debug!(order = %c.order, state = %row.state, "cancellation of a closed order");
            Ok(())
        }
        Ok(_) => {
            let number =
                ReceptionNumber::parse(&lab.rules().reception_number, &row.reception_number)?;
            if let Some((mut loaded, _)) = lab.files.by_reception(tx, &number).await? {
                lab.files
                    .execute(
                        tx,
                        &mut loaded,
                        Command::Cancel {
                            number: number.clone(),
                            reason: reason.clone(),
                            at: now,
                        },
                    )
                    .await
                    .map_err(site_error)?;
            }
            enqueue_status(
                lab,
                tx,
                c.order,
                Stage::Cancelled,
                format!(
                    "reception {number} cancelled at {}: {reason}",
                    lab.config.site.name
                ),
                None,
                trace,
            )
            .await?;
            tracing::info!(order = %c.order, reception = %number, "reception cancelled by the user");
            Ok(())
        }
        Err(LabError::Refused(production::ProductionError::TooLateToCancel { state })) => {
            tracing::info!(order = %c.order, state = %state, "cancellation too late");
            enqueue_status_as(
                lab,
                tx,
                format!("{}:{}:status:cancellation-too-late", lab.site(), c.order),
                c.order,
                state.stage(),
                format!(
                    "the cancellation came too late: reception {} is {state} at {}; the order goes on",
                    row.reception_number, lab.config.site.name
                ),
                None,
                trace,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

async fn receive_order(
    lab: &Lab,
    tx: &mut Transaction,
    message: &Incoming,
    trace: Option<&str>,
) -> Result<(), LabError> {
    let order: OrderPlaced = match serde_json::from_slice(&message.payload) {
        Ok(o) => o,
        Err(e) => {
            // Tell the sender when the order id and sender can still be read.
            let v: serde_json::Value = serde_json::from_slice(&message.payload)
                .map_err(|_| LabError::BadRequest(format!("order body: {e}")))?;
            let id = v
                .get("order")
                .cloned()
                .map(serde_json::from_value::<OrderId>);
            let sender = v
                .get("sender")
                .cloned()
                .map(serde_json::from_value::<Sender>);
            if let (Some(Ok(id)), Some(Ok(sender))) = (id, sender) {
                let refusal = refuse(RejectCode::InvalidOrder, format!("unreadable order: {e}"));
                return enqueue_rejection(lab, tx, id, &sender, &refusal, trace).await;
            }
            return Err(LabError::BadRequest(format!("order body: {e}")));
        }
    };
    // A redelivery under another message id: the reception is there already.
    if db::production_by_order(tx, &order.order.to_string())
        .await?
        .is_some()
    {
        tracing::debug!(order = %order.order, "order already received");
        return Ok(());
    }
    // The user cancelled it before it arrived: closed, never opened.
    if let Some(early) = db::early_cancellation(tx, &order.order.to_string()).await? {
        return close_cancelled(lab, tx, &order, &early, trace).await;
    }
    if let Err(refusal) = check(lab, &order).await? {
        tracing::info!(order = %order.order, code = ?refusal.code, reason = %refusal.reason, "order rejected");
        return enqueue_rejection(lab, tx, order.order, &order.sender, &refusal, trace).await;
    }
    sql::exec(tx.conn(), "SAVEPOINT lab_order", &[]).await?;
    match open(lab, tx, &order, trace).await {
        Ok(()) => {
            sql::exec(tx.conn(), "RELEASE SAVEPOINT lab_order", &[]).await?;
            Ok(())
        }
        Err(LabError::Domain(d)) => {
            sql::exec(tx.conn(), "ROLLBACK TO SAVEPOINT lab_order", &[]).await?;
            sql::exec(tx.conn(), "RELEASE SAVEPOINT lab_order", &[]).await?;
            let refusal = refuse(RejectCode::InvalidOrder, d.to_string());
            enqueue_rejection(lab, tx, order.order, &order.sender, &refusal, trace).await
        }
        Err(e) => Err(e),
    }
}

/// An order whose cancellation arrived first: no file, no reception, no queue; the status
/// `cancelled` (and, to a counter, `OrderRejected` so it closes its reception). Once: a
/// redelivery of the order finds `order_arrived_at` set and does nothing.
async fn close_cancelled(
    lab: &Lab,
    tx: &mut Transaction,
    order: &OrderPlaced,
    early: &db::EarlyCancellation,
    trace: Option<&str>,
) -> Result<(), LabError> {
    let now = lab.clock.now();
    if !db::early_cancelled_order_arrived(tx, &early.order_id, now).await? {
        tracing::debug!(order = %order.order, "cancelled order redelivered: closed before");
        return Ok(());
    }
    let detail = format!(
        "cancelled before the order reached {}: {}; nothing was received or printed",
        lab.config.site.name, early.reason
    );
    if matches!(order.sender, Sender::Counter(_)) {
        let refusal = refuse(RejectCode::InvalidOrder, detail.clone());
        enqueue_order_rejected(lab, tx, order.order, &order.sender, &refusal, trace).await?;
    }
    enqueue_status(lab, tx, order.order, Stage::Cancelled, detail, None, trace).await?;
    tracing::info!(order = %order.order, "order cancelled before it arrived: closed, not opened");
    Ok(())
}

/// The checks of flows.md step 2. `Ok(Err(refusal))` is an order the lab refuses; `Err` is
/// trouble on our side (NATS away), worth a retry.
pub async fn check(lab: &Lab, order: &OrderPlaced) -> Result<Result<(), Refusal>, LabError> {
    if &order.lab != lab.site() {
        return Ok(Err(refuse(
            RejectCode::InvalidOrder,
            format!("the order is for lab {}, this is {}", order.lab, lab.site()),
        )));
    }
    if order.currency != lab.rules().currency {
        return Ok(Err(refuse(
            RejectCode::WrongCurrency,
            format!(
                "the order is in {}, this lab charges in {}",
                order.currency,
                lab.rules().currency
            ),
        )));
    }
    // The one order check, as the gateway and the counter ran it: the same words everywhere.
    if let Err(e) = check_order(&order.customer, &order.items, &|size| lab.prints_size(size)) {
        return Ok(Err(refuse(e.code(), e.to_string())));
    }
    if !counter_known(lab, &order.delivery_counter).await? {
        return Ok(Err(refuse(
            RejectCode::UnknownCounter,
            format!(
                "delivery counter {} is not one this lab delivers to",
                order.delivery_counter
            ),
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for item in &order.items {
        if !seen.insert(item.image) {
            continue;
        }
        if !lab.images.exists(&item.image.to_hex()).await? {
            return Ok(Err(refuse(
                RejectCode::ImageMissing,
                format!(
                    "image {} ({}) is not in the object store",
                    item.image.short(),
                    item.name
                ),
            )));
        }
    }
    Ok(Ok(()))
}

/// A delivery counter the lab works with: configured, or announced in the site directory.
pub async fn counter_known(lab: &Lab, counter: &SiteId) -> Result<bool, LabError> {
    if lab.config.counters.known.contains(counter)
        || lab.config.counters.data_sharing.contains(counter)
    {
        return Ok(true);
    }
    if !lab.config.counters.accept_directory {
        return Ok(false);
    }
    let id = subjects::SiteId::parse(counter.as_str())
        .map_err(|e| LabError::BadRequest(e.to_string()))?;
    Ok(lab
        .directory
        .get(&id)
        .await?
        .is_some_and(|e| e.site.kind == subjects::SiteKind::Counter))
}

/// The sizes of an order, with their prints and printers.
fn queue_lines(lab: &Lab, items: &[OrderItem]) -> BTreeMap<String, (String, i64)> {
    let mut lines: BTreeMap<String, (String, i64)> = BTreeMap::new();
    for item in items {
        if let Some(p) = lab.printer_for(item.size) {
            let e = lines
                .entry(item.size.code().to_string())
                .or_insert((p.config.name.clone(), 0));
            e.1 += i64::from(item.quantity);
        }
    }
    lines
}

/// The finish estimate (see the module documentation).
pub async fn estimate_finish(
    lab: &Lab,
    tx: &mut Transaction,
    items: &[OrderItem],
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, LabError> {
    let mut per_printer: BTreeMap<String, i64> = BTreeMap::new();
    for (printer, prints) in queue_lines(lab, items).into_values() {
        *per_printer.entry(printer).or_default() += prints;
    }
    let mut longest_minutes = 0i64;
    for (printer, prints) in per_printer {
        let backlog = db::printer_backlog(tx, &printer).await?;
        let per_hour = lab
            .printer(&printer)
            .map_or(1, |p| i64::from(p.config.prints_per_hour.max(1)));
        let minutes = ((backlog + prints) * 60 + per_hour - 1) / per_hour;
        longest_minutes = longest_minutes.max(minutes);
    }
    let minutes = longest_minutes + i64::from(lab.config.production.handling_minutes);
    Ok(now + ChronoDuration::minutes(minutes))
}

/// The earlier prints this lab counts for these items besides the exact image ids of its file:
/// the sender's history entries made at this lab, plus the photos recognised by perceptual hash
/// among the images printed here for `registration` (none for a customer without a file here).
/// The quote (`rpc::quote`) and the reception (`open`) both use it, so the lab charges what it
/// quoted.
pub async fn evidence(
    lab: &Lab,
    tx: &mut Transaction,
    registration: Option<&str>,
    items: &[PlacedItem],
) -> Result<Vec<EarlierPrint>, LabError> {
    let mut evidence: Vec<EarlierPrint> = items
        .iter()
        .flat_map(|i| i.history.iter().cloned())
        .filter(|e| &e.site == lab.site())
        .collect();
    if let Some(registration) = registration {
        evidence.extend(perceptual_evidence(lab, tx, registration, items).await?);
    }
    Ok(evidence)
}

/// Earlier prints recognised by perceptual hash among this registration's printed images.
async fn perceptual_evidence(
    lab: &Lab,
    tx: &mut Transaction,
    registration: &str,
    items: &[PlacedItem],
) -> Result<Vec<EarlierPrint>, LabError> {
    let mut evidence = Vec::new();
    if items.iter().all(|i| i.perceptual_hash.is_none()) {
        return Ok(evidence);
    }
    let known = db::hashes_of(tx, registration).await?;
    for item in items {
        let Some(h) = item.perceptual_hash else {
            continue;
        };
        let hash = PerceptualHash(h);
        for row in &known {
            if row.image == item.image.to_hex() {
                continue; // the same bytes: the file shows it already
            }
            let distance = hash.distance(PerceptualHash(row.phash as u64));
            if hash.matches(PerceptualHash(row.phash as u64))
                && let Ok(on) = row.received_on.parse()
            {
                evidence.push(EarlierPrint {
                    image: item.image,
                    site: lab.site().clone(),
                    on,
                    reception: Some(row.reception_number.clone()),
                    recognised_by: Recognition::PerceptualHash { distance },
                });
            }
        }
    }
    Ok(evidence)
}

async fn open(
    lab: &Lab,
    tx: &mut Transaction,
    order: &OrderPlaced,
    trace: Option<&str>,
) -> Result<(), LabError> {
    let now = lab.clock.now();
    let telephone = Telephone::parse(&order.customer.telephone)?;
    // Only `customer.registration_number` is this lab's; a counter's extract (Fig. 2) carries
    // the counter's own registration number, never used here.
    let who = Identity {
        registration_number: order.customer.registration_number.clone(),
        name: order.customer.name.clone(),
        telephone,
        address: order.customer.address.clone(),
        email: order.customer.email.clone(),
    };
    let (mut loaded, _registered) = lab
        .files
        .find_or_register(tx, &who, now)
        .await
        .map_err(site_error)?;
    let items = order_items(&order.items);
    let registration = loaded.registration_number.as_str().to_string();
    let evidence = evidence(lab, tx, Some(&registration), &order.items).await?;
    let estimated_finish = estimate_finish(lab, tx, &items, now).await?;
    let open = OpenReception {
        // The number and rules are set by `open_reception`.
        number: ReceptionNumber::foreign("-"),
        order: order.order,
        route: order.route,
        received_at: now,
        data_receive: order.data_receive,
        partner: order.delivery_counter.clone(),
        items: items.clone(),
        evidence,
        estimated_finish: Some(estimated_finish),
        rules: lab.rules().clone(),
    };
    let (reception, _new) = lab
        .files
        .open_reception(tx, &mut loaded, open)
        .await
        .map_err(site_error)?;
    let number = reception.number.as_str().to_string();

    // Production row, queue, image hashes: the lab's own tables, same transaction.
    let (sender_kind, sender_id) = match &order.sender {
        Sender::Gateway(id) => ("gateway", id.as_str().to_string()),
        Sender::Counter(id) => ("counter", id.as_str().to_string()),
    };
    // Its production starts at `received` (decided first: the row below is its projection).
    reception::execute(
        tx,
        &order.order.to_string(),
        production::Command::Receive {
            images: order.items.iter().map(|i| i.image).collect(),
            at: now,
        },
        &format!("reception {number}"),
    )
    .await?;
    let prints: i64 = items.iter().map(|i| i64::from(i.quantity)).sum();
    let order_json = serde_json::to_string(order).map_err(json_err)?;
    sql::exec(
        tx.conn(),
        "INSERT INTO lab_receptions (order_id, reception_number, registration_number, counter, sender_kind, sender_id, route, state, prints, charge_minor, currency, received_at, estimated_finish, updated_at, note, digital_copy, order_json) VALUES ($1, $2, $3, $4, $5, $6, $7, 'received', $8, $9, $10, $11, $12, $11, '', $13, $14) ON CONFLICT (order_id) DO NOTHING",
        &[
            order.order.to_string().into(),
            number.clone().into(),
            registration.clone().into(),
            order.delivery_counter.as_str().into(),
            sender_kind.into(),
            sender_id.into(),
            route_name(order.route).into(),
            prints.into(),
            reception.charge.total.minor.into(),
            reception.charge.total.currency.code().into(),
            ts(now).into(),
            ts(estimated_finish).into(),
            i64::from(order.digital_copy).into(),
            order_json.into(),
        ],
    )
    .await?;
    if let Some(tp) = trace {
        // Production, dispatch and settlement happen later: they continue this trace.
        db::save_trace(tx, &order.order.to_string(), tp).await?;
    }
    for (size, (printer, prints)) in queue_lines(lab, &items) {
        sql::exec(
            tx.conn(),
            "INSERT INTO lab_queue (order_id, size, printer, prints) VALUES ($1, $2, $3, $4) ON CONFLICT (order_id, size) DO NOTHING",
            &[order.order.to_string().into(), size.into(), printer.into(), prints.into()],
        )
        .await?;
    }
    let today = local_date(lab.rules(), now).to_string();
    for item in &order.items {
        if let Some(h) = item.perceptual_hash {
            sql::exec(
                tx.conn(),
                "INSERT INTO lab_image_hashes (registration_number, image, reception_number, phash, received_on) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (registration_number, image, reception_number) DO NOTHING",
                &[
                    registration.clone().into(),
                    item.image.to_hex().into(),
                    number.clone().into(),
                    (h as i64).into(),
                    today.clone().into(),
                ],
            )
            .await?;
        }
    }

    // The slip (S307) to the sender, and the status.
    let slip = extract(
        &loaded.file,
        lab.site(),
        SiteKind::Lab,
        &reception.number,
        Sharing::ReceptionOnly,
    )
    .ok_or_else(|| LabError::Internal(format!("no extract of reception {number}")))?;
    let recorded = ReceptionRecorded {
        order: order.order,
        lab: lab.site().clone(),
        extract: slip,
        estimated_finish: Some(estimated_finish),
    };
    let to = sender_address(&order.sender)?;
    let subject =
        subjects::reception_recorded(&to).map_err(|e| LabError::BadRequest(e.to_string()))?;
    let message = outbox(
        format!("{}:{}:reception-recorded", lab.site(), order.order),
        subject,
        "reception_recorded",
        &recorded,
        trace,
    )
    .map_err(json_err)?;
    tx.enqueue(&[message]).await?;
    let local_finish = estimated_finish.with_timezone(&lab.rules().time_zone);
    enqueue_status(
        lab,
        tx,
        order.order,
        Stage::Received,
        format!(
            "reception {number} at {}, registration {registration}, charge {}, ready about {}",
            lab.config.site.name,
            reception.charge.total,
            local_finish.format("%Y-%m-%d %H:%M")
        ),
        Some(reception.charge.clone()),
        trace,
    )
    .await?;
    tracing::info!(order = %order.order, reception = %number, registration = %registration,
        charge = %reception.charge.total, "reception opened");
    Ok(())
}

pub fn route_name(route: Route) -> &'static str {
    match route {
        Route::Internet => "internet",
        Route::CounterMedium => "counter_medium",
    }
}

pub fn site_error(e: SiteError) -> LabError {
    e.into()
}
