//! The account page (`/account`): who the account is (name, telephone, address, e-mail, its
//! numbers at the sites), the language of its pages and e-mails, and a password change that
//! logs every other browser out. The forms carry the session's CSRF token; each answers with a
//! redirect back to the page saying what was saved, or the page again with the reasons beside
//! the fields.

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, PreEscaped, html};
use reprint_eventstore::sql::Arg;
use reprint_service::session::Handle;
use reprint_ui::Lang;
use serde::Deserialize;

use super::entry::{FORM_STYLE, Problems, field, password_words, problem_box};
use super::{Viewer, render_with};
use crate::auth::{self, ClientIp, PasswordChange, User};
use crate::db;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account", get(account_page))
        .route("/account/language", post(language_form))
        .route("/account/password", post(password_form))
}

const ACCOUNT_STYLE: &str = "\
.account section{margin:24px 0;padding-top:8px;border-top:1px solid #ddd}\
.account dl{display:grid;grid-template-columns:minmax(6rem,max-content) 1fr;gap:4px 16px;margin:0}\
.account dt{font-weight:600}.account dd{margin:0}\
";

#[derive(Deserialize)]
struct Saved {
    #[serde(default)]
    saved: Option<String>,
}

struct Details {
    name: String,
    email: String,
    telephone: String,
    address: Option<String>,
    registrations: Vec<(String, String)>,
    lang: Option<Lang>,
}

async fn details(state: &AppState, user: &User) -> AppResult<Details> {
    let (name, email, telephone, address): (String, String, String, Option<String>) =
        db::fetch_one(
            &state.store,
            "SELECT name, email, telephone, address FROM gw_accounts WHERE id = $1",
            &[Arg::Text(user.id.clone())],
        )
        .await?
        .ok_or_else(|| AppError::Unauthorized("the account no longer exists".into()))?;
    let registrations: Vec<(String, String)> = db::fetch(
        &state.store,
        "SELECT site, number FROM gw_registrations WHERE account = $1 ORDER BY site",
        &[Arg::Text(user.id.clone())],
    )
    .await?;
    Ok(Details {
        name,
        email,
        telephone,
        address,
        registrations,
        lang: auth::account_language(state, &user.id).await?,
    })
}

/// The page, with `notice` (what was just saved) and the problems of a refused form.
async fn page(
    state: &AppState,
    viewer: &Viewer,
    user: &User,
    status: StatusCode,
    notice: Option<String>,
    problems: &Problems,
) -> Response {
    let d = match details(state, user).await {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let csrf = user.session.csrf_token(&state.key);
    let title = viewer.t("account-title");
    let option = |value: &str, label: &str, selected: bool| {
        html! { option value=(value) selected[selected] { (label) } }
    };
    let content: Markup = html! {
        div.account.entry {
            h1 { (title) }
            @if let Some(n) = &notice { p.notice role="status" { (n) } }
            (problem_box(viewer, problems))
            section aria-labelledby="details" {
                h2 #details { (viewer.t("account-details")) }
                dl {
                    dt { (viewer.t("entry-name")) } dd { (d.name) }
                    dt { (viewer.t("entry-email")) } dd { (d.email) }
                    dt { (viewer.t("entry-telephone")) } dd { (d.telephone) }
                    dt { (viewer.t("entry-address")) }
                    dd { (d.address.clone().unwrap_or_else(|| viewer.t("account-no-address"))) }
                }
                h3 { (viewer.t("account-registrations")) }
                @if d.registrations.is_empty() {
                    p { (viewer.t("account-registrations-none")) }
                } @else {
                    dl { @for (site, number) in &d.registrations { dt { (site) } dd { (number) } } }
                }
            }
            section aria-labelledby="language" {
                h2 #language { (viewer.t("account-language")) }
                p #language-lead { (viewer.t("account-language-lead")) }
                form method="post" action="/account/language" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="f-lang" { (viewer.t("account-language")) }
                    select #f-lang name="lang" aria-describedby="language-lead" {
                        (option("auto", &viewer.t("account-language-browser"), d.lang.is_none()))
                        @for l in Lang::ALL {
                            (option(l.tag(), l.own_name(), d.lang == Some(l)))
                        }
                    }
                    button #save-language type="submit" { (viewer.t("account-language-save")) }
                }
            }
            section aria-labelledby="password" {
                h2 #password { (viewer.t("account-password")) }
                p { (viewer.t("account-password-lead")) }
                form method="post" action="/account/password" novalidate {
                    input type="hidden" name="csrf" value=(csrf);
                    (field("current_password", &viewer.t("account-current-password"), "password",
                        "current-password", "", true, None, problems))
                    (field("new_password", &viewer.t("account-new-password"), "password",
                        "new-password", "", true, Some(&viewer.t("entry-password-hint")), problems))
                    button #change-password type="submit" { (viewer.t("account-password-save")) }
                }
            }
        }
    };
    let head = html! { style { (PreEscaped(FORM_STYLE)) (PreEscaped(ACCOUNT_STYLE)) } };
    let mut res = render_with(state, viewer, &title, Some(head), content);
    *res.status_mut() = status;
    res
}

