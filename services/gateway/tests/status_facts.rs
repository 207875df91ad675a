//! The status feed takes each fact of the network once, by the fact's own id (its message id),
//! not by what it says: the lab's status at a stage and its note at the same stage and time
//! (it leaves an image out) both reach the user's timeline, a publisher's retry of one fact
//! lands once; and the charge the lab amended before dispatch is what the user's order shows.

mod common;

use common::*;
use reprint_bus::subjects::{self, Address, SiteId};
use serde_json::{Value, json};

fn charge(minor: i64) -> Value {
    json!({"lines": [{"kind": "basic_charge", "description": "basic charge", "amount": {"minor": minor, "currency": "JPY"}}],
        "total": {"minor": minor, "currency": "JPY"}})
}

/// Publishes a status of the lab under its message id `lab-a:<order>:status:<fact>`.
async fn lab_status(app: &TestApp, order: &str, fact: &str, body: &Value) {
    let sub = subjects::OrderId::parse(order.to_string()).unwrap();
    let from = SiteId::parse(LAB).unwrap();
    let id = format!("{LAB}:{order}:status:{fact}");
    js_publish(app, subjects::status(&from, &sub), body, &id).await;
}

#[tokio::test]
async fn two_facts_at_one_stage_and_time_both_land_and_a_retry_once() {
    let app = spawn().await;
    let _lab_quotes = serve_quotes(&app, LAB).await;
    let _counter_quotes = serve_quotes(&app, COUNTER).await;
    let mut lab = lab_orders(&app).await;
    let (u, order, image) = with_image(&app, "hanako@example.com", 7).await;
    let req = json!({"lab": LAB, "counter": COUNTER,
        "items": [{"image": image, "size": "L", "quantity": 2}]});
    let (s, v) = u
        .post_with(&format!("/api/v1/orders/{order}/submit"), &req, "k1")
        .await;
    assert_eq!(s, 200, "{v}");
    next_order(&mut lab).await;

    // The lab's slip and its `received` status, both with its charge of 400 yen.
    let slip = json!({
        "order": order, "lab": LAB, "estimated_finish": null,
        "extract": {
            "from_site": LAB, "from_kind": "lab", "registration_number": "A0000001",
            "name": "Hanako Yamada", "telephone": "0312345678", "address": null, "email": null,
            "reception": {
                "number": "B0000456", "order": order, "route": "internet",
                "received_at": "2026-11-20T10:00:00Z", "data_receive": null, "partner": COUNTER,
                "items": [], "charge": charge(400),
                "partner_charge": null, "estimated_finish": null, "state": "open"
            },
            "other_receptions": []
        }
    });
    let gw = Address::gateway(SiteId::parse(&app.gateway_id).unwrap());
    js_publish(
        &app,
        subjects::reception_recorded(&gw).unwrap(),
        &slip,
        &format!("{LAB}:{order}:reception-recorded"),
    )
    .await;
    let at = "2026-11-20T10:00:00Z";
    let status = |stage: &str, detail: &str, charge: Value| {
        json!({"order": order, "stage": stage, "site": LAB, "site_kind": "lab",
            "at": at, "detail": detail, "charge": charge})
    };
    lab_status(
        &app,
        &order,
        "received",
        &status("received", "reception B0000456 at Lab A", charge(400)),
    )
    .await;
    let path = format!("/api/v1/orders/{order}");
    eventually("the slip and the received status", || async {
        let (_, v) = u.get(&path).await;
        // The slip and the status travel apart: both here, the lab's charge of 400 yen.
        v["slip"]["reception"]["number"] == "B0000456"
            && v["stage"] == "received"
            && v["charge"]["total"]["minor"] == 400
    })
    .await;

    // Printing starts; the operator then leaves one image out: a note at `printing`, at the
    // same time as the stage's own status (one lab clock tick), with the amended charge.
    lab_status(
        &app,
        &order,
        "printing",
        &status("printing", "reception B0000456 is printing", Value::Null),
    )
    .await;
    let note_words = "reception B0000456: the lab will not print beach.jpg: damaged data";
    let note = status("printing", note_words, charge(340));
    lab_status(&app, &order, "image-rejected-ab12", &note).await;
    // The lab's relay publishes the same note again (a retry): one fact, one id.
    lab_status(&app, &order, "image-rejected-ab12", &note).await;

    let timeline_details = |v: &Value| -> Vec<String> {
        v["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["detail"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    eventually("the note on the timeline", || async {
        let (_, v) = u.get(&path).await;
        timeline_details(&v).iter().any(|d| d == note_words)
    })
    .await;
    // Let anything late land before counting.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (_, v) = u.get(&path).await;
    let details = timeline_details(&v);
    assert_eq!(
        details.iter().filter(|d| *d == note_words).count(),
        1,
        "the note once: {details:?}"
    );
    assert_eq!(
        details
            .iter()
            .filter(|d| *d == "reception B0000456 is printing")
            .count(),
        1,
        "the printing status beside it: {details:?}"
    );
    assert_eq!(v["stage"], "printing", "{v}");

    // The amended charge reaches the user before dispatch: the order's charge and its slip.
    assert_eq!(v["charge"]["total"]["minor"], 340, "{v}");
    assert_eq!(
        v["slip"]["reception"]["charge"]["total"]["minor"], 340,
        "{v}"
    );
    assert_eq!(
        v["slip"]["reception"]["number"], "B0000456",
        "the rest of the slip as it came: {v}"
    );
    // The order page and the history say the lab's charge is 340 yen, not 400.
    for page in [format!("/orders/{order}"), "/orders".to_string()] {
        let html = u
            .http
            .get(u.url(&page))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("¥340"),
            "{page} shows the amended charge: {html}"
        );
        assert!(
            !html.contains("¥400"),
            "{page} no longer the first charge: {html}"
        );
    }
}

