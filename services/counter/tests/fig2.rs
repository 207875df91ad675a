//! Fig. 2 end to end on a real NATS and a real SQLite store: a walk-in card with a DPOF print
//! order, the order reaching the lab (played on NATS by the test), the lab's reception and
//! delivery, pickup with one payment of both charges, the collection reaching the lab, and the
//! day's takings (the lab's share owed until a statement settles it).

mod common;

use std::time::Duration;

use common::*;
use reprint_domain::protocol::OrderPlaced;
use reprint_testkit::NatsServer;

#[tokio::test]
async fn a_walk_in_card_with_a_print_order_reaches_the_lab_and_is_collected() {
    let nats = NatsServer::start();
    let lab = LabPeer::start(&nats.url).await;
    let counter = spawn(&nats.url, None, "").await;

    let card = zip_of(&[
        ("DCIM/100CANON/IMG_0001.JPG", jpeg(1)),
        ("DCIM/100CANON/IMG_0007.JPG", jpeg(7)),
        ("DCIM/100CANON/IMG_0009.JPG", jpeg(9)),
        ("MISC/AUTPRINT.MRK", DPOF.as_bytes().to_vec()),
    ]);
    let form = customer_fields(
        reqwest::multipart::Form::new(),
        "Hanako Yamada",
        "03-1234-5678",
    )
    .part("medium", zip_part(card));
    let (status, slip) = counter.intake(form).await;
    assert_eq!(status, 201, "{slip}");
    assert_eq!(slip["reception_number"], "X0000001");
    assert_eq!(slip["registration_number"], "W0000001");
    assert_eq!(slip["from_dpof"], true);
    let items = slip["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        2,
        "the print order chose two of the three images: {slip}"
    );
    assert_eq!(
        (items[0]["name"].as_str(), items[0]["quantity"].as_u64()),
        (Some("IMG_0001.JPG"), Some(1))
    );
    assert_eq!(
        (items[1]["name"].as_str(), items[1]["quantity"].as_u64()),
        (Some("IMG_0007.JPG"), Some(3))
    );
    assert_eq!(
        slip["counter_charge"]["total"], 250,
        "first order here: the basic charge"
    );

    // The slip page carries the number and a QR code.
    let page = counter
        .http
        .get(format!("{}/slip/X0000001", counter.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("X0000001") && page.contains("<svg"), "{page}");

    // The order reaches the lab with the counter's file extract; its images are stored.
    let got = lab.receive(1, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 1, "the lab got the order");
    let (subject, _, body) = &got[0];
    assert_eq!(subject, "reprint.v1.lab.lab-a.order.placed");
    let placed: OrderPlaced = serde_json::from_value(body.clone()).unwrap();
    let extract = placed
        .counter_extract
        .clone()
        .expect("the counter's extract");
    assert_eq!(extract.reception.number.as_str(), "X0000001");
    assert_eq!(extract.registration_number.as_str(), "W0000001");
    assert_eq!(placed.items.len(), 2);
    let images = reprint_bus::objects::Images::open(&lab.js, Default::default())
        .await
        .unwrap();
    for item in &placed.items {
        assert!(
            images.exists(&item.image.to_hex()).await.unwrap(),
            "image {} stored before the order",
            item.name
        );
    }

    // The lab records and dispatches; the counter fills in the lab's amounts.
    let reception = lab.record_reception(&placed, "B0000456").await;
    let lab_total = reception.charge.total.minor;
    assert_eq!(lab_total, 250 + 30 + 3 * 30);
    let (s, _) = counter.get("/api/v1/pickups/X0000001").await;
    assert_eq!(s, 200);
    lab.dispatch(
        reception,
        placed.customer.clone(),
        Some("X0000001".into()),
        chrono::Utc::now(),
    )
    .await;
    let view = counter.wait_ready("X0000001").await;
    assert_eq!(
        view["amount_due"],
        lab_total + 250,
        "amount due = lab charge + counter charge: {view}"
    );
    assert_eq!(view["lab_charge"]["total"], lab_total);
    assert_eq!(view["counter_charge"]["total"], 250);
    assert!(
        view["lab_charge"]["lines"].as_array().unwrap().len() >= 3,
        "every line explained"
    );

    // Found by the lab's number and by a scanned slip code too.
    let (s, found) = counter.get("/api/v1/pickups?q=B0000456").await;
    assert_eq!(
        (s, found[0]["reception_number"].as_str()),
        (200, Some("X0000001"))
    );
    let (s, found) = counter
        .get("/api/v1/pickups?q=REPRINT1:counter-ginza:X0000001")
        .await;
    assert_eq!(
        (s, found[0]["reception_number"].as_str()),
        (200, Some("X0000001"))
    );

    // Too little tendered is refused; then paid in cash with change.
    let (s, p) = counter
        .post_json(
            "/api/v1/pickups/X0000001/collect",
            serde_json::json!({"method": "cash", "tendered": 100}),
        )
        .await;
    assert_eq!(s, 422, "{p}");
    let (s, receipt) = counter
        .post_json(
            "/api/v1/pickups/X0000001/collect",
            serde_json::json!({"method": "cash", "tendered": 1000}),
        )
        .await;
    assert_eq!(s, 200, "{receipt}");
    assert_eq!(receipt["change"], 1000 - (lab_total + 250));
    let (s, _) = counter
        .post_json(
            "/api/v1/pickups/X0000001/collect",
            serde_json::json!({"method": "cash", "tendered": 1000}),
        )
        .await;
    assert_eq!(s, 409, "collected once");

    // The lab hears of the collection; its share is not settled order by order any more but
    // goes on the next statement (tests/takings_statement.rs).
    let got = lab.receive(1, Duration::from_secs(20)).await;
    let subjects: Vec<&str> = got.iter().map(|(s, _, _)| s.as_str()).collect();
    assert_eq!(
        subjects,
        ["reprint.v1.lab.lab-a.collection.recorded"],
        "{subjects:?}"
    );

    let (s, t) = counter.get("/api/v1/takings").await;
    assert_eq!(s, 200);
    assert_eq!(t["total"], lab_total + 250);
    assert_eq!(t["counter_share"], 250);
    let lab_row = &t["by_lab"][0];
    assert_eq!(
        (
            lab_row["collected_today"].as_i64(),
            lab_row["settled_today"].as_i64(),
            lab_row["owed"].as_i64()
        ),
        (Some(lab_total), Some(0), Some(lab_total))
    );

    // The pages answer.
    for path in [
        "/",
        "/intake",
        "/arrivals",
        "/pickup",
        "/pickup/X0000001",
        "/takings",
    ] {
        let res = counter
            .http
            .get(format!("{}{path}", counter.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200, "{path}");
    }
}

#[tokio::test]
async fn a_rejected_walk_in_order_cancels_the_counters_reception_and_tells_staff() {
    use reprint_bus::subjects::{self, Address, SiteId as BusSite};
    use reprint_domain::protocol::{OrderRejected, RejectCode};

    let nats = NatsServer::start();
    let lab = LabPeer::start(&nats.url).await;
    let counter = spawn(&nats.url, None, "").await;
    let form = customer_fields(reqwest::multipart::Form::new(), "Jiro Sato", "03-9999-0000")
        .part("images", image_part("IMG_0001.JPG", jpeg(11)));
    let (s, slip) = counter.intake(form).await;
    assert_eq!(s, 201, "{slip}");
    let got = lab.receive(1, Duration::from_secs(20)).await;
    let placed: OrderPlaced = serde_json::from_value(got[0].2.clone()).unwrap();
    let rejection = OrderRejected {
        order: placed.order,
        lab: lab.id.clone(),
        code: RejectCode::UnknownSize,
        reason: "size L is not printed here".into(),
        at: chrono::Utc::now(),
    };
    lab.send(
        subjects::order_rejected(&Address::counter(BusSite::parse("counter-ginza").unwrap()))
            .unwrap(),
        &format!("lab-a:rejected:{}", placed.order),
        &rejection,
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, arrivals) = counter.get("/api/v1/arrivals").await;
        if let Some(n) = arrivals["notices"].as_array().and_then(|a| a.first()) {
            assert_eq!(n["reception_number"], "X0000001");
            assert!(
                n["notice"]
                    .as_str()
                    .unwrap()
                    .contains("size L is not printed here"),
                "{n}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no notice: {arrivals}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s, p) = counter
        .post_json(
            "/api/v1/pickups/X0000001/collect",
            serde_json::json!({"method": "cash", "tendered": 1000}),
        )
        .await;
    assert_eq!(s, 409, "a cancelled reception cannot be collected: {p}");
    assert!(p["detail"].as_str().unwrap().contains("cancelled"), "{p}");
}
