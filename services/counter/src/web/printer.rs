//! The counter's own printer (`crate::own_printer`): the internet orders received as print data,
//! each with when its data came in (items (4) and (5) of Figs. 8/9) and where it stands ("received
//! as data at 10:02-10:03, printing"), and a button for staff when the prints are out and the
//! station writes no done-marker. The list updates by itself (the page reloads every few
//! seconds while something is on its way).

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;

use super::{Viewer, error_page, render_with};
use crate::AppState;
use crate::auth::PageStaff;
use crate::own_printer::{self, PrintRow};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/printer", get(page))
        .route("/printer/{order}/printed", post(printed))
}

#[derive(serde::Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// "10:02-10:03" on the counter's clock, when the data is in.
fn data_times(viewer: &Viewer, row: &PrintRow) -> Option<String> {
    let parse = |t: &Option<String>| t.as_deref().and_then(reprint_eventstore::sql::parse_ts);
    let (start, finish) = (parse(&row.data_start)?, parse(&row.data_finish)?);
    let hm =
        |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&viewer.tz).format("%H:%M").to_string();
    Some(format!("{}-{}", hm(start), hm(finish)))
}

/// Where the order stands, in the reader's words.
fn state_words(viewer: &Viewer, row: &PrintRow) -> String {
    let times = data_times(viewer, row);
    let with = |key: &str| match &times {
        Some(t) => viewer.tw(key, &[("times", t.clone().into())]),
        None => viewer.t("printer-receiving"),
    };
    match row.state.as_str() {
        "receiving" => viewer.t("printer-receiving"),
        "received" | "printing" => with("printer-printing"),
        "ready" => with("printer-ready"),
        _ => match &times {
            Some(t) => viewer.tw(
                "printer-failed",
                &[
                    ("times", t.clone().into()),
                    ("reason", row.note.clone().into()),
                ],
            ),
            None => viewer.tw(
                "printer-failed",
                &[("times", "-".into()), ("reason", row.note.clone().into())],
            ),
        },
    }
}

async fn page(State(state): State<AppState>, viewer: Viewer, staff: PageStaff) -> Response {
    let c = &state.counter;
    let rows = match own_printer::list(c, 200).await {
        Ok(r) => r,
        Err(e) => return error_page(&state, &viewer, Some(&staff), &e),
    };
    let moving = rows
        .iter()
        .any(|r| matches!(r.state.as_str(), "receiving" | "received" | "printing"));
    let csrf = staff.csrf(&state);
    let printer = c.config.printer.as_ref().map(|p| p.name.clone());
    let head = moving.then(|| html! { meta http-equiv="refresh" content="5"; });
    let content = html! {
        h1 { (viewer.t("printer-title")) }
        @match &printer {
            Some(name) => p { (viewer.tw("printer-intro", &[("printer", name.clone().into())])) },
            None => p { (viewer.t("printer-none")) },
        }
        @if rows.is_empty() {
            p { (viewer.t("printer-empty")) }
        } @else {
            div style="overflow-x:auto" {
                table {
                    thead { tr {
                        th { (viewer.t("printer-col-reception")) }
                        th { (viewer.t("printer-col-customer")) }
                        th { (viewer.t("printer-col-lab")) }
                        th { (viewer.t("printer-col-state")) }
                        th {}
                    } }
                    tbody {
                        @for r in &rows {
                            tr data-order=(r.order_id) data-state=(r.state) {
                                td { (r.reception_number.clone().unwrap_or_default()) }
                                td { (r.customer_name) }
                                td { (c.lab_name(&r.lab)) " " (r.lab_reception) }
                                td { (state_words(&viewer, r)) }
                                td {
                                    @if r.state == "printing" {
                                        form method="post" action={ "/printer/" (r.order_id) "/printed" } style="margin:0" {
                                            input type="hidden" name="csrf" value=(csrf);
                                            button style="min-height:44px;min-width:44px" { (viewer.t("printer-out")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    render_with(
        &state,
        &viewer,
        Some(&staff),
        &viewer.t("printer-title"),
        head,
        content,
    )
}

async fn printed(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    Path(order): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let token = form.map(|Form(f)| f.csrf).unwrap_or_default();
    let result = async {
        staff.check_csrf(&state, &token)?;
        own_printer::make_ready(&state.counter, &order, &format!("staff {}", staff.0.user)).await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/printer").into_response(),
        Err(e) => error_page(&state, &viewer, Some(&staff), &e),
    }
}
