//! The gateway's own tables (the read models of its inline projection) on Postgres or SQLite.
//! Statements and rows go through [`reprint_eventstore::sql`]; reads outside a transaction
//! use the store's read pool ([`fetch`], [`fetch_one`]).

use reprint_eventstore::sql::{self, Arg};
use reprint_eventstore::{Conn, Store};
use sqlx::FromRow;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use crate::error::{AppError, AppResult};

/// Rows as `T` from the store's read pool.
pub async fn fetch<T>(store: &Store, query: &str, args: &[Arg]) -> AppResult<Vec<T>>
where
    T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin,
{
    if let Some(pool) = store.postgres_pool() {
        let mut c = pool.acquire().await?;
        return Ok(sql::fetch(Conn::Postgres(&mut c), query, args).await?);
    }
    if let Some(pool) = store.sqlite_reader_pool() {
        let mut c = pool.acquire().await?;
        return Ok(sql::fetch(Conn::Sqlite(&mut c), query, args).await?);
    }
    Err(AppError::internal("store has no pool"))
}

/// The first row as `T`, if any, from the store's read pool.
pub async fn fetch_one<T>(store: &Store, query: &str, args: &[Arg]) -> AppResult<Option<T>>
where
    T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin,
{
    Ok(fetch(store, query, args).await?.into_iter().next())
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
    // The draft each `Idempotency-Key` of POST /api/v1/orders made (api/create.rs).
    "CREATE TABLE IF NOT EXISTS gw_create_keys (
        account TEXT NOT NULL, idem_key TEXT NOT NULL, order_id TEXT NOT NULL,
        created_ms BIGINT NOT NULL, PRIMARY KEY (account, idem_key))",
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
    // Every status of every order on the stream, first time heard per stage and site (ops).
    "CREATE TABLE IF NOT EXISTS gw_network_statuses (
        order_id TEXT NOT NULL, stage TEXT NOT NULL, site TEXT NOT NULL, site_kind TEXT NOT NULL,
        detail TEXT NOT NULL, at_ms BIGINT NOT NULL, PRIMARY KEY (order_id, stage, site))",
    // The ops dashboard's time windows (web/ops/queries.rs): statuses by time, open orders.
    "CREATE INDEX IF NOT EXISTS gw_network_statuses_at ON gw_network_statuses (at_ms)",
    "CREATE INDEX IF NOT EXISTS gw_network_orders_stage ON gw_network_orders (stage, at_ms)",
    // The trace id of each of those statuses, when its message had a `traceparent`.
    "CREATE TABLE IF NOT EXISTS gw_network_status_traces (
        order_id TEXT NOT NULL, stage TEXT NOT NULL, site TEXT NOT NULL, trace_id TEXT NOT NULL,
        PRIMARY KEY (order_id, stage, site))",
    // The account's own settings (crate::auth, stream gw-settings-<account>): its language
    // (NULL: as the browser says) and its password once changed.
    "CREATE TABLE IF NOT EXISTS gw_account_settings (
        account TEXT PRIMARY KEY, lang TEXT, password_hash TEXT, updated_ms BIGINT NOT NULL)",
    // The e-mail notices owed or sent, one per order and kind (crate::notices).
    "CREATE TABLE IF NOT EXISTS gw_notices (
        order_id TEXT NOT NULL, kind TEXT NOT NULL, account TEXT NOT NULL,
        state TEXT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0, next_ms BIGINT NOT NULL,
        created_ms BIGINT NOT NULL, sent_ms BIGINT, error TEXT, PRIMARY KEY (order_id, kind))",
];

/// Creates the read model tables (idempotent).
pub async fn migrate(store: &Store) -> AppResult<()> {
    Ok(sql::migrate(store, SCHEMA).await?)
}
