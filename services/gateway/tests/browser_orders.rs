//! The user's order pages in a real headless Chromium (issue 14): the status page follows the
//! order live without phantom lines and with the sites' own times, "Print the slip" appears
//! when the lab has received the order, the amount due at the counter in yen; the slip prints
//! on one A4 page; the history lists orders by their reception number and re-orders only
//! after a quote and a confirmation; cancel from the page. Every page at 1280 x 900 and at
//! 390 x 844: nothing wider than the screen, touch targets of 44 px, no serious axe-core
//! violation. (A fake lab and counter on the real NATS: `common`.)
//!
//! Skipped, saying so, where `/usr/bin/chromium` is not installed.

mod common;

use std::time::Duration;

use common::browser::*;
use common::*;
use reprint_bus::subjects::{self, Address, SiteId};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

/// A user with an order placed at the fake lab: (user, order, image).
async fn placed_order(
    app: &TestApp,
    lab: &mut async_nats::Subscriber,
    email: &str,
    seed: u64,
) -> (UserClient, String, String) {
    let (u, order, image) = with_image(app, email, seed).await;
    let req = json!({"lab": LAB, "counter": COUNTER,
        "items": [{"image": image, "size": "L", "quantity": 2}]});
    let (s, v) = u
        .post_with(&format!("/api/v1/orders/{order}/submit"), &req, &order)
        .await;
    assert_eq!(s, 200, "{v}");
    next_order(lab).await;
    (u, order, image)
}

fn yen(minor: i64) -> Value {
    json!({"minor": minor, "currency": "JPY"})
}

/// The lab's charge: the basic charge, half of it off for an order within the month.
fn lab_charge() -> Value {
    json!({"lines": [
        {"kind": "basic_charge", "description": "basic charge", "amount": yen(250)},
        {"kind": {"discount": {"of": 0, "percent": 50}},
         "description": "basic charge 50 % off: previous order here on 2026-11-18, within 1 month",
         "amount": yen(-125)}
    ], "total": yen(125)})
}

