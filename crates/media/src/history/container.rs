//! Print history beside the image: a ZIP container (seed 004: "converts this individual user
//! file and graphics data into ... one file format such as ZIP ... returned to the user") with
//! the image stored as it is (not deflated, so its bytes and id are unchanged) and
//! `history.json`.

use std::io::{Read, Seek, Write};

use serde::{Deserialize, Serialize};
use zip::{CompressionMethod, ZipArchive, ZipWriter, write::SimpleFileOptions};

use super::PrintHistory;
use crate::error::{MediaError, Result};
use crate::identity::ContentHash;
use crate::validate::Limits;

/// Name of the history entry in the container.
pub const HISTORY_FILE: &str = "history.json";
/// Largest `history.json` accepted.
const MAX_HISTORY_JSON: u64 = 4 << 20;

/// The contents of `history.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryFile {
    /// Format version, 1.
    pub version: u32,
    /// Name of the image entry in the container.
    pub image: String,
    /// SHA-256 of the image entry: the history belongs to exactly these bytes.
    pub image_sha256: ContentHash,
    /// The print history.
    pub history: PrintHistory,
}

/// An image with its print history, as read from a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// Name of the image entry (the customer's file name, kept for them; never used as identity).
    pub image_name: String,
    /// The image bytes, unchanged.
    pub image: Vec<u8>,
    /// The history.
    pub history: PrintHistory,
}

fn zip_err(e: zip::result::ZipError) -> MediaError {
    match e {
        zip::result::ZipError::Io(io) => MediaError::Io(io),
        other => MediaError::Container(other.to_string()),
    }
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name == HISTORY_FILE
        || name.contains(['/', '\\'])
        || name.chars().any(char::is_control)
        || name == ".."
    {
        return Err(MediaError::Container(format!(
            "image entry name {name:?} must be a plain file name other than {HISTORY_FILE}"
        )));
    }
    Ok(())
}

/// Writes a container: `image_name` stored uncompressed, then `history.json`.
pub fn write_container<W: Write + Seek>(
    writer: W,
    image_name: &str,
    image: &[u8],
    history: &PrintHistory,
) -> Result<W> {
    check_name(image_name)?;
    history.validate()?;
    let file = HistoryFile {
        version: 1,
        image: image_name.to_owned(),
        image_sha256: ContentHash::of_bytes(image),
        history: history.clone(),
    };
    let json = serde_json::to_vec_pretty(&file)
        .map_err(|e| MediaError::Container(format!("history.json: {e}")))?;
    let mut zip = ZipWriter::new(writer);
    let stored = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .large_file(image.len() as u64 >= u64::from(u32::MAX));
    zip.start_file(image_name, stored).map_err(zip_err)?;
    zip.write_all(image)?;
    let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    zip.start_file(HISTORY_FILE, deflated).map_err(zip_err)?;
    zip.write_all(&json)?;
    zip.finish().map_err(zip_err)
}

/// Writes a container into memory.
pub fn container_bytes(image_name: &str, image: &[u8], history: &PrintHistory) -> Result<Vec<u8>> {
    Ok(write_container(std::io::Cursor::new(Vec::new()), image_name, image, history)?.into_inner())
}

fn read_entry<R: Read>(entry: R, declared: u64, limit: u64, what: &str) -> Result<Vec<u8>> {
    if declared > limit {
        return Err(MediaError::Container(format!(
            "{what} declares {declared} bytes, over the limit of {limit}"
        )));
    }
    let mut out = Vec::with_capacity(usize::try_from(declared).unwrap_or(0).min(64 << 20));
    entry.take(limit + 1).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(MediaError::Container(format!(
            "{what} is larger than {limit} bytes"
        )));
    }
    Ok(out)
}

/// Reads a container: the history must name the image entry and match its SHA-256. The image
/// is held to `limits.max_bytes`.
pub fn read_container<R: Read + Seek>(reader: R, limits: &Limits) -> Result<Container> {
    let mut zip = ZipArchive::new(reader).map_err(zip_err)?;
    let json = {
        let entry = zip.by_name(HISTORY_FILE).map_err(|e| match e {
            zip::result::ZipError::FileNotFound => {
                MediaError::Container(format!("no {HISTORY_FILE} in the container"))
            }
            other => zip_err(other),
        })?;
        let size = entry.size();
        read_entry(entry, size, MAX_HISTORY_JSON, HISTORY_FILE)?
    };
    let file: HistoryFile = serde_json::from_slice(&json)
        .map_err(|e| MediaError::Container(format!("{HISTORY_FILE}: {e}")))?;
    if file.version != 1 {
        return Err(MediaError::Container(format!(
            "{HISTORY_FILE} version {} is not supported",
            file.version
        )));
    }
    file.history.validate()?;
    let image = {
        let entry = zip.by_name(&file.image).map_err(|e| match e {
            zip::result::ZipError::FileNotFound => MediaError::Container(format!(
                "{HISTORY_FILE} names image {:?}, which is not in the container",
                file.image
            )),
            other => zip_err(other),
        })?;
        let size = entry.size();
        read_entry(entry, size, limits.max_bytes, "image entry")?
    };
    let actual = ContentHash::of_bytes(&image);
    if actual != file.image_sha256 {
        return Err(MediaError::Container(format!(
            "{HISTORY_FILE} belongs to image {}, the stored image is {actual}",
            file.image_sha256
        )));
    }
    Ok(Container {
        image_name: file.image,
        image,
        history: file.history,
    })
}
