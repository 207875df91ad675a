//! The ops dashboard (`/ops`, ops accounts only; anyone else gets "not found"), answering what
//! the person on call asks:
//! - which site is down: every lab and counter of the site directory with its last heartbeat
//!   and version, green / amber / red by the thresholds of `[ops]`; this gateway's own outbox
//!   backlog and consumer lag beside it;
//! - which leg is slow: p50 / p95 of each leg of an order's way per lab and per counter, from
//!   the times of the status stream, as a table and a chart;
//! - what is stuck: orders that stayed in a stage longer than its threshold, each with a page
//!   of its whole timeline across the sites (`/ops/orders/{id}`);
//! - money: the balances per lab and counter, their daily history and a CSV export
//!   (`/ops/settlements.csv`).
//!
//! A period of days (`?from=&to=`, the reader's) narrows the stages over time (by the hour
//! for two days or less, else by the day) and the money's history; the figures are counted by
//! the database ([`queries`]), so the page's memory does not grow with the history.
//!
//! Sites by name, stages in words, money as the reader writes it, local times; drafts and
//! orders without a site are kept out of the figures. The figures refresh in place every 10 s
//! (a box to stop it).

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use reprint_bus::subjects::SiteKind as BusSiteKind;
use reprint_domain::protocol::Stage;
use reprint_domain::{Currency, Money};
use reprint_eventstore::sql::Arg;
use reprint_ui::chart::{self, Chart, Kind, Series};

mod queries;

use super::{Viewer, render_with};
use crate::api;
use crate::config::OpsConfig;
use crate::error::{AppError, AppResult};
use crate::settlements::{self, LegTimes};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ops", get(ops))
        .route("/ops/orders/{id}", get(order_page))
        .route("/ops/settlements.csv", get(settlements_csv))
        .route("/ops/money/{lab}/{counter}", get(money_page))
}

/// A stage code of the gateway's tables in the reader's words (`None`: a draft, not counted).
fn stage_words(viewer: &Viewer, code: &str) -> Option<String> {
    match serde_json::from_value::<Stage>(serde_json::Value::String(code.to_string())) {
        Ok(stage) => Some(reprint_ui::stage(viewer.lang, stage)),
        Err(_) if code == "draft" => None,
        Err(_) => Some(code.to_string()),
    }
}

fn money(viewer: &Viewer, minor: i64, currency: &str) -> String {
    match Currency::parse(currency) {
        Ok(c) => reprint_ui::money(viewer.lang, Money::new(minor, c)),
        Err(_) => format!("{minor} {currency}"),
    }
}

/// A length of time in words, to the second under a minute, else to the minute or hour.
fn duration(viewer: &Viewer, ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m) = (s / 86_400, s / 3600 % 24, s / 60 % 60);
    let (key, args): (&str, Vec<(&'static str, i64)>) = if s < 60 {
        ("ops-duration-s", vec![("s", s)])
    } else if s < 3600 {
        ("ops-duration-m", vec![("m", m)])
    } else if s < 86_400 {
        ("ops-duration-hm", vec![("h", h), ("m", m)])
    } else {
        ("ops-duration-dh", vec![("d", d), ("h", h)])
    };
    let args: Vec<(
        &'static str,
        fluent_templates::fluent_bundle::FluentValue<'static>,
    )> = args.into_iter().map(|(k, v)| (k, v.into())).collect();
    reprint_ui::t_with(viewer.lang, key, &args)
}

/// `reprint_consumer_lag{consumer="lab-lab-a-inbox",service="lab"} 7` as (consumer, lag).
fn consumer_lags(metrics: &str) -> Vec<(String, u64)> {
    metrics
        .lines()
        .filter(|l| l.starts_with("reprint_consumer_lag{"))
        .filter_map(|l| {
            let (labels, value) = l.rsplit_once(' ')?;
            let consumer = labels
                .split("consumer=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or(labels);
            Some((
                consumer.to_string(),
                value.trim().parse::<f64>().ok()? as u64,
            ))
        })
        .collect()
}

/// Green, amber or red.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    Good,
    Late,
    Down,
}

impl Health {
    fn key(self) -> &'static str {
        match self {
            Health::Good => "ops-health-good",
            Health::Late => "ops-health-late",
            Health::Down => "ops-health-down",
        }
    }
    fn class(self) -> &'static str {
        match self {
            Health::Good => "h-good",
            Health::Late => "h-late",
            Health::Down => "h-down",
        }
    }
}

/// A site's health by the age of its last heartbeat against its own interval.
pub fn heartbeat_health(ops: &OpsConfig, age_ms: i64, interval_secs: u64) -> Health {
    let interval_ms = i64::try_from(interval_secs.max(1)).unwrap_or(i64::MAX / 2000) * 1000;
    if age_ms > interval_ms.saturating_mul(i64::from(ops.heartbeat_red_missed)) {
        Health::Down
    } else if age_ms > interval_ms.saturating_mul(i64::from(ops.heartbeat_amber_missed)) {
        Health::Late
    } else {
        Health::Good
    }
}

/// A count's health against its amber / red thresholds.
pub fn count_health(n: u64, amber: u64, red: u64) -> Health {
    if n >= red {
        Health::Down
    } else if n >= amber {
        Health::Late
    } else {
        Health::Good
    }
}

