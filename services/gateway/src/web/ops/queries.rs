//! The dashboard's figures, aggregated by the database: only the orders with a status in the
//! window (by the index on `at_ms`) or still open at its start (by the index on the last stage)
//! are read, and what comes back is one row per figure (per site and leg, per hour and stage),
//! so the gateway's memory does not grow with the history. The same SQL runs on SQLite and
//! PostgreSQL (window functions, no `percentile_cont`: the percentiles are nearest-rank, as
//! [`settlements::percentile`] computes them).

use reprint_domain::protocol::Stage;
use reprint_eventstore::sql::Arg;

use crate::db;
use crate::error::AppResult;
use crate::settlements::{
    self, LEGS, LegTimes, OPEN_STAGES, STATUSES, StagesAt, StuckOrder, TABLE,
};
use crate::state::AppState;

const HOUR: i64 = 3_600_000;

/// kind, site, leg (its index in [`LEGS`]), orders, p50, p95.
type LegRow = (String, String, i64, i64, Option<i64>, Option<i64>);
/// order, stage, lab, counter, since.
type StuckRow = (String, String, Option<String>, Option<String>, i64);
/// stage, quarter of an hour, lab, counter, currency, the lab's charges.
type QuarterRow = (String, i64, String, String, Option<String>, i64);

/// `CASE stage WHEN 'placed' THEN 0 ... WHEN 'settled' THEN 6 ELSE -1 END`: an order's way in
/// order, so that two statuses at the same moment go to the later stage.
fn rank_sql() -> String {
    let mut s = String::from("CASE stage");
    for (i, st) in OPEN_STAGES.iter().enumerate() {
        s.push_str(&format!(" WHEN '{}' THEN {i}", st.as_str()));
    }
    s.push_str(&format!(
        " WHEN 'settled' THEN {} ELSE -1 END",
        OPEN_STAGES.len()
    ));
    s
}

/// One bar of the stages-over-time chart: the orders are counted at `at_ms` (the end of the
/// bucket, or now for the current one); `start_ms` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub start_ms: i64,
    pub at_ms: i64,
}

/// The `hours` last hours (the current hour: counted at `now_ms`), oldest first.
pub fn last_hours(now_ms: i64, hours: i64) -> Vec<Bucket> {
    let now_h = now_ms.div_euclid(HOUR);
    (now_h - hours + 1..=now_h)
        .map(|h| Bucket {
            start_ms: h * HOUR,
            at_ms: ((h + 1) * HOUR).min(now_ms),
        })
        .collect()
}

