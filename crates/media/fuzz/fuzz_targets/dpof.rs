//! The DPOF parser on arbitrary bytes: it may refuse, it must not panic, and what it accepts
//! keeps its invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reprint_media::dpof;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = dpof::parse(data) {
        assert!(!d.header.revision.is_empty());
        for job in &d.jobs {
            assert!(!job.sources.is_empty());
            assert!((1..=dpof::MAX_QUANTITY).contains(&job.quantity));
            let _ = job.resolved_sources();
        }
    }
});
