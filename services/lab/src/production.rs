//! Production (docs/flows.md, Fig. 1 step 3): received -> printing -> printed -> dispatched.
//!
//! - **Start printing** moves the reception to `printing` and, in the same transaction, puts
//!   one print job per size on its printer's work queue (the outbox publishes them after
//!   commit; [`crate::printing`]); it returns at once. A print worker (in this process, or a
//!   `reprint-lab print-worker` elsewhere) writes each job into the printer's hot folder with
//!   `reprint_print`: one folder per reception and size (`<hot_folder>/<reception>-<size>/`),
//!   holding the rendered JPEGs (`<reception>-<nn>.JPG`, the order's edits applied, converted
//!   to the printer's ICC profile, this lab's print history embedded as XMP),
//!   `MISC/AUTPRINT.MRK` (DPOF, the station's job ticket) and `ticket.json`, written under a
//!   temporary name (`.tmp-...`) and renamed when complete, so a print station never sees half
//!   a job (the minilab convention); the worker reports the job written, or failed with the
//!   reason for the operator. A digital copy (each image with its print history in a ZIP) is
//!   written to `<data_dir>/digital/<reception>/` when the order asked for it.
//! - **Finished**: the operator says so, or the print station drops a `DONE` file into every
//!   folder of the reception (polled).
//! - **Dispatch** sends `DeliveryDispatched` with the lab's file extract to the delivery counter:
//!   the reception only, or the whole file for a counter with a data-sharing agreement.
//! - **Reject** (by the operator, before dispatch) cancels the reception in the file and tells
//!   the sender; jobs already in the hot folders are withdrawn after commit: removed while the
//!   station has not taken them (no `TAKEN` or `DONE` marker), else marked `VOID` and the
//!   operator told in the production log; a job still queued is skipped by its worker (the
//!   withdrawal leaves a mark in the hot folder).
//!
//! Every move is decided by `reprint_domain::production` through [`crate::reception`].

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use reprint_bus::subjects;
use reprint_bus::trace::TraceContext;
use reprint_domain::charge::local_date;
use reprint_domain::extract::{Sharing, extract};
use reprint_domain::file::{Command, Reception};
use reprint_domain::production;
use reprint_domain::protocol::{DeliveryDispatched, OrderPlaced, RejectCode, Stage};
use reprint_domain::{OrderId, ReceptionNumber};
use reprint_media::PrintRecord;
use reprint_media::history::container;
use reprint_print::{JobItem, PrintJob, history_for, index_sheet};
use tokio::io::AsyncReadExt;
use tracing::Instrument;

use crate::db::{self, ProductionRow};
use crate::error::{LabError, LabResult};
use crate::messages::{Refusal, enqueue_rejection, enqueue_status};
use crate::reception;
use crate::state::{Lab, Printer};

pub use reprint_print::{
    DONE_MARKER, JobTicket, TAKEN_MARKER, TicketFile, VOID_MARKER, Withdrawn, job_folder_name,
};

async fn row_by_reception(lab: &Lab, number: &str) -> LabResult<ProductionRow> {
    let mut tx = lab.store.begin().await?;
    let row = db::production_by_reception(&mut tx, number).await?;
    tx.commit().await?;
    row.ok_or_else(|| LabError::NotFound(format!("no reception {number} at this lab")))
}

fn order_of(row: &ProductionRow) -> LabResult<OrderPlaced> {
    serde_json::from_str(&row.order_json)
        .map_err(|e| LabError::Internal(format!("stored order of {}: {e}", row.reception_number)))
}

fn order_id(row: &ProductionRow) -> LabResult<OrderId> {
    OrderId::parse(&row.order_id).map_err(LabError::Domain)
}

/// Runs `work` on reception `number` in a span `operation` that continues the trace its order
/// arrived in (`lab_traces`), so that what it sends (statuses, the delivery to the counter)
/// joins the order's trace; a new trace when none was kept.
async fn in_order_trace<T>(
    lab: &Lab,
    number: &str,
    operation: &str,
    work: impl std::future::Future<Output = LabResult<T>>,
) -> LabResult<T> {
    let mut tx = lab.store.begin().await?;
    let trace = db::reception_trace(&mut tx, number).await?;
    tx.rollback().await?;
    match trace {
        Some((order, ctx)) => {
            let span = ctx.span(operation);
            span.record("order", order.as_str());
            ctx.run(span, work).await
        }
        None => work.instrument(TraceContext::root_span(operation)).await,
    }
}

