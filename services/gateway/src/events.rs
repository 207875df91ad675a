//! The gateway's aggregates, event sourced: the account, the image (one stream per account and
//! content hash) and the order. Each has its events, a state folded from them (`evolve`) and
//! the decisions that turn a command into events (`decide`-style functions returning
//! [`AppError`] for a refusal). Payloads are postcard (see `reprint_eventstore::codec`);
//! anything that is JSON on the wire is kept as a JSON string, since postcard is not
//! self-describing.

use reprint_eventstore::codec::{self, CodecError, Event};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};

/// Stream ids.
pub fn account_stream(account: &str) -> String {
    format!("gw-account-{account}")
}
pub fn image_stream(account: &str, image: &str) -> String {
    format!("gw-image-{account}-{image}")
}
pub fn order_stream(order: &str) -> String {
    format!("gw-order-{order}")
}
/// The storage claims of one account: every reservation appends here with the version it
/// read, so two concurrent reservations of the same account cannot both pass the quota check
/// (the second conflicts and is decided again, seeing the first).
pub fn storage_stream(account: &str) -> String {
    format!("gw-storage-{account}")
}

macro_rules! event_enum {
    ($name:ident { $($variant:ident => $ty:literal),* $(,)? }) => {
        impl Event for $name {
            fn event_type(&self) -> &'static str {
                match self { $($name::$variant { .. } => $ty),* }
            }
            fn current_version(event_type: &str) -> Option<u32> {
                match event_type { $($ty => Some(1),)* _ => None }
            }
            fn encode(&self) -> Result<Vec<u8>, CodecError> {
                codec::to_postcard(self)
            }
            fn decode_current(event_type: &str, payload: &[u8]) -> Result<Self, CodecError> {
                let e: $name = codec::from_postcard(payload)?;
                if e.event_type() == event_type {
                    Ok(e)
                } else {
                    Err(CodecError::UnknownType(event_type.to_string()))
                }
            }
        }
    };
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AccountEvent {
    SignedUp {
        account: String,
        email: String,
        name: String,
        telephone: String,
        address: Option<String>,
        password_hash: String,
        role: String,
        at_ms: i64,
    },
    /// The user's registration number at a lab or counter (from the lab's reception record).
    RegistrationRecorded {
        site: String,
        number: String,
        at_ms: i64,
    },
}
event_enum!(AccountEvent {
    SignedUp => "gateway.account.signed_up",
    RegistrationRecorded => "gateway.account.registration_recorded",
});

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ImageEvent {
    Uploaded {
        account: String,
        image: String,
        name: String,
        bytes: u64,
        width: u32,
        height: u32,
        format: String,
        phash: Option<String>,
        order: String,
        at_ms: i64,
    },
}
event_enum!(ImageEvent {
    Uploaded => "gateway.image.uploaded",
});

/// The account's storage ledger (see [`storage_stream`]); the read models hold the sums.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StorageEvent {
    /// Claims 9, 26 d-e: `bytes` reserved for `order` until `expires_ms`, decided against the
    /// quota with this stream at the version before it.
    Claimed {
        order: String,
        bytes: u64,
        expires_ms: i64,
        at_ms: i64,
    },
}
event_enum!(StorageEvent {
    Claimed => "gateway.storage.claimed",
});

/// One line of a submitted order, by reference to an image (never its bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRecord {
    pub image: String,
    pub name: String,
    pub size: String,
    pub quantity: u32,
    /// Edit list JSON, applied at print time.
    pub edits: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrderEvent {
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
    /// A status change heard on the network (or made here: cancelled).
    StageChanged {
        stage: String,
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
}
event_enum!(OrderEvent {
    Requested => "gateway.order.requested",
    StorageReserved => "gateway.order.storage_reserved",
    ImageAttached => "gateway.order.image_attached",
    Submitted => "gateway.order.submitted",
    StageChanged => "gateway.order.stage_changed",
    SlipRecorded => "gateway.order.slip_recorded",
    Cancelled => "gateway.order.cancelled",
});

/// Stages an order goes through before the network hears of it.
pub const STAGE_DRAFT: &str = "draft";

/// The stages of an order in the order it goes through them; the last two end it.
pub const STAGE_ORDER: &[&str] = &[
    STAGE_DRAFT,
    "placed",
    "received",
    "printing",
    "printed",
    "dispatched",
    "ready_for_pickup",
    "collected",
    "settled",
];
/// Stages that end an order early: nothing moves it off them.
pub const STAGE_ENDS: &[&str] = &["rejected", "cancelled"];

/// Where `stage` sits in an order's life (an end stage after every other), `None` for a stage
/// this gateway does not know.
pub fn stage_rank(stage: &str) -> Option<i64> {
    if let Some(i) = STAGE_ORDER.iter().position(|s| *s == stage) {
        return i64::try_from(i).ok();
    }
    STAGE_ENDS
        .contains(&stage)
        .then(|| i64::try_from(STAGE_ORDER.len()).unwrap_or(i64::MAX))
}

/// Whether an order at `current` moves to `next` on a status: only forward by
/// [`STAGE_ORDER`] (statuses arrive out of order after redeliveries: a late `dispatched`
/// after `collected` must not move the order back), the same stage again (a note), and
/// never off an end stage.
pub fn stage_moves(current: &str, next: &str) -> bool {
    if current == next {
        return true;
    }
    if STAGE_ENDS.contains(&current) {
        return false;
    }
    match (stage_rank(current), stage_rank(next)) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(c), Some(n)) => n >= c,
    }
}

