//! The lab's configuration: a TOML file with environment overrides (`REPRINT_LAB__a__b=value`
//! sets `a.b`, see [`reprint_service::config`]). A bad file fails at start with the field named.
//!
//! ```toml
//! [site]                      # the site's rules (reprint_domain::SiteRules) plus name, address
//! site = "lab-a"
//! kind = "lab"
//! name = "A Corporation's laboratory"
//! address = "1-2-3 Chiyoda, Tokyo"
//! time_zone = "Asia/Tokyo"
//! currency = "JPY"
//! registration_number = { prefix = "A", width = 7 }
//! reception_number = { prefix = "B", width = 7 }
//! [site.prices]
//! basic_charge = 250
//! prints = { L = 30, "2L" = 80 }
//! [site.policy] ...
//!
//! [[printers]]
//! name = "minilab-1"
//! sizes = ["L", "2L"]
//! dpi = 300
//! icc_profile = "sRGB"        # or a path to the printer's .icc file
//! paper = "silver-halide glossy"   # the paper that profile is for (optional)
//! hot_folder = "/var/lib/reprint-lab/hot/minilab-1"
//! prints_per_hour = 600
//!
//! [counters]
//! known = ["counter-ginza"]   # delivery counters accepted
//! accept_directory = true     # also any counter announced in the site directory
//! data_sharing = ["counter-ginza"]   # affiliated: they get the whole individual user file
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use reprint_domain::{PrintSize, SiteId, SiteKind, SiteRules};
use serde::Deserialize;

/// Environment variable prefix of the overrides.
pub const ENV_PREFIX: &str = "REPRINT_LAB";

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabConfig {
    pub site: SiteSection,
    /// Where the lab keeps its files (the SQLite store by default).
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    pub printers: Vec<PrinterConfig>,
    #[serde(default)]
    pub counters: CountersConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub nats: NatsConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub console: ConsoleConfig,
    #[serde(default)]
    pub production: ProductionConfig,
    #[serde(default)]
    pub printing: PrintingConfig,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("./data/lab")
}

/// `[site]`: the site's rules plus how people know it.
#[derive(Debug, Clone)]
pub struct SiteSection {
    pub name: String,
    pub address: String,
    /// `opening_hours = [{ days = "mon-fri", opens = "09:00", closes = "18:00" }]`, in the
    /// site's time zone (announced in the site directory; optional).
    pub opening_hours: Vec<reprint_bus::directory::OpeningHours>,
    pub rules: SiteRules,
}

impl<'de> Deserialize<'de> for SiteSection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(d)?;
        let mut text = |key: &str| match table.remove(key) {
            Some(toml::Value::String(s)) if !s.trim().is_empty() => Ok(s),
            Some(other) => Err(D::Error::custom(format!(
                "site.{key}: expected a non-empty string, found {other}"
            ))),
            None => Err(D::Error::custom(format!("site.{key}: missing"))),
        };
        let name = text("name")?;
        let address = text("address")?;
        let opening_hours = match table.remove("opening_hours") {
            Some(v) => reprint_service::storefront::checked_opening_hours(v)
                .map_err(|e| D::Error::custom(format!("site.opening_hours: {e}")))?,
            None => Vec::new(),
        };
        let rules = SiteRules::deserialize(toml::Value::Table(table))
            .map_err(|e| D::Error::custom(format!("site: {e}")))?;
        Ok(SiteSection {
            name,
            address,
            opening_hours,
            rules,
        })
    }
}

/// One printer (a minilab print station reading a hot folder).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterConfig {
    pub name: String,
    pub sizes: Vec<PrintSize>,
    #[serde(default = "default_dpi")]
    pub dpi: u32,
    /// `sRGB` or `reprint-silver-halide-glossy` (built in; the latter is
    /// `deploy/icc/reprint-silver-halide-glossy.icc`), or the path of the printer's ICC profile.
    #[serde(default = "default_icc")]
    pub icc_profile: String,
    /// The paper the profile was made for ("silver-halide glossy"), listed with it in the
    /// catalog.
    #[serde(default)]
    pub paper: Option<String>,
    pub hot_folder: PathBuf,
    /// How many prints the station makes in an hour (the finish estimate's model).
    #[serde(default = "default_prints_per_hour")]
    pub prints_per_hour: u32,
}

