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
//! Pulling: one pull request of at most `batch_size` messages ([`PULL_WAIT`] long at most) is
//! open at a time, and what has arrived of it is handled as a batch, so no more than
//! `batch_size` messages are in hand. A batch handled longer than a third of the consumer's
//! `ack_wait` tells JetStream it is in progress (`AckKind::Progress`) every third of it, so a
//! long render or a stalled database does not get its messages redelivered meanwhile. On
//! shutdown the batch being handled is finished, the request in hand read to its end, and
//! every message pulled but not handled is nak'ed without delay: a restarted service (or
//! another instance) gets them at once, not after `ack_wait`.
//!
//! Lag: with [`InboxConsumer::with_lag_reporter`], a task beside [`InboxConsumer::run`] asks
//! JetStream for the consumer's info every [`ConsumerConfig::lag_interval`] and reports its
//! lag, `num_pending` (not delivered yet) plus `num_ack_pending` (delivered, not acked), under
//! the durable consumer's name; a service feeds its `consumer_lag` gauge with it.
//!
//! Every handling runs in its own span (`handle <topic>`, with `subject`, `message_id` and an
//! `order` the handler may record), a child of the sender's span named by the message's
//! `traceparent` header ([`Incoming::trace`]); what the handler sends should carry
//! [`TraceContext::outgoing`] from inside it.
//!
//! Error choices: a handler says what kind of failure it has ([`HandlerError`]); store errors
//! convert by [`reprint_eventstore::Error::is_retryable`] and codec errors are permanent.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::PullConsumer};
use futures::StreamExt;
use futures::future::BoxFuture;
use reprint_eventstore::{ParkedMessage, Store, Transaction};
use tracing::Instrument;

use crate::subjects::Subject;
use crate::trace::{TRACEPARENT, TRACESTATE, TraceContext};

/// The longest a pull request waits for messages; also the longest a shutdown waits for the
/// request in hand to end (when no message is coming).
pub const PULL_WAIT: Duration = Duration::from_secs(1);

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

    /// The sender's trace context from the `traceparent` (and `tracestate`) header; `None`
    /// when there is none or it is malformed (logged: a bad header must not stop work).
    pub fn trace(&self) -> Option<TraceContext> {
        let parent = self.header(TRACEPARENT)?;
        match TraceContext::parse(parent, self.header(TRACESTATE)) {
            Ok(ctx) => Some(ctx),
            Err(e) => {
                tracing::debug!(message_id = %self.message_id, error = %e,
                    "ignoring malformed trace context, starting a new trace");
                None
            }
        }
    }

    /// Runs `work` (the handling of this message) in [`Incoming::span`], carrying the sender's
    /// context for [`TraceContext::outgoing`].
    pub async fn run<F: Future>(&self, work: F) -> F::Output {
        // The context read once, for the span and for the work.
        let trace = self.trace();
        let span = self.span_in(trace.as_ref());
        match trace {
            Some(ctx) => ctx.run(span, work).await,
            None => work.instrument(span).await,
        }
    }

    /// The span to handle this message in: a child of the sender's span, or the root of a new
    /// trace when the message carried no (valid) context.
    pub fn span(&self) -> tracing::Span {
        self.span_in(self.trace().as_ref())
    }

    /// [`Incoming::span`] with the sender's context already read.
    fn span_in(&self, trace: Option<&TraceContext>) -> tracing::Span {
        let operation = match Subject::parse(&self.subject) {
            Ok(Subject::Inbox { topic, .. }) => format!("handle {topic}"),
            Ok(Subject::Status { .. }) => "handle status".to_string(),
            Ok(Subject::Rpc { method, .. }) => format!("handle rpc {method}"),
            Err(_) => "handle message".to_string(),
        };
        let span = match trace {
            Some(ctx) => ctx.span(&operation),
            None => TraceContext::root_span(&operation),
        };
        span.record("subject", self.subject.as_str());
        span.record("message_id", self.message_id.as_str());
        if !span.is_disabled() {
            // Every message of the protocol names its order: the span says which.
            // Read borrowed (no copy of the payload's other fields), only while the span is on.
            #[derive(serde::Deserialize)]
            struct About<'a> {
                #[serde(borrow)]
                order: Option<std::borrow::Cow<'a, str>>,
            }
            if let Ok(About { order: Some(order) }) = serde_json::from_slice::<About>(&self.payload)
            {
                span.record("order", order.as_ref());
            }
        }
        span
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
    /// How often the lag is asked for (with a [`LagReporter`] only).
    pub lag_interval: Duration,
}

