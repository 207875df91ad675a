//! JPEG marker structure (ISO 10918-1 B.1): walking segments without decoding pixels.
//!
//! Used by validation (frame size from SOF, completeness up to EOI), ICC extraction (APP2),
//! EXIF orientation (APP1 "Exif") and the XMP splice (APP1 "http://ns.adobe.com/xap/1.0/").

use std::ops::Range;

use crate::error::{MediaError, Result};

/// Start of image.
pub(crate) const SOI: u8 = 0xD8;
/// End of image.
pub(crate) const EOI: u8 = 0xD9;
/// Start of scan.
pub(crate) const SOS: u8 = 0xDA;
/// APP0 (JFIF).
pub(crate) const APP0: u8 = 0xE0;
/// APP1 (Exif, XMP).
pub(crate) const APP1: u8 = 0xE1;
/// APP2 (ICC_PROFILE).
pub(crate) const APP2: u8 = 0xE2;

/// One marker segment with a length field.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub marker: u8,
    /// Offset of the 0xFF that starts the marker.
    pub start: usize,
    /// The payload after the two length bytes.
    pub data: Range<usize>,
}

impl Segment {
    /// One past the last byte of the segment.
    pub fn end(&self) -> usize {
        self.data.end
    }
}

/// Frame header values (SOFn).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    pub width: u32,
    pub height: u32,
    /// Components per pixel (1 grey, 3 colour, 4 CMYK).
    pub components: u8,
    /// Bits per sample (8, or 12/16 for extended and lossless frames).
    pub precision: u8,
}

impl Frame {
    /// Bytes the decoded pixels take: width x height x components x bytes per sample.
    pub fn decoded_bytes(&self) -> u64 {
        let per_sample = if self.precision > 8 { 2 } else { 1 };
        u64::from(self.width) * u64::from(self.height) * u64::from(self.components) * per_sample
    }
}

/// Everything before the first scan.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    /// Segments between SOI and the first SOS (the SOS segment is not in the list).
    pub segments: Vec<Segment>,
    /// Offset of the first SOS marker: everything from here on is scan data and later tables.
    pub first_sos: usize,
    pub frame: Frame,
}

pub(crate) fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.len() >= 3 && bytes[0] == 0xFF && bytes[1] == SOI && bytes[2] == 0xFF
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

fn standalone(marker: u8) -> bool {
    matches!(marker, 0x01 | 0xD0..=0xD7 | SOI | EOI)
}

