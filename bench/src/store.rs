//! `reprint-bench store`: the event store, the outbox relay and the inbox consumer, each
//! beside the raw part underneath, measured in the same run on the same servers.
//!
//! | figure | value | baseline |
//! |---|---|---|
//! | `store.append.<b>.w<N>` | appends/s through `Store::append`, one event per transaction, N writers each on its own stream with an exact expected version | raw sqlx `INSERT` of the same row into a table of the same shape and indexes, same pool, same N |
//! | `store.append.pg.w32.postgres_es` | the same appends/s through `Store::append` | cqrs-es with postgres-es (`PersistedEventRepository::persist`, its own table) appending the same events (payload as JSON) to the same PostgreSQL, same pool size, same 32 writers |
//! | `store.relay.<b>` | outbox rows published and marked sent per second by `Relay::drain` (what `Relay::run` does), best of 3 rounds alternating with the raw side | raw async-nats JetStream publish of the same messages (payload, headers, message ids), pipelined in windows of the relay's batch size, best of 3 |
//! | `store.consume.<b>` | messages handled per second by `InboxConsumer` (inbox + one append each, batched) | raw pull consume of the same messages, the batch's rows inserted by plain sqlx in one multi-row `INSERT` and one transaction per batch (no inbox, no version check), then acked; same batch size |
//!
//! The bench starts its own nats-server and makes fresh databases (reprint-testkit).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use async_nats::jetstream::{self, consumer::PullConsumer};
use futures::StreamExt;
use futures::future::BoxFuture;
use reprint_bus::consumer::{ConsumerConfig, Handler, HandlerError, InboxConsumer, Incoming};
use reprint_bus::relay::{Relay, RelayConfig};
use reprint_eventstore::{
    ExpectedVersion, Metadata, NewEvent, OutboxMessage, Store, StoreOptions, Transaction,
};
use reprint_testkit::{NatsServer, TestPostgres, TestSqlite};
use sqlx::Executor;
use uuid::Uuid;

use crate::report::{Figure, Report};

/// Flags of `reprint-bench store`.
#[derive(clap::Args, Debug, Clone)]
pub struct StoreArgs {
    /// Appends measured per writer count (ours and raw each).
    #[arg(long, default_value_t = 4000)]
    pub appends: usize,
    /// Outbox rows relayed (and raw publishes).
    #[arg(long, default_value_t = 20000)]
    pub relay: usize,
    /// Messages consumed (and raw consumes).
    #[arg(long, default_value_t = 20000)]
    pub consume: usize,
    /// Backends to measure: pg, sqlite.
    #[arg(long, value_delimiter = ',', default_value = "pg,sqlite")]
    pub backends: Vec<String>,
    /// Payload size in bytes of every event and message.
    #[arg(long, default_value_t = 200)]
    pub payload: usize,
}

pub fn run(args: StoreArgs, report: &mut Report) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let nats = NatsServer::start();
        let client = async_nats::connect(&nats.url).await?;
        let js = jetstream::new(client);
        for b in &args.backends {
            let backend = match b.as_str() {
                "pg" | "postgres" => Backend::Pg,
                "sqlite" => Backend::Sqlite,
                other => bail!("unknown backend {other:?} (pg, sqlite)"),
            };
            for writers in [1usize, 32] {
                append(backend, writers, &args, report).await?;
            }
            relay(backend, &js, &args, report).await?;
            consume(backend, &js, &args, report).await?;
        }
        Ok(())
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Pg,
    Sqlite,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Pg => "pg",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// A fresh database, kept alive as long as the handle.
enum Db {
    Pg(TestPostgres),
    Sqlite(TestSqlite),
}

impl Db {
    async fn create(b: Backend) -> Db {
        match b {
            Backend::Pg => Db::Pg(TestPostgres::create().await),
            Backend::Sqlite => Db::Sqlite(TestSqlite::create()),
        }
    }

    fn url(&self) -> &str {
        match self {
            Db::Pg(d) => &d.url,
            Db::Sqlite(d) => &d.url,
        }
    }
}

fn new_event(payload: &[u8]) -> NewEvent {
    NewEvent {
        event_id: Uuid::now_v7(),
        event_type: "bench.appended".into(),
        schema_version: 1,
        payload: payload.to_vec(),
        metadata: Metadata::new(),
    }
}

