//! The individual user file (seed 004, Figs. 6 to 9): one per user per site, in two areas.
//!
//! - The **user id area**: registration number (the site's own), name, telephone, address,
//!   email. "Once registered ... seldom renewed unless requested by the user to change."
//! - The **reception contents area**: one entry per order, under a new reception number: the
//!   route of reception, the reception date, the start and finish of receiving the data, the
//!   partner site (the delivery counter at a lab; the lab at a counter), the images and prints,
//!   the amounts, and the estimated finish. Entries are kept after the hand-over "so that it can
//!   be used for user analysis later on".
//!
//! The aggregate is a Decider: [`decide`] turns a [`Command`] and the current [`UserFile`] into
//! events, [`evolve`] folds an event into the file. Neither reads a clock: times are in the
//! commands.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::charge::{Charge, EarlierPrint, determine_charge_with};
use crate::delivery_counter::OtherCounter;
use crate::{
    DomainError, ImageId, OrderId, PrintSize, ReceptionNumber, RegistrationNumber, SiteId,
    SiteRules,
};

/// A telephone number as it is compared: digits only, with a leading `+` kept.
/// `03-1234-5678`, `03 1234 5678` and `(03) 1234-5678` are one number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Telephone(String);

impl Telephone {
    pub fn parse(s: &str) -> Result<Telephone, DomainError> {
        let t = s.trim();
        let plus = t.starts_with('+');
        let digits: String = t.chars().filter(|c| c.is_ascii_digit()).collect();
        let allowed = t
            .chars()
            .all(|c| c.is_ascii_digit() || " -().+/".contains(c));
        let plus_ok = match t.matches('+').count() {
            0 => true,
            1 => plus,
            _ => false,
        };
        if !allowed || !plus_ok || !(6..=15).contains(&digits.len()) {
            return Err(DomainError::invalid(
                "telephone",
                s,
                "6 to 15 digits, optionally with +, spaces, dashes and brackets",
            ));
        }
        Ok(Telephone(if plus { format!("+{digits}") } else { digits }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A name as it is written in a file: trimmed, inner whitespace collapsed to one space.
pub fn tidy_name(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A name as it is compared: [`tidy_name`], case folded.
pub fn normalise_name(name: &str) -> String {
    tidy_name(name).to_lowercase()
}

/// The user id area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserIdArea {
    pub registration_number: RegistrationNumber,
    pub name: String,
    pub telephone: Telephone,
    pub address: Option<String>,
    pub email: Option<String>,
    pub registered_at: DateTime<Utc>,
}

/// The seed's "(2) route of reception".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Ordered by the user over the internet (Fig. 1).
    Internet,
    /// A storage medium handed over at a counter (Fig. 2).
    CounterMedium,
}

/// When the image data started and finished arriving ("(4) and (5)").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataReceive {
    pub start: DateTime<Utc>,
    pub finish: DateTime<Utc>,
}

/// One line of an order: `quantity` prints of `image` at `size`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderItem {
    pub image: ImageId,
    /// The name the user knows the image by (the file name); for people only, never for
    /// recognising the image (the seed: file names change and repeat).
    pub name: String,
    pub size: PrintSize,
    pub quantity: u32,
}

/// Where a reception stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceptionState {
    Open,
    Collected { at: DateTime<Utc> },
    Cancelled { at: DateTime<Utc>, reason: String },
}

/// One entry of the reception contents area.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reception {
    /// "(1) new reception No."
    pub number: ReceptionNumber,
    pub order: OrderId,
    /// "(2) the route of reception"
    pub route: Route,
    /// "(3) reception date"
    pub received_at: DateTime<Utc>,
    /// "(4) and (5)" when the data came over the network.
    pub data_receive: Option<DataReceive>,
    /// "(6)": at a lab, the delivery counter; at a counter, the lab that prints.
    pub partner: SiteId,
    /// "(7)" the images and prints ...
    pub items: Vec<OrderItem>,
    /// ... and this site's amounts.
    pub charge: Charge,
    /// At a counter: the lab's amounts, filled in when the prints arrive (Fig. 8 -> Fig. 9).
    pub partner_charge: Option<Charge>,
    /// "(8) the estimated date and time of finishing prints".
    pub estimated_finish: Option<DateTime<Utc>>,
    pub state: ReceptionState,
}

impl Reception {
    pub fn is_cancelled(&self) -> bool {
        matches!(self.state, ReceptionState::Cancelled { .. })
    }
}

