//! `reprint-bench`: each speed or memory figure measured beside its raw baseline in the same
//! run. `reprint-bench <store|media> [--json]`.

mod report;

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
enum Command {}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _report = report::Report::new(cli.json);
    match cli.command {}
}
