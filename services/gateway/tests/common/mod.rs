//! Spawns the gateway on port 0 with a fresh store and a private nats-server, and plays the
//! lab and the counter on that NATS (directory entries, quote responders, an order.placed
//! subscriber): real peers over real NATS, not mocks.
#![allow(dead_code)]

pub mod browser;

use std::time::Duration;

use futures::StreamExt;
use reprint_bus::directory::{Directory, PriceLine, SiteAnnouncement};
use reprint_bus::request::{RpcError, RpcServer};
use reprint_bus::subjects::{self, RpcMethod, SiteId, SiteKind};
use reprint_domain::protocol::{
    CatalogProduct, CatalogReply, LocaleReply, OrderPlaced, QuoteReply, QuoteRequest,
};
use reprint_domain::{Charge, ChargeLine, Currency, LineKind, Money, PrintSize};
use reprint_gateway::{Application, Config};
use reprint_service::shutdown::ShutdownTrigger;
use reprint_testkit::{NatsServer, TestSqlite};
use serde_json::{Value, json};

pub const LAB: &str = "lab-a";
pub const COUNTER: &str = "counter-x";

pub struct TestApp {
    pub base: String,
    pub nats: NatsServer,
    pub client: async_nats::Client,
    pub js: async_nats::jetstream::Context,
    pub trigger: ShutdownTrigger,
    pub gateway_id: String,
    /// The running gateway's state (its store, for looking at inbox and parked records).
    pub state: reprint_gateway::AppState,
    _sqlite: Option<TestSqlite>,
    _pg: Option<reprint_testkit::TestPostgres>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.trigger.trigger();
    }
}

pub fn config(store_url: &str, nats_url: &str) -> Config {
    let mut c = Config {
        gateway_id: "gw-test".into(),
        ..Config::default()
    };
    c.http.address = Some("127.0.0.1:0".into());
    c.http.rate_limit_attempts = 1000;
    c.store.url = store_url.to_string();
    c.nats.url = nats_url.to_string();
    c.nats.relay_interval_ms = 50;
    c.storage.user_quota_bytes = 50 * 1024 * 1024;
    c.ops.emails = vec!["ops@example.com".into()];
    // Pages speak English unless a test asks for Japanese (Accept-Language: ja, or the
    // account's choice); a real gateway's default is `ja`.
    c.web.locale = "en".into();
    // E-mail notices as .eml files in a directory of this test, not the working one.
    c.mail.folder = std::env::temp_dir().join(format!("reprint-gw-mail-{}", uuid::Uuid::new_v4()));
    c
}

pub async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let sqlite = TestSqlite::create();
    let nats = NatsServer::start();
    let mut c = config(&sqlite.url, &nats.url);
    tweak(&mut c);
    start(c, nats, Some(sqlite), None).await
}

pub async fn spawn_postgres() -> TestApp {
    spawn_postgres_with(|_| {}).await
}

pub async fn spawn_postgres_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let pg = reprint_testkit::TestPostgres::create().await;
    let nats = NatsServer::start();
    let mut c = config(&pg.url, &nats.url);
    tweak(&mut c);
    start(c, nats, None, Some(pg)).await
}

async fn start(
    c: Config,
    nats: NatsServer,
    sqlite: Option<TestSqlite>,
    pg: Option<reprint_testkit::TestPostgres>,
) -> TestApp {
    let gateway_id = c.gateway_id.clone();
    let app = Application::build(c).await.expect("gateway builds");
    let port = app.port();
    let trigger = app.shutdown_trigger();
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    let client = async_nats::connect(&nats.url).await.expect("nats");
    let js = async_nats::jetstream::new(client.clone());
    let dir = Directory::open(&js, 1).await.expect("directory");
    dir.announce(&site(LAB, SiteKind::Lab))
        .await
        .expect("announce lab");
    dir.announce(&site(COUNTER, SiteKind::Counter))
        .await
        .expect("announce counter");
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        nats,
        client,
        js,
        trigger,
        gateway_id,
        state,
        _sqlite: sqlite,
        _pg: pg,
    }
}

