//! Settlement balances between counters and labs, for ops, from the status stream alone.
//!
//! Every `StatusChanged` of the network reaches the gateway, walk-in orders at counters
//! included, and together they say all a balance needs:
//! - the lab's statuses (`site_kind: lab`) name the lab, and `received` and `dispatched` carry
//!   the lab's charge, as does a note at `received`, `printing` or `printed` when the lab left
//!   an image out and amended the charge: the charge of the latest stage wins, at one stage the
//!   latest in the lab's time (the `dispatched` one is what the lab hands the counter);
//! - the counter's statuses (`placed` of a walk-in order, `ready_for_pickup`, `collected`) name
//!   the counter; for this gateway's own orders the counter is also known from the submission;
//! - the milestones: `dispatched` (or any later stage: the lab charged the counter),
//!   `collected` (the counter took the lab's charge from the customer), `settled` (the lab
//!   heard the counter's settlement).
//!
//! One row per order ([`TABLE`]) is upserted in the status consumer's transaction. Every field
//! is set, never added to (a milestone flag only goes from 0 to 1, the charge is replaced), so
//! a redelivered message or the same stage published twice changes nothing, whatever the
//! order of arrival. The balances are sums over those rows per (lab, counter, currency).

use axum::extract::State;
use reprint_domain::protocol::{Stage, StatusChanged};
use reprint_domain::{Currency, Money, SiteKind};
use reprint_eventstore::Transaction;
use reprint_eventstore::sql::{Arg, exec};
use reprint_service::problem::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::User;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The per-order table (created by [`crate::db::migrate`]).
pub const TABLE: &str = "gw_network_orders";

/// Every status of every order, once per (stage, site), at its `at` (for legs and timelines).
pub const STATUSES: &str = "gw_network_statuses";

/// What the balances cover, said on the page and in the JSON.
pub const SCOPE: &str = "every order whose statuses reached this gateway on the status stream, \
    walk-in orders at counters included: the lab and its charge come from the lab's statuses \
    (received, dispatched), the counter from the counter's (placed, ready_for_pickup, collected) \
    or from this gateway's submission";

/// What one status says about the order's balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub lab: Option<String>,
    pub counter: Option<String>,
    /// The lab's charge and how much it counts ([`charge_rank`]): a later stage's more, at
    /// one stage a later time's.
    pub lab_charge: Option<(Money, i64)>,
    pub dispatched: bool,
    pub collected: bool,
    pub settled: bool,
    pub stage: Stage,
    pub at_ms: i64,
    /// The site that published the status, its kind (`lab`, `counter`) and its words.
    pub site: String,
    pub site_kind: String,
    pub detail: String,
    /// The W3C trace id (32 hex digits) of the message that carried the status, if it had a
    /// `traceparent` (set by the consumer: the status itself does not carry it).
    pub trace_id: Option<String>,
}

impl Fact {
    /// `placed`: the (lab, counter) of the submission, for this gateway's own orders.
    pub fn of(change: &StatusChanged, placed: Option<(&str, &str)>) -> Fact {
        let from_lab = change.site_kind == SiteKind::Lab;
        let from_counter = change.site_kind == SiteKind::Counter;
        let lab = if from_lab {
            Some(change.site.to_string())
        } else {
            placed.map(|(l, _)| l.to_string())
        };
        let counter = if from_counter {
            Some(change.site.to_string())
        } else {
            placed.map(|(_, c)| c.to_string())
        };
        let rank = charge_rank(change.stage, change.at.timestamp_millis());
        let lab_charge = match (&change.charge, from_lab && rank > 0) {
            (Some(c), true) => Some((c.total, rank)),
            _ => None,
        };
        let stage = change.stage;
        Fact {
            lab,
            counter,
            lab_charge,
            dispatched: matches!(
                stage,
                Stage::Dispatched | Stage::ReadyForPickup | Stage::Collected | Stage::Settled
            ),
            collected: matches!(stage, Stage::Collected | Stage::Settled),
            settled: stage == Stage::Settled,
            stage,
            at_ms: change.at.timestamp_millis(),
            site: change.site.to_string(),
            site_kind: change.site_kind.to_string(),
            detail: change.detail.clone(),
            trace_id: None,
        }
    }
}

/// Milliseconds of time below one stage's rank (more than 300 years of them).
const STAGE_SPAN: i64 = 10_000_000_000_000;

