//! reprint-lab: the seed's "A Corporation's laboratory" (seed 004, Figs. 1, 2, 6, 7; the
//! contract is docs/flows.md).
//!
//! | concern | module |
//! |---|---|
//! | configuration (TOML + `REPRINT_LAB__...` overrides) | [`config`] |
//! | the inbox: messages routed by topic; users' cancellations | [`inbox`] |
//! | placed orders checked and opened: individual user file, reception, finish estimate | [`intake`] |
//! | outbox messages: the slip, rejections, status changes | [`messages`] |
//! | a reception in production, decided by `reprint_domain::production` | [`reception`] |
//! | production: hot folders, done-markers, dispatch, operator reject | [`production`] |
//! | collections, settlements, the ledger per delivery counter | [`settlement`] |
//! | quote, catalog, locale, site directory | [`rpc`] |
//! | the HTTP router, health and metrics | [`http`] |
//! | JSON API with OpenAPI | [`api`] |
//! | operator console (HTML) | [`web`] |
//! | operator log-in, sessions, CSRF | [`auth`] |
//! | the one error type, mapped to HTTP | [`error`] |
//! | the lab's own tables | [`db`] |
//!
//! [`Application::build`] wires it all; [`Application::run_until_stopped`] runs the HTTP server,
//! the inbox consumer, the outbox relay, the RPC servers, the directory heartbeat and the
//! done-marker poll until shutdown.

pub mod api;
pub mod auth;
pub mod config;
pub mod counter_print;
pub mod db;
pub mod error;
pub mod http;
pub mod inbox;
pub mod intake;
pub mod messages;
pub mod printing;
pub mod production;
pub mod reception;
pub mod rpc;
pub mod settlement;
pub mod state;
pub mod web;

use std::time::Duration;

use anyhow::Context;
use reprint_bus::consumer::{ConsumerConfig, InboxConsumer};
use reprint_bus::relay::Relay;
use reprint_bus::request::RpcServer;
use reprint_bus::subjects::{self, RpcMethod};
use reprint_bus::{ProvisionSettings, connect, streams};
use reprint_eventstore::Store;
use reprint_service::auth::SessionKey;
use reprint_service::housekeeping::run_pruning_as_configured;
use reprint_service::metrics::Metrics;
use reprint_service::shutdown::{self, Shutdown, ShutdownTrigger};
use reprint_service::tasks::Tasks;
use reprint_site::{SiteFiles, UserIndex};
use tokio::net::TcpListener;

pub use config::LabConfig;
pub use error::LabError;
pub use state::{Clock, Lab};

use crate::state::{LabInner, Printer};

/// A built lab, ready to run.
pub struct Application {
    port: u16,
    listener: TcpListener,
    lab: Lab,
    js: async_nats::jetstream::Context,
    durable: streams::DurableConsumer,
    relay: Relay,
    rpc: Vec<(RpcMethod, RpcServer)>,
    trigger: ShutdownTrigger,
    shutdown: Shutdown,
}

pub(crate) fn load_printers(config: &LabConfig) -> anyhow::Result<Vec<Printer>> {
    let mut printers = Vec::new();
    for (i, p) in config.printers.iter().enumerate() {
        let (icc, icc_name) = if p.icc_profile.eq_ignore_ascii_case("srgb") {
            (reprint_media::icc::srgb_profile(), "sRGB".to_string())
        } else if p.icc_profile == reprint_media::icc::SILVER_HALIDE_GLOSSY_NAME {
            let bytes = reprint_media::icc::silver_halide_glossy_profile();
            (bytes, p.icc_profile.clone())
        } else {
            let bytes = std::fs::read(&p.icc_profile).with_context(|| {
                format!(
                    "configuration: printers[{i}].icc_profile: cannot read {}",
                    p.icc_profile
                )
            })?;
            reprint_media::icc::ColorTransform::new(None, Some(&bytes)).map_err(|e| {
                anyhow::anyhow!(
                    "configuration: printers[{i}].icc_profile: {} is not a usable profile: {e}",
                    p.icc_profile
                )
            })?;
            let name = std::path::Path::new(&p.icc_profile)
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| p.icc_profile.clone());
            (bytes, name)
        };
        std::fs::create_dir_all(&p.hot_folder).with_context(|| {
            format!(
                "configuration: printers[{i}].hot_folder: cannot create {}",
                p.hot_folder.display()
            )
        })?;
        printers.push(Printer {
            config: p.clone(),
            icc,
            icc_name,
        });
    }
    Ok(printers)
}