/// [`stage_rank`] in SQL, of the column `stage` (an unknown stage ranks as a draft); keep in
/// step with [`STAGE_ORDER`] (a test checks it).
pub const STAGE_RANK_SQL: &str = "CASE stage WHEN 'draft' THEN 0 WHEN 'placed' THEN 1 \
     WHEN 'received' THEN 2 WHEN 'printing' THEN 3 WHEN 'printed' THEN 4 WHEN 'dispatched' THEN 5 \
     WHEN 'ready_for_pickup' THEN 6 WHEN 'collected' THEN 7 WHEN 'settled' THEN 8 \
     WHEN 'rejected' THEN 9 WHEN 'cancelled' THEN 9 ELSE 0 END";

/// The order, folded from its events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Order {
    pub version: u64,
    pub account: String,
    pub reserved: u64,
    pub expires_ms: i64,
    pub used: u64,
    pub images: Vec<(String, String, u64)>,
    pub submitted: Option<Submitted>,
    pub stage: String,
    pub cancelled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Submitted {
    pub lab: String,
    pub counter: String,
    pub items: Vec<ItemRecord>,
    pub idempotency_key: String,
    pub at_ms: i64,
}

impl Order {
    pub fn evolve(mut self, e: &OrderEvent) -> Order {
        self.version += 1;
        match e {
            OrderEvent::Requested { account, .. } => {
                self.account = account.clone();
                self.stage = STAGE_DRAFT.to_string();
            }
            OrderEvent::StorageReserved {
                bytes, expires_ms, ..
            } => {
                self.reserved = *bytes;
                self.expires_ms = *expires_ms;
            }
            OrderEvent::ImageAttached {
                image, name, bytes, ..
            } => {
                self.used += bytes;
                if !self.images.iter().any(|(i, _, _)| i == image) {
                    self.images.push((image.clone(), name.clone(), *bytes));
                }
            }
            OrderEvent::Submitted {
                lab,
                counter,
                items,
                idempotency_key,
                at_ms,
                ..
            } => {
                self.submitted = Some(Submitted {
                    lab: lab.clone(),
                    counter: counter.clone(),
                    items: items.clone(),
                    idempotency_key: idempotency_key.clone(),
                    at_ms: *at_ms,
                });
                self.stage = "placed".to_string();
            }
            OrderEvent::StageChanged { stage, .. } => {
                if !self.cancelled && stage_moves(&self.stage, stage) {
                    self.stage = stage.clone();
                }
            }
            OrderEvent::SlipRecorded { .. } => {}
            OrderEvent::Cancelled { .. } => {
                self.cancelled = true;
                self.stage = "cancelled".to_string();
            }
        }
        self
    }

    pub fn exists(&self) -> bool {
        self.version > 0
    }

    /// Bytes the reservation still allows at `now_ms` (0 when none or expired).
    pub fn remaining(&self, now_ms: i64) -> u64 {
        if self.expires_ms <= now_ms {
            return 0;
        }
        self.reserved.saturating_sub(self.used)
    }

    /// Declaring storage: only before submission; a new declaration replaces the old one.
    pub fn decide_reserve(&self, bytes: u64, now_ms: i64, ttl_ms: i64) -> AppResult<OrderEvent> {
        if self.submitted.is_some() || self.cancelled {
            return Err(AppError::conflict(
                "already_submitted",
                "storage can only be declared before the order is submitted",
            ));
        }
        if bytes < self.used {
            return Err(AppError::Unprocessable(format!(
                "{} bytes were already uploaded to this order; declare at least that",
                self.used
            )));
        }
        Ok(OrderEvent::StorageReserved {
            bytes,
            expires_ms: now_ms + ttl_ms,
            at_ms: now_ms,
        })
    }

