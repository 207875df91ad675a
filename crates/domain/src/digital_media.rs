//! Digital media at the counter (seed 000, claims 2 and 18: "a digital media containing the
//! image"): a counter with a writer (a minilab's CD writer, a kiosk's USB port) sells the
//! digital copy of a walk-in order on a CD, a DVD or a USB stick, and writes it from the card it
//! was handed.
//!
//! The medium is a product the catalog and the charge rules handle like prints:
//!
//! - **The catalog**: the price list's [`PriceList::media`], one price per medium the counter
//!   burns (from its `[writer] media`); a medium without a price is not sold there, and a
//!   counter without a writer sells none.
//! - **The charge**: one line per order at the list's price ([`line`]), of kind
//!   [`LineKind::DigitalCopy`]: it is the digital copy (each original with its print history),
//!   delivered on a medium instead of as a download, so the gateway, the lab and every page that
//!   already read a digital copy line read this one too. Its description names the medium
//!   ([`medium_of`] reads it back).
//! - **Repeat discounts do not reduce it**, as they do not reduce the lab's digital copy: the
//!   seed's discounts (Figs. 7 and 9) are of the basic charge and of prints, and the medium is
//!   a blank disc or stick the counter hands over each time, whoever the customer is.
//! - **Where it is handed over**: at the counter that wrote it; an order collected at another
//!   counter cannot carry one ([`check_pickup`]), since that counter charges the order and
//!   never had the card.
//!
//! Everything here is pure: the counter's writer, its hot folder and its job ticket are in
//! `services/counter/src/writer.rs`.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::charge::{Charge, ChargeLine, LineKind};
use crate::{DomainError, Money, PriceList};

/// A medium the digital copy can be written on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DigitalMedium {
    /// A CD-R (700 MB).
    Cd,
    /// A DVD-R (4.7 GB).
    Dvd,
    /// A USB stick (as large as the counter stocks).
    UsbStick,
}

impl DigitalMedium {
    pub const ALL: [DigitalMedium; 3] = [
        DigitalMedium::Cd,
        DigitalMedium::Dvd,
        DigitalMedium::UsbStick,
    ];

    /// The code in configurations, forms and the JSON API: `cd`, `dvd`, `usb_stick`.
    pub fn code(self) -> &'static str {
        match self {
            DigitalMedium::Cd => "cd",
            DigitalMedium::Dvd => "dvd",
            DigitalMedium::UsbStick => "usb_stick",
        }
    }

    /// Parses a code (`usb` is taken for `usb_stick`), refusing in words.
    pub fn parse(code: &str) -> Result<DigitalMedium, DomainError> {
        let c = code.trim().to_ascii_lowercase();
        if c == "usb" {
            return Ok(DigitalMedium::UsbStick);
        }
        DigitalMedium::ALL
            .into_iter()
            .find(|m| m.code() == c)
            .ok_or_else(|| {
                DomainError::invalid("digital_medium", code, "a medium: cd, dvd or usb_stick")
            })
    }

    /// What it holds, in bytes, for a disc (the nominal data capacity of a CD-R of 80 minutes,
    /// 360,000 sectors of 2,048 bytes, and of a single-layer DVD-R, 2,295,104 sectors);
    /// `None` for a USB stick: the counter stocks sticks larger than any card.
    pub fn capacity_bytes(self) -> Option<u64> {
        match self {
            DigitalMedium::Cd => Some(360_000 * 2_048),
            DigitalMedium::Dvd => Some(2_295_104 * 2_048),
            DigitalMedium::UsbStick => None,
        }
    }

    /// The words of the charge line and of the job ticket.
    pub fn words(self) -> &'static str {
        match self {
            DigitalMedium::Cd => "on a CD",
            DigitalMedium::Dvd => "on a DVD",
            DigitalMedium::UsbStick => "on a USB stick",
        }
    }
}

