//! The lab's reception in production (seed 004, Fig. 1 step 3 and Fig. 2 step 4): from the
//! reception of an order to the settlement of its charge.
//!
//! ```text
//! received -> printing -> printed -> dispatched -> collected -> settled
//!     |           |           |
//!     +-----------+-----------+--> rejected   (by the operator, until dispatch)
//!     +--> cancelled                          (by the user, until printing starts)
//! ```
//!
//! - **Cancel** (the user, through the sender): only while the reception is `received`; once
//!   printing has started the order goes on and the refusal says the cancellation came too late.
//! - **Reject** (the operator, with a reason): until the prints are dispatched. A reception
//!   whose jobs were written to the printers' hot folders (`printing`, `printed`) says so in
//!   its event: the jobs must be withdrawn (an effect after commit).
//! - **Reject one image** (the operator, with a reason): until dispatch, as long as another
//!   image of the order is still to be printed; the last one is rejected with the reception.
//! - **Collected** and **settled** come from the delivery counter's messages, which may overtake
//!   each other or arrive again: a repeat changes nothing, a collection is taken at any stage
//!   before it (the counter has the prints), a settlement after dispatch.
//!
//! Decider shape as the individual user file: [`decide`] never reads a clock (times are in the
//! commands), [`evolve`] folds an event into the state.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ImageId;
use crate::error::{Refusal, Refuses};
use crate::protocol::Stage;

/// Where a reception stands in production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductionState {
    Received,
    Printing,
    Printed,
    Dispatched,
    Collected,
    Settled,
    Rejected,
    Cancelled,
}

impl ProductionState {
    pub const ALL: [ProductionState; 8] = [
        ProductionState::Received,
        ProductionState::Printing,
        ProductionState::Printed,
        ProductionState::Dispatched,
        ProductionState::Collected,
        ProductionState::Settled,
        ProductionState::Rejected,
        ProductionState::Cancelled,
    ];

    /// The word the lab's tables and console use.
    pub fn as_str(&self) -> &'static str {
        match self {
            ProductionState::Received => "received",
            ProductionState::Printing => "printing",
            ProductionState::Printed => "printed",
            ProductionState::Dispatched => "dispatched",
            ProductionState::Collected => "collected",
            ProductionState::Settled => "settled",
            ProductionState::Rejected => "rejected",
            ProductionState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<ProductionState> {
        ProductionState::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The order's stage on the user's timeline.
    pub fn stage(&self) -> Stage {
        match self {
            ProductionState::Received => Stage::Received,
            ProductionState::Printing => Stage::Printing,
            ProductionState::Printed => Stage::Printed,
            ProductionState::Dispatched => Stage::Dispatched,
            ProductionState::Collected => Stage::Collected,
            ProductionState::Settled => Stage::Settled,
            ProductionState::Rejected => Stage::Rejected,
            ProductionState::Cancelled => Stage::Cancelled,
        }
    }

    /// Whether the reception's jobs are in the printers' hot folders in this state.
    pub fn has_jobs(&self) -> bool {
        matches!(self, ProductionState::Printing | ProductionState::Printed)
    }

    /// Whether nothing more is made of the reception (it may still be collected and settled).
    pub fn is_closed(&self) -> bool {
        matches!(
            self,
            ProductionState::Settled | ProductionState::Rejected | ProductionState::Cancelled
        )
    }
}

impl std::fmt::Display for ProductionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reception in production: nothing before it is received.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Production {
    pub state: Option<ProductionState>,
    /// The images of the order (each once).
    pub images: Vec<ImageId>,
    /// Images the operator rejected one by one.
    pub rejected_images: Vec<ImageId>,
}

impl Production {
    /// A reception that was kept before production had a stream of its own: its state as the
    /// lab's table held it (the events continue from there).
    pub fn resumed(state: ProductionState, images: Vec<ImageId>) -> Production {
        Production {
            state: Some(state),
            images,
            rejected_images: vec![],
        }
    }

    /// The images still to be printed.
    pub fn images_to_print(&self) -> impl Iterator<Item = &ImageId> {
        self.images
            .iter()
            .filter(|i| !self.rejected_images.contains(i))
    }
}

/// What can be asked of a reception in production. `actor` is who asked (an operator's name,
/// "print station (done-marker)", "counter counter-ginza").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The reception was opened in the user file for an order.
    Receive {
        images: Vec<ImageId>,
        at: DateTime<Utc>,
    },
    /// The prints were rendered into the printers' hot folders.
    StartPrinting { actor: String, at: DateTime<Utc> },
    /// The prints are finished (the operator, or the print station's done-markers).
    FinishPrints { actor: String, at: DateTime<Utc> },
    /// The prints left for the delivery counter.
    Dispatch { actor: String, at: DateTime<Utc> },
    /// The operator will not make the order.
    Reject {
        reason: String,
        actor: String,
        at: DateTime<Utc>,
    },
    /// The operator will not print one image of the order (damaged, unprintable).
    RejectImage {
        image: ImageId,
        reason: String,
        actor: String,
        at: DateTime<Utc>,
    },
    /// The user withdrew the order.
    Cancel { reason: String, at: DateTime<Utc> },
    /// The delivery counter handed the prints over and collected the charge.
    RecordCollected { actor: String, at: DateTime<Utc> },
    /// The delivery counter paid the lab its share.
    RecordSettled { actor: String, at: DateTime<Utc> },
}

/// What happened to a reception in production.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Received {
        images: Vec<ImageId>,
        at: DateTime<Utc>,
    },
    PrintingStarted {
        actor: String,
        at: DateTime<Utc>,
    },
    PrintsFinished {
        actor: String,
        at: DateTime<Utc>,
    },
    Dispatched {
        actor: String,
        at: DateTime<Utc>,
    },
    /// `withdraw_jobs`: the reception's jobs are in the hot folders and must leave them.
    Rejected {
        reason: String,
        actor: String,
        at: DateTime<Utc>,
        withdraw_jobs: bool,
    },
    ImageRejected {
        image: ImageId,
        reason: String,
        actor: String,
        at: DateTime<Utc>,
        withdraw_jobs: bool,
    },
    Cancelled {
        reason: String,
        at: DateTime<Utc>,
    },
    Collected {
        actor: String,
        at: DateTime<Utc>,
    },
    Settled {
        actor: String,
        at: DateTime<Utc>,
    },
}

