//! An order's stage moves only forward whatever order the network's statuses arrive in, and
//! `/metrics` after one order: orders per stage, append latency by stream kind, consumer lag.

mod common;

use common::*;
use reprint_bus::subjects;
use serde_json::json;

use reprint_testkit::metric_series as series;

async fn metrics_page(app: &TestApp) -> String {
    reqwest::get(format!("{}/metrics", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn late_statuses_do_not_move_an_order_back_and_metrics_show_the_order() {
    let app = spawn().await;
    let _lab_quotes = serve_quotes(&app, LAB).await;
    let _counter_quotes = serve_quotes(&app, COUNTER).await;
    let mut lab = lab_orders(&app).await;
    let u = sign_up(&app, "hanako@example.com").await;
    let order = u.new_order().await;
    let photo = jpeg(3, 900, 600);
    let (s, r) = u
        .put(
            &format!("/api/v1/orders/{order}/storage"),
            &json!({"bytes": photo.len() + 10}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let (s, up) = u.upload(&order, "beach.jpg", photo).await;
    assert_eq!(s, 201, "{up}");
    let image = up["image"].as_str().unwrap().to_string();
    let req = json!({"lab": LAB, "counter": COUNTER, "items": [{"image": image, "size": "L", "quantity": 1}]});
    let (s, v) = u
        .post_with(&format!("/api/v1/orders/{order}/submit"), &req, "key-1")
        .await;
    assert_eq!(s, 200, "{v}");
    next_order(&mut lab).await;

    // The statuses of the network, the last ones first: collected overtakes dispatched and
    // printing (each its own message, as after redeliveries).
    let sub = subjects::OrderId::parse(order.clone()).unwrap();
    let status = |stage: &str, site: &str, kind: &str, minute: u32| {
        json!({"order": order, "stage": stage, "site": site, "site_kind": kind,
            "at": format!("2026-11-20T11:{minute:02}:00Z"), "detail": stage, "charge": null})
    };
    for (id, stage, site, kind, minute) in [
        ("s-received", "received", LAB, "lab", 1),
        ("s-collected", "collected", COUNTER, "counter", 5),
        ("s-dispatched", "dispatched", LAB, "lab", 3),
        ("s-printing", "printing", LAB, "lab", 2),
    ] {
        js_publish(
            &app,
            subjects::status(&subjects::SiteId::parse(site).unwrap(), &sub),
            &status(stage, site, kind, minute),
            id,
        )
        .await;
    }
    let path = format!("/api/v1/orders/{order}");
    eventually("every status on the timeline", || async {
        let (_, v) = u.get(&path).await;
        v["timeline"].as_array().is_some_and(|t| t.len() >= 5)
    })
    .await;
    let (_, v) = u.get(&path).await;
    assert_eq!(
        v["stage"], "collected",
        "the latest stage, not the last status: {v}"
    );
    let stages: Vec<&str> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["stage"].as_str().unwrap())
        .collect();
    for s in ["placed", "received", "printing", "dispatched", "collected"] {
        assert_eq!(
            stages.iter().filter(|x| **x == s).count(),
            1,
            "each stage once on the timeline: {stages:?}"
        );
    }
    let (_, list) = u.get("/api/v1/orders").await;
    let listed = list
        .as_array()
        .and_then(|a| a.iter().find(|o| o["order"] == order.as_str()))
        .unwrap_or_else(|| panic!("the order in the list: {list}"));
    assert_eq!(listed["stage"], "collected", "the list agrees: {listed}");
    // Printing started long ago: too late to cancel, whatever came last.
    let (s, b) = u
        .post(&format!("/api/v1/orders/{order}/cancel"), &json!({}))
        .await;
    assert_eq!(s, 409, "{b}");

    // Metrics, once the consumers are quiet.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    let page = loop {
        let page = metrics_page(&app).await;
        let lags: Vec<f64> = page
            .lines()
            .filter(|l| l.starts_with("reprint_consumer_lag{consumer=\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
            .collect();
        if lags.len() == 2 && lags.iter().all(|v| *v == 0.0) {
            break page;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "both consumers' lag, back to 0:\n{page}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let stage = |s: &str| {
        series(
            &page,
            &format!("reprint_orders_total{{stage=\"{s}\",service=\"gateway\"}}"),
        )
    };
    assert_eq!(stage("placed"), Some(1.0), "{page}");
    assert_eq!(stage("collected"), Some(1.0), "{page}");
    let order_appends = series(
        &page,
        "reprint_append_seconds_count{stream_kind=\"gw-order\",service=\"gateway\"}",
    )
    .unwrap_or(0.0);
    assert!(
        order_appends >= 5.0,
        "submit and the four statuses appended to the order: {order_appends}\n{page}"
    );
    for l in page
        .lines()
        .filter(|l| l.starts_with("reprint_append_seconds_count{"))
    {
        assert!(
            ["gw-order", "gw-account", "gw-image", "gw-storage"]
                .iter()
                .any(|k| l.contains(&format!("stream_kind=\"{k}\""))),
            "a stream kind of the gateway: {l}"
        );
    }
}
