//! The edges of an order's life at the gateway (issue 12): the one order check refuses at the
//! door in the lab's own words, a cancelled order is never written as a print into an image's
//! history, and the gateway's clock can be pinned.

mod common;

use common::*;
use reprint_bus::subjects::{self, Address, SiteId};
use reprint_domain::PrintSize;
use reprint_domain::order_check::{OrderError, check_items};
use reprint_domain::protocol::PlacedItem;
use serde_json::{Value, json};

/// What the domain's one order check says of this line (the words the lab would send back).
fn domain_words(image: &str, size: &str, quantity: u32, edits: Option<&Value>) -> String {
    let item = PlacedItem {
        image: reprint_domain::ImageId::parse(image).unwrap(),
        name: "beach.jpg".into(),
        size: PrintSize::parse(size).unwrap(),
        quantity,
        edits: edits.map(Value::to_string),
        perceptual_hash: None,
        history: vec![],
    };
    let lab = vec![
        PrintSize::parse("L").unwrap(),
        PrintSize::parse("2L").unwrap(),
    ];
    let e: OrderError = check_items(&[item], &lab).unwrap_err();
    e.to_string()
}

#[tokio::test]
async fn a_quote_and_a_submit_are_refused_at_the_door_in_the_labs_words() {
    let app = spawn().await;
    let _lab = serve_quotes(&app, LAB).await;
    let _counter = serve_quotes(&app, COUNTER).await;
    let (u, order, image) = with_image(&app, "check@example.com", 21).await;
    let rotate45 = json!([{"op": "rotate", "degrees": 45}]);
    let cases = [
        (
            json!({"image": image, "size": "L", "quantity": 1, "edits": rotate45}),
            domain_words(&image, "L", 1, Some(&rotate45)),
        ),
        (
            json!({"image": image, "size": "L", "quantity": 1000}),
            domain_words(&image, "L", 1000, None),
        ),
        (
            json!({"image": image, "size": "KG", "quantity": 1}),
            domain_words(&image, "KG", 1, None),
        ),
    ];
    assert!(
        cases[0].1.contains("rotation must be 90, 180 or 270"),
        "{}",
        cases[0].1
    );
    assert!(
        cases[1].1.contains("a quantity is 1 to 999"),
        "{}",
        cases[1].1
    );
    for (i, (item, words)) in cases.iter().enumerate() {
        let req = json!({"lab": LAB, "counter": COUNTER, "items": [item]});
        let (s, b) = u.post(&format!("/api/v1/orders/{order}/quote"), &req).await;
        assert_eq!(s, 422, "quote {item}: {b}");
        assert_eq!(b["detail"], *words, "quote {item}");
        let (s, b) = u
            .post_with(
                &format!("/api/v1/orders/{order}/submit"),
                &req,
                &format!("check-{i}"),
            )
            .await;
        assert_eq!(s, 422, "submit {item}: {b}");
        assert_eq!(b["detail"], *words, "submit {item}");
        let want = if i == 2 {
            "unknown_size"
        } else {
            "invalid_order"
        };
        assert_eq!(b["type"], want, "the protocol's reject code: {b}");
    }
    // Nothing was placed: the order is still a draft, and 999 with a right angle passes.
    let (_, v) = u.get(&format!("/api/v1/orders/{order}")).await;
    assert_eq!(v["stage"], "draft", "{v}");
    let ok = json!({"lab": LAB, "counter": COUNTER, "items": [
        {"image": image, "size": "L", "quantity": 999, "edits": [{"op": "rotate", "degrees": 90}]}
    ]});
    let (s, q) = u.post(&format!("/api/v1/orders/{order}/quote"), &ok).await;
    assert_eq!(s, 200, "{q}");
}

fn slip(order: &str, reception: &str) -> Value {
    json!({
        "order": order, "lab": LAB, "estimated_finish": null,
        "extract": {
            "from_site": LAB, "from_kind": "lab", "registration_number": "A0000001",
            "name": "Hanako Yamada", "telephone": "0312345678", "address": null, "email": null,
            "reception": {
                "number": reception, "order": order, "route": "internet",
                "received_at": "2026-11-20T10:00:00Z", "data_receive": null, "partner": COUNTER,
                "items": [], "charge": {"lines": [], "total": {"minor": 250, "currency": "JPY"}},
                "partner_charge": null, "estimated_finish": null, "state": "open"
            },
            "other_receptions": []
        }
    })
}

