//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use reprint_bus::directory::Directory;
use reprint_bus::objects::Images;
use reprint_bus::relay::RelayWaker;
use reprint_eventstore::{NewEvent, Store};
use reprint_service::auth::{RateLimiter, SessionKey};
use reprint_service::clock::Clock;
use reprint_service::metrics::Metrics;
use tokio::sync::{Semaphore, broadcast};

use crate::config::Config;
use crate::error::AppResult;
use crate::orders::{self, Loaded};

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
    /// Log-in attempts: lockout per account and source, argon2 verifications.
    pub logins: reprint_service::auth::Logins,
    pub metrics: Metrics,
    pub updates: broadcast::Sender<OrderUpdate>,
    /// Wakes the outbox relay after a commit that wrote outbox rows.
    pub relay_wake: RelayWaker,
    pub uploads: Semaphore,
    /// Thumbnails built and uploads checked per account at the same time ([`MediaGates`]).
    pub media: MediaGates,
    pub gateway: reprint_bus::subjects::SiteId,
    /// Every time the gateway records or decides by is read here (tests pin it).
    pub clock: Clock,
}

/// What bounds the gateway's image work beside [`Inner::uploads`] (the total of uploads decoded
/// at once): thumbnails are built behind permits of their own, and one account's uploads take
/// at most `uploads_per_account` of the upload permits, so another account always finds one.
pub struct MediaGates {
    /// Thumbnails built at the same time (each decodes an image, up to the decoded limit).
    pub thumbnails: Semaphore,
    /// Per account, the permits of its uploads being checked (entries go when unused).
    pub accounts: std::sync::Mutex<std::collections::HashMap<String, Arc<Semaphore>>>,
    /// Upload permits one account may hold at once.
    pub per_account: usize,
}

impl MediaGates {
    pub fn new(storage: &crate::config::StorageConfig) -> MediaGates {
        MediaGates {
            thumbnails: Semaphore::new(storage.concurrent_thumbnails.max(1)),
            accounts: Default::default(),
            per_account: storage.uploads_per_account.max(1),
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Inner {
    pub fn rpc_timeout(&self) -> Duration {
        Duration::from_millis(self.config.nats.rpc_timeout_ms)
    }

    /// Milliseconds since the Unix epoch, by the gateway's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The order folded from its stream (empty when it does not exist).
    pub async fn load_order(&self, order: &str) -> AppResult<Loaded> {
        Ok(orders::load_now(&self.store, order).await?)
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
