//! The counter as one value shared by the terminal pages, the JSON API and the consumer.

use std::sync::Arc;

use reprint_bus::relay::RelayWaker;
use reprint_domain::SiteRules;
use reprint_eventstore::Store;
use reprint_service::clock::Clock;
use reprint_service::metrics::Metrics;
use reprint_site::SiteFiles;
use tokio::sync::Notify;

use crate::config::CounterConfig;
use crate::spool::Spool;

pub struct Counter {
    pub config: CounterConfig,
    pub store: Store,
    pub files: SiteFiles,
    pub spool: Spool,
    /// Wakes the outbox relay after a commit that wrote messages.
    pub relay: RelayWaker,
    /// Wakes the forwarder after an order was held for its images.
    pub forwarder: Arc<Notify>,
    pub nats: async_nats::Client,
    pub metrics: Metrics,
    /// Every time the counter records is read here (tests pin it).
    pub clock: Clock,
    /// The other counters of the network, from the site directory (pickup at another
    /// counter, `crate::elsewhere`).
    pub places: crate::elsewhere::Places,
    /// Cards held at the terminal between the intake's steps (`crate::held`).
    pub held: crate::held::HeldCards,
}

impl Counter {
    pub fn rules(&self) -> &SiteRules {
        &self.config.site
    }

    pub fn lab_name(&self, id: &str) -> String {
        self.config
            .lab(id)
            .map(|l| l.name.clone())
            .unwrap_or_else(|| id.to_string())
    }

    /// True while the link to NATS is up.
    pub fn online(&self) -> bool {
        self.nats.connection_state() == async_nats::connection::State::Connected
    }
}

pub type SharedCounter = Arc<Counter>;

/// How often a unit of work is run again after a version conflict or a busy store.
pub const RETRIES: usize = 5;