impl Event {
    /// A stable name of the event's type, for envelopes.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::Received { .. } => "production.received",
            Event::PrintingStarted { .. } => "production.printing_started",
            Event::PrintsFinished { .. } => "production.prints_finished",
            Event::Dispatched { .. } => "production.dispatched",
            Event::Rejected { .. } => "production.rejected",
            Event::ImageRejected { .. } => "production.image_rejected",
            Event::Cancelled { .. } => "production.cancelled",
            Event::Collected { .. } => "production.collected",
            Event::Settled { .. } => "production.settled",
        }
    }

    pub const TYPES: [&'static str; 9] = [
        "production.received",
        "production.printing_started",
        "production.prints_finished",
        "production.dispatched",
        "production.rejected",
        "production.image_rejected",
        "production.cancelled",
        "production.collected",
        "production.settled",
    ];

    /// The state the reception is in after this event (`None`: it stays where it was).
    pub fn state_after(&self) -> Option<ProductionState> {
        Some(match self {
            Event::Received { .. } => ProductionState::Received,
            Event::PrintingStarted { .. } => ProductionState::Printing,
            Event::PrintsFinished { .. } => ProductionState::Printed,
            Event::Dispatched { .. } => ProductionState::Dispatched,
            Event::Rejected { .. } => ProductionState::Rejected,
            Event::Cancelled { .. } => ProductionState::Cancelled,
            Event::Collected { .. } => ProductionState::Collected,
            Event::Settled { .. } => ProductionState::Settled,
            Event::ImageRejected { .. } => return None,
        })
    }

    /// When it happened and who did it, for the production log.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Event::Received { at, .. }
            | Event::PrintingStarted { at, .. }
            | Event::PrintsFinished { at, .. }
            | Event::Dispatched { at, .. }
            | Event::Rejected { at, .. }
            | Event::ImageRejected { at, .. }
            | Event::Cancelled { at, .. }
            | Event::Collected { at, .. }
            | Event::Settled { at, .. } => *at,
        }
    }
}

