//! The operator console: server-rendered pages on the shared layout (`reprint_ui`: maud markup,
//! Fluent words in `lab.ftl`, English or Japanese by the operator's browser, the lab's time
//! zone), usable on a tablet (viewport, 44 px targets). The live queue with filters, counts and
//! batch starts ([`queue`]), a reception with its prints as thumbnails, preflight warnings,
//! reprint evidence and the individual user file (Figs. 6, 7; [`reception`]), the search by
//! either site's reception number, telephone, name or registration number ([`search`]),
//! dispatch per counter with a printable packing list ([`dispatch`]), the ledger, log-in and
//! log-out. Every page but the log-in needs a session (else a redirect to `/login`); every
//! form carries the session's CSRF token.

use axum::Router;
use axum::extract::{Form, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, PreEscaped, html};
use reprint_service::auth::{LOGIN_TOKEN_REFUSED, Session, Source, check_login_token, login_token};
use reprint_service::session::Handle;
use reprint_ui::{Lang, NavLink, Page, t};
use serde::Deserialize;

pub use reprint_service::html::esc;

use crate::auth::{PageOperator, check_csrf, log_in, log_out};
use crate::error::LabError;
use crate::settlement;
use crate::state::Lab;

mod analysis;
mod dispatch;
mod printers;
mod queue;
mod reception;
mod search;
mod statements;
mod thumbs;

/// The console's routes (the state is given by [`crate::http::router`]).
pub fn routes() -> Router<Lab> {
    Router::new()
        .route("/login", get(login_page).post(login_form))
        .route("/logout", post(logout_form))
        .route("/ledger", get(ledger_page))
        .merge(queue::routes())
        .merge(reception::routes())
        .merge(search::routes())
        .merge(dispatch::routes())
        .merge(printers::routes())
        .merge(analysis::routes())
        .merge(statements::routes())
}

/// The console's own style over the shared one: a wider page for the queue on a tablet or a
/// desk, cards, badges, and a print style for the packing list.
const STYLE: &str = "\
main{max-width:1400px}\
.button{display:inline-flex;align-items:center;text-decoration:none}\
th,td{overflow-wrap:normal}\
.bar{display:flex;flex-wrap:wrap;gap:8px;align-items:end;margin:8px 0}\
.bar label{display:flex;flex-direction:column;font-size:14px}\
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:12px;padding:0;list-style:none}\
.card{background:#fff;border:1px solid #ccd;border-radius:8px;padding:8px;display:flex;gap:8px}\
.card img{width:72px;height:72px;object-fit:cover;border-radius:4px;background:#eee;flex:none}\
.card .what{flex:1;min-width:0}\
.card a.num{display:inline-flex;align-items:center;min-height:44px;font-weight:700;font-size:18px}\
.late{color:#a00;font-weight:700}\
.warn{background:#fff4d6;border:1px solid #e0a800;border-radius:6px;padding:8px 12px;margin:8px 0}\
.error{color:#a00}\
.counts{display:flex;flex-wrap:wrap;gap:16px}.counts table{width:auto}\
.quiet{background:#fff;color:#143d59}\
.actions{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:8px 0}\
.actions form{display:inline}\
.prints{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:12px;padding:0;list-style:none}\
.prints li{background:#fff;border:1px solid #ccd;border-radius:8px;padding:8px}\
.prints img{width:100%;height:180px;object-fit:contain;background:#eee}\
.area{border:2px solid #333;border-radius:6px;padding:4px 12px;margin:12px 0;background:#fff}\
.current{background:#ffd}\
header form{display:flex;gap:4px;align-items:center}\
header input[type=search]{width:14em}\
td.code svg{width:56px;height:56px;display:block}\
.reject-image select,.reject-image input[type=text]{width:100%;box-sizing:border-box}\
kbd{border:1px solid #888;border-radius:4px;padding:0 5px;font-family:monospace;background:#f6f6f6}\
@media print{header,footer,.noprint{display:none!important}main{max-width:none;padding:0}body{background:#fff;font-size:12px}\
th,td{padding:2px 6px}td.code svg{width:40px;height:40px}h1{font-size:20px;margin:0 0 4px}@page{size:A4;margin:12mm}}\
";

