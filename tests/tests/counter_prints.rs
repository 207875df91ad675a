//! Issue 15 (b), seed 004: "if the printer is installed at the handling counter, the print can
//! be handed to the user earlier by utilizing it". The counter `counter-ginza` has its own
//! printer (`[printer]`, announced in the site directory); a home user's internet order for it
//! is not printed at the lab: the lab sends the print data, the counter fetches the images
//! from the object store, records when it started and finished receiving them (items (4) and
//! (5) of Figs. 8/9), renders the prints into its own hot folder, and when the station is done
//! the order is ready, picked up, paid in one payment and settled by statement; both ledgers
//! balance. Services as processes on a private nats-server, SQLite stores.

use std::path::Path;
use std::time::Instant;

use reprint_e2e::flows::{
    collect_in_cash, counter_wait_ready, ledger, place_internet_order, settle_by_statement,
    wait_for_slip, wait_for_stage,
};
use reprint_e2e::media::photo_jpeg;
use reprint_e2e::{Network, Options, step, timeline_stages, wait_for};
use serde_json::{Value, json};

fn jpegs_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".JPG"))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internet_order_is_printed_at_a_counter_with_its_own_printer() {
    let t0 = Instant::now();
    let printer_dir = tempfile::tempdir().unwrap();
    let hot = printer_dir.path().join("hot");
    let env = |k: &str, v: &str| (format!("REPRINT_COUNTER__PRINTER__{k}"), v.to_string());
    let net = Network::start_with(Options {
        env: vec![
            env("NAME", "Ginza QSS"),
            env("HOT_FOLDER", &hot.display().to_string()),
            env("SIZES", r#"["L", "2L"]"#),
            (
                "RUST_LOG".into(),
                "info,reprint_lab::counter_print=debug".into(),
            ),
        ],
        ..Options::default()
    })
    .await;
    step(t0, "network up, the counter announcing its printer");
    let op = net.lab_operator().await;
    let staff = net.counter_staff().await;
    let before = ledger(&op).await;
    let user = net
        .home_user("hanako@example.jp", "Hanako Yamada", "03-1234-5678")
        .await;
    let photos = [
        ("beach.jpg", photo_jpeg(1, 1600, 1200, 90)),
        ("hill.jpg", photo_jpeg(2, 1200, 1600, 90)),
    ];
    let placed = place_internet_order(&user, &photos, 2, true).await;
    let quote = placed.quote.clone().expect("quote");
    step(t0, "ordered on the gateway");

    let view = wait_for_slip(&user, &placed.order, 30).await;
    let lab_reception = view["slip"]["reception"]["number"]
        .as_str()
        .unwrap()
        .to_string();
    let lab_total = view["slip"]["reception"]["charge"]["total"]["minor"]
        .as_i64()
        .unwrap();
    assert_eq!(
        quote["lab"]["charge"]["total"]["minor"].as_i64(),
        Some(lab_total),
        "the lab charges for the print data what it quoted for the prints: {quote}"
    );

    // Nobody prints at the lab: the print data goes to the counter, which prints it.
    let job = hot.join("X0000001-L");
    wait_for("the job in the counter's hot folder", 60, || async {
        let files = jpegs_in(&job);
        let done = files.len() == 2 && job.join("MISC/AUTPRINT.MRK").exists();
        (done.then_some(()), json!(files))
    })
    .await;
    let mut files = jpegs_in(&job);
    files.sort();
    assert_eq!(files, vec!["X0000001-01.JPG", "X0000001-02.JPG"]);
    for f in &files {
        let bytes = std::fs::read(job.join(f)).unwrap();
        assert_eq!(&bytes[..2], &[0xFF, 0xD8], "{f} is a JPEG");
    }
    let lab_queue_dir = net.dir.path().join("lab-a").join("hot");
    let at_lab: usize = std::fs::read_dir(&lab_queue_dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| jpegs_in(&e.path()).len())
                .sum()
        })
        .unwrap_or(0);
    assert_eq!(at_lab, 0, "nothing rendered at the lab");
    let (_, rec) = op.get(&format!("/api/v1/receptions/{lab_reception}")).await;
    assert_eq!(rec["production"]["state"], "dispatched", "{rec}");
    let after_send = ledger(&op).await;
    assert_eq!(
        after_send.0 - before.0,
        lab_total,
        "the lab charges the counter as for a parcel: {after_send:?}"
    );
    step(t0, "printed into the counter's hot folder");

    // Staff see when the data came in (items (4) and (5)), and that it is printing.
    let (s, list) = staff.get("/api/v1/printer").await;
    assert_eq!(s, 200, "{list}");
    let row = list
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|r| r["order"] == placed.order.as_str())
                .cloned()
        })
        .unwrap_or(Value::Null);
    assert_eq!(row["state"], "printing", "{list}");
    assert!(
        row["data_start"].is_string() && row["data_finish"].is_string(),
        "{row}"
    );
    let words = row["words"].as_str().unwrap_or_default();
    assert!(
        words.starts_with("received as data at ") && words.ends_with(", printing"),
        "{words}"
    );
    let counter_reception = row["reception_number"].as_str().unwrap().to_string();
    assert_eq!(counter_reception, "X0000001");

    // The station finishes the prints (its done-marker): ready, with one amount due.
    std::fs::write(job.join("DONE"), "").unwrap();
    let pickup = counter_wait_ready(&staff, &lab_reception, 30).await;
    let counter_total = pickup["counter_charge"]["total"].as_i64().unwrap();
    assert_eq!(pickup["lab_charge"]["total"], lab_total, "{pickup}");
    assert_eq!(
        pickup["amount_due"].as_i64(),
        Some(lab_total + counter_total),
        "{pickup}"
    );
    assert_eq!(
        quote["counter"]["charge"]["total"]["minor"].as_i64(),
        Some(counter_total),
        "the counter charges what it quoted: {quote}"
    );
    step(t0, "ready at the counter");

    let receipt = collect_in_cash(&staff, &counter_reception, lab_total + counter_total).await;
    assert_eq!(
        receipt["amount_due"],
        lab_total + counter_total,
        "{receipt}"
    );
    let order = wait_for_stage(&user, &placed.order, "collected", 30).await;
    let stages = timeline_stages(&order);
    for want in [
        "placed",
        "received",
        "printing",
        "printed",
        "ready_for_pickup",
        "collected",
    ] {
        assert!(stages.iter().any(|s| s == want), "{want}: {stages:?}");
    }
    let printed = order["timeline"]
        .as_array()
        .and_then(|a| a.iter().find(|t| t["stage"] == "printed").cloned())
        .unwrap_or(Value::Null);
    assert_eq!(printed["site"], "counter-ginza", "{printed}");
    assert!(
        printed["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("printed at Ginza mini-lab"),
        "{printed}"
    );
    // The customer's order page says it in words: printed at the counter, by its name.
    let (s, _, page) = user.get_bytes(&format!("/orders/{}", placed.order)).await;
    assert_eq!(s, 200, "the order page");
    let page = String::from_utf8_lossy(&page);
    // In the gateway's language (Japanese here) or English, the entry names the counter.
    let said: Vec<&str> = page
        .split("<li")
        .filter(|li| li.contains("Printed at") || li.contains("でプリントしました"))
        .collect();
    assert!(
        said.len() == 1 && said[0].contains("Ginza mini-lab"),
        "the web timeline names the counter that printed it: {said:?}"
    );
    step(t0, "collected; the timeline says where it was printed");

    // Settled by statement: both ledgers balance.
    settle_by_statement(&staff, &op).await;
    let settled = wait_for("the settlement in the lab's ledger", 30, || async {
        let l = ledger(&op).await;
        let done = l.2 - before.2 == lab_total && l.1 - before.1 == lab_total;
        (done.then_some(l), json!(format!("{l:?}")))
    })
    .await;
    assert_eq!(
        settled.3, before.3,
        "nothing owed after settling: {settled:?}"
    );
    assert_eq!(settled.0, after_send.0, "charged once: {settled:?}");
    // The counter's side: the lab's share collected and settled, nothing owed (the
    // confirmation reaches the counter by message).
    let takings = wait_for("the counter's statement confirmed", 30, || async {
        let (_, t) = staff.get("/api/v1/takings").await;
        let line = t["by_lab"]
            .as_array()
            .and_then(|a| a.iter().find(|l| l["lab"] == "lab-a").cloned())
            .unwrap_or(Value::Null);
        let done = line["collected_total"] == lab_total
            && line["settled_total"] == lab_total
            && line["owed"] == 0;
        (done.then_some(t.clone()), t)
    })
    .await;
    assert_eq!(takings["total"], lab_total + counter_total, "{takings}");
    step(t0, "settled; ledgers balance");
}
