//! Offline for a while, then back: nothing lost, nothing doubled.
//!
//! 1. The counter dies (SIGKILL); a home user orders for pickup there and the lab dispatches
//!    while it is gone; when the counter comes back the delivery arrives exactly once.
//! 2. NATS goes away; the counter still takes a walk-in order (its outbox waits); when NATS
//!    comes back the lab receives that order exactly once.

use std::time::Instant;

use reprint_e2e::flows::{
    collect_in_cash, counter_wait_ready, lab_print_and_dispatch, lab_queue, ledger, pause,
    place_internet_order, wait_for_slip, wait_for_stage,
};
use reprint_e2e::media::{photo_jpeg, zip_of};
use reprint_e2e::{Client, LAB, Network, stage_counts, step, wait_for};
use serde_json::{Value, json};

/// Every reception of the lab (all states) for `order`.
async fn lab_receptions_of(op: &Client, order: &str) -> Vec<Value> {
    let (s, groups) = op.get("/api/v1/receptions").await;
    assert_eq!(s, 200, "{groups}");
    groups
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["receptions"].as_array().cloned().unwrap_or_default())
        .filter(|r| r["order_id"] == order)
        .collect()
}

/// The counter's orders (ready, awaiting, notices) for `order`.
async fn counter_orders_of(staff: &Client, order: &str) -> Vec<Value> {
    let (s, a) = staff.get("/api/v1/arrivals").await;
    assert_eq!(s, 200, "{a}");
    ["ready", "awaiting", "notices"]
        .iter()
        .flat_map(|k| a[*k].as_array().cloned().unwrap_or_default())
        .filter(|o| o["order"] == order)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_offline_for_a_while_misses_nothing_and_doubles_nothing() {
    let t0 = Instant::now();
    let mut net = Network::start().await;
    let op = net.lab_operator().await;
    let user = net
        .home_user("hanako@example.jp", "Hanako Yamada", "03-1234-5678")
        .await;
    step(t0, "network up");

    // The counter goes down hard.
    net.counter.kill9();
    step(t0, "counter killed (SIGKILL)");

    // The user orders for pickup there anyway (it is in the site directory; no quote now).
    let placed = place_internet_order(
        &user,
        &[("beach.jpg", photo_jpeg(1, 1600, 1200, 90))],
        1,
        false,
    )
    .await;
    let view = wait_for_slip(&user, &placed.order, 30).await;
    let lab_number = view["slip"]["reception"]["number"]
        .as_str()
        .unwrap()
        .to_string();
    lab_print_and_dispatch(&op, &lab_number).await;
    let lab_total = view["slip"]["reception"]["charge"]["total"]["minor"]
        .as_i64()
        .unwrap();
    step(t0, "lab dispatched to the offline counter");
    pause(2000).await;

    // Back: the delivery arrives, once.
    net.counter.start().await;
    let staff = net.counter_staff().await;
    let pickup = counter_wait_ready(&staff, &lab_number, 30).await;
    assert_eq!(pickup["lab_charge"]["total"], lab_total, "{pickup}");
    step(t0, "counter back, delivery ready");
    // Once more down and up mid-way: still one order, one reception, one charge.
    net.counter.restart().await;
    let staff = net.counter_staff().await;
    pause(1500).await;
    let orders = counter_orders_of(&staff, &placed.order).await;
    assert_eq!(orders.len(), 1, "one order at the counter: {orders:?}");
    let (_, found) = staff.get(&format!("/api/v1/pickups?q={lab_number}")).await;
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    let number = found[0]["reception_number"].as_str().unwrap().to_string();
    assert_eq!(number, "X0000001", "the counter's first reception: {found}");
    let due = pickup["amount_due"].as_i64().unwrap();
    collect_in_cash(&staff, &number, due).await;
    let order = wait_for_stage(&user, &placed.order, "collected", 30).await;
    let counts = stage_counts(&order);
    assert_eq!(counts.get("ready_for_pickup"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("dispatched"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("collected"), Some(&1), "{counts:?}");
    reprint_e2e::flows::settle_by_statement(&staff, &op).await;
    let settled = wait_for("the settlement at the lab", 30, || async {
        let l = ledger(&op).await;
        ((l.2 == lab_total).then_some(l), json!(format!("{l:?}")))
    })
    .await;
    assert_eq!(
        settled,
        (lab_total, lab_total, lab_total, 0),
        "charged once"
    );
    step(t0, "collected and settled once");

    // NATS goes away; the counter takes a walk-in order all the same.
    net.nats_mut().stop();
    step(t0, "nats-server stopped");
    let card = zip_of(&[
        ("DCIM/100CANON/IMG_0101.JPG", photo_jpeg(101, 640, 480, 85)),
        ("DCIM/100CANON/IMG_0102.JPG", photo_jpeg(102, 640, 480, 85)),
    ]);
    let form = reqwest::multipart::Form::new()
        .text("name", "Taro Suzuki")
        .text("telephone", "090-1111-2222")
        .text("lab", LAB)
        .text("size", "L")
        .text("quantity", "2")
        .part(
            "medium",
            reqwest::multipart::Part::bytes(card)
                .file_name("card.zip")
                .mime_str("application/zip")
                .unwrap(),
        );
    let (s, slip) = staff.post_multipart("/api/v1/intake", form).await;
    assert_eq!(s, 201, "a walk-in order with NATS down: {slip}");
    let walk_in = slip["order"].as_str().unwrap().to_string();
    assert_eq!(slip["reception_number"], "X0000002", "{slip}");
    step(t0, "walk-in order taken offline");
    pause(2000).await;
    assert!(
        lab_receptions_of(&op, &walk_in).await.is_empty(),
        "nothing reaches the lab without NATS"
    );

    net.nats_mut().start_again();
    step(t0, "nats-server back");
    let rows = wait_for("the walk-in order at the lab", 45, || async {
        let rows = lab_receptions_of(&op, &walk_in).await;
        ((!rows.is_empty()).then(|| rows.clone()), json!(rows))
    })
    .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let lab_walk_in = rows[0]["reception_number"].as_str().unwrap().to_string();
    assert_eq!(rows[0]["prints"], 4, "{rows:?}");
    // The lab's record reaches the counter.
    wait_for("the lab's number at the counter", 30, || async {
        let (_, v) = staff.get("/api/v1/pickups/X0000002").await;
        (
            (v["order"]["lab_reception"] == lab_walk_in.as_str()).then_some(()),
            v,
        )
    })
    .await;
    // Let any redelivery happen, then count again: once at the lab, once in its queue.
    pause(3000).await;
    assert_eq!(lab_receptions_of(&op, &walk_in).await.len(), 1);
    assert_eq!(
        lab_queue(&op, "received")
            .await
            .iter()
            .filter(|r| r["order_id"] == walk_in.as_str())
            .count(),
        1
    );
    assert_eq!(counter_orders_of(&staff, &walk_in).await.len(), 1);
    step(t0, "walk-in order received by the lab exactly once");
}
