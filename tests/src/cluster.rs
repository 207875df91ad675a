//! NATS as a 3-node cluster: three `nats-server` processes with JetStream, routes between
//! them, each with its own store and monitoring port. A node can be killed (SIGKILL) and
//! started again on its store.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reprint_testkit::nats::{free_port, server_binary};
use serde_json::Value;

struct Node {
    name: String,
    port: u16,
    cluster_port: u16,
    monitor_port: u16,
    store: tempfile::TempDir,
    child: Option<Child>,
}

pub struct NatsCluster {
    nodes: Vec<Node>,
    routes: String,
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
        let turn = ONE_CLUSTER_AT_A_TIME.lock().await;
        let nodes: Vec<Node> = (1..=3)
            .map(|i| Node {
                name: format!("n{i}"),
                port: free_port(),
                cluster_port: free_port(),
                monitor_port: free_port(),
                store: tempfile::tempdir().expect("JetStream store"),
                child: None,
            })
            .collect();
        let routes = nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.cluster_port))
            .collect::<Vec<_>>()
            .join(",");
        let mut c = NatsCluster {
            nodes,
            routes,
            _turn: turn,
        };
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
        let routes = self.routes.clone();
        let n = &mut self.nodes[i];
        let child = Command::new(server_binary())
            .args(["-a", "127.0.0.1", "-p", &n.port.to_string()])
            .args(["-n", &n.name, "-js", "-sd"])
            .arg(n.store.path())
            .args(["--cluster_name", "reprint-e2e"])
            .args(["--cluster", &format!("nats://127.0.0.1:{}", n.cluster_port)])
            .args(["--routes", &routes])
            .args(["-m", &n.monitor_port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
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
                "nats node {} not healthy within 60 s",
                self.nodes[i].name
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
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
