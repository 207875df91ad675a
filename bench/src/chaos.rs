//! `reprint-bench network --chaos`: every part of the network killed with SIGKILL at least once
//! while the orders flow, and started again on the same data.
//!
//! The parts: the gateway, the lab, the counter, the print worker processes (with
//! `--print-workers`), the nats-server (with `--cluster`: one of the three cluster nodes, from
//! `deploy/nats/cluster-node*.conf`) and PostgreSQL. PostgreSQL is a private server for the run
//! ([`reprint_e2e::pg_server::PgServer`]: initdb into a temporary directory, its own port),
//! never the machine's shared one; its whole process group is killed (a crash) and it starts
//! again on the same data directory (crash recovery). Without PostgreSQL's server binaries
//! that part is left out, with a note saying what is missing.
//!
//! The schedule: the parts shuffled first, so that each is killed once, then random parts,
//! one kill every `--chaos-every` seconds on average (half to one and a half times it), while
//! orders are being placed, and past that until every part had its kill. Each part stays down
//! for 0.3 to 2 s, then is started again and waited for (a service's `/healthz`, NATS
//! accepting connections or the cluster node healthy with a meta leader, PostgreSQL ready).
//!
//! What the kills cost is read from the timelines afterwards ([`Chaos::waits`]): for every
//! order, the gap between two consecutive stages (placed, received, printing, printed,
//! dispatched, ready_for_pickup, collected, settled) that overlaps a kill's window (from the
//! SIGKILL to the part being back) is a wait because of that kill; the longest of those,
//! overall and per part, beside the longest gap between the same two stages that overlapped no
//! kill in the same run.
//!
//! | figure | value | baseline |
//! |---|---|---|
//! | `network.chaos.kills.<part>` | kills of the part in the run | 1 (each part at least once) |
//! | `network.chaos.longest_wait_ms` | the longest stage-to-stage gap of an order overlapping a kill | the longest gap between the same two stages overlapping no kill |
//! | `network.chaos.longest_wait_ms.<part>` | the same, for the kills of one part | the same |

use std::collections::{BTreeMap, VecDeque};
use std::fs::OpenOptions;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use reprint_e2e::cluster::NatsCluster;
use reprint_e2e::pg_server::PgServer;
use reprint_e2e::{Network, Options, TestPostgres, nats_users};
use serde_json::Value;

use crate::network::{CHAOS_STAGES, NetworkArgs};
use crate::report::{Figure, Report};

/// The user the bench's own raw measurements log in as on the cluster (added to the nodes'
/// copy of users.conf; the services log in as their shipped users).
const BENCH_USER: (&str, &str) = ("reprint-bench", "pw-bench-raw-baselines");

/// A part of the network that can be killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    Gateway,
    Lab,
    Counter,
    PrintWorker,
    Nats,
    NatsNode,
    Postgres,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::Gateway => "gateway",
            Part::Lab => "lab",
            Part::Counter => "counter",
            Part::PrintWorker => "print_worker",
            Part::Nats => "nats",
            Part::NatsNode => "nats_node",
            Part::Postgres => "postgres",
        }
    }
}

