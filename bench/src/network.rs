//! `reprint-bench network`: N home users' orders through the whole network on this machine —
//! the gateway, the lab `lab-a` and the counter `counter-ginza` as separate processes (the
//! reprint-e2e harness, release binaries when the bench is a release build) on a private
//! nats-server, the lab and the gateway on PostgreSQL (`--sqlite`: SQLite), the counter on its
//! embedded SQLite.
//!
//! The bench plays every person of Fig. 1 over HTTP, concurrently: home users (`--users`)
//! create an order, reserve storage, upload one photo and submit it at the gateway
//! (`--concurrency` orders in flight, `--rate` orders/s offered, 0 = as fast as they go); the
//! lab operator polls the lab's queue and prints, finishes and dispatches each reception; the
//! counter staff poll the arrivals and collect each ready order in cash.
//!
//! | figure | value | baseline |
//! |---|---|---|
//! | `network.orders_per_s` | N / (first submit sent .. last collection answered) | the NATS messages the N orders caused (last sequence of every non-KV stream) published raw to one stream on the same server, pipelined: N / that time |
//! | `network.p50_placed_to_recorded_ms`, `network.p99_...` | gateway timeline: `placed` (gateway) → `received` (the lab's StatusChanged time) | raw JetStream publish → pull-consumer delivery on the same server, one message at a time, p50 / p99 |
//! | `network.p99_dispatched_to_ready_ms` | timeline: `dispatched` (lab) → `ready_for_pickup` (counter) | the same raw round trip, p99 |
//! | `network.peak_rss_mb.<service>` | VmHWM of the service process at the end | its VmRSS idle right after start |
//! | `network.full.cpu_ms_per_order.<process>` | CPU (user + system) of the process from the first submit to the last collection, per order | – |
//!
//! `--intake-only`: no operator, no counter staff, nothing printed: the orders are placed and
//! the run ends when the lab's `received` status of every order is out and every consumer of
//! the network's streams has handled and acknowledged all its messages (so the gateway holds
//! every slip and status).
//!
//! | figure | value | baseline |
//! |---|---|---|
//! | `network.intake_orders_per_s` | N / (first submit sent .. every order recorded at the lab and back at the gateway) | the messages the N orders caused, published raw as above: N / that time |
//! | `network.cpu_ms_per_order.<process>` | CPU of `gateway`, `lab`, `counter`, `nats-server` and `postgres` in that window, per order; `total` their sum | – |
//! | `network.intake.p50_placed_to_recorded_ms`, `.p99_...` | as above, during the intake run | the raw JetStream round trip |
//!
//! `postgres` is the CPU of the PostgreSQL backends connected to the run's two private
//! databases (pids from `pg_stat_activity` at the start and the end, CPU from `/proc`); the
//! server's shared background processes (WAL writer, checkpointer) serve other work on a shared
//! machine too and are noted beside it, not counted. The note also gives, per database,
//! transactions and rows written per order (`pg_stat_database`), and with
//! `REPRINT_E2E_LOG=info,sqlx::query=debug` the SQL statements per order each service ran (its
//! log's `sqlx::query` lines).
//!
//! `--chaos`: while the orders flow, every part (each service, the print workers, the
//! nats-server or a cluster node, a private PostgreSQL) is killed with SIGKILL at least once
//! and started again on the same data (`crate::chaos`); at the end, once quiet, every order must have
//! reached exactly one final state with each stage once on its timeline, one reception per
//! order at the lab and at the counter, and the lab's ledger per counter must balance with its
//! receptions and the counter's payments and settlements. The counts are printed; a loss or a
//! double is reported, not hidden (the command then fails).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use async_nats::jetstream;
use futures::StreamExt;
use reprint_e2e::{COUNTER, Client, LAB, Network, Options};
use serde_json::{Value, json};

use crate::report::{Figure, Report, percentile, sorted};

/// Flags of `reprint-bench network`.
#[derive(clap::Args, Debug, Clone)]
pub struct NetworkArgs {
    /// Orders placed, printed, dispatched and collected.
    #[arg(long, default_value_t = 150)]
    pub orders: usize,
    /// Orders being placed at the same time (HTTP requests in flight at the gateway).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Orders per second offered at the gateway; 0: as fast as `--concurrency` allows.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Home user accounts the orders are spread over.
    #[arg(long, default_value_t = 8)]
    pub users: usize,
    /// The lab and the gateway on SQLite instead of PostgreSQL.
    #[arg(long)]
    pub sqlite: bool,
    /// Kill a random service (SIGKILL) every few seconds and restart it; check the books.
    #[arg(long)]
    pub chaos: bool,
    /// Seconds between kills under `--chaos`.
    #[arg(long, default_value_t = 2)]
    pub chaos_every: u64,
    /// NATS as a 3-node cluster (`deploy/nats/cluster-node*.conf`, streams with 3 replicas);
    /// under `--chaos` one node at a time is killed.
    #[arg(long)]
    pub cluster: bool,
    /// Print workers as their own processes (`reprint-lab print-worker`, one worker each); the
    /// lab then runs none itself. 0: the lab's own (`[printing] workers`, default 1).
    #[arg(long, default_value_t = 0)]
    pub print_workers: usize,
    /// Place the orders and stop once each is recorded at the lab and back at the gateway: no
    /// operator, no counter staff, nothing printed (`network.intake_orders_per_s`).
    #[arg(long)]
    pub intake_only: bool,
    /// Raw JetStream round trips measured for the latency baseline.
    #[arg(long, default_value_t = 500)]
    pub rtt_samples: usize,
}

