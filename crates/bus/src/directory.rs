//! The site directory: a KV bucket `reprint_sites` where each site announces itself and keeps
//! its entry fresh with a heartbeat.
//!
//! Key: the site id (unique across the network). Value: a JSON [`SiteAnnouncement`]. A site
//! starts a [`Heartbeat`] at start-up; it writes the announcement at once and again every
//! interval with a new `last_heartbeat`. Readers ([`Directory::get`], [`Directory::list`],
//! [`Directory::watch`]) judge freshness themselves: an entry whose last heartbeat is older
//! than [`STALE_AFTER_MISSED`] of its own intervals is stale (the site is probably offline,
//! e.g. a counter whose link is down), see [`SiteAnnouncement::is_stale`]. Entries are not
//! expired by the server, so an offline counter stays listed, marked stale.
//!
//! Plain types only: the bus does not depend on the domain crate.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{
    self,
    kv::{self, Operation},
    stream::{self, DiscardPolicy, StorageType},
};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

use crate::error::BusError;
use crate::subjects::{SiteId, SiteKind};

/// The KV bucket of the directory.
pub const BUCKET: &str = "reprint_sites";

/// An entry is stale after this many missed heartbeats.
pub const STALE_AFTER_MISSED: u32 = 3;

/// One price line of a site's price list, for display (the quote RPC is authoritative).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceLine {
    /// What is charged: `basic`, a print size like `L` or `2L`, a service.
    pub item: String,
    /// Amount in minor units of the site's currency.
    pub amount_minor: i64,
}

/// When a site is open on some days of the week, in its own time zone
/// ([`SiteAnnouncement::time_zone`]): `{ days = "mon-fri", opens = "10:00", closes = "20:00" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpeningHours {
    /// The days: `mon` ... `sun`, a range `mon-fri`, or a list `sat,sun` (see [`days_of`]).
    pub days: String,
    /// Opens at, `HH:MM` local time.
    pub opens: String,
    /// Closes at, `HH:MM` local time (after `opens`).
    pub closes: String,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The days a [`OpeningHours::days`] names, Monday = 0, in week order; `None` when it names
/// anything else (an unknown day, a range running backwards).
pub fn days_of(days: &str) -> Option<Vec<u8>> {
    let index = |d: &str| {
        let d = d.trim().to_ascii_lowercase();
        DAYS.iter().position(|x| *x == d).map(|i| i as u8)
    };
    let mut out = Vec::new();
    for part in days.split(',') {
        match part.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (index(from)?, index(to)?);
                if from > to {
                    return None;
                }
                out.extend(from..=to);
            }
            None => out.push(index(part)?),
        }
    }
    out.sort_unstable();
    out.dedup();
    (!out.is_empty()).then_some(out)
}

impl OpeningHours {
    /// Whether the line reads: known days, `HH:MM` times, closing after opening. A site checks
    /// its own configuration with it; readers show what they can.
    pub fn check(&self) -> Result<(), String> {
        let time = |t: &str| chrono::NaiveTime::parse_from_str(t.trim(), "%H:%M").ok();
        if days_of(&self.days).is_none() {
            return Err(format!(
                "opening hours: days {:?}: write mon ... sun, a range mon-fri or a list sat,sun",
                self.days
            ));
        }
        match (time(&self.opens), time(&self.closes)) {
            (Some(o), Some(c)) if o < c => Ok(()),
            (Some(_), Some(_)) => Err(format!(
                "opening hours of {}: closes {} is not after opens {}",
                self.days, self.closes, self.opens
            )),
            _ => Err(format!(
                "opening hours of {}: opens {:?} and closes {:?} must be HH:MM",
                self.days, self.opens, self.closes
            )),
        }
    }
}

