//! The day's takings (on the counter's own calendar) and, per lab, what was collected for it
//! and what has been settled with it; the day close (the till count) and the periodic
//! statements of the lab's share (issue 15): the lab's share is no longer settled order by
//! order at hand-over but by a statement the lab confirms (`reprint_domain::statement`).

use chrono::{DateTime, NaiveDate, Utc};
use reprint_domain::charge::local_date;
use reprint_domain::counter_order::Command as OrderCommand;
use reprint_domain::protocol::{StatementConfirmed, StatementIssued};
use reprint_domain::{Currency, Money, SiteId, statement};

use reprint_eventstore::sql::{self, Arg};

use crate::error::{CounterError, Result};
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
    /// On statements sent and not yet confirmed.
    pub open_statements: i64,
    /// Collected and on no statement yet.
    pub not_stated: i64,
}

impl LabBalance {
    /// Collected for the lab and not yet settled with it.
    pub fn owed(&self) -> i64 {
        self.collected_total - self.settled_total
    }

    /// collected = settled + open statements + not yet on a statement.
    pub fn balances(&self) -> bool {
        statement::CounterLedger {
            collected: self.collected_total,
            settled: self.settled_total,
            open: self.open_statements,
            not_stated: self.not_stated,
        }
        .balances()
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
        let open_statements = sql::scalar_i64(
            tx.conn(),
            "SELECT CAST(SUM(total) AS BIGINT) FROM counter_statements WHERE lab = $1 AND state = 'sent'",
            &[Arg::from(lab.clone())],
        )
        .await?;
        let not_stated = sql::scalar_i64(
            tx.conn(),
            &format!("SELECT CAST(SUM(lab_charge) AS BIGINT) FROM ({UNSTATED}) AS u"),
            &[Arg::from(lab.clone())],
        )
        .await?;
        by_lab.push(LabBalance {
            open_statements,
            not_stated,
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

// ---------- the day close: the till count ----------

/// One count of the till at the day close: the cash the day's payments should have left in
/// the till against what staff counted; the difference is kept, never corrected.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TillRecord {
    pub local_date: String,
    pub expected: i64,
    pub counted: i64,
    pub difference: i64,
    pub staff: String,
    pub at: String,
}

/// The cash the payments of `date` left in the till (cash payments: tendered - change).
pub async fn cash_expected(tx: &mut reprint_eventstore::Transaction, date: &str) -> Result<i64> {
    Ok(sql::scalar_i64(
        tx.conn(),
        "SELECT CAST(COALESCE(SUM(total), 0) AS BIGINT) FROM counter_payments WHERE local_date = $1 AND method = 'cash'",
        &[Arg::from(date)],
    )
    .await?)
}

/// Records staff's count of the till for `date` (minor units, at least 0); the difference to
/// the cash taken is decided by `reprint_domain::statement::TillCount`.
pub async fn count_till(
    counter: &Counter,
    date: NaiveDate,
    counted: i64,
    staff: &str,
    now: DateTime<Utc>,
) -> Result<TillRecord> {
    if counted < 0 {
        return Err(CounterError::Invalid(
            "the cash counted cannot be negative".into(),
        ));
    }
    if date > today(counter, now) {
        return Err(CounterError::Invalid(format!(
            "{date} has not begun: the till is counted on the day or after"
        )));
    }
    let currency = counter.rules().currency;
    let d = date.to_string();
    let mut tx = counter.store.begin().await?;
    let expected = cash_expected(&mut tx, &d).await?;
    let difference = statement::TillCount {
        expected: Money::new(expected, currency),
        counted: Money::new(counted, currency),
    }
    .difference()
    .map_err(|e| CounterError::Invalid(e.to_string()))?;
    let record = TillRecord {
        local_date: d,
        expected,
        counted,
        difference: difference.minor,
        staff: staff.to_string(),
        at: sql::ts(now),
    };
    sql::exec(
        tx.conn(),
        "INSERT INTO counter_till_counts (local_date, at, expected, counted, difference, staff) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            Arg::from(record.local_date.clone()),
            Arg::from(record.at.clone()),
            Arg::from(expected),
            Arg::from(counted),
            Arg::from(record.difference),
            Arg::from(staff),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(record)
}

/// The counts of the till for `date`, the newest first.
pub async fn till_counts(counter: &Counter, date: NaiveDate) -> Result<Vec<TillRecord>> {
    let mut tx = counter.store.begin().await?;
    let rows = sql::fetch(
        tx.conn(),
        "SELECT local_date, expected, counted, difference, staff, at FROM counter_till_counts WHERE local_date = $1 ORDER BY at DESC",
        &[Arg::from(date.to_string())],
    )
    .await?;
    tx.commit().await?;
    Ok(rows)
}

// ---------- statements of the lab's share ----------

/// A statement sent to a lab (`sent`) or confirmed by it (`confirmed`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StatementRow {
    pub statement_id: String,
    pub lab: String,
    pub through_date: String,
    pub orders: i64,
    pub total: i64,
    pub currency: String,
    pub issued_at: String,
    pub state: String,
    pub confirmed_at: Option<String>,
    pub confirmed_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StatementLineRow {
    pub statement_id: String,
    pub order_id: String,
    pub reception_number: String,
    pub lab_reception: String,
    pub collected_date: String,
    pub amount: i64,
}

#[derive(Debug, Clone)]
pub struct StatementView {
    pub row: StatementRow,
    pub lines: Vec<StatementLineRow>,
}

/// A collection not yet on a statement (nor settled order by order before statements).
#[derive(Debug, Clone, sqlx::FromRow)]
struct Unstated {
    order_id: String,
    reception_number: String,
    lab_reception: String,
    local_date: String,
    lab_charge: i64,
    currency: String,
}

const UNSTATED: &str = "SELECT p.order_id, p.reception_number, COALESCE(o.lab_reception, '') AS lab_reception, p.local_date, p.lab_charge, p.currency FROM counter_payments p LEFT JOIN counter_orders o ON o.order_id = p.order_id WHERE p.lab = $1 AND NOT EXISTS (SELECT 1 FROM counter_statement_lines l WHERE l.order_id = p.order_id) AND NOT EXISTS (SELECT 1 FROM counter_settlements s WHERE s.order_id = p.order_id)";

/// Issues to every lab a statement of the collections up to and including `through` that are
/// on no statement yet (decided by `reprint_domain::statement::draft`), each in one
/// transaction with its `StatementIssued` in the outbox. Returns the statements issued.
pub async fn issue_statements(
    counter: &Counter,
    through: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<uuid::Uuid>> {
    let rules = counter.rules();
    let currency = rules.currency;
    let mut issued = Vec::new();
    let mut tx = counter.store.begin().await?;
    let labs: Vec<(String,)> = sql::fetch(
        tx.conn(),
        "SELECT DISTINCT lab FROM counter_payments ORDER BY lab",
        &[],
    )
    .await?;
    tx.commit().await?;
    'labs: for (lab,) in labs {
        let mut tx = counter.store.begin().await?;
        let rows: Vec<Unstated> =
            sql::fetch(tx.conn(), UNSTATED, &[Arg::from(lab.clone())]).await?;
        let mut receptions = std::collections::BTreeMap::new();
        let mut collections = Vec::with_capacity(rows.len());
        for r in rows {
            let day = NaiveDate::parse_from_str(&r.local_date, "%Y-%m-%d").map_err(|e| {
                CounterError::Internal(format!("payment date {:?}: {e}", r.local_date))
            })?;
            let c = Currency::parse(&r.currency)?;
            receptions.insert(r.order_id.clone(), r.reception_number);
            collections.push(statement::Collection {
                order: r.order_id,
                lab_reception: r.lab_reception,
                day,
                lab_charge: Money::new(r.lab_charge, c),
            });
        }
        let draft = statement::draft(currency, &collections, &Default::default(), through)
            .map_err(|e| CounterError::Conflict(format!("statement to {lab}: {e}")))?;
        let Some(draft) = draft else {
            tx.rollback().await?;
            continue;
        };
        let id = uuid::Uuid::now_v7();
        let lab_id = SiteId::parse(&lab)?;
        sql::exec(
            tx.conn(),
            "INSERT INTO counter_statements (statement_id, lab, through_date, orders, total, currency, issued_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7, 'sent')",
            &[
                Arg::from(id.to_string()),
                Arg::from(lab.clone()),
                Arg::from(through.to_string()),
                Arg::from(draft.lines.len() as i64),
                Arg::from(draft.total.minor),
                Arg::from(currency.to_string()),
                Arg::from(sql::ts(now)),
            ],
        )
        .await?;
        for l in &draft.lines {
            let listed = sql::exec(
                tx.conn(),
                "INSERT INTO counter_statement_lines (order_id, statement_id, lab, reception_number, lab_reception, collected_date, amount) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    Arg::from(l.order.clone()),
                    Arg::from(id.to_string()),
                    Arg::from(lab.clone()),
                    Arg::from(receptions.get(&l.order).cloned().unwrap_or_default()),
                    Arg::from(l.lab_reception.clone()),
                    Arg::from(l.collected_on.to_string()),
                    Arg::from(l.amount.minor),
                ],
            )
            .await;
            match listed {
                Ok(_) => {}
                // Another issue (the periodic one and staff's day close at once) listed this
                // order first: its statement stands, this one is not made.
                Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                    tx.rollback().await?;
                    continue 'labs;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let body = StatementIssued {
            statement: id,
            counter: rules.site.clone(),
            lab: lab_id.clone(),
            through,
            lines: draft.lines,
            total: draft.total,
            issued_at: now,
        };
        let message = reprint_bus::message::statement_to_inbox(
            rules.site.as_str(),
            reprint_bus::subjects::Address::lab(crate::messages::bus_site(&lab_id)?),
            reprint_bus::subjects::Topic::StatementIssued,
            id,
            &body,
            None,
        )
        .map_err(|e| CounterError::Internal(e.to_string()))?;
        tx.enqueue(&[message]).await?;
        tx.commit().await?;
        issued.push(id);
    }
    if !issued.is_empty() {
        counter.relay.wake();
    }
    Ok(issued)
}

/// Issues the statements due by the configured period (daily by default: yesterday's and
/// before); run now and then by the counter, and harmless to run again.
pub async fn issue_due(counter: &Counter, now: DateTime<Utc>) -> Result<Vec<uuid::Uuid>> {
    let through = counter.config.statement_period.through(today(counter, now));
    issue_statements(counter, through, now).await
}

/// The lab confirmed a statement: checked against the one issued
/// (`reprint_domain::statement::check_confirmation`), then each of its orders is settled
/// (`counter_settlements`, the order's `Settled`) in the inbox's transaction. A confirmation
/// heard again changes nothing.
pub async fn statement_confirmed(
    counter: &Counter,
    tx: &mut reprint_eventstore::Transaction,
    m: &StatementConfirmed,
) -> Result<()> {
    let id = m.statement.to_string();
    let row: Option<StatementRow> = sql::fetch_optional(
        tx.conn(),
        "SELECT statement_id, lab, through_date, orders, total, currency, issued_at, state, confirmed_at, confirmed_by FROM counter_statements WHERE statement_id = $1",
        &[Arg::from(id.clone())],
    )
    .await?;
    let Some(row) = row else {
        return Err(CounterError::NotFound(format!(
            "no statement {id} was issued here"
        )));
    };
    let currency = Currency::parse(&row.currency)?;
    let rules = counter.rules();
    let total = Money::new(row.total, currency);
    let issued = statement::Issued {
        id: &row.statement_id,
        counter: rules.site.as_str(),
        lab: &row.lab,
        orders: usize::try_from(row.orders).unwrap_or(0),
        total,
        confirmed: row.state == "confirmed",
    };
    let confirmation_id = m.statement.to_string();
    let confirmation = statement::Issued {
        id: &confirmation_id,
        counter: m.counter.as_str(),
        lab: m.lab.as_str(),
        orders: m.orders,
        total: m.total,
        confirmed: false,
    };
    match statement::check_confirmation(&issued, &confirmation) {
        Ok(()) => {}
        Err(statement::StatementError::Confirmed) => return Ok(()),
        Err(e) => {
            return Err(CounterError::Invalid(format!(
                "confirmation of statement {id}: {e}"
            )));
        }
    }
    let lines: Vec<StatementLineRow> = sql::fetch(
        tx.conn(),
        "SELECT statement_id, order_id, reception_number, lab_reception, collected_date, amount FROM counter_statement_lines WHERE statement_id = $1 ORDER BY collected_date, order_id",
        &[Arg::from(id.clone())],
    )
    .await?;
    for l in &lines {
        sql::exec(
            tx.conn(),
            "INSERT INTO counter_settlements (settlement_id, order_id, lab, amount, currency, at, local_date) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                Arg::from(format!("{id}:{}", l.order_id)),
                Arg::from(l.order_id.clone()),
                Arg::from(row.lab.clone()),
                Arg::from(l.amount),
                Arg::from(row.currency.clone()),
                Arg::from(sql::ts(m.confirmed_at)),
                Arg::from(local_date(rules, m.confirmed_at).to_string()),
            ],
        )
        .await?;
        match crate::order::execute(
            tx,
            &l.order_id,
            OrderCommand::Settle {
                settlement: m.statement,
                amount: Money::new(l.amount, currency),
                at: m.confirmed_at,
            },
            None,
        )
        .await
        {
            Ok(_) => {}
            // The money is settled by the statement whatever the order's state says.
            Err(CounterError::Refused(e)) => {
                tracing::warn!(order = %l.order_id, error = %e, "a statement settled an order not collected");
            }
            Err(e) => return Err(e),
        }
    }
    sql::exec(
        tx.conn(),
        "UPDATE counter_statements SET state = 'confirmed', confirmed_at = $2, confirmed_by = $3 WHERE statement_id = $1",
        &[
            Arg::from(id),
            Arg::from(sql::ts(m.confirmed_at)),
            Arg::from(m.confirmed_by.clone()),
        ],
    )
    .await?;
    Ok(())
}

/// The statements, the newest first, each with its orders.
pub async fn statements(counter: &Counter, limit: i64) -> Result<Vec<StatementView>> {
    let mut tx = counter.store.begin().await?;
    let rows: Vec<StatementRow> = sql::fetch(
        tx.conn(),
        "SELECT statement_id, lab, through_date, orders, total, currency, issued_at, state, confirmed_at, confirmed_by FROM counter_statements ORDER BY issued_at DESC LIMIT $1",
        &[Arg::from(limit)],
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let lines = sql::fetch(
            tx.conn(),
            "SELECT statement_id, order_id, reception_number, lab_reception, collected_date, amount FROM counter_statement_lines WHERE statement_id = $1 ORDER BY collected_date, order_id",
            &[Arg::from(row.statement_id.clone())],
        )
        .await?;
        out.push(StatementView { row, lines });
    }
    tx.commit().await?;
    Ok(out)
}

/// How often the counter looks whether a statement is due.
pub const STATEMENTS_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// Issues the statements due ([`issue_due`]) at start and every [`STATEMENTS_EVERY`] until
/// shutdown; a failure is logged and tried again next time.
pub async fn run_statements(
    counter: std::sync::Arc<Counter>,
    shutdown: reprint_service::shutdown::Shutdown,
) {
    loop {
        match issue_due(&counter, counter.clock.now()).await {
            Ok(ids) if !ids.is_empty() => {
                tracing::info!(statements = ids.len(), "statements issued")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "statements not issued; trying again later"),
        }
        tokio::select! {
            _ = tokio::time::sleep(STATEMENTS_EVERY) => {}
            _ = shutdown.clone().wait() => return,
        }
    }
}
