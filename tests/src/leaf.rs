//! A counter on its own leaf node, as shipped: the hub is one `nats-server` from
//! `deploy/nats/single.conf` (with the `users.conf` it includes), the counter's leaf another from
//! `deploy/nats/leaf-counter.conf`. The test substitutes the ports (each `host:port` for a free
//! port of this machine), the store directories, and in the leaf's remote URL the hub's address
//! and the password placeholder; nothing else. The leaf reaches the hub through a TCP
//! [`LinkProxy`] the test can cut and restore, as a counter's line to the hub goes down and up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reprint_testkit::nats::{free_port, server_binary};
use serde_json::Value;
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::cluster::shipped_config;
use crate::nats_users;

/// The leaf's remote URL in the shipped file, and the user it logs in as at the hub.
const SHIPPED_REMOTE: &str = "leaf-counter-ginza:CHANGE_ME@hub.example:7422";
/// The hub's user for the leaf of `counter-ginza` (users.conf), with counter-ginza's password.
pub const LEAF_USER: &str = "leaf-counter-ginza";

/// A TCP proxy from a local port to `target`: every connection accepted is piped to a new
/// connection to `target`. [`LinkProxy::cut`] closes the listener and every piped connection
/// (both ends see the line drop); [`LinkProxy::restore`] listens on the same port again.
pub struct LinkProxy {
    pub port: u16,
    target: u16,
    task: Option<JoinHandle<()>>,
}

impl LinkProxy {
    /// A proxy on a free port to `127.0.0.1:target`, listening.
    pub async fn start(target: u16) -> LinkProxy {
        let mut p = LinkProxy {
            port: free_port(),
            target,
            task: None,
        };
        p.restore().await;
        p
    }

    /// Listens again (after [`LinkProxy::cut`]); a no-op while listening.
    pub async fn restore(&mut self) {
        if self.task.is_some() {
            return;
        }
        let listener = bind_again(self.port).await;
        let target = self.target;
        self.task = Some(tokio::spawn(async move {
            // Dropped with the task: aborting it closes every piped connection.
            let mut links = JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                links.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target)).await {
                        let _ = copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                while links.try_join_next().is_some() {}
            }
        }));
    }

    /// Cuts the line: no new connection is accepted, every open one is closed.
    pub async fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// True while the proxy listens.
    pub fn is_up(&self) -> bool {
        self.task.is_some()
    }
}