/// What a site tells the network about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteAnnouncement {
    /// The site id.
    pub id: SiteId,
    /// Lab or counter (a gateway may announce too).
    pub kind: SiteKind,
    /// Display name.
    pub name: String,
    /// Postal address, one string.
    pub address: String,
    /// IANA time zone, e.g. `Asia/Tokyo` (discount periods are measured in it).
    pub time_zone: String,
    /// ISO 4217 currency of its prices, e.g. `JPY`.
    pub currency: String,
    /// Print sizes offered, e.g. `L`, `2L`, `A4`.
    pub sizes: Vec<String>,
    /// Price summary.
    pub prices: Vec<PriceLine>,
    /// The discount policy in one human sentence or a few.
    pub policy_summary: String,
    /// Names of the ICC output profiles it prints with.
    pub icc_profiles: Vec<String>,
    /// When the site last said it is alive.
    pub last_heartbeat: DateTime<Utc>,
    /// Its heartbeat interval in seconds (readers judge staleness by it).
    pub heartbeat_interval_secs: u64,
    /// The site's software version.
    pub version: String,
    /// When the site is open (a counter: when prints can be collected), in `time_zone`; empty
    /// when it did not say (an announcement of an older version).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub opening_hours: Vec<OpeningHours>,
    /// How its queues stood at the last heartbeat ([`Directory::start_heartbeat_with_health`]);
    /// `None` when it did not say (an announcement of an older version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<SiteHealth>,
    /// A counter's own printer (a mini-lab): a lab may send it an internet order's print data
    /// instead of a parcel (`reprint_domain::counter_print`). `None` for a site without one
    /// and in an announcement of an older version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printer: Option<SitePrinter>,
    /// A counter: the hours from each lab's finish to the prints on its shelf (its `[[labs]]
    /// transport_hours`), by lab id. Another counter taking in an order to be collected here
    /// gives its slip the ready-by of this counter's transport, not its own. Empty for a lab and
    /// in an announcement of an older version.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub transport_hours: std::collections::BTreeMap<String, u32>,
}

/// A site's own printer as it announces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SitePrinter {
    /// The printer's name.
    pub name: String,
    /// The print sizes it prints, e.g. `L`, `2L`.
    pub sizes: Vec<String>,
    /// Its ICC output profile's name.
    pub icc_profile: String,
}

/// A site's queues as it reports them with each heartbeat, for ops.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteHealth {
    /// Messages its consumers have not finished, summed over its consumers.
    pub consumer_lag: u64,
    /// Outbox messages not yet published (a counter offline shows it growing).
    pub outbox_backlog: u64,
    /// Messages parked for good (a consumer could never handle them), when the site counts them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parked: Option<u64>,
    /// The last error it noted, in a few words, when it keeps one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it noted [`SiteHealth::last_error`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<DateTime<Utc>>,
}

/// What [`Directory::start_heartbeat_with_health`] asks before each beat.
pub type HealthSource = Arc<dyn Fn() -> SiteHealth + Send + Sync>;

impl SiteAnnouncement {
    /// True when the last heartbeat is older than `missed` heartbeat intervals at `now`.
    pub fn is_stale_after(&self, now: DateTime<Utc>, missed: u32) -> bool {
        let interval = self.heartbeat_interval_secs.max(1);
        let allowed = chrono::Duration::seconds(
            i64::try_from(interval.saturating_mul(u64::from(missed))).unwrap_or(i64::MAX),
        );
        now.signed_duration_since(self.last_heartbeat) > allowed
    }

    /// [`SiteAnnouncement::is_stale_after`] with [`STALE_AFTER_MISSED`].
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        self.is_stale_after(now, STALE_AFTER_MISSED)
    }
}

/// An announcement as stored, with its KV revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    /// The announcement.
    pub site: SiteAnnouncement,
    /// The KV revision it was stored at.
    pub revision: u64,
}

/// A change seen by [`Directory::watch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryChange {
    /// A site announced itself or sent a heartbeat.
    Announced(Box<DirectoryEntry>),
    /// A site withdrew (its key was deleted or purged).
    Withdrawn(String),
}

/// The site directory bucket.
#[derive(Clone)]
pub struct Directory {
    kv: kv::Store,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("bucket", &BUCKET)
            .finish()
    }
}

fn decode(key: &str, value: &[u8]) -> Result<SiteAnnouncement, BusError> {
    serde_json::from_slice(value).map_err(|source| BusError::Json {
        subject: format!("{BUCKET}/{key}"),
        source,
    })
}

impl Directory {
    /// Creates the bucket or updates it to this configuration (file storage, 5 revisions of
    /// history, 64 KiB values, `replicas` replicas); idempotent.
    ///
    /// The bucket's stream is provisioned here with the same settings async-nats uses for a KV
    /// bucket, rather than with `create_or_update_key_value`: that one first reads the
    /// account info, whose shape from nats-server 2.9 async-nats 0.51 cannot decode.
    pub async fn open(js: &jetstream::Context, replicas: usize) -> Result<Directory, BusError> {
        let config = stream::Config {
            name: format!("KV_{BUCKET}"),
            description: Some("reprint: site directory".to_string()),
            subjects: vec![format!("$KV.{BUCKET}.>")],
            max_messages_per_subject: 5,
            max_message_size: 64 * 1024,
            max_bytes: -1,
            max_messages: -1,
            max_consumers: -1,
            storage: StorageType::File,
            num_replicas: replicas.max(1),
            allow_rollup: true,
            deny_delete: true,
            deny_purge: false,
            allow_direct: true,
            discard: DiscardPolicy::New,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        };
        let deadline = tokio::time::Instant::now() + crate::streams::READY_WITHIN;
        crate::streams::create_or_update_stream_patiently(js, config, deadline)
            .await
            .map_err(|e| BusError::nats(format!("create or update KV bucket {BUCKET}"), e))?;
        let kv = js
            .get_key_value(BUCKET)
            .await
            .map_err(|e| BusError::nats(format!("open KV bucket {BUCKET}"), e))?;
        Ok(Directory { kv })
    }

