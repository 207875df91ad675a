//! A gateway order (`reprint_domain::web_order`) on the one command path of every decider
//! (`reprint_site::command`): load the order's events, decide (pure), append the events with the
//! version read, the outbox messages and the inline projections (`gw_orders`,
//! `gw_order_images`, `gw_timeline`, through [`crate::projection`]) in one transaction; the
//! effects (a live page updated, a metric counted) run after commit.
//!
//! One stream per order: `gw-order-<order id>`. Two commands racing for one order append at the
//! same version: one wins, the other's transaction fails with a version conflict (a consumer
//! gets its message again and decides on the new state; a request answers 409
//! `concurrent_change`, or is decided again where the handler says so).

use reprint_domain::decider::{Decider, WebOrderDecider};
use reprint_domain::web_order::{Command, Event, WebOrder, WebOrderError};
use reprint_eventstore::{OutboxMessage, Store, Transaction};
use reprint_site::command::{self, CommandError, Stored};

use crate::error::AppResult;
use crate::events::order_stream;
use crate::state::AppState;

/// An order as loaded (`state`), with the version to append after.
pub type Loaded = command::Loaded<WebOrderDecider>;

/// An order event as stored (its type name and the postcard payload of the domain's event).
pub type StoredOrderEvent = Stored<WebOrderDecider>;

/// The order as this transaction reads it (empty when it does not exist).
pub async fn load(tx: &mut Transaction, order: &str) -> reprint_eventstore::Result<Loaded> {
    command::load(tx, &order_stream(order)).await
}

/// A new order's empty stream, without reading it: for an order id drawn just now (a fresh
/// UUID v7; `reprint_site::command::Loaded::new_stream`).
pub fn fresh(order: &str) -> Loaded {
    Loaded::new_stream(order_stream(order))
}

/// The order as `read_before` has it (read outside this transaction, for ownership: appended
/// at that version, a change since conflicts), or as this transaction reads it.
pub async fn load_unless_read(
    tx: &mut Transaction,
    order: &str,
    read_before: Option<Loaded>,
) -> reprint_eventstore::Result<Loaded> {
    match read_before {
        Some(loaded) => Ok(loaded),
        None => load(tx, order).await,
    }
}

/// Most events one order has (a handful of commands and a status per stage).
const MAX_EVENTS: usize = 10_000;

/// The order as the store has it now, outside a transaction (for reading and for ownership; a
/// transaction would take SQLite's writer).
pub async fn load_now(store: &Store, order: &str) -> reprint_eventstore::Result<Loaded> {
    let stream = order_stream(order);
    let events = store.read_stream(&stream, 1, MAX_EVENTS).await?;
    let mut loaded = Loaded {
        stream,
        state: WebOrder::default(),
        version: 0,
    };
    for e in &events {
        let event = e.decode::<StoredOrderEvent>()?.0;
        loaded.state = WebOrderDecider::evolve(loaded.state, &event);
        loaded.version = e.version;
    }
    Ok(loaded)
}

/// Decides `commands` one after the other, each on the order the events before made, and
/// queues what each decided in the transaction (`reprint_site::command::decide_and_defer`):
/// the order's events, and whatever else the request appends (its account's storage claim, the
/// image it records), go to the store in one statement at the transaction's next read or its
/// commit, with the inline projections (`gw_orders` and the rest) then; a version conflict or a
/// duplicate idempotency key comes out of that write. `loaded` is then the order after them.
/// Returns the events.
pub async fn execute(
    tx: &mut Transaction,
    loaded: &mut Loaded,
    commands: Vec<Command>,
) -> Result<Vec<Event>, CommandError<WebOrderError>> {
    let mut events = Vec::new();
    for command in commands {
        events.extend(command::decide_and_defer(tx, loaded, command)?);
    }
    Ok(events)
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

/// The whole path for a request: in one transaction load the order, decide `commands` and
/// append the events with the outbox messages `outbox` makes of the decision, commit; then wake
/// the relay. The caller runs its effects (live update, metrics) on the returned decision.
pub async fn run(
    state: &AppState,
    order: &str,
    commands: Vec<Command>,
    outbox: impl FnOnce(&WebOrder, &[Event]) -> AppResult<Vec<OutboxMessage>>,
) -> AppResult<Decided> {
    let mut tx = state.store.begin().await?;
    let loaded = load(&mut tx, order).await?;
    decide_in(state, tx, loaded, commands, outbox).await
}

/// [`run`] on the order as the request read it just before ([`load_now`]: ownership and the
/// request's own checks were decided on it), without reading it again: the events are appended
/// at the version read, so a change that came in between fails the append with a version
/// conflict, as two commands racing in [`run`] do.
pub async fn run_loaded(
    state: &AppState,
    loaded: Loaded,
    commands: Vec<Command>,
    outbox: impl FnOnce(&WebOrder, &[Event]) -> AppResult<Vec<OutboxMessage>>,
) -> AppResult<Decided> {
    let tx = state.store.begin().await?;
    decide_in(state, tx, loaded, commands, outbox).await
}

async fn decide_in(
    state: &AppState,
    mut tx: Transaction,
    mut loaded: Loaded,
    commands: Vec<Command>,
    outbox: impl FnOnce(&WebOrder, &[Event]) -> AppResult<Vec<OutboxMessage>>,
) -> AppResult<Decided> {
    let before = loaded.state.clone();
    let events = execute(&mut tx, &mut loaded, commands).await?;
    let messages = if events.is_empty() {
        vec![]
    } else {
        outbox(&before, &events)?
    };
    if !messages.is_empty() {
        tx.enqueue(&messages).await?;
    }
    tx.commit().await?;
    if !messages.is_empty() {
        state.relay_wake.wake();
    }
    Ok(Decided {
        before,
        after: loaded.state,
        events,
    })
}
