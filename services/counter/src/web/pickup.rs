//! Pickup and payment: find the order by its slip (typed or scanned) or the telephone; check
//! the customer against the slip (name, reception number, the prints); take one payment of the
//! amount due (visible beside the check, without scrolling at 1024 x 768); hand the prints over
//! and print the receipt (80 mm receipt paper or A4, one page).

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use reprint_domain::Money;
use reprint_domain::file::ReceptionState;
use reprint_eventstore::sql;
use serde::Deserialize;

use super::slip::{counter_head, print_button};
use super::{Viewer, error_page, problem_box, render, with_status, words};
use crate::AppState;
use crate::auth::PageStaff;
use crate::error::CounterError;
use crate::pickup::{self, METHODS, OrderSummary, PaymentInput, PickupView};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/pickup", get(search))
        .route("/pickup/{number}", get(view))
        .route("/pickup/{number}/collect", post(collect))
        .route("/pickup/{number}/receipt", get(receipt))
}

#[derive(Deserialize)]
struct SearchForm {
    #[serde(default)]
    q: String,
}

fn search_form(viewer: &Viewer, q: &str) -> Markup {
    html! {
        form.scan method="get" action="/pickup" role="search" {
            label for="q" { (viewer.t("counter-scan-label")) }
            input #q type="search" name="q" value=(q) autofocus autocomplete="off" enterkeyhint="go";
            button.go type="submit" { (viewer.t("counter-find")) }
        }
    }
}

fn found_table(state: &AppState, viewer: &Viewer, found: &[OrderSummary]) -> Markup {
    html! {
        div.scroll { table {
            thead { tr {
                th scope="col" { (viewer.t("counter-col-reception")) }
                th scope="col" { (viewer.t("counter-col-customer")) }
                th scope="col" { (viewer.t("counter-col-lab")) }
                th scope="col" { (viewer.t("counter-col-state")) }
                th scope="col" { (viewer.t("counter-col-received")) }
            } }
            tbody {
                @for o in found {
                    tr {
                        td { a.button.quiet href={ "/pickup/" (o.reception_number) } { (o.reception_number) } }
                        td { (o.customer_name) }
                        td { (state.counter.lab_name(&o.lab)) }
                        td { (words::state(viewer, &o.state)) }
                        td { (o.received_at.map(|t| viewer.time(t)).unwrap_or_default()) }
                    }
                }
            }
        } }
    }
}

async fn search(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    Query(f): Query<SearchForm>,
) -> Response {
    let title = viewer.t("counter-pickup-title");
    if f.q.trim().is_empty() {
        return render(
            &state,
            &viewer,
            Some(&staff),
            &title,
            html! { h1 { (title) } (search_form(&viewer, "")) },
        );
    }
    match pickup::find(&state.counter, &f.q).await {
        Ok(found) if found.len() == 1 => {
            Redirect::to(&format!("/pickup/{}", found[0].reception_number)).into_response()
        }
        Ok(found) => render(
            &state,
            &viewer,
            Some(&staff),
            &title,
            html! {
                h1 { (title) }
                (search_form(&viewer, ""))
                p { (viewer.tw("counter-pickup-found", &[("count", found.len().into()), ("q", f.q.trim().to_string().into())])) }
                (found_table(&state, &viewer, &found))
            },
        ),
        Err(e) => with_status(
            e.problem().status_code(),
            render(
                &state,
                &viewer,
                Some(&staff),
                &title,
                html! { h1 { (title) } (problem_box(&viewer, &e)) (search_form(&viewer, "")) },
            ),
        ),
    }
}

async fn view(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    Path(number): Path<String>,
) -> Response {
    match pickup::view(&state.counter, &number).await {
        Ok(v) => pickup_page(&state, &viewer, &staff, &v, None, None),
        Err(e) => error_page(&state, &viewer, Some(&staff), &e),
    }
}

/// What was typed at the till, shown again after a refusal.
#[derive(Default)]
struct Till {
    method: String,
    tendered: String,
}

