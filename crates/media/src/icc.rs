//! Colour management: embedded ICC profiles (JPEG APP2 `ICC_PROFILE`, PNG `iCCP`, WebP and
//! TIFF through their decoders), small matrix/TRC profiles generated in code (sRGB, Display P3,
//! Adobe RGB, or any primaries), and conversion between two profiles with qcms (pure Rust,
//! Firefox's colour management).
//!
//! An image without a profile is taken as sRGB (what cameras and phones mean by default).

use std::io::{Cursor, Read};

use image::{ImageDecoder, ImageReader};

use crate::error::{MediaError, Result};
use crate::validate::{ImageFormat, sniff};
use crate::{jpeg, png};

/// Largest ICC profile accepted (embedded or given).
pub const MAX_PROFILE: usize = 4 << 20;
const ICC_SIGNATURE: &[u8] = b"ICC_PROFILE\0";

/// The ICC profile embedded in an image, if any. Multi-segment JPEG profiles are reassembled
/// by their sequence numbers.
pub fn embedded_profile(bytes: &[u8]) -> Result<Option<Vec<u8>>> {
    match sniff(bytes) {
        Some(ImageFormat::Jpeg) => {
            let header = jpeg::parse_header(bytes)?;
            let mut parts: Vec<(u8, u8, &[u8])> = Vec::new();
            for p in jpeg::payloads(bytes, &header, jpeg::APP2, ICC_SIGNATURE) {
                match p {
                    [seq, count, data @ ..] => parts.push((*seq, *count, data)),
                    _ => return Err(MediaError::Icc("ICC_PROFILE segment too short".into())),
                }
            }
            if parts.is_empty() {
                return Ok(None);
            }
            parts.sort_by_key(|p| p.0);
            let count = parts[0].1;
            let in_order = parts
                .iter()
                .enumerate()
                .all(|(i, p)| usize::from(p.0) == i + 1 && p.1 == count);
            if !in_order || usize::from(count) != parts.len() {
                return Err(MediaError::Icc(format!(
                    "ICC_PROFILE segments are incomplete ({} of {count})",
                    parts.len()
                )));
            }
            let profile: Vec<u8> = parts.iter().flat_map(|p| p.2.iter().copied()).collect();
            Ok(Some(profile))
        }
        Some(ImageFormat::Png) => {
            let chunks = png::chunks(bytes)?;
            let Some(c) = chunks.iter().find(|c| &c.kind == b"iCCP") else {
                return Ok(None);
            };
            let data = &bytes[c.data.clone()];
            let name_end = data
                .iter()
                .position(|&b| b == 0)
                .filter(|&n| n < 80)
                .ok_or_else(|| MediaError::Icc("iCCP chunk without a profile name".into()))?;
            let compressed = data
                .get(name_end + 2..)
                .ok_or_else(|| MediaError::Icc("iCCP chunk too short".into()))?;
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(compressed)
                .take(MAX_PROFILE as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| MediaError::Icc(format!("iCCP chunk: {e}")))?;
            if out.len() > MAX_PROFILE {
                return Err(MediaError::Icc("iCCP profile too large".into()));
            }
            Ok(Some(out))
        }
        Some(f @ (ImageFormat::WebP | ImageFormat::Tiff)) => {
            let format = if f == ImageFormat::WebP {
                image::ImageFormat::WebP
            } else {
                image::ImageFormat::Tiff
            };
            let mut decoder = ImageReader::with_format(Cursor::new(bytes), format)
                .into_decoder()
                .map_err(MediaError::from)?;
            Ok(decoder.icc_profile().map_err(MediaError::from)?)
        }
        None => Err(MediaError::UnknownFormat(format!("{} bytes", bytes.len()))),
    }
}

/// CIE xy chromaticity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Xy {
    /// x.
    pub x: f64,
    /// y.
    pub y: f64,
}

/// A tone curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ToneCurve {
    /// The sRGB curve (also Display P3's).
    Srgb,
    /// A pure power law.
    Gamma(f64),
}

/// An RGB colour space described by primaries, white point and tone curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RgbSpace {
    /// Red primary.
    pub red: Xy,
    /// Green primary.
    pub green: Xy,
    /// Blue primary.
    pub blue: Xy,
    /// White point.
    pub white: Xy,
    /// Tone curve of all three channels.
    pub curve: ToneCurve,
}

