//! A user's cancellation at the lab in process (`order.cancelled`, from the gateway): before
//! printing it cancels the reception once; overtaking its order it closes the order unopened;
//! after printing started it comes too late.

mod common;

use reprint_bus::subjects;
use reprint_domain::file::{self, Route};
use reprint_domain::protocol::{OrderRejected, ReceptionRecorded, Sender, Stage, StatusChanged};
use reprint_domain::*;

use common::*;

// ------------------------------------------------------------------ the user's cancellation

#[tokio::test]
async fn a_cancellation_before_printing_cancels_the_reception_once() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let mut status = peer.subscribe("reprint.v1.status.>").await;
    let image = peer.upload(7).await;

    // A cancellation of an order the lab has not received: kept apart, it takes no number.
    let early = internet_order(image, PrintSize::L, at);
    peer.cancel(early.order, "early-cancel").await;

    let order = internet_order(image, PrintSize::L, at);
    peer.place(&order).await;
    let r: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == order.order,
    )
    .await;
    let number = r.extract.reception.number.as_str().to_string();
    assert_eq!(number, "B0000001", "the early cancellation took no number");
    let versions_before = file_version(&lab, order.order).await;

    peer.cancel(order.order, "cancel-1").await;
    let s: StatusChanged = next(&mut status, "", |s: &StatusChanged| {
        s.order == order.order && s.stage == Stage::Cancelled
    })
    .await;
    assert_eq!(s.site, site(LAB));
    assert!(s.detail.contains(&number), "{}", s.detail);
    assert!(
        matches!(
            reception_state(&lab, order.order).await,
            file::ReceptionState::Cancelled { .. }
        ),
        "the reception is cancelled in the user file"
    );
    assert_eq!(file_version(&lab, order.order).await, versions_before + 1);
    assert_eq!(
        log_states(&lab, order.order).await,
        ["received", "cancelled"]
    );

    // Redelivery: the same message id (JetStream's window), then another id (past it).
    peer.cancel(order.order, "cancel-1").await;
    peer.cancel(order.order, "cancel-1-again").await;
    drain(&peer, &mut replies, image, at).await;
    assert_eq!(
        file_version(&lab, order.order).await,
        versions_before + 1,
        "no second event in the file"
    );
    assert_eq!(
        log_states(&lab, order.order).await,
        ["received", "cancelled"]
    );

    // The console: off the queue, on the cancelled list; printing it is refused.
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let csrf = log_in(&http, &lab).await;
    let queue: serde_json::Value = http
        .get(lab.url("/api/v1/receptions?state=received"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !queue.to_string().contains(&number),
        "not in the received queue: {queue}"
    );
    let cancelled: serde_json::Value = http
        .get(lab.url("/api/v1/receptions?state=cancelled"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(cancelled.to_string().contains(&number), "{cancelled}");
    let r = http
        .post(lab.url(&format!("/api/v1/receptions/{number}/start-printing")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let hot = rig.dir.path().join("hot/minilab-1");
    assert!(
        !hot.exists() || list(&hot).is_empty(),
        "nothing in the hot folder"
    );

    // The early cancellation opened nothing: no reception, no parked message.
    let mut tx = lab.lab.store.begin().await.unwrap();
    assert!(
        reprint_lab::db::production_by_order(&mut tx, &early.order.to_string())
            .await
            .unwrap()
            .is_none()
    );
    drop(tx);
    let parked = lab
        .lab
        .store
        .parked(&reprint_lab::inbox::consumer_name(&site(LAB)))
        .await
        .unwrap();
    assert!(parked.is_empty(), "{parked:?}");
    lab.stop().await;
}

#[tokio::test]
async fn a_cancellation_that_overtakes_its_order_closes_it_unopened() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let mut counter_inbox = peer
        .subscribe(&format!("reprint.v1.counter.{COUNTER}.>"))
        .await;
    let mut status = peer.subscribe("reprint.v1.status.>").await;
    let image = peer.upload(9).await;
    let lab_subject = subjects::order_placed(&subjects::SiteId::parse(LAB).unwrap());

    // The user cancels; the order reaches the lab only afterwards (a redelivery).
    let order = internet_order(image, PrintSize::L, at);
    let id = order.order.to_string();
    peer.cancel(order.order, "cancel-first").await;
    peer.place(&order).await;
    let s: StatusChanged = next(&mut status, "", |s: &StatusChanged| s.order == order.order).await;
    assert_eq!(s.stage, Stage::Cancelled, "the first status is cancelled");
    assert_eq!(s.site, site(LAB));
    assert!(
        s.detail.contains("before the order reached"),
        "{}",
        s.detail
    );

    // A marker order after it: its reception takes the first number, and no reply of any kind
    // went to the gateway for the cancelled order.
    let mut marker = internet_order(image, PrintSize::L, at);
    marker.customer.name = "Taro Suzuki".into();
    marker.customer.telephone = "090-1111-3333".into();
    peer.place(&marker).await;
    let seen = until(&mut replies, |m| {
        order_of(m) == Some(marker.order.to_string())
    })
    .await;
    assert!(
        seen.iter().all(|m| order_of(m) != Some(id.clone())),
        "no reception or rejection for the cancelled order: {:?}",
        seen.iter().map(|m| m.subject.as_str()).collect::<Vec<_>>()
    );
    let r: ReceptionRecorded = serde_json::from_slice(&seen.last().unwrap().payload).unwrap();
    assert_eq!(
        r.extract.reception.number.as_str(),
        "B0000001",
        "the cancelled order took no reception number"
    );

    // Nothing opened: no production row, no user file, nothing queued for the printers.
    let mut tx = lab.lab.store.begin().await.unwrap();
    assert!(
        reprint_lab::db::production_by_order(&mut tx, &id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        lab.lab
            .files
            .by_order(&mut tx, order.order)
            .await
            .unwrap()
            .is_none(),
        "no reception in any user file"
    );
    assert!(
        reprint_lab::db::queue_of(&mut tx, &id)
            .await
            .unwrap()
            .is_empty()
    );
    let queued = reprint_lab::db::production_by_state(&mut tx, "received", 100)
        .await
        .unwrap();
    assert_eq!(
        queued
            .iter()
            .map(|r| r.order_id.clone())
            .collect::<Vec<_>>(),
        [marker.order.to_string()],
        "only the marker waits for the printers"
    );
    drop(tx);

    // The order and the cancellation redelivered under other ids: nothing changes, no second
    // status.
    peer.publish(lab_subject.clone(), "order-again", &order)
        .await;
    peer.cancel(order.order, "cancel-again").await;
    let mut marker2 = internet_order(image, PrintSize::L, at);
    marker2.customer.name = "Jiro Sato".into();
    marker2.customer.telephone = "090-1111-4444".into();
    peer.place(&marker2).await;
    let statuses = until(&mut status, |m| {
        order_of(m) == Some(marker2.order.to_string())
    })
    .await;
    let ours: Vec<StatusChanged> = statuses
        .iter()
        .filter(|m| order_of(m) == Some(id.clone()))
        .map(|m| serde_json::from_slice(&m.payload).unwrap())
        .collect();
    assert!(ours.is_empty(), "no second status: {ours:?}");
    let mut tx = lab.lab.store.begin().await.unwrap();
    assert!(
        reprint_lab::db::production_by_order(&mut tx, &id)
            .await
            .unwrap()
            .is_none(),
        "the redelivered order is not opened"
    );
    drop(tx);

    // A counter's order cancelled before it arrived: the counter hears `OrderRejected` (it
    // closes its own reception on a rejection) besides the status.
    let mut walk_in = internet_order(image, PrintSize::L, at);
    walk_in.route = Route::CounterMedium;
    walk_in.sender = Sender::Counter(site(COUNTER));
    peer.cancel(walk_in.order, "cancel-walk-in").await;
    peer.place(&walk_in).await;
    let rejected: OrderRejected =
        next(&mut counter_inbox, "order.rejected", |r: &OrderRejected| {
            r.order == walk_in.order
        })
        .await;
    assert!(rejected.reason.contains("cancelled"), "{}", rejected.reason);
    let s: StatusChanged = next(&mut status, "", |s: &StatusChanged| {
        s.order == walk_in.order
    })
    .await;
    assert_eq!(s.stage, Stage::Cancelled);

    let hot = rig.dir.path().join("hot/minilab-1");
    assert!(
        !hot.exists() || list(&hot).is_empty(),
        "nothing in the hot folder"
    );
    let parked = lab
        .lab
        .store
        .parked(&reprint_lab::inbox::consumer_name(&site(LAB)))
        .await
        .unwrap();
    assert!(parked.is_empty(), "{parked:?}");
    lab.stop().await;
}

#[tokio::test]
async fn a_cancellation_after_printing_started_is_too_late() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let mut status = peer.subscribe("reprint.v1.status.>").await;
    let image = peer.upload(8).await;

    let order = internet_order(image, PrintSize::L, at);
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
    let row = act(&http, &lab, &csrf, &number, "start-printing").await;
    assert_eq!(row["state"], "printing");
    let versions_before = file_version(&lab, order.order).await;

    // The cancellation crossed "printing" on the wire.
    peer.cancel(order.order, "late-cancel").await;
    let s: StatusChanged = next(&mut status, "", |s: &StatusChanged| {
        s.order == order.order && s.detail.contains("too late")
    })
    .await;
    assert_eq!(s.stage, Stage::Printing, "the stage stays as it is");
    assert!(s.detail.contains(&number), "{}", s.detail);

    // Redelivered under another id: still nothing done to the order.
    peer.cancel(order.order, "late-cancel-again").await;
    drain(&peer, &mut replies, image, at).await;
    assert_eq!(
        reception_state(&lab, order.order).await,
        file::ReceptionState::Open,
        "the file is left alone"
    );
    assert_eq!(file_version(&lab, order.order).await, versions_before);
    assert_eq!(
        log_states(&lab, order.order).await,
        ["received", "printing"]
    );
    // The order goes on.
    let row = act(&http, &lab, &csrf, &number, "finished").await;
    assert_eq!(row["state"], "printed");
    lab.stop().await;
}
