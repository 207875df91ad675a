//! The lab's own tables, written in the same transaction as the user files they follow (plain
//! SQL both PostgreSQL and SQLite understand):
//!
//! - `lab_receptions`: the production state of each reception (received -> printing -> printed
//!   -> dispatched -> collected -> settled, or rejected by the operator, or cancelled by the
//!   user before printing), with the order as placed;
//! - `lab_queue`: prints per reception, size and printer (the finish estimate and the hot
//!   folders are made from it);
//! - `lab_image_hashes`: perceptual hashes of the images printed for each registration (to
//!   recognise the same photo renamed or re-encoded, Fig. 10);
//! - `lab_ledger`: per delivery counter, what was charged, collected by the counter, and paid;
//! - `lab_production_log`: who moved which reception when;
//! - `lab_traces`: the W3C `traceparent` of the span that received each order, so that its
//!   production, dispatch and settlement continue the order's trace.
//! - `lab_job_withdrawals`: receptions rejected after their jobs were written to the hot
//!   folders, until the jobs are withdrawn (removed, or voided where the station took them);
//! - `lab_early_cancellations`: users' cancellations of orders the lab had not received yet
//!   (the cancellation overtook its order, e.g. on a redelivery); when the order arrives it is
//!   closed as cancelled instead of opened (`order_arrived_at` is then set).

use chrono::{DateTime, Utc};
use reprint_eventstore::sql::{self, Arg, ts};
use reprint_eventstore::{Store, Transaction};
use sqlx::FromRow;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS lab_receptions (
        order_id TEXT PRIMARY KEY,
        reception_number TEXT NOT NULL UNIQUE,
        registration_number TEXT NOT NULL,
        counter TEXT NOT NULL,
        sender_kind TEXT NOT NULL,
        sender_id TEXT NOT NULL,
        route TEXT NOT NULL,
        state TEXT NOT NULL,
        prints BIGINT NOT NULL,
        charge_minor BIGINT NOT NULL,
        currency TEXT NOT NULL,
        received_at TEXT NOT NULL,
        estimated_finish TEXT,
        updated_at TEXT NOT NULL,
        note TEXT NOT NULL,
        digital_copy BIGINT NOT NULL,
        order_json TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS lab_receptions_state ON lab_receptions (state, received_at)",
    "CREATE TABLE IF NOT EXISTS lab_queue (
        order_id TEXT NOT NULL,
        size TEXT NOT NULL,
        printer TEXT NOT NULL,
        prints BIGINT NOT NULL,
        PRIMARY KEY (order_id, size)
    )",
    "CREATE INDEX IF NOT EXISTS lab_queue_printer ON lab_queue (printer)",
    "CREATE TABLE IF NOT EXISTS lab_image_hashes (
        registration_number TEXT NOT NULL,
        image TEXT NOT NULL,
        reception_number TEXT NOT NULL,
        phash BIGINT NOT NULL,
        received_on TEXT NOT NULL,
        PRIMARY KEY (registration_number, image, reception_number)
    )",
    "CREATE TABLE IF NOT EXISTS lab_ledger (
        entry_id TEXT PRIMARY KEY,
        counter TEXT NOT NULL,
        order_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        amount_minor BIGINT NOT NULL,
        currency TEXT NOT NULL,
        at TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS lab_ledger_counter ON lab_ledger (counter, kind)",
    // The delivery counters' statements of the lab's share (issue 15): `received`, then
    // `confirmed` by an operator; `lines` is the statement's orders as JSON.
    "CREATE TABLE IF NOT EXISTS lab_statements (
        statement_id TEXT PRIMARY KEY,
        counter TEXT NOT NULL,
        through_date TEXT NOT NULL,
        orders BIGINT NOT NULL,
        total_minor BIGINT NOT NULL,
        currency TEXT NOT NULL,
        lines TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        received_at TEXT NOT NULL,
        state TEXT NOT NULL,
        confirmed_at TEXT,
        confirmed_by TEXT
    )",
    "CREATE TABLE IF NOT EXISTS lab_production_log (
        order_id TEXT NOT NULL,
        state TEXT NOT NULL,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        note TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS lab_production_log_order ON lab_production_log (order_id, at)",
    "CREATE TABLE IF NOT EXISTS lab_traces (
        order_id TEXT PRIMARY KEY,
        traceparent TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS lab_job_withdrawals (
        order_id TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        requested_at TEXT NOT NULL,
        done_at TEXT,
        outcome TEXT
    )",
    "CREATE TABLE IF NOT EXISTS lab_early_cancellations (
        order_id TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        cancelled_at TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        order_arrived_at TEXT
    )",
];