fn badge(viewer: &Viewer, h: Health) -> Markup {
    html! { span class={ "badge " (h.class()) } { (viewer.t(h.key())) } }
}

const STYLE: &str = "\
.badge{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:700;white-space:nowrap}\
.h-good{background:#d8f0dc;color:#0b5d1e}.h-late{background:#fde9b8;color:#6b4500}\
.h-down{background:#f9d0d0;color:#8a1010}\
.ops-links a{display:inline-flex;align-items:center;min-height:44px}\
.live{display:inline-flex;align-items:center;gap:8px;min-height:44px}.live input{width:44px;height:44px;margin:0}\
td a{display:inline-flex;align-items:center;min-height:44px}\
th{overflow-wrap:normal}\
.scroll td{overflow-wrap:normal}td.day{white-space:nowrap}\
h4{margin:16px 0 0}\
.summary{display:flex;flex-wrap:wrap;gap:8px;padding:0;list-style:none}\
.period{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:8px 0}\
.period a{display:inline-flex;align-items:center;min-height:44px}\
.period .field{display:inline-flex;align-items:center;gap:8px}\
.summary li{padding:8px 12px;border-radius:8px;background:#fff;border:1px solid #ddd}\
";

/// Every 10 s, while the box is ticked, the page's figures are fetched again and replaced in
/// place (no reload: the reader keeps their place; a timed reload would fail WCAG 2.2.1).
const LIVE_JS: &str = "(() => {
  const box = document.getElementById('live');
  setInterval(async () => {
    if (!box || !box.checked || document.hidden) return;
    try {
      const r = await fetch(location.pathname + location.search, {credentials: 'same-origin'});
      if (!r.ok) return;
      const fresh = new DOMParser().parseFromString(await r.text(), 'text/html')
        .getElementById('live-content');
      const here = document.getElementById('live-content');
      if (!fresh || !here) return;
      // What the reader unfolded stays unfolded.
      const open = [...here.querySelectorAll('details')].map(d => d.open);
      fresh.querySelectorAll('details').forEach((d, i) => { if (open[i]) d.open = true; });
      here.replaceWith(fresh);
    } catch (e) { /* offline: try again at the next turn */ }
  }, 10000);
})();";

/// The legs of each site as horizontal bars (the leg's name above its p50 and p95 bars, the
/// times at their ends, a time axis), one chart per site; the `#legs` table holds the figures.
fn legs_chart(viewer: &Viewer, legs: &[LegTimes], site: &dyn Fn(&str) -> String) -> Markup {
    let mut sites: Vec<(&str, Vec<&LegTimes>)> = Vec::new();
    for l in legs {
        match sites.last_mut() {
            Some((s, v)) if *s == l.site => v.push(l),
            _ => sites.push((&l.site, vec![l])),
        }
    }
    let time = |ms: i64| duration(viewer, ms);
    html! {
        @for (n, (id, rows)) in sites.iter().enumerate() {
            h4 { (site(id)) }
            (chart::chart(viewer.lang, &Chart {
                id: &format!("chart-legs-{n}"),
                title: &format!("{}: {}", viewer.t("ops-legs-chart-label"), site(id)),
                x_axis: &viewer.t("ops-leg"),
                y_axis: &viewer.t("ops-legs-axis"),
                kind: Kind::Horizontal,
                categories: rows
                    .iter()
                    .map(|l| format!("{} → {}", reprint_ui::stage(viewer.lang, l.from), reprint_ui::stage(viewer.lang, l.to)))
                    .collect(),
                series: vec![
                    Series { name: "p50".into(), values: rows.iter().map(|l| l.p50_ms).collect() },
                    Series { name: "p95".into(), values: rows.iter().map(|l| l.p95_ms).collect() },
                ],
                format: Some(&time),
                table: Some("legs"),
                colours: Some(&["#1f618d", "#7fb3d5"]),
            }))
        }
    }
}

/// Orders placed per hour over the last 24 hours, as bars with an axis and their counts.
fn hourly_chart(viewer: &Viewer, hours: &[(i64, i64)], now_ms: i64) -> Markup {
    let now_h = now_ms.div_euclid(3_600_000);
    let mut counts = vec![0i64; 24];
    for &(hour, n) in hours {
        if let Ok(i) = usize::try_from(23 - (now_h - hour))
            && let Some(c) = counts.get_mut(i)
        {
            *c += n;
        }
    }
    chart::chart(
        viewer.lang,
        &Chart {
            id: "chart-placed",
            title: &viewer.t("ops-chart-label"),
            x_axis: &viewer.t("ops-hour"),
            y_axis: &viewer.t("ops-orders"),
            kind: Kind::Bars,
            categories: (0..24)
                .map(|i| hour_label(viewer, (now_h - 23 + i) * 3_600_000))
                .collect(),
            series: vec![Series {
                name: viewer.t("ops-orders"),
                values: counts,
            }],
            format: None,
            table: None,
            colours: None,
        },
    )
}

/// The colour of each stage of [`settlements::OPEN_STAGES`] in the stages-over-time chart.
const STAGE_COLOURS: [&str; 6] = [
    "#9ecae1", "#4292c6", "#08519c", "#74c476", "#238b45", "#fd8d3c",
];

