//! The gateway's streams, event sourced: the account, the image (one stream per account and
//! content hash), the account's storage claims and the order. The order's rules are the
//! domain's decider (`reprint_domain::web_order`); [`crate::orders`] is its one command path.
//! Payloads are postcard (see `reprint_eventstore::codec`); anything that is JSON on the wire
//! is kept as a JSON string, since postcard is not self-describing.

use reprint_eventstore::codec::{self, CodecError, Event};
use serde::{Deserialize, Serialize};

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
    /// The user deleted the image from the album (refused while an unfinished order uses it);
    /// an upload of the same content later records it anew.
    Deleted {
        account: String,
        image: String,
        at_ms: i64,
    },
}
event_enum!(ImageEvent {
    Uploaded => "gateway.image.uploaded",
    Deleted => "gateway.image.deleted",
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

/// The order's events are the domain's (`reprint_domain::web_order`): its decider holds every
/// rule of an order's life; they are stored by the one command path
/// (`reprint_site::command::Stored`, [`crate::orders::StoredOrderEvent`]) under the names and in
/// the postcard layout the gateway always used.
pub use reprint_domain::web_order::{Event as OrderEvent, ItemRecord, WebOrder};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::StoredOrderEvent;
    use reprint_domain::protocol::Stage;

    /// The order events as the gateway stored them before the domain held them (frozen here):
    /// every payload written then must read as the domain's event now.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum LegacyOrderEvent {
        Requested {
            account: String,
            at_ms: i64,
        },
        StorageReserved {
            bytes: u64,
            expires_ms: i64,
            at_ms: i64,
        },
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
        StageChanged {
            stage: String,
            site: String,
            detail: String,
            charge_json: Option<String>,
            at_ms: i64,
        },
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

    #[test]
    fn events_stored_before_the_domain_held_them_still_read() {
        let item = ItemRecord {
            image: "ab".into(),
            name: "a.jpg".into(),
            size: "L".into(),
            quantity: 2,
            edits: Some("[]".into()),
        };
        let pairs = [
            (
                "gateway.order.requested",
                LegacyOrderEvent::Requested {
                    account: "a".into(),
                    at_ms: 1,
                },
                OrderEvent::Requested {
                    account: "a".into(),
                    at_ms: 1,
                },
            ),
            (
                "gateway.order.storage_reserved",
                LegacyOrderEvent::StorageReserved {
                    bytes: 300,
                    expires_ms: 9,
                    at_ms: 2,
                },
                OrderEvent::StorageReserved {
                    bytes: 300,
                    expires_ms: 9,
                    at_ms: 2,
                },
            ),
            (
                "gateway.order.image_attached",
                LegacyOrderEvent::ImageAttached {
                    image: "ab".into(),
                    name: "a.jpg".into(),
                    bytes: 100,
                    at_ms: 3,
                },
                OrderEvent::ImageAttached {
                    image: "ab".into(),
                    name: "a.jpg".into(),
                    bytes: 100,
                    at_ms: 3,
                },
            ),
            (
                "gateway.order.submitted",
                LegacyOrderEvent::Submitted {
                    lab: "lab-a".into(),
                    counter: "c1".into(),
                    items: vec![item.clone()],
                    idempotency_key: "k".into(),
                    reorder_of: Some("o".into()),
                    at_ms: 4,
                },
                OrderEvent::Submitted {
                    lab: "lab-a".into(),
                    counter: "c1".into(),
                    items: vec![item],
                    idempotency_key: "k".into(),
                    reorder_of: Some("o".into()),
                    at_ms: 4,
                },
            ),
            (
                "gateway.order.stage_changed",
                LegacyOrderEvent::StageChanged {
                    stage: "ready_for_pickup".into(),
                    site: "c1".into(),
                    detail: "d".into(),
                    charge_json: Some("{}".into()),
                    at_ms: 5,
                },
                OrderEvent::StageChanged {
                    stage: Stage::ReadyForPickup,
                    site: "c1".into(),
                    detail: "d".into(),
                    charge_json: Some("{}".into()),
                    at_ms: 5,
                },
            ),
            (
                "gateway.order.slip_recorded",
                LegacyOrderEvent::SlipRecorded {
                    lab: "lab-a".into(),
                    extract_json: "{}".into(),
                    estimated_finish_ms: Some(7),
                    at_ms: 6,
                },
                OrderEvent::SlipRecorded {
                    lab: "lab-a".into(),
                    extract_json: "{}".into(),
                    estimated_finish_ms: Some(7),
                    at_ms: 6,
                },
            ),
            (
                "gateway.order.cancelled",
                LegacyOrderEvent::Cancelled {
                    reason: "r".into(),
                    at_ms: 8,
                },
                OrderEvent::Cancelled {
                    reason: "r".into(),
                    at_ms: 8,
                },
            ),
        ];
        for (type_name, old, new) in pairs {
            let bytes = codec::to_postcard(&old).unwrap();
            let read: StoredOrderEvent = codec::decode(type_name, 1, &bytes).unwrap();
            assert_eq!(read.0, new, "{type_name}");
            let stored = StoredOrderEvent::new(new);
            assert_eq!(stored.event_type(), type_name);
            assert_eq!(
                stored.encode().unwrap(),
                bytes,
                "written as before: {type_name}"
            );
        }
        // A payload stored under another event's type name is refused, not misread.
        let cancelled = codec::to_postcard(&LegacyOrderEvent::Cancelled {
            reason: "r".into(),
            at_ms: 8,
        })
        .unwrap();
        assert!(
            codec::decode::<StoredOrderEvent>("gateway.order.submitted", 1, &cancelled).is_err()
        );
    }
}
