//! The intake page in a real Chromium at 1024 x 768 (the counter's touch terminal), on a real
//! NATS with the lab played by the test (its quote on request/reply): the card picked once,
//! "Price it", the grid of thumbnails prefilled from the card's print order and the price with
//! "Take in" on the first screen, nothing wider than the screen, touch targets of 44 px,
//! axe-core clean; "Take in" opens the slip.

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::{Browser, Page, chromium_installed};
use common::*;
use reprint_testkit::NatsServer;
use serde_json::json;

const W: u32 = 1024;
const H: u32 = 768;

/// The element's box when it is wholly on the first screen (no scrolling), else `Err(box)`.
async fn on_first_screen(page: &mut Page, selector: &str) -> Result<(), serde_json::Value> {
    let v = page
        .eval(&format!(
            "(() => {{ window.scrollTo(0, 0); const e = document.querySelector({}); if (!e) return null; const r = e.getBoundingClientRect(); return {{top: r.top, bottom: r.bottom, left: r.left, right: r.right}}; }})()",
            json!(selector)
        ))
        .await;
    let ok = !v.is_null()
        && v["top"].as_f64().unwrap_or(-1.0) >= 0.0
        && v["bottom"].as_f64().unwrap_or(9e9) <= f64::from(H)
        && v["right"].as_f64().unwrap_or(9e9) <= f64::from(W);
    if ok { Ok(()) } else { Err(v) }
}

async fn check_screen(page: &mut Page, name: &str, first_screen: &[&str]) {
    page.assert_fits(name).await;
    let small = page.small_touch_targets().await;
    assert!(small.is_empty(), "{name}: small touch targets: {small:?}");
    page.assert_accessible(name).await;
    page.screenshot(&format!("counter-{name}")).await;
    for s in first_screen {
        if let Err(b) = on_first_screen(page, s).await {
            panic!("{name}: {s} is not on the first screen at {W}x{H}: {b}");
        }
    }
}

#[tokio::test]
async fn the_intake_grid_and_price_fit_a_1024_by_768_terminal() {
    if !chromium_installed() {
        return;
    }
    let nats = NatsServer::start();
    let _lab = LabPeer::start(&nats.url).await;
    let _quotes = serve_lab_quotes(&nats.url, LabQuotes::Itemised(30)).await;
    let counter = spawn(&nats.url, None, "").await;

    // A card of eight photos with the camera's print order (IMG_0001 x 1, IMG_0007 x 3).
    let mut entries: Vec<(String, Vec<u8>)> = [1u64, 2, 3, 4, 5, 6, 7, 8]
        .iter()
        .map(|s| (format!("DCIM/100CANON/IMG_{s:04}.JPG"), jpeg(*s)))
        .collect();
    entries.push(("MISC/AUTPRINT.MRK".into(), DPOF.as_bytes().to_vec()));
    let refs: Vec<(&str, Vec<u8>)> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let card = dir.path().join("card.zip");
    std::fs::write(&card, zip_of(&refs)).unwrap();

    let browser = Browser::launch(dir.path()).await;
    let mut page = browser.page().await;
    page.set_viewport(W, H).await;
    let base = counter.base.clone();
    page.log_in(&base, "tanaka", PASSWORD).await;

    for lang in ["en", "ja"] {
        page.call(
            "Page.navigate",
            json!({"url": format!("{base}/language?to={lang}&back=/intake")}),
        )
        .await;
        page.wait_for(
            "the intake page",
            &format!(
                "location.pathname === '/intake' && document.documentElement.lang === '{lang}' && !!document.querySelector('#price-it')"
            ),
        )
        .await;
        check_screen(&mut page, &format!("intake-{lang}"), &["#price-it"]).await;
        page.fill("#telephone", "03-1234-5678").await;
        page.fill("#name", "Hanako Yamada").await;
        // The card picked once, as staff would in the file dialog.
        let doc = page.call("DOM.getDocument", json!({})).await;
        let node = page
            .call(
                "DOM.querySelector",
                json!({"nodeId": doc["root"]["nodeId"], "selector": "#medium"}),
            )
            .await;
        page.call(
            "DOM.setFileInputFiles",
            json!({"nodeId": node["nodeId"], "files": [card.display().to_string()]}),
        )
        .await;
        page.click("#price-it").await;
        page.wait_for(
            "the priced grid",
            "!!document.querySelector('#take-in') && !!document.querySelector('#total') && document.readyState === 'complete'",
        )
        .await;
        // Every thumbnail loaded.
        page.wait_for(
            "the thumbnails",
            "[...document.querySelectorAll('.tile img')].every(i => i.complete && i.naturalWidth > 0)",
        )
        .await;
        let tiles = page.eval("document.querySelectorAll('.tile').length").await;
        assert_eq!(tiles, json!(8), "eight photos in the grid");
        let picked = page
            .eval("[...document.querySelectorAll('.tile input[type=checkbox]')].filter(c => c.checked).length")
            .await;
        assert_eq!(picked, json!(2), "the card's print order chose two photos");
        check_screen(
            &mut page,
            &format!("intake-priced-{lang}"),
            &["#take-in", "#total", "#ready-by", "#select-all", "#pick-0"],
        )
        .await;
        // What was typed is still there.
        let name = page.eval("document.querySelector('#name').value").await;
        assert_eq!(name, json!("Hanako Yamada"));
    }

    // A phone or a small tablet in staff's hand: the priced grid fits its width.
    page.set_viewport(390, 844).await;
    page.assert_fits("intake-priced-390").await;
    page.screenshot("counter-intake-priced-390").await;
    page.set_viewport(W, H).await;

    // Take in (the Japanese screen): the slip.
    page.click("#take-in").await;
    page.wait_for(
        "the slip",
        "location.pathname.startsWith('/slip/') && document.readyState === 'complete'",
    )
    .await;
    let path = page.eval("location.pathname").await;
    assert_eq!(path, json!("/slip/X0000001"));
    browser.close(&mut page).await;
}
