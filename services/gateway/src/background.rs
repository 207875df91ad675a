//! The gateway's background work on NATS, on the bus crate's shared machinery:
//! - the outbox relay ([`reprint_bus::relay::Relay`]), woken by every commit that wrote outbox
//!   rows (see [`crate::state::Inner::append_order`]);
//! - the inbox consumer ([`GatewayInbox`]): the lab's reception record (the slip) and
//!   rejections addressed to this gateway (`reprint.v1.gateway.<gw>.>`);
//! - the status consumer ([`StatusFeed`]): every `reprint.v1.status.<order>` of the network,
//!   projected into the timeline of the gateway's own orders, and every order's lab charge and
//!   milestones into the settlement balances ([`crate::settlements`]).
//!
//! Both consumers are [`reprint_bus::consumer::InboxConsumer`]s: the message id is recorded in
//! the inbox in the same transaction as the events the handler appends, then the message is
//! acked (at-least-once delivery, exactly-once effect); a message that cannot be read is parked
//! and termed, a transient failure (database away, a version conflict with a concurrent
//! command on the same order) is retried after a delay.
//!
//! The live timeline (server-sent events) and the order counters must not announce a change
//! that was rolled back, so handlers hand their notifications to [`Notifier`], which sends each
//! one only once the consumer's inbox shows the message as committed.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use reprint_bus::consumer::{ConsumerConfig, Handler, HandlerError, InboxConsumer, Incoming};
use reprint_bus::relay::Relay;
use reprint_bus::streams::{
    ConsumerSettings, DurableConsumer, durable_consumer_for, status_consumer_for,
};
use reprint_bus::subjects::SiteKind;
use reprint_domain::protocol::{OrderRejected, ReceptionRecorded, StatusChanged};
use reprint_eventstore::{ExpectedVersion, Transaction};
use reprint_service::shutdown::Shutdown;

use crate::events::{AccountEvent, Order, OrderEvent, account_stream, order_stream};
use crate::settlements;
use crate::state::{AppState, OrderUpdate, now_ms, to_new};

/// The inbox names (kept from the gateway's first consumers, so their records still count).
pub const INBOX_CONSUMER: &str = "gateway-inbox";
/// The status feed records each message id here, and beside it the *content* of the change
/// (`status:<order>:<stage>:<site>:<at>`): the same change published twice with two message
/// ids (a publisher that retried) lands once on the timeline.
pub const STATUS_CONSUMER: &str = "gateway-status";

/// How long a notification waits for its transaction to show as committed before it is
/// dropped (the message was rolled back and will be redelivered, notifying then).
const NOTIFY_PATIENCE: Duration = Duration::from_secs(10);

/// The durable consumers of this gateway.
pub fn inbox_durable(state: &AppState) -> DurableConsumer {
    durable_consumer_for(&state.gateway, SiteKind::Gateway)
}

pub fn status_durable(state: &AppState) -> DurableConsumer {
    status_consumer_for(&state.gateway, &ConsumerSettings::default())
}

/// Runs the outbox relay until shutdown.
pub async fn run_relay(relay: Relay, shutdown: Shutdown) {
    relay.run(shutdown.wait()).await;
}

/// Runs an inbox consumer of `durable` with `handler` until shutdown; re-opens it after a
/// NATS failure (the server restarted, the durable consumer deleted: it is created again).
pub async fn run_consumer<H: Handler + Clone>(
    state: AppState,
    durable: DurableConsumer,
    inbox: &'static str,
    handler: H,
    shutdown: Shutdown,
) {
    let nak_delay = Duration::from_millis(state.config.nats.nak_delay_ms.max(10));
    reprint_bus::consumer::run_until_shutdown(
        state.js.clone(),
        durable,
        move |pull| {
            let mut config = ConsumerConfig::new(inbox);
            config.nak_delay = nak_delay;
            InboxConsumer::new(state.store.clone(), pull, handler.clone(), config)
                .with_lag_reporter(state.metrics.lag_reporter())
                .with_relay_waker(state.relay_wake.clone())
        },
        Duration::from_secs(1),
        move || shutdown.clone().wait(),
    )
    .await
}

/// Keeps the outbox backlog gauge current (each consumer reports its own lag: see
/// [`run_consumer`]).
pub async fn run_gauges(state: AppState, shutdown: Shutdown) {
    loop {
        if let Ok(n) = state.store.unsent_count().await {
            state
                .metrics
                .outbox_backlog
                .with_label_values(&["gateway"])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let sd = shutdown.clone();
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = sd.wait() => return,
        }
    }
}

