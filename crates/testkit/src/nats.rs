//! A private `nats-server` with JetStream on a free port and a temporary store directory,
//! killed when the handle is dropped. It can be stopped and started again on the same port
//! and store, to test a link that goes down and comes back.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the `nats-server` binary is.
pub fn server_binary() -> PathBuf {
    if let Ok(p) = std::env::var("REPRINT_NATS_SERVER") {
        return PathBuf::from(p);
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
        };
        server.start_again();
        server
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
        let child = Command::new(&bin)
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
