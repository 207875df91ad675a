//! The medium a walk-in customer hands over (seed 004, Fig. 2 ①): the contents of a card as a
//! ZIP, or several image files. Pure and synchronous (run it on a blocking thread): bytes in,
//! the images and the prints chosen out, or one [`MediumError`] written for the staff.
//!
//! Safety, before anything is stored:
//! - a ZIP that is not one is refused;
//! - a ZIP bomb: at most `max_entries` entries; each entry's declared size and the total of
//!   declared sizes are checked before reading; each entry is inflated through a bounded reader
//!   ([`inflate_entry`]) that counts the real bytes and stops at the entry's or the total's
//!   limit (a lying header never fills memory), refuses a file whose first bytes are not an
//!   image's after one block, and each image is checked as soon as it is whole, before the next
//!   entry is inflated;
//! - an image whose decoded pixels would take more than `max_decoded_bytes` is refused from its
//!   header, before it is opened;
//! - entry names that could leave a folder (`..`, absolute, drive letters, backslashes,
//!   NUL) are refused, naming the entry;
//! - every file that is not the DPOF file, a folder or a system file (`.DS_Store`,
//!   `__MACOSX/`, `Thumbs.db`, other files under `MISC/`) must be an image by its content
//!   (`reprint_media::validate::preflight`, with its limits) whose pixels all decode without
//!   damage (as the gateway checks an upload), else it is named;
//! - a DPOF `MISC/AUTPRINT.MRK` that does not parse (truncated) or names an image that is not
//!   on the medium is refused, with its line.

use std::collections::BTreeMap;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use reprint_domain::ImageId;
use reprint_media::dpof::{self, PrintType};
use reprint_media::validate::{self, ImageInfo};

use crate::config::UploadLimits;

/// Why the medium cannot be taken in.
#[derive(Debug, thiserror::Error)]
pub enum MediumError {
    #[error(
        "the file handed in is not a ZIP archive ({0}); hand in a ZIP of the card or the image files themselves"
    )]
    NotAZip(String),
    #[error("the ZIP holds {count} entries, more than the {limit} this counter takes at once")]
    TooManyEntries { count: usize, limit: usize },
    #[error("{what} is over the limit of {limit} bytes (a ZIP bomb, or too much for one order)")]
    TooLarge { what: String, limit: u64 },
    #[error(
        "the ZIP entry {0:?} has an unsafe name (it would leave its folder); nothing was taken in"
    )]
    UnsafeName(String),
    #[error(
        "{name:?} is not an image: {reason}; take it off the medium or hand in the images only"
    )]
    NotAnImage { name: String, reason: String },
    #[error("{name:?} cannot be read from the ZIP: {reason}")]
    Unreadable { name: String, reason: String },
    #[error(
        "the print order on the card (MISC/AUTPRINT.MRK) is damaged: {0}; nothing was taken in"
    )]
    Dpof(String),
    #[error(
        "the print order on the card (MISC/AUTPRINT.MRK), line {line}, names {path:?}, which is not on the medium; nothing was taken in"
    )]
    DpofMissingImage { line: usize, path: String },
    #[error(
        "the print order on the card (MISC/AUTPRINT.MRK) chooses no prints this counter makes (only index or multi-image prints)"
    )]
    DpofNothingToPrint,
    #[error("there are no images on the medium")]
    NoImages,
    #[error("the medium holds at least {count} images, more than the {limit} one order takes")]
    TooManyImages { count: usize, limit: usize },
    /// The counter's own disk failed while the medium was being read (not the customer's fault).
    #[error("the counter could not keep the images on its disk: {0}")]
    Staging(String),
}

