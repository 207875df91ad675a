//! Printing beside the order path (issue 18): the start of printing returns before anything is
//! rendered, the jobs wait on the printers' work queue; print workers (each on its own NATS
//! connection, as `reprint-lab print-worker` runs them) share a printer's queue, each job
//! written once; a worker killed holding a job has it redelivered and written once; a job
//! withdrawn while queued is skipped.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use reprint_bus::print::{PrinterName, STREAM_PRINT, job_consumer};
use reprint_domain::protocol::ReceptionRecorded;
use reprint_domain::*;
use reprint_print::{JobReport, JobState};

use common::*;

/// The lab with no worker of its own (only the test's), jobs redelivered after 2 s of silence.
fn no_workers(t: String) -> String {
    t.replace("workers = 1\n", "workers = 0\n")
        .replace("ack_wait_secs = 30", "ack_wait_secs = 2")
}

struct Worker {
    trigger: reprint_service::shutdown::ShutdownTrigger,
    handle: tokio::task::JoinHandle<()>,
}

impl Worker {
    /// A print worker as the `print-worker` process runs it: its own NATS connection.
    async fn start(config: &reprint_lab::LabConfig, name: &str) -> Worker {
        let ctx = reprint_lab::printing::connect_workers(config, name)
            .await
            .unwrap();
        let (trigger, shutdown) = reprint_service::shutdown::channel();
        let handle = tokio::spawn(reprint_lab::printing::run_workers(ctx, 1, shutdown));
        Worker { trigger, handle }
    }

    async fn stop(self) {
        self.trigger.trigger();
        tokio::time::timeout(Duration::from_secs(10), self.handle)
            .await
            .expect("a worker stops within 10 s")
            .unwrap();
    }
}

/// Places an L order of image `seed` and returns its reception number.
async fn receive(
    peer: &Peer,
    replies: &mut async_nats::Subscriber,
    seed: u64,
    at: chrono::DateTime<chrono::Utc>,
) -> (OrderId, String) {
    let (order, number, _) = receive_prints(peer, replies, seed, 2, at).await;
    (order, number)
}

/// Places an order of `prints` L prints of image `seed`: its reception number and the lab's
/// finish estimate.
async fn receive_prints(
    peer: &Peer,
    replies: &mut async_nats::Subscriber,
    seed: u64,
    prints: u32,
    at: chrono::DateTime<chrono::Utc>,
) -> (OrderId, String, chrono::DateTime<chrono::Utc>) {
    let image = peer.upload(seed).await;
    let mut order = internet_order(image, PrintSize::L, at);
    order.items[0].quantity = prints;
    peer.place(&order).await;
    let r: ReceptionRecorded = next(replies, "reception.recorded", |r: &ReceptionRecorded| {
        r.order == order.order
    })
    .await;
    (
        order.order,
        r.extract.reception.number.as_str().to_string(),
        r.estimated_finish.expect("(8) the finish estimate"),
    )
}

async fn job_states(lab: &Running, order: OrderId) -> Vec<(String, String)> {
    reprint_lab::printing::jobs_of(&lab.lab, &order.to_string())
        .await
        .unwrap()
        .into_iter()
        .map(|j| (j.state, j.reason))
        .collect()
}

async fn until_state(lab: &Running, order: OrderId, state: &str) -> Vec<(String, String)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let states = job_states(lab, order).await;
        if states.iter().all(|(s, _)| s == state) && !states.is_empty() {
            return states;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "jobs of {order} not {state} within 30 s: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn messages_in_queue(peer: &Peer) -> u64 {
    let mut stream = peer.js.get_stream(STREAM_PRINT).await.unwrap();
    stream.info().await.unwrap().state.messages
}