/// Renders a reception into its printers' hot folders and moves it to `printing`.
pub async fn start_printing(lab: &Lab, number: &str, actor: &str) -> LabResult<ProductionRow> {
    in_order_trace(
        lab,
        number,
        "lab start printing",
        start_printing_in(lab, number, actor),
    )
    .await
}

async fn start_printing_in(lab: &Lab, number: &str, actor: &str) -> LabResult<ProductionRow> {
    let row = row_by_reception(lab, number).await?;
    let now = lab.clock.now();
    let start = || production::Command::StartPrinting {
        actor: actor.to_string(),
        at: now,
    };
    // Decided before anything is written (a reception that cannot start gets no digital copy),
    // and again in the transaction that records it (a cancellation may win the race).
    let mut tx = lab.store.begin().await?;
    let loaded = reception::load(&mut tx, &row.order_id).await?;
    tx.rollback().await?;
    production::decide(&loaded.state, start())?;
    let order = without_rejected(&order_of(&row)?, &loaded.state.rejected_images);
    let registration = row.registration_number.clone();
    let jobs = print_jobs(lab, &row, &order, &registration, now)?;
    if row.digital_copy != 0 {
        write_digital_copy(lab, &row, &order, &registration, now).await?;
    }
    let mut attempts = 0;
    loop {
        attempts += 1;
        let mut tx = lab.store.begin().await?;
        match reception::execute(&mut tx, &row.order_id, start(), "print jobs queued").await {
            Ok(_) => {}
            // Something else moved the reception meanwhile: decide again, once.
            Err(LabError::Store(e)) if e.is_conflict() && attempts < 2 => continue,
            Err(e) => return Err(e),
        }
        // The jobs go to the printers' work queues after commit (the outbox): the print
        // workers render them; nothing here waits for a render.
        let traceparent = TraceContext::outgoing(None).traceparent();
        crate::printing::enqueue_jobs(&mut tx, &jobs, Some(&traceparent), now).await?;
        enqueue_status(
            lab,
            &mut tx,
            order.order,
            Stage::Printing,
            format!("reception {number} is printing"),
            None,
            None,
        )
        .await?;
        tx.commit().await?;
        break;
    }
    lab.waker.wake();
    row_by_reception(lab, number).await
}

/// How long reading an image may keep failing for a passing reason before the start of
/// printing gives up (with 503). Images are read by direct gets that any replica answers, so a
/// NATS node lost on a cluster costs only the client's reconnection to another node (a second
/// or two); a request sent to the lost node waits out its whole time-out. Well under a client's
/// usual 30 s request time-out.
const IMAGE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(20);

/// How long one attempt may take to get its first bytes (the metadata look-up and the first
/// chunk): much shorter than async-nats' own request time-out, so that an attempt stuck on a
/// lost node is abandoned and the next one reaches a live one.
const IMAGE_FIRST_BYTES: std::time::Duration = std::time::Duration::from_secs(3);

/// The bytes of a stored image, retried while the failure is a passing one (see
/// [`IMAGE_PATIENCE`]); an image missing or whose bytes do not match its digest is not retried.
pub(crate) async fn fetch_image(lab: &Lab, hash: &str) -> LabResult<Vec<u8>> {
    fetch_image_from(&lab.images, hash).await
}

