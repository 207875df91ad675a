//! Dispatch per delivery counter: the printed receptions of each counter, one action that
//! dispatches them all, and the packing list that goes into the parcel (lab and counter
//! reception numbers, customer, prints, amount, and a QR code of the list for the counter's
//! check-in), one A4 page when printed.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use super::queue::{Entry, entries};
use super::{Op, checked, error_page, money, render};
use crate::db;
use crate::error::{LabError, LabResult};
use crate::state::Lab;

pub fn routes() -> Router<Lab> {
    Router::new()
        .route("/dispatch", get(dispatch_page))
        .route("/dispatch/{counter}", post(dispatch_counter))
        .route("/packing-list", get(packing_list))
}

async fn dispatch_page(State(lab): State<Lab>, op: Op) -> Response {
    let all = match entries(&lab).await {
        Ok(e) => e,
        Err(e) => return error_page(&lab, &op, e),
    };
    let mut per_counter: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for e in all.iter().filter(|e| e.row.state == "printed") {
        per_counter
            .entry(e.row.counter.as_str())
            .or_default()
            .push(e);
    }
    let title = op.t("lab-dispatch-title");
    let csrf = op.csrf_field(&lab);
    render(
        &lab,
        &op,
        &title,
        html! {
            h1 { (title) }
            @if per_counter.is_empty() { p { (op.t("lab-dispatch-nothing")) } }
            @for (counter, list) in &per_counter {
                section data-counter=(counter) {
                    h2 { (counter) }
                    (list_table(&op, list, false))
                    form method="post" action={ "/dispatch/" (counter) } {
                        (csrf)
                        @for e in list { input type="hidden" name="r" value=(e.row.reception_number); }
                        button { (reprint_ui::t_with(op.lang, "lab-dispatch-all", &[
                            ("count", (list.len() as i64).into()),
                            ("counter", counter.to_string().into()),
                        ])) }
                    }
                }
            }
        },
    )
}

fn list_table(op: &Op, list: &[&Entry], codes: bool) -> Markup {
    let prints: i64 = list.iter().map(|e| e.row.prints).sum();
    let amount: i64 = list.iter().map(|e| e.row.charge_minor).sum();
    let currency = list
        .first()
        .map(|e| e.row.currency.clone())
        .unwrap_or_default();
    html! {
        div.scroll { table {
            thead { tr {
                th scope="col" { (op.t("lab-col-reception")) }
                th scope="col" { (op.t("lab-counter-slip")) }
                th scope="col" { (op.t("lab-name")) }
                th scope="col" { (op.t("lab-col-prints")) }
                th scope="col" { (op.t("lab-col-amount")) }
                @if codes { th scope="col" { (op.t("lab-scan-code")) } }
            } }
            tbody { @for e in list { tr data-reception=(e.row.reception_number) {
                td { (e.row.reception_number) }
                td { (e.counter_reception().unwrap_or_default()) }
                td { (e.customer()) }
                td { (e.row.prints) }
                td { (money(op.lang, &e.row.currency, e.row.charge_minor)) }
                @if codes { td.code { (PreEscaped(qr_svg(&e.row.reception_number, 56))) } }
            } } }
            tfoot { tr {
                th scope="row" colspan="3" { (op.t("lab-total")) }
                th { (prints) }
                th { (money(op.lang, &currency, amount)) }
                @if codes { td {} }
            } }
        } }
    }
}

