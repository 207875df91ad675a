//! Printer status from the hot folders: per printer, its job folders waiting for the station,
//! taken by it (`TAKEN`), done (`DONE`), failed (a `FAILED` or `ERROR` file the station writes
//! with its reason) and withdrawn (`VOID`); the oldest job still waiting and jobs waiting longer
//! than [`OLD_AFTER`]; jobs done in the last hour against the printer's rated prints per hour.
//! Above them, the print jobs on their way to the hot folder (`crate::printing`): queued for a
//! print worker, rendering, written, or failed with the worker's reason.

use std::path::Path;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, Utc};
use maud::html;

use super::{Op, render};
use crate::production::{DONE_MARKER, TAKEN_MARKER, VOID_MARKER};
use crate::state::Lab;

/// A job waiting or taken longer than this is shown as old.
pub const OLD_AFTER: Duration = Duration::from_secs(30 * 60);

/// The markers a station writes into a job it could not print.
pub const FAILED_MARKERS: [&str; 2] = ["FAILED", "ERROR"];

pub fn routes() -> Router<Lab> {
    Router::new().route("/printers", get(printers_page))
}

/// The print jobs' states (`crate::printing`) and their words.
const PRINT_JOB_STATES: [(&str, &str); 5] = [
    ("queued", "lab-pjob-queued"),
    ("rendering", "lab-pjob-rendering"),
    ("written", "lab-pjob-written"),
    ("failed", "lab-pjob-failed"),
    ("withdrawn", "lab-pjob-withdrawn"),
];

/// Where a job folder stands, by its markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Waiting,
    Taken,
    Done,
    Failed,
    Void,
}

impl JobState {
    fn key(self) -> &'static str {
        match self {
            JobState::Waiting => "lab-job-waiting",
            JobState::Taken => "lab-job-taken",
            JobState::Done => "lab-job-done",
            JobState::Failed => "lab-job-failed",
            JobState::Void => "lab-job-void",
        }
    }
}

/// One job folder of a hot folder.
#[derive(Debug, Clone)]
pub struct Job {
    pub folder: String,
    pub state: JobState,
    /// When the folder was written (its modification time).
    pub written: SystemTime,
    /// When it reached its state (the marker's time), if it has one.
    pub marked: Option<SystemTime>,
    /// What a failure marker says.
    pub reason: String,
}

/// The jobs of one hot folder (temporary folders of a render in progress left out).
pub fn scan(dir: &Path) -> std::io::Result<Vec<Job>> {
    let mut jobs = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(jobs),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || !entry.file_type()?.is_dir() {
            continue;
        }
        let path = entry.path();
        let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let written = mtime(&path).unwrap_or(SystemTime::UNIX_EPOCH);
        let failed = FAILED_MARKERS
            .iter()
            .map(|m| path.join(m))
            .find(|p| p.exists());
        let (state, marker) = if path.join(VOID_MARKER).exists() {
            (JobState::Void, Some(path.join(VOID_MARKER)))
        } else if let Some(f) = &failed {
            (JobState::Failed, Some(f.clone()))
        } else if path.join(DONE_MARKER).exists() {
            (JobState::Done, Some(path.join(DONE_MARKER)))
        } else if path.join(TAKEN_MARKER).exists() {
            (JobState::Taken, Some(path.join(TAKEN_MARKER)))
        } else {
            (JobState::Waiting, None)
        };
        let reason = failed
            .and_then(|f| std::fs::read_to_string(f).ok())
            .map(|s| s.chars().take(300).collect::<String>().trim().to_string())
            .unwrap_or_default();
        jobs.push(Job {
            folder: name,
            state,
            written,
            marked: marker.as_deref().and_then(mtime),
            reason,
        });
    }
    jobs.sort_by(|a, b| a.written.cmp(&b.written).then(a.folder.cmp(&b.folder)));
    Ok(jobs)
}

