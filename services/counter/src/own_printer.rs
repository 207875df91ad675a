//! A counter with its own printer (a mini-lab) prints an internet order itself (seed 004: "if
//! the printer is installed at the handling counter, the print can be handed to the user
//! earlier by utilizing it"; `reprint_domain::counter_print`).
//!
//! The counter announces its printer in the site directory (`[printer]`: its name, sizes,
//! profile; [`announce`]). A lab then sends an internet order for this counter as print data
//! (`PrintDataSent` on `counter.<counter>.printdata.sent`) instead of a parcel:
//!
//! 1. **Arrival** (the inbox, [`handle`]): the order is noted in `counter_print_data`
//!    (`receiving`), in the inbox's transaction.
//! 2. **Receiving the data** ([`run`]): the images are fetched by reference from the network's
//!    object store into `<data_dir>/own-printer/<order>/`; items (4) and (5) of Figs. 8/9, the
//!    time the counter started and finished receiving the data, are recorded in its individual
//!    user file: the customer's file is found (by the registration number the order's sender
//!    holds for this counter, and by nothing else, as for a parcel) or registered, and the
//!    reception opened with those times (`received`).
//! 3. **Printing**: one job per size is rendered into the printer's hot folder by
//!    `reprint_print::write_job` (`<hot_folder>/<reception>-<size>/`: the JPEGs with the lab's
//!    print-history entry, `MISC/AUTPRINT.MRK`, `ticket.json`) (`printing`). Staff see "received
//!    as data at 10:02-10:03, printing" on `/printer`.
//! 4. **Ready**: when the print station has dropped a `DONE` marker into every job folder (or
//!    staff say the prints are out, on `/printer`), the order arrives as a parcel would: the
//!    lab's amounts are filled in, status `printed` ("printed at <counter>") and
//!    `ready_for_pickup` go out, and pickup, the one payment and the statement follow the usual
//!    path (`ready`).
//!
//! An image that cannot be printed leaves the order `failed` with the reason for staff.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reprint_bus::consumer::{HandlerError, Incoming};
use reprint_bus::directory::{SiteAnnouncement, SitePrinter};
use reprint_bus::objects::Images;
use reprint_domain::counter_order::Command as OrderCommand;
use reprint_domain::counter_print::{PrintDataSent, received_as_data_words};
use reprint_domain::file::{DataReceive, OpenReception, Route};
use reprint_domain::protocol::Stage;
use reprint_domain::{PrintSize, ReceptionNumber, Telephone};
use reprint_eventstore::sql::{self, Arg, ts};
use reprint_eventstore::{Store, Transaction};
use reprint_service::shutdown::Shutdown;
use reprint_site::{Identification, Identity};
use serde::Deserialize;

use crate::error::CounterError;
use crate::order::Opening;
use crate::state::Counter;

/// `[printer]`: the counter's own printer.
///
/// ```toml
/// [printer]
/// name = "Ginza QSS-3701"
/// hot_folder = "/var/spool/minilab/in"
/// sizes = ["L", "2L"]
/// icc_profile = "sRGB"      # or the path of the printer's profile
/// dpi = 300
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterConfig {
    pub name: String,
    /// Where the print station reads its jobs.
    pub hot_folder: PathBuf,
    /// The sizes it prints (announced; a lab sends only orders of these sizes).
    pub sizes: Vec<PrintSize>,
    /// `sRGB`, or the path of the printer's ICC profile.
    #[serde(default = "default_profile")]
    pub icc_profile: String,
    #[serde(default = "default_dpi")]
    pub dpi: u32,
}

fn default_profile() -> String {
    "sRGB".into()
}

fn default_dpi() -> u32 {
    300
}

