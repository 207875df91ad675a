//! `reprint-bench media`: reprint-media's figures beside plain baselines.
//!
//! - `media.sha256`: MB/s of `ContentHash::of_reader` on a generated file, baseline `sha256sum`
//!   on the same file (warm page cache, best of three each).
//! - `media.thumbnail.24mp`: ms for a 256-px thumbnail of a 6000x4000 JPEG, baseline a full
//!   decode + `thumbnail` with the image crate; `media.thumbnail.24mp.rss`: peak resident
//!   memory (VmHWM) of a child process doing only that, each way.
//! - `media.render.l300`: ms for one L print (89x127 mm) at 300 dpi from that JPEG, colour
//!   managed to a Display P3 printer profile with history embedded; baseline libvips doing
//!   the same output: `vips thumbnail` to the same size with a centre crop, the same export
//!   profile, JPEG at the same quality with 4:4:4 chroma (the process's wall time from file to
//!   file, best of 5; skipped with a note when `vips` is not installed: `scripts/bench`
//!   installs libvips-tools when root). `media.render.l300.plain`: the same print beside a
//!   plain decode + Lanczos3 resize-to-fill + JPEG encode with the image crate.
//! - `media.preflight.24mp`: ms for the upload preflight (`validate::preflight`) of the 24 MP
//!   JPEG, baseline the full decode the uploads had before it (`validate::decode`).
//! - `media.phash`: perceptual hashes per second of 12-megapixel JPEGs, baseline plain decodes
//!   per second.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use image::imageops::FilterType;
use reprint_media::edit::EditList;
use reprint_media::render::{PrintSize, PrintSpec, render_print};
use reprint_media::synthetic::{self, Rng};
use reprint_media::{ContentHash, Limits, PrintHistory, PrintRecord, icc, identity, thumbnail};

use crate::report::{Figure, Report};

const CHILD_ENV: &str = "REPRINT_BENCH_MEDIA_CHILD";
const FILE_ENV: &str = "REPRINT_BENCH_MEDIA_FILE";

/// Options of `reprint-bench media`.
#[derive(Args, Debug)]
pub struct MediaArgs {
    /// Size of the file hashed for `media.sha256`, in MiB.
    #[arg(long, default_value_t = 256)]
    sha_mib: usize,
}

fn best_of<T>(n: usize, mut f: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..n {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn vm_hwm_kib() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("no VmHWM in /proc/self/status")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("VmHWM value")?
        .parse()?)
}

/// The child side of the memory measurement: one thumbnail, then "ms kib" on stdout.
fn child(which: &str) -> anyhow::Result<()> {
    let path = std::env::var(FILE_ENV)?;
    let bytes = std::fs::read(&path)?;
    let t = Instant::now();
    let thumb = match which {
        "ours" => thumbnail::thumbnail(&bytes, 256, &Limits::default())?,
        "baseline" => image::load_from_memory(&bytes)?
            .thumbnail(256, 256)
            .into_rgb8(),
        other => bail!("unknown child {other}"),
    };
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    std::hint::black_box(thumb);
    println!("{ms} {}", vm_hwm_kib()?);
    Ok(())
}

fn run_child(which: &str, file: &Path) -> anyhow::Result<(f64, f64)> {
    let out = Command::new(std::env::current_exe()?)
        .arg("media")
        .env(CHILD_ENV, which)
        .env(FILE_ENV, file)
        .output()?;
    if !out.status.success() {
        bail!("child {which}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8(out.stdout)?;
    let mut it = text.split_whitespace();
    let ms: f64 = it.next().context("child ms")?.parse()?;
    let kib: f64 = it.next().context("child kib")?.parse()?;
    Ok((ms, kib / 1024.0))
}

fn sha256(report: &mut Report, dir: &Path, mib: usize) -> anyhow::Result<()> {
    let path = dir.join("blob.bin");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let mut rng = Rng::new(1);
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..mib {
            for chunk in block.chunks_exact_mut(8) {
                chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
            }
            f.write_all(&block)?;
        }
        f.flush()?;
    }
    let mb = (mib << 20) as f64 / 1e6;
    let mut ours = ContentHash([0; 32]);
    let t_ours = best_of(3, || {
        ours = ContentHash::of_reader(std::fs::File::open(&path)?)?;
        Ok(())
    })?;
    let mut theirs = String::new();
    let t_base = best_of(3, || {
        let out = Command::new("sha256sum").arg(&path).output()?;
        if !out.status.success() {
            bail!("sha256sum failed");
        }
        theirs = String::from_utf8(out.stdout)?;
        Ok(())
    })?;
    if !theirs.starts_with(&ours.to_hex()) {
        bail!("sha256 mismatch: ours {ours}, sha256sum {theirs}");
    }
    report.push(Figure::new(
        "media.sha256",
        mb / t_ours,
        "MB/s",
        mb / t_base,
    ));
    Ok(())
}

/// Seconds `vips thumbnail` takes for the print `render_print` makes of `source`: the same
/// pixel size (the paper turned to the picture, as auto-rotate does), centre crop, the
/// printer's profile as export profile, JPEG at the spec's quality with 4:4:4 chroma. Best of
/// 5 process runs (process start included). `None` when vips is not installed.
fn vips_render(
    dir: &Path,
    source: &Path,
    printer: &[u8],
    spec: &PrintSpec,
) -> anyhow::Result<Option<f64>> {
    if Command::new("vips").arg("--version").output().is_err() {
        return Ok(None);
    }
    let (pw, ph) = spec.pixel_size()?;
    let (sw, sh) = image::image_dimensions(source)?;
    let (tw, th) = if (sw > sh) != (pw > ph) {
        (ph, pw)
    } else {
        (pw, ph)
    };
    let profile = dir.join("printer.icc");
    std::fs::write(&profile, printer)?;
    let out = dir.join("vips-print.jpg");
    let target = format!(
        "{}[Q={},subsample-mode=off,optimize-coding=false]",
        out.display(),
        spec.jpeg_quality
    );
    let t = best_of(5, || {
        let status = Command::new("vips")
            .arg("thumbnail")
            .arg(source)
            .arg(&target)
            .arg(tw.to_string())
            .args([
                "--height",
                &th.to_string(),
                "--crop",
                "centre",
                "--export-profile",
            ])
            .arg(&profile)
            .status()?;
        if !status.success() {
            bail!("vips thumbnail failed: {status}");
        }
        Ok(())
    })?;
    let (vw, vh) = image::image_dimensions(&out)?;
    if (vw, vh) != (tw, th) {
        bail!("vips made {vw}x{vh}, the print is {tw}x{th}");
    }
    Ok(Some(t))
}

fn history() -> anyhow::Result<PrintHistory> {
    let mut h = PrintHistory::new();
    h.push(PrintRecord {
        site: "LAB-1".into(),
        registration_number: "B0000456".into(),
        reception_number: "B0001004".into(),
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 18).context("date")?,
    })?;
    Ok(h)
}

