//! Configuration in layers: a TOML file, then environment variables over it.
//!
//! An environment variable `<PREFIX>__<a>__<b>=value` sets the field `a.b` (the double
//! underscore separates levels; names are lowercased). The value is parsed as a TOML value when
//! it is one (`8080`, `true`, `"x"`, `[1, 2]`), else taken as a string. So
//! `REPRINT_LAB__STORE__URL=postgres://...` overrides `[store] url = ...`.
//!
//! Errors name the file, the field and the value: a bad file fails at start, clearly.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::path::Path;

/// `[store]` of a service that keeps its own store (the lab and the counter; the gateway's has
/// more): the store's URL, `sqlite://...` or `postgres://...` (absent: the service's SQLite file
/// in its data directory), and `[store.retention]`, how long published messages and handled
/// message ids are kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    pub url: Option<String>,
    #[serde(default)]
    pub retention: crate::housekeeping::RetentionConfig,
}

/// `[nats]` of every service: where the server is, how the service logs in, and how its
/// backbone parts (streams, inbox consumer, outbox relay, request/reply, directory heartbeat)
/// are tuned. Every field means the same in the lab, the counter and the gateway.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsSection {
    /// `nats://host:port` (a list is not needed: the client follows the cluster's gossip).
    pub url: String,
    /// Replicas of the streams, the site directory and the image bucket this service
    /// provisions (1 locally, 3 on a cluster; 1 to 5). Every service provisions the whole
    /// backbone at its start, so every service of a network must say the same.
    pub replicas: usize,
    /// Most inbox messages handled in one store transaction.
    pub batch_size: usize,
    /// Seconds between this site's heartbeats in the site directory (at least 1).
    pub heartbeat_secs: u64,
    /// How long a quote, catalog or locale request to another site may take.
    pub rpc_timeout_ms: u64,
    /// How often the outbox relay looks for unsent messages when no commit woke it.
    pub relay_interval_ms: u64,
    /// How long a message whose handling failed for a passing reason waits before it is
    /// delivered again.
    pub nak_delay_ms: u64,
    /// NATS user (`deploy/nats/users.conf`: the site id); with `password`. Unset: no log-in.
    pub user: Option<String>,
    /// NATS password of `user`; best from the environment (`REPRINT_<SVC>__NATS__PASSWORD`).
    /// Never logged.
    pub password: Option<reprint_bus::connect::Secret>,
    /// A `.creds` file (JWT + NKey seed) instead of user and password.
    pub creds_file: Option<std::path::PathBuf>,
    /// The JetStream domain of the network's streams when the server `url` names is not the
    /// one holding them: a counter on its own leaf node (`deploy/nats/leaf-counter.conf`)
    /// sets `"hub"`, the domain of the hub's `jetstream` block. Unset: the server's own.
    pub jetstream_domain: Option<String>,
}

impl Default for NatsSection {
    fn default() -> Self {
        NatsSection {
            url: "nats://127.0.0.1:4222".into(),
            replicas: 1,
            batch_size: 64,
            heartbeat_secs: 10,
            rpc_timeout_ms: 3000,
            relay_interval_ms: 250,
            nak_delay_ms: 1000,
            user: None,
            password: None,
            creds_file: None,
            jetstream_domain: None,
        }
    }
}

impl NatsSection {
    /// The NATS credentials of `user`/`password`/`creds_file`.
    pub fn auth(&self) -> Result<reprint_bus::connect::Auth, reprint_bus::BusError> {
        reprint_bus::connect::Auth::from_parts(
            self.user.as_deref(),
            self.password.as_ref(),
            self.creds_file.as_deref(),
        )
    }

    pub fn heartbeat(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.heartbeat_secs.max(1))
    }

    pub fn rpc_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.rpc_timeout_ms.max(10))
    }

    pub fn relay_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.relay_interval_ms.max(10))
    }

    pub fn nak_delay(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.nak_delay_ms.max(10))
    }

    /// The settings of this service's outbox relay.
    pub fn relay(&self) -> reprint_bus::relay::RelayConfig {
        reprint_bus::relay::RelayConfig {
            poll_interval: self.relay_interval(),
            ..reprint_bus::relay::RelayConfig::default()
        }
    }

    /// Refuses values that cannot work, naming the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=5).contains(&self.replicas) {
            return Err(format!(
                "nats.replicas must be 1 to 5, not {}",
                self.replicas
            ));
        }
        if self.batch_size == 0 {
            return Err("nats.batch_size must be at least 1".into());
        }
        if let Some(domain) = &self.jetstream_domain {
            reprint_bus::connect::check_domain(domain)
                .map_err(|e| format!("nats.jetstream_domain {domain:?}: {e}"))?;
        }
        Ok(())
    }
}

/// `[http]` of every service: where it listens and how it treats its clients. The address has
/// no shared default (each service has its own port): [`HttpSection::address_or`].
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSection {
    /// `host:port`; port 0 picks a free port (tests). Unset: the service's own default.
    pub address: Option<String>,
    /// The address people reach the service at (`https://lab.example.jp`); when it is https,
    /// cookies are sent only over TLS.
    pub public_url: Option<String>,
    /// Mark cookies `Secure` even without an https `public_url` (behind a TLS proxy).
    pub secure_cookies: bool,
    /// Largest JSON or form body (uploads have their own limits).
    pub max_body_bytes: usize,
    /// Log-in attempts allowed per window (per account and source).
    pub rate_limit_attempts: u32,
    pub rate_limit_window_secs: i64,
    /// A client must send its whole request head within this time, or the connection is closed
    /// (a slow-headers client holds nothing for long).
    pub header_read_timeout_secs: u64,
    /// A request body that sends nothing for this long is answered 408 and dropped.
    pub body_idle_timeout_secs: u64,
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            address: None,
            public_url: None,
            secure_cookies: false,
            max_body_bytes: 64 * 1024,
            rate_limit_attempts: 10,
            rate_limit_window_secs: 60,
            header_read_timeout_secs: 10,
            body_idle_timeout_secs: 20,
        }
    }
}

