//! ICC extraction and conversion, and print rendering.

use image::{ImageEncoder, Rgb, RgbImage};
use reprint_media::edit::{ApplyEdits, Edit, EditList};
use reprint_media::history::xmp;
use reprint_media::icc::{self, ColorTransform};
use reprint_media::render::{FitMode, PrintSize, PrintSpec, RenderWarning, render_print};
use reprint_media::{Limits, PrintHistory, PrintRecord, synthetic};

fn convert(src: Option<&[u8]>, dst: Option<&[u8]>, rgb: [u8; 3]) -> [u8; 3] {
    let t = ColorTransform::new(src, dst).unwrap();
    let mut px = rgb.to_vec();
    t.apply_rgb8(&mut px).unwrap();
    [px[0], px[1], px[2]]
}

fn near(a: [u8; 3], b: [u8; 3], tol: u8) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= tol)
}

#[test]
fn wide_gamut_red_converts_as_expected() {
    let p3 = icc::display_p3_profile();
    let srgb = icc::srgb_profile();
    // sRGB red inside P3 is a less saturated P3 colour: about (234, 51, 35).
    let in_p3 = convert(Some(&srgb), Some(&p3), [255, 0, 0]);
    assert!(near(in_p3, [234, 51, 35], 3), "{in_p3:?}");
    // Same with no source profile (sRGB assumed).
    assert!(near(convert(None, Some(&p3), [255, 0, 0]), in_p3, 1));
    // P3 red is outside sRGB: clipped to the sRGB red corner.
    let back = convert(Some(&p3), None, [255, 0, 0]);
    assert!(near(back, [255, 0, 0], 3), "{back:?}");
    // A P3 colour inside both gamuts round-trips.
    let mid = convert(Some(&p3), Some(&srgb), [180, 120, 90]);
    assert!(
        !near(mid, [180, 120, 90], 3),
        "P3 -> sRGB changes numbers: {mid:?}"
    );
    let round = convert(Some(&srgb), Some(&p3), mid);
    assert!(near(round, [180, 120, 90], 2), "{round:?}");
    // Adobe RGB green is far outside sRGB.
    let adobe = icc::adobe_rgb_profile();
    let g = convert(Some(&adobe), None, [0, 255, 0]);
    assert!(g[1] == 255 && g[0] == 0, "{g:?}");
    // Identity and refusals.
    assert!(
        ColorTransform::new(Some(&p3), Some(&p3))
            .unwrap()
            .is_identity()
    );
    let mut cmyk = srgb.clone();
    cmyk[16..20].copy_from_slice(b"CMYK");
    assert!(ColorTransform::new(Some(&cmyk), None).is_err());
    assert!(ColorTransform::new(Some(b"garbage garbage garbage"), None).is_err());
}

fn jpeg_with_profile(img: &RgbImage, profile: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95);
    enc.set_icc_profile(profile.to_vec()).unwrap();
    enc.write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
    out
}

fn png_with_profile(img: &RgbImage, profile: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = image::codecs::png::PngEncoder::new(&mut out);
    enc.set_icc_profile(profile.to_vec()).unwrap();
    enc.write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
    out
}

#[test]
fn embedded_profiles_are_extracted() {
    let img = synthetic::photo(41, 64, 48);
    let p3 = icc::display_p3_profile();
    assert_eq!(
        icc::embedded_profile(&jpeg_with_profile(&img, &p3)).unwrap(),
        Some(p3.clone())
    );
    assert_eq!(
        icc::embedded_profile(&png_with_profile(&img, &p3)).unwrap(),
        Some(p3.clone())
    );
    assert_eq!(
        icc::embedded_profile(&synthetic::jpeg(&img, 80).unwrap()).unwrap(),
        None
    );
    // A profile larger than one segment is split over several APP2 segments and reassembled.
    let mut big = p3.clone();
    big.resize(150_000, 0);
    big[..4].copy_from_slice(&150_000u32.to_be_bytes());
    assert_eq!(
        icc::embedded_profile(&jpeg_with_profile(&img, &big)).unwrap(),
        Some(big)
    );
}

