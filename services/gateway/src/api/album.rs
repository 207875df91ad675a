//! The album: what a user does with the photos they keep here (routes merged by `lib.rs`).
//!
//! - `POST /api/v1/album/draft`: the order the album uploads to and quotes with, made only when
//!   needed: the user's newest draft touched within [`crate::drafts::UNTOUCHED`], else a new
//!   one (so an album visit without an upload or a quote makes no order, and a second visit
//!   goes on with the first one's draft).
//! - `DELETE /api/v1/album/{image}`: deletes a photo (409 `in_use` while an order that is not
//!   finished prints it).
//! - `GET /api/v1/album/{image}/preview?size=L&edits=[..]&edge=640`: what the lab will print,
//!   at screen size (the lab's render of the edit list, `crate::thumbs::build_preview`), with
//!   the print's dots per inch on paper in `X-Print-Dpi`. The edit list and size pass the
//!   one order check first (`reprint_domain::order_check::check_items`), refused in its words.
//!   With `proof=<profile name>` (and `lab=<site>`, else the first lab announcing that
//!   profile) it is soft-proofed through that printer profile of the lab's catalog: what the
//!   paper shows, the colours it cannot hold hatched in magenta, the share of the picture out
//!   of gamut in `X-Out-Of-Gamut` (0 to 1).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use reprint_domain::protocol::PlacedItem;
use reprint_domain::web_order::{Command, WebStage};
use reprint_domain::{ImageId, PrintSize};
use reprint_eventstore::sql::Arg;
use reprint_service::problem::Json;
use serde::{Deserialize, Serialize};

use super::new_order_id;
use crate::auth::User;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::orders;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/album/draft", post(draft))
        .route("/api/v1/album/{image}", delete(delete_photo))
        .route("/api/v1/album/{image}/preview", get(preview))
}

/// The album's draft order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Draft {
    pub order: String,
    /// Bytes of the images already uploaded to it (a new reservation must cover them).
    pub used: u64,
    /// Whether it was made now (else an earlier visit's).
    pub created: bool,
}

/// The user's newest draft touched within [`crate::drafts::UNTOUCHED`].
pub async fn open_draft(state: &AppState, user: &User) -> AppResult<Option<(String, u64)>> {
    let since = state.now_ms() - crate::drafts::UNTOUCHED.num_milliseconds();
    let row: Option<(String, i64)> = db::fetch_one(
        &state.store,
        "SELECT id, used FROM gw_orders WHERE account = $1 AND stage = $2 AND updated_ms > $3
         ORDER BY updated_ms DESC LIMIT 1",
        &[
            Arg::Text(user.id.clone()),
            Arg::Text(WebStage::Draft.as_str().into()),
            Arg::Int(since),
        ],
    )
    .await?;
    Ok(row.map(|(id, used)| (id, u64::try_from(used).unwrap_or(0))))
}

async fn draft(State(state): State<AppState>, user: User) -> AppResult<Response> {
    if let Some((order, used)) = open_draft(&state, &user).await? {
        return Ok(Json(Draft {
            order,
            used,
            created: false,
        })
        .into_response());
    }
    let order = new_order_id(&state).to_string();
    orders::run(
        &state,
        &order,
        vec![Command::Request {
            account: user.id.clone(),
            at: state.clock.now(),
        }],
        |_, _| Ok(vec![]),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(Draft {
            order,
            used: 0,
            created: true,
        }),
    )
        .into_response())
}

