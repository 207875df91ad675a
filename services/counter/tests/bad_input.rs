//! Bad media and bad slips: each a clear 4xx for the staff, and nothing stored half (no
//! reception, no held order, no spooled image).

mod common;

use common::*;
use reprint_testkit::NatsServer;

async fn nothing_stored(counter: &TestCounter) {
    let (s, arrivals) = counter.get("/api/v1/arrivals").await;
    assert_eq!(s, 200);
    assert_eq!(
        arrivals["awaiting"].as_array().unwrap().len(),
        0,
        "{arrivals}"
    );
    assert_eq!(counter.counter.spool.count(), 0, "nothing spooled");
    assert_eq!(
        reprint_counter::spool::held_count(&counter.counter)
            .await
            .unwrap(),
        0
    );
}

fn with_medium(zip: Vec<u8>) -> reqwest::multipart::Form {
    customer_fields(
        reqwest::multipart::Form::new(),
        "Taro Suzuki",
        "090-1111-2222",
    )
    .part("medium", zip_part(zip))
}

#[tokio::test]
async fn bad_media_and_slips_are_refused_clearly_and_nothing_is_stored() {
    let nats = NatsServer::start();
    let counter = spawn(
        &nats.url,
        None,
        "max_uncompressed_bytes = 1000000\nmax_image_bytes = 500000",
    )
    .await;

    let cases: Vec<(&str, reqwest::multipart::Form, u16, &str, &str)> = vec![
        (
            "not a zip",
            with_medium(b"this is a text file, not a zip".to_vec()),
            422,
            "not_a_zip",
            "not a ZIP",
        ),
        (
            "zip bomb",
            with_medium(zip_of(&[
                ("DCIM/IMG_0001.JPG", jpeg(1)),
                ("DCIM/BOMB.JPG", vec![0u8; 3_000_000]),
            ])),
            413,
            "too_large",
            "over the limit",
        ),
        (
            "path traversal",
            with_medium(zip_of(&[
                ("DCIM/IMG_0001.JPG", jpeg(1)),
                ("../../etc/evil.jpg", jpeg(2)),
            ])),
            422,
            "unsafe_name",
            "../../etc/evil.jpg",
        ),
        (
            "truncated DPOF",
            with_medium(zip_of(&[
                ("DCIM/100CANON/IMG_0001.JPG", jpeg(1)),
                ("DCIM/100CANON/IMG_0007.JPG", jpeg(7)),
                (
                    "MISC/AUTPRINT.MRK",
                    DPOF.as_bytes()[..DPOF.len() - 20].to_vec(),
                ),
            ])),
            422,
            "dpof_invalid",
            "AUTPRINT.MRK",
        ),
        (
            "DPOF naming a missing image",
            with_medium(zip_of(&[
                ("DCIM/100CANON/IMG_0001.JPG", jpeg(1)),
                ("MISC/AUTPRINT.MRK", DPOF.as_bytes().to_vec()),
            ])),
            422,
            "dpof_missing_image",
            "IMG_0007.JPG",
        ),
        (
            "non-image among images",
            customer_fields(
                reqwest::multipart::Form::new(),
                "Taro Suzuki",
                "090-1111-2222",
            )
            .part("images", image_part("IMG_0001.JPG", jpeg(1)))
            .part("images", image_part("notes.txt", b"shopping list".to_vec())),
            422,
            "not_an_image",
            "notes.txt",
        ),
        (
            "non-image inside the card",
            with_medium(zip_of(&[
                ("DCIM/IMG_0001.JPG", jpeg(1)),
                ("DCIM/virus.exe", b"MZ\x90\x00".to_vec()),
            ])),
            422,
            "not_an_image",
            "virus.exe",
        ),
        (
            "unknown lab",
            customer_fields(
                reqwest::multipart::Form::new(),
                "Taro Suzuki",
                "090-1111-2222",
            )
            .text("lab", "lab-zzz")
            .part("images", image_part("IMG_0001.JPG", jpeg(1))),
            422,
            "invalid",
            "lab-zzz",
        ),
    ];
    for (what, form, status, kind, words) in cases {
        let (s, p) = counter.intake(form).await;
        assert_eq!(s, status, "{what}: {p}");
        assert_eq!(p["type"], kind, "{what}: {p}");
        let detail = p["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(words), "{what}: {detail}");
        nothing_stored(&counter).await;
    }

    // Another counter's slip, typed or scanned.
    let (s, p) = counter.get("/api/v1/pickups?q=Y0000012").await;
    assert_eq!((s, p["type"].as_str()), (422, Some("foreign_slip")), "{p}");
    assert!(
        p["detail"].as_str().unwrap().contains("another counter"),
        "{p}"
    );
    let (s, p) = counter
        .get("/api/v1/pickups?q=REPRINT1:counter-shibuya:X0000001")
        .await;
    assert_eq!((s, p["type"].as_str()), (422, Some("foreign_slip")), "{p}");
    assert!(
        p["detail"].as_str().unwrap().contains("counter-shibuya"),
        "{p}"
    );
    let (s, _) = counter.get("/api/v1/pickups?q=X0000099").await;
    assert_eq!(s, 404, "our number, not issued");

    // Without log-in or CSRF token: refused.
    let anonymous = reqwest::Client::new();
    let res = anonymous
        .get(format!("{}/api/v1/arrivals", counter.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let res = anonymous
        .get(format!("{}/arrivals", counter.base))
        .send()
        .await
        .unwrap();
    assert!(
        res.url().path().ends_with("/login"),
        "pages send to the log-in"
    );
    let res = counter
        .http
        .post(format!("{}/api/v1/intake", counter.base))
        .multipart(customer_fields(
            reqwest::multipart::Form::new(),
            "A",
            "090-1111-2222",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403, "no CSRF token");
    for open in ["/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"] {
        let res = anonymous
            .get(format!("{}{open}", counter.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200, "{open}");
    }
    nothing_stored(&counter).await;
}