    /// Writes `site` as it is (callers normally use [`Directory::announce`] or a [`Heartbeat`]).
    pub async fn put(&self, site: &SiteAnnouncement) -> Result<u64, BusError> {
        let body = serde_json::to_vec(site).map_err(|source| BusError::Json {
            subject: format!("{BUCKET}/{}", site.id),
            source,
        })?;
        self.kv
            .put(site.id.as_str(), Bytes::from(body))
            .await
            .map_err(|e| BusError::nats(format!("put {BUCKET}/{}", site.id), e))
    }

    /// Announces `site` with `last_heartbeat` set to now; returns what was stored.
    pub async fn announce(&self, site: &SiteAnnouncement) -> Result<DirectoryEntry, BusError> {
        let mut site = site.clone();
        site.last_heartbeat = Utc::now();
        let revision = self.put(&site).await?;
        Ok(DirectoryEntry { site, revision })
    }

    /// The entry of one site, if it announced itself.
    pub async fn get(&self, id: &SiteId) -> Result<Option<DirectoryEntry>, BusError> {
        let entry = self
            .kv
            .entry(id.as_str())
            .await
            .map_err(|e| BusError::nats(format!("get {BUCKET}/{id}"), e))?;
        match entry {
            Some(e) if e.operation == Operation::Put => Ok(Some(DirectoryEntry {
                site: decode(&e.key, &e.value)?,
                revision: e.revision,
            })),
            _ => Ok(None),
        }
    }

    /// Every announced site, sorted by id. An entry that cannot be decoded (written by a newer
    /// version, say) is skipped with a warning rather than failing the whole list.
    pub async fn list(&self) -> Result<Vec<DirectoryEntry>, BusError> {
        let keys: Vec<String> = match self.kv.keys().await {
            Ok(keys) => keys
                .try_collect()
                .await
                .map_err(|e| BusError::nats(format!("list keys of {BUCKET}"), e))?,
            Err(e) => return Err(BusError::nats(format!("list keys of {BUCKET}"), e)),
        };
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let entry = self
                .kv
                .entry(key.as_str())
                .await
                .map_err(|e| BusError::nats(format!("get {BUCKET}/{key}"), e))?;
            if let Some(e) = entry.filter(|e| e.operation == Operation::Put) {
                match decode(&e.key, &e.value) {
                    Ok(site) => out.push(DirectoryEntry {
                        site,
                        revision: e.revision,
                    }),
                    Err(err) => {
                        tracing::warn!(key = %key, error = %err, "skipping directory entry")
                    }
                }
            }
        }
        out.sort_by(|a, b| a.site.id.cmp(&b.site.id));
        Ok(out)
    }

    /// The current entries, then every change as it happens. An undecodable value is an
    /// `Err` item; the stream goes on.
    pub async fn watch(
        &self,
    ) -> Result<impl Stream<Item = Result<DirectoryChange, BusError>> + Send + use<>, BusError>
    {
        let watch = self
            .kv
            .watch_with_history(">")
            .await
            .map_err(|e| BusError::nats(format!("watch {BUCKET}"), e))?;
        Ok(watch.map(|item| {
            let entry = item.map_err(|e| BusError::nats(format!("watch {BUCKET}"), e))?;
            match entry.operation {
                Operation::Put => Ok(DirectoryChange::Announced(Box::new(DirectoryEntry {
                    site: decode(&entry.key, &entry.value)?,
                    revision: entry.revision,
                }))),
                Operation::Delete | Operation::Purge => Ok(DirectoryChange::Withdrawn(entry.key)),
            }
        }))
    }

    /// Removes a site's entry (a site closing down, or a test cleaning up).
    pub async fn withdraw(&self, id: &SiteId) -> Result<(), BusError> {
        self.kv
            .delete(id.as_str())
            .await
            .map_err(|e| BusError::nats(format!("delete {BUCKET}/{id}"), e))
    }

    /// Starts the heartbeat of `site`: announces at once and then every `interval` (also
    /// written into the announcement). A failed write (NATS unreachable) is logged and retried
    /// at the next tick, so a site can start and run offline.
    pub fn start_heartbeat(&self, site: SiteAnnouncement, interval: Duration) -> Heartbeat {
        self.start_heartbeat_with_health(site, interval, None)
    }

    /// [`Directory::start_heartbeat`], each beat carrying `health()` as it is then.
    pub fn start_heartbeat_with_health(
        &self,
        site: SiteAnnouncement,
        interval: Duration,
        health: Option<HealthSource>,
    ) -> Heartbeat {
        let interval = interval.max(Duration::from_secs(1));
        let mut site = site;
        site.heartbeat_interval_secs = interval.as_secs();
        let state = Arc::new(Mutex::new(site));
        let (stop_tx, mut stop_rx) = watch::channel(false);
        let directory = self.clone();
        let task_state = state.clone();
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = stop_rx.changed() => break,
                }
                let mut site = task_state.lock().await;
                site.last_heartbeat = Utc::now();
                if let Some(health) = &health {
                    site.health = Some(health());
                }
                match directory.put(&site).await {
                    Ok(rev) => tracing::trace!(site = %site.id, rev, "heartbeat"),
                    Err(e) => tracing::warn!(site = %site.id, error = %e, "heartbeat not written"),
                }
            }
        });
        Heartbeat {
            directory: self.clone(),
            state,
            stop: stop_tx,
            task,
        }
    }
}

