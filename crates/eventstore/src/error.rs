//! The store's errors: a version conflict is its own variant, apart from I/O.

use crate::codec::CodecError;
use crate::types::ExpectedVersion;

/// An append found the stream at another version than expected. The caller reads the stream
/// again, decides again and retries; nothing was stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stream {stream_id}: expected version {expected:?}, found {actual:?}")]
pub struct VersionConflict {
    /// The stream appended to.
    pub stream_id: String,
    /// What the writer expected.
    pub expected: ExpectedVersion,
    /// The version found, when known (on Postgres a conflict raised by a concurrent writer
    /// inside a unit of work aborts the transaction before the version can be read).
    pub actual: Option<u64>,
}

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Optimistic concurrency: another writer got there first.
    #[error(transparent)]
    Conflict(#[from] VersionConflict),
    /// A concurrent transaction stored the same event id or inbox message id while this one
    /// ran; the unit of work must be retried (it will then see the id as already stored).
    #[error("a concurrent transaction stored the same {what} {id}; retry")]
    ConcurrentDuplicate {
        /// `event id` or `message id`.
        what: &'static str,
        /// The id.
        id: String,
    },
    /// The database (connection, I/O, SQL).
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A payload, envelope or metadata could not be encoded or decoded.
    #[error("codec: {0}")]
    Codec(#[from] CodecError),
    /// The URL names no backend this store has.
    #[error("unsupported store URL {0:?}: expected postgres://... or sqlite:...")]
    UnsupportedUrl(String),
    /// A stored row does not hold what the store wrote.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// An inline projection failed; the append's transaction is not committed.
    #[error("projection {name}: {source}")]
    Projection {
        /// The projection's name.
        name: &'static str,
        /// What went wrong.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// True for a version conflict.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Conflict(_))
    }

    /// True when the same unit of work may succeed if run again: a conflict, a concurrent
    /// duplicate, a Postgres serialization failure or deadlock, a busy SQLite database, or a
    /// lost connection.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Conflict(_) | Error::ConcurrentDuplicate { .. } => true,
            Error::Database(e) => is_transient_sqlx(e),
            _ => false,
        }
    }
}

/// Whether a database error is worth retrying.
pub(crate) fn is_transient_sqlx(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => matches!(
            db.code().as_deref(),
            // serialization_failure, deadlock_detected, SQLITE_BUSY, SQLITE_LOCKED
            Some("40001") | Some("40P01") | Some("5") | Some("6") | Some("517") | Some("261")
        ),
        _ => false,
    }
}

/// The name of the unique constraint a database error violated, if that is what it is.
pub(crate) fn unique_violation(e: &sqlx::Error) -> Option<String> {
    if let sqlx::Error::Database(db) = e
        && db.is_unique_violation()
    {
        return Some(
            db.constraint()
                .map(str::to_string)
                .unwrap_or_else(|| db.message().to_string()),
        );
    }
    None
}

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
