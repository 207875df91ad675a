//! Printing beside the order path: print workers take the lab's print jobs from a JetStream
//! work queue per printer (`reprint_bus::print`) and write the hot folders with
//! `reprint_print`; the lab's intake, console and dispatch never wait for a render.
//!
//! - **Start printing** ([`crate::production::start_printing`]) appends its events and, in the
//!   same transaction, puts one job per size on the outbox (`reprint.v1.print.<lab>.<printer>.job`,
//!   message id `<lab>:<order>:print-job:<size>`) and a `queued` row in `lab_print_jobs`; the
//!   relay publishes the jobs after commit. It returns at once.
//! - **A worker** ([`run_worker`]) pulls one job at a time from its printer's durable consumer
//!   (shared by every worker of that printer, in this process or in `reprint-lab print-worker`
//!   processes on other machines: a worker needs only NATS and the hot folder), reports it
//!   `rendering`, fetches the images from the object store, writes the job folder
//!   ([`reprint_print::write_job`]: under `.tmp-`, renamed when complete; a folder already there
//!   is left as it is, so a redelivered job has one effect; a job withdrawn meanwhile is not
//!   written), reports `written` (or `withdrawn`, or `failed` with the reason in words) and only
//!   then acknowledges the job. While rendering it tells JetStream the job is in progress; a
//!   worker killed before its ack has its job redelivered after the consumer's `ack_wait`.
//!   A passing trouble (NATS away, a disk error) is tried again (`max_deliver` times); an image
//!   that cannot be printed fails at once.
//! - **Reports** come back on `reprint.v1.print.<lab>.reported` and are recorded through the
//!   lab's inbox table (each once) into `lab_print_jobs` ([`ReportInbox`]); the console's
//!   printers page shows every printer's jobs queued, rendering, written and failed.
//! - **Withdrawal**: a rejected reception's jobs are withdrawn from the hot folders
//!   ([`crate::production::withdraw_pending`]), which leaves a withdrawal mark for every job
//!   folder, written or not; a worker that gets a withdrawn job skips it.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::future::BoxFuture;
use reprint_bus::consumer::{Handler, HandlerError, Incoming};
use reprint_bus::objects::Images;
use reprint_bus::print::{
    JobConsumerSettings, PrinterName, job_consumer, job_subject, report_subject,
};
use reprint_bus::subjects::SiteId;
use reprint_eventstore::sql::{self, ts};
use reprint_eventstore::{OutboxMessage, Store, Transaction};
use reprint_print::{JobReport, JobState, PrintJob, WriteError, Written, write_job};
use reprint_service::shutdown::Shutdown;
use sqlx::FromRow;

use crate::error::{LabError, LabResult};
use crate::state::{Lab, Printer};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS lab_print_jobs (
        order_id TEXT NOT NULL,
        size TEXT NOT NULL,
        reception_number TEXT NOT NULL,
        printer TEXT NOT NULL,
        prints BIGINT NOT NULL,
        state TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        worker TEXT NOT NULL DEFAULT '',
        queued_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (order_id, size)
    )",
    "CREATE INDEX IF NOT EXISTS lab_print_jobs_printer ON lab_print_jobs (printer, state)",
];

/// Creates the lab's print job table (idempotent).
pub async fn migrate(store: &Store) -> Result<(), reprint_eventstore::Error> {
    sql::migrate(store, SCHEMA).await
}

/// The message id of a reception's job of one size (one job once, however often sent).
fn job_message_id(job: &PrintJob) -> String {
    format!("{}:{}:print-job:{}", job.site, job.order, job.size.code())
}

/// Puts `jobs` on the outbox (published after commit) and records them `queued`.
pub async fn enqueue_jobs(
    tx: &mut Transaction,
    jobs: &[(Printer, PrintJob)],
    traceparent: Option<&str>,
    now: DateTime<Utc>,
) -> LabResult<()> {
    let mut messages = Vec::with_capacity(jobs.len());
    for (printer, job) in jobs {
        let site =
            SiteId::parse(job.site.as_str()).map_err(|e| LabError::Internal(e.to_string()))?;
        let name = PrinterName::parse(&printer.config.name)
            .map_err(|e| LabError::Internal(e.to_string()))?;
        let payload =
            serde_json::to_vec(job).map_err(|e| LabError::Internal(format!("print job: {e}")))?;
        messages.push(OutboxMessage {
            message_id: job_message_id(job),
            subject: job_subject(&site, &name),
            payload,
            headers: reprint_bus::message::headers("print.job", traceparent),
        });
        sql::exec(
            tx.conn(),
            "INSERT INTO lab_print_jobs (order_id, size, reception_number, printer, prints, state, queued_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'queued', $6, $6) ON CONFLICT (order_id, size) DO NOTHING",
            &[
                job.order.as_str().into(),
                job.size.code().into(),
                job.reception.as_str().into(),
                printer.config.name.as_str().into(),
                (job.prints() as i64).into(),
                ts(now).into(),
            ],
        )
        .await
        .map_err(reprint_eventstore::Error::from)?;
    }
    tx.enqueue(&messages).await?;
    Ok(())
}

