//! The shape every life of an order has in this crate (Jérémie Chassaing's Decider): a state
//! that starts empty, `decide` (which events a command makes, or why it is refused; pure, time
//! in the command) and `evolve` (the state after an event). The services run every decider by
//! one command path (`reprint_site::command`): load the events, decide, append with the
//! expected version, project, effects after commit.

use serde::Serialize;
use serde::de::DeserializeOwned;

pub trait Decider {
    type State: Default + Clone;
    type Command;
    type Event: Clone + Serialize + DeserializeOwned;
    type Error: std::error::Error + crate::Refuses;

    /// Every event type's stable name (stored with the event).
    const EVENT_TYPES: &'static [&'static str];

    fn event_type(event: &Self::Event) -> &'static str;
    fn decide(state: &Self::State, command: Self::Command)
    -> Result<Vec<Self::Event>, Self::Error>;
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;
}

macro_rules! decider {
    ($(#[$doc:meta])* $name:ident, $module:ident, $state:ty, $error:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        impl Decider for $name {
            type State = $state;
            type Command = crate::$module::Command;
            type Event = crate::$module::Event;
            type Error = $error;
            const EVENT_TYPES: &'static [&'static str] = &crate::$module::Event::TYPES;

            fn event_type(event: &Self::Event) -> &'static str {
                event.type_name()
            }
            fn decide(
                state: &Self::State,
                command: Self::Command,
            ) -> Result<Vec<Self::Event>, Self::Error> {
                crate::$module::decide(state, command)
            }
            fn evolve(state: Self::State, event: &Self::Event) -> Self::State {
                crate::$module::evolve(state, event)
            }
        }
    };
}

decider!(
    /// The lab's reception in production.
    ProductionDecider,
    production,
    crate::production::Production,
    crate::production::ProductionError
);
decider!(
    /// The counter's order.
    CounterOrderDecider,
    counter_order,
    crate::counter_order::CounterOrder,
    crate::counter_order::CounterOrderError
);
decider!(
    /// The gateway's order and its storage reservation.
    WebOrderDecider,
    web_order,
    crate::web_order::WebOrder,
    crate::web_order::WebOrderError
);