impl PrinterConfig {
    /// The profile's bytes and its name for people.
    pub fn profile(&self) -> Result<(Vec<u8>, String), CounterError> {
        if self.icc_profile.eq_ignore_ascii_case("srgb") {
            return Ok((reprint_media::icc::srgb_profile(), "sRGB".into()));
        }
        let bytes = std::fs::read(&self.icc_profile).map_err(|e| {
            CounterError::Config(format!(
                "printer.icc_profile: cannot read {}: {e}",
                self.icc_profile
            ))
        })?;
        reprint_media::icc::ColorTransform::new(None, Some(&bytes)).map_err(|e| {
            CounterError::Config(format!(
                "printer.icc_profile: {} is not a usable profile: {e}",
                self.icc_profile
            ))
        })?;
        let name = Path::new(&self.icc_profile)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.icc_profile.clone());
        Ok((bytes, name))
    }

    /// Checks the section at start-up: a name, sizes, a usable profile, a hot folder.
    pub fn check(&self) -> Result<(), CounterError> {
        if self.name.trim().is_empty() {
            return Err(CounterError::Config(
                "printer.name: must not be empty".into(),
            ));
        }
        if self.sizes.is_empty() {
            return Err(CounterError::Config(
                "printer.sizes: name the sizes it prints, e.g. [\"L\", \"2L\"]".into(),
            ));
        }
        if !(72..=1200).contains(&self.dpi) {
            return Err(CounterError::Config(format!(
                "printer.dpi: {} is not a printer's resolution (72 to 1200)",
                self.dpi
            )));
        }
        std::fs::create_dir_all(&self.hot_folder).map_err(|e| {
            CounterError::Config(format!(
                "printer.hot_folder {}: cannot be created: {e}",
                self.hot_folder.display()
            ))
        })?;
        self.profile().map(|_| ())
    }
}

const SCHEMA: &[&str] = &[
    // One row per order received as print data; `state`: receiving, received, printing,
    // ready, failed.
    "CREATE TABLE IF NOT EXISTS counter_print_data (
        order_id TEXT PRIMARY KEY,
        lab TEXT NOT NULL,
        lab_reception TEXT NOT NULL,
        customer_name TEXT NOT NULL,
        message TEXT NOT NULL,
        state TEXT NOT NULL,
        arrived_at TEXT NOT NULL,
        data_start TEXT,
        data_finish TEXT,
        reception_number TEXT,
        registration_number TEXT,
        note TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS counter_print_data_state ON counter_print_data (state, arrived_at)",
];

/// Creates the table (and checks `[printer]` when there is one).
pub async fn migrate(store: &Store, printer: Option<&PrinterConfig>) -> Result<(), CounterError> {
    if let Some(p) = printer {
        p.check()?;
    }
    sql::migrate(store, SCHEMA).await?;
    Ok(())
}

/// The counter's directory entry with its printer, when it has one.
pub fn announce(counter: &Counter, mut announcement: SiteAnnouncement) -> SiteAnnouncement {
    announcement.printer = counter.config.printer.as_ref().map(|p| SitePrinter {
        name: p.name.clone(),
        sizes: p.sizes.iter().map(|s| s.code().to_string()).collect(),
        icc_profile: p
            .profile()
            .map(|(_, name)| name)
            .unwrap_or_else(|_| p.icc_profile.clone()),
    });
    announcement
}

/// The inbox: print data for this counter arrived (step 1), noted in the inbox's transaction.
pub async fn handle(
    c: &Counter,
    tx: &mut Transaction,
    message: &Incoming,
) -> Result<(), HandlerError> {
    let m: PrintDataSent = message.json()?;
    arrived(c, tx, &m, &message.payload).await.map_err(|e| {
        if e.is_retryable() || matches!(e, CounterError::Store(_) | CounterError::Io(_)) {
            HandlerError::transient(e.to_string())
        } else {
            HandlerError::permanent(e.to_string())
        }
    })
}

