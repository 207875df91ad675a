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
pub use crate::api::SearchHit as Found;
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

/// Receptions found by `q`: the API's search ([`crate::api::search`]); a search too long
/// finds nothing here.
pub async fn find(lab: &Lab, q: &str) -> LabResult<Vec<Found>> {
    if q.trim().chars().count() > crate::api::SEARCH_MAX_CHARS {
        return Ok(vec![]);
    }
    crate::api::search(lab, q).await
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
        && (one.production.reception_number == upper
            || one.counter_reception.as_deref() == Some(upper.as_str()))
    {
        return Redirect::to(&format!("/receptions/{}", one.production.reception_number))
            .into_response();
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
                    tbody { @for f in &found { tr data-reception=(f.production.reception_number) {
                        td { a href={ "/receptions/" (f.production.reception_number) } { (f.production.reception_number) } }
                        td { (f.counter_reception.clone().unwrap_or_default()) }
                        td { (f.customer) }
                        td { (f.production.registration_number) }
                        td { (route_words(op.lang, &f.production.route)) }
                        td { (f.production.counter) }
                        td { (money(op.lang, &f.production.currency, f.production.charge_minor)) }
                        td { (op.time_str(&f.production.received_at)) }
                        td { (state_words(op.lang, &f.production.state)) }
                    } } }
                } }
            }
        },
    )
}
