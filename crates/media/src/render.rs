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

use image::codecs::jpeg::{JpegEncoder, PixelDensity};
use image::{DynamicImage, ImageEncoder, Rgb, RgbImage, imageops};
use serde::{Deserialize, Serialize};

use crate::edit::EditList;
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
        FitMode::Fill => DynamicImage::ImageRgb8(edited)
            .resize_to_fill(tw, th, imageops::FilterType::Lanczos3)
            .into_rgb8(),
        FitMode::Fit => DynamicImage::ImageRgb8(edited)
            .resize(tw, th, imageops::FilterType::Lanczos3)
            .into_rgb8(),
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

    let mut jpeg = Vec::new();
    let mut enc = JpegEncoder::new_with_quality(&mut jpeg, spec.jpeg_quality.clamp(1, 100));
    enc.set_pixel_density(PixelDensity::dpi(
        u16::try_from(spec.dpi).unwrap_or(u16::MAX),
    ));
    let profile = printer_profile.map_or_else(icc::srgb_profile, <[u8]>::to_vec);
    enc.set_icc_profile(profile)
        .map_err(|e| MediaError::Encode(e.to_string()))?;
    enc.write_image(pixels.as_raw(), tw, th, image::ExtendedColorType::Rgb8)?;
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
