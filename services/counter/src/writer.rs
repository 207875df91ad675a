//! The counter's writer: the digital copy of a walk-in order on a CD, a DVD or a USB stick
//! (seed 000, claims 2 and 18: "a digital media containing the image";
//! `reprint_domain::digital_media` prices it and decides its charge line).
//!
//! A counter with `[writer]` (a minilab's disc writer, a kiosk's USB port) offers the media it
//! names at intake, at their prices. When a walk-in order with a medium is taken in:
//!
//! 1. **Taken in** ([`stage`], then [`record`] in the intake's transaction): the originals of
//!    the order, as they came from the card, are copied to `<data_dir>/writer/<order>/` before
//!    the transaction; the job is noted in `counter_media_jobs` (`waiting`) in the same
//!    transaction as the reception, as the order for the lab is (an outbox of the counter's
//!    own). A crash before the commit leaves no job; after it, the job is written on restart.
//! 2. **Written** ([`run`]): one job folder per order, `<hot_folder>/<reception>-<medium>/`:
//!    `PHOTOS/<n>-<name>` (each original byte for byte), `digital-copy-<reception>.zip` (the same
//!    ZIP the gateway serves: per original its container with `history.json`,
//!    `reprint_media::history::digital_copy`) and `ticket.json` (what to burn, on which medium,
//!    the volume label, each file's SHA-256). It is built under a temporary name and renamed
//!    when whole, so the writer's station never sees half a job; a folder already there for
//!    this order (written before a crash, not yet recorded) is taken as written, never written
//!    twice (`written`). An original that cannot be read leaves the job `failed` with the
//!    reason; a hot folder that cannot be written to is tried again.
//! 3. **Withdrawn**: an order cancelled here or rejected by the lab has its job withdrawn
//!    ([`withdraw`] in that transaction): the folder is removed if the station has not taken
//!    it (no `TAKEN` or `DONE` marker), else voided (`VOID` with the reason).
//! 4. **Burned**: the station takes the folder from there (as the printer's station does with
//!    print jobs). Staff see the job's state in words where the order is shown (the slip, the
//!    pickup page).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reprint_domain::digital_media::{self, DigitalMedium};
use reprint_domain::{Currency, Money, OrderItem};
use reprint_eventstore::sql::{self, Arg, ts};
use reprint_eventstore::{Store, Transaction};
use reprint_media::history::digital_copy::{self, Original};
use reprint_media::{PrintHistory, PrintRecord};
use reprint_service::shutdown::Shutdown;
use serde::{Deserialize, Serialize};

use crate::error::CounterError;
use crate::medium::Medium;
use crate::state::Counter;

/// `[writer]`: the counter's disc or USB writer.
///
/// ```toml
/// [writer]
/// name = "Ginza disc and USB writer"
/// hot_folder = "/var/spool/writer/in"
/// media = { cd = 500, usb_stick = 1200 }   # yen; a medium not named is not sold
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriterConfig {
    pub name: String,
    /// Where the writer's station reads its jobs; absent: `<data_dir>/writer`.
    #[serde(default)]
    pub hot_folder: PathBuf,
    /// The media it writes and their prices in minor units of the site's currency: `cd`,
    /// `dvd`, `usb_stick`.
    pub media: BTreeMap<String, i64>,
}

impl WriterConfig {
    /// The media and their prices, refused in words naming the key.
    pub fn prices(
        &self,
        currency: Currency,
    ) -> Result<BTreeMap<DigitalMedium, Money>, CounterError> {
        if self.name.trim().is_empty() {
            return Err(CounterError::Config(
                "writer.name: must not be empty".into(),
            ));
        }
        if self.media.is_empty() {
            return Err(CounterError::Config(
                "writer.media: name the media it writes and their prices, e.g. { cd = 500, usb_stick = 1200 }"
                    .into(),
            ));
        }
        let mut out = BTreeMap::new();
        for (code, price) in &self.media {
            let medium = DigitalMedium::parse(code)
                .map_err(|e| CounterError::Config(format!("writer.media.{code}: {e}")))?;
            if *price < 0 {
                return Err(CounterError::Config(format!(
                    "writer.media.{code}: {price} is not a price (0 or more, minor units)"
                )));
            }
            out.insert(medium, Money::new(*price, currency));
        }
        Ok(out)
    }
}

