//! `reprint-bench scale`: a network of many sites on one nats-server (issue 19) — 10 labs, a
//! gateway and, in steps, 10, 100 and 1,000 counters — to see what grows with the number of
//! sites and where a stream or the subject layout must be split.
//!
//! 1,000 counter processes do not fit on a 2-core machine, so each site is what it is to NATS,
//! built from the real crates: its own client connection (named `reprint-<kind>@<site>`, reply
//! inbox `_INBOX.<site>`), the start every service makes (`reprint_bus::provision`: the four
//! streams, the site directory and the image bucket; a lab also its print stream), its
//! directory entry (a real [`SiteAnnouncement`] from the seed's demo rules, written by the real
//! [`Directory`] heartbeat every `--heartbeat-secs`), its inbox consumer
//! (`streams::durable_consumer_for`, the same name, filter and settings as the services) read
//! the way `reprint_bus::consumer` reads it (one pull request of at most 256 messages, expiring
//! after `PULL_WAIT` = 1 s, again and again) and its lag asked every 2 s (consumer info, as the
//! consumer loop's lag reporter does). The gateway `gw-1` has its inbox and status consumers.
//! What a site does not do here: its store (a message is acked on arrival, so the order times
//! are the NATS path alone), its HTTP side, and a leaf node of its own (every site is a client
//! of the one server).
//!
//! Orders cross the network as the services send them: the gateway publishes the real
//! `OrderPlaced` (`message::to_inbox`, `Nats-Msg-Id` and headers as the outbox relay sends them)
//! to a lab (`reprint.v1.lab.<lab>.order.placed`), the lab's consumer takes it, acks it and
//! publishes the real `DeliveryDispatched` to the order's delivery counter
//! (`reprint.v1.counter.<counter>.delivery.dispatched`), whose consumer takes and acks it. Orders
//! go one at a time (latency, not throughput), labs in turn, counters at random among those up.
//!
//! | figure | value | baseline |
//! |---|---|---|
//! | `scale.order.to_lab_ms.p50.c<N>`, `.p99.` | gateway's publish → the lab's consumer acks it, with N counters up | at c10: a raw publish → pull → ack round trip on a stream of its own (one consumer); at c100, c1000: the same figure at c10 |
//! | `scale.order.to_counter_ms.p50.c<N>`, `.p99.` | the lab's publish → the counter's consumer acks it | likewise |
//! | `scale.nats.rss_mb.c<N>` | nats-server's VmRSS (`/proc`) after the step's sites started | the server's VmRSS right after it started, before anything |
//! | `scale.nats.js_storage_kb.c<N>`, `scale.nats.js_memory_kb.c<N>` | JetStream storage and memory (`/jsz`) | the same at c10 |
//! | `scale.nats.streams.c<N>`, `scale.nats.consumers.c<N>` | streams and consumers on the server (`/jsz`; one server, so per server) | the same at c10 |
//! | `scale.nats.subscriptions.c<N>`, `scale.nats.connections.c<N>` | `/varz` | the same at c10 |
//! | `scale.nats.idle_cpu_pct.c<N>` | nats-server's CPU (`/proc`) while no order flows, over `--idle-secs`: the pull requests, lag polls and heartbeats of the sites alone | the same at c10 |
//! | `scale.nats.idle_msgs_per_s.c<N>` | messages into the server per second meanwhile (`/varz` `in_msgs`) | the same at c10 |
//! | `scale.directory.entries.c<N>`, `scale.directory.kb.c<N>` | announcements in the directory and their JSON bytes | the same at c10 |
//! | `scale.directory.list_ms.c<N>` | a site's read of the whole directory at its start, `Directory::list` (the keys, then one get per key, as the gateway's pages and the counter do), on a connection of its own after `Directory::open` (best of 3) | the same at c10 |
//! | `scale.directory.watch_ms.c<N>` | the same entries read by one `Directory::watch` (an ordered consumer delivering the last value of every key) until every site was seen (best of 3) | `directory.list_ms` of the same step |
//! | `scale.consumer.create_ms.c<N>` | mean time of the step's new sites' `streams::ensure_consumer` (`--start-concurrency` sites starting at once) | the same at c10 |
//! | `scale.site.start_ms.c<N>` | mean time of a site's whole start: connect, provision, heartbeat, consumer | the same at c10 |

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use async_nats::HeaderMap;
use async_nats::jetstream::{self, AckKind, consumer::PullConsumer};
use bytes::Bytes;
use chrono::Utc;
use futures::StreamExt;
use reprint_bus::connect::{ConnectSettings, connect_and_wait, site_inbox_prefix};
use reprint_bus::consumer::{ConsumerConfig, PULL_WAIT};
use reprint_bus::directory::{
    Directory, Heartbeat, OpeningHours, PriceLine, SiteAnnouncement, SiteHealth,
};
use reprint_bus::subjects::{Address, SiteId, SiteKind, Subject, Topic};
use reprint_bus::{ProvisionSettings, message, streams};
use reprint_domain::protocol::{Customer, DeliveryDispatched, OrderPlaced, PlacedItem, Sender};
use reprint_domain::{
    ImageId, OrderId, OrderItem, PrintSize, Reception, ReceptionNumber, ReceptionState,
    RegistrationNumber, Route, SiteRules, Telephone, UserFile,
};
use reprint_eventstore::OutboxMessage;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::report::{Figure, Report, percentile, sorted};

