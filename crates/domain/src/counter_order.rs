//! The delivery counter's order (seed 004, Fig. 1 steps S310-S314 and Fig. 2 steps S401-S411):
//! from the walk-in order taken in, or the internet order's parcel arriving, to the settlement
//! of the lab's share.
//!
//! ```text
//! walk-in:  placed -> received -> arrived -> ready_for_pickup -> collected -> settled
//!             |          |
//!             +----------+--> rejected    (the lab's OrderRejected, until it dispatches)
//!             +----------+--> cancelled   (at the counter, before the prints arrive)
//! walk-in collected at another counter Y (here the reception counter):
//!           placed -> handed_on   (with the lab's reception; rejected / cancelled as above)
//! internet:                    arrived -> ready_for_pickup -> collected -> settled
//! another counter's walk-in:   arrived -> ready_for_pickup -> collected -> settled
//! ```
//!
//! A walk-in order taken in at another counter for pickup here (`crate::delivery_counter`) is,
//! like an internet order, first heard of when its parcel arrives.
//!
//! - **Taken in** (Fig. 2): staff open the counter's reception for a medium handed over; the
//!   order goes to the lab the customer chose and awaits it (`placed`).
//! - **Received by the lab**: the lab's `ReceptionRecorded` names its reception number and its
//!   estimated finish. It may be overtaken by the delivery itself; then it changes nothing.
//! - **Parcel arrived** (the lab's `DeliveryDispatched`): the prints are at the counter with the
//!   lab's file extract. For an internet order (Fig. 1) this is the first the counter hears of
//!   it (its reception is opened in the counter's file then).
//! - **Ready for pickup**: the counter filled the lab's amounts into its reception (S408); the
//!   amount due is the lab's charge plus the counter's.
//! - **Collected**: staff take one payment of the amount due and hand the prints over; only an
//!   order ready for pickup, once.
//! - **Settled**: the counter pays the lab its share of a collected order.
//! - **Rejected**: the lab will not make a walk-in order (its `OrderRejected`), which it may say
//!   only until it dispatches.
//! - **Cancelled**: staff withdraw a walk-in order at the counter while its prints have not
//!   arrived; the lab cancels it if printing has not started (docs/flows.md, "Cancellation"),
//!   otherwise the prints come anyway and the counter's order stays cancelled.
//!
//! - **Handed on** (pickup at another counter, `crate::delivery_counter`): a walk-in order taken
//!   in here for collection at counter Y ends here when the lab records its reception: the
//!   prints go from the lab to Y, which charges and hands them over, and nothing of the order
//!   comes back to this counter. Its time is the lab's reception record, the last fact this
//!   counter can know: the lab's dispatch goes to Y's inbox and Y's collection to the lab, and
//!   a counter hears from no other counter and reads no one else's status (docs/flows.md). The
//!   lab may still reject it and staff may still ask to cancel it (the lab stops it if it has
//!   not started printing).
//!
//! The lab's messages may arrive again or out of order: a repeat changes nothing (`Ok(vec![])`).
//!
//! Decider shape as the individual user file and the lab's production: [`decide`] never reads a
//! clock (times are in the commands), [`evolve`] folds an event into the state.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Refusal, Refuses};
use crate::file::Route;
use crate::protocol::{RejectCode, Stage};
use crate::{Money, SiteId};

/// Where an order stands at the counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterOrderState {
    /// A walk-in order taken in, awaiting the lab.
    Placed,
    /// The lab recorded its reception of the walk-in order.
    Received,
    /// The parcel from the lab arrived at the counter.
    Arrived,
    /// The lab's amounts are in: staff may hand the prints over for the amount due.
    ReadyForPickup,
    Collected,
    Settled,
    Rejected,
    Cancelled,
    /// A walk-in order collected at another counter, now with the lab, which sends its prints
    /// there: nothing more for this counter to do.
    HandedOn,
}

impl CounterOrderState {
    pub const ALL: [CounterOrderState; 9] = [
        CounterOrderState::Placed,
        CounterOrderState::Received,
        CounterOrderState::Arrived,
        CounterOrderState::ReadyForPickup,
        CounterOrderState::Collected,
        CounterOrderState::Settled,
        CounterOrderState::Rejected,
        CounterOrderState::Cancelled,
        CounterOrderState::HandedOn,
    ];

    /// Orders waiting for their prints (the Arrivals page's "awaiting").
    pub const AWAITING: [CounterOrderState; 3] = [
        CounterOrderState::Placed,
        CounterOrderState::Received,
        CounterOrderState::Arrived,
    ];

