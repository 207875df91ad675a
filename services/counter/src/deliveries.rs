//! The counter's inbox (`reprint.v1.counter.<counter>.>`): what the labs send it, each message
//! handled in one transaction with the inbox record (docs/flows.md).
//!
//! - `ReceptionRecorded`: the lab took the walk-in order; note its reception number and its
//!   estimated finish.
//! - `OrderRejected`: cancel the counter's reception and tell staff (a notice on Arrivals).
//! - `DeliveryDispatched` (Fig. 1 step 4, Fig. 2 step 4 / S408): for an internet order, find the
//!   customer in the counter's files by the registration number the order's sender holds for
//!   this counter, and by nothing else (`reprint_site::Identification::of_delivery`: a name and
//!   telephone typed on the web never open someone else's file), or register them under a new
//!   number; open its own reception with its own charge (Fig. 9). For its own walk-in order,
//!   find the reception by order id; for another counter's walk-in order collected here
//!   (`reprint_domain::delivery_counter::arrival`), find or register the customer from afar as
//!   for an internet order, open its own reception with its own charge and keep the other
//!   counter's slip number (`crate::elsewhere`). Then fill in the lab's amounts, and the order is ready
//!   for pickup with the amount due; an internet order's `ready_for_pickup` status carries the
//!   file's registration number, which the gateway keeps for the account and sends with its
//!   next quote and order for this counter. With `check_in_parcels`, the order waits as sent by
//!   the lab until staff scan the parcel in (`pickup::check_in` -> [`make_ready`]).

use std::sync::Arc;

use futures::future::BoxFuture;
use reprint_bus::consumer::{Handler, HandlerError, Incoming};
use reprint_bus::subjects::Topic;
use reprint_domain::counter_order::{Command as OrderCommand, CounterOrderError};
use reprint_domain::delivery_counter::{self, Arrival, OtherCounter};
use reprint_domain::file::{Command, OpenReception, ReceptionState, Route};
use reprint_domain::protocol::{
    DeliveryDispatched, OrderRejected, ReceptionRecorded, Stage, StatusChanged,
    StatusWithRegistration,
};
use reprint_domain::{ReceptionNumber, Telephone};
use reprint_eventstore::Transaction;
use reprint_site::{Identification, Identity, SiteError};

use reprint_eventstore::sql::{self, Arg};

use crate::db;
use crate::error::CounterError;
use crate::messages;
use crate::order::{self, Opening};
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
            let topic = message.inbox_topic()?;
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
                Topic::PrintDataSent => crate::own_printer::handle(c, tx, message).await,
                Topic::StatementConfirmed => {
                    crate::takings::statement_confirmed(c, tx, &message.json()?)
                        .await
                        .map_err(classify)
                }
                other => {
                    tracing::debug!(topic = ?other, "not for the counter; ignored");
                    Ok(())
                }
            }
        })
    }
}

async fn reception_recorded(
    c: &Counter,
    tx: &mut Transaction,
    m: ReceptionRecorded,
) -> Result<(), CounterError> {
    // An order collected at another counter ends here with the lab's record (the domain's
    // `handed_on`): the counter staff chose at intake, as `crate::elsewhere` kept it.
    let delivery_counter = match crate::elsewhere::of_order(tx, &m.order.to_string()).await? {
        Some(crate::elsewhere::OtherOf {
            other: OtherCounter::DeliveryCounter(site),
            ..
        }) => Some(site),
        _ => None,
    };
    let command = OrderCommand::RecordLabReception {
        lab_reception: m.extract.reception.number.to_string(),
        estimated_finish: m.estimated_finish,
        delivery_counter,
        at: c.clock.now(),
    };
    match order::execute(tx, &m.order.to_string(), command, None).await {
        Err(CounterError::Refused(CounterOrderError::NotTakenIn)) => {
            tracing::warn!(order = %m.order, "reception record for an order this counter did not place; ignored");
            Ok(())
        }
        other => other.map(|_| ()),
    }
}

