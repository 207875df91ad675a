//! The one command path of a gateway order (`reprint_domain::web_order`): load the order's
//! events, decide (pure), append the events with the version read, the outbox messages and
//! the inline projections (`gw_orders`, `gw_order_images`, `gw_timeline`, through
//! [`crate::projection`]) in one transaction; the effects (a live page updated, a metric
//! counted) run after commit.
//!
//! One stream per order: `gw-order-<order id>`. Two commands racing for one order append at the
//! same version: one wins, the other's transaction fails with a version conflict (a consumer
//! gets its message again and decides on the new state; a request answers 409
//! `concurrent_change`, or is decided again where the handler says so).

use reprint_domain::web_order::{self, Command, Event, WebOrder};
use reprint_eventstore::{ExpectedVersion, OutboxMessage, Store, Transaction};

use crate::error::AppResult;
use crate::events::{StoredOrderEvent, order_stream};
use crate::state::{AppState, to_new};

/// An order as loaded, with the version to append after.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub order: WebOrder,
    pub version: u64,
}

fn fold(events: &[reprint_eventstore::RecordedEvent]) -> reprint_eventstore::Result<Loaded> {
    let mut loaded = Loaded::default();
    for e in events {
        let StoredOrderEvent(event) = e.decode::<StoredOrderEvent>()?;
        loaded.order = web_order::evolve(loaded.order, &event);
        loaded.version = e.version;
    }
    Ok(loaded)
}

/// Most events one order has (a handful of commands and a status per stage).
const MAX_EVENTS: usize = 10_000;

/// The order as this transaction reads it (empty when it does not exist).
pub async fn load(tx: &mut Transaction, order: &str) -> reprint_eventstore::Result<Loaded> {
    fold(&tx.read_stream(&order_stream(order), 1, MAX_EVENTS).await?)
}

/// The order as the store has it now, outside a transaction (for reading and for ownership).
pub async fn load_now(store: &Store, order: &str) -> reprint_eventstore::Result<Loaded> {
    fold(
        &store
            .read_stream(&order_stream(order), 1, MAX_EVENTS)
            .await?,
    )
}

/// Decides `commands` one after the other, each on the order the events before made.
pub fn decide(
    order: &WebOrder,
    commands: Vec<Command>,
) -> Result<(WebOrder, Vec<Event>), web_order::WebOrderError> {
    let mut now = order.clone();
    let mut events = Vec::new();
    for command in commands {
        let made = web_order::decide(&now, command)?;
        now = made.iter().fold(now, web_order::evolve);
        events.extend(made);
    }
    Ok((now, events))
}

/// Appends `events` after `loaded` in `tx` (the projections run with them).
pub async fn append(
    tx: &mut Transaction,
    order: &str,
    loaded: &Loaded,
    events: Vec<Event>,
) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let stored: Vec<StoredOrderEvent> = events.into_iter().map(StoredOrderEvent).collect();
    tx.append(
        &order_stream(order),
        ExpectedVersion::after(loaded.version),
        &to_new(&stored)?,
    )
    .await?;
    Ok(())
}

/// What a command did to an order.
#[derive(Debug, Clone)]
pub struct Decided {
    /// The order before the command.
    pub before: WebOrder,
    /// The order after it.
    pub after: WebOrder,
    /// The events appended (none: the command changed nothing).
    pub events: Vec<Event>,
}

/// The whole path for a request: in one transaction load the order, decide `commands`, append
/// the events with the outbox messages `outbox` makes of the decision, commit; then wake the
/// relay. The caller runs its effects (live update, metrics) on the returned decision.
pub async fn run(
    state: &AppState,
    order: &str,
    commands: Vec<Command>,
    outbox: impl FnOnce(&WebOrder, &[Event]) -> AppResult<Vec<OutboxMessage>>,
) -> AppResult<Decided> {
    let mut tx = state.store.begin().await?;
    let loaded = load(&mut tx, order).await?;
    let (after, events) = decide(&loaded.order, commands)?;
    let messages = if events.is_empty() {
        vec![]
    } else {
        outbox(&loaded.order, &events)?
    };
    append(&mut tx, order, &loaded, events.clone()).await?;
    if !messages.is_empty() {
        tx.enqueue(&messages).await?;
    }
    tx.commit().await?;
    if !messages.is_empty() {
        state.relay_wake.wake();
    }
    Ok(Decided {
        before: loaded.order,
        after,
        events,
    })
}
