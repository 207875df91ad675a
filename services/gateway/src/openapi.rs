//! The OpenAPI document of `/api/v1`, generated from the handlers' annotations.

use axum::Json;
use reprint_service::problem::DeclareRefusals;
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
        crate::api::account::change_password,
        crate::api::account::set_language,
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
        crate::api::digital::digital_copy,
        crate::api::send_on::send_on,
        crate::settlements::ops_settlements,
    ),
    components(schemas(
        crate::auth::SignUp,
        crate::auth::LogIn,
        crate::auth::SessionInfo,
        crate::auth::SignUpReply,
        crate::auth::PasswordChange,
        crate::auth::PasswordChanged,
        crate::api::account::LanguageChoice,
        crate::api::OrderCreated,
        crate::api::StorageRequest,
        crate::api::Reservation,
        crate::api::ItemRequest,
        crate::api::OrderRequest,
        crate::api::SourceProfileRequest,
        crate::api::ProfileChoice,
        crate::api::WellKnownProfile,
        crate::api::ReorderRequest,
        crate::api::send_on::SendOnRequest,
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
    )),
    // The refusals in front of every handler (400, 401, 403, 404, 413, 415, 422; issue 13):
    // sign-up and log-in/log-out need no session.
    modifiers(&REFUSALS)
)]
pub struct ApiDoc;

/// The refusals in front of every handler; the paths of sign-up and log-in/log-out need no
/// session.
const REFUSALS: DeclareRefusals = DeclareRefusals(&["/api/v1/accounts", "/api/v1/session"]);

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
