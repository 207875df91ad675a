//! Streams and durable pull consumers, provisioned idempotently when a service starts.
//!
//! | stream | subjects | holds |
//! |---|---|---|
//! | `REPRINT_LAB` | `reprint.v1.lab.*.<topic>` for each topic (`order.placed`, `collection.recorded`, ...) | every lab's inbox |
//! | `REPRINT_COUNTER` | `reprint.v1.counter.*.<topic>` likewise | every counter's inbox |
//! | `REPRINT_GATEWAY` | `reprint.v1.gateway.*.<topic>` likewise | every gateway's inbox |
//! | `REPRINT_STATUS` | `reprint.v1.status.*.*` | the status history of every order |
//!
//! The subjects are the very patterns `deploy/nats/users.conf` allows a site to publish
//! ([`subjects::inbox_stream_subjects`]), never a `>` over them: a hub passes a stream's
//! interest on to a counter's leaf node only when the leaf's user may publish the stream's
//! whole subject. A stream provisioned by an older version (`reprint.v1.lab.>`, ...) is updated
//! to these subjects at the next start; its messages and consumers are kept (every message
//! reprint ever stored matches one of them).
//!
//! nats-server 2.9 refuses a consumer whose filter (`reprint.v1.lab.lab-a.>`) is not inside
//! one of its stream's subjects, so on a server older than 2.10 the streams keep one `>`
//! subject each ([`subjects_for_server`]); a counter on a leaf node needs a 2.10 hub.
//!
//! All streams use file storage, limits retention (several readers may follow a stream: the
//! site's own consumer and ops dashboards), discard-old, and a 2-minute duplicate window for
//! `Nats-Msg-Id` (the relay sets it to the event id; the inbox table covers the time after).
//! Inbox streams keep messages 30 days so a counter that was offline for a long weekend still
//! finds its deliveries; the status stream keeps 90 days. Replicas are configurable: 1 on a
//! single server, 3 on the cluster.
//!
//! A site reads its inbox with one durable pull consumer ([`durable_consumer_for`]) filtered on
//! `reprint.v1.<kind>.<site>.>`, explicit ack, bounded `max_deliver` (the consumer loop parks a
//! message that reaches it) and an `ack_wait` after which an unacked message is redelivered
//! (the consumer loop says a longer batch is in progress every third of it, and naks what it
//! has not handled when it stops).

use std::time::Duration;

use async_nats::jetstream::{
    self,
    consumer::{AckPolicy, DeliverPolicy, PullConsumer, ReplayPolicy, pull},
    stream::{self, DiscardPolicy, RetentionPolicy, StorageType},
};

use crate::error::BusError;
use crate::subjects::{self, Address, SiteId, SiteKind};

/// The stream of lab inboxes.
pub const STREAM_LAB: &str = "REPRINT_LAB";
/// The stream of counter inboxes.
pub const STREAM_COUNTER: &str = "REPRINT_COUNTER";
/// The stream of gateway inboxes.
pub const STREAM_GATEWAY: &str = "REPRINT_GATEWAY";
/// The stream of order status changes.
pub const STREAM_STATUS: &str = "REPRINT_STATUS";

/// The JetStream duplicate window: a re-publish with the same `Nats-Msg-Id` within it is dropped.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// How long a service's start waits for JetStream to be able to place a stream or consumer
/// (the default of [`StreamSettings::ready_within`]).
pub const READY_WITHIN: Duration = Duration::from_secs(60);

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// The inbox stream of a kind of site.
pub fn stream_for(kind: SiteKind) -> &'static str {
    match kind {
        SiteKind::Lab => STREAM_LAB,
        SiteKind::Counter => STREAM_COUNTER,
        SiteKind::Gateway => STREAM_GATEWAY,
    }
}

/// How the streams are sized. [`StreamSettings::default`] fits a single local server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSettings {
    /// Replicas of every stream (1 locally, 3 on a cluster).
    pub replicas: usize,
    /// How long an inbox message is kept.
    pub inbox_max_age: Duration,
    /// How long an order status message is kept.
    pub status_max_age: Duration,
    /// Largest message accepted, in bytes (images travel by reference, never in a message).
    pub max_message_size: i32,
    /// Size limit of each stream in bytes, -1 for none.
    pub max_bytes: i64,
    /// How long provisioning waits for JetStream to be able to place a stream: a cluster that
    /// is still electing its meta leader or has not met all its peers yet answers "temporarily
    /// unavailable" or "no suitable peers" for a few seconds after its nodes start.
    pub ready_within: Duration,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            replicas: 1,
            inbox_max_age: 30 * DAY,
            status_max_age: 90 * DAY,
            max_message_size: 1024 * 1024,
            max_bytes: -1,
            ready_within: READY_WITHIN,
        }
    }
}