fn default_dpi() -> u32 {
    300
}
fn default_icc() -> String {
    "sRGB".into()
}
fn default_prints_per_hour() -> u32 {
    600
}

/// `[counters]`: which delivery counters the lab works with.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountersConfig {
    #[serde(default)]
    pub known: Vec<SiteId>,
    /// Also accept any counter announced in the site directory.
    #[serde(default)]
    pub accept_directory: bool,
    /// Counters with a data-sharing agreement (the seed's affiliated counters): they receive
    /// the whole individual user file with each dispatch.
    #[serde(default)]
    pub data_sharing: Vec<SiteId>,
    /// Print every order here: never send an internet order's print data to a delivery counter
    /// that announces its own printer (`crate::counter_print`). Default: such a counter prints.
    #[serde(default)]
    pub never_print_at_counters: bool,
}

/// `[store]`: the shared section (`reprint_service::config::StoreSection`); without `url`, the
/// store is `sqlite://<data_dir>/lab.sqlite`.
pub use reprint_service::config::StoreSection as StoreConfig;

/// `[nats]`: the shared section (`reprint_service::config::NatsSection`).
pub use reprint_service::config::NatsSection as NatsConfig;

/// `[http]`: the shared section (`reprint_service::config::HttpSection`); the address defaults
/// to [`DEFAULT_HTTP_ADDRESS`].
pub use reprint_service::config::HttpSection as HttpConfig;

pub const DEFAULT_HTTP_ADDRESS: &str = "127.0.0.1:8081";

/// `[console]`: who may log in to the operator console.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Signs session cookies; at least 32 bytes. Without it sessions last as long as the process.
    pub session_secret: Option<String>,
    #[serde(default)]
    pub operators: Vec<OperatorConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    pub name: String,
    /// An argon2id PHC string (`reprint-lab hash-password`).
    pub password_hash: String,
}

/// `[production]`: timings of the print floor.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductionConfig {
    /// Fixed handling time added to every estimate (cutting, packing), minutes.
    #[serde(default = "default_handling")]
    pub handling_minutes: u32,
    /// How often the hot folders are looked at for done-markers, milliseconds.
    #[serde(default = "default_poll")]
    pub done_marker_poll_ms: u64,
    /// Price of the digital copy (the order's images with their print history in a ZIP), in
    /// minor units.
    #[serde(default)]
    pub digital_copy_price: i64,
    /// Prints rendered at the same time (CPU-bound work off the async threads). Default: one
    /// less than the machine's cores, at least one, so that receiving orders and answering the
    /// consoles keep a core while a large reception renders.
    #[serde(default = "default_render_threads")]
    pub render_threads: usize,
}

impl Default for ProductionConfig {
    fn default() -> Self {
        ProductionConfig {
            handling_minutes: default_handling(),
            done_marker_poll_ms: default_poll(),
            digital_copy_price: 0,
            render_threads: default_render_threads(),
        }
    }
}

fn default_render_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .max(1)
}

fn default_handling() -> u32 {
    30
}
fn default_poll() -> u64 {
    2000
}
/// `[printing]`: the print workers (`crate::printing`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrintingConfig {
    /// Print workers inside the lab's process, per printer (0: only `reprint-lab print-worker`
    /// processes print). Default 1.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// Seconds a job may go without a sign of life from its worker before another worker gets
    /// it (a worker says it is still rendering three times as often).
    #[serde(default = "default_ack_wait")]
    pub ack_wait_secs: u64,
    /// Attempts at a job that keeps meeting a passing trouble (NATS, the disk) before it is
    /// reported failed.
    #[serde(default = "default_attempts")]
    pub max_attempts: i64,
}

