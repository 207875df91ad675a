//! An order in production at the lab in process (Figs. 1 and 2): the counter route printed,
//! dispatched, collected and settled through the operator API and the hot folders; a rejected
//! reception's jobs leaving the hot folder; the metrics of each stage.

mod common;

use std::time::Duration;

use reprint_bus::subjects;
use reprint_domain::file::Route;
use reprint_domain::protocol::{
    CollectionRecorded, DeliveryDispatched, OrderRejected, Payment, PlacedItem, ReceptionRecorded,
    RejectCode, Sender, SettlementRecorded, Stage, StatusChanged,
};
use reprint_domain::*;
use reprint_testkit::metric_series as series;

use common::*;

// ------------------------------------------------------------------ counter route, production, settlement

#[tokio::test]
async fn a_counter_route_order_is_printed_dispatched_collected_and_settled() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut inbox = peer.subscribe("reprint.v1.counter.counter-ginza.>").await;
    let mut status = peer.subscribe("reprint.v1.status.>").await;
    let image = peer.upload(5).await;
    let other = peer.upload(6).await;

    // Fig. 2: the counter forwards the medium's images with its file extract.
    let mut order = internet_order(image, PrintSize::L, at);
    order.route = Route::CounterMedium;
    order.sender = Sender::Counter(site(COUNTER));
    order.data_receive = None;
    order.items.push(PlacedItem {
        image: other,
        name: "IMG_0002.JPG".into(),
        size: PrintSize::L,
        quantity: 1,
        edits: Some(r#"[{"op":"grayscale"}]"#.into()),
        perceptual_hash: None,
        history: vec![],
    });
    order.counter_extract = Some(counter_extract(at, order.order));
    order.digital_copy = true;
    peer.place(&order).await;
    let r: ReceptionRecorded = next(&mut inbox, "reception.recorded", |r: &ReceptionRecorded| {
        r.order == order.order
    })
    .await;
    let number = r.extract.reception.number.as_str().to_string();
    assert_eq!(number, "B0000001");
    assert_eq!(r.extract.reception.route, Route::CounterMedium);

    // Production through the API.
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let csrf = log_in(&http, &lab).await;
    let row = act(&http, &lab, &csrf, &number, "start-printing").await;
    assert_eq!(row["state"], "printing");
    let hot = rig.dir.path().join("hot/minilab-1");
    written(&hot.join("B0000001-L")).await;
    let entries = list(&hot);
    assert_eq!(
        entries,
        vec![hot.join("B0000001-L")],
        "one folder per reception and size, no temporary left"
    );
    let job = hot.join("B0000001-L");
    let files: Vec<String> = list(&job)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        files,
        vec!["B0000001-01.JPG", "B0000001-02.JPG", "MISC", "ticket.json"]
    );
    let ticket: serde_json::Value =
        serde_json::from_slice(&std::fs::read(job.join("ticket.json")).unwrap()).unwrap();
    assert_eq!(ticket["reception"], "B0000001");
    assert_eq!(ticket["printer"], "minilab-1");
    assert_eq!(ticket["files"][0]["quantity"], 2);
    assert_eq!(
        ticket["files"][0]["width"]
            .as_u64()
            .unwrap()
            .min(ticket["files"][0]["height"].as_u64().unwrap()),
        1051
    );
    let mrk = std::fs::read_to_string(job.join("MISC/AUTPRINT.MRK")).unwrap();
    let dpof = reprint_media::dpof::parse(mrk.as_bytes()).unwrap();
    assert_eq!(dpof.jobs.len(), 2);
    let print = std::fs::read(job.join("B0000001-01.JPG")).unwrap();
    let history = reprint_media::history::xmp::read_history(&print).unwrap();
    assert_eq!(
        history.last_at(LAB).map(|r| r.reception_number.as_str()),
        Some("B0000001")
    );
    let digital = rig.dir.path().join("data/digital/B0000001");
    assert_eq!(
        list(&digital).len(),
        2,
        "the digital copy: one container per image"
    );
    let s: StatusChanged = next(&mut status, "", |s: &StatusChanged| {
        s.order == order.order && s.stage == Stage::Printing
    })
    .await;
    assert!(s.detail.contains("B0000001"));

    // The print station's done-marker finishes it.
    std::fs::write(job.join("DONE"), b"").unwrap();
    let _: StatusChanged = next(&mut status, "", |s: &StatusChanged| {
        s.order == order.order && s.stage == Stage::Printed
    })
    .await;

    // Dispatch: the whole file to an affiliated counter, the counter's reception echoed.
    let row = act(&http, &lab, &csrf, &number, "dispatch").await;
    assert_eq!(row["state"], "dispatched");
    let d: DeliveryDispatched = next(
        &mut inbox,
        "delivery.dispatched",
        |d: &DeliveryDispatched| d.order == order.order,
    )
    .await;
    assert_eq!(d.counter, site(COUNTER));
    assert_eq!(d.counter_reception.as_deref(), Some("X0001004"));
    assert_eq!(
        d.extract.address.as_deref(),
        Some("2-1 Ginza, Tokyo"),
        "whole file under the data-sharing agreement"
    );
    assert_eq!(d.extract.reception.number.as_str(), "B0000001");
    let charge = d.extract.reception.charge.total;
    let _: StatusChanged = next(&mut status, "", |s: &StatusChanged| {
        s.order == order.order && s.stage == Stage::Dispatched
    })
    .await;

    // The counter collects and settles.
    let lab_site = subjects::SiteId::parse(LAB).unwrap();
    let collected_at = at + chrono::Duration::days(2);
    peer.publish(
        subjects::collection_recorded(&lab_site),
        "collection-1",
        &CollectionRecorded {
            order: order.order,
            counter: site(COUNTER),
            lab: site(LAB),
            lab_reception: number.clone(),
            collected_at,
            lab_charge: charge,
            counter_charge: Money::new(250, Currency::JPY),
            payment: Payment {
                method: "cash".into(),
                tendered: Money::new(1000, Currency::JPY),
                change: Money::new(1000 - 250 - charge.minor, Currency::JPY),
            },
        },
    )
    .await;
    let settlement = SettlementRecorded {
        settlement: uuid::Uuid::now_v7(),
        order: order.order,
        counter: site(COUNTER),
        lab: site(LAB),
        lab_reception: number.clone(),
        amount: charge,
        at: collected_at,
    };
    peer.publish(
        subjects::settlement_recorded(&lab_site),
        "settlement-1",
        &settlement,
    )
    .await;
    // Redelivered under another id: paid once.
    peer.publish(
        subjects::settlement_recorded(&lab_site),
        "settlement-1-again",
        &settlement,
    )
    .await;
    let s: StatusChanged = next(&mut status, "", |s: &StatusChanged| {
        s.order == order.order && s.stage == Stage::Settled
    })
    .await;
    assert!(s.detail.contains(COUNTER));
    // The copy handled too (the inbox records a message id with its effects), and the
    // collection, before the ledger is read.
    let inbox =
        reprint_bus::streams::durable_consumer_for(&lab_site, reprint_bus::subjects::SiteKind::Lab);
    for id in ["collection-1", "settlement-1", "settlement-1-again"] {
        reprint_testkit::wait_for(
            Duration::from_secs(20),
            &format!("{id} handled by the lab's inbox"),
            async || {
                lab.lab
                    .store
                    .inbox_contains(inbox.name(), id)
                    .await
                    .unwrap()
            },
            |handled| *handled,
        )
        .await;
    }
    let ledger: serde_json::Value = http
        .get(lab.url("/api/v1/ledger"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ledger,
        serde_json::json!([{ "counter": COUNTER, "currency": "JPY", "charged": charge.minor, "collected": charge.minor, "paid": charge.minor, "owed": 0 }])
    );
    let view: serde_json::Value = http
        .get(lab.url("/api/v1/receptions/B0000001"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["production"]["state"], "settled");
    assert!(
        view["file"]["receptions"][0]["state"]["collected"].is_object(),
        "{}",
        view["file"]
    );
    lab.stop().await;
}

// ------------------------------------------------------------------ metrics

async fn metrics_page(lab: &Running) -> String {
    reqwest::get(lab.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn metrics_count_each_stage_once_and_report_append_latency_and_lag() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let image = peer.upload(7).await;
    let order = internet_order(image, PrintSize::L, at);
    peer.place(&order).await;
    let r: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == order.order,
    )
    .await;
    // The same order under another message id (past JetStream's window): no second reception,
    // no second count. A marker order after it says when it was handled.
    peer.publish(
        subjects::order_placed(&subjects::SiteId::parse(LAB).unwrap()),
        "the-same-order-again",
        &order,
    )
    .await;
    let mut marker = internet_order(image, PrintSize::L, at);
    marker.customer.name = "Taro Suzuki".into();
    marker.customer.telephone = "090-1111-2222".into();
    peer.place(&marker).await;
    next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == marker.order,
    )
    .await;
    // One order on to printing through the console.
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let csrf = log_in(&http, &lab).await;
    let number = r.extract.reception.number.as_str().to_string();
    act(&http, &lab, &csrf, &number, "start-printing").await;
    // A move the production refuses (not printing yet) counts nothing.
    let refused = http
        .post(lab.url(&format!("/api/v1/receptions/{number}/dispatch")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert!(!refused.status().is_success());

    let page = metrics_page(&lab).await;
    let stage = |s: &str| {
        series(
            &page,
            &format!("reprint_orders_total{{stage=\"{s}\",service=\"lab\"}}"),
        )
    };
    assert_eq!(
        stage("received"),
        Some(2.0),
        "two orders, the copy not counted:\n{page}"
    );
    assert_eq!(stage("printing"), Some(1.0), "{page}");
    assert_eq!(stage("dispatched"), None, "{page}");
    // Every unit of work that appended is observed once, under its first stream's kind; the
    // kinds are the lab's few stream kinds, not one per file.
    let counts: Vec<(String, f64)> = page
        .lines()
        .filter_map(|l| l.strip_prefix("reprint_append_seconds_count{stream_kind=\""))
        .filter_map(|l| {
            let (kind, rest) = l.split_once('"')?;
            Some((kind.to_string(), rest.rsplit(' ').next()?.parse().ok()?))
        })
        .collect();
    let total: f64 = counts.iter().map(|(_, n)| n).sum();
    assert!(
        total >= 2.0,
        "both receptions' appends observed: {counts:?}\n{page}"
    );
    for (kind, _) in &counts {
        assert!(
            [
                "user-file",
                "sequence-registration",
                "sequence-reception",
                "production"
            ]
            .contains(&kind.as_str()),
            "stream kind {kind}\n{page}"
        );
    }
    let sum: f64 = page
        .lines()
        .filter(|l| l.starts_with("reprint_append_seconds_sum{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(sum > 0.0 && sum < 30.0, "{sum}");
    // The inbox consumer's lag is there, and back to 0 once everything is handled.
    let lag = "reprint_consumer_lag{consumer=\"lab-lab-a-inbox\",service=\"lab\"}";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let page = metrics_page(&lab).await;
        match series(&page, lag) {
            Some(0.0) => break,
            v => assert!(
                tokio::time::Instant::now() < deadline,
                "lag not back to 0: {v:?}\n{page}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    lab.stop().await;
}

#[tokio::test]
async fn a_rejected_reception_leaves_the_hot_folder_or_is_voided_where_the_station_took_it() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let csrf = log_in(&http, &lab).await;
    let hot = rig.dir.path().join("hot/minilab-1");

    // Two orders on to printing: their jobs are in the hot folder.
    let mut numbers = Vec::new();
    for seed in [21, 22] {
        let image = peer.upload(seed).await;
        let order = internet_order(image, PrintSize::L, at);
        peer.place(&order).await;
        let r: ReceptionRecorded = next(
            &mut replies,
            "reception.recorded",
            |r: &ReceptionRecorded| r.order == order.order,
        )
        .await;
        let number = r.extract.reception.number.as_str().to_string();
        let row = act(&http, &lab, &csrf, &number, "start-printing").await;
        assert_eq!(row["state"], "printing");
        written(&hot.join(format!("{number}-L"))).await;
        assert!(
            hot.join(format!("{number}-L"))
                .join("MISC/AUTPRINT.MRK")
                .exists()
        );
        numbers.push((order.order, number));
    }
    let (first_order, first) = &numbers[0];
    let (second_order, second) = &numbers[1];

    // The first one the station has not taken: rejected, its job leaves the hot folder.
    let r = reject(&http, &lab, &csrf, first, "the image is damaged").await;
    assert_eq!(r.status(), 200);
    let rej: OrderRejected = next(&mut replies, "order.rejected", |r: &OrderRejected| {
        r.order == *first_order
    })
    .await;
    assert_eq!(rej.code, RejectCode::ByOperator);
    assert!(
        !hot.join(format!("{first}-L")).exists(),
        "a print station would print a rejected order"
    );

    // The second one the station took (its marker): the job stays, voided, and the operator
    // is told in the production log.
    let job = hot.join(format!("{second}-L"));
    std::fs::write(job.join("TAKEN"), b"").unwrap();
    let r = reject(&http, &lab, &csrf, second, "the customer called").await;
    assert_eq!(r.status(), 200);
    let void = std::fs::read_to_string(job.join("VOID")).unwrap();
    assert!(void.contains("the customer called"), "{void}");
    let mut tx = lab.lab.store.begin().await.unwrap();
    let log = reprint_lab::db::production_log(&mut tx, &second_order.to_string())
        .await
        .unwrap();
    drop(tx);
    assert!(
        log.iter().any(|l| l.note.contains("VOID")),
        "the operator is told: {log:?}"
    );

    // A rejected reception cannot be printed, finished or dispatched; a second click is no
    // second rejection; a rejection needs a reason.
    for action in ["start-printing", "finished", "dispatch"] {
        let r = http
            .post(lab.url(&format!("/api/v1/receptions/{first}/{action}")))
            .header("x-csrf-token", &csrf)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409, "{action}");
        let p: serde_json::Value = r.json().await.unwrap();
        assert!(
            p["detail"].as_str().unwrap().contains("rejected"),
            "{action}: {p}"
        );
    }
    assert_eq!(
        reject(&http, &lab, &csrf, first, "again").await.status(),
        200
    );
    assert_eq!(
        log_states(&lab, *first_order).await,
        ["received", "printing", "rejected", "rejected"],
        "received, printing, rejected, and the hot folders' note"
    );
    let image = peer.upload(23).await;
    let order = internet_order(image, PrintSize::L, at);
    peer.place(&order).await;
    let r: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == order.order,
    )
    .await;
    let number = r.extract.reception.number.as_str().to_string();
    let r = reject(&http, &lab, &csrf, &number, "   ").await;
    assert_eq!(r.status(), 422);
    lab.stop().await;
}

#[tokio::test]
async fn an_image_that_cannot_be_printed_is_named_to_the_operator_and_nothing_is_half_printed() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    // A JPEG whose SOF0 marker says SOF9 (arithmetic coding): its header reads, its pixels
    // cannot be decoded (issue 13: the counter's intake let such a card through).
    let good = peer.upload(31).await;
    let img = reprint_media::synthetic::photo(32, 900, 600);
    let mut bytes = reprint_media::synthetic::jpeg(&img, 85).unwrap();
    let sof = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline JPEG has SOF0");
    bytes[sof + 1] = 0xC9;
    let damaged = peer.upload_bytes(&bytes).await;
    let mut order = internet_order(good, PrintSize::L, at);
    order.items.push(PlacedItem {
        image: damaged,
        name: "BROKEN.JPG".into(),
        size: PrintSize::L,
        quantity: 1,
        edits: None,
        perceptual_hash: None,
        history: vec![],
    });
    peer.place(&order).await;
    let r: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == order.order,
    )
    .await;
    let number = r.extract.reception.number.as_str().to_string();
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let csrf = log_in(&http, &lab).await;
    // Printing starts at once; the print worker finds the image cannot be printed and says
    // which and why (the image's fault, not the lab's), on the printers page.
    let row = act(&http, &lab, &csrf, &number, "start-printing").await;
    assert_eq!(row["state"], "printing");
    let page = until_page(&http, &lab, "/printers", "BROKEN.JPG").await;
    assert!(
        page.contains(&damaged.short()) && page.contains("cannot be printed"),
        "the operator is told which image: {page}"
    );
    let hot = rig.dir.path().join("hot/minilab-1");
    let left: Vec<_> = std::fs::read_dir(&hot)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "nothing half-written: {left:?}");
    let jobs = reprint_lab::printing::jobs_of(&lab.lab, &order.order.to_string())
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, "failed");
    assert!(jobs[0].reason.contains("BROKEN.JPG"), "{}", jobs[0].reason);
    // The operator rejects the order with that reason; the sender hears it.
    let r = reject(&http, &lab, &csrf, &number, "BROKEN.JPG cannot be printed").await;
    assert_eq!(r.status(), 200);
    let rej: OrderRejected = next(&mut replies, "order.rejected", |r: &OrderRejected| {
        r.order == order.order
    })
    .await;
    assert!(rej.reason.contains("BROKEN.JPG"), "{}", rej.reason);
    lab.stop().await;
}

/// Waits (30 s at most) for a print worker to write job folder `dir`.
async fn written(dir: &std::path::Path) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !dir.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} not written within 30 s",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The console page `path` once it contains `text` (30 s at most).
async fn until_page(http: &reqwest::Client, lab: &Running, path: &str, text: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let page = http
            .get(lab.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if page.contains(text) {
            return page;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} without {text:?} after 30 s: {page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
