//! Print rendering: an original plus its edit list, at a print size and a printer's dpi, fill
//! (crop to the paper's aspect) or fit (white border), converted from the image's embedded ICC
//! profile (sRGB when none) to the printer's, written as JPEG with the print history embedded.
//!
//! The output keeps the picture's orientation: a landscape photo on an L print becomes a
//! 1500x1051 file (the print station turns it onto the paper), unless `auto_rotate` is off.
//!
//! ```no_run
//! use reprint_media::render::{render_print, PrintSize, PrintSpec};
//! use reprint_media::{edit::EditList, Limits, PrintHistory};
//! # fn f(original: &[u8], printer_icc: &[u8]) -> reprint_media::Result<()> {
//! let spec = PrintSpec::new(PrintSize::L, 300);
//! let print = render_print(original, &EditList::default(), &spec, Some(printer_icc),
//!                          &PrintHistory::new(), &Limits::default())?;
//! for w in &print.warnings { eprintln!("{w}"); }
//! std::fs::write("print.jpg", &print.jpeg)?;
//! # Ok(()) }
//! ```

use fast_image_resize as fir;
use image::{Rgb, RgbImage, imageops};
use jpeg_encoder::{ColorType as JpegColor, Encoder as JpegEncoder, PixelDensity};
use serde::{Deserialize, Serialize};

use crate::edit::{ApplyEdits, EditList};
use crate::error::{MediaError, Result};
use crate::history::{PrintHistory, xmp};
use crate::icc::{self, ColorTransform};
use crate::thumbnail;
use crate::validate::{self, Limits};

/// Paper size in millimetres (portrait: width <= height by convention, either accepted).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrintSize {
    /// Width in mm.
    pub width_mm: f32,
    /// Height in mm.
    pub height_mm: f32,
}

impl PrintSize {
    /// L size, 89 x 127 mm (3.5 x 5 in), the usual photo print in Japan.
    pub const L: PrintSize = PrintSize {
        width_mm: 89.0,
        height_mm: 127.0,
    };
    /// 2L, 127 x 178 mm.
    pub const L2: PrintSize = PrintSize {
        width_mm: 127.0,
        height_mm: 178.0,
    };
    /// KG / 4x6 in, 102 x 152 mm.
    pub const KG: PrintSize = PrintSize {
        width_mm: 102.0,
        height_mm: 152.0,
    };
    /// A4, 210 x 297 mm.
    pub const A4: PrintSize = PrintSize {
        width_mm: 210.0,
        height_mm: 297.0,
    };
}

/// How the picture meets the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FitMode {
    /// Covers the paper; what does not fit its aspect is cut off (centred).
    Fill,
    /// Shows the whole picture; the rest of the paper stays white.
    Fit,
}

/// What to render.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrintSpec {
    /// Paper size.
    pub size: PrintSize,
    /// Printer resolution in dots per inch.
    pub dpi: u32,
    /// Fill or fit.
    pub mode: FitMode,
    /// Turn the paper to the picture's orientation (landscape photo, landscape print file).
    pub auto_rotate: bool,
    /// JPEG quality of the output, 1-100.
    pub jpeg_quality: u8,
    /// Below this effective resolution the result carries a [`RenderWarning::LowResolution`].
    pub min_dpi: u32,
}

impl PrintSpec {
    /// Fill, auto-rotate, quality 92, warning below 150 dpi.
    pub fn new(size: PrintSize, dpi: u32) -> Self {
        PrintSpec {
            size,
            dpi,
            mode: FitMode::Fill,
            auto_rotate: true,
            jpeg_quality: 92,
            min_dpi: 150,
        }
    }

    /// Pixel size of the paper (width, height) at the spec's dpi.
    pub fn pixel_size(&self) -> Result<(u32, u32)> {
        let ok_mm = |v: f32| v.is_finite() && (10.0..=2000.0).contains(&v);
        if !ok_mm(self.size.width_mm) || !ok_mm(self.size.height_mm) {
            return Err(MediaError::PrintSpec(format!(
                "paper {}x{} mm is outside 10..=2000 mm",
                self.size.width_mm, self.size.height_mm
            )));
        }
        if !(72..=2400).contains(&self.dpi) {
            return Err(MediaError::PrintSpec(format!(
                "{} dpi is outside 72..=2400",
                self.dpi
            )));
        }
        let px = |mm: f32| ((f64::from(mm) / 25.4 * f64::from(self.dpi)).round() as u32).max(1);
        Ok((px(self.size.width_mm), px(self.size.height_mm)))
    }
}

