//! Edits as data, part of an order: an [`EditList`] names what is done to an original at print
//! time (crop, rotate, mirror, brightness, contrast, grayscale, sepia). Every geometric value
//! is normalised (a crop is given in fractions of the current picture, not in pixels), so the
//! same list gives the same picture at preview size and at print size. The pixels are
//! `reprint_media::edit`'s; what makes a list valid is decided here, so the gateway, the counter
//! and the lab refuse the same lists in the same words ([`crate::order_check`]).
//!
//! ```
//! use reprint_domain::edit::{Edit, EditList, Rotation};
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
//! assert!(EditList::parse(r#"[{"op":"rotate","degrees":45}]"#).is_err());
//! ```

use serde::{Deserialize, Serialize};

/// Why an edit list is refused, in words for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EditError(pub String);

/// The longest edit list accepted as JSON.
pub const MAX_EDITS_JSON: usize = 16 * 1024;

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

impl EditList {
    /// Reads an edit list from its JSON and checks it ([`EditList::validate`]).
    pub fn parse(json: &str) -> Result<EditList, EditError> {
        if json.len() > MAX_EDITS_JSON {
            return Err(EditError(format!(
                "the edit list is {} bytes, over the limit of {MAX_EDITS_JSON}",
                json.len()
            )));
        }
        let list: EditList =
            serde_json::from_str(json).map_err(|e| EditError(plain_json_error(&e)))?;
        list.validate()?;
        Ok(list)
    }

    /// A list of edits.
    pub fn new(edits: Vec<Edit>) -> Self {
        EditList { edits }
    }

    /// True when the list changes nothing.
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// Checks every value's range.
    pub fn validate(&self) -> Result<(), EditError> {
        if self.edits.len() > MAX_EDITS {
            return Err(EditError(format!("more than {MAX_EDITS} edits")));
        }
        for (i, e) in self.edits.iter().enumerate() {
            let bad = |m: &str| EditError(format!("edit {} ({}): {m}", i + 1, e.describe()));
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
}

impl Edit {
    /// The edit as the user wrote it, for messages.
    pub fn describe(&self) -> String {
        match *self {
            Edit::Crop {
                x,
                y,
                width,
                height,
            } => {
                format!("crop x {x}, y {y}, width {width}, height {height}")
            }
            Edit::Rotate { degrees } => format!("rotate {}", u16::from(degrees)),
            Edit::Mirror {
                axis: Axis::Horizontal,
            } => "mirror horizontally".into(),
            Edit::Mirror {
                axis: Axis::Vertical,
            } => "mirror vertically".into(),
            Edit::Brightness { amount } => format!("brightness {amount}"),
            Edit::Contrast { amount } => format!("contrast {amount}"),
            Edit::Grayscale => "grayscale".into(),
            Edit::Sepia => "sepia".into(),
        }
    }
}

/// serde_json's message without its "at line 1 column 37" tail, which means nothing to a user.
fn plain_json_error(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.find(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn in_unit(v: f32) -> bool {
    v.is_finite() && (0.0..=1.0).contains(&v)
}

/// Pixel rectangle (x, y, w, h) of a normalised crop; never empty.
pub fn crop_rect(w: u32, h: u32, x: f32, y: f32, cw: f32, ch: f32) -> (u32, u32, u32, u32) {
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
