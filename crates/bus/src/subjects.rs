//! Every NATS subject reprint uses, in one place: versioned (`reprint.v1`) and addressed to a
//! site. Build them here, parse them here; nothing else in the code base formats a subject.
//!
//! # The rule
//!
//! In an event subject the site token is always the **recipient**: `reprint.v1.<kind>.<site>.…`
//! is the inbox of that site, and a site's durable consumer filters on
//! `reprint.v1.<kind>.<site>.>` (one filter subject, which nats-server 2.9 needs). Facts that
//! everybody may follow (the status of an order) are addressed to nobody: their subject names
//! the **sender** and the order, `reprint.v1.status.<sender>.<order>`, so that the NATS
//! permissions (`deploy/nats/users.conf`) let a site publish only `reprint.v1.status.<itself>.*`
//! ([`status_from`]) and nobody can speak for another site's orders; a reader follows every
//! order with [`status_wildcard`] (`reprint.v1.status.*.*`) or one order from whoever with
//! [`status_of`] (`reprint.v1.status.*.<order>`).
//!
//! | subject | publisher | consumer |
//! |---|---|---|
//! | `reprint.v1.lab.<lab>.order.placed` | gateway (Fig. 1) or counter (Fig. 2) | the lab |
//! | `reprint.v1.lab.<lab>.collection.recorded` | the counter that handed the prints over | the lab (closes its reception record) |
//! | `reprint.v1.lab.<lab>.settlement.recorded` | the counter, paying the lab's share | the lab |
//! | `reprint.v1.lab.<lab>.order.cancelled` | the gateway, for a user's cancellation before printing | the lab |
//! | `reprint.v1.counter.<counter>.order.rejected` | the lab, for an order the counter forwarded | the counter |
//! | `reprint.v1.counter.<counter>.reception.recorded` | the lab: its reception record and file extract | the counter |
//! | `reprint.v1.counter.<counter>.delivery.dispatched` | the lab: prints shipped plus its file extract | the counter |
//! | `reprint.v1.gateway.<gateway>.order.rejected` | the lab, for an order the gateway placed | the gateway |
//! | `reprint.v1.gateway.<gateway>.reception.recorded` | the lab: the reception record, the user's slip | the gateway |
//! | `reprint.v1.lab.<lab>.statement.issued` | the counter, its periodic statement of the lab's share | the lab |
//! | `reprint.v1.counter.<counter>.statement.confirmed` | the lab, confirming a statement | the counter |
//! | `reprint.v1.status.<sender>.<order>` | the site `<sender>` that moves the order on (placed, received, printing, printed, dispatched, arrived, collected, settled, rejected; the gateway's `cancelled`) | the gateway's status page (`reprint.v1.status.*.*`), ops dashboards |
//! | `reprint.v1.rpc.<site>.quote` | (request) gateway or counter | (reply) the site, queue group [`rpc_queue_group`] |
//! | `reprint.v1.rpc.<site>.catalog` | (request) gateway, counter, ops | (reply) the site |
//! | `reprint.v1.rpc.<site>.locale` | (request) gateway, counter | (reply) the site |
//!
//! Event subjects are captured by the streams of [`crate::streams`]; `reprint.v1.rpc.>` is core
//! NATS only (request/reply, never stored).
//!
//! # Tokens
//!
//! Site ids and order ids are single subject tokens: 1 to 64 ASCII letters, digits, `-` or `_`.
//! That excludes `.`, `*`, `>` and whitespace (which would change the meaning of a subject) and
//! also `/` and `\` (durable consumer names become directory names in the file store). Site ids
//! are unique across the whole network, whatever the kind of site.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The first two tokens of every subject: the application and the subject schema version.
pub const PREFIX: &str = "reprint.v1";

/// Longest accepted site or order id.
pub const MAX_TOKEN_LEN: usize = 64;

/// A subject, site id or order id that is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    /// A token (site or order id) is empty, too long or has a forbidden character.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidToken {
        /// "site id" or "order id".
        what: &'static str,
        /// The rejected value.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A topic was addressed to a kind of site that never receives it.
    #[error("{topic} is not addressed to a {kind} site")]
    WrongRecipient {
        /// The topic.
        topic: Topic,
        /// The kind of site it was addressed to.
        kind: SiteKind,
    },
    /// A string is not one of reprint's subjects.
    #[error("not a reprint subject: {0:?}")]
    Unknown(String),
}

