//! The index print's sheet (seed 000, claims 2, 18; `reprint_domain::product`): every image of
//! an order as a thumbnail in a grid on one sheet, each with its number from the order's item
//! list printed under it, black on the white paper.
//!
//! The numbers are drawn with a small built-in 5 x 7 bitmap font of the ten digits, scaled to
//! the label: a number is all the sheet writes, and a font crate (with a font file to bundle
//! and its licence) would bring a rasteriser for ten glyphs. [`read_number`] reads a label back
//! by the same glyphs, so that a check of a printed sheet (after JPEG) can tell what it says.

use image::imageops::{self, FilterType};
use image::{ImageEncoder, Rgb, RgbImage};
use reprint_domain::product::{IndexLayout, index_layout};

use crate::edit::EditList;
use crate::render::{PrintSpec, RenderedPrint, render_print};
use crate::{Limits, MediaError, PrintHistory, Result};

/// The ten digits, 5 x 7, one row a byte (bit 4 the leftmost pixel).
const DIGITS: [[u8; 7]; 10] = [
    [
        0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110,
    ],
    [
        0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110,
    ],
    [
        0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111,
    ],
    [
        0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110,
    ],
    [
        0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010,
    ],
    [
        0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110,
    ],
    [
        0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110,
    ],
    [
        0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000,
    ],
    [
        0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110,
    ],
    [
        0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100,
    ],
];
/// A glyph's width and height in font pixels, and its advance (one pixel apart).
const GLYPH_W: u32 = 5;
const GLYPH_H: u32 = 7;
const ADVANCE: u32 = GLYPH_W + 1;

const PAPER: Rgb<u8> = Rgb([255, 255, 255]);
const INK: Rgb<u8> = Rgb([0, 0, 0]);

/// A rectangle of the sheet, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// Where everything goes on a sheet of `width` x `height` for `cells` images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SheetGeometry {
    pub width: u32,
    pub height: u32,
    pub layout: IndexLayout,
    /// The white space around the grid and between its cells.
    pub gap: u32,
    pub cell_width: u32,
    pub cell_height: u32,
    /// The strip under each picture that holds its number.
    pub label_height: u32,
}

impl SheetGeometry {
    /// The grid of `reprint_domain::product::index_layout` on the sheet.
    pub fn new(cells: u32, width: u32, height: u32) -> SheetGeometry {
        let layout = index_layout(cells, width, height);
        let gap = (width.min(height) / 100).max(2);
        let cell_width = (width.saturating_sub(gap * (layout.columns + 1)) / layout.columns).max(1);
        let cell_height = (height.saturating_sub(gap * (layout.rows + 1)) / layout.rows).max(1);
        let label_height = (cell_height / 6).clamp(9.min(cell_height), 60);
        SheetGeometry {
            width,
            height,
            layout,
            gap,
            cell_width,
            cell_height,
            label_height,
        }
    }

    fn cell(&self, index: u32) -> Rect {
        let (col, row) = (index % self.layout.columns, index / self.layout.columns);
        Rect {
            x: self.gap + col * (self.cell_width + self.gap),
            y: self.gap + row * (self.cell_height + self.gap),
            width: self.cell_width,
            height: self.cell_height,
        }
    }

    /// The box the `index`-th picture (from 0) is fitted into.
    pub fn picture_box(&self, index: u32) -> Rect {
        let c = self.cell(index);
        Rect {
            height: c.height.saturating_sub(self.label_height).max(1),
            ..c
        }
    }

    /// The strip under the `index`-th picture holding its number.
    pub fn label_box(&self, index: u32) -> Rect {
        let c = self.cell(index);
        let height = self.label_height.min(c.height);
        Rect {
            y: c.y + c.height - height,
            height,
            ..c
        }
    }

    /// The longest side a thumbnail needs (what to decode each image at).
    pub fn thumbnail_side(&self) -> u32 {
        let b = self.picture_box(0);
        b.width.max(b.height)
    }

    /// The font's scale in a label for a number of `digits` digits.
    fn scale(&self, digits: u32) -> u32 {
        let by_height = self.label_height.saturating_sub(2) / GLYPH_H;
        let by_width = self.cell_width / (ADVANCE * digits.max(1));
        by_height.min(by_width).max(1)
    }

    /// Where the number's glyphs start and their scale.
    fn text_origin(&self, index: u32, digits: u32) -> (u32, u32, u32) {
        let label = self.label_box(index);
        let s = self.scale(digits);
        let text_w = (ADVANCE * digits - 1) * s;
        let x = label.x + label.width.saturating_sub(text_w) / 2;
        let y = label.y + label.height.saturating_sub(GLYPH_H * s) / 2;
        (x, y, s)
    }
}

/// One image on the sheet: its number and its picture (the image as ordered, any size).
#[derive(Debug, Clone)]
pub struct SheetCell {
    pub number: u32,
    pub picture: RgbImage,
}

