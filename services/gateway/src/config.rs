//! The gateway's configuration: a TOML file, then `REPRINT_GATEWAY__<a>__<b>` environment
//! variables over it (see `reprint_service::config`). Every field has a default, so an empty
//! file runs a local gateway on an embedded SQLite store.

use serde::Deserialize;

/// Environment prefix of the overrides.
pub const ENV_PREFIX: &str = "REPRINT_GATEWAY";

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// This gateway's site id (its inbox is `reprint.v1.gateway.<id>.>`).
    pub gateway_id: String,
    pub http: HttpConfig,
    pub store: StoreConfig,
    pub nats: NatsConfig,
    pub session: SessionConfig,
    pub storage: StorageConfig,
    pub ops: OpsConfig,
    pub web: WebConfig,
    pub mail: MailConfig,
}

/// `[mail]`: the e-mail notices of an order's life (received by the lab, ready for pickup,
/// rejected or cancelled by the lab; [`crate::notices`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// Whether notices are sent at all.
    pub enabled: bool,
    /// The SMTP server: `smtp://host:25` (plain), `smtp://host:587?tls=required` (STARTTLS),
    /// `smtps://user:password@host:465` (TLS). Without it every notice is written as an `.eml`
    /// file into `folder`.
    pub smtp_url: Option<String>,
    /// Where notices go without an SMTP server (created when missing).
    pub folder: std::path::PathBuf,
    /// The sender (`reprint <no-reply@reprint.example>`). The links in the e-mails start with
    /// `[http].public_url` (else the gateway's own address).
    pub from: String,
    /// How often the task looks for orders owed a notice.
    pub interval_ms: u64,
    /// Orders that reached their stage longer ago than this get no notice (a gateway that
    /// starts sending does not mail its whole history).
    pub max_age_secs: i64,
    /// Sending attempts of one notice before it is given up (logged).
    pub max_attempts: i64,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            enabled: true,
            smtp_url: None,
            folder: std::path::PathBuf::from("mail"),
            from: "reprint <no-reply@reprint.example>".to_string(),
            interval_ms: 2_000,
            max_age_secs: 3 * 24 * 3600,
            max_attempts: 10,
        }
    }
}

/// `[web]`: how the home users' pages speak when the person has not said.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// The language of a page when neither the account nor the browser names one the pages
    /// speak (`ja` or `en`).
    pub locale: String,
    /// The time zone times are shown in when the site an order belongs to does not say
    /// (an IANA name, `Asia/Tokyo`).
    pub time_zone: chrono_tz::Tz,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            locale: "ja".to_string(),
            time_zone: chrono_tz::Asia::Tokyo,
        }
    }
}

/// `[http]`: the shared section (`reprint_service::config::HttpSection`); the address defaults
/// to [`DEFAULT_HTTP_ADDRESS`].
pub use reprint_service::config::HttpSection as HttpConfig;

pub const DEFAULT_HTTP_ADDRESS: &str = "127.0.0.1:8080";

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite:...` (default, embedded) or `postgres://...` (production).
    pub url: String,
    /// `[store.retention]`: how long published messages and handled message ids are kept.
    pub retention: reprint_service::housekeeping::RetentionConfig,
}