/// Keyboard shortcuts for the common path (the footer of every page lists them): "/" puts the
/// focus in the search field; "n" does the reception's next step (start printing, finished,
/// dispatch: the button marked `data-key="n"`); "q" opens the queue, "d" the dispatch page.
/// None while typing in a field or with a modifier (the browser's own shortcuts stay).
const SHORTCUTS: &str = "document.addEventListener('keydown',function(e){var a=document.activeElement;\
if(e.ctrlKey||e.metaKey||e.altKey||(a&&/^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName)))return;\
if(e.key==='/'){var q=document.getElementById('top-q');if(q){e.preventDefault();q.focus();q.select();}return;}\
var go={q:'/',d:'/dispatch'}[e.key];if(go){e.preventDefault();location.href=go;return;}\
var b=e.key==='n'&&document.querySelector('[data-key=n]');if(b){e.preventDefault();b.click();}});";

/// The footer of the operator's pages: the keyboard shortcuts in words.
fn shortcuts_footer(lang: Lang) -> Markup {
    html! {
        p.keys.noprint {
            (t(lang, "lab-keys")) " "
            kbd { "/" } " " (t(lang, "lab-key-search")) " · "
            kbd { "n" } " " (t(lang, "lab-key-next")) " · "
            kbd { "q" } " " (t(lang, "lab-nav-queue")) " · "
            kbd { "d" } " " (t(lang, "lab-nav-dispatch"))
        }
    }
}

/// Who is at the console: the operator (when logged in), the page's language and the lab's
/// time zone.
pub struct Op {
    pub session: Session,
    pub lang: Lang,
    pub tz: chrono_tz::Tz,
    pub path: String,
}

fn lang_of(lab: &Lab, headers: &HeaderMap) -> Lang {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::negotiate(None, accept, lab.rules().language())
}

impl FromRequestParts<Lab> for Op {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, lab: &Lab) -> Result<Self, Self::Rejection> {
        let PageOperator(session) = PageOperator::from_request_parts(parts, lab).await?;
        Ok(Op {
            session,
            lang: lang_of(lab, &parts.headers),
            tz: lab.rules().time_zone,
            path: parts.uri.path().to_string(),
        })
    }
}

impl Op {
    pub fn t(&self, key: &str) -> String {
        t(self.lang, key)
    }

    pub fn csrf(&self, lab: &Lab) -> String {
        self.session.csrf_token(&lab.session_key)
    }

    /// A moment in the lab's zone, to the minute.
    pub fn time(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        reprint_ui::local_time(self.lang, self.tz, at)
    }

    /// A stored time (RFC 3339) in the lab's zone; anything else as it is.
    pub fn time_str(&self, at: &str) -> String {
        reprint_eventstore::sql::parse_ts(at)
            .map(|t| self.time(t))
            .unwrap_or_else(|| at.to_string())
    }

    /// The hidden CSRF field of a form.
    pub fn csrf_field(&self, lab: &Lab) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.csrf(lab)); }
    }
}

/// Money in minor units and a currency code as people write it (`¥1,250`).
pub fn money(lang: Lang, currency: &str, minor: i64) -> String {
    reprint_domain::Currency::parse(currency)
        .map(|c| reprint_ui::money(lang, reprint_domain::Money::new(minor, c)))
        .unwrap_or_else(|_| format!("{minor} {currency}"))
}

/// A print size in words: its name and its paper in millimetres.
pub fn size_words(lang: Lang, code: &str) -> String {
    match reprint_domain::PrintSize::parse(code) {
        Ok(s) => {
            let (short, long) = s.millimetres();
            let name = if s == reprint_domain::PrintSize::Hagaki {
                t(lang, "lab-size-postcard")
            } else {
                code.to_string()
            };
            format!("{name} ({short} × {long} mm)")
        }
        Err(_) => code.to_string(),
    }
}

