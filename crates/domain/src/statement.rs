//! Settling the lab's share by statement, and the counter's day close (issue 15).
//!
//! The counter collects the lab's charge with its own at hand-over; it pays the lab not order
//! by order but by a periodic **statement** (daily by default) that lists the orders collected
//! for that lab and not yet on a statement. The lab checks the statement and confirms it; only
//! then are the orders on it settled. Both sides keep a ledger that balances:
//!
//! - counter, per lab: collected = settled (confirmed statements) + open statements + not yet
//!   on a statement;
//! - lab, per counter: charged on statements = confirmed + open.
//!
//! At the day close staff count the till: the difference between the cash counted and the cash
//! taken (by the payments of the day) is recorded and shown, never corrected silently.
//!
//! Everything here is pure: the caller passes the collections, the statements and the time.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::error::{Refusal, Refuses};
use crate::money::{Currency, Money};

/// How often a statement is issued: a statement covers the collections up to and including
/// the last day of a period that is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    #[default]
    Daily,
    /// Monday to Sunday.
    Weekly,
    /// Calendar month.
    Monthly,
}

impl Period {
    pub fn parse(s: &str) -> Option<Period> {
        match s.trim().to_ascii_lowercase().as_str() {
            "daily" | "day" => Some(Period::Daily),
            "weekly" | "week" => Some(Period::Weekly),
            "monthly" | "month" => Some(Period::Monthly),
            _ => None,
        }
    }

    /// The last day of the newest period wholly before `today` (on the counter's calendar):
    /// a statement issued today covers the collections up to and including that day.
    pub fn through(&self, today: NaiveDate) -> NaiveDate {
        let yesterday = today.pred_opt().unwrap_or(today);
        match self {
            Period::Daily => yesterday,
            Period::Weekly => {
                // Back to the last Sunday before today (a week ends on a Sunday).
                let back = today.weekday().num_days_from_monday() + 1;
                today - chrono::Days::new(u64::from(back))
            }
            Period::Monthly => today
                .with_day(1)
                .and_then(|d| d.pred_opt())
                .unwrap_or(yesterday),
        }
    }
}

/// One collection of the lab's charge, as the counter recorded it at hand-over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub order: String,
    pub lab_reception: String,
    /// The day of the hand-over on the counter's calendar.
    pub day: NaiveDate,
    pub lab_charge: Money,
}

/// One order on a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub order: String,
    pub lab_reception: String,
    pub collected_on: NaiveDate,
    pub amount: Money,
}

/// What a statement will list: its lines (oldest day first, then by order) and their total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub through: NaiveDate,
    pub lines: Vec<Line>,
    pub total: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error("the statement lists no order")]
    Empty,
    #[error("order {0} is listed twice")]
    Duplicate(String),
    #[error("order {order} is in {found}, the statement is in {expected}")]
    Currency {
        order: String,
        expected: String,
        found: String,
    },
    #[error("order {0} has a negative amount")]
    Negative(String),
    #[error("the lines add up to {lines}, the statement says {total}")]
    Total { lines: Money, total: Money },
    #[error("the amounts overflow")]
    Overflow,
    #[error("the confirmation is for {what} {found}, the statement's is {expected}")]
    Mismatch {
        what: &'static str,
        expected: String,
        found: String,
    },
    #[error("the statement was confirmed before")]
    Confirmed,
}

impl Refuses for StatementError {
    fn refusal(&self) -> Refusal {
        match self {
            StatementError::Confirmed => Refusal::Conflict,
            _ => Refusal::Invalid,
        }
    }
}

fn add(a: Money, b: Money, order: &str) -> Result<Money, StatementError> {
    if a.currency != b.currency {
        return Err(StatementError::Currency {
            order: order.to_string(),
            expected: a.currency.to_string(),
            found: b.currency.to_string(),
        });
    }
    a.checked_add(b).map_err(|_| StatementError::Overflow)
}

/// Decides what the next statement to a lab lists: the collections made up to and including
/// `through` that are on no statement yet (`on_statement`: orders already listed on any
/// statement, open or confirmed). `None` when there is nothing to list.
pub fn draft(
    currency: Currency,
    collections: &[Collection],
    on_statement: &BTreeSet<String>,
    through: NaiveDate,
) -> Result<Option<Draft>, StatementError> {
    let mut lines: Vec<Line> = collections
        .iter()
        .filter(|c| c.day <= through && !on_statement.contains(&c.order))
        .map(|c| Line {
            order: c.order.clone(),
            lab_reception: c.lab_reception.clone(),
            collected_on: c.day,
            amount: c.lab_charge,
        })
        .collect();
    if lines.is_empty() {
        return Ok(None);
    }
    lines.sort_by(|a, b| (a.collected_on, &a.order).cmp(&(b.collected_on, &b.order)));
    let total = check_lines(currency, &lines)?;
    Ok(Some(Draft {
        through,
        lines,
        total,
    }))
}

