//! The seed's worked examples (004, Figs. 6 to 10), each a named test in given / when / then.

mod common;

use common::*;
use reprint_domain::extract::{Sharing, extract};
use reprint_domain::file::{self, Command, ReceptionState};
use reprint_domain::*;

#[test]
fn fig7_lab_first_order_pays_the_basic_charge_of_250_yen() {
    let mut lab =
        Given::new(SiteRules::demo_lab(site("lab-a"))).registered(tokyo(2026, 11, 18, 10, 0));
    let charge = lab.order(
        tokyo(2026, 11, 18, 10, 0),
        vec![item(1, PrintSize::L, 2), item(2, PrintSize::L, 1)],
    );
    assert_eq!(basic(&charge), 250);
    assert_eq!(charge.total, yen(250 + 3 * 30));
    assert_eq!(charge.discounts().count(), 0);
}

#[test]
fn fig7_second_order_within_a_week_has_no_basic_charge() {
    let mut lab =
        Given::new(SiteRules::demo_lab(site("lab-a"))).registered(tokyo(2026, 11, 18, 10, 0));
    lab.order(tokyo(2026, 11, 18, 10, 0), vec![item(1, PrintSize::L, 2)]);
    let second = lab.order(tokyo(2026, 11, 21, 15, 30), vec![item(3, PrintSize::L, 1)]);
    assert_eq!(basic(&second), 0);
    assert_eq!(second.total, yen(30));
    let why = &second.discounts().next().unwrap().description;
    assert_eq!(
        why,
        "basic charge waived: previous order here on 2026-11-18, within 7 days"
    );
    // Fig. 7 numbers its second reception B0000457 after B0000456.
    assert_eq!(lab.file.receptions[1].number.as_str(), "B0000457");
}

#[test]
fn fig9_counter_basic_charge_is_0_within_a_month_of_the_previous_order() {
    let mut counter = Given::new(SiteRules::demo_counter(site("counter-ginza")))
        .registered(tokyo(2026, 10, 30, 9, 0));
    let first = counter.order(tokyo(2026, 10, 30, 9, 0), vec![item(1, PrintSize::L, 1)]);
    assert_eq!(basic(&first), 250);
    assert_eq!(
        first.total,
        yen(250),
        "a counter without print prices charges only its basic charge"
    );
    let second = counter.order(tokyo(2026, 11, 27, 18, 0), vec![item(2, PrintSize::L, 4)]);
    assert_eq!(basic(&second), 0);
    assert!(
        second
            .discounts()
            .next()
            .unwrap()
            .description
            .contains("within 1 month")
    );
    let third = counter.order(tokyo(2027, 1, 5, 18, 0), vec![item(2, PrintSize::L, 4)]);
    assert_eq!(
        basic(&third),
        250,
        "more than a month after the previous order"
    );
}

#[test]
fn fig9_the_counter_fills_in_the_labs_amounts_and_collects_both_in_one_payment() {
    let mut lab =
        Given::new(SiteRules::demo_lab(site("lab-a"))).registered(tokyo(2026, 11, 1, 9, 0));
    let lab_charge = lab.order(tokyo(2026, 11, 1, 9, 0), vec![item(1, PrintSize::L, 3)]);
    let mut counter = Given::new(SiteRules::demo_counter(site("counter-ginza")))
        .registered(tokyo(2026, 11, 1, 9, 0));
    counter.order(tokyo(2026, 11, 1, 9, 0), vec![item(1, PrintSize::L, 3)]);
    let number = counter.file.receptions[0].number.clone();
    counter
        .apply(Command::FillInPartnerAmounts {
            number: number.clone(),
            charge: lab_charge.clone(),
        })
        .unwrap();
    let r = counter.file.reception(&number).unwrap();
    assert_eq!(r.partner_charge.as_ref(), Some(&lab_charge));
    assert_eq!(
        amount_due(&lab_charge, &r.charge).unwrap(),
        yen(250 + 90 + 250)
    );
    // Filling in the same amounts again (a redelivered dispatch) changes nothing.
    assert!(
        counter
            .apply(Command::FillInPartnerAmounts {
                number: number.clone(),
                charge: lab_charge
            })
            .unwrap()
            .is_empty()
    );
    counter
        .apply(Command::RecordCollected {
            number: number.clone(),
            at: tokyo(2026, 11, 3, 17, 0),
        })
        .unwrap();
    assert!(matches!(
        counter.file.reception(&number).unwrap().state,
        ReceptionState::Collected { .. }
    ));
    assert!(
        counter
            .apply(Command::RecordCollected {
                number,
                at: tokyo(2026, 11, 3, 17, 5)
            })
            .unwrap()
            .is_empty()
    );
}