impl ConsumerConfig {
    /// Defaults for the inbox `name`: batches of 256, 1 s nak delay, `max_deliver` from the
    /// JetStream consumer, the lag asked for every 2 s.
    pub fn new(name: impl Into<String>) -> ConsumerConfig {
        ConsumerConfig {
            name: name.into(),
            batch_size: 256,
            nak_delay: Duration::from_secs(1),
            max_deliver: None,
            lag_interval: Duration::from_secs(2),
        }
    }
}

/// Told a consumer's lag: the durable consumer's name and the messages it has not finished
/// (`num_pending + num_ack_pending`).
pub type LagReporter = Arc<dyn Fn(&str, u64) + Send + Sync>;

/// The lag of a consumer as JetStream counts it: messages not delivered yet plus messages
/// delivered and not acked yet.
pub async fn lag_of(consumer: &PullConsumer) -> Result<u64, ConsumerError> {
    let info = consumer
        .get_info()
        .await
        .map_err(|e| ConsumerError::Nats(e.to_string()))?;
    Ok(info
        .num_pending
        .saturating_add(u64::try_from(info.num_ack_pending).unwrap_or(u64::MAX)))
}

/// Aborts the lag poller when the consumer's run ends, however it ends (also when the run's
/// future is dropped); [`AbortOnDrop::stop`] also waits until it has stopped.
struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl AbortOnDrop {
    /// Aborts the poller and waits for it: no report comes after this returns (an abort alone
    /// lets a poll already running on another worker thread still report once).
    async fn stop(mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
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
    lag: Option<LagReporter>,
    relay: Option<crate::relay::RelayWaker>,
    progress_every: Duration,
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
        // A batch still being handled says so (`AckKind::Progress`) three times per ack_wait,
        // so that JetStream does not redeliver it meanwhile.
        let ack_wait = consumer.cached_info().config.ack_wait;
        let ack_wait = if ack_wait.is_zero() {
            Duration::from_secs(30)
        } else {
            ack_wait
        };
        InboxConsumer {
            store,
            consumer,
            handler,
            config,
            max_deliver,
            lag: None,
            relay: None,
            progress_every: (ack_wait / 3).max(Duration::from_millis(50)),
        }
    }

    /// The same consumer waking `relay` once a transaction that handled a message has
    /// committed, so that what the handler put into the outbox (a reception's slip, a status)
    /// goes out at once instead of at the relay's next poll.
    pub fn with_relay_waker(mut self, relay: crate::relay::RelayWaker) -> InboxConsumer<H> {
        self.relay = Some(relay);
        self
    }

    fn wake_relay(&self) {
        if let Some(relay) = &self.relay {
            relay.wake();
        }
    }

    /// The same consumer reporting its lag to `reporter` while it runs (see the module
    /// documentation).
    pub fn with_lag_reporter(mut self, reporter: LagReporter) -> InboxConsumer<H> {
        self.lag = Some(reporter);
        self
    }

    /// Starts the lag poller, if there is a reporter.
    fn poll_lag(&self) -> Option<AbortOnDrop> {
        let reporter = self.lag.clone()?;
        let consumer = self.consumer.clone();
        let name = consumer.cached_info().name.clone();
        let every = self.config.lag_interval.max(Duration::from_millis(50));
        Some(AbortOnDrop(Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match lag_of(&consumer).await {
                    Ok(n) => reporter(&name, n),
                    // NATS away: keep the last value; the consumer's own errors say more.
                    Err(e) => tracing::debug!(consumer = %name, error = %e, "consumer lag"),
                }
            }
        }))))
    }

    /// Runs until `shutdown` completes, then returns after the batch in hand. Errors of a
    /// batch (store or NATS away) are logged; the messages come back after their nak delay or
    /// ack wait. Returns an error when the durable consumer can no longer be read (deleted,
    /// or JetStream not answering after it refused a pull request).
    ///
    /// Messages are pulled one request of at most `batch_size` at a time ([`PULL_WAIT`] long
    /// at most), and what has arrived of it is handled as one batch while the rest may still
    /// come: so no more than `batch_size` messages are ever in hand. On shutdown the request
    /// in hand is read to its end (the server ends it within [`PULL_WAIT`]) and every message
    /// pulled but not handled is nak'ed without delay, so that a restarted service (or another
    /// instance) gets it at once, not after the consumer's `ack_wait`.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ConsumerError> {
        let lag = self.poll_lag();
        let result = self.pull_and_handle(shutdown).await;
        if let Some(lag) = lag {
            lag.stop().await;
        }
        result
    }

    async fn pull_and_handle(
        &self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ConsumerError> {
        tokio::pin!(shutdown);
        let size = self.config.batch_size.max(1);
        loop {
            let request = tokio::select! {
                biased;
                _ = &mut shutdown => return Ok(()),
                request = self
                    .consumer
                    .batch()
                    .max_messages(size)
                    .expires(PULL_WAIT)
                    .messages() => request,
            };
            let request = match request {
                Ok(request) => request,
                Err(e) => {
                    // NATS away: say so and try again after a pause, as the old stream did.
                    tracing::warn!(consumer = %self.config.name, error = %e, "pull request");
                    tokio::select! {
                        biased;
                        _ = &mut shutdown => return Ok(()),
                        _ = tokio::time::sleep(PULL_WAIT) => continue,
                    }
                }
            };
            let mut chunks = request.ready_chunks(size);
            // A request the server refused (409 consumer deleted or leader changing, 503 no
            // responders): a consumer that is gone ends the run (the service re-opens it, as
            // when the old message stream ended); otherwise pause before the next request, so
            // as not to spin.
            let mut refused = false;
            loop {
                let chunk = tokio::select! {
                    biased;
                    _ = &mut shutdown => {
                        self.give_back(chunks).await;
                        return Ok(());
                    }
                    chunk = chunks.next() => chunk,
                };
                // The request ended (all its messages came, or it expired): pull again.
                let Some(chunk) = chunk else { break };
                refused |= chunk.iter().any(Result::is_err);
                let received = self.pulled(chunk);
                if received.is_empty() {
                    continue;
                }
                if let Err(e) = self.handle_batch(received).await {
                    tracing::warn!(consumer = %self.config.name, error = %e, "batch failed");
                }
            }
            if refused {
                if let Err(e) = self.consumer.get_info().await {
                    return Err(ConsumerError::Nats(format!("consumer gone: {e}")));
                }
                tokio::select! {
                    biased;
                    _ = &mut shutdown => return Ok(()),
                    _ = tokio::time::sleep(PULL_WAIT) => {}
                }
            }
        }
    }

    /// The messages of a pulled chunk; errors of the pull are logged.
    fn pulled(
        &self,
        chunk: Vec<Result<jetstream::Message, async_nats::Error>>,
    ) -> Vec<jetstream::Message> {
        let mut received = Vec::with_capacity(chunk.len());
        for m in chunk {
            match m {
                Ok(m) => received.push(m),
                Err(e) => tracing::warn!(consumer = %self.config.name, error = %e, "pull"),
            }
        }
        received
    }

    /// On shutdown: reads the pull request in hand to its end and naks, without delay, every
    /// message of it not handled, so that they are redelivered at once.
    async fn give_back(
        &self,
        mut chunks: impl futures::Stream<Item = Vec<Result<jetstream::Message, async_nats::Error>>>
        + Unpin,
    ) {
        // Nak only once the request has ended: a message nak'ed while it is open could be
        // delivered to it again (and count a delivery towards max_deliver each time).
        let mut unhandled = Vec::new();
        // The server ends the request by PULL_WAIT; the client's own timer a little later.
        let deadline = PULL_WAIT + Duration::from_secs(5);
        let drained = tokio::time::timeout(deadline, async {
            while let Some(chunk) = chunks.next().await {
                unhandled.extend(self.pulled(chunk));
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(consumer = %self.config.name,
                "pull request not ended at shutdown; what is left of it comes back after ack_wait");
        }
        for m in &unhandled {
            ack(m, AckKind::Nak(None)).await;
        }
        if !unhandled.is_empty() {
            tracing::info!(consumer = %self.config.name, messages = unhandled.len(),
                "gave back unhandled messages on shutdown");
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
        match self
            .with_progress(&received, self.batch_transaction(&received))
            .await
        {
            Ok(outcome) => {
                if outcome.handled > 0 {
                    self.wake_relay();
                }
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
                    outcome.add(
                        &self
                            .with_progress(std::slice::from_ref(r), self.handle_one(r))
                            .await,
                    );
                }
                Ok(outcome)
            }
        }
    }

    /// Runs `work` (the handling of `received`), telling JetStream every third of the
    /// consumer's `ack_wait` that the messages are still in progress: a batch that renders or
    /// waits on the database longer than `ack_wait` is not redelivered while it is handled.
    async fn with_progress<T>(&self, received: &[Received], work: impl Future<Output = T>) -> T {
        tokio::pin!(work);
        let every = self.progress_every;
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                out = &mut work => return out,
                _ = tick.tick() => {
                    for r in received {
                        ack(&r.message, AckKind::Progress).await;
                    }
                }
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
            r.incoming
                .run(self.handler.handle(&mut tx, &r.incoming))
                .await?;
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
            r.incoming
                .run(self.handler.handle(&mut tx, &r.incoming))
                .await?;
            tx.commit().await?;
            Ok::<bool, HandlerError>(true)
        }
        .await;
        match result {
            Ok(true) => {
                self.wake_relay();
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

    /// The topic of an inbox message, from its subject (`Subject::parse`): how every inbox is
    /// routed. Any other subject is a permanent error (parked), naming it.
    pub fn inbox_topic(&self) -> Result<crate::subjects::Topic, HandlerError> {
        match Subject::parse(&self.subject) {
            Ok(Subject::Inbox { topic, .. }) => Ok(topic),
            _ => Err(HandlerError::permanent(format!(
                "not an inbox subject: {}",
                self.subject
            ))),
        }
    }
}

/// Runs a site's inbox consumer until `shutdown` resolves: ensures its durable consumer on
/// JetStream (creating it again if it was deleted), runs the [`InboxConsumer`] that `build`
/// makes on it, and when that stops with an error (NATS away, the durable consumer gone, the
/// pull refused) or the durable cannot be ensured, waits `pause` and starts again. `shutdown`
/// gives a fresh future each time it is called (e.g. `|| signal.clone().wait()`).
pub async fn run_until_shutdown<H, B, S, SF>(
    js: jetstream::Context,
    durable: crate::streams::DurableConsumer,
    build: B,
    pause: Duration,
    shutdown: S,
) where
    H: Handler,
    B: Fn(PullConsumer) -> InboxConsumer<H>,
    S: Fn() -> SF,
    SF: Future<Output = ()>,
{
    let name = durable.name().to_string();
    loop {
        let ensured = tokio::select! {
            biased;
            _ = shutdown() => return,
            ensured = crate::streams::ensure_consumer(&js, &durable) => ensured,
        };
        // The consumer itself watches `shutdown`: it finishes its batch and gives back the
        // rest (see [`InboxConsumer::run`]), so it is never dropped mid-batch.
        let stopped = match ensured {
            Ok(pull) => match build(pull).run(shutdown()).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(consumer = %name, error = %e, "inbox consumer stopped; starting it again");
                    false
                }
            },
            Err(e) => {
                tracing::warn!(consumer = %name, error = %e, "inbox consumer cannot be opened; trying again");
                false
            }
        };
        if stopped {
            return;
        }
        tokio::select! {
            biased;
            _ = shutdown() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}
