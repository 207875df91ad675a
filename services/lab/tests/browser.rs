//! The lab's console in a real Chromium (issue 16): the queue at a desk (1280 x 800) and on a
//! tablet (1024 x 768) fits, has 44 px targets and no serious axe-core violation; it shows a new
//! order without a reload; a barcode scanner (typing the counter's slip number and Enter) finds
//! the reception from the search field, which has the focus; the per-image reject form at
//! 1024 x 768 and on a phone; the keyboard shortcuts of the common path; a batch start and a
//! dispatch per counter; the packing list prints on one A4 page.

#[path = "common/browser.rs"]
#[allow(dead_code)]
mod browser;
mod common;

use std::time::Duration;

use browser::*;
use common::*;
use reprint_domain::protocol::{OrderPlaced, ReceptionRecorded, Sender};
use reprint_domain::*;
use serde_json::json;

async fn place(peer: &Peer, inbox: &mut async_nats::Subscriber, o: &OrderPlaced) {
    peer.place(o).await;
    let _: ReceptionRecorded = next(inbox, "reception.recorded", |r: &ReceptionRecorded| {
        r.order == o.order
    })
    .await;
}

/// A key pressed and let go (as a keyboard sends it).
async fn press(page: &mut Page, key: &str, code: &str, vk: u32) {
    for kind in ["keyDown", "keyUp"] {
        page.call(
            "Input.dispatchKeyEvent",
            json!({"type": kind, "key": key, "code": code, "windowsVirtualKeyCode": vk,
                "text": if kind == "keyDown" { key } else { "" }}),
        )
        .await;
    }
}

async fn count(page: &mut Page, selector: &str) -> u64 {
    page.eval(&format!(
        "document.querySelectorAll({}).length",
        json!(selector)
    ))
    .await
    .as_u64()
    .unwrap_or(0)
}

