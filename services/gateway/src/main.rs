use clap::Parser;

/// reprint-gateway: the home users' web, the ordering API and the ops dashboard.
#[derive(Parser)]
struct Args {
    /// Configuration file (TOML); `REPRINT_GATEWAY__a__b` variables override it.
    #[arg(long, short)]
    config: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = reprint_gateway::Config::load(args.config.as_deref())?;
    let site = config.gateway_id.clone();
    reprint_service::cli::run_traced("reprint-gateway", &site, async {
        let app = reprint_gateway::Application::build(config).await?;
        tracing::info!(port = app.port(), "reprint-gateway listening");
        app.shutdown_trigger().on_signals();
        app.run_until_stopped().await
    })
    .await
}
