//! [`Store`]: opens a backend from a URL, appends and reads; [`Transaction`]: the unit of work
//! of a command or a consumer batch.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgConnection, PgPool, SqliteConnection, SqlitePool};

use crate::combine::Combiner;
use crate::error::{Error, Result};
use crate::pg::{Deferred, Outcome};
use crate::types::{
    AppendResult, Checkpoint, ExpectedVersion, NewEvent, OutboxMessage, ParkedMessage,
    ParkedRecord, PendingMessage, RecordedEvent, Snapshot,
};
use crate::{pg, sqlite};

/// A connection inside the current transaction, handed to inline projections and to code
/// that writes its own tables in a unit of work.
pub enum Conn<'a> {
    /// A Postgres connection.
    Postgres(&'a mut PgConnection),
    /// A SQLite connection.
    Sqlite(&'a mut SqliteConnection),
}

/// An inline projection: runs inside the append's transaction with the events just stored,
/// so that a read model a request needs right after a command is never behind. It writes its
/// own tables through the [`Conn`]; an error rolls the whole append back.
pub trait Projection: Send + Sync + 'static {
    /// A stable name, for errors and logs.
    fn name(&self) -> &'static str;

    /// Applies the events (all of one append, in version order) to the read model.
    fn apply<'a>(
        &'a self,
        conn: Conn<'a>,
        events: &'a [RecordedEvent],
    ) -> BoxFuture<'a, Result<()>>;
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Postgres pool size, or SQLite reader pool size (SQLite always has one writer).
    pub max_connections: u32,
    /// How long to wait for a pooled connection.
    pub acquire_timeout: Duration,
    /// How long SQLite waits on a database locked by another process.
    pub sqlite_busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(30),
            sqlite_busy_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Clone)]
enum Pools {
    Postgres(PgPool),
    Sqlite {
        writer: SqlitePool,
        reader: SqlitePool,
    },
}

/// Told of every committed append: the [`stream_kind`] of the (first) stream appended to and
/// how long it took. A service feeds its latency histogram with it (see
/// [`Store::with_observer`]); it runs on the appending task, so it must be quick.
pub type AppendObserver = Arc<dyn Fn(&str, Duration) + Send + Sync>;

/// The kind of a stream, for metrics: its leading `-`-separated words of lowercase ASCII
/// letters (or `_`), at most two: `user-file-B0000456` is `user-file`, `gw-order-<uuid>` is
/// `gw-order`, `sequence-reception` is `sequence-reception`. A stream id that starts with
/// anything else is `other`. Name streams `<kind>-<id>` with an id that is not all lowercase
/// letters (or a kind of two words) to keep the label's values few.
pub fn stream_kind(stream_id: &str) -> &str {
    let mut end = 0;
    for (i, word) in stream_id.split('-').take(2).enumerate() {
        if word.is_empty() || !word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            break;
        }
        end = if i == 0 {
            word.len()
        } else {
            end + 1 + word.len()
        };
    }
    if end == 0 { "other" } else { &stream_id[..end] }
}

/// A [`stream_kind`] kept inline in a transaction (no allocation per append).
#[derive(Clone, Copy)]
struct KindBuf {
    len: u8,
    bytes: [u8; 32],
}

impl KindBuf {
    fn of(stream_id: &str) -> KindBuf {
        // `stream_kind` is ASCII, so any prefix of it is a whole string.
        let kind = stream_kind(stream_id).as_bytes();
        let len = kind.len().min(32);
        let mut bytes = [0u8; 32];
        bytes[..len].copy_from_slice(&kind[..len]);
        KindBuf {
            len: len as u8,
            bytes,
        }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("other")
    }
}

/// The event store: cheap to clone, shared by a whole service.
#[derive(Clone)]
pub struct Store {
    pools: Pools,
    /// Postgres: appends of their own, combined (see `combine`).
    combiner: Option<Combiner>,
    projections: Arc<[Arc<dyn Projection>]>,
    observer: Option<AppendObserver>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .field("projections", &self.projections.len())
            .finish()
    }
}

