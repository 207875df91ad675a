//! Abandoned drafts expire. The album makes a draft order only when it needs one (an upload, a
//! quote) and goes on with the user's open draft on the next visit (`crate::api::album`); a
//! draft nobody touched for [`UNTOUCHED`] (no reservation, upload, quote or submission) is
//! cancelled by the order's own decider (`Command::Cancel`, which a draft always accepts), with
//! the reason saying why. Its storage reservation ends with it; the photos uploaded through it
//! stay in the album. Nothing goes to the network: a draft was never sent anywhere.
//!
//! [`run`] does this every [`EVERY`] until shutdown (spawned beside the other background tasks
//! in `lib.rs`); [`expire`] is one pass, by the gateway's clock.

use std::time::Duration;

use reprint_domain::web_order::{Command, WebStage};
use reprint_eventstore::sql::Arg;
use reprint_service::shutdown::Shutdown;

use crate::db;
use crate::error::AppResult;
use crate::orders;
use crate::state::AppState;

/// A draft untouched this long is abandoned.
pub const UNTOUCHED: chrono::Duration = chrono::Duration::hours(24);

/// How often drafts are looked at.
pub const EVERY: Duration = Duration::from_secs(15 * 60);

/// Drafts expired in one pass at most (the next pass takes the rest).
const BATCH: i64 = 500;

/// The reason an expired draft's timeline gives.
pub const REASON: &str = "draft expired: nothing was ordered within a day";

/// Cancels the drafts untouched for [`UNTOUCHED`] at the gateway's clock; returns how many.
/// A draft touched in between (an upload racing this pass) is left for the next pass.
pub async fn expire(state: &AppState) -> AppResult<usize> {
    let before = state.now_ms() - UNTOUCHED.num_milliseconds();
    let ids: Vec<(String,)> = db::fetch(
        &state.store,
        "SELECT id FROM gw_orders WHERE stage = $1 AND updated_ms <= $2 ORDER BY updated_ms LIMIT $3",
        &[
            Arg::Text(WebStage::Draft.as_str().into()),
            Arg::Int(before),
            Arg::Int(BATCH),
        ],
    )
    .await?;
    let mut expired = 0;
    for (id,) in ids {
        // Touched since it was listed? Then it is not abandoned.
        let now = orders::load_now(&state.store, &id).await?;
        if now.state.stage != WebStage::Draft {
            continue;
        }
        let cancel = Command::Cancel {
            reason: REASON.into(),
            at: state.clock.now(),
        };
        match orders::run(state, &id, vec![cancel], |_, _| Ok(vec![])).await {
            Ok(d) if !d.events.is_empty() => expired += 1,
            Ok(_) => {}
            // Another command on the order at the same moment: it is in use.
            Err(e) => tracing::debug!(order = %id, error = %e, "draft not expired"),
        }
    }
    if expired > 0 {
        tracing::info!(expired, "abandoned drafts expired");
    }
    Ok(expired)
}

/// [`expire`] every [`EVERY`] until shutdown (a failed pass is logged and tried again later).
pub async fn run(state: AppState, shutdown: Shutdown) {
    loop {
        if let Err(e) = expire(&state).await {
            tracing::warn!(error = %e, "expiring drafts failed; trying again later");
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown.clone().wait() => return,
        }
    }
}
