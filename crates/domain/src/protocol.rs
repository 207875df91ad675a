//! The messages sites send each other over the bus (the integration events of DESIGN section 3).
//! One type per subject of `reprint_bus::subjects`; JSON on the wire, each with a schema version
//! in its name so a changed message is a new type, never a silent reinterpretation.
//!
//! | message | subject (recipient) | sent by |
//! |---|---|---|
//! | [`OrderPlaced`] | `lab.<lab>.order.placed` | gateway (Fig. 1 ①) or counter (Fig. 2 ③) |
//! | [`OrderRejected`] | `<gateway\|counter>.<sender>.order.rejected` | the lab |
//! | [`ReceptionRecorded`] | `<gateway\|counter>.<sender>.reception.recorded` | the lab (Fig. 1 S307: the slip) |
//! | [`DeliveryDispatched`] | `counter.<counter>.delivery.dispatched` | the lab (Fig. 1 ③, Fig. 2 ④) |
//! | [`OrderCancelled`] | `lab.<lab>.order.cancelled` | the gateway, before printing starts |
//! | [`CollectionRecorded`] | `lab.<lab>.collection.recorded` | the counter (Fig. 1 ④⑤, Fig. 2 ⑤⑥) |
//! | [`SettlementRecorded`] | `lab.<lab>.settlement.recorded` | the counter, paying the lab's share |
//! | [`StatementIssued`] | `lab.<lab>.statement.issued` | the counter, listing the lab's share collected |
//! | [`StatementConfirmed`] | `counter.<counter>.statement.confirmed` | the lab, confirming a statement |
//! | [`StatusChanged`] | `status.<sender>.<order>` | the site that moves the order on |

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::charge::{Charge, EarlierPrint};
use crate::extract::FileExtract;
use crate::file::{DataReceive, Route};
use crate::{Currency, ImageId, Money, OrderId, PrintSize, SiteId, SiteKind};

/// Who placed an order and so hears back about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Sender {
    Gateway(SiteId),
    Counter(SiteId),
}

/// The data identifying the user that comes with an order (seed: user name, own telephone
/// number, and the registration number if registered before).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub name: String,
    pub telephone: String,
    pub address: Option<String>,
    pub email: Option<String>,
    /// The user's registration number at the receiving site, when they have one.
    pub registration_number: Option<String>,
}

/// One image of an order with its prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlacedItem {
    /// The original's id: its bytes are in the object store under this id.
    pub image: ImageId,
    pub name: String,
    pub size: PrintSize,
    pub quantity: u32,
    /// An edit list (JSON of `reprint_media`'s edit list) applied at print time; the edited
    /// image is the original plus this, never new bytes (seed 000, claims 7 and 16).
    pub edits: Option<String>,
    /// The 64-bit perceptual hash, when the sender computed it.
    pub perceptual_hash: Option<u64>,
    /// Earlier prints the sender found (history embedded in the image or in its ZIP).
    pub history: Vec<EarlierPrint>,
}

/// An order for a lab. The order id is the idempotency key end to end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub order: OrderId,
    pub route: Route,
    pub sender: Sender,
    pub lab: SiteId,
    pub delivery_counter: SiteId,
    pub placed_at: DateTime<Utc>,
    pub data_receive: Option<DataReceive>,
    /// The currency the sender quoted in; a lab in another currency rejects the order.
    pub currency: Currency,
    pub customer: Customer,
    pub items: Vec<PlacedItem>,
    /// Fig. 2: the counter's extract of its file (its reception number and its registration).
    pub counter_extract: Option<FileExtract>,
    /// The lab's digital copy besides the prints: each original with its print history in a
    /// ZIP container (seed 004), written when the prints are finished. Absent in older
    /// messages, which decode as `false` (no copy).
    #[serde(default)]
    pub digital_copy: bool,
    /// Fig. 1: the user's registration number at the **delivery counter**, when the sender
    /// holds one for the account (the number that counter's `ready_for_pickup` status of an
    /// earlier order gave it, see [`StatusWithRegistration`]). The lab never uses it: it passes
    /// it on in [`DeliveryDispatched::counter_registration_number`], and the counter finds its
    /// file of a web user by it alone. Absent in older messages and in a counter's own orders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter_registration_number: Option<String>,
    /// The colour profile of an image that has none embedded (seed 000, claim 4: "ICC
    /// profiles" in the order information), by image: the lab converts from it instead of
    /// taking the image as sRGB. An embedded profile still wins. Absent in older messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_profiles: Vec<ImageProfile>,
}

