//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use reprint_bus::directory::Directory;
use reprint_bus::objects::Images;
use reprint_bus::relay::RelayWaker;
use reprint_eventstore::{ExpectedVersion, NewEvent, OutboxMessage, Store};
use reprint_service::auth::{RateLimiter, SessionKey};
use reprint_service::metrics::Metrics;
use tokio::sync::{Semaphore, broadcast};

use crate::config::Config;
use crate::error::AppResult;
use crate::events::{Order, OrderEvent, order_stream};

/// A change of an order, for the live timeline (server-sent events).
#[derive(Debug, Clone)]
pub struct OrderUpdate {
    pub order: String,
    pub stage: String,
    pub detail: String,
}

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub store: Store,
    pub nats: async_nats::Client,
    pub js: async_nats::jetstream::Context,
    pub directory: Directory,
    pub images: Images,
    pub key: SessionKey,
    pub limiter: RateLimiter,
    pub metrics: Metrics,
    pub updates: broadcast::Sender<OrderUpdate>,
    /// Wakes the outbox relay after a commit that wrote outbox rows.
    pub relay_wake: RelayWaker,
    pub uploads: Semaphore,
    pub gateway: reprint_bus::subjects::SiteId,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Inner {
    pub fn rpc_timeout(&self) -> Duration {
        Duration::from_millis(self.config.nats.rpc_timeout_ms)
    }

    /// The order folded from its stream (empty when it does not exist).
    pub async fn load_order(&self, order: &str) -> AppResult<Order> {
        let events = self
            .store
            .read_stream(&order_stream(order), 1, 10_000)
            .await?;
        let mut state = Order::default();
        for e in &events {
            let ev: OrderEvent = e.decode()?;
            state = state.evolve(&ev);
        }
        Ok(state)
    }

    /// Appends order events after `expected`, with outbox messages, in one transaction.
    pub async fn append_order(
        &self,
        order: &str,
        expected: ExpectedVersion,
        events: &[OrderEvent],
        outbox: &[OutboxMessage],
    ) -> AppResult<()> {
        let new = to_new(events)?;
        let mut tx = self.store.begin().await?;
        tx.append(&order_stream(order), expected, &new).await?;
        if !outbox.is_empty() {
            tx.enqueue(outbox).await?;
        }
        tx.commit().await?;
        if !outbox.is_empty() {
            self.relay_wake.wake();
        }
        Ok(())
    }

    pub fn publish_update(&self, order: &str, stage: &str, detail: &str) {
        let _ = self.updates.send(OrderUpdate {
            order: order.to_string(),
            stage: stage.to_string(),
            detail: detail.to_string(),
        });
    }
}

/// Events ready to append, each with a fresh id.
pub fn to_new<E: reprint_eventstore::Event>(events: &[E]) -> AppResult<Vec<NewEvent>> {
    events
        .iter()
        .map(|e| {
            Ok(reprint_eventstore::codec::new_event(
                e,
                uuid::Uuid::now_v7(),
                Default::default(),
            )?)
        })
        .collect()
}
