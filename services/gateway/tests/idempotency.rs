//! Issue 13, "concurrent retries get 500": clients sending the same `Idempotency-Key` at once to
//! create, submit or re-order get the first request's outcome (the same order) or 409 with
//! `Retry-After` while it is in flight, never a 5xx, and one order is made. Real HTTP against
//! the gateway on SQLite and on PostgreSQL, real NATS.

mod common;

use common::*;
use serde_json::{Value, json};

/// Concurrent duplicates sent per round, and rounds.
const CLIENTS: usize = 6;
const ROUNDS: usize = 3;

/// Sends `CLIENTS` copies of one POST with one idempotency key at once: (status, body,
/// Retry-After) of each.
async fn at_once(u: &UserClient, path: &str, body: &Value, key: &str) -> Vec<(u16, Value, bool)> {
    let sends = (0..CLIENTS).map(|_| async {
        let r = u
            .http
            .post(u.url(path))
            .header("x-csrf-token", &u.csrf)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let retry_after = r.headers().contains_key("retry-after");
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
            retry_after,
        )
    });
    futures::future::join_all(sends).await
}

/// Each answer is `ok` with the one order, or 409 with `Retry-After`; never a 5xx. Returns
/// the order.
fn one_outcome(answers: &[(u16, Value, bool)], ok: u16, what: &str) -> String {
    let mut orders = Vec::new();
    for (status, body, retry_after) in answers {
        assert!(*status < 500, "{what}: a server error {status} {body}");
        match *status {
            s if s == ok => orders.push(body["order"].as_str().unwrap().to_string()),
            409 => assert!(*retry_after, "{what}: a 409 without Retry-After: {body}"),
            other => panic!("{what}: {other} {body}"),
        }
    }
    orders.dedup();
    assert_eq!(
        orders.len(),
        1,
        "{what}: one order for one key: {answers:?}"
    );
    orders.remove(0)
}

async fn orders_of(u: &UserClient) -> Vec<Value> {
    let (s, list) = u.get("/api/v1/orders").await;
    assert_eq!(s, 200, "{list}");
    list.as_array().unwrap().clone()
}

async fn concurrent_duplicates(app: TestApp) {
    let _sites = [
        serve_quotes(&app, LAB).await,
        serve_quotes(&app, COUNTER).await,
    ];
    let (u, first, image) = with_image(&app, "retry@example.com", 31).await;
    let req = json!({"lab": LAB, "counter": COUNTER, "items": [{"image": image, "size": "L", "quantity": 1}]});

    // Submit: one draft, one key, sent at once.
    let path = format!("/api/v1/orders/{first}/submit");
    let answers = at_once(&u, &path, &req, "submit-1").await;
    assert_eq!(one_outcome(&answers, 200, "submit"), first);
    let (_, v) = u.get(&format!("/api/v1/orders/{first}")).await;
    assert_eq!(v["stage"], "placed", "{v}");
    let placed: Vec<&str> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["stage"].as_str())
        .filter(|s| *s == "placed")
        .collect();
    assert_eq!(placed.len(), 1, "submitted once: {v}");
    // A retry afterwards answers the same.
    let (s, again) = u.post_with(&path, &req, "submit-1").await;
    assert_eq!((s, again["order"].as_str()), (200, Some(first.as_str())));

    // Re-order: several rounds, each its own key, each sent at once.
    let reorder = format!("/api/v1/orders/{first}/reorder");
    for round in 0..ROUNDS {
        let key = format!("reorder-{round}");
        let answers = at_once(&u, &reorder, &json!({}), &key).await;
        let made = one_outcome(&answers, 201, "re-order");
        let (s, again) = u.post_with(&reorder, &json!({}), &key).await;
        assert_eq!(
            (s, again["order"].as_str()),
            (201, Some(made.as_str())),
            "a later retry answers the first's outcome"
        );
    }
    assert_eq!(
        orders_of(&u).await.len(),
        1 + ROUNDS,
        "the first order and one re-order a key"
    );

    // A key used for another order is the client's mistake: 409, and no order made.
    let (s, b) = u.post_with(&reorder, &json!({}), "submit-1").await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["type"], "idempotency_key_reused", "{b}");
    assert_eq!(orders_of(&u).await.len(), 1 + ROUNDS);

    // Create: a retried create answers the draft the first made, also when the copies arrive
    // at once; never a second draft, never a 5xx.
    let before = orders_of(&u).await.len();
    let mut drafts = Vec::new();
    for round in 0..ROUNDS {
        let key = format!("create-{round}");
        let answers = at_once(&u, "/api/v1/orders", &json!({}), &key).await;
        let made = one_outcome(&answers, 201, "create");
        let (s, again) = u.post_with("/api/v1/orders", &json!({}), &key).await;
        assert_eq!(
            (s, again["order"].as_str()),
            (201, Some(made.as_str())),
            "a later retry answers the first's draft"
        );
        assert_eq!(again["status_url"], format!("/api/v1/orders/{made}"));
        drafts.push(made);
    }
    drafts.dedup();
    assert_eq!(drafts.len(), ROUNDS, "one draft a key");
    assert_eq!(
        orders_of(&u).await.len(),
        before + ROUNDS,
        "one draft a key"
    );
    // Keys are the account's own: another account's same key makes its own draft.
    let other = sign_up(&app, "other-retry@example.com").await;
    let (s, theirs) = other
        .post_with("/api/v1/orders", &json!({}), "create-0")
        .await;
    assert_eq!(s, 201, "{theirs}");
    assert_ne!(theirs["order"].as_str(), Some(drafts[0].as_str()));
    // Without a key every create is a new draft; a key that is empty or too long is refused.
    let (_, a) = u.post("/api/v1/orders", &json!({})).await;
    let (_, b) = u.post("/api/v1/orders", &json!({})).await;
    assert_ne!(a["order"], b["order"]);
    for bad in [String::new(), "k".repeat(201)] {
        let (s, b) = u.post_with("/api/v1/orders", &json!({}), &bad).await;
        assert_eq!(s, 400, "{b}");
    }
    assert_eq!(orders_of(&u).await.len(), before + ROUNDS + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_get_one_outcome_on_sqlite() {
    concurrent_duplicates(spawn().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_get_one_outcome_on_postgres() {
    concurrent_duplicates(spawn_postgres().await).await;
}