async fn arrived(
    c: &Counter,
    tx: &mut Transaction,
    m: &PrintDataSent,
    payload: &[u8],
) -> Result<(), CounterError> {
    if m.delivery.counter != c.rules().site {
        return Err(CounterError::Invalid(format!(
            "print data for counter {}, not this one ({})",
            m.delivery.counter,
            c.rules().site
        )));
    }
    if c.config.printer.is_none() {
        return Err(CounterError::Invalid(format!(
            "print data of order {} from {}, but this counter has no [printer]",
            m.order(),
            m.delivery.lab
        )));
    }
    let now = c.clock.now();
    let message = String::from_utf8_lossy(payload).into_owned();
    sql::exec(
        tx.conn(),
        "INSERT INTO counter_print_data (order_id, lab, lab_reception, customer_name, message, \
         state, arrived_at, note, updated_at) VALUES ($1, $2, $3, $4, $5, 'receiving', $6, '', $6) \
         ON CONFLICT (order_id) DO NOTHING",
        &[
            Arg::from(m.order().to_string()),
            Arg::from(m.delivery.lab.to_string()),
            Arg::from(m.delivery.extract.reception.number.to_string()),
            Arg::from(m.delivery.customer.name.clone()),
            Arg::from(message),
            Arg::from(ts(now)),
        ],
    )
    .await?;
    Ok(())
}

/// One order received as print data, as staff see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PrintRow {
    pub order_id: String,
    pub lab: String,
    pub lab_reception: String,
    pub customer_name: String,
    pub message: String,
    pub state: String,
    pub arrived_at: String,
    pub data_start: Option<String>,
    pub data_finish: Option<String>,
    pub reception_number: Option<String>,
    pub registration_number: Option<String>,
    pub note: String,
    pub updated_at: String,
}

const COLS: &str = "SELECT order_id, lab, lab_reception, customer_name, message, state, \
    arrived_at, data_start, data_finish, reception_number, registration_number, note, updated_at \
    FROM counter_print_data";

/// The orders received as data, the newest first (at most `limit`).
pub async fn list(c: &Counter, limit: i64) -> Result<Vec<PrintRow>, CounterError> {
    let mut tx = c.store.begin().await?;
    let rows = sql::fetch(
        tx.conn(),
        &format!("{COLS} ORDER BY arrived_at DESC LIMIT $1"),
        &[Arg::from(limit)],
    )
    .await?;
    tx.rollback().await?;
    Ok(rows)
}

/// One order received as data.
pub async fn get(c: &Counter, order: &str) -> Result<Option<PrintRow>, CounterError> {
    let mut tx = c.store.begin().await?;
    let row = sql::fetch_optional(
        tx.conn(),
        &format!("{COLS} WHERE order_id = $1"),
        &[Arg::from(order)],
    )
    .await?;
    tx.rollback().await?;
    Ok(row)
}

async fn in_state(c: &Counter, state: &str) -> Result<Vec<PrintRow>, CounterError> {
    let mut tx = c.store.begin().await?;
    let rows = sql::fetch(
        tx.conn(),
        &format!("{COLS} WHERE state = $1 ORDER BY arrived_at LIMIT 50"),
        &[Arg::from(state)],
    )
    .await?;
    tx.rollback().await?;
    Ok(rows)
}

async fn set_state(
    c: &Counter,
    tx: Option<&mut Transaction>,
    order: &str,
    state: &str,
    note: &str,
) -> Result<(), CounterError> {
    let args = [
        Arg::from(state),
        Arg::from(note),
        Arg::from(ts(c.clock.now())),
        Arg::from(order),
    ];
    let query =
        "UPDATE counter_print_data SET state = $1, note = $2, updated_at = $3 WHERE order_id = $4";
    match tx {
        Some(tx) => {
            sql::exec(tx.conn(), query, &args).await?;
        }
        None => {
            let mut tx = c.store.begin().await?;
            sql::exec(tx.conn(), query, &args).await?;
            tx.commit().await?;
        }
    }
    Ok(())
}

