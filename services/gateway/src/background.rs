//! The gateway's background work on NATS:
//! - the outbox relay: publishes outbox rows to JetStream with `Nats-Msg-Id` (the duplicate
//!   window drops a re-publish), then marks them sent;
//! - the status consumer: every `reprint.v1.status.<order>` of the network, projected into the
//!   timeline of the gateway's own orders;
//! - the inbox consumer: the lab's reception record (the slip) and rejections addressed to this
//!   gateway.
//!
//! Consumers record each message id in the inbox table in the same transaction as the events
//! they append, then ack: at-least-once delivery, exactly-once effect.
//!
//! (`reprint_bus::relay` and `reprint_bus::consumer` were empty when this was written; these
//! loops are the gateway's own and small.)

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, AckKind};
use futures::StreamExt;
use reprint_bus::streams::{
    ConsumerSettings, durable_consumer_for, ensure_consumer, status_consumer_for,
};
use reprint_bus::subjects::SiteKind;
use reprint_domain::protocol::{OrderRejected, ReceptionRecorded, StatusChanged};
use reprint_eventstore::ExpectedVersion;
use reprint_service::shutdown::Shutdown;

use crate::error::{AppError, AppResult};
use crate::events::{AccountEvent, OrderEvent, account_stream, order_stream};
use crate::state::{AppState, now_ms, to_new};

/// Publishes what the outbox holds until shutdown.
pub async fn relay(state: AppState, shutdown: Shutdown) {
    let interval = Duration::from_millis(state.config.nats.relay_interval_ms.max(10));
    loop {
        if shutdown.is_triggered() {
            break;
        }
        match relay_once(&state).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox relay"),
        }
        if let Ok(n) = state.store.unsent_count().await {
            state
                .metrics
                .outbox_backlog
                .with_label_values(&["gateway"])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let sd = shutdown.clone();
        tokio::select! {
            _ = state.relay_wake.notified() => {}
            _ = tokio::time::sleep(interval) => {}
            _ = sd.wait() => break,
        }
    }
}

async fn relay_once(state: &AppState) -> AppResult<usize> {
    let pending = state.store.pending_outbox(0, 100).await?;
    let mut sent = Vec::new();
    for p in &pending {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", p.message.message_id.as_str());
        for (k, v) in &p.message.headers {
            headers.insert(k.as_str(), v.as_str());
        }
        let ack = state
            .js
            .publish_with_headers(
                p.message.subject.clone(),
                headers,
                p.message.payload.clone().into(),
            )
            .await
            .map_err(|e| AppError::internal(format!("publish {}: {e}", p.message.subject)))?;
        ack.await
            .map_err(|e| AppError::internal(format!("ack of {}: {e}", p.message.subject)))?;
        sent.push(p.id);
    }
    state.store.mark_sent(&sent).await?;
    Ok(sent.len())
}

fn message_id(m: &jetstream::Message) -> String {
    if let Some(id) = m.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")) {
        return id.to_string();
    }
    match m.info() {
        Ok(i) => format!("{}:{}", i.stream, i.stream_sequence),
        Err(_) => format!("subject:{}", m.subject),
    }
}

/// Runs a durable consumer until shutdown; `handle` returns Ok for done (ack), Err for retry.
async fn consume<F, Fut>(
    state: AppState,
    shutdown: Shutdown,
    consumer: reprint_bus::streams::DurableConsumer,
    handle: F,
) where
    F: Fn(AppState, String, String, bytes::Bytes) -> Fut,
    Fut: std::future::Future<Output = AppResult<()>>,
{
    let name = consumer.name().to_string();
    loop {
        if shutdown.is_triggered() {
            return;
        }
        let pull = match ensure_consumer(&state.js, &consumer).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(consumer = %name, error = %e, "consumer not ready, retrying");
                let sd = shutdown.clone();
                tokio::select! { _ = tokio::time::sleep(Duration::from_secs(1)) => continue, _ = sd.wait() => return }
            }
        };
        let mut messages = match pull.messages().await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(consumer = %name, error = %e, "pull failed, retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        loop {
            let sd = shutdown.clone();
            let next = tokio::select! { m = messages.next() => m, _ = sd.wait() => return };
            let Some(next) = next else { break };
            let msg = match next {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(consumer = %name, error = %e, "message stream error");
                    break;
                }
            };
            let id = message_id(&msg);
            if let Ok(info) = msg.info() {
                state
                    .metrics
                    .consumer_lag
                    .with_label_values(&[name.as_str()])
                    .set(i64::try_from(info.pending).unwrap_or(i64::MAX));
            }
            let result = handle(
                state.clone(),
                id.clone(),
                msg.subject.to_string(),
                msg.payload.clone(),
            )
            .await;
            let ack = match result {
                Ok(()) => msg.ack().await,
                Err(AppError::BadRequest(reason)) => {
                    tracing::warn!(consumer = %name, %id, %reason, "unreadable message, terminated");
                    msg.ack_with(AckKind::Term).await
                }
                Err(e) => {
                    tracing::warn!(consumer = %name, %id, error = %e, "message will be redelivered");
                    msg.ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                        .await
                }
            };
            if let Err(e) = ack {
                tracing::warn!(consumer = %name, error = %e, "ack failed");
            }
        }
    }
}

