//! The front page: what reprint does, for someone who has not logged in.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::html;

use super::{Viewer, render};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(home))
}

async fn home(State(state): State<AppState>, viewer: Viewer) -> Response {
    if viewer.user.is_some() {
        return Redirect::to("/album").into_response();
    }
    let title = viewer.t("home-title");
    render(
        &state,
        &viewer,
        &title,
        html! {
            h1 { (title) }
            p { (viewer.t("home-lead")) }
            p {
                a.button href="/signup" { (viewer.t("nav-sign-up")) } " "
                a href="/login" { (viewer.t("nav-log-in")) }
            }
        },
    )
}
