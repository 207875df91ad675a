//! The gateway's order of a home user (seed 000, claims 9, 10, 26, 28) with its storage
//! reservation: from the order id a verified user asks for to the stages the network reports.
//!
//! ```text
//! requested (draft) -> storage reserved -> images attached -> placed -> received -> printing
//!     -> printed -> dispatched -> ready_for_pickup -> collected -> settled
//!     draft, placed, received --> cancelled     (by the user, until printing starts)
//!     any stage before an end --> rejected      (by the lab)
//! ```
//!
//! - **Request** (claim 26 a-c): an order id for a verified user; the order is a draft.
//! - **Reserve** (claims 9, 26 d-e): the bytes the order's images need, declared before the
//!   order is submitted, at least what was already uploaded, within the user's quota and the
//!   gateway's free capacity (the sums of the other orders are read by the gateway and passed
//!   in as a [`Quota`]), for a limited time (`ttl`, counted from the command's time).
//! - **Attach an image** (claim 26 f): only against a live reservation with room for its bytes;
//!   the same image again is nothing.
//! - **Submit**: once; the order is `placed`. What the lab would refuse is checked at the door
//!   before this, by [`crate::order_check::check_order`].
//! - **Statuses** from the network (the lab's slip, its statuses, its rejection) go on the
//!   timeline as they come, but move the order's stage only forward along [`LIFE`]: statuses
//!   arrive out of order after redeliveries, and a late `dispatched` after `collected` must not
//!   move the order back. Nothing moves an order off an end ([`ENDS`]).
//! - **Cancel** (the user): while the order is a draft, placed or received; a second
//!   cancellation is nothing; once printing started it is too late.
//!
//! Decider shape as the lab's reception in production: [`decide`] never reads a clock (times
//! are in the commands), [`evolve`] folds an event into the state. The events are the ones the
//! gateway has always stored (same variants, same fields in the same order, stages written as
//! their words), so the stored postcard payloads read unchanged.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Refusal, Refuses};
use crate::protocol::Stage;

/// The stages of the network in the order an order goes through them.
pub const LIFE: [Stage; 8] = [
    Stage::Placed,
    Stage::Received,
    Stage::Printing,
    Stage::Printed,
    Stage::Dispatched,
    Stage::ReadyForPickup,
    Stage::Collected,
    Stage::Settled,
];

/// The stages that end an order early: nothing moves it off them.
pub const ENDS: [Stage; 2] = [Stage::Rejected, Stage::Cancelled];

/// A stage by its word (`ready_for_pickup`), `None` for a word the protocol does not have.
pub fn stage_of(word: &str) -> Option<Stage> {
    LIFE.into_iter().chain(ENDS).find(|s| s.as_str() == word)
}

/// Where an order stands at the gateway: a draft until it is submitted, then at a stage of
/// the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WebStage {
    #[default]
    Draft,
    At(Stage),
}

impl WebStage {
    /// Every stage, in the order of [`WebStage::rank`].
    pub const ALL: [WebStage; 11] = [
        WebStage::Draft,
        WebStage::At(Stage::Placed),
        WebStage::At(Stage::Received),
        WebStage::At(Stage::Printing),
        WebStage::At(Stage::Printed),
        WebStage::At(Stage::Dispatched),
        WebStage::At(Stage::ReadyForPickup),
        WebStage::At(Stage::Collected),
        WebStage::At(Stage::Settled),
        WebStage::At(Stage::Rejected),
        WebStage::At(Stage::Cancelled),
    ];

    /// The word the gateway's tables, API and pages use.
    pub fn as_str(&self) -> &'static str {
        match self {
            WebStage::Draft => "draft",
            WebStage::At(s) => s.as_str(),
        }
    }

    pub fn parse(word: &str) -> Option<WebStage> {
        WebStage::ALL.into_iter().find(|s| s.as_str() == word)
    }

    /// Where the stage sits in an order's life: a draft first, then [`LIFE`], an end after
    /// every other.
    pub fn rank(&self) -> i64 {
        match self {
            WebStage::Draft => 0,
            WebStage::At(s) => match LIFE.iter().position(|l| l == s) {
                Some(i) => 1 + i64::try_from(i).unwrap_or(i64::MAX - 1),
                None => 1 + LIFE.len() as i64,
            },
        }
    }

    /// Whether nothing moves the order off this stage.
    pub fn is_end(&self) -> bool {
        matches!(self, WebStage::At(s) if ENDS.contains(s))
    }

    /// Whether an order here moves to `next` on a status: forward along [`LIFE`] or to an
    /// end, the same stage again (a note), never back and never off an end.
    pub fn moves_to(&self, next: Stage) -> bool {
        if *self == WebStage::At(next) {
            return true;
        }
        !self.is_end() && WebStage::At(next).rank() >= self.rank()
    }

    /// Whether the order was completed (claims 10, 28): the prints were collected.
    pub fn is_completed(&self) -> bool {
        matches!(self, WebStage::At(Stage::Collected | Stage::Settled))
    }
}

impl std::fmt::Display for WebStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of a submitted order, by reference to an image (never its bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRecord {
    /// The image id (SHA-256, hex).
    pub image: String,
    pub name: String,
    /// The print size code.
    pub size: String,
    pub quantity: u32,
    /// Edit list JSON, applied at print time.
    pub edits: Option<String>,
}

/// An image received against the reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedImage {
    pub image: String,
    pub name: String,
    pub bytes: u64,
}

