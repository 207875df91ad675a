//! What every service does beside its work to keep its store from growing for ever: pruning
//! published outbox rows and old inbox records ([`reprint_eventstore::Store::prune`]) at a
//! steady pace, configured by `[store.retention]`.

use std::time::Duration;

use reprint_eventstore::{Retention, Store};
use serde::Deserialize;

use crate::metrics::Metrics;
use crate::shutdown::Shutdown;

/// The days an inbox stream keeps a message (`reprint_bus::streams`, `inbox_max_age`): inbox
/// records must outlast it, or a late redelivery would take effect twice.
pub const INBOX_STREAM_DAYS: u32 = 30;

/// `[store.retention]` of a service's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days a published outbox message is kept (for whoever looks into what was sent).
    pub sent_outbox_days: u32,
    /// Days a handled message id is kept; more than the 30 days an inbox stream keeps a
    /// message.
    pub inbox_days: u32,
    /// Minutes between two prunes.
    pub every_minutes: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        let r = Retention::default();
        RetentionConfig {
            sent_outbox_days: days(r.sent_outbox),
            inbox_days: days(r.inbox),
            every_minutes: 60,
        }
    }
}

fn days(d: Duration) -> u32 {
    u32::try_from(d.as_secs() / (24 * 60 * 60)).unwrap_or(u32::MAX)
}

/// A `[store.retention]` key with a value that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {why}")]
pub struct RetentionInvalid {
    /// The key, e.g. `store.retention.inbox_days`.
    pub field: &'static str,
    /// Why its value is refused.
    pub why: String,
}

impl RetentionConfig {
    /// The retention, or which key is wrong and why.
    pub fn retention(&self) -> Result<Retention, RetentionInvalid> {
        let invalid = |field, why: String| Err(RetentionInvalid { field, why });
        if self.inbox_days <= INBOX_STREAM_DAYS {
            return invalid(
                "store.retention.inbox_days",
                format!(
                    "{} must be more than the {INBOX_STREAM_DAYS} days an inbox stream keeps a \
                     message, or a late redelivery takes effect twice",
                    self.inbox_days
                ),
            );
        }
        if self.sent_outbox_days == 0 {
            return invalid(
                "store.retention.sent_outbox_days",
                "must be at least 1".into(),
            );
        }
        if self.every_minutes == 0 {
            return invalid("store.retention.every_minutes", "must be at least 1".into());
        }
        let day = 24 * 60 * 60;
        Ok(Retention {
            sent_outbox: Duration::from_secs(u64::from(self.sent_outbox_days) * day),
            inbox: Duration::from_secs(u64::from(self.inbox_days) * day),
        })
    }

    /// The time between two prunes.
    pub fn every(&self) -> Duration {
        Duration::from_secs(u64::from(self.every_minutes.max(1)) * 60)
    }
}

/// Prunes `store` every `every` (the first time after one `every`) until `shutdown`, counting
/// what it deletes in `metrics` (`store_pruned_total`, `store_prune_failures_total`). A failed
/// prune is logged and tried again at the next turn.
pub async fn run_pruning(
    store: Store,
    retention: Retention,
    every: Duration,
    metrics: Metrics,
    shutdown: Shutdown,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.clone().wait() => return,
            _ = tick.tick() => {}
        }
        match store.prune(retention, chrono::Utc::now()).await {
            Ok(p) => {
                metrics
                    .store_pruned
                    .with_label_values(&["sent_outbox"])
                    .inc_by(p.sent_outbox);
                metrics
                    .store_pruned
                    .with_label_values(&["inbox"])
                    .inc_by(p.inbox);
                if p.sent_outbox > 0 || p.inbox > 0 {
                    tracing::info!(
                        sent_outbox = p.sent_outbox,
                        inbox = p.inbox,
                        "pruned published outbox messages and old inbox records"
                    );
                }
            }
            Err(e) => {
                metrics.store_prune_failures.inc();
                tracing::warn!(error = %e, "pruning the store failed, trying again later");
            }
        }
    }
}

/// [`run_pruning`] with the retention and pace of `config`; a configuration that
/// [`RetentionConfig::retention`] refuses (services check it at start) prunes nothing and says so.
pub async fn run_pruning_as_configured(
    store: Store,
    config: RetentionConfig,
    metrics: Metrics,
    shutdown: Shutdown,
) {
    match config.retention() {
        Ok(retention) => run_pruning(store, retention, config.every(), metrics, shutdown).await,
        Err(e) => tracing::error!(error = %e, "the store is not pruned"),
    }
}

/// How often the outbox backlog gauge is read.
pub const OUTBOX_GAUGE_EVERY: Duration = Duration::from_secs(5);

/// Sets the service's outbox backlog gauge (`reprint_outbox_backlog{service}`) from the store,
/// and its parked messages gauge (`reprint_parked_messages`).
pub async fn report_outbox_backlog(store: &Store, metrics: &Metrics, service: &str) {
    if let Ok(n) = store.unsent_count().await {
        metrics
            .outbox_backlog
            .with_label_values(&[service])
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }
    if let Some(n) = parked_count(store).await {
        metrics.parked_messages.set(n);
    }
}