/// Something the operator should know about a print that was still rendered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RenderWarning {
    /// The source has too few pixels for the paper: it is enlarged.
    #[error(
        "the picture has too few pixels for this size: {effective_dpi} dpi on paper, {minimum_dpi} wanted"
    )]
    LowResolution {
        /// Source pixels per inch of paper.
        effective_dpi: u32,
        /// The spec's minimum.
        minimum_dpi: u32,
    },
    /// The embedded ICC profile could not be used; the picture was taken as sRGB.
    #[error("embedded colour profile ignored ({reason}); treated as sRGB")]
    SourceProfileIgnored {
        /// Why.
        reason: String,
    },
}

/// A rendered print.
#[derive(Debug, Clone)]
pub struct RenderedPrint {
    /// The JPEG file for the print station.
    pub jpeg: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Source pixels per inch of paper.
    pub effective_dpi: f32,
    /// What the operator should know.
    pub warnings: Vec<RenderWarning>,
}

/// Renders `source` (any supported format) with `edits` for `spec`, converted to
/// `printer_profile` (sRGB when `None`), with `history` embedded as XMP when not empty.
pub fn render_print(
    source: &[u8],
    edits: &EditList,
    spec: &PrintSpec,
    printer_profile: Option<&[u8]>,
    history: &PrintHistory,
    limits: &Limits,
) -> Result<RenderedPrint> {
    render_print_from(source, None, edits, spec, printer_profile, history, limits)
}

/// [`render_print`] for an image whose colour space the order says: `assumed_profile` is
/// converted from when the image embeds no (usable) profile, instead of sRGB.
pub fn render_print_from(
    source: &[u8],
    assumed_profile: Option<&[u8]>,
    edits: &EditList,
    spec: &PrintSpec,
    printer_profile: Option<&[u8]>,
    history: &PrintHistory,
    limits: &Limits,
) -> Result<RenderedPrint> {
    edits.validate()?;
    history.validate()?;
    let (pw, ph) = spec.pixel_size()?;
    limits.check_size(pw, ph)?;
    let info = validate::inspect(source, limits)?;
    let (dw, dh) = info.display_size();
    let (ew, eh) = edits.output_size(dw, dh);
    let (tw, th) = if spec.auto_rotate && (ew > eh) != (pw > ph) {
        (ph, pw)
    } else {
        (pw, ph)
    };
    let (sx, sy) = (f64::from(tw) / f64::from(ew), f64::from(th) / f64::from(eh));
    let scale = match spec.mode {
        FitMode::Fill => sx.max(sy),
        FitMode::Fit => sx.min(sy),
    };
    let effective_dpi = (f64::from(spec.dpi) / scale) as f32;
    let mut warnings = Vec::new();
    if effective_dpi < spec.min_dpi as f32 {
        warnings.push(RenderWarning::LowResolution {
            effective_dpi: effective_dpi.floor() as u32,
            minimum_dpi: spec.min_dpi,
        });
    }

    // Decode only as many pixels as the print needs (DCT scaling for JPEG).
    let need = |n: u32| ((f64::from(n) * scale).ceil() as u32).clamp(1, n);
    let (info, mut img) =
        thumbnail::decode_scaled(source, need(info.width), need(info.height), limits)?;
    validate::apply_orientation(&mut img, info.orientation);
    let edited = edits.apply(img.into_rgb8())?;
    let mut pixels = match spec.mode {
        FitMode::Fill => resample(edited, tw, th, true)?,
        FitMode::Fit => {
            let (fw, fh) = fit_within(edited.width(), edited.height(), tw, th);
            resample(edited, fw, fh, false)?
        }
    };

    let embedded = match icc::embedded_profile(source) {
        Ok(p) => p,
        Err(e) => {
            warnings.push(RenderWarning::SourceProfileIgnored {
                reason: e.to_string(),
            });
            None
        }
    };
    let embedded = embedded.or_else(|| assumed_profile.map(<[u8]>::to_vec));
    let transform = match ColorTransform::new(embedded.as_deref(), printer_profile) {
        Ok(t) => t,
        Err(e) if embedded.is_some() => {
            warnings.push(RenderWarning::SourceProfileIgnored {
                reason: e.to_string(),
            });
            ColorTransform::new(None, printer_profile)?
        }
        Err(e) => return Err(e),
    };
    transform.apply_rgb8(&mut pixels)?;

    if pixels.width() != tw || pixels.height() != th {
        let mut canvas = RgbImage::from_pixel(tw, th, Rgb([255, 255, 255]));
        let x = i64::from((tw - pixels.width().min(tw)) / 2);
        let y = i64::from((th - pixels.height().min(th)) / 2);
        imageops::overlay(&mut canvas, &pixels, x, y);
        pixels = canvas;
    }

    let mut jpeg = encode_jpeg(&pixels, spec, printer_profile)?;
    if !history.is_empty() {
        jpeg = xmp::write_history(&jpeg, history)?;
    }
    Ok(RenderedPrint {
        jpeg,
        width: tw,
        height: th,
        effective_dpi,
        warnings,
    })
}

