//! The SQLite backend. Writes go through one connection in `BEGIN IMMEDIATE` transactions,
//! so there is one writer at a time and position order is commit order.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use crate::codec;
use crate::error::{Error, Result, VersionConflict};
use crate::pg::{Deferred, Inserted, Outcome};
use crate::types::{
    Checkpoint, ExpectedVersion, NewEvent, OutboxMessage, ParkedMessage, ParkedRecord,
    PendingMessage, RecordedEvent, Snapshot,
};

/// A single event at an exact version, guarded in the statement itself: stored only when the
/// stream is at `?2` and neither the event id nor the version is taken (`ON CONFLICT DO
/// NOTHING` keeps a refused insert from raising, so a caller's transaction stays usable).
/// Nothing returned means "not the plain case": [`append`] then works out which, by its rules.
const INSERT_ONE_EXACT: &str = "\
INSERT INTO events (stream_id, version, event_id, event_type, schema_version, payload, metadata,
                    recorded_at)
SELECT ?1, ?2 + 1, ?3, ?4, ?5, ?6, ?7, ?8
WHERE COALESCE((SELECT MAX(version) FROM events WHERE stream_id = ?1), 0) = ?2
ON CONFLICT DO NOTHING
RETURNING position";

/// The plain case of a one-event append at an exact version in one statement (no separate
/// look-ups of the event id and the version): `Some(position)` when stored, `None` when the
/// statement stored nothing (version off, event id already stored).
pub(crate) async fn append_one_exact(
    conn: &mut SqliteConnection,
    stream_id: &str,
    expected: u64,
    e: &NewEvent,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    let position: Option<i64> = sqlx::query_scalar(INSERT_ONE_EXACT)
        .bind(stream_id)
        .bind(expected as i64)
        .bind(e.event_id)
        .bind(&e.event_type)
        .bind(e.schema_version as i64)
        .bind(&e.payload)
        .bind(codec::metadata_to_json(&e.metadata)?)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(position)
}

