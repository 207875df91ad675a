//! Walk-in intake as a shop does it: the customer and the card, "Price it", then a grid of the
//! card's photos (size and prints per photo, prefilled from the card's print order), the
//! counter's and the lab's charges, the total and the ready-by, and "Take in".
//!
//! The card is uploaded once: its checked images stay in the spool, held (`crate::held`: in the
//! store and on the spool's disk, so a restart of the terminal loses nothing) under a
//! token that the form carries, until they are taken in (or an hour passes). A refused form
//! comes back with everything typed and chosen. A damaged file is listed and left out instead
//! of refusing the card; the same set of photos as an intake of the last hour is warned about
//! before it is taken in again.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path as UrlPath, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{Markup, html};
use reprint_domain::{ImageId, PrintSize};

use super::{FluentValue, Viewer, problem_box, render_with, with_status, words};
use crate::AppState;
use crate::auth::PageStaff;
use crate::error::{CounterError, Result};
use crate::intake::{self, Choice, CustomerInput, IntakeRequest, Price};
use crate::medium::{self, Medium, Reading};

pub fn routes(state: &AppState) -> Router<AppState> {
    let upload_limit =
        usize::try_from(state.counter.config.uploads.max_request_bytes).unwrap_or(usize::MAX);
    Router::new()
        .route(
            "/intake",
            get(intake_page)
                .post(intake_submit)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/intake/thumb/{token}/{index}", get(thumbnail))
}

const SIZES: [&str; 9] = [
    "L", "2L", "KG", "DSC", "Hagaki", "Square", "4x6", "5x7", "8x10",
];

/// Below this many dots per inch a print looks soft: the grid warns.
const WARN_DPI: u32 = 200;
/// Longest side of a thumbnail, in pixels.
const THUMB_SIDE: u32 = 160;
/// The window of "the same card twice".
const REPEAT_WINDOW_MINUTES: i64 = 60;

/// Thumbnails are decoded two at a time at most (each held to the decoded-bytes limit).
static THUMB_PERMITS: LazyLock<tokio::sync::Semaphore> =
    LazyLock::new(|| tokio::sync::Semaphore::new(2));

/// What the form carried.
#[derive(Default)]
struct Form {
    request: Option<IntakeRequest>,
    csrf: String,
    step: String,
    token: String,
    /// The grid was on the page (its fields decide, even when nothing is ticked).
    grid: bool,
    picks: BTreeSet<usize>,
    sizes: HashMap<usize, String>,
    quantities: HashMap<usize, String>,
    again: bool,
    /// Staff's answer when the registration number's file has another telephone: `same`
    /// (use the file) or `new` (register the customer anew).
    number_choice: String,
    zip: Option<tempfile::TempPath>,
    files: Vec<(String, tempfile::TempPath)>,
}

fn bad_multipart(e: impl std::fmt::Display) -> CounterError {
    CounterError::Invalid(format!("the upload could not be read: {e}"))
}

/// Writes one file field to the staging directory as it arrives; `None` for an empty input.
async fn field_to_disk(
    mut field: axum::extract::multipart::Field<'_>,
    staging: &Path,
) -> Result<Option<(String, tempfile::TempPath)>> {
    use tokio::io::AsyncWriteExt;
    let file_name = field.file_name().unwrap_or("").to_string();
    let disk = |e: std::io::Error| {
        CounterError::Internal(format!(
            "the counter could not write the upload to disk: {e}"
        ))
    };
    let staged = tempfile::NamedTempFile::new_in(staging).map_err(disk)?;
    let mut file = tokio::fs::File::from_std(staged.reopen().map_err(disk)?);
    let mut written: u64 = 0;
    while let Some(chunk) = field.chunk().await.map_err(bad_multipart)? {
        written += chunk.len() as u64;
        file.write_all(&chunk).await.map_err(disk)?;
    }
    file.flush().await.map_err(disk)?;
    if written == 0 && file_name.is_empty() {
        return Ok(None);
    }
    Ok(Some((file_name, staged.into_temp_path())))
}

async fn read_form(mut multipart: Multipart, staging: &Path, form: &mut Form) -> Result<()> {
    let mut request = IntakeRequest {
        customer: CustomerInput::default(),
        lab: String::new(),
        size: "L".into(),
        quantity: 1,
        pickup_at: None,
        copy_on: None,
    };
    while let Some(field) = multipart.next_field().await.map_err(bad_multipart)? {
        let name = field.name().unwrap_or("").to_string();
        if name == "medium" || name == "images" {
            let Some((file_name, staged)) = field_to_disk(field, staging).await? else {
                continue;
            };
            if name == "medium" {
                if form.zip.is_some() {
                    return Err(CounterError::Invalid("hand in one ZIP per order".into()));
                }
                form.zip = Some(staged);
            } else {
                let n = form.files.len() + 1;
                form.files.push((
                    if file_name.is_empty() {
                        format!("image-{n}")
                    } else {
                        file_name
                    },
                    staged,
                ));
            }
            continue;
        }
        let text = field.text().await.map_err(bad_multipart)?;
        let value = text.trim().to_string();
        let opt = || Some(value.clone()).filter(|s| !s.is_empty());
        let index = |prefix: &str| {
            name.strip_prefix(prefix)
                .and_then(|i| i.parse::<usize>().ok())
        };
        match name.as_str() {
            "registration_number" => request.customer.registration_number = opt(),
            "name" => request.customer.name = value,
            "telephone" => request.customer.telephone = value,
            "lab" => request.lab = value,
            "pickup_at" => request.pickup_at = opt(),
            "copy_on" => {
                request.copy_on = match opt().as_deref() {
                    None | Some("none") => None,
                    Some(code) => Some(reprint_domain::digital_media::DigitalMedium::parse(code)?),
                }
            }
            "size" => request.size = value,
            "quantity" => {
                if let Some(q) = opt() {
                    request.quantity = q.parse().map_err(|_| {
                        CounterError::Invalid(format!("quantity {q:?} is not a number"))
                    })?;
                }
            }
            "csrf" => form.csrf = text,
            "step" => form.step = value,
            "token" => form.token = value,
            "grid" => form.grid = true,
            "again" => form.again = true,
            "number_choice" => form.number_choice = value,
            _ => {
                if let Some(i) = index("pick-") {
                    form.picks.insert(i);
                } else if let Some(i) = index("size-") {
                    form.sizes.insert(i, value);
                } else if let Some(i) = index("qty-") {
                    form.quantities.insert(i, value);
                }
            }
        }
    }
    form.request = Some(request);
    Ok(())
}

/// One row of the grid as shown: ticked, size code, prints.
#[derive(Clone)]
struct Row {
    picked: bool,
    size: String,
    quantity: String,
}

/// The grid's rows: as the form sent them, else the card's print order (DPOF), else every
/// photo at the size and prints staff chose.
fn rows(form: &Form, req: &IntakeRequest, medium: &Medium) -> Vec<Row> {
    let n = medium.images.len();
    let from_form = |i: usize| Row {
        picked: form.picks.contains(&i),
        size: form
            .sizes
            .get(&i)
            .cloned()
            .unwrap_or_else(|| req.size.clone()),
        quantity: form
            .quantities
            .get(&i)
            .cloned()
            .unwrap_or_else(|| req.quantity.to_string()),
    };
    let mut rows: Vec<Row> = if form.grid {
        (0..n).map(from_form).collect()
    } else {
        let chosen = medium.chosen(req.quantity);
        (0..n)
            .map(|i| {
                let c = chosen.iter().find(|c| c.image == i);
                Row {
                    picked: c.is_some(),
                    size: req.size.clone(),
                    quantity: c.map_or(req.quantity, |c| c.quantity).to_string(),
                }
            })
            .collect()
    };
    match form.step.as_str() {
        "all" => rows.iter_mut().for_each(|r| r.picked = true),
        "none" => rows.iter_mut().for_each(|r| r.picked = false),
        _ => {}
    }
    rows
}

/// The ticked rows as the order's choices; a wrong size or number is refused in words.
fn choices(rows: &[Row]) -> Result<Vec<Choice>> {
    let mut out = Vec::new();
    for (image, row) in rows.iter().enumerate().filter(|(_, r)| r.picked) {
        let size = PrintSize::parse(&row.size)?;
        let quantity: u32 = row.quantity.parse().map_err(|_| {
            CounterError::Invalid(format!(
                "prints of photo {} ({:?}) is not a number",
                image + 1,
                row.quantity
            ))
        })?;
        out.push(Choice {
            image,
            size,
            quantity,
        });
    }
    Ok(out)
}

/// What the page shows besides the form.
#[derive(Default)]
struct Shown<'a> {
    error: Option<&'a CounterError>,
    token: Option<&'a str>,
    medium: Option<&'a Medium>,
    rows: Vec<Row>,
    price: Option<&'a Price>,
    /// The reception the same card was taken in as within the hour.
    repeat: Option<String>,
}

