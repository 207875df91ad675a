//! A print job and the hot folder a minilab print station reads.
//!
//! A [`PrintJob`] says what to print: one reception's prints of one size on one printer (the
//! image hashes, quantities and edits, the printer's resolution and profile name, the print
//! history record to embed). It is a plain serde type, so it travels in a NATS message to a
//! print worker, whichever site made it (the lab, or a counter with its own printer).
//!
//! [`write_job`] renders it into `<hot_folder>/<reception>-<size>/`: the rendered JPEGs
//! (`<reception>-<nn>.JPG`, the edits applied, converted to the printer's ICC profile, the
//! print history embedded as XMP), `MISC/AUTPRINT.MRK` (DPOF, the station's job ticket) and
//! `ticket.json`. The folder is written under a temporary name (`.tmp-...`) and renamed when
//! complete, so a print station never sees half a job (the minilab convention); a job whose
//! folder is already there is not written again (a retried or redelivered job has one effect).
//! It fetches nothing itself: the caller hands it each image's bytes.
//!
//! The station's markers ([`TAKEN_MARKER`], [`DONE_MARKER`]) and the site's [`VOID_MARKER`]
//! live in the job folder; [`withdraw_job`] takes a job back (removed while not taken, else
//! voided); [`mark_withdrawn`] leaves a withdrawal mark (`.withdrawn-<folder>`, a dot name the
//! stations do not read) for a job still on its way to the hot folder, so that it is not
//! written after all.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use reprint_domain::PrintSize;
use reprint_media::dpof::{HotFolderTicket, TicketItem, write_ticket};
use reprint_media::edit::EditList;
use reprint_media::history::xmp;
use reprint_media::render::{PrintSize as PaperSize, PrintSpec, render_print_from};
use reprint_media::{Limits, MediaError, PrintHistory, PrintRecord};
use serde::{Deserialize, Serialize};

/// The done-marker a print station writes into a finished job folder.
pub const DONE_MARKER: &str = "DONE";
/// The marker a print station writes into a job folder it has taken (it prints from there).
pub const TAKEN_MARKER: &str = "TAKEN";
/// The marker the site writes into a job folder the station has taken but must not print (or,
/// if printed, must not hand over): the reception was rejected. Its text says why.
pub const VOID_MARKER: &str = "VOID";

/// A job folder of a reception: `<reception>-<size>`.
pub fn job_folder_name(reception: &str, size: &str) -> String {
    format!("{reception}-{size}")
}

/// What to print: one reception's prints of one size on one printer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrintJob {
    /// The site that took the order (`ticket.json`'s `lab`, DPOF's creator).
    pub site: String,
    /// The site's reception number: the folder's and the files' name.
    pub reception: String,
    /// The order id.
    pub order: String,
    /// Where the prints go.
    pub delivery_counter: String,
    /// The printer's name (its hot folder is the worker's to know).
    pub printer: String,
    pub size: PrintSize,
    /// The printer's resolution.
    pub dpi: u32,
    /// The printer's ICC profile as people know it ("sRGB" or the file name).
    pub icc_profile: String,
    /// When printing was started.
    pub created: DateTime<Utc>,
    /// The same moment on the site's wall clock (DPOF's `GEN DTM`).
    pub created_local: NaiveDateTime,
    /// The site's entry added to each image's print history.
    pub record: PrintRecord,
    /// The prints, in the order's order.
    pub items: Vec<JobItem>,
    /// The index print, on a job of size `Index` (whose `items` are then empty). Absent in
    /// jobs of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexSheet>,
}

/// The index print of a job (`reprint_domain::product`): one sheet showing every image of the
/// order numbered as in its item list, printed `quantity` times as the file `file`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexSheet {
    /// `<reception>-<nn>.JPG`, nn the index line's place in the order.
    pub file: String,
    /// What the ticket calls it ("index print of 12 images").
    pub name: String,
    pub quantity: u32,
    pub cells: Vec<IndexCell>,
}