impl HttpSection {
    /// The configured address, or the service's own default.
    pub fn address_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.address.as_deref().unwrap_or(default)
    }

    /// Whether cookies must carry `Secure`.
    pub fn cookies_secure(&self) -> bool {
        self.secure_cookies
            || self
                .public_url
                .as_deref()
                .is_some_and(|u| u.trim().to_ascii_lowercase().starts_with("https://"))
    }

    /// The time-outs the shared server applies ([`crate::server::serve`]).
    pub fn timeouts(&self) -> crate::server::Timeouts {
        crate::server::Timeouts {
            header_read: std::time::Duration::from_secs(self.header_read_timeout_secs.max(1)),
            body_idle: std::time::Duration::from_secs(self.body_idle_timeout_secs.max(1)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("configuration {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// Reads `path` (if given), applies the environment overrides under `env_prefix`, and
/// deserialises the result.
pub fn load<T: DeserializeOwned>(path: Option<&Path>, env_prefix: &str) -> Result<T, ConfigError> {
    let (text, origin) = match path {
        Some(p) => (
            std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.display().to_string(),
                source,
            })?,
            p.display().to_string(),
        ),
        None => (String::new(), "(defaults)".to_string()),
    };
    let vars: Vec<(String, String)> = std::env::vars().collect();
    from_str_with_env(&text, &origin, env_prefix, &vars)
}

/// As [`load`], from text and an explicit list of variables (for tests).
pub fn from_str_with_env<T: DeserializeOwned>(
    text: &str,
    origin: &str,
    env_prefix: &str,
    vars: &[(String, String)],
) -> Result<T, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        origin: origin.to_string(),
        message,
    };
    let mut root: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let prefix = format!("{env_prefix}__");
    for (name, value) in vars {
        let Some(path) = name.strip_prefix(&prefix) else {
            continue;
        };
        let keys: Vec<String> = path.split("__").map(|k| k.to_lowercase()).collect();
        if keys.iter().any(|k| k.is_empty()) {
            return Err(invalid(format!("environment variable {name}: empty key")));
        }
        let parsed = parse_env_value(value);
        set_path(&mut root, &keys, parsed)
            .map_err(|m| invalid(format!("environment variable {name}: {m}")))?;
    }
    let text = toml::to_string(&root).map_err(|e| invalid(e.to_string()))?;
    toml::from_str(&text).map_err(|e| invalid(e.to_string()))
}

fn parse_env_value(value: &str) -> toml::Value {
    // `x = <value>` parses only when value is a TOML value.
    match toml::from_str::<toml::Table>(&format!("x = {value}")) {
        Ok(mut t) => t
            .remove("x")
            .unwrap_or_else(|| toml::Value::String(value.to_string())),
        Err(_) => toml::Value::String(value.to_string()),
    }
}

fn set_path(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = keys.split_last().ok_or_else(|| "no key".to_string())?;
    let mut cur = table;
    for k in parents {
        let entry = cur
            .entry(k.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{k}` is not a table"))?;
    }
    cur.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Cfg {
        http: Http,
        store: Store,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Http {
        port: u16,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Store {
        url: String,
    }

    #[test]
    fn environment_overrides_the_file() {
        let vars = vec![
            (
                "REPRINT_LAB__STORE__URL".to_string(),
                "postgres://db/lab".to_string(),
            ),
            ("REPRINT_LAB__HTTP__PORT".to_string(), "9000".to_string()),
            ("OTHER__HTTP__PORT".to_string(), "1".to_string()),
        ];
        let c: Cfg = from_str_with_env(
            "[http]\nport = 8080\n[store]\nurl = \"sqlite://x\"\n",
            "lab.toml",
            "REPRINT_LAB",
            &vars,
        )
        .unwrap();
        assert_eq!(c.http.port, 9000);
        assert_eq!(c.store.url, "postgres://db/lab");
    }

    #[test]
    fn a_bad_file_names_the_field() {
        let e = from_str_with_env::<Cfg>(
            "[http]\nport = \"eighty\"\n[store]\nurl = \"x\"\n",
            "lab.toml",
            "P",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("lab.toml") && e.contains("port"), "{e}");
        let e = from_str_with_env::<Cfg>(
            "[http]\nport = 1\nhost = 2\n[store]\nurl = \"x\"\n",
            "lab.toml",
            "P",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("host"), "{e}");
    }

    #[test]
    fn a_jetstream_domain_is_optional_and_one_token() {
        let none: NatsSection = toml::from_str("").unwrap();
        assert_eq!(none.jetstream_domain, None);
        assert!(none.validate().is_ok());
        let hub: NatsSection = toml::from_str("jetstream_domain = \"hub\"").unwrap();
        assert_eq!(hub.jetstream_domain.as_deref(), Some("hub"));
        assert!(hub.validate().is_ok());
        let bad: NatsSection = toml::from_str("jetstream_domain = \"hub.eu\"").unwrap();
        let e = bad.validate().unwrap_err();
        assert!(e.contains("nats.jetstream_domain"), "{e}");
    }
}
