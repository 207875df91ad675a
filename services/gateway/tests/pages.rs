//! The server-rendered pages: sign-up by form, the album, the order page, the ops dashboard.
//! (The same pages in a real browser: `tests/browser.rs`.)

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn pages_render_for_users_and_ops() {
    let app = spawn().await;
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .get(format!("{}/album", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "the album needs a log-in");
    // The forms carry this browser's pre-log-in token; a sign-up logs nobody in (it answers the
    // same for a taken e-mail), so the log-in form follows.
    let token = |html: String| {
        let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
        html[at..at + html[at..].find('"').unwrap()].to_string()
    };
    let signup = http
        .get(format!("{}/signup", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = token(signup);
    let r = http
        .post(format!("{}/signup", app.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Taro"),
            ("telephone", "090-1111-2222"),
            ("address", ""),
            ("email", "taro@example.com"),
            ("password", "a good password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csrf = token(r.text().await.unwrap());
    let r = http
        .post(format!("{}/login", app.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "taro@example.com"),
            ("password", "a good password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let album = http
        .get(format!("{}/album", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(album.status(), 200);
    let html = album.text().await.unwrap();
    assert!(
        html.contains("id=\"drop\"") && html.contains("progress") && html.contains(LAB),
        "{html}"
    );
    let r = http.get(format!("{}/ops", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 404, "ops is for the ops role only");

    // A bad form comes back as the form with the reason.
    let r = http
        .post(format!("{}/signup", app.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "X"),
            ("telephone", "12"),
            ("email", "x@example.com"),
            ("password", "a good password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    let ops = sign_up(&app, "ops@example.com").await;
    let r = ops.http.get(ops.url("/ops")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Messages waiting to be sent")
    );
    let order = ops.new_order().await;
    let r = ops
        .http
        .get(ops.url(&format!("/orders/{order}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("EventSource"));
    let (s, _) = ops
        .post(&format!("/api/v1/orders/{order}/cancel"), &json!({}))
        .await;
    assert_eq!(s, 200);
}