pub fn site(id: &str, kind: SiteKind) -> SiteAnnouncement {
    let mut prices = vec![PriceLine {
        item: "basic".into(),
        amount_minor: 250,
    }];
    // A lab sells the digital copy (its catalog's `digital-copy:zip`), as lab-a does.
    if kind == SiteKind::Lab {
        prices.push(PriceLine {
            item: "digital-copy:zip".into(),
            amount_minor: DIGITAL_COPY_PRICE,
        });
    }
    SiteAnnouncement {
        id: SiteId::parse(id).unwrap(),
        kind,
        name: format!("Site {id}"),
        address: "1-2-3 Ginza, Tokyo".into(),
        time_zone: "Asia/Tokyo".into(),
        currency: "JPY".into(),
        sizes: vec!["L".into(), "2L".into()],
        prices,
        policy_summary: "basic charge free within 7 days".into(),
        icc_profiles: vec!["lab-a-glossy".into()],
        last_heartbeat: chrono::Utc::now(),
        heartbeat_interval_secs: 3600,
        version: "test".into(),
        opening_hours: vec![reprint_bus::directory::OpeningHours {
            days: "mon-fri".into(),
            opens: "10:00".into(),
            closes: "20:00".into(),
        }],
        health: None,
        printer: None,
        transport_hours: Default::default(),
    }
}

/// The test lab's price of the digital copy (yen).
pub const DIGITAL_COPY_PRICE: i64 = 100;

/// Plays site `site` of `kind` on request/reply as the lab and the counter do, with the
/// shared protocol types and the bus's `RpcReply` envelope (`RpcServer`):
/// - `quote`: `QuoteRequest` -> `QuoteReply`, a basic charge of 250 yen (waived for a customer
///   who sends a registration number here) and 30 yen a print; a size other than L or 2L is
///   refused with `unknown_size`, like a real site; a lab adds the digital copy's line at
///   [`DIGITAL_COPY_PRICE`] when asked;
/// - `catalog` and `locale`: `{}` -> `CatalogReply` / `LocaleReply`.
pub async fn serve_site(
    app: &TestApp,
    site: &str,
    kind: reprint_domain::SiteKind,
) -> Vec<tokio::task::JoinHandle<()>> {
    let sid = SiteId::parse(site).unwrap();
    let domain_site = reprint_domain::SiteId::parse(site).unwrap();
    let bind = |method| {
        let client = app.client.clone();
        let sid = sid.clone();
        async move {
            RpcServer::bind(
                &client,
                &subjects::rpc(&sid, method),
                &subjects::rpc_queue_group(&sid, method),
            )
            .await
            .unwrap()
        }
    };
    let yen = |m| Money::new(m, Currency::JPY);
    let quote = bind(RpcMethod::Quote).await;
    let catalog = bind(RpcMethod::Catalog).await;
    let locale = bind(RpcMethod::Locale).await;
    let s1 = domain_site.clone();
    let quotes = tokio::spawn(async move {
        let _ = quote
            .serve(
                move |req: QuoteRequest, _ctx| {
                    let site = s1.clone();
                    async move {
                        let basic = if req.customer.registration_number.is_some() {
                            0
                        } else {
                            250
                        };
                        let mut lines = vec![ChargeLine {
                            kind: LineKind::BasicCharge,
                            description: format!("basic charge at {site}"),
                            amount: yen(basic),
                        }];
                        for it in &req.items {
                            if !matches!(it.size, PrintSize::L | PrintSize::L2) {
                                return Err(RpcError::new(
                                    "unknown_size",
                                    format!("{site} does not print {}", it.size.code()),
                                ));
                            }
                            lines.push(ChargeLine {
                                kind: LineKind::Prints {
                                    image: it.image,
                                    size: it.size,
                                    quantity: it.quantity,
                                    unit_price: yen(30),
                                },
                                description: format!("{} x {}", it.quantity, it.size.code()),
                                amount: yen(30 * i64::from(it.quantity)),
                            });
                        }
                        if req.digital_copy && kind == reprint_domain::SiteKind::Lab {
                            lines.push(ChargeLine {
                                kind: LineKind::DigitalCopy,
                                description: "digital copy".into(),
                                amount: yen(DIGITAL_COPY_PRICE),
                            });
                        }
                        let total = Money::sum(Currency::JPY, lines.iter().map(|l| &l.amount))
                            .map_err(|e| RpcError::internal(e.to_string()))?;
                        Ok::<_, RpcError>(QuoteReply {
                            site,
                            site_kind: kind,
                            charge: Charge { lines, total },
                            estimated_finish: (kind == reprint_domain::SiteKind::Lab)
                                .then(|| req.at + chrono::Duration::hours(2)),
                        })
                    }
                },
                std::future::pending::<()>(),
            )
            .await;
    });
    let s2 = domain_site.clone();
    let catalogs = tokio::spawn(async move {
        let _ = catalog
            .serve(
                move |_req: Value, _ctx| {
                    let site = s2.clone();
                    async move {
                        Ok::<_, RpcError>(CatalogReply {
                            name: format!("Site {site}"),
                            site,
                            site_kind: kind,
                            basic_charge: yen(250),
                            products: std::iter::once(CatalogProduct {
                                code: "print:L".into(),
                                description: "L print, glossy".into(),
                                size: Some(PrintSize::L),
                                unit_price: yen(30),
                            })
                            .chain((kind == reprint_domain::SiteKind::Lab).then(|| {
                                CatalogProduct {
                                    code: "digital-copy:zip".into(),
                                    description: "digital copy".into(),
                                    size: None,
                                    unit_price: yen(DIGITAL_COPY_PRICE),
                                }
                            }))
                            .collect(),
                            icc_profiles: vec!["lab-a-glossy".into()],
                            policy_summary: "basic charge free within 7 days".into(),
                            // The lab's printer profile: the paper profile deploy/icc ships.
                            printer_profiles: (kind == reprint_domain::SiteKind::Lab)
                                .then(|| reprint_domain::protocol::PrinterProfile {
                                    name: "lab-a-glossy".into(),
                                    description: "silver-halide glossy".into(),
                                    printer: "minilab-1".into(),
                                    paper: Some("glossy paper".into()),
                                    sizes: PrintSize::ALL.to_vec(),
                                    icc: reprint_domain::protocol::encode_profile(
                                        &reprint_media::icc::silver_halide_glossy_profile(),
                                    ),
                                })
                                .into_iter()
                                .collect(),
                        })
                    }
                },
                std::future::pending::<()>(),
            )
            .await;
    });
    let s3 = domain_site;
    let locales = tokio::spawn(async move {
        let _ = locale
            .serve(
                move |_req: Value, _ctx| {
                    let site = s3.clone();
                    async move {
                        Ok::<_, RpcError>(LocaleReply {
                            site,
                            currency: Currency::JPY,
                            language: "ja".into(),
                            time_zone: "Asia/Tokyo".into(),
                            sizes: vec![PrintSize::L, PrintSize::L2],
                        })
                    }
                },
                std::future::pending::<()>(),
            )
            .await;
    });
    vec![quotes, catalogs, locales]
}