/// The index print an order's `items` ask for (`reprint_domain::product`), for the job of size
/// `Index` of reception `reception`: every image of the order numbered as in the item list, as
/// many sheets as the index lines ask, the file named by the first index line's place; `None`
/// when no line asks for one.
pub fn index_sheet(
    reception: &str,
    items: &[reprint_domain::protocol::PlacedItem],
) -> Option<IndexSheet> {
    let place = items.iter().position(|i| i.size == PrintSize::Index)? + 1;
    let quantity = items
        .iter()
        .filter(|i| i.size == PrintSize::Index)
        .map(|i| i.quantity)
        .sum();
    let cells = reprint_domain::product::index_cells(items);
    Some(IndexSheet {
        file: format!("{reception}-{place:02}.JPG"),
        name: format!("index print of {} images", cells.len()),
        quantity,
        cells: cells
            .into_iter()
            .map(|c| IndexCell {
                number: c.number,
                image: c.image.to_hex(),
                name: c.name,
                edits: c.edits,
            })
            .collect(),
    })
}

/// One image on an index print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexCell {
    /// Its number in the order's item list.
    pub number: u32,
    /// The image's content hash (hex).
    pub image: String,
    pub name: String,
    /// The edits it is shown with (JSON of [`EditList`]).
    pub edits: Option<String>,
}

/// One image of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobItem {
    /// The rendered file's name, `<reception>-<nn>.JPG` (nn: the item's place in the order).
    pub file: String,
    /// The image's content hash (hex), as the object store keys it.
    pub image: String,
    /// The image's name as the customer gave it.
    pub name: String,
    pub quantity: u32,
    /// The order's edits of this image (JSON of [`EditList`]), if any.
    pub edits: Option<String>,
    /// The colour profile the order gives the image, used when it embeds none (else it is
    /// taken as sRGB). Absent in jobs of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_profile: Option<reprint_domain::protocol::SourceProfile>,
}

impl PrintJob {
    /// The job's folder name, `<reception>-<size>`.
    pub fn folder_name(&self) -> String {
        job_folder_name(&self.reception, self.size.code())
    }

    /// How many prints the job makes.
    pub fn prints(&self) -> u64 {
        self.items
            .iter()
            .map(|i| u64::from(i.quantity))
            .sum::<u64>()
            + self.index.as_ref().map_or(0, |i| u64::from(i.quantity))
    }
}

/// Where a job is, as its print worker reports it to the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Made by the site, waiting for a worker (never reported: the site records it itself).
    Queued,
    /// A worker took it and is rendering it.
    Rendering,
    /// The job folder is in the hot folder (now, or it was already).
    Written,
    /// Its reception was rejected before it was written: nothing written.
    Withdrawn,
    /// It cannot be written; the report's reason says why in words for the operator.
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Rendering => "rendering",
            JobState::Written => "written",
            JobState::Withdrawn => "withdrawn",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        [
            JobState::Queued,
            JobState::Rendering,
            JobState::Written,
            JobState::Withdrawn,
            JobState::Failed,
        ]
        .into_iter()
        .find(|j| j.as_str() == s)
    }

    /// Nothing more happens to the job (a later `rendering` report is an old one).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Written | JobState::Withdrawn | JobState::Failed
        )
    }
}

/// A print worker's report on one job, to the site that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobReport {
    pub site: String,
    pub order: String,
    pub reception: String,
    pub printer: String,
    pub size: PrintSize,
    pub state: JobState,
    /// Why it failed, in words for the operator.
    pub reason: Option<String>,
    /// Which worker (`<host>/<pid>/<n>`).
    pub worker: String,
    /// The delivery of the job this is about (1 the first time).
    pub delivery: u64,
    pub at: DateTime<Utc>,
}

impl JobReport {
    /// One report per job, state and delivery: its message id.
    pub fn message_id(&self) -> String {
        format!(
            "{}:{}:print:{}:{}:{}",
            self.site,
            self.order,
            self.size.code(),
            self.state.as_str(),
            if self.state == JobState::Rendering {
                self.delivery
            } else {
                0
            }
        )
    }
}

/// One rendered file, as the JSON ticket lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TicketFile {
    pub file: String,
    pub image: String,
    pub name: String,
    pub quantity: u32,
    pub width: u32,
    pub height: u32,
    pub warnings: Vec<String>,
}

/// `ticket.json` of a job folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobTicket {
    pub lab: String,
    pub reception: String,
    pub order: String,
    pub delivery_counter: String,
    pub printer: String,
    pub size: String,
    pub dpi: u32,
    pub icc_profile: String,
    pub created: String,
    pub files: Vec<TicketFile>,
}