/// What staff read of an order received as data: "received as data at 10:02-10:03, printing".
pub fn words(c: &Counter, row: &PrintRow) -> String {
    let tz = c.rules().time_zone;
    let data = match (
        row.data_start.as_deref().and_then(sql::parse_ts),
        row.data_finish.as_deref().and_then(sql::parse_ts),
    ) {
        (Some(s), Some(f)) => received_as_data_words(s, f, tz),
        _ => "receiving the data".to_string(),
    };
    match row.state.as_str() {
        "receiving" => data,
        "received" | "printing" => format!("{data}, printing"),
        "ready" => format!("{data}, printed: ready for pickup"),
        "failed" => format!("{data}; cannot be printed: {}", row.note),
        other => format!("{data}, {other}"),
    }
}

fn spool_dir(c: &Counter, order: &str) -> PathBuf {
    c.config.data_dir.join("own-printer").join(order)
}

/// How often the orders received as data are moved on.
pub const EVERY: Duration = Duration::from_millis(300);

/// Receives, prints and makes ready the orders received as data, until shutdown (steps 2-4).
/// Waits for the link to open the image store; does nothing on a counter without a printer.
pub async fn run(
    c: std::sync::Arc<Counter>,
    js: async_nats::jetstream::Context,
    shutdown: Shutdown,
) {
    if c.config.printer.is_none() {
        // A part of the service that ends stops the service: wait for the shutdown.
        shutdown.wait().await;
        return;
    }
    let mut settings = reprint_bus::ProvisionSettings::with_replicas(c.config.nats.replicas).images;
    settings.replicas = c.config.nats.replicas;
    let mut images: Option<Images> = None;
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.clone().wait() => break,
            _ = tick.tick() => {}
        }
        if images.is_none() && c.online() {
            match Images::open(&js, settings.clone()).await {
                Ok(i) => images = Some(i),
                Err(e) => {
                    tracing::warn!(error = %e, "own printer: the image store cannot be opened yet")
                }
            }
        }
        if let Some(images) = &images
            && let Err(e) = step(&c, images).await
        {
            tracing::warn!(error = %e, "own printer");
        }
    }
}

/// One pass over every order received as data.
pub async fn step(c: &Counter, images: &Images) -> Result<(), CounterError> {
    for row in in_state(c, "receiving").await? {
        if let Err(e) = receive(c, images, &row).await {
            tracing::warn!(order = %row.order_id, error = %e, "print data not received yet; retrying");
        }
    }
    for row in in_state(c, "received").await? {
        print(c, &row).await?;
    }
    for row in in_state(c, "printing").await? {
        if all_done(c, &row).await? {
            make_ready(c, &row.order_id, "print station (done-marker)").await?;
        }
    }
    Ok(())
}

fn message_of(row: &PrintRow) -> Result<PrintDataSent, CounterError> {
    serde_json::from_str(&row.message)
        .map_err(|e| CounterError::Internal(format!("stored print data of {}: {e}", row.order_id)))
}

/// Step 2: the images from the object store, items (4) and (5), the file's reception.
async fn receive(c: &Counter, images: &Images, row: &PrintRow) -> Result<(), CounterError> {
    let m = message_of(row)?;
    let dir = spool_dir(c, &row.order_id);
    tokio::fs::create_dir_all(&dir).await?;
    let start = c.clock.now();
    let mut seen = HashSet::new();
    for item in &m.items {
        let hash = item.image.to_hex();
        if !seen.insert(hash.clone()) {
            continue;
        }
        let path = dir.join(&hash);
        let partial = dir.join(format!(".{hash}.part"));
        let mut file = tokio::fs::File::create(&partial).await?;
        images
            .copy_to(&hash, &mut file)
            .await
            .map_err(|e| CounterError::Internal(format!("image {}: {e}", item.image.short())))?;
        tokio::io::AsyncWriteExt::flush(&mut file).await?;
        drop(file);
        tokio::fs::rename(&partial, &path).await?;
    }
    let finish = c.clock.now().max(start);
    let mut tx = c.store.begin().await?;
    let (number, registration) =
        open_reception(c, &mut tx, &m, DataReceive { start, finish }).await?;
    sql::exec(
        tx.conn(),
        "UPDATE counter_print_data SET state = 'received', data_start = $1, data_finish = $2, \
         reception_number = $3, registration_number = $4, updated_at = $5 WHERE order_id = $6 \
         AND state = 'receiving'",
        &[
            Arg::from(ts(start)),
            Arg::from(ts(finish)),
            Arg::from(number.to_string()),
            Arg::from(registration),
            Arg::from(ts(c.clock.now())),
            Arg::from(row.order_id.clone()),
        ],
    )
    .await?;
    tx.commit().await?;
    tracing::info!(order = %row.order_id, reception = %number, "print data received");
    Ok(())
}

