//! Test photos: generated JPEGs, a re-encoded copy of one, and a memory card as a ZIP.

use std::io::Write as _;

use image::codecs::jpeg::JpegEncoder;
use image::{ImageBuffer, Rgb, RgbImage};

/// A photo-like picture (smooth gradients, a few shapes; `seed` varies them) as a JPEG.
pub fn photo_jpeg(seed: u32, width: u32, height: u32, quality: u8) -> Vec<u8> {
    let s = seed.wrapping_mul(2_654_435_761);
    let cx = (s % width.max(1)) as i64;
    let cy = ((s >> 8) % height.max(1)) as i64;
    let r2 = i64::from(width.min(height) / 4).pow(2);
    let img: RgbImage = ImageBuffer::from_fn(width, height, |x, y| {
        let (xi, yi) = (i64::from(x), i64::from(y));
        let in_disc = (xi - cx).pow(2) + (yi - cy).pow(2) < r2;
        let in_band = (x / 97 + y / 61 + seed).is_multiple_of(5);
        let base = [
            (x * 255 / width.max(1)) as u8,
            (y * 255 / height.max(1)) as u8,
            ((x + y + seed * 37) % 256) as u8,
        ];
        if in_disc {
            Rgb([255 - base[0], base[2], 40])
        } else if in_band {
            Rgb([base[1], 30, 255 - base[1]])
        } else {
            Rgb(base)
        }
    });
    encode(&img, quality)
}

fn encode(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .expect("JPEG encoding");
    out
}

/// The same photo decoded and encoded again at another JPEG quality: other bytes, the same
/// picture.
pub fn reencode(jpeg: &[u8], quality: u8) -> Vec<u8> {
    let img = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .expect("decode the JPEG")
        .to_rgb8();
    encode(&img, quality)
}

/// A ZIP of (path, bytes) entries, deflated: a memory card as the counter takes it.
pub fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        w.start_file(*name, opts).expect("zip entry");
        w.write_all(bytes).expect("zip bytes");
    }
    w.finish().expect("zip").into_inner()
}

/// A DPOF print order (`MISC/AUTPRINT.MRK`): one print of IMG_0001, three of IMG_0007.
pub const DPOF: &str = "[HDR]\r\nGEN REV = 01.10\r\nGEN CRT = \"Canon PowerShot G7 X\" -01.00\r\n\r\n[JOB]\r\nPRT PID = 001\r\nPRT TYP = STD\r\nPRT QTY = 001\r\nIMG FMT = EXIF2 -J\r\n<IMG SRC = \"../DCIM/100CANON/IMG_0001.JPG\">\r\n\r\n[JOB]\r\nPRT PID = 002\r\nPRT TYP = STD\r\nPRT QTY = 003\r\nIMG FMT = EXIF2 -J\r\n<IMG SRC = \"../DCIM/100CANON/IMG_0007.JPG\">\r\n";

/// A card: three images in DCIM, the DPOF print order choosing two of them.
pub fn card_with_print_order() -> Vec<u8> {
    zip_of(&[
        ("DCIM/100CANON/IMG_0001.JPG", photo_jpeg(1, 640, 480, 85)),
        ("DCIM/100CANON/IMG_0007.JPG", photo_jpeg(7, 640, 480, 85)),
        ("DCIM/100CANON/IMG_0009.JPG", photo_jpeg(9, 640, 480, 85)),
        ("MISC/AUTPRINT.MRK", DPOF.as_bytes().to_vec()),
    ])
}
