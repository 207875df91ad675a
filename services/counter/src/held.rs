//! Cards held at the terminal between the intake's steps (read and checked, priced, then taken
//! in): kept in the counter's store and on the spool's disk, so that a restart of the terminal
//! between "Price it" and "Take in" loses nothing the customer handed over.
//!
//! A held card is a row of `counter_held_cards` (its token, when it was read, and the medium as
//! read: each image's path on the card, name, id and size, the card's print order and the
//! files left out) and a folder `<spool>/.held/<token>/` with each image's bytes (`<i>`) and
//! thumbnail (`thumb-<i>.jpg`). The images are hard-linked there from the staging directory
//! (copied where the disk does not link), so holding a card costs no second upload. A card is
//! held for an hour ([`HOLD_FOR`]), at most [`MAX_HELD`] at once (the oldest goes first), and
//! forgotten once taken in. A token is 32 hex digits (it names a folder; nothing else is read).
//!
//! The process keeps the cards it read or loaded in [`HeldCards`] (per counter, so a counter
//! started again in the same process starts empty and reads the store, as after a restart).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use reprint_domain::ImageId;
use reprint_eventstore::Store;
use reprint_eventstore::sql::{self, Arg};
use serde::{Deserialize, Serialize};

use crate::error::{CounterError, Result};
use crate::medium::{Chosen, Medium, MediumImage, Skipped};
use crate::state::Counter;

/// How long a card read at the counter waits to be taken in.
pub const HOLD_FOR: chrono::Duration = chrono::Duration::hours(1);
/// Cards held at once (the oldest goes first).
pub const MAX_HELD: usize = 16;

/// The thumbnails of a held card, one per image (`None` when it could not be made).
pub type ThumbList = Vec<Option<Vec<u8>>>;
/// [`ThumbList`] shared.
pub type Thumbs = Arc<ThumbList>;

const SCHEMA: &[&str] = &["CREATE TABLE IF NOT EXISTS counter_held_cards (
        token TEXT PRIMARY KEY,
        held_at TEXT NOT NULL,
        medium TEXT NOT NULL
    )"];

pub async fn migrate(store: &Store) -> Result<()> {
    sql::migrate(store, SCHEMA).await?;
    Ok(())
}

struct Held {
    medium: Arc<Medium>,
    thumbs: Thumbs,
    at: DateTime<Utc>,
}

/// The cards this process holds in memory (a cache of the store's).
#[derive(Default)]
pub struct HeldCards(Mutex<HashMap<String, Held>>);

impl std::fmt::Debug for HeldCards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeldCards")
    }
}

impl HeldCards {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The medium as the store keeps it.
#[derive(Serialize, Deserialize)]
struct StoredMedium {
    images: Vec<StoredImage>,
    dpof: Option<Vec<(usize, u32)>>,
    skipped: Vec<(String, String)>,
}

#[derive(Serialize, Deserialize)]
struct StoredImage {
    path: String,
    name: String,
    id: String,
    info: reprint_media::validate::ImageInfo,
}

fn is_token(token: &str) -> bool {
    token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

fn folder(counter: &Counter, token: &str) -> PathBuf {
    counter.spool.held_dir().join(token)
}

fn io(e: std::io::Error) -> CounterError {
    CounterError::Internal(format!("the counter could not keep the card on disk: {e}"))
}

/// `from` at `to`: linked where the disk allows, else copied.
fn link_or_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to)?;
    }
    Ok(())
}

/// Holds `medium` (read and checked, its images staged) with its thumbnails; returns its token.
pub async fn hold(counter: &Counter, medium: Medium, thumbs: ThumbList) -> Result<String> {
    let token = uuid::Uuid::new_v4().simple().to_string();
    let now = counter.clock.now();
    let dir = folder(counter, &token);
    let stored = StoredMedium {
        images: medium
            .images
            .iter()
            .map(|i| StoredImage {
                path: i.path.clone(),
                name: i.name.clone(),
                id: i.id.to_hex(),
                info: i.info,
            })
            .collect(),
        dpof: medium
            .dpof
            .as_ref()
            .map(|c| c.iter().map(|c| (c.image, c.quantity)).collect()),
        skipped: medium
            .skipped
            .iter()
            .map(|s| (s.path.clone(), s.reason.clone()))
            .collect(),
    };
    let json = serde_json::to_string(&stored)
        .map_err(|e| CounterError::Internal(format!("held card: {e}")))?;
    {
        let dir = dir.clone();
        let files: Vec<PathBuf> = medium
            .images
            .iter()
            .map(|i| i.staged.to_path_buf())
            .collect();
        let thumbs = thumbs.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            for (i, f) in files.iter().enumerate() {
                link_or_copy(f, &dir.join(i.to_string()))?;
            }
            for (i, t) in thumbs.iter().enumerate() {
                if let Some(t) = t {
                    std::fs::write(dir.join(format!("thumb-{i}.jpg")), t)?;
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| CounterError::Internal(format!("held card: {e}")))?
        .map_err(io)?;
    }
    let mut tx = counter.store.begin().await?;
    sql::exec(
        tx.conn(),
        "INSERT INTO counter_held_cards (token, held_at, medium) VALUES ($1, $2, $3)",
        &[
            Arg::from(token.clone()),
            Arg::from(sql::ts(now)),
            Arg::from(json),
        ],
    )
    .await?;
    tx.commit().await?;
    counter.held.lock().insert(
        token.clone(),
        Held {
            medium: Arc::new(medium),
            thumbs: Arc::new(thumbs),
            at: now,
        },
    );
    prune(counter, now).await;
    Ok(token)
}

/// Forgets the cards held over an hour, and the oldest beyond [`MAX_HELD`].
async fn prune(counter: &Counter, now: DateTime<Utc>) {
    let rows: Vec<(String, String)> = match async {
        let mut tx = counter.store.begin().await?;
        let rows = sql::fetch(
            tx.conn(),
            "SELECT token, held_at FROM counter_held_cards ORDER BY held_at DESC, token",
            &[],
        )
        .await?;
        tx.commit().await?;
        Ok::<_, CounterError>(rows)
    }
    .await
    {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the held cards");
            return;
        }
    };
    for (n, (token, at)) in rows.iter().enumerate() {
        let expired = sql::parse_ts(at).is_none_or(|at| now - at >= HOLD_FOR);
        if expired || n >= MAX_HELD {
            forget(counter, token).await;
        }
    }
}

