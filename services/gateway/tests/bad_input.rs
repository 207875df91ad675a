//! Bad input: a clear 4xx problem body, nothing half stored, never a 500.

mod common;

use std::io::{Read, Write};

use common::*;
use serde_json::json;

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG whose header claims 100000 x 100000 pixels (a decompression bomb's header).
fn png_bomb() -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(&ihdr);
    out.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    out.extend_from_slice(&[0u8; 64]);
    out
}

#[tokio::test]
async fn bad_uploads_are_refused_and_leave_nothing() {
    let app = spawn().await;
    let u = sign_up(&app, "bad@example.com").await;
    let order = u.new_order().await;
    let (s, _) = u
        .put(
            &format!("/api/v1/orders/{order}/storage"),
            &json!({"bytes": 5_000_000}),
        )
        .await;
    assert_eq!(s, 200);
    let before = image_store_messages(&app).await;

    let (s, b) = u
        .upload(&order, "notes.jpg", b"this is not an image at all".to_vec())
        .await;
    assert_eq!(s, 422, "{b}");
    assert!(
        b["detail"]
            .as_str()
            .unwrap()
            .contains("not a supported image"),
        "{b}"
    );

    let (s, b) = u.upload(&order, "bomb.png", png_bomb()).await;
    assert_eq!(s, 422, "{b}");
    assert!(b["detail"].as_str().unwrap().contains("100000"), "{b}");

    let photo = jpeg(5, 800, 600);
    let (s, b) = u
        .upload(&order, "half.jpg", photo[..photo.len() / 2].to_vec())
        .await;
    assert_eq!(s, 422, "a truncated file: {b}");

    let (s, b) = u.upload(&order, "empty.jpg", vec![]).await;
    assert_eq!(s, 422, "{b}");

    // The connection drops half way through the body.
    let addr = app.base.trim_start_matches("http://").to_string();
    let cookie_csrf = u.csrf.clone();
    let (s, me) = u.get("/api/v1/me").await;
    assert_eq!(s, 200, "{me}");
    let session = u.http.get(u.url("/api/v1/me")).send().await.unwrap();
    drop(session);
    let cookie = login_cookie(&app, "bad@example.com").await;
    let order_path = format!("/api/v1/orders/{order}/images?name=cut.jpg");
    let half = photo[..photo.len() / 2].to_vec();
    let total = photo.len();
    let cut = tokio::task::spawn_blocking(move || {
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        let head = format!(
            "PUT {order_path} HTTP/1.1\r\nHost: x\r\nCookie: {}\r\nX-CSRF-Token: {}\r\nContent-Length: {total}\r\n\r\n",
            cookie.0, cookie.1
        );
        tcp.write_all(head.as_bytes()).unwrap();
        tcp.write_all(&half).unwrap();
        tcp.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = String::new();
        let _ = tcp.read_to_string(&mut answer);
        answer
    })
    .await
    .unwrap();
    let _ = cookie_csrf;
    assert!(!cut.contains(" 500 "), "{cut}");

    // Nothing of any of these was kept.
    let (_, v) = u.get(&format!("/api/v1/orders/{order}")).await;
    assert_eq!(v["used"], 0, "{v}");
    assert_eq!(v["images"].as_array().unwrap().len(), 0);
    let (_, imgs) = u.get("/api/v1/images").await;
    assert_eq!(imgs.as_array().unwrap().len(), 0);
    assert_eq!(
        image_store_messages(&app).await,
        before,
        "no chunks left behind"
    );
}

