//! Charge determination (seed 004, the "charge determiner" of the summary, Figs. 7, 9, 10):
//! a site's rules + this site's file of the user + the order's items + what is known of the
//! images' earlier prints here + now -> a charge made of lines that explain themselves.
//!
//! The charge starts from the price list: one basic charge line, one print line per item. Then
//! the policy's discounts, each as its own negative line saying why ("basic charge waived:
//! previous order here on 2026-11-18, within 7 days"). Where several discounts could reduce the
//! same line, the best is given. Every discount is rounded by the rule in [`crate::money`], so
//! no line goes below zero and the lines add up to the total exactly.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::file::{OrderItem, UserFile};
use crate::policy::{Anchor, Basis, ImageScope, Tier};
use crate::{DomainError, ImageId, Money, Percent, PrintSize, SiteId, SiteRules};

/// How an earlier print of an image was recognised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recognition {
    /// The same bytes (SHA-256) in this site's file of the user.
    SameImage,
    /// A perceptual-hash match: the same photo renamed, re-encoded, resized or stripped.
    PerceptualHash { distance: u32 },
    /// Print history embedded in the image (an XMP packet).
    EmbeddedHistory,
    /// Print history carried in the ZIP container returned to the user.
    ZipHistory,
    /// Print history sent on with the image by the system that holds it (seed 000, claims 5,
    /// 6: an order's images sent on to another site, or back to the first).
    SentOn,
}

impl fmt::Display for Recognition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recognition::SameImage => f.write_str("same image"),
            Recognition::PerceptualHash { distance } => {
                write!(f, "same photo by perceptual hash, distance {distance}")
            }
            Recognition::EmbeddedHistory => f.write_str("print history in the image"),
            Recognition::ZipHistory => f.write_str("print history in its ZIP container"),
            Recognition::SentOn => f.write_str("print history sent on with the image"),
        }
    }
}

/// What the caller learned of an earlier print of one of the order's images, by a means the
/// file itself cannot show (a perceptual match, an embedded or attached history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarlierPrint {
    /// The image of this order it concerns.
    pub image: ImageId,
    /// The site that printed it; only this site's own prints count towards its discount.
    pub site: SiteId,
    /// The date of that print's order on that site's calendar.
    pub on: NaiveDate,
    pub reception: Option<String>,
    pub recognised_by: Recognition,
}

/// Whether `evidence` points at a reception of this file that was cancelled (or rejected).
fn names_a_cancelled_reception(file: &UserFile, evidence: &EarlierPrint) -> bool {
    evidence.reception.as_deref().is_some_and(|number| {
        file.receptions
            .iter()
            .any(|r| r.number.as_str() == number && r.is_cancelled())
    })
}

/// What a line of a charge is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    BasicCharge,
    Prints {
        image: ImageId,
        size: PrintSize,
        quantity: u32,
        unit_price: Money,
    },
    /// A reduction of the line at `of` (an index into the lines).
    Discount {
        of: usize,
        percent: Percent,
    },
    /// The digital copy (seed 000, claims 2 and 18): the order's originals with their print
    /// history in a ZIP, once per order, at the price list's price. No discount of Figs. 7 and
    /// 9 reduces it: the seed's discounts are of the basic charge and of prints. (Last: the
    /// variants before it keep their postcard indices.)
    DigitalCopy,
}

/// One explained line of a charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeLine {
    pub kind: LineKind,
    pub description: String,
    pub amount: Money,
}

/// A site's charge for one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub lines: Vec<ChargeLine>,
    pub total: Money,
}

impl Charge {
    /// What the order would cost with no discount.
    pub fn undiscounted(&self) -> Result<Money, DomainError> {
        Money::sum(
            self.total.currency,
            self.lines
                .iter()
                .filter(|l| !matches!(l.kind, LineKind::Discount { .. }))
                .map(|l| &l.amount),
        )
    }

    /// The basic charge after its discount (the seed's "basic charge" column of Figs. 7, 9).
    pub fn basic_charge(&self) -> Money {
        let is_basic = |index: usize| {
            matches!(
                self.lines.get(index).map(|l| &l.kind),
                Some(LineKind::BasicCharge)
            )
        };
        let minor = self
            .lines
            .iter()
            .enumerate()
            .filter(|(i, line)| match line.kind {
                LineKind::BasicCharge => true,
                LineKind::Discount { of, .. } => is_basic(of) && of != *i,
                LineKind::Prints { .. } | LineKind::DigitalCopy => false,
            })
            .map(|(_, line)| line.amount.minor)
            .sum();
        Money::new(minor, self.total.currency)
    }

