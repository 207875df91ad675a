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

use reprint_domain::production::{self, Command, Event, Production, ProductionState};
use reprint_eventstore::codec::{self, CodecError};
use reprint_eventstore::sql::{self, ts};
use reprint_eventstore::{ExpectedVersion, Metadata, Transaction};

use crate::db;
use crate::error::LabError;

/// A production event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent(pub Event);

impl codec::Event for StoredEvent {
    fn event_type(&self) -> &'static str {
        self.0.type_name()
    }

    fn current_version(event_type: &str) -> Option<u32> {
        Event::TYPES.contains(&event_type).then_some(1)
    }

    fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::to_postcard(&self.0)
    }

    fn decode_current(_event_type: &str, payload: &[u8]) -> Result<Self, CodecError> {
        codec::from_postcard(payload).map(StoredEvent)
    }
}

pub fn stream(order: &str) -> String {
    format!("production-{order}")
}

/// A reception in production as loaded, with the version to append after.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub order: String,
    pub production: Production,
    pub version: u64,
}

/// Loads the reception of `order` (its events; a reception from before the events, from its
/// row; nothing when the order was not received here).
pub async fn load(tx: &mut Transaction, order: &str) -> Result<Loaded, LabError> {
    let stream = stream(order);
    let mut production = Production::default();
    let mut version = 0;
    loop {
        let batch = tx.read_stream(&stream, version + 1, 64).await?;
        if batch.is_empty() {
            break;
        }
        for e in &batch {
            let StoredEvent(event) = e
                .decode::<StoredEvent>()
                .map_err(reprint_eventstore::Error::from)?;
            production = production::evolve(production, &event);
            version = e.version;
        }
    }
    if version == 0
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
        production = Production::resumed(state, images);
    }
    Ok(Loaded {
        order: order.to_string(),
        production,
        version,
    })
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
    let mut loaded = load(tx, order).await?;
    let events = production::decide(&loaded.production, command)?;
    if events.is_empty() {
        return Ok((loaded.production, events));
    }
    let stored = events
        .iter()
        .map(|e| {
            codec::new_event(
                &StoredEvent(e.clone()),
                uuid::Uuid::now_v7(),
                Metadata::new(),
            )
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(reprint_eventstore::Error::from)?;
    tx.append(
        &stream(order),
        ExpectedVersion::after(loaded.version),
        &stored,
    )
    .await?;
    for event in &events {
        project(tx, order, event, note).await?;
        loaded.production = production::evolve(loaded.production, event);
    }
    Ok((loaded.production, events))
}

/// The inline projections of one event.
async fn project(
    tx: &mut Transaction,
    order: &str,
    event: &Event,
    note: &str,
) -> Result<(), LabError> {
    let at = ts(event.at());
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
        sql::exec(
            tx.conn(),
            "UPDATE lab_receptions SET state = $1, updated_at = $2, note = $3 WHERE order_id = $4",
            &[
                state.as_str().into(),
                at.clone().into(),
                note.into(),
                order.into(),
            ],
        )
        .await?;
    }
    sql::exec(
        tx.conn(),
        "INSERT INTO lab_production_log (order_id, state, at, actor, note) VALUES ($1, $2, $3, $4, $5)",
        &[order.into(), log_state.into(), at.clone().into(), actor.into(), note.into()],
    )
    .await?;
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
