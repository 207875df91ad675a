//! The customers' files at the counter (issue 15, Figs. 8 and 9), on a real NATS and a real
//! SQLite store, the lab played by the test: a registration number given with another
//! telephone is a question for staff instead of a new registration; "the same person" takes
//! the order on the file with the Fig. 9 discount, "register as new" makes a new file; the
//! search finds the file by name, telephone or number, and the file lists its receptions.

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::{Browser, Page, chromium_installed};
use common::*;
use reprint_domain::RegistrationNumber;
use reprint_testkit::NatsServer;
use serde_json::json;

/// "Take in" straight away: a card of one photo (a different one each time).
fn take_form(
    counter: &TestCounter,
    number: Option<&str>,
    name: &str,
    phone: &str,
    seed: u64,
) -> reqwest::multipart::Form {
    let form = customer_fields(reqwest::multipart::Form::new(), name, phone)
        .text("csrf", counter.csrf.clone())
        .text("quantity", "1")
        .text("step", "take")
        .part(
            "medium",
            zip_part(zip_of(&[("DCIM/100CANON/IMG_0001.JPG", jpeg(seed))])),
        );
    match number {
        Some(n) => form.text("registration_number", n.to_string()),
        None => form,
    }
}

async fn get_page(counter: &TestCounter, path: &str) -> (u16, String) {
    let res = counter
        .http
        .get(format!("{}{path}", counter.base))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// The question page's answer form sent back with `choice`, as staff's button does.
fn answer(page: &str, choice: &str) -> reqwest::multipart::Form {
    let form_at = page.find("id=\"answer\"").expect("the answer form");
    let mut form = reqwest::multipart::Form::new();
    let mut rest = &page[form_at..page[form_at..].find("</form>").unwrap() + form_at];
    while let Some(at) = rest.find("<input type=\"hidden\" name=\"") {
        rest = &rest[at + 27..];
        let name = &rest[..rest.find('"').unwrap()];
        let v = &rest[rest.find("value=\"").unwrap() + 7..];
        let value = &v[..v.find('"').unwrap()];
        form = form.text(name.to_string(), value.to_string());
    }
    form.text("number_choice", choice.to_string())
}

/// The counter's charges of `number`'s receptions, in order.
async fn charges(counter: &TestCounter, number: &str) -> Vec<i64> {
    let c = &counter.counter;
    let number = RegistrationNumber::parse(&c.rules().registration_number, number).unwrap();
    let mut tx = c.store.begin().await.unwrap();
    let file = c.files.load(&mut tx, &number).await.unwrap();
    tx.rollback().await.unwrap();
    file.file
        .receptions
        .iter()
        .map(|r| r.charge.total.minor)
        .collect()
}

#[tokio::test]
async fn another_telephone_asks_staff_and_the_file_is_found_and_listed() {
    let nats = NatsServer::start();
    let _lab = LabPeer::start(&nats.url).await;
    let _quotes = serve_lab_quotes(&nats.url, LabQuotes::Total(0)).await;
    let counter = spawn(&nats.url, None, "").await;

    // A first visit: registered as W0000001, the basic charge.
    let (status, url, page) = post_intake_page(
        &counter,
        take_form(&counter, None, "Hanako Yamada", "03-1234-5678", 1),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(url.ends_with("/slip/X0000001"), "{url}");
    assert_eq!(charges(&counter, "W0000001").await, vec![250]);

    // W0000001 with another telephone: staff are asked, nothing is registered.
    let (status, _, page) = post_intake_page(
        &counter,
        take_form(
            &counter,
            Some("W0000001"),
            "Hanako Yamada",
            "090-0000-1111",
            2,
        ),
    )
    .await;
    assert_eq!(status, 409, "a question, not an order: {page}");
    assert!(page.contains("id=\"question\""), "{page}");
    assert!(
        page.contains("Hanako Yamada") && page.contains("0312345678"),
        "who W0000001 is: {page}"
    );
    assert!(page.contains("09000001111"), "the telephone given: {page}");
    let (status, _) = get_page(&counter, "/customers/W0000002").await;
    assert_eq!(status, 404, "no new file was made");

    // "The same person": the order is taken on W0000001 with the Fig. 9 discount.
    let (status, url, page) = post_intake_page(&counter, answer(&page, "same")).await;
    assert_eq!(status, 200, "{page}");
    assert!(url.ends_with("/slip/X0000002"), "{url}");
    assert_eq!(
        charges(&counter, "W0000001").await,
        vec![250, 0],
        "the return visit within a month is free (Fig. 9)"
    );

    // Another person with that number: "register as new" makes W0000002.
    let (status, _, page) = post_intake_page(
        &counter,
        take_form(&counter, Some("W0000001"), "Taro Sato", "080-2222-3333", 3),
    )
    .await;
    assert_eq!(status, 409, "{page}");
    let (status, url, page) = post_intake_page(&counter, answer(&page, "new")).await;
    assert_eq!(status, 200, "{page}");
    assert!(url.ends_with("/slip/X0000003"), "{url}");
    assert_eq!(charges(&counter, "W0000002").await, vec![250]);
    assert_eq!(charges(&counter, "W0000001").await, vec![250, 0]);

    // The search finds the file by number, telephone and name (a scanner types the number).
    for q in [
        "W0000001",
        "w0000001",
        "03-1234-5678",
        "0312345678",
        "hanako",
        "Yamada",
    ] {
        let (status, page) = get_page(&counter, &format!("/customers?q={q}")).await;
        assert_eq!(status, 200, "{q}: {page}");
        assert!(
            page.contains("href=\"/customers/W0000001\""),
            "{q} finds W0000001: {page}"
        );
        assert!(
            !page.contains("href=\"/customers/W0000002\""),
            "{q} does not find Taro: {page}"
        );
    }
    let (_, page) = get_page(&counter, "/customers?q=nobody").await;
    assert!(page.contains("id=\"none\""), "{page}");
    let (_, page) = get_page(&counter, "/customers").await;
    assert!(
        page.contains("autofocus"),
        "the search field is focused for a scanner"
    );

    // The file: the user ID area and its receptions, and a new intake for this customer.
    let (status, page) = get_page(&counter, "/customers/W0000001").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"user-id\"") && page.contains("0312345678"));
    assert!(
        page.contains("X0000001") && page.contains("X0000002"),
        "{page}"
    );
    assert!(
        !page.contains("X0000003"),
        "Taro's reception is not Hanako's"
    );
    assert!(page.contains("href=\"/intake?registration_number=W0000001\""));
    let (status, page) = get_page(&counter, "/intake?registration_number=W0000001").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("value=\"W0000001\""),
        "the intake form prefilled"
    );
    let (status, _) = get_page(&counter, "/customers/nonsense").await;
    assert_eq!(status, 404);
}

