//! The live queue: receptions waiting, printing, printed and dispatched, as cards with a
//! thumbnail of their first print; filters (delivery counter, printer, size, route, due time);
//! counts per printer and per counter; one button per printer and size that starts printing
//! every reception waiting for it. The page asks for its queue again every few seconds
//! (`/queue/live`, the same markup) and shows it when it changed, so a new order appears
//! without a reload.

use std::collections::{BTreeMap, BTreeSet};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use maud::{Markup, PreEscaped, html};
use reprint_domain::protocol::OrderPlaced;
use serde::Deserialize;

use super::{
    Op, checked, error_page, money, render, render_with, route_words, size_words, state_words,
};
use crate::db::{self, ProductionRow, QueueLine};
use crate::error::LabResult;
use crate::state::Lab;

/// The states the queue shows, in the order of the work.
pub const SHOWN: [&str; 4] = ["received", "printing", "printed", "dispatched"];

/// How often the page asks for its queue again.
const POLL_MS: u32 = 3000;

pub fn routes() -> Router<Lab> {
    Router::new()
        .route("/", get(queue_page))
        .route("/queue/live", get(live))
        .route("/batch/start", post(batch_start))
        .merge(super::thumbs::routes())
}

/// The queue's filters (all optional; an empty one is no filter).
#[derive(Debug, Default, Deserialize, Clone)]
pub struct Filters {
    #[serde(default)]
    pub counter: String,
    #[serde(default)]
    pub printer: String,
    #[serde(default)]
    pub size: String,
    /// `internet` or `counter_medium`.
    #[serde(default)]
    pub route: String,
    /// `late`, `hour` (due within the hour) or `today`.
    #[serde(default)]
    pub due: String,
}

impl Filters {
    fn query(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("counter", &self.counter),
            ("printer", &self.printer),
            ("size", &self.size),
            ("route", &self.route),
            ("due", &self.due),
        ] {
            if !v.is_empty() {
                parts.push(format!("{k}={}", urlencode(v)));
            }
        }
        parts.join("&")
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// A reception on the queue with what the filters and cards need.
pub struct Entry {
    pub row: ProductionRow,
    pub order: Option<OrderPlaced>,
    pub lines: Vec<QueueLine>,
}

impl Entry {
    pub fn customer(&self) -> &str {
        self.order.as_ref().map_or("", |o| o.customer.name.as_str())
    }

    /// The counter's own reception number (Fig. 2), for orders a counter sent.
    pub fn counter_reception(&self) -> Option<String> {
        self.order
            .as_ref()?
            .counter_extract
            .as_ref()
            .map(|e| e.reception.number.as_str().to_string())
    }

    fn due(&self) -> Option<DateTime<Utc>> {
        self.row
            .estimated_finish
            .as_deref()
            .and_then(reprint_eventstore::sql::parse_ts)
    }

    fn keep(&self, f: &Filters, now: DateTime<Utc>, tz: chrono_tz::Tz) -> bool {
        (f.counter.is_empty() || self.row.counter == f.counter)
            && (f.route.is_empty() || self.row.route == f.route)
            && (f.printer.is_empty() || self.lines.iter().any(|l| l.printer == f.printer))
            && (f.size.is_empty() || self.lines.iter().any(|l| l.size == f.size))
            && match f.due.as_str() {
                "late" => self.due().is_some_and(|d| d < now) && self.unfinished(),
                "hour" => {
                    self.due()
                        .is_some_and(|d| d < now + chrono::Duration::hours(1))
                        && self.unfinished()
                }
                "today" => self.due().is_some_and(|d| {
                    d.with_timezone(&tz).date_naive() <= now.with_timezone(&tz).date_naive()
                }),
                _ => true,
            }
    }

    fn unfinished(&self) -> bool {
        matches!(self.row.state.as_str(), "received" | "printing")
    }
}

/// Every reception in the shown states with its order and printers' lines.
pub async fn entries(lab: &Lab) -> LabResult<Vec<Entry>> {
    let mut tx = lab.store.begin().await?;
    let mut rows = Vec::new();
    for state in SHOWN {
        let limit = if state == "dispatched" { 100 } else { 1000 };
        rows.extend(db::production_by_state(&mut tx, state, limit).await?);
    }
    let mut lines: BTreeMap<String, Vec<QueueLine>> = BTreeMap::new();
    for l in db::queue_lines_in(&mut tx, &SHOWN).await? {
        lines.entry(l.order_id.clone()).or_default().push(l);
    }
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|row| Entry {
            order: serde_json::from_str(&row.order_json).ok(),
            lines: lines.remove(&row.order_id).unwrap_or_default(),
            row,
        })
        .collect())
}