/// The sheet: each picture fitted whole into its box (centred, white around it) with its
/// number under it, in the order given.
pub fn render_sheet(width: u32, height: u32, cells: &[SheetCell]) -> RgbImage {
    let count = u32::try_from(cells.len()).unwrap_or(u32::MAX);
    let geometry = SheetGeometry::new(count, width, height);
    let mut sheet = RgbImage::from_pixel(width.max(1), height.max(1), PAPER);
    for (index, cell) in (0u32..).zip(cells) {
        let b = geometry.picture_box(index);
        let (pw, ph) = cell.picture.dimensions();
        if pw > 0 && ph > 0 {
            let scale =
                (f64::from(b.width) / f64::from(pw)).min(f64::from(b.height) / f64::from(ph));
            let w = ((f64::from(pw) * scale).round() as u32).clamp(1, b.width);
            let h = ((f64::from(ph) * scale).round() as u32).clamp(1, b.height);
            let thumb = imageops::resize(&cell.picture, w, h, FilterType::Triangle);
            let x = b.x + (b.width - w) / 2;
            let y = b.y + (b.height - h) / 2;
            imageops::replace(&mut sheet, &thumb, i64::from(x), i64::from(y));
        }
        draw_number(&mut sheet, &geometry, index, cell.number);
    }
    sheet
}

