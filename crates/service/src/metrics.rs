//! Prometheus metrics, one registry per app instance (tests run several apps in one process,
//! so nothing here is global).

use std::sync::Arc;
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// What [`Metrics::append_observer`] returns: the shape of
/// `reprint_eventstore::AppendObserver` (stream kind, time taken), without this crate
/// depending on the event store.
pub type AppendCallback = Arc<dyn Fn(&str, Duration) + Send + Sync>;

/// What [`Metrics::lag_reporter`] returns: the shape of `reprint_bus::consumer::LagReporter`
/// (consumer name, messages not finished).
pub type LagCallback = Arc<dyn Fn(&str, u64) + Send + Sync>;

/// The metrics every service reports; a service registers more on [`Metrics::registry`].
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Orders that reached a stage at this site, by stage.
    pub orders: IntCounterVec,
    /// Messages a consumer has not handled yet, by consumer.
    pub consumer_lag: IntGaugeVec,
    /// Outbox rows not yet published.
    pub outbox_backlog: IntGaugeVec,
    /// Seconds an append (one transaction) took.
    pub append_seconds: HistogramVec,
    /// HTTP requests by route and status class.
    pub http_requests: IntCounterVec,
    /// Rows the store's pruning deleted, by table (`sent_outbox`, `inbox`).
    pub store_pruned: IntCounterVec,
    /// Prunes that failed (tried again at the next turn).
    pub store_prune_failures: IntCounter,
    /// Messages parked for good in the store (a consumer could never handle them).
    pub parked_messages: IntGauge,
    /// The last error the service noted (sent with each heartbeat).
    pub last_error: crate::last_error::LastError,
}

