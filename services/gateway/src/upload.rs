//! Claim 26 f: images uploaded against the order's reservation.
//!
//! The body is streamed to a temporary file while it is hashed (SHA-256) and counted; more
//! bytes than the reservation has left stop the upload at once (413). A body that ends early
//! (the connection dropped) is a 400; one that stops coming for `upload_idle_secs` a 408. No
//! permit is held while the body comes in. The file is then checked by content with
//! `reprint_media::validate::preflight` behind an upload permit (one account holds at most
//! `uploads_per_account` of them): format, header limits before decoding (a PNG that claims
//! 100000x100000, or whose pixels would take more than `max_decoded_bytes`, is refused after 26
//! bytes), truncation, every pixel decoded with damaged picture data refused; stored once per content in the object store (the hash
//! is the name: already stored means nothing is sent), and only then recorded on the order.
//! Any refusal leaves nothing behind: the temporary file goes, no chunks stay in the object
//! store, no event is written.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use reprint_eventstore::ExpectedVersion;
use reprint_service::problem::Json;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;

use crate::api::owned_order;
use crate::auth::User;
use crate::error::{AppError, AppResult, media_error};
use crate::events::{ImageEvent, image_stream};
use crate::orders;
use crate::state::{AppState, to_new};
use reprint_domain::web_order::Command;

#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    /// The file name the user knows the image by (for people only).
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Uploaded {
    /// SHA-256 of the bytes: the image id, for items and re-orders.
    pub image: String,
    pub name: String,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    pub format: String,
    /// False when the same content was stored already (nothing new was kept).
    pub stored_now: bool,
    /// What the reservation has left.
    pub remaining: u64,
}

fn clean_name(name: Option<String>) -> AppResult<String> {
    let name = name.unwrap_or_else(|| "image".to_string());
    let name: String = name.chars().filter(|c| !c.is_control()).collect();
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::Unprocessable(
            "name must be 1 to 200 characters".into(),
        ));
    }
    Ok(name)
}

/// Upload one image (the raw bytes as the body) to an order with a reservation.
#[utoipa::path(put, path = "/api/v1/orders/{id}/images", params(("id" = String, Path), ("name" = Option<String>, Query)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Uploaded), (status = 400, description = "upload cut short"),
              (status = 404), (status = 409, description = "no reservation"), (status = 413, description = "over the reservation"),
              (status = 422, description = "not an image, or too many pixels")))]
