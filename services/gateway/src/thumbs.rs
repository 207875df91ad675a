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
    let _permit = state
        .media
        .thumbnails
        .acquire()
        .await
        .map_err(crate::error::AppError::internal)?;
    let bytes = bytes.await?;
    let limits = state.config.storage.image_limits();
    tokio::task::spawn_blocking(move || {
        reprint_media::thumbnail::thumbnail_jpeg(&bytes, edge, ALBUM_QUALITY, &limits)
    })
    .await
    .map_err(crate::error::AppError::internal)?
    .map_err(crate::error::media_error)
}
