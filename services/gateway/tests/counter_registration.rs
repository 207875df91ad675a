//! The user's registration number at the delivery counter (issue 13, Fig. 1 step 4): the
//! gateway learns it only from that counter's own status of one of the account's orders
//! (`StatusWithRegistration`), and sends it with the next quote request to that counter and in
//! the next order (`OrderPlaced::counter_registration_number`). A number another site claims
//! for the counter, or a counter claims for an order it does not deliver, is ignored.

mod common;

use common::*;
use reprint_bus::subjects::{self, SiteId};
use serde_json::{Value, json};

/// A status as a site sends it; each at its own minute (the gateway takes the same change
/// twice only once, whatever its message id).
fn status(order: &str, stage: &str, site: &str, kind: &str, number: Option<&str>) -> Value {
    static MINUTE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let minute = MINUTE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut s = json!({"order": order, "stage": stage, "site": site, "site_kind": kind,
        "at": format!("2026-11-20T11:{minute:02}:00Z"), "detail": stage, "charge": null});
    if let Some(n) = number {
        s["registration_number"] = json!(n);
    }
    s
}

async fn publish(app: &TestApp, sender: &str, body: &Value, id: &str) {
    let order = subjects::OrderId::parse(body["order"].as_str().unwrap()).unwrap();
    let from = SiteId::parse(sender).unwrap();
    js_publish(app, subjects::status(&from, &order), body, id).await;
}

#[tokio::test]
async fn the_counters_number_comes_from_its_own_status_and_goes_with_the_next_order() {
    let app = spawn().await;
    let _lab_quotes = serve_quotes(&app, LAB).await;
    let _counter_quotes = serve_quotes(&app, COUNTER).await;
    let mut lab = lab_orders(&app).await;
    let (u, order, image) = with_image(&app, "hanako@example.com", 1).await;
    let req = json!({"lab": LAB, "counter": COUNTER,
        "items": [{"image": image, "size": "L", "quantity": 1}]});

    // No number at the counter yet: its (fake) quote charges the basic charge, and the order
    // carries none.
    let (s, q) = u.post(&format!("/api/v1/orders/{order}/quote"), &req).await;
    assert_eq!(s, 200, "{q}");
    assert_eq!(q["counter"]["charge"]["total"]["minor"], 280, "{q}");
    let (s, v) = u
        .post_with(&format!("/api/v1/orders/{order}/submit"), &req, "key-1")
        .await;
    assert_eq!(s, 200, "{v}");
    let placed = next_order(&mut lab).await;
    assert_eq!(placed.counter_registration_number, None);

    // The counter's ready_for_pickup with the number of the file it made.
    publish(
        &app,
        COUNTER,
        &status(
            &order,
            "ready_for_pickup",
            COUNTER,
            "counter",
            Some("W0000001"),
        ),
        "ready",
    )
    .await;
    eventually("the counter's number kept for the account", || async {
        let (_, me) = u.get("/api/v1/me").await;
        me["registrations"][COUNTER] == "W0000001"
    })
    .await;

    // Claims from anybody else are ignored: the lab speaking for the counter, the counter
    // under the lab's name, another counter that does not deliver this order, a number that
    // is no registration number.
    publish(
        &app,
        LAB,
        &status(&order, "dispatched", COUNTER, "counter", Some("W0000666")),
        "forged-1",
    )
    .await;
    publish(
        &app,
        COUNTER,
        &status(&order, "dispatched", COUNTER, "lab", Some("W0000667")),
        "forged-2",
    )
    .await;
    publish(
        &app,
        "counter-elsewhere",
        &status(
            &order,
            "ready_for_pickup",
            "counter-elsewhere",
            "counter",
            Some("W0000668"),
        ),
        "forged-3",
    )
    .await;
    publish(
        &app,
        COUNTER,
        &status(
            &order,
            "ready_for_pickup",
            COUNTER,
            "counter",
            Some("W 1; drop"),
        ),
        "forged-4",
    )
    .await;
    // Then a plain status, handled after them: by then they have been handled too.
    publish(
        &app,
        COUNTER,
        &status(&order, "collected", COUNTER, "counter", None),
        "collected",
    )
    .await;
    eventually("the collection on the timeline", || async {
        let (_, v) = u.get(&format!("/api/v1/orders/{order}")).await;
        v["stage"] == "collected"
    })
    .await;
    let (_, me) = u.get("/api/v1/me").await;
    assert_eq!(
        me["registrations"],
        json!({COUNTER: "W0000001"}),
        "only the order's own counter, in its own name: {me}"
    );

    // The next quote and order for that counter carry it.
    let (s, q) = u.post(&format!("/api/v1/orders/{order}/quote"), &req).await;
    assert_eq!(s, 200, "{q}");
    assert_eq!(
        q["counter"]["charge"]["total"]["minor"], 30,
        "the counter was sent the number: {q}"
    );
    let (s, re) = u
        .post(
            &format!("/api/v1/orders/{order}/reorder"),
            &json!({"items": [{"image": image, "size": "L", "quantity": 1}]}),
        )
        .await;
    assert_eq!(s, 201, "{re}");
    let second = next_order(&mut lab).await;
    assert_eq!(second.order.to_string(), re["order"].as_str().unwrap());
    assert_eq!(
        second.counter_registration_number.as_deref(),
        Some("W0000001")
    );
    assert_eq!(
        second.customer.registration_number, None,
        "the lab's own number stays the lab's"
    );
}
