//! Decompression bombs and damaged picture data: every decoder of the crate (validation,
//! preflight, thumbnail, perceptual hash, preview, print rendering) refuses an image whose
//! decoded pixels would take more than `Limits::max_decoded_bytes`, from its header, before
//! anything is allocated; the preflight refuses damaged scan data.

use reprint_media::edit::EditList;
use reprint_media::render::{PrintSize, PrintSpec, render_print};
use reprint_media::{
    Limits, MediaError, PrintHistory, edit, identity, synthetic, thumbnail, validate,
};

fn assert_too_much_memory(r: reprint_media::Result<impl std::fmt::Debug>, what: &str) {
    match r {
        Err(MediaError::TooMuchMemory { needed, limit, .. }) => {
            assert_eq!(needed, 12_000 * 12_000 * 8, "{what}");
            assert_eq!(limit, Limits::default().max_decoded_bytes, "{what}");
        }
        other => panic!("{what}: expected TooMuchMemory from the header, got {other:?}"),
    }
}

/// A 1.1 MB PNG that opens to 12000 x 12000 RGBA16 (1.15 GB): under the pixel limits (144
/// megapixels), refused by every decoder from its 33-byte header, in plain words.
#[test]
fn a_png_bomb_is_refused_from_its_header_by_every_decoder() {
    let bomb = synthetic::png_bomb(12_000, 12_000, true).unwrap();
    assert!(bomb.len() < 2_000_000, "a small file: {}", bomb.len());
    let limits = Limits::default();
    // The header alone is enough: the first 26 bytes carry width, height, depth and colour.
    assert_too_much_memory(validate::inspect(&bomb, &limits), "inspect");
    assert_too_much_memory(validate::preflight(&bomb, &limits), "preflight");
    assert_too_much_memory(validate::decode(&bomb, &limits), "decode");
    assert_too_much_memory(thumbnail::thumbnail(&bomb, 320, &limits), "thumbnail");
    assert_too_much_memory(identity::phash_bytes(&bomb, &limits), "phash");
    assert_too_much_memory(
        edit::preview(&bomb, &EditList::default(), 320, &limits),
        "preview",
    );
    let spec = PrintSpec::new(PrintSize::L, 300);
    assert_too_much_memory(
        render_print(
            &bomb,
            &EditList::default(),
            &spec,
            None,
            &PrintHistory::new(),
            &limits,
        )
        .map(|p| p.width),
        "render",
    );
    let words = validate::inspect(&bomb, &limits).unwrap_err().to_string();
    assert_eq!(
        words,
        "the image (12000x12000 pixels) would take 1.2 GB to open; the limit is 168 MB"
    );
}

/// The limit is on decoded bytes, not pixels: the same 144 megapixels at 8-bit RGB (430 MB)
/// are refused too, while a 50-megapixel RGB photo's header passes.
#[test]
fn the_limit_counts_channels_and_depth() {
    let limits = Limits::default();
    let rgb8 = synthetic::png_bomb(12_000, 12_000, false).unwrap();
    assert!(matches!(
        validate::inspect(&rgb8, &limits),
        Err(MediaError::TooMuchMemory {
            needed: 432_000_000,
            ..
        })
    ));
    let fifty_mp = synthetic::png_bomb(8_660, 5_773, false).unwrap();
    let info = validate::inspect(&fifty_mp, &limits).unwrap();
    assert_eq!((info.width, info.height), (8_660, 5_773));
    // A configured limit is the one in force.
    let tight = Limits {
        max_decoded_bytes: 10_000_000,
        ..Limits::default()
    };
    assert!(matches!(
        validate::inspect(&fifty_mp, &tight),
        Err(MediaError::TooMuchMemory {
            limit: 10_000_000,
            ..
        })
    ));
}

/// A JPEG whose frame header declares 12000 x 12000 in three components (430 MB decoded) is
/// refused from its header as well.
#[test]
fn a_jpeg_frame_too_large_to_open_is_refused_from_its_header() {
    let mut jpeg = synthetic::jpeg(&synthetic::photo(1, 64, 48), 80).unwrap();
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    // SOF0: FF C0, length (2), precision (1), height (2), width (2), components (1).
    jpeg[sof + 5..sof + 7].copy_from_slice(&12_000u16.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&12_000u16.to_be_bytes());
    let limits = Limits::default();
    assert!(matches!(
        validate::inspect(&jpeg, &limits),
        Err(MediaError::TooMuchMemory {
            needed: 432_000_000,
            ..
        })
    ));
    assert!(matches!(
        thumbnail::thumbnail(&jpeg, 256, &limits),
        Err(MediaError::TooMuchMemory { .. })
    ));
}

/// 20 KB of a photo's scan data overwritten (its markers intact, so it reads as a whole
/// JPEG): the preflight decodes every pixel in strict mode and refuses it; the sound photo
/// passes.
#[test]
fn damaged_scan_data_is_refused_by_the_preflight() {
    let sound = synthetic::jpeg(&synthetic::photo(3, 1600, 1200), 90).unwrap();
    let limits = Limits::default();
    let info = validate::preflight(&sound, &limits).unwrap();
    assert_eq!((info.width, info.height), (1600, 1200));
    let damaged = synthetic::damaged_scan(&sound, 20_000, 0).unwrap();
    assert_eq!(damaged.len(), sound.len());
    // The structure still reads: this is what the header checks alone let through.
    validate::inspect(&damaged, &limits).unwrap();
    let e = validate::preflight(&damaged, &limits).unwrap_err();
    assert!(matches!(e, MediaError::Corrupt(_)), "{e:?}");
    assert!(e.to_string().contains("damaged"), "{e}");
    // A sound PNG passes the preflight too.
    let png = synthetic::png(&synthetic::photo(4, 320, 240)).unwrap();
    validate::preflight(&png, &limits).unwrap();
}