/// Why a job was not written. `E` is the caller's error fetching an image.
#[derive(Debug, thiserror::Error)]
pub enum WriteError<E> {
    /// Fetching an image's bytes failed (the caller's error, handed back as it was).
    #[error("{0}")]
    Fetch(E),
    /// The image itself cannot be printed (damaged, truncated, a format or size it cannot be
    /// printed from): the order's problem, not the printer's.
    #[error(
        "image {name} ({short}) cannot be printed: {error}",
        short = short_hash(image)
    )]
    Unprintable {
        name: String,
        image: String,
        error: MediaError,
    },
    /// The job names something that cannot be (edits that do not parse).
    #[error("{0}")]
    BadJob(String),
    /// Rendering or encoding failed on our side.
    #[error("rendering {name}: {error}")]
    Render { name: String, error: MediaError },
    /// Writing the hot folder.
    #[error("writing the hot folder: {0}")]
    Io(#[from] std::io::Error),
}

fn short_hash(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}

/// What [`write_job`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The folder was written now.
    Written,
    /// The folder was there already (a retried or redelivered job): left as it is.
    AlreadyThere,
    /// The job had been withdrawn (its reception rejected) before it was written: nothing
    /// written.
    Withdrawn,
}

/// The history to embed: what the original carries (XMP) plus this site's entry.
pub fn history_for(original: &[u8], record: &PrintRecord) -> PrintHistory {
    let mut history = xmp::read_history(original).unwrap_or_default();
    if history.push(record.clone()).is_err() {
        return PrintHistory::new();
    }
    history
}

/// Renders `job` into `<hot_folder>/<reception>-<size>/` (see the crate documentation).
/// `fetch(image_hash)` gives an image's bytes; `slots`, if given, bounds how many prints render
/// at the same time (one permit per print, held while rendering off the async threads).
pub async fn write_job<F, Fut, E>(
    hot_folder: &Path,
    job: &PrintJob,
    icc: &[u8],
    slots: Option<&Arc<tokio::sync::Semaphore>>,
    mut fetch: F,
) -> Result<Written, WriteError<E>>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<Vec<u8>, E>>,
{
    let folder_name = job.folder_name();
    let final_dir = hot_folder.join(&folder_name);
    if tokio::fs::try_exists(&final_dir).await? {
        // Rendered before (a retried start, a redelivered job): the station may already be
        // printing it.
        return Ok(Written::AlreadyThere);
    }
    if is_withdrawn(hot_folder, &folder_name).await? {
        // Skipped; the mark has done its work (the job leaves the queue with this answer).
        let _ = tokio::fs::remove_file(withdrawal_mark(hot_folder, &folder_name)).await;
        return Ok(Written::Withdrawn);
    }
    let tmp_dir = hot_folder.join(format!(
        ".tmp-{folder_name}-{}",
        uuid::Uuid::now_v7().simple()
    ));
    tokio::fs::create_dir_all(tmp_dir.join("MISC")).await?;
    let result = render_into(&tmp_dir, job, icc, slots, &mut fetch).await;
    if let Err(e) = result {
        let _ = tokio::fs::remove_dir_all(&tmp_dir).await;
        return Err(e);
    }
    if tokio::fs::try_exists(&final_dir).await? {
        // Another worker finished the same job meanwhile (a redelivery racing the first).
        let _ = tokio::fs::remove_dir_all(&tmp_dir).await;
        return Ok(Written::AlreadyThere);
    }
    if let Err(e) = tokio::fs::rename(&tmp_dir, &final_dir).await {
        let _ = tokio::fs::remove_dir_all(&tmp_dir).await;
        if tokio::fs::try_exists(&final_dir).await.unwrap_or(false) {
            return Ok(Written::AlreadyThere);
        }
        return Err(e.into());
    }
    // Withdrawn while it was rendering: take it back at once (voided if the station was
    // quicker still).
    if let Some(reason) = withdrawal_reason(hot_folder, &folder_name).await? {
        withdraw_job(hot_folder, &folder_name, &reason).await?;
        let _ = tokio::fs::remove_file(withdrawal_mark(hot_folder, &folder_name)).await;
        return Ok(Written::Withdrawn);
    }
    Ok(Written::Written)
}

