//! The one command path of an order at the counter (`reprint_domain::counter_order`): load the
//! order's events, decide (pure), append the events with the expected version and write the
//! projection (`counter_orders`) in the caller's transaction; the caller adds its outbox messages
//! to the same transaction, and the effects (the relay woken, metrics) run after commit.
//!
//! One stream per order: `counter-order-<order id>`. Two commands racing for one order (a
//! pickup and a late rejection) append at the same version: one wins, the other's transaction
//! fails with a version conflict and is decided again on the new state (the consumer retries the
//! message; staff requests are retried, then answered 503 "try again"). An order kept before it
//! had events of its own is resumed from its row in `counter_orders`.

use chrono::{DateTime, Utc};
use reprint_domain::SiteId;
use reprint_domain::counter_order::{Command, CounterOrder, CounterOrderState, Event};
use reprint_domain::decider::CounterOrderDecider;
use reprint_domain::file::Route;
use reprint_eventstore::Transaction;
use reprint_eventstore::sql::{self, Arg, ts};
use reprint_site::command::{self, CommandError};

use crate::error::CounterError;

pub fn stream(order: &str) -> String {
    format!("counter-order-{order}")
}

/// The word `counter_orders.route` holds.
pub fn route_word(route: Route) -> &'static str {
    match route {
        Route::Internet => "internet",
        Route::CounterMedium => "counter_medium",
    }
}

fn parse_route(word: &str) -> Option<Route> {
    match word {
        "internet" => Some(Route::Internet),
        "counter_medium" => Some(Route::CounterMedium),
        _ => None,
    }
}

/// An order as loaded, with the version to append after.
pub type Loaded = command::Loaded<CounterOrderDecider>;

/// Loads the order `order` (its events; an order from before the events, from its row; nothing
/// when the counter does not know it).
pub async fn load(tx: &mut Transaction, order: &str) -> Result<Loaded, CounterError> {
    let mut loaded = command::load::<CounterOrderDecider>(tx, &stream(order)).await?;
    if loaded.version == 0 {
        let row: Option<(String, String, String, Option<String>)> = sql::fetch_optional(
            tx.conn(),
            "SELECT state, route, lab, lab_reception FROM counter_orders WHERE order_id = $1",
            &[Arg::from(order)],
        )
        .await?;
        if let Some((word, route, lab, lab_reception)) = row {
            let unknown = |what: &str, value: &str| {
                CounterError::Internal(format!("order {order} has an unknown {what} {value:?}"))
            };
            loaded.state = CounterOrder::resumed(
                CounterOrderState::parse(&word).ok_or_else(|| unknown("state", &word))?,
                parse_route(&route).ok_or_else(|| unknown("route", &route))?,
                SiteId::parse(&lab).map_err(|_| unknown("lab", &lab))?,
                lab_reception,
            );
        }
    }
    Ok(loaded)
}

/// What the counter's list shows of an order that an event opens (a walk-in taken in, an
/// internet order's parcel arrived): the counter's reception and the customer as its file holds
/// them.
#[derive(Debug, Clone)]
pub struct Opening {
    pub reception_number: String,
    pub registration_number: String,
    pub customer_name: String,
    pub telephone: String,
    pub received_at: DateTime<Utc>,
    pub expected_ready: Option<DateTime<Utc>>,
}

/// Decides `command` on the order `order`, appends what it decided and writes the projection.
/// Returns the order after it and the events (none when nothing changed, e.g. a redelivered
/// message).
pub async fn execute(
    tx: &mut Transaction,
    order: &str,
    command: Command,
    opening: Option<&Opening>,
) -> Result<(CounterOrder, Vec<Event>), CounterError> {
    let mut loaded = load(tx, order).await?;
    let events = command::decide_and_append(tx, &mut loaded, command)
        .await
        .map_err(|e| match e {
            CommandError::Refused(e) => CounterError::from(e),
            CommandError::Store(e) => CounterError::from(e),
        })?;
    for event in &events {
        project(tx, order, event, opening).await?;
    }
    Ok((loaded.state, events))
}