/// Why a reception cannot do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductionError {
    #[error("the order has not been received here")]
    NotReceived,
    #[error("the reception is {state}: {action} is not possible")]
    WrongState {
        state: ProductionState,
        action: &'static str,
    },
    #[error("the cancellation came too late: the reception is {state}; the order goes on")]
    TooLateToCancel { state: ProductionState },
    #[error("a reason of 1 to 500 characters is needed")]
    ReasonNeeded,
    #[error("image {image} is not one of this order's images")]
    UnknownImage { image: String },
    #[error("image {image} is the last one to print: reject the whole reception instead")]
    LastImage { image: String },
}

impl Refuses for ProductionError {
    fn refusal(&self) -> Refusal {
        match self {
            ProductionError::NotReceived => Refusal::NotFound,
            ProductionError::ReasonNeeded | ProductionError::UnknownImage { .. } => {
                Refusal::Invalid
            }
            _ => Refusal::Conflict,
        }
    }
}

fn reason_of(reason: &str) -> Result<String, ProductionError> {
    let r = reason.trim();
    if r.is_empty() || r.chars().count() > 500 || r.chars().any(char::is_control) {
        return Err(ProductionError::ReasonNeeded);
    }
    Ok(r.to_string())
}

/// The decision: which events a command makes, or why it is refused.
pub fn decide(p: &Production, command: Command) -> Result<Vec<Event>, ProductionError> {
    use ProductionState as S;
    let Some(state) = p.state else {
        return match command {
            Command::Receive { mut images, at } => {
                let mut seen = std::collections::HashSet::new();
                images.retain(|i| seen.insert(*i));
                Ok(vec![Event::Received { images, at }])
            }
            _ => Err(ProductionError::NotReceived),
        };
    };
    let wrong = |action| ProductionError::WrongState { state, action };
    match command {
        // A redelivered order: received once.
        Command::Receive { .. } => Ok(vec![]),
        Command::StartPrinting { actor, at } => match state {
            S::Received => Ok(vec![Event::PrintingStarted { actor, at }]),
            _ => Err(wrong("starting to print")),
        },
        Command::FinishPrints { actor, at } => match state {
            S::Printing => Ok(vec![Event::PrintsFinished { actor, at }]),
            _ => Err(wrong("marking the prints finished")),
        },
        Command::Dispatch { actor, at } => match state {
            S::Printed => Ok(vec![Event::Dispatched { actor, at }]),
            _ => Err(wrong("dispatching")),
        },
        Command::Reject { reason, actor, at } => {
            let reason = reason_of(&reason)?;
            match state {
                S::Received | S::Printing | S::Printed => Ok(vec![Event::Rejected {
                    reason,
                    actor,
                    at,
                    withdraw_jobs: state.has_jobs(),
                }]),
                S::Rejected => Ok(vec![]),
                _ => Err(wrong("rejecting")),
            }
        }
        Command::RejectImage {
            image,
            reason,
            actor,
            at,
        } => {
            let reason = reason_of(&reason)?;
            if !p.images.contains(&image) {
                return Err(ProductionError::UnknownImage {
                    image: image.short(),
                });
            }
            if p.rejected_images.contains(&image) {
                return Ok(vec![]);
            }
            match state {
                S::Received | S::Printing | S::Printed => {
                    if p.images_to_print().all(|i| *i == image) {
                        return Err(ProductionError::LastImage {
                            image: image.short(),
                        });
                    }
                    Ok(vec![Event::ImageRejected {
                        image,
                        reason,
                        actor,
                        at,
                        withdraw_jobs: state.has_jobs(),
                    }])
                }
                _ => Err(wrong("rejecting an image")),
            }
        }
        Command::Cancel { reason, at } => match state {
            S::Received => Ok(vec![Event::Cancelled {
                reason: reason.trim().chars().take(500).collect(),
                at,
            }]),
            S::Cancelled | S::Rejected => Ok(vec![]),
            _ => Err(ProductionError::TooLateToCancel { state }),
        },
        Command::RecordCollected { actor, at } => match state {
            S::Received | S::Printing | S::Printed | S::Dispatched => {
                Ok(vec![Event::Collected { actor, at }])
            }
            S::Collected | S::Settled => Ok(vec![]),
            S::Rejected | S::Cancelled => Err(wrong("recording a collection")),
        },
        Command::RecordSettled { actor, at } => match state {
            S::Dispatched | S::Collected => Ok(vec![Event::Settled { actor, at }]),
            S::Settled => Ok(vec![]),
            _ => Err(wrong("recording a settlement")),
        },
    }
}

