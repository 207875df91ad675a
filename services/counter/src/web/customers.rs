//! The customers' files at the counter (issue 15; Figs. 8 and 9): a search by name, telephone
//! or registration number (a barcode scanner types the number and Enter into the focused
//! field), a customer's file (the user ID area and the reception contents), "New intake for
//! this customer" (the intake form with the registration number filled in), and the question
//! staff are asked at intake when a registration number's file has another telephone.

use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use maud::html;
use reprint_domain::{ReceptionState, RegistrationNumber, Telephone};
use reprint_site::{NumberCheck, UserRow, index};
use serde::Deserialize;

use super::{FluentValue, Viewer, error_page, render, render_with, with_status, words};
use crate::AppState;
use crate::auth::PageStaff;
use crate::db;
use crate::error::{CounterError, Result};

/// The user ID area in two columns, so that the receptions start on the first screen.
const STYLE: &str = "#user-id dl{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,220px),1fr));gap:4px 16px;margin:0}\
#user-id dl div{min-width:0}#user-id dd{font-size:1.1em;overflow-wrap:anywhere}#user-id h2{margin-top:0}.scroll{overflow-x:auto;max-width:100%}";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/customers", get(search_page))
        .route("/customers/{number}", get(file_page))
}

#[derive(Debug, Default, Deserialize)]
struct Search {
    #[serde(default)]
    q: String,
}

/// The files a search finds: a registration number of this counter, else a telephone, else
/// part of a name.
async fn search(state: &AppState, q: &str) -> Result<Vec<UserRow>> {
    let q = q.trim();
    if q.is_empty() {
        return Ok(vec![]);
    }
    let counter = &state.counter;
    let mut tx = counter.store.begin().await?;
    let format = &counter.rules().registration_number;
    let found = if let Ok(number) = RegistrationNumber::parse(format, &q.to_uppercase()) {
        index::user_by_number(&mut tx, number.as_str())
            .await
            .map_err(reprint_site::SiteError::from)?
            .into_iter()
            .collect()
    } else if q.chars().any(|c| c.is_ascii_digit())
        && let Ok(phone) = Telephone::parse(q)
    {
        index::users_by_telephone(&mut tx, phone.as_str())
            .await
            .map_err(reprint_site::SiteError::from)?
    } else {
        db::users_by_name(&mut tx, q).await?
    };
    tx.rollback().await?;
    Ok(found)
}

async fn search_page(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    Query(query): Query<Search>,
) -> Response {
    let found = match search(&state, &query.q).await {
        Ok(f) => f,
        Err(e) => return error_page(&state, &viewer, Some(&staff), &e),
    };
    let title = viewer.t("customers-title");
    render(
        &state,
        &viewer,
        Some(&staff),
        &title,
        html! {
            h1 { (title) }
            form.scan method="get" action="/customers" role="search" {
                label for="q" { (viewer.t("customers-search-label")) }
                input #q type="search" name="q" value=(query.q) autofocus autocomplete="off" enterkeyhint="search";
                button type="submit" { (viewer.t("customers-search")) }
            }
            @if !query.q.trim().is_empty() {
                @if found.is_empty() {
                    p.notice #none role="status" { (viewer.tw("customers-none", &[("q", FluentValue::from(query.q.trim().to_string()))])) }
                } @else {
                    table #found {
                        thead { tr {
                            th { (viewer.t("customers-number")) }
                            th { (viewer.t("customers-name")) }
                            th { (viewer.t("customers-telephone")) }
                        } }
                        tbody {
                            @for row in &found {
                                tr {
                                    td { a href={ "/customers/" (row.registration_number) } { (row.registration_number) } }
                                    td { (row.name) }
                                    td { (row.telephone) }
                                }
                            }
                        }
                    }
                }
            }
            p { a.button.quiet href="/intake" { (viewer.t("customers-register-new")) } }
        },
    )
}