fn intake_form(
    state: &AppState,
    viewer: &Viewer,
    staff: &PageStaff,
    typed: Option<&IntakeRequest>,
    refusal: Option<&CounterError>,
    shown: Shown<'_>,
) -> Response {
    let error = refusal.or(shown.error);
    let title = viewer.t("counter-intake-title");
    let c = &typed.map(|r| r.customer.clone()).unwrap_or_default();
    let lab = typed.map(|r| r.lab.as_str()).unwrap_or("");
    let pickup_at = typed.and_then(|r| r.pickup_at.as_deref()).unwrap_or("");
    let copy_on = typed.and_then(|r| r.copy_on);
    // The media the counter's writer burns, at their prices (none without a writer).
    let media = &state.counter.rules().prices.media;
    let places = state.counter.places.list();
    let size = typed.map(|r| r.size.as_str()).unwrap_or("L");
    let quantity = typed.map_or(1, |r| r.quantity);
    let head = html! { style { (maud::PreEscaped(STYLE)) } };
    render_with(
        state,
        viewer,
        Some(staff),
        &title,
        Some(head),
        html! {
            h1.sr-only { (title) }
            @if let Some(e) = error { (problem_box(viewer, e)) }
            @if let Some(number) = &shown.repeat {
                div.problem #repeat role="alert" {
                    strong { (viewer.t("intake-repeat-title")) }
                    br;
                    (viewer.tw("intake-repeat-detail", &[("reception", FluentValue::from(number.clone()))]))
                }
            }
            form #intake method="post" action="/intake" enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(staff.csrf(state));
                @if let Some(token) = shown.token { input type="hidden" name="token" value=(token); }
                div.intake {
                    div.left {
                        fieldset.card.who {
                            legend { (viewer.t("counter-intake-customer")) }
                            div.row3 {
                                div {
                                    label for="registration_number" { (viewer.t("intake-registration-short")) }
                                    input #registration_number type="text" name="registration_number" autocomplete="off" value=[c.registration_number.as_deref()];
                                }
                                div {
                                    label for="telephone" { (viewer.t("counter-intake-telephone")) }
                                    input #telephone type="tel" name="telephone" required autocomplete="off" value=(c.telephone);
                                }
                                div {
                                    label for="name" { (viewer.t("counter-intake-name")) }
                                    input #name type="text" name="name" required autocomplete="off" value=(c.name);
                                }
                            }
                        }
                        @if let Some(medium) = shown.medium {
                            (grid(viewer, shown.token.unwrap_or(""), medium, &shown.rows))
                        } @else {
                            fieldset.card {
                                legend { (viewer.t("counter-intake-medium")) }
                                label for="medium" { (viewer.t("counter-intake-zip")) }
                                input #medium type="file" name="medium" accept=".zip,application/zip";
                                label for="images" { (viewer.t("counter-intake-files")) }
                                input #images type="file" name="images" multiple accept="image/*";
                                p #dpof-hint .muted { (viewer.t("counter-intake-dpof")) }
                                @if state.counter.config.medium_dir.is_some() {
                                    button.quiet #read-card type="submit" name="step" value="card" formnovalidate { (viewer.t("intake-read-card")) }
                                }
                            }
                        }
                    }
                    div.right {
                        @if let Some(price) = shown.price {
                            (price_box(viewer, price))
                            @if shown.repeat.is_some() {
                                label.check for="again" {
                                    input #again type="checkbox" name="again" value="1";
                                    " " (viewer.t("intake-repeat-confirm"))
                                }
                            }
                            button.go #take-in type="submit" name="step" value="take" { (viewer.t("counter-intake-submit")) }
                        }
                        fieldset.card {
                            legend { (viewer.t("intake-options")) }
                            label for="lab" { (viewer.t("counter-intake-lab")) }
                            select #lab name="lab" {
                                @for l in &state.counter.config.labs {
                                    option value=(l.id.as_str()) selected[l.id.as_str() == lab] { (l.name) }
                                }
                            }
                            // Pickup at another counter of the network (seed 004, item (6)).
                            label for="pickup_at" { (viewer.t("intake-pickup-at")) }
                            select #pickup_at name="pickup_at" {
                                option value="" selected[pickup_at.is_empty()] { (viewer.t("intake-pickup-here")) }
                                @for p in &places {
                                    option value=(p.id.as_str()) selected[p.id.as_str() == pickup_at] { (p.name) }
                                }
                            }
                            // The digital copy on a medium (seed 000, claims 2, 18), when the
                            // counter has a writer.
                            @if !media.is_empty() {
                                label for="copy_on" { (viewer.t("intake-copy-on")) }
                                select #copy_on name="copy_on" {
                                    option value="" selected[copy_on.is_none()] { (viewer.t("intake-copy-none")) }
                                    @for (m, price) in media {
                                        option value=(m.code()) selected[copy_on == Some(*m)] {
                                            (viewer.tw("intake-copy-medium", &[("medium", FluentValue::from(viewer.t(&format!("counter-medium-{}", m.code())))), ("price", FluentValue::from(viewer.money(*price)))]))
                                        }
                                    }
                                }
                            }
                            @if shown.medium.is_none() {
                                div.row2 {
                                    div {
                                        label for="size" { (viewer.t("counter-intake-size")) }
                                        select #size name="size" {
                                            @for s in SIZES {
                                                option value=(s) selected[s == size] { (short_size(viewer, s)) }
                                            }
                                        }
                                    }
                                    div {
                                        label for="quantity" { (viewer.t("counter-intake-quantity")) }
                                        input #quantity type="number" name="quantity" min="1" max="999" value=(quantity);
                                    }
                                }
                            } @else {
                                input type="hidden" name="size" value=(size);
                                input type="hidden" name="quantity" value=(quantity);
                            }
                        }
                        @if shown.price.is_none() {
                            button.go #price-it type="submit" name="step" value="price" { (viewer.t("intake-price-it")) }
                        } @else {
                            button.quiet #price-again type="submit" name="step" value="price" { (viewer.t("intake-price-again")) }
                        }
                    }
                }
            }
        },
    )
}