/// The source colour profile an order gives one of its images ([`OrderPlaced::source_profiles`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageProfile {
    pub image: ImageId,
    pub profile: SourceProfile,
}

/// A source colour profile as an order carries it: `{"named": "Adobe RGB (1998)"}` (one of
/// [`WELL_KNOWN_PROFILES`]) or `{"icc": "<the .icc file, base64>"}` (at most
/// [`MAX_SOURCE_PROFILE`] bytes decoded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceProfile {
    Named(String),
    Icc(String),
}

/// The profiles an order may name: what cameras, phones and editors write most.
pub const WELL_KNOWN_PROFILES: [&str; 3] = ["sRGB", "Adobe RGB (1998)", "Display P3"];

/// The largest profile an order carries, decoded (a matrix profile is under 4 KiB; the order
/// travels in one bus message, so a profile of the size an image may embed does not fit).
pub const MAX_SOURCE_PROFILE: usize = 64 * 1024;

/// The most profile bytes (base64) one order carries in all.
pub const MAX_SOURCE_PROFILES_TOTAL: usize = 256 * 1024;

impl SourceProfile {
    /// The well-known name this stands for, spelt as in [`WELL_KNOWN_PROFILES`] (any case).
    pub fn well_known(&self) -> Option<&'static str> {
        match self {
            SourceProfile::Named(n) => WELL_KNOWN_PROFILES
                .into_iter()
                .find(|k| k.eq_ignore_ascii_case(n.trim())),
            SourceProfile::Icc(_) => None,
        }
    }

    /// The profile's bytes, for an `icc` profile; `None` for a name.
    pub fn icc_bytes(&self) -> Option<Result<Vec<u8>, String>> {
        match self {
            SourceProfile::Named(_) => None,
            SourceProfile::Icc(b64) => Some(decode_profile(b64)),
        }
    }

    /// Refuses an unknown name, a profile that is not base64, too large, or not an RGB ICC
    /// profile, in words for the client.
    pub fn check(&self) -> Result<(), String> {
        match self {
            SourceProfile::Named(n) => self.well_known().map(|_| ()).ok_or_else(|| {
                format!(
                    "unknown colour profile {:?}: name one of {}, or send the profile itself (icc, base64)",
                    // Said back as far as a name goes, not a whole request's worth.
                    n.chars().take(64).collect::<String>(),
                    WELL_KNOWN_PROFILES.join(", ")
                )
            }),
            SourceProfile::Icc(_) => {
                let bytes = self.icc_bytes().unwrap_or_else(|| Ok(Vec::new()))?;
                // The ICC header: size, the 'acsp' signature, the data colour space.
                let declared = bytes
                    .get(0..4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
                if bytes.len() < 132 || bytes.get(36..40) != Some(b"acsp") {
                    return Err("the colour profile is not an ICC profile".into());
                }
                if declared != Some(bytes.len()) {
                    return Err("the colour profile is cut off or has extra bytes".into());
                }
                if bytes.get(16..20) != Some(b"RGB ") {
                    return Err("the colour profile is not for RGB images".into());
                }
                Ok(())
            }
        }
    }
}

