//! A site's price list: a basic charge per order and a price per print per size.
//!
//! The seed's demo: the basic charge a user pays for a new order is 500 yen, split between the
//! laboratory and the counter fifty-fifty, so each site's list has `basic_charge = 250`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::{Currency, DomainError, Money, PrintSize};

/// Prices of one site, in its currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceList {
    pub currency: Currency,
    /// Charged once per order (the seed's 基本料金, "basic charge").
    pub basic_charge: Money,
    /// Per print, by size. A site with no print prices (a counter that only receives and hands
    /// over) charges no print charge; a site with some refuses a size it has no price for.
    pub prints: BTreeMap<PrintSize, Money>,
    /// The digital copy (seed 000, claims 2 and 18: "a digital media containing the image"):
    /// the order's originals with their print history in a ZIP, once per order. `None`: the
    /// site does not sell it (a counter). A lab sets it from its `production.digital_copy_price`.
    /// Absent in older serialised lists, which read as `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digital_copy: Option<Money>,
    /// Digital media (seed 000, claims 2 and 18: "a digital media containing the image"): the
    /// digital copy written on a CD, a DVD or a USB stick at a counter with a writer, one price
    /// per medium it burns (`crate::digital_media`; a counter sets them from its `[writer]
    /// media`). A medium without a price is not sold here. Absent in older lists: none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub media: BTreeMap<crate::digital_media::DigitalMedium, Money>,
    /// Set for one order only (`crate::digital_media::prices_for`): the medium the digital copy
    /// goes on, which its charge line names. `None`: the lab's ZIP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_on: Option<crate::digital_media::DigitalMedium>,
}

/// The TOML shape of a price list: amounts in minor units of the site's currency.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPriceList {
    pub basic_charge: i64,
    #[serde(default)]
    pub prints: BTreeMap<String, i64>,
}

impl PriceList {
    pub fn from_raw(raw: &RawPriceList, currency: Currency) -> Result<PriceList, DomainError> {
        let amount = |field: String, v: i64| {
            if v < 0 {
                Err(DomainError::invalid(
                    &field,
                    &v.to_string(),
                    "a price of 0 or more (minor units)",
                ))
            } else {
                Ok(Money::new(v, currency))
            }
        };
        let basic_charge = amount("prices.basic_charge".into(), raw.basic_charge)?;
        let mut prints = BTreeMap::new();
        for (code, v) in &raw.prints {
            let size = PrintSize::parse(code).map_err(|_| {
                let known: Vec<&str> = PrintSize::ALL.iter().map(|p| p.code()).collect();
                DomainError::invalid(
                    &format!("prices.prints.{code}"),
                    code,
                    &format!("a print size: one of {}", known.join(", ")),
                )
            })?;
            prints.insert(size, amount(format!("prices.prints.{code}"), *v)?);
        }
        Ok(PriceList {
            currency,
            basic_charge,
            prints,
            digital_copy: None,
            media: BTreeMap::new(),
            copy_on: None,
        })
    }

    /// Whether this site charges per print at all.
    pub fn charges_prints(&self) -> bool {
        !self.prints.is_empty()
    }

    /// The price of one print of `size`, `None` when the site charges no print charge.
    pub fn print_price(&self, size: PrintSize) -> Result<Option<Money>, DomainError> {
        if !self.charges_prints() {
            return Ok(None);
        }
        self.prints
            .get(&size)
            .copied()
            .map(Some)
            .ok_or(DomainError::UnknownSize {
                size: size.to_string(),
            })
    }

    /// The words of the digital copy's charge line: the lab's ZIP, or the medium it goes on.
    pub fn digital_copy_description(&self) -> String {
        match self.copy_on {
            Some(medium) => crate::digital_media::description(medium),
            None => "digital copy: the originals with their print history in a ZIP".to_string(),
        }
    }

    /// The price of the digital copy, refused when the site does not sell it.
    pub fn digital_copy_price(&self) -> Result<Money, DomainError> {
        self.digital_copy.ok_or_else(|| {
            DomainError::invalid(
                "digital_copy",
                "true",
                "no digital copy: this site does not sell one",
            )
        })
    }

    /// The seed's lab: basic charge 250 yen (half of 500), with demo print prices.
    pub fn demo_lab() -> PriceList {
        let yen = |v| Money::new(v, Currency::JPY);
        PriceList {
            currency: Currency::JPY,
            basic_charge: yen(250),
            prints: BTreeMap::from([
                (PrintSize::L, yen(30)),
                (PrintSize::Dsc, yen(30)),
                (PrintSize::Kg, yen(40)),
                (PrintSize::Hagaki, yen(40)),
                (PrintSize::Square, yen(40)),
                (PrintSize::L2, yen(80)),
                (PrintSize::In4x6, yen(40)),
                (PrintSize::In5x7, yen(90)),
                (PrintSize::In8x10, yen(300)),
            ]),
            digital_copy: None,
            media: BTreeMap::new(),
            copy_on: None,
        }
    }

    /// The seed's counter: basic charge 250 yen (the other half of 500), no print charge.
    pub fn demo_counter() -> PriceList {
        PriceList {
            currency: Currency::JPY,
            basic_charge: Money::new(250, Currency::JPY),
            prints: BTreeMap::new(),
            digital_copy: None,
            media: BTreeMap::new(),
            copy_on: None,
        }
    }
}