/// The order as it was submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub lab: String,
    pub counter: String,
    pub items: Vec<ItemRecord>,
    pub idempotency_key: String,
    pub at_ms: i64,
    /// The lab's digital copy was ordered with the prints ([`Event::DigitalCopyOrdered`]).
    pub digital_copy: bool,
    /// The source colour profiles the order gave its images (`protocol::ImageProfile`s as JSON,
    /// [`Event::SourceProfilesGiven`]): a re-order and a send-on carry them.
    pub source_profiles_json: Option<String>,
}

/// The gateway's order, folded from its events; nothing before it is requested.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebOrder {
    /// Whether the order was requested (it exists).
    pub requested: bool,
    /// The user's account.
    pub account: String,
    /// Bytes reserved, until `expires_ms`.
    pub reserved: u64,
    pub expires_ms: i64,
    /// Bytes of the images received.
    pub used: u64,
    pub images: Vec<AttachedImage>,
    pub submitted: Option<Submitted>,
    pub stage: WebStage,
}

impl WebOrder {
    pub fn exists(&self) -> bool {
        self.requested
    }

    /// Whether the user cancelled the order (or the network says it was).
    pub fn is_cancelled(&self) -> bool {
        self.stage == WebStage::At(Stage::Cancelled)
    }

    /// Bytes the reservation still allows at `at` (0 when none or expired).
    pub fn remaining(&self, at: DateTime<Utc>) -> u64 {
        if self.expires_ms <= at.timestamp_millis() {
            return 0;
        }
        self.reserved.saturating_sub(self.used)
    }

    /// Whether an image may be received now, and how many bytes it may have: a draft with a
    /// live reservation that is not used up.
    pub fn room_for_upload(&self, at: DateTime<Utc>) -> Result<u64, WebOrderError> {
        if !self.requested {
            return Err(WebOrderError::NotFound);
        }
        if self.stage != WebStage::Draft {
            return Err(WebOrderError::NotADraft {
                action: "images can be uploaded",
            });
        }
        if self.reserved == 0 {
            return Err(WebOrderError::NoReservation);
        }
        if self.expires_ms <= at.timestamp_millis() {
            return Err(WebOrderError::ReservationExpired);
        }
        match self.remaining(at) {
            0 => Err(WebOrderError::ReservationUsedUp {
                reserved: self.reserved,
            }),
            left => Ok(left),
        }
    }

    /// Whether the order can still be submitted (a draft).
    pub fn can_submit(&self) -> Result<(), WebOrderError> {
        if !self.requested {
            return Err(WebOrderError::NotFound);
        }
        if self.stage != WebStage::Draft {
            return Err(WebOrderError::AlreadySubmitted);
        }
        Ok(())
    }

    /// The submitted order a re-order copies (claims 7, 16).
    pub fn reorderable(&self) -> Result<&Submitted, WebOrderError> {
        self.submitted.as_ref().ok_or(WebOrderError::NotSubmitted)
    }
}

/// The storage the user and the gateway have committed besides this order (bytes stored plus
/// bytes reserved and not yet used by other open drafts), as the gateway reads them in the
/// transaction of the reservation, with the limits they must stay within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub user_quota: u64,
    pub user_committed: u64,
    pub capacity: u64,
    pub all_committed: u64,
}

/// What can be asked of a gateway order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Claim 26 a-c: an order id for a verified user.
    Request { account: String, at: DateTime<Utc> },
    /// Claims 9, 26 d-e: reserve `bytes` for `ttl`; a new declaration replaces the old one.
    Reserve {
        bytes: u64,
        ttl: Duration,
        quota: Quota,
        at: DateTime<Utc>,
    },
    /// Claim 26 f: an image received against the reservation.
    AttachImage {
        image: String,
        name: String,
        bytes: u64,
        at: DateTime<Utc>,
    },
    /// The order goes to the lab (already checked at the door).
    Submit {
        lab: String,
        counter: String,
        items: Vec<ItemRecord>,
        idempotency_key: String,
        reorder_of: Option<String>,
        /// The lab's digital copy besides the prints (seed 000, claims 2, 18).
        digital_copy: bool,
        at: DateTime<Utc>,
    },
    /// The lab's reception record (the slip) came back: the order is received.
    RecordSlip {
        lab: String,
        extract_json: String,
        estimated_finish_ms: Option<i64>,
        reception: String,
        at: DateTime<Utc>,
    },
    /// A status change heard on the network.
    RecordStatus {
        stage: Stage,
        site: String,
        detail: String,
        charge_json: Option<String>,
        at: DateTime<Utc>,
    },
    /// The lab will not make the order.
    RecordRejection {
        lab: String,
        reason: String,
        at: DateTime<Utc>,
    },
    /// The user withdraws the order.
    Cancel { reason: String, at: DateTime<Utc> },
    /// The source colour profiles of a submitted order's images (`protocol::ImageProfile`s as
    /// JSON, checked at the door), kept so that a re-order or a send-on carries them; given
    /// once, right after the submission.
    GiveSourceProfiles {
        profiles_json: String,
        at: DateTime<Utc>,
    },
}

