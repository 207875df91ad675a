//! The counter's messages to the other sites (docs/flows.md), as outbox rows: JSON of the
//! `reprint_domain::protocol` types, subjects from `reprint_bus::subjects` only, and message ids
//! that are stable for one fact, so a retried unit of work or a republish is deduplicated by
//! JetStream and by the receiver's inbox.

use chrono::{DateTime, Utc};
use reprint_bus::message;
use reprint_bus::subjects::{self, Topic};
use reprint_domain::charge::{ChargeLine, LineKind};
use reprint_domain::protocol::{Stage, StatusChanged};
use reprint_domain::{Charge, DomainError, OrderId, SiteId, SiteKind, amount_due};
use reprint_eventstore::OutboxMessage;

use crate::error::CounterError;

pub fn bus_site(site: &SiteId) -> Result<subjects::SiteId, CounterError> {
    subjects::SiteId::parse(site.as_str()).map_err(|e| CounterError::Internal(e.to_string()))
}

pub fn bus_order(order: OrderId) -> Result<subjects::OrderId, CounterError> {
    subjects::OrderId::parse(order.to_string()).map_err(|e| CounterError::Internal(e.to_string()))
}

/// The message id of a fact of this counter about an order (`reprint_bus::message`'s scheme).
pub fn message_id(counter: &SiteId, topic: Topic, order: OrderId) -> String {
    message::message_id(counter.as_str(), order, &message::fact_of(topic))
}

/// `body` to the lab's inbox (`reprint_bus::message`: subject, message id, headers).
pub fn to_lab<M: message::InboxMessage>(
    counter: &SiteId,
    lab: &SiteId,
    body: &M,
) -> Result<OutboxMessage, CounterError> {
    message::to_inbox(
        counter.as_str(),
        subjects::Address::lab(bus_site(lab)?),
        body,
        None,
        None,
    )
    .map_err(|e| CounterError::Internal(e.to_string()))
}

/// A status change of an order, from this counter.
pub fn status(
    counter: &SiteId,
    order: OrderId,
    stage: Stage,
    at: DateTime<Utc>,
    detail: String,
    charge: Option<Charge>,
) -> Result<OutboxMessage, CounterError> {
    let body = StatusChanged {
        order,
        stage,
        site: counter.clone(),
        site_kind: SiteKind::Counter,
        at,
        detail,
        charge,
    };
    message::status(counter.as_str(), &body, None, None)
        .map_err(|e| CounterError::Internal(e.to_string()))
}

/// One charge for the customer: the lab's lines, then the counter's, each line saying whose it
/// is; the total is the amount due (Fig. 1 S313, Fig. 2 S410).
pub fn amount_due_charge(
    lab_name: &str,
    lab: &Charge,
    counter_name: &str,
    counter: &Charge,
) -> Result<Charge, DomainError> {
    let total = amount_due(lab, counter)?;
    let mut lines: Vec<ChargeLine> = Vec::with_capacity(lab.lines.len() + counter.lines.len());
    for l in &lab.lines {
        let mut l = l.clone();
        l.description = format!("{lab_name}: {}", l.description);
        lines.push(l);
    }
    let shift = lines.len();
    for l in &counter.lines {
        let mut l = l.clone();
        if let LineKind::Discount { of, percent } = l.kind {
            l.kind = LineKind::Discount {
                of: of + shift,
                percent,
            };
        }
        l.description = format!("{counter_name}: {}", l.description);
        lines.push(l);
    }
    Ok(Charge { lines, total })
}