/// The reception numbers an image's download lists, plain (XMP) and as the ZIP container.
async fn printed_as(u: &UserClient, image: &str) -> (Vec<String>, Vec<String>) {
    let r = u
        .http
        .get(u.url(&format!("/api/v1/images/{image}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let plain = r.bytes().await.unwrap();
    let xmp = reprint_media::history::xmp::read_history(&plain).unwrap_or_default();
    let r = u
        .http
        .get(u.url(&format!("/api/v1/images/{image}?format=zip")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let zip = r.bytes().await.unwrap();
    let container = reprint_media::history::container::read_container(
        std::io::Cursor::new(zip.to_vec()),
        &reprint_media::Limits::default(),
    )
    .unwrap();
    let numbers = |h: reprint_media::PrintHistory| {
        h.entries
            .into_iter()
            .map(|r| r.reception_number)
            .collect::<Vec<_>>()
    };
    (numbers(xmp), numbers(container.history))
}

#[tokio::test]
async fn a_cancelled_order_is_never_a_print_in_the_images_history() {
    let app = spawn().await;
    let mut lab = lab_orders(&app).await;
    let (u, first, image) = with_image(&app, "history@example.com", 22).await;
    let req = json!({"lab": LAB, "counter": COUNTER, "items": [{"image": image, "size": "L", "quantity": 1}]});
    let (s, v) = u
        .post_with(&format!("/api/v1/orders/{first}/submit"), &req, "h-1")
        .await;
    assert_eq!(s, 200, "{v}");
    next_order(&mut lab).await;
    // A re-order of the same image by reference: the one that will be cancelled.
    let (s, re) = u
        .post(&format!("/api/v1/orders/{first}/reorder"), &json!({}))
        .await;
    assert_eq!(s, 201, "{re}");
    let second = re["order"].as_str().unwrap().to_string();
    next_order(&mut lab).await;

    // The lab receives both (their slips come back).
    let gw = Address::gateway(SiteId::parse(&app.gateway_id).unwrap());
    for (order, number) in [(&first, "B0000456"), (&second, "B0000457")] {
        js_publish(
            &app,
            subjects::reception_recorded(&gw).unwrap(),
            &slip(order, number),
            &format!("slip-{number}"),
        )
        .await;
        let path = format!("/api/v1/orders/{order}");
        eventually("the slip", || async {
            let (_, v) = u.get(&path).await;
            v["slip"]["reception"]["number"] == number && v["stage"] == "received"
        })
        .await;
    }
    // Cancelled before printing.
    let (s, c) = u
        .post(&format!("/api/v1/orders/{second}/cancel"), &json!({}))
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["stage"], "cancelled");

    let (xmp, zip) = printed_as(&u, &image).await;
    assert_eq!(xmp, ["B0000456"], "the cancelled order is no print (XMP)");
    assert_eq!(zip, ["B0000456"], "the cancelled order is no print (ZIP)");
}

#[tokio::test]
async fn the_gateways_clock_can_be_pinned_and_a_reservation_expires_by_it() {
    let app = spawn().await;
    let u = sign_up(&app, "clock@example.com").await;
    // A minute ahead of the machine (the session, signed by the machine's time a moment ago,
    // stays good), on a whole millisecond as the API writes times.
    let at =
        chrono::DateTime::from_timestamp_millis(chrono::Utc::now().timestamp_millis() + 60_000)
            .unwrap();
    app.state.clock.set(at);
    assert_eq!(app.state.clock.now(), at);
    let order = u.new_order().await;
    let (_, v) = u.get(&format!("/api/v1/orders/{order}")).await;
    assert_eq!(
        v["created_at"],
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "{v}"
    );
    let photo = jpeg(23, 400, 300);
    let (s, r) = u
        .put(
            &format!("/api/v1/orders/{order}/storage"),
            &json!({"bytes": photo.len()}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let ttl = chrono::Duration::seconds(app.state.config.storage.reservation_ttl_secs);
    assert_eq!(
        r["expires_at"],
        (at + ttl).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "{r}"
    );
    // The reservation ends when the gateway's clock says so, not the machine's.
    app.state.clock.advance(ttl);
    let (s, b) = u.upload(&order, "late.jpg", photo.clone()).await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["type"], "reservation_expired", "{b}");
    app.state.clock.set(at);
    let (s, b) = u.upload(&order, "in-time.jpg", photo).await;
    assert_eq!(s, 201, "{b}");
}
