//! Pickup and payment (Fig. 1 steps S311-S314, Fig. 2 steps S409-S411): staff find the order by
//! the slip (the counter's or the lab's reception number, typed or scanned) or by telephone,
//! verify, take one payment of the lab's and the counter's charges, and hand the prints over.
//! Then the counter tells the lab of the collection (outbox: it works offline and goes out when
//! the link returns); the lab's share is settled later by statement (`crate::takings`).

use chrono::{DateTime, Utc};
use reprint_bus::trace::TraceContext;
use reprint_domain::charge::local_date;
use reprint_domain::counter_order::{Command as OrderCommand, CounterOrderState};
use reprint_domain::file::{Command, Reception, ReceptionState};
use reprint_domain::protocol::{CollectionRecorded, OrderCancelled, Payment, Stage};
use reprint_domain::{Charge, Money, ReceptionNumber, Telephone};
use reprint_site::index;
use tracing::Instrument;

use reprint_eventstore::sql::{self, Arg};

use crate::db::{ORDER_COLS, OrderRow, PaymentRow};
use crate::elsewhere::Place;
use crate::error::{CounterError, Result};
use crate::messages;
use crate::order;
use crate::state::{Counter, RETRIES};

/// What a QR code on a slip holds: `REPRINT1:<counter>:<reception number>`.
pub const SLIP_CODE_PREFIX: &str = "REPRINT1:";

pub fn slip_code(counter: &str, reception: &str) -> String {
    format!("{SLIP_CODE_PREFIX}{counter}:{reception}")
}

/// One order as the lists show it.
#[derive(Debug, Clone)]
pub struct OrderSummary {
    pub order: String,
    pub reception_number: String,
    pub lab: String,
    pub lab_reception: Option<String>,
    pub route: String,
    pub customer_name: String,
    pub telephone: String,
    pub state: String,
    pub received_at: Option<DateTime<Utc>>,
    /// When the prints will be here: see [`ready_by`].
    pub expected_ready: Option<DateTime<Utc>>,
    pub arrived_at: Option<DateTime<Utc>>,
    pub notice: Option<String>,
    /// When the order last changed (an order handed on to another counter: since when).
    pub changed_at: Option<DateTime<Utc>>,
}

/// The one ready-by of an order at this counter: the time promised at intake (the lab's usual
/// turnaround from the taking in), or, once the lab said when it will finish, its estimate plus
/// the transport to this counter if that is later. Never earlier than the promise: the slip
/// printed at intake and the same slip reloaded later say the same time unless the lab will be
/// late. (Before, a reload showed the lab's finish at the lab, hours before the prints could be
/// here.)
pub fn ready_by(
    promised: Option<DateTime<Utc>>,
    lab_finish: Option<DateTime<Utc>>,
    transport: chrono::Duration,
) -> Option<DateTime<Utc>> {
    let at_counter = lab_finish.map(|f| f + transport);
    match (promised, at_counter) {
        (Some(p), Some(l)) => Some(p.max(l)),
        (p, l) => p.or(l),
    }
}

/// Hours from lab `lab` to the counter where the prints are collected: this counter's own
/// (`[[labs]] transport_hours`), or, for an order to be collected at another counter
/// (`pickup_at`), the hours that counter announced for the lab (the parcel travels there, not
/// here). Another counter not (yet) in the directory, or of an older version that does not
/// announce its hours, is taken as this counter's own hours.
pub fn transport(counter: &Counter, lab: &str, pickup_at: Option<&str>) -> chrono::Duration {
    let own = counter
        .config
        .labs
        .iter()
        .find(|l| l.id.as_str() == lab)
        .map(|l| l.transport_hours);
    let there = pickup_at.and_then(|id| counter.places.get(id));
    chrono::Duration::hours(i64::from(transport_hours(own, there.as_ref(), lab)))
}

/// [`transport`]'s choice: the delivery counter's announced hours for `lab` when the order is
/// collected there and it announced them, else this counter's own (0 when it has none).
pub fn transport_hours(own: Option<u32>, there: Option<&Place>, lab: &str) -> u32 {
    there
        .and_then(|p| p.transport_hours.get(lab).copied())
        .or(own)
        .unwrap_or(0)
}