/// The size of a `w`x`h` picture scaled to fit inside `tw`x`th`, aspect kept (each side
/// rounded, at least 1 pixel).
fn fit_within(w: u32, h: u32, tw: u32, th: u32) -> (u32, u32) {
    let ratio = (f64::from(tw) / f64::from(w)).min(f64::from(th) / f64::from(h));
    let side = |n: u32, limit: u32| ((f64::from(n) * ratio).round() as u32).clamp(1, limit);
    (side(w, tw), side(h, th))
}

/// Lanczos3 resampling of `src` to exactly `w`x`h` (SIMD on CPUs that have it, in integer
/// arithmetic on 8-bit channels); with `fill`, the source is first cropped, centred, to the
/// target's aspect (resize-to-fill), otherwise the caller passes a size of the same aspect.
fn resample(src: RgbImage, w: u32, h: u32, fill: bool) -> Result<RgbImage> {
    let (sw, sh) = src.dimensions();
    if (sw, sh) == (w, h) {
        return Ok(src);
    }
    let internal = |e: &dyn std::fmt::Display| MediaError::Encode(format!("resampling: {e}"));
    let from = fir::images::Image::from_vec_u8(sw, sh, src.into_raw(), fir::PixelType::U8x3)
        .map_err(|e| internal(&e))?;
    let mut to = fir::images::Image::new(w, h, fir::PixelType::U8x3);
    let mut options = fir::ResizeOptions::new()
        .resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::Lanczos3));
    if fill {
        options = options.fit_into_destination(None);
    }
    fir::Resizer::new()
        .resize(&from, &mut to, &options)
        .map_err(|e| internal(&e))?;
    RgbImage::from_raw(w, h, to.into_vec())
        .ok_or_else(|| MediaError::Encode("resampling: output buffer of the wrong size".into()))
}

/// The print file: baseline JPEG at the spec's quality (4:4:4 chroma from quality 90 up, as
/// a print wants), the printer's dpi in the JFIF header and its ICC profile (sRGB when none).
fn encode_jpeg(
    pixels: &RgbImage,
    spec: &PrintSpec,
    printer_profile: Option<&[u8]>,
) -> Result<Vec<u8>> {
    let encode_err = |e: jpeg_encoder::EncodingError| MediaError::Encode(e.to_string());
    let side = |n: u32| {
        u16::try_from(n).map_err(|_| {
            MediaError::Encode(format!(
                "a print of {n} pixels is over JPEG's 65535-pixel side"
            ))
        })
    };
    let (w, h) = (side(pixels.width())?, side(pixels.height())?);
    let mut jpeg = Vec::with_capacity(pixels.as_raw().len() / 4);
    let mut enc = JpegEncoder::new(&mut jpeg, spec.jpeg_quality.clamp(1, 100));
    enc.set_density(PixelDensity::dpi(
        u16::try_from(spec.dpi).unwrap_or(u16::MAX),
    ));
    let profile = printer_profile.map_or_else(icc::srgb_profile, <[u8]>::to_vec);
    enc.add_icc_profile(&profile).map_err(encode_err)?;
    enc.encode(pixels.as_raw(), w, h, JpegColor::Rgb)
        .map_err(encode_err)?;
    Ok(jpeg)
}
