//! Deterministic synthetic "photographs" for tests and benchmarks: no binary fixtures in the
//! repository, yet images varied enough (gradients, shapes, noise textures, horizons, different
//! compositions) that a perceptual hash must tell them apart.
//!
//! The same seed gives the same scene at any size, because every pixel is computed from
//! normalised coordinates: `photo(7, 6000, 4000)` and `photo(7, 600, 400)` show one scene.

use image::{Rgb, RgbImage};

/// A small xorshift generator (no dependency, stable across versions).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeds the generator (any seed, zero included).
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        // splitmix64: good bits from any state.
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in [0, n) (n > 0).
    pub fn below(&mut self, n: u32) -> u32 {
        (((self.next_u64() >> 32) * u64::from(n)) >> 32) as u32
    }

    fn colour(&mut self) -> [f32; 3] {
        [
            self.range(0.0, 255.0),
            self.range(0.0, 255.0),
            self.range(0.0, 255.0),
        ]
    }
}

enum Background {
    Linear {
        a: [f32; 3],
        b: [f32; 3],
        dx: f32,
        dy: f32,
    },
    Radial {
        a: [f32; 3],
        b: [f32; 3],
        cx: f32,
        cy: f32,
    },
    Horizon {
        sky: [f32; 3],
        sky2: [f32; 3],
        ground: [f32; 3],
        ground2: [f32; 3],
        y: f32,
    },
    Noise {
        a: [f32; 3],
        b: [f32; 3],
        grid: Vec<f32>,
        n: usize,
    },
}

enum Shape {
    Circle {
        cx: f32,
        cy: f32,
        r: f32,
        c: [f32; 3],
        soft: f32,
    },
    Rect {
        x0: f32,
        y0: f32,
        x1: f32,
        y1: f32,
        c: [f32; 3],
    },
    Band {
        nx: f32,
        ny: f32,
        d: f32,
        w: f32,
        c: [f32; 3],
        alpha: f32,
    },
}

struct Scene {
    aspect: f32,
    bg: Background,
    shapes: Vec<Shape>,
    grain: f32,
}

fn lerp3(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    let t = t.clamp(0.0, 1.0);
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

impl Scene {
    fn new(seed: u64, aspect: f32) -> Scene {
        let mut r = Rng::new(seed);
        let bg = match r.below(4) {
            0 => {
                let angle = r.range(0.0, std::f32::consts::TAU);
                Background::Linear {
                    a: r.colour(),
                    b: r.colour(),
                    dx: angle.cos(),
                    dy: angle.sin(),
                }
            }
            1 => Background::Radial {
                a: r.colour(),
                b: r.colour(),
                cx: r.range(0.0, aspect),
                cy: r.unit(),
            },
            2 => Background::Horizon {
                sky: r.colour(),
                sky2: r.colour(),
                ground: r.colour(),
                ground2: r.colour(),
                y: r.range(0.25, 0.75),
            },
            _ => {
                let n = 3 + r.below(6) as usize;
                let grid = (0..(n + 1) * (n + 1)).map(|_| r.unit()).collect();
                Background::Noise {
                    a: r.colour(),
                    b: r.colour(),
                    grid,
                    n,
                }
            }
        };
        let count = 2 + r.below(9);
        let shapes = (0..count)
            .map(|_| match r.below(3) {
                0 => Shape::Circle {
                    cx: r.range(0.0, aspect),
                    cy: r.unit(),
                    r: r.range(0.04, 0.3),
                    c: r.colour(),
                    soft: r.range(0.002, 0.05),
                },
                1 => {
                    let (x, y) = (r.range(-0.1, aspect), r.range(-0.1, 1.0));
                    Shape::Rect {
                        x0: x,
                        y0: y,
                        x1: x + r.range(0.05, 0.5),
                        y1: y + r.range(0.05, 0.5),
                        c: r.colour(),
                    }
                }
                _ => {
                    let angle = r.range(0.0, std::f32::consts::PI);
                    Shape::Band {
                        nx: angle.cos(),
                        ny: angle.sin(),
                        d: r.range(-0.2, 1.2),
                        w: r.range(0.02, 0.15),
                        c: r.colour(),
                        alpha: r.range(0.4, 1.0),
                    }
                }
            })
            .collect();
        Scene {
            aspect,
            bg,
            shapes,
            grain: r.range(0.0, 10.0),
        }
    }

    fn background(&self, x: f32, y: f32) -> [f32; 3] {
        match &self.bg {
            Background::Linear { a, b, dx, dy } => {
                let t = 0.5 + ((x / self.aspect - 0.5) * dx + (y - 0.5) * dy);
                lerp3(*a, *b, t)
            }
            Background::Radial { a, b, cx, cy } => {
                let d = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
                lerp3(*a, *b, d / 1.2)
            }
            Background::Horizon {
                sky,
                sky2,
                ground,
                ground2,
                y: h,
            } => {
                if y < *h {
                    lerp3(*sky, *sky2, y / h)
                } else {
                    lerp3(*ground, *ground2, (y - h) / (1.0 - h))
                }
            }
            Background::Noise { a, b, grid, n } => {
                let gx = (x / self.aspect).clamp(0.0, 1.0) * (*n as f32 - 1e-3);
                let gy = y.clamp(0.0, 1.0) * (*n as f32 - 1e-3);
                let (ix, iy) = (gx as usize, gy as usize);
                let (fx, fy) = (gx - ix as f32, gy - iy as f32);
                let s = |v: f32| v * v * (3.0 - 2.0 * v);
                let at = |i: usize, j: usize| grid.get(j * (n + 1) + i).copied().unwrap_or(0.0);
                let top = at(ix, iy) + (at(ix + 1, iy) - at(ix, iy)) * s(fx);
                let bot = at(ix, iy + 1) + (at(ix + 1, iy + 1) - at(ix, iy + 1)) * s(fx);
                lerp3(*a, *b, top + (bot - top) * s(fy))
            }
        }
    }

    fn pixel(&self, x: f32, y: f32, noise: f32) -> [u8; 3] {
        let mut c = self.background(x, y);
        for shape in &self.shapes {
            match shape {
                Shape::Circle {
                    cx,
                    cy,
                    r,
                    c: col,
                    soft,
                } => {
                    let d = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
                    let t = ((r - d) / soft).clamp(0.0, 1.0);
                    c = lerp3(c, *col, t);
                }
                Shape::Rect {
                    x0,
                    y0,
                    x1,
                    y1,
                    c: col,
                } => {
                    if x >= *x0 && x < *x1 && y >= *y0 && y < *y1 {
                        c = *col;
                    }
                }
                Shape::Band {
                    nx,
                    ny,
                    d,
                    w,
                    c: col,
                    alpha,
                } => {
                    if (x * nx + y * ny - d).abs() < *w {
                        c = lerp3(c, *col, *alpha);
                    }
                }
            }
        }
        let g = noise * self.grain;
        [
            (c[0] + g).clamp(0.0, 255.0) as u8,
            (c[1] + g).clamp(0.0, 255.0) as u8,
            (c[2] + g).clamp(0.0, 255.0) as u8,
        ]
    }
}

/// Renders scene `seed` at `width` x `height` (both at least 1).
pub fn photo(seed: u64, width: u32, height: u32) -> RgbImage {
    let (width, height) = (width.max(1), height.max(1));
    let aspect = width as f32 / height as f32;
    let scene = Scene::new(seed, aspect);
    let mut grain = Rng::new(seed ^ 0x5EED);
    let inv = 1.0 / height as f32;
    RgbImage::from_fn(width, height, |x, y| {
        let n = grain.range(-1.0, 1.0);
        Rgb(scene.pixel((x as f32 + 0.5) * inv, (y as f32 + 0.5) * inv, n))
    })
}

/// Encodes an RGB image as a baseline JPEG at `quality` (1-100).
pub fn jpeg(img: &RgbImage, quality: u8) -> crate::Result<Vec<u8>> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(img)?;
    Ok(out)
}