impl OrderSummary {
    pub fn from_row(counter: &Counter, r: &OrderRow) -> OrderSummary {
        OrderSummary {
            order: r.order_id.clone(),
            reception_number: r.reception_number.clone(),
            lab: r.lab.clone(),
            lab_reception: r.lab_reception.clone(),
            route: r.route.clone(),
            customer_name: r.customer_name.clone(),
            telephone: r.telephone.clone(),
            state: r.state.clone(),
            received_at: sql::parse_ts(&r.received_at),
            expected_ready: ready_by(
                r.expected_ready.as_deref().and_then(sql::parse_ts),
                r.lab_estimated_finish.as_deref().and_then(sql::parse_ts),
                transport(counter, &r.lab, r.pickup_at.as_deref()),
            ),
            arrived_at: r.arrived_at.as_deref().and_then(sql::parse_ts),
            notice: r.notice.clone(),
            changed_at: sql::parse_ts(&r.updated_at),
        }
    }
}

/// Orders in some states, newest change first.
pub async fn orders_in(
    counter: &Counter,
    states: &[CounterOrderState],
    limit: i64,
) -> Result<Vec<OrderSummary>> {
    let mut tx = counter.store.begin().await?;
    let mut out = Vec::new();
    for s in states {
        let rows: Vec<OrderRow> = sql::fetch(
            tx.conn(),
            &format!("{ORDER_COLS} WHERE state = $1 ORDER BY updated_at DESC LIMIT $2"),
            &[Arg::from(s.as_str()), Arg::from(limit)],
        )
        .await?;
        out.extend(rows.iter().map(|r| OrderSummary::from_row(counter, r)));
    }
    tx.commit().await?;
    Ok(out)
}

/// Finds orders by what staff typed or scanned. One match or several (a telephone).
pub async fn find(counter: &Counter, query: &str) -> Result<Vec<OrderSummary>> {
    let q = query.trim();
    if q.is_empty() {
        return Err(CounterError::Invalid(
            "type or scan a slip number, or a telephone number".into(),
        ));
    }
    let rules = counter.rules();
    let ours = rules.site.as_str();
    let mut number = q.to_string();
    if let Some(rest) = q.strip_prefix(SLIP_CODE_PREFIX) {
        let (site, n) = rest.split_once(':').ok_or_else(|| {
            CounterError::Invalid(format!(
                "the scanned code {q:?} is not a slip of this network"
            ))
        })?;
        if site != ours {
            // Another counter's slip of an order it took in for pickup here.
            let mut tx = counter.store.begin().await?;
            let found = crate::elsewhere::by_foreign_slip(&mut tx, Some(site), n).await?;
            if let Some(order) = found {
                let rows: Vec<OrderRow> = sql::fetch(
                    tx.conn(),
                    &format!("{ORDER_COLS} WHERE order_id = $1"),
                    &[Arg::from(order)],
                )
                .await?;
                tx.commit().await?;
                return Ok(rows
                    .iter()
                    .map(|r| OrderSummary::from_row(counter, r))
                    .collect());
            }
            tx.commit().await?;
            return Err(CounterError::ForeignSlip(format!(
                "this slip ({n}) was issued by counter {site:?}, not by this counter ({ours}); the prints are collected where the slip was issued"
            )));
        }
        number = n.to_string();
    }
    let mut tx = counter.store.begin().await?;
    // The slip number of the counter that took in an order collected here.
    if let Some(order) = crate::elsewhere::by_foreign_slip(&mut tx, None, &number).await? {
        let rows: Vec<OrderRow> = sql::fetch(
            tx.conn(),
            &format!("{ORDER_COLS} WHERE order_id = $1"),
            &[Arg::from(order)],
        )
        .await?;
        if !rows.is_empty() {
            tx.commit().await?;
            return Ok(rows
                .iter()
                .map(|r| OrderSummary::from_row(counter, r))
                .collect());
        }
    }
    if ReceptionNumber::parse(&rules.reception_number, &number).is_ok() {
        let rows: Vec<OrderRow> = sql::fetch(
            tx.conn(),
            &format!("{ORDER_COLS} WHERE reception_number = $1"),
            &[Arg::from(number.clone())],
        )
        .await?;
        tx.commit().await?;
        if rows.is_empty() {
            return Err(CounterError::NotFound(format!(
                "no reception {number} at this counter"
            )));
        }
        return Ok(rows
            .iter()
            .map(|r| OrderSummary::from_row(counter, r))
            .collect());
    }
    let rows: Vec<OrderRow> = sql::fetch(
        tx.conn(),
        &format!("{ORDER_COLS} WHERE lab_reception = $1"),
        &[Arg::from(number.clone())],
    )
    .await?;
    if !rows.is_empty() {
        tx.commit().await?;
        return Ok(rows
            .iter()
            .map(|r| OrderSummary::from_row(counter, r))
            .collect());
    }
    let looks_like_phone = !number.chars().any(|c| c.is_ascii_alphabetic());
    if looks_like_phone && let Ok(phone) = Telephone::parse(&number) {
        let receptions = index::receptions_by_telephone(&mut tx, phone.as_str()).await?;
        let mut out = Vec::new();
        for r in receptions {
            if let Some(row) = sql::fetch_optional::<OrderRow>(
                tx.conn(),
                &format!("{ORDER_COLS} WHERE reception_number = $1"),
                &[Arg::from(r.reception_number)],
            )
            .await?
            {
                out.push(OrderSummary::from_row(counter, &row));
            }
        }
        tx.commit().await?;
        if out.is_empty() {
            return Err(CounterError::NotFound(format!(
                "no orders for telephone {number} at this counter"
            )));
        }
        return Ok(out);
    }
    tx.commit().await?;
    let prefix = rules.reception_number.prefix();
    let example = ReceptionNumber::new(&rules.reception_number, 1)
        .map(|n| n.to_string())
        .unwrap_or_default();
    let slip_like = number
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && number.chars().any(|c| c.is_ascii_digit());
    if slip_like {
        return Err(CounterError::ForeignSlip(format!(
            "{number:?} is not a reception number of this counter (ours start with {prefix:?}, like {example}) nor the lab's number of an order delivered here; it may be another counter's slip"
        )));
    }
    Err(CounterError::NotFound(format!(
        "nothing found for {number:?}"
    )))
}

