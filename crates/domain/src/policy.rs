//! A site's repeat-order discount policy (seed 004, Figs. 7, 9 and 10), able to express every
//! variant the seed names:
//!
//! - **tiers** by elapsed time: "free of charge for the order within a week and 50 % for the
//!   order within a month" — within N days, or within N calendar months, counted on the
//!   site's own calendar (its time zone);
//! - **anchor**: "the starting date may be set at the date of the first order or that of the
//!   previous order";
//! - **applies to** the basic charge, the print charge, or both ("it is also easy to establish
//!   the similar discount system for the total amount");
//! - **basis**: the user's earlier orders at this site (Figs. 7 and 9), or each image's own
//!   print history at this site (Fig. 10);
//! - **image scope** (Fig. 10): "applying the discount for all the prints ordered this time if
//!   at least one data applicable of discount is included", or "for the image data within the
//!   discount applicable period alone";
//! - **registered**: "the discount may be applied if the user is only registered, instead of
//!   applying discount for the predetermined period from the previous order".
//!
//! When more than one discount applies to a part of the charge, the best one is given; they do
//! not add up.
//!
//! How "within" is measured (the seed lets the site choose; reprint adopts one): the anchor's
//! date and today's date are taken on the site's calendar, and the order is within the period
//! when today is not later than the anchor's date plus the period. "Within 7 days" of Nov 18 is
//! up to and including Nov 25; "within 1 month" of Jan 31 is up to and including Feb 28 (Feb 29
//! in a leap year): a month added to a day the next month does not have lands on its last day.

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::{DomainError, Percent};

/// A length of time on the site's calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Period {
    Days(u32),
    CalendarMonths(u32),
}

impl Period {
    /// The last date that is still within this period of `anchor`.
    pub fn last_day_from(&self, anchor: NaiveDate) -> Option<NaiveDate> {
        match *self {
            Period::Days(n) => anchor.checked_add_days(chrono::Days::new(u64::from(n))),
            Period::CalendarMonths(n) => anchor.checked_add_months(Months::new(n)),
        }
    }

    /// Whether `today` is within this period of `anchor` (not before it, not after its end).
    pub fn contains(&self, anchor: NaiveDate, today: NaiveDate) -> bool {
        today >= anchor && self.last_day_from(anchor).is_some_and(|last| today <= last)
    }

    /// Shortest and longest length in days, to check that tiers do not overlap.
    fn day_bounds(&self) -> (u64, u64) {
        match *self {
            Period::Days(n) => (u64::from(n), u64::from(n)),
            Period::CalendarMonths(m) => (u64::from(m) * 28, u64::from(m) * 31),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Period::Days(1) => f.write_str("1 day"),
            Period::Days(n) => write!(f, "{n} days"),
            Period::CalendarMonths(1) => f.write_str("1 month"),
            Period::CalendarMonths(n) => write!(f, "{n} months"),
        }
    }
}

/// One tier: an order within `period` of the anchor gets `percent` off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    pub within: Period,
    pub percent: Percent,
}

/// What the elapsed time is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// The user's (or image's) most recent earlier order here.
    Previous,
    /// The user's (or image's) first order here.
    First,
}

/// Which part of the charge a discount reduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppliesTo {
    Basic,
    Prints,
    Both,
}

impl AppliesTo {
    pub fn basic(&self) -> bool {
        matches!(self, AppliesTo::Basic | AppliesTo::Both)
    }
    pub fn prints(&self) -> bool {
        matches!(self, AppliesTo::Prints | AppliesTo::Both)
    }
}

/// Whose history the tiers look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The user's earlier orders at this site (Figs. 7 and 9).
    User,
    /// Each image's earlier prints at this site (Fig. 10).
    Image,
}

/// Which prints an image-based discount reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageScope {
    /// All prints of the order, when at least one image is eligible.
    AllIfAnyEligible,
    /// Only the prints of the eligible images.
    EligibleOnly,
}