fn validate_token(what: &'static str, value: &str) -> Result<(), SubjectError> {
    let err = |reason: String| SubjectError::InvalidToken {
        what,
        value: value.to_string(),
        reason,
    };
    if value.is_empty() {
        return Err(err("empty".into()));
    }
    if value.len() > MAX_TOKEN_LEN {
        return Err(err(format!("longer than {MAX_TOKEN_LEN} bytes")));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        let reason = match c {
            '.' | '*' | '>' => format!("{c:?} is a subject separator or wildcard"),
            c if c.is_whitespace() => "whitespace is not allowed".to_string(),
            c => format!("{c:?} is not allowed (letters, digits, '-' and '_' only)"),
        };
        return Err(err(reason));
    }
    Ok(())
}

macro_rules! token_newtype {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `value` as a single subject token (see the module documentation).
            pub fn parse(value: impl Into<String>) -> Result<Self, SubjectError> {
                let value = value.into();
                validate_token($what, &value)?;
                Ok(Self(value))
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = SubjectError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = SubjectError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

token_newtype!(
    /// The id of a site (lab, counter or gateway), unique across the network.
    SiteId,
    "site id"
);
token_newtype!(
    /// The id of an order as it appears in status subjects (the gateway's or counter's order id).
    OrderId,
    "order id"
);

/// The kind of a site, which is also the third token of its inbox subjects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SiteKind {
    /// A printing laboratory.
    Lab,
    /// A delivery / reception counter (mini-lab, convenience store).
    Counter,
    /// The web gateway for home users.
    Gateway,
}

impl SiteKind {
    /// Every kind, in a fixed order.
    pub const ALL: [SiteKind; 3] = [SiteKind::Lab, SiteKind::Counter, SiteKind::Gateway];

    /// The subject token: `lab`, `counter` or `gateway`.
    pub fn as_str(self) -> &'static str {
        match self {
            SiteKind::Lab => "lab",
            SiteKind::Counter => "counter",
            SiteKind::Gateway => "gateway",
        }
    }
}

impl fmt::Display for SiteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SiteKind {
    type Err = SubjectError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SiteKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| SubjectError::Unknown(s.to_string()))
    }
}

/// A site to send to: its kind and id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Address {
    /// Kind of the site.
    pub kind: SiteKind,
    /// Id of the site.
    pub site: SiteId,
}

impl Address {
    /// A lab's address.
    pub fn lab(site: SiteId) -> Address {
        Address {
            kind: SiteKind::Lab,
            site,
        }
    }
    /// A counter's address.
    pub fn counter(site: SiteId) -> Address {
        Address {
            kind: SiteKind::Counter,
            site,
        }
    }
    /// A gateway's address.
    pub fn gateway(site: SiteId) -> Address {
        Address {
            kind: SiteKind::Gateway,
            site,
        }
    }
    /// Parses kind and id from strings, validating the id.
    pub fn parse(kind: SiteKind, site: &str) -> Result<Address, SubjectError> {
        Ok(Address {
            kind,
            site: SiteId::parse(site)?,
        })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.site)
    }
}

/// What an inbox event is about: the last two tokens of an inbox subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// `order.placed`: an order for the lab to receive (gateway or counter -> lab).
    OrderPlaced,
    /// `order.rejected`: the lab refused an order (lab -> the sender: gateway or counter).
    OrderRejected,
    /// `reception.recorded`: the lab's reception record, the user's slip (lab -> sender).
    ReceptionRecorded,
    /// `delivery.dispatched`: prints and the lab's file extract shipped (lab -> counter).
    DeliveryDispatched,
    /// `collection.recorded`: the customer collected and paid at the counter (counter -> lab).
    CollectionRecorded,
    /// `settlement.recorded`: the counter settled the lab's share (counter -> lab).
    SettlementRecorded,
    /// `order.cancelled`: the user cancelled before printing started (gateway -> lab).
    OrderCancelled,
    /// `statement.issued`: the counter's periodic statement of the lab's share (counter -> lab).
    StatementIssued,
    /// `statement.confirmed`: the lab confirmed a statement (lab -> counter).
    StatementConfirmed,
    /// `printdata.sent`: an internet order's print data for a counter that prints it with its
    /// own printer, instead of a parcel (lab -> counter).
    PrintDataSent,
}

