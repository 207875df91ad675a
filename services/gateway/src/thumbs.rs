//! The thumbnail cache: small JPEG previews kept in the store's own table `gw_thumbnails`,
//! keyed by image content hash and edge size, so the album does not decode and resize the
//! full image (up to 100 MB) on every page view.
//!
//! Keyed by content, not by account: two users with the same photo share its preview, which
//! is safe because every request is checked for ownership of the image before the cache is
//! read. Rows are immutable (same key, same bytes), so a write is `ON CONFLICT DO NOTHING`
//! and two requests that build the same missing preview at once both succeed.

use reprint_eventstore::sql::{self, Arg};
use reprint_eventstore::{Backend, Conn, Store};

use crate::error::AppResult;

/// The edge (pixels) and JPEG quality of the album's previews.
pub const ALBUM_EDGE: u32 = 320;
pub const ALBUM_QUALITY: u8 = 80;

/// Creates the cache table (idempotent); the column type of the bytes differs per database.
pub async fn migrate(store: &Store) -> AppResult<()> {
    let blob = match store.backend() {
        Backend::Postgres => "BYTEA",
        Backend::Sqlite => "BLOB",
    };
    let mut tx = store.begin().await?;
    sql::exec(
        tx.conn(),
        &format!(
            "CREATE TABLE IF NOT EXISTS gw_thumbnails (
                image TEXT NOT NULL, edge BIGINT NOT NULL, jpeg {blob} NOT NULL,
                created_ms BIGINT NOT NULL, PRIMARY KEY (image, edge))"
        ),
        &[],
    )
    .await?;
    // The print history embedded in an image (XMP), read once when its preview is built: the
    // album's "printed before" by embedded history. `history_json` is `[]` for none.
    sql::exec(
        tx.conn(),
        "CREATE TABLE IF NOT EXISTS gw_image_history (
            image TEXT PRIMARY KEY, history_json TEXT NOT NULL, created_ms BIGINT NOT NULL)",
        &[],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The print history embedded in each of `images` (content hashes) that has been looked at.
pub async fn embedded_histories(
    store: &Store,
    images: &[String],
) -> AppResult<std::collections::HashMap<String, reprint_media::PrintHistory>> {
    let mut out = std::collections::HashMap::new();
    for chunk in images.chunks(200) {
        if chunk.is_empty() {
            continue;
        }
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let rows: Vec<(String, String)> = crate::db::fetch(
            store,
            &format!(
                "SELECT image, history_json FROM gw_image_history WHERE history_json <> '[]' AND image IN ({})",
                marks.join(", ")
            ),
            &chunk.iter().map(|i| Arg::from(i.as_str())).collect::<Vec<_>>(),
        )
        .await?;
        for (image, json) in rows {
            if let Ok(entries) = serde_json::from_str::<Vec<reprint_media::PrintRecord>>(&json) {
                let mut h = reprint_media::PrintHistory::new();
                for e in entries {
                    let _ = h.push(e);
                }
                out.insert(image, h);
            }
        }
    }
    Ok(out)
}

