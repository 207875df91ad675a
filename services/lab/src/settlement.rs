//! Fig. 1 steps 5-6: the counter handed the prints over and collected the lab's charge with its
//! own (`CollectionRecorded`), then paid the lab its share (`SettlementRecorded`). The lab
//! records the collection in the individual user file (kept "for user analysis later on"),
//! and keeps a ledger per delivery counter:
//!
//! - **charged**: the lab's charges of the orders dispatched to the counter (at dispatch);
//! - **collected**: what the counter collected of them from the users;
//! - **paid**: what the counter settled;
//! - **owed** = collected - paid.

use reprint_domain::file::Command;
use reprint_domain::protocol::{CollectionRecorded, SettlementRecorded, Stage};
use reprint_domain::{Money, ReceptionNumber};
use reprint_eventstore::Transaction;
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
