//! A price quote from the chosen lab and delivery counter, each by its own policy.

use axum::extract::{Path, State};
use reprint_bus::request::request_json;
use reprint_bus::subjects::{self, RpcMethod};
use reprint_domain::protocol::{QuoteReply, QuoteRequest};
use reprint_domain::{Charge, Money, SiteId, SiteKind};
use reprint_service::problem::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::check::{OrderRequest, check_order_request};
use super::owned_order;
use super::sites::rpc_error;
use crate::auth::User;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QuoteView {
    pub lab: SiteQuote,
    pub counter: SiteQuote,
    /// Both charges together (what the user pays at the counter), when both sites answered
    /// in the same currency.
    #[schema(value_type = Option<Object>)]
    pub total: Option<Money>,
}

/// One site's answer to the quote (`reprint_domain::protocol::QuoteReply`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SiteQuote {
    pub site: String,
    /// `lab` or `counter`.
    pub site_kind: String,
    /// The site's charge with its explained lines (`reprint_domain::Charge`).
    #[schema(value_type = Object)]
    pub charge: Charge,
    /// When the prints would be ready (labs only).
    pub estimated_finish: Option<String>,
}

impl SiteQuote {
    fn from_reply(asked: &SiteId, kind: SiteKind, r: QuoteReply) -> AppResult<SiteQuote> {
        if &r.site != asked || r.site_kind != kind {
            return Err(AppError::Unavailable(format!(
                "{asked} answered the quote as {} {}",
                r.site_kind, r.site
            )));
        }
        Ok(SiteQuote {
            site: r.site.to_string(),
            site_kind: r.site_kind.to_string(),
            charge: r.charge,
            estimated_finish: r
                .estimated_finish
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        })
    }
}

/// The catalog code of the digital copy (seed 000, claims 2, 18): the originals with their
/// print history in a ZIP.
pub const DIGITAL_COPY: &str = "digital-copy:zip";

/// Whether the lab announces the digital copy in the site directory (its price lines list
/// [`DIGITAL_COPY`], as its catalog does).
pub async fn lab_sells_digital_copy(state: &AppState, lab: &SiteId) -> AppResult<bool> {
    let id = subjects::SiteId::parse(lab.as_str())?;
    Ok(state
        .directory
        .get(&id)
        .await?
        .is_some_and(|e| e.site.prices.iter().any(|p| p.item == DIGITAL_COPY)))
}

/// A price quote from the chosen lab and delivery counter, each by its own policy, with the
/// explained lines (the lab's digital copy among them when asked): `QuoteRequest { customer,
/// items, at, digital_copy }` on `reprint.v1.rpc.<site>.quote`
/// to both sites at once, each with the user's registration number at that site.
#[utoipa::path(post, path = "/api/v1/orders/{id}/quote", request_body = OrderRequest,
    params(("id" = String, Path)),
    responses((status = 200, body = QuoteView),
        (status = 404, description = "no such order of this user, or an image not uploaded"),
        (status = 409, description = "the order cannot be quoted now"),
        (status = 422, description = "the order check refused the order"),
        (status = 503, description = "the lab or the counter did not answer")))]
pub async fn quote(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Json(req): Json<OrderRequest>,
) -> AppResult<Json<QuoteView>> {
    owned_order(&state, &user, &id).await?;
    let checked = check_order_request(&state, &user, &req.lab, &req.counter, &req.items).await?;
    // The source profiles are refused here as at the submission.
    super::check::source_profiles(&req.source_profiles, &checked.placed_items)?;
    if req.digital_copy && !lab_sells_digital_copy(&state, &checked.lab).await? {
        return Err(AppError::Unprocessable(format!(
            "{} does not sell the digital copy: order prints only, or choose another lab",
            checked.lab
        )));
    }
    let at = state.clock.now();
    // The digital copy is the lab's product: its line is in the lab's charge only.
    let for_lab = QuoteRequest {
        customer: checked.customer.clone(),
        items: checked.placed_items.clone(),
        at,
        digital_copy: req.digital_copy,
    };
    let for_counter = QuoteRequest {
        customer: checked.counter_customer(),
        items: checked.placed_items.clone(),
        at,
        digital_copy: false,
    };
    let timeout = state.rpc_timeout();
    let lab_subject = subjects::rpc(
        &subjects::SiteId::parse(checked.lab.as_str())?,
        RpcMethod::Quote,
    );
    let counter_subject = subjects::rpc(
        &subjects::SiteId::parse(checked.counter.as_str())?,
        RpcMethod::Quote,
    );
    let (l, c) = tokio::join!(
        request_json::<_, QuoteReply>(&state.nats, &lab_subject, &for_lab, timeout),
        request_json::<_, QuoteReply>(&state.nats, &counter_subject, &for_counter, timeout),
    );
    let l = l.map_err(|e| rpc_error(checked.lab.as_str(), e))?;
    let c = c.map_err(|e| rpc_error(checked.counter.as_str(), e))?;
    let total = reprint_domain::amount_due(&l.charge, &c.charge).ok();
    Ok(Json(QuoteView {
        lab: SiteQuote::from_reply(&checked.lab, SiteKind::Lab, l)?,
        counter: SiteQuote::from_reply(&checked.counter, SiteKind::Counter, c)?,
        total,
    }))
}
