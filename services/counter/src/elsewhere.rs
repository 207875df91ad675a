//! Pickup at another counter (seed 004, item (6) and its "one more item";
//! `reprint_domain::delivery_counter` decides who charges what).
//!
//! - **Here as the reception counter**: staff choose another counter of the network (from the
//!   site directory) as the place of pickup at intake; the order goes to the lab with that
//!   counter as its delivery counter, the counter's reception charges nothing, and the slip says
//!   where to collect the prints. The order stays here as taken in: its parcel goes there.
//! - **Here as the delivery counter**: the lab's parcel of another counter's walk-in order
//!   opens this counter's reception (its own number and charge); staff find it by the other
//!   counter's slip (number or QR code) as well as by this counter's number.
//!
//! `counter_other_counters` keeps, per order, the other counter and (at the delivery counter)
//! the reception counter's slip number.

use std::collections::BTreeMap;
use std::sync::RwLock;

use reprint_bus::directory::SiteAnnouncement;
use reprint_domain::SiteId;
use reprint_domain::delivery_counter::OtherCounter;
use reprint_eventstore::Transaction;
use reprint_eventstore::sql::{self, Arg};

use crate::error::{CounterError, Result};
use crate::state::Counter;

/// Another counter of the network as the intake page offers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub id: SiteId,
    pub name: String,
    pub address: String,
    /// Its hours from each lab's finish to the prints on its shelf, as it announced them (empty
    /// from a counter of an older version).
    pub transport_hours: BTreeMap<String, u32>,
}

/// The other counters last read from the site directory (empty until the link is up once).
#[derive(Debug, Default)]
pub struct Places(RwLock<Vec<Place>>);

impl Places {
    pub fn list(&self) -> Vec<Place> {
        self.0.read().map(|v| v.clone()).unwrap_or_default()
    }

    pub fn get(&self, id: &str) -> Option<Place> {
        self.list().into_iter().find(|p| p.id.as_str() == id)
    }

    /// Keeps the counters of `sites` other than `here`.
    pub fn set(&self, here: &SiteId, sites: &[SiteAnnouncement]) {
        let places = sites
            .iter()
            .filter(|s| s.kind == reprint_bus::subjects::SiteKind::Counter)
            .filter(|s| s.id.as_str() != here.as_str())
            .filter_map(|s| {
                Some(Place {
                    id: SiteId::parse(s.id.as_str()).ok()?,
                    name: s.name.clone(),
                    address: s.address.clone(),
                    transport_hours: s.transport_hours.clone(),
                })
            })
            .collect();
        if let Ok(mut v) = self.0.write() {
            *v = places;
        }
    }
}

/// This counter's entry in the directory says its transport hours from each lab (its `[[labs]]
/// transport_hours`), so that a counter taking in an order to be collected here promises the
/// ready-by of this counter's shelf.
pub fn announce(counter: &Counter, mut announcement: SiteAnnouncement) -> SiteAnnouncement {
    announcement.transport_hours = counter
        .config
        .labs
        .iter()
        .map(|l| (l.id.to_string(), l.transport_hours))
        .collect();
    announcement
}

/// Reads the directory into [`Counter::places`] (from the link, at its start and then every
/// heartbeat).
pub async fn refresh(counter: &Counter, directory: &reprint_bus::directory::Directory) {
    match directory.list().await {
        Ok(entries) => {
            let sites: Vec<SiteAnnouncement> = entries.into_iter().map(|e| e.site).collect();
            counter.places.set(&counter.rules().site, &sites);
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the site directory; the other counters stay as they were")
        }
    }
}

/// The counter staff named as the place of pickup: `None` for this counter (empty, or its own
/// id), else another counter of the network as the directory announced it.
pub fn pickup_place(counter: &Counter, chosen: Option<&str>) -> Result<Option<Place>> {
    let Some(id) = chosen.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if id == counter.rules().site.as_str() {
        return Ok(None);
    }
    counter.places.get(id).map(Some).ok_or_else(|| {
        CounterError::Invalid(format!(
            "counter {id:?} is not a counter of this network that this terminal knows (pick up here, or at one of: {})",
            {
                let known: Vec<String> = counter
                    .places
                    .list()
                    .iter()
                    .map(|p| p.id.to_string())
                    .collect();
                if known.is_empty() {
                    "none known yet".to_string()
                } else {
                    known.join(", ")
                }
            }
        ))
    })
}

/// The other counter of an order as this counter keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherOf {
    pub other: OtherCounter,
    /// At the delivery counter: the reception counter's slip number.
    pub slip: Option<String>,
}

fn role(other: &OtherCounter) -> &'static str {
    match other {
        OtherCounter::ReceptionCounter(_) => "reception_counter",
        OtherCounter::DeliveryCounter(_) => "delivery_counter",
    }
}

/// Records the other counter of `order` (idempotent).
pub async fn record(
    tx: &mut Transaction,
    order: &str,
    other: &OtherCounter,
    slip: Option<&str>,
) -> Result<()> {
    sql::exec(
        tx.conn(),
        "INSERT INTO counter_other_counters (order_id, role, counter, slip) VALUES ($1, $2, $3, $4) ON CONFLICT (order_id) DO NOTHING",
        &[
            Arg::from(order),
            Arg::from(role(other)),
            Arg::from(other.counter().to_string()),
            Arg::from(slip.map(str::to_string)),
        ],
    )
    .await?;
    Ok(())
}

/// The other counter of `order`, when it has one.
pub async fn of_order(tx: &mut Transaction, order: &str) -> Result<Option<OtherOf>> {
    let row: Option<(String, String, Option<String>)> = sql::fetch_optional(
        tx.conn(),
        "SELECT role, counter, slip FROM counter_other_counters WHERE order_id = $1",
        &[Arg::from(order)],
    )
    .await?;
    let Some((role, counter, slip)) = row else {
        return Ok(None);
    };
    let site = SiteId::parse(&counter)
        .map_err(|_| CounterError::Internal(format!("order {order}: bad counter {counter:?}")))?;
    let other = match role.as_str() {
        "reception_counter" => OtherCounter::ReceptionCounter(site),
        "delivery_counter" => OtherCounter::DeliveryCounter(site),
        other => {
            return Err(CounterError::Internal(format!(
                "order {order}: unknown role {other:?}"
            )));
        }
    };
    Ok(Some(OtherOf { other, slip }))
}

/// The order delivered here whose reception counter's slip is `slip` (of counter `from`, when
/// the scanned code named it).
pub async fn by_foreign_slip(
    tx: &mut Transaction,
    from: Option<&str>,
    slip: &str,
) -> Result<Option<String>> {
    let rows: Vec<(String, String)> = sql::fetch(
        tx.conn(),
        "SELECT order_id, counter FROM counter_other_counters WHERE role = 'reception_counter' AND slip = $1",
        &[Arg::from(slip)],
    )
    .await?;
    Ok(rows
        .into_iter()
        .find(|(_, c)| from.is_none_or(|f| f == c))
        .map(|(o, _)| o))
}