    /// Whether `size` bytes may be received now.
    pub fn check_upload(&self, now_ms: i64) -> AppResult<u64> {
        if self.submitted.is_some() || self.cancelled {
            return Err(AppError::conflict(
                "already_submitted",
                "images can only be uploaded before the order is submitted",
            ));
        }
        if self.reserved == 0 {
            return Err(AppError::conflict(
                "no_reservation",
                "declare the storage this order needs first (PUT /api/v1/orders/{id}/storage)",
            ));
        }
        if self.expires_ms <= now_ms {
            return Err(AppError::conflict(
                "reservation_expired",
                "the storage reservation of this order has expired; declare it again",
            ));
        }
        let left = self.remaining(now_ms);
        if left == 0 {
            return Err(AppError::TooLarge(format!(
                "the reservation of {} bytes is used up",
                self.reserved
            )));
        }
        Ok(left)
    }

    /// Cancelling: until the lab starts printing.
    pub fn decide_cancel(&self, now_ms: i64) -> AppResult<Option<OrderEvent>> {
        if self.cancelled {
            return Ok(None);
        }
        match self.stage.as_str() {
            STAGE_DRAFT | "placed" | "received" => Ok(Some(OrderEvent::Cancelled {
                reason: "cancelled by the user".to_string(),
                at_ms: now_ms,
            })),
            other => Err(AppError::conflict(
                "too_late",
                format!("the order is {other}; it can be cancelled only until printing starts"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_only_move_forward() {
        assert!(stage_moves("placed", "received"));
        assert!(
            stage_moves("received", "received"),
            "a note at the same stage"
        );
        assert!(stage_moves("dispatched", "collected"));
        assert!(!stage_moves("collected", "dispatched"), "a late status");
        assert!(!stage_moves("ready_for_pickup", "received"));
        assert!(stage_moves("printing", "rejected"));
        assert!(!stage_moves("cancelled", "received"));
        assert!(!stage_moves("rejected", "cancelled"));
        assert!(!stage_moves("placed", "teleported"), "an unknown stage");
        // The SQL rank agrees with the Rust one, stage by stage.
        for stage in STAGE_ORDER.iter().chain(STAGE_ENDS) {
            let rank = stage_rank(stage).unwrap();
            assert!(
                STAGE_RANK_SQL.contains(&format!("WHEN '{stage}' THEN {rank} ")),
                "{stage} {rank}"
            );
        }
    }

    #[test]
    fn a_late_status_does_not_move_the_order_back() {
        let changed = |stage: &str| OrderEvent::StageChanged {
            stage: stage.into(),
            site: "x".into(),
            detail: String::new(),
            charge_json: None,
            at_ms: 0,
        };
        let o = requested()
            .evolve(&changed("received"))
            .evolve(&changed("collected"))
            .evolve(&changed("dispatched"));
        assert_eq!(o.stage, "collected");
        // A late `received` after printing started does not make the order cancellable.
        let o = requested()
            .evolve(&changed("printing"))
            .evolve(&changed("received"));
        assert_eq!(o.stage, "printing");
        assert!(o.decide_cancel(0).is_err());
    }

    fn requested() -> Order {
        Order::default().evolve(&OrderEvent::Requested {
            account: "a".into(),
            at_ms: 0,
        })
    }

    #[test]
    fn upload_needs_a_live_reservation() {
        let o = requested();
        assert!(matches!(
            o.check_upload(1),
            Err(AppError::Conflict {
                code: "no_reservation",
                ..
            })
        ));
        let e = o.decide_reserve(100, 0, 10).unwrap();
        let o = o.evolve(&e);
        assert_eq!(o.check_upload(5).unwrap(), 100);
        assert!(o.check_upload(10).is_err(), "expired");
        let o = o.evolve(&OrderEvent::ImageAttached {
            image: "x".into(),
            name: "x".into(),
            bytes: 100,
            at_ms: 1,
        });
        assert!(matches!(o.check_upload(5), Err(AppError::TooLarge(_))));
    }

    #[test]
    fn cancel_only_until_printing() {
        let o = requested();
        assert!(o.decide_cancel(1).unwrap().is_some());
        let o = o.evolve(&OrderEvent::StageChanged {
            stage: "printing".into(),
            site: "lab-a".into(),
            detail: String::new(),
            charge_json: None,
            at_ms: 2,
        });
        assert!(o.decide_cancel(3).is_err());
    }

    #[test]
    fn events_round_trip_through_the_codec() {
        let e = OrderEvent::Submitted {
            lab: "lab-a".into(),
            counter: "c1".into(),
            items: vec![ItemRecord {
                image: "ab".into(),
                name: "a.jpg".into(),
                size: "L".into(),
                quantity: 2,
                edits: None,
            }],
            idempotency_key: "k".into(),
            reorder_of: None,
            at_ms: 5,
        };
        let bytes = e.encode().unwrap();
        let back: OrderEvent = codec::decode(e.event_type(), 1, &bytes).unwrap();
        assert_eq!(back, e);
    }
}