/// The inline projection of one event into `counter_orders`.
async fn project(
    tx: &mut Transaction,
    order: &str,
    event: &Event,
    opening: Option<&Opening>,
) -> Result<(), CounterError> {
    let state = event.state_after().as_str();
    let at = ts(event.at());
    let opened = |route: Route, lab: &SiteId, o: &Opening| {
        vec![
            Arg::from(order),
            Arg::from(o.reception_number.clone()),
            Arg::from(o.registration_number.clone()),
            Arg::from(route_word(route)),
            Arg::from(lab.to_string()),
            Arg::from(o.customer_name.clone()),
            Arg::from(o.telephone.clone()),
            Arg::from(state),
            Arg::from(ts(o.received_at)),
            Arg::from(o.expected_ready.map(ts)),
            Arg::from(at.clone()),
        ]
    };
    const INSERT: &str = "INSERT INTO counter_orders (order_id, reception_number, registration_number, route, lab, customer_name, telephone, state, received_at, expected_ready, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (order_id) DO NOTHING";
    match event {
        Event::TakenIn { lab, .. } => {
            let o = opening.ok_or_else(|| {
                CounterError::Internal(format!("order {order} taken in without its reception"))
            })?;
            sql::exec(tx.conn(), INSERT, &opened(Route::CounterMedium, lab, o)).await?;
        }
        Event::LabReceived {
            lab_reception,
            estimated_finish,
            ..
        } => {
            sql::exec(
                tx.conn(),
                "UPDATE counter_orders SET state = $2, lab_reception = $3, lab_estimated_finish = $4, updated_at = $5 WHERE order_id = $1",
                &[
                    Arg::from(order),
                    Arg::from(state),
                    Arg::from(lab_reception.clone()),
                    Arg::from(estimated_finish.map(ts)),
                    Arg::from(at),
                ],
            )
            .await?;
        }
        Event::DeliveryArrived {
            route,
            lab,
            lab_reception,
            ..
        } => {
            if let Some(o) = opening {
                sql::exec(tx.conn(), INSERT, &opened(*route, lab, o)).await?;
            }
            sql::exec(
                tx.conn(),
                "UPDATE counter_orders SET state = $2, lab_reception = $3, arrived_at = $4, updated_at = $4 WHERE order_id = $1",
                &[
                    Arg::from(order),
                    Arg::from(state),
                    Arg::from(lab_reception.clone()),
                    Arg::from(at),
                ],
            )
            .await?;
        }
        Event::Rejected { reason, .. } | Event::Cancelled { reason, .. } => {
            sql::exec(
                tx.conn(),
                "UPDATE counter_orders SET state = $2, notice = $3, updated_at = $4 WHERE order_id = $1",
                &[
                    Arg::from(order),
                    Arg::from(state),
                    Arg::from(reason.clone()),
                    Arg::from(at),
                ],
            )
            .await?;
        }
        Event::ReadyForPickup { .. }
        | Event::Collected { .. }
        | Event::Settled { .. }
        | Event::HandedOn { .. } => {
            sql::exec(
                tx.conn(),
                "UPDATE counter_orders SET state = $2, updated_at = $3 WHERE order_id = $1",
                &[Arg::from(order), Arg::from(state), Arg::from(at)],
            )
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use reprint_eventstore::codec::Event as _;

    #[test]
    fn every_counter_order_event_goes_through_its_envelope_and_back() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
        let lab = SiteId::parse("lab-a").unwrap();
        let yen = reprint_domain::Money::new(890, reprint_domain::Currency::parse("JPY").unwrap());
        let events = [
            Event::TakenIn {
                reception: "X0001004".into(),
                lab: lab.clone(),
                at,
            },
            Event::LabReceived {
                lab_reception: "B0000456".into(),
                estimated_finish: Some(at),
                at,
            },
            Event::DeliveryArrived {
                route: Route::Internet,
                lab,
                lab_reception: "B0000456".into(),
                at,
            },
            Event::ReadyForPickup {
                amount_due: yen,
                at,
            },
            Event::Collected {
                method: "cash".into(),
                amount: yen,
                staff: "tanaka".into(),
                at,
            },
            Event::Settled {
                settlement: uuid::Uuid::now_v7(),
                amount: yen,
                at,
            },
            Event::Rejected {
                code: reprint_domain::protocol::RejectCode::ByOperator,
                reason: "damaged".into(),
                at,
            },
            Event::Cancelled {
                reason: "changed their mind".into(),
                staff: "tanaka".into(),
                at,
                tell_lab: true,
            },
            Event::HandedOn {
                counter: SiteId::parse("counter-shibuya").unwrap(),
                at,
            },
        ];
        type Stored = command::Stored<CounterOrderDecider>;
        for e in events {
            let stored = Stored::new(e.clone());
            assert_eq!(Stored::current_version(stored.event_type()), Some(1));
            let bytes = stored.encode().unwrap();
            assert_eq!(
                Stored::decode_current(stored.event_type(), &bytes)
                    .unwrap()
                    .0,
                e
            );
        }
        assert_eq!(stream("0191"), "counter-order-0191");
    }
}
