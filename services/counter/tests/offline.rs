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
