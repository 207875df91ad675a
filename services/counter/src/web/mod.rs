//! The terminal's pages, in the shared layout of `reprint-ui` (maud markup, words in
//! `crates/ui/locales/<lang>/counter.ftl`), made for a 1024 x 768 touch terminal: every main
//! action on the first screen, touch targets of at least 48 px, and a barcode scanner (a
//! keyboard wedge: it types the number and Enter) in every search field (focused, submitted on
//! Enter). They speak the counter's language (Japanese for a counter in Japan) unless staff
//! choose another or the browser asks for it; times are the counter's local time to the minute.
//! Every form carries the session's CSRF token.
//!
//! | pages | module |
//! | --- | --- |
//! | log-in, log-out, home, language | [`entry`] |
//! | walk-in intake | [`intake`] |
//! | customers' files, the registration number question | [`customers`] |
//! | the slip (80 mm, A6, A4), cancel at the counter | [`slip`] |
//! | arrivals and notices (live) | [`arrivals`] |
//! | pickup, payment, receipt | [`pickup`] |
//! | takings | [`takings`] |

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, PreEscaped, html};
use reprint_domain::Money;
use reprint_ui::{Lang, NavLink, Page};

use crate::AppState;
use crate::auth::PageStaff;
use crate::error::CounterError;

mod analysis;
mod arrivals;
mod customers;
mod entry;
mod intake;
mod pickup;
mod printer;
mod slip;
pub(crate) mod takings;
mod words;

pub use reprint_service::html::esc;

/// The cookie that keeps this terminal's choice of language.
pub const LANG_COOKIE: &str = "reprint_counter_lang";

pub fn routes(state: AppState) -> Router {
    Router::new()
        .merge(entry::routes())
        .merge(intake::routes(&state))
        .merge(customers::routes())
        .merge(slip::routes())
        .merge(arrivals::routes())
        .merge(pickup::routes())
        .merge(printer::routes())
        .merge(takings::routes())
        .merge(analysis::routes())
        .with_state(state)
}

/// Who looks at a page and how it speaks: the language (the terminal's choice, else the
/// browser's, else the counter's own), the counter's time zone and the path asked for.
pub struct Viewer {
    pub lang: Lang,
    pub tz: chrono_tz::Tz,
    pub path: String,
}

impl Viewer {
    pub fn t(&self, key: &str) -> String {
        reprint_ui::t(self.lang, key)
    }

