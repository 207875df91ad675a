//! Server-rendered pages for home users (phone first, a little vanilla JS) and the ops
//! dashboard, in the shared layout of `reprint-ui` (maud markup, Fluent words). The pages call
//! the same `/api/v1` as any client; the CSRF token travels in a `<meta>` tag for the scripts
//! and in a hidden field for forms.
//!
//! Every page handler takes a [`Viewer`] (who is looking, in which language and time zone) and
//! answers with [`render`]. Each group of pages is its own module with its own `routes()`.

use axum::Router;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{Markup, html};
use reprint_ui::{Lang, NavLink, Page, t};
use serde::Deserialize;

use crate::auth::{MaybeUser, User};
use crate::error::AppError;
use crate::state::AppState;

mod account;
mod album;
mod entry;
mod home;
mod ops;
mod orders;

/// The cookie that keeps a browser's choice of language.
pub const LANG_COOKIE: &str = "reprint_lang";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/language", get(choose_language))
        .merge(home::routes())
        .merge(album::routes())
        .merge(entry::routes())
        .merge(account::routes())
        .merge(ops::routes())
        .merge(orders::routes())
}

/// Who is looking at a page: the person (if logged in), the language the page speaks and the
/// time zone its times are shown in.
pub struct Viewer {
    pub user: Option<User>,
    pub lang: Lang,
    pub tz: chrono_tz::Tz,
    /// The path asked for (to mark the current navigation link and come back after a switch
    /// of language).
    pub path: String,
}

impl Viewer {
    /// The logged-in person, or the redirect to the log-in page.
    pub fn need_user(&self) -> Result<&User, Box<Response>> {
        self.user
            .as_ref()
            .ok_or_else(|| Box::new(Redirect::to("/login").into_response()))
    }

    /// This page's words.
    pub fn t(&self, key: &str) -> String {
        t(self.lang, key)
    }

    /// A moment as this viewer reads it, in `tz` (the site's zone) or the viewer's default.
    pub fn time(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        reprint_ui::local_time(self.lang, self.tz, at)
    }

    /// An RFC 3339 time from the API (`2026-12-03T08:03:59.123Z`) as this viewer reads it;
    /// anything else as it came.
    pub fn time_str(&self, at: &str) -> String {
        chrono::DateTime::parse_from_rfc3339(at)
            .map(|t| self.time(t.with_timezone(&chrono::Utc)))
            .unwrap_or_else(|_| at.to_string())
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Viewer, AppError> {
        let MaybeUser(user) = MaybeUser::from_request_parts(parts, state).await?;
        // The account's language (kept in its session from the log-in on), else the cookie.
        let session_lang = match reprint_service::session::handle(parts) {
            Some(h) if user.is_some() => {
                h.get::<String>(crate::auth::LANG_KEY).await.ok().flatten()
            }
            _ => None,
        };
        let choice = session_lang.or_else(|| cookie(&parts.headers, LANG_COOKIE));
        let accept = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        Ok(Viewer {
            user,
            lang: Lang::negotiate(choice.as_deref(), accept, &state.config.web.locale),
            tz: state.config.web.time_zone,
            path: parts.uri.path().to_string(),
        })
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A page in the shared layout: the navigation for the viewer (album, orders, ops, log out;
/// or log in and sign up), the CSRF token for the page's scripts, a language switch.
pub fn render(state: &AppState, viewer: &Viewer, title: &str, content: Markup) -> Response {
    render_with(state, viewer, title, None, content)
}

/// [`render`] with extra `<head>` markup (a page's own script or style).
pub fn render_with(
    state: &AppState,
    viewer: &Viewer,
    title: &str,
    head: Option<Markup>,
    content: Markup,
) -> Response {
    let lang = viewer.lang;
    let link = |href: &str, key: &str| NavLink {
        href: href.to_string(),
        label: t(lang, key),
        current: viewer.path == href
            || (href != "/" && viewer.path.starts_with(&format!("{href}/"))),
    };
    let (nav, actions, csrf) = match &viewer.user {
        Some(u) => {
            let csrf = u.session.csrf_token(&state.key);
            let mut nav = vec![link("/album", "nav-album"), link("/orders", "nav-orders")];
            nav.push(link("/account", "nav-account"));
            if u.is_ops() {
                nav.push(link("/ops", "nav-ops"));
            }
            let actions = html! {
                form method="post" action="/logout" {
                    input type="hidden" name="csrf" value=(csrf);
                    button.quiet { (t(lang, "nav-log-out")) }
                }
            };
            (nav, Some(actions), csrf)
        }
        None => (
            vec![link("/login", "nav-log-in"), link("/signup", "nav-sign-up")],
            None,
            String::new(),
        ),
    };
    let other = match lang {
        Lang::Ja => Lang::En,
        Lang::En => Lang::Ja,
    };
    let footer = html! {
        a href={ "/language?to=" (other.tag()) "&back=" (viewer.path) } lang=(other.tag()) hreflang=(other.tag()) {
            (other.own_name())
        }
    };
    let page = Page {
        lang,
        title,
        site: "reprint",
        nav,
        head: Some(html! {
            meta name="csrf" content=(csrf);
            link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='12' y='2' rx='2' fill='%23143d59'/%3E%3Ccircle cx='8' cy='8' r='3' fill='%23fff'/%3E%3C/svg%3E";
            @if let Some(head) = head { (head) }
        }),
        actions,
        footer: Some(footer),
    };
    Html(reprint_ui::layout(&page, content).into_string()).into_response()
}

#[derive(Deserialize)]
struct LanguageChoice {
    to: String,
    #[serde(default)]
    back: Option<String>,
}

/// `GET /language?to=ja&back=/album`: keeps the browser's choice of language in a cookie (a
/// preference, not a change of anything the person owns, so a link rather than a form) and
/// goes back to the page it came from (only a path of this site).
async fn choose_language(
    axum::extract::State(state): axum::extract::State<AppState>,
    MaybeUser(user): MaybeUser,
    handle: reprint_service::session::Handle,
    Query(q): Query<LanguageChoice>,
) -> Response {
    let Some(lang) = Lang::from_tag(&q.to) else {
        return AppError::Unprocessable(format!("language {:?}: the pages speak ja and en", q.to))
            .into_response();
    };
    // A logged-in person's session speaks it too (over the account's language, until the next
    // log-in); the account's own choice is made on the account page.
    if user.is_some()
        && let Err(e) = crate::auth::remember_language(&handle, Some(lang)).await
    {
        return e.into_response();
    }
    let back = q
        .back
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/".to_string());
    let secure = if state.config.http.cookies_secure() {
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
