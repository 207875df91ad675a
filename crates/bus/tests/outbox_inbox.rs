//! The outbox relay and the inbox consumer against a real nats-server and real databases, one
//! suite run on PostgreSQL and on SQLite.

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::PullConsumer};
use futures::future::BoxFuture;
use reprint_bus::consumer::{ConsumerConfig, Handler, HandlerError, InboxConsumer, Incoming};
use reprint_bus::relay::{Relay, RelayConfig};
use reprint_eventstore::{ExpectedVersion, Metadata, NewEvent, OutboxMessage, Store, Transaction};
use reprint_testkit::{NatsServer, TestPostgres, TestSqlite, wait_for};
use uuid::Uuid;

/// Everything a case needs: a store on a fresh database, a private nats-server, a stream with
/// its own subjects and a durable consumer on it.
struct Rig {
    store: Store,
    js: jetstream::Context,
    consumer: PullConsumer,
    subject: String,
    stream: String,
    _nats: NatsServer,
    _pg: Option<TestPostgres>,
    _sqlite: Option<TestSqlite>,
}

const MAX_DELIVER: i64 = 3;

async fn rig(pg: bool, duplicate_window: Duration) -> Rig {
    let (store, _pg, _sqlite) = if pg {
        let db = TestPostgres::create().await;
        (Store::open(&db.url).await.unwrap(), Some(db), None)
    } else {
        let db = TestSqlite::create();
        (Store::open(&db.url).await.unwrap(), None, Some(db))
    };
    let nats = NatsServer::start();
    let client = async_nats::connect(&nats.url).await.unwrap();
    let js = jetstream::new(client);
    let tag = Uuid::new_v4().simple().to_string();
    let stream = format!("T{tag}");
    js.create_stream(jetstream::stream::Config {
        name: stream.clone(),
        subjects: vec![format!("test.{tag}.>")],
        storage: jetstream::stream::StorageType::File,
        duplicate_window,
        ..Default::default()
    })
    .await
    .unwrap();
    let consumer = js
        .create_consumer_on_stream(
            jetstream::consumer::pull::Config {
                durable_name: Some("effects".into()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                max_deliver: MAX_DELIVER,
                ack_wait: Duration::from_secs(30),
                ..Default::default()
            },
            stream.as_str(),
        )
        .await
        .unwrap();
    Rig {
        store,
        js,
        consumer,
        subject: format!("test.{tag}.msg"),
        stream,
        _nats: nats,
        _pg,
        _sqlite,
    }
}

/// Appends one event per new message to the stream `effects`, with a fresh event id: only
/// the inbox can keep a redelivered message from taking effect twice. Payload `poison` is a
/// permanent error; `flaky` is a transient error every time.
struct Effects;

impl Handler for Effects {
    fn handle<'a>(
        &'a self,
        tx: &'a mut Transaction,
        message: &'a Incoming,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            match &message.payload[..] {
                b"poison" => return Err(HandlerError::permanent("cannot read this")),
                b"flaky" => return Err(HandlerError::transient("lab printer offline")),
                _ => {}
            }
            tx.append(
                "effects",
                ExpectedVersion::Any,
                &[NewEvent {
                    event_id: Uuid::new_v4(),
                    event_type: "test.effect".into(),
                    schema_version: 1,
                    payload: message.payload.to_vec(),
                    metadata: Metadata::new(),
                }],
            )
            .await?;
            Ok(())
        })
    }
}

/// [`Effects`] taking `0` per message: a lab rendering, a slow database.
struct Slow(Duration);

impl Handler for Slow {
    fn handle<'a>(
        &'a self,
        tx: &'a mut Transaction,
        message: &'a Incoming,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            tokio::time::sleep(self.0).await;
            Effects.handle(tx, message).await
        })
    }
}

fn consumer(r: &Rig) -> InboxConsumer<Effects> {
    let mut config = ConsumerConfig::new("effects");
    config.nak_delay = Duration::from_millis(50);
    config.batch_size = 64;
    config.lag_interval = Duration::from_millis(100);
    InboxConsumer::new(r.store.clone(), r.consumer.clone(), Effects, config)
}

fn relay(r: &Rig) -> Relay {
    Relay::new(
        r.store.clone(),
        r.js.clone(),
        RelayConfig {
            batch_size: 16,
            poll_interval: Duration::from_millis(20),
            error_backoff: Duration::from_millis(50),
        },
    )
}

