//! The JSON intake asks what the page asks (issue 15): a registration number whose file has
//! another telephone is refused with 409 and the question in words, never a silent new
//! registration (W0000001 + 090-0000-1111 used to become W0000002, charged 250 instead of 0);
//! `number_choice=same` takes the order on that file (Fig. 9: nothing charged within a month),
//! `number_choice=new` registers a new customer. The price before the order
//! (`/api/v1/intake/quote`) reads the card, prices it and takes nothing in. On a real NATS and
//! SQLite; the lab's quote is answered by the test.

mod common;

use common::*;
use reprint_testkit::NatsServer;

fn form(number: Option<&str>, phone: &str, seed: u64) -> reqwest::multipart::Form {
    let f = customer_fields(reqwest::multipart::Form::new(), "Hanako Yamada", phone)
        .text("lab", "lab-a")
        .text("size", "L")
        .part(
            "medium",
            zip_part(zip_of(&[
                ("DCIM/100CANON/IMG_0001.JPG", jpeg(seed)),
                ("DCIM/100CANON/IMG_0002.JPG", jpeg(seed + 1)),
            ])),
        );
    match number {
        Some(n) => f.text("registration_number", n.to_string()),
        None => f,
    }
}

async fn post(
    counter: &TestCounter,
    path: &str,
    form: reqwest::multipart::Form,
) -> (u16, serde_json::Value) {
    let res = counter
        .http
        .post(format!("{}{path}", counter.base))
        .header("x-csrf-token", &counter.csrf)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn a_number_with_another_telephone_is_a_question_not_a_new_customer() {
    let nats = NatsServer::start();
    let _lab = serve_lab_quotes(&nats.url, LabQuotes::Total(30)).await;
    let counter = spawn(&nats.url, None, "").await;

    // The first visit registers W0000001 with 03-1234-5678 (the counter's basic charge 250).
    let (s, first) = counter.intake(form(None, "03-1234-5678", 1)).await;
    assert_eq!(s, 201, "{first}");
    assert_eq!(first["registration_number"], "W0000001", "{first}");
    assert_eq!(first["counter_charge"]["total"], 250, "{first}");

    // The card and W0000001 with another telephone: refused, nothing taken in, in words.
    let (s, refused) = counter
        .intake(form(Some("W0000001"), "090-0000-1111", 2))
        .await;
    assert_eq!(s, 409, "{refused}");
    let detail = refused["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("W0000001")
            && detail.contains("another telephone")
            && detail.contains("number_choice=same")
            && detail.contains("number_choice=new"),
        "{refused}"
    );
    let (s, found) = counter.get("/api/v1/pickups?q=X0000002").await;
    assert_eq!(s, 404, "nothing was taken in: {found}");
    // The price before the order asks the same.
    let (s, q) = post(
        &counter,
        "/api/v1/intake/quote",
        form(Some("W0000001"), "090-0000-1111", 2),
    )
    .await;
    assert_eq!(s, 409, "{q}");

    // A wrong answer is a 422, not a guess.
    let (s, bad) = counter
        .intake(form(Some("W0000001"), "090-0000-1111", 2).text("number_choice", "maybe"))
        .await;
    assert_eq!(s, 422, "{bad}");

    // "The same person": the order goes on W0000001, the return visit within a month is free.
    let (s, same) = counter
        .intake(form(Some("W0000001"), "090-0000-1111", 3).text("number_choice", "same"))
        .await;
    assert_eq!(s, 201, "{same}");
    assert_eq!(same["registration_number"], "W0000001", "{same}");
    assert_eq!(same["newly_registered"], false, "{same}");
    assert_eq!(same["counter_charge"]["total"], 0, "{same}");

    // "Register as new": a new file, the first visit's charge.
    let (s, new) = counter
        .intake(form(Some("W0000001"), "090-0000-1111", 4).text("number_choice", "new"))
        .await;
    assert_eq!(s, 201, "{new}");
    assert_eq!(new["registration_number"], "W0000002", "{new}");
    assert_eq!(new["newly_registered"], true, "{new}");
    assert_eq!(new["counter_charge"]["total"], 250, "{new}");
}

#[tokio::test]
async fn the_price_before_the_order_takes_nothing_in() {
    let nats = NatsServer::start();
    let _lab = serve_lab_quotes(&nats.url, LabQuotes::Total(30)).await;
    let counter = spawn(&nats.url, None, "").await;

    // Two photos; the first at 3 prints, the second left out.
    let (s, q) = post(
        &counter,
        "/api/v1/intake/quote",
        form(None, "03-1234-5678", 10).text("qty-0", "3"),
    )
    .await;
    assert_eq!(s, 200, "{q}");
    assert_eq!(q["images"].as_array().map(Vec::len), Some(2), "{q}");
    assert_eq!(q["items"].as_array().map(Vec::len), Some(1), "{q}");
    assert_eq!(q["items"][0]["quantity"], 3, "{q}");
    assert_eq!(q["counter_charge"]["total"], 250, "{q}");
    assert_eq!(q["lab_charge"]["total"], 90, "{q}");
    assert_eq!(q["total"], 340, "{q}");
    assert!(q["ready_by"].is_string(), "{q}");
    // Nothing was registered or taken in by the price.
    let (s, _) = counter.get("/api/v1/pickups?q=X0000001").await;
    assert_eq!(s, 404);
    let (s, taken) = counter
        .intake(form(None, "03-1234-5678", 10).text("qty-0", "3"))
        .await;
    assert_eq!(s, 201, "{taken}");
    assert_eq!(taken["reception_number"], "X0000001", "{taken}");
    assert_eq!(taken["registration_number"], "W0000001", "{taken}");
    assert_eq!(taken["items"][0]["quantity"], 3, "{taken}");
    // A quantity for an image the card does not have.
    let (s, bad) = post(
        &counter,
        "/api/v1/intake/quote",
        form(None, "03-1234-5678", 10).text("qty-7", "1"),
    )
    .await;
    assert_eq!(s, 422, "{bad}");
    // The document lists the quote and the statements.
    let (s, doc) = counter.get("/api/v1/openapi.json").await;
    assert_eq!(s, 200);
    for path in ["/api/v1/intake/quote", "/api/v1/statements", "/api/v1/till"] {
        assert!(doc["paths"][path].is_object(), "{path} in the document");
    }
}
