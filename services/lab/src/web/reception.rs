//! A reception: what to do next (big buttons), the prints as thumbnails with their preflight
//! warnings (too few pixels for the paper, a colour profile ignored) and the reprint evidence
//! (the same photo printed here before, by perceptual hash), the individual user file (the user
//! id area and the reception contents area, Figs. 6, 7, with items (4) and (5)), the charge and
//! the production log.

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use reprint_domain::ImageId;
use reprint_domain::file::ReceptionState;
use reprint_media::PerceptualHash;

use super::{
    CsrfForm, Op, checked, error_page, money, render, route_words, size_words, state_words,
};
use crate::api::{ReceptionView, reception_view, run_action};
use crate::db;
use crate::error::LabError;
use crate::state::Lab;

pub fn routes() -> Router<Lab> {
    Router::new()
        .route("/receptions/{number}", get(reception_page))
        .route("/receptions/{number}/{action}", post(action_form))
        .route(
            "/receptions/{number}/images/{image}/reject",
            post(reject_image_form),
        )
}

/// An earlier print of the same photo at this lab.
struct Reprint {
    item: usize,
    reception: String,
    on: String,
    distance: u32,
}

async fn reprints(lab: &Lab, view: &ReceptionView) -> Vec<Reprint> {
    let p = &view.production;
    let Ok(mut tx) = lab.store.begin().await else {
        return vec![];
    };
    let mine = db::hashes_of_reception(&mut tx, &p.reception_number)
        .await
        .unwrap_or_default();
    let all = db::hashes_of(&mut tx, &p.registration_number)
        .await
        .unwrap_or_default();
    // Only receptions received before this one are evidence for it.
    let earlier: std::collections::HashSet<String> =
        db::production_by_registration(&mut tx, &p.registration_number)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| {
                (r.received_at.as_str(), r.reception_number.as_str())
                    < (p.received_at.as_str(), p.reception_number.as_str())
            })
            .map(|r| r.reception_number)
            .collect();
    let _ = tx.commit().await;
    let order: Option<reprint_domain::protocol::OrderPlaced> =
        serde_json::from_str(&p.order_json).ok();
    let Some(order) = order else { return vec![] };
    let mut out = Vec::new();
    for (i, item) in order.items.iter().enumerate() {
        let Some(h) = mine.iter().find(|h| h.image == item.image.to_hex()) else {
            continue;
        };
        let hash = PerceptualHash(h.phash as u64);
        for other in all.iter().filter(|o| earlier.contains(&o.reception_number)) {
            let o = PerceptualHash(other.phash as u64);
            if hash.matches(o) {
                out.push(Reprint {
                    item: i,
                    reception: other.reception_number.clone(),
                    on: other.received_on.clone(),
                    distance: hash.distance(o),
                });
            }
        }
    }
    out
}

async fn reception_page(State(lab): State<Lab>, op: Op, Path(number): Path<String>) -> Response {
    let view = match reception_view(&lab, &number).await {
        Ok(v) => v,
        Err(e) => return error_page(&lab, &op, e),
    };
    let order: Option<reprint_domain::protocol::OrderPlaced> =
        serde_json::from_str(&view.production.order_json).ok();
    // The preflight of each print (rendered small, cached; the thumbnails are the same).
    let mut warnings: Vec<(usize, String)> = Vec::new();
    if let Some(order) = &order {
        // Rendered side by side, as many at once as the render permits allow.
        let previews = futures::future::join_all(
            order
                .items
                .iter()
                .map(|item| super::thumbs::preview(&lab, item)),
        )
        .await;
        for (i, preview) in previews.into_iter().enumerate() {
            match preview {
                Ok(p) => warnings.extend(
                    p.warnings
                        .iter()
                        .map(|w| (i, super::thumbs::warning_words(op.lang, w))),
                ),
                Err(e) => warnings.push((i, e.problem().detail.clone())),
            }
        }
    }
    let reprints = reprints(&lab, &view).await;
    let rejected = rejected_images(&lab, &view.production.order_id).await;
    let title = format!(
        "{} {}",
        op.t("lab-reception"),
        view.production.reception_number
    );
    let content = body(
        &lab,
        &op,
        &view,
        order.as_ref(),
        &warnings,
        &reprints,
        &rejected,
        &title,
    );
    render(&lab, &op, &title, content)
}

