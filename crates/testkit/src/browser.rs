//! A headless Chromium (Debian's `chromium`) driven over the DevTools protocol, for the
//! browser tests: launch, navigate, evaluate, wait, screenshots at desktop and phone size,
//! overflow and touch-target checks, and axe-core's accessibility check.
//!
//! Shared by the browser tests of the gateway, the lab and the counter.
//!
//! The DevTools client is these few lines (commands over one WebSocket to the page target), not
//! a crate: the tests need a handful of CDP methods. `CHROMIUM` missing: tests skip, saying so.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether the browser tests can run here; prints why not.
pub fn chromium_installed() -> bool {
    let ok = Path::new(CHROMIUM).exists();
    if !ok {
        eprintln!("skipped: chromium not installed (apt-get install chromium)");
    }
    ok
}

/// A headless Chromium of this test: killed when dropped.
pub struct Browser {
    child: tokio::process::Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn launch(downloads: &Path) -> Browser {
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
    pub async fn page(&self) -> Page {
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

    pub async fn close(mut self, page: &mut Page) {
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
pub struct Page {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl Page {
    pub async fn send_only(&mut self, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let text = json!({"id": id, "method": method, "params": params}).to_string();
        self.ws.send(Message::text(text)).await.expect("CDP send");
        id
    }

    /// Sends a command and waits for its result or its CDP error.
    pub async fn call_raw(&mut self, method: &str, params: Value) -> Result<Value, Value> {
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
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        match self.call_raw(method, params).await {
            Ok(v) => v,
            Err(e) => panic!("{method}: {e}"),
        }
    }

    pub async fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
        let done = format!(
            "location.href === {} && document.readyState === 'complete'",
            json!(url)
        );
        self.wait_for(url, &done).await;
    }

    /// Evaluates `expression` in the page and returns its value (awaiting a promise).
    pub async fn eval(&mut self, expression: &str) -> Value {
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
    pub async fn wait_for(&mut self, what: &str, condition: &str) {
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

pub fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}

impl Page {
    /// Shows the page as a screen of `width` x `height` CSS pixels would (a 390 x 844 phone:
    /// mobile, touch, device scale 3; anything wider: a desktop window).
    pub async fn set_viewport(&mut self, width: u32, height: u32) {
        let mobile = width < 600;
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": if mobile { 3 } else { 1 }, "mobile": mobile}),
        )
        .await;
        self.call(
            "Emulation.setTouchEmulationEnabled",
            json!({"enabled": mobile, "maxTouchPoints": if mobile { 5 } else { 1 }}),
        )
        .await;
    }

    /// How far the page is wider than its viewport (0: nothing runs off the screen), with the
    /// elements sticking out on the right if any.
    pub async fn horizontal_overflow(&mut self) -> (i64, Vec<String>) {
        let v = self
            .eval(
                r#"(() => {
                const w = document.documentElement.clientWidth;
                const over = document.documentElement.scrollWidth - w;
                const out = [...document.querySelectorAll('body *')]
                    .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.right > w + 1 && !e.closest('.scroll'); })
                    .slice(0, 8)
                    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + String(e.className).split(' ').join('.') : ''));
                return [over, out]; })()"#,
            )
            .await;
        let over = v[0].as_i64().unwrap_or(0);
        let out = v[1]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        (over, out)
    }

    /// Panics if the page is wider than its viewport, naming what sticks out.
    pub async fn assert_fits(&mut self, what: &str) {
        let (over, out) = self.horizontal_overflow().await;
        assert!(
            over <= 0,
            "{what}: {over} px wider than the screen: {out:?}"
        );
    }

    /// Buttons, links and inputs smaller than 44 x 44 CSS px (touch targets), as `tag#id text`.
    pub async fn small_touch_targets(&mut self) -> Vec<String> {
        let v = self
            .eval(
                r#"[...document.querySelectorAll('button, .button, input:not([type=hidden]), select, textarea, nav a')]
                .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && (r.height < 43.5 || r.width < 43.5); })
                .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ' + (e.textContent || e.name || '').trim().slice(0, 30))"#,
            )
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Saves a PNG of the viewport to the temp directory and returns its path.
    pub async fn screenshot(&mut self, name: &str) -> PathBuf {
        let shot = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let png = base64_decode(shot["data"].as_str().unwrap_or_default());
        assert_eq!(&png[1..4], b"PNG");
        let file = std::env::temp_dir().join(format!("reprint-{name}.png"));
        std::fs::write(&file, &png).unwrap();
        eprintln!("screenshot: {}", file.display());
        file
    }

    /// The serious and critical accessibility violations axe-core finds on the page (WCAG 2 A
    /// and AA rules), as `rule: what it says (first element)`. Needs axe-core's `axe.min.js`,
    /// named by `REPRINT_AXE` (scripts/test fetches it from npm); without it `None`, and the
    /// caller says the check was skipped.
    pub async fn axe_violations(&mut self) -> Option<Vec<String>> {
        let path = std::env::var("REPRINT_AXE").ok()?;
        let script = std::fs::read_to_string(&path).ok()?;
        self.eval(&format!("(() => {{ {script}\n; return true; }})()"))
            .await;
        let v = self
            .eval(
                r#"axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
                .then(r => r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => v.id + ': ' + v.help + ' (' + (v.nodes[0] ? v.nodes[0].target.join(' ') : '') + ')'))"#,
            )
            .await;
        Some(
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|e| e.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    /// Panics on any serious or critical axe-core violation; says so when axe-core is missing.
    pub async fn assert_accessible(&mut self, what: &str) {
        match self.axe_violations().await {
            Some(v) => assert!(v.is_empty(), "{what}: accessibility violations: {v:#?}"),
            None => {
                eprintln!("{what}: axe-core not found (REPRINT_AXE): accessibility not checked")
            }
        }
    }

    /// Fills a form field by its CSS selector (as typing would: input and change events).
    pub async fn fill(&mut self, selector: &str, value: &str) {
        let ok = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({}); if (!e) return false; e.value = {}; e.dispatchEvent(new Event('input', {{bubbles: true}})); e.dispatchEvent(new Event('change', {{bubbles: true}})); return true; }})()",
                json!(selector),
                json!(value)
            ))
            .await;
        assert_eq!(ok, json!(true), "no field {selector}");
    }

    /// Clicks the element `selector`.
    pub async fn click(&mut self, selector: &str) {
        let ok = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({}); if (!e) return false; e.click(); return true; }})()",
                json!(selector)
            ))
            .await;
        assert_eq!(ok, json!(true), "nothing to click at {selector}");
    }

    /// Logs in through the site's log-in form (`form[action="/login"]`: its one user field,
    /// the e-mail address at the gateway or the staff name at a lab or counter, and its
    /// password) and waits until the page the site sends after log-in has loaded.
    pub async fn log_in(&mut self, base: &str, user: &str, password: &str) {
        self.goto(&format!("{base}/login")).await;
        self.fill(
            "form[action=\"/login\"] input:is([name=email], [name=name])",
            user,
        )
        .await;
        self.fill("form[action=\"/login\"] [name=password]", password)
            .await;
        self.eval("document.querySelector('form[action=\"/login\"]').submit(), true")
            .await;
        self.wait_for(
            "the first page after log-in",
            "location.pathname !== '/login' && document.readyState === 'complete' && !document.querySelector('form[action=\"/login\"]')",
        )
        .await;
    }

    /// The checks every page of ours passes at each size a person uses it: nothing wider than
    /// the window, touch targets of at least 44 px, no accessibility violation (axe-core); a
    /// screenshot `<name>-<width>.png` to look at. `sizes` are (width, height) pairs.
    pub async fn check_at(&mut self, name: &str, sizes: &[(u32, u32)]) -> Vec<PathBuf> {
        let mut shots = Vec::new();
        for &(width, height) in sizes {
            self.set_viewport(width, height).await;
            let what = format!("{name} at {width} x {height}");
            self.assert_fits(&what).await;
            let small = self.small_touch_targets().await;
            assert!(
                small.is_empty(),
                "{what}: touch targets under 44 px: {small:?}"
            );
            self.assert_accessible(&what).await;
            shots.push(self.screenshot(&format!("{name}-{width}")).await);
        }
        shots
    }
}
