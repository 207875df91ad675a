//! The digital copy (seed 000, claims 2 and 18: "a digital media containing the image"; seed 004:
//! the image and its individual user file "in one file format such as ZIP ... returned to the
//! user"): the originals of an order with their print history, delivered as a download once the
//! prints are ready for pickup.
//!
//! The gateway builds it itself, as its image download does (`super::images`): it holds the
//! originals and the slips of every order, so it needs nothing of the lab. One ZIP per order,
//! holding per image its container (`reprint_media::history::container`: the original stored
//! unchanged beside `history.json`, this order's print included), which the user can upload
//! again and have recognised as printed before.
//!
//! Ready from `ready_for_pickup` on: the lab sells it "delivered with the prints", and it is paid
//! with them at the counter (its line is in the lab's charge, so in the amount due). Before
//! that the history lacks the print being made (409 `digital_copy_not_ready`); an order that was
//! cancelled or rejected never gets one (409 `digital_copy_never`); an order without it, or
//! someone else's, is not found (404).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use reprint_domain::protocol::Stage;
use reprint_domain::web_order::{Submitted, WebStage};
use reprint_media::history::digital_copy::{Original, digital_copy_bytes};
use serde_json::Value;

use super::images::{attachment, history_of, read_image};
use super::owned_order;
use crate::auth::User;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use reprint_eventstore::sql::Arg;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/orders/{id}/digital-copy", get(digital_copy))
}

/// Where an order's digital copy stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    NotYet,
    /// Cancelled or rejected: no prints, no copy.
    Never,
}

/// Where the digital copy of an order at `stage` stands.
pub fn ready(stage: WebStage) -> Readiness {
    match stage {
        WebStage::At(Stage::ReadyForPickup | Stage::Collected | Stage::Settled) => Readiness::Ready,
        WebStage::At(Stage::Cancelled | Stage::Rejected) => Readiness::Never,
        _ => Readiness::NotYet,
    }
}

/// The order's images, each once (an image printed in two sizes is one original), in the
/// order's order.
fn originals(submitted: &Submitted) -> Vec<(String, String)> {
    let mut seen = std::collections::HashSet::new();
    submitted
        .items
        .iter()
        .filter(|i| seen.insert(i.image.clone()))
        .map(|i| (i.image.clone(), i.name.clone()))
        .collect()
}

/// Download the order's digital copy: a ZIP holding, per original, its container (the image
/// unchanged and `history.json`, its print history with this order's print). From
/// `ready_for_pickup` on.
#[utoipa::path(get, path = "/api/v1/orders/{id}/digital-copy", params(("id" = String, Path)),
    responses((status = 200, description = "the ZIP: one container per original (`<n>-<name>.zip`: the image and history.json)", content_type = "application/zip"),
        (status = 404, description = "no such order of this user, or the order has no digital copy"),
        (status = 409, description = "not ready yet (`digital_copy_not_ready`: before ready for pickup) or never (`digital_copy_never`: the order was cancelled or rejected)")))]
pub async fn digital_copy(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let (oid, loaded) = owned_order(&state, &user, &id).await?;
    let Some(submitted) = loaded.state.submitted.as_ref().filter(|s| s.digital_copy) else {
        return Err(AppError::NotFound(format!(
            "order {id} has no digital copy"
        )));
    };
    match ready(loaded.state.stage) {
        Readiness::Ready => {}
        Readiness::NotYet => {
            return Err(AppError::conflict(
                "digital_copy_not_ready",
                "the digital copy is ready with the prints; come back when the order is ready for pickup",
            ));
        }
        Readiness::Never => {
            return Err(AppError::conflict(
                "digital_copy_never",
                "this order was cancelled or rejected: it has no digital copy",
            ));
        }
    }
    let mut entries = Vec::new();
    for (hash, name) in originals(submitted) {
        let bytes = read_image(&state, &hash).await?;
        let history = history_of(&state, &user, &hash).await?;
        entries.push((name, bytes, history));
    }
    let reception = reception_number(&state, &oid.to_string()).await?;
    let body = tokio::task::spawn_blocking(move || -> AppResult<Vec<u8>> {
        // The one digital copy writer (the counter's writer puts the same ZIP on a medium).
        let originals: Vec<Original<'_>> = entries
            .iter()
            .map(|(name, bytes, history)| Original {
                name,
                bytes,
                history,
            })
            .collect();
        digital_copy_bytes(&originals).map_err(crate::error::media_error)
    })
    .await
    .map_err(AppError::internal)??;
    let filename = match reception {
        Some(r) => format!("digital-copy-{r}.zip"),
        None => format!("digital-copy-{id}.zip"),
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (header::CONTENT_DISPOSITION, attachment(&filename)),
        ],
        body,
    )
        .into_response())
}

/// The lab's reception number of the order, from its slip.
async fn reception_number(state: &AppState, order: &str) -> AppResult<Option<String>> {
    let row: Option<(Option<String>,)> = db::fetch_one(
        &state.store,
        "SELECT slip_json FROM gw_orders WHERE id = $1",
        &[Arg::Text(order.to_string())],
    )
    .await?;
    Ok(row
        .and_then(|(s,)| s)
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .and_then(|v| {
            v.pointer("/reception/number")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .filter(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_from_ready_for_pickup_never_after_an_early_end() {
        assert_eq!(ready(WebStage::At(Stage::Printed)), Readiness::NotYet);
        assert_eq!(ready(WebStage::At(Stage::ReadyForPickup)), Readiness::Ready);
        assert_eq!(ready(WebStage::At(Stage::Settled)), Readiness::Ready);
        assert_eq!(ready(WebStage::At(Stage::Rejected)), Readiness::Never);
        assert_eq!(ready(WebStage::Draft), Readiness::NotYet);
    }
}