/// From the SIGKILL of a part until it was back.
#[derive(Clone, Debug)]
pub struct Window {
    pub part: Part,
    pub what: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A database of the lab or the gateway: on the run's private PostgreSQL under `--chaos`, else
/// a test database on the shared server (dropped with the handle).
pub struct Db {
    pub url: String,
    pub name: String,
    _shared: Option<TestPostgres>,
}

/// A cheap random number below `n` (no generator state needed for a schedule).
fn random(n: usize) -> usize {
    (uuid::Uuid::new_v4().as_u128() % n.max(1) as u128) as usize
}

fn note(t0: Instant, what: &str) {
    eprintln!("network [{:>7.2} s] {what}", t0.elapsed().as_secs_f64());
}

/// The run's NATS cluster and private PostgreSQL, and the chaos schedule with what it killed.
pub struct Chaos {
    on: bool,
    cluster: Option<NatsCluster>,
    pg: Option<PgServer>,
    parts: Vec<Part>,
    first_round: VecDeque<Part>,
    kills: BTreeMap<Part, usize>,
    windows: Vec<Window>,
    /// Environment of every service process (the NATS users on the cluster).
    env: Vec<(String, String)>,
    /// Parts left out, and why.
    pub notes: Vec<String>,
}

impl Chaos {
    /// Starts what the run needs before the network: the NATS cluster (`--cluster`) and,
    /// under `--chaos` with the lab and gateway on PostgreSQL, the private PostgreSQL.
    pub async fn start(args: &NetworkArgs, t0: Instant) -> Chaos {
        let mut notes = Vec::new();
        let pg = if args.chaos && !args.sqlite {
            match PgServer::start().await {
                Ok(pg) => {
                    note(
                        t0,
                        &format!(
                            "private PostgreSQL on port {} (log {})",
                            pg.port,
                            pg.log_path().display()
                        ),
                    );
                    Some(pg)
                }
                Err(e) => {
                    notes.push(format!(
                        "PostgreSQL is not killed in this run (the lab and gateway use the \
                         shared server, which is never restarted): {e}"
                    ));
                    None
                }
            }
        } else {
            None
        };
        let cluster = if args.cluster {
            let c = NatsCluster::start_with_user(BENCH_USER.0, BENCH_USER.1).await;
            note(
                t0,
                "3-node NATS cluster up (deploy/nats/cluster-node*.conf)",
            );
            Some(c)
        } else {
            None
        };
        let env = if cluster.is_some() {
            nats_users::service_env()
        } else {
            Vec::new()
        };
        let mut parts = vec![Part::Gateway, Part::Lab, Part::Counter];
        if args.print_workers > 0 {
            parts.push(Part::PrintWorker);
        }
        parts.push(if cluster.is_some() {
            Part::NatsNode
        } else {
            Part::Nats
        });
        if pg.is_some() {
            parts.push(Part::Postgres);
        }
        if args.sqlite && args.chaos {
            notes.push("PostgreSQL is not killed in this run: --sqlite".into());
        }
        // Fisher-Yates: the first round kills every part once, in a random order.
        let mut first: Vec<Part> = parts.clone();
        for i in (1..first.len()).rev() {
            first.swap(i, random(i + 1));
        }
        for n in &notes {
            note(t0, n);
        }
        Chaos {
            on: args.chaos,
            cluster,
            pg,
            parts,
            first_round: first.into(),
            kills: BTreeMap::new(),
            windows: Vec::new(),
            env,
            notes,
        }
    }

    /// The network's NATS (the cluster, its replicas and users) for [`Network::start_with`].
    pub fn options(&self) -> Options {
        match &self.cluster {
            Some(c) => Options {
                nats_url: Some(c.url()),
                replicas: Some(3),
                env: self.env.clone(),
                ..Options::default()
            },
            None => Options::default(),
        }
    }

    /// A database for the lab or the gateway.
    pub async fn database(&self) -> anyhow::Result<Db> {
        match &self.pg {
            Some(pg) => {
                let name = format!("reprint_chaos_{}", uuid::Uuid::new_v4().simple());
                let url = pg.create_database(&name).map_err(anyhow::Error::msg)?;
                Ok(Db {
                    url,
                    name,
                    _shared: None,
                })
            }
            None => {
                let t = TestPostgres::create().await;
                Ok(Db {
                    url: t.url.clone(),
                    name: t.name.clone(),
                    _shared: Some(t),
                })
            }
        }
    }

    /// The bench's own NATS connection (raw baselines, stream counts).
    pub async fn nats_client(&self, url: &str) -> anyhow::Result<async_nats::Client> {
        let opts = match &self.cluster {
            Some(_) => async_nats::ConnectOptions::with_user_and_password(
                BENCH_USER.0.into(),
                BENCH_USER.1.into(),
            ),
            None => async_nats::ConnectOptions::new(),
        };
        // Every server of a cluster's comma-separated URL (a `&str` is one address).
        let servers: Vec<&str> = url.split(',').map(str::trim).collect();
        opts.connect(servers).await.context("NATS")
    }

    /// Print worker process `n` (`reprint-lab print-worker`, one worker): the lab's
    /// configuration and the network's NATS, nothing else; its log appended to
    /// `print-worker-<n>.log`.
    pub fn print_worker(&self, net: &Network, n: usize) -> anyhow::Result<Child> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(net.dir.path().join(format!("print-worker-{n}.log")))?;
        Command::new(reprint_e2e::binaries().join("reprint-lab"))
            .arg("print-worker")
            .arg("--config")
            .arg(net.dir.path().join("lab-a.toml"))
            .arg("--workers")
            .arg("1")
            .env("REPRINT_LAB__NATS__URL", &net.nats_url)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("start reprint-lab print-worker")
    }