fn grid(viewer: &Viewer, token: &str, medium: &Medium, rows: &[Row]) -> Markup {
    html! {
        fieldset.card.photos {
            legend {
                (viewer.tw("intake-photos", &[("count", FluentValue::from(medium.images.len()))]))
                @if medium.dpof.is_some() { " · " (viewer.t("intake-from-dpof")) }
            }
            input type="hidden" name="grid" value="1";
            div.pickers {
                button.quiet #select-all type="submit" name="step" value="all" { (viewer.t("intake-select-all")) }
                button.quiet #select-none type="submit" name="step" value="none" { (viewer.t("intake-select-none")) }
            }
            @if !medium.skipped.is_empty() {
                div.skipped #skipped role="status" {
                    strong { (viewer.t("intake-skipped")) }
                    ul {
                        @for s in &medium.skipped {
                            li { (s.path) ": " (viewer.t("intake-skipped-reason")) }
                        }
                    }
                }
            }
            ul.grid {
                @for (i, (img, row)) in medium.images.iter().zip(rows).enumerate() {
                    @let size = PrintSize::parse(&row.size).ok();
                    @let low = size.is_some_and(|s| !s.has_enough_pixels(img.info.width, img.info.height, WARN_DPI));
                    li.tile.picked[row.picked] {
                        label.pick for={ "pick-" (i) } {
                            span.thumb {
                                img src={ "/intake/thumb/" (token) "/" (i) } alt=(img.name) width="96" height="72";
                                @if let Some(size) = size {
                                    span.crop aria-hidden="true" style=(crop_style(img.info.width, img.info.height, img.info.orientation, size)) {}
                                }
                            }
                            span {
                                input id={ "pick-" (i) } type="checkbox" name={ "pick-" (i) } value="1" checked[row.picked];
                                " " (img.name)
                            }
                        }
                        div.row2 {
                            select id={ "size-" (i) } name={ "size-" (i) } aria-label=(viewer.tw("intake-size-of", &[("name", FluentValue::from(img.name.clone()))])) {
                                @for s in SIZES {
                                    option value=(s) selected[s == row.size] { (short_size(viewer, s)) }
                                }
                            }
                            input id={ "qty-" (i) } type="number" name={ "qty-" (i) } min="1" max="999" value=(row.quantity) aria-label=(viewer.tw("intake-prints-of", &[("name", FluentValue::from(img.name.clone()))]));
                        }
                        @if low {
                            p.low { (viewer.tw("intake-low-resolution", &[("width", FluentValue::from(img.info.width)), ("height", FluentValue::from(img.info.height))])) }
                        }
                    }
                }
            }
        }
    }
}