/// The local hour of `ms` (`14:00`).
fn hour_label(viewer: &Viewer, ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&viewer.tz).format("%H:00").to_string())
        .unwrap_or_default()
}

/// Orders in each open stage at the end of each hour (or day: `by_day`), as stacked bars with
/// an axis (orders; local hours or days), each bar's total above it, a legend; a table of the
/// same figures below for reading them exactly.
fn stages_chart(viewer: &Viewer, hours: &[settlements::StagesAt], by_day: bool) -> Markup {
    let label = |ms: i64| {
        if by_day {
            DateTime::from_timestamp_millis(ms)
                .map(|t| t.with_timezone(&viewer.tz).format("%m-%d").to_string())
                .unwrap_or_default()
        } else {
            hour_label(viewer, ms)
        }
    };
    let unit = viewer.t(if by_day { "ops-day" } else { "ops-hour" });
    if hours.is_empty() {
        return html! { p { (viewer.t("ops-none")) } };
    }
    html! {
        (chart::chart(viewer.lang, &Chart {
            id: "chart-stages",
            title: &viewer.t(if by_day { "ops-stages-chart-label-days" } else { "ops-stages-chart-label" }),
            x_axis: &unit,
            y_axis: &viewer.t("ops-orders"),
            kind: Kind::Stacked,
            categories: hours.iter().map(|x| label(x.hour_ms)).collect(),
            series: settlements::OPEN_STAGES
                .iter()
                .enumerate()
                .map(|(k, s)| Series {
                    name: reprint_ui::stage(viewer.lang, *s),
                    values: hours.iter().map(|x| x.counts[k]).collect(),
                })
                .collect(),
            format: None,
            table: Some("stages-over-time"),
            colours: Some(&STAGE_COLOURS),
        }))
        details {
            summary { (viewer.t(if by_day { "ops-stages-figures-days" } else { "ops-stages-figures" })) }
            div.scroll tabindex="0" { table #stages-over-time {
                thead { tr {
                    th { (unit) }
                    @for s in &settlements::OPEN_STAGES { th { (reprint_ui::stage(viewer.lang, *s)) } }
                } }
                tbody {
                    @for x in hours {
                        tr data-hour=(x.hour_ms) {
                            td { (label(x.hour_ms)) }
                            @for c in &x.counts { td { (c) } }
                        }
                    }
                }
            } }
        }
    }
}

/// The ops account, or the answer for anyone else (log-in, or "not found").
fn need_ops(viewer: &Viewer) -> AppResult<Result<(), Response>> {
    let user = match viewer.need_user() {
        Ok(u) => u,
        Err(r) => return Ok(Err(*r)),
    };
    if !user.is_ops() {
        return Err(AppError::NotFound("page".into()));
    }
    Ok(Ok(()))
}

/// Site ids to "Name (id)", as ops know them by both.
async fn site_names(state: &AppState) -> BTreeMap<String, String> {
    api::list_sites(state)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect()
}

fn site_label(names: &BTreeMap<String, String>, id: &str) -> String {
    match names.get(id) {
        Some(name) if name != id => format!("{name} ({id})"),
        _ => id.to_string(),
    }
}

/// One row of the health table.
struct SiteRow {
    id: String,
    kind: String,
    last_heartbeat: DateTime<Utc>,
    version: String,
    /// The worst of the heartbeat's, the lag's and the backlog's.
    health: Health,
    heartbeat: Health,
    /// What it said of its queues at its last heartbeat (older sites say nothing).
    queues: Option<reprint_bus::directory::SiteHealth>,
}

async fn site_health(state: &AppState) -> AppResult<Vec<SiteRow>> {
    let now = state.clock.now();
    let ops = &state.config.ops;
    let mut sites: Vec<SiteRow> = state
        .directory
        .list()
        .await?
        .into_iter()
        .filter(|e| e.site.kind != BusSiteKind::Gateway)
        .map(|e| {
            let age = now
                .signed_duration_since(e.site.last_heartbeat)
                .num_milliseconds();
            let heartbeat = heartbeat_health(ops, age, e.site.heartbeat_interval_secs);
            let queues = e.site.health;
            let health = queues.as_ref().map_or(heartbeat, |q| {
                heartbeat
                    .max(count_health(q.consumer_lag, ops.lag_amber, ops.lag_red))
                    .max(count_health(
                        q.outbox_backlog,
                        ops.backlog_amber,
                        ops.backlog_red,
                    ))
                    .max(if q.parked.unwrap_or(0) > 0 {
                        Health::Late
                    } else {
                        Health::Good
                    })
            });
            SiteRow {
                id: e.site.id.to_string(),
                kind: e.site.kind.to_string(),
                last_heartbeat: e.site.last_heartbeat,
                version: e.site.version,
                health,
                heartbeat,
                queues,
            }
        })
        .collect();
    // The worst first: the one to look at.
    sites.sort_by(|a, b| b.health.cmp(&a.health).then(a.id.cmp(&b.id)));
    Ok(sites)
}

/// `?from=YYYY-MM-DD&to=YYYY-MM-DD`: the days (the reader's) the money's period and the
/// stages-over-time chart cover; without them the money's whole history and the chart's last
/// 24 hours.
#[derive(Debug, Default, serde::Deserialize)]
struct Period {
    from: Option<String>,
    to: Option<String>,
}