impl Topic {
    /// Every topic, in a fixed order.
    pub const ALL: [Topic; 10] = [
        Topic::OrderPlaced,
        Topic::OrderRejected,
        Topic::ReceptionRecorded,
        Topic::DeliveryDispatched,
        Topic::CollectionRecorded,
        Topic::SettlementRecorded,
        Topic::OrderCancelled,
        Topic::StatementIssued,
        Topic::StatementConfirmed,
        Topic::PrintDataSent,
    ];

    /// The subject suffix, e.g. `order.placed`.
    pub fn suffix(self) -> &'static str {
        match self {
            Topic::OrderPlaced => "order.placed",
            Topic::OrderRejected => "order.rejected",
            Topic::ReceptionRecorded => "reception.recorded",
            Topic::DeliveryDispatched => "delivery.dispatched",
            Topic::CollectionRecorded => "collection.recorded",
            Topic::SettlementRecorded => "settlement.recorded",
            Topic::OrderCancelled => "order.cancelled",
            Topic::StatementIssued => "statement.issued",
            Topic::StatementConfirmed => "statement.confirmed",
            Topic::PrintDataSent => "printdata.sent",
        }
    }

    /// The kinds of site that receive this topic.
    pub fn recipients(self) -> &'static [SiteKind] {
        match self {
            Topic::OrderPlaced
            | Topic::CollectionRecorded
            | Topic::SettlementRecorded
            | Topic::OrderCancelled
            | Topic::StatementIssued => &[SiteKind::Lab],
            Topic::OrderRejected | Topic::ReceptionRecorded => {
                &[SiteKind::Counter, SiteKind::Gateway]
            }
            Topic::DeliveryDispatched | Topic::StatementConfirmed | Topic::PrintDataSent => {
                &[SiteKind::Counter]
            }
        }
    }

    fn from_suffix(entity: &str, event: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| {
            t.suffix()
                .split_once('.')
                .is_some_and(|(a, b)| a == entity && b == event)
        })
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.suffix())
    }
}

/// A request/reply method a site serves on core NATS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RpcMethod {
    /// A price quote for a prospective order, by the site's own price list and policy.
    Quote,
    /// The site's catalog: print sizes, papers, prices.
    Catalog,
    /// The site's locale: language, time zone, currency, formats.
    Locale,
}

impl RpcMethod {
    /// Every method, in a fixed order.
    pub const ALL: [RpcMethod; 3] = [RpcMethod::Quote, RpcMethod::Catalog, RpcMethod::Locale];

    /// The subject token.
    pub fn as_str(self) -> &'static str {
        match self {
            RpcMethod::Quote => "quote",
            RpcMethod::Catalog => "catalog",
            RpcMethod::Locale => "locale",
        }
    }
}

impl fmt::Display for RpcMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of reprint's subjects, typed. `to_string()` gives the wire form; [`Subject::parse`]
/// reads it back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// An event in a site's inbox: `reprint.v1.<kind>.<site>.<topic>`.
    Inbox {
        /// The recipient.
        to: Address,
        /// What it is about.
        topic: Topic,
    },
    /// A status change of an order: `reprint.v1.status.<sender>.<order>`.
    Status {
        /// The site that published it (the NATS permissions hold it to its own id).
        sender: SiteId,
        /// The order.
        order: OrderId,
    },
    /// A request to a site: `reprint.v1.rpc.<site>.<method>`.
    Rpc {
        /// The serving site.
        site: SiteId,
        /// The method.
        method: RpcMethod,
    },
}

