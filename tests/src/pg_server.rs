//! A private PostgreSQL server for one run: `initdb` into a temporary directory and `postgres`
//! on a free port, so that a test or a bench can kill it (SIGKILL, the whole process group: a
//! crash, not a shutdown) and start it again on the same data directory (crash recovery),
//! without touching the machine's shared server that other tests use.
//!
//! The server binaries are found as `scripts/lib/services.sh` finds the machine's server:
//! `REPRINT_PG_BIN` (a directory holding `initdb`, `postgres`, `pg_isready`, `createdb`), else
//! the newest `/usr/lib/postgresql/<version>/bin` (Debian's `postgresql` package). PostgreSQL
//! refuses to run as root: as root, the data directory belongs to the `postgres` user and the
//! processes run as it.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The directory of the server binaries, or what is missing.
pub fn bin_dir() -> Result<PathBuf, String> {
    let has_all = |d: &Path| {
        ["initdb", "postgres", "pg_isready", "createdb"]
            .iter()
            .all(|b| d.join(b).is_file())
    };
    if let Some(d) = std::env::var_os("REPRINT_PG_BIN").map(PathBuf::from) {
        return if has_all(&d) {
            Ok(d)
        } else {
            Err(format!(
                "REPRINT_PG_BIN={} lacks initdb, postgres, pg_isready or createdb",
                d.display()
            ))
        };
    }
    let mut found: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: Vec<u32> = e
                .file_name()
                .to_string_lossy()
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            let bin = e.path().join("bin");
            has_all(&bin).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, d)| d).ok_or_else(|| {
        "no PostgreSQL server binaries (initdb, postgres) under /usr/lib/postgresql/*/bin: \
         install Debian's postgresql (apt-get install postgresql) or set REPRINT_PG_BIN"
            .to_string()
    })
}

/// The uid and gid of the `postgres` user (from /etc/passwd), to run the server as when this
/// process is root.
fn postgres_user() -> Option<(u32, u32)> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&"postgres") && f.len() > 3)
            .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
            .flatten()
    })
}

pub struct PgServer {
    pub port: u16,
    bin: PathBuf,
    dir: tempfile::TempDir,
    run_as: Option<(u32, u32)>,
    child: Option<Child>,
}

impl PgServer {
    /// `initdb` (trust authentication, superuser `postgres`) and the server started and
    /// accepting connections.
    pub async fn start() -> Result<PgServer, String> {
        let bin = bin_dir()?;
        // SAFETY: geteuid(2) has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let run_as = if root {
            Some(
                postgres_user()
                    .ok_or("running as root, but no postgres user to run PostgreSQL as")?,
            )
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("reprint-pg-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        let data = dir.path().join("data");
        let sock = dir.path().join("sock");
        for d in [&data, &sock] {
            std::fs::create_dir(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        if let Some((uid, gid)) = run_as {
            use std::os::unix::fs::PermissionsExt as _;
            // The postgres user must reach its directories under ours.
            let _ = std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755));
            for d in [&data, &sock] {
                std::os::unix::fs::chown(d, Some(uid), Some(gid))
                    .map_err(|e| format!("chown {}: {e}", d.display()))?;
            }
        }
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = run_as {
            initdb.uid(uid).gid(gid);
        }
        let out = initdb
            .output()
            .map_err(|e| format!("cannot run {}: {e}", bin.join("initdb").display()))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let mut server = PgServer {
            port: reprint_testkit::nats::free_port(),
            bin,
            dir,
            run_as,
            child: None,
        };
        server.start_again().await?;
        Ok(server)
    }

    /// The superuser's URL of the maintenance database `postgres`.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The URL of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// The server's log (stderr of `postgres`).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// Creates database `name`; returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .arg(name)
            .output()
            .map_err(|e| format!("createdb: {e}"))?;
        if out.status.success() {
            Ok(self.url(name))
        } else {
            Err(format!(
                "createdb {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Whether the server answers as ready (`pg_isready`).
    pub fn is_ready(&self) -> bool {
        Command::new(self.bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// SIGKILL to the postmaster and every backend (its process group): a crash. The data
    /// directory stays as the crash left it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: kill(2) of the process group our own child leads (spawned with
                // process_group(0), so its pgid is its pid).
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            let _ = child.kill();
            let _ = child.wait();
            // The backends die with the group; give the kernel a moment to reap them so that
            // the next postmaster finds the shared memory free.
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && self.group_alive() {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Whether a process of the killed server's group is still running (zombies, which a
    /// container's init may leave unreaped, do not count).
    fn group_alive(&self) -> bool {
        let Ok(text) = std::fs::read_to_string(self.dir.path().join("data/postmaster.pid")) else {
            return false;
        };
        let Some(pgid) = text
            .lines()
            .next()
            .and_then(|l| l.trim().parse::<i64>().ok())
        else {
            return false;
        };
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
            .any(|stat| {
                // After the command in parentheses: state, ppid, pgrp.
                let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
                let f: Vec<&str> = rest.split_whitespace().collect();
                f.len() > 2 && f[0] != "Z" && f[2].parse::<i64>().ok() == Some(pgid)
            })
    }

    /// Starts the server (again) on the same data directory and port and waits until it
    /// accepts connections (after crash recovery; 60 s at most).
    pub async fn start_again(&mut self) -> Result<(), String> {
        self.kill();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("postgres log: {e}"))?;
        let mut cmd = Command::new(self.bin.join("postgres"));
        cmd.arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(self.dir.path().join("sock"))
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=200",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0);
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.bin.join("postgres").display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.is_ready() {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                self.child = None;
                return Err(format!(
                    "postgres exited ({status}); its log: {}",
                    self.log_path().display()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "postgres not ready within 60 s; its log: {}",
                    self.log_path().display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.kill();
    }
}