/// A day of the form (`None`: left empty), or the clear error of one not written as a day.
fn form_day(name: &str, value: Option<&str>) -> AppResult<Option<chrono::NaiveDate>> {
    match value.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                AppError::BadRequest(format!("{name}: {s:?} is not a day written YYYY-MM-DD"))
            }),
    }
}

/// The longest period the stages-over-time chart shows, in days (its last days).
const STAGES_MAX_DAYS: i64 = 92;

/// The start of `day` in `tz` (ms since the epoch).
fn day_start(tz: chrono_tz::Tz, day: chrono::NaiveDate) -> i64 {
    use chrono::TimeZone;
    let midnight = day.and_time(chrono::NaiveTime::MIN);
    tz.from_local_datetime(&midnight).earliest().map_or_else(
        || midnight.and_utc().timestamp_millis(),
        |t| t.timestamp_millis(),
    )
}

/// The bars of the stages-over-time chart: the last 24 hours, or the days `from` to `to` (the
/// reader's) by the hour when they span two days or less, else by the day (at most the last
/// [`STAGES_MAX_DAYS`]). Without `from`: the week to `to`; without `to`: to now. `true` with
/// them: by the day.
fn stage_buckets(
    tz: chrono_tz::Tz,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    now_ms: i64,
) -> (Vec<queries::Bucket>, bool) {
    if from.is_none() && to.is_none() {
        return (queries::last_hours(now_ms, 24), false);
    }
    const HOUR: i64 = 3_600_000;
    let today = DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .with_timezone(&tz)
        .date_naive();
    let last = to.unwrap_or(today).min(today);
    let first = from.unwrap_or_else(|| last - chrono::Days::new(6));
    let end = day_start(tz, last + chrono::Days::new(1)).min(now_ms);
    if first > last {
        return (Vec::new(), false);
    }
    if (last - first).num_days() < 2 {
        let start = day_start(tz, first);
        let hours = (start.div_euclid(HOUR)..=(end - 1).div_euclid(HOUR))
            .map(|h| queries::Bucket {
                start_ms: h * HOUR,
                at_ms: ((h + 1) * HOUR).min(end),
            })
            .filter(|b| b.start_ms < end)
            .collect();
        return (hours, false);
    }
    let first = first.max(last - chrono::Days::new(STAGES_MAX_DAYS as u64 - 1));
    let days = first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|d| queries::Bucket {
            start_ms: day_start(tz, d),
            at_ms: day_start(tz, d + chrono::Days::new(1)).min(end),
        })
        .filter(|b| b.start_ms < end)
        .collect();
    (days, true)
}

