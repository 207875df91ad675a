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
use reprint_domain::counter_order::{self, Command, CounterOrder, CounterOrderState, Event};
use reprint_domain::file::Route;
use reprint_eventstore::codec::{self, CodecError};
use reprint_eventstore::sql::{self, Arg, ts};
use reprint_eventstore::{ExpectedVersion, Metadata, Transaction};

use crate::error::CounterError;

/// A counter-order event as stored: type name, schema version, postcard payload.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent(pub Event);

impl codec::Event for StoredEvent {
    fn event_type(&self) -> &'static str {
        self.0.type_name()
    }

    fn current_version(event_type: &str) -> Option<u32> {
        Event::TYPES.contains(&event_type).then_some(1)
    }

    fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::to_postcard(&self.0)
    }

    fn decode_current(_event_type: &str, payload: &[u8]) -> Result<Self, CodecError> {
        codec::from_postcard(payload).map(StoredEvent)
    }
}

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
#[derive(Debug, Clone)]
pub struct Loaded {
    pub order: CounterOrder,
    pub version: u64,
}

/// Loads the order `order` (its events; an order from before the events, from its row; nothing
/// when the counter does not know it).
pub async fn load(tx: &mut Transaction, order: &str) -> Result<Loaded, CounterError> {
    let stream = stream(order);
    let mut state = CounterOrder::default();
    let mut version = 0;
    loop {
        let batch = tx.read_stream(&stream, version + 1, 64).await?;
        if batch.is_empty() {
            break;
        }
        for e in &batch {
            let StoredEvent(event) = e
                .decode::<StoredEvent>()
                .map_err(reprint_eventstore::Error::from)?;
            state = counter_order::evolve(state, &event);
            version = e.version;
        }
    }
    if version == 0 {
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
            state = CounterOrder::resumed(
                CounterOrderState::parse(&word).ok_or_else(|| unknown("state", &word))?,
                parse_route(&route).ok_or_else(|| unknown("route", &route))?,
                SiteId::parse(&lab).map_err(|_| unknown("lab", &lab))?,
                lab_reception,
            );
        }
    }
    Ok(Loaded {
        order: state,
        version,
    })
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
    let events = counter_order::decide(&loaded.order, command)?;
    if events.is_empty() {
        return Ok((loaded.order, events));
    }
    let stored = events
        .iter()
        .map(|e| {
            codec::new_event(
                &StoredEvent(e.clone()),
                uuid::Uuid::now_v7(),
                Metadata::new(),
            )
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(reprint_eventstore::Error::from)?;
    tx.append(
        &stream(order),
        ExpectedVersion::after(loaded.version),
        &stored,
    )
    .await?;
    for event in &events {
        project(tx, order, event, opening).await?;
        loaded.order = counter_order::evolve(loaded.order, event);
    }
    Ok((loaded.order, events))
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
        Event::ReadyForPickup { .. } | Event::Collected { .. } | Event::Settled { .. } => {
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
        ];
        for e in events {
            let stored = StoredEvent(e.clone());
            assert_eq!(StoredEvent::current_version(stored.event_type()), Some(1));
            let bytes = stored.encode().unwrap();
            assert_eq!(
                StoredEvent::decode_current(stored.event_type(), &bytes).unwrap(),
                stored
            );
        }
        assert_eq!(stream("0191"), "counter-order-0191");
    }
}