fn history() -> PrintHistory {
    let mut h = PrintHistory::new();
    h.push(PrintRecord {
        site: "LAB-1".into(),
        registration_number: "B0000456".into(),
        reception_number: "B0001004".into(),
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 18).unwrap(),
    })
    .unwrap();
    h
}

#[test]
fn l_print_fill_at_300_dpi() {
    let img = synthetic::photo(42, 3000, 2000);
    let p3 = icc::display_p3_profile();
    let source = jpeg_with_profile(&img, &icc::srgb_profile());
    let spec = PrintSpec::new(PrintSize::L, 300);
    assert_eq!(spec.pixel_size().unwrap(), (1051, 1500));
    let print = render_print(
        &source,
        &EditList::default(),
        &spec,
        Some(&p3),
        &history(),
        &Limits::default(),
    )
    .unwrap();
    // Landscape photo, landscape file.
    assert_eq!((print.width, print.height), (1500, 1051));
    assert!(print.warnings.is_empty(), "{:?}", print.warnings);
    assert!(
        (print.effective_dpi - 571.4).abs() < 2.0,
        "{}",
        print.effective_dpi
    );
    let decoded = image::load_from_memory(&print.jpeg).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (1500, 1051));
    assert_eq!(
        icc::embedded_profile(&print.jpeg).unwrap(),
        Some(p3.clone())
    );
    assert_eq!(xmp::read_history(&print.jpeg).unwrap(), history());
    // JFIF density says 300 dpi.
    let jfif = print.jpeg.windows(5).position(|w| w == b"JFIF\0").unwrap();
    assert_eq!(&print.jpeg[jfif + 7..jfif + 12], &[1, 1, 44, 1, 44]);
}

#[test]
fn colour_is_converted_to_the_printer_profile() {
    let red = RgbImage::from_pixel(400, 300, Rgb([255, 0, 0]));
    let source = synthetic::png(&red).unwrap();
    let p3 = icc::display_p3_profile();
    let spec = PrintSpec::new(PrintSize::L, 100);
    let print = render_print(
        &source,
        &EditList::default(),
        &spec,
        Some(&p3),
        &PrintHistory::new(),
        &Limits::default(),
    )
    .unwrap();
    let out = image::load_from_memory(&print.jpeg).unwrap().to_rgb8();
    let c = out.get_pixel(out.width() / 2, out.height() / 2).0;
    assert!(near(c, [234, 51, 35], 6), "sRGB red on a P3 printer: {c:?}");
    // And a P3 source printed on an sRGB printer: its red is clipped to sRGB red.
    let p3_source = png_with_profile(&RgbImage::from_pixel(400, 300, Rgb([200, 60, 60])), &p3);
    let print = render_print(
        &p3_source,
        &EditList::default(),
        &spec,
        None,
        &PrintHistory::new(),
        &Limits::default(),
    )
    .unwrap();
    let out = image::load_from_memory(&print.jpeg).unwrap().to_rgb8();
    let c = out.get_pixel(200, 150).0;
    let want = convert(Some(&p3), None, [200, 60, 60]);
    assert!(
        near(c, want, 6) && !near(c, [200, 60, 60], 6),
        "{c:?} vs {want:?}"
    );
}