/// Creates the lab's tables (idempotent).
pub async fn migrate(store: &Store) -> Result<(), reprint_eventstore::Error> {
    sql::migrate(store, SCHEMA).await
}

/// Remembers the trace an order arrived in (the receiving span's `traceparent`).
pub async fn save_trace(
    tx: &mut Transaction,
    order: &str,
    traceparent: &str,
) -> Result<(), sqlx::Error> {
    sql::exec(
        tx.conn(),
        "INSERT INTO lab_traces (order_id, traceparent) VALUES ($1, $2) ON CONFLICT (order_id) DO NOTHING",
        &[order.into(), traceparent.into()],
    )
    .await?;
    Ok(())
}

/// The order of reception `number` and the trace it arrived in, if that was recorded (orders
/// received before traces were kept have none).
pub async fn reception_trace(
    tx: &mut Transaction,
    number: &str,
) -> Result<Option<(String, reprint_bus::trace::TraceContext)>, sqlx::Error> {
    let row: Option<(String, String)> = sql::fetch_optional(
        tx.conn(),
        "SELECT t.order_id, t.traceparent FROM lab_traces t JOIN lab_receptions r ON r.order_id = t.order_id WHERE r.reception_number = $1",
        &[number.into()],
    )
    .await?;
    Ok(row.and_then(|(order, tp)| {
        reprint_bus::trace::TraceContext::parse(&tp, None)
            .ok()
            .map(|ctx| (order, ctx))
    }))
}

/// A user's cancellation of an order that had not arrived here when it came.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct EarlyCancellation {
    pub order_id: String,
    pub reason: String,
    pub cancelled_at: String,
    pub recorded_at: String,
    /// When the order itself arrived (and was closed as cancelled); `None` while it has not.
    pub order_arrived_at: Option<String>,
}

/// Records the cancellation of an order not received here; false when it was recorded before
/// (a redelivery of the cancellation).
pub async fn record_early_cancellation(
    tx: &mut Transaction,
    order: &str,
    reason: &str,
    cancelled_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    Ok(sql::exec(
        tx.conn(),
        "INSERT INTO lab_early_cancellations (order_id, reason, cancelled_at, recorded_at) VALUES ($1, $2, $3, $4) ON CONFLICT (order_id) DO NOTHING",
        &[
            order.into(),
            reason.into(),
            ts(cancelled_at).into(),
            ts(now).into(),
        ],
    )
    .await?
        == 1)
}

pub async fn early_cancellation(
    tx: &mut Transaction,
    order: &str,
) -> Result<Option<EarlyCancellation>, sqlx::Error> {
    sql::fetch_optional(
        tx.conn(),
        "SELECT order_id, reason, cancelled_at, recorded_at, order_arrived_at FROM lab_early_cancellations WHERE order_id = $1",
        &[order.into()],
    )
    .await
}

/// Notes that the cancelled order has arrived; false when it had arrived before (a redelivery
/// of the order, already closed).
pub async fn early_cancelled_order_arrived(
    tx: &mut Transaction,
    order: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    Ok(sql::exec(
        tx.conn(),
        "UPDATE lab_early_cancellations SET order_arrived_at = $1 WHERE order_id = $2 AND order_arrived_at IS NULL",
        &[ts(now).into(), order.into()],
    )
    .await?
        == 1)
}

