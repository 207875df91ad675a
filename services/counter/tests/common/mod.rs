//! An in-process counter on port 0 with a fresh store, a real nats-server, and a real lab peer
//! on NATS played by the test (it consumes the lab's inbox and publishes what a lab sends).

#![allow(dead_code)]

use std::io::Write;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::PullConsumer};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use reprint_bus::subjects::{self, Address, SiteId as BusSite, SiteKind as BusKind};
use reprint_counter::{Application, Counter, CounterConfig};
use reprint_domain::extract::FileExtract;
use reprint_domain::file::{Reception, ReceptionState, Route};
use reprint_domain::protocol::{Customer, DeliveryDispatched, OrderPlaced, ReceptionRecorded};
use reprint_domain::*;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

pub const PASSWORD: &str = "counter-demo";

pub struct TestCounter {
    pub base: String,
    pub http: reqwest::Client,
    pub csrf: String,
    pub counter: Arc<Counter>,
    pub trigger: reprint_service::shutdown::ShutdownTrigger,
    /// The configuration it was started with (a restart starts it again).
    config: String,
    _dir: Arc<tempfile::TempDir>,
}

impl Drop for TestCounter {
    fn drop(&mut self) {
        self.trigger.trigger();
    }
}

pub fn config_text(
    nats: &str,
    data_dir: &str,
    store_url: Option<&str>,
    extra_uploads: &str,
) -> String {
    let hash = reprint_service::auth::hash_password(PASSWORD).unwrap();
    let store = store_url
        .map(|u| format!("url = \"{u}\""))
        .unwrap_or_default();
    format!(
        r#"
name = "Ginza mini-lab"
address = "1-2-3 Ginza"
data_dir = "{data_dir}"
session_secret = "test-secret-test-secret-test-secret-0123"
[site]
site = "counter-ginza"
kind = "counter"
time_zone = "Asia/Tokyo"
currency = "JPY"
registration_number = {{ prefix = "W", width = 7 }}
reception_number = {{ prefix = "X", width = 7 }}
[site.prices]
basic_charge = 250
[site.policy]
anchor = "previous"
applies_to = "basic"
[[site.policy.tiers]]
within_months = 1
percent = 100
[[labs]]
id = "lab-a"
name = "A Corporation laboratory"
[[staff]]
name = "tanaka"
password_hash = "{hash}"
[store]
{store}
[nats]
url = "{nats}"
[http]
address = "127.0.0.1:0"
[uploads]
{extra_uploads}
"#
    )
}

pub async fn spawn(nats: &str, store_url: Option<&str>, extra_uploads: &str) -> TestCounter {
    spawn_edited(nats, store_url, extra_uploads, |t| t).await
}

/// As [`spawn`], with the configuration text changed by `edit` first.
pub async fn spawn_edited(
    nats: &str,
    store_url: Option<&str>,
    extra_uploads: &str,
    edit: impl FnOnce(String) -> String,
) -> TestCounter {
    let dir = tempfile::tempdir().unwrap();
    let text = edit(config_text(
        nats,
        &dir.path().display().to_string(),
        store_url,
        extra_uploads,
    ));
    start(text, Arc::new(dir)).await
}

