//! Identity at a site (seed 004, Fig. 1 S304: the lab finds the user's individual user file by
//! the registration number the user sends), on a real nats-server and SQLite; the test plays the
//! gateway and the counter (`common`). A second web account with the same name and telephone as
//! someone who ordered here gets a file of its own: no discount from the other's history, not
//! the other's registration number, in the quote and at reception. The owner, sending their
//! number, still gets the Fig. 7 discount; a counter's walk-in is still found in person.

mod common;

use reprint_bus::subjects;
use reprint_domain::file::Route;
use reprint_domain::protocol::{Customer, QuoteReply, QuoteRequest, ReceptionRecorded, Sender};
use reprint_domain::*;

use common::*;

/// The same name and telephone as `hanako()`, typed by someone else on the web.
fn impostor() -> Customer {
    Customer {
        name: "hanako  YAMADA".into(),
        telephone: "(03) 1234-5678".into(),
        address: None,
        email: Some("someone.else@example.jp".into()),
        registration_number: None,
    }
}

fn waiver(charge: &Charge) -> Option<&str> {
    charge
        .lines
        .iter()
        .map(|l| l.description.as_str())
        .find(|d| d.contains("waived") || d.contains("previous order"))
}

#[tokio::test]
async fn a_name_and_telephone_from_the_web_open_nobody_elses_file() {
    let rig = Rig::new(false).await;
    let first_at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(first_at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut gateway = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let mut counter = peer.subscribe("reprint.v1.counter.>").await;
    let image = peer.upload(11).await;
    let slip = |order: OrderId| move |r: &ReceptionRecorded| r.order == order;

    // Hanako orders on the web: a new file, A0000001, the basic charge.
    let first = internet_order(image, PrintSize::L, first_at);
    peer.place(&first).await;
    let r1: ReceptionRecorded = next(&mut gateway, "reception.recorded", slip(first.order)).await;
    assert_eq!(r1.extract.registration_number.as_str(), "A0000001");
    assert_eq!(r1.extract.reception.charge.basic_charge().minor, 250);

    // Two days later someone signs up with her name and telephone and asks for a quote: the
    // gateway has no registration number at this lab for that account.
    let later = tokyo(2026, 11, 20, 15);
    lab.lab.clock.set(later);
    let quote: QuoteReply = peer
        .request(
            subjects::RpcMethod::Quote,
            &QuoteRequest {
                customer: impostor(),
                items: first.items.clone(),
                at: later,
                digital_copy: false,
            },
        )
        .await;
    assert_eq!(
        quote.charge.basic_charge().minor,
        250,
        "the quote waived the basic charge for a name and telephone: {:?}",
        quote.charge
    );
    assert_eq!(
        waiver(&quote.charge),
        None,
        "the quote tells of Hanako's order"
    );

    // Their order: a file of their own, not Hanako's number or name, and no discount.
    let mut second = internet_order(image, PrintSize::L, later);
    second.customer = impostor();
    peer.place(&second).await;
    let r2: ReceptionRecorded = next(&mut gateway, "reception.recorded", slip(second.order)).await;
    assert_eq!(
        r2.extract.registration_number.as_str(),
        "A0000002",
        "a web order without a registration number is a new file"
    );
    assert_ne!(
        r2.extract.name, r1.extract.name,
        "the slip shows Hanako's stored name"
    );
    assert_eq!(r2.extract.reception.charge.basic_charge().minor, 250);
    assert_eq!(waiver(&r2.extract.reception.charge), None);
    assert_eq!(
        r2.extract.reception.charge, quote.charge,
        "charged as quoted"
    );

    // A registration number that is no file here (or not for this telephone): new as well.
    let mut third = internet_order(image, PrintSize::L, later);
    third.customer = Customer {
        registration_number: Some("A0000099".into()),
        ..impostor()
    };
    peer.place(&third).await;
    let r3: ReceptionRecorded = next(&mut gateway, "reception.recorded", slip(third.order)).await;
    assert_eq!(r3.extract.registration_number.as_str(), "A0000003");
    assert_eq!(r3.extract.reception.charge.basic_charge().minor, 250);

    // Hanako, sending her number (as the gateway does once it has her slip): her quote and her
    // second order within a week are discounted (Fig. 7), on her file.
    let own = Customer {
        registration_number: Some("A0000001".into()),
        ..hanako()
    };
    let quote: QuoteReply = peer
        .request(
            subjects::RpcMethod::Quote,
            &QuoteRequest {
                customer: own.clone(),
                items: first.items.clone(),
                at: later,
                digital_copy: false,
            },
        )
        .await;
    assert_eq!(quote.charge.basic_charge().minor, 0, "{:?}", quote.charge);
    let mut again = internet_order(image, PrintSize::L, later);
    again.customer = own;
    peer.place(&again).await;
    let r4: ReceptionRecorded = next(&mut gateway, "reception.recorded", slip(again.order)).await;
    assert_eq!(r4.extract.registration_number.as_str(), "A0000001");
    assert_eq!(r4.extract.reception.charge.basic_charge().minor, 0);
    assert!(
        waiver(&r4.extract.reception.charge).is_some_and(|d| d.contains("2026-11-18")),
        "{:?}",
        r4.extract.reception.charge.lines
    );

    // A counter's walk-in (Fig. 2) is still found by name and telephone: staff confirmed the
    // person in front of them.
    let mut walk_in = internet_order(image, PrintSize::L, later);
    walk_in.route = Route::CounterMedium;
    walk_in.sender = Sender::Counter(site(COUNTER));
    walk_in.data_receive = None;
    walk_in.counter_extract = Some(counter_extract(later, walk_in.order));
    peer.place(&walk_in).await;
    let r5: ReceptionRecorded = next(&mut counter, "reception.recorded", slip(walk_in.order)).await;
    assert_eq!(r5.extract.registration_number.as_str(), "A0000001");
    lab.stop().await;
}
