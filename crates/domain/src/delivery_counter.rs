//! Pickup at another counter (seed 004, item (6) of Figs. 6 to 9: "though the case is very
//! scarce, even if the delivery counter is different from the reception counter, it can be
//! coped with easily by adding one more item").
//!
//! A walk-in order taken in at counter X (the **reception counter**) may name another counter
//! Y of the network (the **delivery counter**) where the customer will collect the prints. Each
//! site's individual user file gets the one more item ([`OtherCounter`]): the lab's and Y's
//! reception name X as the reception counter, X's names Y as the delivery counter.
//!
//! **Who charges and who keeps what** (decided here, purely):
//!
//! - The customer pays once, at Y: the lab's charge plus **Y's** charge (Y's own policy and Y's
//!   file of the customer, as for an internet order Y delivers). X charges nothing for an order
//!   handed over elsewhere: its reception records a charge of 0 with a line saying where the
//!   prints are charged ([`reception_counter_charge`]).
//! - Y keeps its charge and owes the lab the lab's charge, settled by Y's periodic statement to
//!   the lab like every order Y collects. X is owed nothing and owes nothing.
//!
//! Why not X's charge collected by Y and owed to X: the network has no channel between two
//! counters (a counter talks only to labs: its NATS user may publish to no other counter), so a
//! debt between X and Y would have no statement to settle it by, and neither ledger would
//! balance with it. Keeping each counter's money at the counter that takes the payment leaves
//! every ledger as it is: Y's collected for the lab = settled + on statements + not yet on one;
//! the lab's charged on Y's statements = confirmed + open ([`Split::balances`]).

use serde::{Deserialize, Serialize};

use crate::charge::{Charge, ChargeLine, LineKind};
use crate::money::{Money, Percent};
use crate::{DomainError, SiteId};

/// The seed's "one more item" beside item (6) of a reception.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OtherCounter {
    /// At the lab and at the delivery counter: the counter that took the order in.
    ReceptionCounter(SiteId),
    /// At the reception counter: the counter where the prints are collected.
    DeliveryCounter(SiteId),
}

impl OtherCounter {
    pub fn counter(&self) -> &SiteId {
        match self {
            OtherCounter::ReceptionCounter(c) | OtherCounter::DeliveryCounter(c) => c,
        }
    }
}

/// The reception counter's charge of an order collected at `delivery` (another counter): every
/// line of its own charge waived, so the lines still explain what the order would have cost
/// here, and the total is 0. An order collected here keeps its charge.
pub fn reception_counter_charge(own: &Charge, other: &OtherCounter) -> Charge {
    let OtherCounter::DeliveryCounter(delivery) = other else {
        return own.clone();
    };
    let currency = own.total.currency;
    let mut lines = own.lines.clone();
    for (i, line) in own.lines.iter().enumerate() {
        if matches!(line.kind, LineKind::Discount { .. }) {
            continue;
        }
        // What is left of this line after the discounts already given on it.
        let left: i64 = line.amount.minor
            + own
                .lines
                .iter()
                .filter(|d| matches!(d.kind, LineKind::Discount { of, .. } if of == i))
                .map(|d| d.amount.minor)
                .sum::<i64>();
        if left > 0 {
            lines.push(ChargeLine {
                kind: LineKind::Discount {
                    of: i,
                    percent: Percent::FULL,
                },
                description: format!(
                    "{}: not charged here, the prints are collected and paid for at counter {delivery}",
                    line.description
                ),
                amount: Money::new(-left, currency),
            });
        }
    }
    Charge {
        lines,
        total: Money::zero(currency),
    }
}

/// The one payment at the delivery counter and where its money goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// What the customer pays at the delivery counter.
    pub due: Money,
    /// The lab's share: on the delivery counter's statement to the lab.
    pub lab: Money,
    /// The delivery counter's own charge, kept there.
    pub delivery_counter: Money,
    /// The reception counter's: always 0 (it charged nothing, [`reception_counter_charge`]).
    pub reception_counter: Money,
}

impl Split {
    /// The payment is exactly the shares: nothing is owed between the two counters.
    pub fn balances(&self) -> bool {
        self.lab.minor + self.delivery_counter.minor + self.reception_counter.minor
            == self.due.minor
            && self.reception_counter.is_zero()
    }
}

/// Splits the payment for an order collected at another counter than the one that took it in.
pub fn split(
    lab_charge: Money,
    delivery_counter_charge: Money,
    reception_counter_charge: Money,
) -> Result<Split, DomainError> {
    if !reception_counter_charge.is_zero() {
        return Err(DomainError::invalid(
            "reception counter charge",
            &reception_counter_charge.to_string(),
            "0: the counter that took the order in charges nothing when it is collected elsewhere",
        ));
    }
    let due = lab_charge.checked_add(delivery_counter_charge)?;
    Ok(Split {
        due,
        lab: lab_charge,
        delivery_counter: delivery_counter_charge,
        reception_counter: reception_counter_charge,
    })
}

