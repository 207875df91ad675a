//! Orders received by the lab in process, on a real nats-server and a real store (SQLite, and
//! Postgres once); the tests play the gateway and the counter themselves (`common`). Figs. 6
//! and 7 (the individual user file: registration, reception numbers, repeat-order discounts),
//! orders the lab rejects (and records nothing of), a redelivered order, a restart in the middle
//! of a batch, and the one order check's words.

mod common;

use std::time::Duration;

use reprint_bus::subjects;
use reprint_domain::file::Route;
use reprint_domain::protocol::{
    CatalogReply, Customer, LocaleReply, OrderRejected, QuoteReply, QuoteRequest,
    ReceptionRecorded, RejectCode, Stage, StatusChanged,
};
use reprint_domain::*;

use common::*;

// ------------------------------------------------------------------ Figs. 6 and 7

async fn figs_6_and_7(pg: bool) {
    let rig = Rig::new(pg).await;
    let first_at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(first_at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let mut status = peer.subscribe("reprint.v1.status.>").await;
    let image = peer.upload(1).await;

    // First order: basic charge 250 yen, a new registration and the first reception number.
    let first = internet_order(image, PrintSize::L, first_at);
    peer.place(&first).await;
    let r1: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == first.order,
    )
    .await;
    assert_eq!(r1.extract.registration_number.as_str(), "A0000001");
    assert_eq!(r1.extract.reception.number.as_str(), "B0000001");
    assert_eq!(r1.extract.reception.charge.basic_charge().minor, 250);
    assert_eq!(r1.extract.reception.charge.total.minor, 250 + 2 * 30);
    assert_eq!(r1.extract.reception.route, Route::Internet);
    assert_eq!(r1.extract.reception.partner, site(COUNTER));
    assert!(
        r1.extract.reception.data_receive.is_some(),
        "(4) and (5) recorded"
    );
    assert!(
        r1.extract.address.is_none(),
        "the slip carries only what is needed"
    );
    let finish = r1.estimated_finish.expect("(8) estimated finish");
    assert!(
        finish > first_at && finish <= first_at + chrono::Duration::hours(2),
        "{finish}"
    );
    let s: StatusChanged = next(&mut status, "", |s: &StatusChanged| s.order == first.order).await;
    assert_eq!(s.stage, Stage::Received);
    assert_eq!(s.charge.as_ref().map(|c| c.total.minor), Some(310));

    // A quote three days later: within a week, basic charge 0; nothing recorded.
    let second_at = tokyo(2026, 11, 21, 15);
    lab.lab.clock.set(second_at);
    let quote: QuoteReply = peer
        .request(
            subjects::RpcMethod::Quote,
            &QuoteRequest {
                // As the gateway asks: with the registration number the slip gave the user.
                customer: Customer {
                    telephone: "(03) 1234 5678".into(),
                    registration_number: Some("A0000001".into()),
                    ..hanako()
                },
                items: first.items.clone(),
                at: second_at,
                digital_copy: false,
            },
        )
        .await;
    assert_eq!(quote.charge.basic_charge().minor, 0, "{:?}", quote.charge);
    let catalog: CatalogReply = peer
        .request(subjects::RpcMethod::Catalog, &serde_json::json!({}))
        .await;
    assert_eq!(catalog.basic_charge.minor, 250);
    assert!(
        catalog
            .products
            .iter()
            .any(|p| p.code == "print:L" && p.unit_price.minor == 30)
    );
    assert!(
        catalog
            .products
            .iter()
            .any(|p| p.code == "digital-copy:zip")
    );
    assert_eq!(catalog.icc_profiles, vec!["sRGB".to_string()]);
    assert!(
        catalog.policy_summary.contains("7 days"),
        "{}",
        catalog.policy_summary
    );
    let locale: LocaleReply = peer
        .request(subjects::RpcMethod::Locale, &serde_json::json!({}))
        .await;
    assert_eq!(locale.time_zone, "Asia/Tokyo");
    assert_eq!(locale.currency, Currency::JPY);

    // Second order within a week (Fig. 7, B0000456's case): basic charge 0.
    let mut second = internet_order(image, PrintSize::L, second_at);
    second.customer.telephone = "03 1234 5678".into();
    second.customer.registration_number = Some("A0000001".into());
    peer.place(&second).await;
    let r2: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == second.order,
    )
    .await;
    assert_eq!(
        r2.extract.registration_number.as_str(),
        "A0000001",
        "found, not registered again"
    );
    assert_eq!(
        r2.extract.reception.number.as_str(),
        "B0000002",
        "no gap after the quote"
    );
    assert_eq!(r2.extract.reception.charge.basic_charge().minor, 0);
    assert!(
        r2.extract
            .reception
            .charge
            .lines
            .iter()
            .any(|l| l.description.contains("waived")),
        "{:?}",
        r2.extract.reception.charge.lines
    );

    // A third order five weeks later, under "free within a week, 50 % within a month": full.
    let third_at = second_at + chrono::Duration::weeks(5);
    lab.lab.clock.set(third_at);
    let third = internet_order(image, PrintSize::L2, third_at);
    peer.place(&third).await;
    let r3: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == third.order,
    )
    .await;
    assert_eq!(r3.extract.reception.number.as_str(), "B0000003");
    assert_eq!(r3.extract.reception.charge.basic_charge().minor, 250);
    assert_eq!(r3.extract.reception.charge.total.minor, 250 + 2 * 80);

    // The lab is in the site directory.
    let dir = reprint_bus::directory::Directory::open(&peer.js, 1)
        .await
        .unwrap();
    let entry = dir
        .get(&subjects::SiteId::parse(LAB).unwrap())
        .await
        .unwrap()
        .expect("announced");
    assert_eq!(entry.site.name, "A Corporation's laboratory");
    assert!(entry.site.sizes.contains(&"L".to_string()));
    lab.stop().await;
}

