//! The counter's configuration: a TOML file, then `REPRINT_COUNTER__a__b` environment variables
//! over it (see `reprint_service::config`). A bad file fails at start with the field named.
//!
//! ```toml
//! name = "Ginza mini-lab"
//! address = "1-2-3 Ginza, Tokyo"
//! data_dir = "./data/counter"
//! session_secret = "... at least 32 bytes ..."
//! [site]            # the counter's charging rules (reprint_domain::SiteRules)
//! [[labs]]          # the labs it works with
//! [[staff]]         # terminal accounts: name + argon2id hash (`reprint-counter hash-password`)
//! [store] url = "sqlite://./data/counter/counter.sqlite"   # the default
//! [nats] url = "nats://127.0.0.1:4222"
//! [http] address = "127.0.0.1:8083"
//! [uploads]         # limits on what a medium may hold
//! [printer]         # its own printer (optional, `crate::own_printer`)
//! [writer]          # its disc / USB writer and the media it sells (optional, `crate::writer`)
//! ```

use std::path::{Path, PathBuf};

use reprint_domain::extract::Sharing;
use reprint_domain::{SiteId, SiteKind, SiteRules};
use serde::Deserialize;

use crate::error::CounterError;

/// Environment prefix of the overrides.
pub const ENV_PREFIX: &str = "REPRINT_COUNTER";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterConfig {
    /// The counter's name, on the slip and the terminal.
    pub name: String,
    /// Its address, on the slip.
    #[serde(default)]
    pub address: String,
    /// When customers can collect here, in the site's time zone:
    /// `opening_hours = [{ days = "mon-fri", opens = "10:00", closes = "20:00" }]` (announced in
    /// the site directory; optional).
    #[serde(
        default,
        deserialize_with = "reprint_service::storefront::checked_opening_hours"
    )]
    pub opening_hours: Vec<reprint_bus::directory::OpeningHours>,
    /// Whether a parcel from a lab is ready for pickup only once staff check it in (scan or
    /// type its label, the lab's reception number, on the arrivals page) instead of when the
    /// lab says it dispatched it. Off by default.
    #[serde(default)]
    pub check_in_parcels: bool,
    /// Where the terminal's card reader mounts a card (e.g. `/media/card`): the intake page
    /// reads it on demand, besides a ZIP or picked files. Optional.
    #[serde(default)]
    pub medium_dir: Option<PathBuf>,
    /// Where the SQLite store and the image spool live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The counter's charging rules (site id, time zone, currency, numbers, prices, policy).
    pub site: SiteRules,
    /// The labs this counter works with.
    pub labs: Vec<LabLink>,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub nats: NatsConfig,
    #[serde(default)]
    pub http: HttpConfig,
    /// Terminal accounts.
    pub staff: Vec<StaffAccount>,
    /// Signs the staff sessions; at least 32 bytes.
    pub session_secret: String,
    #[serde(default)]
    pub uploads: UploadLimits,
    /// How often the lab's share collected is stated to each lab for confirmation:
    /// `daily` (the default), `weekly` or `monthly`.
    #[serde(default)]
    pub statement_period: reprint_domain::statement::Period,
    /// `[printer]`: the counter's own printer (a mini-lab), announced in the site directory;
    /// labs then send it internet orders as print data (`crate::own_printer`).
    #[serde(default)]
    pub printer: Option<crate::own_printer::PrinterConfig>,
    /// `[writer]`: the counter's disc or USB writer (seed 000, claims 2, 18: "a digital media
    /// containing the image"): intake then offers the digital copy on the media it names at
    /// their prices, and writes it into the writer's hot folder (`crate::writer`). Absent: no
    /// medium is offered, and a request for one is refused.
    #[serde(default)]
    pub writer: Option<crate::writer::WriterConfig>,
}

/// A lab the counter forwards walk-in orders to and receives deliveries from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabLink {
    pub id: SiteId,
    pub name: String,
    /// How much of the counter's file goes to the lab: `reception_only` (default) or
    /// `whole_file` (an affiliated lab with a data-sharing agreement).
    #[serde(default = "default_sharing")]
    pub sharing: Sharing,
    /// Hours the lab usually takes, for the expected ready time on the slip (the lab's own
    /// estimate replaces it when its reception record arrives).
    #[serde(default = "default_turnaround")]
    pub turnaround_hours: u32,
    /// Hours from the lab's finish to the prints on this counter's shelf: the ready-by on the
    /// slip is the lab's estimate plus these, never before the time promised at intake.
    #[serde(default)]
    pub transport_hours: u32,
    /// The print sizes the lab makes, as it announces them in the site directory (`["L",
    /// "2L"]`); intake refuses any other size in the lab's own words. Empty (the default): every
    /// print size is taken and the lab checks on receipt.
    #[serde(default)]
    pub sizes: Vec<reprint_domain::PrintSize>,
}