/// The pickup page: the reception, both charges and the amount due.
#[derive(Debug, Clone)]
pub struct PickupView {
    pub summary: OrderSummary,
    pub registration_number: String,
    pub reception: Reception,
    pub lab_name: String,
    pub lab_charge: Option<Charge>,
    pub counter_charge: Charge,
    pub amount_due: Option<Money>,
    pub payment: Option<PaymentRow>,
    /// Pickup at another counter: the other counter (and, here as the delivery counter, the
    /// reception counter's slip number), with its name as the directory gives it.
    pub other: Option<(crate::elsewhere::OtherOf, String)>,
    /// The digital copy on a medium and its writer's job (waiting, written, failed), when the
    /// order has one (`crate::writer`).
    pub medium_job: Option<crate::writer::JobRow>,
}

impl PickupView {
    /// Whether staff may still cancel the order here (the domain's decision: a walk-in order
    /// whose prints have not arrived; the lab stops it if it has not started printing).
    pub fn can_cancel(&self) -> bool {
        let Some(state) = CounterOrderState::parse(&self.summary.state) else {
            return false;
        };
        let order = reprint_domain::counter_order::CounterOrder {
            state: Some(state),
            ..Default::default()
        };
        self.reception.state == ReceptionState::Open
            && reprint_domain::counter_order::decide(
                &order,
                OrderCommand::Cancel {
                    reason: "asked".into(),
                    staff: String::new(),
                    at: self.reception.received_at,
                },
            )
            .is_ok_and(|events| !events.is_empty())
    }

    /// The counter (its name) an order collected elsewhere was handed on to, once it is
    /// (`handed_on`: the lab has it and sends the prints there).
    pub fn handed_on_to(&self) -> Option<String> {
        if CounterOrderState::parse(&self.summary.state) != Some(CounterOrderState::HandedOn) {
            return None;
        }
        Some(match &self.other {
            Some((_, name)) => name.clone(),
            None => String::new(),
        })
    }