/// Commits `n` domain events, each with its outbox message, in one transaction.
async fn commit_with_outbox(r: &Rig, n: usize) -> Vec<String> {
    let mut tx = r.store.begin().await.unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        let e = NewEvent {
            event_id: Uuid::now_v7(),
            event_type: "test.placed".into(),
            schema_version: 1,
            payload: format!("m{i}").into_bytes(),
            metadata: Metadata::new(),
        };
        tx.append(
            &format!("order-{i}"),
            ExpectedVersion::NoStream,
            std::slice::from_ref(&e),
        )
        .await
        .unwrap();
        tx.enqueue(&[OutboxMessage::for_event(&r.subject, &e)])
            .await
            .unwrap();
        ids.push(e.event_id.to_string());
    }
    tx.commit().await.unwrap();
    ids
}

async fn effects(r: &Rig) -> u64 {
    r.store.stream_version("effects").await.unwrap()
}

async fn stream_messages(r: &Rig) -> u64 {
    let mut s = r.js.get_stream(&r.stream).await.unwrap();
    s.info().await.unwrap().state.messages
}

/// Runs the consumer until `done` holds or 20 s pass.
async fn consume_until(c: &InboxConsumer<Effects>, mut done: impl FnMut(u64) -> bool, r: &Rig) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n = effects(r).await;
        if done(n) {
            return;
        }
        assert!(Instant::now() < deadline, "consumer stuck at {n} effects");
        c.run_once(Duration::from_millis(100)).await.unwrap();
    }
}