async fn ops(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::extract::Query(period): axum::extract::Query<Period>,
) -> AppResult<Response> {
    if let Err(r) = need_ops(&viewer)? {
        return Ok(r);
    }
    let from = form_day("from", period.from.as_deref())?;
    let to = form_day("to", period.to.as_deref())?;
    let now_ms = state.now_ms();
    let names = site_names(&state).await;
    let site = |id: &str| site_label(&names, id);
    // Drafts and orders that name no site are not orders anybody works on.
    let rows = |counts: Vec<(String, String, String, i64)>| -> Vec<(String, String, String, i64)> {
        counts
            .into_iter()
            .filter(|(_, lab, counter, _)| !lab.is_empty() || !counter.is_empty())
            .filter_map(|(stage, lab, counter, n)| {
                Some((stage_words(&viewer, &stage)?, site(&lab), site(&counter), n))
            })
            .collect()
    };
    let network = rows(settlements::network_stage_counts(&state).await?);
    let local = rows(
        api::stage_counts(&state)
            .await?
            .into_iter()
            .map(|((s, l, c), n)| (s, l, c, n))
            .collect(),
    );
    let balances = settlements::balances(&state).await?;
    let since = from.map(|d| day_start(viewer.tz, d));
    let mut daily = queries::daily_balances(&state, viewer.tz, since).await?;
    daily.retain(|d| from.is_none_or(|f| d.day >= f) && to.is_none_or(|t| d.day <= t));
    // The period's sums per lab, counter and currency (what X owes Y since Monday).
    let mut period_sums: BTreeMap<(String, String, String), [i64; 3]> = BTreeMap::new();
    for d in &daily {
        let e = period_sums
            .entry((d.lab.clone(), d.counter.clone(), d.currency.clone()))
            .or_default();
        e[0] += d.charged_minor;
        e[1] += d.collected_minor;
        e[2] += d.settled_minor;
    }
    let health = site_health(&state).await?;
    let legs = queries::leg_times(&state, now_ms - 7 * 86_400_000).await?;
    let stuck = queries::stuck_orders(&state, now_ms).await?;
    let (buckets, by_day) = stage_buckets(viewer.tz, from, to, now_ms);
    let stages = queries::stages_over_time(&state, &buckets).await?;
    // A period longer than the chart shows: its last days, said so.
    let clamped = by_day
        && from.is_some_and(|f| {
            buckets
                .first()
                .is_some_and(|b| b.start_ms > day_start(viewer.tz, f))
        });
    let hours: Vec<(i64, i64)> = crate::db::fetch(
        &state.store,
        "SELECT CAST(submitted_ms / 3600000 AS BIGINT) AS h, CAST(COUNT(*) AS BIGINT) FROM gw_orders
         WHERE submitted_ms IS NOT NULL AND submitted_ms > $1 GROUP BY h ORDER BY h",
        &[Arg::Int(now_ms - 24 * 3_600_000)],
    )
    .await?;
    let ops = &state.config.ops;
    let backlog = state.store.unsent_count().await.unwrap_or(0);
    let lags = consumer_lags(&state.metrics.render());
    let parked = state.metrics.parked_messages.get();
    let down = health.iter().filter(|s| s.health == Health::Down).count();
    let late = health.iter().filter(|s| s.health == Health::Late).count();
    let count =
        |key: &str, n: usize| reprint_ui::t_with(viewer.lang, key, &[("count", (n as i64).into())]);
    let title = viewer.t("ops-title");
    let content = html! {
        h1 { (title) }
        p { label.live { input #live type="checkbox" checked; " " (viewer.t("ops-refreshes")) } }
        form.period method="get" action="/ops" {
            span.field {
                label for="from" { (viewer.t("ops-from")) }
                input #from type="date" name="from" value=(from.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default());
            }
            span.field {
                label for="to" { (viewer.t("ops-to")) }
                input #to type="date" name="to" value=(to.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default());
            }
            button type="submit" { (viewer.t("ops-show")) }
            @if from.is_some() || to.is_some() { a href="/ops" { (viewer.t("ops-period-clear")) } }
        }
        p { small { (viewer.t("ops-period-scope")) } }
        div #live-content {
        ul.summary {
            li { (badge(&viewer, if down > 0 { Health::Down } else { Health::Good })) " " (count("ops-summary-down", down)) }
            li { (badge(&viewer, if late > 0 { Health::Late } else { Health::Good })) " " (count("ops-summary-late", late)) }
            li { (badge(&viewer, if stuck.is_empty() { Health::Good } else { Health::Late })) " " (count("ops-summary-stuck", stuck.len())) }
        }

        h2 #health { (viewer.t("ops-health")) }
        div.scroll tabindex="0" { table #sites {
            thead { tr {
                th { (viewer.t("ops-site")) } th { (viewer.t("ops-state")) }
                th { (viewer.t("ops-last-heartbeat")) }
                th { (viewer.t("ops-site-lag")) } th { (viewer.t("ops-site-backlog")) }
                th { (viewer.t("ops-site-parked")) } th { (viewer.t("ops-site-error")) }
                th { (viewer.t("ops-version")) }
            } }
            tbody {
                @for s in &health {
                    tr data-site=(s.id) data-health=(s.health.class())
                        data-backlog=(s.queues.as_ref().map(|q| q.outbox_backlog.to_string()).unwrap_or_default()) {
                        td { (site(&s.id)) br; small { (viewer.t(if s.kind == "lab" { "ops-kind-lab" } else { "ops-kind-counter" })) } }
                        td { (badge(&viewer, s.health)) }
                        td { (viewer.time(s.last_heartbeat)) br;
                            small { (reprint_ui::t_with(viewer.lang, "ops-ago", &[("time", duration(&viewer, now_ms - s.last_heartbeat.timestamp_millis()).into())])) }
                            @if s.heartbeat != Health::Good { br; (badge(&viewer, s.heartbeat)) } }
                        @match &s.queues {
                            Some(q) => {
                                td { (q.consumer_lag) }
                                td { (q.outbox_backlog)
                                    @if s.heartbeat != Health::Good { br; small { (viewer.t("ops-at-last-heartbeat")) } } }
                                td { (q.parked.map(|n| n.to_string()).unwrap_or_else(|| viewer.t("ops-not-said"))) }
                                @let recent = q.last_error.is_some() && q.last_error_at.is_some_and(|at| {
                                    now_ms - at.timestamp_millis() < ops.last_error_amber_minutes * 60_000
                                });
                                td.last-error data-recent=(recent) {
                                    @match &q.last_error {
                                        Some(e) => {
                                            @if recent { (badge(&viewer, Health::Late)) " " }
                                            (e)
                                            @if let Some(at) = q.last_error_at { br; small { (viewer.time(at)) } }
                                        }
                                        None => { (viewer.t("ops-no-error")) }
                                    }
                                }
                            }
                            None => {
                                td colspan="4" { (viewer.t("ops-not-said")) }
                            }
                        }
                        td { (s.version) }
                    }
                }
                @if health.is_empty() { tr { td colspan="8" { (viewer.t("ops-none")) } } }
            }
        } }
        p { (viewer.t("ops-health-scope")) }
        h3 { (viewer.t("ops-gateway")) }
        div.scroll tabindex="0" { table #gateway {
            thead { tr { th { (viewer.t("ops-what")) } th { (viewer.t("ops-state")) } th { (viewer.t("ops-lag-messages")) } } }
            tbody {
                tr {
                    td { (viewer.t("ops-backlog")) }
                    td { (badge(&viewer, count_health(backlog, ops.backlog_amber, ops.backlog_red))) }
                    td { (backlog) }
                }
                tr {
                    td { (viewer.t("ops-site-parked")) }
                    td { (badge(&viewer, if parked > 0 { Health::Late } else { Health::Good })) }
                    td { (parked) }
                }
                @for (consumer, lag) in &lags {
                    tr {
                        td { (viewer.t("ops-lag")) ": " code { (consumer) } }
                        td { (badge(&viewer, count_health(*lag, ops.lag_amber, ops.lag_red))) }
                        td { (lag) }
                    }
                }
            }
        } }

        h2 #stuck { (viewer.t("ops-stuck")) }
        div.scroll tabindex="0" { table #stuck-orders {
            thead { tr {
                th { (viewer.t("ops-order")) } th { (viewer.t("ops-stage")) } th { (viewer.t("ops-lab")) }
                th { (viewer.t("ops-counter")) } th { (viewer.t("ops-since")) } th { (viewer.t("ops-waiting")) }
            } }
            tbody {
                @for o in &stuck {
                    tr data-order=(o.order) {
                        td { a href={ "/ops/orders/" (o.order) } { (o.order.get(..8).unwrap_or(&o.order)) "…" } }
                        td { (stage_words(&viewer, &o.stage).unwrap_or_default()) }
                        td { (o.lab.as_deref().map(&site).unwrap_or_default()) }
                        td { (o.counter.as_deref().map(&site).unwrap_or_default()) }
                        td { (DateTime::from_timestamp_millis(o.since_ms).map(|t| viewer.time(t)).unwrap_or_default()) }
                        td { strong { (duration(&viewer, now_ms - o.since_ms)) } br;
                            small { (reprint_ui::t_with(viewer.lang, "ops-threshold", &[("time", duration(&viewer, o.threshold_minutes * 60_000).into())])) } }
                    }
                }
                @if stuck.is_empty() { tr { td colspan="6" { (viewer.t("ops-none-stuck")) } } }
            }
        } }

        h2 #flow { (viewer.t("ops-legs")) }
        p { (viewer.t("ops-legs-scope")) }
        @if !legs.is_empty() {
            (legs_chart(&viewer, &legs, &site))
        }
        div.scroll tabindex="0" { table #legs {
            thead { tr {
                th { (viewer.t("ops-site")) } th { (viewer.t("ops-leg")) } th { (viewer.t("ops-orders")) }
                th { "p50" } th { "p95" }
            } }
            tbody {
                @for l in &legs {
                    tr data-site=(l.site) data-leg={ (l.from.as_str()) "-" (l.to.as_str()) } data-p50=(l.p50_ms) data-p95=(l.p95_ms) {
                        td { (site(&l.site)) }
                        td { (reprint_ui::stage(viewer.lang, l.from)) " → " (reprint_ui::stage(viewer.lang, l.to)) }
                        td { (l.orders) }
                        td { (duration(&viewer, l.p50_ms)) }
                        td { (duration(&viewer, l.p95_ms)) }
                    }
                }
                @if legs.is_empty() { tr { td colspan="5" { (viewer.t("ops-none")) } } }
            }
        } }
        h3 #stages { (viewer.t(if by_day { "ops-stages-over-time-days" } else { "ops-stages-over-time" })) }
        @if from.is_some() || to.is_some() {
            p { (reprint_ui::t_with(viewer.lang, if by_day { "ops-stages-days-scope" } else { "ops-stages-hours-scope" }, &[
                ("from", buckets.first().and_then(|b| DateTime::from_timestamp_millis(b.start_ms)).map(|t| viewer.time(t)).unwrap_or_default().into()),
                ("to", buckets.last().and_then(|b| DateTime::from_timestamp_millis(b.at_ms)).map(|t| viewer.time(t)).unwrap_or_default().into()),
            ]))
                @if clamped { " " (reprint_ui::t_with(viewer.lang, "ops-stages-clamped", &[("days", STAGES_MAX_DAYS.into())])) }
            }
        } @else {
            p { (viewer.t("ops-stages-over-time-scope")) }
        }
        (stages_chart(&viewer, &stages, by_day))
        h3 { (viewer.t("ops-stages-network")) }
        div.scroll tabindex="0" { table {
            thead { tr { th { (viewer.t("ops-last-stage")) } th { (viewer.t("ops-lab")) } th { (viewer.t("ops-counter")) } th { (viewer.t("ops-orders")) } } }
            tbody {
                @for (stage, lab, counter, n) in &network {
                    tr { td { (stage) } td { (lab) } td { (counter) } td { (n) } }
                }
                @if network.is_empty() { tr { td colspan="4" { (viewer.t("ops-none")) } } }
            }
        } }
        h3 { (viewer.t("ops-stages-here")) }
        div.scroll tabindex="0" { table {
            thead { tr { th { (viewer.t("ops-stage")) } th { (viewer.t("ops-lab")) } th { (viewer.t("ops-counter")) } th { (viewer.t("ops-orders")) } } }
            tbody {
                @for (stage, lab, counter, n) in &local {
                    tr { td { (stage) } td { (lab) } td { (counter) } td { (n) } }
                }
                @if local.is_empty() { tr { td colspan="4" { (viewer.t("ops-none")) } } }
            }
        } }
        h3 { (viewer.t("ops-placed-24h")) }
        (hourly_chart(&viewer, &hours, now_ms))

        h2 #money { (viewer.t("ops-balances")) }
        p.ops-links { a href="/ops/settlements.csv" download { (viewer.t("ops-csv")) } }
        div.scroll tabindex="0" { table #balances {
            thead { tr {
                th { (viewer.t("ops-lab")) } th { (viewer.t("ops-counter")) } th { (viewer.t("ops-orders")) }
                th { (viewer.t("ops-charged")) } th { (viewer.t("ops-collected")) } th { (viewer.t("ops-settled")) } th { (viewer.t("ops-owed")) }
            } }
            tbody {
                @for b in &balances.balances {
                    tr {
                        td { (site(&b.lab)) } td { (site(&b.counter)) }
                        td { a href={ "/ops/money/" (b.lab) "/" (b.counter) } { (b.orders) } }
                        td { (money(&viewer, b.charged_minor, &b.currency)) }
                        td { (money(&viewer, b.collected_minor, &b.currency)) }
                        td { (money(&viewer, b.settled_minor, &b.currency)) }
                        td { strong { (money(&viewer, b.owed_minor, &b.currency)) } }
                    }
                }
                @if balances.balances.is_empty() { tr { td colspan="7" { (viewer.t("ops-none")) } } }
            }
        } }
        p { (viewer.t("ops-balances-scope")) }
        @if balances.unattributed_orders > 0 {
            p.warn { (reprint_ui::t_with(viewer.lang, "ops-unattributed", &[("count", balances.unattributed_orders.into())])) }
        }
        h3 { (viewer.t("ops-daily")) }
        @if from.is_some() || to.is_some() {
            div.scroll tabindex="0" { table #period {
                thead { tr {
                    th { (viewer.t("ops-lab")) } th { (viewer.t("ops-counter")) }
                    th { (viewer.t("ops-charged")) } th { (viewer.t("ops-collected")) } th { (viewer.t("ops-settled")) }
                    th { (viewer.t("ops-period-owed")) }
                } }
                tbody {
                    @for ((lab, counter, currency), [c, k, st]) in &period_sums {
                        tr {
                            td { (site(lab)) } td { (site(counter)) }
                            td { (money(&viewer, *c, currency)) }
                            td { (money(&viewer, *k, currency)) }
                            td { (money(&viewer, *st, currency)) }
                            td { strong { (money(&viewer, k - st, currency)) } }
                        }
                    }
                    @if period_sums.is_empty() { tr { td colspan="6" { (viewer.t("ops-none")) } } }
                }
            } }
        }
        div.scroll tabindex="0" { table #daily {
            thead { tr {
                th { (viewer.t("ops-day")) } th { (viewer.t("ops-lab")) } th { (viewer.t("ops-counter")) }
                th { (viewer.t("ops-charged")) } th { (viewer.t("ops-collected")) } th { (viewer.t("ops-settled")) }
            } }
            tbody {
                @for d in daily.iter().take(90) {
                    tr {
                        td.day { (d.day.format("%Y-%m-%d")) } td { (site(&d.lab)) } td { (site(&d.counter)) }
                        td { (money(&viewer, d.charged_minor, &d.currency)) }
                        td { (money(&viewer, d.collected_minor, &d.currency)) }
                        td { (money(&viewer, d.settled_minor, &d.currency)) }
                    }
                }
                @if daily.is_empty() { tr { td colspan="6" { (viewer.t("ops-none")) } } }
            }
        } }
        }
        script { (maud::PreEscaped(LIVE_JS)) }
    };
    let head = html! { style { (STYLE) } };
    Ok(render_with(&state, &viewer, &title, Some(head), content).into_response())
}

