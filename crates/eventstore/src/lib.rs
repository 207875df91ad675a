//! reprint's event store on PostgreSQL and SQLite (sqlx).
//!
//! - [`Store::open`] takes a URL (`postgres://...` or `sqlite:...`) and migrates the schema.
//! - Appends check an [`ExpectedVersion`]; a conflict is [`Error::Conflict`], apart from I/O
//!   errors; an event id that is already stored is skipped (appending it again is a no-op).
//! - [`Store::read_stream`] and [`Store::read_all`] read; `read_all` never passes a row of a
//!   Postgres transaction still in flight (see [`Checkpoint`]).
//! - A [`Transaction`] is one unit of work: inbox ids ([`Transaction::inbox_record`]),
//!   appends to any streams, outbox rows ([`Transaction::enqueue`]), parked messages, the
//!   service's own tables ([`Transaction::conn`]) and the inline [`Projection`]s, committed
//!   together.
//! - [`codec`]: envelopes (type, schema version, postcard payload) and upcasting.
//! - [`Snapshot`]s for long streams.
//! - [`Store::with_observer`] reports each committed append's latency by [`stream_kind`]
//!   (for a service's metrics, without this crate knowing Prometheus);
//!   [`Transaction::after_commit`] runs an effect only once the unit of work has committed.
//! - [`Store::prune`] deletes published outbox rows and inbox records older than a
//!   [`Retention`]; events are never deleted.
//!
//! Error choices: one [`Error`] enum; the conflict is a variant of its own (a normal outcome
//! of optimistic concurrency that callers match on), [`Error::is_retryable`] tells what a
//! caller may simply run again.

pub mod codec;
mod combine;
mod error;
mod pg;
pub mod sql;
mod sqlite;
mod store;
mod types;

pub use codec::{CodecError, Event};
pub use error::{Error, Result, VersionConflict};
pub use store::{
    AppendObserver, Backend, Conn, EventAppender, EventReader, Projection, Pruned, Retention,
    Store, StoreOptions, Transaction, stream_kind,
};
pub use types::{
    AppendResult, Checkpoint, ExpectedVersion, Metadata, NewEvent, OutboxMessage, ParkedMessage,
    ParkedRecord, PendingMessage, RecordedEvent, Snapshot,
};
