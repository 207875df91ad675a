//! Identity at a site through the gateway (issue 13; seed 004 Fig. 1 S304: the lab finds the
//! user by the registration number the user sends). Someone who signs up with another person's
//! name and telephone gets nothing of that person's lab file: no discount from their history
//! (in the quote or on the slip), not their registration number. The owner's second order
//! within a week is still discounted (Fig. 7), on the owner's file. At the delivery counter
//! the same (Fig. 1 step 4, Fig. 9): the counter finds a web user's file by the registration
//! number the account holds for that counter (learnt from the counter's status of an earlier
//! order), never by name and telephone.

use std::time::Instant;

use reprint_e2e::flows::{
    basic_after_discount, fig1, line_amounts, place_internet_order, wait_for_slip,
};
use reprint_e2e::media::photo_jpeg;
use reprint_e2e::{COUNTER, Network, step};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_account_with_the_same_name_and_telephone_gets_nothing_of_the_first() {
    let t0 = Instant::now();
    let net = Network::start().await;
    let hanako = net
        .home_user("hanako@example.jp", "Hanako Yamada", "03-1234-5678")
        .await;
    let first = place_internet_order(
        &hanako,
        &[("beach.jpg", photo_jpeg(1, 1200, 900, 90))],
        1,
        true,
    )
    .await;
    let first = wait_for_slip(&hanako, &first.order, 30).await;
    let hanakos = first["slip"]["registration_number"].clone();
    assert!(hanakos.is_string(), "{first}");
    step(t0, "Hanako ordered");

    // Someone else signs up with her name and telephone and orders at the same lab.
    let other = net
        .home_user("not.hanako@example.jp", "Hanako Yamada", "03-1234-5678")
        .await;
    let placed = place_internet_order(
        &other,
        &[("cat.jpg", photo_jpeg(2, 1200, 900, 90))],
        1,
        true,
    )
    .await;
    let quote = placed.quote.clone().expect("quote");
    let lab_quote = &quote["lab"]["charge"];
    assert_eq!(
        basic_after_discount(lab_quote),
        250,
        "the lab's quote waived the basic charge for a name and telephone: {lab_quote}"
    );
    assert!(
        line_amounts(lab_quote)
            .iter()
            .all(|(d, _)| !d.contains("previous order") && !d.contains("registered here")),
        "the quote tells of Hanako's file: {lab_quote}"
    );
    let view = wait_for_slip(&other, &placed.order, 30).await;
    let slip = &view["slip"];
    assert!(slip["registration_number"].is_string(), "{view}");
    assert_ne!(
        slip["registration_number"], hanakos,
        "the slip shows Hanako's registration number"
    );
    assert_eq!(
        basic_after_discount(&slip["reception"]["charge"]),
        250,
        "{slip}"
    );
    assert_eq!(
        quote["lab"]["charge"]["total"], slip["reception"]["charge"]["total"],
        "charged as quoted"
    );
    step(t0, "the other account got a file of its own");

    // Hanako's second order within a week: her file, the basic charge waived (Fig. 7).
    let again = place_internet_order(
        &hanako,
        &[("mountain.jpg", photo_jpeg(3, 1200, 900, 90))],
        1,
        true,
    )
    .await;
    let quote = again.quote.clone().expect("quote");
    assert_eq!(basic_after_discount(&quote["lab"]["charge"]), 0, "{quote}");
    let view = wait_for_slip(&hanako, &again.order, 30).await;
    let slip = &view["slip"];
    assert_eq!(slip["registration_number"], hanakos, "{view}");
    assert_eq!(
        basic_after_discount(&slip["reception"]["charge"]),
        0,
        "{slip}"
    );
    assert!(
        line_amounts(&slip["reception"]["charge"])
            .iter()
            .any(|(d, a)| *a == -250 && d.contains("previous order")),
        "{slip}"
    );
    step(t0, "Hanako's second order discounted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_gives_a_second_account_with_the_same_name_and_telephone_nothing() {
    let t0 = Instant::now();
    let net = Network::start().await;
    let hanako = net
        .home_user("hanako@example.jp", "Hanako Yamada", "03-1234-5678")
        .await;
    let first = fig1(
        &net,
        &hanako,
        &[("beach.jpg", photo_jpeg(1, 1200, 900, 90))],
        1,
    )
    .await;
    assert_eq!(
        first.pickup["counter_charge"]["total"], 250,
        "{}",
        first.pickup
    );
    let hanakos = first.pickup["registration_number"].clone();
    assert!(hanakos.is_string(), "{}", first.pickup);
    step(t0, "Hanako's first order collected at the counter");

    // Someone else signs up with her name and telephone and picks up at the same counter.
    let other = net
        .home_user("not.hanako@example.jp", "Hanako Yamada", "03-1234-5678")
        .await;
    let theirs = fig1(
        &net,
        &other,
        &[("cat.jpg", photo_jpeg(2, 1200, 900, 90))],
        1,
    )
    .await;
    let quote = &theirs.placed.quote.as_ref().expect("quote")["counter"]["charge"];
    let pickup = &theirs.pickup;
    for (what, charge) in [("quote", quote), ("pickup", &pickup["counter_charge"])] {
        assert!(
            line_amounts(charge)
                .iter()
                .all(|(d, a)| *a >= 0 && !d.contains("previous order") && !d.contains("waived")),
            "the counter's {what} tells of Hanako's file: {charge}"
        );
    }
    assert_eq!(quote["total"]["minor"], 250, "{quote}");
    assert_eq!(pickup["counter_charge"]["total"], 250, "{pickup}");
    assert!(pickup["registration_number"].is_string(), "{pickup}");
    assert_ne!(
        pickup["registration_number"], hanakos,
        "the counter opened Hanako's file for a name and telephone: {pickup}"
    );
    // Each account holds its own number at the counter, learnt from the counter's status.
    let (s, me) = hanako.get("/api/v1/me").await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["registrations"][COUNTER], hanakos, "{me}");
    let (_, me) = other.get("/api/v1/me").await;
    assert_eq!(
        me["registrations"][COUNTER], pickup["registration_number"],
        "{me}"
    );
    step(t0, "the other account got a counter file of its own");

    // Hanako again within the counter's month: her file, its basic charge waived (Fig. 9),
    // in the quote and at the pickup.
    let again = fig1(
        &net,
        &hanako,
        &[("mountain.jpg", photo_jpeg(3, 1200, 900, 90))],
        1,
    )
    .await;
    let quote = &again.placed.quote.as_ref().expect("quote")["counter"]["charge"];
    assert_eq!(quote["total"]["minor"], 0, "{quote}");
    assert_eq!(
        again.pickup["registration_number"], hanakos,
        "{}",
        again.pickup
    );
    assert_eq!(
        again.pickup["counter_charge"]["total"], 0,
        "{}",
        again.pickup
    );
    assert!(
        line_amounts(&again.pickup["counter_charge"])
            .iter()
            .any(|(d, a)| *a == -250 && d.contains("waived")),
        "{}",
        again.pickup
    );
    step(t0, "Hanako's second order discounted at the counter");
}
