//! The counter's own tables, beside the event store's and the user index (same database, same
//! transactions): what staff look at (orders and their arrival, notices of rejection), the
//! payments taken, the settlements sent, and the orders held back until their images are in
//! the object store, and the trace each order is in (`counter_traces`: the W3C `traceparent`
//! of the span that took it in or received its delivery, so that the pickup and the settlement
//! continue the order's trace). Plain SQL both SQLite and Postgres understand.
//!
//! `counter_orders` is the projection of the orders' events (`crate::order`): its `state` is
//! written only from `reprint_domain::counter_order`'s typed state, never by hand.

use reprint_bus::trace::TraceContext;
use reprint_domain::counter_order::CounterOrderState;
use reprint_eventstore::sql;
use reprint_eventstore::{Store, Transaction};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS counter_orders (
        order_id TEXT PRIMARY KEY,
        reception_number TEXT NOT NULL UNIQUE,
        registration_number TEXT NOT NULL,
        route TEXT NOT NULL,
        lab TEXT NOT NULL,
        customer_name TEXT NOT NULL,
        telephone TEXT NOT NULL,
        state TEXT NOT NULL,
        received_at TEXT NOT NULL,
        expected_ready TEXT,
        lab_reception TEXT,
        lab_estimated_finish TEXT,
        arrived_at TEXT,
        notice TEXT,
        updated_at TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS counter_orders_lab_reception ON counter_orders (lab_reception)",
    "CREATE INDEX IF NOT EXISTS counter_orders_state ON counter_orders (state, updated_at)",
    "CREATE TABLE IF NOT EXISTS counter_payments (
        order_id TEXT PRIMARY KEY,
        reception_number TEXT NOT NULL,
        lab TEXT NOT NULL,
        collected_at TEXT NOT NULL,
        local_date TEXT NOT NULL,
        method TEXT NOT NULL,
        tendered BIGINT NOT NULL,
        change_given BIGINT NOT NULL,
        lab_charge BIGINT NOT NULL,
        counter_charge BIGINT NOT NULL,
        total BIGINT NOT NULL,
        currency TEXT NOT NULL,
        staff TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS counter_payments_date ON counter_payments (local_date)",
    "CREATE TABLE IF NOT EXISTS counter_settlements (
        settlement_id TEXT PRIMARY KEY,
        order_id TEXT NOT NULL UNIQUE,
        lab TEXT NOT NULL,
        amount BIGINT NOT NULL,
        currency TEXT NOT NULL,
        at TEXT NOT NULL,
        local_date TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS counter_held_orders (
        order_id TEXT PRIMARY KEY,
        message_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        payload TEXT NOT NULL,
        images TEXT NOT NULL,
        created_at TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS counter_traces (
        order_id TEXT PRIMARY KEY,
        traceparent TEXT NOT NULL
    )",
    // Statements of the lab's share (issue 15): one per lab and period, `sent` then
    // `confirmed` by the lab; each collected order is on one statement at most.
    "CREATE TABLE IF NOT EXISTS counter_statements (
        statement_id TEXT PRIMARY KEY,
        lab TEXT NOT NULL,
        through_date TEXT NOT NULL,
        orders BIGINT NOT NULL,
        total BIGINT NOT NULL,
        currency TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        state TEXT NOT NULL,
        confirmed_at TEXT,
        confirmed_by TEXT
    )",
    "CREATE TABLE IF NOT EXISTS counter_statement_lines (
        order_id TEXT PRIMARY KEY,
        statement_id TEXT NOT NULL,
        lab TEXT NOT NULL,
        reception_number TEXT NOT NULL,
        lab_reception TEXT NOT NULL,
        collected_date TEXT NOT NULL,
        amount BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS counter_statement_lines_statement ON counter_statement_lines (statement_id)",
    // The day close: staff's counts of the till, the difference to the cash taken kept.
    "CREATE TABLE IF NOT EXISTS counter_till_counts (
        local_date TEXT NOT NULL,
        at TEXT NOT NULL,
        expected BIGINT NOT NULL,
        counted BIGINT NOT NULL,
        difference BIGINT NOT NULL,
        staff TEXT NOT NULL,
        PRIMARY KEY (local_date, at)
    )",
    // Notices (an order not accepted or cancelled) that staff dismissed on the arrivals page.
    "CREATE TABLE IF NOT EXISTS counter_dismissed_notices (
        order_id TEXT PRIMARY KEY,
        staff TEXT NOT NULL,
        at TEXT NOT NULL
    )",
    // The set of images each walk-in order was taken in with (a hash of their sorted ids),
    // so that the intake page warns before the same card is taken in twice.
    "CREATE TABLE IF NOT EXISTS counter_intake_cards (
        order_id TEXT PRIMARY KEY,
        card TEXT NOT NULL,
        taken_at TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS counter_intake_cards_card ON counter_intake_cards (card, taken_at)",
    // Pickup at another counter (`crate::elsewhere`): the other counter of an order, and at
    // the delivery counter the reception counter's slip number its customer brings.
    "CREATE TABLE IF NOT EXISTS counter_other_counters (
        order_id TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        counter TEXT NOT NULL,
        slip TEXT
    )",
    "CREATE INDEX IF NOT EXISTS counter_other_counters_slip ON counter_other_counters (slip)",
];

