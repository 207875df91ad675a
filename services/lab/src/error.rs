//! The lab's one error type, mapped to a JSON problem (or an HTML page on the console).
//!
//! Choices: a client's or an operator's mistake (bad input, a reception in the wrong state, an
//! unknown number) is a 4xx with words; the store or NATS away is a 503; only a fault of ours is
//! a 500, logged in full and answered without internals.

use axum::response::{IntoResponse, Response};
use reprint_domain::DomainError;
use reprint_service::Problem;
use reprint_site::SiteError;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The request is malformed or names something that cannot be.
    #[error("{0}")]
    BadRequest(String),
    /// No such reception, file or order here.
    #[error("{0}")]
    NotFound(String),
    /// The reception is not in a state that allows the action.
    #[error("{0}")]
    Conflict(String),
    /// Not logged in, or the session expired.
    #[error("log in first")]
    Unauthorized,
    /// A form without the session's CSRF token.
    #[error("{0}")]
    Forbidden(String),
    /// Too many log-in attempts.
    #[error("too many attempts; wait a minute")]
    TooMany,
    /// The domain refused.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The reception in production refused (wrong state, too late, no reason given).
    #[error(transparent)]
    Refused(#[from] reprint_domain::production::ProductionError),
    /// The order check refused (the same words at every door).
    #[error(transparent)]
    Order(#[from] reprint_domain::OrderError),
    /// The store.
    #[error("store: {0}")]
    Store(#[from] reprint_eventstore::Error),
    /// NATS (object store, directory, request).
    #[error("NATS: {0}")]
    Bus(#[from] reprint_bus::BusError),
    /// Rendering or writing the hot folder.
    #[error("production: {0}")]
    Production(String),
    /// Anything else of ours.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<SiteError> for LabError {
    fn from(e: SiteError) -> LabError {
        match e {
            SiteError::Domain(d) => LabError::Domain(d),
            SiteError::Store(s) => LabError::Store(s),
        }
    }
}

impl From<sqlx::Error> for LabError {
    fn from(e: sqlx::Error) -> LabError {
        LabError::Store(reprint_eventstore::Error::Database(e))
    }
}

impl From<std::io::Error> for LabError {
    fn from(e: std::io::Error) -> LabError {
        LabError::Production(e.to_string())
    }
}

impl From<reprint_media::MediaError> for LabError {
    fn from(e: reprint_media::MediaError) -> LabError {
        LabError::Production(e.to_string())
    }
}

impl LabError {
    pub fn problem(&self) -> Problem {
        use axum::http::StatusCode;
        match self {
            LabError::BadRequest(m) => Problem::bad_request(m.clone()),
            LabError::NotFound(m) => Problem::not_found(m.clone()),
            LabError::Conflict(m) => Problem::conflict(m.clone()),
            LabError::Unauthorized => Problem::unauthorized(self.to_string()),
            LabError::Forbidden(m) => Problem::forbidden(m.clone()),
            LabError::TooMany => {
                Problem::new(StatusCode::TOO_MANY_REQUESTS, "too_many", self.to_string())
            }
            LabError::Domain(d) => Problem::refused(d),
            LabError::Refused(e) => Problem::refused(e),
            LabError::Order(e) => Problem::refused(e),
            LabError::Store(e) if e.is_retryable() => {
                Problem::unavailable(format!("the store is busy, try again: {e}"))
            }
            LabError::Bus(e) if e.is_transient() => {
                Problem::unavailable(format!("NATS is not reachable: {e}"))
            }
            LabError::Store(e) => Problem::internal(e),
            LabError::Bus(e) => Problem::internal(e),
            LabError::Production(e) => Problem::internal(format!("production: {e}")),
            LabError::Internal(e) => Problem::internal(e),
        }
    }
}

impl IntoResponse for LabError {
    fn into_response(self) -> Response {
        self.problem().into_response()
    }
}

pub type LabResult<T> = Result<T, LabError>;

/// A site's refusal or trouble (the user files) as the lab's error.
pub fn site_error(e: SiteError) -> LabError {
    e.into()
}
