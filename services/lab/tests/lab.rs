//! The lab in process, on a real nats-server and a real store (SQLite, and Postgres once). The
//! tests play the gateway and the counter themselves: they publish `OrderPlaced`,
//! `CollectionRecorded` and `SettlementRecorded` on JetStream and read the lab's replies on NATS.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::HeaderMap;
use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use reprint_bus::subjects;
use reprint_domain::extract::{FileExtract, Sharing, extract};
use reprint_domain::file::{self, Route};
use reprint_domain::protocol::{
    CatalogReply, CollectionRecorded, Customer, DeliveryDispatched, LocaleReply, OrderCancelled,
    OrderPlaced, OrderRejected, Payment, PlacedItem, QuoteReply, QuoteRequest, ReceptionRecorded,
    RejectCode, Sender, SettlementRecorded, Stage, StatusChanged,
};
use reprint_domain::*;
use reprint_lab::{Application, Lab, LabConfig};
use reprint_service::shutdown::ShutdownTrigger;
use reprint_testkit::{NatsServer, TestPostgres, TestSqlite};
use serde::de::DeserializeOwned;

const EXAMPLE: &str = include_str!("../lab.example.toml");
const LAB: &str = "lab-a";
const GATEWAY: &str = "gw-1";
const COUNTER: &str = "counter-ginza";

