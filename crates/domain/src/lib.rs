//! reprint's pure rules (seed 004): identifiers, numbers, money, print sizes, price lists,
//! discount policies, the individual user file and charge determination.
//!
//! No I/O, no async, no clock: every time is an argument. Find a rule of the seed by its word:
//! `file` (individual user file, registration, reception), `charge` (basic charge, charge
//! determiner), `policy` (within a week, within a month, first or previous order), `number`
//! (registration number, reception number), `sequence` (issuing them gap-free), `extract` (what
//! one site sends another of its file), `order_check` (the one check of an order at every door:
//! sizes, quantities, edits, customer), `edit` (an order's edit list); an order's life at each
//! site: `production` (the lab's reception in production: printing, dispatch, reject, cancel),
//! `counter_order` (the counter's order), `web_order` (the gateway's order and storage
//! reservation), `ledger` (the lab's ledger with each delivery counter); products beyond
//! prints: `digital_media` (the digital copy on a CD, DVD or USB stick at a counter with a
//! writer), `product` (the index print).

pub mod analysis;
pub mod charge;
pub mod counter_order;
pub mod counter_print;
pub mod decider;
pub mod delivery_counter;
pub mod digital_media;
pub mod edit;
pub mod error;
pub mod extract;
pub mod file;
pub mod id;
pub mod ledger;
pub mod money;
pub mod number;
pub mod order_check;
pub mod parcel;
pub mod payment;
pub mod policy;
pub mod price;
pub mod product;
pub mod production;
pub mod protocol;
pub mod rules;
pub mod sequence;
pub mod size;
pub mod statement;
pub mod web_order;

pub use charge::{
    Charge, ChargeLine, EarlierPrint, LineKind, Recognition, amount_due, determine_charge,
    determine_charge_with,
};
pub use error::{DomainError, Refusal, Refuses};
pub use file::{OrderItem, Reception, ReceptionState, Route, Telephone, UserFile, UserIdArea};
pub use id::{ImageId, OrderId, SiteId, SiteKind};
pub use money::{Currency, Money, Percent};
pub use number::{NumberFormat, ReceptionNumber, RegistrationNumber};
pub use order_check::{OrderError, check_order};
pub use policy::{Anchor, AppliesTo, Basis, DiscountPolicy, ImageScope, Period, Tier};
pub use price::PriceList;
pub use rules::SiteRules;
pub use size::PrintSize;
