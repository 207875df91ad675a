//! Operator log-in on the console and the JSON API: an operator account (name + argon2id hash
//! from `console.operators`), a signed session cookie, the session's CSRF token for every form
//! (a hidden `csrf` field) and every API `POST` (the `X-CSRF-Token` header), and a rate limit
//! on log-in attempts.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use reprint_service::auth::{Session, session_from_headers, verify_password};

use crate::error::{LabError, LabResult};
use crate::state::Lab;

const SESSION_TTL: i64 = 12 * 60 * 60;

fn now_unix(lab: &Lab) -> i64 {
    lab.clock
        .now()
        .timestamp()
        .max(chrono::Utc::now().timestamp())
}

/// A logged-in operator, for the JSON API: 401 without a session.
pub struct Operator(pub Session);

impl FromRequestParts<Lab> for Operator {
    type Rejection = LabError;
    async fn from_request_parts(parts: &mut Parts, lab: &Lab) -> Result<Self, Self::Rejection> {
        session_from_headers(&parts.headers, &lab.session_key, now_unix(lab))
            .map(Operator)
            .ok_or(LabError::Unauthorized)
    }
}

/// A logged-in operator, for pages: a redirect to the log-in page without a session.
pub struct PageOperator(pub Session);

impl FromRequestParts<Lab> for PageOperator {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, lab: &Lab) -> Result<Self, Self::Rejection> {
        session_from_headers(&parts.headers, &lab.session_key, now_unix(lab))
            .map(PageOperator)
            .ok_or_else(|| Redirect::to("/login").into_response())
    }
}

pub fn check_csrf(lab: &Lab, session: &Session, token: Option<&str>) -> LabResult<()> {
    match token {
        Some(t) if session.check_csrf(&lab.session_key, t) => Ok(()),
        _ => Err(LabError::Forbidden(
            "the form's CSRF token is missing or not this session's; reload the page".into(),
        )),
    }
}

pub fn log_in(lab: &Lab, name: &str, password: &str) -> LabResult<Session> {
    if !lab.login_limiter.allow(name, now_unix(lab)) {
        return Err(LabError::TooMany);
    }
    let operator = lab.config.console.operators.iter().find(|o| o.name == name);
    match operator {
        Some(o) if verify_password(password, &o.password_hash) => {
            Ok(Session::new(name, "operator", now_unix(lab), SESSION_TTL))
        }
        _ => Err(LabError::Unauthorized),
    }
}
