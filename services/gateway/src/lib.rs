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
pub mod error;
pub mod events;
pub mod openapi;
pub mod orders;
pub mod projection;
pub mod settlements;
pub mod state;
pub mod thumbs;
pub mod upload;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use reprint_bus::connect::{ConnectSettings, connect, site_inbox_prefix};
use reprint_bus::directory::Directory;
use reprint_bus::objects::{ImageStoreSettings, Images};
use reprint_bus::relay::{Relay, RelayConfig};
use reprint_bus::streams::{StreamSettings, provision_streams};
use reprint_eventstore::Store;
use reprint_service::auth::{RateLimiter, SessionKey};
use reprint_service::health::{self, Check};
use reprint_service::housekeeping::run_pruning_as_configured;
use reprint_service::metrics::Metrics;
use reprint_service::shutdown::{Shutdown, ShutdownTrigger};
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
            .with_inbox_prefix(site_inbox_prefix(&config.gateway_id)),
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
        let listener = TcpListener::bind(&config.http.address).await?;
        let port = listener.local_addr()?.port();
        let (updates, _) = broadcast::channel(1024);
        let relay = Relay::new(
            store.clone(),
            conn.jetstream.clone(),
            RelayConfig {
                poll_interval: Duration::from_millis(config.nats.relay_interval_ms.max(10)),
                ..RelayConfig::default()
            logins: reprint_service::auth::Logins::new(
                config.http.rate_limit_attempts,
                config.http.rate_limit_window_secs,
            ),
            },
        );
        let state = AppState(Arc::new(state::Inner {
            limiter: RateLimiter::new(
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

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let s = self.state.clone();
        let notifier = background::Notifier::new(s.clone());
        let inbox = background::inbox_durable(&s);
        let status = background::status_durable(&s);
        let tasks = vec![
            tokio::spawn(background::run_relay(self.relay, self.shutdown.clone())),
            tokio::spawn(background::run_consumer(
                s.clone(),
                inbox.clone(),
                background::INBOX_CONSUMER,
                background::GatewayInbox {
                    notifier: notifier.clone(),
                },
                self.shutdown.clone(),
            )),
            tokio::spawn(background::run_consumer(
                s.clone(),
                status.clone(),
                background::STATUS_CONSUMER,
                background::StatusFeed { notifier },
                self.shutdown.clone(),
            )),
            tokio::spawn(background::run_gauges(s.clone(), self.shutdown.clone())),
            tokio::spawn(run_pruning_as_configured(
                s.store.clone(),
                s.config.store.retention.clone(),
                s.metrics.clone(),
                self.shutdown.clone(),
            )),
        ];
        let sd = self.shutdown.clone();
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(sd.wait())
        .await?;
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        s.store.close().await;
        Ok(())
    }
}

pub fn router(state: AppState) -> Router {
    let checks_state = state.clone();
    let checks = move || {
        let s = checks_state.clone();
        async move {
            let store_ok = s.store.stream_version("gw-readyz").await;
            vec![
                Check {
                    name: "store".into(),
                    ok: store_ok.is_ok(),
                    detail: store_ok
                        .map(|_| "ok".to_string())
                        .unwrap_or_else(|e| e.to_string()),
                },
                Check {
                    name: "nats".into(),
                    ok: s.nats.connection_state() == async_nats::connection::State::Connected,
                    detail: format!("{:?}", s.nats.connection_state()),
                },
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
        .layer(DefaultBodyLimit::max(max_body));
    // The upload streams its body and is bounded by the order's reservation instead.
    let uploads = Router::new()
        .route("/api/v1/orders/{id}/images", put(upload::upload))
        .layer(DefaultBodyLimit::disable());
    let pages = web::routes().layer(DefaultBodyLimit::max(max_body));
    Router::new()
        .merge(api)
        .merge(uploads)
        .merge(pages)
        .fallback(|| async { reprint_service::Problem::not_found("no such page or API route") })
        .with_state(state.clone())
        .merge(health::routes(checks, state.metrics.clone()))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(reprint_service::telemetry::http_span)
                .on_response(reprint_service::telemetry::http_response),
        )
}