impl StreamSettings {
    /// The settings for a 3-node cluster.
    pub fn clustered() -> Self {
        StreamSettings {
            replicas: 3,
            ..Self::default()
        }
    }
}

fn base_config(
    name: &str,
    subjects: Vec<String>,
    max_age: Duration,
    s: &StreamSettings,
) -> stream::Config {
    stream::Config {
        name: name.to_string(),
        subjects,
        retention: RetentionPolicy::Limits,
        discard: DiscardPolicy::Old,
        storage: StorageType::File,
        num_replicas: s.replicas,
        max_age,
        duplicate_window: DUPLICATE_WINDOW,
        max_message_size: s.max_message_size,
        max_bytes: s.max_bytes,
        max_messages: -1,
        max_messages_per_subject: -1,
        max_consumers: -1,
        ..Default::default()
    }
}

/// The configuration of every reprint stream.
pub fn stream_configs(s: &StreamSettings) -> Vec<stream::Config> {
    let mut configs: Vec<stream::Config> = SiteKind::ALL
        .into_iter()
        .map(|kind| {
            let mut c = base_config(
                stream_for(kind),
                subjects::inbox_stream_subjects(kind),
                s.inbox_max_age,
                s,
            );
            c.description = Some(format!("reprint: inboxes of every {kind}"));
            c
        })
        .collect();
    let mut status = base_config(
        STREAM_STATUS,
        vec![subjects::status_wildcard()],
        s.status_max_age,
        s,
    );
    status.description = Some("reprint: order status history".to_string());
    // The gateway reads the latest status of one order with a direct get.
    status.allow_direct = true;
    configs.push(status);
    configs
}

/// Creates every stream, or updates it to the configuration of [`stream_configs`]. Running it
/// again with the same settings changes nothing (messages and consumers are kept).
///
/// While JetStream cannot place a stream yet (a cluster still forming or electing, a request
/// timing out: see [`create_or_update_stream_patiently`]) it tries again for at most
/// `settings.ready_within`; a configuration JetStream refuses fails at once.
pub async fn provision_streams(
    js: &jetstream::Context,
    settings: &StreamSettings,
) -> Result<Vec<stream::Info>, BusError> {
    let deadline = tokio::time::Instant::now() + settings.ready_within;
    let mut infos = Vec::new();
    let version = js.client().server_info().version;
    for mut config in stream_configs(settings) {
        config.subjects = subjects_for_server(&config.subjects, &version);
        let name = config.name.clone();
        let info = create_or_update_stream_patiently(js, config, deadline)
            .await
            .map_err(|e| BusError::nats(format!("create or update stream {name}"), e))?;
        tracing::debug!(stream = %name, messages = info.state.messages, "stream provisioned");
        infos.push(info);
    }
    Ok(infos)
}

/// The subjects a stream gets on a server of `version`: `subjects` as they are on 2.10 and
/// later (or when the version is not known), their common `reprint.v1.<kind>.>` on 2.9 and
/// older, which accept a consumer only with a filter inside one of the stream's subjects.
pub fn subjects_for_server(subjects: &[String], version: &str) -> Vec<String> {
    let mut numbers = version
        .trim_start_matches('v')
        .split(['.', '-'])
        .map(|n| n.parse::<u32>().ok());
    let older = match (numbers.next().flatten(), numbers.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) < (2, 10),
        _ => false,
    };
    match subjects.first() {
        Some(first) if older => {
            let kind: Vec<&str> = first.split('.').take(3).collect();
            vec![format!("{}.>", kind.join("."))]
        }
        _ => subjects.to_vec(),
    }
}

/// `create_or_update_stream`, tried again (backing off from 200 ms to 2 s) until `deadline`
/// while the failure is one of a cluster that is forming or moving leaders ([`is_forming`]) or
/// a request that timed out or found no JetStream responder.
pub async fn create_or_update_stream_patiently(
    js: &jetstream::Context,
    config: stream::Config,
    deadline: tokio::time::Instant,
) -> Result<stream::Info, jetstream::context::CreateStreamError> {
    use jetstream::context::CreateStreamErrorKind as Kind;
    let name = config.name.clone();
    patiently(
        &name,
        deadline,
        || js.create_or_update_stream(config.clone()),
        |e| match e.kind() {
            Kind::TimedOut | Kind::JetStreamUnavailable => true,
            Kind::JetStream(e) => is_forming(e.error_code()),
            _ => false,
        },
    )
    .await
}

