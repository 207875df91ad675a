//! The digital copy (seed 000, claims 2 and 18: "a digital media containing the image"; issue
//! 14): ordered with the prints on the gateway, quoted and charged by the lab at its catalog's
//! price (undiscounted), paid at the counter with the prints, and downloaded by the owner once
//! the prints are ready: a ZIP holding each original, unchanged, with its print history.

use std::io::{Cursor, Read};
use std::time::Instant;

use reprint_e2e::flows::{
    collect_in_cash, counter_wait_ready, lab_print_and_dispatch, wait_for_slip, wait_for_stage,
};
use reprint_e2e::media::photo_jpeg;
use reprint_e2e::{COUNTER, LAB, Network, step};
use serde_json::{Value, json};

/// The lab's price of the digital copy in deploy/local/lab-a.toml.
const PRICE: i64 = 100;

fn lines_of(charge: &Value, kind: &str) -> Vec<Value> {
    charge["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == kind || l["kind"].get(kind).is_some())
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_digital_copy_is_quoted_charged_paid_and_downloaded_once_ready() {
    let t0 = Instant::now();
    let net = Network::start().await;
    let user = net
        .home_user("hanako@example.jp", "Hanako Yamada", "03-1234-5678")
        .await;
    let stranger = net
        .home_user("jiro@example.jp", "Jiro Sato", "03-9999-0000")
        .await;
    let op = net.lab_operator().await;
    let staff = net.counter_staff().await;
    step(t0, "network up");

    // The lab's catalog offers it at its price.
    let (s, catalog) = user.get(&format!("/api/v1/sites/{LAB}/catalog")).await;
    assert_eq!(s, 200, "{catalog}");
    let offered = catalog["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "digital-copy:zip")
        .cloned()
        .expect("digital-copy:zip in the catalog");
    assert_eq!(offered["unit_price"]["minor"], PRICE, "{offered}");

    // Two photos, one of them in two sizes: the copy holds each original once.
    let beach = photo_jpeg(1, 1200, 800, 90);
    let park = photo_jpeg(2, 1000, 750, 90);
    let (s, created) = user.post("/api/v1/orders", &json!({})).await;
    assert_eq!(s, 201, "{created}");
    let order = created["order"].as_str().unwrap().to_string();
    let (s, r) = user
        .put(
            &format!("/api/v1/orders/{order}/storage"),
            &json!({"bytes": beach.len() + park.len() + 1024}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let mut ids = Vec::new();
    for (name, bytes) in [("beach.jpg", &beach), ("park.jpg", &park)] {
        let (s, up) = user
            .put_bytes(
                &format!("/api/v1/orders/{order}/images?name={name}"),
                bytes.clone(),
            )
            .await;
        assert_eq!(s, 201, "{up}");
        ids.push(up["image"].as_str().unwrap().to_string());
    }
    let req = json!({
        "lab": LAB,
        "counter": COUNTER,
        "items": [
            {"image": ids[0], "size": "L", "quantity": 2},
            {"image": ids[0], "size": "2L", "quantity": 1},
            {"image": ids[1], "size": "L", "quantity": 1},
        ],
        "digital_copy": true,
    });

    // Quoted: the lab's charge has the copy's line at its price; the counter's has none.
    let (s, quote) = user
        .post(&format!("/api/v1/orders/{order}/quote"), &req)
        .await;
    assert_eq!(s, 200, "quote: {quote}");
    let copy = lines_of(&quote["lab"]["charge"], "digital_copy");
    assert_eq!(copy.len(), 1, "{quote}");
    assert_eq!(copy[0]["amount"]["minor"], PRICE, "{quote}");
    assert!(
        lines_of(&quote["counter"]["charge"], "digital_copy").is_empty(),
        "{quote}"
    );
    let prints = 2 * 30 + 80 + 30;
    assert_eq!(
        quote["lab"]["charge"]["total"]["minor"],
        250 + prints + PRICE,
        "{quote}"
    );
    // Without it, the same order costs the price less.
    let mut plain = req.clone();
    plain["digital_copy"] = json!(false);
    let (s, q2) = user
        .post(&format!("/api/v1/orders/{order}/quote"), &plain)
        .await;
    assert_eq!(s, 200, "{q2}");
    assert_eq!(q2["lab"]["charge"]["total"]["minor"], 250 + prints, "{q2}");
    step(t0, "quoted");

    // Placed; before the prints are ready there is nothing to download.
    let (s, v) = user
        .post_with(
            &format!("/api/v1/orders/{order}/submit"),
            &req,
            &[("Idempotency-Key", "dc-1")],
        )
        .await;
    assert_eq!(s, 200, "submit: {v}");
    let path = format!("/api/v1/orders/{order}/digital-copy");
    let (s, _, body) = user.get_bytes(&path).await;
    assert_eq!(s, 409, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("digital_copy_not_ready"));

    // The lab charges what it quoted, copy included.
    let view = wait_for_slip(&user, &order, 30).await;
    let lab_charge = view["slip"]["reception"]["charge"].clone();
    assert_eq!(
        lab_charge["total"], quote["lab"]["charge"]["total"],
        "{lab_charge}"
    );
    assert_eq!(
        lines_of(&lab_charge, "digital_copy").len(),
        1,
        "{lab_charge}"
    );
    let reception = view["slip"]["reception"]["number"]
        .as_str()
        .unwrap()
        .to_string();
    lab_print_and_dispatch(&op, &reception).await;
    let pickup = counter_wait_ready(&staff, &reception, 30).await;
    let lab_total = 250 + prints + PRICE;
    assert_eq!(pickup["lab_charge"]["total"], lab_total, "{pickup}");
    wait_for_stage(&user, &order, "ready_for_pickup", 30).await;
    step(t0, "ready for pickup");

    // The owner downloads it: one container per original, each the original unchanged with
    // its print history naming this lab's reception.
    let (s, mime, zip) = user.get_bytes(&path).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&zip));
    assert_eq!(mime, "application/zip");
    let mut outer = zip::ZipArchive::new(Cursor::new(zip)).expect("a ZIP");
    let names: Vec<String> = outer.file_names().map(str::to_string).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    for (want_name, original) in [("beach.jpg", &beach), ("park.jpg", &park)] {
        let entry = names
            .iter()
            .find(|n| n.ends_with(&format!("{want_name}.zip")))
            .unwrap_or_else(|| panic!("{want_name} in {names:?}"));
        let mut inner = Vec::new();
        outer
            .by_name(entry)
            .unwrap()
            .read_to_end(&mut inner)
            .unwrap();
        let c = reprint_media::history::container::read_container(
            Cursor::new(inner),
            &reprint_media::validate::Limits::default(),
        )
        .expect("a container the sites read back");
        assert_eq!(c.image_name, want_name);
        assert_eq!(&c.image, original, "the original, unchanged");
        let history = serde_json::to_value(&c.history).unwrap();
        assert!(
            history.to_string().contains(&reception),
            "this order's print in its history: {history}"
        );
    }
    // Someone else: not found, as any order not theirs.
    let (s, _, _) = stranger.get_bytes(&path).await;
    assert_eq!(s, 404);
    step(t0, "downloaded");

    // Paid at the counter with the prints; still there after.
    let number = pickup["order"]["reception_number"].as_str().unwrap();
    let counter_total = pickup["counter_charge"]["total"].as_i64().unwrap();
    collect_in_cash(&staff, number, lab_total + counter_total).await;
    wait_for_stage(&user, &order, "collected", 30).await;
    let (s, _, _) = user.get_bytes(&path).await;
    assert_eq!(s, 200);
    step(t0, "collected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_without_it_has_no_digital_copy_and_old_requests_still_place() {
    let net = Network::start().await;
    let user = net
        .home_user("hanako@example.jp", "Hanako Yamada", "03-1234-5678")
        .await;
    let placed = reprint_e2e::flows::place_internet_order(
        &user,
        &[("beach.jpg", photo_jpeg(3, 800, 600, 90))],
        1,
        true,
    )
    .await;
    let quote = placed.quote.unwrap();
    assert!(
        lines_of(&quote["lab"]["charge"], "digital_copy").is_empty(),
        "{quote}"
    );
    let (s, _, _) = user
        .get_bytes(&format!("/api/v1/orders/{}/digital-copy", placed.order))
        .await;
    assert_eq!(s, 404);
}
