//! `reprint-counter`: the seed's reception/delivery counter (seed 004, Figs. 1, 2, 5, 8, 9), a
//! terminal in a mini-lab or a convenience store.
//!
//! | what | where |
//! | --- | --- |
//! | configuration (site rules, labs, staff accounts, limits) | [`config`] |
//! | the medium handed over: ZIP safety, images, DPOF print order | [`medium`] |
//! | walk-in intake: registration, reception, slip, order to the lab (Fig. 2) | [`intake`] |
//! | images spooled while offline, held orders forwarded when the link returns | [`spool`] |
//! | the inbox: reception recorded, order rejected, delivery dispatched (S408) | [`deliveries`] |
//! | an order's life: load, decide (`reprint_domain::counter_order`), append, project | [`order`] |
//! | pickup: slip or telephone, amount due, one payment, hand-over, settlement | [`pickup`] |
//! | pickup at another counter: the directory's counters, the other counter's slip | [`elsewhere`] |
//! | the day's takings, per lab collected and settled | [`takings`] |
//! | quote, catalog and locale on request/reply; the site directory entry | [`rpc`] |
//! | terminal pages and the JSON API | [`web`], [`api`] |
//!
//! `Application::build(config).await?.run_until_stopped().await` runs it; tests do the same on
//! port 0.

pub mod api;
pub mod auth;
pub mod config;
pub mod db;
pub mod deliveries;
pub mod elsewhere;
pub mod error;
pub mod held;
pub mod intake;
pub mod link;
pub mod medium;
pub mod messages;
pub mod order;
pub mod own_printer;
pub mod pickup;
pub mod rpc;
pub mod spool;
pub mod state;
pub mod takings;
pub mod web;
pub mod writer;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use reprint_bus::connect::{ConnectSettings, connect, site_inbox_prefix};
use reprint_bus::relay::Relay;
use reprint_eventstore::Store;
use reprint_service::auth::SessionKey;
use reprint_service::clock::Clock;
use reprint_service::health::{self, Check};
use reprint_service::housekeeping::run_pruning_as_configured;
use reprint_service::metrics::Metrics;
use reprint_service::shutdown::{self, Shutdown, ShutdownTrigger};
use reprint_service::tasks::Tasks;
use reprint_site::{SiteFiles, UserIndex};
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub use config::CounterConfig;
pub use error::CounterError;
pub use state::Counter;

/// What the HTTP handlers share.
#[derive(Clone)]
pub struct AppState {
    pub counter: Arc<Counter>,
    pub key: SessionKey,
    /// Failed log-ins per name and source, and the argon2 verifications.
    pub limiter: Arc<reprint_service::auth::Logins>,
}

/// A built counter, listening, not yet serving.
pub struct Application {
    listener: TcpListener,
    port: u16,
    router: Router,
    counter: Arc<Counter>,
    js: async_nats::jetstream::Context,
    relay: Relay,
    trigger: ShutdownTrigger,
    shutdown: Shutdown,
}

