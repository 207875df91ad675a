//! Validation by content: what an uploaded file really is, checked against size limits from its
//! header before a single pixel is decoded.
//!
//! The file name is never consulted (seed 004: names can be changed at will). A PNG whose IHDR
//! claims 100000x100000 pixels is refused after reading 24 bytes; a JPEG's frame size comes from
//! its SOF segment; truncation is found by walking the file's structure (JPEG to EOI, PNG to
//! IEND with every CRC, WebP against its RIFF size) and, for TIFF, by the decoder.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader, metadata::Orientation};
use serde::{Deserialize, Serialize};

use crate::error::{MediaError, Result};
use crate::{jpeg, png};

/// Image formats recognised by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// JPEG (JFIF or Exif).
    Jpeg,
    /// PNG.
    Png,
    /// WebP (RIFF container).
    WebP,
    /// TIFF, either byte order.
    Tiff,
}

impl ImageFormat {
    /// Short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "JPEG",
            ImageFormat::Png => "PNG",
            ImageFormat::WebP => "WebP",
            ImageFormat::Tiff => "TIFF",
        }
    }

    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::WebP => "image/webp",
            ImageFormat::Tiff => "image/tiff",
        }
    }

    fn to_image(self) -> image::ImageFormat {
        match self {
            ImageFormat::Jpeg => image::ImageFormat::Jpeg,
            ImageFormat::Png => image::ImageFormat::Png,
            ImageFormat::WebP => image::ImageFormat::WebP,
            ImageFormat::Tiff => image::ImageFormat::Tiff,
        }
    }
}

/// Recognises the format from the first bytes; `None` for anything else.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    if jpeg::is_jpeg(bytes) {
        Some(ImageFormat::Jpeg)
    } else if png::is_png(bytes) {
        Some(ImageFormat::Png)
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        Some(ImageFormat::Tiff)
    } else {
        None
    }
}

/// Limits checked before decoding. [`Limits::default`] suits customer uploads: up to 100 MiB,
/// 20000 pixels a side and 150 megapixels (a medium-format camera's frame fits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest accepted file, in bytes.
    pub max_bytes: u64,
    /// Largest accepted width in pixels.
    pub max_width: u32,
    /// Largest accepted height in pixels.
    pub max_height: u32,
    /// Largest accepted width x height.
    pub max_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 100 * 1024 * 1024,
            max_width: 20_000,
            max_height: 20_000,
            max_pixels: 150_000_000,
        }
    }
}

impl Limits {
    /// Checks a declared size against the limits.
    pub fn check_size(&self, width: u32, height: u32) -> Result<()> {
        if width > self.max_width || height > self.max_height {
            return Err(MediaError::TooLarge {
                width,
                height,
                max_width: self.max_width,
                max_height: self.max_height,
            });
        }
        let pixels = u64::from(width) * u64::from(height);
        if pixels > self.max_pixels {
            return Err(MediaError::TooManyPixels {
                pixels,
                limit: self.max_pixels,
            });
        }
        Ok(())
    }

    fn check_bytes(&self, len: usize) -> Result<()> {
        let size = len as u64;
        if size > self.max_bytes {
            return Err(MediaError::TooManyBytes {
                size,
                limit: self.max_bytes,
            });
        }
        Ok(())
    }

    fn decoder_limits(&self) -> image::Limits {
        let mut l = image::Limits::default();
        l.max_image_width = Some(self.max_width);
        l.max_image_height = Some(self.max_height);
        // RGBA16 output plus the decoder's own buffers.
        l.max_alloc = Some(self.max_pixels.saturating_mul(8).saturating_add(64 << 20));
        l
    }
}

/// What [`inspect`] learned without decoding pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// Format found from the content.
    pub format: ImageFormat,
    /// Stored width in pixels (before EXIF orientation).
    pub width: u32,
    /// Stored height in pixels (before EXIF orientation).
    pub height: u32,
    /// EXIF orientation 1-8 (1 when absent or unreadable).
    pub orientation: u8,
}

