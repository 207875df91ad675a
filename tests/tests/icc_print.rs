//! ICC profiles end to end (seed 000, claims 4 and 25; issue 20): the lab's catalog lists its
//! printer's non-sRGB profile (deploy/local/lab-a.toml: minilab-1 prints through
//! `reprint-silver-halide-glossy`, the profile of deploy/icc); a photo with an embedded Adobe
//! RGB profile and the same photo without a profile, ordered with the source profile
//! "Adobe RGB (1998)", print to that profile with the colours of littlecms's conversion
//! (Pillow's ImageCms, `REPRINT_PILLOW`, installed by `scripts/test`'s `ensure_pillow`) within
//! a small ΔE; the edit preview soft-proofs through the profile, out-of-gamut areas hatched.

use std::path::PathBuf;
use std::time::Instant;

use image::{ImageEncoder, Rgb, RgbImage};
use reprint_e2e::flows::wait_for_slip;
use reprint_e2e::{COUNTER, LAB, Network, step, wait_for};
use serde_json::{Value, json};

const PROFILE: &str = "reprint-silver-halide-glossy";

/// The patches (Adobe RGB values): greys, skin, sky, foliage, and saturated colours, some
/// beyond sRGB and beyond the paper.
const PATCHES: [[u8; 3]; 15] = [
    [30, 30, 30],
    [90, 90, 90],
    [128, 128, 128],
    [200, 200, 200],
    [245, 245, 245],
    [220, 170, 140],
    [110, 150, 210],
    [60, 120, 50],
    [200, 40, 40],
    [40, 200, 80],
    [40, 60, 180],
    [230, 210, 60],
    [40, 180, 200],
    [190, 60, 160],
    [0, 220, 0],
];
/// An L print at 300 dpi turned landscape: 1500 x 1051 pixels; a photo of that size is printed
/// pixel for pixel (no resampling, nothing cut off).
const W: u32 = 1500;
const H: u32 = 1051;
const COLS: u32 = 5;
const ROWS: u32 = 3;

/// The patch chart, and each patch's centre box (x0, y0, x1, y1).
fn chart() -> (RgbImage, Vec<[u32; 4]>) {
    let (pw, ph) = (W / COLS, H / ROWS);
    let img = RgbImage::from_fn(W, H, |x, y| {
        let i = ((y / ph).min(ROWS - 1) * COLS + (x / pw).min(COLS - 1)) as usize;
        Rgb(PATCHES[i])
    });
    let boxes = (0..ROWS)
        .flat_map(|r| (0..COLS).map(move |c| (c, r)))
        .map(|(c, r)| {
            let (cx, cy) = (c * pw + pw / 2, r * ph + ph / 2);
            [cx - 40, cy - 40, cx + 40, cy + 40]
        })
        .collect();
    (img, boxes)
}

fn jpeg(img: &RgbImage, icc: Option<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 100);
    if let Some(p) = icc {
        enc.set_icc_profile(p).expect("JPEG takes an ICC profile");
    }
    enc.write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
    out
}

/// Converts `source` from `source_icc` to `printer_icc` with littlecms (relative colorimetric,
/// as the lab) and prints, per box, CIELAB (D50) of the lab's print `ours` and of the
/// reference, from the printer profile's colourants and its gamma 2.2.
const REFERENCE: &str = r#"
import json, sys
from PIL import Image, ImageCms
source, source_icc, printer_icc, ours_path, boxes = sys.argv[1:6]
src = Image.open(source).convert("RGB")
pp = ImageCms.ImageCmsProfile(printer_icc)
ref = ImageCms.profileToProfile(src, ImageCms.ImageCmsProfile(source_icc), pp,
    renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC, outputMode="RGB")
ours = Image.open(ours_path).convert("RGB")
assert ours.size == ref.size, (ours.size, ref.size)
p = pp.profile
m = [p.red_colorant[0], p.green_colorant[0], p.blue_colorant[0]]
def lab(rgb):
    lin = [(c / 255.0) ** 2.2 for c in rgb]
    x, y, z = (sum(m[i][k] * lin[i] for i in range(3)) for k in range(3))
    f = lambda t: t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116
    fx, fy, fz = f(x / 0.9642), f(y / 1.0), f(z / 0.8249)
    return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)]
def mean(img, box):
    px = list(img.crop(tuple(box)).getdata())
    return [sum(q[i] for q in px) / len(px) for i in range(3)]
out = []
for b in json.loads(boxes):
    a, r = lab(mean(ours, b)), lab(mean(ref, b))
    out.append({"ours": a, "ref": r, "rgb_ours": mean(ours, b), "rgb_ref": mean(ref, b),
                "de": sum((a[i] - r[i]) ** 2 for i in range(3)) ** 0.5})
