//! `reprint-bench abuse`: what bad input costs the services, on the whole network as processes
//! (the reprint-e2e harness: gateway, lab `lab-a`, counter `counter-ginza` on a private
//! nats-server and SQLite; release binaries when the bench is a release build).
//!
//! | figure | value | baseline |
//! |---|---|---|
//! | `abuse.<bomb>.<service>.peak_rss_mb` | the service's peak resident memory (VmHWM, reset before each bomb through `/proc/<pid>/clear_refs`) while it answers the bomb | its resident memory idle right after start |
//! | `abuse.<bomb>.render.peak_rss_mb` | peak resident memory of a child process rendering the bomb as the lab does (`render_print`, L at 300 dpi, default limits) | the same child's resident memory before the render |
//! | `abuse.upload_ms.slow<N>` | median time of a normal 400x300 JPEG upload while N clients trickle one byte a second into uploads of their own (other accounts) | the same uploads with nobody trickling |
//!
//! The bombs: `png16` a 12000x12000 RGBA16 PNG (1.1 MB, 1.2 GB decoded), `png8` 12000x12000
//! RGB8 (430 MB decoded), `jpeg` a 12000x12000 RGB JPEG (430 MB decoded), `damaged` a JPEG with
//! 20 KB of its scan data overwritten, `zip` a card of ten 95 MiB zero-filled "photos" (the
//! counter only). Each answer's status is printed on stderr beside its figure. The bombs never
//! reach the lab through the doors (they are refused there), so the lab's render is measured in
//! a child process of the bench instead.

use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use reprint_e2e::{Client, Network, Options, Service};
use reprint_media::edit::EditList;
use reprint_media::render::{PrintSize, PrintSpec, render_print};
use reprint_media::{Limits, PrintHistory, synthetic};
use serde_json::{Value, json};

use crate::report::{Figure, Report};

const CHILD_ENV: &str = "REPRINT_BENCH_ABUSE_RENDER";

/// Flags of `reprint-bench abuse`.
#[derive(clap::Args, Debug, Clone)]
pub struct AbuseArgs {
    /// Slow clients trickling one byte a second into uploads while a normal user uploads.
    #[arg(long, default_value_t = 4)]
    pub slow: usize,
    /// Normal uploads timed with and without the slow clients.
    #[arg(long, default_value_t = 7)]
    pub uploads: usize,
}

pub fn run(args: AbuseArgs, report: &mut Report) -> anyhow::Result<()> {
    if let Ok(file) = std::env::var(CHILD_ENV) {
        return render_child(Path::new(&file));
    }
    if !cfg!(debug_assertions) {
        reprint_e2e::use_release_binaries();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(args, report))
}

fn note(t0: Instant, what: &str) {
    eprintln!("abuse [{:>7.2} s] {what}", t0.elapsed().as_secs_f64());
}

fn proc_status_kb(pid: u32, key: &str) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
}

fn rss_mb(s: &Service) -> f64 {
    s.pid()
        .and_then(|p| proc_status_kb(p, "VmRSS:"))
        .unwrap_or(0.0)
        / 1024.0
}

/// Resets the process's peak resident size to its current one (Linux: `5` to `clear_refs`).
fn reset_peak(s: &Service) -> anyhow::Result<()> {
    let pid = s.pid().context("service not running")?;
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").with_context(|| {
        format!(
            "resetting the peak RSS of {} (needs /proc/<pid>/clear_refs)",
            s.name
        )
    })
}

fn peak_mb(s: &Service) -> f64 {
    s.pid()
        .and_then(|p| proc_status_kb(p, "VmHWM:"))
        .unwrap_or(0.0)
        / 1024.0
}

// ------------------------------------------------------------------ the bombs

struct Bomb {
    name: &'static str,
    file: &'static str,
    bytes: Vec<u8>,
}

/// A 12000x12000 RGB JPEG of black: 144 megapixels (under the pixel limit), 430 MB decoded.
fn jpeg_bomb() -> anyhow::Result<Vec<u8>> {
    let img = image::RgbImage::new(12_000, 12_000);
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 50).encode_image(&img)?;
    Ok(out)
}

/// Ten 95 MiB zero-filled entries named as photos, deflated (about 1 MB).
fn zip_bomb() -> anyhow::Result<Vec<u8>> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(false);
    let block = vec![0u8; 1 << 20];
    for i in 1..=10 {
        w.start_file(format!("DCIM/100CANON/IMG_{i:04}.JPG"), opts)?;
        for _ in 0..95 {
            w.write_all(&block)?;
        }
    }
    Ok(w.finish()?.into_inner())
}

// ------------------------------------------------------------------ the lab's render, in a child

fn render_child(file: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(file)?;
    let before = proc_status_kb(std::process::id(), "VmRSS:").unwrap_or(0.0);
    let spec = PrintSpec::new(PrintSize::L, 300);
    let outcome = match render_print(
        &bytes,
        &EditList::default(),
        &spec,
        None,
        &PrintHistory::new(),
        &Limits::default(),
    ) {
        Ok(p) => format!("rendered {}x{}", p.width, p.height),
        Err(e) => format!("refused: {e}"),
    };
    let peak = proc_status_kb(std::process::id(), "VmHWM:").unwrap_or(0.0);
    println!("{before} {peak} {outcome}");
    Ok(())
}

