//! One message path: every message a site writes to its outbox is built here, from the
//! protocol's types (`reprint_domain::protocol`), so that all of them have
//!
//! - the subject of their topic ([`subjects`]): an inbox topic to its recipient, a status to
//!   `status.<sender>.<order>`;
//! - one message-id scheme, stable for one fact: `<sender>:<order>:<fact>`, where the fact is
//!   the topic (`order-placed`, `delivery-dispatched`, ...) or `status:<stage>`, with a
//!   distinguishing tail where one order has several facts of a kind (`settlement:<id>`,
//!   `status:cancellation-too-late`). A unit of work retried, or a message written twice, is one
//!   message to JetStream (`Nats-Msg-Id`) and to the receiver's inbox;
//! - one header set: `Content-Type: application/json`, [`HEADER_MESSAGE`] naming the topic (or
//!   `status`), and the W3C `traceparent` of the sending span (or of the trace the order came
//!   in, when given).
//!
//! Receivers route by [`Subject::parse`]'s topic, never by matching subject text.

use reprint_domain::OrderId;
use reprint_domain::protocol::{
    CollectionRecorded, DeliveryDispatched, OrderCancelled, OrderPlaced, OrderRejected,
    ReceptionRecorded, SettlementRecorded, StatusChanged, StatusWithRegistration,
};
use reprint_eventstore::OutboxMessage;
use serde::Serialize;

use crate::error::BusError;
use crate::subjects::{self, Address, Subject, Topic};
use crate::trace::{TRACEPARENT, TraceContext};

/// The header that names what a message is: its topic's suffix, or `status`.
pub const HEADER_MESSAGE: &str = "Reprint-Message";
/// `Content-Type` of every message.
pub const JSON: &str = "application/json";

/// A message for a site's inbox: its topic and the order it is about.
pub trait InboxMessage: Serialize {
    const TOPIC: Topic;
    fn order(&self) -> OrderId;
}

macro_rules! inbox_message {
    ($ty:ty, $topic:expr) => {
        impl InboxMessage for $ty {
            const TOPIC: Topic = $topic;
            fn order(&self) -> OrderId {
                self.order
            }
        }
    };
}

inbox_message!(OrderPlaced, Topic::OrderPlaced);
inbox_message!(OrderRejected, Topic::OrderRejected);
inbox_message!(ReceptionRecorded, Topic::ReceptionRecorded);
inbox_message!(DeliveryDispatched, Topic::DeliveryDispatched);
inbox_message!(CollectionRecorded, Topic::CollectionRecorded);
inbox_message!(SettlementRecorded, Topic::SettlementRecorded);
inbox_message!(OrderCancelled, Topic::OrderCancelled);

impl InboxMessage for reprint_domain::counter_print::PrintDataSent {
    const TOPIC: Topic = Topic::PrintDataSent;
    fn order(&self) -> OrderId {
        self.delivery.order
    }
}

/// The message id of a fact of `sender` about `order`: `<sender>:<order>:<fact>`.
pub fn message_id(sender: &str, order: OrderId, fact: &str) -> String {
    format!("{sender}:{order}:{fact}")
}

/// The fact an inbox topic states, as message ids write it: `order.placed` -> `order-placed`.
pub fn fact_of(topic: Topic) -> String {
    topic.suffix().replace('.', "-")
}

fn json_message(
    subject: String,
    message_id: String,
    kind: &str,
    body: &impl Serialize,
    traceparent: Option<&str>,
) -> Result<OutboxMessage, BusError> {
    let payload = serde_json::to_vec(body).map_err(|e| BusError::Invalid {
        what: "message body",
        reason: format!("{kind}: {e}"),
    })?;
    Ok(OutboxMessage {
        message_id,
        subject,
        payload,
        headers: headers(kind, traceparent),
    })
}

/// The one header set of a message of `kind` (a topic's suffix, or `status`), for a message
/// whose body was written before (a counter's order held for its images).
pub fn headers(kind: &str, traceparent: Option<&str>) -> Vec<(String, String)> {
    // The receiver's span becomes a child of the span sending this (see crate::trace).
    let traceparent = match traceparent {
        Some(tp) => tp.to_string(),
        None => TraceContext::outgoing(None).traceparent(),
    };
    vec![
        ("Content-Type".to_string(), JSON.to_string()),
        (HEADER_MESSAGE.to_string(), kind.to_string()),
        (TRACEPARENT.to_string(), traceparent),
    ]
}

/// `body` to `to`'s inbox, under the message id `<sender>:<order>:<topic>` (plus `:<tail>` when
/// one order has several facts of this kind, e.g. a settlement's id).
pub fn to_inbox<M: InboxMessage>(
    sender: &str,
    to: Address,
    body: &M,
    tail: Option<&str>,
    traceparent: Option<&str>,
) -> Result<OutboxMessage, BusError> {
    let subject = Subject::inbox(to, M::TOPIC)?.to_string();
    let mut fact = fact_of(M::TOPIC);
    if let Some(t) = tail {
        fact.push(':');
        fact.push_str(t);
    }
    json_message(
        subject,
        message_id(sender, body.order(), &fact),
        M::TOPIC.suffix(),
        body,
        traceparent,
    )
}