impl Default for PrintingConfig {
    fn default() -> Self {
        PrintingConfig {
            workers: default_workers(),
            ack_wait_secs: default_ack_wait(),
            max_attempts: default_attempts(),
        }
    }
}

impl PrintingConfig {
    /// The job consumers' delivery settings.
    pub fn consumer(&self) -> reprint_bus::print::JobConsumerSettings {
        reprint_bus::print::JobConsumerSettings {
            ack_wait: std::time::Duration::from_secs(self.ack_wait_secs.max(1)),
            max_deliver: self.max_attempts.max(1),
        }
    }
}

fn default_workers() -> usize {
    1
}
fn default_ack_wait() -> u64 {
    30
}
fn default_attempts() -> i64 {
    5
}

/// A configuration that cannot work, with the field named.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {field}: {message}")]
pub struct ConfigInvalid {
    pub field: String,
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigInvalid {
    ConfigInvalid {
        field: field.into(),
        message: message.into(),
    }
}

impl LabConfig {
    /// Reads `path` with the environment's overrides, then checks what serde cannot.
    pub fn load(path: Option<&Path>) -> anyhow::Result<LabConfig> {
        let config: LabConfig = reprint_service::config::load(path, ENV_PREFIX)?;
        config.validate()?;
        Ok(config)
    }

    /// Parses TOML text (no environment), then validates.
    pub fn from_toml(text: &str) -> anyhow::Result<LabConfig> {
        let config: LabConfig =
            reprint_service::config::from_str_with_env(text, "(text)", ENV_PREFIX, &[])?;
        config.validate()?;
        Ok(config)
    }

    /// Where the HTTP server listens.
    pub fn http_address(&self) -> &str {
        self.http.address_or(DEFAULT_HTTP_ADDRESS)
    }

    pub fn store_url(&self) -> String {
        match &self.store.url {
            Some(u) => u.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("lab.sqlite").display()
            ),
        }
    }

    pub fn site(&self) -> &SiteId {
        &self.site.rules.site
    }

    /// The first printer (in configuration order) that prints `size`.
    pub fn printer_for(&self, size: PrintSize) -> Option<&PrinterConfig> {
        self.printers.iter().find(|p| p.sizes.contains(&size))
    }

