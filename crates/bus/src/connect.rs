//! Connecting to NATS: retry with bounded exponential back-off, in the background.
//!
//! A counter keeps working while its link is down, so a service must be able to start while
//! NATS is unreachable. [`connect`] therefore returns at once with a client whose connection is
//! being set up in the background (async-nats `retry_on_initial_connect`); publishes wait in
//! the client's buffer, JetStream calls fail with a time-out until the link is up. Reconnects
//! after a drop use the same back-off. [`connect_and_wait`] is for tools and tests that cannot
//! do anything without the server.
//!
//! Connection events (connected, disconnected, lame duck, slow consumer, server errors) are
//! logged with `tracing` under the target `reprint_bus::connect`.
//!
//! # Logging in
//!
//! A service logs in with a user and password or a `.creds` file ([`Auth::from_parts`], from
//! the service's `[nats]` `user`, `password`, `creds_file`; secrets are never printed). Every
//! service also sets its reply inbox to `_INBOX.<site>` ([`site_inbox_prefix`]) instead of the
//! shared `_INBOX`, so that `deploy/nats/users.conf` can let a site subscribe to its own
//! replies only: with `_INBOX.>` for everybody, a counter could read the JetStream deliveries
//! pulled by another counter (they travel to the puller's reply inbox).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_nats::{Client, ConnectOptions, Event, ServerAddr, connection::State, jetstream};
use serde::Deserialize;

use crate::error::BusError;

/// How the client authenticates.
#[derive(Clone, Default)]
pub enum Auth {
    /// No credentials (a local development server).
    #[default]
    None,
    /// A token.
    Token(String),
    /// A user name and password.
    UserPassword {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// A `.creds` file (JWT plus NKey seed), read at connect time.
    CredentialsFile(PathBuf),
    /// The contents of a `.creds` file.
    Credentials(String),
}

impl std::fmt::Debug for Auth {
    /// Never prints a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Token(_) => f.write_str("Token(***)"),
            Auth::UserPassword { user, .. } => write!(f, "UserPassword({user}, ***)"),
            Auth::CredentialsFile(p) => write!(f, "CredentialsFile({})", p.display()),
            Auth::Credentials(_) => f.write_str("Credentials(***)"),
        }
    }
}

/// A secret read from a configuration (a password): never printed by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl Auth {
    /// The credentials a service configured: `user` + `password`, or `creds_file`, or none.
    /// Anything half given (a user without a password, a password without a user, both a
    /// user and a creds file, an empty value) is an error naming the `nats.*` key.
    pub fn from_parts(
        user: Option<&str>,
        password: Option<&Secret>,
        creds_file: Option<&std::path::Path>,
    ) -> Result<Auth, BusError> {
        let invalid = |reason: &str| BusError::Invalid {
            what: "NATS credentials",
            reason: reason.to_string(),
        };
        match (user, password, creds_file) {
            (None, None, None) => Ok(Auth::None),
            (Some(u), Some(p), None) => {
                if u.trim().is_empty() {
                    return Err(invalid("nats.user is empty"));
                }
                if p.expose().is_empty() {
                    return Err(invalid("nats.password is empty"));
                }
                Ok(Auth::UserPassword {
                    user: u.to_string(),
                    password: p.expose().to_string(),
                })
            }
            (Some(_), None, None) => Err(invalid("nats.user is set but nats.password is not")),
            (None, Some(_), None) => Err(invalid("nats.password is set but nats.user is not")),
            (None, None, Some(path)) => {
                if path.as_os_str().is_empty() {
                    return Err(invalid("nats.creds_file is empty"));
                }
                Ok(Auth::CredentialsFile(path.to_path_buf()))
            }
            (_, _, Some(_)) => Err(invalid(
                "give either nats.user and nats.password or nats.creds_file, not both",
            )),
        }
    }
}

/// The reply inbox prefix of a site: `_INBOX.<site>`. `deploy/nats/users.conf` lets each site's
/// user subscribe to `_INBOX.<site>.>` only.
pub fn site_inbox_prefix(site: &str) -> String {
    format!("_INBOX.{site}")
}

