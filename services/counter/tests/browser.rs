//! The counter's terminal in a real Chromium at 1024 x 768 (a touch terminal), on a real NATS
//! with the lab played by the test: every main action on the first screen (its bounding box
//! inside the viewport), nothing wider than the screen, touch targets of at least 44 px,
//! axe-core clean; a barcode scanner (typing the number and Enter) finds the order; the slip
//! and the receipt print on one page on 80 mm receipt paper, A6 and A4; the ready-by is the
//! same before and after the lab's estimate; a card payment has no change line; a cancel at the
//! counter reaches the lab and marks the slip; arrivals update by themselves and their notices
//! are words that staff dismiss.

#[path = "common/browser.rs"]
mod browser;
mod common;

use std::time::Duration;

use browser::{Browser, Page, base64_decode, chromium_installed};
use common::*;
use reprint_domain::protocol::OrderPlaced;
use reprint_testkit::NatsServer;
use serde_json::json;

const W: u32 = 1024;
const H: u32 = 768;

/// The PDF's page count (each page object is `/Type /Page`).
fn pdf_pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    ["/Type /Page", "/Type/Page"]
        .iter()
        .map(|pat| {
            text.match_indices(pat)
                .filter(|(i, _)| !text[i + pat.len()..].starts_with('s'))
                .count()
        })
        .sum()
}

/// Prints the page to PDF on paper `width` x `height` inches (Chromium's own print, as the
/// terminal's print dialog would) and returns the number of pages.
async fn printed_pages(page: &mut Page, name: &str, width: f64, height: f64) -> usize {
    let r = page
        .call(
            "Page.printToPDF",
            json!({"paperWidth": width, "paperHeight": height, "marginTop": 0, "marginBottom": 0,
                   "marginLeft": 0, "marginRight": 0, "printBackground": true}),
        )
        .await;
    let pdf = base64_decode(r["data"].as_str().unwrap_or_default());
    // What the paper shows, to look at: the print styles at the paper's width.
    let px = (width * 96.0).round() as u32;
    page.call("Emulation.setEmulatedMedia", json!({"media": "print"}))
        .await;
    page.set_viewport(px, (height * 96.0).round() as u32).await;
    page.screenshot(&format!("counter-print-{name}")).await;
    page.call("Emulation.setEmulatedMedia", json!({"media": ""}))
        .await;
    page.set_viewport(W, H).await;
    let file = std::env::temp_dir().join(format!("reprint-counter-{name}.pdf"));
    std::fs::write(&file, &pdf).unwrap();
    let n = pdf_pages(&pdf);
    eprintln!("{name}: {n} page(s), {}", file.display());
    n
}

const MM: f64 = 1.0 / 25.4;
/// 80 mm receipt paper (a roll: as long as an A4 sheet here), A6 and A4.
const PAPERS: [(&str, f64, f64); 3] = [
    ("80mm", 80.0 * MM, 297.0 * MM),
    ("A6", 105.0 * MM, 148.0 * MM),
    ("A4", 210.0 * MM, 297.0 * MM),
];

/// Whether the element `selector` is on the first screen (no scrolling): its box inside the
/// viewport. Returns its box for the message.
async fn on_first_screen(page: &mut Page, selector: &str) -> (bool, serde_json::Value) {
    let v = page
        .eval(&format!(
            "(() => {{ window.scrollTo(0, 0); const e = document.querySelector({}); if (!e) return null; const r = e.getBoundingClientRect(); return {{top: r.top, bottom: r.bottom, left: r.left, right: r.right, height: r.height}}; }})()",
            json!(selector)
        ))
        .await;
    let ok = !v.is_null()
        && v["top"].as_f64().unwrap_or(-1.0) >= 0.0
        && v["bottom"].as_f64().unwrap_or(9e9) <= f64::from(H)
        && v["right"].as_f64().unwrap_or(9e9) <= f64::from(W);
    (ok, v)
}

async fn assert_on_first_screen(page: &mut Page, what: &str, selectors: &[&str]) {
    for s in selectors {
        let (ok, b) = on_first_screen(page, s).await;
        assert!(ok, "{what}: {s} is not on the first screen at {W}x{H}: {b}");
    }
}

