//! Streams and durable consumers against a real nats-server.

use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use futures::StreamExt;
use reprint_bus::connect::{ConnectSettings, Connection, connect_and_wait};
use reprint_bus::streams::{
    self, STREAM_COUNTER, STREAM_LAB, STREAM_STATUS, StreamSettings, durable_consumer_for,
    ensure_consumer, provision_streams,
};
use reprint_bus::subjects::{self, Address, OrderId, SiteId, SiteKind};
use reprint_testkit::NatsServer;

async fn conn(server: &NatsServer) -> Connection {
    connect_and_wait(
        &ConnectSettings::new(&server.url, "test-streams"),
        Duration::from_secs(10),
    )
    .await
    .expect("connect")
}

fn site(s: &str) -> SiteId {
    SiteId::parse(s).unwrap()
}

async fn fetch_all(consumer: &async_nats::jetstream::consumer::PullConsumer) -> Vec<String> {
    let mut batch = consumer
        .fetch()
        .max_messages(100)
        .expires(Duration::from_millis(500))
        .messages()
        .await
        .unwrap();
    let mut subjects = vec![];
    while let Some(m) = batch.next().await {
        let m = m.unwrap();
        subjects.push(m.subject.to_string());
        m.ack().await.unwrap();
    }
    subjects
}

#[tokio::test]
async fn provisioning_twice_is_a_no_op() {
    let server = NatsServer::start();
    let c = conn(&server).await;
    let settings = StreamSettings::default();

    let first = provision_streams(&c.jetstream, &settings).await.unwrap();
    let names: Vec<_> = first.iter().map(|i| i.config.name.clone()).collect();
    assert!(names.contains(&STREAM_LAB.to_string()));
    assert!(names.contains(&STREAM_STATUS.to_string()));

    let lab = site("lab-a");
    let durable = durable_consumer_for(&lab, SiteKind::Lab);
    let consumer = ensure_consumer(&c.jetstream, &durable).await.unwrap();
    c.jetstream
        .publish(subjects::order_placed(&lab), "one".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(
        fetch_all(&consumer).await,
        vec!["reprint.v1.lab.lab-a.order.placed"]
    );

    // Again: same configuration, messages and consumer progress kept.
    let second = provision_streams(&c.jetstream, &settings).await.unwrap();
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a.config, b.config, "{}", a.config.name);
        assert_eq!(a.created, b.created);
    }
    let mut again = ensure_consumer(&c.jetstream, &durable).await.unwrap();
    let info = again.info().await.unwrap();
    assert_eq!(info.ack_floor.stream_sequence, 1);
    assert_eq!(info.num_pending, 0);
    let mut lab_stream = c.jetstream.get_stream(STREAM_LAB).await.unwrap();
    assert_eq!(lab_stream.info().await.unwrap().state.messages, 1);
}

