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
//! | soft-proofing through a printer's profile, out-of-gamut areas marked | [`proof`] |
//! | print history in the image (XMP) and in a ZIP container (seed 004) | [`history`] |
//! | DPOF `MISC/AUTPRINT.MRK` and the lab's hot-folder ticket | [`dpof`] |
//! | generated photos for tests and benchmarks | [`synthetic`] |
//!
//! Every failure is one [`MediaError`]; bad input never panics.
//!
//! # A service's use, end to end
//! ```
//! use reprint_media::{dpof, edit, history::{container, xmp}, icc, render, thumbnail, validate};
//! use reprint_media::{ContentHash, Limits, PrintHistory, PrintRecord, identity, synthetic};
//!
//! # fn main() -> reprint_media::Result<()> {
//! let upload = synthetic::jpeg(&synthetic::photo(7, 1200, 800), 90)?; // what the user sent
//! let limits = Limits::default();
//!
//! // 1. Validate by content (limits checked from the header before decoding).
//! let info = validate::inspect(&upload, &limits)?;
//! assert_eq!((info.format, info.width, info.height), (reprint_media::ImageFormat::Jpeg, 1200, 800));
//!
//! // 2. Ids: the object-store key and the perceptual hash for the charge check.
//! let id = identity::identify(&upload, &limits)?;
//! assert_eq!(id.sha256, ContentHash::of_bytes(&upload));
//!
//! // 3. A thumbnail for the order page.
//! let thumb = thumbnail::thumbnail_jpeg(&upload, 256, 80, &limits)?;
//!
//! // 4. Earlier prints of this image, embedded by a previous site (empty here).
//! let mut history = xmp::read_history(&upload)?;
//! assert!(history.last_at("LAB-1").is_none());
//!
//! // 5. Render an L print at 300 dpi for the printer's profile, this order added to the history.
//! history.push(PrintRecord {
//!     site: "LAB-1".into(),
//!     registration_number: "B0000456".into(),
//!     reception_number: "B0001004".into(),
//!     date: chrono::NaiveDate::from_ymd_opt(2026, 11, 18).unwrap(),
//! })?;
//! let edits = edit::EditList::new(vec![edit::Edit::Brightness { amount: 0.05 }]);
//! let spec = render::PrintSpec::new(render::PrintSize::L, 300);
//! let printer_icc = icc::srgb_profile();
//! let print = render::render_print(&upload, &edits, &spec, Some(&printer_icc), &history, &limits)?;
//! assert_eq!(xmp::read_history(&print.jpeg)?, history);
//!
//! // 6. Give the customer back the image with its history: in the image, or in a ZIP.
//! let returned = xmp::write_history(&upload, &history)?;
//! let zipped = container::container_bytes("IMG_0001.JPG", &upload, &history)?;
//! let back = container::read_container(std::io::Cursor::new(zipped), &limits)?;
//! assert_eq!(back.history, history);
//!
//! // 7. A walk-in customer's card: which prints the camera chose.
//! let mrk = b"[HDR]\r\nGEN REV = 01.10\r\n[JOB]\r\nPRT PID = 001\r\nPRT TYP = STD\r\nPRT QTY = 002\r\n<IMG SRC = \"../DCIM/100CANON/IMG_0001.JPG\">\r\n";
//! let order = dpof::parse(mrk)?;
//! assert_eq!(order.jobs[0].resolved_sources()?, ["DCIM/100CANON/IMG_0001.JPG"]);
//! # let _ = (thumb, returned);
//! # Ok(()) }
//! ```

pub mod dpof;
pub mod edit;
pub mod error;
pub mod history;
pub mod icc;
pub mod identity;
pub mod index_print;
mod jpeg;
mod png;
pub mod proof;
pub mod render;
pub mod synthetic;
pub mod thumbnail;
pub mod validate;

pub use error::{MediaError, Result};
pub use history::{PrintHistory, PrintRecord};
pub use identity::{ContentHash, Identity, ImageId, PHASH_MATCH_THRESHOLD, PerceptualHash};
pub use validate::{ImageFormat, ImageInfo, Limits};
