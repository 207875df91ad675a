//! Fig. 1 steps 5-6: the counter handed the prints over and collected the lab's charge with its
//! own (`CollectionRecorded`), then paid the lab its share (`SettlementRecorded`). The lab
//! records the collection in the individual user file (kept "for user analysis later on"),
//! and keeps a ledger per delivery counter:
//!
//! - **charged**: the lab's charges of the orders dispatched to the counter (at dispatch);
//! - **collected**: what the counter collected of them from the users;
//! - **paid**: what the counter settled;
//! - **owed** = collected - paid.
//!
//! The counter pays by periodic statement (issue 15, [`statement_received`],
//! [`confirm_statement`]): an operator confirms a statement and its orders are paid and
//! settled then. `SettlementRecorded` (one order paid at hand-over) is still heard from
//! counters that send it.

use reprint_domain::file::Command;
use reprint_domain::protocol::{
    CollectionRecorded, SettlementRecorded, Stage, StatementConfirmed, StatementIssued,
};
use reprint_domain::{Money, ReceptionNumber, SiteId, statement};
use reprint_eventstore::Transaction;
use reprint_eventstore::sql::{self, Arg};
use serde::Serialize;

use crate::db;
use crate::error::LabError;
use crate::messages::enqueue_status;
use crate::reception;
use crate::state::Lab;
use reprint_domain::{ledger, production};

/// Records an entry of the ledger with a delivery counter, as `reprint_domain::ledger` decides:
/// in the lab's currency, never negative; `lab_ledger` is the ledger's log (an entry id written
/// twice is one entry). False when it was recorded before.
pub async fn record_ledger(
    lab: &Lab,
    tx: &mut Transaction,
    entry: &db::LedgerEntry<'_>,
) -> Result<bool, LabError> {
    let kind = ledger::EntryKind::parse(entry.kind)
        .ok_or_else(|| LabError::Internal(format!("ledger entry kind {:?}", entry.kind)))?;
    let decided = ledger::decide(
        &ledger::Ledger::new(lab.rules().currency),
        ledger::Record(ledger::Entry {
            id: entry.entry_id.clone(),
            order: entry.order.to_string(),
            kind,
            amount: entry.amount,
            at: entry.at,
        }),
    )
    .map_err(|e| LabError::BadRequest(format!("ledger with {}: {e}", entry.counter)))?;
    if decided.is_empty() {
        return Ok(false);
    }
    Ok(db::ledger_entry(tx, entry).await?)
}

pub async fn collection(
    lab: &Lab,
    tx: &mut Transaction,
    c: &CollectionRecorded,
) -> Result<(), LabError> {
    if &c.lab != lab.site() {
        return Err(LabError::BadRequest(format!(
            "collection for lab {}, this is {}",
            c.lab,
            lab.site()
        )));
    }
    let order = c.order.to_string();
    let Some(row) = db::production_by_order(tx, &order).await? else {
        return Err(LabError::NotFound(format!(
            "no reception here for order {order}"
        )));
    };
    if let Ok(number) = ReceptionNumber::parse(&lab.rules().reception_number, &row.reception_number)
        && let Some((mut loaded, _)) = lab.files.by_reception(tx, &number).await?
    {
        lab.files
            .execute(
                tx,
                &mut loaded,
                Command::RecordCollected {
                    number,
                    at: c.collected_at,
                },
            )
            .await?;
    }
    let moved = match reception::execute(
        tx,
        &order,
        production::Command::RecordCollected {
            actor: format!("counter {}", c.counter),
            at: c.collected_at,
        },
        &format!("collected, lab charge {}", c.lab_charge),
    )
    .await
    {
        Ok((_, events)) => !events.is_empty(),
        // Collected for a reception that was never made: the money is real, the ledger keeps
        // it; the reception stays where it is.
        Err(LabError::Refused(e)) => {
            tracing::warn!(order = %order, error = %e, "a collection of a reception not made");
            false
        }
        Err(e) => return Err(e),
    };
    if moved {
        let orders = lab.metrics.orders.clone();
        tx.after_commit(move || orders.with_label_values(&["collected"]).inc());
    }
    record_ledger(
        lab,
        tx,
        &db::LedgerEntry {
            entry_id: format!("{order}:collected"),
            counter: c.counter.as_str(),
            order: &order,
            kind: "collected",
            amount: c.lab_charge,
            at: c.collected_at,
        },
    )
    .await?;
    Ok(())
}