/// Whether a JetStream API error is one of a cluster that is still forming or moving a leader:
/// no meta leader, too few peers met for the replicas, a stream or consumer group without a
/// leader yet. A configuration JetStream refuses is not.
pub fn is_forming(code: jetstream::ErrorCode) -> bool {
    use jetstream::ErrorCode;
    matches!(
        code,
        ErrorCode::CLUSTER_NOT_AVAILABLE
            | ErrorCode::CLUSTER_NO_PEERS
            | ErrorCode::INSUFFICIENT_RESOURCES
            | ErrorCode::CLUSTER_NOT_ACTIVE
            | ErrorCode::CLUSTER_NOT_LEADER
            | ErrorCode::CLUSTER_INCOMPLETE
            | ErrorCode::CLUSTER_NOT_ASSIGNED
    )
}

/// Runs `op` until it succeeds, fails with an error `worth_waiting` does not accept, or the
/// next try would start after `deadline`; waits 200 ms, then twice as long up to 2 s.
async fn patiently<T, E, F, Fut>(
    what: &str,
    deadline: tokio::time::Instant,
    mut op: F,
    worth_waiting: impl Fn(&E) -> bool,
) -> Result<T, E>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut delay = Duration::from_millis(200);
    loop {
        match op().await {
            Err(e) if worth_waiting(&e) && tokio::time::Instant::now() + delay < deadline => {
                tracing::warn!(
                    what,
                    error = %e,
                    retry_in_ms = delay.as_millis() as u64,
                    "JetStream is not ready for this yet, trying again"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            result => return result,
        }
    }
}

/// Delivery settings of a durable consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSettings {
    /// How long the server waits for an ack (or a progress signal) before redelivering.
    pub ack_wait: Duration,
    /// Deliveries before the server stops redelivering; the consumer loop parks the message
    /// on the last one.
    pub max_deliver: i64,
    /// Unacknowledged messages outstanding at most.
    pub max_ack_pending: i64,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        ConsumerSettings {
            ack_wait: Duration::from_secs(30),
            max_deliver: 5,
            max_ack_pending: 1024,
        }
    }
}

/// A durable pull consumer: the stream it reads and its configuration.
#[derive(Debug, Clone)]
pub struct DurableConsumer {
    /// The stream name.
    pub stream: String,
    /// The consumer configuration (durable name, filter, ack policy ...).
    pub config: pull::Config,
}

impl DurableConsumer {
    /// The durable name.
    pub fn name(&self) -> &str {
        self.config.durable_name.as_deref().unwrap_or_default()
    }
}

fn pull_config(
    name: String,
    filter: String,
    description: String,
    s: &ConsumerSettings,
) -> pull::Config {
    pull::Config {
        durable_name: Some(name),
        description: Some(description),
        deliver_policy: DeliverPolicy::All,
        ack_policy: AckPolicy::Explicit,
        ack_wait: s.ack_wait,
        max_deliver: s.max_deliver,
        filter_subject: filter,
        replay_policy: ReplayPolicy::Instant,
        max_ack_pending: s.max_ack_pending,
        // 0: inherit the stream's replicas.
        num_replicas: 0,
        ..Default::default()
    }
}

/// The inbox consumer of site `site` of kind `kind`, with [`ConsumerSettings::default`]:
/// durable `<kind>-<site>-inbox` on the kind's stream, filtered on `reprint.v1.<kind>.<site>.>`.
pub fn durable_consumer_for(site: &SiteId, kind: SiteKind) -> DurableConsumer {
    durable_consumer_with(site, kind, &ConsumerSettings::default())
}

/// As [`durable_consumer_for`], with explicit delivery settings.
pub fn durable_consumer_with(
    site: &SiteId,
    kind: SiteKind,
    settings: &ConsumerSettings,
) -> DurableConsumer {
    let to = Address {
        kind,
        site: site.clone(),
    };
    DurableConsumer {
        stream: stream_for(kind).to_string(),
        config: pull_config(
            format!("{kind}-{site}-inbox"),
            subjects::inbox_filter(&to),
            format!("reprint: inbox of {kind} {site}"),
            settings,
        ),
    }
}

/// A durable consumer of every order's status changes, for a reader named `reader` (e.g. the
/// gateway's site id, or `ops`): durable `status-<reader>` on `REPRINT_STATUS`.
pub fn status_consumer_for(reader: &SiteId, settings: &ConsumerSettings) -> DurableConsumer {
    DurableConsumer {
        stream: STREAM_STATUS.to_string(),
        config: pull_config(
            format!("status-{reader}"),
            subjects::status_wildcard(),
            format!("reprint: order status for {reader}"),
            settings,
        ),
    }
}

