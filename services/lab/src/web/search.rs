//! The search: by either site's reception number (this lab's `B0000001`, or the counter's slip
//! number `X0000003` of an order a counter sent), telephone, name or registration number. The
//! field has the focus, so a barcode scanner (a keyboard that types the number and Enter)
//! works in it; one reception found by its number opens it.

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::html;
use serde::Deserialize;

use super::{Op, error_page, money, render, route_words, state_words};
use crate::db::{self, ProductionRow};
use crate::error::LabResult;
use crate::state::Lab;

pub fn routes() -> Router<Lab> {
    Router::new().route("/search", get(search_page))
}

#[derive(Debug, Default, Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// A reception found, and whether it was found by one of its reception numbers.
pub struct Found {
    pub row: ProductionRow,
    pub customer: String,
    pub counter_reception: Option<String>,
}

/// Receptions found by `q`: the API's search (this lab's reception number, registration
/// number, telephone), else the counter's reception number or the customer's name.
pub async fn find(lab: &Lab, q: &str) -> LabResult<Vec<Found>> {
    let q = q.trim();
    if q.is_empty() || q.chars().count() > 100 {
        return Ok(vec![]);
    }
    let mut rows = crate::api::search(lab, q).await?;
    if rows.is_empty() {
        let mut tx = lab.store.begin().await?;
        let candidates = db::production_mentioning(&mut tx, q, 200).await?;
        tx.commit().await?;
        let lower = q.to_lowercase();
        rows = candidates
            .into_iter()
            .filter(|r| {
                let Ok(o) =
                    serde_json::from_str::<reprint_domain::protocol::OrderPlaced>(&r.order_json)
                else {
                    return false;
                };
                o.counter_extract
                    .as_ref()
                    .is_some_and(|e| e.reception.number.as_str().eq_ignore_ascii_case(q))
                    || o.customer.name.to_lowercase().contains(&lower)
            })
            .collect();
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let order: Option<reprint_domain::protocol::OrderPlaced> =
                serde_json::from_str(&row.order_json).ok();
            Found {
                customer: order
                    .as_ref()
                    .map(|o| o.customer.name.clone())
                    .unwrap_or_default(),
                counter_reception: order
                    .as_ref()
                    .and_then(|o| o.counter_extract.as_ref())
                    .map(|e| e.reception.number.as_str().to_string()),
                row,
            }
        })
        .collect())
}

async fn search_page(
    State(lab): State<Lab>,
    op: Op,
    query: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q.q).unwrap_or_default();
    let found = match find(&lab, &q).await {
        Ok(f) => f,
        Err(e) => return error_page(&lab, &op, e),
    };
    let upper = q.trim().to_ascii_uppercase();
    if let [one] = found.as_slice()
        && (one.row.reception_number == upper
            || one.counter_reception.as_deref() == Some(upper.as_str()))
    {
        return Redirect::to(&format!("/receptions/{}", one.row.reception_number)).into_response();
    }
    let title = op.t("lab-search-title");
    render(
        &lab,
        &op,
        &title,
        html! {
            h1 { (title) }
            form.bar method="get" action="/search" role="search" {
                label for="q" { (op.t("lab-search-label"))
                    input #q type="search" name="q" value=(q) autofocus autocomplete="off"
                        placeholder=(op.t("lab-search-placeholder"));
                }
                button { (op.t("lab-search-button")) }
            }
            @if !q.trim().is_empty() {
                p role="status" { (reprint_ui::t_with(op.lang, "lab-search-found", &[("count", (found.len() as i64).into()), ("q", q.trim().to_string().into())])) }
            }
            @if !found.is_empty() {
                div.scroll { table {
                    thead { tr {
                        th scope="col" { (op.t("lab-col-reception")) }
                        th scope="col" { (op.t("lab-counter-slip")) }
                        th scope="col" { (op.t("lab-name")) }
                        th scope="col" { (op.t("lab-registration-number")) }
                        th scope="col" { (op.t("lab-col-route")) }
                        th scope="col" { (op.t("lab-col-counter")) }
                        th scope="col" { (op.t("lab-col-amount")) }
                        th scope="col" { (op.t("lab-col-received")) }
                        th scope="col" { (op.t("lab-col-state")) }
                    } }
                    tbody { @for f in &found { tr data-reception=(f.row.reception_number) {
                        td { a href={ "/receptions/" (f.row.reception_number) } { (f.row.reception_number) } }
                        td { (f.counter_reception.clone().unwrap_or_default()) }
                        td { (f.customer) }
                        td { (f.row.registration_number) }
                        td { (route_words(op.lang, &f.row.route)) }
                        td { (f.row.counter) }
                        td { (money(op.lang, &f.row.currency, f.row.charge_minor)) }
                        td { (op.time_str(&f.row.received_at)) }
                        td { (state_words(op.lang, &f.row.state)) }
                    } } }
                } }
            }
        },
    )
}
