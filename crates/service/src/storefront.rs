//! What a site tells the rest of the network about itself, written once for the lab and the
//! counter: its catalog and locale replies (claim 12: the sizes, prices, language, currency and
//! time zone a site offers) and its entry in the site directory, all from its `SiteRules`.

use chrono::{DateTime, Utc};
use reprint_bus::directory::{OpeningHours, PriceLine, SiteAnnouncement};
use reprint_domain::protocol::{CatalogProduct, CatalogReply, LocaleReply};
use reprint_domain::{Money, PrintSize, SiteKind, SiteRules};

/// A product offered besides prints (the lab's digital copy).
#[derive(Debug, Clone)]
pub struct Extra {
    pub code: String,
    pub description: String,
    pub price: Money,
}

/// A site as the network sees it.
#[derive(Debug, Clone)]
pub struct Storefront<'a> {
    pub rules: &'a SiteRules,
    pub kind: SiteKind,
    pub name: &'a str,
    pub address: &'a str,
    /// The print sizes offered (a lab: those a printer of it makes).
    pub sizes: Vec<PrintSize>,
    /// How a print is made, in the catalog's words ("silver-halide paper").
    pub made: &'a str,
    pub extras: Vec<Extra>,
    pub icc_profiles: Vec<String>,
    pub heartbeat_secs: u64,
    /// When it is open, in its time zone (announced in the directory for the pages).
    pub opening_hours: Vec<OpeningHours>,
}

impl Storefront<'_> {
    fn print_price(&self, size: PrintSize) -> Money {
        self.rules
            .prices
            .print_price(size)
            .ok()
            .flatten()
            .unwrap_or(Money::zero(self.rules.currency))
    }

    /// The catalog reply: one product per size, then the extras.
    pub fn catalog(&self) -> CatalogReply {
        let mut products: Vec<CatalogProduct> = self
            .sizes
            .iter()
            .map(|s| {
                let (w, h) = s.millimetres();
                CatalogProduct {
                    code: format!("print:{}", s.code()),
                    description: format!("{} print, {w} x {h} mm, {}", s.code(), self.made),
                    size: Some(*s),
                    unit_price: self.print_price(*s),
                }
            })
            .collect();
        products.extend(self.extras.iter().map(|e| CatalogProduct {
            code: e.code.clone(),
            description: e.description.clone(),
            size: None,
            unit_price: e.price,
        }));
        CatalogReply {
            site: self.rules.site.clone(),
            site_kind: self.kind,
            name: self.name.to_string(),
            basic_charge: self.rules.prices.basic_charge,
            products,
            icc_profiles: self.icc_profiles.clone(),
            policy_summary: self.rules.policy.summary(),
            printer_profiles: Vec::new(),
        }
    }

    /// The locale reply.
    pub fn locale(&self) -> LocaleReply {
        LocaleReply {
            site: self.rules.site.clone(),
            currency: self.rules.currency,
            language: self.rules.language().into(),
            time_zone: self.rules.time_zone.name().to_string(),
            sizes: self.sizes.clone(),
        }
    }

    /// The site's entry in the site directory, as of `now`.
    pub fn announcement(
        &self,
        now: DateTime<Utc>,
    ) -> Result<SiteAnnouncement, reprint_bus::BusError> {
        let mut prices = vec![PriceLine {
            item: "basic".into(),
            amount_minor: self.rules.prices.basic_charge.minor,
        }];
        prices.extend(self.sizes.iter().map(|s| PriceLine {
            item: s.code().into(),
            amount_minor: self.print_price(*s).minor,
        }));
        prices.extend(self.extras.iter().map(|e| PriceLine {
            item: e.code.clone(),
            amount_minor: e.price.minor,
        }));
        Ok(SiteAnnouncement {
            id: reprint_bus::subjects::SiteId::parse(self.rules.site.as_str())?,
            kind: match self.kind {
                SiteKind::Lab => reprint_bus::subjects::SiteKind::Lab,
                SiteKind::Counter => reprint_bus::subjects::SiteKind::Counter,
            },
            name: self.name.to_string(),
            address: self.address.to_string(),
            time_zone: self.rules.time_zone.name().to_string(),
            currency: self.rules.currency.code().to_string(),
            sizes: self.sizes.iter().map(|s| s.code().to_string()).collect(),
            prices,
            policy_summary: self.rules.policy.summary(),
            icc_profiles: self.icc_profiles.clone(),
            last_heartbeat: now,
            heartbeat_interval_secs: self.heartbeat_secs,
            version: env!("CARGO_PKG_VERSION").to_string(),
            opening_hours: self.opening_hours.clone(),
            health: None,
            printer: None,
            transport_hours: Default::default(),
        })
    }
}

/// A site configuration's `opening_hours` (`[{ days = "mon-fri", opens = "10:00", closes =
/// "20:00" }]`), each line checked ([`OpeningHours::check`]): for
/// `#[serde(default, deserialize_with = "...")]`.
pub fn checked_opening_hours<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<OpeningHours>, D::Error> {
    use serde::Deserialize;
    let hours = Vec::<OpeningHours>::deserialize(d)?;
    for h in &hours {
        h.check().map_err(serde::de::Error::custom)?;
    }
    Ok(hours)
}
