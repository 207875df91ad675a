//! An internet order printed at its delivery counter (seed 004: "if the printer is installed
//! at the handling counter, the print can be handed to the user earlier by utilizing it").
//!
//! For each reception still `received`, the lab asks the site directory whether the order's
//! delivery counter announces its own printer, and decides by
//! `reprint_domain::counter_print::where_to_print` (an internet order, a fresh announcement, a
//! printer that prints every size of the order, `[counters] never_print_at_counters` not set).
//! When the counter prints it, in one transaction: the reception goes through printing,
//! printed and dispatched in production ("sent as print data to <counter>"), the lab's charge
//! goes into its ledger with that counter as for a parcel
//! (`reprint_domain::counter_print::print_data_charge`: the same amounts), status `printing`
//! says where the prints are being made, and `PrintDataSent` (the delivery a parcel would carry,
//! the items by reference, the lab's print-history entry) goes to
//! `counter.<counter>.printdata.sent`. The images stay in the object store: the counter fetches
//! them from there.
//!
//! [`run`] looks every [`EVERY`]; the operator's own start of printing wins a race (the
//! production decider refuses the second start) and the order is printed here.

use std::time::Duration;

use reprint_bus::subjects;
use reprint_bus::trace::TraceContext;
use reprint_domain::charge::local_date;
use reprint_domain::counter_print::{
    AnnouncedPrinter, LabHistoryRecord, PrintAt, PrintDataSent, print_data_charge, where_to_print,
};
use reprint_domain::extract::{Sharing, extract};
use reprint_domain::production;
use reprint_domain::protocol::{DeliveryDispatched, OrderPlaced, Stage};
use reprint_domain::{PrintSize, ReceptionNumber};
use reprint_service::shutdown::Shutdown;
use tracing::Instrument;

use crate::db::{self, ProductionRow};
use crate::error::{LabError, LabResult};
use crate::messages::enqueue_status;
use crate::reception;
use crate::state::Lab;

/// How often the received orders are looked at.
pub const EVERY: Duration = Duration::from_millis(500);

/// Sends received internet orders to delivery counters that print them, until shutdown.
pub async fn run(lab: Lab, shutdown: Shutdown) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.clone().wait() => break,
            _ = tick.tick() => {}
        }
        if let Err(e) = send_pending(&lab).await {
            tracing::warn!(error = %e, "sending print data to counters");
        }
    }
}