/// The production state in the console's words.
pub fn state_words(lang: Lang, state: &str) -> String {
    match state {
        "received" | "printing" | "printed" | "dispatched" | "collected" | "settled"
        | "rejected" | "cancelled" => t(lang, &format!("lab-state-{state}")),
        other => other.to_string(),
    }
}

/// The route of reception in words.
pub fn route_words(lang: Lang, route: &str) -> String {
    match route {
        "internet" => t(lang, "lab-route-internet"),
        "counter_medium" => t(lang, "lab-route-counter"),
        other => other.to_string(),
    }
}

/// A page of the console in the shared layout.
pub fn render(lab: &Lab, op: &Op, title: &str, content: Markup) -> Response {
    render_page(lab, op.lang, Some(op), title, None, content)
}

/// [`render`] with extra `<head>` markup (the queue's script).
pub fn render_with(lab: &Lab, op: &Op, title: &str, head: Markup, content: Markup) -> Response {
    render_page(lab, op.lang, Some(op), title, Some(head), content)
}

fn render_page(
    lab: &Lab,
    lang: Lang,
    op: Option<&Op>,
    title: &str,
    head: Option<Markup>,
    content: Markup,
) -> Response {
    let (nav, actions) = match op {
        Some(op) => {
            let link = |href: &str, key: &str| NavLink {
                href: href.to_string(),
                label: t(lang, key),
                current: op.path == href
                    || (href != "/" && op.path.starts_with(&format!("{href}/"))),
            };
            let nav = vec![
                link("/", "lab-nav-queue"),
                link("/dispatch", "lab-nav-dispatch"),
                link("/printers", "lab-nav-printers"),
                link("/ledger", "lab-nav-ledger"),
                link("/statements", "money-lab-nav-statements"),
                link("/analysis", "analysis-nav"),
            ];
            let actions = html! {
                form method="get" action="/search" role="search" {
                    label for="top-q" class="skip" { (t(lang, "lab-search-label")) }
                    // On the queue the field has the focus: a barcode scanner's number and
                    // Enter open the reception. "/" brings the focus back from anywhere.
                    input #top-q type="search" name="q" autocomplete="off" autofocus[op.path == "/"]
                        placeholder=(t(lang, "lab-search-placeholder"));
                    button.quiet { (t(lang, "lab-search-button")) }
                }
                form method="post" action="/logout" {
                    (op.csrf_field(lab))
                    button.quiet { (t(lang, "lab-log-out")) " (" (op.session.user) ")" }
                }
            };
            (nav, Some(actions))
        }
        None => (vec![], None),
    };
    let site = lab.config.site.name.clone();
    let page = Page {
        lang,
        title,
        site: &site,
        nav,
        head: Some(html! {
            style { (PreEscaped(STYLE)) }
            script { (PreEscaped(SHORTCUTS)) }
            @if let Some(head) = head { (head) }
        }),
        footer: op.map(|_| shortcuts_footer(lang)),
        actions,
    };
    Html(reprint_ui::layout(&page, content).into_string()).into_response()
}

/// A refusal in words, with its status.
pub fn error_page(lab: &Lab, op: &Op, e: LabError) -> Response {
    let status = e.problem().status_code();
    let detail = e.problem().detail.clone();
    let mut res = render(
        lab,
        op,
        &op.t("lab-not-done"),
        html! {
            h1 { (op.t("lab-not-done")) }
            p.error role="alert" { (detail) }
            p { a href="/" { (op.t("lab-back-to-queue")) } }
        },
    );
    *res.status_mut() = status;
    res
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    name: String,
    password: String,
}