const SCHEMA: &[&str] = &[
    // One row per order with a medium; `state`: waiting, written, failed.
    "CREATE TABLE IF NOT EXISTS counter_media_jobs (
        order_id TEXT PRIMARY KEY,
        reception_number TEXT NOT NULL,
        registration_number TEXT NOT NULL,
        medium TEXT NOT NULL,
        originals TEXT NOT NULL,
        state TEXT NOT NULL,
        folder TEXT,
        note TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS counter_media_jobs_state ON counter_media_jobs (state, created_at)",
];

/// Creates the table (and the hot folder of `[writer]` when there is one).
pub async fn migrate(store: &Store, writer: Option<&WriterConfig>) -> Result<(), CounterError> {
    if let Some(w) = writer {
        std::fs::create_dir_all(&w.hot_folder).map_err(|e| {
            CounterError::Config(format!(
                "writer.hot_folder {}: cannot be created: {e}",
                w.hot_folder.display()
            ))
        })?;
    }
    sql::migrate(store, SCHEMA).await?;
    Ok(())
}

/// One original of a job: its content hash (its file in the job's staging) and its name on the
/// card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobOriginal {
    pub image: String,
    pub name: String,
}

/// A job as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub order_id: String,
    pub reception_number: String,
    pub registration_number: String,
    pub medium: String,
    pub originals: String,
    pub state: String,
    pub folder: Option<String>,
    pub note: String,
    pub created_at: String,
    pub updated_at: String,
}

impl JobRow {
    pub fn medium(&self) -> Option<DigitalMedium> {
        DigitalMedium::parse(&self.medium).ok()
    }
}

const COLS: &str = "SELECT order_id, reception_number, registration_number, medium, originals, \
    state, folder, note, created_at, updated_at FROM counter_media_jobs";

/// Where the originals of an order wait for its job.
fn staging_dir(c: &Counter, order: &str) -> PathBuf {
    c.config.data_dir.join("writer").join(order)
}

/// The order's originals (each image once, in the order's order), as they came from the card.
pub fn originals(medium: &Medium, items: &[OrderItem]) -> Vec<JobOriginal> {
    let mut seen = std::collections::HashSet::new();
    items
        .iter()
        .filter(|i| seen.insert(i.image))
        .map(|i| JobOriginal {
            image: i.image.to_hex(),
            name: medium
                .images
                .iter()
                .find(|m| m.id == i.image)
                .map(|m| m.name.clone())
                .unwrap_or_else(|| i.name.clone()),
        })
        .collect()
}

/// Step 1, before the intake's transaction: the originals copied to the job's staging.
pub async fn stage(
    c: &Counter,
    order: &str,
    medium: &Medium,
    originals: &[JobOriginal],
) -> Result<(), CounterError> {
    let dir = staging_dir(c, order);
    tokio::fs::create_dir_all(&dir).await?;
    for o in originals {
        let Some(img) = medium.images.iter().find(|m| m.id.to_hex() == o.image) else {
            continue;
        };
        let path = dir.join(&o.image);
        if tokio::fs::hard_link(&img.staged, &path).await.is_err() {
            tokio::fs::copy(&img.staged, &path).await?;
        }
    }
    Ok(())
}

/// Step 1, in the intake's transaction: the job noted, `waiting`.
pub async fn record(
    tx: &mut Transaction,
    order: &str,
    reception: &str,
    registration: &str,
    medium: DigitalMedium,
    originals: &[JobOriginal],
    now: DateTime<Utc>,
) -> Result<(), CounterError> {
    let list =
        serde_json::to_string(originals).map_err(|e| CounterError::Internal(e.to_string()))?;
    sql::exec(
        tx.conn(),
        "INSERT INTO counter_media_jobs (order_id, reception_number, registration_number, medium, \
         originals, state, note, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'waiting', '', \
         $6, $6) ON CONFLICT (order_id) DO NOTHING",
        &[
            Arg::from(order),
            Arg::from(reception),
            Arg::from(registration),
            Arg::from(medium.code()),
            Arg::from(list),
            Arg::from(ts(now)),
        ],
    )
    .await?;
    Ok(())
}

/// The job of an order, when it has one.
pub async fn for_order(c: &Counter, order: &str) -> Result<Option<JobRow>, CounterError> {
    let mut tx = c.store.begin().await?;
    let row = sql::fetch_optional(
        tx.conn(),
        &format!("{COLS} WHERE order_id = $1"),
        &[Arg::from(order)],
    )
    .await?;
    tx.rollback().await?;
    Ok(row)
}