#[test]
fn fifty_percent_within_a_month_and_full_after_five_weeks() {
    let mut lab =
        Given::new(SiteRules::demo_lab(site("lab-a"))).registered(tokyo(2026, 11, 1, 9, 0));
    lab.order(tokyo(2026, 11, 1, 9, 0), vec![item(1, PrintSize::L, 1)]);
    let half = lab.order(tokyo(2026, 11, 20, 9, 0), vec![item(2, PrintSize::L, 1)]);
    assert_eq!(basic(&half), 125);
    assert_eq!(
        half.discounts().next().unwrap().description,
        "basic charge 50 % off: previous order here on 2026-11-01, within 1 month"
    );
    let full = lab.order(tokyo(2026, 12, 25, 9, 0), vec![item(3, PrintSize::L, 1)]);
    assert_eq!(basic(&full), 250, "five weeks after the previous order");
}

fn month_free(anchor: Anchor) -> SiteRules {
    let mut rules = SiteRules::demo_lab(site("lab-a"));
    rules.policy = DiscountPolicy::new(
        Basis::User,
        anchor,
        AppliesTo::Basic,
        ImageScope::AllIfAnyEligible,
        vec![Tier {
            within: Period::CalendarMonths(1),
            percent: Percent::FULL,
        }],
        None,
    )
    .unwrap();
    rules
}

#[test]
fn anchored_on_the_previous_order_a_regular_keeps_the_discount() {
    let mut lab = Given::new(month_free(Anchor::Previous)).registered(tokyo(2026, 11, 1, 9, 0));
    lab.order(tokyo(2026, 11, 1, 9, 0), vec![item(1, PrintSize::L, 1)]);
    assert_eq!(
        basic(&lab.order(tokyo(2026, 11, 20, 9, 0), vec![item(2, PrintSize::L, 1)])),
        0
    );
    let third = lab.order(tokyo(2026, 12, 5, 9, 0), vec![item(3, PrintSize::L, 1)]);
    assert_eq!(basic(&third), 0);
    assert!(
        third
            .discounts()
            .next()
            .unwrap()
            .description
            .contains("previous order here on 2026-11-20")
    );
}

#[test]
fn anchored_on_the_first_order_the_discount_ends_a_month_after_it() {
    let mut lab = Given::new(month_free(Anchor::First)).registered(tokyo(2026, 11, 1, 9, 0));
    lab.order(tokyo(2026, 11, 1, 9, 0), vec![item(1, PrintSize::L, 1)]);
    let second = lab.order(tokyo(2026, 11, 20, 9, 0), vec![item(2, PrintSize::L, 1)]);
    assert_eq!(basic(&second), 0);
    assert!(
        second
            .discounts()
            .next()
            .unwrap()
            .description
            .contains("first order here on 2026-11-01")
    );
    assert_eq!(
        basic(&lab.order(tokyo(2026, 12, 5, 9, 0), vec![item(3, PrintSize::L, 1)])),
        250
    );
}

fn per_image(scope: ImageScope) -> SiteRules {
    let mut rules = SiteRules::demo_lab(site("lab-a"));
    rules.policy = DiscountPolicy::new(
        Basis::Image,
        Anchor::Previous,
        AppliesTo::Both,
        scope,
        vec![Tier {
            within: Period::CalendarMonths(1),
            percent: Percent::HALF,
        }],
        None,
    )
    .unwrap();
    rules
}

