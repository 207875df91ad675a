//! Staff log-in on the terminal: a terminal account (name + argon2id hash from the
//! configuration), a server-side session (`reprint_service::session`: log-out ends it), a CSRF
//! token for every form and every JSON call that changes something, a pre-log-in token on the
//! log-in form, and a lockout of failed log-ins per name and source together, with back-off.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use reprint_service::auth::Session;
use reprint_service::session::{self, Handle};

use crate::AppState;
use crate::error::CounterError;

pub const ROLE: &str = "counter-staff";
const TTL_SECS: i64 = 12 * 60 * 60;

/// Seconds since the epoch on the counter's clock.
fn now_unix(state: &AppState) -> i64 {
    state.counter.clock.now().timestamp()
}

fn store_failed(e: session::SessionError) -> CounterError {
    CounterError::Internal(e.to_string())
}

/// Checks a log-in from `source` and logs the member of staff in on `handle` (a new session
/// id). An unknown name costs the same argon2 work as a wrong password.
pub async fn log_in(
    state: &AppState,
    handle: &Handle,
    name: &str,
    password: &str,
    source: &str,
) -> Result<Session, CounterError> {
    let now = now_unix(state);
    if name.chars().count() > 200 || password.chars().count() > 200 {
        return Err(CounterError::Invalid(
            "the name and the password are at most 200 characters".into(),
        ));
    }
    if let Err(wait) = state.limiter.check(name, source, now) {
        return Err(CounterError::TooManyRequests(format!(
            "too many failed log-ins for this name from here; wait {wait} seconds"
        )));
    }
    let account = state.counter.config.staff.iter().find(|s| s.name == name);
    let ok = state
        .limiter
        .verify(password, account.map(|a| a.password_hash.as_str()))
        .await;
    if !ok {
        state.limiter.failed(name, source, now);
        return Err(CounterError::Unauthorized("wrong name or password".into()));
    }
    state.limiter.succeeded(name, source);
    let s = Session::new(name, ROLE, now, TTL_SECS);
    session::begin(handle, &s).await.map_err(store_failed)?;
    session::prune(&state.counter.store).await;
    Ok(s)
}

/// Logs out: the session ends (its cookie no longer works).
pub async fn log_out(handle: &Handle) -> Result<(), CounterError> {
    session::end(handle).await.map_err(store_failed)
}

/// The session layer of the counter's router (cookies `Secure` when the terminal is reached
/// over https or `http.secure_cookies` is set).
pub fn session_layer(state: &AppState) -> session::Layer {
    session::layer(
        state.counter.store.clone(),
        state.counter.config.http.cookies_secure(),
        TTL_SECS,
    )
}

/// A logged-in member of staff, for the JSON API (401 otherwise).
pub struct ApiStaff(pub Session);

/// A logged-in member of staff, for the pages (a redirect to the log-in page otherwise).
pub struct PageStaff(pub Session);

impl FromRequestParts<AppState> for ApiStaff {
    type Rejection = CounterError;
    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        session::from_parts(parts)
            .await
            .map_err(store_failed)?
            .map(ApiStaff)
            .ok_or_else(|| CounterError::Unauthorized("log in at POST /api/v1/login first".into()))
    }
}

impl FromRequestParts<AppState> for PageStaff {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        match session::from_parts(parts).await {
            Ok(Some(s)) => Ok(PageStaff(s)),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(store_failed(e).into_response()),
        }
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