impl ImageInfo {
    /// Width and height as displayed, after the EXIF orientation.
    pub fn display_size(&self) -> (u32, u32) {
        if self.orientation >= 5 {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }
}

fn first_bytes(bytes: &[u8]) -> String {
    let n = bytes.len().min(8);
    if n == 0 {
        "nothing (empty file)".into()
    } else {
        format!("0x{}", hex::encode(&bytes[..n]))
    }
}

/// Checks an upload from its content: format, byte size, declared pixel size against `limits`
/// (before any pixel is decoded), and a complete structure (a truncated JPEG, PNG or WebP is an
/// error here; a truncated TIFF is found by [`decode`]).
pub fn inspect(bytes: &[u8], limits: &Limits) -> Result<ImageInfo> {
    limits.check_bytes(bytes.len())?;
    let format = sniff(bytes).ok_or_else(|| MediaError::UnknownFormat(first_bytes(bytes)))?;
    let (width, height, orientation) = match format {
        ImageFormat::Jpeg => {
            let header = jpeg::parse_header(bytes)?;
            limits.check_size(header.frame.width, header.frame.height)?;
            jpeg::check_complete(bytes, header.first_sos)?;
            let orientation = jpeg::payloads(bytes, &header, jpeg::APP1, b"Exif\0\0")
                .next()
                .and_then(Orientation::from_exif_chunk);
            (header.frame.width, header.frame.height, orientation)
        }
        ImageFormat::Png => {
            let (w, h) = png::header_size(bytes)?;
            limits.check_size(w, h)?;
            let chunks = png::chunks(bytes)?;
            if !chunks.iter().any(|c| &c.kind == b"IDAT") {
                return Err(MediaError::Malformed("PNG has no image data (IDAT)".into()));
            }
            let orientation = chunks
                .iter()
                .find(|c| &c.kind == b"eXIf")
                .and_then(|c| Orientation::from_exif_chunk(&bytes[c.data.clone()]));
            (w, h, orientation)
        }
        ImageFormat::WebP | ImageFormat::Tiff => {
            if format == ImageFormat::WebP {
                let riff = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
                if riff.saturating_add(8) > bytes.len() {
                    return Err(MediaError::Truncated(format!(
                        "WebP declares {} bytes, the file has {}",
                        riff.saturating_add(8),
                        bytes.len()
                    )));
                }
            }
            let mut reader = ImageReader::with_format(Cursor::new(bytes), format.to_image());
            reader.limits(limits.decoder_limits());
            let mut decoder = reader.into_decoder().map_err(|e| header_error(format, e))?;
            let (w, h) = decoder.dimensions();
            limits.check_size(w, h)?;
            let orientation = decoder.orientation().ok();
            (w, h, orientation)
        }
    };
    Ok(ImageInfo {
        format,
        width,
        height,
        orientation: orientation.map_or(1, Orientation::to_exif),
    })
}

fn header_error(format: ImageFormat, e: image::ImageError) -> MediaError {
    match MediaError::from(e) {
        MediaError::Decode(m) => MediaError::Malformed(format!("{} header: {m}", format.name())),
        other => other,
    }
}

/// [`inspect`] then decode all pixels (stored orientation), with the decoder held to the same
/// limits.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<(ImageInfo, DynamicImage)> {
    let info = inspect(bytes, limits)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), info.format.to_image());
    reader.limits(limits.decoder_limits());
    let img = reader.decode()?;
    Ok((info, img))
}

/// [`decode`] and turn the pixels upright by the EXIF orientation.
pub fn decode_oriented(bytes: &[u8], limits: &Limits) -> Result<(ImageInfo, DynamicImage)> {
    let (info, mut img) = decode(bytes, limits)?;
    apply_orientation(&mut img, info.orientation);
    Ok((info, img))
}

/// Applies an EXIF orientation value (1-8; anything else is left alone).
pub fn apply_orientation(img: &mut DynamicImage, orientation: u8) {
    if let Some(o) = Orientation::from_exif(orientation) {
        img.apply_orientation(o);
    }
}