pub fn run(args: NetworkArgs, report: &mut Report) -> anyhow::Result<()> {
    if !cfg!(debug_assertions) {
        reprint_e2e::use_release_binaries();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(args, report))
}

// ------------------------------------------------------------------ helpers

fn note(t0: Instant, what: &str) {
    eprintln!("network [{:>7.2} s] {what}", t0.elapsed().as_secs_f64());
}

/// A request, retried while the service is unreachable or failing (a restart under chaos):
/// status 0 (no answer), 5xx or 429; for at most `secs` seconds.
async fn retry<F, Fut>(secs: u64, mut f: F) -> (u16, Value)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = (u16, Value)>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut wait = 50;
    loop {
        let (s, v) = f().await;
        if (s != 0 && s < 500 && s != 429) || Instant::now() > deadline {
            return (s, v);
        }
        tokio::time::sleep(Duration::from_millis(wait)).await;
        wait = (wait * 2).min(1000);
    }
}

fn proc_status_kb(pid: u32, key: &str) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
}

/// CPU seconds (user + system) a process used so far (`/proc/<pid>/stat`, 100 ticks/s).
fn cpu_secs(pid: Option<u32>) -> f64 {
    let Some(pid) = pid else { return 0.0 };
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name in parentheses: state is field 3, utime 14, stime 15.
    let rest = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

/// The nats-server of this run: the process whose command line has `-p <port of url>`.
fn nats_server_pid(url: &str) -> Option<u32> {
    let port = url.rsplit(':').next()?.as_bytes().to_vec();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmd.split(|b| *b == 0).collect();
        if args.first().is_some_and(|a| a.ends_with(b"nats-server"))
            && args
                .windows(2)
                .any(|w| w[0] == b"-p" && w[1] == port.as_slice())
        {
            return Some(pid);
        }
    }
    None
}

/// The CPU of the run's processes at one moment, and PostgreSQL's counters of its databases.
#[derive(Default, Clone)]
struct CpuMark {
    /// gateway, lab, counter, nats-server: CPU seconds so far.
    procs: BTreeMap<&'static str, f64>,
    /// Backends connected to the run's databases: pid -> CPU seconds so far.
    pg: HashMap<u32, f64>,
    /// The server's background processes (WAL writer, checkpointer, ...).
    pg_background: HashMap<u32, f64>,
    /// Per database: transactions (commit + rollback), rows written (insert + update + delete).
    pg_stats: BTreeMap<String, (i64, i64)>,
}

/// Reads a [`CpuMark`]; `databases` are the run's private PostgreSQL databases (none on SQLite).
async fn cpu_mark(net: &Network, nats: Option<u32>, databases: &[String]) -> CpuMark {
    let mut mark = CpuMark::default();
    mark.procs.insert("gateway", cpu_secs(net.gateway.pid()));
    mark.procs.insert("lab", cpu_secs(net.lab.pid()));
    mark.procs.insert("counter", cpu_secs(net.counter.pid()));
    mark.procs.insert("nats-server", cpu_secs(nats));
    if databases.is_empty() {
        return mark;
    }
    let admin = reprint_testkit::postgres::admin_url();
    let Ok(pool) = sqlx::PgPool::connect(&admin).await else {
        return mark;
    };
    let dbs = databases.to_vec();
    let rows: Vec<(i32, bool)> = sqlx::query_as(
        "SELECT pid, coalesce(datname = ANY($1), false) FROM pg_stat_activity \
         WHERE datname = ANY($1) OR backend_type <> 'client backend'",
    )
    .bind(&dbs)
    .fetch_all(&pool)
    .await
    .unwrap_or_default();
    for (pid, ours) in rows {
        let pid = pid as u32;
        let cpu = cpu_secs(Some(pid));
        if ours {
            mark.pg.insert(pid, cpu);
        } else {
            mark.pg_background.insert(pid, cpu);
        }
    }
    let stats: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT datname::text, xact_commit + xact_rollback, tup_inserted + tup_updated + tup_deleted \
         FROM pg_stat_database WHERE datname = ANY($1)",
    )
    .bind(&dbs)
    .fetch_all(&pool)
    .await
    .unwrap_or_default();
    for (db, xacts, rows) in stats {
        mark.pg_stats.insert(db, (xacts, rows));
    }
    pool.close().await;
    mark
}

/// CPU seconds each process used between two marks: gateway, lab, counter, nats-server,
/// postgres (the run's backends: a backend that started in between counts whole, one that
/// ended in between is lost), and the server's background processes apart.
fn cpu_used(before: &CpuMark, after: &CpuMark) -> (BTreeMap<&'static str, f64>, f64) {
    let mut used: BTreeMap<&'static str, f64> = after
        .procs
        .iter()
        .map(|(k, v)| (*k, v - before.procs.get(k).copied().unwrap_or(0.0)))
        .collect();
    let delta = |b: &HashMap<u32, f64>, a: &HashMap<u32, f64>| -> f64 {
        a.iter()
            .map(|(pid, v)| v - b.get(pid).copied().unwrap_or(0.0))
            .sum()
    };
    used.insert("postgres", delta(&before.pg, &after.pg));
    (used, delta(&before.pg_background, &after.pg_background))
}

