//! `reprint-lab --config lab.toml`: runs the lab. `reprint-lab hash-password`: reads a password
//! from standard input and prints its argon2id hash for `[[console.operators]]`.
//! `reprint-lab print-worker --config lab.toml [--workers N]`: a print worker process (NATS and
//! the printers' hot folders only; several may run for one lab, on other machines).

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
    #[arg(long, short, global = true)]
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
    /// Takes the lab's print jobs from its printers' work queues and writes the hot folders
    /// (needs NATS and the hot folders only).
    PrintWorker {
        /// Workers per printer in this process (default: `[printing] workers`, at least 1).
        #[arg(long)]
        workers: Option<usize>,
    },
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
        Some(Cmd::PrintWorker { workers }) => {
            let config = LabConfig::load(cli.config.as_deref())?;
            let site = config.site.rules.site.to_string();
            let workers = workers.unwrap_or(config.printing.workers).max(1);
            reprint_service::cli::run_traced("reprint-lab-print-worker", &site, async {
                let (trigger, shutdown) = reprint_service::shutdown::channel();
                trigger.on_signals();
                reprint_lab::printing::run_print_worker(config, workers, shutdown).await
            })
            .await
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