/// [`serve_site`] for the test's lab (`LAB`) or counter (`COUNTER`).
pub async fn serve_quotes(app: &TestApp, site: &str) -> Vec<tokio::task::JoinHandle<()>> {
    let kind = if site == COUNTER {
        reprint_domain::SiteKind::Counter
    } else {
        reprint_domain::SiteKind::Lab
    };
    serve_site(app, site, kind).await
}

/// Subscribes to the lab's order.placed subject (core NATS sees JetStream publishes too).
pub async fn lab_orders(app: &TestApp) -> async_nats::Subscriber {
    let s = app
        .client
        .subscribe(subjects::order_placed(&SiteId::parse(LAB).unwrap()))
        .await
        .unwrap();
    app.client.flush().await.unwrap();
    s
}

pub async fn next_order(sub: &mut async_nats::Subscriber) -> OrderPlaced {
    let m = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("an order.placed within 10 s")
        .expect("subscription open");
    serde_json::from_slice(&m.payload).expect("OrderPlaced JSON")
}

/// Publishes a JSON message on JetStream and waits for the ack.
pub async fn js_publish(app: &TestApp, subject: String, body: &Value, id: &str) {
    let mut h = async_nats::HeaderMap::new();
    h.insert("Nats-Msg-Id", id);
    app.js
        .publish_with_headers(subject, h, serde_json::to_vec(body).unwrap().into())
        .await
        .unwrap()
        .await
        .unwrap();
}

/// A logged-in user: a cookie-keeping HTTP client and the CSRF token.
pub struct UserClient {
    pub http: reqwest::Client,
    pub csrf: String,
    pub base: String,
    pub account: String,
}

