//! NATS as a 3-node cluster, from the shipped `deploy/nats/cluster-node{1,2,3}.conf` and the
//! `users.conf` they include: three `nats-server` processes with JetStream, routes between
//! them, each with its own store, monitoring port and leaf-node port. The test substitutes
//! the ports (each `host:port` of the file for a free port of this machine) and the store
//! directory, nothing else; every client logs in as its user of users.conf
//! ([`crate::nats_users`]). A node can be killed (SIGKILL) and started again on its store.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::collections::BTreeMap;
use std::path::PathBuf;

use reprint_testkit::nats::{free_port, server_binary};
use serde_json::Value;

use crate::nats_users;
use crate::workspace_root;

/// The shipped configuration of node `n` (1, 2 or 3) with every `host:port` in it replaced by
/// `ports[port]` and its `store_dir` by `store`. Panics when the file names a port the test
/// has no substitute for, or lacks a store directory: the test runs the file as shipped or
/// not at all.
pub fn shipped_node_config(
    n: usize,
    ports: &BTreeMap<u16, u16>,
    store: &std::path::Path,
) -> String {
    shipped_config(&format!("cluster-node{n}.conf"), ports, store)
}

/// The shipped `deploy/nats/<file>` with every `host:port` in it replaced by `ports[port]` and
/// its `store_dir` by `store` (see [`shipped_node_config`]).
pub fn shipped_config(file: &str, ports: &BTreeMap<u16, u16>, store: &std::path::Path) -> String {
    let path = workspace_root().join("deploy/nats").join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut out = String::new();
    let mut stored = false;
    for line in text.lines() {
        let code = line.split('#').next().unwrap_or_default();
        let mut line = line.to_string();
        if code.trim_start().starts_with("store_dir:") {
            line = format!("  store_dir: \"{}\"", store.display());
            stored = true;
        } else if let Some(port) = port_in(code) {
            let to = ports.get(&port).unwrap_or_else(|| {
                panic!(
                    "{}: no substitute for port {port} in: {line}",
                    path.display()
                )
            });
            line = line.replacen(&format!(":{port}"), &format!(":{to}"), 1);
        }
        out.push_str(&line);
        out.push('\n');
    }
    assert!(stored, "{}: no store_dir", path.display());
    out
}

/// The port of a `host:port` on a configuration line (`listen: 0.0.0.0:4222`,
/// `nats-route://127.0.0.1:6223`), if it has one.
fn port_in(code: &str) -> Option<u16> {
    let (_, after) = code.rsplit_once(':')?;
    let digits: String = after.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.len() >= 4 && after[digits.len()..].trim().is_empty() {
        digits.parse().ok()
    } else {
        None
    }
}

struct Node {
    /// The `server_name` of its configuration file (`reprint-n1`).
    name: String,
    port: u16,
    monitor_port: u16,
    store: tempfile::TempDir,
    /// The configuration as the test writes it (in `store`, beside a copy of users.conf).
    config: PathBuf,
    child: Option<Child>,
}

pub struct NatsCluster {
    nodes: Vec<Node>,
    // One cluster at a time in a test binary: two clusters and their services on a 2-core
    // machine starve each other's raft heartbeats into elections that never settle.
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

static ONE_CLUSTER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl NatsCluster {
    /// Three nodes, started and with JetStream ready: each node's `/healthz` answers 200 and
    /// reports a meta leader of a 3-peer meta group.
    pub async fn start() -> NatsCluster {
        let c = NatsCluster::start_partly(3).await;
        for i in 0..3 {
            c.wait_ready(i).await;
        }
        for i in 0..3 {
            c.wait_meta_leader(i).await;
        }
        c
    }

    /// Three nodes configured, only the first `running` started, not waited for: a new cluster
    /// elects no meta leader before all its nodes have met, so JetStream stays unavailable
    /// until [`NatsCluster::start_again`] starts the others.
    pub async fn start_partly(running: usize) -> NatsCluster {
        NatsCluster::start_partly_with(running, None).await
    }

    /// As [`NatsCluster::start`], with one more user in the nodes' copy of users.conf, allowed
    /// everything: for a bench's own raw measurements (streams of its own) beside the shipped
    /// users, which stay as shipped.
    pub async fn start_with_user(user: &str, password: &str) -> NatsCluster {
        let c = NatsCluster::start_partly_with(3, Some((user, password))).await;
        for i in 0..3 {
            c.wait_ready(i).await;
        }
        for i in 0..3 {
            c.wait_meta_leader(i).await;
        }
        c
    }

    async fn start_partly_with(running: usize, extra_user: Option<(&str, &str)>) -> NatsCluster {
        let turn = ONE_CLUSTER_AT_A_TIME.lock().await;
        // The shipped files' ports: client 4222.., monitor 8222.., cluster 6222.., leaf
        // nodes 7422.. (node n adds n - 1); each gets a free port of this machine.
        let mut ports = BTreeMap::new();
        for i in 0..3u16 {
            for base in [4222u16, 8222, 6222, 7422] {
                ports.insert(base + i, free_port());
            }
        }
        let mut users = std::fs::read_to_string(workspace_root().join("deploy/nats/users.conf"))
            .expect("deploy/nats/users.conf");
        if let Some((user, password)) = extra_user {
            let at = users
                .find("users = [")
                .map(|i| i + "users = [".len())
                .expect("a users list in users.conf");
            users.insert_str(
                at,
                &format!("\n    {{ user: \"{user}\", password: \"{password}\" }}"),
            );
        }
        let nodes: Vec<Node> = (0..3u16)
            .map(|i| {
                let store = tempfile::tempdir().expect("JetStream store");
                let jetstream = store.path().join("jetstream");
                let text = shipped_node_config(usize::from(i) + 1, &ports, &jetstream);
                let name = text
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("server_name:"))
                    .map(|n| n.trim().to_string())
                    .expect("server_name in the shipped node file");
                let config = store.path().join(format!("cluster-node{}.conf", i + 1));
                std::fs::write(&config, text).expect("node configuration");
                std::fs::write(store.path().join("users.conf"), &users).expect("users.conf");
                Node {
                    name,
                    port: ports[&(4222 + i)],
                    monitor_port: ports[&(8222 + i)],
                    store,
                    config,
                    child: None,
                }
            })
            .collect();
        let mut c = NatsCluster { nodes, _turn: turn };
        for i in 0..running {
            c.spawn(i);
        }
        c
    }