impl LabLink {
    /// The sizes intake takes for this lab.
    pub fn prints(&self) -> Vec<reprint_domain::PrintSize> {
        if self.sizes.is_empty() {
            reprint_domain::PrintSize::ALL.to_vec()
        } else {
            self.sizes.clone()
        }
    }
}

/// `[store]`: the shared section (`reprint_service::config::StoreSection`); without `url`, the
/// store is `sqlite://<data_dir>/counter.sqlite`.
pub use reprint_service::config::StoreSection as StoreConfig;

/// `[nats]`: the shared section (`reprint_service::config::NatsSection`).
pub use reprint_service::config::NatsSection as NatsConfig;

/// `[http]`: the shared section (`reprint_service::config::HttpSection`); the address defaults
/// to [`DEFAULT_HTTP_ADDRESS`].
pub use reprint_service::config::HttpSection as HttpConfig;

pub const DEFAULT_HTTP_ADDRESS: &str = "127.0.0.1:8083";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffAccount {
    pub name: String,
    /// argon2id PHC string.
    pub password_hash: String,
}

/// What a medium handed over at the counter may hold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadLimits {
    /// Largest request body (the ZIP or all image files together), bytes.
    #[serde(default = "default_request_bytes")]
    pub max_request_bytes: u64,
    /// Most files in one ZIP (entries, directories included).
    #[serde(default = "default_entries")]
    pub max_entries: usize,
    /// Most bytes all ZIP entries may expand to (declared and actual sizes are checked).
    #[serde(default = "default_uncompressed")]
    pub max_uncompressed_bytes: u64,
    /// Largest single image, bytes.
    #[serde(default = "default_image_bytes")]
    pub max_image_bytes: u64,
    /// Most images in one order.
    #[serde(default = "default_images")]
    pub max_images: usize,
    /// Most bytes one image's decoded pixels may take (width x height x channels x bytes per
    /// sample, read from its header): larger images are refused before they are opened.
    #[serde(default = "default_decoded_bytes")]
    pub max_decoded_bytes: u64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            max_request_bytes: default_request_bytes(),
            max_entries: default_entries(),
            max_uncompressed_bytes: default_uncompressed(),
            max_image_bytes: default_image_bytes(),
            max_images: default_images(),
            max_decoded_bytes: default_decoded_bytes(),
        }
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("./data/counter")
}
fn default_sharing() -> Sharing {
    Sharing::ReceptionOnly
}
fn default_turnaround() -> u32 {
    24
}
fn default_request_bytes() -> u64 {
    512 * 1024 * 1024
}
fn default_entries() -> usize {
    2_000
}
fn default_uncompressed() -> u64 {
    1024 * 1024 * 1024
}
fn default_image_bytes() -> u64 {
    100 * 1024 * 1024
}
fn default_decoded_bytes() -> u64 {
    reprint_media::validate::DEFAULT_MAX_DECODED_BYTES
}
fn default_images() -> usize {
    500
}

impl CounterConfig {
    /// Reads `path` (if any) and the environment, then checks what serde cannot.
    pub fn load(path: Option<&Path>) -> Result<CounterConfig, CounterError> {
        let mut config: CounterConfig = reprint_service::config::load(path, ENV_PREFIX)
            .map_err(|e| CounterError::Config(e.to_string()))?;
        config.validate()?;
        config.price_media()?;
        Ok(config)
    }

    /// Parses TOML text (no environment), then validates.
    pub fn from_toml(text: &str) -> Result<CounterConfig, CounterError> {
        let mut config: CounterConfig =
            reprint_service::config::from_str_with_env(text, "(text)", ENV_PREFIX, &[])
                .map_err(|e| CounterError::Config(e.to_string()))?;
        config.validate()?;
        config.price_media()?;
        Ok(config)
    }