/// The evolution: the reception after an event.
pub fn evolve(mut p: Production, event: &Event) -> Production {
    match event {
        Event::Received { images, .. } => {
            p.images = images.clone();
            p.state = Some(ProductionState::Received);
        }
        Event::ImageRejected { image, .. } => {
            if !p.rejected_images.contains(image) {
                p.rejected_images.push(*image);
            }
        }
        other => p.state = other.state_after(),
    }
    p
}

/// Folds a stream of events into a reception.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> Production {
    events.into_iter().fold(Production::default(), evolve)
}

/// The charge of reception `number` of `file` with the images in `rejected` left out, decided
/// again by the same rules as when it was opened (`rules`, the file before the reception, the
/// reception's time; `evidence` as it was then): the rejected images' print lines go and with
/// them their discounts; the basic charge and the other prints stay, and every discount is
/// found again (under the per-image basis, a discount earned by a rejected image alone goes).
/// `None` when no image is left (the order is rejected, not amended).
pub fn amended_charge(
    rules: &crate::SiteRules,
    file: &crate::file::UserFile,
    number: &crate::ReceptionNumber,
    rejected: &[ImageId],
    evidence: &[crate::charge::EarlierPrint],
) -> Result<Option<crate::Charge>, crate::DomainError> {
    let Some(reception) = file.reception(number) else {
        return Err(crate::DomainError::UnknownReception {
            number: number.to_string(),
        });
    };
    let items: Vec<crate::file::OrderItem> = reception
        .items
        .iter()
        .filter(|i| !rejected.contains(&i.image))
        .cloned()
        .collect();
    if items.is_empty() {
        return Ok(None);
    }
    let digital_copy = reception
        .charge
        .lines
        .iter()
        .any(|l| l.kind == crate::charge::LineKind::DigitalCopy);
    let mut before = file.clone();
    before.receptions.retain(|r| &r.number != number);
    crate::charge::determine_charge_with(
        rules,
        &before,
        &items,
        digital_copy,
        evidence,
        reception.received_at,
    )
    .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, h, 0, 0).unwrap()
    }

    fn img(n: u8) -> ImageId {
        ImageId::of_bytes(&[n])
    }

    fn op() -> String {
        "operator".into()
    }

    /// given the events, when the command, then the events or the refusal.
    fn given(events: &[Event]) -> Production {
        replay(events)
    }

    fn received() -> Event {
        Event::Received {
            images: vec![img(1), img(2)],
            at: at(9),
        }
    }

    fn printing() -> Event {
        Event::PrintingStarted {
            actor: op(),
            at: at(10),
        }
    }

    fn printed() -> Event {
        Event::PrintsFinished {
            actor: op(),
            at: at(11),
        }
    }

    fn dispatched() -> Event {
        Event::Dispatched {
            actor: op(),
            at: at(12),
        }
    }

    fn collected() -> Event {
        Event::Collected {
            actor: "counter counter-ginza".into(),
            at: at(15),
        }
    }

    #[test]
    fn a_reception_goes_from_received_to_settled() {
        let mut p = Production::default();
        let steps = [
            Command::Receive {
                images: vec![img(1), img(1), img(2)],
                at: at(9),
            },
            Command::StartPrinting {
                actor: op(),
                at: at(10),
            },
            Command::FinishPrints {
                actor: "print station (done-marker)".into(),
                at: at(11),
            },
            Command::Dispatch {
                actor: op(),
                at: at(12),
            },
            Command::RecordCollected {
                actor: "counter counter-ginza".into(),
                at: at(15),
            },
            Command::RecordSettled {
                actor: "counter counter-ginza".into(),
                at: at(16),
            },
        ];
        let expected = [
            ProductionState::Received,
            ProductionState::Printing,
            ProductionState::Printed,
            ProductionState::Dispatched,
            ProductionState::Collected,
            ProductionState::Settled,
        ];
        for (command, state) in steps.into_iter().zip(expected) {
            let events = decide(&p, command).unwrap();
            assert_eq!(events.len(), 1);
            p = events.iter().fold(p, evolve);
            assert_eq!(p.state, Some(state));
        }
        assert_eq!(p.images, vec![img(1), img(2)], "each image once");
        assert_eq!(p.state.unwrap().stage(), Stage::Settled);
    }

    #[test]
    fn nothing_happens_to_an_order_not_received() {
        let p = Production::default();
        assert_eq!(
            decide(
                &p,
                Command::Cancel {
                    reason: "x".into(),
                    at: at(9)
                }
            ),
            Err(ProductionError::NotReceived)
        );
        assert_eq!(
            decide(
                &p,
                Command::StartPrinting {
                    actor: op(),
                    at: at(9)
                }
            ),
            Err(ProductionError::NotReceived)
        );
    }

    #[test]
    fn a_redelivered_order_is_received_once() {
        let p = given(&[received()]);
        assert_eq!(
            decide(
                &p,
                Command::Receive {
                    images: vec![img(3)],
                    at: at(10)
                }
            ),
            Ok(vec![])
        );
    }

    #[test]
    fn each_step_only_from_the_one_before() {
        let p = given(&[received()]);
        assert_eq!(
            decide(
                &p,
                Command::FinishPrints {
                    actor: op(),
                    at: at(10)
                }
            ),
            Err(ProductionError::WrongState {
                state: ProductionState::Received,
                action: "marking the prints finished"
            })
        );
        assert!(
            decide(
                &p,
                Command::Dispatch {
                    actor: op(),
                    at: at(10)
                }
            )
            .is_err()
        );
        let p = given(&[received(), printing()]);
        assert!(
            decide(
                &p,
                Command::StartPrinting {
                    actor: op(),
                    at: at(10)
                }
            )
            .is_err()
        );
        assert!(
            decide(
                &p,
                Command::Dispatch {
                    actor: op(),
                    at: at(10)
                }
            )
            .is_err()
        );
        let p = given(&[received(), printing(), printed(), dispatched()]);
        let e = decide(
            &p,
            Command::Dispatch {
                actor: op(),
                at: at(13),
            },
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the reception is dispatched: dispatching is not possible"
        );
        assert_eq!(e.refusal(), Refusal::Conflict);
    }

    #[test]
    fn the_user_may_cancel_until_printing_starts() {
        let p = given(&[received()]);
        assert_eq!(
            decide(
                &p,
                Command::Cancel {
                    reason: " changed my mind ".into(),
                    at: at(9)
                }
            ),
            Ok(vec![Event::Cancelled {
                reason: "changed my mind".into(),
                at: at(9)
            }])
        );
        let cancelled = given(&[
            received(),
            Event::Cancelled {
                reason: "x".into(),
                at: at(9),
            },
        ]);
        assert_eq!(cancelled.state, Some(ProductionState::Cancelled));
        assert_eq!(
            decide(
                &cancelled,
                Command::Cancel {
                    reason: "x".into(),
                    at: at(10)
                }
            ),
            Ok(vec![]),
            "a redelivered cancellation changes nothing"
        );
        assert!(
            decide(
                &cancelled,
                Command::StartPrinting {
                    actor: op(),
                    at: at(10)
                }
            )
            .is_err()
        );
        for late in [
            given(&[received(), printing()]),
            given(&[received(), printing(), printed()]),
            given(&[received(), printing(), printed(), dispatched()]),
        ] {
            let e = decide(
                &late,
                Command::Cancel {
                    reason: "x".into(),
                    at: at(13),
                },
            )
            .unwrap_err();
            assert!(matches!(e, ProductionError::TooLateToCancel { .. }));
            assert!(
                e.to_string().starts_with("the cancellation came too late"),
                "{e}"
            );
        }
    }

    #[test]
    fn the_operator_may_reject_until_dispatch_and_jobs_written_are_withdrawn() {
        let reject = || Command::Reject {
            reason: "image damaged".into(),
            actor: op(),
            at: at(11),
        };
        let before_printing = decide(&given(&[received()]), reject()).unwrap();
        assert!(matches!(
            before_printing.as_slice(),
            [Event::Rejected {
                withdraw_jobs: false,
                ..
            }]
        ));
        for with_jobs in [
            given(&[received(), printing()]),
            given(&[received(), printing(), printed()]),
        ] {
            let events = decide(&with_jobs, reject()).unwrap();
            assert!(
                matches!(
                    events.as_slice(),
                    [Event::Rejected {
                        withdraw_jobs: true,
                        ..
                    }]
                ),
                "{events:?}"
            );
            assert_eq!(
                events.iter().fold(with_jobs, evolve).state,
                Some(ProductionState::Rejected)
            );
        }
        let dispatched = given(&[received(), printing(), printed(), dispatched()]);
        assert!(matches!(
            decide(&dispatched, reject()),
            Err(ProductionError::WrongState {
                action: "rejecting",
                ..
            })
        ));
        let rejected = given(&[
            received(),
            Event::Rejected {
                reason: "x".into(),
                actor: op(),
                at: at(10),
                withdraw_jobs: false,
            },
        ]);
        assert_eq!(decide(&rejected, reject()), Ok(vec![]), "a second click");
        assert!(
            decide(
                &rejected,
                Command::StartPrinting {
                    actor: op(),
                    at: at(12)
                }
            )
            .is_err()
        );
    }

    #[test]
    fn a_rejection_needs_a_reason() {
        for reason in ["", "   ", "bad\u{0}", &"x".repeat(501)] {
            assert_eq!(
                decide(
                    &given(&[received()]),
                    Command::Reject {
                        reason: reason.into(),
                        actor: op(),
                        at: at(10)
                    }
                ),
                Err(ProductionError::ReasonNeeded)
            );
        }
    }

    #[test]
    fn one_image_may_be_rejected_while_another_is_printed() {
        let p = given(&[received(), printing()]);
        let reject = |image| Command::RejectImage {
            image,
            reason: "scan data damaged".into(),
            actor: op(),
            at: at(10),
        };
        let events = decide(&p, reject(img(2))).unwrap();
        assert!(matches!(
            events.as_slice(),
            [Event::ImageRejected {
                withdraw_jobs: true,
                ..
            }]
        ));
        let p = events.iter().fold(p, evolve);
        assert_eq!(p.state, Some(ProductionState::Printing), "the rest goes on");
        assert_eq!(p.images_to_print().collect::<Vec<_>>(), vec![&img(1)]);
        assert_eq!(decide(&p, reject(img(2))), Ok(vec![]), "twice is once");
        assert_eq!(
            decide(&p, reject(img(1))),
            Err(ProductionError::LastImage {
                image: img(1).short()
            })
        );
        assert_eq!(
            decide(&p, reject(img(9))),
            Err(ProductionError::UnknownImage {
                image: img(9).short()
            })
        );
    }

    #[test]
    fn the_counters_messages_may_overtake_each_other_or_repeat() {
        // The collection may arrive before the lab saw its own dispatch through (any stage
        // before); a repeat is nothing.
        let p = given(&[received(), printing(), printed()]);
        assert!(matches!(
            decide(
                &p,
                Command::RecordCollected {
                    actor: op(),
                    at: at(15)
                }
            )
            .unwrap()
            .as_slice(),
            [Event::Collected { .. }]
        ));
        let p = given(&[received(), printing(), printed(), dispatched(), collected()]);
        assert_eq!(
            decide(
                &p,
                Command::RecordCollected {
                    actor: op(),
                    at: at(15)
                }
            ),
            Ok(vec![])
        );
        // Settled after dispatch, collected or not.
        let p = given(&[received(), printing(), printed(), dispatched()]);
        assert!(
            decide(
                &p,
                Command::RecordSettled {
                    actor: op(),
                    at: at(16)
                }
            )
            .is_ok()
        );
        let p = given(&[received(), printing()]);
        assert!(
            decide(
                &p,
                Command::RecordSettled {
                    actor: op(),
                    at: at(16)
                }
            )
            .is_err()
        );
        let settled = given(&[
            received(),
            printing(),
            printed(),
            dispatched(),
            collected(),
            Event::Settled {
                actor: op(),
                at: at(16),
            },
        ]);
        assert_eq!(
            decide(
                &settled,
                Command::RecordSettled {
                    actor: op(),
                    at: at(17)
                }
            ),
            Ok(vec![])
        );
        // Nothing is collected of an order that was never made.
        let rejected = given(&[
            received(),
            Event::Rejected {
                reason: "x".into(),
                actor: op(),
                at: at(10),
                withdraw_jobs: false,
            },
        ]);
        assert!(
            decide(
                &rejected,
                Command::RecordCollected {
                    actor: op(),
                    at: at(15)
                }
            )
            .is_err()
        );
    }

    #[test]
    fn states_read_and_write_as_the_lab_writes_them() {
        for s in ProductionState::ALL {
            assert_eq!(ProductionState::parse(s.as_str()), Some(s));
            assert_eq!(s.stage().as_str(), s.as_str());
        }
        assert_eq!(ProductionState::parse("ready"), None);
    }
}
