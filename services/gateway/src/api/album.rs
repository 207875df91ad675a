//! The album: what a user does with the photos they keep here (routes merged by `lib.rs`).

use axum::Router;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