impl Subject {
    /// An inbox subject, checking that `topic` is ever addressed to `to.kind`.
    pub fn inbox(to: Address, topic: Topic) -> Result<Subject, SubjectError> {
        if !topic.recipients().contains(&to.kind) {
            return Err(SubjectError::WrongRecipient {
                topic,
                kind: to.kind,
            });
        }
        Ok(Subject::Inbox { to, topic })
    }

    /// Parses a wire subject.
    pub fn parse(subject: &str) -> Result<Subject, SubjectError> {
        let unknown = || SubjectError::Unknown(subject.to_string());
        let rest = subject
            .strip_prefix(PREFIX)
            .and_then(|r| r.strip_prefix('.'))
            .ok_or_else(unknown)?;
        let tokens: Vec<&str> = rest.split('.').collect();
        match tokens.as_slice() {
            ["status", sender, order] => Ok(Subject::Status {
                sender: SiteId::parse(*sender)?,
                order: OrderId::parse(*order)?,
            }),
            ["rpc", site, method] => {
                let method = RpcMethod::ALL
                    .into_iter()
                    .find(|m| m.as_str() == *method)
                    .ok_or_else(unknown)?;
                Ok(Subject::Rpc {
                    site: SiteId::parse(*site)?,
                    method,
                })
            }
            [kind, site, entity, event] => {
                let kind: SiteKind = kind.parse().map_err(|_| unknown())?;
                let topic = Topic::from_suffix(entity, event).ok_or_else(unknown)?;
                Subject::inbox(Address::parse(kind, site)?, topic)
            }
            _ => Err(unknown()),
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Inbox { to, topic } => {
                write!(f, "{PREFIX}.{}.{}.{}", to.kind, to.site, topic.suffix())
            }
            Subject::Status { sender, order } => write!(f, "{PREFIX}.status.{sender}.{order}"),
            Subject::Rpc { site, method } => write!(f, "{PREFIX}.rpc.{site}.{method}"),
        }
    }
}

impl FromStr for Subject {
    type Err = SubjectError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Subject::parse(s)
    }
}

fn inbox_string(kind: SiteKind, site: &SiteId, topic: Topic) -> String {
    format!("{PREFIX}.{kind}.{site}.{}", topic.suffix())
}

/// `reprint.v1.lab.<lab>.order.placed`: gateway or counter -> lab.
pub fn order_placed(lab: &SiteId) -> String {
    inbox_string(SiteKind::Lab, lab, Topic::OrderPlaced)
}

/// `reprint.v1.lab.<lab>.order.cancelled`: a user's cancellation, for the lab to honour
/// while it has not started printing.
pub fn order_cancelled(lab: &SiteId) -> String {
    inbox_string(SiteKind::Lab, lab, Topic::OrderCancelled)
}

/// `reprint.v1.lab.<lab>.collection.recorded`: counter -> lab.
pub fn collection_recorded(lab: &SiteId) -> String {
    inbox_string(SiteKind::Lab, lab, Topic::CollectionRecorded)
}

/// `reprint.v1.lab.<lab>.settlement.recorded`: counter -> lab.
pub fn settlement_recorded(lab: &SiteId) -> String {
    inbox_string(SiteKind::Lab, lab, Topic::SettlementRecorded)
}

/// `reprint.v1.lab.<lab>.statement.issued`: counter -> lab.
pub fn statement_issued(lab: &SiteId) -> String {
    inbox_string(SiteKind::Lab, lab, Topic::StatementIssued)
}

/// `reprint.v1.counter.<counter>.statement.confirmed`: lab -> counter.
pub fn statement_confirmed(counter: &SiteId) -> String {
    inbox_string(SiteKind::Counter, counter, Topic::StatementConfirmed)
}

/// `reprint.v1.counter.<counter>.delivery.dispatched`: lab -> counter.
pub fn delivery_dispatched(counter: &SiteId) -> String {
    inbox_string(SiteKind::Counter, counter, Topic::DeliveryDispatched)
}

/// `reprint.v1.<counter|gateway>.<site>.order.rejected`: lab -> the order's sender.
pub fn order_rejected(to: &Address) -> Result<String, SubjectError> {
    Subject::inbox(to.clone(), Topic::OrderRejected).map(|s| s.to_string())
}

