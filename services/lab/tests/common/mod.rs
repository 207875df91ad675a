//! What the lab's tests share: the lab in process on a real nats-server and a real store
//! (`Rig`, `Running`), the test's own NATS side playing the gateway and the counter (`Peer`),
//! orders and extracts to send, and the operator API's log-in and actions.

#![allow(dead_code)] // each test file uses its own part of it

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::HeaderMap;
use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use reprint_bus::subjects;
use reprint_domain::extract::{FileExtract, Sharing, extract};
use reprint_domain::file::{self, Route};
use reprint_domain::protocol::{
    Customer, OrderCancelled, OrderPlaced, PlacedItem, ReceptionRecorded, Sender,
};
use reprint_domain::*;
use reprint_lab::{Application, Lab, LabConfig};
use reprint_service::shutdown::ShutdownTrigger;
use reprint_testkit::{NatsServer, TestPostgres, TestSqlite};
use serde::de::DeserializeOwned;

pub const EXAMPLE: &str = include_str!("../../lab.example.toml");
pub const LAB: &str = "lab-a";
pub const GATEWAY: &str = "gw-1";
pub const COUNTER: &str = "counter-ginza";

pub fn tokyo(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Tokyo
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

pub fn site(s: &str) -> SiteId {
    SiteId::parse(s).unwrap()
}

/// The example configuration pointed at a temporary directory, a NATS server and a store.
pub fn config(dir: &Path, nats: &str, store: &str, tweak: impl Fn(String) -> String) -> LabConfig {
    let text = EXAMPLE
        .replace(
            "data_dir = \"./data/lab\"",
            &format!("data_dir = {:?}", dir.join("data")),
        )
        .replace(
            "\"./data/lab/hot/minilab-1\"",
            &format!("{:?}", dir.join("hot/minilab-1")),
        )
        .replace(
            "\"./data/lab/hot/large-1\"",
            &format!("{:?}", dir.join("hot/large-1")),
        )
        .replace(
            "url = \"nats://127.0.0.1:4222\"",
            &format!("url = {nats:?}"),
        )
        .replace(
            "# url = \"postgres://lab@127.0.0.1/lab\"",
            &format!("url = {store:?}"),
        )
        .replace("address = \"127.0.0.1:8081\"", "address = \"127.0.0.1:0\"")
        .replace("done_marker_poll_ms = 2000", "done_marker_poll_ms = 100")
        .replace("heartbeat_secs = 10", "heartbeat_secs = 1");
    LabConfig::from_toml(&tweak(text)).unwrap()
}

pub struct Running {
    pub port: u16,
    pub lab: Lab,
    pub trigger: ShutdownTrigger,
    pub handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    pub async fn start(config: LabConfig, at: Option<DateTime<Utc>>) -> Running {
        let app = Application::build(config).await.unwrap();
        let lab = app.lab();
        if let Some(at) = at {
            lab.clock.set(at);
        }
        let port = app.port();
        let trigger = app.shutdown_trigger();
        let handle = tokio::spawn(app.run_until_stopped());
        Running {
            port,
            lab,
            trigger,
            handle,
        }
    }

    pub async fn stop(self) {
        self.trigger.trigger();
        tokio::time::timeout(Duration::from_secs(30), self.handle)
            .await
            .expect("the lab stops within 30 s")
            .unwrap()
            .unwrap();
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// The test's own NATS side: a client, JetStream, the image bucket.
pub struct Peer {
    pub client: async_nats::Client,
    pub js: async_nats::jetstream::Context,
    pub images: reprint_bus::objects::Images,
}

impl Peer {
    pub async fn connect(url: &str) -> Peer {
        let client = async_nats::connect(url).await.unwrap();
        let js = async_nats::jetstream::new(client.clone());
        let backbone = reprint_bus::provision(&js, &Default::default())
            .await
            .unwrap();
        Peer {
            client,
            js,
            images: backbone.images,
        }
    }

    pub async fn upload(&self, seed: u64) -> ImageId {
        let img = reprint_media::synthetic::photo(seed, 900, 600);
        let bytes = reprint_media::synthetic::jpeg(&img, 85).unwrap();
        let stored = self.images.put(&bytes[..], None).await.unwrap();
        ImageId::parse(&stored.hash).unwrap()
    }

    /// Stores `bytes` as they are (a damaged image, say) and returns their id.
    pub async fn upload_bytes(&self, bytes: &[u8]) -> ImageId {
        let stored = self.images.put(bytes, None).await.unwrap();
        ImageId::parse(&stored.hash).unwrap()
    }

    pub async fn publish<T: serde::Serialize>(&self, subject: String, msg_id: &str, body: &T) {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", msg_id);
        self.js
            .publish_with_headers(subject, headers, serde_json::to_vec(body).unwrap().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    pub async fn place(&self, order: &OrderPlaced) {
        self.publish(
            subjects::order_placed(&subjects::SiteId::parse(LAB).unwrap()),
            &order.order.to_string(),
            order,
        )
        .await;
    }

    pub async fn subscribe(&self, subject: &str) -> async_nats::Subscriber {
        let sub = self.client.subscribe(subject.to_string()).await.unwrap();
        self.client.flush().await.unwrap();
        sub
    }

    pub async fn request<Req: serde::Serialize, Resp: DeserializeOwned>(
        &self,
        method: subjects::RpcMethod,
        req: &Req,
    ) -> Resp {
        reprint_bus::request::request_json(
            &self.client,
            &subjects::rpc(&subjects::SiteId::parse(LAB).unwrap(), method),
            req,
            Duration::from_secs(10),
        )
        .await
        .unwrap()
    }
}

/// The next message on `sub` whose subject ends with `suffix` and whose body satisfies `pick`.
pub async fn next<T: DeserializeOwned>(
    sub: &mut async_nats::Subscriber,
    suffix: &str,
    pick: impl Fn(&T) -> bool,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let m = tokio::time::timeout_at(deadline, sub.next())
            .await
            .unwrap_or_else(|_| panic!("no {suffix} message within 30 s"))
            .expect("subscription open");
        if !m.subject.as_str().ends_with(suffix) {
            continue;
        }
        if let Ok(v) = serde_json::from_slice::<T>(&m.payload)
            && pick(&v)
        {
            return v;
        }
    }
}

pub fn order_id(n: u8) -> OrderId {
    OrderId::from_parts(
        Utc::now().timestamp_millis() as u64,
        uuid::Uuid::new_v4().as_bytes()[..10]
            .try_into()
            .map(|mut a: [u8; 10]| {
                a[0] = n;
                a
            })
            .unwrap(),
    )
}

pub fn hanako() -> Customer {
    Customer {
        name: "Hanako Yamada".into(),
        telephone: "03-1234-5678".into(),
        address: Some("2-1 Ginza, Tokyo".into()),
        email: Some("hanako@example.jp".into()),
        registration_number: None,
    }
}

pub fn internet_order(image: ImageId, size: PrintSize, at: DateTime<Utc>) -> OrderPlaced {
    OrderPlaced {
        order: order_id(1),
        route: Route::Internet,
        sender: Sender::Gateway(site(GATEWAY)),
        lab: site(LAB),
        delivery_counter: site(COUNTER),
        placed_at: at,
        data_receive: Some(file::DataReceive {
            start: at,
            finish: at + chrono::Duration::seconds(20),
        }),
        currency: Currency::JPY,
        customer: hanako(),
        items: vec![PlacedItem {
            image,
            name: "IMG_0001.JPG".into(),
            size,
            quantity: 2,
            edits: None,
            perceptual_hash: None,
            history: vec![],
        }],
        counter_extract: None,
        digital_copy: false,
        counter_registration_number: None,
        source_profiles: vec![],
    }
}

pub struct Rig {
    pub dir: tempfile::TempDir,
    pub nats: NatsServer,
    pub _sqlite: Option<TestSqlite>,
    pub _pg: Option<TestPostgres>,
    pub store_url: String,
}

impl Rig {
    pub async fn new(pg: bool) -> Rig {
        let (store_url, _sqlite, _pg) = if pg {
            let db = TestPostgres::create().await;
            (db.url.clone(), None, Some(db))
        } else {
            let db = TestSqlite::create();
            (db.url.clone(), Some(db), None)
        };
        Rig {
            dir: tempfile::tempdir().unwrap(),
            nats: NatsServer::start(),
            _sqlite,
            _pg,
            store_url,
        }
    }

    pub fn config(&self) -> LabConfig {
        self.config_with(|t| t)
    }

    pub fn config_with(&self, tweak: impl Fn(String) -> String) -> LabConfig {
        config(self.dir.path(), &self.nats.url, &self.store_url, tweak)
    }
}

pub fn counter_extract(at: DateTime<Utc>, order: OrderId) -> FileExtract {
    // The counter's own file (Fig. 8): its registration and its reception X0001004.
    let rules = SiteRules::demo_counter(site(COUNTER));
    let number = ReceptionNumber::new(&rules.reception_number, 1004).unwrap();
    let user = file::UserIdArea {
        registration_number: RegistrationNumber::new(&rules.registration_number, 12).unwrap(),
        name: "Hanako Yamada".into(),
        telephone: Telephone::parse("03-1234-5678").unwrap(),
        address: None,
        email: None,
        registered_at: at,
    };
    let f = file::UserFile {
        user: Some(user),
        receptions: vec![file::Reception {
            number: number.clone(),
            order,
            route: Route::CounterMedium,
            received_at: at,
            data_receive: None,
            partner: site(LAB),
            items: vec![],
            charge: Charge {
                lines: vec![],
                total: Money::new(250, Currency::JPY),
            },
            partner_charge: None,
            estimated_finish: None,
            state: file::ReceptionState::Open,
        }],
        other_counters: Default::default(),
    };
    extract(
        &f,
        &site(COUNTER),
        SiteKind::Counter,
        &number,
        Sharing::ReceptionOnly,
    )
    .unwrap()
}

pub async fn log_in(http: &reqwest::Client, lab: &Running) -> String {
    let r = http
        .post(lab.url("/api/v1/login"))
        .json(&serde_json::json!({"name": "operator", "password": "change-me"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    v["csrf_token"].as_str().unwrap().to_string()
}

pub async fn act(
    http: &reqwest::Client,
    lab: &Running,
    csrf: &str,
    number: &str,
    action: &str,
) -> serde_json::Value {
    let r = http
        .post(lab.url(&format!("/api/v1/receptions/{number}/{action}")))
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{action}: {body}");
    body
}

pub fn list(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

impl Peer {
    /// Plays the gateway: a user's cancellation on the lab's `order.cancelled`.
    pub async fn cancel(&self, order: OrderId, msg_id: &str) {
        let cancelled = OrderCancelled {
            order,
            lab: site(LAB),
            reason: "cancelled by the user at the gateway".into(),
            at: Utc::now(),
        };
        self.publish(
            subjects::order_cancelled(&subjects::SiteId::parse(LAB).unwrap()),
            msg_id,
            &cancelled,
        )
        .await;
    }
}

/// The production log states of an order, oldest first.
pub async fn log_states(lab: &Running, order: OrderId) -> Vec<String> {
    let mut tx = lab.lab.store.begin().await.unwrap();
    let log = reprint_lab::db::production_log(&mut tx, &order.to_string())
        .await
        .unwrap();
    drop(tx);
    log.into_iter().map(|l| l.state).collect()
}

/// The events in an order's user file stream at the lab.
pub async fn file_version(lab: &Running, order: OrderId) -> u64 {
    let mut tx = lab.lab.store.begin().await.unwrap();
    let (loaded, _) = lab
        .lab
        .files
        .by_order(&mut tx, order)
        .await
        .unwrap()
        .expect("a reception for the order");
    drop(tx);
    loaded.version
}

pub async fn reception_state(lab: &Running, order: OrderId) -> file::ReceptionState {
    let mut tx = lab.lab.store.begin().await.unwrap();
    let (_, reception) = lab
        .lab
        .files
        .by_order(&mut tx, order)
        .await
        .unwrap()
        .expect("a reception for the order");
    drop(tx);
    reception.state
}

/// Places a marker order (another customer) and waits for its reception: every message
/// published before it has been handled.
pub async fn drain(
    peer: &Peer,
    replies: &mut async_nats::Subscriber,
    image: ImageId,
    at: DateTime<Utc>,
) {
    let mut marker = internet_order(image, PrintSize::L, at);
    marker.customer.name = "Taro Suzuki".into();
    marker.customer.telephone = format!("090-1111-{:04}", rand_suffix());
    peer.place(&marker).await;
    let _: ReceptionRecorded = next(replies, "reception.recorded", |r: &ReceptionRecorded| {
        r.order == marker.order
    })
    .await;
}

pub fn rand_suffix() -> u16 {
    (uuid::Uuid::new_v4().as_u128() % 10_000) as u16
}

/// Messages on `sub` up to and including the first for which `stop` holds.
pub async fn until(
    sub: &mut async_nats::Subscriber,
    stop: impl Fn(&async_nats::Message) -> bool,
) -> Vec<async_nats::Message> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        let m = tokio::time::timeout_at(deadline, sub.next())
            .await
            .expect("the stop message within 30 s")
            .expect("subscription open");
        let done = stop(&m);
        seen.push(m);
        if done {
            return seen;
        }
    }
}

/// The `order` field of a message's JSON body.
pub fn order_of(m: &async_nats::Message) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(&m.payload)
        .ok()?
        .get("order")?
        .as_str()
        .map(str::to_string)
}

/// Rejects a reception through the API with a reason.
pub async fn reject(
    http: &reqwest::Client,
    lab: &Running,
    csrf: &str,
    number: &str,
    reason: &str,
) -> reqwest::Response {
    http.post(lab.url(&format!("/api/v1/receptions/{number}/reject")))
        .header("x-csrf-token", csrf)
        .json(&serde_json::json!({ "reason": reason }))
        .send()
        .await
        .unwrap()
}