/// Checks an order's source profiles: each ([`SourceProfile::check`]) for an image of the
/// order, once, within [`MAX_SOURCE_PROFILES_TOTAL`].
pub fn check_source_profiles(
    profiles: &[ImageProfile],
    items: &[PlacedItem],
) -> Result<(), String> {
    let mut total = 0usize;
    for (i, p) in profiles.iter().enumerate() {
        if !items.iter().any(|it| it.image == p.image) {
            return Err(format!(
                "source profile {}: image {} is not in the order",
                i + 1,
                p.image.to_hex()
            ));
        }
        if profiles[..i].iter().any(|q| q.image == p.image) {
            return Err(format!(
                "source profile {}: image {} has a profile already",
                i + 1,
                p.image.to_hex()
            ));
        }
        p.profile
            .check()
            .map_err(|e| format!("source profile {}: {e}", i + 1))?;
        if let SourceProfile::Icc(b) = &p.profile {
            total += b.len();
        }
    }
    if total > MAX_SOURCE_PROFILES_TOTAL {
        return Err(format!(
            "the order's colour profiles come to {total} bytes; at most {MAX_SOURCE_PROFILES_TOTAL}"
        ));
    }
    Ok(())
}

/// A profile as an order or a catalog carries it (base64), when it is at most
/// [`MAX_SOURCE_PROFILE`] bytes.
pub fn encode_profile(bytes: &[u8]) -> Option<String> {
    use base64::Engine;
    (bytes.len() <= MAX_SOURCE_PROFILE)
        .then(|| base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn decode_profile(b64: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    // Decoded is 3/4 of encoded: refused before decoding when too long.
    if b64.len() > MAX_SOURCE_PROFILE.div_ceil(3) * 4 + 4 {
        return Err(format!(
            "the colour profile is larger than {MAX_SOURCE_PROFILE} bytes"
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("the colour profile is not base64: {e}"))?;
    if bytes.len() > MAX_SOURCE_PROFILE {
        return Err(format!(
            "the colour profile is larger than {MAX_SOURCE_PROFILE} bytes"
        ));
    }
    Ok(bytes)
}

impl OrderPlaced {
    /// The source profile the order gives `image`, if any.
    pub fn source_profile(&self, image: &ImageId) -> Option<&SourceProfile> {
        self.source_profiles
            .iter()
            .find(|p| p.image == *image)
            .map(|p| &p.profile)
    }
}

/// Why a lab cannot fulfil an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    UnknownSize,
    ImageMissing,
    WrongCurrency,
    UnknownCounter,
    InvalidOrder,
    ByOperator,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRejected {
    pub order: OrderId,
    pub lab: SiteId,
    pub code: RejectCode,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// The lab's reception record: the extract of its file that the user prints as a slip and
/// presents at the delivery counter (Fig. 1, steps S307-S308).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceptionRecorded {
    pub order: OrderId,
    pub lab: SiteId,
    pub extract: FileExtract,
    pub estimated_finish: Option<DateTime<Utc>>,
}

/// Prints shipped to the delivery counter, with the lab's file extract (Fig. 1 step S310).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryDispatched {
    pub order: OrderId,
    pub lab: SiteId,
    pub counter: SiteId,
    pub dispatched_at: DateTime<Utc>,
    pub extract: FileExtract,
    /// The customer as the sender gave them (the counter's own file is found or made from it).
    pub customer: Customer,
    /// Fig. 2: the counter's own reception number, echoed back.
    pub counter_reception: Option<String>,
    /// Fig. 1: the user's registration number at this counter as the order's sender holds it
    /// ([`OrderPlaced::counter_registration_number`], passed on by the lab). An internet
    /// order's customer is found in the counter's files by this number only (with the file's
    /// telephone); without one they are new here. `customer.registration_number` is the
    /// lab's, never used by the counter. Absent in older messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter_registration_number: Option<String>,
}

/// How the user paid at the counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub method: String,
    pub tendered: Money,
    pub change: Money,
}

/// The user cancelled the order (seed 000: a client may withdraw an order the fulfilment
/// system has not started on). The lab cancels its reception if printing has not started;
/// otherwise the order goes on and the lab says so in the order's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCancelled {
    pub order: OrderId,
    pub lab: SiteId,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// The prints were handed over and paid for, in one payment of both charges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionRecorded {
    pub order: OrderId,
    pub counter: SiteId,
    pub lab: SiteId,
    pub lab_reception: String,
    pub collected_at: DateTime<Utc>,
    pub lab_charge: Money,
    pub counter_charge: Money,
    pub payment: Payment,
}

/// The counter pays the lab its share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementRecorded {
    pub settlement: uuid::Uuid,
    pub order: OrderId,
    pub counter: SiteId,
    pub lab: SiteId,
    pub lab_reception: String,
    pub amount: Money,
    pub at: DateTime<Utc>,
}