/// Left: what staff check against the customer's slip (name, reception number, the prints) and
/// the charges; right: the amount due and the payment, or what was paid.
fn pickup_page(
    state: &AppState,
    viewer: &Viewer,
    staff: &PageStaff,
    v: &PickupView,
    error: Option<Markup>,
    till: Option<&Till>,
) -> Response {
    let r = &v.reception;
    let number = r.number.as_str();
    let title = viewer.t("counter-pickup-title");
    let method = till.map_or("cash", |t| t.method.as_str());
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = render(
        state,
        viewer,
        Some(staff),
        &title,
        html! {
            div.cols.wide-left {
                section.card aria-labelledby="h-check" {
                    h1 #h-check style="font-size:1.2em" { (viewer.t("counter-pickup-check")) }
                    dl.check.row style="gap:4px 28px;align-items:flex-start" {
                        div { dt { (viewer.t("counter-slip-customer")) } dd #customer { (v.summary.customer_name) } }
                        div { dt { (viewer.t("counter-slip-number")) } dd #number { (number) } }
                        @if let Some(lab_number) = &v.summary.lab_reception {
                            div { dt { (viewer.t("counter-col-lab-number")) } dd { (lab_number) } }
                        }
                        div { dt { (viewer.t("counter-pickup-prints")) } dd { (viewer.tw("counter-prints", &[("count", words::print_count(&r.items).into())])) } }
                        @if let Some(job) = &v.medium_job {
                            div { dt { (viewer.t("counter-medium-title")) } dd #medium-copy { (words::medium_job(viewer, job)) } }
                        }
                    }
                    (words::items_table(viewer, &r.items))
                    p.muted style="font-size:.9em;margin:6px 0 0" {
                        (viewer.tw("counter-pickup-registered", &[("number", v.registration_number.clone().into()), ("time", viewer.time(r.received_at).into())]))
                    }
                    h2 { (viewer.t("counter-pickup-charges")) }
                    table.charges {
                        tbody {
                            @match &v.lab_charge {
                                Some(l) => { (words::charge_rows(viewer, &viewer.tw("counter-pickup-lab-charge", &[("lab", v.lab_name.clone().into())]), l)) }
                                None => { tr { th colspan="2" scope="rowgroup" { (viewer.tw("counter-pickup-lab-not-yet", &[("lab", v.lab_name.clone().into())])) } } }
                            }
                            (words::charge_rows(viewer, &viewer.t("counter-pickup-counter-charge"), &v.counter_charge))
                        }
                    }
                }
                section.card #till aria-labelledby="h-till" {
                    h2 #h-till { (viewer.t("counter-pickup-due")) }
                    @if let Some(e) = &error { (e) }
                    @match (&r.state, &v.payment) {
                        (ReceptionState::Collected { at }, payment) => {
                            p.ok #paid {
                                strong { (viewer.t("counter-pickup-paid")) }
                                @if let Some(p) = payment {
                                    " " (viewer.money(Money::new(p.total, v.amount_due.map_or(r.charge.total.currency, |d| d.currency))))
                                    " · " (words::method(viewer, &p.method))
                                }
                                br; (viewer.time(*at))
                            }
                            a.button.go href={ "/pickup/" (number) "/receipt" } { (viewer.t("counter-pickup-receipt")) }
                        }
                        (ReceptionState::Cancelled { reason, at }, _) => {
                            p.problem #cancelled { strong { (viewer.t("counter-slip-cancelled")) } br; (viewer.time(*at)) br; (words::withdrawn_reason(viewer, reason)) }
                        }
                        _ => {
                            @if let Some(due) = v.amount_due {
                                p.due #due { (viewer.money(due)) }
                            } @else if let Some(counter) = v.handed_on_to() {
                                p.ok #handed-on { (viewer.tw("counter-pickup-handed-on", &[("counter", counter.into()), ("time", v.summary.changed_at.map(|t| viewer.time(t)).unwrap_or_default().into())])) }
                            } @else {
                                p { (viewer.t("counter-pickup-not-arrived")) }
                            }
                            @if v.can_collect() {
                                form.pay method="post" action={ "/pickup/" (number) "/collect" } {
                                    input type="hidden" name="csrf" value=(staff.csrf(state));
                                    fieldset style="border:0;padding:0;margin:0" {
                                        legend { (viewer.t("counter-pickup-method")) }
                                        div.methods {
                                            @for m in METHODS {
                                                label { input type="radio" name="method" value=(m) checked[m == method]; (words::method(viewer, m)) }
                                            }
                                        }
                                    }
                                    div.cash-only {
                                        label for="tendered" { (viewer.t("counter-pickup-tendered")) }
                                        input #tendered type="number" name="tendered" min="0" max="999999999" step="1" inputmode="numeric" value=[till.map(|t| t.tendered.as_str()).filter(|t| !t.is_empty())] placeholder=(viewer.t("counter-pickup-exact"));
                                    }
                                    button.go #collect type="submit" style="width:100%;margin-top:10px" { (viewer.t("counter-pickup-collect")) }
                                }
                            }
                            @if v.can_cancel() {
                                p style="margin-top:12px" { a.button.danger href={ "/slip/" (number) "/cancel" } { (viewer.t("counter-cancel")) } }
                            }
                            p { a.button.quiet href={ "/slip/" (number) } { (viewer.t("counter-pickup-slip")) } }
                        }
                    }
                }
            }
        },
    );
    with_status(status, page)
}

#[derive(Deserialize)]
struct CollectForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    tendered: String,
}