/// Appends inside the caller's write transaction (see [`crate::pg::append`] for the rules).
pub(crate) async fn append(
    conn: &mut SqliteConnection,
    stream_id: &str,
    expected: ExpectedVersion,
    events: &[NewEvent],
) -> Result<Outcome> {
    let now = Utc::now();
    if let ([e], Some(v)) = (events, expected.exact())
        && let Some(position) = append_one_exact(conn, stream_id, v, e, now).await?
    {
        return Ok(Outcome {
            stream_version: v + 1,
            inserted: vec![Inserted {
                index: 0,
                position,
                tx_id: 0,
                version: v + 1,
                recorded_at: now,
            }],
        });
    }
    let stored = stored_event_ids(conn, events.iter().map(|e| e.event_id)).await?;
    let pending: Vec<usize> = (0..events.len())
        .filter(|&i| !stored.contains(&events[i].event_id))
        .collect();
    let current = stream_version(conn, stream_id).await?;
    if pending.is_empty() {
        return Ok(Outcome {
            stream_version: current,
            inserted: Vec::new(),
        });
    }
    if let Some(v) = expected.exact()
        && v != current
    {
        return Err(VersionConflict {
            stream_id: stream_id.to_string(),
            expected,
            actual: Some(current),
        }
        .into());
    }
    let rows: Vec<NewRow<'_>> = pending
        .iter()
        .zip(current + 1..)
        .map(|(&i, version)| (stream_id, version, &events[i]))
        .collect();
    let positions = insert_rows(conn, &rows, now).await?;
    let inserted = pending
        .iter()
        .zip(current + 1..)
        .map(|(&index, version)| {
            let position = positions
                .get(&events[index].event_id)
                .copied()
                .ok_or_else(|| Error::Corrupt(format!("append lost event {index}")))?;
            Ok(Inserted {
                index,
                position,
                tx_id: 0,
                version,
                recorded_at: now,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Outcome {
        stream_version: current + pending.len() as u64,
        inserted,
    })
}

/// One row to insert: stream, version, event.
type NewRow<'a> = (&'a str, u64, &'a NewEvent);

/// Inserts `rows` in one statement (the rows passed as one JSON array, so the statement's text,
/// and so its prepared form, is the same for any number of rows); returns each event's position.
async fn insert_rows(
    conn: &mut SqliteConnection,
    rows: &[NewRow<'_>],
    now: DateTime<Utc>,
) -> Result<HashMap<Uuid, i64>> {
    let mut json = Vec::with_capacity(rows.len());
    for (stream_id, version, e) in rows {
        json.push(serde_json::json!([
            stream_id,
            version,
            e.event_id.simple().to_string(),
            e.event_type,
            e.schema_version,
            hex::encode(&e.payload),
            codec::metadata_to_json(&e.metadata)?,
        ]));
    }
    let json = serde_json::Value::Array(json).to_string();
    let returned: Vec<(Uuid, i64)> = sqlx::query_as(
        "INSERT INTO events (stream_id, version, event_id, event_type, schema_version, payload, \
         metadata, recorded_at) \
         SELECT j.value ->> 0, j.value ->> 1, unhex(j.value ->> 2), j.value ->> 3, \
                j.value ->> 4, unhex(j.value ->> 5), j.value ->> 6, ?2 \
         FROM json_each(?1) AS j ORDER BY j.key \
         RETURNING event_id, position",
    )
    .bind(json)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    if returned.len() != rows.len() {
        return Err(Error::Corrupt(format!(
            "append stored {} of {} events",
            returned.len(),
            rows.len()
        )));
    }
    Ok(returned.into_iter().collect())
}

/// Which of `ids` are stored already (one statement).
async fn stored_event_ids(
    conn: &mut SqliteConnection,
    ids: impl Iterator<Item = Uuid>,
) -> Result<HashSet<Uuid>> {
    let ids: Vec<String> = ids.map(|id| id.simple().to_string()).collect();
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let stored: Vec<Uuid> = sqlx::query_scalar(
        "SELECT event_id FROM events WHERE event_id IN (SELECT unhex(value) FROM json_each(?))",
    )
    .bind(serde_json::to_string(&ids).map_err(crate::CodecError::from)?)
    .fetch_all(&mut *conn)
    .await?;
    Ok(stored.into_iter().collect())
}

/// Several appends of one unit of work (see `Transaction::append_deferred`) in the caller's
/// write transaction. The plain case (new event ids, each exact version holding) is three
/// statements for all of them: the stored ids, the streams' versions, one insert. Anything
/// else (a stored event id, a version off, an id twice in the set) goes through [`append`]
/// one by one, with its rules and errors. The write lock is held (`BEGIN IMMEDIATE`), so
/// nothing changes between the look-ups and the insert.
pub(crate) async fn append_many(
    conn: &mut SqliteConnection,
    appends: &[Deferred],
) -> Result<Vec<Outcome>> {
    let total: usize = appends.iter().map(|a| a.events.len()).sum();
    let mut ids = HashSet::with_capacity(total);
    let plain = appends.len() > 1
        && appends.iter().all(|a| !a.events.is_empty())
        && appends
            .iter()
            .flat_map(|a| &a.events)
            .all(|e| ids.insert(e.event_id));
    if plain
        && stored_event_ids(conn, ids.iter().copied())
            .await?
            .is_empty()
    {
        let mut streams: Vec<&str> = appends.iter().map(|a| a.stream_id.as_str()).collect();
        streams.sort_unstable();
        streams.dedup();
        let versions: Vec<(String, i64)> = sqlx::query_as(
            "SELECT stream_id, MAX(version) FROM events \
             WHERE stream_id IN (SELECT value FROM json_each(?)) GROUP BY stream_id",
        )
        .bind(serde_json::to_string(&streams).map_err(crate::CodecError::from)?)
        .fetch_all(&mut *conn)
        .await?;
        let mut current: HashMap<&str, u64> = streams.iter().map(|s| (*s, 0)).collect();
        for (stream, v) in &versions {
            if let Some(c) = current.get_mut(stream.as_str()) {
                *c = *v as u64;
            }
        }
        let mut rows = Vec::with_capacity(total);
        let mut holds = true;
        for a in appends {
            let Some(c) = current.get_mut(a.stream_id.as_str()) else {
                holds = false;
                break;
            };
            if a.expected.exact().is_some_and(|v| v != *c) {
                holds = false;
                break;
            }
            for e in &a.events {
                *c += 1;
                rows.push((a.stream_id.as_str(), *c, e));
            }
        }
        if holds {
            let now = Utc::now();
            let positions = insert_rows(conn, &rows, now).await?;
            let mut rows = rows.iter();
            let mut outcomes = Vec::with_capacity(appends.len());
            for a in appends {
                let mut inserted = Vec::with_capacity(a.events.len());
                for index in 0..a.events.len() {
                    let (_, version, e) = rows
                        .next()
                        .ok_or_else(|| Error::Corrupt("batched append lost a row".into()))?;
                    let position = positions.get(&e.event_id).copied().ok_or_else(|| {
                        Error::Corrupt(format!("append lost event {}", e.event_id))
                    })?;
                    inserted.push(Inserted {
                        index,
                        position,
                        tx_id: 0,
                        version: *version,
                        recorded_at: now,
                    });
                }
                outcomes.push(Outcome {
                    stream_version: inserted.last().map_or(0, |i| i.version),
                    inserted,
                });
            }
            return Ok(outcomes);
        }
    }
    let mut outcomes = Vec::with_capacity(appends.len());
    for d in appends {
        outcomes.push(append(conn, &d.stream_id, d.expected, &d.events).await?);
    }
    Ok(outcomes)
}

pub(crate) async fn stream_version(conn: &mut SqliteConnection, stream_id: &str) -> Result<u64> {
    let v: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?")
            .bind(stream_id)
            .fetch_one(&mut *conn)
            .await?;
    Ok(v as u64)
}

const EVENT_COLUMNS: &str = "position, stream_id, version, event_id, event_type, \
     schema_version, payload, metadata, recorded_at";

fn event_from_row(row: &SqliteRow) -> Result<RecordedEvent> {
    let metadata: String = row.try_get("metadata")?;
    Ok(RecordedEvent {
        position: row.try_get("position")?,
        tx_id: 0,
        stream_id: row.try_get("stream_id")?,
        version: row.try_get::<i64, _>("version")? as u64,
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("event_type")?,
        schema_version: row.try_get::<i64, _>("schema_version")? as u32,
        payload: row.try_get("payload")?,
        metadata: codec::metadata_from_json(&metadata)?,
        recorded_at: row.try_get::<DateTime<Utc>, _>("recorded_at")?,
    })
}

fn clamp_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

pub(crate) async fn read_stream(
    conn: &mut SqliteConnection,
    stream_id: &str,
    from_version: u64,
    limit: usize,
) -> Result<Vec<RecordedEvent>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = ? AND version >= ? \
         ORDER BY version LIMIT ?"
    );
    let rows = sqlx::query(&sql)
        .bind(stream_id)
        .bind(from_version as i64)
        .bind(clamp_limit(limit))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(event_from_row).collect()
}

pub(crate) async fn read_all(
    conn: &mut SqliteConnection,
    after: Checkpoint,
    limit: usize,
) -> Result<Vec<RecordedEvent>> {
    let sql =
        format!("SELECT {EVENT_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?");
    let rows = sqlx::query(&sql)
        .bind(after.position)
        .bind(clamp_limit(limit))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(event_from_row).collect()
}

/// Writes outbox rows in one statement (a message id already there is skipped).
pub(crate) async fn enqueue(conn: &mut SqliteConnection, messages: &[OutboxMessage]) -> Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::with_capacity(messages.len());
    for m in messages {
        rows.push(serde_json::json!([
            m.message_id,
            m.subject,
            hex::encode(&m.payload),
            codec::headers_to_json(&m.headers)?,
        ]));
    }
    sqlx::query(
        "INSERT INTO outbox (message_id, subject, payload, headers, created_at) \
         SELECT j.value ->> 0, j.value ->> 1, unhex(j.value ->> 2), j.value ->> 3, ?2 \
         FROM json_each(?1) AS j WHERE true ORDER BY j.key \
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(serde_json::Value::Array(rows).to_string())
    .bind(Utc::now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn pending(
    conn: &mut SqliteConnection,
    after_id: i64,
    limit: usize,
) -> Result<Vec<PendingMessage>> {
    let rows = sqlx::query(
        "SELECT id, message_id, subject, payload, headers FROM outbox \
         WHERE sent_at IS NULL AND id > ? ORDER BY id LIMIT ?",
    )
    .bind(after_id)
    .bind(clamp_limit(limit))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let headers: String = r.try_get("headers")?;
            Ok(PendingMessage {
                id: r.try_get("id")?,
                message: OutboxMessage {
                    message_id: r.try_get("message_id")?,
                    subject: r.try_get("subject")?,
                    payload: r.try_get("payload")?,
                    headers: codec::headers_from_json(&headers)?,
                },
            })
        })
        .collect()
}

pub(crate) async fn mark_sent(conn: &mut SqliteConnection, ids: &[i64]) -> Result<()> {
    let now = Utc::now();
    // One statement per chunk of ids (far below SQLite's limit of bound parameters).
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql =
            format!("UPDATE outbox SET sent_at = ? WHERE id IN ({marks}) AND sent_at IS NULL");
        let mut q = sqlx::query(&sql).bind(now);
        for id in chunk {
            q = q.bind(id);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Deletes up to `limit` outbox rows created before `before` and marked sent.
pub(crate) async fn prune_sent_outbox(
    conn: &mut SqliteConnection,
    before: chrono::DateTime<Utc>,
    limit: u64,
) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
         WHERE sent_at IS NOT NULL AND created_at < ? LIMIT ?)",
    )
    .bind(before)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes up to `limit` inbox records processed before `before`.
pub(crate) async fn prune_inbox(
    conn: &mut SqliteConnection,
    before: chrono::DateTime<Utc>,
    limit: u64,
) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM inbox WHERE (consumer, message_id) IN (SELECT consumer, message_id \
         FROM inbox WHERE processed_at < ? LIMIT ?)",
    )
    .bind(before)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

pub(crate) async fn unsent_count(conn: &mut SqliteConnection) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
        .fetch_one(&mut *conn)
        .await?;
    Ok(n as u64)
}