/// As [`fetch_image`], from an image bucket (what a print worker has).
pub async fn fetch_image_from(
    images: &reprint_bus::objects::Images,
    hash: &str,
) -> LabResult<Vec<u8>> {
    let deadline = tokio::time::Instant::now() + IMAGE_PATIENCE;
    let mut failures = 0usize;
    loop {
        match fetch_image_once(images, hash).await {
            Ok(bytes) => return Ok(bytes),
            Err(LabError::Bus(e)) if e.is_transient() && tokio::time::Instant::now() < deadline => {
                failures += 1;
                let delay = reprint_bus::connect::backoff_delay(
                    failures,
                    std::time::Duration::from_millis(250),
                    std::time::Duration::from_secs(2),
                );
                tracing::warn!(image = %hash, error = %e, failures, delay_ms = delay.as_millis() as u64,
                    "cannot read the image yet; retrying");
                tokio::time::sleep(delay).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A read error: the bytes not matching the stored digest will not get better; time-outs and
/// a lost subscription are NATS trouble, worth another attempt (503 at last).
fn read_error(hash: &str, e: std::io::Error) -> LabError {
    if e.kind() == std::io::ErrorKind::InvalidData {
        LabError::Production(format!("image {hash}: {e}"))
    } else {
        LabError::Bus(reprint_bus::BusError::Io(e))
    }
}

async fn fetch_image_once(images: &reprint_bus::objects::Images, hash: &str) -> LabResult<Vec<u8>> {
    let mut bytes = Vec::new();
    let first = tokio::time::timeout(IMAGE_FIRST_BYTES, async {
        let mut object = images.get(hash).await?;
        let mut chunk = vec![0u8; 64 * 1024];
        let n = object
            .read(&mut chunk)
            .await
            .map_err(|e| read_error(hash, e))?;
        Ok::<_, LabError>((object, chunk, n))
    })
    .await;
    let (mut object, chunk, n) = match first {
        Ok(started) => started?,
        Err(_) => {
            return Err(LabError::Bus(reprint_bus::BusError::Io(
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no bytes of image {hash} within {IMAGE_FIRST_BYTES:?}"),
                ),
            )));
        }
    };
    bytes.extend_from_slice(&chunk[..n]);
    if n > 0 {
        object
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| read_error(hash, e))?;
    }
    Ok(bytes)
}

fn this_lab_record(
    lab: &Lab,
    registration: &str,
    reception: &str,
    now: DateTime<Utc>,
) -> PrintRecord {
    PrintRecord {
        site: lab.site().as_str().to_string(),
        registration_number: registration.to_string(),
        reception_number: reception.to_string(),
        date: local_date(lab.rules(), now),
    }
}

/// The print jobs of a reception: one per size, on the first printer that prints it.
pub fn print_jobs(
    lab: &Lab,
    row: &ProductionRow,
    order: &OrderPlaced,
    registration: &str,
    now: DateTime<Utc>,
) -> LabResult<Vec<(Printer, PrintJob)>> {
    let record = this_lab_record(lab, registration, &row.reception_number, now);
    let created_local = now.with_timezone(&lab.rules().time_zone).naive_local();
    let mut sizes: Vec<reprint_domain::PrintSize> = order.items.iter().map(|i| i.size).collect();
    sizes.sort();
    sizes.dedup();
    let mut jobs = Vec::with_capacity(sizes.len());
    for size in sizes {
        let printer = lab
            .printer_for(size)
            .ok_or_else(|| LabError::Conflict(format!("no printer prints {size} any more")))?
            .clone();
        if size == reprint_domain::PrintSize::Index {
            let job = index_job(lab, row, order, &printer, &record, now);
            jobs.push((printer, job));
            continue;
        }
        let items = order
            .items
            .iter()
            .enumerate()
            .filter(|(_, i)| i.size == size)
            .map(|(index, item)| JobItem {
                file: format!("{}-{:02}.JPG", row.reception_number, index + 1),
                image: item.image.to_hex(),
                name: item.name.clone(),
                quantity: item.quantity,
                edits: item.edits.clone(),
                source_profile: order.source_profile(&item.image).cloned(),
            })
            .collect();
        let job = PrintJob {
            site: lab.site().to_string(),
            reception: row.reception_number.clone(),
            order: row.order_id.clone(),
            delivery_counter: row.counter.clone(),
            printer: printer.config.name.clone(),
            size,
            dpi: printer.config.dpi,
            icc_profile: printer.icc_name.clone(),
            created: now,
            created_local,
            record: record.clone(),
            items,
            index: None,
        };
        jobs.push((printer, job));
    }
    Ok(jobs)
}

/// The index print's job (`reprint_domain::product`): one sheet showing every image of the
/// order numbered as in its item list, as many times as the index lines ask, on the printer
/// that prints the size `Index`; the file is named by the first index line's place.
fn index_job(
    lab: &Lab,
    row: &ProductionRow,
    order: &OrderPlaced,
    printer: &Printer,
    record: &PrintRecord,
    now: DateTime<Utc>,
) -> PrintJob {
    use reprint_domain::PrintSize;
    PrintJob {
        site: lab.site().to_string(),
        reception: row.reception_number.clone(),
        order: row.order_id.clone(),
        delivery_counter: row.counter.clone(),
        printer: printer.config.name.clone(),
        size: PrintSize::Index,
        dpi: printer.config.dpi,
        icc_profile: printer.icc_name.clone(),
        created: now,
        created_local: now.with_timezone(&lab.rules().time_zone).naive_local(),
        record: record.clone(),
        items: Vec::new(),
        index: index_sheet(&row.reception_number, &order.items),
    }
}

/// Where the digital copy of a reception goes.
pub fn digital_copy_dir(lab: &Lab, reception: &str) -> PathBuf {
    lab.config.data_dir.join("digital").join(reception)
}

/// The digital copy: each original with its print history (this lab's entry added) in a ZIP
/// container (seed 004: "converts this individual user file and graphics data into ... ZIP").
async fn write_digital_copy(
    lab: &Lab,
    row: &ProductionRow,
    order: &OrderPlaced,
    registration: &str,
    now: DateTime<Utc>,
) -> LabResult<()> {
    let final_dir = digital_copy_dir(lab, &row.reception_number);
    if tokio::fs::try_exists(&final_dir).await? {
        return Ok(());
    }
    let parent = lab.config.data_dir.join("digital");
    let tmp = parent.join(format!(".tmp-{}", uuid::Uuid::now_v7().simple()));
    tokio::fs::create_dir_all(&tmp).await?;
    let record = this_lab_record(lab, registration, &row.reception_number, now);
    let mut done = std::collections::HashSet::new();
    for (index, item) in order.items.iter().enumerate() {
        if !done.insert(item.image) {
            continue;
        }
        let original = fetch_image(lab, &item.image.to_hex()).await?;
        let history = history_for(&original, &record);
        let name = safe_name(&item.name, index);
        let zip = container::container_bytes(&name, &original, &history)?;
        tokio::fs::write(tmp.join(format!("{:02}-{name}.zip", index + 1)), zip).await?;
    }
    tokio::fs::rename(&tmp, &final_dir).await?;
    Ok(())
}

fn safe_name(name: &str, index: usize) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.trim_matches('.').is_empty() {
        format!("image-{:02}.jpg", index + 1)
    } else {
        cleaned
    }
}

/// The prints are finished (operator, or the done-markers).
pub async fn finished(lab: &Lab, number: &str, actor: &str) -> LabResult<ProductionRow> {
    in_order_trace(
        lab,
        number,
        "lab prints finished",
        finished_in(lab, number, actor),
    )
    .await
}

async fn finished_in(lab: &Lab, number: &str, actor: &str) -> LabResult<ProductionRow> {
    let row = row_by_reception(lab, number).await?;
    let order = order_id(&row)?;
    let now = lab.clock.now();
    let mut tx = lab.store.begin().await?;
    reception::execute(
        &mut tx,
        &row.order_id,
        production::Command::FinishPrints {
            actor: actor.to_string(),
            at: now,
        },
        "prints finished",
    )
    .await?;
    enqueue_status(
        lab,
        &mut tx,
        order,
        Stage::Printed,
        format!("reception {number}: prints finished"),
        None,
        None,
    )
    .await?;
    tx.commit().await?;
    lab.waker.wake();
    row_by_reception(lab, number).await
}

/// How much of the file goes to `counter`.
pub fn sharing_with(lab: &Lab, counter: &str) -> Sharing {
    if lab
        .config
        .counters
        .data_sharing
        .iter()
        .any(|c| c.as_str() == counter)
    {
        Sharing::WholeFile
    } else {
        Sharing::ReceptionOnly
    }
}

/// Ships the prints with the lab's file extract to the delivery counter.
pub async fn dispatch(lab: &Lab, number: &str, actor: &str) -> LabResult<ProductionRow> {
    in_order_trace(lab, number, "lab dispatch", dispatch_in(lab, number, actor)).await
}

async fn dispatch_in(lab: &Lab, number: &str, actor: &str) -> LabResult<ProductionRow> {
    let row = row_by_reception(lab, number).await?;
    let order = order_of(&row)?;
    let now = lab.clock.now();
    let reception_number = ReceptionNumber::parse(&lab.rules().reception_number, number)?;
    let mut tx = lab.store.begin().await?;
    let (loaded, reception) = lab
        .files
        .by_reception(&mut tx, &reception_number)
        .await?
        .ok_or_else(|| LabError::NotFound(format!("no reception {number} in the user files")))?;
    let sharing = sharing_with(lab, &row.counter);
    let file_extract = extract(
        &loaded.file,
        lab.site(),
        reprint_domain::SiteKind::Lab,
        &reception_number,
        sharing,
    )
    .ok_or_else(|| LabError::Internal(format!("no extract of {number}")))?;
    let dispatched = DeliveryDispatched {
        order: order.order,
        lab: lab.site().clone(),
        counter: order.delivery_counter.clone(),
        dispatched_at: now,
        extract: file_extract,
        customer: order.customer.clone(),
        counter_reception: order
            .counter_extract
            .as_ref()
            .map(|e| e.reception.number.as_str().to_string()),
        // The sender's record of the user's number at the counter, passed on unread.
        counter_registration_number: order.counter_registration_number.clone(),
    };
    let counter = subjects::SiteId::parse(order.delivery_counter.as_str())
        .map_err(|e| LabError::BadRequest(e.to_string()))?;
    let message = reprint_bus::message::to_inbox(
        lab.site().as_str(),
        subjects::Address::counter(counter),
        &dispatched,
        None,
        None,
    )?;
    reception::execute(
        &mut tx,
        &row.order_id,
        production::Command::Dispatch {
            actor: actor.to_string(),
            at: now,
        },
        &format!("dispatched to {}", row.counter),
    )
    .await?;
    tx.enqueue(&[message]).await?;
    crate::settlement::record_ledger(
        lab,
        &mut tx,
        &db::LedgerEntry {
            entry_id: format!("{}:charged", row.order_id),
            counter: &row.counter,
            order: &row.order_id,
            kind: "charged",
            amount: reception.charge.total,
            at: now,
        },
    )
    .await?;
    enqueue_status(
        lab,
        &mut tx,
        order.order,
        Stage::Dispatched,
        format!("reception {number} dispatched to {}", row.counter),
        Some(reception.charge.clone()),
        None,
    )
    .await?;
    tx.commit().await?;
    lab.waker.wake();
    row_by_reception(lab, number).await
}

/// The operator will not make the order: the reception is cancelled and the sender told.
pub async fn reject(
    lab: &Lab,
    number: &str,
    reason: &str,
    actor: &str,
) -> LabResult<ProductionRow> {
    in_order_trace(
        lab,
        number,
        "lab reject",
        reject_in(lab, number, reason, actor),
    )
    .await
}

async fn reject_in(lab: &Lab, number: &str, reason: &str, actor: &str) -> LabResult<ProductionRow> {
    let row = row_by_reception(lab, number).await?;
    let order = order_of(&row)?;
    let now = lab.clock.now();
    let reception_number = ReceptionNumber::parse(&lab.rules().reception_number, number)?;
    let mut tx = lab.store.begin().await?;
    let (_, events) = reception::execute(
        &mut tx,
        &row.order_id,
        production::Command::Reject {
            reason: reason.to_string(),
            actor: actor.to_string(),
            at: now,
        },
        reason.trim(),
    )
    .await?;
    if events.is_empty() {
        // Rejected before (a second click): nothing more to say.
        tx.rollback().await?;
        return row_by_reception(lab, number).await;
    }
    let reason = reason.trim();
    if let Some((mut loaded, _)) = lab.files.by_reception(&mut tx, &reception_number).await? {
        lab.files
            .execute(
                &mut tx,
                &mut loaded,
                Command::Cancel {
                    number: reception_number.clone(),
                    reason: reason.to_string(),
                    at: now,
                },
            )
            .await?;
    }
    let refusal = Refusal {
        code: RejectCode::ByOperator,
        reason: format!("reception {number}: {reason}"),
    };
    enqueue_rejection(lab, &mut tx, order.order, &order.sender, &refusal, None).await?;
    tx.commit().await?;
    lab.waker.wake();
    // Effects follow the events: the jobs leave the hot folders now (the production loop
    // retries what fails here).
    if let Err(e) = withdraw_pending(lab).await {
        tracing::warn!(reception = %number, error = %e, "jobs of a rejected reception not withdrawn yet; the production loop will retry");
    }
    row_by_reception(lab, number).await
}

/// The operator will not print one image of the order: the image is left out of the print
/// jobs and the sender told why, in the operator's words. The last image still to print
/// rejects the whole reception (the order is rejected, as [`reject`]).
pub async fn reject_image(
    lab: &Lab,
    number: &str,
    image: &str,
    reason: &str,
    actor: &str,
) -> LabResult<ProductionRow> {
    in_order_trace(
        lab,
        number,
        "lab reject image",
        reject_image_in(lab, number, image, reason, actor),
    )
    .await
}

async fn reject_image_in(
    lab: &Lab,
    number: &str,
    image: &str,
    reason: &str,
    actor: &str,
) -> LabResult<ProductionRow> {
    let image = reprint_domain::ImageId::parse(image)
        .map_err(|_| LabError::BadRequest(format!("no image {image:?} in reception {number}")))?;
    let row = row_by_reception(lab, number).await?;
    let order = order_of(&row)?;
    let now = lab.clock.now();
    let mut tx = lab.store.begin().await?;
    let loaded = reception::load(&mut tx, &row.order_id).await?;
    let last = loaded.state.images.contains(&image)
        && !loaded.state.rejected_images.contains(&image)
        && loaded.state.images_to_print().all(|i| *i == image);
    if last {
        // The last image to print: the order is rejected (its reason names the image).
        tx.rollback().await?;
        let name = order
            .items
            .iter()
            .find(|i| i.image == image)
            .map(|i| i.name.clone())
            .unwrap_or_else(|| image.short());
        return reject_in(lab, number, &format!("{name}: {}", reason.trim()), actor).await;
    }
    let (state, events) = reception::execute(
        &mut tx,
        &row.order_id,
        production::Command::RejectImage {
            image,
            reason: reason.to_string(),
            actor: actor.to_string(),
            at: now,
        },
        &format!("image {}: {}", image.short(), reason.trim()),
    )
    .await?;
    if events.is_empty() {
        // Rejected before (a second click): nothing more to say.
        tx.rollback().await?;
        return row_by_reception(lab, number).await;
    }
    let name = order
        .items
        .iter()
        .find(|i| i.image == image)
        .map(|i| i.name.clone())
        .unwrap_or_else(|| image.short());
    // The reception in the user file: its contents "(7)" and charge without the images left
    // out, decided again by the same rules and evidence (the customer is charged the amended).
    let reception_number = ReceptionNumber::parse(&lab.rules().reception_number, number)?;
    let mut charge = None;
    if let Some((mut loaded, _)) = lab.files.by_reception(&mut tx, &reception_number).await? {
        let evidence: Vec<_> = crate::intake::evidence(
            lab,
            &mut tx,
            Some(row.registration_number.as_str()),
            &order.items,
        )
        .await?
        .into_iter()
        // This reception's own prints are no evidence for it.
        .filter(|e| e.reception.as_deref() != Some(number))
        .collect();
        lab.files
            .execute(
                &mut tx,
                &mut loaded,
                Command::AmendReception(Box::new(reprint_domain::file::AmendReception {
                    number: reception_number.clone(),
                    rejected: state.rejected_images.clone(),
                    rules: lab.rules().clone(),
                    evidence,
                    at: now,
                })),
            )
            .await?;
        charge = loaded
            .file
            .reception(&reception_number)
            .map(|r| r.charge.clone());
    }
    let stage = state.state.map(|s| s.stage()).unwrap_or(Stage::Received);
    let note = format!("image-rejected-{}", image.to_hex());
    crate::messages::enqueue_status_as(
        lab,
        &mut tx,
        Some(&note),
        order.order,
        stage,
        format!(
            "reception {number}: the lab will not print {name}: {}",
            reason.trim()
        ),
        charge,
        None,
    )
    .await?;
    tx.commit().await?;
    lab.waker.wake();
    row_by_reception(lab, number).await
}

/// The order without the images the operator rejected: what is rendered to the hot folders.
fn without_rejected(order: &OrderPlaced, rejected: &[reprint_domain::ImageId]) -> OrderPlaced {
    let mut kept = order.clone();
    kept.items.retain(|i| !rejected.contains(&i.image));
    kept
}

/// Withdraws the jobs of every rejected reception still waiting for it; returns how many
/// receptions were done. Run after a rejection commits and by the production loop.
pub async fn withdraw_pending(lab: &Lab) -> LabResult<usize> {
    let mut tx = lab.store.begin().await?;
    let pending = db::pending_withdrawals(&mut tx, 100).await?;
    let mut work = Vec::with_capacity(pending.len());
    for p in pending {
        let row = db::production_by_order(&mut tx, &p.order_id).await?;
        let queue = db::queue_of(&mut tx, &p.order_id).await?;
        work.push((p, row, queue));
    }
    tx.rollback().await?;
    let mut done = 0;
    for (p, row, queue) in work {
        let Some(row) = row else { continue };
        let mut removed = 0;
        let mut voided = Vec::new();
        for q in &queue {
            let Some(printer) = lab.printer(&q.printer) else {
                continue;
            };
            let folder = job_folder_name(&row.reception_number, &q.size);
            let hot = &printer.config.hot_folder;
            match reprint_print::withdraw_job(hot, &folder, &p.reason).await? {
                Withdrawn::Removed => removed += 1,
                Withdrawn::Voided => voided.push(format!("{folder} on {}", printer.config.name)),
                // Not written yet (queued for a print worker, or rendering): the worker skips
                // it, or takes it back as soon as it is written.
                Withdrawn::Absent => reprint_print::mark_withdrawn(hot, &folder, &p.reason).await?,
            }
        }
        let outcome = if voided.is_empty() {
            format!("{removed} job folder(s) taken off the hot folders")
        } else {
            tracing::warn!(reception = %row.reception_number, folders = ?voided,
                "a rejected reception's jobs were already taken by the print station: voided");
            format!(
                "the print station had taken {}: marked VOID; take those prints out of the output",
                voided.join(", ")
            )
        };
        let mut tx = lab.store.begin().await?;
        db::withdrawal_done(&mut tx, &p.order_id, &outcome, lab.clock.now()).await?;
        tx.commit().await?;
        done += 1;
    }
    Ok(done)
}

/// Looks at the hot folders of every reception that is printing: when each of its job folders
/// holds a done-marker, the reception is finished.
pub async fn poll_done_markers(lab: &Lab) -> LabResult<usize> {
    let mut tx = lab.store.begin().await?;
    let printing = db::production_by_state(&mut tx, "printing", 500).await?;
    let mut queues = Vec::with_capacity(printing.len());
    for row in printing {
        let queue = db::queue_of(&mut tx, &row.order_id).await?;
        queues.push((row, queue));
    }
    tx.commit().await?;
    let mut done = 0;
    for (row, queue) in queues {
        if queue.is_empty() {
            continue;
        }
        let mut all = true;
        for q in &queue {
            let Some(printer) = lab.printer(&q.printer) else {
                all = false;
                break;
            };
            let marker = printer
                .config
                .hot_folder
                .join(job_folder_name(&row.reception_number, &q.size))
                .join(DONE_MARKER);
            if !tokio::fs::try_exists(&marker).await.unwrap_or(false) {
                all = false;
                break;
            }
        }
        if all {
            match finished(lab, &row.reception_number, "print station (done-marker)").await {
                Ok(_) => done += 1,
                // Moved on meanwhile (finished by hand, rejected).
                Err(LabError::Refused(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(done)
}

/// The reception of a production row in the user file (for pages and the API).
pub async fn reception_of(
    lab: &Lab,
    number: &str,
) -> LabResult<(reprint_site::LoadedFile, Reception)> {
    let reception_number =
        ReceptionNumber::parse(&lab.rules().reception_number, number).map_err(|_| {
            LabError::NotFound(format!("{number:?} is not a reception number of this lab"))
        })?;
    let mut tx = lab.store.begin().await?;
    let found = lab.files.by_reception(&mut tx, &reception_number).await?;
    tx.commit().await?;
    found.ok_or_else(|| LabError::NotFound(format!("no reception {number} at this lab")))
}