/// What happened to a gateway order. Stored as postcard: the variants and their fields keep
/// their order (a change is a new type name or an upcast).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// Claim 26 a-c: an order id for a verified user.
    Requested {
        account: String,
        at_ms: i64,
    },
    /// Claims 9, 26 d-e: storage reserved until `expires_ms`.
    StorageReserved {
        bytes: u64,
        expires_ms: i64,
        at_ms: i64,
    },
    /// Claim 26 f: an image received against the reservation.
    ImageAttached {
        image: String,
        name: String,
        bytes: u64,
        at_ms: i64,
    },
    Submitted {
        lab: String,
        counter: String,
        items: Vec<ItemRecord>,
        idempotency_key: String,
        reorder_of: Option<String>,
        at_ms: i64,
    },
    /// A status change heard on the network (it goes on the timeline; the stage moves only
    /// forward, see [`WebStage::moves_to`]).
    StageChanged {
        #[serde(with = "stage_word")]
        stage: Stage,
        site: String,
        detail: String,
        charge_json: Option<String>,
        at_ms: i64,
    },
    /// The lab's reception record: the slip.
    SlipRecorded {
        lab: String,
        extract_json: String,
        estimated_finish_ms: Option<i64>,
        at_ms: i64,
    },
    Cancelled {
        reason: String,
        at_ms: i64,
    },
    /// The order asks for the lab's digital copy too (seed 000, claims 2, 18): stored right
    /// after its [`Event::Submitted`], which is unchanged (an order stored before the digital
    /// copy was sold reads as one without it). Last: the variants before it keep their
    /// postcard indices.
    DigitalCopyOrdered {
        at_ms: i64,
    },
    /// The source colour profiles the order gave its images
    /// ([`Command::GiveSourceProfiles`]). Last, like [`Event::DigitalCopyOrdered`].
    SourceProfilesGiven {
        profiles_json: String,
        at_ms: i64,
    },
}

/// A stage stored as its word (as the gateway always wrote it), not as a variant index.
mod stage_word {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::protocol::Stage;

    pub fn serialize<S: Serializer>(stage: &Stage, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(stage.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Stage, D::Error> {
        let word = String::deserialize(d)?;
        super::stage_of(&word)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown stage {word:?}")))
    }
}

impl Event {
    /// A stable name of the event's type, for envelopes (the names the gateway always used).
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::Requested { .. } => "gateway.order.requested",
            Event::StorageReserved { .. } => "gateway.order.storage_reserved",
            Event::ImageAttached { .. } => "gateway.order.image_attached",
            Event::Submitted { .. } => "gateway.order.submitted",
            Event::StageChanged { .. } => "gateway.order.stage_changed",
            Event::SlipRecorded { .. } => "gateway.order.slip_recorded",
            Event::Cancelled { .. } => "gateway.order.cancelled",
            Event::DigitalCopyOrdered { .. } => "gateway.order.digital_copy_ordered",
            Event::SourceProfilesGiven { .. } => "gateway.order.source_profiles_given",
        }
    }

    pub const TYPES: [&'static str; 9] = [
        "gateway.order.requested",
        "gateway.order.storage_reserved",
        "gateway.order.image_attached",
        "gateway.order.submitted",
        "gateway.order.stage_changed",
        "gateway.order.slip_recorded",
        "gateway.order.cancelled",
        "gateway.order.digital_copy_ordered",
        "gateway.order.source_profiles_given",
    ];

    /// When it happened (ms since the Unix epoch).
    pub fn at_ms(&self) -> i64 {
        match self {
            Event::Requested { at_ms, .. }
            | Event::StorageReserved { at_ms, .. }
            | Event::ImageAttached { at_ms, .. }
            | Event::Submitted { at_ms, .. }
            | Event::StageChanged { at_ms, .. }
            | Event::SlipRecorded { at_ms, .. }
            | Event::Cancelled { at_ms, .. }
            | Event::DigitalCopyOrdered { at_ms }
            | Event::SourceProfilesGiven { at_ms, .. } => *at_ms,
        }
    }
}

/// Why a gateway order cannot do what was asked. [`WebOrderError::code`] is the stable word
/// the API answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebOrderError {
    #[error("no such order")]
    NotFound,
    #[error("this order was already requested")]
    AlreadyRequested,
    #[error("{action} only before the order is submitted")]
    NotADraft { action: &'static str },
    #[error("bytes must be more than 0")]
    NoBytes,
    #[error("{used} bytes were already uploaded to this order; declare at least that")]
    BelowUsed { used: u64 },
    #[error(
        "your quota is {quota} bytes; {in_use} are in use or reserved, so {asked} more cannot be reserved"
    )]
    OverQuota { quota: u64, in_use: u64, asked: u64 },
    #[error(
        "the gateway has {free} bytes free, less than the {asked} asked; try a smaller order or later"
    )]
    NoCapacity { free: u64, asked: u64 },
    #[error("declare the storage this order needs first")]
    NoReservation,
    #[error("the storage reservation of this order has expired; declare it again")]
    ReservationExpired,
    #[error("the reservation of {reserved} bytes is used up")]
    ReservationUsedUp { reserved: u64 },
    #[error(
        "the image is larger than the {left} bytes this order's reservation has left; declare more storage first"
    )]
    OverReservation { left: u64 },
    #[error("this order was already submitted with another idempotency key")]
    AlreadySubmitted,
    #[error("only a submitted order can be re-ordered")]
    NotSubmitted,
    #[error("the order is {stage}; it can be cancelled only until printing starts")]
    TooLateToCancel { stage: WebStage },
}