/// A site's individual user file: empty until registered.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UserFile {
    pub user: Option<UserIdArea>,
    pub receptions: Vec<Reception>,
    /// The seed's "one more item" beside item (6), by reception number: the other counter of a
    /// walk-in order collected at another counter than the one that took it in
    /// (`crate::delivery_counter`). Kept beside the receptions rather than in them so that the
    /// receptions' stored events keep their shape.
    #[serde(default)]
    pub other_counters: std::collections::BTreeMap<String, OtherCounter>,
}

impl UserFile {
    /// The one more item of reception `number`, when it has one.
    pub fn other_counter(&self, number: &ReceptionNumber) -> Option<&OtherCounter> {
        self.other_counters.get(number.as_str())
    }

    pub fn reception(&self, number: &ReceptionNumber) -> Option<&Reception> {
        self.receptions.iter().find(|r| &r.number == number)
    }

    pub fn reception_for_order(&self, order: OrderId) -> Option<&Reception> {
        self.receptions.iter().find(|r| r.order == order)
    }

    /// Earlier prints of `image` in this file (found by exact image id), not counting
    /// cancelled receptions nor receptions at or after `before`.
    pub fn earlier_prints_of(
        &self,
        image: &ImageId,
        before: DateTime<Utc>,
    ) -> impl Iterator<Item = &Reception> {
        self.receptions.iter().filter(move |r| {
            !r.is_cancelled() && r.received_at < before && r.items.iter().any(|i| &i.image == image)
        })
    }
}

/// What can be asked of a user file.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Register the user under the site's next registration number.
    Register {
        registration_number: RegistrationNumber,
        name: String,
        telephone: Telephone,
        address: Option<String>,
        email: Option<String>,
        at: DateTime<Utc>,
    },
    /// The user asked to change their contact details.
    ChangeContact {
        name: String,
        telephone: Telephone,
        address: Option<String>,
        email: Option<String>,
        at: DateTime<Utc>,
    },
    /// Open a reception for an order: the site's charge is determined here, by its rules, from
    /// this file and what is known of the images' earlier prints. Opening the same order again
    /// is a no-op (a redelivered order records one reception).
    OpenReception(Box<OpenReception>),
    /// At a counter: the lab's amounts arrive with the prints.
    FillInPartnerAmounts {
        number: ReceptionNumber,
        charge: Charge,
    },
    /// The prints were handed over (and paid for).
    RecordCollected {
        number: ReceptionNumber,
        at: DateTime<Utc>,
    },
    /// The order will not be made.
    Cancel {
        number: ReceptionNumber,
        reason: String,
        at: DateTime<Utc>,
    },
    /// The lab will not print some images of an open reception: its contents and charge are
    /// decided again without them (`crate::production::amended_charge`).
    AmendReception(Box<AmendReception>),
    /// The seed's one more item: the order is collected at another counter than the one that
    /// took it in. At the reception counter the reception's charge becomes
    /// `crate::delivery_counter::reception_counter_charge` (nothing charged there).
    RecordOtherCounter {
        number: ReceptionNumber,
        other: OtherCounter,
    },
}

/// The contents of [`Command::AmendReception`]: the images left out, and the rules and evidence
/// the reception was charged by.
#[derive(Debug, Clone, PartialEq)]
pub struct AmendReception {
    pub number: ReceptionNumber,
    pub rejected: Vec<ImageId>,
    pub rules: SiteRules,
    pub evidence: Vec<EarlierPrint>,
    pub at: DateTime<Utc>,
}

/// The contents of [`Command::OpenReception`].
#[derive(Debug, Clone, PartialEq)]
pub struct OpenReception {
    pub number: ReceptionNumber,
    pub order: OrderId,
    pub route: Route,
    pub received_at: DateTime<Utc>,
    pub data_receive: Option<DataReceive>,
    pub partner: SiteId,
    pub items: Vec<OrderItem>,
    /// The digital copy besides the prints (a lab's product: the charge gets its line).
    pub digital_copy: bool,
    /// Earlier prints found by means other than the exact image id in this file: a
    /// perceptual-hash match, history embedded in the image or carried in a ZIP container.
    pub evidence: Vec<EarlierPrint>,
    pub estimated_finish: Option<DateTime<Utc>>,
    pub rules: SiteRules,
}

/// What happened to a user file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Registered {
        user: UserIdArea,
    },
    ContactChanged {
        name: String,
        telephone: Telephone,
        address: Option<String>,
        email: Option<String>,
        at: DateTime<Utc>,
    },
    ReceptionOpened {
        reception: Box<Reception>,
    },
    PartnerAmountsFilledIn {
        number: ReceptionNumber,
        charge: Charge,
    },
    Collected {
        number: ReceptionNumber,
        at: DateTime<Utc>,
    },
    ReceptionCancelled {
        number: ReceptionNumber,
        reason: String,
        at: DateTime<Utc>,
    },
    /// The reception's contents "(7)" and charge without the images the lab rejected.
    ReceptionAmended {
        number: ReceptionNumber,
        items: Vec<OrderItem>,
        charge: Charge,
        at: DateTime<Utc>,
    },
    /// The one more item, with the reception's charge as it stands after it. (Last: the
    /// variants before it keep their postcard indices.)
    OtherCounterRecorded {
        number: ReceptionNumber,
        other: OtherCounter,
        charge: Charge,
    },
}