async fn order_rejected(
    c: &Counter,
    tx: &mut Transaction,
    m: OrderRejected,
) -> Result<(), CounterError> {
    // In words for staff (the code stays in the order's event).
    let reason = format!("rejected by {}: {}", c.lab_name(m.lab.as_str()), m.reason);
    let command = OrderCommand::Reject {
        code: m.code,
        reason: reason.clone(),
        at: m.at,
    };
    let events = match order::execute(tx, &m.order.to_string(), command, None).await {
        Err(CounterError::Refused(CounterOrderError::NotTakenIn)) => {
            tracing::warn!(order = %m.order, "rejection of an order this counter did not place; ignored");
            return Ok(());
        }
        other => other?.1,
    };
    if events.is_empty() {
        // Rejected already, or the lab's answer to the counter's own cancellation.
        return Ok(());
    }
    // The counter's reception of a rejected order is cancelled in its user file.
    if let Some((mut file, reception)) = c.files.by_order(tx, m.order).await?
        && reception.state == ReceptionState::Open
    {
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
    }
    // Its digital copy on a medium, if any, is taken back from the writer.
    crate::writer::withdraw(tx, &m.order.to_string(), &reason).await?;
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
    let now = c.clock.now();
    let order_id = m.order.to_string();
    let lab_charge = m.extract.reception.charge.clone();
    // Ours, an internet order, or another counter's walk-in order collected here.
    let arrival = delivery_counter::arrival(
        &rules.site,
        m.extract.reception.route,
        m.extract.other_counter.as_ref(),
        m.counter_reception.as_deref(),
    );
    let own = match (&arrival, &m.counter_reception) {
        (Arrival::OwnWalkIn, Some(number)) => {
            let n = ReceptionNumber::parse(&rules.reception_number, number)?;
            c.files.by_reception(tx, &n).await?
        }
        _ => c.files.by_order(tx, m.order).await?,
    };
    let (mut file, reception, route, opening) = match own {
        Some((file, reception)) => {
            if reception.order != m.order {
                return Err(CounterError::Invalid(format!(
                    "delivery of order {} names reception {}, which belongs to order {}",
                    m.order, reception.number, reception.order
                )));
            }
            let route = reception.route;
            (file, reception, route, None)
        }
        None if arrival == Arrival::OwnWalkIn => {
            // A walk-in order is taken in first (`delivery_counter::arrival`): its reception
            // is missing here.
            return Err(CounterError::Invalid(format!(
                "delivery of walk-in order {} whose reception is not at this counter",
                m.order
            )));
        }
        None => {
            // Fig. 1: the counter's user registration is completed now, when the lab asks it
            // to deliver; its reception date is the dispatch. From afar: by the number the
            // sender holds for this counter only (`customer.registration_number` is the lab's).
            //
            // Another counter's walk-in order (pickup here, `delivery_counter`) is found as
            // this counter's staff find a customer at their own counter (Figs. 8 and 9): by a
            // registration number of this counter, else by name and telephone. Each counter
            // keeps its own individual user files (the seed: a file per site, numbered by the
            // site), so the reception counter's file and number are not ours and are never
            // looked up here; but the customer who comes here often has a file of ours, and a
            // new one each time would lose its history (Fig. 9's discount for a return visit
            // within the period). Unlike a web order's name and telephone, which anyone can
            // type and so open nothing (issue 13), these were given in person to staff at a
            // counter of the network (`Identification::of_order` for a medium handed in at a
            // counter), and staff here check the customer against the slip at pickup.
            let identification = match &arrival {
                Arrival::WalkInFrom { from, .. } => Identification::of_order(
                    Route::CounterMedium,
                    &reprint_domain::protocol::Sender::Counter(from.clone()),
                ),
                Arrival::Internet | Arrival::OwnWalkIn => Identification::of_delivery(),
            };
            let identity = Identity {
                registration_number: m.counter_registration_number.clone(),
                name: m.customer.name.clone(),
                telephone: Telephone::parse(&m.customer.telephone)?,
                address: None,
                email: None,
            };
            let (mut file, registered) = c
                .files
                .find_or_register_as(tx, &identity, identification, m.dispatched_at)
                .await?;
            if registered && let Some(given) = &identity.registration_number {
                // The sender's record and ours disagree (a number of another counter, or from
                // before a restore): a new file, whose number the status tells the sender,
                // never someone else's file.
                tracing::warn!(order = %m.order, given = %given,
                    registration = %file.registration_number,
                    "the registration number sent is no file here for this telephone; registered as new");
            }
            let placeholder = ReceptionNumber::new(&rules.reception_number, 1)?;
            let (reception, _) = c
                .files
                .open_reception(
                    tx,
                    &mut file,
                    OpenReception {
                        number: placeholder,
                        order: m.order,
                        route: m.extract.reception.route,
                        received_at: m.dispatched_at,
                        data_receive: None,
                        partner: m.lab.clone(),
                        items: m.extract.reception.items.clone(),
                        digital_copy: false,
                        evidence: vec![],
                        estimated_finish: None,
                        rules: rules.clone(),
                    },
                )
                .await?;
            if let Arrival::WalkInFrom { from, slip } = &arrival {
                // The one more item: the counter that took the order in, and its slip.
                let other = OtherCounter::ReceptionCounter(from.clone());
                c.files
                    .execute(
                        tx,
                        &mut file,
                        Command::RecordOtherCounter {
                            number: reception.number.clone(),
                            other: other.clone(),
                        },
                    )
                    .await?;
                crate::elsewhere::record(tx, &order_id, &other, slip.as_deref()).await?;
            }
            let user = file
                .file
                .user
                .clone()
                .ok_or_else(|| CounterError::Internal("registered file without user".into()))?;
            let opening = Opening {
                reception_number: reception.number.to_string(),
                registration_number: file.registration_number.to_string(),
                customer_name: user.name,
                telephone: user.telephone.as_str().to_string(),
                received_at: m.dispatched_at,
                expected_ready: None,
            };
            (file, reception, m.extract.reception.route, Some(opening))
        }
    };
    // The parcel is here (for an internet order, or another counter's walk-in order, the first
    // the counter hears of it).
    let lab_reception = m.extract.reception.number.to_string();
    let command = match &arrival {
        Arrival::WalkInFrom { from, .. } => OrderCommand::ReceiveOtherCountersDelivery {
            taken_in_at: from.clone(),
            lab: m.lab.clone(),
            lab_reception,
            at: now,
        },
        Arrival::Internet | Arrival::OwnWalkIn => OrderCommand::ReceiveDelivery {
            route,
            lab: m.lab.clone(),
            lab_reception,
            at: now,
        },
    };
    match receive_parcel(
        c,
        tx,
        &order_id,
        command,
        opening.as_ref(),
        &mut file,
        &reception.number,
        &lab_charge,
    )
    .await?
    {
        Received::Filled => {}
        Received::Withdrawn(e) => {
            // Rejected or cancelled before the parcel came: nothing to hand over or fill in.
            tracing::warn!(order = %m.order, refusal = %e, "delivery for an order that is no longer open; ignored");
            return Ok(());
        }
        Received::ReceptionClosed(_) => {
            // Collected or cancelled already: a late duplicate, nothing to fill in.
            tracing::warn!(order = %m.order, "delivery for a reception that is no longer open; ignored");
            return Ok(());
        }
    }
    if c.config.check_in_parcels {
        // The parcel is on its way: staff make it ready when they scan its label on arrival
        // (`make_ready`, from the arrivals page).
        tracing::info!(order = %m.order, reception = %reception.number, "dispatched by the lab; waiting for the parcel's check-in");
        return Ok(());
    }
    make_ready(
        c,
        tx,
        m.order,
        &reception.number,
        &reception.charge,
        &lab_charge,
        &m.lab,
        route,
        file.registration_number.as_str(),
        now,
    )
    .await?;
    Ok(())
}