/// How much a lab's charge at `stage` at `at_ms` counts against another of the same order:
/// the stage first (received < printing < printed < dispatched; a lab's statuses of one order
/// come in that order, whatever its clock does), then the time (the lab's note that it amended
/// the charge comes after the stage's own status). 0: the lab's charge is not read at that
/// stage. Rows written before it counted 1 (received) and 2 (dispatched), less than any of these.
pub fn charge_rank(stage: Stage, at_ms: i64) -> i64 {
    let stage = match stage {
        Stage::Received => 1,
        Stage::Printing => 2,
        Stage::Printed => 3,
        Stage::Dispatched => 4,
        _ => return 0,
    };
    stage * STAGE_SPAN + at_ms.clamp(0, STAGE_SPAN - 1)
}

/// The trace id of each (order, stage, site) status, the first heard (created by
/// [`crate::db::migrate`]): beside [`STATUSES`] rather than a column of it, so that stores
/// made before it need no `ALTER TABLE`.
pub const TRACES: &str = "gw_network_status_traces";

fn flag(b: bool) -> Arg {
    Arg::Int(i64::from(b))
}

/// Folds one status into its order's row, in the consumer's transaction (idempotent).
pub async fn record(tx: &mut Transaction, order: &str, fact: &Fact) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO {TABLE} (order_id, lab, counter, currency, lab_charge, charge_rank,
            dispatched, collected, settled, stage, at_ms)
         VALUES ($1, $2, $3, $4, CAST($5 AS BIGINT), $6, $7, $8, $9, $10, $11)
         ON CONFLICT (order_id) DO UPDATE SET
            lab = COALESCE(excluded.lab, {TABLE}.lab),
            counter = COALESCE(excluded.counter, {TABLE}.counter),
            currency = CASE WHEN excluded.lab_charge IS NOT NULL
                AND excluded.charge_rank >= {TABLE}.charge_rank
                THEN excluded.currency ELSE {TABLE}.currency END,
            lab_charge = CASE WHEN excluded.lab_charge IS NOT NULL
                AND excluded.charge_rank >= {TABLE}.charge_rank
                THEN excluded.lab_charge ELSE {TABLE}.lab_charge END,
            charge_rank = CASE WHEN excluded.lab_charge IS NOT NULL
                AND excluded.charge_rank >= {TABLE}.charge_rank
                THEN excluded.charge_rank ELSE {TABLE}.charge_rank END,
            dispatched = CASE WHEN excluded.dispatched > {TABLE}.dispatched
                THEN excluded.dispatched ELSE {TABLE}.dispatched END,
            collected = CASE WHEN excluded.collected > {TABLE}.collected
                THEN excluded.collected ELSE {TABLE}.collected END,
            settled = CASE WHEN excluded.settled > {TABLE}.settled
                THEN excluded.settled ELSE {TABLE}.settled END,
            stage = CASE WHEN excluded.at_ms >= {TABLE}.at_ms
                THEN excluded.stage ELSE {TABLE}.stage END,
            at_ms = CASE WHEN excluded.at_ms >= {TABLE}.at_ms
                THEN excluded.at_ms ELSE {TABLE}.at_ms END"
    );
    let (currency, charge, rank) = match &fact.lab_charge {
        Some((m, rank)) => (Some(m.currency.code().to_string()), Some(m.minor), *rank),
        None => (None, None, 0),
    };
    exec(
        tx.conn(),
        &sql,
        &[
            Arg::Text(order.to_string()),
            Arg::from(fact.lab.clone()),
            Arg::from(fact.counter.clone()),
            Arg::from(currency),
            Arg::from(charge),
            Arg::Int(rank),
            flag(fact.dispatched),
            flag(fact.collected),
            flag(fact.settled),
            Arg::Text(fact.stage.as_str().to_string()),
            Arg::Int(fact.at_ms),
        ],
    )
    .await?;
    // Each (stage, site) once, at the earliest time heard: a republish keeps the first `at`.
    exec(
        tx.conn(),
        &format!(
            "INSERT INTO {STATUSES} (order_id, stage, site, site_kind, detail, at_ms)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (order_id, stage, site) DO UPDATE SET
                at_ms = CASE WHEN excluded.at_ms < {STATUSES}.at_ms
                    THEN excluded.at_ms ELSE {STATUSES}.at_ms END"
        ),
        &[
            Arg::Text(order.to_string()),
            Arg::Text(fact.stage.as_str().to_string()),
            Arg::Text(fact.site.clone()),
            Arg::Text(fact.site_kind.clone()),
            Arg::Text(fact.detail.clone()),
            Arg::Int(fact.at_ms),
        ],
    )
    .await?;
    if let Some(trace) = &fact.trace_id {
        exec(
            tx.conn(),
            &format!(
                "INSERT INTO {TRACES} (order_id, stage, site, trace_id) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (order_id, stage, site) DO NOTHING"
            ),
            &[
                Arg::Text(order.to_string()),
                Arg::Text(fact.stage.as_str().to_string()),
                Arg::Text(fact.site.clone()),
                Arg::Text(trace.clone()),
            ],
        )
        .await?;
    }
    Ok(())
}

