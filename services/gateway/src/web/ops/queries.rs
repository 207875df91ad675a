//! The dashboard's figures over a time window, aggregated by the database: only the orders
//! with a status in the window (by the index on `at_ms`) or still open at its start (by the
//! index on the last stage) are read, never the whole tables.

use reprint_eventstore::sql::Arg;

use crate::db;
use crate::error::AppResult;
use crate::settlements::{self, OPEN_STAGES, STATUSES, StagesAt, TABLE};
use crate::state::AppState;

const HOUR: i64 = 3_600_000;

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

/// The orders in each open stage at the end of each of the `hours` last hours (the current
/// hour: at `now_ms`), oldest first: the same figures as [`settlements::stages_over_time`],
/// counted in SQL. Each order's statuses become spans (a stage from its first `at` to the next
/// stage's), and each hour's end counts the spans it falls in.
pub async fn stages_over_time(
    state: &AppState,
    now_ms: i64,
    hours: i64,
) -> AppResult<Vec<StagesAt>> {
    let now_h = now_ms.div_euclid(HOUR);
    let first = (now_h - hours + 1) * HOUR;
    let finals = settlements::FINAL_STAGES
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let rank = rank_sql();
    let sql = format!(
        "WITH RECURSIVE ends(h, t) AS (
            SELECT CAST($1 AS BIGINT),
                CASE WHEN CAST($1 AS BIGINT) + {HOUR} < $2 THEN CAST($1 AS BIGINT) + {HOUR} ELSE CAST($2 AS BIGINT) END
            UNION ALL
            SELECT h + {HOUR}, CASE WHEN h + {HOUR} * 2 < $2 THEN h + {HOUR} * 2 ELSE CAST($2 AS BIGINT) END
            FROM ends WHERE h + {HOUR} <= $2
         ),
         wanted AS (
            SELECT order_id FROM {STATUSES} WHERE at_ms >= $1 AND at_ms <= $2
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
    let rows: Vec<(i64, String, i64)> =
        db::fetch(&state.store, &sql, &[Arg::Int(first), Arg::Int(now_ms)]).await?;
    let mut out: Vec<StagesAt> = (0..hours)
        .map(|i| StagesAt {
            hour_ms: first + i * HOUR,
            counts: [0; 6],
        })
        .collect();
    for (h, stage, n) in rows {
        let (Some(i), Some(k)) = (
            usize::try_from((h - first) / HOUR).ok(),
            OPEN_STAGES.iter().position(|s| s.as_str() == stage),
        ) else {
            continue;
        };
        if let Some(at) = out.get_mut(i) {
            at.counts[k] = n;
        }
    }
    Ok(out)
}
