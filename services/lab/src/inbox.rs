//! The lab's inbox (docs/flows.md, Fig. 1 step 2 and Fig. 2 step 2), routed by topic: placed
//! orders from both routes (`receive_order`, taken in by [`crate::intake`]), collections and
//! settlements from the counters ([`crate::settlement`]), users' cancellations from the
//! gateway (`cancel_order`). Each message is handled in ONE transaction with the inbox (the
//! consumer's batch).
//!
//! An order the lab cannot fulfil gets `OrderRejected` with the reason plus
//! `StatusChanged(rejected)`, and nothing else: the work on the file runs under a savepoint
//! that is rolled back when the domain refuses, so nothing is half recorded.
//!
//! A cancellation may overtake its order (a redelivery of the order after the user cancelled):
//! `cancel_order` then records it in `lab_early_cancellations`, and when the order arrives it is
//! not opened (no user file, no reception number, nothing on the printers' queue):
//! `StatusChanged(cancelled)` goes out instead, plus `OrderRejected` when the sender is a
//! counter (which closes its own reception on a rejection); a gateway closed the order itself
//! when the user cancelled. A redelivery of either message changes nothing more.

use futures::future::BoxFuture;
use reprint_bus::consumer::{Handler, HandlerError, Incoming};
use reprint_bus::subjects::Topic;
use reprint_bus::trace::TraceContext;
use reprint_domain::file::Command;
use reprint_domain::production;
use reprint_domain::protocol::{
    CollectionRecorded, OrderCancelled, OrderPlaced, RejectCode, Sender, SettlementRecorded, Stage,
};
use reprint_domain::{OrderId, ReceptionNumber, SiteId};
use reprint_eventstore::Transaction;

use crate::db;
use crate::error::{LabError, site_error};
use crate::intake;
use crate::messages::{
    enqueue_order_rejected, enqueue_rejection, enqueue_status, enqueue_status_as, refuse,
};
use crate::reception;
use crate::state::Lab;

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
            let topic = message.inbox_topic()?;
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
                Topic::StatementIssued => {
                    let s: reprint_domain::protocol::StatementIssued = message.json()?;
                    crate::settlement::statement_received(&self.0, tx, &s).await
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
                Some("cancellation-too-late"),
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
    let data_in = match intake::check(lab, &order).await? {
        Ok(data_in) => data_in,
        Err(refusal) => {
            tracing::info!(order = %order.order, code = ?refusal.code, reason = %refusal.reason, "order rejected");
            return enqueue_rejection(lab, tx, order.order, &order.sender, &refusal, trace).await;
        }
    };
    db::order_savepoint(tx).await?;
    match intake::open(lab, tx, &order, data_in, trace).await {
        Ok(()) => {
            db::release_order_savepoint(tx).await?;
            Ok(())
        }
        Err(LabError::Domain(d)) => {
            db::roll_back_order_savepoint(tx).await?;
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
