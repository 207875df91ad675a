//! The reception slip (Fig. 2: handed over at intake, shown at pickup) for an 80 mm receipt
//! printer and for A6 or A4 paper, each on one page: the counter and its address, the
//! reception number and its QR code, the customer, the items, what is owed, the ready-by (one
//! truth: `pickup::ready_by`), a cancelled order marked as such. Staff cancel a walk-in order
//! here until its prints arrive (`pickup::cancel`: it reaches the lab).

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{Markup, PreEscaped, html};
use reprint_domain::delivery_counter::OtherCounter;
use reprint_domain::file::ReceptionState;
use serde::Deserialize;

use super::{Viewer, error_page, problem_box, render, with_status, words};
use crate::AppState;
use crate::auth::PageStaff;
use crate::error::CounterError;
use crate::pickup::{self, CANCEL_REASONS, PickupView};

pub fn routes() -> Router<AppState> {
    Router::new().route("/slip/{number}", get(slip)).route(
        "/slip/{number}/cancel",
        get(cancel_page).post(cancel_submit),
    )
}

/// The QR code of `data` as SVG (scales with its box: it has a view box).
pub fn qr_svg(data: &str) -> String {
    match qrcode::QrCode::new(data.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(180, 180)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

/// The counter's name and address at the top of a slip or receipt.
pub fn counter_head(state: &AppState) -> Markup {
    let c = &state.counter.config;
    html! {
        h2 { (c.name) }
        @if !c.address.is_empty() { p style="margin:0 0 6px" { (c.address) } }
    }
}

/// The print and next-step buttons under a slip or receipt (not printed).
pub fn print_button(viewer: &Viewer, key: &str) -> Markup {
    html! {
        button.go type="button" onclick="window.print()" { (viewer.t(key)) }
    }
}

/// The slip of `v` as printed.
fn paper(state: &AppState, viewer: &Viewer, v: &PickupView) -> Markup {
    let r = &v.reception;
    let code = pickup::slip_code(state.counter.rules().site.as_str(), r.number.as_str());
    let cancelled = match &r.state {
        ReceptionState::Cancelled { at, reason } => Some((*at, reason.clone())),
        _ => None,
    };
    html! {
        div.paper #slip {
            (counter_head(state))
            @if let Some((at, reason)) = &cancelled {
                p.cancelled-mark #cancelled { (viewer.t("counter-slip-cancelled")) }
                p { (viewer.tw("counter-slip-cancelled-at", &[("time", viewer.time(*at).into())])) br; (words::withdrawn_reason(viewer, reason)) }
            }
            div.paper-grid {
                div {
                    p style="margin:0" { (viewer.t("counter-slip-number")) }
                    p.big #reception-number style="margin:0 0 6px" { (r.number.as_str()) }
                    dl.check style="margin:0" {
                        dt { (viewer.t("counter-slip-customer")) }
                        dd { (v.summary.customer_name) " " span.muted style="font-weight:400;font-size:.8em" { "(" (v.registration_number) ")" } }
                        dt { (viewer.t("counter-slip-received")) }
                        dd { (viewer.time(r.received_at)) }
                        @if cancelled.is_none() {
                            @if let Some(ready) = v.summary.expected_ready {
                                dt { (viewer.t("counter-slip-ready-by")) }
                                dd #ready-by { (viewer.time(ready)) }
                            }
                        }
                        dt { (viewer.t("counter-slip-lab")) }
                        dd { (v.lab_name) }
                        @if let Some(job) = &v.medium_job {
                            dt { (viewer.t("counter-medium-title")) }
                            dd #medium-copy { (words::medium_job(viewer, job)) }
                        }
                        @match &v.other {
                            Some((crate::elsewhere::OtherOf { other: OtherCounter::DeliveryCounter(id), .. }, name)) => {
                                dt { (viewer.t("counter-slip-pickup-at")) }
                                dd #pickup-at { strong { (name) } @if let Some(p) = state.counter.places.get(id.as_str()) { @if !p.address.is_empty() { br; (p.address) } } }
                            }
                            Some((crate::elsewhere::OtherOf { other: OtherCounter::ReceptionCounter(_), slip }, name)) => {
                                dt { (viewer.t("counter-slip-taken-in-at")) }
                                dd #taken-in-at { (name) @if let Some(n) = slip { " · " (n) } }
                            }
                            None => {}
                        }
                    }
                }
                div.qr role="img" aria-label=(viewer.tw("counter-slip-qr", &[("number", r.number.as_str().to_string().into())])) {
                    (PreEscaped(qr_svg(&code)))
                }
            }
            (words::items_table(viewer, &r.items))
            @if cancelled.is_none() {
                table.amounts style="margin-top:6px" {
                    tbody {
                        @match (&v.lab_charge, v.amount_due) {
                            (Some(_), Some(due)) => {
                                tr { th scope="row" { (viewer.t("counter-slip-owed")) } td.n #owed { strong { (viewer.money(due)) } } }
                            }
                            _ => {
                                tr { th scope="row" { (viewer.t("counter-slip-counter-charge")) } td.n #owed { strong { (viewer.money(r.charge.total)) } } }
                                tr { td colspan="2" .muted { (viewer.tw("counter-slip-lab-later", &[("lab", v.lab_name.clone().into()), ("count", words::print_count(&r.items).into())])) } }
                            }
                        }
                    }
                }
                p style="margin:6px 0 0;font-size:.9em" { (viewer.t("counter-slip-bring")) }
            }
        }
    }
}

async fn slip(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    Path(number): Path<String>,
) -> Response {
    match pickup::view(&state.counter, &number).await {
        Ok(v) => slip_page(&state, &viewer, &staff, &v, None),
        Err(e) => error_page(&state, &viewer, Some(&staff), &e),
    }
}

fn slip_page(
    state: &AppState,
    viewer: &Viewer,
    staff: &PageStaff,
    v: &PickupView,
    error: Option<&CounterError>,
) -> Response {
    let title = viewer.t("counter-slip-title");
    let number = v.reception.number.as_str();
    let page = render(
        state,
        viewer,
        Some(staff),
        &title,
        html! {
            h1.noprint { (title) }
            @if let Some(e) = error { div.noprint { (problem_box(viewer, e)) } }
            div.cols.wide-left {
                (paper(state, viewer, v))
                div.noprint style="display:flex;flex-direction:column;gap:12px" {
                    (print_button(viewer, "counter-slip-print"))
                    a.button.quiet href="/intake" { (viewer.t("counter-slip-next")) }
                    a.button.quiet href={ "/pickup/" (number) } { (viewer.t("counter-slip-to-pickup")) }
                    @if v.can_cancel() {
                        a.button.danger #cancel href={ "/slip/" (number) "/cancel" } { (viewer.t("counter-cancel")) }
                    }
                    p.muted style="font-size:.9em" { (viewer.t("counter-slip-paper")) }
                }
            }
        },
    );
    match error {
        Some(e) => with_status(e.problem().status_code(), page),
        None => page,
    }
}

/// The confirmation: what is cancelled, why, and the two answers.
async fn cancel_page(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    Path(number): Path<String>,
) -> Response {
    let v = match pickup::view(&state.counter, &number).await {
        Ok(v) => v,
        Err(e) => return error_page(&state, &viewer, Some(&staff), &e),
    };
    if !v.can_cancel() {
        return Redirect::to(&format!("/slip/{number}")).into_response();
    }
    let title = viewer.t("counter-cancel-title");
    let r = &v.reception;
    render(
        &state,
        &viewer,
        Some(&staff),
        &title,
        html! {
            h1 { (title) }
            div.cols {
                div.card {
                    p.big { (r.number.as_str()) }
                    p { strong { (v.summary.customer_name) } }
                    p { (viewer.tw("counter-cancel-what", &[("count", words::print_count(&r.items).into()), ("lab", v.lab_name.clone().into())])) }
                    p.muted { (viewer.t("counter-cancel-lab")) }
                }
                form method="post" action={ "/slip/" (r.number.as_str()) "/cancel" } {
                    input type="hidden" name="csrf" value=(staff.csrf(&state));
                    fieldset.card {
                        legend { (viewer.t("counter-cancel-why")) }
                        div.methods style="grid-template-columns:1fr" {
                            @for (i, _) in CANCEL_REASONS.iter().enumerate() {
                                label { input type="radio" name="reason" value=(i) required checked[i == 0]; (viewer.t(&format!("counter-cancel-reason-{i}"))) }
                            }
                        }
                    }
                    div.row style="margin-top:12px" {
                        button.danger #confirm-cancel type="submit" { (viewer.t("counter-cancel-yes")) }
                        a.button.quiet href={ "/slip/" (r.number.as_str()) } { (viewer.t("counter-cancel-no")) }
                    }
                }
            }
        },
    )
}

#[derive(Deserialize)]
struct CancelForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

async fn cancel_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    Path(number): Path<String>,
    form: Result<Form<CancelForm>, FormRejection>,
) -> Response {
    let result = async {
        let Ok(Form(f)) = form else {
            return Err(CounterError::Invalid(
                "choose why the order is cancelled".into(),
            ));
        };
        staff.check_csrf(&state, &f.csrf)?;
        let reason = f
            .reason
            .trim()
            .parse::<usize>()
            .ok()
            .and_then(|i| CANCEL_REASONS.get(i))
            .ok_or_else(|| CounterError::Invalid("choose why the order is cancelled".into()))?;
        pickup::cancel(
            &state.counter,
            &number,
            reason,
            &staff.0.user,
            state.counter.clock.now(),
        )
        .await
    }
    .await;
    match result {
        Ok(()) => Redirect::to(&format!("/slip/{number}")).into_response(),
        Err(e) => match pickup::view(&state.counter, &number).await {
            Ok(v) => slip_page(&state, &viewer, &staff, &v, Some(&e)),
            Err(_) => error_page(&state, &viewer, Some(&staff), &e),
        },
    }
}
