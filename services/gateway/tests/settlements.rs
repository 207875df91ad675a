//! Settlement balances between counters and labs, from the status stream: walk-in orders at
//! counters (not placed through this gateway) published by the lab and the counter as they do,
//! a duplicate and a republish, out-of-order arrival; the ops-only page and JSON endpoint.

mod common;

use common::*;
use reprint_bus::subjects;
use serde_json::{Value, json};

fn charge(minor: i64) -> Value {
    json!({"lines": [], "total": {"minor": minor, "currency": "JPY"}})
}

/// A status as the lab (`kind: "lab"`) or the counter (`kind: "counter"`) publishes it.
fn status(order: &str, stage: &str, site: &str, kind: &str, at: &str, charge: Value) -> Value {
    json!({"order": order, "stage": stage, "site": site, "site_kind": kind,
        "at": at, "detail": format!("{stage} at {site}"), "charge": charge})
}

async fn publish_all(app: &TestApp, messages: &[(&str, Value)]) {
    for (id, body) in messages {
        let order = subjects::OrderId::parse(body["order"].as_str().unwrap()).unwrap();
        let from = subjects::SiteId::parse(body["site"].as_str().unwrap()).unwrap();
        js_publish(app, subjects::status(&from, &order), body, id).await;
    }
}

fn order_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[tokio::test]
async fn balances_per_lab_and_counter_count_each_order_once() {
    balances_count_each_order_once(spawn().await).await;
}

#[tokio::test]
async fn balances_on_postgres_too() {
    balances_count_each_order_once(spawn_postgres().await).await;
}