const D65: Xy = Xy {
    x: 0.3127,
    y: 0.3290,
};

impl RgbSpace {
    /// sRGB (IEC 61966-2-1).
    pub const SRGB: RgbSpace = RgbSpace {
        red: Xy { x: 0.64, y: 0.33 },
        green: Xy { x: 0.30, y: 0.60 },
        blue: Xy { x: 0.15, y: 0.06 },
        white: D65,
        curve: ToneCurve::Srgb,
    };
    /// Display P3 (DCI-P3 primaries, D65, sRGB curve): wide-gamut phones and cameras.
    pub const DISPLAY_P3: RgbSpace = RgbSpace {
        red: Xy { x: 0.680, y: 0.320 },
        green: Xy { x: 0.265, y: 0.690 },
        blue: Xy { x: 0.150, y: 0.060 },
        white: D65,
        curve: ToneCurve::Srgb,
    };
    /// Adobe RGB (1998).
    pub const ADOBE_RGB: RgbSpace = RgbSpace {
        red: Xy { x: 0.64, y: 0.33 },
        green: Xy { x: 0.21, y: 0.71 },
        blue: Xy { x: 0.15, y: 0.06 },
        white: D65,
        curve: ToneCurve::Gamma(563.0 / 256.0),
    };
}

type M3 = [[f64; 3]; 3];

fn mul(a: &M3, b: &M3) -> M3 {
    let mut o = [[0.0; 3]; 3];
    for (i, row) in o.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    o
}

fn mul_v(a: &M3, v: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|i| a[i][0] * v[0] + a[i][1] * v[1] + a[i][2] * v[2])
}

fn inv(m: &M3) -> Option<M3> {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    if det.abs() < 1e-12 || !det.is_finite() {
        return None;
    }
    let c =
        |r0: usize, c0: usize, r1: usize, c1: usize| m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
    Some([
        [
            c(1, 1, 2, 2) / det,
            -c(0, 1, 2, 2) / det,
            c(0, 1, 1, 2) / det,
        ],
        [
            -c(1, 0, 2, 2) / det,
            c(0, 0, 2, 2) / det,
            -c(0, 0, 1, 2) / det,
        ],
        [
            c(1, 0, 2, 1) / det,
            -c(0, 0, 2, 1) / det,
            c(0, 0, 1, 1) / det,
        ],
    ])
}

fn xyz(p: Xy) -> [f64; 3] {
    [p.x / p.y, 1.0, (1.0 - p.x - p.y) / p.y]
}

/// RGB -> XYZ matrix adapted to D50 (Bradford), as an ICC profile's colourants.
fn colourants(s: &RgbSpace) -> Option<M3> {
    let [r, g, b] = [xyz(s.red), xyz(s.green), xyz(s.blue)];
    let p: M3 = [[r[0], g[0], b[0]], [r[1], g[1], b[1]], [r[2], g[2], b[2]]];
    let w = xyz(s.white);
    let sc = mul_v(&inv(&p)?, w);
    let m: M3 = [0, 1, 2].map(|i| [0, 1, 2].map(|j| p[i][j] * sc[j]));
    let bradford: M3 = [
        [0.8951, 0.2664, -0.1614],
        [-0.7502, 1.7135, 0.0367],
        [0.0389, -0.0685, 1.0296],
    ];
    let d50 = [0.9642, 1.0, 0.8249];
    let (ws, wd) = (mul_v(&bradford, w), mul_v(&bradford, d50));
    let diag: M3 = [
        [wd[0] / ws[0], 0.0, 0.0],
        [0.0, wd[1] / ws[1], 0.0],
        [0.0, 0.0, wd[2] / ws[2]],
    ];
    let adapt = mul(&mul(&inv(&bradford)?, &diag), &bradford);
    Some(mul(&adapt, &m))
}

fn s15(v: f64) -> [u8; 4] {
    ((v * 65536.0).round() as i32).to_be_bytes()
}

fn xyz_tag(v: [f64; 3]) -> Vec<u8> {
    let mut t = b"XYZ \0\0\0\0".to_vec();
    for c in v {
        t.extend_from_slice(&s15(c));
    }
    t
}

/// Builds an ICC v4 display profile (matrix + parametric curves) for `space`, named
/// `description`. Small (about 500 bytes), readable by qcms and lcms.
pub fn rgb_profile(space: &RgbSpace, description: &str) -> Result<Vec<u8>> {
    build_profile(space, description, "No copyright, use freely", *b"mntr")
}

