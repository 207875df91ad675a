//! The user's images: the list, a download with the print history (XMP or ZIP), thumbnails.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use reprint_domain::protocol::Stage;
use reprint_domain::{ImageId, PrintSize};
use reprint_eventstore::sql::Arg;
use reprint_service::problem::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::User;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::events::ItemRecord;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImageView {
    pub image: String,
    pub name: String,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    pub format: String,
    /// Print sizes this image has enough pixels for (never `Index`: the index print is one
    /// sheet per order, not a size of one image).
    pub sizes_ok: Vec<String>,
    /// When it was uploaded (RFC 3339).
    #[serde(default)]
    pub uploaded_at: String,
    /// Earlier prints of this photo that the gateway knows of, oldest first.
    #[serde(default)]
    pub printed: Vec<PrintedBefore>,
}

/// An earlier print of a photo, as the gateway knows it: from the slips of the user's orders
/// (the same image, or another upload of the same photo by perceptual hash: renamed,
/// re-encoded, resized) or from the print history embedded in the file (XMP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PrintedBefore {
    /// The lab that printed it (its id; pages show its name).
    pub lab: String,
    /// The reception number there.
    pub reception: String,
    /// When the lab received that order (RFC 3339), or the date of the embedded record.
    pub at: String,
    /// How it was recognised: `same_image`, `perceptual_hash` or `embedded_history`.
    pub how: String,
    /// Bits that differ, for a perceptual-hash match.
    pub distance: Option<u32>,
}

/// One print the user's orders made: the image, the lab, the reception and when.
struct Print {
    image: String,
    lab: String,
    reception: String,
    at: String,
}

/// The prints the user's orders made (an order that was cancelled or rejected made none).
async fn prints_of(state: &AppState, account: &str) -> AppResult<Vec<Print>> {
    let rows: Vec<(Option<String>, Option<String>, Option<String>)> = db::fetch(
        &state.store,
        "SELECT lab, slip_json, items_json FROM gw_orders WHERE account = $1 AND slip_json IS NOT NULL
         AND stage NOT IN ($2, $3) ORDER BY submitted_ms",
        &[
            Arg::Text(account.to_string()),
            Arg::Text(Stage::Cancelled.as_str().to_string()),
            Arg::Text(Stage::Rejected.as_str().to_string()),
        ],
    )
    .await?;
    let mut out = Vec::new();
    for (lab, slip_json, items_json) in rows {
        let items: Vec<ItemRecord> = items_json
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        let Some(slip) = slip_json.and_then(|s| serde_json::from_str::<Value>(&s).ok()) else {
            continue;
        };
        let text = |p: &str| slip.pointer(p).and_then(Value::as_str).map(str::to_string);
        let (Some(reception), Some(at)) =
            (text("/reception/number"), text("/reception/received_at"))
        else {
            continue;
        };
        for i in items {
            out.push(Print {
                image: i.image,
                lab: lab.clone().unwrap_or_default(),
                reception: reception.clone(),
                at: at.clone(),
            });
        }
    }
    Ok(out)
}

