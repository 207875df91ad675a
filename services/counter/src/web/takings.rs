//! The day's takings on the counter's calendar, the day close and the statements to the labs
//! (issue 15): the day picked with a date picker (and previous / next day), the totals per
//! payment method, the till count (staff count the cash; the difference to the cash taken is
//! recorded and shown), the statements of the labs' share (sent / confirmed, each with its
//! orders) and the ledger with each lab (collected = settled + open statements + not yet on a
//! statement). JSON for the same: `GET/POST /api/v1/statements`, `POST /api/v1/till`.

use axum::Router;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{Form, Json, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use maud::html;
use reprint_domain::{Currency, Money};
use serde::{Deserialize, Serialize};

use super::{Viewer, error_page, render, words};
use crate::AppState;
use crate::api;
use crate::auth::{ApiStaff, PageStaff};
use crate::error::CounterError;
use crate::takings;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/takings", get(takings_page))
        .route("/takings/till", post(till_form))
        .route("/takings/statements", post(statements_form))
        .route("/api/v1/statements", get(statements_json).post(issue_json))
        .route("/api/v1/till", post(till_json))
}

/// Parses an amount typed by staff ("12000", "12,000", "12.50") into minor units of `currency`.
pub fn parse_amount(typed: &str, currency: Currency) -> Result<i64, CounterError> {
    let refuse = || CounterError::Invalid(format!("{typed:?} is not an amount of money"));
    let clean: String = typed
        .trim()
        .chars()
        .filter(|c| !matches!(c, ',' | ' ' | '¥' | '￥'))
        .collect();
    let digits = u32::from(currency.minor_digits());
    let (whole, frac) = clean.split_once('.').unwrap_or((&clean, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || frac.len() > digits as usize
        || whole.len() > 15
    {
        return Err(refuse());
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| refuse())?
    };
    let mut frac_minor: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| refuse())?
    };
    for _ in frac.len()..digits as usize {
        frac_minor *= 10;
    }
    whole
        .checked_mul(10_i64.pow(digits))
        .and_then(|w| w.checked_add(frac_minor))
        .ok_or_else(refuse)
}

#[derive(Deserialize)]
struct TillForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    counted: String,
}

#[derive(Deserialize)]
struct StatementsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    date: String,
}

async fn till_form(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    form: Result<Form<TillForm>, FormRejection>,
) -> Response {
    let result = async {
        let Ok(Form(f)) = form else {
            return Err(CounterError::Invalid("type the cash counted".into()));
        };
        staff.check_csrf(&state, &f.csrf)?;
        let date = api::parse_date(&state, Some(&f.date))?;
        let counted = parse_amount(&f.counted, state.counter.rules().currency)?;
        takings::count_till(
            &state.counter,
            date,
            counted,
            &staff.0.user,
            state.counter.clock.now(),
        )
        .await
    }
    .await;
    match result {
        Ok(r) => {
            Redirect::to(&format!("/takings?date={}&till=1#close", r.local_date)).into_response()
        }
        Err(e) => error_page(&state, &viewer, Some(&staff), &e),
    }
}

async fn statements_form(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    form: Result<Form<StatementsForm>, FormRejection>,
) -> Response {
    let result = async {
        let Ok(Form(f)) = form else {
            return Err(CounterError::Invalid("pick a day".into()));
        };
        staff.check_csrf(&state, &f.csrf)?;
        let date = api::parse_date(&state, Some(&f.date))?;
        let now = state.counter.clock.now();
        if date > takings::today(&state.counter, now) {
            return Err(CounterError::Invalid(format!(
                "{date} has not begun: a statement covers days up to today"
            )));
        }
        let ids = takings::issue_statements(&state.counter, date, now).await?;
        Ok((date, ids.len()))
    }
    .await;
    match result {
        Ok((date, n)) => {
            Redirect::to(&format!("/takings?date={date}&sent={n}#statements")).into_response()
        }
        Err(e) => error_page(&state, &viewer, Some(&staff), &e),
    }
}

#[derive(Deserialize)]
struct PageQuery {
    date: Option<String>,
    till: Option<u8>,
    sent: Option<usize>,
}

