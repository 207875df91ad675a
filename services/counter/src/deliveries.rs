//! The counter's inbox (`reprint.v1.counter.<counter>.>`): what the labs send it, each message
//! handled in one transaction with the inbox record (docs/flows.md).
//!
//! - `ReceptionRecorded`: the lab took the walk-in order; note its reception number and its
//!   estimated finish.
//! - `OrderRejected`: cancel the counter's reception and tell staff (a notice on Arrivals).
//! - `DeliveryDispatched` (Fig. 1 step 4, Fig. 2 step 4 / S408): for an internet order, find or
//!   register the customer in the counter's files and open its own reception with its own
//!   charge (Fig. 9); for its own walk-in order, find the reception by order id. Then fill in
//!   the lab's amounts, and the order is ready for pickup with the amount due.

use std::sync::Arc;

use chrono::Utc;
use futures::future::BoxFuture;
use reprint_bus::consumer::{Handler, HandlerError, Incoming};
use reprint_bus::subjects::{Subject, Topic};
use reprint_domain::file::{Command, OpenReception, Route};
use reprint_domain::protocol::{DeliveryDispatched, OrderRejected, ReceptionRecorded, Stage};
use reprint_domain::{ReceptionNumber, Telephone};
use reprint_eventstore::Transaction;
use reprint_site::{Identity, SiteError};

use reprint_eventstore::sql::{self, Arg};

use crate::db;
use crate::error::CounterError;
use crate::messages;
use crate::state::Counter;

/// The consumer's handler.
pub struct Deliveries {
    pub counter: Arc<Counter>,
}

fn classify(e: CounterError) -> HandlerError {
    if e.is_retryable() || matches!(e, CounterError::Store(_) | CounterError::Io(_)) {
        HandlerError::transient(e.to_string())
    } else {
        HandlerError::permanent(e.to_string())
    }
}

impl Handler for Deliveries {
    fn handle<'a>(
        &'a self,
        tx: &'a mut Transaction,
        message: &'a Incoming,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let topic = match Subject::parse(&message.subject) {
                Ok(Subject::Inbox { topic, .. }) => topic,
                _ => {
                    return Err(HandlerError::permanent(format!(
                        "unexpected subject {}",
                        message.subject
                    )));
                }
            };
            let c = &self.counter;
            match topic {
                Topic::ReceptionRecorded => reception_recorded(c, tx, message.json()?)
                    .await
                    .map_err(classify),
                Topic::OrderRejected => order_rejected(c, tx, message.json()?)
                    .await
                    .map_err(classify),
                Topic::DeliveryDispatched => delivery_dispatched(c, tx, message.json()?)
                    .await
                    .map_err(classify),
                other => {
                    tracing::debug!(topic = ?other, "not for the counter; ignored");
                    Ok(())
                }
            }
        })
    }
}

async fn reception_recorded(
    _c: &Counter,
    tx: &mut Transaction,
    m: ReceptionRecorded,
) -> Result<(), CounterError> {
    let n = sql::exec(
        tx.conn(),
        "UPDATE counter_orders SET lab_reception = $2, lab_estimated_finish = $3, state = CASE WHEN state = 'placed' THEN 'received' ELSE state END, updated_at = $4 WHERE order_id = $1",
        &[
            Arg::from(m.order.to_string()),
            Arg::from(m.extract.reception.number.to_string()),
            Arg::from(m.estimated_finish.map(sql::ts)),
            Arg::from(sql::ts(Utc::now())),
        ],
    )
    .await?;
    if n == 0 {
        tracing::warn!(order = %m.order, "reception record for an order this counter did not place; ignored");
    }
    Ok(())
}

async fn order_rejected(
    c: &Counter,
    tx: &mut Transaction,
    m: OrderRejected,
) -> Result<(), CounterError> {
    let Some((mut file, reception)) = c.files.by_order(tx, m.order).await? else {
        tracing::warn!(order = %m.order, "rejection of an order this counter did not place; ignored");
        return Ok(());
    };
    let reason = format!(
        "rejected by {} ({:?}): {}",
        c.lab_name(m.lab.as_str()),
        m.code,
        m.reason
    );
    c.files
        .execute(
            tx,
            &mut file,
            Command::Cancel {
                number: reception.number.clone(),
                reason: reason.clone(),
                at: m.at,
            },
        )
        .await?;
    sql::exec(
        tx.conn(),
        "UPDATE counter_orders SET state = 'rejected', notice = $2, updated_at = $3 WHERE order_id = $1",
        &[Arg::from(m.order.to_string()), Arg::from(reason), Arg::from(sql::ts(m.at))],
    )
    .await?;
    // The order may still be held for its images (a rejection cannot come before the order
    // was sent, but a held copy must never go out after it).
    sql::exec(
        tx.conn(),
        "DELETE FROM counter_held_orders WHERE order_id = $1",
        &[Arg::from(m.order.to_string())],
    )
    .await?;
    // Counted once the consumer's transaction commits (not per attempt of a batch).
    let orders = c.metrics.orders.clone();
    tx.after_commit(move || orders.with_label_values(&["rejected"]).inc());
    Ok(())
}

