//! The home user's path in a real headless Chromium (Debian's `chromium`), driven over the
//! DevTools protocol: sign up by the form, upload two photos through the album's file input
//! with a progress bar each, quote, place the order (a fake lab on the real NATS answers the
//! quote and receives `OrderPlaced`), and see it on the order page, updating live.
//!
//! Skipped, with a message saying so, where `/usr/bin/chromium` is not installed.
//!
//! The DevTools client is the few lines at the bottom of this file (commands over one
//! WebSocket to the page target), not a crate: the test needs six CDP methods.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use futures::{SinkExt, StreamExt};
use reprint_bus::subjects;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const CHROMIUM: &str = "/usr/bin/chromium";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_home_user_signs_up_uploads_two_photos_and_places_an_order_in_chromium() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("skipped: chromium not installed (apt-get install chromium)");
        return;
    }
    let app = spawn().await;
    let _lab = serve_quotes(&app, LAB).await;
    let _counter = serve_quotes(&app, COUNTER).await;
    let mut lab_inbox = lab_orders(&app).await;

    let dir = tempfile::tempdir().unwrap();
    let photos: Vec<PathBuf> = [("harbour.jpg", 11), ("temple.jpg", 12)]
        .iter()
        .map(|(name, seed)| {
            let p = dir.path().join(name);
            std::fs::write(&p, jpeg(*seed, 2400, 1600)).unwrap();
            p
        })
        .collect();

    let browser = Browser::launch(dir.path()).await;
    let mut page = browser.page().await;
    page.call("Page.enable", json!({})).await;
    page.call("Runtime.enable", json!({})).await;

    // Sign up by the form, as a person would.
    page.goto(&format!("{}/signup", app.base)).await;
    page.eval(
        r#"(() => {
            const f = document.querySelector('form[action="/signup"]');
            f.name.value = 'Hanako Yamada'; f.telephone.value = '03-1234-5678';
            f.address.value = '1-1 Chiyoda, Tokyo'; f.email.value = 'browser@example.com';
            f.password.value = 'correct horse battery'; f.submit(); return true; })()"#,
    )
    .await;
    // A sign-up logs nobody in (it answers the same for a taken e-mail): the log-in form next.
    page.wait_for(
        "the log-in form after sign-up",
        "document.querySelector('form[action=\"/login\"]') !== null && document.readyState === 'complete'",
    )
    .await;
    page.eval(
        r#"(() => {
            const f = document.querySelector('form[action="/login"]');
            f.email.value = 'browser@example.com'; f.password.value = 'correct horse battery';
            f.submit(); return true; })()"#,
    )
    .await;
    page.wait_for(
        "the album after log-in",
        "location.pathname === '/album' && document.readyState === 'complete'",
    )
    .await;

    // Two photos through the file input; a progress bar for each, both finish.
    let doc = page.call("DOM.getDocument", json!({"depth": 0})).await;
    let input = page
        .call(
            "DOM.querySelector",
            json!({"nodeId": doc["root"]["nodeId"], "selector": "#files"}),
        )
        .await;
    page.call(
        "DOM.setFileInputFiles",
        json!({
            "nodeId": input["nodeId"],
            "files": photos.iter().map(|p| p.to_string_lossy().to_string()).collect::<Vec<_>>(),
        }),
    )
    .await;
    page.wait_for(
        "two progress bars",
        "document.querySelectorAll('#progress progress').length === 2",
    )
    .await;
    page.wait_for(
        "both uploads done",
        "[...document.querySelectorAll('#progress .upload em')].filter(e => e.textContent === 'done').length === 2",
    )
    .await;
    let bars = page
        .eval("[...document.querySelectorAll('#progress progress')].map(p => p.offsetWidth > 0 && p.value)")
        .await;
    assert_eq!(bars, json!([1, 1]), "each bar visible and full");
    page.wait_for(
        "the order form with both photos",
        "!document.querySelector('#orderform').hidden && document.querySelectorAll('#items tr').length === 2",
    )
    .await;

    // Quote from both sites, then place the order.
    page.eval("document.querySelector('#quote').click(), true")
        .await;
    page.wait_for(
        "the quote",
        "document.querySelector('#quoted').textContent.includes('To pay at the counter')",
    )
    .await;
    let quoted = page
        .eval("document.querySelector('#quoted').textContent")
        .await;
    assert!(
        quoted
            .as_str()
            .unwrap()
            .contains(&format!("basic charge at {LAB}")),
        "{quoted}"
    );
    page.eval("document.querySelector('#place').click(), true")
        .await;
    page.wait_for(
        "the order page",
        "location.pathname.startsWith('/orders/') && document.readyState === 'complete'",
    )
    .await;

    // The lab received it, with both images by reference.
    let placed = next_order(&mut lab_inbox).await;
    assert_eq!(placed.items.len(), 2);
    let path = page.eval("location.pathname").await;
    let order = placed.order.to_string();
    assert_eq!(path, json!(format!("/orders/{order}")));
    let stage = page
        .eval("document.querySelector('#stage').textContent")
        .await;
    assert_eq!(stage, json!("placed"));

    // The page follows the order live (server-sent events): the lab starts printing.
    page.wait_for(
        "the live stream to open",
        "typeof es !== 'undefined' && es.readyState === 1",
    )
    .await;
    let change = json!({"order": order, "stage": "printing", "site": LAB, "site_kind": "lab",
        "at": chrono::Utc::now().to_rfc3339(), "detail": "on printer 1", "charge": null});
    let sub = subjects::OrderId::parse(order.clone()).unwrap();
    js_publish(
        &app,
        subjects::status(&subjects::SiteId::parse(LAB).unwrap(), &sub),
        &change,
        "browser-status-1",
    )
    .await;
    page.wait_for(
        "the stage to change live",
        "document.querySelector('#stage').textContent === 'printing'",
    )
    .await;

    let shot = page
        .call("Page.captureScreenshot", json!({"format": "png"}))
        .await;
    let png = base64_decode(shot["data"].as_str().unwrap());
    assert_eq!(&png[1..4], b"PNG");
    let file = std::env::temp_dir().join(format!("reprint-gateway-order-{order}.png"));
    std::fs::write(&file, &png).unwrap();
    eprintln!("screenshot: {}", file.display());

    browser.close(&mut page).await;
}

