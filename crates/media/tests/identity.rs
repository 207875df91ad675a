//! Image identity: SHA-256 and the perceptual-hash threshold, measured on generated photos.

use image::{DynamicImage, imageops::FilterType};
use reprint_media::identity::{ContentHash, PHASH_MATCH_THRESHOLD, PerceptualHash, phash_bytes};
use reprint_media::{Limits, synthetic};

const SCENES: u64 = 60;

#[test]
fn sha256_known_answer_and_streaming() {
    let h = ContentHash::of_bytes(b"abc");
    assert_eq!(
        h.to_hex(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let streamed = ContentHash::of_reader(std::io::Cursor::new(&big)).unwrap();
    assert_eq!(streamed, ContentHash::of_bytes(&big));
    let json = serde_json::to_string(&h).unwrap();
    assert_eq!(serde_json::from_str::<ContentHash>(&json).unwrap(), h);
}

fn variants(seed: u64) -> (Vec<u8>, Vec<(&'static str, Vec<u8>)>) {
    let img = synthetic::photo(seed, 640, 480);
    let original = synthetic::jpeg(&img, 90).unwrap();
    let decoded = image::load_from_memory(&original).unwrap().to_rgb8();
    let mut out = Vec::new();
    for (what, q) in [
        ("re-encode q75", 75),
        ("re-encode q50", 50),
        ("re-encode q30", 30),
    ] {
        out.push((what, synthetic::jpeg(&decoded, q).unwrap()));
    }
    for (what, div) in [("resize 1/2", 2), ("resize 1/4", 4)] {
        let small = image::imageops::resize(&decoded, 640 / div, 480 / div, FilterType::Lanczos3);
        out.push((what, synthetic::jpeg(&small, 85).unwrap()));
    }
    out.push(("png, metadata stripped", synthetic::png(&decoded).unwrap()));
    out.push(("rename", original.clone()));
    (original, out)
}

#[test]
fn phash_threshold() {
    let limits = Limits::default();
    let mut originals: Vec<PerceptualHash> = Vec::new();
    let mut max_same = 0;
    let mut same_hist = [0usize; 65];
    let mut by_kind: std::collections::BTreeMap<&str, u32> = Default::default();
    for seed in 0..SCENES {
        let (original, vars) = variants(seed);
        let h = phash_bytes(&original, &limits).unwrap();
        for (what, bytes) in vars {
            let d = h.distance(phash_bytes(&bytes, &limits).unwrap());
            same_hist[d as usize] += 1;
            assert!(
                d <= PHASH_MATCH_THRESHOLD,
                "scene {seed}: {what} is {d} bits away, over the threshold {PHASH_MATCH_THRESHOLD}"
            );
            max_same = max_same.max(d);
            let k = by_kind.entry(what).or_default();
            *k = (*k).max(d);
        }
        originals.push(h);
    }
    let mut min_diff = 64;
    let mut sum = 0u64;
    let mut pairs = 0u64;
    for i in 0..originals.len() {
        for j in i + 1..originals.len() {
            let d = originals[i].distance(originals[j]);
            assert!(
                d > PHASH_MATCH_THRESHOLD,
                "scenes {i} and {j} are only {d} bits apart: a false match"
            );
            min_diff = min_diff.min(d);
            sum += u64::from(d);
            pairs += 1;
        }
    }
    let hist: Vec<String> = same_hist
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(d, n)| format!("{d}:{n}"))
        .collect();
    println!(
        "phash: same photo max {max_same} (histogram {}; max by kind {by_kind:?}), different photos min {min_diff} mean {:.1} over {pairs} pairs",
        hist.join(" "),
        sum as f64 / pairs as f64
    );
    // The figures written in the identity module's documentation.
    assert!(max_same <= 8, "same-photo distances grew to {max_same}");
    assert!(
        min_diff >= 16,
        "different-photo distances shrank to {min_diff}"
    );
}

#[test]
fn phash_follows_exif_orientation_free_pixels() {
    // The hash of decoded pixels equals the hash of the file.
    let img = synthetic::photo(3, 320, 240);
    let bytes = synthetic::png(&img).unwrap();
    let from_file = phash_bytes(&bytes, &Limits::default()).unwrap();
    let from_pixels = reprint_media::identity::phash(&DynamicImage::ImageRgb8(img));
    assert_eq!(from_file, from_pixels);
    let s = from_file.to_string();
    assert_eq!(s.parse::<PerceptualHash>().unwrap(), from_file);
}
