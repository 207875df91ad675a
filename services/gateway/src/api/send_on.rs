//! Images sent on (seed 000, claims 5, 6 and 15 f-g): the images of an order, with their print
//! history, go on to another system without being uploaded again: to another lab for another
//! product, back to the lab that printed them, or to a counter that prints (the first order's
//! lab makes the order for that counter, and sends it there as print data when the counter
//! announces its own printer for the sizes: docs/flows.md, "A counter with its own printer"). The gateway holds the originals (the object
//! store the labs read), so sending on is a new order of the same image ids at the site named,
//! through the same order check, charge and submission as any order: the new order is
//! `reorder_of` the first, its `OrderPlaced` carries each image's print history as the gateway
//! knows it (the slips of the user's orders) so the receiving site sees the images as printed
//! before, and a site that finds its own prints there gives its repeat discount.
//!
//! `POST /api/v1/orders/{id}/send-on` `{"to": <lab or counter>, "counter"?, "items"?}`; the
//! items, by default the first order's, must be images of that order.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use reprint_bus::message;
use reprint_bus::subjects::{self, Address};
use reprint_domain::protocol::{OrderPlaced, Sender, Stage};
use reprint_domain::web_order::{Command, Submitted};
use reprint_domain::{EarlierPrint, Recognition, Route, SiteId};
use reprint_eventstore::sql::Arg;
use reprint_service::problem::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use super::check::{ItemRequest, carried_profiles, check_order_request, give_profiles};
use super::images::history_of;
use super::orders::{OrderView, order_view};
use super::{new_order_id, owned_order};
use crate::auth::User;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::orders;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/orders/{id}/send-on", post(send_on))
}

/// Where to send an order's images on, and what to make of them there.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendOnRequest {
    /// The site to send the images to (its id in the site directory): another lab, the one
    /// that printed them, or a counter (the first order's lab makes the order for it; a
    /// counter with its own printer prints it).
    #[schema(min_length = 1, max_length = 64)]
    pub to: String,
    /// The delivery counter for the new order; by default the first order's (`to` itself
    /// when that is a counter).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 64)]
    pub counter: Option<String>,
    /// What to print there, each an image of the first order; by default the first order's
    /// items.
    #[serde(default)]
    #[schema(max_items = 500)]
    pub items: Option<Vec<ItemRequest>>,
}

/// The order a key made for this account, and the order it was sent on from.
async fn keyed(
    state: &AppState,
    user: &User,
    key: &str,
) -> AppResult<Option<(String, Option<String>)>> {
    db::fetch_one::<(String, Option<String>)>(
        &state.store,
        "SELECT id, reorder_of FROM gw_orders WHERE account = $1 AND idem_key = $2",
        &[Arg::Text(user.id.clone()), Arg::Text(key.to_string())],
    )
    .await
}

/// Each image's print history as the gateway knows it (the slips of the user's orders), as the
/// earlier prints that go with the images: every site sees them, and the site that made one
/// counts it towards its own repeat discount.
async fn history(state: &AppState, user: &User, image: &str) -> AppResult<Vec<EarlierPrint>> {
    let id = reprint_domain::ImageId::parse(image)
        .map_err(|_| AppError::NotFound(format!("image {image}")))?;
    let records = history_of(state, user, image).await?;
    Ok(records
        .entries
        .iter()
        .filter_map(|r| {
            Some(EarlierPrint {
                image: id,
                site: SiteId::parse(&r.site).ok()?,
                on: r.date,
                reception: Some(r.reception_number.clone()),
                recognised_by: Recognition::SentOn,
            })
        })
        .collect())
}

/// Send an order's images on to a lab or a counter (claims 5, 6, 15 f-g): a new order of the same images,
/// without uploading them again, with their print history; checked, charged and placed as any
/// order. With an `Idempotency-Key` the same key answers the same new order.
#[utoipa::path(post, path = "/api/v1/orders/{id}/send-on", request_body = SendOnRequest,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 200, pattern = "^[!-~]([ -~]*[!-~])?$")),
    responses((status = 201, body = OrderView),
        (status = 400, description = "an idempotency key that is empty, too long or not text"),
        (status = 401, description = "not logged in"),
        (status = 404, description = "no such order of this user"),
        (status = 409, description = "the order was not submitted, or the key was used for another order"),
        (status = 422, description = "the body or the order check refused the order, or an item is not an image of the order"),
        (status = 503, description = "the site did not answer")))]