#[tokio::test]
async fn a_charge_amended_before_the_slip_came_is_the_slips() {
    let app = spawn().await;
    let _lab_quotes = serve_quotes(&app, LAB).await;
    let _counter_quotes = serve_quotes(&app, COUNTER).await;
    let mut lab = lab_orders(&app).await;
    let (u, order, image) = with_image(&app, "taro@example.com", 8).await;
    let req = json!({"lab": LAB, "counter": COUNTER,
        "items": [{"image": image, "size": "L", "quantity": 1}]});
    let (s, v) = u
        .post_with(&format!("/api/v1/orders/{order}/submit"), &req, "k1")
        .await;
    assert_eq!(s, 200, "{v}");
    next_order(&mut lab).await;
    // The statuses overtake the slip (they travel on another subject).
    let status = |detail: &str, charge: Value| {
        json!({"order": order, "stage": "received", "site": LAB, "site_kind": "lab",
            "at": "2026-11-20T10:00:00Z", "detail": detail, "charge": charge})
    };
    lab_status(&app, &order, "received", &status("received", charge(250))).await;
    lab_status(
        &app,
        &order,
        "image-rejected-cd34",
        &status("the lab will not print one image", charge(190)),
    )
    .await;
    let path = format!("/api/v1/orders/{order}");
    eventually("both statuses", || async {
        let (_, v) = u.get(&path).await;
        v["charge"]["total"]["minor"] == 190
    })
    .await;
    let slip = json!({
        "order": order, "lab": LAB, "estimated_finish": null,
        "extract": {
            "from_site": LAB, "from_kind": "lab", "registration_number": "A0000002",
            "name": "Taro Yamada", "telephone": "0312345679", "address": null, "email": null,
            "reception": {
                "number": "B0000457", "order": order, "route": "internet",
                "received_at": "2026-11-20T10:00:00Z", "data_receive": null, "partner": COUNTER,
                "items": [], "charge": charge(250),
                "partner_charge": null, "estimated_finish": null, "state": "open"
            },
            "other_receptions": []
        }
    });
    let gw = Address::gateway(SiteId::parse(&app.gateway_id).unwrap());
    js_publish(
        &app,
        subjects::reception_recorded(&gw).unwrap(),
        &slip,
        &format!("{LAB}:{order}:reception-recorded"),
    )
    .await;
    eventually("the slip", || async {
        let (_, v) = u.get(&path).await;
        v["slip"]["reception"]["number"] == "B0000457"
    })
    .await;
    let (_, v) = u.get(&path).await;
    assert_eq!(
        v["slip"]["reception"]["charge"]["total"]["minor"], 190,
        "{v}"
    );
}
