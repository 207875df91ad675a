//! One error type for the NATS side of the bus.
//!
//! Choices written down:
//! - Request/reply failures are split into what a caller acts on differently: nobody is
//!   listening ([`BusError::NoResponders`], fail fast, the site is offline), nobody answered in
//!   time ([`BusError::TimedOut`], maybe retry) and the remote side answered with an error
//!   ([`BusError::Remote`], do not retry, show the message).
//! - async-nats has one error type per operation; they are kept as the `source` of a variant
//!   that names the operation, so the log line says what was being done.
//! - Invalid input (a bad site id, a malformed traceparent, a hash that is not SHA-256 hex) is
//!   its own variant, never an I/O error.

use std::time::Duration;

use crate::subjects::SubjectError;
use crate::trace::TraceError;

/// A boxed error from async-nats or I/O, kept as the source of a [`BusError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in the NATS-only parts of `reprint-bus`.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// A subject, site id or order id was not valid.
    #[error(transparent)]
    Subject(#[from] SubjectError),

    /// A `traceparent` header was malformed.
    #[error(transparent)]
    Trace(#[from] TraceError),

    /// The connection could not be set up (bad URL, credentials file, all attempts failed).
    #[error("connecting to NATS at {url}: {source}")]
    Connect {
        /// The server URL(s) tried.
        url: String,
        /// Why it failed.
        #[source]
        source: BoxError,
    },

    /// A JetStream, KV or object store operation failed.
    #[error("NATS {op}: {source}")]
    Nats {
        /// What was being done, e.g. "create stream REPRINT_LAB".
        op: String,
        /// The async-nats error.
        #[source]
        source: BoxError,
    },

    /// A request found no subscriber on its subject (the site is not serving it, or offline).
    #[error("no responders on {subject}")]
    NoResponders {
        /// The request subject.
        subject: String,
    },

    /// A request got no reply in time.
    #[error("request on {subject} timed out after {timeout:?}")]
    TimedOut {
        /// The request subject.
        subject: String,
        /// The time-out that passed.
        timeout: Duration,
    },

    /// The remote side answered the request with an error.
    #[error("remote error {code}: {message}")]
    Remote {
        /// A short machine-readable code, e.g. `bad_request`, `unknown_size`.
        code: String,
        /// A human-readable message.
        message: String,
    },

    /// A message body could not be encoded or decoded as JSON.
    #[error("JSON body on {subject}: {source}")]
    Json {
        /// The subject (or KV key) of the body.
        subject: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },

    /// The bytes read did not hash to the expected SHA-256.
    #[error("content hash mismatch: expected {expected}, got {actual}")]
    HashMismatch {
        /// The hash the caller promised.
        expected: String,
        /// The hash of the bytes actually read.
        actual: String,
    },

    /// An object was larger than the configured limit.
    #[error("object larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },

    /// A named thing (object, directory entry) does not exist.
    #[error("not found: {what}")]
    NotFound {
        /// What was looked for.
        what: String,
    },

    /// A value given by the caller is not acceptable (e.g. a hash that is not 64 hex digits).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was invalid.
        what: &'static str,
        /// Why.
        reason: String,
    },

    /// Reading or writing bytes failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl BusError {
    /// Wraps an async-nats error with the operation it came from.
    pub fn nats(op: impl Into<String>, source: impl Into<BoxError>) -> BusError {
        BusError::Nats {
            op: op.into(),
            source: source.into(),
        }
    }

    /// True for errors that may go away by themselves (time-outs, no responders, NATS I/O):
    /// worth a retry later, unlike invalid input or a remote error answer.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            BusError::Connect { .. }
                | BusError::Nats { .. }
                | BusError::NoResponders { .. }
                | BusError::TimedOut { .. }
                | BusError::Io(_)
        )
    }
}
