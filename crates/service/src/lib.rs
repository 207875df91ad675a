//! What every reprint service shares, so that the lab, the counter and the gateway differ only
//! in what they do: configuration in layers ([`config`]), telemetry ([`telemetry`]), one JSON
//! problem body for every error ([`problem`]), `/healthz`, `/readyz` and `/metrics`
//! ([`health`], [`metrics`]), operator and staff log-in with argon2id passwords and signed
//! session cookies with CSRF tokens ([`auth`]), pruning of the store ([`housekeeping`]),
//! graceful shutdown ([`shutdown`]), the HTTP server with its shared layers and time-outs
//! ([`server`]), task supervision ([`tasks`]), the `hash-password` subcommand ([`cli`]) and HTML escaping
//! for server-rendered pages ([`html`]).

pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod health;
pub mod housekeeping;
pub mod html;
pub mod last_error;
pub mod metrics;
pub mod problem;
pub mod server;
pub mod session;
pub mod shutdown;
pub mod storefront;
pub mod tasks;
pub mod telemetry;

pub use problem::Problem;
