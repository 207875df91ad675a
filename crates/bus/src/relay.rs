//! The outbox relay: publishes outbox rows to JetStream with `Nats-Msg-Id` = the row's message
//! id (the event id), then marks them sent.
//!
//! Publishing is pipelined: a whole batch is sent, then the acks are awaited. Rows are marked
//! sent only up to the first one whose ack failed, so the next round starts there and the
//! order of the outbox is kept. A crash between publish and mark-sent republishes the batch:
//! JetStream drops the copies inside its duplicate window and the consumer's inbox skips them
//! after it, so the effect happens once either way.
//!
//! One relay per store is the intended set-up; a second one is harmless (its copies are
//! deduplicated the same way) but wasteful.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, context::PublishAckFuture};
use bytes::Bytes;
use reprint_eventstore::{PendingMessage, Store};
use tokio::sync::Notify;

/// What can stop a relay round.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Reading or marking the outbox failed.
    #[error("outbox: {0}")]
    Store(#[from] reprint_eventstore::Error),
    /// JetStream refused a publish before it was sent (e.g. too large, not connected).
    #[error("publish: {0}")]
    Publish(String),
}

/// How the relay runs.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Outbox rows read and published per round.
    pub batch_size: usize,
    /// How often to look at the outbox when nobody wakes the relay.
    pub poll_interval: Duration,
    /// How long to wait after a failed round before the next one.
    pub error_backoff: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            batch_size: 512,
            poll_interval: Duration::from_millis(250),
            error_backoff: Duration::from_secs(1),
        }
    }
}

/// Wakes a relay at once (call it after committing a transaction that wrote outbox rows);
/// without it the relay still finds the rows at its next poll.
#[derive(Debug, Clone, Default)]
pub struct RelayWaker(Arc<Notify>);

impl RelayWaker {
    /// Asks the relay to look at the outbox now.
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// A batch published but not yet marked sent.
#[derive(Debug, Default)]
pub struct Published {
    /// Outbox ids acknowledged by JetStream, in outbox order, up to the first failure.
    pub acked: Vec<i64>,
    /// Acks that were duplicates (JetStream had the message id already).
    pub duplicates: usize,
    /// Rows whose publish failed (they stay unsent and are tried again).
    pub failed: usize,
}

/// Publishes the outbox of a [`Store`] to JetStream.
pub struct Relay {
    store: Store,
    js: jetstream::Context,
    config: RelayConfig,
    waker: RelayWaker,
    /// The last outbox id published in order; the next round reads after it. Reset to 0
    /// when a round finds less than a batch (or fails), so rows of late commits are found.
    cursor: AtomicI64,
}

impl Relay {
    /// A relay for `store` publishing through `js`.
    pub fn new(store: Store, js: jetstream::Context, config: RelayConfig) -> Relay {
        Relay {
            store,
            js,
            config,
            waker: RelayWaker::default(),
            cursor: AtomicI64::new(0),
        }
    }

    /// A handle that wakes this relay.
    pub fn waker(&self) -> RelayWaker {
        self.waker.clone()
    }

    /// Publishes up to one batch of unsent rows and awaits their acks, without marking them
    /// sent. Exposed so that tests can stop a relay exactly between publish and mark-sent;
    /// services use [`Relay::run`].
    pub async fn publish_pending(&self) -> Result<Published, RelayError> {
        let after = self.cursor.load(Ordering::Relaxed);
        let pending = self
            .store
            .pending_outbox(after, self.config.batch_size)
            .await?;
        let full = pending.len() >= self.config.batch_size;
        if pending.is_empty() {
            self.cursor.store(0, Ordering::Relaxed);
            return Ok(Published::default());
        }
        let (published, send_error) = self.publish(pending).await;
        let next = match published.acked.last() {
            Some(&last) if full && published.failed == 0 && send_error.is_none() => last,
            _ => 0,
        };
        self.cursor.store(next, Ordering::Relaxed);
        match send_error {
            Some(e) if published.acked.is_empty() => Err(RelayError::Publish(e)),
            _ => Ok(published),
        }
    }

