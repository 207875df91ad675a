//! Print jobs on a JetStream work queue, per site and printer, and the workers' reports.
//!
//! | subject | publisher | consumer |
//! |---|---|---|
//! | `reprint.v1.print.<site>.<printer>.job` | the site's outbox (a reception's job of one size) | the printer's print workers, durable `print-<site>-<printer>` |
//! | `reprint.v1.print.<site>.reported` | a print worker: the job rendering, written, withdrawn or failed | the site, durable `print-<site>-reports` (recorded through its inbox table) |
//!
//! Both live in the stream `REPRINT_PRINT` (`reprint.v1.print.>`) with work-queue retention: a
//! message is gone once a worker (or the site) acknowledged it, and every consumer filters on
//! subjects no other consumer reads, so several workers pulling from one printer's durable
//! consumer share its jobs (each job to one of them). A worker that stops without
//! acknowledging (killed) has its job redelivered after the consumer's `ack_wait`. Jobs are
//! published with `Nats-Msg-Id` (the outbox row's id: one job once, however often the relay
//! sends it); discard-new, so a full stream refuses a job rather than dropping one.
//!
//! The stream is provisioned by the sites that print and by their workers
//! ([`provision_print_stream`]), not by every service.

use std::time::Duration;

use async_nats::jetstream::{
    self,
    consumer::{AckPolicy, DeliverPolicy, ReplayPolicy, pull},
    stream::{self, DiscardPolicy, RetentionPolicy, StorageType},
};

use crate::error::BusError;
use crate::streams::{DUPLICATE_WINDOW, DurableConsumer, StreamSettings};
use crate::subjects::{PREFIX, SiteId, SubjectError};

/// The stream of print jobs and reports.
pub const STREAM_PRINT: &str = "REPRINT_PRINT";

/// A printer's name as a subject token: 1 to 64 ASCII letters, digits, `-` or `_` (the lab's
/// configuration checks its printers' names the same way).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PrinterName(String);

impl PrinterName {
    pub fn parse(name: &str) -> Result<PrinterName, SubjectError> {
        let ok = !name.is_empty()
            && name.len() <= crate::subjects::MAX_TOKEN_LEN
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            Ok(PrinterName(name.to_string()))
        } else {
            Err(SubjectError::InvalidToken {
                what: "printer name",
                value: name.to_string(),
                reason: "1 to 64 letters, digits, '-' or '_'".to_string(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PrinterName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `reprint.v1.print.<site>.<printer>.job`: the jobs of one printer of one site.
pub fn job_subject(site: &SiteId, printer: &PrinterName) -> String {
    format!("{PREFIX}.print.{site}.{printer}.job")
}

/// `reprint.v1.print.<site>.reported`: what the site's print workers report.
pub fn report_subject(site: &SiteId) -> String {
    format!("{PREFIX}.print.{site}.reported")
}

/// The configuration of `REPRINT_PRINT`.
pub fn print_stream_config(s: &StreamSettings) -> stream::Config {
    stream::Config {
        name: STREAM_PRINT.to_string(),
        description: Some("reprint: print jobs per site and printer, and their reports".into()),
        subjects: vec![format!("{PREFIX}.print.>")],
        retention: RetentionPolicy::WorkQueue,
        discard: DiscardPolicy::New,
        storage: StorageType::File,
        num_replicas: s.replicas,
        max_age: s.inbox_max_age,
        duplicate_window: DUPLICATE_WINDOW,
        max_message_size: s.max_message_size,
        max_bytes: s.max_bytes,
        max_messages: -1,
        max_messages_per_subject: -1,
        max_consumers: -1,
        ..Default::default()
    }
}

/// Creates `REPRINT_PRINT` or updates it to [`print_stream_config`]; idempotent.
pub async fn provision_print_stream(
    js: &jetstream::Context,
    settings: &StreamSettings,
) -> Result<stream::Info, BusError> {
    let deadline = tokio::time::Instant::now() + settings.ready_within;
    crate::streams::create_or_update_stream_patiently(js, print_stream_config(settings), deadline)
        .await
        .map_err(|e| BusError::nats(format!("create or update stream {STREAM_PRINT}"), e))
}

/// Delivery settings of a printer's job consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobConsumerSettings {
    /// How long a job may go without an ack or a progress signal before it is redelivered
    /// (the worker signals progress while rendering; a killed worker's job comes back after
    /// this).
    pub ack_wait: Duration,
    /// Deliveries of one job at most (the worker reports it failed on the last).
    pub max_deliver: i64,
}

impl Default for JobConsumerSettings {
    fn default() -> Self {
        JobConsumerSettings {
            ack_wait: Duration::from_secs(30),
            max_deliver: 5,
        }
    }
}

fn durable(
    stream: &str,
    name: String,
    filter: String,
    description: String,
    ack_wait: Duration,
    max_deliver: i64,
    max_ack_pending: i64,
) -> DurableConsumer {
    DurableConsumer {
        stream: stream.to_string(),
        config: pull::Config {
            durable_name: Some(name),
            description: Some(description),
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::Explicit,
            ack_wait,
            max_deliver,
            filter_subject: filter,
            replay_policy: ReplayPolicy::Instant,
            max_ack_pending,
            num_replicas: 0,
            ..Default::default()
        },
    }
}

/// The job consumer of `printer` at `site`, shared by all its workers: durable
/// `print-<site>-<printer>` filtered on [`job_subject`].
pub fn job_consumer(
    site: &SiteId,
    printer: &PrinterName,
    settings: &JobConsumerSettings,
) -> DurableConsumer {
    durable(
        STREAM_PRINT,
        format!("print-{site}-{printer}"),
        job_subject(site, printer),
        format!("reprint: print jobs of {printer} at {site}"),
        settings.ack_wait,
        settings.max_deliver,
        // One job in hand per worker; a few hundred workers at most.
        256,
    )
}

/// The consumer of the workers' reports to `site`: durable `print-<site>-reports`.
pub fn report_consumer(site: &SiteId) -> DurableConsumer {
    durable(
        STREAM_PRINT,
        format!("print-{site}-reports"),
        report_subject(site),
        format!("reprint: print workers' reports to {site}"),
        Duration::from_secs(30),
        // Recorded in a transaction; a report that keeps failing is parked by the consumer loop.
        10,
        1024,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_and_report_filters_do_not_overlap() {
        let site = SiteId::parse("lab-a").unwrap();
        let printer = PrinterName::parse("reported").unwrap();
        let job = job_consumer(&site, &printer, &JobConsumerSettings::default());
        let reports = report_consumer(&site);
        assert_eq!(
            job.config.filter_subject,
            "reprint.v1.print.lab-a.reported.job"
        );
        assert_eq!(
            reports.config.filter_subject,
            "reprint.v1.print.lab-a.reported"
        );
        assert_eq!(job.name(), "print-lab-a-reported");
        assert_eq!(
            print_stream_config(&StreamSettings::default()).retention,
            RetentionPolicy::WorkQueue
        );
        assert!(PrinterName::parse("mini lab").is_err());
        assert!(PrinterName::parse("a.b").is_err());
    }
}
