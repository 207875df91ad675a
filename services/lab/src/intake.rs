//! Order intake (docs/flows.md, Fig. 1 step 2 and Fig. 2 step 2): a placed order, handed over
//! by the inbox ([`crate::inbox`]) in its transaction, is checked and opened as a reception.
//!
//! The order is checked (this lab, its currency, sizes it prices and prints, a known delivery
//! counter, a customer it can identify, edits it can apply, images present in the object
//! store: `check`); then (`open`) the customer's individual user file is found or registered, a
//! reception is opened under the next reception number with the lab's charge and estimated
//! finish, its production starts at `received` ([`crate::reception`]), the production row, the
//! printers' queue and the image hashes are written ([`crate::db`]), and `ReceptionRecorded`
//! (the slip, S307) plus `StatusChanged(received)` go to the outbox ([`crate::messages`]).
//! The quote (`rpc::quote`) charges with the same `evidence` and `estimate_finish`.
//!
//! # The finish estimate
//! Each printer makes `prints_per_hour` prints (its rated capacity, `[[printers]]`). Its real
//! queue is the prints still to come out of it ([`crate::printing::waiting_prints`]): the
//! receptions `received` assigned to it (`lab_queue`), plus the print jobs of the receptions
//! `printing` that are queued for a print worker, rendering, or written to the hot folder and
//! not yet finished by the station (a failed or withdrawn job prints nothing). An order's
//! prints of each size go to the first printer that prints the size; the order is finished
//! when its slowest printer has worked off its queue plus this order: `now` plus
//! `handling_minutes` plus the longest of each printer's `(queue + order's prints) /
//! prints_per_hour`, rounded up to the minute.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use reprint_bus::subjects;
use reprint_domain::charge::local_date;
use reprint_domain::extract::{Sharing, extract};
use reprint_domain::file::{DataReceive, OpenReception, OrderItem, Route};
use reprint_domain::order_check::check_placed;
use reprint_domain::production;
use reprint_domain::protocol::{OrderPlaced, PlacedItem, RejectCode, Sender, Stage, order_items};
use reprint_domain::{EarlierPrint, ReceptionNumber, Recognition, SiteId, SiteKind, Telephone};
use reprint_eventstore::Transaction;
use reprint_media::PerceptualHash;
use reprint_site::{Identification, Identity};

use crate::db;
use crate::error::{LabError, site_error};
use crate::messages::{Refusal, enqueue_reception_recorded, enqueue_status, json_err, refuse};
use crate::reception;
use crate::state::Lab;

