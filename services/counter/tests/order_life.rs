//! An order's life at the counter as `reprint_domain::counter_order` decides it: the events in
//! the order's own stream, the typed state in `counter_orders`, refusals mapped to HTTP in one
//! place, the order check at intake in the lab's words, and the counter's clock pinned.

mod common;

use chrono::{Duration, TimeZone, Utc};
use common::*;
use reprint_testkit::NatsServer;
use serde_json::Value;

/// Logs staff in again (a session is valid on the counter's clock, which the test moved).
async fn log_in_again(counter: &mut TestCounter) {
    let login: Value = counter
        .http
        .post(format!("{}/api/v1/login", counter.base))
        .json(&serde_json::json!({"name": "tanaka", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    counter.csrf = login["csrf_token"]
        .as_str()
        .expect("log-in works")
        .to_string();
}

fn walk_in(name: &str, phone: &str, seed: u64) -> reqwest::multipart::Form {
    customer_fields(reqwest::multipart::Form::new(), name, phone)
        .part("images", image_part("IMG_0001.JPG", jpeg(seed)))
}

#[tokio::test]
async fn the_counters_clock_is_pinned_and_fig9_discounts_by_it() {
    let nats = NatsServer::start();
    let mut counter = spawn(&nats.url, None, "").await;
    let t0 = Utc.with_ymd_and_hms(2026, 11, 22, 1, 0, 0).unwrap();
    counter.counter.clock.set(t0);
    log_in_again(&mut counter).await;

    let (s, first) = counter
        .intake(walk_in("Hanako Yamada", "090-1234-5678", 1))
        .await;
    assert_eq!(s, 201, "{first}");
    assert_eq!(
        first["received_at"].as_str().map(|t| t.parse().unwrap()),
        Some(t0),
        "the reception is recorded at the pinned time: {first}"
    );
    assert_eq!(first["counter_charge"]["total"], 250, "{first}");

    // Seed 004, Fig. 9 by this counter's policy: the basic charge is free within a month of
    // the previous order here...
    counter.counter.clock.advance(Duration::days(20));
    log_in_again(&mut counter).await;
    let (s, second) = counter
        .intake(walk_in("Hanako Yamada", "090-1234-5678", 2))
        .await;
    assert_eq!(s, 201, "{second}");
    assert_eq!(second["counter_charge"]["total"], 0, "{second}");

    // ... and charged again after it.
    counter.counter.clock.advance(Duration::days(40));
    log_in_again(&mut counter).await;
    let (s, third) = counter
        .intake(walk_in("Hanako Yamada", "090-1234-5678", 3))
        .await;
    assert_eq!(s, 201, "{third}");
    assert_eq!(third["counter_charge"]["total"], 250, "{third}");
    assert_eq!(
        third["received_at"].as_str().map(|t| t.parse().unwrap()),
        Some(t0 + Duration::days(60))
    );
}

#[tokio::test]
async fn a_walk_in_order_is_an_event_stream_and_its_row_a_projection() {
    let nats = NatsServer::start();
    let counter = spawn(&nats.url, None, "").await;
    let (s, slip) = counter
        .intake(walk_in("Taro Suzuki", "090-1111-2222", 7))
        .await;
    assert_eq!(s, 201, "{slip}");
    let order = slip["order"].as_str().unwrap();

    let events = counter
        .counter
        .store
        .read_stream(&format!("counter-order-{order}"), 1, 10)
        .await
        .unwrap();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["counter_order.taken_in"]);

    let (s, arrivals) = counter.get("/api/v1/arrivals").await;
    assert_eq!(s, 200);
    assert_eq!(arrivals["awaiting"][0]["order"], order, "{arrivals}");
    assert_eq!(arrivals["awaiting"][0]["state"], "placed", "{arrivals}");

    // Not arrived: the order's refusal, a conflict (409), in its words.
    let number = slip["reception_number"].as_str().unwrap();
    let (s, p) = counter
        .post_json(
            &format!("/api/v1/pickups/{number}/collect"),
            serde_json::json!({"method": "cash"}),
        )
        .await;
    assert_eq!(s, 409, "{p}");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("the prints have not arrived from the lab yet"),
        "{p}"
    );
    let (s, view) = counter.get(&format!("/api/v1/pickups/{number}")).await;
    assert_eq!(
        (s, &view["can_collect"]),
        (200, &Value::Bool(false)),
        "{view}"
    );
}

#[tokio::test]
async fn intake_refuses_what_the_lab_would_refuse_in_its_words_before_charging() {
    let nats = NatsServer::start();
    let counter = spawn_edited(&nats.url, None, "", |text| {
        text.replace(
            "name = \"A Corporation laboratory\"\n",
            "name = \"A Corporation laboratory\"\nsizes = [\"L\"]\n",
        )
    })
    .await;
    let cases = [
        (
            walk_in("Taro Suzuki", "090-1111-2222", 1).text("quantity", "1000"),
            "1000 x L of each image: a quantity is 1 to 999",
        ),
        (
            customer_fields(
                reqwest::multipart::Form::new(),
                "Taro Suzuki",
                "090-1111-2222",
            )
            .text("size", "2L")
            .part("images", image_part("IMG_0001.JPG", jpeg(1))),
            "this lab does not print size 2L",
        ),
        (
            walk_in("Taro\u{7} Suzuki", "090-1111-2222", 1),
            "the customer's name must be 1 to 200 characters without control characters",
        ),
    ];
    for (form, words) in cases {
        let (s, p) = counter.intake(form).await;
        assert_eq!((s, p["type"].as_str()), (422, Some("refused")), "{p}");
        assert!(
            p["detail"].as_str().unwrap_or_default().contains(words),
            "{words}: {p}"
        );
    }
    let (_, arrivals) = counter.get("/api/v1/arrivals").await;
    assert_eq!(arrivals["awaiting"], serde_json::json!([]), "{arrivals}");
    assert_eq!(counter.counter.spool.count(), 0, "nothing spooled");
}
