//! The doors: sign-up, log-in and log-out, in the shared layout and the viewer's language.
//!
//! The sign-up and log-in forms carry this browser's pre-log-in token
//! ([`reprint_service::auth::login_token`], a signed double-submit cookie) so that another
//! site cannot log a visitor in as someone else; the log-out form carries the session's CSRF
//! token. A sign-up answers with the same log-in page whether or not the e-mail had an
//! account. A refused form comes back with what was typed (never the password) and the
//! reasons in words beside the fields.

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, PreEscaped, html};
use reprint_service::auth::{check_login_token, check_password, check_plain_text, login_token};
use reprint_service::session::Handle;
use reprint_ui::Lang;
use serde::Deserialize;

use super::{Viewer, render_with};
use crate::auth::{self, ClientIp, LogIn, MaybeUser, SignUp};
use crate::error::AppError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/signup", get(signup_page).post(signup_form))
        .route("/login", get(login_page).post(login_form))
        .route("/logout", post(logout_form))
}

/// The forms' own look (the layout styles buttons and inputs; these lay the fields out).
pub(super) const FORM_STYLE: &str = "\
.entry{max-width:28rem}\
.entry label{display:block;font-weight:600;margin:16px 0 4px}\
.entry input:not([type=hidden]),.entry select{display:block;width:100%;padding:8px 10px;border:1px solid #767676;border-radius:6px;background:#fff}\
.entry input[aria-invalid=true]{border:2px solid #b00020}\
.entry .hint{margin:4px 0 0;color:#444;font-size:.95em}\
.entry .field-error{margin:4px 0 0;color:#b00020;font-weight:600}\
.entry button{margin-top:20px;width:100%}\
.notice{border-left:4px solid #143d59;background:#e8f0f6;padding:8px 12px}\
.problem{border-left:4px solid #b00020;background:#fdecee;padding:8px 12px}\
.entry .switch{margin-top:24px}\
.entry .switch a{display:inline-flex;align-items:center;min-height:44px}\
";

fn style() -> Markup {
    html! { style { (PreEscaped(FORM_STYLE)) } }
}

/// What a refused form says: a sentence above it, and one beside each field it concerns.
#[derive(Debug, Default)]
pub(super) struct Problems {
    pub general: Option<String>,
    pub fields: Vec<(&'static str, String)>,
}

impl Problems {
    pub fn general(words: String) -> Problems {
        Problems {
            general: Some(words),
            fields: vec![],
        }
    }

    pub fn of(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, w)| w.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.general.is_none() && self.fields.is_empty()
    }
}

