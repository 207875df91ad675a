//! Soft-proofing: what a print on a printer's profile will look like on an sRGB screen, with
//! the colours the print cannot hold marked.
//!
//! Each pixel goes to the printer's profile and back to sRGB (relative colorimetric, as the lab
//! prints: [`crate::icc::ColorTransform`]); what comes back is what the paper shows. A pixel
//! whose round trip moves it more than a threshold in CIELAB (ΔE*ab, CIE76) is out of the
//! printer's gamut: painted with a diagonal hatch of [`GAMUT_WARNING`] over its proofed colour.
//!
//! ```
//! use reprint_media::{icc, proof};
//! let mut img = image::RgbImage::from_pixel(8, 8, image::Rgb([0, 0, 255]));
//! img.put_pixel(0, 0, image::Rgb([128, 128, 128]));
//! let printer = icc::silver_halide_glossy_profile();
//! let p = proof::soft_proof(&img, &printer, proof::DEFAULT_THRESHOLD)?;
//! assert_eq!(p.out_of_gamut, 63); // the pure sRGB blue is beyond the paper; the grey is not
//! # Ok::<(), reprint_media::MediaError>(())
//! ```

use image::{Rgb, RgbImage};
use jpeg_encoder::{ColorType as JpegColor, Encoder as JpegEncoder, SamplingFactor};

use crate::error::{MediaError, Result};
use crate::icc::ColorTransform;
use crate::validate::{self, Limits};

/// The hatch colour of out-of-gamut areas (a magenta no photo is made of).
pub const GAMUT_WARNING: [u8; 3] = [255, 0, 255];

/// The default ΔE*ab (CIE76) above which a pixel is out of gamut: a difference most people
/// see side by side; the round trip through 8 bits moves an in-gamut colour by about 1.
pub const DEFAULT_THRESHOLD: f32 = 3.0;

/// A soft-proofed image.
#[derive(Debug, Clone)]
pub struct Proof {
    /// The picture as the print shows it, out-of-gamut areas hatched.
    pub image: RgbImage,
    /// Pixels out of the printer's gamut.
    pub out_of_gamut: u64,
    /// All pixels.
    pub pixels: u64,
}

impl Proof {
    /// The share of the picture out of gamut, 0 to 1.
    pub fn out_of_gamut_fraction(&self) -> f64 {
        if self.pixels == 0 {
            0.0
        } else {
            self.out_of_gamut as f64 / self.pixels as f64
        }
    }
}

fn srgb_to_linear(v: u8) -> f32 {
    let c = f32::from(v) / 255.0;
    if c <= 0.040_45 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// CIELAB (D65 white) of an 8-bit sRGB colour.
pub fn srgb_to_lab(rgb: [u8; 3]) -> [f32; 3] {
    let [r, g, b] = rgb.map(srgb_to_linear);
    let x = 0.412_456_4 * r + 0.357_576_1 * g + 0.180_437_5 * b;
    let y = 0.212_672_9 * r + 0.715_152_2 * g + 0.072_175 * b;
    let z = 0.019_333_9 * r + 0.119_192 * g + 0.950_304_1 * b;
    let f = |t: f32| {
        if t > 216.0 / 24_389.0 {
            t.cbrt()
        } else {
            (24_389.0 / 27.0 * t + 16.0) / 116.0
        }
    };
    let (fx, fy, fz) = (f(x / 0.950_47), f(y), f(z / 1.088_83));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// ΔE*ab (CIE76) between two CIELAB colours.
pub fn delta_e76(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// Soft-proofs an sRGB image through `printer_profile`: the proofed picture with the pixels
/// whose round trip moves more than `threshold` ΔE*ab hatched with [`GAMUT_WARNING`].
pub fn soft_proof(img: &RgbImage, printer_profile: &[u8], threshold: f32) -> Result<Proof> {
    if !threshold.is_finite() || threshold < 0.0 {
        return Err(MediaError::Icc(format!(
            "gamut threshold {threshold} is not a ΔE of 0 or more"
        )));
    }
    let to_printer = ColorTransform::new(None, Some(printer_profile))?;
    let to_screen = ColorTransform::new(Some(printer_profile), None)?;
    let mut proofed = img.clone();
    to_printer.apply_rgb8(&mut proofed)?;
    to_screen.apply_rgb8(&mut proofed)?;
    let mut out_of_gamut = 0u64;
    let width = img.width();
    for (i, (p, o)) in proofed.pixels_mut().zip(img.pixels()).enumerate() {
        if delta_e76(srgb_to_lab(o.0), srgb_to_lab(p.0)) > threshold {
            out_of_gamut += 1;
            let (x, y) = (i as u32 % width.max(1), i as u32 / width.max(1));
            // Diagonal stripes 4 pixels wide: the proofed colour shows between them.
            if ((x + y) / 4) % 2 == 0 {
                *p = Rgb(GAMUT_WARNING);
            }
        }
    }
    Ok(Proof {
        pixels: u64::from(img.width()) * u64::from(img.height()),
        image: proofed,
        out_of_gamut,
    })
}

/// [`soft_proof`] of an sRGB JPEG (an edit preview), encoded again as JPEG at `quality`.
pub fn soft_proof_jpeg(
    jpeg: &[u8],
    printer_profile: &[u8],
    threshold: f32,
    quality: u8,
    limits: &Limits,
) -> Result<(Vec<u8>, Proof)> {
    validate::inspect(jpeg, limits)?;
    let img = image::load_from_memory(jpeg)
        .map_err(MediaError::from)?
        .into_rgb8();
    let proof = soft_proof(&img, printer_profile, threshold)?;
    let side = |n: u32| {
        u16::try_from(n)
            .map_err(|_| MediaError::Encode(format!("a proof of {n} pixels is too large")))
    };
    let (w, h) = (side(proof.image.width())?, side(proof.image.height())?);
    let mut out = Vec::new();
    let mut enc = JpegEncoder::new(&mut out, quality.clamp(1, 100));
    // Full-resolution colour: the hatch stays magenta, not smeared into its neighbours.
    enc.set_sampling_factor(SamplingFactor::R_4_4_4);
    enc.encode(proof.image.as_raw(), w, h, JpegColor::Rgb)
        .map_err(|e| MediaError::Encode(e.to_string()))?;
    Ok((out, proof))
}
