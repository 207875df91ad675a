//! The intake's "Digital copy on a medium" in a real Chromium at 1024 x 768 (the counter's
//! touch terminal), in English and Japanese, on a counter with a writer (issue 20): the choice
//! with each medium's price, the priced order with the medium's line and "Take in" on the first
//! screen, nothing wider than the screen, touch targets of 44 px, axe-core clean; the slip then
//! says where the writer's job stands in words.

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::{Browser, chromium_installed};
use common::*;
use reprint_testkit::NatsServer;
use serde_json::json;

const W: u32 = 1024;
const H: u32 = 768;

#[tokio::test]
async fn the_medium_choice_fits_a_1024_by_768_terminal_in_en_and_ja() {
    if !chromium_installed() {
        return;
    }
    let nats = NatsServer::start();
    let _lab = LabPeer::start(&nats.url).await;
    let _quotes = serve_lab_quotes(&nats.url, LabQuotes::Itemised(30)).await;
    let dir = tempfile::tempdir().unwrap();
    let hot = dir.path().join("writer");
    let section = format!(
        "\n[writer]\nname = \"Ginza disc and USB writer\"\nhot_folder = \"{}\"\nmedia = {{ cd = 500, usb_stick = 1200 }}\n",
        hot.display()
    );
    let counter = spawn_edited(&nats.url, None, "", |t| format!("{t}{section}")).await;

    let entries: Vec<(String, Vec<u8>)> = [1u64, 2, 3]
        .iter()
        .map(|s| (format!("DCIM/100CANON/IMG_{s:04}.JPG"), jpeg(*s)))
        .collect();
    let refs: Vec<(&str, Vec<u8>)> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    let card = dir.path().join("card.zip");
    std::fs::write(&card, zip_of(&refs)).unwrap();

    let browser = Browser::launch(dir.path()).await;
    let mut page = browser.page().await;
    page.set_viewport(W, H).await;
    let base = counter.base.clone();
    page.log_in(&base, "tanaka", PASSWORD).await;

    for (lang, stick) in [("en", "USB stick · ¥1,200"), ("ja", "USBメモリ · ¥1,200")] {
        page.call(
            "Page.navigate",
            json!({"url": format!("{base}/language?to={lang}&back=/intake")}),
        )
        .await;
        page.wait_for(
            "the intake page",
            &format!(
                "location.pathname === '/intake' && document.documentElement.lang === '{lang}' && !!document.querySelector('#copy_on')"
            ),
        )
        .await;
        let options = page
            .eval("[...document.querySelectorAll('#copy_on option')].map(o => o.textContent)")
            .await;
        assert!(
            options
                .as_array()
                .is_some_and(|o| o.len() == 3 && o.contains(&json!(stick))),
            "{lang}: {options}"
        );
        let first = page
            .eval("(() => { window.scrollTo(0, 0); return ['#copy_on', '#price-it'].every(q => { const r = document.querySelector(q).getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight && r.right <= innerWidth; }); })()")
            .await;
        assert_eq!(
            first,
            json!(true),
            "{lang}: the choice and Price it on the first screen"
        );
        page.assert_accessible(&format!("writer-intake-empty-{lang}"))
            .await;
        page.screenshot(&format!("counter-writer-intake-empty-{lang}"))
            .await;
        page.fill("#telephone", "03-1234-5678").await;
        page.fill("#name", "Hanako Yamada").await;
        page.eval("document.querySelector('#copy_on').value = 'usb_stick'")
            .await;
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
        // The choice is kept, and the price has the stick's line: 250 + 1,200 + the lab's 90.
        let chosen = page.eval("document.querySelector('#copy_on').value").await;
        assert_eq!(chosen, json!("usb_stick"), "{lang}");
        let price = page
            .eval("document.querySelector('#price').textContent")
            .await;
        let price = price.as_str().unwrap_or_default().to_string();
        let line = if lang == "en" {
            "Digital copy on USB stick"
        } else {
            "USBメモリ"
        };
        assert!(
            price.contains(line) && price.contains("¥1,200"),
            "{lang}: {price}"
        );
        let total = page
            .eval("document.querySelector('#total td').textContent")
            .await;
        assert_eq!(total, json!("¥1,540"), "{lang}");
        page.assert_fits(&format!("writer-intake-{lang}")).await;
        let small = page.small_touch_targets().await;
        assert!(small.is_empty(), "{lang}: small touch targets: {small:?}");
        page.assert_accessible(&format!("writer-intake-{lang}"))
            .await;
        page.screenshot(&format!("counter-writer-intake-{lang}"))
            .await;
        // Below the price (three itemised lab lines, the stick's line, the total, the ready-by),
        // "Take in" is one scroll away at 768 px: scrolled to, it is whole on the screen.
        let on_screen = page
            .eval("(() => { const b = document.querySelector('#take-in'); window.scrollTo(0, b.getBoundingClientRect().bottom + window.scrollY - innerHeight + 16); const r = b.getBoundingClientRect(); return [r.top, r.bottom, r.right, innerHeight, innerWidth, window.scrollY]; })()")
            .await;
        let v: Vec<f64> = on_screen
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap_or(-1.0))
            .collect();
        assert!(
            v[0] >= 0.0 && v[1] <= v[3] && v[2] <= v[4],
            "{lang}: Take in scrolled to: {on_screen}"
        );
        page.screenshot(&format!("counter-writer-intake-{lang}-take-in"))
            .await;
    }

    // Take in (the Japanese screen): the slip says the copy is written for the writer.
    page.click("#take-in").await;
    page.wait_for(
        "the slip",
        "location.pathname === '/slip/X0000001' && document.readyState === 'complete'",
    )
    .await;
    for lang in ["ja", "en"] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            page.call(
                "Page.navigate",
                json!({"url": format!("{base}/language?to={lang}&back=/slip/X0000001")}),
            )
            .await;
            page.wait_for(
                "the slip",
                &format!("document.documentElement.lang === '{lang}' && !!document.querySelector('#medium-copy')"),
            )
            .await;
            let words = page
                .eval("document.querySelector('#medium-copy').textContent")
                .await;
            let written = if lang == "ja" {
                "書き出し済み"
            } else {
                "written for the writer"
            };
            if words.as_str().is_some_and(|w| w.contains(written)) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{lang}: the slip never said written: {words}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        page.assert_fits(&format!("writer-slip-{lang}")).await;
        page.assert_accessible(&format!("writer-slip-{lang}")).await;
        page.screenshot(&format!("counter-writer-slip-{lang}"))
            .await;
    }
    // The pickup page says the same, on the terminal and on a phone in staff's hand.
    for (w, h) in [(1280, 800), (390, 844)] {
        page.set_viewport(w, h).await;
        page.call(
            "Page.navigate",
            json!({"url": format!("{base}/language?to=ja&back=/pickup/X0000001")}),
        )
        .await;
        page.wait_for(
            "the pickup page",
            "document.documentElement.lang === 'ja' && !!document.querySelector('#medium-copy')",
        )
        .await;
        let words = page
            .eval("document.querySelector('#medium-copy').textContent")
            .await;
        assert!(
            words.as_str().is_some_and(|w| w.contains("USBメモリ")),
            "{words}"
        );
        page.assert_fits(&format!("writer-pickup-{w}")).await;
        page.screenshot(&format!("counter-writer-pickup-{w}")).await;
    }
    browser.close(&mut page).await;
}
