//! A second order within a week is discounted at both sites (seed 004, Figs. 7 and 9): the lab
//! waives its basic charge (free within 7 days of the previous order there) and so does the
//! counter (free within a month), each by its own policy, each line explained.

use std::time::Instant;

use reprint_e2e::flows::{basic_after_discount, fig1, line_amounts};
use reprint_e2e::media::photo_jpeg;
use reprint_e2e::{Network, step};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_order_within_a_week_is_discounted_at_both_sites() {
    let t0 = Instant::now();
    let net = Network::start().await;
    let user = net
        .home_user("hanako@example.jp", "Hanako Yamada", "03-1234-5678")
        .await;

    let first = fig1(
        &net,
        &user,
        &[("beach.jpg", photo_jpeg(1, 1600, 1200, 90))],
        1,
    )
    .await;
    assert_eq!(basic_after_discount(&first.lab_charge), 250);
    assert_eq!(first.pickup["counter_charge"]["total"], 250);
    step(t0, "first order collected");

    let second = fig1(
        &net,
        &user,
        &[("mountain.jpg", photo_jpeg(2, 1600, 1200, 90))],
        1,
    )
    .await;
    step(t0, "second order collected");

    // The lab: basic charge 0, with the line that says why.
    assert_eq!(second.lab_reception, "B0000002");
    assert_eq!(
        basic_after_discount(&second.lab_charge),
        0,
        "{}",
        second.lab_charge
    );
    assert_eq!(
        second.lab_charge["total"]["minor"], 30,
        "{}",
        second.lab_charge
    );
    let lab_lines = line_amounts(&second.lab_charge);
    assert!(
        lab_lines
            .iter()
            .any(|(d, a)| *a == -250 && d.contains("waived") && d.contains("previous order")),
        "the lab explains the waiver: {lab_lines:?}"
    );
    // The same registration number: the lab found the user's file.
    assert_eq!(
        second.order["slip"]["registration_number"],
        first.order["slip"]["registration_number"]
    );

    // The counter: its basic charge 0 too, by its own policy (free within a month).
    let counter = &second.pickup["counter_charge"];
    assert_eq!(counter["total"], 0, "{counter}");
    let counter_lines: Vec<(String, i64)> = counter["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["description"].as_str().unwrap().to_string(),
                l["amount"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(
        counter_lines
            .iter()
            .any(|(d, a)| *a == -250 && d.contains("waived")),
        "the counter explains the waiver: {counter_lines:?}"
    );
    assert_eq!(second.pickup["amount_due"], 30, "{}", second.pickup);
    // The quote said so beforehand.
    let quote = second.placed.quote.as_ref().unwrap();
    assert_eq!(quote["total"]["minor"], 30, "{quote}");
    // The ledger: both orders charged and settled.
    assert_eq!(first.ledger[2], (280, 280, 280, 0));
    assert_eq!(second.ledger[2], (310, 310, 310, 0));
    step(t0, "both discounts checked");
}