/// The savepoint an order is opened under (`inbox::receive_order`): rolled back when the
/// domain refuses the order, so that nothing of it is half recorded.
pub async fn order_savepoint(tx: &mut Transaction) -> Result<(), sqlx::Error> {
    sql::exec(tx.conn(), "SAVEPOINT lab_order", &[]).await?;
    Ok(())
}

/// The order was opened: its work stays in the transaction.
pub async fn release_order_savepoint(tx: &mut Transaction) -> Result<(), sqlx::Error> {
    sql::exec(tx.conn(), "RELEASE SAVEPOINT lab_order", &[]).await?;
    Ok(())
}

/// The order was refused: what was done since [`order_savepoint`] is undone.
pub async fn roll_back_order_savepoint(tx: &mut Transaction) -> Result<(), sqlx::Error> {
    sql::exec(tx.conn(), "ROLLBACK TO SAVEPOINT lab_order", &[]).await?;
    sql::exec(tx.conn(), "RELEASE SAVEPOINT lab_order", &[]).await?;
    Ok(())
}

/// A received order's production row (state `received`), with the order as placed.
#[derive(Debug, Clone)]
pub struct NewReception<'a> {
    pub order_id: &'a str,
    pub reception_number: &'a str,
    pub registration_number: &'a str,
    pub counter: &'a str,
    pub sender_kind: &'a str,
    pub sender_id: &'a str,
    pub route: &'a str,
    pub prints: i64,
    pub charge: reprint_domain::Money,
    pub received_at: DateTime<Utc>,
    pub estimated_finish: DateTime<Utc>,
    pub digital_copy: bool,
    /// The order as placed (JSON).
    pub order_json: &'a str,
}

/// Writes a received order's production row (once: a second write of the order is a no-op).
pub async fn insert_reception(
    tx: &mut Transaction,
    r: &NewReception<'_>,
) -> Result<(), sqlx::Error> {
    sql::exec(
        tx.conn(),
        "INSERT INTO lab_receptions (order_id, reception_number, registration_number, counter, sender_kind, sender_id, route, state, prints, charge_minor, currency, received_at, estimated_finish, updated_at, note, digital_copy, order_json) VALUES ($1, $2, $3, $4, $5, $6, $7, 'received', $8, $9, $10, $11, $12, $11, '', $13, $14) ON CONFLICT (order_id) DO NOTHING",
        &[
            r.order_id.into(),
            r.reception_number.into(),
            r.registration_number.into(),
            r.counter.into(),
            r.sender_kind.into(),
            r.sender_id.into(),
            r.route.into(),
            r.prints.into(),
            r.charge.minor.into(),
            r.charge.currency.code().into(),
            ts(r.received_at).into(),
            ts(r.estimated_finish).into(),
            i64::from(r.digital_copy).into(),
            r.order_json.into(),
        ],
    )
    .await?;
    Ok(())
}

/// Puts an order's prints of one size on a printer's queue (`lab_queue`).
pub async fn insert_queue_line(
    tx: &mut Transaction,
    order: &str,
    size: &str,
    printer: &str,
    prints: i64,
) -> Result<(), sqlx::Error> {
    sql::exec(
        tx.conn(),
        "INSERT INTO lab_queue (order_id, size, printer, prints) VALUES ($1, $2, $3, $4) ON CONFLICT (order_id, size) DO NOTHING",
        &[order.into(), size.into(), printer.into(), prints.into()],
    )
    .await?;
    Ok(())
}

/// Remembers the perceptual hash of an image received for a registration (Fig. 10).
pub async fn insert_image_hash(
    tx: &mut Transaction,
    registration: &str,
    image: &str,
    reception: &str,
    phash: i64,
    received_on: &str,
) -> Result<(), sqlx::Error> {
    sql::exec(
        tx.conn(),
        "INSERT INTO lab_image_hashes (registration_number, image, reception_number, phash, received_on) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (registration_number, image, reception_number) DO NOTHING",
        &[
            registration.into(),
            image.into(),
            reception.into(),
            phash.into(),
            received_on.into(),
        ],
    )
    .await?;
    Ok(())
}