/// Records a worker's report (a `rendering` after the job's end is an old one: ignored).
pub async fn record_report(tx: &mut Transaction, report: &JobReport) -> LabResult<()> {
    let guard = if report.state.is_final() {
        ""
    } else {
        " AND state NOT IN ('written', 'withdrawn', 'failed')"
    };
    sql::exec(
        tx.conn(),
        &format!(
            "UPDATE lab_print_jobs SET state = $1, reason = $2, worker = $3, updated_at = $4 WHERE order_id = $5 AND size = $6{guard}"
        ),
        &[
            report.state.as_str().into(),
            report.reason.clone().unwrap_or_default().into(),
            report.worker.as_str().into(),
            ts(report.at).into(),
            report.order.as_str().into(),
            report.size.code().into(),
        ],
    )
    .await
    .map_err(reprint_eventstore::Error::from)?;
    Ok(())
}

/// The workers' reports, recorded through the lab's inbox table (each once).
pub struct ReportInbox(pub Lab);

impl Handler for ReportInbox {
    fn handle<'a>(
        &'a self,
        tx: &'a mut Transaction,
        message: &'a Incoming,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let report: JobReport = message.json()?;
            if report.site != self.0.site().as_str() {
                return Err(HandlerError::permanent(format!(
                    "a print report for {}, this is {}",
                    report.site,
                    self.0.site()
                )));
            }
            record_report(tx, &report)
                .await
                .map_err(crate::inbox::handler_error)?;
            if report.state == JobState::Failed {
                tracing::warn!(reception = %report.reception, size = %report.size, printer = %report.printer,
                    reason = report.reason.as_deref().unwrap_or(""), "a print job failed");
            }
            Ok(())
        })
    }
}

/// The prints still to come out of `printer` (the finish estimate's queue): the receptions
/// `received` on it, plus the jobs of the receptions `printing` queued, rendering or written
/// (not failed or withdrawn; a reception whose station finished every job is `printed`);
/// a reception that started printing before its jobs were recorded here counts by its queue
/// lines. The queue lines are found from the receptions still `received` or `printing` (their
/// state index), never from the printer's every line since the lab opened (queue lines stay
/// after printing: read that way, each order's estimate cost grew with the lab's history);
/// `CROSS JOIN` keeps SQLite's planner to that order, and `printer || ''` keeps both databases
/// off the printer's index of every line (each line is found by its reception instead). The
/// cost still grows with the backlog (the receptions waiting), not with history.
pub async fn waiting_prints(tx: &mut Transaction, printer: &str) -> LabResult<i64> {
    let n = sql::scalar_i64(
        tx.conn(),
        "SELECT CAST(COALESCE((SELECT SUM(q.prints) FROM lab_receptions r CROSS JOIN lab_queue q WHERE r.state IN ('received', 'printing') AND q.order_id = r.order_id AND q.printer || '' = $1 AND (r.state = 'received' OR NOT EXISTS (SELECT 1 FROM lab_print_jobs o WHERE o.order_id = q.order_id AND o.size = q.size))), 0) + COALESCE((SELECT SUM(j.prints) FROM lab_print_jobs j JOIN lab_receptions r ON r.order_id = j.order_id WHERE j.printer = $1 AND r.state = 'printing' AND j.state IN ('queued', 'rendering', 'written')), 0) AS BIGINT)",
        &[printer.into()],
    )
    .await
    .map_err(reprint_eventstore::Error::from)?;
    Ok(n)
}

/// One job as the console shows it.
#[derive(Debug, Clone, FromRow)]
pub struct JobRow {
    pub order_id: String,
    pub size: String,
    pub reception_number: String,
    pub printer: String,
    pub prints: i64,
    pub state: String,
    pub reason: String,
    pub worker: String,
    pub queued_at: String,
    pub updated_at: String,
}