/// The counter's periodic statement of the lab's share it collected (issue 15): the orders
/// collected for the lab up to and including `through` and on no statement before. The lab
/// checks it (`reprint_domain::statement::check_statement`) and confirms it; the orders are
/// settled when it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementIssued {
    pub statement: uuid::Uuid,
    pub counter: SiteId,
    pub lab: SiteId,
    /// The last day (on the counter's calendar) the statement covers.
    pub through: chrono::NaiveDate,
    pub lines: Vec<crate::statement::Line>,
    pub total: Money,
    pub issued_at: DateTime<Utc>,
}

/// The lab confirms a statement it received: the same statement, number of orders and total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementConfirmed {
    pub statement: uuid::Uuid,
    pub counter: SiteId,
    pub lab: SiteId,
    pub orders: usize,
    pub total: Money,
    pub confirmed_by: String,
    pub confirmed_at: DateTime<Utc>,
}

/// Where an order is, as the user sees it on the gateway's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Placed,
    Received,
    Printing,
    Printed,
    Dispatched,
    ReadyForPickup,
    Collected,
    Settled,
    Rejected,
    Cancelled,
}

impl Stage {
    /// A stage after which nothing more happens to the order.
    pub fn is_final(&self) -> bool {
        matches!(self, Stage::Settled | Stage::Rejected | Stage::Cancelled)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Stage::Placed => "placed",
            Stage::Received => "received",
            Stage::Printing => "printing",
            Stage::Printed => "printed",
            Stage::Dispatched => "dispatched",
            Stage::ReadyForPickup => "ready_for_pickup",
            Stage::Collected => "collected",
            Stage::Settled => "settled",
            Stage::Rejected => "rejected",
            Stage::Cancelled => "cancelled",
        }
    }
}

/// An order moved on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChanged {
    pub order: OrderId,
    pub stage: Stage,
    pub site: SiteId,
    pub site_kind: SiteKind,
    pub at: DateTime<Utc>,
    /// For people: "reception B0000456, ready about 2026-11-22 15:00", "rejected: ...".
    pub detail: String,
    /// The amounts known at this stage (the lab's charge at `received`, the amount due at
    /// `ready_for_pickup`).
    pub charge: Option<Charge>,
}

/// A [`StatusChanged`] with the customer's registration number at the site that sends it: on
/// the wire one JSON object, the status's keys and `registration_number` (absent when there is
/// none), so every reader of a plain [`StatusChanged`] reads it as before and a plain status
/// reads as one of these without a number.
///
/// A delivery counter sends it with `ready_for_pickup` of an internet order (Fig. 1 step 4):
/// the number of the file it found or made for the customer. The order's sender (the gateway)
/// keeps it for the account and that counter, and sends it with its next quote request and
/// order for that counter ([`OrderPlaced::counter_registration_number`]), so the counter finds
/// the same file (Fig. 9's repeat discount) and nobody else's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusWithRegistration {
    #[serde(flatten)]
    pub status: StatusChanged,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_number: Option<String>,
}

/// Request/reply on `reprint.v1.rpc.<site>.quote`: what this site would charge this customer
/// for these prints now, by its own policy and its own file of them (nothing is recorded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuoteRequest {
    pub customer: Customer,
    pub items: Vec<PlacedItem>,
    pub at: DateTime<Utc>,
    /// The lab's digital copy besides the prints (as [`OrderPlaced::digital_copy`]): a lab
    /// quotes its line; a counter, which does not make it, ignores it. Absent in older
    /// requests, which read as `false`; left out when `false`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub digital_copy: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteReply {
    pub site: SiteId,
    pub site_kind: SiteKind,
    pub charge: Charge,
    /// When the prints would be ready (labs only).
    pub estimated_finish: Option<DateTime<Utc>>,
}