    /// The word the counter's tables, pages and API use: the protocol's stage word where the
    /// state is a stage of the user's timeline.
    pub fn as_str(&self) -> &'static str {
        match self {
            CounterOrderState::Placed => "placed",
            CounterOrderState::Received => "received",
            CounterOrderState::Arrived => "arrived",
            CounterOrderState::ReadyForPickup => "ready_for_pickup",
            CounterOrderState::Collected => "collected",
            CounterOrderState::Settled => "settled",
            CounterOrderState::Rejected => "rejected",
            CounterOrderState::Cancelled => "cancelled",
            CounterOrderState::HandedOn => "handed_on",
        }
    }

    /// Reads a stored word; `ready` is what counters wrote before the state was typed.
    pub fn parse(s: &str) -> Option<CounterOrderState> {
        match s {
            "ready" => Some(CounterOrderState::ReadyForPickup),
            _ => CounterOrderState::ALL.into_iter().find(|c| c.as_str() == s),
        }
    }

    /// The order's stage on the user's timeline (an arrived parcel was dispatched by the lab;
    /// an order handed on is with the lab as far as this counter knows).
    pub fn stage(&self) -> Stage {
        match self {
            CounterOrderState::Placed => Stage::Placed,
            CounterOrderState::Received | CounterOrderState::HandedOn => Stage::Received,
            CounterOrderState::Arrived => Stage::Dispatched,
            CounterOrderState::ReadyForPickup => Stage::ReadyForPickup,
            CounterOrderState::Collected => Stage::Collected,
            CounterOrderState::Settled => Stage::Settled,
            CounterOrderState::Rejected => Stage::Rejected,
            CounterOrderState::Cancelled => Stage::Cancelled,
        }
    }

    /// Whether the order ended without its prints being handed over.
    pub fn is_withdrawn(&self) -> bool {
        matches!(
            self,
            CounterOrderState::Rejected | CounterOrderState::Cancelled
        )
    }
}

impl std::fmt::Display for CounterOrderState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An order at the counter: nothing before it is taken in or its parcel arrives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterOrder {
    pub state: Option<CounterOrderState>,
    pub route: Option<Route>,
    /// The lab that makes the prints.
    pub lab: Option<SiteId>,
    /// The lab's reception number, once the lab said it.
    pub lab_reception: Option<String>,
}

impl CounterOrder {
    /// An order that was kept before it had a stream of its own: its state as the counter's
    /// table held it (the events continue from there).
    pub fn resumed(
        state: CounterOrderState,
        route: Route,
        lab: SiteId,
        lab_reception: Option<String>,
    ) -> CounterOrder {
        CounterOrder {
            state: Some(state),
            route: Some(route),
            lab: Some(lab),
            lab_reception,
        }
    }
}

/// What can be asked of an order at the counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Staff took a walk-in order in under the counter's reception `reception`, for `lab`.
    TakeIn {
        reception: String,
        lab: SiteId,
        at: DateTime<Utc>,
    },
    /// The lab recorded its reception of the walk-in order (its `ReceptionRecorded`).
    /// `delivery_counter`: the other counter where the customer collects it, as this counter
    /// recorded it at intake (`crate::delivery_counter`), else `None`.
    RecordLabReception {
        lab_reception: String,
        estimated_finish: Option<DateTime<Utc>>,
        delivery_counter: Option<SiteId>,
        at: DateTime<Utc>,
    },
    /// The lab's parcel arrived (its `DeliveryDispatched`).
    ReceiveDelivery {
        route: Route,
        lab: SiteId,
        lab_reception: String,
        at: DateTime<Utc>,
    },
    /// The lab's parcel of a walk-in order that counter `taken_in_at` took in and named this
    /// counter to deliver (`crate::delivery_counter`): like an internet order, first heard of
    /// here; then as [`Command::ReceiveDelivery`].
    ReceiveOtherCountersDelivery {
        taken_in_at: SiteId,
        lab: SiteId,
        lab_reception: String,
        at: DateTime<Utc>,
    },
    /// The lab's amounts are in the counter's reception: the amount due is the lab's charge
    /// plus the counter's.
    MakeReady {
        amount_due: Money,
        at: DateTime<Utc>,
    },
    /// Staff took one payment of the amount due and handed the prints over.
    Collect {
        method: String,
        amount: Money,
        staff: String,
        at: DateTime<Utc>,
    },
    /// The counter paid the lab its share.
    Settle {
        settlement: uuid::Uuid,
        amount: Money,
        at: DateTime<Utc>,
    },
    /// The lab will not make the order (its `OrderRejected`).
    Reject {
        code: RejectCode,
        reason: String,
        at: DateTime<Utc>,
    },
    /// Staff withdrew a walk-in order at the counter.
    Cancel {
        reason: String,
        staff: String,
        at: DateTime<Utc>,
    },
}

/// What happened to an order at the counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    TakenIn {
        reception: String,
        lab: SiteId,
        at: DateTime<Utc>,
    },
    LabReceived {
        lab_reception: String,
        estimated_finish: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    },
    DeliveryArrived {
        route: Route,
        lab: SiteId,
        lab_reception: String,
        at: DateTime<Utc>,
    },
    ReadyForPickup {
        amount_due: Money,
        at: DateTime<Utc>,
    },
    Collected {
        method: String,
        amount: Money,
        staff: String,
        at: DateTime<Utc>,
    },
    Settled {
        settlement: uuid::Uuid,
        amount: Money,
        at: DateTime<Utc>,
    },
    Rejected {
        code: RejectCode,
        reason: String,
        at: DateTime<Utc>,
    },
    /// `tell_lab`: the order went (or is held to go) to the lab, which must hear of it.
    Cancelled {
        reason: String,
        staff: String,
        at: DateTime<Utc>,
        tell_lab: bool,
    },
    /// The order collected at `counter` is with the lab (its reception record at `at`): this
    /// counter's part is done. (Last: events are stored by their position in postcard.)
    HandedOn { counter: SiteId, at: DateTime<Utc> },
}

