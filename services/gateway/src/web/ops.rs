//! The ops dashboard (`/ops`, ops accounts only; anyone else gets "not found"): orders per stage
//! and site, the settlement balances between counters and labs, orders placed in the last 24
//! hours, the outbox backlog and the consumers' lag. Sites by name, stages in words, money as
//! the reader writes it; drafts and orders without a site are kept out of the figures.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};
use reprint_domain::protocol::Stage;
use reprint_domain::{Currency, Money};
use reprint_eventstore::sql::Arg;

use super::{Viewer, render_with};
use crate::api;
use crate::error::{AppError, AppResult};
use crate::settlements;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/ops", get(ops))
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

/// `reprint_consumer_lag{consumer="lab-lab-a-inbox",service="lab"} 7` as (consumer, lag).
fn consumer_lags(metrics: &str) -> Vec<(String, String)> {
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
            Some((consumer.to_string(), value.to_string()))
        })
        .collect()
}

/// Orders placed per hour over the last 24 hours, as bars with an axis and their counts.
fn hourly_chart(viewer: &Viewer, hours: &[(i64, i64)], now_h: i64) -> Markup {
    let max = hours.iter().map(|&(_, n)| n).max().unwrap_or(0).max(1);
    let (w, h, left, bottom) = (480, 160, 36, 24);
    let bar = (w - left) / 24;
    html! {
        svg viewBox={ "0 0 " (w) " " (h) } width="100%" role="img" aria-label=(viewer.t("ops-chart-label")) {
            line x1=(left) y1=(h - bottom) x2=(w) y2=(h - bottom) stroke="#555" {}
            line x1=(left) y1="4" x2=(left) y2=(h - bottom) stroke="#555" {}
            text x=(left - 4) y="12" text-anchor="end" font-size="11" { (max) }
            text x=(left - 4) y=(h - bottom) text-anchor="end" font-size="11" { "0" }
            @for (i, label) in [(0, "-24 h".to_string()), (12, "-12 h".to_string()), (23, viewer.t("ops-chart-now"))] {
                text x=(left + i * bar + bar / 2) y=(h - 6) text-anchor="middle" font-size="11" { (label) }
            }
            @for &(hour, n) in hours {
                @let x = 23 - (now_h - hour).clamp(0, 23);
                @let bh = n * (h - bottom - 8) / max;
                rect x=(left + x * bar + 1) y=(h - bottom - bh) width=(bar - 2) height=(bh) fill="#2a6f97" {
                    title { (n) }
                }
                text x=(left + x * bar + bar / 2) y=(h - bottom - bh - 2) text-anchor="middle" font-size="10" { (n) }
            }
        }
    }
}

async fn ops(State(state): State<AppState>, viewer: Viewer) -> AppResult<Response> {
    let user = match viewer.need_user() {
        Ok(u) => u,
        Err(r) => return Ok(*r),
    };
    if !user.is_ops() {
        return Err(AppError::NotFound("page".into()));
    }
    let names: BTreeMap<String, String> = api::list_sites(&state)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    // Ops know the sites by id too: "Ginza counter (counter-ginza)".
    let site = |id: &str| match names.get(id) {
        Some(name) if name != id => format!("{name} ({id})"),
        _ => id.to_string(),
    };
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
    let local = rows(
        api::stage_counts(&state)
            .await?
            .into_iter()
            .map(|((s, l, c), n)| (s, l, c, n))
            .collect(),
    );
    let network = rows(settlements::network_stage_counts(&state).await?);
    let balances = settlements::balances(&state).await?;
    let hours: Vec<(i64, i64)> = crate::db::fetch(
        &state.store,
        "SELECT CAST(submitted_ms / 3600000 AS BIGINT) AS h, CAST(COUNT(*) AS BIGINT) FROM gw_orders
         WHERE submitted_ms IS NOT NULL AND submitted_ms > $1 GROUP BY h ORDER BY h",
        &[Arg::Int(state.now_ms() - 24 * 3_600_000)],
    )
    .await?;
    let backlog = state.store.unsent_count().await.unwrap_or(0);
    let lags = consumer_lags(&state.metrics.render());
    let stage_table = |rows: &[(String, String, String, i64)], first: &str| {
        html! {
            div.scroll { table {
                thead { tr { th { (first) } th { (viewer.t("ops-lab")) } th { (viewer.t("ops-counter")) } th { (viewer.t("ops-orders")) } } }
                tbody {
                    @for (stage, lab, counter, n) in rows {
                        tr { td { (stage) } td { (lab) } td { (counter) } td { (n) } }
                    }
                    @if rows.is_empty() { tr { td colspan="4" { (viewer.t("ops-none")) } } }
                }
            } }
        }
    };
    let title = viewer.t("ops-title");
    let content = html! {
        h1 { (title) }
        p { (viewer.t("ops-refreshes")) }
        h2 { (viewer.t("ops-stages")) }
        h3 { (viewer.t("ops-stages-here")) }
        (stage_table(&local, &viewer.t("ops-stage")))
        h3 { (viewer.t("ops-stages-network")) }
        (stage_table(&network, &viewer.t("ops-last-stage")))
        h2 { (viewer.t("ops-balances")) }
        div.scroll { table {
            thead { tr {
                th { (viewer.t("ops-lab")) } th { (viewer.t("ops-counter")) } th { (viewer.t("ops-orders")) }
                th { (viewer.t("ops-charged")) } th { (viewer.t("ops-collected")) } th { (viewer.t("ops-settled")) } th { (viewer.t("ops-owed")) }
            } }
            tbody {
                @for b in &balances.balances {
                    tr {
                        td { (site(&b.lab)) } td { (site(&b.counter)) } td { (b.orders) }
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
        h2 { (viewer.t("ops-placed-24h")) }
        (hourly_chart(&viewer, &hours, state.now_ms() / 3_600_000))
        h2 { (viewer.t("ops-backlog")) }
        p { (reprint_ui::t_with(viewer.lang, "ops-backlog-count", &[("count", backlog.into())])) }
        h2 { (viewer.t("ops-lag")) }
        div.scroll { table {
            thead { tr { th { (viewer.t("ops-consumer")) } th { (viewer.t("ops-lag-messages")) } } }
            tbody {
                @for (consumer, lag) in &lags { tr { td { code { (consumer) } } td { (lag) } } }
                @if lags.is_empty() { tr { td colspan="2" { (viewer.t("ops-none")) } } }
            }
        } }
    };
    let head = html! { meta http-equiv="refresh" content="30"; };
    Ok(render_with(&state, &viewer, &title, Some(head), content).into_response())
}

#[cfg(test)]
mod tests {
    use super::consumer_lags;

    #[test]
    fn consumer_lag_lines_read_as_consumer_and_count() {
        let text = "# HELP reprint_consumer_lag ...\nreprint_consumer_lag{consumer=\"gateway-gw-1-status\",service=\"gateway\"} 12\nreprint_outbox 3\n";
        assert_eq!(
            consumer_lags(text),
            vec![("gateway-gw-1-status".to_string(), "12".to_string())]
        );
    }
}