/// The customer's file here (found as for a parcel of an internet order: by the number the
/// sender holds for this counter only) and its reception with items (4) and (5).
async fn open_reception(
    c: &Counter,
    tx: &mut Transaction,
    m: &PrintDataSent,
    data: DataReceive,
) -> Result<(ReceptionNumber, String), CounterError> {
    let rules = c.rules();
    let d = &m.delivery;
    if let Some((file, reception)) = c.files.by_order(tx, d.order).await? {
        return Ok((reception.number, file.registration_number.to_string()));
    }
    let identity = Identity {
        registration_number: d.counter_registration_number.clone(),
        name: d.customer.name.clone(),
        telephone: Telephone::parse(&d.customer.telephone)?,
        address: None,
        email: None,
    };
    let (mut file, _) = c
        .files
        .find_or_register_as(tx, &identity, Identification::of_delivery(), data.start)
        .await?;
    let placeholder = ReceptionNumber::new(&rules.reception_number, 1)?;
    let (reception, _) = c
        .files
        .open_reception(
            tx,
            &mut file,
            OpenReception {
                number: placeholder,
                order: d.order,
                route: Route::Internet,
                received_at: data.start,
                data_receive: Some(data),
                partner: d.lab.clone(),
                items: d.extract.reception.items.clone(),
                digital_copy: false,
                evidence: vec![],
                estimated_finish: None,
                rules: rules.clone(),
            },
        )
        .await?;
    Ok((reception.number, file.registration_number.to_string()))
}

/// Step 3: one job per size into the hot folder.
async fn print(c: &Counter, row: &PrintRow) -> Result<(), CounterError> {
    let Some(printer) = c.config.printer.as_ref() else {
        return Ok(());
    };
    let m = message_of(row)?;
    let number = row.reception_number.clone().ok_or_else(|| {
        CounterError::Internal(format!(
            "order {} received without a reception",
            row.order_id
        ))
    })?;
    let (icc, icc_name) = printer.profile()?;
    let now = c.clock.now();
    let dir = spool_dir(c, &row.order_id);
    for job in jobs(c, &m, &number, printer, &icc_name, now) {
        let written =
            reprint_print::write_job(&printer.hot_folder, &job, &icc, None, |hash: String| {
                let path = dir.join(hash);
                async move { tokio::fs::read(path).await }
            })
            .await;
        match written {
            Ok(_) => {}
            Err(
                e @ (reprint_print::WriteError::Unprintable { .. }
                | reprint_print::WriteError::BadJob(_)),
            ) => {
                let why = e.to_string();
                tracing::warn!(order = %row.order_id, why, "print data cannot be printed");
                set_state(c, None, &row.order_id, "failed", &why).await?;
                return Ok(());
            }
            Err(e) => return Err(CounterError::Internal(format!("printing {number}: {e}"))),
        }
    }
    set_state(c, None, &row.order_id, "printing", "").await?;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    Ok(())
}

