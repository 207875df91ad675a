//! The outbox relay and the inbox consumer against a real nats-server and real databases, one
//! suite run on PostgreSQL and on SQLite.

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::PullConsumer};
use futures::future::BoxFuture;
use reprint_bus::consumer::{ConsumerConfig, Handler, HandlerError, InboxConsumer, Incoming};
use reprint_bus::relay::{Relay, RelayConfig};
use reprint_eventstore::{ExpectedVersion, Metadata, NewEvent, OutboxMessage, Store, Transaction};
use reprint_testkit::{NatsServer, TestPostgres, TestSqlite};
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

fn consumer(r: &Rig) -> InboxConsumer<Effects> {
    let mut config = ConsumerConfig::new("effects");
    config.nak_delay = Duration::from_millis(50);
    config.batch_size = 64;
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

macro_rules! suite {
    ($backend:ident, $pg:expr) => {
        mod $backend {
            use super::*;

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
        tokio::time::sleep(Duration::from_millis(700)).await;
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
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(!publish(&r, "order-1-placed", "a").await);
        let o = c.run_once(Duration::from_millis(500)).await.unwrap();
        assert_eq!((o.handled, o.skipped), (0, 1));
        // Both copies in one batch: the second is skipped in the same transaction.
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(!publish(&r, "order-2-placed", "b").await);
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(!publish(&r, "order-2-placed", "b").await);
        let o = c.run_once(Duration::from_millis(500)).await.unwrap();
        assert_eq!((o.handled, o.skipped), (1, 1));
        // Redelivery by JetStream (no ack came back: here, an ack never sent) is skipped too.
        assert!(!publish(&r, "order-3-placed", "c").await);
        let mut batch = r.consumer.fetch().max_messages(1).messages().await.unwrap();
        let mut first = None;
        while let Some(m) = futures::StreamExt::next(&mut batch).await {
            first = Some(m.unwrap());
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
}
