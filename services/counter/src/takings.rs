//! The day's takings (on the counter's own calendar) and, per lab, what was collected for it
//! and what has been settled with it.

use chrono::{DateTime, NaiveDate, Utc};
use reprint_domain::charge::local_date;

use reprint_eventstore::sql::{self, Arg};

use crate::error::Result;
use crate::state::Counter;

#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct MethodTotal {
    pub method: String,
    #[sqlx(rename = "n")]
    pub count: i64,
    pub total: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabBalance {
    pub lab: String,
    pub lab_name: String,
    /// The lab's charges collected from customers (that day / ever).
    pub collected_today: i64,
    pub settled_today: i64,
    pub collected_total: i64,
    pub settled_total: i64,
}

impl LabBalance {
    /// Collected for the lab and not yet settled with it.
    pub fn owed(&self) -> i64 {
        self.collected_total - self.settled_total
    }
}

#[derive(Debug, Clone)]
pub struct Takings {
    pub date: NaiveDate,
    pub currency: String,
    pub collections: i64,
    pub total: i64,
    pub counter_share: i64,
    pub lab_share: i64,
    pub by_method: Vec<MethodTotal>,
    pub by_lab: Vec<LabBalance>,
}

/// The day's payments in one row.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
struct DayTotals {
    n: i64,
    total: i64,
    counter_share: i64,
    lab_share: i64,
}

async fn sum(
    tx: &mut reprint_eventstore::Transaction,
    table: &str,
    col: &str,
    lab: &str,
    day: Option<&str>,
) -> Result<i64> {
    let mut args = vec![Arg::from(lab)];
    let mut query = format!("SELECT CAST(SUM({col}) AS BIGINT) FROM {table} WHERE lab = $1");
    if let Some(day) = day {
        query.push_str(" AND local_date = $2");
        args.push(Arg::from(day));
    }
    Ok(sql::scalar_i64(tx.conn(), &query, &args).await?)
}

pub fn today(counter: &Counter, now: DateTime<Utc>) -> NaiveDate {
    local_date(counter.rules(), now)
}

pub async fn takings(counter: &Counter, date: NaiveDate) -> Result<Takings> {
    let d = date.to_string();
    let mut tx = counter.store.begin().await?;
    let totals: DayTotals = sql::fetch_optional(
        tx.conn(),
        "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(total), 0) AS BIGINT) AS total, CAST(COALESCE(SUM(counter_charge), 0) AS BIGINT) AS counter_share, CAST(COALESCE(SUM(lab_charge), 0) AS BIGINT) AS lab_share FROM counter_payments WHERE local_date = $1",
        &[Arg::from(d.clone())],
    )
    .await?
    .unwrap_or_default();
    let by_method: Vec<MethodTotal> = sql::fetch(
        tx.conn(),
        "SELECT method, COUNT(*) AS n, CAST(COALESCE(SUM(total), 0) AS BIGINT) AS total FROM counter_payments WHERE local_date = $1 GROUP BY method ORDER BY method",
        &[Arg::from(d.clone())],
    )
    .await?;
    let mut by_lab: Vec<LabBalance> = Vec::new();
    let mut labs: Vec<String> = counter
        .config
        .labs
        .iter()
        .map(|l| l.id.to_string())
        .collect();
    for (lab,) in sql::fetch::<(String,)>(
        tx.conn(),
        "SELECT DISTINCT lab FROM counter_payments ORDER BY lab",
        &[],
    )
    .await?
    {
        if !labs.contains(&lab) {
            labs.push(lab);
        }
    }
    for lab in labs {
        let collected_today =
            sum(&mut tx, "counter_payments", "lab_charge", &lab, Some(&d)).await?;
        let settled_today = sum(&mut tx, "counter_settlements", "amount", &lab, Some(&d)).await?;
        let collected_total = sum(&mut tx, "counter_payments", "lab_charge", &lab, None).await?;
        let settled_total = sum(&mut tx, "counter_settlements", "amount", &lab, None).await?;
        by_lab.push(LabBalance {
            lab_name: counter.lab_name(&lab),
            lab,
            collected_today,
            settled_today,
            collected_total,
            settled_total,
        });
    }
    tx.commit().await?;
    Ok(Takings {
        date,
        currency: counter.rules().currency.to_string(),
        collections: totals.n,
        total: totals.total,
        counter_share: totals.counter_share,
        lab_share: totals.lab_share,
        by_method,
        by_lab,
    })
}