impl MediumError {
    /// A stable code for the problem body.
    pub fn kind(&self) -> &'static str {
        match self {
            MediumError::NotAZip(_) => "not_a_zip",
            MediumError::TooManyEntries { .. } => "zip_too_many_entries",
            MediumError::TooLarge { .. } => "too_large",
            MediumError::UnsafeName(_) => "unsafe_name",
            MediumError::NotAnImage { .. } => "not_an_image",
            MediumError::Unreadable { .. } => "unreadable_entry",
            MediumError::Dpof(_) => "dpof_invalid",
            MediumError::DpofMissingImage { .. } => "dpof_missing_image",
            MediumError::DpofNothingToPrint => "dpof_nothing_to_print",
            MediumError::NoImages => "no_images",
            MediumError::TooManyImages { .. } => "too_many_images",
            MediumError::Staging(_) => "staging",
        }
    }
}

/// One image of the medium.
#[derive(Debug)]
pub struct MediumImage {
    /// Its path on the medium (or the file name as uploaded).
    pub path: String,
    /// The file name, for people.
    pub name: String,
    /// Its bytes, in a file of the staging directory (removed when this is dropped): a medium
    /// is never held in memory whole, only the image being checked.
    pub staged: tempfile::TempPath,
    pub id: ImageId,
    pub info: ImageInfo,
}

/// What the customer chose: which image, how many prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    /// Index into [`Medium::images`].
    pub image: usize,
    pub quantity: u32,
}

/// A file of the medium left out (read with [`Reading::SkipBad`]): its path and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// What a file that is not a sound image does to the reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Refuses the whole medium, naming the file (the JSON API).
    Strict,
    /// Lists the file in [`Medium::skipped`] and reads on (the terminal's page, where staff
    /// see the list before the order is taken).
    SkipBad,
}

/// A medium taken in.
#[derive(Debug)]
pub struct Medium {
    pub images: Vec<MediumImage>,
    /// The prints chosen on the camera (DPOF), when the card has a print order.
    pub dpof: Option<Vec<Chosen>>,
    /// Files left out (damaged, not images), with the reason; empty when read strictly.
    pub skipped: Vec<Skipped>,
}

impl Medium {
    /// The prints: the DPOF choice, else `default_quantity` of every image.
    pub fn chosen(&self, default_quantity: u32) -> Vec<Chosen> {
        match &self.dpof {
            Some(c) => c.clone(),
            None => (0..self.images.len())
                .map(|image| Chosen {
                    image,
                    quantity: default_quantity,
                })
                .collect(),
        }
    }
}

fn image_limits(limits: &UploadLimits) -> validate::Limits {
    validate::Limits {
        max_bytes: limits.max_image_bytes,
        max_decoded_bytes: limits.max_decoded_bytes,
        ..validate::Limits::default()
    }
}

fn file_name(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_string()
}

/// Checks an entry name: relative, no `..`, no drive, no backslash, no control characters.
fn safe_name(raw: &str) -> Option<String> {
    if raw.is_empty()
        || raw.starts_with('/')
        || raw.contains('\\')
        || raw.contains(':')
        || raw.chars().any(|c| c.is_control())
    {
        return None;
    }
    let parts: Vec<&str> = raw
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") || parts.is_empty() {
        return None;
    }
    Some(parts.join("/"))
}

/// Files a card or a computer adds that are not the customer's photos.
fn is_system_file(path: &str) -> bool {
    let upper = path.to_ascii_uppercase();
    let name = file_name(&upper);
    upper.starts_with("__MACOSX/")
        || name.starts_with('.')
        || name == "THUMBS.DB"
        || name == "DESKTOP.INI"
        || upper.split('/').any(|p| p == "MISC")
}

fn is_dpof_path(path: &str) -> Option<String> {
    let upper = path.to_ascii_uppercase();
    if upper == "MISC/AUTPRINT.MRK" {
        return Some(String::new());
    }
    upper
        .strip_suffix("/MISC/AUTPRINT.MRK")
        .map(|root| path[..root.len() + 1].to_string())
}

