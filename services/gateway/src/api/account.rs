//! The account: its language, its password (routes merged by `lib.rs`).

use axum::Router;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
