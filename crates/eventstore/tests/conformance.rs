//! One conformance suite, run against PostgreSQL and SQLite: every case is a generic async fn
//! taking a fresh [`Store`], and `conformance!` instantiates the cases once per backend.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use reprint_eventstore::codec::{self, CodecError, Event};
use reprint_eventstore::{
    Backend, Checkpoint, Conn, Error, ExpectedVersion, Metadata, NewEvent, OutboxMessage,
    ParkedMessage, Projection, Snapshot, Store,
};
use reprint_testkit::{TestPostgres, TestSqlite};
use serde::{Deserialize, Serialize};
use tokio::sync::Barrier;
use uuid::Uuid;

/// A store on a fresh database, and the guard that drops the database afterwards.
struct Fixture {
    store: Store,
    _pg: Option<TestPostgres>,
    _sqlite: Option<TestSqlite>,
}

async fn postgres() -> Fixture {
    let db = TestPostgres::create().await;
    let store = Store::open(&db.url).await.expect("open postgres store");
    Fixture {
        store,
        _pg: Some(db),
        _sqlite: None,
    }
}

async fn sqlite() -> Fixture {
    let db = TestSqlite::create();
    let store = Store::open(&db.url).await.expect("open sqlite store");
    Fixture {
        store,
        _pg: None,
        _sqlite: Some(db),
    }
}

fn event(n: u32) -> NewEvent {
    NewEvent {
        event_id: Uuid::now_v7(),
        event_type: "test.counted".into(),
        schema_version: 1,
        payload: codec::to_postcard(&n).unwrap(),
        metadata: Metadata::new(),
    }
}