/// Sends live updates only after the transaction that made them has committed.
#[derive(Clone)]
pub struct Notifier {
    state: AppState,
    /// Message ids already announced (bounded): a batch rolled back and then handled one by
    /// one hands in the same notification twice.
    sent: Arc<Mutex<(HashSet<String>, VecDeque<String>)>>,
}

impl Notifier {
    pub fn new(state: AppState) -> Notifier {
        Notifier {
            state,
            sent: Arc::default(),
        }
    }

    /// Announces `update` once `consumer`'s inbox holds `message_id` (the handler's
    /// transaction committed).
    fn after_commit(&self, consumer: &str, message_id: &str, update: OrderUpdate) {
        let this = self.clone();
        let consumer = consumer.to_string();
        let key = format!("{consumer}\u{1f}{message_id}\u{1f}{}", update.stage);
        let message_id = message_id.to_string();
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + NOTIFY_PATIENCE;
            let mut pause = Duration::from_millis(5);
            loop {
                match this
                    .state
                    .store
                    .inbox_contains(&consumer, &message_id)
                    .await
                {
                    Ok(true) => break,
                    Ok(false) | Err(_) if tokio::time::Instant::now() < deadline => {
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_millis(200));
                    }
                    _ => return,
                }
            }
            if !this.first_time(key) {
                return;
            }
            this.state
                .metrics
                .orders
                .with_label_values(&[update.stage.as_str()])
                .inc();
            this.state
                .publish_update(&update.order, &update.stage, &update.detail);
        });
    }

    fn first_time(&self, key: String) -> bool {
        let Ok(mut sent) = self.sent.lock() else {
            return true; // a poisoned set only risks a repeated live update
        };
        let (set, order) = &mut *sent;
        if !set.insert(key.clone()) {
            return false;
        }
        order.push_back(key);
        if order.len() > 4096
            && let Some(old) = order.pop_front()
        {
            set.remove(&old);
        }
        true
    }
}

fn permanent(what: &str, e: impl std::fmt::Display) -> HandlerError {
    HandlerError::permanent(format!("{what}: {e}"))
}

/// The order as this transaction sees it (empty when this gateway does not know it).
async fn order_in(tx: &mut Transaction, order: &str) -> Result<Order, HandlerError> {
    let events = tx.read_stream(&order_stream(order), 1, 10_000).await?;
    let mut state = Order::default();
    for e in &events {
        let ev: OrderEvent = e.decode()?;
        state = state.evolve(&ev);
    }
    Ok(state)
}

/// Appends `events` to `current` (the order read in this transaction) and `account_events`
/// to its account. A concurrent command on the same order makes the append conflict: a
/// transient error, and the message comes back.
async fn append_to_order(
    tx: &mut Transaction,
    order: &str,
    current: &Order,
    events: &[OrderEvent],
    account_events: &[AccountEvent],
) -> Result<(), HandlerError> {
    let new = to_new(events).map_err(HandlerError::transient)?;
    tx.append(
        &order_stream(order),
        ExpectedVersion::after(current.version),
        &new,
    )
    .await?;
    if !account_events.is_empty() {
        let new = to_new(account_events).map_err(HandlerError::transient)?;
        tx.append(
            &account_stream(&current.account),
            ExpectedVersion::Any,
            &new,
        )
        .await?;
    }
    Ok(())
}

/// Messages addressed to this gateway: the lab's reception record and rejections.
#[derive(Clone)]
pub struct GatewayInbox {
    pub notifier: Notifier,
}

impl Handler for GatewayInbox {
    fn handle<'a>(
        &'a self,
        tx: &'a mut Transaction,
        message: &'a Incoming,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let subject = message.subject.as_str();
            if subject.ends_with(".reception.recorded") {
                let r: ReceptionRecorded = serde_json::from_slice(&message.payload)
                    .map_err(|e| permanent("reception record", e))?;
                self.reception(tx, message, r).await
            } else if subject.ends_with(".order.rejected") {
                let r: OrderRejected = serde_json::from_slice(&message.payload)
                    .map_err(|e| permanent("rejection", e))?;
                self.rejection(tx, message, r).await
            } else {
                Err(permanent("unexpected subject", subject))
            }
        })
    }
}

