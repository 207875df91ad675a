//! The same photo re-encoded and sent again is recognised as a reprint (seed 004, Fig. 10):
//! the file names and bytes differ, the gateway computes the perceptual hash at upload and
//! sends it with the order, and the lab, with a per-image policy, finds the earlier print of
//! that photo among the user's printed images and discounts it, saying how it knew.

use std::time::Instant;

use reprint_e2e::flows::{Fig1, fig1, fig1_checked, line_amounts};
use reprint_e2e::media::{photo_jpeg, reencode};
use reprint_e2e::{Client, Network, Options, set, step};

/// The lab with a per-image policy: half price, basic charge and prints, for a photo printed
/// here within a month.
async fn network() -> Network {
    Network::start_with(Options {
        lab_config: Some(Box::new(|lab: &mut toml::Table| {
            let mut tier = toml::Table::new();
            tier.insert("within_months".into(), 1.into());
            tier.insert("percent".into(), 50.into());
            set(lab, &["site", "policy", "basis"], "image");
            set(lab, &["site", "policy", "anchor"], "previous");
            set(lab, &["site", "policy", "applies_to"], "both");
            set(
                lab,
                &["site", "policy", "tiers"],
                toml::Value::Array(vec![toml::Value::Table(tier)]),
            );
        })),
        ..Options::default()
    })
    .await
}

/// Prints a photo, then sends it again re-encoded at another JPEG quality and under another
/// name; returns both orders.
async fn print_twice(net: &Network, user: &Client, t0: Instant) -> (Fig1, Fig1) {
    let original = photo_jpeg(3, 1600, 1200, 92);
    let first = fig1(net, user, &[("IMG_0001.JPG", original.clone())], 1).await;
    assert_eq!(
        first.lab_charge["total"]["minor"],
        250 + 30,
        "{}",
        first.lab_charge
    );
    step(t0, "the photo printed once");
    let again = reencode(&original, 70);
    assert_ne!(again, original, "other bytes");
    let second = fig1_checked(net, user, &[("holiday-copy.jpg", again)], 1, false).await;
    assert_ne!(
        second.placed.images[0], first.placed.images[0],
        "a different image id (SHA-256)"
    );
    (first, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_photo_re_encoded_is_recognised_as_a_reprint_by_the_lab() {
    let t0 = Instant::now();
    let net = network().await;
    let user = net
        .home_user("hanako@example.jp", "Hanako Yamada", "03-1234-5678")
        .await;
    let (_, second) = print_twice(&net, &user, t0).await;
    let lines = line_amounts(&second.lab_charge);
    assert!(
        lines
            .iter()
            .any(|(d, a)| *a < 0 && d.contains("perceptual hash")),
        "a discount line names the perceptual-hash recognition: {lines:?}"
    );
    // 50 % of the basic charge and of the print.
    assert_eq!(second.lab_charge["total"]["minor"], 125 + 15, "{lines:?}");
    // What the counter collects is that discounted charge.
    assert_eq!(
        second.pickup["lab_charge"]["total"], 140,
        "{}",
        second.pickup
    );
    step(t0, "the re-encoded copy recognised as a reprint");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quote_of_a_re_encoded_reprint_is_what_the_lab_charges() {
    let t0 = Instant::now();
    let net = network().await;
    let user = net
        .home_user("hanako@example.jp", "Hanako Yamada", "03-1234-5678")
        .await;
    let (_, second) = print_twice(&net, &user, t0).await;
    let quote = second.placed.quote.as_ref().unwrap();
    assert_eq!(
        quote["lab"]["charge"]["total"], second.lab_charge["total"],
        "the lab charges what it quoted: {quote} / {}",
        second.lab_charge
    );
}