/// `reprint.v1.<counter|gateway>.<site>.reception.recorded`: lab -> the order's sender (the slip).
pub fn reception_recorded(to: &Address) -> Result<String, SubjectError> {
    Subject::inbox(to.clone(), Topic::ReceptionRecorded).map(|s| s.to_string())
}

/// `reprint.v1.status.<sender>.<order>`: the site `sender` moving the order on -> gateway,
/// dashboards.
pub fn status(sender: &SiteId, order: &OrderId) -> String {
    format!("{PREFIX}.status.{sender}.{order}")
}

/// Every status a site may publish: `reprint.v1.status.<sender>.*` (its grant in
/// `deploy/nats/users.conf`).
pub fn status_from(sender: &SiteId) -> String {
    format!("{PREFIX}.status.{sender}.*")
}

/// Every status of one order, whoever sent it: `reprint.v1.status.*.<order>`.
pub fn status_of(order: &OrderId) -> String {
    format!("{PREFIX}.status.*.{order}")
}

/// `reprint.v1.rpc.<site>.<method>`: a request to a site.
pub fn rpc(site: &SiteId, method: RpcMethod) -> String {
    format!("{PREFIX}.rpc.{site}.{method}")
}

/// The queue group every instance of a site serving `method` joins, so that one answers.
pub fn rpc_queue_group(site: &SiteId, method: RpcMethod) -> String {
    format!("reprint-rpc-{site}-{method}")
}

/// The filter of a site's inbox consumer: `reprint.v1.<kind>.<site>.>`.
pub fn inbox_filter(to: &Address) -> String {
    format!("{PREFIX}.{}.{}.>", to.kind, to.site)
}

/// Every inbox subject of one kind: `reprint.v1.<kind>.>`.
pub fn kind_wildcard(kind: SiteKind) -> String {
    format!("{PREFIX}.{kind}.>")
}

/// The subjects of the stream holding all inboxes of one kind: one pattern per topic,
/// `reprint.v1.<kind>.*.<topic>` (e.g. `reprint.v1.lab.*.order.placed`), never a `>`. A hub
/// tells a leaf node of a subscription only when the leaf's user may publish its whole subject,
/// so a stream whose subjects are the very patterns `deploy/nats/users.conf` allows a counter
/// (`reprint.v1.lab.*.order.placed`, ...) is one its leaf node can reach. Every topic, not only
/// those the kind receives: a misaddressed one is stored all the same and its site's consumer
/// parks it, as with the `reprint.v1.<kind>.>` of earlier versions.
pub fn inbox_stream_subjects(kind: SiteKind) -> Vec<String> {
    Topic::ALL
        .into_iter()
        .map(|t| format!("{PREFIX}.{kind}.*.{}", t.suffix()))
        .collect()
}

/// Every order status subject, from every sender: `reprint.v1.status.*.*`.
pub fn status_wildcard() -> String {
    format!("{PREFIX}.status.*.*")
}