/// Starts a counter of configuration `text` (its files in `dir`) and logs staff in.
async fn start(text: String, dir: Arc<tempfile::TempDir>) -> TestCounter {
    let config = CounterConfig::from_toml(&text).unwrap();
    let app = Application::build(config).await.unwrap();
    let port = app.port();
    let counter = app.counter();
    let trigger = app.shutdown_trigger();
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let login: Value = http
        .post(format!("{base}/api/v1/login"))
        .json(&serde_json::json!({"name": "tanaka", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let csrf = login["csrf_token"]
        .as_str()
        .expect("log-in works")
        .to_string();
    TestCounter {
        base,
        http,
        csrf,
        counter,
        trigger,
        config: text,
        _dir: dir,
    }
}

impl TestCounter {
    /// Stops the counter and starts it again on the same configuration, store and spool (a
    /// new process's memory: nothing of the old one's but what it kept).
    pub async fn restart(self) -> TestCounter {
        let text = self.config.clone();
        let dir = self._dir.clone();
        drop(self);
        tokio::time::sleep(Duration::from_millis(300)).await;
        start(text, dir).await
    }

    pub async fn intake(&self, form: reqwest::multipart::Form) -> (u16, Value) {
        let res = self
            .http
            .post(format!("{}/api/v1/intake", self.base))
            .header("x-csrf-token", &self.csrf)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// A page's HTML as a terminal asking for `lang` sees it.
    pub async fn page(&self, path: &str, lang: &str) -> String {
        self.http
            .get(format!("{}{path}", self.base))
            .header("accept-language", lang)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Polls the pickup view until the lab's amounts are in.
    pub async fn wait_ready(&self, reception: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (s, v) = self.get(&format!("/api/v1/pickups/{reception}")).await;
            if s == 200 && v["can_collect"] == true {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "reception {reception} never became ready: {s} {v}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

pub fn customer_fields(
    form: reqwest::multipart::Form,
    name: &str,
    phone: &str,
) -> reqwest::multipart::Form {
    form.text("name", name.to_string())
        .text("telephone", phone.to_string())
        .text("lab", "lab-a")
        .text("size", "L")
}

pub fn jpeg(seed: u64) -> Vec<u8> {
    reprint_media::synthetic::jpeg(&reprint_media::synthetic::photo(seed, 64, 48), 80).unwrap()
}

/// A ZIP of (path, bytes) entries, deflated.
pub fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

pub fn zip_part(bytes: Vec<u8>) -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(bytes)
        .file_name("card.zip")
        .mime_str("application/zip")
        .unwrap()
}

pub fn image_part(name: &str, bytes: Vec<u8>) -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(bytes).file_name(name.to_string())
}

pub const DPOF: &str = "[HDR]\r\nGEN REV = 01.10\r\nGEN CRT = \"Canon PowerShot G7 X\" -01.00\r\n\r\n[JOB]\r\nPRT PID = 001\r\nPRT TYP = STD\r\nPRT QTY = 001\r\nIMG FMT = EXIF2 -J\r\n<IMG SRC = \"../DCIM/100CANON/IMG_0001.JPG\">\r\n\r\n[JOB]\r\nPRT PID = 002\r\nPRT TYP = STD\r\nPRT QTY = 003\r\nIMG FMT = EXIF2 -J\r\n<IMG SRC = \"../DCIM/100CANON/IMG_0007.JPG\">\r\n";

/// The lab, played by the test on the real NATS.
pub struct LabPeer {
    pub js: jetstream::Context,
    pub inbox: PullConsumer,
    pub id: SiteId,
}

impl LabPeer {
    pub async fn start(nats: &str) -> LabPeer {
        let client = async_nats::connect(nats).await.unwrap();
        let js = jetstream::new(client);
        reprint_bus::provision(&js, &reprint_bus::ProvisionSettings::default())
            .await
            .unwrap();
        let site = BusSite::parse("lab-a").unwrap();
        let inbox = reprint_bus::streams::ensure_consumer(
            &js,
            &reprint_bus::streams::durable_consumer_for(&site, BusKind::Lab),
        )
        .await
        .unwrap();
        LabPeer {
            js,
            inbox,
            id: SiteId::parse("lab-a").unwrap(),
        }
    }

    /// Messages in the lab's inbox within `wait` (acked): (subject, message id, body).
    pub async fn receive(&self, want: usize, wait: Duration) -> Vec<(String, String, Value)> {
        let deadline = Instant::now() + wait;
        let mut out = Vec::new();
        while out.len() < want && Instant::now() < deadline {
            let mut batch = self
                .inbox
                .batch()
                .max_messages(want - out.len())
                .expires(Duration::from_millis(500))
                .messages()
                .await
                .unwrap();
            while let Some(Ok(m)) = batch.next().await {
                let id = m
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                let body: Value = serde_json::from_slice(&m.payload).unwrap();
                out.push((m.subject.to_string(), id, body));
                m.ack().await.unwrap();
            }
        }
        out
    }

    pub async fn send(&self, subject: String, id: &str, body: &impl Serialize) {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id);
        self.js
            .publish_with_headers(subject, headers, serde_json::to_vec(body).unwrap().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    fn counter_address() -> Address {
        Address::counter(BusSite::parse("counter-ginza").unwrap())
    }

    /// The lab's reception of an order, charged by the seed's demo lab (Fig. 7), first order.
    pub fn reception(
        &self,
        order: OrderId,
        route: Route,
        items: Vec<OrderItem>,
        lab_number: &str,
        at: DateTime<Utc>,
    ) -> Reception {
        let rules = SiteRules::demo_lab(self.id.clone());
        let charge = determine_charge(&rules, &UserFile::default(), &items, &[], at).unwrap();
        Reception {
            number: ReceptionNumber::foreign(lab_number),
            order,
            route,
            received_at: at,
            data_receive: None,
            partner: SiteId::parse("counter-ginza").unwrap(),
            items,
            charge,
            partner_charge: None,
            estimated_finish: Some(at + chrono::Duration::hours(20)),
            state: ReceptionState::Open,
        }
    }

    pub fn extract(&self, reception: Reception, name: &str, phone: &str) -> FileExtract {
        FileExtract {
            from_site: self.id.clone(),
            from_kind: SiteKind::Lab,
            registration_number: RegistrationNumber::foreign("A0000001"),
            name: name.into(),
            telephone: Telephone::parse(phone).unwrap(),
            address: None,
            email: None,
            reception,
            other_receptions: vec![],
            other_counter: None,
        }
    }

    pub async fn record_reception(&self, placed: &OrderPlaced, lab_number: &str) -> Reception {
        let items: Vec<OrderItem> = placed
            .items
            .iter()
            .map(|i| OrderItem {
                image: i.image,
                name: i.name.clone(),
                size: i.size,
                quantity: i.quantity,
            })
            .collect();
        let reception = self.reception(
            placed.order,
            placed.route,
            items,
            lab_number,
            placed.placed_at,
        );
        let msg = ReceptionRecorded {
            order: placed.order,
            lab: self.id.clone(),
            extract: self.extract(
                reception.clone(),
                &placed.customer.name,
                &placed.customer.telephone,
            ),
            estimated_finish: reception.estimated_finish,
        };
        self.send(
            subjects::reception_recorded(&Self::counter_address()).unwrap(),
            &format!("lab-a:reception:{}", placed.order),
            &msg,
        )
        .await;
        reception
    }

    pub async fn dispatch(
        &self,
        reception: Reception,
        customer: Customer,
        counter_reception: Option<String>,
        at: DateTime<Utc>,
    ) {
        self.dispatch_to_file(reception, customer, counter_reception, None, at)
            .await
    }

    /// As [`LabPeer::dispatch`], with the user's registration number at the counter that the
    /// order's sender holds (`DeliveryDispatched::counter_registration_number`).
    pub async fn dispatch_to_file(
        &self,
        reception: Reception,
        customer: Customer,
        counter_reception: Option<String>,
        counter_registration_number: Option<&str>,
        at: DateTime<Utc>,
    ) {
        let msg = DeliveryDispatched {
            order: reception.order,
            lab: self.id.clone(),
            counter: SiteId::parse("counter-ginza").unwrap(),
            dispatched_at: at,
            extract: self.extract(reception.clone(), &customer.name, &customer.telephone),
            customer,
            counter_reception,
            counter_registration_number: counter_registration_number.map(str::to_string),
        };
        self.send(
            subjects::delivery_dispatched(&BusSite::parse("counter-ginza").unwrap()),
            &format!("lab-a:dispatch:{}", reception.order),
            &msg,
        )
        .await;
    }
}

pub fn customer(name: &str, phone: &str) -> Customer {
    Customer {
        name: name.into(),
        telephone: phone.into(),
        address: None,
        email: None,
        registration_number: None,
    }
}

/// A quote request for `prints` L prints of distinct images.
pub fn quote_request(name: &str, phone: &str, prints: u64, at: DateTime<Utc>) -> Value {
    let items: Vec<Value> = (0..prints)
        .map(|i| {
            serde_json::to_value(reprint_domain::protocol::PlacedItem {
                image: ImageId::of_bytes(&jpeg(500 + i)),
                name: format!("IMG_{i:04}.JPG"),
                size: PrintSize::L,
                quantity: 1,
                edits: None,
                perceptual_hash: None,
                history: vec![],
            })
            .unwrap()
        })
        .collect();
    serde_json::json!({
        "customer": customer(name, phone),
        "items": items,
        "at": at,
    })
}

/// Sends `body` to the counter's `method`, waiting (at most 20 s) for the counter to start
/// serving it: "no responders" is retried, anything else is returned.
pub async fn counter_rpc<T: serde::de::DeserializeOwned>(
    client: &async_nats::Client,
    method: subjects::RpcMethod,
    body: &Value,
) -> Result<T, reprint_bus::BusError> {
    let site = BusSite::parse("counter-ginza").unwrap();
    let subject = subjects::rpc(&site, method);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match reprint_bus::request::request_json::<_, T>(
            client,
            &subject,
            body,
            Duration::from_secs(5),
        )
        .await
        {
            Err(reprint_bus::BusError::NoResponders { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other,
        }
    }
}

/// How the lab played by a test prices a quote (its reply on `rpc.lab-a.quote`).
#[derive(Debug, Clone, Copy)]
pub enum LabQuotes {
    /// A line per item at this many yen a print.
    Itemised(i64),
    /// Only a total, at this many yen a print (no lines).
    Total(i64),
}

/// Answers the lab's quote on NATS request/reply as `how` says, ready two hours after it is
/// asked.
pub async fn serve_lab_quotes(nats: &str, how: LabQuotes) -> tokio::task::JoinHandle<()> {
    use reprint_bus::request::RpcReply;
    use reprint_domain::protocol::{QuoteReply, QuoteRequest};
    let client = async_nats::connect(nats).await.unwrap();
    let subject = subjects::rpc(
        &BusSite::parse("lab-a").unwrap(),
        subjects::RpcMethod::Quote,
    );
    let mut sub = client.subscribe(subject).await.unwrap();
    client.flush().await.unwrap();
    tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            let req: QuoteRequest = serde_json::from_slice(&msg.payload).unwrap();
            let prints: i64 = req.items.iter().map(|i| i64::from(i.quantity)).sum();
            let charge = match how {
                LabQuotes::Total(unit) => Charge {
                    lines: vec![],
                    total: Money::new(unit * prints, Currency::JPY),
                },
                LabQuotes::Itemised(unit) => {
                    let lines: Vec<ChargeLine> = req
                        .items
                        .iter()
                        .map(|i| ChargeLine {
                            kind: LineKind::Prints {
                                image: i.image,
                                size: i.size,
                                quantity: i.quantity,
                                unit_price: Money::new(unit, Currency::JPY),
                            },
                            description: format!("{} x {}", i.name, i.quantity),
                            amount: Money::new(unit * i64::from(i.quantity), Currency::JPY),
                        })
                        .collect();
                    let total = lines.iter().map(|l| l.amount.minor).sum();
                    Charge {
                        lines,
                        total: Money::new(total, Currency::JPY),
                    }
                }
            };
            let reply = RpcReply::Ok(QuoteReply {
                site: SiteId::parse("lab-a").unwrap(),
                site_kind: SiteKind::Lab,
                charge,
                estimated_finish: Some(req.at + chrono::Duration::hours(2)),
            });
            if let Some(to) = msg.reply {
                client
                    .publish(to, serde_json::to_vec(&reply).unwrap().into())
                    .await
                    .unwrap();
            }
        }
    })
}

/// Posts the intake page's form: (status, final URL, page).
pub async fn post_intake_page(
    counter: &TestCounter,
    form: reqwest::multipart::Form,
) -> (u16, String, String) {
    let res = counter
        .http
        .post(format!("{}/intake", counter.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let url = res.url().to_string();
    (status, url, res.text().await.unwrap())
}
