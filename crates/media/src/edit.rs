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

/// Most edits in one list.
pub const MAX_EDITS: usize = 64;

/// A quarter-turn rotation, clockwise; serialised as 90, 180 or 270.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub enum Rotation {
    /// 90 degrees clockwise.
    R90,
    /// 180 degrees.
    R180,
    /// 270 degrees clockwise (90 counter-clockwise).
    R270,
}

impl TryFrom<u16> for Rotation {
    type Error = String;
    fn try_from(v: u16) -> std::result::Result<Self, String> {
        match v {
            90 => Ok(Rotation::R90),
            180 => Ok(Rotation::R180),
            270 => Ok(Rotation::R270),
            other => Err(format!("rotation must be 90, 180 or 270, not {other}")),
        }
    }
}

impl From<Rotation> for u16 {
    fn from(r: Rotation) -> u16 {
        match r {
            Rotation::R90 => 90,
            Rotation::R180 => 180,
            Rotation::R270 => 270,
        }
    }
}

/// Which way a mirror flips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Axis {
    /// Left and right swap (a mirror image).
    Horizontal,
    /// Top and bottom swap.
    Vertical,
}

/// One edit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Edit {
    /// Keeps a rectangle given in fractions (0..=1) of the current width and height.
    Crop {
        /// Left edge.
        x: f32,
        /// Top edge.
        y: f32,
        /// Width (> 0, x + width <= 1).
        width: f32,
        /// Height (> 0, y + height <= 1).
        height: f32,
    },
    /// Turns the picture clockwise.
    Rotate {
        /// 90, 180 or 270.
        degrees: Rotation,
    },
    /// Flips the picture.
    Mirror {
        /// Which way.
        axis: Axis,
    },
    /// Adds `amount` x 255 to every channel (-1..=1).
    Brightness {
        /// -1 (black) ..= 1 (white); 0 changes nothing.
        amount: f32,
    },
    /// Scales the distance from mid-grey by 1 + `amount` (-1..=1).
    Contrast {
        /// -1 (flat grey) ..= 1 (double contrast); 0 changes nothing.
        amount: f32,
    },
    /// Rec. 601 luma in all three channels.
    Grayscale,
    /// The classic sepia tone matrix.
    Sepia,
}

/// Edits applied in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EditList {
    /// The edits, first applied first.
    pub edits: Vec<Edit>,
}

/// An edited image: the original's id plus what was done to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditedImage {
    /// SHA-256 of the original file.
    pub original: ImageId,
    /// The edits.
    pub edits: EditList,
}

fn in_unit(v: f32) -> bool {
    v.is_finite() && (0.0..=1.0).contains(&v)
}

fn clamp_u8(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

impl EditList {
    /// A list of edits.
    pub fn new(edits: Vec<Edit>) -> Self {
        EditList { edits }
    }

    /// True when the list changes nothing.
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// Checks every value's range.
    pub fn validate(&self) -> Result<()> {
        if self.edits.len() > MAX_EDITS {
            return Err(MediaError::Edit(format!("more than {MAX_EDITS} edits")));
        }
        for (i, e) in self.edits.iter().enumerate() {
            let bad = |m: &str| MediaError::Edit(format!("edit {} ({e:?}): {m}", i + 1));
            match *e {
                Edit::Crop {
                    x,
                    y,
                    width,
                    height,
                } => {
                    if ![x, y, width, height].into_iter().all(in_unit) {
                        return Err(bad("crop values must be fractions between 0 and 1"));
                    }
                    if width <= 0.0 || height <= 0.0 {
                        return Err(bad("crop must keep some of the picture"));
                    }
                    if x + width > 1.0 + 1e-4 || y + height > 1.0 + 1e-4 {
                        return Err(bad("crop reaches past the picture's edge"));
                    }
                }
                Edit::Brightness { amount } | Edit::Contrast { amount } => {
                    if !amount.is_finite() || !(-1.0..=1.0).contains(&amount) {
                        return Err(bad("amount must lie between -1 and 1"));
                    }
                }
                Edit::Rotate { .. } | Edit::Mirror { .. } | Edit::Grayscale | Edit::Sepia => {}
            }
        }
        Ok(())
    }

    /// The part of the original's width and height that the crops keep, as the smaller of the
    /// two fractions (how much more resolution a preview needs to decode).
    pub fn kept_fraction(&self) -> f32 {
        let (mut fx, mut fy) = (1.0f32, 1.0f32);
        for e in &self.edits {
            match *e {
                Edit::Crop { width, height, .. } => {
                    fx *= width.max(1e-3);
                    fy *= height.max(1e-3);
                }
                Edit::Rotate {
                    degrees: Rotation::R90 | Rotation::R270,
                } => std::mem::swap(&mut fx, &mut fy),
                _ => {}
            }
        }
        fx.min(fy).clamp(1e-3, 1.0)
    }

    /// Size of the result for an input of `width` x `height`, without touching pixels.
    pub fn output_size(&self, width: u32, height: u32) -> (u32, u32) {
        let (mut w, mut h) = (width, height);
        for e in &self.edits {
            match *e {
                Edit::Crop {
                    x,
                    y,
                    width: cw,
                    height: ch,
                } => {
                    let r = crop_rect(w, h, x, y, cw, ch);
                    w = r.2;
                    h = r.3;
                }
                Edit::Rotate {
                    degrees: Rotation::R90 | Rotation::R270,
                } => std::mem::swap(&mut w, &mut h),
                _ => {}
            }
        }
        (w, h)
    }

    /// Applies the edits (validated first).
    pub fn apply(&self, img: RgbImage) -> Result<RgbImage> {
        self.validate()?;
        let mut img = img;
        for e in &self.edits {
            img = apply_one(img, e);
        }
        Ok(img)
    }
}

/// Pixel rectangle (x, y, w, h) of a normalised crop; never empty.
fn crop_rect(w: u32, h: u32, x: f32, y: f32, cw: f32, ch: f32) -> (u32, u32, u32, u32) {
    let px = |f: f32, n: u32| ((f * n as f32).round().max(0.0) as u32).min(n);
    let x0 = px(x, w).min(w.saturating_sub(1));
    let y0 = px(y, h).min(h.saturating_sub(1));
    let x1 = px(x + cw, w).max(x0 + 1).min(w.max(1));
    let y1 = px(y + ch, h).max(y0 + 1).min(h.max(1));
    (
        x0,
        y0,
        x1.saturating_sub(x0).max(1),
        y1.saturating_sub(y0).max(1),
    )
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
