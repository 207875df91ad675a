//! The digital copy on a medium at the counter (issue 20; seed 000, claims 2 and 18: "a digital
//! media containing the image"). A counter with a writer sells "copy on USB stick" at intake:
//! one line of its charge at the configured price, and when the order is taken in, one job
//! folder in the writer's hot folder with the originals byte for byte, the digital copy's ZIP
//! (each original's container with its print history) and a ticket, written once even across a
//! restart. A counter without a writer refuses the medium in words. Real NATS and SQLite; the
//! lab's quote is answered by the test.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use reprint_testkit::NatsServer;

const WRITER_PRICE: i64 = 1200;

fn writer_section(hot: &Path) -> String {
    format!(
        "\n[writer]\nname = \"Ginza disc and USB writer\"\nhot_folder = \"{}\"\nmedia = {{ cd = 500, usb_stick = {WRITER_PRICE} }}\n",
        hot.display()
    )
}

fn card(seed: u64) -> (Vec<(String, Vec<u8>)>, reqwest::multipart::Form) {
    let photos: Vec<(String, Vec<u8>)> = (0..3)
        .map(|i| {
            (
                format!("IMG_000{}.JPG", i + 1),
                jpeg(seed + u64::try_from(i).unwrap()),
            )
        })
        .collect();
    let entries: Vec<(String, Vec<u8>)> = photos
        .iter()
        .map(|(n, b)| (format!("DCIM/100CANON/{n}"), b.clone()))
        .collect();
    let refs: Vec<(&str, Vec<u8>)> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    let form = customer_fields(
        reqwest::multipart::Form::new(),
        "Hanako Yamada",
        "03-1234-5678",
    )
    .part("medium", zip_part(zip_of(&refs)));
    (photos, form)
}

