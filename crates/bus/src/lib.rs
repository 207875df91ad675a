//! reprint's NATS JetStream backbone: subjects, streams and consumers, the outbox relay, the
//! inbox consumer loop, request/reply, the site directory (KV), image bytes (object store) and
//! W3C trace context in headers.
//!
//! A service starts like this:
//!
//! ```no_run
//! # async fn start() -> Result<(), reprint_bus::BusError> {
//! use std::time::Duration;
//! use reprint_bus::{connect, subjects::{SiteId, SiteKind}, streams};
//!
//! let conn = connect::connect(&connect::ConnectSettings::new("nats://127.0.0.1:4222", "reprint-lab@lab-a")).await?;
//! let backbone = reprint_bus::provision(&conn.jetstream, &reprint_bus::ProvisionSettings::default()).await?;
//! let inbox = streams::ensure_consumer(
//!     &conn.jetstream,
//!     &streams::durable_consumer_for(&SiteId::parse("lab-a")?, SiteKind::Lab),
//! ).await?;
//! # let _ = (backbone, inbox); Ok(())
//! # }
//! ```

pub mod connect;
pub mod consumer;
pub mod directory;
pub mod error;
pub mod message;
pub mod objects;
pub mod print;
pub mod relay;
pub mod request;
pub mod streams;
pub mod subjects;
pub mod trace;

pub use error::BusError;

/// What [`provision`] sets up.
#[derive(Debug, Clone, Default)]
pub struct ProvisionSettings {
    /// The event streams.
    pub streams: streams::StreamSettings,
    /// The image bucket (its `replicas` is taken from `streams.replicas`).
    pub images: objects::ImageStoreSettings,
}

impl ProvisionSettings {
    /// Everything with `replicas` replicas (1 locally, 3 on a cluster).
    pub fn with_replicas(replicas: usize) -> Self {
        let mut s = ProvisionSettings::default();
        s.streams.replicas = replicas;
        s.images.replicas = replicas;
        s
    }
}

/// The stores a service uses besides its streams.
#[derive(Debug, Clone)]
pub struct Backbone {
    /// The site directory (KV `reprint_sites`).
    pub directory: directory::Directory,
    /// The image bytes (object store `reprint_images`).
    pub images: objects::Images,
}

/// Creates or updates every stream, the directory bucket and the image bucket; idempotent,
/// meant to run at every start (needs the server to be reachable).
pub async fn provision(
    js: &async_nats::jetstream::Context,
    settings: &ProvisionSettings,
) -> Result<Backbone, BusError> {
    streams::provision_streams(js, &settings.streams).await?;
    let directory = directory::Directory::open(js, settings.streams.replicas).await?;
    let mut images = settings.images.clone();
    images.replicas = settings.streams.replicas;
    let images = objects::Images::open(js, images).await?;
    Ok(Backbone { directory, images })
}