fn check_image(
    path: &str,
    bytes: Vec<u8>,
    limits: &UploadLimits,
    staging: &Path,
) -> Result<MediumImage, MediumError> {
    let not_an_image = |e: reprint_media::MediaError| MediumError::NotAnImage {
        name: path.to_string(),
        reason: e.to_string(),
    };
    // Every pixel decoded, as the gateway checks an upload, held to the decoded-size limit (a
    // bomb is refused from its header): a header that reads over pixels that do not (a damaged
    // card, an unsupported coding), or damaged picture data that would print garbled, is
    // refused here, naming the file, not at the lab's printer.
    let info = validate::preflight(&bytes, &image_limits(limits)).map_err(not_an_image)?;
    Ok(MediumImage {
        path: path.to_string(),
        name: file_name(path),
        id: ImageId::of_bytes(&bytes),
        staged: stage(&bytes, staging)?,
        info,
    })
}

/// Writes checked bytes to a new file of the staging directory.
fn stage(bytes: &[u8], staging: &Path) -> Result<tempfile::TempPath, MediumError> {
    let disk = |e: std::io::Error| MediumError::Staging(e.to_string());
    let mut file = tempfile::NamedTempFile::new_in(staging).map_err(disk)?;
    file.write_all(bytes).map_err(disk)?;
    file.flush().map_err(disk)?;
    Ok(file.into_temp_path())
}

/// Reads a ZIP of a card (or of image files), from memory (tests) or a file (the intake's
/// upload, written to disk as it arrived); checked images go to `staging`.
pub fn read_zip(
    zip: impl Read + Seek,
    limits: &UploadLimits,
    staging: &Path,
) -> Result<Medium, MediumError> {
    read_zip_as(zip, limits, staging, Reading::Strict)
}

/// As [`read_zip`], a bad file refusing the medium or listed as skipped by `reading`.
pub fn read_zip_as(
    zip: impl Read + Seek,
    limits: &UploadLimits,
    staging: &Path,
    reading: Reading,
) -> Result<Medium, MediumError> {
    let mut archive = zip::ZipArchive::new(zip).map_err(|e| MediumError::NotAZip(e.to_string()))?;
    if archive.len() > limits.max_entries {
        return Err(MediumError::TooManyEntries {
            count: archive.len(),
            limit: limits.max_entries,
        });
    }
    // Names and declared sizes first: refuse before inflating anything.
    let mut declared_total: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| MediumError::Unreadable {
                name: format!("entry {i}"),
                reason: e.to_string(),
            })?;
        let raw = String::from_utf8_lossy(entry.name_raw()).into_owned();
        if safe_name(&raw).is_none() || entry.enclosed_name().is_none() {
            return Err(MediumError::UnsafeName(raw));
        }
        if entry.size() > limits.max_image_bytes.max(dpof::MAX_FILE as u64) && !entry.is_dir() {
            return Err(MediumError::TooLarge {
                what: format!("the ZIP entry {raw:?} (declared {} bytes)", entry.size()),
                limit: limits.max_image_bytes,
            });
        }
        declared_total = declared_total.saturating_add(entry.size());
    }
    if declared_total > limits.max_uncompressed_bytes {
        return Err(MediumError::TooLarge {
            what: format!("the ZIP's contents ({declared_total} bytes uncompressed)"),
            limit: limits.max_uncompressed_bytes,
        });
    }
    // Each entry inflated through a bounded reader and checked at once, before the next one is
    // touched: a file that does not start as an image is refused after its first block, an
    // image is decoded and checked as soon as it is whole, and the per-entry and total limits
    // stop the inflating itself.
    let mut actual_total: u64 = 0;
    let mut taken = Taken {
        reading,
        ..Taken::default()
    };
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(|e| MediumError::Unreadable {
            name: format!("entry {i}"),
            reason: e.to_string(),
        })?;
        if entry.is_dir() {
            continue;
        }
        let raw = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let name = safe_name(&raw).ok_or_else(|| MediumError::UnsafeName(raw.clone()))?;
        let dpof = is_dpof_path(&name).is_some();
        if is_system_file(&name) && !dpof {
            continue;
        }
        let entry_limit = if dpof {
            dpof::MAX_FILE as u64
        } else {
            limits.max_image_bytes
        };
        let remaining = limits.max_uncompressed_bytes.saturating_sub(actual_total);
        let bytes = match inflate_entry(
            entry,
            &Bounds {
                name: &raw,
                entry_limit,
                total_limit: limits.max_uncompressed_bytes,
                remaining,
                must_be_image: !dpof,
            },
        ) {
            Ok(b) => b,
            Err(e) => {
                taken.skip_or_refuse(&name, e)?;
                continue;
            }
        };
        actual_total += bytes.len() as u64;
        taken.take(name, bytes, limits, staging)?;
    }
    taken.finish(limits)
}