impl Metrics {
    pub fn new(service: &str) -> Metrics {
        let registry = Registry::new_custom(
            Some("reprint".into()),
            Some([("service".to_string(), service.to_string())].into()),
        )
        .unwrap_or_default();
        let orders = IntCounterVec::new(
            Opts::new("orders_total", "orders that reached a stage here"),
            &["stage"],
        )
        .unwrap_or_else(|_| unreachable!("static metric definition"));
        let consumer_lag = IntGaugeVec::new(
            Opts::new("consumer_lag", "messages waiting for a consumer"),
            &["consumer"],
        )
        .unwrap_or_else(|_| unreachable!("static metric definition"));
        let outbox_backlog = IntGaugeVec::new(
            Opts::new("outbox_backlog", "outbox rows not yet published"),
            &["store"],
        )
        .unwrap_or_else(|_| unreachable!("static metric definition"));
        let append_seconds = HistogramVec::new(
            HistogramOpts::new("append_seconds", "event store append latency").buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ]),
            &["stream_kind"],
        )
        .unwrap_or_else(|_| unreachable!("static metric definition"));
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests"),
            &["status"],
        )
        .unwrap_or_else(|_| unreachable!("static metric definition"));
        let store_pruned = IntCounterVec::new(
            Opts::new(
                "store_pruned_total",
                "published outbox rows and old inbox records pruned from the store",
            ),
            &["table"],
        )
        .unwrap_or_else(|_| unreachable!("static metric definition"));
        let store_prune_failures = IntCounter::new(
            "store_prune_failures_total",
            "prunes of the store that failed",
        )
        .unwrap_or_else(|_| unreachable!("static metric definition"));
        let parked_messages = IntGauge::new(
            "parked_messages",
            "messages parked for good: a consumer could never handle them",
        )
        .unwrap_or_else(|_| unreachable!("static metric definition"));
        // The series an alert or the dashboard counts the increase of exist from the start at
        // 0 (Prometheus sees the first 5xx or the first prune as an increase, and the metric
        // names are on /metrics before anything happened).
        for class in ["2xx", "3xx", "4xx", "5xx"] {
            let _ = http_requests.with_label_values(&[class]);
        }
        for table in ["sent_outbox", "inbox"] {
            let _ = store_pruned.with_label_values(&[table]);
        }
        for c in [
            Box::new(orders.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(parked_messages.clone()),
            Box::new(store_pruned.clone()),
            Box::new(store_prune_failures.clone()),
            Box::new(consumer_lag.clone()),
            Box::new(outbox_backlog.clone()),
            Box::new(append_seconds.clone()),
            Box::new(http_requests.clone()),
        ] {
            // Registering distinct names on a fresh registry cannot collide.
            let _ = registry.register(c);
        }
        Metrics {
            registry,
            orders,
            consumer_lag,
            outbox_backlog,
            append_seconds,
            http_requests,
            store_pruned,
            store_prune_failures,
            parked_messages,
            last_error: crate::last_error::global(),
        }
    }

    /// A callback for the event store's append observer
    /// (`reprint_eventstore::Store::with_observer`): each committed append into
    /// `append_seconds` under its stream kind.
    pub fn append_observer(&self) -> AppendCallback {
        let histogram = self.append_seconds.clone();
        Arc::new(move |kind: &str, took: Duration| {
            histogram
                .with_label_values(&[kind])
                .observe(took.as_secs_f64())
        })
    }

    /// A callback for an inbox consumer's lag reporter
    /// (`reprint_bus::consumer::InboxConsumer::with_lag_reporter`): into `consumer_lag`
    /// under the consumer's name.
    pub fn lag_reporter(&self) -> LagCallback {
        let gauge = self.consumer_lag.clone();
        Arc::new(move |consumer: &str, n: u64| {
            gauge
                .with_label_values(&[consumer])
                .set(i64::try_from(n).unwrap_or(i64::MAX))
        })
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// What the site tells the directory with each heartbeat (its consumers' lag summed, its
    /// outbox backlog), for the gateway's ops page: the callback for
    /// `Directory::start_heartbeat_with_health`.
    pub fn health_source(&self) -> reprint_bus::directory::HealthSource {
        let (lag, backlog) = (self.consumer_lag.clone(), self.outbox_backlog.clone());
        let parked = self.parked_messages.clone();
        let last_error = self.last_error.clone();
        let sum = |v: &IntGaugeVec| -> u64 {
            use prometheus::core::Collector;
            v.collect()
                .iter()
                .flat_map(|f| f.get_metric().iter().map(|m| m.get_gauge().get_value()))
                .map(|n| n.max(0.0) as u64)
                .sum()
        };
        Arc::new(move || reprint_bus::directory::SiteHealth {
            consumer_lag: sum(&lag),
            outbox_backlog: sum(&backlog),
            parked: Some(parked.get().max(0) as u64),
            last_error: last_error.get().map(|(what, _)| what),
            last_error_at: last_error.get().map(|(_, at)| at),
        })
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_what_was_counted() {
        let m = super::Metrics::new("lab");
        m.orders.with_label_values(&["received"]).inc();
        let text = m.render();
        assert!(
            text.contains("reprint_orders_total{stage=\"received\",service=\"lab\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn the_counted_series_are_there_at_zero_before_anything_happened() {
        let text = super::Metrics::new("counter").render();
        for line in [
            "reprint_http_requests_total{status=\"5xx\",service=\"counter\"} 0",
            "reprint_store_pruned_total{table=\"inbox\",service=\"counter\"} 0",
            "reprint_store_prune_failures_total{service=\"counter\"} 0",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }

    #[test]
    fn the_callbacks_feed_the_histogram_and_the_gauge() {
        let m = super::Metrics::new("lab");
        (m.append_observer())("user-file", std::time::Duration::from_millis(3));
        (m.lag_reporter())("lab-lab-a-inbox", 7);
        let text = m.render();
        assert!(
            text.contains(
                "reprint_append_seconds_count{stream_kind=\"user-file\",service=\"lab\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "reprint_append_seconds_bucket{stream_kind=\"user-file\",service=\"lab\",le=\"0.005\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("reprint_consumer_lag{consumer=\"lab-lab-a-inbox\",service=\"lab\"} 7"),
            "{text}"
        );
        (m.lag_reporter())("lab-lab-a-status", 2);
        m.outbox_backlog.with_label_values(&["lab"]).set(5);
        let health = (m.health_source())();
        assert_eq!((health.consumer_lag, health.outbox_backlog), (9, 5));
    }
}