/// The lab's reception record of `order` (its slip), reception `number`, ready in two hours.
async fn lab_receives(app: &TestApp, order: &str, number: &str) {
    let ready = (chrono::Utc::now() + chrono::Duration::hours(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let slip = json!({
        "order": order, "lab": LAB, "estimated_finish": ready,
        "extract": {
            "from_site": LAB, "from_kind": "lab", "registration_number": "A0000001",
            "name": "Hanako Yamada", "telephone": "0312345678", "address": null, "email": null,
            "reception": {
                "number": number, "order": order, "route": "internet",
                "received_at": chrono::Utc::now().to_rfc3339(), "data_receive": null,
                "partner": COUNTER, "items": [], "charge": lab_charge(),
                "partner_charge": null, "estimated_finish": ready, "state": "open"
            },
            "other_receptions": []
        }
    });
    let gw = Address::gateway(SiteId::parse(&app.gateway_id).unwrap());
    js_publish(
        app,
        subjects::reception_recorded(&gw).unwrap(),
        &slip,
        &format!("slip-{number}"),
    )
    .await;
}

/// A status of `order` from `site`, at `at`.
async fn status(
    app: &TestApp,
    site: &str,
    order: &str,
    stage: &str,
    at: chrono::DateTime<chrono::Utc>,
    charge: Value,
) {
    let kind = if site == LAB { "lab" } else { "counter" };
    let change = json!({"order": order, "stage": stage, "site": site, "site_kind": kind,
        "at": at.to_rfc3339(), "detail": format!("internal words of {site} about {stage}"),
        "charge": charge});
    js_publish(
        app,
        subjects::status(
            &SiteId::parse(site).unwrap(),
            &subjects::OrderId::parse(order.to_string()).unwrap(),
        ),
        &change,
        &format!("{site}-{order}-{stage}"),
    )
    .await;
}

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

/// At desktop and phone size: nothing wider than the screen, 44 px touch targets, no serious
/// or critical axe-core violation; a screenshot of each.
async fn check_both_sizes(page: &mut Page, name: &str) {
    for (w, h) in [(1280, 900), (390, 844)] {
        page.set_viewport(w, h).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        page.assert_fits(&format!("{name} at {w}")).await;
        let small = page.small_touch_targets().await;
        assert!(
            small.is_empty(),
            "{name} at {w}: touch targets under 44 px: {small:?}"
        );
        page.assert_accessible(&format!("{name} at {w}")).await;
        page.screenshot(&format!("orders-{name}-{w}")).await;
    }
    page.set_viewport(1280, 900).await;
}

/// The page's timeline lines, after the live stream has opened and had time to say where the
/// order stands.
async fn lines_after_connecting(page: &mut Page) -> u64 {
    page.wait_for(
        "the live stream to open",
        "typeof es !== 'undefined' && es && es.readyState === 1",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    count(page, "#log li").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_live_without_phantom_lines_slip_on_one_a4_page_history_and_reorder() {
    if !chromium_installed() {
        return;
    }
    let app = spawn().await;
    let _lab = serve_quotes(&app, LAB).await;
    let _counter = serve_quotes(&app, COUNTER).await;
    let mut lab = lab_orders(&app).await;
    let email = "status@example.com";
    let (u, order, _image) = placed_order(&app, &mut lab, email, 31).await;

    let dir = tempfile::tempdir().unwrap();
    let browser = Browser::launch(dir.path()).await;
    let mut page = browser.page().await;
    page.call("Page.enable", json!({})).await;
    page.call("Runtime.enable", json!({})).await;
    page.set_viewport(1280, 900).await;
    page.log_in(&app.base, email, PASSWORD).await;

    // Placed: the stage in words, one line, the way ahead, the estimate in yen, a cancel button.
    let url = format!("{}/orders/{order}", app.base);
    page.goto(&url).await;
    assert_eq!(text(&mut page, "#stage").await, "Order placed");
    assert_eq!(lines_after_connecting(&mut page).await, 1);
    // Connect again (a second visit): the stream resends the current stage; no new line.
    page.goto(&url).await;
    assert_eq!(
        lines_after_connecting(&mut page).await,
        1,
        "a phantom line on the second visit"
    );
    assert_eq!(count(&mut page, ".progress li").await, 6);
    assert_eq!(count(&mut page, ".progress li.done").await, 1);
    assert_eq!(count(&mut page, "#print-slip").await, 0);
    assert_eq!(count(&mut page, "#cancel").await, 1);
    let due = text(&mut page, "#amount-due").await;
    assert!(due.contains('¥'), "{due}");
    assert!(
        text(&mut page, "main")
            .await
            .contains("Mon–Fri 10:00–20:00"),
        "the counter's opening hours"
    );
    check_both_sizes(&mut page, "status-placed").await;

    // The lab receives it: "Print the slip" appears live, with one more line.
    lab_receives(&app, &order, "B0000457").await;
    page.wait_for(
        "the slip link to appear live",
        "document.querySelector('#print-slip') !== null",
    )
    .await;
    assert_eq!(text(&mut page, "#stage").await, "Received by the lab");
    assert_eq!(count(&mut page, "#log li").await, 2);
    let log = text(&mut page, "#log").await;
    assert!(log.contains("as reception B0000457"), "{log}");

    // Printing, said by the lab seven minutes ago: the line carries the lab's time, in Tokyo.
    let at = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() - 420, 0).unwrap();
    status(&app, LAB, &order, "printing", at, Value::Null).await;
    page.wait_for(
        "the printing line",
        "document.querySelectorAll('#log li').length === 3",
    )
    .await;
    let last = text(&mut page, "#log li:last-child").await;
    let local = reprint_ui::local_time(reprint_ui::Lang::En, chrono_tz::Asia::Tokyo, at);
    assert!(last.starts_with(&local), "{last} should start with {local}");
    assert!(!last.contains("internal words"), "{last}");
    assert_eq!(count(&mut page, "#cancel").await, 0, "too late to cancel");
    // Reconnecting now adds nothing either.
    page.goto(&url).await;
    assert_eq!(lines_after_connecting(&mut page).await, 3);

    // Ready at the counter with the counter's own amount due: lab ¥125 + counter ¥250.
    let mut due_lines = lab_charge()["lines"].as_array().unwrap().clone();
    due_lines
        .push(json!({"kind": "basic_charge", "description": "counter basic", "amount": yen(250)}));
    status(
        &app,
        COUNTER,
        &order,
        "ready_for_pickup",
        chrono::Utc::now(),
        json!({"lines": due_lines, "total": yen(375)}),
    )
    .await;
    page.wait_for(
        "ready for pickup",
        "document.querySelector('#stage').textContent.trim() === 'Ready for pickup'",
    )
    .await;
    let due = text(&mut page, "#amount-due").await;
    assert!(due.ends_with("¥375"), "{due}");
    let amount = text(&mut page, ".amount").await;
    assert!(
        amount.contains("Basic charge: 50% off")
            || amount.contains("Discount on Basic charge: 50% off"),
        "{amount}"
    );
    assert!(
        amount.contains("previous order here was on 18 Nov 2026"),
        "{amount}"
    );
    assert!(!amount.contains("JPY"), "{amount}");
    check_both_sizes(&mut page, "status-ready").await;

    // The slip: reception and registration numbers, a QR code, the amount, one A4 page.
    page.goto(&format!("{}/orders/{order}/slip", app.base))
        .await;
    assert_eq!(text(&mut page, "#reception").await, "B0000457");
    assert_eq!(text(&mut page, "#registration").await, "A0000001");
    assert_eq!(count(&mut page, ".qr svg").await, 1);
    assert!(text(&mut page, "#amount-due").await.ends_with("¥375"));
    let slip = text(&mut page, "main").await;
    assert!(slip.contains("1-2-3 Ginza, Tokyo"), "{slip}");
    assert!(
        !slip.contains(".000") && !slip.contains("T0"),
        "no raw times: {slip}"
    );
    check_both_sizes(&mut page, "slip").await;
    let pdf = page
        .call(
            "Page.printToPDF",
            json!({"paperWidth": 8.27, "paperHeight": 11.69, "printBackground": true,
                   "preferCSSPageSize": true}),
        )
        .await;
    let pdf = base64_decode(pdf["data"].as_str().unwrap());
    let pdf_text = String::from_utf8_lossy(&pdf);
    let pages = pdf_text.matches("/Type /Page").count() - pdf_text.matches("/Type /Pages").count();
    assert_eq!(pages, 1, "the slip prints on one A4 page");
    std::fs::write(std::env::temp_dir().join("reprint-orders-slip.pdf"), &pdf).unwrap();

    // The history: by reception number, the stage in words, the amount; then a re-order,
    // which shows the quote and waits for the confirmation.
    page.goto(&format!("{}/orders", app.base)).await;
    let list = text(&mut page, "#orders").await;
    assert!(list.contains("Reception B0000457"), "{list}");
    assert!(list.contains("Ready for pickup"), "{list}");
    assert!(list.contains("¥375"), "{list}");
    check_both_sizes(&mut page, "history").await;
    page.click(".reorder").await;
    page.wait_for(
        "the re-order confirmation",
        "location.pathname.endsWith('/reorder') && document.querySelector('#confirm-reorder') !== null",
    )
    .await;
    assert!(text(&mut page, "#amount-due").await.contains('¥'));
    check_both_sizes(&mut page, "reorder").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        tokio::time::timeout(
            Duration::from_millis(300),
            futures::StreamExt::next(&mut lab)
        )
        .await
        .is_err(),
        "nothing is ordered before the confirmation"
    );
    page.click("#confirm-reorder").await;
    page.wait_for(
        "the new order's page",
        &format!("location.pathname.startsWith('/orders/') && !location.pathname.includes('{order}') && document.readyState === 'complete'"),
    )
    .await;
    let again = next_order(&mut lab).await;
    let path = page.eval("location.pathname").await;
    assert_eq!(path, json!(format!("/orders/{}", again.order)));
    assert_eq!(again.items.len(), 1);
    assert_eq!(again.items[0].quantity, 2);
    let (_, v) = u.get(&format!("/api/v1/orders/{}", again.order)).await;
    assert_eq!(v["reorder_of"], json!(order));

    browser.close(&mut page).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_from_the_page_with_a_confirmation() {
    if !chromium_installed() {
        return;
    }
    let app = spawn().await;
    let _lab = serve_quotes(&app, LAB).await;
    let _counter = serve_quotes(&app, COUNTER).await;
    let mut lab = lab_orders(&app).await;
    let email = "cancel@example.com";
    let (u, order, _image) = placed_order(&app, &mut lab, email, 32).await;
    lab_receives(&app, &order, "B0000500").await;
    eventually("the slip", || async {
        let (_, v) = u.get(&format!("/api/v1/orders/{order}")).await;
        v["stage"] == "received"
    })
    .await;

    let dir = tempfile::tempdir().unwrap();
    let browser = Browser::launch(dir.path()).await;
    let mut page = browser.page().await;
    page.call("Page.enable", json!({})).await;
    page.call("Runtime.enable", json!({})).await;
    page.set_viewport(390, 844).await;
    page.log_in(&app.base, email, PASSWORD).await;
    page.goto(&format!("{}/orders/{order}", app.base)).await;
    assert_eq!(count(&mut page, "#print-slip").await, 1);
    // The button asks first: nothing is cancelled until the second press.
    page.click("#cancel").await;
    page.wait_for(
        "the confirmation",
        "document.querySelector('#cancel-yes').offsetHeight > 0",
    )
    .await;
    check_both_sizes(&mut page, "cancel-confirm").await;
    let (_, v) = u.get(&format!("/api/v1/orders/{order}")).await;
    assert_eq!(v["stage"], "received");
    page.click("#cancel-yes").await;
    page.wait_for(
        "the cancelled order",
        "document.querySelector('#ended') !== null",
    )
    .await;
    assert_eq!(text(&mut page, "#stage").await, "Cancelled");
    assert!(text(&mut page, "#ended").await.contains("cancelled"));
    assert_eq!(count(&mut page, "#print-slip").await, 0, "no slip to print");
    assert_eq!(count(&mut page, "#cancel").await, 0);
    assert!(
        text(&mut page, "#log")
            .await
            .contains("You cancelled the order.")
    );
    let (_, v) = u.get(&format!("/api/v1/orders/{order}")).await;
    assert_eq!(v["stage"], "cancelled");
    check_both_sizes(&mut page, "cancelled").await;
    // The slip of a cancelled order is gone, and says so.
    let r = u
        .http
        .get(u.url(&format!("/orders/{order}/slip")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("nothing to collect"));

    browser.close(&mut page).await;
}

/// The digital copy (issue 14; seed 000, claims 2, 18): ordered with the prints, the order page
/// says when it comes, and once the prints are ready for pickup a "Download your digital copy"
/// link appears live; it downloads a ZIP of the original with its print history. Before that
/// the download answers 409; to another user 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_digital_copy_link_appears_once_ready_and_downloads_the_originals() {
    if !chromium_installed() {
        return;
    }
    let app = spawn().await;
    let _lab = serve_quotes(&app, LAB).await;
    let _counter = serve_quotes(&app, COUNTER).await;
    let mut lab = lab_orders(&app).await;
    let email = "digital@example.com";
    let (u, order, image) = with_image(&app, email, 37).await;
    let req = json!({"lab": LAB, "counter": COUNTER, "digital_copy": true,
        "items": [{"image": image, "size": "L", "quantity": 1}]});
    let (s, v) = u
        .post_with(&format!("/api/v1/orders/{order}/submit"), &req, &order)
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(next_order(&mut lab).await.digital_copy);
    let download = format!("/api/v1/orders/{order}/digital-copy");
    let (s, v) = u.get(&download).await;
    assert_eq!(s, 409, "not before the prints are ready: {v}");
    assert_eq!(v["type"], "digital_copy_not_ready", "{v}");

    let dir = tempfile::tempdir().unwrap();
    let browser = Browser::launch(dir.path()).await;
    let mut page = browser.page().await;
    page.call("Page.enable", json!({})).await;
    page.call("Runtime.enable", json!({})).await;
    page.set_viewport(1280, 900).await;
    page.log_in(&app.base, email, PASSWORD).await;
    let url = format!("{}/orders/{order}", app.base);
    page.goto(&url).await;
    assert_eq!(count(&mut page, "#digital-copy").await, 0);
    assert!(
        text(&mut page, "#digital-copy-later")
            .await
            .contains("once the prints are ready"),
        "the page says when it comes"
    );

    lab_receives(&app, &order, "B0000458").await;
    let mut due_lines = lab_charge()["lines"].as_array().unwrap().clone();
    due_lines
        .push(json!({"kind": "basic_charge", "description": "counter basic", "amount": yen(250)}));
    status(
        &app,
        COUNTER,
        &order,
        "ready_for_pickup",
        chrono::Utc::now(),
        json!({"lines": due_lines, "total": yen(375)}),
    )
    .await;
    page.wait_for(
        "the download link to appear live",
        "document.querySelector('#digital-copy') !== null",
    )
    .await;
    assert_eq!(
        text(&mut page, "#digital-copy").await,
        "Download your digital copy"
    );
    assert_eq!(count(&mut page, "#digital-copy-later").await, 0);
    // The link as the browser follows it: the ZIP, for this user's session.
    let got = page
        .eval("(async () => { const a = document.querySelector('#digital-copy'); const r = await fetch(a.href); return r.status + ' ' + r.headers.get('content-type'); })()")
        .await;
    assert_eq!(got, json!("200 application/zip"));
    page.eval("document.querySelector('#digital-copy').scrollIntoView({block: 'center'}), true")
        .await;
    check_both_sizes(&mut page, "status-digital").await;

    // Its contents: the original unchanged, with this order's print in its history.
    let r = u
        .http
        .get(format!("{}{download}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let zip = r.bytes().await.unwrap().to_vec();
    let mut outer = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    assert_eq!(outer.len(), 1);
    let mut inner = Vec::new();
    std::io::Read::read_to_end(&mut outer.by_index(0).unwrap(), &mut inner).unwrap();
    let c = reprint_media::history::container::read_container(
        std::io::Cursor::new(inner),
        &reprint_media::Limits::default(),
    )
    .unwrap();
    assert_eq!(c.image_name, "beach.jpg");
    assert_eq!(reprint_domain::ImageId::of_bytes(&c.image).to_hex(), image);
    let history = serde_json::to_string(&c.history).unwrap();
    assert!(history.contains("B0000458"), "{history}");

    // Someone else: not found.
    let other = sign_up(&app, "someone-else@example.com").await;
    let (s, _) = other.get(&download).await;
    assert_eq!(s, 404);
    browser.close(&mut page).await;
}