    /// The writer's hot folder (by default `<data_dir>/writer`), and its media and prices into
    /// the counter's price list (the catalog and the charge
    /// rules read them there: `reprint_domain::digital_media`); none without a writer.
    fn price_media(&mut self) -> Result<(), CounterError> {
        if let Some(w) = self.writer.as_mut()
            && w.hot_folder.as_os_str().is_empty()
        {
            w.hot_folder = self.data_dir.join("writer");
        }
        self.site.prices.media = match &self.writer {
            Some(w) => w.prices(self.site.currency)?,
            None => Default::default(),
        };
        Ok(())
    }

    /// Checks across fields; every message names the field.
    pub fn validate(&self) -> Result<(), CounterError> {
        let bad = |field: &str, why: String| Err(CounterError::Config(format!("{field}: {why}")));
        if self.name.trim().is_empty() {
            return bad("name", "must not be empty".into());
        }
        if let Err(e) = self.nats.auth() {
            return bad("nats.user/password/creds_file", e.to_string());
        }
        if let Err(e) = self.store.retention.retention() {
            return bad(e.field, e.why);
        }
        if self.site.kind != SiteKind::Counter {
            return bad(
                "site.kind",
                format!(
                    "is \"{}\"; a counter's rules need kind = \"counter\"",
                    self.site.kind
                ),
            );
        }
        if self.labs.is_empty() {
            return bad(
                "labs",
                "name at least one lab ([[labs]] id = ..., name = ...)".into(),
            );
        }
        for (i, lab) in self.labs.iter().enumerate() {
            if lab.id == self.site.site {
                return bad(
                    &format!("labs[{i}].id"),
                    format!("\"{}\" is this counter's own id", lab.id),
                );
            }
            if self.labs[..i].iter().any(|l| l.id == lab.id) {
                return bad(
                    &format!("labs[{i}].id"),
                    format!("\"{}\" is listed twice", lab.id),
                );
            }
            if lab.turnaround_hours == 0 || lab.turnaround_hours > 24 * 60 {
                return bad(
                    &format!("labs[{i}].turnaround_hours"),
                    format!("{} is not between 1 and 1440", lab.turnaround_hours),
                );
            }
        }
        if self.staff.is_empty() {
            return bad(
                "staff",
                "add at least one terminal account ([[staff]] name = ..., password_hash = ...)"
                    .into(),
            );
        }
        for (i, s) in self.staff.iter().enumerate() {
            if s.name.trim().is_empty() {
                return bad(&format!("staff[{i}].name"), "must not be empty".into());
            }
            if !s.password_hash.starts_with("$argon2id$") {
                return bad(
                    &format!("staff[{i}].password_hash"),
                    "is not an argon2id hash; make one with `reprint-counter hash-password`".into(),
                );
            }
        }
        if self.session_secret.len() < 32 {
            return bad(
                "session_secret",
                format!(
                    "is {} bytes; at least 32 are needed",
                    self.session_secret.len()
                ),
            );
        }
        if let Err(e) = self.nats.validate() {
            return bad("nats", e);
        }
        if self.nats.heartbeat_secs == 0 || self.nats.heartbeat_secs > 3600 {
            return bad(
                "nats.heartbeat_secs",
                format!("{} is not between 1 and 3600", self.nats.heartbeat_secs),
            );
        }
        let u = &self.uploads;
        if u.max_request_bytes == 0
            || u.max_entries == 0
            || u.max_uncompressed_bytes == 0
            || u.max_image_bytes == 0
            || u.max_images == 0
        {
            return bad("uploads", "every limit must be positive".into());
        }
        if let Some(url) = &self.store.url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            return bad(
                "store.url",
                format!("\"{url}\" is neither sqlite:... nor postgres://..."),
            );
        }
        Ok(())
    }

    /// The store URL: the configured one, else `sqlite://<data_dir>/counter.sqlite`.
    /// Where the HTTP server listens.
    pub fn http_address(&self) -> &str {
        self.http.address_or(DEFAULT_HTTP_ADDRESS)
    }

    pub fn store_url(&self) -> String {
        match &self.store.url {
            Some(u) => u.clone(),
            None => format!(
                "sqlite://{}",
                self.data_dir.join("counter.sqlite").display()
            ),
        }
    }

    /// The spool directory for image bytes waiting for the link.
    pub fn spool_dir(&self) -> PathBuf {
        self.data_dir.join("spool")
    }

    pub fn lab(&self, id: &str) -> Option<&LabLink> {
        self.labs.iter().find(|l| l.id.as_str() == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../counter.example.toml");

    #[test]
    fn the_example_is_the_seeds_demo_counter() {
        let c = CounterConfig::from_toml(EXAMPLE).unwrap();
        assert_eq!(
            c.site,
            SiteRules::demo_counter(SiteId::parse("counter-ginza").unwrap())
        );
        assert_eq!(c.labs[0].id.as_str(), "lab-a");
        assert!(c.store_url().ends_with("counter.sqlite"));
        assert_eq!(c.nats.replicas, 1);
    }

    #[test]
    fn replicas_default_to_one_and_take_three() {
        let without = EXAMPLE.replace("replicas = 1\n", "");
        assert_ne!(without, EXAMPLE);
        assert_eq!(CounterConfig::from_toml(&without).unwrap().nats.replicas, 1);
        let three = EXAMPLE.replace("replicas = 1", "replicas = 3");
        assert_eq!(CounterConfig::from_toml(&three).unwrap().nats.replicas, 3);
    }

    fn err_of(from: &str, to: &str) -> String {
        let text = EXAMPLE.replace(from, to);
        assert_ne!(text, EXAMPLE, "{from:?} must be in the example");
        CounterConfig::from_toml(&text).unwrap_err().to_string()
    }

    #[test]
    fn bad_files_name_the_field() {
        let e = err_of("kind = \"counter\"", "kind = \"lab\"");
        assert!(e.contains("site.kind"), "{e}");
        let e = err_of("basic_charge = 250", "basic_charge = -250");
        assert!(e.contains("basic_charge") && e.contains("-250"), "{e}");
        let e = err_of("turnaround_hours = 24", "turnaround_hours = 0");
        assert!(e.contains("labs[0].turnaround_hours"), "{e}");
        let e = err_of("session_secret = \"", "session_secret = \"x\"\n#");
        assert!(e.contains("session_secret"), "{e}");
        let e = err_of("password_hash = \"$argon2id$", "password_hash = \"plain");
        assert!(e.contains("staff[0].password_hash"), "{e}");
        let e = err_of("heartbeat_secs = 15", "heartbeat_secs = 0");
        assert!(e.contains("nats.heartbeat_secs"), "{e}");
        let e = err_of("replicas = 1", "replicas = 0");
        assert!(e.contains("nats.replicas") && e.contains('0'), "{e}");
        let e = err_of("replicas = 1", "replicas = 6");
        assert!(e.contains("nats.replicas") && e.contains('6'), "{e}");
        let e = err_of("[nats]", "[nats]\ncolour = 1");
        assert!(e.contains("colour"), "{e}");
        let e = err_of("id = \"lab-a\"", "id = \"Lab A\"");
        assert!(e.contains("Lab A"), "{e}");
    }

    #[test]
    fn the_writer_prices_its_media_and_names_a_bad_key() {
        use reprint_domain::digital_media::DigitalMedium;
        let plain = CounterConfig::from_toml(EXAMPLE).unwrap();
        assert!(plain.writer.is_none() && plain.site.prices.media.is_empty());
        let with = |media: &str| {
            format!(
                "{EXAMPLE}\n[writer]\nname = \"Ginza writer\"\nhot_folder = \"{}\"\nmedia = {media}\n",
                std::env::temp_dir()
                    .join("reprint-writer-config-test")
                    .display()
            )
        };
        let c = CounterConfig::from_toml(&with("{ cd = 500, usb_stick = 1200 }")).unwrap();
        assert_eq!(c.site.prices.media.len(), 2);
        assert_eq!(
            c.site.prices.media[&DigitalMedium::UsbStick],
            reprint_domain::Money::new(1200, c.site.currency)
        );
        let e = CounterConfig::from_toml(&with("{ floppy = 100 }"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("writer.media.floppy"), "{e}");
        let e = CounterConfig::from_toml(&with("{ cd = -1 }"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("writer.media.cd") && e.contains("-1"), "{e}");
        let e = CounterConfig::from_toml(&with("{}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("writer.media"), "{e}");
        // Without a hot folder: the writer's is under the data directory.
        let default_folder =
            format!("{EXAMPLE}\n[writer]\nname = \"Ginza writer\"\nmedia = {{ cd = 500 }}\n");
        let d = CounterConfig::from_toml(&default_folder).unwrap();
        assert_eq!(
            d.writer.map(|w| w.hot_folder),
            Some(d.data_dir.join("writer"))
        );
    }
}