impl Event {
    pub const TYPES: [&'static str; 9] = [
        "counter_order.taken_in",
        "counter_order.lab_received",
        "counter_order.delivery_arrived",
        "counter_order.ready_for_pickup",
        "counter_order.collected",
        "counter_order.settled",
        "counter_order.rejected",
        "counter_order.cancelled",
        "counter_order.handed_on",
    ];

    /// A stable name of the event's type, for envelopes.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::TakenIn { .. } => "counter_order.taken_in",
            Event::LabReceived { .. } => "counter_order.lab_received",
            Event::DeliveryArrived { .. } => "counter_order.delivery_arrived",
            Event::ReadyForPickup { .. } => "counter_order.ready_for_pickup",
            Event::Collected { .. } => "counter_order.collected",
            Event::Settled { .. } => "counter_order.settled",
            Event::Rejected { .. } => "counter_order.rejected",
            Event::Cancelled { .. } => "counter_order.cancelled",
            Event::HandedOn { .. } => "counter_order.handed_on",
        }
    }

    /// The state the order is in after this event.
    pub fn state_after(&self) -> CounterOrderState {
        match self {
            Event::TakenIn { .. } => CounterOrderState::Placed,
            Event::LabReceived { .. } => CounterOrderState::Received,
            Event::DeliveryArrived { .. } => CounterOrderState::Arrived,
            Event::ReadyForPickup { .. } => CounterOrderState::ReadyForPickup,
            Event::Collected { .. } => CounterOrderState::Collected,
            Event::Settled { .. } => CounterOrderState::Settled,
            Event::Rejected { .. } => CounterOrderState::Rejected,
            Event::Cancelled { .. } => CounterOrderState::Cancelled,
            Event::HandedOn { .. } => CounterOrderState::HandedOn,
        }
    }

    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Event::TakenIn { at, .. }
            | Event::LabReceived { at, .. }
            | Event::DeliveryArrived { at, .. }
            | Event::ReadyForPickup { at, .. }
            | Event::Collected { at, .. }
            | Event::Settled { at, .. }
            | Event::Rejected { at, .. }
            | Event::Cancelled { at, .. }
            | Event::HandedOn { at, .. } => *at,
        }
    }
}

/// Why an order at the counter cannot do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CounterOrderError {
    #[error("the order was not taken in at this counter")]
    NotTakenIn,
    #[error("the order is {state}: {action} is not possible")]
    WrongState {
        state: CounterOrderState,
        action: &'static str,
    },
    #[error("the prints have not arrived from the lab yet (the order is {state})")]
    NotArrived { state: CounterOrderState },
    #[error("the prints were collected already")]
    AlreadyCollected,
    #[error("the order was {state} and its reception cancelled: {action} is not possible")]
    Withdrawn {
        state: CounterOrderState,
        action: &'static str,
    },
    #[error("too late to cancel: the order is {state}, its prints are at the counter")]
    TooLateToCancel { state: CounterOrderState },
    #[error("the order went to lab {expected}, not to {got}")]
    WrongLab { expected: SiteId, got: SiteId },
    #[error("a reason of 1 to 500 characters is needed")]
    ReasonNeeded,
}

impl Refuses for CounterOrderError {
    fn refusal(&self) -> Refusal {
        match self {
            CounterOrderError::NotTakenIn => Refusal::NotFound,
            CounterOrderError::WrongLab { .. } | CounterOrderError::ReasonNeeded => {
                Refusal::Invalid
            }
            _ => Refusal::Conflict,
        }
    }
}

fn reason_of(reason: &str) -> Result<String, CounterOrderError> {
    let r = reason.trim();
    if r.is_empty() || r.chars().count() > 500 || r.chars().any(char::is_control) {
        return Err(CounterOrderError::ReasonNeeded);
    }
    Ok(r.to_string())
}