/// Publishes with a given `Nats-Msg-Id`, awaiting the ack.
async fn publish(r: &Rig, id: &str, payload: &str) -> bool {
    let ack =
        r.js.send_publish(
            r.subject.clone(),
            jetstream::message::PublishMessage::build()
                .payload(payload.to_string().into())
                .message_id(id),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    ack.duplicate
}

/// Publishes again a message id published before, once JetStream has forgotten it (its
/// duplicate window has passed): a publish refused as a duplicate stores nothing, so it is
/// tried again until one is taken, for at most 20 s.
async fn publish_after_window(r: &Rig, id: &str, payload: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while publish(r, id, payload).await {
        assert!(
            Instant::now() < deadline,
            "{id} still a duplicate 20 s after its window"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The durable consumer `effects` once it has nothing left pending or unacked (acks reach the
/// server's count asynchronously), at most 20 s.
async fn consumer_idle(r: &Rig) -> jetstream::consumer::Info {
    wait_for(
        Duration::from_secs(20),
        "consumer effects with nothing pending or unacked",
        async || {
            r.js.get_stream(&r.stream)
                .await
                .unwrap()
                .consumer_info("effects")
                .await
                .unwrap()
        },
        |info| info.num_pending + info.num_ack_pending as u64 == 0,
    )
    .await
}

/// Long enough after a 300 ms duplicate window for nats-server to have forgotten a message id:
/// it purges ids on a timer of the window's length, so an id can live up to two windows, more
/// when the machine is loaded.
const AFTER_WINDOW: Duration = Duration::from_millis(1200);

macro_rules! suite {
    ($backend:ident, $pg:expr) => {
        mod $backend {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_deleted_durable_consumer_is_created_again_and_intake_goes_on() {
                cases::durable_recreated(rig($pg, Duration::from_secs(120)).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn outbox_rows_are_published_and_take_effect_once() {
                cases::relay_and_consume(rig($pg, Duration::from_secs(120)).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn relay_killed_between_publish_and_mark_sent() {
                cases::relay_killed(rig($pg, Duration::from_secs(120)).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn relay_killed_and_restarted_after_the_dedup_window() {
                cases::relay_killed_after_window(rig($pg, Duration::from_millis(300)).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn message_delivered_twice_takes_effect_once() {
                cases::delivered_twice(rig($pg, Duration::from_millis(300)).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn poison_message_is_parked_and_the_consumer_goes_on() {
                cases::poison(rig($pg, Duration::from_secs(120)).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_running_consumer_reports_its_lag_until_it_is_back_to_zero() {
                cases::lag(rig($pg, Duration::from_secs(120)).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_stopped_consumer_gives_back_what_it_had_not_handled() {
                cases::gives_back_on_shutdown(rig($pg, Duration::from_secs(120)).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_batch_handled_longer_than_ack_wait_is_not_redelivered() {
                cases::long_batch_in_progress(rig($pg, Duration::from_secs(120)).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_consumer_whose_durable_is_deleted_stops_with_an_error() {
                cases::durable_deleted(rig($pg, Duration::from_secs(120)).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn relay_and_consumer_run_until_shutdown() {
                cases::run_loops(rig($pg, Duration::from_secs(120)).await).await;
            }
        }
    };
}

suite!(pg, true);
suite!(sqlite, false);

mod cases {
    use super::*;

    /// An operator deletes the site's durable consumer while the service runs (or JetStream
    /// loses it): intake must go on without a restart, and the new durable, which starts at
    /// the beginning of the stream, must not make old messages take effect again.
    pub async fn durable_recreated(r: Rig) {
        let durable = reprint_bus::streams::DurableConsumer {
            stream: r.stream.clone(),
            config: jetstream::consumer::pull::Config {
                durable_name: Some("effects".into()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                max_deliver: MAX_DELIVER,
                ack_wait: Duration::from_secs(30),
                ..Default::default()
            },
        };
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let store = r.store.clone();
        let task = tokio::spawn(reprint_bus::consumer::run_until_shutdown(
            r.js.clone(),
            durable,
            move |pull| {
                let mut config = ConsumerConfig::new("effects");
                config.nak_delay = Duration::from_millis(50);
                InboxConsumer::new(store.clone(), pull, Effects, config)
            },
            Duration::from_millis(100),
            move || {
                let mut stopped = stopped.clone();
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                }
            },
        ));
        let wait_effects = |n: u64| {
            let r = &r;
            async move {
                let deadline = Instant::now() + Duration::from_secs(30);
                while effects(r).await < n {
                    assert!(
                        Instant::now() < deadline,
                        "intake stuck at {}",
                        effects(r).await
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        publish(&r, "order-a", "a").await;
        wait_effects(1).await;

        r.js.get_stream(&r.stream)
            .await
            .unwrap()
            .delete_consumer("effects")
            .await
            .unwrap();
        publish(&r, "order-b", "b").await;
        wait_effects(2).await;
        // The new durable was delivered "a" again: once it is done with "a" and "b", the inbox
        // has kept "a" from a second effect.
        let info = consumer_idle(&r).await;
        assert_eq!(effects(&r).await, 2, "{info:?}");

        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(15), task)
            .await
            .expect("stops on shutdown")
            .unwrap();
    }

    pub async fn relay_and_consume(r: Rig) {
        commit_with_outbox(&r, 40).await;
        assert_eq!(r.store.unsent_count().await.unwrap(), 40);
        let relay = relay(&r);
        let mut sent = 0;
        while sent < 40 {
            let n = relay.run_once().await.unwrap();
            assert!(n > 0);
            sent += n;
        }
        assert_eq!(relay.run_once().await.unwrap(), 0);
        assert_eq!(r.store.unsent_count().await.unwrap(), 0);
        assert_eq!(stream_messages(&r).await, 40);
        let c = consumer(&r);
        consume_until(&c, |n| n == 40, &r).await;
        // Order is kept: the effects are m0..m39 in outbox order.
        let events = r.store.read_stream("effects", 1, 100).await.unwrap();
        let payloads: Vec<String> = events
            .iter()
            .map(|e| String::from_utf8(e.payload.clone()).unwrap())
            .collect();
        assert_eq!(
            payloads,
            (0..40).map(|i| format!("m{i}")).collect::<Vec<_>>()
        );
        let o = c.run_once(Duration::from_millis(200)).await.unwrap();
        assert_eq!(o.handled + o.skipped, 0);
    }

    pub async fn relay_killed(r: Rig) {
        let ids = commit_with_outbox(&r, 10).await;
        // The first relay publishes and dies before marking anything sent.
        let first = relay(&r);
        let published = first.publish_pending().await.unwrap();
        assert_eq!(published.acked.len(), 10);
        drop(first);
        assert_eq!(r.store.unsent_count().await.unwrap(), 10);
        // Its successor publishes the same rows again: JetStream drops the copies.
        let second = relay(&r);
        let again = second.publish_pending().await.unwrap();
        assert_eq!(again.duplicates, 10);
        r.store.mark_sent(&again.acked).await.unwrap();
        assert_eq!(r.store.unsent_count().await.unwrap(), 0);
        assert_eq!(stream_messages(&r).await, 10);
        let c = consumer(&r);
        consume_until(&c, |n| n == 10, &r).await;
        c.run_once(Duration::from_millis(200)).await.unwrap();
        assert_eq!(effects(&r).await, 10);
        for id in ids {
            assert!(r.store.inbox_contains("effects", &id).await.unwrap());
        }
    }

    pub async fn relay_killed_after_window(r: Rig) {
        commit_with_outbox(&r, 10).await;
        let first = relay(&r);
        assert_eq!(first.publish_pending().await.unwrap().acked.len(), 10);
        drop(first);
        // The consumer handles the first copies meanwhile.
        let c = consumer(&r);
        consume_until(&c, |n| n == 10, &r).await;
        // The relay comes back after the duplicate window: JetStream takes the copies...
        tokio::time::sleep(AFTER_WINDOW).await;
        let second = relay(&r);
        let mut sent = 0;
        while sent < 10 {
            sent += second.run_once().await.unwrap();
        }
        assert_eq!(
            stream_messages(&r).await,
            20,
            "copies stored after the window"
        );
        // ...and the inbox skips them.
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut skipped = 0;
        while skipped < 10 {
            assert!(Instant::now() < deadline);
            let o = c.run_once(Duration::from_millis(100)).await.unwrap();
            assert_eq!(o.handled, 0);
            skipped += o.skipped;
        }
        assert_eq!(effects(&r).await, 10);
    }

    pub async fn delivered_twice(r: Rig) {
        let c = consumer(&r);
        // Twice inside the duplicate window: JetStream keeps one.
        assert!(!publish(&r, "order-1-placed", "a").await);
        assert!(publish(&r, "order-1-placed", "a").await);
        consume_until(&c, |n| n == 1, &r).await;
        // After the window (300 ms here, 2 minutes in production) the copy is delivered and
        // the inbox skips it.
        publish_after_window(&r, "order-1-placed", "a").await;
        let o = c.run_once(Duration::from_millis(500)).await.unwrap();
        assert_eq!((o.handled, o.skipped), (0, 1));
        // Both copies in one batch: the second is skipped in the same transaction.
        tokio::time::sleep(AFTER_WINDOW).await;
        assert!(!publish(&r, "order-2-placed", "b").await);
        publish_after_window(&r, "order-2-placed", "b").await;
        let o = c.run_once(Duration::from_millis(500)).await.unwrap();
        assert_eq!((o.handled, o.skipped), (1, 1));
        // Redelivery by JetStream (no ack came back: here, an ack never sent) is skipped too.
        assert!(!publish(&r, "order-3-placed", "c").await);
        // A fetch answers at once with what the consumer has: the message just published may
        // reach it a moment later, so ask until it is there.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut first = None;
        while first.is_none() {
            assert!(Instant::now() < deadline, "one message within 10 s");
            let mut batch = r.consumer.fetch().max_messages(1).messages().await.unwrap();
            while let Some(m) = futures::StreamExt::next(&mut batch).await {
                first = Some(m.unwrap());
            }
            if first.is_none() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let first = first.expect("one message");
        // Handle it without acking: effect committed, then the "process" dies.
        let mut tx = r.store.begin().await.unwrap();
        assert_eq!(
            tx.inbox_record("effects", &["order-3-placed"])
                .await
                .unwrap(),
            vec![true]
        );
        tx.append(
            "effects",
            ExpectedVersion::Any,
            &[NewEvent {
                event_id: Uuid::new_v4(),
                event_type: "test.effect".into(),
                schema_version: 1,
                payload: first.payload.to_vec(),
                metadata: Metadata::new(),
            }],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        first.ack_with(jetstream::AckKind::Nak(None)).await.unwrap();
        let o = c.run_once(Duration::from_millis(500)).await.unwrap();
        assert_eq!((o.handled, o.skipped), (0, 1));
        assert_eq!(effects(&r).await, 3);
    }

    pub async fn poison(r: Rig) {
        let c = consumer(&r);
        for (id, payload) in [
            ("p1", "ok-1"),
            ("p2", "poison"),
            ("p3", "ok-2"),
            ("p4", "flaky"),
            ("p5", "ok-3"),
        ] {
            publish(&r, id, payload).await;
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let parked = r.store.parked("effects").await.unwrap();
            if parked.len() == 2 && effects(&r).await == 3 {
                break;
            }
            assert!(Instant::now() < deadline, "parked {parked:?}");
            c.run_once(Duration::from_millis(100)).await.unwrap();
        }
        let parked = r.store.parked("effects").await.unwrap();
        let p2 = parked
            .iter()
            .find(|p| p.message.message_id == "p2")
            .unwrap();
        assert_eq!(p2.message.payload, b"poison");
        assert_eq!(p2.message.deliveries, 1, "a permanent error parks at once");
        assert!(p2.message.reason.contains("cannot read this"));
        assert_eq!(p2.message.subject, r.subject);
        let p4 = parked
            .iter()
            .find(|p| p.message.message_id == "p4")
            .unwrap();
        assert_eq!(p4.message.deliveries, MAX_DELIVER as u64);
        assert!(p4.message.reason.contains("lab printer offline"));
        // Termed: nothing comes back; the consumer goes on with new messages.
        publish(&r, "p6", "ok-4").await;
        consume_until(&c, |n| n == 4, &r).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let o = c.run_once(Duration::from_millis(300)).await.unwrap();
        assert_eq!(o, Default::default());
        assert_eq!(r.store.parked("effects").await.unwrap().len(), 2);
        let payloads: Vec<Vec<u8>> = r
            .store
            .read_stream("effects", 1, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.payload)
            .collect();
        assert_eq!(
            payloads,
            vec![
                b"ok-1".to_vec(),
                b"ok-2".to_vec(),
                b"ok-3".to_vec(),
                b"ok-4".to_vec()
            ]
        );
    }

    pub async fn run_loops(r: Rig) {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let relay = relay(&r);
        let waker = relay.waker();
        let mut rx1 = stop_rx.clone();
        let relay_task = tokio::spawn(relay.run(async move {
            let _ = rx1.wait_for(|s| *s).await;
        }));
        let mut rx2 = stop_rx.clone();
        let consumer_task = tokio::spawn(consumer(&r).run(async move {
            let _ = rx2.wait_for(|s| *s).await;
        }));
        commit_with_outbox(&r, 30).await;
        waker.wake();
        let deadline = Instant::now() + Duration::from_secs(20);
        while effects(&r).await < 30 {
            assert!(
                Instant::now() < deadline,
                "loops stuck at {}",
                effects(&r).await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), relay_task)
            .await
            .expect("relay stops on shutdown")
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), consumer_task)
            .await
            .expect("consumer stops on shutdown")
            .unwrap()
            .unwrap();
        assert_eq!(effects(&r).await, 30);
        assert_eq!(r.store.unsent_count().await.unwrap(), 0);
    }

    pub async fn lag(r: Rig) {
        for i in 0..5 {
            publish(&r, &format!("lag-{i}"), "x").await;
        }
        // JetStream counts a stored message as pending for the consumer a moment after
        // acking its publish.
        wait_for(
            Duration::from_secs(10),
            "five messages waiting before the consumer runs",
            async || reprint_bus::consumer::lag_of(&r.consumer).await.unwrap(),
            |n| *n == 5,
        )
        .await;
        let reports: std::sync::Arc<std::sync::Mutex<Vec<(String, u64)>>> = Default::default();
        let sink = reports.clone();
        let mut c = consumer(&r);
        c = c.with_lag_reporter(std::sync::Arc::new(move |name: &str, n: u64| {
            sink.lock().unwrap().push((name.to_string(), n));
        }));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut rx = stop_rx.clone();
        let task = tokio::spawn(c.run(async move {
            let _ = rx.wait_for(|s| *s).await;
        }));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let last = reports.lock().unwrap().last().cloned();
            if effects(&r).await == 5 && last.as_ref().is_some_and(|(_, n)| *n == 0) {
                assert_eq!(last.unwrap().0, "effects", "labelled by the durable's name");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "lag reports: {:?}",
                reports.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("consumer stops on shutdown")
            .unwrap()
            .unwrap();
        let after = reports.lock().unwrap().len();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            reports.lock().unwrap().len(),
            after,
            "the lag poller stops with the consumer"
        );
    }

    /// A service stopped (cleanly) while messages wait: what it had pulled and not handled
    /// goes to the next consumer at once, not after the consumer's 30 s ack_wait.
    pub async fn gives_back_on_shutdown(r: Rig) {
        const N: usize = 24;
        for i in 0..N {
            publish(&r, &format!("order-{i}-placed"), &format!("m{i}")).await;
        }
        let mut config = ConsumerConfig::new("effects");
        config.batch_size = 4;
        let slow = InboxConsumer::new(
            r.store.clone(),
            r.consumer.clone(),
            Slow(Duration::from_millis(100)),
            config,
        );
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut rx = stop_rx.clone();
        let task = tokio::spawn(slow.run(async move {
            let _ = rx.wait_for(|s| *s).await;
        }));
        let deadline = Instant::now() + Duration::from_secs(20);
        while effects(&r).await < 4 {
            assert!(Instant::now() < deadline, "slow consumer handled nothing");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("consumer stops on shutdown")
            .unwrap()
            .unwrap();
        let handled_before = effects(&r).await;
        assert!(
            handled_before < N as u64,
            "stopped with messages left ({handled_before} of {N} handled)"
        );

        // The "restarted" service: a new consumer on the same durable.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut rx = stop_rx.clone();
        let started = Instant::now();
        let task = tokio::spawn(consumer(&r).run(async move {
            let _ = rx.wait_for(|s| *s).await;
        }));
        while effects(&r).await < N as u64 {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "after a restart only {} of {N} handled in 5 s (the rest waits for ack_wait)",
                effects(&r).await
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let took = started.elapsed();
        stop_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("consumer stops on shutdown")
            .unwrap()
            .unwrap();
        // Each exactly once: the inbox kept the ones handled before the stop from counting
        // twice.
        let mut payloads: Vec<Vec<u8>> = r
            .store
            .read_stream("effects", 1, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.payload)
            .collect();
        payloads.sort();
        let mut expected: Vec<Vec<u8>> = (0..N).map(|i| format!("m{i}").into_bytes()).collect();
        expected.sort();
        assert_eq!(payloads, expected);
        consumer_idle(&r).await;
        eprintln!(
            "{handled_before} handled before the stop, the other {} in {took:?} after the restart",
            N as u64 - handled_before
        );
    }

    /// A batch that takes three times the consumer's ack_wait (a lab render, a database that
    /// stalls) while another instance waits on the same durable: the batch says it is in
    /// progress, so JetStream does not hand its messages to the other instance meanwhile.
    pub async fn long_batch_in_progress(r: Rig) {
        let quick =
            r.js.create_consumer_on_stream(
                jetstream::consumer::pull::Config {
                    durable_name: Some("quick".into()),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    max_deliver: MAX_DELIVER,
                    ack_wait: Duration::from_secs(1),
                    ..Default::default()
                },
                r.stream.as_str(),
            )
            .await
            .unwrap();
        publish(&r, "order-1-placed", "a").await;
        publish(&r, "order-2-placed", "b").await;
        let slow = InboxConsumer::new(
            r.store.clone(),
            quick.clone(),
            Slow(Duration::from_millis(1500)),
            ConsumerConfig::new("effects"),
        );
        let first = tokio::spawn(async move { slow.run_once(Duration::from_millis(200)).await });
        // Both messages in the slow instance's hands before the other instance starts.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let info = quick.clone().info().await.unwrap().clone();
            if info.num_ack_pending == 2 && info.num_pending == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "not pulled: {info:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let other = InboxConsumer::new(
            r.store.clone(),
            quick.clone(),
            Effects,
            ConsumerConfig::new("effects"),
        );
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut rx = stop_rx.clone();
        let other = tokio::spawn(other.run(async move {
            let _ = rx.wait_for(|s| *s).await;
        }));
        let outcome = tokio::time::timeout(Duration::from_secs(20), first)
            .await
            .expect("slow batch ends")
            .unwrap()
            .unwrap();
        assert_eq!(outcome.handled, 2);
        // Time for a late redelivery to show.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stop_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), other)
            .await
            .expect("consumer stops on shutdown")
            .unwrap()
            .unwrap();
        let info = wait_for(
            Duration::from_secs(10),
            "both messages acked",
            async || quick.clone().info().await.unwrap().clone(),
            |info| (info.num_pending, info.num_ack_pending) == (0, 0),
        )
        .await;
        assert_eq!(
            info.delivered.consumer_sequence, 2,
            "each message delivered once, none redelivered during the long batch"
        );
        assert_eq!(effects(&r).await, 2);
    }

    /// The durable deleted under a running consumer (an operator's mistake, a stream
    /// re-created): the run ends with an error, so that the service re-opens the consumer,
    /// instead of pulling from nothing forever.
    pub async fn durable_deleted(r: Rig) {
        let task = tokio::spawn(consumer(&r).run(futures::future::pending()));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stream = r.js.get_stream(&r.stream).await.unwrap();
        assert!(stream.delete_consumer("effects").await.unwrap().success);
        let result = tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the run ends once its durable is gone")
            .unwrap();
        assert!(result.is_err(), "{result:?}");
    }
}