/// Everything [`connect`] needs.
#[derive(Debug, Clone)]
pub struct ConnectSettings {
    /// Server URLs, e.g. `nats://127.0.0.1:4222`; one entry may hold several, comma-separated.
    pub servers: Vec<String>,
    /// The client name shown by the server (`reprint-lab@lab-a`).
    pub name: String,
    /// Credentials.
    pub auth: Auth,
    /// First retry delay.
    pub initial_backoff: Duration,
    /// Longest retry delay (the back-off stops growing here).
    pub max_backoff: Duration,
    /// Time-out of one TCP + handshake attempt.
    pub connection_timeout: Duration,
    /// Default time-out of a core request and of a JetStream API call.
    pub request_timeout: Duration,
    /// Prefix of the client's reply subjects (`_INBOX` unless set; see [`site_inbox_prefix`]).
    pub inbox_prefix: Option<String>,
    /// The JetStream domain whose streams the service uses, when that is not the one of the
    /// server it connects to: a counter on its own leaf node (`deploy/nats/leaf-counter.conf`,
    /// domain `counter-<site>`) addresses the hub's JetStream (domain `hub`) as
    /// `$JS.hub.API.>` ([`jetstream_context`]). Unset: `$JS.API.>` of the server itself.
    pub jetstream_domain: Option<String>,
}

impl ConnectSettings {
    /// Settings for one server URL with the defaults below.
    pub fn new(url: impl Into<String>, name: impl Into<String>) -> Self {
        ConnectSettings {
            servers: vec![url.into()],
            name: name.into(),
            auth: Auth::None,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            connection_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            inbox_prefix: None,
            jetstream_domain: None,
        }
    }

    /// Sets the JetStream domain to address (see [`ConnectSettings::jetstream_domain`]);
    /// `None` keeps the server's own.
    pub fn with_jetstream_domain(mut self, domain: Option<String>) -> Self {
        self.jetstream_domain = domain;
        self
    }

    /// Sets the reply inbox prefix (e.g. [`site_inbox_prefix`]).
    pub fn with_inbox_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.inbox_prefix = Some(prefix.into());
        self
    }

    /// Sets the credentials.
    pub fn with_auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Sets the back-off bounds.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    fn server_addrs(&self) -> Result<Vec<ServerAddr>, BusError> {
        let addrs: Vec<ServerAddr> = self
            .servers
            .iter()
            .flat_map(|s| s.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<ServerAddr>().map_err(|e| BusError::Connect {
                    url: s.to_string(),
                    source: e.into(),
                })
            })
            .collect::<Result<_, _>>()?;
        if addrs.is_empty() {
            return Err(BusError::Invalid {
                what: "NATS servers",
                reason: "no server URL given".to_string(),
            });
        }
        Ok(addrs)
    }

    fn urls(&self) -> String {
        self.servers.join(",")
    }
}

/// A connected (or connecting) client and its JetStream context.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The core NATS client (request/reply, plain publish).
    pub client: Client,
    /// JetStream on that client (streams, KV, object store).
    pub jetstream: jetstream::Context,
}

impl Connection {
    /// True while the client is connected to a server.
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == State::Connected
    }

    /// Waits until the client is connected, at most `timeout`.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<(), BusError> {
        wait_connected(&self.client, timeout).await
    }
}