/// The decision: which events a command makes, or why it is refused.
pub fn decide(o: &CounterOrder, command: Command) -> Result<Vec<Event>, CounterOrderError> {
    use CounterOrderState as S;
    let Some(state) = o.state else {
        return match command {
            Command::TakeIn { reception, lab, at } => {
                Ok(vec![Event::TakenIn { reception, lab, at }])
            }
            // Fig. 1: an internet order is first heard of when its parcel arrives; so is a
            // walk-in order another counter took in for pickup here.
            Command::ReceiveDelivery {
                route: Route::Internet,
                lab,
                lab_reception,
                at,
            } => Ok(vec![Event::DeliveryArrived {
                route: Route::Internet,
                lab,
                lab_reception,
                at,
            }]),
            Command::ReceiveOtherCountersDelivery {
                lab,
                lab_reception,
                at,
                ..
            } => Ok(vec![Event::DeliveryArrived {
                route: Route::CounterMedium,
                lab,
                lab_reception,
                at,
            }]),
            _ => Err(CounterOrderError::NotTakenIn),
        };
    };
    let wrong = |action| CounterOrderError::WrongState { state, action };
    let withdrawn = |action| CounterOrderError::Withdrawn { state, action };
    let from_its_lab = |lab: &SiteId| match &o.lab {
        Some(expected) if expected != lab => Err(CounterOrderError::WrongLab {
            expected: expected.clone(),
            got: lab.clone(),
        }),
        _ => Ok(()),
    };
    match command {
        // Taken in once.
        Command::TakeIn { .. } => Ok(vec![]),
        Command::RecordLabReception {
            lab_reception,
            estimated_finish,
            delivery_counter,
            at,
        } => match (state, delivery_counter) {
            (S::Placed, None) => Ok(vec![Event::LabReceived {
                lab_reception,
                estimated_finish,
                at,
            }]),
            // Collected at another counter: the lab has it and sends the prints there; this
            // counter's part is done. (Received before this rule, the record again ends it.)
            (S::Placed, Some(counter)) => Ok(vec![
                Event::LabReceived {
                    lab_reception,
                    estimated_finish,
                    at,
                },
                Event::HandedOn { counter, at },
            ]),
            (S::Received, Some(counter)) => Ok(vec![Event::HandedOn { counter, at }]),
            // Again, overtaken by the parcel, or after the order ended: nothing more to know.
            _ => Ok(vec![]),
        },
        Command::ReceiveOtherCountersDelivery {
            lab,
            lab_reception,
            at,
            ..
        } => decide(
            o,
            Command::ReceiveDelivery {
                route: Route::CounterMedium,
                lab,
                lab_reception,
                at,
            },
        ),
        Command::ReceiveDelivery {
            route,
            lab,
            lab_reception,
            at,
        } => match state {
            S::Placed | S::Received => {
                from_its_lab(&lab)?;
                Ok(vec![Event::DeliveryArrived {
                    route,
                    lab,
                    lab_reception,
                    at,
                }])
            }
            // The same parcel again (a redelivered message, the dispatch sent twice).
            S::Arrived | S::ReadyForPickup | S::Collected | S::Settled => Ok(vec![]),
            // Its prints go to the counter that hands them over, never here.
            S::HandedOn => Err(wrong("receiving its prints here")),
            S::Rejected | S::Cancelled => Err(withdrawn("receiving its prints")),
        },
        Command::MakeReady { amount_due, at } => match state {
            S::Arrived => Ok(vec![Event::ReadyForPickup { amount_due, at }]),
            S::ReadyForPickup | S::Collected | S::Settled => Ok(vec![]),
            S::Placed | S::Received => Err(CounterOrderError::NotArrived { state }),
            S::HandedOn => Err(wrong("making it ready for pickup here")),
            S::Rejected | S::Cancelled => Err(withdrawn("making it ready for pickup")),
        },
        Command::Collect {
            method,
            amount,
            staff,
            at,
        } => match state {
            S::ReadyForPickup => Ok(vec![Event::Collected {
                method,
                amount,
                staff,
                at,
            }]),
            S::Placed | S::Received | S::Arrived => Err(CounterOrderError::NotArrived { state }),
            S::HandedOn => Err(wrong("collecting here")),
            S::Collected | S::Settled => Err(CounterOrderError::AlreadyCollected),
            S::Rejected | S::Cancelled => Err(withdrawn("collecting")),
        },
        Command::Settle {
            settlement,
            amount,
            at,
        } => match state {
            S::Collected => Ok(vec![Event::Settled {
                settlement,
                amount,
                at,
            }]),
            S::Settled => Ok(vec![]),
            _ => Err(wrong("settling with the lab")),
        },
        Command::Reject { code, reason, at } => match state {
            S::Placed | S::Received | S::HandedOn => Ok(vec![Event::Rejected {
                code,
                reason: reason.trim().chars().take(500).collect(),
                at,
            }]),
            // Again; or the lab's answer to the counter's own cancellation.
            S::Rejected | S::Cancelled => Ok(vec![]),
            _ => Err(wrong("a rejection by the lab")),
        },
        Command::Cancel { reason, staff, at } => {
            let reason = reason_of(&reason)?;
            match state {
                S::Placed | S::Received | S::HandedOn => Ok(vec![Event::Cancelled {
                    reason,
                    staff,
                    at,
                    tell_lab: true,
                }]),
                S::Cancelled | S::Rejected => Ok(vec![]),
                _ => Err(CounterOrderError::TooLateToCancel { state }),
            }
        }
    }
}

/// The evolution: the order after an event.
pub fn evolve(mut o: CounterOrder, event: &Event) -> CounterOrder {
    match event {
        Event::TakenIn { lab, .. } => {
            o.route = Some(Route::CounterMedium);
            o.lab = Some(lab.clone());
        }
        Event::LabReceived { lab_reception, .. } => {
            o.lab_reception = Some(lab_reception.clone());
        }
        Event::DeliveryArrived {
            route,
            lab,
            lab_reception,
            ..
        } => {
            o.route = Some(*route);
            o.lab = Some(lab.clone());
            o.lab_reception = Some(lab_reception.clone());
        }
        _ => {}
    }
    o.state = Some(event.state_after());
    o
}