/// One product in a site's catalog (seed 000, claims 11, 25, 29).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogProduct {
    /// `print:L`, `print:2L`, ..., `digital-copy:zip`.
    pub code: String,
    pub description: String,
    pub size: Option<PrintSize>,
    pub unit_price: Money,
}

/// Request/reply on `reprint.v1.rpc.<site>.catalog` (the request body is `{}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogReply {
    pub site: SiteId,
    pub site_kind: SiteKind,
    pub name: String,
    pub basic_charge: Money,
    pub products: Vec<CatalogProduct>,
    /// Names of the ICC profiles of the site's printers.
    pub icc_profiles: Vec<String>,
    /// The discount policy in words ("basic charge free within 7 days of your previous order
    /// here, 50 % off within 1 month").
    pub policy_summary: String,
    /// Each printer's ICC output profile with its printer and paper (claims 4, 25); empty in
    /// a reply of an older version and from a site without printers of its own.
    #[serde(default)]
    pub printer_profiles: Vec<PrinterProfile>,
}

/// A printer's ICC output profile as a site's catalog lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrinterProfile {
    /// The profile's name, as in [`CatalogReply::icc_profiles`] ("sRGB" or the file name).
    pub name: String,
    /// The profile's own description (its `desc` tag).
    pub description: String,
    /// The printer's name.
    pub printer: String,
    /// The paper the profile was made for, when the site says.
    pub paper: Option<String>,
    /// The print sizes the printer makes.
    pub sizes: Vec<PrintSize>,
    /// The profile itself (base64), for a client to soft-proof with; absent when larger than
    /// [`MAX_SOURCE_PROFILE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icc: Option<String>,
}

/// Request/reply on `reprint.v1.rpc.<site>.locale` (claim 12; the request body is `{}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocaleReply {
    pub site: SiteId,
    pub currency: Currency,
    pub language: String,
    pub time_zone: String,
    pub sizes: Vec<PrintSize>,
}

impl PlacedItem {
    /// The line of a site's reception this item becomes.
    pub fn order_item(&self) -> crate::OrderItem {
        crate::OrderItem {
            image: self.image,
            name: self.name.clone(),
            size: self.size,
            quantity: self.quantity,
        }
    }
}