/// A statement (not about one order) to `to`'s inbox under `<sender>:statement:<id>:<topic>`:
/// the counter's [`reprint_domain::protocol::StatementIssued`] and the lab's
/// [`reprint_domain::protocol::StatementConfirmed`].
pub fn statement_to_inbox(
    sender: &str,
    to: Address,
    topic: Topic,
    statement: uuid::Uuid,
    body: &impl Serialize,
    traceparent: Option<&str>,
) -> Result<OutboxMessage, BusError> {
    let subject = Subject::inbox(to, topic)?.to_string();
    json_message(
        subject,
        format!("{sender}:statement:{statement}:{}", fact_of(topic)),
        topic.suffix(),
        body,
        traceparent,
    )
}

/// A status change of an order, under `<sender>:<order>:status:<stage>` (or
/// `status:<tail>` for a second status at one stage, e.g. a cancellation that came too late).
/// The sender is who writes it, which need not be the `site` it speaks for (the gateway tells
/// the timeline a cancellation on the lab's behalf without taking the lab's own message id);
/// the subject names it too (`reprint.v1.status.<sender>.<order>`), so the NATS permissions
/// hold every site to its own statuses.
pub fn status(
    sender: &str,
    status: &StatusChanged,
    tail: Option<&str>,
    traceparent: Option<&str>,
) -> Result<OutboxMessage, BusError> {
    status_message(sender, status, status, tail, traceparent)
}

/// As [`status`], with the customer's registration number at the sender (a delivery counter's
/// `ready_for_pickup` of an internet order): the same subject, id and headers, the status's
/// keys and `registration_number` in the body.
pub fn status_with_registration(
    sender: &str,
    status: &StatusWithRegistration,
    tail: Option<&str>,
    traceparent: Option<&str>,
) -> Result<OutboxMessage, BusError> {
    status_message(sender, &status.status, status, tail, traceparent)
}

fn status_message(
    sender: &str,
    status: &StatusChanged,
    body: &impl Serialize,
    tail: Option<&str>,
    traceparent: Option<&str>,
) -> Result<OutboxMessage, BusError> {
    let order = subjects::OrderId::parse(status.order.to_string())?;
    // The subject names the sender: a site's NATS user may publish only its own statuses.
    let from = subjects::SiteId::parse(sender)?;
    let fact = format!("status:{}", tail.unwrap_or(status.stage.as_str()));
    json_message(
        subjects::status(&from, &order),
        message_id(sender, status.order, &fact),
        "status",
        body,
        traceparent,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use reprint_domain::protocol::Stage;
    use reprint_domain::{SiteId, SiteKind};

    fn order() -> OrderId {
        OrderId::from_parts(1_700_000_000_000, [7; 10])
    }

    fn header<'a>(m: &'a OutboxMessage, name: &str) -> Option<&'a str> {
        m.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn an_inbox_message_has_its_topics_subject_id_and_the_one_header_set() {
        let cancel = OrderCancelled {
            order: order(),
            lab: SiteId::parse("lab-a").unwrap(),
            reason: "changed my mind".into(),
            at: Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap(),
        };
        let to = Address::lab(subjects::SiteId::parse("lab-a").unwrap());
        let m = to_inbox("gw-1", to, &cancel, None, None).unwrap();
        assert_eq!(m.subject, "reprint.v1.lab.lab-a.order.cancelled");
        assert_eq!(m.message_id, format!("gw-1:{}:order-cancelled", order()));
        assert_eq!(header(&m, "Content-Type"), Some("application/json"));
        assert_eq!(header(&m, HEADER_MESSAGE), Some("order.cancelled"));
        assert!(header(&m, TRACEPARENT).is_some_and(|t| t.starts_with("00-")));
        let back: OrderCancelled = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(back, cancel);
        assert!(matches!(
            Subject::parse(&m.subject),
            Ok(Subject::Inbox {
                topic: Topic::OrderCancelled,
                ..
            })
        ));
    }

    #[test]
    fn a_topic_to_a_site_that_never_receives_it_is_refused() {
        let cancel = OrderCancelled {
            order: order(),
            lab: SiteId::parse("lab-a").unwrap(),
            reason: String::new(),
            at: Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap(),
        };
        let to = Address::counter(subjects::SiteId::parse("counter-ginza").unwrap());
        assert!(to_inbox("gw-1", to, &cancel, None, None).is_err());
    }

    #[test]
    fn a_status_is_one_message_per_site_and_stage() {
        let s = StatusChanged {
            order: order(),
            stage: Stage::Printing,
            site: SiteId::parse("lab-a").unwrap(),
            site_kind: SiteKind::Lab,
            at: Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap(),
            detail: "reception B0000001 is printing".into(),
            charge: None,
        };
        let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let m = status("lab-a", &s, None, Some(tp)).unwrap();
        assert_eq!(m.subject, format!("reprint.v1.status.lab-a.{}", order()));
        assert_eq!(m.message_id, format!("lab-a:{}:status:printing", order()));
        assert_eq!(header(&m, TRACEPARENT), Some(tp));
        assert_eq!(header(&m, HEADER_MESSAGE), Some("status"));
        let late = status("lab-a", &s, Some("cancellation-too-late"), None).unwrap();
        assert_ne!(late.message_id, m.message_id);
        // The gateway's cancellation on the lab's behalf goes out under the gateway's name.
        let by_gateway = status("gw-1", &s, None, None).unwrap();
        assert_eq!(
            by_gateway.subject,
            format!("reprint.v1.status.gw-1.{}", order())
        );
        assert!(status("not a site", &s, None, None).is_err());
    }
}