impl Event {
    /// A stable name of the event's type, for envelopes.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::Registered { .. } => "user_file.registered",
            Event::ContactChanged { .. } => "user_file.contact_changed",
            Event::ReceptionOpened { .. } => "user_file.reception_opened",
            Event::PartnerAmountsFilledIn { .. } => "user_file.partner_amounts_filled_in",
            Event::Collected { .. } => "user_file.collected",
            Event::ReceptionCancelled { .. } => "user_file.reception_cancelled",
            Event::ReceptionAmended { .. } => "user_file.reception_amended",
            Event::OtherCounterRecorded { .. } => "user_file.other_counter_recorded",
        }
    }
}

/// The decision: which events a command makes, or why it is refused.
pub fn decide(file: &UserFile, command: Command) -> Result<Vec<Event>, DomainError> {
    match command {
        Command::Register {
            registration_number,
            name,
            telephone,
            address,
            email,
            at,
        } => {
            if let Some(u) = &file.user {
                if u.registration_number == registration_number {
                    return Ok(vec![]);
                }
                return Err(DomainError::AlreadyRegistered {
                    number: u.registration_number.to_string(),
                });
            }
            let name = checked_name(&name)?;
            Ok(vec![Event::Registered {
                user: UserIdArea {
                    registration_number,
                    name,
                    telephone,
                    address,
                    email,
                    registered_at: at,
                },
            }])
        }
        Command::ChangeContact {
            name,
            telephone,
            address,
            email,
            at,
        } => {
            let Some(u) = &file.user else {
                return Err(DomainError::NotRegistered);
            };
            let name = checked_name(&name)?;
            if u.name == name
                && u.telephone == telephone
                && u.address == address
                && u.email == email
            {
                return Ok(vec![]);
            }
            Ok(vec![Event::ContactChanged {
                name,
                telephone,
                address,
                email,
                at,
            }])
        }
        Command::OpenReception(open) => {
            if file.user.is_none() {
                return Err(DomainError::NotRegistered);
            }
            if file.reception_for_order(open.order).is_some() {
                return Ok(vec![]);
            }
            if file.reception(&open.number).is_some() {
                return Err(DomainError::DuplicateReception {
                    number: open.number.to_string(),
                });
            }
            let charge = determine_charge_with(
                &open.rules,
                file,
                &open.items,
                open.digital_copy,
                &open.evidence,
                open.received_at,
            )?;
            Ok(vec![Event::ReceptionOpened {
                reception: Box::new(Reception {
                    number: open.number,
                    order: open.order,
                    route: open.route,
                    received_at: open.received_at,
                    data_receive: open.data_receive,
                    partner: open.partner,
                    items: open.items,
                    charge,
                    partner_charge: None,
                    estimated_finish: open.estimated_finish,
                    state: ReceptionState::Open,
                }),
            }])
        }
        Command::FillInPartnerAmounts { number, charge } => {
            let r = existing(file, &number)?;
            if r.partner_charge.as_ref() == Some(&charge) {
                return Ok(vec![]);
            }
            if r.charge.total.currency != charge.total.currency {
                return Err(DomainError::CurrencyMismatch {
                    left: r.charge.total.currency.to_string(),
                    right: charge.total.currency.to_string(),
                });
            }
            if r.state != ReceptionState::Open {
                return Err(wrong_state(r, "filling in the partner's amounts"));
            }
            Ok(vec![Event::PartnerAmountsFilledIn { number, charge }])
        }
        Command::RecordCollected { number, at } => {
            let r = existing(file, &number)?;
            match r.state {
                ReceptionState::Open => Ok(vec![Event::Collected { number, at }]),
                ReceptionState::Collected { .. } => Ok(vec![]),
                ReceptionState::Cancelled { .. } => Err(wrong_state(r, "handing over")),
            }
        }
        Command::AmendReception(amend) => {
            let r = existing(file, &amend.number)?;
            if r.state != ReceptionState::Open {
                return Err(wrong_state(r, "leaving images out"));
            }
            let items: Vec<OrderItem> = r
                .items
                .iter()
                .filter(|i| !amend.rejected.contains(&i.image))
                .cloned()
                .collect();
            if items == r.items {
                return Ok(vec![]);
            }
            let charge = crate::production::amended_charge(
                &amend.rules,
                file,
                &amend.number,
                &amend.rejected,
                &amend.evidence,
            )?
            .ok_or(DomainError::EmptyOrder)?;
            Ok(vec![Event::ReceptionAmended {
                number: amend.number,
                items,
                charge,
                at: amend.at,
            }])
        }
        Command::RecordOtherCounter { number, other } => {
            let r = existing(file, &number)?;
            if file.other_counter(&number) == Some(&other) {
                return Ok(vec![]);
            }
            if r.state != ReceptionState::Open {
                return Err(wrong_state(r, "naming the other counter"));
            }
            let charge = crate::delivery_counter::reception_counter_charge(&r.charge, &other);
            Ok(vec![Event::OtherCounterRecorded {
                number,
                other,
                charge,
            }])
        }
        Command::Cancel { number, reason, at } => {
            let r = existing(file, &number)?;
            match r.state {
                ReceptionState::Open => Ok(vec![Event::ReceptionCancelled { number, reason, at }]),
                ReceptionState::Cancelled { .. } => Ok(vec![]),
                ReceptionState::Collected { .. } => Err(wrong_state(r, "cancelling")),
            }
        }
    }
}

