//! Tracing set-up shared by the services: `RUST_LOG` filters (default `info`), `REPRINT_LOG=json`
//! for JSON lines. Safe to call more than once (tests start several apps in one process).

use tracing_subscriber::EnvFilter;

pub fn init(service: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,async_nats=warn"));
    let json = std::env::var("REPRINT_LOG")
        .map(|v| v == "json")
        .unwrap_or(false);
    let result = if json {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .json()
            .try_init()
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).try_init()
    };
    if result.is_ok() {
        tracing::info!(service, "telemetry ready");
    }
}