/// The orders in each open stage at the end of each bucket, oldest first: the same figures as
/// [`settlements::stages_over_time`], counted in SQL. Each order's statuses become spans (a
/// stage from its first `at` to the next stage's), and each bucket's end counts the spans it
/// falls in. The orders read: those with a status since the first bucket's start (an order
/// settled since was open in it), and those still open from before it.
pub async fn stages_over_time(state: &AppState, buckets: &[Bucket]) -> AppResult<Vec<StagesAt>> {
    let (Some(first), Some(last)) = (buckets.first(), buckets.last()) else {
        return Ok(Vec::new());
    };
    let finals = settlements::FINAL_STAGES
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let rank = rank_sql();
    // The buckets' times are numbers this function computed, written into the SQL as such.
    let ends = buckets
        .iter()
        .map(|b| {
            format!(
                "(CAST({} AS BIGINT), CAST({} AS BIGINT))",
                b.start_ms, b.at_ms
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "WITH ends(h, t) AS (VALUES {ends}),
         wanted AS (
            SELECT order_id FROM {STATUSES} WHERE at_ms >= $1
            UNION
            SELECT order_id FROM {TABLE} WHERE at_ms < $1 AND stage NOT IN ({finals})
         ),
         firsts AS (
            SELECT order_id, stage, MIN(at_ms) AS at_ms FROM {STATUSES}
            WHERE at_ms <= $2 AND order_id IN (SELECT order_id FROM wanted)
            GROUP BY order_id, stage
         ),
         spans AS (
            SELECT stage, at_ms AS since,
                LEAD(at_ms) OVER (PARTITION BY order_id ORDER BY at_ms, {rank}, stage) AS until
            FROM firsts
         )
         SELECT ends.h, spans.stage, CAST(COUNT(*) AS BIGINT)
         FROM ends JOIN spans ON spans.since <= ends.t
            AND (spans.until IS NULL OR spans.until > ends.t)
         GROUP BY ends.h, spans.stage"
    );
    let at_most = buckets.iter().map(|b| b.at_ms).max().unwrap_or(last.at_ms);
    let rows: Vec<(i64, String, i64)> = db::fetch(
        &state.store,
        &sql,
        &[Arg::Int(first.start_ms), Arg::Int(at_most)],
    )
    .await?;
    let mut out: Vec<StagesAt> = buckets
        .iter()
        .map(|b| StagesAt {
            hour_ms: b.start_ms,
            counts: [0; 6],
        })
        .collect();
    for (h, stage, n) in rows {
        let (Some(at), Some(k)) = (
            out.iter_mut().find(|x| x.hour_ms == h),
            OPEN_STAGES.iter().position(|s| s.as_str() == stage),
        ) else {
            continue;
        };
        at.counts[k] = n;
    }
    Ok(out)
}

/// Every leg's p50 / p95 per lab and per counter, over the orders whose leg ended at or after
/// `since_ms`. A leg's time: from the first time its first stage was heard (from any site) to
/// the first time its second stage was; a leg whose end came before its start is left out.
/// Counted by the database: the legs of the orders heard from since `since_ms` are ranked per
/// site and leg, and the p50 / p95 are the rows at the nearest ranks (`ceil(p * n / 100)`).
pub async fn leg_times(state: &AppState, since_ms: i64) -> AppResult<Vec<LegTimes>> {
    let legs = LEGS
        .iter()
        .enumerate()
        .map(|(k, (from, to))| format!("('{}', '{}', {k})", from.as_str(), to.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "WITH legs(f, t, k) AS (VALUES {legs}),
         firsts AS (
            SELECT order_id, stage, MIN(at_ms) AS at_ms FROM {STATUSES}
            WHERE order_id IN (SELECT order_id FROM {STATUSES} WHERE at_ms >= $1)
            GROUP BY order_id, stage
         ),
         took AS (
            SELECT a.order_id, legs.k, b.at_ms - a.at_ms AS ms
            FROM legs JOIN firsts a ON a.stage = legs.f
            JOIN firsts b ON b.order_id = a.order_id AND b.stage = legs.t
            WHERE b.at_ms >= a.at_ms AND b.at_ms >= $1
         ),
         by_site AS (
            SELECT 'lab' AS kind, o.lab AS site, took.k, took.ms
            FROM took JOIN {TABLE} o ON o.order_id = took.order_id WHERE o.lab IS NOT NULL
            UNION ALL
            SELECT 'counter' AS kind, o.counter AS site, took.k, took.ms
            FROM took JOIN {TABLE} o ON o.order_id = took.order_id WHERE o.counter IS NOT NULL
         ),
         ranked AS (
            SELECT kind, site, k, ms,
                ROW_NUMBER() OVER (PARTITION BY kind, site, k ORDER BY ms) AS rn,
                COUNT(*) OVER (PARTITION BY kind, site, k) AS n
            FROM by_site
         )
         SELECT kind, site, CAST(k AS BIGINT), CAST(MAX(n) AS BIGINT),
            CAST(MIN(CASE WHEN rn = (50 * n + 99) / 100 THEN ms END) AS BIGINT),
            CAST(MIN(CASE WHEN rn = (95 * n + 99) / 100 THEN ms END) AS BIGINT)
         FROM ranked GROUP BY kind, site, k
         ORDER BY kind, site, k"
    );
    let rows: Vec<LegRow> = db::fetch(&state.store, &sql, &[Arg::Int(since_ms)]).await?;
    let mut out: Vec<LegTimes> = rows
        .into_iter()
        .filter_map(|(kind, site, k, n, p50, p95)| {
            let (from, to) = *LEGS.get(usize::try_from(k).ok()?)?;
            Some(LegTimes {
                kind,
                site,
                from,
                to,
                orders: usize::try_from(n).unwrap_or(0),
                p50_ms: p50.unwrap_or(0),
                p95_ms: p95.unwrap_or(0),
            })
        })
        .collect();
    // By kind, site and leg in the byte order of their ids (a database's collation may differ).
    let rank = |s: Stage| LEGS.iter().position(|(f, _)| *f == s).unwrap_or(0);
    out.sort_by(|a, b| (&a.kind, &a.site, rank(a.from)).cmp(&(&b.kind, &b.site, rank(b.from))));
    Ok(out)
}

/// Orders whose last stage is older than its threshold at `now_ms`, longest waiting first:
/// the database picks them (each stage's threshold of `[ops] stuck_minutes`, else the
/// default), so only the stuck ones are read.
pub async fn stuck_orders(state: &AppState, now_ms: i64) -> AppResult<Vec<StuckOrder>> {
    let ops = &state.config.ops;
    let minutes = |stage: &str| {
        ops.stuck_minutes
            .get(stage)
            .copied()
            .unwrap_or(ops.stuck_default_minutes)
    };
    let finals = settlements::FINAL_STAGES
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut args = vec![Arg::Int(now_ms)];
    let mut threshold = String::from("CASE");
    for (stage, m) in &ops.stuck_minutes {
        args.push(Arg::Text(stage.clone()));
        args.push(Arg::Int(m.saturating_mul(60_000)));
        threshold.push_str(&format!(
            " WHEN stage = ${} THEN CAST(${} AS BIGINT)",
            args.len() - 1,
            args.len()
        ));
    }
    args.push(Arg::Int(ops.stuck_default_minutes.saturating_mul(60_000)));
    threshold.push_str(&format!(" ELSE CAST(${} AS BIGINT) END", args.len()));
    if ops.stuck_minutes.is_empty() {
        threshold = format!("CAST(${} AS BIGINT)", args.len());
    }
    let rows: Vec<StuckRow> = db::fetch(
        &state.store,
        &format!(
            "SELECT order_id, stage, lab, counter, at_ms FROM {TABLE}
             WHERE stage NOT IN ({finals}) AND (lab IS NOT NULL OR counter IS NOT NULL)
                AND $1 - at_ms > {threshold}
             ORDER BY at_ms, order_id"
        ),
        &args,
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|(order, stage, lab, counter, since_ms)| StuckOrder {
            threshold_minutes: minutes(&stage),
            order,
            stage,
            lab,
            counter,
            since_ms,
        })
        .collect())
}

/// A quarter of an hour: every time zone's offset from UTC today is a multiple of it, so all
/// of a quarter's instants fall on the same local day.
const QUARTER: i64 = 900_000;

/// The daily history of the balances since `since_ms` (`None`: all of it), newest day first;
/// the same orders and figures as [`settlements::balances`]. The database sums the lab's
/// charges per stage, lab, counter, currency and quarter of an hour (the first time the order
/// reached `dispatched`, `collected`, `settled`); the quarters are then added up per day in
/// `tz`. What is read grows with the days of history and the pairs of sites, not with the
/// orders.
pub async fn daily_balances(
    state: &AppState,
    tz: chrono_tz::Tz,
    since_ms: Option<i64>,
) -> AppResult<Vec<settlements::DailyBalance>> {
    let since = since_ms.unwrap_or(i64::MIN);
    let rows: Vec<QuarterRow> = db::fetch(
        &state.store,
        &format!(
            "SELECT s.stage, CAST(s.first_ms / {QUARTER} AS BIGINT) AS q, o.lab, o.counter,
                o.currency, CAST(SUM(o.lab_charge) AS BIGINT)
             FROM (SELECT order_id, stage, MIN(at_ms) AS first_ms FROM {STATUSES}
                   WHERE stage IN ('dispatched', 'collected', 'settled')
                   GROUP BY order_id, stage) s
             JOIN {TABLE} o ON o.order_id = s.order_id
             WHERE o.dispatched = 1 AND o.lab IS NOT NULL AND o.counter IS NOT NULL
                AND o.lab_charge IS NOT NULL AND s.first_ms >= $1
             GROUP BY s.stage, CAST(s.first_ms / {QUARTER} AS BIGINT), o.lab, o.counter,
                o.currency"
        ),
        &[Arg::Int(since)],
    )
    .await?;
    type Key = (std::cmp::Reverse<chrono::NaiveDate>, String, String, String);
    let mut days: std::collections::BTreeMap<Key, [i64; 3]> = Default::default();
    for (stage, quarter, lab, counter, currency, charge) in rows {
        let Some(at) = chrono::DateTime::from_timestamp_millis(quarter.saturating_mul(QUARTER))
        else {
            continue;
        };
        let day = at.with_timezone(&tz).date_naive();
        let sums = days
            .entry((
                std::cmp::Reverse(day),
                lab,
                counter,
                currency.unwrap_or_default(),
            ))
            .or_default();
        let i = match stage.as_str() {
            "dispatched" => 0,
            "collected" => 1,
            _ => 2,
        };
        sums[i] += charge;
    }
    Ok(days
        .into_iter()
        .map(
            |((day, lab, counter, currency), [c, k, s])| settlements::DailyBalance {
                day: day.0,
                lab,
                counter,
                currency,
                charged_minor: c,
                collected_minor: k,
                settled_minor: s,
            },
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_hours_end_now() {
        let b = last_hours(10 * HOUR + 5, 3);
        assert_eq!(
            b,
            [
                Bucket {
                    start_ms: 8 * HOUR,
                    at_ms: 9 * HOUR
                },
                Bucket {
                    start_ms: 9 * HOUR,
                    at_ms: 10 * HOUR
                },
                Bucket {
                    start_ms: 10 * HOUR,
                    at_ms: 10 * HOUR + 5
                },
            ]
        );
    }
}
