//! A counter's day end to end (issue 15), the services as separate processes on a private
//! nats-server with SQLite stores:
//!
//! 1. A card in the terminal's reader (a folder with a DPOF print order) -> the price before the
//!    order (the counter's charge and the lab's, asked on NATS) with staff's quantities -> take
//!    in -> the lab prints and dispatches -> staff check the parcel in (`check_in_parcels`) ->
//!    pickup with one payment -> receipt -> day close (till count) -> statement sent and
//!    confirmed by the lab; both ledgers balance, in integer yen.
//! 2. Pickup at another counter (seed 004, item (6)): Ginza takes the card in for pickup at
//!    Shibuya; the lab dispatches to Shibuya, which finds the order by Ginza's slip, takes the
//!    one payment (the lab's charge + Shibuya's) and states the lab's share; the ledgers balance
//!    at Ginza (nothing), Shibuya and the lab.

use std::time::Instant;

use reprint_e2e::flows::{collect_in_cash, lab_print_and_dispatch, lab_queue};
use reprint_e2e::media::{DPOF, card_with_print_order, photo_jpeg};
use reprint_e2e::{COUNTER, COUNTER_STAFF, Client, LAB, Network, Options, step, wait_for};
use serde_json::{Value, json};

/// The lab's ledger line with `counter`: (charged, collected, paid, owed); zeros when absent.
async fn lab_ledger(op: &Client, counter: &str) -> (i64, i64, i64, i64) {
    let (s, v) = op.get("/api/v1/ledger").await;
    assert_eq!(s, 200, "ledger: {v}");
    let line = v
        .as_array()
        .and_then(|a| a.iter().find(|l| l["counter"] == counter).cloned())
        .unwrap_or(Value::Null);
    let n = |k: &str| line[k].as_i64().unwrap_or(0);
    (n("charged"), n("collected"), n("paid"), n("owed"))
}

/// The counter's takings today: (total, counter's share, lab's share) and its balance with the
/// lab: (collected, settled, owed).
async fn takings(staff: &Client) -> ((i64, i64, i64), (i64, i64, i64)) {
    let (s, t) = staff.get("/api/v1/takings").await;
    assert_eq!(s, 200, "takings: {t}");
    let n = |v: &Value, k: &str| v[k].as_i64().unwrap_or(0);
    let lab = t["by_lab"]
        .as_array()
        .and_then(|a| a.iter().find(|l| l["lab"] == LAB).cloned())
        .unwrap_or(Value::Null);
    (
        (n(&t, "total"), n(&t, "counter_share"), n(&t, "lab_share")),
        (
            n(&lab, "collected_total"),
            n(&lab, "settled_total"),
            n(&lab, "owed"),
        ),
    )
}

/// Staff logged in to a counter's API at `base`.
async fn staff_at(base: &str) -> Client {
    let mut c = Client::new(base);
    let (s, v) = c
        .post(
            "/api/v1/login",
            &json!({"name": COUNTER_STAFF.0, "password": COUNTER_STAFF.1}),
        )
        .await;
    assert_eq!(s, 200, "counter log-in: {v}");
    c.csrf = v["csrf_token"].as_str().map(str::to_string);
    c
}

/// The day close: the till counted, then the statements sent and each confirmed by the lab.
/// Returns the statement's total at the lab.
async fn close_the_day(staff: &Client, op: &Client, counted: i64) -> i64 {
    let (s, till) = staff
        .post("/api/v1/till", &json!({"counted": counted}))
        .await;
    assert_eq!(s, 200, "till: {till}");
    assert_eq!(till["expected"], counted, "cash taken today: {till}");
    assert_eq!(till["difference"], 0, "{till}");
    let (s, issued) = staff.post("/api/v1/statements", &json!({})).await;
    assert_eq!(s, 200, "{issued}");
    let ids = issued["issued"].as_array().cloned().unwrap_or_default();
    assert_eq!(ids.len(), 1, "one statement to the one lab: {issued}");
    let id = ids[0].as_str().unwrap().to_string();
    let at_lab = wait_for("the statement at the lab", 30, || async {
        let (_, list) = op.get("/api/v1/statements").await;
        let found = list
            .as_array()
            .and_then(|a| a.iter().find(|x| x["statement"] == id.as_str()).cloned());
        (found, list)
    })
    .await;
    let (s, confirmed) = op
        .post(&format!("/api/v1/statements/{id}/confirm"), &json!({}))
        .await;
    assert_eq!(s, 200, "{confirmed}");
    wait_for("the confirmation at the counter", 30, || async {
        let (_, list) = staff.get("/api/v1/statements").await;
        let done = list.as_array().is_some_and(|a| {
            a.iter()
                .any(|x| x["statement"] == id.as_str() && x["state"] == "confirmed")
        });
        (done.then_some(()), list)
    })
    .await;
    at_lab["total"].as_i64().unwrap_or(0)
}