#[tokio::test]
async fn a_site_consumer_sees_only_its_own_inbox() {
    let server = NatsServer::start();
    let c = conn(&server).await;
    provision_streams(&c.jetstream, &StreamSettings::default())
        .await
        .unwrap();
    let (a, b) = (site("c-a"), site("c-b"));
    for s in [&a, &b, &a] {
        c.jetstream
            .publish(subjects::delivery_dispatched(s), "d".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let ca = ensure_consumer(&c.jetstream, &durable_consumer_for(&a, SiteKind::Counter))
        .await
        .unwrap();
    assert_eq!(
        ca.cached_info().config.filter_subject,
        "reprint.v1.counter.c-a.>"
    );
    assert_eq!(fetch_all(&ca).await.len(), 2);
    let cb = ensure_consumer(&c.jetstream, &durable_consumer_for(&b, SiteKind::Counter))
        .await
        .unwrap();
    assert_eq!(fetch_all(&cb).await.len(), 1);
    assert_eq!(
        c.jetstream
            .get_stream(STREAM_COUNTER)
            .await
            .unwrap()
            .cached_info()
            .state
            .messages,
        3
    );
}

#[tokio::test]
async fn duplicate_message_ids_are_dropped_within_the_window() {
    let server = NatsServer::start();
    let c = conn(&server).await;
    provision_streams(&c.jetstream, &StreamSettings::default())
        .await
        .unwrap();
    let order = OrderId::parse("o-1").unwrap();
    let mut duplicates = vec![];
    for _ in 0..2 {
        let ack = c
            .jetstream
            .send_publish(
                subjects::status(&subjects::SiteId::parse("lab-a").unwrap(), &order),
                PublishMessage::build()
                    .payload("printing".into())
                    .message_id("event-1"),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        duplicates.push(ack.duplicate);
    }
    assert_eq!(duplicates, vec![false, true]);
    let s = c.jetstream.get_stream(STREAM_STATUS).await.unwrap();
    assert_eq!(s.cached_info().state.messages, 1);
    assert_eq!(
        s.cached_info().config.duplicate_window,
        streams::DUPLICATE_WINDOW
    );
}

#[tokio::test]
async fn bad_site_ids_never_make_a_subject() {
    assert!(SiteId::parse("lab.a").is_err());
    assert!(SiteId::parse("lab *").is_err());
    assert!(Address::parse(SiteKind::Counter, ">").is_err());
}

#[tokio::test]
async fn provision_sets_up_everything_and_is_repeatable() {
    let server = NatsServer::start();
    let c = conn(&server).await;
    let settings = reprint_bus::ProvisionSettings::with_replicas(1);
    let first = reprint_bus::provision(&c.jetstream, &settings)
        .await
        .unwrap();
    let again = reprint_bus::provision(&c.jetstream, &settings)
        .await
        .unwrap();
    assert_eq!(first.images.settings(), again.images.settings());
    let mut names: Vec<String> = c
        .jetstream
        .stream_names()
        .map(|n| n.unwrap())
        .collect()
        .await;
    names.sort();
    assert_eq!(
        names,
        vec![
            "KV_reprint_sites",
            "OBJ_reprint_images",
            "REPRINT_COUNTER",
            "REPRINT_GATEWAY",
            "REPRINT_LAB",
            "REPRINT_STATUS"
        ]
    );
}

#[tokio::test]
async fn replicas_a_single_server_cannot_have_fail_at_once_with_the_reason() {
    // A configuration mistake (3 replicas on a server that is not in a cluster) is not worth
    // waiting for: the service must stop at once and say why, not retry for `ready_within`.
    let server = NatsServer::start();
    let c = conn(&server).await;
    let started = std::time::Instant::now();
    let err = provision_streams(&c.jetstream, &StreamSettings::clustered())
        .await
        .expect_err("3 replicas on a single server");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "refused after {:?}: {err}",
        started.elapsed()
    );
    let text = format!("{err:#}");
    assert!(text.contains("REPRINT_"), "names the stream: {text}");
    assert!(text.to_lowercase().contains("replicas"), "says why: {text}");
}

/// A network provisioned by an older version has its inbox streams on `reprint.v1.<kind>.>`
/// and its status stream on `reprint.v1.status.>`: the next start updates them to the
/// per-topic subjects a leaf node can reach, keeping their messages and consumers.
#[tokio::test]
async fn streams_of_an_older_version_are_updated_in_place() {
    let server = NatsServer::start();
    let c = conn(&server).await;
    let settings = StreamSettings::default();
    for mut config in streams::stream_configs(&settings) {
        config.subjects = vec![if config.name == STREAM_STATUS {
            "reprint.v1.status.>".to_string()
        } else {
            format!(
                "reprint.v1.{}.>",
                config.name.trim_start_matches("REPRINT_").to_lowercase()
            )
        }];
        c.jetstream.create_stream(config).await.unwrap();
    }
    let lab = site("lab-a");
    let consumer = ensure_consumer(&c.jetstream, &durable_consumer_for(&lab, SiteKind::Lab))
        .await
        .unwrap();
    for subject in [
        subjects::order_placed(&lab),
        subjects::collection_recorded(&lab),
        subjects::status(&lab, &OrderId::parse("o-1").unwrap()),
    ] {
        c.jetstream
            .publish(subject, "old".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    assert_eq!(fetch_all(&consumer).await.len(), 2);
    c.jetstream
        .publish(subjects::settlement_recorded(&lab), "old".into())
        .await
        .unwrap()
        .await
        .unwrap();

    let infos = provision_streams(&c.jetstream, &settings).await.unwrap();
    let version = c.client.server_info().version;
    let lab_stream = infos.iter().find(|i| i.config.name == STREAM_LAB).unwrap();
    assert_eq!(
        lab_stream.config.subjects,
        streams::subjects_for_server(&subjects::inbox_stream_subjects(SiteKind::Lab), &version)
    );
    assert_eq!(lab_stream.state.messages, 3);
    let status = infos
        .iter()
        .find(|i| i.config.name == STREAM_STATUS)
        .unwrap();
    assert_eq!(
        status.config.subjects,
        streams::subjects_for_server(&[subjects::status_wildcard()], &version)
    );
    assert_eq!(status.state.messages, 1);
    // The lab's consumer goes on where it was: the message it had not read yet, then new ones.
    let consumer = ensure_consumer(&c.jetstream, &durable_consumer_for(&lab, SiteKind::Lab))
        .await
        .unwrap();
    c.jetstream
        .publish(subjects::statement_issued(&lab), "new".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(
        fetch_all(&consumer).await,
        vec![
            "reprint.v1.lab.lab-a.settlement.recorded",
            "reprint.v1.lab.lab-a.statement.issued"
        ]
    );
}
