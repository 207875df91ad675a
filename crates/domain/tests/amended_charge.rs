//! A reception's charge amended when the lab rejects one of its images (issue 16): the rejected
//! image's print lines and their discounts go, the basic charge and the other prints stay, and
//! the discounts are found again by the same rules (Fig. 7's prices and tiers).

mod common;

use common::*;
use reprint_domain::production::amended_charge;
use reprint_domain::*;

#[test]
fn rejecting_one_of_two_images_keeps_the_basic_charge_and_the_others_prints() {
    let rules = SiteRules::demo_lab(site("lab-a"));
    let mut lab = Given::new(rules.clone()).registered(tokyo(2026, 11, 1, 10, 0));
    // An earlier order: the one of Nov. 18 is within a month of it (Fig. 7's tiers).
    lab.order(tokyo(2026, 11, 1, 10, 0), vec![item(1, PrintSize::L, 1)]);
    let at = tokyo(2026, 11, 18, 10, 0);
    let full = lab.order(
        at,
        vec![item(2, PrintSize::L, 2), item(3, PrintSize::Kg, 1)],
    );
    let number = lab.file.receptions.last().unwrap().number.clone();

    let amended = amended_charge(&rules, &lab.file, &number, &[image(3)], &[])
        .unwrap()
        .expect("one image is left");
    // Nothing of the rejected image is left.
    assert!(
        amended.lines.iter().all(|l| !matches!(
            l.kind,
            LineKind::Prints { image: i, .. } if i == image(3)
        )),
        "{amended:?}"
    );
    // The basic charge (with its discount) and the other image's prints stay as they were.
    assert_eq!(basic(&amended), basic(&full));
    let prints_of = |c: &Charge, n: u8| -> Vec<Money> {
        c.lines
            .iter()
            .filter(|l| matches!(l.kind, LineKind::Prints { image: i, .. } if i == image(n)))
            .map(|l| l.amount)
            .collect()
    };
    assert_eq!(prints_of(&amended, 2), prints_of(&full, 2));
    assert_eq!(prints_of(&amended, 2), vec![yen(2 * 30)]);
    // The same charge as an order of the other image alone would have had, then.
    let mut alone = Given::new(rules.clone()).registered(tokyo(2026, 11, 1, 10, 0));
    alone.order(tokyo(2026, 11, 1, 10, 0), vec![item(1, PrintSize::L, 1)]);
    let expected = alone.order(at, vec![item(2, PrintSize::L, 2)]);
    assert_eq!(amended, expected);
    // Less by the rejected image's prints after their discount.
    let kg_lines: i64 = full
        .lines
        .iter()
        .enumerate()
        .filter(|(i, l)| match l.kind {
            LineKind::Prints { image: im, .. } => im == image(3),
            LineKind::Discount { of, .. } => {
                matches!(full.lines[of].kind, LineKind::Prints { image: im, .. } if im == image(3))
                    && of != *i
            }
            _ => false,
        })
        .map(|(_, l)| l.amount.minor)
        .sum();
    assert_eq!(amended.total.minor, full.total.minor - kg_lines);
    eprintln!(
        "full {} amended {} basic {}",
        full.total,
        amended.total,
        basic(&amended)
    );

    // No image left: the order is rejected, not amended.
    assert_eq!(
        amended_charge(&rules, &lab.file, &number, &[image(2), image(3)], &[]),
        Ok(None)
    );
}