/// What one entry may inflate to.
pub struct Bounds<'a> {
    /// The entry's name, for the refusal.
    pub name: &'a str,
    /// Most bytes this entry may hold.
    pub entry_limit: u64,
    /// Most bytes all entries together may hold (for the refusal's words).
    pub total_limit: u64,
    /// What the total has left for this entry.
    pub remaining: u64,
    /// Refuse the entry as soon as its first bytes are not an image's.
    pub must_be_image: bool,
}

/// Bytes read before the first look at an entry's content.
const SNIFF: usize = 16;
/// Block size of the inflating loop.
const BLOCK: usize = 64 * 1024;

/// Inflates one entry through a bounded reader: counts the real bytes as they come (a header
/// may lie about the size) and stops one byte past the entry's limit or the total's, so a bomb
/// is never held whole; an entry that must be an image is refused from its first bytes when
/// they are not one (a ZIP of zero-filled "photos" is refused after one block).
pub fn inflate_entry(mut reader: impl Read, b: &Bounds<'_>) -> Result<Vec<u8>, MediumError> {
    let cap = b.entry_limit.min(b.remaining);
    let mut out: Vec<u8> = Vec::new();
    let mut block = vec![0u8; BLOCK];
    let mut sniffed = !b.must_be_image;
    loop {
        let n = match reader.read(&mut block) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(MediumError::Unreadable {
                    name: b.name.to_string(),
                    reason: e.to_string(),
                });
            }
        };
        if out.len() as u64 + n as u64 > cap {
            return Err(if cap == b.entry_limit {
                MediumError::TooLarge {
                    what: format!("the ZIP entry {:?} (inflates past its limit)", b.name),
                    limit: b.entry_limit,
                }
            } else {
                MediumError::TooLarge {
                    what: "the ZIP's contents (inflating)".to_string(),
                    limit: b.total_limit,
                }
            });
        }
        out.extend_from_slice(&block[..n]);
        if !sniffed && out.len() >= SNIFF {
            sniffed = true;
            not_an_image_start(b.name, &out)?;
        }
    }
    if !sniffed {
        not_an_image_start(b.name, &out)?;
    }
    Ok(out)
}

/// Refuses `start` (an entry's first bytes) when no image format starts so.
fn not_an_image_start(name: &str, start: &[u8]) -> Result<(), MediumError> {
    if validate::sniff(start).is_some() {
        return Ok(());
    }
    let shown: String = start.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Err(MediumError::NotAnImage {
        name: name.to_string(),
        reason: reprint_media::MediaError::UnknownFormat(if shown.is_empty() {
            "nothing (empty file)".into()
        } else {
            format!("0x{shown}")
        })
        .to_string(),
    })
}

/// Reads several image files handed in one by one (no folders, so no DPOF): each file as it
/// was written to disk on arrival, read into memory one at a time (at most `max_image_bytes`).
pub fn read_files(
    files: Vec<(String, PathBuf)>,
    limits: &UploadLimits,
    staging: &Path,
) -> Result<Medium, MediumError> {
    read_files_as(files, limits, staging, Reading::Strict)
}