    /// The discount lines.
    pub fn discounts(&self) -> impl Iterator<Item = &ChargeLine> {
        self.lines
            .iter()
            .filter(|l| matches!(l.kind, LineKind::Discount { .. }))
    }
}

/// A discount found for a line, with its reason.
#[derive(Debug, Clone)]
struct Found {
    percent: Percent,
    reason: String,
}

impl Found {
    fn better(a: Option<Found>, b: Option<Found>) -> Option<Found> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if b.percent > a.percent { b } else { a }),
            (a, b) => a.or(b),
        }
    }
}

/// Determines this site's charge for an order of prints only.
///
/// `file` is this site's file of the user as it was before this order (possibly just
/// registered); `evidence` adds earlier prints found by other means than the exact image id.
pub fn determine_charge(
    rules: &SiteRules,
    file: &UserFile,
    items: &[OrderItem],
    evidence: &[EarlierPrint],
    now: DateTime<Utc>,
) -> Result<Charge, DomainError> {
    determine_charge_with(rules, file, items, false, evidence, now)
}

/// As [`determine_charge`], with the digital copy when `digital_copy` (a line at the price
/// list's [`crate::PriceList::digital_copy`] price, undiscounted; refused when the site does
/// not sell it).
pub fn determine_charge_with(
    rules: &SiteRules,
    file: &UserFile,
    items: &[OrderItem],
    digital_copy: bool,
    evidence: &[EarlierPrint],
    now: DateTime<Utc>,
) -> Result<Charge, DomainError> {
    if items.is_empty() {
        return Err(DomainError::EmptyOrder);
    }
    let currency = rules.currency;
    if rules.prices.currency != currency {
        return Err(DomainError::CurrencyMismatch {
            left: currency.to_string(),
            right: rules.prices.currency.to_string(),
        });
    }
    let policy = &rules.policy;
    let today = local_date(rules, now);

    let mut lines = Vec::new();
    lines.push(ChargeLine {
        kind: LineKind::BasicCharge,
        description: "basic charge per order".to_string(),
        amount: rules.prices.basic_charge,
    });
    let mut print_lines = Vec::new();
    for item in items {
        if item.quantity == 0 || item.quantity > 999 {
            return Err(DomainError::BadQuantity {
                image: item.name.clone(),
                size: item.size.to_string(),
                quantity: item.quantity,
            });
        }
        if let Some(unit) = rules.prices.print_price(item.size)? {
            print_lines.push((lines.len(), item));
            lines.push(ChargeLine {
                kind: LineKind::Prints {
                    image: item.image,
                    size: item.size,
                    quantity: item.quantity,
                    unit_price: unit,
                },
                description: format!(
                    "{} x {} print of {} at {}",
                    item.quantity, item.size, item.name, unit
                ),
                amount: unit.checked_mul(item.quantity)?,
            });
        }
    }

    if digital_copy {
        lines.push(ChargeLine {
            kind: LineKind::DigitalCopy,
            description: rules.prices.digital_copy_description(),
            amount: rules.prices.digital_copy_price()?,
        });
    }

    // The discount for merely being registered here before this order.
    let registered = match (&policy.registered, &file.user) {
        (Some(p), Some(u)) if u.registered_at < now => Some(Found {
            percent: *p,
            reason: format!(
                "registered here as {} since {}",
                u.registration_number,
                local_date(rules, u.registered_at)
            ),
        }),
        _ => None,
    };

    // Per line, the best discount.
    let mut basic: Option<Found> = registered.clone();
    let mut per_print: Vec<Option<Found>> = vec![registered.clone(); print_lines.len()];

    match policy.basis {
        Basis::User => {
            let dates = file
                .receptions
                .iter()
                .filter(|r| !r.is_cancelled() && r.received_at < now)
                .map(|r| local_date(rules, r.received_at));
            if let Some(anchor) = pick(policy.anchor, dates)
                && let Some(tier) = policy.tier_for(anchor, today)
            {
                let which = match policy.anchor {
                    Anchor::Previous => "previous order",
                    Anchor::First => "first order",
                };
                let found = Found {
                    percent: tier.percent,
                    reason: format!("{which} here on {anchor}, {}", within(&tier)),
                };
                basic = Found::better(basic, Some(found.clone()));
                for p in per_print.iter_mut() {
                    *p = Found::better(p.take(), Some(found.clone()));
                }
            }
        }
        Basis::Image => {
            let mut eligible: Vec<Option<Found>> = Vec::with_capacity(print_lines.len());
            let mut best_any: Option<Found> = None;
            for item in items {
                let from_file = file
                    .earlier_prints_of(&item.image, now)
                    .map(|r| (local_date(rules, r.received_at), Recognition::SameImage));
                let from_evidence = evidence
                    .iter()
                    .filter(|e| e.image == item.image && e.site == rules.site && e.on <= today)
                    // A cancelled (or rejected) order was never printed: it is no evidence.
                    .filter(|e| !names_a_cancelled_reception(file, e))
                    .map(|e| (e.on, e.recognised_by.clone()));
                let all: Vec<(NaiveDate, Recognition)> = from_file.chain(from_evidence).collect();
                let anchor = match policy.anchor {
                    Anchor::Previous => all.iter().max_by_key(|(d, _)| *d),
                    Anchor::First => all.iter().min_by_key(|(d, _)| *d),
                };
                let found = anchor.and_then(|(date, how)| {
                    policy.tier_for(*date, today).map(|tier| Found {
                        percent: tier.percent,
                        reason: format!(
                            "{} printed here on {date} ({how}), {}",
                            item.name,
                            within(&tier)
                        ),
                    })
                });
                best_any = Found::better(best_any, found.clone());
                if rules.prices.charges_prints() {
                    eligible.push(found);
                }
            }
            basic = Found::better(basic, best_any.clone());
            for (i, p) in per_print.iter_mut().enumerate() {
                let image_found = match policy.image_scope {
                    ImageScope::EligibleOnly => eligible.get(i).cloned().flatten(),
                    ImageScope::AllIfAnyEligible => best_any.clone(),
                };
                *p = Found::better(p.take(), image_found);
            }
        }
    }

    let mut discounts = Vec::new();
    if policy.applies_to.basic()
        && let Some(found) = basic
    {
        discounts.push(discount_line(&lines, 0, &found, "basic charge"));
    }
    if policy.applies_to.prints() {
        for ((index, item), found) in print_lines.iter().zip(per_print) {
            if let Some(found) = found {
                discounts.push(discount_line(
                    &lines,
                    *index,
                    &found,
                    &format!("{} {} print", item.name, item.size),
                ));
            }
        }
    }
    lines.extend(discounts.into_iter().flatten());

    let total = Money::sum(currency, lines.iter().map(|l| &l.amount))?;
    Ok(Charge { lines, total })
}

