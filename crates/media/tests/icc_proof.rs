//! The printer profile the project ships, profile descriptions, well-known source profiles and
//! soft-proofing through a printer's profile.

use image::{Rgb, RgbImage};
use reprint_media::icc::{self, ColorTransform};
use reprint_media::proof::{self, DEFAULT_THRESHOLD, GAMUT_WARNING};

const SHIPPED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/icc/reprint-silver-halide-glossy.icc"
);

/// The file in `deploy/icc` is what the code generates (`REPRINT_WRITE_ICC=1` writes it again).
#[test]
fn the_shipped_printer_profile_is_the_generated_one() {
    let generated = icc::silver_halide_glossy_profile();
    if std::env::var_os("REPRINT_WRITE_ICC").is_some() {
        std::fs::write(SHIPPED, &generated).unwrap();
    }
    let shipped = std::fs::read(SHIPPED).expect("deploy/icc/reprint-silver-halide-glossy.icc");
    assert_eq!(shipped, generated, "regenerate with REPRINT_WRITE_ICC=1");
    assert_eq!(
        &shipped[12..20],
        b"prtrRGB ",
        "an output profile of RGB data"
    );
    assert_eq!(
        icc::description(&shipped).as_deref(),
        Some(icc::SILVER_HALIDE_GLOSSY_DESCRIPTION)
    );
    // Usable both ways, as the lab and the soft proof use it.
    ColorTransform::new(None, Some(&shipped)).unwrap();
    ColorTransform::new(Some(&shipped), None).unwrap();
}

#[test]
fn descriptions_of_generated_profiles_are_read_and_garbage_has_none() {
    assert_eq!(
        icc::description(&icc::adobe_rgb_profile()).as_deref(),
        Some("Adobe RGB compatible (reprint)")
    );
    assert_eq!(icc::description(b"not a profile"), None);
    let mut cut = icc::srgb_profile();
    cut.truncate(200);
    assert_eq!(icc::description(&cut), None);
}

#[test]
fn well_known_names_give_their_profiles_and_others_none() {
    assert_eq!(
        icc::named_profile("Adobe RGB (1998)"),
        Some(icc::adobe_rgb_profile())
    );
    assert_eq!(
        icc::named_profile("display p3"),
        Some(icc::display_p3_profile())
    );
    assert_eq!(icc::named_profile("sRGB"), Some(icc::srgb_profile()));
    assert_eq!(icc::named_profile("ProPhoto"), None);
}

fn patch(c: [u8; 3]) -> RgbImage {
    RgbImage::from_pixel(12, 12, Rgb(c))
}

#[test]
fn an_in_gamut_colour_comes_back_unchanged_and_unmarked() {
    let printer = icc::silver_halide_glossy_profile();
    // Mid grey, a skin tone, a sky blue, a dark green: colours any photo paper holds.
    for c in [
        [128, 128, 128],
        [224, 172, 150],
        [120, 160, 210],
        [40, 90, 50],
    ] {
        let p = proof::soft_proof(&patch(c), &printer, DEFAULT_THRESHOLD).unwrap();
        assert_eq!(p.out_of_gamut, 0, "{c:?} marked out of gamut");
        let back = p.image.get_pixel(5, 5).0;
        let de = proof::delta_e76(proof::srgb_to_lab(c), proof::srgb_to_lab(back));
        assert!(de < 1.5, "{c:?} came back as {back:?} (ΔE {de})");
    }
}

#[test]
fn a_saturated_colour_beyond_the_paper_is_hatched() {
    let printer = icc::silver_halide_glossy_profile();
    for c in [[0, 0, 255], [255, 0, 0]] {
        let p = proof::soft_proof(&patch(c), &printer, DEFAULT_THRESHOLD).unwrap();
        assert_eq!(p.out_of_gamut, 144, "{c:?} not marked");
        assert!((p.out_of_gamut_fraction() - 1.0).abs() < 1e-9);
        // Hatched: stripes of the warning colour with the proofed colour between them.
        assert_eq!(p.image.get_pixel(0, 0).0, GAMUT_WARNING);
        let between = p.image.get_pixel(4, 0).0;
        assert_ne!(between, GAMUT_WARNING);
        assert_ne!(
            between, c,
            "the proof shows what the paper holds, not the original"
        );
    }
}

#[test]
fn only_the_out_of_gamut_half_is_marked() {
    let printer = icc::silver_halide_glossy_profile();
    let mut img = patch([128, 128, 128]);
    for y in 0..12 {
        for x in 6..12 {
            img.put_pixel(x, y, Rgb([0, 0, 255]));
        }
    }
    let p = proof::soft_proof(&img, &printer, DEFAULT_THRESHOLD).unwrap();
    assert_eq!(p.out_of_gamut, 72);
    for y in 0..12 {
        for x in 0..6 {
            assert_ne!(p.image.get_pixel(x, y).0, GAMUT_WARNING);
        }
    }
}

#[test]
fn through_srgb_nothing_is_out_of_gamut_and_bad_input_is_refused() {
    let mut img = patch([0, 0, 255]);
    img.put_pixel(1, 1, Rgb([255, 0, 0]));
    let p = proof::soft_proof(&img, &icc::srgb_profile(), DEFAULT_THRESHOLD).unwrap();
    assert_eq!(p.out_of_gamut, 0);
    assert!(proof::soft_proof(&img, b"garbage", DEFAULT_THRESHOLD).is_err());
    assert!(proof::soft_proof(&img, &icc::srgb_profile(), f32::NAN).is_err());
}

#[test]
fn a_jpeg_preview_is_proofed_to_a_jpeg() {
    let jpeg =
        reprint_media::synthetic::jpeg(&reprint_media::synthetic::photo(3, 200, 120), 90).unwrap();
    let (out, p) = proof::soft_proof_jpeg(
        &jpeg,
        &icc::silver_halide_glossy_profile(),
        DEFAULT_THRESHOLD,
        85,
        &reprint_media::Limits::default(),
    )
    .unwrap();
    assert_eq!((p.image.width(), p.image.height()), (200, 120));
    let back = image::load_from_memory(&out).unwrap();
    assert_eq!((back.width(), back.height()), (200, 120));
}