/// The balance between one lab and one counter in one currency, in minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SettlementBalance {
    pub lab: String,
    pub counter: String,
    /// ISO 4217 code; the amounts are in its minor unit.
    pub currency: String,
    /// Orders the lab dispatched to the counter (or later).
    pub orders: i64,
    /// The lab's charges of the orders dispatched / ready at the counter.
    pub charged_minor: i64,
    /// The lab's charges the counter collected from customers on the lab's behalf.
    pub collected_minor: i64,
    /// The lab's charges of the orders the counter has settled with the lab.
    pub settled_minor: i64,
    /// What the counter owes the lab: collected - settled.
    pub owed_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Settlements {
    /// One row per (lab, counter, currency), ordered by lab then counter.
    pub balances: Vec<SettlementBalance>,
    /// Orders at `dispatched` or later whose lab, counter or lab charge the gateway has not
    /// heard (a status missed before this gateway followed the stream); not in the balances.
    pub unattributed_orders: i64,
    /// What the balances cover.
    pub scope: String,
}

/// lab, counter, currency, orders, charged, collected, settled (the sums NULL-safe).
type BalanceRow = (
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// The balances now, from the read pool.
pub async fn balances(state: &AppState) -> AppResult<Settlements> {
    let rows: Vec<BalanceRow> = db::fetch(
        &state.store,
        &format!(
            "SELECT lab, counter, currency, CAST(COUNT(*) AS BIGINT),
                CAST(SUM(lab_charge) AS BIGINT),
                CAST(SUM(CASE WHEN collected = 1 THEN lab_charge ELSE 0 END) AS BIGINT),
                CAST(SUM(CASE WHEN settled = 1 THEN lab_charge ELSE 0 END) AS BIGINT)
             FROM {TABLE}
             WHERE dispatched = 1 AND lab IS NOT NULL AND counter IS NOT NULL
                AND lab_charge IS NOT NULL
             GROUP BY lab, counter, currency ORDER BY lab, counter, currency"
        ),
        &[],
    )
    .await?;
    let balances = rows
        .into_iter()
        .map(
            |(lab, counter, currency, orders, charged, collected, settled)| {
                let (collected, settled) = (collected.unwrap_or(0), settled.unwrap_or(0));
                SettlementBalance {
                    lab,
                    counter,
                    currency: currency.unwrap_or_default(),
                    orders,
                    charged_minor: charged.unwrap_or(0),
                    collected_minor: collected,
                    settled_minor: settled,
                    owed_minor: collected - settled,
                }
            },
        )
        .collect();
    let unattributed = db::fetch_one::<(i64,)>(
        &state.store,
        &format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM {TABLE} WHERE dispatched = 1
             AND (lab IS NULL OR counter IS NULL OR lab_charge IS NULL)"
        ),
        &[],
    )
    .await?
    .map_or(0, |(n,)| n);
    Ok(Settlements {
        balances,
        unattributed_orders: unattributed,
        scope: SCOPE.to_string(),
    })
}

/// Every order heard on the status stream by its last stage, lab and counter.
pub async fn network_stage_counts(
    state: &AppState,
) -> AppResult<Vec<(String, String, String, i64)>> {
    let rows: Vec<(String, String, String, i64)> = db::fetch(
        &state.store,
        &format!(
            "SELECT stage, COALESCE(lab, ''), COALESCE(counter, ''), CAST(COUNT(*) AS BIGINT)
             FROM {TABLE} GROUP BY stage, lab, counter ORDER BY stage, lab, counter"
        ),
        &[],
    )
    .await?;
    Ok(rows)
}