/// The checks of every screen: fits, touch targets, accessible, a screenshot.
async fn check_screen(page: &mut Page, name: &str) {
    page.assert_fits(name).await;
    let small = page.small_touch_targets().await;
    assert!(small.is_empty(), "{name}: small touch targets: {small:?}");
    page.assert_accessible(name).await;
    page.screenshot(&format!("counter-{name}")).await;
}

/// Types `text` and Enter into the focused field, as a keyboard-wedge barcode scanner does.
async fn scan(page: &mut Page, text: &str) {
    page.call("Input.insertText", json!({"text": text})).await;
    for kind in ["keyDown", "keyUp"] {
        page.call(
            "Input.dispatchKeyEvent",
            json!({"type": kind, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "text": if kind == "keyDown" { "\r" } else { "" }}),
        )
        .await;
    }
}

async fn text_of(page: &mut Page, selector: &str) -> String {
    page.eval(&format!(
        "(() => {{ const e = document.querySelector({}); return e ? e.innerText : null; }})()",
        json!(selector)
    ))
    .await
    .as_str()
    .unwrap_or_default()
    .to_string()
}

async fn take_in(counter: &TestCounter, name: &str, phone: &str, seeds: &[u64]) -> String {
    let mut entries: Vec<(String, Vec<u8>)> = seeds
        .iter()
        .map(|s| (format!("DCIM/100CANON/IMG_{s:04}.JPG"), jpeg(*s)))
        .collect();
    entries.sort();
    let refs: Vec<(&str, Vec<u8>)> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    let form = customer_fields(reqwest::multipart::Form::new(), name, phone)
        .part("medium", zip_part(zip_of(&refs)));
    let (status, slip) = counter.intake(form).await;
    assert_eq!(status, 201, "{slip}");
    slip["reception_number"].as_str().unwrap().to_string()
}

/// The orders the lab got so far, by subject.
async fn lab_messages(lab: &LabPeer, want: usize) -> Vec<(String, String, serde_json::Value)> {
    lab.receive(want, Duration::from_secs(20)).await
}