/// Every earlier print the gateway knows of each image of `images` (content hash and
/// perceptual hash), by the user's slips and by the histories embedded in the files.
async fn printed_before(
    state: &AppState,
    account: &str,
    images: &[(String, Option<String>)],
) -> AppResult<std::collections::HashMap<String, Vec<PrintedBefore>>> {
    use reprint_media::PerceptualHash;
    let prints = prints_of(state, account).await?;
    // The perceptual hash of every image the user printed (all of the user's uploads).
    let phashes: std::collections::HashMap<String, PerceptualHash> =
        db::fetch::<(String, Option<String>)>(
            &state.store,
            "SELECT image, phash FROM gw_images WHERE account = $1",
            &[Arg::Text(account.to_string())],
        )
        .await?
        .into_iter()
        .filter_map(|(i, p)| Some((i, p?.parse::<PerceptualHash>().ok()?)))
        .collect();
    let hashes: Vec<String> = images.iter().map(|(i, _)| i.clone()).collect();
    let embedded = crate::thumbs::embedded_histories(&state.store, &hashes).await?;
    let mut out = std::collections::HashMap::new();
    for (image, phash) in images {
        let mine = phash
            .as_deref()
            .and_then(|p| p.parse::<PerceptualHash>().ok());
        let mut found: Vec<PrintedBefore> = Vec::new();
        for p in &prints {
            let (how, distance) = if &p.image == image {
                ("same_image", None)
            } else {
                match (mine, phashes.get(&p.image)) {
                    (Some(a), Some(b)) if a.matches(*b) => {
                        ("perceptual_hash", Some(a.distance(*b)))
                    }
                    _ => continue,
                }
            };
            if found
                .iter()
                .any(|f| f.lab == p.lab && f.reception == p.reception)
            {
                continue;
            }
            found.push(PrintedBefore {
                lab: p.lab.clone(),
                reception: p.reception.clone(),
                at: p.at.clone(),
                how: how.into(),
                distance,
            });
        }
        if let Some(h) = embedded.get(image) {
            for r in &h.entries {
                if found
                    .iter()
                    .any(|f| f.lab == r.site && f.reception == r.reception_number)
                {
                    continue;
                }
                found.push(PrintedBefore {
                    lab: r.site.clone(),
                    reception: r.reception_number.clone(),
                    at: r.date.to_string(),
                    how: "embedded_history".into(),
                    distance: None,
                });
            }
        }
        if !found.is_empty() {
            out.insert(image.clone(), found);
        }
    }
    Ok(out)
}

/// The user's photos, newest first, each with its earlier prints.
pub async fn images_of(state: &AppState, user: &User) -> AppResult<Vec<ImageView>> {
    type Row = (String, String, i64, i64, i64, String, Option<String>, i64);
    let rows: Vec<Row> = db::fetch(
        &state.store,
        "SELECT image, name, bytes, width, height, format, phash, created_ms FROM gw_images
         WHERE account = $1 ORDER BY created_ms DESC, image LIMIT 1000",
        &[Arg::Text(user.id.clone())],
    )
    .await?;
    let keys: Vec<(String, Option<String>)> =
        rows.iter().map(|r| (r.0.clone(), r.6.clone())).collect();
    let mut printed = printed_before(state, &user.id, &keys).await?;
    Ok(rows
        .into_iter()
        .map(
            |(image, name, bytes, width, height, format, _, created_ms)| {
                let (w, h) = (
                    u32::try_from(width).unwrap_or(0),
                    u32::try_from(height).unwrap_or(0),
                );
                ImageView {
                    name,
                    bytes: u64::try_from(bytes).unwrap_or(0),
                    width: w,
                    height: h,
                    format,
                    sizes_ok: PrintSize::ALL
                        .iter()
                        .filter(|s| **s != PrintSize::Index && s.has_enough_pixels(w, h, 300))
                        .map(|s| s.code().to_string())
                        .collect(),
                    uploaded_at: super::ms_to_rfc3339(created_ms),
                    printed: printed.remove(&image).unwrap_or_default(),
                    image,
                }
            },
        )
        .collect())
}

/// The user's images.
#[utoipa::path(get, path = "/api/v1/images", responses((status = 200, body = Vec<ImageView>)))]
pub async fn list_images(
    State(state): State<AppState>,
    user: User,
) -> AppResult<Json<Vec<ImageView>>> {
    Ok(Json(images_of(&state, &user).await?))
}

#[derive(Debug, Deserialize)]
pub struct DownloadQuery {
    /// `zip` for the ZIP container with history.json; default: the image with its history
    /// embedded (XMP).
    #[serde(default)]
    pub format: Option<String>,
}

pub(crate) async fn owned_image(
    state: &AppState,
    user: &User,
    image: &str,
) -> AppResult<(String, String)> {
    let id = ImageId::parse(image).map_err(|_| AppError::NotFound(format!("image {image}")))?;
    db::fetch_one(
        &state.store,
        "SELECT image, name FROM gw_images WHERE account = $1 AND image = $2",
        &[Arg::Text(user.id.clone()), Arg::Text(id.to_hex())],
    )
    .await?
    .ok_or_else(|| AppError::NotFound(format!("image {image}")))
}

pub(crate) async fn read_image(state: &AppState, hash: &str) -> AppResult<Vec<u8>> {
    let mut buf = Vec::new();
    state.images.copy_to(hash, &mut buf).await?;
    Ok(buf)
}

