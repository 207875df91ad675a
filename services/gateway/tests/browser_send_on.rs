//! "Send these photos on" from an order's page (issue 20; seed 000, claims 5, 6, 15 f-g) in a
//! real headless Chromium: the person chooses another lab from the directory, a photo's size
//! and copies, sees both sites' quote, confirms, and lands on the new order's page, which says
//! it was sent on from the first; the second lab gets the order with the chosen size and no
//! image is uploaded again. The index print is offered once per order, never as a photo's size.
//! Every step at 1280 x 800 and 390 x 844: nothing wider than the screen, 44 px targets, no
//! serious axe-core violation, a screenshot. (Fake labs and counter on the real NATS: `common`.)
//!
//! Skipped, saying so, where `/usr/bin/chromium` is not installed.

mod common;

use std::time::Duration;

use common::browser::*;
use common::*;
use reprint_bus::directory::Directory;
use reprint_bus::subjects::{self, SiteId, SiteKind};
use serde_json::json;

const PASSWORD: &str = "correct horse battery";
const LAB_B: &str = "lab-b";

async fn text(page: &mut Page, selector: &str) -> String {
    page.eval(&format!(
        "(() => {{ const e = document.querySelector({}); return e ? e.textContent.trim() : null; }})()",
        json!(selector)
    ))
    .await
    .as_str()
    .unwrap_or_default()
    .to_string()
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

async fn check_both_sizes(page: &mut Page, name: &str) {
    for (w, h) in [(1280, 800), (390, 844)] {
        page.set_viewport(w, h).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        page.assert_fits(&format!("{name} at {w}")).await;
        let small = page.small_touch_targets().await;
        assert!(
            small.is_empty(),
            "{name} at {w}: touch targets under 44 px: {small:?}"
        );
        page.assert_accessible(&format!("{name} at {w}")).await;
        page.screenshot(&format!("send-on-{name}-{w}")).await;
    }
    page.set_viewport(1280, 800).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_an_orders_photos_on_to_another_lab_at_another_size_from_its_page() {
    if !chromium_installed() {
        return;
    }
    let app = spawn().await;
    let _lab = serve_quotes(&app, LAB).await;
    let _counter = serve_quotes(&app, COUNTER).await;
    // A second lab that prints L and 2L and the index print.
    let dir = Directory::open(&app.js, 1).await.unwrap();
    let mut b = site(LAB_B, SiteKind::Lab);
    b.name = "Lab B Photo".into();
    b.sizes = vec!["L".into(), "2L".into(), "Index".into()];
    dir.announce(&b).await.unwrap();
    let _lab_b = serve_site(&app, LAB_B, reprint_domain::SiteKind::Lab).await;
    let mut at_b = app
        .client
        .subscribe(subjects::order_placed(&SiteId::parse(LAB_B).unwrap()))
        .await
        .unwrap();
    app.client.flush().await.unwrap();

    // The first order: two L prints of one photo at lab-a.
    let mut lab = lab_orders(&app).await;
    let email = "sendon@example.com";
    let (u, order, image) = with_image(&app, email, 41).await;
    let (s, v) = u
        .post_with(
            &format!("/api/v1/orders/{order}/submit"),
            &json!({"lab": LAB, "counter": COUNTER,
                "items": [{"image": image, "size": "L", "quantity": 2}]}),
            &order,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    next_order(&mut lab).await;
    let stored = image_store_messages(&app).await;

    let tmp = tempfile::tempdir().unwrap();
    let browser = Browser::launch(tmp.path()).await;
    let mut page = browser.page().await;
    page.call("Page.enable", json!({})).await;
    page.call("Runtime.enable", json!({})).await;
    page.set_viewport(1280, 800).await;
    page.log_in(&app.base, email, PASSWORD).await;

    // The order's page offers it.
    page.goto(&format!("{}/orders/{order}", app.base)).await;
    assert_eq!(text(&mut page, "#send-on").await, "Send these photos on");
    page.click("#send-on").await;
    page.wait_for(
        "the send-on page",
        "location.pathname.endsWith('/send-on') && document.querySelector('#choose-site') !== null",
    )
    .await;
    // Where: both labs (the first one said so), not the counter without a printer.
    let sites = text(&mut page, ".sites").await;
    assert!(sites.contains("Lab B Photo"), "{sites}");
    assert!(sites.contains("the one that printed this order"), "{sites}");
    assert!(
        sites.contains("2L (127 × 178 mm)"),
        "sizes in words: {sites}"
    );
    assert!(!sites.contains("Site counter-x"), "{sites}");
    check_both_sizes(&mut page, "where").await;

    page.click(&format!("#to-{LAB_B}")).await;
    page.click("#choose-site").await;
    page.wait_for(
        "the photos step",
        "document.querySelector('#photos-form') !== null",
    )
    .await;
    // The photo's sizes: never the index print, which is offered once for the order.
    let options = page
        .eval("[...document.querySelectorAll('#photos-form select option')].map(o => o.value).join(',')")
        .await;
    assert_eq!(options, json!("L,2L"));
    assert_eq!(count(&mut page, "#index").await, 1);
    page.eval(&format!(
        "document.querySelector('select[name=\"size-{image}\"]').value = '2L'; \
         document.querySelector('input[name=\"qty-{image}\"]').value = '3'; true"
    ))
    .await;
    check_both_sizes(&mut page, "photos").await;
    page.click("#see-price").await;
    page.wait_for(
        "the quote and the confirmation",
        "document.querySelector('#confirm-send-on') !== null || document.querySelector('#no-quote') !== null",
    )
    .await;
    assert_eq!(
        count(&mut page, "#no-quote").await,
        0,
        "{}",
        text(&mut page, "#no-quote").await
    );
    let due = text(&mut page, "#amount-due").await;
    // Each fake site: basic 250 + 3 x 30.
    assert!(due.ends_with("¥680"), "{due}");
    let quote = text(&mut page, "#quote").await;
    assert!(
        quote.contains("Site lab-b") || quote.contains("Lab B Photo"),
        "{quote}"
    );
    check_both_sizes(&mut page, "quote").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        tokio::time::timeout(
            Duration::from_millis(300),
            futures::StreamExt::next(&mut at_b)
        )
        .await
        .is_err(),
        "nothing is ordered before the confirmation"
    );

    page.click("#confirm-send-on").await;
    page.wait_for(
        "the new order's page",
        &format!("location.pathname.startsWith('/orders/') && !location.pathname.includes('{order}') && document.querySelector('#origin') !== null"),
    )
    .await;
    let placed = next_order(&mut at_b).await;
    assert_eq!(
        page.eval("location.pathname").await,
        json!(format!("/orders/{}", placed.order))
    );
    assert_eq!(placed.items.len(), 1);
    assert_eq!(placed.items[0].image.to_hex(), image);
    assert_eq!(placed.items[0].size.code(), "2L");
    assert_eq!(placed.items[0].quantity, 3);
    let origin = text(&mut page, "#origin").await;
    assert!(origin.starts_with("Sent on from your order"), "{origin}");
    assert_eq!(
        page.eval("document.querySelector('#origin a').getAttribute('href')")
            .await,
        json!(format!("/orders/{order}"))
    );
    check_both_sizes(&mut page, "new-order").await;

    // The new order, by the API: sent on from the first, at lab-b, nothing uploaded again.
    let (_, v) = u.get(&format!("/api/v1/orders/{}", placed.order)).await;
    assert_eq!(v["reorder_of"], json!(order));
    assert_eq!(v["lab"], json!(LAB_B));
    assert_eq!(v["images"], json!([]), "no image uploaded to the new order");
    assert_eq!(
        image_store_messages(&app).await,
        stored,
        "no new bytes stored"
    );

    // The same page in Japanese reads in Japanese.
    page.eval(&format!(
        "location.href = '/language?to=ja&back=/orders/{order}/send-on?to={LAB_B}'; true"
    ))
    .await;
    page.wait_for(
        "the page in Japanese",
        "document.documentElement.lang === 'ja' && document.querySelector('#photos-form') !== null",
    )
    .await;
    let h1 = text(&mut page, "h1").await;
    assert_eq!(h1, "この写真を別の店でプリント");
    page.screenshot("send-on-photos-ja-1280").await;

    browser.close(&mut page).await;
}

/// The album's order form offers the index print once for the order, never as a photo's size:
/// the size lists of the photos have no "Index", one box adds the sheet, and the request the
/// page sends has one index line whatever the number of photos.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_album_offers_the_index_print_once_per_order_not_per_photo() {
    if !chromium_installed() {
        return;
    }
    let app = spawn().await;
    let _lab = serve_quotes(&app, LAB).await;
    let _counter = serve_quotes(&app, COUNTER).await;
    let dir = Directory::open(&app.js, 1).await.unwrap();
    let mut a = site(LAB, SiteKind::Lab);
    a.sizes = vec!["L".into(), "2L".into(), "Index".into()];
    dir.announce(&a).await.unwrap();
    let email = "index@example.com";
    let (u, _order, first) = with_image(&app, email, 51).await;
    let order2 = u.new_order().await;
    let photo = jpeg(52, 800, 600);
    let (s, r) = u
        .put(
            &format!("/api/v1/orders/{order2}/storage"),
            &json!({"bytes": photo.len()}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let (s, up) = u.upload(&order2, "harbour.jpg", photo).await;
    assert_eq!(s, 201, "{up}");
    let second = up["image"].as_str().unwrap().to_string();

    let tmp = tempfile::tempdir().unwrap();
    let browser = Browser::launch(tmp.path()).await;
    let mut page = browser.page().await;
    page.call("Page.enable", json!({})).await;
    page.call("Runtime.enable", json!({})).await;
    page.set_viewport(1280, 800).await;
    page.log_in(&app.base, email, PASSWORD).await;
    page.goto(&format!("{}/album", app.base)).await;
    for image in [&first, &second] {
        page.click(&format!(".card[data-image=\"{image}\"] .pick-box"))
            .await;
    }
    page.wait_for(
        "both photos chosen and the index box shown",
        "document.querySelectorAll('#items tr').length === 2 && !document.querySelector('#index').hidden",
    )
    .await;
    let options = page
        .eval("[...document.querySelectorAll('#items select option')].map(o => o.value).join(',')")
        .await;
    assert_eq!(
        options,
        json!("L,2L,L,2L"),
        "no Index among a photo's sizes"
    );
    page.click("#index-print").await;
    // The request the page sends: the photos' lines and one index line.
    page.eval(
        "window.sentBodies = []; const f = window.fetch; window.fetch = (u, o) => { \
         if (o && o.body && String(u).endsWith('/quote')) window.sentBodies.push(JSON.parse(o.body)); \
         return f(u, o); }; true",
    )
    .await;
    check_both_sizes(&mut page, "album-index").await;
    page.click("#quote").await;
    page.wait_for("the quote asked", "window.sentBodies.length === 1")
        .await;
    let sizes = page
        .eval("window.sentBodies[0].items.map(i => i.size).join(',')")
        .await;
    assert_eq!(sizes, json!("L,L,Index"));
    browser.close(&mut page).await;
}