pub async fn upload(
    State(state): State<AppState>,
    user: User,
    Path(id): Path<String>,
    Query(q): Query<UploadQuery>,
    body: Body,
) -> AppResult<Response> {
    let (oid, loaded) = owned_order(&state, &user, &id).await?;
    let name = clean_name(q.name)?;
    let allowed = loaded
        .state
        .room_for_upload(state.clock.now())?
        .min(state.config.storage.max_image_bytes);

    // 1. Stream to a temporary file, hashing and counting. No permit is held while the body
    //    comes in (a client sending a byte a second costs a connection and a file, not another
    //    user's turn); a body that stops for `upload_idle_secs` is answered 408.
    let idle = std::time::Duration::from_secs(state.config.storage.upload_idle_secs.max(1));
    let tmp = tempfile::NamedTempFile::new()?;
    let mut file = tokio::fs::File::from_std(tmp.reopen()?);
    let mut sha = Sha256::new();
    let mut size: u64 = 0;
    let mut stream = body.into_data_stream();
    loop {
        let next = match tokio::time::timeout(idle, stream.next()).await {
            Ok(next) => next,
            Err(_) => return Ok(stalled(idle, size)),
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| {
            AppError::BadRequest(format!(
                "the upload stopped before its end ({e}); nothing was kept"
            ))
        })?;
        size += chunk.len() as u64;
        if size > allowed {
            return Err(AppError::TooLarge(format!(
                "the image is larger than the {allowed} bytes this order's reservation has left; declare more storage first"
            )));
        }
        sha.update(&chunk);
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    drop(file);
    if size == 0 {
        return Err(AppError::Unprocessable("the upload is empty".into()));
    }
    let hash = hex::encode(sha.finalize());

    // 2. Check by content, now that the bytes are here: one of the account's permits, then one
    //    of the gateway's (decoding is what costs memory and CPU), in a blocking thread. Every
    //    pixel is decoded, held to the decoded-size limit, and damaged picture data is refused
    //    naming the file (validate::preflight), so what is accepted here prints.
    let _account = account_permit(&state, &user.id).await?;
    let _permit = state.uploads.acquire().await.map_err(AppError::internal)?;
    let path = tmp.path().to_path_buf();
    let limits = state.config.storage.image_limits();
    let shown = name.clone();
    let (info, phash) = tokio::task::spawn_blocking(move || -> AppResult<_> {
        let bytes = std::fs::read(&path)?;
        let refused = |e: reprint_media::MediaError| match media_error(e) {
            AppError::Unprocessable(why) => AppError::Unprocessable(format!("{shown}: {why}")),
            other => other,
        };
        let info = reprint_media::validate::preflight(&bytes, &limits).map_err(refused)?;
        let phash = reprint_media::identity::phash_bytes(&bytes, &limits).map_err(refused)?;
        Ok((info, phash))
    })
    .await
    .map_err(AppError::internal)??;

    // 3. Store once per content.
    let reader = tokio::fs::File::open(tmp.path()).await?;
    let stored = state.images.put(reader, Some(&hash)).await?;

    // 4. Record it on the order and as the user's image, in one transaction. The album
    //    uploads several files at once: one that lost the race for the order's version is
    //    checked and recorded again (the reservation may be used up by then: 413).
    let (width, height) = info.display_size();
    let format = info.format.name().to_string();
    let order_id = oid.to_string();
    let image = ImageEvent::Uploaded {
        account: user.id.clone(),
        image: hash.clone(),
        name: name.clone(),
        bytes: size,
        width,
        height,
        format: format.clone(),
        phash: Some(phash.to_string()),
        order: order_id.clone(),
        at_ms: state.now_ms(),
    };
    let mut attempt = 0u32;
    // The first attempt decides on the order as read before the upload (no second read);
    // one that lost a race reads it again.
    let mut read_before = Some(loaded);
    let remaining = loop {
        attempt += 1;
        match record(&state, &order_id, &image, read_before.take()).await {
            Err(AppError::Store(e)) if e.is_retryable() && attempt < RECORD_ATTEMPTS => {
                let pause = rand::random::<u64>() % (5 * u64::from(attempt)) + 1;
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            }
            other => break other?,
        }
    };
    Ok((
        StatusCode::CREATED,
        Json(Uploaded {
            image: hash,
            name,
            bytes: size,
            width,
            height,
            format,
            stored_now: stored.uploaded,
            remaining,
        }),
    )
        .into_response())
}

/// 408 for a body that stopped coming: nothing was kept (the temporary file goes with the
/// handler).
fn stalled(idle: std::time::Duration, received: u64) -> Response {
    reprint_service::Problem::new(
        StatusCode::REQUEST_TIMEOUT,
        "upload_stalled",
        format!(
            "the upload stalled: no bytes came for {} seconds (after {received} bytes); nothing was kept, send the image again",
            idle.as_secs()
        ),
    )
    .into_response()
}

/// One of `account`'s upload permits (at most `uploads_per_account` at once; its further
/// uploads wait here, not in the gateway's queue). The account's entry is dropped with its last
/// permit.
async fn account_permit(state: &AppState, account: &str) -> AppResult<AccountPermit> {
    let gate = {
        let mut accounts = state.media.accounts.lock().map_err(AppError::internal)?;
        accounts
            .entry(account.to_string())
            .or_insert_with(|| {
                std::sync::Arc::new(tokio::sync::Semaphore::new(state.media.per_account))
            })
            .clone()
    };
    let permit = gate
        .clone()
        .acquire_owned()
        .await
        .map_err(AppError::internal)?;
    Ok(AccountPermit {
        state: state.clone(),
        account: account.to_string(),
        permit: Some(permit),
    })
}

struct AccountPermit {
    state: AppState,
    account: String,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Drop for AccountPermit {
    fn drop(&mut self) {
        drop(self.permit.take());
        if let Ok(mut accounts) = self.state.media.accounts.lock() {
            // Only the map holds the gate and nobody waits on it or holds a permit: unused.
            let unused = accounts.get(&self.account).is_some_and(|g| {
                std::sync::Arc::strong_count(g) == 1
                    && g.available_permits() == self.state.media.per_account
            });
            if unused {
                accounts.remove(&self.account);
            }
        }
    }
}

/// Attempts at recording an upload that races other uploads to the same order.
const RECORD_ATTEMPTS: u32 = 16;

/// Records `image` on order `order_id` (if not there yet) and as the user's image, checking
/// the reservation against the order as this transaction reads it, or as `read_before` (the
/// order read outside it: its events are appended at the version read then, so a change since
/// fails the append with a version conflict and the caller tries again). Returns what the
/// reservation has left.
async fn record(
    state: &AppState,
    order_id: &str,
    image: &ImageEvent,
    read_before: Option<orders::Loaded>,
) -> AppResult<u64> {
    let ImageEvent::Uploaded {
        account,
        image: hash,
        name,
        bytes,
        ..
    } = image
    else {
        return Err(AppError::internal("record: not an upload"));
    };
    let mut tx = state.store.begin().await?;
    let mut loaded = orders::load_unless_read(&mut tx, order_id, read_before).await?;
    // The user's image: new, or deleted from the album since (no row): recorded (again).
    // Read before the order's events are queued, so that both appends go in one statement.
    let image_stream_id = image_stream(account, hash);
    let version = tx.stream_version(&image_stream_id).await?;
    let kept = version > 0
        && reprint_eventstore::sql::scalar_i64(
            tx.conn(),
            "SELECT COUNT(*) FROM gw_images WHERE account = $1 AND image = $2",
            &[account.as_str().into(), hash.as_str().into()],
        )
        .await?
            > 0;
    orders::execute(
        &mut tx,
        &mut loaded,
        vec![Command::AttachImage {
            image: hash.clone(),
            name: name.clone(),
            bytes: *bytes,
            at: state.clock.now(),
        }],
    )
    .await?;
    if !kept {
        tx.append_deferred(
            image_stream_id,
            ExpectedVersion::Exact(version),
            to_new(std::slice::from_ref(image))?,
        );
    }
    tx.commit().await?;
    Ok(loaded.state.reserved.saturating_sub(loaded.state.used))
}