/// The raw side of the append figure: plain sqlx on a table of the same shape.
enum Raw {
    Pg(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}

const RAW_PG: &str = "CREATE TABLE raw_events (
    position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id XID8 NOT NULL DEFAULT pg_current_xact_id(),
    stream_id TEXT NOT NULL, version BIGINT NOT NULL, event_id UUID NOT NULL,
    event_type TEXT NOT NULL, schema_version INTEGER NOT NULL, payload BYTEA NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}', recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (stream_id, version), UNIQUE (event_id));
    CREATE INDEX raw_events_tx_position ON raw_events (tx_id, position)";

const RAW_SQLITE: &str = "CREATE TABLE raw_events (
    position INTEGER PRIMARY KEY AUTOINCREMENT, stream_id TEXT NOT NULL,
    version INTEGER NOT NULL, event_id BLOB NOT NULL, event_type TEXT NOT NULL,
    schema_version INTEGER NOT NULL, payload BLOB NOT NULL, metadata TEXT NOT NULL DEFAULT '{}',
    recorded_at TEXT NOT NULL, UNIQUE (stream_id, version), UNIQUE (event_id))";

impl Raw {
    async fn open(db: &Db, connections: u32) -> anyhow::Result<Raw> {
        Ok(match db {
            Db::Pg(d) => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(connections)
                    .connect(&d.url)
                    .await?;
                sqlx::raw_sql(RAW_PG).execute(&pool).await?;
                Raw::Pg(pool)
            }
            Db::Sqlite(d) => {
                use std::str::FromStr;
                let opts = sqlx::sqlite::SqliteConnectOptions::from_str(&d.url)?
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10));
                // One writer connection, as the store has.
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(opts)
                    .await?;
                pool.execute(RAW_SQLITE).await?;
                Raw::Sqlite(pool)
            }
        })
    }

    async fn insert(&self, stream: &str, version: u64, e: &NewEvent) -> anyhow::Result<()> {
        match self {
            Raw::Pg(p) => {
                sqlx::query(
                    "INSERT INTO raw_events (stream_id, version, event_id, event_type, \
                     schema_version, payload, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(stream)
                .bind(version as i64)
                .bind(e.event_id)
                .bind(&e.event_type)
                .bind(e.schema_version as i32)
                .bind(&e.payload)
                .bind("{}")
                .execute(p)
                .await?;
            }
            Raw::Sqlite(p) => {
                sqlx::query(
                    "INSERT INTO raw_events (stream_id, version, event_id, event_type, \
                     schema_version, payload, metadata, recorded_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(stream)
                .bind(version as i64)
                .bind(e.event_id)
                .bind(&e.event_type)
                .bind(e.schema_version as i64)
                .bind(&e.payload)
                .bind("{}")
                .bind(chrono::Utc::now())
                .execute(p)
                .await?;
            }
        }
        Ok(())
    }
}

impl Raw {
    /// One row per message (to one of 251 streams, as the consumer's handler), in one
    /// multi-row `INSERT` and one transaction.
    async fn insert_batch(
        &self,
        messages: &[jetstream::Message],
        first: u64,
    ) -> anyhow::Result<()> {
        let rows: Vec<(String, i64, NewEvent)> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let stream = format!("order-{}", m.payload.first().copied().unwrap_or(0));
                (stream, (first + i as u64 + 1) as i64, new_event(&m.payload))
            })
            .collect();
        macro_rules! insert {
            ($pool:expr, $db:ty, $now:expr) => {{
                let mut tx = $pool.begin().await?;
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO raw_events (stream_id, version, event_id, event_type, \
                     schema_version, payload, metadata, recorded_at) ",
                );
                q.push_values(&rows, |mut b, (stream, version, e)| {
                    b.push_bind(stream.as_str())
                        .push_bind(*version)
                        .push_bind(e.event_id)
                        .push_bind(e.event_type.as_str())
                        .push_bind(e.schema_version as i32)
                        .push_bind(e.payload.as_slice())
                        .push_bind("{}")
                        .push_bind($now);
                });
                q.build().execute(&mut *tx).await?;
                tx.commit().await?;
            }};
        }
        let now = chrono::Utc::now();
        match self {
            Raw::Pg(p) => insert!(p, sqlx::Postgres, now),
            Raw::Sqlite(p) => insert!(p, sqlx::Sqlite, now),
        }
        Ok(())
    }
}

