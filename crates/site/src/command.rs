//! The one command path of every decider (`reprint_domain::decider::Decider`) on the event
//! store, shared by the lab, the counter and the gateway: [`load`] a stream's events and fold
//! them, [`decide_and_append`] (pure decision, then an append at the loaded version in the
//! caller's transaction, then the state evolved). The caller writes its projections and outbox
//! messages in the same transaction and runs its effects after commit. A version conflict (two
//! commands racing for one stream) fails the transaction: the unit of work is decided again on
//! the new state.
//!
//! Events are stored under their type names with schema version 1 and a postcard payload.

use std::marker::PhantomData;

use reprint_domain::decider::Decider;
use reprint_eventstore::codec::{self, CodecError};
use reprint_eventstore::{ExpectedVersion, Metadata, Transaction};

/// A decider's event as stored.
pub struct Stored<D: Decider>(pub D::Event, PhantomData<D>);

impl<D: Decider> Stored<D> {
    pub fn new(event: D::Event) -> Stored<D> {
        Stored(event, PhantomData)
    }
}

impl<D: Decider> codec::Event for Stored<D> {
    fn event_type(&self) -> &'static str {
        D::event_type(&self.0)
    }

    fn current_version(event_type: &str) -> Option<u32> {
        D::EVENT_TYPES.contains(&event_type).then_some(1)
    }

    fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::to_postcard(&self.0)
    }

    fn decode_current(event_type: &str, payload: &[u8]) -> Result<Self, CodecError> {
        let event: D::Event = codec::from_postcard(payload)?;
        // A payload stored under another event's type name is not this event, even when its
        // bytes happen to decode.
        if D::event_type(&event) != event_type {
            return Err(CodecError::UnknownType(event_type.to_string()));
        }
        Ok(Stored::new(event))
    }
}

/// A stream's state as loaded, with the version to append after (0: no events yet).
#[derive(Debug, Clone)]
pub struct Loaded<D: Decider> {
    pub stream: String,
    pub state: D::State,
    pub version: u64,
}

impl<D: Decider> Loaded<D> {
    /// The empty state of a stream known to have no events yet (a new order's fresh id, a
    /// reception the caller found missing in the same transaction), without reading it. Its
    /// first events are appended at version 0, so should the stream exist after all, the
    /// append fails with a version conflict rather than overwriting anything.
    pub fn new_stream(stream: impl Into<String>) -> Loaded<D> {
        Loaded {
            stream: stream.into(),
            state: D::State::default(),
            version: 0,
        }
    }
}

/// What the command path can fail with: the decider's refusal, or the store.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Refused(E),
    #[error(transparent)]
    Store(#[from] reprint_eventstore::Error),
}

/// Events read from a stream per statement while loading it.
const LOAD_BATCH: usize = 256;

/// Loads `stream`'s events and folds them from the empty state.
pub async fn load<D: Decider>(
    tx: &mut Transaction,
    stream: &str,
) -> Result<Loaded<D>, reprint_eventstore::Error> {
    let mut state = D::State::default();
    let mut version = 0;
    loop {
        let batch = tx.read_stream(stream, version + 1, LOAD_BATCH).await?;
        for e in &batch {
            let stored = e.decode::<Stored<D>>()?;
            state = D::evolve(state, &stored.0);
            version = e.version;
        }
        // A short batch is the end of the stream: no second statement to find it empty (a
        // stream of a handful of events, the usual case, is read in one).
        if batch.len() < LOAD_BATCH {
            break;
        }
    }
    Ok(Loaded {
        stream: stream.to_string(),
        state,
        version,
    })
}

/// Decides `command` on the loaded state and appends what it decided at the loaded version;
/// `loaded` is then the state after the events. No events (a repeat, a redelivery): nothing is
/// written.
pub async fn decide_and_append<D: Decider>(
    tx: &mut Transaction,
    loaded: &mut Loaded<D>,
    command: D::Command,
) -> Result<Vec<D::Event>, CommandError<D::Error>>
where
    D::Error: 'static,
{
    let Some((events, stored)) = decided::<D>(loaded, command)? else {
        return Ok(Vec::new());
    };
    tx.append(
        &loaded.stream,
        ExpectedVersion::after(loaded.version),
        &stored,
    )
    .await?;
    Ok(evolved(loaded, events))
}

/// [`decide_and_append`], with the append queued in the transaction
/// ([`Transaction::append_deferred`]) instead of written at once: the transaction's appends
/// (this order's and its account's, or each message's of a consumer batch) go to the store in
/// one statement at its next read, append or commit, with the inline projections then. A
/// version conflict comes out of that write (the whole transaction is rolled back, as with
/// [`decide_and_append`]). For a caller that reads no table the projections write before the
/// transaction's next read of a stream or its commit.
pub fn decide_and_defer<D: Decider>(
    tx: &mut Transaction,
    loaded: &mut Loaded<D>,
    command: D::Command,
) -> Result<Vec<D::Event>, CommandError<D::Error>>
where
    D::Error: 'static,
{
    let Some((events, stored)) = decided::<D>(loaded, command)? else {
        return Ok(Vec::new());
    };
    tx.append_deferred(
        loaded.stream.clone(),
        ExpectedVersion::after(loaded.version),
        stored,
    );
    Ok(evolved(loaded, events))
}

/// The events `command` makes of the loaded state, and as stored; `None` when it makes none.
#[allow(clippy::type_complexity)]
fn decided<D: Decider>(
    loaded: &Loaded<D>,
    command: D::Command,
) -> Result<Option<(Vec<D::Event>, Vec<reprint_eventstore::NewEvent>)>, CommandError<D::Error>>
where
    D::Error: 'static,
{
    let events = D::decide(&loaded.state, command).map_err(CommandError::Refused)?;
    if events.is_empty() {
        return Ok(None);
    }
    let stored = events
        .iter()
        .map(|e| {
            codec::new_event(
                &Stored::<D>::new(e.clone()),
                uuid::Uuid::now_v7(),
                Metadata::new(),
            )
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(reprint_eventstore::Error::from)?;
    Ok(Some((events, stored)))
}

/// `loaded` after `events` (appended or queued at its version); returns them.
fn evolved<D: Decider>(loaded: &mut Loaded<D>, events: Vec<D::Event>) -> Vec<D::Event> {
    for e in &events {
        loaded.state = D::evolve(std::mem::take(&mut loaded.state), e);
    }
    loaded.version += events.len() as u64;
    events
}