async fn render_into<F, Fut, E>(
    dir: &Path,
    job: &PrintJob,
    icc: &[u8],
    slots: Option<&Arc<tokio::sync::Semaphore>>,
    fetch: &mut F,
) -> Result<(), WriteError<E>>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<Vec<u8>, E>>,
{
    let (short_um, long_um) = job.size.micrometres();
    let spec = PrintSpec::new(
        PaperSize {
            width_mm: short_um as f32 / 1000.0,
            height_mm: long_um as f32 / 1000.0,
        },
        job.dpi,
    );
    let mut files = Vec::new();
    let mut dpof_items = Vec::new();
    for item in &job.items {
        let original = fetch(item.image.clone()).await.map_err(WriteError::Fetch)?;
        let edits: EditList = match &item.edits {
            Some(e) => serde_json::from_str(e)
                .map_err(|e| WriteError::BadJob(format!("edits of {}: {e}", item.name)))?,
            None => EditList::default(),
        };
        let icc = icc.to_vec();
        let assumed = match &item.source_profile {
            Some(p) => Some(reprint_media::icc::source_profile_bytes(p).map_err(|e| {
                WriteError::BadJob(format!("source profile of {}: {e}", item.name))
            })?),
            None => None,
        };
        let history = history_for(&original, &job.record);
        let slot = match slots {
            // The semaphore is never closed, so acquiring only waits for a free slot.
            Some(s) => s.clone().acquire_owned().await.ok(),
            None => None,
        };
        let rendered = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            render_print_from(
                &original,
                assumed.as_deref(),
                &edits,
                &spec,
                Some(&icc),
                &history,
                &Limits::default(),
            )
        })
        .await
        .map_err(|e| WriteError::Io(std::io::Error::other(format!("render task: {e}"))))?
        .map_err(|e| match e {
            MediaError::Io(_) | MediaError::Encode(_) => WriteError::Render {
                name: item.name.clone(),
                error: e,
            },
            other => WriteError::Unprintable {
                name: item.name.clone(),
                image: item.image.clone(),
                error: other,
            },
        })?;
        tokio::fs::write(dir.join(&item.file), &rendered.jpeg).await?;
        dpof_items.push(TicketItem {
            file: item.file.clone(),
            quantity: item.quantity,
        });
        files.push(TicketFile {
            file: item.file.clone(),
            image: item.image.clone(),
            name: item.name.clone(),
            quantity: item.quantity,
            width: rendered.width,
            height: rendered.height,
            warnings: rendered.warnings.iter().map(|w| w.to_string()).collect(),
        });
    }
    if let Some(index) = &job.index {
        let (item, file) = render_index_sheet(dir, index, icc, &spec, fetch).await?;
        dpof_items.push(item);
        files.push(file);
    }
    let dpof = write_ticket(&HotFolderTicket {
        creator: format!("reprint {}", job.site),
        created: job.created_local,
        order: job.reception.clone(),
        items: dpof_items,
    })
    .map_err(|e| WriteError::Render {
        name: "MISC/AUTPRINT.MRK".into(),
        error: e,
    })?;
    tokio::fs::write(dir.join("MISC").join("AUTPRINT.MRK"), dpof).await?;
    let ticket = JobTicket {
        lab: job.site.clone(),
        reception: job.reception.clone(),
        order: job.order.clone(),
        delivery_counter: job.delivery_counter.clone(),
        printer: job.printer.clone(),
        size: job.size.code().to_string(),
        dpi: job.dpi,
        icc_profile: job.icc_profile.clone(),
        // The ticket keeps its milliseconds (what the printers' drivers read).
        created: job
            .created
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        files,
    };
    let json = serde_json::to_vec_pretty(&ticket).map_err(std::io::Error::other)?;
    tokio::fs::write(dir.join("ticket.json"), json).await?;
    Ok(())
}

