//! Walk-in intake: the customer and the medium on one screen, "Take in" without scrolling; a
//! refused form comes back with what was typed (the files must be chosen again).

use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::html;

use super::{Viewer, problem_box, render, with_status, words};
use crate::AppState;
use crate::api;
use crate::auth::PageStaff;
use crate::error::CounterError;
use crate::intake::IntakeRequest;

pub fn routes(state: &AppState) -> Router<AppState> {
    let upload_limit =
        usize::try_from(state.counter.config.uploads.max_request_bytes).unwrap_or(usize::MAX);
    Router::new().route(
        "/intake",
        get(intake_page)
            .post(intake_submit)
            .layer(DefaultBodyLimit::max(upload_limit)),
    )
}

const SIZES: [&str; 9] = [
    "L", "2L", "KG", "DSC", "Hagaki", "Square", "4x6", "5x7", "8x10",
];

fn intake_form(
    state: &AppState,
    viewer: &Viewer,
    staff: &PageStaff,
    error: Option<&CounterError>,
    typed: Option<&IntakeRequest>,
) -> Response {
    let title = viewer.t("counter-intake-title");
    let c = &typed.map(|r| r.customer.clone()).unwrap_or_default();
    let lab = typed.map(|r| r.lab.as_str()).unwrap_or("");
    let size = typed.map(|r| r.size.as_str()).unwrap_or("L");
    let quantity = typed.map_or(1, |r| r.quantity);
    render(
        state,
        viewer,
        Some(staff),
        &title,
        html! {
            h1 { (title) }
            @if let Some(e) = error { (problem_box(viewer, e)) }
            form method="post" action="/intake" enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(staff.csrf(state));
                div.cols {
                    fieldset.card {
                        legend { (viewer.t("counter-intake-customer")) }
                        label for="registration_number" { (viewer.t("counter-intake-registration")) }
                        input #registration_number type="text" name="registration_number" autocomplete="off" value=[c.registration_number.as_deref()];
                        label for="telephone" { (viewer.t("counter-intake-telephone")) }
                        input #telephone type="tel" name="telephone" required autocomplete="off" value=(c.telephone);
                        label for="name" { (viewer.t("counter-intake-name")) }
                        input #name type="text" name="name" required autocomplete="off" value=(c.name);
                    }
                    fieldset.card {
                        legend { (viewer.t("counter-intake-medium")) }
                        label for="medium" { (viewer.t("counter-intake-zip")) }
                        input #medium type="file" name="medium" accept=".zip,application/zip";
                        label for="images" { (viewer.t("counter-intake-files")) }
                        input #images type="file" name="images" multiple accept="image/*";
                        div.cols style="gap:10px" {
                            div {
                                label for="lab" { (viewer.t("counter-intake-lab")) }
                                select #lab name="lab" {
                                    @for l in &state.counter.config.labs {
                                        option value=(l.id.as_str()) selected[l.id.as_str() == lab] { (l.name) }
                                    }
                                }
                            }
                            div {
                                label for="size" { (viewer.t("counter-intake-size")) }
                                select #size name="size" {
                                    @for s in SIZES {
                                        option value=(s) selected[s == size] { (words::size(viewer, s)) }
                                    }
                                }
                            }
                        }
                        label for="quantity" { (viewer.t("counter-intake-quantity")) }
                        input #quantity type="number" name="quantity" min="1" max="999" value=(quantity) aria-describedby="dpof-hint";
                        p #dpof-hint .muted style="margin:4px 0 0;font-size:.9em" { (viewer.t("counter-intake-dpof")) }
                    }
                }
                p { button.go #take-in type="submit" style="width:100%" { (viewer.t("counter-intake-submit")) } }
            }
        },
    )
}

async fn intake_page(State(state): State<AppState>, viewer: Viewer, staff: PageStaff) -> Response {
    intake_form(&state, &viewer, &staff, None, None)
}

async fn intake_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    form: Multipart,
) -> Response {
    let upload = match api::read_intake_form(form, &state.counter.spool.staging()).await {
        Ok(u) => u,
        Err(e) => {
            return with_status(
                e.problem().status_code(),
                intake_form(&state, &viewer, &staff, Some(&e), None),
            );
        }
    };
    let typed = upload.request.clone();
    let result = async {
        staff.check_csrf(&state, &upload.csrf)?;
        api::run_intake(&state, upload).await
    }
    .await;
    match result {
        Ok(intake) => Redirect::to(&format!("/slip/{}", intake.reception_number)).into_response(),
        Err(e) => with_status(
            e.problem().status_code(),
            intake_form(&state, &viewer, &staff, Some(&e), Some(&typed)),
        ),
    }
}
