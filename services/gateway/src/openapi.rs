//! The OpenAPI document of `/api/v1`, generated from the handlers' annotations.

use axum::Json;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "reprint gateway API",
        version = "1",
        description = "The ordering protocol of seed 000 (claims 1-29) as JSON: sites, order id, storage reservation, upload, quote, submit, status, re-order, download, cancel. Log in first; send the X-CSRF-Token header from the log-in with every POST, PUT and DELETE."
    ),
    paths(
        crate::auth::api_sign_up,
        crate::auth::api_log_in,
        crate::auth::api_log_out,
        crate::auth::api_me,
        crate::api::sites,
        crate::api::site_catalog,
        crate::api::site_locale,
        crate::api::create_order,
        crate::api::list_orders,
        crate::api::get_order,
        crate::api::reserve_storage,
        crate::upload::upload,
        crate::api::quote,
        crate::api::submit,
        crate::api::cancel,
        crate::api::reorder,
        crate::api::order_events,
        crate::api::list_images,
        crate::api::download_image,
        crate::settlements::ops_settlements,
    ),
    components(schemas(
        crate::auth::SignUp,
        crate::auth::LogIn,
        crate::auth::SessionInfo,
        crate::api::OrderCreated,
        crate::auth::SignUpReply,
        crate::api::StorageRequest,
        crate::api::Reservation,
        crate::api::ItemRequest,
        crate::api::OrderRequest,
        crate::api::ReorderRequest,
        crate::api::QuoteView,
        crate::api::SiteQuote,
        crate::api::OrderView,
        crate::api::OrderSummary,
        crate::api::TimelineEntry,
        crate::api::OrderImage,
        crate::api::SiteView,
        crate::api::ImageView,
        crate::upload::Uploaded,
        crate::settlements::Settlements,
        crate::settlements::SettlementBalance,
    ))
)]
pub struct ApiDoc;

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