#[test]
fn fig10_eligible_images_only_discounts_just_the_reprinted_image() {
    let mut lab =
        Given::new(per_image(ImageScope::EligibleOnly)).registered(tokyo(2026, 11, 1, 9, 0));
    lab.order(tokyo(2026, 11, 1, 9, 0), vec![item(1, PrintSize::L, 2)]);
    let c = lab.order(
        tokyo(2026, 11, 10, 9, 0),
        vec![item(1, PrintSize::L, 2), item(2, PrintSize::L, 2)],
    );
    // Basic 250 - 125; image 1: 60 - 30; image 2: 60.
    assert_eq!(c.total, yen(125 + 30 + 60));
    let reasons: Vec<&str> = c.discounts().map(|l| l.description.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.starts_with(
            "IMG_0001.JPG L print 50 % off: IMG_0001.JPG printed here on 2026-11-01 (same image)"
        )),
        "{reasons:?}"
    );
    assert!(
        !reasons.iter().any(|r| r.starts_with("IMG_0002.JPG")),
        "{reasons:?}"
    );
}

#[test]
fn fig10_all_prints_of_the_order_when_one_image_is_eligible() {
    let mut lab =
        Given::new(per_image(ImageScope::AllIfAnyEligible)).registered(tokyo(2026, 11, 1, 9, 0));
    lab.order(tokyo(2026, 11, 1, 9, 0), vec![item(1, PrintSize::L, 2)]);
    let c = lab.order(
        tokyo(2026, 11, 10, 9, 0),
        vec![item(1, PrintSize::L, 2), item(2, PrintSize::L, 2)],
    );
    assert_eq!(c.total, yen(125 + 30 + 30));
    assert!(c.discounts().any(|l| {
        l.description
            .starts_with("IMG_0002.JPG L print 50 % off: IMG_0001.JPG printed here")
    }));
}

#[test]
fn fig10_a_reprint_recognised_by_perceptual_hash_or_history_counts_only_for_this_site() {
    let mut lab =
        Given::new(per_image(ImageScope::EligibleOnly)).registered(tokyo(2026, 11, 1, 9, 0));
    let re_encoded = item(7, PrintSize::L, 1);
    let here = EarlierPrint {
        image: re_encoded.image,
        site: site("lab-a"),
        on: chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
        reception: Some("B0000123".into()),
        recognised_by: Recognition::PerceptualHash { distance: 3 },
    };
    let elsewhere = EarlierPrint {
        site: site("lab-b"),
        recognised_by: Recognition::EmbeddedHistory,
        ..here.clone()
    };
    let c = lab.order_with(
        tokyo(2026, 11, 10, 9, 0),
        vec![re_encoded.clone()],
        vec![elsewhere.clone()],
    );
    assert_eq!(
        c.total,
        yen(250 + 30),
        "another lab's print history earns nothing here"
    );
    let mut lab =
        Given::new(per_image(ImageScope::EligibleOnly)).registered(tokyo(2026, 11, 1, 9, 0));
    let c = lab.order_with(
        tokyo(2026, 11, 11, 9, 0),
        vec![re_encoded],
        vec![elsewhere, here],
    );
    assert_eq!(c.total, yen(125 + 15));
    assert!(
        c.discounts()
            .any(|l| l.description.contains("perceptual hash, distance 3"))
    );
}

#[test]
fn fig10_a_cancelled_order_is_no_evidence_of_a_print() {
    // The photo was ordered and the order cancelled before printing; the same photo
    // re-encoded is recognised by its perceptual hash as that reception's image: no discount.
    let mut lab =
        Given::new(per_image(ImageScope::EligibleOnly)).registered(tokyo(2026, 11, 1, 9, 0));
    lab.order(tokyo(2026, 11, 2, 9, 0), vec![item(1, PrintSize::L, 1)]);
    let number = lab.file.receptions[0].number.clone();
    lab.apply(Command::Cancel {
        number: number.clone(),
        reason: "cancelled by the user".into(),
        at: tokyo(2026, 11, 2, 10, 0),
    })
    .unwrap();
    let re_encoded = item(7, PrintSize::L, 1);
    let cancelled_print = EarlierPrint {
        image: re_encoded.image,
        site: site("lab-a"),
        on: chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
        reception: Some(number.as_str().to_string()),
        recognised_by: Recognition::PerceptualHash { distance: 2 },
    };
    let c = lab.order_with(
        tokyo(2026, 11, 10, 9, 0),
        vec![re_encoded],
        vec![cancelled_print],
    );
    assert_eq!(c.total, yen(250 + 30), "{:?}", c.lines);
}

