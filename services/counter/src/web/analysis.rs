//! User analysis at the counter (seed 004: the receptions are kept in the counter's individual
//! user files "so that it can be used for user analysis later on", and "it may be good for the
//! reception counter so that it can cope with users better with differentiation"): the same
//! view as the lab's console ([`reprint_ui::analysis`]) of this counter's own files for a
//! period, on `/analysis`, each table also as CSV (`/analysis/<table>.csv`). The last table is
//! the labs its customers' orders went to ("(6)" of the counter's file). Every file is read per
//! request.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use reprint_domain::analysis::{self, Analysis, AnalysisPeriod};
use reprint_domain::extract::{Sharing, extract};
use reprint_domain::{RegistrationNumber, SiteKind};
use reprint_eventstore::sql;
use reprint_ui::analysis::{self as view, Viewpoint};
use serde::Deserialize;

use super::{Viewer, error_page, render};
use crate::AppState;
use crate::auth::PageStaff;
use crate::error::CounterError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/analysis", get(analysis_page))
        .route("/analysis/{file}", get(analysis_csv))
}

#[derive(Debug, Default, Deserialize)]
pub struct PeriodQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// Reads this counter's files and analyses them for the period asked for (the last twelve
/// weeks to today on the counter's calendar when none is).
async fn analyse(
    state: &AppState,
    viewer: &Viewer,
    q: &PeriodQuery,
) -> Result<Analysis, CounterError> {
    let counter = &state.counter;
    let today = counter.clock.now().with_timezone(&viewer.tz).date_naive();
    let period: AnalysisPeriod =
        view::period(&q.from, &q.to, today).map_err(|key| CounterError::Invalid(viewer.t(key)))?;
    let mut tx = counter.store.begin().await?;
    let numbers: Vec<(String,)> = sql::fetch(
        tx.conn(),
        "SELECT registration_number FROM site_user_files ORDER BY registration_number",
        &[],
    )
    .await?;
    let mut files = Vec::with_capacity(numbers.len());
    for (n,) in numbers {
        let number = RegistrationNumber::foreign(&n);
        files.push(counter.files.load(&mut tx, &number).await?.file);
    }
    tx.commit().await?;
    let rules = counter.rules();
    // The labs the orders went to: this counter's own files, whole.
    let own: Vec<_> = files
        .iter()
        .filter_map(|f| {
            let first = f.receptions.first()?;
            extract(
                f,
                &rules.site,
                SiteKind::Counter,
                &first.number,
                Sharing::WholeFile,
            )
        })
        .collect();
    Ok(analysis::analyse(rules, &files, &own, period))
}

async fn analysis_page(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    query: Result<Query<PeriodQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    match analyse(&state, &viewer, &q).await {
        Ok(a) => render(
            &state,
            &viewer,
            Some(&staff),
            &viewer.t("analysis-title"),
            view::content(viewer.lang, &a, "/analysis", Viewpoint::Counter),
        ),
        Err(e) => error_page(&state, &viewer, Some(&staff), &e),
    }
}

async fn analysis_csv(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    Path(file): Path<String>,
    query: Result<Query<PeriodQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let not_found = || CounterError::NotFound(viewer.t("analysis-no-such-table"));
    let Some(name) = file
        .strip_suffix(".csv")
        .filter(|n| view::TABLES.contains(n))
    else {
        return error_page(&state, &viewer, Some(&staff), &not_found());
    };
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let a = match analyse(&state, &viewer, &q).await {
        Ok(a) => a,
        Err(e) => return error_page(&state, &viewer, Some(&staff), &e),
    };
    let Some(body) = view::csv_of(viewer.lang, &a, name) else {
        return error_page(&state, &viewer, Some(&staff), &not_found());
    };
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}\"",
                    view::csv_file_name(name, a.period)
                ),
            ),
        ],
        body,
    )
        .into_response()
}
