//! Accounts: sign up, log in, log out. Passwords are argon2id; the session is held server-side
//! ([`reprint_service::session`]: the cookie carries only a random id, so log-out ends it) and
//! every state-changing request of a logged-in user carries the session's CSRF token: the
//! `X-CSRF-Token` header on the API, a `csrf` field in a form. The log-in and sign-up forms carry
//! a pre-log-in token ([`reprint_service::auth::login_token`]).
//!
//! Nothing here tells whether an e-mail has an account: a log-in with an unknown e-mail verifies
//! the password against a dummy hash (the same argon2 work) and answers like a wrong password,
//! and a sign-up answers the same `202 Accepted` whether or not the e-mail was already taken (the
//! existing account is left as it was). Failed log-ins lock an account from one source only,
//! with back-off ([`reprint_service::auth::Logins`]).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use reprint_eventstore::ExpectedVersion;
use reprint_eventstore::codec::{self, CodecError, Event};
use reprint_eventstore::sql::{Arg, exec};
use reprint_service::auth::{
    Session, check_password, check_plain_text, hash_password, parse_email,
};
use reprint_service::problem::Json;
use reprint_service::session::{self, Handle};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db;
use crate::error::{AppError, AppResult};
use crate::events::{AccountEvent, account_stream};
use crate::state::{AppState, to_new};
use reprint_ui::Lang;

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
        let session = session::from_parts(parts)
            .await
            .map_err(AppError::internal)?
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
pub struct MaybeUser(pub Option<User>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<MaybeUser, AppError> {
        let session = session::from_parts(parts)
            .await
            .map_err(AppError::internal)?;
        Ok(MaybeUser(session.map(|s| User {
            id: s.user.clone(),
            role: s.role.clone(),
            session: s,
        })))
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    /// 6 to 15 digits, optionally with +, spaces, dashes and brackets.
    #[schema(min_length = 6, max_length = 40, pattern = "^[0-9 ()+-]+$")]
    pub telephone: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub address: Option<String>,
    #[schema(min_length = 3, max_length = 254)]
    pub email: String,
    /// At least a passphrase a strength estimator (zxcvbn) finds hard to guess.
    #[schema(min_length = 1, max_length = 200)]
    pub password: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogIn {
    #[schema(max_length = 254)]
    pub email: String,
    #[schema(min_length = 1, max_length = 200)]
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

/// Checks a sign-up; returns the e-mail address as stored (parsed, lower case). The name and
/// the telephone go through the one order check (control characters included), the address
/// through the same control-character check, then the e-mail and the password's strength.
fn validate(s: &SignUp) -> AppResult<String> {
    let refuse = AppError::Unprocessable;
    check_len("name", s.name.trim(), 1, 200)?;
    if let Some(a) = &s.address {
        check_len("address", a, 0, 500)?;
        check_plain_text("address", a).map_err(refuse)?;
    }
    // The name and telephone every order will carry: refused now, in the order check's words,
    // rather than at every order later.
    let customer = reprint_domain::protocol::Customer {
        name: s.name.clone(),
        telephone: s.telephone.clone(),
        address: s.address.clone(),
        email: None,
        registration_number: None,
    };
    reprint_domain::order_check::check_customer(&customer)
        .map_err(|e| AppError::Unprocessable(e.to_string()))?;
    reprint_domain::Telephone::parse(&s.telephone)?;
    let email = parse_email(&s.email).map_err(refuse)?;
    check_password(
        &s.password,
        &[s.name.as_str(), email.as_str(), s.telephone.as_str()],
    )
    .map_err(refuse)?;
    Ok(email)
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

/// What a sign-up answers, whether or not the e-mail already had an account.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SignUpReply {
    /// Always `accepted`.
    pub status: String,
    /// What to do next, in plain words.
    pub detail: String,
}

/// The one answer of every valid sign-up.
pub const SIGNED_UP: &str = "If this e-mail address had no account, it has one now: log in with it and your password. \
     (An account that already had this address is left as it was.)";

/// Creates the account unless the e-mail already has one; the answer is the same either way,
/// after the same argon2 work, and nobody is logged in (the person logs in next).
pub async fn sign_up(state: &AppState, ip: &str, s: SignUp) -> AppResult<SignUpReply> {
    sign_up_in(state, ip, s, None).await
}

/// [`sign_up`] by a person reading the pages in `lang`: a new account keeps that language
/// (its pages and e-mails speak it until the person chooses another on the account page).
pub async fn sign_up_in(
    state: &AppState,
    ip: &str,
    s: SignUp,
    lang: Option<Lang>,
) -> AppResult<SignUpReply> {
    if !state
        .limiter
        .allow(&format!("signup:{ip}"), state.clock.now().timestamp())
    {
        return Err(AppError::TooManyRequests(
            "too many sign-ups from this address; wait a minute".into(),
        ));
    }
    let email = validate(&s)?;
    let password = s.password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)?;
    let reply = SignUpReply {
        status: "accepted".into(),
        detail: SIGNED_UP.into(),
    };
    let taken = db::fetch_one::<(String,)>(
        &state.store,
        "SELECT id FROM gw_accounts WHERE email = $1",
        &[Arg::Text(email.clone())],
    )
    .await?;
    if taken.is_some() {
        tracing::info!("sign-up for an e-mail that has an account; left as it was");
        return Ok(reply);
    }
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
    let res = async {
        let mut tx = state.store.begin().await?;
        tx.append(
            &account_stream(&account),
            ExpectedVersion::NoStream,
            &to_new(&[ev])?,
        )
        .await?;
        if let Some(lang) = lang {
            let chosen = SettingsEvent::LanguageChosen {
                lang: Some(lang.tag().to_string()),
                at_ms: state.now_ms(),
            };
            record_settings(&mut tx, &account, &chosen).await?;
        }
        tx.commit().await?;
        Ok::<(), AppError>(())
    }
    .await;
    if let Err(e) = res {
        let text = e.to_string().to_lowercase();
        // Another sign-up of the same e-mail at the same moment: the same answer.
        if text.contains("unique") || text.contains("duplicate") {
            return Ok(reply);
        }
        return Err(e);
    }
    Ok(reply)
}

/// Checks the password and logs in on `handle` (a new session id).
pub async fn log_in(
    state: &AppState,
    handle: &Handle,
    ip: &str,
    l: LogIn,
) -> AppResult<SessionInfo> {
    let email = normalise_email(&l.email);
    let now = state.clock.now().timestamp();
    check_len("email", &email, 0, 254)?;
    check_len("password", &l.password, 1, 200)?;
    if let Err(wait) = state.logins.check(&email, ip, now) {
        return Err(AppError::TooManyRequests(format!(
            "too many failed log-ins for this account from this address; wait {wait} seconds"
        )));
    }
    let row: Option<(String, String)> = db::fetch_one(
        &state.store,
        "SELECT a.id, COALESCE(s.password_hash, a.password_hash) FROM gw_accounts a
         LEFT JOIN gw_account_settings s ON s.account = a.id WHERE a.email = $1",
        &[Arg::Text(email.clone())],
    )
    .await?;
    // An unknown e-mail is verified against a dummy hash: the same work, the same answer.
    let ok = state
        .logins
        .verify(&l.password, row.as_ref().map(|(_, h)| h.as_str()))
        .await;
    match (row, ok) {
        (Some((id, _)), true) => {
            state.logins.succeeded(&email, ip);
            login_session(state, handle, &id).await
        }
        _ => {
            state.logins.failed(&email, ip, now);
            Err(AppError::Unauthorized("wrong email or password".into()))
        }
    }
}

async fn login_session(state: &AppState, handle: &Handle, account: &str) -> AppResult<SessionInfo> {
    let info = account_info(state, account, None).await?;
    let login = Session::new(
        account,
        &info.role,
        state.clock.now().timestamp(),
        state.config.session.ttl_secs,
    );
    session::begin(handle, &login)
        .await
        .map_err(AppError::internal)?;
    remember_language(handle, account_language(state, account).await?).await?;
    session::prune(&state.store).await;
    Ok(SessionInfo {
        csrf_token: login.csrf_token(&state.key),
        ..info
    })
}

/// Ends the session of `handle` (its cookie no longer works anywhere).
pub async fn log_out(handle: &Handle) -> AppResult<()> {
    session::end(handle).await.map_err(AppError::internal)
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

/// Sign up (name, telephone, address, email, password). The answer is the same `202` whether
/// or not the e-mail already had an account (which is then left as it was); nobody is logged
/// in: log in next with `POST /api/v1/session`.
#[utoipa::path(post, path = "/api/v1/accounts", request_body = SignUp,
    responses((status = 202, body = SignUpReply, description = "accepted (the same answer for an e-mail that has an account)"),
              (status = 413, description = "body too large"), (status = 415, description = "not JSON"),
              (status = 422, description = "invalid field (weak password, not an e-mail address, control characters ...)"),
              (status = 429, description = "rate limited")))]
pub async fn api_sign_up(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<SignUp>,
) -> AppResult<Response> {
    let reply = sign_up(&state, &ip, body).await?;
    Ok((StatusCode::ACCEPTED, Json(reply)).into_response())
}

/// Log in; the session cookie is set and the response carries the CSRF token for later
/// requests. (JSON only: a page on another site cannot send it without CORS.)
#[utoipa::path(post, path = "/api/v1/session", request_body = LogIn,
    responses((status = 200, body = SessionInfo), (status = 401, description = "wrong email or password"),
              (status = 415, description = "not JSON"), (status = 422, description = "field too long"),
              (status = 429, description = "too many failed log-ins for this account from this address")))]