/// One order's whole timeline across the sites, for ops.
async fn order_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> AppResult<Response> {
    if let Err(r) = need_ops(&viewer)? {
        return Ok(r);
    }
    let timeline = settlements::order_timeline(&state, &id).await?;
    if timeline.is_empty() {
        return Err(AppError::NotFound(format!("order {id}")));
    }
    let names = site_names(&state).await;
    let now_ms = state.now_ms();
    let title = reprint_ui::t_with(
        viewer.lang,
        "ops-order-title",
        &[("order", id.clone().into())],
    );
    let content = html! {
        p.ops-links { a href="/ops#stuck" { (viewer.t("ops-back")) } }
        h1 { (title) }
        div.scroll tabindex="0" { table #timeline {
            thead { tr {
                th { (viewer.t("ops-when")) } th { (viewer.t("ops-stage")) } th { (viewer.t("ops-site")) }
                th { (viewer.t("ops-took")) } th { (viewer.t("ops-detail")) } th { (viewer.t("ops-trace")) }
            } }
            tbody {
                @for (i, t) in timeline.iter().enumerate() {
                    tr data-stage=(t.stage) {
                        td { (DateTime::from_timestamp_millis(t.at_ms).map(|a| viewer.time(a)).unwrap_or_default()) }
                        td { (stage_words(&viewer, &t.stage).unwrap_or_else(|| t.stage.clone())) }
                        td { (site_label(&names, &t.site)) }
                        td {
                            @if let Some(next) = timeline.get(i + 1) {
                                (duration(&viewer, next.at_ms - t.at_ms))
                            } @else {
                                (reprint_ui::t_with(viewer.lang, "ops-so-far", &[("time", duration(&viewer, now_ms - t.at_ms).into())]))
                            }
                        }
                        td { (t.detail) }
                        td.trace {
                            @match (&t.trace_id, &state.config.ops.trace_url) {
                                (Some(id), Some(url)) => { a href=(url.replace("{trace_id}", id)) { code { (id) } } }
                                (Some(id), None) => { code { (id) } }
                                (None, _) => { (viewer.t("ops-not-said")) }
                            }
                        }
                    }
                }
            }
        } }
    };
    let head = html! { style { (STYLE) } };
    Ok(render_with(&state, &viewer, &title, Some(head), content).into_response())
}

