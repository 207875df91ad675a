//! The ops pages in a real headless Chromium at 1280 x 900 and 390 x 844: the dashboard with a
//! silent site, a stuck order, legs and money, and an order's timeline; nothing wider than the
//! screen, 44 px touch targets, axe-core clean, a screenshot of each (in the temp directory).

mod common;

use std::time::Duration;

use chrono::Utc;
use common::browser::*;
use common::*;
use reprint_bus::directory::Directory;
use reprint_bus::subjects::{self, SiteKind};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

fn status(
    order: &str,
    stage: &str,
    site: &str,
    kind: &str,
    ago_min: i64,
    charge: Option<i64>,
) -> Value {
    let at = Utc::now() - chrono::Duration::minutes(ago_min);
    json!({"order": order, "stage": stage, "site": site, "site_kind": kind,
        "at": at.to_rfc3339(), "detail": format!("{stage} at {site}"),
        "charge": charge.map(|m| json!({"lines": [], "total": {"minor": m, "currency": "JPY"}}))})
}

async fn check_both_sizes(page: &mut Page, name: &str) {
    for (w, h) in [(1280, 900), (390, 844)] {
        page.set_viewport(w, h).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        page.assert_fits(&format!("{name} at {w}")).await;
        let small = page.small_touch_targets().await;
        assert!(
            small.is_empty(),
            "{name} at {w}: small touch targets {small:?}"
        );
        page.assert_accessible(&format!("{name} at {w}")).await;
        page.screenshot(&format!("ops-{name}-{w}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ops_pages_fit_a_phone_and_a_desk_and_are_accessible() {
    if !chromium_installed() {
        return;
    }
    let app = spawn().await;
    let _ops = sign_up(&app, "ops@example.com").await;
    // A counter that went silent a minute ago (heartbeat every 10 s).
    let dir = Directory::open(&app.js, 1).await.unwrap();
    let mut silent = site("counter-shinjuku", SiteKind::Counter);
    silent.name = "Shinjuku counter".into();
    silent.heartbeat_interval_secs = 10;
    silent.last_heartbeat = Utc::now() - chrono::Duration::minutes(1);
    dir.put(&silent).await.unwrap();

    let (a, b, c) = (
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
    );
    let messages = [
        status(&a, "placed", COUNTER, "counter", 1500, Some(300)),
        status(&a, "received", LAB, "lab", 1490, Some(1000)),
        status(&a, "printing", LAB, "lab", 1480, None),
        status(&a, "dispatched", LAB, "lab", 1420, Some(1000)),
        status(&a, "ready_for_pickup", COUNTER, "counter", 1400, Some(1300)),
        status(&a, "collected", COUNTER, "counter", 1300, None),
        status(&a, "settled", LAB, "lab", 1200, None),
        status(&b, "placed", COUNTER, "counter", 1000, Some(200)),
        status(&b, "received", LAB, "lab", 970, Some(500)),
        status(&b, "printing", LAB, "lab", 965, None),
        status(&b, "dispatched", LAB, "lab", 955, Some(500)),
        status(&b, "ready_for_pickup", COUNTER, "counter", 940, Some(700)),
        status(&b, "collected", COUNTER, "counter", 895, None),
        status(&c, "placed", COUNTER, "counter", 360, Some(100)),
        status(&c, "received", LAB, "lab", 300, Some(400)),
    ];
    for (i, body) in messages.iter().enumerate() {
        let order = subjects::OrderId::parse(body["order"].as_str().unwrap()).unwrap();
        let from = subjects::SiteId::parse(body["site"].as_str().unwrap()).unwrap();
        js_publish(
            &app,
            subjects::status(&from, &order),
            body,
            &format!("m{i}"),
        )
        .await;
    }
    let store = app.state.store.clone();
    eventually("every status handled", || {
        let store = store.clone();
        async move {
            for i in 0..15 {
                if !store
                    .inbox_contains("gateway-status", &format!("m{i}"))
                    .await
                    .unwrap()
                {
                    return false;
                }
            }
            true
        }
    })
    .await;

    let dir = tempfile::tempdir().unwrap();
    let browser = Browser::launch(dir.path()).await;
    let mut page = browser.page().await;
    page.log_in(&app.base, "ops@example.com", PASSWORD).await;
    page.goto(&format!("{}/ops", app.base)).await;
    page.wait_for("the dashboard", "document.querySelector('#sites') !== null")
        .await;
    let text = page.eval("document.body.innerText").await;
    let text = text.as_str().unwrap();
    assert!(
        text.contains("Shinjuku counter") && text.contains("Silent"),
        "{text}"
    );
    assert!(text.contains("One order stuck"), "{text}");
    // Live: an order placed two days ago that nobody received is heard now; it shows among
    // the stuck ones and in the figures within one refresh (10 s), the page not reloaded.
    page.eval("window.notReloaded = true, true").await;
    let d = uuid::Uuid::now_v7().to_string();
    let late = status(&d, "placed", COUNTER, "counter", 2 * 24 * 60, None);
    js_publish(
        &app,
        subjects::status(
            &subjects::SiteId::parse(COUNTER).unwrap(),
            &subjects::OrderId::parse(&d).unwrap(),
        ),
        &late,
        "m-live",
    )
    .await;
    page.wait_for(
        "the new stuck order on the page without a reload",
        &format!(
            "document.querySelector('#stuck-orders tr[data-order=\"{d}\"]') !== null \
             && window.notReloaded === true"
        ),
    )
    .await;
    let text = page.eval("document.body.innerText").await;
    assert!(text.as_str().unwrap().contains("2 orders stuck"), "{text}");
    check_both_sizes(&mut page, "dashboard").await;
    for (w, h) in [(1280, 900), (390, 844)] {
        page.set_viewport(w, h).await;
        for part in ["stuck", "flow", "stages", "money"] {
            page.eval(&format!(
                "document.getElementById('{part}').scrollIntoView(), true"
            ))
            .await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            page.screenshot(&format!("ops-dashboard-{part}-{w}")).await;
        }
    }

    page.goto(&format!("{}/ops/orders/{c}", app.base)).await;
    page.wait_for(
        "the timeline",
        "document.querySelector('#timeline') !== null",
    )
    .await;
    let text = page.eval("document.body.innerText").await;
    assert!(text.as_str().unwrap().contains("Received by"), "{text}");
    check_both_sizes(&mut page, "order").await;

    page.goto(&format!("{}/ops/money/{LAB}/{COUNTER}", app.base))
        .await;
    page.wait_for(
        "the orders behind the balance",
        "document.querySelector('#money-orders') !== null",
    )
    .await;
    check_both_sizes(&mut page, "money").await;

    // A period of days: the orders in each stage day by day, the money of those days.
    let today = Utc::now().date_naive();
    page.goto(&format!(
        "{}/ops?from={}&to={}",
        app.base,
        today - chrono::Days::new(10),
        today
    ))
    .await;
    page.wait_for(
        "the stages day by day",
        "document.querySelectorAll('#stages-over-time tbody tr').length === 11",
    )
    .await;
    let text = page.eval("document.body.innerText").await;
    assert!(text.as_str().unwrap().contains("day by day"), "{text}");
    check_both_sizes(&mut page, "dashboard-days").await;
    for (w, h) in [(1280, 900), (390, 844)] {
        page.set_viewport(w, h).await;
        page.eval("document.getElementById('stages').scrollIntoView(), true")
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        page.screenshot(&format!("ops-dashboard-days-stages-{w}"))
            .await;
    }

    // In Japanese, the same.
    page.eval("document.cookie = 'reprint_lang=ja; path=/', true")
        .await;
    page.goto(&format!("{}/ops", app.base)).await;
    page.wait_for(
        "the dashboard in Japanese",
        "document.documentElement.lang === 'ja'",
    )
    .await;
    let text = page.eval("document.body.innerText").await;
    let text = text.as_str().unwrap();
    assert!(
        text.contains("応答なし") && text.contains("各工程にかかる時間"),
        "{text}"
    );
    check_both_sizes(&mut page, "dashboard-ja").await;
    browser.close(&mut page).await;
}
