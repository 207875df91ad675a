//! The harness of the end-to-end tests: the lab, the counter and the gateway run as separate
//! processes (the binaries of this workspace) on a private `nats-server`, each with its own store
//! (SQLite files in a temporary directory, or a PostgreSQL database), and the tests drive them
//! through their HTTP JSON APIs the way a browser or a till would.
//!
//! - [`binaries`] finds `reprint-lab`, `reprint-counter` and `reprint-gateway` in the target
//!   directory (`$CARGO_TARGET_DIR/debug` or `target/debug`) and, when one is missing or a
//!   source file of `crates/` or `services/` is newer than it, runs `cargo build --bin ...` once
//!   per test process (`REPRINT_E2E_NO_BUILD=1`: never build when they are there).
//! - [`Network::start`] writes each service's configuration into a temporary directory, based on
//!   `deploy/local/*.toml` with free ports and the environment overrides
//!   (`REPRINT_LAB__NATS__URL`, `REPRINT_GATEWAY__STORE__URL`, ...), starts the processes with
//!   their logs in files, and waits for `/healthz` and for the sites in the site directory.
//! - [`Service::restart`] kills one service with SIGKILL and starts it again on the same data.
//! - [`pg_server::PgServer`] is a private PostgreSQL (initdb in a temporary directory) that can be
//!   killed and started again on its data, without touching the machine's shared server.
//! - Dropping the network stops every process (SIGTERM, then SIGKILL) and, when the test
//!   failed, prints the tail of each service's log.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use reprint_testkit::{NatsServer, TestPostgres};
use serde_json::Value;

pub mod cluster;
pub mod creds;
pub mod flows;
pub mod leaf;
pub mod media;
pub mod nats_users;
pub mod pg_server;

pub const LAB: &str = "lab-a";
pub const COUNTER: &str = "counter-ginza";
pub const LAB_OPERATOR: (&str, &str) = ("operator", "change-me");
pub const COUNTER_STAFF: (&str, &str) = ("tanaka", "counter-demo");

/// The root of the workspace.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

static RELEASE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Use (and build) the release binaries of the services (`<target>/release`, `cargo build
/// --release`) instead of the debug ones: for benchmarks. Call before the first network starts.
pub fn use_release_binaries() {
    RELEASE.store(true, std::sync::atomic::Ordering::SeqCst);
}

fn release() -> bool {
    RELEASE.load(std::sync::atomic::Ordering::SeqCst)
}

/// The directory holding the service binaries: `$CARGO_TARGET_DIR/debug` (or the workspace's
/// `target/debug`; `release` after [`use_release_binaries`]), else the directory the test
/// binary itself was built into.
fn binary_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let dir = target.join(if release() { "release" } else { "debug" });
    if dir.is_dir() {
        return dir;
    }
    // <target>/release/<bench binary>, beside the service binaries.
    if release()
        && let Some(exe_dir) = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
        && exe_dir.file_name().is_some_and(|n| n == "release")
    {
        return exe_dir;
    }
    // <target>/debug/deps/<test binary>
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent()?.parent().map(Path::to_path_buf))
        .unwrap_or(dir)
}

const BINARIES: [&str; 3] = ["reprint-lab", "reprint-counter", "reprint-gateway"];

/// The directory of the three service binaries, built once per test process.
///
/// # Panics
/// When the binaries are missing and cannot be built.
pub fn binaries() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = binary_dir();
        let present = BINARIES.iter().all(|b| dir.join(b).is_file());
        let skip = std::env::var("REPRINT_E2E_NO_BUILD").is_ok_and(|v| v == "1");
        if !present || (!skip && binaries_stale(&dir)) {
            // Cargo's own lock on the target directory serialises the test processes that
            // get here at the same time; a fresh build is a no-op.
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.current_dir(workspace_root()).args(["build", "--quiet"]);
            if release() {
                cmd.arg("--release");
            }
            for b in BINARIES {
                cmd.args(["--bin", b]);
            }
            let status = cmd.status();
            match status {
                Ok(s) if s.success() => {}
                other if present => eprintln!(
                    "e2e: `cargo build` of the services failed ({other:?}); using the binaries \
                     already in {}",
                    dir.display()
                ),
                other => panic!(
                    "e2e: the service binaries are not in {} and `cargo build` failed: {other:?}",
                    dir.display()
                ),
            }
        }
        for b in BINARIES {
            assert!(
                dir.join(b).is_file(),
                "e2e: {} missing after the build",
                dir.join(b).display()
            );
        }
        dir
    })
}