#[tokio::test]
async fn figs_6_and_7_through_the_service_on_sqlite() {
    figs_6_and_7(false).await;
}

#[tokio::test]
async fn figs_6_and_7_through_the_service_on_postgres() {
    figs_6_and_7(true).await;
}

// ------------------------------------------------------------------ rejections

#[tokio::test]
async fn rejected_orders_reach_the_sender_and_record_nothing() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    // Printers for L and 2L only: 5x7 is priced but no printer makes it.
    let lab = Running::start(
        rig.config_with(|t| t.replace("sizes = [\"5x7\", \"8x10\"]", "sizes = [\"8x10\"]")),
        Some(at),
    )
    .await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let mut status = peer.subscribe("reprint.v1.status.>").await;
    let image = peer.upload(2).await;

    let unknown_size = internet_order(image, PrintSize::In5x7, at);
    peer.place(&unknown_size).await;
    let rej: OrderRejected = next(&mut replies, "order.rejected", |r: &OrderRejected| {
        r.order == unknown_size.order
    })
    .await;
    assert_eq!(rej.code, RejectCode::UnknownSize);
    assert!(rej.reason.contains("5x7"), "{}", rej.reason);
    let s: StatusChanged = next(&mut status, "", |s: &StatusChanged| {
        s.order == unknown_size.order
    })
    .await;
    assert_eq!(s.stage, Stage::Rejected);

    let missing = internet_order(ImageId::of_bytes(b"never uploaded"), PrintSize::L, at);
    peer.place(&missing).await;
    let rej: OrderRejected = next(&mut replies, "order.rejected", |r: &OrderRejected| {
        r.order == missing.order
    })
    .await;
    assert_eq!(rej.code, RejectCode::ImageMissing);

    let mut wrong_currency = internet_order(image, PrintSize::L, at);
    wrong_currency.currency = Currency::EUR;
    peer.place(&wrong_currency).await;
    let rej: OrderRejected = next(&mut replies, "order.rejected", |r: &OrderRejected| {
        r.order == wrong_currency.order
    })
    .await;
    assert_eq!(rej.code, RejectCode::WrongCurrency);

    let mut unknown_counter = internet_order(image, PrintSize::L, at);
    unknown_counter.delivery_counter = site("counter-nowhere");
    peer.place(&unknown_counter).await;
    let rej: OrderRejected = next(&mut replies, "order.rejected", |r: &OrderRejected| {
        r.order == unknown_counter.order
    })
    .await;
    assert_eq!(rej.code, RejectCode::UnknownCounter);

    // Nothing was recorded: the next good order gets the first numbers.
    let good = internet_order(image, PrintSize::L, at);
    peer.place(&good).await;
    let ok: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == good.order,
    )
    .await;
    assert_eq!(ok.extract.registration_number.as_str(), "A0000001");
    assert_eq!(ok.extract.reception.number.as_str(), "B0000001");
    lab.stop().await;
}

// ------------------------------------------------------------------ redelivery