#[test]
fn fit_leaves_a_white_border_and_small_sources_warn() {
    let img = synthetic::photo(43, 800, 800);
    let source = synthetic::jpeg(&img, 90).unwrap();
    let mut spec = PrintSpec::new(PrintSize::L, 300);
    spec.mode = FitMode::Fit;
    let print = render_print(
        &source,
        &EditList::default(),
        &spec,
        None,
        &PrintHistory::new(),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!((print.width, print.height), (1051, 1500));
    let out = image::load_from_memory(&print.jpeg).unwrap().to_rgb8();
    assert!(
        near(out.get_pixel(525, 5).0, [255, 255, 255], 3),
        "border at the top"
    );
    assert!(
        near(out.get_pixel(525, 1494).0, [255, 255, 255], 3),
        "border at the bottom"
    );
    // 800 px across 89 mm is about 228 dpi: fine at the default 150, a warning at 250.
    assert!(print.warnings.is_empty());
    spec.min_dpi = 250;
    let print = render_print(
        &source,
        &EditList::default(),
        &spec,
        None,
        &PrintHistory::new(),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        print.warnings,
        vec![RenderWarning::LowResolution {
            effective_dpi: 228,
            minimum_dpi: 250
        }]
    );
    assert!(print.warnings[0].to_string().contains("too few pixels"));
}

#[test]
fn edits_are_applied_at_print_time() {
    let img = synthetic::photo(44, 1200, 900);
    let source = synthetic::jpeg(&img, 92).unwrap();
    let edits = EditList::new(vec![
        Edit::Crop {
            x: 0.25,
            y: 0.0,
            width: 0.5,
            height: 1.0,
        },
        Edit::Grayscale,
    ]);
    let spec = PrintSpec::new(PrintSize::L, 150);
    let print = render_print(
        &source,
        &edits,
        &spec,
        None,
        &PrintHistory::new(),
        &Limits::default(),
    )
    .unwrap();
    // The crop made it portrait (600x900): portrait L.
    assert_eq!((print.width, print.height), (526, 750));
    let out = image::load_from_memory(&print.jpeg).unwrap().to_rgb8();
    let reference = edits.apply(img).unwrap();
    let reference = image::DynamicImage::ImageRgb8(reference)
        .resize_to_fill(526, 750, image::imageops::FilterType::Lanczos3)
        .into_rgb8();
    let diff: u64 = out
        .as_raw()
        .iter()
        .zip(reference.as_raw())
        .map(|(a, b)| u64::from(a.abs_diff(*b)))
        .sum();
    let mean = diff as f64 / out.as_raw().len() as f64;
    assert!(mean < 4.0, "print differs from the reference by {mean}");
    let bad = PrintSpec { dpi: 10, ..spec };
    assert!(
        render_print(
            &source,
            &edits,
            &bad,
            None,
            &PrintHistory::new(),
            &Limits::default()
        )
        .is_err()
    );
}

/// The print is the photo, centred and cropped to the paper (resize-to-fill), not shifted,
/// stretched or blurred: it matches the image crate's own Lanczos3 `resize_to_fill` of the
/// same pixels within JPEG noise, for a landscape photo cropped top and bottom on a 2L print
/// and for an upsampled small one.
#[test]
fn fill_matches_a_plain_lanczos_resize_to_fill() {
    for (w, h, size, dpi) in [
        (3000, 1400, PrintSize::L2, 300),
        (400, 300, PrintSize::L, 300),
    ] {
        let img = synthetic::photo(7, w, h);
        let source = synthetic::jpeg(&img, 98).unwrap();
        let spec = PrintSpec::new(size, dpi);
        let print = render_print(
            &source,
            &EditList::default(),
            &spec,
            None,
            &PrintHistory::new(),
            &Limits::default(),
        )
        .unwrap();
        let got = image::load_from_memory(&print.jpeg).unwrap().into_rgb8();
        let decoded = image::load_from_memory(&source).unwrap();
        let want = decoded
            .resize_to_fill(
                print.width,
                print.height,
                image::imageops::FilterType::Lanczos3,
            )
            .into_rgb8();
        assert_eq!(got.dimensions(), want.dimensions());
        let diff: u64 = got
            .as_raw()
            .iter()
            .zip(want.as_raw())
            .map(|(a, b)| u64::from(a.abs_diff(*b)))
            .sum();
        let mean = diff as f64 / got.as_raw().len() as f64;
        assert!(mean < 4.0, "{w}x{h} on {size:?}: mean difference {mean:.2}");
    }
}
