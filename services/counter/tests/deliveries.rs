//! Fig. 1 at the counter: deliveries of internet orders create the counter's own file and
//! reception with its own charge (Fig. 9: basic charge 0 within a month of the previous order
//! here); the amount due adds the lab's and the counter's charges. The web user's file is found
//! by the registration number the order's sender holds for this counter, never by a name and
//! telephone (issue 13). On SQLite and on Postgres.

mod common;

use std::time::Duration;

use chrono::{TimeZone, Utc};
use common::*;
use reprint_domain::file::Route;
use reprint_domain::*;
use reprint_testkit::{NatsServer, TestPostgres, wait_for};

fn order_at(at: chrono::DateTime<Utc>, n: u8) -> OrderId {
    OrderId::from_parts(at.timestamp_millis() as u64, [n; 10])
}

fn items(n: u8) -> Vec<OrderItem> {
    vec![OrderItem {
        image: ImageId::of_bytes(&[n]),
        name: format!("IMG_{n}.JPG"),
        size: PrintSize::L,
        quantity: 2,
    }]
}

async fn internet_deliveries_and_fig9(store_url: Option<&str>) {
    let nats = NatsServer::start();
    let lab = LabPeer::start(&nats.url).await;
    let counter = spawn(&nats.url, store_url, "").await;
    let tokyo = chrono_tz::Asia::Tokyo;
    let first = tokyo
        .with_ymd_and_hms(2026, 11, 18, 10, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let second = tokyo
        .with_ymd_and_hms(2026, 12, 10, 10, 0, 0)
        .unwrap()
        .with_timezone(&Utc);

    // The first delivery of an internet order: the counter registers the user now (Fig. 1).
    let r1 = lab.reception(
        order_at(first, 1),
        Route::Internet,
        items(1),
        "B0000455",
        first,
    );
    let lab1 = r1.charge.total.minor;
    lab.dispatch(r1, customer("Hanako Yamada", "03-1234-5678"), None, first)
        .await;
    let (s, found) = wait_found(&counter, "B0000455").await;
    assert_eq!(s, 200, "{found}");
    let number = found[0]["reception_number"].as_str().unwrap().to_string();
    assert_eq!(number, "X0000001");
    assert_eq!(found[0]["route"], "internet");
    let view = counter.wait_ready(&number).await;
    assert_eq!(
        view["registration_number"], "W0000001",
        "the counter's own file was made"
    );
    assert_eq!(
        view["counter_charge"]["total"], 250,
        "first order here: basic charge"
    );
    assert_eq!(view["amount_due"], lab1 + 250);
    let (s, _) = counter
        .post_json(
            &format!("/api/v1/pickups/{number}/collect"),
            serde_json::json!({"method": "card"}),
        )
        .await;
    assert_eq!(s, 200);

    // Fig. 9: the second order within a month of the previous one here: counter basic 0.
    let r2 = lab.reception(
        order_at(second, 2),
        Route::Internet,
        items(2),
        "B0000460",
        second,
    );
    let lab2 = r2.charge.total.minor;
    lab.dispatch_to_file(
        r2,
        customer("hanako  YAMADA", "(03) 1234 5678"),
        None,
        Some("W0000001"),
        second,
    )
    .await;
    let (s, found) = wait_found(&counter, "B0000460").await;
    assert_eq!(s, 200, "{found}");
    let number2 = found[0]["reception_number"].as_str().unwrap().to_string();
    assert_eq!(number2, "X0000002");
    let view = counter.wait_ready(&number2).await;
    assert_eq!(
        view["registration_number"], "W0000001",
        "the same file, found by the registration number the order carried"
    );
    assert_eq!(
        view["counter_charge"]["total"], 0,
        "Fig. 9: basic charge waived within a month: {view}"
    );
    let lines: Vec<&str> = view["counter_charge"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["description"].as_str().unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("waived") && l.contains("2026-11-18")),
        "{lines:?}"
    );
    assert_eq!(
        view["amount_due"], lab2,
        "amount due = lab charge + counter charge (0)"
    );

    // Looked up by telephone: both receptions.
    let (s, list) = counter.get("/api/v1/pickups?q=03-1234-5678").await;
    assert_eq!((s, list.as_array().map(|a| a.len())), (200, Some(2)));

    // A redelivery of the same dispatch (a new message id: after the dedup window) changes
    // nothing. Under the first dispatch's id JetStream would drop it before the counter saw it.
    let r2_again = lab.reception(
        order_at(second, 2),
        Route::Internet,
        items(2),
        "B0000460",
        second,
    );
    let again = reprint_domain::protocol::DeliveryDispatched {
        order: r2_again.order,
        lab: lab.id.clone(),
        counter: SiteId::parse("counter-ginza").unwrap(),
        dispatched_at: second + chrono::Duration::seconds(1),
        extract: lab.extract(r2_again, "Hanako Yamada", "03-1234-5678"),
        customer: customer("Hanako Yamada", "03-1234-5678"),
        counter_reception: None,
        counter_registration_number: Some("W0000001".into()),
    };
    let site = reprint_bus::subjects::SiteId::parse("counter-ginza").unwrap();
    lab.send(
        reprint_bus::subjects::delivery_dispatched(&site),
        "a-redelivery-of-the-dispatch",
        &again,
    )
    .await;
    // Handled: the inbox records the message id in the transaction of its effects.
    let inbox =
        reprint_bus::streams::durable_consumer_for(&site, reprint_bus::subjects::SiteKind::Counter);
    wait_for(
        Duration::from_secs(20),
        "the redelivered dispatch handled by the counter's inbox",
        async || {
            counter
                .counter
                .store
                .inbox_contains(inbox.name(), "a-redelivery-of-the-dispatch")
                .await
                .unwrap()
        },
        |handled| *handled,
    )
    .await;
    let (_, arrivals) = counter.get("/api/v1/arrivals").await;
    assert_eq!(arrivals["ready"].as_array().unwrap().len(), 1, "{arrivals}");

    // Someone else's web order with Hanako's name and telephone but no number here: a file of
    // their own, the basic charge, nothing of Hanako's (issue 13).
    let r3 = lab.reception(
        order_at(second, 3),
        Route::Internet,
        items(3),
        "B0000461",
        second,
    );
    let lab3 = r3.charge.total.minor;
    lab.dispatch(r3, customer("Hanako Yamada", "03-1234-5678"), None, second)
        .await;
    let (s, found) = wait_found(&counter, "B0000461").await;
    assert_eq!(s, 200, "{found}");
    let number3 = found[0]["reception_number"].as_str().unwrap().to_string();
    let view = counter.wait_ready(&number3).await;
    assert_eq!(
        view["registration_number"], "W0000002",
        "a new file, not Hanako's: {view}"
    );
    assert_eq!(view["counter_charge"]["total"], 250, "{view}");
    assert_eq!(view["amount_due"], lab3 + 250);
    assert!(
        !view.to_string().contains("2026-11-18"),
        "nothing tells of Hanako's earlier order: {view}"
    );

    // Hanako's number with another telephone opens nothing either.
    let r4 = lab.reception(
        order_at(second, 4),
        Route::Internet,
        items(4),
        "B0000462",
        second,
    );
    lab.dispatch_to_file(
        r4,
        customer("Hanako Yamada", "03-9999-0000"),
        None,
        Some("W0000001"),
        second,
    )
    .await;
    let (s, found) = wait_found(&counter, "B0000462").await;
    assert_eq!(s, 200, "{found}");
    let number4 = found[0]["reception_number"].as_str().unwrap().to_string();
    let view = counter.wait_ready(&number4).await;
    assert_eq!(view["registration_number"], "W0000003", "{view}");
    assert_eq!(view["counter_charge"]["total"], 250, "{view}");
}

