//! Prometheus metrics, one registry per app instance (tests run several apps in one process,
//! so nothing here is global).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

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
        for c in [
            Box::new(orders.clone()) as Box<dyn prometheus::core::Collector>,
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
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
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
}