fn render_in_child(file: &Path) -> anyhow::Result<(f64, f64, String)> {
    let out = Command::new(std::env::current_exe()?)
        .arg("abuse")
        .env(CHILD_ENV, file)
        .output()?;
    if !out.status.success() {
        bail!("render child: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8(out.stdout)?;
    let mut it = text.splitn(3, ' ');
    let before: f64 = it.next().context("child rss")?.parse()?;
    let peak: f64 = it.next().context("child peak")?.parse()?;
    let outcome = it.next().unwrap_or("").trim().to_string();
    Ok((before / 1024.0, peak / 1024.0, outcome))
}

// ------------------------------------------------------------------ the doors

fn short(detail: &Value) -> String {
    let text = detail["detail"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| detail.to_string());
    text.chars().take(140).collect()
}

/// A fresh order with room for `bytes`; then the upload of `bytes` and, when accepted, its
/// thumbnail. Returns the statuses.
async fn gateway_upload(user: &Client, bytes: &[u8], name: &str) -> (u16, String) {
    let (s, order) = user.post("/api/v1/orders", &json!({})).await;
    if s != 201 {
        return (s, format!("order: {order}"));
    }
    let order = order["order"].as_str().unwrap_or_default().to_string();
    let (s, v) = user
        .put(
            &format!("/api/v1/orders/{order}/storage"),
            &json!({"bytes": bytes.len()}),
        )
        .await;
    if s != 200 {
        return (s, format!("reservation: {v}"));
    }
    let (s, v) = user
        .put_bytes(
            &format!("/api/v1/orders/{order}/images?name={name}"),
            bytes.to_vec(),
        )
        .await;
    if s != 201 {
        return (s, short(&v));
    }
    let image = v["image"].as_str().unwrap_or_default().to_string();
    let (t, tv) = user.get(&format!("/api/v1/images/{image}/thumbnail")).await;
    (s, format!("accepted; thumbnail {t} {}", short(&tv)))
}

async fn counter_intake(staff: &Client, bytes: &[u8], name: &str, zip: bool) -> (u16, String) {
    let part = reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_string());
    let form = reqwest::multipart::Form::new()
        .text("name", "Taro Suzuki")
        .text("telephone", "090-1111-2222")
        .text("lab", reprint_e2e::LAB)
        .text("size", "L")
        .part(if zip { "medium" } else { "images" }, part);
    let (s, v) = staff.post_multipart("/api/v1/intake", form).await;
    (s, short(&v))
}

// ------------------------------------------------------------------ slow clients

/// A session of a new account, as raw header values (cookie, CSRF token), and an order of it
/// with room for `bytes`.
async fn raw_session(
    base: &str,
    email: &str,
    bytes: u64,
) -> anyhow::Result<(String, String, String)> {
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/api/v1/accounts"))
        .json(&json!({
            "name": "Slow Client", "telephone": "03-1111-2222",
            "address": "1-1 Chiyoda, Tokyo", "email": email,
            "password": "reprint-demo-password",
        }))
        .send()
        .await?;
    if r.status() != 201 {
        bail!("sign-up of {email}: {}", r.status());
    }
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ");
    let body: Value = r.json().await?;
    let csrf = body["csrf_token"].as_str().unwrap_or_default().to_string();
    let call = |method: reqwest::Method, path: String, body: Value| {
        http.request(method, format!("{base}{path}"))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&body)
            .send()
    };
    let order: Value = call(reqwest::Method::POST, "/api/v1/orders".into(), json!({}))
        .await?
        .json()
        .await?;
    let order = order["order"].as_str().context("order id")?.to_string();
    let r = call(
        reqwest::Method::PUT,
        format!("/api/v1/orders/{order}/storage"),
        json!({"bytes": bytes}),
    )
    .await?;
    if r.status() != 200 {
        bail!("reservation: {}", r.status());
    }
    Ok((cookie, csrf, order))
}