async fn takings_page(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    Query(q): Query<PageQuery>,
) -> Response {
    let result = async {
        let date = api::parse_date(&state, q.date.as_deref())?;
        let t = takings::takings(&state.counter, date).await?;
        let mut tx = state.counter.store.begin().await?;
        let cash = takings::cash_expected(&mut tx, &date.to_string()).await?;
        tx.commit().await?;
        let counts = takings::till_counts(&state.counter, date).await?;
        let statements = takings::statements(&state.counter, 30).await?;
        Ok::<_, CounterError>((t, cash, counts, statements))
    }
    .await;
    let (t, cash, counts, statements) = match result {
        Ok(x) => x,
        Err(e) => return error_page(&state, &viewer, Some(&staff), &e),
    };
    let currency = state.counter.rules().currency;
    let m = |minor: i64| viewer.money(Money::new(minor, currency));
    let title = viewer.t("counter-takings-title");
    let day = t.date.to_string();
    let today = takings::today(&state.counter, state.counter.clock.now());
    let prev = t.date.pred_opt().map(|d| d.to_string());
    let next = t
        .date
        .succ_opt()
        .filter(|d| *d <= today)
        .map(|d| d.to_string());
    let csrf = staff.csrf(&state);
    let latest = counts.first();
    render(
        &state,
        &viewer,
        Some(&staff),
        &title,
        html! {
            h1 { (title) }
            form.scan method="get" action="/takings" {
                label for="date" { (viewer.t("counter-takings-day")) }
                input #date type="date" name="date" value=(day) max=(today.to_string()) required;
                button.go type="submit" { (viewer.t("counter-takings-show")) }
            }
            p.daynav {
                @if let Some(p) = &prev { a.button.quiet href={ "/takings?date=" (p) } { "← " (viewer.t("money-prev-day")) } " " }
                @if t.date != today { a.button.quiet href="/takings" { (viewer.t("money-today")) } " " }
                @if let Some(n) = &next { a.button.quiet href={ "/takings?date=" (n) } { (viewer.t("money-next-day")) " →" } }
            }
            p.due #day-total { (m(t.total)) }
            p { (viewer.tw("counter-takings-summary", &[("count", t.collections.into()), ("counter", m(t.counter_share).into()), ("labs", m(t.lab_share).into())])) }
            div.cols {
                section {
                    h2 { (viewer.t("counter-takings-by-method")) }
                    div.scroll { table #by-method {
                        thead { tr { th scope="col" { (viewer.t("counter-takings-method")) } th.n scope="col" { (viewer.t("counter-takings-count")) } th.n scope="col" { (viewer.t("counter-takings-total")) } } }
                        tbody {
                            @for x in &t.by_method {
                                tr data-method=(x.method) { td { (words::method(&viewer, &x.method)) } td.n { (x.count) } td.n { (m(x.total)) } }
                            }
                        }
                    } }
                }
                section #close {
                    h2 { (viewer.t("money-close-title")) }
                    @if q.till.is_some() { p.ok role="status" { (viewer.t("money-till-recorded")) } }
                    p { (viewer.t("money-cash-expected")) ": " strong #cash-expected { (m(cash)) } }
                    @match latest {
                        Some(c) => {
                            p { (viewer.t("money-till-counted")) ": " strong #till-counted { (m(c.counted)) } }
                            @let diff = c.difference;
                            p #till-difference data-minor=(diff) class=(if diff == 0 { "ok" } else { "notice" }) {
                                (viewer.t("money-till-difference")) ": "
                                @if diff > 0 { (viewer.tw("money-till-over", &[("amount", m(diff).into())])) }
                                @else if diff < 0 { (viewer.tw("money-till-short", &[("amount", m(-diff).into())])) }
                                @else { (viewer.t("money-till-even")) }
                            }
                            p.small { (viewer.tw("money-till-by", &[("who", c.staff.clone().into()), ("at", time_of(&viewer, &c.at).into())])) }
                        }
                        None => { p { (viewer.t("money-till-none")) } }
                    }
                    form.scan method="post" action="/takings/till" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="date" value=(day);
                        label for="counted" { (viewer.t("money-till-count-label")) }
                        input #counted name="counted" inputmode="decimal" autocomplete="off" required;
                        button.go type="submit" { (viewer.t("money-till-record")) }
                    }
                }
            }
            section {
                h2 { (viewer.t("money-ledger-title")) }
                div #lab-ledger {
                    @for l in &t.by_lab {
                        div.scroll data-lab=(l.lab) { table {
                            caption { strong { (l.lab_name) } }
                            tbody {
                                tr { th scope="row" { (viewer.t("money-ledger-collected-day")) } td.n { (m(l.collected_today)) } }
                                tr { th scope="row" { (viewer.t("money-ledger-collected")) } td.n { (m(l.collected_total)) } }
                                tr { th scope="row" { (viewer.t("money-ledger-settled")) } td.n { (m(l.settled_total)) } }
                                tr { th scope="row" { (viewer.t("money-ledger-open")) } td.n { (m(l.open_statements)) } }
                                tr { th scope="row" { (viewer.t("money-ledger-not-stated")) } td.n { (m(l.not_stated)) } }
                                tr { th scope="row" { (viewer.t("money-ledger-balances")) } td.n { @if l.balances() { "✓" } @else { strong { (viewer.t("money-ledger-off")) } } } }
                            }
                        } }
                    }
                }
            }
            section #statements {
                h2 { (viewer.t("money-statements-title")) }
                p.small { (viewer.t("money-statements-explain")) }
                @if let Some(n) = q.sent { p.ok role="status" { (viewer.tw("money-statement-sent-count", &[("count", (n as i64).into())])) } }
                form method="post" action="/takings/statements" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="date" value=(day);
                    button.go type="submit" { (viewer.t("money-statement-send")) }
                }
                @if statements.is_empty() { p { (viewer.t("money-no-statements")) } }
                @for s in &statements {
                    details.statement data-statement=(s.row.statement_id) data-state=(s.row.state) open[s.row.state != "confirmed"] {
                        summary {
                            strong { (viewer.tw("money-statement-head", &[("lab", state.counter.lab_name(&s.row.lab).into()), ("through", s.row.through_date.clone().into())])) }
                            " · " (m(s.row.total))
                            " · " (viewer.tw("money-orders", &[("count", s.row.orders.into())]))
                            " · "
                            @if s.row.state == "confirmed" { (viewer.t("money-state-confirmed")) } @else { (viewer.t("money-state-sent")) }
                        }
                        @if let (Some(by), Some(at)) = (&s.row.confirmed_by, &s.row.confirmed_at) {
                            p.small { (viewer.tw("money-confirmed-by", &[("who", by.clone().into()), ("at", time_of(&viewer, at).into())])) }
                        }
                        div.scroll { table {
                            thead { tr {
                                th scope="col" { (viewer.t("money-col-reception")) }
                                th scope="col" { (viewer.t("money-collected-on")) }
                                th.n scope="col" { (viewer.t("money-amount")) }
                            } }
                            tbody { @for l in &s.lines { tr {
                                td { (l.reception_number) }
                                td { (l.collected_date) }
                                td.n { (m(l.amount)) }
                            } } }
                        } }
                    }
                }
            }
        },
    )
}

