//! The gateway's background work on NATS, on the bus crate's shared machinery:
//! - the outbox relay ([`reprint_bus::relay::Relay`]), woken by every commit that wrote outbox
//!   rows (see [`crate::orders::run`]);
//! - the inbox consumer ([`GatewayInbox`]): the lab's reception record (the slip) and
//!   rejections addressed to this gateway (`reprint.v1.gateway.<gw>.>`);
//! - the status consumer ([`StatusFeed`]): every `reprint.v1.status.<sender>.<order>` of the network,
//!   projected into the timeline of the gateway's own orders, and every order's lab charge and
//!   milestones into the settlement balances ([`crate::settlements`]); the delivery counter's
//!   registration number for the user, when its status of one of our orders carries it.
//!
//! The user's registration number at each site (`gw_registrations`, sent with every quote and
//! order for that site, by which alone the site finds the user's file) is learnt from the site:
//! the lab's from its slip (`ReceptionRecorded`), the delivery counter's from its
//! `ready_for_pickup` status (`StatusWithRegistration`), each only for an order of this account
//! placed with that site.
//!
//! Both consumers are [`reprint_bus::consumer::InboxConsumer`]s: the message id is recorded in
//! the inbox in the same transaction as the events the handler appends, then the message is
//! acked (at-least-once delivery, exactly-once effect); a message that cannot be read is parked
//! and termed, a transient failure (database away, a version conflict with a concurrent
//! command on the same order) is retried after a delay.
//!
//! Every change of an order is decided by the domain's decider (`reprint_domain::web_order`)
//! on the order as the handler's transaction reads it ([`crate::orders`]). The live timeline
//! (server-sent events) and the order counters must not announce a change that was rolled
//! back, so handlers hand their notifications to [`Notifier`], which sends each one after the
//! transaction's commit.

use std::time::Duration;

use futures::future::BoxFuture;
use reprint_bus::consumer::{ConsumerConfig, Handler, HandlerError, InboxConsumer, Incoming};
use reprint_bus::relay::Relay;
use reprint_bus::streams::{
    ConsumerSettings, DurableConsumer, durable_consumer_for, status_consumer_for,
};
use reprint_bus::subjects::Subject;
use reprint_bus::subjects::{SiteKind, Topic};
use reprint_domain::protocol::{OrderRejected, ReceptionRecorded, Stage, StatusWithRegistration};
use reprint_domain::web_order::Command;
use reprint_eventstore::{ExpectedVersion, Transaction};
use reprint_service::shutdown::Shutdown;
use reprint_site::command::{self, CommandError};

use crate::events::{AccountEvent, account_stream};
use crate::orders::{self, Loaded};
use crate::settlements;
use crate::state::{AppState, OrderUpdate, to_new};

/// The inbox names (kept from the gateway's first consumers, so their records still count).
pub const INBOX_CONSUMER: &str = "gateway-inbox";
/// The status feed's inbox: each status is recorded under its message id, which is the fact's
/// own id (`<sender>:<order>:status:<stage>`, or `status:<note>` for a second fact at one stage,
/// see `reprint_bus::message::status`). A publisher that retries a fact sends it under the same
/// id (its outbox row), so it lands once; two different facts at the same stage and time (the
/// lab's received status and its note that it leaves an image out) both land. (The feed once
/// keyed on the change's content, `status:<order>:<stage>:<site>:<at>`, which dropped such a
/// second fact.)
pub const STATUS_CONSUMER: &str = "gateway-status";

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
    reprint_service::housekeeping::run_outbox_gauge(
        state.store.clone(),
        state.metrics.clone(),
        "gateway",
        reprint_service::housekeeping::OUTBOX_GAUGE_EVERY,
        shutdown,
    )
    .await
}

/// Sends live updates and counts orders only after the transaction that made them has
/// committed (a hook of the handler's transaction: a rolled-back batch announces nothing, and
/// the messages handled again announce once).
#[derive(Clone)]
pub struct Notifier {
    state: AppState,
}

impl Notifier {
    pub fn new(state: AppState) -> Notifier {
        Notifier { state }
    }

    /// Announces `update` once `tx` has committed.
    fn after_commit(&self, tx: &mut Transaction, update: OrderUpdate) {
        let state = self.state.clone();
        tx.after_commit(move || {
            state
                .metrics
                .orders
                .with_label_values(&[update.stage.as_str()])
                .inc();
            state.publish_update(&update.order, &update.stage, &update.detail);
        });
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.state.clock.now()
    }
}

fn permanent(what: &str, e: impl std::fmt::Display) -> HandlerError {
    HandlerError::permanent(format!("{what}: {e}"))
}

/// Decides `command` on the order as this transaction read it and queues the events (a
/// concurrent command on the same order makes the append conflict when the queue is written:
/// a transient error, and the message comes back), with `account_events` on its account.
async fn decide_and_append(
    tx: &mut Transaction,
    current: &mut Loaded,
    command: Command,
    account_events: &[AccountEvent],
) -> Result<(), HandlerError> {
    command::decide_and_defer(tx, current, command).map_err(|e| match e {
        CommandError::Refused(e) => permanent("the order refuses", e),
        CommandError::Store(e) => HandlerError::from(e),
    })?;
    // Queued with the order's events: one statement for both (and for the batch's other
    // messages) at the next read or the commit.
    if !account_events.is_empty() {
        let new = to_new(account_events).map_err(HandlerError::transient)?;
        tx.append_deferred(
            account_stream(&current.state.account),
            ExpectedVersion::Any,
            new,
        );
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
            // Routed by the subject's topic (`reprint_bus::subjects`), never by its text.
            match message.inbox_topic()? {
                Topic::ReceptionRecorded => {
                    let r: ReceptionRecorded = serde_json::from_slice(&message.payload)
                        .map_err(|e| permanent("reception record", e))?;
                    self.reception(tx, r).await
                }
                Topic::OrderRejected => {
                    let r: OrderRejected = serde_json::from_slice(&message.payload)
                        .map_err(|e| permanent("rejection", e))?;
                    self.rejection(tx, r).await
                }
                _ => Err(permanent("unexpected subject", &message.subject)),
            }
        })
    }
}

