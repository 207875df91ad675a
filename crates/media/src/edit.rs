//! Edits as data: an [`EditList`] is applied to the original at preview time (small) and at
//! print time (full size) with the same result, because every geometric value is normalised
//! (a crop is given in fractions of the current picture, not in pixels). An edited image is
//! the original's id plus the list ([`EditedImage`]): a re-order of it sends only that.
//!
//! ```
//! use reprint_media::edit::{Edit, EditList, Rotation};
//! let edits = EditList::new(vec![
//!     Edit::Rotate { degrees: Rotation::R90 },
//!     Edit::Crop { x: 0.1, y: 0.1, width: 0.8, height: 0.8 },
//!     Edit::Sepia,
//! ]);
//! let json = serde_json::to_string(&edits).unwrap();
//! assert_eq!(
//!     json,
//!     r#"[{"op":"rotate","degrees":90},{"op":"crop","x":0.1,"y":0.1,"width":0.8,"height":0.8},{"op":"sepia"}]"#
//! );
//! ```

use image::{DynamicImage, RgbImage, imageops};
use serde::{Deserialize, Serialize};

use crate::error::{MediaError, Result};
use crate::identity::ImageId;
use crate::thumbnail;
use crate::validate::{self, Limits};

/// The edit types are the order's, decided in the domain (what is valid is refused in the same
/// words at every door); this module puts them on pixels.
pub use reprint_domain::edit::{Axis, Edit, EditError, EditList, MAX_EDITS, Rotation, crop_rect};

impl From<EditError> for MediaError {
    fn from(e: EditError) -> MediaError {
        MediaError::Edit(e.0)
    }
}

/// An edited image: the original's id plus what was done to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditedImage {
    /// SHA-256 of the original file.
    pub original: ImageId,
    /// The edits.
    pub edits: EditList,
}

fn clamp_u8(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// Puts an [`EditList`] on pixels.
pub trait ApplyEdits {
    /// Applies the edits (validated first).
    fn apply(&self, img: RgbImage) -> Result<RgbImage>;
}

impl ApplyEdits for EditList {
    /// Applies the edits (validated first).
    fn apply(&self, img: RgbImage) -> Result<RgbImage> {
        self.validate()?;
        let mut img = img;
        for e in &self.edits {
            img = apply_one(img, e);
        }
        Ok(img)
    }
}

fn map_pixels(mut img: RgbImage, f: impl Fn([u8; 3]) -> [u8; 3]) -> RgbImage {
    for p in img.pixels_mut() {
        p.0 = f(p.0);
    }
    img
}

fn lut(img: RgbImage, f: impl Fn(f32) -> f32) -> RgbImage {
    let mut table = [0u8; 256];
    for (i, t) in table.iter_mut().enumerate() {
        *t = clamp_u8(f(i as f32));
    }
    map_pixels(img, |[r, g, b]| {
        [table[r as usize], table[g as usize], table[b as usize]]
    })
}

fn apply_one(img: RgbImage, e: &Edit) -> RgbImage {
    match *e {
        Edit::Crop {
            x,
            y,
            width,
            height,
        } => {
            let (x0, y0, w, h) = crop_rect(img.width(), img.height(), x, y, width, height);
            imageops::crop_imm(&img, x0, y0, w, h).to_image()
        }
        Edit::Rotate { degrees } => match degrees {
            Rotation::R90 => imageops::rotate90(&img),
            Rotation::R180 => imageops::rotate180(&img),
            Rotation::R270 => imageops::rotate270(&img),
        },
        Edit::Mirror { axis } => match axis {
            Axis::Horizontal => imageops::flip_horizontal(&img),
            Axis::Vertical => imageops::flip_vertical(&img),
        },
        Edit::Brightness { amount } => lut(img, |v| v + amount * 255.0),
        Edit::Contrast { amount } => lut(img, |v| (v - 127.5) * (1.0 + amount) + 127.5),
        Edit::Grayscale => map_pixels(img, |[r, g, b]| {
            let y = clamp_u8(0.299 * f32::from(r) + 0.587 * f32::from(g) + 0.114 * f32::from(b));
            [y, y, y]
        }),
        Edit::Sepia => map_pixels(img, |[r, g, b]| {
            let (r, g, b) = (f32::from(r), f32::from(g), f32::from(b));
            [
                clamp_u8(0.393 * r + 0.769 * g + 0.189 * b),
                clamp_u8(0.349 * r + 0.686 * g + 0.168 * b),
                clamp_u8(0.272 * r + 0.534 * g + 0.131 * b),
            ]
        }),
    }
}

/// A preview of an edited image that fits in `max_side`: decoded at reduced scale (enough for
/// the crops), turned upright, edited, reduced.
pub fn preview(bytes: &[u8], edits: &EditList, max_side: u32, limits: &Limits) -> Result<RgbImage> {
    edits.validate()?;
    if max_side == 0 {
        return Err(MediaError::Edit("preview size 0".into()));
    }
    let need = (max_side as f32 / edits.kept_fraction())
        .ceil()
        .min(65_535.0) as u32;
    let info = validate::inspect(bytes, limits)?;
    let scale = (need as f64 / info.width.max(info.height) as f64).min(1.0);
    let min_w = ((info.width as f64 * scale).ceil() as u32).max(1);
    let min_h = ((info.height as f64 * scale).ceil() as u32).max(1);
    let (info, mut img) = thumbnail::decode_scaled(bytes, min_w, min_h, limits)?;
    validate::apply_orientation(&mut img, info.orientation);
    let edited = edits.apply(img.into_rgb8())?;
    let (w, h) = (edited.width(), edited.height());
    if w.max(h) <= max_side {
        return Ok(edited);
    }
    let s = max_side as f64 / w.max(h) as f64;
    let (tw, th) = (
        ((w as f64 * s).round() as u32).max(1),
        ((h as f64 * s).round() as u32).max(1),
    );
    Ok(DynamicImage::ImageRgb8(edited)
        .resize_exact(tw, th, imageops::FilterType::Triangle)
        .into_rgb8())
}