async fn account_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<Saved>,
) -> Response {
    let user = match viewer.need_user() {
        Ok(u) => u.clone(),
        Err(r) => return *r,
    };
    let notice = match q.saved.as_deref() {
        Some("language") => Some(viewer.t("account-language-saved")),
        Some("password") => Some(viewer.t("account-password-changed")),
        _ => None,
    };
    page(
        &state,
        &viewer,
        &user,
        StatusCode::OK,
        notice,
        &Problems::default(),
    )
    .await
}

#[derive(Deserialize)]
struct LanguageForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: String,
}

fn expired(viewer: &Viewer) -> Response {
    AppError::Forbidden(viewer.t("entry-error-expired")).into_response()
}

async fn language_form(
    State(state): State<AppState>,
    viewer: Viewer,
    handle: Handle,
    form: Result<Form<LanguageForm>, FormRejection>,
) -> Response {
    let user = match viewer.need_user() {
        Ok(u) => u.clone(),
        Err(r) => return *r,
    };
    let Form(f) = match form {
        Ok(f) => f,
        Err(r) => return reprint_service::Problem::from(r).into_response(),
    };
    if !user.session.check_csrf(&state.key, &f.csrf) {
        return expired(&viewer);
    }
    let lang = match auth::parse_language_choice(&f.lang) {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    match auth::set_language(&state, &handle, &user, lang).await {
        Ok(()) => Redirect::to("/account?saved=language").into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

async fn password_form(
    State(state): State<AppState>,
    viewer: Viewer,
    ClientIp(ip): ClientIp,
    handle: Handle,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Response {
    let user = match viewer.need_user() {
        Ok(u) => u.clone(),
        Err(r) => return *r,
    };
    let Form(f) = match form {
        Ok(f) => f,
        Err(r) => return reprint_service::Problem::from(r).into_response(),
    };
    if !user.session.check_csrf(&state.key, &f.csrf) {
        return expired(&viewer);
    }
    let change = PasswordChange {
        current_password: f.current_password,
        new_password: f.new_password,
    };
    match auth::change_password(&state, &handle, &ip, &user, change).await {
        Ok(_) => Redirect::to("/account?saved=password").into_response(),
        Err(e) => {
            let problem = e.problem();
            if problem.status >= 500 {
                return e.into_response();
            }
            let problems = match &e {
                AppError::Forbidden(_) | AppError::Unprocessable(_)
                    if problem.detail == auth::WRONG_CURRENT_PASSWORD
                        || problem.detail.starts_with("current_password") =>
                {
                    Problems {
                        general: None,
                        fields: vec![("current_password", viewer.t("account-error-current"))],
                    }
                }
                AppError::Unprocessable(d) => Problems {
                    general: None,
                    fields: vec![("new_password", password_words(viewer.lang, d))],
                },
                AppError::TooManyRequests(_) => Problems::general(viewer.t("entry-error-too-many")),
                _ => Problems::general(problem.detail.clone()),
            };
            page(
                &state,
                &viewer,
                &user,
                problem.status_code(),
                None,
                &problems,
            )
            .await
        }
    }
}