/// Creates the tables (idempotent).
pub async fn migrate(store: &Store) -> Result<(), reprint_eventstore::Error> {
    sql::migrate(store, SCHEMA).await?;
    // Counters before the typed state (`reprint_domain::counter_order`) wrote `ready` for the
    // protocol's `ready_for_pickup`: the word is renamed once, the order stays where it was.
    let mut tx = store.begin().await?;
    sql::exec(
        tx.conn(),
        "UPDATE counter_orders SET state = $1 WHERE state = $2",
        &[
            CounterOrderState::ReadyForPickup.as_str().into(),
            LEGACY_READY.into(),
        ],
    )
    .await
    .map_err(reprint_eventstore::Error::Database)?;
    tx.commit().await
}

/// What `counter_orders.state` held for an order ready for pickup before the state was typed.
const LEGACY_READY: &str = "ready";

/// Remembers that the order's work goes on in the current span's trace (its child).
pub async fn save_trace(tx: &mut Transaction, order: &str) -> Result<(), sqlx::Error> {
    let traceparent = TraceContext::outgoing(None).traceparent();
    sql::exec(
        tx.conn(),
        "INSERT INTO counter_traces (order_id, traceparent) VALUES ($1, $2) ON CONFLICT (order_id) DO UPDATE SET traceparent = excluded.traceparent",
        &[order.into(), traceparent.into()],
    )
    .await?;
    Ok(())
}

/// The trace kept for an order (`None` for orders from before traces were kept).
pub async fn order_trace(
    tx: &mut Transaction,
    order: &str,
) -> Result<Option<TraceContext>, sqlx::Error> {
    let row: Option<(String,)> = sql::fetch_optional(
        tx.conn(),
        "SELECT traceparent FROM counter_traces WHERE order_id = $1",
        &[order.into()],
    )
    .await?;
    Ok(row.and_then(|(tp,)| TraceContext::parse(&tp, None).ok()))
}

/// The order of the counter's reception `number` and the trace kept for it.
pub async fn reception_trace(
    tx: &mut Transaction,
    number: &str,
) -> Result<Option<(String, TraceContext)>, sqlx::Error> {
    let row: Option<(String, String)> = sql::fetch_optional(
        tx.conn(),
        "SELECT t.order_id, t.traceparent FROM counter_traces t JOIN counter_orders o ON o.order_id = t.order_id WHERE o.reception_number = $1",
        &[number.into()],
    )
    .await?;
    Ok(row.and_then(|(order, tp)| TraceContext::parse(&tp, None).ok().map(|ctx| (order, ctx))))
}

/// The columns of [`OrderRow`].
pub const ORDER_COLS: &str = "SELECT order_id, reception_number, registration_number, route, lab, customer_name, telephone, state, received_at, expected_ready, lab_reception, lab_estimated_finish, arrived_at, notice, updated_at, (SELECT o.counter FROM counter_other_counters o WHERE o.order_id = counter_orders.order_id AND o.role = 'delivery_counter') AS pickup_at FROM counter_orders";

/// An order as staff see it (`counter_orders`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrderRow {
    pub order_id: String,
    pub reception_number: String,
    pub registration_number: String,
    pub route: String,
    pub lab: String,
    pub customer_name: String,
    pub telephone: String,
    pub state: String,
    pub received_at: String,
    pub expected_ready: Option<String>,
    pub lab_reception: Option<String>,
    pub lab_estimated_finish: Option<String>,
    pub arrived_at: Option<String>,
    pub notice: Option<String>,
    /// When the order last changed (an order handed on: when the lab recorded it).
    pub updated_at: String,
    /// The other counter where the prints are collected (`crate::elsewhere`), if not here.
    pub pickup_at: Option<String>,
}

/// A payment taken (`counter_payments`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PaymentRow {
    pub order_id: String,
    pub reception_number: String,
    pub lab: String,
    pub collected_at: String,
    pub local_date: String,
    pub method: String,
    pub tendered: i64,
    pub change_given: i64,
    pub lab_charge: i64,
    pub counter_charge: i64,
    pub total: i64,
    pub currency: String,
    pub staff: String,
}

/// An order held until its images are in the object store (`counter_held_orders`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HeldRow {
    pub order_id: String,
    pub message_id: String,
    pub subject: String,
    pub payload: String,
    pub images: String,
}

/// The customers' files whose name contains `part` (case folded), for the customers page.
pub async fn users_by_name(
    tx: &mut Transaction,
    part: &str,
) -> Result<Vec<reprint_site::UserRow>, sqlx::Error> {
    let pattern = format!("%{}%", reprint_domain::file::normalise_name(part));
    sql::fetch(
        tx.conn(),
        "SELECT registration_number, name, telephone FROM site_user_files
         WHERE name_key LIKE $1 ORDER BY registration_number LIMIT 50",
        &[pattern.into()],
    )
    .await
}