macro_rules! conformance {
    ($backend:ident, $fixture:path) => {
        mod $backend {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn parallel_writers_one_wins_each_version() {
                let f = $fixture().await;
                cases::parallel_writers(&f.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn expected_version_is_checked() {
                let f = $fixture().await;
                cases::expected_version(&f.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn reappend_of_a_stored_event_id_is_a_noop() {
                let f = $fixture().await;
                cases::reappend_noop(&f.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_appends_of_the_same_event_store_it_once() {
                let f = $fixture().await;
                cases::concurrent_same_event(&f.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn catch_up_reader_never_skips_a_late_commit() {
                let f = $fixture().await;
                cases::late_commit(&f.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn read_all_pages_through_everything_in_order() {
                let f = $fixture().await;
                cases::read_all_pages(&f.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn unit_of_work_commits_or_rolls_back_together() {
                let f = $fixture().await;
                cases::unit_of_work(&f.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn inbox_records_each_message_once() {
                let f = $fixture().await;
                cases::inbox(&f.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn prune_deletes_only_sent_messages_and_old_inbox_records() {
                let f = $fixture().await;
                cases::prune(&f.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn inline_projection_runs_in_the_append_transaction() {
                let f = $fixture().await;
                cases::inline_projection(f.store.clone()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn deferred_appends_keep_the_append_rules() {
                let f = $fixture().await;
                cases::deferred(f.store.clone()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn snapshots_keep_the_latest() {
                let f = $fixture().await;
                cases::snapshots(&f.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn old_payload_is_upcast_on_read() {
                let f = $fixture().await;
                cases::upcast(&f.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn parked_messages_are_kept() {
                let f = $fixture().await;
                cases::parked(&f.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn committed_appends_are_observed_and_after_commit_runs_once() {
                let f = $fixture().await;
                cases::observed(&f.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn reopening_keeps_data_and_migrations_are_idempotent() {
                let f = $fixture().await;
                let url = match (&f._pg, &f._sqlite) {
                    (Some(pg), _) => pg.url.clone(),
                    (_, Some(s)) => s.url.clone(),
                    _ => unreachable!(),
                };
                cases::reopen(&f.store, &url).await;
            }
        }
    };
}

conformance!(pg, postgres);
conformance!(sqlite, sqlite);

mod cases {
    use super::*;

    /// Every committed append is reported once under its stream's kind; a rolled-back unit of
    /// work, and one that appends nothing, are not; `after_commit` runs only on commit.
    pub async fn observed(store: &Store) {
        let seen: Arc<std::sync::Mutex<Vec<(String, std::time::Duration)>>> = Arc::default();
        let sink = seen.clone();
        let store =
            store
                .clone()
                .with_observer(Arc::new(move |kind: &str, took: std::time::Duration| {
                    sink.lock().unwrap().push((kind.to_string(), took));
                }));
        let taken = || std::mem::take(&mut *seen.lock().unwrap());

        store
            .append("user-file-B0000456", ExpectedVersion::NoStream, &[event(1)])
            .await
            .unwrap();
        let one = taken();
        assert_eq!(one.len(), 1, "{one:?}");
        assert_eq!(one[0].0, "user-file");
        assert!(one[0].1 > std::time::Duration::ZERO);

        let ran = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tx = store.begin().await.unwrap();
        tx.append("gw-order-0190aa", ExpectedVersion::NoStream, &[event(2)])
            .await
            .unwrap();
        tx.append_deferred("sequence-reception", ExpectedVersion::Any, vec![event(3)]);
        let r = ran.clone();
        tx.after_commit(move || {
            r.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        tx.commit().await.unwrap();
        let kinds: Vec<String> = taken().into_iter().map(|(k, _)| k).collect();
        assert_eq!(kinds, ["gw-order"], "one observation per transaction");
        assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 1);

        let mut tx = store.begin().await.unwrap();
        tx.append("gw-order-0190bb", ExpectedVersion::NoStream, &[event(4)])
            .await
            .unwrap();
        let r = ran.clone();
        tx.after_commit(move || {
            r.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        tx.rollback().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        tx.append_deferred("gw-order-0190cc", ExpectedVersion::NoStream, vec![event(5)]);
        drop(tx);
        store.begin().await.unwrap().commit().await.unwrap();
        assert!(taken().is_empty(), "rolled back or empty: not observed");
        assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    pub async fn parallel_writers(store: &Store) {
        const WRITERS: usize = 8;
        const ROUNDS: u64 = 12;
        let stream = "file-B0000456";
        for round in 0..ROUNDS {
            let barrier = Arc::new(Barrier::new(WRITERS));
            let mut tasks = Vec::new();
            for w in 0..WRITERS {
                let store = store.clone();
                let barrier = barrier.clone();
                tasks.push(tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .append(stream, ExpectedVersion::after(round), &[event(w as u32)])
                        .await
                }));
            }
            let mut wins = 0;
            for t in tasks {
                match t.await.unwrap() {
                    Ok(r) => {
                        assert_eq!(r.stream_version, round + 1);
                        assert_eq!(r.positions.len(), 1);
                        wins += 1;
                    }
                    Err(Error::Conflict(c)) => {
                        assert_eq!(c.stream_id, stream);
                        assert_eq!(c.expected, ExpectedVersion::after(round));
                        if let Some(actual) = c.actual {
                            assert_eq!(actual, round + 1);
                        }
                    }
                    Err(e) => panic!("expected a win or a conflict, got {e}"),
                }
            }
            assert_eq!(wins, 1, "exactly one writer wins version {}", round + 1);
        }
        let events = store.read_stream(stream, 1, 1000).await.unwrap();
        let versions: Vec<u64> = events.iter().map(|e| e.version).collect();
        assert_eq!(versions, (1..=ROUNDS).collect::<Vec<_>>());
        assert_eq!(store.stream_version(stream).await.unwrap(), ROUNDS);

        // With `Any`, every writer wins and the versions stay gap-free.
        let barrier = Arc::new(Barrier::new(WRITERS));
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let store = store.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                store
                    .append(
                        "any-stream",
                        ExpectedVersion::Any,
                        &[event(w as u32), event(99)],
                    )
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().expect("Any never conflicts");
        }
        let events = store.read_stream("any-stream", 1, 1000).await.unwrap();
        let versions: Vec<u64> = events.iter().map(|e| e.version).collect();
        assert_eq!(versions, (1..=2 * WRITERS as u64).collect::<Vec<_>>());
    }

    pub async fn expected_version(store: &Store) {
        let err = store
            .append("s", ExpectedVersion::Exact(3), &[event(1)])
            .await
            .unwrap_err();
        match err {
            Error::Conflict(c) => assert_eq!(c.actual, Some(0)),
            e => panic!("expected a conflict, got {e}"),
        }
        assert!(
            store
                .append("s", ExpectedVersion::Exact(3), &[event(1)])
                .await
                .unwrap_err()
                .is_retryable()
        );
        let r = store
            .append("s", ExpectedVersion::NoStream, &[event(1), event(2)])
            .await
            .unwrap();
        assert_eq!(r.stream_version, 2);
        assert!(r.positions[0] < r.positions[1]);
        for expected in [
            ExpectedVersion::NoStream,
            ExpectedVersion::Exact(1),
            ExpectedVersion::Exact(3),
        ] {
            match store.append("s", expected, &[event(3)]).await {
                Err(Error::Conflict(c)) => assert_eq!(c.actual, Some(2)),
                other => panic!("expected a conflict for {expected:?}, got {other:?}"),
            }
        }
        let r = store
            .append("s", ExpectedVersion::Exact(2), &[event(3)])
            .await
            .unwrap();
        assert_eq!(r.stream_version, 3);
        let r = store
            .append("s", ExpectedVersion::Any, &[event(4)])
            .await
            .unwrap();
        assert_eq!(r.stream_version, 4);
        // Inside a unit of work the same rules hold.
        let mut tx = store.begin().await.unwrap();
        assert!(
            tx.append("s", ExpectedVersion::Exact(1), &[event(5)])
                .await
                .unwrap_err()
                .is_conflict()
        );
        drop(tx);
        let mut tx = store.begin().await.unwrap();
        tx.append("s", ExpectedVersion::Exact(4), &[event(5)])
            .await
            .unwrap();
        tx.append("t", ExpectedVersion::NoStream, &[event(1)])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.stream_version("s").await.unwrap(), 5);
        assert_eq!(store.stream_version("t").await.unwrap(), 1);
        // Empty appends store nothing and report the version.
        let r = store.append("s", ExpectedVersion::Any, &[]).await.unwrap();
        assert_eq!(r.stream_version, 5);
        assert!(r.is_noop());
    }

    pub async fn reappend_noop(store: &Store) {
        let mut md = BTreeMap::new();
        md.insert("traceparent".to_string(), "00-abc-def-01".to_string());
        let mut a = event(1);
        a.metadata = md.clone();
        let b = event(2);
        let first = store
            .append("r", ExpectedVersion::NoStream, &[a.clone(), b.clone()])
            .await
            .unwrap();
        assert_eq!(first.positions.len(), 2);
        // The same append again (a retry after a lost reply): no-op, not a conflict.
        let again = store
            .append("r", ExpectedVersion::NoStream, &[a.clone(), b.clone()])
            .await
            .unwrap();
        assert!(again.is_noop());
        assert_eq!(again.stream_version, 2);
        // The same id on another stream is not stored twice either.
        let other = store
            .append("elsewhere", ExpectedVersion::Any, std::slice::from_ref(&a))
            .await
            .unwrap();
        assert!(other.is_noop());
        assert_eq!(store.stream_version("elsewhere").await.unwrap(), 0);
        // A batch with one stored and one new event stores only the new one.
        let c = event(3);
        let mixed = store
            .append("r", ExpectedVersion::Exact(2), &[b.clone(), c.clone()])
            .await
            .unwrap();
        assert_eq!(mixed.positions.len(), 1);
        assert_eq!(mixed.stream_version, 3);
        // Through a unit of work as well.
        let mut tx = store.begin().await.unwrap();
        assert!(
            tx.append("r", ExpectedVersion::Exact(0), std::slice::from_ref(&c))
                .await
                .unwrap()
                .is_noop()
        );
        tx.commit().await.unwrap();
        let events = store.read_stream("r", 1, 100).await.unwrap();
        assert_eq!(
            events.iter().map(|e| e.event_id).collect::<Vec<_>>(),
            vec![a.event_id, b.event_id, c.event_id]
        );
        assert_eq!(events[0].metadata, md);
        assert_eq!(events[0].payload, a.payload);
        let mut at = Checkpoint::START;
        let all = read_until(store, &mut at, 3).await;
        assert_eq!(all[0].event_id, a.event_id);
    }

    pub async fn concurrent_same_event(store: &Store) {
        let e = event(7);
        let barrier = Arc::new(Barrier::new(6));
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let store = store.clone();
            let e = e.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                store
                    .append("dup", ExpectedVersion::Any, std::slice::from_ref(&e))
                    .await
            }));
        }
        let mut stored = 0;
        for t in tasks {
            let r = t
                .await
                .unwrap()
                .expect("a duplicate append is not an error");
            stored += r.positions.len();
        }
        assert_eq!(stored, 1);
        assert_eq!(store.read_stream("dup", 1, 10).await.unwrap().len(), 1);
    }

    pub async fn late_commit(store: &Store) {
        match store.backend() {
            Backend::Postgres => late_commit_pg(store).await,
            Backend::Sqlite => late_commit_sqlite(store).await,
        }
    }

    /// The hard case: transaction U takes its id first, transaction T writes first (lower
    /// position), U writes later (higher position) and commits while T is still open. A
    /// reader ordered by position alone would return U's row, move its checkpoint past T's
    /// position and never see T's row.
    async fn late_commit_pg(store: &Store) {
        let mut u = store.begin().await.unwrap();
        if let Conn::Postgres(c) = u.conn() {
            sqlx::query("SELECT pg_current_xact_id()")
                .execute(c)
                .await
                .unwrap();
        }
        let mut t = store.begin().await.unwrap();
        let slow = t
            .append("slow", ExpectedVersion::NoStream, &[event(1)])
            .await
            .unwrap();
        let fast = u
            .append("fast", ExpectedVersion::NoStream, &[event(2)])
            .await
            .unwrap();
        assert!(slow.positions[0] < fast.positions[0]);
        u.commit().await.unwrap();

        let mut seen = Vec::new();
        let mut at = Checkpoint::START;
        for e in read_until(store, &mut at, 1).await {
            seen.push(e.stream_id);
        }
        assert_eq!(seen, vec!["fast".to_string()], "only the committed row");
        assert!(store.read_all(at, 100).await.unwrap().is_empty());
        t.commit().await.unwrap();
        for e in read_until(store, &mut at, 1).await {
            seen.push(e.stream_id);
        }
        assert_eq!(seen, vec!["fast".to_string(), "slow".to_string()]);
        assert!(store.read_all(at, 100).await.unwrap().is_empty());

        // And the simple case: a committed row behind an open transaction waits for it.
        let mut long = store.begin().await.unwrap();
        long.append("long", ExpectedVersion::NoStream, &[event(3)])
            .await
            .unwrap();
        store
            .append("after-long", ExpectedVersion::NoStream, &[event(4)])
            .await
            .unwrap();
        assert!(store.read_all(at, 100).await.unwrap().is_empty());
        long.commit().await.unwrap();
        let rest: Vec<String> = read_until(store, &mut at, 2)
            .await
            .into_iter()
            .map(|e| e.stream_id)
            .collect();
        assert_eq!(rest, vec!["long".to_string(), "after-long".to_string()]);
    }

    /// Reads from `at` until `n` events came (a transaction open elsewhere on the server may
    /// hold a Postgres reader back for a moment), then checks that no more follow.
    async fn read_until(
        store: &Store,
        at: &mut Checkpoint,
        n: usize,
    ) -> Vec<reprint_eventstore::RecordedEvent> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut got = Vec::new();
        while got.len() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "read_all stalled at {at:?}"
            );
            let page = store.read_all(*at, 100).await.unwrap();
            if page.is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            for e in page {
                *at = e.checkpoint();
                got.push(e);
            }
        }
        assert_eq!(got.len(), n);
        got
    }

    /// SQLite has one writer: a second append waits for the open transaction, so positions
    /// are handed out in commit order and a reader by position cannot skip anything.
    async fn late_commit_sqlite(store: &Store) {
        let mut t = store.begin().await.unwrap();
        t.append("slow", ExpectedVersion::NoStream, &[event(1)])
            .await
            .unwrap();
        let other = store.clone();
        let fast = tokio::spawn(async move {
            other
                .append("fast", ExpectedVersion::NoStream, &[event(2)])
                .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(!fast.is_finished(), "the second writer waits for the first");
        assert!(
            store
                .read_all(Checkpoint::START, 100)
                .await
                .unwrap()
                .is_empty()
        );
        t.commit().await.unwrap();
        fast.await.unwrap().unwrap();
        let all = store.read_all(Checkpoint::START, 100).await.unwrap();
        let streams: Vec<&str> = all.iter().map(|e| e.stream_id.as_str()).collect();
        assert_eq!(streams, vec!["slow", "fast"]);
        assert!(all[0].position < all[1].position);
    }

    pub async fn read_all_pages(store: &Store) {
        for i in 0..25u32 {
            store
                .append(&format!("s{}", i % 4), ExpectedVersion::Any, &[event(i)])
                .await
                .unwrap();
        }
        // On Postgres a transaction still open anywhere on the server (another test's)
        // holds readers back for a moment: an empty page means "not yet", so poll.
        let mut at = Checkpoint::START;
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while got.len() < 25 {
            assert!(
                std::time::Instant::now() < deadline,
                "read_all stalled at {at:?}"
            );
            let page = store.read_all(at, 7).await.unwrap();
            if page.is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
            assert!(page.len() <= 7);
            for e in page {
                assert!(e.checkpoint() > at);
                at = e.checkpoint();
                got.push(codec::from_postcard::<u32>(&e.payload).unwrap());
            }
        }
        assert_eq!(got, (0..25).collect::<Vec<_>>());
        let s1 = store.read_stream("s1", 3, 100).await.unwrap();
        assert_eq!(
            s1.iter().map(|e| e.version).collect::<Vec<_>>(),
            vec![3, 4, 5, 6]
        );
        assert_eq!(store.read_stream("s1", 1, 2).await.unwrap().len(), 2);
        assert!(store.read_stream("none", 1, 2).await.unwrap().is_empty());
    }

    pub async fn unit_of_work(store: &Store) {
        let e = event(1);
        let mut tx = store.begin().await.unwrap();
        tx.append(
            "order-1",
            ExpectedVersion::NoStream,
            std::slice::from_ref(&e),
        )
        .await
        .unwrap();
        tx.enqueue(&[OutboxMessage::for_event("reprint.v1.test", &e)])
            .await
            .unwrap();
        assert_eq!(tx.stream_version("order-1").await.unwrap(), 1);
        assert_eq!(tx.read_stream("order-1", 1, 10).await.unwrap().len(), 1);
        tx.rollback().await.unwrap();
        assert_eq!(store.stream_version("order-1").await.unwrap(), 0);
        assert_eq!(store.unsent_count().await.unwrap(), 0);

        let mut tx = store.begin().await.unwrap();
        tx.append(
            "order-1",
            ExpectedVersion::NoStream,
            std::slice::from_ref(&e),
        )
        .await
        .unwrap();
        let msg = OutboxMessage::for_event("reprint.v1.test", &e);
        tx.enqueue(std::slice::from_ref(&msg)).await.unwrap();
        // The same message again is skipped.
        tx.enqueue(std::slice::from_ref(&msg)).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.stream_version("order-1").await.unwrap(), 1);
        let pending = store.pending_outbox(0, 10).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].message, msg);
        assert_eq!(pending[0].message.message_id, e.event_id.to_string());
        assert!(pending[0].message.headers.contains(&(
            codec::HEADER_EVENT_TYPE.to_string(),
            "test.counted".to_string()
        )));
        store.mark_sent(&[pending[0].id]).await.unwrap();
        assert!(store.pending_outbox(0, 10).await.unwrap().is_empty());
        assert_eq!(store.unsent_count().await.unwrap(), 0);
    }

    pub async fn inbox(store: &Store) {
        let mut tx = store.begin().await.unwrap();
        let fresh = tx.inbox_record("lab", &["m1", "m2", "m1"]).await.unwrap();
        assert_eq!(fresh, vec![true, true, false]);
        tx.commit().await.unwrap();
        assert!(store.inbox_contains("lab", "m1").await.unwrap());
        assert!(!store.inbox_contains("counter", "m1").await.unwrap());

        let mut tx = store.begin().await.unwrap();
        let fresh = tx.inbox_record("lab", &["m2", "m3"]).await.unwrap();
        assert_eq!(fresh, vec![false, true]);
        // Another consumer has its own inbox.
        assert_eq!(
            tx.inbox_record("counter", &["m1"]).await.unwrap(),
            vec![true]
        );
        tx.rollback().await.unwrap();
        assert!(!store.inbox_contains("lab", "m3").await.unwrap());
        assert!(!store.inbox_contains("counter", "m1").await.unwrap());
    }

    pub async fn prune(store: &Store) {
        use reprint_eventstore::{Pruned, Retention};
        const DAY: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);
        let retention = Retention::default();
        assert_eq!(retention.sent_outbox, 7 * DAY);
        assert_eq!(retention.inbox, 45 * DAY);
        // Two messages, one published; two handled message ids; one parked message.
        let (sent, unsent) = (event(1), event(2));
        let mut tx = store.begin().await.unwrap();
        tx.append(
            "order-1",
            ExpectedVersion::NoStream,
            &[sent.clone(), unsent.clone()],
        )
        .await
        .unwrap();
        tx.enqueue(&[
            OutboxMessage::for_event("reprint.v1.test", &sent),
            OutboxMessage::for_event("reprint.v1.test", &unsent),
        ])
        .await
        .unwrap();
        tx.inbox_record("lab", &["m1", "m2"]).await.unwrap();
        tx.commit().await.unwrap();
        let pending = store.pending_outbox(0, 10).await.unwrap();
        store.mark_sent(&[pending[0].id]).await.unwrap();
        store
            .park(&ParkedMessage {
                consumer: "lab".into(),
                message_id: "m9".into(),
                subject: "reprint.v1.lab.lab-a.order.placed".into(),
                payload: b"{".to_vec(),
                headers: vec![],
                deliveries: 5,
                reason: "malformed".into(),
            })
            .await
            .unwrap();
        let now = chrono::Utc::now();

        // Six days on: everything is younger than its retention.
        let pruned = store
            .prune(retention, now + chrono::Duration::days(6))
            .await
            .unwrap();
        assert_eq!(pruned, Pruned::default());
        // A retention longer than dates reach prunes nothing, however late.
        let forever = Retention {
            sent_outbox: std::time::Duration::MAX,
            inbox: std::time::Duration::MAX,
        };
        let later = now + chrono::Duration::days(3650);
        assert_eq!(
            store.prune(forever, later).await.unwrap(),
            Pruned::default()
        );

        // Eight days on: the published message goes, the unsent one stays and is still sent
        // by the relay, handled ids still stop a redelivery.
        let pruned = store
            .prune(retention, now + chrono::Duration::days(8))
            .await
            .unwrap();
        assert_eq!(
            pruned,
            Pruned {
                sent_outbox: 1,
                inbox: 0
            }
        );
        let left = store.pending_outbox(0, 10).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].message.message_id, unsent.event_id.to_string());
        assert!(store.inbox_contains("lab", "m1").await.unwrap());

        // Forty-six days on: the handled ids go; events and parked messages are never pruned.
        let pruned = store
            .prune(retention, now + chrono::Duration::days(46))
            .await
            .unwrap();
        assert_eq!(
            pruned,
            Pruned {
                sent_outbox: 0,
                inbox: 2
            }
        );
        assert!(!store.inbox_contains("lab", "m1").await.unwrap());
        assert_eq!(store.unsent_count().await.unwrap(), 1);
        assert_eq!(store.stream_version("order-1").await.unwrap(), 2);
        assert_eq!(store.parked("lab").await.unwrap().len(), 1);
    }

    /// Counts events per stream in a table of its own.
    struct CountPerStream {
        fail_on: Option<&'static str>,
    }

    impl Projection for CountPerStream {
        fn name(&self) -> &'static str {
            "count_per_stream"
        }

        fn apply<'a>(
            &'a self,
            conn: Conn<'a>,
            events: &'a [reprint_eventstore::RecordedEvent],
        ) -> BoxFuture<'a, reprint_eventstore::Result<()>> {
            Box::pin(async move {
                let stream = &events[0].stream_id;
                if Some(stream.as_str()) == self.fail_on {
                    return Err(Error::Projection {
                        name: self.name(),
                        source: "refused".into(),
                    });
                }
                let n = events.len() as i64;
                match conn {
                    Conn::Postgres(c) => {
                        sqlx::query(
                            "INSERT INTO stream_counts (stream_id, n) VALUES ($1, $2) \
                             ON CONFLICT (stream_id) DO UPDATE SET n = stream_counts.n + $2",
                        )
                        .bind(stream)
                        .bind(n)
                        .execute(c)
                        .await?;
                    }
                    Conn::Sqlite(c) => {
                        sqlx::query(
                            "INSERT INTO stream_counts (stream_id, n) VALUES (?1, ?2) \
                             ON CONFLICT (stream_id) DO UPDATE SET n = stream_counts.n + ?2",
                        )
                        .bind(stream)
                        .bind(n)
                        .execute(c)
                        .await?;
                    }
                }
                Ok(())
            })
        }
    }

    async fn count(store: &Store, stream: &str) -> i64 {
        let mut tx = store.begin().await.unwrap();
        let n: Option<i64> = match tx.conn() {
            Conn::Postgres(c) => {
                sqlx::query_scalar("SELECT n FROM stream_counts WHERE stream_id = $1")
                    .bind(stream)
                    .fetch_optional(c)
                    .await
                    .unwrap()
            }
            Conn::Sqlite(c) => {
                sqlx::query_scalar("SELECT n FROM stream_counts WHERE stream_id = ?")
                    .bind(stream)
                    .fetch_optional(c)
                    .await
                    .unwrap()
            }
        };
        n.unwrap_or(0)
    }

    pub async fn inline_projection(store: Store) {
        let mut tx = store.begin().await.unwrap();
        let ddl = "CREATE TABLE stream_counts (stream_id TEXT PRIMARY KEY, n BIGINT NOT NULL)";
        match tx.conn() {
            Conn::Postgres(c) => {
                sqlx::query(ddl).execute(c).await.unwrap();
            }
            Conn::Sqlite(c) => {
                sqlx::query(ddl).execute(c).await.unwrap();
            }
        }
        tx.commit().await.unwrap();
        let store = store.with_projection(CountPerStream {
            fail_on: Some("bad"),
        });

        store
            .append("a", ExpectedVersion::NoStream, &[event(1), event(2)])
            .await
            .unwrap();
        let stored = event(3);
        store
            .append(
                "a",
                ExpectedVersion::Exact(2),
                std::slice::from_ref(&stored),
            )
            .await
            .unwrap();
        // A no-op append projects nothing.
        store
            .append(
                "a",
                ExpectedVersion::Exact(2),
                std::slice::from_ref(&stored),
            )
            .await
            .unwrap();
        assert_eq!(count(&store, "a").await, 3);

        // A failing projection rolls the append back.
        let err = store
            .append("bad", ExpectedVersion::NoStream, &[event(1)])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Projection { .. }));
        assert_eq!(store.stream_version("bad").await.unwrap(), 0);

        // In a unit of work the projection sees the events and rolls back with it.
        let mut tx = store.begin().await.unwrap();
        tx.append("b", ExpectedVersion::NoStream, &[event(1)])
            .await
            .unwrap();
        drop(tx);
        assert_eq!(count(&store, "b").await, 0);

        // Parallel writers with a projection: the count matches the stream.
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..5 {
                    store
                        .append("c", ExpectedVersion::Any, &[event(i)])
                        .await
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(count(&store, "c").await, 30);
        assert_eq!(store.stream_version("c").await.unwrap(), 30);
    }

    /// `Transaction::append_deferred`: one write for many appends, with the rules of
    /// `append` (versions, stored ids skipped, conflicts, projections, rollback).
    pub async fn deferred(store: Store) {
        let mut tx = store.begin().await.unwrap();
        let ddl = "CREATE TABLE stream_counts (stream_id TEXT PRIMARY KEY, n BIGINT NOT NULL)";
        match tx.conn() {
            Conn::Postgres(c) => {
                sqlx::query(ddl).execute(c).await.unwrap();
            }
            Conn::Sqlite(c) => {
                sqlx::query(ddl).execute(c).await.unwrap();
            }
        }
        tx.commit().await.unwrap();

        // Without an inline projection a commit needs no results (SQLite writes the queue in
        // one statement): the same rules.
        let first = event(1);
        let mut tx = store.begin().await.unwrap();
        tx.append_deferred(
            "p",
            ExpectedVersion::NoStream,
            vec![first.clone(), event(2)],
        );
        tx.append_deferred("q", ExpectedVersion::Any, vec![event(1)]);
        tx.append_deferred("p", ExpectedVersion::Exact(2), vec![event(3)]);
        tx.append_deferred("q", ExpectedVersion::Any, vec![event(2)]);
        tx.commit().await.unwrap();
        let p = store.read_stream("p", 1, 10).await.unwrap();
        let got: Vec<(u64, u32)> = p
            .iter()
            .map(|e| (e.version, codec::from_postcard(&e.payload).unwrap()))
            .collect();
        assert_eq!(got, vec![(1, 1), (2, 2), (3, 3)]);
        assert_eq!(store.stream_version("q").await.unwrap(), 2);
        // A version off: a conflict, and nothing of the unit of work stored.
        let mut tx = store.begin().await.unwrap();
        tx.append_deferred("o", ExpectedVersion::NoStream, vec![event(1)]);
        tx.append_deferred("p", ExpectedVersion::Exact(2), vec![event(4)]);
        let err = tx.commit().await.unwrap_err();
        assert!(err.is_conflict(), "{err}");
        assert_eq!(store.stream_version("o").await.unwrap(), 0);
        assert_eq!(store.stream_version("p").await.unwrap(), 3);
        // An event id stored before is skipped, the rest stored.
        let mut tx = store.begin().await.unwrap();
        tx.append_deferred("p", ExpectedVersion::Any, vec![first.clone()]);
        tx.append_deferred("o", ExpectedVersion::NoStream, vec![event(1)]);
        tx.commit().await.unwrap();
        assert_eq!(store.stream_version("p").await.unwrap(), 3);
        assert_eq!(store.stream_version("o").await.unwrap(), 1);

        let store = store.with_projection(CountPerStream { fail_on: None });
        store
            .append("x", ExpectedVersion::NoStream, &[event(0)])
            .await
            .unwrap();

        // Many streams, several appends to one stream, exact and any, in one flush.
        let mut tx = store.begin().await.unwrap();
        tx.append_deferred("x", ExpectedVersion::Exact(1), vec![event(1), event(2)]);
        tx.append_deferred("y", ExpectedVersion::NoStream, vec![event(1)]);
        tx.append_deferred("x", ExpectedVersion::Any, vec![event(3)]);
        tx.append_deferred("x", ExpectedVersion::Exact(4), vec![event(4)]);
        tx.append_deferred("z", ExpectedVersion::Any, vec![event(1), event(2)]);
        let results = tx.flush().await.unwrap();
        let versions: Vec<u64> = results.iter().map(|r| r.stream_version).collect();
        assert_eq!(versions, vec![3, 1, 4, 5, 2]);
        assert_eq!(results[0].positions.len(), 2);
        // Read in the transaction: queued appends are flushed first.
        tx.append_deferred("y", ExpectedVersion::Exact(1), vec![event(2)]);
        assert_eq!(tx.stream_version("y").await.unwrap(), 2);
        tx.commit().await.unwrap();
        let x = store.read_stream("x", 1, 100).await.unwrap();
        let got: Vec<u32> = x
            .iter()
            .map(|e| codec::from_postcard(&e.payload).unwrap())
            .collect();
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        // The positions a flush reports are those the events were stored at.
        let positions: Vec<i64> = x.iter().skip(1).map(|e| e.position).collect();
        let reported: Vec<i64> = [&results[0], &results[2], &results[3]]
            .iter()
            .flat_map(|r| r.positions.clone())
            .collect();
        assert_eq!(reported, positions);
        let z = store.read_stream("z", 1, 100).await.unwrap();
        let z_positions: Vec<i64> = z.iter().map(|e| e.position).collect();
        assert_eq!(results[4].positions, z_positions);
        assert_eq!(count(&store, "x").await, 5);
        assert_eq!(count(&store, "y").await, 2);
        assert_eq!(count(&store, "z").await, 2);

        // Commit writes what is queued.
        let again = event(9);
        let mut tx = store.begin().await.unwrap();
        tx.append_deferred("w", ExpectedVersion::NoStream, vec![again.clone()]);
        tx.append_deferred("z", ExpectedVersion::Exact(2), vec![event(3)]);
        tx.commit().await.unwrap();
        assert_eq!(store.stream_version("w").await.unwrap(), 1);
        assert_eq!(store.stream_version("z").await.unwrap(), 3);

        // A stored event id is skipped, the rest is stored.
        let mut tx = store.begin().await.unwrap();
        tx.append_deferred("w", ExpectedVersion::NoStream, vec![again.clone()]);
        tx.append_deferred("v", ExpectedVersion::NoStream, vec![event(1)]);
        let results = tx.flush().await.unwrap();
        assert!(results[0].is_noop());
        assert_eq!(results[1].stream_version, 1);
        tx.commit().await.unwrap();
        assert_eq!(store.stream_version("w").await.unwrap(), 1);
        assert_eq!(store.stream_version("v").await.unwrap(), 1);

        // The same event queued twice is stored once.
        let twice = event(5);
        let mut tx = store.begin().await.unwrap();
        tx.append_deferred("u", ExpectedVersion::Any, vec![twice.clone()]);
        tx.append_deferred("u", ExpectedVersion::Any, vec![twice.clone()]);
        tx.commit().await.unwrap();
        assert_eq!(store.stream_version("u").await.unwrap(), 1);

        // A version off fails the commit and nothing of the unit of work is stored.
        let mut tx = store.begin().await.unwrap();
        tx.append_deferred("t", ExpectedVersion::NoStream, vec![event(1)]);
        tx.append_deferred("x", ExpectedVersion::Exact(3), vec![event(5)]);
        let err = tx.commit().await.unwrap_err();
        assert!(err.is_conflict(), "{err}");
        assert_eq!(store.stream_version("t").await.unwrap(), 0);
        assert_eq!(store.stream_version("x").await.unwrap(), 5);

        // Dropped without commit: nothing queued is stored.
        let mut tx = store.begin().await.unwrap();
        tx.append_deferred("s", ExpectedVersion::NoStream, vec![event(1)]);
        drop(tx);
        assert_eq!(store.stream_version("s").await.unwrap(), 0);
    }

    pub async fn snapshots(store: &Store) {
        assert!(store.load_snapshot("file").await.unwrap().is_none());
        let s10 = Snapshot {
            version: 10,
            schema_version: 1,
            payload: vec![1, 2, 3],
        };
        store.save_snapshot("file", &s10).await.unwrap();
        assert_eq!(
            store.load_snapshot("file").await.unwrap(),
            Some(s10.clone())
        );
        let s5 = Snapshot {
            version: 5,
            schema_version: 1,
            payload: vec![5],
        };
        store.save_snapshot("file", &s5).await.unwrap();
        assert_eq!(store.load_snapshot("file").await.unwrap(), Some(s10));
        let s20 = Snapshot {
            version: 20,
            schema_version: 2,
            payload: vec![20],
        };
        let mut tx = store.begin().await.unwrap();
        tx.save_snapshot("file", &s20).await.unwrap();
        assert_eq!(tx.load_snapshot("file").await.unwrap(), Some(s20.clone()));
        tx.commit().await.unwrap();
        assert_eq!(store.load_snapshot("file").await.unwrap(), Some(s20));
    }

    // An event enum whose `order.placed` changed: version 1 is frozen, version 2 is current.

    #[derive(Serialize, Deserialize)]
    struct OrderPlacedV1 {
        order: String,
        prints: u32,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct OrderPlaced {
        order: String,
        prints: u32,
        counter: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct OrderCancelled {
        order: String,
    }

    #[derive(Debug, Clone, PartialEq)]
    enum OrderEvent {
        Placed(OrderPlaced),
        Cancelled(OrderCancelled),
    }

    impl Event for OrderEvent {
        fn event_type(&self) -> &'static str {
            match self {
                OrderEvent::Placed(_) => "order.placed",
                OrderEvent::Cancelled(_) => "order.cancelled",
            }
        }

        fn current_version(event_type: &str) -> Option<u32> {
            match event_type {
                "order.placed" => Some(2),
                "order.cancelled" => Some(1),
                _ => None,
            }
        }

        fn encode(&self) -> Result<Vec<u8>, CodecError> {
            match self {
                OrderEvent::Placed(e) => codec::to_postcard(e),
                OrderEvent::Cancelled(e) => codec::to_postcard(e),
            }
        }

        fn decode_current(event_type: &str, payload: &[u8]) -> Result<Self, CodecError> {
            match event_type {
                "order.placed" => Ok(OrderEvent::Placed(codec::from_postcard(payload)?)),
                "order.cancelled" => Ok(OrderEvent::Cancelled(codec::from_postcard(payload)?)),
                other => Err(CodecError::UnknownType(other.to_string())),
            }
        }

        fn upcast(event_type: &str, version: u32, payload: &[u8]) -> Result<Self, CodecError> {
            match (event_type, version) {
                ("order.placed", 1) => {
                    let old: OrderPlacedV1 = codec::from_postcard(payload)?;
                    Ok(OrderEvent::Placed(OrderPlaced {
                        order: old.order,
                        prints: old.prints,
                        counter: None,
                    }))
                }
                _ => Err(CodecError::unknown_version(event_type, version)),
            }
        }
    }

    pub async fn upcast(store: &Store) {
        // An event written by an old build: schema version 1 of `order.placed`.
        let old = NewEvent {
            event_id: Uuid::now_v7(),
            event_type: "order.placed".into(),
            schema_version: 1,
            payload: codec::to_postcard(&OrderPlacedV1 {
                order: "o-1".into(),
                prints: 12,
            })
            .unwrap(),
            metadata: Metadata::new(),
        };
        let current = OrderEvent::Placed(OrderPlaced {
            order: "o-2".into(),
            prints: 3,
            counter: Some("X".into()),
        });
        let cancelled = OrderEvent::Cancelled(OrderCancelled {
            order: "o-1".into(),
        });
        let new = codec::new_event(&current, Uuid::now_v7(), Metadata::new()).unwrap();
        assert_eq!(new.schema_version, 2);
        let cancel = codec::new_event(&cancelled, Uuid::now_v7(), Metadata::new()).unwrap();
        store
            .append("orders", ExpectedVersion::NoStream, &[old, new, cancel])
            .await
            .unwrap();
        let read: Vec<OrderEvent> = store
            .read_stream("orders", 1, 10)
            .await
            .unwrap()
            .iter()
            .map(|e| e.decode::<OrderEvent>().unwrap())
            .collect();
        assert_eq!(
            read,
            vec![
                OrderEvent::Placed(OrderPlaced {
                    order: "o-1".into(),
                    prints: 12,
                    counter: None,
                }),
                current,
                cancelled,
            ]
        );
        // A version newer than this build, and an unknown type, are errors, not garbage.
        assert!(matches!(
            codec::decode::<OrderEvent>("order.placed", 3, &[]),
            Err(CodecError::UnknownVersion { version: 3, .. })
        ));
        assert!(matches!(
            codec::decode::<OrderEvent>("order.lost", 1, &[]),
            Err(CodecError::UnknownType(_))
        ));
    }

    pub async fn parked(store: &Store) {
        let m = ParkedMessage {
            consumer: "lab-orders".into(),
            message_id: "m-9".into(),
            subject: "reprint.v1.lab.L1.order.placed".into(),
            payload: vec![0xde, 0xad],
            headers: vec![("Nats-Msg-Id".into(), "m-9".into())],
            deliveries: 5,
            reason: "payload does not decode".into(),
        };
        store.park(&m).await.unwrap();
        let parked = store.parked("lab-orders").await.unwrap();
        assert_eq!(parked.len(), 1);
        assert_eq!(parked[0].message, m);
        assert!(store.parked("other").await.unwrap().is_empty());
    }

    pub async fn reopen(store: &Store, url: &str) {
        store
            .append("keep", ExpectedVersion::NoStream, &[event(1)])
            .await
            .unwrap();
        let again = Store::open(url).await.unwrap();
        assert_eq!(again.stream_version("keep").await.unwrap(), 1);
        again.close().await;
        assert!(matches!(
            Store::open("mysql://nope").await,
            Err(Error::UnsupportedUrl(_))
        ));
    }
}
