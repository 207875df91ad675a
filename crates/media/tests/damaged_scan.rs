//! Issue 13, "damaged images reach the printer": a JPEG whose scan data was partly overwritten
//! (zeros from a bad copy, noise from a damaged card) or cut off still decodes "successfully"
//! in every decoder we have, the lower part garbled and no warning. The preflight reads every
//! scan to the bit and refuses it, saying what is wrong; sound JPEGs of every common kind
//! (progressive, restart intervals, 4:2:0 / 4:2:2 / 4:4:4, grayscale, CMYK, optimised tables,
//! a flat sky whose data is long runs of zero bytes, odd sizes) still pass.

use std::ops::Range;

use image::RgbImage;
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
use reprint_media::{Limits, MediaError, synthetic, validate};

/// How a test JPEG is encoded (jpeg-encoder, the encoder behind many Rust tools).
#[derive(Clone, Copy, Debug)]
struct Kind {
    name: &'static str,
    progressive: bool,
    restart: u16,
    sampling: SamplingFactor,
    optimized: bool,
    colour: ColorType,
}

const BASE: Kind = Kind {
    name: "baseline 4:2:0",
    progressive: false,
    restart: 0,
    sampling: SamplingFactor::R_4_2_0,
    optimized: false,
    colour: ColorType::Rgb,
};

fn kinds() -> Vec<Kind> {
    vec![
        BASE,
        Kind {
            name: "baseline 4:4:4",
            sampling: SamplingFactor::R_4_4_4,
            ..BASE
        },
        Kind {
            name: "baseline 4:2:2",
            sampling: SamplingFactor::R_4_2_2,
            ..BASE
        },
        Kind {
            name: "baseline, optimised Huffman tables",
            optimized: true,
            ..BASE
        },
        Kind {
            name: "restart every MCU",
            restart: 1,
            ..BASE
        },
        Kind {
            name: "restart every 7 MCUs, 4:4:4",
            restart: 7,
            sampling: SamplingFactor::R_4_4_4,
            ..BASE
        },
        Kind {
            name: "progressive 4:2:0",
            progressive: true,
            ..BASE
        },
        Kind {
            name: "progressive 4:4:4, restart every 5 MCUs",
            progressive: true,
            restart: 5,
            sampling: SamplingFactor::R_4_4_4,
            ..BASE
        },
        Kind {
            name: "grayscale",
            colour: ColorType::Luma,
            ..BASE
        },
        Kind {
            name: "grayscale progressive",
            colour: ColorType::Luma,
            progressive: true,
            ..BASE
        },
        Kind {
            name: "CMYK (Adobe)",
            colour: ColorType::Cmyk,
            ..BASE
        },
        Kind {
            name: "CMYK as YCCK, progressive",
            colour: ColorType::CmykAsYcck,
            progressive: true,
            ..BASE
        },
    ]
}

fn encode(img: &RgbImage, quality: u8, k: Kind) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = Encoder::new(&mut out, quality);
    e.set_progressive(k.progressive);
    if k.restart > 0 {
        e.set_restart_interval(k.restart);
    }
    e.set_sampling_factor(k.sampling);
    e.set_optimized_huffman_tables(k.optimized);
    let (w, h) = (img.width() as u16, img.height() as u16);
    match k.colour {
        ColorType::Luma => {
            let grey: Vec<u8> = img
                .pixels()
                .map(|p| ((u32::from(p[0]) * 3 + u32::from(p[1]) * 6 + u32::from(p[2])) / 10) as u8)
                .collect();
            e.encode(&grey, w, h, ColorType::Luma).unwrap();
        }
        ColorType::Cmyk | ColorType::CmykAsYcck => {
            let cmyk: Vec<u8> = img
                .pixels()
                .flat_map(|p| {
                    let k = 255 - p[0].max(p[1]).max(p[2]);
                    [255 - p[0] - k, 255 - p[1] - k, 255 - p[2] - k, k]
                })
                .collect();
            e.encode(&cmyk, w, h, k.colour).unwrap();
        }
        c => e.encode(img.as_raw(), w, h, c).unwrap(),
    }
    out
}