const PG_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/pg/0001_events.sql")),
    (2, include_str!("../migrations/pg/0002_outbox_pending.sql")),
];
const SQLITE_MIGRATIONS: &[(i64, &str)] =
    &[(1, include_str!("../migrations/sqlite/0001_events.sql"))];

/// Advisory lock key taken while migrating a Postgres database ("reprint" in ASCII).
const PG_MIGRATION_LOCK: i64 = 0x0072_6570_7269_6e74;

impl Store {
    /// Opens (and migrates) the store at `url`: `postgres://...` or `sqlite:...` (the file is
    /// created if missing; WAL mode, `synchronous = NORMAL`, a busy timeout).
    pub async fn open(url: &str) -> Result<Store> {
        Self::open_with(url, StoreOptions::default()).await
    }

    /// As [`Store::open`], with options.
    pub async fn open_with(url: &str, options: StoreOptions) -> Result<Store> {
        let pools = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect(url)
                .await?;
            migrate_pg(&pool).await?;
            Pools::Postgres(pool)
        } else if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(options.sqlite_busy_timeout)
                .foreign_keys(true);
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect.clone())
                .await?;
            migrate_sqlite(&writer).await?;
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            let reader = if in_memory {
                writer.clone()
            } else {
                SqlitePoolOptions::new()
                    .max_connections(options.max_connections.max(1))
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(connect)
                    .await?
            };
            Pools::Sqlite { writer, reader }
        } else {
            return Err(Error::UnsupportedUrl(url.to_string()));
        };
        let combiner = match &pools {
            Pools::Postgres(p) => Some(Combiner::new(p.clone())),
            Pools::Sqlite { .. } => None,
        };
        Ok(Store {
            pools,
            combiner,
            projections: Arc::from(Vec::new()),
            observer: None,
        })
    }

    /// The same store with one more inline projection, run in every append's transaction.
    pub fn with_projection<P: Projection>(self, projection: P) -> Store {
        let mut all: Vec<Arc<dyn Projection>> = self.projections.iter().cloned().collect();
        all.push(Arc::new(projection));
        Store {
            pools: self.pools,
            combiner: self.combiner,
            projections: Arc::from(all),
            observer: self.observer,
        }
    }

    /// The same store telling `observer` how long each committed append took: a
    /// [`Store::append`] from its start to its commit, and a [`Transaction`] that appended from
    /// its first append (or [`Transaction::append_deferred`]) to the end of its commit, under
    /// the [`stream_kind`] of that first stream. A unit of work that appends nothing and one
    /// that rolls back are not observed. Without an observer no clock is read.
    pub fn with_observer(self, observer: AppendObserver) -> Store {
        Store {
            observer: Some(observer),
            ..self
        }
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Postgres(_) => Backend::Postgres,
            Pools::Sqlite { .. } => Backend::Sqlite,
        }
    }

    /// The Postgres pool, for a service's own queries.
    pub fn postgres_pool(&self) -> Option<&PgPool> {
        match &self.pools {
            Pools::Postgres(p) => Some(p),
            Pools::Sqlite { .. } => None,
        }
    }

    /// The SQLite pool of readers, for a service's own queries (writes go through
    /// [`Store::begin`]).
    pub fn sqlite_reader_pool(&self) -> Option<&SqlitePool> {
        match &self.pools {
            Pools::Postgres(_) => None,
            Pools::Sqlite { reader, .. } => Some(reader),
        }
    }

    /// Closes every pooled connection.
    pub async fn close(&self) {
        match &self.pools {
            Pools::Postgres(p) => p.close().await,
            Pools::Sqlite { writer, reader } => {
                reader.close().await;
                writer.close().await;
            }
        }
    }

    /// Starts a unit of work: appends, outbox rows, inbox ids, parked messages and the
    /// service's own writes, committed together. On SQLite this takes the single write lock
    /// (`BEGIN IMMEDIATE`) until commit or drop; dropping without commit rolls back.
    pub async fn begin(&self) -> Result<Transaction> {
        let inner = match &self.pools {
            Pools::Postgres(p) => TxInner::Postgres(p.begin().await?),
            Pools::Sqlite { writer, .. } => {
                TxInner::Sqlite(writer.begin_with("BEGIN IMMEDIATE").await?)
            }
        };
        Ok(Transaction {
            inner,
            projections: self.projections.clone(),
            deferred: Vec::new(),
            observer: self.observer.clone(),
            timing: None,
            after_commit: Vec::new(),
        })
    }

    /// Appends `events` to `stream_id` in a transaction of its own, after checking
    /// `expected`. Event ids already stored are skipped; when all are, nothing happens and the
    /// result [`AppendResult::is_noop`] (also when `expected` no longer holds: a retried
    /// append of the same events succeeds). Inline projections run in the same transaction.
    pub async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<AppendResult> {
        if let Some(combiner) = &self.combiner
            && self.projections.is_empty()
        {
            // One statement, its own transaction: one round trip, shared with the appends
            // that arrive meanwhile (see `combine`).
            let started = self.observer.as_ref().map(|_| Instant::now());
            let out = combiner.append(stream_id, expected, events).await?;
            self.observe(stream_id, started);
            return Ok(result_of(&out));
        }
        if let (Pools::Sqlite { writer, .. }, true, [event], Some(v)) = (
            &self.pools,
            self.projections.is_empty(),
            events,
            expected.exact(),
        ) {
            // The plain case in one statement, its own (implicit) transaction: the writer
            // connection is the only one, and the statement checks the version itself. Any
            // other outcome (version off, event id stored, busy) goes the long way below.
            let started = self.observer.as_ref().map(|_| Instant::now());
            let now = chrono::Utc::now();
            let stored = match writer.acquire().await {
                Ok(mut conn) => sqlite::append_one_exact(&mut conn, stream_id, v, event, now)
                    .await
                    .ok()
                    .flatten(),
                Err(_) => None,
            };
            if let Some(position) = stored {
                self.observe(stream_id, started);
                return Ok(AppendResult {
                    stream_version: v + 1,
                    positions: vec![position],
                });
            }
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut tx = self.begin().await?;
            match tx.append(stream_id, expected, events).await {
                Ok(r) => {
                    tx.commit().await?;
                    return Ok(r);
                }
                Err(e) if attempt < 8 && retry_alone(&e, expected) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn observe(&self, stream_id: &str, started: Option<Instant>) {
        if let (Some(observer), Some(started)) = (&self.observer, started) {
            observer(stream_kind(stream_id), started.elapsed());
        }
    }

    /// Events of `stream_id` from version `from_version` on (1 is the first), at most `limit`.
    pub async fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        match &self.pools {
            Pools::Postgres(p) => {
                pg::read_stream(&mut *p.acquire().await?, stream_id, from_version, limit).await
            }
            Pools::Sqlite { reader, .. } => {
                sqlite::read_stream(
                    &mut *reader.acquire().await?,
                    stream_id,
                    from_version,
                    limit,
                )
                .await
            }
        }
    }

    /// At most `limit` events after `after` in the global order, for catch-up readers. On
    /// Postgres only events of transactions older than every transaction still in flight are
    /// returned, so a reader that goes on from the last event's [`RecordedEvent::checkpoint`]
    /// never skips an event that commits later (a long transaction delays readers, it never
    /// hides rows from them).
    pub async fn read_all(&self, after: Checkpoint, limit: usize) -> Result<Vec<RecordedEvent>> {
        match &self.pools {
            Pools::Postgres(p) => pg::read_all(&mut *p.acquire().await?, after, limit).await,
            Pools::Sqlite { reader, .. } => {
                sqlite::read_all(&mut *reader.acquire().await?, after, limit).await
            }
        }
    }

    /// The version of the stream's last event, 0 when it has none.
    pub async fn stream_version(&self, stream_id: &str) -> Result<u64> {
        match &self.pools {
            Pools::Postgres(p) => pg::stream_version(&mut *p.acquire().await?, stream_id).await,
            Pools::Sqlite { reader, .. } => {
                sqlite::stream_version(&mut *reader.acquire().await?, stream_id).await
            }
        }
    }

    /// The latest snapshot of `stream_id`, if any.
    pub async fn load_snapshot(&self, stream_id: &str) -> Result<Option<Snapshot>> {
        match &self.pools {
            Pools::Postgres(p) => pg::load_snapshot(&mut *p.acquire().await?, stream_id).await,
            Pools::Sqlite { reader, .. } => {
                sqlite::load_snapshot(&mut *reader.acquire().await?, stream_id).await
            }
        }
    }

    /// Stores a snapshot of `stream_id`, replacing an older one (never a newer one).
    pub async fn save_snapshot(&self, stream_id: &str, snapshot: &Snapshot) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.save_snapshot(stream_id, snapshot).await?;
        tx.commit().await
    }

    /// Up to `limit` outbox rows not yet marked sent with an id above `after_id` (0 for
    /// all), oldest first. A relay goes on from the last id it handled so that it does not
    /// scan rows it just marked, and starts again from 0 when it runs dry: on Postgres a
    /// transaction that commits late may have taken a lower id.
    pub async fn pending_outbox(&self, after_id: i64, limit: usize) -> Result<Vec<PendingMessage>> {
        match &self.pools {
            Pools::Postgres(p) => pg::pending(&mut *p.acquire().await?, after_id, limit).await,
            Pools::Sqlite { reader, .. } => {
                sqlite::pending(&mut *reader.acquire().await?, after_id, limit).await
            }
        }
    }

    /// Marks outbox rows sent (by [`PendingMessage::id`]).
    pub async fn mark_sent(&self, ids: &[i64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        match &self.pools {
            Pools::Postgres(p) => {
                // One statement, its own transaction, one round trip (see `pg::mark_sent`).
                pg::mark_sent(&mut *p.acquire().await?, ids).await
            }
            Pools::Sqlite { .. } => {
                let mut tx = self.begin().await?;
                if let TxInner::Sqlite(t) = &mut tx.inner {
                    sqlite::mark_sent(t, ids).await?;
                }
                tx.commit().await
            }
        }
    }

    /// How many outbox rows are not yet marked sent.
    pub async fn unsent_count(&self) -> Result<u64> {
        match &self.pools {
            Pools::Postgres(p) => pg::unsent_count(&mut *p.acquire().await?).await,
            Pools::Sqlite { reader, .. } => {
                sqlite::unsent_count(&mut *reader.acquire().await?).await
            }
        }
    }

    /// Deletes what the store no longer needs as of `now`: outbox rows published longer than
    /// `retention.sent_outbox` ago and inbox records older than `retention.inbox`. Unsent
    /// outbox rows, events, snapshots and parked messages are never touched. Deletes in
    /// batches of at most 5,000 rows so that a first prune of a large table never holds its
    /// locks for long.
    pub async fn prune(
        &self,
        retention: Retention,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Pruned> {
        let outbox_before = cutoff(now, retention.sent_outbox);
        let inbox_before = cutoff(now, retention.inbox);
        let mut pruned = Pruned::default();
        loop {
            let (outbox, inbox) = match &self.pools {
                Pools::Postgres(p) => {
                    let mut c = p.acquire().await?;
                    let outbox = match outbox_before {
                        Some(t) => pg::prune_sent_outbox(&mut c, t, PRUNE_BATCH).await?,
                        None => 0,
                    };
                    let inbox = match inbox_before {
                        Some(t) => pg::prune_inbox(&mut c, t, PRUNE_BATCH).await?,
                        None => 0,
                    };
                    (outbox, inbox)
                }
                Pools::Sqlite { .. } => {
                    let mut tx = self.begin().await?;
                    let mut n = (0, 0);
                    if let TxInner::Sqlite(t) = &mut tx.inner {
                        if let Some(before) = outbox_before {
                            n.0 = sqlite::prune_sent_outbox(t, before, PRUNE_BATCH).await?;
                        }
                        if let Some(before) = inbox_before {
                            n.1 = sqlite::prune_inbox(t, before, PRUNE_BATCH).await?;
                        }
                    }
                    tx.commit().await?;
                    n
                }
            };
            pruned.sent_outbox += outbox;
            pruned.inbox += inbox;
            if outbox < PRUNE_BATCH && inbox < PRUNE_BATCH {
                return Ok(pruned);
            }
        }
    }

    /// Whether `consumer` has recorded `message_id` as processed.
    pub async fn inbox_contains(&self, consumer: &str, message_id: &str) -> Result<bool> {
        match &self.pools {
            Pools::Postgres(p) => {
                pg::inbox_contains(&mut *p.acquire().await?, consumer, message_id).await
            }
            Pools::Sqlite { reader, .. } => {
                sqlite::inbox_contains(&mut *reader.acquire().await?, consumer, message_id).await
            }
        }
    }

    /// Records a parked message in a transaction of its own.
    pub async fn park(&self, message: &ParkedMessage) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.park(message).await?;
        tx.commit().await
    }

    /// The messages `consumer` parked, oldest first.
    pub async fn parked(&self, consumer: &str) -> Result<Vec<ParkedRecord>> {
        match &self.pools {
            Pools::Postgres(p) => pg::parked(&mut *p.acquire().await?, consumer).await,
            Pools::Sqlite { reader, .. } => {
                sqlite::parked(&mut *reader.acquire().await?, consumer).await
            }
        }
    }
}

/// Whether [`Store::append`] may run its own transaction again after `e`.
fn retry_alone(e: &Error, expected: ExpectedVersion) -> bool {
    match e {
        Error::ConcurrentDuplicate { .. } => true,
        Error::Conflict(c) => expected == ExpectedVersion::Any && c.actual.is_none(),
        _ => false,
    }
}

fn result_of(out: &Outcome) -> AppendResult {
    AppendResult {
        stream_version: out.stream_version,
        positions: out.inserted.iter().map(|i| i.position).collect(),
    }
}

fn records(stream_id: &str, events: &[NewEvent], out: &Outcome) -> Vec<RecordedEvent> {
    out.inserted
        .iter()
        .map(|i| {
            let e = &events[i.index];
            RecordedEvent {
                position: i.position,
                tx_id: i.tx_id,
                stream_id: stream_id.to_string(),
                version: i.version,
                event_id: e.event_id,
                event_type: e.event_type.clone(),
                schema_version: e.schema_version,
                payload: e.payload.clone(),
                metadata: e.metadata.clone(),
                recorded_at: i.recorded_at,
            }
        })
        .collect()
}

enum TxInner {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

const PRUNE_BATCH: u64 = 5_000;

/// `now - keep`, or `None` when that is before 1970: no row is that old, and Postgres refuses
/// dates far enough back.
fn cutoff(
    now: chrono::DateTime<chrono::Utc>,
    keep: Duration,
) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::TimeDelta::from_std(keep)
        .ok()
        .and_then(|keep| now.checked_sub_signed(keep))
        .filter(|t| *t > chrono::DateTime::UNIX_EPOCH)
}

/// How long the store keeps what it needs only for a while ([`Store::prune`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Outbox rows already published: JetStream drops a re-publish within its 2-minute
    /// duplicate window, so they are kept only for whoever looks into what was sent.
    pub sent_outbox: Duration,
    /// Inbox records (the message ids a consumer has handled): they make a redelivery take
    /// effect once, so they must outlast every chance of one, that is the time an inbox
    /// stream keeps a message (30 days).
    pub inbox: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        const DAY: u64 = 24 * 60 * 60;
        Retention {
            sent_outbox: Duration::from_secs(7 * DAY),
            inbox: Duration::from_secs(45 * DAY),
        }
    }
}