fn is_sof(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

/// Reads the marker at `pos` (skipping fill bytes): returns (marker, offset of its 0xFF, offset after it).
fn marker_at(bytes: &[u8], mut pos: usize) -> Result<(u8, usize, usize)> {
    match bytes.get(pos) {
        None => return Err(MediaError::Truncated("JPEG ends between segments".into())),
        Some(0xFF) => {}
        Some(b) => {
            return Err(MediaError::Malformed(format!(
                "JPEG: expected a marker at byte {pos}, found 0x{b:02X}"
            )));
        }
    }
    while bytes.get(pos + 1) == Some(&0xFF) {
        pos += 1;
    }
    match bytes.get(pos + 1) {
        None => Err(MediaError::Truncated("JPEG ends inside a marker".into())),
        Some(&m) => Ok((m, pos, pos + 2)),
    }
}

/// Reads the segment whose marker `m` starts at `start` and whose length field is at `after`.
fn segment_at(bytes: &[u8], m: u8, start: usize, after: usize) -> Result<Segment> {
    let len = u16_at(bytes, after)
        .ok_or_else(|| MediaError::Truncated("JPEG ends inside a segment length".into()))?
        as usize;
    if len < 2 {
        return Err(MediaError::Malformed(format!(
            "JPEG: segment 0x{m:02X} at byte {start} has length {len}"
        )));
    }
    let end = after + len;
    if end > bytes.len() {
        return Err(MediaError::Truncated(format!(
            "JPEG segment 0x{m:02X} at byte {start} needs {len} bytes, the file ends first"
        )));
    }
    Ok(Segment {
        marker: m,
        start,
        data: after + 2..end,
    })
}

/// Parses SOI and the segments up to the first SOS; needs a frame header (SOFn) before it.
pub(crate) fn parse_header(bytes: &[u8]) -> Result<Header> {
    if !is_jpeg(bytes) {
        return Err(MediaError::Malformed("JPEG: no SOI marker".into()));
    }
    let mut pos = 2;
    let mut segments = Vec::new();
    let mut frame = None;
    loop {
        let (m, start, after) = marker_at(bytes, pos)?;
        if m == EOI {
            return Err(MediaError::Malformed("JPEG: EOI before any scan".into()));
        }
        if m == SOI {
            return Err(MediaError::Malformed("JPEG: second SOI in header".into()));
        }
        if standalone(m) {
            pos = after;
            continue;
        }
        let seg = segment_at(bytes, m, start, after)?;
        if is_sof(m) {
            let d = &bytes[seg.data.clone()];
            if d.len() < 6 {
                return Err(MediaError::Malformed("JPEG: frame header too short".into()));
            }
            let height = u32::from(u16::from_be_bytes([d[1], d[2]]));
            let width = u32::from(u16::from_be_bytes([d[3], d[4]]));
            if width == 0 || height == 0 {
                return Err(MediaError::Malformed(format!(
                    "JPEG: frame declares {width}x{height} pixels"
                )));
            }
            let (precision, components) = (d[0], d[5]);
            if !matches!(components, 1..=4) {
                return Err(MediaError::Malformed(format!(
                    "JPEG: frame declares {components} colour components"
                )));
            }
            frame = Some(Frame {
                width,
                height,
                components,
                precision,
            });
        }
        if m == SOS {
            let frame = frame
                .ok_or_else(|| MediaError::Malformed("JPEG: scan before frame header".into()))?;
            return Ok(Header {
                segments,
                first_sos: start,
                frame,
            });
        }
        pos = seg.end();
        segments.push(seg);
    }
}

/// Walks scans and segments from the first SOS to EOI; returns the offset just after EOI.
/// A file that ends before EOI is [`MediaError::Truncated`].
pub(crate) fn check_complete(bytes: &[u8], first_sos: usize) -> Result<usize> {
    let mut pos = first_sos;
    loop {
        let (m, start, after) = marker_at(bytes, pos)?;
        if m == EOI {
            return Ok(after);
        }
        if standalone(m) {
            pos = after;
            continue;
        }
        let seg = segment_at(bytes, m, start, after)?;
        pos = seg.end();
        if m == SOS {
            pos = skip_entropy(bytes, pos)?;
        }
    }
}

/// Skips entropy-coded data (with byte stuffing and restart markers); returns the offset of
/// the next real marker.
fn skip_entropy(bytes: &[u8], mut pos: usize) -> Result<usize> {
    loop {
        let rel = bytes
            .get(pos..)
            .and_then(|rest| rest.iter().position(|&b| b == 0xFF))
            .ok_or_else(|| MediaError::Truncated("JPEG ends inside scan data (no EOI)".into()))?;
        let ff = pos + rel;
        match bytes.get(ff + 1) {
            None => return Err(MediaError::Truncated("JPEG ends inside scan data".into())),
            Some(0x00) | Some(0xD0..=0xD7) => pos = ff + 2,
            Some(0xFF) => pos = ff + 1,
            Some(_) => return Ok(ff),
        }
    }
}

/// Builds one marker segment (marker, length, payload). Payload must be at most 65533 bytes.
pub(crate) fn segment_bytes(marker: u8, payload: &[u8]) -> Result<Vec<u8>> {
    let len = u16::try_from(payload.len() + 2).map_err(|_| {
        MediaError::Encode(format!("JPEG segment payload of {} bytes", payload.len()))
    })?;
    let mut out = Vec::with_capacity(payload.len() + 4);
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// The payload of every `marker` segment of the header whose payload starts with `prefix`,
/// with the prefix removed.
pub(crate) fn payloads<'a>(
    bytes: &'a [u8],
    header: &'a Header,
    marker: u8,
    prefix: &'a [u8],
) -> impl Iterator<Item = &'a [u8]> + 'a {
    header
        .segments
        .iter()
        .filter(move |s| s.marker == marker)
        .filter_map(move |s| bytes[s.data.clone()].strip_prefix(prefix))
}