    /// Kills one part and starts it again, when chaos is on: the next of the first round, else
    /// a random part while orders are still being placed.
    pub async fn strike(
        &mut self,
        net: &mut Network,
        workers: &mut [Child],
        placing_done: bool,
        t0: Instant,
    ) -> anyhow::Result<()> {
        if !self.on {
            return Ok(());
        }
        let part = match self.first_round.pop_front() {
            Some(p) => p,
            None if placing_done => return Ok(()),
            None => self.parts[random(self.parts.len())],
        };
        let down = Duration::from_millis(300 + random(1700) as u64);
        let from = Utc::now();
        let what = match part {
            Part::Gateway | Part::Lab | Part::Counter => {
                let svc = match part {
                    Part::Gateway => &mut net.gateway,
                    Part::Lab => &mut net.lab,
                    _ => &mut net.counter,
                };
                svc.kill9();
                tokio::time::sleep(down).await;
                svc.start().await;
                svc.name.clone()
            }
            Part::PrintWorker => {
                let i = random(workers.len());
                let _ = workers[i].kill();
                let _ = workers[i].wait();
                tokio::time::sleep(down).await;
                workers[i] = self.print_worker(net, i)?;
                format!("print worker {i}")
            }
            Part::Nats => {
                net.nats_mut().stop();
                tokio::time::sleep(down).await;
                tokio::task::block_in_place(|| net.nats_mut().start_again());
                "nats-server".to_string()
            }
            Part::NatsNode => {
                let c = self.cluster.as_mut().context("the cluster")?;
                let i = random(3);
                c.kill(i);
                tokio::time::sleep(down).await;
                c.start_again(i).await;
                c.wait_meta_leader(i).await;
                format!("nats cluster node n{}", i + 1)
            }
            Part::Postgres => {
                let pg = self.pg.as_mut().context("the private PostgreSQL")?;
                tokio::task::block_in_place(|| pg.kill());
                tokio::time::sleep(down).await;
                pg.start_again().await.map_err(anyhow::Error::msg)?;
                "postgres".to_string()
            }
        };
        let to = Utc::now();
        note(
            t0,
            &format!(
                "chaos: SIGKILL {what}; down {:.1} s, back after {:.1} s",
                down.as_secs_f64(),
                (to - from).num_milliseconds() as f64 / 1000.0
            ),
        );
        *self.kills.entry(part).or_insert(0) += 1;
        self.windows.push(Window {
            part,
            what,
            from,
            to,
        });
        Ok(())
    }

    /// Copies the private PostgreSQL's log and the cluster nodes' log tails into `dir`.
    pub fn keep_logs(&self, dir: &std::path::Path) {
        if let Some(pg) = &self.pg {
            let _ = std::fs::copy(pg.log_path(), dir.join("postgres.log"));
        }
        if let Some(c) = &self.cluster {
            for i in 0..3 {
                let _ = std::fs::write(dir.join(format!("nats-n{}.log", i + 1)), c.log_tail(i));
            }
        }
    }

    /// Kills per part, by name (every part of the run, 0 for one never killed).
    pub fn kills(&self) -> BTreeMap<String, usize> {
        self.parts
            .iter()
            .map(|p| {
                (
                    p.name().to_string(),
                    self.kills.get(p).copied().unwrap_or(0),
                )
            })
            .collect()
    }

    /// The parts of the run never killed (the flow ended before their turn).
    pub fn spared(&self) -> Vec<&'static str> {
        self.parts
            .iter()
            .filter(|p| !self.kills.contains_key(p))
            .map(|p| p.name())
            .collect()
    }

    /// The kill figures and the longest wait an order had because of a kill (see the module
    /// document), pushed to `report`; the lines said through `say`.
    pub fn waits(&self, views: &BTreeMap<String, Value>, report: &mut Report, say: &dyn Fn(&str)) {
        for (part, n) in self.kills() {
            report.push(Figure::new(
                format!("network.chaos.kills.{part}"),
                n as f64,
                "kills",
                1.0,
            ));
        }
        let w = longest_waits(views, &self.windows);
        let base = |pair: &str| w.calm.get(pair).copied().unwrap_or(0) as f64;
        match &w.overall {
            Some(g) => {
                say(&format!(
                    "longest wait because of a kill: order {} waited {:.1} s from {} to {} across {}; the longest {} -> {} without a kill: {:.1} s",
                    g.order,
                    g.ms as f64 / 1000.0,
                    g.from_stage,
                    g.to_stage,
                    g.kills.join(", "),
                    g.from_stage,
                    g.to_stage,
                    base(&g.pair()) / 1000.0
                ));
                report.push(Figure::new(
                    "network.chaos.longest_wait_ms",
                    g.ms as f64,
                    "ms (lower)",
                    base(&g.pair()),
                ));
            }
            None => say("no order's stages overlapped a kill"),
        }
        for (part, g) in &w.per_part {
            say(&format!(
                "  {}: longest wait {:.1} s ({} -> {} of order {}; without a kill at most {:.1} s)",
                part.name(),
                g.ms as f64 / 1000.0,
                g.from_stage,
                g.to_stage,
                g.order,
                base(&g.pair()) / 1000.0
            ));
            report.push(Figure::new(
                format!("network.chaos.longest_wait_ms.{}", part.name()),
                g.ms as f64,
                "ms (lower)",
                base(&g.pair()),
            ));
        }
        let longest_down = self
            .windows
            .iter()
            .max_by_key(|w| w.to - w.from)
            .map(|w| {
                format!(
                    "{} {:.1} s",
                    w.what,
                    (w.to - w.from).num_milliseconds() as f64 / 1000.0
                )
            })
            .unwrap_or_default();
        say(&format!(
            "{} kills; longest time a part was away: {longest_down}",
            self.windows.len()
        ));
    }
}