/// Flags of `reprint-bench scale`.
#[derive(clap::Args, Debug, Clone)]
pub struct ScaleArgs {
    /// Labs announced, each with its consumer.
    #[arg(long, default_value_t = 10)]
    pub labs: usize,
    /// The steps: counters up at each (ascending, comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = vec![10usize, 100, 1000])]
    pub counters: Vec<usize>,
    /// Orders sent (one at a time) at each step.
    #[arg(long, default_value_t = 300)]
    pub orders: usize,
    /// Seconds the server is watched idle (no orders) at each step.
    #[arg(long, default_value_t = 5)]
    pub idle_secs: u64,
    /// Every site's directory heartbeat (the services' default `[nats] heartbeat_secs`).
    #[arg(long, default_value_t = 10)]
    pub heartbeat_secs: u64,
    /// Sites starting at the same time.
    #[arg(long, default_value_t = 8)]
    pub start_concurrency: usize,
    /// Raw round trips measured for the order-time baseline.
    #[arg(long, default_value_t = 300)]
    pub rtt_samples: usize,
}

/// The consumer loop's defaults (`reprint_bus::consumer`): its batch size and how often its lag
/// reporter asks for the consumer's info; with its `PULL_WAIT`, what each site here does.
fn loop_defaults() -> ConsumerConfig {
    ConsumerConfig::new("scale")
}
/// The longest one leg of an order may take before the run fails.
const LEG_TIMEOUT: Duration = Duration::from_secs(20);