/// Runs `total` operations over `writers` tasks; `op(writer, i)` is the i-th of that writer.
async fn timed<F, Fut>(writers: usize, total: usize, op: F) -> anyhow::Result<f64>
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let per = total.div_ceil(writers);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                op(w, i).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((per * writers) as f64 / start.elapsed().as_secs_f64())
}

async fn append(
    b: Backend,
    writers: usize,
    args: &StoreArgs,
    report: &mut Report,
) -> anyhow::Result<()> {
    let db = Db::create(b).await;
    let store = Store::open_with(
        db.url(),
        StoreOptions {
            max_connections: writers as u32,
            ..Default::default()
        },
    )
    .await?;
    let raw = Arc::new(Raw::open(&db, writers as u32).await?);
    let payload = Arc::new(vec![7u8; args.payload]);
    let mut ours_best = 0f64;
    let mut raw_best = 0f64;
    let mut es_best = 0f64;
    // cqrs-es with postgres-es beside ours at 32 writers on PostgreSQL.
    let es = match &db {
        Db::Pg(d) if writers == 32 => Some(postgres_es::open(&d.url, writers as u32).await?),
        _ => None,
    };
    // Two alternating rounds each (the first also warms up); the best of each side counts.
    for round in 0..2 {
        let n = args.appends;
        let r = raw.clone();
        let p = payload.clone();
        let raw_rate = timed(writers, n, move |w, i| {
            let r = r.clone();
            let p = p.clone();
            async move {
                let e = new_event(&p);
                r.insert(&format!("r{round}-w{w}"), i as u64 + 1, &e).await
            }
        })
        .await?;
        let s = store.clone();
        let p = payload.clone();
        let ours_rate = timed(writers, n, move |w, i| {
            let s = s.clone();
            let p = p.clone();
            async move {
                let e = new_event(&p);
                s.append(
                    &format!("o{round}-w{w}"),
                    ExpectedVersion::after(i as u64),
                    &[e],
                )
                .await?;
                Ok(())
            }
        })
        .await?;
        raw_best = raw_best.max(raw_rate);
        ours_best = ours_best.max(ours_rate);
        if let Some(es) = &es {
            let es = es.clone();
            let p = payload.clone();
            let es_rate = timed(writers, n, move |w, i| {
                let es = es.clone();
                let p = p.clone();
                async move { postgres_es::append(&es, &format!("e{round}-w{w}"), i, &p).await }
            })
            .await?;
            es_best = es_best.max(es_rate);
        }
    }
    report.push(Figure::new(
        format!("store.append.{}.w{writers}", b.name()),
        ours_best,
        "appends/s",
        raw_best,
    ));
    if es.is_some() {
        report.push(Figure::new(
            format!("store.append.{}.w{writers}.postgres_es", b.name()),
            ours_best,
            "appends/s",
            es_best,
        ));
    }
    store.close().await;
    Ok(())
}