/// The entropy-coded data of each scan: from after its SOS header to the next marker that is
/// not a restart marker.
fn scans(j: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut p = 2;
    while p + 4 <= j.len() {
        assert_eq!(j[p], 0xFF, "a marker at {p}");
        let m = j[p + 1];
        if m == 0xD9 {
            break;
        }
        let len = usize::from(u16::from_be_bytes([j[p + 2], j[p + 3]]));
        p += 2 + len;
        if m == 0xDA {
            let start = p;
            while !(j[p] == 0xFF && j[p + 1] != 0 && !(0xD0..=0xD7).contains(&j[p + 1])) {
                p += 1;
            }
            out.push(start..p);
        }
    }
    out
}

fn largest_scan(j: &[u8]) -> Range<usize> {
    scans(j).into_iter().max_by_key(|r| r.len()).unwrap()
}

fn refused(bytes: &[u8], what: &str) -> String {
    match validate::preflight(bytes, &Limits::default()) {
        Err(e @ MediaError::Corrupt(_)) => {
            let words = e.to_string();
            assert!(words.contains("damaged"), "{what}: {words}");
            words
        }
        other => panic!("{what}: expected the damage refused, got {other:?}"),
    }
}

fn photo(seed: u64, w: u32, h: u32) -> RgbImage {
    synthetic::photo(seed, w, h)
}

/// A run of zeros written over part of the scan data (a bad copy, a card's erased sector),
/// at several places and lengths, in baseline, progressive and restart-interval JPEGs: refused,
/// each time, before a pixel is printed.
#[test]
fn zeros_over_the_scan_data_are_refused() {
    let img = photo(3, 2400, 1600);
    let files = [
        ("image crate, baseline", synthetic::jpeg(&img, 90).unwrap()),
        ("progressive 4:2:0", encode(&img, 90, kinds()[6])),
        ("restart every 7 MCUs", encode(&img, 90, kinds()[5])),
        ("grayscale", encode(&img, 90, kinds()[8])),
    ];
    let mut n = 0;
    for (name, sound) in &files {
        validate::preflight(sound, &Limits::default()).unwrap();
        let scan = largest_scan(sound);
        for frac in [0.01, 0.3, 0.6, 0.97] {
            for len in [8usize, 300, 4096, 20_000] {
                let from = scan.start + (scan.len() as f64 * frac) as usize;
                let to = (from + len).min(scan.end);
                let mut damaged = sound.clone();
                damaged[from..to].fill(0);
                if damaged == *sound {
                    continue;
                }
                let what = format!("{name}: {} zero bytes at {:.0}%", to - from, frac * 100.0);
                let words = refused(&damaged, &what);
                if n == 0 {
                    println!("{what}: {words}");
                }
                n += 1;
            }
        }
    }
    assert!(n >= 60, "{n} cases");
}

/// Noise written over the scan data (what `synthetic::damaged_scan` gives: no 0xFF, so the
/// markers stay and the file reads as whole), many seeds and lengths: refused.
#[test]
fn noise_over_the_scan_data_is_refused() {
    let img = photo(5, 2000, 1500);
    for (name, sound) in [
        ("image crate, baseline", synthetic::jpeg(&img, 85).unwrap()),
        ("progressive 4:2:0", encode(&img, 85, kinds()[6])),
        ("restart every MCU", encode(&img, 85, kinds()[4])),
    ] {
        for len in [64usize, 1000, 20_000] {
            for seed in 0..8 {
                let damaged = synthetic::damaged_scan(&sound, len, seed).unwrap();
                assert_eq!(damaged.len(), sound.len());
                refused(
                    &damaged,
                    &format!("{name}: {len} bytes of noise, seed {seed}"),
                );
            }
        }
    }
}

