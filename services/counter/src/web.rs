//! The terminal pages: server-rendered, touch-friendly (large targets, readable at 1024x768),
//! no script needed. Log-in, intake, slip, arrivals, pickup and payment, takings. Every form
//! carries the session's CSRF token.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use reprint_domain::Charge;
use reprint_domain::counter_order::CounterOrderState;
use reprint_domain::file::ReceptionState;
use reprint_service::auth::{LOGIN_TOKEN_REFUSED, Source, check_login_token, login_token};
use reprint_service::session::Handle;
use serde::Deserialize;

use crate::AppState;
use crate::api::{self, DateQuery};
use crate::auth::{self, PageStaff};
use crate::error::CounterError;
use crate::pickup::{self, OrderSummary, PaymentInput};
use crate::takings;

pub use reprint_service::html::esc;

const STYLE: &str = "body{font:20px/1.4 system-ui,sans-serif;margin:0;background:#f4f4f0;color:#222}
header{background:#234;color:#fff;padding:10px 16px;display:flex;gap:12px;align-items:center;flex-wrap:wrap}
header a,header button{color:#fff;background:#456;border:0;border-radius:8px;padding:12px 18px;text-decoration:none;font-size:20px;min-height:52px}
main{max-width:1000px;margin:0 auto;padding:16px}
input,select,button{font-size:22px;min-height:56px;padding:8px 12px;border-radius:8px;border:1px solid #888;box-sizing:border-box}
input[type=text],input[type=tel],input[type=password],input[type=number],input[type=search],select{width:100%}
button.go,a.go{background:#1a7f37;color:#fff;border:0;padding:14px 28px;font-size:24px;text-decoration:none;display:inline-block;border-radius:10px;min-height:64px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.tiles{display:grid;grid-template-columns:1fr 1fr;gap:16px}.tiles a{display:block;background:#fff;border:2px solid #234;border-radius:12px;padding:32px;font-size:28px;text-align:center;text-decoration:none;color:#234}
table{border-collapse:collapse;width:100%;background:#fff}td,th{border-bottom:1px solid #ccc;padding:10px;text-align:left}td.n{text-align:right}
.error{background:#fde;border:2px solid #c00;padding:14px;border-radius:8px;margin:12px 0}
.ok{background:#e6ffed;border:2px solid #1a7f37;padding:14px;border-radius:8px;margin:12px 0}
.due{font-size:36px;font-weight:bold}
label{display:block;margin:10px 0 4px}
@media print{header,.noprint{display:none}body{background:#fff}}";

fn page(title: &str, staff: Option<&PageStaff>, state: &AppState, body: &str) -> Html<String> {
    let nav = match staff {
        Some(s) => format!(
            "<a href=\"/\">Home</a><a href=\"/intake\">Intake</a><a href=\"/arrivals\">Arrivals</a><a href=\"/pickup\">Pickup</a><a href=\"/takings\">Takings</a>\
             <span style=\"flex:1\"></span><span>{} · {}</span>\
             <form method=\"post\" action=\"/logout\" style=\"margin:0\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button>Log out</button></form>",
            esc(&state.counter.config.name),
            esc(&s.0.user),
            esc(&s.csrf(state))
        ),
        None => format!("<span>{}</span>", esc(&state.counter.config.name)),
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} · reprint counter</title><style>{STYLE}</style></head><body><header>{nav}</header><main><h1>{}</h1>{body}</main></body></html>",
        esc(title),
        esc(title)
    ))
}

fn error_box(e: &CounterError) -> String {
    format!(
        "<div class=\"error\" role=\"alert\">{}</div>",
        esc(&e.problem().detail)
    )
}

fn error_page(state: &AppState, staff: Option<&PageStaff>, e: &CounterError) -> Response {
    let p = e.problem();
    (
        p.status_code(),
        page("Cannot do that", staff, state, &error_box(e)),
    )
        .into_response()
}

fn money(state: &AppState, minor: i64) -> String {
    reprint_domain::Money::new(minor, state.counter.rules().currency).to_string()
}

fn local(state: &AppState, t: Option<DateTime<Utc>>) -> String {
    t.map(|t| {
        t.with_timezone(&state.counter.rules().time_zone)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    })
    .unwrap_or_else(|| "-".into())
}

fn charge_rows(charge: &Charge) -> String {
    charge
        .lines
        .iter()
        .map(|l| {
            format!(
                "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
                esc(&l.description),
                esc(&l.amount.to_string())
            )
        })
        .collect()
}

// ---------- log-in ----------

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    name: String,
    password: String,
}

async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    login_form(&state, &headers, StatusCode::OK, None)
}

/// The log-in page (with `error`), carrying this terminal's pre-log-in token (and its cookie
/// when the browser had none).
fn login_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<&CounterError>,
) -> Response {
    let t = login_token(
        &state.key,
        headers,
        state.counter.config.http.cookies_secure(),
    );
    let html = page(
        "Staff log-in",
        None,
        state,
        &format!(
            "{}<form method=\"post\" action=\"/login\" style=\"max-width:480px\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <label>Name<input type=\"text\" name=\"name\" autocomplete=\"username\" required autofocus></label>\
             <label>Password<input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label><p><button class=\"go\">Log in</button></p></form>",
            error.map(error_box).unwrap_or_default(),
            esc(&t.token)
        ),
    );
    let mut res = (status, html).into_response();
    if let Some(v) = t.set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

async fn login_submit(
    State(state): State<AppState>,
    handle: Handle,
    Source(source): Source,
    headers: HeaderMap,
    form: std::result::Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        let e = CounterError::Invalid("give a name and a password".into());
        return login_form(&state, &headers, StatusCode::BAD_REQUEST, Some(&e));
    };
    if !check_login_token(&state.key, &headers, &f.csrf) {
        let e = CounterError::Forbidden(LOGIN_TOKEN_REFUSED.into());
        return login_form(&state, &headers, StatusCode::FORBIDDEN, Some(&e));
    }
    match auth::log_in(&state, &handle, &f.name, &f.password, &source).await {
        Ok(_) => Redirect::to("/").into_response(),
        Err(e) => login_form(&state, &headers, e.problem().status_code(), Some(&e)),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    staff: PageStaff,
    handle: Handle,
    form: std::result::Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let token = form.map(|Form(f)| f.csrf).unwrap_or_default();
    if let Err(e) = staff.check_csrf(&state, &token) {
        return error_page(&state, Some(&staff), &e);
    }
    match auth::log_out(&handle).await {
        Ok(()) => Redirect::to("/login").into_response(),
        Err(e) => error_page(&state, Some(&staff), &e),
    }
}

// ---------- home ----------

async fn home(State(state): State<AppState>, staff: PageStaff) -> Html<String> {
    let link = if state.counter.online() {
        "<p class=\"ok\">Connected to the network.</p>".to_string()
    } else {
        "<p class=\"error\">Offline: orders and pickups go on; messages wait and go out when the link returns.</p>".to_string()
    };
    page(
        "Counter",
        Some(&staff),
        &state,
        &format!(
            "{link}<div class=\"tiles\"><a href=\"/intake\">Walk-in intake<br><small>medium handed over</small></a><a href=\"/pickup\">Pickup and payment<br><small>slip or telephone</small></a>\
             <a href=\"/arrivals\">Arrivals<br><small>ready, awaited, notices</small></a><a href=\"/takings\">Takings<br><small>today, per lab</small></a></div>"
        ),
    )
}

// ---------- intake ----------

fn intake_form(state: &AppState, staff: &PageStaff, error: Option<&CounterError>) -> Html<String> {
    let labs: String = state
        .counter
        .config
        .labs
        .iter()
        .map(|l| {
            format!(
                "<option value=\"{}\">{}</option>",
                esc(l.id.as_str()),
                esc(&l.name)
            )
        })
        .collect();
    let sizes = [
        "L", "2L", "KG", "DSC", "Hagaki", "Square", "4x6", "5x7", "8x10",
    ];
    let sizes: String = sizes
        .iter()
        .map(|s| format!("<option>{s}</option>"))
        .collect();
    page(
        "Walk-in intake",
        Some(staff),
        state,
        &format!(
            "{}<form method=\"post\" action=\"/intake\" enctype=\"multipart/form-data\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <h2>Customer</h2><div class=\"grid\"><label>Registration number (card of this counter)<input type=\"text\" name=\"registration_number\"></label>\
             <label>Telephone<input type=\"tel\" name=\"telephone\" required></label></div>\
             <label>Name<input type=\"text\" name=\"name\" required></label>\
             <h2>Medium</h2><label>ZIP of the card<input type=\"file\" name=\"medium\" accept=\".zip,application/zip\"></label>\
             <label>or the image files<input type=\"file\" name=\"images\" multiple accept=\"image/*\"></label>\
             <p><small>A print order on the card (MISC/AUTPRINT.MRK) chooses the prints and quantities.</small></p>\
             <h2>Prints</h2><div class=\"grid\"><label>Lab<select name=\"lab\">{labs}</select></label><label>Size<select name=\"size\">{sizes}</select></label></div>\
             <label>Prints of each image (when the card has no print order)<input type=\"number\" name=\"quantity\" min=\"1\" max=\"999\" value=\"1\"></label>\
             <p><button class=\"go\">Take in and print the slip</button></p></form>",
            error.map(error_box).unwrap_or_default(),
            esc(&staff.csrf(state))
        ),
    )
}

async fn intake_page(State(state): State<AppState>, staff: PageStaff) -> Html<String> {
    intake_form(&state, &staff, None)
}

async fn intake_submit(
    State(state): State<AppState>,
    staff: PageStaff,
    form: Multipart,
) -> Response {
    let result = async {
        let upload = api::read_intake_form(form, &state.counter.spool.staging()).await?;
        staff.check_csrf(&state, &upload.csrf)?;
        api::run_intake(&state, upload).await
    }
    .await;
    match result {
        Ok(intake) => Redirect::to(&format!("/slip/{}", intake.reception_number)).into_response(),
        Err(e) => (
            e.problem().status_code(),
            intake_form(&state, &staff, Some(&e)),
        )
            .into_response(),
    }
}

// ---------- slip ----------

fn qr_svg(data: &str) -> String {
    match qrcode::QrCode::new(data.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(180, 180)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

async fn slip(
    State(state): State<AppState>,
    staff: PageStaff,
    Path(number): Path<String>,
) -> Response {
    let view = match pickup::view(&state.counter, &number).await {
        Ok(v) => v,
        Err(e) => return error_page(&state, Some(&staff), &e),
    };
    let c = &state.counter;
    let r = &view.reception;
    let items: String = r
        .items
        .iter()
        .map(|i| {
            format!(
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
                esc(&i.name),
                esc(i.size.code()),
                i.quantity
            )
        })
        .collect();
    let code = pickup::slip_code(c.rules().site.as_str(), r.number.as_str());
    let body = format!(
        "<div style=\"background:#fff;padding:20px;border:1px dashed #888;max-width:640px\">\
         <p><strong>{}</strong><br>{}</p>\
         <p style=\"font-size:40px;font-weight:bold;margin:8px 0\">{}</p>\
         <p>Reception date: {}<br>Customer: {} (registration {})<br>Printed by: {}<br>Expected ready: {}</p>\
         <table><tr><th>Image</th><th>Size</th><th>Prints</th></tr>{items}</table>\
         <h3>Counter's charge</h3><table>{}<tr><th>Counter's amount</th><th class=\"n\">{}</th></tr></table>\
         <p><small>The laboratory's charge is added when the prints arrive; you pay both in one payment here.</small></p>\
         <div>{}</div><p><small>{}</small></p></div>\
         <p class=\"noprint\"><button class=\"go\" onclick=\"window.print()\">Print the slip</button> <a class=\"go\" href=\"/intake\">Next customer</a></p>",
        esc(&c.config.name),
        esc(&c.config.address),
        esc(r.number.as_str()),
        local(&state, Some(r.received_at)),
        esc(&view.summary.customer_name),
        esc(&view.registration_number),
        esc(&view.lab_name),
        local(&state, view.summary.expected_ready),
        charge_rows(&r.charge),
        esc(&r.charge.total.to_string()),
        qr_svg(&code),
        esc(&code),
    );
    page("Reception slip", Some(&staff), &state, &body).into_response()
}

// ---------- arrivals ----------

fn order_table(state: &AppState, orders: &[OrderSummary], empty: &str) -> String {
    if orders.is_empty() {
        return format!("<p>{}</p>", esc(empty));
    }
    let rows: String = orders
        .iter()
        .map(|o| {
            format!(
                "<tr><td><a href=\"/pickup/{0}\">{0}</a></td><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td><td>{5}</td></tr>",
                esc(&o.reception_number),
                esc(&o.customer_name),
                esc(&state.counter.lab_name(&o.lab)),
                esc(o.lab_reception.as_deref().unwrap_or("-")),
                esc(&o.state),
                esc(o.notice.as_deref().unwrap_or(&local(state, o.arrived_at.or(o.expected_ready))))
            )
        })
        .collect();
    format!(
        "<table><tr><th>Reception</th><th>Customer</th><th>Lab</th><th>Lab's number</th><th>State</th><th>Arrived / expected / notice</th></tr>{rows}</table>"
    )
}

async fn arrivals(State(state): State<AppState>, staff: PageStaff) -> Response {
    let c = &state.counter;
    let lists = async {
        Ok::<_, CounterError>((
            pickup::orders_in(c, &[CounterOrderState::ReadyForPickup], 500).await?,
            pickup::orders_in(c, &CounterOrderState::AWAITING, 500).await?,
            pickup::orders_in(c, &[CounterOrderState::Rejected], 100).await?,
        ))
    }
    .await;
    match lists {
        Ok((ready, awaiting, notices)) => page(
            "Arrivals",
            Some(&staff),
            &state,
            &format!(
                "<h2>Notices</h2>{}<h2>Ready for pickup</h2>{}<h2>Sent to a lab, not here yet</h2>{}",
                order_table(&state, &notices, "No notices."),
                order_table(&state, &ready, "Nothing waiting for pickup."),
                order_table(&state, &awaiting, "No orders out at a lab.")
            ),
        )
        .into_response(),
        Err(e) => error_page(&state, Some(&staff), &e),
    }
}

// ---------- pickup ----------

#[derive(Deserialize)]
struct SearchForm {
    #[serde(default)]
    q: String,
}

async fn pickup_search(
    State(state): State<AppState>,
    staff: PageStaff,
    Query(f): Query<SearchForm>,
) -> Response {
    let form = format!(
        "<form method=\"get\" action=\"/pickup\"><label>Slip number (type or scan) or telephone<input type=\"search\" name=\"q\" value=\"{}\" autofocus></label><p><button class=\"go\">Find</button></p></form>",
        esc(&f.q)
    );
    if f.q.trim().is_empty() {
        return page("Pickup", Some(&staff), &state, &form).into_response();
    }
    match pickup::find(&state.counter, &f.q).await {
        Ok(found) if found.len() == 1 => {
            Redirect::to(&format!("/pickup/{}", found[0].reception_number)).into_response()
        }
        Ok(found) => page(
            "Pickup",
            Some(&staff),
            &state,
            &format!("{form}{}", order_table(&state, &found, "Nothing found.")),
        )
        .into_response(),
        Err(e) => (
            e.problem().status_code(),
            page(
                "Pickup",
                Some(&staff),
                &state,
                &format!("{}{form}", error_box(&e)),
            ),
        )
            .into_response(),
    }
}

async fn pickup_view(
    State(state): State<AppState>,
    staff: PageStaff,
    Path(number): Path<String>,
) -> Response {
    match pickup::view(&state.counter, &number).await {
        Ok(v) => pickup_page(&state, &staff, &v, None),
        Err(e) => error_page(&state, Some(&staff), &e),
    }
}

fn pickup_page(
    state: &AppState,
    staff: &PageStaff,
    v: &pickup::PickupView,
    error: Option<&CounterError>,
) -> Response {
    let r = &v.reception;
    let items: String = r
        .items
        .iter()
        .map(|i| {
            format!(
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
                esc(&i.name),
                esc(i.size.code()),
                i.quantity
            )
        })
        .collect();
    let lab = match &v.lab_charge {
        Some(l) => format!(
            "<tr><th colspan=\"2\">{} (the laboratory)</th></tr>{}",
            esc(&v.lab_name),
            charge_rows(l)
        ),
        None => format!(
            "<tr><th colspan=\"2\">{}: the prints have not arrived yet</th></tr>",
            esc(&v.lab_name)
        ),
    };
    let counter = format!(
        "<tr><th colspan=\"2\">{} (this counter)</th></tr>{}",
        esc(&state.counter.config.name),
        charge_rows(&v.counter_charge)
    );
    let due = v
        .amount_due
        .map(|d| format!("<p class=\"due\">Amount due: {}</p>", esc(&d.to_string())))
        .unwrap_or_default();
    let action = match (&r.state, v.can_collect()) {
        (ReceptionState::Collected { at }, _) => format!(
            "<p class=\"ok\">Collected on {}.</p>",
            local(state, Some(*at))
        ),
        (ReceptionState::Cancelled { reason, .. }, _) => {
            format!("<p class=\"error\">Cancelled: {}</p>", esc(reason))
        }
        (_, false) => "<p>Payment can be taken when the prints have arrived.</p>".to_string(),
        (_, true) => format!(
            "<form method=\"post\" action=\"/pickup/{}/collect\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <p>Check the slip against the reception number above, then take the payment and hand the prints over.</p>\
             <div class=\"grid\"><label>Method<select name=\"method\"><option>cash</option><option>card</option><option>e-money</option><option>qr</option></select></label>\
             <label>Tendered (cash; empty for exact)<input type=\"number\" name=\"tendered\" min=\"0\"></label></div>\
             <p><button class=\"go\">Paid and handed over</button></p></form>",
            esc(r.number.as_str()),
            esc(&staff.csrf(state))
        ),
    };
    let body = format!(
        "{}<p style=\"font-size:32px;font-weight:bold\">{} <small>(lab's number {})</small></p><p>{} · registration {} · received {}</p>\
         <table><tr><th>Image</th><th>Size</th><th>Prints</th></tr>{items}</table><h2>Charges</h2><table>{lab}{counter}</table>{due}{action}",
        error.map(error_box).unwrap_or_default(),
        esc(r.number.as_str()),
        esc(v.summary.lab_reception.as_deref().unwrap_or("-")),
        esc(&v.summary.customer_name),
        esc(&v.registration_number),
        local(state, Some(r.received_at)),
    );
    let status = error
        .map(|e| e.problem().status_code())
        .unwrap_or(StatusCode::OK);
    (
        status,
        page("Pickup and payment", Some(staff), state, &body),
    )
        .into_response()
}

#[derive(Deserialize)]
struct CollectForm {
    #[serde(default)]
    csrf: String,
    method: String,
    #[serde(default)]
    tendered: String,
}

async fn pickup_collect(
    State(state): State<AppState>,
    staff: PageStaff,
    Path(number): Path<String>,
    Form(f): Form<CollectForm>,
) -> Response {
    let result = async {
        staff.check_csrf(&state, &f.csrf)?;
        let tendered = match f.tendered.trim() {
            "" => None,
            t => Some(t.parse::<i64>().map_err(|_| {
                CounterError::Invalid(format!("tendered {t:?} is not a whole amount"))
            })?),
        };
        pickup::collect(
            &state.counter,
            &number,
            &PaymentInput {
                method: f.method.clone(),
                tendered,
            },
            &staff.0.user,
            state.counter.clock.now(),
        )
        .await
    }
    .await;
    match result {
        Ok(receipt) => page(
            "Paid and handed over",
            Some(&staff),
            &state,
            &format!(
                "<div class=\"ok\"><p class=\"due\">Change: {}</p><p>Reception {} · due {} (lab {} + counter {}) · {} tendered by {}</p></div><p><a class=\"go\" href=\"/pickup\">Next customer</a></p>",
                esc(&receipt.payment.change.to_string()),
                esc(&receipt.reception_number),
                esc(&receipt.amount_due.to_string()),
                esc(&receipt.lab_charge.to_string()),
                esc(&receipt.counter_charge.to_string()),
                esc(&receipt.payment.tendered.to_string()),
                esc(&receipt.payment.method)
            ),
        )
        .into_response(),
        Err(e) => match pickup::view(&state.counter, &number).await {
            Ok(v) => pickup_page(&state, &staff, &v, Some(&e)),
            Err(_) => error_page(&state, Some(&staff), &e),
        },
    }
}

// ---------- takings ----------

async fn takings_page(
    State(state): State<AppState>,
    staff: PageStaff,
    Query(q): Query<DateQuery>,
) -> Response {
    let result = async {
        let date = api::parse_date(&state, q.date.as_deref())?;
        takings::takings(&state.counter, date).await
    }
    .await;
    let t = match result {
        Ok(t) => t,
        Err(e) => return error_page(&state, Some(&staff), &e),
    };
    let methods: String = t
        .by_method
        .iter()
        .map(|m| {
            format!(
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&m.method),
                m.count,
                money(&state, m.total)
            )
        })
        .collect();
    let labs: String = t
        .by_lab
        .iter()
        .map(|l| {
            format!(
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&l.lab_name),
                money(&state, l.collected_today),
                money(&state, l.settled_today),
                money(&state, l.collected_total),
                money(&state, l.settled_total),
                money(&state, l.owed())
            )
        })
        .collect();
    let body = format!(
        "<form method=\"get\" action=\"/takings\" class=\"noprint\"><label>Day<input type=\"text\" name=\"date\" value=\"{}\" placeholder=\"YYYY-MM-DD\"></label><p><button class=\"go\">Show</button></p></form>\
         <p class=\"due\">{}: {} from {} collections</p><p>This counter's share {} · the labs' share {}</p>\
         <h2>By payment method</h2><table><tr><th>Method</th><th>Collections</th><th>Total</th></tr>{methods}</table>\
         <h2>Per lab</h2><table><tr><th>Lab</th><th>Collected that day</th><th>Settled that day</th><th>Collected in all</th><th>Settled in all</th><th>Owed</th></tr>{labs}</table>",
        t.date,
        t.date,
        money(&state, t.total),
        t.collections,
        money(&state, t.counter_share),
        money(&state, t.lab_share)
    );
    page("Takings", Some(&staff), &state, &body).into_response()
}

pub fn routes(state: AppState) -> Router {
    let upload_limit =
        usize::try_from(state.counter.config.uploads.max_request_bytes).unwrap_or(usize::MAX);
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route(
            "/intake",
            get(intake_page)
                .post(intake_submit)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/slip/{number}", get(slip))
        .route("/arrivals", get(arrivals))
        .route("/pickup", get(pickup_search))
        .route("/pickup/{number}", get(pickup_view))
        .route("/pickup/{number}/collect", post(pickup_collect))
        .route("/takings", get(takings_page))
        .with_state(state)
}