/// Jobs of the receptions printing, per printer and state: `(printer, state, jobs, prints)`.
pub async fn job_counts(lab: &Lab) -> LabResult<Vec<(String, String, i64, i64)>> {
    #[derive(FromRow)]
    struct Count {
        printer: String,
        state: String,
        jobs: i64,
        prints: i64,
    }
    let mut tx = lab.store.begin().await?;
    let rows: Vec<Count> = sql::fetch(
        tx.conn(),
        "SELECT j.printer, j.state, CAST(COUNT(*) AS BIGINT) AS jobs, CAST(SUM(j.prints) AS BIGINT) AS prints FROM lab_print_jobs j JOIN lab_receptions r ON r.order_id = j.order_id WHERE r.state = 'printing' GROUP BY j.printer, j.state ORDER BY j.printer, j.state",
        &[],
    )
    .await
    .map_err(reprint_eventstore::Error::from)?;
    tx.rollback().await?;
    Ok(rows
        .into_iter()
        .map(|c| (c.printer, c.state, c.jobs, c.prints))
        .collect())
}

/// The jobs not yet written (queued, rendering) and the failed ones, oldest first.
pub async fn open_jobs(lab: &Lab, limit: i64) -> LabResult<Vec<JobRow>> {
    let mut tx = lab.store.begin().await?;
    let rows: Vec<JobRow> = sql::fetch(
        tx.conn(),
        "SELECT j.order_id, j.size, j.reception_number, j.printer, j.prints, j.state, j.reason, j.worker, j.queued_at, j.updated_at FROM lab_print_jobs j JOIN lab_receptions r ON r.order_id = j.order_id WHERE j.state IN ('queued', 'rendering', 'failed') AND r.state = 'printing' ORDER BY j.queued_at LIMIT $1",
        &[limit.into()],
    )
    .await
    .map_err(reprint_eventstore::Error::from)?;
    tx.rollback().await?;
    Ok(rows)
}

/// The jobs of one reception.
pub async fn jobs_of(lab: &Lab, order: &str) -> LabResult<Vec<JobRow>> {
    let mut tx = lab.store.begin().await?;
    let rows: Vec<JobRow> = sql::fetch(
        tx.conn(),
        "SELECT order_id, size, reception_number, printer, prints, state, reason, worker, queued_at, updated_at FROM lab_print_jobs WHERE order_id = $1 ORDER BY size",
        &[order.into()],
    )
    .await
    .map_err(reprint_eventstore::Error::from)?;
    tx.rollback().await?;
    Ok(rows)
}

// ------------------------------------------------------------------------------------ workers

/// What a print worker needs: NATS (the job queue, the image bucket) and its printers' hot
/// folders and profiles. Cheap to clone.
#[derive(Clone)]
pub struct WorkerContext {
    pub js: jetstream::Context,
    pub images: Images,
    pub site: SiteId,
    pub printers: Vec<Printer>,
    /// One permit per print being rendered in this process.
    pub render_slots: Arc<tokio::sync::Semaphore>,
    pub consumer: JobConsumerSettings,
}

impl WorkerContext {
    /// The workers inside the lab's process: its NATS connection, image bucket and printers.
    pub fn of_lab(lab: &Lab, js: jetstream::Context) -> LabResult<WorkerContext> {
        Ok(WorkerContext {
            js,
            images: lab.images.clone(),
            site: SiteId::parse(lab.site().as_str())
                .map_err(|e| LabError::Internal(e.to_string()))?,
            printers: lab.printers.clone(),
            render_slots: lab.render_slots.clone(),
            consumer: lab.config.printing.consumer(),
        })
    }
}

/// A worker's name in reports: `<host>/<pid>/<printer>-<n>`.
fn worker_name(printer: &str, n: usize) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    format!("{host}/{}/{printer}-{n}", std::process::id())
}

/// Runs `per_printer` workers for every printer of `ctx` until `shutdown` (each finishes the
/// job in hand first).
pub async fn run_workers(ctx: WorkerContext, per_printer: usize, shutdown: Shutdown) {
    let mut handles = Vec::new();
    for printer in ctx.printers.clone() {
        for n in 1..=per_printer {
            let ctx = ctx.clone();
            let printer = printer.clone();
            let s = shutdown.clone();
            handles.push(tokio::spawn(async move {
                run_worker(ctx, printer, n, s).await;
            }));
        }
    }
    for h in handles {
        let _ = h.await;
    }
}