async fn collect(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    Path(number): Path<String>,
    form: Result<Form<CollectForm>, FormRejection>,
) -> Response {
    let f = match form {
        Ok(Form(f)) => f,
        Err(_) => CollectForm {
            csrf: String::new(),
            method: String::new(),
            tendered: String::new(),
        },
    };
    let till = Till {
        method: f.method.clone(),
        tendered: f.tendered.clone(),
    };
    let v = match pickup::view(&state.counter, &number).await {
        Ok(v) => v,
        Err(e) => return error_page(&state, &viewer, Some(&staff), &e),
    };
    let refuse = |words: String| {
        pickup_page(
            &state,
            &viewer,
            &staff,
            &v,
            Some(html! { p.problem role="alert" { (words) } }),
            Some(&till),
        )
    };
    if let Err(e) = staff.check_csrf(&state, &f.csrf) {
        return with_status(
            StatusCode::FORBIDDEN,
            refuse(words::problem_detail(&viewer, &e)),
        );
    }
    let method = f.method.trim().to_lowercase();
    if !METHODS.contains(&method.as_str()) {
        return refuse(viewer.t("counter-pay-method"));
    }
    // Cash only has a tendered amount; any other method pays the amount due exactly.
    let typed = f.tendered.trim();
    let tendered = if method != "cash" || typed.is_empty() {
        None
    } else {
        match typed.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => return refuse(viewer.t("counter-pay-not-a-number")),
        }
    };
    // The till's bounds in words before anything is recorded (the domain decides them again).
    if let Some(due) = v.amount_due
        && let Err(e) = reprint_domain::payment::take_payment(&method, tendered, due)
    {
        return refuse(words::payment(&viewer, &e));
    }
    let result = pickup::collect(
        &state.counter,
        &number,
        &PaymentInput { method, tendered },
        &staff.0.user,
        state.counter.clock.now(),
    )
    .await;
    match result {
        Ok(_) => Redirect::to(&format!("/pickup/{number}/receipt")).into_response(),
        Err(e) => match pickup::view(&state.counter, &number).await {
            Ok(v) => with_status(
                e.problem().status_code(),
                pickup_page(
                    &state,
                    &viewer,
                    &staff,
                    &v,
                    Some(problem_box(&viewer, &e)),
                    Some(&till),
                ),
            ),
            Err(_) => error_page(&state, &viewer, Some(&staff), &e),
        },
    }
}

/// The receipt of a collected order, as printed (one page on 80 mm paper or A4).
async fn receipt(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    Path(number): Path<String>,
) -> Response {
    let v = match pickup::view(&state.counter, &number).await {
        Ok(v) => v,
        Err(e) => return error_page(&state, &viewer, Some(&staff), &e),
    };
    let Some(p) = &v.payment else {
        let e = CounterError::Conflict(format!("reception {number} has not been paid for"));
        return error_page(&state, &viewer, Some(&staff), &e);
    };
    let currency = v
        .amount_due
        .map_or(v.counter_charge.total.currency, |d| d.currency);
    let m = |minor: i64| viewer.money(Money::new(minor, currency));
    let at = sql::parse_ts(&p.collected_at);
    let title = viewer.t("counter-receipt-title");
    render(
        &state,
        &viewer,
        Some(&staff),
        &title,
        html! {
            h1.noprint { (title) }
            p.ok.noprint role="status" { (viewer.t("counter-receipt-done")) }
            div.cols.wide-left {
                div.paper #receipt {
                    (counter_head(&state))
                    p style="margin:0;font-weight:700;font-size:1.2em" { (viewer.t("counter-receipt-heading")) }
                    p style="margin:2px 0 6px" {
                        @if let Some(at) = at { (viewer.time(at)) br; }
                        (viewer.t("counter-slip-number")) " " strong { (number) }
                        br; (v.summary.customer_name)
                    }
                    (words::items_table(&viewer, &v.reception.items))
                    table.charges style="margin-top:6px" {
                        tbody {
                            @if let Some(l) = &v.lab_charge {
                                (words::charge_rows(&viewer, &viewer.tw("counter-pickup-lab-charge", &[("lab", v.lab_name.clone().into())]), l))
                            }
                            (words::charge_rows(&viewer, &viewer.t("counter-pickup-counter-charge"), &v.counter_charge))
                            tr { th scope="row" { (viewer.t("counter-receipt-total")) } td.n #total { strong { (m(p.total)) } } }
                            tr { td { (words::method(&viewer, &p.method)) } td.n { (m(p.tendered)) } }
                            @if p.method == "cash" {
                                tr { td { (viewer.t("counter-receipt-change")) } td.n #change { (m(p.change_given)) } }
                            }
                        }
                    }
                    p style="margin:6px 0 0;font-size:.9em" { (viewer.t("counter-receipt-thanks")) }
                }
                div.noprint style="display:flex;flex-direction:column;gap:12px" {
                    (print_button(&viewer, "counter-receipt-print"))
                    a.button.quiet href="/pickup" { (viewer.t("counter-receipt-next")) }
                    p.muted style="font-size:.9em" { (viewer.t("counter-slip-paper")) }
                }
            }
        },
    )
}
