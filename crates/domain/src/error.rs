//! The domain's one error type. Every message names the field and the value it refuses.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// A value that does not parse or validate.
    #[error("invalid {field} `{value}`: expected {expected}")]
    Invalid {
        field: String,
        value: String,
        expected: String,
    },

    #[error("cannot add or compare {left} with {right}")]
    CurrencyMismatch { left: String, right: String },

    #[error("amount out of range")]
    Overflow,

    #[error("numbers with prefix {prefix} and width {width} are exhausted (next would be {seq})")]
    NumbersExhausted { prefix: String, width: u8, seq: u64 },

    #[error("this site has no price for print size {size}")]
    UnknownSize { size: String },

    #[error("an order needs at least one print")]
    EmptyOrder,

    #[error("quantity of {image} at {size} must be 1 to 999, got {quantity}")]
    BadQuantity {
        image: String,
        size: String,
        quantity: u32,
    },

    #[error("the user file is already registered as {number}")]
    AlreadyRegistered { number: String },

    #[error("the user file is not registered yet")]
    NotRegistered,

    #[error("reception number {number} is already used in this file")]
    DuplicateReception { number: String },

    #[error("no reception {number} in this file")]
    UnknownReception { number: String },

    #[error("reception {number} is {state}: {action} is not possible")]
    WrongState {
        number: String,
        state: String,
        action: String,
    },
}

impl DomainError {
    pub fn invalid(field: &str, value: &str, expected: &str) -> DomainError {
        DomainError::Invalid {
            field: field.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }
}

/// What kind of "no" a refusal is, for whoever asked: each service maps this to its status code
/// in one place (`reprint_service::problem::Problem::refused`), so the same refusal reads the
/// same at the gateway, the counter and the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The request itself is wrong (a value, a size, an edit): 422.
    Invalid,
    /// What it names is not there: 404.
    NotFound,
    /// It is not possible in the state things are in now: 409.
    Conflict,
}

/// An error of the domain that says what kind of refusal it is.
pub trait Refuses: std::fmt::Display {
    fn refusal(&self) -> Refusal;
}

impl Refuses for DomainError {
    fn refusal(&self) -> Refusal {
        match self {
            DomainError::UnknownReception { .. } => Refusal::NotFound,
            DomainError::WrongState { .. }
            | DomainError::AlreadyRegistered { .. }
            | DomainError::DuplicateReception { .. }
            | DomainError::NumbersExhausted { .. } => Refusal::Conflict,
            _ => Refusal::Invalid,
        }
    }
}
