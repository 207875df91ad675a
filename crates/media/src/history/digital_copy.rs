//! The digital copy of an order (seed 000, claims 2 and 18: "a digital media containing the
//! image"): one ZIP holding, per original, its container ([`super::container`]: the image
//! unchanged beside `history.json`), named `<n>-<name>.zip` in the order's order. The gateway
//! serves it as a download; a counter with a writer puts the same ZIP on a CD or USB stick.
//! Written here once for both.

use std::io::{Seek, Write};

use zip::{CompressionMethod, ZipWriter, write::SimpleFileOptions};

use super::PrintHistory;
use super::container::{HISTORY_FILE, container_bytes};
use crate::error::{MediaError, Result};

/// A name safe as a ZIP entry or a file on a medium (a plain file name, as the container
/// requires): path separators and control characters become `_`.
pub fn entry_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let clean = clean.trim();
    if clean.is_empty() || clean.chars().all(|c| c == '.') || clean == HISTORY_FILE {
        "image".to_string()
    } else {
        clean.to_string()
    }
}

/// The numbered names of `count` originals: `<n>-<name>`, `n` padded to the width of `count`
/// (`01-IMG_0001.JPG` of ten), so they sort in the order's order.
pub fn numbered(n: usize, count: usize, name: &str) -> String {
    let width = count.to_string().len();
    format!("{:0width$}-{}", n + 1, entry_name(name))
}

/// One original of the copy: its name (the customer's file name), its bytes unchanged and its
/// print history.
pub struct Original<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
    pub history: &'a PrintHistory,
}

/// Writes the digital copy: per original, its container as `<n>-<name>.zip`, stored (the
/// containers are mostly JPEG bytes already).
pub fn write_digital_copy<W: Write + Seek>(writer: W, originals: &[Original<'_>]) -> Result<W> {
    let zip_err = |e: zip::result::ZipError| match e {
        zip::result::ZipError::Io(io) => MediaError::Io(io),
        other => MediaError::Container(other.to_string()),
    };
    let mut zip = ZipWriter::new(writer);
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    for (n, o) in originals.iter().enumerate() {
        let name = entry_name(o.name);
        let container = container_bytes(&name, o.bytes, o.history)?;
        let options = stored.large_file(container.len() as u64 >= u64::from(u32::MAX));
        zip.start_file(
            format!("{}.zip", numbered(n, originals.len(), &name)),
            options,
        )
        .map_err(zip_err)?;
        zip.write_all(&container)?;
    }
    zip.finish().map_err(zip_err)
}

/// The digital copy in memory.
pub fn digital_copy_bytes(originals: &[Original<'_>]) -> Result<Vec<u8>> {
    Ok(write_digital_copy(std::io::Cursor::new(Vec::new()), originals)?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_plain_file_names() {
        assert_eq!(entry_name("a/b\\c.jpg"), "a_b_c.jpg");
        assert_eq!(entry_name("x\u{7}.jpg"), "x_.jpg");
        assert_eq!(entry_name(".."), "image");
        assert_eq!(entry_name("history.json"), "image");
        assert_eq!(entry_name("写真.jpg"), "写真.jpg");
        assert_eq!(numbered(0, 3, "IMG_0001.JPG"), "1-IMG_0001.JPG");
        assert_eq!(numbered(8, 10, "a/b.jpg"), "09-a_b.jpg");
    }

    #[test]
    fn each_original_is_a_container_with_its_bytes_unchanged() {
        let history = PrintHistory::new();
        let a = b"first image bytes".to_vec();
        let b = b"second image bytes".to_vec();
        let zip = digital_copy_bytes(&[
            Original {
                name: "IMG_0001.JPG",
                bytes: &a,
                history: &history,
            },
            Original {
                name: "IMG_0002.JPG",
                bytes: &b,
                history: &history,
            },
        ])
        .unwrap();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        assert_eq!(archive.len(), 2);
        let mut inner = Vec::new();
        std::io::Read::read_to_end(
            &mut archive.by_name("2-IMG_0002.JPG.zip").unwrap(),
            &mut inner,
        )
        .unwrap();
        let c = super::super::container::read_container(
            std::io::Cursor::new(inner),
            &crate::validate::Limits::default(),
        )
        .unwrap();
        assert_eq!(c.image, b);
        assert_eq!(c.image_name, "IMG_0002.JPG");
    }
}