/// The evolution: the file after an event.
pub fn evolve(mut file: UserFile, event: &Event) -> UserFile {
    match event {
        Event::Registered { user } => file.user = Some(user.clone()),
        Event::ContactChanged {
            name,
            telephone,
            address,
            email,
            ..
        } => {
            if let Some(u) = file.user.as_mut() {
                u.name = name.clone();
                u.telephone = telephone.clone();
                u.address = address.clone();
                u.email = email.clone();
            }
        }
        Event::ReceptionOpened { reception } => file.receptions.push((**reception).clone()),
        Event::PartnerAmountsFilledIn { number, charge } => {
            if let Some(r) = file.receptions.iter_mut().find(|r| &r.number == number) {
                r.partner_charge = Some(charge.clone());
            }
        }
        Event::Collected { number, at } => {
            if let Some(r) = file.receptions.iter_mut().find(|r| &r.number == number) {
                r.state = ReceptionState::Collected { at: *at };
            }
        }
        Event::ReceptionAmended {
            number,
            items,
            charge,
            ..
        } => {
            if let Some(r) = file.receptions.iter_mut().find(|r| &r.number == number) {
                r.items = items.clone();
                r.charge = charge.clone();
            }
        }
        Event::ReceptionCancelled { number, reason, at } => {
            if let Some(r) = file.receptions.iter_mut().find(|r| &r.number == number) {
                r.state = ReceptionState::Cancelled {
                    at: *at,
                    reason: reason.clone(),
                };
            }
        }
        Event::OtherCounterRecorded {
            number,
            other,
            charge,
        } => {
            if let Some(r) = file.receptions.iter_mut().find(|r| &r.number == number) {
                r.charge = charge.clone();
                file.other_counters
                    .insert(number.as_str().to_string(), other.clone());
            }
        }
    }
    file
}

/// Folds a stream of events into a file.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> UserFile {
    events.into_iter().fold(UserFile::default(), evolve)
}

fn checked_name(name: &str) -> Result<String, DomainError> {
    let n = tidy_name(name);
    if n.is_empty() || n.chars().count() > 200 {
        return Err(DomainError::invalid("name", name, "1 to 200 characters"));
    }
    Ok(n)
}

fn existing<'a>(
    file: &'a UserFile,
    number: &ReceptionNumber,
) -> Result<&'a Reception, DomainError> {
    file.reception(number)
        .ok_or_else(|| DomainError::UnknownReception {
            number: number.to_string(),
        })
}

fn wrong_state(r: &Reception, action: &str) -> DomainError {
    let state = match r.state {
        ReceptionState::Open => "open",
        ReceptionState::Collected { .. } => "collected",
        ReceptionState::Cancelled { .. } => "cancelled",
    };
    DomainError::WrongState {
        number: r.number.to_string(),
        state: state.into(),
        action: action.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telephones_compare_by_digits() {
        let a = Telephone::parse("03-1234-5678").unwrap();
        assert_eq!(a, Telephone::parse(" (03) 1234 5678 ").unwrap());
        assert_eq!(
            Telephone::parse("+81 3 1234 5678").unwrap().as_str(),
            "+81312345678"
        );
        for bad in ["12", "03-1234-567x", "03+1234", "++81312345678", ""] {
            let e = Telephone::parse(bad).unwrap_err().to_string();
            assert!(e.contains("telephone"), "{bad}: {e}");
        }
        assert_eq!(normalise_name("  Hanako   YAMADA "), "hanako yamada");
    }
}