    /// Sends a batch (pipelined) and awaits its acks: what was acknowledged in order, and the
    /// error that stopped the sending, if any.
    async fn publish(&self, pending: Vec<PendingMessage>) -> (Published, Option<String>) {
        let mut acks: Vec<(i64, PublishAckFuture)> = Vec::with_capacity(pending.len());
        let mut send_error = None;
        for PendingMessage { id, message } in pending {
            let mut headers = HeaderMap::new();
            for (name, value) in message.headers {
                headers.append(name, value);
            }
            headers.insert(async_nats::header::NATS_MESSAGE_ID, message.message_id);
            let publish = jetstream::message::PublishMessage::build()
                .payload(Bytes::from(message.payload))
                .headers(headers);
            match self.js.send_publish(message.subject, publish).await {
                Ok(ack) => acks.push((id, ack)),
                Err(e) => {
                    send_error = Some(e.to_string());
                    break;
                }
            }
        }
        let mut published = Published {
            acked: Vec::with_capacity(acks.len()),
            ..Published::default()
        };
        let mut in_order = true;
        for (id, ack) in acks {
            match ack.await {
                Ok(ack) if in_order => {
                    if ack.duplicate {
                        published.duplicates += 1;
                    }
                    published.acked.push(id);
                }
                Ok(_) => published.failed += 1,
                Err(e) => {
                    tracing::warn!(outbox_id = id, error = %e, "outbox publish not acknowledged");
                    in_order = false;
                    published.failed += 1;
                }
            }
        }
        (published, send_error)
    }

    /// Relays until a round finds less than a full batch (the outbox is drained) and returns
    /// how many rows were marked sent. The rounds overlap: while one batch is published and
    /// acknowledged, the previous one is marked sent and the next one read (on two other
    /// connections), so the database work hides behind the JetStream round trips. At most one batch is in flight, and rows
    /// are marked sent only once acknowledged, in outbox order, as with [`Relay::run_once`];
    /// a failed publish ends the drain after marking what was acknowledged before it.
    pub async fn drain(&self) -> Result<usize, RelayError> {
        Ok(self.drain_until(|| false).await?.0)
    }

    /// [`Relay::drain`], stopping between batches when `stop` says so; also says whether it
    /// stopped that way.
    async fn drain_until(
        &self,
        mut stop: impl FnMut() -> bool,
    ) -> Result<(usize, bool), RelayError> {
        let size = self.config.batch_size.max(1);
        let mut pending = self
            .store
            .pending_outbox(self.cursor.load(Ordering::Relaxed), size)
            .await?;
        let mut to_mark: Vec<i64> = Vec::new();
        let mut marked = 0;
        loop {
            if pending.is_empty() {
                self.store.mark_sent(&to_mark).await?;
                self.cursor.store(0, Ordering::Relaxed);
                return Ok((marked + to_mark.len(), false));
            }
            if stop() {
                // The cursor stays at the last batch published, as between two rounds.
                self.store.mark_sent(&to_mark).await?;
                return Ok((marked + to_mark.len(), true));
            }
            let full = pending.len() >= size;
            let last = pending.last().map_or(0, |p| p.id);
            let fetch = async {
                if full {
                    self.store.pending_outbox(last, size).await
                } else {
                    Ok(Vec::new())
                }
            };
            let ((published, send_error), mark, next) =
                tokio::join!(self.publish(pending), self.store.mark_sent(&to_mark), fetch);
            marked += to_mark.len();
            let next = match mark.and(next) {
                Ok(next) => next,
                Err(e) => {
                    // Not marked: the acked rows are published again later (deduplicated).
                    self.cursor.store(0, Ordering::Relaxed);
                    return Err(e.into());
                }
            };
            to_mark = published.acked;
            if published.failed > 0 || send_error.is_some() || !full {
                self.store.mark_sent(&to_mark).await?;
                self.cursor.store(0, Ordering::Relaxed);
                return match send_error {
                    Some(e) if to_mark.is_empty() && marked == 0 => Err(RelayError::Publish(e)),
                    _ => Ok((marked + to_mark.len(), false)),
                };
            }
            self.cursor.store(last, Ordering::Relaxed);
            pending = next;
        }
    }

    /// One round: publish a batch, mark what was acknowledged sent. Returns how many rows were
    /// marked.
    pub async fn run_once(&self) -> Result<usize, RelayError> {
        let published = self.publish_pending().await?;
        self.store.mark_sent(&published.acked).await?;
        Ok(published.acked.len())
    }

    /// Runs until `shutdown` completes: drains the outbox, then waits for a wake-up or the
    /// poll interval. Errors (NATS or the database away) are logged and retried after
    /// [`RelayConfig::error_backoff`]. A round in progress is finished before stopping.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let mut stopped = false;
            // Drain, honouring a shutdown between batches.
            let drained = self
                .drain_until(|| {
                    stopped = stopped || futures::FutureExt::now_or_never(&mut shutdown).is_some();
                    stopped
                })
                .await;
            let wait = match drained {
                Ok((_, true)) => return,
                Ok(_) => self.config.poll_interval,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay round failed");
                    self.config.error_backoff
                }
            };
            if stopped {
                return;
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.waker.0.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