    pub fn can_collect(&self) -> bool {
        self.reception.state == ReceptionState::Open
            && self.lab_charge.is_some()
            && CounterOrderState::parse(&self.summary.state)
                == Some(CounterOrderState::ReadyForPickup)
    }
}

pub async fn view(counter: &Counter, reception_number: &str) -> Result<PickupView> {
    let rules = counter.rules();
    let number =
        ReceptionNumber::parse(&rules.reception_number, reception_number).map_err(|_| {
            CounterError::NotFound(format!(
                "{reception_number:?} is not a reception number of this counter"
            ))
        })?;
    let mut tx = counter.store.begin().await?;
    let (file, reception) = counter
        .files
        .by_reception(&mut tx, &number)
        .await?
        .ok_or_else(|| CounterError::NotFound(format!("no reception {number} at this counter")))?;
    let row: OrderRow = sql::fetch_optional(
        tx.conn(),
        &format!("{ORDER_COLS} WHERE reception_number = $1"),
        &[Arg::from(number.to_string())],
    )
    .await?
    .ok_or_else(|| CounterError::NotFound(format!("no order for reception {number}")))?;
    let payment: Option<PaymentRow> = sql::fetch_optional(
        tx.conn(),
        "SELECT * FROM counter_payments WHERE reception_number = $1",
        &[Arg::from(number.to_string())],
    )
    .await?;
    let other = crate::elsewhere::of_order(&mut tx, &row.order_id)
        .await?
        .map(|o| {
            let id = o.other.counter().as_str();
            let name = counter
                .places
                .get(id)
                .map_or_else(|| id.to_string(), |p| p.name);
            (o, name)
        });
    tx.commit().await?;
    let lab_charge = reception.partner_charge.clone();
    let amount_due = match &lab_charge {
        Some(l) => Some(reprint_domain::amount_due(l, &reception.charge)?),
        None => None,
    };
    let medium_job = crate::writer::for_order(counter, &row.order_id).await?;
    Ok(PickupView {
        medium_job,
        summary: OrderSummary::from_row(counter, &row),
        registration_number: file.registration_number.to_string(),
        lab_name: counter.lab_name(reception.partner.as_str()),
        counter_charge: reception.charge.clone(),
        lab_charge,
        amount_due,
        reception,
        payment,
        other,
    })
}

/// What staff enter at the till.
#[derive(Debug, Clone)]
pub struct PaymentInput {
    /// `cash`, `card`, `e-money`, `qr`.
    pub method: String,
    /// What the customer handed over, minor units; `None` for exact payment.
    pub tendered: Option<i64>,
}

pub const METHODS: [&str; 4] = ["cash", "card", "e-money", "qr"];

/// The collection as recorded.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub reception_number: String,
    pub amount_due: Money,
    pub lab_charge: Money,
    pub counter_charge: Money,
    pub payment: Payment,
    pub collected_at: DateTime<Utc>,
}

/// Records the payment and the hand-over, and writes the collection and the status
/// `collected` to the outbox, in one transaction. The lab's share is not settled here: it goes
/// on the next statement to the lab (`crate::takings::issue_statements`), settled when the lab
/// confirms it.
pub async fn collect(
    counter: &Counter,
    reception_number: &str,
    input: &PaymentInput,
    staff: &str,
    now: DateTime<Utc>,
) -> Result<Receipt> {
    let method = input.method.trim().to_lowercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(CounterError::Invalid(format!(
            "payment method {:?} is not one of {}",
            input.method,
            METHODS.join(", ")
        )));
    }
    // The hand-over, the collection and the settlement continue the order's trace.
    let mut tx = counter.store.begin().await?;
    let trace = crate::db::reception_trace(&mut tx, reception_number).await?;
    tx.rollback().await?;
    let work = collect_retrying(counter, reception_number, &method, input, staff, now);
    match trace {
        Some((order, ctx)) => {
            let span = ctx.span("counter collect");
            span.record("order", order.as_str());
            ctx.run(span, work).await
        }
        None => {
            work.instrument(TraceContext::root_span("counter collect"))
                .await
        }
    }
}