/// One worker of `printer`: takes its jobs one at a time until `shutdown`; opens its consumer
/// again after an error, with a pause.
pub async fn run_worker(ctx: WorkerContext, printer: Printer, n: usize, shutdown: Shutdown) {
    let name = worker_name(&printer.config.name, n);
    let Ok(printer_name) = PrinterName::parse(&printer.config.name) else {
        tracing::error!(printer = %printer.config.name, "a printer name that cannot be a subject token");
        return;
    };
    let durable = job_consumer(&ctx.site, &printer_name, &ctx.consumer);
    let pause = Duration::from_secs(1);
    loop {
        if shutdown.is_triggered() {
            return;
        }
        let consumer = tokio::select! {
            biased;
            _ = shutdown.clone().wait() => return,
            c = reprint_bus::streams::ensure_consumer(&ctx.js, &durable) => c,
        };
        let consumer = match consumer {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(worker = %name, error = %e, "print job consumer cannot be opened; trying again");
                tokio::time::sleep(pause).await;
                continue;
            }
        };
        loop {
            let batch = tokio::select! {
                biased;
                _ = shutdown.clone().wait() => return,
                b = consumer
                    .fetch()
                    .max_messages(1)
                    .expires(reprint_bus::consumer::PULL_WAIT)
                    .messages() => b,
            };
            let mut batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(worker = %name, error = %e, "print job pull request");
                    tokio::time::sleep(pause).await;
                    break;
                }
            };
            while let Some(message) = batch.next().await {
                match message {
                    Ok(m) => take_job(&ctx, &printer, &name, m).await,
                    Err(e) => {
                        tracing::debug!(worker = %name, error = %e, "print job pull");
                        tokio::time::sleep(pause).await;
                    }
                }
            }
        }
    }
}

/// What became of a job in hand.
enum Outcome {
    Report(JobState, Option<String>),
    /// Worth another try (NATS or the disk): back to the queue after a pause.
    Retry(String),
}

async fn take_job(
    ctx: &WorkerContext,
    printer: &Printer,
    worker: &str,
    message: jetstream::Message,
) {
    let delivery = message
        .info()
        .map(|i| i.delivered.max(1) as u64)
        .unwrap_or(1);
    let job: PrintJob = match serde_json::from_slice(&message.payload) {
        Ok(j) => j,
        Err(e) => {
            tracing::error!(worker, error = %e, "a print job that does not parse: dropped");
            let _ = message.ack_with(AckKind::Term).await;
            return;
        }
    };
    let report = |state: JobState, reason: Option<String>| JobReport {
        site: job.site.clone(),
        order: job.order.clone(),
        reception: job.reception.clone(),
        printer: job.printer.clone(),
        size: job.size,
        state,
        reason,
        worker: worker.to_string(),
        delivery,
        at: Utc::now(),
    };
    if let Err(e) = publish_report(ctx, &report(JobState::Rendering, None)).await {
        tracing::warn!(worker, error = %e, "cannot report a job rendering; it goes back to the queue");
        let _ = message
            .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
            .await;
        return;
    }
    let work = write(ctx, printer, &job);
    tokio::pin!(work);
    // In progress: said three times per ack_wait, so a long job is not redelivered.
    let mut tick =
        tokio::time::interval((ctx.consumer.ack_wait / 3).max(Duration::from_millis(100)));
    tick.tick().await;
    let outcome = loop {
        tokio::select! {
            outcome = &mut work => break outcome,
            _ = tick.tick() => {
                let _ = message.ack_with(AckKind::Progress).await;
            }
        }
    };
    let (state, reason) = match outcome {
        Outcome::Report(state, reason) => (state, reason),
        Outcome::Retry(why) if (delivery as i64) < ctx.consumer.max_deliver => {
            tracing::warn!(worker, reception = %job.reception, size = %job.size, delivery, error = %why,
                "print job not written yet; it goes back to the queue");
            let _ = message
                .ack_with(AckKind::Nak(Some(Duration::from_secs(2))))
                .await;
            return;
        }
        Outcome::Retry(why) => (
            JobState::Failed,
            Some(format!("not written after {delivery} attempts: {why}")),
        ),
    };
    match publish_report(ctx, &report(state, reason)).await {
        Ok(()) => {
            if let Err(e) = message.double_ack().await {
                // Redelivered later: written already, so reported again, once.
                tracing::warn!(worker, error = %e, "print job ack");
            }
        }
        Err(e) => {
            tracing::warn!(worker, error = %e, "cannot report a job; it goes back to the queue");
            let _ = message
                .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                .await;
        }
    }
}

