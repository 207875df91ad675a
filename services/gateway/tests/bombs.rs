//! Bombs, damaged pictures and slow clients at the gateway's upload (issue 13): each a clear 4xx
//! naming the file, nothing stored, and one client's slow body never another user's wait.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A user with an order that has room for `bytes`.
async fn user_with_room(app: &TestApp, email: &str, bytes: usize) -> (UserClient, String) {
    let u = sign_up(app, email).await;
    let order = u.new_order().await;
    let (s, b) = u
        .put(
            &format!("/api/v1/orders/{order}/storage"),
            &json!({"bytes": bytes}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    (u, order)
}

/// A 1.1 MB PNG that opens to 12000 x 12000 RGBA16 (1.2 GB) is within the pixel limits; it is
/// refused from its header by the decoded-size limit, in plain words naming the file, and
/// nothing is stored.
#[tokio::test]
async fn a_png_bomb_is_refused_before_it_is_opened() {
    let app = spawn().await;
    let bomb = reprint_media::synthetic::png_bomb(12_000, 12_000, true).unwrap();
    let (u, order) = user_with_room(&app, "bomb@example.com", bomb.len()).await;
    let before = image_store_messages(&app).await;
    let (s, b) = u.upload(&order, "holiday.png", bomb).await;
    assert_eq!(s, 422, "{b}");
    let detail = b["detail"].as_str().unwrap();
    assert!(detail.contains("holiday.png"), "{detail}");
    assert!(
        detail.contains("would take 1.2 GB to open; the limit is 168 MB"),
        "refused from the header by the decoded-size limit: {detail}"
    );
    assert_eq!(image_store_messages(&app).await, before, "nothing stored");
    let (s, order) = u.get(&format!("/api/v1/orders/{order}")).await;
    assert_eq!(s, 200);
    assert_eq!(order["images"].as_array().map_or(0, Vec::len), 0, "{order}");
}

/// A photo with 20 KB of its scan data overwritten reads as a whole JPEG (its markers are
/// intact) and used to be accepted and printed garbled: refused, naming the file.
#[tokio::test]
async fn a_jpeg_with_damaged_scan_data_is_refused_naming_it() {
    let app = spawn().await;
    let sound = jpeg(3, 1600, 1200);
    let damaged = reprint_media::synthetic::damaged_scan(&sound, 20_000, 0).unwrap();
    let (u, order) = user_with_room(&app, "damaged@example.com", 2 * sound.len()).await;
    let (s, b) = u.upload(&order, "IMG_0042.JPG", damaged).await;
    assert_eq!(s, 422, "{b}");
    let detail = b["detail"].as_str().unwrap();
    assert!(detail.contains("IMG_0042.JPG"), "{detail}");
    assert!(detail.contains("damaged"), "{detail}");
    let (s, b) = u.upload(&order, "IMG_0043.JPG", sound).await;
    assert_eq!(s, 201, "the sound photo is taken: {b}");
}

/// A fresh session of an existing account as raw header values: (cookie, CSRF token).
async fn raw_session(app: &TestApp, email: &str) -> (String, String) {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/session", app.base))
        .json(&json!({"email": email, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next())
        .collect::<Vec<_>>()
        .join("; ");
    let body: serde_json::Value = r.json().await.unwrap();
    (cookie, body["csrf_token"].as_str().unwrap().to_string())
}

/// Opens an upload of `declared` bytes on a raw connection and sends its head.
async fn open_upload(
    app: &TestApp,
    (cookie, csrf): &(String, String),
    order: &str,
    declared: usize,
) -> tokio::net::TcpStream {
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PUT /api/v1/orders/{order}/images?name=slow.jpg HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\nContent-Type: application/octet-stream\r\nContent-Length: {declared}\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp
}

/// One upload permit in all: a client of one account trickles its body a byte at a time (as
/// it may, for minutes); another account's upload is answered while the first still sends.
/// (The permit used to be taken before the body was read: the second upload waited for the
/// first body to end.)
#[tokio::test]
async fn a_slow_uploader_does_not_hold_up_another_accounts_upload() {
    let app = spawn_with(|c| c.storage.concurrent_uploads = 1).await;
    let (_slow_user, slow_order) = user_with_room(&app, "slow@example.com", 10_000).await;
    let session = raw_session(&app, "slow@example.com").await;
    let mut tcp = open_upload(&app, &session, &slow_order, 10_000).await;
    let trickling = Arc::new(AtomicBool::new(true));
    let flag = trickling.clone();
    let slow = tokio::spawn(async move {
        // At most 40 bytes, one every 250 ms (10 s), then the connection closes.
        for _ in 0..40 {
            if tcp.write_all(&[0xFF]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        flag.store(false, Ordering::SeqCst);
        // The connection closes: the gateway sees a body cut short.
        drop(tcp);
    });
    tokio::time::sleep(Duration::from_millis(500)).await;

    let photo = jpeg(9, 400, 300);
    let (u, order) = user_with_room(&app, "quick@example.com", photo.len()).await;
    let (s, b) = u.upload(&order, "quick.jpg", photo).await;
    assert_eq!(s, 201, "{b}");
    assert!(
        trickling.load(Ordering::SeqCst),
        "the second upload was answered only after the slow body stopped coming"
    );
    slow.abort();
}

/// A body that stops coming is answered 408 in plain words after the configured idle time,
/// and nothing is kept.
#[tokio::test]
async fn a_stalled_upload_is_answered_408() {
    let app = spawn_with(|c| c.storage.upload_idle_secs = 1).await;
    let (_u, order) = user_with_room(&app, "stall@example.com", 10_000).await;
    let session = raw_session(&app, "stall@example.com").await;
    let before = image_store_messages(&app).await;
    let mut tcp = open_upload(&app, &session, &order, 10_000).await;
    tcp.write_all(&[0xFF, 0xD8, 0xFF]).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        let mut buf = [0u8; 4096];
        loop {
            let n = tcp.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer to a stalled upload within 30 s");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("no bytes came for 1 seconds"), "{text}");
    assert_eq!(image_store_messages(&app).await, before, "nothing stored");
}