pub async fn api_log_in(
    State(state): State<AppState>,
    handle: Handle,
    ClientIp(ip): ClientIp,
    Json(body): Json<LogIn>,
) -> AppResult<Json<SessionInfo>> {
    Ok(Json(log_in(&state, &handle, &ip, body).await?))
}

/// Log out: the session ends (its cookie no longer works). Needs the `X-CSRF-Token` header.
#[utoipa::path(delete, path = "/api/v1/session",
    responses((status = 204), (status = 401, description = "not logged in"),
              (status = 403, description = "missing or wrong X-CSRF-Token")))]
pub async fn api_log_out(_user: User, handle: Handle) -> AppResult<StatusCode> {
    log_out(&handle).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The logged-in account, with its registration numbers per site.
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = SessionInfo), (status = 401)))]
pub async fn api_me(State(state): State<AppState>, user: User) -> AppResult<Json<SessionInfo>> {
    Ok(Json(
        account_info(&state, &user.id, Some(&user.session)).await?,
    ))
}

// ---- The account's settings: its language and its password (the account page, issue 14;
// a password change ends every other session, issue 13).

/// The stream of an account's settings (apart from its sign-up stream, whose projection is
/// the lookups').
pub fn settings_stream(account: &str) -> String {
    format!("gw-settings-{account}")
}