async fn collect_retrying(
    counter: &Counter,
    reception_number: &str,
    method: &str,
    input: &PaymentInput,
    staff: &str,
    now: DateTime<Utc>,
) -> Result<Receipt> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match collect_once(
            counter,
            reception_number,
            method,
            input.tendered,
            staff,
            now,
        )
        .await
        {
            Err(e) if e.is_retryable() && attempt < RETRIES => continue,
            Err(e) => return Err(e),
            Ok(r) => {
                counter.relay.wake();
                counter
                    .metrics
                    .orders
                    .with_label_values(&["collected"])
                    .inc();
                return Ok(r);
            }
        }
    }
}

async fn collect_once(
    counter: &Counter,
    reception_number: &str,
    method: &str,
    tendered: Option<i64>,
    staff: &str,
    now: DateTime<Utc>,
) -> Result<Receipt> {
    let rules = counter.rules();
    let number =
        ReceptionNumber::parse(&rules.reception_number, reception_number).map_err(|_| {
            CounterError::NotFound(format!(
                "{reception_number:?} is not a reception number of this counter"
            ))
        })?;
    let mut tx = counter.store.begin().await?;
    let (mut file, reception) = counter
        .files
        .by_reception(&mut tx, &number)
        .await?
        .ok_or_else(|| CounterError::NotFound(format!("no reception {number} at this counter")))?;
    let order = reception.order.to_string();
    // The payment is checked against the amount due once the lab's amounts are in; whether the
    // order may be collected at all is the order's to decide (not arrived, collected already,
    // rejected or cancelled).
    let till = match &reception.partner_charge {
        Some(lab_charge) => {
            let due = reprint_domain::amount_due(lab_charge, &reception.charge)?;
            let paid = reprint_domain::payment::take_payment(method, tendered, due)
                .map_err(|e| CounterError::Invalid(e.to_string()))?;
            let (tendered, change) = (paid.tendered, paid.change);
            Some((lab_charge.clone(), due, tendered, change))
        }
        None => None,
    };
    let (after, collected) = order::execute(
        &mut tx,
        &order,
        OrderCommand::Collect {
            method: method.to_string(),
            amount: till
                .as_ref()
                .map_or(reception.charge.total, |(_, due, _, _)| *due),
            staff: staff.to_string(),
            at: now,
        },
        None,
    )
    .await?;
    let Some((lab_charge, due, tendered, change)) = till else {
        return Err(CounterError::Internal(format!(
            "reception {number} was collected without the lab's amounts"
        )));
    };
    if collected.is_empty() {
        return Err(CounterError::Internal(format!(
            "the collection of reception {number} changed nothing"
        )));
    }
    counter
        .files
        .execute(
            &mut tx,
            &mut file,
            Command::RecordCollected {
                number: number.clone(),
                at: now,
            },
        )
        .await?;
    let lab_reception = after.lab_reception.clone().unwrap_or_default();
    let lab = reception.partner.clone();
    let payment = Payment {
        method: method.to_string(),
        tendered,
        change,
    };
    let date = local_date(rules, now).to_string();
    sql::exec(
        tx.conn(),
        "INSERT INTO counter_payments (order_id, reception_number, lab, collected_at, local_date, method, tendered, change_given, lab_charge, counter_charge, total, currency, staff) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        &[
            Arg::from(reception.order.to_string()),
            Arg::from(number.to_string()),
            Arg::from(lab.to_string()),
            Arg::from(sql::ts(now)),
            Arg::from(date),
            Arg::from(method),
            Arg::from(tendered.minor),
            Arg::from(change.minor),
            Arg::from(lab_charge.total.minor),
            Arg::from(reception.charge.total.minor),
            Arg::from(due.minor),
            Arg::from(due.currency.to_string()),
            Arg::from(staff),
        ],
    )
    .await?;
    let collection = CollectionRecorded {
        order: reception.order,
        counter: rules.site.clone(),
        lab: lab.clone(),
        lab_reception,
        collected_at: now,
        lab_charge: lab_charge.total,
        counter_charge: reception.charge.total,
        payment: payment.clone(),
    };
    tx.enqueue(&[
        messages::to_lab(&rules.site, &lab, &collection)?,
        messages::status(
            &rules.site,
            reception.order,
            Stage::Collected,
            now,
            format!(
                "collected at {} (reception {number}), paid {due} by {method}",
                counter.config.name
            ),
            None,
        )?,
    ])
    .await?;
    tx.commit().await?;
    Ok(Receipt {
        reception_number: number.to_string(),
        amount_due: due,
        lab_charge: lab_charge.total,
        counter_charge: reception.charge.total,
        payment,
        collected_at: now,
    })
}