/// How a counter takes a lab's parcel (`DeliveryDispatched`) in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// An internet order (Fig. 1): the counter opens its reception now.
    Internet,
    /// A walk-in order this counter took in (Fig. 2): its reception is found by the slip.
    OwnWalkIn,
    /// A walk-in order another counter took in, collected here: the counter opens its
    /// reception now, and the customer's slip is `slip` of counter `from`.
    WalkInFrom { from: SiteId, slip: Option<String> },
}

/// Decides which [`Arrival`] a parcel is, at counter `here`, from the lab's extract's one more
/// item (`other`), the route and the reception counter's slip number the lab passed on.
pub fn arrival(
    here: &SiteId,
    route: crate::file::Route,
    other: Option<&OtherCounter>,
    counter_reception: Option<&str>,
) -> Arrival {
    match (route, other) {
        (crate::file::Route::Internet, _) => Arrival::Internet,
        (crate::file::Route::CounterMedium, Some(OtherCounter::ReceptionCounter(from)))
            if from != here =>
        {
            Arrival::WalkInFrom {
                from: from.clone(),
                slip: counter_reception.map(str::to_string),
            }
        }
        (crate::file::Route::CounterMedium, _) => Arrival::OwnWalkIn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;
    use crate::charge::LineKind;
    use crate::file::Route;

    fn yen(n: i64) -> Money {
        Money::new(n, Currency::parse("JPY").unwrap())
    }

    fn site(s: &str) -> SiteId {
        SiteId::parse(s).unwrap()
    }

    fn line(kind: LineKind, amount: i64) -> ChargeLine {
        ChargeLine {
            kind,
            description: "basic charge".into(),
            amount: yen(amount),
        }
    }

    /// Shibuya's charge of a return visit: basic 250 with half off, nothing else.
    fn own() -> Charge {
        Charge {
            lines: vec![
                line(LineKind::BasicCharge, 250),
                line(
                    LineKind::Discount {
                        of: 0,
                        percent: Percent::HALF,
                    },
                    -125,
                ),
            ],
            total: yen(125),
        }
    }

    #[test]
    fn the_reception_counter_charges_nothing_for_an_order_collected_elsewhere() {
        let other = OtherCounter::DeliveryCounter(site("counter-shibuya"));
        let c = reception_counter_charge(&own(), &other);
        assert_eq!(c.total, yen(0));
        // The lines still say what it would have cost here, and add up to the total.
        assert_eq!(c.lines.len(), 3);
        assert_eq!(c.lines[2].amount, yen(-125), "what the discount left");
        assert!(c.lines[2].description.contains("counter-shibuya"));
        assert_eq!(c.lines.iter().map(|l| l.amount.minor).sum::<i64>(), 0);
        // Collected here, or the lab's item: the charge as it was.
        let here = OtherCounter::ReceptionCounter(site("counter-ginza"));
        assert_eq!(reception_counter_charge(&own(), &here), own());
    }

    #[test]
    fn the_one_payment_is_the_labs_share_and_the_delivery_counters() {
        let s = split(yen(640), yen(250), yen(0)).unwrap();
        assert_eq!(s.due, yen(890));
        assert!(s.balances());
        assert!(split(yen(640), yen(250), yen(10)).is_err());
        let unbalanced = Split { due: yen(900), ..s };
        assert!(!unbalanced.balances());
    }

    #[test]
    fn a_parcel_is_an_internet_order_a_walk_in_of_ours_or_another_counters() {
        let here = site("counter-shibuya");
        let ginza = OtherCounter::ReceptionCounter(site("counter-ginza"));
        assert_eq!(
            arrival(&here, Route::Internet, None, None),
            Arrival::Internet
        );
        assert_eq!(
            arrival(&here, Route::CounterMedium, None, Some("S0000001")),
            Arrival::OwnWalkIn
        );
        assert_eq!(
            arrival(&here, Route::CounterMedium, Some(&ginza), Some("G0000007")),
            Arrival::WalkInFrom {
                from: site("counter-ginza"),
                slip: Some("G0000007".into())
            }
        );
        // Our own name as the reception counter is our own walk-in.
        let ours = OtherCounter::ReceptionCounter(here.clone());
        assert_eq!(
            arrival(&here, Route::CounterMedium, Some(&ours), Some("S0000001")),
            Arrival::OwnWalkIn
        );
    }

    #[test]
    fn the_item_reads_and_writes_as_json_and_postcard() {
        let o = OtherCounter::DeliveryCounter(site("counter-shibuya"));
        let json = serde_json::to_value(&o).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"delivery_counter": "counter-shibuya"})
        );
        assert_eq!(serde_json::from_value::<OtherCounter>(json).unwrap(), o);
        let bytes = postcard::to_stdvec(&o).unwrap();
        assert_eq!(postcard::from_bytes::<OtherCounter>(&bytes).unwrap(), o);
    }
}