impl GatewayInbox {
    async fn reception(
        &self,
        tx: &mut Transaction,
        message: &Incoming,
        r: ReceptionRecorded,
    ) -> Result<(), HandlerError> {
        let order = r.order.to_string();
        let current = order_in(tx, &order).await?;
        if !current.exists() {
            return Ok(()); // another gateway's order, or a counter's
        }
        let extract = serde_json::to_value(&r.extract).map_err(|e| permanent("extract", e))?;
        let registration = extract
            .get("registration_number")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let reception = extract
            .pointer("/reception/number")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        let now = now_ms();
        let events = [
            OrderEvent::SlipRecorded {
                lab: r.lab.to_string(),
                extract_json: extract.to_string(),
                estimated_finish_ms: r.estimated_finish.map(|t| t.timestamp_millis()),
                at_ms: now,
            },
            OrderEvent::StageChanged {
                stage: "received".into(),
                site: r.lab.to_string(),
                detail: format!("reception {reception} at {}", r.lab),
                charge_json: None,
                at_ms: now,
            },
        ];
        let account_events: Vec<AccountEvent> = registration
            .map(|number| AccountEvent::RegistrationRecorded {
                site: r.lab.to_string(),
                number,
                at_ms: now,
            })
            .into_iter()
            .collect();
        append_to_order(tx, &order, &current, &events, &account_events).await?;
        self.notifier.after_commit(
            INBOX_CONSUMER,
            &message.message_id,
            OrderUpdate {
                order,
                stage: "received".into(),
                detail: format!("reception {reception}"),
            },
        );
        Ok(())
    }

    async fn rejection(
        &self,
        tx: &mut Transaction,
        message: &Incoming,
        r: OrderRejected,
    ) -> Result<(), HandlerError> {
        let order = r.order.to_string();
        let current = order_in(tx, &order).await?;
        if !current.exists() {
            return Ok(());
        }
        let ev = OrderEvent::StageChanged {
            stage: "rejected".into(),
            site: r.lab.to_string(),
            detail: format!("rejected by {}: {}", r.lab, r.reason),
            charge_json: None,
            at_ms: r.at.timestamp_millis(),
        };
        append_to_order(tx, &order, &current, &[ev], &[]).await?;
        self.notifier.after_commit(
            INBOX_CONSUMER,
            &message.message_id,
            OrderUpdate {
                order,
                stage: "rejected".into(),
                detail: r.reason,
            },
        );
        Ok(())
    }
}

/// Every status change of the network; those of this gateway's orders go on their timeline.
#[derive(Clone)]
pub struct StatusFeed {
    pub notifier: Notifier,
}

impl Handler for StatusFeed {
    fn handle<'a>(
        &'a self,
        tx: &'a mut Transaction,
        message: &'a Incoming,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let change: StatusChanged = serde_json::from_slice(&message.payload)
                .map_err(|e| permanent("status change", e))?;
            let order = change.order.to_string();
            let current = order_in(tx, &order).await?;
            // Every order's balance between its lab and its counter, walk-ins included.
            let placed = current
                .submitted
                .as_ref()
                .map(|s| (s.lab.as_str(), s.counter.as_str()));
            settlements::record(tx, &order, &settlements::Fact::of(&change, placed))
                .await
                .map_err(HandlerError::transient)?;
            if !current.exists() {
                return Ok(()); // another gateway's order, or a counter's
            }
            let content = format!(
                "status:{order}:{}:{}:{}",
                change.stage.as_str(),
                change.site,
                change.at.timestamp_millis()
            );
            let fresh = tx.inbox_record(STATUS_CONSUMER, &[&content]).await?;
            if fresh.first() != Some(&true) {
                return Ok(());
            }
            let stage = change.stage.as_str().to_string();
            let ev = OrderEvent::StageChanged {
                stage: stage.clone(),
                site: change.site.to_string(),
                detail: change.detail.clone(),
                charge_json: change
                    .charge
                    .as_ref()
                    .and_then(|c| serde_json::to_string(c).ok()),
                at_ms: change.at.timestamp_millis(),
            };
            append_to_order(tx, &order, &current, &[ev], &[]).await?;
            self.notifier.after_commit(
                STATUS_CONSUMER,
                &message.message_id,
                OrderUpdate {
                    order,
                    stage,
                    detail: change.detail,
                },
            );
            Ok(())
        })
    }
}