async fn post(
    counter: &TestCounter,
    path: &str,
    form: reqwest::multipart::Form,
) -> (u16, serde_json::Value) {
    let res = counter
        .http
        .post(format!("{}{path}", counter.base))
        .header("x-csrf-token", &counter.csrf)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

/// The job folders in the hot folder (and anything half-written, named with a dot).
fn listing(hot: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(hot)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn wait_for_job(counter: &TestCounter, reception: &str, state: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (s, v) = counter.get(&format!("/api/v1/pickups/{reception}")).await;
        if s == 200 && v["medium_copy"]["state"] == state {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "the medium of {reception} never became {state}: {s} {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn read_zip_entry(zip: &[u8], name: &str) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).unwrap();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_name(name).unwrap(), &mut out).unwrap();
    out
}

#[tokio::test]
async fn a_card_with_a_copy_on_usb_is_charged_and_written_once() {
    let nats = NatsServer::start();
    let _lab = serve_lab_quotes(&nats.url, LabQuotes::Total(30)).await;
    let hot_dir = tempfile::tempdir().unwrap();
    let hot: PathBuf = hot_dir.path().join("writer");
    let section = writer_section(&hot);
    let counter = spawn_edited(&nats.url, None, "", |t| format!("{t}{section}")).await;

    // The intake page offers the medium at its price.
    let page = counter.page("/intake", "en").await;
    assert!(
        page.contains("name=\"copy_on\"") && page.contains("USB stick"),
        "{page}"
    );

    // The catalog lists the media as products, at their prices.
    let client = async_nats::connect(&nats.url).await.unwrap();
    let catalog: reprint_domain::protocol::CatalogReply = counter_rpc(
        &client,
        reprint_bus::subjects::RpcMethod::Catalog,
        &serde_json::json!({}),
    )
    .await
    .unwrap();
    let stick = catalog
        .products
        .iter()
        .find(|p| p.code == "digital-copy:usb_stick")
        .expect("the stick in the catalog");
    assert_eq!(stick.unit_price.minor, WRITER_PRICE);
    assert!(catalog.products.iter().any(|p| p.code == "digital-copy:cd"));
    assert!(
        !catalog
            .products
            .iter()
            .any(|p| p.code == "digital-copy:dvd")
    );

    // The price before the order: 250 (the basic charge) + 1,200 (the stick); the lab's 3 x 30.
    let (_, form) = card(100);
    let (s, q) = post(
        &counter,
        "/api/v1/intake/quote",
        form.text("copy_on", "usb_stick"),
    )
    .await;
    assert_eq!(s, 200, "{q}");
    assert_eq!(q["counter_charge"]["total"], 250 + WRITER_PRICE, "{q}");
    assert_eq!(q["lab_charge"]["total"], 90, "{q}");
    assert_eq!(q["total"], 250 + WRITER_PRICE + 90, "{q}");

    // Taken in: the same charge, with the stick's line in words.
    let (photos, form) = card(100);
    let (s, taken) = counter.intake(form.text("copy_on", "usb_stick")).await;
    assert_eq!(s, 201, "{taken}");
    assert_eq!(taken["reception_number"], "X0000001", "{taken}");
    assert_eq!(taken["copy_on"], "usb_stick", "{taken}");
    assert_eq!(
        taken["counter_charge"]["total"],
        250 + WRITER_PRICE,
        "{taken}"
    );
    let lines = taken["counter_charge"]["lines"].as_array().unwrap();
    assert!(
        lines.iter().any(|l| l["amount"] == WRITER_PRICE
            && l["description"]
                .as_str()
                .unwrap_or_default()
                .contains("on a USB stick")),
        "{taken}"
    );

    // Written for the writer: exactly one job folder, whole.
    let view = wait_for_job(&counter, "X0000001", "written").await;
    assert!(
        view["medium_copy"]["words"]
            .as_str()
            .unwrap_or_default()
            .contains("written for the writer"),
        "{view}"
    );
    assert_eq!(listing(&hot), vec!["X0000001-usb_stick".to_string()]);
    let job = hot.join("X0000001-usb_stick");
    // The originals as they came from the card, byte for byte.
    for (i, (name, bytes)) in photos.iter().enumerate() {
        let on_medium =
            std::fs::read(job.join("PHOTOS").join(format!("{}-{name}", i + 1))).unwrap();
        assert_eq!(&on_medium, bytes, "{name} is unchanged on the medium");
    }
    // The digital copy's ZIP: each original in its container with its print history here.
    let zip = std::fs::read(job.join("digital-copy-X0000001.zip")).unwrap();
    for (i, (name, bytes)) in photos.iter().enumerate() {
        let inner = read_zip_entry(&zip, &format!("{}-{name}.zip", i + 1));
        let container = reprint_media::history::container::read_container(
            std::io::Cursor::new(inner),
            &reprint_media::Limits::default(),
        )
        .unwrap();
        assert_eq!(&container.image, bytes);
        let entry = &container.history.entries[0];
        assert_eq!(entry.site, "counter-ginza");
        assert_eq!(entry.reception_number, "X0000001");
        assert_eq!(entry.registration_number, "W0000001");
    }
    // The ticket: the medium, the volume label, every file with its SHA-256.
    let ticket: serde_json::Value =
        serde_json::from_slice(&std::fs::read(job.join("ticket.json")).unwrap()).unwrap();
    assert_eq!(ticket["medium"], "usb_stick", "{ticket}");
    assert_eq!(ticket["volume_label"], "X0000001", "{ticket}");
    assert_eq!(
        ticket["files"].as_array().map(Vec::len),
        Some(4),
        "{ticket}"
    );
    let created = ticket["created"].clone();

    // The slip and the pickup page say so, in English and in Japanese.
    let slip = counter.page("/slip/X0000001", "en").await;
    assert!(slip.contains("written for the writer"), "{slip}");
    let ja = counter.page("/pickup/X0000001", "ja").await;
    assert!(ja.contains("書き出し済み"), "{ja}");

    // A crash after the folder was renamed into place but before it was recorded: the job is
    // waiting again in the store. After a restart it is found there, never written twice.
    {
        let mut tx = counter.counter.store.begin().await.unwrap();
        reprint_eventstore::sql::exec(
            tx.conn(),
            "UPDATE counter_media_jobs SET state = 'waiting' WHERE order_id = $1",
            &[reprint_eventstore::sql::Arg::from(
                taken["order"].as_str().unwrap(),
            )],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let counter = counter.restart().await;
    wait_for_job(&counter, "X0000001", "written").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(listing(&hot), vec!["X0000001-usb_stick".to_string()]);
    let again: serde_json::Value =
        serde_json::from_slice(&std::fs::read(job.join("ticket.json")).unwrap()).unwrap();
    assert_eq!(again["created"], created, "the job was not written again");

    // The API's document names the choice and the job.
    let (s, doc) = counter.get("/api/v1/openapi.json").await;
    assert_eq!(s, 200);
    assert!(
        doc["components"]["schemas"]["IntakeForm"]["properties"]["copy_on"].is_object(),
        "copy_on in the document"
    );
    assert!(doc["components"]["schemas"]["MediumCopyDto"].is_object());

    // A medium this counter does not sell: refused in words, nothing taken in.
    let (_, form) = card(200);
    let (s, refused) = counter.intake(form.text("copy_on", "dvd")).await;
    assert_eq!(s, 422, "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("cd, usb_stick"),
        "{refused}"
    );
    let (s, _) = counter.get("/api/v1/pickups/X0000002").await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn a_counter_without_a_writer_never_offers_a_medium() {
    let nats = NatsServer::start();
    let _lab = serve_lab_quotes(&nats.url, LabQuotes::Total(30)).await;
    let counter = spawn(&nats.url, None, "").await;

    let page = counter
        .http
        .get(format!("{}/intake", counter.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("name=\"copy_on\""),
        "no choice without a writer"
    );

    let (_, form) = card(300);
    let (s, refused) = counter.intake(form.text("copy_on", "usb_stick")).await;
    assert_eq!(s, 422, "{refused}");
    let detail = refused["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("no writer"), "{refused}");
    let (s, _) = counter.get("/api/v1/pickups/X0000001").await;
    assert_eq!(s, 404, "nothing was taken in");
    // The quote says the same.
    let (_, form) = card(300);
    let (s, q) = post(
        &counter,
        "/api/v1/intake/quote",
        form.text("copy_on", "usb_stick"),
    )
    .await;
    assert_eq!(s, 422, "{q}");
    // Without it the order is taken as before.
    let (_, form) = card(300);
    let (s, taken) = counter.intake(form).await;
    assert_eq!(s, 201, "{taken}");
    assert_eq!(taken["counter_charge"]["total"], 250, "{taken}");
    assert!(taken["copy_on"].is_null(), "{taken}");
}

#[tokio::test]
async fn a_cancelled_order_takes_its_medium_back_from_the_writer() {
    let nats = NatsServer::start();
    let _lab = serve_lab_quotes(&nats.url, LabQuotes::Total(30)).await;
    let hot_dir = tempfile::tempdir().unwrap();
    let hot: PathBuf = hot_dir.path().join("writer");
    let section = writer_section(&hot);
    let counter = spawn_edited(&nats.url, None, "", |t| format!("{t}{section}")).await;

    // Two CDs written; the station has taken the second one. The second visit within the
    // month has its basic charge waived (Fig. 9), the CD is paid in full.
    for (seed, total) in [(400, 250 + 500), (500, 500)] {
        let (_, form) = card(seed);
        let (s, taken) = counter.intake(form.text("copy_on", "cd")).await;
        assert_eq!(s, 201, "{taken}");
        assert_eq!(taken["counter_charge"]["total"], total, "{taken}");
    }
    wait_for_job(&counter, "X0000001", "written").await;
    wait_for_job(&counter, "X0000002", "written").await;
    std::fs::write(hot.join("X0000002-cd").join("TAKEN"), b"").unwrap();

    let now = counter.counter.clock.now();
    for number in ["X0000001", "X0000002"] {
        reprint_counter::pickup::cancel(
            &counter.counter,
            number,
            "the customer changed their mind",
            "tanaka",
            now,
        )
        .await
        .unwrap();
    }
    let view = wait_for_job(&counter, "X0000001", "withdrawn").await;
    assert!(
        view["medium_copy"]["words"]
            .as_str()
            .unwrap_or_default()
            .contains("withdrawn from the writer"),
        "{view}"
    );
    wait_for_job(&counter, "X0000002", "withdrawn").await;
    // Not taken yet: gone. Taken: voided, with the reason, for staff to take the disc out.
    assert_eq!(listing(&hot), vec!["X0000002-cd".to_string()]);
    let void = std::fs::read_to_string(hot.join("X0000002-cd").join("VOID")).unwrap();
    assert!(void.contains("changed their mind"), "{void}");
}
