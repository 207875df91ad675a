//! reprint-gateway: the home users' web and the ordering API of seed 000 (Fig. 1's "personal
//! computer connected to the network"), live order status, and the ops dashboard.
//!
//! `Application::build(config).await?` opens the store, connects to NATS, provisions streams,
//! binds the HTTP listener; `run_until_stopped()` serves until shutdown, with the outbox relay,
//! the status consumer and the inbox consumer running beside it.

pub mod api;
pub mod auth;
pub mod background;
pub mod config;
pub mod db;
pub mod drafts;
pub mod error;
pub mod events;
pub mod notices;
pub mod openapi;
pub mod orders;
pub mod projection;
pub mod settlements;
pub mod soap;
pub mod state;
pub mod thumbs;
pub mod upload;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use reprint_bus::connect::{ConnectSettings, connect, site_inbox_prefix};
use reprint_bus::directory::Directory;
use reprint_bus::objects::{ImageStoreSettings, Images};
use reprint_bus::relay::Relay;
use reprint_bus::streams::{StreamSettings, provision_streams};
use reprint_eventstore::Store;
use reprint_service::auth::{RateLimiter, SessionKey};
use reprint_service::health;
use reprint_service::housekeeping::run_pruning_as_configured;
use reprint_service::metrics::Metrics;
use reprint_service::shutdown::{Shutdown, ShutdownTrigger};
use reprint_service::tasks::Tasks;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, broadcast};

pub use config::Config;
pub use state::AppState;

pub struct Application {
    listener: TcpListener,
    port: u16,
    router: Router,
    state: AppState,
    relay: Relay,
    trigger: ShutdownTrigger,
    shutdown: Shutdown,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let gateway = reprint_bus::subjects::SiteId::parse(config.gateway_id.as_str())?;
        // Refused at start, like the other services' `validate`.
        config.store.retention.retention()?;
        reprint_domain::SiteId::parse(&config.gateway_id)?;
        let metrics = Metrics::new("gateway");
        let store = Store::open(&config.store.url)
            .await?
            .with_projection(projection::Lookups)
            .with_observer(metrics.append_observer());
        db::migrate(&store).await?;
        thumbs::migrate(&store).await?;
        reprint_service::session::migrate(&store).await?;

        let auth = config
            .nats
            .auth()
            .map_err(|e| anyhow::anyhow!("nats.user/password/creds_file: {e}"))?;
        let conn = connect(
            &ConnectSettings::new(
                config.nats.url.clone(),
                format!("reprint-gateway@{}", config.gateway_id),
            )
            .with_auth(auth)
            .with_inbox_prefix(site_inbox_prefix(&config.gateway_id))
            .with_jetstream_domain(config.nats.jetstream_domain.clone()),
        )
        .await?;
        conn.wait_connected(Duration::from_secs(10)).await?;
        let settings = StreamSettings {
            replicas: config.nats.replicas,
            ..StreamSettings::default()
        };
        provision_streams(&conn.jetstream, &settings).await?;
        let directory = Directory::open(&conn.jetstream, config.nats.replicas).await?;
        let images = Images::open(
            &conn.jetstream,
            ImageStoreSettings {
                replicas: config.nats.replicas,
                max_object_size: config.storage.max_image_bytes,
                ..ImageStoreSettings::default()
            },
        )
        .await?;

