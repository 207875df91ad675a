//! Accounts: sign up, log in, log out. Passwords are argon2id, the session is a signed cookie
//! (HttpOnly, SameSite=Lax) and every state-changing request of a logged-in user carries the
//! session's CSRF token: the `X-CSRF-Token` header on the API, a `csrf` field in a form.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use reprint_eventstore::ExpectedVersion;
use reprint_eventstore::sql::Arg;
use reprint_service::auth::{
    Session, clear_cookie, hash_password, session_from_headers, verify_password,
};
use reprint_service::problem::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db;
use crate::error::{AppError, AppResult};
use crate::events::{AccountEvent, account_stream};
use crate::state::{AppState, to_new};

pub const CSRF_HEADER: &str = "x-csrf-token";

/// The logged-in user of a request.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub role: String,
    pub session: Session,
}

impl User {
    pub fn is_ops(&self) -> bool {
        self.role == "ops"
    }
}

impl FromRequestParts<AppState> for User {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<User, AppError> {
        let now = state.clock.now().timestamp();
        let session = session_from_headers(&parts.headers, &state.key, now)
            .ok_or_else(|| AppError::Unauthorized("log in first".into()))?;
        let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if unsafe_method && parts.uri.path().starts_with("/api/") {
            let token = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !session.check_csrf(&state.key, token) {
                return Err(AppError::Forbidden(
                    "missing or wrong X-CSRF-Token header (it comes with the log-in)".into(),
                ));
            }
        }
        Ok(User {
            id: session.user.clone(),
            role: session.role.clone(),
            session,
        })
    }
}

/// The logged-in user, if any (pages that show a log-in link otherwise).
pub fn optional_user(headers: &HeaderMap, state: &AppState) -> Option<User> {
    let now = state.clock.now().timestamp();
    session_from_headers(headers, &state.key, now).map(|s| User {
        id: s.user.clone(),
        role: s.role.clone(),
        session: s,
    })
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    pub name: String,
    pub telephone: String,
    #[serde(default)]
    pub address: Option<String>,
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogIn {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionInfo {
    pub account: String,
    pub name: String,
    pub email: String,
    pub role: String,
    /// Send it as `X-CSRF-Token` with every POST, PUT and DELETE.
    pub csrf_token: String,
    /// The user's registration numbers, by site.
    pub registrations: std::collections::BTreeMap<String, String>,
}

fn check_len(field: &str, value: &str, min: usize, max: usize) -> AppResult<()> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(AppError::Unprocessable(format!(
            "{field} must be {min} to {max} characters (got {n})"
        )));
    }
    Ok(())
}

pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn validate(s: &SignUp) -> AppResult<()> {
    check_len("name", s.name.trim(), 1, 200)?;
    check_len("email", s.email.trim(), 3, 254)?;
    if !s.email.contains('@') {
        return Err(AppError::Unprocessable("email must contain @".into()));
    }
    check_len("password", &s.password, 8, 200)?;
    if let Some(a) = &s.address {
        check_len("address", a, 0, 500)?;
    }
    reprint_domain::Telephone::parse(&s.telephone)?;
    // The name and telephone every order will carry: refused now, in the order check's words,
    // rather than at every order later.
    let customer = reprint_domain::protocol::Customer {
        name: s.name.clone(),
        telephone: s.telephone.clone(),
        address: s.address.clone(),
        email: Some(s.email.clone()),
        registration_number: None,
    };
    reprint_domain::order_check::check_customer(&customer)
        .map_err(|e| AppError::Unprocessable(e.to_string()))?;
    Ok(())
}

/// The client's IP address (for rate limits); empty when unknown.
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<ClientIp, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_default(),
        ))
    }
}

/// Creates the account and logs it in.
pub async fn sign_up(state: &AppState, ip: &str, s: SignUp) -> AppResult<(SessionInfo, String)> {
    if !state
        .limiter
        .allow(&format!("signup:{ip}"), state.clock.now().timestamp())
    {
        return Err(AppError::TooManyRequests(
            "too many sign-ups from this address; wait a minute".into(),
        ));
    }
    validate(&s)?;
    let email = normalise_email(&s.email);
    let taken = db::fetch_one::<(String,)>(
        &state.store,
        "SELECT id FROM gw_accounts WHERE email = $1",
        &[Arg::Text(email.clone())],
    )
    .await?;
    if taken.is_some() {
        return Err(AppError::conflict(
            "email_taken",
            "an account with this email exists; log in instead",
        ));
    }
    let password = s.password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)?;
    let account = uuid::Uuid::new_v4().simple().to_string();
    let role = if state
        .config
        .ops
        .emails
        .iter()
        .any(|e| normalise_email(e) == email)
    {
        "ops"
    } else {
        "user"
    };
    let telephone = reprint_domain::Telephone::parse(&s.telephone)?;
    let ev = AccountEvent::SignedUp {
        account: account.clone(),
        email: email.clone(),
        name: s.name.trim().to_string(),
        telephone: telephone.as_str().to_string(),
        address: s
            .address
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty()),
        password_hash: hash,
        role: role.to_string(),
        at_ms: state.now_ms(),
    };
    let res = state
        .store
        .append(
            &account_stream(&account),
            ExpectedVersion::NoStream,
            &to_new(&[ev])?,
        )
        .await;
    if let Err(e) = res {
        let text = e.to_string().to_lowercase();
        if text.contains("unique") || text.contains("duplicate") {
            return Err(AppError::conflict(
                "email_taken",
                "an account with this email exists",
            ));
        }
        return Err(e.into());
    }
    login_session(state, &account).await
}

