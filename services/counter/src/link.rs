//! The link to NATS, which may be down for hours: the client keeps reconnecting by itself; once
//! a server answers, the streams and buckets are provisioned, then the outbox relay, the
//! forwarder of held walk-in orders and the inbox consumer run. Everything the counter does for
//! its customers works without the link; what it owes the network waits in the outbox.

use std::sync::Arc;
use std::time::Duration;

use reprint_bus::consumer::{ConsumerConfig, InboxConsumer};
use reprint_bus::relay::Relay;
use reprint_bus::streams;
use reprint_bus::subjects::SiteKind as BusKind;
use reprint_bus::{ProvisionSettings, provision};
use reprint_service::shutdown::Shutdown;

use crate::deliveries::Deliveries;
use crate::messages;
use crate::spool;
use crate::state::Counter;

async fn pause(shutdown: &Shutdown, d: Duration) -> bool {
    tokio::select! {
        _ = shutdown.clone().wait() => true,
        _ = tokio::time::sleep(d) => false,
    }
}

/// Runs the link's tasks until shutdown.
pub async fn run(
    counter: Arc<Counter>,
    js: async_nats::jetstream::Context,
    relay: Relay,
    shutdown: Shutdown,
) {
    let relay_task = tokio::spawn(relay.run(shutdown.clone().wait()));
    let site = match messages::bus_site(&counter.rules().site) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "the counter's site id is not a subject token");
            return;
        }
    };
    let backbone = loop {
        if shutdown.is_triggered() {
            return;
        }
        if counter.online() {
            match provision(&js, &ProvisionSettings::default()).await {
                Ok(b) => break b,
                Err(e) => tracing::warn!(error = %e, "cannot provision streams yet"),
            }
        }
        if pause(&shutdown, Duration::from_millis(250)).await {
            return;
        }
    };
    tracing::info!(
        "NATS link up: forwarding held orders, relaying the outbox, consuming deliveries"
    );
    let forwarder = tokio::spawn(spool::run_forwarder(
        counter.clone(),
        backbone.images.clone(),
        counter.forwarder.clone(),
        shutdown.clone(),
    ));
    let durable = streams::durable_consumer_for(&site, BusKind::Counter);
    loop {
        if shutdown.is_triggered() {
            break;
        }
        match streams::ensure_consumer(&js, &durable).await {
            Ok(pull) => {
                let mut config = ConsumerConfig::new(durable.name());
                config.nak_delay = Duration::from_millis(500);
                let consumer = InboxConsumer::new(
                    counter.store.clone(),
                    pull,
                    Deliveries {
                        counter: counter.clone(),
                    },
                    config,
                );
                if let Err(e) = consumer.run(shutdown.clone().wait()).await {
                    tracing::warn!(error = %e, "inbox consumer stopped; restarting");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot open the inbox consumer yet"),
        }
        if pause(&shutdown, Duration::from_millis(500)).await {
            break;
        }
    }
    let _ = forwarder.await;
    let _ = relay_task.await;
}