impl Application {
    /// Opens the store (migrating it), connects to NATS (provisioning streams, the directory and
    /// the image bucket), creates the inbox consumer, binds the RPC subjects and the HTTP port.
    pub async fn build(config: LabConfig) -> anyhow::Result<Application> {
        config.validate()?;
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "configuration: data_dir: cannot create {}",
                config.data_dir.display()
            )
        })?;
        let printers = load_printers(&config)?;
        let session_key = match &config.console.session_secret {
            Some(s) => SessionKey::new(s.as_bytes())
                .map_err(|e| anyhow::anyhow!("console.session_secret: {e}"))?,
            None => SessionKey::random(),
        };
        let url = config.store_url();
        let metrics = Metrics::new("lab");
        let store = Store::open(&url)
            .await
            .with_context(|| format!("store.url: cannot open the store at {url}"))?
            .with_projection(UserIndex)
            .with_observer(metrics.append_observer());
        UserIndex::migrate(&store).await?;
        reprint_service::session::migrate(&store).await?;
        db::migrate(&store).await?;
        printing::migrate(&store).await?;

        let site = config.site().clone();
        let bus_site = subjects::SiteId::parse(site.as_str())?;
        let auth = config
            .nats
            .auth()
            .context("nats.user/password/creds_file")?;
        let settings =
            connect::ConnectSettings::new(&config.nats.url, format!("reprint-lab@{site}"))
                .with_auth(auth)
                .with_inbox_prefix(connect::site_inbox_prefix(site.as_str()))
                .with_jetstream_domain(config.nats.jetstream_domain.clone());
        let conn = connect::connect_and_wait(&settings, Duration::from_secs(30))
            .await
            .with_context(|| format!("nats.url: cannot reach NATS at {}", config.nats.url))?;
        let backbone = reprint_bus::provision(
            &conn.jetstream,
            &ProvisionSettings::with_replicas(config.nats.replicas),
        )
        .await?;
        reprint_bus::print::provision_print_stream(
            &conn.jetstream,
            &ProvisionSettings::with_replicas(config.nats.replicas).streams,
        )
        .await?;
        let durable = streams::durable_consumer_for(&bus_site, subjects::SiteKind::Lab);
        // Created here so that a start that cannot open it fails; run again while running.
        streams::ensure_consumer(&conn.jetstream, &durable).await?;
        let mut rpc = Vec::new();
        for method in RpcMethod::ALL {
            let server = RpcServer::bind(
                &conn.client,
                &subjects::rpc(&bus_site, method),
                &subjects::rpc_queue_group(&bus_site, method),
            )
            .await?;
            rpc.push((method, server));
        }
        let listener = TcpListener::bind(config.http_address())
            .await
            .with_context(|| format!("http.address: cannot bind {}", config.http_address()))?;
        let port = listener.local_addr()?.port();

        let (trigger, shutdown) = shutdown::channel();
        let relay = Relay::new(store.clone(), conn.jetstream.clone(), config.nats.relay());
        let render_slots = std::sync::Arc::new(tokio::sync::Semaphore::new(
            config.production.render_threads.max(1),
        ));
        let login_limiter = reprint_service::auth::Logins::new(
            config.http.rate_limit_attempts,
            config.http.rate_limit_window_secs,
        );
        let lab = Lab(std::sync::Arc::new(LabInner {
            files: SiteFiles::new(rpc::rules_with_products(&config)),
            config,
            store,
            client: conn.client.clone(),
            images: backbone.images,
            directory: backbone.directory,
            metrics,
            printers,
            waker: relay.waker(),
            session_key,
            login_limiter,
            clock: Clock::default(),
            render_slots,
        }));
        Ok(Application {
            port,
            listener,
            lab,
            js: conn.jetstream.clone(),
            durable,
            relay,
            rpc,
            trigger,
            shutdown,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The running lab's shared state (tests pin its clock through it).
    pub fn lab(&self) -> Lab {
        self.lab.clone()
    }

    /// Stops [`Application::run_until_stopped`] from outside (tests; the binary uses signals).
    pub fn shutdown_trigger(&self) -> ShutdownTrigger {
        self.trigger.clone()
    }

    /// Runs everything until shutdown (or until one part stops: then everything stops and the
    /// error names that part); then finishes what is in hand and closes the store.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Application {
            listener,
            lab,
            js,
            durable,
            relay,
            rpc,
            trigger,
            shutdown,
            ..
        } = self;
        let mut tasks = Tasks::new(trigger, shutdown.clone());
        let js_workers = js.clone();

        // The outbox relay, woken by whoever commits outbox rows (and polling).
        {
            let s = shutdown.clone();
            tasks.spawn_infallible("outbox relay", async move { relay.run(s.wait()).await });
        }
        // The inbox consumer; opened again (the durable created again if it was deleted)
        // after an error, with a pause, until shutdown.
        {
            let lab = lab.clone();
            let s = shutdown.clone();
            let name = durable.name().to_string();
            tasks.spawn_infallible(
                "inbox consumer",
                reprint_bus::consumer::run_until_shutdown(
                    js,
                    durable,
                    move |pull| {
                        let mut c = ConsumerConfig::new(name.clone());
                        c.batch_size = lab.config.nats.batch_size;
                        InboxConsumer::new(lab.store.clone(), pull, inbox::LabInbox(lab.clone()), c)
                            .with_lag_reporter(lab.metrics.lag_reporter())
                            .with_relay_waker(lab.waker.clone())
                    },
                    std::time::Duration::from_secs(1),
                    move || s.clone().wait(),
                ),
            );
        }
        // Request/reply.
        for (method, server) in rpc {
            let lab = lab.clone();
            let s = shutdown.clone();
            let name = match method {
                RpcMethod::Quote => "quote requests",
                RpcMethod::Catalog => "catalog requests",
                RpcMethod::Locale => "locale requests",
            };
            tasks.spawn(name, async move {
                match method {
                    RpcMethod::Quote => {
                        server
                            .serve(move |req, _ctx| rpc::quote(lab.clone(), req), s.wait())
                            .await
                    }
                    RpcMethod::Catalog => {
                        server
                            .serve(
                                move |_req: serde::de::IgnoredAny, _ctx| {
                                    let reply = rpc::catalog(&lab);
                                    async move { Ok(reply) }
                                },
                                s.wait(),
                            )
                            .await
                    }
                    RpcMethod::Locale => {
                        server
                            .serve(
                                move |_req: serde::de::IgnoredAny, _ctx| {
                                    let reply = rpc::locale(&lab);
                                    async move { Ok(reply) }
                                },
                                s.wait(),
                            )
                            .await
                    }
                }
            });
        }
        // The site directory heartbeat.
        let heartbeat = lab.directory.start_heartbeat_with_health(
            rpc::announcement(&lab)?,
            lab.config.nats.heartbeat(),
            Some(lab.metrics.health_source()),
        );
        // Done-markers and withdrawals in the hot folders.
        {
            let lab = lab.clone();
            let s = shutdown.clone();
            tasks.spawn_infallible("hot folder poll", async move {
                let mut tick = tokio::time::interval(Duration::from_millis(
                    lab.config.production.done_marker_poll_ms.max(50),
                ));
                loop {
                    tokio::select! {
                        _ = s.clone().wait() => break,
                        _ = tick.tick() => {}
                    }
                    if let Err(e) = production::poll_done_markers(&lab).await {
                        tracing::warn!(error = %e, "done-marker poll");
                    }
                    if let Err(e) = production::withdraw_pending(&lab).await {
                        tracing::warn!(error = %e, "withdrawing rejected jobs from the hot folders");
                    }
                }
            });
        }
        // The print workers' reports, recorded through the inbox table; the workers of this
        // process (`[printing] workers` per printer).
        {
            let lab = lab.clone();
            let s = shutdown.clone();
            let bus_site = subjects::SiteId::parse(lab.site().as_str())?;
            let durable = reprint_bus::print::report_consumer(&bus_site);
            let name = durable.name().to_string();
            let js = js_workers.clone();
            tasks.spawn_infallible(
                "print reports",
                reprint_bus::consumer::run_until_shutdown(
                    js,
                    durable,
                    move |pull| {
                        let mut c = ConsumerConfig::new(name.clone());
                        c.batch_size = lab.config.nats.batch_size;
                        InboxConsumer::new(
                            lab.store.clone(),
                            pull,
                            printing::ReportInbox(lab.clone()),
                            c,
                        )
                    },
                    std::time::Duration::from_secs(1),
                    move || s.clone().wait(),
                ),
            );
        }
        if lab.config.printing.workers > 0 {
            let ctx = printing::WorkerContext::of_lab(&lab, js_workers.clone())?;
            let workers = lab.config.printing.workers;
            tasks.spawn_infallible(
                "print workers",
                printing::run_workers(ctx, workers, shutdown.clone()),
            );
        }
        // Internet orders whose delivery counter prints them: their print data goes there.
        tasks.spawn_infallible(
            "print data to counters",
            counter_print::run(lab.clone(), shutdown.clone()),
        );
        tasks.spawn_infallible(
            "outbox gauge",
            reprint_service::housekeeping::run_outbox_gauge(
                lab.store.clone(),
                lab.metrics.clone(),
                "lab",
                reprint_service::housekeeping::OUTBOX_GAUGE_EVERY,
                shutdown.clone(),
            ),
        );
        // Published messages and old inbox records (`LabConfig::validate` checked the retention).
        tasks.spawn_infallible(
            "store pruning",
            run_pruning_as_configured(
                lab.store.clone(),
                lab.config.store.retention.clone(),
                lab.metrics.clone(),
                shutdown.clone(),
            ),
        );
        tracing::info!(site = %lab.site(), port = listener.local_addr()?.port(), "reprint-lab running");
        tasks.spawn(
            "HTTP server",
            reprint_service::server::serve(
                listener,
                http::router(lab.clone()),
                lab.config.http.timeouts(),
                shutdown.clone(),
            ),
        );
        let outcome = tasks.run().await;
        if let Err(e) = heartbeat.stop(false).await {
            tracing::warn!(error = %e, "heartbeat stop");
        }
        lab.store.close().await;
        Ok(outcome?)
    }
}
