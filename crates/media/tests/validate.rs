//! Validation by content: formats, limits from the header before decoding, truncation.

use std::time::Instant;

use proptest::prelude::*;
use reprint_media::validate::{self, ImageFormat, Limits};
use reprint_media::{MediaError, synthetic};

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    c.extend_from_slice(kind);
    c.extend_from_slice(data);
    let crc = crc32(&c[4..]);
    c.extend_from_slice(&crc.to_be_bytes());
    c
}

/// A PNG whose IHDR claims `w` x `h` with a tiny IDAT: a decompression bomb's header.
fn bomb_png(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(chunk(b"IEND", &[]));
    png
}

fn small_jpeg() -> Vec<u8> {
    synthetic::jpeg(&synthetic::photo(21, 160, 120), 85).unwrap()
}

fn small_png() -> Vec<u8> {
    synthetic::png(&synthetic::photo(22, 64, 48)).unwrap()
}

#[test]
fn formats_are_found_by_content() {
    let l = Limits::default();
    let jpeg = validate::inspect(&small_jpeg(), &l).unwrap();
    assert_eq!(
        (jpeg.format, jpeg.width, jpeg.height, jpeg.orientation),
        (ImageFormat::Jpeg, 160, 120, 1)
    );
    let png = validate::inspect(&small_png(), &l).unwrap();
    assert_eq!(
        (png.format, png.width, png.height),
        (ImageFormat::Png, 64, 48)
    );

    let img = synthetic::photo(23, 50, 40);
    let mut webp = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut webp),
        image::ImageFormat::WebP,
    )
    .unwrap();
    let info = validate::inspect(&webp, &l).unwrap();
    assert_eq!(
        (info.format, info.width, info.height),
        (ImageFormat::WebP, 50, 40)
    );
    assert_eq!(validate::decode(&webp, &l).unwrap().1.width(), 50);

    let mut tiff = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut tiff),
        image::ImageFormat::Tiff,
    )
    .unwrap();
    let info = validate::inspect(&tiff, &l).unwrap();
    assert_eq!(
        (info.format, info.width, info.height),
        (ImageFormat::Tiff, 50, 40)
    );
    assert_eq!(validate::decode(&tiff, &l).unwrap().1.height(), 40);

    for junk in [
        &b""[..],
        b"GIF89a\x01\x00",
        b"<html>IMG_0001.JPG</html>",
        b"\xff\xd8",
    ] {
        let err = validate::inspect(junk, &l).unwrap_err();
        assert!(matches!(err, MediaError::UnknownFormat(_)), "{err}");
    }
}

#[test]
fn png_bomb_is_refused_from_the_header() {
    let bomb = bomb_png(100_000, 100_000);
    let t = Instant::now();
    let err = validate::decode(&bomb, &Limits::default()).unwrap_err();
    assert!(t.elapsed().as_millis() < 50, "took {:?}", t.elapsed());
    assert_eq!(
        err.to_string(),
        "image is 100000x100000 pixels, over the limit of 20000x20000"
    );
    let err = validate::inspect(&bomb_png(20_000, 20_000), &Limits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            MediaError::TooManyPixels {
                pixels: 400_000_000,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn jpeg_bomb_is_refused_from_the_header() {
    let mut jpeg = small_jpeg();
    // Patch the SOF0 frame size to 60000 x 60000.
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    jpeg[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
    let err = validate::decode(&jpeg, &Limits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            MediaError::TooLarge {
                width: 60000,
                height: 60000,
                ..
            }
        ),
        "{err}"
    );
    let tight = Limits {
        max_pixels: 10_000,
        ..Limits::default()
    };
    assert!(matches!(
        validate::inspect(&small_jpeg(), &tight),
        Err(MediaError::TooManyPixels { .. })
    ));
    let tiny = Limits {
        max_bytes: 100,
        ..Limits::default()
    };
    assert!(matches!(
        validate::inspect(&small_jpeg(), &tiny),
        Err(MediaError::TooManyBytes { .. })
    ));
}

#[test]
fn truncated_files_are_errors() {
    let l = Limits::default();
    let jpeg = small_jpeg();
    for cut in (3..jpeg.len())
        .step_by(37)
        .chain([jpeg.len() - 1, jpeg.len() - 2])
    {
        match validate::decode(&jpeg[..cut], &l) {
            Err(MediaError::Truncated(_)) => {}
            other => panic!("JPEG cut at {cut} of {}: {other:?}", jpeg.len()),
        }
    }
    let png = small_png();
    for cut in (8..png.len()).step_by(29).chain([png.len() - 1]) {
        match validate::decode(&png[..cut], &l) {
            Err(MediaError::Truncated(_)) => {}
            other => panic!("PNG cut at {cut} of {}: {other:?}", png.len()),
        }
    }
    let img = synthetic::photo(24, 40, 30);
    let mut webp = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut webp),
        image::ImageFormat::WebP,
    )
    .unwrap();
    assert!(matches!(
        validate::decode(&webp[..webp.len() - 10], &l),
        Err(MediaError::Truncated(_))
    ));
    let mut tiff = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut tiff),
        image::ImageFormat::Tiff,
    )
    .unwrap();
    // TIFF keeps its directory at the end or the start; either way a cut file does not decode.
    assert!(validate::decode(&tiff[..tiff.len() / 2], &l).is_err());
}

#[test]
fn corrupt_png_crc_is_malformed() {
    let mut png = small_png();
    let n = png.len();
    png[n - 20] ^= 0xFF; // inside the last IDAT
    let err = validate::inspect(&png, &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("CRC mismatch"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn mutated_images_never_panic(
        png in any::<bool>(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let mut bytes = if png { small_png() } else { small_jpeg() };
        for (at, b) in edits {
            let at = at % bytes.len();
            bytes[at] = b;
        }
        if cut % 3 == 0 {
            bytes.truncate(cut % bytes.len());
        }
        let l = Limits { max_pixels: 1_000_000, max_width: 4000, max_height: 4000, ..Limits::default() };
        let _ = validate::decode(&bytes, &l);
        let _ = reprint_media::icc::embedded_profile(&bytes);
        let _ = reprint_media::history::xmp::read_history(&bytes);
        let _ = reprint_media::thumbnail::thumbnail(&bytes, 32, &l);
    }
}
