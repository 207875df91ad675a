//! The delivery counters' statements of the lab's share (issue 15): each statement received
//! with its orders, and a Confirm button; confirming pays and settles its orders and tells the
//! counter. Above them, per counter, the statements' ledger: stated = confirmed + open.
//! JSON for the same: `GET /api/v1/statements`, `POST /api/v1/statements/{id}/confirm`
//! (`X-CSRF-Token`).

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use reprint_service::problem::Json;
use serde::{Deserialize, Serialize};

use super::{Op, checked, error_page, money, render};
use crate::auth::{Operator, check_csrf};
use crate::error::LabResult;
use crate::settlement;
use crate::state::Lab;

pub fn routes() -> Router<Lab> {
    Router::new()
        .route("/statements", get(statements_page))
        .route("/statements/{id}/confirm", post(confirm))
        .route("/api/v1/statements", get(statements_json))
        .route("/api/v1/statements/{id}/confirm", post(confirm_json))
}

async fn statements_page(State(lab): State<Lab>, op: Op) -> Response {
    let loaded = async {
        Ok::<_, crate::error::LabError>((
            settlement::statements(&lab, 100).await?,
            settlement::statement_ledger(&lab).await?,
        ))
    }
    .await;
    let (list, ledgers) = match loaded {
        Ok(x) => x,
        Err(e) => return error_page(&lab, &op, e),
    };
    let title = op.t("money-lab-statements-title");
    let csrf = op.csrf_field(&lab);
    render(
        &lab,
        &op,
        &title,
        html! {
            h1 { (title) }
            @if !ledgers.is_empty() {
                div.scroll { table #statement-ledger {
                    thead { tr {
                        th scope="col" { (op.t("lab-col-counter")) }
                        th.n scope="col" { (op.t("money-lab-stated")) }
                        th.n scope="col" { (op.t("money-lab-confirmed")) }
                        th.n scope="col" { (op.t("money-lab-open")) }
                    } }
                    tbody { @for l in &ledgers { tr data-counter=(l.counter) {
                        td { (l.counter) }
                        td.n { (money(op.lang, &l.currency, l.ledger.charged)) }
                        td.n { (money(op.lang, &l.currency, l.ledger.confirmed)) }
                        td.n { (money(op.lang, &l.currency, l.ledger.open)) }
                    } } }
                } }
            }
            @if list.is_empty() { p { (op.t("money-lab-no-statements")) } }
            @for s in &list {
                @let lines = s.lines().unwrap_or_default();
                @let confirmed = s.state == "confirmed";
                section.area data-statement=(s.statement_id) data-state=(s.state) {
                    h2 { (reprint_ui::t_with(op.lang, "money-lab-statement-head", &[
                        ("counter", s.counter.clone().into()),
                        ("through", s.through_date.clone().into()),
                    ])) }
                    p {
                        strong.total { (money(op.lang, &s.currency, s.total_minor)) }
                        " · " (reprint_ui::t_with(op.lang, "money-orders", &[("count", s.orders.into())]))
                        " · " (op.t("money-lab-received")) " " (op.time_str(&s.received_at))
                    }
                    div.scroll { table {
                        thead { tr {
                            th scope="col" { (op.t("money-lab-reception")) }
                            th scope="col" { (op.t("money-collected-on")) }
                            th.n scope="col" { (op.t("money-amount")) }
                        } }
                        tbody { @for l in &lines { tr {
                            td { a href={ "/receptions/" (l.lab_reception) } { (l.lab_reception) } }
                            td { (l.collected_on.to_string()) }
                            td.n { (money(op.lang, &s.currency, l.amount.minor)) }
                        } } }
                    } }
                    @if confirmed {
                        p.state { (reprint_ui::t_with(op.lang, "money-confirmed-by", &[
                            ("who", s.confirmed_by.clone().unwrap_or_default().into()),
                            ("at", s.confirmed_at.as_deref().map(|t| op.time_str(t)).unwrap_or_default().into()),
                        ])) }
                    } @else {
                        form method="post" action={ "/statements/" (s.statement_id) "/confirm" } {
                            (csrf)
                            button.confirm type="submit" { (op.t("money-lab-confirm")) }
                        }
                    }
                }
            }
        },
    )
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: Option<String>,
}

async fn confirm(
    State(lab): State<Lab>,
    op: Op,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let token = form.ok().and_then(|Form(f)| f.csrf);
    if let Err(r) = checked(&lab, &op, token.as_deref()) {
        return *r;
    }
    match settlement::confirm_statement(&lab, id.trim(), &op.session.user).await {
        Ok(_) => Redirect::to("/statements").into_response(),
        Err(e) => error_page(&lab, &op, e),
    }
}

#[derive(Debug, Serialize)]
struct StatementJson {
    statement: String,
    counter: String,
    through: String,
    state: String,
    orders: i64,
    total: i64,
    currency: String,
    confirmed_by: Option<String>,
    lines: Vec<reprint_domain::statement::Line>,
}

fn json_of(s: settlement::StatementRow) -> StatementJson {
    StatementJson {
        lines: s.lines().unwrap_or_default(),
        statement: s.statement_id,
        counter: s.counter,
        through: s.through_date,
        state: s.state,
        orders: s.orders,
        total: s.total_minor,
        currency: s.currency,
        confirmed_by: s.confirmed_by,
    }
}

async fn statements_json(
    State(lab): State<Lab>,
    _op: Operator,
) -> LabResult<Json<Vec<StatementJson>>> {
    Ok(Json(
        settlement::statements(&lab, 100)
            .await?
            .into_iter()
            .map(json_of)
            .collect(),
    ))
}

async fn confirm_json(
    State(lab): State<Lab>,
    Operator(s): Operator,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> LabResult<Json<StatementJson>> {
    let token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    check_csrf(&lab, &s, token)?;
    let row = settlement::confirm_statement(&lab, id.trim(), &s.user).await?;
    Ok(Json(json_of(row)))
}