    pub fn tw(&self, key: &str, args: &[(&'static str, FluentValue)]) -> String {
        reprint_ui::t_with(self.lang, key, args)
    }

    /// A moment in the counter's time zone, to the minute.
    pub fn time(&self, at: DateTime<Utc>) -> String {
        reprint_ui::local_time(self.lang, self.tz, at)
    }

    pub fn money(&self, m: Money) -> String {
        reprint_ui::money(self.lang, m)
    }
}

pub type FluentValue = fluent_templates::fluent_bundle::FluentValue<'static>;

/// The counter's own language: Japanese unless its rules say English.
fn site_lang(state: &AppState) -> &'static str {
    match state.counter.rules().language() {
        "en" => "en",
        _ => "ja",
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Viewer, Self::Rejection> {
        Ok(viewer_of(&parts.headers, parts.uri.path(), state))
    }
}

pub fn viewer_of(headers: &HeaderMap, path: &str, state: &AppState) -> Viewer {
    let choice = cookie(headers, LANG_COOKIE);
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Viewer {
        lang: Lang::negotiate(choice.as_deref(), accept, site_lang(state)),
        tz: state.counter.rules().time_zone,
        path: path.to_string(),
    }
}

/// The value of cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The terminal's own look over the shared layout: larger type and targets for a touch screen
/// at arm's length, the columns of the pickup page, and the printed slip and receipt (80 mm
/// receipt paper: one narrow column; A6 and wider: the QR code beside the text).
pub const STYLE: &str = "\
body{font-size:18px}\
header{padding:6px 12px}\
header .site{font-size:1.05em}\
nav a{min-height:48px;padding:0 14px;font-size:1.05em}\
main{max-width:1000px;padding:12px 16px}\
h1{font-size:1.5em;margin:.2em 0 .4em}\
h2{font-size:1.2em;margin:.6em 0 .3em}\
button,.button{min-height:52px;padding:0 20px;font-size:1.05em;display:inline-flex;align-items:center;justify-content:center;text-decoration:none}\
.button{border:1px solid #143d59;border-radius:6px;background:#143d59;color:#fff}\
.go{background:#1a6b32;border-color:#1a6b32;font-size:1.2em;min-height:60px}\
.quiet,.button.quiet{background:#fff;color:#143d59}\
.danger{background:#a4161a;border-color:#a4161a;color:#fff}\
input:not([type=hidden]):not([type=radio]),select{display:block;width:100%;min-height:52px;padding:6px 10px;border:1px solid #767676;border-radius:6px;background:#fff;font-size:1.1em}\
label{display:block;font-weight:600;margin:8px 0 4px}\
.row{display:flex;flex-wrap:wrap;gap:10px;align-items:center}\
.cols{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:16px;align-items:start}\
.cols.wide-left{grid-template-columns:minmax(0,3fr) minmax(0,2fr)}\
@media (max-width:700px){.cols,.cols.wide-left{grid-template-columns:minmax(0,1fr)}}\
.card{background:#fff;border:1px solid #d0d7de;border-radius:10px;padding:12px 16px}\
.tiles{display:grid;grid-template-columns:1fr 1fr;gap:14px}\
.tiles a{display:flex;flex-direction:column;justify-content:center;min-height:120px;background:#fff;border:2px solid #143d59;border-radius:12px;padding:16px;font-size:1.4em;font-weight:700;text-decoration:none;color:#143d59}\
.tiles a small{font-size:.65em;font-weight:400;color:#333}\
.big{font-size:2.2em;font-weight:800;letter-spacing:.04em}\
.due{font-size:2.4em;font-weight:800;margin:.1em 0}\
.muted{color:#555}\
.ok{border-left:6px solid #1a6b32;background:#e9f6ec;padding:10px 14px;margin:8px 0}\
.problem{border-left:6px solid #b00020;background:#fdecee;padding:10px 14px;margin:8px 0}\
.notice{border-left:6px solid #8a5a00;background:#fff6e0;padding:10px 14px;margin:8px 0}\
table{background:#fff}td a{display:inline-flex;align-items:center;min-height:44px}td.n,th.n{text-align:right;white-space:nowrap}\
.check dt{font-weight:600;color:#444;font-size:.9em}.check dd{margin:0 0 8px;font-size:1.3em;font-weight:700}\
.methods{display:grid;grid-template-columns:1fr 1fr;gap:8px;margin:6px 0}\
.methods label{margin:0;display:flex;align-items:center;gap:8px;min-height:56px;padding:4px 8px;overflow-wrap:normal;word-break:keep-all;border:2px solid #767676;border-radius:8px;background:#fff;font-size:1.1em}\
.methods input{width:44px;height:44px;margin:0;flex:none}\
.methods label:has(input:checked){border-color:#143d59;background:#e8f0f6}\
form.pay:has(input[value=cash]:not(:checked)) .cash-only{display:none}\
.scan{display:grid;grid-template-columns:minmax(0,1fr) auto;gap:4px 10px;align-items:center}.scan label{grid-column:1/-1;margin:0}.scan button{white-space:nowrap}\
.scan input{font-size:1.5em !important;min-height:64px !important}\
.lists section{margin-bottom:10px}\
.paper{background:#fff;border:1px dashed #888;padding:14px;max-width:640px}\
.paper .qr svg{width:150px;height:150px}\
.paper h2{margin:.3em 0}\
.paper table td,.paper table th{padding:3px 6px}\
.paper .paper-grid{display:grid;grid-template-columns:minmax(0,1fr) auto;gap:12px;align-items:start}\
.cancelled-mark{border:4px solid #a4161a;color:#a4161a;font-weight:800;font-size:1.6em;text-align:center;padding:4px;margin:6px 0}\
@page{margin:5mm}\
@media print{\
header,footer,.noprint,.skip{display:none !important}\
.cols,.cols.wide-left{display:block}\
.paper dl.check{display:grid;grid-template-columns:auto minmax(0,1fr);gap:0 8px;align-items:baseline}\
.paper .check dt,.paper .check dd{margin:0}.paper .check dt{font-size:9pt}.paper .check dd{font-size:11pt}\
.paper h2{font-size:12pt}.paper p{margin:2px 0}\
body{background:#fff;font-size:10pt}main{padding:0;max-width:none}\
.paper{border:0;padding:0;max-width:none;break-inside:avoid}\
.paper .qr{break-inside:avoid}\
.paper .qr svg{width:30mm;height:30mm}\
.paper .big{font-size:18pt}.paper .due{font-size:16pt}\
.paper table{font-size:9pt}\
}\
@media print and (max-width:90mm){\
.paper .paper-grid{grid-template-columns:1fr}\
.paper .qr{text-align:center}\
.paper{font-size:9pt}\
}\
";

/// A page of the terminal in the shared layout: the navigation for a member of staff (or none
/// before the log-in), the log-out button and the language switch.
pub fn render(
    state: &AppState,
    viewer: &Viewer,
    staff: Option<&PageStaff>,
    title: &str,
    content: Markup,
) -> Response {
    render_with(state, viewer, staff, title, None, content)
}

pub fn render_with(
    state: &AppState,
    viewer: &Viewer,
    staff: Option<&PageStaff>,
    title: &str,
    head: Option<Markup>,
    content: Markup,
) -> Response {
    let lang = viewer.lang;
    let link = |href: &str, key: &str| NavLink {
        href: href.to_string(),
        label: viewer.t(key),
        current: viewer.path == href
            || (href != "/" && viewer.path.starts_with(&format!("{href}/"))),
    };
    let (nav, actions) = match staff {
        Some(s) => (
            vec![
                link("/", "counter-nav-home"),
                link("/intake", "counter-nav-intake"),
                link("/customers", "customers-nav"),
                link("/arrivals", "counter-nav-arrivals"),
                link("/pickup", "counter-nav-pickup"),
                link("/takings", "counter-nav-takings"),
                link("/analysis", "analysis-nav"),
            ],
            Some(html! {
                span.staff { (s.0.user) }
                form method="post" action="/logout" style="margin:0" {
                    input type="hidden" name="csrf" value=(s.csrf(state));
                    button.quiet { (viewer.t("counter-log-out")) }
                }
            }),
        ),
        None => (vec![], None),
    };
    let mut nav = nav;
    if staff.is_some() && state.counter.config.printer.is_some() {
        nav.push(link("/printer", "printer-nav"));
    }
    let other = match lang {
        Lang::Ja => Lang::En,
        Lang::En => Lang::Ja,
    };
    let footer = html! {
        a.button.quiet href={ "/language?to=" (other.tag()) "&back=" (viewer.path) } lang=(other.tag()) hreflang=(other.tag()) {
            (other.own_name())
        }
    };
    let page = Page {
        lang,
        title,
        site: &state.counter.config.name,
        nav,
        head: Some(html! {
            style { (PreEscaped(STYLE)) }
            link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='12' y='2' rx='2' fill='%23143d59'/%3E%3Ccircle cx='8' cy='8' r='3' fill='%23fff'/%3E%3C/svg%3E";
            @if let Some(head) = head { (head) }
        }),
        actions,
        footer: Some(footer),
    };
    Html(reprint_ui::layout(&page, content).into_string()).into_response()
}

/// A refusal above a form or on its own page: in words, with what the counter said.
pub fn problem_box(viewer: &Viewer, e: &CounterError) -> Markup {
    html! {
        div.problem role="alert" {
            strong { (words::problem_title(viewer, e)) }
            br;
            (words::problem_detail(viewer, e))
        }
    }
}

/// A page that only says what went wrong, with the status of the refusal.
pub fn error_page(
    state: &AppState,
    viewer: &Viewer,
    staff: Option<&PageStaff>,
    e: &CounterError,
) -> Response {
    let status = e.problem().status_code();
    let mut res = render(
        state,
        viewer,
        staff,
        &viewer.t("counter-cannot"),
        html! {
            h1 { (viewer.t("counter-cannot")) }
            (problem_box(viewer, e))
            p { a.button.quiet href="/" { (viewer.t("counter-nav-home")) } }
        },
    );
    *res.status_mut() = status;
    res
}

/// `page` with `status`.
pub fn with_status(status: StatusCode, mut page: Response) -> Response {
    *page.status_mut() = status;
    page
}