#[allow(clippy::too_many_arguments)]
fn body(
    lab: &Lab,
    op: &Op,
    view: &ReceptionView,
    order: Option<&reprint_domain::protocol::OrderPlaced>,
    warnings: &[(usize, String)],
    reprints: &[Reprint],
    rejected: &[ImageId],
    title: &str,
) -> Markup {
    let p = &view.production;
    let n = &p.reception_number;
    let csrf = op.csrf_field(lab);
    let open = ["received", "printing", "printed"].contains(&p.state.as_str());
    let action = match p.state.as_str() {
        "received" => Some(("start-printing", "lab-action-start")),
        "printing" => Some(("finished", "lab-action-finished")),
        "printed" => Some(("dispatch", "lab-action-dispatch")),
        _ => None,
    };
    let current = view
        .file
        .receptions
        .iter()
        .find(|r| r.number.as_str() == p.reception_number);
    let name_of = |i: usize| {
        order
            .and_then(|o| o.items.get(i))
            .map(|it| it.name.clone())
            .unwrap_or_default()
    };
    html! {
        h1 { (title) }
        p {
            strong { (state_words(op.lang, &p.state)) }
            " · " (route_words(op.lang, &p.route)) " → " (p.counter)
            @if let Some(c) = order.and_then(|o| o.counter_extract.as_ref()) {
                " · " (op.t("lab-counter-slip")) " " (c.reception.number.as_str())
            }
            @if let Some(f) = &p.estimated_finish { " · " (op.t("lab-due-at")) " " (op.time_str(f)) }
        }
        @if !warnings.is_empty() {
            div.warn role="alert" {
                h2 { (op.t("lab-warnings")) }
                ul { @for (i, w) in warnings { li { strong { (name_of(*i)) } ": " (w) } } }
            }
        }
        @if !reprints.is_empty() {
            div.warn {
                h2 { (op.t("lab-reprints")) }
                ul { @for r in reprints { li {
                    strong { (name_of(r.item)) } ": "
                    (reprint_ui::t_with(op.lang, "lab-reprint-line", &[
                        ("on", r.on.clone().into()),
                        ("reception", r.reception.clone().into()),
                        ("distance", r.distance.into()),
                    ]))
                } } }
            }
        }
        div.actions.noprint {
            @if let Some((a, key)) = action {
                form method="post" action={ "/receptions/" (n) "/" (a) } {
                    (csrf)
                    button data-key="n" aria-keyshortcuts="N" { (op.t(key)) }
                }
            }
        }
        @if let Some(order) = order {
            h2 { (op.t("lab-prints")) }
            ul.prints { @for (i, item) in order.items.iter().enumerate() { li {
                img src={ "/receptions/" (n) "/prints/" (i) } alt=(item.name) loading="lazy" width="200" height="180";
                strong { (item.name) } br;
                (size_words(op.lang, item.size.code())) " × " (item.quantity)
                @for (_, w) in warnings.iter().filter(|(j, _)| *j == i) { br; span.late { (w) } }
                @if rejected.contains(&item.image) {
                    br; strong.late { (op.t("lab-reject-image-done")) }
                } @else if open {
                    @if !order.items.iter().any(|o| o.image != item.image && !rejected.contains(&o.image)) {
                        br; small { (op.t("lab-reject-image-last")) }
                    }
                    (reject_image_form_markup(op, &csrf, n, item, i))
                }
            } } }
        }
        div.area {
            h2 { (op.t("lab-user-id-area")) }
            @if let Some(u) = &view.file.user {
                div.scroll { table { tbody {
                    tr { th scope="row" { (op.t("lab-registration-number")) } td { (u.registration_number.as_str()) } }
                    tr { th scope="row" { (op.t("lab-name")) } td { (u.name) } }
                    tr { th scope="row" { (op.t("lab-telephone")) } td { (u.telephone.as_str()) } }
                    tr { th scope="row" { (op.t("lab-address")) } td { (u.address.clone().unwrap_or_default()) } }
                    tr { th scope="row" { (op.t("lab-email")) } td { (u.email.clone().unwrap_or_default()) } }
                    tr { th scope="row" { (op.t("lab-registered")) } td { (op.time(u.registered_at)) } }
                } } }
            }
        }
        div.area {
            h2 { (op.t("lab-reception-area")) }
            div.scroll { table {
                thead { tr {
                    th scope="col" { "(1) " (op.t("lab-col-reception")) }
                    th scope="col" { "(2) " (op.t("lab-col-route")) }
                    th scope="col" { "(3) " (op.t("lab-col-received")) }
                    th scope="col" { "(4) " (op.t("lab-col-data-start")) }
                    th scope="col" { "(5) " (op.t("lab-col-data-finish")) }
                    th scope="col" { "(6) " (op.t("lab-col-counter")) }
                    th scope="col" { "(7) " (op.t("lab-col-prints")) }
                    th scope="col" { (op.t("lab-col-amount")) }
                    th scope="col" { "(8) " (op.t("lab-col-due")) }
                    th scope="col" { (op.t("lab-col-state")) }
                } }
                tbody { @for r in &view.file.receptions {
                    @let images = r.items.iter().map(|i| i.image).collect::<std::collections::HashSet<_>>().len();
                    @let prints: u32 = r.items.iter().map(|i| i.quantity).sum();
                    tr.current[r.number.as_str() == p.reception_number] data-reception=(r.number.as_str()) {
                        td { (r.number.as_str()) }
                        td { (route_words(op.lang, crate::intake::route_name(r.route))) }
                        td { (op.time(r.received_at)) }
                        td data-item="4" { @if let Some(d) = r.data_receive { (op.time(d.start)) } }
                        td data-item="5" { @if let Some(d) = r.data_receive { (op.time(d.finish)) } }
                        td { (r.partner.as_str()) }
                        td { (reprint_ui::t_with(op.lang, "lab-images-prints", &[("images", (images as i64).into()), ("prints", prints.into())])) }
                        td { (reprint_ui::money(op.lang, r.charge.total)) }
                        td { @if let Some(f) = r.estimated_finish { (op.time(f)) } }
                        td { @match &r.state {
                            ReceptionState::Open => (op.t("lab-file-open")),
                            ReceptionState::Collected { at } => { (op.t("lab-file-collected")) " " (op.time(*at)) },
                            ReceptionState::Cancelled { reason, .. } => { (op.t("lab-file-cancelled")) ": " (reason) },
                        } }
                    }
                } }
            } }
        }
        @if let Some(r) = current {
            h2 { (op.t("lab-charge")) }
            div.scroll { table {
                tbody {
                    @for l in &r.charge.lines { tr { td { (l.description) } td { (reprint_ui::money(op.lang, l.amount)) } } }
                    tr { th scope="row" { (op.t("lab-total")) } th { (reprint_ui::money(op.lang, r.charge.total)) } }
                }
            } }
        }
        h2 { (op.t("lab-production-log")) }
        p {
            (op.t("lab-digital-copy")) ": "
            @if p.digital_copy != 0 { (op.t("lab-yes")) } @else { (op.t("lab-no")) }
            " · " (money(op.lang, &p.currency, p.charge_minor))
        }
        div.scroll { table {
            thead { tr {
                th scope="col" { (op.t("lab-col-state")) }
                th scope="col" { (op.t("lab-col-at")) }
                th scope="col" { (op.t("lab-col-by")) }
                th scope="col" { (op.t("lab-col-note")) }
            } }
            tbody { @for l in &view.log { tr {
                td { (state_words(op.lang, &l.state)) }
                td { (op.time_str(&l.at)) }
                td { (l.actor) }
                td { (l.note) }
            } } }
        } }
        @if ["received", "printing", "printed"].contains(&p.state.as_str()) {
            form.noprint method="post" action={ "/receptions/" (n) "/reject" } {
                (csrf)
                p {
                    label for="reason" { (op.t("lab-reject-reason")) } br;
                    input #reason name="reason" required size="40";
                    " "
                    button { (op.t("lab-reject")) }
                }
            }
        }
    }
}