impl GatewayInbox {
    async fn reception(
        &self,
        tx: &mut Transaction,
        r: ReceptionRecorded,
    ) -> Result<(), HandlerError> {
        let order = r.order.to_string();
        let mut current = orders::load(tx, &order).await?;
        if !current.state.exists() {
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
        let at = self.notifier.now();
        let account_events: Vec<AccountEvent> = registration
            .map(|number| AccountEvent::RegistrationRecorded {
                site: r.lab.to_string(),
                number,
                at_ms: at.timestamp_millis(),
            })
            .into_iter()
            .collect();
        let command = Command::RecordSlip {
            lab: r.lab.to_string(),
            extract_json: extract.to_string(),
            estimated_finish_ms: r.estimated_finish.map(|t| t.timestamp_millis()),
            reception: reception.clone(),
            at,
        };
        decide_and_append(tx, &mut current, command, &account_events).await?;
        self.notifier.after_commit(
            tx,
            OrderUpdate {
                order,
                stage: Stage::Received.as_str().into(),
                detail: format!("reception {reception}"),
            },
        );
        Ok(())
    }

    async fn rejection(&self, tx: &mut Transaction, r: OrderRejected) -> Result<(), HandlerError> {
        let order = r.order.to_string();
        let mut current = orders::load(tx, &order).await?;
        if !current.state.exists() {
            return Ok(());
        }
        let command = Command::RecordRejection {
            lab: r.lab.to_string(),
            reason: r.reason.clone(),
            at: r.at,
        };
        decide_and_append(tx, &mut current, command, &[]).await?;
        self.notifier.after_commit(
            tx,
            OrderUpdate {
                order,
                stage: Stage::Rejected.as_str().into(),
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
            let StatusWithRegistration {
                status: change,
                registration_number,
            } = serde_json::from_slice(&message.payload)
                .map_err(|e| permanent("status change", e))?;
            let order = change.order.to_string();
            let mut current = orders::load(tx, &order).await?;
            // Every order's balance between its lab and its counter, walk-ins included.
            let placed = current
                .state
                .submitted
                .as_ref()
                .map(|s| (s.lab.as_str(), s.counter.as_str()));
            let fact = settlements::Fact {
                trace_id: message.trace().map(|t| t.trace_id_hex()),
                ..settlements::Fact::of(&change, placed)
            };
            settlements::record(tx, &order, &fact)
                .await
                .map_err(HandlerError::transient)?;
            if !current.state.exists() {
                return Ok(()); // another gateway's order, or a counter's
            }
            // Once per fact: the consumer recorded this message's id (the fact's id) in the
            // inbox before handing it here, and skips it when it comes again.
            let account_events: Vec<AccountEvent> =
                counter_registration(message, &change, &current, registration_number)
                    .map(|(site, number)| AccountEvent::RegistrationRecorded {
                        site,
                        number,
                        at_ms: self.notifier.now().timestamp_millis(),
                    })
                    .into_iter()
                    .collect();
            let command = Command::RecordStatus {
                stage: change.stage,
                site: change.site.to_string(),
                detail: change.detail.clone(),
                charge_json: change
                    .charge
                    .as_ref()
                    .and_then(|c| serde_json::to_string(c).ok()),
                at: change.at,
            };
            decide_and_append(tx, &mut current, command, &account_events).await?;
            self.notifier.after_commit(
                tx,
                OrderUpdate {
                    order,
                    stage: change.stage.as_str().to_string(),
                    detail: change.detail,
                },
            );
            Ok(())
        })
    }
}

/// The longest registration number kept from a site (the domain's formats are far shorter).
const MAX_REGISTRATION_LEN: usize = 64;

/// The user's registration number at the order's delivery counter, when this status carries
/// one: only from that counter (the site named in the status, its kind and the sender in the
/// subject, which the NATS permissions hold to the publisher's own id, all that counter), for
/// an order of ours placed with it. Anything else is ignored (logged): a number another site
/// claims for the counter would send that counter someone else's number.
fn counter_registration(
    message: &Incoming,
    change: &reprint_domain::protocol::StatusChanged,
    current: &Loaded,
    number: Option<String>,
) -> Option<(String, String)> {
    let number = number?;
    let site = change.site.as_str();
    let sender = match Subject::parse(&message.subject) {
        Ok(Subject::Status { sender, .. }) => Some(sender),
        _ => None,
    };
    let counter = current.state.submitted.as_ref().map(|s| s.counter.as_str());
    let plausible = !number.is_empty()
        && number.len() <= MAX_REGISTRATION_LEN
        && number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if change.site_kind == reprint_domain::SiteKind::Counter
        && sender.as_ref().map(|s| s.as_str()) == Some(site)
        && counter == Some(site)
        && plausible
    {
        Some((site.to_string(), number))
    } else {
        tracing::warn!(order = %change.order, site, subject = %message.subject,
            "a registration number on a status not from the order's delivery counter (or not one); ignored");
        None
    }
}