/// The print history of an image, from the slips of the user's orders that printed it. An
/// order that was cancelled or rejected made no print, slip or not: it is never history (nor
/// evidence for a repeat-order discount).
pub(crate) async fn history_of(
    state: &AppState,
    user: &User,
    image: &str,
) -> AppResult<reprint_media::PrintHistory> {
    let rows: Vec<(Option<String>, Option<String>, Option<String>)> = db::fetch(
        &state.store,
        "SELECT lab, slip_json, items_json FROM gw_orders WHERE account = $1 AND slip_json IS NOT NULL
         AND stage NOT IN ($2, $3) ORDER BY submitted_ms",
        &[
            Arg::Text(user.id.clone()),
            Arg::Text(Stage::Cancelled.as_str().to_string()),
            Arg::Text(Stage::Rejected.as_str().to_string()),
        ],
    )
    .await?;
    let mut history = reprint_media::PrintHistory::new();
    for (lab, slip_json, items_json) in rows {
        let items: Vec<ItemRecord> = items_json
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        if !items.iter().any(|i| i.image == image) {
            continue;
        }
        let Some(slip) = slip_json.and_then(|s| serde_json::from_str::<Value>(&s).ok()) else {
            continue;
        };
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        let registration = text(slip.get("registration_number"));
        let reception = text(slip.pointer("/reception/number"));
        let date = text(slip.pointer("/reception/received_at"))
            .and_then(|d| chrono::DateTime::parse_from_rfc3339(&d).ok())
            .map(|d| d.date_naive());
        if let (Some(registration_number), Some(reception_number), Some(date)) =
            (registration, reception, date)
        {
            let _ = history.push(reprint_media::PrintRecord {
                site: lab.unwrap_or_default(),
                registration_number,
                reception_number,
                date,
            });
        }
    }
    Ok(history)
}

/// Download an image with its print history embedded (XMP), or as the ZIP container
/// (`?format=zip`) (seed 004; claim 15 f-g). `Content-Disposition` names the file as uploaded,
/// in ASCII (`filename`) and in UTF-8 (`filename*`), without control or bidirectional characters.
#[utoipa::path(get, path = "/api/v1/images/{image}", params(("image" = String, Path), ("format" = Option<String>, Query)),
    responses((status = 200, description = "the image bytes or a ZIP"),
        (status = 404, description = "no such image of this user")))]
pub async fn download_image(
    State(state): State<AppState>,
    user: User,
    Path(image): Path<String>,
    Query(q): Query<DownloadQuery>,
) -> AppResult<Response> {
    let (hash, name) = owned_image(&state, &user, &image).await?;
    let bytes = read_image(&state, &hash).await?;
    let history = history_of(&state, &user, &hash).await?;
    let zip = q.format.as_deref() == Some("zip");
    let (body, mime, filename) =
        tokio::task::spawn_blocking(move || -> AppResult<(Vec<u8>, String, String)> {
            if zip {
                let z = reprint_media::history::container::container_bytes(&name, &bytes, &history)
                    .map_err(crate::error::media_error)?;
                Ok((z, "application/zip".into(), format!("{name}.zip")))
            } else {
                let mime = reprint_media::validate::sniff(&bytes)
                    .map_or("application/octet-stream", |f| f.mime());
                let out = if history.is_empty() {
                    bytes
                } else {
                    reprint_media::history::xmp::write_history(&bytes, &history).unwrap_or(bytes)
                };
                Ok((out, mime.to_string(), name))
            }
        })
        .await
        .map_err(AppError::internal)??;
    let disposition = attachment(&filename);
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// Characters a download's name never carries: controls (C0, DEL, C1), the bidirectional
/// overrides, embeddings, isolates and marks (an `exe.jpg` shown as `gpj.exe`), and invisible
/// formatting (zero-width spaces and joiners, the word joiner, the byte-order mark).
fn unsafe_in_name(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// What RFC 8187 (`filename*`, after RFC 5987) lets through unencoded: `attr-char`, letters and
/// digits and ``!#$&+-.^_`|~``; every other byte of the UTF-8 name is percent-encoded.
const ATTR_CHAR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `Content-Disposition` of a download named `name` (RFC 6266): `attachment`, an ASCII
/// `filename=` for old clients (every other character `_`) and `filename*=UTF-8''...` with the
/// name itself, percent-encoded. Control, bidirectional and invisible characters are dropped
/// and path separators become `_`, in both; an empty name becomes `image`.
pub fn attachment(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| !unsafe_in_name(*c))
        .map(|c| if matches!(c, '/' | '\\') { '_' } else { c })
        .collect();
    let clean = clean.trim();
    let clean = if clean.is_empty() || clean.chars().all(|c| c == '.') {
        "image"
    } else {
        clean
    };
    let ascii: String = clean
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '%' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(clean, ATTR_CHAR);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// A small JPEG preview of an image (EXIF orientation applied), built once per content and
/// size and then served from the cache ([`crate::thumbs`]).
pub async fn thumbnail(
    State(state): State<AppState>,
    user: User,
    Path(image): Path<String>,
) -> AppResult<Response> {
    let (hash, _) = owned_image(&state, &user, &image).await?;
    let edge = crate::thumbs::ALBUM_EDGE;
    let thumb = match crate::thumbs::get(&state.store, &hash, edge).await? {
        Some(t) => t,
        None => {
            let (thumb, history) =
                crate::thumbs::build_with_history(&state, edge, read_image(&state, &hash)).await?;
            if let Err(e) =
                crate::thumbs::put_history(&state.store, &hash, &history, state.now_ms()).await
            {
                tracing::warn!(image = %hash, error = %e, "embedded print history not kept");
            }
            if let Err(e) =
                crate::thumbs::put(&state.store, &hash, edge, &thumb, state.now_ms()).await
            {
                // The preview is still good for this response; the next one builds it again.
                tracing::warn!(image = %hash, error = %e, "thumbnail not cached");
            }
            thumb
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "private, max-age=86400"),
        ],
        thumb,
    )
        .into_response())
}

