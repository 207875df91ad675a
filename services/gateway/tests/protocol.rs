//! Each step of the ordering protocol (seed 000) through the HTTP API, with the lab and the
//! counter played on a private nats-server.

mod common;

use common::*;
use futures::StreamExt;
use reprint_bus::subjects::{self, Address, SiteId};
use serde_json::json;

#[tokio::test]
async fn the_whole_protocol_from_sign_up_to_re_order() {
    let app = spawn().await;
    let _lab_quotes = serve_quotes(&app, LAB).await;
    let _counter_quotes = serve_quotes(&app, COUNTER).await;
    let mut lab = lab_orders(&app).await;
    let u = sign_up(&app, "hanako@example.com").await;

    // Claims 11, 29: the directory of labs and counters.
    let (s, sites) = u.get("/api/v1/sites").await;
    assert_eq!(s, 200);
    let ids: Vec<&str> = sites
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&LAB) && ids.contains(&COUNTER), "{sites}");

    // Claim 26 a-c: an order id.
    let order = u.new_order().await;

    // Claim 26 f: no upload without a reservation.
    let photo = jpeg(1, 1800, 1200);
    let (s, b) = u.upload(&order, "beach.jpg", photo.clone()).await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["type"], "no_reservation");

    // Claims 9, 26 d-e: reserve.
    let size = photo.len() as u64;
    let (s, r) = u
        .put(
            &format!("/api/v1/orders/{order}/storage"),
            &json!({"bytes": size + 10}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["remaining"], size + 10);

    let (s, up) = u.upload(&order, "beach.jpg", photo.clone()).await;
    assert_eq!(s, 201, "{up}");
    let image = up["image"].as_str().unwrap().to_string();
    assert_eq!(image.len(), 64);
    assert_eq!(up["width"], 1800);

    // Over the reservation: refused, nothing kept.
    let other = jpeg(2, 400, 300);
    let before = image_store_messages(&app).await;
    let (s, b) = u.upload(&order, "other.jpg", other).await;
    assert_eq!(s, 413, "{b}");
    assert_eq!(
        image_store_messages(&app).await,
        before,
        "no chunks of a refused upload"
    );

    // A quote from both sites, explained lines.
    let req = json!({"lab": LAB, "counter": COUNTER, "items": [{"image": image, "size": "L", "quantity": 2}]});
    let (s, q) = u.post(&format!("/api/v1/orders/{order}/quote"), &req).await;
    assert_eq!(s, 200, "{q}");
    assert_eq!(q["lab"]["charge"]["lines"].as_array().unwrap().len(), 2);
    assert_eq!(q["total"]["minor"], 620, "{q}");
    assert_eq!(q["lab"]["site_kind"], "lab", "{q}");
    assert_eq!(q["counter"]["site_kind"], "counter", "{q}");
    assert!(q["lab"]["estimated_finish"].is_string(), "{q}");

    // Submit: idempotent.
    let (s, v) = u
        .post_with(&format!("/api/v1/orders/{order}/submit"), &req, "key-1")
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["stage"], "placed");
    let placed = next_order(&mut lab).await;
    assert_eq!(placed.order.to_string(), order);
    assert_eq!(placed.items[0].image.to_hex(), image);
    assert_eq!(
        placed
            .customer
            .telephone
            .chars()
            .filter(|c| c.is_ascii_digit())
            .count(),
        10
    );
    let (s, again) = u
        .post_with(&format!("/api/v1/orders/{order}/submit"), &req, "key-1")
        .await;
    assert_eq!(s, 200);
    assert_eq!(again["order"], order);
    let (s, b) = u
        .post_with(&format!("/api/v1/orders/{order}/submit"), &req, "key-2")
        .await;
    assert_eq!(s, 409, "{b}");

    // The lab's reception record comes back: the slip, and the registration number.
    let slip = json!({
        "order": order, "lab": LAB, "estimated_finish": null,
        "extract": {
            "from_site": LAB, "from_kind": "lab", "registration_number": "A0000001",
            "name": "Hanako Yamada", "telephone": "0312345678", "address": null, "email": null,
            "reception": {
                "number": "B0000456", "order": order, "route": "internet",
                "received_at": "2026-11-20T10:00:00Z", "data_receive": null, "partner": COUNTER,
                "items": [], "charge": {"lines": [], "total": {"minor": 250, "currency": "JPY"}},
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
        "slip-1",
    )
    .await;

    // Claims 10, 28: status follows the network.
    let change = json!({"order": order, "stage": "printing", "site": LAB, "site_kind": "lab",
        "at": "2026-11-20T11:00:00Z", "detail": "printing", "charge": null});
    let sub = subjects::OrderId::parse(order.clone()).unwrap();
    let from_lab = SiteId::parse(LAB).unwrap();
    // The lab's relay publishes its outbox row again (a retry): the same fact, the same id.
    js_publish(&app, subjects::status(&from_lab, &sub), &change, "status-1").await;
    js_publish(&app, subjects::status(&from_lab, &sub), &change, "status-1").await;
    let path = format!("/api/v1/orders/{order}");
    eventually("stage printing", || async {
        let (_, v) = u.get(&path).await;
        v["stage"] == "printing"
    })
    .await;
    let (_, v) = u.get(&path).await;
    let stages: Vec<&str> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages.iter().filter(|s| **s == "printing").count(),
        1,
        "{stages:?}"
    );
    assert!(stages.contains(&"placed"), "{stages:?}");
    eventually("the slip", || async {
        let (_, v) = u.get(&path).await;
        v["slip"]["reception"]["number"] == "B0000456"
    })
    .await;
    let (_, me) = u.get("/api/v1/me").await;
    assert_eq!(me["registrations"][LAB], "A0000001");
    // The quote now carries that registration number to the lab (whose fake waives the
    // basic charge for a registered customer), and none to the counter.
    let (s, q) = u.post(&format!("/api/v1/orders/{order}/quote"), &req).await;
    assert_eq!(s, 200, "{q}");
    assert_eq!(q["lab"]["charge"]["total"]["minor"], 60, "{q}");
    assert_eq!(q["counter"]["charge"]["total"]["minor"], 310, "{q}");

    // Too late to cancel once printing.
    let (s, b) = u
        .post(&format!("/api/v1/orders/{order}/cancel"), &json!({}))
        .await;
    assert_eq!(s, 409, "{b}");

    // Claims 7, 16: re-order by reference, with an edit list, and no bytes.
    let before = image_store_messages(&app).await;
    let (s, re) = u
        .post(
            &format!("/api/v1/orders/{order}/reorder"),
            &json!({"items": [{"image": image, "size": "2L", "quantity": 1, "edits": [{"op": "grayscale"}]}]}),
        )
        .await;
    assert_eq!(s, 201, "{re}");
    let second = next_order(&mut lab).await;
    assert_eq!(second.order.to_string(), re["order"].as_str().unwrap());
    assert_eq!(second.items[0].image.to_hex(), image);
    assert!(
        second.items[0]
            .edits
            .as_deref()
            .unwrap()
            .contains("grayscale")
    );
    assert_eq!(
        second.customer.registration_number.as_deref(),
        Some("A0000001")
    );
    assert_eq!(
        image_store_messages(&app).await,
        before,
        "a re-order sends no image bytes"
    );

    // The list of orders, and download with the print history.
    let (_, list) = u.get("/api/v1/orders").await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let r = u
        .http
        .get(u.url(&format!("/api/v1/images/{image}?format=zip")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let zip = r.bytes().await.unwrap();
    assert_eq!(&zip[..2], b"PK");

    // The placed order can be cancelled before printing: the lab hears of it in its inbox
    // (`OrderCancelled` on its `order.cancelled` subject), everybody else on the order's
    // status subject.
    let (mut status, mut lab_cancellations) =
        cancellation_subscribers(&app, re["order"].as_str().unwrap()).await;
    let (s, c) = u
        .post(
            &format!("/api/v1/orders/{}/cancel", re["order"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["stage"], "cancelled");
    let m = tokio::time::timeout(std::time::Duration::from_secs(10), status.next())
        .await
        .expect("a status message within 10 s")
        .unwrap();
    let change: reprint_domain::protocol::StatusChanged =
        serde_json::from_slice(&m.payload).unwrap();
    assert_eq!(change.stage, reprint_domain::protocol::Stage::Cancelled);
    assert_eq!(change.site.as_str(), LAB);
    let m = tokio::time::timeout(std::time::Duration::from_secs(10), lab_cancellations.next())
        .await
        .expect("an order.cancelled to the lab within 10 s")
        .unwrap();
    assert_eq!(
        m.subject.as_str(),
        format!("reprint.v1.lab.{LAB}.order.cancelled")
    );
    assert!(
        m.headers
            .as_ref()
            .and_then(|h| h.get("Nats-Msg-Id"))
            .is_some(),
        "published through the outbox, with a message id"
    );
    let cancelled: reprint_domain::protocol::OrderCancelled =
        serde_json::from_slice(&m.payload).unwrap();
    assert_eq!(cancelled.order.to_string(), re["order"].as_str().unwrap());
    assert_eq!(cancelled.lab.as_str(), LAB);
    assert!(!cancelled.reason.is_empty());
    // A second cancellation is a no-op: nothing more goes to the lab.
    let (s, c) = u
        .post(
            &format!("/api/v1/orders/{}/cancel", re["order"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    assert!(
        tokio::time::timeout(
            std::time::Duration::from_millis(500),
            lab_cancellations.next()
        )
        .await
        .is_err(),
        "one cancellation message per order"
    );
}

#[tokio::test]
async fn someone_elses_order_and_image_are_not_found() {
    let app = spawn().await;
    let a = sign_up(&app, "a@example.com").await;
    let b = sign_up(&app, "b@example.com").await;
    let order = a.new_order().await;
    let photo = jpeg(3, 640, 480);
    let (s, _) = a
        .put(
            &format!("/api/v1/orders/{order}/storage"),
            &json!({"bytes": 1_000_000}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, up) = a.upload(&order, "a.jpg", photo.clone()).await;
    assert_eq!(s, 201, "{up}");
    let image = up["image"].as_str().unwrap();

    for (status, body) in [
        b.get(&format!("/api/v1/orders/{order}")).await,
        b.put(
            &format!("/api/v1/orders/{order}/storage"),
            &json!({"bytes": 10}),
        )
        .await,
        b.upload(&order, "x.jpg", photo.clone()).await,
        b.post(&format!("/api/v1/orders/{order}/cancel"), &json!({}))
            .await,
        b.get(&format!("/api/v1/images/{image}")).await,
    ] {
        assert_eq!(status, 404, "{body}");
    }
    // B orders A's image by reference in B's own order: not found either.
    let mine = b.new_order().await;
    let (s, body) = b
        .post_with(
            &format!("/api/v1/orders/{mine}/submit"),
            &json!({"lab": LAB, "counter": COUNTER, "items": [{"image": image, "size": "L", "quantity": 1}]}),
            "k",
        )
        .await;
    assert_eq!(s, 404, "{body}");
    // Without the session, 401; without the CSRF token, 403.
    let anon = reqwest::Client::new();
    let r = anon
        .get(format!("{}/api/v1/orders", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = a.http.post(a.url("/api/v1/orders")).send().await.unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn storage_over_the_quota_or_capacity_is_refused_with_the_reason() {
    let app = spawn_with(|c| {
        c.storage.user_quota_bytes = 1_000_000;
        c.storage.capacity_bytes = 1_500_000;
    })
    .await;
    let a = sign_up(&app, "q@example.com").await;
    let o1 = a.new_order().await;
    let (s, b) = a
        .put(
            &format!("/api/v1/orders/{o1}/storage"),
            &json!({"bytes": 2_000_000}),
        )
        .await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["type"], "over_quota");
    assert!(b["detail"].as_str().unwrap().contains("1000000"), "{b}");
    let (s, _) = a
        .put(
            &format!("/api/v1/orders/{o1}/storage"),
            &json!({"bytes": 900_000}),
        )
        .await;
    assert_eq!(s, 200);
    // A second order of the same user: the first reservation counts.
    let o2 = a.new_order().await;
    let (s, b) = a
        .put(
            &format!("/api/v1/orders/{o2}/storage"),
            &json!({"bytes": 200_000}),
        )
        .await;
    assert_eq!(s, 409, "{b}");
    // Another user: within their quota, but the gateway's capacity is used up.
    let other = sign_up(&app, "r@example.com").await;
    let o3 = other.new_order().await;
    let (s, b) = other
        .put(
            &format!("/api/v1/orders/{o3}/storage"),
            &json!({"bytes": 700_000}),
        )
        .await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["type"], "no_capacity");
}

#[tokio::test]
async fn the_capacity_counts_stored_photos_and_a_deleted_one_frees_its_bytes() {
    let photo = jpeg(7, 800, 600);
    let p = photo.len() as u64;
    let app = spawn_with(move |c| {
        c.storage.user_quota_bytes = 10 * p;
        c.storage.capacity_bytes = p + p / 2;
    })
    .await;
    let a = sign_up(&app, "kept@example.com").await;
    let o1 = a.new_order().await;
    let (s, b) = a.reserve(&o1, p).await;
    assert_eq!(s, 200, "{b}");
    let (s, up) = a.upload(&o1, "harbour.jpg", photo).await;
    assert_eq!(s, 201, "{up}");
    let image = up["image"].as_str().unwrap().to_string();
    // The stored photo holds its bytes of the gateway's capacity (its reservation is used up):
    // another user's reservation of as much does not fit.
    let other = sign_up(&app, "next@example.com").await;
    let o2 = other.new_order().await;
    let (s, b) = other.reserve(&o2, p).await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["type"], "no_capacity");
    // Deleted from the album: its bytes are free again.
    let r = a
        .http
        .delete(a.url(&format!("/api/v1/album/{image}")))
        .header("x-csrf-token", &a.csrf)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let (s, b) = other.reserve(&o2, p).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn the_api_serves_its_openapi_document_and_health() {
    let app = spawn().await;
    let r = reqwest::get(format!("{}/api/v1/openapi.json", app.base))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: serde_json::Value = r.json().await.unwrap();
    assert!(
        doc["paths"]["/api/v1/orders/{id}/storage"]["put"].is_object(),
        "{doc}"
    );
    for p in ["/healthz", "/readyz", "/metrics"] {
        let r = reqwest::get(format!("{}{p}", app.base)).await.unwrap();
        assert_eq!(r.status(), 200, "{p}");
    }
}

#[tokio::test]
async fn runs_on_postgres_too() {
    let app = spawn_postgres().await;
    let _q = serve_quotes(&app, LAB).await;
    let mut lab = lab_orders(&app).await;
    let u = sign_up(&app, "pg@example.com").await;
    let order = u.new_order().await;
    let photo = jpeg(4, 800, 600);
    let (s, _) = u
        .put(
            &format!("/api/v1/orders/{order}/storage"),
            &json!({"bytes": photo.len()}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, up) = u.upload(&order, "p.jpg", photo).await;
    assert_eq!(s, 201, "{up}");
    let req = json!({"lab": LAB, "counter": COUNTER, "items": [{"image": up["image"], "size": "L", "quantity": 1}]});
    let (s, v) = u
        .post_with(&format!("/api/v1/orders/{order}/submit"), &req, "pg-1")
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(next_order(&mut lab).await.order.to_string(), order);
    thumbnails_are_cached(&app, &u, up["image"].as_str().unwrap()).await;
}

#[tokio::test]
async fn thumbnails_are_built_once() {
    let app = spawn().await;
    let u = sign_up(&app, "thumbs@example.com").await;
    let order = u.new_order().await;
    let photo = jpeg(7, 1600, 1200);
    let (s, _) = u
        .put(
            &format!("/api/v1/orders/{order}/storage"),
            &json!({"bytes": photo.len()}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, up) = u.upload(&order, "t.jpg", photo).await;
    assert_eq!(s, 201, "{up}");
    let image = up["image"].as_str().unwrap();
    // Someone else's image: not found, cached or not.
    let other = sign_up(&app, "thumbs-other@example.com").await;
    let (s, _, _) = thumbnail(&other, image).await;
    assert_eq!(s, 404);
    thumbnails_are_cached(&app, &u, image).await;
    let (s, _, _) = thumbnail(&other, image).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn a_rejection_lands_and_an_unreadable_message_is_parked_not_blocking() {
    let app = spawn().await;
    let _q = serve_quotes(&app, LAB).await;
    let mut lab = lab_orders(&app).await;
    let u = sign_up(&app, "rejected@example.com").await;
    let order = u.new_order().await;
    let photo = jpeg(5, 640, 480);
    let (s, _) = u
        .put(
            &format!("/api/v1/orders/{order}/storage"),
            &json!({"bytes": photo.len()}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, up) = u.upload(&order, "r.jpg", photo).await;
    assert_eq!(s, 201, "{up}");
    let req = json!({"lab": LAB, "counter": COUNTER, "items": [{"image": up["image"], "size": "L", "quantity": 1}]});
    let (s, v) = u
        .post_with(&format!("/api/v1/orders/{order}/submit"), &req, "r-1")
        .await;
    assert_eq!(s, 200, "{v}");
    next_order(&mut lab).await;

    let gw = Address::gateway(SiteId::parse(&app.gateway_id).unwrap());
    // Garbage first: it must be parked, and must not hold back the rejection behind it.
    js_publish(
        &app,
        subjects::order_rejected(&gw).unwrap(),
        &json!({"not": "a rejection"}),
        "garbage-1",
    )
    .await;
    let rejection = json!({"order": order, "lab": LAB, "code": "unknown_size",
        "reason": "size L is not printed here", "at": "2026-11-20T10:00:00Z"});
    js_publish(
        &app,
        subjects::order_rejected(&gw).unwrap(),
        &rejection,
        "reject-1",
    )
    .await;
    let path = format!("/api/v1/orders/{order}");
    eventually("stage rejected", || async {
        let (_, v) = u.get(&path).await;
        v["stage"] == "rejected"
    })
    .await;
    let (_, v) = u.get(&path).await;
    assert!(
        v["detail"].as_str().unwrap().contains("not printed here"),
        "{v}"
    );
    parked(&app, "garbage-1").await;
    // A topic this gateway never receives, in its inbox: parked too (routed by topic, not by
    // the subject's ending).
    js_publish(
        &app,
        format!("reprint.v1.gateway.{}.delivery.dispatched", app.gateway_id),
        &rejection,
        "unknown-topic-1",
    )
    .await;
    parked(&app, "unknown-topic-1").await;
    // A redelivered rejection (same message id, after the duplicate window too) changes
    // nothing: the inbox has it.
    assert!(
        app.state
            .store
            .inbox_contains(reprint_gateway::background::INBOX_CONSUMER, "reject-1")
            .await
            .unwrap()
    );
}

/// Waits until the gateway's inbox has parked the message `id`.
async fn parked(app: &TestApp, id: &str) {
    eventually(&format!("{id} parked"), || async {
        app.state
            .store
            .parked(reprint_gateway::background::INBOX_CONSUMER)
            .await
            .unwrap()
            .iter()
            .any(|p| p.message.message_id == id)
    })
    .await;
}

#[tokio::test]
async fn quote_catalog_and_locale_speak_the_shared_protocol() {
    let app = spawn().await;
    let _lab = serve_quotes(&app, LAB).await;
    let u = sign_up(&app, "quote@example.com").await;
    let order = u.new_order().await;
    let photo = jpeg(6, 640, 480);
    let (s, _) = u
        .put(
            &format!("/api/v1/orders/{order}/storage"),
            &json!({"bytes": photo.len()}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, up) = u.upload(&order, "q.jpg", photo).await;
    assert_eq!(s, 201, "{up}");
    let quote = |size: &str| json!({"lab": LAB, "counter": COUNTER, "items": [{"image": up["image"], "size": size, "quantity": 1}]});

    // The counter does not answer: 503 (the one 5xx that is right here), saying which site.
    let r = u
        .http
        .post(u.url(&format!("/api/v1/orders/{order}/quote")))
        .header("x-csrf-token", &u.csrf)
        .json(&quote("L"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let b: serde_json::Value = r.json().await.unwrap();
    assert!(b["detail"].as_str().unwrap().contains(COUNTER), "{b}");

    let _counter = serve_quotes(&app, COUNTER).await;
    // A size the lab does not announce: refused at the gateway's door by the one order check,
    // in the lab's words and with the protocol's code, before any site is asked.
    let (s, b) = u
        .post(&format!("/api/v1/orders/{order}/quote"), &quote("KG"))
        .await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["type"], "unknown_size", "{b}");
    assert_eq!(
        b["detail"], "this lab does not print size KG (asked for q.jpg)",
        "{b}"
    );
    let (s, q) = u
        .post(&format!("/api/v1/orders/{order}/quote"), &quote("2L"))
        .await;
    assert_eq!(s, 200, "{q}");
    assert_eq!(q["total"]["minor"], 560, "{q}");
    assert!(q["counter"]["estimated_finish"].is_null(), "{q}");

    let (s, c) = u.get(&format!("/api/v1/sites/{LAB}/catalog")).await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["site_kind"], "lab");
    assert_eq!(c["products"][0]["unit_price"]["minor"], 30, "{c}");
    let (s, l) = u.get(&format!("/api/v1/sites/{COUNTER}/locale")).await;
    assert_eq!(s, 200, "{l}");
    assert_eq!(l["currency"], "JPY", "{l}");
    let (s, _) = u.get("/api/v1/sites/nowhere/locale").await;
    assert_eq!(s, 404);
}

/// Fires `n` reservations of `each` bytes at once, one per fresh order of `u`; returns how
/// many were granted. None may fail with anything but `over_quota`.
async fn concurrent_reservations(u: &UserClient, n: usize, each: u64) -> usize {
    let mut orders = Vec::new();
    for _ in 0..n {
        orders.push(u.new_order().await);
    }
    let body = json!({ "bytes": each });
    let paths: Vec<String> = orders
        .iter()
        .map(|o| format!("/api/v1/orders/{o}/storage"))
        .collect();
    let replies = futures::future::join_all(paths.iter().map(|p| u.put(p, &body))).await;
    let mut granted = 0;
    for (s, b) in replies {
        match s {
            200 => granted += 1,
            409 => assert_eq!(b["type"], "over_quota", "{b}"),
            other => panic!("unexpected {other}: {b}"),
        }
    }
    granted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reservations_on_postgres_keep_the_quota() {
    let app = spawn_postgres_with(|c| c.storage.user_quota_bytes = 1_000_000).await;
    let u = sign_up(&app, "race@example.com").await;
    // 12 reservations of 300 kB against a 1 MB quota, all at once: exactly 3 fit.
    assert_eq!(concurrent_reservations(&u, 12, 300_000).await, 3);
    // And what was granted is what the quota sees: nothing more fits.
    let o = u.new_order().await;
    let (s, b) = u
        .put(
            &format!("/api/v1/orders/{o}/storage"),
            &json!({"bytes": 100_001}),
        )
        .await;
    assert_eq!(s, 409, "{b}");
    let (s, b) = u
        .put(
            &format!("/api/v1/orders/{o}/storage"),
            &json!({"bytes": 100_000}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reservations_on_sqlite_keep_the_quota() {
    let app = spawn_with(|c| c.storage.user_quota_bytes = 1_000_000).await;
    let u = sign_up(&app, "race-lite@example.com").await;
    assert_eq!(concurrent_reservations(&u, 12, 300_000).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_uploads_to_one_order_all_land_within_the_reservation() {
    let app = spawn().await;
    let u = sign_up(&app, "parallel@example.com").await;
    let order = u.new_order().await;
    let photos: Vec<Vec<u8>> = (20..24).map(|seed| jpeg(seed, 800, 600)).collect();
    let total: usize = photos.iter().map(Vec::len).sum();
    let (s, _) = u
        .put(
            &format!("/api/v1/orders/{order}/storage"),
            &json!({ "bytes": total }),
        )
        .await;
    assert_eq!(s, 200);
    let names: Vec<String> = (0..photos.len()).map(|i| format!("p{i}.jpg")).collect();
    let replies = futures::future::join_all(
        photos
            .iter()
            .zip(&names)
            .map(|(p, n)| u.upload(&order, n, p.clone())),
    )
    .await;
    for (s, b) in &replies {
        assert_eq!(*s, 201, "{b}");
    }
    let (_, v) = u.get(&format!("/api/v1/orders/{order}")).await;
    assert_eq!(v["images"].as_array().unwrap().len(), 4, "{v}");
    assert_eq!(v["used"], total, "{v}");

    // Two at once that fit only one by one: one lands, the other is over the reservation.
    let o2 = u.new_order().await;
    let a = jpeg(30, 800, 600);
    let b = jpeg(31, 800, 600);
    let (s, _) = u
        .put(
            &format!("/api/v1/orders/{o2}/storage"),
            &json!({ "bytes": a.len().max(b.len()) + 10 }),
        )
        .await;
    assert_eq!(s, 200);
    let (ra, rb) = tokio::join!(u.upload(&o2, "a.jpg", a), u.upload(&o2, "b.jpg", b));
    let mut statuses = [ra.0, rb.0];
    statuses.sort();
    assert_eq!(statuses, [201, 413], "{ra:?} {rb:?}");
}

/// Subscribes to what cancelling `order` sends: the order's status subject and the lab's
/// `order.cancelled`.
async fn cancellation_subscribers(
    app: &TestApp,
    order: &str,
) -> (async_nats::Subscriber, async_nats::Subscriber) {
    let status = app
        .client
        .subscribe(subjects::status_of(
            &subjects::OrderId::parse(order).unwrap(),
        ))
        .await
        .unwrap();
    let to_lab = app
        .client
        .subscribe(subjects::order_cancelled(&SiteId::parse(LAB).unwrap()))
        .await
        .unwrap();
    app.client.flush().await.unwrap();
    (status, to_lab)
}

/// The value of header `name` of a message seen on core NATS.
fn header(m: &async_nats::Message, name: &str) -> Option<String> {
    m.headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str().to_string())
}

async fn next_message(sub: &mut async_nats::Subscriber, what: &str) -> async_nats::Message {
    tokio::time::timeout(std::time::Duration::from_secs(10), sub.next())
        .await
        .unwrap_or_else(|_| panic!("{what} within 10 s"))
        .expect("subscription open")
}

/// Every message the gateway writes is built by `reprint_bus::message`: the message id is the
/// gateway's fact about the order (`<gateway>:<order>:<fact>`, so a submit or a cancellation
/// whose unit of work is retried is one message), with the one header set.
#[tokio::test]
async fn each_message_has_one_id_per_fact_and_the_one_header_set() {
    let app = spawn().await;
    let mut lab = lab_orders(&app).await;
    let (u, order, image) = with_image(&app, "ids@example.com", 31).await;
    let req = json!({"lab": LAB, "counter": COUNTER,
        "items": [{"image": image, "size": "L", "quantity": 1}]});
    let (s, v) = u
        .post_with(&format!("/api/v1/orders/{order}/submit"), &req, "ids-1")
        .await;
    assert_eq!(s, 200, "{v}");
    let gw = &app.gateway_id;
    let placed = next_message(&mut lab, "an order.placed").await;
    assert_eq!(
        header(&placed, "Nats-Msg-Id").as_deref(),
        Some(format!("{gw}:{order}:order-placed").as_str())
    );
    assert_eq!(
        header(&placed, "Reprint-Message").as_deref(),
        Some("order.placed")
    );
    assert_eq!(
        header(&placed, "Content-Type").as_deref(),
        Some("application/json")
    );
    assert!(header(&placed, "traceparent").is_some_and(|t| t.starts_with("00-")));

    let (mut status, mut cancellations) = cancellation_subscribers(&app, &order).await;
    let (s, c) = u
        .post(&format!("/api/v1/orders/{order}/cancel"), &json!({}))
        .await;
    assert_eq!(s, 200, "{c}");
    let to_lab = next_message(&mut cancellations, "an order.cancelled").await;
    assert_eq!(
        header(&to_lab, "Nats-Msg-Id").as_deref(),
        Some(format!("{gw}:{order}:order-cancelled").as_str())
    );
    assert_eq!(
        header(&to_lab, "Reprint-Message").as_deref(),
        Some("order.cancelled")
    );
    // Said on the lab's behalf, under the gateway's id: the lab's own status of the
    // cancellation (`<lab>:<order>:status:cancelled`) is another message.
    let change = next_message(&mut status, "a status").await;
    assert_eq!(
        header(&change, "Nats-Msg-Id").as_deref(),
        Some(format!("{gw}:{order}:status:cancelled").as_str())
    );
    assert_eq!(
        header(&change, "Reprint-Message").as_deref(),
        Some("status")
    );
}
