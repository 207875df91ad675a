//! The durable pull consumer loop with an inbox: at-least-once delivery from JetStream,
//! exactly-once effect in the store.
//!
//! Each batch of messages is handled in ONE store transaction: the message ids are recorded in
//! the inbox (ids already there are skipped: that holds after the 2-minute JetStream duplicate
//! window too), the [`Handler`] runs for every new message with that transaction, and the
//! transaction commits; only then are the messages acked. When a message of the batch fails,
//! the batch is rolled back and its messages are handled one transaction each, so that one bad
//! message cannot hold the others back:
//! - a transient error (database away, a version conflict) naks the message with a delay;
//! - a permanent error, or a transient one on the last allowed delivery (`max_deliver`), writes
//!   a parked-message record and terms the message: nothing is silently dropped, and the
//!   consumer goes on.
//!
//! Error choices: a handler says what kind of failure it has ([`HandlerError`]); store errors
//! convert by [`reprint_eventstore::Error::is_retryable`] and codec errors are permanent.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::PullConsumer};
use futures::StreamExt;
use futures::future::BoxFuture;
use reprint_eventstore::{ParkedMessage, Store, Transaction};

/// A boxed error from a handler.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a handler could not handle a message.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth trying again later (nak with delay).
    #[error("transient: {0}")]
    Transient(BoxError),
    /// Will never succeed (the message is parked and termed).
    #[error("permanent: {0}")]
    Permanent(BoxError),
}

impl HandlerError {
    /// A transient error from anything printable.
    pub fn transient(e: impl Into<BoxError>) -> HandlerError {
        HandlerError::Transient(e.into())
    }

    /// A permanent error from anything printable.
    pub fn permanent(e: impl Into<BoxError>) -> HandlerError {
        HandlerError::Permanent(e.into())
    }
}

impl From<reprint_eventstore::Error> for HandlerError {
    fn from(e: reprint_eventstore::Error) -> HandlerError {
        match e {
            reprint_eventstore::Error::Codec(_) => HandlerError::Permanent(Box::new(e)),
            _ => HandlerError::Transient(Box::new(e)),
        }
    }
}

impl From<reprint_eventstore::CodecError> for HandlerError {
    fn from(e: reprint_eventstore::CodecError) -> HandlerError {
        HandlerError::Permanent(Box::new(e))
    }
}

/// A message as the handler sees it.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// `Nats-Msg-Id`, or `<stream>:<sequence>` when the publisher set none.
    pub message_id: String,
    /// The subject it was published on.
    pub subject: String,
    /// The body.
    pub payload: bytes::Bytes,
    /// Its headers (a name with several values appears several times).
    pub headers: Vec<(String, String)>,
    /// How many times JetStream delivered it (1 the first time).
    pub deliveries: u64,
}

impl Incoming {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Handles one message inside the batch's transaction: append events (with expected
/// versions), write outbox rows and the service's own tables through `tx`; never commit.
///
/// A handler that does not need the result of its append at once should queue it with
/// [`Transaction::append_deferred`]: the appends of the whole batch are then written in one
/// statement at commit (about 3x the messages per second on Postgres), and a conflict there
/// fails the batch, whose messages are then handled one transaction each as usual.
pub trait Handler: Send + Sync {
    /// Handles `message`.
    fn handle<'a>(
        &'a self,
        tx: &'a mut Transaction,
        message: &'a Incoming,
    ) -> BoxFuture<'a, Result<(), HandlerError>>;
}

/// What can stop the consumer.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// JetStream (fetching, consumer info).
    #[error("jetstream: {0}")]
    Nats(String),
    /// The store.
    #[error("store: {0}")]
    Store(#[from] reprint_eventstore::Error),
}

/// How the consumer runs.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// The inbox name (usually the durable consumer's name).
    pub name: String,
    /// Most messages handled in one transaction.
    pub batch_size: usize,
    /// How long a nak'ed message waits before redelivery.
    pub nak_delay: Duration,
    /// The last delivery allowed; `None` reads `max_deliver` from the consumer's config.
    pub max_deliver: Option<u64>,
}

impl ConsumerConfig {
    /// Defaults for the inbox `name`: batches of 256, 1 s nak delay, `max_deliver` from the
    /// JetStream consumer.
    pub fn new(name: impl Into<String>) -> ConsumerConfig {
        ConsumerConfig {
            name: name.into(),
            batch_size: 256,
            nak_delay: Duration::from_secs(1),
            max_deliver: None,
        }
    }
}

