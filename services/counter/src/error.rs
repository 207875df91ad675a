//! The counter's one error type, mapped to a JSON problem (or, on the terminal pages, to the
//! same message in a page). Staff mistakes and bad media are 4xx with a message written for the
//! person at the counter; only our own faults are 500s, and those are logged in full.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use reprint_service::Problem;

use crate::medium::MediumError;

#[derive(Debug, thiserror::Error)]
pub enum CounterError {
    /// The configuration cannot be used (start-up only).
    #[error("configuration: {0}")]
    Config(String),
    /// The medium handed over cannot be taken in (not a ZIP, a bomb, a bad name, a bad DPOF...).
    #[error(transparent)]
    Medium(#[from] MediumError),
    /// A field of a form or body is wrong.
    #[error("{0}")]
    Invalid(String),
    /// The domain refused (a wrong number, a quantity, a state).
    #[error("{0}")]
    Domain(#[from] reprint_domain::DomainError),
    /// The order check refused a walk-in order, in the lab's own words (a size, a quantity, an
    /// edit, the customer's name or telephone).
    #[error("{0}")]
    Order(#[from] reprint_domain::OrderError),
    /// The counter's order refused a step of its life (not arrived, collected already, ...).
    #[error("{0}")]
    Refused(#[from] reprint_domain::counter_order::CounterOrderError),
    /// Nothing here by that number.
    #[error("{0}")]
    NotFound(String),
    /// A slip of another counter.
    #[error("{0}")]
    ForeignSlip(String),
    /// The order is not in a state for this (not arrived, already collected, cancelled).
    #[error("{0}")]
    Conflict(String),
    /// Not logged in, or a bad password.
    #[error("{0}")]
    Unauthorized(String),
    /// A form without its CSRF token.
    #[error("{0}")]
    Forbidden(String),
    /// Too many log-in attempts.
    #[error("{0}")]
    TooManyRequests(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] reprint_eventstore::Error),
    /// Files on disk (the spool) failed.
    #[error("file system: {0}")]
    Io(#[from] std::io::Error),
    /// Anything else of ours.
    #[error("{0}")]
    Internal(String),
}

impl From<sqlx::Error> for CounterError {
    fn from(e: sqlx::Error) -> CounterError {
        CounterError::Store(reprint_eventstore::Error::Database(e))
    }
}

impl From<reprint_site::SiteError> for CounterError {
    fn from(e: reprint_site::SiteError) -> CounterError {
        match e {
            reprint_site::SiteError::Domain(d) => CounterError::Domain(d),
            reprint_site::SiteError::Store(s) => CounterError::Store(s),
        }
    }
}

impl CounterError {
    /// Whether running the unit of work again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, CounterError::Store(e) if e.is_retryable())
    }

    pub fn problem(&self) -> Problem {
        let p = |status, kind: &str| Problem::new(status, kind, self.to_string());
        match self {
            CounterError::Medium(m) => match m {
                MediumError::TooLarge { .. } | MediumError::TooManyEntries { .. } => {
                    p(StatusCode::PAYLOAD_TOO_LARGE, m.kind())
                }
                // The counter's own disk, not the customer's medium.
                MediumError::Staging(e) => Problem::internal(e),
                _ => p(StatusCode::UNPROCESSABLE_ENTITY, m.kind()),
            },
            CounterError::Invalid(_) => p(StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            // The one mapping of domain refusals: invalid 422, not found 404, conflict 409.
            CounterError::Domain(e) => Problem::refused(e),
            CounterError::Order(e) => Problem::refused(e),
            CounterError::Refused(e) => Problem::refused(e),
            CounterError::NotFound(_) => p(StatusCode::NOT_FOUND, "not_found"),
            CounterError::ForeignSlip(_) => p(StatusCode::UNPROCESSABLE_ENTITY, "foreign_slip"),
            CounterError::Conflict(_) => p(StatusCode::CONFLICT, "conflict"),
            CounterError::Unauthorized(_) => p(StatusCode::UNAUTHORIZED, "unauthorized"),
            CounterError::Forbidden(_) => p(StatusCode::FORBIDDEN, "forbidden"),
            CounterError::TooManyRequests(_) => p(StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            CounterError::Store(e) if e.is_retryable() => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the counter's store is busy; try again",
            ),
            CounterError::Config(_)
            | CounterError::Store(_)
            | CounterError::Io(_)
            | CounterError::Internal(_) => Problem::internal(self),
        }
    }
}

impl IntoResponse for CounterError {
    fn into_response(self) -> Response {
        self.problem().into_response()
    }
}

pub type Result<T> = std::result::Result<T, CounterError>;