impl WebOrderError {
    /// A stable machine-readable word for the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            WebOrderError::NotFound => "not_found",
            WebOrderError::AlreadyRequested => "already_requested",
            WebOrderError::NotADraft { .. } | WebOrderError::AlreadySubmitted => {
                "already_submitted"
            }
            WebOrderError::NoBytes | WebOrderError::BelowUsed { .. } => "refused",
            WebOrderError::OverQuota { .. } => "over_quota",
            WebOrderError::NoCapacity { .. } => "no_capacity",
            WebOrderError::NoReservation => "no_reservation",
            WebOrderError::ReservationExpired => "reservation_expired",
            WebOrderError::ReservationUsedUp { .. } | WebOrderError::OverReservation { .. } => {
                "over_reservation"
            }
            WebOrderError::NotSubmitted => "not_submitted",
            WebOrderError::TooLateToCancel { .. } => "too_late",
        }
    }

    /// Whether the refusal is about the size of what was sent (an upload over the
    /// reservation): HTTP says that with 413.
    pub fn is_too_large(&self) -> bool {
        matches!(
            self,
            WebOrderError::ReservationUsedUp { .. } | WebOrderError::OverReservation { .. }
        )
    }
}

impl Refuses for WebOrderError {
    fn refusal(&self) -> Refusal {
        match self {
            WebOrderError::NotFound => Refusal::NotFound,
            WebOrderError::NoBytes | WebOrderError::BelowUsed { .. } => Refusal::Invalid,
            _ => Refusal::Conflict,
        }
    }
}

/// The decision: which events a command makes, or why it is refused.
pub fn decide(o: &WebOrder, command: Command) -> Result<Vec<Event>, WebOrderError> {
    if !o.requested {
        return match command {
            Command::Request { account, at } => Ok(vec![Event::Requested {
                account,
                at_ms: at.timestamp_millis(),
            }]),
            _ => Err(WebOrderError::NotFound),
        };
    }
    match command {
        Command::Request { .. } => Err(WebOrderError::AlreadyRequested),
        Command::Reserve {
            bytes,
            ttl,
            quota,
            at,
        } => {
            if o.stage != WebStage::Draft {
                return Err(WebOrderError::NotADraft {
                    action: "storage can be declared",
                });
            }
            if bytes == 0 {
                return Err(WebOrderError::NoBytes);
            }
            if bytes < o.used {
                return Err(WebOrderError::BelowUsed { used: o.used });
            }
            let asked = bytes - o.used;
            if quota.user_committed.saturating_add(asked) > quota.user_quota {
                return Err(WebOrderError::OverQuota {
                    quota: quota.user_quota,
                    in_use: quota.user_committed,
                    asked,
                });
            }
            if quota.all_committed.saturating_add(asked) > quota.capacity {
                return Err(WebOrderError::NoCapacity {
                    free: quota.capacity.saturating_sub(quota.all_committed),
                    asked,
                });
            }
            let at_ms = at.timestamp_millis();
            Ok(vec![Event::StorageReserved {
                bytes,
                expires_ms: at_ms.saturating_add(ttl.num_milliseconds()),
                at_ms,
            }])
        }
        Command::AttachImage {
            image,
            name,
            bytes,
            at,
        } => {
            // The same image again (a retried upload, the album's parallel uploads): received once.
            if o.images.iter().any(|i| i.image == image) {
                return Ok(vec![]);
            }
            let left = o.room_for_upload(at)?;
            if bytes > left {
                return Err(WebOrderError::OverReservation { left });
            }
            Ok(vec![Event::ImageAttached {
                image,
                name,
                bytes,
                at_ms: at.timestamp_millis(),
            }])
        }
        Command::Submit {
            lab,
            counter,
            items,
            idempotency_key,
            reorder_of,
            digital_copy,
            at,
        } => {
            o.can_submit()?;
            let at_ms = at.timestamp_millis();
            let mut events = vec![Event::Submitted {
                lab,
                counter,
                items,
                idempotency_key,
                reorder_of,
                at_ms,
            }];
            if digital_copy {
                events.push(Event::DigitalCopyOrdered { at_ms });
            }
            Ok(events)
        }
        Command::RecordSlip {
            lab,
            extract_json,
            estimated_finish_ms,
            reception,
            at,
        } => {
            let at_ms = at.timestamp_millis();
            Ok(vec![
                Event::SlipRecorded {
                    lab: lab.clone(),
                    extract_json,
                    estimated_finish_ms,
                    at_ms,
                },
                Event::StageChanged {
                    stage: Stage::Received,
                    detail: format!("reception {reception} at {lab}"),
                    site: lab,
                    charge_json: None,
                    at_ms,
                },
            ])
        }
        Command::RecordStatus {
            stage,
            site,
            detail,
            charge_json,
            at,
        } => Ok(vec![Event::StageChanged {
            stage,
            site,
            detail,
            charge_json,
            at_ms: at.timestamp_millis(),
        }]),
        Command::RecordRejection { lab, reason, at } => Ok(vec![Event::StageChanged {
            stage: Stage::Rejected,
            detail: format!("rejected by {lab}: {reason}"),
            site: lab,
            charge_json: None,
            at_ms: at.timestamp_millis(),
        }]),
        Command::Cancel { reason, at } => match o.stage {
            WebStage::Draft | WebStage::At(Stage::Placed | Stage::Received) => {
                Ok(vec![Event::Cancelled {
                    reason: reason.trim().chars().take(500).collect(),
                    at_ms: at.timestamp_millis(),
                }])
            }
            WebStage::At(Stage::Cancelled) => Ok(vec![]),
            stage => Err(WebOrderError::TooLateToCancel { stage }),
        },
        Command::GiveSourceProfiles { profiles_json, at } => {
            let submitted = o.reorderable()?;
            if submitted.source_profiles_json.is_some() || profiles_json.trim() == "[]" {
                return Ok(vec![]);
            }
            Ok(vec![Event::SourceProfilesGiven {
                profiles_json,
                at_ms: at.timestamp_millis(),
            }])
        }
    }
}

