//! The link to NATS, which may be down for hours (or at start): the client keeps reconnecting
//! by itself; once a server answers, the streams and buckets are provisioned (retried with
//! back-off), then the forwarder of held walk-in orders (image uploads), the inbox consumer,
//! the request/reply servers (quote, catalog, locale) and the directory heartbeat run; the
//! outbox relay runs from the start and sends once it can. Everything the counter does for
//! its customers works without the link; what it owes the network waits in the outbox.

use std::sync::Arc;
use std::time::Duration;

use reprint_bus::connect::backoff_delay;
use reprint_bus::consumer::{ConsumerConfig, InboxConsumer};
use reprint_bus::relay::Relay;
use reprint_bus::request::{RpcError, RpcServer};
use reprint_bus::streams;
use reprint_bus::subjects::{self, RpcMethod, SiteKind as BusKind};
use reprint_bus::{ProvisionSettings, provision};
use reprint_service::shutdown::Shutdown;

use crate::deliveries::Deliveries;
use crate::messages;
use crate::rpc;
use crate::spool;
use crate::state::Counter;

async fn pause(shutdown: &Shutdown, d: Duration) -> bool {
    tokio::select! {
        _ = shutdown.clone().wait() => true,
        _ = tokio::time::sleep(d) => false,
    }
}

/// First and longest wait between two failed attempts at something that needs the server.
const FIRST_RETRY: Duration = Duration::from_millis(250);
const LONGEST_RETRY: Duration = Duration::from_secs(5);
/// How often the link is looked at while it is down (a local check, no network traffic: the
/// client reconnects by itself, with its own back-off).
const OFFLINE_POLL: Duration = Duration::from_millis(200);

/// Runs `attempt` until it succeeds, waiting while the link is down and backing off after
/// each failure; `None` on shutdown.
async fn until_done<T, E, F, Fut>(
    counter: &Counter,
    shutdown: &Shutdown,
    what: &str,
    mut attempt: F,
) -> Option<T>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut failures = 0usize;
    loop {
        if shutdown.is_triggered() {
            return None;
        }
        if !counter.online() {
            if pause(shutdown, OFFLINE_POLL).await {
                return None;
            }
            continue;
        }
        match attempt().await {
            Ok(v) => return Some(v),
            Err(e) => {
                failures += 1;
                let delay = backoff_delay(failures, FIRST_RETRY, LONGEST_RETRY);
                tracing::warn!(error = %e, failures, delay_ms = delay.as_millis() as u64,
                    "cannot {what} yet; retrying");
                if pause(shutdown, delay).await {
                    return None;
                }
            }
        }
    }
}