/// The lines of a site's reception for these items.
pub fn order_items(items: &[PlacedItem]) -> Vec<crate::OrderItem> {
    items.iter().map(PlacedItem::order_item).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ready() -> StatusChanged {
        StatusChanged {
            order: OrderId::from_parts(1_700_000_000_000, [3; 10]),
            stage: Stage::ReadyForPickup,
            site: SiteId::parse("counter-ginza").unwrap(),
            site_kind: SiteKind::Counter,
            at: Utc.with_ymd_and_hms(2026, 11, 18, 1, 0, 0).unwrap(),
            detail: "ready for pickup".into(),
            charge: None,
        }
    }

    #[test]
    fn a_status_with_a_registration_number_is_a_status_with_one_more_key() {
        let with = StatusWithRegistration {
            status: ready(),
            registration_number: Some("W0000001".into()),
        };
        let json = serde_json::to_value(&with).unwrap();
        assert_eq!(json["registration_number"], "W0000001");
        assert_eq!(json["stage"], "ready_for_pickup");
        // Every reader of a plain status reads it as before.
        let plain: StatusChanged = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(plain, ready());
        let back: StatusWithRegistration = serde_json::from_value(json).unwrap();
        assert_eq!(back, with);
        // A plain status is one without a number, and writes no such key.
        let plain = serde_json::to_value(ready()).unwrap();
        let read: StatusWithRegistration = serde_json::from_value(plain).unwrap();
        assert_eq!(read.registration_number, None);
        let without = StatusWithRegistration {
            status: ready(),
            registration_number: None,
        };
        assert_eq!(
            serde_json::to_value(&without).unwrap(),
            serde_json::to_value(ready()).unwrap()
        );
    }

    #[test]
    fn older_orders_and_deliveries_read_without_a_counter_registration_number() {
        let json = serde_json::json!({
            "order": OrderId::from_parts(1_700_000_000_000, [4; 10]),
            "route": "internet",
            "sender": {"kind": "gateway", "id": "gw-1"},
            "lab": "lab-a",
            "delivery_counter": "counter-ginza",
            "placed_at": "2026-11-18T01:00:00Z",
            "data_receive": null,
            "currency": "JPY",
            "customer": {"name": "A", "telephone": "03-1234-5678", "address": null,
                         "email": null, "registration_number": null},
            "items": [],
            "counter_extract": null,
        });
        let placed: OrderPlaced = serde_json::from_value(json).unwrap();
        assert_eq!(placed.counter_registration_number, None);
        assert!(placed.source_profiles.is_empty());
        let written = serde_json::to_value(&placed).unwrap();
        assert!(written.get("counter_registration_number").is_none());
        assert!(written.get("source_profiles").is_none());
    }

    fn item(image: ImageId) -> PlacedItem {
        PlacedItem {
            image,
            name: "IMG_0001.JPG".into(),
            size: PrintSize::L,
            quantity: 1,
            edits: None,
            perceptual_hash: None,
            history: vec![],
        }
    }

    /// A minimal RGB ICC header: size, 'RGB ' data, 'acsp'.
    fn header(len: usize, space: &[u8; 4]) -> Vec<u8> {
        let mut p = vec![0u8; len];
        p[0..4].copy_from_slice(&(len as u32).to_be_bytes());
        p[16..20].copy_from_slice(space);
        p[36..40].copy_from_slice(b"acsp");
        p
    }

    #[test]
    fn source_profiles_are_checked_in_words() {
        use base64::Engine;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let image = ImageId::from_digest([7; 32]);
        let items = [item(image)];
        let one = |profile: SourceProfile| vec![ImageProfile { image, profile }];
        let named = SourceProfile::Named("adobe rgb (1998)".into());
        assert_eq!(named.well_known(), Some("Adobe RGB (1998)"));
        check_source_profiles(&one(named.clone()), &items).unwrap();
        let icc = SourceProfile::Icc(b64(&header(200, b"RGB ")));
        check_source_profiles(&one(icc.clone()), &items).unwrap();
        assert_eq!(icc.icc_bytes().unwrap().unwrap().len(), 200);
        let refused = |p: SourceProfile| check_source_profiles(&one(p), &items).unwrap_err();
        assert!(
            refused(SourceProfile::Named("Kodachrome".into())).contains("unknown colour profile")
        );
        assert!(refused(SourceProfile::Icc("***".into())).contains("not base64"));
        assert!(refused(SourceProfile::Icc(b64(b"short"))).contains("not an ICC profile"));
        assert!(refused(SourceProfile::Icc(b64(&header(200, b"CMYK")))).contains("not for RGB"));
        let mut cut = header(200, b"RGB ");
        cut.truncate(150);
        assert!(refused(SourceProfile::Icc(b64(&cut))).contains("cut off"));
        let big = SourceProfile::Icc(b64(&header(MAX_SOURCE_PROFILE + 1, b"RGB ")));
        assert!(refused(big).contains("larger than"));
        // For an image of the order, once.
        let other = ImageId::from_digest([8; 32]);
        let e = check_source_profiles(
            &[ImageProfile {
                image: other,
                profile: named.clone(),
            }],
            &items,
        )
        .unwrap_err();
        assert!(e.contains("not in the order"), "{e}");
        let twice = [one(named.clone()), one(named)].concat();
        assert!(
            check_source_profiles(&twice, &items)
                .unwrap_err()
                .contains("already")
        );
        // On the wire: {"named": ...} or {"icc": ...}, by image.
        let json = serde_json::to_value(ImageProfile {
            image,
            profile: SourceProfile::Named("Display P3".into()),
        })
        .unwrap();
        assert_eq!(json["profile"], serde_json::json!({"named": "Display P3"}));
    }
}
