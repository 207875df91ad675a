//! The counter's own printer (`crate::own_printer`): the internet orders received as print data,
//! each with when its data came in (items (4) and (5) of Figs. 8/9) and where it stands ("received
//! as data at 10:02-10:03, printing"), and a button for staff when the prints are out and the
//! station writes no done-marker. The list updates by itself (the page asks for it again every
//! few seconds, `/printer/live`, as the arrivals do: never a timed reload).

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};

use super::{Viewer, error_page, render_with};
use crate::AppState;
use crate::auth::PageStaff;
use crate::own_printer::{self, PrintRow};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/printer", get(page))
        .route("/printer/live", get(live))
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

/// The orders received as print data, newest first: the page's list, and its refresh.
fn list_markup(state: &AppState, viewer: &Viewer, staff: &PageStaff, rows: &[PrintRow]) -> Markup {
    let c = &state.counter;
    let csrf = staff.csrf(state);
    html! {
        @if rows.is_empty() {
            p { (viewer.t("printer-empty")) }
        } @else {
            ul.printed {
                @for r in rows {
                    li data-order=(r.order_id) data-state=(r.state) {
                        div.who {
                            strong { (r.reception_number.clone().unwrap_or_default()) }
                            " " (r.customer_name)
                        }
                        div.muted { (c.lab_name(&r.lab)) " " (r.lab_reception) }
                        div.state { (state_words(viewer, r)) }
                        @if r.state == "printing" {
                            form method="post" action={ "/printer/" (r.order_id) "/printed" } {
                                input type="hidden" name="csrf" value=(csrf);
                                button.go type="submit" { (viewer.t("printer-out")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Each order a card of its own (reception and customer, lab, where it stands, the button),
/// so nothing is cut off on the terminal or a phone.
const STYLE: &str = "ul.printed{list-style:none;margin:0;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:8px}\
ul.printed li{border:1px solid #c8ccd2;border-radius:8px;padding:8px 10px;display:grid;gap:4px;overflow-wrap:anywhere}\
ul.printed form{margin:4px 0 0}ul.printed button{min-height:44px;width:100%}";

async fn page(State(state): State<AppState>, viewer: Viewer, staff: PageStaff) -> Response {
    let c = &state.counter;
    let rows = match own_printer::list(c, 200).await {
        Ok(r) => r,
        Err(e) => return error_page(&state, &viewer, Some(&staff), &e),
    };
    let printer = c.config.printer.as_ref().map(|p| p.name.clone());
    let inner = list_markup(&state, &viewer, &staff, &rows).into_string();
    let head = html! {
        style { (maud::PreEscaped(STYLE)) }
        (super::arrivals::live_script("/printer/live"))
    };
    let content = html! {
        h1 { (viewer.t("printer-title")) }
        @match &printer {
            Some(name) => p { (viewer.tw("printer-intro", &[("printer", name.clone().into())])) },
            None => p { (viewer.t("printer-none")) },
        }
        p #live-state .notice role="status" hidden { (viewer.t("counter-arrivals-stale")) }
        div #lists aria-live="polite" data-html=(inner) { (maud::PreEscaped(&inner)) }
    };
    render_with(
        &state,
        &viewer,
        Some(&staff),
        &viewer.t("printer-title"),
        Some(head),
        content,
    )
}

/// The list alone, for the page's refresh.
async fn live(State(state): State<AppState>, viewer: Viewer, staff: PageStaff) -> Response {
    match own_printer::list(&state.counter, 200).await {
        Ok(rows) => (
            [(header::CACHE_CONTROL, "no-store")],
            Html(list_markup(&state, &viewer, &staff, &rows).into_string()),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
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