/// The legs of an order's way, as (from stage, to stage).
pub const LEGS: [(Stage, Stage); 6] = [
    (Stage::Placed, Stage::Received),
    (Stage::Received, Stage::Printing),
    (Stage::Printing, Stage::Dispatched),
    (Stage::Dispatched, Stage::ReadyForPickup),
    (Stage::ReadyForPickup, Stage::Collected),
    (Stage::Collected, Stage::Settled),
];

/// How long one leg took at one site: the orders measured and the p50 / p95 in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegTimes {
    /// `lab` or `counter`.
    pub kind: String,
    pub site: String,
    pub from: Stage,
    pub to: Stage,
    pub orders: usize,
    pub p50_ms: i64,
    pub p95_ms: i64,
}

/// The nearest-rank percentile `p` (0-100) of sorted `v` (not empty).
pub fn percentile(sorted: &[i64], p: usize) -> i64 {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[(rank - 1).min(sorted.len() - 1)]
}

// The legs' p50 / p95 are counted by the database: `web::ops::queries::leg_times`.

/// An order that stayed in its stage longer than the threshold of that stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StuckOrder {
    pub order: String,
    pub stage: String,
    pub lab: Option<String>,
    pub counter: Option<String>,
    /// When it reached the stage.
    pub since_ms: i64,
    /// The threshold it passed, in minutes.
    pub threshold_minutes: i64,
}

/// Stages an order does not wait in: its way is over.
pub const FINAL_STAGES: [&str; 4] = ["settled", "cancelled", "rejected", "draft"];

// The stuck orders are picked by the database: `web::ops::queries::stuck_orders`.

/// One status of an order's timeline across the sites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub stage: String,
    pub site: String,
    pub site_kind: String,
    pub detail: String,
    pub at_ms: i64,
    /// The trace id of the message that carried it, when it had one.
    pub trace_id: Option<String>,
}

/// Every status heard of `order`, in time order (empty: an order the stream never named).
pub async fn order_timeline(state: &AppState, order: &str) -> AppResult<Vec<TimelineEntry>> {
    let rows: Vec<(String, String, String, String, i64, Option<String>)> = db::fetch(
        &state.store,
        &format!(
            "SELECT s.stage, s.site, s.site_kind, s.detail, s.at_ms, t.trace_id FROM {STATUSES} s
             LEFT JOIN {TRACES} t
                ON t.order_id = s.order_id AND t.stage = s.stage AND t.site = s.site
             WHERE s.order_id = $1 ORDER BY s.at_ms, s.stage"
        ),
        &[Arg::Text(order.to_string())],
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(stage, site, site_kind, detail, at_ms, trace_id)| TimelineEntry {
                stage,
                site,
                site_kind,
                detail,
                at_ms,
                trace_id,
            },
        )
        .collect())
}

/// One day's movements between one lab and one counter: the lab's charges of the orders
/// dispatched, collected and settled that day (the day in `tz`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyBalance {
    pub day: chrono::NaiveDate,
    pub lab: String,
    pub counter: String,
    pub currency: String,
    pub charged_minor: i64,
    pub collected_minor: i64,
    pub settled_minor: i64,
}

// The daily history is summed by the database: `web::ops::queries::daily_balances`.

/// order, stage, currency, charge, collected, settled, at.
type OrderRow = (String, String, Option<String>, i64, i64, i64, i64);

/// One order behind a balance: its lab charge and how far it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceOrder {
    pub order: String,
    pub stage: String,
    pub currency: String,
    pub charge_minor: i64,
    pub collected: bool,
    pub settled: bool,
    /// When its last stage was reached.
    pub at_ms: i64,
}

/// The orders counted in the balance between `lab` and `counter` (the same as [`balances`]),
/// the latest first.
pub async fn balance_orders(
    state: &AppState,
    lab: &str,
    counter: &str,
) -> AppResult<Vec<BalanceOrder>> {
    let rows: Vec<OrderRow> = db::fetch(
        &state.store,
        &format!(
            "SELECT order_id, stage, currency, lab_charge, collected, settled, at_ms FROM {TABLE}
             WHERE dispatched = 1 AND lab = $1 AND counter = $2 AND lab_charge IS NOT NULL
             ORDER BY at_ms DESC, order_id"
        ),
        &[Arg::Text(lab.to_string()), Arg::Text(counter.to_string())],
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(order, stage, currency, charge, collected, settled, at_ms)| BalanceOrder {
                order,
                stage,
                currency: currency.unwrap_or_default(),
                charge_minor: charge,
                collected: collected == 1,
                settled: settled == 1,
                at_ms,
            },
        )
        .collect())
}