fn tokyo(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Tokyo
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn site(s: &str) -> SiteId {
    SiteId::parse(s).unwrap()
}

/// The example configuration pointed at a temporary directory, a NATS server and a store.
fn config(dir: &Path, nats: &str, store: &str, tweak: impl Fn(String) -> String) -> LabConfig {
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

struct Running {
    port: u16,
    lab: Lab,
    trigger: ShutdownTrigger,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    async fn start(config: LabConfig, at: Option<DateTime<Utc>>) -> Running {
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

    async fn stop(self) {
        self.trigger.trigger();
        tokio::time::timeout(Duration::from_secs(30), self.handle)
            .await
            .expect("the lab stops within 30 s")
            .unwrap()
            .unwrap();
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// The test's own NATS side: a client, JetStream, the image bucket.
struct Peer {
    client: async_nats::Client,
    js: async_nats::jetstream::Context,
    images: reprint_bus::objects::Images,
}

impl Peer {
    async fn connect(url: &str) -> Peer {
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

    async fn upload(&self, seed: u64) -> ImageId {
        let img = reprint_media::synthetic::photo(seed, 900, 600);
        let bytes = reprint_media::synthetic::jpeg(&img, 85).unwrap();
        let stored = self.images.put(&bytes[..], None).await.unwrap();
        ImageId::parse(&stored.hash).unwrap()
    }

    async fn publish<T: serde::Serialize>(&self, subject: String, msg_id: &str, body: &T) {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", msg_id);
        self.js
            .publish_with_headers(subject, headers, serde_json::to_vec(body).unwrap().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    async fn place(&self, order: &OrderPlaced) {
        self.publish(
            subjects::order_placed(&subjects::SiteId::parse(LAB).unwrap()),
            &order.order.to_string(),
            order,
        )
        .await;
    }

    async fn subscribe(&self, subject: &str) -> async_nats::Subscriber {
        let sub = self.client.subscribe(subject.to_string()).await.unwrap();
        self.client.flush().await.unwrap();
        sub
    }

    async fn request<Req: serde::Serialize, Resp: DeserializeOwned>(
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
async fn next<T: DeserializeOwned>(
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

fn order_id(n: u8) -> OrderId {
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

fn hanako() -> Customer {
    Customer {
        name: "Hanako Yamada".into(),
        telephone: "03-1234-5678".into(),
        address: Some("2-1 Ginza, Tokyo".into()),
        email: Some("hanako@example.jp".into()),
        registration_number: None,
    }
}

fn internet_order(image: ImageId, size: PrintSize, at: DateTime<Utc>) -> OrderPlaced {
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
    }
}

struct Rig {
    dir: tempfile::TempDir,
    nats: NatsServer,
    _sqlite: Option<TestSqlite>,
    _pg: Option<TestPostgres>,
    store_url: String,
}

impl Rig {
    async fn new(pg: bool) -> Rig {
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

    fn config(&self) -> LabConfig {
        self.config_with(|t| t)
    }

    fn config_with(&self, tweak: impl Fn(String) -> String) -> LabConfig {
        config(self.dir.path(), &self.nats.url, &self.store_url, tweak)
    }
}

// ------------------------------------------------------------------ Figs. 6 and 7

async fn figs_6_and_7(pg: bool) {
    let rig = Rig::new(pg).await;
    let first_at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(first_at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let mut status = peer.subscribe("reprint.v1.status.>").await;
    let image = peer.upload(1).await;

    // First order: basic charge 250 yen, a new registration and the first reception number.
    let first = internet_order(image, PrintSize::L, first_at);
    peer.place(&first).await;
    let r1: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == first.order,
    )
    .await;
    assert_eq!(r1.extract.registration_number.as_str(), "A0000001");
    assert_eq!(r1.extract.reception.number.as_str(), "B0000001");
    assert_eq!(r1.extract.reception.charge.basic_charge().minor, 250);
    assert_eq!(r1.extract.reception.charge.total.minor, 250 + 2 * 30);
    assert_eq!(r1.extract.reception.route, Route::Internet);
    assert_eq!(r1.extract.reception.partner, site(COUNTER));
    assert!(
        r1.extract.reception.data_receive.is_some(),
        "(4) and (5) recorded"
    );
    assert!(
        r1.extract.address.is_none(),
        "the slip carries only what is needed"
    );
    let finish = r1.estimated_finish.expect("(8) estimated finish");
    assert!(
        finish > first_at && finish <= first_at + chrono::Duration::hours(2),
        "{finish}"
    );
    let s: StatusChanged = next(&mut status, "", |s: &StatusChanged| s.order == first.order).await;
    assert_eq!(s.stage, Stage::Received);
    assert_eq!(s.charge.as_ref().map(|c| c.total.minor), Some(310));

    // A quote three days later: within a week, basic charge 0; nothing recorded.
    let second_at = tokyo(2026, 11, 21, 15);
    lab.lab.clock.set(second_at);
    let quote: QuoteReply = peer
        .request(
            subjects::RpcMethod::Quote,
            &QuoteRequest {
                customer: Customer {
                    telephone: "(03) 1234 5678".into(),
                    ..hanako()
                },
                items: first.items.clone(),
                at: second_at,
            },
        )
        .await;
    assert_eq!(quote.charge.basic_charge().minor, 0, "{:?}", quote.charge);
    let catalog: CatalogReply = peer
        .request(subjects::RpcMethod::Catalog, &serde_json::json!({}))
        .await;
    assert_eq!(catalog.basic_charge.minor, 250);
    assert!(
        catalog
            .products
            .iter()
            .any(|p| p.code == "print:L" && p.unit_price.minor == 30)
    );
    assert!(
        catalog
            .products
            .iter()
            .any(|p| p.code == "digital-copy:zip")
    );
    assert_eq!(catalog.icc_profiles, vec!["sRGB".to_string()]);
    assert!(
        catalog.policy_summary.contains("7 days"),
        "{}",
        catalog.policy_summary
    );
    let locale: LocaleReply = peer
        .request(subjects::RpcMethod::Locale, &serde_json::json!({}))
        .await;
    assert_eq!(locale.time_zone, "Asia/Tokyo");
    assert_eq!(locale.currency, Currency::JPY);

    // Second order within a week (Fig. 7, B0000456's case): basic charge 0.
    let mut second = internet_order(image, PrintSize::L, second_at);
    second.customer.telephone = "03 1234 5678".into();
    peer.place(&second).await;
    let r2: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == second.order,
    )
    .await;
    assert_eq!(
        r2.extract.registration_number.as_str(),
        "A0000001",
        "found, not registered again"
    );
    assert_eq!(
        r2.extract.reception.number.as_str(),
        "B0000002",
        "no gap after the quote"
    );
    assert_eq!(r2.extract.reception.charge.basic_charge().minor, 0);
    assert!(
        r2.extract
            .reception
            .charge
            .lines
            .iter()
            .any(|l| l.description.contains("waived")),
        "{:?}",
        r2.extract.reception.charge.lines
    );

    // A third order five weeks later, under "free within a week, 50 % within a month": full.
    let third_at = second_at + chrono::Duration::weeks(5);
    lab.lab.clock.set(third_at);
    let third = internet_order(image, PrintSize::L2, third_at);
    peer.place(&third).await;
    let r3: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == third.order,
    )
    .await;
    assert_eq!(r3.extract.reception.number.as_str(), "B0000003");
    assert_eq!(r3.extract.reception.charge.basic_charge().minor, 250);
    assert_eq!(r3.extract.reception.charge.total.minor, 250 + 2 * 80);

    // The lab is in the site directory.
    let dir = reprint_bus::directory::Directory::open(&peer.js, 1)
        .await
        .unwrap();
    let entry = dir
        .get(&subjects::SiteId::parse(LAB).unwrap())
        .await
        .unwrap()
        .expect("announced");
    assert_eq!(entry.site.name, "A Corporation's laboratory");
    assert!(entry.site.sizes.contains(&"L".to_string()));
    lab.stop().await;
}

#[tokio::test]
async fn figs_6_and_7_through_the_service_on_sqlite() {
    figs_6_and_7(false).await;
}

#[tokio::test]
async fn figs_6_and_7_through_the_service_on_postgres() {
    figs_6_and_7(true).await;
}

// ------------------------------------------------------------------ rejections

#[tokio::test]
async fn rejected_orders_reach_the_sender_and_record_nothing() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    // Printers for L and 2L only: 5x7 is priced but no printer makes it.
    let lab = Running::start(
        rig.config_with(|t| t.replace("sizes = [\"5x7\", \"8x10\"]", "sizes = [\"8x10\"]")),
        Some(at),
    )
    .await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let mut status = peer.subscribe("reprint.v1.status.>").await;
    let image = peer.upload(2).await;

    let unknown_size = internet_order(image, PrintSize::In5x7, at);
    peer.place(&unknown_size).await;
    let rej: OrderRejected = next(&mut replies, "order.rejected", |r: &OrderRejected| {
        r.order == unknown_size.order
    })
    .await;
    assert_eq!(rej.code, RejectCode::UnknownSize);
    assert!(rej.reason.contains("5x7"), "{}", rej.reason);
    let s: StatusChanged = next(&mut status, "", |s: &StatusChanged| {
        s.order == unknown_size.order
    })
    .await;
    assert_eq!(s.stage, Stage::Rejected);

    let missing = internet_order(ImageId::of_bytes(b"never uploaded"), PrintSize::L, at);
    peer.place(&missing).await;
    let rej: OrderRejected = next(&mut replies, "order.rejected", |r: &OrderRejected| {
        r.order == missing.order
    })
    .await;
    assert_eq!(rej.code, RejectCode::ImageMissing);

    let mut wrong_currency = internet_order(image, PrintSize::L, at);
    wrong_currency.currency = Currency::EUR;
    peer.place(&wrong_currency).await;
    let rej: OrderRejected = next(&mut replies, "order.rejected", |r: &OrderRejected| {
        r.order == wrong_currency.order
    })
    .await;
    assert_eq!(rej.code, RejectCode::WrongCurrency);

    let mut unknown_counter = internet_order(image, PrintSize::L, at);
    unknown_counter.delivery_counter = site("counter-nowhere");
    peer.place(&unknown_counter).await;
    let rej: OrderRejected = next(&mut replies, "order.rejected", |r: &OrderRejected| {
        r.order == unknown_counter.order
    })
    .await;
    assert_eq!(rej.code, RejectCode::UnknownCounter);

    // Nothing was recorded: the next good order gets the first numbers.
    let good = internet_order(image, PrintSize::L, at);
    peer.place(&good).await;
    let ok: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == good.order,
    )
    .await;
    assert_eq!(ok.extract.registration_number.as_str(), "A0000001");
    assert_eq!(ok.extract.reception.number.as_str(), "B0000001");
    lab.stop().await;
}

// ------------------------------------------------------------------ redelivery

#[tokio::test]
async fn a_redelivered_order_records_one_reception() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let image = peer.upload(3).await;
    let order = internet_order(image, PrintSize::L, at);
    peer.place(&order).await;
    let first: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == order.order,
    )
    .await;
    let lab_subject = subjects::order_placed(&subjects::SiteId::parse(LAB).unwrap());
    // The same order again: same message id (JetStream's window), then another id (past it).
    peer.place(&order).await;
    peer.publish(lab_subject.clone(), "a-different-message-id", &order)
        .await;
    // A marker order after them: when its reception is there, the copies were handled.
    let mut marker = internet_order(image, PrintSize::L, at);
    marker.customer.name = "Taro Suzuki".into();
    marker.customer.telephone = "090-1111-2222".into();
    peer.place(&marker).await;
    let m: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == marker.order,
    )
    .await;
    assert_eq!(first.extract.reception.number.as_str(), "B0000001");
    assert_eq!(
        m.extract.reception.number.as_str(),
        "B0000002",
        "one reception for the order, no gap"
    );
    let mut tx = lab.lab.store.begin().await.unwrap();
    assert_eq!(tx.stream_version("sequence-reception").await.unwrap(), 2);
    let rows = reprint_site::index::receptions_by_telephone(&mut tx, "0312345678")
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    drop(tx);
    lab.stop().await;
}

// ------------------------------------------------------------------ restart

#[tokio::test]
async fn a_restart_in_the_middle_of_a_batch_loses_nothing() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let peer = Peer::connect(&rig.nats.url).await;
    let image = peer.upload(4).await;
    // Small batches, so that the stop falls between and inside them.
    let small = |t: String| t.replace("batch_size = 64", "batch_size = 4");
    let lab = Running::start(rig.config_with(small), Some(at)).await;
    const N: usize = 60;
    let mut orders = Vec::new();
    for i in 0..N {
        let mut o = internet_order(image, PrintSize::L, at);
        o.customer.name = format!("Customer {i}");
        o.customer.telephone = format!("03-5555-{:04}", i);
        orders.push(o);
    }
    for o in &orders {
        peer.place(o).await;
    }
    // Stop at once: some batches are done, one may be in hand, the rest still queued.
    lab.stop().await;
    let before = {
        let store = reprint_eventstore::Store::open(&rig.store_url)
            .await
            .unwrap();
        let mut tx = store.begin().await.unwrap();
        let n = tx.stream_version("sequence-reception").await.unwrap();
        drop(tx);
        store.close().await;
        n
    };
    eprintln!("{before} of {N} orders recorded before the restart");

    let lab = Running::start(rig.config_with(small), Some(at)).await;
    let mut seen = std::collections::HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let mut tx = lab.lab.store.begin().await.unwrap();
        let n = reprint_lab::db::scalar_i64(&mut tx, "SELECT COUNT(*) FROM lab_receptions", &[])
            .await
            .unwrap();
        drop(tx);
        if n as usize == N {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {n} of {N} recorded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut tx = lab.lab.store.begin().await.unwrap();
    assert_eq!(
        tx.stream_version("sequence-reception").await.unwrap(),
        N as u64,
        "each exactly once"
    );
    for o in &orders {
        let row = reprint_lab::db::production_by_order(&mut tx, &o.order.to_string())
            .await
            .unwrap();
        assert!(row.is_some(), "order {} recorded", o.order);
        seen.insert(row.unwrap().reception_number);
    }
    assert_eq!(seen.len(), N);
    drop(tx);
    lab.stop().await;
}

// ------------------------------------------------------------------ counter route, production, settlement

fn counter_extract(at: DateTime<Utc>, order: OrderId) -> FileExtract {
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

async fn log_in(http: &reqwest::Client, lab: &Running) -> String {
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

async fn act(
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

fn list(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_counter_route_order_is_printed_dispatched_collected_and_settled() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut inbox = peer.subscribe("reprint.v1.counter.counter-ginza.>").await;
    let mut status = peer.subscribe("reprint.v1.status.>").await;
    let image = peer.upload(5).await;
    let other = peer.upload(6).await;

    // Fig. 2: the counter forwards the medium's images with its file extract.
    let mut order = internet_order(image, PrintSize::L, at);
    order.route = Route::CounterMedium;
    order.sender = Sender::Counter(site(COUNTER));
    order.data_receive = None;
    order.items.push(PlacedItem {
        image: other,
        name: "IMG_0002.JPG".into(),
        size: PrintSize::L,
        quantity: 1,
        edits: Some(r#"[{"op":"grayscale"}]"#.into()),
        perceptual_hash: None,
        history: vec![],
    });
    order.counter_extract = Some(counter_extract(at, order.order));
    order.digital_copy = true;
    peer.place(&order).await;
    let r: ReceptionRecorded = next(&mut inbox, "reception.recorded", |r: &ReceptionRecorded| {
        r.order == order.order
    })
    .await;
    let number = r.extract.reception.number.as_str().to_string();
    assert_eq!(number, "B0000001");
    assert_eq!(r.extract.reception.route, Route::CounterMedium);

    // Production through the API.
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let csrf = log_in(&http, &lab).await;
    let row = act(&http, &lab, &csrf, &number, "start-printing").await;
    assert_eq!(row["state"], "printing");
    let hot = rig.dir.path().join("hot/minilab-1");
    let entries = list(&hot);
    assert_eq!(
        entries,
        vec![hot.join("B0000001-L")],
        "one folder per reception and size, no temporary left"
    );
    let job = hot.join("B0000001-L");
    let files: Vec<String> = list(&job)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        files,
        vec!["B0000001-01.JPG", "B0000001-02.JPG", "MISC", "ticket.json"]
    );
    let ticket: serde_json::Value =
        serde_json::from_slice(&std::fs::read(job.join("ticket.json")).unwrap()).unwrap();
    assert_eq!(ticket["reception"], "B0000001");
    assert_eq!(ticket["printer"], "minilab-1");
    assert_eq!(ticket["files"][0]["quantity"], 2);
    assert_eq!(
        ticket["files"][0]["width"]
            .as_u64()
            .unwrap()
            .min(ticket["files"][0]["height"].as_u64().unwrap()),
        1051
    );
    let mrk = std::fs::read_to_string(job.join("MISC/AUTPRINT.MRK")).unwrap();
    let dpof = reprint_media::dpof::parse(mrk.as_bytes()).unwrap();
    assert_eq!(dpof.jobs.len(), 2);
    let print = std::fs::read(job.join("B0000001-01.JPG")).unwrap();
    let history = reprint_media::history::xmp::read_history(&print).unwrap();
    assert_eq!(
        history.last_at(LAB).map(|r| r.reception_number.as_str()),
        Some("B0000001")
    );
    let digital = rig.dir.path().join("data/digital/B0000001");
    assert_eq!(
        list(&digital).len(),
        2,
        "the digital copy: one container per image"
    );
    let s: StatusChanged = next(&mut status, "", |s: &StatusChanged| {
        s.order == order.order && s.stage == Stage::Printing
    })
    .await;
    assert!(s.detail.contains("B0000001"));

    // The print station's done-marker finishes it.
    std::fs::write(job.join("DONE"), b"").unwrap();
    let _: StatusChanged = next(&mut status, "", |s: &StatusChanged| {
        s.order == order.order && s.stage == Stage::Printed
    })
    .await;

    // Dispatch: the whole file to an affiliated counter, the counter's reception echoed.
    let row = act(&http, &lab, &csrf, &number, "dispatch").await;
    assert_eq!(row["state"], "dispatched");
    let d: DeliveryDispatched = next(
        &mut inbox,
        "delivery.dispatched",
        |d: &DeliveryDispatched| d.order == order.order,
    )
    .await;
    assert_eq!(d.counter, site(COUNTER));
    assert_eq!(d.counter_reception.as_deref(), Some("X0001004"));
    assert_eq!(
        d.extract.address.as_deref(),
        Some("2-1 Ginza, Tokyo"),
        "whole file under the data-sharing agreement"
    );
    assert_eq!(d.extract.reception.number.as_str(), "B0000001");
    let charge = d.extract.reception.charge.total;
    let _: StatusChanged = next(&mut status, "", |s: &StatusChanged| {
        s.order == order.order && s.stage == Stage::Dispatched
    })
    .await;

    // The counter collects and settles.
    let lab_site = subjects::SiteId::parse(LAB).unwrap();
    let collected_at = at + chrono::Duration::days(2);
    peer.publish(
        subjects::collection_recorded(&lab_site),
        "collection-1",
        &CollectionRecorded {
            order: order.order,
            counter: site(COUNTER),
            lab: site(LAB),
            lab_reception: number.clone(),
            collected_at,
            lab_charge: charge,
            counter_charge: Money::new(250, Currency::JPY),
            payment: Payment {
                method: "cash".into(),
                tendered: Money::new(1000, Currency::JPY),
                change: Money::new(1000 - 250 - charge.minor, Currency::JPY),
            },
        },
    )
    .await;
    let settlement = SettlementRecorded {
        settlement: uuid::Uuid::now_v7(),
        order: order.order,
        counter: site(COUNTER),
        lab: site(LAB),
        lab_reception: number.clone(),
        amount: charge,
        at: collected_at,
    };
    peer.publish(
        subjects::settlement_recorded(&lab_site),
        "settlement-1",
        &settlement,
    )
    .await;
    // Redelivered under another id: paid once.
    peer.publish(
        subjects::settlement_recorded(&lab_site),
        "settlement-1-again",
        &settlement,
    )
    .await;
    let s: StatusChanged = next(&mut status, "", |s: &StatusChanged| {
        s.order == order.order && s.stage == Stage::Settled
    })
    .await;
    assert!(s.detail.contains(COUNTER));
    // The copy handled too (the inbox records a message id with its effects), and the
    // collection, before the ledger is read.
    let inbox =
        reprint_bus::streams::durable_consumer_for(&lab_site, reprint_bus::subjects::SiteKind::Lab);
    for id in ["collection-1", "settlement-1", "settlement-1-again"] {
        reprint_testkit::wait_for(
            Duration::from_secs(20),
            &format!("{id} handled by the lab's inbox"),
            async || {
                lab.lab
                    .store
                    .inbox_contains(inbox.name(), id)
                    .await
                    .unwrap()
            },
            |handled| *handled,
        )
        .await;
    }
    let ledger: serde_json::Value = http
        .get(lab.url("/api/v1/ledger"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ledger,
        serde_json::json!([{ "counter": COUNTER, "currency": "JPY", "charged": charge.minor, "collected": charge.minor, "paid": charge.minor, "owed": 0 }])
    );
    let view: serde_json::Value = http
        .get(lab.url("/api/v1/receptions/B0000001"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["production"]["state"], "settled");
    assert!(
        view["file"]["receptions"][0]["state"]["collected"].is_object(),
        "{}",
        view["file"]
    );
    lab.stop().await;
}

// ------------------------------------------------------------------ console

#[tokio::test]
async fn the_console_needs_a_log_in_and_csrf_tokens() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let image = peer.upload(7).await;
    let order = internet_order(image, PrintSize::L, at);
    peer.place(&order).await;
    let _: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == order.order,
    )
    .await;

    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(
            anon.get(lab.url(path)).send().await.unwrap().status(),
            200,
            "{path}"
        );
    }
    let r = anon.get(lab.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    for path in [
        "/api/v1/receptions",
        "/api/v1/openapi.json",
        "/api/v1/ledger",
        "/api/v1/receptions/B0000001",
    ] {
        assert_eq!(
            anon.get(lab.url(path)).send().await.unwrap().status(),
            401,
            "{path}"
        );
    }
    let r = anon
        .post(lab.url("/login"))
        .form(&[("name", "operator"), ("password", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .post(lab.url("/login"))
        .form(&[("name", "operator"), ("password", "change-me")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = http
        .get(lab.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("B0000001"), "{page}");
    let page = http
        .get(lab.url("/receptions/B0000001"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("User ID area")
            && page.contains("Reception contents area")
            && page.contains("A0000001")
    );
    assert!(page.contains("Hanako Yamada") && page.contains("basic charge per order"));
    // A form without the CSRF token is refused, and nothing happens.
    let r = http
        .post(lab.url("/receptions/B0000001/start-printing"))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .post(lab.url("/receptions/B0000001/start-printing"))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .post(lab.url("/api/v1/receptions/B0000001/start-printing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let q: serde_json::Value = http
        .get(lab.url("/api/v1/receptions?state=received"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(q[0]["receptions"][0]["reception_number"], "B0000001");
    // Search by reception, registration and telephone.
    for q in ["b0000001", "A0000001", "03-1234-5678"] {
        let found: serde_json::Value = http
            .get(lab.url(&format!("/api/v1/search?q={q}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(found.as_array().map(|a| a.len()), Some(1), "{q}: {found}");
    }
    // Reject with a reason through the console form: the sender hears it.
    let page = http
        .get(lab.url("/receptions/B0000001"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = http
        .post(lab.url("/receptions/B0000001/reject"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("reason", "the card is unreadable"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let rej: OrderRejected = next(&mut replies, "order.rejected", |r: &OrderRejected| {
        r.order == order.order
    })
    .await;
    assert_eq!(rej.code, RejectCode::ByOperator);
    assert!(rej.reason.contains("unreadable"));
    // Bad input is a 4xx, never a 500.
    for (path, code) in [
        ("/api/v1/receptions?state=bogus", 400),
        ("/api/v1/receptions/ZZZ", 404),
        ("/receptions/%FF", 400),
    ] {
        assert_eq!(
            http.get(lab.url(path)).send().await.unwrap().status(),
            code,
            "{path}"
        );
    }
    let spec: serde_json::Value = http
        .get(lab.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["paths"]["/api/v1/receptions/{number}/{action}"].is_object());
    lab.stop().await;
}

// ------------------------------------------------------------------ the user's cancellation

impl Peer {
    /// Plays the gateway: a user's cancellation on the lab's `order.cancelled`.
    async fn cancel(&self, order: OrderId, msg_id: &str) {
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
async fn log_states(lab: &Running, order: OrderId) -> Vec<String> {
    let mut tx = lab.lab.store.begin().await.unwrap();
    let log = reprint_lab::db::production_log(&mut tx, &order.to_string())
        .await
        .unwrap();
    drop(tx);
    log.into_iter().map(|l| l.state).collect()
}

/// The events in an order's user file stream at the lab.
async fn file_version(lab: &Running, order: OrderId) -> u64 {
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

async fn reception_state(lab: &Running, order: OrderId) -> file::ReceptionState {
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
async fn drain(
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

fn rand_suffix() -> u16 {
    (uuid::Uuid::new_v4().as_u128() % 10_000) as u16
}

#[tokio::test]
async fn a_cancellation_before_printing_cancels_the_reception_once() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let mut status = peer.subscribe("reprint.v1.status.>").await;
    let image = peer.upload(7).await;

    // A cancellation of an order the lab has not received: kept apart, it takes no number.
    let early = internet_order(image, PrintSize::L, at);
    peer.cancel(early.order, "early-cancel").await;

    let order = internet_order(image, PrintSize::L, at);
    peer.place(&order).await;
    let r: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == order.order,
    )
    .await;
    let number = r.extract.reception.number.as_str().to_string();
    assert_eq!(number, "B0000001", "the early cancellation took no number");
    let versions_before = file_version(&lab, order.order).await;

    peer.cancel(order.order, "cancel-1").await;
    let s: StatusChanged = next(&mut status, "", |s: &StatusChanged| {
        s.order == order.order && s.stage == Stage::Cancelled
    })
    .await;
    assert_eq!(s.site, site(LAB));
    assert!(s.detail.contains(&number), "{}", s.detail);
    assert!(
        matches!(
            reception_state(&lab, order.order).await,
            file::ReceptionState::Cancelled { .. }
        ),
        "the reception is cancelled in the user file"
    );
    assert_eq!(file_version(&lab, order.order).await, versions_before + 1);
    assert_eq!(
        log_states(&lab, order.order).await,
        ["received", "cancelled"]
    );

    // Redelivery: the same message id (JetStream's window), then another id (past it).
    peer.cancel(order.order, "cancel-1").await;
    peer.cancel(order.order, "cancel-1-again").await;
    drain(&peer, &mut replies, image, at).await;
    assert_eq!(
        file_version(&lab, order.order).await,
        versions_before + 1,
        "no second event in the file"
    );
    assert_eq!(
        log_states(&lab, order.order).await,
        ["received", "cancelled"]
    );

    // The console: off the queue, on the cancelled list; printing it is refused.
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let csrf = log_in(&http, &lab).await;
    let queue: serde_json::Value = http
        .get(lab.url("/api/v1/receptions?state=received"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !queue.to_string().contains(&number),
        "not in the received queue: {queue}"
    );
    let cancelled: serde_json::Value = http
        .get(lab.url("/api/v1/receptions?state=cancelled"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(cancelled.to_string().contains(&number), "{cancelled}");
    let r = http
        .post(lab.url(&format!("/api/v1/receptions/{number}/start-printing")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let hot = rig.dir.path().join("hot/minilab-1");
    assert!(
        !hot.exists() || list(&hot).is_empty(),
        "nothing in the hot folder"
    );

    // The early cancellation opened nothing: no reception, no parked message.
    let mut tx = lab.lab.store.begin().await.unwrap();
    assert!(
        reprint_lab::db::production_by_order(&mut tx, &early.order.to_string())
            .await
            .unwrap()
            .is_none()
    );
    drop(tx);
    let parked = lab
        .lab
        .store
        .parked(&reprint_lab::inbox::consumer_name(&site(LAB)))
        .await
        .unwrap();
    assert!(parked.is_empty(), "{parked:?}");
    lab.stop().await;
}

/// Messages on `sub` up to and including the first for which `stop` holds.
async fn until(
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
fn order_of(m: &async_nats::Message) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(&m.payload)
        .ok()?
        .get("order")?
        .as_str()
        .map(str::to_string)
}

#[tokio::test]
async fn a_cancellation_that_overtakes_its_order_closes_it_unopened() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let mut counter_inbox = peer
        .subscribe(&format!("reprint.v1.counter.{COUNTER}.>"))
        .await;
    let mut status = peer.subscribe("reprint.v1.status.>").await;
    let image = peer.upload(9).await;
    let lab_subject = subjects::order_placed(&subjects::SiteId::parse(LAB).unwrap());

    // The user cancels; the order reaches the lab only afterwards (a redelivery).
    let order = internet_order(image, PrintSize::L, at);
    let id = order.order.to_string();
    peer.cancel(order.order, "cancel-first").await;
    peer.place(&order).await;
    let s: StatusChanged = next(&mut status, "", |s: &StatusChanged| s.order == order.order).await;
    assert_eq!(s.stage, Stage::Cancelled, "the first status is cancelled");
    assert_eq!(s.site, site(LAB));
    assert!(
        s.detail.contains("before the order reached"),
        "{}",
        s.detail
    );

    // A marker order after it: its reception takes the first number, and no reply of any kind
    // went to the gateway for the cancelled order.
    let mut marker = internet_order(image, PrintSize::L, at);
    marker.customer.name = "Taro Suzuki".into();
    marker.customer.telephone = "090-1111-3333".into();
    peer.place(&marker).await;
    let seen = until(&mut replies, |m| {
        order_of(m) == Some(marker.order.to_string())
    })
    .await;
    assert!(
        seen.iter().all(|m| order_of(m) != Some(id.clone())),
        "no reception or rejection for the cancelled order: {:?}",
        seen.iter().map(|m| m.subject.as_str()).collect::<Vec<_>>()
    );
    let r: ReceptionRecorded = serde_json::from_slice(&seen.last().unwrap().payload).unwrap();
    assert_eq!(
        r.extract.reception.number.as_str(),
        "B0000001",
        "the cancelled order took no reception number"
    );

    // Nothing opened: no production row, no user file, nothing queued for the printers.
    let mut tx = lab.lab.store.begin().await.unwrap();
    assert!(
        reprint_lab::db::production_by_order(&mut tx, &id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        lab.lab
            .files
            .by_order(&mut tx, order.order)
            .await
            .unwrap()
            .is_none(),
        "no reception in any user file"
    );
    assert!(
        reprint_lab::db::queue_of(&mut tx, &id)
            .await
            .unwrap()
            .is_empty()
    );
    let queued = reprint_lab::db::production_by_state(&mut tx, "received", 100)
        .await
        .unwrap();
    assert_eq!(
        queued
            .iter()
            .map(|r| r.order_id.clone())
            .collect::<Vec<_>>(),
        [marker.order.to_string()],
        "only the marker waits for the printers"
    );
    drop(tx);

    // The order and the cancellation redelivered under other ids: nothing changes, no second
    // status.
    peer.publish(lab_subject.clone(), "order-again", &order)
        .await;
    peer.cancel(order.order, "cancel-again").await;
    let mut marker2 = internet_order(image, PrintSize::L, at);
    marker2.customer.name = "Jiro Sato".into();
    marker2.customer.telephone = "090-1111-4444".into();
    peer.place(&marker2).await;
    let statuses = until(&mut status, |m| {
        order_of(m) == Some(marker2.order.to_string())
    })
    .await;
    let ours: Vec<StatusChanged> = statuses
        .iter()
        .filter(|m| order_of(m) == Some(id.clone()))
        .map(|m| serde_json::from_slice(&m.payload).unwrap())
        .collect();
    assert!(ours.is_empty(), "no second status: {ours:?}");
    let mut tx = lab.lab.store.begin().await.unwrap();
    assert!(
        reprint_lab::db::production_by_order(&mut tx, &id)
            .await
            .unwrap()
            .is_none(),
        "the redelivered order is not opened"
    );
    drop(tx);

    // A counter's order cancelled before it arrived: the counter hears `OrderRejected` (it
    // closes its own reception on a rejection) besides the status.
    let mut walk_in = internet_order(image, PrintSize::L, at);
    walk_in.route = Route::CounterMedium;
    walk_in.sender = Sender::Counter(site(COUNTER));
    peer.cancel(walk_in.order, "cancel-walk-in").await;
    peer.place(&walk_in).await;
    let rejected: OrderRejected =
        next(&mut counter_inbox, "order.rejected", |r: &OrderRejected| {
            r.order == walk_in.order
        })
        .await;
    assert!(rejected.reason.contains("cancelled"), "{}", rejected.reason);
    let s: StatusChanged = next(&mut status, "", |s: &StatusChanged| {
        s.order == walk_in.order
    })
    .await;
    assert_eq!(s.stage, Stage::Cancelled);

    let hot = rig.dir.path().join("hot/minilab-1");
    assert!(
        !hot.exists() || list(&hot).is_empty(),
        "nothing in the hot folder"
    );
    let parked = lab
        .lab
        .store
        .parked(&reprint_lab::inbox::consumer_name(&site(LAB)))
        .await
        .unwrap();
    assert!(parked.is_empty(), "{parked:?}");
    lab.stop().await;
}

#[tokio::test]
async fn a_cancellation_after_printing_started_is_too_late() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let mut status = peer.subscribe("reprint.v1.status.>").await;
    let image = peer.upload(8).await;

    let order = internet_order(image, PrintSize::L, at);
    peer.place(&order).await;
    let r: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == order.order,
    )
    .await;
    let number = r.extract.reception.number.as_str().to_string();
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let csrf = log_in(&http, &lab).await;
    let row = act(&http, &lab, &csrf, &number, "start-printing").await;
    assert_eq!(row["state"], "printing");
    let versions_before = file_version(&lab, order.order).await;

    // The cancellation crossed "printing" on the wire.
    peer.cancel(order.order, "late-cancel").await;
    let s: StatusChanged = next(&mut status, "", |s: &StatusChanged| {
        s.order == order.order && s.detail.contains("too late")
    })
    .await;
    assert_eq!(s.stage, Stage::Printing, "the stage stays as it is");
    assert!(s.detail.contains(&number), "{}", s.detail);

    // Redelivered under another id: still nothing done to the order.
    peer.cancel(order.order, "late-cancel-again").await;
    drain(&peer, &mut replies, image, at).await;
    assert_eq!(
        reception_state(&lab, order.order).await,
        file::ReceptionState::Open,
        "the file is left alone"
    );
    assert_eq!(file_version(&lab, order.order).await, versions_before);
    assert_eq!(
        log_states(&lab, order.order).await,
        ["received", "printing"]
    );
    // The order goes on.
    let row = act(&http, &lab, &csrf, &number, "finished").await;
    assert_eq!(row["state"], "printed");
    lab.stop().await;
}

// ------------------------------------------------------------------ metrics

use reprint_testkit::metric_series as series;

async fn metrics_page(lab: &Running) -> String {
    reqwest::get(lab.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn metrics_count_each_stage_once_and_report_append_latency_and_lag() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let image = peer.upload(7).await;
    let order = internet_order(image, PrintSize::L, at);
    peer.place(&order).await;
    let r: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == order.order,
    )
    .await;
    // The same order under another message id (past JetStream's window): no second reception,
    // no second count. A marker order after it says when it was handled.
    peer.publish(
        subjects::order_placed(&subjects::SiteId::parse(LAB).unwrap()),
        "the-same-order-again",
        &order,
    )
    .await;
    let mut marker = internet_order(image, PrintSize::L, at);
    marker.customer.name = "Taro Suzuki".into();
    marker.customer.telephone = "090-1111-2222".into();
    peer.place(&marker).await;
    next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == marker.order,
    )
    .await;
    // One order on to printing through the console.
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let csrf = log_in(&http, &lab).await;
    let number = r.extract.reception.number.as_str().to_string();
    act(&http, &lab, &csrf, &number, "start-printing").await;
    // A move the production refuses (not printing yet) counts nothing.
    let refused = http
        .post(lab.url(&format!("/api/v1/receptions/{number}/dispatch")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert!(!refused.status().is_success());

    let page = metrics_page(&lab).await;
    let stage = |s: &str| {
        series(
            &page,
            &format!("reprint_orders_total{{stage=\"{s}\",service=\"lab\"}}"),
        )
    };
    assert_eq!(
        stage("received"),
        Some(2.0),
        "two orders, the copy not counted:\n{page}"
    );
    assert_eq!(stage("printing"), Some(1.0), "{page}");
    assert_eq!(stage("dispatched"), None, "{page}");
    // Every unit of work that appended is observed once, under its first stream's kind; the
    // kinds are the lab's few stream kinds, not one per file.
    let counts: Vec<(String, f64)> = page
        .lines()
        .filter_map(|l| l.strip_prefix("reprint_append_seconds_count{stream_kind=\""))
        .filter_map(|l| {
            let (kind, rest) = l.split_once('"')?;
            Some((kind.to_string(), rest.rsplit(' ').next()?.parse().ok()?))
        })
        .collect();
    let total: f64 = counts.iter().map(|(_, n)| n).sum();
    assert!(
        total >= 2.0,
        "both receptions' appends observed: {counts:?}\n{page}"
    );
    for (kind, _) in &counts {
        assert!(
            [
                "user-file",
                "sequence-registration",
                "sequence-reception",
                "production"
            ]
            .contains(&kind.as_str()),
            "stream kind {kind}\n{page}"
        );
    }
    let sum: f64 = page
        .lines()
        .filter(|l| l.starts_with("reprint_append_seconds_sum{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(sum > 0.0 && sum < 30.0, "{sum}");
    // The inbox consumer's lag is there, and back to 0 once everything is handled.
    let lag = "reprint_consumer_lag{consumer=\"lab-lab-a-inbox\",service=\"lab\"}";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let page = metrics_page(&lab).await;
        match series(&page, lag) {
            Some(0.0) => break,
            v => assert!(
                tokio::time::Instant::now() < deadline,
                "lag not back to 0: {v:?}\n{page}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    lab.stop().await;
}

/// Rejects a reception through the API with a reason.
async fn reject(
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

#[tokio::test]
async fn a_rejected_reception_leaves_the_hot_folder_or_is_voided_where_the_station_took_it() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let csrf = log_in(&http, &lab).await;
    let hot = rig.dir.path().join("hot/minilab-1");

    // Two orders on to printing: their jobs are in the hot folder.
    let mut numbers = Vec::new();
    for seed in [21, 22] {
        let image = peer.upload(seed).await;
        let order = internet_order(image, PrintSize::L, at);
        peer.place(&order).await;
        let r: ReceptionRecorded = next(
            &mut replies,
            "reception.recorded",
            |r: &ReceptionRecorded| r.order == order.order,
        )
        .await;
        let number = r.extract.reception.number.as_str().to_string();
        let row = act(&http, &lab, &csrf, &number, "start-printing").await;
        assert_eq!(row["state"], "printing");
        assert!(
            hot.join(format!("{number}-L"))
                .join("MISC/AUTPRINT.MRK")
                .exists()
        );
        numbers.push((order.order, number));
    }
    let (first_order, first) = &numbers[0];
    let (second_order, second) = &numbers[1];

    // The first one the station has not taken: rejected, its job leaves the hot folder.
    let r = reject(&http, &lab, &csrf, first, "the image is damaged").await;
    assert_eq!(r.status(), 200);
    let rej: OrderRejected = next(&mut replies, "order.rejected", |r: &OrderRejected| {
        r.order == *first_order
    })
    .await;
    assert_eq!(rej.code, RejectCode::ByOperator);
    assert!(
        !hot.join(format!("{first}-L")).exists(),
        "a print station would print a rejected order"
    );

    // The second one the station took (its marker): the job stays, voided, and the operator
    // is told in the production log.
    let job = hot.join(format!("{second}-L"));
    std::fs::write(job.join("TAKEN"), b"").unwrap();
    let r = reject(&http, &lab, &csrf, second, "the customer called").await;
    assert_eq!(r.status(), 200);
    let void = std::fs::read_to_string(job.join("VOID")).unwrap();
    assert!(void.contains("the customer called"), "{void}");
    let mut tx = lab.lab.store.begin().await.unwrap();
    let log = reprint_lab::db::production_log(&mut tx, &second_order.to_string())
        .await
        .unwrap();
    drop(tx);
    assert!(
        log.iter().any(|l| l.note.contains("VOID")),
        "the operator is told: {log:?}"
    );

    // A rejected reception cannot be printed, finished or dispatched; a second click is no
    // second rejection; a rejection needs a reason.
    for action in ["start-printing", "finished", "dispatch"] {
        let r = http
            .post(lab.url(&format!("/api/v1/receptions/{first}/{action}")))
            .header("x-csrf-token", &csrf)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409, "{action}");
        let p: serde_json::Value = r.json().await.unwrap();
        assert!(
            p["detail"].as_str().unwrap().contains("rejected"),
            "{action}: {p}"
        );
    }
    assert_eq!(
        reject(&http, &lab, &csrf, first, "again").await.status(),
        200
    );
    assert_eq!(
        log_states(&lab, *first_order).await,
        ["received", "printing", "rejected", "rejected"],
        "received, printing, rejected, and the hot folders' note"
    );
    let image = peer.upload(23).await;
    let order = internet_order(image, PrintSize::L, at);
    peer.place(&order).await;
    let r: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == order.order,
    )
    .await;
    let number = r.extract.reception.number.as_str().to_string();
    let r = reject(&http, &lab, &csrf, &number, "   ").await;
    assert_eq!(r.status(), 422);
    lab.stop().await;
}

#[tokio::test]
async fn an_order_the_check_refuses_is_rejected_in_the_checks_words() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let image = peer.upload(24).await;
    let mut rotated = internet_order(image, PrintSize::L, at);
    rotated.items[0].edits = Some(r#"[{"op":"rotate","degrees":45}]"#.into());
    let mut thousand = internet_order(image, PrintSize::L, at);
    thousand.items[0].quantity = 1000;
    for order in [&rotated, &thousand] {
        peer.place(order).await;
        let rej: OrderRejected = next(&mut replies, "order.rejected", |r: &OrderRejected| {
            r.order == order.order
        })
        .await;
        let expected =
            reprint_domain::check_order(&order.customer, &order.items, &[PrintSize::L][..])
                .unwrap_err();
        assert_eq!(rej.code, RejectCode::InvalidOrder);
        assert_eq!(rej.reason, expected.to_string());
    }
    lab.stop().await;
}