#[tokio::test]
async fn a_redelivered_order_records_one_reception() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let image = peer.upload(3).await;
    let order = internet_order(image, PrintSize::L, at);
    peer.place(&order).await;
    let first: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == order.order,
    )
    .await;
    let lab_subject = subjects::order_placed(&subjects::SiteId::parse(LAB).unwrap());
    // The same order again: same message id (JetStream's window), then another id (past it).
    peer.place(&order).await;
    peer.publish(lab_subject.clone(), "a-different-message-id", &order)
        .await;
    // A marker order after them: when its reception is there, the copies were handled.
    let mut marker = internet_order(image, PrintSize::L, at);
    marker.customer.name = "Taro Suzuki".into();
    marker.customer.telephone = "090-1111-2222".into();
    peer.place(&marker).await;
    let m: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == marker.order,
    )
    .await;
    assert_eq!(first.extract.reception.number.as_str(), "B0000001");
    assert_eq!(
        m.extract.reception.number.as_str(),
        "B0000002",
        "one reception for the order, no gap"
    );
    let mut tx = lab.lab.store.begin().await.unwrap();
    assert_eq!(tx.stream_version("sequence-reception").await.unwrap(), 2);
    let rows = reprint_site::index::receptions_by_telephone(&mut tx, "0312345678")
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    drop(tx);
    lab.stop().await;
}

// ------------------------------------------------------------------ restart

#[tokio::test]
async fn a_restart_in_the_middle_of_a_batch_loses_nothing() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let peer = Peer::connect(&rig.nats.url).await;
    let image = peer.upload(4).await;
    // Small batches, so that the stop falls between and inside them.
    let small = |t: String| t.replace("batch_size = 64", "batch_size = 4");
    let lab = Running::start(rig.config_with(small), Some(at)).await;
    const N: usize = 60;
    let mut orders = Vec::new();
    for i in 0..N {
        let mut o = internet_order(image, PrintSize::L, at);
        o.customer.name = format!("Customer {i}");
        o.customer.telephone = format!("03-5555-{:04}", i);
        orders.push(o);
    }
    for o in &orders {
        peer.place(o).await;
    }
    // Stop at once: some batches are done, one may be in hand, the rest still queued.
    lab.stop().await;
    let before = {
        let store = reprint_eventstore::Store::open(&rig.store_url)
            .await
            .unwrap();
        let mut tx = store.begin().await.unwrap();
        let n = tx.stream_version("sequence-reception").await.unwrap();
        drop(tx);
        store.close().await;
        n
    };
    eprintln!("{before} of {N} orders recorded before the restart");

    let lab = Running::start(rig.config_with(small), Some(at)).await;
    let mut seen = std::collections::HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let mut tx = lab.lab.store.begin().await.unwrap();
        let n = reprint_lab::db::scalar_i64(&mut tx, "SELECT COUNT(*) FROM lab_receptions", &[])
            .await
            .unwrap();
        drop(tx);
        if n as usize == N {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {n} of {N} recorded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut tx = lab.lab.store.begin().await.unwrap();
    assert_eq!(
        tx.stream_version("sequence-reception").await.unwrap(),
        N as u64,
        "each exactly once"
    );
    for o in &orders {
        let row = reprint_lab::db::production_by_order(&mut tx, &o.order.to_string())
            .await
            .unwrap();
        assert!(row.is_some(), "order {} recorded", o.order);
        seen.insert(row.unwrap().reception_number);
    }
    assert_eq!(seen.len(), N);
    drop(tx);
    lab.stop().await;
}

#[tokio::test]
async fn an_order_the_check_refuses_is_rejected_in_the_checks_words() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let image = peer.upload(24).await;
    let mut rotated = internet_order(image, PrintSize::L, at);
    rotated.items[0].edits = Some(r#"[{"op":"rotate","degrees":45}]"#.into());
    let mut thousand = internet_order(image, PrintSize::L, at);
    thousand.items[0].quantity = 1000;
    for order in [&rotated, &thousand] {
        peer.place(order).await;
        let rej: OrderRejected = next(&mut replies, "order.rejected", |r: &OrderRejected| {
            r.order == order.order
        })
        .await;
        let expected =
            reprint_domain::check_order(&order.customer, &order.items, &[PrintSize::L][..])
                .unwrap_err();
        assert_eq!(rej.code, RejectCode::InvalidOrder);
        assert_eq!(rej.reason, expected.to_string());
    }
    lab.stop().await;
}