print(json.dumps(out))
"#;

fn reference_delta_e(
    python: &str,
    dir: &std::path::Path,
    source: &[u8],
    print: &[u8],
    boxes: &[[u32; 4]],
) -> Vec<Value> {
    let (src, ours) = (dir.join("source.jpg"), dir.join("print.jpg"));
    let (adobe, printer) = (dir.join("adobe.icc"), dir.join("printer.icc"));
    std::fs::write(&src, source).unwrap();
    std::fs::write(&ours, print).unwrap();
    std::fs::write(&adobe, reprint_media::icc::adobe_rgb_profile()).unwrap();
    std::fs::write(&printer, reprint_media::icc::silver_halide_glossy_profile()).unwrap();
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(REFERENCE)
        .args([&src, &adobe, &printer, &ours])
        .arg(serde_json::to_string(boxes).unwrap())
        .output()
        .expect("run the reference");
    assert!(
        out.status.success(),
        "reference failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn job_file(net: &Network, number: &str, n: usize) -> PathBuf {
    net.dir
        .path()
        .join("lab-a/hot/minilab-1")
        .join(format!("{number}-L"))
        .join(format!("{number}-{n:02}.JPG"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adobe_rgb_photo_prints_to_the_paper_profile_as_littlecms_converts_it() {
    let Some(python) = std::env::var("REPRINT_PILLOW")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        eprintln!(
            "SKIPPED: REPRINT_PILLOW is not set (a python with Pillow, the littlecms reference; scripts/test installs it with ensure_pillow)"
        );
        return;
    };
    let t0 = Instant::now();
    let net = Network::start().await;
    let user = net
        .home_user("hanako@example.jp", "Hanako Yamada", "03-1234-5678")
        .await;
    let op = net.lab_operator().await;
    step(t0, "network up");

    // The catalog lists the printer's profile: name, its own description, printer, paper.
    let (s, catalog) = user.get(&format!("/api/v1/sites/{LAB}/catalog")).await;
    assert_eq!(s, 200, "{catalog}");
    assert!(
        catalog["icc_profiles"]
            .as_array()
            .unwrap()
            .contains(&json!(PROFILE)),
        "{catalog}"
    );
    let listed = catalog["printer_profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == PROFILE)
        .cloned()
        .expect("the profile in printer_profiles");
    assert_eq!(listed["printer"], "minilab-1", "{listed}");
    assert_eq!(listed["paper"], "silver-halide glossy", "{listed}");
    assert_eq!(
        listed["description"],
        reprint_media::icc::SILVER_HALIDE_GLOSSY_DESCRIPTION
    );

    // One chart with Adobe RGB embedded, the same pixels without a profile.
    let (img, boxes) = chart();
    let tagged = jpeg(&img, Some(reprint_media::icc::adobe_rgb_profile()));
    let untagged = jpeg(&img, None);
    let (s, created) = user.post("/api/v1/orders", &json!({})).await;
    assert_eq!(s, 201, "{created}");
    let order = created["order"].as_str().unwrap().to_string();
    let (s, r) = user
        .put(
            &format!("/api/v1/orders/{order}/storage"),
            &json!({"bytes": tagged.len() + untagged.len() + 1024}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let mut ids = Vec::new();
    for (name, bytes) in [("tagged.jpg", &tagged), ("untagged.jpg", &untagged)] {
        let (s, up) = user
            .put_bytes(
                &format!("/api/v1/orders/{order}/images?name={name}"),
                bytes.clone(),
            )
            .await;
        assert_eq!(s, 201, "{up}");
        ids.push(up["image"].as_str().unwrap().to_string());
    }
    let mut req = json!({
        "lab": LAB,
        "counter": COUNTER,
        "items": [
            {"image": ids[0], "size": "L", "quantity": 1},
            {"image": ids[1], "size": "L", "quantity": 1},
        ],
        "source_profiles": [{"image": ids[1], "profile": {"named": "Adobe RGB (1998)"}}],
    });
    // A profile nobody knows, or bytes that are not one, are refused in words.
    for bad in [
        json!({"named": "Kodak Ektachrome"}),
        json!({"icc": "bm90IGEgcHJvZmlsZQ=="}),
    ] {
        let mut wrong = req.clone();
        wrong["source_profiles"][0]["profile"] = bad;
        let (s, v) = user
            .post_with(
                &format!("/api/v1/orders/{order}/submit"),
                &wrong,
                &[("Idempotency-Key", "icc-bad")],
            )
            .await;
        assert_eq!(s, 422, "{v}");
        assert!(v.to_string().contains("profile"), "{v}");
    }
    req["idempotency_key"] = json!("icc-1");
    let (s, v) = user
        .post(&format!("/api/v1/orders/{order}/submit"), &req)
        .await;
    assert_eq!(s, 200, "submit: {v}");
    let view = wait_for_slip(&user, &order, 30).await;
    let number = view["slip"]["reception"]["number"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, row) = op
        .post(
            &format!("/api/v1/receptions/{number}/start-printing"),
            &Value::Null,
        )
        .await;
    assert_eq!(s, 200, "start printing: {row}");
    let prints: Vec<Vec<u8>> = wait_for("both prints in the hot folder", 60, || async {
        let files: Vec<_> = (1..=2)
            .map(|n| std::fs::read(job_file(&net, &number, n)).ok())
            .collect();
        let found = files.iter().all(Option::is_some);
        (
            found.then(|| files.into_iter().flatten().collect()),
            json!(found),
        )
    })
    .await;
    step(t0, "printed");

    // Each print against littlecms's conversion of the same pixels from Adobe RGB.
    let work = tempfile::tempdir().unwrap();
    for (label, source, print) in [
        ("embedded Adobe RGB", &tagged, &prints[0]),
        ("Adobe RGB named by the order", &untagged, &prints[1]),
    ] {
        let patches = reference_delta_e(&python, work.path(), source, print, &boxes);
        let des: Vec<f64> = patches.iter().map(|p| p["de"].as_f64().unwrap()).collect();
        let mean = des.iter().sum::<f64>() / des.len() as f64;
        let max = des.iter().cloned().fold(0.0, f64::max);
        eprintln!("{label}: ΔE*ab (CIE76) against littlecms: mean {mean:.3}, max {max:.3}");
        assert!(
            mean < 2.0 && max < 5.0,
            "{label}: mean {mean:.3}, max {max:.3}: {}",
            serde_json::to_string_pretty(&patches).unwrap()
        );
    }
    // Had the untagged photo been taken as sRGB, the print would differ visibly: the order's
    // profile is what made it right.
    let as_srgb = reprint_media::render::render_print(
        &untagged,
        &Default::default(),
        &reprint_media::render::PrintSpec::new(reprint_media::render::PrintSize::L, 300),
        Some(&reprint_media::icc::silver_halide_glossy_profile()),
        &Default::default(),
        &Default::default(),
    )
    .unwrap();
    let wrong = reference_delta_e(&python, work.path(), &untagged, &as_srgb.jpeg, &boxes);
    let worst = wrong
        .iter()
        .map(|p| p["de"].as_f64().unwrap())
        .fold(0.0, f64::max);
    eprintln!("the untagged photo taken as sRGB instead: worst patch ΔE*ab {worst:.2}");
    assert!(
        worst > 5.0,
        "taken as sRGB, the worst patch is only ΔE {worst:.2} off"
    );
    step(t0, "colours checked");

    // The edit preview soft-proofs through the printer's profile: the saturated patches are
    // hatched in magenta, the greys are not.
    let path = format!(
        "/api/v1/album/{}/preview?size=L&edge=600&proof={PROFILE}&lab={LAB}",
        ids[1]
    );
    let (s, kind, body) = user.get_bytes(&path).await;
    assert_eq!(s, 200, "{kind}: {}", String::from_utf8_lossy(&body));
    let proof = image::load_from_memory(&body).unwrap().into_rgb8();
    let magenta = |x0: u32, y0: u32, x1: u32, y1: u32| {
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let p = proof.get_pixel(x, y).0;
                p[0] > 200 && p[1] < 60 && p[2] > 200
            })
            .count()
    };
    let (w, h) = (proof.width(), proof.height());
    let (pw, ph) = (w / COLS, h / ROWS);
    // Patch 14 (the last row's fifth): pure Adobe green, taken as sRGB here (the preview of an
    // untagged photo), beyond the paper; patch 2 (first row's third): mid grey.
    let green = magenta(4 * pw + 10, 2 * ph + 10, 5 * pw - 10, 3 * ph - 10);
    let grey = magenta(2 * pw + 10, 10, 3 * pw - 10, ph - 10);
    assert!(
        green > 100,
        "the out-of-gamut patch is not hatched ({green} pixels)"
    );
    assert_eq!(grey, 0, "the grey patch is hatched");
    let (s, _, _) = user
        .get_bytes(&format!(
            "/api/v1/album/{}/preview?size=L&proof=no-such-profile",
            ids[1]
        ))
        .await;
    assert_eq!(s, 422);
    step(t0, "soft proof checked");
}