/// An amount for people ("¥1,200"), or the minor units and code when the code is unknown.
pub fn display(minor: i64, currency: &str) -> String {
    match Currency::parse(currency) {
        Ok(c) => Money::new(minor, c).to_string(),
        Err(_) => format!("{minor} {currency}"),
    }
}

/// The settlement balances between counters and labs (ops only; anyone else: 404, as `/ops`).
#[utoipa::path(get, path = "/api/v1/ops/settlements",
    responses((status = 200, body = Settlements), (status = 401), (status = 404)))]
pub async fn ops_settlements(
    State(state): State<AppState>,
    user: User,
) -> AppResult<Json<Settlements>> {
    if !user.is_ops() {
        return Err(AppError::NotFound("page".into()));
    }
    Ok(Json(balances(&state).await?))
}

/// The stages an order waits in on its way, in order (the columns of the stages-over-time chart).
pub const OPEN_STAGES: [Stage; 6] = [
    Stage::Placed,
    Stage::Received,
    Stage::Printing,
    Stage::Dispatched,
    Stage::ReadyForPickup,
    Stage::Collected,
];

/// How many orders were in each open stage at the end of one hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagesAt {
    /// The hour's start (ms since the epoch).
    pub hour_ms: i64,
    /// Per stage of [`OPEN_STAGES`], in that order.
    pub counts: [i64; 6],
}

/// The orders in each open stage at the end of each of the `hours` last hours (the current
/// hour: at `now_ms`), oldest first, from `(order, stage, first heard at)` statuses. An order is
/// in the stage of its latest status at that moment (a tie goes to the later stage of its way);
/// settled, cancelled, rejected orders and drafts are in none.
pub fn stages_over_time(
    statuses: &[(String, String, i64)],
    now_ms: i64,
    hours: i64,
) -> Vec<StagesAt> {
    let rank = |code: &str| {
        OPEN_STAGES
            .iter()
            .position(|s| s.as_str() == code)
            .map(|i| i as i64)
            .unwrap_or(if code == "settled" { 6 } else { -1 })
    };
    let mut by_order: std::collections::BTreeMap<&str, Vec<(i64, i64, &str)>> =
        std::collections::BTreeMap::new();
    for (order, stage, at) in statuses {
        by_order
            .entry(order)
            .or_default()
            .push((*at, rank(stage), stage.as_str()));
    }
    for v in by_order.values_mut() {
        v.sort_unstable();
    }
    let now_h = now_ms.div_euclid(3_600_000);
    (now_h - hours + 1..=now_h)
        .map(|h| {
            let at = ((h + 1) * 3_600_000).min(now_ms);
            let mut counts = [0i64; 6];
            for v in by_order.values() {
                let last = v.iter().take_while(|(ms, _, _)| *ms <= at).last();
                if let Some(i) = last
                    .and_then(|(_, _, code)| OPEN_STAGES.iter().position(|s| s.as_str() == *code))
                {
                    counts[i] += 1;
                }
            }
            StagesAt {
                hour_ms: h * 3_600_000,
                counts,
            }
        })
        .collect()
}

/// [`stages_over_time`] over the last 24 hours, from [`STATUSES`].
pub async fn stages_last_day(state: &AppState, now_ms: i64) -> AppResult<Vec<StagesAt>> {
    let rows: Vec<(String, String, i64)> = db::fetch(
        &state.store,
        &format!(
            "SELECT order_id, stage, CAST(MIN(at_ms) AS BIGINT) FROM {STATUSES}
             WHERE at_ms <= $1 GROUP BY order_id, stage"
        ),
        &[Arg::Int(now_ms)],
    )
    .await?;
    Ok(stages_over_time(&rows, now_ms, 24))
}
#[cfg(test)]
mod tests {
    use super::*;
    use reprint_domain::{Charge, OrderId, SiteId};

    fn change(stage: Stage, site: &str, kind: SiteKind, charge: Option<i64>) -> StatusChanged {
        let jpy = Currency::parse("JPY").unwrap();
        StatusChanged {
            order: OrderId::parse("0190a6f8-8a4b-7c3e-9d2f-1a2b3c4d5e6f").unwrap(),
            stage,
            site: SiteId::parse(site).unwrap(),
            site_kind: kind,
            at: chrono::DateTime::from_timestamp_millis(1_000).unwrap(),
            detail: String::new(),
            charge: charge.map(|m| Charge {
                lines: vec![],
                total: Money::new(m, jpy),
            }),
        }
    }