async fn check_sizes(page: &mut Page, name: &str) {
    for (w, h) in [(1280, 800), (1024, 768)] {
        page.set_viewport(w, h).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        page.assert_fits(&format!("{name} at {w}")).await;
        let small = page.small_touch_targets().await;
        assert!(
            small.is_empty(),
            "{name} at {w}: touch targets under 44 px: {small:?}"
        );
        page.assert_accessible(&format!("{name} at {w}")).await;
        page.screenshot(&format!("lab-{name}-{w}")).await;
    }
    page.set_viewport(1280, 800).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_lives_on_a_tablet_and_the_packing_list_prints_on_one_page() {
    if !chromium_installed() {
        return;
    }
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut inbox = peer.subscribe("reprint.v1.>").await;
    let first = internet_order(peer.upload(31).await, PrintSize::L, at);
    place(&peer, &mut inbox, &first).await;
    let mut counters = internet_order(peer.upload(32).await, PrintSize::L, at);
    counters.route = file::Route::CounterMedium;
    counters.sender = Sender::Counter(site(COUNTER));
    counters.data_receive = None;
    counters.counter_extract = Some(counter_extract(at, counters.order));
    place(&peer, &mut inbox, &counters).await;

    let dir = tempfile::tempdir().unwrap();
    let chrome = Browser::launch(dir.path()).await;
    let mut page = chrome.page().await;
    page.call("Page.enable", json!({})).await;
    page.set_viewport(1280, 800).await;
    page.goto(&lab.url("/login")).await;
    page.fill("#name", "operator").await;
    page.fill("#password", "change-me").await;
    page.eval("document.querySelector('form[action=\"/login\"]').submit(), true")
        .await;
    page.wait_for(
        "the queue after log-in",
        "location.pathname === '/' && document.readyState === 'complete' && document.querySelector('#live') !== null",
    )
    .await;
    assert_eq!(count(&mut page, "#live [data-reception]").await, 2);
    // A scanner can type into the queue page straight away.
    assert_eq!(
        page.eval("document.activeElement && document.activeElement.id")
            .await,
        json!("top-q")
    );
    // Each card's thumbnail is the print as rendered.
    page.wait_for(
        "the thumbnails",
        "[...document.querySelectorAll('.card img')].every(i => i.complete && i.naturalWidth > 0)",
    )
    .await;
    check_sizes(&mut page, "queue").await;

    // A new order arrives: the queue shows it without a reload.
    page.eval("window.__same_document = true").await;
    let late = internet_order(peer.upload(33).await, PrintSize::In5x7, at);
    let started = std::time::Instant::now();
    place(&peer, &mut inbox, &late).await;
    page.wait_for(
        "the new order on the queue",
        "document.querySelector('#live [data-reception=\"B0000003\"]') !== null",
    )
    .await;
    let shown_after = started.elapsed();
    assert_eq!(
        page.eval("window.__same_document === true").await,
        json!(true),
        "no reload"
    );
    eprintln!("the new order was on the queue {shown_after:?} after it was placed");
    assert!(shown_after < Duration::from_secs(10), "{shown_after:?}");
    check_sizes(&mut page, "queue-live").await;

    // The scanner: the search field has the focus, the scanner types the counter's slip number
    // and Enter; the reception opens.
    page.goto(&lab.url("/search")).await;
    // autofocus is applied once the page is shown, a moment after it has loaded.
    page.wait_for(
        "the search field focused",
        "!!document.activeElement && document.activeElement.id === 'q'",
    )
    .await;
    page.call("Input.insertText", json!({"text": "X0001004"}))
        .await;
    for kind in ["keyDown", "keyUp"] {
        page.call(
            "Input.dispatchKeyEvent",
            json!({"type": kind, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "text": if kind == "keyDown" { "\r" } else { "" }}),
        )
        .await;
    }
    page.wait_for(
        "the counter's reception",
        "location.pathname === '/receptions/B0000002' && document.readyState === 'complete'",
    )
    .await;
    check_sizes(&mut page, "reception").await;
    // "/" takes the focus to the search field from anywhere but a field.
    page.eval("document.activeElement.blur(), true").await;
    for kind in ["keyDown", "keyUp"] {
        page.call(
            "Input.dispatchKeyEvent",
            json!({"type": kind, "key": "/", "code": "Slash", "windowsVirtualKeyCode": 191, "text": if kind == "keyDown" { "/" } else { "" }}),
        )
        .await;
    }
    assert_eq!(
        page.eval("[document.activeElement.id, document.activeElement.value]")
            .await,
        json!(["top-q", ""])
    );

    // The per-image reject form, open, at 1024 x 768 and on a phone: it fits, 44 px targets.
    page.eval(
        "document.querySelectorAll('details.reject-image').forEach(d => d.open = true), true",
    )
    .await;
    for (w, h, name) in [
        (1024, 768, "reject-image-1024"),
        (390, 844, "reject-image-phone"),
    ] {
        page.set_viewport(w, h).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        page.eval("document.querySelector('details.reject-image').scrollIntoView(), true")
            .await;
        page.assert_fits(name).await;
        let small = page.small_touch_targets().await;
        assert!(
            small.is_empty(),
            "{name}: touch targets under 44 px: {small:?}"
        );
        // The reason's picker and the words under it line up, as wide as the form.
        let widths = page
            .eval(
                "(() => { const f = document.querySelector('details.reject-image form'); \
                 return [f.clientWidth, f.querySelector('select').offsetWidth, \
                 f.querySelector('input[name=text]').offsetWidth]; })()",
            )
            .await;
        let w: Vec<i64> = serde_json::from_value(widths.clone()).unwrap();
        assert!(w[1] == w[2] && w[1] >= w[0] - 2, "{name}: {widths}");
        let shot = page.screenshot(&format!("lab-{name}")).await;
        eprintln!("the reject form: {}", shot.display());
    }
    page.set_viewport(1280, 800).await;

    // The common path by keyboard, listed at the foot of the page: "n" does the reception's
    // next step, "q" opens the queue.
    page.goto(&lab.url("/receptions/B0000003")).await;
    assert_eq!(
        page.eval("[...document.querySelectorAll('footer kbd')].map(k => k.textContent)")
            .await,
        json!(["/", "n", "q", "d"])
    );
    press(&mut page, "n", "KeyN", 78).await;
    page.wait_for(
        "printing started by the key n",
        "location.pathname === '/receptions/B0000003' && document.readyState === 'complete' \
         && document.querySelector('form[action$=\"/finished\"] [data-key=n]') !== null",
    )
    .await;
    let large = rig.dir.path().join("hot/large-1");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while list(&large) != vec![large.join("B0000003-5x7")] {
        assert!(std::time::Instant::now() < deadline, "{:?}", list(&large));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    press(&mut page, "q", "KeyQ", 81).await;
    page.wait_for(
        "the queue by the key q",
        "location.pathname === '/' && document.readyState === 'complete'",
    )
    .await;

    // One batch start of minilab-1 and L; the station finishes; dispatch to the counter.
    page.goto(&lab.url("/")).await;
    page.click("button[data-batch=\"minilab-1/L\"]").await;
    page.wait_for(
        "the batch result",
        "location.pathname === '/batch/start' && document.readyState === 'complete'",
    )
    .await;
    let hot = rig.dir.path().join("hot/minilab-1");
    written(&[hot.join("B0000001-L"), hot.join("B0000002-L")]).await;
    assert_eq!(
        list(&hot),
        vec![hot.join("B0000001-L"), hot.join("B0000002-L")]
    );
    for n in ["B0000001", "B0000002"] {
        std::fs::write(hot.join(format!("{n}-L")).join("DONE"), b"").unwrap();
    }
    page.goto(&lab.url("/printers")).await;
    check_sizes(&mut page, "printers").await;
    page.goto(&lab.url("/dispatch")).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while count(&mut page, "input[name=r]").await < 2 {
        assert!(std::time::Instant::now() < deadline, "printed receptions");
        tokio::time::sleep(Duration::from_millis(300)).await;
        page.goto(&lab.url("/dispatch")).await;
    }
    check_sizes(&mut page, "dispatch").await;
    page.click("section[data-counter=\"counter-ginza\"] button")
        .await;
    page.wait_for(
        "the packing list",
        "location.pathname === '/packing-list' && document.readyState === 'complete'",
    )
    .await;
    assert_eq!(count(&mut page, "tbody [data-reception]").await, 2);
    assert_eq!(count(&mut page, "figure svg").await, 1);
    // One code per order too: the lab's reception number the counter's check-in scans.
    assert_eq!(count(&mut page, "tbody td.code svg").await, 2);
    check_sizes(&mut page, "packing-list").await;
    let pdf = page
        .call(
            "Page.printToPDF",
            json!({"paperWidth": 8.27, "paperHeight": 11.69, "printBackground": true,
                   "preferCSSPageSize": true}),
        )
        .await;
    let pdf = base64_decode(pdf["data"].as_str().unwrap());
    let text = String::from_utf8_lossy(&pdf);
    let pages = text.matches("/Type /Page").count() - text.matches("/Type /Pages").count();
    std::fs::write(
        std::env::temp_dir().join("reprint-lab-packing-list.pdf"),
        &pdf,
    )
    .unwrap();
    assert_eq!(pages, 1, "the packing list prints on one A4 page");

    // The same queue in Japanese for a Japanese browser.
    page.call("Network.enable", json!({})).await;
    page.call(
        "Network.setExtraHTTPHeaders",
        json!({"headers": {"Accept-Language": "ja"}}),
    )
    .await;
    page.goto(&lab.url("/")).await;
    let title = page.eval("document.querySelector('h1').textContent").await;
    assert_eq!(title, json!("作業一覧"));
    check_sizes(&mut page, "queue-ja").await;

    chrome.close(&mut page).await;
    lab.stop().await;
}

/// Waits (30 s at most) for the print workers to write job folders `dirs` (printing starts at
/// once; rendering follows beside it).
async fn written(dirs: &[std::path::PathBuf]) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while !dirs.iter().all(|d| d.exists()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{dirs:?} not written within 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}
