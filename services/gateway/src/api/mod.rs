//! The ordering API of seed 000 (claims 9, 10, 11, 12, 26, 28, 29) as JSON under `/api/v1`, one
//! file a resource: [`orders`] (an order, its status, cancelling it), [`storage`] (the
//! reservation), [`check`] (the order request and the one order check at the door), [`quote`],
//! [`submit`] (submit and re-order), [`sites`] (the directory, a site's catalog and locale),
//! [`images`] (list, download with history, thumbnails) and [`ops`]; here what they share.
//!
//! Every handler and type is re-exported here, so that the routes (`lib.rs`) and the OpenAPI
//! document (`crate::openapi`, whose operations are tagged by this path) name them
//! `crate::api::<name>`.

pub mod account;
pub mod album;
mod check;
mod create;
pub mod digital;
mod images;
mod ops;
mod orders;
mod quote;
pub mod send_on;
mod sites;
mod storage;
mod submit;

pub use check::*;
pub use create::*;
pub use images::*;
pub use ops::*;
pub use orders::*;
pub use quote::*;
pub use sites::*;
pub use storage::*;
pub use submit::*;

use reprint_domain::OrderId;

use crate::auth::User;
use crate::error::{AppError, AppResult};
use crate::orders::Loaded;
use crate::state::AppState;

fn ms_to_rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// A new order id (UUID v7) from the gateway's clock and the random source, here at the edge.
pub fn new_order_id(state: &AppState) -> OrderId {
    let random: [u8; 10] = rand::random();
    OrderId::from_parts(u64::try_from(state.now_ms()).unwrap_or(0), random)
}

fn parse_order(id: &str) -> AppResult<OrderId> {
    OrderId::parse(id).map_err(|_| AppError::NotFound(format!("order {id}")))
}

/// The order if it is the user's; someone else's is "not found", like one that does not exist.
pub async fn owned_order(state: &AppState, user: &User, id: &str) -> AppResult<(OrderId, Loaded)> {
    let oid = parse_order(id)?;
    let loaded = state.load_order(&oid.to_string()).await?;
    if !loaded.state.exists() || loaded.state.account != user.id {
        return Err(AppError::NotFound(format!("order {id}")));
    }
    Ok((oid, loaded))
}