/// Deletes a photo from the user's album: refused (409 `in_use`) while an order that is not
/// finished (placed and not yet collected, cancelled or rejected) prints it. The stored bytes
/// stay where orders may still ask for them (they are shared by content); the photo no longer
/// counts towards the user's storage.
pub async fn delete_image(state: &AppState, user: &User, image: &str) -> AppResult<()> {
    let (hash, name) = owned_image(state, user, image).await?;
    let open: Vec<(String, Option<String>)> = db::fetch(
        &state.store,
        "SELECT id, items_json FROM gw_orders WHERE account = $1 AND submitted_ms IS NOT NULL
         AND stage NOT IN ($2, $3, $4, $5)",
        &[
            Arg::Text(user.id.clone()),
            Arg::Text(Stage::Collected.as_str().into()),
            Arg::Text(Stage::Settled.as_str().into()),
            Arg::Text(Stage::Cancelled.as_str().into()),
            Arg::Text(Stage::Rejected.as_str().into()),
        ],
    )
    .await?;
    let in_use = open.iter().any(|(_, items)| {
        items
            .as_deref()
            .and_then(|s| serde_json::from_str::<Vec<ItemRecord>>(s).ok())
            .is_some_and(|items| items.iter().any(|i| i.image == hash))
    });
    if in_use {
        return Err(AppError::conflict(
            "in_use",
            format!(
                "{name} is in an order that is not finished yet; it can be deleted once the prints are collected or the order is cancelled"
            ),
        ));
    }
    let event = crate::events::ImageEvent::Deleted {
        account: user.id.clone(),
        image: hash.clone(),
        at_ms: state.now_ms(),
    };
    let mut tx = state.store.begin().await?;
    tx.append(
        &crate::events::image_stream(&user.id, &hash),
        reprint_eventstore::ExpectedVersion::Any,
        &crate::state::to_new(std::slice::from_ref(&event))?,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::attachment;

    #[test]
    fn a_download_name_is_ascii_and_utf8_without_controls_or_overrides() {
        let d = attachment("写真\u{202E}gpj.exe\r\n\"x\"%.jpg");
        assert_eq!(
            d,
            "attachment; filename=\"__gpj.exe_x__.jpg\"; \
             filename*=UTF-8''%E5%86%99%E7%9C%9Fgpj.exe%22x%22%25.jpg"
        );
        assert_eq!(
            attachment("../\u{200F}"),
            "attachment; filename=\".._\"; filename*=UTF-8''.._"
        );
        assert_eq!(
            attachment("\u{202E}\u{0007}"),
            "attachment; filename=\"image\"; filename*=UTF-8''image"
        );
    }
}
