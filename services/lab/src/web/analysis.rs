//! User analysis in the console (seed 004: the receptions are kept in the individual user files
//! "so that it can be used for user analysis later on"; an affiliated counter's whole file shows
//! "which system other than A Corporation and to what extent the user uses"): the figures of
//! [`reprint_domain::analysis`] for a period on `/analysis`, drawn by [`reprint_ui::analysis`]
//! (tables, bar charts in SVG), each table also as CSV (`/analysis/<table>.csv`, the page's
//! rows). Every file is read per request (the lab's files, then the counters' orders for their
//! whole files): fine for a lab's thousands of files; a projection would be the next step for
//! far more.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use reprint_domain::RegistrationNumber;
use reprint_domain::analysis::{self, Analysis, AnalysisPeriod};
use reprint_domain::extract::FileExtract;
use reprint_domain::protocol::OrderPlaced;
use reprint_ui::analysis::{self as view, Viewpoint};
use serde::Deserialize;

use super::{Op, error_page, render};
use crate::db;
use crate::error::{LabError, LabResult};
use crate::state::Lab;

pub fn routes() -> Router<Lab> {
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

/// The period asked for, or the last twelve weeks to today on the lab's calendar.
fn period_of(lab: &Lab, op: &Op, q: &PeriodQuery) -> LabResult<AnalysisPeriod> {
    let today = lab.clock.now().with_timezone(&op.tz).date_naive();
    view::period(&q.from, &q.to, today).map_err(|key| LabError::BadRequest(op.t(key)))
}

/// Reads every file and the counters' shared files, and analyses them.
async fn analyse(lab: &Lab, period: AnalysisPeriod) -> LabResult<Analysis> {
    let mut tx = lab.store.begin().await?;
    let numbers = db::registration_numbers(&mut tx).await?;
    let mut files = Vec::with_capacity(numbers.len());
    for n in numbers {
        let number = RegistrationNumber::foreign(&n);
        files.push(lab.files.load(&mut tx, &number).await?.file);
    }
    let shared: Vec<FileExtract> = db::counter_orders(&mut tx)
        .await?
        .iter()
        .filter_map(|json| serde_json::from_str::<OrderPlaced>(json).ok())
        .filter_map(|o| o.counter_extract)
        .collect();
    tx.commit().await?;
    Ok(analysis::analyse(lab.rules(), &files, &shared, period))
}

async fn analysis_page(
    State(lab): State<Lab>,
    op: Op,
    query: Result<Query<PeriodQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let result = async {
        let period = period_of(&lab, &op, &q)?;
        analyse(&lab, period).await
    }
    .await;
    match result {
        Ok(a) => render(
            &lab,
            &op,
            &op.t("analysis-title"),
            view::content(op.lang, &a, "/analysis", Viewpoint::Lab),
        ),
        Err(e) => error_page(&lab, &op, e),
    }
}

async fn analysis_csv(
    State(lab): State<Lab>,
    op: Op,
    Path(file): Path<String>,
    query: Result<Query<PeriodQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(name) = file
        .strip_suffix(".csv")
        .filter(|n| view::TABLES.contains(n))
    else {
        return error_page(
            &lab,
            &op,
            LabError::NotFound(op.t("analysis-no-such-table")),
        );
    };
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let result = async {
        let period = period_of(&lab, &op, &q)?;
        analyse(&lab, period).await
    }
    .await;
    let a = match result {
        Ok(a) => a,
        Err(e) => return error_page(&lab, &op, e),
    };
    let Some(body) = view::csv_of(op.lang, &a, name) else {
        return error_page(
            &lab,
            &op,
            LabError::NotFound(op.t("analysis-no-such-table")),
        );
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