fn time_of(viewer: &Viewer, at: &str) -> String {
    reprint_eventstore::sql::parse_ts(at)
        .map(|t| viewer.time(t))
        .unwrap_or_else(|| at.to_string())
}

// ---------- JSON ----------

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatementLineDto {
    pub order: String,
    pub reception_number: String,
    pub lab_reception: String,
    pub collected_on: String,
    pub amount: i64,
}

/// A statement of the lab's share collected, as sent (`sent`) or confirmed by the lab
/// (`confirmed`); amounts in minor units.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatementDto {
    pub statement: String,
    pub lab: String,
    pub through: String,
    pub state: String,
    pub orders: i64,
    pub total: i64,
    pub currency: String,
    pub confirmed_by: Option<String>,
    pub lines: Vec<StatementLineDto>,
}

#[utoipa::path(get, path = "/api/v1/statements",
    responses((status = 200, body = Vec<StatementDto>, description = "the newest 100 statements")))]
pub(crate) async fn statements_json(State(state): State<AppState>, _staff: ApiStaff) -> Response {
    match takings::statements(&state.counter, 100).await {
        Ok(list) => Json(
            list.into_iter()
                .map(|s| StatementDto {
                    lines: s
                        .lines
                        .into_iter()
                        .map(|l| StatementLineDto {
                            order: l.order_id,
                            reception_number: l.reception_number,
                            lab_reception: l.lab_reception,
                            collected_on: l.collected_date,
                            amount: l.amount,
                        })
                        .collect(),
                    statement: s.row.statement_id,
                    lab: s.row.lab,
                    through: s.row.through_date,
                    state: s.row.state,
                    orders: s.row.orders,
                    total: s.row.total,
                    currency: s.row.currency,
                    confirmed_by: s.row.confirmed_by,
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct IssueRequest {
    /// The last day the statements cover (YYYY-MM-DD, not after today on the counter's
    /// calendar); today by default.
    #[schema(value_type = Option<String>, format = Date)]
    through: Option<String>,
}

/// The statements issued (none when nothing was collected that is on no statement).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IssuedDto {
    pub issued: Vec<String>,
}

/// Issues now the statements up to `through` (today by default): the day close's "send".
/// The body is optional: the terminal's day close sends none (the statements up to today),
/// as a lab's periodic statement is most often wanted. A body that is sent must be the
/// request's JSON (a malformed one is refused, never taken as "today").
#[utoipa::path(post, path = "/api/v1/statements", request_body = Option<IssueRequest>,
    responses((status = 200, body = IssuedDto), (status = 422, description = "not a date, or a day that has not begun")))]
pub(crate) async fn issue_json(
    State(state): State<AppState>,
    staff: ApiStaff,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let result = async {
        staff.check_csrf(&state, &headers)?;
        let req = issue_request(&body)?;
        let through = json_date(&state, req.through.as_deref())?;
        let now = state.counter.clock.now();
        if through > takings::today(&state.counter, now) {
            return Err(CounterError::Invalid(format!(
                "{through} has not begun: a statement covers days up to today"
            )));
        }
        takings::issue_statements(&state.counter, through, now).await
    }
    .await;
    match result {
        Ok(ids) => Json(IssuedDto {
            issued: ids.iter().map(|i| i.to_string()).collect(),
        })
        .into_response(),
        Err(e) => e.into_response(),
    }
}

/// A date of the JSON API as its document states it: absent for today, else exactly
/// YYYY-MM-DD (the pages' blank field, which [`api::parse_date`] also takes, is theirs).
fn json_date(state: &AppState, date: Option<&str>) -> Result<NaiveDate, CounterError> {
    match date {
        Some(d) if d.len() != 10 || d.trim() != d => Err(CounterError::Invalid(format!(
            "date {d:?} is not YYYY-MM-DD"
        ))),
        _ => api::parse_date(state, date),
    }
}

/// The optional body of [`issue_json`]: none (or only spaces) is "up to today"; anything else
/// must be an [`IssueRequest`].
fn issue_request(body: &[u8]) -> Result<IssueRequest, CounterError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(IssueRequest::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        CounterError::Invalid(format!(
            "send no body (statements up to today) or {{\"through\": \"YYYY-MM-DD\"}}: {e}"
        ))
    })
}