impl Application {
    /// Opens the store, binds the HTTP port and starts the NATS client, without waiting for
    /// NATS: a counter starts and serves intake and pickup with the server unreachable. All
    /// that needs the server (provisioning, the directory, the inbox consumer, the request/reply
    /// servers, image uploads) runs in [`link::run`], retried with back-off until the link is up.
    pub async fn build(config: CounterConfig) -> Result<Application, CounterError> {
        config.validate()?;
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            CounterError::Config(format!(
                "data_dir {}: cannot be created: {e}",
                config.data_dir.display()
            ))
        })?;
        let spool = spool::Spool::open(config.spool_dir())?;
        let url = config.store_url();
        let metrics = Metrics::new("counter");
        let store = Store::open(&url)
            .await
            .map_err(|e| CounterError::Config(format!("store.url {url}: {e}")))?
            .with_projection(UserIndex)
            .with_observer(metrics.append_observer());
        UserIndex::migrate(&store).await?;
        db::migrate(&store).await?;
        held::migrate(&store).await?;
        own_printer::migrate(&store, config.printer.as_ref()).await?;
        writer::migrate(&store, config.writer.as_ref()).await?;
        reprint_service::session::migrate(&store).await?;
        let settings = ConnectSettings::new(
            config.nats.url.clone(),
            format!("reprint-counter@{}", config.site.site),
        )
        .with_backoff(Duration::from_millis(100), Duration::from_secs(2))
        .with_auth(
            config
                .nats
                .auth()
                .map_err(|e| CounterError::Config(format!("nats.user/password/creds_file: {e}")))?,
        )
        .with_inbox_prefix(site_inbox_prefix(config.site.site.as_str()))
        .with_jetstream_domain(config.nats.jetstream_domain.clone());
        let nats = connect(&settings)
            .await
            .map_err(|e| CounterError::Config(format!("nats.url {}: {e}", config.nats.url)))?;
        let relay = Relay::new(store.clone(), nats.jetstream.clone(), config.nats.relay());
        let key = SessionKey::new(config.session_secret.as_bytes())
            .map_err(|e| CounterError::Config(format!("session_secret: {e}")))?;
        let listener = TcpListener::bind(config.http_address())
            .await
            .map_err(|e| {
                CounterError::Config(format!("http.address {}: {e}", config.http_address()))
            })?;
        let port = listener.local_addr()?.port();
        let counter = Arc::new(Counter {
            files: SiteFiles::new(config.site.clone()),
            config,
            store,
            spool,
            relay: relay.waker(),
            forwarder: Arc::new(Notify::new()),
            nats: nats.client.clone(),
            metrics: metrics.clone(),
            clock: Clock::default(),
            places: Default::default(),
            held: Default::default(),
        });
        let metrics_for_layers = metrics.clone();
        let state = AppState {
            counter: counter.clone(),
            key,
            limiter: Arc::new(reprint_service::auth::Logins::new(
                counter.config.http.rate_limit_attempts,
                counter.config.http.rate_limit_window_secs,
            )),
        };
        let checks_counter = counter.clone();
        let health = health::routes(
            move || {
                let c = checks_counter.clone();
                async move { readiness(&c).await }
            },
            metrics,
        );
        let router = reprint_service::server::layers(
            Router::new()
                .merge(health)
                .merge(api::routes(state.clone()))
                .merge(web::routes(state.clone()))
                .merge(own_printer::routes(state.clone()))
                .layer(crate::auth::session_layer(&state)),
            metrics_for_layers,
            counter.config.http.timeouts(),
        );
        let (trigger, shutdown) = shutdown::channel();
        Ok(Application {
            listener,
            port,
            router,
            counter,
            js: nats.jetstream,
            relay,
            trigger,
            shutdown,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The counter (for tests and tools).
    pub fn counter(&self) -> Arc<Counter> {
        self.counter.clone()
    }

    /// Stops the application when triggered (Ctrl-C and SIGTERM are hooked by `main`).
    pub fn shutdown_trigger(&self) -> ShutdownTrigger {
        self.trigger.clone()
    }

    /// Serves until shutdown (or until one part stops: then everything stops and the error
    /// names that part); the link to NATS runs beside it.
    pub async fn run_until_stopped(self) -> Result<(), CounterError> {
        let mut tasks = Tasks::new(self.trigger.clone(), self.shutdown.clone());
        // Internet orders received as print data: fetched, printed here, made ready.
        tasks.spawn_infallible(
            "own printer",
            own_printer::run(self.counter.clone(), self.js.clone(), self.shutdown.clone()),
        );
        // Digital copies on a medium: written into the writer's hot folder.
        tasks.spawn_infallible(
            "writer",
            writer::run(self.counter.clone(), self.shutdown.clone()),
        );
        tasks.spawn_infallible(
            "NATS link",
            link::run(
                self.counter.clone(),
                self.js,
                self.relay,
                self.shutdown.clone(),
            ),
        );
        // The outbox backlog gauge, also while nobody asks `/readyz` (offline it grows).
        tasks.spawn_infallible(
            "outbox gauge",
            reprint_service::housekeeping::run_outbox_gauge(
                self.counter.store.clone(),
                self.counter.metrics.clone(),
                "counter",
                reprint_service::housekeeping::OUTBOX_GAUGE_EVERY,
                self.shutdown.clone(),
            ),
        );
        // `CounterConfig::validate` checked the retention before the counter was built.
        tasks.spawn_infallible(
            "store pruning",
            run_pruning_as_configured(
                self.counter.store.clone(),
                self.counter.config.store.retention.clone(),
                self.counter.metrics.clone(),
                self.shutdown.clone(),
            ),
        );
        // The statements of the lab's share, as the configured period falls due.
        tasks.spawn_infallible(
            "statements",
            takings::run_statements(self.counter.clone(), self.shutdown.clone()),
        );
        tasks.spawn(
            "HTTP server",
            reprint_service::server::serve(
                self.listener,
                self.router,
                self.counter.config.http.timeouts(),
                self.shutdown.clone(),
            ),
        );
        let outcome = tasks.run().await;
        self.counter.store.close().await;
        outcome.map_err(|e| CounterError::Config(e.to_string()))
    }
}

async fn readiness(c: &Counter) -> Vec<Check> {
    let store = health::store_check(&c.store).await;
    let backlog = c.store.unsent_count().await.unwrap_or(0);
    c.metrics
        .outbox_backlog
        .with_label_values(&["counter"])
        .set(backlog as i64);
    let held = spool::held_count(c).await.unwrap_or(0);
    // The counter serves its customers offline: the link is reported, not required.
    let nats = health::nats_check(
        &c.nats,
        false,
        &format!(
            "{backlog} messages waiting in the outbox, {held} walk-in orders held for their images"
        ),
    );
    vec![store, nats]
}