/// Messages parked for good in the store, every consumer's (`None`: the store did not answer).
async fn parked_count(store: &Store) -> Option<i64> {
    use reprint_eventstore::{Conn, sql};
    const COUNT: &str = "SELECT CAST(COUNT(*) AS BIGINT) FROM parked_messages";
    let rows: Vec<(i64,)> = if let Some(pool) = store.postgres_pool() {
        let mut c = pool.acquire().await.ok()?;
        sql::fetch(Conn::Postgres(&mut c), COUNT, &[]).await.ok()?
    } else if let Some(pool) = store.sqlite_reader_pool() {
        let mut c = pool.acquire().await.ok()?;
        sql::fetch(Conn::Sqlite(&mut c), COUNT, &[]).await.ok()?
    } else {
        return None;
    };
    rows.first().map(|r| r.0)
}

/// The outbox backlog gauge, kept up to date every `every` until shutdown, also while nobody
/// asks `/readyz` (a site offline shows its backlog growing). Every service runs this one.
pub async fn run_outbox_gauge(
    store: Store,
    metrics: Metrics,
    service: &'static str,
    every: Duration,
    shutdown: Shutdown,
) {
    loop {
        report_outbox_backlog(&store, &metrics, service).await;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.clone().wait() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_keep_inbox_records_longer_than_the_stream_keeps_messages() {
        let c = RetentionConfig::default();
        assert_eq!(
            (c.sent_outbox_days, c.inbox_days, c.every_minutes),
            (7, 45, 60)
        );
        let r = c.retention().expect("defaults are valid");
        assert_eq!(r, Retention::default());
        assert_eq!(c.every(), Duration::from_secs(3600));
    }

    #[test]
    fn an_inbox_retention_within_the_stream_age_is_refused_by_name() {
        let c = RetentionConfig {
            inbox_days: 30,
            ..RetentionConfig::default()
        };
        let e = c.retention().unwrap_err().to_string();
        assert!(
            e.starts_with("store.retention.inbox_days: 30 must be more"),
            "{e}"
        );
        let c = RetentionConfig {
            sent_outbox_days: 0,
            ..RetentionConfig::default()
        };
        assert_eq!(
            c.retention().unwrap_err().field,
            "store.retention.sent_outbox_days"
        );
    }

    #[test]
    fn a_config_table_reads_and_refuses_unknown_keys() {
        let c: RetentionConfig = toml::from_str("inbox_days = 60").unwrap();
        assert_eq!(c.inbox_days, 60);
        assert_eq!(c.sent_outbox_days, 7);
        assert!(toml::from_str::<RetentionConfig>("inbox_day = 60").is_err());
    }

    #[tokio::test]
    async fn the_pruning_task_prunes_at_its_pace_and_stops_on_shutdown() {
        use reprint_eventstore::{ExpectedVersion, Metadata, NewEvent, OutboxMessage};
        let db = reprint_testkit::TestSqlite::create();
        let store = Store::open(&db.url).await.unwrap();
        let e = NewEvent {
            event_id: uuid::Uuid::now_v7(),
            event_type: "test.pruned".into(),
            schema_version: 1,
            payload: vec![1],
            metadata: Metadata::new(),
        };
        let mut tx = store.begin().await.unwrap();
        tx.append("s-1", ExpectedVersion::NoStream, std::slice::from_ref(&e))
            .await
            .unwrap();
        tx.enqueue(&[OutboxMessage::for_event("reprint.v1.test", &e)])
            .await
            .unwrap();
        tx.inbox_record("lab", &["m1"]).await.unwrap();
        tx.commit().await.unwrap();
        let sent = store.pending_outbox(0, 10).await.unwrap();
        store.mark_sent(&[sent[0].id]).await.unwrap();

        let (trigger, shutdown) = crate::shutdown::channel();
        let keep_nothing = Retention {
            sent_outbox: Duration::ZERO,
            inbox: Duration::ZERO,
        };
        let metrics = Metrics::new("lab");
        let task = tokio::spawn(run_pruning(
            store.clone(),
            keep_nothing,
            Duration::from_millis(50),
            metrics.clone(),
            shutdown,
        ));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while store.inbox_contains("lab", "m1").await.unwrap() {
            assert!(tokio::time::Instant::now() < deadline, "never pruned");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(store.stream_version("s-1").await.unwrap(), 1, "events stay");
        // Counted once the prune has returned, just after the rows went.
        let pruned = |table: &str| metrics.store_pruned.with_label_values(&[table]).get();
        while pruned("sent_outbox") + pruned("inbox") < 2 {
            assert!(tokio::time::Instant::now() < deadline, "never counted");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!((pruned("sent_outbox"), pruned("inbox")), (1, 1));
        assert_eq!(metrics.store_prune_failures.get(), 0);
        assert!(metrics.render().contains("reprint_store_pruned_total"));
        trigger.trigger();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("stops on shutdown")
            .unwrap();
    }
}