/// The checks of flows.md step 2. `Ok(Err(refusal))` is an order the lab refuses; `Err` is
/// trouble on our side (NATS away), worth a retry. `Ok(Ok(data_in))`: the order passed; the
/// lab started taking its data in at `data_in.start` and had every image of it whole in the
/// image store (its size read back) at `data_in.finish`, items (4) and (5) of the reception
/// ([`reception::data_received`]), without reading them all again.
pub async fn check(
    lab: &Lab,
    order: &OrderPlaced,
) -> Result<Result<DataReceive, Refusal>, LabError> {
    let start = lab.clock.now();
    if &order.lab != lab.site() {
        return Ok(Err(refuse(
            RejectCode::InvalidOrder,
            format!("the order is for lab {}, this is {}", order.lab, lab.site()),
        )));
    }
    if order.currency != lab.rules().currency {
        return Ok(Err(refuse(
            RejectCode::WrongCurrency,
            format!(
                "the order is in {}, this lab charges in {}",
                order.currency,
                lab.rules().currency
            ),
        )));
    }
    // The one order check, as the gateway and the counter ran it: the same words everywhere.
    // With the order's source profiles: a name this lab does not know is refused in words.
    if let Err(e) = check_placed(order, &|size| lab.prints_size(size)) {
        return Ok(Err(refuse(e.code(), e.to_string())));
    }
    if !counter_known(lab, &order.delivery_counter).await? {
        return Ok(Err(refuse(
            RejectCode::UnknownCounter,
            format!(
                "delivery counter {} is not one this lab delivers to",
                order.delivery_counter
            ),
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for item in &order.items {
        if !seen.insert(item.image) {
            continue;
        }
        if !lab.images.exists(&item.image.to_hex()).await? {
            return Ok(Err(refuse(
                RejectCode::ImageMissing,
                format!(
                    "image {} ({}) is not in the object store",
                    item.image.short(),
                    item.name
                ),
            )));
        }
    }
    Ok(Ok(DataReceive {
        start,
        finish: lab.clock.now().max(start),
    }))
}

/// A delivery counter the lab works with: configured, or announced in the site directory.
pub async fn counter_known(lab: &Lab, counter: &SiteId) -> Result<bool, LabError> {
    if lab.config.counters.known.contains(counter)
        || lab.config.counters.data_sharing.contains(counter)
    {
        return Ok(true);
    }
    if !lab.config.counters.accept_directory {
        return Ok(false);
    }
    let id = subjects::SiteId::parse(counter.as_str())
        .map_err(|e| LabError::BadRequest(e.to_string()))?;
    Ok(lab
        .directory
        .get(&id)
        .await?
        .is_some_and(|e| e.site.kind == subjects::SiteKind::Counter))
}

/// The sizes of an order, with their prints and printers.
fn queue_lines(lab: &Lab, items: &[OrderItem]) -> BTreeMap<String, (String, i64)> {
    let mut lines: BTreeMap<String, (String, i64)> = BTreeMap::new();
    for item in items {
        if let Some(p) = lab.printer_for(item.size) {
            let e = lines
                .entry(item.size.code().to_string())
                .or_insert((p.config.name.clone(), 0));
            e.1 += i64::from(item.quantity);
        }
    }
    lines
}

/// The finish estimate (see the module documentation).
pub async fn estimate_finish(
    lab: &Lab,
    tx: &mut Transaction,
    items: &[OrderItem],
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, LabError> {
    let mut per_printer: BTreeMap<String, i64> = BTreeMap::new();
    for (printer, prints) in queue_lines(lab, items).into_values() {
        *per_printer.entry(printer).or_default() += prints;
    }
    let mut longest_minutes = 0i64;
    for (printer, prints) in per_printer {
        let waiting = crate::printing::waiting_prints(tx, &printer).await?;
        let per_hour = lab
            .printer(&printer)
            .map_or(1, |p| i64::from(p.config.prints_per_hour.max(1)));
        longest_minutes = longest_minutes.max(printer_minutes(waiting + prints, per_hour));
    }
    let minutes = longest_minutes + i64::from(lab.config.production.handling_minutes);
    Ok(now + ChronoDuration::minutes(minutes))
}

/// Minutes a printer rated `per_hour` prints an hour takes for `prints`, rounded up.
pub fn printer_minutes(prints: i64, per_hour: i64) -> i64 {
    let per_hour = per_hour.max(1);
    (prints.max(0) * 60 + per_hour - 1) / per_hour
}

/// The earlier prints this lab counts for these items besides the exact image ids of its file:
/// the sender's history entries made at this lab, plus the photos recognised by perceptual hash
/// among the images printed here for `registration` (none for a customer without a file here).
/// The quote (`rpc::quote`) and the reception (`open`) both use it, so the lab charges what it
/// quoted.
pub async fn evidence(
    lab: &Lab,
    tx: &mut Transaction,
    registration: Option<&str>,
    items: &[PlacedItem],
) -> Result<Vec<EarlierPrint>, LabError> {
    let mut evidence: Vec<EarlierPrint> = items
        .iter()
        .flat_map(|i| i.history.iter().cloned())
        .filter(|e| &e.site == lab.site())
        .collect();
    if let Some(registration) = registration {
        evidence.extend(perceptual_evidence(lab, tx, registration, items).await?);
    }
    Ok(evidence)
}

/// Earlier prints recognised by perceptual hash among this registration's printed images.
async fn perceptual_evidence(
    lab: &Lab,
    tx: &mut Transaction,
    registration: &str,
    items: &[PlacedItem],
) -> Result<Vec<EarlierPrint>, LabError> {
    let mut evidence = Vec::new();
    if items.iter().all(|i| i.perceptual_hash.is_none()) {
        return Ok(evidence);
    }
    let known = db::hashes_of(tx, registration).await?;
    for item in items {
        let Some(h) = item.perceptual_hash else {
            continue;
        };
        let hash = PerceptualHash(h);
        for row in &known {
            if row.image == item.image.to_hex() {
                continue; // the same bytes: the file shows it already
            }
            let distance = hash.distance(PerceptualHash(row.phash as u64));
            if hash.matches(PerceptualHash(row.phash as u64))
                && let Ok(on) = row.received_on.parse()
            {
                evidence.push(EarlierPrint {
                    image: item.image,
                    site: lab.site().clone(),
                    on,
                    reception: Some(row.reception_number.clone()),
                    recognised_by: Recognition::PerceptualHash { distance },
                });
            }
        }
    }
    Ok(evidence)
}
pub async fn open(
    lab: &Lab,
    tx: &mut Transaction,
    order: &OrderPlaced,
    data_in: DataReceive,
    trace: Option<&str>,
) -> Result<(), LabError> {
    let now = lab.clock.now();
    let telephone = Telephone::parse(&order.customer.telephone)?;
    // Only `customer.registration_number` is this lab's; a counter's extract (Fig. 2) carries
    // the counter's own registration number, never used here. A web order finds its file by
    // that number only; a counter's walk-in also by name and telephone, which staff confirmed
    // in person (`reprint_site::Identification`).
    let how = Identification::of_order(order.route, &order.sender);
    let who = Identity {
        registration_number: order.customer.registration_number.clone(),
        name: order.customer.name.clone(),
        telephone,
        address: order.customer.address.clone(),
        email: order.customer.email.clone(),
    };
    let (mut loaded, registered) = lab
        .files
        .find_or_register_as(tx, &who, how, now)
        .await
        .map_err(site_error)?;
    if registered && let Some(given) = &who.registration_number {
        // The sender's record and ours disagree (a number of another lab, or from before a
        // restore): a new file, whose number the slip tells the sender, rather than a refusal
        // the user could never get past, and never someone else's file.
        tracing::warn!(order = %order.order, given = %given,
            registration = %loaded.registration_number,
            "the registration number sent is no file here for this telephone; registered as new");
    }
    let items = order_items(&order.items);
    let registration = loaded.registration_number.as_str().to_string();
    let evidence = evidence(lab, tx, Some(&registration), &order.items).await?;
    let estimated_finish = estimate_finish(lab, tx, &items, now).await?;
    let open = OpenReception {
        // The number and rules are set by `open_reception`.
        number: ReceptionNumber::foreign("-"),
        order: order.order,
        route: order.route,
        received_at: now,
        // Items (4) and (5): when the lab started and finished taking the order's data in.
        data_receive: reception::data_received(order, data_in),
        partner: order.delivery_counter.clone(),
        items: items.clone(),
        // Its line in the charge at the price of `rpc::rules_with_products`.
        digital_copy: order.digital_copy,
        evidence,
        estimated_finish: Some(estimated_finish),
        rules: lab.rules().clone(),
    };
    let (reception, _new) = lab
        .files
        .open_reception(tx, &mut loaded, open)
        .await
        .map_err(site_error)?;
    // The seed's "one more item": a walk-in order collected at another counter than the one
    // that took it in keeps the reception counter beside the delivery counter (item (6)).
    if let Sender::Counter(taken_in_at) = &order.sender
        && taken_in_at != &order.delivery_counter
    {
        let other =
            reprint_domain::delivery_counter::OtherCounter::ReceptionCounter(taken_in_at.clone());
        let number = reception.number.clone();
        let record = reprint_domain::file::Command::RecordOtherCounter { number, other };
        lab.files
            .execute(tx, &mut loaded, record)
            .await
            .map_err(site_error)?;
    }
    let number = reception.number.as_str().to_string();

    // Production row, queue, image hashes: the lab's own tables, same transaction.
    let (sender_kind, sender_id) = match &order.sender {
        Sender::Gateway(id) => ("gateway", id.as_str().to_string()),
        Sender::Counter(id) => ("counter", id.as_str().to_string()),
    };
    // Its production starts at `received` (decided first: the row below is its projection).
    reception::receive(
        tx,
        &order.order.to_string(),
        production::Command::Receive {
            images: order.items.iter().map(|i| i.image).collect(),
            at: now,
        },
        &format!("reception {number}"),
    )
    .await?;
    let prints: i64 = items.iter().map(|i| i64::from(i.quantity)).sum();
    let order_id = order.order.to_string();
    let order_json = serde_json::to_string(order).map_err(json_err)?;
    db::insert_reception(
        tx,
        &db::NewReception {
            order_id: &order_id,
            reception_number: &number,
            registration_number: &registration,
            counter: order.delivery_counter.as_str(),
            sender_kind,
            sender_id: &sender_id,
            route: route_name(order.route),
            prints,
            charge: reception.charge.total,
            received_at: now,
            estimated_finish,
            digital_copy: order.digital_copy,
            order_json: &order_json,
        },
    )
    .await?;
    if let Some(tp) = trace {
        // Production, dispatch and settlement happen later: they continue this trace.
        db::save_trace(tx, &order.order.to_string(), tp).await?;
    }
    for (size, (printer, prints)) in queue_lines(lab, &items) {
        db::insert_queue_line(tx, &order_id, &size, &printer, prints).await?;
    }
    let today = local_date(lab.rules(), now).to_string();
    for item in &order.items {
        if let Some(h) = item.perceptual_hash {
            db::insert_image_hash(
                tx,
                &registration,
                &item.image.to_hex(),
                &number,
                h as i64,
                &today,
            )
            .await?;
        }
    }

    // The slip (S307) to the sender, and the status.
    let slip = extract(
        &loaded.file,
        lab.site(),
        SiteKind::Lab,
        &reception.number,
        Sharing::ReceptionOnly,
    )
    .ok_or_else(|| LabError::Internal(format!("no extract of reception {number}")))?;
    enqueue_reception_recorded(lab, tx, order, slip, estimated_finish, trace).await?;
    let local_finish = estimated_finish.with_timezone(&lab.rules().time_zone);
    enqueue_status(
        lab,
        tx,
        order.order,
        Stage::Received,
        format!(
            "reception {number} at {}, registration {registration}, charge {}, ready about {}",
            lab.config.site.name,
            reception.charge.total,
            local_finish.format("%Y-%m-%d %H:%M")
        ),
        Some(reception.charge.clone()),
        trace,
    )
    .await?;
    tracing::info!(order = %order.order, reception = %number, registration = %registration,
        charge = %reception.charge.total, "reception opened");
    Ok(())
}

pub fn route_name(route: Route) -> &'static str {
    match route {
        Route::Internet => "internet",
        Route::CounterMedium => "counter_medium",
    }
}