/// The jobs of an order: one per size, files named by the item's place in the order.
pub fn jobs(
    c: &Counter,
    m: &PrintDataSent,
    number: &str,
    printer: &PrinterConfig,
    icc_name: &str,
    now: DateTime<Utc>,
) -> Vec<reprint_print::PrintJob> {
    let mut sizes: Vec<PrintSize> = m.items.iter().map(|i| i.size).collect();
    sizes.sort();
    sizes.dedup();
    let record = reprint_media::PrintRecord {
        site: m.history.site.clone(),
        registration_number: m.history.registration_number.clone(),
        reception_number: m.history.reception_number.clone(),
        date: m.history.date,
    };
    sizes
        .into_iter()
        .map(|size| reprint_print::PrintJob {
            site: c.rules().site.to_string(),
            reception: number.to_string(),
            order: m.order().to_string(),
            delivery_counter: c.rules().site.to_string(),
            printer: printer.name.clone(),
            size,
            dpi: printer.dpi,
            icc_profile: icc_name.to_string(),
            created: now,
            created_local: now.with_timezone(&c.rules().time_zone).naive_local(),
            record: record.clone(),
            items: m
                .items
                .iter()
                .enumerate()
                .filter(|(_, i)| i.size == size && size != PrintSize::Index)
                .map(|(index, i)| reprint_print::JobItem {
                    file: format!("{number}-{:02}.JPG", index + 1),
                    image: i.image.to_hex(),
                    name: i.name.clone(),
                    quantity: i.quantity,
                    edits: i.edits.clone(),
                    source_profile: None,
                })
                .collect(),
            // The index print's sheet, on the job of its size.
            index: (size == PrintSize::Index)
                .then(|| reprint_print::index_sheet(number, &m.items))
                .flatten(),
        })
        .collect()
}

/// The job folders of an order in the hot folder.
pub fn job_folders(c: &Counter, row: &PrintRow) -> Result<Vec<PathBuf>, CounterError> {
    let Some(printer) = c.config.printer.as_ref() else {
        return Ok(vec![]);
    };
    let m = message_of(row)?;
    let number = row.reception_number.clone().unwrap_or_default();
    let mut sizes: Vec<PrintSize> = m.items.iter().map(|i| i.size).collect();
    sizes.sort();
    sizes.dedup();
    Ok(sizes
        .into_iter()
        .map(|s| {
            printer
                .hot_folder
                .join(reprint_print::job_folder_name(&number, s.code()))
        })
        .collect())
}

