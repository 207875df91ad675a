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
    // The drafts holding a reservation (the gateway's capacity: api/storage.rs sums only those).
    "CREATE INDEX IF NOT EXISTS gw_orders_stage_expires ON gw_orders (stage, expires_ms)",
    // The bytes of every stored image (`gw_images`), kept by the projection in
    // `STORED_BYTES_SHARDS` rows (an account's images count in one of them, so uploads of
    // different accounts do not queue for one row) and read as their sum: the capacity check
    // reads 16 rows instead of every image. Filled once from `gw_images` when it is created
    // (the whole sum in shard 0; the others start at 0); a start-up with the table filled
    // sums nothing (the `WHERE` is false before any image is read; it also keeps SQLite from
    // reading the `ON` of the upsert as a join's).
    "CREATE TABLE IF NOT EXISTS gw_stored_bytes (shard BIGINT PRIMARY KEY, bytes BIGINT NOT NULL)",
    "INSERT INTO gw_stored_bytes (shard, bytes) SELECT 0, CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM gw_images
        WHERE NOT EXISTS (SELECT 1 FROM gw_stored_bytes) ON CONFLICT (shard) DO NOTHING",
    "INSERT INTO gw_stored_bytes (shard, bytes) VALUES (1, 0), (2, 0), (3, 0), (4, 0), (5, 0),
        (6, 0), (7, 0), (8, 0), (9, 0), (10, 0), (11, 0), (12, 0), (13, 0), (14, 0), (15, 0)
        ON CONFLICT (shard) DO NOTHING",
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

/// The rows of `gw_stored_bytes` (see `SCHEMA`).
pub const STORED_BYTES_SHARDS: u64 = 16;

/// The row of `gw_stored_bytes` that counts `account`'s images (a stable hash: FNV-1a).
pub fn stored_bytes_shard(account: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in account.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // Below 16: fits.
    (h % STORED_BYTES_SHARDS) as i64
}

/// Creates the read model tables (idempotent).
pub async fn migrate(store: &Store) -> AppResult<()> {
    Ok(sql::migrate(store, SCHEMA).await?)
}
