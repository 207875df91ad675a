//! The operator console: server-rendered HTML pages, no script needed. The queue by production
//! state, a reception with the individual user file (the user id area and the reception
//! contents area, Figs. 6, 7), its prints, charge, production log and actions, the search, the
//! ledger per delivery counter, log-in and log-out. Every page but the log-in needs a session
//! (else a redirect to `/login`); every form carries the session's CSRF token.

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use reprint_domain::file::ReceptionState;
use reprint_service::auth::{LOGIN_TOKEN_REFUSED, Session, Source, check_login_token, login_token};
use reprint_service::session::Handle;
use serde::Deserialize;

pub use reprint_service::html::esc;

use crate::api::{
    ReceptionView, STATES, SearchQuery, StateQuery, queue, reception_view, run_action, search,
};
use crate::auth::{PageOperator, check_csrf, log_in, log_out};
use crate::db::ProductionRow;
use crate::error::LabError;
use crate::settlement;
use crate::state::Lab;

/// The console's routes (the state is given by [`crate::http::router`]).
pub fn routes() -> Router<Lab> {
    Router::new()
        .route("/", get(queue_page))
        .route("/login", get(login_page).post(login_form))
        .route("/logout", post(logout_form))
        .route("/receptions/{number}", get(reception_page))
        .route("/receptions/{number}/{action}", post(action_form))
        .route("/search", get(search_page))
        .route("/ledger", get(ledger_page))
}

fn page(lab: &Lab, title: &str, session: Option<&Session>, body: &str) -> Html<String> {
    let nav = match session {
        Some(s) => format!(
            r#"<nav><a href="/">Queue</a> · <a href="/ledger">Ledger</a> ·
<form class="inline" method="get" action="/search"><input name="q" placeholder="reception / registration no. / telephone"><button>Search</button></form>
· {user} <form class="inline" method="post" action="/logout"><input type="hidden" name="csrf" value="{csrf}"><button>Log out</button></form></nav>"#,
            user = esc(&s.user),
            csrf = esc(&s.csrf_token(&lab.session_key))
        ),
        None => String::new(),
    };
    Html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} · {site}</title>
<style>body{{font-family:sans-serif;margin:1.5em;max-width:72em}}table{{border-collapse:collapse;margin:.5em 0 1.5em}}td,th{{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top}}th{{background:#eee}}.inline{{display:inline}}.area{{border:2px solid #333;padding:.5em 1em;margin:1em 0}}.current{{background:#ffd}}.error{{color:#a00}}</style></head>
<body><header><strong>{site}</strong> — operator console</header>{nav}<h1>{title}</h1>{body}</body></html>"#,
        title = esc(title),
        site = esc(&lab.config.site.name),
    ))
}