const W: u32 = 1024;
const H: u32 = 768;

/// Fits the screen, 44 px targets, axe-core clean, `selector` on the first screen; a PNG.
async fn check_screen(page: &mut Page, name: &str, selector: &str) {
    page.assert_fits(name).await;
    let small = page.small_touch_targets().await;
    assert!(small.is_empty(), "{name}: small touch targets: {small:?}");
    page.assert_accessible(name).await;
    page.screenshot(&format!("counter-{name}")).await;
    let v = page
        .eval(&format!(
            "(() => {{ window.scrollTo(0, 0); const e = document.querySelector({}); if (!e) return null; const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= {H} && r.right <= {W}; }})()",
            json!(selector)
        ))
        .await;
    assert_eq!(
        v,
        json!(true),
        "{name}: {selector} on the first screen at {W}x{H}"
    );
}

#[tokio::test]
async fn the_customers_pages_and_the_question_on_a_1024_by_768_terminal() {
    if !chromium_installed() {
        return;
    }
    let nats = NatsServer::start();
    let _lab = LabPeer::start(&nats.url).await;
    let _quotes = serve_lab_quotes(&nats.url, LabQuotes::Total(0)).await;
    let counter = spawn(&nats.url, None, "").await;
    let (status, _, page) = post_intake_page(
        &counter,
        take_form(&counter, None, "Hanako Yamada", "03-1234-5678", 1),
    )
    .await;
    assert_eq!(status, 200, "{page}");

    let dir = tempfile::tempdir().unwrap();
    let card = dir.path().join("card.zip");
    std::fs::write(&card, zip_of(&[("DCIM/100CANON/IMG_0002.JPG", jpeg(2))])).unwrap();
    let browser = Browser::launch(dir.path()).await;
    let mut page = browser.page().await;
    page.set_viewport(W, H).await;
    let base = counter.base.clone();
    page.log_in(&base, "tanaka", PASSWORD).await;

    for lang in ["en", "ja"] {
        page.call(
            "Page.navigate",
            json!({"url": format!("{base}/language?to={lang}&back=/customers")}),
        )
        .await;
        page.wait_for(
            "the customers page",
            &format!(
                "location.pathname === '/customers' && document.documentElement.lang === '{lang}' && document.querySelector('#q').autofocus"
            ),
        )
        .await;
        check_screen(&mut page, &format!("customers-{lang}"), "#q").await;
        // A scanner types the number and Enter.
        page.fill("#q", "W0000001").await;
        page.eval("document.querySelector('#q').form.requestSubmit(), true")
            .await;
        page.wait_for(
            "the file found",
            "!!document.querySelector('#found a[href=\"/customers/W0000001\"]') && document.readyState === 'complete'",
        )
        .await;
        page.click("#found a").await;
        page.wait_for(
            "the customer's file",
            "location.pathname === '/customers/W0000001' && document.readyState === 'complete'",
        )
        .await;
        check_screen(&mut page, &format!("customer-file-{lang}"), "#new-intake").await;
        check_screen(
            &mut page,
            &format!("customer-file-{lang}"),
            "#receptions tbody tr",
        )
        .await;
        let rows = page
            .eval("document.querySelectorAll('#receptions tbody tr').length")
            .await;
        assert_eq!(rows, json!(1), "one reception");
    }

    // A phone in staff's hand: the file fits its width.
    page.set_viewport(390, 844).await;
    page.assert_fits("customer-file-390").await;
    page.screenshot("counter-customer-file-390").await;
    page.set_viewport(W, H).await;

    // A new intake for this customer, with another telephone: the question, then the file.
    page.call(
        "Page.navigate",
        json!({"url": format!("{base}/language?to=en&back=/customers/W0000001")}),
    )
    .await;
    page.wait_for("the file", "!!document.querySelector('#new-intake')")
        .await;
    page.click("#new-intake").await;
    page.wait_for(
        "the prefilled intake",
        "location.pathname === '/intake' && !!document.querySelector('#registration_number') && document.querySelector('#registration_number').value === 'W0000001'",
    )
    .await;
    page.fill("#telephone", "090-0000-1111").await;
    page.fill("#name", "Hanako Yamada").await;
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
        "the question",
        "!!document.querySelector('#question') && document.readyState === 'complete'",
    )
    .await;
    check_screen(&mut page, "number-question-en", "#new").await;
    page.click("#same").await;
    page.wait_for(
        "the priced form on W0000001",
        "!!document.querySelector('#take-in') && document.querySelector('#registration_number').value === 'W0000001' && document.readyState === 'complete'",
    )
    .await;
    let total = page
        .eval("document.querySelector('#total').textContent")
        .await;
    assert!(
        total.as_str().unwrap_or("").ends_with("¥0"),
        "W0000001's return visit within a month: nothing to pay here (Fig. 9): {total}"
    );
    browser.close(&mut page).await;
}
