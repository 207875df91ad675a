//! Log-in (with this terminal's pre-log-in token), log-out, the home screen (a scan field for
//! a slip, the four tasks) and the choice of language.

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use reprint_service::auth::{LOGIN_TOKEN_REFUSED, Source, check_login_token, login_token};
use reprint_service::session::Handle;
use reprint_ui::Lang;
use serde::Deserialize;

use super::{LANG_COOKIE, Viewer, error_page, problem_box, render, with_status};
use crate::AppState;
use crate::auth::{self, PageStaff};
use crate::error::CounterError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/language", get(choose_language))
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    name: String,
    password: String,
}

async fn login_page(State(state): State<AppState>, viewer: Viewer, headers: HeaderMap) -> Response {
    login_form(&state, &viewer, &headers, StatusCode::OK, None, "")
}

/// The log-in page (with `error`), carrying this terminal's pre-log-in token (and its cookie
/// when the browser had none).
fn login_form(
    state: &AppState,
    viewer: &Viewer,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<&CounterError>,
    name: &str,
) -> Response {
    let t = login_token(
        &state.key,
        headers,
        state.counter.config.http.cookies_secure(),
    );
    let title = viewer.t("counter-login-title");
    let page = render(
        state,
        viewer,
        None,
        &title,
        html! {
            h1 { (title) }
            @if let Some(e) = error { (problem_box(viewer, e)) }
            form method="post" action="/login" style="max-width:480px" {
                input type="hidden" name="csrf" value=(t.token);
                label for="name" { (viewer.t("counter-login-name")) }
                input #name type="text" name="name" value=(name) autocomplete="username" required autofocus[name.is_empty()];
                label for="password" { (viewer.t("counter-login-password")) }
                input #password type="password" name="password" autocomplete="current-password" required autofocus[!name.is_empty()];
                p { button.go type="submit" { (viewer.t("counter-login-submit")) } }
            }
        },
    );
    let mut res = with_status(status, page);
    if let Some(v) = t.set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

async fn login_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    handle: Handle,
    Source(source): Source,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        let e = CounterError::Invalid("give a name and a password".into());
        return login_form(
            &state,
            &viewer,
            &headers,
            StatusCode::BAD_REQUEST,
            Some(&e),
            "",
        );
    };
    if !check_login_token(&state.key, &headers, &f.csrf) {
        let e = CounterError::Forbidden(LOGIN_TOKEN_REFUSED.into());
        return login_form(
            &state,
            &viewer,
            &headers,
            StatusCode::FORBIDDEN,
            Some(&e),
            &f.name,
        );
    }
    match auth::log_in(&state, &handle, &f.name, &f.password, &source).await {
        Ok(_) => Redirect::to("/").into_response(),
        Err(e) => login_form(
            &state,
            &viewer,
            &headers,
            e.problem().status_code(),
            Some(&e),
            &f.name,
        ),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    handle: Handle,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let token = form.map(|Form(f)| f.csrf).unwrap_or_default();
    if let Err(e) = staff.check_csrf(&state, &token) {
        return error_page(&state, &viewer, Some(&staff), &e);
    }
    match auth::log_out(&handle).await {
        Ok(()) => Redirect::to("/login").into_response(),
        Err(e) => error_page(&state, &viewer, Some(&staff), &e),
    }
}

/// The home screen: a slip scanned here opens its pickup; the four tasks as large tiles.
async fn home(State(state): State<AppState>, viewer: Viewer, staff: PageStaff) -> Response {
    let title = viewer.t("counter-home-title");
    render(
        &state,
        &viewer,
        Some(&staff),
        &title,
        html! {
            h1 { (title) }
            @if state.counter.online() {
                p.ok { (viewer.t("counter-online")) }
            } @else {
                p.notice role="status" { (viewer.t("counter-offline")) }
            }
            form.scan method="get" action="/pickup" role="search" style="margin:10px 0 16px" {
                label for="q" { (viewer.t("counter-scan-label")) }
                input #q type="search" name="q" autofocus autocomplete="off" enterkeyhint="go" inputmode="text";
                button.go type="submit" { (viewer.t("counter-find")) }
            }
            div.tiles {
                a href="/intake" { (viewer.t("counter-nav-intake")) small { (viewer.t("counter-home-intake")) } }
                a href="/pickup" { (viewer.t("counter-nav-pickup")) small { (viewer.t("counter-home-pickup")) } }
                a href="/arrivals" { (viewer.t("counter-nav-arrivals")) small { (viewer.t("counter-home-arrivals")) } }
                a href="/takings" { (viewer.t("counter-nav-takings")) small { (viewer.t("counter-home-takings")) } }
            }
        },
    )
}

#[derive(Deserialize)]
struct LanguageChoice {
    to: String,
    #[serde(default)]
    back: Option<String>,
}

/// `GET /language?to=en&back=/pickup`: this terminal's language, kept in a cookie; back to the
/// page it came from (a path of this site only).
async fn choose_language(
    State(state): State<AppState>,
    Query(q): Query<LanguageChoice>,
) -> Response {
    let Some(lang) = Lang::from_tag(&q.to) else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("language {:?}: the terminal speaks ja and en", q.to),
        )
            .into_response();
    };
    let back = q
        .back
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/".to_string());
    let secure = if state.counter.config.http.cookies_secure() {
        "; Secure"
    } else {
        ""
    };
    let mut res = Redirect::to(&back).into_response();
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax{secure}",
        lang.tag()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}