/// What a person changed on their account page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SettingsEvent {
    /// The language of the account's pages and e-mails; `None`: as the browser says.
    LanguageChosen { lang: Option<String>, at_ms: i64 },
    /// A new password (argon2id); every session of the account before it has ended.
    PasswordChanged { password_hash: String, at_ms: i64 },
}

impl Event for SettingsEvent {
    fn event_type(&self) -> &'static str {
        match self {
            SettingsEvent::LanguageChosen { .. } => "gateway.settings.language_chosen",
            SettingsEvent::PasswordChanged { .. } => "gateway.settings.password_changed",
        }
    }
    fn current_version(event_type: &str) -> Option<u32> {
        match event_type {
            "gateway.settings.language_chosen" | "gateway.settings.password_changed" => Some(1),
            _ => None,
        }
    }
    fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::to_postcard(self)
    }
    fn decode_current(event_type: &str, payload: &[u8]) -> Result<Self, CodecError> {
        let e: SettingsEvent = codec::from_postcard(payload)?;
        if e.event_type() == event_type {
            Ok(e)
        } else {
            Err(CodecError::UnknownType(event_type.to_string()))
        }
    }
}

/// Appends `ev` to the account's settings stream and writes `gw_account_settings` in the same
/// transaction.
async fn record_settings(
    tx: &mut reprint_eventstore::Transaction,
    account: &str,
    ev: &SettingsEvent,
) -> AppResult<()> {
    tx.append(
        &settings_stream(account),
        ExpectedVersion::Any,
        &to_new(std::slice::from_ref(ev))?,
    )
    .await?;
    let (query, args) = match ev {
        SettingsEvent::LanguageChosen { lang, at_ms } => (
            "INSERT INTO gw_account_settings (account, lang, updated_ms) VALUES ($1, $2, $3)
             ON CONFLICT (account) DO UPDATE SET lang = excluded.lang, updated_ms = excluded.updated_ms",
            [Arg::Text(account.to_string()), Arg::from(lang.clone()), Arg::Int(*at_ms)],
        ),
        SettingsEvent::PasswordChanged {
            password_hash,
            at_ms,
        } => (
            "INSERT INTO gw_account_settings (account, password_hash, updated_ms) VALUES ($1, $2, $3)
             ON CONFLICT (account) DO UPDATE SET password_hash = excluded.password_hash,
             updated_ms = excluded.updated_ms",
            [
                Arg::Text(account.to_string()),
                Arg::Text(password_hash.clone()),
                Arg::Int(*at_ms),
            ],
        ),
    };
    exec(tx.conn(), query, &args).await?;
    Ok(())
}

/// Where this browser's session keeps the language its pages speak (read by `web::Viewer`
/// before the cookie and the browser's `Accept-Language`): the account's choice from the
/// log-in on, or what the person switched to since.
pub const LANG_KEY: &str = "lang";