async fn action_form(
    State(lab): State<Lab>,
    op: Op,
    Path((number, action)): Path<(String, String)>,
    form: Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(f)) => f,
        Err(e) => return error_page(&lab, &op, LabError::BadRequest(e.body_text())),
    };
    if let Err(r) = checked(&lab, &op, form.csrf.as_deref()) {
        return *r;
    }
    let number = number.to_ascii_uppercase();
    match run_action(
        &lab,
        &number,
        &action,
        form.reason.as_deref(),
        &op.session.user,
    )
    .await
    {
        Ok(_) => {
            let back = form
                .back
                .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
                .unwrap_or_else(|| format!("/receptions/{}", super::esc(&number)));
            Redirect::to(&back).into_response()
        }
        Err(e) => error_page(&lab, &op, e),
    }
}

/// The images of the reception the operator rejected one by one.
async fn rejected_images(lab: &Lab, order: &str) -> Vec<ImageId> {
    let Ok(mut tx) = lab.store.begin().await else {
        return vec![];
    };
    let loaded = crate::reception::load(&mut tx, order).await;
    let _ = tx.rollback().await;
    loaded.map(|l| l.state.rejected_images).unwrap_or_default()
}

/// The reasons the operator picks from, as (value, words).
const REJECT_REASONS: [(&str, &str); 4] = [
    ("damaged", "lab-reject-why-damaged"),
    ("resolution", "lab-reject-why-resolution"),
    ("content", "lab-reject-why-content"),
    ("other", "lab-reject-why-other"),
];