/// Whether a source file of the workspace is newer than the oldest service binary.
fn binaries_stale(dir: &Path) -> bool {
    let oldest = BINARIES
        .iter()
        .filter_map(|b| {
            std::fs::metadata(dir.join(b))
                .and_then(|m| m.modified())
                .ok()
        })
        .min();
    let Some(oldest) = oldest else { return true };
    let root = workspace_root();
    let mut newest = std::time::SystemTime::UNIX_EPOCH;
    let mut todo: Vec<PathBuf> = vec![root.join("crates"), root.join("services")];
    for f in ["Cargo.toml", "Cargo.lock"] {
        if let Ok(t) = std::fs::metadata(root.join(f)).and_then(|m| m.modified()) {
            newest = newest.max(t);
        }
    }
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                let name = e.file_name();
                if name != "tests" && name != "target" && name != "benches" && name != "fuzz" {
                    todo.push(p);
                }
            } else if (p.extension().is_some_and(|x| x == "rs" || x == "sql")
                || p.file_name().is_some_and(|n| n == "Cargo.toml"))
                && let Ok(t) = meta.modified()
            {
                newest = newest.max(t);
            }
        }
    }
    newest > oldest
}

// ------------------------------------------------------------------ processes

/// One service process: its binary, configuration, environment and log file.
pub struct Service {
    pub name: String,
    binary: PathBuf,
    config: PathBuf,
    env: Vec<(String, String)>,
    pub log: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl Service {
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "{} is running already", self.name);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("service log file");
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--config").arg(&self.config);
        for (k, _) in std::env::vars() {
            if k.starts_with("REPRINT_LAB__")
                || k.starts_with("REPRINT_COUNTER__")
                || k.starts_with("REPRINT_GATEWAY__")
            {
                cmd.env_remove(k);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)))
            .env(
                "RUST_LOG",
                std::env::var("REPRINT_E2E_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        self.child = Some(child);
    }

    /// Starts the process and waits until `/healthz` answers.
    pub async fn start(&mut self) {
        self.spawn();
        self.wait_healthy().await;
    }

    /// Waits (up to 60 s) until `/healthz` answers 200.
    ///
    /// # Panics
    /// When the process exits or does not answer in time, with its log tail.
    pub async fn wait_healthy(&mut self) {
        let url = format!("{}/healthz", self.base());
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                panic!(
                    "{} exited ({status}) before answering /healthz\n{}",
                    self.name,
                    self.log_tail(40)
                );
            }
            if let Ok(r) = http.get(&url).send().await
                && r.status().is_success()
            {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{} did not answer {url} within 60 s\n{}",
                    self.name,
                    self.log_tail(40)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGKILL: the process dies at once, with whatever it had in flight.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then SIGKILL after 5 s.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: a plain kill(2) of our own child's pid.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the process (SIGKILL) and starts it again on the same configuration and data.
    pub async fn restart(&mut self) {
        self.kill9();
        self.start().await;
    }

    /// The last `n` lines of the service's log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!(
            "----- {} ({}), last {n} kinds of line -----\n{}",
            self.name,
            self.log.display(),
            tail_of_kinds(&text, n)
        )
    }
}