async fn all_done(c: &Counter, row: &PrintRow) -> Result<bool, CounterError> {
    let folders = job_folders(c, row)?;
    if folders.is_empty() {
        return Ok(false);
    }
    for f in folders {
        if !tokio::fs::try_exists(f.join(reprint_print::DONE_MARKER)).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Step 4: the prints are out (the done-markers, or staff): the order arrives as a parcel
/// would, status `printed` ("printed at <counter>") and `ready_for_pickup`. Returns whether
/// anything changed.
pub async fn make_ready(c: &Counter, order_id: &str, who: &str) -> Result<bool, CounterError> {
    let Some(row) = get(c, order_id).await? else {
        return Err(CounterError::NotFound(format!(
            "no order {order_id} received as print data"
        )));
    };
    if row.state == "ready" {
        return Ok(false);
    }
    if row.state != "printing" {
        return Err(CounterError::Conflict(format!(
            "order {order_id} is not printing here ({})",
            words(c, &row)
        )));
    }
    let m = message_of(&row)?;
    let d = &m.delivery;
    let now = c.clock.now();
    let mut tx = c.store.begin().await?;
    let (mut file, reception) = c.files.by_order(&mut tx, d.order).await?.ok_or_else(|| {
        CounterError::Internal(format!("order {order_id}: no reception in the files"))
    })?;
    let user = file
        .file
        .user
        .clone()
        .ok_or_else(|| CounterError::Internal("registered file without user".into()))?;
    let opening = Opening {
        reception_number: reception.number.to_string(),
        registration_number: file.registration_number.to_string(),
        customer_name: user.name,
        telephone: user.telephone.as_str().to_string(),
        received_at: reception.received_at,
        expected_ready: None,
    };
    let arrival = OrderCommand::ReceiveDelivery {
        route: Route::Internet,
        lab: d.lab.clone(),
        lab_reception: d.extract.reception.number.to_string(),
        at: now,
    };
    let lab_charge = d.extract.reception.charge.clone();
    // As a parcel from the lab would arrive (`deliveries::receive_parcel`).
    match crate::deliveries::receive_parcel(
        c,
        &mut tx,
        order_id,
        arrival,
        Some(&opening),
        &mut file,
        &reception.number,
        &lab_charge,
    )
    .await?
    {
        crate::deliveries::Received::Filled => {}
        crate::deliveries::Received::Withdrawn(e) => {
            tx.rollback().await?;
            set_state(c, None, order_id, "failed", &e.to_string()).await?;
            return Ok(false);
        }
        crate::deliveries::Received::ReceptionClosed(e) => return Err(e.into()),
    }
    let printed = crate::messages::status(
        &c.rules().site,
        d.order,
        Stage::Printed,
        now,
        format!(
            "printed at {} on {} (reception {})",
            c.config.name,
            c.config
                .printer
                .as_ref()
                .map(|p| p.name.as_str())
                .unwrap_or(""),
            reception.number
        ),
        None,
    )?;
    tx.enqueue(&[printed]).await?;
    crate::deliveries::make_ready(
        c,
        &mut tx,
        d.order,
        &reception.number,
        &reception.charge,
        &lab_charge,
        &d.lab,
        Route::Internet,
        file.registration_number.as_str(),
        now,
    )
    .await?;
    set_state(c, Some(&mut tx), order_id, "ready", who).await?;
    tx.commit().await?;
    tracing::info!(order = %order_id, reception = %reception.number, who, "printed here; ready for pickup");
    Ok(true)
}

/// One order received as print data, for the terminal and the JSON API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PrintView {
    pub order: String,
    pub lab: String,
    pub lab_reception: String,
    pub reception_number: Option<String>,
    pub registration_number: Option<String>,
    pub customer_name: String,
    /// `receiving`, `received`, `printing`, `ready`, `failed`.
    pub state: String,
    /// Items (4) and (5): when the data started and finished arriving.
    pub data_start: Option<String>,
    pub data_finish: Option<String>,
    /// In words: "received as data at 10:02-10:03, printing".
    pub words: String,
}

fn view(c: &Counter, row: &PrintRow) -> PrintView {
    PrintView {
        order: row.order_id.clone(),
        lab: row.lab.clone(),
        lab_reception: row.lab_reception.clone(),
        reception_number: row.reception_number.clone(),
        registration_number: row.registration_number.clone(),
        customer_name: row.customer_name.clone(),
        state: row.state.clone(),
        data_start: row.data_start.clone(),
        data_finish: row.data_finish.clone(),
        words: words(c, row),
    }
}

/// `GET /api/v1/printer` (the orders received as print data, newest first) and
/// `POST /api/v1/printer/{order}/printed` (staff: the prints are out, for a station that
/// writes no done-marker).
pub fn routes(state: crate::AppState) -> axum::Router {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/api/v1/printer", get(api_list))
        .route("/api/v1/printer/{order}/printed", post(api_printed))
        .with_state(state)
}

async fn api_list(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    _staff: crate::auth::ApiStaff,
) -> Result<axum::Json<Vec<PrintView>>, CounterError> {
    let c = &state.counter;
    let rows = list(c, 200).await?;
    Ok(axum::Json(rows.iter().map(|r| view(c, r)).collect()))
}

async fn api_printed(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    staff: crate::auth::ApiStaff,
    headers: axum::http::HeaderMap,
    axum::extract::Path(order): axum::extract::Path<String>,
) -> Result<axum::Json<PrintView>, CounterError> {
    staff.check_csrf(&state, &headers)?;
    let c = &state.counter;
    make_ready(c, &order, &format!("staff {}", staff.0.user)).await?;
    let row = get(c, &order).await?.ok_or_else(|| {
        CounterError::NotFound(format!("no order {order} received as print data"))
    })?;
    Ok(axum::Json(view(c, &row)))
}