/// What one batch did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Messages handled and acked.
    pub handled: usize,
    /// Messages already in the inbox, acked without handling.
    pub skipped: usize,
    /// Messages nak'ed for a later retry.
    pub retried: usize,
    /// Messages parked and termed.
    pub parked: usize,
}

impl BatchOutcome {
    fn add(&mut self, o: &BatchOutcome) {
        self.handled += o.handled;
        self.skipped += o.skipped;
        self.retried += o.retried;
        self.parked += o.parked;
    }
}

/// A durable pull consumer whose messages are handled in store transactions with an inbox.
pub struct InboxConsumer<H> {
    store: Store,
    consumer: PullConsumer,
    handler: H,
    config: ConsumerConfig,
    max_deliver: u64,
}

struct Received {
    incoming: Incoming,
    message: jetstream::Message,
}

impl<H: Handler> InboxConsumer<H> {
    /// A consumer of `consumer` (an existing durable pull consumer with explicit ack).
    pub fn new(
        store: Store,
        consumer: PullConsumer,
        handler: H,
        config: ConsumerConfig,
    ) -> InboxConsumer<H> {
        let max_deliver = config.max_deliver.unwrap_or_else(|| {
            let configured = consumer.cached_info().config.max_deliver;
            // -1 (or 0) means unbounded on the server: never park for delivery count alone.
            if configured > 0 {
                configured as u64
            } else {
                u64::MAX
            }
        });
        InboxConsumer {
            store,
            consumer,
            handler,
            config,
            max_deliver,
        }
    }

    /// Runs until `shutdown` completes, then returns after the batch in hand. Errors of a
    /// batch (store or NATS away) are logged; the messages come back after their nak delay or
    /// ack wait.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ConsumerError> {
        tokio::pin!(shutdown);
        let messages = self
            .consumer
            .stream()
            .max_messages_per_batch(self.config.batch_size.max(1))
            .heartbeat(Duration::from_secs(5))
            .expires(Duration::from_secs(30))
            .messages()
            .await
            .map_err(|e| ConsumerError::Nats(e.to_string()))?;
        let mut batches = messages.ready_chunks(self.config.batch_size.max(1));
        loop {
            let batch = tokio::select! {
                _ = &mut shutdown => return Ok(()),
                batch = batches.next() => batch,
            };
            let Some(batch) = batch else {
                return Err(ConsumerError::Nats("message stream ended".into()));
            };
            let mut received = Vec::with_capacity(batch.len());
            for m in batch {
                match m {
                    Ok(m) => received.push(m),
                    Err(e) => tracing::warn!(consumer = %self.config.name, error = %e, "pull"),
                }
            }
            if received.is_empty() {
                continue;
            }
            if let Err(e) = self.handle_batch(received).await {
                tracing::warn!(consumer = %self.config.name, error = %e, "batch failed");
            }
        }
    }

    /// Fetches what is available now (at most one batch, waiting up to `wait` for the first
    /// message) and handles it. For tests and tools; services use [`InboxConsumer::run`].
    pub async fn run_once(&self, wait: Duration) -> Result<BatchOutcome, ConsumerError> {
        let mut batch = self
            .consumer
            .batch()
            .max_messages(self.config.batch_size.max(1))
            .expires(wait.max(Duration::from_millis(10)))
            .messages()
            .await
            .map_err(|e| ConsumerError::Nats(e.to_string()))?;
        let mut received = Vec::new();
        while let Some(m) = batch.next().await {
            match m {
                Ok(m) => received.push(m),
                Err(e) => return Err(ConsumerError::Nats(e.to_string())),
            }
        }
        if received.is_empty() {
            return Ok(BatchOutcome::default());
        }
        self.handle_batch(received).await
    }

    /// Handles fetched messages: one transaction for the whole batch, or one per message
    /// when something in the batch fails.
    pub async fn handle_batch(
        &self,
        messages: Vec<jetstream::Message>,
    ) -> Result<BatchOutcome, ConsumerError> {
        let received: Vec<Received> = messages.into_iter().map(received).collect();
        match self.batch_transaction(&received).await {
            Ok(outcome) => {
                for r in &received {
                    ack(&r.message, AckKind::Ack).await;
                }
                Ok(outcome)
            }
            Err(e) => {
                tracing::debug!(consumer = %self.config.name, error = %e,
                    "batch rolled back; handling its messages one by one");
                let mut outcome = BatchOutcome::default();
                for r in &received {
                    outcome.add(&self.handle_one(r).await);
                }
                Ok(outcome)
            }
        }
    }

    async fn batch_transaction(&self, received: &[Received]) -> Result<BatchOutcome, BoxError> {
        let mut tx = self.store.begin().await?;
        let ids: Vec<&str> = received
            .iter()
            .map(|r| r.incoming.message_id.as_str())
            .collect();
        let fresh = tx.inbox_record(&self.config.name, &ids).await?;
        let mut outcome = BatchOutcome::default();
        for (r, fresh) in received.iter().zip(fresh) {
            if !fresh {
                outcome.skipped += 1;
                continue;
            }
            self.handler.handle(&mut tx, &r.incoming).await?;
            outcome.handled += 1;
        }
        tx.commit().await?;
        Ok(outcome)
    }

    async fn handle_one(&self, r: &Received) -> BatchOutcome {
        let mut outcome = BatchOutcome::default();
        let result = async {
            let mut tx = self.store.begin().await?;
            let fresh = tx
                .inbox_record(&self.config.name, &[r.incoming.message_id.as_str()])
                .await?;
            if fresh.first() != Some(&true) {
                tx.commit().await?;
                return Ok(false);
            }
            self.handler.handle(&mut tx, &r.incoming).await?;
            tx.commit().await?;
            Ok::<bool, HandlerError>(true)
        }
        .await;
        match result {
            Ok(true) => {
                ack(&r.message, AckKind::Ack).await;
                outcome.handled = 1;
            }
            Ok(false) => {
                ack(&r.message, AckKind::Ack).await;
                outcome.skipped = 1;
            }
            Err(HandlerError::Transient(e)) if r.incoming.deliveries < self.max_deliver => {
                tracing::info!(consumer = %self.config.name, message_id = %r.incoming.message_id,
                    deliveries = r.incoming.deliveries, error = %e, "retrying later");
                ack(&r.message, AckKind::Nak(Some(self.config.nak_delay))).await;
                outcome.retried = 1;
            }
            Err(e) => {
                let reason = match &e {
                    HandlerError::Permanent(e) => format!("permanent error: {e}"),
                    HandlerError::Transient(e) => format!(
                        "still failing after {} deliveries: {e}",
                        r.incoming.deliveries
                    ),
                };
                match self.park(&r.incoming, reason).await {
                    Ok(()) => {
                        ack(&r.message, AckKind::Term).await;
                        outcome.parked = 1;
                    }
                    Err(pe) => {
                        // Cannot record it: leave it to JetStream to deliver again.
                        tracing::error!(consumer = %self.config.name,
                            message_id = %r.incoming.message_id, error = %pe,
                            "cannot park a failed message");
                        ack(&r.message, AckKind::Nak(Some(self.config.nak_delay))).await;
                        outcome.retried = 1;
                    }
                }
            }
        }
        outcome
    }

    async fn park(&self, m: &Incoming, reason: String) -> Result<(), reprint_eventstore::Error> {
        tracing::warn!(consumer = %self.config.name, message_id = %m.message_id,
            subject = %m.subject, %reason, "parking message");
        self.store
            .park(&ParkedMessage {
                consumer: self.config.name.clone(),
                message_id: m.message_id.clone(),
                subject: m.subject.clone(),
                payload: m.payload.to_vec(),
                headers: m.headers.clone(),
                deliveries: m.deliveries,
                reason,
            })
            .await
    }
}