async fn bench_stream(js: &jetstream::Context, name: &str) -> anyhow::Result<String> {
    let _ = js.delete_stream(name).await;
    js.create_stream(jetstream::stream::Config {
        name: name.to_string(),
        subjects: vec![format!("bench.{name}.>")],
        storage: jetstream::stream::StorageType::File,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .context("create bench stream")?;
    Ok(format!("bench.{name}.msg"))
}

async fn relay(
    b: Backend,
    js: &jetstream::Context,
    args: &StoreArgs,
    report: &mut Report,
) -> anyhow::Result<()> {
    const WINDOW: usize = 512;
    let n = args.relay;
    let payload = vec![7u8; args.payload];

    // The same messages for both sides: an event's outbox message (message id, event type
    // and schema version headers, payload).
    let messages = |subject: &str| -> Vec<OutboxMessage> {
        (0..n)
            .map(|_| OutboxMessage::for_event(subject.to_string(), &new_event(&payload)))
            .collect()
    };

    let raw_subject = bench_stream(js, &format!("RAW_RELAY_{}", b.name())).await?;
    let subject = bench_stream(js, &format!("RELAY_{}", b.name())).await?;
    let db = Db::create(b).await;
    let store = Store::open(db.url()).await?;
    let relay = Relay::new(
        store.clone(),
        js.clone(),
        RelayConfig {
            batch_size: WINDOW,
            ..Default::default()
        },
    );
    let mut raw_best = 0f64;
    let mut ours_best = 0f64;
    // Three alternating rounds each, new messages every round (the first also warms up); the
    // best of each side counts, as a single round of a fraction of a second on a shared
    // machine is mostly noise.
    for _ in 0..3 {
        // Raw: pipelined publishes with the same headers and message ids, acks awaited per
        // window.
        let raw_messages = messages(&raw_subject);
        let start = Instant::now();
        for window in raw_messages.chunks(WINDOW) {
            let mut acks = Vec::with_capacity(window.len());
            for m in window {
                let mut headers = async_nats::HeaderMap::new();
                for (name, value) in &m.headers {
                    headers.append(name.as_str(), value.as_str());
                }
                let publish = jetstream::message::PublishMessage::build()
                    .payload(m.payload.clone().into())
                    .headers(headers)
                    .message_id(m.message_id.as_str());
                acks.push(js.send_publish(m.subject.clone(), publish).await?);
            }
            for a in acks {
                a.await?;
            }
        }
        raw_best = raw_best.max(n as f64 / start.elapsed().as_secs_f64());

        // Ours: fill the outbox (not timed), then relay it all.
        for chunk in messages(&subject).chunks(1000) {
            let mut tx = store.begin().await?;
            tx.enqueue(chunk).await?;
            tx.commit().await?;
        }
        let start = Instant::now();
        let mut relayed = 0;
        while relayed < n {
            // What `Relay::run` does while rows are waiting.
            let k = relay.drain().await?;
            if k == 0 {
                bail!("relay stopped at {relayed} of {n}");
            }
            relayed += k;
        }
        ours_best = ours_best.max(n as f64 / start.elapsed().as_secs_f64());
    }
    report.push(Figure::new(
        format!("store.relay.{}", b.name()),
        ours_best,
        "msgs/s",
        raw_best,
    ));
    store.close().await;
    Ok(())
}

/// The consumer's work: one event appended per message, to one of 251 order streams.
struct AppendOne;

impl Handler for AppendOne {
    fn handle<'a>(
        &'a self,
        tx: &'a mut Transaction,
        message: &'a Incoming,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let stream = format!("order-{}", message.payload.first().copied().unwrap_or(0));
            // Queued: the batch's appends go to the database in one statement at commit.
            tx.append_deferred(
                stream,
                ExpectedVersion::Any,
                vec![new_event(&message.payload)],
            );
            Ok(())
        })
    }
}

