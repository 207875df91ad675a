//! Connecting while the server is down, and reconnecting after it comes back.

use std::time::{Duration, Instant};

use reprint_bus::BusError;
use reprint_bus::connect::{ConnectSettings, connect, connect_and_wait};
use reprint_bus::streams::{StreamSettings, provision_streams};
use reprint_testkit::NatsServer;

fn settings(url: &str) -> ConnectSettings {
    ConnectSettings::new(url, "test-connect")
        .with_backoff(Duration::from_millis(50), Duration::from_millis(500))
}

#[tokio::test]
async fn a_service_starts_while_nats_is_down_and_connects_when_it_comes_up() {
    let mut server = NatsServer::start();
    server.stop();

    let started = Instant::now();
    let conn = connect(&settings(&server.url))
        .await
        .expect("starts offline");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "connect does not block"
    );
    assert!(!conn.is_connected());

    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!conn.is_connected(), "still retrying");

    server.start_again();
    conn.wait_connected(Duration::from_secs(10))
        .await
        .expect("connects once the server is up");
    conn.client.flush().await.expect("flush once connected");
    provision_streams(&conn.jetstream, &StreamSettings::default())
        .await
        .expect("JetStream usable after a late start");

    // The link drops and comes back: the client reconnects by itself, the streams are kept.
    server.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!conn.is_connected());
    server.start_again();
    conn.wait_connected(Duration::from_secs(10))
        .await
        .expect("reconnects");
    let info = conn
        .jetstream
        .get_stream("REPRINT_LAB")
        .await
        .expect("stream survives the restart");
    assert_eq!(info.cached_info().config.name, "REPRINT_LAB");
}

#[tokio::test]
async fn connect_and_wait_gives_up_after_its_timeout() {
    let mut server = NatsServer::start();
    server.stop();
    let started = Instant::now();
    let err = connect_and_wait(&settings(&server.url), Duration::from_millis(600))
        .await
        .unwrap_err();
    assert!(matches!(err, BusError::Connect { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn malformed_settings_fail_at_once() {
    assert!(connect(&ConnectSettings::new("", "t")).await.is_err());
    assert!(
        connect(&ConnectSettings::new("nats://host:notaport", "t"))
            .await
            .is_err()
    );
    let creds = settings("nats://127.0.0.1:1").with_auth(
        reprint_bus::connect::Auth::CredentialsFile("/nonexistent/x.creds".into()),
    );
    assert!(connect(&creds).await.is_err());
}