/// Encodes an RGB image as PNG.
pub fn png(img: &RgbImage) -> crate::Result<Vec<u8>> {
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)?;
    Ok(out)
}

/// A decompression bomb: a real PNG of `width` x `height` black pixels, RGBA at 16 bits a
/// sample when `rgba16` (8 bytes a pixel once decoded), else RGB at 8 bits (3 bytes). Its
/// pixels deflate about a thousand to one: 12000 x 12000 RGBA16 is a 1.1 MB file that opens to
/// 1.2 GB. For tests and the `reprint-bench abuse` figures.
pub fn png_bomb(width: u32, height: u32, rgba16: bool) -> crate::Result<Vec<u8>> {
    use std::io::Write;
    let (colour, depth, pixel_bytes) = if rgba16 {
        (6u8, 16u8, 8usize)
    } else {
        (2, 8, 3)
    };
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[depth, colour, 0, 0, 0]);
    // Each row: filter type 0, then the row's samples, all zero.
    let row = vec![0u8; 1 + width as usize * pixel_bytes];
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    for _ in 0..height {
        z.write_all(&row)?;
    }
    let idat = z.finish()?;
    let mut out = crate::png::SIGNATURE.to_vec();
    out.extend(crate::png::chunk_bytes(b"IHDR", &ihdr)?);
    for part in idat.chunks(1 << 20) {
        out.extend(crate::png::chunk_bytes(b"IDAT", part)?);
    }
    out.extend(crate::png::chunk_bytes(b"IEND", &[])?);
    Ok(out)
}

/// `jpeg` with `len` bytes of its scan data, from the middle on, overwritten with noise from
/// `seed` (no 0xFF, so the file's markers stay where they were and it still reads as a whole
/// JPEG): what a damaged card or a bad copy gives. Printed as decoded, its lower part would be
/// garbled.
pub fn damaged_scan(jpeg: &[u8], len: usize, seed: u64) -> crate::Result<Vec<u8>> {
    let header = crate::jpeg::parse_header(jpeg)?;
    let end = crate::jpeg::check_complete(jpeg, header.first_sos)?;
    let data_start = header.first_sos
        + 2
        + usize::from(u16::from_be_bytes([
            jpeg[header.first_sos + 2],
            jpeg[header.first_sos + 3],
        ]));
    let scan_end = end.saturating_sub(2);
    let from = data_start + (scan_end - data_start) / 2;
    let to = (from + len).min(scan_end);
    let mut out = jpeg.to_vec();
    let mut rng = Rng::new(seed);
    for b in &mut out[from..to] {
        *b = (rng.next_u64() % 255) as u8;
    }
    Ok(out)
}