async fn delivery_dispatched(
    c: &Counter,
    tx: &mut Transaction,
    m: DeliveryDispatched,
) -> Result<(), CounterError> {
    let rules = c.rules();
    if m.counter != rules.site {
        return Err(CounterError::Invalid(format!(
            "delivery for counter {}, not this one ({})",
            m.counter, rules.site
        )));
    }
    let lab_charge = m.extract.reception.charge.clone();
    let own = match &m.counter_reception {
        Some(number) => {
            let n = ReceptionNumber::parse(&rules.reception_number, number)?;
            c.files.by_reception(tx, &n).await?
        }
        None => c.files.by_order(tx, m.order).await?,
    };
    let (mut file, reception, route) = match own {
        Some((file, reception)) => {
            if reception.order != m.order {
                return Err(CounterError::Invalid(format!(
                    "delivery of order {} names reception {}, which belongs to order {}",
                    m.order, reception.number, reception.order
                )));
            }
            let route = reception.route;
            (file, reception, route)
        }
        None => {
            // Fig. 1: the counter's user registration is completed now, when the lab asks it
            // to deliver; its reception date is the dispatch.
            let identity = Identity {
                registration_number: None,
                name: m.customer.name.clone(),
                telephone: Telephone::parse(&m.customer.telephone)?,
                address: None,
                email: None,
            };
            let (mut file, _) = c
                .files
                .find_or_register(tx, &identity, m.dispatched_at)
                .await?;
            let placeholder = ReceptionNumber::new(&rules.reception_number, 1)?;
            let (reception, _) = c
                .files
                .open_reception(
                    tx,
                    &mut file,
                    OpenReception {
                        number: placeholder,
                        order: m.order,
                        route: Route::Internet,
                        received_at: m.dispatched_at,
                        data_receive: None,
                        partner: m.lab.clone(),
                        items: m.extract.reception.items.clone(),
                        evidence: vec![],
                        estimated_finish: None,
                        rules: rules.clone(),
                    },
                )
                .await?;
            let user = file
                .file
                .user
                .clone()
                .ok_or_else(|| CounterError::Internal("registered file without user".into()))?;
            sql::exec(
                tx.conn(),
                "INSERT INTO counter_orders (order_id, reception_number, registration_number, route, lab, customer_name, telephone, state, received_at, updated_at) VALUES ($1, $2, $3, 'internet', $4, $5, $6, 'received', $7, $7) ON CONFLICT (order_id) DO NOTHING",
                &[
                    Arg::from(m.order.to_string()),
                    Arg::from(reception.number.to_string()),
                    Arg::from(file.registration_number.to_string()),
                    Arg::from(m.lab.to_string()),
                    Arg::from(user.name),
                    Arg::from(user.telephone.as_str()),
                    Arg::from(sql::ts(m.dispatched_at)),
                ],
            )
            .await?;
            (file, reception, Route::Internet)
        }
    };
    match c
        .files
        .execute(
            tx,
            &mut file,
            Command::FillInPartnerAmounts {
                number: reception.number.clone(),
                charge: lab_charge.clone(),
            },
        )
        .await
    {
        Ok(_) => {}
        Err(SiteError::Domain(reprint_domain::DomainError::WrongState { .. })) => {
            // Collected or cancelled already: a late duplicate, nothing to fill in.
            tracing::warn!(order = %m.order, "delivery for a reception that is no longer open; ignored");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    let now = Utc::now();
    // Only the first arrival moves the order to ready (and sets its arrival time); the same
    // dispatch again under another message id, while the order waits, changes nothing here.
    let arrived = sql::exec(
        tx.conn(),
        "UPDATE counter_orders SET state = 'ready', lab_reception = $2, arrived_at = $3, updated_at = $3 WHERE order_id = $1 AND state <> 'ready'",
        &[
            Arg::from(m.order.to_string()),
            Arg::from(m.extract.reception.number.to_string()),
            Arg::from(sql::ts(now)),
        ],
    )
    .await?;
    // The pickup and the settlement continue this trace.
    db::save_trace(tx, &m.order.to_string()).await?;
    let lab_name = c.lab_name(m.lab.as_str());
    let due =
        messages::amount_due_charge(&lab_name, &lab_charge, &c.config.name, &reception.charge)?;
    tx.enqueue(&[messages::status(
        &rules.site,
        m.order,
        Stage::ReadyForPickup,
        now,
        format!(
            "ready for pickup at {} under reception {} ({}); amount due {}",
            c.config.name,
            reception.number,
            match route {
                Route::Internet => "internet order",
                Route::CounterMedium => "walk-in order",
            },
            due.total
        ),
        Some(due),
    )?])
    .await?;
    c.relay.wake();
    if arrived > 0 {
        let orders = c.metrics.orders.clone();
        tx.after_commit(move || orders.with_label_values(&["ready_for_pickup"]).inc());
    }
    Ok(())
}
