//! `reprint-media`: everything in reprint that touches image bytes, for the lab, the counter and
//! the gateway alike. Pure functions over bytes, readers and writers: no async, no network.
//!
//! | concern | module |
//! | --- | --- |
//! | what a file is, limits before decoding (decompression bombs), truncation | [`validate`] |
//! | image id (SHA-256) and the same photo after re-encode/resize (perceptual hash) | [`identity`] |
//! | fast thumbnails, EXIF orientation | [`thumbnail`] |
//! | edits as data (crop, rotate, mirror, brightness, contrast, grayscale, sepia) | [`edit`] |
//! | embedded ICC profiles, colour conversion | [`icc`] |
//! | print rendering at a printer's size and dpi | [`render`] |
//! | print history in the image (XMP) and in a ZIP container (seed 004) | [`history`] |
//! | DPOF `MISC/AUTPRINT.MRK` and the lab's hot-folder ticket | [`dpof`] |
//! | generated photos for tests and benchmarks | [`synthetic`] |
//!
//! Every failure is one [`MediaError`]; bad input never panics.

pub mod dpof;
pub mod edit;
pub mod error;
pub mod history;
pub mod icc;
pub mod identity;
mod jpeg;
mod png;
pub mod render;
pub mod synthetic;
pub mod thumbnail;
pub mod validate;

pub use error::{MediaError, Result};
pub use history::{PrintHistory, PrintRecord};
pub use identity::{ContentHash, Identity, ImageId, PHASH_MATCH_THRESHOLD, PerceptualHash};
pub use validate::{ImageFormat, ImageInfo, Limits};