impl fmt::Display for DigitalMedium {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The description of the medium's charge line ("digital copy on a USB stick: ...").
pub fn description(medium: DigitalMedium) -> String {
    format!(
        "digital copy {}: the originals with their print history",
        medium.words()
    )
}

/// The medium's charge line at the price list's price, refused in words when the site does
/// not sell that medium.
pub fn line(prices: &PriceList, medium: DigitalMedium) -> Result<ChargeLine, DomainError> {
    let amount = price(prices, medium)?;
    Ok(ChargeLine {
        kind: LineKind::DigitalCopy,
        description: description(medium),
        amount,
    })
}

/// The price of `medium` in the list, refused when it is not sold here.
pub fn price(prices: &PriceList, medium: DigitalMedium) -> Result<Money, DomainError> {
    prices.media.get(&medium).copied().ok_or_else(|| {
        let sold: Vec<&str> = prices.media.keys().map(|m| m.code()).collect();
        DomainError::invalid(
            "digital_medium",
            medium.code(),
            &if sold.is_empty() {
                "no medium: this counter has no writer for digital copies".to_string()
            } else {
                format!("a medium this counter writes: {}", sold.join(", "))
            },
        )
    })
}

/// The price list an order with `medium` is charged by: the list with its digital copy at the
/// medium's price, described as on that medium (the charge's [`LineKind::DigitalCopy`] line,
/// `crate::charge::determine_charge_with` with `digital_copy`).
pub fn prices_for(prices: &PriceList, medium: DigitalMedium) -> Result<PriceList, DomainError> {
    let amount = price(prices, medium)?;
    Ok(PriceList {
        digital_copy: Some(amount),
        copy_on: Some(medium),
        ..prices.clone()
    })
}

/// A charge with the medium's line added where the charge rules put the digital copy (after
/// the basic charge and the prints, before the discounts, whose indices move on by one): the
/// same charge as determining it with the medium from the start, for a charge already
/// determined without it (a quote).
pub fn with_medium(
    charge: &Charge,
    prices: &PriceList,
    medium: DigitalMedium,
) -> Result<Charge, DomainError> {
    let line = line(prices, medium)?;
    let at = charge
        .lines
        .iter()
        .position(|l| matches!(l.kind, LineKind::Discount { .. }))
        .unwrap_or(charge.lines.len());
    let mut lines: Vec<ChargeLine> = Vec::with_capacity(charge.lines.len() + 1);
    for (i, l) in charge.lines.iter().enumerate() {
        if i == at {
            lines.push(line.clone());
        }
        let mut l = l.clone();
        if let LineKind::Discount { of, .. } = &mut l.kind
            && *of >= at
        {
            *of += 1;
        }
        lines.push(l);
    }
    if at == charge.lines.len() {
        lines.push(line);
    }
    let total = Money::sum(charge.total.currency, lines.iter().map(|l| &l.amount))?;
    Ok(Charge { lines, total })
}

/// The medium a charge's digital copy line is on, when it is one of this module's lines.
pub fn medium_of(charge: &Charge) -> Option<DigitalMedium> {
    charge.lines.iter().find_map(medium_of_line)
}

/// The medium of one line, when it is a digital copy on a medium.
pub fn medium_of_line(line: &ChargeLine) -> Option<DigitalMedium> {
    if line.kind != LineKind::DigitalCopy {
        return None;
    }
    DigitalMedium::ALL
        .into_iter()
        .find(|m| line.description == description(*m))
}

/// An order collected at another counter cannot carry a medium: that counter charges the
/// order and never had the card; the counter that writes it hands it over.
pub fn check_pickup(medium: Option<DigitalMedium>, elsewhere: bool) -> Result<(), DomainError> {
    match medium {
        Some(m) if elsewhere => Err(DomainError::invalid(
            "digital_medium",
            m.code(),
            "no medium for an order collected at another counter: the copy is handed over \
             where it is written; collect here, or leave the medium out",
        )),
        _ => Ok(()),
    }
}

/// Whether originals of `bytes` in all fit on `medium`, refused in words when they do not.
/// The job holds each original twice (as it came from the card, and in its container with
/// its history), plus the ticket.
pub fn check_fits(medium: DigitalMedium, originals_bytes: u64) -> Result<(), DomainError> {
    let Some(capacity) = medium.capacity_bytes() else {
        return Ok(());
    };
    let needed = originals_bytes.saturating_mul(2).saturating_add(64 * 1024);
    if needed > capacity {
        return Err(DomainError::invalid(
            "digital_medium",
            medium.code(),
            &format!(
                "a medium the photos fit on: they need {} MB {}, which holds {} MB; choose a \
                 larger medium",
                needed.div_ceil(1_000_000),
                medium.words(),
                capacity / 1_000_000
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charge::determine_charge_with;
    use crate::file::{OrderItem, UserFile};
    use crate::{Currency, ImageId, PrintSize, SiteId, SiteRules};
    use chrono::{TimeZone, Utc};

    fn yen(v: i64) -> Money {
        Money::new(v, Currency::JPY)
    }

    fn counter_with_writer() -> SiteRules {
        let mut rules = SiteRules::demo_counter(SiteId::parse("counter-ginza").unwrap());
        rules.prices.media = [
            (DigitalMedium::Cd, yen(500)),
            (DigitalMedium::UsbStick, yen(1200)),
        ]
        .into();
        rules
    }

    fn items(n: u8) -> Vec<OrderItem> {
        (1..=n)
            .map(|i| OrderItem {
                image: ImageId::of_bytes(&[i]),
                name: format!("IMG_000{i}.JPG"),
                size: PrintSize::L,
                quantity: 1,
            })
            .collect()
    }

    #[test]
    fn codes_parse_and_refuse_in_words() {
        for m in DigitalMedium::ALL {
            assert_eq!(DigitalMedium::parse(m.code()).unwrap(), m);
        }
        assert_eq!(
            DigitalMedium::parse(" USB ").unwrap(),
            DigitalMedium::UsbStick
        );
        let e = DigitalMedium::parse("floppy").unwrap_err().to_string();
        assert!(e.contains("floppy") && e.contains("usb_stick"), "{e}");
    }

    #[test]
    fn three_photos_on_a_usb_stick_at_the_counters_price() {
        // The seed's counter: basic charge 250, no print charge; the stick at 1,200 yen.
        let mut rules = counter_with_writer();
        let at = Utc.with_ymd_and_hms(2026, 12, 5, 1, 0, 0).unwrap();
        rules.prices = prices_for(&rules.prices, DigitalMedium::UsbStick).unwrap();
        let c =
            determine_charge_with(&rules, &UserFile::default(), &items(3), true, &[], at).unwrap();
        assert_eq!(c.total, yen(250 + 1200));
        let copy: Vec<_> = c
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::DigitalCopy)
            .collect();
        assert_eq!(copy.len(), 1, "once per order: {c:?}");
        assert_eq!(copy[0].amount, yen(1200));
        assert_eq!(
            copy[0].description,
            "digital copy on a USB stick: the originals with their print history"
        );
        assert_eq!(medium_of(&c), Some(DigitalMedium::UsbStick));
        assert_eq!(c.basic_charge(), yen(250));
    }

    #[test]
    fn the_repeat_discount_waives_the_basic_charge_not_the_medium() {
        // Fig. 9's counter: the basic charge free within a month of the previous order here.
        // The customer's second visit with a CD: 0 + 500.
        let rules = counter_with_writer();
        let first = Utc.with_ymd_and_hms(2026, 11, 20, 1, 0, 0).unwrap();
        let again = Utc.with_ymd_and_hms(2026, 12, 5, 1, 0, 0).unwrap();
        let mut file = UserFile::default();
        for e in crate::file::decide(
            &file,
            crate::file::Command::Register {
                registration_number: crate::RegistrationNumber::new(&rules.registration_number, 1)
                    .unwrap(),
                name: "Hanako Yamada".into(),
                telephone: crate::Telephone::parse("03-1234-5678").unwrap(),
                address: None,
                email: None,
                at: first,
            },
        )
        .unwrap()
        {
            file = crate::file::evolve(file, &e);
        }
        let open = |number: u64, at, medium: Option<DigitalMedium>| {
            let mut r = rules.clone();
            if let Some(m) = medium {
                r.prices = prices_for(&r.prices, m).unwrap();
            }
            crate::file::Command::OpenReception(Box::new(crate::file::OpenReception {
                number: crate::ReceptionNumber::new(&rules.reception_number, number).unwrap(),
                order: crate::OrderId::from_parts(number, [0; 10]),
                route: crate::Route::CounterMedium,
                received_at: at,
                data_receive: None,
                partner: SiteId::parse("lab-a").unwrap(),
                items: items(3),
                digital_copy: medium.is_some(),
                evidence: vec![],
                estimated_finish: None,
                rules: r,
            }))
        };
        for e in crate::file::decide(&file, open(1, first, None)).unwrap() {
            file = crate::file::evolve(file, &e);
        }
        for e in crate::file::decide(&file, open(2, again, Some(DigitalMedium::Cd))).unwrap() {
            file = crate::file::evolve(file, &e);
        }
        let c = &file.receptions[1].charge;
        assert_eq!(c.basic_charge(), yen(0), "{c:?}");
        assert_eq!(c.total, yen(500), "{c:?}");
        let copy = c
            .lines
            .iter()
            .position(|l| l.kind == LineKind::DigitalCopy)
            .unwrap();
        assert!(
            c.lines
                .iter()
                .all(|l| !matches!(l.kind, LineKind::Discount { of, .. } if of == copy)),
            "no discount of the medium: {c:?}"
        );
        assert_eq!(medium_of(c), Some(DigitalMedium::Cd));
        // A quote made without it and given the medium afterwards is the same charge.
        let plain = crate::charge::determine_charge(
            &rules,
            &UserFile {
                receptions: file.receptions[..1].to_vec(),
                ..file.clone()
            },
            &items(3),
            &[],
            again,
        )
        .unwrap();
        assert_eq!(
            with_medium(&plain, &rules.prices, DigitalMedium::Cd).unwrap(),
            *c
        );
    }

    #[test]
    fn a_medium_not_sold_here_is_refused_in_words() {
        let rules = counter_with_writer();
        let e = prices_for(&rules.prices, DigitalMedium::Dvd)
            .unwrap_err()
            .to_string();
        assert!(e.contains("dvd") && e.contains("cd, usb_stick"), "{e}");
        let none = SiteRules::demo_counter(SiteId::parse("counter-shibuya").unwrap());
        let e = prices_for(&none.prices, DigitalMedium::UsbStick)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no writer"), "{e}");
    }

    #[test]
    fn with_medium_moves_the_discounts_on() {
        let charge = Charge {
            lines: vec![
                ChargeLine {
                    kind: LineKind::BasicCharge,
                    description: "basic".into(),
                    amount: yen(250),
                },
                ChargeLine {
                    kind: LineKind::Discount {
                        of: 0,
                        percent: crate::Percent::FULL,
                    },
                    description: "waived".into(),
                    amount: yen(-250),
                },
            ],
            total: yen(0),
        };
        let c = with_medium(&charge, &counter_with_writer().prices, DigitalMedium::Cd).unwrap();
        assert_eq!(c.lines.len(), 3);
        assert_eq!(c.lines[1].kind, LineKind::DigitalCopy);
        assert!(matches!(c.lines[2].kind, LineKind::Discount { of: 0, .. }));
        assert_eq!(c.total, yen(500));
    }

    #[test]
    fn a_cd_holds_what_fits_and_says_so_when_not() {
        assert!(check_fits(DigitalMedium::Cd, 300_000_000).is_ok());
        let e = check_fits(DigitalMedium::Cd, 400_000_000)
            .unwrap_err()
            .to_string();
        assert!(e.contains("on a CD") && e.contains("737 MB"), "{e}");
        assert!(check_fits(DigitalMedium::UsbStick, 40_000_000_000).is_ok());
        assert!(check_pickup(Some(DigitalMedium::Cd), true).is_err());
        assert!(check_pickup(Some(DigitalMedium::Cd), false).is_ok());
        assert!(check_pickup(None, true).is_ok());
    }
}
