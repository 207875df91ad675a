//! reprint's NATS JetStream backbone: subjects, streams and consumers, the outbox relay, the
//! inbox consumer loop, request/reply, the site directory (KV), image bytes (object store) and
//! W3C trace context in headers.

pub mod connect;
pub mod consumer;
pub mod directory;
pub mod error;
pub mod objects;
pub mod relay;
pub mod request;
pub mod streams;
pub mod subjects;
pub mod trace;

pub use error::BusError;