/// Folds a stream of events into an order.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> CounterOrder {
    events.into_iter().fold(CounterOrder::default(), evolve)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, h, 0, 0).unwrap()
    }

    fn yen(n: i64) -> Money {
        Money::new(n, Currency::parse("JPY").unwrap())
    }

    fn lab_a() -> SiteId {
        SiteId::parse("lab-a").unwrap()
    }

    fn staff() -> String {
        "tanaka".into()
    }

    /// given the events, when the command, then the events or the refusal.
    fn given(events: &[Event]) -> CounterOrder {
        replay(events)
    }

    fn taken_in() -> Event {
        Event::TakenIn {
            reception: "X0001004".into(),
            lab: lab_a(),
            at: at(9),
        }
    }

    fn lab_received() -> Event {
        Event::LabReceived {
            lab_reception: "B0000456".into(),
            estimated_finish: Some(at(15)),
            at: at(10),
        }
    }

    fn arrived(route: Route) -> Event {
        Event::DeliveryArrived {
            route,
            lab: lab_a(),
            lab_reception: "B0000456".into(),
            at: at(14),
        }
    }

    fn ready() -> Event {
        Event::ReadyForPickup {
            amount_due: yen(890),
            at: at(14),
        }
    }

    fn collected() -> Event {
        Event::Collected {
            method: "cash".into(),
            amount: yen(890),
            staff: staff(),
            at: at(17),
        }
    }

    fn rejected() -> Event {
        Event::Rejected {
            code: RejectCode::UnknownSize,
            reason: "size L is not printed here".into(),
            at: at(10),
        }
    }

    fn cancelled() -> Event {
        Event::Cancelled {
            reason: "the customer changed their mind".into(),
            staff: staff(),
            at: at(11),
            tell_lab: true,
        }
    }

    fn delivery(route: Route) -> Command {
        Command::ReceiveDelivery {
            route,
            lab: lab_a(),
            lab_reception: "B0000456".into(),
            at: at(14),
        }
    }

    fn make_ready() -> Command {
        Command::MakeReady {
            amount_due: yen(890),
            at: at(14),
        }
    }

    fn collect() -> Command {
        Command::Collect {
            method: "cash".into(),
            amount: yen(890),
            staff: staff(),
            at: at(17),
        }
    }

    fn settle() -> Command {
        Command::Settle {
            settlement: uuid::Uuid::nil(),
            amount: yen(640),
            at: at(17),
        }
    }

    fn reject() -> Command {
        Command::Reject {
            code: RejectCode::UnknownSize,
            reason: " size L is not printed here ".into(),
            at: at(10),
        }
    }

    fn cancel() -> Command {
        Command::Cancel {
            reason: "the customer changed their mind".into(),
            staff: staff(),
            at: at(11),
        }
    }

    fn state_after(o: CounterOrder, command: Command) -> Option<CounterOrderState> {
        let events = decide(&o, command).unwrap();
        events.iter().fold(o, evolve).state
    }

    #[test]
    fn a_walk_in_order_goes_from_taken_in_to_settled() {
        // Fig. 2: the medium is handed over at the counter (S401-S404), the lab records its
        // reception, the parcel arrives with the lab's amounts (S408), the customer collects
        // and pays once (S409-S411), the counter settles the lab's share.
        let mut o = CounterOrder::default();
        let steps = [
            Command::TakeIn {
                reception: "X0001004".into(),
                lab: lab_a(),
                at: at(9),
            },
            Command::RecordLabReception {
                lab_reception: "B0000456".into(),
                estimated_finish: Some(at(15)),
                delivery_counter: None,
                at: at(10),
            },
            delivery(Route::CounterMedium),
            make_ready(),
            collect(),
            settle(),
        ];
        let expected = [
            vec![CounterOrderState::Placed],
            vec![CounterOrderState::Received],
            vec![CounterOrderState::Arrived],
            vec![CounterOrderState::ReadyForPickup],
            vec![CounterOrderState::Collected],
            vec![CounterOrderState::Settled],
        ];
        for (command, states) in steps.into_iter().zip(expected) {
            let events = decide(&o, command).unwrap();
            assert_eq!(
                events.iter().map(Event::state_after).collect::<Vec<_>>(),
                states
            );
            o = events.iter().fold(o, evolve);
        }
        assert_eq!(o.state, Some(CounterOrderState::Settled));
        assert_eq!(o.route, Some(Route::CounterMedium));
        assert_eq!(o.lab_reception.as_deref(), Some("B0000456"));
        assert_eq!(o.state.unwrap().stage(), Stage::Settled);
    }

    #[test]
    fn an_internet_order_is_first_heard_of_when_its_parcel_arrives() {
        // Fig. 1: the delivery counter knows nothing of the order until the lab dispatches it.
        let events = decide(&CounterOrder::default(), delivery(Route::Internet)).unwrap();
        assert_eq!(events, vec![arrived(Route::Internet)]);
        let o = events.iter().fold(CounterOrder::default(), evolve);
        assert_eq!(o.state, Some(CounterOrderState::Arrived));
        assert_eq!(o.route, Some(Route::Internet));
        assert_eq!(o.lab, Some(lab_a()));
        let events = decide(&o, make_ready()).unwrap();
        assert_eq!(events, vec![ready()], "ready with the amount due");
        let o = events.iter().fold(o, evolve);
        assert_eq!(
            state_after(o.clone(), collect()),
            Some(CounterOrderState::Collected)
        );
    }

    #[test]
    fn a_parcel_may_overtake_the_labs_reception_record() {
        let o = given(&[taken_in()]);
        assert_eq!(
            state_after(o, delivery(Route::CounterMedium)),
            Some(CounterOrderState::Arrived)
        );
        let o = given(&[taken_in(), arrived(Route::CounterMedium), ready()]);
        assert_eq!(
            decide(
                &o,
                Command::RecordLabReception {
                    lab_reception: "B0000456".into(),
                    estimated_finish: None,
                    delivery_counter: None,
                    at: at(15),
                }
            ),
            Ok(vec![]),
            "the late record changes nothing"
        );
    }

    #[test]
    fn an_arrived_parcel_becomes_ready() {
        let o = given(&[taken_in(), lab_received(), arrived(Route::CounterMedium)]);
        assert_eq!(o.state.unwrap().stage(), Stage::Dispatched);
        assert_eq!(decide(&o, make_ready()), Ok(vec![ready()]));
        assert_eq!(
            decide(&o, delivery(Route::CounterMedium)),
            Ok(vec![]),
            "the parcel arrived once"
        );
        for waiting in [given(&[taken_in()]), given(&[taken_in(), lab_received()])] {
            let e = decide(&waiting, make_ready()).unwrap_err();
            assert!(matches!(e, CounterOrderError::NotArrived { .. }), "{e}");
        }
        assert_eq!(
            decide(&CounterOrder::default(), make_ready()),
            Err(CounterOrderError::NotTakenIn)
        );
        assert_eq!(
            decide(&given(&[arrived(Route::Internet), ready()]), make_ready()),
            Ok(vec![]),
            "ready once"
        );
    }

    #[test]
    fn redelivered_messages_change_nothing() {
        assert_eq!(
            decide(
                &given(&[taken_in()]),
                Command::TakeIn {
                    reception: "X0001004".into(),
                    lab: lab_a(),
                    at: at(9)
                }
            ),
            Ok(vec![])
        );
        let received = given(&[taken_in(), lab_received()]);
        assert_eq!(
            decide(
                &received,
                Command::RecordLabReception {
                    lab_reception: "B0000456".into(),
                    estimated_finish: Some(at(15)),
                    delivery_counter: None,
                    at: at(10),
                }
            ),
            Ok(vec![])
        );
        for later in [
            given(&[
                taken_in(),
                lab_received(),
                arrived(Route::CounterMedium),
                ready(),
            ]),
            given(&[arrived(Route::Internet), ready(), collected()]),
        ] {
            assert_eq!(
                decide(&later, delivery(Route::CounterMedium)),
                Ok(vec![]),
                "the same parcel again"
            );
        }
        let settled = given(&[
            arrived(Route::Internet),
            ready(),
            collected(),
            Event::Settled {
                settlement: uuid::Uuid::nil(),
                amount: yen(640),
                at: at(17),
            },
        ]);
        assert_eq!(decide(&settled, settle()), Ok(vec![]));
        assert_eq!(
            decide(&given(&[taken_in(), rejected()]), reject()),
            Ok(vec![])
        );
        assert_eq!(
            decide(&given(&[taken_in(), cancelled()]), cancel()),
            Ok(vec![])
        );
    }

    #[test]
    fn nothing_happens_to_an_order_not_taken_in() {
        let none = CounterOrder::default();
        for command in [
            Command::RecordLabReception {
                lab_reception: "B0000456".into(),
                estimated_finish: None,
                delivery_counter: None,
                at: at(10),
            },
            delivery(Route::CounterMedium),
            make_ready(),
            collect(),
            settle(),
            reject(),
            cancel(),
        ] {
            let e = decide(&none, command).unwrap_err();
            assert_eq!(e, CounterOrderError::NotTakenIn);
            assert_eq!(e.refusal(), Refusal::NotFound);
        }
    }

    #[test]
    fn prints_are_handed_over_only_when_ready_and_only_once() {
        for waiting in [
            given(&[taken_in()]),
            given(&[taken_in(), lab_received()]),
            given(&[taken_in(), lab_received(), arrived(Route::CounterMedium)]),
        ] {
            let e = decide(&waiting, collect()).unwrap_err();
            assert!(matches!(e, CounterOrderError::NotArrived { .. }), "{e}");
            assert!(
                e.to_string().starts_with("the prints have not arrived"),
                "{e}"
            );
            assert_eq!(e.refusal(), Refusal::Conflict);
        }
        let collected = given(&[arrived(Route::Internet), ready(), collected()]);
        assert_eq!(
            decide(&collected, collect()),
            Err(CounterOrderError::AlreadyCollected),
            "a second payment is refused, not taken twice"
        );
    }

    #[test]
    fn a_withdrawn_order_is_neither_collected_nor_received() {
        for (withdrawn, word) in [
            (given(&[taken_in(), rejected()]), "rejected"),
            (given(&[taken_in(), cancelled()]), "cancelled"),
        ] {
            let e = decide(&withdrawn, collect()).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "the order was {word} and its reception cancelled: collecting is not possible"
                )
            );
            assert_eq!(e.refusal(), Refusal::Conflict);
            assert!(matches!(
                decide(&withdrawn, delivery(Route::CounterMedium)),
                Err(CounterOrderError::Withdrawn {
                    action: "receiving its prints",
                    ..
                })
            ));
            assert!(matches!(
                decide(&withdrawn, make_ready()),
                Err(CounterOrderError::Withdrawn { .. })
            ));
        }
    }

    #[test]
    fn the_lab_settles_only_after_the_collection() {
        for not_collected in [
            given(&[taken_in()]),
            given(&[arrived(Route::Internet), ready()]),
            given(&[taken_in(), rejected()]),
        ] {
            assert!(matches!(
                decide(&not_collected, settle()),
                Err(CounterOrderError::WrongState {
                    action: "settling with the lab",
                    ..
                })
            ));
        }
        assert_eq!(
            decide(
                &given(&[arrived(Route::Internet), ready(), collected()]),
                settle()
            ),
            Ok(vec![Event::Settled {
                settlement: uuid::Uuid::nil(),
                amount: yen(640),
                at: at(17)
            }])
        );
    }

    #[test]
    fn the_lab_may_reject_a_walk_in_order_until_it_dispatches() {
        for before in [given(&[taken_in()]), given(&[taken_in(), lab_received()])] {
            assert_eq!(
                decide(&before, reject()),
                Ok(vec![rejected()]),
                "reason trimmed"
            );
            assert_eq!(
                state_after(before, reject()),
                Some(CounterOrderState::Rejected)
            );
        }
        let arrived = given(&[taken_in(), arrived(Route::CounterMedium), ready()]);
        let e = decide(&arrived, reject()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the order is ready_for_pickup: a rejection by the lab is not possible"
        );
        assert_eq!(e.refusal(), Refusal::Conflict);
        // The lab's answer to the counter's own cancellation.
        assert_eq!(
            decide(&given(&[taken_in(), cancelled()]), reject()),
            Ok(vec![])
        );
    }

    #[test]
    fn staff_may_cancel_a_walk_in_order_until_its_prints_arrive() {
        for before in [given(&[taken_in()]), given(&[taken_in(), lab_received()])] {
            assert_eq!(decide(&before, cancel()), Ok(vec![cancelled()]));
        }
        for late in [
            given(&[taken_in(), arrived(Route::CounterMedium)]),
            given(&[arrived(Route::Internet), ready()]),
            given(&[arrived(Route::Internet), ready(), collected()]),
        ] {
            let e = decide(&late, cancel()).unwrap_err();
            assert!(
                matches!(e, CounterOrderError::TooLateToCancel { .. }),
                "{e}"
            );
            assert!(e.to_string().starts_with("too late to cancel"), "{e}");
            assert_eq!(e.refusal(), Refusal::Conflict);
        }
        assert_eq!(
            decide(&given(&[taken_in(), rejected()]), cancel()),
            Ok(vec![]),
            "rejected already"
        );
    }

    #[test]
    fn a_cancellation_needs_a_reason() {
        for reason in ["", "  ", "bad\u{7}", &"x".repeat(501)] {
            let e = decide(
                &given(&[taken_in()]),
                Command::Cancel {
                    reason: reason.into(),
                    staff: staff(),
                    at: at(11),
                },
            )
            .unwrap_err();
            assert_eq!(e, CounterOrderError::ReasonNeeded);
            assert_eq!(e.refusal(), Refusal::Invalid);
        }
    }

    #[test]
    fn a_parcel_from_another_lab_is_not_this_orders() {
        let e = decide(
            &given(&[taken_in()]),
            Command::ReceiveDelivery {
                route: Route::CounterMedium,
                lab: SiteId::parse("lab-b").unwrap(),
                lab_reception: "B0000001".into(),
                at: at(14),
            },
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "the order went to lab lab-a, not to lab-b");
        assert_eq!(e.refusal(), Refusal::Invalid);
    }

    #[test]
    fn a_walk_in_delivery_without_its_order_is_refused() {
        assert_eq!(
            decide(&CounterOrder::default(), delivery(Route::CounterMedium)),
            Err(CounterOrderError::NotTakenIn)
        );
    }

    #[test]
    fn another_counters_walk_in_is_first_heard_of_when_its_parcel_arrives_here() {
        // Pickup at another counter: counter-ginza took it in, this counter hands it over.
        let from_ginza = Command::ReceiveOtherCountersDelivery {
            taken_in_at: SiteId::parse("counter-ginza").unwrap(),
            lab: lab_a(),
            lab_reception: "B0000456".into(),
            at: at(14),
        };
        let events = decide(&CounterOrder::default(), from_ginza.clone()).unwrap();
        assert_eq!(events, vec![arrived(Route::CounterMedium)]);
        let o = events.iter().fold(CounterOrder::default(), evolve);
        assert_eq!(o.route, Some(Route::CounterMedium));
        assert_eq!(decide(&o, from_ginza), Ok(vec![]), "the same parcel again");
        let o = decide(&o, make_ready()).unwrap().iter().fold(o, evolve);
        assert_eq!(
            state_after(o, collect()),
            Some(CounterOrderState::Collected)
        );
    }

    #[test]
    fn an_order_collected_at_another_counter_ends_here_when_the_lab_has_it() {
        // Ginza takes the card in at 09:00 for collection at Shibuya; the lab records its
        // reception at 10:00: Ginza's part is done (handed on to Shibuya at 10:00), and it no
        // longer waits for prints that go to Shibuya.
        let shibuya = SiteId::parse("counter-shibuya").unwrap();
        let record = |delivery_counter: Option<SiteId>| Command::RecordLabReception {
            lab_reception: "B0000456".into(),
            estimated_finish: Some(at(15)),
            delivery_counter,
            at: at(10),
        };
        let o = given(&[taken_in()]);
        let events = decide(&o, record(Some(shibuya.clone()))).unwrap();
        let handed_on = Event::HandedOn {
            counter: shibuya.clone(),
            at: at(10),
        };
        assert_eq!(events, vec![lab_received(), handed_on.clone()]);
        let o = events.iter().fold(o, evolve);
        assert_eq!(o.state, Some(CounterOrderState::HandedOn));
        assert!(!CounterOrderState::AWAITING.contains(&CounterOrderState::HandedOn));
        assert_eq!(o.lab_reception.as_deref(), Some("B0000456"));
        // The record again changes nothing; no parcel, ready or payment here.
        assert_eq!(decide(&o, record(Some(shibuya.clone()))), Ok(vec![]));
        for command in [delivery(Route::CounterMedium), make_ready(), collect()] {
            let e = decide(&o, command).unwrap_err();
            assert!(
                matches!(
                    e,
                    CounterOrderError::WrongState {
                        state: CounterOrderState::HandedOn,
                        ..
                    }
                ),
                "{e}"
            );
            assert_eq!(e.refusal(), Refusal::Conflict);
        }
        // The lab may still reject it, and staff may still ask to cancel it.
        assert_eq!(
            state_after(o.clone(), reject()),
            Some(CounterOrderState::Rejected)
        );
        assert_eq!(state_after(o, cancel()), Some(CounterOrderState::Cancelled));
        // Received before this rule: the record again ends it.
        assert_eq!(
            decide(
                &given(&[taken_in(), lab_received()]),
                record(Some(shibuya.clone()))
            ),
            Ok(vec![handed_on])
        );
        // Collected here: received, waiting for its parcel as before.
        assert_eq!(
            state_after(given(&[taken_in()]), record(None)),
            Some(CounterOrderState::Received)
        );
        // After the parcel or a withdrawal the record changes nothing.
        for later in [
            given(&[taken_in(), cancelled()]),
            given(&[taken_in(), arrived(Route::CounterMedium)]),
        ] {
            assert_eq!(decide(&later, record(Some(shibuya.clone()))), Ok(vec![]));
        }
    }

    #[test]
    fn an_order_kept_before_events_resumes_from_its_row() {
        let o = CounterOrder::resumed(
            CounterOrderState::parse("ready").unwrap(),
            Route::CounterMedium,
            lab_a(),
            Some("B0000456".into()),
        );
        assert_eq!(o.state, Some(CounterOrderState::ReadyForPickup));
        assert_eq!(
            state_after(o, collect()),
            Some(CounterOrderState::Collected)
        );
    }

    #[test]
    fn states_read_and_write_as_the_protocol_words_them() {
        for s in CounterOrderState::ALL {
            assert_eq!(CounterOrderState::parse(s.as_str()), Some(s));
            if s != CounterOrderState::Arrived && s != CounterOrderState::HandedOn {
                assert_eq!(s.stage().as_str(), s.as_str());
            }
        }
        assert_eq!(
            CounterOrderState::ReadyForPickup.as_str(),
            Stage::ReadyForPickup.as_str()
        );
        assert_eq!(CounterOrderState::parse("shipped"), None);
    }

    #[test]
    fn every_event_has_its_type_name() {
        let events = [
            taken_in(),
            lab_received(),
            arrived(Route::Internet),
            ready(),
            collected(),
            Event::Settled {
                settlement: uuid::Uuid::nil(),
                amount: yen(1),
                at: at(1),
            },
            rejected(),
            cancelled(),
            Event::HandedOn {
                counter: SiteId::parse("counter-shibuya").unwrap(),
                at: at(10),
            },
        ];
        let names: Vec<&str> = events.iter().map(Event::type_name).collect();
        assert_eq!(names, Event::TYPES.to_vec());
    }
}
