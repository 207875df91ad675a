//! Properties of every charge: never negative, never above the undiscounted price, and its
//! lines add up to its total.

mod common;

use chrono::Duration;
use common::*;
use proptest::prelude::*;
use reprint_domain::*;

fn policy() -> impl Strategy<Value = DiscountPolicy> {
    (
        prop_oneof![Just(Basis::User), Just(Basis::Image)],
        prop_oneof![Just(Anchor::Previous), Just(Anchor::First)],
        prop_oneof![
            Just(AppliesTo::Basic),
            Just(AppliesTo::Prints),
            Just(AppliesTo::Both)
        ],
        prop_oneof![
            Just(ImageScope::AllIfAnyEligible),
            Just(ImageScope::EligibleOnly)
        ],
        0u8..=100,
        1u32..=10,
        0u8..=100,
        1u32..=3,
        proptest::option::of(0u8..=100),
    )
        .prop_map(
            |(basis, anchor, applies, scope, p1, days, p2_raw, months, reg)| {
                let p2 = p2_raw.min(p1);
                let tiers = vec![
                    Tier {
                        within: Period::Days(days),
                        percent: Percent::new(p1).unwrap(),
                    },
                    Tier {
                        within: Period::CalendarMonths(months),
                        percent: Percent::new(p2).unwrap(),
                    },
                ];
                DiscountPolicy::new(
                    basis,
                    anchor,
                    applies,
                    scope,
                    tiers,
                    reg.map(|r| Percent::new(r).unwrap()),
                )
                .unwrap()
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn a_charge_is_never_negative_never_above_the_price_and_adds_up(
        policy in policy(),
        basic_charge in 0i64..10_000,
        unit in 0i64..5_000,
        earlier in proptest::collection::vec((0i64..90, 0u8..6, 1u32..5), 0..6),
        now_items in proptest::collection::vec((0u8..8, 1u32..20), 1..6),
    ) {
        let mut rules = SiteRules::demo_lab(site("lab-a"));
        rules.policy = policy;
        rules.prices.basic_charge = yen(basic_charge);
        for p in rules.prices.prints.values_mut() { *p = yen(unit); }
        let start = tokyo(2026, 1, 1, 10, 0);
        let mut given = Given::new(rules).registered(start);
        let mut at = start;
        for (gap_days, img, q) in earlier {
            at += Duration::days(gap_days);
            given.order(at, vec![item(img, PrintSize::L, q)]);
        }
        let now = at + Duration::hours(7);
        let items: Vec<OrderItem> = now_items.iter().map(|(i, q)| item(*i, PrintSize::L, *q)).collect();
        let c = given.order(now, items);
        let sum = Money::sum(Currency::JPY, c.lines.iter().map(|l| &l.amount)).unwrap();
        prop_assert_eq!(sum, c.total);
        prop_assert!(c.total.minor >= 0);
        prop_assert!(c.total.minor <= c.undiscounted().unwrap().minor);
        for line in &c.lines {
            if let LineKind::Discount { of, .. } = line.kind {
                prop_assert!(of < c.lines.len());
                prop_assert!(-line.amount.minor <= c.lines[of].amount.minor);
                prop_assert!(line.amount.minor < 0);
            } else {
                prop_assert!(line.amount.minor >= 0);
            }
        }
    }
}
