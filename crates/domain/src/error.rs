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