async fn delete_photo(
    State(state): State<AppState>,
    user: User,
    Path(image): Path<String>,
) -> AppResult<StatusCode> {
    super::delete_image(&state, &user, &image).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct PreviewQuery {
    /// A print size code (`L`, `2L`, ...).
    pub size: String,
    /// The edit list (JSON), as an order item carries it.
    #[serde(default)]
    pub edits: Option<String>,
    /// The preview's long side in pixels (64 to 1200; default 640).
    #[serde(default)]
    pub edge: Option<u32>,
    /// Soft-proof through this printer profile (a name of a lab's catalog `printer_profiles`).
    #[serde(default)]
    pub proof: Option<String>,
    /// The lab whose profile `proof` names (default: the first lab announcing it).
    #[serde(default)]
    pub lab: Option<String>,
}

/// The printer profile `name` of lab `lab` (or of the first lab of the directory announcing
/// it), from the lab's catalog.
async fn printer_profile(state: &AppState, name: &str, lab: Option<&str>) -> AppResult<Vec<u8>> {
    use reprint_bus::subjects::{self, RpcMethod};
    use reprint_domain::protocol::{CatalogReply, SourceProfile};
    let entries = state.directory.list().await?;
    let site = entries
        .iter()
        .filter(|e| e.site.kind == subjects::SiteKind::Lab)
        .find(|e| match lab {
            Some(l) => e.site.id.as_str() == l,
            None => e.site.icc_profiles.iter().any(|p| p == name),
        })
        .map(|e| e.site.id.clone())
        .ok_or_else(|| match lab {
            Some(l) => AppError::Unprocessable(format!("{l} is not a lab of the site directory")),
            None => AppError::Unprocessable(format!("no lab prints with the profile {name:?}")),
        })?;
    let catalog: CatalogReply = reprint_bus::request::request_json(
        &state.nats,
        &subjects::rpc(&site, RpcMethod::Catalog),
        &serde_json::json!({}),
        state.rpc_timeout(),
    )
    .await
    .map_err(|e| super::sites::rpc_error(site.as_str(), e))?;
    let profile = catalog
        .printer_profiles
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| {
            AppError::Unprocessable(format!("{site} has no printer profile {name:?}"))
        })?;
    let b64 = profile.icc.ok_or_else(|| {
        AppError::Unprocessable(format!(
            "{site} does not send the profile {name:?} (too large to proof here)"
        ))
    })?;
    SourceProfile::Icc(b64)
        .icc_bytes()
        .unwrap_or_else(|| Ok(Vec::new()))
        .map_err(|e| AppError::Unavailable(format!("{site} sent an unreadable profile: {e}")))
}

async fn preview(
    State(state): State<AppState>,
    user: User,
    Path(image): Path<String>,
    Query(q): Query<PreviewQuery>,
) -> AppResult<Response> {
    let (hash, name) = super::owned_image(&state, &user, &image).await?;
    let size = PrintSize::parse(&q.size)?;
    let edits = q
        .edits
        .filter(|e| !e.trim().is_empty() && e.trim() != "null");
    // The one order check, as a quote would run it on this line: the edit list's words are
    // the lab's.
    let item = PlacedItem {
        image: ImageId::parse(&hash).map_err(|_| AppError::NotFound(format!("image {image}")))?,
        name,
        size,
        quantity: 1,
        edits,
        perceptual_hash: None,
        history: vec![],
    };
    let lists =
        reprint_domain::order_check::check_items(std::slice::from_ref(&item), &|_: PrintSize| {
            true
        })?;
    let edits = lists.into_iter().next().unwrap_or_default();
    let edge = q.edge.unwrap_or(640);
    let proof = match q.proof.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(name) => Some(printer_profile(&state, name, q.lab.as_deref()).await?),
        None => None,
    };
    let (jpeg, dpi, out_of_gamut) = crate::thumbs::build_preview(
        &state,
        size,
        edits,
        edge,
        super::read_image(&state, &hash),
        proof,
    )
    .await?;
    let mut res = (
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        jpeg,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{}", dpi.floor() as u32)) {
        res.headers_mut().insert("x-print-dpi", v);
    }
    if let Some(share) = out_of_gamut
        && let Ok(v) = HeaderValue::from_str(&format!("{share:.4}"))
    {
        res.headers_mut().insert("x-out-of-gamut", v);
    }
    Ok(res)
}
