//! Bombs and damaged pictures handed in at the counter (issue 13): a clear 4xx naming the file,
//! refused before it is opened or while it is inflated, nothing stored.

mod common;

use std::io::Read;

use common::*;
use reprint_counter::config::UploadLimits;
use reprint_counter::medium::{self, Bounds, MediumError};
use reprint_testkit::NatsServer;

fn with_images(name: &str, bytes: Vec<u8>) -> reqwest::multipart::Form {
    customer_fields(
        reqwest::multipart::Form::new(),
        "Taro Suzuki",
        "090-1111-2222",
    )
    .part("images", image_part(name, bytes))
}

/// A 1.1 MB PNG that opens to 12000 x 12000 RGBA16 (1.2 GB), and a photo with 20 KB of its
/// scan data overwritten: each refused at intake naming the file, nothing stored.
#[tokio::test]
async fn a_png_bomb_and_a_damaged_photo_are_refused_at_intake_naming_them() {
    let nats = NatsServer::start();
    let counter = spawn(&nats.url, None, "").await;

    let bomb = reprint_media::synthetic::png_bomb(12_000, 12_000, true).unwrap();
    let (s, p) = counter.intake(with_images("IMG_0001.PNG", bomb)).await;
    assert_eq!(s, 422, "{p}");
    assert_eq!(p["type"], "not_an_image", "{p}");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("IMG_0001.PNG"), "{detail}");
    assert!(
        detail.contains("would take 1.2 GB to open; the limit is 168 MB"),
        "refused from the header by the decoded-size limit: {detail}"
    );

    let sound = reprint_media::synthetic::jpeg(&reprint_media::synthetic::photo(3, 1600, 1200), 90)
        .unwrap();
    let damaged = reprint_media::synthetic::damaged_scan(&sound, 20_000, 0).unwrap();
    let (s, p) = counter.intake(with_images("IMG_0002.JPG", damaged)).await;
    assert_eq!(s, 422, "{p}");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("IMG_0002.JPG"), "{detail}");
    assert!(detail.contains("damaged"), "{detail}");

    let (s, arrivals) = counter.get("/api/v1/arrivals").await;
    assert_eq!(s, 200);
    assert_eq!(arrivals["awaiting"].as_array().unwrap().len(), 0);
    assert_eq!(counter.counter.spool.count(), 0, "nothing spooled");
    // What arrived was written to disk, not held in memory, and is gone with the refusal.
    let staging = counter.counter.spool.staging();
    assert_eq!(
        std::fs::read_dir(&staging).unwrap().count(),
        0,
        "{staging:?}"
    );
}

/// A card whose first "photo" is 50 MiB of zeros (50 KB deflated) followed by an entry whose
/// compressed data is broken: the zeros are refused as not an image after their first block,
/// before the next entry is inflated at all. (Entries used to be inflated whole, every one,
/// before any was checked: this card was answered for its broken second entry, after 50 MiB
/// had been inflated into memory.)
#[test]
fn a_card_is_checked_entry_by_entry_while_inflating() {
    let mut zip = zip_of(&[
        ("DCIM/100CANON/IMG_0001.JPG", vec![0u8; 50 << 20]),
        ("DCIM/100CANON/IMG_0002.JPG", jpeg(2)),
    ]);
    // Break the second entry's deflated data (just after its local header and name).
    let name = b"DCIM/100CANON/IMG_0002.JPG";
    let at = zip.windows(name.len()).position(|w| w == name).unwrap() + name.len();
    for b in &mut zip[at..at + 16] {
        *b = 0xFF;
    }
    let staging = tempfile::tempdir().unwrap();
    let e = medium::read_zip(
        std::io::Cursor::new(zip),
        &UploadLimits::default(),
        staging.path(),
    )
    .unwrap_err();
    match &e {
        MediumError::NotAnImage { name, reason } => {
            assert_eq!(name, "DCIM/100CANON/IMG_0001.JPG", "{e}");
            assert!(reason.contains("0x0000000000000000"), "{e}");
        }
        other => panic!("expected the zero-filled entry to be named: {other}"),
    }
}

/// A reader that never ends (an entry whose inflation would be endless), counting what is
/// taken from it.
struct Endless {
    start: &'static [u8],
    read: u64,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len();
        for (i, b) in buf.iter_mut().enumerate() {
            let at = self.read as usize + i;
            *b = self.start.get(at).copied().unwrap_or(0);
        }
        self.read += n as u64;
        Ok(n)
    }
}

/// The bounded reader stops one block past an entry's limit: a JPEG-looking entry whose
/// inflation never ends is refused for its size after about `entry_limit` bytes, never held
/// whole; and stops at what the card's total has left.
#[test]
fn an_entry_that_inflates_without_end_stops_at_the_limit() {
    let mut endless = Endless {
        start: &[0xFF, 0xD8, 0xFF, 0xE0],
        read: 0,
    };
    let limit = 3_000_000;
    let e = medium::inflate_entry(
        &mut endless,
        &Bounds {
            name: "DCIM/BOMB.JPG",
            entry_limit: limit,
            total_limit: 1 << 30,
            remaining: 1 << 30,
            must_be_image: true,
        },
    )
    .unwrap_err();
    assert!(
        matches!(&e, MediumError::TooLarge { what, limit: l } if what.contains("DCIM/BOMB.JPG") && *l == limit),
        "{e}"
    );
    assert!(
        endless.read <= limit + 64 * 1024,
        "read {} bytes",
        endless.read
    );

    let mut endless = Endless {
        start: &[0xFF, 0xD8, 0xFF, 0xE0],
        read: 0,
    };
    let e = medium::inflate_entry(
        &mut endless,
        &Bounds {
            name: "DCIM/BOMB.JPG",
            entry_limit: 100 << 20,
            total_limit: 1 << 30,
            remaining: 1_000_000,
            must_be_image: true,
        },
    )
    .unwrap_err();
    assert!(
        matches!(&e, MediumError::TooLarge { what, .. } if what.contains("contents")),
        "{e}"
    );
    assert!(
        endless.read <= 1_000_000 + 64 * 1024,
        "read {} bytes",
        endless.read
    );
}
