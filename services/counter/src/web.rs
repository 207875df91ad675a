use crate::AppState;
use axum::Router;
pub fn routes(state: AppState) -> Router {
    Router::new().with_state(state)
}
