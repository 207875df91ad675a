//! `reprint-counter [--config counter.toml]` runs the counter terminal;
//! `reprint-counter hash-password` reads a password on stdin and prints its argon2id hash for
//! a `[[staff]]` account.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use reprint_counter::{Application, CounterConfig};

#[derive(Parser)]
#[command(
    name = "reprint-counter",
    about = "The reception/delivery counter of the reprint network"
)]
struct Cli {
    /// The configuration file (TOML); REPRINT_COUNTER__a__b variables override it.
    #[arg(long, short)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs the counter (the default).
    Serve,
    /// Reads a password from stdin and prints its argon2id hash.
    HashPassword,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Cmd::Serve) {
        Cmd::HashPassword => {
            let hash = reprint_service::cli::hash_password_from_stdin("no password given on stdin")
                .map_err(anyhow::Error::msg)?;
            println!("{hash}");
            Ok(())
        }
        Cmd::Serve => {
            let config = CounterConfig::load(cli.config.as_deref())?;
            let site = config.site.site.to_string();
            reprint_service::cli::run_traced("reprint-counter", &site, async {
                let app = Application::build(config).await?;
                app.shutdown_trigger().on_signals();
                tracing::info!(port = app.port(), "reprint-counter listening");
                app.run_until_stopped().await?;
                Ok::<(), anyhow::Error>(())
            })
            .await
        }
    }
}
