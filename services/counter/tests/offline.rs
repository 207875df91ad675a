//! Walk-in orders taken while NATS is down arrive at the lab once it is back, each exactly
//! once, with their images stored before the order.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use reprint_domain::protocol::OrderPlaced;
use reprint_testkit::NatsServer;

#[tokio::test]
async fn walk_in_orders_taken_offline_reach_the_lab_once_when_the_link_returns() {
    let mut nats = NatsServer::start();
    {
        // Streams exist before the outage (the network was up once).
        let _ = LabPeer::start(&nats.url).await;
    }
    let counter = spawn(&nats.url, None, "").await;
    nats.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!counter.counter.online());

    let mut numbers = Vec::new();
    for i in 0..3u64 {
        let form = customer_fields(
            reqwest::multipart::Form::new(),
            &format!("Walk-in {i}"),
            &format!("03-5555-000{i}"),
        )
        .part("images", image_part(&format!("IMG_{i}.JPG"), jpeg(100 + i)))
        .part("images", image_part("shared.jpg", jpeg(999)));
        let (s, slip) = counter.intake(form).await;
        assert_eq!(s, 201, "taken offline: {slip}");
        numbers.push(slip["reception_number"].as_str().unwrap().to_string());
    }
    assert_eq!(numbers, ["X0000001", "X0000002", "X0000003"]);
    // A pickup lookup works offline too.
    let (s, _) = counter.get("/api/v1/pickups/X0000002").await;
    assert_eq!(s, 200);
    assert!(
        counter.counter.spool.count() >= 4,
        "images kept in the spool"
    );

    nats.start_again();
    let lab = LabPeer::start(&nats.url).await;
    let got = lab.receive(3, Duration::from_secs(20)).await;
    let placed: Vec<OrderPlaced> = got
        .iter()
        .filter(|(s, _, _)| s.ends_with("order.placed"))
        .map(|(_, _, b)| serde_json::from_value(b.clone()).unwrap())
        .collect();
    let receptions: Vec<String> = placed
        .iter()
        .map(|p| {
            p.counter_extract
                .as_ref()
                .unwrap()
                .reception
                .number
                .to_string()
        })
        .collect();
    let distinct: HashSet<&String> = receptions.iter().collect();
    assert_eq!(receptions.len(), 3, "each order once: {receptions:?}");
    assert_eq!(distinct.len(), 3);
    let images = reprint_bus::objects::Images::open(&lab.js, Default::default())
        .await
        .unwrap();
    for p in &placed {
        for item in &p.items {
            assert!(
                images.exists(&item.image.to_hex()).await.unwrap(),
                "{} uploaded",
                item.name
            );
        }
    }
    // Nothing more comes (no duplicates), and the spool is emptied.
    let more = lab.receive(1, Duration::from_secs(2)).await;
    assert!(
        more.iter().all(|(s, _, _)| !s.ends_with("order.placed")),
        "{more:?}"
    );
    assert_eq!(counter.counter.spool.count(), 0);
}

/// The counter starts with NATS unreachable (never seen it): the terminal serves at once, a
/// walk-in order is taken; when the server comes up, the counter provisions, answers quotes
/// and the order reaches the lab exactly once.
#[tokio::test]
async fn the_counter_starts_and_takes_orders_while_nats_is_down() {
    let mut nats = NatsServer::start();
    nats.stop();

    let started = std::time::Instant::now();
    let counter = spawn(&nats.url, None, "").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the terminal must not wait for NATS: {:?}",
        started.elapsed()
    );
    assert!(!counter.counter.online());
    let (s, ready) = counter.get("/readyz").await;
    assert_eq!(s, 200, "{ready}");
    assert!(ready.to_string().contains("offline"), "{ready}");

    let form = customer_fields(
        reqwest::multipart::Form::new(),
        "Offline Start",
        "03-7777-0001",
    )
    .part("images", image_part("IMG_0001.JPG", jpeg(7)));
    let (s, slip) = counter.intake(form).await;
    assert_eq!(s, 201, "taken with NATS down: {slip}");
    let number = slip["reception_number"].as_str().unwrap().to_string();
    let (s, _) = counter.get(&format!("/api/v1/pickups/{number}")).await;
    assert_eq!(s, 200);

    nats.start_again();
    // The quote is served only after the counter provisioned the streams itself.
    let client = async_nats::connect(&nats.url).await.unwrap();
    // A quote over the network finds the file by its registration number only (issue 13).
    let mut request = quote_request("Offline Start", "03-7777-0001", 1, chrono::Utc::now());
    request["customer"]["registration_number"] = slip["registration_number"].clone();
    let q: reprint_domain::protocol::QuoteReply =
        counter_rpc(&client, reprint_bus::subjects::RpcMethod::Quote, &request)
            .await
            .unwrap();
    assert_eq!(
        q.charge.total.minor, 0,
        "second order within a month: {q:?}"
    );
    assert!(counter.counter.online());

    let lab = LabPeer::start(&nats.url).await;
    let got = lab.receive(1, Duration::from_secs(20)).await;
    let placed: Vec<OrderPlaced> = got
        .iter()
        .filter(|(s, _, _)| s == "reprint.v1.lab.lab-a.order.placed")
        .map(|(_, _, b)| serde_json::from_value(b.clone()).unwrap())
        .collect();
    assert_eq!(placed.len(), 1, "{got:?}");
    assert_eq!(
        placed[0]
            .counter_extract
            .as_ref()
            .unwrap()
            .reception
            .number
            .to_string(),
        number
    );
    let more = lab.receive(1, Duration::from_secs(2)).await;
    assert!(
        more.iter().all(|(s, _, _)| !s.ends_with("order.placed")),
        "exactly once: {more:?}"
    );
    assert_eq!(counter.counter.spool.count(), 0, "images uploaded");
}
