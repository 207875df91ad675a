//! Header checks, metadata readers and the XMP splice on arbitrary bytes: no panic, and a
//! history written is read back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reprint_media::{Limits, history::xmp, icc, validate};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_pixels: 4_000_000,
        max_width: 4000,
        max_height: 4000,
        ..Limits::default()
    };
    let _ = validate::inspect(data, &limits);
    let _ = icc::embedded_profile(data);
    if let Ok(h) = xmp::read_history(data) {
        if let Ok(out) = xmp::write_history(data, &h) {
            assert_eq!(xmp::read_history(&out).ok(), Some(h));
        }
    }
});
