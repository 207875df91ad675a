//! The operator's sessions (issue 13): a log-out ends the session for good (the old cookie
//! opens neither the console nor the API), the log-in and log-out forms need their tokens,
//! strangers cannot lock the operator out, and the cookie is `Secure` behind https.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::*;

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

async fn status_with_cookie(lab: &Running, path: &str, cookie: &str) -> u16 {
    no_redirects()
        .get(lab.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Logs in by the console's form; the session cookie (`name=value`).
async fn form_log_in(http: &reqwest::Client, lab: &Running) -> String {
    let page = http
        .get(lab.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = http
        .post(lab.url("/login"))
        .form(&[
            ("csrf", csrf_of(&page, "/login").as_str()),
            ("name", "operator"),
            ("password", "change-me"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let c = session_cookie(&r).expect("a session cookie");
    c.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn log_out_ends_the_operators_session_on_the_console_and_the_api() {
    let rig = Rig::new(false).await;
    let lab = Running::start(rig.config(), None).await;
    let http = no_redirects();
    let cookie = form_log_in(&http, &lab).await;
    assert_eq!(
        status_with_cookie(&lab, "/api/v1/session", &cookie).await,
        200
    );
    assert_eq!(status_with_cookie(&lab, "/", &cookie).await, 200);

    // Without the form's token the log-out is refused and the session stays.
    let r = http
        .post(lab.url("/logout"))
        .form(&[("csrf", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        status_with_cookie(&lab, "/api/v1/session", &cookie).await,
        200
    );

    let queue = http
        .get(lab.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = http
        .post(lab.url("/logout"))
        .form(&[("csrf", csrf_of(&queue, "/logout"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        status_with_cookie(&lab, "/api/v1/session", &cookie).await,
        401
    );
    assert_eq!(status_with_cookie(&lab, "/", &cookie).await, 303);
    lab.stop().await;
}

#[tokio::test]
async fn a_log_in_form_from_another_site_is_refused() {
    let rig = Rig::new(false).await;
    let lab = Running::start(rig.config(), None).await;
    let r = no_redirects()
        .post(lab.url("/login"))
        .form(&[("name", "operator"), ("password", "change-me")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(session_cookie(&r).is_none(), "nobody logged in");
    lab.stop().await;
}

#[tokio::test]
async fn strangers_cannot_lock_the_operator_out() {
    let rig = Rig::new(false).await;
    let lab = Running::start(rig.config(), None).await;
    let from = |n: u8| {
        reqwest::Client::builder()
            .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)))
            .build()
            .unwrap()
    };
    let log_in = |http: reqwest::Client, password: &'static str| {
        let url = lab.url("/api/v1/login");
        async move {
            http.post(url)
                .json(&serde_json::json!({"name": "operator", "password": password}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    for n in 2..=12 {
        assert_eq!(
            log_in(from(n), "guess").await,
            401,
            "stranger at 127.0.0.{n}"
        );
    }
    assert_eq!(
        log_in(from(1), "change-me").await,
        200,
        "the operator at the console"
    );
    lab.stop().await;
}

#[tokio::test]
async fn the_session_cookie_is_secure_behind_https() {
    let rig = Rig::new(false).await;
    let lab = Running::start(
        rig.config_with(|t| {
            t.replace(
                "address = \"127.0.0.1:0\"",
                "address = \"127.0.0.1:0\"\npublic_url = \"https://lab.example.jp\"",
            )
        }),
        None,
    )
    .await;
    let r = reqwest::Client::new()
        .post(lab.url("/api/v1/login"))
        .json(&serde_json::json!({"name": "operator", "password": "change-me"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let c = session_cookie(&r).expect("a session cookie");
    assert!(c.contains("; Secure") && c.contains("HttpOnly"), "{c}");
    lab.stop().await;
}
