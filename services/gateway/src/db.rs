//! The gateway's own tables (the read models of its inline projection) on Postgres or SQLite,
//! through one small helper: SQL written once with `$1` placeholders, values as [`V`], rows as
//! [`Cell`]s.

use reprint_eventstore::{Conn, Store};
use sqlx::Row;

use crate::error::{AppError, AppResult};

/// A bound value.
#[derive(Debug, Clone)]
pub enum V {
    I(i64),
    T(String),
    OT(Option<String>),
    OI(Option<i64>),
}

/// A column of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    I(i64),
    T(String),
}

impl Cell {
    pub fn i(&self) -> i64 {
        match self {
            Cell::I(i) => *i,
            Cell::T(t) => t.parse().unwrap_or(0),
            Cell::Null => 0,
        }
    }
    pub fn t(&self) -> String {
        match self {
            Cell::T(t) => t.clone(),
            Cell::I(i) => i.to_string(),
            Cell::Null => String::new(),
        }
    }
    pub fn ot(&self) -> Option<String> {
        match self {
            Cell::Null => None,
            other => Some(other.t()),
        }
    }
    pub fn oi(&self) -> Option<i64> {
        match self {
            Cell::Null => None,
            other => Some(other.i()),
        }
    }
}

pub type Rows = Vec<Vec<Cell>>;

fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

macro_rules! bind_all {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                V::I(i) => q.bind(*i),
                V::T(s) => q.bind(s.clone()),
                V::OT(s) => q.bind(s.clone()),
                V::OI(i) => q.bind(*i),
            };
        }
        q
    }};
}

fn pg_cells(r: &sqlx::postgres::PgRow) -> Vec<Cell> {
    (0..r.len())
        .map(|i| {
            if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
                v.map_or(Cell::Null, Cell::I)
            } else if let Ok(v) = r.try_get::<Option<i32>, _>(i) {
                v.map_or(Cell::Null, |v| Cell::I(i64::from(v)))
            } else if let Ok(v) = r.try_get::<Option<String>, _>(i) {
                v.map_or(Cell::Null, Cell::T)
            } else {
                Cell::Null
            }
        })
        .collect()
}

fn sqlite_cells(r: &sqlx::sqlite::SqliteRow) -> Vec<Cell> {
    use sqlx::{TypeInfo, ValueRef};
    (0..r.len())
        .map(|i| {
            let Ok(raw) = r.try_get_raw(i) else {
                return Cell::Null;
            };
            if raw.is_null() {
                return Cell::Null;
            }
            let is_int = raw.type_info().name() == "INTEGER";
            if is_int {
                r.try_get::<i64, _>(i).map_or(Cell::Null, Cell::I)
            } else {
                r.try_get::<String, _>(i).map_or(Cell::Null, Cell::T)
            }
        })
        .collect()
}

/// Runs a statement in a transaction's connection.
pub async fn exec(conn: Conn<'_>, sql: &str, args: &[V]) -> Result<u64, sqlx::Error> {
    match conn {
        Conn::Postgres(c) => Ok(bind_all!(sqlx::query(sql), args)
            .execute(&mut *c)
            .await?
            .rows_affected()),
        Conn::Sqlite(c) => {
            let sql = sqlite_sql(sql);
            Ok(bind_all!(sqlx::query(&sql), args)
                .execute(&mut *c)
                .await?
                .rows_affected())
        }
    }
}

/// Runs a query in a transaction's connection.
pub async fn fetch_in(conn: Conn<'_>, sql: &str, args: &[V]) -> Result<Rows, sqlx::Error> {
    match conn {
        Conn::Postgres(c) => {
            let rows = bind_all!(sqlx::query(sql), args).fetch_all(&mut *c).await?;
            Ok(rows.iter().map(pg_cells).collect())
        }
        Conn::Sqlite(c) => {
            let sql = sqlite_sql(sql);
            let rows = bind_all!(sqlx::query(&sql), args)
                .fetch_all(&mut *c)
                .await?;
            Ok(rows.iter().map(sqlite_cells).collect())
        }
    }
}

