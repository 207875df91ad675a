//! The home user's path in a real headless Chromium (Debian's `chromium`), driven over the
//! DevTools protocol: sign up by the form, upload two photos through the album's file input
//! with a progress bar each, quote, place the order (a fake lab on the real NATS answers the
//! quote and receives `OrderPlaced`), and see it on the order page, updating live.
//!
//! Skipped, with a message saying so, where `/usr/bin/chromium` is not installed.
//!
//! The DevTools client is the few lines at the bottom of this file (commands over one
//! WebSocket to the page target), not a crate: the test needs six CDP methods.

mod common;

use std::path::PathBuf;

use common::browser::*;
use common::*;
use reprint_bus::subjects;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_home_user_signs_up_uploads_two_photos_and_places_an_order_in_chromium() {
    if !chromium_installed() {
        return;
    }
    let app = spawn().await;
    let _lab = serve_quotes(&app, LAB).await;
    let _counter = serve_quotes(&app, COUNTER).await;
    let mut lab_inbox = lab_orders(&app).await;

    let dir = tempfile::tempdir().unwrap();
    let photos: Vec<PathBuf> = [("harbour.jpg", 11), ("temple.jpg", 12)]
        .iter()
        .map(|(name, seed)| {
            let p = dir.path().join(name);
            std::fs::write(&p, jpeg(*seed, 2400, 1600)).unwrap();
            p
        })
        .collect();

    let browser = Browser::launch(dir.path()).await;
    let mut page = browser.page().await;
    page.call("Page.enable", json!({})).await;
    page.call("Runtime.enable", json!({})).await;

    // Sign up by the form, as a person would.
    page.goto(&format!("{}/signup", app.base)).await;
    page.eval(
        r#"(() => {
            const f = document.querySelector('form[action="/signup"]');
            f.name.value = 'Hanako Yamada'; f.telephone.value = '03-1234-5678';
            f.address.value = '1-1 Chiyoda, Tokyo'; f.email.value = 'browser@example.com';
            f.password.value = 'correct horse battery'; f.submit(); return true; })()"#,
    )
    .await;
    // A sign-up logs nobody in (it answers the same for a taken e-mail): the log-in form next.
    page.wait_for(
        "the log-in form after sign-up",
        "document.querySelector('form[action=\"/login\"]') !== null && document.readyState === 'complete'",
    )
    .await;
    page.eval(
        r#"(() => {
            const f = document.querySelector('form[action="/login"]');
            f.email.value = 'browser@example.com'; f.password.value = 'correct horse battery';
            f.submit(); return true; })()"#,
    )
    .await;
    page.wait_for(
        "the album after log-in",
        "location.pathname === '/album' && document.readyState === 'complete'",
    )
    .await;

    // Two photos through the file input; a progress bar for each, both finish.
    let doc = page.call("DOM.getDocument", json!({"depth": 0})).await;
    let input = page
        .call(
            "DOM.querySelector",
            json!({"nodeId": doc["root"]["nodeId"], "selector": "#files"}),
        )
        .await;
    page.call(
        "DOM.setFileInputFiles",
        json!({
            "nodeId": input["nodeId"],
            "files": photos.iter().map(|p| p.to_string_lossy().to_string()).collect::<Vec<_>>(),
        }),
    )
    .await;
    page.wait_for(
        "two progress bars",
        "document.querySelectorAll('#progress progress').length === 2",
    )
    .await;
    page.wait_for(
        "both uploads done",
        "[...document.querySelectorAll('#progress .upload em')].filter(e => e.textContent === 'done').length === 2",
    )
    .await;
    let bars = page
        .eval("[...document.querySelectorAll('#progress progress')].map(p => p.offsetWidth > 0 && p.value)")
        .await;
    assert_eq!(bars, json!([1, 1]), "each bar visible and full");
    page.wait_for(
        "the order form with both photos",
        "!document.querySelector('#orderform').hidden && document.querySelectorAll('#items tr').length === 2",
    )
    .await;

    // Quote from both sites, then place the order.
    page.eval("document.querySelector('#quote').click(), true")
        .await;
    page.wait_for(
        "the quote",
        "document.querySelector('#quoted').textContent.includes('To pay at the counter')",
    )
    .await;
    let quoted = page
        .eval("document.querySelector('#quoted').textContent")
        .await;
    assert!(
        quoted
            .as_str()
            .unwrap()
            .contains(&format!("basic charge at {LAB}")),
        "{quoted}"
    );
    page.eval("document.querySelector('#place').click(), true")
        .await;
    page.wait_for(
        "the order page",
        "location.pathname.startsWith('/orders/') && document.readyState === 'complete'",
    )
    .await;

    // The lab received it, with both images by reference.
    let placed = next_order(&mut lab_inbox).await;
    assert_eq!(placed.items.len(), 2);
    let path = page.eval("location.pathname").await;
    let order = placed.order.to_string();
    assert_eq!(path, json!(format!("/orders/{order}")));
    let stage = page
        .eval("document.querySelector('#stage').textContent.trim()")
        .await;
    assert_eq!(stage, json!("Order placed"));

    // The page follows the order live (server-sent events): the lab starts printing.
    page.wait_for(
        "the live stream to open",
        "typeof es !== 'undefined' && es.readyState === 1",
    )
    .await;
    let change = json!({"order": order, "stage": "printing", "site": LAB, "site_kind": "lab",
        "at": chrono::Utc::now().to_rfc3339(), "detail": "on printer 1", "charge": null});
    let sub = subjects::OrderId::parse(order.clone()).unwrap();
    js_publish(
        &app,
        subjects::status(&subjects::SiteId::parse(LAB).unwrap(), &sub),
        &change,
        "browser-status-1",
    )
    .await;
    page.wait_for(
        "the stage to change live",
        "document.querySelector('#stage').textContent.trim() === 'Printing'",
    )
    .await;

    let shot = page
        .call("Page.captureScreenshot", json!({"format": "png"}))
        .await;
    let png = base64_decode(shot["data"].as_str().unwrap());
    assert_eq!(&png[1..4], b"PNG");
    let file = std::env::temp_dir().join(format!("reprint-gateway-order-{order}.png"));
    std::fs::write(&file, &png).unwrap();
    eprintln!("screenshot: {}", file.display());

    browser.close(&mut page).await;
}