/// The evolution: the order after an event.
pub fn evolve(mut o: WebOrder, event: &Event) -> WebOrder {
    match event {
        Event::Requested { account, .. } => {
            o.requested = true;
            o.account = account.clone();
            o.stage = WebStage::Draft;
        }
        Event::StorageReserved {
            bytes, expires_ms, ..
        } => {
            o.reserved = *bytes;
            o.expires_ms = *expires_ms;
        }
        Event::ImageAttached {
            image, name, bytes, ..
        } => {
            if !o.images.iter().any(|i| &i.image == image) {
                o.used += bytes;
                o.images.push(AttachedImage {
                    image: image.clone(),
                    name: name.clone(),
                    bytes: *bytes,
                });
            }
        }
        Event::Submitted {
            lab,
            counter,
            items,
            idempotency_key,
            at_ms,
            ..
        } => {
            o.submitted = Some(Submitted {
                lab: lab.clone(),
                counter: counter.clone(),
                items: items.clone(),
                idempotency_key: idempotency_key.clone(),
                at_ms: *at_ms,
                digital_copy: false,
                source_profiles_json: None,
            });
            o.stage = WebStage::At(Stage::Placed);
        }
        Event::DigitalCopyOrdered { .. } => {
            if let Some(s) = o.submitted.as_mut() {
                s.digital_copy = true;
            }
        }
        Event::SourceProfilesGiven { profiles_json, .. } => {
            if let Some(s) = o.submitted.as_mut() {
                s.source_profiles_json = Some(profiles_json.clone());
            }
        }
        Event::StageChanged { stage, .. } => {
            if o.stage.moves_to(*stage) {
                o.stage = WebStage::At(*stage);
            }
        }
        Event::SlipRecorded { .. } => {}
        Event::Cancelled { .. } => o.stage = WebStage::At(Stage::Cancelled),
    }
    o
}

