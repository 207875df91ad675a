//! The one command path of a reception in production (`reprint_domain::production`): load the
//! reception's events, decide (pure), append the events with the expected version and write the
//! projections (`lab_receptions.state`, `lab_production_log`, `lab_job_withdrawals`) in the
//! caller's transaction; the caller adds its outbox messages to the same transaction, and the
//! effects (jobs withdrawn from the hot folders) run after commit.
//!
//! One stream per order: `production-<order id>`. Two commands racing for one reception (a start
//! of printing and a user's cancellation) append at the same version: one wins, the other's
//! transaction fails with a version conflict and is decided again on the new state (a consumer
//! retries the message; a console request answers 503 "try again" and the operator sees the new
//! state). A reception kept before production had events of its own is resumed from its row.

use reprint_domain::decider::ProductionDecider;
use reprint_domain::production::{Command, Event, Production, ProductionState};
use reprint_eventstore::Transaction;
use reprint_site::command::{self, CommandError};

use crate::db;
use crate::error::LabError;

pub fn stream(order: &str) -> String {
    format!("production-{order}")
}

/// A reception in production as loaded, with the version to append after.
pub type Loaded = command::Loaded<ProductionDecider>;

/// Loads the reception of `order` (its events; a reception from before the events, from its
/// row; nothing when the order was not received here).
pub async fn load(tx: &mut Transaction, order: &str) -> Result<Loaded, LabError> {
    let mut loaded = command::load::<ProductionDecider>(tx, &stream(order)).await?;
    if loaded.version == 0
        && let Some(row) = db::production_by_order(tx, order).await?
    {
        let state = ProductionState::parse(&row.state).ok_or_else(|| {
            LabError::Internal(format!(
                "reception {} in an unknown production state {:?}",
                row.reception_number, row.state
            ))
        })?;
        let images = serde_json::from_str::<reprint_domain::protocol::OrderPlaced>(&row.order_json)
            .map(|o| o.items.iter().map(|i| i.image).collect())
            .unwrap_or_default();
        loaded.state = Production::resumed(state, images);
    }
    Ok(loaded)
}

/// [`execute`] for an order just received: its production stream is empty, so it is not read
/// (the caller, the inbox, found no production row for the order in this transaction, and the
/// row is written with the stream's first event, `intake::open`, in the same transaction: no
/// row, no events).
pub async fn receive(
    tx: &mut Transaction,
    order: &str,
    command: Command,
    note: &str,
) -> Result<(Production, Vec<Event>), LabError> {
    decide_in(tx, order, Loaded::new_stream(stream(order)), command, note).await
}

/// Decides `command` on the reception of `order`, appends what it decided and writes the
/// projections; `note` is the production log's words for people. Returns the events (none
/// when nothing changed, e.g. a redelivered message).
pub async fn execute(
    tx: &mut Transaction,
    order: &str,
    command: Command,
    note: &str,
) -> Result<(Production, Vec<Event>), LabError> {
    let loaded = load(tx, order).await?;
    decide_in(tx, order, loaded, command, note).await
}

async fn decide_in(
    tx: &mut Transaction,
    order: &str,
    mut loaded: Loaded,
    command: Command,
    note: &str,
) -> Result<(Production, Vec<Event>), LabError> {
    let events = command::decide_and_append(tx, &mut loaded, command)
        .await
        .map_err(|e| match e {
            CommandError::Refused(e) => LabError::from(e),
            CommandError::Store(e) => LabError::from(e),
        })?;
    for event in &events {
        project(tx, order, event, note).await?;
    }
    Ok((loaded.state, events))
}

/// The inline projections of one event.
async fn project(
    tx: &mut Transaction,
    order: &str,
    event: &Event,
    note: &str,
) -> Result<(), LabError> {
    let (actor, log_state) = match event {
        Event::Received { .. } => ("order consumer".to_string(), "received"),
        Event::PrintingStarted { actor, .. }
        | Event::PrintsFinished { actor, .. }
        | Event::Dispatched { actor, .. }
        | Event::Rejected { actor, .. }
        | Event::Collected { actor, .. }
        | Event::Settled { actor, .. } => (
            actor.clone(),
            event.state_after().map_or("", |s| s.as_str()),
        ),
        Event::ImageRejected { actor, .. } => (actor.clone(), "image rejected"),
        Event::Cancelled { .. } => (
            "order consumer (the user's cancellation)".to_string(),
            "cancelled",
        ),
    };
    // The row of a received order is written with its reception (`intake::open`).
    if let Some(state) = event.state_after()
        && !matches!(event, Event::Received { .. })
    {
        db::set_state(tx, order, state.as_str(), event.at(), note).await?;
    }
    db::log_production(tx, order, log_state, event.at(), &actor, note).await?;
    // Jobs in the hot folders of a rejected reception: withdrawn after commit (and by the
    // production loop, should the process stop before).
    if let Event::Rejected {
        withdraw_jobs: true,
        reason,
        ..
    } = event
    {
        db::request_withdrawal(tx, order, reason, event.at()).await?;
    }
    Ok(())
}

/// Items (4) and (5) of the reception contents area (Fig. 6) for an order that came over the
/// network: when the lab started taking the order's data in and when it had all of it (every
/// image of the order confirmed whole in the lab's image store: its size read back), as the
/// intake's check found them (`data_in`, `crate::intake::check`). The sender's own times when
/// it gave them; none for an order whose data came on a medium at a counter.
pub fn data_received(
    order: &reprint_domain::protocol::OrderPlaced,
    data_in: reprint_domain::file::DataReceive,
) -> Option<reprint_domain::file::DataReceive> {
    if let Some(given) = order.data_receive {
        return Some(given);
    }
    if order.route != reprint_domain::file::Route::Internet {
        return None;
    }
    Some(data_in)
}