/// The log-in page (with `error`), carrying this browser's pre-log-in token (and its cookie
/// when the browser had none).
fn login_response(lab: &Lab, headers: &HeaderMap, status: StatusCode, error: &str) -> Response {
    let lang = lang_of(lab, headers);
    let tok = login_token(&lab.session_key, headers, lab.config.http.cookies_secure());
    let title = t(lang, "lab-log-in");
    let content = html! {
        h1 { (title) }
        @if !error.is_empty() { p.error role="alert" { (error) } }
        form method="post" action="/login" {
            input type="hidden" name="csrf" value=(tok.token);
            p { label for="name" { (t(lang, "lab-login-name")) } br;
                input #name name="name" autocomplete="username" required autofocus; }
            p { label for="password" { (t(lang, "lab-login-password")) } br;
                input #password name="password" type="password" autocomplete="current-password" required; }
            p { button { (title) } }
        }
    };
    let mut res = render_page(lab, lang, None, &title, None, content);
    *res.status_mut() = status;
    if let Some(v) = tok.set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

async fn login_page(State(lab): State<Lab>, headers: HeaderMap) -> Response {
    login_response(&lab, &headers, StatusCode::OK, "")
}

async fn login_form(
    State(lab): State<Lab>,
    handle: Handle,
    Source(source): Source,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let lang = lang_of(&lab, &headers);
    let Ok(Form(form)) = form else {
        return login_response(
            &lab,
            &headers,
            StatusCode::BAD_REQUEST,
            &t(lang, "lab-login-give-both"),
        );
    };
    if !check_login_token(&lab.session_key, &headers, &form.csrf) {
        return login_response(&lab, &headers, StatusCode::FORBIDDEN, LOGIN_TOKEN_REFUSED);
    }
    match log_in(&lab, &handle, &source, &form.name, &form.password).await {
        Ok(_) => Redirect::to("/").into_response(),
        Err(e) => {
            let status = e.problem().status_code();
            login_response(&lab, &headers, status, &e.to_string())
        }
    }
}

/// A form with only the CSRF token (and a reason for a rejection).
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    pub csrf: Option<String>,
    pub reason: Option<String>,
    /// Where to go after the action (a path of the console; else the reception's page).
    pub back: Option<String>,
}

/// The CSRF check of a page's form, as a refusal page.
pub fn checked(lab: &Lab, op: &Op, token: Option<&str>) -> Result<(), Box<Response>> {
    check_csrf(lab, &op.session, token).map_err(|e| Box::new(error_page(lab, op, e)))
}

async fn logout_form(
    State(lab): State<Lab>,
    op: Op,
    handle: Handle,
    form: Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let token = form.ok().and_then(|Form(f)| f.csrf);
    if let Err(r) = checked(&lab, &op, token.as_deref()) {
        return *r;
    }
    match log_out(&handle).await {
        Ok(()) => Redirect::to("/login").into_response(),
        Err(e) => error_page(&lab, &op, e),
    }
}

async fn ledger_page(State(lab): State<Lab>, op: Op) -> Response {
    let lines = match settlement::ledger(&lab).await {
        Ok(l) => l,
        Err(e) => return error_page(&lab, &op, e),
    };
    let title = op.t("lab-ledger-title");
    let m = |l: &settlement::LedgerLine, v: i64| money(op.lang, &l.currency, v);
    render(
        &lab,
        &op,
        &title,
        html! {
            h1 { (title) }
            div.scroll { table {
                thead { tr {
                    th scope="col" { (op.t("lab-col-counter")) }
                    th scope="col" { (op.t("lab-ledger-charged")) }
                    th scope="col" { (op.t("lab-ledger-collected")) }
                    th scope="col" { (op.t("lab-ledger-paid")) }
                    th scope="col" { (op.t("lab-ledger-owed")) }
                } }
                tbody { @for l in &lines { tr {
                    td { (l.counter) }
                    td { (m(l, l.charged)) }
                    td { (m(l, l.collected)) }
                    td { (m(l, l.paid)) }
                    td { (m(l, l.owed)) }
                } } }
            } }
            @if lines.is_empty() { p { (op.t("lab-none")) } }
        },
    )
}