/// Why staff cancel an order at the counter: the customer asked, or the order was taken in by
/// mistake (the wrong card, size or lab). Kept as these words in the order's events.
pub const CANCEL_REASONS: [&str; 2] = [
    "the customer asked to cancel at the counter",
    "taken in by mistake (wrong card, size or lab)",
];

/// Cancels the walk-in order of reception `reception_number` at the counter (decided by
/// `reprint_domain::counter_order`: only before its prints arrive). In one transaction: the
/// order's `Cancelled` event, its reception cancelled in the customer's file, the order no
/// longer held for its images, and to the outbox `OrderCancelled` for the lab (it stops the
/// order if it has not started printing, as for the gateway's cancel) and the status
/// `cancelled` for everybody following the order. Cancelling again changes nothing.
pub async fn cancel(
    counter: &Counter,
    reception_number: &str,
    reason: &str,
    staff: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match cancel_once(counter, reception_number, reason, staff, now).await {
            Err(e) if e.is_retryable() && attempt < RETRIES => continue,
            Err(e) => return Err(e),
            Ok(changed) => {
                if changed {
                    counter.relay.wake();
                    counter
                        .metrics
                        .orders
                        .with_label_values(&["cancelled"])
                        .inc();
                }
                return Ok(());
            }
        }
    }
}