pub fn run(args: MediaArgs, report: &mut Report) -> anyhow::Result<()> {
    if let Ok(which) = std::env::var(CHILD_ENV) {
        return child(&which);
    }
    let dir = tempfile::tempdir()?;
    sha256(report, dir.path(), args.sha_mib)?;

    // A 24-megapixel camera JPEG.
    let big = synthetic::jpeg(&synthetic::photo(2024, 6000, 4000), 90)?;
    let big_path = dir.path().join("24mp.jpg");
    std::fs::write(&big_path, &big)?;
    let (mut ours_ms, mut base_ms) = (f64::INFINITY, f64::INFINITY);
    let (mut ours_mib, mut base_mib) = (0f64, 0f64);
    for _ in 0..3 {
        let (ms, mib) = run_child("ours", &big_path)?;
        ours_ms = ours_ms.min(ms);
        ours_mib = ours_mib.max(mib);
        let (ms, mib) = run_child("baseline", &big_path)?;
        base_ms = base_ms.min(ms);
        base_mib = base_mib.max(mib);
    }
    report.push(Figure::new("media.thumbnail.24mp", ours_ms, "ms", base_ms));
    report.push(Figure::new(
        "media.thumbnail.24mp.rss",
        ours_mib,
        "MiB peak",
        base_mib,
    ));

    // One L print at 300 dpi.
    let printer = icc::display_p3_profile();
    let spec = PrintSpec::new(PrintSize::L, 300);
    let (pw, ph) = spec.pixel_size()?;
    let h = history()?;
    let limits = Limits::default();
    let t_ours = best_of(3, || {
        let p = render_print(
            &big,
            &EditList::default(),
            &spec,
            Some(&printer),
            &h,
            &limits,
        )?;
        std::hint::black_box(p);
        Ok(())
    })?;
    let t_base = best_of(3, || {
        let img = image::load_from_memory(&big)?;
        let out = img.resize_to_fill(ph, pw, FilterType::Lanczos3).into_rgb8();
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 92).encode_image(&out)?;
        std::hint::black_box(jpeg);
        Ok(())
    })?;
    match vips_render(dir.path(), &big_path, &printer, &spec)? {
        Some(t_vips) => report.push(Figure::new(
            "media.render.l300",
            t_ours * 1000.0,
            "ms",
            t_vips * 1000.0,
        )),
        None => eprintln!(
            "media.render.l300: skipped, `vips` is not installed (apt-get install libvips-tools, \
             or run scripts/bench as root)"
        ),
    }
    report.push(Figure::new(
        "media.render.l300.plain",
        t_ours * 1000.0,
        "ms",
        t_base * 1000.0,
    ));

    // The upload preflight beside the full decode it replaced.
    let t_ours = best_of(3, || {
        std::hint::black_box(reprint_media::validate::preflight(&big, &limits)?);
        Ok(())
    })?;
    let t_base = best_of(3, || {
        std::hint::black_box(reprint_media::validate::decode(&big, &limits)?);
        Ok(())
    })?;
    report.push(Figure::new(
        "media.preflight.24mp",
        t_ours * 1000.0,
        "ms",
        t_base * 1000.0,
    ));

    // Perceptual hashes of 12-megapixel photos.
    let photos: Vec<Vec<u8>> = (0..4)
        .map(|i| synthetic::jpeg(&synthetic::photo(100 + i, 4000, 3000), 90))
        .collect::<Result<_, _>>()?;
    let rounds = 3;
    let t_ours = best_of(1, || {
        for _ in 0..rounds {
            for p in &photos {
                std::hint::black_box(identity::phash_bytes(p, &limits)?);
            }
        }
        Ok(())
    })?;
    let t_base = best_of(1, || {
        for _ in 0..rounds {
            for p in &photos {
                std::hint::black_box(image::load_from_memory(p)?);
            }
        }
        Ok(())
    })?;
    let n = (rounds * photos.len()) as f64;
    report.push(Figure::new(
        "media.phash",
        n / t_ours,
        "images/s",
        n / t_base,
    ));
    Ok(())
}