async fn wait_found(counter: &TestCounter, q: &str) -> (u16, serde_json::Value) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (s, v) = counter.get(&format!("/api/v1/pickups?q={q}")).await;
        if s == 200 || std::time::Instant::now() > deadline {
            return (s, v);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn sqlite_internet_deliveries_make_the_counters_file_and_fig9() {
    internet_deliveries_and_fig9(None).await;
}

#[tokio::test]
async fn postgres_internet_deliveries_make_the_counters_file_and_fig9() {
    let db = TestPostgres::create().await;
    internet_deliveries_and_fig9(Some(&db.url)).await;
}

/// Pickup here of a walk-in order counter-shibuya took in (seed 004, item (6)): the parcel
/// finds the customer's own file here by name and telephone, as staff would at this counter
/// (Figs. 8 and 9), so a return visit keeps Fig. 9's discount; another telephone is someone
/// else, a file of their own.
async fn another_counters_walk_in_finds_the_file_here(store_url: Option<&str>) {
    let nats = NatsServer::start();
    let lab = LabPeer::start(&nats.url).await;
    let counter = spawn(&nats.url, store_url, "").await;
    let tokyo = chrono_tz::Asia::Tokyo;
    let first = tokyo
        .with_ymd_and_hms(2026, 11, 18, 10, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let second = tokyo
        .with_ymd_and_hms(2026, 12, 10, 10, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    // Hanako's first order here: her file W0000001, collected.
    let r1 = lab.reception(
        order_at(first, 1),
        Route::Internet,
        items(1),
        "B0000455",
        first,
    );
    lab.dispatch(r1, customer("Hanako Yamada", "03-1234-5678"), None, first)
        .await;
    let (_, found) = wait_found(&counter, "B0000455").await;
    let number = found[0]["reception_number"].as_str().unwrap().to_string();
    let view = counter.wait_ready(&number).await;
    assert_eq!(view["registration_number"], "W0000001");
    let (s, _) = counter
        .post_json(
            &format!("/api/v1/pickups/{number}/collect"),
            serde_json::json!({"method": "card"}),
        )
        .await;
    assert_eq!(s, 200);

    let from_shibuya = async |n: u8, lab_number: &str, slip: &str, who: protocol::Customer| {
        let reception = lab.reception(
            order_at(second, n),
            Route::CounterMedium,
            items(n),
            lab_number,
            second,
        );
        let mut extract = lab.extract(reception.clone(), &who.name, &who.telephone);
        extract.other_counter = Some(delivery_counter::OtherCounter::ReceptionCounter(
            SiteId::parse("counter-shibuya").unwrap(),
        ));
        let msg = reprint_domain::protocol::DeliveryDispatched {
            order: reception.order,
            lab: lab.id.clone(),
            counter: SiteId::parse("counter-ginza").unwrap(),
            dispatched_at: second,
            extract,
            customer: who,
            counter_reception: Some(slip.to_string()),
            counter_registration_number: None,
        };
        lab.send(
            reprint_bus::subjects::delivery_dispatched(
                &reprint_bus::subjects::SiteId::parse("counter-ginza").unwrap(),
            ),
            &format!("lab-a:dispatch:{}", reception.order),
            &msg,
        )
        .await;
        let (s, found) = wait_found(&counter, slip).await;
        assert_eq!(s, 200, "found by Shibuya's slip {slip}: {found}");
        let number = found[0]["reception_number"].as_str().unwrap().to_string();
        counter.wait_ready(&number).await
    };

    // Taken in at Shibuya, collected here, typed there as the customer said it: her file.
    let view = from_shibuya(
        2,
        "B0000460",
        "Y0000005",
        customer("hanako  YAMADA", "(03) 1234 5678"),
    )
    .await;
    assert_eq!(
        view["registration_number"], "W0000001",
        "Hanako's file here, not a new one: {view}"
    );
    assert_eq!(
        view["counter_charge"]["total"], 0,
        "Fig. 9: her return within a month, basic charge waived: {view}"
    );
    // The same name with another telephone is someone else here.
    let view = from_shibuya(
        3,
        "B0000461",
        "Y0000006",
        customer("Hanako Yamada", "03-9999-0000"),
    )
    .await;
    assert_eq!(view["registration_number"], "W0000002", "{view}");
    assert_eq!(view["counter_charge"]["total"], 250, "{view}");
}

#[tokio::test]
async fn sqlite_another_counters_walk_in_finds_the_customers_file_here() {
    another_counters_walk_in_finds_the_file_here(None).await;
}