/// What one [`Store::prune`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Published outbox rows.
    pub sent_outbox: u64,
    /// Inbox records.
    pub inbox: u64,
}

/// A unit of work on the store: everything done through it commits together or not at all.
/// A consumer records its inbox ids, appends to one or more streams, writes outbox rows and
/// its own tables, then commits. Dropping it without [`Transaction::commit`] rolls back.
///
/// After an error from [`Transaction::append`] on Postgres the transaction may be aborted by
/// the database; drop it and run the unit of work again when [`Error::is_retryable`].
pub struct Transaction {
    inner: TxInner,
    projections: Arc<[Arc<dyn Projection>]>,
    /// Appends of [`Transaction::append_deferred`] not yet written.
    deferred: Vec<Deferred>,
    /// See [`Store::with_observer`].
    observer: Option<AppendObserver>,
    /// When the first append of this transaction started, and its stream's kind (only with an
    /// observer).
    timing: Option<(Instant, KindBuf)>,
    /// Run once the commit succeeded (see [`Transaction::after_commit`]).
    after_commit: Vec<Box<dyn FnOnce() + Send>>,
}

impl Transaction {
    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match self.inner {
            TxInner::Postgres(_) => Backend::Postgres,
            TxInner::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// The connection of this transaction, for the service's own tables.
    pub fn conn(&mut self) -> Conn<'_> {
        match &mut self.inner {
            TxInner::Postgres(t) => Conn::Postgres(t),
            TxInner::Sqlite(t) => Conn::Sqlite(t),
        }
    }

