//! Identity at a site through the gateway (issue 13; seed 004 Fig. 1 S304: the lab finds the
//! user by the registration number the user sends). Someone who signs up with another person's
//! name and telephone gets nothing of that person's lab file: no discount from their history
//! (in the quote or on the slip), not their registration number. The owner's second order
//! within a week is still discounted (Fig. 7), on the owner's file.

use std::time::Instant;

use reprint_e2e::flows::{basic_after_discount, line_amounts, place_internet_order, wait_for_slip};
use reprint_e2e::media::photo_jpeg;
use reprint_e2e::{Network, step};

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