/// One order's gap between two consecutive stages.
#[derive(Clone, Debug)]
pub struct Gap {
    pub order: String,
    pub from_stage: &'static str,
    pub to_stage: &'static str,
    pub ms: i64,
    /// The kills whose windows it overlaps.
    pub kills: Vec<String>,
}

impl Gap {
    fn pair(&self) -> String {
        format!("{}->{}", self.from_stage, self.to_stage)
    }
}

/// The longest gaps overlapping a kill, and the longest per stage pair overlapping none.
#[derive(Default, Debug)]
pub struct Waits {
    pub overall: Option<Gap>,
    pub per_part: BTreeMap<Part, Gap>,
    /// Stage pair (`placed->received`) -> longest gap overlapping no kill, ms.
    pub calm: BTreeMap<String, i64>,
}

/// The first time of each stage on an order's timeline.
fn stage_times(view: &Value) -> BTreeMap<&'static str, DateTime<Utc>> {
    let mut out = BTreeMap::new();
    for t in view["timeline"].as_array().into_iter().flatten() {
        let Some(stage) = CHAOS_STAGES.iter().find(|s| t["stage"] == **s) else {
            continue;
        };
        let Some(at) = t["at"]
            .as_str()
            .and_then(|a| DateTime::parse_from_rfc3339(a).ok())
        else {
            continue;
        };
        let at = at.with_timezone(&Utc);
        out.entry(*stage)
            .and_modify(|e: &mut DateTime<Utc>| *e = (*e).min(at))
            .or_insert(at);
    }
    out
}

/// Every order's consecutive-stage gaps against the kill windows.
pub fn longest_waits(views: &BTreeMap<String, Value>, windows: &[Window]) -> Waits {
    let mut w = Waits::default();
    for (order, view) in views {
        let times = stage_times(view);
        for pair in CHAOS_STAGES.windows(2) {
            let (Some(a), Some(b)) = (times.get(pair[0]), times.get(pair[1])) else {
                continue;
            };
            let hit: Vec<&Window> = windows
                .iter()
                .filter(|k| *a < k.to && *b > k.from)
                .collect();
            let gap = Gap {
                order: order.clone(),
                from_stage: pair[0],
                to_stage: pair[1],
                ms: (*b - *a).num_milliseconds(),
                kills: hit
                    .iter()
                    .map(|k| format!("{} at {}", k.what, k.from.format("%H:%M:%S%.3f")))
                    .collect(),
            };
            if hit.is_empty() {
                let calm = w.calm.entry(gap.pair()).or_insert(0);
                *calm = (*calm).max(gap.ms);
                continue;
            }
            for k in &hit {
                let e = w.per_part.entry(k.part).or_insert_with(|| gap.clone());
                if gap.ms > e.ms {
                    *e = gap.clone();
                }
            }
            if w.overall.as_ref().is_none_or(|o| gap.ms > o.ms) {
                w.overall = Some(gap);
            }
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_gap_across_a_kill_is_a_wait_and_the_same_gap_elsewhere_is_its_baseline() {
        let view = |placed: &str, received: &str| {
            json!({"timeline": [
                {"stage": "placed", "at": placed},
                {"stage": "received", "at": received},
                {"stage": "received", "at": "2026-12-05T10:00:59Z"},
            ]})
        };
        let mut views = BTreeMap::new();
        views.insert(
            "calm".to_string(),
            view("2026-12-05T10:00:00Z", "2026-12-05T10:00:00.200Z"),
        );
        views.insert(
            "hit".to_string(),
            view("2026-12-05T10:00:10Z", "2026-12-05T10:00:13.500Z"),
        );
        let windows = [Window {
            part: Part::Postgres,
            what: "postgres".into(),
            from: at("2026-12-05T10:00:11Z"),
            to: at("2026-12-05T10:00:12Z"),
        }];
        let w = longest_waits(&views, &windows);
        let g = w.overall.expect("a wait");
        assert_eq!((g.order.as_str(), g.ms), ("hit", 3500));
        assert_eq!(w.per_part[&Part::Postgres].ms, 3500);
        // The second `received` (later) is not the stage's time: the first one is.
        assert_eq!(w.calm["placed->received"], 200);
    }
}
