//! The lab's ledger with one delivery counter (seed 004: the counter "collects the charge
//! determined by the laboratory system together with its own" and pays the lab its share).
//!
//! - **charged**: the lab's charges of the receptions dispatched to the counter (at dispatch);
//! - **collected**: what the counter collected of them from the users (its `CollectionRecorded`);
//! - **paid**: what the counter settled: each order of a counter's statement when the lab
//!   confirms it (`crate::statement`; older counters sent a `SettlementRecorded` per order);
//! - **owed** = collected - paid: what the counter holds of the lab's money.
//!
//! Every entry has an id that makes recording it again a no-op (a redelivered message), and is
//! in the ledger's currency. A payment may arrive before the collection it pays for (the
//! counter's two messages may overtake each other), so `owed` may be negative for a while; it
//! is never refused for that.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Refusal, Refuses};
use crate::money::{Currency, Money};

/// Which figure an entry adds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Charged,
    Collected,
    Paid,
}

impl EntryKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            EntryKind::Charged => "charged",
            EntryKind::Collected => "collected",
            EntryKind::Paid => "paid",
        }
    }

    pub fn parse(s: &str) -> Option<EntryKind> {
        [EntryKind::Charged, EntryKind::Collected, EntryKind::Paid]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Recording the same id again is a no-op.
    pub id: String,
    /// The order the money is for.
    pub order: String,
    pub kind: EntryKind,
    pub amount: Money,
    pub at: DateTime<Utc>,
}

/// The ledger with one counter in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub currency: Currency,
    pub charged: i64,
    pub collected: i64,
    pub paid: i64,
    /// Ids of the entries recorded (for idempotence).
    pub recorded: BTreeSet<String>,
}

impl Ledger {
    pub fn new(currency: Currency) -> Ledger {
        Ledger {
            currency,
            charged: 0,
            collected: 0,
            paid: 0,
            recorded: BTreeSet::new(),
        }
    }

    /// What the counter holds of the lab's money: collected - paid.
    pub fn owed(&self) -> Money {
        Money::new(self.collected - self.paid, self.currency)
    }

    /// What was charged and not collected yet: prints at the counter waiting for their users.
    pub fn uncollected(&self) -> Money {
        Money::new(self.charged - self.collected, self.currency)
    }

    pub fn figure(&self, kind: EntryKind) -> Money {
        Money::new(
            match kind {
                EntryKind::Charged => self.charged,
                EntryKind::Collected => self.collected,
                EntryKind::Paid => self.paid,
            },
            self.currency,
        )
    }
}

/// Record an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record(pub Entry);

/// What happened to the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Recorded(Entry),
}

/// Why an entry cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("the ledger is kept in {ledger}, the entry is in {entry}")]
    WrongCurrency { ledger: String, entry: String },
    #[error("an entry of the ledger is never negative, got {amount}")]
    Negative { amount: String },
    #[error("the ledger's figures would overflow")]
    Overflow,
}

impl Refuses for LedgerError {
    fn refusal(&self) -> Refusal {
        Refusal::Invalid
    }
}

/// The decision: the entry is recorded once, in the ledger's currency, never negative.
pub fn decide(ledger: &Ledger, Record(entry): Record) -> Result<Vec<Event>, LedgerError> {
    if ledger.recorded.contains(&entry.id) {
        return Ok(vec![]);
    }
    if entry.amount.currency != ledger.currency {
        return Err(LedgerError::WrongCurrency {
            ledger: ledger.currency.to_string(),
            entry: entry.amount.currency.to_string(),
        });
    }
    if entry.amount.minor < 0 {
        return Err(LedgerError::Negative {
            amount: entry.amount.to_string(),
        });
    }
    if ledger
        .figure(entry.kind)
        .minor
        .checked_add(entry.amount.minor)
        .is_none()
    {
        return Err(LedgerError::Overflow);
    }
    Ok(vec![Event::Recorded(entry)])
}