/// A running heartbeat; see [`Directory::start_heartbeat`].
#[derive(Debug)]
pub struct Heartbeat {
    directory: Directory,
    state: Arc<Mutex<SiteAnnouncement>>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Heartbeat {
    /// Changes the announcement (new prices, a new profile) and writes it now; later beats
    /// carry the change.
    pub async fn update(
        &self,
        change: impl FnOnce(&mut SiteAnnouncement),
    ) -> Result<DirectoryEntry, BusError> {
        let mut site = self.state.lock().await;
        change(&mut site);
        site.last_heartbeat = Utc::now();
        let revision = self.directory.put(&site).await?;
        Ok(DirectoryEntry {
            site: site.clone(),
            revision,
        })
    }

    /// The announcement as it is now.
    pub async fn current(&self) -> SiteAnnouncement {
        self.state.lock().await.clone()
    }

    /// Stops beating; with `withdraw`, also removes the entry (a clean shutdown of a site that
    /// is going away for good; a restart should leave it, to be refreshed).
    pub async fn stop(self, withdraw: bool) -> Result<(), BusError> {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        if withdraw {
            let id = self.state.lock().await.id.clone();
            self.directory.withdraw(&id).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_hours_name_days_and_times() {
        assert_eq!(days_of("mon-fri"), Some(vec![0, 1, 2, 3, 4]));
        assert_eq!(days_of("sat, SUN"), Some(vec![5, 6]));
        assert_eq!(days_of("mon,wed-thu,mon"), Some(vec![0, 2, 3]));
        assert_eq!(days_of("fri-mon"), None);
        assert_eq!(days_of("holidays"), None);
        let h = |days: &str, opens: &str, closes: &str| OpeningHours {
            days: days.into(),
            opens: opens.into(),
            closes: closes.into(),
        };
        assert!(h("mon-fri", "10:00", "20:00").check().is_ok());
        assert!(h("mon-fri", "20:00", "10:00").check().is_err());
        assert!(h("mon-fri", "10", "20:00").check().is_err());
        assert!(h("weekdays", "10:00", "20:00").check().is_err());
    }

    #[test]
    fn an_announcement_without_opening_hours_still_reads() {
        let old = serde_json::json!({
            "id": "counter-x", "kind": "counter", "name": "X", "address": "1-1 Ginza",
            "time_zone": "Asia/Tokyo", "currency": "JPY", "sizes": ["L"], "prices": [],
            "policy_summary": "", "icc_profiles": [], "last_heartbeat": "2026-01-01T00:00:00Z",
            "heartbeat_interval_secs": 15, "version": "0.1.0"
        });
        let site: SiteAnnouncement = serde_json::from_value(old).unwrap();
        assert!(site.opening_hours.is_empty());
        assert!(site.health.is_none());
        let written = serde_json::to_value(&site).unwrap();
        assert!(
            written.get("opening_hours").is_none() && written.get("health").is_none(),
            "older readers see what they knew"
        );
    }
}