async fn balances_count_each_order_once(app: TestApp) {
    let (a, b, c, d) = (order_id(), order_id(), order_id(), order_id());
    let (lab_b, counter_y) = ("lab-b", "counter-y");
    let t = |m: u32| format!("2026-11-20T10:{m:02}:00Z");
    let messages: Vec<(&str, Value)> = vec![
        // Order A at lab-a / counter-x: the whole way to settled.
        (
            "a-placed",
            status(&a, "placed", COUNTER, "counter", &t(0), charge(300)),
        ),
        (
            "a-received",
            status(&a, "received", LAB, "lab", &t(1), charge(1000)),
        ),
        (
            "a-dispatched",
            status(&a, "dispatched", LAB, "lab", &t(2), charge(1000)),
        ),
        // The lab retried: the same dispatch under another message id and a later time.
        (
            "a-dispatched-again",
            status(&a, "dispatched", LAB, "lab", &t(3), charge(1000)),
        ),
        // The counter's amount due (lab + counter) is not the lab's charge.
        (
            "a-ready",
            status(
                &a,
                "ready_for_pickup",
                COUNTER,
                "counter",
                &t(4),
                charge(1300),
            ),
        ),
        (
            "a-collected",
            status(&a, "collected", COUNTER, "counter", &t(5), Value::Null),
        ),
        // The same collection twice (another message id, same content).
        (
            "a-collected-dup",
            status(&a, "collected", COUNTER, "counter", &t(5), Value::Null),
        ),
        (
            "a-settled",
            status(&a, "settled", LAB, "lab", &t(6), Value::Null),
        ),
        // Order B at lab-a / counter-x: collected, not yet settled.
        (
            "b-placed",
            status(&b, "placed", COUNTER, "counter", &t(0), charge(200)),
        ),
        (
            "b-received",
            status(&b, "received", LAB, "lab", &t(1), charge(500)),
        ),
        (
            "b-dispatched",
            status(&b, "dispatched", LAB, "lab", &t(2), charge(500)),
        ),
        (
            "b-ready",
            status(
                &b,
                "ready_for_pickup",
                COUNTER,
                "counter",
                &t(3),
                charge(700),
            ),
        ),
        (
            "b-collected",
            status(&b, "collected", COUNTER, "counter", &t(4), Value::Null),
        ),
        // Order C at lab-b / counter-y: the counter's status arrives before the lab's.
        (
            "c-ready",
            status(
                &c,
                "ready_for_pickup",
                counter_y,
                "counter",
                &t(3),
                charge(950),
            ),
        ),
        (
            "c-received",
            status(&c, "received", lab_b, "lab", &t(1), charge(700)),
        ),
        // Order D: received only, not dispatched: nothing charged yet.
        (
            "d-received",
            status(&d, "received", LAB, "lab", &t(1), charge(400)),
        ),
    ];
    publish_all(&app, &messages).await;
    let store = app.state.store.clone();
    eventually("every status handled", || {
        let store = store.clone();
        let ids: Vec<String> = messages.iter().map(|(id, _)| id.to_string()).collect();
        async move {
            for id in ids {
                if !store.inbox_contains("gateway-status", &id).await.unwrap() {
                    return false;
                }
            }
            true
        }
    })
    .await;

    let ops = sign_up(&app, "ops@example.com").await;
    let (s, v) = ops.get("/api/v1/ops/settlements").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["balances"],
        json!([
            {"lab": LAB, "counter": COUNTER, "currency": "JPY", "orders": 2,
             "charged_minor": 1500, "collected_minor": 1500, "settled_minor": 1000,
             "owed_minor": 500},
            {"lab": lab_b, "counter": counter_y, "currency": "JPY", "orders": 1,
             "charged_minor": 700, "collected_minor": 0, "settled_minor": 0,
             "owed_minor": 0},
        ]),
        "{v}"
    );
    assert_eq!(v["unattributed_orders"], 0, "{v}");
    assert!(v["scope"].as_str().unwrap().contains("walk-in"), "{v}");

    // Redelivered the whole sequence again (new message ids): nothing changes.
    let again: Vec<(String, Value)> = messages
        .iter()
        .map(|(id, body)| (format!("{id}-redelivered"), body.clone()))
        .collect();
    let again_ref: Vec<(&str, Value)> = again
        .iter()
        .map(|(id, body)| (id.as_str(), body.clone()))
        .collect();
    publish_all(&app, &again_ref).await;
    eventually("the redelivered statuses handled", || {
        let store = store.clone();
        let ids: Vec<String> = again.iter().map(|(id, _)| id.clone()).collect();
        async move {
            for id in ids {
                if !store.inbox_contains("gateway-status", &id).await.unwrap() {
                    return false;
                }
            }
            true
        }
    })
    .await;
    let (_, v2) = ops.get("/api/v1/ops/settlements").await;
    assert_eq!(v2, v, "a repeated stage counts once");

    // The dashboard shows the same table, and orders per stage with their counter.
    let r = ops.http.get(ops.url("/ops")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Money between counters and labs"), "{html}");
    assert!(html.contains(counter_y) && html.contains(lab_b), "{html}");
    assert!(
        html.contains("Owed to the lab") && html.contains("500"),
        "{html}"
    );
    assert!(html.contains("<th>Counter</th>"), "{html}");
}

#[tokio::test]
async fn settlements_are_for_ops_only_and_in_the_openapi_document() {
    let app = spawn().await;
    let anonymous = reqwest::get(format!("{}/api/v1/ops/settlements", app.base))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let user = sign_up(&app, "hanako@example.com").await;
    let (s, v) = user.get("/api/v1/ops/settlements").await;
    assert_eq!(s, 404, "not for users, like /ops: {v}");
    let r = user.http.get(user.url("/ops")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let ops = sign_up(&app, "ops@example.com").await;
    let (s, v) = ops.get("/api/v1/ops/settlements").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["balances"], json!([]), "{v}");

    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["paths"]["/api/v1/ops/settlements"]["get"].is_object(),
        "{doc}"
    );
    assert!(
        doc["components"]["schemas"]["SettlementBalance"].is_object(),
        "{doc}"
    );
}