/// A multipart form of the walk-in intake's fields.
fn intake_fields(pairs: &[(String, String)]) -> reqwest::multipart::Form {
    pairs
        .iter()
        .fold(reqwest::multipart::Form::new(), |f, (k, v)| {
            f.text(k.clone(), v.clone())
        })
}

/// `(key, value)` pairs as a form's fields.
fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_day_from_the_card_in_the_reader_to_the_confirmed_statement() {
    let t0 = Instant::now();
    // The card in the terminal's reader: three photos, the camera's print order (DPOF) asking
    // for one print of IMG_0001 and three of IMG_0007.
    let reader = tempfile::tempdir().unwrap();
    let card = reader.path().join("card");
    std::fs::create_dir_all(card.join("DCIM/100CANON")).unwrap();
    std::fs::create_dir_all(card.join("MISC")).unwrap();
    for n in [1u32, 7, 9] {
        std::fs::write(
            card.join(format!("DCIM/100CANON/IMG_{n:04}.JPG")),
            photo_jpeg(n, 640, 480, 85),
        )
        .unwrap();
    }
    std::fs::write(card.join("MISC/AUTPRINT.MRK"), DPOF).unwrap();
    let env = |k: &str, v: String| (format!("REPRINT_COUNTER__{k}"), v);
    let net = Network::start_with(Options {
        env: vec![
            env("CHECK_IN_PARCELS", "true".into()),
            env("MEDIUM_DIR", card.display().to_string()),
        ],
        ..Options::default()
    })
    .await;
    step(t0, "network up");
    let staff = net.counter_staff().await;
    let op = net.lab_operator().await;
    let customer = fields(&[
        ("name", "Taro Suzuki"),
        ("telephone", "090-1111-2222"),
        ("lab", LAB),
        ("size", "L"),
        ("card", "1"),
    ]);

    // The card read: its photos, the print order as the camera chose it, priced as it is.
    let (s, first) = staff
        .post_multipart("/api/v1/intake/quote", intake_fields(&customer))
        .await;
    assert_eq!(s, 200, "quote: {first}");
    let images = first["images"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = images.iter().filter_map(|i| i["name"].as_str()).collect();
    assert_eq!(names.len(), 3, "{first}");
    let index = |name: &str| {
        images
            .iter()
            .find(|i| i["name"].as_str().is_some_and(|n| n.ends_with(name)))
            .and_then(|i| i["index"].as_u64())
            .unwrap_or_else(|| panic!("{name} on the card: {first}"))
    };
    let (one, seven, nine) = (
        index("IMG_0001.JPG"),
        index("IMG_0007.JPG"),
        index("IMG_0009.JPG"),
    );
    assert_eq!(first["from_dpof"], true, "{first}");
    assert_eq!(images[one as usize]["dpof_quantity"], 1, "{first}");
    assert_eq!(images[seven as usize]["dpof_quantity"], 3, "{first}");
    assert_eq!(
        images[nine as usize]["dpof_quantity"],
        Value::Null,
        "{first}"
    );
    // The counter's basic charge (first visit) and the lab's: 250 + 4 L prints at 30.
    assert_eq!(first["counter_charge"]["total"], 250, "{first}");
    assert_eq!(first["lab_charge"]["total"], 250 + 4 * 30, "{first}");
    assert_eq!(first["total"], 250 + 250 + 4 * 30, "{first}");
    step(t0, "the card read and priced");

    // Staff change the quantities: 2 of IMG_0001, 3 of IMG_0007, none of IMG_0009.
    let mut chosen = customer.clone();
    chosen.push((format!("qty-{one}"), "2".into()));
    chosen.push((format!("qty-{seven}"), "3".into()));
    let (s, quote) = staff
        .post_multipart("/api/v1/intake/quote", intake_fields(&chosen))
        .await;
    assert_eq!(s, 200, "quote: {quote}");
    let lab_charge = 250 + 5 * 30;
    let counter_charge = 250;
    let due = lab_charge + counter_charge;
    assert_eq!(quote["items"].as_array().map(Vec::len), Some(2), "{quote}");
    assert_eq!(quote["counter_charge"]["total"], counter_charge, "{quote}");
    assert_eq!(quote["lab_charge"]["total"], lab_charge, "{quote}");
    assert_eq!(quote["total"], due, "{quote}");
    assert!(quote["ready_by"].is_string(), "{quote}");
    step(t0, &format!("priced before the order: {due} yen"));

    // Take in.
    let (s, slip) = staff
        .post_multipart("/api/v1/intake", intake_fields(&chosen))
        .await;
    assert_eq!(s, 201, "intake: {slip}");
    assert_eq!(slip["reception_number"], "X0000001", "{slip}");
    assert_eq!(slip["counter_charge"]["total"], counter_charge, "{slip}");
    let prints: i64 = slip["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["quantity"].as_i64().unwrap())
        .sum();
    assert_eq!(prints, 5, "{slip}");
    let order = slip["order"].as_str().unwrap().to_string();

    // The lab prints and dispatches.
    let row = wait_for("the walk-in order at the lab", 30, || async {
        let rows = lab_queue(&op, "received").await;
        let found = rows
            .iter()
            .find(|r| r["order_id"] == order.as_str())
            .cloned();
        (found, json!(rows))
    })
    .await;
    let lab_number = row["reception_number"].as_str().unwrap().to_string();
    lab_print_and_dispatch(&op, &lab_number).await;
    step(t0, "the lab printed and dispatched");

    // The parcel is on its way: not ready until staff check it in.
    let arrived = wait_for("the dispatch at the counter", 30, || async {
        let (_, v) = staff.get("/api/v1/pickups/X0000001").await;
        ((v["order"]["state"] == "arrived").then(|| v.clone()), v)
    })
    .await;
    assert_eq!(arrived["can_collect"], false, "{arrived}");
    let (s, checked) = staff
        .post("/api/v1/arrivals/check-in", &json!({"label": lab_number}))
        .await;
    assert_eq!(s, 200, "check-in: {checked}");
    assert_eq!(checked["made_ready"], true, "{checked}");
    let (_, ready) = staff.get("/api/v1/pickups/X0000001").await;
    assert_eq!(ready["can_collect"], true, "{ready}");
    assert_eq!(ready["amount_due"], due, "{ready}");
    assert_eq!(ready["lab_charge"]["total"], lab_charge, "{ready}");
    step(t0, "the parcel checked in");

    // Pickup: one payment in cash, a receipt.
    let receipt = collect_in_cash(&staff, "X0000001", 1000).await;
    assert_eq!(receipt["amount_due"], due, "{receipt}");
    assert_eq!(receipt["lab_charge"], lab_charge, "{receipt}");
    assert_eq!(receipt["counter_charge"], counter_charge, "{receipt}");
    assert_eq!(receipt["change"], 1000 - due, "{receipt}");
    let (s, _, page) = staff.get_bytes("/pickup/X0000001/receipt").await;
    let page = String::from_utf8_lossy(&page);
    assert_eq!(s, 200, "the receipt page");
    assert!(page.contains("X0000001"), "the receipt names the slip");
    step(t0, "collected, receipt given");

    // Before the day close: collected, owed, nothing settled.
    assert_eq!(
        takings(&staff).await,
        (
            (due, counter_charge, lab_charge),
            (lab_charge, 0, lab_charge)
        )
    );
    wait_for("the collection at the lab", 30, || async {
        let l = lab_ledger(&op, COUNTER).await;
        (
            (l == (lab_charge, lab_charge, 0, lab_charge)).then_some(()),
            json!(format!("{l:?}")),
        )
    })
    .await;

    // The day close: the till holds the cash taken; the statement is confirmed by the lab.
    let stated = close_the_day(&staff, &op, due).await;
    assert_eq!(stated, lab_charge);
    // Both ledgers balance: the lab's share collected, stated and settled; nothing owed.
    wait_for("the settlement at the lab", 30, || async {
        let l = lab_ledger(&op, COUNTER).await;
        (
            (l == (lab_charge, lab_charge, lab_charge, 0)).then_some(()),
            json!(format!("{l:?}")),
        )
    })
    .await;
    assert_eq!(
        takings(&staff).await,
        (
            (due, counter_charge, lab_charge),
            (lab_charge, lab_charge, 0)
        )
    );
    let (_, view) = staff.get("/api/v1/pickups/X0000001").await;
    assert_eq!(view["order"]["state"], "settled", "{view}");
    step(t0, "day closed: statement confirmed, ledgers balance");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_walk_in_order_taken_in_at_ginza_is_collected_and_paid_at_shibuya() {
    let t0 = Instant::now();
    let net = Network::start().await;
    let shibuya = net.start_counter("counter-shibuya", vec![]).await;
    net.wait_for_sites(&[LAB, COUNTER, "counter-shibuya"]).await;
    step(t0, "network up with two counters");
    let ginza = net.counter_staff().await;
    let at_shibuya = staff_at(&shibuya.base()).await;
    let op = net.lab_operator().await;
    let form = || {
        intake_fields(&fields(&[
            ("name", "Hanako Yamada"),
            ("telephone", "03-1234-5678"),
            ("lab", LAB),
            ("size", "L"),
            ("pickup_at", "counter-shibuya"),
        ]))
        .part(
            "medium",
            reqwest::multipart::Part::bytes(card_with_print_order())
                .file_name("card.zip")
                .mime_str("application/zip")
                .unwrap(),
        )
    };

    // Ginza prices it: nothing of its own, Shibuya's charge (a first order there) and the
    // lab's (250 + 4 L prints at 30). Shibuya is offered once Ginza has read the directory.
    let quote = wait_for("Shibuya offered at Ginza", 30, || async {
        let (s, q) = ginza.post_multipart("/api/v1/intake/quote", form()).await;
        ((s == 200).then(|| q.clone()), q)
    })
    .await;
    let lab_charge = 250 + 4 * 30;
    let shibuya_charge = 250;
    let due = lab_charge + shibuya_charge;
    assert_eq!(quote["counter_charge"]["total"], 0, "{quote}");
    assert_eq!(quote["pickup_at"], "counter-shibuya", "{quote}");
    assert_eq!(quote["pickup_charge"]["total"], shibuya_charge, "{quote}");
    assert_eq!(quote["lab_charge"]["total"], lab_charge, "{quote}");
    assert_eq!(quote["total"], due, "{quote}");

    let (s, slip) = ginza.post_multipart("/api/v1/intake", form()).await;
    assert_eq!(s, 201, "intake at Ginza: {slip}");
    assert_eq!(slip["reception_number"], "X0000001", "{slip}");
    assert_eq!(slip["counter_charge"]["total"], 0, "{slip}");
    assert_eq!(slip["pickup_at"], "counter-shibuya", "{slip}");
    let order = slip["order"].as_str().unwrap().to_string();
    let (s, _, page) = ginza.get_bytes("/slip/X0000001").await;
    assert_eq!(s, 200);
    assert!(
        String::from_utf8_lossy(&page).contains("id=\"pickup-at\""),
        "the slip says where to collect the prints"
    );
    step(t0, "taken in at Ginza for pickup at Shibuya");

    // The lab's reception: delivered to Shibuya, taken in at Ginza.
    let row = wait_for("the order at the lab", 30, || async {
        let rows = lab_queue(&op, "received").await;
        let found = rows
            .iter()
            .find(|r| r["order_id"] == order.as_str())
            .cloned();
        (found, json!(rows))
    })
    .await;
    assert_eq!(row["counter"], "counter-shibuya", "{row}");
    let lab_number = row["reception_number"].as_str().unwrap().to_string();
    let (_, rec) = op.get(&format!("/api/v1/receptions/{lab_number}")).await;
    assert_eq!(
        rec["file"]["other_counters"][&lab_number],
        json!({"reception_counter": "counter-ginza"}),
        "the one more item in the lab's file: {rec}"
    );
    // Ginza's part is done once the lab has it: handed on to Shibuya, not awaiting prints
    // that go there, and its order page says so in words.
    let handed_on = wait_for("handed on at Ginza", 30, || async {
        let (_, v) = ginza.get("/api/v1/pickups/X0000001").await;
        ((v["order"]["state"] == "handed_on").then(|| v.clone()), v)
    })
    .await;
    assert_eq!(handed_on["can_collect"], false, "{handed_on}");
    let (_, arrivals) = ginza.get("/api/v1/arrivals").await;
    assert_eq!(
        arrivals["awaiting"],
        json!([]),
        "nothing awaited at Ginza: {arrivals}"
    );
    let (s, _, page) = ginza.get_bytes("/pickup/X0000001").await;
    assert_eq!(s, 200);
    let page = String::from_utf8_lossy(&page);
    let said = page
        .split("id=\"handed-on\"")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or_default();
    // In the counter's language (Japanese here) or English: handed on, to Shibuya by name.
    assert!(
        (said.contains("Handed on to") || said.contains("引き継ぎました"))
            && said.contains("Shibuya convenience store"),
        "Ginza's order page says where it went: {said:?}"
    );
    lab_print_and_dispatch(&op, &lab_number).await;
    step(t0, "the lab printed and dispatched to Shibuya");

    // Shibuya finds it by Ginza's slip (typed, or its QR code) and takes the one payment.
    let view = wait_for("the order ready at Shibuya", 30, || async {
        let (s, found) = at_shibuya.get("/api/v1/pickups?q=X0000001").await;
        let Some(number) = found[0]["reception_number"].as_str().filter(|_| s == 200) else {
            return (None, found);
        };
        let (_, v) = at_shibuya.get(&format!("/api/v1/pickups/{number}")).await;
        ((v["can_collect"] == true).then(|| v.clone()), v)
    })
    .await;
    let number = view["order"]["reception_number"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(number.starts_with('Y'), "Shibuya's own number: {view}");
    assert_eq!(view["amount_due"], due, "{view}");
    assert_eq!(view["lab_charge"]["total"], lab_charge, "{view}");
    assert_eq!(view["counter_charge"]["total"], shibuya_charge, "{view}");
    let (s, by_code) = at_shibuya
        .get("/api/v1/pickups?q=REPRINT1%3Acounter-ginza%3AX0000001")
        .await;
    assert_eq!(s, 200, "Ginza's QR code at Shibuya: {by_code}");
    assert_eq!(by_code[0]["reception_number"], number.as_str(), "{by_code}");
    let receipt = collect_in_cash(&at_shibuya, &number, due).await;
    assert_eq!(receipt["amount_due"], due, "{receipt}");
    assert_eq!(receipt["change"], 0, "{receipt}");
    step(t0, "collected at Shibuya");

    // Ginza collected nothing and cannot hand it over; its takings are empty.
    let (_, at_ginza) = ginza.get("/api/v1/pickups/X0000001").await;
    assert_eq!(at_ginza["can_collect"], false, "{at_ginza}");
    assert_eq!(takings(&ginza).await, ((0, 0, 0), (0, 0, 0)));

    // Shibuya states the lab's share; the lab confirms; every ledger balances.
    let stated = close_the_day(&at_shibuya, &op, due).await;
    assert_eq!(stated, lab_charge);
    wait_for("the settlement at the lab", 30, || async {
        let l = lab_ledger(&op, "counter-shibuya").await;
        (
            (l == (lab_charge, lab_charge, lab_charge, 0)).then_some(()),
            json!(format!("{l:?}")),
        )
    })
    .await;
    assert_eq!(
        lab_ledger(&op, COUNTER).await,
        (0, 0, 0, 0),
        "Ginza owes nothing"
    );
    assert_eq!(
        takings(&at_shibuya).await,
        (
            (due, shibuya_charge, lab_charge),
            (lab_charge, lab_charge, 0)
        )
    );
    step(
        t0,
        "Shibuya's statement confirmed; Ginza, Shibuya and the lab balance",
    );
}