/// Runs a query on the store's read pool.
pub async fn fetch(store: &Store, sql: &str, args: &[V]) -> AppResult<Rows> {
    if let Some(pool) = store.postgres_pool() {
        let mut c = pool.acquire().await?;
        return Ok(fetch_in(Conn::Postgres(&mut c), sql, args).await?);
    }
    if let Some(pool) = store.sqlite_reader_pool() {
        let mut c = pool.acquire().await?;
        return Ok(fetch_in(Conn::Sqlite(&mut c), sql, args).await?);
    }
    Err(AppError::internal("store has no pool"))
}

/// The first row, if any.
pub async fn fetch_one(store: &Store, sql: &str, args: &[V]) -> AppResult<Option<Vec<Cell>>> {
    Ok(fetch(store, sql, args).await?.into_iter().next())
}

/// The read models. Plain types only (TEXT, BIGINT), so one script serves both databases.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS gw_accounts (
        id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
        telephone TEXT NOT NULL, address TEXT, password_hash TEXT NOT NULL,
        role TEXT NOT NULL, created_ms BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS gw_registrations (
        account TEXT NOT NULL, site TEXT NOT NULL, number TEXT NOT NULL,
        PRIMARY KEY (account, site))",
    "CREATE TABLE IF NOT EXISTS gw_images (
        account TEXT NOT NULL, image TEXT NOT NULL, name TEXT NOT NULL, bytes BIGINT NOT NULL,
        width BIGINT NOT NULL, height BIGINT NOT NULL, format TEXT NOT NULL, phash TEXT,
        created_ms BIGINT NOT NULL, PRIMARY KEY (account, image))",
    "CREATE TABLE IF NOT EXISTS gw_orders (
        id TEXT PRIMARY KEY, account TEXT NOT NULL, created_ms BIGINT NOT NULL,
        reserved BIGINT NOT NULL DEFAULT 0, expires_ms BIGINT NOT NULL DEFAULT 0,
        used BIGINT NOT NULL DEFAULT 0, stage TEXT NOT NULL, lab TEXT, counter TEXT,
        submitted_ms BIGINT, idem_key TEXT, items_json TEXT, slip_json TEXT,
        detail TEXT, charge_json TEXT, reorder_of TEXT, updated_ms BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS gw_orders_account ON gw_orders (account, created_ms)",
    "CREATE UNIQUE INDEX IF NOT EXISTS gw_orders_idem ON gw_orders (account, idem_key)",
    "CREATE TABLE IF NOT EXISTS gw_order_images (
        order_id TEXT NOT NULL, image TEXT NOT NULL, name TEXT NOT NULL, bytes BIGINT NOT NULL,
        PRIMARY KEY (order_id, image))",
    "CREATE TABLE IF NOT EXISTS gw_timeline (
        order_id TEXT NOT NULL, position BIGINT NOT NULL, stage TEXT NOT NULL,
        site TEXT NOT NULL, detail TEXT NOT NULL, at_ms BIGINT NOT NULL,
        PRIMARY KEY (order_id, position))",
    // Every order heard on the status stream, walk-ins included (crate::settlements).
    "CREATE TABLE IF NOT EXISTS gw_network_orders (
        order_id TEXT PRIMARY KEY, lab TEXT, counter TEXT, currency TEXT, lab_charge BIGINT,
        charge_rank BIGINT NOT NULL DEFAULT 0, dispatched BIGINT NOT NULL DEFAULT 0,
        collected BIGINT NOT NULL DEFAULT 0, settled BIGINT NOT NULL DEFAULT 0,
        stage TEXT NOT NULL, at_ms BIGINT NOT NULL)",
];

/// Creates the read model tables (idempotent).
pub async fn migrate(store: &Store) -> AppResult<()> {
    let mut tx = store.begin().await?;
    for stmt in SCHEMA {
        exec(tx.conn(), stmt, &[]).await?;
    }
    tx.commit().await?;
    Ok(())
}
