//! The gateway's one error type, mapped to RFC 9457 problem bodies.
//!
//! Choices: a client's mistake is a variant of its own with a 4xx status and a sentence that
//! says what to change; someone else's order or image is [`AppError::NotFound`] (never a 403
//! that would confirm it exists); store, bus and media faults of ours are 5xx, logged in full
//! and answered without internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use reprint_service::Problem;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// A state conflict with a stable code (`no_reservation`, `over_quota`, `already_submitted` ...).
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// A site did not answer (offline, no responders, time-out).
    #[error("{0}")]
    Unavailable(String),
    /// The domain's order check refused the order (the lab's own words).
    #[error(transparent)]
    Order(#[from] reprint_domain::order_check::OrderError),
    /// The order's decider refused the command (`reprint_domain::web_order`).
    #[error(transparent)]
    WebOrder(#[from] reprint_domain::web_order::WebOrderError),
    /// Any other refusal of the domain.
    #[error(transparent)]
    Domain(#[from] reprint_domain::DomainError),
    #[error(transparent)]
    Store(#[from] reprint_eventstore::Error),
    #[error(transparent)]
    Bus(#[from] reprint_bus::BusError),
    #[error("{0}")]
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> AppError {
        AppError::Conflict {
            code,
            detail: detail.into(),
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> AppError {
        AppError::Internal(e.to_string())
    }

    pub fn problem(&self) -> Problem {
        match self {
            AppError::BadRequest(d) => Problem::bad_request(d.clone()),
            AppError::Unprocessable(d) => Problem::unprocessable(d.clone()),
            AppError::NotFound(what) => Problem::not_found(format!("{what} not found")),
            AppError::Unauthorized(d) => Problem::unauthorized(d.clone()),
            AppError::Forbidden(d) => Problem::forbidden(d.clone()),
            AppError::Conflict { code, detail } => {
                Problem::new(StatusCode::CONFLICT, code, detail.clone())
            }
            AppError::TooLarge(d) => Problem::too_large(d.clone()),
            AppError::TooManyRequests(d) => {
                Problem::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", d.clone())
            }
            AppError::Unavailable(d) => Problem::unavailable(d.clone()),
            AppError::Order(e) => {
                // The one mapping of refusals; the type is the protocol's reject code, as a lab
                // would send it.
                let mut p = Problem::refused(e);
                p.kind = reject_code(e.code()).to_string();
                p
            }
            // An upload over the reservation is refused for its size, which HTTP says with 413;
            // every other refusal of the order by the one mapping, typed by its stable code.
            AppError::WebOrder(e) if e.is_too_large() => Problem::too_large(e.to_string()),
            AppError::WebOrder(e) => {
                let mut p = Problem::refused(e);
                p.kind = e.code().to_string();
                p
            }
            AppError::Domain(e) => Problem::refused(e),
            AppError::Store(reprint_eventstore::Error::Conflict(_)) => Problem::new(
                StatusCode::CONFLICT,
                "concurrent_change",
                "the order changed at the same moment (another tab or request); reload it and try again",
            ),
            AppError::Store(e) => Problem::internal(format!("store: {e}")),
            AppError::Bus(e) => Problem::internal(format!("bus: {e}")),
            AppError::Internal(e) => Problem::internal(e),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.problem().into_response()
    }
}

/// The protocol's word for a reject code (as `OrderRejected.code` writes it).
fn reject_code(code: reprint_domain::protocol::RejectCode) -> &'static str {
    use reprint_domain::protocol::RejectCode as C;
    match code {
        C::UnknownSize => "unknown_size",
        C::ImageMissing => "image_missing",
        C::WrongCurrency => "wrong_currency",
        C::UnknownCounter => "unknown_counter",
        C::InvalidOrder => "invalid_order",
        C::ByOperator => "by_operator",
    }
}

/// The command path's failures: the order's refusal, or the store.
impl From<reprint_site::command::CommandError<reprint_domain::web_order::WebOrderError>>
    for AppError
{
    fn from(
        e: reprint_site::command::CommandError<reprint_domain::web_order::WebOrderError>,
    ) -> Self {
        match e {
            reprint_site::command::CommandError::Refused(e) => AppError::WebOrder(e),
            reprint_site::command::CommandError::Store(e) => AppError::Store(e),
        }
    }
}

impl From<reprint_bus::subjects::SubjectError> for AppError {
    fn from(e: reprint_bus::subjects::SubjectError) -> Self {
        AppError::Unprocessable(e.to_string())
    }
}

impl From<reprint_eventstore::CodecError> for AppError {
    fn from(e: reprint_eventstore::CodecError) -> Self {
        AppError::Internal(format!("codec: {e}"))
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(format!("sql: {e}"))
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        AppError::Internal(format!("io: {e}"))
    }
}

/// A media error: the upload's fault (4xx) except I/O and encoding on our side.
pub fn media_error(e: reprint_media::MediaError) -> AppError {
    use reprint_media::MediaError as M;
    match e {
        M::TooManyBytes { .. } => AppError::TooLarge(e.to_string()),
        M::Io(_) | M::Encode(_) => AppError::Internal(e.to_string()),
        other => AppError::Unprocessable(other.to_string()),
    }
}