impl Drop for LinkProxy {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Binds `127.0.0.1:port`, trying for a few seconds while the port is still being released.
async fn bind_again(port: u16) -> TcpListener {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => return l,
            Err(e) => {
                assert!(Instant::now() < deadline, "cannot listen on {port}: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One nats-server process from a configuration file the test wrote.
struct Server {
    dir: tempfile::TempDir,
    config: PathBuf,
    child: Option<Child>,
}

impl Server {
    fn new(file: &str, text: String, dir: tempfile::TempDir) -> Server {
        let config = dir.path().join(file);
        std::fs::write(&config, text).expect("nats configuration");
        Server {
            dir,
            config,
            child: None,
        }
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .ok();
        let child = Command::new(server_binary())
            .arg("-c")
            .arg(&self.config)
            .envs(nats_users::server_env())
            .stdout(Stdio::null())
            .stderr(log.map(Stdio::from).unwrap_or_else(Stdio::null))
            .spawn()
            .expect("nats-server");
        self.child = Some(child);
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("nats-server.log")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The hub (single.conf) and counter-ginza's leaf (leaf-counter.conf) linked through a
/// [`LinkProxy`].
pub struct LeafNetwork {
    hub: Server,
    leaf: Server,
    pub hub_port: u16,
    pub hub_monitor_port: u16,
    pub leaf_port: u16,
    pub link: LinkProxy,
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The shipped leaf configuration with its client port `port`, its store `store`, and its
/// remote pointed at `127.0.0.1:hub_leaf_port` with counter-ginza's test password.
pub fn shipped_leaf_config(port: u16, store: &Path, hub_leaf_port: u16) -> String {
    let text = shipped_config("leaf-counter.conf", &BTreeMap::from([(4222, port)]), store);
    assert_eq!(
        text.matches(SHIPPED_REMOTE).count(),
        1,
        "leaf-counter.conf: the remote {SHIPPED_REMOTE} once"
    );
    text.replace(
        SHIPPED_REMOTE,
        &format!(
            "{LEAF_USER}:{}@127.0.0.1:{hub_leaf_port}",
            nats_users::password("counter-ginza")
        ),
    )
}

impl LeafNetwork {
    /// Starts the hub, the link and the leaf, and waits until the leaf is connected.
    pub async fn start() -> LeafNetwork {
        let hub_dir = tempfile::tempdir().expect("hub directory");
        let (hub_port, hub_monitor_port, hub_leaf_port) = (free_port(), free_port(), free_port());
        let ports = BTreeMap::from([
            (4222, hub_port),
            (8222, hub_monitor_port),
            (7422, hub_leaf_port),
        ]);
        let text = shipped_config("single.conf", &ports, &hub_dir.path().join("jetstream"));
        std::fs::copy(
            crate::workspace_root().join("deploy/nats/users.conf"),
            hub_dir.path().join("users.conf"),
        )
        .expect("users.conf");
        let mut hub = Server::new("single.conf", text, hub_dir);
        hub.spawn();
        let link = LinkProxy::start(hub_leaf_port).await;

        let leaf_dir = tempfile::tempdir().expect("leaf directory");
        let leaf_port = free_port();
        let text = shipped_leaf_config(leaf_port, &leaf_dir.path().join("jetstream"), link.port);
        let mut leaf = Server::new("leaf-counter.conf", text, leaf_dir);
        leaf.spawn();
        let net = LeafNetwork {
            hub,
            leaf,
            hub_port,
            hub_monitor_port,
            leaf_port,
            link,
        };
        net.wait_linked(true, 60).await;
        net
    }

    /// The hub's client URL.
    pub fn hub_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.hub_port)
    }

    /// The leaf's client URL (the counter's `[nats] url`).
    pub fn leaf_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.leaf_port)
    }

    /// The hub's leaf connections (`/leafz`).
    pub async fn leafz(&self) -> Value {
        let url = format!("http://127.0.0.1:{}/leafz", self.hub_monitor_port);
        match reqwest::get(&url).await {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }

    /// Waits until the hub has (`up`) or has not the leaf logged in as [`LEAF_USER`].
    pub async fn wait_linked(&self, up: bool, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let leafz = self.leafz().await;
            let linked = leafz["leafs"].as_array().is_some_and(|a| !a.is_empty());
            if linked == up {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the leaf is {} the hub after {secs} s: {leafz}\nhub log:\n{}\nleaf log:\n{}",
                if up {
                    "not linked to"
                } else {
                    "still linked to"
                },
                tail(&self.hub.log(), 30),
                tail(&self.leaf.log(), 30)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Cuts the leaf's link and waits until the hub has lost it.
    pub async fn cut(&mut self) {
        self.link.cut().await;
        self.wait_linked(false, 30).await;
    }

    /// Restores the link and waits until the leaf is back (it retries every second).
    pub async fn restore(&mut self) {
        self.link.restore().await;
        self.wait_linked(true, 60).await;
    }

    /// The hub's log.
    pub fn hub_log(&self) -> String {
        self.hub.log()
    }

    /// The tails of both servers' logs.
    pub fn log_tails(&self, n: usize) -> String {
        format!(
            "hub log:\n{}\nleaf log:\n{}",
            tail(&self.hub.log(), n),
            tail(&self.leaf.log(), n)
        )
    }
}

/// The environment that runs the network's lab and gateway on the hub as their own users and
/// the counter on its leaf (no user: the leaf lets its local clients in, the hub decides
/// what the leaf may do) with the hub's JetStream domain.
pub fn service_env(net: &LeafNetwork) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = nats_users::service_env()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("REPRINT_COUNTER__"))
        .collect();
    env.push(("REPRINT_COUNTER__NATS__URL".into(), net.leaf_url()));
    env.push((
        "REPRINT_COUNTER__NATS__JETSTREAM_DOMAIN".into(),
        "hub".into(),
    ));
    env
}
