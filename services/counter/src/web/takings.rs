//! The day's takings on the counter's calendar: by payment method and per lab.

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use maud::html;
use reprint_domain::Money;

use super::{Viewer, error_page, render, words};
use crate::AppState;
use crate::api::{self, DateQuery};
use crate::auth::PageStaff;
use crate::takings;

pub fn routes() -> Router<AppState> {
    Router::new().route("/takings", get(takings_page))
}

async fn takings_page(
    State(state): State<AppState>,
    viewer: Viewer,
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
        Err(e) => return error_page(&state, &viewer, Some(&staff), &e),
    };
    let currency = state.counter.rules().currency;
    let m = |minor: i64| viewer.money(Money::new(minor, currency));
    let title = viewer.t("counter-takings-title");
    let day = t.date.to_string();
    render(
        &state,
        &viewer,
        Some(&staff),
        &title,
        html! {
            h1 { (title) }
            form.scan method="get" action="/takings" {
                label for="date" { (viewer.t("counter-takings-day")) }
                input #date type="date" name="date" value=(day);
                button.go type="submit" { (viewer.t("counter-takings-show")) }
            }
            p.due #day-total { (m(t.total)) }
            p { (viewer.tw("counter-takings-summary", &[("count", t.collections.into()), ("counter", m(t.counter_share).into()), ("labs", m(t.lab_share).into())])) }
            div.cols {
                section {
                    h2 { (viewer.t("counter-takings-by-method")) }
                    div.scroll { table {
                        thead { tr { th scope="col" { (viewer.t("counter-takings-method")) } th.n scope="col" { (viewer.t("counter-takings-count")) } th.n scope="col" { (viewer.t("counter-takings-total")) } } }
                        tbody {
                            @for x in &t.by_method {
                                tr { td { (words::method(&viewer, &x.method)) } td.n { (x.count) } td.n { (m(x.total)) } }
                            }
                        }
                    } }
                }
                section {
                    h2 { (viewer.t("counter-takings-by-lab")) }
                    div.scroll { table {
                        thead { tr {
                            th scope="col" { (viewer.t("counter-col-lab")) }
                            th.n scope="col" { (viewer.t("counter-takings-collected")) }
                            th.n scope="col" { (viewer.t("counter-takings-settled")) }
                            th.n scope="col" { (viewer.t("counter-takings-owed")) }
                        } }
                        tbody {
                            @for l in &t.by_lab {
                                tr { td { (l.lab_name) } td.n { (m(l.collected_today)) } td.n { (m(l.settled_today)) } td.n { (m(l.owed())) } }
                            }
                        }
                    } }
                }
            }
        },
    )
}