/// Keeps `lang` as the language of this session's pages (`None`: the browser's).
pub async fn remember_language(handle: &Handle, lang: Option<Lang>) -> AppResult<()> {
    match lang {
        Some(l) => handle
            .insert(LANG_KEY, l.tag())
            .await
            .map_err(AppError::internal),
        None => handle
            .remove::<String>(LANG_KEY)
            .await
            .map(|_| ())
            .map_err(AppError::internal),
    }
}

/// The language the account chose (`None`: as the browser says).
pub async fn account_language(state: &AppState, account: &str) -> AppResult<Option<Lang>> {
    let row: Option<(Option<String>,)> = db::fetch_one(
        &state.store,
        "SELECT lang FROM gw_account_settings WHERE account = $1",
        &[Arg::Text(account.to_string())],
    )
    .await?;
    Ok(row.and_then(|(l,)| l).as_deref().and_then(Lang::from_tag))
}

/// A language choice as the account page and the API write it: `auto` (as the browser says),
/// `ja` or `en`.
pub fn parse_language_choice(word: &str) -> AppResult<Option<Lang>> {
    match word.trim() {
        "auto" => Ok(None),
        w => Lang::ALL
            .into_iter()
            .find(|l| l.tag() == w)
            .map(Some)
            .ok_or_else(|| {
                AppError::Unprocessable(format!(
                    "language {w:?}: choose ja, en or auto (as the browser says)"
                ))
            }),
    }
}

/// Saves the account's language and speaks it on this session at once.
pub async fn set_language(
    state: &AppState,
    handle: &Handle,
    user: &User,
    lang: Option<Lang>,
) -> AppResult<()> {
    let ev = SettingsEvent::LanguageChosen {
        lang: lang.map(|l| l.tag().to_string()),
        at_ms: state.now_ms(),
    };
    let mut tx = state.store.begin().await?;
    record_settings(&mut tx, &user.id, &ev).await?;
    tx.commit().await?;
    remember_language(handle, lang).await
}

/// A password change: the current password and the new one.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// What a password change answers: this browser's session goes on under a new id, with a new
/// CSRF token; every other session of the account has ended.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasswordChanged {
    /// Send it as `X-CSRF-Token` from now on (the one before no longer works).
    pub csrf_token: String,
    /// Sessions of the account that were ended (this browser's old one included).
    pub sessions_ended: u64,
}

/// The refusal of a wrong current password (the same words on the page and the API).
pub const WRONG_CURRENT_PASSWORD: &str = "the current password is not right";

/// Changes the password after checking the current one (the same lockout as a log-in, per
/// account and source) and the new one's strength (as at sign-up); then ends every session of
/// the account and logs this browser in again on a new session id.
pub async fn change_password(
    state: &AppState,
    handle: &Handle,
    ip: &str,
    user: &User,
    change: PasswordChange,
) -> AppResult<PasswordChanged> {
    check_len("current_password", &change.current_password, 1, 200)?;
    let (email, name, telephone, hash): (String, String, String, String) = db::fetch_one(
        &state.store,
        "SELECT a.email, a.name, a.telephone, COALESCE(s.password_hash, a.password_hash)
         FROM gw_accounts a LEFT JOIN gw_account_settings s ON s.account = a.id WHERE a.id = $1",
        &[Arg::Text(user.id.clone())],
    )
    .await?
    .ok_or_else(|| AppError::Unauthorized("the account no longer exists".into()))?;
    let now = state.clock.now().timestamp();
    if let Err(wait) = state.logins.check(&email, ip, now) {
        return Err(AppError::TooManyRequests(format!(
            "too many wrong passwords for this account from this address; wait {wait} seconds"
        )));
    }
    if !state
        .logins
        .verify(&change.current_password, Some(hash.as_str()))
        .await
    {
        state.logins.failed(&email, ip, now);
        return Err(AppError::Forbidden(WRONG_CURRENT_PASSWORD.into()));
    }
    state.logins.succeeded(&email, ip);
    check_password(
        &change.new_password,
        &[name.as_str(), email.as_str(), telephone.as_str()],
    )
    .map_err(AppError::Unprocessable)?;
    let password = change.new_password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)?;
    let ev = SettingsEvent::PasswordChanged {
        password_hash: hash,
        at_ms: state.now_ms(),
    };
    let mut tx = state.store.begin().await?;
    record_settings(&mut tx, &user.id, &ev).await?;
    tx.commit().await?;
    let ended = session::end_all(&state.store, &user.id)
        .await
        .map_err(AppError::internal)?;
    tracing::info!(
        sessions_ended = ended,
        "password changed; the account's sessions ended"
    );
    let info = login_session(state, handle, &user.id).await?;
    Ok(PasswordChanged {
        csrf_token: info.csrf_token,
        sessions_ended: ended,
    })
}
