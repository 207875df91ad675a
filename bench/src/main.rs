//! `reprint-bench`: each speed or memory figure measured beside its raw baseline in the same
//! run. `reprint-bench <store|media> [--json]`.

mod media;
mod report;
mod store;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "reprint-bench",
    about = "reprint's figures, each beside its raw baseline"
)]
struct Cli {
    /// One JSON object per figure and line instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Event store, outbox relay and inbox consumer on Postgres and SQLite.
    Store(store::StoreArgs),
    /// Image identity, thumbnails, print rendering and perceptual hashes (reprint-media).
    Media(media::MediaArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut report = report::Report::new(cli.json);
    match cli.command {
        Command::Store(args) => store::run(args, &mut report),
        Command::Media(args) => media::run(args, &mut report),
    }
}
