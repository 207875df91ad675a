//! The site directory: labs and counters (claims 11, 25, 29), a site's catalog and locale
//! (claim 12), asked of the site itself.

use axum::extract::{Path, State};
use reprint_bus::BusError;
use reprint_bus::request::request_json;
use reprint_bus::subjects::{self, RpcMethod};
use reprint_domain::protocol::{CatalogReply, LocaleReply};
use reprint_service::problem::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub(super) fn rpc_error(site: &str, e: BusError) -> AppError {
    match e {
        BusError::NoResponders { .. } => {
            AppError::Unavailable(format!("{site} is not answering (offline?)"))
        }
        BusError::TimedOut { .. } => {
            AppError::Unavailable(format!("{site} did not answer in time"))
        }
        BusError::Remote { code, message } if code == "internal" => {
            AppError::Unavailable(format!("{site} could not answer: {message}"))
        }
        BusError::Remote { code, message } => {
            AppError::Unprocessable(format!("{site} refused: {code}: {message}"))
        }
        BusError::Json { source, .. } => {
            tracing::warn!(%site, error = %source, "unreadable reply");
            AppError::Unavailable(format!(
                "{site} answered something this gateway cannot read"
            ))
        }
        other => AppError::Bus(other),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SiteView {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub address: String,
    pub time_zone: String,
    pub currency: String,
    pub sizes: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    pub prices: Value,
    pub policy_summary: String,
    pub icc_profiles: Vec<String>,
    pub stale: bool,
}

/// The labs and counters of the site directory, with addresses, sizes, prices and ICC
/// profiles (claims 11, 25, 29).
#[utoipa::path(get, path = "/api/v1/sites", responses((status = 200, body = Vec<SiteView>)))]
pub async fn sites(State(state): State<AppState>) -> AppResult<Json<Vec<SiteView>>> {
    Ok(Json(list_sites(&state).await?))
}

pub async fn list_sites(state: &AppState) -> AppResult<Vec<SiteView>> {
    let now = state.clock.now();
    let entries = state.directory.list().await?;
    Ok(entries
        .into_iter()
        .filter(|e| e.site.kind != subjects::SiteKind::Gateway)
        .map(|e| SiteView {
            stale: e.site.is_stale(now),
            id: e.site.id.to_string(),
            kind: e.site.kind.to_string(),
            name: e.site.name,
            address: e.site.address,
            time_zone: e.site.time_zone,
            currency: e.site.currency,
            sizes: e.site.sizes,
            prices: serde_json::to_value(&e.site.prices).unwrap_or(Value::Null),
            policy_summary: e.site.policy_summary,
            icc_profiles: e.site.icc_profiles,
        })
        .collect())
}

/// Asks site `id` (of the directory) `method` with the empty request `{}`.
async fn site_rpc<R: serde::de::DeserializeOwned>(
    state: &AppState,
    id: &str,
    method: RpcMethod,
) -> AppResult<R> {
    let sid = subjects::SiteId::parse(id).map_err(|_| AppError::NotFound(format!("site {id}")))?;
    if state.directory.get(&sid).await?.is_none() {
        return Err(AppError::NotFound(format!("site {id}")));
    }
    request_json::<_, R>(
        &state.nats,
        &subjects::rpc(&sid, method),
        &serde_json::json!({}),
        state.rpc_timeout(),
    )
    .await
    .map_err(|e| rpc_error(id, e))
}

/// A lab's services and products with prices and ICC profiles (claims 11, 25, 29), asked of
/// the site itself (`CatalogReply`).
#[utoipa::path(get, path = "/api/v1/sites/{id}/catalog", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404), (status = 503)))]
pub async fn site_catalog(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Json<CatalogReply>> {
    Ok(Json(site_rpc(&state, &id, RpcMethod::Catalog).await?))
}

/// A site's locale: currency, language, time zone, sizes (claim 12; `LocaleReply`).
#[utoipa::path(get, path = "/api/v1/sites/{id}/locale", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404), (status = 503)))]
pub async fn site_locale(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Json<LocaleReply>> {
    Ok(Json(site_rpc(&state, &id, RpcMethod::Locale).await?))
}
