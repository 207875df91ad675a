//! The lab's outbox messages, built in one place: the slip to an order's sender
//! (`ReceptionRecorded`), a refusal (`OrderRejected`) and the order's status (`StatusChanged`),
//! each written to the outbox in the caller's transaction through the one message path
//! (`reprint_bus::message`: subject from the topic, message id `<lab>:<order>:<fact>` that makes a
//! second write of it a no-op, one header set; docs/flows.md).

use chrono::{DateTime, Utc};
use reprint_bus::message;
use reprint_bus::subjects::{self, Address};
use reprint_domain::extract::FileExtract;
use reprint_domain::protocol::{
    OrderPlaced, OrderRejected, ReceptionRecorded, RejectCode, Sender, Stage, StatusChanged,
};
use reprint_domain::{Charge, OrderId, SiteKind};
use reprint_eventstore::Transaction;

use crate::error::LabError;
use crate::state::Lab;

/// Why an order is refused, for the sender.
#[derive(Debug)]
pub struct Refusal {
    pub code: RejectCode,
    pub reason: String,
}

pub fn refuse(code: RejectCode, reason: impl Into<String>) -> Refusal {
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

pub fn json_err(e: serde_json::Error) -> LabError {
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
    enqueue_status_as(lab, tx, None, order, stage, detail, charge, trace).await?;
    // `reprint_orders_total{stage}`: an order moved to `stage` here, counted once the move has
    // committed (a batch rolled back and handled again, a redelivery skipped by the inbox, a
    // request that failed count nothing). A note at the same stage is not a move.
    let orders = lab.metrics.orders.clone();
    tx.after_commit(move || orders.with_label_values(&[stage.as_str()]).inc());
    Ok(())
}

/// Writes a status change: one message per order and stage for a move (`note: None`); a note
/// at the same stage names itself (`Some("cancellation-too-late")`), which the stage's message id
/// would deduplicate away.
#[allow(clippy::too_many_arguments)]
pub async fn enqueue_status_as(
    lab: &Lab,
    tx: &mut Transaction,
    note: Option<&str>,
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
    let message = message::status(lab.site().as_str(), &change, note, trace)?;
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
pub async fn enqueue_order_rejected(
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
    let message = message::to_inbox(lab.site().as_str(), to, &rejected, None, trace)?;
    tx.enqueue(&[message]).await?;
    Ok(())
}

/// Writes the slip (S307, `ReceptionRecorded`: the reception's extract and estimated finish)
/// to the order's sender.
pub async fn enqueue_reception_recorded(
    lab: &Lab,
    tx: &mut Transaction,
    order: &OrderPlaced,
    slip: FileExtract,
    estimated_finish: DateTime<Utc>,
    trace: Option<&str>,
) -> Result<(), LabError> {
    let recorded = ReceptionRecorded {
        order: order.order,
        lab: lab.site().clone(),
        extract: slip,
        estimated_finish: Some(estimated_finish),
    };
    let to = sender_address(&order.sender)?;
    let message = message::to_inbox(lab.site().as_str(), to, &recorded, None, trace)?;
    tx.enqueue(&[message]).await?;
    Ok(())
}