fn discount_line(lines: &[ChargeLine], of: usize, found: &Found, what: &str) -> Option<ChargeLine> {
    let base = lines.get(of)?.amount;
    let off = base.percent(found.percent);
    if off.is_zero() {
        return None;
    }
    let verb = if found.percent == Percent::FULL {
        "waived".to_string()
    } else {
        format!("{} off", found.percent)
    };
    Some(ChargeLine {
        kind: LineKind::Discount {
            of,
            percent: found.percent,
        },
        description: format!("{what} {verb}: {}", found.reason),
        amount: off.negate(),
    })
}

fn pick(anchor: Anchor, dates: impl Iterator<Item = NaiveDate>) -> Option<NaiveDate> {
    match anchor {
        Anchor::Previous => dates.max(),
        Anchor::First => dates.min(),
    }
}

fn within(tier: &Tier) -> String {
    format!("within {}", tier.within)
}

/// The date of an instant on the site's own calendar.
pub fn local_date(rules: &SiteRules, at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&rules.time_zone).date_naive()
}

/// What the user pays at the counter: the lab's charge and the counter's, in one payment
/// (Fig. 1 step S313, Fig. 2 step S410).
pub fn amount_due(lab: &Charge, counter: &Charge) -> Result<Money, DomainError> {
    lab.total.checked_add(counter.total)
}