/// The back-off before retry number `attempt` (1-based): `initial * 2^(attempt-1)`, capped
/// at `max`, without jitter.
pub fn backoff_delay(attempt: usize, initial: Duration, max: Duration) -> Duration {
    let exp = u32::try_from(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(30);
    initial.saturating_mul(1u32 << exp).min(max)
}

/// Up to 20 % of random jitter on top of `delay`, so that many counters coming back after an
/// outage do not all knock at the same moment.
fn with_jitter(delay: Duration) -> Duration {
    let random = (uuid::Uuid::new_v4().as_u128() & 0xffff) as u32; // 0..=65535
    delay + delay.mul_f64(0.2 * f64::from(random) / 65535.0)
}

async fn log_event(name: String, event: Event) {
    match event {
        Event::Connected => tracing::info!(client = %name, "NATS connected"),
        Event::Disconnected => tracing::warn!(client = %name, "NATS disconnected, reconnecting"),
        Event::LameDuckMode => {
            tracing::warn!(client = %name, "NATS server entering lame duck mode")
        }
        Event::Draining => tracing::info!(client = %name, "NATS client draining"),
        Event::Closed => tracing::info!(client = %name, "NATS client closed"),
        Event::SlowConsumer(sid) => {
            tracing::warn!(client = %name, sid, "NATS slow consumer, messages dropped")
        }
        Event::ServerError(e) => tracing::error!(client = %name, error = %e, "NATS server error"),
        Event::ClientError(e) => tracing::error!(client = %name, error = %e, "NATS client error"),
    }
}

async fn options(settings: &ConnectSettings) -> Result<ConnectOptions, BusError> {
    let mut opts = ConnectOptions::new();
    opts = match &settings.auth {
        Auth::None => opts,
        Auth::Token(t) => opts.token(t.clone()),
        Auth::UserPassword { user, password } => {
            opts.user_and_password(user.clone(), password.clone())
        }
        Auth::CredentialsFile(path) => {
            opts.credentials_file(path)
                .await
                .map_err(|e| BusError::Connect {
                    url: format!("credentials file {}", path.display()),
                    source: e.into(),
                })?
        }
        Auth::Credentials(creds) => opts.credentials(creds).map_err(|e| BusError::Connect {
            url: "credentials".to_string(),
            source: e.into(),
        })?,
    };
    if let Some(prefix) = &settings.inbox_prefix {
        opts = opts.custom_inbox_prefix(prefix);
    }
    let name = settings.name.clone();
    let event_name = name.clone();
    let (initial, max) = (settings.initial_backoff, settings.max_backoff);
    Ok(opts
        .name(&name)
        .connection_timeout(settings.connection_timeout)
        .request_timeout(Some(settings.request_timeout))
        .max_reconnects(None)
        .retry_on_initial_connect()
        .reconnect_delay_callback(move |attempt| {
            let delay = with_jitter(backoff_delay(attempt, initial, max));
            // Bounded logging: the first attempts, then every tenth.
            if attempt <= 3 || attempt % 10 == 0 {
                tracing::warn!(client = %name, attempt, delay_ms = delay.as_millis() as u64,
                    "NATS not reachable, retrying");
            } else {
                tracing::debug!(client = %name, attempt, delay_ms = delay.as_millis() as u64,
                    "NATS not reachable, retrying");
            }
            delay
        })
        .event_callback(move |event| log_event(event_name.clone(), event)))
}

/// Connects in the background and returns at once: the client retries with back-off until
/// a server answers, and reconnects the same way whenever the link drops. Fails only on
/// settings that can never work (no URL, a malformed URL, an unreadable credentials file).
pub async fn connect(settings: &ConnectSettings) -> Result<Connection, BusError> {
    let addrs = settings.server_addrs()?;
    if let Some(domain) = &settings.jetstream_domain {
        check_domain(domain)?;
    }
    let opts = options(settings).await?;
    let client = opts.connect(addrs).await.map_err(|e| BusError::Connect {
        url: settings.urls(),
        source: e.into(),
    })?;
    let jetstream = jetstream_context(&client, settings);
    tracing::info!(client = %settings.name, servers = %settings.urls(),
        jetstream_domain = settings.jetstream_domain.as_deref().unwrap_or("(the server's)"),
        "NATS client started");
    Ok(Connection { client, jetstream })
}

/// The JetStream context of `client`: the API of `settings.jetstream_domain`
/// (`$JS.<domain>.API`) when one is set, else the server's own (`$JS.API`). The streams'
/// messages themselves are published on their plain subjects either way: a leaf node forwards
/// them to the hub, whose streams capture them.
pub fn jetstream_context(client: &Client, settings: &ConnectSettings) -> jetstream::Context {
    let builder = jetstream::ContextBuilder::new().timeout(settings.request_timeout);
    match &settings.jetstream_domain {
        Some(domain) => builder.domain(domain.as_str()).build(client.clone()),
        None => builder.build(client.clone()),
    }
}

/// A JetStream domain is one subject token: letters, digits, `-` and `_`.
pub fn check_domain(domain: &str) -> Result<(), BusError> {
    crate::subjects::SiteId::parse(domain)
        .map(|_| ())
        .map_err(|e| BusError::Invalid {
            what: "JetStream domain",
            reason: e.to_string().replace("site id", "domain"),
        })
}

/// As [`connect`], then waits until connected, at most `timeout`.
pub async fn connect_and_wait(
    settings: &ConnectSettings,
    timeout: Duration,
) -> Result<Connection, BusError> {
    let conn = connect(settings).await?;
    conn.wait_connected(timeout).await.map_err(|e| match e {
        BusError::TimedOut { timeout, .. } => BusError::Connect {
            url: settings.urls(),
            source: format!("not connected within {timeout:?}").into(),
        },
        other => other,
    })?;
    Ok(conn)
}

/// Waits until `client` is connected, at most `timeout`.
pub async fn wait_connected(client: &Client, timeout: Duration) -> Result<(), BusError> {
    let deadline = Instant::now() + timeout;
    loop {
        if client.connection_state() == State::Connected {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(BusError::TimedOut {
                subject: "(connect)".to_string(),
                timeout,
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let (i, m) = (Duration::from_millis(100), Duration::from_secs(10));
        assert_eq!(backoff_delay(1, i, m), Duration::from_millis(100));
        assert_eq!(backoff_delay(2, i, m), Duration::from_millis(200));
        assert_eq!(backoff_delay(4, i, m), Duration::from_millis(800));
        assert_eq!(backoff_delay(20, i, m), m);
        assert_eq!(backoff_delay(usize::MAX, i, m), m);
        let j = with_jitter(Duration::from_secs(1));
        assert!(j >= Duration::from_secs(1) && j <= Duration::from_millis(1200));
    }

    #[test]
    fn secrets_are_not_printed() {
        let a = Auth::UserPassword {
            user: "lab".into(),
            password: "s3cret".into(),
        };
        assert!(!format!("{a:?}").contains("s3cret"));
        assert!(!format!("{:?}", Auth::Token("tok".into())).contains("tok"));
    }

    #[test]
    fn credentials_must_be_whole() {
        let pw = Secret::new("s3cret");
        assert!(matches!(
            Auth::from_parts(None, None, None).unwrap(),
            Auth::None
        ));
        assert!(matches!(
            Auth::from_parts(Some("lab-a"), Some(&pw), None).unwrap(),
            Auth::UserPassword { .. }
        ));
        assert!(matches!(
            Auth::from_parts(None, None, Some(std::path::Path::new("/etc/x.creds"))).unwrap(),
            Auth::CredentialsFile(_)
        ));
        let empty = Secret::new("");
        let err = |u, p, c| Auth::from_parts(u, p, c).unwrap_err().to_string();
        assert!(err(Some("lab-a"), None, None).contains("nats.password"));
        assert!(err(None, Some(&pw), None).contains("nats.user"));
        assert!(err(Some(""), Some(&pw), None).contains("nats.user is empty"));
        assert!(err(Some("a"), Some(&empty), None).contains("nats.password is empty"));
        let both = err(Some("a"), Some(&pw), Some(std::path::Path::new("x")));
        assert!(both.contains("not both"), "{both}");
        assert!(!both.contains("s3cret"));
        assert_eq!(format!("{pw:?}"), "***");
    }

    #[test]
    fn a_domain_is_one_token() {
        assert!(check_domain("hub").is_ok());
        assert!(check_domain("counter-ginza").is_ok());
        for bad in ["", "a.b", "a*", ">", "a b"] {
            let e = check_domain(bad).unwrap_err().to_string();
            assert!(e.contains("domain"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn urls_are_split_and_checked() {
        let s = ConnectSettings::new("nats://a:4222, nats://b:4222", "t");
        assert_eq!(s.server_addrs().unwrap().len(), 2);
        assert!(ConnectSettings::new("", "t").server_addrs().is_err());
    }
}
