//! The account: its language, its password (routes merged by `lib.rs`).

use axum::Router;
use axum::extract::State;
use axum::routing::{post, put};
use reprint_service::problem::Json;
use reprint_service::session::Handle;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{self, ClientIp, PasswordChange, PasswordChanged, User};
use crate::error::AppResult;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me/password", post(change_password))
        .route("/api/v1/me/language", put(set_language))
}

/// The language of the account's pages and e-mails.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LanguageChoice {
    /// `ja`, `en`, or `auto` (as the browser says; e-mails then speak the site's language).
    #[schema(pattern = "^(ja|en|auto)$")]
    pub lang: String,
}

/// Changes the password: the current one must be right and the new one hard to guess (as at
/// sign-up). Every session of the account ends; this one goes on under a new session cookie
/// and a new CSRF token (in the answer).
#[utoipa::path(post, path = "/api/v1/me/password", request_body = PasswordChange,
    responses((status = 200, body = PasswordChanged, description = "changed; every other session has ended"),
              (status = 401, description = "not logged in"),
              (status = 403, description = "missing or wrong X-CSRF-Token, or the current password is not right"),
              (status = 413, description = "body too large"), (status = 415, description = "not JSON"),
              (status = 422, description = "the new password is too easy to guess, or a field is too long"),
              (status = 429, description = "too many wrong current passwords from this address")))]
pub async fn change_password(
    State(state): State<AppState>,
    user: User,
    handle: Handle,
    ClientIp(ip): ClientIp,
    Json(body): Json<PasswordChange>,
) -> AppResult<Json<PasswordChanged>> {
    Ok(Json(
        auth::change_password(&state, &handle, &ip, &user, body).await?,
    ))
}

/// Sets the language of the account's pages and e-mails (and of this session's pages at once).
#[utoipa::path(put, path = "/api/v1/me/language", request_body = LanguageChoice,
    responses((status = 200, body = LanguageChoice, description = "saved"),
              (status = 401, description = "not logged in"),
              (status = 403, description = "missing or wrong X-CSRF-Token"),
              (status = 413, description = "body too large"), (status = 415, description = "not JSON"),
              (status = 422, description = "not ja, en or auto")))]
pub async fn set_language(
    State(state): State<AppState>,
    user: User,
    handle: Handle,
    Json(body): Json<LanguageChoice>,
) -> AppResult<Json<LanguageChoice>> {
    let lang = auth::parse_language_choice(&body.lang)?;
    auth::set_language(&state, &handle, &user, lang).await?;
    Ok(Json(LanguageChoice {
        lang: lang.map_or("auto", |l| l.tag()).to_string(),
    }))
}