#[test]
fn merely_being_registered_earns_the_registered_discount() {
    let mut rules = SiteRules::demo_counter(site("counter-ginza"));
    rules.policy = DiscountPolicy::new(
        Basis::User,
        Anchor::Previous,
        AppliesTo::Basic,
        ImageScope::AllIfAnyEligible,
        vec![],
        Some(Percent::new(20).unwrap()),
    )
    .unwrap();
    let mut new_user = Given::new(rules.clone()).registered(tokyo(2026, 11, 18, 10, 0));
    assert_eq!(
        basic(&new_user.order(tokyo(2026, 11, 18, 10, 0), vec![item(1, PrintSize::L, 1)])),
        250,
        "registering with this very order"
    );
    let mut known = Given::new(rules).registered(tokyo(2026, 6, 1, 10, 0));
    let c = known.order(tokyo(2026, 11, 18, 10, 0), vec![item(1, PrintSize::L, 1)]);
    assert_eq!(basic(&c), 200);
    assert!(
        c.discounts()
            .next()
            .unwrap()
            .description
            .contains("registered here as W0000001 since 2026-06-01")
    );
}

#[test]
fn the_best_discount_wins_and_discounts_do_not_add_up() {
    let mut rules = SiteRules::demo_lab(site("lab-a"));
    rules.policy.registered = Some(Percent::new(20).unwrap());
    let mut lab = Given::new(rules).registered(tokyo(2026, 1, 1, 10, 0));
    lab.order(tokyo(2026, 11, 1, 9, 0), vec![item(1, PrintSize::L, 1)]);
    let c = lab.order(tokyo(2026, 11, 20, 9, 0), vec![item(1, PrintSize::L, 1)]);
    assert_eq!(
        basic(&c),
        125,
        "50 % within a month beats 20 % for being registered"
    );
    assert_eq!(c.discounts().count(), 1);
}

#[test]
fn calendar_jan_31_to_feb_28_is_within_a_month_and_mar_1_is_not() {
    let mut lab = Given::new(SiteRules::demo_counter(site("counter-ginza")))
        .registered(tokyo(2027, 1, 31, 12, 0));
    lab.order(tokyo(2027, 1, 31, 12, 0), vec![item(1, PrintSize::L, 1)]);
    assert_eq!(
        basic(&lab.order(tokyo(2027, 2, 28, 12, 0), vec![item(2, PrintSize::L, 1)])),
        0
    );
    let mut lab = Given::new(SiteRules::demo_counter(site("counter-ginza")))
        .registered(tokyo(2027, 1, 31, 12, 0));
    lab.order(tokyo(2027, 1, 31, 12, 0), vec![item(1, PrintSize::L, 1)]);
    assert_eq!(
        basic(&lab.order(tokyo(2027, 3, 1, 12, 0), vec![item(2, PrintSize::L, 1)])),
        250
    );
}