    /// Checks what the types alone do not.
    pub fn validate(&self) -> Result<(), ConfigInvalid> {
        if self.site.rules.kind != SiteKind::Lab {
            return Err(invalid(
                "site.kind",
                "a lab's configuration needs kind = \"lab\"",
            ));
        }
        self.nats
            .auth()
            .map_err(|e| invalid("nats.user/password/creds_file", e.to_string()))?;
        self.store
            .retention
            .retention()
            .map_err(|e| invalid(e.field, e.why))?;
        if self.printers.is_empty() {
            return Err(invalid("printers", "at least one [[printers]] entry"));
        }
        let mut names = std::collections::HashSet::new();
        for (i, p) in self.printers.iter().enumerate() {
            let f = |k: &str| format!("printers[{i}].{k}");
            if p.name.trim().is_empty()
                || !p
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(invalid(
                    f("name"),
                    format!("{:?}: letters, digits, '-' or '_'", p.name),
                ));
            }
            if !names.insert(p.name.clone()) {
                return Err(invalid(f("name"), format!("{:?} appears twice", p.name)));
            }
            if p.sizes.is_empty() {
                return Err(invalid(f("sizes"), "at least one print size"));
            }
            if p.paper
                .as_ref()
                .is_some_and(|t| t.trim().is_empty() || t.chars().count() > 100)
            {
                return Err(invalid(f("paper"), "1 to 100 characters, or left out"));
            }
            for s in &p.sizes {
                if self.site.rules.prices.charges_prints()
                    && self.site.rules.prices.print_price(*s).is_err()
                {
                    return Err(invalid(
                        f("sizes"),
                        format!("{s} has no price in site.prices.prints"),
                    ));
                }
            }
            if !(72..=2400).contains(&p.dpi) {
                return Err(invalid(f("dpi"), format!("{} is outside 72..=2400", p.dpi)));
            }
            if p.prints_per_hour == 0 {
                return Err(invalid(f("prints_per_hour"), "must be at least 1"));
            }
            if p.hot_folder.as_os_str().is_empty() {
                return Err(invalid(f("hot_folder"), "a directory"));
            }
        }
        if let Some(s) = &self.console.session_secret
            && s.len() < 32
        {
            return Err(invalid("console.session_secret", "at least 32 bytes"));
        }
        for (i, o) in self.console.operators.iter().enumerate() {
            if o.name.trim().is_empty() {
                return Err(invalid(format!("console.operators[{i}].name"), "empty"));
            }
            if !o.password_hash.starts_with("$argon2id$") {
                return Err(invalid(
                    format!("console.operators[{i}].password_hash"),
                    "an argon2id hash (run `reprint-lab hash-password`)",
                ));
            }
        }
        if self.http_address().parse::<SocketAddr>().is_err() {
            return Err(invalid(
                "http.address",
                format!("{:?} is not host:port", self.http_address()),
            ));
        }
        if let Err(e) = self.nats.validate() {
            return Err(invalid("nats", e));
        }
        if self.nats.heartbeat_secs == 0 || self.nats.heartbeat_secs > 3600 {
            return Err(invalid("nats.heartbeat_secs", "1 to 3600"));
        }
        if !(1..=1024).contains(&self.nats.batch_size) {
            return Err(invalid("nats.batch_size", "1 to 1024"));
        }
        if self.printing.workers > 64 {
            return Err(invalid("printing.workers", "0 to 64"));
        }
        if !(1..=3600).contains(&self.printing.ack_wait_secs) {
            return Err(invalid("printing.ack_wait_secs", "1 to 3600"));
        }
        if !(1..=100).contains(&self.printing.max_attempts) {
            return Err(invalid("printing.max_attempts", "1 to 100"));
        }
        if self.production.digital_copy_price < 0 {
            return Err(invalid("production.digital_copy_price", "0 or more"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const EXAMPLE: &str = include_str!("../lab.example.toml");

    #[test]
    fn the_example_is_the_seeds_demo_lab() {
        let c = LabConfig::from_toml(EXAMPLE).unwrap();
        assert_eq!(
            c.site.rules,
            SiteRules::demo_lab(SiteId::parse("lab-a").unwrap())
        );
        assert_eq!(c.printers.len(), 2);
    }

    #[test]
    fn bad_files_name_the_field() {
        let e = LabConfig::from_toml(&EXAMPLE.replace("basic_charge = 250", "basic_charge = -1"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("prices.basic_charge"), "{e}");
        let e = LabConfig::from_toml(&EXAMPLE.replace("dpi = 300", "dpi = 30"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("printers[0].dpi"), "{e}");
        let e = LabConfig::from_toml(&EXAMPLE.replace("prints_per_hour = 600", "colour = 1"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
        let e = LabConfig::from_toml(&EXAMPLE.replace("\"2L\"]", "\"A4\"]"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("A4"), "{e}");
        let e = LabConfig::from_toml(&EXAMPLE.replace("name = \"A Corporation", "nam = \"A"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("site.name"), "{e}");
        let short = "[store]\n[store.retention]\ninbox_days = 30\n";
        let e = LabConfig::from_toml(&EXAMPLE.replace("[store]\n", short))
            .unwrap_err()
            .to_string();
        assert!(e.contains("store.retention.inbox_days"), "{e}");
        let ok = "[store]\n[store.retention]\ninbox_days = 60\n";
        let c = LabConfig::from_toml(&EXAMPLE.replace("[store]\n", ok)).unwrap();
        assert_eq!(c.store.retention.inbox_days, 60);
    }
}
