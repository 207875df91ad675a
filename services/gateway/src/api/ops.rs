//! What the ops dashboard reads of the orders.

use std::collections::BTreeMap;

use crate::db;
use crate::error::AppResult;
use crate::state::AppState;

/// Counts of this gateway's orders by stage, lab and delivery counter, for the ops dashboard.
pub async fn stage_counts(state: &AppState) -> AppResult<BTreeMap<(String, String, String), i64>> {
    let rows: Vec<(String, String, String, i64)> = db::fetch(
        &state.store,
        "SELECT stage, COALESCE(lab, ''), COALESCE(counter, ''), CAST(COUNT(*) AS BIGINT)
         FROM gw_orders GROUP BY stage, lab, counter",
        &[],
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|(stage, lab, counter, n)| ((stage, lab, counter), n))
        .collect())
}