/// Checks a statement's lines (what the lab does before it shows one for confirmation): at
/// least one, each order once, one currency, no negative amount; returns their total.
pub fn check_lines(currency: Currency, lines: &[Line]) -> Result<Money, StatementError> {
    if lines.is_empty() {
        return Err(StatementError::Empty);
    }
    let mut seen = BTreeSet::new();
    let mut total = Money::zero(currency);
    for l in lines {
        if !seen.insert(l.order.as_str()) {
            return Err(StatementError::Duplicate(l.order.clone()));
        }
        if l.amount.minor < 0 {
            return Err(StatementError::Negative(l.order.clone()));
        }
        total = add(total, l.amount, &l.order)?;
    }
    Ok(total)
}

/// Checks a received statement: its lines as [`check_lines`] and its stated total equal to
/// theirs.
pub fn check_statement(lines: &[Line], total: Money) -> Result<(), StatementError> {
    let sum = check_lines(total.currency, lines)?;
    if sum != total {
        return Err(StatementError::Total { lines: sum, total });
    }
    Ok(())
}

/// The identity of a statement as both sides know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued<'a> {
    pub id: &'a str,
    pub counter: &'a str,
    pub lab: &'a str,
    pub orders: usize,
    pub total: Money,
    /// Confirmed before (a second confirmation changes nothing and is refused).
    pub confirmed: bool,
}

/// Checks the lab's confirmation against the statement the counter issued: the same
/// statement, counter and lab, the same number of orders and the same total. The counter
/// settles the orders only when this passes.
pub fn check_confirmation(
    issued: &Issued<'_>,
    confirmed: &Issued<'_>,
) -> Result<(), StatementError> {
    let pairs: [(&'static str, String, String); 5] = [
        ("statement", issued.id.into(), confirmed.id.into()),
        ("counter", issued.counter.into(), confirmed.counter.into()),
        ("lab", issued.lab.into(), confirmed.lab.into()),
        (
            "orders",
            issued.orders.to_string(),
            confirmed.orders.to_string(),
        ),
        (
            "total",
            issued.total.to_string(),
            confirmed.total.to_string(),
        ),
    ];
    for (what, expected, found) in pairs {
        if expected != found {
            return Err(StatementError::Mismatch {
                what,
                expected,
                found,
            });
        }
    }
    if issued.confirmed {
        return Err(StatementError::Confirmed);
    }
    Ok(())
}

/// The counter's ledger with one lab (minor units).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CounterLedger {
    pub collected: i64,
    pub settled: i64,
    pub open: i64,
    pub not_stated: i64,
}

impl CounterLedger {
    /// collected = settled + open + not yet on a statement.
    pub fn balances(&self) -> bool {
        self.settled
            .checked_add(self.open)
            .and_then(|x| x.checked_add(self.not_stated))
            == Some(self.collected)
    }
}

/// The lab's ledger of statements with one counter (minor units).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LabLedger {
    pub charged: i64,
    pub confirmed: i64,
    pub open: i64,
}

impl LabLedger {
    /// charged on statements = confirmed + open.
    pub fn balances(&self) -> bool {
        self.confirmed.checked_add(self.open) == Some(self.charged)
    }
}

/// The till at the day close: the cash the payments of the day should have left in the till
/// (cash tendered minus change, i.e. the cash totals) against what staff counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TillCount {
    pub expected: Money,
    pub counted: Money,
}

