//! Fig. 1 end to end: a home user on the gateway, the lab, the delivery counter, each a
//! separate process on a private nats-server with SQLite stores.

use std::time::Instant;

use reprint_e2e::flows::{basic_after_discount, fig1};
use reprint_e2e::media::photo_jpeg;
use reprint_e2e::{Network, step};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_home_users_order_is_printed_at_the_lab_and_collected_at_the_counter() {
    let t0 = Instant::now();
    let net = Network::start().await;
    step(t0, "network up");
    let user = net
        .home_user("hanako@example.jp", "Hanako Yamada", "03-1234-5678")
        .await;
    let photo = photo_jpeg(1, 1600, 1200, 90);
    let done = fig1(&net, &user, &[("beach.jpg", photo)], 2).await;

    // The slip: the lab's first reception, the lab's half of the seed's 500 yen plus prints.
    assert_eq!(done.lab_reception, "B0000001");
    assert_eq!(
        basic_after_discount(&done.lab_charge),
        250,
        "{}",
        done.lab_charge
    );
    assert_eq!(done.lab_charge["total"]["minor"], 250 + 2 * 30);
    assert_eq!(done.order["slip"]["registration_number"], "A0000001");
    // The counter's own charge by its own policy: its basic charge, first order there.
    assert_eq!(
        done.pickup["counter_charge"]["total"], 250,
        "{}",
        done.pickup
    );
    assert_eq!(done.pickup["amount_due"], 250 + 60 + 250, "{}", done.pickup);
    assert_eq!(done.receipt["method"], "cash");
    // The lab's ledger: charged at dispatch and owed, then collected and paid.
    let [before, dispatched, settled] = done.ledger;
    assert_eq!(before, (0, 0, 0, 0));
    assert_eq!(dispatched, (310, 0, 0, 0));
    assert_eq!(settled, (310, 310, 310, 0));
    // The registration number comes back to the user's account.
    let (_, me) = user.get("/api/v1/me").await;
    assert_eq!(me["registrations"]["lab-a"], "A0000001", "{me}");
    step(t0, "Fig. 1 done");
}