/// Folds a stream of events into an order.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> WebOrder {
    events.into_iter().fold(WebOrder::default(), evolve)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, h, 0, 0).unwrap()
    }

    fn ms(h: u32) -> i64 {
        at(h).timestamp_millis()
    }

    fn given(events: &[Event]) -> WebOrder {
        replay(events)
    }

    /// Then: the command makes these events from the order the events before made.
    fn then(events: &[Event], command: Command) -> Result<Vec<Event>, WebOrderError> {
        decide(&given(events), command)
    }

    fn plenty() -> Quota {
        Quota {
            user_quota: 1_000,
            user_committed: 0,
            capacity: 10_000,
            all_committed: 0,
        }
    }

    fn requested() -> Event {
        Event::Requested {
            account: "hanako".into(),
            at_ms: ms(9),
        }
    }

    fn reserved(bytes: u64) -> Event {
        Event::StorageReserved {
            bytes,
            expires_ms: ms(10),
            at_ms: ms(9),
        }
    }

    fn attached(image: &str, bytes: u64) -> Event {
        Event::ImageAttached {
            image: image.into(),
            name: format!("{image}.jpg"),
            bytes,
            at_ms: ms(9),
        }
    }

    fn item() -> ItemRecord {
        ItemRecord {
            image: "beach".into(),
            name: "beach.jpg".into(),
            size: "L".into(),
            quantity: 2,
            edits: None,
        }
    }

    fn submitted() -> Event {
        Event::Submitted {
            lab: "lab-a".into(),
            counter: "counter-ginza".into(),
            items: vec![item()],
            idempotency_key: "k1".into(),
            reorder_of: None,
            at_ms: ms(9),
        }
    }

    fn status(stage: Stage) -> Event {
        Event::StageChanged {
            stage,
            site: "lab-a".into(),
            detail: String::new(),
            charge_json: None,
            at_ms: ms(11),
        }
    }

    fn cancel(h: u32) -> Command {
        Command::Cancel {
            reason: "cancelled by the user".into(),
            at: at(h),
        }
    }

    fn submit() -> Command {
        Command::Submit {
            lab: "lab-a".into(),
            counter: "counter-ginza".into(),
            items: vec![item()],
            idempotency_key: "k1".into(),
            reorder_of: None,
            digital_copy: false,
            at: at(9),
        }
    }

    fn reserve(bytes: u64, quota: Quota) -> Command {
        Command::Reserve {
            bytes,
            ttl: Duration::hours(1),
            quota,
            at: at(9),
        }
    }

    fn attach(image: &str, bytes: u64, h: u32) -> Command {
        Command::AttachImage {
            image: image.into(),
            name: format!("{image}.jpg"),
            bytes,
            at: at(h),
        }
    }

    #[test]
    fn an_order_goes_from_its_request_to_the_settlement() {
        let mut o = WebOrder::default();
        let steps = [
            Command::Request {
                account: "hanako".into(),
                at: at(9),
            },
            reserve(100, plenty()),
            attach("beach", 60, 9),
            submit(),
            Command::RecordSlip {
                lab: "lab-a".into(),
                extract_json: "{}".into(),
                estimated_finish_ms: None,
                reception: "B0000456".into(),
                at: at(10),
            },
        ];
        for command in steps {
            let events = decide(&o, command).unwrap();
            assert!(!events.is_empty());
            o = events.iter().fold(o, evolve);
        }
        assert_eq!(o.stage, WebStage::At(Stage::Received));
        assert_eq!((o.reserved, o.used, o.expires_ms), (100, 60, ms(10)));
        assert_eq!(o.submitted.as_ref().unwrap().items, vec![item()]);
        for stage in &LIFE[2..] {
            let events = decide(
                &o,
                Command::RecordStatus {
                    stage: *stage,
                    site: "lab-a".into(),
                    detail: String::new(),
                    charge_json: None,
                    at: at(11),
                },
            )
            .unwrap();
            o = events.iter().fold(o, evolve);
            assert_eq!(o.stage, WebStage::At(*stage));
        }
        assert!(o.stage.is_completed());
    }

    #[test]
    fn nothing_happens_to_an_order_never_requested() {
        assert_eq!(then(&[], submit()), Err(WebOrderError::NotFound));
        assert_eq!(then(&[], cancel(9)), Err(WebOrderError::NotFound));
        assert_eq!(
            then(&[], reserve(10, plenty())),
            Err(WebOrderError::NotFound)
        );
        assert_eq!(
            then(
                &[requested()],
                Command::Request {
                    account: "x".into(),
                    at: at(9)
                }
            ),
            Err(WebOrderError::AlreadyRequested)
        );
    }

    #[test]
    fn storage_is_reserved_for_a_while_within_the_quota_and_the_capacity() {
        assert_eq!(
            then(&[requested()], reserve(100, plenty())),
            Ok(vec![Event::StorageReserved {
                bytes: 100,
                expires_ms: ms(10),
                at_ms: ms(9)
            }])
        );
        assert_eq!(
            then(&[requested()], reserve(0, plenty())),
            Err(WebOrderError::NoBytes)
        );
        // Over the user's quota: what is in use or reserved elsewhere counts.
        let q = Quota {
            user_committed: 950,
            ..plenty()
        };
        assert_eq!(
            then(&[requested()], reserve(100, q)),
            Err(WebOrderError::OverQuota {
                quota: 1_000,
                in_use: 950,
                asked: 100
            })
        );
        // Only the part not yet uploaded to this order is asked for again.
        assert!(
            then(
                &[requested(), reserved(100), attached("a", 80)],
                reserve(120, q)
            )
            .is_ok()
        );
        // Over the gateway's capacity.
        let full = Quota {
            all_committed: 9_950,
            ..plenty()
        };
        assert_eq!(
            then(&[requested()], reserve(100, full)),
            Err(WebOrderError::NoCapacity {
                free: 50,
                asked: 100
            })
        );
        // Not less than what was already uploaded; not after submission.
        assert_eq!(
            then(
                &[requested(), reserved(100), attached("a", 80)],
                reserve(50, plenty())
            ),
            Err(WebOrderError::BelowUsed { used: 80 })
        );
        assert_eq!(
            then(&[requested(), submitted()], reserve(50, plenty())),
            Err(WebOrderError::NotADraft {
                action: "storage can be declared"
            })
        );
    }

    #[test]
    fn an_image_needs_a_live_reservation_with_room_for_it() {
        assert_eq!(
            then(&[requested()], attach("a", 10, 9)),
            Err(WebOrderError::NoReservation)
        );
        let live = [requested(), reserved(100)];
        assert_eq!(then(&live, attach("a", 10, 9)), Ok(vec![attached("a", 10)]));
        assert_eq!(
            then(&live, attach("a", 10, 10)),
            Err(WebOrderError::ReservationExpired),
            "the reservation ends at its expiry"
        );
        assert_eq!(
            then(&live, attach("a", 101, 9)),
            Err(WebOrderError::OverReservation { left: 100 })
        );
        let full = [requested(), reserved(100), attached("a", 100)];
        assert_eq!(
            then(&full, attach("b", 1, 9)),
            Err(WebOrderError::ReservationUsedUp { reserved: 100 })
        );
        assert_eq!(
            then(&full, attach("a", 100, 9)),
            Ok(vec![]),
            "the same image again is nothing"
        );
        assert!(WebOrderError::OverReservation { left: 1 }.is_too_large());
        let placed = [requested(), reserved(100), submitted()];
        assert_eq!(
            then(&placed, attach("b", 1, 9)),
            Err(WebOrderError::NotADraft {
                action: "images can be uploaded"
            })
        );
        // An image counts once, however often it is told.
        let o = given(&[
            requested(),
            reserved(100),
            attached("a", 10),
            attached("a", 10),
        ]);
        assert_eq!((o.used, o.images.len()), (10, 1));
        assert_eq!(o.remaining(at(9)), 90);
        assert_eq!(o.remaining(at(10)), 0);
    }

    #[test]
    fn an_order_is_submitted_once() {
        assert_eq!(then(&[requested()], submit()), Ok(vec![submitted()]));
        assert_eq!(
            then(&[requested(), submitted()], submit()),
            Err(WebOrderError::AlreadySubmitted)
        );
        let cancelled = [
            requested(),
            Event::Cancelled {
                reason: "x".into(),
                at_ms: ms(9),
            },
        ];
        assert_eq!(
            then(&cancelled, submit()),
            Err(WebOrderError::AlreadySubmitted)
        );
        assert_eq!(
            given(&[requested()]).reorderable(),
            Err(WebOrderError::NotSubmitted)
        );
        assert!(given(&[requested(), submitted()]).reorderable().is_ok());
    }

    #[test]
    fn the_slip_and_the_rejection_go_on_the_timeline() {
        let placed = [requested(), submitted()];
        let events = then(
            &placed,
            Command::RecordSlip {
                lab: "lab-a".into(),
                extract_json: "{}".into(),
                estimated_finish_ms: Some(5),
                reception: "B0000456".into(),
                at: at(10),
            },
        )
        .unwrap();
        assert!(matches!(
            events.as_slice(),
            [Event::SlipRecorded { .. }, Event::StageChanged { stage: Stage::Received, detail, .. }]
                if detail == "reception B0000456 at lab-a"
        ));
        let events = then(
            &placed,
            Command::RecordRejection {
                lab: "lab-a".into(),
                reason: "size KG is not printed here".into(),
                at: at(10),
            },
        )
        .unwrap();
        assert!(matches!(
            events.as_slice(),
            [Event::StageChanged { stage: Stage::Rejected, detail, .. }]
                if detail == "rejected by lab-a: size KG is not printed here"
        ));
        let o = given(&[requested(), submitted(), status(Stage::Rejected)]);
        assert_eq!(o.stage, WebStage::At(Stage::Rejected));
    }

    #[test]
    fn a_late_status_does_not_move_the_order_back() {
        let o = given(&[
            requested(),
            submitted(),
            status(Stage::Received),
            status(Stage::Collected),
            status(Stage::Dispatched),
        ]);
        assert_eq!(o.stage, WebStage::At(Stage::Collected));
        // A late `received` after printing started does not make the order cancellable.
        let o = given(&[
            requested(),
            status(Stage::Printing),
            status(Stage::Received),
        ]);
        assert_eq!(o.stage, WebStage::At(Stage::Printing));
        assert_eq!(
            decide(&o, cancel(12)),
            Err(WebOrderError::TooLateToCancel {
                stage: WebStage::At(Stage::Printing)
            })
        );
        // Nothing moves an order off an end.
        let o = given(&[
            requested(),
            status(Stage::Rejected),
            status(Stage::Cancelled),
        ]);
        assert_eq!(o.stage, WebStage::At(Stage::Rejected));
        let o = given(&[
            requested(),
            submitted(),
            Event::Cancelled {
                reason: "x".into(),
                at_ms: ms(9),
            },
            status(Stage::Received),
        ]);
        assert!(o.is_cancelled());
    }

    #[test]
    fn an_order_is_cancelled_until_printing_starts() {
        for before in [
            vec![requested()],
            vec![requested(), submitted()],
            vec![requested(), submitted(), status(Stage::Received)],
        ] {
            assert_eq!(
                then(&before, cancel(12)),
                Ok(vec![Event::Cancelled {
                    reason: "cancelled by the user".into(),
                    at_ms: ms(12)
                }])
            );
        }
        let cancelled = [
            requested(),
            Event::Cancelled {
                reason: "x".into(),
                at_ms: ms(9),
            },
        ];
        assert_eq!(
            then(&cancelled, cancel(12)),
            Ok(vec![]),
            "a second time is nothing"
        );
        for stage in [
            Stage::Printing,
            Stage::Printed,
            Stage::Dispatched,
            Stage::ReadyForPickup,
            Stage::Collected,
            Stage::Settled,
            Stage::Rejected,
        ] {
            assert_eq!(
                then(&[requested(), submitted(), status(stage)], cancel(12)),
                Err(WebOrderError::TooLateToCancel {
                    stage: WebStage::At(stage)
                })
            );
        }
    }

    #[test]
    fn stages_rank_and_read_as_the_gateway_writes_them() {
        for (i, s) in WebStage::ALL.iter().enumerate() {
            assert_eq!(WebStage::parse(s.as_str()), Some(*s));
            if !s.is_end() {
                assert_eq!(s.rank(), i as i64);
            } else {
                assert_eq!(s.rank(), 9);
            }
        }
        assert_eq!(WebStage::parse("ready"), None);
        assert!(WebStage::At(Stage::Placed).moves_to(Stage::Received));
        assert!(
            WebStage::At(Stage::Received).moves_to(Stage::Received),
            "a note"
        );
        assert!(WebStage::At(Stage::Printing).moves_to(Stage::Rejected));
        assert!(!WebStage::At(Stage::Collected).moves_to(Stage::Dispatched));
        assert!(!WebStage::At(Stage::Rejected).moves_to(Stage::Cancelled));
        assert!(WebStage::Draft.moves_to(Stage::Printing));
    }

    #[test]
    fn refusals_say_what_kind_of_no_they_are() {
        assert_eq!(WebOrderError::NotFound.refusal(), Refusal::NotFound);
        assert_eq!(WebOrderError::NoBytes.refusal(), Refusal::Invalid);
        assert_eq!(WebOrderError::NoReservation.refusal(), Refusal::Conflict);
        assert_eq!(WebOrderError::NoReservation.code(), "no_reservation");
        assert_eq!(
            WebOrderError::TooLateToCancel {
                stage: WebStage::At(Stage::Printing)
            }
            .to_string(),
            "the order is printing; it can be cancelled only until printing starts"
        );
    }

    #[test]
    fn a_stage_is_stored_as_its_word() {
        let e = status(Stage::ReadyForPickup);
        let bytes = postcard::to_allocvec(&e).unwrap();
        let word = b"ready_for_pickup";
        assert!(bytes.windows(word.len()).any(|w| w == word));
        assert_eq!(postcard::from_bytes::<Event>(&bytes).unwrap(), e);
    }

    #[test]
    fn source_profiles_are_kept_once_after_the_submission() {
        let profiles = r#"[{"image":"ab","profile":{"named":"Adobe RGB (1998)"}}]"#;
        let give = |json: &str| Command::GiveSourceProfiles {
            profiles_json: json.into(),
            at: at(0),
        };
        // Not before the submission.
        assert_eq!(
            then(&[requested()], give(profiles)),
            Err(WebOrderError::NotSubmitted)
        );
        let placed = given(&[requested(), submitted()]);
        assert_eq!(decide(&placed, give("[]")), Ok(vec![]));
        let events = decide(&placed, give(profiles)).unwrap();
        assert_eq!(events[0].type_name(), "gateway.order.source_profiles_given");
        let after = evolve(placed, &events[0]);
        assert_eq!(
            after.reorderable().unwrap().source_profiles_json.as_deref(),
            Some(profiles)
        );
        // Given once: a second time changes nothing.
        assert_eq!(decide(&after, give("[]")), Ok(vec![]));
        assert_eq!(decide(&after, give(profiles)), Ok(vec![]));
    }

    #[test]
    fn the_digital_copy_is_its_own_event_after_the_submission() {
        let draft = given(&[requested()]);
        let Command::Submit {
            lab,
            counter,
            items,
            idempotency_key,
            reorder_of,
            at,
            ..
        } = submit()
        else {
            unreachable!("submit() is a Submit")
        };
        let with = Command::Submit {
            lab,
            counter,
            items,
            idempotency_key,
            reorder_of,
            digital_copy: true,
            at,
        };
        let events = decide(&draft, with).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0], submitted());
        assert_eq!(events[1], Event::DigitalCopyOrdered { at_ms: ms(9) });
        assert_eq!(events[1].type_name(), "gateway.order.digital_copy_ordered");
        assert!(Event::TYPES.contains(&events[1].type_name()));
        let after = replay(&[requested(), events[0].clone(), events[1].clone()]);
        assert!(after.submitted.as_ref().is_some_and(|s| s.digital_copy));
        // Without it: one event, as always.
        let events = decide(&draft, submit()).unwrap();
        assert_eq!(events, vec![submitted()]);
        let after = replay(&[requested(), submitted()]);
        assert!(after.submitted.as_ref().is_some_and(|s| !s.digital_copy));
    }

    #[test]
    fn a_submission_stored_before_the_digital_copy_still_reads() {
        // The bytes of `submitted()` as the gateway stored them before the digital copy was
        // sold (variant 3, its fields in order): frozen here.
        let stored: Vec<u8> = vec![
            3, 5, 108, 97, 98, 45, 97, 13, 99, 111, 117, 110, 116, 101, 114, 45, 103, 105, 110,
            122, 97, 1, 5, 98, 101, 97, 99, 104, 9, 98, 101, 97, 99, 104, 46, 106, 112, 103, 1, 76,
            2, 0, 2, 107, 49, 0, 128, 218, 222, 167, 192, 104,
        ];
        assert_eq!(
            postcard::to_allocvec(&submitted()).unwrap(),
            stored,
            "written as before"
        );
        let read: Event = postcard::from_bytes(&stored).unwrap();
        assert_eq!(read, submitted());
        let o = replay(&[requested(), read]);
        assert!(!o.submitted.as_ref().unwrap().digital_copy);
        // The new event is the last variant; the older ones keep theirs.
        let new = postcard::to_allocvec(&Event::DigitalCopyOrdered { at_ms: 5 }).unwrap();
        assert_eq!(new[0], 7);
        let cancelled = postcard::to_allocvec(&Event::Cancelled {
            reason: "r".into(),
            at_ms: 8,
        })
        .unwrap();
        assert_eq!(cancelled[0], 6);
    }
}