/// One labelled input with its hint and its problem, tied to it for screen readers.
#[allow(clippy::too_many_arguments)]
pub(super) fn field(
    name: &str,
    label: &str,
    kind: &str,
    autocomplete: &str,
    value: &str,
    required: bool,
    hint: Option<&str>,
    problems: &Problems,
) -> Markup {
    let id = format!("f-{name}");
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let error = problems.of(name);
    // The first field with a problem takes the focus (and the screen scrolls to it).
    let first = problems.fields.first().is_some_and(|(f, _)| *f == name);
    let described: Vec<&str> = [
        hint.map(|_| hint_id.as_str()),
        error.map(|_| error_id.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect();
    let described = described.join(" ");
    html! {
        label for=(id) { (label) }
        input id=(id) name=(name) type=(kind) autocomplete=(autocomplete)
            value=(value) required[required]
            aria-describedby=[(!described.is_empty()).then_some(described.as_str())]
            aria-invalid=[error.map(|_| "true")] autofocus[first];
        @if let Some(h) = hint { p.hint id=(hint_id) { (h) } }
        @if let Some(e) = error { p.field-error id=(error_id) { (e) } }
    }
}

/// The problem box above a form (focusable, announced).
pub(super) fn problem_box(v: &Viewer, problems: &Problems) -> Markup {
    html! {
        @if !problems.is_empty() {
            div.problem role="alert" {
                p { strong { (v.t("entry-error-title")) } }
                @if let Some(g) = &problems.general { p { (g) } }
                @if !problems.fields.is_empty() { p { (v.t("entry-error-fields")) } }
            }
        }
    }
}

/// What the sign-up form keeps of what was typed (never the password).
#[derive(Debug, Default)]
struct Typed {
    name: String,
    telephone: String,
    address: String,
    email: String,
}

fn signup_markup(v: &Viewer, token: &str, typed: &Typed, problems: &Problems) -> Markup {
    html! {
        div.entry {
            h1 { (v.t("entry-signup-title")) }
            p { (v.t("entry-signup-lead")) }
            (problem_box(v, problems))
            form method="post" action="/signup" novalidate {
                input type="hidden" name="csrf" value=(token);
                (field("name", &v.t("entry-name"), "text", "name", &typed.name, true, None, problems))
                (field("telephone", &v.t("entry-telephone"), "tel", "tel", &typed.telephone, true,
                    Some(&v.t("entry-telephone-hint")), problems))
                (field("address", &v.t("entry-address"), "text", "street-address", &typed.address, false, None, problems))
                (field("email", &v.t("entry-email"), "email", "email", &typed.email, true, None, problems))
                (field("password", &v.t("entry-password"), "password", "new-password", "", true,
                    Some(&v.t("entry-password-hint")), problems))
                button #signup type="submit" { (v.t("entry-submit-signup")) }
            }
            p.switch { (v.t("entry-have-account")) " " a href="/login" { (v.t("entry-login-title")) } }
        }
    }
}

fn login_markup(
    v: &Viewer,
    token: &str,
    email: &str,
    notice: Option<&str>,
    problems: &Problems,
) -> Markup {
    html! {
        div.entry {
            h1 { (v.t("entry-login-title")) }
            @if let Some(n) = notice { p.notice role="status" { (n) } }
            (problem_box(v, problems))
            form method="post" action="/login" novalidate {
                input type="hidden" name="csrf" value=(token);
                (field("email", &v.t("entry-email"), "email", "email", email, true, None, problems))
                (field("password", &v.t("entry-password"), "password", "current-password", "", true, None, problems))
                button #login type="submit" { (v.t("entry-submit-login")) }
            }
            p.switch { (v.t("entry-no-account")) " " a href="/signup" { (v.t("entry-signup-title")) } }
        }
    }
}

/// A sign-up or log-in page with this browser's pre-log-in token, setting its cookie when the
/// browser had none.
fn entry_page(
    state: &AppState,
    viewer: &Viewer,
    headers: &HeaderMap,
    status: StatusCode,
    title: &str,
    content: impl FnOnce(&str) -> Markup,
) -> Response {
    let t = login_token(&state.key, headers, state.config.http.cookies_secure());
    let mut res = render_with(state, viewer, title, Some(style()), content(&t.token));
    *res.status_mut() = status;
    if let Some(v) = t.set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

fn signup_response(
    state: &AppState,
    viewer: &Viewer,
    headers: &HeaderMap,
    status: StatusCode,
    typed: &Typed,
    problems: &Problems,
) -> Response {
    let title = viewer.t("entry-signup-title");
    entry_page(state, viewer, headers, status, &title, |token| {
        signup_markup(viewer, token, typed, problems)
    })
}

fn login_response(
    state: &AppState,
    viewer: &Viewer,
    headers: &HeaderMap,
    status: StatusCode,
    email: &str,
    notice: Option<&str>,
    problems: &Problems,
) -> Response {
    let title = viewer.t("entry-login-title");
    entry_page(state, viewer, headers, status, &title, |token| {
        login_markup(viewer, token, email, notice, problems)
    })
}

async fn signup_page(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
) -> Response {
    signup_response(
        &state,
        &viewer,
        &headers,
        StatusCode::OK,
        &Typed::default(),
        &Problems::default(),
    )
}

async fn login_page(State(state): State<AppState>, viewer: Viewer, headers: HeaderMap) -> Response {
    login_response(
        &state,
        &viewer,
        &headers,
        StatusCode::OK,
        "",
        None,
        &Problems::default(),
    )
}

#[derive(Deserialize)]
struct SignUpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    telephone: String,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
struct LogInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// The sentence of a password `check_password` refused: zxcvbn's own advice in English, the
/// gist in Japanese.
pub(super) fn password_words(lang: Lang, refusal: &str) -> String {
    if refusal.starts_with("the password must be") {
        return reprint_ui::t(lang, "entry-error-password-length");
    }
    match lang {
        Lang::En => {
            let mut s = refusal.to_string();
            if let Some(first) = s.get(..1) {
                s.replace_range(..1, &first.to_uppercase());
            }
            if !s.ends_with('.') {
                s.push('.');
            }
            s
        }
        Lang::Ja => reprint_ui::t(lang, "entry-error-password"),
    }
}

/// The sign-up's checks field by field, in the viewer's words (the account's own checks in
/// [`auth::sign_up`] run again behind them).
fn check_fields(lang: Lang, f: &SignUpForm) -> Problems {
    let t = |key| reprint_ui::t(lang, key);
    let mut fields = vec![];
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > 200 || check_plain_text("name", &f.name).is_err() {
        fields.push(("name", t("entry-error-name")));
    }
    if check_plain_text("telephone", &f.telephone).is_err()
        || reprint_domain::Telephone::parse(&f.telephone).is_err()
    {
        fields.push(("telephone", t("entry-error-telephone")));
    }
    if let Some(a) = &f.address
        && (a.chars().count() > 500 || check_plain_text("address", a).is_err())
    {
        fields.push(("address", t("entry-error-address")));
    }
    let email = reprint_service::auth::parse_email(&f.email);
    if email.is_err() {
        fields.push(("email", t("entry-error-email")));
    }
    let email = email.unwrap_or_default();
    if let Err(refusal) = check_password(&f.password, &[name, email.as_str(), f.telephone.as_str()])
    {
        fields.push(("password", password_words(lang, &refusal)));
    }
    Problems {
        general: None,
        fields,
    }
}

/// What a refusal of the account's own checks says on the page, in the viewer's words where
/// its kind is known.
fn refusal_words(v: &Viewer, e: &AppError) -> String {
    match e {
        AppError::Unauthorized(_) => v.t("entry-error-wrong"),
        AppError::TooManyRequests(_) => v.t("entry-error-too-many"),
        other => other.problem().detail,
    }
}

async fn signup_form(
    State(state): State<AppState>,
    viewer: Viewer,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<SignUpForm>, FormRejection>,
) -> Response {
    let Form(f) = match form {
        Ok(f) => f,
        Err(r) => return reprint_service::Problem::from(r).into_response(),
    };
    let typed = Typed {
        name: f.name.clone(),
        telephone: f.telephone.clone(),
        address: f.address.clone().unwrap_or_default(),
        email: f.email.clone(),
    };
    if !check_login_token(&state.key, &headers, &f.csrf) {
        let p = Problems::general(viewer.t("entry-error-expired"));
        return signup_response(&state, &viewer, &headers, StatusCode::FORBIDDEN, &typed, &p);
    }
    let problems = check_fields(viewer.lang, &f);
    if !problems.is_empty() {
        return signup_response(
            &state,
            &viewer,
            &headers,
            StatusCode::UNPROCESSABLE_ENTITY,
            &typed,
            &problems,
        );
    }
    let s = SignUp {
        name: f.name,
        telephone: f.telephone,
        address: f.address.filter(|a| !a.trim().is_empty()),
        email: f.email,
        password: f.password,
    };
    match auth::sign_up_in(&state, &ip, s, Some(viewer.lang)).await {
        // The same page whether or not the e-mail had an account.
        Ok(_) => login_response(
            &state,
            &viewer,
            &headers,
            StatusCode::OK,
            &typed.email,
            Some(&viewer.t("entry-signed-up")),
            &Problems::default(),
        ),
        Err(e) => {
            let problem = e.problem();
            if problem.status >= 500 {
                return e.into_response();
            }
            let p = Problems::general(refusal_words(&viewer, &e));
            signup_response(&state, &viewer, &headers, problem.status_code(), &typed, &p)
        }
    }
}

async fn login_form(
    State(state): State<AppState>,
    viewer: Viewer,
    ClientIp(ip): ClientIp,
    handle: Handle,
    headers: HeaderMap,
    form: Result<Form<LogInForm>, FormRejection>,
) -> Response {
    let Form(f) = match form {
        Ok(f) => f,
        Err(r) => return reprint_service::Problem::from(r).into_response(),
    };
    if !check_login_token(&state.key, &headers, &f.csrf) {
        let p = Problems::general(viewer.t("entry-error-expired"));
        return login_response(
            &state,
            &viewer,
            &headers,
            StatusCode::FORBIDDEN,
            &f.email,
            None,
            &p,
        );
    }
    let email = f.email.clone();
    let l = LogIn {
        email: f.email,
        password: f.password,
    };
    match auth::log_in(&state, &handle, &ip, l).await {
        Ok(_) => Redirect::to("/album").into_response(),
        Err(e) => {
            let problem = e.problem();
            if problem.status >= 500 {
                return e.into_response();
            }
            let p = Problems::general(refusal_words(&viewer, &e));
            login_response(
                &state,
                &viewer,
                &headers,
                problem.status_code(),
                &email,
                None,
                &p,
            )
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout_form(
    State(state): State<AppState>,
    viewer: Viewer,
    MaybeUser(who): MaybeUser,
    handle: Handle,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let Some(u) = who else {
        return Redirect::to("/").into_response();
    };
    let token = form.map(|Form(f)| f.csrf).unwrap_or_default();
    if !u.session.check_csrf(&state.key, &token) {
        return AppError::Forbidden(viewer.t("entry-log-out-expired")).into_response();
    }
    match auth::log_out(&handle).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(e) => e.into_response(),
    }
}