#[test]
fn calendar_leap_day() {
    let mut c = Given::new(SiteRules::demo_counter(site("counter-ginza")))
        .registered(tokyo(2028, 1, 31, 12, 0));
    c.order(tokyo(2028, 1, 31, 12, 0), vec![item(1, PrintSize::L, 1)]);
    assert_eq!(
        basic(&c.order(tokyo(2028, 2, 29, 12, 0), vec![item(2, PrintSize::L, 1)])),
        0,
        "Feb 29 is within a month of Jan 31 in a leap year"
    );
    assert_eq!(
        basic(&c.order(tokyo(2028, 3, 29, 12, 0), vec![item(3, PrintSize::L, 1)])),
        0,
        "Mar 29 is within a month of Feb 29"
    );
    let mut c = Given::new(SiteRules::demo_counter(site("counter-ginza")))
        .registered(tokyo(2028, 2, 29, 12, 0));
    c.order(tokyo(2028, 2, 29, 12, 0), vec![item(1, PrintSize::L, 1)]);
    assert_eq!(
        basic(&c.order(tokyo(2028, 3, 30, 12, 0), vec![item(2, PrintSize::L, 1)])),
        250
    );
}

#[test]
fn calendar_counts_the_sites_own_days_not_utcs() {
    // 2026-11-30 23:59 in Tokyo is 14:59 UTC on the 30th; 2026-12-31 00:01 in Tokyo is
    // 15:01 UTC on the 30th of December. On Tokyo's calendar that is Nov 30 -> Dec 31: more
    // than a month. On UTC's it would be Nov 30 -> Dec 30: within a month.
    let prev = tokyo(2026, 11, 30, 23, 59);
    let next = tokyo(2026, 12, 31, 0, 1);
    assert_eq!(next.format("%Y-%m-%d").to_string(), "2026-12-30");
    let mut tokyo_site =
        Given::new(SiteRules::demo_counter(site("counter-ginza"))).registered(prev);
    tokyo_site.order(prev, vec![item(1, PrintSize::L, 1)]);
    assert_eq!(
        basic(&tokyo_site.order(next, vec![item(2, PrintSize::L, 1)])),
        250
    );

    let mut rules = SiteRules::demo_counter(site("counter-london"));
    rules.time_zone = chrono_tz::UTC;
    let mut utc_site = Given::new(rules).registered(prev);
    utc_site.order(prev, vec![item(1, PrintSize::L, 1)]);
    assert_eq!(
        basic(&utc_site.order(next, vec![item(2, PrintSize::L, 1)])),
        0
    );

    // And days: 00:01 on Nov 18 and 23:59 on Nov 25 in Tokyo are 7 calendar days apart there,
    // 8 in UTC (Nov 17 15:01 -> Nov 25 14:59).
    let mut lab =
        Given::new(SiteRules::demo_lab(site("lab-a"))).registered(tokyo(2026, 11, 18, 0, 1));
    lab.order(tokyo(2026, 11, 18, 0, 1), vec![item(1, PrintSize::L, 1)]);
    assert_eq!(
        basic(&lab.order(tokyo(2026, 11, 25, 23, 59), vec![item(2, PrintSize::L, 1)])),
        0
    );
}

#[test]
fn a_redelivered_order_records_one_reception() {
    let mut lab =
        Given::new(SiteRules::demo_lab(site("lab-a"))).registered(tokyo(2026, 11, 18, 10, 0));
    let cmd = lab.open_command(
        tokyo(2026, 11, 18, 10, 0),
        vec![item(1, PrintSize::L, 1)],
        vec![],
    );
    assert_eq!(lab.apply(cmd.clone()).unwrap().len(), 1);
    assert!(lab.apply(cmd).unwrap().is_empty());
    assert_eq!(lab.file.receptions.len(), 1);
}

#[test]
fn a_cancelled_order_is_no_previous_order() {
    let mut lab =
        Given::new(SiteRules::demo_lab(site("lab-a"))).registered(tokyo(2026, 11, 18, 10, 0));
    lab.order(tokyo(2026, 11, 18, 10, 0), vec![item(1, PrintSize::L, 1)]);
    let number = lab.file.receptions[0].number.clone();
    lab.apply(Command::Cancel {
        number,
        reason: "image missing".into(),
        at: tokyo(2026, 11, 18, 11, 0),
    })
    .unwrap();
    assert_eq!(
        basic(&lab.order(tokyo(2026, 11, 19, 10, 0), vec![item(1, PrintSize::L, 1)])),
        250
    );
}

