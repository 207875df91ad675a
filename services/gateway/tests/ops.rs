//! The ops dashboard as the person on call uses it, on real NATS and a real store: a site whose
//! heartbeat stops turns red within its threshold; an order held at a stage is among the stuck
//! ones with its timeline across the sites; leg times and balances from a known set of
//! statuses; the CSV says what the page says.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::*;
use reprint_bus::directory::Directory;
use reprint_bus::subjects::{self, SiteKind};
use serde_json::{Value, json};

fn charge(minor: i64) -> Value {
    json!({"lines": [], "total": {"minor": minor, "currency": "JPY"}})
}

fn status(
    order: &str,
    stage: &str,
    site: &str,
    kind: &str,
    at: DateTime<Utc>,
    charge: Value,
) -> Value {
    json!({"order": order, "stage": stage, "site": site, "site_kind": kind,
        "at": at.to_rfc3339(), "detail": format!("{stage} at {site}"), "charge": charge})
}

fn order_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

async fn publish_and_wait(app: &TestApp, messages: &[(String, Value)]) {
    for (id, body) in messages {
        let order = subjects::OrderId::parse(body["order"].as_str().unwrap()).unwrap();
        let from = subjects::SiteId::parse(body["site"].as_str().unwrap()).unwrap();
        js_publish(app, subjects::status(&from, &order), body, id).await;
    }
    let store = app.state.store.clone();
    let ids: Vec<String> = messages.iter().map(|(id, _)| id.clone()).collect();
    eventually("every status handled", || {
        let (store, ids) = (store.clone(), ids.clone());
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
}

/// The rows of the table `id` of a page, each as its cells' text (tags dropped).
fn table(html: &str, id: &str) -> Vec<Vec<String>> {
    let start = html
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id}"));
    let body = &html[start..];
    let body = &body[..body.find("</table>").unwrap()];
    let body = &body[body.find("<tbody>").unwrap_or(0)..];
    body.split("<tr")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let cell = &cell[cell.find('>').unwrap() + 1..];
                    let cell = cell.split("</td>").next().unwrap();
                    let mut text = String::new();
                    let mut in_tag = false;
                    for c in cell.chars() {
                        match c {
                            '<' => in_tag = true,
                            '>' => in_tag = false,
                            c if !in_tag => text.push(c),
                            _ => {}
                        }
                    }
                    text.trim().to_string()
                })
                .collect()
        })
        .collect()
}