async fn durable(
    js: &jetstream::Context,
    stream: &str,
    name: &str,
) -> anyhow::Result<PullConsumer> {
    Ok(js
        .create_consumer_on_stream(
            jetstream::consumer::pull::Config {
                durable_name: Some(name.to_string()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                max_deliver: 5,
                max_ack_pending: 100_000,
                ..Default::default()
            },
            stream,
        )
        .await?)
}

async fn consume(
    b: Backend,
    js: &jetstream::Context,
    args: &StoreArgs,
    report: &mut Report,
) -> anyhow::Result<()> {
    const BATCH: usize = 512;
    let n = args.consume;
    let stream = format!("CONSUME_{}", b.name());
    let subject = bench_stream(js, &stream).await?;
    let mut sent = 0;
    while sent < n {
        let mut acks = Vec::new();
        for _ in 0..BATCH.min(n - sent) {
            let mut payload = vec![7u8; args.payload];
            payload[0] = (sent % 251) as u8;
            let publish = jetstream::message::PublishMessage::build()
                .payload(payload.into())
                .message_id(Uuid::now_v7().to_string());
            acks.push(js.send_publish(subject.clone(), publish).await?);
            sent += 1;
        }
        for a in acks {
            a.await?;
        }
    }

    // Raw: pull, insert the batch's rows in one statement and one transaction, ack.
    let raw_db = Db::create(b).await;
    let raw = Raw::open(&raw_db, 1).await?;
    let raw_consumer = durable(js, &stream, "raw").await?;
    let start = Instant::now();
    let mut got = 0;
    while got < n {
        let mut batch = raw_consumer
            .batch()
            .max_messages(BATCH)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut messages = Vec::with_capacity(BATCH);
        while let Some(m) = batch.next().await {
            messages.push(m.map_err(|e| anyhow::anyhow!("{e}"))?);
        }
        if messages.is_empty() {
            continue;
        }
        raw.insert_batch(&messages, got as u64).await?;
        for m in &messages {
            m.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        got += messages.len();
    }
    let raw_rate = n as f64 / start.elapsed().as_secs_f64();

    // Ours: inbox + append per message, one transaction per batch.
    let db = Db::create(b).await;
    let store = Store::open(db.url()).await?;
    let mut config = ConsumerConfig::new("bench");
    config.batch_size = BATCH;
    let consumer = InboxConsumer::new(
        store.clone(),
        durable(js, &stream, "ours").await?,
        AppendOne,
        config,
    );
    let start = Instant::now();
    let mut handled = 0;
    while handled < n {
        let o = consumer.run_once(Duration::from_millis(500)).await?;
        if o.retried + o.parked > 0 {
            bail!("bench consumer failed messages: {o:?}");
        }
        handled += o.handled;
    }
    let ours_rate = n as f64 / start.elapsed().as_secs_f64();
    report.push(Figure::new(
        format!("store.consume.{}", b.name()),
        ours_rate,
        "msgs/s",
        raw_rate,
    ));
    store.close().await;
    Ok(())
}

/// The peer: cqrs-es with its PostgreSQL repository, appending the same events.
mod postgres_es {
    use cqrs_es::event_sink::EventSink;
    use cqrs_es::persist::{PersistedEventRepository, SerializedEvent};
    use cqrs_es::{Aggregate, DomainEvent};
    use postgres_es::PostgresEventRepository;
    use serde::{Deserialize, Serialize};
    use std::sync::Arc;

    /// An aggregate with one kind of event, for the repository's table names and type.
    #[derive(Default, Serialize, Deserialize)]
    pub struct Bench;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Appended {
        payload: String,
    }

    impl DomainEvent for Appended {
        fn event_type(&self) -> String {
            "bench.appended".into()
        }
        fn event_version(&self) -> String {
            "1".into()
        }
    }

    impl Aggregate for Bench {
        const TYPE: &'static str = "bench";
        type Command = ();
        type Event = Appended;
        type Error = std::io::Error;
        type Services = ();

        async fn handle(
            &mut self,
            _command: (),
            _service: &(),
            _sink: &EventSink<Self>,
        ) -> Result<(), Self::Error> {
            Ok(())
        }

        fn apply(&mut self, _event: Appended) {}
    }

    /// postgres-es's schema (its db/init.sql) under table names of its own.
    const SCHEMA: &str = "CREATE TABLE es_events (
        aggregate_type text NOT NULL, aggregate_id text NOT NULL,
        sequence bigint CHECK (sequence >= 0) NOT NULL, event_type text NOT NULL,
        event_version text NOT NULL, payload json NOT NULL, metadata json NOT NULL,
        PRIMARY KEY (aggregate_type, aggregate_id, sequence));
        CREATE TABLE es_snapshots (
        aggregate_type text NOT NULL, aggregate_id text NOT NULL,
        last_sequence bigint CHECK (last_sequence >= 0) NOT NULL,
        current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
        payload json NOT NULL, PRIMARY KEY (aggregate_type, aggregate_id, last_sequence))";

    pub async fn open(url: &str, connections: u32) -> anyhow::Result<Arc<PostgresEventRepository>> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(connections)
            .connect(url)
            .await?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        Ok(Arc::new(
            PostgresEventRepository::new(pool).with_tables("es_events", "es_snapshots"),
        ))
    }

    /// The `i`-th event (0-based) of `stream`: sequence i + 1, the payload as hex in JSON.
    pub async fn append(
        repo: &PostgresEventRepository,
        stream: &str,
        i: usize,
        payload: &[u8],
    ) -> anyhow::Result<()> {
        let event = Appended {
            payload: hex::encode(payload),
        };
        let serialized = SerializedEvent::new(
            stream.to_string(),
            i + 1,
            Bench::TYPE.to_string(),
            event.event_type(),
            event.event_version(),
            serde_json::to_value(&event)?,
            serde_json::json!({}),
        );
        repo.persist::<Bench>(&[serialized], None)
            .await
            .map_err(|e| anyhow::anyhow!("postgres-es: {e}"))
    }
}