pub fn run(args: ScaleArgs, report: &mut Report) -> anyhow::Result<()> {
    if !cfg!(debug_assertions) {
        eprintln!("scale: release build");
    } else {
        eprintln!("scale: DEBUG build; the figures mean little (cargo run --release)");
    }
    let mut steps = args.counters.clone();
    steps.sort_unstable();
    steps.dedup();
    if steps.is_empty() || steps[0] == 0 || args.labs == 0 {
        bail!("--labs and every --counters step must be at least 1");
    }
    let sites = args.labs + steps.last().copied().unwrap_or(0) + 1;
    let limit = open_files_limit();
    if let Some(limit) = limit
        && limit < (sites as u64) * 2 + 256
    {
        bail!(
            "{sites} sites need about {} open files in this process and as many in nats-server; \
             the limit is {limit} (ulimit -n)",
            sites * 2 + 256
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(args, steps, report))
}

fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn note(t0: Instant, what: &str) {
    eprintln!("[{:>6.1}s] {what}", t0.elapsed().as_secs_f64());
}

// ------------------------------------------------------------------ the server

/// A private nats-server with JetStream on disk in a temporary directory and its monitoring
/// port; killed when dropped.
struct Server {
    child: Child,
    port: u16,
    monitor: u16,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> anyhow::Result<(Server, String)> {
        let bin = reprint_testkit::nats::server_binary();
        let version = Command::new(&bin)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .with_context(|| format!("cannot run nats-server at {}", bin.display()))?;
        // On the machine's disk (not a tmpfs /tmp), as a hub's store would be.
        let dir = tempfile::Builder::new()
            .prefix("reprint-bench-scale-")
            .tempdir_in(std::env::var_os("TMPDIR").unwrap_or_else(|| "/var/tmp".into()))?;
        let port = reprint_testkit::nats::free_port();
        let monitor = reprint_testkit::nats::free_port();
        let child = Command::new(&bin)
            .args(["-n", "reprint-scale", "-a", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .arg("-m")
            .arg(monitor.to_string())
            .arg("-js")
            .arg("-sd")
            .arg(dir.path().join("jetstream"))
            .arg("-l")
            .arg(dir.path().join("nats-server.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("start {}", bin.display()))?;
        let server = Server {
            child,
            port,
            monitor,
            http: reqwest::Client::new(),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("nats-server did not listen on {port} within 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok((server, format!("{} ({version})", bin.display())))
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn rss_mb(&self) -> f64 {
        proc_status_kb(self.child.id(), "VmRSS:").unwrap_or(0.0) / 1024.0
    }

    fn cpu_secs(&self) -> f64 {
        let text =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // After the command name in parentheses: utime is field 14, stime 15 (100 ticks/s).
        let rest = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (tick(11) + tick(12)) / 100.0
    }

    async fn monitoring(&self, path: &str) -> anyhow::Result<Value> {
        let url = format!("http://127.0.0.1:{}/{path}", self.monitor);
        self.http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?
            .json()
            .await
            .with_context(|| format!("GET {url}: JSON"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn proc_status_kb(pid: u32, key: &str) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
}

// ------------------------------------------------------------------ orders in flight

/// The legs of orders in flight, by message id: when its publish started, and who waits for
/// the consumer's ack.
#[derive(Clone, Default)]
struct Legs(Arc<Mutex<HashMap<String, Leg>>>);

struct Leg {
    started: Option<Instant>,
    done: Option<oneshot::Sender<f64>>,
}

impl Legs {
    fn expect(&self, id: &str) -> oneshot::Receiver<f64> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut m) = self.0.lock() {
            m.insert(
                id.to_string(),
                Leg {
                    started: None,
                    done: Some(tx),
                },
            );
        }
        rx
    }

    fn started(&self, id: &str) {
        if let Ok(mut m) = self.0.lock()
            && let Some(leg) = m.get_mut(id)
        {
            leg.started = Some(Instant::now());
        }
    }

    /// The consumer acked `id`: the leg's milliseconds go to whoever waits.
    fn acked(&self, id: &str) {
        let leg = self.0.lock().ok().and_then(|mut m| m.remove(id));
        if let Some(Leg {
            started: Some(t),
            done: Some(tx),
        }) = leg
        {
            let _ = tx.send(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
}

/// Publishes an outbox message as the outbox relay does (`Nats-Msg-Id`, its headers) and
/// awaits JetStream's acknowledgement.
async fn publish(js: &jetstream::Context, m: OutboxMessage) -> anyhow::Result<()> {
    let mut headers = HeaderMap::new();
    for (name, value) in m.headers {
        headers.append(name, value);
    }
    headers.insert(async_nats::header::NATS_MESSAGE_ID, m.message_id);
    let publish = jetstream::message::PublishMessage::build()
        .payload(Bytes::from(m.payload))
        .headers(headers);
    js.send_publish(m.subject, publish)
        .await
        .context("publish")?
        .await
        .context("publish ack")?;
    Ok(())
}

fn message_id(m: &jetstream::Message) -> Option<String> {
    m.headers
        .as_ref()
        .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
        .map(|v| v.as_str().to_string())
}

// ------------------------------------------------------------------ the sites

/// One site as NATS sees it: its connection, directory heartbeat, consumers and their loops.
struct Site {
    id: SiteId,
    js: jetstream::Context,
    heartbeat: Option<Heartbeat>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Site {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// How long one site's start took.
struct Started {
    site: Site,
    start_ms: f64,
    provision_ms: f64,
    consumer_ms: f64,
}

fn site_id(s: &str) -> anyhow::Result<SiteId> {
    SiteId::parse(s).with_context(|| format!("site id {s}"))
}

fn domain_site(s: &SiteId) -> anyhow::Result<reprint_domain::SiteId> {
    reprint_domain::SiteId::parse(s.as_str()).map_err(|e| anyhow::anyhow!("site id {s}: {e}"))
}

/// The announcement a site of the seed's demo rules makes (`storefront::announcement`): its
/// sizes and prices, its policy in words, opening hours; a counter its transport hours from
/// the labs of its region.
fn announcement(id: &SiteId, kind: SiteKind, n: usize, labs: &[SiteId]) -> SiteAnnouncement {
    let rules = domain_site(id).ok().map(|d| match kind {
        SiteKind::Lab => SiteRules::demo_lab(d),
        _ => SiteRules::demo_counter(d),
    });
    let sizes: Vec<PrintSize> = PrintSize::ALL.to_vec();
    let mut prices = Vec::new();
    let mut policy_summary = String::new();
    if let Some(rules) = &rules {
        prices.push(PriceLine {
            item: "basic".into(),
            amount_minor: rules.prices.basic_charge.minor,
        });
        for s in &sizes {
            if let Ok(Some(p)) = rules.prices.print_price(*s) {
                prices.push(PriceLine {
                    item: s.code().into(),
                    amount_minor: p.minor,
                });
            }
        }
        policy_summary = rules.policy.summary();
    }
    let transport_hours = if kind == SiteKind::Counter && !labs.is_empty() {
        // Its region's lab and the next one.
        [n % labs.len(), (n + 1) % labs.len()]
            .into_iter()
            .map(|i| {
                (
                    labs[i].to_string(),
                    24 + 24 * u32::from(i != n % labs.len()),
                )
            })
            .collect()
    } else {
        Default::default()
    };
    SiteAnnouncement {
        id: id.clone(),
        kind,
        name: match kind {
            SiteKind::Lab => format!("Photo lab {n:02} (production)"),
            _ => format!("Print counter No. {n:04}, station front"),
        },
        address: format!(
            "{}-{}-{} Chuo, Tokyo 104-0061",
            n % 9 + 1,
            n % 30 + 1,
            n % 17 + 1
        ),
        time_zone: "Asia/Tokyo".into(),
        currency: "JPY".into(),
        sizes: sizes.iter().map(|s| s.code().to_string()).collect(),
        prices,
        policy_summary,
        icc_profiles: match kind {
            SiteKind::Lab => vec!["Frontier LP7700 lustre".into(), "DNP DS620 glossy".into()],
            _ => vec![],
        },
        last_heartbeat: Utc::now(),
        heartbeat_interval_secs: 10,
        version: env!("CARGO_PKG_VERSION").to_string(),
        opening_hours: vec![
            OpeningHours {
                days: "mon-fri".into(),
                opens: "10:00".into(),
                closes: "20:00".into(),
            },
            OpeningHours {
                days: "sat,sun".into(),
                opens: "10:00".into(),
                closes: "18:00".into(),
            },
        ],
        health: Some(SiteHealth::default()),
        printer: None,
        transport_hours,
    }
}

/// What a site's consumer loop does with a message: a lab dispatches the order to its counter,
/// a counter and the gateway only take it.
#[derive(Clone)]
struct Handler {
    kind: SiteKind,
    site: SiteId,
    js: jetstream::Context,
    legs: Legs,
}

impl Handler {
    async fn handle(&self, m: jetstream::Message) {
        let _ = m.ack_with(AckKind::Ack).await;
        if let Some(id) = message_id(&m) {
            self.legs.acked(&id);
        }
        let placed = matches!(
            Subject::parse(m.subject.as_str()),
            Ok(Subject::Inbox {
                topic: Topic::OrderPlaced,
                ..
            })
        );
        if self.kind == SiteKind::Lab && placed {
            match serde_json::from_slice::<OrderPlaced>(&m.payload) {
                Ok(order) => {
                    if let Err(e) = self.dispatch(&order).await {
                        eprintln!(
                            "scale: {} cannot dispatch {}: {e:#}",
                            self.site, order.order
                        );
                    }
                }
                Err(e) => eprintln!("scale: {}: unreadable order: {e}", self.site),
            }
        }
    }

    /// The lab's `DeliveryDispatched` for `order` (its reception and file extract, the charge
    /// of the seed's demo lab), to the order's delivery counter.
    async fn dispatch(&self, order: &OrderPlaced) -> anyhow::Result<()> {
        let m = dispatched(&self.site, order)?;
        self.legs.started(&m.message_id);
        publish(&self.js, m).await
    }
}

fn dispatched(lab: &SiteId, order: &OrderPlaced) -> anyhow::Result<OutboxMessage> {
    let now = Utc::now();
    let rules = SiteRules::demo_lab(order.lab.clone());
    let items: Vec<OrderItem> = order
        .items
        .iter()
        .map(|i| OrderItem {
            image: i.image,
            name: i.name.clone(),
            size: i.size,
            quantity: i.quantity,
        })
        .collect();
    let charge = reprint_domain::determine_charge(&rules, &UserFile::default(), &items, &[], now)
        .map_err(|e| anyhow::anyhow!("charge: {e}"))?;
    let reception = Reception {
        number: ReceptionNumber::foreign("B0001234"),
        order: order.order,
        route: order.route,
        received_at: now,
        data_receive: order.data_receive,
        partner: order.delivery_counter.clone(),
        items,
        charge,
        partner_charge: None,
        estimated_finish: Some(now + chrono::Duration::hours(20)),
        state: ReceptionState::Open,
    };
    let telephone = Telephone::parse(&order.customer.telephone)
        .map_err(|e| anyhow::anyhow!("telephone: {e}"))?;
    let body = DeliveryDispatched {
        order: order.order,
        lab: order.lab.clone(),
        counter: order.delivery_counter.clone(),
        dispatched_at: now,
        extract: reprint_domain::extract::FileExtract {
            from_site: order.lab.clone(),
            from_kind: reprint_domain::SiteKind::Lab,
            registration_number: RegistrationNumber::foreign("A0004321"),
            name: order.customer.name.clone(),
            telephone,
            address: None,
            email: None,
            reception,
            other_receptions: vec![],
            other_counter: None,
        },
        customer: order.customer.clone(),
        counter_reception: None,
        counter_registration_number: None,
    };
    let to = Address::counter(site_id(order.delivery_counter.as_str())?);
    Ok(message::to_inbox(lab.as_str(), to, &body, None, None)?)
}

/// The gateway's `OrderPlaced` of one L print and one 2L print, to `lab`, for collection at
/// `counter`.
fn placed(gateway: &SiteId, lab: &SiteId, counter: &SiteId) -> anyhow::Result<OutboxMessage> {
    let now = Utc::now();
    let order = OrderId::parse(&uuid::Uuid::now_v7().to_string())
        .map_err(|e| anyhow::anyhow!("order id: {e}"))?;
    let item = |n: u8, size| PlacedItem {
        image: ImageId::of_bytes(&[n; 32]),
        name: format!("IMG_{n:04}.JPG"),
        size,
        quantity: 2,
        edits: None,
        perceptual_hash: Some(0x9c3a_5e71_0f2d_4b68),
        history: vec![],
    };
    let body = OrderPlaced {
        order,
        route: Route::Internet,
        sender: Sender::Gateway(domain_site(gateway)?),
        lab: domain_site(lab)?,
        delivery_counter: domain_site(counter)?,
        placed_at: now,
        data_receive: Some(reprint_domain::file::DataReceive {
            start: now,
            finish: now + chrono::Duration::seconds(20),
        }),
        currency: reprint_domain::Currency::JPY,
        customer: Customer {
            name: "Yamada Hanako".into(),
            telephone: "03-1234-5678".into(),
            address: None,
            email: Some("hanako@example.jp".into()),
            registration_number: None,
        },
        items: vec![item(1, PrintSize::L), item(2, PrintSize::L2)],
        counter_extract: None,
        digital_copy: false,
        counter_registration_number: None,
        source_profiles: vec![],
    };
    Ok(message::to_inbox(
        gateway.as_str(),
        Address::lab(lab.clone()),
        &body,
        None,
        None,
    )?)
}

/// Reads a consumer the way `reprint_bus::consumer` does: one pull request of at most
/// its batch size of messages expiring after [`PULL_WAIT`], then the next.
fn pull_loop(consumer: PullConsumer, handler: Handler) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match consumer
                .batch()
                .max_messages(loop_defaults().batch_size)
                .expires(PULL_WAIT)
                .messages()
                .await
            {
                Ok(mut batch) => {
                    while let Some(m) = batch.next().await {
                        if let Ok(m) = m {
                            handler.handle(m).await;
                        }
                    }
                }
                Err(_) => tokio::time::sleep(PULL_WAIT).await,
            }
        }
    })
}

/// The consumer loop's lag reporter: the consumer's info every `lag_interval`.
fn lag_loop(consumer: PullConsumer) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(loop_defaults().lag_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let _ = consumer.get_info().await;
        }
    })
}

/// Starts one site as its service does: connect, provision, announce (heartbeat), inbox
/// consumer and its loops.
async fn start_site(
    url: String,
    id: SiteId,
    kind: SiteKind,
    n: usize,
    labs: Vec<SiteId>,
    heartbeat: Duration,
    legs: Legs,
) -> anyhow::Result<Started> {
    let t = Instant::now();
    let settings = ConnectSettings::new(url, format!("reprint-{kind}@{id}"))
        .with_inbox_prefix(site_inbox_prefix(id.as_str()));
    let conn = connect_and_wait(&settings, Duration::from_secs(30)).await?;
    let js = conn.jetstream.clone();
    let p = Instant::now();
    let backbone = reprint_bus::provision(&js, &ProvisionSettings::default()).await?;
    if kind == SiteKind::Lab {
        reprint_bus::print::provision_print_stream(&js, &ProvisionSettings::default().streams)
            .await?;
    }
    let provision_ms = p.elapsed().as_secs_f64() * 1000.0;
    let heartbeat = (kind != SiteKind::Gateway).then(|| {
        backbone
            .directory
            .start_heartbeat(announcement(&id, kind, n, &labs), heartbeat)
    });
    let c = Instant::now();
    let durable = streams::durable_consumer_for(&id, kind);
    let inbox = streams::ensure_consumer(&js, &durable).await?;
    let consumer_ms = c.elapsed().as_secs_f64() * 1000.0;
    let handler = Handler {
        kind,
        site: id.clone(),
        js: js.clone(),
        legs,
    };
    let mut tasks = vec![pull_loop(inbox.clone(), handler.clone()), lag_loop(inbox)];
    if kind == SiteKind::Gateway {
        let status = streams::ensure_consumer(
            &js,
            &streams::status_consumer_for(&id, &streams::ConsumerSettings::default()),
        )
        .await?;
        tasks.push(pull_loop(status.clone(), handler));
        tasks.push(lag_loop(status));
    }
    Ok(Started {
        site: Site {
            id,
            js,
            heartbeat,
            tasks,
        },
        start_ms: t.elapsed().as_secs_f64() * 1000.0,
        provision_ms,
        consumer_ms,
    })
}

/// Starts `ids` (kind `kind`, numbered from `first`), `concurrency` at a time.
#[allow(clippy::too_many_arguments)]
async fn start_sites(
    url: &str,
    ids: Vec<SiteId>,
    kind: SiteKind,
    first: usize,
    labs: &[SiteId],
    heartbeat: Duration,
    legs: &Legs,
    concurrency: usize,
) -> anyhow::Result<Vec<Started>> {
    let starts = ids.into_iter().enumerate().map(|(i, id)| {
        start_site(
            url.to_string(),
            id,
            kind,
            first + i,
            labs.to_vec(),
            heartbeat,
            legs.clone(),
        )
    });
    let mut out = Vec::new();
    let mut stream = futures::stream::iter(starts).buffer_unordered(concurrency.max(1));
    while let Some(s) = stream.next().await {
        out.push(s?);
    }
    Ok(out)
}

// ------------------------------------------------------------------ measurements

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Raw JetStream round trips on a stream and consumer of their own: publish (ack awaited),
/// the pull request of the consumer loop takes it, ack; milliseconds, sorted.
async fn raw_round_trips(js: &jetstream::Context, n: usize) -> anyhow::Result<Vec<f64>> {
    let name = "BENCH_SCALE_RTT";
    let _ = js.delete_stream(name).await;
    let stream = js
        .create_stream(jetstream::stream::Config {
            name: name.into(),
            subjects: vec!["bench.scale.rtt".into()],
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .context("rtt stream")?;
    let consumer: PullConsumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("rtt".into()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .context("rtt consumer")?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let reader = tokio::spawn(async move {
        loop {
            if let Ok(mut batch) = consumer
                .batch()
                .max_messages(loop_defaults().batch_size)
                .expires(PULL_WAIT)
                .messages()
                .await
            {
                while let Some(Ok(m)) = batch.next().await {
                    let _ = m.ack_with(AckKind::Ack).await;
                    let _ = tx.send(Instant::now());
                }
            }
        }
    });
    let payload = Bytes::from(vec![7u8; 1500]);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        js.publish("bench.scale.rtt", payload.clone())
            .await?
            .await?;
        let acked = tokio::time::timeout(LEG_TIMEOUT, rx.recv())
            .await
            .context("rtt: no message within 20 s")?
            .context("rtt reader ended")?;
        out.push(acked.duration_since(start).as_secs_f64() * 1000.0);
    }
    reader.abort();
    let _ = js.delete_stream(name).await;
    Ok(sorted(out))
}

/// A site's read of the whole directory.
struct DirectoryRead {
    list_ms: f64,
    watch_ms: f64,
    entries: usize,
    bytes: usize,
}

/// A site's read of the whole directory at its start, from a connection of its own: open the
/// bucket, then `Directory::list` (timed), then one `Directory::watch` until every site listed
/// was seen (timed).
async fn read_directory(url: &str) -> anyhow::Result<DirectoryRead> {
    let settings = ConnectSettings::new(url, "reprint-bench@directory-reader")
        .with_inbox_prefix(site_inbox_prefix("directory-reader"));
    let conn = connect_and_wait(&settings, Duration::from_secs(30)).await?;
    let directory = Directory::open(&conn.jetstream, 1).await?;
    let t = Instant::now();
    let entries = directory.list().await?;
    let list_ms = t.elapsed().as_secs_f64() * 1000.0;
    let bytes = entries
        .iter()
        .map(|e| serde_json::to_vec(&e.site).map(|v| v.len()).unwrap_or(0))
        .sum();
    let t = Instant::now();
    let mut seen = std::collections::HashSet::new();
    let mut watch = Box::pin(directory.watch().await?);
    while seen.len() < entries.len() {
        match tokio::time::timeout(LEG_TIMEOUT, watch.next()).await {
            Ok(Some(Ok(reprint_bus::directory::DirectoryChange::Announced(e)))) => {
                seen.insert(e.site.id.clone());
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => bail!(
                "the directory watch saw {} of {} sites",
                seen.len(),
                entries.len()
            ),
        }
    }
    let watch_ms = t.elapsed().as_secs_f64() * 1000.0;
    Ok(DirectoryRead {
        list_ms,
        watch_ms,
        entries: entries.len(),
        bytes,
    })
}

/// Waits until the directory holds `n` entries (the heartbeats' first writes are under way).
async fn wait_for_entries(js: &jetstream::Context, n: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut s = js
            .get_stream(format!("KV_{}", reprint_bus::directory::BUCKET))
            .await?;
        let info = s.info().await?;
        if info.state.subjects_count as usize >= n {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "the directory holds {} entries, not {n}, after 60 s",
                info.state.subjects_count
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One step's figures.
#[derive(Debug, Clone, Default)]
struct Step {
    counters: usize,
    rss_mb: f64,
    js_storage_kb: f64,
    js_memory_kb: f64,
    streams: f64,
    consumers: f64,
    subscriptions: f64,
    connections: f64,
    idle_cpu_pct: f64,
    idle_msgs_per_s: f64,
    directory_entries: f64,
    directory_kb: f64,
    directory_list_ms: f64,
    directory_watch_ms: f64,
    consumer_ms: f64,
    start_ms: f64,
    placed_p50: f64,
    placed_p99: f64,
    dispatched_p50: f64,
    dispatched_p99: f64,
}

async fn run_async(args: ScaleArgs, steps: Vec<usize>, report: &mut Report) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let (server, which) = Server::start()?;
    note(t0, &format!("nats-server {which} on {}", server.url()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = server.rss_mb();
    let url = server.url();
    let legs = Legs::default();

    // The bench's own connection: the raw baseline.
    let bench = connect_and_wait(
        &ConnectSettings::new(url.clone(), "reprint-bench@scale"),
        Duration::from_secs(30),
    )
    .await?;
    let rtt = raw_round_trips(&bench.jetstream, args.rtt_samples).await?;
    let (rtt_p50, rtt_p99) = (percentile(&rtt, 50.0), percentile(&rtt, 99.0));
    note(
        t0,
        &format!(
            "raw publish -> pull -> ack: p50 {rtt_p50:.2} ms, p99 {rtt_p99:.2} ms ({} samples)",
            rtt.len()
        ),
    );

    let heartbeat = Duration::from_secs(args.heartbeat_secs.max(1));
    let lab_ids: Vec<SiteId> = (1..=args.labs)
        .map(|i| site_id(&format!("lab-{i:02}")))
        .collect::<anyhow::Result<_>>()?;
    let gateway = site_id("gw-1")?;
    let mut sites: Vec<Site> = Vec::new();
    for s in start_sites(
        &url,
        vec![gateway.clone()],
        SiteKind::Gateway,
        0,
        &lab_ids,
        heartbeat,
        &legs,
        1,
    )
    .await?
    {
        sites.push(s.site);
    }
    for s in start_sites(
        &url,
        lab_ids.clone(),
        SiteKind::Lab,
        0,
        &lab_ids,
        heartbeat,
        &legs,
        args.start_concurrency,
    )
    .await?
    {
        sites.push(s.site);
    }
    note(t0, &format!("{} labs and the gateway up", args.labs));
    let gateway_js = sites
        .iter()
        .find(|s| s.id == gateway)
        .map(|s| s.js.clone())
        .context("the gateway")?;

    let mut counters: Vec<SiteId> = Vec::new();
    let mut results: Vec<Step> = Vec::new();
    let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
    for &target in &steps {
        // The step's new counters.
        let new: Vec<SiteId> = (counters.len() + 1..=target)
            .map(|i| site_id(&format!("counter-{i:04}")))
            .collect::<anyhow::Result<_>>()?;
        let first = counters.len();
        let t_step = Instant::now();
        let started = start_sites(
            &url,
            new.clone(),
            SiteKind::Counter,
            first,
            &lab_ids,
            heartbeat,
            &legs,
            args.start_concurrency,
        )
        .await?;
        let consumer_ms = mean(&started.iter().map(|s| s.consumer_ms).collect::<Vec<_>>());
        let start_ms = mean(&started.iter().map(|s| s.start_ms).collect::<Vec<_>>());
        let provision_ms = mean(&started.iter().map(|s| s.provision_ms).collect::<Vec<_>>());
        sites.extend(started.into_iter().map(|s| s.site));
        counters.extend(new);
        note(
            t0,
            &format!(
                "{target} counters up ({} started in {:.1} s: {start_ms:.1} ms per site, of it provisioning {provision_ms:.1} ms and the consumer {consumer_ms:.1} ms)",
                target - first,
                t_step.elapsed().as_secs_f64()
            ),
        );
        wait_for_entries(&bench.jetstream, args.labs + target).await?;
        // Settle: the new sites' first pull requests and heartbeats are out.
        tokio::time::sleep(Duration::from_secs(2)).await;

        // Idle: what the sites cost the server with no order flowing.
        let varz0 = server.monitoring("varz").await?;
        let cpu0 = server.cpu_secs();
        let t_idle = Instant::now();
        tokio::time::sleep(Duration::from_secs(args.idle_secs.max(1))).await;
        let idle = t_idle.elapsed().as_secs_f64();
        let cpu1 = server.cpu_secs();
        let varz1 = server.monitoring("varz").await?;
        let in_msgs = |v: &Value| v["in_msgs"].as_f64().unwrap_or(0.0);
        let jsz = server.monitoring("jsz").await?;

        let (mut lists, mut watches) = (Vec::new(), Vec::new());
        let (mut entries, mut bytes) = (0, 0);
        for _ in 0..3 {
            let read = read_directory(&url).await?;
            lists.push(read.list_ms);
            watches.push(read.watch_ms);
            (entries, bytes) = (read.entries, read.bytes);
        }
        let (lists, watches) = (sorted(lists), sorted(watches));

        // Orders, one at a time: labs in turn, counters at random among those up.
        let (mut to_lab, mut to_counter) = (Vec::new(), Vec::new());
        for i in 0..args.orders {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let lab = &lab_ids[i % lab_ids.len()];
            let counter = &counters[(rng % counters.len() as u64) as usize];
            let m = placed(&gateway, lab, counter)?;
            let order = m
                .message_id
                .split(':')
                .nth(1)
                .unwrap_or_default()
                .to_string();
            let first_leg = legs.expect(&m.message_id);
            let second_leg = legs.expect(&format!("{lab}:{order}:delivery-dispatched"));
            legs.started(&m.message_id);
            publish(&gateway_js, m).await?;
            to_lab.push(
                tokio::time::timeout(LEG_TIMEOUT, first_leg)
                    .await
                    .with_context(|| format!("order {i}: {lab} did not take it within 20 s"))?
                    .context("leg dropped")?,
            );
            to_counter.push(
                tokio::time::timeout(LEG_TIMEOUT, second_leg)
                    .await
                    .with_context(|| format!("order {i}: {counter} did not take it within 20 s"))?
                    .context("leg dropped")?,
            );
        }
        let (to_lab, to_counter) = (sorted(to_lab), sorted(to_counter));
        let step = Step {
            counters: target,
            rss_mb: server.rss_mb(),
            js_storage_kb: jsz["storage"].as_f64().unwrap_or(0.0) / 1024.0,
            js_memory_kb: jsz["memory"].as_f64().unwrap_or(0.0) / 1024.0,
            streams: jsz["streams"].as_f64().unwrap_or(0.0),
            consumers: jsz["consumers"].as_f64().unwrap_or(0.0),
            subscriptions: varz1["subscriptions"].as_f64().unwrap_or(0.0),
            connections: varz1["connections"].as_f64().unwrap_or(0.0),
            idle_cpu_pct: (cpu1 - cpu0) / idle * 100.0,
            idle_msgs_per_s: (in_msgs(&varz1) - in_msgs(&varz0)) / idle,
            directory_entries: entries as f64,
            directory_kb: bytes as f64 / 1024.0,
            directory_list_ms: lists[0],
            directory_watch_ms: watches[0],
            consumer_ms,
            start_ms,
            placed_p50: percentile(&to_lab, 50.0),
            placed_p99: percentile(&to_lab, 99.0),
            dispatched_p50: percentile(&to_counter, 50.0),
            dispatched_p99: percentile(&to_counter, 99.0),
        };
        note(
            t0,
            &format!(
                "c{target}: {} orders; to the lab p50 {:.2} / p99 {:.2} ms, to the counter p50 {:.2} / p99 {:.2} ms",
                args.orders,
                step.placed_p50,
                step.placed_p99,
                step.dispatched_p50,
                step.dispatched_p99
            ),
        );
        results.push(step);
    }

    // The figures, each step beside the first (the first beside the raw part).
    let Some(base) = results.first().cloned() else {
        return Ok(());
    };
    for s in &results {
        let c = s.counters;
        let first = c == base.counters;
        let or_base = |raw: f64, at_base: f64| if first { raw } else { at_base };
        let f = |name: &str, value: f64, unit: &str, baseline: f64| {
            Figure::new(format!("scale.{name}.c{c}"), value, unit, baseline)
        };
        report.push(f(
            "order.to_lab_ms.p50",
            s.placed_p50,
            "ms",
            or_base(rtt_p50, base.placed_p50),
        ));
        report.push(f(
            "order.to_lab_ms.p99",
            s.placed_p99,
            "ms",
            or_base(rtt_p99, base.placed_p99),
        ));
        report.push(f(
            "order.to_counter_ms.p50",
            s.dispatched_p50,
            "ms",
            or_base(rtt_p50, base.dispatched_p50),
        ));
        report.push(f(
            "order.to_counter_ms.p99",
            s.dispatched_p99,
            "ms",
            or_base(rtt_p99, base.dispatched_p99),
        ));
        report.push(f("nats.rss_mb", s.rss_mb, "MiB", idle_rss));
        report.push(f(
            "nats.js_storage_kb",
            s.js_storage_kb,
            "KiB",
            base.js_storage_kb,
        ));
        report.push(f(
            "nats.js_memory_kb",
            s.js_memory_kb,
            "KiB",
            base.js_memory_kb,
        ));
        report.push(f("nats.streams", s.streams, "streams", base.streams));
        report.push(f(
            "nats.consumers",
            s.consumers,
            "consumers",
            base.consumers,
        ));
        report.push(f(
            "nats.subscriptions",
            s.subscriptions,
            "subs",
            base.subscriptions,
        ));
        report.push(f(
            "nats.connections",
            s.connections,
            "conns",
            base.connections,
        ));
        report.push(f(
            "nats.idle_cpu_pct",
            s.idle_cpu_pct,
            "% of core",
            base.idle_cpu_pct,
        ));
        report.push(f(
            "nats.idle_msgs_per_s",
            s.idle_msgs_per_s,
            "msgs/s",
            base.idle_msgs_per_s,
        ));
        report.push(f(
            "directory.entries",
            s.directory_entries,
            "entries",
            base.directory_entries,
        ));
        report.push(f("directory.kb", s.directory_kb, "KiB", base.directory_kb));
        report.push(f(
            "directory.list_ms",
            s.directory_list_ms,
            "ms",
            base.directory_list_ms,
        ));
        report.push(f(
            "directory.watch_ms",
            s.directory_watch_ms,
            "ms",
            s.directory_list_ms,
        ));
        report.push(f(
            "consumer.create_ms",
            s.consumer_ms,
            "ms",
            base.consumer_ms,
        ));
        report.push(f("site.start_ms", s.start_ms, "ms", base.start_ms));
    }
    if let Some(last) = results.last()
        && results.len() > 1
    {
        let sites_ratio = (last.counters + args.labs) as f64 / (base.counters + args.labs) as f64;
        eprintln!(
            "\nwhat grows from {} to {} counters ({sites_ratio:.1}x the sites):",
            base.counters, last.counters
        );
        let grows = [
            ("consumers on the server", base.consumers, last.consumers),
            ("subscriptions", base.subscriptions, last.subscriptions),
            ("nats-server RSS (MiB)", base.rss_mb, last.rss_mb),
            (
                "idle nats-server CPU (%)",
                base.idle_cpu_pct,
                last.idle_cpu_pct,
            ),
            (
                "idle messages/s",
                base.idle_msgs_per_s,
                last.idle_msgs_per_s,
            ),
            ("directory (KiB)", base.directory_kb, last.directory_kb),
            (
                "directory list (ms)",
                base.directory_list_ms,
                last.directory_list_ms,
            ),
            (
                "directory watch (ms)",
                base.directory_watch_ms,
                last.directory_watch_ms,
            ),
            ("consumer creation (ms)", base.consumer_ms, last.consumer_ms),
            (
                "order to the lab, p50 (ms)",
                base.placed_p50,
                last.placed_p50,
            ),
            (
                "order to the counter, p50 (ms)",
                base.dispatched_p50,
                last.dispatched_p50,
            ),
            (
                "order to the counter, p99 (ms)",
                base.dispatched_p99,
                last.dispatched_p99,
            ),
            ("streams", base.streams, last.streams),
        ];
        for (what, from, to) in grows {
            let ratio = if from > 0.0 { to / from } else { f64::NAN };
            eprintln!("  {what:<32} {from:>10.1} -> {to:>10.1}  ({ratio:.1}x)");
        }
    }
    // Stop the heartbeats before the server goes (their last write would only warn).
    for s in &mut sites {
        if let Some(h) = s.heartbeat.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), h.stop(false)).await;
        }
    }
    drop(sites);
    note(t0, "done");
    drop(server);
    Ok(())
}
