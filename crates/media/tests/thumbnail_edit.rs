//! Thumbnails (DCT-scaled, EXIF orientation 1-8) and edit lists (preview = print).

use image::{Rgb, RgbImage};
use reprint_media::edit::{ApplyEdits, Axis, Edit, EditList, EditedImage, Rotation, preview};
use reprint_media::{ContentHash, Limits, synthetic, thumbnail};

const COLOURS: [[u8; 3]; 4] = [[220, 30, 30], [30, 200, 30], [30, 30, 220], [230, 230, 40]];

/// Four flat quadrants: red top-left, green top-right, blue bottom-left, yellow bottom-right.
fn quadrants(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let q = usize::from(x >= w / 2) + 2 * usize::from(y >= h / 2);
        Rgb(COLOURS[q])
    })
}

fn with_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut exif = b"Exif\0\0MM\0*\0\0\0\x08\0\x01".to_vec();
    exif.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1]);
    exif.extend_from_slice(&orientation.to_be_bytes());
    exif.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) < 40)
}

#[test]
fn thumbnails_honour_all_eight_orientations() {
    let (w, h) = (640u32, 320u32);
    let jpeg = synthetic::jpeg(&quadrants(w, h), 90).unwrap();
    for o in 1..=8u16 {
        let bytes = with_orientation(&jpeg, o);
        let t = thumbnail::thumbnail(&bytes, 64, &Limits::default()).unwrap();
        let (dw, dh) = if o >= 5 { (32, 64) } else { (64, 32) };
        assert_eq!(t.dimensions(), (dw, dh), "orientation {o}");
        // Where the stored top-left (red) quadrant's centre lands when displayed.
        let (sx, sy) = (16u32, 8u32); // in a 64x32 stored thumbnail
        let (sw, sh) = (64u32, 32u32);
        let (x, y) = match o {
            1 => (sx, sy),
            2 => (sw - 1 - sx, sy),
            3 => (sw - 1 - sx, sh - 1 - sy),
            4 => (sx, sh - 1 - sy),
            5 => (sy, sx),
            6 => (sh - 1 - sy, sx),
            7 => (sh - 1 - sy, sw - 1 - sx),
            _ => (sy, sw - 1 - sx),
        };
        assert!(
            close(t.get_pixel(x, y).0, COLOURS[0]),
            "orientation {o}: {:?} at {x},{y}",
            t.get_pixel(x, y)
        );
    }
}

#[test]
fn large_jpeg_thumbnail_is_small_and_right() {
    let img = synthetic::photo(31, 2400, 1600);
    let jpeg = synthetic::jpeg(&img, 90).unwrap();
    let t = thumbnail::thumbnail(&jpeg, 256, &Limits::default()).unwrap();
    assert_eq!(t.dimensions(), (256, 171));
    // Compared with a careful full-size reduction of the same picture.
    let reference = image::imageops::resize(&img, 256, 171, image::imageops::FilterType::Lanczos3);
    let diff = mean_abs_diff(&t, &reference);
    assert!(diff < 6.0, "mean difference {diff}");
    let small = thumbnail::thumbnail_jpeg(&jpeg, 128, 80, &Limits::default()).unwrap();
    assert_eq!(image::load_from_memory(&small).unwrap().width(), 128);
}

fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let s: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    s as f64 / a.as_raw().len() as f64
}

#[test]
fn edits_do_what_they_say() {
    let img = quadrants(4, 2);
    let rotated = EditList::new(vec![Edit::Rotate {
        degrees: Rotation::R90,
    }])
    .apply(img.clone())
    .unwrap();
    assert_eq!(rotated.dimensions(), (2, 4));
    assert_eq!(rotated.get_pixel(1, 0).0, COLOURS[0], "red goes top-right");
    let mirrored = EditList::new(vec![Edit::Mirror {
        axis: Axis::Horizontal,
    }])
    .apply(img.clone())
    .unwrap();
    assert_eq!(mirrored.get_pixel(0, 0).0, COLOURS[1]);
    let cropped = EditList::new(vec![Edit::Crop {
        x: 0.5,
        y: 0.5,
        width: 0.5,
        height: 0.5,
    }])
    .apply(img.clone())
    .unwrap();
    assert_eq!(cropped.dimensions(), (2, 1));
    assert_eq!(cropped.get_pixel(0, 0).0, COLOURS[3]);
    let grey = EditList::new(vec![Edit::Grayscale])
        .apply(img.clone())
        .unwrap();
    let [r, g, b] = grey.get_pixel(0, 0).0;
    assert!(r == g && g == b && r == 87, "{r}");
    let sepia = EditList::new(vec![Edit::Sepia]).apply(img.clone()).unwrap();
    let [r, g, b] = sepia.get_pixel(3, 1).0;
    assert!(r >= g && g >= b, "sepia is warm: {r} {g} {b}");
    let bright = EditList::new(vec![Edit::Brightness { amount: 0.1 }])
        .apply(img.clone())
        .unwrap();
    assert_eq!(bright.get_pixel(0, 0).0, [246, 56, 56]);
    let flat = EditList::new(vec![Edit::Contrast { amount: -1.0 }])
        .apply(img)
        .unwrap();
    assert_eq!(flat.get_pixel(0, 0).0, [128, 128, 128]);
}

#[test]
fn bad_edits_are_refused() {
    for e in [
        Edit::Crop {
            x: 0.5,
            y: 0.0,
            width: 0.6,
            height: 1.0,
        },
        Edit::Crop {
            x: 0.0,
            y: 0.0,
            width: 0.0,
            height: 1.0,
        },
        Edit::Crop {
            x: f32::NAN,
            y: 0.0,
            width: 1.0,
            height: 1.0,
        },
        Edit::Brightness { amount: 2.0 },
        Edit::Contrast {
            amount: f32::INFINITY,
        },
    ] {
        assert!(EditList::new(vec![e]).validate().is_err(), "{e:?}");
    }
    assert!(serde_json::from_str::<EditList>(r#"[{"op":"rotate","degrees":45}]"#).is_err());
}

#[test]
fn edited_image_is_id_plus_list_and_preview_matches_print() {
    let img = synthetic::photo(32, 1600, 1200);
    let jpeg = synthetic::jpeg(&img, 92).unwrap();
    let edits = EditList::new(vec![
        Edit::Crop {
            x: 0.2,
            y: 0.1,
            width: 0.6,
            height: 0.7,
        },
        Edit::Rotate {
            degrees: Rotation::R270,
        },
        Edit::Mirror {
            axis: Axis::Vertical,
        },
        Edit::Contrast { amount: 0.2 },
        Edit::Brightness { amount: -0.05 },
        Edit::Sepia,
    ]);
    let edited = EditedImage {
        original: ContentHash::of_bytes(&jpeg),
        edits: edits.clone(),
    };
    let json = serde_json::to_string(&edited).unwrap();
    assert!(json.len() < 400, "a re-order sends only this: {json}");
    let back: EditedImage = serde_json::from_str(&json).unwrap();
    assert_eq!(back, edited);

    // Reference: the edits on the full-size original, then reduced.
    let full = edits.apply(img).unwrap();
    assert_eq!(edits.output_size(1600, 1200), full.dimensions());
    let p = preview(&jpeg, &edits, 300, &Limits::default()).unwrap();
    let (w, h) = p.dimensions();
    assert_eq!(w.max(h), 300);
    let reference = image::imageops::resize(&full, w, h, image::imageops::FilterType::Lanczos3);
    let diff = mean_abs_diff(&p, &reference);
    assert!(
        diff < 6.0,
        "preview differs from the full-size edit by {diff} on average"
    );
}
