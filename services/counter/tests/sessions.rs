//! The staff's sessions at the terminal (issue 13): a log-out ends the session for good (the
//! old cookie opens neither the pages nor the API), the log-in and log-out forms need their
//! tokens, strangers cannot lock a member of staff out, and the cookie is `Secure` behind https.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::*;
use reprint_testkit::NatsServer;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn session_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("reprint_session=") && !c.starts_with("reprint_session=;"))
        .map(|c| c.to_string())
}

fn csrf_of(html: &str, action: &str) -> String {
    let form = &html[html.find(&format!("action=\"{action}\"")).expect(action)..];
    let at = form.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    form[at..at + form[at..].find('"').unwrap()].to_string()
}

async fn status_with_cookie(c: &TestCounter, path: &str, cookie: &str) -> u16 {
    no_redirects()
        .get(format!("{}{path}", c.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn log_out_ends_the_staff_session_on_the_pages_and_the_api() {
    let nats = NatsServer::start();
    let c = spawn(&nats.url, None, "").await;
    let http = no_redirects();
    let page = http
        .get(format!("{}/login", c.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = http
        .post(format!("{}/login", c.base))
        .form(&[
            ("csrf", csrf_of(&page, "/login").as_str()),
            ("name", "tanaka"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = session_cookie(&r).expect("a session cookie");
    let cookie = cookie.split(';').next().unwrap().to_string();
    assert_eq!(status_with_cookie(&c, "/", &cookie).await, 200);
    assert_eq!(
        status_with_cookie(&c, "/api/v1/takings", &cookie).await,
        200
    );

    // Without the form's token the log-out is refused and the session stays.
    let r = http
        .post(format!("{}/logout", c.base))
        .form(&[("csrf", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(status_with_cookie(&c, "/", &cookie).await, 200);

    let home = http
        .get(format!("{}/", c.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = http
        .post(format!("{}/logout", c.base))
        .form(&[("csrf", csrf_of(&home, "/logout"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(status_with_cookie(&c, "/", &cookie).await, 303);
    assert_eq!(
        status_with_cookie(&c, "/api/v1/takings", &cookie).await,
        401
    );
}

#[tokio::test]
async fn a_log_in_form_from_another_site_is_refused() {
    let nats = NatsServer::start();
    let c = spawn(&nats.url, None, "").await;
    let r = no_redirects()
        .post(format!("{}/login", c.base))
        .form(&[("name", "tanaka"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(session_cookie(&r).is_none(), "nobody logged in");
}

#[tokio::test]
async fn strangers_cannot_lock_the_staff_out() {
    let nats = NatsServer::start();
    let c = spawn(&nats.url, None, "").await;
    let log_in = |n: u8, password: &'static str| {
        let url = format!("{}/api/v1/login", c.base);
        async move {
            reqwest::Client::builder()
                .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)))
                .build()
                .unwrap()
                .post(url)
                .json(&serde_json::json!({"name": "tanaka", "password": password}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    for n in 2..=12 {
        assert_eq!(log_in(n, "guess").await, 401, "stranger at 127.0.0.{n}");
    }
    assert_eq!(
        log_in(1, PASSWORD).await,
        200,
        "the member of staff at the terminal"
    );
}

#[tokio::test]
async fn the_session_cookie_is_secure_behind_https() {
    let nats = NatsServer::start();
    let c = spawn_edited(&nats.url, None, "", |t| {
        t.replace(
            "address = \"127.0.0.1:0\"",
            "address = \"127.0.0.1:0\"\npublic_url = \"https://counter.example.jp\"",
        )
    })
    .await;
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/login", c.base))
        .json(&serde_json::json!({"name": "tanaka", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = session_cookie(&r).expect("a session cookie");
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
}
