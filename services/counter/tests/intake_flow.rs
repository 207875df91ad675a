//! The intake page as counter staff use it, on a real NATS and a real SQLite store, the lab
//! played by the test (its order inbox and its quote on request/reply): "Price it" shows the
//! counter's and the lab's charges, the total and the ready-by; "Take in" makes exactly one
//! reception with the sizes and prints chosen per photo (prefilled from the card's DPOF); a
//! damaged file is listed and left out; the same card again within the hour is warned.

mod common;

use std::time::Duration;

use common::*;
use reprint_domain::protocol::OrderPlaced;
use reprint_testkit::NatsServer;

/// The lab's price per print in this test.
const LAB_UNIT: i64 = 30;

/// The card of Fig. 2: three photos, the camera's print order chose 1 x IMG_0001 and
/// 3 x IMG_0007.
fn card() -> Vec<u8> {
    zip_of(&[
        ("DCIM/100CANON/IMG_0001.JPG", jpeg(1)),
        ("DCIM/100CANON/IMG_0007.JPG", jpeg(7)),
        ("DCIM/100CANON/IMG_0009.JPG", jpeg(9)),
        ("MISC/AUTPRINT.MRK", DPOF.as_bytes().to_vec()),
    ])
}

/// A JPEG whose header reads but whose pixels do not decode (SOF0 made SOF9).
fn damaged_jpeg(seed: u64) -> Vec<u8> {
    let mut broken = jpeg(seed);
    let sof = broken
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline JPEG has SOF0");
    broken[sof + 1] = 0xC9;
    broken
}

fn page_form(counter: &TestCounter, step: &str) -> reqwest::multipart::Form {
    customer_fields(
        reqwest::multipart::Form::new(),
        "Hanako Yamada",
        "03-1234-5678",
    )
    .text("csrf", counter.csrf.clone())
    .text("quantity", "1")
    .text("step", step.to_string())
}

/// The value of the hidden input `name` of a page.
fn hidden(page: &str, name: &str) -> String {
    let at = page
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no {name} on the page: {page}"));
    let rest = &page[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// The start tag of the element with `id`.
fn tag<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}: {page}"));
    let start = page[..at].rfind('<').unwrap();
    let end = at + page[at..].find('>').unwrap();
    &page[start..=end]
}