impl TillCount {
    /// Counted minus expected: positive is more cash than the payments say (over), negative
    /// is less (short).
    pub fn difference(&self) -> Result<Money, StatementError> {
        if self.expected.currency != self.counted.currency {
            return Err(StatementError::Currency {
                order: "till".into(),
                expected: self.expected.currency.to_string(),
                found: self.counted.currency.to_string(),
            });
        }
        self.counted
            .checked_sub(self.expected)
            .map_err(|_| StatementError::Overflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpy() -> Currency {
        Currency::parse("JPY").unwrap()
    }
    fn yen(n: i64) -> Money {
        Money::new(n, jpy())
    }
    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }
    fn col(order: &str, d: u32, amount: i64) -> Collection {
        Collection {
            order: order.into(),
            lab_reception: format!("L-{order}"),
            day: day(d),
            lab_charge: yen(amount),
        }
    }

    #[test]
    fn a_daily_statement_lists_the_days_before_today_not_yet_stated() {
        let through = Period::Daily.through(day(4));
        assert_eq!(through, day(3));
        let cs = [
            col("b", 3, 480),
            col("a", 2, 320),
            col("c", 4, 999),   // today: next statement
            col("old", 1, 100), // on a statement already
        ];
        let stated: BTreeSet<String> = ["old".to_string()].into();
        let d = draft(jpy(), &cs, &stated, through).unwrap().unwrap();
        let orders: Vec<&str> = d.lines.iter().map(|l| l.order.as_str()).collect();
        assert_eq!(orders, ["a", "b"]);
        assert_eq!(d.total, yen(800));
        // Everything stated: nothing to send.
        let all: BTreeSet<String> = ["a", "b", "old"].map(String::from).into();
        assert_eq!(draft(jpy(), &cs, &all, through).unwrap(), None);
    }

    #[test]
    fn weekly_and_monthly_periods_end_before_today() {
        // 2026-12-04 is a Friday: the last whole week ended on Sunday 2026-11-29.
        assert_eq!(
            Period::Weekly.through(day(4)),
            NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
        );
        // A Monday: the week ended yesterday.
        assert_eq!(Period::Weekly.through(day(7)), day(6));
        assert_eq!(
            Period::Monthly.through(day(4)),
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
        );
        assert_eq!(Period::parse("Weekly"), Some(Period::Weekly));
        assert_eq!(Period::parse("hourly"), None);
    }

    #[test]
    fn a_statement_in_two_currencies_or_with_a_duplicate_is_refused() {
        let usd = Currency::parse("USD").unwrap();
        let mut cs = vec![col("a", 1, 100)];
        cs.push(Collection {
            lab_charge: Money::new(5, usd),
            ..col("b", 1, 0)
        });
        assert!(matches!(
            draft(jpy(), &cs, &BTreeSet::new(), day(1)),
            Err(StatementError::Currency { .. })
        ));
        let d = draft(jpy(), &[col("a", 1, 100)], &BTreeSet::new(), day(1))
            .unwrap()
            .unwrap();
        let mut twice = d.lines.clone();
        twice.extend(d.lines.clone());
        assert_eq!(
            check_statement(&twice, yen(200)),
            Err(StatementError::Duplicate("a".into()))
        );
        assert!(matches!(
            check_statement(&d.lines, yen(101)),
            Err(StatementError::Total { .. })
        ));
        assert_eq!(check_statement(&d.lines, yen(100)), Ok(()));
        assert_eq!(check_statement(&[], yen(0)), Err(StatementError::Empty));
    }

    #[test]
    fn a_confirmation_must_match_the_statement() {
        let issued = Issued {
            id: "s1",
            counter: "counter-shibuya",
            lab: "lab-a",
            orders: 2,
            total: yen(800),
            confirmed: false,
        };
        assert_eq!(check_confirmation(&issued, &issued.clone()), Ok(()));
        let short = Issued {
            total: yen(700),
            ..issued.clone()
        };
        assert!(matches!(
            check_confirmation(&issued, &short),
            Err(StatementError::Mismatch { what: "total", .. })
        ));
        let other = Issued {
            lab: "lab-b",
            ..issued.clone()
        };
        assert!(matches!(
            check_confirmation(&issued, &other),
            Err(StatementError::Mismatch { what: "lab", .. })
        ));
        let again = Issued {
            confirmed: true,
            ..issued.clone()
        };
        assert_eq!(
            check_confirmation(&again, &issued),
            Err(StatementError::Confirmed)
        );
        assert_eq!(StatementError::Confirmed.refusal(), Refusal::Conflict);
    }

    #[test]
    fn ledgers_balance_and_the_till_difference_is_signed() {
        let c = CounterLedger {
            collected: 1_280,
            settled: 800,
            open: 300,
            not_stated: 180,
        };
        assert!(c.balances());
        assert!(!CounterLedger { open: 0, ..c }.balances());
        assert!(
            LabLedger {
                charged: 1_100,
                confirmed: 800,
                open: 300
            }
            .balances()
        );
        let till = TillCount {
            expected: yen(2_350),
            counted: yen(2_300),
        };
        assert_eq!(till.difference(), Ok(yen(-50)));
    }
}