async fn printers_page(State(lab): State<Lab>, op: Op) -> Response {
    let dirs: Vec<(String, std::path::PathBuf)> = lab
        .printers
        .iter()
        .map(|p| (p.config.name.clone(), p.config.hot_folder.clone()))
        .collect();
    let scanned = tokio::task::spawn_blocking(move || {
        dirs.into_iter()
            .map(|(name, dir)| {
                let jobs = scan(&dir);
                (name, jobs)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let counts = crate::printing::job_counts(&lab).await.unwrap_or_default();
    let open_jobs = crate::printing::open_jobs(&lab, 200)
        .await
        .unwrap_or_default();
    let now = SystemTime::now();
    let at = |t: SystemTime| op.time(DateTime::<Utc>::from(t));
    let age = |t: SystemTime| now.duration_since(t).unwrap_or_default();
    let title = op.t("lab-printers-title");
    render(
        &lab,
        &op,
        &title,
        html! {
            h1 { (title) }
            @for (name, jobs) in &scanned {
                @let printer = lab.printer(name);
                section data-printer=(name) {
                    h2 { (name) }
                    @if let Some(p) = printer {
                        p {
                            (p.config.sizes.iter().map(|s| s.code()).collect::<Vec<_>>().join(", "))
                            " · " (p.config.dpi) " dpi · "
                            (reprint_ui::t_with(op.lang, "lab-rated", &[("count", p.config.prints_per_hour.into())]))
                        }
                    }
                    @let count = |state: &str| counts.iter().filter(|c| c.0 == *name && c.1 == state).map(|c| c.2).sum::<i64>();
                    @let mine: Vec<&crate::printing::JobRow> = open_jobs.iter().filter(|j| j.printer == *name).collect();
                    h3 { (op.t("lab-print-jobs")) }
                    div.scroll { table {
                        thead { tr {
                            @for (_, key) in PRINT_JOB_STATES {
                                th scope="col" { (op.t(key)) }
                            }
                        } }
                        tbody { tr {
                            @for (state, _) in PRINT_JOB_STATES {
                                td data-print-jobs=(state) .late[state == "failed" && count(state) > 0] { (count(state)) }
                            }
                        } }
                    } }
                    @if mine.is_empty() {
                        p { (op.t("lab-pjob-none")) }
                    } @else {
                        div.scroll { table {
                            thead { tr {
                                th scope="col" { (op.t("lab-col-reception")) }
                                th scope="col" { (op.t("lab-job-folder")) }
                                th scope="col" { (op.t("lab-col-state")) }
                                th scope="col" { (op.t("lab-pjob-worker")) }
                                th scope="col" { (op.t("lab-col-note")) }
                            } }
                            tbody { @for j in &mine { tr data-print-job=(j.state) {
                                td { a href={ "/receptions/" (j.reception_number) } { (j.reception_number) } }
                                td { (j.reception_number) "-" (j.size) " · " (j.prints) }
                                td { (op.t(PRINT_JOB_STATES.iter().find(|s| s.0 == j.state).map_or("lab-pjob-queued", |s| s.1))) }
                                td { (j.worker) }
                                td { (j.reason) }
                            } } }
                        } }
                    }
                    @match jobs {
                        Err(e) => p.error role="alert" { (op.t("lab-hot-folder-unreadable")) ": " (e.to_string()) },
                        Ok(jobs) => {
                            @let n = |s: JobState| jobs.iter().filter(|j| j.state == s).count() as i64;
                            @let done_hour = jobs.iter().filter(|j| j.state == JobState::Done && j.marked.is_some_and(|m| age(m) < Duration::from_secs(3600))).count() as i64;
                            @let old = jobs.iter().filter(|j| matches!(j.state, JobState::Waiting | JobState::Taken) && age(j.written) > OLD_AFTER).count() as i64;
                            div.scroll { table {
                                thead { tr {
                                    @for s in [JobState::Waiting, JobState::Taken, JobState::Done, JobState::Failed, JobState::Void] {
                                        th scope="col" { (op.t(s.key())) }
                                    }
                                    th scope="col" { (op.t("lab-job-old")) }
                                    th scope="col" { (op.t("lab-job-done-hour")) }
                                } }
                                tbody { tr {
                                    @for s in [JobState::Waiting, JobState::Taken, JobState::Done, JobState::Failed, JobState::Void] {
                                        td data-jobs=(s.key()) { (n(s)) }
                                    }
                                    td.late[old > 0] { (old) }
                                    td { (done_hour) }
                                } }
                            } }
                            @let open: Vec<&Job> = jobs.iter().filter(|j| j.state != JobState::Done).collect();
                            @if !open.is_empty() {
                                div.scroll { table {
                                    thead { tr {
                                        th scope="col" { (op.t("lab-job-folder")) }
                                        th scope="col" { (op.t("lab-col-state")) }
                                        th scope="col" { (op.t("lab-job-written")) }
                                        th scope="col" { (op.t("lab-col-note")) }
                                    } }
                                    tbody { @for j in &open { tr {
                                        td { (j.folder) }
                                        td { (op.t(j.state.key())) }
                                        td.late[matches!(j.state, JobState::Waiting | JobState::Taken) && age(j.written) > OLD_AFTER] { (at(j.written)) }
                                        td { (j.reason) }
                                    } } }
                                } }
                            }
                        }
                    }
                }
            }
        },
    )
}