/// `POST /dispatch/{counter}` (`csrf=..&r=B0000001&r=B0000002`): dispatches the listed
/// printed receptions of `counter`, then shows their packing list.
async fn dispatch_counter(
    State(lab): State<Lab>,
    op: Op,
    Path(counter): Path<String>,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let pairs = match form {
        Ok(Form(p)) => p,
        Err(e) => return error_page(&lab, &op, LabError::BadRequest(e.body_text())),
    };
    let token = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    if let Err(r) = checked(&lab, &op, token) {
        return *r;
    }
    let wanted: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "r")
        .map(|(_, v)| v.trim().to_ascii_uppercase())
        .filter(|v| !v.is_empty() && v.len() <= 40)
        .take(500)
        .collect();
    if wanted.is_empty() {
        return error_page(
            &lab,
            &op,
            LabError::BadRequest("no reception to dispatch".into()),
        );
    }
    let mut done = Vec::new();
    for n in &wanted {
        let row = match lab.store.begin().await {
            Ok(mut tx) => {
                let row = db::production_by_reception(&mut tx, n).await.ok().flatten();
                let _ = tx.commit().await;
                row
            }
            Err(e) => return error_page(&lab, &op, e.into()),
        };
        if row.is_none_or(|r| r.counter != counter) {
            continue;
        }
        match crate::production::dispatch(&lab, n, &format!("operator {}", op.session.user)).await {
            Ok(_) => done.push(n.clone()),
            Err(e) => tracing::warn!(reception = %n, error = %e, "dispatch from the list"),
        }
    }
    if done.is_empty() {
        return error_page(
            &lab,
            &op,
            LabError::Conflict("nothing of this list could be dispatched".into()),
        );
    }
    Redirect::to(&format!(
        "/packing-list?counter={}&r={}",
        super::queue::urlencode(&counter),
        done.join(",")
    ))
    .into_response()
}

#[derive(Deserialize)]
struct ListQuery {
    counter: String,
    #[serde(default)]
    r: String,
}

/// The packing list of receptions `r` (comma separated) for `counter`.
async fn packing_list(
    State(lab): State<Lab>,
    op: Op,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return error_page(&lab, &op, LabError::BadRequest("give counter and r".into()));
    };
    match list_entries(&lab, &q.counter, &q.r).await {
        Ok(list) => {
            let refs: Vec<&Entry> = list.iter().collect();
            let title = reprint_ui::t_with(
                op.lang,
                "lab-packing-title",
                &[("counter", q.counter.clone().into())],
            );
            let code = reprint_domain::parcel::PackingCode {
                lab: lab.site().to_string(),
                counter: q.counter.clone(),
                receptions: list
                    .iter()
                    .map(|e| e.row.reception_number.clone())
                    .collect(),
            }
            .to_string();
            let qr = qr_svg(&code, 160);
            render(
                &lab,
                &op,
                &title,
                html! {
                    h1 { (title) }
                    p {
                        (lab.config.site.name) " → " (q.counter) " · " (op.time(lab.clock.now()))
                    }
                    (list_table(&op, &refs, true))
                    figure.packing-code {
                        (PreEscaped(qr))
                        figcaption { small { (code) } }
                    }
                    p.noprint.actions {
                        button type="button" onclick="window.print()" { (op.t("lab-print-list")) }
                        a.button.quiet href="/dispatch" { (op.t("lab-nav-dispatch")) }
                    }
                },
            )
        }
        Err(e) => error_page(&lab, &op, e),
    }
}

/// A QR code of `text` as SVG markup, at least `side` px square (empty if it cannot be made:
/// the page still lists the numbers in words).
fn qr_svg(text: &str, side: u32) -> String {
    qrcode::QrCode::new(text.as_bytes())
        .map(|c| {
            c.render::<qrcode::render::svg::Color>()
                .min_dimensions(side, side)
                .build()
        })
        .unwrap_or_default()
}

async fn list_entries(lab: &Lab, counter: &str, r: &str) -> LabResult<Vec<Entry>> {
    let mut tx = lab.store.begin().await?;
    let mut out = Vec::new();
    for n in r
        .split(',')
        .map(|n| n.trim().to_ascii_uppercase())
        .filter(|n| !n.is_empty())
        .take(500)
    {
        if let Some(row) = db::production_by_reception(&mut tx, &n).await?
            && row.counter == counter
        {
            let lines = db::queue_of(&mut tx, &row.order_id).await?;
            out.push(Entry {
                order: serde_json::from_str(&row.order_json).ok(),
                lines: lines
                    .into_iter()
                    .map(|l| db::QueueLine {
                        order_id: row.order_id.clone(),
                        size: l.size,
                        printer: l.printer,
                        prints: l.prints,
                    })
                    .collect(),
                row,
            });
        }
    }
    tx.commit().await?;
    if out.is_empty() {
        return Err(LabError::NotFound(format!(
            "no reception of {counter} in this list"
        )));
    }
    Ok(out)
}