/// Where the print of `size` crops the photo (centred, as the lab fills the paper), drawn over
/// its 96 x 72 thumbnail: CSS left/top/width/height in pixels.
fn crop_style(width: u32, height: u32, orientation: u8, size: PrintSize) -> String {
    let (box_w, box_h) = (96.0_f64, 72.0_f64);
    // As shown: EXIF orientations 5-8 turn the picture a quarter.
    let (w, h) = if (5..=8).contains(&orientation) {
        (f64::from(height), f64::from(width))
    } else {
        (f64::from(width), f64::from(height))
    };
    if w <= 0.0 || h <= 0.0 {
        return String::new();
    }
    let scale = (box_w / w).min(box_h / h);
    let (dw, dh) = (w * scale, h * scale);
    let (short, long) = size.pixels_at(300);
    let (short, long) = (f64::from(short.max(1)), f64::from(long.max(1)));
    // The paper turned to the photo's orientation.
    let paper = if w >= h { long / short } else { short / long };
    let (cw, ch) = if dw / dh > paper {
        (dh * paper, dh)
    } else {
        (dw, dw / paper)
    };
    format!(
        "left:{:.1}px;top:{:.1}px;width:{:.1}px;height:{:.1}px",
        (box_w - cw) / 2.0,
        (box_h - ch) / 2.0,
        cw,
        ch
    )
}