/// A single damaged byte may be undetectable: the codes can fall back into step with the same
/// number of blocks. The figure is printed, with how much of the picture the damage that got
/// through changes (8x8 blocks whose mean differs by more than 4 levels from the sound file's).
#[test]
fn single_byte_damage_figures() {
    let sound = synthetic::jpeg(&photo(9, 1200, 800), 90).unwrap();
    let clean = image::load_from_memory(&sound).unwrap().to_luma8();
    let scan = largest_scan(&sound);
    let (mut found, mut tried) = (0, 0);
    let mut missed_blocks = Vec::new();
    for i in 0..400 {
        let at = scan.start + (scan.len() - 1) * i / 400;
        if sound[at] == 0xFF || sound[at.saturating_sub(1)] == 0xFF {
            continue;
        }
        let mut damaged = sound.clone();
        damaged[at] ^= 0x5A;
        tried += 1;
        if validate::preflight(&damaged, &Limits::default()).is_err() {
            found += 1;
            continue;
        }
        let seen = image::load_from_memory(&damaged).unwrap().to_luma8();
        let mut blocks = 0;
        for by in 0..800 / 8 {
            for bx in 0..1200 / 8 {
                let mut diff = 0i64;
                for y in 0..8 {
                    for x in 0..8 {
                        let (a, b) = (
                            clean.get_pixel(bx * 8 + x, by * 8 + y)[0],
                            seen.get_pixel(bx * 8 + x, by * 8 + y)[0],
                        );
                        diff += i64::from(a) - i64::from(b);
                    }
                }
                if diff.abs() > 4 * 64 {
                    blocks += 1;
                }
            }
        }
        missed_blocks.push(blocks);
    }
    missed_blocks.sort_unstable();
    let at = |q: usize| {
        missed_blocks
            .get((missed_blocks.len() * q / 100).min(missed_blocks.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "one byte changed: {found} of {tried} refused; of the {} let through, blocks visibly \
         changed (of 15000): median {}, 90th percentile {}, most {}",
        tried - found,
        at(50),
        at(90),
        at(100)
    );
    assert!(found * 10 >= tried, "{found} of {tried}");
}

/// A file cut short is refused from its structure; one cut short and closed again with an EOI
/// (what some copy tools and cards leave) reads as whole and is refused for its missing rows.
#[test]
fn truncated_files_are_refused() {
    let img = photo(7, 1600, 1200);
    for (name, sound) in [
        ("baseline", synthetic::jpeg(&img, 90).unwrap()),
        ("progressive", encode(&img, 90, kinds()[6])),
        ("restart every 7 MCUs", encode(&img, 90, kinds()[5])),
    ] {
        let scan = largest_scan(&sound);
        for frac in [0.1, 0.5, 0.9, 0.999] {
            let cut = scan.start + (scan.len() as f64 * frac) as usize;
            let e = validate::preflight(&sound[..cut], &Limits::default()).unwrap_err();
            assert!(
                matches!(e, MediaError::Truncated(_)),
                "{name} cut at {cut}: {e:?}"
            );
            let mut closed = sound[..cut].to_vec();
            if closed.last() == Some(&0xFF) {
                closed.pop();
            }
            closed.extend_from_slice(&[0xFF, 0xD9]);
            // A progressive file cut inside a later scan is refused by the audit; one cut
            // after a whole scan, missing later scans, is a valid (coarser) progressive image.
            refused(
                &closed,
                &format!("{name} cut at {:.1}% and closed", frac * 100.0),
            );
        }
    }
}

/// Sound JPEGs of every common kind pass, at sizes that are and are not multiples of the MCU.
#[test]
fn sound_jpegs_of_every_kind_pass() {
    let l = Limits::default();
    for (i, k) in kinds().into_iter().enumerate() {
        for (w, h) in [(1, 1), (17, 9), (641, 479), (1600, 1200)] {
            for q in [50, 95] {
                let img = photo(40 + i as u64, w, h);
                let j = encode(&img, q, k);
                let info = validate::preflight(&j, &l)
                    .unwrap_or_else(|e| panic!("{} {w}x{h} q{q}: {e}", k.name));
                assert_eq!((info.width, info.height), (w, h), "{}", k.name);
            }
        }
    }
    // The image crate's encoder (the one synthetic::jpeg and the services use).
    for (w, h) in [(1, 1), (15, 33), (3000, 2000)] {
        validate::preflight(&synthetic::jpeg(&photo(60, w, h), 75).unwrap(), &l).unwrap();
    }
}

/// A big flat sky: with optimised Huffman tables (and in progressive files) its blocks code to
/// all-zero bits, so the sound file holds long runs of zero bytes; a rule like "a long run of
/// 0x00 is damage" would refuse it, reading the scan to the bit does not.
#[test]
fn a_flat_sky_with_long_zero_runs_passes() {
    let mut img = photo(11, 2400, 1600);
    for (_, y, p) in img.enumerate_pixels_mut() {
        if y < 1100 {
            *p = image::Rgb([118, 168, 228]);
        }
    }
    let mut longest_seen = 0;
    for k in [kinds()[3], kinds()[6], kinds()[7], BASE] {
        let j = encode(&img, 90, k);
        let longest = scans(&j)
            .into_iter()
            .flat_map(|r| j[r].split(|&b| b != 0).map(<[u8]>::len).collect::<Vec<_>>())
            .max()
            .unwrap_or(0);
        println!("flat sky, {}: longest run of zero bytes {longest}", k.name);
        longest_seen = longest_seen.max(longest);
        validate::preflight(&j, &Limits::default()).unwrap_or_else(|e| panic!("{}: {e}", k.name));
    }
    assert!(
        longest_seen >= 1000,
        "the sky codes to long zero runs: {longest_seen}"
    );
    let j = synthetic::jpeg(&img, 90).unwrap();
    validate::preflight(&j, &Limits::default()).unwrap();
}

/// The refusal says what is wrong in words: where the data runs out, or how much is left over.
#[test]
fn the_refusal_says_what_is_wrong() {
    let sound = synthetic::jpeg(&photo(3, 2400, 1600), 90).unwrap();
    let scan = largest_scan(&sound);
    let mut damaged = sound.clone();
    let from = scan.start + scan.len() / 2;
    damaged[from..from + 20_000].fill(0);
    let words = refused(&damaged, "20 KB of zeros in the middle");
    assert!(
        words.starts_with("the picture data is damaged (")
            && words.ends_with("; it would print garbled"),
        "{words}"
    );
    assert!(
        words.contains("of 1600") && words.contains("overwritten or lost"),
        "{words}"
    );
}

/// The time the preflight takes on a 24-megapixel photo (6000 x 4000, quality 90), printed
/// beside what it did before the scans were read to the bit (the header checks and zune-jpeg's
/// strict decode alone).
#[test]
fn preflight_time_on_24_megapixels() {
    use zune_core::bytestream::ZCursor;
    use zune_core::options::DecoderOptions;
    let img = photo(24, 6000, 4000);
    let best_of_3 = |f: &dyn Fn()| {
        f();
        (0..3)
            .map(|_| {
                let t = std::time::Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1000.0
            })
            .fold(f64::MAX, f64::min)
    };
    for (name, j) in [
        ("baseline", synthetic::jpeg(&img, 90).unwrap()),
        ("progressive", encode(&img, 90, kinds()[6])),
    ] {
        let l = Limits::default();
        let before = best_of_3(&|| {
            validate::inspect(&j, &l).unwrap();
            let options = DecoderOptions::default().set_strict_mode(true);
            let mut d = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(&j[..]), options);
            d.decode().unwrap();
        });
        let after = best_of_3(&|| {
            validate::preflight(&j, &l).unwrap();
        });
        println!(
            "preflight, 24 MP {name} JPEG of {} bytes: {after:.0} ms, was {before:.0} ms \
             (best of 3)",
            j.len()
        );
    }
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn small(progressive: bool, restart: u16) -> Vec<u8> {
        encode(
            &photo(77, 96, 64),
            80,
            Kind {
                progressive,
                restart,
                ..BASE
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        /// Any bytes changed anywhere (headers, tables, scans) give an answer, never a panic.
        #[test]
        fn preflight_of_mutated_jpegs(
            kind in 0u8..3,
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..12),
        ) {
            let mut bytes = match kind {
                0 => small(false, 0),
                1 => small(true, 0),
                _ => small(true, 3),
            };
            for (at, b) in edits {
                let at = at % bytes.len();
                bytes[at] = b;
            }
            let _ = validate::preflight(&bytes, &Limits::default());
        }
    }
}