    /// Starts the append clock at the first append, when the store has an observer.
    fn start_timing(&mut self, stream_id: &str) {
        if self.observer.is_some() && self.timing.is_none() {
            self.timing = Some((Instant::now(), KindBuf::of(stream_id)));
        }
    }

    /// Runs `f` once this transaction has committed; never when it rolls back, fails to
    /// commit or is dropped. For effects outside the database that must follow only a real
    /// change: a metric counted once per committed transition, not once per attempt of a
    /// batch that was rolled back and handled again.
    pub fn after_commit(&mut self, f: impl FnOnce() + Send + 'static) {
        self.after_commit.push(Box::new(f));
    }

    /// Appends in this transaction (rules as [`Store::append`]) and runs the inline
    /// projections with the stored events.
    pub async fn append(
        &mut self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<AppendResult> {
        self.start_timing(stream_id);
        self.flush().await?;
        let out = match &mut self.inner {
            TxInner::Postgres(t) => pg::append(t, stream_id, expected, events, true).await?,
            TxInner::Sqlite(t) => sqlite::append(t, stream_id, expected, events).await?,
        };
        self.project(stream_id, events, &out).await?;
        Ok(result_of(&out))
    }

    /// Runs the inline projections with what an append stored.
    async fn project(&mut self, stream_id: &str, events: &[NewEvent], out: &Outcome) -> Result<()> {
        if !self.projections.is_empty() && !out.inserted.is_empty() {
            let recorded = records(stream_id, events, out);
            let projections = self.projections.clone();
            for p in projections.iter() {
                p.apply(self.conn(), &recorded).await?;
            }
        }
        Ok(())
    }

    /// Queues an append (rules as [`Transaction::append`]) to be written with the other
    /// queued ones in one statement: at [`Transaction::flush`], at the next
    /// [`Transaction::append`], read or version query of this transaction, or at
    /// [`Transaction::commit`]. A consumer handling a batch of messages queues one append per
    /// message this way and pays one round trip for all of them instead of one each.
    ///
    /// Errors (a version conflict, a concurrent duplicate) come out of whichever of those
    /// writes the queue, and concern the queue as a whole. SQL run through
    /// [`Transaction::conn`] does not see queued events until they are flushed.
    pub fn append_deferred(
        &mut self,
        stream_id: impl Into<String>,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) {
        let stream_id = stream_id.into();
        self.start_timing(&stream_id);
        self.deferred.push(Deferred {
            stream_id,
            expected,
            events,
        });
    }

    /// Writes the appends queued by [`Transaction::append_deferred`] now (Postgres: one
    /// statement for all when their event ids are new and their versions hold), runs the inline
    /// projections, and returns the result of each in queue order.
    pub async fn flush(&mut self) -> Result<Vec<AppendResult>> {
        if self.deferred.is_empty() {
            return Ok(Vec::new());
        }
        let deferred = std::mem::take(&mut self.deferred);
        let outcomes = match &mut self.inner {
            TxInner::Postgres(t) => pg::append_many(t, &deferred).await?,
            TxInner::Sqlite(t) => sqlite::append_many(t, &deferred).await?,
        };
        let mut results = Vec::with_capacity(outcomes.len());
        for (d, out) in deferred.iter().zip(&outcomes) {
            self.project(&d.stream_id, &d.events, out).await?;
            results.push(result_of(out));
        }
        Ok(results)
    }

    /// [`Transaction::flush`] for a commit, which needs no results: with no inline projection
    /// (nothing needs the stored versions either), SQLite writes the plain case in one
    /// statement with no row back.
    async fn flush_unreported(&mut self) -> Result<()> {
        if self.projections.is_empty()
            && !self.deferred.is_empty()
            && let TxInner::Sqlite(t) = &mut self.inner
        {
            let deferred = std::mem::take(&mut self.deferred);
            return sqlite::append_many_unreported(t, &deferred).await;
        }
        self.flush().await.map(|_| ())
    }

    /// Reads a stream in this transaction (sees this transaction's own appends).
    pub async fn read_stream(
        &mut self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.flush().await?;
        match &mut self.inner {
            TxInner::Postgres(t) => pg::read_stream(t, stream_id, from_version, limit).await,
            TxInner::Sqlite(t) => sqlite::read_stream(t, stream_id, from_version, limit).await,
        }
    }

    /// The stream's version as this transaction sees it.
    pub async fn stream_version(&mut self, stream_id: &str) -> Result<u64> {
        self.flush().await?;
        match &mut self.inner {
            TxInner::Postgres(t) => pg::stream_version(t, stream_id).await,
            TxInner::Sqlite(t) => sqlite::stream_version(t, stream_id).await,
        }
    }

    /// Writes outbox rows, published by the relay after commit. A message id already in the
    /// outbox is skipped.
    pub async fn enqueue(&mut self, messages: &[OutboxMessage]) -> Result<()> {
        match &mut self.inner {
            TxInner::Postgres(t) => pg::enqueue(t, messages).await,
            TxInner::Sqlite(t) => sqlite::enqueue(t, messages).await,
        }
    }

    /// Records `message_ids` as processed by `consumer`; for each id, `true` when it is new
    /// (handle it) and `false` when it was processed before (or appears earlier in the same
    /// slice): skip it. On Postgres a concurrent transaction recording the same id makes this
    /// wait for it, then see the id as processed.
    pub async fn inbox_record(
        &mut self,
        consumer: &str,
        message_ids: &[&str],
    ) -> Result<Vec<bool>> {
        match &mut self.inner {
            TxInner::Postgres(t) => pg::inbox_record(t, consumer, message_ids).await,
            TxInner::Sqlite(t) => sqlite::inbox_record(t, consumer, message_ids).await,
        }
    }

    /// Records a message the consumer gives up on.
    pub async fn park(&mut self, message: &ParkedMessage) -> Result<()> {
        match &mut self.inner {
            TxInner::Postgres(t) => pg::park(t, message).await,
            TxInner::Sqlite(t) => sqlite::park(t, message).await,
        }
    }

    /// Stores a snapshot of `stream_id`, replacing an older one (never a newer one).
    pub async fn save_snapshot(&mut self, stream_id: &str, snapshot: &Snapshot) -> Result<()> {
        match &mut self.inner {
            TxInner::Postgres(t) => pg::save_snapshot(t, stream_id, snapshot).await,
            TxInner::Sqlite(t) => sqlite::save_snapshot(t, stream_id, snapshot).await,
        }
    }

    /// The latest snapshot of `stream_id` as this transaction sees it.
    pub async fn load_snapshot(&mut self, stream_id: &str) -> Result<Option<Snapshot>> {
        self.flush().await?;
        match &mut self.inner {
            TxInner::Postgres(t) => pg::load_snapshot(t, stream_id).await,
            TxInner::Sqlite(t) => sqlite::load_snapshot(t, stream_id).await,
        }
    }

    /// Writes the queued appends ([`Transaction::append_deferred`]), then commits everything.
    /// Runs the hooks of [`Transaction::after_commit`] once it has, and tells the store's
    /// observer how long the appends took.
    pub async fn commit(mut self) -> Result<()> {
        self.flush_unreported().await?;
        match self.inner {
            TxInner::Postgres(t) => t.commit().await?,
            TxInner::Sqlite(t) => t.commit().await?,
        }
        if let (Some(observer), Some((started, kind))) = (&self.observer, &self.timing) {
            observer(kind.as_str(), started.elapsed());
        }
        for f in self.after_commit {
            f();
        }
        Ok(())
    }

    /// Rolls everything back (dropping the transaction does the same).
    pub async fn rollback(self) -> Result<()> {
        match self.inner {
            TxInner::Postgres(t) => t.rollback().await?,
            TxInner::Sqlite(t) => t.rollback().await?,
        }
        Ok(())
    }
}

/// Reading events: a stream, or everything after a checkpoint.
pub trait EventReader: Send + Sync {
    /// Events of a stream from `from_version` on, at most `limit`.
    fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>>> + Send;

