//! Exact money: integer minor units plus an ISO 4217 currency. No floats anywhere in a charge.
//!
//! **The rounding rule** (the one rule every percentage in reprint follows): a percentage of an
//! amount is rounded half up to the currency's minor unit, on the magnitude. A 50 % discount of
//! 125 yen is 63 yen (62.5 rounds up), so the customer pays 62. Discounts are computed and
//! rounded once per charge line, and the total is the exact sum of the lines.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::DomainError;

/// An ISO 4217 currency that reprint knows the minor unit of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency {
    code: [u8; 3],
    minor_digits: u8,
}

/// (code, digits after the decimal point). ISO 4217's list for the currencies of the
/// countries a photo-print network plausibly runs in.
const CURRENCIES: &[(&str, u8)] = &[
    ("JPY", 0),
    ("KRW", 0),
    ("ISK", 0),
    ("CLP", 0),
    ("VND", 0),
    ("HUF", 2),
    ("EUR", 2),
    ("USD", 2),
    ("GBP", 2),
    ("CHF", 2),
    ("CAD", 2),
    ("AUD", 2),
    ("NZD", 2),
    ("SEK", 2),
    ("NOK", 2),
    ("DKK", 2),
    ("PLN", 2),
    ("CZK", 2),
    ("CNY", 2),
    ("HKD", 2),
    ("SGD", 2),
    ("TWD", 2),
    ("THB", 2),
    ("INR", 2),
    ("BRL", 2),
    ("MXN", 2),
    ("ZAR", 2),
    ("KWD", 3),
    ("BHD", 3),
    ("JOD", 3),
    ("TND", 3),
];

impl Currency {
    pub const JPY: Currency = Currency {
        code: *b"JPY",
        minor_digits: 0,
    };
    pub const EUR: Currency = Currency {
        code: *b"EUR",
        minor_digits: 2,
    };
    pub const USD: Currency = Currency {
        code: *b"USD",
        minor_digits: 2,
    };

    /// An ISO 4217 code, e.g. `JPY`. An unknown code is an error naming it.
    pub fn parse(code: &str) -> Result<Currency, DomainError> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(c, d)| {
                let b = c.as_bytes();
                Currency {
                    code: [b[0], b[1], b[2]],
                    minor_digits: *d,
                }
            })
            .ok_or_else(|| {
                DomainError::invalid("currency", code, "a known ISO 4217 code such as JPY or EUR")
            })
    }

    pub fn code(&self) -> &str {
        // Invariant: built only from the ASCII table above.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// Digits after the decimal point: 0 for JPY, 2 for EUR.
    pub fn minor_digits(&self) -> u8 {
        self.minor_digits
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl TryFrom<String> for Currency {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Currency::parse(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_string()
    }
}

/// An amount: minor units (yen, cents) of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    pub fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }

    /// Adding two currencies is an error, as is overflow.
    pub fn checked_add(self, other: Money) -> Result<Money, DomainError> {
        self.same_currency(&other)?;
        self.minor
            .checked_add(other.minor)
            .map(|m| Money::new(m, self.currency))
            .ok_or(DomainError::Overflow)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, DomainError> {
        self.same_currency(&other)?;
        self.minor
            .checked_sub(other.minor)
            .map(|m| Money::new(m, self.currency))
            .ok_or(DomainError::Overflow)
    }

    pub fn checked_mul(self, n: u32) -> Result<Money, DomainError> {
        self.minor
            .checked_mul(i64::from(n))
            .map(|m| Money::new(m, self.currency))
            .ok_or(DomainError::Overflow)
    }

    pub fn negate(self) -> Money {
        Money::new(-self.minor, self.currency)
    }

    /// `percent` % of this amount, rounded half up on the magnitude (the module's rule).
    pub fn percent(self, percent: Percent) -> Money {
        let p = i128::from(percent.get());
        let m = i128::from(self.minor);
        let mag = (m.abs() * p + 50) / 100;
        let signed = if m < 0 { -mag } else { mag };
        // |result| <= |minor| because percent <= 100, so it fits back into i64.
        Money::new(i64::try_from(signed).unwrap_or(self.minor), self.currency)
    }

    fn same_currency(&self, other: &Money) -> Result<(), DomainError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(DomainError::CurrencyMismatch {
                left: self.currency.to_string(),
                right: other.currency.to_string(),
            })
        }
    }

    /// Sums amounts of one currency; an empty list is zero of `currency`.
    pub fn sum<'a>(
        currency: Currency,
        items: impl IntoIterator<Item = &'a Money>,
    ) -> Result<Money, DomainError> {
        items
            .into_iter()
            .try_fold(Money::zero(currency), |acc, m| acc.checked_add(*m))
    }
}

impl fmt::Display for Money {
    /// `250 JPY`, `12.50 EUR`, `-0.05 EUR`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = u32::from(self.currency.minor_digits());
        if d == 0 {
            return write!(f, "{} {}", self.minor, self.currency);
        }
        let scale = 10i64.pow(d);
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        let scale_u = scale.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:0w$} {}",
            abs / scale_u,
            abs % scale_u,
            self.currency,
            w = d as usize
        )
    }
}

/// A whole percentage from 0 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Percent(u8);

impl Percent {
    pub const FULL: Percent = Percent(100);
    pub const HALF: Percent = Percent(50);

    pub fn new(p: u8) -> Result<Percent, DomainError> {
        if p <= 100 {
            Ok(Percent(p))
        } else {
            Err(DomainError::invalid("percent", &p.to_string(), "0 to 100"))
        }
    }

    pub fn get(&self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Percent {
    type Error = DomainError;
    fn try_from(p: u8) -> Result<Self, Self::Error> {
        Percent::new(p)
    }
}

impl From<Percent> for u8 {
    fn from(p: Percent) -> u8 {
        p.0
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} %", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_follow_iso_4217() {
        assert_eq!(Currency::parse("JPY").unwrap().minor_digits(), 0);
        assert_eq!(Currency::parse("EUR").unwrap().minor_digits(), 2);
        let err = Currency::parse("XYZ").unwrap_err().to_string();
        assert!(err.contains("XYZ") && err.contains("currency"), "{err}");
        assert_eq!(Money::new(250, Currency::JPY).to_string(), "250 JPY");
        assert_eq!(Money::new(1250, Currency::EUR).to_string(), "12.50 EUR");
        assert_eq!(Money::new(-5, Currency::EUR).to_string(), "-0.05 EUR");
    }

    #[test]
    fn adding_two_currencies_is_an_error() {
        let err = Money::new(1, Currency::JPY)
            .checked_add(Money::new(1, Currency::EUR))
            .unwrap_err();
        assert!(matches!(err, DomainError::CurrencyMismatch { .. }));
        assert!(
            Money::new(i64::MAX, Currency::JPY)
                .checked_add(Money::new(1, Currency::JPY))
                .is_err()
        );
    }

    #[test]
    fn percentages_round_half_up() {
        let half = Percent::new(50).unwrap();
        assert_eq!(Money::new(250, Currency::JPY).percent(half).minor, 125);
        assert_eq!(Money::new(125, Currency::JPY).percent(half).minor, 63);
        assert_eq!(Money::new(-125, Currency::JPY).percent(half).minor, -63);
        assert_eq!(
            Money::new(3, Currency::JPY)
                .percent(Percent::new(33).unwrap())
                .minor,
            1
        );
        assert_eq!(
            Money::new(250, Currency::JPY).percent(Percent::FULL).minor,
            250
        );
        assert!(Percent::new(101).is_err());
    }
}