/// Staff's count of the till at the day close (minor units); the day is today by default.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TillRequest {
    /// The day counted (YYYY-MM-DD, not after today on the counter's calendar); today by
    /// default.
    #[schema(value_type = Option<String>, format = Date)]
    date: Option<String>,
    /// The cash in the till, in minor units (never negative).
    #[schema(minimum = 0)]
    counted: i64,
}

/// The till count recorded: the cash the day's payments should have left, the count and the
/// difference (positive: over, negative: short), in minor units.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TillDto {
    pub date: String,
    pub expected: i64,
    pub counted: i64,
    pub difference: i64,
}

#[utoipa::path(post, path = "/api/v1/till", request_body = TillRequest,
    responses((status = 200, body = TillDto), (status = 422, description = "no count, or not a date")))]
pub(crate) async fn till_json(
    State(state): State<AppState>,
    staff: ApiStaff,
    headers: HeaderMap,
    body: Result<Json<TillRequest>, JsonRejection>,
) -> Response {
    let result = async {
        staff.check_csrf(&state, &headers)?;
        let Ok(Json(req)) = body else {
            return Err(CounterError::Invalid(
                "send {\"counted\": <minor units>, \"date\": \"YYYY-MM-DD\"}".into(),
            ));
        };
        let date = json_date(&state, req.date.as_deref())?;
        takings::count_till(
            &state.counter,
            date,
            req.counted,
            &staff.0.user,
            state.counter.clock.now(),
        )
        .await
    }
    .await;
    match result {
        Ok(r) => Json(TillDto {
            date: r.local_date,
            expected: r.expected,
            counted: r.counted,
            difference: r.difference,
        })
        .into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_typed_by_staff() {
        let jpy = Currency::parse("JPY").unwrap();
        let eur = Currency::parse("EUR").unwrap();
        assert_eq!(parse_amount("12,000", jpy).unwrap(), 12_000);
        assert_eq!(parse_amount(" ¥950 ", jpy).unwrap(), 950);
        assert_eq!(parse_amount("12.5", eur).unwrap(), 1_250);
        assert_eq!(parse_amount("0.05", eur).unwrap(), 5);
        for bad in ["", "-3", "12.5", "abc", "1e3", "99999999999999999"] {
            assert!(parse_amount(bad, jpy).is_err(), "{bad:?}");
        }
        assert!(parse_amount("1.234", eur).is_err());
    }
}
