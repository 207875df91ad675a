//! The lab's own tables, written in the same transaction as the user files they follow (plain
//! SQL both PostgreSQL and SQLite understand):
//!
//! - `lab_receptions`: the production state of each reception (received -> printing -> printed
//!   -> dispatched -> collected -> settled, or rejected), with the order as placed;
//! - `lab_queue`: prints per reception, size and printer (the finish estimate and the hot
//!   folders are made from it);
//! - `lab_image_hashes`: perceptual hashes of the images printed for each registration (to
//!   recognise the same photo renamed or re-encoded, Fig. 10);
//! - `lab_ledger`: per delivery counter, what was charged, collected by the counter, and paid;
//! - `lab_production_log`: who moved which reception when.

use chrono::{DateTime, SecondsFormat, Utc};
use reprint_eventstore::{Conn, Store, Transaction};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, Row};

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
    "CREATE TABLE IF NOT EXISTS lab_production_log (
        order_id TEXT NOT NULL,
        state TEXT NOT NULL,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        note TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS lab_production_log_order ON lab_production_log (order_id, at)",
];

/// Creates the lab's tables (idempotent).
pub async fn migrate(store: &Store) -> Result<(), reprint_eventstore::Error> {
    let mut tx = store.begin().await?;
    for ddl in SCHEMA {
        exec(&mut tx, ddl, &[]).await?;
    }
    tx.commit().await
}

/// A bound value.
#[derive(Debug, Clone)]
pub enum V {
    T(String),
    I(i64),
    Null,
}

impl From<&str> for V {
    fn from(s: &str) -> V {
        V::T(s.to_string())
    }
}
impl From<String> for V {
    fn from(s: String) -> V {
        V::T(s)
    }
}
impl From<i64> for V {
    fn from(i: i64) -> V {
        V::I(i)
    }
}
impl From<Option<String>> for V {
    fn from(s: Option<String>) -> V {
        s.map_or(V::Null, V::T)
    }
}

/// A time as stored: RFC 3339 in UTC with milliseconds (sorts as text).
pub fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

macro_rules! bind_all {
    ($q:expr, $binds:expr) => {{
        let mut q = $q;
        for b in $binds {
            q = match b {
                V::T(s) => q.bind(s.clone()),
                V::I(i) => q.bind(*i),
                V::Null => q.bind(None::<String>),
            };
        }
        q
    }};
}

/// Runs a statement; returns the rows affected.
pub async fn exec(tx: &mut Transaction, sql: &str, binds: &[V]) -> Result<u64, sqlx::Error> {
    exec_conn(tx.conn(), sql, binds).await
}

pub async fn exec_conn(conn: Conn<'_>, sql: &str, binds: &[V]) -> Result<u64, sqlx::Error> {
    Ok(match conn {
        Conn::Postgres(c) => bind_all!(sqlx::query(sql), binds)
            .execute(&mut *c)
            .await?
            .rows_affected(),
        Conn::Sqlite(c) => bind_all!(sqlx::query(sql), binds)
            .execute(&mut *c)
            .await?
            .rows_affected(),
    })
}

/// Fetches rows as `T` (a `sqlx::FromRow` on both backends).
pub async fn fetch<T>(tx: &mut Transaction, sql: &str, binds: &[V]) -> Result<Vec<T>, sqlx::Error>
where
    T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin,
{
    Ok(match tx.conn() {
        Conn::Postgres(c) => {
            bind_all!(sqlx::query_as::<_, T>(sql), binds)
                .fetch_all(&mut *c)
                .await?
        }
        Conn::Sqlite(c) => {
            bind_all!(sqlx::query_as::<_, T>(sql), binds)
                .fetch_all(&mut *c)
                .await?
        }
    })
}

