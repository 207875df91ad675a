//! PNG chunk structure: walking chunks with CRC checks, building chunks.

use std::ops::Range;

use crate::error::{MediaError, Result};

/// The eight bytes every PNG starts with.
pub(crate) const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// One chunk of a PNG file.
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    pub kind: [u8; 4],
    /// Offset of the length field.
    pub start: usize,
    /// The chunk data.
    pub data: Range<usize>,
}

impl Chunk {
    /// One past the CRC.
    pub fn end(&self) -> usize {
        self.data.end + 4
    }
}

pub(crate) fn is_png(bytes: &[u8]) -> bool {
    bytes.starts_with(&SIGNATURE)
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Width and height from IHDR, reading only the first 24 bytes.
pub(crate) fn header_size(bytes: &[u8]) -> Result<(u32, u32)> {
    if !is_png(bytes) {
        return Err(MediaError::Malformed("PNG: bad signature".into()));
    }
    if bytes.len() < 33 {
        return Err(MediaError::Truncated("PNG ends inside IHDR".into()));
    }
    if &bytes[12..16] != b"IHDR" || u32_at(bytes, 8) != Some(13) {
        return Err(MediaError::Malformed(
            "PNG: first chunk is not a 13-byte IHDR".into(),
        ));
    }
    let w = u32_at(bytes, 16).unwrap_or(0);
    let h = u32_at(bytes, 20).unwrap_or(0);
    if w == 0 || h == 0 || w > 0x7FFF_FFFF || h > 0x7FFF_FFFF {
        return Err(MediaError::Malformed(format!(
            "PNG: IHDR declares {w}x{h} pixels"
        )));
    }
    Ok((w, h))
}

/// Bytes the decoded pixels take, from IHDR: width x height x channels x bytes per sample as
/// the decoder hands them out (palette expanded to RGBA, fewer than 8 bits widened to 8).
pub(crate) fn decoded_bytes(bytes: &[u8]) -> Result<u64> {
    let (w, h) = header_size(bytes)?;
    let (depth, colour) = (bytes[24], bytes[25]);
    let channels: u64 = match colour {
        0 => 1,
        2 => 3,
        3 => 4,
        4 => 2,
        6 => 4,
        other => {
            return Err(MediaError::Malformed(format!(
                "PNG: IHDR declares colour type {other}"
            )));
        }
    };
    let per_sample = if depth == 16 { 2 } else { 1 };
    Ok(u64::from(w) * u64::from(h) * channels * per_sample)
}

/// All chunks from IHDR to IEND, each CRC checked. A file that ends before IEND is
/// [`MediaError::Truncated`].
pub(crate) fn chunks(bytes: &[u8]) -> Result<Vec<Chunk>> {
    header_size(bytes)?;
    let mut pos = SIGNATURE.len();
    let mut out = Vec::new();
    loop {
        let Some(len) = u32_at(bytes, pos) else {
            return Err(MediaError::Truncated("PNG ends before IEND".into()));
        };
        if len > 0x7FFF_FFFF {
            return Err(MediaError::Malformed(format!(
                "PNG: chunk length {len} at byte {pos}"
            )));
        }
        let data_start = pos + 8;
        let data_end = data_start
            .checked_add(len as usize)
            .ok_or_else(|| MediaError::Malformed("PNG: chunk length overflows".into()))?;
        if data_end + 4 > bytes.len() {
            return Err(MediaError::Truncated(format!(
                "PNG chunk at byte {pos} needs {len} bytes, the file ends first"
            )));
        }
        let mut kind = [0u8; 4];
        kind.copy_from_slice(&bytes[pos + 4..pos + 8]);
        if !kind.iter().all(u8::is_ascii_alphabetic) {
            return Err(MediaError::Malformed(format!(
                "PNG: bad chunk type at byte {pos}"
            )));
        }
        let crc = crc32fast::hash(&bytes[pos + 4..data_end]);
        if u32_at(bytes, data_end) != Some(crc) {
            return Err(MediaError::Malformed(format!(
                "PNG: CRC mismatch in {} chunk at byte {pos}",
                String::from_utf8_lossy(&kind)
            )));
        }
        let chunk = Chunk {
            kind,
            start: pos,
            data: data_start..data_end,
        };
        pos = chunk.end();
        let is_end = &kind == b"IEND";
        out.push(chunk);
        if is_end {
            return Ok(out);
        }
    }
}

/// Builds a chunk: length, type, data, CRC over type and data.
pub(crate) fn chunk_bytes(kind: &[u8; 4], data: &[u8]) -> Result<Vec<u8>> {
    let len = u32::try_from(data.len())
        .ok()
        .filter(|&l| l <= 0x7FFF_FFFF)
        .ok_or_else(|| MediaError::Encode(format!("PNG chunk of {} bytes", data.len())))?;
    let mut out = Vec::with_capacity(data.len() + 12);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32fast::hash(&out[4..]);
    out.extend_from_slice(&crc.to_be_bytes());
    Ok(out)
}