/// The orders behind one balance, each with a link to its timeline.
async fn money_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((lab, counter)): Path<(String, String)>,
) -> AppResult<Response> {
    if let Err(r) = need_ops(&viewer)? {
        return Ok(r);
    }
    let orders = settlements::balance_orders(&state, &lab, &counter).await?;
    if orders.is_empty() {
        return Err(AppError::NotFound(format!("balance {lab} {counter}")));
    }
    let names = site_names(&state).await;
    let title = format!(
        "{} — {}",
        site_label(&names, &lab),
        site_label(&names, &counter)
    );
    let yes_no = |b: bool| viewer.t(if b { "ops-yes" } else { "ops-no" });
    let content = html! {
        p.ops-links { a href="/ops#money" { (viewer.t("ops-back")) } }
        h1 { (title) }
        p { (viewer.t("ops-money-orders")) }
        div.scroll tabindex="0" { table #money-orders {
            thead { tr {
                th { (viewer.t("ops-order")) } th { (viewer.t("ops-last-stage")) } th { (viewer.t("ops-when")) }
                th { (viewer.t("ops-charged")) } th { (viewer.t("ops-collected")) } th { (viewer.t("ops-settled")) }
            } }
            tbody {
                @for o in &orders {
                    tr data-order=(o.order) {
                        td { a href={ "/ops/orders/" (o.order) } { (o.order.get(..8).unwrap_or(&o.order)) "…" } }
                        td { (stage_words(&viewer, &o.stage).unwrap_or_else(|| o.stage.clone())) }
                        td { (DateTime::from_timestamp_millis(o.at_ms).map(|a| viewer.time(a)).unwrap_or_default()) }
                        td { (money(&viewer, o.charge_minor, &o.currency)) }
                        td { (yes_no(o.collected)) }
                        td { (yes_no(o.settled)) }
                    }
                }
            }
        } }
    };
    let head = html! { style { (STYLE) } };
    Ok(render_with(&state, &viewer, &title, Some(head), content).into_response())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// An amount in major units with the currency's decimals (`1500`, `12.50`), exact.