/// The index print as the print station gets it: the sheet rendered at `spec`'s paper size
/// (portrait) and then through [`crate::render::render_print`] like any print (converted to
/// `printer_profile`, encoded as the station's JPEG). `cells` are the pictures as ordered
/// (e.g. [`crate::edit::preview`] at [`SheetGeometry::thumbnail_side`]).
pub fn render_index_print(
    cells: &[SheetCell],
    spec: &PrintSpec,
    printer_profile: Option<&[u8]>,
    limits: &Limits,
) -> Result<RenderedPrint> {
    let (w, h) = spec.pixel_size()?;
    let (w, h) = (w.min(h), w.max(h));
    limits.check_size(w, h)?;
    let sheet = render_sheet(w, h, cells);
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(sheet.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .map_err(|e| MediaError::Encode(e.to_string()))?;
    render_print(
        &png,
        &EditList::default(),
        spec,
        printer_profile,
        &PrintHistory::new(),
        limits,
    )
}

/// The longest side the pictures of a sheet of `cells` images at `spec` need.
pub fn thumbnail_side(cells: u32, spec: &PrintSpec) -> Result<u32> {
    let (w, h) = spec.pixel_size()?;
    Ok(SheetGeometry::new(cells, w.min(h), w.max(h)).thumbnail_side())
}

fn digits_of(number: u32) -> Vec<u32> {
    number
        .to_string()
        .bytes()
        .map(|b| u32::from(b - b'0'))
        .collect()
}

fn draw_number(sheet: &mut RgbImage, g: &SheetGeometry, index: u32, number: u32) {
    let digits = digits_of(number);
    let (x0, y0, s) = g.text_origin(index, digits.len() as u32);
    for (k, d) in (0u32..).zip(&digits) {
        let glyph = &DIGITS[*d as usize];
        for (row, bits) in (0u32..).zip(glyph) {
            for col in 0..GLYPH_W {
                if bits & (1 << (GLYPH_W - 1 - col)) == 0 {
                    continue;
                }
                for dy in 0..s {
                    for dx in 0..s {
                        let x = x0 + (k * ADVANCE + col) * s + dx;
                        let y = y0 + row * s + dy;
                        if x < sheet.width() && y < sheet.height() {
                            sheet.put_pixel(x, y, INK);
                        }
                    }
                }
            }
        }
    }
}

/// Reads back the number of `digits` digits printed under the `index`-th picture of a sheet of
/// `cells` images (the sheet as printed: JPEG-decoded), by the font's glyphs: `None` when the
/// label shows no number of that length.
pub fn read_number(sheet: &RgbImage, cells: u32, index: u32, digits: u32) -> Option<u32> {
    let g = SheetGeometry::new(cells, sheet.width(), sheet.height());
    let (x0, y0, s) = g.text_origin(index, digits);
    let mut number = 0u32;
    for k in 0..digits {
        let mut bits = [0u8; 7];
        for (row, line) in (0u32..).zip(bits.iter_mut()) {
            for col in 0..GLYPH_W {
                // The centre of the font pixel.
                let x = x0 + (k * ADVANCE + col) * s + s / 2;
                let y = y0 + row * s + s / 2;
                let p = sheet.get_pixel_checked(x, y)?;
                let luma = (u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2])) / 3;
                if luma < 128 {
                    *line |= 1 << (GLYPH_W - 1 - col);
                }
            }
        }
        let d = DIGITS.iter().position(|g| *g == bits)?;
        number = number * 10 + d as u32;
    }
    Some(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(w: u32, h: u32, c: [u8; 3]) -> RgbImage {
        RgbImage::from_pixel(w, h, Rgb(c))
    }

    fn mean(img: &RgbImage, r: Rect) -> [f64; 3] {
        let mut sum = [0f64; 3];
        let mut n = 0f64;
        for y in r.y..r.y + r.height {
            for x in r.x..r.x + r.width {
                let p = img.get_pixel(x, y);
                for c in 0..3 {
                    sum[c] += f64::from(p[c]);
                }
                n += 1.0;
            }
        }
        sum.map(|s| s / n)
    }

    /// The middle third of a box (inside the fitted picture whatever its aspect).
    fn middle(r: Rect) -> Rect {
        Rect {
            x: r.x + r.width / 3,
            y: r.y + r.height / 3,
            width: (r.width / 3).max(1),
            height: (r.height / 3).max(1),
        }
    }

    #[test]
    fn every_image_is_in_its_cell_with_its_number_under_it() {
        let colours = [
            [200, 30, 30],
            [30, 160, 40],
            [20, 40, 190],
            [230, 200, 20],
            [120, 40, 160],
        ];
        let numbers = [1, 2, 5, 12, 105];
        let cells: Vec<SheetCell> = colours
            .iter()
            .zip(numbers)
            .enumerate()
            .map(|(i, (c, number))| SheetCell {
                number,
                // Landscape and portrait pictures alike.
                picture: if i % 2 == 0 {
                    solid(400, 300, *c)
                } else {
                    solid(300, 400, *c)
                },
            })
            .collect();
        let sheet = render_sheet(1051, 1500, &cells);
        assert_eq!(sheet.dimensions(), (1051, 1500));
        let g = SheetGeometry::new(5, 1051, 1500);
        assert_eq!((g.layout.columns, g.layout.rows), (2, 3));
        for (i, (c, number)) in (0u32..).zip(colours.iter().zip(numbers)) {
            let m = mean(&sheet, middle(g.picture_box(i)));
            for k in 0..3 {
                assert!(
                    (m[k] - f64::from(c[k])).abs() < 1.0,
                    "cell {i}: {m:?} for {c:?}"
                );
            }
            let digits = number.to_string().len() as u32;
            assert_eq!(read_number(&sheet, 5, i, digits), Some(number), "cell {i}");
            // Ink in the label, nowhere else in it than the glyphs: some, not most.
            let label = g.label_box(i);
            let inked = (label.y..label.y + label.height)
                .flat_map(|y| (label.x..label.x + label.width).map(move |x| (x, y)))
                .filter(|(x, y)| sheet.get_pixel(*x, *y)[0] < 128)
                .count();
            assert!(inked > 0 && inked < (label.width * label.height / 2) as usize);
        }
        // The sixth place of the 2 x 3 grid stays white paper.
        let empty = mean(&sheet, g.picture_box(5));
        assert_eq!(empty, [255.0; 3]);
        assert_eq!(read_number(&sheet, 5, 5, 1), None);
    }

    #[test]
    fn the_index_print_goes_through_the_print_path_and_reads_back_after_jpeg() {
        let colours = [[200, 30, 30], [30, 160, 40], [20, 40, 190]];
        let cells: Vec<SheetCell> = (1u32..)
            .zip(colours)
            .map(|(number, c)| SheetCell {
                number,
                picture: solid(640, 480, c),
            })
            .collect();
        let spec = PrintSpec::new(crate::render::PrintSize::L, 300);
        let printed = render_index_print(&cells, &spec, None, &Limits::default()).unwrap();
        assert_eq!((printed.width, printed.height), (1051, 1500));
        let sheet = image::load_from_memory(&printed.jpeg).unwrap().to_rgb8();
        let g = SheetGeometry::new(3, 1051, 1500);
        for (i, c) in (0u32..).zip(colours) {
            let m = mean(&sheet, middle(g.picture_box(i)));
            for k in 0..3 {
                assert!(
                    (m[k] - f64::from(c[k])).abs() < 6.0,
                    "cell {i}: {m:?} for {c:?}"
                );
            }
            assert_eq!(read_number(&sheet, 3, i, 1), Some(i + 1));
        }
        assert!(thumbnail_side(3, &spec).unwrap() > 300);
    }

    #[test]
    fn a_label_reads_back_only_its_own_number() {
        let cells: Vec<SheetCell> = (0..10)
            .map(|d| SheetCell {
                number: d * 111 % 1000,
                picture: solid(10, 10, [90, 90, 90]),
            })
            .collect();
        let sheet = render_sheet(1051, 1500, &cells);
        for (i, cell) in (0u32..).zip(&cells) {
            let digits = cell.number.to_string().len() as u32;
            assert_eq!(read_number(&sheet, 10, i, digits), Some(cell.number));
        }
    }

    #[test]
    fn the_most_lines_of_an_order_still_get_a_readable_number() {
        let cells: Vec<SheetCell> = (1..=500)
            .map(|n| SheetCell {
                number: n,
                picture: solid(40, 30, [10, 120, 200]),
            })
            .collect();
        let sheet = render_sheet(1051, 1500, &cells);
        assert_eq!(read_number(&sheet, 500, 499, 3), Some(500));
        assert_eq!(read_number(&sheet, 500, 0, 1), Some(1));
    }
}