/// The text of the element with `id`, tags removed.
fn text(page: &str, id: &str) -> String {
    let at = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}: {page}"));
    let rest = &page[at..];
    let body = &rest[rest.find('>').unwrap() + 1..];
    let mut out = String::new();
    let mut depth_tag = false;
    for c in body.chars().take(2000) {
        match c {
            '<' => depth_tag = true,
            '>' => depth_tag = false,
            c if !depth_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn price_first_then_take_in_with_per_photo_choices_and_the_same_card_warned() {
    price_first_flow(None).await;
}

#[tokio::test]
async fn postgres_price_first_then_take_in_and_the_same_card_warned() {
    let db = reprint_testkit::TestPostgres::create().await;
    price_first_flow(Some(&db.url)).await;
}

async fn price_first_flow(store: Option<&str>) {
    let nats = NatsServer::start();
    let lab = LabPeer::start(&nats.url).await;
    let _quotes = serve_lab_quotes(&nats.url, LabQuotes::Itemised(LAB_UNIT)).await;
    let counter = spawn(&nats.url, store, "").await;

    // 1. Price it: the card is read, the grid prefilled from its print order.
    let (status, _, page) = post_intake_page(
        &counter,
        page_form(&counter, "price").part("medium", zip_part(card())),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let token = hidden(&page, "token");
    assert!(
        tag(&page, "pick-0").contains("checked"),
        "DPOF chose IMG_0001"
    );
    assert!(
        tag(&page, "pick-1").contains("checked"),
        "DPOF chose IMG_0007"
    );
    assert!(
        !tag(&page, "pick-2").contains("checked"),
        "DPOF did not choose IMG_0009"
    );
    assert!(tag(&page, "qty-1").contains("value=\"3\""), "3 x IMG_0007");
    assert!(!page.contains("id=\"take-in\"") || page.contains("id=\"price\""));
    // The price: the counter's basic charge (first order here), the lab's 4 prints, the total.
    let price = text(&page, "price");
    assert!(price.contains("250"), "the counter's charge: {price}");
    // The lab's lines: 1 x IMG_0001 and 3 x IMG_0007 at its own price.
    assert!(
        price.contains(&format!("{}", LAB_UNIT)) && price.contains(&format!("{}", 3 * LAB_UNIT)),
        "the lab's charge: {price}"
    );
    let total = text(&page, "total");
    assert!(
        total.contains(&(250 + 4 * LAB_UNIT).to_string()),
        "the total: {total}"
    );
    assert!(!text(&page, "ready-by").trim().is_empty(), "a ready-by");
    assert!(page.contains("id=\"take-in\""), "Take in after the price");
    // The thumbnails are small JPEGs of the held card.
    let thumb = counter
        .http
        .get(format!("{}/intake/thumb/{token}/0", counter.base))
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.status(), 200);
    let bytes = thumb.bytes().await.unwrap();
    assert_eq!(&bytes[..2], &[0xFF, 0xD8], "a JPEG thumbnail");

    // 2. Take in, the card not handed in again: IMG_0009 added as two 2L prints.
    let choose = |form: reqwest::multipart::Form| {
        form.text("token", token.clone())
            .text("grid", "1")
            .text("pick-0", "1")
            .text("size-0", "L")
            .text("qty-0", "1")
            .text("pick-1", "1")
            .text("size-1", "L")
            .text("qty-1", "3")
            .text("pick-2", "1")
            .text("size-2", "2L")
            .text("qty-2", "2")
    };
    let (status, url, page) = post_intake_page(&counter, choose(page_form(&counter, "take"))).await;
    assert_eq!(status, 200, "{page}");
    assert!(url.ends_with("/slip/X0000001"), "{url}");
    let got = lab.receive(1, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 1, "the lab got the order");
    let placed: OrderPlaced = serde_json::from_value(got[0].2.clone()).unwrap();
    let lines: Vec<(String, String, u32)> = placed
        .items
        .iter()
        .map(|i| (i.name.clone(), i.size.to_string(), i.quantity))
        .collect();
    assert_eq!(
        lines,
        vec![
            ("IMG_0001.JPG".to_string(), "L".to_string(), 1),
            ("IMG_0007.JPG".to_string(), "L".to_string(), 3),
            ("IMG_0009.JPG".to_string(), "2L".to_string(), 2),
        ]
    );
    // Exactly one reception.
    let (s, _) = counter.get("/api/v1/pickups/X0000001").await;
    assert_eq!(s, 200);
    let (s, _) = counter.get("/api/v1/pickups/X0000002").await;
    assert_eq!(s, 404);

    // 3. The same card again: priced, then "Take in" is warned and nothing is taken.
    let (status, _, page) = post_intake_page(
        &counter,
        page_form(&counter, "price").part("medium", zip_part(card())),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let token2 = hidden(&page, "token");
    let again = |form: reqwest::multipart::Form| {
        form.text("token", token2.clone())
            .text("grid", "1")
            .text("pick-0", "1")
            .text("pick-1", "1")
            .text("pick-2", "1")
            .text("size-2", "2L")
            .text("qty-1", "3")
            .text("qty-2", "2")
    };
    let (status, _, page) = post_intake_page(&counter, again(page_form(&counter, "take"))).await;
    assert_eq!(status, 409, "{page}");
    assert!(
        text(&page, "repeat").contains("X0000001"),
        "the same card is warned, naming its reception"
    );
    // What was typed is kept.
    assert!(tag(&page, "name").contains("Hanako Yamada"));
    assert!(tag(&page, "qty-2").contains("value=\"2\""));
    let (s, _) = counter.get("/api/v1/pickups/X0000002").await;
    assert_eq!(s, 404, "nothing taken in on a warning");
    // Staff confirm: taken in as a second order.
    let (status, url, page) = post_intake_page(
        &counter,
        again(page_form(&counter, "take")).text("again", "1"),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(url.ends_with("/slip/X0000002"), "{url}");
}

/// A card priced, then the terminal restarted before "Take in": the card is still held (the
/// store and the spool keep it), its thumbnails show, and it is taken in once.
#[tokio::test]
async fn a_held_card_outlives_a_restart_of_the_terminal() {
    let nats = NatsServer::start();
    let lab = LabPeer::start(&nats.url).await;
    let _quotes = serve_lab_quotes(&nats.url, LabQuotes::Itemised(LAB_UNIT)).await;
    let counter = spawn(&nats.url, None, "").await;
    let (status, _, page) = post_intake_page(
        &counter,
        page_form(&counter, "price").part("medium", zip_part(card())),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let token = hidden(&page, "token");

    let counter = counter.restart().await;
    let thumb = counter
        .http
        .get(format!("{}/intake/thumb/{token}/1", counter.base))
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.status(), 200, "the thumbnail after the restart");
    assert_eq!(&thumb.bytes().await.unwrap()[..2], &[0xFF, 0xD8]);
    let (status, url, page) = post_intake_page(
        &counter,
        page_form(&counter, "take")
            .text("token", token.clone())
            .text("grid", "1")
            .text("pick-1", "1")
            .text("size-1", "L")
            .text("qty-1", "3"),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        url.ends_with("/slip/X0000001"),
        "taken in after the restart: {url}"
    );
    let got = lab.receive(1, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 1, "the lab got the order");
    let placed: OrderPlaced = serde_json::from_value(got[0].2.clone()).unwrap();
    assert_eq!(
        placed
            .items
            .iter()
            .map(|i| (i.name.as_str(), i.quantity))
            .collect::<Vec<_>>(),
        vec![("IMG_0007.JPG", 3)],
        "the photo chosen, from the card held across the restart"
    );
    // Taken in, it is held no more.
    let (status, _, page) = post_intake_page(
        &counter,
        page_form(&counter, "take").text("token", token.clone()),
    )
    .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("no longer held"), "{page}");
}

#[tokio::test]
async fn a_damaged_file_is_listed_and_the_rest_taken_in() {
    let nats = NatsServer::start();
    let lab = LabPeer::start(&nats.url).await;
    let _quotes = serve_lab_quotes(&nats.url, LabQuotes::Itemised(LAB_UNIT)).await;
    let counter = spawn(&nats.url, None, "").await;
    let medium = zip_of(&[
        ("DCIM/100CANON/IMG_0001.JPG", jpeg(1)),
        ("DCIM/100CANON/IMG_0002.JPG", damaged_jpeg(2)),
        ("DCIM/100CANON/IMG_0003.JPG", jpeg(3)),
    ]);
    let (status, _, page) = post_intake_page(
        &counter,
        page_form(&counter, "price").part("medium", zip_part(medium)),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let skipped = text(&page, "skipped");
    assert!(skipped.contains("IMG_0002.JPG"), "{skipped}");
    assert!(page.contains("id=\"pick-1\""), "two photos in the grid");
    assert!(!page.contains("id=\"pick-2\""), "the damaged one left out");
    let token = hidden(&page, "token");
    let (status, url, page) = post_intake_page(
        &counter,
        page_form(&counter, "take")
            .text("token", token)
            .text("grid", "1")
            .text("pick-0", "1")
            .text("pick-1", "1"),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(url.ends_with("/slip/X0000001"), "{url}");
    let got = lab.receive(1, Duration::from_secs(20)).await;
    let placed: OrderPlaced = serde_json::from_value(got[0].2.clone()).unwrap();
    let names: Vec<&str> = placed.items.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["IMG_0001.JPG", "IMG_0003.JPG"]);
}

#[tokio::test]
async fn a_card_in_the_reader_is_read_on_demand_and_a_refusal_keeps_the_form() {
    let nats = NatsServer::start();
    let lab = LabPeer::start(&nats.url).await;
    let _quotes = serve_lab_quotes(&nats.url, LabQuotes::Itemised(LAB_UNIT)).await;
    // The terminal's card reader: a folder where the card is mounted (none inserted yet).
    let reader = tempfile::tempdir().unwrap();
    let mount = reader.path().join("card");
    let mount_text = mount.display().to_string();
    let counter = spawn_edited(&nats.url, None, "", |t| {
        t.replacen(
            "data_dir = ",
            &format!("medium_dir = \"{mount_text}\"\ndata_dir = "),
            1,
        )
    })
    .await;
    let (status, _, page) = post_intake_page(&counter, page_form(&counter, "card")).await;
    assert_eq!(status, 422, "no card in the reader: {page}");
    assert!(page.contains("role=\"alert\""), "said in words: {page}");
    assert!(tag(&page, "name").contains("Hanako Yamada"), "typed kept");

    // The card inserted: read again on demand, its print order honoured.
    std::fs::create_dir_all(mount.join("DCIM/100CANON")).unwrap();
    std::fs::create_dir_all(mount.join("MISC")).unwrap();
    for seed in [1u64, 7, 9] {
        std::fs::write(
            mount.join(format!("DCIM/100CANON/IMG_{seed:04}.JPG")),
            jpeg(seed),
        )
        .unwrap();
    }
    std::fs::write(mount.join("MISC/AUTPRINT.MRK"), DPOF).unwrap();
    let (status, _, page) = post_intake_page(&counter, page_form(&counter, "card")).await;
    assert_eq!(status, 200, "{page}");
    assert!(tag(&page, "pick-0").contains("checked"));
    assert!(tag(&page, "qty-1").contains("value=\"3\""));
    assert!(!tag(&page, "pick-2").contains("checked"));
    assert!(page.contains("id=\"total\""), "priced");
    let token = hidden(&page, "token");

    // A refusal (the name left out) keeps the grid and the card: nothing picked again.
    let nameless = reqwest::multipart::Form::new()
        .text("csrf", counter.csrf.clone())
        .text("telephone", "03-1234-5678")
        .text("lab", "lab-a")
        .text("size", "L")
        .text("quantity", "1")
        .text("step", "take")
        .text("token", token.clone())
        .text("grid", "1")
        .text("pick-1", "1")
        .text("qty-1", "4");
    let (status, _, page) = post_intake_page(&counter, nameless).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("role=\"alert\""));
    assert_eq!(hidden(&page, "token"), token, "the card is still held");
    assert!(tag(&page, "qty-1").contains("value=\"4\""), "choices kept");
    assert!(tag(&page, "telephone").contains("03-1234-5678"));
    let (status, url, page) = post_intake_page(
        &counter,
        page_form(&counter, "take")
            .text("token", token)
            .text("grid", "1")
            .text("pick-1", "1")
            .text("qty-1", "4"),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(url.ends_with("/slip/X0000001"), "{url}");
    let got = lab.receive(1, Duration::from_secs(20)).await;
    let placed: OrderPlaced = serde_json::from_value(got[0].2.clone()).unwrap();
    let lines: Vec<(&str, u32)> = placed
        .items
        .iter()
        .map(|i| (i.name.as_str(), i.quantity))
        .collect();
    assert_eq!(lines, [("IMG_0007.JPG", 4)]);
}

#[tokio::test]
async fn without_an_answer_from_the_lab_the_counter_prices_its_own_part_and_still_takes_in() {
    let nats = NatsServer::start();
    let lab = LabPeer::start(&nats.url).await;
    // Nobody answers the lab's quote.
    let counter = spawn(&nats.url, None, "").await;
    let (status, _, page) = post_intake_page(
        &counter,
        page_form(&counter, "price").part("medium", zip_part(card())),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"lab-unpriced\""), "said in words");
    assert!(
        !page.contains("id=\"total\""),
        "no total without the lab's part"
    );
    assert!(
        text(&page, "price").contains("250"),
        "the counter's own charge"
    );
    let token = hidden(&page, "token");
    let (status, url, page) = post_intake_page(
        &counter,
        page_form(&counter, "take")
            .text("token", token)
            .text("grid", "1")
            .text("pick-0", "1")
            .text("qty-0", "2"),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(url.ends_with("/slip/X0000001"), "{url}");
    assert_eq!(lab.receive(1, Duration::from_secs(20)).await.len(), 1);
}