/// The evolution: the ledger after an entry.
pub fn evolve(mut ledger: Ledger, event: &Event) -> Ledger {
    let Event::Recorded(entry) = event;
    if ledger.recorded.insert(entry.id.clone()) {
        let figure = match entry.kind {
            EntryKind::Charged => &mut ledger.charged,
            EntryKind::Collected => &mut ledger.collected,
            EntryKind::Paid => &mut ledger.paid,
        };
        *figure = figure.saturating_add(entry.amount.minor);
    }
    ledger
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn yen(n: i64) -> Money {
        Money::new(n, Currency::parse("JPY").unwrap())
    }

    fn entry(id: &str, kind: EntryKind, amount: Money) -> Entry {
        Entry {
            id: id.into(),
            order: "order-1".into(),
            kind,
            amount,
            at: Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap(),
        }
    }

    fn run(ledger: Ledger, e: Entry) -> Result<Ledger, LedgerError> {
        Ok(decide(&ledger, Record(e))?.iter().fold(ledger, evolve))
    }

    #[test]
    fn the_seeds_order_charged_collected_and_paid() {
        // Fig. 7: the lab's charge for B0000456 is 250 yen (basic charge 250, prints free
        // within the week); the counter collects it with its own and pays the lab.
        let l = Ledger::new(Currency::parse("JPY").unwrap());
        let l = run(l, entry("o1:charged", EntryKind::Charged, yen(250))).unwrap();
        assert_eq!((l.uncollected(), l.owed()), (yen(250), yen(0)));
        let l = run(l, entry("o1:collected", EntryKind::Collected, yen(250))).unwrap();
        assert_eq!((l.uncollected(), l.owed()), (yen(0), yen(250)));
        let l = run(l, entry("settlement:s1", EntryKind::Paid, yen(250))).unwrap();
        assert_eq!((l.charged, l.collected, l.paid), (250, 250, 250));
        assert_eq!(l.owed(), yen(0));
    }

    #[test]
    fn a_redelivered_entry_counts_once() {
        let l = Ledger::new(Currency::parse("JPY").unwrap());
        let l = run(l, entry("o1:collected", EntryKind::Collected, yen(740))).unwrap();
        assert_eq!(
            decide(
                &l,
                Record(entry("o1:collected", EntryKind::Collected, yen(740)))
            ),
            Ok(vec![])
        );
        let l = run(l, entry("o1:collected", EntryKind::Collected, yen(740))).unwrap();
        assert_eq!(l.collected, 740);
    }

    #[test]
    fn a_payment_may_overtake_its_collection() {
        let l = Ledger::new(Currency::parse("JPY").unwrap());
        let l = run(l, entry("settlement:s1", EntryKind::Paid, yen(250))).unwrap();
        assert_eq!(l.owed(), yen(-250));
        let l = run(l, entry("o1:collected", EntryKind::Collected, yen(250))).unwrap();
        assert_eq!(l.owed(), yen(0));
    }

    #[test]
    fn another_currency_or_a_negative_amount_is_refused() {
        let l = Ledger::new(Currency::parse("JPY").unwrap());
        let usd = Money::new(250, Currency::parse("USD").unwrap());
        assert_eq!(
            decide(&l, Record(entry("x", EntryKind::Charged, usd))),
            Err(LedgerError::WrongCurrency {
                ledger: "JPY".into(),
                entry: "USD".into()
            })
        );
        assert!(matches!(
            decide(&l, Record(entry("y", EntryKind::Paid, yen(-1)))),
            Err(LedgerError::Negative { .. })
        ));
        let mut full = Ledger::new(Currency::parse("JPY").unwrap());
        full.paid = i64::MAX;
        assert_eq!(
            decide(&full, Record(entry("z", EntryKind::Paid, yen(1)))),
            Err(LedgerError::Overflow)
        );
    }
}
