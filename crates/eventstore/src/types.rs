//! The values that go into and come out of the store.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Free-form string pairs stored beside an event (correlation and causation ids, W3C trace
/// context, the user or site that caused it). Stored as a JSON object.
pub type Metadata = BTreeMap<String, String>;

/// The version a writer expects a stream to be at before its append.
///
/// Versions count events: the first event of a stream has version 1, and a stream's version is
/// the version of its last event (0 when it has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// The stream must have no events yet (the same as `Exact(0)`).
    NoStream,
    /// The stream's last event must have exactly this version.
    Exact(u64),
    /// No check: append after whatever is there.
    Any,
}

impl ExpectedVersion {
    /// The exact version expected, `None` for [`ExpectedVersion::Any`].
    pub fn exact(self) -> Option<u64> {
        match self {
            ExpectedVersion::NoStream => Some(0),
            ExpectedVersion::Exact(n) => Some(n),
            ExpectedVersion::Any => None,
        }
    }

    /// `Exact(version)`, or `NoStream` for version 0: what to expect after having read a
    /// stream up to `version`.
    pub fn after(version: u64) -> ExpectedVersion {
        if version == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(version)
        }
    }
}

/// An event to append: its id makes appends idempotent (an id that is already stored is
/// skipped, never stored twice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Unique over the whole store; also the `Nats-Msg-Id` when the event is published.
    pub event_id: Uuid,
    /// The event's type name, e.g. `reception.registered`.
    pub event_type: String,
    /// The version of the payload's schema for this type (see [`crate::codec`]).
    pub schema_version: u32,
    /// The postcard-encoded payload.
    pub payload: Vec<u8>,
    /// Correlation, causation, trace context.
    pub metadata: Metadata,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// The global position (insertion order over the whole store; may have gaps).
    pub position: i64,
    /// The writing transaction (Postgres `xid8`); 0 on SQLite, where commit order is
    /// position order.
    pub tx_id: i64,
    /// The stream the event belongs to.
    pub stream_id: String,
    /// The event's version in its stream (1 for the first event).
    pub version: u64,
    /// The event's unique id.
    pub event_id: Uuid,
    /// The event's type name.
    pub event_type: String,
    /// The schema version the payload was written with.
    pub schema_version: u32,
    /// The postcard-encoded payload.
    pub payload: Vec<u8>,
    /// Correlation, causation, trace context.
    pub metadata: Metadata,
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
}

impl RecordedEvent {
    /// The checkpoint just after this event, for [`crate::EventReader::read_all`].
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            tx_id: self.tx_id,
            position: self.position,
        }
    }
}

/// Where a catch-up reader is in the global order of all events.
///
/// Postgres orders `read_all` by (writing transaction, position) and only returns rows of
/// transactions older than every transaction still in flight, so that a reader never passes a
/// row that commits later; the checkpoint therefore holds both. On SQLite `tx_id` is always 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Checkpoint {
    /// The writing transaction of the last event read.
    pub tx_id: i64,
    /// The position of the last event read.
    pub position: i64,
}

impl Checkpoint {
    /// Before the first event.
    pub const START: Checkpoint = Checkpoint {
        tx_id: 0,
        position: 0,
    };
}

/// What an append did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendResult {
    /// The stream's version after the append.
    pub stream_version: u64,
    /// The global positions of the events stored by this append, in order; empty when every
    /// event id was already stored (the append was a no-op).
    pub positions: Vec<i64>,
}

impl AppendResult {
    /// True when nothing was stored because every event id was already there.
    pub fn is_noop(&self) -> bool {
        self.positions.is_empty()
    }
}

/// A message to publish on NATS, written to the outbox in the same transaction as the events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// Becomes `Nats-Msg-Id`; unique in the outbox (writing it again is a no-op).
    pub message_id: String,
    /// The NATS subject.
    pub subject: String,
    /// The message body.
    pub payload: Vec<u8>,
    /// Extra NATS headers (trace context, event type and schema version).
    pub headers: Vec<(String, String)>,
}

impl OutboxMessage {
    /// The message that publishes `event` on `subject`: the event id becomes the message id,
    /// the payload is the event's, and its type, schema version and metadata become headers
    /// (see [`crate::codec::HEADER_EVENT_TYPE`]).
    pub fn for_event(subject: impl Into<String>, event: &NewEvent) -> OutboxMessage {
        let mut headers = Vec::with_capacity(2 + event.metadata.len());
        headers.push((
            crate::codec::HEADER_EVENT_TYPE.to_string(),
            event.event_type.clone(),
        ));
        headers.push((
            crate::codec::HEADER_SCHEMA_VERSION.to_string(),
            event.schema_version.to_string(),
        ));
        for (k, v) in &event.metadata {
            headers.push((k.clone(), v.clone()));
        }
        OutboxMessage {
            message_id: event.event_id.to_string(),
            subject: subject.into(),
            payload: event.payload.clone(),
            headers,
        }
    }
}

/// An outbox row not yet marked sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMessage {
    /// The outbox row id (the order the relay publishes in).
    pub id: i64,
    /// The message.
    pub message: OutboxMessage,
}

/// A message a consumer gave up on (a permanent error or too many deliveries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedMessage {
    /// The durable consumer's name.
    pub consumer: String,
    /// The message id (`Nats-Msg-Id`, or stream sequence when there is none).
    pub message_id: String,
    /// The subject it was published on.
    pub subject: String,
    /// The message body.
    pub payload: Vec<u8>,
    /// Its headers.
    pub headers: Vec<(String, String)>,
    /// How many times it was delivered.
    pub deliveries: u64,
    /// Why it was parked.
    pub reason: String,
}

/// A parked message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedRecord {
    /// Row id.
    pub id: i64,
    /// The message.
    pub message: ParkedMessage,
    /// When it was parked.
    pub parked_at: DateTime<Utc>,
}

/// The state of a stream folded up to `version`, so that loading a long stream reads only the
/// events after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The version of the last event folded into the state.
    pub version: u64,
    /// The schema version of the encoded state (a changed state type is a new version; an old
    /// snapshot may simply be ignored and the stream read whole).
    pub schema_version: u32,
    /// The encoded state.
    pub payload: Vec<u8>,
}