pub async fn settlement(
    lab: &Lab,
    tx: &mut Transaction,
    s: &SettlementRecorded,
    trace: Option<&str>,
) -> Result<(), LabError> {
    if &s.lab != lab.site() {
        return Err(LabError::BadRequest(format!(
            "settlement for lab {}, this is {}",
            s.lab,
            lab.site()
        )));
    }
    let order = s.order.to_string();
    let fresh = record_ledger(
        lab,
        tx,
        &db::LedgerEntry {
            entry_id: format!("settlement:{}", s.settlement),
            counter: s.counter.as_str(),
            order: &order,
            kind: "paid",
            amount: s.amount,
            at: s.at,
        },
    )
    .await?;
    if !fresh {
        return Ok(());
    }
    let moved = match reception::execute(
        tx,
        &order,
        production::Command::RecordSettled {
            actor: format!("counter {}", s.counter),
            at: s.at,
        },
        &format!("settled {}", s.amount),
    )
    .await
    {
        Ok((_, events)) => !events.is_empty(),
        Err(LabError::Refused(e)) => {
            tracing::warn!(order = %order, error = %e, "a settlement of a reception not dispatched");
            false
        }
        Err(e) => return Err(e),
    };
    if !moved {
        // Paid again for an order settled before (the ledger has the payment): no new stage.
        tracing::info!(order = %order, settlement = %s.settlement, "another settlement of a settled order");
        return Ok(());
    }
    enqueue_status(
        lab,
        tx,
        s.order,
        Stage::Settled,
        format!(
            "counter {} settled {} for reception {}",
            s.counter, s.amount, s.lab_reception
        ),
        None,
        trace,
    )
    .await
}

/// The ledger of one delivery counter in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LedgerLine {
    pub counter: String,
    pub currency: String,
    /// Minor units.
    pub charged: i64,
    pub collected: i64,
    pub paid: i64,
    /// collected - paid.
    pub owed: i64,
}

impl LedgerLine {
    pub fn money(&self, minor: i64) -> String {
        reprint_domain::Currency::parse(&self.currency)
            .map(|c| Money::new(minor, c).to_string())
            .unwrap_or_else(|_| format!("{minor} {}", self.currency))
    }
}

pub async fn ledger(lab: &Lab) -> Result<Vec<LedgerLine>, LabError> {
    let mut tx = lab.store.begin().await?;
    let sums = db::ledger_sums(&mut tx).await?;
    tx.commit().await?;
    let mut lines: Vec<LedgerLine> = Vec::new();
    for s in sums {
        let idx = match lines
            .iter()
            .position(|l| l.counter == s.counter && l.currency == s.currency)
        {
            Some(i) => i,
            None => {
                lines.push(LedgerLine {
                    counter: s.counter.clone(),
                    currency: s.currency.clone(),
                    charged: 0,
                    collected: 0,
                    paid: 0,
                    owed: 0,
                });
                lines.len() - 1
            }
        };
        let line = &mut lines[idx];
        match s.kind.as_str() {
            "charged" => line.charged += s.amount,
            "collected" => line.collected += s.amount,
            "paid" => line.paid += s.amount,
            _ => {}
        }
        line.owed = line.collected - line.paid;
    }
    Ok(lines)
}

// ---------- statements (issue 15) ----------

/// A delivery counter's statement as the lab keeps it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StatementRow {
    pub statement_id: String,
    pub counter: String,
    pub through_date: String,
    pub orders: i64,
    pub total_minor: i64,
    pub currency: String,
    pub lines: String,
    pub issued_at: String,
    pub received_at: String,
    pub state: String,
    pub confirmed_at: Option<String>,
    pub confirmed_by: Option<String>,
}

