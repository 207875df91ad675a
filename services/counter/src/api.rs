//! The JSON API under `/api/v1`: the same things the terminal pages do, for a till or a
//! scanner app. Described by the OpenAPI document at `/api/v1/openapi.json`.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, Utc};
use reprint_domain::Charge;
use reprint_domain::counter_order::CounterOrderState;
use reprint_service::problem::Json;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::AppState;
use crate::auth::{self, ApiStaff};
use crate::error::{CounterError, Result};
use crate::intake::{self, CustomerInput, Intake, IntakeRequest};
use crate::medium::{self, Medium};
use crate::pickup::{self, OrderSummary, PaymentInput, PickupView, Receipt};
use crate::takings::{self, Takings};

// ---------- DTOs ----------

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginBody {
    #[schema(max_length = 200)]
    pub name: String,
    #[schema(max_length = 200)]
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginReply {
    pub staff: String,
    /// Send it as `X-CSRF-Token` with every POST.
    pub csrf_token: String,
}

/// One explained line of a charge.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LineDto {
    pub description: String,
    /// Minor units (yen).
    pub amount: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChargeDto {
    pub lines: Vec<LineDto>,
    pub total: i64,
    pub currency: String,
}

impl From<&Charge> for ChargeDto {
    fn from(c: &Charge) -> ChargeDto {
        ChargeDto {
            lines: c
                .lines
                .iter()
                .map(|l| LineDto {
                    description: l.description.clone(),
                    amount: l.amount.minor,
                })
                .collect(),
            total: c.total.minor,
            currency: c.total.currency.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ItemDto {
    pub image: String,
    pub name: String,
    pub size: String,
    pub quantity: u32,
}

/// The multipart form of a walk-in intake (documentation only).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct IntakeForm {
    /// The counter's registration number, when the customer has one.
    registration_number: Option<String>,
    name: String,
    telephone: String,
    address: Option<String>,
    email: Option<String>,
    /// The lab's site id.
    lab: String,
    /// Where the customer collects the prints: another counter's site id (a counter of the
    /// network, from the site directory); empty or absent for this counter. Collected
    /// elsewhere, this counter charges nothing and that counter charges at pickup.
    pickup_at: Option<String>,
    /// The digital copy on a medium besides the prints: `cd`, `dvd` or `usb_stick` (empty or
    /// `none`: no medium). Only a counter with a writer that sells that medium takes it (422
    /// in words otherwise, and for an order collected at another counter); it is one line of
    /// the counter's charge at the medium's price, and the counter writes the originals with
    /// their print history for its writer when the order is taken in.
    copy_on: Option<String>,
    /// Print size for every print (L, 2L, KG, ...).
    size: String,
    /// Prints per image when the card has no print order (default 1).
    quantity: Option<u32>,
    /// The answer when the registration number's file has another telephone (the intake is
    /// refused with 409 and the question until it is sent): `same` (that person; the
    /// telephone on file is kept) or `new` (register a new customer).
    number_choice: Option<String>,
    /// `1`: read the card in the terminal's reader (`medium_dir`) instead of an upload.
    card: Option<String>,
    /// `qty-<i>` / `size-<i>` (documentation: one pair per image, `i` its index in the
    /// quote's `images`): prints and size of that image; images without one are not printed.
    /// Without any, the card's print order (DPOF) or every image at `size` and `quantity`.
    #[schema(rename = "qty-0")]
    qty_0: Option<u32>,
    /// A ZIP of the card.
    #[schema(value_type = Option<String>, format = Binary)]
    medium: Option<Vec<u8>>,
    /// Image files (one part each), instead of a ZIP.
    #[schema(value_type = Option<Vec<String>>, format = Binary)]
    images: Option<Vec<Vec<u8>>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IntakeReply {
    pub order: String,
    pub reception_number: String,
    pub registration_number: String,
    pub newly_registered: bool,
    pub received_at: DateTime<Utc>,
    pub expected_ready: DateTime<Utc>,
    pub lab: String,
    pub items: Vec<ItemDto>,
    /// The counter's own charge (the lab's is filled in when the prints arrive).
    pub counter_charge: ChargeDto,
    /// Whether a DPOF print order on the card chose the prints.
    pub from_dpof: bool,
    /// The counter where the prints are collected, when not this one (its site id).
    pub pickup_at: Option<String>,
    /// The medium the digital copy is written on (`cd`, `dvd`, `usb_stick`), when ordered.
    pub copy_on: Option<String>,
    /// The printable slip.
    pub slip_url: String,
}

/// One image of the medium as read (its index is what `qty-<i>` and `size-<i>` name).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MediumImageDto {
    pub index: usize,
    pub name: String,
    pub image: String,
    /// The prints the camera's print order (DPOF) asks for, when the card has one.
    pub dpof_quantity: Option<u32>,
}

/// The price before the order (issue 15): this counter's charge by its policy, the lab's by
/// its own (asked on NATS request/reply), or, collected at another counter, that counter's;
/// the total the customer will pay and the ready-by. Nothing is taken in.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IntakeQuoteReply {
    pub images: Vec<MediumImageDto>,
    /// The lines as priced.
    pub items: Vec<ItemDto>,
    pub from_dpof: bool,
    pub counter_charge: ChargeDto,
    pub lab_charge: Option<ChargeDto>,
    /// Why the lab could not be asked now (it then charges at pickup).
    pub lab_unpriced: Option<String>,
    /// Collected at another counter: its site id, its charge or why it could not be asked.
    pub pickup_at: Option<String>,
    pub pickup_charge: Option<ChargeDto>,
    pub pickup_unpriced: Option<String>,
    /// What the customer will pay at pickup (minor units), when every site answered.
    pub total: Option<i64>,
    pub ready_by: Option<DateTime<Utc>>,
}

impl From<&QuoteAnswer> for IntakeQuoteReply {
    fn from(q: &QuoteAnswer) -> IntakeQuoteReply {
        let m = &q.medium;
        let p = &q.price;
        let dpof = |i: usize| {
            m.dpof
                .as_ref()
                .and_then(|c| c.iter().find(|c| c.image == i).map(|c| c.quantity))
        };
        IntakeQuoteReply {
            images: m
                .images
                .iter()
                .enumerate()
                .map(|(index, img)| MediumImageDto {
                    index,
                    name: img.name.clone(),
                    image: img.id.to_hex(),
                    dpof_quantity: dpof(index),
                })
                .collect(),
            items: p
                .items
                .iter()
                .map(|it| ItemDto {
                    image: it.image.to_hex(),
                    name: it.name.clone(),
                    size: it.size.to_string(),
                    quantity: it.quantity,
                })
                .collect(),
            from_dpof: m.dpof.is_some(),
            counter_charge: ChargeDto::from(&p.counter),
            lab_charge: p.lab.as_ref().ok().map(|q| ChargeDto::from(&q.charge)),
            lab_unpriced: p.lab.as_ref().err().cloned(),
            pickup_at: p.pickup_at.as_ref().map(|(place, _)| place.id.to_string()),
            pickup_charge: p
                .pickup_at
                .as_ref()
                .and_then(|(_, q)| q.as_ref().ok())
                .map(|q| ChargeDto::from(&q.charge)),
            pickup_unpriced: p
                .pickup_at
                .as_ref()
                .and_then(|(_, q)| q.as_ref().err().cloned()),
            total: p.total.map(|t| t.minor),
            ready_by: p.ready_by,
        }
    }
}

impl From<&Intake> for IntakeReply {
    fn from(i: &Intake) -> IntakeReply {
        IntakeReply {
            order: i.order.to_string(),
            reception_number: i.reception_number.to_string(),
            registration_number: i.registration_number.clone(),
            newly_registered: i.newly_registered,
            received_at: i.received_at,
            expected_ready: i.expected_ready,
            lab: i.lab.clone(),
            items: i
                .items
                .iter()
                .map(|it| ItemDto {
                    image: it.image.to_hex(),
                    name: it.name.clone(),
                    size: it.size.to_string(),
                    quantity: it.quantity,
                })
                .collect(),
            counter_charge: ChargeDto::from(&i.charge),
            from_dpof: i.from_dpof,
            pickup_at: i.pickup_at.as_ref().map(|p| p.id.to_string()),
            copy_on: i.copy_on.map(|m| m.code().to_string()),
            slip_url: format!("/slip/{}", i.reception_number),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderDto {
    pub order: String,
    pub reception_number: String,
    pub lab: String,
    pub lab_reception: Option<String>,
    pub route: String,
    pub customer_name: String,
    /// placed, received, arrived, ready_for_pickup, collected, settled, rejected, cancelled
    /// (`reprint_domain::counter_order::CounterOrderState`)
    pub state: String,
    pub received_at: Option<DateTime<Utc>>,
    pub expected_ready: Option<DateTime<Utc>>,
    pub arrived_at: Option<DateTime<Utc>>,
    /// For staff: why the lab rejected the order.
    pub notice: Option<String>,
}

impl From<&OrderSummary> for OrderDto {
    fn from(o: &OrderSummary) -> OrderDto {
        OrderDto {
            order: o.order.clone(),
            reception_number: o.reception_number.clone(),
            lab: o.lab.clone(),
            lab_reception: o.lab_reception.clone(),
            route: o.route.clone(),
            customer_name: o.customer_name.clone(),
            state: o.state.clone(),
            received_at: o.received_at,
            expected_ready: o.expected_ready,
            arrived_at: o.arrived_at,
            notice: o.notice.clone(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ArrivalsReply {
    /// Prints arrived, waiting for their customers.
    pub ready: Vec<OrderDto>,
    /// Walk-in orders sent to a lab, prints not here yet.
    pub awaiting: Vec<OrderDto>,
    /// Orders a lab rejected: tell the customer.
    pub notices: Vec<OrderDto>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PickupReply {
    pub order: OrderDto,
    pub registration_number: String,
    pub items: Vec<ItemDto>,
    pub lab_name: String,
    /// The lab's charge, once the prints arrived.
    pub lab_charge: Option<ChargeDto>,
    pub counter_charge: ChargeDto,
    /// Lab charge + counter charge, once the prints arrived.
    pub amount_due: Option<i64>,
    pub currency: String,
    pub can_collect: bool,
    /// The digital copy on a medium, when the order has one: the writer's job.
    pub medium_copy: Option<MediumCopyDto>,
}

/// The digital copy on a medium of an order and where its writer's job stands.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MediumCopyDto {
    /// `cd`, `dvd` or `usb_stick`.
    pub medium: String,
    /// `waiting` (not in the writer's hot folder yet), `written` (there, for the writer's
    /// station to burn) or `failed` (see `words`).
    pub state: String,
    /// In words: "written for the writer: X0000001-usb_stick".
    pub words: String,
}

impl From<&crate::writer::JobRow> for MediumCopyDto {
    fn from(j: &crate::writer::JobRow) -> MediumCopyDto {
        MediumCopyDto {
            medium: j.medium.clone(),
            state: j.state.clone(),
            words: crate::writer::words(j),
        }
    }
}

impl From<&PickupView> for PickupReply {
    fn from(v: &PickupView) -> PickupReply {
        PickupReply {
            order: OrderDto::from(&v.summary),
            registration_number: v.registration_number.clone(),
            items: v
                .reception
                .items
                .iter()
                .map(|it| ItemDto {
                    image: it.image.to_hex(),
                    name: it.name.clone(),
                    size: it.size.to_string(),
                    quantity: it.quantity,
                })
                .collect(),
            lab_name: v.lab_name.clone(),
            lab_charge: v.lab_charge.as_ref().map(ChargeDto::from),
            counter_charge: ChargeDto::from(&v.counter_charge),
            amount_due: v.amount_due.map(|m| m.minor),
            currency: v.counter_charge.total.currency.to_string(),
            can_collect: v.can_collect(),
            medium_copy: v.medium_job.as_ref().map(MediumCopyDto::from),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CollectBody {
    /// cash, card, e-money or qr
    #[schema(pattern = "^(cash|card|e-money|qr)$")]
    pub method: String,
    /// What the customer handed over (minor units); absent for exact payment.
    pub tendered: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReceiptReply {
    pub reception_number: String,
    pub amount_due: i64,
    pub lab_charge: i64,
    pub counter_charge: i64,
    pub method: String,
    pub tendered: i64,
    pub change: i64,
    pub currency: String,
    pub collected_at: DateTime<Utc>,
}

impl From<&Receipt> for ReceiptReply {
    fn from(r: &Receipt) -> ReceiptReply {
        ReceiptReply {
            reception_number: r.reception_number.clone(),
            amount_due: r.amount_due.minor,
            lab_charge: r.lab_charge.minor,
            counter_charge: r.counter_charge.minor,
            method: r.payment.method.clone(),
            tendered: r.payment.tendered.minor,
            change: r.payment.change.minor,
            currency: r.amount_due.currency.to_string(),
            collected_at: r.collected_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MethodDto {
    pub method: String,
    pub count: i64,
    pub total: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LabBalanceDto {
    pub lab: String,
    pub lab_name: String,
    pub collected_today: i64,
    pub settled_today: i64,
    pub collected_total: i64,
    pub settled_total: i64,
    /// Collected for the lab and not yet settled.
    pub owed: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TakingsReply {
    pub date: NaiveDate,
    pub currency: String,
    pub collections: i64,
    pub total: i64,
    pub counter_share: i64,
    pub lab_share: i64,
    pub by_method: Vec<MethodDto>,
    pub by_lab: Vec<LabBalanceDto>,
}

impl From<&Takings> for TakingsReply {
    fn from(t: &Takings) -> TakingsReply {
        TakingsReply {
            date: t.date,
            currency: t.currency.clone(),
            collections: t.collections,
            total: t.total,
            counter_share: t.counter_share,
            lab_share: t.lab_share,
            by_method: t
                .by_method
                .iter()
                .map(|m| MethodDto {
                    method: m.method.clone(),
                    count: m.count,
                    total: m.total,
                })
                .collect(),
            by_lab: t
                .by_lab
                .iter()
                .map(|l| LabBalanceDto {
                    lab: l.lab.clone(),
                    lab_name: l.lab_name.clone(),
                    collected_today: l.collected_today,
                    settled_today: l.settled_today,
                    collected_total: l.collected_total,
                    settled_total: l.settled_total,
                    owed: l.owed(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    pub q: String,
}

#[derive(Debug, Deserialize)]
pub struct DateQuery {
    pub date: Option<String>,
}

// ---------- the multipart intake form, shared with the pages ----------

/// What the intake form carried; the medium's files as they were written to the staging
/// directory on arrival (removed when this is dropped), never held in memory whole.
pub struct IntakeUpload {
    pub request: IntakeRequest,
    pub zip: Option<tempfile::TempPath>,
    pub files: Vec<(String, tempfile::TempPath)>,
    pub csrf: String,
    /// Staff's answer when the registration number's file has another telephone: `same`
    /// (the same person: their telephone on file is used) or `new` (register a new customer).
    pub number_choice: String,
    /// `card=1`: read the card in the terminal's reader (`medium_dir`) instead of an upload.
    pub card: bool,
    /// Per image (its index in the medium, as the quote lists them): prints and size
    /// (`qty-<i>`, `size-<i>`); none: the card's print order (DPOF) or every image at `size`
    /// and `quantity`.
    pub quantities: std::collections::BTreeMap<usize, u32>,
    pub sizes: std::collections::BTreeMap<usize, String>,
}

/// Writes one multipart file field to a new file of `staging` as its chunks arrive; `None` for
/// the empty file input of a page (no name, no bytes).
async fn field_to_disk(
    mut field: axum::extract::multipart::Field<'_>,
    staging: &std::path::Path,
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

fn bad_multipart(e: impl std::fmt::Display) -> CounterError {
    CounterError::Invalid(format!("the upload could not be read: {e}"))
}

pub async fn read_intake_form(
    mut form: Multipart,
    staging: &std::path::Path,
) -> Result<IntakeUpload> {
    let mut request = IntakeRequest {
        customer: CustomerInput::default(),
        lab: String::new(),
        size: "L".into(),
        quantity: 1,
        pickup_at: None,
        copy_on: None,
    };
    let mut zip = None;
    let mut files = Vec::new();
    let mut csrf = String::new();
    let mut number_choice = String::new();
    let mut card = false;
    let mut quantities = std::collections::BTreeMap::new();
    let mut sizes = std::collections::BTreeMap::new();
    while let Some(field) = form.next_field().await.map_err(bad_multipart)? {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "medium" | "images" => {
                let Some((file_name, staged)) = field_to_disk(field, staging).await? else {
                    continue; // an empty file input of the page
                };
                if name == "medium" {
                    if zip.is_some() {
                        return Err(CounterError::Invalid("hand in one ZIP per order".into()));
                    }
                    zip = Some(staged);
                } else {
                    files.push((
                        if file_name.is_empty() {
                            format!("image-{}", files.len() + 1)
                        } else {
                            file_name
                        },
                        staged,
                    ));
                }
            }
            _ => {
                let text = field.text().await.map_err(bad_multipart)?;
                let opt = || Some(text.trim().to_string()).filter(|s| !s.is_empty());
                match name.as_str() {
                    "registration_number" => request.customer.registration_number = opt(),
                    "name" => request.customer.name = text.trim().to_string(),
                    "telephone" => request.customer.telephone = text.trim().to_string(),
                    "address" => request.customer.address = opt(),
                    "email" => request.customer.email = opt(),
                    "lab" => request.lab = text.trim().to_string(),
                    "pickup_at" => request.pickup_at = opt(),
                    "copy_on" => {
                        request.copy_on = match opt().as_deref() {
                            None | Some("none") => None,
                            Some(code) => {
                                Some(reprint_domain::digital_media::DigitalMedium::parse(code)?)
                            }
                        }
                    }
                    "size" => request.size = text.trim().to_string(),
                    "quantity" => {
                        if let Some(q) = opt() {
                            request.quantity = q.parse().map_err(|_| {
                                CounterError::Invalid(format!("quantity {q:?} is not a number"))
                            })?;
                        }
                    }
                    "csrf" => csrf = text,
                    "number_choice" => number_choice = text.trim().to_string(),
                    "card" => card = matches!(text.trim(), "1" | "true" | "on"),
                    other => {
                        let index = |prefix: &str| {
                            other
                                .strip_prefix(prefix)
                                .and_then(|i| i.parse::<usize>().ok())
                        };
                        if let Some(i) = index("qty-") {
                            let q = text.trim();
                            let n = q.parse::<u32>().map_err(|_| {
                                CounterError::Invalid(format!(
                                    "{other} = {q:?} is not a number of prints"
                                ))
                            })?;
                            quantities.insert(i, n);
                        } else if let Some(i) = index("size-") {
                            sizes.insert(i, text.trim().to_string());
                        }
                    }
                }
            }
        }
    }
    Ok(IntakeUpload {
        request,
        zip,
        files,
        csrf,
        number_choice,
        card,
        quantities,
        sizes,
    })
}

/// The medium of an upload: the card in the terminal's reader (`card=1`), a ZIP or files.
async fn read_upload_medium(
    counter: &crate::state::Counter,
    card: bool,
    zip: Option<tempfile::TempPath>,
    files: Vec<(String, tempfile::TempPath)>,
) -> Result<Medium> {
    let limits = counter.config.uploads.clone();
    let staging = counter.spool.staging();
    let card_dir = match (card, &counter.config.medium_dir) {
        (true, Some(dir)) => Some(dir.clone()),
        (true, None) => {
            return Err(CounterError::Invalid(
                "this terminal has no card reader configured (medium_dir)".into(),
            ));
        }
        (false, _) => None,
    };
    tokio::task::spawn_blocking(move || match (card_dir, zip, files.is_empty()) {
        (Some(_), Some(_), _) | (Some(_), _, false) => Err(CounterError::Invalid(
            "read the card or hand in a ZIP or files, not both".into(),
        )),
        (Some(dir), None, true) => {
            if !dir.is_dir() {
                return Err(CounterError::Invalid(
                    "there is no card in the reader: insert it and read it again".into(),
                ));
            }
            medium::read_dir_as(&dir, &limits, &staging, medium::Reading::Strict)
                .map_err(CounterError::from)
        }
        (None, Some(_), false) => Err(CounterError::Invalid(
            "hand in a ZIP or image files, not both".into(),
        )),
        (None, Some(zip), true) => {
            let file = std::fs::File::open(&zip).map_err(|e| {
                CounterError::Internal(format!("the upload written to disk is gone: {e}"))
            })?;
            medium::read_zip(std::io::BufReader::new(file), &limits, &staging)
                .map_err(CounterError::from)
        }
        (None, None, false) => {
            // The uploaded files stay on disk (and are removed) with `files`.
            let paths = files
                .iter()
                .map(|(name, path)| (name.clone(), path.to_path_buf()))
                .collect();
            medium::read_files(paths, &limits, &staging).map_err(CounterError::from)
        }
        (None, None, true) => Err(CounterError::Invalid(
            "no medium: attach a ZIP of the card or the image files, or read the card (card=1)"
                .into(),
        )),
    })
    .await
    .map_err(|e| CounterError::Internal(format!("medium reader: {e}")))?
}

/// The prints of each image staff chose (`qty-<i>`, `size-<i>`), or `None` for the card's
/// print order (DPOF) or every image at the one size and quantity.
fn chosen(
    request: &IntakeRequest,
    medium: &Medium,
    quantities: &std::collections::BTreeMap<usize, u32>,
    sizes: &std::collections::BTreeMap<usize, String>,
) -> Result<Option<Vec<intake::Choice>>> {
    if quantities.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for (&image, &quantity) in quantities {
        if image >= medium.images.len() {
            return Err(CounterError::Invalid(format!(
                "qty-{image}: the medium has {} images (0 to {})",
                medium.images.len(),
                medium.images.len().saturating_sub(1)
            )));
        }
        let size = sizes.get(&image).unwrap_or(&request.size);
        out.push(intake::Choice {
            image,
            size: reprint_domain::PrintSize::parse(size.trim())?,
            quantity,
        });
    }
    Ok(Some(out))
}

/// What an intake and its quote both do with an upload: the request checked, staff's answer to
/// the number question applied, the medium read and the prints chosen.
async fn prepare(
    state: &AppState,
    upload: IntakeUpload,
) -> Result<(IntakeRequest, Medium, Option<Vec<intake::Choice>>)> {
    let counter = state.counter.clone();
    intake::check_request(&counter, &upload.request)?;
    let IntakeUpload {
        mut request,
        zip,
        files,
        number_choice,
        card,
        quantities,
        sizes,
        ..
    } = upload;
    // The same question as the page's (issue 15): a registration number whose file has another
    // telephone is never registered over silently.
    number_question(&counter, &mut request, &number_choice).await?;
    let medium = read_upload_medium(&counter, card, zip, files).await?;
    let choices = chosen(&request, &medium, &quantities, &sizes)?;
    Ok((request, medium, choices))
}

/// Reads the medium and takes the order in.
pub async fn run_intake(state: &AppState, upload: IntakeUpload) -> Result<Intake> {
    let (request, medium, choices) = prepare(state, upload).await?;
    let counter = &state.counter;
    let now = counter.clock.now();
    intake::take_in_chosen(counter, &request, &medium, choices.as_deref(), now).await
}

/// Reads the medium and prices the order (nothing is taken in).
pub async fn run_quote(state: &AppState, upload: IntakeUpload) -> Result<QuoteAnswer> {
    let (request, medium, choices) = prepare(state, upload).await?;
    let counter = &state.counter;
    let now = counter.clock.now();
    let price = intake::price(counter, &request, &medium, choices.as_deref(), now).await?;
    Ok(QuoteAnswer { medium, price })
}

/// A medium read and priced.
pub struct QuoteAnswer {
    pub medium: Medium,
    pub price: intake::Price,
}

/// Applies staff's answer to the number check (`intake::check_number`), or refuses with 409
/// and the question in words when the registration number's file has another telephone and no
/// answer (`number_choice` = `same` or `new`) was sent.
async fn number_question(
    counter: &crate::state::Counter,
    request: &mut IntakeRequest,
    choice: &str,
) -> Result<()> {
    let check = intake::check_number(counter, request).await?;
    let reprint_site::NumberCheck::OtherTelephone {
        number,
        name,
        telephone_on_file,
        telephone_given,
    } = check
    else {
        return Ok(());
    };
    match choice {
        "same" => request.customer.telephone = telephone_on_file,
        "new" => request.customer.registration_number = None,
        "" => {
            return Err(CounterError::Conflict(format!(
                "registration number {number} is the file of {name} with another telephone ({telephone_on_file}, not {telephone_given}); nothing was taken in. Ask the customer: send number_choice=same if they are that person (the telephone on file is kept), or number_choice=new to register them as a new customer"
            )));
        }
        other => {
            return Err(CounterError::Invalid(format!(
                "number_choice {other:?} is neither \"same\" nor \"new\""
            )));
        }
    }
    Ok(())
}

// ---------- handlers ----------

#[utoipa::path(post, path = "/api/v1/login", request_body = LoginBody,
    responses((status = 200, body = LoginReply), (status = 401, description = "wrong name or password")))]
async fn login(
    State(state): State<AppState>,
    handle: reprint_service::session::Handle,
    reprint_service::auth::Source(source): reprint_service::auth::Source,
    Json(body): Json<LoginBody>,
) -> Result<Json<LoginReply>> {
    let session = auth::log_in(&state, &handle, &body.name, &body.password, &source).await?;
    Ok(Json(LoginReply {
        staff: session.user.clone(),
        csrf_token: session.csrf_token(&state.key),
    }))
}

/// The intake form of the JSON API (an intake or its quote), from staff with the session's
/// CSRF token, its files written to the staging directory as they arrive.
async fn read_upload(
    state: &AppState,
    staff: &ApiStaff,
    headers: &HeaderMap,
    form: Multipart,
) -> Result<IntakeUpload> {
    staff.check_csrf(state, headers)?;
    read_intake_form(form, &state.counter.spool.staging()).await
}

#[utoipa::path(post, path = "/api/v1/intake",
    request_body(content = IntakeForm, content_type = "multipart/form-data"),
    responses((status = 201, body = IntakeReply), (status = 413, description = "medium over the limits"),
        (status = 409, description = "the registration number's file has another telephone: send number_choice (same or new)"),
        (status = 422, description = "not a ZIP, unsafe entry name, non-image, damaged DPOF, unknown lab, unknown pickup counter ...")))]
async fn post_intake(
    State(state): State<AppState>,
    staff: ApiStaff,
    headers: HeaderMap,
    form: Multipart,
) -> Result<Response> {
    let upload = read_upload(&state, &staff, &headers, form).await?;
    let intake = run_intake(&state, upload).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(IntakeReply::from(&intake)),
    )
        .into_response())
}

#[utoipa::path(post, path = "/api/v1/intake/quote",
    request_body(content = IntakeForm, content_type = "multipart/form-data"),
    responses((status = 200, body = IntakeQuoteReply), (status = 413, description = "medium over the limits"),
        (status = 409, description = "the registration number's file has another telephone: send number_choice (same or new)"),
        (status = 422, description = "not a ZIP, unsafe entry name, non-image, damaged DPOF, unknown lab, unknown pickup counter ...")))]
async fn post_intake_quote(
    State(state): State<AppState>,
    staff: ApiStaff,
    headers: HeaderMap,
    form: Multipart,
) -> Result<Json<IntakeQuoteReply>> {
    let upload = read_upload(&state, &staff, &headers, form).await?;
    let answer = run_quote(&state, upload).await?;
    Ok(Json(IntakeQuoteReply::from(&answer)))
}

/// A parcel's label as staff scanned or typed it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckInBody {
    /// The lab's reception number on the parcel (or this counter's slip number or code, or
    /// the lab's packing list code): at least one character that is not a space.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub label: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckInReply {
    /// The order checked in (the first of a packing list).
    pub order: OrderDto,
    /// False when the parcel was checked in before (nothing changed).
    pub made_ready: bool,
    /// Every order the scan checked in: one for a parcel's label, each reception of a
    /// packing list's code (`REPRINT-PARCEL|<lab>|<counter>|<receptions>`).
    pub orders: Vec<CheckedInDto>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckedInDto {
    pub order: OrderDto,
    pub made_ready: bool,
}

/// Checks a parcel in (`check_in_parcels`): the order the lab dispatched becomes ready for
/// pickup, as on the arrivals page.
#[utoipa::path(post, path = "/api/v1/arrivals/check-in", request_body = CheckInBody,
    responses((status = 200, body = CheckInReply), (status = 404, description = "no order with that label here"),
        (status = 409, description = "the lab has not dispatched it yet")))]
async fn check_in(
    State(state): State<AppState>,
    staff: ApiStaff,
    headers: HeaderMap,
    Json(body): Json<CheckInBody>,
) -> Result<Json<CheckInReply>> {
    staff.check_csrf(&state, &headers)?;
    if body.label.chars().count() > 200 {
        return Err(CounterError::Invalid(
            "a parcel's label is at most 200 characters".into(),
        ));
    }
    let done =
        pickup::check_in_scan(&state.counter, &body.label, state.counter.clock.now()).await?;
    let orders: Vec<CheckedInDto> = done
        .iter()
        .map(|d| CheckedInDto {
            order: OrderDto::from(&d.order),
            made_ready: d.made_ready,
        })
        .collect();
    let first = done.first().ok_or_else(|| {
        CounterError::NotFound(format!("nothing to check in for {:?}", body.label.trim()))
    })?;
    Ok(Json(CheckInReply {
        order: OrderDto::from(&first.order),
        made_ready: first.made_ready,
        orders,
    }))
}

#[utoipa::path(get, path = "/api/v1/arrivals", responses((status = 200, body = ArrivalsReply)))]
async fn arrivals(State(state): State<AppState>, _staff: ApiStaff) -> Result<Json<ArrivalsReply>> {
    let c = &state.counter;
    Ok(Json(ArrivalsReply {
        ready: pickup::orders_in(c, &[CounterOrderState::ReadyForPickup], 500)
            .await?
            .iter()
            .map(OrderDto::from)
            .collect(),
        awaiting: pickup::orders_in(c, &CounterOrderState::AWAITING, 500)
            .await?
            .iter()
            .map(OrderDto::from)
            .collect(),
        notices: pickup::orders_in(c, &[CounterOrderState::Rejected], 100)
            .await?
            .iter()
            .map(OrderDto::from)
            .collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/pickups", params(("q" = String, Query, min_length = 1, max_length = 200, pattern = "\\S", description = "slip number (this counter's or the lab's), scanned slip code, or telephone")),
    responses((status = 200, body = [OrderDto]), (status = 404), (status = 422, description = "another counter's slip")))]
async fn search(
    State(state): State<AppState>,
    _staff: ApiStaff,
    Query(q): Query<SearchQuery>,
) -> Result<Json<Vec<OrderDto>>> {
    Ok(Json(
        pickup::find(&state.counter, &q.q)
            .await?
            .iter()
            .map(OrderDto::from)
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/v1/pickups/{reception}", params(("reception" = String, Path)),
    responses((status = 200, body = PickupReply), (status = 404)))]
async fn pickup_view(
    State(state): State<AppState>,
    _staff: ApiStaff,
    Path(reception): Path<String>,
) -> Result<Json<PickupReply>> {
    Ok(Json(PickupReply::from(
        &pickup::view(&state.counter, &reception).await?,
    )))
}

#[utoipa::path(post, path = "/api/v1/pickups/{reception}/collect", params(("reception" = String, Path)), request_body = CollectBody,
    responses((status = 200, body = ReceiptReply), (status = 409, description = "not arrived, already collected or cancelled"),
        (status = 422, description = "tendered less than due, unknown method")))]
async fn collect(
    State(state): State<AppState>,
    staff: ApiStaff,
    headers: HeaderMap,
    Path(reception): Path<String>,
    Json(body): Json<CollectBody>,
) -> Result<Json<ReceiptReply>> {
    staff.check_csrf(&state, &headers)?;
    let receipt = pickup::collect(
        &state.counter,
        &reception,
        &PaymentInput {
            method: body.method,
            tendered: body.tendered,
        },
        &staff.0.user,
        state.counter.clock.now(),
    )
    .await?;
    Ok(Json(ReceiptReply::from(&receipt)))
}

pub fn parse_date(state: &AppState, date: Option<&str>) -> Result<NaiveDate> {
    match date.map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(takings::today(&state.counter, state.counter.clock.now())),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| CounterError::Invalid(format!("date {d:?} is not YYYY-MM-DD"))),
    }
}

#[utoipa::path(get, path = "/api/v1/takings", params(("date" = Option<String>, Query, format = Date, description = "YYYY-MM-DD on the counter's calendar; today by default")),
    responses((status = 200, body = TakingsReply), (status = 422, description = "not a date (YYYY-MM-DD)")))]
async fn get_takings(
    State(state): State<AppState>,
    _staff: ApiStaff,
    Query(q): Query<DateQuery>,
) -> Result<Json<TakingsReply>> {
    // The API takes the date as its document says (YYYY-MM-DD, or none for today); the pages'
    // blank field is theirs.
    if let Some(d) = q
        .date
        .as_deref()
        .filter(|d| d.len() != 10 || d.trim() != *d)
    {
        return Err(CounterError::Invalid(format!(
            "date {d:?} is not YYYY-MM-DD"
        )));
    }
    let date = parse_date(&state, q.date.as_deref())?;
    Ok(Json(TakingsReply::from(
        &takings::takings(&state.counter, date).await?,
    )))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "reprint counter",
        description = "The reception/delivery counter of seed 004: walk-in intake, arrivals, pickup with one payment, takings."
    ),
    paths(
        login,
        post_intake,
        post_intake_quote,
        arrivals,
        check_in,
        search,
        pickup_view,
        collect,
        get_takings,
        crate::web::takings::statements_json,
        crate::web::takings::issue_json,
        crate::web::takings::till_json
    ),
    components(schemas(
        LoginBody,
        LoginReply,
        LineDto,
        ChargeDto,
        ItemDto,
        IntakeForm,
        IntakeReply,
        MediumImageDto,
        IntakeQuoteReply,
        CheckInBody,
        CheckInReply,
        CheckedInDto,
        OrderDto,
        ArrivalsReply,
        PickupReply,
        MediumCopyDto,
        CollectBody,
        ReceiptReply,
        MethodDto,
        LabBalanceDto,
        TakingsReply,
        crate::web::takings::StatementDto,
        crate::web::takings::StatementLineDto,
        crate::web::takings::IssueRequest,
        crate::web::takings::IssuedDto,
        crate::web::takings::TillRequest,
        crate::web::takings::TillDto
    )),
    // The refusals in front of every handler (400, 401, 403, 404, 413, 415, 422; issue 13).
    modifiers(&REFUSALS)
)]
pub struct ApiDoc;

/// The refusals in front of every handler; log-in needs no session.
const REFUSALS: reprint_service::problem::DeclareRefusals =
    reprint_service::problem::DeclareRefusals(&["/api/v1/login"]);

async fn openapi() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}

pub fn routes(state: AppState) -> Router {
    let upload_limit =
        usize::try_from(state.counter.config.uploads.max_request_bytes).unwrap_or(usize::MAX);
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/login", post(login))
        .route(
            "/api/v1/intake",
            post(post_intake).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/api/v1/intake/quote",
            post(post_intake_quote).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/api/v1/arrivals", get(arrivals))
        .route("/api/v1/arrivals/check-in", post(check_in))
        .route("/api/v1/pickups", get(search))
        .route("/api/v1/pickups/{reception}", get(pickup_view))
        .route("/api/v1/pickups/{reception}/collect", post(collect))
        .route("/api/v1/takings", get(get_takings))
        .with_state(state)
}