/// Logs in with a fresh client and returns the raw cookie and the CSRF token.
async fn login_cookie(app: &TestApp, email: &str) -> (String, String) {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/session", app.base))
        .json(&json!({"email": email, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let body: serde_json::Value = r.json().await.unwrap();
    (cookie, body["csrf_token"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn wrong_json_shapes_and_huge_fields_are_clear_4xx_problems() {
    let app = spawn().await;
    let u = sign_up(&app, "shape@example.com").await;
    let order = u.new_order().await;
    let storage = format!("/api/v1/orders/{order}/storage");
    for body in [
        json!({"bytes": "many"}),
        json!({"bytes": -5}),
        json!({}),
        json!([1, 2]),
        json!({"bytes": 1, "extra": true}),
    ] {
        let (s, b) = u.put(&storage, &body).await;
        assert!(s == 422 || s == 400, "{body}: {s} {b}");
        assert_eq!(b["status"], s);
        assert!(!b["detail"].as_str().unwrap().is_empty());
    }
    let r = u
        .http
        .put(u.url(&storage))
        .header("x-csrf-token", &u.csrf)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");

    let submit = format!("/api/v1/orders/{order}/submit");
    let (s, b) = u
        .post_with(
            &submit,
            &json!({"lab": LAB, "counter": COUNTER, "items": []}),
            "k",
        )
        .await;
    assert_eq!(s, 422, "{b}");
    let (s, b) = u.post_with(&submit, &json!({"lab": "no.such", "counter": COUNTER, "items": [{"image": "x", "size": "L", "quantity": 1}]}), "k").await;
    assert_eq!(s, 422, "{b}");
    let (s, b) = u.post(&submit, &json!({"lab": LAB, "counter": COUNTER, "items": [{"image": "x", "size": "L", "quantity": 1}]})).await;
    assert_eq!(s, 400, "no idempotency key: {b}");

    // A huge field: refused before it is read whole.
    let huge = "x".repeat(2 * 1024 * 1024);
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/accounts", app.base))
        .json(&json!({"name": huge, "telephone": "0312345678", "email": "h@example.com", "password": "abcdefghij"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let (s, b) = status_json(r).await;
    assert_eq!(s, 413);
    assert_eq!(b["status"], 413);
    let r = reqwest::Client::new()
        .post(format!("{}/signup", app.base))
        .form(&[
            ("name", huge.as_str()),
            ("telephone", "0312345678"),
            ("email", "f@example.com"),
            ("password", "abcdefghij"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);

    // A field within the body limit but over its own limit.
    let (s, b) = {
        let r = reqwest::Client::new()
            .post(format!("{}/api/v1/accounts", app.base))
            .json(&json!({"name": "x".repeat(300), "telephone": "0312345678", "email": "g@example.com", "password": "abcdefghij"}))
            .send()
            .await
            .unwrap();
        status_json(r).await
    };
    assert_eq!(s, 422, "{b}");
    assert!(b["detail"].as_str().unwrap().contains("name"));
    // A name every order would be refused for (a control character): refused at sign-up in
    // the one order check's words.
    let (s, b) = {
        let r = reqwest::Client::new()
            .post(format!("{}/api/v1/accounts", app.base))
            .json(&json!({"name": "Hanako\u{7}", "telephone": "0312345678", "email": "bell@example.com", "password": "abcdefghij"}))
            .send()
            .await
            .unwrap();
        status_json(r).await
    };
    assert_eq!(s, 422, "{b}");
    assert_eq!(
        b["detail"],
        reprint_domain::order_check::OrderError::BadName.to_string(),
        "{b}"
    );
    // Wrong password, unknown pages and ids.
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/session", app.base))
        .json(&json!({"email": "shape@example.com", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (s, _) = u.get("/api/v1/orders/not-a-uuid").await;
    assert_eq!(s, 404);
    let (s, _) = u.get("/api/v1/images/zz").await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn log_in_is_rate_limited() {
    let app = spawn_with(|c| c.http.rate_limit_attempts = 3).await;
    let client = reqwest::Client::new();
    let mut statuses = vec![];
    for _ in 0..5 {
        let r = client
            .post(format!("{}/api/v1/session", app.base))
            .json(&json!({"email": "nobody@example.com", "password": "guess"}))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, vec![401, 401, 401, 429, 429]);
}