/// A site's discount policy. Build it with [`DiscountPolicy::new`] (which validates) or from TOML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawDiscountPolicy")]
pub struct DiscountPolicy {
    pub basis: Basis,
    pub anchor: Anchor,
    pub applies_to: AppliesTo,
    pub image_scope: ImageScope,
    /// Ordered from the shortest period to the longest; the first that contains the order wins.
    pub tiers: Vec<Tier>,
    /// A discount for merely having been registered here before this order.
    pub registered: Option<Percent>,
}

/// The TOML shape of a policy.
///
/// ```toml
/// basis = "user"            # user | image
/// anchor = "previous"       # previous | first
/// applies_to = "basic"      # basic | prints | both
/// image_scope = "all_if_any_eligible"   # or eligible_only
/// registered_percent = 0
/// [[tiers]]
/// within_days = 7
/// percent = 100
/// [[tiers]]
/// within_months = 1
/// percent = 50
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDiscountPolicy {
    #[serde(default = "default_basis")]
    pub basis: Basis,
    #[serde(default = "default_anchor")]
    pub anchor: Anchor,
    #[serde(default = "default_applies")]
    pub applies_to: AppliesTo,
    #[serde(default = "default_scope")]
    pub image_scope: ImageScope,
    #[serde(default)]
    pub registered_percent: u8,
    #[serde(default)]
    pub tiers: Vec<RawTier>,
}

