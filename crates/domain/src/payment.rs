//! One payment at the delivery counter (seed 004: the counter "charges the user the total
//! amount of the reported charge and the charge determined by the determiner"): the amount due
//! (lab + counter, `charge::amount_due`) is paid at once, by cash with change, or by another
//! method for the amount exactly. What staff type is bounded: cash tendered is at least the
//! amount due and at most [`MAX_CHANGE_MAJOR`] of the currency's major unit more (a note too
//! many is a typing slip, not a payment).

use crate::error::{Refusal, Refuses};
use crate::money::Money;

/// The most change a cash payment may give, in the currency's major unit (10,000 yen: the
/// largest banknote; 10,000 dollars).
pub const MAX_CHANGE_MAJOR: i64 = 10_000;

/// A payment taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tendered {
    pub due: Money,
    pub tendered: Money,
    pub change: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    #[error("{tendered} tendered is less than the amount due, {due}")]
    TooLittle { tendered: Money, due: Money },
    #[error("{tendered} tendered is more than the amount due, {due}, plus {most} in change")]
    TooMuch {
        tendered: Money,
        due: Money,
        most: Money,
    },
    #[error("a {method} payment is for the amount due exactly ({due}), not {tendered}")]
    NotExact {
        method: String,
        tendered: Money,
        due: Money,
    },
}

impl Refuses for PaymentError {
    fn refusal(&self) -> Refusal {
        Refusal::Invalid
    }
}

/// Takes a payment of `due` by `method` (`cash` gives change); `tendered` absent is the amount
/// due exactly; `tendered` is in the minor unit of `due`'s currency.
pub fn take_payment(
    method: &str,
    tendered: Option<i64>,
    due: Money,
) -> Result<Tendered, PaymentError> {
    let tendered = Money::new(tendered.unwrap_or(due.minor), due.currency);
    if tendered.minor < due.minor {
        return Err(PaymentError::TooLittle { tendered, due });
    }
    if method != "cash" && tendered.minor != due.minor {
        return Err(PaymentError::NotExact {
            method: method.to_string(),
            tendered,
            due,
        });
    }
    let most = Money::new(
        MAX_CHANGE_MAJOR.saturating_mul(10i64.pow(u32::from(due.currency.minor_digits()))),
        due.currency,
    );
    if tendered.minor - due.minor > most.minor {
        return Err(PaymentError::TooMuch {
            tendered,
            due,
            most,
        });
    }
    Ok(Tendered {
        due,
        tendered,
        change: Money::new(tendered.minor - due.minor, due.currency),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn yen(n: i64) -> Money {
        Money::new(n, Currency::parse("JPY").unwrap())
    }

    #[test]
    fn the_seeds_order_paid_in_cash_with_change() {
        // Fig. 1: lab 250 + counter 250 due; a 1,000 yen note.
        let t = take_payment("cash", Some(1_000), yen(500)).unwrap();
        assert_eq!((t.tendered, t.change), (yen(1_000), yen(500)));
        let exact = take_payment("card", None, yen(500)).unwrap();
        assert_eq!(exact.change, yen(0));
        // A 10,000 yen note for 890 yen.
        assert_eq!(
            take_payment("cash", Some(10_000), yen(890)).unwrap().change,
            yen(9_110)
        );
    }

    #[test]
    fn what_staff_type_is_bounded() {
        assert!(matches!(
            take_payment("cash", Some(499), yen(500)),
            Err(PaymentError::TooLittle { .. })
        ));
        let e = take_payment("cash", Some(i64::MAX), yen(500)).unwrap_err();
        assert!(matches!(e, PaymentError::TooMuch { .. }), "{e}");
        assert!(matches!(
            take_payment("cash", Some(20_890), yen(890)),
            Err(PaymentError::TooMuch { .. })
        ));
        assert!(matches!(
            take_payment("card", Some(1_000), yen(500)),
            Err(PaymentError::NotExact { .. })
        ));
        let usd = Money::new(1_250, Currency::parse("USD").unwrap());
        assert!(take_payment("cash", Some(1_000_000 + 1_250), usd).is_ok());
        assert!(take_payment("cash", Some(1_000_001 + 1_250), usd).is_err());
    }
}