/// Renders an index print into `dir`: each image's picture as ordered (its edits applied, at the
/// thumbnail's size), the sheet (`reprint_media::index_print`), then converted and encoded as
/// any print; its DPOF line and its ticket entry.
async fn render_index_sheet<F, Fut, E>(
    dir: &Path,
    index: &IndexSheet,
    icc: &[u8],
    spec: &PrintSpec,
    fetch: &mut F,
) -> Result<(TicketItem, TicketFile), WriteError<E>>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<Vec<u8>, E>>,
{
    use reprint_media::index_print::{SheetCell, render_index_print, thumbnail_side};
    let count = u32::try_from(index.cells.len()).unwrap_or(u32::MAX);
    let side = thumbnail_side(count, spec).map_err(|e| WriteError::Render {
        name: index.name.clone(),
        error: e,
    })?;
    let mut cells = Vec::with_capacity(index.cells.len());
    for cell in &index.cells {
        let original = fetch(cell.image.clone()).await.map_err(WriteError::Fetch)?;
        let edits: EditList = match &cell.edits {
            Some(e) => serde_json::from_str(e)
                .map_err(|e| WriteError::BadJob(format!("edits of {}: {e}", cell.name)))?,
            None => EditList::default(),
        };
        let picture = tokio::task::spawn_blocking(move || {
            reprint_media::edit::preview(&original, &edits, side, &Limits::default())
        })
        .await
        .map_err(|e| WriteError::Io(std::io::Error::other(format!("render task: {e}"))))?
        .map_err(|e| WriteError::Unprintable {
            name: cell.name.clone(),
            image: cell.image.clone(),
            error: e,
        })?;
        cells.push(SheetCell {
            number: cell.number,
            picture,
        });
    }
    let (spec, icc) = (*spec, icc.to_vec());
    let rendered = tokio::task::spawn_blocking(move || {
        render_index_print(&cells, &spec, Some(&icc), &Limits::default())
    })
    .await
    .map_err(|e| WriteError::Io(std::io::Error::other(format!("render task: {e}"))))?
    .map_err(|e| WriteError::Render {
        name: index.name.clone(),
        error: e,
    })?;
    tokio::fs::write(dir.join(&index.file), &rendered.jpeg).await?;
    Ok((
        TicketItem {
            file: index.file.clone(),
            quantity: index.quantity,
        },
        TicketFile {
            file: index.file.clone(),
            image: String::new(),
            name: index.name.clone(),
            quantity: index.quantity,
            width: rendered.width,
            height: rendered.height,
            warnings: rendered.warnings.iter().map(|w| w.to_string()).collect(),
        },
    ))
}

/// What happened to one job folder when its reception's jobs were withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawn {
    /// Not there (never written, or removed before).
    Absent,
    /// Removed before the station took it.
    Removed,
    /// The station had taken it: a void marker tells it not to print (or to discard the prints).
    Voided,
}

/// The withdrawal mark of job folder `folder` in `hot_folder`: `.withdrawn-<folder>` (a dot
/// name, as the `.tmp-` folders, which print stations do not read).
pub fn withdrawal_mark(hot_folder: &Path, folder: &str) -> PathBuf {
    hot_folder.join(format!(".withdrawn-{folder}"))
}

/// Whether job folder `folder` was withdrawn (its mark is there).
pub async fn is_withdrawn(hot_folder: &Path, folder: &str) -> std::io::Result<bool> {
    tokio::fs::try_exists(withdrawal_mark(hot_folder, folder)).await
}