async fn write(ctx: &WorkerContext, printer: &Printer, job: &PrintJob) -> Outcome {
    let written = write_job(
        &printer.config.hot_folder,
        job,
        &printer.icc,
        Some(&ctx.render_slots),
        |hash| {
            let images = ctx.images.clone();
            async move { crate::production::fetch_image_from(&images, &hash).await }
        },
    )
    .await;
    match written {
        Ok(Written::Written | Written::AlreadyThere) => Outcome::Report(JobState::Written, None),
        Ok(Written::Withdrawn) => Outcome::Report(
            JobState::Withdrawn,
            Some("the reception was rejected before its job was written".into()),
        ),
        Err(WriteError::Fetch(LabError::Bus(e))) if e.is_transient() => {
            Outcome::Retry(format!("the image store cannot be read: {e}"))
        }
        Err(
            e @ (WriteError::Unprintable { .. } | WriteError::BadJob(_) | WriteError::Fetch(_)),
        ) => Outcome::Report(
            JobState::Failed,
            Some(format!(
                "{e}; reject the order with this reason, or ask the customer for the image again"
            )),
        ),
        Err(e @ (WriteError::Render { .. } | WriteError::Io(_))) => Outcome::Retry(e.to_string()),
    }
}

async fn publish_report(ctx: &WorkerContext, report: &JobReport) -> Result<(), LabError> {
    let payload =
        serde_json::to_vec(report).map_err(|e| LabError::Internal(format!("print report: {e}")))?;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", report.message_id().as_str());
    headers.insert("Content-Type", reprint_bus::message::JSON);
    headers.insert(reprint_bus::message::HEADER_MESSAGE, "print.reported");
    let ack = ctx
        .js
        .publish_with_headers(report_subject(&ctx.site), headers, payload.into())
        .await
        .map_err(|e| LabError::Bus(reprint_bus::BusError::nats("publish a print report", e)))?;
    ack.await
        .map_err(|e| LabError::Bus(reprint_bus::BusError::nats("publish a print report", e)))?;
    Ok(())
}

// ------------------------------------------------------------------------ the worker process

/// `reprint-lab print-worker`: `workers` workers per printer of `config`, on their own NATS
/// connection, until `shutdown`. Needs NATS and the printers' hot folders only (not the
/// lab's store).
pub async fn run_print_worker(
    config: crate::LabConfig,
    workers: usize,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let ctx = connect_workers(&config, "reprint-lab-print-worker").await?;
    tracing::info!(site = %ctx.site, workers, printers = ctx.printers.len(), "print worker running");
    run_workers(ctx, workers.max(1), shutdown).await;
    Ok::<_, anyhow::Error>(()).context("print worker")
}

/// The context of print workers for the lab of `config`, on a NATS connection of their own.
pub async fn connect_workers(
    config: &crate::LabConfig,
    client_name: &str,
) -> anyhow::Result<WorkerContext> {
    use anyhow::Context;
    let printers = crate::load_printers(config)?;
    let site = config.site().clone();
    let auth = config
        .nats
        .auth()
        .context("nats.user/password/creds_file")?;
    let settings = reprint_bus::connect::ConnectSettings::new(
        &config.nats.url,
        format!("{client_name}@{site}"),
    )
    .with_auth(auth)
    .with_inbox_prefix(reprint_bus::connect::site_inbox_prefix(site.as_str()));
    let conn = reprint_bus::connect::connect_and_wait(&settings, Duration::from_secs(30))
        .await
        .with_context(|| format!("nats.url: cannot reach NATS at {}", config.nats.url))?;
    let streams = reprint_bus::streams::StreamSettings {
        replicas: config.nats.replicas,
        ..Default::default()
    };
    reprint_bus::print::provision_print_stream(&conn.jetstream, &streams).await?;
    let images = reprint_bus::objects::ImageStoreSettings {
        replicas: config.nats.replicas,
        ..Default::default()
    };
    let images = Images::open(&conn.jetstream, images).await?;
    Ok(WorkerContext {
        js: conn.jetstream.clone(),
        images,
        site: SiteId::parse(site.as_str())?,
        printers,
        render_slots: Arc::new(tokio::sync::Semaphore::new(
            config.production.render_threads.max(1),
        )),
        consumer: config.printing.consumer(),
    })
}