/// A size's name without its millimetres, for the narrow select of a grid tile.
fn short_size(viewer: &Viewer, code: &str) -> String {
    let long = words::size(viewer, code);
    let cut = [long.find('（'), long.find(" (")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(long.len());
    long[..cut].trim().to_string()
}

fn price_box(viewer: &Viewer, price: &Price) -> Markup {
    html! {
        section.card.price #price aria-labelledby="price-title" {
            h2 #price-title { (viewer.t("intake-price-title")) }
            table {
                (words::charge_rows(viewer, &viewer.t("intake-counter-charge"), &price.counter))
                @if let Some((place, quote)) = &price.pickup_at {
                    @match quote {
                        Ok(q) => {
                            (words::charge_rows(viewer, &viewer.tw("intake-pickup-charge", &[("counter", FluentValue::from(place.name.clone()))]), &q.charge))
                        }
                        Err(_) => {
                            tr { td colspan="2" .muted #pickup-unpriced { (viewer.tw("intake-pickup-unpriced", &[("counter", FluentValue::from(place.name.clone()))])) } }
                        }
                    }
                }
                @match &price.lab {
                    Ok(q) => { (words::charge_rows(viewer, &viewer.t("intake-lab-charge"), &q.charge)) }
                    Err(_) => {
                        tr { td colspan="2" .muted #lab-unpriced { (viewer.t("intake-lab-unpriced")) } }
                    }
                }
                @if let Some(total) = price.total {
                    tr.total #total {
                        th scope="row" { (viewer.t("intake-total")) }
                        td.num { (viewer.money(total)) }
                    }
                }
                @if let Some(at) = price.ready_by {
                    tr #ready-by {
                        th scope="row" { (viewer.t("intake-ready-by")) }
                        td { (viewer.time(at)) }
                    }
                }
            }
        }
    }
}