/// A headless Chromium of this test: killed when dropped.
struct Browser {
    child: tokio::process::Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn launch(downloads: &Path) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let child = tokio::process::Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1200,1600",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .current_dir(downloads)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromium starts");
        // Chromium writes the port it chose into the profile.
        let marker = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = loop {
            if let Ok(text) = std::fs::read_to_string(&marker)
                && let Some(port) = text.lines().next().and_then(|l| l.trim().parse().ok())
            {
                break port;
            }
            assert!(Instant::now() < deadline, "chromium did not open DevTools");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        Browser {
            child,
            port,
            _profile: profile,
        }
    }

    /// The DevTools connection of the first page.
    async fn page(&self) -> Page {
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = loop {
            let list: Value = reqwest::get(format!("http://127.0.0.1:{}/json/list", self.port))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(url) = list
                .as_array()
                .and_then(|a| a.iter().find(|t| t["type"] == "page"))
                .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            {
                break url.to_string();
            }
            assert!(Instant::now() < deadline, "no page target");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("DevTools WebSocket");
        Page { ws, next_id: 0 }
    }

    async fn close(mut self, page: &mut Page) {
        // Browser.close through the page's connection ends every process of this browser.
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            page.send_only("Browser.close", json!({})),
        )
        .await;
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}

/// One page target: commands and their replies, events skipped.
struct Page {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl Page {
    async fn send_only(&mut self, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let text = json!({"id": id, "method": method, "params": params}).to_string();
        self.ws.send(Message::text(text)).await.expect("CDP send");
        id
    }

    /// Sends a command and waits for its result or its CDP error.
    async fn call_raw(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        let id = self.send_only(method, params).await;
        let deadline = Duration::from_secs(30);
        loop {
            let frame = tokio::time::timeout(deadline, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no reply to {method}"))
                .expect("DevTools connection open")
                .expect("DevTools frame");
            let Message::Text(text) = frame else { continue };
            let v: Value = serde_json::from_str(text.as_str()).expect("CDP JSON");
            if v["id"].as_u64() != Some(id) {
                continue; // an event, or the reply to something else
            }
            return match v.get("error") {
                Some(e) => Err(e.clone()),
                None => Ok(v["result"].clone()),
            };
        }
    }

    /// Sends a command and returns its result (panics on a CDP error).
    async fn call(&mut self, method: &str, params: Value) -> Value {
        match self.call_raw(method, params).await {
            Ok(v) => v,
            Err(e) => panic!("{method}: {e}"),
        }
    }

    async fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
        let done = format!(
            "location.href === {} && document.readyState === 'complete'",
            json!(url)
        );
        self.wait_for(url, &done).await;
    }

    /// Evaluates `expression` in the page and returns its value (awaiting a promise).
    async fn eval(&mut self, expression: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expression}: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Polls `condition` (a JS expression) until it is true, for at most 20 s.
    async fn wait_for(&mut self, what: &str, condition: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // Errors (a navigation replacing the document under the call) count as "not yet".
            let r = self
                .call_raw(
                    "Runtime.evaluate",
                    json!({"expression": format!("(() => {{ try {{ return !!({condition}); }} catch (e) {{ return false; }} }})()"), "returnByValue": true}),
                )
                .await
                .unwrap_or_default();
            if r["result"]["value"] == json!(true) {
                return;
            }
            if Instant::now() > deadline {
                let body = self
                    .eval("document.body ? document.body.innerText : ''")
                    .await;
                panic!("timed out waiting for {what}; the page says: {body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}