/// Checks the password and logs in.
pub async fn log_in(state: &AppState, ip: &str, l: LogIn) -> AppResult<(SessionInfo, String)> {
    let email = normalise_email(&l.email);
    let now = state.clock.now().timestamp();
    if !state.limiter.allow(&format!("login:{email}"), now)
        || !state.limiter.allow(&format!("login-ip:{ip}"), now)
    {
        return Err(AppError::TooManyRequests(
            "too many log-in attempts; wait a minute".into(),
        ));
    }
    check_len("password", &l.password, 1, 200)?;
    let row: Option<(String, String)> = db::fetch_one(
        &state.store,
        "SELECT id, password_hash FROM gw_accounts WHERE email = $1",
        &[Arg::Text(email)],
    )
    .await?;
    // Verify against a dummy hash when the account is unknown, so timing does not tell.
    let (id, hash) = match row {
        Some((id, hash)) => (Some(id), hash),
        None => (None, String::new()),
    };
    let password = l.password.clone();
    let ok =
        tokio::task::spawn_blocking(move || !hash.is_empty() && verify_password(&password, &hash))
            .await
            .map_err(AppError::internal)?;
    match (id, ok) {
        (Some(id), true) => login_session(state, &id).await,
        _ => Err(AppError::Unauthorized("wrong email or password".into())),
    }
}

async fn login_session(state: &AppState, account: &str) -> AppResult<(SessionInfo, String)> {
    let info = account_info(state, account, None).await?;
    let session = Session::new(
        account,
        &info.role,
        state.clock.now().timestamp(),
        state.config.session.ttl_secs,
    );
    let cookie = session.set_cookie(&state.key, state.config.http.secure_cookies);
    let info = SessionInfo {
        csrf_token: session.csrf_token(&state.key),
        ..info
    };
    Ok((info, cookie))
}

pub async fn account_info(
    state: &AppState,
    account: &str,
    session: Option<&Session>,
) -> AppResult<SessionInfo> {
    let (name, email, role): (String, String, String) = db::fetch_one(
        &state.store,
        "SELECT name, email, role FROM gw_accounts WHERE id = $1",
        &[Arg::Text(account.to_string())],
    )
    .await?
    .ok_or_else(|| AppError::Unauthorized("the account no longer exists".into()))?;
    let regs: Vec<(String, String)> = db::fetch(
        &state.store,
        "SELECT site, number FROM gw_registrations WHERE account = $1",
        &[Arg::Text(account.to_string())],
    )
    .await?;
    Ok(SessionInfo {
        account: account.to_string(),
        name,
        email,
        role,
        csrf_token: session
            .map(|s| s.csrf_token(&state.key))
            .unwrap_or_default(),
        registrations: regs.into_iter().collect(),
    })
}

fn with_cookie(status: StatusCode, info: SessionInfo, cookie: &str) -> Response {
    let mut res = (status, Json(info)).into_response();
    if let Ok(v) = HeaderValue::from_str(cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// Sign up (name, telephone, address, email, password); logs the new account in.
#[utoipa::path(post, path = "/api/v1/accounts", request_body = SignUp,
    responses((status = 201, body = SessionInfo), (status = 409, description = "email taken"),
              (status = 422, description = "invalid field"), (status = 429, description = "rate limited")))]
pub async fn api_sign_up(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<SignUp>,
) -> AppResult<Response> {
    let (info, cookie) = sign_up(&state, &ip, body).await?;
    Ok(with_cookie(StatusCode::CREATED, info, &cookie))
}

/// Log in; the response carries the CSRF token for later requests.
#[utoipa::path(post, path = "/api/v1/session", request_body = LogIn,
    responses((status = 200, body = SessionInfo), (status = 401, description = "wrong email or password")))]
pub async fn api_log_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<LogIn>,
) -> AppResult<Response> {
    let (info, cookie) = log_in(&state, &ip, body).await?;
    Ok(with_cookie(StatusCode::OK, info, &cookie))
}

/// Log out (clears the cookie).
#[utoipa::path(delete, path = "/api/v1/session", responses((status = 204)))]
pub async fn api_log_out() -> Response {
    (
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, clear_cookie())],
    )
        .into_response()
}

/// The logged-in account, with its registration numbers per site.
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = SessionInfo), (status = 401)))]
pub async fn api_me(State(state): State<AppState>, user: User) -> AppResult<Json<SessionInfo>> {
    Ok(Json(
        account_info(&state, &user.id, Some(&user.session)).await?,
    ))
}
