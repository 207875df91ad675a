//! Fig. 2 end to end: a walk-in medium at the counter, through the lab and back, each a
//! separate process on a private nats-server with SQLite stores.

use std::time::Instant;

use reprint_e2e::flows::{
    basic_after_discount, collect_in_cash, counter_wait_ready, lab_print_and_dispatch, lab_queue,
    ledger, wait_for_lab_reception,
};
use reprint_e2e::media::card_with_print_order;
use reprint_e2e::{LAB, Network, step, wait_for};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_walk_in_card_goes_through_the_lab_and_is_collected_at_the_counter() {
    let t0 = Instant::now();
    let net = Network::start().await;
    step(t0, "network up");
    let staff = net.counter_staff().await;
    let op = net.lab_operator().await;

    // The customer hands over a card with a DPOF print order.
    let form = reqwest::multipart::Form::new()
        .text("name", "Taro Suzuki")
        .text("telephone", "090-1111-2222")
        .text("lab", LAB)
        .text("size", "L")
        .part(
            "medium",
            reqwest::multipart::Part::bytes(card_with_print_order())
                .file_name("card.zip")
                .mime_str("application/zip")
                .unwrap(),
        );
    let (s, slip) = staff.post_multipart("/api/v1/intake", form).await;
    assert_eq!(s, 201, "intake: {slip}");
    assert_eq!(slip["reception_number"], "X0000001", "{slip}");
    assert_eq!(slip["registration_number"], "W0000001", "{slip}");
    assert_eq!(slip["from_dpof"], true, "{slip}");
    assert_eq!(slip["items"].as_array().unwrap().len(), 2, "{slip}");
    assert_eq!(slip["counter_charge"]["total"], 250, "{slip}");
    let order = slip["order"].as_str().unwrap().to_string();
    step(t0, "walk-in order taken at the counter");

    // The lab makes its own file from the counter's extract and records a reception.
    let row = wait_for("the walk-in order at the lab", 30, || async {
        let rows = lab_queue(&op, "received").await;
        let found = rows
            .iter()
            .find(|r| r["order_id"] == order.as_str())
            .cloned();
        (found, json!(rows))
    })
    .await;
    assert_eq!(row["route"], "counter_medium", "{row}");
    assert_eq!(row["counter"], "counter-ginza", "{row}");
    let lab_number = row["reception_number"].as_str().unwrap().to_string();
    assert_eq!(lab_number, "B0000001");
    let rec = wait_for_lab_reception(&op, &lab_number, 5).await;
    let reg = rec["file"]["registration_number"]
        .as_str()
        .or_else(|| rec["production"]["registration_number"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(
        reg.starts_with('A'),
        "the lab's own registration number: {rec}"
    );
    step(t0, &format!("lab reception {lab_number} ({reg})"));

    // The counter learns the lab's reception number.
    wait_for("the lab's number at the counter", 30, || async {
        let (_, v) = staff.get("/api/v1/pickups/X0000001").await;
        (
            (v["order"]["lab_reception"] == lab_number.as_str()).then_some(()),
            v,
        )
    })
    .await;

    lab_print_and_dispatch(&op, &lab_number).await;
    step(t0, "lab printed and dispatched");

    // The counter fills in the lab's amounts: 250 basic + 4 L prints at 30.
    let pickup = counter_wait_ready(&staff, "X0000001", 30).await;
    let lab_total = pickup["lab_charge"]["total"].as_i64().unwrap();
    assert_eq!(lab_total, 250 + 4 * 30, "{pickup}");
    assert_eq!(pickup["counter_charge"]["total"], 250, "{pickup}");
    assert_eq!(pickup["amount_due"], lab_total + 250, "{pickup}");
    // Found by the lab's slip number too.
    let (s, found) = staff.get(&format!("/api/v1/pickups?q={lab_number}")).await;
    assert_eq!(s, 200, "{found}");
    assert_eq!(found[0]["reception_number"], "X0000001", "{found}");
    step(t0, "ready at the counter");

    let receipt = collect_in_cash(&staff, "X0000001", 1000).await;
    assert_eq!(receipt["amount_due"], lab_total + 250, "{receipt}");
    assert_eq!(receipt["change"], 1000 - lab_total - 250, "{receipt}");
    step(t0, "collected");

    // Nothing is settled at hand-over (issue 15): the lab's share is collected and owed.
    let owed = wait_for("the collection at the lab", 30, || async {
        let l = ledger(&op).await;
        ((l.1 == lab_total).then_some(l), json!(format!("{l:?}")))
    })
    .await;
    assert_eq!(owed, (lab_total, lab_total, 0, lab_total));

    // The day close sends the statement; the lab confirms it and the order is settled.
    let (s, issued) = staff.post("/api/v1/statements", &json!({})).await;
    assert_eq!(s, 200, "{issued}");
    let statement = issued["issued"][0]
        .as_str()
        .expect("one statement")
        .to_string();
    let received = wait_for("the statement at the lab", 30, || async {
        let (_, list) = op.get("/api/v1/statements").await;
        let found = list.as_array().and_then(|a| {
            a.iter()
                .find(|x| x["statement"] == statement.as_str())
                .cloned()
        });
        (found, list)
    })
    .await;
    assert_eq!(
        received["lines"].as_array().map(Vec::len),
        Some(1),
        "{received}"
    );
    assert_eq!(received["total"], lab_total, "{received}");
    let (s, confirmed) = op
        .post(
            &format!("/api/v1/statements/{statement}/confirm"),
            &json!({}),
        )
        .await;
    assert_eq!(
        (s, confirmed["state"].as_str()),
        (200, Some("confirmed")),
        "{confirmed}"
    );
    let (s, again) = op
        .post(
            &format!("/api/v1/statements/{statement}/confirm"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 409, "confirmed once: {again}");
    let settled = wait_for("the settlement at the lab", 30, || async {
        let l = ledger(&op).await;
        ((l.2 == lab_total).then_some(l), json!(format!("{l:?}")))
    })
    .await;
    assert_eq!(settled, (lab_total, lab_total, lab_total, 0));
    wait_for("the confirmation at the counter", 30, || async {
        let (_, list) = staff.get("/api/v1/statements").await;
        ((list[0]["state"] == "confirmed").then_some(()), list)
    })
    .await;
    // The lab's console lists it, confirmed.
    let (s, _, page) = op.get_bytes("/statements").await;
    let page = String::from_utf8_lossy(&page);
    assert_eq!(s, 200);
    assert!(
        page.contains(&format!(
            "data-statement=\"{statement}\" data-state=\"confirmed\""
        )),
        "the statement on the lab's page: {page}"
    );
    // The gateway's ops balances (from the statuses alone) show the lab's share settled.
    let ops = net
        .home_user("ops@reprint.example", "Ops Person", "03-0000-0000")
        .await;
    let balance = wait_for("the settlement in the ops balances", 30, || async {
        let (_, v) = ops.get("/api/v1/ops/settlements").await;
        let found = v["balances"].as_array().and_then(|a| {
            a.iter()
                .find(|b| b["lab"] == LAB && b["settled_minor"] == lab_total)
                .cloned()
        });
        (found, v)
    })
    .await;
    assert_eq!(balance["owed_minor"], 0, "{balance}");
    let (_, rec) = op.get(&format!("/api/v1/receptions/{lab_number}")).await;
    assert!(
        basic_after_discount(&rec["file"]["receptions"][0]["charge"]) == 250
            || rec["production"]["charge_minor"] == lab_total,
        "{rec}"
    );
    step(t0, "settled in the lab's ledger");
}