#[tokio::test]
async fn printing_starts_at_once_and_two_workers_share_the_queue_each_job_written_once() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let config = rig.config_with(no_workers);
    let lab = Running::start(config.clone(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let mut reports = peer.subscribe("reprint.v1.print.lab-a.reported").await;
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let csrf = log_in(&http, &lab).await;
    let hot = rig.dir.path().join("hot/minilab-1");

    // Six receptions start printing; no worker runs yet, so nothing can have been rendered:
    // the start did not wait for a render.
    let mut receptions = Vec::new();
    for seed in 40..46 {
        let (order, number) = receive(&peer, &mut replies, seed, at).await;
        let row = act(&http, &lab, &csrf, &number, "start-printing").await;
        assert_eq!(row["state"], "printing");
        receptions.push((order, number));
    }
    assert!(!hot.exists() || list(&hot).is_empty(), "{:?}", list(&hot));
    for (order, _) in &receptions {
        assert_eq!(
            job_states(&lab, *order).await,
            [("queued".into(), String::new())]
        );
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while messages_in_queue(&peer).await < 6 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the six jobs on the work queue"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let page = http
        .get(lab.url("/printers"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("data-print-jobs=\"queued\">6<"),
        "the printers page counts six queued: {page}"
    );

    // Two workers share minilab-1's queue.
    let a = Worker::start(&config, "worker-a").await;
    let b = Worker::start(&config, "worker-b").await;
    for (order, number) in &receptions {
        until_state(&lab, *order, "written").await;
        let job = hot.join(format!("{number}-L"));
        assert!(job.join("MISC/AUTPRINT.MRK").exists());
        assert!(job.join(format!("{number}-01.JPG")).exists());
    }
    assert_eq!(
        list(&hot),
        receptions
            .iter()
            .map(|(_, n)| hot.join(format!("{n}-L")))
            .collect::<Vec<_>>(),
        "one folder per job, no temporary left"
    );
    // Each job reported written once, and gone from the work queue.
    let mut written: HashMap<String, usize> = HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while written.len() < 6 || written.values().any(|n| *n == 0) {
        let Ok(Some(m)) = tokio::time::timeout_at(deadline, reports.next()).await else {
            break;
        };
        let r: JobReport = serde_json::from_slice(&m.payload).unwrap();
        if r.state == JobState::Written {
            *written.entry(r.reception.clone()).or_default() += 1;
        }
    }
    // Late duplicates would arrive within a second.
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(1), reports.next()).await {
        let r: JobReport = serde_json::from_slice(&m.payload).unwrap();
        if r.state == JobState::Written {
            *written.entry(r.reception.clone()).or_default() += 1;
        }
    }
    assert_eq!(written.len(), 6, "{written:?}");
    assert!(written.values().all(|n| *n == 1), "{written:?}");
    assert_eq!(messages_in_queue(&peer).await, 0, "every job acknowledged");
    a.stop().await;
    b.stop().await;
    lab.stop().await;
}

#[tokio::test]
async fn a_killed_workers_job_is_redelivered_and_written_once() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let config = rig.config_with(no_workers);
    let lab = Running::start(config.clone(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let csrf = log_in(&http, &lab).await;
    let hot = rig.dir.path().join("hot/minilab-1");
    let (order, number) = receive(&peer, &mut replies, 50, at).await;
    act(&http, &lab, &csrf, &number, "start-printing").await;

    // A worker takes the job and dies before it acknowledges it (a killed process).
    let site = reprint_bus::subjects::SiteId::parse("lab-a").unwrap();
    let durable = job_consumer(
        &site,
        &PrinterName::parse("minilab-1").unwrap(),
        &config.printing.consumer(),
    );
    let consumer = reprint_bus::streams::ensure_consumer(&peer.js, &durable)
        .await
        .unwrap();
    let mut batch = consumer
        .fetch()
        .max_messages(1)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .unwrap();
    let taken = batch.next().await.unwrap().unwrap();
    let job: reprint_print::PrintJob = serde_json::from_slice(&taken.payload).unwrap();
    assert_eq!(job.reception, number);
    drop(taken);
    drop(batch);

    // A live worker gets it once its ack wait (2 s) has passed, and writes it once.
    let started = tokio::time::Instant::now();
    let w = Worker::start(&config, "worker-after").await;
    until_state(&lab, order, "written").await;
    assert!(hot.join(format!("{number}-L/{number}-01.JPG")).exists());
    assert_eq!(list(&hot), [hot.join(format!("{number}-L"))]);
    let jobs = reprint_lab::printing::jobs_of(&lab.lab, &order.to_string())
        .await
        .unwrap();
    assert!(jobs[0].worker.contains("minilab-1"), "{:?}", jobs[0]);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(messages_in_queue(&peer).await, 0);
    w.stop().await;
    lab.stop().await;
}

#[tokio::test]
async fn a_job_withdrawn_while_queued_is_not_written() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let config = rig.config_with(no_workers);
    let lab = Running::start(config.clone(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let csrf = log_in(&http, &lab).await;
    let hot = rig.dir.path().join("hot/minilab-1");
    let (order, number) = receive(&peer, &mut replies, 60, at).await;
    act(&http, &lab, &csrf, &number, "start-printing").await;
    let r = reject(&http, &lab, &csrf, &number, "the customer called").await;
    assert_eq!(r.status(), 200);
    let w = Worker::start(&config, "worker-late").await;
    until_state(&lab, order, "withdrawn").await;
    assert!(
        !hot.join(format!("{number}-L")).exists(),
        "a print station would print a rejected order"
    );
    assert!(
        list(&hot).is_empty(),
        "the withdrawal mark is spent: {:?}",
        list(&hot)
    );
    assert_eq!(messages_in_queue(&peer).await, 0);
    w.stop().await;
    lab.stop().await;
}

#[tokio::test]
async fn the_finish_estimate_is_the_printers_real_queue_at_its_rated_capacity() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    // minilab-1 rated 60 prints an hour (a print a minute); 30 minutes' handling.
    let config =
        rig.config_with(|t| no_workers(t).replace("prints_per_hour = 600", "prints_per_hour = 60"));
    let lab = Running::start(config.clone(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let csrf = log_in(&http, &lab).await;
    let hot = rig.dir.path().join("hot/minilab-1");
    let minutes = |m: i64| at + chrono::Duration::minutes(30 + m);

    // An empty queue: the order's own 10 prints.
    let (_, a, finish) = receive_prints(&peer, &mut replies, 70, 10, at).await;
    assert_eq!(finish, minutes(10));
    // A's 10 wait (received): 10 + 5.
    let (_, b, finish) = receive_prints(&peer, &mut replies, 71, 5, at).await;
    assert_eq!(finish, minutes(15));
    // A printing, its job queued for a worker: still to come out: 10 + 5 + 1.
    act(&http, &lab, &csrf, &a, "start-printing").await;
    let (_, c, finish) = receive_prints(&peer, &mut replies, 72, 1, at).await;
    assert_eq!(finish, minutes(16));
    // A rejected: its job withdrawn, off the queue: 5 + 1 + 2.
    assert_eq!(
        reject(&http, &lab, &csrf, &a, "the customer called")
            .await
            .status(),
        200
    );
    let (_, _d, finish) = receive_prints(&peer, &mut replies, 73, 2, at).await;
    assert_eq!(finish, minutes(8));
    // B and C written to the hot folder, not printed yet: still on the queue: 5 + 1 + 2 + 1.
    act(&http, &lab, &csrf, &b, "start-printing").await;
    act(&http, &lab, &csrf, &c, "start-printing").await;
    let w = Worker::start(&config, "worker-estimate").await;
    for n in [&b, &c] {
        let dir = hot.join(format!("{n}-L"));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !dir.exists() {
            assert!(tokio::time::Instant::now() < deadline, "{n} written");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    let (_, _e, finish) = receive_prints(&peer, &mut replies, 74, 1, at).await;
    assert_eq!(finish, minutes(9));
    // The station finishes B and C (done markers): D 2 + E 1 + F 1.
    for n in [&b, &c] {
        std::fs::write(hot.join(format!("{n}-L")).join("DONE"), b"").unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for n in [&b, &c] {
        loop {
            let row = http
                .get(lab.url(&format!("/api/v1/receptions/{n}")))
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap();
            if row["production"]["state"] == "printed" {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{n} printed: {row}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let (_, _f, finish) = receive_prints(&peer, &mut replies, 75, 1, at).await;
    assert_eq!(finish, minutes(4));
    w.stop().await;
    lab.stop().await;
}