    /// At most `limit` events after `after`, in an order that never skips a late commit.
    fn read_all(
        &self,
        after: Checkpoint,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>>> + Send;

    /// The version of a stream's last event, 0 when it has none.
    fn stream_version(&self, stream_id: &str) -> impl Future<Output = Result<u64>> + Send;
}

/// Appending events with optimistic concurrency; conflicts are [`Error::Conflict`].
pub trait EventAppender: Send + Sync {
    /// Appends after checking the expected version; stored event ids are skipped.
    fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> impl Future<Output = Result<AppendResult>> + Send;
}

impl EventReader for Store {
    fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>>> + Send {
        Store::read_stream(self, stream_id, from_version, limit)
    }

    fn read_all(
        &self,
        after: Checkpoint,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>>> + Send {
        Store::read_all(self, after, limit)
    }

    fn stream_version(&self, stream_id: &str) -> impl Future<Output = Result<u64>> + Send {
        Store::stream_version(self, stream_id)
    }
}

impl EventAppender for Store {
    fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> impl Future<Output = Result<AppendResult>> + Send {
        Store::append(self, stream_id, expected, events)
    }
}

async fn migrate_pg(pool: &PgPool) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PG_MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS reprint_eventstore_migrations (\
         version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&mut *tx)
    .await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM reprint_eventstore_migrations")
        .fetch_all(&mut *tx)
        .await?;
    for (version, sql) in PG_MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO reprint_eventstore_migrations (version) VALUES ($1)")
            .bind(version)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn migrate_sqlite(writer: &SqlitePool) -> Result<()> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS reprint_eventstore_migrations (\
         version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)",
    )
    .execute(&mut *tx)
    .await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM reprint_eventstore_migrations")
        .fetch_all(&mut *tx)
        .await?;
    for (version, sql) in SQLITE_MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO reprint_eventstore_migrations (version) VALUES (?)")
            .bind(version)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{KindBuf, stream_kind};

    #[test]
    fn a_stream_kind_is_its_leading_lowercase_words() {
        assert_eq!(stream_kind("user-file-B0000456"), "user-file");
        assert_eq!(stream_kind("sequence-reception"), "sequence-reception");
        assert_eq!(
            stream_kind("gw-order-0190f3a2-7b1c-7d3e-8f00-000000000001"),
            "gw-order"
        );
        assert_eq!(stream_kind("gw-image-acct-abc"), "gw-image");
        assert_eq!(stream_kind("file-B0000456"), "file");
        assert_eq!(stream_kind("orders"), "orders");
        assert_eq!(stream_kind("B0000456"), "other");
        assert_eq!(stream_kind(""), "other");
        assert_eq!(stream_kind("-x"), "other");
        assert_eq!(KindBuf::of("user-file-B1").as_str(), "user-file");
        let long = format!("{}-x1", "a".repeat(40));
        assert_eq!(KindBuf::of(&long).as_str(), "a".repeat(32));
    }
}