async fn withdrawal_reason(hot_folder: &Path, folder: &str) -> std::io::Result<Option<String>> {
    match tokio::fs::read_to_string(withdrawal_mark(hot_folder, folder)).await {
        Ok(text) => Ok(Some(text.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Marks job folder `folder` of `hot_folder` withdrawn (its reception rejected) while the job
/// is not in the hot folder yet: a worker that gets the job then skips it, and a worker that
/// was rendering it takes it back as soon as it is written.
pub async fn mark_withdrawn(hot_folder: &Path, folder: &str, reason: &str) -> std::io::Result<()> {
    tokio::fs::create_dir_all(hot_folder).await?;
    tokio::fs::write(withdrawal_mark(hot_folder, folder), format!("{reason}\n")).await
}

/// Withdraws job folder `folder` of `hot_folder`: removed when the station has not taken it,
/// else voided.
pub async fn withdraw_job(
    hot_folder: &Path,
    folder: &str,
    reason: &str,
) -> std::io::Result<Withdrawn> {
    let dir = hot_folder.join(folder);
    if !tokio::fs::try_exists(&dir).await? {
        return Ok(Withdrawn::Absent);
    }
    let taken = tokio::fs::try_exists(dir.join(TAKEN_MARKER)).await?
        || tokio::fs::try_exists(dir.join(DONE_MARKER)).await?;
    if taken {
        tokio::fs::write(
            dir.join(VOID_MARKER),
            format!("rejected by the lab: {reason}\n"),
        )
        .await?;
        return Ok(Withdrawn::Voided);
    }
    match tokio::fs::remove_dir_all(&dir).await {
        Ok(()) => Ok(Withdrawn::Removed),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Withdrawn::Absent),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(items: Vec<JobItem>) -> PrintJob {
        PrintJob {
            site: "lab-a".into(),
            reception: "B0000001".into(),
            order: "o-1".into(),
            delivery_counter: "counter-ginza".into(),
            printer: "minilab-1".into(),
            size: PrintSize::L,
            dpi: 100,
            icc_profile: "sRGB".into(),
            created: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            created_local: DateTime::from_timestamp(1_800_032_400, 0)
                .unwrap()
                .naive_utc(),
            record: PrintRecord {
                site: "lab-a".into(),
                registration_number: "A0000001".into(),
                reception_number: "B0000001".into(),
                date: chrono::NaiveDate::from_ymd_opt(2027, 1, 15).unwrap(),
            },
            items,
            index: None,
        }
    }

    fn item(n: usize) -> JobItem {
        JobItem {
            file: format!("B0000001-{n:02}.JPG"),
            image: "ab".repeat(32),
            name: format!("IMG_{n}.JPG"),
            quantity: 2,
            edits: None,
            source_profile: None,
        }
    }

    #[tokio::test]
    async fn a_job_is_written_once_and_travels_as_json() {
        let hot = tempfile::tempdir().unwrap();
        let photo =
            reprint_media::synthetic::jpeg(&reprint_media::synthetic::photo(1, 600, 400), 85)
                .unwrap();
        let j = job(vec![item(1), item(2)]);
        let back: PrintJob = serde_json::from_str(&serde_json::to_string(&j).unwrap()).unwrap();
        assert_eq!(back, j);
        assert_eq!(j.prints(), 4);
        let icc = reprint_media::icc::srgb_profile();
        let mut fetched = 0;
        let first = write_job(hot.path(), &j, &icc, None, |_| {
            fetched += 1;
            let p = photo.clone();
            async move { Ok::<_, std::io::Error>(p) }
        })
        .await
        .unwrap();
        assert_eq!(first, Written::Written);
        assert_eq!(fetched, 2);
        let dir = hot.path().join("B0000001-L");
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["B0000001-01.JPG", "B0000001-02.JPG", "MISC", "ticket.json"]
        );
        // Again (a redelivery): nothing fetched, nothing rewritten.
        let again = write_job(hot.path(), &j, &icc, None, |_| async {
            Err::<Vec<u8>, _>(std::io::Error::other("not asked"))
        })
        .await
        .unwrap();
        assert_eq!(again, Written::AlreadyThere);
        // No temporary folder left behind.
        assert_eq!(std::fs::read_dir(hot.path()).unwrap().count(), 1);
    }

    #[tokio::test]
    async fn a_withdrawn_job_is_not_written_and_a_taken_one_is_voided() {
        let hot = tempfile::tempdir().unwrap();
        let j = job(vec![item(1)]);
        assert_eq!(
            withdraw_job(hot.path(), &j.folder_name(), "rejected")
                .await
                .unwrap(),
            Withdrawn::Absent
        );
        mark_withdrawn(hot.path(), &j.folder_name(), "rejected")
            .await
            .unwrap();
        let icc = reprint_media::icc::srgb_profile();
        let w = write_job(hot.path(), &j, &icc, None, |_| async {
            Err::<Vec<u8>, _>(std::io::Error::other("not asked"))
        })
        .await
        .unwrap();
        assert_eq!(w, Written::Withdrawn);
        assert!(!hot.path().join("B0000001-L").exists());
        assert!(
            !is_withdrawn(hot.path(), "B0000001-L").await.unwrap(),
            "the mark is spent"
        );
        let taken = hot.path().join("B0000002-L");
        std::fs::create_dir_all(&taken).unwrap();
        std::fs::write(taken.join(TAKEN_MARKER), b"").unwrap();
        assert_eq!(
            withdraw_job(hot.path(), "B0000002-L", "rejected")
                .await
                .unwrap(),
            Withdrawn::Voided
        );
        assert!(taken.join(VOID_MARKER).exists());
    }

    #[tokio::test]
    async fn a_damaged_image_is_the_orders_problem() {
        let hot = tempfile::tempdir().unwrap();
        let j = job(vec![item(1)]);
        let icc = reprint_media::icc::srgb_profile();
        let e = write_job(hot.path(), &j, &icc, None, |_| async {
            Ok::<_, std::io::Error>(b"not a picture at all".to_vec())
        })
        .await
        .unwrap_err();
        assert!(matches!(e, WriteError::Unprintable { .. }), "{e}");
        assert!(e.to_string().contains("IMG_1.JPG"), "{e}");
        assert_eq!(std::fs::read_dir(hot.path()).unwrap().count(), 0);
    }
}
