//! Thumbnails of a reception's prints as they will come out (the item's edits, cropped to its
//! paper), and the preflight of each (too few pixels for the paper, a colour profile ignored):
//! rendered with `reprint_media::render_print` at screen size, behind the lab's render permits
//! and held to the media limits (the decoded-bytes limit among them), kept in a small cache.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use reprint_domain::protocol::{OrderPlaced, PlacedItem};
use reprint_media::edit::EditList;
use reprint_media::render::{PrintSize as Paper, PrintSpec, RenderWarning, render_print};
use reprint_media::{Limits, PrintHistory};

use super::Op;
use crate::error::{LabError, LabResult};
use crate::state::Lab;

/// The long side of a thumbnail in pixels.
const EDGE: u32 = 320;
/// Thumbnails kept (about 20 KB each).
const KEPT: usize = 512;

/// A print as previewed: the thumbnail and what the operator should know.
#[derive(Clone)]
pub struct Preview {
    pub jpeg: Vec<u8>,
    pub warnings: Vec<RenderWarning>,
}

type Key = (String, String, String);

struct Cache {
    map: HashMap<Key, Preview>,
    order: VecDeque<Key>,
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(|| {
        Mutex::new(Cache {
            map: HashMap::new(),
            order: VecDeque::new(),
        })
    })
}

pub fn routes() -> Router<Lab> {
    Router::new().route("/receptions/{number}/prints/{index}", get(thumbnail))
}

/// The preview of one item of an order (from the cache, else rendered).
pub async fn preview(lab: &Lab, item: &PlacedItem) -> LabResult<Preview> {
    let key = (
        item.image.to_hex(),
        item.size.code().to_string(),
        item.edits.clone().unwrap_or_default(),
    );
    if let Ok(c) = cache().lock()
        && let Some(p) = c.map.get(&key)
    {
        return Ok(p.clone());
    }
    let edits: EditList = match &item.edits {
        Some(e) if !e.trim().is_empty() && e.trim() != "null" => serde_json::from_str(e)
            .map_err(|e| LabError::Conflict(format!("edits of {}: {e}", item.name)))?,
        _ => EditList::default(),
    };
    let (short_um, long_um) = item.size.micrometres();
    let dpi = ((f64::from(EDGE) * 25_400.0 / f64::from(long_um)).round() as u32).clamp(72, 2400);
    let mut spec = PrintSpec::new(
        Paper {
            width_mm: short_um as f32 / 1000.0,
            height_mm: long_um as f32 / 1000.0,
        },
        dpi,
    );
    spec.jpeg_quality = 80;
    let bytes = crate::production::fetch_image(lab, &item.image.to_hex()).await?;
    // The semaphore is never closed, so acquiring only waits for a free slot.
    let slot = lab
        .render_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| LabError::Internal(format!("render slots: {e}")))?;
    let rendered = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        render_print(
            &bytes,
            &edits,
            &spec,
            None,
            &PrintHistory::new(),
            &Limits::default(),
        )
    })
    .await
    .map_err(|e| LabError::Internal(format!("thumbnail task: {e}")))?
    .map_err(|e| {
        LabError::Conflict(format!(
            "image {} ({}) cannot be printed: {e}",
            item.name,
            item.image.short()
        ))
    })?;
    let p = Preview {
        jpeg: rendered.jpeg,
        warnings: rendered.warnings,
    };
    if let Ok(mut c) = cache().lock() {
        if c.map.insert(key.clone(), p.clone()).is_none() {
            c.order.push_back(key);
        }
        while c.order.len() > KEPT {
            if let Some(old) = c.order.pop_front() {
                c.map.remove(&old);
            }
        }
    }
    Ok(p)
}

/// The order as placed of reception `number`.
pub async fn order_of(lab: &Lab, number: &str) -> LabResult<OrderPlaced> {
    let mut tx = lab.store.begin().await?;
    let row = crate::db::production_by_reception(&mut tx, &number.to_ascii_uppercase()).await?;
    tx.commit().await?;
    let row =
        row.ok_or_else(|| LabError::NotFound(format!("no reception {number} at this lab")))?;
    serde_json::from_str(&row.order_json)
        .map_err(|e| LabError::Internal(format!("stored order of {number}: {e}")))
}

/// `GET /receptions/{number}/prints/{index}`: the thumbnail of the order's item `index`.
async fn thumbnail(
    State(lab): State<Lab>,
    _op: Op,
    Path((number, index)): Path<(String, String)>,
) -> Response {
    let result = async {
        let index: usize = index
            .trim_end_matches(".jpg")
            .parse()
            .map_err(|_| LabError::NotFound(format!("no print {index}")))?;
        let order = order_of(&lab, &number).await?;
        let item = order
            .items
            .get(index)
            .ok_or_else(|| LabError::NotFound(format!("no print {index} in {number}")))?;
        preview(&lab, item).await
    }
    .await;
    match result {
        Ok(p) => (
            [
                (header::CONTENT_TYPE, "image/jpeg"),
                (header::CACHE_CONTROL, "private, max-age=3600"),
            ],
            p.jpeg,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// A warning in the operator's words.
pub fn warning_words(lang: reprint_ui::Lang, w: &RenderWarning) -> String {
    match w {
        RenderWarning::LowResolution {
            effective_dpi,
            minimum_dpi,
        } => reprint_ui::t_with(
            lang,
            "lab-warn-low-resolution",
            &[
                ("dpi", (*effective_dpi).into()),
                ("wanted", (*minimum_dpi).into()),
            ],
        ),
        RenderWarning::SourceProfileIgnored { reason } => reprint_ui::t_with(
            lang,
            "lab-warn-profile",
            &[("reason", reason.clone().into())],
        ),
    }
}