async fn page(u: &UserClient, path: &str) -> String {
    let r = u.http.get(u.url(path)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap()
}

/// The `data-health` of the health row of `site` on `/ops`.
async fn health_of(u: &UserClient, site: &str) -> Option<String> {
    let html = page(u, "/ops").await;
    let at = html.find(&format!("data-site=\"{site}\" data-health=\""))?;
    let rest = &html[at..];
    let rest = &rest[rest.find("data-health=\"").unwrap() + 13..];
    Some(rest[..rest.find('"').unwrap()].to_string())
}

#[tokio::test]
async fn a_site_whose_heartbeat_stops_turns_red_within_its_threshold() {
    let app = spawn().await;
    let ops = sign_up(&app, "ops@example.com").await;
    let dir = Directory::open(&app.js, 1).await.unwrap();
    let beat = dir.start_heartbeat(site("counter-z", SiteKind::Counter), Duration::from_secs(1));
    eventually("the site listed as good", || async {
        health_of(&ops, "counter-z").await.as_deref() == Some("h-good")
    })
    .await;
    let html = page(&ops, "/ops").await;
    assert!(
        html.contains("Site counter-z (counter-z)"),
        "by name and id"
    );
    // Let it beat a few times, then cut it off (its entry stays, as an offline counter's).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    beat.stop(false).await.unwrap();
    let last = dir
        .get(&subjects::SiteId::parse("counter-z").unwrap())
        .await
        .unwrap()
        .unwrap()
        .site
        .last_heartbeat;
    let mut seen_late = false;
    let red_at = loop {
        let h = health_of(&ops, "counter-z").await.unwrap();
        seen_late |= h == "h-late";
        if h == "h-down" {
            break Utc::now();
        }
        assert!(
            Utc::now().signed_duration_since(last) < chrono::Duration::seconds(10),
            "still {h} 10 s after the last heartbeat"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let after = red_at.signed_duration_since(last).num_milliseconds();
    // Red after 3 missed beats of 1 s (the default [ops] heartbeat_red_missed), not long after.
    assert!(
        (3000..=4500).contains(&after),
        "red {after} ms after the last beat"
    );
    assert!(seen_late, "amber between green and red");
    let html = page(&ops, "/ops").await;
    assert!(
        html.contains("1 site silent") || html.contains("One site silent"),
        "{html}"
    );
}

/// The `data-backlog` of the health row of `site` on `/ops`.
async fn backlog_of(u: &UserClient, site: &str) -> Option<u64> {
    let html = page(u, "/ops").await;
    let at = html.find(&format!("data-site=\"{site}\" data-health=\""))?;
    let rest = &html[at..];
    let rest = &rest[rest.find("data-backlog=\"").unwrap() + 14..];
    rest[..rest.find('"').unwrap()].parse().ok()
}

#[tokio::test]
async fn a_counter_that_cannot_send_shows_its_backlog_growing() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let app = spawn().await;
    let ops = sign_up(&app, "ops@example.com").await;
    let dir = Directory::open(&app.js, 1).await.unwrap();
    let backlog = Arc::new(AtomicU64::new(3));
    let source = {
        let backlog = backlog.clone();
        Arc::new(move || reprint_bus::directory::SiteHealth {
            consumer_lag: 0,
            outbox_backlog: backlog.load(Ordering::SeqCst),
            parked: None,
            last_error: Some("could not reach the lab".to_string()),
            last_error_at: Some(Utc::now() - chrono::Duration::minutes(5)),
        }) as reprint_bus::directory::HealthSource
    };
    let beat = dir.start_heartbeat_with_health(
        site("counter-q", SiteKind::Counter),
        Duration::from_secs(1),
        Some(source),
    );
    eventually("the backlog of 3, green", || async {
        backlog_of(&ops, "counter-q").await == Some(3)
            && health_of(&ops, "counter-q").await.as_deref() == Some("h-good")
    })
    .await;
    // Its outbox grows (NATS refuses it, say): amber at 10 ([ops] backlog_amber), red at 100.
    backlog.store(42, Ordering::SeqCst);
    eventually("the backlog of 42, amber", || async {
        backlog_of(&ops, "counter-q").await == Some(42)
            && health_of(&ops, "counter-q").await.as_deref() == Some("h-late")
    })
    .await;
    backlog.store(180, Ordering::SeqCst);
    eventually("the backlog of 180, red", || async {
        backlog_of(&ops, "counter-q").await == Some(180)
            && health_of(&ops, "counter-q").await.as_deref() == Some("h-down")
    })
    .await;
    let html = page(&ops, "/ops").await;
    assert!(html.contains("Waiting to be sent"), "{html}");
    // Its last error, 5 minutes old: shown amber (younger than [ops] last_error_amber_minutes).
    let row = &html[html.find("data-site=\"counter-q\"").unwrap()..];
    let cell = &row[row.find("<td class=\"last-error\"").unwrap()..];
    let cell = &cell[..cell.find("</td>").unwrap()];
    assert!(cell.contains("could not reach the lab"), "{cell}");
    assert!(cell.contains("data-recent=\"true\""), "{cell}");
    // The test sites of the harness announce no queues: said so, not a zero.
    assert!(html.contains("not reported"));
    beat.stop(true).await.unwrap();
}

#[tokio::test]
async fn stuck_orders_leg_times_balances_and_csv_from_known_statuses() {
    stuck_legs_balances_from_known_statuses(spawn().await).await;
}

/// The same figures counted by PostgreSQL (the legs' percentiles and the stuck orders are
/// SQL of their own: window functions on both databases).
#[tokio::test]
async fn stuck_orders_leg_times_balances_and_csv_from_known_statuses_postgres() {
    stuck_legs_balances_from_known_statuses(spawn_postgres().await).await;
}

async fn stuck_legs_balances_from_known_statuses(app: TestApp) {
    let ops = sign_up(&app, "ops@example.com").await;
    let now = Utc::now();
    let t0 = now - chrono::Duration::days(1);
    let m = |min: i64| t0 + chrono::Duration::minutes(min);
    let (a, b, c, fresh) = (order_id(), order_id(), order_id(), order_id());
    let mut messages: Vec<(String, Value)> = Vec::new();
    let mut add =
        |id: &str, body: Value| messages.push((format!("{id}-{}", uuid::Uuid::new_v4()), body));
    // A: the whole way, settled. Legs 10, 10, 60, 20, 100, 100 minutes.
    add(
        "a1",
        status(&a, "placed", COUNTER, "counter", m(0), charge(300)),
    );
    add(
        "a2",
        status(&a, "received", LAB, "lab", m(10), charge(1000)),
    );
    add("a3", status(&a, "printing", LAB, "lab", m(20), Value::Null));
    add(
        "a4",
        status(&a, "dispatched", LAB, "lab", m(80), charge(1000)),
    );
    // Republished later: the first time counts.
    add(
        "a4b",
        status(&a, "dispatched", LAB, "lab", m(95), charge(1000)),
    );
    add(
        "a5",
        status(
            &a,
            "ready_for_pickup",
            COUNTER,
            "counter",
            m(100),
            charge(1300),
        ),
    );
    add(
        "a6",
        status(&a, "collected", COUNTER, "counter", m(200), Value::Null),
    );
    add("a7", status(&a, "settled", LAB, "lab", m(300), Value::Null));
    // B: collected, not settled. Legs 30, 5, 10, 15, 45 minutes.
    add(
        "b1",
        status(&b, "placed", COUNTER, "counter", m(0), charge(200)),
    );
    add("b2", status(&b, "received", LAB, "lab", m(30), charge(500)));
    add("b3", status(&b, "printing", LAB, "lab", m(35), Value::Null));
    add(
        "b4",
        status(&b, "dispatched", LAB, "lab", m(45), charge(500)),
    );
    add(
        "b5",
        status(
            &b,
            "ready_for_pickup",
            COUNTER,
            "counter",
            m(60),
            charge(700),
        ),
    );
    add(
        "b6",
        status(&b, "collected", COUNTER, "counter", m(105), Value::Null),
    );
    // C: held at received for 5 hours (the default limit is 4).
    let c_placed = now - chrono::Duration::hours(6);
    let c_received = now - chrono::Duration::hours(5);
    add(
        "c1",
        status(&c, "placed", COUNTER, "counter", c_placed, charge(100)),
    );
    add(
        "c2",
        status(&c, "received", LAB, "lab", c_received, charge(400)),
    );
    // Fresh: printing for 10 minutes, within its 2 hours.
    add(
        "f1",
        status(
            &fresh,
            "received",
            LAB,
            "lab",
            now - chrono::Duration::minutes(20),
            charge(400),
        ),
    );
    add(
        "f2",
        status(
            &fresh,
            "printing",
            LAB,
            "lab",
            now - chrono::Duration::minutes(10),
            Value::Null,
        ),
    );
    publish_and_wait(&app, &messages).await;

    let html = page(&ops, "/ops").await;

    // Stuck: C only, at "Received by the lab", with a link to its timeline.
    let stuck = table(&html, "stuck-orders");
    assert_eq!(stuck.len(), 1, "{stuck:?}");
    assert!(html.contains(&format!("data-order=\"{c}\"")), "{html}");
    assert!(!html.contains(&format!("data-order=\"{fresh}\"")));
    assert!(stuck[0][5].contains("5 h"), "waiting 5 h: {stuck:?}");
    assert!(html.contains(&format!("href=\"/ops/orders/{c}\"")));
    let timeline = page(&ops, &format!("/ops/orders/{c}")).await;
    let rows = table(&timeline, "timeline");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows[0][2].contains(COUNTER) && rows[1][2].contains(LAB),
        "{rows:?}"
    );
    assert!(
        rows[0][3].contains("1 h 0 min"),
        "placed -> received took an hour: {rows:?}"
    );
    assert!(rows[1][3].contains("so far"), "{rows:?}");
    let r = ops
        .http
        .get(ops.url(&format!("/ops/orders/{}", order_id())))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "an order nobody heard of");

    // Leg times per lab and per counter: nearest-rank p50 / p95 of A and B (C and the fresh
    // order add placed->received 60 min for C at lab-a and received->printing 10 min).
    let leg = |site: &str, leg: &str| -> (i64, i64) {
        let key = format!("data-site=\"{site}\" data-leg=\"{leg}\" data-p50=\"");
        let at = html
            .find(&key)
            .unwrap_or_else(|| panic!("no leg {site} {leg}"));
        let rest = &html[at + key.len()..];
        let p50: i64 = rest[..rest.find('"').unwrap()].parse().unwrap();
        let rest = &rest[rest.find("data-p95=\"").unwrap() + 10..];
        let p95: i64 = rest[..rest.find('"').unwrap()].parse().unwrap();
        (p50, p95)
    };
    let min = 60_000;
    // placed->received: A 10, B 30, C 60 -> p50 30, p95 60.
    assert_eq!(leg(LAB, "placed-received"), (30 * min, 60 * min));
    assert_eq!(leg(COUNTER, "placed-received"), (30 * min, 60 * min));
    // received->printing: A 10, B 5, fresh 10 -> p50 10, p95 10 at the lab; the fresh order
    // has no counter, so the counter sees A and B: 5, 10.
    assert_eq!(leg(LAB, "received-printing"), (10 * min, 10 * min));
    assert_eq!(leg(COUNTER, "received-printing"), (5 * min, 10 * min));
    // printing->dispatched: A 60 (its first dispatch), B 10.
    assert_eq!(leg(LAB, "printing-dispatched"), (10 * min, 60 * min));
    assert_eq!(
        leg(COUNTER, "dispatched-ready_for_pickup"),
        (15 * min, 20 * min)
    );
    assert_eq!(
        leg(COUNTER, "ready_for_pickup-collected"),
        (45 * min, 100 * min)
    );
    assert_eq!(leg(LAB, "collected-settled"), (100 * min, 100 * min));
    assert!(
        html.contains("<svg") && html.contains("time taken"),
        "the chart and its axis"
    );

    // Money: A 1000 settled, B 500 collected and owed; the CSV says the same.
    let balances = table(&html, "balances");
    assert_eq!(balances.len(), 1, "{balances:?}");
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    assert_eq!(
        balances[0][2..]
            .iter()
            .map(|c| digits(c))
            .collect::<Vec<_>>(),
        ["2", "1500", "1500", "1000", "500"]
    );
    let r = ops
        .http
        .get(ops.url("/ops/settlements.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "lab,lab_name,counter,counter_name,currency,orders,charged,collected,settled,owed"
    );
    assert_eq!(lines.len(), 1 + balances.len());
    let fields: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(
        fields[..5],
        [LAB, "Site lab-a", COUNTER, "Site counter-x", "JPY"]
    );
    assert_eq!(
        fields[5..]
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>(),
        balances[0][2..]
            .iter()
            .map(|c| digits(c))
            .collect::<Vec<_>>(),
        "the CSV is the page's table"
    );
    assert!(balances[0][0].contains(fields[0]) && balances[0][1].contains(fields[2]));
    // The daily history: dispatched on t0's day, the same sums.
    let daily = table(&html, "daily");
    let charged: i64 = daily
        .iter()
        .map(|r| digits(&r[3]).parse::<i64>().unwrap())
        .sum();
    let settled: i64 = daily
        .iter()
        .map(|r| digits(&r[5]).parse::<i64>().unwrap())
        .sum();
    assert_eq!((charged, settled), (1500, 1000), "{daily:?}");

    // A period: since three days ago, the same sums and 500 collected and not settled; from
    // the day after tomorrow, nothing; a day not written as one, 400.
    let day = |d: i64| {
        (now + chrono::Duration::days(d))
            .format("%Y-%m-%d")
            .to_string()
    };
    let since = page(&ops, &format!("/ops?from={}", day(-3))).await;
    let period = table(&since, "period");
    assert_eq!(period.len(), 1, "{period:?}");
    assert_eq!(
        period[0][2..].iter().map(|c| digits(c)).collect::<Vec<_>>(),
        ["1500", "1500", "1000", "500"]
    );
    let later = page(&ops, &format!("/ops?from={}", day(2))).await;
    assert_eq!(table(&later, "period")[0].len(), 1, "nothing in the period");
    let r = ops
        .http
        .get(ops.url("/ops?from=monday"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("YYYY-MM-DD"));

    // The orders behind the balance: A and B, their charges summing to the page's figure.
    let link = format!("href=\"/ops/money/{LAB}/{COUNTER}\"");
    assert!(html.contains(&link), "the balance links to its orders");
    let money = page(&ops, &format!("/ops/money/{LAB}/{COUNTER}")).await;
    let rows = table(&money, "money-orders");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        money.contains(&format!("data-order=\"{a}\""))
            && money.contains(&format!("data-order=\"{b}\""))
    );
    let charged: i64 = rows
        .iter()
        .map(|r| digits(&r[3]).parse::<i64>().unwrap())
        .sum();
    assert_eq!(charged, 1500);
    let settled: Vec<&str> = rows.iter().map(|r| r[5].as_str()).collect();
    assert!(
        settled.contains(&"Yes") && settled.contains(&"No"),
        "{rows:?}"
    );
    let r = ops
        .http
        .get(ops.url("/ops/money/lab-b/counter-x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "no balance between those two");

    // Not for anyone else.
    let user = sign_up(&app, "hanako@example.com").await;
    let money_path = format!("/ops/money/{LAB}/{COUNTER}");
    for path in [
        "/ops",
        "/ops/settlements.csv",
        &format!("/ops/orders/{c}"),
        &money_path,
    ] {
        let r = user.http.get(user.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
}

/// Publishes a status with a `traceparent` header (and its message id).
async fn publish_traced(app: &TestApp, body: &Value, id: &str, traceparent: &str) {
    let order = subjects::OrderId::parse(body["order"].as_str().unwrap()).unwrap();
    let from = subjects::SiteId::parse(body["site"].as_str().unwrap()).unwrap();
    let mut h = async_nats::HeaderMap::new();
    h.insert("Nats-Msg-Id", id);
    h.insert("traceparent", traceparent);
    app.js
        .publish_with_headers(
            subjects::status(&from, &order),
            h,
            serde_json::to_vec(body).unwrap().into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
}

async fn the_trace_id_of_each_status_is_on_the_orders_timeline(app: TestApp) {
    let ops = sign_up(&app, "ops@example.com").await;
    let order = order_id();
    let now = Utc::now();
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let placed = status(
        &order,
        "placed",
        COUNTER,
        "counter",
        now - chrono::Duration::minutes(9),
        charge(300),
    );
    let received = status(
        &order,
        "received",
        LAB,
        "lab",
        now - chrono::Duration::minutes(5),
        charge(900),
    );
    publish_traced(
        &app,
        &placed,
        "t-placed",
        &format!("00-{trace}-00f067aa0ba902b7-01"),
    )
    .await;
    // The lab's status came without a traceparent: no trace id, no link.
    publish_and_wait(&app, &[("t-received".to_string(), received)]).await;
    let store = app.state.store.clone();
    eventually("the traced status handled", || {
        let store = store.clone();
        async move {
            store
                .inbox_contains("gateway-status", "t-placed")
                .await
                .unwrap()
        }
    })
    .await;
    let html = page(&ops, &format!("/ops/orders/{order}")).await;
    let rows = table(&html, "timeline");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0][5], trace, "{rows:?}");
    assert!(
        html.contains(&format!("href=\"http://jaeger:16686/trace/{trace}\"")),
        "the trace links to the configured viewer"
    );
    assert_ne!(rows[1][5], trace);
    assert_eq!(html.matches("jaeger:16686").count(), 1);
}

fn with_trace_url(c: &mut reprint_gateway::Config) {
    c.ops.trace_url = Some("http://jaeger:16686/trace/{trace_id}".to_string());
}

#[tokio::test]
async fn a_status_with_a_traceparent_shows_its_trace_id_on_the_timeline_sqlite() {
    the_trace_id_of_each_status_is_on_the_orders_timeline(spawn_with(with_trace_url).await).await;
}

#[tokio::test]
async fn a_status_with_a_traceparent_shows_its_trace_id_on_the_timeline_postgres() {
    the_trace_id_of_each_status_is_on_the_orders_timeline(
        spawn_postgres_with(with_trace_url).await,
    )
    .await;
}

/// The counts of the `#stages-over-time` row of the hour starting at `hour_ms`.
fn stages_row(html: &str, hour_ms: i64) -> Vec<i64> {
    let start = html
        .find(&format!("<tr data-hour=\"{hour_ms}\""))
        .unwrap_or_else(|| panic!("no row for hour {hour_ms}"));
    let row = &html[start..];
    let row = &row[..row.find("</tr>").unwrap()];
    row.split("<td>")
        .skip(2)
        .map(|c| c.split("</td>").next().unwrap().trim().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn the_stages_over_time_chart_counts_a_known_set_of_statuses_sqlite() {
    stages_over_time_from_known_statuses(spawn().await).await;
}

#[tokio::test]
async fn the_stages_over_time_chart_counts_a_known_set_of_statuses_postgres() {
    stages_over_time_from_known_statuses(spawn_postgres().await).await;
}

/// The figures are counted by the database over the last 24 hours: orders with a status in
/// them, and an order still open from before them (D, placed 40 hours ago), in every hour.
async fn stages_over_time_from_known_statuses(app: TestApp) {
    let ops = sign_up(&app, "ops@example.com").await;
    const H: i64 = 3_600_000;
    let now_ms = Utc::now().timestamp_millis();
    let top = now_ms.div_euclid(H) * H;
    let at = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap();
    let (a, b, c, d, e) = (order_id(), order_id(), order_id(), order_id(), order_id());
    let none = Value::Null;
    let mut messages: Vec<(String, Value)> = Vec::new();
    for (order, stage, site, kind, ms) in [
        (&a, "placed", COUNTER, "counter", top - 5 * H + 1000),
        (&a, "received", LAB, "lab", top - 3 * H + 1000),
        (&a, "printing", LAB, "lab", top - H + 1000),
        (&b, "placed", COUNTER, "counter", top - 2 * H + 20_000),
        (&c, "placed", COUNTER, "counter", top - 30 * H),
        (&c, "collected", COUNTER, "counter", top - 4 * H + 5000),
        (&c, "settled", LAB, "lab", top - 2 * H + 5000),
        (&d, "placed", COUNTER, "counter", top - 40 * H),
        // E: done before the day shown; in none of its hours.
        (&e, "placed", COUNTER, "counter", top - 50 * H),
        (&e, "settled", LAB, "lab", top - 45 * H),
    ] {
        messages.push((
            uuid::Uuid::new_v4().to_string(),
            status(order, stage, site, kind, at(ms), none.clone()),
        ));
    }
    publish_and_wait(&app, &messages).await;
    let html = page(&ops, "/ops").await;
    assert!(html.contains("<table id=\"stages-over-time\""));
    // Columns: placed, received, printing, dispatched, ready, collected; at each hour's end.
    let row = |h: i64| stages_row(&html, top - h * H);
    assert_eq!(
        row(23),
        [2, 0, 0, 0, 0, 0],
        "C and D placed, E settled long ago"
    );
    assert_eq!(row(6), [2, 0, 0, 0, 0, 0], "C and D placed, A not yet");
    assert_eq!(row(5), [3, 0, 0, 0, 0, 0], "A, C and D placed");
    assert_eq!(row(4), [2, 0, 0, 0, 0, 1], "C collected");
    assert_eq!(row(3), [1, 1, 0, 0, 0, 1], "A received");
    assert_eq!(row(2), [2, 1, 0, 0, 0, 0], "B placed, C settled: in none");
    assert_eq!(row(1), [2, 0, 1, 0, 0, 0], "A printing");
    assert_eq!(row(0), [2, 0, 1, 0, 0, 0], "this hour, so far");
    assert!(
        !html.contains(&format!("<tr data-hour=\"{}\"", top - 24 * H)),
        "24 hours"
    );
    // The chart, described by the table, with each hour's total above its bar (3: 5 h ago).
    let chart = &html[html
        .find("<figure class=\"chart\" id=\"chart-stages\"")
        .unwrap()..];
    let chart = &chart[..chart.find("</figure>").unwrap()];
    assert!(
        chart.contains("aria-describedby=\"stages-over-time\""),
        "{chart}"
    );
    assert!(chart.contains("\n3\n</text>"), "{chart}");
    assert!(chart.contains("Ready for pickup"), "the legend: {chart}");
}

#[tokio::test]
async fn the_stages_chart_shows_the_days_asked_for_sqlite() {
    stages_of_the_days_asked_for(spawn().await).await;
}

#[tokio::test]
async fn the_stages_chart_shows_the_days_asked_for_postgres() {
    stages_of_the_days_asked_for(spawn_postgres().await).await;
}

/// Every `data-hour` of the `#stages-over-time` table, in order.
fn stages_hours(html: &str) -> Vec<i64> {
    html.split("<tr data-hour=\"")
        .skip(1)
        .map(|r| r[..r.find('"').unwrap()].parse().unwrap())
        .collect()
}

/// `?from=&to=` a day three days ago: its hours (the reader's day), counted at each hour's
/// end; from ten days before it to it: a bar per day, counted at each day's end.
async fn stages_of_the_days_asked_for(app: TestApp) {
    let ops = sign_up(&app, "ops@example.com").await;
    const H: i64 = 3_600_000;
    let day = (Utc::now() - chrono::Duration::days(3)).date_naive();
    let ymd = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let one_day = format!("/ops?from={}&to={}", ymd(day), ymd(day));
    // The day's hours as the page counts them (the reader's time zone): 24 of them (23 or 25
    // on a day the clocks change), none of today's.
    let hours = stages_hours(&page(&ops, &one_day).await);
    assert!((23..=25).contains(&hours.len()), "{hours:?}");
    assert!(hours.windows(2).all(|w| w[1] - w[0] == H), "{hours:?}");
    let start = hours[0];
    let at = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap();
    let (a, b, c, d) = (order_id(), order_id(), order_id(), order_id());
    let none = Value::Null;
    let mut messages: Vec<(String, Value)> = Vec::new();
    for (order, stage, site, kind, ms) in [
        // A: placed in the day's third hour, received in its sixth, settled the next day.
        (&a, "placed", COUNTER, "counter", start + 2 * H + 1000),
        (&a, "received", LAB, "lab", start + 5 * H + 1000),
        (&a, "settled", LAB, "lab", start + 30 * H),
        // B: placed the day before, still waiting (open from before the day).
        (&b, "placed", COUNTER, "counter", start - 30 * H),
        // C: placed after the day: in none of its hours.
        (&c, "placed", COUNTER, "counter", start + 26 * H),
        // D: placed and settled before the day.
        (&d, "placed", COUNTER, "counter", start - 50 * H),
        (&d, "settled", LAB, "lab", start - 45 * H),
    ] {
        messages.push((
            uuid::Uuid::new_v4().to_string(),
            status(order, stage, site, kind, at(ms), none.clone()),
        ));
    }
    publish_and_wait(&app, &messages).await;

    let html = page(&ops, &one_day).await;
    assert_eq!(stages_hours(&html), hours, "the same hours");
    let row = |i: i64| stages_row(&html, start + i * H);
    assert_eq!(row(0), [1, 0, 0, 0, 0, 0], "B waiting");
    assert_eq!(row(1), [1, 0, 0, 0, 0, 0], "A not yet placed");
    assert_eq!(row(2), [2, 0, 0, 0, 0, 0], "A placed");
    assert_eq!(row(5), [1, 1, 0, 0, 0, 0], "A received");
    assert_eq!(
        row(23),
        [1, 1, 0, 0, 0, 0],
        "the day's end: A settled later, C not yet"
    );
    assert!(html.contains("each hour from"), "the period said in words");
    // Without a period: the last 24 hours, not that day.
    let now = page(&ops, "/ops").await;
    assert!(!stages_hours(&now).contains(&start));

    // Ten days to that day: one bar per day, each counted at its end.
    let days = page(
        &ops,
        &format!(
            "/ops?from={}&to={}",
            ymd(day - chrono::Days::new(10)),
            ymd(day)
        ),
    )
    .await;
    let starts = stages_hours(&days);
    assert_eq!(starts.len(), 11, "{starts:?}");
    assert_eq!(*starts.last().unwrap(), start, "the last bar: that day");
    assert_eq!(stages_row(&days, start), [1, 1, 0, 0, 0, 0]);
    assert_eq!(
        stages_row(&days, starts[9]),
        [1, 0, 0, 0, 0, 0],
        "the day before: B"
    );
    assert!(days.contains("day by day"), "by the day");
    assert!(!days.contains("the last 92 days"), "the whole period shown");
    // A longer period: its last 92 days, said so.
    let long = page(
        &ops,
        &format!("/ops?from={}", ymd(day - chrono::Days::new(200))),
    )
    .await;
    assert_eq!(stages_hours(&long).len(), 92);
    assert!(long.contains("the last 92 days of the period"));
    // The days after the period are not shown; a `to` not written as a day is refused.
    assert!(!stages_hours(&days).iter().any(|h| *h > start));
    let r = ops
        .http
        .get(ops.url("/ops?to=friday"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("YYYY-MM-DD"));
}

/// Every `reprint_...` metric name written in `text` (PromQL in YAML or JSON).
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("reprint_") {
        let start = i + at;
        let before = start.checked_sub(1).map(|b| bytes[b]);
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        if !before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
            out.insert(text[start..end].to_string());
        }
        i = end;
    }
    out
}

/// The sample names of a Prometheus text exposition (`reprint_append_seconds_bucket`, ...).
fn exposed(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

fn deploy(path: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[tokio::test]
async fn the_alert_rules_and_the_dashboard_use_metrics_the_services_export() {
    let rules = deploy("prometheus/alerts.yml");
    let dashboard = deploy("grafana/reprint.json");
    let dash: Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    let queries: Vec<String> = dash["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().clone())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect();
    assert!(queries.len() >= 8, "{queries:?}");
    let mut used = metric_names(&rules);
    used.extend(metric_names(&queries.join("\n")));
    for wanted in [
        "reprint_consumer_lag",
        "reprint_outbox_backlog",
        "reprint_store_prune_failures_total",
        "reprint_parked_messages",
    ] {
        assert!(used.contains(wanted), "the rules watch {wanted}");
    }
    assert!(rules.contains("up{"), "a site silent: its scrape fails");

    // A running gateway: what its /metrics says once it has served, stored and consumed.
    let app = spawn().await;
    let _ = sign_up(&app, "someone@example.com").await;
    let url = format!("{}/metrics", app.base);
    let mut text = String::new();
    for _ in 0..100 {
        text = reqwest::get(&url).await.unwrap().text().await.unwrap();
        if [
            "reprint_consumer_lag{",
            "reprint_outbox_backlog{",
            "reprint_append_seconds_bucket{",
        ]
        .iter()
        .all(|m| text.contains(m))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let running = exposed(&text);
    // Series that appear only once something happened (an order reaching a stage, a prune):
    // the names the services' shared registry registers, each touched once.
    let m = reprint_service::metrics::Metrics::new("gateway");
    m.orders.with_label_values(&["placed"]).inc();
    m.store_pruned.with_label_values(&["inbox"]).inc();
    m.http_requests.with_label_values(&["5xx"]).inc();
    m.consumer_lag.with_label_values(&["c"]).set(1);
    m.outbox_backlog.with_label_values(&["s"]).set(1);
    (m.append_observer())("k", Duration::from_millis(1));
    let registered = exposed(&m.render());
    let mut from_registry = Vec::new();
    for name in &used {
        if running.contains(name) {
            continue;
        }
        assert!(
            registered.contains(name),
            "{name} is used in deploy/ but no service exports it; exported: {running:?} {registered:?}"
        );
        from_registry.push(name.clone());
    }
    // A message parked in the gateway's store shows in its gauge (read every 5 s).
    app.state
        .store
        .park(&reprint_eventstore::ParkedMessage {
            consumer: "gateway-status".into(),
            message_id: "bad-1".into(),
            subject: "reprint.v1.test".into(),
            payload: b"not json".to_vec(),
            headers: vec![],
            deliveries: 1,
            reason: "test".into(),
        })
        .await
        .unwrap();
    let mut parked = false;
    for _ in 0..150 {
        let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
        if text.contains("reprint_parked_messages{service=\"gateway\"} 1") {
            parked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(parked, "the parked message counted in /metrics");
    for name in [
        "reprint_consumer_lag",
        "reprint_outbox_backlog",
        "reprint_store_prune_failures_total",
    ] {
        assert!(
            running.contains(name),
            "{name} on the running gateway: {text}"
        );
    }
    eprintln!(
        "metric names used in deploy/: {used:?}; not yet in the running gateway's output, found registered: {from_registry:?}"
    );
}

#[test]
fn the_alert_rules_pass_promtool() {
    let promtool = std::env::var("REPRINT_PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let rules =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/prometheus/alerts.yml");
    let out = match std::process::Command::new(&promtool)
        .arg("check")
        .arg("rules")
        .arg(&rules)
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!(
                "SKIPPED: promtool not found ({promtool}: {e}); scripts/test installs it (Debian's prometheus package)"
            );
            return;
        }
    };
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool check rules: {said}");
    assert!(said.contains("SUCCESS"), "{said}");
}