/// One integer of the first row (e.g. a sum), 0 when there is none.
pub async fn scalar_i64(
    tx: &mut Transaction,
    query: &str,
    args: &[Arg],
) -> Result<i64, sqlx::Error> {
    sql::scalar_i64(tx.conn(), query, args).await
}

/// A reception's production row.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct ProductionRow {
    pub order_id: String,
    pub reception_number: String,
    pub registration_number: String,
    pub counter: String,
    pub sender_kind: String,
    pub sender_id: String,
    pub route: String,
    pub state: String,
    pub prints: i64,
    pub charge_minor: i64,
    pub currency: String,
    pub received_at: String,
    pub estimated_finish: Option<String>,
    pub updated_at: String,
    pub note: String,
    pub digital_copy: i64,
    #[serde(skip)]
    pub order_json: String,
}

const PRODUCTION_COLS: &str = "SELECT order_id, reception_number, registration_number, counter, sender_kind, sender_id, route, state, prints, charge_minor, currency, received_at, estimated_finish, updated_at, note, digital_copy, order_json FROM lab_receptions";

pub async fn production_by_reception(
    tx: &mut Transaction,
    number: &str,
) -> Result<Option<ProductionRow>, sqlx::Error> {
    let query = format!("{PRODUCTION_COLS} WHERE reception_number = $1");
    sql::fetch_optional(tx.conn(), &query, &[number.into()]).await
}

pub async fn production_by_order(
    tx: &mut Transaction,
    order: &str,
) -> Result<Option<ProductionRow>, sqlx::Error> {
    let query = format!("{PRODUCTION_COLS} WHERE order_id = $1");
    sql::fetch_optional(tx.conn(), &query, &[order.into()]).await
}

pub async fn production_by_state(
    tx: &mut Transaction,
    state: &str,
    limit: i64,
) -> Result<Vec<ProductionRow>, sqlx::Error> {
    let query = format!("{PRODUCTION_COLS} WHERE state = $1 ORDER BY received_at LIMIT $2");
    sql::fetch(tx.conn(), &query, &[state.into(), limit.into()]).await
}

pub async fn production_by_registration(
    tx: &mut Transaction,
    registration: &str,
) -> Result<Vec<ProductionRow>, sqlx::Error> {
    let query =
        format!("{PRODUCTION_COLS} WHERE registration_number = $1 ORDER BY received_at DESC");
    sql::fetch(tx.conn(), &query, &[registration.into()]).await
}

/// The projection of a reception's production state (`reprint_domain::production`).
pub async fn set_state(
    tx: &mut Transaction,
    order: &str,
    state: &str,
    at: DateTime<Utc>,
    note: &str,
) -> Result<(), sqlx::Error> {
    sql::exec(
        tx.conn(),
        "UPDATE lab_receptions SET state = $1, updated_at = $2, note = $3 WHERE order_id = $4",
        &[state.into(), ts(at).into(), note.into(), order.into()],
    )
    .await?;
    Ok(())
}

/// A line of the production log: who moved which reception when.
pub async fn log_production(
    tx: &mut Transaction,
    order: &str,
    state: &str,
    at: DateTime<Utc>,
    actor: &str,
    note: &str,
) -> Result<(), sqlx::Error> {
    sql::exec(
        tx.conn(),
        "INSERT INTO lab_production_log (order_id, state, at, actor, note) VALUES ($1, $2, $3, $4, $5)",
        &[order.into(), state.into(), ts(at).into(), actor.into(), note.into()],
    )
    .await?;
    Ok(())
}

/// Asks for the jobs of a reception to be withdrawn from the hot folders (once).
pub async fn request_withdrawal(
    tx: &mut Transaction,
    order: &str,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sql::exec(
        tx.conn(),
        "INSERT INTO lab_job_withdrawals (order_id, reason, requested_at) VALUES ($1, $2, $3) ON CONFLICT (order_id) DO NOTHING",
        &[order.into(), reason.into(), ts(at).into()],
    )
    .await?;
    Ok(())
}

/// A withdrawal not done yet.
#[derive(Debug, Clone, FromRow)]
pub struct PendingWithdrawal {
    pub order_id: String,
    pub reason: String,
}