impl StatementRow {
    pub fn lines(&self) -> Result<Vec<reprint_domain::statement::Line>, LabError> {
        serde_json::from_str(&self.lines)
            .map_err(|e| LabError::Internal(format!("statement {}: {e}", self.statement_id)))
    }
}

const STATEMENT_COLS: &str = "SELECT statement_id, counter, through_date, orders, total_minor, currency, lines, issued_at, received_at, state, confirmed_at, confirmed_by FROM lab_statements";

/// A counter's statement arrived: checked (`reprint_domain::statement::check_statement`: its
/// orders once each, in the lab's currency, adding up to its total) and kept for an operator
/// to confirm. Heard again, it changes nothing.
pub async fn statement_received(
    lab: &Lab,
    tx: &mut Transaction,
    s: &StatementIssued,
) -> Result<(), LabError> {
    if &s.lab != lab.site() {
        return Err(LabError::BadRequest(format!(
            "statement for lab {}, this is {}",
            s.lab,
            lab.site()
        )));
    }
    if s.total.currency != lab.rules().currency {
        return Err(LabError::BadRequest(format!(
            "statement {} in {}, the lab keeps {}",
            s.statement,
            s.total.currency,
            lab.rules().currency
        )));
    }
    statement::check_statement(&s.lines, s.total)
        .map_err(|e| LabError::BadRequest(format!("statement {}: {e}", s.statement)))?;
    let lines = serde_json::to_string(&s.lines)
        .map_err(|e| LabError::Internal(format!("statement lines: {e}")))?;
    sql::exec(
        tx.conn(),
        "INSERT INTO lab_statements (statement_id, counter, through_date, orders, total_minor, currency, lines, issued_at, received_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'received') ON CONFLICT (statement_id) DO NOTHING",
        &[
            Arg::from(s.statement.to_string()),
            Arg::from(s.counter.as_str()),
            Arg::from(s.through.to_string()),
            Arg::from(s.lines.len() as i64),
            Arg::from(s.total.minor),
            Arg::from(s.total.currency.to_string()),
            Arg::from(lines),
            Arg::from(sql::ts(s.issued_at)),
            Arg::from(sql::ts(lab.clock.now())),
        ],
    )
    .await?;
    Ok(())
}