/// The card held under `token` (from memory, else from the store and the spool's disk after
/// a restart); `None` when there is none or it was held over an hour.
pub async fn get(counter: &Counter, token: &str) -> Result<Option<(Arc<Medium>, Thumbs)>> {
    if !is_token(token) {
        return Ok(None);
    }
    let now = counter.clock.now();
    if let Some(h) = counter.held.lock().get(token) {
        return Ok((now - h.at < HOLD_FOR).then(|| (h.medium.clone(), h.thumbs.clone())));
    }
    let mut tx = counter.store.begin().await?;
    let row: Option<(String, String)> = sql::fetch_optional(
        tx.conn(),
        "SELECT held_at, medium FROM counter_held_cards WHERE token = $1",
        &[Arg::from(token)],
    )
    .await?;
    tx.commit().await?;
    let Some((at, json)) = row else {
        return Ok(None);
    };
    let Some(at) = sql::parse_ts(&at).filter(|at| now - *at < HOLD_FOR) else {
        forget(counter, token).await;
        return Ok(None);
    };
    let stored: StoredMedium = serde_json::from_str(&json)
        .map_err(|e| CounterError::Internal(format!("held card {token}: {e}")))?;
    let dir = folder(counter, token);
    let staging = counter.spool.staging();
    let loaded = tokio::task::spawn_blocking(move || load(&dir, &staging, stored))
        .await
        .map_err(|e| CounterError::Internal(format!("held card: {e}")))?;
    let (medium, thumbs) = match loaded {
        Ok(m) => m,
        Err(e) => {
            // Its files are gone (a spool cleared by hand): the card is not held any more.
            tracing::warn!(%token, error = %e, "a held card's files cannot be read; forgotten");
            forget(counter, token).await;
            return Ok(None);
        }
    };
    let medium = Arc::new(medium);
    let thumbs = Arc::new(thumbs);
    counter.held.lock().insert(
        token.to_string(),
        Held {
            medium: medium.clone(),
            thumbs: thumbs.clone(),
            at,
        },
    );
    Ok(Some((medium, thumbs)))
}

/// The medium from its folder: each image linked into the staging directory again (the
/// staged copy goes when the medium does; the held one stays until the card is forgotten).
fn load(
    dir: &Path,
    staging: &Path,
    stored: StoredMedium,
) -> std::result::Result<(Medium, ThumbList), String> {
    let mut images = Vec::with_capacity(stored.images.len());
    let mut thumbs = Vec::with_capacity(stored.images.len());
    for (i, s) in stored.images.into_iter().enumerate() {
        let staged = staging.join(format!("held-{}", uuid::Uuid::new_v4().simple()));
        link_or_copy(&dir.join(i.to_string()), &staged).map_err(|e| e.to_string())?;
        images.push(MediumImage {
            path: s.path,
            name: s.name,
            staged: tempfile::TempPath::try_from_path(staged).map_err(|e| e.to_string())?,
            id: ImageId::parse(&s.id).map_err(|e| e.to_string())?,
            info: s.info,
        });
        thumbs.push(std::fs::read(dir.join(format!("thumb-{i}.jpg"))).ok());
    }
    let medium = Medium {
        images,
        dpof: stored.dpof.map(|c| {
            c.into_iter()
                .map(|(image, quantity)| Chosen { image, quantity })
                .collect()
        }),
        skipped: stored
            .skipped
            .into_iter()
            .map(|(path, reason)| Skipped { path, reason })
            .collect(),
    };
    Ok((medium, thumbs))
}

/// Forgets the card held under `token` (taken in, replaced by another, or too old).
pub async fn forget(counter: &Counter, token: &str) {
    if !is_token(token) {
        return;
    }
    counter.held.lock().remove(token);
    let result = async {
        let mut tx = counter.store.begin().await?;
        sql::exec(
            tx.conn(),
            "DELETE FROM counter_held_cards WHERE token = $1",
            &[Arg::from(token)],
        )
        .await?;
        tx.commit().await?;
        Ok::<_, CounterError>(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(%token, error = %e, "cannot forget a held card");
    }
    let dir = folder(counter, token);
    if let Err(e) = tokio::fs::remove_dir_all(&dir).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(%token, error = %e, "cannot remove a held card's files");
    }
}
