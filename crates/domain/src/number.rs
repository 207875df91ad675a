//! Registration numbers and reception numbers: per site, human-readable, gap-free, formatted
//! from a prefix and a width. The seed shows `B0000456` (a lab's reception number) and
//! `X0001004` (a counter's).

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::DomainError;

/// How a site writes one kind of number: a prefix of 1 to 4 uppercase letters and a width of
/// 4 to 12 digits, zero-padded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawNumberFormat", deny_unknown_fields)]
pub struct NumberFormat {
    prefix: String,
    width: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNumberFormat {
    prefix: String,
    width: u8,
}

impl TryFrom<RawNumberFormat> for NumberFormat {
    type Error = DomainError;
    fn try_from(r: RawNumberFormat) -> Result<Self, Self::Error> {
        NumberFormat::new(&r.prefix, r.width)
    }
}

impl NumberFormat {
    pub fn new(prefix: &str, width: u8) -> Result<NumberFormat, DomainError> {
        if prefix.is_empty() || prefix.len() > 4 || !prefix.chars().all(|c| c.is_ascii_uppercase())
        {
            return Err(DomainError::invalid(
                "prefix",
                prefix,
                "1 to 4 uppercase letters A-Z",
            ));
        }
        if !(4..=12).contains(&width) {
            return Err(DomainError::invalid(
                "width",
                &width.to_string(),
                "4 to 12 digits",
            ));
        }
        Ok(NumberFormat {
            prefix: prefix.to_string(),
            width,
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn width(&self) -> u8 {
        self.width
    }

    /// The largest sequence number this format can write.
    pub fn max(&self) -> u64 {
        10u64.pow(u32::from(self.width)) - 1
    }

    fn format(&self, seq: u64) -> Result<String, DomainError> {
        if seq == 0 || seq > self.max() {
            return Err(DomainError::NumbersExhausted {
                prefix: self.prefix.clone(),
                width: self.width,
                seq,
            });
        }
        Ok(format!(
            "{}{:0width$}",
            self.prefix,
            seq,
            width = usize::from(self.width)
        ))
    }

    fn parse(&self, what: &'static str, s: &str) -> Result<u64, DomainError> {
        let expected = || {
            format!(
                "{} followed by {} digits, e.g. {}{:0w$}",
                self.prefix,
                self.width,
                self.prefix,
                1,
                w = usize::from(self.width)
            )
        };
        let digits = s
            .strip_prefix(self.prefix.as_str())
            .filter(|d| d.len() == usize::from(self.width) && d.chars().all(|c| c.is_ascii_digit()))
            .ok_or_else(|| DomainError::invalid(what, s, &expected()))?;
        match digits.parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(DomainError::invalid(what, s, &expected())),
        }
    }
}

macro_rules! site_number {
    ($name:ident, $what:literal) => {
        #[doc = concat!("A ", $what, " as one site writes it: prefix and zero-padded sequence.")]
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The `seq`-th number of a site with this format (1-based).
            pub fn new(format: &NumberFormat, seq: u64) -> Result<$name, DomainError> {
                format.format(seq).map($name)
            }

            /// Checks that `s` is a number of the site with this format: another site's number
            /// is refused, naming both.
            pub fn parse(format: &NumberFormat, s: &str) -> Result<$name, DomainError> {
                format
                    .parse($what, s.trim())
                    .map(|_| $name(s.trim().to_string()))
            }

            /// The sequence number inside it.
            pub fn seq(&self, format: &NumberFormat) -> Result<u64, DomainError> {
                format.parse($what, &self.0)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// A number written by another site, taken as it is (it is that site's to check).
            pub fn foreign(s: &str) -> $name {
                $name(s.to_string())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

site_number!(RegistrationNumber, "registration number");
site_number!(ReceptionNumber, "reception number");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_numbers() {
        let lab = NumberFormat::new("B", 7).unwrap();
        let counter = NumberFormat::new("X", 7).unwrap();
        assert_eq!(
            ReceptionNumber::new(&lab, 456).unwrap().as_str(),
            "B0000456"
        );
        assert_eq!(
            ReceptionNumber::new(&counter, 1004).unwrap().as_str(),
            "X0001004"
        );
        assert_eq!(
            ReceptionNumber::parse(&lab, "B0000456")
                .unwrap()
                .seq(&lab)
                .unwrap(),
            456
        );
    }

    #[test]
    fn another_sites_number_is_refused_naming_it() {
        let lab = NumberFormat::new("B", 7).unwrap();
        let err = ReceptionNumber::parse(&lab, "X0001004")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("X0001004")
                && err.contains("reception number")
                && err.contains("B0000001"),
            "{err}"
        );
        for bad in ["B456", "B00004567", "B000045a", "B0000000", ""] {
            assert!(ReceptionNumber::parse(&lab, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_are_validated_and_exhaust_cleanly() {
        assert!(NumberFormat::new("b", 7).is_err());
        assert!(NumberFormat::new("", 7).is_err());
        assert!(NumberFormat::new("B", 2).is_err());
        let f = NumberFormat::new("R", 4).unwrap();
        assert_eq!(RegistrationNumber::new(&f, 9999).unwrap().as_str(), "R9999");
        assert!(matches!(
            RegistrationNumber::new(&f, 10000),
            Err(DomainError::NumbersExhausted { .. })
        ));
        assert!(RegistrationNumber::new(&f, 0).is_err());
    }
}