/// The statements received, the newest first.
pub async fn statements(lab: &Lab, limit: i64) -> Result<Vec<StatementRow>, LabError> {
    let mut tx = lab.store.begin().await?;
    let rows = sql::fetch(
        tx.conn(),
        &format!("{STATEMENT_COLS} ORDER BY received_at DESC LIMIT $1"),
        &[Arg::from(limit)],
    )
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// An operator confirms a statement: in one transaction each of its orders is paid in the
/// ledger (`statement:<id>:<order>`), its reception settled with the status `settled` (what
/// the gateway's balances read), the statement marked confirmed, and `StatementConfirmed`
/// goes to the counter (outbox). Confirming twice is refused (409).
pub async fn confirm_statement(
    lab: &Lab,
    statement_id: &str,
    operator: &str,
) -> Result<StatementRow, LabError> {
    let now = lab.clock.now();
    let mut tx = lab.store.begin().await?;
    let row: Option<StatementRow> = sql::fetch_optional(
        tx.conn(),
        &format!("{STATEMENT_COLS} WHERE statement_id = $1"),
        &[Arg::from(statement_id)],
    )
    .await?;
    let Some(row) = row else {
        return Err(LabError::NotFound(format!("no statement {statement_id}")));
    };
    if row.state == "confirmed" {
        return Err(LabError::Conflict(format!(
            "statement {statement_id} was confirmed before"
        )));
    }
    let lines = row.lines()?;
    let currency = reprint_domain::Currency::parse(&row.currency)?;
    let total = Money::new(row.total_minor, currency);
    statement::check_statement(&lines, total)
        .map_err(|e| LabError::BadRequest(format!("statement {statement_id}: {e}")))?;
    let id = uuid::Uuid::parse_str(&row.statement_id)
        .map_err(|e| LabError::Internal(format!("statement id {:?}: {e}", row.statement_id)))?;
    for line in &lines {
        let order = reprint_domain::OrderId::parse(&line.order)?;
        let fresh = record_ledger(
            lab,
            &mut tx,
            &db::LedgerEntry {
                entry_id: format!("statement:{statement_id}:{}", line.order),
                counter: row.counter.as_str(),
                order: &line.order,
                kind: "paid",
                amount: line.amount,
                at: now,
            },
        )
        .await?;
        if !fresh {
            continue;
        }
        let moved = match reception::execute(
            &mut tx,
            &line.order,
            production::Command::RecordSettled {
                actor: format!("counter {} (statement)", row.counter),
                at: now,
            },
            &format!("settled {} by statement {statement_id}", line.amount),
        )
        .await
        {
            Ok((_, events)) => !events.is_empty(),
            Err(LabError::Refused(e)) => {
                tracing::warn!(order = %line.order, error = %e, "a statement settled a reception not dispatched");
                false
            }
            // Paid for an order this lab has no reception of (the ledger keeps the money).
            Err(LabError::NotFound(e)) => {
                tracing::warn!(order = %line.order, error = %e, "a statement settled an order unknown here");
                false
            }
            Err(e) => return Err(e),
        };
        if moved {
            enqueue_status(
                lab,
                &mut tx,
                order,
                Stage::Settled,
                format!(
                    "counter {} settled {} for reception {} (statement confirmed)",
                    row.counter, line.amount, line.lab_reception
                ),
                None,
                None,
            )
            .await?;
        }
    }
    sql::exec(
        tx.conn(),
        "UPDATE lab_statements SET state = 'confirmed', confirmed_at = $2, confirmed_by = $3 WHERE statement_id = $1",
        &[
            Arg::from(statement_id),
            Arg::from(sql::ts(now)),
            Arg::from(operator),
        ],
    )
    .await?;
    let counter = SiteId::parse(&row.counter)?;
    let body = StatementConfirmed {
        statement: id,
        counter: counter.clone(),
        lab: lab.site().clone(),
        orders: lines.len(),
        total,
        confirmed_by: operator.to_string(),
        confirmed_at: now,
    };
    let to = reprint_bus::subjects::SiteId::parse(counter.as_str())
        .map(reprint_bus::subjects::Address::counter)
        .map_err(|e| LabError::Internal(e.to_string()))?;
    let message = reprint_bus::message::statement_to_inbox(
        lab.site().as_str(),
        to,
        reprint_bus::subjects::Topic::StatementConfirmed,
        id,
        &body,
        None,
    )?;
    tx.enqueue(&[message]).await?;
    tx.commit().await?;
    lab.waker.wake();
    Ok(StatementRow {
        state: "confirmed".into(),
        confirmed_at: Some(sql::ts(now)),
        confirmed_by: Some(operator.to_string()),
        ..row
    })
}

/// The lab's statement ledger with one counter (minor units): charged on statements =
/// confirmed + open (`reprint_domain::statement::LabLedger`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLedger {
    pub counter: String,
    pub currency: String,
    pub ledger: statement::LabLedger,
}

pub async fn statement_ledger(lab: &Lab) -> Result<Vec<StatementLedger>, LabError> {
    let mut tx = lab.store.begin().await?;
    let rows: Vec<(String, String, i64, i64)> = sql::fetch(
        tx.conn(),
        "SELECT counter, currency, CAST(COALESCE(SUM(total_minor), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN state = 'confirmed' THEN total_minor ELSE 0 END), 0) AS BIGINT) FROM lab_statements GROUP BY counter, currency ORDER BY counter, currency",
        &[],
    )
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(counter, currency, charged, confirmed)| StatementLedger {
            counter,
            currency,
            ledger: statement::LabLedger {
                charged,
                confirmed,
                open: charged - confirmed,
            },
        })
        .collect())
}
