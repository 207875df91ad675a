//! A counter on its own leaf node, as shipped (issue 19): the hub runs `deploy/nats/single.conf`
//! (JetStream domain `hub`), the counter's own nats-server `deploy/nats/leaf-counter.conf` (its
//! own domain `counter-ginza`), linked through a line the test cuts and restores
//! ([`reprint_e2e::leaf`]). The lab and the gateway are on the hub as their users of
//! users.conf; the counter is on its leaf with `nats.jetstream_domain = "hub"`.
//!
//! 1. Fig. 1 and Fig. 2 with the line cut for a while: the lab dispatches the home user's order
//!    while the counter cannot hear it (the delivery waits at the hub), and the counter takes a
//!    walk-in card (its outbox holds it); once the line is back everything arrives, once: one
//!    reception per order at the lab, one order per order at the counter, one status of each
//!    stage, each collected and paid once.
//! 2. The leaf's permissions at the hub hold: through the leaf, nobody reads counter-shibuya's
//!    deliveries (no subscription reaches them, no consumer on them can be made, no message get
//!    answers) nor speaks for another site.

use std::time::{Duration, Instant};

use futures::StreamExt;
use reprint_bus::connect::{ConnectSettings, connect_and_wait, site_inbox_prefix};
use reprint_bus::streams;
use reprint_bus::subjects::{self, OrderId, SiteId, SiteKind};
use reprint_e2e::flows::{
    collect_in_cash, counter_wait_ready, lab_print_and_dispatch, lab_queue, pause,
    place_internet_order, wait_for_slip, wait_for_stage,
};
use reprint_e2e::leaf::{self, LeafNetwork};
use reprint_e2e::media::{photo_jpeg, zip_of};
use reprint_e2e::nats_users::connect_as;
use reprint_e2e::{Client, LAB, Network, Options, stage_counts, step, wait_for};
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

/// Messages waiting for counter-ginza's inbox consumer at the hub, asked as counter-ginza
/// logged in at the hub itself.
async fn held_at_hub(hub_url: &str) -> u64 {
    let conn = connect_and_wait(
        &connect_as(hub_url, "counter-ginza"),
        Duration::from_secs(10),
    )
    .await
    .expect("counter-ginza at the hub");
    let mut consumer = conn
        .jetstream
        .get_stream(streams::STREAM_COUNTER)
        .await
        .expect("REPRINT_COUNTER")
        .get_consumer::<async_nats::jetstream::consumer::pull::Config>(
            "counter-counter-ginza-inbox",
        )
        .await
        .expect("counter-ginza's consumer at the hub");
    let info = consumer.info().await.expect("consumer info");
    info.num_pending + info.num_ack_pending as u64
}