pub async fn send_on(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let req: SendOnRequest = serde_json::from_slice(&body)
        .map_err(|e| AppError::Unprocessable(format!("send-on body: {e}")))?;
    let (src, loaded) = owned_order(&state, &user, &id).await?;
    let source = src.to_string();
    let key = super::create::create_key(&headers)?;
    if let Some(key) = &key
        && let Some((order, from)) = keyed(&state, &user, key).await?
    {
        return replay(&state, &user, &source, order, from).await;
    }
    let key = key.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let prev = loaded.state.reorderable()?.clone();
    let Resolved {
        lab,
        counter,
        items,
    } = resolve(&state, &prev, &source, req).await?;
    let mut checked = check_order_request(&state, &user, &lab, &counter, &items).await?;
    // Each image keeps the source profile the first order gave it.
    checked.source_profiles = carried_profiles(&prev, &checked.placed_items);
    let mut placed_items = checked.placed_items.clone();
    for item in &mut placed_items {
        item.history = history(&state, &user, &item.image.to_hex()).await?;
    }
    let oid = new_order_id(&state);
    let at = state.clock.now();
    let body = OrderPlaced {
        order: oid,
        route: Route::Internet,
        sender: Sender::Gateway(SiteId::parse(state.gateway.as_str())?),
        lab: checked.lab.clone(),
        delivery_counter: checked.counter.clone(),
        placed_at: at,
        data_receive: None,
        currency: checked.currency,
        customer: checked.customer.clone(),
        items: placed_items,
        counter_extract: None,
        digital_copy: false,
        counter_registration_number: checked.at_counter.clone(),
        source_profiles: checked.source_profiles.clone(),
    };
    let to_lab = message::to_inbox(
        state.gateway.as_str(),
        Address::lab(subjects::SiteId::parse(checked.lab.as_str())?),
        &body,
        None,
        None,
    )?;
    let mut commands = vec![
        Command::Request {
            account: user.id.clone(),
            at,
        },
        Command::Submit {
            lab: checked.lab.to_string(),
            counter: checked.counter.to_string(),
            items: checked.items.clone(),
            idempotency_key: key.clone(),
            reorder_of: Some(source.clone()),
            digital_copy: false,
            at,
        },
    ];
    commands.extend(give_profiles(&checked.source_profiles, at)?);
    if let Err(e) = orders::run(&state, &oid.to_string(), commands, |_, _| Ok(vec![to_lab])).await {
        // A duplicate with the same key that got there first: its outcome.
        return match keyed(&state, &user, &key).await? {
            Some((order, from)) => replay(&state, &user, &source, order, from).await,
            None => Err(e),
        };
    }
    state
        .metrics
        .orders
        .with_label_values(&[Stage::Placed.as_str()])
        .inc();
    Ok((
        StatusCode::CREATED,
        Json(order_view(&state, &user, &oid.to_string()).await?),
    )
        .into_response())
}

/// What a send-on makes of its request: the lab that makes the new order, its delivery counter
/// and the lines. The lines, by default the first order's, must be images of it; `to` a counter
/// means the first order's lab makes the order for that counter (no other counter may then be
/// named). The web page's quote and its confirmation use this too, so they say what the API
/// would do.
pub struct Resolved {
    pub lab: String,
    pub counter: String,
    pub items: Vec<ItemRequest>,
}

/// [`Resolved`] for `req`, sending on `prev`, the submitted order `source`.
pub async fn resolve(
    state: &AppState,
    prev: &Submitted,
    source: &str,
    req: SendOnRequest,
) -> AppResult<Resolved> {
    let items = match req.items {
        Some(items) => {
            if let Some(stranger) = items
                .iter()
                .find(|i| !prev.items.iter().any(|p| p.image == i.image))
            {
                return Err(AppError::Unprocessable(format!(
                    "image {} is not an image of order {source}: only its own images are sent on",
                    stranger.image
                )));
            }
            items
        }
        None => prev
            .items
            .iter()
            .map(|i| ItemRequest {
                image: i.image.clone(),
                size: i.size.clone(),
                quantity: i.quantity,
                edits: i
                    .edits
                    .as_deref()
                    .and_then(|e| serde_json::from_str(e).ok()),
            })
            .collect(),
    };
    // To a counter: made by the first order's lab and delivered there, where a counter with its
    // own printer that prints the sizes gets it as print data (docs/flows.md) and prints it.
    let (lab, counter) = if is_counter(state, &req.to).await? {
        if req.counter.as_ref().is_some_and(|c| c != &req.to) {
            return Err(AppError::Unprocessable(format!(
                "{} is a counter: the images go there, so no other delivery counter can be named",
                req.to
            )));
        }
        (prev.lab.clone(), req.to.clone())
    } else {
        (req.to.clone(), req.counter.unwrap_or(prev.counter.clone()))
    };
    Ok(Resolved {
        lab,
        counter,
        items,
    })
}

/// The answer to a key already used: the order it made, when it sent this order on.
async fn replay(
    state: &AppState,
    user: &User,
    source: &str,
    order: String,
    from: Option<String>,
) -> AppResult<Response> {
    if from.as_deref() != Some(source) {
        return Err(AppError::conflict(
            "idempotency_key_reused",
            format!(
                "this idempotency key was already used for order {order}; send a new key for another order"
            ),
        ));
    }
    Ok((
        StatusCode::CREATED,
        Json(order_view(state, user, &order).await?),
    )
        .into_response())
}

/// Whether `site` is a counter of the site directory.
async fn is_counter(state: &AppState, site: &str) -> AppResult<bool> {
    let Ok(id) = subjects::SiteId::parse(site) else {
        return Ok(false);
    };
    Ok(state
        .directory
        .get(&id)
        .await?
        .is_some_and(|e| e.site.kind == subjects::SiteKind::Counter))
}
