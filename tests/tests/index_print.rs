//! The index print (seed 000, claims 2, 18: "a product that uses the image for an end
//! product"): an order with an index line gets one more print in the lab's hot folder, the
//! contact sheet of every image of the order, each numbered as in the order's item list; the
//! lab charges it as a print by its price list.

use std::time::Instant;

use image::{Rgb, RgbImage};
use reprint_e2e::flows::{line_amounts, wait_for_lab_reception, wait_for_slip};
use reprint_e2e::{COUNTER, LAB, Network, step, wait_for};
use reprint_media::index_print::{SheetGeometry, read_number};
use serde_json::{Value, json};

/// A photo of one colour with a lighter frame (a JPEG of `w` x `h`).
fn photo(w: u32, h: u32, c: [u8; 3]) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| {
        let edge = x < w / 20 || y < h / 20 || x >= w - w / 20 || y >= h - h / 20;
        if edge {
            Rgb(c.map(|v| v / 2 + 120))
        } else {
            Rgb(c)
        }
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
        .encode_image(&img)
        .expect("jpeg");
    out
}

fn mean(img: &RgbImage, x: u32, y: u32, w: u32, h: u32) -> [f64; 3] {
    let mut sum = [0f64; 3];
    for yy in y..y + h {
        for xx in x..x + w {
            let p = img.get_pixel(xx, yy);
            for k in 0..3 {
                sum[k] += f64::from(p[k]);
            }
        }
    }
    sum.map(|s| s / f64::from(w * h))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_with_an_index_print_gets_one_sheet_of_every_image_numbered() {
    let t0 = Instant::now();
    let net = Network::start().await;
    let user = net
        .home_user("kenji@example.jp", "Kenji Sato", "03-2222-3333")
        .await;
    let colours = [
        [200, 40, 40],
        [40, 170, 60],
        [40, 60, 200],
        [220, 200, 40],
        [150, 60, 170],
    ];
    let photos: Vec<(String, Vec<u8>)> = colours
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let bytes = if i % 2 == 0 {
                photo(900, 600, *c)
            } else {
                photo(600, 900, *c)
            };
            (format!("photo-{}.jpg", i + 1), bytes)
        })
        .collect();

    // The catalog lists it as a size with its price.
    let (s, catalog) = user.get(&format!("/api/v1/sites/{LAB}/catalog")).await;
    assert_eq!(s, 200, "{catalog}");
    assert!(catalog.to_string().contains("Index"), "{catalog}");

    let (s, created) = user.post("/api/v1/orders", &json!({})).await;
    assert_eq!(s, 201, "{created}");
    let order = created["order"].as_str().unwrap().to_string();
    let bytes: usize = photos.iter().map(|p| p.1.len()).sum();
    let (s, r) = user
        .put(
            &format!("/api/v1/orders/{order}/storage"),
            &json!({"bytes": bytes + 1024}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let mut images = Vec::new();
    for (name, bytes) in &photos {
        let (s, up) = user
            .put_bytes(
                &format!("/api/v1/orders/{order}/images?name={name}"),
                bytes.clone(),
            )
            .await;
        assert_eq!(s, 201, "{up}");
        images.push(up["image"].as_str().unwrap().to_string());
    }
    // Lines 1-5 the prints (the third on 2L), line 6 the index print.
    let mut items: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"image": id, "size": if i == 2 { "2L" } else { "L" }, "quantity": 1}))
        .collect();
    items.push(json!({"image": images[0], "size": "Index", "quantity": 1}));
    let req = json!({"lab": LAB, "counter": COUNTER, "items": items});
    let (s, quote) = user
        .post(&format!("/api/v1/orders/{order}/quote"), &req)
        .await;
    assert_eq!(s, 200, "{quote}");
    let (s, v) = user
        .post_with(
            &format!("/api/v1/orders/{order}/submit"),
            &req,
            &[("Idempotency-Key", "index-1")],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let slip = wait_for_slip(&user, &order, 30).await["slip"].clone();
    let reception = slip["reception"]["number"].as_str().unwrap().to_string();
    let charge = &slip["reception"]["charge"];
    // Charged as a print by the lab's list: 4 L and a 2L print, and the index print at 30.
    assert_eq!(charge["total"]["minor"], 250 + 4 * 30 + 80 + 30, "{charge}");
    assert_eq!(quote["lab"]["charge"]["total"], charge["total"], "{quote}");
    assert!(
        line_amounts(charge)
            .iter()
            .any(|(d, a)| d.contains("Index") && *a == 30),
        "{charge}"
    );
    step(t0, &format!("ordered with an index print: {reception}"));

    let op = net.lab_operator().await;
    wait_for_lab_reception(&op, &reception, 10).await;
    let (s, row) = op
        .post(
            &format!("/api/v1/receptions/{reception}/start-printing"),
            &Value::Null,
        )
        .await;
    assert_eq!(s, 200, "{row}");
    let hot = net.dir.path().join("lab-a/hot/minilab-1");
    let folder = hot.join(format!("{reception}-Index"));
    let ticket: Value = wait_for("the index print's job in the hot folder", 60, || async {
        let found = std::fs::read(folder.join("ticket.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        (found, json!(folder.display().to_string()))
    })
    .await;
    // One more print beside the prints: one file, once.
    let files = ticket["files"].as_array().cloned().unwrap_or_default();
    assert_eq!(files.len(), 1, "{ticket}");
    assert_eq!(files[0]["quantity"], 1, "{ticket}");
    assert_eq!(files[0]["name"], "index print of 5 images", "{ticket}");
    let dpof = std::fs::read_to_string(folder.join("MISC/AUTPRINT.MRK")).expect("DPOF");
    let file = files[0]["file"].as_str().unwrap();
    assert_eq!(file, format!("{reception}-06.JPG"));
    assert!(dpof.contains(file), "{dpof}");
    for size in ["L", "2L"] {
        assert!(
            hot.join(format!("{reception}-{size}/ticket.json"))
                .is_file(),
            "the {size} prints are there too"
        );
    }

    // The sheet: five cells of the 2 x 3 grid, each the mean colour of its image's print with
    // its number, the sixth white.
    let sheet = image::load_from_memory(&std::fs::read(folder.join(file)).unwrap())
        .unwrap()
        .to_rgb8();
    assert_eq!(sheet.dimensions(), (1051, 1500));
    let g = SheetGeometry::new(5, sheet.width(), sheet.height());
    assert_eq!((g.layout.columns, g.layout.rows), (2, 3));
    let middle = |img: &RgbImage| {
        let (w, h) = img.dimensions();
        mean(img, w * 2 / 5, h * 2 / 5, w / 5, h / 5)
    };
    for i in 0..5u32 {
        // Its print, rendered through the same printer profile.
        let size = if i == 2 { "2L" } else { "L" };
        let print = hot.join(format!("{reception}-{size}/{reception}-{:02}.JPG", i + 1));
        let print = image::load_from_memory(&std::fs::read(&print).unwrap())
            .unwrap()
            .to_rgb8();
        let want = middle(&print);
        let b = g.picture_box(i);
        // The middle of the box, inside the picture's frame.
        let m = mean(
            &sheet,
            b.x + b.width * 2 / 5,
            b.y + b.height * 2 / 5,
            b.width / 5,
            b.height / 5,
        );
        for k in 0..3 {
            assert!(
                (m[k] - want[k]).abs() < 10.0,
                "cell {i}: {m:?}, its print {want:?}"
            );
        }
        assert_eq!(
            read_number(&sheet, 5, i, 1),
            Some(i + 1),
            "cell {i}'s number"
        );
    }
    let empty = g.picture_box(5);
    let m = mean(&sheet, empty.x, empty.y, empty.width, empty.height);
    assert!(
        m.iter().all(|v| *v > 245.0),
        "the sixth place is paper: {m:?}"
    );
    step(t0, "the index print shows every image numbered");
}