/// Every request subject: `reprint.v1.rpc.>` (core NATS only, never stored).
pub fn rpc_wildcard() -> String {
    format!("{PREFIX}.rpc.>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(s: &str) -> SiteId {
        SiteId::parse(s).unwrap()
    }

    /// NATS subject matching (`*` one token, `>` the rest), as the server applies a filter or
    /// a permission.
    fn matches(filter: &str, subject: &str) -> bool {
        let (f, s): (Vec<&str>, Vec<&str>) =
            (filter.split('.').collect(), subject.split('.').collect());
        for (i, t) in f.iter().enumerate() {
            match *t {
                ">" => return s.len() > i,
                "*" if i < s.len() => {}
                t if s.get(i) == Some(&t) => {}
                _ => return false,
            }
        }
        f.len() == s.len()
    }

    #[test]
    fn design_subjects_are_built_as_written() {
        assert_eq!(
            order_placed(&site("lab-a")),
            "reprint.v1.lab.lab-a.order.placed"
        );
        assert_eq!(
            delivery_dispatched(&site("c7")),
            "reprint.v1.counter.c7.delivery.dispatched"
        );
        assert_eq!(
            settlement_recorded(&site("lab-a")),
            "reprint.v1.lab.lab-a.settlement.recorded"
        );
        assert_eq!(
            status(&site("lab-a"), &OrderId::parse("0193f0e2-aaaa").unwrap()),
            "reprint.v1.status.lab-a.0193f0e2-aaaa"
        );
        assert_eq!(
            rpc(&site("lab-a"), RpcMethod::Quote),
            "reprint.v1.rpc.lab-a.quote"
        );
    }

    #[test]
    fn bad_site_ids_are_errors() {
        for bad in [
            "", "a.b", "a*", ">", "a b", "a\tb", "a\n", "é", "a/b", "a\\b",
        ] {
            assert!(SiteId::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(SiteId::parse("x".repeat(65)).is_err());
        assert!(SiteId::parse("x".repeat(64)).is_ok());
        assert!(Address::parse(SiteKind::Lab, "a.b").is_err());
        assert!(serde_json::from_str::<SiteId>("\"a.b\"").is_err());
        assert_eq!(
            serde_json::from_str::<SiteId>("\"L_1\"").unwrap(),
            site("L_1")
        );
    }

    #[test]
    fn topics_only_go_to_their_recipients() {
        assert!(order_rejected(&Address::lab(site("l1"))).is_err());
        assert_eq!(
            order_rejected(&Address::gateway(site("gw"))).unwrap(),
            "reprint.v1.gateway.gw.order.rejected"
        );
        assert_eq!(
            reception_recorded(&Address::counter(site("c1"))).unwrap(),
            "reprint.v1.counter.c1.reception.recorded"
        );
        assert!(Subject::inbox(Address::counter(site("c1")), Topic::OrderPlaced).is_err());
    }

    #[test]
    fn every_subject_round_trips() {
        let mut all = vec![];
        for topic in Topic::ALL {
            for kind in topic.recipients() {
                all.push(Subject::inbox(Address::parse(*kind, "s-1").unwrap(), topic).unwrap());
            }
        }
        for method in RpcMethod::ALL {
            all.push(Subject::Rpc {
                site: site("s-1"),
                method,
            });
        }
        all.push(Subject::Status {
            sender: site("lab-a"),
            order: OrderId::parse("o1").unwrap(),
        });
        for s in all {
            let wire = s.to_string();
            assert_eq!(Subject::parse(&wire).unwrap(), s, "{wire}");
        }
    }

    #[test]
    fn parse_rejects_strangers() {
        for bad in [
            "reprint.v2.lab.a.order.placed",
            "reprint.v1.lab.a.order",
            "reprint.v1.lab.a.order.shipped",
            "reprint.v1.counter.a.order.placed",
            "reprint.v1.status.a",
            "reprint.v1.status.a.b.c",
            "reprint.v1.status.*.b",
            "reprint.v1.rpc.a.bogus",
            "reprint.v1.lab.*.order.placed",
            "other.v1.status.a.b",
            "reprint.v1",
        ] {
            assert!(Subject::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn filters() {
        let to = Address::counter(site("c1"));
        assert_eq!(inbox_filter(&to), "reprint.v1.counter.c1.>");
        assert_eq!(kind_wildcard(SiteKind::Lab), "reprint.v1.lab.>");
        assert_eq!(status_wildcard(), "reprint.v1.status.*.*");
        assert_eq!(status_from(&site("c1")), "reprint.v1.status.c1.*");
        let o = OrderId::parse("o1").unwrap();
        assert_eq!(status_of(&o), "reprint.v1.status.*.o1");
        // A status subject is inside its sender's grant and the readers' filters, and in no
        // other sender's grant.
        let wire = status(&site("c1"), &o);
        assert!(matches(&status_from(&site("c1")), &wire));
        assert!(!matches(&status_from(&site("lab-a")), &wire));
        assert!(matches(&status_wildcard(), &wire));
        assert!(matches(&status_of(&o), &wire));
        // REPRINT_STATUS (crate::streams) captures them all.
        assert!(matches(&status_wildcard(), &wire));
        assert_eq!(
            rpc_queue_group(&site("l1"), RpcMethod::Catalog),
            "reprint-rpc-l1-catalog"
        );
    }
}
