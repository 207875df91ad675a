//! The e-mail notices (issue 14) arrive at a real SMTP server: aiosmtpd from PyPI
//! (`REPRINT_SMTP_SERVER` names a python that has it; `scripts/test` installs it), started by
//! the test on a free port with a Maildir of its own. The ready-for-pickup e-mail comes once,
//! even when the counter's status arrives twice, in the account's language: Japanese for a
//! Japanese account, English for an English one, with the counter, its address and the amount
//! due. Skipped, saying so, without aiosmtpd.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use reprint_bus::subjects::{self, Address, SiteId};
use serde_json::json;

/// aiosmtpd on a free port of 127.0.0.1, storing every message into a Maildir.
struct SmtpServer {
    _child: tokio::process::Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl SmtpServer {
    async fn start() -> Option<SmtpServer> {
        let Some(python) = std::env::var_os("REPRINT_SMTP_SERVER").map(PathBuf::from) else {
            eprintln!(
                "skipped: no SMTP server (REPRINT_SMTP_SERVER names a python with aiosmtpd; scripts/test installs it)"
            );
            return None;
        };
        let maildir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("box"))
            .kill_on_drop(true)
            .spawn()
            .expect("aiosmtpd starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "aiosmtpd did not listen");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Some(SmtpServer {
            _child: child,
            port,
            maildir,
        })
    }

    /// Every message the server stored.
    fn messages(&self) -> Vec<Mail> {
        let new = self.maildir.path().join("box").join("new");
        let Ok(dir) = std::fs::read_dir(&new) else {
            return vec![];
        };
        dir.filter_map(|e| e.ok())
            .filter_map(|e| Mail::read(&e.path()))
            .collect()
    }
}

/// A stored message: its headers and its decoded text.
#[derive(Debug)]
struct Mail {
    headers: Vec<(String, String)>,
    text: String,
}

impl Mail {
    fn read(path: &Path) -> Option<Mail> {
        let raw = std::fs::read_to_string(path).ok()?.replace("\r\n", "\n");
        let (head, body) = raw.split_once("\n\n")?;
        let mut headers: Vec<(String, String)> = vec![];
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = headers.last_mut() {
                    last.1.push_str(line.trim());
                }
            } else if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let text = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_else(|| body.to_string());
        Some(Mail { headers, text })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn slip(order: &str, reception: &str) -> serde_json::Value {
    let now = chrono::Utc::now().to_rfc3339();
    json!({
        "order": order, "lab": LAB, "estimated_finish": null,
        "extract": {
            "from_site": LAB, "from_kind": "lab", "registration_number": "A0000001",
            "name": "Hanako Yamada", "telephone": "0312345678", "address": null, "email": null,
            "reception": {
                "number": reception, "order": order, "route": "internet",
                "received_at": now, "data_receive": null, "partner": COUNTER,
                "items": [], "charge": {"lines": [], "total": {"minor": 250, "currency": "JPY"}},
                "partner_charge": null, "estimated_finish": null, "state": "open"
            },
            "other_receptions": []
        }
    })
}

/// A user of `lang` with a placed order that the lab received (reception `reception`).
async fn received_order(
    app: &TestApp,
    lab: &mut async_nats::Subscriber,
    email: &str,
    lang: &str,
    reception: &str,
    seed: u64,
) -> String {
    let (u, order, image) = with_image(app, email, seed).await;
    let (s, b) = u.put("/api/v1/me/language", &json!({"lang": lang})).await;
    assert_eq!(s, 200, "{b}");
    let req = json!({"lab": LAB, "counter": COUNTER, "items": [{"image": image, "size": "L", "quantity": 2}]});
    let (s, v) = u
        .post_with(&format!("/api/v1/orders/{order}/submit"), &req, &order)
        .await;
    assert_eq!(s, 200, "{v}");
    next_order(lab).await;
    let gw = Address::gateway(SiteId::parse(&app.gateway_id).unwrap());
    js_publish(
        app,
        subjects::reception_recorded(&gw).unwrap(),
        &slip(&order, reception),
        &format!("slip-{reception}"),
    )
    .await;
    let path = format!("/api/v1/orders/{order}");
    eventually("the lab's reception", || async {
        let (_, v) = u.get(&path).await;
        v["stage"] == "received"
    })
    .await;
    order
}

/// The counter says the prints are ready, with the amount due (message id `id`).
async fn ready(app: &TestApp, order: &str, id: &str) {
    let change = json!({"order": order, "stage": "ready_for_pickup", "site": COUNTER,
        "site_kind": "counter", "at": chrono::Utc::now().to_rfc3339(),
        "detail": "ready at the counter",
        "charge": {"lines": [], "total": {"minor": 310, "currency": "JPY"}}});
    let sub = subjects::OrderId::parse(order.to_string()).unwrap();
    let from = SiteId::parse(COUNTER).unwrap();
    js_publish(app, subjects::status(&from, &sub), &change, id).await;
}

fn of<'a>(mails: &'a [Mail], order: &str, kind: &str) -> Vec<&'a Mail> {
    mails
        .iter()
        .filter(|m| {
            m.header("x-reprint-order") == Some(order) && m.header("x-reprint-notice") == Some(kind)
        })
        .collect()
}

