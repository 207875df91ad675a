//! The source colour profile an order gives an image (seed 000, claims 4 and 25) stays with the
//! image: a re-order and a send-on of the order carry it to the lab in `OrderPlaced`, without the
//! client saying it again (issue 20). Real gateway, real NATS, a fake lab on it (`common`).

mod common;

use common::*;
use reprint_domain::protocol::SourceProfile;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorder_and_a_send_on_carry_each_images_source_profile() {
    let app = spawn().await;
    let _lab = serve_quotes(&app, LAB).await;
    let _counter = serve_quotes(&app, COUNTER).await;
    let mut lab = lab_orders(&app).await;
    let (u, order, image) = with_image(&app, "profiles@example.com", 7).await;
    let (s, v) = u
        .post_with(
            &format!("/api/v1/orders/{order}/submit"),
            &json!({"lab": LAB, "counter": COUNTER,
                "items": [{"image": image, "size": "L", "quantity": 1}],
                "source_profiles": [{"image": image, "profile": {"named": "Adobe RGB (1998)"}}]}),
            &order,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let first = next_order(&mut lab).await;
    let adobe = SourceProfile::Named("Adobe RGB (1998)".into());
    assert_eq!(first.source_profiles.len(), 1);
    assert_eq!(first.source_profiles[0].profile, adobe);

    // Ordered again: the same profile for the same image.
    let (s, v) = u
        .post(&format!("/api/v1/orders/{order}/reorder"), &json!({}))
        .await;
    assert_eq!(s, 201, "{v}");
    let again = next_order(&mut lab).await;
    assert_eq!(again.source_profiles, first.source_profiles);
    // And again from the re-order: it kept them too.
    let (s, v) = u
        .post(
            &format!("/api/v1/orders/{}/reorder", again.order),
            &json!({}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        next_order(&mut lab).await.source_profiles,
        first.source_profiles
    );

    // Sent on (back to the lab, at 2L): carried as well.
    let (s, v) = u
        .post(
            &format!("/api/v1/orders/{order}/send-on"),
            &json!({"to": LAB, "items": [{"image": image, "size": "2L", "quantity": 2}]}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let sent = next_order(&mut lab).await;
    assert_eq!(sent.items[0].size.code(), "2L");
    assert_eq!(sent.source_profiles, first.source_profiles);

    // What the document refuses, the door refuses in words (422), and nothing is placed.
    let (u3, order3, image3) = with_image(&app, "refused@example.com", 9).await;
    for (profile, words) in [
        (
            json!({"named": "adobe rgb (1998)"}),
            "spell it \"Adobe RGB (1998)\"",
        ),
        (json!({"named": "Kodachrome"}), "unknown colour profile"),
        (json!({"icc": " QUJD"}), "not base64"),
        (json!({"icc": "QUJD"}), "not an ICC profile"),
        (json!({"named": "sRGB", "icc": "QUJD"}), ""),
        (json!({"named": "sRGB", "extra": 1}), ""),
    ] {
        let (s, v) = u3
            .post_with(
                &format!("/api/v1/orders/{order3}/submit"),
                &json!({"lab": LAB, "counter": COUNTER,
                    "items": [{"image": image3, "size": "L", "quantity": 1}],
                    "source_profiles": [{"image": image3, "profile": profile}]}),
                &format!("refused-{profile}"),
            )
            .await;
        // A wrong shape is the body's (400 or 422 by serde's reading), a wrong value the check's.
        assert!(matches!(s, 400 | 422), "{profile}: {s} {v}");
        assert!(words.is_empty() || s == 422, "{profile}: {s} {v}");
        assert!(
            v["detail"].as_str().unwrap().contains(words),
            "{profile}: {v}"
        );
    }
    let (s, v) = u3
        .post_with(
            &format!("/api/v1/orders/{order3}/submit"),
            &json!({"lab": LAB, "counter": COUNTER,
                "items": [{"image": image3, "size": "L", "quantity": 1}],
                "source_profiles": [{"image": image3.to_uppercase(), "profile": {"named": "sRGB"}}]}),
            "refused-image",
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("is not an image id"),
        "{v}"
    );

    // An order without a profile re-orders without one.
    let (u2, order2, image2) = with_image(&app, "plain@example.com", 8).await;
    let (s, v) = u2
        .post_with(
            &format!("/api/v1/orders/{order2}/submit"),
            &json!({"lab": LAB, "counter": COUNTER,
                "items": [{"image": image2, "size": "L", "quantity": 1}]}),
            &order2,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(next_order(&mut lab).await.source_profiles.is_empty());
    let (s, v) = u2
        .post(&format!("/api/v1/orders/{order2}/reorder"), &json!({}))
        .await;
    assert_eq!(s, 201, "{v}");
    assert!(next_order(&mut lab).await.source_profiles.is_empty());
}
