//! The lab's operator console and JSON API in process: log-in, sessions and CSRF tokens on the
//! pages and the API, the OpenAPI document.

mod common;

use reprint_domain::protocol::{OrderRejected, ReceptionRecorded, RejectCode};
use reprint_domain::*;

use common::*;

// ------------------------------------------------------------------ console

#[tokio::test]
async fn the_console_needs_a_log_in_and_csrf_tokens() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let image = peer.upload(7).await;
    let order = internet_order(image, PrintSize::L, at);
    peer.place(&order).await;
    let _: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == order.order,
    )
    .await;

    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(
            anon.get(lab.url(path)).send().await.unwrap().status(),
            200,
            "{path}"
        );
    }
    let r = anon.get(lab.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    for path in [
        "/api/v1/receptions",
        "/api/v1/openapi.json",
        "/api/v1/ledger",
        "/api/v1/receptions/B0000001",
    ] {
        assert_eq!(
            anon.get(lab.url(path)).send().await.unwrap().status(),
            401,
            "{path}"
        );
    }
    let r = anon
        .post(lab.url("/login"))
        .form(&[("name", "operator"), ("password", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "a log-in form without this browser's token"
    );

    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The log-in form carries this browser's pre-log-in token (log-in CSRF).
    let form = http
        .get(lab.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = form.find("name=\"csrf\" value=\"").unwrap() + 19;
    let token = form[at..at + form[at..].find('"').unwrap()].to_string();
    let r = http
        .post(lab.url("/login"))
        .form(&[
            ("csrf", token.as_str()),
            ("name", "operator"),
            ("password", "change-me"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = http
        .get(lab.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("B0000001"), "{page}");
    let page = http
        .get(lab.url("/receptions/B0000001"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("User ID area")
            && page.contains("Reception contents area")
            && page.contains("A0000001")
    );
    assert!(page.contains("Hanako Yamada") && page.contains("basic charge per order"));
    // A form without the CSRF token is refused, and nothing happens.
    let r = http
        .post(lab.url("/receptions/B0000001/start-printing"))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .post(lab.url("/receptions/B0000001/start-printing"))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .post(lab.url("/api/v1/receptions/B0000001/start-printing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let q: serde_json::Value = http
        .get(lab.url("/api/v1/receptions?state=received"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(q[0]["receptions"][0]["reception_number"], "B0000001");
    // Search by reception, registration and telephone.
    for q in ["b0000001", "A0000001", "03-1234-5678"] {
        let found: serde_json::Value = http
            .get(lab.url(&format!("/api/v1/search?q={q}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(found.as_array().map(|a| a.len()), Some(1), "{q}: {found}");
    }
    // Reject with a reason through the console form: the sender hears it.
    let page = http
        .get(lab.url("/receptions/B0000001"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = http
        .post(lab.url("/receptions/B0000001/reject"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("reason", "the card is unreadable"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let rej: OrderRejected = next(&mut replies, "order.rejected", |r: &OrderRejected| {
        r.order == order.order
    })
    .await;
    assert_eq!(rej.code, RejectCode::ByOperator);
    assert!(rej.reason.contains("unreadable"));
    // Bad input is a 4xx, never a 500.
    for (path, code) in [
        ("/api/v1/receptions?state=bogus", 400),
        ("/api/v1/receptions/ZZZ", 404),
        ("/receptions/%FF", 400),
    ] {
        assert_eq!(
            http.get(lab.url(path)).send().await.unwrap().status(),
            code,
            "{path}"
        );
    }
    let spec: serde_json::Value = http
        .get(lab.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["paths"]["/api/v1/receptions/{number}/{action}"].is_object());
    lab.stop().await;
}