#[tokio::test]
async fn the_terminal_at_1024_by_768() {
    if !chromium_installed() {
        return;
    }
    let nats = NatsServer::start();
    let lab = LabPeer::start(&nats.url).await;
    let counter = spawn(&nats.url, None, "").await;

    // Three walk-in orders: one to collect, one to cancel, one to arrive while arrivals is open.
    let first = take_in(&counter, "Hanako Yamada", "03-1234-5678", &[1, 7]).await;
    let second = take_in(&counter, "Taro Suzuki", "03-2222-3333", &[11, 12]).await;
    let third = take_in(&counter, "Jiro Sato", "03-4444-5555", &[21]).await;
    let got = lab_messages(&lab, 3).await;
    let placed: Vec<OrderPlaced> = got
        .iter()
        .filter(|(s, _, _)| s.ends_with("order.placed"))
        .map(|(_, _, b)| serde_json::from_value(b.clone()).unwrap())
        .collect();
    assert_eq!(placed.len(), 3, "the lab got the three orders");
    let placed_of = |number: &str| {
        placed
            .iter()
            .find(|p| {
                p.counter_extract
                    .as_ref()
                    .is_some_and(|e| e.reception.number.as_str() == number)
            })
            .cloned()
            .unwrap()
    };

    let dir = tempfile::tempdir().unwrap();
    let browser = Browser::launch(dir.path()).await;
    let mut page = browser.page().await;
    page.set_viewport(W, H).await;
    let base = counter.base.clone();

    // Log-in: the browser asks for English.
    page.goto(&format!("{base}/login")).await;
    check_screen(&mut page, "login").await;
    page.log_in(&base, "tanaka", PASSWORD).await;
    check_screen(&mut page, "home").await;
    assert_on_first_screen(
        &mut page,
        "home",
        &["#q", "form.scan button", ".tiles a[href='/takings']"],
    )
    .await;

    // The slip of the second order before the lab said anything: its ready-by.
    page.goto(&format!("{base}/slip/{second}")).await;
    let ready_at_intake = text_of(&mut page, "#ready-by").await;
    assert!(!ready_at_intake.is_empty(), "a ready-by on the slip");
    assert!(
        !ready_at_intake.contains("UTC") && !ready_at_intake.contains('.'),
        "{ready_at_intake}"
    );

    // The lab receives all three (its estimate: 20 h, before the counter's 24 h promise) and
    // dispatches the first.
    let mut receptions = Vec::new();
    for (number, lab_number) in [
        (&first, "B0000101"),
        (&second, "B0000102"),
        (&third, "B0000103"),
    ] {
        receptions.push(lab.record_reception(&placed_of(number), lab_number).await);
    }
    // The lab's reception is in: the slip says the same time (one truth).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, v) = counter.get("/api/v1/pickups?q=B0000102").await;
        if v[0]["reception_number"] == json!(second) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the lab's reception never arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    page.goto(&format!("{base}/slip/{second}")).await;
    assert_eq!(
        text_of(&mut page, "#ready-by").await,
        ready_at_intake,
        "the slip's ready-by is one truth, at intake and reloaded"
    );
    check_screen(&mut page, "slip").await;
    assert_on_first_screen(&mut page, "slip", &["button.go", "#cancel"]).await;
    for (paper, w, h) in PAPERS {
        assert_eq!(
            printed_pages(&mut page, &format!("slip-{paper}"), w, h).await,
            1,
            "the slip on {paper} paper is one page"
        );
    }

    lab.dispatch(
        receptions[0].clone(),
        placed_of(&first).customer.clone(),
        Some(first.clone()),
        chrono::Utc::now(),
    )
    .await;
    counter.wait_ready(&first).await;

    // A scanner at the home screen: the slip's QR code (the number) and Enter.
    page.goto(&format!("{base}/")).await;
    let focused = page
        .eval("document.activeElement && document.activeElement.id")
        .await;
    assert_eq!(focused, json!("q"), "the scan field has the focus");
    scan(&mut page, &format!("REPRINT1:counter-ginza:{first}")).await;
    page.wait_for(
        "the pickup of the scanned slip",
        &format!("location.pathname === '/pickup/{first}' && document.readyState === 'complete'"),
    )
    .await;
    check_screen(&mut page, "pickup").await;
    assert_on_first_screen(
        &mut page,
        "pickup",
        &["#customer", "#number", "#due", "#collect"],
    )
    .await;
    let due = text_of(&mut page, "#due").await;
    assert!(due.starts_with('¥'), "{due}");

    // Too much cash typed: said in words, what was typed kept; then paid by card.
    page.fill("#tendered", "99999999").await;
    page.eval("document.querySelector('form.pay').submit(), true")
        .await;
    page.wait_for("the refusal", "!!document.querySelector('#till .problem')")
        .await;
    let refusal = text_of(&mut page, "#till .problem").await;
    assert!(refusal.contains("¥99,999,999"), "{refusal}");
    page.click("input[name=method][value=card]").await;
    let hidden = page
        .eval("getComputedStyle(document.querySelector('.cash-only')).display")
        .await;
    assert_eq!(hidden, json!("none"), "no cash handed over for a card");
    page.eval("document.querySelector('form.pay').submit(), true")
        .await;
    page.wait_for(
        "the receipt",
        &format!(
            "location.pathname === '/pickup/{first}/receipt' && document.readyState === 'complete'"
        ),
    )
    .await;
    check_screen(&mut page, "receipt").await;
    assert_eq!(
        page.eval("!!document.querySelector('#change')").await,
        json!(false),
        "a card payment has no change line"
    );
    let receipt = text_of(&mut page, "#receipt").await;
    assert!(
        receipt.contains(&first) && receipt.contains("Card"),
        "{receipt}"
    );
    assert!(receipt.contains(&due), "{receipt}");
    for (paper, w, h) in [PAPERS[0], PAPERS[2]] {
        assert_eq!(
            printed_pages(&mut page, &format!("receipt-{paper}"), w, h).await,
            1,
            "the receipt on {paper} paper is one page"
        );
    }
    page.goto(&format!("{base}/pickup/{first}")).await;
    assert_on_first_screen(&mut page, "paid", &["#paid"]).await;

    // Cancel the second order at the counter: a confirmation, then the lab hears of it.
    page.goto(&format!("{base}/slip/{second}")).await;
    page.click("#cancel").await;
    page.wait_for(
        "the confirmation",
        "!!document.querySelector('#confirm-cancel')",
    )
    .await;
    check_screen(&mut page, "cancel").await;
    assert_on_first_screen(&mut page, "cancel", &["#confirm-cancel"]).await;
    page.click("#confirm-cancel").await;
    page.wait_for(
        "the cancelled slip",
        &format!(
            "location.pathname === '/slip/{second}' && !!document.querySelector('#cancelled')"
        ),
    )
    .await;
    assert_eq!(
        page.eval("!!document.querySelector('#cancel')").await,
        json!(false),
        "no second cancel"
    );
    check_screen(&mut page, "slip-cancelled").await;
    for (paper, w, h) in PAPERS {
        assert_eq!(
            printed_pages(&mut page, &format!("slip-cancelled-{paper}"), w, h).await,
            1,
            "the cancelled slip on {paper} paper is one page"
        );
    }
    let got = lab_messages(&lab, 3).await;
    let cancelled = got
        .iter()
        .find(|(s, _, _)| s == "reprint.v1.lab.lab-a.order.cancelled")
        .unwrap_or_else(|| panic!("the lab got the cancellation: {got:?}"));
    assert_eq!(
        cancelled.2["order"],
        json!(placed_of(&second).order.to_string())
    );
    assert_eq!(cancelled.2["lab"], "lab-a");

    // Arrivals: the notice in words, dismissed; the third order arrives while the page is open.
    page.goto(&format!("{base}/arrivals")).await;
    check_screen(&mut page, "arrivals").await;
    let notices = text_of(&mut page, "#notices").await;
    assert!(
        notices.contains(&second) && notices.contains("Cancelled: The customer asked to cancel"),
        "{notices}"
    );
    assert!(
        !notices.contains("ByOperator") && !notices.contains('_'),
        "{notices}"
    );
    assert!(!text_of(&mut page, "#ready").await.contains(&third));
    lab.dispatch(
        receptions[2].clone(),
        placed_of(&third).customer.clone(),
        Some(third.clone()),
        chrono::Utc::now(),
    )
    .await;
    page.wait_for(
        "the third order ready without a reload",
        &format!("document.querySelector('#ready').innerText.includes('{third}')"),
    )
    .await;
    page.click("#notices form button").await;
    page.wait_for(
        "the notice dismissed",
        &format!("location.pathname === '/arrivals' && document.readyState === 'complete' && !document.querySelector('#notices').innerText.includes('{second}')"),
    )
    .await;

    // Every page in Japanese by the terminal's choice: words, no keys, fits.
    page.call(
        "Page.navigate",
        json!({"url": format!("{base}/language?to=ja&back=/pickup/{first}")}),
    )
    .await;
    page.wait_for("Japanese", "document.documentElement.lang === 'ja'")
        .await;
    for path in [
        "/".to_string(),
        "/intake".to_string(),
        "/arrivals".to_string(),
        "/pickup".to_string(),
        format!("/pickup/{first}"),
        format!("/pickup/{first}/receipt"),
        format!("/slip/{second}"),
        format!("/pickup/{third}"),
        "/takings".to_string(),
    ] {
        page.goto(&format!("{base}{path}")).await;
        let body = text_of(&mut page, "body").await;
        assert!(
            !body.contains("counter-"),
            "{path}: a message key shows: {body}"
        );
        assert_eq!(
            page.eval("document.documentElement.lang").await,
            json!("ja")
        );
        page.assert_fits(&path).await;
        let small = page.small_touch_targets().await;
        assert!(small.is_empty(), "{path}: small touch targets: {small:?}");
        page.assert_accessible(&path).await;
    }
    page.goto(&format!("{base}/pickup/{third}")).await;
    check_screen(&mut page, "pickup-ja").await;
    assert_on_first_screen(&mut page, "pickup-ja", &["#due", "#collect"]).await;
    page.goto(&format!("{base}/intake")).await;
    check_screen(&mut page, "intake-ja").await;
    assert_on_first_screen(&mut page, "intake-ja", &["#price-it"]).await;
    page.goto(&format!("{base}/slip/{first}")).await;
    check_screen(&mut page, "slip-ja").await;

    // A phone or a small tablet in staff's hand: nothing wider than the screen.
    page.set_viewport(390, 844).await;
    for path in [
        "/".to_string(),
        "/intake".to_string(),
        "/arrivals".to_string(),
        format!("/pickup/{third}"),
        format!("/pickup/{first}/receipt"),
        format!("/slip/{second}"),
        "/takings".to_string(),
    ] {
        page.goto(&format!("{base}{path}")).await;
        page.assert_fits(&format!("{path} at 390 px")).await;
    }
    page.goto(&format!("{base}/pickup/{third}")).await;
    page.screenshot("counter-pickup-390").await;

    browser.close(&mut page).await;
}