/// Builds an ICC v4 **output** (printer, class `prtr`) profile of the matrix/TRC kind for
/// `space`, named `description`, with `copyright` as its `cprt` text.
pub fn printer_profile(space: &RgbSpace, description: &str, copyright: &str) -> Result<Vec<u8>> {
    build_profile(space, description, copyright, *b"prtr")
}

fn mluc(text: &str) -> Vec<u8> {
    let t: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let mut c = b"mluc\0\0\0\0".to_vec();
    c.extend_from_slice(&1u32.to_be_bytes());
    c.extend_from_slice(&12u32.to_be_bytes());
    c.extend_from_slice(b"enUS");
    c.extend_from_slice(&(t.len() as u32).to_be_bytes());
    c.extend_from_slice(&28u32.to_be_bytes());
    c.extend_from_slice(&t);
    c
}

fn build_profile(
    space: &RgbSpace,
    description: &str,
    copyright: &str,
    class: [u8; 4],
) -> Result<Vec<u8>> {
    let m = colourants(space)
        .ok_or_else(|| MediaError::Icc("primaries do not span a colour space".into()))?;
    let col = |j: usize| [m[0][j], m[1][j], m[2][j]];
    let curve = match space.curve {
        ToneCurve::Srgb => {
            let mut t = b"para\0\0\0\0\0\x03\0\0".to_vec();
            for p in [2.4, 1.0 / 1.055, 0.055 / 1.055, 1.0 / 12.92, 0.04045] {
                t.extend_from_slice(&s15(p));
            }
            t
        }
        ToneCurve::Gamma(g) => {
            let mut t = b"para\0\0\0\0\0\0\0\0".to_vec();
            t.extend_from_slice(&s15(g));
            t
        }
    };
    let desc = mluc(description);
    let cprt = mluc(copyright);
    // (signature, data); TRC tags share one curve.
    let tags: Vec<(&[u8; 4], Vec<u8>)> = vec![
        (b"desc", desc),
        (b"cprt", cprt),
        (b"wtpt", xyz_tag([0.9642, 1.0, 0.8249])),
        (b"rXYZ", xyz_tag(col(0))),
        (b"gXYZ", xyz_tag(col(1))),
        (b"bXYZ", xyz_tag(col(2))),
        (b"rTRC", curve),
    ];
    let shared = [b"gTRC", b"bTRC"];
    let count = tags.len() + shared.len();
    let mut offset = 128 + 4 + 12 * count;
    let mut table = Vec::new();
    let mut data = Vec::new();
    let mut trc = (0u32, 0u32);
    for (sig, d) in &tags {
        table.extend_from_slice(*sig);
        table.extend_from_slice(&(offset as u32).to_be_bytes());
        table.extend_from_slice(&(d.len() as u32).to_be_bytes());
        if *sig == b"rTRC" {
            trc = (offset as u32, d.len() as u32);
        }
        data.extend_from_slice(d);
        while data.len() % 4 != 0 {
            data.push(0);
        }
        offset = 128 + 4 + 12 * count + data.len();
    }
    for sig in shared {
        table.extend_from_slice(sig);
        table.extend_from_slice(&trc.0.to_be_bytes());
        table.extend_from_slice(&trc.1.to_be_bytes());
    }
    let size = 128 + 4 + table.len() + data.len();
    let mut h = Vec::with_capacity(size);
    h.extend_from_slice(&(size as u32).to_be_bytes());
    h.extend_from_slice(b"rprt");
    h.extend_from_slice(&[4, 0x30, 0, 0]);
    h.extend_from_slice(&class);
    h.extend_from_slice(b"RGB XYZ ");
    h.extend_from_slice(&[0x07, 0xEA, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]); // 2026-01-01
    h.extend_from_slice(b"acsp");
    h.extend_from_slice(&[0; 24]); // platform, flags, manufacturer, model, attributes
    h.extend_from_slice(&0u32.to_be_bytes()); // perceptual
    for c in [0.9642, 1.0, 0.8249] {
        h.extend_from_slice(&s15(c));
    }
    h.extend_from_slice(b"rprt");
    h.resize(128, 0);
    h.extend_from_slice(&(count as u32).to_be_bytes());
    h.extend_from_slice(&table);
    h.extend_from_slice(&data);
    Ok(h)
}

