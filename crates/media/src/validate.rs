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

mod scan;

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
/// 20000 pixels a side, 150 megapixels, and decoded pixels of at most
/// [`DEFAULT_MAX_DECODED_BYTES`] (a 50-megapixel RGB photo fits; a 12000x12000 RGBA16 PNG, 1.2 GB
/// once opened, does not).
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
    /// Most bytes the decoded pixels may take (width x height x channels x bytes per sample,
    /// read from the header before anything is allocated). Every decoder of this crate
    /// (validation, thumbnails, perceptual hash, edits, print rendering) is held to it.
    #[serde(default = "default_max_decoded_bytes")]
    pub max_decoded_bytes: u64,
}

/// The default of [`Limits::max_decoded_bytes`]: 160 MiB, a 50-megapixel RGB8 photo (150 MB)
/// and a little room.
pub const DEFAULT_MAX_DECODED_BYTES: u64 = 160 * 1024 * 1024;

fn default_max_decoded_bytes() -> u64 {
    DEFAULT_MAX_DECODED_BYTES
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 100 * 1024 * 1024,
            max_width: 20_000,
            max_height: 20_000,
            max_pixels: 150_000_000,
            max_decoded_bytes: DEFAULT_MAX_DECODED_BYTES,
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

    /// Checks the memory the decoded pixels would take (from the header) against
    /// [`Limits::max_decoded_bytes`].
    pub fn check_decoded(&self, width: u32, height: u32, needed: u64) -> Result<()> {
        if needed > self.max_decoded_bytes {
            return Err(MediaError::TooMuchMemory {
                width,
                height,
                needed,
                limit: self.max_decoded_bytes,
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

    /// The `image` crate's limits: the same sizes, and no single allocation over the decoded
    /// limit (plus room for a decoder's tables), so a header that lies is still stopped.
    pub(crate) fn decoder_limits(&self) -> image::Limits {
        let mut l = image::Limits::default();
        l.max_image_width = Some(self.max_width);
        l.max_image_height = Some(self.max_height);
        l.max_alloc = Some(self.max_decoded_bytes.saturating_add(DECODER_SLACK));
        l
    }
}

/// Room for a decoder's own tables and buffers beside the pixels.
const DECODER_SLACK: u64 = 16 << 20;

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

/// Checks an upload from its content: format, byte size, declared pixel size and the memory its
/// decoded pixels would take against `limits` (before any pixel is decoded), and a complete structure (a truncated JPEG, PNG or WebP is an
/// error here; a truncated TIFF is found by [`decode`]).
pub fn inspect(bytes: &[u8], limits: &Limits) -> Result<ImageInfo> {
    limits.check_bytes(bytes.len())?;
    let format = sniff(bytes).ok_or_else(|| MediaError::UnknownFormat(first_bytes(bytes)))?;
    let (width, height, orientation) = match format {
        ImageFormat::Jpeg => {
            let header = jpeg::parse_header(bytes)?;
            let frame = header.frame;
            limits.check_size(frame.width, frame.height)?;
            limits.check_decoded(frame.width, frame.height, frame.decoded_bytes())?;
            jpeg::check_complete(bytes, header.first_sos)?;
            let orientation = jpeg::payloads(bytes, &header, jpeg::APP1, b"Exif\0\0")
                .next()
                .and_then(Orientation::from_exif_chunk);
            (header.frame.width, header.frame.height, orientation)
        }
        ImageFormat::Png => {
            let (w, h) = png::header_size(bytes)?;
            limits.check_size(w, h)?;
            limits.check_decoded(w, h, png::decoded_bytes(bytes)?)?;
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
            limits.check_decoded(w, h, decoder.total_bytes())?;
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

/// What a door (an upload, a card at the counter) checks before it takes an image in:
/// [`inspect`], then every pixel decoded, held to the decoded-size limit, with damaged picture
/// data refused ([`MediaError::Corrupt`]) instead of decoded into grey or shifted blocks. A
/// JPEG's scans are first read to the bit (every scan must hold exactly the blocks its frame
/// has: zeros or noise over part of the data leave too few or too many, which no decoder
/// reports), then decoded by zune-jpeg in strict mode (bad Huffman codes, markers inside the
/// scan, scan data that ends before the last row are errors); the other formats through their decoders,
/// which refuse bad compressed data themselves (a PNG's chunk CRCs are checked by [`inspect`]).
pub fn preflight(bytes: &[u8], limits: &Limits) -> Result<ImageInfo> {
    let info = inspect(bytes, limits)?;
    match info.format {
        ImageFormat::Jpeg => jpeg_strict(bytes, &info, limits)?,
        _ => {
            let mut reader = ImageReader::with_format(Cursor::new(bytes), info.format.to_image());
            reader.limits(limits.decoder_limits());
            drop(reader.decode()?);
        }
    }
    Ok(info)
}

fn jpeg_strict(bytes: &[u8], info: &ImageInfo, limits: &Limits) -> Result<()> {
    use zune_core::bytestream::ZCursor;
    use zune_core::options::DecoderOptions;
    use zune_jpeg::errors::DecodeErrors;
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(info.width as usize)
        .set_max_height(info.height as usize);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(|e| match e {
        DecodeErrors::Unsupported(s) => MediaError::Decode(format!("JPEG: {s:?}")),
        other => MediaError::Malformed(format!("JPEG: {other}")),
    })?;
    let size = decoder.output_buffer_size().unwrap_or(usize::MAX) as u64;
    limits.check_decoded(info.width, info.height, size)?;
    // Every scan read to the bit first: damage that decodes into valid-looking codes (zeros or
    // noise over part of the data) still leaves a scan with too few or too many blocks.
    scan::audit(bytes)?;
    match decoder.decode() {
        Ok(pixels) => {
            drop(pixels);
            Ok(())
        }
        Err(DecodeErrors::Unsupported(s)) => Err(MediaError::Decode(format!("JPEG: {s:?}"))),
        Err(e) => Err(MediaError::Corrupt(e.to_string())),
    }
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
