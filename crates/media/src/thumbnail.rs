//! Fast thumbnails: a JPEG is decoded at 1/2, 1/4 or 1/8 scale straight from its DCT
//! coefficients (no full-size buffer for a 24-megapixel photo), everything else is decoded and
//! reduced; the result is turned upright by the EXIF orientation.

use std::io::Cursor;

use image::{DynamicImage, GrayImage, RgbImage, imageops::FilterType};

use crate::error::{MediaError, Result};
use crate::validate::{self, ImageFormat, ImageInfo, Limits};

/// Decodes `bytes` at a size of at least `min_width` x `min_height` (stored orientation) where
/// the format can do it cheaply, else at full size. The returned image is in stored
/// orientation; `info` has the orientation and the full size.
pub fn decode_scaled(
    bytes: &[u8],
    min_width: u32,
    min_height: u32,
    limits: &Limits,
) -> Result<(ImageInfo, DynamicImage)> {
    let info = validate::inspect(bytes, limits)?;
    if info.format == ImageFormat::Jpeg
        && (min_width < info.width || min_height < info.height)
        && let Some(img) = jpeg_scaled(bytes, min_width, min_height, limits)
    {
        return Ok((info, img));
    }
    let (_, img) = validate::decode(bytes, limits)?;
    Ok((info, img))
}

/// DCT-scaled decode with jpeg-decoder; `None` when it cannot (CMYK, 16-bit, an error): the
/// caller falls back to the full decoder, which reports errors in the usual way.
fn jpeg_scaled(bytes: &[u8], min_w: u32, min_h: u32, limits: &Limits) -> Option<DynamicImage> {
    let mut dec = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    dec.set_max_decoding_buffer_size(usize::try_from(limits.max_decoded_bytes).ok()?);
    let req_w = u16::try_from(min_w.max(1)).unwrap_or(u16::MAX);
    let req_h = u16::try_from(min_h.max(1)).unwrap_or(u16::MAX);
    let (w, h) = dec.scale(req_w, req_h).ok()?;
    let pixels = dec.decode().ok()?;
    let fmt = dec.info()?.pixel_format;
    let (w, h) = (u32::from(w), u32::from(h));
    match fmt {
        jpeg_decoder::PixelFormat::RGB24 => RgbImage::from_raw(w, h, pixels).map(Into::into),
        jpeg_decoder::PixelFormat::L8 => GrayImage::from_raw(w, h, pixels).map(Into::into),
        _ => None,
    }
}

fn fit(w: u32, h: u32, max_side: u32) -> (u32, u32) {
    let scale = (max_side as f64 / w.max(h) as f64).min(1.0);
    (
        ((w as f64 * scale).round() as u32).max(1),
        ((h as f64 * scale).round() as u32).max(1),
    )
}

/// A thumbnail that fits in `max_side` x `max_side`, upright (EXIF orientation applied), never
/// enlarged.
pub fn thumbnail(bytes: &[u8], max_side: u32, limits: &Limits) -> Result<RgbImage> {
    if max_side == 0 {
        return Err(MediaError::PrintSpec("thumbnail size 0".into()));
    }
    let probe = validate::inspect(bytes, limits)?;
    let (tw, th) = fit(probe.width, probe.height, max_side);
    let (info, img) = decode_scaled(bytes, tw, th, limits)?;
    let mut img = if img.width() > tw || img.height() > th {
        // Triangle over an image at most 2x the target: fast and without aliasing.
        DynamicImage::ImageRgb8(image::imageops::resize(
            &img.to_rgb8(),
            tw,
            th,
            FilterType::Triangle,
        ))
    } else {
        img
    };
    validate::apply_orientation(&mut img, info.orientation);
    Ok(img.into_rgb8())
}

/// [`thumbnail`] encoded as JPEG at `quality` (1-100).
pub fn thumbnail_jpeg(
    bytes: &[u8],
    max_side: u32,
    quality: u8,
    limits: &Limits,
) -> Result<Vec<u8>> {
    let thumb = thumbnail(bytes, max_side, limits)?;
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100))
        .encode_image(&thumb)?;
    Ok(out)
}
