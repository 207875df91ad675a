//! Staff log-in on the terminal: a terminal account (name + argon2id hash from the
//! configuration), a signed session cookie, a CSRF token for every form and every JSON call
//! that changes something, and a rate limit on log-in attempts.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use reprint_service::auth::{self, Session};

use crate::AppState;
use crate::error::CounterError;

pub const ROLE: &str = "counter-staff";
const TTL_SECS: i64 = 12 * 60 * 60;

/// Seconds since the epoch on the counter's clock.
fn now_unix(state: &AppState) -> i64 {
    state.counter.clock.now().timestamp()
}

/// Checks a log-in; returns the session.
pub fn log_in(
    state: &AppState,
    name: &str,
    password: &str,
    client: &str,
) -> Result<Session, CounterError> {
    let now = now_unix(state);
    if !state.limiter.allow(&format!("name:{name}"), now)
        || !state.limiter.allow(&format!("client:{client}"), now)
    {
        return Err(CounterError::TooManyRequests(
            "too many log-in attempts; wait a minute".into(),
        ));
    }
    let account = state.counter.config.staff.iter().find(|s| s.name == name);
    // Verify against something even for an unknown name, so timing tells nothing.
    let hash = account.map(|a| a.password_hash.as_str()).unwrap_or("$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    if auth::verify_password(password, hash) && account.is_some() {
        Ok(Session::new(name, ROLE, now, TTL_SECS))
    } else {
        Err(CounterError::Unauthorized("wrong name or password".into()))
    }
}

/// A logged-in member of staff, for the JSON API (401 otherwise).
pub struct ApiStaff(pub Session);

/// A logged-in member of staff, for the pages (a redirect to the log-in page otherwise).
pub struct PageStaff(pub Session);

impl FromRequestParts<AppState> for ApiStaff {
    type Rejection = CounterError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        auth::session_from_headers(&parts.headers, &state.key, now_unix(state))
            .map(ApiStaff)
            .ok_or_else(|| CounterError::Unauthorized("log in at POST /api/v1/login first".into()))
    }
}

impl FromRequestParts<AppState> for PageStaff {
    type Rejection = Response;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        auth::session_from_headers(&parts.headers, &state.key, now_unix(state))
            .map(PageStaff)
            .ok_or_else(|| Redirect::to("/login").into_response())
    }
}

impl ApiStaff {
    /// Checks the `X-CSRF-Token` header of a call that changes something.
    pub fn check_csrf(
        &self,
        state: &AppState,
        headers: &axum::http::HeaderMap,
    ) -> Result<(), CounterError> {
        let token = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if self.0.check_csrf(&state.key, token) {
            Ok(())
        } else {
            Err(CounterError::Forbidden(
                "missing or wrong X-CSRF-Token header (it comes with the log-in)".into(),
            ))
        }
    }
}

impl PageStaff {
    pub fn csrf(&self, state: &AppState) -> String {
        self.0.csrf_token(&state.key)
    }

    pub fn check_csrf(&self, state: &AppState, token: &str) -> Result<(), CounterError> {
        if self.0.check_csrf(&state.key, token) {
            Ok(())
        } else {
            Err(CounterError::Forbidden(
                "this form has expired; open the page again".into(),
            ))
        }
    }
}