/// sRGB as an ICC profile.
pub fn srgb_profile() -> Vec<u8> {
    // The constants describe a valid space; only degenerate primaries fail.
    rgb_profile(&RgbSpace::SRGB, "sRGB (reprint)").unwrap_or_default()
}

/// Display P3 as an ICC profile.
pub fn display_p3_profile() -> Vec<u8> {
    rgb_profile(&RgbSpace::DISPLAY_P3, "Display P3 (reprint)").unwrap_or_default()
}

/// Adobe RGB (1998)-compatible ICC profile.
pub fn adobe_rgb_profile() -> Vec<u8> {
    rgb_profile(&RgbSpace::ADOBE_RGB, "Adobe RGB compatible (reprint)").unwrap_or_default()
}

/// The chromaticities of the generated silver-halide printer profile
/// ([`silver_halide_glossy_profile`]).
///
/// Not a measurement of any paper: primaries chosen to give the shape silver-halide (RA-4)
/// colour paper's gamut is known for against sRGB: wider in cyan-green, narrower in the most
/// saturated red and blue, a D50 paper white, gamma 2.2. Enough to show what a print cannot
/// hold; a lab that has its paper measured configures that profile instead.
pub const SILVER_HALIDE_GLOSSY: RgbSpace = RgbSpace {
    red: Xy { x: 0.620, y: 0.330 },
    green: Xy { x: 0.220, y: 0.660 },
    blue: Xy { x: 0.155, y: 0.085 },
    white: Xy {
        x: 0.3457,
        y: 0.3585,
    },
    curve: ToneCurve::Gamma(2.2),
};

/// The name a lab's configuration gives the generated printer profile to use the built-in copy
/// (`icc_profile = "reprint-silver-halide-glossy"`), as its catalog lists it.
pub const SILVER_HALIDE_GLOSSY_NAME: &str = "reprint-silver-halide-glossy";

/// The description of the generated printer profile (`deploy/icc/reprint-silver-halide-glossy.icc`).
pub const SILVER_HALIDE_GLOSSY_DESCRIPTION: &str =
    "reprint minilab, silver-halide glossy paper (generated, approximate)";

/// The printer profile the project ships (`deploy/icc/reprint-silver-halide-glossy.icc`),
/// generated from [`SILVER_HALIDE_GLOSSY`]: an ICC v4 output profile of the matrix/TRC kind.
pub fn silver_halide_glossy_profile() -> Vec<u8> {
    // The constants describe a valid space; only degenerate primaries fail.
    printer_profile(
        &SILVER_HALIDE_GLOSSY,
        SILVER_HALIDE_GLOSSY_DESCRIPTION,
        "Generated by reprint (reprint_media::icc::silver_halide_glossy_profile); no copyright, use freely (CC0)",
    )
    .unwrap_or_default()
}

/// The well-known profile an order may name (`reprint_domain::protocol::WELL_KNOWN_PROFILES`:
/// "sRGB", "Adobe RGB (1998)", "Display P3", any case), generated here.
pub fn named_profile(name: &str) -> Option<Vec<u8>> {
    let name = name.trim();
    if name.eq_ignore_ascii_case("sRGB") {
        Some(srgb_profile())
    } else if name.eq_ignore_ascii_case("Adobe RGB (1998)") {
        Some(adobe_rgb_profile())
    } else if name.eq_ignore_ascii_case("Display P3") {
        Some(display_p3_profile())
    } else {
        None
    }
}

/// The source profile an order gives an image, as bytes: a well-known name's generated
/// profile, or the bytes it carries.
pub fn source_profile_bytes(profile: &reprint_domain::protocol::SourceProfile) -> Result<Vec<u8>> {
    profile.check().map_err(MediaError::Icc)?;
    match profile {
        reprint_domain::protocol::SourceProfile::Named(n) => {
            named_profile(n).ok_or_else(|| MediaError::Icc(format!("unknown colour profile {n:?}")))
        }
        reprint_domain::protocol::SourceProfile::Icc(_) => profile
            .icc_bytes()
            .unwrap_or_else(|| Ok(Vec::new()))
            .map_err(MediaError::Icc),
    }
}

