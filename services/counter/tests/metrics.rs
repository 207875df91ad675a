//! `/metrics` of the counter after one internet order went through it: orders per stage
//! counted once per real move (a redelivered dispatch counts nothing), the event store's append
//! latency by stream kind, and the inbox consumer's lag, back to 0 once quiet.

mod common;

use std::time::Duration;

use chrono::{TimeZone, Utc};
use common::*;
use reprint_domain::file::Route;
use reprint_domain::*;
use reprint_testkit::{NatsServer, wait_for};

use reprint_testkit::metric_series as series;

async fn metrics_page(counter: &TestCounter) -> String {
    reqwest::get(format!("{}/metrics", counter.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn metrics_count_a_delivery_and_its_pickup_once_with_latency_and_lag() {
    let nats = NatsServer::start();
    let lab = LabPeer::start(&nats.url).await;
    let counter = spawn(&nats.url, None, "").await;
    let at = chrono_tz::Asia::Tokyo
        .with_ymd_and_hms(2026, 11, 18, 10, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let order = OrderId::from_parts(at.timestamp_millis() as u64, [7; 10]);
    let items = vec![OrderItem {
        image: ImageId::of_bytes(&[7]),
        name: "IMG_7.JPG".into(),
        size: PrintSize::L,
        quantity: 1,
    }];
    let r = lab.reception(order, Route::Internet, items, "B0000455", at);
    lab.dispatch(
        r.clone(),
        customer("Hanako Yamada", "03-1234-5678"),
        None,
        at,
    )
    .await;
    let (_, found) = {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let (s, v) = counter.get("/api/v1/pickups?q=B0000455").await;
            if s == 200 && v.as_array().is_some_and(|a| !a.is_empty()) {
                break (s, v);
            }
            assert!(tokio::time::Instant::now() < deadline, "no delivery: {v}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let number = found[0]["reception_number"].as_str().unwrap().to_string();
    let first = counter.wait_ready(&number).await;
    assert!(first["order"]["arrived_at"].is_string(), "{first}");
    // The same dispatch again under another message id (as after JetStream's window).
    let msg = reprint_domain::protocol::DeliveryDispatched {
        order,
        lab: SiteId::parse("lab-a").unwrap(),
        counter: SiteId::parse("counter-ginza").unwrap(),
        dispatched_at: at,
        extract: lab.extract(r, "Hanako Yamada", "03-1234-5678"),
        customer: customer("Hanako Yamada", "03-1234-5678"),
        counter_reception: None,
        counter_registration_number: None,
    };
    lab.send(
        reprint_bus::subjects::delivery_dispatched(
            &reprint_bus::subjects::SiteId::parse("counter-ginza").unwrap(),
        ),
        "a-redelivery-of-the-dispatch",
        &msg,
    )
    .await;
    // Handled while the order still waits for its customer: the inbox records the message id
    // in the transaction of the message's effects.
    let inbox = reprint_bus::streams::durable_consumer_for(
        &reprint_bus::subjects::SiteId::parse("counter-ginza").unwrap(),
        reprint_bus::subjects::SiteKind::Counter,
    );
    wait_for(
        Duration::from_secs(20),
        "the redelivered dispatch handled by the counter's inbox",
        async || {
            counter
                .counter
                .store
                .inbox_contains(inbox.name(), "a-redelivery-of-the-dispatch")
                .await
                .unwrap()
        },
        |handled| *handled,
    )
    .await;
    let (_, view) = counter.get(&format!("/api/v1/pickups/{number}")).await;
    assert_eq!(
        view["order"]["arrived_at"], first["order"]["arrived_at"],
        "the first arrival stands: {view}"
    );
    let (s, _) = counter
        .post_json(
            &format!("/api/v1/pickups/{number}/collect"),
            serde_json::json!({"method": "card"}),
        )
        .await;
    assert_eq!(s, 200);

    // Quiet: the redelivery handled (lag 0), then the page.
    let lag = "reprint_consumer_lag{consumer=\"counter-counter-ginza-inbox\",service=\"counter\"}";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let page = loop {
        let page = metrics_page(&counter).await;
        match series(&page, lag) {
            Some(0.0) => break page,
            v => assert!(
                tokio::time::Instant::now() < deadline,
                "lag not back to 0: {v:?}\n{page}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let stage = |s: &str| {
        series(
            &page,
            &format!("reprint_orders_total{{stage=\"{s}\",service=\"counter\"}}"),
        )
    };
    assert_eq!(
        stage("ready_for_pickup"),
        Some(1.0),
        "once, not per delivery:\n{page}"
    );
    assert_eq!(stage("collected"), Some(1.0), "{page}");
    let observed: f64 = page
        .lines()
        .filter(|l| l.starts_with("reprint_append_seconds_count{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(
        observed >= 2.0,
        "the delivery's and the pickup's appends observed:\n{page}"
    );
    assert!(
        page.contains("reprint_append_seconds_bucket{stream_kind=\""),
        "{page}"
    );
}