#[test]
fn a_lab_refuses_a_size_it_has_no_price_for_and_an_unregistered_file() {
    let mut rules = SiteRules::demo_lab(site("lab-a"));
    rules.prices.prints.remove(&PrintSize::In8x10);
    let mut lab = Given::new(rules.clone());
    let cmd = lab.open_command(
        tokyo(2026, 11, 18, 10, 0),
        vec![item(1, PrintSize::L, 1)],
        vec![],
    );
    assert_eq!(lab.apply(cmd).unwrap_err(), DomainError::NotRegistered);
    let mut lab = lab.registered(tokyo(2026, 11, 18, 10, 0));
    let cmd = lab.open_command(
        tokyo(2026, 11, 18, 10, 0),
        vec![item(1, PrintSize::In8x10, 1)],
        vec![],
    );
    assert_eq!(
        lab.apply(cmd).unwrap_err().to_string(),
        "this site has no price for print size 8x10"
    );
    let cmd = lab.open_command(
        tokyo(2026, 11, 18, 10, 0),
        vec![item(1, PrintSize::L, 0)],
        vec![],
    );
    assert!(matches!(
        lab.apply(cmd).unwrap_err(),
        DomainError::BadQuantity { .. }
    ));
    assert!(lab.file.receptions.is_empty(), "nothing recorded half");
}

#[test]
fn fig6_registration_happens_once_and_contact_changes_only_on_request() {
    let mut lab =
        Given::new(SiteRules::demo_lab(site("lab-a"))).registered(tokyo(2026, 11, 18, 10, 0));
    let again = Command::Register {
        registration_number: RegistrationNumber::new(&lab.rules.registration_number, 2).unwrap(),
        name: "Hanako Yamada".into(),
        telephone: Telephone::parse("03-1234-5678").unwrap(),
        address: None,
        email: None,
        at: tokyo(2026, 11, 19, 10, 0),
    };
    assert!(matches!(
        lab.apply(again).unwrap_err(),
        DomainError::AlreadyRegistered { .. }
    ));
    let change = Command::ChangeContact {
        name: "Hanako Yamada".into(),
        telephone: Telephone::parse("090-1111-2222").unwrap(),
        address: None,
        email: None,
        at: tokyo(2026, 11, 19, 10, 0),
    };
    assert_eq!(lab.apply(change.clone()).unwrap().len(), 1);
    assert!(lab.apply(change).unwrap().is_empty());
    assert_eq!(
        lab.file.user.as_ref().unwrap().telephone.as_str(),
        "09011112222"
    );
}

#[test]
fn the_extract_sends_only_what_the_other_site_needs_unless_affiliated() {
    let mut lab =
        Given::new(SiteRules::demo_lab(site("lab-a"))).registered(tokyo(2026, 11, 18, 10, 0));
    lab.order(tokyo(2026, 11, 18, 10, 0), vec![item(1, PrintSize::L, 1)]);
    lab.order(tokyo(2026, 11, 19, 10, 0), vec![item(2, PrintSize::L, 1)]);
    let number = lab.file.receptions[1].number.clone();
    let minimal = extract(
        &lab.file,
        &site("lab-a"),
        SiteKind::Lab,
        &number,
        Sharing::ReceptionOnly,
    )
    .unwrap();
    assert_eq!(minimal.reception.number, number);
    assert_eq!(
        (
            minimal.address,
            minimal.email,
            minimal.other_receptions.len()
        ),
        (None, None, 0)
    );
    let whole = extract(
        &lab.file,
        &site("lab-a"),
        SiteKind::Lab,
        &number,
        Sharing::WholeFile,
    )
    .unwrap();
    assert!(whole.address.is_some() && whole.email.is_some());
    assert_eq!(whole.other_receptions.len(), 1);
    let events = file::decide(
        &lab.file,
        Command::RecordCollected {
            number: ReceptionNumber::foreign("B9999999"),
            at: tokyo(2026, 11, 20, 10, 0),
        },
    );
    assert!(matches!(events, Err(DomainError::UnknownReception { .. })));
}