fn received(message: jetstream::Message) -> Received {
    let mut headers = Vec::new();
    let mut message_id = None;
    if let Some(h) = &message.headers {
        for (name, values) in h.iter() {
            for v in values {
                headers.push((name.to_string(), v.to_string()));
            }
        }
        message_id = h
            .get(async_nats::header::NATS_MESSAGE_ID)
            .map(|v| v.to_string());
    }
    let info = message.info().ok();
    let deliveries = info
        .as_ref()
        .map(|i| i.delivered.max(1) as u64)
        .unwrap_or(1);
    let message_id = message_id.unwrap_or_else(|| match &info {
        Some(i) => format!("{}:{}", i.stream, i.stream_sequence),
        None => format!("{}:unknown", message.subject),
    });
    headers.sort();
    Received {
        incoming: Incoming {
            message_id,
            subject: message.subject.to_string(),
            payload: message.payload.clone(),
            headers,
            deliveries,
        },
        message,
    }
}

async fn ack(message: &jetstream::Message, kind: AckKind) {
    if let Err(e) = message.ack_with(kind).await {
        // A lost ack means a redelivery, which the inbox makes harmless.
        tracing::warn!(error = %e, "ack failed");
    }
}

impl Incoming {
    /// The body read as JSON; an unreadable body is a permanent error (it will not get better
    /// on redelivery), naming the subject.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HandlerError> {
        serde_json::from_slice(&self.payload)
            .map_err(|e| HandlerError::permanent(format!("{}: unreadable body: {e}", self.subject)))
    }
}