        let key = match &config.session.secret {
            Some(s) => SessionKey::new(s.as_bytes()).map_err(anyhow::Error::msg)?,
            None => {
                tracing::warn!("no session secret configured; sessions end when the process does");
                SessionKey::random()
            }
        };
        let listener = TcpListener::bind(config.http_address()).await?;
        let port = listener.local_addr()?.port();
        let (updates, _) = broadcast::channel(1024);
        let relay = Relay::new(store.clone(), conn.jetstream.clone(), config.nats.relay());
        let state = AppState(Arc::new(state::Inner {
            limiter: RateLimiter::new(
                config.http.rate_limit_attempts,
                config.http.rate_limit_window_secs,
            ),
            logins: reprint_service::auth::Logins::new(
                config.http.rate_limit_attempts,
                config.http.rate_limit_window_secs,
            ),
            uploads: Semaphore::new(config.storage.concurrent_uploads.max(1)),
            media: state::MediaGates::new(&config.storage),
            metrics,
            nats: conn.client.clone(),
            js: conn.jetstream.clone(),
            relay_wake: relay.waker(),
            gateway,
            config,
            store,
            directory,
            images,
            key,
            updates,
            clock: reprint_service::clock::Clock::default(),
        }));
        let router = router(state.clone());
        let (trigger, shutdown) = reprint_service::shutdown::channel();
        Ok(Application {
            listener,
            port,
            router,
            state,
            relay,
            trigger,
            shutdown,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// A handle that stops the application (tests; `main` uses the signals).
    pub fn shutdown_trigger(&self) -> ShutdownTrigger {
        self.trigger.clone()
    }

    /// Serves until shutdown (or until one part stops: then everything stops and the error
    /// names that part), with the outbox relay, the inbox and status consumers, the gauges and
    /// the store's pruning beside it.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let s = self.state.clone();
        let notifier = background::Notifier::new(s.clone());
        let inbox = background::inbox_durable(&s);
        let status = background::status_durable(&s);
        let mut tasks = Tasks::new(self.trigger.clone(), self.shutdown.clone());
        tasks.spawn_infallible(
            "outbox relay",
            background::run_relay(self.relay, self.shutdown.clone()),
        );
        tasks.spawn_infallible(
            "inbox consumer",
            background::run_consumer(
                s.clone(),
                inbox.clone(),
                background::INBOX_CONSUMER,
                background::GatewayInbox {
                    notifier: notifier.clone(),
                },
                self.shutdown.clone(),
            ),
        );
        tasks.spawn_infallible(
            "status consumer",
            background::run_consumer(
                s.clone(),
                status.clone(),
                background::STATUS_CONSUMER,
                background::StatusFeed { notifier },
                self.shutdown.clone(),
            ),
        );
        tasks.spawn_infallible(
            "e-mail notices",
            notices::run(s.clone(), self.shutdown.clone()),
        );
        tasks.spawn_infallible(
            "draft expiry",
            drafts::run(s.clone(), self.shutdown.clone()),
        );
        tasks.spawn_infallible(
            "gauges",
            background::run_gauges(s.clone(), self.shutdown.clone()),
        );
        tasks.spawn_infallible(
            "store pruning",
            run_pruning_as_configured(
                s.store.clone(),
                s.config.store.retention.clone(),
                s.metrics.clone(),
                self.shutdown.clone(),
            ),
        );
        tasks.spawn(
            "HTTP server",
            reprint_service::server::serve(
                self.listener,
                self.router,
                s.config.http.timeouts(),
                self.shutdown.clone(),
            ),
        );
        let outcome = tasks.run().await;
        s.store.close().await;
        Ok(outcome?)
    }
}

pub fn router(state: AppState) -> Router {
    let checks_state = state.clone();
    let checks = move || {
        let s = checks_state.clone();
        async move {
            vec![
                health::store_check(&s.store).await,
                health::nats_check(&s.nats, true, ""),
            ]
        }
    };
    let max_body = state.config.http.max_body_bytes;
    let api = Router::new()
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/accounts", post(auth::api_sign_up))
        .route(
            "/api/v1/session",
            post(auth::api_log_in).delete(auth::api_log_out),
        )
        .route("/api/v1/me", get(auth::api_me))
        .route("/api/v1/sites", get(api::sites))
        .route("/api/v1/sites/{id}/catalog", get(api::site_catalog))
        .route("/api/v1/sites/{id}/locale", get(api::site_locale))
        .route(
            "/api/v1/orders",
            post(api::create_order).get(api::list_orders),
        )
        .route("/api/v1/orders/{id}", get(api::get_order))
        .route("/api/v1/orders/{id}/storage", put(api::reserve_storage))
        .route("/api/v1/orders/{id}/quote", post(api::quote))
        .route("/api/v1/orders/{id}/submit", post(api::submit))
        .route("/api/v1/orders/{id}/cancel", post(api::cancel))
        .route("/api/v1/orders/{id}/reorder", post(api::reorder))
        .route("/api/v1/orders/{id}/events", get(api::order_events))
        .route("/api/v1/ops/settlements", get(settlements::ops_settlements))
        .route("/api/v1/images", get(api::list_images))
        .route("/api/v1/images/{image}", get(api::download_image))
        .route("/api/v1/images/{image}/thumbnail", get(api::thumbnail))
        .merge(api::album::routes())
        .merge(api::digital::routes())
        .merge(api::send_on::routes())
        .merge(api::account::routes())
        .layer(DefaultBodyLimit::max(max_body));
    // The upload streams its body and is bounded by the order's reservation instead.
    let uploads = Router::new()
        .route("/api/v1/orders/{id}/images", put(upload::upload))
        .layer(DefaultBodyLimit::disable());
    let pages = web::routes().layer(DefaultBodyLimit::max(max_body));
    let app = Router::new()
        .merge(api)
        .merge(uploads)
        .merge(soap::routes())
        .merge(pages)
        .fallback(|| async { reprint_service::Problem::not_found("no such page or API route") })
        .with_state(state.clone())
        .layer(reprint_service::session::layer(
            state.store.clone(),
            state.config.http.cookies_secure(),
            state.config.session.ttl_secs,
        ))
        .merge(health::routes(checks, state.metrics.clone()));
    reprint_service::server::layers(app, state.metrics.clone(), state.config.http.timeouts())
}