fn default_basis() -> Basis {
    Basis::User
}
fn default_anchor() -> Anchor {
    Anchor::Previous
}
fn default_applies() -> AppliesTo {
    AppliesTo::Basic
}
fn default_scope() -> ImageScope {
    ImageScope::AllIfAnyEligible
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTier {
    pub within_days: Option<u32>,
    pub within_months: Option<u32>,
    pub percent: u8,
}

impl TryFrom<RawDiscountPolicy> for DiscountPolicy {
    type Error = DomainError;
    fn try_from(r: RawDiscountPolicy) -> Result<Self, Self::Error> {
        let mut tiers = Vec::with_capacity(r.tiers.len());
        for (i, t) in r.tiers.iter().enumerate() {
            let field = format!("policy.tiers[{i}]");
            let within = match (t.within_days, t.within_months) {
                (Some(d), None) if d > 0 => Period::Days(d),
                (None, Some(m)) if m > 0 => Period::CalendarMonths(m),
                (Some(0), None) | (None, Some(0)) => {
                    return Err(DomainError::invalid(
                        &field,
                        "0",
                        "a period of at least 1 day or 1 month",
                    ));
                }
                _ => {
                    return Err(DomainError::invalid(
                        &field,
                        "within_days/within_months",
                        "exactly one of within_days or within_months",
                    ));
                }
            };
            let percent = Percent::new(t.percent).map_err(|_| {
                DomainError::invalid(
                    &format!("{field}.percent"),
                    &t.percent.to_string(),
                    "0 to 100",
                )
            })?;
            tiers.push(Tier { within, percent });
        }
        let registered = match r.registered_percent {
            0 => None,
            p => Some(Percent::new(p).map_err(|_| {
                DomainError::invalid("policy.registered_percent", &p.to_string(), "0 to 100")
            })?),
        };
        DiscountPolicy::new(
            r.basis,
            r.anchor,
            r.applies_to,
            r.image_scope,
            tiers,
            registered,
        )
    }
}

impl DiscountPolicy {
    /// Validates that tiers run from shorter to strictly longer periods without overlapping
    /// (a 30-day tier and a 1-month tier overlap: a month has 28 to 31 days), and that a longer
    /// period never gives more off than a shorter one.
    pub fn new(
        basis: Basis,
        anchor: Anchor,
        applies_to: AppliesTo,
        image_scope: ImageScope,
        tiers: Vec<Tier>,
        registered: Option<Percent>,
    ) -> Result<DiscountPolicy, DomainError> {
        for (i, pair) in tiers.windows(2).enumerate() {
            let (a, b) = (pair[0], pair[1]);
            let (_, a_max) = a.within.day_bounds();
            let (b_min, _) = b.within.day_bounds();
            if b_min <= a_max {
                return Err(DomainError::invalid(
                    &format!("policy.tiers[{}]", i + 1),
                    &format!("within {} after within {}", b.within, a.within),
                    "tiers ordered from the shortest period to a strictly longer one, not overlapping",
                ));
            }
            if b.percent > a.percent {
                return Err(DomainError::invalid(
                    &format!("policy.tiers[{}].percent", i + 1),
                    &b.percent.get().to_string(),
                    &format!(
                        "no more than the shorter tier's {} (a longer wait cannot earn a bigger discount)",
                        a.percent
                    ),
                ));
            }
        }
        Ok(DiscountPolicy {
            basis,
            anchor,
            applies_to,
            image_scope,
            tiers,
            registered,
        })
    }

    /// No discount at all.
    pub fn none() -> DiscountPolicy {
        DiscountPolicy {
            basis: Basis::User,
            anchor: Anchor::Previous,
            applies_to: AppliesTo::Basic,
            image_scope: ImageScope::AllIfAnyEligible,
            tiers: Vec::new(),
            registered: None,
        }
    }

    /// The policy in words, for catalogs and pages: "basic charge free within 7 days of your
    /// previous order here; 50 % off within 1 month of your previous order here".
    pub fn summary(&self) -> String {
        let what = match self.applies_to {
            AppliesTo::Basic => "basic charge",
            AppliesTo::Prints => "print charge",
            AppliesTo::Both => "basic and print charges",
        };
        let since = match (self.basis, self.anchor) {
            (Basis::User, Anchor::Previous) => "your previous order here",
            (Basis::User, Anchor::First) => "your first order here",
            (Basis::Image, Anchor::Previous) => "the image's previous print here",
            (Basis::Image, Anchor::First) => "the image's first print here",
        };
        let mut parts: Vec<String> = self
            .tiers
            .iter()
            .map(|t| {
                let off = if t.percent == Percent::FULL {
                    "free".to_string()
                } else {
                    format!("{} off", t.percent)
                };
                format!("{what} {off} within {} of {since}", t.within)
            })
            .collect();
        if self.basis == Basis::Image && self.applies_to.prints() {
            parts.push(match self.image_scope {
                ImageScope::AllIfAnyEligible => {
                    "the print discount reaches every print of an order with one such image"
                        .to_string()
                }
                ImageScope::EligibleOnly => {
                    "the print discount reaches only the prints of such images".to_string()
                }
            });
        }
        if let Some(p) = self.registered {
            parts.push(format!("{what} {p} off for registered customers"));
        }
        if parts.is_empty() {
            "no repeat-order discount".to_string()
        } else {
            parts.join("; ")
        }
    }

    /// The first tier whose period from `anchor` contains `today`.
    pub fn tier_for(&self, anchor: NaiveDate, today: NaiveDate) -> Option<Tier> {
        self.tiers
            .iter()
            .copied()
            .find(|t| t.within.contains(anchor, today))
    }

    /// The seed's lab (Fig. 7): basic charge free within a week of the previous order, half
    /// within a month.
    pub fn demo_lab() -> DiscountPolicy {
        DiscountPolicy {
            basis: Basis::User,
            anchor: Anchor::Previous,
            applies_to: AppliesTo::Basic,
            image_scope: ImageScope::AllIfAnyEligible,
            tiers: vec![
                Tier {
                    within: Period::Days(7),
                    percent: Percent::FULL,
                },
                Tier {
                    within: Period::CalendarMonths(1),
                    percent: Percent::HALF,
                },
            ],
            registered: None,
        }
    }

    /// The seed's counter (Fig. 9): "the basic charge is set ¥0 if the order is placed within a
    /// month from the previous order".
    pub fn demo_counter() -> DiscountPolicy {
        DiscountPolicy {
            basis: Basis::User,
            anchor: Anchor::Previous,
            applies_to: AppliesTo::Basic,
            image_scope: ImageScope::AllIfAnyEligible,
            tiers: vec![Tier {
                within: Period::CalendarMonths(1),
                percent: Percent::FULL,
            }],
            registered: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn within_a_week_counts_calendar_days() {
        let week = Period::Days(7);
        assert!(week.contains(d(2026, 11, 18), d(2026, 11, 25)));
        assert!(!week.contains(d(2026, 11, 18), d(2026, 11, 26)));
        assert!(
            !week.contains(d(2026, 11, 18), d(2026, 11, 17)),
            "an anchor in the future is no anchor"
        );
    }

    #[test]
    fn a_calendar_month_from_the_31st_ends_on_the_months_last_day() {
        let month = Period::CalendarMonths(1);
        assert!(month.contains(d(2027, 1, 31), d(2027, 2, 28)));
        assert!(!month.contains(d(2027, 1, 31), d(2027, 3, 1)));
        assert!(month.contains(d(2028, 1, 31), d(2028, 2, 29)), "leap year");
        assert!(month.contains(d(2028, 2, 29), d(2028, 3, 29)));
        assert!(!month.contains(d(2028, 2, 29), d(2028, 3, 30)));
        assert!(Period::CalendarMonths(12).contains(d(2028, 2, 29), d(2029, 2, 28)));
        assert!(!Period::CalendarMonths(12).contains(d(2028, 2, 29), d(2029, 3, 1)));
    }

    #[test]
    fn overlapping_or_unordered_tiers_are_refused_naming_the_tier() {
        let toml_policy = |s: &str| toml::from_str::<DiscountPolicy>(s).map_err(|e| e.to_string());
        let err = toml_policy("[[tiers]]\nwithin_days = 30\npercent = 100\n[[tiers]]\nwithin_months = 1\npercent = 50\n").unwrap_err();
        assert!(
            err.contains("policy.tiers[1]") && err.contains("overlapping"),
            "{err}"
        );
        let err = toml_policy("[[tiers]]\nwithin_months = 1\npercent = 50\n[[tiers]]\nwithin_days = 7\npercent = 100\n").unwrap_err();
        assert!(err.contains("policy.tiers[1]"), "{err}");
        let err = toml_policy("[[tiers]]\nwithin_days = 7\npercent = 50\n[[tiers]]\nwithin_months = 1\npercent = 100\n").unwrap_err();
        assert!(
            err.contains("policy.tiers[1].percent") && err.contains("100"),
            "{err}"
        );
        let err = toml_policy("[[tiers]]\nwithin_days = 7\nwithin_months = 1\npercent = 50\n")
            .unwrap_err();
        assert!(err.contains("exactly one"), "{err}");
        let err = toml_policy("[[tiers]]\nwithin_days = 7\npercent = 150\n").unwrap_err();
        assert!(err.contains("percent") && err.contains("150"), "{err}");
        let err = toml_policy("colour = \"red\"\n").unwrap_err();
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn the_seeds_policy_in_toml() {
        let p: DiscountPolicy = toml::from_str(
            "anchor = \"previous\"\napplies_to = \"basic\"\n[[tiers]]\nwithin_days = 7\npercent = 100\n[[tiers]]\nwithin_months = 1\npercent = 50\n",
        )
        .unwrap();
        assert_eq!(p, DiscountPolicy::demo_lab());
        assert_eq!(
            p.summary(),
            "basic charge free within 7 days of your previous order here; basic charge 50 % off within 1 month of your previous order here"
        );
        assert_eq!(DiscountPolicy::none().summary(), "no repeat-order discount");
    }
}