/// Keeps what an image's embedded history says (a no-op when kept before).
pub async fn put_history(
    store: &Store,
    image: &str,
    history: &reprint_media::PrintHistory,
    now_ms: i64,
) -> AppResult<()> {
    let json = serde_json::to_string(&history.entries).map_err(crate::error::AppError::internal)?;
    let mut tx = store.begin().await?;
    sql::exec(
        tx.conn(),
        "INSERT INTO gw_image_history (image, history_json, created_ms) VALUES ($1, $2, $3)
         ON CONFLICT (image) DO NOTHING",
        &[Arg::from(image), Arg::from(json), Arg::from(now_ms)],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

const SELECT: &str = "SELECT jpeg FROM gw_thumbnails WHERE image = $1 AND edge = $2";

/// The cached preview of `image` at `edge`, if built before.
pub async fn get(store: &Store, image: &str, edge: u32) -> AppResult<Option<Vec<u8>>> {
    let args = [Arg::from(image), Arg::from(i64::from(edge))];
    Ok(crate::db::fetch_one::<(Vec<u8>,)>(store, SELECT, &args)
        .await?
        .map(|(jpeg,)| jpeg))
}

/// Keeps a built preview (a no-op when another request kept it first).
pub async fn put(store: &Store, image: &str, edge: u32, jpeg: &[u8], now_ms: i64) -> AppResult<()> {
    const INSERT: &str =
        "INSERT INTO gw_thumbnails (image, edge, jpeg, created_ms) VALUES ($1, $2, $3, $4)
         ON CONFLICT (image, edge) DO NOTHING";
    let edge = i64::from(edge);
    let mut tx = store.begin().await?;
    match tx.conn() {
        Conn::Postgres(c) => {
            sqlx::query(INSERT)
                .bind(image)
                .bind(edge)
                .bind(jpeg)
                .bind(now_ms)
                .execute(&mut *c)
                .await?;
        }
        Conn::Sqlite(c) => {
            sqlx::query(INSERT)
                .bind(image)
                .bind(edge)
                .bind(jpeg)
                .bind(now_ms)
                .execute(&mut *c)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Builds the preview of an image at `edge` behind one of the thumbnail permits (taken before
/// the image's bytes are read, so N album pages opened at once cannot hold or decode N images
/// at once), on a blocking thread, held to the gateway's image limits: an image whose pixels
/// would take more than `max_decoded_bytes` is refused from its header (422), never opened.
pub async fn build(
    state: &crate::state::AppState,
    edge: u32,
    bytes: impl std::future::Future<Output = AppResult<Vec<u8>>>,
) -> AppResult<Vec<u8>> {
    Ok(build_with_history(state, edge, bytes).await?.0)
}

/// [`build`], and the print history embedded in the image (XMP; empty when none or unreadable).
pub async fn build_with_history(
    state: &crate::state::AppState,
    edge: u32,
    bytes: impl std::future::Future<Output = AppResult<Vec<u8>>>,
) -> AppResult<(Vec<u8>, reprint_media::PrintHistory)> {
    let _permit = state
        .media
        .thumbnails
        .acquire()
        .await
        .map_err(crate::error::AppError::internal)?;
    let bytes = bytes.await?;
    let limits = state.config.storage.image_limits();
    tokio::task::spawn_blocking(move || {
        let thumb = reprint_media::thumbnail::thumbnail_jpeg(&bytes, edge, ALBUM_QUALITY, &limits)?;
        let history = reprint_media::history::xmp::read_history(&bytes).unwrap_or_default();
        Ok::<_, reprint_media::MediaError>((thumb, history))
    })
    .await
    .map_err(crate::error::AppError::internal)?
    .map_err(crate::error::media_error)
}

/// The long side (pixels) of an edit preview, at most.
pub const PREVIEW_EDGE_MAX: u32 = 1200;

/// What the lab will print, at screen size: the original with `edits` rendered for `size` by
/// the lab's own render (`reprint_media::render::render_print`: fill, turned to the picture's
/// orientation, colour-managed from the image's embedded profile, here to sRGB), at a
/// resolution that makes the long side about `edge` pixels. Behind a thumbnail permit, held to
/// the gateway's image limits. Returns the JPEG and the print's dots per inch on paper.
///
/// With `proof` (a printer's ICC profile), soft-proofed through it
/// (`reprint_media::proof::soft_proof`): what the paper shows, the colours it cannot hold
/// hatched; then also the share of the picture out of the printer's gamut.
pub async fn build_preview(
    state: &crate::state::AppState,
    size: reprint_domain::PrintSize,
    edits: reprint_domain::edit::EditList,
    edge: u32,
    bytes: impl std::future::Future<Output = AppResult<Vec<u8>>>,
    proof: Option<Vec<u8>>,
) -> AppResult<(Vec<u8>, f32, Option<f64>)> {
    use reprint_media::render::{PrintSize as Paper, PrintSpec, render_print};
    let _permit = state
        .media
        .thumbnails
        .acquire()
        .await
        .map_err(crate::error::AppError::internal)?;
    let bytes = bytes.await?;
    let limits = state.config.storage.image_limits();
    let (short_um, long_um) = size.micrometres();
    let edge = edge.clamp(64, PREVIEW_EDGE_MAX);
    // dpi = edge / inches of the long side, within what a print spec takes.
    let dpi = ((f64::from(edge) * 25_400.0 / f64::from(long_um)).round() as u32).clamp(72, 2400);
    let mut spec = PrintSpec::new(
        Paper {
            width_mm: short_um as f32 / 1000.0,
            height_mm: long_um as f32 / 1000.0,
        },
        dpi,
    );
    spec.jpeg_quality = 85;
    tokio::task::spawn_blocking(move || {
        let print = render_print(
            &bytes,
            &edits,
            &spec,
            None,
            &reprint_media::PrintHistory::new(),
            &limits,
        )?;
        match proof {
            None => Ok((print.jpeg, print.effective_dpi, None)),
            Some(printer) => {
                use reprint_media::proof::{DEFAULT_THRESHOLD, soft_proof_jpeg};
                let (jpeg, p) =
                    soft_proof_jpeg(&print.jpeg, &printer, DEFAULT_THRESHOLD, 85, &limits)?;
                Ok((jpeg, print.effective_dpi, Some(p.out_of_gamut_fraction())))
            }
        }
    })
    .await
    .map_err(crate::error::AppError::internal)?
    .map_err(crate::error::media_error)
}
