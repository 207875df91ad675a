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
        let written = serde_json::to_value(&placed).unwrap();
        assert!(written.get("counter_registration_number").is_none());
    }
}