/// Opens an upload of `declared` bytes and sends one byte a second until `stop` (or the
/// gateway answers); returns what the gateway answered, if anything.
async fn trickle(
    addr: String,
    (cookie, csrf, order): (String, String, String),
    declared: u64,
    stop: tokio::sync::watch::Receiver<bool>,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut tcp) = tokio::net::TcpStream::connect(&addr).await else {
        return "no connection".into();
    };
    let head = format!(
        "PUT /api/v1/orders/{order}/images?name=slow.jpg HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\nContent-Type: application/octet-stream\r\nContent-Length: {declared}\r\n\r\n"
    );
    if tcp.write_all(head.as_bytes()).await.is_err() {
        return "write failed".into();
    }
    let mut sent = 0u64;
    let mut buf = [0u8; 512];
    while !*stop.borrow() && sent < declared {
        if tcp.write_all(&[0xFF]).await.is_err() {
            break;
        }
        sent += 1;
        tokio::select! {
            n = tcp.read(&mut buf) => {
                let n = n.unwrap_or(0);
                return String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or("closed").to_string();
            }
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    format!("still sending after {sent} bytes")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

async fn timed_uploads(user: &Client, n: usize, seed: u32) -> anyhow::Result<Vec<f64>> {
    let mut times = Vec::new();
    for i in 0..n {
        let photo = reprint_e2e::media::photo_jpeg(seed + i as u32, 400, 300, 85);
        let t = Instant::now();
        let (s, v) = gateway_upload(user, &photo, "normal.jpg").await;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if s != 201 {
            bail!("a normal upload was refused: {s} {v}");
        }
        times.push(ms);
    }
    Ok(times)
}

// ------------------------------------------------------------------ the run

async fn run_async(args: AbuseArgs, report: &mut Report) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let dir = tempfile::tempdir()?;
    let bombs = vec![
        Bomb {
            name: "png16",
            file: "bomb16.png",
            bytes: synthetic::png_bomb(12_000, 12_000, true)?,
        },
        Bomb {
            name: "png8",
            file: "bomb8.png",
            bytes: synthetic::png_bomb(12_000, 12_000, false)?,
        },
        Bomb {
            name: "jpeg",
            file: "bomb.jpg",
            bytes: jpeg_bomb()?,
        },
        Bomb {
            name: "damaged",
            file: "damaged.jpg",
            bytes: synthetic::damaged_scan(
                &synthetic::jpeg(&synthetic::photo(77, 1600, 1200), 90)?,
                20_000,
                7,
            )?,
        },
    ];
    let zip = zip_bomb()?;
    for b in &bombs {
        note(t0, &format!("{}: {} bytes", b.name, b.bytes.len()));
    }
    note(t0, &format!("zip: {} bytes", zip.len()));

    // The lab's render, in a child process per bomb.
    for b in &bombs {
        let path = dir.path().join(b.file);
        std::fs::write(&path, &b.bytes)?;
        let (before, peak, outcome) = render_in_child(&path)?;
        note(t0, &format!("render {}: {outcome}", b.name));
        report.push(Figure::new(
            format!("abuse.{}.render.peak_rss_mb", b.name),
            peak,
            "MiB",
            before,
        ));
    }

    let net = Network::start_with(Options::default()).await;
    note(
        t0,
        &format!("network up (logs in {})", net.dir.path().display()),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_gw = rss_mb(&net.gateway);
    let idle_counter = rss_mb(&net.counter);
    let idle_lab = rss_mb(&net.lab);
    reset_peak(&net.lab)?;
    let user = net
        .home_user("abuse@example.jp", "Abuse Tester", "03-1234-5678")
        .await;
    let staff = net.counter_staff().await;

    for b in &bombs {
        reset_peak(&net.gateway)?;
        let (s, what) = gateway_upload(&user, &b.bytes, b.file).await;
        note(t0, &format!("gateway {}: {s} {what}", b.name));
        report.push(Figure::new(
            format!("abuse.{}.gateway.peak_rss_mb", b.name),
            peak_mb(&net.gateway),
            "MiB",
            idle_gw,
        ));
        reset_peak(&net.counter)?;
        let (s, what) = counter_intake(&staff, &b.bytes, b.file, false).await;
        note(t0, &format!("counter {}: {s} {what}", b.name));
        report.push(Figure::new(
            format!("abuse.{}.counter.peak_rss_mb", b.name),
            peak_mb(&net.counter),
            "MiB",
            idle_counter,
        ));
    }
    reset_peak(&net.counter)?;
    let (s, what) = counter_intake(&staff, &zip, "card.zip", true).await;
    note(t0, &format!("counter zip: {s} {what}"));
    report.push(Figure::new(
        "abuse.zip.counter.peak_rss_mb",
        peak_mb(&net.counter),
        "MiB",
        idle_counter,
    ));
    report.push(Figure::new(
        "abuse.all.lab.peak_rss_mb",
        peak_mb(&net.lab),
        "MiB",
        idle_lab,
    ));

    // Slow clients.
    let alone = timed_uploads(&user, args.uploads, 5000).await?;
    let addr = net
        .gateway
        .base()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut slow = Vec::new();
    for i in 0..args.slow {
        let session = raw_session(
            &net.gateway.base(),
            &format!("slow{i}@example.jp"),
            1_000_000,
        )
        .await?;
        slow.push(tokio::spawn(trickle(
            addr.clone(),
            session,
            1_000_000,
            stop_rx.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    note(t0, &format!("{} slow clients trickling", args.slow));
    let crowded = timed_uploads(&user, args.uploads, 6000).await?;
    let _ = stop_tx.send(true);
    for s in slow {
        let answer = s.await.unwrap_or_default();
        note(t0, &format!("slow client: {answer}"));
    }
    report.push(Figure::new(
        format!("abuse.upload_ms.slow{}", args.slow),
        median(crowded),
        "ms",
        median(alone),
    ));
    Ok(())
}