fn reject_image_form_markup(
    op: &Op,
    csrf: &Markup,
    n: &str,
    item: &reprint_domain::protocol::PlacedItem,
    i: usize,
) -> Markup {
    let hex = item.image.to_hex();
    html! {
        details.noprint.reject-image {
            summary style="min-height:44px;display:flex;align-items:center;cursor:pointer" { (op.t("lab-reject-image")) }
            form method="post" action={ "/receptions/" (n) "/images/" (hex) "/reject" } {
                (csrf)
                p {
                    label for={ "why-" (i) } { (op.t("lab-reject-image-why")) } br;
                    select id={ "why-" (i) } name="why" required {
                        option value="" { "—" }
                        @for (v, key) in REJECT_REASONS { option value=(v) { (op.t(key)) } }
                    }
                }
                p {
                    label for={ "text-" (i) } { (op.t("lab-reject-image-text")) } br;
                    input id={ "text-" (i) } type="text" name="text" maxlength="300";
                }
                p {
                    label style="display:flex;align-items:center;gap:8px;min-height:44px" {
                        input type="checkbox" name="confirm" value="yes" required style="width:44px;height:44px;flex:none;margin:0";
                        " " (op.t("lab-reject-image-confirm"))
                    }
                }
                p { button { (op.t("lab-reject-image-button")) } }
            }
        }
    }
}

/// The operator's choice of why one image is not printed.
#[derive(Debug, serde::Deserialize)]
struct RejectImageForm {
    csrf: Option<String>,
    why: Option<String>,
    text: Option<String>,
    confirm: Option<String>,
}

/// The reason the customer reads: the picked reason in words, and the operator's text.
fn reject_reason(op: &Op, why: &str, text: &str) -> Result<String, LabError> {
    let text = text.trim();
    let Some((_, key)) = REJECT_REASONS.iter().find(|(v, _)| *v == why) else {
        return Err(LabError::BadRequest(op.t("lab-reject-image-pick")));
    };
    if why == "other" {
        if text.is_empty() {
            return Err(LabError::BadRequest(op.t("lab-reject-image-say")));
        }
        return Ok(text.to_string());
    }
    let words = op.t(key);
    Ok(if text.is_empty() {
        words
    } else {
        format!("{words} ({text})")
    })
}

async fn reject_image_form(
    State(lab): State<Lab>,
    op: Op,
    Path((number, image)): Path<(String, String)>,
    form: Result<Form<RejectImageForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(f)) => f,
        Err(e) => return error_page(&lab, &op, LabError::BadRequest(e.body_text())),
    };
    if let Err(r) = checked(&lab, &op, form.csrf.as_deref()) {
        return *r;
    }
    if form.confirm.as_deref() != Some("yes") {
        return error_page(
            &lab,
            &op,
            LabError::BadRequest(op.t("lab-reject-image-unconfirmed")),
        );
    }
    let reason = match reject_reason(
        &op,
        form.why.as_deref().unwrap_or(""),
        form.text.as_deref().unwrap_or(""),
    ) {
        Ok(r) => r,
        Err(e) => return error_page(&lab, &op, e),
    };
    let number = number.to_ascii_uppercase();
    let actor = format!("operator {}", op.session.user);
    match crate::production::reject_image(&lab, &number, &image, &reason, &actor).await {
        Ok(_) => Redirect::to(&format!("/receptions/{}", super::esc(&number))).into_response(),
        Err(e) => error_page(&lab, &op, e),
    }
}