thread_local! {
    static FAILURE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Remembers the message of a panic on the thread it happens on (the test's own), so that
/// [`Network`]'s drop can say it again after the service logs.
fn remember_failures() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            FAILURE.with(|f| *f.borrow_mut() = Some(info.to_string()));
            default(info);
        }));
    });
}

fn last_failure() -> Option<String> {
    FAILURE.with(|f| f.borrow().clone())
}

/// The last `n` kinds of line of a log, oldest first: a line that repeats (the same text once
/// its timestamp and colours are left out; a relay retrying every 250 ms) is shown once, at its
/// last time, with how often it came, so one noisy retry does not push the error out of the
/// tail. Backtrace frames ("  12: fn", "      at file:line") are left out for the same reason.
pub fn tail_of_kinds(text: &str, n: usize) -> String {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut kept: Vec<(String, &str)> = Vec::new();
    for line in text.lines().rev().filter(|l| !is_backtrace_frame(l)) {
        let plain = strip_ansi(line);
        let key = match plain.split_once(' ') {
            Some((ts, rest)) if ts.len() >= 20 && ts.as_bytes()[4] == b'-' => rest.to_string(),
            _ => plain.clone(),
        };
        match seen.get_mut(&key) {
            Some(count) => *count += 1,
            None if kept.len() < n => {
                seen.insert(key.clone(), 1);
                kept.push((key, line));
            }
            None => {}
        }
    }
    kept.iter()
        .rev()
        .map(|(key, line)| match seen[key] {
            1 => strip_ansi(line),
            times => format!("{} [x{times}]", strip_ansi(line)),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn is_backtrace_frame(line: &str) -> bool {
    let t = line.trim_start();
    line.starts_with(' ')
        && (t.starts_with("at ")
            || t.split_once(':')
                .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

// ------------------------------------------------------------------ the network

/// A change to a service's configuration table.
pub type ConfigEdit = Box<dyn Fn(&mut toml::Table)>;

/// How a test wants its network.
#[derive(Default)]
pub struct Options {
    /// The lab's store (`postgres://...`); default SQLite under its data directory.
    pub lab_store_url: Option<String>,
    /// The gateway's store; default SQLite.
    pub gateway_store_url: Option<String>,
    /// Changes to the lab's configuration (after `deploy/local/lab-a.toml`).
    pub lab_config: Option<ConfigEdit>,
    /// An external NATS (a cluster); default a private `nats-server` owned by the network.
    pub nats_url: Option<String>,
    /// Stream replicas for the lab, the counter and the gateway (`nats.replicas`).
    pub replicas: Option<usize>,
    /// More environment for all three services: OTEL_* for traces, each service's own
    /// `REPRINT_<SVC>__...` (e.g. its NATS user and password; the others ignore it).
    pub env: Vec<(String, String)>,
}

/// The lab `lab-a`, the counter `counter-ginza` and the gateway, as processes.
pub struct Network {
    pub lab: Service,
    pub counter: Service,
    pub gateway: Service,
    /// The private nats-server, unless the test brought its own.
    pub nats: Option<NatsServer>,
    pub nats_url: String,
    pub dir: tempfile::TempDir,
    started: Instant,
}

fn read_toml(path: &Path) -> toml::Table {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn write_toml(path: &Path, table: &toml::Table) {
    let text = toml::to_string(table).expect("configuration as TOML");
    std::fs::write(path, text).expect("write configuration");
}

/// `table[a][b] = value`, making the tables on the way.
pub fn set(table: &mut toml::Table, keys: &[&str], value: impl Into<toml::Value>) {
    let (last, path) = keys.split_last().expect("at least one key");
    let mut t = table;
    for k in path {
        t = t
            .entry(k.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .unwrap_or_else(|| panic!("{k} is not a table"));
    }
    t.insert(last.to_string(), value.into());
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

impl Network {
    /// The whole network on a private nats-server and SQLite stores.
    pub async fn start() -> Network {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(opts: Options) -> Network {
        remember_failures();
        let bin = binaries().to_path_buf();
        let started = Instant::now();
        let (nats, nats_url) = match &opts.nats_url {
            Some(url) => (None, url.clone()),
            None => {
                let n = NatsServer::start();
                let url = n.url.clone();
                (Some(n), url)
            }
        };
        let dir = tempfile::Builder::new()
            .prefix("reprint-e2e-")
            .tempdir()
            .expect("temporary directory");
        let root = dir.path();
        let deploy = workspace_root().join("deploy/local");
        let free = reprint_testkit::nats::free_port;

        // The lab.
        let lab_dir = root.join("lab-a");
        std::fs::create_dir_all(&lab_dir).unwrap();
        let lab_port = free();
        let mut lab = read_toml(&deploy.join("lab-a.toml"));
        set(&mut lab, &["data_dir"], path_str(&lab_dir));
        set(
            &mut lab,
            &["http", "address"],
            format!("127.0.0.1:{lab_port}"),
        );
        set(&mut lab, &["production", "done_marker_poll_ms"], 500);
        if let Some(toml::Value::Array(printers)) = lab.get_mut("printers") {
            for p in printers.iter_mut() {
                let t = p.as_table_mut().expect("[[printers]]");
                let name = t["name"].as_str().expect("printer name").to_string();
                t.insert(
                    "hot_folder".into(),
                    path_str(&lab_dir.join("hot").join(name)).into(),
                );
            }
        }
        if let Some(edit) = &opts.lab_config {
            edit(&mut lab);
        }
        let lab_cfg = root.join("lab-a.toml");
        write_toml(&lab_cfg, &lab);
        let mut lab_env = vec![("REPRINT_LAB__NATS__URL".to_string(), nats_url.clone())];
        if let Some(url) = &opts.lab_store_url {
            lab_env.push(("REPRINT_LAB__STORE__URL".into(), url.clone()));
        }
        if let Some(r) = opts.replicas {
            lab_env.push(("REPRINT_LAB__NATS__REPLICAS".into(), r.to_string()));
        }

        // The counter.
        let counter_dir = root.join("counter-ginza");
        std::fs::create_dir_all(&counter_dir).unwrap();
        let counter_port = free();
        let mut counter = read_toml(&deploy.join("counter-ginza.toml"));
        set(&mut counter, &["data_dir"], path_str(&counter_dir));
        set(
            &mut counter,
            &["http", "address"],
            format!("127.0.0.1:{counter_port}"),
        );
        set(&mut counter, &["nats", "heartbeat_secs"], 2);
        let counter_cfg = root.join("counter-ginza.toml");
        write_toml(&counter_cfg, &counter);
        let mut counter_env = vec![("REPRINT_COUNTER__NATS__URL".to_string(), nats_url.clone())];
        if let Some(r) = opts.replicas {
            counter_env.push(("REPRINT_COUNTER__NATS__REPLICAS".into(), r.to_string()));
        }

        // The gateway.
        let gw_dir = root.join("gateway");
        std::fs::create_dir_all(&gw_dir).unwrap();
        let gw_port = free();
        let mut gw = read_toml(&deploy.join("gateway.toml"));
        set(
            &mut gw,
            &["http", "address"],
            format!("127.0.0.1:{gw_port}"),
        );
        set(&mut gw, &["nats", "relay_interval_ms"], 100);
        set(&mut gw, &["nats", "nak_delay_ms"], 300);
        // E-mail notices as .eml files in the network's own directory, not the working one.
        set(
            &mut gw,
            &["mail", "folder"],
            gw_dir.join("mail").display().to_string(),
        );
        let gw_cfg = root.join("gateway.toml");
        write_toml(&gw_cfg, &gw);
        let gw_store = opts.gateway_store_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                gw_dir.join("gateway.sqlite").display()
            )
        });
        let mut gw_env = vec![
            ("REPRINT_GATEWAY__NATS__URL".to_string(), nats_url.clone()),
            ("REPRINT_GATEWAY__STORE__URL".to_string(), gw_store),
        ];
        if let Some(r) = opts.replicas {
            gw_env.push(("REPRINT_GATEWAY__NATS__REPLICAS".into(), r.to_string()));
        }

        for env in [&mut lab_env, &mut counter_env, &mut gw_env] {
            env.extend(opts.env.iter().cloned());
        }
        let service = |name: &str, binary: &str, config: PathBuf, env, port| Service {
            name: name.to_string(),
            binary: bin.join(binary),
            config,
            env,
            log: root.join(format!("{name}.log")),
            port,
            child: None,
        };
        let mut net = Network {
            lab: service("lab-a", "reprint-lab", lab_cfg, lab_env, lab_port),
            counter: service(
                "counter-ginza",
                "reprint-counter",
                counter_cfg,
                counter_env,
                counter_port,
            ),
            gateway: service("gateway", "reprint-gateway", gw_cfg, gw_env, gw_port),
            nats,
            nats_url,
            dir,
            started,
        };
        // The lab first (it provisions the streams), then the others side by side.
        net.lab.start().await;
        net.counter.spawn();
        net.gateway.spawn();
        net.counter.wait_healthy().await;
        net.gateway.wait_healthy().await;
        net.wait_for_sites(&[LAB, COUNTER]).await;
        eprintln!(
            "e2e: network up in {:.1} s (logs in {})",
            net.started.elapsed().as_secs_f64(),
            net.dir.path().display()
        );
        net
    }

    /// Starts another counter of the network as a process (pickup at another counter):
    /// `deploy/local/<site>.toml` with its own data directory, port and log under the
    /// network's directory, on the network's NATS, with `env` added; returns it healthy.
    pub async fn start_counter(&self, site: &str, env: Vec<(String, String)>) -> Service {
        let root = self.dir.path();
        let dir = root.join(site);
        std::fs::create_dir_all(&dir).unwrap();
        let port = reprint_testkit::nats::free_port();
        let mut table = read_toml(&workspace_root().join(format!("deploy/local/{site}.toml")));
        set(&mut table, &["data_dir"], path_str(&dir));
        set(
            &mut table,
            &["http", "address"],
            format!("127.0.0.1:{port}"),
        );
        set(&mut table, &["nats", "heartbeat_secs"], 2);
        let config = root.join(format!("{site}.toml"));
        write_toml(&config, &table);
        let mut all = vec![(
            "REPRINT_COUNTER__NATS__URL".to_string(),
            self.nats_url.clone(),
        )];
        all.extend(env);
        let mut service = Service {
            name: site.to_string(),
            binary: binaries().join("reprint-counter"),
            config,
            env: all,
            log: root.join(format!("{site}.log")),
            port,
            child: None,
        };
        service.start().await;
        service
    }

    /// Waits until the gateway's site directory lists `sites`.
    pub async fn wait_for_sites(&self, sites: &[&str]) {
        let client = Client::new(&self.gateway.base());
        eventually(&format!("{sites:?} in the site directory"), 30, || async {
            let (s, v) = client.get("/api/v1/sites").await;
            s == 200
                && sites.iter().all(|id| {
                    v.as_array()
                        .is_some_and(|a| a.iter().any(|e| e["id"].as_str() == Some(id)))
                })
        })
        .await;
    }

    /// The private nats-server (panics when the test brought its own).
    pub fn nats_mut(&mut self) -> &mut NatsServer {
        self.nats.as_mut().expect("the network's own nats-server")
    }

    /// The log tails of every service.
    pub fn logs(&self, n: usize) -> String {
        [&self.lab, &self.counter, &self.gateway]
            .iter()
            .map(|s| s.log_tail(n))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A browser on the gateway (not logged in).
    pub fn gateway_client(&self) -> Client {
        Client::new(&self.gateway.base())
    }

    /// The lab operator, logged in to the lab's API.
    pub async fn lab_operator(&self) -> Client {
        let mut c = Client::new(&self.lab.base());
        let (s, v) = c
            .post(
                "/api/v1/login",
                &serde_json::json!({"name": LAB_OPERATOR.0, "password": LAB_OPERATOR.1}),
            )
            .await;
        assert_eq!(s, 200, "lab log-in: {v}");
        c.csrf = v["csrf_token"].as_str().map(str::to_string);
        c
    }

    /// Counter staff, logged in to the counter's API.
    pub async fn counter_staff(&self) -> Client {
        let mut c = Client::new(&self.counter.base());
        let (s, v) = c
            .post(
                "/api/v1/login",
                &serde_json::json!({"name": COUNTER_STAFF.0, "password": COUNTER_STAFF.1}),
            )
            .await;
        assert_eq!(s, 200, "counter log-in: {v}");
        c.csrf = v["csrf_token"].as_str().map(str::to_string);
        c
    }

    /// A new home user signed up (and logged in) on the gateway.
    pub async fn home_user(&self, email: &str, name: &str, telephone: &str) -> Client {
        let mut c = self.gateway_client();
        let (s, v) = c
            .post(
                "/api/v1/accounts",
                &serde_json::json!({
                    "name": name, "telephone": telephone,
                    "address": "1-2-3 Ginza, Chuo-ku, Tokyo",
                    "email": email, "password": "reprint-demo-password",
                }),
            )
            .await;
        // A sign-up answers 202 whether or not the e-mail had an account and logs nobody in.
        assert_eq!(s, 202, "sign-up: {v}");
        let (s, v) = c
            .post(
                "/api/v1/session",
                &serde_json::json!({"email": email, "password": "reprint-demo-password"}),
            )
            .await;
        assert_eq!(s, 200, "log-in after sign-up: {v}");
        c.csrf = v["csrf_token"].as_str().map(str::to_string);
        c
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let keep = std::env::var("REPRINT_E2E_KEEP").unwrap_or_default();
        if std::thread::panicking() {
            eprintln!(
                "e2e: the test failed after {:.1} s; service logs:\n{}",
                self.started.elapsed().as_secs_f64(),
                self.logs(40)
            );
            // Said again after the logs: CI shows the end of a failed test's output.
            if let Some(failure) = last_failure() {
                eprintln!("e2e: the failure, again: {failure}");
            }
        }
        if keep == "always" || (keep == "1" && std::thread::panicking()) {
            let kept = self.dir.path().to_path_buf();
            eprintln!("e2e: keeping {}", kept.display());
            if let Ok(empty) = tempfile::tempdir() {
                let _ = std::mem::replace(&mut self.dir, empty).keep();
            }
        }
        self.gateway.stop();
        self.counter.stop();
        self.lab.stop();
    }
}

// ------------------------------------------------------------------ HTTP

/// A browser or a terminal app: a cookie jar, a base URL and the session's CSRF token.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub csrf: Option<String>,
}

async fn answer(r: reqwest::Result<reqwest::Response>) -> (u16, Value) {
    match r {
        Ok(r) => {
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            let v = if text.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            };
            (status, v)
        }
        Err(e) => (0, Value::String(format!("request failed: {e}"))),
    }
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .timeout(Duration::from_secs(30))
                .build()
                .expect("HTTP client"),
            base: base.to_string(),
            csrf: None,
        }
    }

    fn with_csrf(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.csrf {
            Some(t) => rb.header("X-CSRF-Token", t),
            None => rb,
        }
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        answer(self.http.get(format!("{}{path}", self.base)).send().await).await
    }

    /// A download: the status, the `Content-Type` and the body's bytes.
    pub async fn get_bytes(&self, path: &str) -> (u16, String, Vec<u8>) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET");
        let status = r.status().as_u16();
        let mime = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, mime, r.bytes().await.expect("body").to_vec())
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let rb = self.http.post(format!("{}{path}", self.base)).json(body);
        answer(self.with_csrf(rb).send().await).await
    }

    pub async fn post_with(
        &self,
        path: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut rb = self.http.post(format!("{}{path}", self.base)).json(body);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        answer(self.with_csrf(rb).send().await).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        let rb = self.http.put(format!("{}{path}", self.base)).json(body);
        answer(self.with_csrf(rb).send().await).await
    }

    pub async fn put_bytes(&self, path: &str, bytes: Vec<u8>) -> (u16, Value) {
        let rb = self
            .http
            .put(format!("{}{path}", self.base))
            .header("content-type", "application/octet-stream")
            .body(bytes);
        answer(self.with_csrf(rb).send().await).await
    }

    pub async fn post_multipart(&self, path: &str, form: reqwest::multipart::Form) -> (u16, Value) {
        let rb = self
            .http
            .post(format!("{}{path}", self.base))
            .multipart(form);
        answer(self.with_csrf(rb).send().await).await
    }
}

// ------------------------------------------------------------------ waiting

/// Polls `check` every 100 ms until it holds, for at most `secs` seconds.
///
/// # Panics
/// When it does not hold in time, naming `what`.
pub async fn eventually<F, Fut>(what: &str, secs: u64, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if check().await {
            return;
        }
        if Instant::now() > deadline {
            panic!("e2e: {what}: not within {secs} s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `get` until `pick` returns something, for at most `secs` seconds; returns the last
/// value seen in the panic message otherwise.
pub async fn wait_for<F, Fut, T>(what: &str, secs: u64, mut get: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = (Option<T>, Value)>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let (found, last) = get().await;
        if let Some(t) = found {
            return t;
        }
        if Instant::now() > deadline {
            panic!("e2e: {what}: not within {secs} s; last seen: {last}");
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// The stages of an order's timeline on the gateway, in order.
pub fn timeline_stages(order: &Value) -> Vec<String> {
    order["timeline"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t["stage"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Counts of each stage in a timeline.
pub fn stage_counts(order: &Value) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for s in timeline_stages(order) {
        *m.entry(s).or_insert(0) += 1;
    }
    m
}

/// Writes a line to stderr with the elapsed time (the timings of a scenario).
pub fn step(t0: Instant, what: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "e2e [{:>6.2} s] {what}",
        t0.elapsed().as_secs_f64()
    );
}

#[cfg(test)]
mod tests {
    use super::tail_of_kinds;

    #[test]
    fn a_retry_repeated_every_250_ms_does_not_push_the_error_out_of_a_log_tail() {
        let mut log = String::from(
            "2026-11-21T15:05:40.000000Z ERROR reprint_lab: provisioning failed: insufficient resources\n",
        );
        for i in 0..200 {
            log.push_str(&format!(
                "\u{1b}[2m2026-11-21T15:05:{:02}.{:06}Z\u{1b}[0m \u{1b}[33m WARN\u{1b}[0m reprint_bus::relay: outbox publish not acknowledged outbox_id={} error=no stream found\n",
                41 + i / 40,
                i,
                3 + i % 2
            ));
        }
        log.push_str(
            "   12: std::rt::lang_start\n             at /rustc/library/std/src/rt.rs:195:17\n",
        );
        let tail = tail_of_kinds(&log, 3);
        let lines: Vec<&str> = tail.lines().collect();
        assert_eq!(lines.len(), 3, "{tail}");
        assert!(lines[0].contains("insufficient resources"), "{tail}");
        assert!(
            lines[1].ends_with("outbox_id=3 error=no stream found [x100]"),
            "{tail}"
        );
        assert!(
            lines[2].starts_with("2026-11-21T15:05:45.000199Z  WARN"),
            "{tail}"
        );
        assert!(
            lines[2].ends_with("outbox_id=4 error=no stream found [x100]"),
            "{tail}"
        );
    }
}