/// Records `message_ids` in one statement; `true` at the first occurrence of each id that was
/// not recorded before (see `Transaction::inbox_record`).
pub(crate) async fn inbox_record(
    conn: &mut SqliteConnection,
    consumer: &str,
    message_ids: &[&str],
) -> Result<Vec<bool>> {
    if message_ids.is_empty() {
        return Ok(Vec::new());
    }
    // `WHERE true`: SQLite's grammar needs a clause between `SELECT ... FROM` and the upsert.
    let new: Vec<String> = sqlx::query_scalar(
        "INSERT INTO inbox (consumer, message_id, processed_at) \
         SELECT ?1, value, ?2 FROM json_each(?3) WHERE true \
         ON CONFLICT DO NOTHING RETURNING message_id",
    )
    .bind(consumer)
    .bind(Utc::now())
    .bind(serde_json::to_string(message_ids).map_err(crate::CodecError::from)?)
    .fetch_all(&mut *conn)
    .await?;
    Ok(crate::pg::first_occurrences(message_ids, &new))
}

pub(crate) async fn inbox_contains(
    conn: &mut SqliteConnection,
    consumer: &str,
    message_id: &str,
) -> Result<bool> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM inbox WHERE consumer = ? AND message_id = ?")
            .bind(consumer)
            .bind(message_id)
            .fetch_one(&mut *conn)
            .await?;
    Ok(n > 0)
}