/// As [`read_files`], a bad file refusing the medium or listed as skipped by `reading`.
pub fn read_files_as(
    files: Vec<(String, PathBuf)>,
    limits: &UploadLimits,
    staging: &Path,
    reading: Reading,
) -> Result<Medium, MediumError> {
    let mut named = Vec::with_capacity(files.len());
    for (name, file) in files {
        let base = file_name(&name.replace('\\', "/"));
        let safe = safe_name(&base).ok_or_else(|| MediumError::UnsafeName(name.clone()))?;
        named.push((safe, file));
    }
    let mut taken = Taken {
        reading,
        ..Taken::default()
    };
    for (path, file) in named {
        let size = std::fs::metadata(&file)
            .map_err(|e| MediumError::Staging(e.to_string()))?
            .len();
        if size > limits.max_image_bytes {
            return Err(MediumError::TooLarge {
                what: format!("the file {path:?} ({size} bytes)"),
                limit: limits.max_image_bytes,
            });
        }
        let bytes = std::fs::read(&file).map_err(|e| MediumError::Staging(e.to_string()))?;
        taken.take(path, bytes, limits, staging)?;
    }
    taken.finish(limits)
}

/// Reads a card mounted at `root` (the terminal's card reader), as a ZIP of it would be read:
/// folders walked (symbolic links are not followed, so nothing outside the card is read), at
/// most `max_entries` files, each file's size and the total checked before it is read, each
/// image checked as it is taken; the DPOF print order found under `MISC/`.
pub fn read_dir_as(
    root: &Path,
    limits: &UploadLimits,
    staging: &Path,
    reading: Reading,
) -> Result<Medium, MediumError> {
    let unreadable = |name: &Path, e: std::io::Error| MediumError::Unreadable {
        name: name.display().to_string(),
        reason: e.to_string(),
    };
    // The files first, in a stable order (folders sorted as a card lists them).
    let mut files: Vec<(String, PathBuf, u64)> = Vec::new();
    let mut folders: Vec<(String, PathBuf)> = vec![(String::new(), root.to_path_buf())];
    while let Some((prefix, dir)) = folders.pop() {
        let mut entries: Vec<std::fs::DirEntry> = std::fs::read_dir(&dir)
            .map_err(|e| unreadable(&dir, e))?
            .collect::<std::io::Result<_>>()
            .map_err(|e| unreadable(&dir, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries.into_iter().rev() {
            let kind = entry
                .file_type()
                .map_err(|e| unreadable(&entry.path(), e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = format!("{prefix}{name}");
            if kind.is_dir() {
                folders.push((format!("{path}/"), entry.path()));
            } else if kind.is_file() {
                let size = entry
                    .metadata()
                    .map_err(|e| unreadable(&entry.path(), e))?
                    .len();
                files.push((path, entry.path(), size));
            }
            if files.len() + folders.len() > limits.max_entries {
                return Err(MediumError::TooManyEntries {
                    count: files.len() + folders.len(),
                    limit: limits.max_entries,
                });
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut taken = Taken {
        reading,
        ..Taken::default()
    };
    let mut total: u64 = 0;
    for (path, file, size) in files {
        let dpof = is_dpof_path(&path).is_some();
        if is_system_file(&path) && !dpof {
            continue;
        }
        let limit = if dpof {
            dpof::MAX_FILE as u64
        } else {
            limits.max_image_bytes
        };
        if size > limit {
            return Err(MediumError::TooLarge {
                what: format!("the file {path:?} ({size} bytes)"),
                limit,
            });
        }
        total = total.saturating_add(size);
        if total > limits.max_uncompressed_bytes {
            return Err(MediumError::TooLarge {
                what: "the card's photos".to_string(),
                limit: limits.max_uncompressed_bytes,
            });
        }
        let bytes = match std::fs::read(&file) {
            Ok(b) => b,
            Err(e) => {
                taken.skip_or_refuse(&path, unreadable(Path::new(&path), e))?;
                continue;
            }
        };
        if !dpof && let Err(e) = not_an_image_start(&path, &bytes) {
            taken.skip_or_refuse(&path, e)?;
            continue;
        }
        taken.take(path, bytes, limits, staging)?;
    }
    taken.finish(limits)
}

/// The medium as it is read: each file checked as it is taken.
struct Taken {
    dpof_file: Option<(String, Vec<u8>)>,
    images: Vec<MediumImage>,
    reading: Reading,
    skipped: Vec<Skipped>,
}

impl Default for Taken {
    fn default() -> Taken {
        Taken {
            dpof_file: None,
            images: Vec::new(),
            reading: Reading::Strict,
            skipped: Vec::new(),
        }
    }
}

impl Taken {
    /// A file that is not a sound image: listed when skipping, else the refusal. Limits
    /// (sizes, counts), unsafe names and the DPOF file refuse the medium either way.
    fn skip_or_refuse(&mut self, path: &str, e: MediumError) -> Result<(), MediumError> {
        match (&e, self.reading) {
            (
                MediumError::NotAnImage { reason, .. } | MediumError::Unreadable { reason, .. },
                Reading::SkipBad,
            ) => {
                self.skipped.push(Skipped {
                    path: path.to_string(),
                    reason: reason.clone(),
                });
                Ok(())
            }
            _ => Err(e),
        }
    }

    fn take(
        &mut self,
        path: String,
        bytes: Vec<u8>,
        limits: &UploadLimits,
        staging: &Path,
    ) -> Result<(), MediumError> {
        if let Some(root) = is_dpof_path(&path) {
            self.dpof_file = Some((root, bytes));
            return Ok(());
        }
        if is_system_file(&path) {
            return Ok(());
        }
        if self.images.len() >= limits.max_images {
            return Err(MediumError::TooManyImages {
                count: self.images.len() + 1,
                limit: limits.max_images,
            });
        }
        match check_image(&path, bytes, limits, staging) {
            Ok(image) => self.images.push(image),
            Err(e) => self.skip_or_refuse(&path, e)?,
        }
        Ok(())
    }

    fn finish(self, _limits: &UploadLimits) -> Result<Medium, MediumError> {
        let Taken {
            dpof_file,
            images,
            skipped,
            ..
        } = self;
        if images.is_empty() {
            return Err(MediumError::NoImages);
        }
        let dpof = match dpof_file {
            None => None,
            Some((root, bytes)) => Some(read_dpof(&root, &bytes, &images, &skipped)?),
        };
        Ok(Medium {
            images,
            dpof,
            skipped,
        })
    }
}

fn read_dpof(
    root: &str,
    bytes: &[u8],
    images: &[MediumImage],
    skipped: &[Skipped],
) -> Result<Vec<Chosen>, MediumError> {
    let parsed = dpof::parse(bytes).map_err(|e| MediumError::Dpof(e.to_string()))?;
    let by_path: BTreeMap<String, usize> = images
        .iter()
        .enumerate()
        .map(|(i, img)| (img.path.to_ascii_uppercase(), i))
        .collect();
    // Quantities per image, in the order the card lists them.
    let mut order: Vec<usize> = Vec::new();
    let mut quantities: BTreeMap<usize, u32> = BTreeMap::new();
    for job in &parsed.jobs {
        let sources = job
            .resolved_sources()
            .map_err(|e| MediumError::Dpof(e.to_string()))?;
        let printable = !matches!(job.print_type, PrintType::Index | PrintType::Multiple);
        for source in sources {
            let key = format!("{root}{source}").to_ascii_uppercase();
            let Some(&i) = by_path.get(&key) else {
                // A file left out as damaged is not printed; the print order stands.
                if skipped.iter().any(|s| s.path.to_ascii_uppercase() == key) {
                    continue;
                }
                return Err(MediumError::DpofMissingImage {
                    line: job.line,
                    path: source,
                });
            };
            if !printable || job.quantity == 0 {
                continue;
            }
            if !quantities.contains_key(&i) {
                order.push(i);
            }
            let q = quantities.entry(i).or_insert(0);
            *q = q.saturating_add(job.quantity).min(dpof::MAX_QUANTITY);
        }
    }
    if order.is_empty() {
        return Err(MediumError::DpofNothingToPrint);
    }
    Ok(order
        .into_iter()
        .map(|image| Chosen {
            image,
            quantity: quantities.get(&image).copied().unwrap_or(1),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_leave_the_folder_are_unsafe() {
        for bad in [
            "../x.jpg",
            "/etc/passwd",
            "a/../../b.jpg",
            "C:/x.jpg",
            "a\\..\\b.jpg",
            "",
        ] {
            assert!(safe_name(bad).is_none(), "{bad}");
        }
        assert_eq!(
            safe_name("DCIM/./100CANON/IMG_0001.JPG").unwrap(),
            "DCIM/100CANON/IMG_0001.JPG"
        );
    }

    #[test]
    fn the_print_order_is_found_under_a_top_folder() {
        assert_eq!(is_dpof_path("MISC/AUTPRINT.MRK"), Some(String::new()));
        assert_eq!(is_dpof_path("CARD/misc/autprint.mrk"), Some("CARD/".into()));
        assert_eq!(is_dpof_path("DCIM/IMG.JPG"), None);
    }

    #[test]
    fn not_a_zip() {
        let staging = tempfile::tempdir().unwrap();
        let e = read_zip(
            std::io::Cursor::new(b"hello, not a zip"),
            &UploadLimits::default(),
            staging.path(),
        )
        .unwrap_err();
        assert_eq!(e.kind(), "not_a_zip");
    }
}

#[cfg(test)]
mod bomb_tests {
    use super::*;
    use std::io::Write;

    /// A ZIP whose local and central headers claim 10 bytes for an entry that inflates to
    /// 2 MB: the reader counts the real bytes and stops at the limit.
    #[test]
    fn a_header_that_lies_about_the_size_is_caught_while_inflating() {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file("DCIM/BOMB.JPG", opts).unwrap();
        // It starts as a JPEG would, so only the count of inflated bytes stops it.
        let mut bomb = vec![0u8; 2_000_000];
        bomb[..4].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
        w.write_all(&bomb).unwrap();
        let mut bytes = w.finish().unwrap().into_inner();
        // Patch every uncompressed-size field (local header offset 22, central 24) to 10.
        let find = |sig: &[u8], bytes: &[u8]| bytes.windows(4).position(|win| win == sig);
        let local = find(b"PK\x03\x04", &bytes).unwrap();
        bytes[local + 22..local + 26].copy_from_slice(&10u32.to_le_bytes());
        let central = find(b"PK\x01\x02", &bytes).unwrap();
        bytes[central + 24..central + 28].copy_from_slice(&10u32.to_le_bytes());
        let limits = UploadLimits {
            max_image_bytes: 500_000,
            max_uncompressed_bytes: 1_000_000,
            ..UploadLimits::default()
        };
        let staging = tempfile::tempdir().unwrap();
        let e = read_zip(std::io::Cursor::new(bytes), &limits, staging.path()).unwrap_err();
        assert!(matches!(e, MediumError::TooLarge { .. }), "{e}");
        // Nothing is left behind in the staging directory.
        assert_eq!(std::fs::read_dir(staging.path()).unwrap().count(), 0);
    }
}

#[cfg(test)]
mod card_dir_tests {
    use super::*;

    fn jpeg(seed: u64) -> Vec<u8> {
        let img = reprint_media::synthetic::photo(seed, 64, 48);
        reprint_media::synthetic::jpeg(&img, 85).unwrap()
    }

    /// A card folder with a print order and a file that is not a photo: read from its folders,
    /// the print order honoured, the stray file listed and left out.
    #[test]
    fn a_mounted_card_is_read_with_its_print_order_and_a_bad_file_left_out() {
        let card = tempfile::tempdir().unwrap();
        let staging = tempfile::tempdir().unwrap();
        let dcim = card.path().join("DCIM/100CANON");
        std::fs::create_dir_all(&dcim).unwrap();
        std::fs::create_dir_all(card.path().join("MISC")).unwrap();
        std::fs::write(dcim.join("IMG_0001.JPG"), jpeg(1)).unwrap();
        std::fs::write(dcim.join("IMG_0007.JPG"), jpeg(7)).unwrap();
        std::fs::write(dcim.join("NOTES.TXT"), b"not a photo").unwrap();
        std::fs::write(
            card.path().join("MISC/AUTPRINT.MRK"),
            "[HDR]\r\nGEN REV = 01.10\r\n\r\n[JOB]\r\nPRT PID = 001\r\nPRT TYP = STD\r\nPRT QTY = 002\r\nIMG FMT = EXIF2 -J\r\n<IMG SRC = \"../DCIM/100CANON/IMG_0007.JPG\">\r\n",
        )
        .unwrap();
        let limits = UploadLimits::default();
        let medium = read_dir_as(card.path(), &limits, staging.path(), Reading::SkipBad).unwrap();
        let names: Vec<&str> = medium.images.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            names,
            ["DCIM/100CANON/IMG_0001.JPG", "DCIM/100CANON/IMG_0007.JPG"]
        );
        assert_eq!(
            medium.dpof,
            Some(vec![Chosen {
                image: 1,
                quantity: 2
            }])
        );
        assert_eq!(medium.skipped.len(), 1);
        assert_eq!(medium.skipped[0].path, "DCIM/100CANON/NOTES.TXT");
        // Read strictly, the stray file refuses the card, naming it.
        let e = read_dir_as(card.path(), &limits, staging.path(), Reading::Strict).unwrap_err();
        assert!(e.to_string().contains("NOTES.TXT"), "{e}");
    }
}

#[cfg(test)]
mod damaged_tests {
    use super::*;

    fn jpeg(seed: u64) -> Vec<u8> {
        let img = reprint_media::synthetic::photo(seed, 320, 240);
        reprint_media::synthetic::jpeg(&img, 85).unwrap()
    }

    /// A JPEG whose header reads but whose pixels cannot be decoded (SOF0 changed to SOF9,
    /// arithmetic coding): refused at intake, naming the file, as the gateway refuses it; a
    /// sound image beside it is not what is named.
    /// The files as the intake writes them on arrival.
    fn on_disk(dir: &Path, files: Vec<(&str, Vec<u8>)>) -> Vec<(String, PathBuf)> {
        files
            .into_iter()
            .map(|(name, bytes)| {
                let path = dir.join(format!("upload-{name}"));
                std::fs::write(&path, bytes).unwrap();
                (name.to_string(), path)
            })
            .collect()
    }

    #[test]
    fn an_image_whose_pixels_do_not_decode_is_refused_naming_it() {
        let uploads = tempfile::tempdir().unwrap();
        let staging = tempfile::tempdir().unwrap();
        let mut broken = jpeg(1);
        let sof = broken
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("a baseline JPEG has SOF0");
        broken[sof + 1] = 0xC9;
        let files = on_disk(
            uploads.path(),
            vec![("IMG_0001.JPG", jpeg(2)), ("IMG_0002.JPG", broken)],
        );
        let e = read_files(files, &UploadLimits::default(), staging.path()).unwrap_err();
        assert!(
            matches!(&e, MediumError::NotAnImage { name, .. } if name == "IMG_0002.JPG"),
            "{e}"
        );
        // The sound image checked before the broken one is not left staged.
        assert_eq!(std::fs::read_dir(staging.path()).unwrap().count(), 0);
        let sound = on_disk(uploads.path(), vec![("IMG_0001.JPG", jpeg(2))]);
        let medium = read_files(sound, &UploadLimits::default(), staging.path()).unwrap();
        assert_eq!(medium.images.len(), 1);
        // The image waits on disk, byte for byte, until the medium is dropped.
        let staged = std::fs::read(&medium.images[0].staged).unwrap();
        assert_eq!(staged, jpeg(2));
        let path = medium.images[0].staged.to_path_buf();
        drop(medium);
        assert!(!path.exists());
    }
}
