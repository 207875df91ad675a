//! What the API tells a client (issue 13): every status an operation answers to bad input is
//! declared in its OpenAPI document (the document is walked, each operation sent the bad
//! requests the bad-input tests send), and a download's `Content-Disposition` names the file
//! safely (`filename*` in UTF-8, an ASCII `filename`, no control or bidirectional characters).

mod common;

use common::*;
use serde_json::json;

type BadRequest = (&'static str, bool, bool, Option<(&'static str, Vec<u8>)>);

/// The bad requests sent to every operation: (what, with the session, with the CSRF token,
/// content type and body, or none).
fn bad_requests(has_body: bool) -> Vec<BadRequest> {
    let json = "application/json";
    let mut out = vec![
        (
            "no session",
            false,
            false,
            has_body.then(|| (json, b"{}".to_vec())),
        ),
        (
            "no CSRF token",
            true,
            false,
            has_body.then(|| (json, b"{}".to_vec())),
        ),
    ];
    if has_body {
        out.extend([
            (
                "JSON syntax",
                true,
                true,
                Some((json, b"{\"lab\": ".to_vec())),
            ),
            (
                "wrong shape",
                true,
                true,
                Some((json, b"{\"lab\": 13, \"x\": []}".to_vec())),
            ),
            (
                "not JSON",
                true,
                true,
                Some(("text/plain", b"hello".to_vec())),
            ),
            (
                "too large",
                true,
                true,
                Some((json, vec![b' '; 3 * 1024 * 1024])),
            ),
        ]);
    } else {
        out.push(("unknown ids", true, true, None));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_answered_to_bad_input_is_in_the_document() {
    let app = spawn().await;
    let u = sign_up(&app, "contract@example.com").await;
    let (s, doc) = u.get("/api/v1/openapi.json").await;
    assert_eq!(s, 200);
    let mut undeclared = Vec::new();
    let mut sent = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Ok(m) = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue;
            };
            if path == "/api/v1/session" && method == "delete" {
                continue; // log-out: would end the session of the requests after it
            }
            // Unknown ids: an order id of the right shape, an image id of the wrong one.
            let url = path
                .replace("{id}", "0190a5e2-7c3b-7000-8000-000000000013")
                .replace("{image}", "nope");
            let declared = op["responses"].as_object().unwrap();
            for (what, session, csrf, body) in bad_requests(op.get("requestBody").is_some()) {
                let client = if session {
                    u.http.clone()
                } else {
                    reqwest::Client::new()
                };
                // A connection each: one closed after a 413 is not reused.
                let mut rb = client
                    .request(m.clone(), format!("{}{url}", app.base))
                    .header("connection", "close");
                if csrf {
                    rb = rb.header("x-csrf-token", &u.csrf);
                }
                if let Some((ct, bytes)) = body {
                    rb = rb.header("content-type", ct).body(bytes);
                }
                let r = match rb.send().await {
                    Ok(r) => r,
                    // The server may answer 413 and close before the client has written it all.
                    Err(e) if what == "too large" => {
                        eprintln!("{method} {path} ({what}): no answer read: {e}");
                        continue;
                    }
                    Err(e) => panic!("{method} {path} ({what}): {e}"),
                };
                sent += 1;
                let status = r.status().as_u16().to_string();
                assert!(
                    !status.starts_with('5'),
                    "{method} {path} ({what}): {status} {}",
                    r.text().await.unwrap_or_default()
                );
                if !declared.contains_key(&status) {
                    undeclared.push(format!("{method} {path} ({what}): {status}"));
                }
            }
        }
    }
    assert!(
        sent > 40,
        "the document lists the operations ({sent} requests)"
    );
    assert!(
        undeclared.is_empty(),
        "answered but not in the document:\n{}",
        undeclared.join("\n")
    );
}

#[tokio::test]
async fn a_download_is_named_without_controls_or_overrides() {
    let app = spawn().await;
    let u = sign_up(&app, "names@example.com").await;
    let order = u.new_order().await;
    let photo = jpeg(13, 640, 480);
    let (s, r) = u
        .put(
            &format!("/api/v1/orders/{order}/storage"),
            &json!({"bytes": photo.len()}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    // "写真<RLO>gpj.exe" shows as "写真exe.jpg" in a right-to-left-aware file list.
    let name = "写真\u{202E}gpj.exe";
    let r = u
        .http
        .put(u.url(&format!("/api/v1/orders/{order}/images")))
        .query(&[("name", name)])
        .header("x-csrf-token", &u.csrf)
        .body(photo)
        .send()
        .await
        .unwrap();
    let (s, up) = status_json(r).await;
    assert_eq!(s, 201, "{up}");
    let image = up["image"].as_str().unwrap();
    let r = u
        .http
        .get(u.url(&format!("/api/v1/images/{image}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let raw = r.headers()["content-disposition"].as_bytes().to_vec();
    let d = String::from_utf8(raw).expect("UTF-8");
    assert!(
        d.is_ascii() && !d.chars().any(|c| c.is_control()),
        "ASCII without control characters: {d:?}"
    );
    assert!(d.starts_with("attachment; filename=\""), "{d}");
    assert!(
        d.contains("filename*=UTF-8''%E5%86%99%E7%9C%9Fgpj.exe"),
        "the name in UTF-8, the override dropped: {d}"
    );
    assert!(!d.contains("%E2%80%AE"), "no right-to-left override: {d}");
}