pub(crate) async fn park(conn: &mut SqliteConnection, m: &ParkedMessage) -> Result<()> {
    sqlx::query(
        "INSERT INTO parked_messages \
         (consumer, message_id, subject, payload, headers, deliveries, reason, parked_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&m.consumer)
    .bind(&m.message_id)
    .bind(&m.subject)
    .bind(&m.payload)
    .bind(codec::headers_to_json(&m.headers)?)
    .bind(m.deliveries as i64)
    .bind(&m.reason)
    .bind(Utc::now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn parked(
    conn: &mut SqliteConnection,
    consumer: &str,
) -> Result<Vec<ParkedRecord>> {
    let rows = sqlx::query(
        "SELECT id, consumer, message_id, subject, payload, headers, deliveries, reason, \
         parked_at FROM parked_messages WHERE consumer = ? ORDER BY id",
    )
    .bind(consumer)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let headers: String = r.try_get("headers")?;
            Ok(ParkedRecord {
                id: r.try_get("id")?,
                message: ParkedMessage {
                    consumer: r.try_get("consumer")?,
                    message_id: r.try_get("message_id")?,
                    subject: r.try_get("subject")?,
                    payload: r.try_get("payload")?,
                    headers: codec::headers_from_json(&headers)?,
                    deliveries: r.try_get::<i64, _>("deliveries")? as u64,
                    reason: r.try_get("reason")?,
                },
                parked_at: r.try_get::<DateTime<Utc>, _>("parked_at")?,
            })
        })
        .collect()
}

pub(crate) async fn save_snapshot(
    conn: &mut SqliteConnection,
    stream_id: &str,
    s: &Snapshot,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO snapshots (stream_id, version, schema_version, payload, taken_at) \
         VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, \
           schema_version = excluded.schema_version, payload = excluded.payload, \
           taken_at = excluded.taken_at \
         WHERE snapshots.version <= excluded.version",
    )
    .bind(stream_id)
    .bind(s.version as i64)
    .bind(s.schema_version as i64)
    .bind(&s.payload)
    .bind(Utc::now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn load_snapshot(
    conn: &mut SqliteConnection,
    stream_id: &str,
) -> Result<Option<Snapshot>> {
    let row: Option<(i64, i64, Vec<u8>)> = sqlx::query_as(
        "SELECT version, schema_version, payload FROM snapshots WHERE stream_id = ?",
    )
    .bind(stream_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(v, sv, payload)| Snapshot {
        version: v as u64,
        schema_version: sv as u32,
        payload,
    }))
}