    #[test]
    fn a_lab_status_names_the_lab_and_its_charge() {
        let f = Fact::of(
            &change(Stage::Dispatched, "lab-a", SiteKind::Lab, Some(900)),
            None,
        );
        assert_eq!(f.lab.as_deref(), Some("lab-a"));
        assert_eq!(f.counter, None);
        assert_eq!(
            f.lab_charge.map(|(m, r)| (m.minor, r)),
            Some((900, charge_rank(Stage::Dispatched, 1_000)))
        );
        assert!(f.dispatched && !f.collected && !f.settled);
    }

    #[test]
    fn a_charge_the_lab_amended_while_printing_counts_over_the_one_it_received() {
        // The lab left an image out after it started printing: its note at `printing`
        // carries the amended charge, which replaces the one of `received`.
        let received = Fact::of(
            &change(Stage::Received, "lab-a", SiteKind::Lab, Some(400)),
            None,
        );
        let amended = Fact::of(
            &change(Stage::Printing, "lab-a", SiteKind::Lab, Some(340)),
            None,
        );
        let (r, a) = (received.lab_charge.unwrap(), amended.lab_charge.unwrap());
        assert_eq!((r.0.minor, a.0.minor), (400, 340));
        assert!(a.1 > r.1);
        // At one stage the later note wins; a later stage wins whatever the clock says.
        assert!(charge_rank(Stage::Printed, 2_000) > charge_rank(Stage::Printed, 1_000));
        assert!(charge_rank(Stage::Dispatched, 0) > charge_rank(Stage::Printed, 9_000_000_000_000));
        // Rows kept before this rank (1 received, 2 dispatched) give way to any new charge.
        assert!(charge_rank(Stage::Received, 0) > 2);
        assert_eq!(charge_rank(Stage::ReadyForPickup, 1_000), 0);
    }

    #[test]
    fn the_counters_amount_due_is_not_the_labs_charge() {
        let f = Fact::of(
            &change(
                Stage::ReadyForPickup,
                "counter-x",
                SiteKind::Counter,
                Some(1500),
            ),
            Some(("lab-a", "counter-y")),
        );
        assert_eq!(f.counter.as_deref(), Some("counter-x"));
        assert_eq!(f.lab.as_deref(), Some("lab-a"));
        assert_eq!(f.lab_charge, None);
        assert!(f.dispatched);
    }

    #[test]
    fn settled_implies_the_earlier_milestones() {
        let f = Fact::of(&change(Stage::Settled, "lab-a", SiteKind::Lab, None), None);
        assert!(f.dispatched && f.collected && f.settled);
        assert_eq!(f.lab_charge, None);
    }

    #[test]
    fn stages_over_time_counts_each_order_in_its_stage_at_each_hours_end() {
        const H: i64 = 3_600_000;
        let now = 100 * H + 30 * 60_000;
        let s = |o: &str, st: &str, ms: i64| (o.to_string(), st.to_string(), ms);
        let statuses = [
            s("a", "placed", 95 * H + 1),
            s("a", "received", 97 * H + 1),
            s("a", "printing", 99 * H + 1),
            s("b", "placed", 98 * H + 20),
            s("c", "placed", 70 * H),
            s("c", "collected", 96 * H + 5),
            s("c", "settled", 98 * H + 5),
            s("d", "draft", 99 * H),
        ];
        let t = stages_over_time(&statuses, now, 24);
        assert_eq!(t.len(), 24);
        assert_eq!(t[23].hour_ms, 100 * H);
        let at = |h: i64| t.iter().find(|x| x.hour_ms == h * H).unwrap().counts;
        assert_eq!(at(94), [1, 0, 0, 0, 0, 0]);
        assert_eq!(at(95), [2, 0, 0, 0, 0, 0]);
        assert_eq!(at(96), [1, 0, 0, 0, 0, 1]);
        assert_eq!(at(97), [0, 1, 0, 0, 0, 1]);
        assert_eq!(at(98), [1, 1, 0, 0, 0, 0]);
        assert_eq!(at(99), [1, 0, 1, 0, 0, 0]);
        assert_eq!(at(100), [1, 0, 1, 0, 0, 0]);
    }
}
