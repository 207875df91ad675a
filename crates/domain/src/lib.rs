//! reprint's pure rules (seed 004): identifiers, numbers, money, print sizes, price lists,
//! discount policies, the individual user file and charge determination.
//!
//! No I/O, no async, no clock: every time is an argument. Find a rule of the seed by its word:
//! `file` (individual user file, registration, reception), `charge` (basic charge, charge
//! determiner), `policy` (within a week, within a month, first or previous order), `number`
//! (registration number, reception number), `sequence` (issuing them gap-free), `extract` (what
//! one site sends another of its file).

pub mod charge;
pub mod error;
pub mod extract;
pub mod file;
pub mod id;
pub mod money;
pub mod number;
pub mod policy;
pub mod price;
pub mod protocol;
pub mod rules;
pub mod sequence;
pub mod size;

pub use charge::{
    Charge, ChargeLine, EarlierPrint, LineKind, Recognition, amount_due, determine_charge,
};
pub use error::DomainError;
pub use file::{OrderItem, Reception, ReceptionState, Route, Telephone, UserFile, UserIdArea};
pub use id::{ImageId, OrderId, SiteId, SiteKind};
pub use money::{Currency, Money, Percent};
pub use number::{NumberFormat, ReceptionNumber, RegistrationNumber};
pub use policy::{Anchor, AppliesTo, Basis, DiscountPolicy, ImageScope, Period, Tier};
pub use price::PriceList;
pub use rules::SiteRules;
pub use size::PrintSize;
