//! A counter with its own printer prints an internet order itself (seed 004; issue 15 (b)):
//! it announces its printer in the site directory; the lab (played by the test) sends the print
//! data; the counter fetches the images from the object store, records items (4) and (5) in its
//! user file, renders the prints into its hot folder, and once the station's done-marker is in
//! the order is ready for pickup with the lab's and the counter's charges, and is collected.
//! Real NATS, on SQLite and on Postgres; the /printer page in Chromium at 1024 x 768 and 390 x 844.

#[path = "common/browser.rs"]
mod browser;
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use common::*;
use reprint_bus::subjects::{Address, SiteId as BusSite, Subject, Topic};
use reprint_domain::counter_print::{LabHistoryRecord, PrintDataSent};
use reprint_domain::file::Route;
use reprint_domain::protocol::{DeliveryDispatched, PlacedItem};
use reprint_domain::*;
use reprint_testkit::{NatsServer, TestPostgres};

fn printer_section(hot: &Path) -> String {
    format!(
        "\n[printer]\nname = \"Ginza QSS\"\nhot_folder = \"{}\"\nsizes = [\"L\", \"2L\"]\n",
        hot.display()
    )
}

async fn wait_for_file(path: &Path, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if path.exists() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn printed_at_the_counter(store_url: Option<&str>) {
    let nats = NatsServer::start();
    let lab = LabPeer::start(&nats.url).await;
    let hot_dir = tempfile::tempdir().unwrap();
    let hot: PathBuf = hot_dir.path().join("hot");
    let section = printer_section(&hot);
    let counter = spawn_edited(&nats.url, store_url, "", move |t| {
        // `[printer]` goes before the `[uploads]` table the harness ends with.
        t.replace("[uploads]", &format!("{section}\n[uploads]"))
    })
    .await;

    // The counter announces its printer in the site directory.
    let directory = reprint_bus::directory::Directory::open(&lab.js, 1)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let printer = loop {
        let entry = directory
            .get(&BusSite::parse("counter-ginza").unwrap())
            .await
            .unwrap();
        if let Some(p) = entry.and_then(|e| e.site.printer) {
            break p;
        }
        assert!(
            Instant::now() < deadline,
            "the counter never announced its printer"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(printer.name, "Ginza QSS");
    assert_eq!(printer.sizes, vec!["L", "2L"]);
    assert_eq!(printer.icc_profile, "sRGB");

    // The images are in the network's object store (the gateway put them there).
    let images = reprint_bus::objects::Images::open(
        &lab.js,
        reprint_bus::ProvisionSettings::default().images,
    )
    .await
    .unwrap();
    let one = jpeg(1);
    let two = jpeg(2);
    for bytes in [&one, &two] {
        images.put(&bytes[..], None).await.unwrap();
    }
    let placed_items = vec![
        PlacedItem {
            image: ImageId::of_bytes(&one),
            name: "IMG_0001.JPG".into(),
            size: PrintSize::L,
            quantity: 2,
            edits: None,
            perceptual_hash: None,
            history: vec![],
        },
        PlacedItem {
            image: ImageId::of_bytes(&two),
            name: "IMG_0002.JPG".into(),
            size: PrintSize::L2,
            quantity: 1,
            edits: None,
            perceptual_hash: None,
            history: vec![],
        },
    ];
    let now = Utc::now();
    let order = OrderId::from_parts(now.timestamp_millis() as u64, [7; 10]);
    let items: Vec<OrderItem> = placed_items.iter().map(|i| i.order_item()).collect();
    let reception = lab.reception(order, Route::Internet, items, "B0000456", now);
    let lab_total = reception.charge.total.minor;
    let who = customer("Hanako Yamada", "03-1234-5678");
    let body = PrintDataSent {
        delivery: DeliveryDispatched {
            order,
            lab: lab.id.clone(),
            counter: SiteId::parse("counter-ginza").unwrap(),
            dispatched_at: now,
            extract: lab.extract(reception, &who.name, &who.telephone),
            customer: who,
            counter_reception: None,
            counter_registration_number: None,
        },
        items: placed_items,
        history: LabHistoryRecord {
            site: "lab-a".into(),
            registration_number: "A0000001".into(),
            reception_number: "B0000456".into(),
            date: now.date_naive(),
        },
    };
    let subject = Subject::inbox(
        Address::counter(BusSite::parse("counter-ginza").unwrap()),
        Topic::PrintDataSent,
    )
    .unwrap()
    .to_string();
    assert_eq!(
        subject, "reprint.v1.counter.counter-ginza.printdata.sent",
        "the subject the lab's NATS user may publish"
    );
    lab.send(
        subject.clone(),
        &format!("lab-a:{order}:printdata-sent"),
        &body,
    )
    .await;

    // The counter's own hot folder gets the job: one folder per size, the rendered JPEGs, the
    // station's DPOF ticket.
    let l_job = hot.join("X0000001-L");
    let l2_job = hot.join("X0000001-2L");
    assert!(
        wait_for_file(&l_job.join("MISC/AUTPRINT.MRK"), Duration::from_secs(30)).await,
        "no job in the hot folder: {:?}",
        std::fs::read_dir(&hot).map(|d| d.count())
    );
    assert!(wait_for_file(&l2_job.join("ticket.json"), Duration::from_secs(10)).await);
    let jpeg_l = std::fs::read(l_job.join("X0000001-01.JPG")).unwrap();
    let jpeg_2l = std::fs::read(l2_job.join("X0000001-02.JPG")).unwrap();
    assert_eq!(&jpeg_l[..2], &[0xFF, 0xD8], "a JPEG");
    assert_eq!(&jpeg_2l[..2], &[0xFF, 0xD8], "a JPEG");
    let dpof = std::fs::read_to_string(l_job.join("MISC/AUTPRINT.MRK")).unwrap();
    assert!(dpof.contains("PRT QTY = 002"), "{dpof}");
    // The lab's print-history entry travels in the print (its product, its reception).
    let history = reprint_media::history::xmp::read_history(&jpeg_l).unwrap();
    assert!(
        history
            .entries
            .iter()
            .any(|r| r.site == "lab-a" && r.reception_number == "B0000456"),
        "{history:?}"
    );

    // Items (4) and (5) in the counter's individual user file.
    let c = counter.counter.clone();
    let mut tx = c.store.begin().await.unwrap();
    let (file, opened) = c.files.by_order(&mut tx, order).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    let data = opened
        .data_receive
        .expect("the start and finish of receiving the data are recorded");
    assert!(data.start <= data.finish);
    assert!(data.start >= now - chrono::Duration::seconds(1));
    assert_eq!(opened.route, Route::Internet);
    assert_eq!(opened.partner.as_str(), "lab-a");
    assert_eq!(file.registration_number.as_str(), "W0000001");

    // Staff see it: received as data, printing; not ready before the prints are out.
    let (s, list) = counter.get("/api/v1/printer").await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list[0]["state"], "printing", "{list}");
    let words = list[0]["words"].as_str().unwrap();
    assert!(
        words.starts_with("received as data at ") && words.ends_with(", printing"),
        "{words}"
    );
    // The terminal's page says the same in the staff's words (the counter's own: Japanese).
    let page = counter
        .http
        .get(format!("{}/printer", counter.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("にデータ受信、印刷中"), "{page}");
    assert!(page.contains("印刷が終わりました"), "{page}");
    if store_url.is_none() {
        printer_page_in_a_browser(&counter.base).await;
    }
    let (s, view) = counter.get("/api/v1/pickups/X0000001").await;
    assert!(
        s != 200 || view["can_collect"] != true,
        "ready before printing: {view}"
    );

    // The station drops its done-markers: the order is ready, with one amount due.
    std::fs::write(l_job.join("DONE"), "").unwrap();
    std::fs::write(l2_job.join("DONE"), "").unwrap();
    let view = counter.wait_ready("X0000001").await;
    assert_eq!(view["amount_due"], lab_total + 250, "{view}");
    let (_, list) = counter.get("/api/v1/printer").await;
    assert_eq!(list[0]["state"], "ready", "{list}");

    // A redelivery of the print data changes nothing.
    lab.send(
        subject,
        &format!("lab-a:{order}:printdata-sent:again"),
        &body,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (_, list) = counter.get("/api/v1/printer").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");

    // Picked up and paid in one payment.
    let (s, paid) = counter
        .post_json(
            "/api/v1/pickups/X0000001/collect",
            serde_json::json!({"method": "cash", "tendered": lab_total + 250}),
        )
        .await;
    assert_eq!(s, 200, "{paid}");
    // The lab hears of the collection.
    let got = lab.receive(1, Duration::from_secs(10)).await;
    assert!(
        got.iter().any(
            |(subject, _, body)| subject.ends_with("collection.recorded")
                && body["lab_charge"]["minor"] == lab_total
        ),
        "{got:?}"
    );
}

/// The /printer page as staff see it on the terminal (1024 x 768) and on a phone (390 x 844),
/// an order printing: nothing cut off or wider than the screen, touch targets of 44 px, no
/// accessibility violation, and "the prints are out" on the first screen without scrolling.
async fn printer_page_in_a_browser(base: &str) {
    if !browser::chromium_installed() {
        eprintln!("chromium not installed: the /printer page was not looked at");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let b = browser::Browser::launch(dir.path()).await;
    let mut page = b.page().await;
    page.log_in(base, "tanaka", PASSWORD).await;
    for size in [(1024, 768), (390, 844)] {
        // Loaded afresh for each size: the page reloads itself every 5 s while printing.
        page.goto(&format!("{base}/printer")).await;
        page.check_at("counter-printer", &[size]).await;
        let out = page
            .eval(
                "(() => { const b = document.querySelector('form[action$=\"/printed\"] button'); if (!b) return 'none'; const r = b.getBoundingClientRect(); return r.bottom <= innerHeight && r.right <= innerWidth && r.left >= 0 ? 'shown' : 'cut off ' + JSON.stringify(r); })()",
            )
            .await;
        assert_eq!(
            out,
            serde_json::json!("shown"),
            "the prints-are-out button at {size:?}"
        );
    }
}

#[tokio::test]
async fn sqlite_an_internet_order_is_printed_at_the_counter() {
    printed_at_the_counter(None).await;
}

#[tokio::test]
async fn postgres_an_internet_order_is_printed_at_the_counter() {
    let db = TestPostgres::create().await;
    printed_at_the_counter(Some(&db.url)).await;
}

#[tokio::test]
async fn a_counter_without_a_printer_announces_none() {
    let nats = NatsServer::start();
    let lab = LabPeer::start(&nats.url).await;
    let _counter = spawn(&nats.url, None, "").await;
    let directory = reprint_bus::directory::Directory::open(&lab.js, 1)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(e) = directory
            .get(&BusSite::parse("counter-ginza").unwrap())
            .await
            .unwrap()
        {
            assert_eq!(e.site.printer, None);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the counter never announced itself"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