/// `[nats]`: the shared section (`reprint_service::config::NatsSection`).
pub use reprint_service::config::NatsSection as NatsConfig;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// At least 32 bytes; without it a random key is used (sessions end with the process).
    pub secret: Option<String>,
    pub ttl_secs: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// What one user may keep: stored images plus open reservations.
    pub user_quota_bytes: u64,
    /// What the gateway offers in all: stored images plus open reservations of everybody.
    pub capacity_bytes: u64,
    /// How long a reservation holds.
    pub reservation_ttl_secs: i64,
    /// Largest single image.
    pub max_image_bytes: u64,
    /// Uploads validated (decoded) at the same time; a permit is taken once the whole body is
    /// in, so a slow client holds none while it sends.
    pub concurrent_uploads: usize,
    /// Of those, how many one account may hold at once (its other uploads wait their turn).
    pub uploads_per_account: usize,
    /// An upload that sends no byte for this long is answered 408 and dropped.
    pub upload_idle_secs: u64,
    /// Most bytes an image's decoded pixels may take (width x height x channels x bytes per
    /// sample, read from its header): larger images are refused before they are opened.
    pub max_decoded_bytes: u64,
    /// Thumbnails built at the same time.
    pub concurrent_thumbnails: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpsConfig {
    /// Accounts signing up with these e-mail addresses get the `ops` role.
    pub emails: Vec<String>,
    /// A site is amber once its last heartbeat is older than this many of its own intervals,
    /// red after `heartbeat_red_missed` (the directory calls it stale after 3).
    pub heartbeat_amber_missed: u32,
    pub heartbeat_red_missed: u32,
    /// This gateway's outbox backlog and consumer lag: amber at / red at (messages).
    pub backlog_amber: u64,
    pub backlog_red: u64,
    pub lag_amber: u64,
    pub lag_red: u64,
    /// An order is stuck when it stayed in a stage longer than this (minutes), by stage code
    /// (`placed`, `received`, ...); a stage not named uses `stuck_default_minutes`.
    pub stuck_minutes: std::collections::BTreeMap<String, i64>,
    pub stuck_default_minutes: i64,
    /// A link to a status's trace on the order's timeline, `{trace_id}` replaced
    /// (`http://jaeger:16686/trace/{trace_id}`); none: the trace id is shown without a link.
    pub trace_url: Option<String>,
    /// A site's last error is shown amber while younger than this (minutes).
    pub last_error_amber_minutes: i64,
}

impl Default for OpsConfig {
    fn default() -> Self {
        let stuck = [
            ("placed", 60),
            ("received", 4 * 60),
            ("printing", 2 * 60),
            ("printed", 4 * 60),
            ("dispatched", 24 * 60),
            ("ready_for_pickup", 14 * 24 * 60),
            ("collected", 7 * 24 * 60),
        ];
        OpsConfig {
            emails: Vec::new(),
            heartbeat_amber_missed: 2,
            heartbeat_red_missed: 3,
            backlog_amber: 10,
            backlog_red: 100,
            lag_amber: 10,
            lag_red: 100,
            stuck_minutes: stuck.iter().map(|(s, m)| (s.to_string(), *m)).collect(),
            stuck_default_minutes: 24 * 60,
            trace_url: None,
            last_error_amber_minutes: 60,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            gateway_id: "gw-1".to_string(),
            http: HttpConfig::default(),
            store: StoreConfig::default(),
            nats: NatsConfig::default(),
            session: SessionConfig::default(),
            storage: StorageConfig::default(),
            ops: OpsConfig::default(),
            web: WebConfig::default(),
            mail: MailConfig::default(),
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: "sqlite:reprint-gateway.db".to_string(),
            retention: Default::default(),
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            secret: None,
            ttl_secs: 12 * 60 * 60,
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            user_quota_bytes: 2 * 1024 * 1024 * 1024,
            capacity_bytes: 200 * 1024 * 1024 * 1024,
            reservation_ttl_secs: 60 * 60,
            max_image_bytes: 100 * 1024 * 1024,
            concurrent_uploads: 4,
            uploads_per_account: 2,
            upload_idle_secs: 10,
            max_decoded_bytes: reprint_media::validate::DEFAULT_MAX_DECODED_BYTES,
            concurrent_thumbnails: 2,
        }
    }
}

impl StorageConfig {
    /// The image limits every decoder of the gateway is held to.
    pub fn image_limits(&self) -> reprint_media::Limits {
        reprint_media::Limits {
            max_bytes: self.max_image_bytes,
            max_decoded_bytes: self.max_decoded_bytes,
            ..reprint_media::Limits::default()
        }
    }
}

impl Config {
    /// Where the HTTP server listens.
    pub fn http_address(&self) -> &str {
        self.http.address_or(DEFAULT_HTTP_ADDRESS)
    }

    /// Reads `path` (optional) and the environment.
    pub fn load(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
        Ok(reprint_service::config::load(path, ENV_PREFIX)?)
    }
}