async fn queue_page(
    State(lab): State<Lab>,
    op: Op,
    query: Result<Query<Filters>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let f = query.map(|Query(q)| q).unwrap_or_default();
    let all = match entries(&lab).await {
        Ok(e) => e,
        Err(e) => return error_page(&lab, &op, e),
    };
    let title = op.t("lab-queue-title");
    let script = format!(
        "(function(){{var q={q};var box=document.getElementById('live');var last=box.innerHTML;\
function tick(){{fetch('/queue/live'+(q?'?'+q:''),{{credentials:'same-origin'}}).then(function(r){{if(r.redirected){{location.reload();return null}}return r.ok?r.text():null}}).then(function(t){{\
if(t!==null&&t!==last){{var a=document.activeElement;if(!(a&&box.contains(a)&&a.tagName==='SELECT')){{box.innerHTML=t;last=t;}}}}}}).catch(function(){{}}).finally(function(){{setTimeout(tick,{POLL_MS})}})}}\
setTimeout(tick,{POLL_MS});}})();",
        q = serde_json::to_string(&f.query()).unwrap_or_else(|_| "\"\"".into()),
    );
    let head = html! { script defer { (PreEscaped(format!("document.addEventListener('DOMContentLoaded',function(){{{script}}});"))) } };
    let content = html! {
        h1 { (title) }
        (filters_form(&lab, &op, &f, &all))
        div #live { (live_markup(&lab, &op, &f, &all)) }
    };
    render_with(&lab, &op, &title, head, content)
}

