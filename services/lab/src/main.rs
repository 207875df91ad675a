//! `reprint-lab --config lab.toml`: runs the lab. `reprint-lab hash-password`: reads a password
//! from standard input and prints its argon2id hash for `[[console.operators]]`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use reprint_lab::{Application, LabConfig};

#[derive(Parser)]
#[command(
    name = "reprint-lab",
    about = "The lab: receives orders, prints, dispatches, settles"
)]
struct Cli {
    /// The configuration file (TOML); REPRINT_LAB__a__b=value overrides a.b.
    #[arg(long, short)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Reads a password (one line on standard input) and prints its argon2id hash.
    HashPassword,
    /// Checks the configuration and exits.
    CheckConfig,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Cmd::HashPassword) => {
            let hash = reprint_service::cli::hash_password_from_stdin("an empty password")
                .map_err(anyhow::Error::msg)?;
            println!("{hash}");
            Ok(())
        }
        Some(Cmd::CheckConfig) => {
            LabConfig::load(cli.config.as_deref())?;
            println!("configuration ok");
            Ok(())
        }
        None => {
            let config = LabConfig::load(cli.config.as_deref())?;
            let site = config.site.rules.site.to_string();
            reprint_service::cli::run_traced("reprint-lab", &site, async {
                let app = Application::build(config).await?;
                app.shutdown_trigger().on_signals();
                app.run_until_stopped().await
            })
            .await
        }
    }
}