/// Pushes `<prefix>.<process>` and `<prefix>.total`: CPU milliseconds per order.
fn push_cpu_figures(
    report: &mut Report,
    prefix: &str,
    used: &BTreeMap<&'static str, f64>,
    orders: usize,
) {
    let n = orders.max(1) as f64;
    for (process, secs) in used {
        report.push(Figure::new(
            format!("{prefix}.{process}"),
            secs * 1000.0 / n,
            "ms (lower)",
            0.0,
        ));
    }
    report.push(Figure::new(
        format!("{prefix}.total"),
        used.values().sum::<f64>() * 1000.0 / n,
        "ms (lower)",
        0.0,
    ));
}

/// Notes per order: PostgreSQL transactions and rows written per database, and the SQL
/// statements each service logged (`sqlx::query` lines, present when the services log at
/// `sqlx::query=debug`).
fn note_sql_per_order(
    t0: Instant,
    net: &Network,
    before: &CpuMark,
    after: &CpuMark,
    names: &[(&str, String)],
    orders: usize,
    logged_before: &BTreeMap<&'static str, usize>,
) {
    let n = orders.max(1) as f64;
    for (who, db) in names {
        let (Some(b), Some(a)) = (before.pg_stats.get(db), after.pg_stats.get(db)) else {
            continue;
        };
        note(
            t0,
            &format!(
                "{who} database: {:.1} transactions and {:.1} rows written per order",
                (a.0 - b.0) as f64 / n,
                (a.1 - b.1) as f64 / n
            ),
        );
    }
    let logged = sql_logged(net);
    if logged.values().any(|v| *v > 0) {
        let per: Vec<String> = logged
            .iter()
            .map(|(k, v)| {
                let was = logged_before.get(k).copied().unwrap_or(0);
                format!("{k} {:.1}", v.saturating_sub(was) as f64 / n)
            })
            .collect();
        note(
            t0,
            &format!(
                "SQL statements per order (sqlx::query log lines): {}",
                per.join(", ")
            ),
        );
    }
}

/// `sqlx::query` lines in each service's log so far.
fn sql_logged(net: &Network) -> BTreeMap<&'static str, usize> {
    [
        ("gateway", &net.gateway),
        ("lab", &net.lab),
        ("counter", &net.counter),
    ]
    .into_iter()
    .map(|(k, s)| {
        let text = std::fs::read_to_string(&s.log).unwrap_or_default();
        (k, text.matches("sqlx::query").count())
    })
    .collect()
}

