//! Settlement balances between counters and labs, for ops, from the status stream alone.
//!
//! Every `StatusChanged` of the network reaches the gateway, walk-in orders at counters
//! included, and together they say all a balance needs:
//! - the lab's statuses (`site_kind: lab`) name the lab, and `received` and `dispatched` carry
//!   the lab's charge (the `dispatched` one wins: it is what the lab hands the counter);
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
    /// The lab's charge and how much it counts: 2 at `dispatched`, 1 at `received`.
    pub lab_charge: Option<(Money, i64)>,
    pub dispatched: bool,
    pub collected: bool,
    pub settled: bool,
    pub stage: Stage,
    pub at_ms: i64,
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
        let rank = match change.stage {
            Stage::Dispatched => 2,
            Stage::Received => 1,
            _ => 0,
        };
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
        }
    }
}

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
        assert_eq!(f.lab_charge.map(|(m, r)| (m.minor, r)), Some((900, 2)));
        assert!(f.dispatched && !f.collected && !f.settled);
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
}