fn decimal(minor: i64, currency: &str) -> String {
    let digits = Currency::parse(currency).map_or(0, |c| u32::from(c.minor_digits()));
    if digits == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(digits);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let scale = scale.unsigned_abs();
    format!(
        "{sign}{}.{:0w$}",
        abs / scale,
        abs % scale,
        w = digits as usize
    )
}

/// The balances of the page as CSV: one line per lab, counter and currency, amounts in the
/// currency's units with its decimals.
async fn settlements_csv(State(state): State<AppState>, viewer: Viewer) -> AppResult<Response> {
    if let Err(r) = need_ops(&viewer)? {
        return Ok(r);
    }
    let names = site_names(&state).await;
    let balances = settlements::balances(&state).await?;
    let mut out = String::from(
        "lab,lab_name,counter,counter_name,currency,orders,charged,collected,settled,owed\r\n",
    );
    for b in &balances.balances {
        let name = |id: &str| names.get(id).cloned().unwrap_or_default();
        let fields = [
            csv_field(&b.lab),
            csv_field(&name(&b.lab)),
            csv_field(&b.counter),
            csv_field(&name(&b.counter)),
            csv_field(&b.currency),
            b.orders.to_string(),
            decimal(b.charged_minor, &b.currency),
            decimal(b.collected_minor, &b.currency),
            decimal(b.settled_minor, &b.currency),
            decimal(b.owed_minor, &b.currency),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"settlements.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_lag_lines_read_as_consumer_and_count() {
        let text = "# HELP reprint_consumer_lag ...\nreprint_consumer_lag{consumer=\"gateway-gw-1-status\",service=\"gateway\"} 12\nreprint_outbox 3\n";
        assert_eq!(
            consumer_lags(text),
            vec![("gateway-gw-1-status".to_string(), 12)]
        );
    }

    #[test]
    fn health_by_missed_heartbeats_and_counts() {
        let ops = OpsConfig::default();
        assert_eq!(heartbeat_health(&ops, 1_000, 10), Health::Good);
        assert_eq!(heartbeat_health(&ops, 25_000, 10), Health::Late);
        assert_eq!(heartbeat_health(&ops, 31_000, 10), Health::Down);
        assert_eq!(count_health(0, 10, 100), Health::Good);
        assert_eq!(count_health(10, 10, 100), Health::Late);
        assert_eq!(count_health(100, 10, 100), Health::Down);
    }

    #[test]
    fn csv_amounts_are_exact_and_fields_quoted() {
        assert_eq!(decimal(1500, "JPY"), "1500");
        assert_eq!(decimal(1250, "EUR"), "12.50");
        assert_eq!(decimal(-5, "USD"), "-0.05");
        assert_eq!(csv_field("a, \"b\""), "\"a, \"\"b\"\"\"");
    }
}