pub async fn status_consumer(state: AppState, shutdown: Shutdown) {
    let c = status_consumer_for(&state.gateway, &ConsumerSettings::default());
    consume(
        state,
        shutdown,
        c,
        |state, id, _subject, payload| async move {
            let change: StatusChanged = serde_json::from_slice(&payload)
                .map_err(|e| AppError::BadRequest(format!("status change: {e}")))?;
            apply_status(&state, &id, change).await
        },
    )
    .await;
}

const STATUS_CONSUMER: &str = "gateway-status";
const INBOX_CONSUMER: &str = "gateway-inbox";

/// Appends `events` to an order that this gateway knows, recording `message_id` in the inbox
/// in the same transaction; a message seen before changes nothing.
async fn apply_to_order(
    state: &AppState,
    consumer: &str,
    message_id: &str,
    order: &str,
    events: Vec<OrderEvent>,
    account_events: Vec<AccountEvent>,
) -> AppResult<bool> {
    let current = state.load_order(order).await?;
    if !current.exists() {
        return Ok(false); // another gateway's order, or a counter's
    }
    let mut tx = state.store.begin().await?;
    let fresh = tx.inbox_record(consumer, &[message_id]).await?;
    if !fresh.first().copied().unwrap_or(false) {
        return Ok(false);
    }
    tx.append(
        &order_stream(order),
        ExpectedVersion::Any,
        &to_new(&events)?,
    )
    .await?;
    if !account_events.is_empty() {
        tx.append(
            &account_stream(&current.account),
            ExpectedVersion::Any,
            &to_new(&account_events)?,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

async fn apply_status(state: &AppState, _message_id: &str, change: StatusChanged) -> AppResult<()> {
    let order = change.order.to_string();
    // Keyed by content, not by message id: the same change published twice (a publisher that
    // retried with a new id) still lands once on the timeline.
    let id = format!(
        "status:{order}:{}:{}:{}",
        change.stage.as_str(),
        change.site,
        change.at.timestamp_millis()
    );
    let id = id.as_str();
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
    if apply_to_order(state, STATUS_CONSUMER, id, &order, vec![ev], vec![]).await? {
        state
            .metrics
            .orders
            .with_label_values(&[stage.as_str()])
            .inc();
        state.publish_update(&order, &stage, &change.detail);
    }
    Ok(())
}

pub async fn inbox_consumer(state: AppState, shutdown: Shutdown) {
    let c = durable_consumer_for(&state.gateway, SiteKind::Gateway);
    consume(
        state,
        shutdown,
        c,
        |state, id, subject, payload| async move {
            if subject.ends_with(".reception.recorded") {
                let r: ReceptionRecorded = serde_json::from_slice(&payload)
                    .map_err(|e| AppError::BadRequest(format!("reception record: {e}")))?;
                let extract = serde_json::to_value(&r.extract).map_err(AppError::internal)?;
                let registration = extract
                    .get("registration_number")
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
                let now = now_ms();
                let order = r.order.to_string();
                let slip = OrderEvent::SlipRecorded {
                    lab: r.lab.to_string(),
                    extract_json: extract.to_string(),
                    estimated_finish_ms: r.estimated_finish.map(|t| t.timestamp_millis()),
                    at_ms: now,
                };
                let reception = extract
                    .pointer("/reception/number")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string();
                let received = OrderEvent::StageChanged {
                    stage: "received".into(),
                    site: r.lab.to_string(),
                    detail: format!("reception {reception} at {}", r.lab),
                    charge_json: None,
                    at_ms: now,
                };
                let account_events = registration
                    .map(|number| AccountEvent::RegistrationRecorded {
                        site: r.lab.to_string(),
                        number,
                        at_ms: now,
                    })
                    .into_iter()
                    .collect();
                if apply_to_order(
                    &state,
                    INBOX_CONSUMER,
                    &id,
                    &order,
                    vec![slip, received],
                    account_events,
                )
                .await?
                {
                    state.publish_update(&order, "received", &format!("reception {reception}"));
                }
                Ok(())
            } else if subject.ends_with(".order.rejected") {
                let r: OrderRejected = serde_json::from_slice(&payload)
                    .map_err(|e| AppError::BadRequest(format!("rejection: {e}")))?;
                let order = r.order.to_string();
                let ev = OrderEvent::StageChanged {
                    stage: "rejected".into(),
                    site: r.lab.to_string(),
                    detail: format!("rejected by {}: {}", r.lab, r.reason),
                    charge_json: None,
                    at_ms: r.at.timestamp_millis(),
                };
                if apply_to_order(&state, INBOX_CONSUMER, &id, &order, vec![ev], vec![]).await? {
                    state.publish_update(&order, "rejected", &r.reason);
                }
                Ok(())
            } else {
                Err(AppError::BadRequest(format!(
                    "unexpected subject {subject}"
                )))
            }
        },
    )
    .await;
}
