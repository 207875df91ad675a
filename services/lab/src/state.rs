//! What every part of the lab shares: its rules and files, the store, NATS, the printers, the
//! clock. Cheap to clone (one `Arc`).

use std::sync::Arc;

use reprint_bus::directory::Directory;
use reprint_bus::objects::Images;
use reprint_bus::relay::RelayWaker;
use reprint_domain::{SiteId, SiteRules};
use reprint_eventstore::Store;
use reprint_service::auth::SessionKey;
use reprint_service::metrics::Metrics;
use reprint_site::SiteFiles;

use crate::config::{LabConfig, PrinterConfig};

/// The lab's clock (the service crate's: the system's, or one a test pins).
pub use reprint_service::clock::Clock;

/// A printer with its profile loaded.
#[derive(Debug, Clone)]
pub struct Printer {
    pub config: PrinterConfig,
    /// The printer's ICC profile bytes.
    pub icc: Vec<u8>,
    /// Its name for people ("sRGB" or the file name).
    pub icc_name: String,
}

pub struct LabInner {
    pub config: LabConfig,
    pub files: SiteFiles,
    pub store: Store,
    pub client: async_nats::Client,
    pub images: Images,
    pub directory: Directory,
    pub metrics: Metrics,
    pub printers: Vec<Printer>,
    pub waker: RelayWaker,
    pub session_key: SessionKey,
    /// Failed log-ins per operator and source, and the argon2 verifications.
    pub login_limiter: reprint_service::auth::Logins,
    pub clock: Clock,
    /// One permit per print being rendered (`production.render_threads`).
    pub render_slots: Arc<tokio::sync::Semaphore>,
}

#[derive(Clone)]
pub struct Lab(pub Arc<LabInner>);

impl std::ops::Deref for Lab {
    type Target = LabInner;
    fn deref(&self) -> &LabInner {
        &self.0
    }
}

impl Lab {
    pub fn rules(&self) -> &SiteRules {
        &self.files.rules
    }

    pub fn site(&self) -> &SiteId {
        &self.files.rules.site
    }

    pub fn printer(&self, name: &str) -> Option<&Printer> {
        self.printers.iter().find(|p| p.config.name == name)
    }

    /// The first printer that prints `size`.
    pub fn printer_for(&self, size: reprint_domain::PrintSize) -> Option<&Printer> {
        self.printers
            .iter()
            .find(|p| p.config.sizes.contains(&size))
    }

    /// Whether this lab prints `size`: priced (when it charges per print) and on a printer.
    /// What the order check asks of the lab (`reprint_domain::order_check`).
    pub fn prints_size(&self, size: reprint_domain::PrintSize) -> bool {
        (!self.rules().prices.charges_prints() || self.rules().prices.print_price(size).is_ok())
            && self.printer_for(size).is_some()
    }
}