    /// Waits until node `i` knows a meta leader and all three peers (60 s at most).
    pub async fn wait_meta_leader(&self, i: usize) {
        let url = format!("http://127.0.0.1:{}/jsz", self.nodes[i].monitor_port);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = reqwest::get(&url).await
                && let Ok(v) = r.json::<Value>().await
                && v["meta_cluster"]["leader"]
                    .as_str()
                    .is_some_and(|l| !l.is_empty())
                && v["meta_cluster"]["cluster_size"].as_u64() >= Some(3)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nats node {} has no meta leader of 3 peers within 60 s",
                self.nodes[i].name
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn spawn(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(n.store.path().join("nats-server.log"))
            .ok();
        let child = Command::new(server_binary())
            .arg("-c")
            .arg(&n.config)
            .envs(nats_users::server_env())
            .stdout(Stdio::null())
            .stderr(log.map(Stdio::from).unwrap_or_else(Stdio::null))
            .spawn()
            .expect("nats-server");
        n.child = Some(child);
    }

    /// Waits until node `i` reports JetStream healthy (60 s at most).
    pub async fn wait_ready(&self, i: usize) {
        let url = format!("http://127.0.0.1:{}/healthz", self.nodes[i].monitor_port);
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http.get(&url).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nats node {} not healthy within 60 s; its log ends:\n{}",
                self.nodes[i].name,
                self.log_tail(i)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The last lines of node `i`'s log.
    pub fn log_tail(&self, i: usize) -> String {
        let text = std::fs::read_to_string(self.nodes[i].store.path().join("nats-server.log"))
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// The client URL: every node, comma-separated.
    pub fn url(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// SIGKILL node `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts node `i` again on its store.
    pub async fn start_again(&mut self, i: usize) {
        self.kill(i);
        self.spawn(i);
        self.wait_ready(i).await;
    }

    /// The client URL of node `i` alone.
    pub fn node_url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[i].port)
    }

    /// Every stream's detail (`/jsz?streams=true&config=true`) as node `i` reports it; `None`
    /// when the node does not answer with JSON.
    async fn stream_details(&self, i: usize) -> Option<Vec<Value>> {
        let url = format!(
            "http://127.0.0.1:{}/jsz?streams=true&config=true",
            self.nodes[i].monitor_port
        );
        let v: Value = reqwest::get(&url).await.ok()?.json().await.ok()?;
        Some(
            v["account_details"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|a| a["stream_detail"].as_array().cloned().unwrap_or_default())
                .collect(),
        )
    }

    /// The streams as node `i` reports them (`/jsz`): (name, replicas), sorted.
    pub async fn stream_replicas(&self, i: usize) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = self
            .stream_details(i)
            .await
            .expect("jsz")
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap_or_default().to_string(),
                    s["config"]["num_replicas"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The node leading stream `name`, as node `i` reports it (`/jsz`; a node cut off from
    /// the others may go on naming the last leader it knew), `None` when it names none.
    pub async fn stream_leader(&self, i: usize, name: &str) -> Option<usize> {
        let details = self.stream_details(i).await?;
        let leader = details.iter().find(|s| s["name"] == name)?["cluster"]["leader"].as_str()?;
        self.nodes.iter().position(|n| n.name == leader)
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}