async fn live(
    State(lab): State<Lab>,
    op: Op,
    query: Result<Query<Filters>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let f = query.map(|Query(q)| q).unwrap_or_default();
    match entries(&lab).await {
        Ok(all) => (
            [(axum::http::header::CACHE_CONTROL, "no-store")],
            Html(live_markup(&lab, &op, &f, &all).into_string()),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

fn filters_form(lab: &Lab, op: &Op, f: &Filters, all: &[Entry]) -> Markup {
    let counters: BTreeSet<&str> = all.iter().map(|e| e.row.counter.as_str()).collect();
    let printers: Vec<&str> = lab
        .printers
        .iter()
        .map(|p| p.config.name.as_str())
        .collect();
    let sizes: BTreeSet<String> = lab
        .printers
        .iter()
        .flat_map(|p| p.config.sizes.iter().map(|s| s.code().to_string()))
        .collect();
    let select = |name: &str, label: String, current: &str, options: Vec<(String, String)>| {
        html! {
            label { (label)
                select name=(name) {
                    option value="" selected[current.is_empty()] { (op.t("lab-filter-all")) }
                    @for (v, words) in &options {
                        option value=(v) selected[current == v] { (words) }
                    }
                }
            }
        }
    };
    html! {
        form.bar.noprint method="get" action="/" aria-label=(op.t("lab-filters")) {
            (select("counter", op.t("lab-col-counter"), &f.counter,
                counters.iter().map(|c| (c.to_string(), c.to_string())).collect()))
            (select("printer", op.t("lab-col-printer"), &f.printer,
                printers.iter().map(|p| (p.to_string(), p.to_string())).collect()))
            (select("size", op.t("lab-col-size"), &f.size,
                sizes.iter().map(|s| (s.clone(), size_words(op.lang, s))).collect()))
            (select("route", op.t("lab-col-route"), &f.route,
                ["internet", "counter_medium"].iter().map(|r| (r.to_string(), route_words(op.lang, r))).collect()))
            (select("due", op.t("lab-col-due"), &f.due,
                ["late", "hour", "today"].iter().map(|d| (d.to_string(), op.t(&format!("lab-due-{d}")))).collect()))
            button { (op.t("lab-filter-show")) }
            @if !f.query().is_empty() { a.button.quiet href="/" { (op.t("lab-filter-clear")) } }
        }
    }
}

/// The queue itself: counts, batch starts, the receptions by state.
fn live_markup(lab: &Lab, op: &Op, f: &Filters, all: &[Entry]) -> Markup {
    let now = lab.clock.now();
    let shown: Vec<&Entry> = all.iter().filter(|e| e.keep(f, now, op.tz)).collect();
    // Counts per printer (prints and receptions waiting / printing) and per counter.
    let mut per_printer: BTreeMap<String, [i64; 4]> = lab
        .printers
        .iter()
        .map(|p| (p.config.name.clone(), [0; 4]))
        .collect();
    let mut per_counter: BTreeMap<String, [i64; 4]> = BTreeMap::new();
    // (printer, size) -> (receptions, prints) waiting.
    let mut batches: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for e in &shown {
        let i = SHOWN.iter().position(|s| *s == e.row.state).unwrap_or(0);
        per_counter.entry(e.row.counter.clone()).or_insert([0; 4])[i] += 1;
        for l in &e.lines {
            let c = per_printer.entry(l.printer.clone()).or_insert([0; 4]);
            match e.row.state.as_str() {
                "received" => {
                    c[0] += 1;
                    c[1] += l.prints;
                    let b = batches
                        .entry((l.printer.clone(), l.size.clone()))
                        .or_insert((0, 0));
                    b.0 += 1;
                    b.1 += l.prints;
                }
                "printing" => {
                    c[2] += 1;
                    c[3] += l.prints;
                }
                _ => {}
            }
        }
    }
    let csrf = op.csrf_field(lab);
    html! {
        p.noprint role="status" aria-live="polite" {
            (reprint_ui::t_with(op.lang, "lab-queue-summary", &[
                ("waiting", (shown.iter().filter(|e| e.row.state == "received").count() as i64).into()),
                ("printing", (shown.iter().filter(|e| e.row.state == "printing").count() as i64).into()),
                ("printed", (shown.iter().filter(|e| e.row.state == "printed").count() as i64).into()),
            ]))
            " · " (op.t("lab-updated")) " " (op.time(now))
        }
        @if !batches.is_empty() {
            section aria-labelledby="batch-h" {
                h2 #batch-h { (op.t("lab-batch-title")) }
                div.actions {
                    @for ((printer, size), (receptions, prints)) in &batches {
                        form method="post" action="/batch/start" {
                            (csrf)
                            input type="hidden" name="printer" value=(printer);
                            input type="hidden" name="size" value=(size);
                            button data-batch={ (printer) "/" (size) } {
                                (reprint_ui::t_with(op.lang, "lab-batch-start", &[
                                    ("printer", printer.clone().into()),
                                    ("size", size_words(op.lang, size).into()),
                                    ("receptions", (*receptions).into()),
                                    ("prints", (*prints).into()),
                                ]))
                            }
                        }
                    }
                }
            }
        }
        @for (i, state) in SHOWN.iter().enumerate() {
            @let list: Vec<&&Entry> = shown.iter().filter(|e| e.row.state == *state).collect();
            section aria-labelledby={ "st-" (i) } data-state=(state) {
                h2 id={ "st-" (i) } { (state_words(op.lang, state)) " (" (list.len()) ")" }
                @if list.is_empty() {
                    p { (op.t("lab-none")) }
                } @else {
                    ul.cards { @for e in &list { (card(op, e, now, &csrf)) } }
                }
            }
        }
        div.counts {
            section aria-labelledby="pp-h" {
                h2 #pp-h { (op.t("lab-per-printer")) }
                div.scroll { table {
                    thead { tr {
                        th scope="col" { (op.t("lab-col-printer")) }
                        th scope="col" { (op.t("lab-state-received")) }
                        th scope="col" { (op.t("lab-state-printing")) }
                    } }
                    tbody { @for (p, c) in &per_printer { tr data-printer=(p) {
                        th scope="row" { (p) }
                        td { (count_words(op, c[0], c[1])) }
                        td { (count_words(op, c[2], c[3])) }
                    } } }
                } }
            }
            section aria-labelledby="pc-h" {
                h2 #pc-h { (op.t("lab-per-counter")) }
                div.scroll { table {
                    thead { tr {
                        th scope="col" { (op.t("lab-col-counter")) }
                        @for s in SHOWN { th scope="col" { (state_words(op.lang, s)) } }
                    } }
                    tbody { @for (counter, c) in &per_counter { tr data-counter=(counter) {
                        th scope="row" { (counter) }
                        @for n in c { td { (n) } }
                    } } }
                } }
            }
        }
    }
}

fn count_words(op: &Op, receptions: i64, prints: i64) -> String {
    reprint_ui::t_with(
        op.lang,
        "lab-count-receptions-prints",
        &[("receptions", receptions.into()), ("prints", prints.into())],
    )
}

fn card(op: &Op, e: &Entry, now: DateTime<Utc>, csrf: &Markup) -> Markup {
    let r = &e.row;
    let late = e.unfinished() && e.due().is_some_and(|d| d < now);
    let sizes: Vec<String> = e
        .lines
        .iter()
        .map(|l| format!("{} × {} · {}", l.size, l.prints, l.printer))
        .collect();
    let action = match r.state.as_str() {
        "received" => Some(("start-printing", "lab-action-start")),
        "printing" => Some(("finished", "lab-action-finished")),
        "printed" => Some(("dispatch", "lab-action-dispatch")),
        _ => None,
    };
    html! {
        li.card data-reception=(r.reception_number) {
            @if e.order.as_ref().is_some_and(|o| !o.items.is_empty()) {
                img src={ "/receptions/" (r.reception_number) "/prints/0" } alt="" loading="lazy" width="72" height="72";
            }
            div.what {
                a.num href={ "/receptions/" (r.reception_number) } { (r.reception_number) }
                @if let Some(c) = e.counter_reception() { " · " span title=(op.t("lab-counter-slip")) { (c) } }
                br;
                (e.customer()) br;
                (route_words(op.lang, &r.route)) " → " (r.counter) br;
                (reprint_ui::t_with(op.lang, "prints", &[("count", r.prints.into())]))
                " · " (money(op.lang, &r.currency, r.charge_minor)) br;
                small { (sizes.join(", ")) } br;
                @if let Some(d) = e.due() {
                    @if late { span.late { (op.t("lab-due-was")) " " (op.time(d)) } }
                    @else { (op.t("lab-due-at")) " " (op.time(d)) }
                }
                @if let Some((a, key)) = action {
                    form.noprint method="post" action={ "/receptions/" (r.reception_number) "/" (a) } {
                        (csrf)
                        input type="hidden" name="back" value="/";
                        button { (op.t(key)) }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct BatchForm {
    csrf: Option<String>,
    printer: String,
    size: String,
}

/// `POST /batch/start`: starts printing every reception waiting with prints of `size` on
/// `printer` (each whole reception: its other sizes go to their printers too); what could not
/// start is listed with its reason.
async fn batch_start(
    State(lab): State<Lab>,
    op: Op,
    form: Result<Form<BatchForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(f)) => f,
        Err(e) => {
            return error_page(&lab, &op, crate::error::LabError::BadRequest(e.body_text()));
        }
    };
    if let Err(r) = checked(&lab, &op, form.csrf.as_deref()) {
        return *r;
    }
    match start_batch(&lab, &form.printer, &form.size, &op.session.user).await {
        Ok((started, failed)) => {
            let title = op.t("lab-batch-done-title");
            render(
                &lab,
                &op,
                &title,
                html! {
                    h1 { (title) }
                    p role="status" { (reprint_ui::t_with(op.lang, "lab-batch-done", &[
                        ("count", (started.len() as i64).into()),
                        ("printer", form.printer.clone().into()),
                        ("size", size_words(op.lang, &form.size).into()),
                    ])) }
                    @if !started.is_empty() {
                        ul { @for n in &started { li { a href={ "/receptions/" (n) } { (n) } } } }
                    }
                    @if !failed.is_empty() {
                        h2 { (op.t("lab-batch-failed")) }
                        ul { @for (n, why) in &failed { li { a href={ "/receptions/" (n) } { (n) } ": " (why) } } }
                    }
                    p { a.button href="/" { (op.t("lab-back-to-queue")) } }
                },
            )
        }
        Err(e) => error_page(&lab, &op, e),
    }
}

/// Starts every reception waiting with prints of `size` on `printer`; the started reception
/// numbers, and those that could not start with the reason.
pub async fn start_batch(
    lab: &Lab,
    printer: &str,
    size: &str,
    who: &str,
) -> LabResult<(Vec<String>, Vec<(String, String)>)> {
    if lab.printer(printer).is_none() {
        return Err(crate::error::LabError::NotFound(format!(
            "no printer {printer:?} at this lab"
        )));
    }
    let all = entries(lab).await?;
    let mut started = Vec::new();
    let mut failed = Vec::new();
    for e in all.iter().filter(|e| {
        e.row.state == "received"
            && e.lines
                .iter()
                .any(|l| l.printer == printer && l.size == size)
    }) {
        let n = &e.row.reception_number;
        match crate::production::start_printing(lab, n, &format!("operator {who}")).await {
            Ok(_) => started.push(n.clone()),
            Err(err) => failed.push((n.clone(), err.problem().detail.clone())),
        }
    }
    Ok((started, failed))
}