/// Every consumer of the network's streams has handled and acknowledged all it was given.
async fn consumers_drained(js: &jetstream::Context) -> anyhow::Result<bool> {
    let mut names = js.stream_names();
    while let Some(name) = names.next().await {
        let name = name.map_err(|e| anyhow::anyhow!("{e}"))?;
        if name.starts_with("KV_") || name.starts_with("BENCH_") || name.starts_with("OBJ_") {
            continue;
        }
        let stream = js.get_stream(&name).await?;
        let mut consumers = stream.consumers();
        while let Some(info) = consumers.next().await {
            let info = info.map_err(|e| anyhow::anyhow!("{e}"))?;
            if info.num_pending > 0 || info.num_ack_pending > 0 {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// A cheap random number (no generator state needed for picking a victim).
fn random(n: usize) -> usize {
    (uuid::Uuid::new_v4().as_u128() % n as u128) as usize
}

async fn login(base: &str, who: (&str, &str)) -> anyhow::Result<Client> {
    let mut c = Client::new(base);
    let (s, v) = retry(60, || async {
        c.post("/api/v1/login", &json!({"name": who.0, "password": who.1}))
            .await
    })
    .await;
    if s != 200 {
        bail!("log-in at {base}: {s} {v}");
    }
    c.csrf = v["csrf_token"].as_str().map(str::to_string);
    Ok(c)
}

// ------------------------------------------------------------------ the people

/// What the run saw, shared by the people's tasks.
#[derive(Default)]
struct Seen {
    /// Submitted orders and the index of the user who placed each.
    placed: Mutex<Vec<(String, usize)>>,
    dispatched: Mutex<HashSet<String>>,
    /// Order id -> when its collection was answered.
    collected: Mutex<HashMap<String, Instant>>,
    /// Receptions the lab operator rejected or found cancelled.
    rejected: Mutex<HashSet<String>>,
    /// Orders whose placement failed at some step, with why.
    failed: Mutex<Vec<String>>,
    placing_done: std::sync::atomic::AtomicBool,
    http_retries: AtomicUsize,
}

/// A home user places order `i`: new order, storage, one photo, submit (idempotent).
async fn place(
    user: &Client,
    owner: usize,
    i: usize,
    photo: Vec<u8>,
    seen: &Seen,
) -> anyhow::Result<String> {
    let (s, created) = retry(120, || async {
        user.post("/api/v1/orders", &json!({})).await
    })
    .await;
    if s != 201 {
        bail!("new order: {s} {created}");
    }
    let order = created["order"].as_str().context("order id")?.to_string();
    let (s, r) = retry(120, || async {
        user.put(
            &format!("/api/v1/orders/{order}/storage"),
            &json!({"bytes": photo.len() + 1024}),
        )
        .await
    })
    .await;
    if s != 200 {
        bail!("storage of {order}: {s} {r}");
    }
    let (s, up) = retry(120, || async {
        user.put_bytes(
            &format!("/api/v1/orders/{order}/images?name=p{i}.jpg"),
            photo.clone(),
        )
        .await
    })
    .await;
    if s != 201 && s != 200 {
        bail!("upload to {order}: {s} {up}");
    }
    let image = up["image"].as_str().context("image id")?.to_string();
    let req = json!({
        "lab": LAB, "counter": COUNTER,
        "items": [{"image": image, "size": "L", "quantity": 1}],
    });
    let key = format!("submit-{order}");
    let (s, v) = retry(120, || async {
        user.post_with(
            &format!("/api/v1/orders/{order}/submit"),
            &req,
            &[("Idempotency-Key", &key)],
        )
        .await
    })
    .await;
    if s != 200 {
        bail!("submit {order}: {s} {v}");
    }
    seen.placed.lock().unwrap().push((order.clone(), owner));
    Ok(order)
}

/// The lab operator's remaining actions for a reception in `state`.
fn lab_actions(state: &str) -> &'static [&'static str] {
    match state {
        "received" => &["start-printing", "finished", "dispatch"],
        "printing" => &["finished", "dispatch"],
        "printed" => &["dispatch"],
        _ => &[],
    }
}

/// The operator takes one reception from `state` to dispatched; tolerant of a previous
/// attempt that went through unanswered (409: look at the state and go on from there).
async fn lab_take(
    op: &Client,
    number: &str,
    order: &str,
    state: &str,
    seen: &Seen,
    hot: &std::path::Path,
) {
    let mut state = state.to_string();
    for _ in 0..10 {
        let actions = lab_actions(&state);
        if actions.is_empty() {
            break;
        }
        let mut moved = true;
        for action in actions {
            if *action == "finished" {
                // The station prints a job once a print worker has written it: the operator
                // finishes the reception when its job folder is in the hot folder.
                written(hot, number).await;
            }
            let (s, row) = retry(120, || async {
                op.post(
                    &format!("/api/v1/receptions/{number}/{action}"),
                    &Value::Null,
                )
                .await
            })
            .await;
            if s != 200 {
                seen.http_retries.fetch_add(1, Ordering::Relaxed);
                let (_, view) = retry(120, || async {
                    op.get(&format!("/api/v1/receptions/{number}")).await
                })
                .await;
                state = view["production"]["state"]
                    .as_str()
                    .unwrap_or("received")
                    .to_string();
                moved = false;
                let _ = row;
                break;
            }
        }
        if moved {
            state = "dispatched".into();
            break;
        }
    }
    match state.as_str() {
        "dispatched" | "collected" | "settled" => {
            seen.dispatched.lock().unwrap().insert(order.to_string());
        }
        "rejected" | "cancelled" => {
            seen.rejected.lock().unwrap().insert(order.to_string());
        }
        _ => {}
    }
}

/// Waits (120 s at most) until a job folder of reception `number` is in one of the printers'
/// hot folders under `hot`.
async fn written(hot: &std::path::Path, number: &str) {
    let prefix = format!("{number}-");
    let until = Instant::now() + Duration::from_secs(120);
    while Instant::now() < until {
        let found = std::fs::read_dir(hot)
            .into_iter()
            .flatten()
            .flatten()
            .any(|printer| {
                std::fs::read_dir(printer.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            });
        if found {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The lab operator: poll the queue, take everything received (or left half-way) to
/// dispatch, until every placed order is dispatched or rejected.
async fn lab_operator(
    base: String,
    seen: Arc<Seen>,
    deadline: Instant,
    parallel: usize,
    hot: std::path::PathBuf,
) -> anyhow::Result<()> {
    let mut op = login(&base, reprint_e2e::LAB_OPERATOR).await?;
    loop {
        let done = {
            let placed = seen.placed.lock().unwrap().len();
            let dispatched = seen.dispatched.lock().unwrap().len();
            let rejected = seen.rejected.lock().unwrap().len();
            seen.placing_done.load(Ordering::SeqCst) && dispatched + rejected >= placed
        };
        if done || Instant::now() > deadline {
            return Ok(());
        }
        let mut work = Vec::new();
        for state in ["received", "printing", "printed"] {
            let (s, v) = retry(120, || async {
                op.get(&format!("/api/v1/receptions?state={state}")).await
            })
            .await;
            if s == 401 {
                op = login(&base, reprint_e2e::LAB_OPERATOR).await?;
                continue;
            }
            for r in v[0]["receptions"].as_array().cloned().unwrap_or_default() {
                if r["counter"] == COUNTER {
                    work.push((
                        r["reception_number"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        r["order_id"].as_str().unwrap_or_default().to_string(),
                        state,
                    ));
                }
            }
        }
        if work.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let op = &op;
        let seen = &seen;
        let hot = &hot;
        futures::stream::iter(work)
            .for_each_concurrent(parallel, |(number, order, state)| async move {
                lab_take(op, &number, &order, state, seen, hot).await;
            })
            .await;
    }
}

/// The counter staff: poll the arrivals, collect every ready order in cash.
async fn counter_staff(
    base: String,
    seen: Arc<Seen>,
    deadline: Instant,
    parallel: usize,
) -> anyhow::Result<()> {
    let mut staff = login(&base, reprint_e2e::COUNTER_STAFF).await?;
    loop {
        let done = {
            let placed = seen.placed.lock().unwrap().len();
            let collected = seen.collected.lock().unwrap().len();
            let rejected = seen.rejected.lock().unwrap().len();
            seen.placing_done.load(Ordering::SeqCst) && collected + rejected >= placed
        };
        if done || Instant::now() > deadline {
            return Ok(());
        }
        let (s, v) = retry(120, || async { staff.get("/api/v1/arrivals").await }).await;
        if s == 401 {
            staff = login(&base, reprint_e2e::COUNTER_STAFF).await?;
            continue;
        }
        let ready: Vec<(String, String)> = v["ready"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|o| {
                (
                    o["reception_number"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    o["order"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        if ready.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let staff = &staff;
        let seen = &seen;
        futures::stream::iter(ready)
            .for_each_concurrent(parallel, |(number, order)| async move {
                let (s, view) = retry(120, || async {
                    staff.get(&format!("/api/v1/pickups/{number}")).await
                })
                .await;
                let Some(due) = view["amount_due"].as_i64().filter(|_| s == 200) else {
                    return;
                };
                let (s, _) = retry(120, || async {
                    staff
                        .post(
                            &format!("/api/v1/pickups/{number}/collect"),
                            &json!({"method": "cash", "tendered": due}),
                        )
                        .await
                })
                .await;
                // 409: collected already (an earlier attempt went through unanswered).
                if s == 200 || s == 409 {
                    seen.collected
                        .lock()
                        .unwrap()
                        .entry(order)
                        .or_insert_with(Instant::now);
                }
            })
            .await;
    }
}

// ------------------------------------------------------------------ raw baselines

/// Raw JetStream round trips: publish one message (ack awaited) and receive it from a pull
/// consumer, one at a time; milliseconds, sorted.
async fn raw_round_trips(js: &jetstream::Context, n: usize) -> anyhow::Result<Vec<f64>> {
    let name = "BENCH_NET_RTT";
    let _ = js.delete_stream(name).await;
    let stream = js
        .create_stream(jetstream::stream::Config {
            name: name.into(),
            subjects: vec!["bench.net.rtt".into()],
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .context("rtt stream")?;
    let consumer: jetstream::consumer::PullConsumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("rtt".into()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .context("rtt consumer")?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let payload = vec![7u8; 600];
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        js.publish("bench.net.rtt", payload.clone().into())
            .await?
            .await?;
        let m = messages
            .next()
            .await
            .context("rtt message")?
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        out.push(start.elapsed().as_secs_f64() * 1000.0);
        m.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    drop(messages);
    let _ = js.delete_stream(name).await;
    Ok(sorted(out))
}

/// Messages the services published: the last sequence of every stream but the key-value
/// buckets (site directory heartbeats) and the bench's own.
async fn network_messages(js: &jetstream::Context) -> anyhow::Result<(u64, BTreeMap<String, u64>)> {
    let mut names = js.stream_names();
    let mut per = BTreeMap::new();
    while let Some(name) = names.next().await {
        let name = name.map_err(|e| anyhow::anyhow!("{e}"))?;
        if name.starts_with("KV_") || name.starts_with("BENCH_") {
            continue;
        }
        let mut s = js.get_stream(&name).await?;
        let info = s.info().await?;
        per.insert(name, info.state.last_sequence);
    }
    Ok((per.values().sum(), per))
}

/// The same number of messages published raw into one stream, pipelined in windows of 256;
/// seconds.
async fn raw_publish(js: &jetstream::Context, n: u64) -> anyhow::Result<f64> {
    let name = "BENCH_NET_RAW";
    let _ = js.delete_stream(name).await;
    js.create_stream(jetstream::stream::Config {
        name: name.into(),
        subjects: vec!["bench.net.raw".into()],
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await?;
    let payload = vec![7u8; 600];
    let start = Instant::now();
    let mut sent = 0;
    while sent < n {
        let mut acks = Vec::new();
        for _ in 0..256.min(n - sent) {
            let publish = jetstream::message::PublishMessage::build()
                .payload(payload.clone().into())
                .message_id(uuid::Uuid::now_v7().to_string());
            acks.push(js.send_publish("bench.net.raw", publish).await?);
            sent += 1;
        }
        for a in acks {
            a.await?;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let _ = js.delete_stream(name).await;
    Ok(secs)
}

// ------------------------------------------------------------------ the run

async fn run_async(args: NetworkArgs, report: &mut Report) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let backend = if args.sqlite { "sqlite" } else { "pg" };
    let mut chaos = crate::chaos::Chaos::start(&args, t0).await;
    let (lab_db, gw_db) = if args.sqlite {
        (None, None)
    } else {
        (Some(chaos.database().await?), Some(chaos.database().await?))
    };
    let workers = args.print_workers;
    let mut net = Network::start_with(Options {
        lab_store_url: lab_db.as_ref().map(|d| d.url.clone()),
        gateway_store_url: gw_db.as_ref().map(|d| d.url.clone()),
        lab_config: (workers > 0).then(|| -> reprint_e2e::ConfigEdit {
            Box::new(|lab| reprint_e2e::set(lab, &["printing", "workers"], 0))
        }),
        ..chaos.options()
    })
    .await;
    // The print workers as processes: the lab's configuration and NATS, nothing else.
    let mut worker_procs = Vec::new();
    for n in 0..workers {
        worker_procs.push(chaos.print_worker(&net, n)?);
    }
    note(
        t0,
        &format!(
            "network up (lab and gateway on {backend}; logs in {})",
            net.dir.path().display()
        ),
    );
    let idle_rss: Vec<(String, f64)> = [&net.lab, &net.counter, &net.gateway]
        .iter()
        .map(|s| {
            let kb = s
                .pid()
                .and_then(|p| proc_status_kb(p, "VmRSS:"))
                .unwrap_or(0.0);
            (short_name(&s.name).to_string(), kb / 1024.0)
        })
        .collect();

    let nats = chaos.nats_client(&net.nats_url).await?;
    let js = jetstream::new(nats.clone());
    let rtt = raw_round_trips(&js, args.rtt_samples).await?;
    note(
        t0,
        &format!(
            "raw JetStream round trip: p50 {:.2} ms, p99 {:.2} ms ({} samples)",
            percentile(&rtt, 50.0),
            percentile(&rtt, 99.0),
            rtt.len()
        ),
    );

    // The people.
    let mut users = Vec::new();
    for u in 0..args.users.max(1) {
        let c = net
            .home_user(
                &format!("bench{u}@example.jp"),
                &format!("Bench User {u}"),
                "03-1234-5678",
            )
            .await;
        users.push(Arc::new(c));
    }
    let photos: Vec<Vec<u8>> = (0..args.orders)
        .map(|i| reprint_e2e::media::photo_jpeg(1000 + i as u32, 400, 300, 85))
        .collect();
    note(
        t0,
        &format!(
            "{} users signed up, {} photos made",
            users.len(),
            photos.len()
        ),
    );

    // The lab's `received` statuses as they go out (core NATS sees what JetStream stores).
    let received: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut statuses = nats
        .subscribe(format!("reprint.v1.status.{LAB}.*"))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let watcher = {
        let received = received.clone();
        tokio::spawn(async move {
            while let Some(m) = statuses.next().await {
                let Ok(v) = serde_json::from_slice::<Value>(&m.payload) else {
                    continue;
                };
                if matches!(v["stage"].as_str(), Some("received" | "rejected"))
                    && let Some(order) = v["order"].as_str()
                {
                    received.lock().unwrap().insert(order.to_string());
                }
            }
        })
    };
    let nats_pid = nats_server_pid(&net.nats_url);
    let databases: Vec<(&str, String)> = [("lab", lab_db.as_ref()), ("gateway", gw_db.as_ref())]
        .into_iter()
        .filter_map(|(who, db)| db.map(|d| (who, d.name.clone())))
        .collect();
    let db_names: Vec<String> = databases.iter().map(|d| d.1.clone()).collect();
    let logged_before = sql_logged(&net);
    let mark_before = cpu_mark(&net, nats_pid, &db_names).await;
    let seen = Arc::new(Seen::default());
    let deadline = Instant::now() + Duration::from_secs(if args.chaos { 900 } else { 600 });
    let (lab, counter) = if args.intake_only {
        (
            tokio::spawn(async { anyhow::Ok(()) }),
            tokio::spawn(async { anyhow::Ok(()) }),
        )
    } else {
        (
            tokio::spawn(lab_operator(
                net.lab.base(),
                seen.clone(),
                deadline,
                8,
                net.dir.path().join("lab-a/hot"),
            )),
            tokio::spawn(counter_staff(net.counter.base(), seen.clone(), deadline, 8)),
        )
    };
    let started = Instant::now();
    let placing = {
        let seen = seen.clone();
        let users = users.clone();
        let rate = args.rate;
        let concurrency = args.concurrency.max(1);
        tokio::spawn(async move {
            futures::stream::iter(photos.into_iter().enumerate())
                .for_each_concurrent(concurrency, |(i, photo)| {
                    let seen = seen.clone();
                    let owner = i % users.len();
                    let user = users[owner].clone();
                    async move {
                        if rate > 0.0 {
                            let at = started + Duration::from_secs_f64(i as f64 / rate);
                            tokio::time::sleep_until(at.into()).await;
                        }
                        if let Err(e) = place(&user, owner, i, photo, &seen).await {
                            seen.failed
                                .lock()
                                .unwrap()
                                .push(format!("order {i}: {e:#}"));
                        }
                    }
                })
                .await;
            seen.placing_done.store(true, Ordering::SeqCst);
        })
    };

    // Chaos: kill and restart a part every few seconds while the orders flow (crate::chaos).
    let mut last_progress = Instant::now();
    let mut intake_done: Option<Instant> = None;
    loop {
        if args.intake_only && placing.is_finished() {
            // Every placed order's `received` is out; then the consumers (the gateway's among
            // them) have handled all of it.
            let all = {
                let received = received.lock().unwrap();
                seen.placed
                    .lock()
                    .unwrap()
                    .iter()
                    .all(|(o, _)| received.contains(o))
            };
            if all && consumers_drained(&js).await? {
                intake_done = Some(Instant::now());
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "intake: not every order recorded in time (logs in {})",
                    net.dir.path().display()
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        if lab.is_finished() && counter.is_finished() && placing.is_finished() {
            break;
        }
        let tick = if args.intake_only {
            Duration::from_millis(5)
        } else if args.chaos {
            Duration::from_millis(
                args.chaos_every * 1000 / 2 + random(args.chaos_every as usize * 1000) as u64,
            )
        } else {
            Duration::from_secs(2)
        };
        tokio::time::sleep(tick).await;
        chaos
            .strike(&mut net, &mut worker_procs, placing.is_finished(), t0)
            .await?;
        if last_progress.elapsed() > Duration::from_secs(5) {
            last_progress = Instant::now();
            note(
                t0,
                &format!(
                    "placed {}, dispatched {}, collected {}, rejected {}, failed {}",
                    seen.placed.lock().unwrap().len(),
                    seen.dispatched.lock().unwrap().len(),
                    seen.collected.lock().unwrap().len(),
                    seen.rejected.lock().unwrap().len(),
                    seen.failed.lock().unwrap().len()
                ),
            );
        }
    }
    placing.await?;
    lab.await??;
    counter.await??;
    let placed_by: Vec<(String, usize)> = seen.placed.lock().unwrap().clone();
    let placed: Vec<String> = placed_by.iter().map(|p| p.0.clone()).collect();
    let collected = seen.collected.lock().unwrap().clone();
    let last = collected
        .values()
        .max()
        .copied()
        .unwrap_or_else(Instant::now);
    let last = intake_done.unwrap_or(last);
    let elapsed = last.duration_since(started).as_secs_f64();
    let mark_after = cpu_mark(&net, nats_pid, &db_names).await;
    watcher.abort();
    let failed = seen.failed.lock().unwrap().clone();
    let mut cpu_used_per_process = BTreeMap::new();
    if !args.chaos {
        let (used, background) = cpu_used(&mark_before, &mark_after);
        let cpu: Vec<String> = used
            .iter()
            .map(|(process, used)| {
                format!(
                    "{process} {used:.1} s ({:.0} % of one core)",
                    100.0 * used / elapsed
                )
            })
            .collect();
        note(
            t0,
            &format!(
                "CPU during the orders ({elapsed:.1} s, 2 cores): {}; PostgreSQL's background processes {background:.1} s (shared with other work, not counted)",
                cpu.join(", ")
            ),
        );
        cpu_used_per_process = used;
    }
    note(
        t0,
        &format!(
            "{} placed, {} {} in {elapsed:.1} s; {} placements failed",
            placed.len(),
            if args.intake_only {
                received.lock().unwrap().len()
            } else {
                collected.len()
            },
            if args.intake_only {
                "recorded"
            } else {
                "collected"
            },
            failed.len()
        ),
    );
    for f in failed.iter().take(5) {
        note(t0, &format!("  failed: {f}"));
    }
    if !args.chaos && !args.intake_only && collected.len() < args.orders {
        bail!(
            "only {} of {} orders collected (see the logs in {})",
            collected.len(),
            args.orders,
            net.dir.path().display()
        );
    }

    // The timelines, once the gateway heard every order's collection.
    let quiet = Instant::now();
    let views = timelines(&users, &placed_by, args.chaos, args.intake_only).await;
    note(
        t0,
        &format!("timelines read in {:.1} s", quiet.elapsed().as_secs_f64()),
    );
    let mut recorded = Vec::new();
    let mut ready = Vec::new();
    for v in views.values() {
        let at = |stage: &str| -> Option<i64> {
            v["timeline"].as_array()?.iter().find_map(|t| {
                (t["stage"] == stage)
                    .then(|| {
                        chrono::DateTime::parse_from_rfc3339(t["at"].as_str()?)
                            .ok()
                            .map(|d| d.timestamp_millis())
                    })
                    .flatten()
            })
        };
        if let (Some(p), Some(r)) = (at("placed"), at("received")) {
            recorded.push((r - p) as f64);
        }
        if let (Some(d), Some(r)) = (at("dispatched"), at("ready_for_pickup")) {
            ready.push((r - d) as f64);
        }
    }
    let recorded = sorted(recorded);
    let ready = sorted(ready);

    let (messages, per_stream) = network_messages(&js).await?;
    note(
        t0,
        &format!(
            "{messages} messages on the network's streams ({:.1} per order): {per_stream:?}",
            messages as f64 / placed.len().max(1) as f64
        ),
    );
    note_sql_per_order(
        t0,
        &net,
        &mark_before,
        &cpu_mark(&net, nats_pid, &db_names).await,
        &databases,
        placed.len(),
        &logged_before,
    );
    let raw_secs = raw_publish(&js, messages).await?;
    if args.intake_only {
        let n = received.lock().unwrap().len() as f64;
        report.push(Figure::new(
            "network.intake_orders_per_s",
            n / elapsed,
            "orders/s",
            placed.len() as f64 / raw_secs,
        ));
        push_cpu_figures(
            report,
            "network.cpu_ms_per_order",
            &cpu_used_per_process,
            placed.len(),
        );
        report.push(Figure::new(
            "network.intake.p50_placed_to_recorded_ms",
            percentile(&recorded, 50.0),
            "ms (lower)",
            percentile(&rtt, 50.0),
        ));
        report.push(Figure::new(
            "network.intake.p99_placed_to_recorded_ms",
            percentile(&recorded, 99.0),
            "ms (lower)",
            percentile(&rtt, 99.0),
        ));
        note(
            t0,
            &format!(
                "p50/p90/p99/max placed->recorded {:.0}/{:.0}/{:.0}/{:.0} ms ({} samples)",
                percentile(&recorded, 50.0),
                percentile(&recorded, 90.0),
                percentile(&recorded, 99.0),
                percentile(&recorded, 100.0),
                recorded.len()
            ),
        );
        drop(net);
        drop((lab_db, gw_db));
        return Ok(());
    }
    if !args.chaos {
        push_cpu_figures(
            report,
            "network.full.cpu_ms_per_order",
            &cpu_used_per_process,
            placed.len(),
        );
    }
    let n = collected.len() as f64;
    report.push(Figure::new(
        "network.orders_per_s",
        n / elapsed,
        "orders/s",
        placed.len() as f64 / raw_secs,
    ));
    if workers > 0 {
        // The same figure named by the print worker processes that wrote the hot folders.
        report.push(Figure::new(
            format!("network.orders_per_s.print_workers_{workers}"),
            n / elapsed,
            "orders/s",
            placed.len() as f64 / raw_secs,
        ));
        let cpu: Vec<String> = worker_procs
            .iter()
            .map(|c| format!("{:.1} s", cpu_secs(Some(c.id()))))
            .collect();
        note(
            t0,
            &format!("print worker processes' CPU: {}", cpu.join(", ")),
        );
    }
    report.push(Figure::new(
        "network.p50_placed_to_recorded_ms",
        percentile(&recorded, 50.0),
        "ms (lower)",
        percentile(&rtt, 50.0),
    ));
    report.push(Figure::new(
        "network.p99_placed_to_recorded_ms",
        percentile(&recorded, 99.0),
        "ms (lower)",
        percentile(&rtt, 99.0),
    ));
    report.push(Figure::new(
        "network.p99_dispatched_to_ready_ms",
        percentile(&ready, 99.0),
        "ms (lower)",
        percentile(&rtt, 99.0),
    ));
    for (svc, idle) in &idle_rss {
        let s = match svc.as_str() {
            "lab" => &net.lab,
            "counter" => &net.counter,
            _ => &net.gateway,
        };
        let hwm = s
            .pid()
            .and_then(|p| proc_status_kb(p, "VmHWM:"))
            .unwrap_or(0.0)
            / 1024.0;
        report.push(Figure::new(
            format!("network.peak_rss_mb.{svc}"),
            hwm,
            "MB",
            *idle,
        ));
    }
    note(
        t0,
        &format!(
            "p50/p90/p99/max placed->recorded {:.0}/{:.0}/{:.0}/{:.0} ms; dispatched->ready p50/p99/max {:.0}/{:.0}/{:.0} ms ({} / {} samples)",
            percentile(&recorded, 50.0),
            percentile(&recorded, 90.0),
            percentile(&recorded, 99.0),
            percentile(&recorded, 100.0),
            percentile(&ready, 50.0),
            percentile(&ready, 99.0),
            percentile(&ready, 100.0),
            recorded.len(),
            ready.len()
        ),
    );

    // What the services' logs say about messages they could not handle.
    for svc in [&net.lab, &net.counter, &net.gateway] {
        let text = std::fs::read_to_string(&svc.log).unwrap_or_default();
        let parked = text.matches("parking message").count();
        let retried = text.matches("retrying later").count();
        let nul = text.matches("invalid byte sequence").count();
        if parked + retried > 0 {
            note(
                t0,
                &format!(
                    "{}: {parked} messages parked, {retried} deliveries retried ({nul} of them 'invalid byte sequence' from the database)",
                    svc.name
                ),
            );
        }
    }

    if args.chaos {
        let ok = crate::network_chaos::check(
            &net,
            &views,
            &placed,
            &seen_summary(&seen),
            lab_db.as_ref(),
            &chaos,
            report,
            t0,
        )
        .await?;
        if !ok {
            bail!("chaos: the books do not balance (see above)");
        }
    }
    for mut c in worker_procs {
        let _ = c.kill();
        let _ = c.wait();
    }
    drop(net);
    drop((lab_db, gw_db));
    Ok(())
}

fn short_name(service: &str) -> &str {
    match service {
        "lab-a" => "lab",
        "counter-ginza" => "counter",
        other => other,
    }
}

/// Counts the people saw, for the chaos report.
pub struct SeenSummary {
    pub placed: usize,
    pub dispatched: usize,
    pub collected: usize,
    pub rejected: usize,
    pub failed: usize,
}

fn seen_summary(seen: &Seen) -> SeenSummary {
    SeenSummary {
        placed: seen.placed.lock().unwrap().len(),
        dispatched: seen.dispatched.lock().unwrap().len(),
        collected: seen.collected.lock().unwrap().len(),
        rejected: seen.rejected.lock().unwrap().len(),
        failed: seen.failed.lock().unwrap().len(),
    }
}

/// The stages every finished order passes (`settled` comes later, when the lab confirms the
/// counter's periodic statement: not within a run).
pub const CHAOS_STAGES: [&str; 7] = [
    "placed",
    "received",
    "printing",
    "printed",
    "dispatched",
    "ready_for_pickup",
    "collected",
];

/// Every placed order's view on the gateway, once its timeline reached a final stage
/// (collected, settled, rejected, cancelled) or 60 s passed; with `all_stages` (chaos), once
/// every stage of a finished order is on its timeline, or 150 s passed; with `intake_only`, once
/// it is received (or refused).
async fn timelines(
    users: &[Arc<Client>],
    placed: &[(String, usize)],
    all_stages: bool,
    intake_only: bool,
) -> BTreeMap<String, Value> {
    let out = Arc::new(Mutex::new(BTreeMap::new()));
    let deadline = Instant::now() + Duration::from_secs(if all_stages { 150 } else { 60 });
    futures::stream::iter(placed.iter().cloned())
        .for_each_concurrent(16, |(order, owner)| {
            let out = out.clone();
            async move {
                let u = &users[owner];
                loop {
                    let (_, last) = retry(60, || async {
                        u.get(&format!("/api/v1/orders/{order}")).await
                    })
                    .await;
                    let stages = reprint_e2e::timeline_stages(&last);
                    let has = |want: &[&str]| want.iter().any(|w| stages.iter().any(|s| s == w));
                    let final_ = if all_stages {
                        // Quiet: every stage of a finished order heard (redeliveries after a
                        // kill come after the consumers' ack wait), or the order refused.
                        has(&["rejected", "cancelled"]) || CHAOS_STAGES.iter().all(|w| has(&[w]))
                    } else if intake_only {
                        has(&["received", "rejected", "cancelled"])
                    } else {
                        has(&["collected", "settled", "rejected", "cancelled"])
                    };
                    if final_ || Instant::now() > deadline {
                        out.lock().unwrap().insert(order, last);
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        })
        .await;
    Arc::try_unwrap(out)
        .map(|m| m.into_inner().unwrap())
        .unwrap_or_default()
}