fn local(lab: &Lab, rfc3339: &str) -> String {
    reprint_eventstore::sql::parse_ts(rfc3339)
        .map(|t| {
            t.with_timezone(&lab.rules().time_zone)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| rfc3339.to_string())
}

fn money(currency: &str, minor: i64) -> String {
    reprint_domain::Currency::parse(currency)
        .map(|c| reprint_domain::Money::new(minor, c).to_string())
        .unwrap_or_else(|_| format!("{minor} {currency}"))
}

fn rows_table(lab: &Lab, rows: &[ProductionRow]) -> String {
    if rows.is_empty() {
        return "<p>none</p>".into();
    }
    let mut s = String::from(
        "<table><tr><th>Reception No.</th><th>Registration No.</th><th>Route</th><th>Delivery counter</th><th>Prints</th><th>Charge</th><th>Received</th><th>Estimated finish</th><th>State</th></tr>",
    );
    for r in rows {
        s.push_str(&format!(
            r#"<tr><td><a href="/receptions/{n}">{n}</a></td><td>{reg}</td><td>{route}</td><td>{counter}</td><td>{prints}</td><td>{charge}</td><td>{received}</td><td>{finish}</td><td>{state}</td></tr>"#,
            n = esc(&r.reception_number),
            reg = esc(&r.registration_number),
            route = esc(&r.route),
            counter = esc(&r.counter),
            prints = r.prints,
            charge = esc(&money(&r.currency, r.charge_minor)),
            received = esc(&local(lab, &r.received_at)),
            finish = esc(&r.estimated_finish.as_deref().map(|f| local(lab, f)).unwrap_or_default()),
            state = esc(&r.state),
        ));
    }
    s.push_str("</table>");
    s
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    name: String,
    password: String,
}

fn login_form_html(token: &str) -> String {
    format!(
        r#"<form method="post" action="/login"><input type="hidden" name="csrf" value="{}"><p><label>Name <input name="name" autocomplete="username"></label></p><p><label>Password <input name="password" type="password" autocomplete="current-password"></label></p><p><button>Log in</button></p></form>"#,
        esc(token)
    )
}

/// The log-in page (with `error`), carrying this browser's pre-log-in token (and its cookie
/// when the browser had none).
fn login_response(lab: &Lab, headers: &HeaderMap, status: StatusCode, error: &str) -> Response {
    let t = login_token(&lab.session_key, headers, lab.config.http.cookies_secure());
    let error = if error.is_empty() {
        String::new()
    } else {
        format!(r#"<p class="error">{}</p>"#, esc(error))
    };
    let body = format!("{error}{}", login_form_html(&t.token));
    let mut res = (status, page(lab, "Log in", None, &body)).into_response();
    if let Some(v) = t.set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
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
    let Ok(Form(form)) = form else {
        return login_response(
            &lab,
            &headers,
            StatusCode::BAD_REQUEST,
            "give a name and a password",
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

#[derive(Debug, Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
    reason: Option<String>,
}

async fn logout_form(
    State(lab): State<Lab>,
    PageOperator(s): PageOperator,
    handle: Handle,
    form: Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let token = form.ok().and_then(|Form(f)| f.csrf);
    if let Err(e) = check_csrf(&lab, &s, token.as_deref()) {
        return error_page(&lab, Some(&s), e);
    }
    match log_out(&handle).await {
        Ok(()) => Redirect::to("/login").into_response(),
        Err(e) => error_page(&lab, Some(&s), e),
    }
}

fn error_page(lab: &Lab, s: Option<&Session>, e: LabError) -> Response {
    let status = e.problem().status_code();
    let body = format!(r#"<p class="error">{}</p>"#, esc(&e.problem().detail));
    (status, page(lab, "Not done", s, &body)).into_response()
}

async fn queue_page(
    State(lab): State<Lab>,
    PageOperator(s): PageOperator,
    query: Result<Query<StateQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let state = query.ok().and_then(|Query(q)| q.state);
    match queue(&lab, state.as_deref()).await {
        Ok(groups) => {
            let mut body = String::from("<p>");
            for st in STATES {
                body.push_str(&format!(r#"<a href="/?state={st}">{st}</a> "#));
            }
            body.push_str("</p>");
            for (st, rows) in groups {
                body.push_str(&format!("<h2>{} ({})</h2>", esc(&st), rows.len()));
                body.push_str(&rows_table(&lab, &rows));
            }
            page(&lab, "Queue", Some(&s), &body).into_response()
        }
        Err(e) => error_page(&lab, Some(&s), e),
    }
}

fn reception_body(lab: &Lab, s: &Session, view: &ReceptionView) -> String {
    let p = &view.production;
    let csrf = esc(&s.csrf_token(&lab.session_key));
    let mut b = String::new();
    // The user id area (Figs. 6, 7).
    b.push_str(r#"<div class="area"><h2>User ID area</h2><table>"#);
    if let Some(u) = &view.file.user {
        for (k, v) in [
            (
                "Registration No.",
                u.registration_number.as_str().to_string(),
            ),
            ("Name", u.name.clone()),
            ("Telephone", u.telephone.as_str().to_string()),
            ("Address", u.address.clone().unwrap_or_default()),
            ("E-mail", u.email.clone().unwrap_or_default()),
            (
                "Registered",
                u.registered_at
                    .with_timezone(&lab.rules().time_zone)
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
            ),
        ] {
            b.push_str(&format!("<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v)));
        }
    }
    b.push_str("</table></div>");
    // The reception contents area.
    b.push_str(r#"<div class="area"><h2>Reception contents area</h2><table><tr><th>(1) Reception No.</th><th>(2) Route</th><th>(3) Reception date</th><th>(4) Data receive start</th><th>(5) finish</th><th>(6) Delivery counter</th><th>(7) Images / prints</th><th>Basic charge</th><th>Amount</th><th>(8) Estimated finish</th><th>State</th></tr>"#);
    let tz = lab.rules().time_zone;
    let fmt = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
    };
    for r in &view.file.receptions {
        let images = r
            .items
            .iter()
            .map(|i| i.image)
            .collect::<std::collections::HashSet<_>>()
            .len();
        let prints: u32 = r.items.iter().map(|i| i.quantity).sum();
        let state = match &r.state {
            ReceptionState::Open => "open".to_string(),
            ReceptionState::Collected { at } => format!("collected {}", fmt(*at)),
            ReceptionState::Cancelled { reason, .. } => format!("cancelled: {reason}"),
        };
        let class = if r.number.as_str() == p.reception_number {
            r#" class="current""#
        } else {
            ""
        };
        b.push_str(&format!(
            "<tr{class}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} images / {} prints</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(r.number.as_str()),
            esc(crate::intake::route_name(r.route)),
            esc(&fmt(r.received_at)),
            esc(&r.data_receive.map(|d| fmt(d.start)).unwrap_or_default()),
            esc(&r.data_receive.map(|d| fmt(d.finish)).unwrap_or_default()),
            esc(r.partner.as_str()),
            images,
            prints,
            esc(&r.charge.basic_charge().to_string()),
            esc(&r.charge.total.to_string()),
            esc(&r.estimated_finish.map(fmt).unwrap_or_default()),
            esc(&state),
        ));
    }
    b.push_str("</table></div>");
    // This reception: its items and its charge explained.
    if let Some(r) = view
        .file
        .receptions
        .iter()
        .find(|r| r.number.as_str() == p.reception_number)
    {
        b.push_str("<h2>Prints</h2><table><tr><th>Image</th><th>Name</th><th>Size</th><th>Quantity</th></tr>");
        for i in &r.items {
            b.push_str(&format!(
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&i.image.short()),
                esc(&i.name),
                esc(i.size.code()),
                i.quantity
            ));
        }
        b.push_str("</table><h2>Charge</h2><table>");
        for l in &r.charge.lines {
            b.push_str(&format!(
                "<tr><td>{}</td><td>{}</td></tr>",
                esc(&l.description),
                esc(&l.amount.to_string())
            ));
        }
        b.push_str(&format!(
            "<tr><th>Total</th><th>{}</th></tr></table>",
            esc(&r.charge.total.to_string())
        ));
    }
    // Production.
    b.push_str(&format!(
        "<h2>Production: {}</h2><p>Order {} from {} {}; digital copy: {}</p><table><tr><th>State</th><th>At</th><th>By</th><th>Note</th></tr>",
        esc(&p.state),
        esc(&p.order_id),
        esc(&p.sender_kind),
        esc(&p.sender_id),
        if p.digital_copy != 0 { "yes" } else { "no" }
    ));
    for l in &view.log {
        b.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&l.state),
            esc(&local(lab, &l.at)),
            esc(&l.actor),
            esc(&l.note)
        ));
    }
    b.push_str("</table>");
    let n = esc(&p.reception_number);
    let button = |action: &str, label: &str| {
        format!(
            r#"<form class="inline" method="post" action="/receptions/{n}/{action}"><input type="hidden" name="csrf" value="{csrf}"><button>{label}</button></form> "#
        )
    };
    b.push_str("<h2>Actions</h2><p>");
    match p.state.as_str() {
        "received" => b.push_str(&button("start-printing", "Start printing")),
        "printing" => b.push_str(&button("finished", "Prints finished")),
        "printed" => b.push_str(&button("dispatch", "Dispatch to the delivery counter")),
        _ => b.push_str("nothing to do here"),
    }
    b.push_str("</p>");
    if ["received", "printing", "printed"].contains(&p.state.as_str()) {
        b.push_str(&format!(
            r#"<form method="post" action="/receptions/{n}/reject"><input type="hidden" name="csrf" value="{csrf}"><label>Reject, with the reason the sender will see: <input name="reason" size="50" required></label> <button>Reject</button></form>"#
        ));
    }
    b
}

async fn reception_page(
    State(lab): State<Lab>,
    PageOperator(s): PageOperator,
    Path(number): Path<String>,
) -> Response {
    match reception_view(&lab, &number).await {
        Ok(view) => {
            let title = format!("Reception {}", view.production.reception_number);
            page(&lab, &title, Some(&s), &reception_body(&lab, &s, &view)).into_response()
        }
        Err(e) => error_page(&lab, Some(&s), e),
    }
}

async fn action_form(
    State(lab): State<Lab>,
    PageOperator(s): PageOperator,
    Path((number, action)): Path<(String, String)>,
    form: Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(f)) => f,
        Err(e) => return error_page(&lab, Some(&s), LabError::BadRequest(e.body_text())),
    };
    if let Err(e) = check_csrf(&lab, &s, form.csrf.as_deref()) {
        return error_page(&lab, Some(&s), e);
    }
    let number = number.to_ascii_uppercase();
    match run_action(&lab, &number, &action, form.reason.as_deref(), &s.user).await {
        Ok(_) => Redirect::to(&format!("/receptions/{}", esc(&number))).into_response(),
        Err(e) => error_page(&lab, Some(&s), e),
    }
}

async fn search_page(
    State(lab): State<Lab>,
    PageOperator(s): PageOperator,
    query: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q.q).unwrap_or_default();
    match search(&lab, &q).await {
        Ok(rows)
            if rows.len() == 1 && rows[0].reception_number == q.trim().to_ascii_uppercase() =>
        {
            Redirect::to(&format!("/receptions/{}", esc(&rows[0].reception_number))).into_response()
        }
        Ok(rows) => {
            let body = format!(
                "<p>Search for <strong>{}</strong>: {} found</p>{}",
                esc(&q),
                rows.len(),
                rows_table(&lab, &rows)
            );
            page(&lab, "Search", Some(&s), &body).into_response()
        }
        Err(e) => error_page(&lab, Some(&s), e),
    }
}

async fn ledger_page(State(lab): State<Lab>, PageOperator(s): PageOperator) -> Response {
    match settlement::ledger(&lab).await {
        Ok(lines) => {
            let mut body = String::from(
                "<table><tr><th>Delivery counter</th><th>Charged</th><th>Collected by the counter</th><th>Paid</th><th>Owed</th></tr>",
            );
            for l in &lines {
                body.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&l.counter),
                    esc(&l.money(l.charged)),
                    esc(&l.money(l.collected)),
                    esc(&l.money(l.paid)),
                    esc(&l.money(l.owed)),
                ));
            }
            body.push_str("</table>");
            page(&lab, "Ledger per delivery counter", Some(&s), &body).into_response()
        }
        Err(e) => error_page(&lab, Some(&s), e),
    }
}