#[tokio::test]
async fn the_ready_for_pickup_email_arrives_once_in_the_accounts_language() {
    let Some(smtp) = SmtpServer::start().await else {
        return;
    };
    let app = spawn_with(|c| {
        c.mail.smtp_url = Some(format!("smtp://127.0.0.1:{}", smtp.port));
        c.mail.interval_ms = 200;
        c.http.public_url = Some("https://prints.example".into());
    })
    .await;
    let _lab = serve_quotes(&app, LAB).await;
    let _counter = serve_quotes(&app, COUNTER).await;
    let mut lab = lab_orders(&app).await;

    let ja = received_order(&app, &mut lab, "hanako@example.jp", "ja", "B0000456", 31).await;
    let en = received_order(&app, &mut lab, "henry@example.com", "en", "B0000457", 32).await;
    // The status arrives twice (two messages, as a counter that sent it again would).
    for (order, n) in [(&ja, 1), (&en, 2)] {
        ready(&app, order, &format!("ready-{n}")).await;
        ready(&app, order, &format!("ready-{n}-again")).await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mails = smtp.messages();
        if !of(&mails, &ja, "ready").is_empty() && !of(&mails, &en, "ready").is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no ready-for-pickup e-mails within 20 s: {mails:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // More passes of the task (every 200 ms) and the second status: still one of each.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mails = smtp.messages();

    let ready_ja = of(&mails, &ja, "ready");
    assert_eq!(
        ready_ja.len(),
        1,
        "once, though the status came twice: {mails:#?}"
    );
    let m = ready_ja[0];
    assert_eq!(m.header("content-language"), Some("ja"));
    assert!(
        m.header("to").unwrap().contains("hanako@example.jp"),
        "{m:?}"
    );
    assert!(
        m.text.contains("プリントができあがりました")
            && m.text.contains("受け取り店舗：Site counter-x")
            && m.text.contains("住所：1-2-3 Ginza, Tokyo")
            && m.text.contains("店頭でのお支払い：¥310")
            && m.text.contains("受付番号：B0000456")
            && m.text
                .contains(&format!("https://prints.example/orders/{ja}/slip")),
        "the Japanese e-mail: {}",
        m.text
    );
    // The subject is encoded (RFC 2047): not plain ASCII English.
    assert!(m.header("subject").unwrap().contains("=?utf-8?b?"), "{m:?}");

    let ready_en = of(&mails, &en, "ready");
    assert_eq!(ready_en.len(), 1, "{mails:#?}");
    let m = ready_en[0];
    assert_eq!(m.header("content-language"), Some("en"));
    assert!(
        m.header("subject")
            .unwrap()
            .contains("ready for pickup at Site counter-x"),
        "{m:?}"
    );
    assert!(
        m.text.contains("Your prints are ready for pickup.")
            && m.text.contains("To pay at the counter: ¥310")
            && m.text.contains("Address: 1-2-3 Ginza, Tokyo"),
        "the English e-mail: {}",
        m.text
    );

    // The lab's reception was told too, once each, with the reception number and the slip.
    for (order, reception) in [(&ja, "B0000456"), (&en, "B0000457")] {
        let received = of(&mails, order, "received");
        assert!(received.len() <= 1, "{mails:#?}");
        if let Some(m) = received.first() {
            assert!(m.text.contains(reception), "{}", m.text);
            assert!(
                m.text.contains(&format!("/orders/{order}/slip")),
                "{}",
                m.text
            );
        }
    }
    assert_eq!(
        mails.len(),
        2 + of(&mails, &ja, "received").len() + of(&mails, &en, "received").len(),
        "nothing else: {mails:#?}"
    );
}

#[tokio::test]
async fn without_an_smtp_server_notices_are_eml_files_and_a_cancel_by_the_person_sends_none() {
    let folder = tempfile::tempdir().unwrap();
    let app = spawn_with(|c| {
        c.mail.folder = folder.path().to_path_buf();
        c.mail.interval_ms = 200;
    })
    .await;
    let _lab = serve_quotes(&app, LAB).await;
    let _counter = serve_quotes(&app, COUNTER).await;
    let mut lab = lab_orders(&app).await;
    let kept = received_order(&app, &mut lab, "keeps@example.com", "en", "B0000500", 33).await;
    let dropped = received_order(&app, &mut lab, "drops@example.com", "ja", "B0000501", 34).await;
    let eml = || -> Vec<String> {
        std::fs::read_dir(folder.path())
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    eventually("both received e-mails as .eml files", || async {
        let files = eml();
        [&kept, &dropped].iter().all(|o| {
            files
                .iter()
                .any(|f| f.contains(&format!("X-Reprint-Order: {o}")))
        })
    })
    .await;
    // The person cancels: no e-mail for that (they know).
    let u = sign_in(&app, "drops@example.com").await;
    let (s, c) = u
        .post(&format!("/api/v1/orders/{dropped}/cancel"), &json!({}))
        .await;
    assert_eq!(s, 200, "{c}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let files = eml();
    assert_eq!(files.len(), 2, "{files:#?}");
    assert!(
        files
            .iter()
            .all(|f| f.contains("X-Reprint-Notice: received")),
        "{files:#?}"
    );
}

/// Logs an existing account in (the common sign-up's password).
async fn sign_in(app: &TestApp, email: &str) -> UserClient {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let res = http
        .post(format!("{}/api/v1/session", app.base))
        .json(&json!({"email": email, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    UserClient {
        http,
        csrf: body["csrf_token"].as_str().unwrap().to_string(),
        base: app.base.clone(),
        account: body["account"].as_str().unwrap().to_string(),
    }
}