/// What came of a parcel at its reception ([`receive_parcel`]).
pub enum Received {
    /// The order arrived and the lab's amounts are in the counter's reception.
    Filled,
    /// The order was rejected or cancelled before its parcel came: nothing to hand over.
    Withdrawn(CounterOrderError),
    /// The reception was collected or cancelled already: nothing to fill in.
    ReceptionClosed(SiteError),
}

/// The parcel at the counter, its reception found: the order's arrival (`command`; `opening`
/// writes the counter's list row of an order first heard of now), then the lab's amounts
/// filled into the counter's reception (S408). The lab's dispatch and the counter's own
/// printer ([`crate::own_printer::make_ready`]) both do this, then [`make_ready`].
#[allow(clippy::too_many_arguments)]
pub async fn receive_parcel(
    c: &Counter,
    tx: &mut Transaction,
    order_id: &str,
    command: OrderCommand,
    opening: Option<&Opening>,
    file: &mut reprint_site::LoadedFile,
    number: &ReceptionNumber,
    lab_charge: &reprint_domain::Charge,
) -> Result<Received, CounterError> {
    match order::execute(tx, order_id, command, opening).await {
        Ok(_) => {}
        Err(CounterError::Refused(e @ CounterOrderError::Withdrawn { .. })) => {
            return Ok(Received::Withdrawn(e));
        }
        Err(e) => return Err(e),
    }
    match c
        .files
        .execute(
            tx,
            file,
            Command::FillInPartnerAmounts {
                number: number.clone(),
                charge: lab_charge.clone(),
            },
        )
        .await
    {
        Ok(_) => Ok(Received::Filled),
        Err(e @ SiteError::Domain(reprint_domain::DomainError::WrongState { .. })) => {
            Ok(Received::ReceptionClosed(e))
        }
        Err(e) => Err(e.into()),
    }
}