/// Creates the durable consumer or updates it to `consumer.config`; idempotent.
pub async fn ensure_consumer(
    js: &jetstream::Context,
    consumer: &DurableConsumer,
) -> Result<PullConsumer, BusError> {
    use jetstream::stream::ConsumerErrorKind as Kind;
    // A stream just created on a cluster may not have elected its leader yet. A timeout is not
    // waited out here: the streams are placed, so JetStream answers, and a creation the user's
    // permissions refuse also ends in a timeout.
    let deadline = tokio::time::Instant::now() + READY_WITHIN;
    patiently(
        consumer.name(),
        deadline,
        || js.create_consumer_on_stream(consumer.config.clone(), consumer.stream.as_str()),
        |e| match e.kind() {
            Kind::JetStream(e) => is_forming(e.error_code()),
            _ => false,
        },
    )
    .await
    .map_err(|e| {
        BusError::nats(
            format!(
                "create or update consumer {} on {}",
                consumer.name(),
                consumer.stream
            ),
            e,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NATS subject matching (`*` one token, `>` the rest).
    fn matches(filter: &str, subject: &str) -> bool {
        let (f, s): (Vec<&str>, Vec<&str>) =
            (filter.split('.').collect(), subject.split('.').collect());
        for (i, t) in f.iter().enumerate() {
            match *t {
                ">" => return s.len() > i,
                "*" if i < s.len() => {}
                t if s.get(i) == Some(&t) => {}
                _ => return false,
            }
        }
        f.len() == s.len()
    }

    #[test]
    fn servers_before_2_10_keep_one_subject_per_stream() {
        let lab = subjects::inbox_stream_subjects(SiteKind::Lab);
        assert_eq!(subjects_for_server(&lab, "2.9.10"), ["reprint.v1.lab.>"]);
        let status = vec![subjects::status_wildcard()];
        assert_eq!(
            subjects_for_server(&status, "2.9.25"),
            ["reprint.v1.status.>"]
        );
        assert_eq!(subjects_for_server(&lab, "2.10.0"), lab);
        assert_eq!(subjects_for_server(&lab, "2.12.8"), lab);
        assert_eq!(subjects_for_server(&lab, "3.0.0-beta"), lab);
        assert_eq!(subjects_for_server(&lab, ""), lab);
    }

    #[test]
    fn consumer_config_is_per_site() {
        let c = durable_consumer_for(&SiteId::parse("c1").unwrap(), SiteKind::Counter);
        assert_eq!(c.stream, STREAM_COUNTER);
        assert_eq!(c.name(), "counter-c1-inbox");
        assert_eq!(c.config.filter_subject, "reprint.v1.counter.c1.>");
        assert_eq!(c.config.ack_policy, AckPolicy::Explicit);
        assert!(c.config.max_deliver > 0);
    }

    #[test]
    fn streams_cover_all_event_subjects_and_not_rpc() {
        let configs = stream_configs(&StreamSettings::default());
        assert_eq!(configs.len(), 4);
        for c in &configs {
            assert_eq!(c.duplicate_window, DUPLICATE_WINDOW);
            assert_eq!(c.storage, StorageType::File);
            for subject in &c.subjects {
                assert!(!subject.contains(".rpc."), "{subject}");
                assert!(!subject.ends_with('>'), "{subject}");
            }
        }
        assert_eq!(configs[0].subjects.len(), subjects::Topic::ALL.len());
        for lab_topic in [
            "reprint.v1.lab.*.order.placed",
            "reprint.v1.lab.*.collection.recorded",
            "reprint.v1.lab.*.settlement.recorded",
            "reprint.v1.lab.*.order.cancelled",
            "reprint.v1.lab.*.statement.issued",
        ] {
            assert!(
                configs[0].subjects.iter().any(|s| s == lab_topic),
                "{lab_topic}"
            );
        }
        assert_eq!(configs[3].subjects, ["reprint.v1.status.*.*"]);
        // Every inbox subject of every topic is captured by its kind's stream, even a topic
        // the kind never receives (its consumer parks it).
        for topic in subjects::Topic::ALL {
            for kind in SiteKind::ALL {
                let wire = format!("reprint.v1.{kind}.site-1.{}", topic.suffix());
                let stream = configs.iter().find(|c| c.name == stream_for(kind)).unwrap();
                assert!(
                    stream.subjects.iter().any(|p| matches(p, &wire)),
                    "{wire} not in {}",
                    stream.name
                );
            }
        }
        assert_eq!(StreamSettings::clustered().replicas, 3);
    }
}
