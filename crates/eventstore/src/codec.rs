//! Envelopes: an event travels as (type, schema version, postcard payload).
//!
//! postcard is not self-describing, so a payload can only be read with the exact type it was
//! written with. When an event changes, the old shape is frozen under its version number (a
//! `...V1` struct that never changes again), the new shape gets the next number, and
//! [`Event::upcast`] turns an old payload into the current event.
//!
//! ```
//! use reprint_eventstore::codec::{self, CodecError, Event};
//! use serde::{Deserialize, Serialize};
//!
//! /// Frozen: how `order.placed` looked in schema version 1.
//! #[derive(Serialize, Deserialize)]
//! struct OrderPlacedV1 { order: String, prints: u32 }
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! struct OrderPlaced { order: String, prints: u32, lab: String }
//!
//! #[derive(Debug, PartialEq)]
//! enum OrderEvent { Placed(OrderPlaced) }
//!
//! impl Event for OrderEvent {
//!     fn event_type(&self) -> &'static str {
//!         match self { OrderEvent::Placed(_) => "order.placed" }
//!     }
//!     fn current_version(event_type: &str) -> Option<u32> {
//!         match event_type { "order.placed" => Some(2), _ => None }
//!     }
//!     fn encode(&self) -> Result<Vec<u8>, CodecError> {
//!         match self { OrderEvent::Placed(e) => codec::to_postcard(e) }
//!     }
//!     fn decode_current(event_type: &str, payload: &[u8]) -> Result<Self, CodecError> {
//!         match event_type {
//!             "order.placed" => Ok(OrderEvent::Placed(codec::from_postcard(payload)?)),
//!             other => Err(CodecError::UnknownType(other.to_string())),
//!         }
//!     }
//!     fn upcast(event_type: &str, version: u32, payload: &[u8]) -> Result<Self, CodecError> {
//!         match (event_type, version) {
//!             ("order.placed", 1) => {
//!                 let old: OrderPlacedV1 = codec::from_postcard(payload)?;
//!                 Ok(OrderEvent::Placed(OrderPlaced {
//!                     order: old.order, prints: old.prints, lab: "unknown".into(),
//!                 }))
//!             }
//!             _ => Err(CodecError::unknown_version(event_type, version)),
//!         }
//!     }
//! }
//!
//! let old = codec::to_postcard(&OrderPlacedV1 { order: "o1".into(), prints: 3 }).unwrap();
//! let event: OrderEvent = codec::decode("order.placed", 1, &old).unwrap();
//! assert_eq!(event, OrderEvent::Placed(OrderPlaced {
//!     order: "o1".into(), prints: 3, lab: "unknown".into(),
//! }));
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::types::{Metadata, NewEvent, RecordedEvent};

/// NATS header naming the event type of a published event.
pub const HEADER_EVENT_TYPE: &str = "Reprint-Event-Type";
/// NATS header naming the schema version of a published event's payload.
pub const HEADER_SCHEMA_VERSION: &str = "Reprint-Schema-Version";

/// Encoding or decoding failed.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// postcard could not encode or decode the payload.
    #[error("postcard: {0}")]
    Postcard(#[from] postcard::Error),
    /// The type name is not one of the event enum's.
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    /// The type is known but this schema version is not (too old with no upcaster, or newer
    /// than this build).
    #[error("event type {event_type:?} has no schema version {version} here")]
    UnknownVersion {
        /// The event type.
        event_type: String,
        /// The version found.
        version: u32,
    },
    /// Metadata or headers are not the JSON the store writes.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl CodecError {
    /// An [`CodecError::UnknownVersion`] for `event_type` at `version`.
    pub fn unknown_version(event_type: &str, version: u32) -> CodecError {
        CodecError::UnknownVersion {
            event_type: event_type.to_string(),
            version,
        }
    }
}

/// An event enum that can be stored: each variant names its type and the current schema
/// version of its payload, and old versions are upcast on read.
pub trait Event: Sized {
    /// The stable type name of this event, e.g. `reception.registered`.
    fn event_type(&self) -> &'static str;

    /// The current schema version of `event_type`, `None` when the type is unknown.
    fn current_version(event_type: &str) -> Option<u32>;

    /// The schema version this event is written with: the current one of its type.
    fn schema_version(&self) -> u32 {
        Self::current_version(self.event_type()).unwrap_or(1)
    }

    /// The payload in the current schema version (usually [`to_postcard`] of the variant).
    fn encode(&self) -> Result<Vec<u8>, CodecError>;

    /// Reads a payload written with the current schema version of `event_type`.
    fn decode_current(event_type: &str, payload: &[u8]) -> Result<Self, CodecError>;

    /// Reads a payload written with an older, frozen `schema_version` and converts it to the
    /// current event. The default knows no old versions.
    fn upcast(event_type: &str, schema_version: u32, payload: &[u8]) -> Result<Self, CodecError> {
        let _ = payload;
        Err(CodecError::unknown_version(event_type, schema_version))
    }
}

/// Reads an event of any known schema version: the current one directly, an older one through
/// [`Event::upcast`]; a newer one than this build knows is an error.
pub fn decode<E: Event>(
    event_type: &str,
    schema_version: u32,
    payload: &[u8],
) -> Result<E, CodecError> {
    match E::current_version(event_type) {
        None => Err(CodecError::UnknownType(event_type.to_string())),
        Some(current) if current == schema_version => E::decode_current(event_type, payload),
        Some(current) if schema_version < current => E::upcast(event_type, schema_version, payload),
        Some(_) => Err(CodecError::unknown_version(event_type, schema_version)),
    }
}

/// An event ready to append, with its id and metadata.
pub fn new_event<E: Event>(
    event: &E,
    event_id: Uuid,
    metadata: Metadata,
) -> Result<NewEvent, CodecError> {
    Ok(NewEvent {
        event_id,
        event_type: event.event_type().to_string(),
        schema_version: event.schema_version(),
        payload: event.encode()?,
        metadata,
    })
}

impl RecordedEvent {
    /// Decodes the stored payload as `E`, upcasting an old schema version.
    pub fn decode<E: Event>(&self) -> Result<E, CodecError> {
        decode(&self.event_type, self.schema_version, &self.payload)
    }
}

/// postcard encoding of any serde value.
pub fn to_postcard<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    Ok(postcard::to_stdvec(value)?)
}

/// postcard decoding of any serde value.
pub fn from_postcard<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    Ok(postcard::from_bytes(bytes)?)
}

/// Metadata as the JSON object stored beside an event.
pub(crate) fn metadata_to_json(m: &Metadata) -> Result<String, CodecError> {
    if m.is_empty() {
        return Ok("{}".to_string());
    }
    Ok(serde_json::to_string(m)?)
}

pub(crate) fn metadata_from_json(s: &str) -> Result<Metadata, CodecError> {
    if s == "{}" {
        return Ok(Metadata::new());
    }
    Ok(serde_json::from_str(s)?)
}

pub(crate) fn headers_to_json(h: &[(String, String)]) -> Result<String, CodecError> {
    if h.is_empty() {
        return Ok("[]".to_string());
    }
    Ok(serde_json::to_string(h)?)
}

pub(crate) fn headers_from_json(s: &str) -> Result<Vec<(String, String)>, CodecError> {
    if s == "[]" {
        return Ok(Vec::new());
    }
    Ok(serde_json::from_str(s)?)
}
