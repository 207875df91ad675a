//! Operator log-in on the console and the JSON API: an operator account (name + argon2id hash
//! from `console.operators`), a server-side session (`reprint_service::session`: log-out ends
//! it), the session's CSRF token for every form (a hidden `csrf` field) and every API `POST`
//! (the `X-CSRF-Token` header), a pre-log-in token on the log-in form, and a lockout of failed
//! log-ins per operator and source together, with back-off.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use reprint_service::auth::Session;
use reprint_service::session::{self, Handle};

use crate::error::{LabError, LabResult};
use crate::state::Lab;

const SESSION_TTL: i64 = 12 * 60 * 60;

fn now_unix(lab: &Lab) -> i64 {
    lab.clock
        .now()
        .timestamp()
        .max(chrono::Utc::now().timestamp())
}

fn store_failed(e: session::SessionError) -> LabError {
    LabError::Internal(e.to_string())
}

/// A logged-in operator, for the JSON API: 401 without a session.
pub struct Operator(pub Session);

impl FromRequestParts<Lab> for Operator {
    type Rejection = LabError;
    async fn from_request_parts(parts: &mut Parts, _: &Lab) -> Result<Self, Self::Rejection> {
        session::from_parts(parts)
            .await
            .map_err(store_failed)?
            .map(Operator)
            .ok_or(LabError::Unauthorized)
    }
}

/// A logged-in operator, for pages: a redirect to the log-in page without a session.
pub struct PageOperator(pub Session);

impl FromRequestParts<Lab> for PageOperator {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, _: &Lab) -> Result<Self, Self::Rejection> {
        match session::from_parts(parts).await {
            Ok(Some(s)) => Ok(PageOperator(s)),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(store_failed(e).into_response()),
        }
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

/// Checks a log-in from `source` and logs the operator in on `handle` (a new session id).
/// An unknown name costs the same argon2 work as a wrong password.
pub async fn log_in(
    lab: &Lab,
    handle: &Handle,
    source: &str,
    name: &str,
    password: &str,
) -> LabResult<Session> {
    let now = now_unix(lab);
    if name.chars().count() > 200 || password.chars().count() > 200 {
        return Err(LabError::BadRequest(
            "the name and the password are at most 200 characters".into(),
        ));
    }
    if lab.login_limiter.check(name, source, now).is_err() {
        return Err(LabError::TooMany);
    }
    let operator = lab.config.console.operators.iter().find(|o| o.name == name);
    let ok = lab
        .login_limiter
        .verify(password, operator.map(|o| o.password_hash.as_str()))
        .await;
    if !ok {
        lab.login_limiter.failed(name, source, now);
        return Err(LabError::Unauthorized);
    }
    lab.login_limiter.succeeded(name, source);
    let s = Session::new(name, "operator", now, SESSION_TTL);
    session::begin(handle, &s).await.map_err(store_failed)?;
    session::prune(&lab.store).await;
    Ok(s)
}

/// Logs out: the session ends (its cookie no longer works).
pub async fn log_out(handle: &Handle) -> LabResult<()> {
    session::end(handle).await.map_err(store_failed)
}

/// The session layer of the lab's router (cookies `Secure` when the console is reached over
/// https or `http.secure_cookies` is set).
pub fn session_layer(lab: &Lab) -> session::Layer {
    session::layer(
        lab.store.clone(),
        lab.config.http.cookies_secure(),
        SESSION_TTL,
    )
}