pub async fn pending_withdrawals(
    tx: &mut Transaction,
    limit: i64,
) -> Result<Vec<PendingWithdrawal>, sqlx::Error> {
    sql::fetch(
        tx.conn(),
        "SELECT order_id, reason FROM lab_job_withdrawals WHERE done_at IS NULL ORDER BY requested_at LIMIT $1",
        &[limit.into()],
    )
    .await
}

/// Notes how the jobs were withdrawn (and tells the operator in the production log).
pub async fn withdrawal_done(
    tx: &mut Transaction,
    order: &str,
    outcome: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let first = sql::exec(
        tx.conn(),
        "UPDATE lab_job_withdrawals SET done_at = $1, outcome = $2 WHERE order_id = $3 AND done_at IS NULL",
        &[ts(at).into(), outcome.into(), order.into()],
    )
    .await?
        == 1;
    if !first {
        // Done meanwhile by the production loop (or the request that rejected it).
        return Ok(());
    }
    sql::exec(
        tx.conn(),
        "INSERT INTO lab_production_log (order_id, state, at, actor, note) VALUES ($1, 'rejected', $2, 'hot folders', $3)",
        &[order.into(), ts(at).into(), outcome.into()],
    )
    .await?;
    Ok(())
}

/// One line of the production log.
#[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct LogRow {
    pub state: String,
    pub at: String,
    pub actor: String,
    pub note: String,
}

pub async fn production_log(tx: &mut Transaction, order: &str) -> Result<Vec<LogRow>, sqlx::Error> {
    sql::fetch(
        tx.conn(),
        "SELECT state, at, actor, note FROM lab_production_log WHERE order_id = $1 ORDER BY at",
        &[order.into()],
    )
    .await
}

/// Prints of one size of a reception, on one printer.
#[derive(Debug, Clone, FromRow)]
pub struct QueueRow {
    pub size: String,
    pub printer: String,
    pub prints: i64,
}

pub async fn queue_of(tx: &mut Transaction, order: &str) -> Result<Vec<QueueRow>, sqlx::Error> {
    sql::fetch(
        tx.conn(),
        "SELECT size, printer, prints FROM lab_queue WHERE order_id = $1 ORDER BY size",
        &[order.into()],
    )
    .await
}

/// Prints waiting on a printer (receptions received or printing; found from those receptions,
/// not from the printer's queue lines since the lab opened: see `printing::waiting_prints`).
pub async fn printer_backlog(tx: &mut Transaction, printer: &str) -> Result<i64, sqlx::Error> {
    sql::scalar_i64(
        tx.conn(),
        "SELECT CAST(SUM(q.prints) AS BIGINT) FROM lab_receptions r CROSS JOIN lab_queue q WHERE r.state IN ('received', 'printing') AND q.order_id = r.order_id AND q.printer || '' = $1",
        &[printer.into()],
    )
    .await
}

/// A perceptual hash recorded for a registration.
#[derive(Debug, Clone, FromRow)]
pub struct HashRow {
    pub image: String,
    pub reception_number: String,
    pub phash: i64,
    pub received_on: String,
}

pub async fn hashes_of(
    tx: &mut Transaction,
    registration: &str,
) -> Result<Vec<HashRow>, sqlx::Error> {
    sql::fetch(
        tx.conn(),
        "SELECT h.image, h.reception_number, h.phash, h.received_on FROM lab_image_hashes h JOIN lab_receptions r ON r.reception_number = h.reception_number WHERE h.registration_number = $1 AND r.state NOT IN ('cancelled', 'rejected')",
        &[registration.into()],
    )
    .await
}

/// A ledger entry: charged, collected or paid, for a delivery counter.
#[derive(Debug, Clone)]
pub struct LedgerEntry<'a> {
    /// Makes recording it again a no-op.
    pub entry_id: String,
    pub counter: &'a str,
    pub order: &'a str,
    pub kind: &'a str,
    pub amount: reprint_domain::Money,
    pub at: DateTime<Utc>,
}

