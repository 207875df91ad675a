//! `reprint-bench`: each speed or memory figure measured beside its raw baseline in the same
//! run. `reprint-bench <store|media|network|nats|abuse> [--json]`.

mod abuse;
mod chaos;
mod media;
mod nats_sync;
mod network;
mod network_chaos;
mod report;
mod scale;
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
    /// N orders through the whole network (gateway, lab, counter as processes on NATS).
    Network(network::NetworkArgs),
    /// What `jetstream { sync_interval: always }` costs acknowledged publishes (nats-server >= 2.10).
    Nats(nats_sync::NatsArgs),
    /// What bombs (PNG, JPEG, ZIP) and slow clients cost the services (peak memory, upload time).
    Abuse(abuse::AbuseArgs),
    /// 1,000 counters and 10 labs on one nats-server: what grows with the number of sites.
    Scale(scale::ScaleArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut report = report::Report::new(cli.json);
    match cli.command {
        Command::Store(args) => store::run(args, &mut report),
        Command::Media(args) => media::run(args, &mut report),
        Command::Network(args) => network::run(args, &mut report),
        Command::Nats(args) => nats_sync::run(args, &mut report),
        Command::Abuse(args) => abuse::run(args, &mut report),
        Command::Scale(args) => scale::run(args, &mut report),
    }
}