/// Runs the link's tasks until shutdown. Nothing here blocks the terminal: the HTTP server
/// serves intake and pickup from the start, whether or not NATS is reachable.
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
            let _ = relay_task.await;
            return;
        }
    };
    // The configured replicas: provisioning updates existing streams and buckets, so a
    // default of 1 here would shrink a cluster's R3 backbone at every start of the counter.
    let settings = ProvisionSettings::with_replicas(counter.config.nats.replicas);
    let Some(backbone) = until_done(&counter, &shutdown, "provision the streams", || {
        provision(&js, &settings)
    })
    .await
    else {
        let _ = relay_task.await;
        return;
    };
    tracing::info!(
        "NATS link up: forwarding held orders, relaying the outbox, consuming deliveries, \
         answering quotes, announcing the counter"
    );
    let forwarder = tokio::spawn(spool::run_forwarder(
        counter.clone(),
        backbone.images.clone(),
        counter.forwarder.clone(),
        shutdown.clone(),
    ));
    let mut servers = tokio::task::JoinSet::new();
    for method in RpcMethod::ALL {
        servers.spawn(serve_rpc(
            counter.clone(),
            site.clone(),
            method,
            shutdown.clone(),
        ));
    }
    // The other counters of the network, for the intake's "pick up at" (and again at every
    // heartbeat, so a counter that joins later is offered).
    let places = tokio::spawn({
        let counter = counter.clone();
        let directory = backbone.directory.clone();
        let shutdown = shutdown.clone();
        let every = Duration::from_secs(counter.config.nats.heartbeat_secs.max(1));
        async move {
            loop {
                crate::elsewhere::refresh(&counter, &directory).await;
                if pause(&shutdown, every).await {
                    break;
                }
            }
        }
    });
    let heartbeat = match rpc::announcement(&counter) {
        Ok(a) => Some(backbone.directory.start_heartbeat_with_health(
            a,
            Duration::from_secs(counter.config.nats.heartbeat_secs.max(1)),
            Some(counter.metrics.health_source()),
        )),
        Err(e) => {
            tracing::error!(error = %e, "the counter cannot be announced in the directory");
            None
        }
    };
    let durable = streams::durable_consumer_for(&site, BusKind::Counter);
    while let Some(pull) = until_done(&counter, &shutdown, "open the inbox consumer", || {
        streams::ensure_consumer(&js, &durable)
    })
    .await
    {
        let mut config = ConsumerConfig::new(durable.name());
        config.nak_delay = Duration::from_millis(500);
        let consumer = InboxConsumer::new(
            counter.store.clone(),
            pull,
            Deliveries {
                counter: counter.clone(),
            },
            config,
        )
        .with_lag_reporter(counter.metrics.lag_reporter())
        .with_relay_waker(counter.relay.clone());
        if let Err(e) = consumer.run(shutdown.clone().wait()).await {
            tracing::warn!(error = %e, "inbox consumer stopped; restarting");
        }
        if pause(&shutdown, FIRST_RETRY).await {
            break;
        }
    }
    // Stop beating but leave the entry: a counter that restarts refreshes it, one that stays
    // away is shown stale by the readers.
    if let Some(h) = heartbeat
        && let Err(e) = h.stop(false).await
    {
        tracing::warn!(error = %e, "stopping the directory heartbeat");
    }
    while servers.join_next().await.is_some() {}
    let _ = places.await;
    let _ = forwarder.await;
    let _ = relay_task.await;
}

/// Binds `reprint.v1.rpc.<counter>.<method>` and serves it until shutdown, binding again if
/// the subscription ends early.
async fn serve_rpc(
    counter: Arc<Counter>,
    site: subjects::SiteId,
    method: RpcMethod,
    shutdown: Shutdown,
) {
    let subject = subjects::rpc(&site, method);
    let group = subjects::rpc_queue_group(&site, method);
    let client = counter.nats.clone();
    let what = format!("serve {subject}");
    while let Some(server) = until_done(&counter, &shutdown, &what, || {
        RpcServer::bind(&client, &subject, &group)
    })
    .await
    {
        tracing::info!(%subject, "answering requests");
        let stop = shutdown.clone().wait();
        let c = counter.clone();
        let served = match method {
            RpcMethod::Quote => {
                server
                    .serve(
                        move |body: serde_json::Value, _ctx| {
                            let c = c.clone();
                            async move { rpc::quote(&c, body).await }
                        },
                        stop,
                    )
                    .await
            }
            RpcMethod::Catalog => {
                server
                    .serve(
                        move |_: serde::de::IgnoredAny, _ctx| {
                            let reply = rpc::catalog(&c);
                            async move { Ok::<_, RpcError>(reply) }
                        },
                        stop,
                    )
                    .await
            }
            RpcMethod::Locale => {
                server
                    .serve(
                        move |_: serde::de::IgnoredAny, _ctx| {
                            let reply = rpc::locale(&c);
                            async move { Ok::<_, RpcError>(reply) }
                        },
                        stop,
                    )
                    .await
            }
        };
        if let Err(e) = served {
            tracing::warn!(%subject, error = %e, "request server stopped");
        }
        if pause(&shutdown, FIRST_RETRY).await {
            break;
        }
    }
}