/// A profile's description (its `desc` tag: ICC v2 `desc` text or v4 `mluc`, the first
/// record), if it has a readable one.
pub fn description(profile: &[u8]) -> Option<String> {
    let be32 = |at: usize| -> Option<usize> {
        let b = profile.get(at..at + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let count = be32(128)?.min(1000);
    let (offset, size) = (0..count).find_map(|i| {
        let at = 132 + 12 * i;
        (profile.get(at..at + 4)? == b"desc").then(|| Some((be32(at + 4)?, be32(at + 8)?)))?
    })?;
    let tag = profile.get(offset..offset.checked_add(size)?)?;
    let text = match tag.get(0..4)? {
        b"desc" => {
            let n = u32::from_be_bytes(tag.get(8..12)?.try_into().ok()?) as usize;
            let ascii = tag.get(12..12 + n)?;
            String::from_utf8_lossy(ascii)
                .trim_end_matches('\0')
                .to_string()
        }
        b"mluc" => {
            let len = u32::from_be_bytes(tag.get(20..24)?.try_into().ok()?) as usize;
            let at = u32::from_be_bytes(tag.get(24..28)?.try_into().ok()?) as usize;
            let units: Vec<u16> = tag
                .get(at..at.checked_add(len)?)?
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
                .trim_end_matches('\0')
                .to_string()
        }
        _ => return None,
    };
    let text = text.trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// The description of a profile is not needed; its colour space is: only RGB profiles can
/// describe the RGB pixels the decoder hands over.
fn check_rgb(profile: &[u8], role: &str) -> Result<()> {
    if profile.len() > MAX_PROFILE {
        return Err(MediaError::Icc(format!(
            "{role} profile is larger than {MAX_PROFILE} bytes"
        )));
    }
    match profile.get(16..20) {
        Some(b"RGB ") => Ok(()),
        Some(cs) => Err(MediaError::Icc(format!(
            "{role} profile is for colour space {:?}, not RGB",
            String::from_utf8_lossy(cs)
        ))),
        None => Err(MediaError::Icc(format!("{role} profile is too short"))),
    }
}

fn load(profile: Option<&[u8]>, role: &str) -> Result<Box<qcms::Profile>> {
    match profile {
        None => Ok(qcms::Profile::new_sRGB()),
        Some(p) => {
            check_rgb(p, role)?;
            // qcms is hardened for web content; the catch is a second line against a panic on
            // a hostile profile (the crate does not set panic = "abort").
            std::panic::catch_unwind(|| qcms::Profile::new_from_slice(p, false))
                .ok()
                .flatten()
                .ok_or_else(|| MediaError::Icc(format!("{role} profile could not be read")))
        }
    }
}

/// A conversion between two RGB profiles (`None` = sRGB) for 8-bit RGB pixels.
pub struct ColorTransform {
    inner: Option<qcms::Transform>,
}

impl std::fmt::Debug for ColorTransform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ColorTransform")
            .field("identity", &self.inner.is_none())
            .finish()
    }
}

impl ColorTransform {
    /// Builds a relative-colorimetric conversion from `source` to `destination`. Identical
    /// profiles (or both absent) give the identity.
    pub fn new(source: Option<&[u8]>, destination: Option<&[u8]>) -> Result<Self> {
        if source == destination {
            return Ok(ColorTransform { inner: None });
        }
        let src = load(source, "source")?;
        let mut dst = load(destination, "destination")?;
        let inner = std::panic::catch_unwind(move || {
            dst.precache_output_transform();
            qcms::Transform::new(
                &src,
                &dst,
                qcms::DataType::RGB8,
                qcms::Intent::RelativeColorimetric,
            )
        })
        .ok()
        .flatten()
        .ok_or_else(|| MediaError::Icc("no conversion between these two profiles".into()))?;
        Ok(ColorTransform { inner: Some(inner) })
    }

    /// True when the conversion changes nothing.
    pub fn is_identity(&self) -> bool {
        self.inner.is_none()
    }

    /// Converts packed RGB8 pixels in place (length must be a multiple of 3).
    pub fn apply_rgb8(&self, pixels: &mut [u8]) -> Result<()> {
        if !pixels.len().is_multiple_of(3) {
            return Err(MediaError::Icc(format!(
                "{} bytes are not whole RGB pixels",
                pixels.len()
            )));
        }
        if let Some(t) = &self.inner {
            // Length checked above, so qcms's own check cannot fire.
            t.apply(pixels);
        }
        Ok(())
    }
}