/// The empty form, or with the customer picked on the customers page (`?registration_number=`).
async fn intake_page(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let picked = query
        .get("registration_number")
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .map(|n| IntakeRequest {
            customer: CustomerInput {
                registration_number: Some(n),
                ..CustomerInput::default()
            },
            lab: String::new(),
            size: "L".into(),
            quantity: 1,
            pickup_at: None,
            copy_on: None,
        });
    intake_form(
        &state,
        &viewer,
        &staff,
        picked.as_ref(),
        None,
        Shown::default(),
    )
}

/// Reads the card just handed in, leaving out bad files, and makes its thumbnails.
async fn read_medium(state: &AppState, form: &mut Form) -> Result<Option<(String, Arc<Medium>)>> {
    let zip = form.zip.take();
    let files = std::mem::take(&mut form.files);
    // "Read the card": the reader's mount point, read now (a card inserted since is seen).
    let card_dir = match (form.step.as_str(), &state.counter.config.medium_dir) {
        ("card", Some(dir)) => Some(dir.clone()),
        ("card", None) => {
            return Err(CounterError::Invalid(
                "this terminal has no card reader configured (medium_dir)".into(),
            ));
        }
        _ => None,
    };
    if card_dir.is_some() {
        form.step = "price".into();
    }
    if zip.is_none() && files.is_empty() && card_dir.is_none() {
        return Ok(None);
    }
    let limits = state.counter.config.uploads.clone();
    let staging = state.counter.spool.staging();
    let permit = THUMB_PERMITS
        .acquire()
        .await
        .map_err(|e| CounterError::Internal(format!("thumbnails: {e}")))?;
    let (medium, thumbs) = tokio::task::spawn_blocking(move || {
        let medium = match (zip, files.is_empty()) {
            _ if card_dir.is_some() => {
                let dir = card_dir.unwrap_or_default();
                if !dir.is_dir() {
                    return Err(CounterError::Invalid(
                        "there is no card in the reader: insert it and read it again".into(),
                    ));
                }
                medium::read_dir_as(&dir, &limits, &staging, Reading::SkipBad)?
            }
            (Some(_), false) => {
                return Err(CounterError::Invalid(
                    "hand in a ZIP or image files, not both".into(),
                ));
            }
            (Some(zip), true) => {
                let file = std::fs::File::open(&zip).map_err(|e| {
                    CounterError::Internal(format!("the upload written to disk is gone: {e}"))
                })?;
                medium::read_zip_as(
                    std::io::BufReader::new(file),
                    &limits,
                    &staging,
                    Reading::SkipBad,
                )?
            }
            (None, _) => {
                let paths = files
                    .iter()
                    .map(|(name, path)| (name.clone(), path.to_path_buf()))
                    .collect();
                medium::read_files_as(paths, &limits, &staging, Reading::SkipBad)?
            }
        };
        let media_limits = reprint_media::validate::Limits {
            max_bytes: limits.max_image_bytes,
            max_decoded_bytes: limits.max_decoded_bytes,
            ..reprint_media::validate::Limits::default()
        };
        let thumbs = medium
            .images
            .iter()
            .map(|img| {
                let bytes = std::fs::read(&img.staged).ok()?;
                reprint_media::thumbnail::thumbnail_jpeg(&bytes, THUMB_SIDE, 75, &media_limits).ok()
            })
            .collect::<Vec<_>>();
        Ok((medium, thumbs))
    })
    .await
    .map_err(|e| CounterError::Internal(format!("medium reader: {e}")))??;
    drop(permit);
    let token = crate::held::hold(&state.counter, medium, thumbs).await?;
    let (medium, _) = crate::held::get(&state.counter, &token)
        .await?
        .ok_or_else(|| CounterError::Internal("the card just read is not held".into()))?;
    Ok(Some((token, medium)))
}