/// One integer of the first row (e.g. a sum), 0 when there is none.
pub async fn scalar_i64(tx: &mut Transaction, sql: &str, binds: &[V]) -> Result<i64, sqlx::Error> {
    Ok(match tx.conn() {
        Conn::Postgres(c) => bind_all!(sqlx::query(sql), binds)
            .fetch_optional(&mut *c)
            .await?
            .map(|r| r.try_get::<Option<i64>, _>(0))
            .transpose()?
            .flatten()
            .unwrap_or(0),
        Conn::Sqlite(c) => bind_all!(sqlx::query(sql), binds)
            .fetch_optional(&mut *c)
            .await?
            .map(|r| r.try_get::<Option<i64>, _>(0))
            .transpose()?
            .flatten()
            .unwrap_or(0),
    })
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
    let sql = format!("{PRODUCTION_COLS} WHERE reception_number = $1");
    Ok(fetch(tx, &sql, &[number.into()]).await?.into_iter().next())
}

pub async fn production_by_order(
    tx: &mut Transaction,
    order: &str,
) -> Result<Option<ProductionRow>, sqlx::Error> {
    let sql = format!("{PRODUCTION_COLS} WHERE order_id = $1");
    Ok(fetch(tx, &sql, &[order.into()]).await?.into_iter().next())
}

pub async fn production_by_state(
    tx: &mut Transaction,
    state: &str,
    limit: i64,
) -> Result<Vec<ProductionRow>, sqlx::Error> {
    let sql = format!("{PRODUCTION_COLS} WHERE state = $1 ORDER BY received_at LIMIT $2");
    fetch(tx, &sql, &[state.into(), limit.into()]).await
}

pub async fn production_by_registration(
    tx: &mut Transaction,
    registration: &str,
) -> Result<Vec<ProductionRow>, sqlx::Error> {
    let sql = format!("{PRODUCTION_COLS} WHERE registration_number = $1 ORDER BY received_at DESC");
    fetch(tx, &sql, &[registration.into()]).await
}

/// Moves a reception from one of `from` to `to`; false when it was in none of them.
pub async fn move_state(
    tx: &mut Transaction,
    order: &str,
    from: &[&str],
    to: &str,
    at: DateTime<Utc>,
    actor: &str,
    note: &str,
) -> Result<bool, sqlx::Error> {
    let placeholders: Vec<String> = (0..from.len()).map(|i| format!("${}", i + 5)).collect();
    let sql = format!(
        "UPDATE lab_receptions SET state = $1, updated_at = $2, note = $3 WHERE order_id = $4 AND state IN ({})",
        placeholders.join(", ")
    );
    let mut binds: Vec<V> = vec![to.into(), ts(at).into(), note.into(), order.into()];
    binds.extend(from.iter().map(|s| V::from(*s)));
    let moved = exec(tx, &sql, &binds).await? == 1;
    if moved {
        exec(
            tx,
            "INSERT INTO lab_production_log (order_id, state, at, actor, note) VALUES ($1, $2, $3, $4, $5)",
            &[order.into(), to.into(), ts(at).into(), actor.into(), note.into()],
        )
        .await?;
    }
    Ok(moved)
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
    fetch(
        tx,
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
    fetch(
        tx,
        "SELECT size, printer, prints FROM lab_queue WHERE order_id = $1 ORDER BY size",
        &[order.into()],
    )
    .await
}

/// Prints waiting on a printer (receptions received or printing).
pub async fn printer_backlog(tx: &mut Transaction, printer: &str) -> Result<i64, sqlx::Error> {
    scalar_i64(
        tx,
        "SELECT CAST(SUM(q.prints) AS BIGINT) FROM lab_queue q JOIN lab_receptions r ON r.order_id = q.order_id WHERE q.printer = $1 AND r.state IN ('received', 'printing')",
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
    fetch(
        tx,
        "SELECT image, reception_number, phash, received_on FROM lab_image_hashes WHERE registration_number = $1",
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
    Ok(exec(
        tx,
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
    fetch(
        tx,
        "SELECT counter, kind, currency, CAST(SUM(amount_minor) AS BIGINT) AS amount FROM lab_ledger GROUP BY counter, kind, currency ORDER BY counter, kind",
        &[],
    )
    .await
}