/// Looks at every received reception once; returns how many went to a counter as data.
pub async fn send_pending(lab: &Lab) -> LabResult<usize> {
    if lab.config.counters.never_print_at_counters {
        return Ok(0);
    }
    let mut tx = lab.store.begin().await?;
    let received = db::production_by_state(&mut tx, "received", 200).await?;
    tx.rollback().await?;
    let mut sent = 0;
    for row in received {
        if row.route != "internet" {
            continue;
        }
        let order: OrderPlaced = match serde_json::from_str(&row.order_json) {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(reception = %row.reception_number, error = %e, "stored order unreadable");
                continue;
            }
        };
        let Some(counter) = counter_printer(lab, &order).await? else {
            continue;
        };
        match send(lab, &row, &order, &counter).await {
            Ok(true) => sent += 1,
            Ok(false) => {}
            // The operator started printing it here meanwhile, or it was cancelled/rejected.
            Err(LabError::Refused(e)) => {
                tracing::debug!(reception = %row.reception_number, refusal = %e, "not sent as data");
            }
            Err(LabError::Store(e)) if e.is_conflict() => {
                tracing::debug!(reception = %row.reception_number, "moved meanwhile; looked at again");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

/// The delivery counter as the directory announces it, when the order goes to it as data.
pub struct CounterPrinter {
    pub name: String,
    pub printer: String,
}

/// Whether `order` is printed at its delivery counter (see the module's docs).
pub async fn counter_printer(lab: &Lab, order: &OrderPlaced) -> LabResult<Option<CounterPrinter>> {
    let id = subjects::SiteId::parse(order.delivery_counter.as_str())
        .map_err(|e| LabError::BadRequest(e.to_string()))?;
    let entry = lab.directory.get(&id).await?;
    let announced = entry.as_ref().and_then(|e| {
        let p = e.site.printer.as_ref()?;
        (e.site.kind == subjects::SiteKind::Counter).then(|| AnnouncedPrinter {
            sizes: p
                .sizes
                .iter()
                .filter_map(|s| PrintSize::parse(s).ok())
                .collect(),
            stale: e.site.is_stale(lab.clock.now()),
        })
    });
    let mut sizes: Vec<PrintSize> = order.items.iter().map(|i| i.size).collect();
    sizes.sort();
    sizes.dedup();
    match where_to_print(order.route, &sizes, announced.as_ref(), true) {
        PrintAt::Counter => Ok(entry.map(|e| CounterPrinter {
            name: e.site.name.clone(),
            printer: e.site.printer.map(|p| p.name).unwrap_or_default(),
        })),
        PrintAt::Lab(why) => {
            if announced.is_some() {
                tracing::debug!(order = %order.order, counter = %order.delivery_counter, why, "printed here");
            }
            Ok(None)
        }
    }
}

/// Sends reception `row` to its delivery counter as print data (one transaction, see the
/// module's docs), in the order's trace. False when it had moved on meanwhile.
pub async fn send(
    lab: &Lab,
    row: &ProductionRow,
    order: &OrderPlaced,
    counter: &CounterPrinter,
) -> LabResult<bool> {
    let mut tx = lab.store.begin().await?;
    let trace = db::reception_trace(&mut tx, &row.reception_number).await?;
    tx.rollback().await?;
    let work = send_in(lab, row, order, counter);
    match trace {
        Some((o, ctx)) => {
            let span = ctx.span("lab send print data");
            span.record("order", o.as_str());
            ctx.run(span, work).await
        }
        None => {
            work.instrument(TraceContext::root_span("lab send print data"))
                .await
        }
    }
}

async fn send_in(
    lab: &Lab,
    row: &ProductionRow,
    order: &OrderPlaced,
    counter: &CounterPrinter,
) -> LabResult<bool> {
    let now = lab.clock.now();
    let number = row.reception_number.as_str();
    let reception_number = ReceptionNumber::parse(&lab.rules().reception_number, number)?;
    let actor = format!("sent as print data to {}", counter.name);
    let mut tx = lab.store.begin().await?;
    let loaded = reception::load(&mut tx, &row.order_id).await?;
    let rejected = loaded.state.rejected_images.clone();
    for command in [
        production::Command::StartPrinting {
            actor: actor.clone(),
            at: now,
        },
        production::Command::FinishPrints {
            actor: actor.clone(),
            at: now,
        },
        production::Command::Dispatch {
            actor: actor.clone(),
            at: now,
        },
    ] {
        let (_, events) = reception::execute(&mut tx, &row.order_id, command, &actor).await?;
        if events.is_empty() {
            tx.rollback().await?;
            return Ok(false);
        }
    }
    let (loaded_file, reception) = lab
        .files
        .by_reception(&mut tx, &reception_number)
        .await?
        .ok_or_else(|| LabError::NotFound(format!("no reception {number} in the user files")))?;
    let sharing = if lab
        .config
        .counters
        .data_sharing
        .iter()
        .any(|c| c.as_str() == row.counter)
    {
        Sharing::WholeFile
    } else {
        Sharing::ReceptionOnly
    };
    let mut file_extract = extract(
        &loaded_file.file,
        lab.site(),
        reprint_domain::SiteKind::Lab,
        &reception_number,
        sharing,
    )
    .ok_or_else(|| LabError::Internal(format!("no extract of {number}")))?;
    let charge = print_data_charge(&reception.charge, &counter.name);
    file_extract.reception.charge = charge.clone();
    let mut items = order.items.clone();
    items.retain(|i| !rejected.contains(&i.image));
    let body = PrintDataSent {
        delivery: DeliveryDispatched {
            order: order.order,
            lab: lab.site().clone(),
            counter: order.delivery_counter.clone(),
            dispatched_at: now,
            extract: file_extract,
            customer: order.customer.clone(),
            counter_reception: None,
            counter_registration_number: order.counter_registration_number.clone(),
        },
        items,
        history: LabHistoryRecord {
            site: lab.site().as_str().to_string(),
            registration_number: row.registration_number.clone(),
            reception_number: number.to_string(),
            date: local_date(lab.rules(), now),
        },
    };
    let to = subjects::SiteId::parse(order.delivery_counter.as_str())
        .map_err(|e| LabError::BadRequest(e.to_string()))?;
    let message = reprint_bus::message::to_inbox(
        lab.site().as_str(),
        subjects::Address::counter(to),
        &body,
        None,
        None,
    )?;
    tx.enqueue(&[message]).await?;
    crate::settlement::record_ledger(
        lab,
        &mut tx,
        &db::LedgerEntry {
            entry_id: format!("{}:charged", row.order_id),
            counter: &row.counter,
            order: &row.order_id,
            kind: "charged",
            amount: charge.total,
            at: now,
        },
    )
    .await?;
    enqueue_status(
        lab,
        &mut tx,
        order.order,
        Stage::Printing,
        format!(
            "reception {number}: sent as print data to {}, printed there on {}",
            counter.name, counter.printer
        ),
        Some(charge),
        None,
    )
    .await?;
    tx.commit().await?;
    lab.waker.wake();
    tracing::info!(reception = %number, counter = %row.counter, "sent as print data to the delivery counter");
    Ok(true)
}