/// Records a ledger entry; false when it was recorded before.
pub async fn ledger_entry(tx: &mut Transaction, e: &LedgerEntry<'_>) -> Result<bool, sqlx::Error> {
    Ok(sql::exec(
        tx.conn(),
        "INSERT INTO lab_ledger (entry_id, counter, order_id, kind, amount_minor, currency, at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (entry_id) DO NOTHING",
        &[
            e.entry_id.clone().into(),
            e.counter.into(),
            e.order.into(),
            e.kind.into(),
            e.amount.minor.into(),
            e.amount.currency.code().into(),
            ts(e.at).into(),
        ],
    )
    .await?
        == 1)
}

#[derive(Debug, Clone, FromRow)]
pub struct LedgerSum {
    pub counter: String,
    pub kind: String,
    pub currency: String,
    pub amount: i64,
}

pub async fn ledger_sums(tx: &mut Transaction) -> Result<Vec<LedgerSum>, sqlx::Error> {
    sql::fetch(
        tx.conn(),
        "SELECT counter, kind, currency, CAST(SUM(amount_minor) AS BIGINT) AS amount FROM lab_ledger GROUP BY counter, kind, currency ORDER BY counter, kind",
        &[],
    )
    .await
}

/// One line of the printers' queue with its reception's state (the console's queue filters).
#[derive(Debug, Clone, FromRow)]
pub struct QueueLine {
    pub order_id: String,
    pub size: String,
    pub printer: String,
    pub prints: i64,
}

/// The printers' queue lines of the receptions in `states`.
pub async fn queue_lines_in(
    tx: &mut Transaction,
    states: &[&str],
) -> Result<Vec<QueueLine>, sqlx::Error> {
    let mut out = Vec::new();
    for state in states {
        let mut lines: Vec<QueueLine> = sql::fetch(
            tx.conn(),
            "SELECT q.order_id, q.size, q.printer, q.prints FROM lab_queue q JOIN lab_receptions r ON r.order_id = q.order_id WHERE r.state = $1 ORDER BY q.order_id, q.size",
            &[(*state).into()],
        )
        .await?;
        out.append(&mut lines);
    }
    Ok(out)
}

/// Receptions whose order as placed mentions `needle` (case-insensitive; `%` and `_` are
/// taken literally): a customer's name, a counter's reception number. The caller checks the
/// order itself; this only narrows the rows.
pub async fn production_mentioning(
    tx: &mut Transaction,
    needle: &str,
    limit: i64,
) -> Result<Vec<ProductionRow>, sqlx::Error> {
    let escaped: String = needle
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    let query = format!(
        "{PRODUCTION_COLS} WHERE LOWER(order_json) LIKE $1 ESCAPE '\\' ORDER BY received_at DESC LIMIT $2"
    );
    sql::fetch(
        tx.conn(),
        &query,
        &[format!("%{escaped}%").into(), limit.into()],
    )
    .await
}

/// The perceptual hashes recorded for one reception.
pub async fn hashes_of_reception(
    tx: &mut Transaction,
    reception: &str,
) -> Result<Vec<HashRow>, sqlx::Error> {
    sql::fetch(
        tx.conn(),
        "SELECT image, reception_number, phash, received_on FROM lab_image_hashes WHERE reception_number = $1",
        &[reception.into()],
    )
    .await
}

/// Every individual user file's registration number (user analysis, `web::analysis`).
pub async fn registration_numbers(tx: &mut Transaction) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sql::fetch(
        tx.conn(),
        "SELECT registration_number FROM site_user_files ORDER BY registration_number",
        &[],
    )
    .await?;
    Ok(rows.into_iter().map(|(n,)| n).collect())
}

/// The orders counters sent (JSON), whose counter extracts may be whole files (user analysis).
pub async fn counter_orders(tx: &mut Transaction) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sql::fetch(
        tx.conn(),
        "SELECT order_json FROM lab_receptions WHERE route = 'counter_medium' ORDER BY received_at",
        &[],
    )
    .await?;
    Ok(rows.into_iter().map(|(j,)| j).collect())
}