/// The order is ready for pickup with the amount due (the lab's charge and the counter's): the
/// order's `ReadyForPickup` and the status `ready_for_pickup` (for an internet order with the
/// customer's registration number here). At the dispatch, or when staff check the parcel in
/// (`check_in_parcels`). Returns whether anything changed (not when the order was ready
/// already).
#[allow(clippy::too_many_arguments)]
pub async fn make_ready(
    c: &Counter,
    tx: &mut Transaction,
    order: reprint_domain::OrderId,
    number: &ReceptionNumber,
    counter_charge: &reprint_domain::Charge,
    lab_charge: &reprint_domain::Charge,
    lab: &reprint_domain::SiteId,
    route: Route,
    registration_number: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, CounterError> {
    let rules = c.rules();
    let order_id = order.to_string();
    let lab_name = c.lab_name(lab.as_str());
    let due = messages::amount_due_charge(&lab_name, lab_charge, &c.config.name, counter_charge)?;
    // Only the first arrival makes the order ready (and sets its arrival time); the same
    // dispatch again under another message id, while the order waits, changes nothing here.
    let (_, ready) = order::execute(
        tx,
        &order_id,
        OrderCommand::MakeReady {
            amount_due: due.total,
            at: now,
        },
        None,
    )
    .await?;
    if ready.is_empty() {
        return Ok(false);
    }
    // The pickup and the settlement continue this trace.
    db::save_trace(tx, &order_id).await?;
    let detail = format!(
        "ready for pickup at {} under reception {} ({}); amount due {}",
        c.config.name,
        number,
        match route {
            Route::Internet => "internet order",
            Route::CounterMedium => "walk-in order",
        },
        due.total
    );
    let status = match route {
        // The web user's number here, for the gateway to keep for the account.
        Route::Internet => {
            ready_with_registration(c, order, now, detail, due, registration_number)?
        }
        Route::CounterMedium => messages::status(
            &rules.site,
            order,
            Stage::ReadyForPickup,
            now,
            detail,
            Some(due),
        )?,
    };
    tx.enqueue(&[status]).await?;
    let orders = c.metrics.orders.clone();
    let relay = c.relay.clone();
    tx.after_commit(move || {
        relay.wake();
        orders.with_label_values(&["ready_for_pickup"]).inc();
    });
    Ok(true)
}

/// `ready_for_pickup` of an internet order, with the customer's registration number here
/// (`StatusWithRegistration`; the same subject and message id as any status of this stage).
fn ready_with_registration(
    c: &Counter,
    order: reprint_domain::OrderId,
    at: chrono::DateTime<chrono::Utc>,
    detail: String,
    due: reprint_domain::Charge,
    registration_number: &str,
) -> Result<reprint_eventstore::OutboxMessage, CounterError> {
    let site = c.rules().site.clone();
    let body = StatusWithRegistration {
        status: StatusChanged {
            order,
            stage: Stage::ReadyForPickup,
            site,
            site_kind: reprint_domain::SiteKind::Counter,
            at,
            detail,
            charge: Some(due),
        },
        registration_number: Some(registration_number.to_string()),
    };
    reprint_bus::message::status_with_registration(body.status.site.as_str(), &body, None, None)
        .map_err(|e| CounterError::Internal(e.to_string()))
}