async fn in_state(c: &Counter, state: &str) -> Result<Vec<JobRow>, CounterError> {
    let mut tx = c.store.begin().await?;
    let rows = sql::fetch(
        tx.conn(),
        &format!("{COLS} WHERE state = $1 ORDER BY created_at LIMIT 20"),
        &[Arg::from(state)],
    )
    .await?;
    tx.rollback().await?;
    Ok(rows)
}

async fn set_state(
    c: &Counter,
    order: &str,
    state: &str,
    folder: Option<&str>,
    note: &str,
) -> Result<(), CounterError> {
    let mut tx = c.store.begin().await?;
    sql::exec(
        tx.conn(),
        "UPDATE counter_media_jobs SET state = $1, folder = COALESCE($2, folder), note = $3, \
         updated_at = $4 WHERE order_id = $5 AND state = 'waiting'",
        &[
            Arg::from(state),
            Arg::from(folder.map(str::to_string)),
            Arg::from(note),
            Arg::from(ts(c.clock.now())),
            Arg::from(order),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The order was cancelled here or rejected by the lab, in the transaction that says so: its
/// job is to be withdrawn (`withdrawing`), by the writer task ([`step`]).
pub async fn withdraw(tx: &mut Transaction, order: &str, reason: &str) -> Result<(), CounterError> {
    sql::exec(
        tx.conn(),
        "UPDATE counter_media_jobs SET state = 'withdrawing', note = $1 WHERE order_id = $2 \
         AND state IN ('waiting', 'written')",
        &[Arg::from(reason), Arg::from(order)],
    )
    .await?;
    Ok(())
}

/// Withdraws a job from the hot folder: removed when the writer's station has not taken it
/// (no `TAKEN` or `DONE` marker), else a `VOID` marker with the reason (take the disc out).
async fn take_back(c: &Counter, writer: &WriterConfig, row: &JobRow) -> Result<(), CounterError> {
    if let Some(medium) = row.medium() {
        let dir = writer
            .hot_folder
            .join(folder_name(&row.reception_number, medium));
        if tokio::fs::try_exists(&dir).await? {
            let taken = tokio::fs::try_exists(dir.join(reprint_print::TAKEN_MARKER)).await?
                || tokio::fs::try_exists(dir.join(reprint_print::DONE_MARKER)).await?;
            if taken {
                tokio::fs::write(
                    dir.join(reprint_print::VOID_MARKER),
                    format!("do not hand over: {}\n", row.note),
                )
                .await?;
            } else {
                tokio::fs::remove_dir_all(&dir).await?;
            }
        }
    }
    let _ = tokio::fs::remove_dir_all(staging_dir(c, &row.order_id)).await;
    let mut tx = c.store.begin().await?;
    sql::exec(
        tx.conn(),
        "UPDATE counter_media_jobs SET state = 'withdrawn', updated_at = $1 WHERE order_id = $2 \
         AND state = 'withdrawing'",
        &[
            Arg::from(ts(c.clock.now())),
            Arg::from(row.order_id.clone()),
        ],
    )
    .await?;
    tx.commit().await?;
    tracing::info!(order = %row.order_id, "digital copy withdrawn from the writer");
    Ok(())
}

/// How often waiting jobs are written.
pub const EVERY: Duration = Duration::from_millis(300);

/// Writes the waiting jobs into the hot folder until shutdown (step 2). Does nothing on a
/// counter without a writer.
pub async fn run(c: std::sync::Arc<Counter>, shutdown: Shutdown) {
    if c.config.writer.is_none() {
        // A part of the service that ends stops the service: wait for the shutdown.
        shutdown.wait().await;
        return;
    }
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.clone().wait() => break,
            _ = tick.tick() => {}
        }
        if let Err(e) = step(&c).await {
            tracing::warn!(error = %e, "writer");
        }
    }
}

/// One pass over the waiting jobs.
pub async fn step(c: &Counter) -> Result<(), CounterError> {
    let Some(writer) = c.config.writer.as_ref() else {
        return Ok(());
    };
    for row in in_state(c, "waiting").await? {
        match write(c, writer, &row).await {
            Ok(folder) => {
                set_state(c, &row.order_id, "written", Some(&folder), "").await?;
                let _ = tokio::fs::remove_dir_all(staging_dir(c, &row.order_id)).await;
                tracing::info!(order = %row.order_id, folder, "digital copy written for the writer");
            }
            Err(Failure::Job(why)) => {
                tracing::warn!(order = %row.order_id, why, "digital copy cannot be written");
                set_state(c, &row.order_id, "failed", None, &why).await?;
            }
            Err(Failure::Retry(e)) => {
                tracing::warn!(order = %row.order_id, error = %e, "digital copy not written yet; retrying");
            }
        }
    }
    // After the writing: a job written in this pass for an order cancelled meanwhile goes too.
    for row in in_state(c, "withdrawing").await? {
        if let Err(e) = take_back(c, writer, &row).await {
            tracing::warn!(order = %row.order_id, error = %e, "digital copy not withdrawn yet; retrying");
        }
    }
    Ok(())
}

enum Failure {
    /// The job itself cannot be written (an original is gone): staff are told.
    Job(String),
    /// The hot folder could not be written now: tried again.
    Retry(std::io::Error),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::Retry(e)
    }
}

