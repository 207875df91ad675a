//! Parcels checked in (issue 15): with `check_in_parcels`, the lab's dispatch leaves the order
//! "sent by the lab" and staff make it ready for pickup by scanning the parcel's label (the lab's
//! reception number, or the packing list's code) on the arrivals page; a packing list for another
//! counter is refused; a parcel whose dispatch has not reached the counter is
//! refused in words; a second scan changes nothing. On a real NATS, the lab played by the test.

mod common;

use std::time::{Duration, Instant};

use common::*;
use reprint_domain::protocol::OrderPlaced;
use reprint_testkit::NatsServer;

async fn page(counter: &TestCounter, path: &str) -> (u16, String) {
    let r = counter
        .http
        .get(format!("{}{path}", counter.base))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn scan(counter: &TestCounter, label: &str) -> (u16, String) {
    let r = counter
        .http
        .post(format!("{}/arrivals/check-in", counter.base))
        .form(&[("csrf", counter.csrf.as_str()), ("label", label)])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn a_parcel_is_ready_for_pickup_once_staff_scan_it_in() {
    let nats = NatsServer::start();
    let lab = LabPeer::start(&nats.url).await;
    let counter = spawn_edited(&nats.url, None, "", |t| {
        t.replacen("name = ", "check_in_parcels = true\nname = ", 1)
    })
    .await;

    let form = customer_fields(
        reqwest::multipart::Form::new(),
        "Hanako Yamada",
        "03-1234-5678",
    )
    .part(
        "medium",
        zip_part(zip_of(&[("DCIM/IMG_0001.JPG", jpeg(1))])),
    );
    let (status, slip) = counter.intake(form).await;
    assert_eq!(status, 201, "{slip}");
    let got = lab.receive(1, Duration::from_secs(20)).await;
    let placed: OrderPlaced = serde_json::from_value(got[0].2.clone()).unwrap();

    // The arrivals page has the scan field, focused for the scanner.
    let (s, html) = page(&counter, "/arrivals").await;
    assert_eq!(s, 200);
    assert!(
        html.contains("action=\"/arrivals/check-in\"") && html.contains("id=\"label\""),
        "{html}"
    );
    let field = &html[html.find("id=\"label\"").unwrap()..];
    assert!(field[..field.find('>').unwrap()].contains("autofocus"));

    // Before the lab dispatched it: the parcel cannot be checked in (its amounts are not known).
    let reception = lab.record_reception(&placed, "B0000777").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while counter.get("/api/v1/pickups?q=B0000777").await.0 != 200 {
        assert!(
            Instant::now() < deadline,
            "the lab's reception never arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s, html) = scan(&counter, "B0000777").await;
    assert_eq!(s, 409, "{html}");
    assert!(html.contains("has not said it dispatched"), "{html}");

    // Dispatched: on its way, not ready.
    let lab_total = reception.charge.total.minor;
    lab.dispatch(
        reception,
        placed.customer.clone(),
        Some("X0000001".into()),
        chrono::Utc::now(),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, v) = counter.get("/api/v1/pickups/X0000001").await;
        if v["order"]["state"] == "arrived" {
            assert_eq!(v["can_collect"], false, "{v}");
            break;
        }
        assert!(Instant::now() < deadline, "the dispatch never arrived: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, html) = page(&counter, "/arrivals").await;
    assert!(
        html.contains("Sent by the lab, not checked in yet") || html.contains("ラボから発送済み")
    );

    // A packing list meant for another counter is refused in words; nothing is checked in.
    let (s, html) = scan(&counter, "REPRINT-PARCEL|lab-a|counter-shibuya|B0000777").await;
    assert_eq!(s, 422, "{html}");
    assert!(html.contains("for counter counter-shibuya"), "{html}");
    let (_, v) = counter.get("/api/v1/pickups/X0000001").await;
    assert_eq!(v["order"]["state"], "arrived", "{v}");

    // Staff scan the parcel's packing list (its code lists the lab's reception numbers): ready
    // for pickup, said on the page.
    let (s, html) = scan(&counter, "REPRINT-PARCEL|lab-a|counter-ginza|B0000777").await;
    assert_eq!(s, 200, "{html}");
    assert!(
        html.contains("id=\"checked-in\"") && html.contains("X0000001"),
        "{html}"
    );
    let v = counter.wait_ready("X0000001").await;
    assert_eq!(v["order"]["state"], "ready_for_pickup");
    assert_eq!(v["amount_due"], lab_total + 250, "{v}");

    // Again: nothing changes, no error.
    let (s, _) = scan(&counter, "B0000777").await;
    assert_eq!(s, 200);
    let (s, html) = scan(&counter, "B9999999").await;
    assert!(s == 404 || s == 422, "{s} {html}");
}
