//! Sessions, log-in and sign-up as an attacker would try them (issue 13): a log-out ends the
//! session for good, a log-in or log-out form from another site is refused, log-in tells
//! nothing about which e-mails have accounts, strangers cannot lock the owner out, and sign-up
//! refuses weak passwords, non-addresses and control characters in plain words.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::*;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A client whose connections come from `127.0.0.<n>` (another source, on the loopback).
fn from_source(n: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)))
        .build()
        .unwrap()
}

/// The `reprint_session=...` pair of a response's `Set-Cookie`, if any.
fn session_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("reprint_session=") && !c.starts_with("reprint_session=;"))
        .map(|c| c.split(';').next().unwrap_or_default().to_string())
}

async fn sign_up_only(app: &TestApp, email: &str) {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/accounts", app.base))
        .json(&json!({"name": "Hanako Yamada", "telephone": "03-1234-5678", "email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
}

async fn api_log_in(
    http: &reqwest::Client,
    app: &TestApp,
    email: &str,
    password: &str,
) -> reqwest::Response {
    http.post(format!("{}/api/v1/session", app.base))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

/// The hidden `csrf` field of a page's form (the first one after `action`).
fn csrf_of(html: &str, action: &str) -> String {
    let form = &html[html.find(&format!("action=\"{action}\"")).expect(action)..];
    let at = form.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    form[at..at + form[at..].find('"').unwrap()].to_string()
}

async fn status_with_cookie(app: &TestApp, path: &str, cookie: &str) -> u16 {
    no_redirects()
        .get(format!("{}{path}", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn log_out_ends_the_session_on_the_api_and_the_pages() {
    let app = spawn().await;
    sign_up_only(&app, "leaver@example.com").await;

    // By the API.
    let http = no_redirects();
    let r = api_log_in(&http, &app, "leaver@example.com", PASSWORD).await;
    assert_eq!(r.status(), 200);
    let cookie = session_cookie(&r).expect("a session cookie");
    let csrf = r.json::<Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(status_with_cookie(&app, "/api/v1/me", &cookie).await, 200);
    let r = http
        .delete(format!("{}/api/v1/session", app.base))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        status_with_cookie(&app, "/api/v1/me", &cookie).await,
        401,
        "the old cookie after log-out"
    );
    assert_eq!(status_with_cookie(&app, "/album", &cookie).await, 303);

    // By the pages' forms.
    let http = no_redirects();
    let page = http
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = http
        .post(format!("{}/login", app.base))
        .form(&[
            ("csrf", csrf_of(&page, "/login").as_str()),
            ("email", "leaver@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = session_cookie(&r).expect("a session cookie");
    let album = http
        .get(format!("{}/album", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = http
        .post(format!("{}/logout", app.base))
        .form(&[("csrf", csrf_of(&album, "/logout"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(status_with_cookie(&app, "/album", &cookie).await, 303);
    assert_eq!(status_with_cookie(&app, "/api/v1/me", &cookie).await, 401);
}

#[tokio::test]
async fn a_log_in_form_from_another_site_is_refused() {
    let app = spawn().await;
    sign_up_only(&app, "attacker@example.com").await;
    // Another site's page posts the attacker's credentials from the victim's browser: no
    // token of this browser's log-in page.
    let victim = no_redirects();
    let r = victim
        .post(format!("{}/login", app.base))
        .form(&[("email", "attacker@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(session_cookie(&r).is_none(), "nobody logged in");
    assert!(r.text().await.unwrap().contains("another site"));
    let r = victim
        .post(format!("{}/login", app.base))
        .form(&[
            ("csrf", "forged"),
            ("email", "attacker@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The same for the sign-up form.
    let r = victim
        .post(format!("{}/signup", app.base))
        .form(&[
            ("name", "Mallory"),
            ("telephone", "03-1234-5678"),
            ("email", "mallory@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn log_out_needs_the_csrf_token() {
    let app = spawn().await;
    let u = sign_up(&app, "stays@example.com").await;
    let r = u
        .http
        .delete(u.url("/api/v1/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = u
        .http
        .post(u.url("/logout"))
        .form(&[("csrf", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let (s, _) = u.get("/api/v1/me").await;
    assert_eq!(s, 200, "still logged in");
}

#[tokio::test]
async fn an_unknown_email_costs_the_same_argon2_work_as_a_wrong_password() {
    let app = spawn().await;
    sign_up_only(&app, "known@example.com").await;
    let http = reqwest::Client::new();
    let before = app.state.logins.verifications();
    let r = api_log_in(&http, &app, "nobody@example.com", PASSWORD).await;
    assert_eq!(r.status(), 401);
    let unknown = r.text().await.unwrap();
    assert_eq!(
        app.state.logins.verifications(),
        before + 1,
        "unknown e-mail"
    );
    let r = api_log_in(&http, &app, "known@example.com", "not the password").await;
    assert_eq!(r.status(), 401);
    let wrong = r.text().await.unwrap();
    assert_eq!(
        app.state.logins.verifications(),
        before + 2,
        "wrong password"
    );
    assert_eq!(unknown, wrong, "the same answer");
}

#[tokio::test]
async fn strangers_cannot_lock_the_owner_out() {
    let app = spawn_with(|c| c.http.rate_limit_attempts = 10).await;
    sign_up_only(&app, "owner@example.com").await;
    for n in 2..=12 {
        let r = api_log_in(&from_source(n), &app, "owner@example.com", "guess").await;
        assert_eq!(r.status(), 401, "stranger at 127.0.0.{n}");
    }
    let owner = from_source(1);
    let r = api_log_in(&owner, &app, "owner@example.com", PASSWORD).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // One stranger who keeps guessing is held, with back-off.
    let stranger = from_source(13);
    let mut statuses = vec![];
    for _ in 0..12 {
        let r = api_log_in(&stranger, &app, "owner@example.com", "guess").await;
        statuses.push(r.status().as_u16());
    }
    assert_eq!(&statuses[..10], &[401; 10]);
    assert_eq!(&statuses[10..], &[429, 429]);
    let r = api_log_in(&stranger, &app, "owner@example.com", PASSWORD).await;
    assert_eq!(r.status(), 429, "locked even with the right password");
    let r = api_log_in(&owner, &app, "owner@example.com", PASSWORD).await;
    assert_eq!(r.status(), 200, "the owner is not");
}

async fn refused_sign_up(app: &TestApp, name: &str, email: &str, password: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/accounts", app.base))
        .json(&json!({"name": name, "telephone": "03-1234-5678", "email": email, "password": password}))
        .send()
        .await
        .unwrap();
    let (s, b) = status_json(r).await;
    assert_eq!(s, 422, "{name} {email} {password}: {b}");
    b["detail"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn sign_up_refuses_weak_passwords_bad_addresses_and_control_characters() {
    let app = spawn().await;
    for weak in ["password", "12345678", "hanako1234"] {
        let d = refused_sign_up(&app, "Hanako", "h@example.com", weak).await;
        assert!(d.contains("too easy to guess"), "{weak}: {d}");
    }
    let d = refused_sign_up(&app, "Hanako", "a@b", PASSWORD).await;
    assert!(d.contains("not an e-mail address"), "{d}");
    let d = refused_sign_up(&app, "Hanako\0", "h@example.com", PASSWORD).await;
    assert_eq!(
        d,
        reprint_domain::order_check::OrderError::BadName.to_string(),
        "a NUL in the name: the order check's words"
    );
}

#[tokio::test]
async fn sign_up_of_an_existing_email_does_not_say_it_exists() {
    let app = spawn().await;
    let sign = |name: &'static str, password: &'static str| {
        let base = app.base.clone();
        async move {
            let r = reqwest::Client::new()
                .post(format!("{base}/api/v1/accounts"))
                .json(&json!({"name": name, "telephone": "03-1234-5678", "email": "taken@example.com", "password": password}))
                .send()
                .await
                .unwrap();
            let cookie = session_cookie(&r);
            let (s, b) = status_json(r).await;
            (s, b, cookie)
        }
    };
    let first = sign("Hanako Yamada", PASSWORD).await;
    let again = sign("Someone Else", "another fine passphrase").await;
    assert_eq!(first.0, 202);
    assert_eq!((first.0, &first.1), (again.0, &again.1), "the same answer");
    assert!(first.2.is_none() && again.2.is_none(), "nobody logged in");
    let text = again.1.to_string().to_lowercase();
    assert!(
        !text.contains("taken") && !text.contains("exists"),
        "{text}"
    );
    // The account is the first one's, unchanged.
    let http = reqwest::Client::new();
    let r = api_log_in(&http, &app, "taken@example.com", "another fine passphrase").await;
    assert_eq!(r.status(), 401);
    let r = api_log_in(&http, &app, "taken@example.com", PASSWORD).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["name"], "Hanako Yamada");
}

#[tokio::test]
async fn session_cookies_are_secure_when_configured() {
    let app = spawn_with(|c| c.http.secure_cookies = true).await;
    sign_up_only(&app, "tls@example.com").await;
    let r = api_log_in(&reqwest::Client::new(), &app, "tls@example.com", PASSWORD).await;
    let set: Vec<_> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        set.iter().any(|c| c.starts_with("reprint_session=")
            && c.contains("Secure")
            && c.contains("HttpOnly")),
        "{set:?}"
    );
}

#[tokio::test]
async fn a_password_change_ends_every_other_session_and_keeps_this_one() {
    let app = spawn().await;
    let u = sign_up(&app, "changer@example.com").await;
    let other = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    assert_eq!(
        api_log_in(&other, &app, "changer@example.com", PASSWORD)
            .await
            .status(),
        200
    );

    // A wrong current password, a weak new one, no CSRF token: refused, nothing ends.
    let change =
        |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    let (s, b) = u
        .post(
            "/api/v1/me/password",
            &change("wrong", "lantern orchard velvet"),
        )
        .await;
    assert_eq!(s, 403, "{b}");
    let (s, b) = u
        .post("/api/v1/me/password", &change(PASSWORD, "password1"))
        .await;
    assert_eq!(s, 422, "{b}");
    assert!(
        b["detail"].as_str().unwrap().contains("too easy to guess"),
        "{b}"
    );
    let r = u
        .http
        .post(u.url("/api/v1/me/password"))
        .json(&change(PASSWORD, "lantern orchard velvet"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no X-CSRF-Token");
    let r = other
        .get(format!("{}/api/v1/me", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the other session still open");

    let (s, b) = u
        .post(
            "/api/v1/me/password",
            &change(PASSWORD, "lantern orchard velvet"),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(b["sessions_ended"].as_u64().unwrap() >= 2, "{b}");
    let r = other
        .get(format!("{}/api/v1/me", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the other session has ended");
    // This one goes on, with the new CSRF token (the old one no longer works).
    let (s, _) = u.get("/api/v1/me").await;
    assert_eq!(s, 200, "this session goes on");
    let fresh = b["csrf_token"].as_str().unwrap().to_string();
    assert_ne!(fresh, u.csrf);
    let put = |token: String, lang: &'static str| {
        u.http
            .put(u.url("/api/v1/me/language"))
            .header("x-csrf-token", token)
            .json(&json!({"lang": lang}))
            .send()
    };
    assert_eq!(put(u.csrf.clone(), "ja").await.unwrap().status(), 403);
    let r = put(fresh.clone(), "ja").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(put(fresh.clone(), "fr").await.unwrap().status(), 422);
    // The pages of this session now speak the account's language.
    let html = u
        .http
        .get(u.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<html lang=\"ja\""), "{html}");

    // The old password no longer logs in; the new one does.
    let http = reqwest::Client::new();
    assert_eq!(
        api_log_in(&http, &app, "changer@example.com", PASSWORD)
            .await
            .status(),
        401
    );
    assert_eq!(
        api_log_in(&http, &app, "changer@example.com", "lantern orchard velvet")
            .await
            .status(),
        200
    );
}