/// The job folder's name: `<reception>-<medium>`.
pub fn folder_name(reception: &str, medium: DigitalMedium) -> String {
    format!("{reception}-{}", medium.code())
}

/// The ticket of a job: what the writer's station burns and how.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ticket {
    pub version: u32,
    /// The counter (site id) and its name.
    pub site: String,
    pub counter: String,
    pub writer: String,
    pub order: String,
    pub reception: String,
    /// `cd`, `dvd` or `usb_stick`, and in words.
    pub medium: String,
    pub medium_words: String,
    /// The disc's or stick's volume label (the reception number).
    pub volume_label: String,
    pub created: DateTime<Utc>,
    pub created_local: chrono::NaiveDateTime,
    /// Every file of the job but the ticket, with its size and SHA-256.
    pub files: Vec<TicketFile>,
    pub total_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TicketFile {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

pub const TICKET: &str = "ticket.json";
pub const PHOTOS: &str = "PHOTOS";

/// Step 2: the job folder, built under a temporary name and renamed when whole. Returns the
/// folder's path.
async fn write(c: &Counter, writer: &WriterConfig, row: &JobRow) -> Result<String, Failure> {
    let medium = row
        .medium()
        .ok_or_else(|| Failure::Job(format!("unknown medium {:?}", row.medium)))?;
    let name = folder_name(&row.reception_number, medium);
    let folder = writer.hot_folder.join(&name);
    // Written before a crash, not yet recorded: the same job, never a second.
    if let Ok(text) = tokio::fs::read_to_string(folder.join(TICKET)).await
        && serde_json::from_str::<Ticket>(&text).is_ok_and(|t| t.order == row.order_id)
    {
        return Ok(folder.display().to_string());
    }
    let originals: Vec<JobOriginal> = serde_json::from_str(&row.originals)
        .map_err(|e| Failure::Job(format!("the job's list of originals: {e}")))?;
    let staging = staging_dir(c, &row.order_id);
    let mut photos = Vec::with_capacity(originals.len());
    for o in &originals {
        let bytes = tokio::fs::read(staging.join(&o.image)).await.map_err(|e| {
            Failure::Job(format!(
                "the original {} is not at the counter: {e}",
                o.name
            ))
        })?;
        photos.push(bytes);
    }
    let rules = c.rules();
    let created = c.clock.now();
    let record = PrintRecord {
        site: rules.site.to_string(),
        registration_number: row.registration_number.clone(),
        reception_number: row.reception_number.clone(),
        date: reprint_domain::charge::local_date(
            rules,
            sql::parse_ts(&row.created_at).unwrap_or(created),
        ),
    };
    let ticket_base = Ticket {
        version: 1,
        site: rules.site.to_string(),
        counter: c.config.name.clone(),
        writer: writer.name.clone(),
        order: row.order_id.clone(),
        reception: row.reception_number.clone(),
        medium: medium.code().to_string(),
        medium_words: medium.words().to_string(),
        volume_label: row.reception_number.clone(),
        created,
        created_local: created.with_timezone(&rules.time_zone).naive_local(),
        files: vec![],
        total_bytes: 0,
    };
    let hot = writer.hot_folder.clone();
    let reception = row.reception_number.clone();
    tokio::task::spawn_blocking(move || {
        build(
            &hot,
            &name,
            &reception,
            &originals,
            &photos,
            &record,
            ticket_base,
        )
    })
    .await
    .map_err(|e| Failure::Retry(std::io::Error::other(e.to_string())))??;
    Ok(folder.display().to_string())
}

fn sha256(bytes: &[u8]) -> String {
    reprint_domain::ImageId::of_bytes(bytes).to_hex()
}

fn build(
    hot: &Path,
    name: &str,
    reception: &str,
    originals: &[JobOriginal],
    photos: &[Vec<u8>],
    record: &PrintRecord,
    mut ticket: Ticket,
) -> Result<(), Failure> {
    let part = hot.join(format!(".{name}.part"));
    if part.exists() {
        std::fs::remove_dir_all(&part)?;
    }
    std::fs::create_dir_all(part.join(PHOTOS))?;
    let mut histories = Vec::with_capacity(photos.len());
    for (o, bytes) in originals.iter().zip(photos) {
        let file = format!(
            "{PHOTOS}/{}",
            digital_copy::numbered(histories.len(), originals.len(), &o.name)
        );
        std::fs::write(part.join(&file), bytes)?;
        ticket.files.push(TicketFile {
            path: file,
            bytes: bytes.len() as u64,
            sha256: sha256(bytes),
        });
        // What the image itself carries, and this order.
        let mut history = reprint_media::history::xmp::read_history(bytes)
            .unwrap_or_else(|_| PrintHistory::new());
        history
            .push(record.clone())
            .map_err(|e| Failure::Job(format!("the print history of {}: {e}", o.name)))?;
        histories.push(history);
    }
    let list: Vec<Original<'_>> = originals
        .iter()
        .zip(photos)
        .zip(&histories)
        .map(|((o, bytes), history)| Original {
            name: &o.name,
            bytes,
            history,
        })
        .collect();
    let zip = digital_copy::digital_copy_bytes(&list)
        .map_err(|e| Failure::Job(format!("the digital copy's ZIP: {e}")))?;
    let zip_name = format!("digital-copy-{reception}.zip");
    std::fs::write(part.join(&zip_name), &zip)?;
    ticket.files.push(TicketFile {
        path: zip_name,
        bytes: zip.len() as u64,
        sha256: sha256(&zip),
    });
    ticket.total_bytes = ticket.files.iter().map(|f| f.bytes).sum();
    let json = serde_json::to_vec_pretty(&ticket)
        .map_err(|e| Failure::Job(format!("the job ticket: {e}")))?;
    std::fs::write(part.join(TICKET), json)?;
    let folder = hot.join(name);
    if folder.exists() {
        // Another order's job under this name (a reception number is used once): keep it.
        std::fs::remove_dir_all(&part)?;
        return Err(Failure::Job(format!(
            "{} is in the writer's hot folder already, for another order",
            folder.display()
        )));
    }
    std::fs::rename(&part, &folder)?;
    Ok(())
}

/// The job's state in English words (the JSON API; the pages use [`state_key`]).
pub fn words(row: &JobRow) -> String {
    let on = row.medium().map_or("on a medium", DigitalMedium::words);
    let folder = row
        .folder
        .as_deref()
        .and_then(|f| Path::new(f).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match row.state.as_str() {
        "written" => format!("digital copy {on}: written for the writer ({folder})"),
        "failed" => format!("digital copy {on}: cannot be written: {}", row.note),
        "withdrawing" | "withdrawn" => {
            format!("digital copy {on}: withdrawn from the writer: {}", row.note)
        }
        _ => format!("digital copy {on}: waiting to be written for the writer"),
    }
}

/// The job's state as staff read it, as a key of `counter.ftl` and its arguments.
pub fn state_key(row: &JobRow) -> &'static str {
    match row.state.as_str() {
        "written" => "counter-medium-written",
        "failed" => "counter-medium-failed",
        "withdrawing" | "withdrawn" => "counter-medium-withdrawn",
        _ => "counter-medium-waiting",
    }
}

/// Checks the medium staff chose for an order at this counter: sold here (a counter without
/// a writer sells none), collected here, and the photos fit on it. Returns the price list the
/// order is charged by.
pub fn check(
    c: &Counter,
    medium: DigitalMedium,
    elsewhere: bool,
    originals_bytes: u64,
) -> Result<reprint_domain::PriceList, CounterError> {
    let prices = digital_media::prices_for(&c.rules().prices, medium)?;
    digital_media::check_pickup(Some(medium), elsewhere)?;
    digital_media::check_fits(medium, originals_bytes)?;
    Ok(prices)
}
