//! Arrivals: notices (an order the lab did not accept, an order cancelled) in plain words that
//! staff dismiss, the orders ready for pickup and those still at a lab. The lists update by
//! themselves: the page asks for them again every few seconds (`/arrivals/live`, the same
//! markup) and replaces them when they changed.

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, PreEscaped, html};
use reprint_domain::counter_order::CounterOrderState;

use super::{Viewer, error_page, problem_box, render_with, with_status, words};
use crate::AppState;
use crate::auth::PageStaff;
use crate::error::CounterError;
use crate::pickup::{self, OrderSummary};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/arrivals", get(arrivals))
        .route("/arrivals/live", get(live))
        .route("/arrivals/check-in", post(check_in))
        .route("/arrivals/{number}/dismiss", post(dismiss))
}

/// How often the page asks for its lists again.
const POLL_MS: u32 = 4000;

const SCRIPT: &str = r#"
(function () {
  var busy = false;
  function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    fetch('LIVE_URL', {credentials: 'same-origin', cache: 'no-store'})
      .then(function (r) { if (!r.ok) throw r.status; return r.text(); })
      .then(function (html) {
        var lists = document.getElementById('lists');
        if (lists && lists.dataset.html !== html) {
          lists.innerHTML = html;
          lists.dataset.html = html;
        }
        var s = document.getElementById('live-state');
        if (s) s.hidden = true;
      })
      .catch(function () { var s = document.getElementById('live-state'); if (s) s.hidden = false; })
      .finally(function () { busy = false; });
  }
  setInterval(refresh, POLL_MS);
  document.addEventListener('visibilitychange', refresh);
})();
"#;

/// The script that refreshes `#lists` from `url` (a fragment of the page) every few seconds,
/// showing `#live-state` while the counter's server cannot be reached. A page that updates
/// itself this way, never by reloading (a timed refresh fails WCAG 2.2.1, and loses what staff
/// were doing).
pub(super) fn live_script(url: &str) -> Markup {
    html! { script { (PreEscaped(SCRIPT.replace("POLL_MS", &POLL_MS.to_string()).replace("LIVE_URL", url))) } }
}

struct Lists {
    notices: Vec<OrderSummary>,
    ready: Vec<OrderSummary>,
    awaiting: Vec<OrderSummary>,
}

async fn lists(state: &AppState) -> Result<Lists, CounterError> {
    let c = &state.counter;
    Ok(Lists {
        notices: pickup::notices(c, 100).await?,
        ready: pickup::orders_in(c, &[CounterOrderState::ReadyForPickup], 500).await?,
        awaiting: pickup::orders_in(c, &CounterOrderState::AWAITING, 500).await?,
    })
}

/// A notice in plain words: who did not accept the order and why, or why it was cancelled.
fn notice_words(viewer: &Viewer, state: &AppState, o: &OrderSummary) -> String {
    let lab = state.counter.lab_name(&o.lab);
    let said = o.notice.clone().unwrap_or_default();
    let reason = words::withdrawn_reason(viewer, &said);
    match CounterOrderState::parse(&o.state) {
        Some(CounterOrderState::Rejected) => viewer.tw(
            "counter-notice-rejected",
            &[("lab", lab.into()), ("reason", reason.into())],
        ),
        Some(CounterOrderState::Cancelled) => {
            viewer.tw("counter-notice-cancelled", &[("reason", reason.into())])
        }
        _ => said,
    }
}

fn lists_markup(state: &AppState, viewer: &Viewer, staff: &PageStaff, l: &Lists) -> Markup {
    let csrf = staff.csrf(state);
    html! {
        section #notices aria-labelledby="h-notices" {
            h2 #h-notices { (viewer.t("counter-arrivals-notices")) " (" (l.notices.len()) ")" }
            @if l.notices.is_empty() {
                p.muted { (viewer.t("counter-arrivals-no-notices")) }
            }
            @for o in &l.notices {
                div.notice.row style="justify-content:space-between" {
                    div style="flex:1;min-width:0" {
                        a href={ "/pickup/" (o.reception_number) } { strong { (o.reception_number) } }
                        " · " (o.customer_name) br;
                        (notice_words(viewer, state, o))
                    }
                    form method="post" action={ "/arrivals/" (o.reception_number) "/dismiss" } style="margin:0" {
                        input type="hidden" name="csrf" value=(csrf);
                        button.quiet type="submit" aria-label=(viewer.tw("counter-arrivals-dismiss-label", &[("number", o.reception_number.clone().into())])) {
                            (viewer.t("counter-arrivals-dismiss"))
                        }
                    }
                }
            }
        }
        section #ready aria-labelledby="h-ready" {
            h2 #h-ready { (viewer.t("counter-arrivals-ready")) " (" (l.ready.len()) ")" }
            (table(state, viewer, &l.ready, "counter-arrivals-no-ready", |o| o.arrived_at))
        }
        section #awaiting aria-labelledby="h-awaiting" {
            h2 #h-awaiting { (viewer.t("counter-arrivals-awaiting")) " (" (l.awaiting.len()) ")" }
            (table(state, viewer, &l.awaiting, "counter-arrivals-no-awaiting", |o| o.expected_ready))
        }
    }
}

