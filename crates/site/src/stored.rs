//! The domain's events as stored: a type name, a schema version and a postcard payload.

use reprint_domain::{file, sequence};
use reprint_eventstore::codec::{self, CodecError};
use reprint_eventstore::{Metadata, NewEvent};

/// The schema version of a [`file::UserFile`] snapshot.
/// 2: the file's `other_counters` (pickup at another counter); a version-1 snapshot is not
/// read, the file is folded from its events.
pub const FILE_SNAPSHOT_VERSION: u32 = 2;

/// A user file event in the store.
#[derive(Debug, Clone, PartialEq)]
pub struct FileEvent(pub file::Event);

/// A sequence event in the store.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceEvent(pub sequence::Event);

const FILE_TYPES: [&str; 8] = [
    "user_file.registered",
    "user_file.contact_changed",
    "user_file.reception_opened",
    "user_file.partner_amounts_filled_in",
    "user_file.collected",
    "user_file.reception_cancelled",
    "user_file.reception_amended",
    "user_file.other_counter_recorded",
];

impl codec::Event for FileEvent {
    fn event_type(&self) -> &'static str {
        self.0.type_name()
    }

    fn current_version(event_type: &str) -> Option<u32> {
        FILE_TYPES.contains(&event_type).then_some(1)
    }

    fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::to_postcard(&self.0)
    }

    fn decode_current(_event_type: &str, payload: &[u8]) -> Result<Self, CodecError> {
        codec::from_postcard(payload).map(FileEvent)
    }
}

impl codec::Event for SequenceEvent {
    fn event_type(&self) -> &'static str {
        "sequence.issued"
    }

    fn current_version(event_type: &str) -> Option<u32> {
        (event_type == "sequence.issued").then_some(1)
    }

    fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::to_postcard(&self.0)
    }

    fn decode_current(_event_type: &str, payload: &[u8]) -> Result<Self, CodecError> {
        codec::from_postcard(payload).map(SequenceEvent)
    }
}

/// A new event with a fresh time-ordered id (the adapter's clock, not the domain's).
pub fn new_event<E: codec::Event>(event: &E) -> Result<NewEvent, reprint_eventstore::Error> {
    Ok(codec::new_event(
        event,
        uuid::Uuid::now_v7(),
        Metadata::new(),
    )?)
}
