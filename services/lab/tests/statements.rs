//! A counter's statement of the lab's share at the lab (issue 15), on a real NATS and a real
//! SQLite store, the counter played on NATS by the test: a statement whose lines do not add
//! up is refused; a good one is listed on the console with its orders and a Confirm button
//! (in Chromium at 1280 and 1024 px: fits, 44 px targets, screenshots); confirming pays its
//! orders in the ledger, balances the statement ledger and tells the counter; twice is 409.

#[path = "common/browser.rs"]
#[allow(dead_code)]
mod browser;
mod common;

use std::time::Duration;

use browser::*;
use common::*;
use reprint_domain::protocol::{StatementConfirmed, StatementIssued};
use reprint_domain::statement::Line;
use reprint_domain::*;
use serde_json::json;

fn statement(total: i64, at: chrono::DateTime<chrono::Utc>) -> StatementIssued {
    let jpy = Currency::parse("JPY").unwrap();
    let line = |n: u8, amount: i64| Line {
        order: order_id(n).to_string(),
        lab_reception: format!("B000090{n}"),
        collected_on: at.date_naive(),
        amount: Money::new(amount, jpy),
    };
    StatementIssued {
        statement: uuid::Uuid::now_v7(),
        counter: site(COUNTER),
        lab: site(LAB),
        through: at.date_naive(),
        lines: vec![line(1, 280), line(2, 310)],
        total: Money::new(total, jpy),
        issued_at: at,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counters_statement_is_confirmed_at_the_lab() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 12, 4, 20);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut inbox = peer.subscribe("reprint.v1.counter.>").await;
    let subject = reprint_bus::subjects::statement_issued(
        &reprint_bus::subjects::SiteId::parse(LAB).unwrap(),
    );
    let bad = statement(999, at);
    peer.publish(subject.clone(), "bad", &bad).await;
    let good = statement(590, at);
    peer.publish(subject, "good", &good).await;

    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let csrf = log_in(&http, &lab).await;
    let list = loop {
        let v: serde_json::Value = http
            .get(lab.url("/api/v1/statements"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v.as_array().is_some_and(|a| !a.is_empty()) {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let list: serde_json::Value = http
        .get(lab.url("/api/v1/statements"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or(list);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["statement"].as_str().unwrap())
        .collect();
    let good_id = good.statement.to_string();
    assert_eq!(ids, [good_id.as_str()], "the bad statement is refused");
    assert_eq!(list[0]["state"], "received");
    assert_eq!(list[0]["lines"].as_array().unwrap().len(), 2);

    if chromium_installed() {
        let dir = tempfile::tempdir().unwrap();
        let chrome = Browser::launch(dir.path()).await;
        let mut page = chrome.page().await;
        page.set_viewport(1280, 800).await;
        page.goto(&lab.url("/login")).await;
        page.fill("#name", "operator").await;
        page.fill("#password", "change-me").await;
        page.eval("document.querySelector('form[action=\"/login\"]').submit(), true")
            .await;
        page.wait_for(
            "the queue after log-in",
            "location.pathname === '/' && document.readyState === 'complete'",
        )
        .await;
        page.goto(&lab.url("/statements")).await;
        for (w, h) in [(1280, 800), (1024, 768)] {
            page.set_viewport(w, h).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            page.assert_fits(&format!("statements at {w}")).await;
            let small = page.small_touch_targets().await;
            assert!(small.is_empty(), "statements at {w}: {small:?}");
            page.screenshot(&format!("lab-statements-{w}")).await;
        }
        page.eval("document.querySelector('button.confirm').click(), true")
            .await;
        page.wait_for(
            "the statement confirmed",
            "location.pathname === '/statements' && document.readyState === 'complete' && !!document.querySelector('[data-state=\"confirmed\"]')",
        )
        .await;
        page.screenshot("lab-statements-confirmed").await;
        chrome.close(&mut page).await;
    } else {
        eprintln!("chromium not installed: confirmed through the API");
        let r = http
            .post(lab.url(&format!("/api/v1/statements/{good_id}/confirm")))
            .header("x-csrf-token", &csrf)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    // The counter hears the confirmation, with the statement's count and total.
    let confirmed: StatementConfirmed = next(
        &mut inbox,
        "statement.confirmed",
        |c: &StatementConfirmed| c.statement == good.statement,
    )
    .await;
    assert_eq!((confirmed.orders, confirmed.total.minor), (2, 590));
    assert_eq!(confirmed.confirmed_by, "operator");
    // Paid in the ledger; confirming again is refused.
    let ledger: serde_json::Value = http
        .get(lab.url("/api/v1/ledger"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let line = ledger
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["counter"] == COUNTER)
        .cloned()
        .unwrap_or(json!(null));
    assert_eq!(line["paid"], 590, "{ledger}");
    let r = http
        .post(lab.url(&format!("/api/v1/statements/{good_id}/confirm")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let lines = reprint_lab::settlement::statement_ledger(&lab.lab)
        .await
        .unwrap();
    assert_eq!(lines.len(), 1);
    assert!(lines[0].ledger.balances(), "{lines:?}");
    assert_eq!((lines[0].ledger.confirmed, lines[0].ledger.open), (590, 0));
    lab.stop().await;
}