async fn intake_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    staff: PageStaff,
    multipart: Multipart,
) -> Response {
    let mut form = Form::default();
    let read = read_form(multipart, &state.counter.spool.staging(), &mut form).await;
    let typed = form.request.clone();
    let refuse = |e: &CounterError, shown: Shown<'_>| {
        with_status(
            e.problem().status_code(),
            intake_form(&state, &viewer, &staff, typed.as_ref(), Some(e), shown),
        )
    };
    if let Err(e) = read {
        return refuse(&e, Shown::default());
    }
    if let Err(e) = staff.check_csrf(&state, &form.csrf) {
        return refuse(&e, Shown::default());
    }
    let Some(req) = typed.clone() else {
        return refuse(
            &CounterError::Invalid("the form is empty".into()),
            Shown::default(),
        );
    };
    // The card: just handed in (read now, held), else the one held from before.
    let (token, medium) = match read_medium(&state, &mut form).await {
        Ok(Some(read)) => {
            if !form.token.is_empty() {
                crate::held::forget(&state.counter, &form.token).await;
            }
            // A new card: its grid comes from its own print order.
            form.grid = false;
            read
        }
        Ok(None) => match crate::held::get(&state.counter, &form.token).await {
            Err(e) => return refuse(&e, Shown::default()),
            Ok(Some((medium, _))) => (form.token.clone(), medium),
            Ok(None) => {
                let e = CounterError::Invalid(if form.token.is_empty() {
                    "no medium: attach a ZIP of the card or the image files".into()
                } else {
                    "the card read before is no longer held (over an hour): hand it in again".into()
                });
                return refuse(&e, Shown::default());
            }
        },
        Err(e) => return refuse(&e, Shown::default()),
    };
    let rows = rows(&form, &req, &medium);
    let now = state.counter.clock.now();
    let picked: BTreeSet<ImageId> = rows
        .iter()
        .zip(&medium.images)
        .filter(|(r, _)| r.picked)
        .map(|(_, img)| img.id)
        .collect();
    // The same card twice: the store keeps each intake's set of photos (it outlives a restart).
    let repeat = match intake::card_taken_lately(
        &state.counter,
        picked.iter().copied(),
        now - chrono::Duration::minutes(REPEAT_WINDOW_MINUTES),
    )
    .await
    {
        Ok(numbers) => numbers.into_iter().next(),
        Err(e) => return refuse(&e, Shown::default()),
    };
    let shown = |error, price| Shown {
        error,
        token: Some(&token),
        medium: Some(&medium),
        rows: rows.clone(),
        price,
        repeat: repeat.clone(),
    };
    let chosen = match choices(&rows) {
        Ok(c) => c,
        Err(e) => return refuse(&e, shown(None, None)),
    };
    if chosen.is_empty() {
        // Nothing ticked (after "none"): the grid, no price yet.
        let e = CounterError::Invalid("no photo is chosen for printing: tick at least one".into());
        return if form.step == "none" {
            intake_form(&state, &viewer, &staff, Some(&req), None, shown(None, None))
        } else {
            refuse(&e, shown(None, None))
        };
    }
    // A registration number whose file has another telephone: staff are asked (issue 15).
    let mut req = req;
    match intake::check_number(&state.counter, &req).await {
        Ok(reprint_site::NumberCheck::OtherTelephone {
            telephone_on_file, ..
        }) if form.number_choice == "same" => req.customer.telephone = telephone_on_file,
        Ok(reprint_site::NumberCheck::OtherTelephone { .. }) if form.number_choice == "new" => {
            req.customer.registration_number = None
        }
        Ok(check @ reprint_site::NumberCheck::OtherTelephone { .. }) => {
            return super::customers::number_question(
                &state,
                &viewer,
                &staff,
                &check,
                &question_fields(&form, &req, &token),
            );
        }
        Ok(_) => {}
        Err(e) => return refuse(&e, shown(None, None)),
    }
    let price = match intake::price(&state.counter, &req, &medium, Some(&chosen), now).await {
        Ok(p) => p,
        Err(e) => return refuse(&e, shown(None, None)),
    };
    if form.step != "take" || (repeat.is_some() && !form.again) {
        let status = if form.step == "take" {
            StatusCode::CONFLICT
        } else {
            StatusCode::OK
        };
        return with_status(
            status,
            intake_form(
                &state,
                &viewer,
                &staff,
                Some(&req),
                None,
                shown(None, Some(&price)),
            ),
        );
    }
    match intake::take_in_chosen(&state.counter, &req, &medium, Some(&chosen), now).await {
        Ok(taken) => {
            crate::held::forget(&state.counter, &token).await;
            Redirect::to(&format!("/slip/{}", taken.reception_number)).into_response()
        }
        Err(e) => refuse(&e, shown(None, Some(&price))),
    }
}