/// A walk-in card of two photos, one L print each, taken at the counter for `LAB`.
async fn walk_in(staff: &Client, seed: u8) -> Value {
    let card = zip_of(&[
        (
            "DCIM/100CANON/IMG_0101.JPG",
            photo_jpeg(u32::from(seed), 640, 480, 85),
        ),
        (
            "DCIM/100CANON/IMG_0102.JPG",
            photo_jpeg(u32::from(seed) + 1, 640, 480, 85),
        ),
    ]);
    let form = reqwest::multipart::Form::new()
        .text("name", "Taro Suzuki")
        .text("telephone", "090-1111-2222")
        .text("lab", LAB)
        .text("size", "L")
        .text("quantity", "1")
        .part(
            "medium",
            reqwest::multipart::Part::bytes(card)
                .file_name("card.zip")
                .mime_str("application/zip")
                .unwrap(),
        );
    let (s, slip) = staff.post_multipart("/api/v1/intake", form).await;
    assert_eq!(s, 201, "a walk-in order at the counter: {slip}");
    slip
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_on_its_leaf_node_rides_out_a_cut_line_and_reads_only_its_own() {
    let t0 = Instant::now();
    let mut hub = LeafNetwork::start().await;
    step(
        t0,
        "hub (single.conf) and the counter's leaf (leaf-counter.conf) linked",
    );
    let net = Network::start_with(Options {
        nats_url: Some(hub.hub_url()),
        env: leaf::service_env(&hub),
        ..Options::default()
    })
    .await;
    // The counter announced itself in the hub's directory through its leaf.
    let leafz = hub.leafz().await;
    assert_eq!(leafz["leafs"][0]["name"], "counter-ginza-leaf", "{leafz}");
    let op = net.lab_operator().await;
    let staff = net.counter_staff().await;
    let user = net
        .home_user("hanako@example.jp", "Hanako Yamada", "03-1234-5678")
        .await;
    step(t0, "network up, the counter on its leaf");

    // Fig. 1: a home user orders for pickup at the counter; the lab receives it.
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
    let lab_total = view["slip"]["reception"]["charge"]["total"]["minor"]
        .as_i64()
        .unwrap();
    step(t0, "Fig. 1 order received by the lab");

    // The line goes down. The lab dispatches all the same: the delivery waits at the hub.
    hub.cut().await;
    step(t0, "line cut");
    lab_print_and_dispatch(&op, &lab_number).await;
    wait_for("the delivery held at the hub", 30, || async {
        let held = held_at_hub(&hub.hub_url()).await;
        ((held >= 1).then_some(held), json!(held))
    })
    .await;
    // Fig. 2: a walk-in card at the counter, taken while the line is down.
    let slip = walk_in(&staff, 101).await;
    let walk_in_order = slip["order"].as_str().unwrap().to_string();
    let walk_in_number = slip["reception_number"].as_str().unwrap().to_string();
    step(t0, "lab dispatched and walk-in taken with the line cut");
    pause(3000).await;
    assert!(
        lab_receptions_of(&op, &walk_in_order).await.is_empty(),
        "the walk-in reached the lab with the line cut\n{}\n{}",
        hub.leafz().await,
        hub.log_tails(30)
    );
    let (_, found) = staff.get(&format!("/api/v1/pickups?q={lab_number}")).await;
    assert!(
        found
            .as_array()
            .is_none_or(|a| a.iter().all(|p| p["state"] != "ready_for_pickup")),
        "the delivery reached the counter with the line cut: {found}"
    );

    // The line is back: the delivery arrives, the walk-in reaches the lab.
    hub.restore().await;
    step(t0, "line restored");
    let pickup = counter_wait_ready(&staff, &lab_number, 60).await;
    assert_eq!(pickup["lab_charge"]["total"], lab_total, "{pickup}");
    let rows = wait_for("the walk-in order at the lab", 60, || async {
        let rows = lab_receptions_of(&op, &walk_in_order).await;
        ((!rows.is_empty()).then(|| rows.clone()), json!(rows))
    })
    .await;
    let lab_walk_in = rows[0]["reception_number"].as_str().unwrap().to_string();
    step(t0, "delivery at the counter, walk-in at the lab");

    // Fig. 2 on: the lab prints the walk-in; the line goes down again before it dispatches.
    wait_for("the lab's number at the counter", 30, || async {
        let (_, v) = staff
            .get(&format!("/api/v1/pickups/{walk_in_number}"))
            .await;
        (
            (v["order"]["lab_reception"] == lab_walk_in.as_str()).then_some(()),
            v,
        )
    })
    .await;
    hub.cut().await;
    lab_print_and_dispatch(&op, &lab_walk_in).await;
    pause(2000).await;
    hub.restore().await;
    let walk_in_pickup = counter_wait_ready(&staff, &walk_in_number, 60).await;
    step(
        t0,
        "walk-in dispatched with the line cut, ready once it was back",
    );

    // One order each at the counter, then both collected and paid.
    for o in [&placed.order, &walk_in_order] {
        assert_eq!(counter_orders_of(&staff, o).await.len(), 1, "counter: {o}");
    }
    let due = pickup["amount_due"].as_i64().unwrap();
    let (_, found) = staff.get(&format!("/api/v1/pickups?q={lab_number}")).await;
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    let fig1_number = found[0]["reception_number"].as_str().unwrap().to_string();
    collect_in_cash(&staff, &fig1_number, due).await;
    collect_in_cash(
        &staff,
        &walk_in_number,
        walk_in_pickup["amount_due"].as_i64().unwrap(),
    )
    .await;
    wait_for_stage(&user, &placed.order, "collected", 60).await;
    step(t0, "both collected");

    // Let any redelivery happen, then count what the gateway shows then: every message
    // handled exactly once.
    pause(3000).await;
    let (_, order) = user.get(&format!("/api/v1/orders/{}", placed.order)).await;
    let counts = stage_counts(&order);
    // "received" twice by design (the lab's slip and its status; see tests/tests/cluster.rs);
    // the statuses from the counter (ready, collected) came through its leaf.
    for (stage, n) in [
        ("placed", 1),
        ("received", 2),
        ("printed", 1),
        ("dispatched", 1),
        ("ready_for_pickup", 1),
        ("collected", 1),
    ] {
        assert_eq!(counts.get(stage), Some(&n), "{stage}: {counts:?}");
    }
    for o in [&placed.order, &walk_in_order] {
        assert_eq!(lab_receptions_of(&op, o).await.len(), 1, "lab: {o}");
    }
    for q in [&lab_number, &lab_walk_in] {
        let (_, found) = staff.get(&format!("/api/v1/pickups?q={q}")).await;
        assert_eq!(found.as_array().map(Vec::len), Some(1), "{q}: {found}");
    }
    assert_eq!(
        lab_queue(&op, "received")
            .await
            .iter()
            .filter(|r| r["order_id"] == walk_in_order.as_str()
                || r["order_id"] == placed.order.as_str())
            .count(),
        0,
        "both orders moved on at the lab"
    );
    assert_eq!(
        held_at_hub(&hub.hub_url()).await,
        0,
        "nothing left at the hub"
    );
    // The services on the hub never touched a subject they may not use (the hub logs the
    // refusals of its clients; a leaf's it drops without a word).
    let log = hub.hub_log();
    let violations: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("Violation") || l.contains("Authorization Error"))
        .collect();
    assert!(violations.is_empty(), "{violations:#?}");
    step(t0, "every message delivered exactly once");

    // The leaf's permissions: a client on the counter's leaf (everything it sends to the hub
    // goes as leaf-counter-ginza) cannot read counter-shibuya's deliveries.
    let lab = connect_and_wait(&connect_as(hub.hub_url(), "lab-a"), Duration::from_secs(10))
        .await
        .expect("lab-a at the hub");
    let shibuya = SiteId::parse("counter-shibuya").unwrap();
    let mut probe_settings = ConnectSettings::new(hub.leaf_url(), "probe-on-the-leaf")
        .with_inbox_prefix(site_inbox_prefix("counter-ginza"))
        .with_jetstream_domain(Some("hub".into()));
    probe_settings.request_timeout = Duration::from_secs(2);
    let probe = connect_and_wait(&probe_settings, Duration::from_secs(10))
        .await
        .expect("a client on the leaf");
    // The line works: its own consumer answers through the hub.
    let own =
        streams::durable_consumer_for(&SiteId::parse("counter-ginza").unwrap(), SiteKind::Counter);
    streams::ensure_consumer(&probe.jetstream, &own)
        .await
        .expect("counter-ginza's own consumer through the leaf");
    // No subscription on the leaf hears shibuya's deliveries.
    let mut heard = probe
        .client
        .subscribe("reprint.v1.counter.counter-shibuya.>")
        .await
        .expect("subscribe on the leaf");
    let mut heard_all = probe
        .client
        .subscribe("reprint.v1.counter.>")
        .await
        .expect("subscribe on the leaf");
    probe.client.flush().await.expect("flush");
    pause(500).await;
    lab.jetstream
        .publish(
            subjects::delivery_dispatched(&shibuya),
            "delivery for counter-shibuya".into(),
        )
        .await
        .expect("publish")
        .await
        .expect("the lab dispatches to counter-shibuya");
    for sub in [&mut heard, &mut heard_all] {
        let got = tokio::time::timeout(Duration::from_secs(2), sub.next()).await;
        assert!(got.is_err(), "the leaf heard shibuya's delivery: {got:?}");
    }
    // No consumer on shibuya's deliveries, by its name or by ginza's with shibuya's filter.
    let theirs = streams::durable_consumer_for(&shibuya, SiteKind::Counter);
    let made = streams::ensure_consumer(&probe.jetstream, &theirs).await;
    assert!(
        made.is_err(),
        "a consumer on shibuya's inbox through the leaf"
    );
    let mut sneaky = own.clone();
    sneaky.config.filter_subject =
        subjects::inbox_filter(&subjects::Address::counter(shibuya.clone()));
    let made = streams::ensure_consumer(&probe.jetstream, &sneaky).await;
    assert!(made.is_err(), "ginza's consumer pointed at shibuya's inbox");
    // No message get on the inbox stream.
    for subject in [
        "$JS.hub.API.STREAM.MSG.GET.REPRINT_COUNTER",
        "$JS.hub.API.DIRECT.GET.REPRINT_COUNTER",
    ] {
        let body = json!({"last_by_subj": subjects::delivery_dispatched(&shibuya)});
        let got = probe.client.request(subject, body.to_string().into()).await;
        assert!(
            got.as_ref()
                .map_or(true, |m| !String::from_utf8_lossy(&m.payload)
                    .contains("delivery for")),
            "{subject} answered: {got:?}"
        );
    }
    // Nor speaks for another site: a status of lab-a's is not stored, its own is.
    let forged = probe
        .jetstream
        .publish(
            subjects::status(
                &SiteId::parse(LAB).unwrap(),
                &OrderId::parse("o-forged").unwrap(),
            ),
            "printed".into(),
        )
        .await;
    let stored = match forged {
        Ok(ack) => ack.await.is_ok(),
        Err(_) => false,
    };
    assert!(!stored, "a status of lab-a's through the leaf was stored");
    probe
        .jetstream
        .publish(
            subjects::status(
                &SiteId::parse("counter-ginza").unwrap(),
                &OrderId::parse("o-own").unwrap(),
            ),
            "arrived".into(),
        )
        .await
        .expect("publish")
        .await
        .expect("its own status goes through the leaf");
    // And shibuya's consumer was never made at the hub.
    let shibuya_at_hub = connect_and_wait(
        &connect_as(hub.hub_url(), "counter-shibuya"),
        Duration::from_secs(10),
    )
    .await
    .expect("counter-shibuya at the hub");
    let stream = shibuya_at_hub
        .jetstream
        .get_stream(streams::STREAM_COUNTER)
        .await
        .expect("REPRINT_COUNTER");
    assert!(
        stream
            .get_consumer::<async_nats::jetstream::consumer::pull::Config>(
                "counter-counter-shibuya-inbox"
            )
            .await
            .is_err(),
        "counter-shibuya's consumer exists at the hub"
    );
    // The delivery is there for its owner: counter-shibuya at the hub makes its consumer; a
    // pull from it through the leaf gets nothing, the owner's own pull gets the delivery.
    let theirs_at_hub = streams::ensure_consumer(&shibuya_at_hub.jetstream, &theirs)
        .await
        .expect("counter-shibuya's own consumer at the hub");
    let stolen = probe
        .client
        .request(
            "$JS.hub.API.CONSUMER.MSG.NEXT.REPRINT_COUNTER.counter-counter-shibuya-inbox",
            json!({"batch": 1, "expires": 1_000_000_000})
                .to_string()
                .into(),
        )
        .await;
    assert!(
        stolen
            .as_ref()
            .map_or(true, |m| !String::from_utf8_lossy(&m.payload)
                .contains("delivery for")),
        "a pull from shibuya's consumer through the leaf: {stolen:?}"
    );
    let mut batch = theirs_at_hub
        .fetch()
        .max_messages(1)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .expect("counter-shibuya pulls");
    let m = batch
        .next()
        .await
        .expect("counter-shibuya's delivery is there")
        .expect("a message");
    assert_eq!(&m.payload[..], b"delivery for counter-shibuya");
    step(t0, "the leaf reads only its own and speaks only for itself");
}
