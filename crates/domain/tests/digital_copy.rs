//! The digital copy (seed 000, claims 2 and 18: "a digital media containing the image"): a
//! product line of the lab's charge at its price list's price, once per order, never reduced by
//! the discounts of Figs. 7 and 9 (they are of the basic charge and of prints).

mod common;

use common::*;
use reprint_domain::file::{Command, UserFile};
use reprint_domain::*;

fn lab_selling_it(price: i64) -> SiteRules {
    let mut rules = SiteRules::demo_lab(site("lab-a"));
    rules.prices.digital_copy = Some(yen(price));
    rules
}

fn open_with_copy(
    lab: &mut Given,
    at: chrono::DateTime<chrono::Utc>,
    items: Vec<OrderItem>,
) -> Charge {
    let Command::OpenReception(mut open) = lab.open_command(at, items, vec![]) else {
        unreachable!("open_command opens a reception")
    };
    open.digital_copy = true;
    lab.apply(Command::OpenReception(open)).unwrap();
    lab.file.receptions.last().unwrap().charge.clone()
}

#[test]
fn without_the_digital_copy_the_charge_is_as_before() {
    let rules = lab_selling_it(100);
    let items = [item(1, PrintSize::L, 2)];
    let at = tokyo(2026, 11, 18, 10, 0);
    let plain = determine_charge(&rules, &UserFile::default(), &items, &[], at).unwrap();
    let same = determine_charge_with(&rules, &UserFile::default(), &items, false, &[], at).unwrap();
    assert_eq!(plain, same);
    assert_eq!(plain.total, yen(250 + 2 * 30));
    assert!(plain.lines.iter().all(|l| l.kind != LineKind::DigitalCopy));
}

#[test]
fn the_digital_copy_is_a_line_at_the_price_lists_price() {
    let rules = lab_selling_it(100);
    let items = [item(1, PrintSize::L, 2), item(2, PrintSize::Kg, 1)];
    let at = tokyo(2026, 11, 18, 10, 0);
    let c = determine_charge_with(&rules, &UserFile::default(), &items, true, &[], at).unwrap();
    let copies: Vec<_> = c
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::DigitalCopy)
        .collect();
    assert_eq!(copies.len(), 1, "once per order, not per image: {c:?}");
    assert_eq!(copies[0].amount, yen(100));
    assert_eq!(c.total, yen(250 + 2 * 30 + 40 + 100));
    assert_eq!(basic(&c), 250);
    assert_eq!(c.undiscounted().unwrap(), c.total);
}

#[test]
fn fig7_discounts_do_not_reduce_the_digital_copy() {
    let mut lab = Given::new(lab_selling_it(100)).registered(tokyo(2026, 11, 18, 10, 0));
    let first = open_with_copy(
        &mut lab,
        tokyo(2026, 11, 18, 10, 0),
        vec![item(1, PrintSize::L, 2)],
    );
    assert_eq!(first.total, yen(250 + 60 + 100));
    // Within a week: the basic charge is waived (Fig. 7), the copy is paid in full.
    let second = open_with_copy(
        &mut lab,
        tokyo(2026, 11, 21, 15, 30),
        vec![item(3, PrintSize::L, 1)],
    );
    assert_eq!(basic(&second), 0);
    assert_eq!(second.total, yen(30 + 100));
    let copy = second
        .lines
        .iter()
        .position(|l| l.kind == LineKind::DigitalCopy)
        .unwrap();
    assert!(
        second
            .lines
            .iter()
            .all(|l| !matches!(l.kind, LineKind::Discount { of, .. } if of == copy)),
        "{second:?}"
    );
    // The reception keeps it: a stored charge says what was sold.
    assert!(
        lab.file.receptions[1]
            .charge
            .lines
            .iter()
            .any(|l| l.kind == LineKind::DigitalCopy)
    );
}

#[test]
fn an_image_basis_discount_of_every_line_leaves_the_copy_alone() {
    // A lab whose policy discounts prints of images printed before (by image), all lines.
    let mut rules = lab_selling_it(100);
    rules.policy.basis = Basis::Image;
    rules.policy.applies_to = AppliesTo::Both;
    let mut lab = Given::new(rules).registered(tokyo(2026, 11, 18, 10, 0));
    lab.order(tokyo(2026, 11, 18, 10, 0), vec![item(1, PrintSize::L, 2)]);
    let again = open_with_copy(
        &mut lab,
        tokyo(2026, 11, 19, 10, 0),
        vec![item(1, PrintSize::L, 2)],
    );
    let copy = again
        .lines
        .iter()
        .find(|l| l.kind == LineKind::DigitalCopy)
        .unwrap();
    assert_eq!(copy.amount, yen(100));
    assert_eq!(
        again.total,
        yen(100),
        "basic and prints waived, the copy paid: {again:?}"
    );
}

#[test]
fn a_site_that_does_not_sell_it_refuses_it() {
    let counter = SiteRules::demo_counter(site("counter-ginza"));
    let at = tokyo(2026, 11, 18, 10, 0);
    let e = determine_charge_with(
        &counter,
        &UserFile::default(),
        &[item(1, PrintSize::L, 1)],
        true,
        &[],
        at,
    )
    .unwrap_err();
    assert!(e.to_string().contains("digital"), "{e}");
}

#[test]
fn a_price_list_stored_before_the_digital_copy_reads_without_one() {
    let mut list = PriceList::demo_lab();
    list.digital_copy = Some(yen(100));
    let mut value = serde_json::to_value(&list).unwrap();
    assert!(value.get("digital_copy").is_some());
    value.as_object_mut().unwrap().remove("digital_copy");
    let old: PriceList = serde_json::from_value(value).unwrap();
    assert_eq!(old, PriceList::demo_lab());
    let json = serde_json::to_string(&PriceList::demo_counter()).unwrap();
    assert!(!json.contains("digital_copy"), "{json}");
}
