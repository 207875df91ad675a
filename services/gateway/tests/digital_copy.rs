//! The digital copy at the gateway's API (issue 14; seed 000, claims 2, 18), against a fake lab
//! and counter on a real nats-server and a real SQLite store: quoted by the lab only, refused
//! (422) where the chosen lab does not announce `digital-copy:zip`, carried by a re-order (by
//! default as the earlier order had it, or as the re-order says), and never downloadable from
//! an order without it, nor before it is ready.

mod common;

use common::*;
use reprint_bus::directory::Directory;
use reprint_bus::subjects::SiteKind;
use serde_json::json;

fn has_digital_line(charge: &serde_json::Value) -> bool {
    charge["lines"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["kind"] == "digital_copy")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quoted_by_the_lab_refused_where_not_sold_and_carried_by_a_reorder() {
    let app = spawn().await;
    let _lab = serve_quotes(&app, LAB).await;
    let _counter = serve_quotes(&app, COUNTER).await;
    let mut lab = lab_orders(&app).await;
    let (u, order, image) = with_image(&app, "dc@example.com", 51).await;
    let req = json!({"lab": LAB, "counter": COUNTER, "digital_copy": true,
        "items": [{"image": image, "size": "L", "quantity": 1}]});

    // The quote: the lab's charge has the line at its price, the counter's has none.
    let (s, q) = u.post(&format!("/api/v1/orders/{order}/quote"), &req).await;
    assert_eq!(s, 200, "{q}");
    assert!(has_digital_line(&q["lab"]["charge"]), "{q}");
    assert!(!has_digital_line(&q["counter"]["charge"]), "{q}");
    assert_eq!(
        q["lab"]["charge"]["total"]["minor"],
        250 + 30 + DIGITAL_COPY_PRICE,
        "{q}"
    );

    // A lab that does not announce it: refused in words before anything is sent.
    let dir = Directory::open(&app.js, 1).await.unwrap();
    let mut plain = site("lab-b", SiteKind::Lab);
    plain.prices.retain(|p| p.item != "digital-copy:zip");
    dir.announce(&plain).await.unwrap();
    let mut elsewhere = req.clone();
    elsewhere["lab"] = json!("lab-b");
    let (s, v) = u
        .post(&format!("/api/v1/orders/{order}/quote"), &elsewhere)
        .await;
    assert_eq!(s, 422, "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("digital copy"),
        "{v}"
    );
    let (s, v) = u
        .post_with(&format!("/api/v1/orders/{order}/submit"), &elsewhere, "k-b")
        .await;
    assert_eq!(s, 422, "{v}");

    // Placed with it; the lab gets digital_copy.
    let (s, v) = u
        .post_with(&format!("/api/v1/orders/{order}/submit"), &req, "k-1")
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(next_order(&mut lab).await.digital_copy);
    let (s, v) = u.get(&format!("/api/v1/orders/{order}/digital-copy")).await;
    assert_eq!(s, 409, "{v}");

    // A re-order keeps it by default, and drops it when asked.
    let (s, again) = u
        .post(&format!("/api/v1/orders/{order}/reorder"), &json!({}))
        .await;
    assert_eq!(s, 201, "{again}");
    assert!(next_order(&mut lab).await.digital_copy, "kept by default");
    let (s, again) = u
        .post(
            &format!("/api/v1/orders/{order}/reorder"),
            &json!({"digital_copy": false}),
        )
        .await;
    assert_eq!(s, 201, "{again}");
    assert!(
        !next_order(&mut lab).await.digital_copy,
        "dropped when asked"
    );
    let without = again["order"].as_str().unwrap();
    let (s, v) = u
        .get(&format!("/api/v1/orders/{without}/digital-copy"))
        .await;
    assert_eq!(s, 404, "an order without it: {v}");

    // A request of before (no field) is an order of prints only.
    let (u2, order2, image2) = with_image(&app, "old-client@example.com", 52).await;
    let old = json!({"lab": LAB, "counter": COUNTER,
        "items": [{"image": image2, "size": "L", "quantity": 1}]});
    let (s, q) = u2
        .post(&format!("/api/v1/orders/{order2}/quote"), &old)
        .await;
    assert_eq!(s, 200, "{q}");
    assert!(!has_digital_line(&q["lab"]["charge"]), "{q}");
    let (s, v) = u2
        .post_with(&format!("/api/v1/orders/{order2}/submit"), &old, "k-2")
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(!next_order(&mut lab).await.digital_copy);
}