async fn file_page(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    UrlPath(number): UrlPath<String>,
) -> Response {
    let counter = &state.counter;
    let loaded = async {
        let number = RegistrationNumber::parse(&counter.rules().registration_number, &number)
            .map_err(|_| CounterError::NotFound(format!("no customer file {number:?}")))?;
        let mut tx = counter.store.begin().await?;
        if index::user_by_number(&mut tx, number.as_str())
            .await
            .map_err(reprint_site::SiteError::from)?
            .is_none()
        {
            return Err(CounterError::NotFound(format!("no customer file {number}")));
        }
        let loaded = counter.files.load(&mut tx, &number).await?;
        tx.rollback().await?;
        Ok(loaded)
    }
    .await;
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => return error_page(&state, &viewer, Some(&staff), &e),
    };
    let Some(user) = &loaded.file.user else {
        let e = CounterError::NotFound(format!("no customer file {number}"));
        return error_page(&state, &viewer, Some(&staff), &e);
    };
    let title = viewer.tw(
        "customers-file-title",
        &[("name", FluentValue::from(user.name.clone()))],
    );
    let state_word = |s: &ReceptionState| match s {
        ReceptionState::Open => viewer.t("customers-state-open"),
        ReceptionState::Collected { .. } => viewer.t("customers-state-collected"),
        ReceptionState::Cancelled { .. } => viewer.t("customers-state-cancelled"),
    };
    let number = user.registration_number.to_string();
    render_with(
        &state,
        &viewer,
        Some(&staff),
        &title,
        Some(html! { style { (maud::PreEscaped(STYLE)) } }),
        html! {
            h1 { (title) }
            p.row {
                a.button.go #new-intake href={ "/intake?registration_number=" (number) } { (viewer.t("customers-new-intake")) }
                a.button.quiet href="/customers" { (viewer.t("customers-back")) }
            }
            section.card #user-id {
                h2 { (viewer.t("customers-user-id")) }
                dl.check {
                    div { dt { (viewer.t("customers-number")) } dd #number { (number) } }
                    div { dt { (viewer.t("customers-name")) } dd { (user.name) } }
                    div { dt { (viewer.t("customers-telephone")) } dd { (user.telephone.as_str()) } }
                    div { dt { (viewer.t("customers-address")) } dd { (user.address.as_deref().unwrap_or("-")) } }
                    div { dt { (viewer.t("customers-registered")) } dd { (viewer.time(user.registered_at)) } }
                }
            }
            section #receptions {
                h2 { (viewer.t("customers-receptions")) }
                @if loaded.file.receptions.is_empty() {
                    p.muted { (viewer.t("customers-no-receptions")) }
                } @else {
                    div.scroll { table {
                        thead { tr {
                            th { (viewer.t("customers-reception")) }
                            th { (viewer.t("customers-date")) }
                            th { (viewer.t("customers-lab")) }
                            th.n { (viewer.t("customers-prints")) }
                            th.n { (viewer.t("customers-charge")) }
                            th { (viewer.t("customers-state")) }
                        } }
                        tbody {
                            @for r in loaded.file.receptions.iter().rev() {
                                tr {
                                    td { a href={ "/slip/" (r.number) } { (r.number) } }
                                    td { (viewer.time(r.received_at)) }
                                    td { (counter.config.lab(r.partner.as_str()).map_or(r.partner.as_str(), |l| l.name.as_str())) }
                                    td.n { (words::print_count(&r.items)) }
                                    td.n { (viewer.money(r.charge.total)) }
                                    td { (state_word(&r.state)) }
                                }
                            }
                        }
                    } }
                }
            }
        },
    )
}

/// The question at intake when the registration number's file has another telephone: the
/// same person (use the file) or a new customer (register anew). `fields` are the intake
/// form's, sent again with the answer.
pub fn number_question(
    state: &AppState,
    viewer: &Viewer,
    staff: &PageStaff,
    check: &NumberCheck,
    fields: &[(String, String)],
) -> Response {
    let NumberCheck::OtherTelephone {
        number,
        name,
        telephone_on_file,
        telephone_given,
    } = check
    else {
        let e = CounterError::Invalid("nothing to ask about this registration number".into());
        return error_page(state, viewer, Some(staff), &e);
    };
    let title = viewer.t("customers-question-title");
    let args = [
        ("number", FluentValue::from(number.clone())),
        ("name", FluentValue::from(name.clone())),
        ("on_file", FluentValue::from(telephone_on_file.clone())),
        ("given", FluentValue::from(telephone_given.clone())),
    ];
    with_status(
        StatusCode::CONFLICT,
        render(
            state,
            viewer,
            Some(staff),
            &title,
            html! {
                h1 { (title) }
                div.notice #question role="alert" {
                    p { (viewer.tw("customers-question-detail", &args)) }
                    p { strong { (viewer.t("customers-question-ask")) } }
                }
                form #answer method="post" action="/intake" enctype="multipart/form-data" {
                    input type="hidden" name="csrf" value=(staff.csrf(state));
                    @for (k, v) in fields {
                        input type="hidden" name=(k) value=(v);
                    }
                    p.row {
                        button.go #same type="submit" name="number_choice" value="same" {
                            (viewer.tw("customers-question-same", &args))
                        }
                        button.quiet #new type="submit" name="number_choice" value="new" {
                            (viewer.t("customers-question-new"))
                        }
                    }
                }
            },
        ),
    )
}
