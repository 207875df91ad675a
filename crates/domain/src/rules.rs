//! A site's charging rules as one value: who it is, its calendar, its currency, its number
//! formats, its price list and its discount policy. Loaded from TOML; every error names the
//! field and the value.

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::policy::RawDiscountPolicy;
use crate::price::RawPriceList;
use crate::{Currency, DiscountPolicy, DomainError, NumberFormat, PriceList, SiteId, SiteKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawSiteRules")]
pub struct SiteRules {
    pub site: SiteId,
    pub kind: SiteKind,
    /// The site's own calendar: "within a week" and "within a month" are counted on it.
    pub time_zone: Tz,
    pub currency: Currency,
    pub registration_number: NumberFormat,
    pub reception_number: NumberFormat,
    pub prices: PriceList,
    pub policy: DiscountPolicy,
}

/// The TOML shape:
///
/// ```toml
/// site = "lab-a"
/// kind = "lab"
/// time_zone = "Asia/Tokyo"
/// currency = "JPY"
/// registration_number = { prefix = "A", width = 7 }
/// reception_number = { prefix = "B", width = 7 }
/// [prices]
/// basic_charge = 250
/// prints = { L = 30, "2L" = 80 }
/// [policy]
/// anchor = "previous"
/// [[policy.tiers]]
/// within_days = 7
/// percent = 100
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSiteRules {
    pub site: String,
    pub kind: SiteKind,
    pub time_zone: String,
    pub currency: String,
    pub registration_number: NumberFormat,
    pub reception_number: NumberFormat,
    pub prices: RawPriceList,
    #[serde(default)]
    pub policy: Option<RawDiscountPolicy>,
}

impl TryFrom<RawSiteRules> for SiteRules {
    type Error = DomainError;
    fn try_from(r: RawSiteRules) -> Result<Self, Self::Error> {
        let site = SiteId::parse(&r.site).map_err(|_| {
            DomainError::invalid(
                "site",
                &r.site,
                "a site id: 2 to 32 characters of a-z, 0-9 and '-', starting with a letter",
            )
        })?;
        let time_zone: Tz = r.time_zone.parse().map_err(|_| {
            DomainError::invalid(
                "time_zone",
                &r.time_zone,
                "an IANA time zone such as Asia/Tokyo",
            )
        })?;
        let currency = Currency::parse(&r.currency).map_err(|_| {
            DomainError::invalid(
                "currency",
                &r.currency,
                "a known ISO 4217 code such as JPY or EUR",
            )
        })?;
        let prices = PriceList::from_raw(&r.prices, currency)?;
        let policy = match r.policy {
            Some(p) => DiscountPolicy::try_from(p)?,
            None => DiscountPolicy::none(),
        };
        if r.registration_number.prefix() == r.reception_number.prefix() {
            return Err(DomainError::invalid(
                "reception_number.prefix",
                r.reception_number.prefix(),
                "a prefix different from registration_number's, so the two kinds of number cannot be confused",
            ));
        }
        Ok(SiteRules {
            site,
            kind: r.kind,
            time_zone,
            currency,
            registration_number: r.registration_number,
            reception_number: r.reception_number,
            prices,
            policy,
        })
    }
}

impl SiteRules {
    /// The language a site's replies are written in, from its time zone (a locale reply's
    /// `language`): `ja`, `de`, `fr`, else `en`.
    pub fn language(&self) -> &'static str {
        match self.time_zone.name() {
            "Asia/Tokyo" => "ja",
            t if t.starts_with("Europe/Berlin") || t.starts_with("Europe/Vienna") => "de",
            t if t.starts_with("Europe/Paris") => "fr",
            _ => "en",
        }
    }

    /// Parses rules from TOML text. The error names the field (and, from the TOML parser, the
    /// line) and the refused value.
    pub fn from_toml(text: &str) -> Result<SiteRules, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// A's laboratory of the seed: reception numbers `B0000001`..., basic charge 250 yen, free
    /// within a week of the previous order and half within a month (Fig. 7).
    pub fn demo_lab(site: SiteId) -> SiteRules {
        SiteRules {
            site,
            kind: SiteKind::Lab,
            time_zone: chrono_tz::Asia::Tokyo,
            currency: Currency::JPY,
            registration_number: NumberFormat::new("A", 7)
                .unwrap_or_else(|_| unreachable!("valid literal format")),
            reception_number: NumberFormat::new("B", 7)
                .unwrap_or_else(|_| unreachable!("valid literal format")),
            prices: PriceList::demo_lab(),
            policy: DiscountPolicy::demo_lab(),
        }
    }

    /// The seed's counter: reception numbers `X0000001`..., basic charge 250 yen, free within a
    /// month of the previous order (Fig. 9).
    pub fn demo_counter(site: SiteId) -> SiteRules {
        SiteRules {
            site,
            kind: SiteKind::Counter,
            time_zone: chrono_tz::Asia::Tokyo,
            currency: Currency::JPY,
            registration_number: NumberFormat::new("W", 7)
                .unwrap_or_else(|_| unreachable!("valid literal format")),
            reception_number: NumberFormat::new("X", 7)
                .unwrap_or_else(|_| unreachable!("valid literal format")),
            prices: PriceList::demo_counter(),
            policy: DiscountPolicy::demo_counter(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = r#"
site = "lab-a"
kind = "lab"
time_zone = "Asia/Tokyo"
currency = "JPY"
registration_number = { prefix = "A", width = 7 }
reception_number = { prefix = "B", width = 7 }
[prices]
basic_charge = 250
prints = { L = 30, DSC = 30, KG = 40, Hagaki = 40, Square = 40, "2L" = 80, "4x6" = 40, "5x7" = 90, "8x10" = 300 }
[policy]
anchor = "previous"
applies_to = "basic"
[[policy.tiers]]
within_days = 7
percent = 100
[[policy.tiers]]
within_months = 1
percent = 50
"#;

    #[test]
    fn the_demo_lab_in_toml_is_the_seeds() {
        let rules = SiteRules::from_toml(LAB).unwrap();
        assert_eq!(rules, SiteRules::demo_lab(SiteId::parse("lab-a").unwrap()));
    }

    fn err_of(replace: (&str, &str)) -> String {
        let text = LAB.replace(replace.0, replace.1);
        assert_ne!(text, LAB, "replacement {replace:?} must change the text");
        SiteRules::from_toml(&text).unwrap_err()
    }

    #[test]
    fn bad_files_name_the_field_and_the_value() {
        let e = err_of(("basic_charge = 250", "basic_charge = -250"));
        assert!(
            e.contains("prices.basic_charge") && e.contains("-250"),
            "{e}"
        );
        let e = err_of(("L = 30", "L = -30"));
        assert!(e.contains("prices.prints.L") && e.contains("-30"), "{e}");
        let e = err_of(("\"8x10\" = 300", "A4 = 300"));
        assert!(e.contains("prices.prints.A4"), "{e}");
        let e = err_of(("currency = \"JPY\"", "currency = \"YEN\""));
        assert!(e.contains("currency") && e.contains("YEN"), "{e}");
        let e = err_of(("time_zone = \"Asia/Tokyo\"", "time_zone = \"Mars/Olympus\""));
        assert!(e.contains("time_zone") && e.contains("Mars/Olympus"), "{e}");
        let e = err_of(("kind = \"lab\"", "kind = \"lab\"\ncolour = \"red\""));
        assert!(e.contains("colour"), "{e}");
        let e = err_of(("site = \"lab-a\"", "site = \"Lab A\""));
        assert!(e.contains("site") && e.contains("Lab A"), "{e}");
        let e = err_of(("prefix = \"B\"", "prefix = \"A\""));
        assert!(e.contains("reception_number.prefix"), "{e}");
        let e = err_of(("within_months = 1", "within_days = 5"));
        assert!(e.contains("policy.tiers[1]"), "{e}");
    }

    #[test]
    fn the_language_follows_the_time_zone() {
        let mut rules = SiteRules::demo_lab(SiteId::parse("lab-a").unwrap());
        for (tz, language) in [
            (chrono_tz::Asia::Tokyo, "ja"),
            (chrono_tz::Europe::Berlin, "de"),
            (chrono_tz::Europe::Vienna, "de"),
            (chrono_tz::Europe::Paris, "fr"),
            (chrono_tz::America::New_York, "en"),
        ] {
            rules.time_zone = tz;
            assert_eq!(rules.language(), language, "{tz}");
        }
    }
}