/// The form's fields, to be sent again with staff's answer to the number question.
fn question_fields(form: &Form, req: &IntakeRequest, token: &str) -> Vec<(String, String)> {
    let c = &req.customer;
    let mut out = vec![
        ("token".to_string(), token.to_string()),
        ("step".into(), form.step.clone()),
        (
            "registration_number".into(),
            c.registration_number.clone().unwrap_or_default(),
        ),
        ("name".into(), c.name.clone()),
        ("telephone".into(), c.telephone.clone()),
        ("lab".into(), req.lab.clone()),
        (
            "pickup_at".into(),
            req.pickup_at.clone().unwrap_or_default(),
        ),
        ("size".into(), req.size.clone()),
        ("quantity".into(), req.quantity.to_string()),
    ];
    if form.again {
        out.push(("again".into(), "1".into()));
    }
    if form.grid {
        out.push(("grid".into(), "1".into()));
        out.extend(form.picks.iter().map(|i| (format!("pick-{i}"), "1".into())));
        out.extend(
            form.sizes
                .iter()
                .map(|(i, v)| (format!("size-{i}"), v.clone())),
        );
        out.extend(
            form.quantities
                .iter()
                .map(|(i, v)| (format!("qty-{i}"), v.clone())),
        );
    }
    out
}

async fn thumbnail(
    State(state): State<AppState>,
    _staff: PageStaff,
    UrlPath((token, index)): UrlPath<(String, usize)>,
) -> Response {
    let held = crate::held::get(&state.counter, &token)
        .await
        .ok()
        .flatten();
    match held.and_then(|(_, thumbs)| thumbs.get(index).cloned().flatten()) {
        Some(jpeg) => (
            [
                (header::CONTENT_TYPE, "image/jpeg"),
                (header::CACHE_CONTROL, "private, max-age=3600"),
            ],
            jpeg,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The intake's own layout: the grid scrolls in its box so that the price and "Take in" stay
/// on the first screen of a 1024 x 768 terminal.
const STYLE: &str = r#"
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.intake{display:grid;grid-template-columns:minmax(0,2fr) minmax(0,1fr);gap:10px;align-items:start}
.intake fieldset{margin:0 0 8px}
.intake label{margin-top:4px}
.row3{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:8px}
.row2{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:6px}
.photos .pickers{display:flex;gap:8px;margin-bottom:6px}
.photos ul.grid{list-style:none;margin:0;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px;max-height:calc(100vh - 360px);min-height:180px;overflow:auto}
.tile{border:2px solid #c8ccd2;border-radius:8px;padding:6px}
.tile.picked{border-color:#143d59}
.tile .pick{display:block;min-height:44px;cursor:pointer}
.tile .thumb{position:relative;display:block;width:96px;height:72px;margin:0 auto 4px}
.tile img{display:block;width:96px;height:72px;object-fit:contain;background:#eee}
.tile .crop{position:absolute;box-sizing:border-box;border:2px dashed #fff;outline:1px solid rgba(0,0,0,.6);pointer-events:none}
.tile .pick span{display:flex;align-items:center;gap:6px;overflow:hidden;white-space:nowrap;font-size:.85em}
.tile .pick input{width:44px;height:44px;min-height:44px;margin:0;flex:none}
.tile .low{color:#8a3b00;margin:4px 0 0;font-size:.85em}
.skipped{background:#fff4e5;border-radius:6px;padding:4px 8px;margin-bottom:6px}
.skipped ul{margin:2px 0;padding-left:18px}
.price h2{font-size:1.05em;margin:0 0 4px}
.price table{width:100%;border-collapse:collapse;font-size:.92em}
.price tr.total th,.price tr.total td{font-size:1.15em;border-top:2px solid #143d59}
.right button{width:100%;margin-bottom:8px}
.check{display:flex;align-items:center;gap:8px;min-height:44px}
.check input{width:44px;height:44px;margin:0;flex:none}
@media (max-width:700px){.intake,.row3{grid-template-columns:minmax(0,1fr)}}
"#;