pub async fn sign_up(app: &TestApp, email: &str) -> UserClient {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let res = http
        .post(format!("{}/api/v1/accounts", app.base))
        .json(&json!({
            "name": "Hanako Yamada", "telephone": "03-1234-5678",
            "address": "1-1 Chiyoda, Tokyo", "email": email, "password": "correct horse battery"
        }))
        .send()
        .await
        .unwrap();
    // A sign-up answers the same for a new and a taken e-mail and logs nobody in: log in.
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let res = http
        .post(format!("{}/api/v1/session", app.base))
        .json(&json!({"email": email, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    UserClient {
        http,
        csrf: body["csrf_token"].as_str().unwrap().to_string(),
        base: app.base.clone(),
        account: body["account"].as_str().unwrap().to_string(),
    }
}

impl UserClient {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        status_json(r).await
    }
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .header("x-csrf-token", &self.csrf)
            .json(body)
            .send()
            .await
            .unwrap();
        status_json(r).await
    }
    pub async fn post_with(&self, path: &str, body: &Value, key: &str) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .header("x-csrf-token", &self.csrf)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .unwrap();
        status_json(r).await
    }
    pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .put(self.url(path))
            .header("x-csrf-token", &self.csrf)
            .json(body)
            .send()
            .await
            .unwrap();
        status_json(r).await
    }
    pub async fn upload(&self, order: &str, name: &str, bytes: Vec<u8>) -> (u16, Value) {
        let r = self
            .http
            .put(self.url(&format!("/api/v1/orders/{order}/images?name={name}")))
            .header("x-csrf-token", &self.csrf)
            .body(bytes)
            .send()
            .await
            .unwrap();
        status_json(r).await
    }
    /// Declares `bytes` of storage for `order` (`PUT /api/v1/orders/{order}/storage`).
    pub async fn reserve(&self, order: &str, bytes: u64) -> (u16, Value) {
        self.put(
            &format!("/api/v1/orders/{order}/storage"),
            &json!({ "bytes": bytes }),
        )
        .await
    }
    pub async fn new_order(&self) -> String {
        let (s, b) = self.post("/api/v1/orders", &json!({})).await;
        assert_eq!(s, 201, "{b}");
        b["order"].as_str().unwrap().to_string()
    }
}

pub async fn status_json(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert!(s < 500, "a server error: {s} {text}");
    (
        s,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub fn jpeg(seed: u64, w: u32, h: u32) -> Vec<u8> {
    reprint_media::synthetic::jpeg(&reprint_media::synthetic::photo(seed, w, h), 85).unwrap()
}

/// Messages in the image object store's stream (chunks and metadata).
pub async fn image_store_messages(app: &TestApp) -> u64 {
    let mut s = app.js.get_stream("OBJ_reprint_images").await.unwrap();
    s.info().await.unwrap().state.messages
}

pub async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Fetches an image's thumbnail: (status, content type, bytes).
pub async fn thumbnail(u: &UserClient, image: &str) -> (u16, String, Vec<u8>) {
    let r = u
        .http
        .get(u.url(&format!("/api/v1/images/{image}/thumbnail")))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, r.bytes().await.unwrap().to_vec())
}

/// Takes an image's bytes out of the object store (so only a cache can still answer for it).
pub async fn delete_image_bytes(app: &TestApp, image: &str) {
    let bucket = app
        .js
        .get_object_store(reprint_bus::objects::BUCKET)
        .await
        .unwrap();
    bucket.delete(image).await.unwrap();
}

/// Thumbnails are built once and then served from the cache: after the first one, the image's
/// bytes are taken out of the object store and the thumbnail still comes, the same.
pub async fn thumbnails_are_cached(app: &TestApp, u: &UserClient, image: &str) {
    let (s, ct, first) = thumbnail(u, image).await;
    assert_eq!(s, 200);
    assert_eq!(ct, "image/jpeg");
    assert_eq!(&first[..2], &[0xff, 0xd8], "a JPEG");
    delete_image_bytes(app, image).await;
    let (s, _, again) = thumbnail(u, image).await;
    assert_eq!(
        s, 200,
        "served from the cache, not rebuilt from the (gone) image"
    );
    assert_eq!(again, first);
}

/// A user with one uploaded image on a fresh order: (user, order, image id).
pub async fn with_image(app: &TestApp, email: &str, seed: u64) -> (UserClient, String, String) {
    let u = sign_up(app, email).await;
    let order = u.new_order().await;
    let photo = jpeg(seed, 800, 600);
    let (s, r) = u
        .put(
            &format!("/api/v1/orders/{order}/storage"),
            &json!({"bytes": photo.len()}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let (s, up) = u.upload(&order, "beach.jpg", photo).await;
    assert_eq!(s, 201, "{up}");
    let image = up["image"].as_str().unwrap().to_string();
    (u, order, image)
}