fn table(
    state: &AppState,
    viewer: &Viewer,
    orders: &[OrderSummary],
    empty: &str,
    when: impl Fn(&OrderSummary) -> Option<chrono::DateTime<chrono::Utc>>,
) -> Markup {
    html! {
        @if orders.is_empty() {
            p.muted { (viewer.t(empty)) }
        } @else {
            div.scroll {
                table {
                    thead { tr {
                        th scope="col" { (viewer.t("counter-col-reception")) }
                        th scope="col" { (viewer.t("counter-col-customer")) }
                        th scope="col" { (viewer.t("counter-col-lab")) }
                        th scope="col" { (viewer.t("counter-col-lab-number")) }
                        th scope="col" { (viewer.t("counter-col-state")) }
                        th scope="col" { (viewer.t("counter-col-when")) }
                    } }
                    tbody {
                        @for o in orders {
                            tr {
                                td { a href={ "/pickup/" (o.reception_number) } { (o.reception_number) } }
                                td { (o.customer_name) }
                                td { (state.counter.lab_name(&o.lab)) }
                                td { (o.lab_reception.as_deref().unwrap_or("–")) }
                                td { (words::state(viewer, &o.state)) }
                                td { (when(o).map(|t| viewer.time(t)).unwrap_or_else(|| "–".into())) }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct ArrivalsQuery {
    /// The reception a check-in just made ready.
    #[serde(default)]
    checked: Option<String>,
    /// How many orders a packing list's scan just made ready.
    #[serde(default)]
    parcel: Option<usize>,
}

async fn arrivals(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    Query(q): Query<ArrivalsQuery>,
) -> Response {
    let said = match q.checked {
        Some(number) => match pickup::view(&state.counter, &number).await {
            Ok(v) => Some(html! {
                p.ok role="status" #checked-in {
                    (viewer.tw("counter-check-in-done", &[("number", number.clone().into()), ("name", v.summary.customer_name.clone().into())]))
                }
            }),
            Err(_) => None,
        },
        None => q.parcel.map(|count| {
            html! {
                p.ok role="status" #checked-in {
                    (viewer.tw("counter-check-in-parcel-done", &[("count", count.into())]))
                }
            }
        }),
    };
    arrivals_page(&state, &viewer, &staff, said, StatusCode::OK).await
}

async fn arrivals_page(
    state: &AppState,
    viewer: &Viewer,
    staff: &PageStaff,
    said: Option<Markup>,
    status: StatusCode,
) -> Response {
    let l = match lists(state).await {
        Ok(l) => l,
        Err(e) => return error_page(state, viewer, Some(staff), &e),
    };
    let title = viewer.t("counter-arrivals-title");
    let inner = lists_markup(state, viewer, staff, &l).into_string();
    let check_in = state.counter.config.check_in_parcels;
    let page = render_with(
        state,
        viewer,
        Some(staff),
        &title,
        Some(live_script("/arrivals/live")),
        html! {
            h1 { (title) }
            @if let Some(said) = said { (said) }
            @if check_in {
                form.scan method="post" action="/arrivals/check-in" style="margin-bottom:10px" {
                    input type="hidden" name="csrf" value=(staff.csrf(state));
                    label for="label" { (viewer.t("counter-check-in-label")) }
                    input #label type="search" name="label" autofocus autocomplete="off" enterkeyhint="done";
                    button.go type="submit" { (viewer.t("counter-check-in")) }
                }
            }
            p #live-state .notice role="status" hidden { (viewer.t("counter-arrivals-stale")) }
            div #lists .lists aria-live="polite" data-html=(inner) { (PreEscaped(&inner)) }
        },
    );
    with_status(status, page)
}

#[derive(serde::Deserialize)]
struct CheckInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    label: String,
}

/// A parcel scanned on arrival: its order is ready for pickup.
async fn check_in(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    form: Result<Form<CheckInForm>, FormRejection>,
) -> Response {
    let result = async {
        let Ok(Form(f)) = form else {
            return Err(CounterError::Invalid("scan the parcel's label".into()));
        };
        staff.check_csrf(&state, &f.csrf)?;
        pickup::check_in_scan(&state.counter, &f.label, state.counter.clock.now()).await
    }
    .await;
    match result {
        Ok(done) => match done.as_slice() {
            [one] => Redirect::to(&format!("/arrivals?checked={}", one.order.reception_number))
                .into_response(),
            many => Redirect::to(&format!("/arrivals?parcel={}", many.len())).into_response(),
        },
        Err(e) => {
            let status = e.problem().status_code();
            arrivals_page(
                &state,
                &viewer,
                &staff,
                Some(problem_box(&viewer, &e)),
                status,
            )
            .await
        }
    }
}

/// The lists alone, for the page's refresh.
async fn live(State(state): State<AppState>, viewer: Viewer, staff: PageStaff) -> Response {
    match lists(&state).await {
        Ok(l) => (
            [(header::CACHE_CONTROL, "no-store")],
            Html(lists_markup(&state, &viewer, &staff, &l).into_string()),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(serde::Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn dismiss(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    Path(number): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let token = form.map(|Form(f)| f.csrf).unwrap_or_default();
    let result = async {
        staff.check_csrf(&state, &token)?;
        pickup::dismiss_notice(
            &state.counter,
            &number,
            &staff.0.user,
            state.counter.clock.now(),
        )
        .await
    }
    .await;
    match result {
        Ok(()) => Redirect::to("/arrivals").into_response(),
        Err(e) => error_page(&state, &viewer, Some(&staff), &e),
    }
}
