//! A site's number sequences: registration numbers and reception numbers, issued one after
//! the other with no gap. The aggregate only says which number is next; the service appends
//! the issue in the same transaction as the file that uses the number, with an expected
//! version, so that two numbers are never issued twice and none is skipped.

use serde::{Deserialize, Serialize};

use crate::{DomainError, NumberFormat};

/// Which sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SequenceKind {
    Registration,
    Reception,
}

impl SequenceKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            SequenceKind::Registration => "registration",
            SequenceKind::Reception => "reception",
        }
    }
}

/// The last number issued (0 before the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Sequence {
    pub last: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Issue { format: NumberFormat },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Issued { seq: u64, number: String },
}

pub fn decide(state: &Sequence, command: Command) -> Result<Vec<Event>, DomainError> {
    match command {
        Command::Issue { format } => {
            let seq = state.last + 1;
            if seq > format.max() {
                return Err(DomainError::NumbersExhausted {
                    prefix: format.prefix().to_string(),
                    width: format.width(),
                    seq,
                });
            }
            let number = format!(
                "{}{:0w$}",
                format.prefix(),
                seq,
                w = usize::from(format.width())
            );
            Ok(vec![Event::Issued { seq, number }])
        }
    }
}

pub fn evolve(state: Sequence, event: &Event) -> Sequence {
    match event {
        Event::Issued { seq, .. } => Sequence {
            last: (*seq).max(state.last),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReceptionNumber;

    #[test]
    fn numbers_follow_each_other_without_gaps() {
        let format = NumberFormat::new("B", 7).unwrap();
        let mut state = Sequence { last: 455 };
        let events = decide(
            &state,
            Command::Issue {
                format: format.clone(),
            },
        )
        .unwrap();
        assert_eq!(
            events,
            vec![Event::Issued {
                seq: 456,
                number: "B0000456".into()
            }]
        );
        state = evolve(state, &events[0]);
        let Event::Issued { number, .. } = &decide(
            &state,
            Command::Issue {
                format: format.clone(),
            },
        )
        .unwrap()[0];
        assert_eq!(number, "B0000457");
        assert!(ReceptionNumber::parse(&format, number).is_ok());
    }

    #[test]
    fn an_exhausted_sequence_says_so() {
        let format = NumberFormat::new("R", 4).unwrap();
        let err = decide(&Sequence { last: 9999 }, Command::Issue { format }).unwrap_err();
        assert!(err.to_string().contains("exhausted"), "{err}");
    }
}