async fn cancel_once(
    counter: &Counter,
    reception_number: &str,
    reason: &str,
    staff: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let rules = counter.rules();
    let number =
        ReceptionNumber::parse(&rules.reception_number, reception_number).map_err(|_| {
            CounterError::NotFound(format!(
                "{reception_number:?} is not a reception number of this counter"
            ))
        })?;
    let mut tx = counter.store.begin().await?;
    let (mut file, reception) = counter
        .files
        .by_reception(&mut tx, &number)
        .await?
        .ok_or_else(|| CounterError::NotFound(format!("no reception {number} at this counter")))?;
    let order = reception.order.to_string();
    let (after, events) = order::execute(
        &mut tx,
        &order,
        OrderCommand::Cancel {
            reason: reason.to_string(),
            staff: staff.to_string(),
            at: now,
        },
        None,
    )
    .await?;
    if events.is_empty() {
        tx.rollback().await?;
        return Ok(false);
    }
    if reception.state == ReceptionState::Open {
        counter
            .files
            .execute(
                &mut tx,
                &mut file,
                Command::Cancel {
                    number: number.clone(),
                    reason: reason.to_string(),
                    at: now,
                },
            )
            .await?;
    }
    // Its digital copy on a medium, if any, is taken back from the writer.
    crate::writer::withdraw(&mut tx, &order, &format!("cancelled: {reason}")).await?;
    // Not forwarded yet: it will not be. (If the forwarder sent it at this moment, the lab
    // gets the cancellation after it, or before it and closes the order when it comes.)
    sql::exec(
        tx.conn(),
        "DELETE FROM counter_held_orders WHERE order_id = $1",
        &[Arg::from(order.clone())],
    )
    .await?;
    let lab = after
        .lab
        .clone()
        .unwrap_or_else(|| reception.partner.clone());
    let cancelled = OrderCancelled {
        order: reception.order,
        lab: lab.clone(),
        reason: format!("{reason} ({})", counter.config.name),
        at: now,
    };
    tx.enqueue(&[
        messages::to_lab(&rules.site, &lab, &cancelled)?,
        messages::status(
            &rules.site,
            reception.order,
            Stage::Cancelled,
            now,
            format!(
                "cancelled at {} (reception {number}): {reason}",
                counter.config.name
            ),
            None,
        )?,
    ])
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The notices staff have not dismissed yet: orders the lab did not accept, and orders
/// cancelled, newest first.
pub async fn notices(counter: &Counter, limit: i64) -> Result<Vec<OrderSummary>> {
    let mut tx = counter.store.begin().await?;
    let rows: Vec<OrderRow> = sql::fetch(
        tx.conn(),
        &format!(
            "{ORDER_COLS} WHERE state IN ($1, $2) AND order_id NOT IN (SELECT order_id FROM counter_dismissed_notices) ORDER BY updated_at DESC LIMIT $3"
        ),
        &[
            Arg::from(CounterOrderState::Rejected.as_str()),
            Arg::from(CounterOrderState::Cancelled.as_str()),
            Arg::from(limit),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(rows
        .iter()
        .map(|r| OrderSummary::from_row(counter, r))
        .collect())
}

/// Staff read the notice of reception `reception_number`: it leaves the arrivals page (on
/// every terminal of this counter). Again: nothing more.
pub async fn dismiss_notice(
    counter: &Counter,
    reception_number: &str,
    staff: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut tx = counter.store.begin().await?;
    let order: Option<(String,)> = sql::fetch_optional(
        tx.conn(),
        "SELECT order_id FROM counter_orders WHERE reception_number = $1",
        &[Arg::from(reception_number)],
    )
    .await?;
    let Some((order,)) = order else {
        return Err(CounterError::NotFound(format!(
            "no reception {reception_number} at this counter"
        )));
    };
    sql::exec(
        tx.conn(),
        "INSERT INTO counter_dismissed_notices (order_id, staff, at) VALUES ($1, $2, $3) ON CONFLICT (order_id) DO NOTHING",
        &[Arg::from(order), Arg::from(staff), Arg::from(sql::ts(now))],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A parcel checked in: the order it brought and whether this scan made it ready (`false`:
/// it was ready already).
#[derive(Debug, Clone)]
pub struct CheckedIn {
    pub order: OrderSummary,
    pub made_ready: bool,
}

/// Checks in the parcel staff scanned or typed (its label: the lab's reception number, or the
/// counter's own number or slip code): the order the lab dispatched becomes ready for pickup
/// (`deliveries::make_ready`). A parcel the lab has not said it dispatched cannot be checked in
/// yet (its amounts are not known).
/// Checks in what staff scanned: a parcel's label ([`check_in`]), or the lab's packing list
/// code (`reprint_domain::parcel::PackingCode`), which checks in every reception it lists in
/// one scan. A packing list for another counter is refused; an order of the list that cannot
/// be checked in yet stops the scan with its reason (those before it stay checked in, and a
/// second scan of the same list changes nothing for them).
pub async fn check_in_scan(
    counter: &Counter,
    scanned: &str,
    now: DateTime<Utc>,
) -> Result<Vec<CheckedIn>> {
    let Some(code) = reprint_domain::parcel::PackingCode::parse(scanned) else {
        return Ok(vec![check_in(counter, scanned, now).await?]);
    };
    let here = counter.config.site.site.as_str();
    if code.counter != here {
        return Err(CounterError::Invalid(format!(
            "this packing list is for counter {}, not this one ({here}): the parcel went to the wrong counter",
            code.counter
        )));
    }
    let mut done = Vec::with_capacity(code.receptions.len());
    for reception in &code.receptions {
        done.push(check_in(counter, reception, now).await?);
    }
    Ok(done)
}

pub async fn check_in(counter: &Counter, label: &str, now: DateTime<Utc>) -> Result<CheckedIn> {
    let found = find(counter, label).await?;
    let [order] = found.as_slice() else {
        return Err(CounterError::Invalid(format!(
            "{:?} names {} orders: scan the parcel's label",
            label.trim(),
            found.len()
        )));
    };
    match CounterOrderState::parse(&order.state) {
        Some(CounterOrderState::Arrived) => {}
        Some(CounterOrderState::ReadyForPickup) => {
            return Ok(CheckedIn {
                order: order.clone(),
                made_ready: false,
            });
        }
        Some(CounterOrderState::Placed | CounterOrderState::Received) => {
            return Err(CounterError::Conflict(format!(
                "the lab has not said it dispatched reception {} yet: check the parcel in once its dispatch has reached the counter",
                order.reception_number
            )));
        }
        _ => {
            return Err(CounterError::Conflict(format!(
                "reception {} is {}: nothing to check in",
                order.reception_number, order.state
            )));
        }
    }
    let rules = counter.rules();
    let number = ReceptionNumber::parse(&rules.reception_number, &order.reception_number)?;
    let mut attempt = 0;
    let made_ready = loop {
        attempt += 1;
        let result = async {
            let mut tx = counter.store.begin().await?;
            let (file, reception) = counter
                .files
                .by_reception(&mut tx, &number)
                .await?
                .ok_or_else(|| CounterError::NotFound(format!("no reception {number} here")))?;
            let lab_charge = reception.partner_charge.clone().ok_or_else(|| {
                CounterError::Conflict(format!(
                    "the lab's amounts for reception {number} are not in yet"
                ))
            })?;
            let changed = crate::deliveries::make_ready(
                counter,
                &mut tx,
                reception.order,
                &number,
                &reception.charge,
                &lab_charge,
                &reception.partner,
                reception.route,
                file.registration_number.as_str(),
                now,
            )
            .await?;
            tx.commit().await?;
            Ok::<bool, CounterError>(changed)
        }
        .await;
        match result {
            Err(e) if e.is_retryable() && attempt < RETRIES => continue,
            other => break other?,
        }
    };
    let mut order = order.clone();
    order.state = CounterOrderState::ReadyForPickup.as_str().to_string();
    Ok(CheckedIn { order, made_ready })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_ready_by_is_the_promise_unless_the_lab_will_be_late() {
        let at = |d, h, m| Utc.with_ymd_and_hms(2026, 12, d, h, m, 0).unwrap();
        let promise = Some(at(5, 8, 3));
        // The lab finishes the same afternoon: the promise (tomorrow 17:03 in Tokyo) stands.
        assert_eq!(
            ready_by(promise, Some(at(4, 8, 34)), chrono::Duration::hours(3)),
            promise
        );
        // The lab is late: its finish plus the way here.
        assert_eq!(
            ready_by(promise, Some(at(5, 7, 0)), chrono::Duration::hours(3)),
            Some(at(5, 10, 0))
        );
        assert_eq!(
            ready_by(None, Some(at(5, 7, 0)), chrono::Duration::zero()),
            Some(at(5, 7, 0))
        );
        assert_eq!(ready_by(promise, None, chrono::Duration::zero()), promise);
        assert_eq!(ready_by(None, None, chrono::Duration::zero()), None);
    }

    #[test]
    fn an_order_collected_at_another_counter_is_ready_by_that_counters_transport() {
        let shibuya = Place {
            id: reprint_domain::SiteId::parse("counter-shibuya").unwrap(),
            name: "Shibuya".into(),
            address: "Shibuya, Tokyo".into(),
            transport_hours: [("lab-a".to_string(), 6)].into_iter().collect(),
        };
        // Taken in here (3 hours from lab-a) for pickup at Shibuya (6 hours from lab-a).
        assert_eq!(transport_hours(Some(3), Some(&shibuya), "lab-a"), 6);
        // Collected here: this counter's own hours.
        assert_eq!(transport_hours(Some(3), None, "lab-a"), 3);
        // Shibuya did not announce hours for lab-b (or is of an older version): ours.
        assert_eq!(transport_hours(Some(3), Some(&shibuya), "lab-b"), 3);
        assert_eq!(transport_hours(None, Some(&shibuya), "lab-b"), 0);
        // The same lab late by an hour: the slip at Ginza says Shibuya's shelf time.
        let at = |d, h, m| Utc.with_ymd_and_hms(2026, 12, d, h, m, 0).unwrap();
        let hours = i64::from(transport_hours(Some(3), Some(&shibuya), "lab-a"));
        assert_eq!(
            ready_by(
                Some(at(5, 8, 3)),
                Some(at(5, 7, 0)),
                chrono::Duration::hours(hours)
            ),
            Some(at(5, 13, 0))
        );
    }
}
