//! The SQLite backend. Writes go through one connection in `BEGIN IMMEDIATE` transactions,
//! so there is one writer at a time and position order is commit order.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use crate::codec;
use crate::error::{Error, Result, VersionConflict, unique_violation};
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
        .zip(positions)
        .map(|((&index, version), position)| Inserted {
            index,
            position,
            tx_id: 0,
            version,
            recorded_at: now,
        })
        .collect();
    Ok(Outcome {
        stream_version: current + pending.len() as u64,
        inserted,
    })
}

/// One row to insert: stream, version, event.
type NewRow<'a> = (&'a str, u64, &'a NewEvent);

/// Inserts `rows` in one statement and returns each row's position, in row order.
///
/// The rows go as one JSON array of small values (stream, version, event type, schema version,
/// metadata, and where the row's event id and payload lie in one blob bound beside it), so the
/// statement's text, and so its prepared form, is the same for any number of rows, and no byte
/// of a payload is hex-encoded and decoded again. Nothing comes back row by row (sqlx hands
/// every returned row from its SQLite thread to the caller's task): the write lock is held and
/// `position` is `AUTOINCREMENT`, so one statement's rows take consecutive positions ending at
/// the last inserted rowid. A unique violation (an event id already stored) is returned as
/// it is: SQLite undoes the statement alone and the caller's transaction stays usable.
async fn insert_rows(
    conn: &mut SqliteConnection,
    rows: &[NewRow<'_>],
    now: DateTime<Utc>,
) -> std::result::Result<Vec<i64>, InsertError> {
    let (json, blob) = rows_json(rows)?;
    let done = sqlx::query(
        "INSERT INTO events (stream_id, version, event_id, event_type, schema_version, payload, \
         metadata, recorded_at) \
         SELECT j.value ->> 0, j.value ->> 1, substr(?2, j.value ->> 5, 16), j.value ->> 2, \
                j.value ->> 3, substr(?2, j.value ->> 5 + 16, j.value ->> 6), j.value ->> 4, ?3 \
         FROM json_each(?1) AS j ORDER BY j.key",
    )
    .bind(json)
    .bind(blob)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(InsertError::Database)?;
    let n = rows.len() as i64;
    if done.rows_affected() != rows.len() as u64 {
        return Err(InsertError::Store(Error::Corrupt(format!(
            "append stored {} of {n} events",
            done.rows_affected()
        ))));
    }
    let last = done.last_insert_rowid();
    Ok((last - n + 1..=last).collect())
}

/// Why [`insert_rows`] stored nothing.
enum InsertError {
    /// The statement failed (a unique violation among others).
    Database(sqlx::Error),
    /// Anything else.
    Store(Error),
}

impl From<Error> for InsertError {
    fn from(e: Error) -> InsertError {
        InsertError::Store(e)
    }
}

impl From<InsertError> for Error {
    fn from(e: InsertError) -> Error {
        match e {
            InsertError::Database(e) => e.into(),
            InsertError::Store(e) => e,
        }
    }
}

/// The rows of [`insert_rows`]: a JSON array of `[stream, version, event type, schema
/// version, metadata, offset, payload length]` and one blob of every row's event id (16 bytes)
/// and payload, in row order; `offset` is 1-based (SQLite's `substr`).
fn rows_json(rows: &[NewRow<'_>]) -> Result<(String, Vec<u8>)> {
    rows_json_with(rows, |i| rows[i].1 as i64)
}

/// As [`rows_json`], with the second value of row `i` given by `second(i)`.
fn rows_json_with(rows: &[NewRow<'_>], second: impl Fn(usize) -> i64) -> Result<(String, Vec<u8>)> {
    let blob_len: usize = rows.iter().map(|(_, _, e)| 16 + e.payload.len()).sum();
    let mut blob = Vec::with_capacity(blob_len);
    let mut json = Vec::with_capacity(rows.len() * 64);
    json.push(b'[');
    for (i, (stream_id, _, e)) in rows.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        let offset = blob.len() + 1;
        blob.extend_from_slice(e.event_id.as_bytes());
        blob.extend_from_slice(&e.payload);
        let metadata = codec::metadata_to_json(&e.metadata)?;
        serde_json::to_writer(
            &mut json,
            &(
                stream_id,
                second(i),
                &e.event_type,
                e.schema_version,
                metadata,
                offset,
                e.payload.len(),
            ),
        )
        .map_err(crate::CodecError::from)?;
    }
    json.push(b']');
    // serde_json writes UTF-8 only.
    let json = String::from_utf8(json)
        .map_err(|e| Error::Corrupt(format!("rows as JSON not UTF-8: {e}")))?;
    Ok((json, blob))
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
/// write transaction. The plain case (new event ids, each exact version holding) is two
/// statements for all of them: the streams' versions and one insert. Anything else (a version
/// off, an event id twice in the set, an event id stored before, which makes the insert fail
/// and SQLite undo that statement alone) goes through [`append`] one by one, with its rules
/// and errors. The write lock is held (`BEGIN IMMEDIATE`), so nothing changes between the
/// look-up and the insert.
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
    if plain {
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
            match insert_rows(conn, &rows, now).await {
                Ok(positions) => {
                    let mut rows = rows.iter().zip(positions);
                    let mut outcomes = Vec::with_capacity(appends.len());
                    for a in appends {
                        let mut inserted = Vec::with_capacity(a.events.len());
                        for index in 0..a.events.len() {
                            let ((_, version, _), position) = rows.next().ok_or_else(|| {
                                Error::Corrupt("batched append lost a row".into())
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
                // An event id stored before: nothing of the statement is left, each append
                // on its own below skips it by its rules.
                Err(InsertError::Database(e)) if unique_violation(&e).is_some() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let mut outcomes = Vec::with_capacity(appends.len());
    for d in appends {
        outcomes.push(append(conn, &d.stream_id, d.expected, &d.events).await?);
    }
    Ok(outcomes)
}

/// All events of a set of appends in one statement, with no row back: each stream's version
/// is read in the statement, every event of an exact append is checked against it, and either
/// every event is stored or none is (a version off stores nothing; an event id stored before
/// raises, which SQLite undoes alone). The versions and positions are not reported.
const INSERT_MANY: &str = "\
WITH j AS MATERIALIZED (
    SELECT j.key AS k, j.value ->> 0 AS s, j.value ->> 1 AS x, j.value ->> 2 AS ty,
           j.value ->> 3 AS sv, j.value ->> 4 AS md, j.value ->> 5 AS off, j.value ->> 6 AS len
    FROM json_each(?1) AS j
), b AS MATERIALIZED (
    SELECT d.s AS s,
           COALESCE((SELECT MAX(version) FROM events WHERE stream_id = d.s), 0) AS base
    FROM (SELECT DISTINCT s FROM j) AS d
), n AS MATERIALIZED (
    SELECT j.*, b.base + row_number() OVER (PARTITION BY j.s ORDER BY j.k) AS version
    FROM j JOIN b ON b.s = j.s
)
INSERT INTO events (stream_id, version, event_id, event_type, schema_version, payload, metadata,
                    recorded_at)
SELECT n.s, n.version, substr(?2, n.off, 16), n.ty, n.sv, substr(?2, n.off + 16, n.len), n.md, ?3
FROM n
WHERE NOT EXISTS (SELECT 1 FROM n AS c WHERE c.x >= 0 AND c.x <> c.version - 1)
ORDER BY n.k";

/// [`append_many`] for a commit, which needs no outcome: the plain case (new event ids, each
/// exact version holding) is one statement ([`INSERT_MANY`]) with no row back; anything else
/// goes through [`append_many`] with its rules and errors.
pub(crate) async fn append_many_unreported(
    conn: &mut SqliteConnection,
    appends: &[Deferred],
) -> Result<()> {
    let total: usize = appends.iter().map(|a| a.events.len()).sum();
    let mut ids = HashSet::with_capacity(total);
    let plain = appends.len() > 1
        && appends.iter().all(|a| !a.events.is_empty())
        && appends
            .iter()
            .flat_map(|a| &a.events)
            .all(|e| ids.insert(e.event_id));
    if plain {
        // The expected version of each event (-1: any), in the rows' version column.
        let mut rows = Vec::with_capacity(total);
        let mut expected = Vec::with_capacity(total);
        for a in appends {
            for (i, e) in a.events.iter().enumerate() {
                rows.push((a.stream_id.as_str(), 0u64, e));
                expected.push(a.expected.exact().map_or(-1, |v| (v + i as u64) as i64));
            }
        }
        let (json, blob) = rows_json_with(&rows, |i| expected[i])?;
        match sqlx::query(INSERT_MANY)
            .bind(json)
            .bind(blob)
            .bind(Utc::now())
            .execute(&mut *conn)
            .await
        {
            Ok(done) if done.rows_affected() == total as u64 => return Ok(()),
            Ok(done) if done.rows_affected() != 0 => {
                return Err(Error::Corrupt(format!(
                    "batched append stored {} of {total} events",
                    done.rows_affected()
                )));
            }
            // A version off (nothing stored), or an event id stored before (the statement
            // undone): each append on its own below, by its rules.
            Ok(_) => {}
            Err(e) if unique_violation(&e).is_some() => {}
            Err(e) => return Err(e.into()),
        }
    }
    append_many(conn, appends).await.map(|_| ())
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

/// Records `message_ids`; `true` at the first occurrence of each id that was not recorded
/// before (see `Transaction::inbox_record`). Two statements and no row back in the usual case:
/// the ids recorded before (usually none), then the insert of all (ids there already skipped).
/// The caller holds the write lock (`BEGIN IMMEDIATE`), so nothing is recorded in between.
pub(crate) async fn inbox_record(
    conn: &mut SqliteConnection,
    consumer: &str,
    message_ids: &[&str],
) -> Result<Vec<bool>> {
    if message_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(message_ids).map_err(crate::CodecError::from)?;
    let before: Vec<String> = sqlx::query_scalar(
        "SELECT message_id FROM inbox \
         WHERE consumer = ?1 AND message_id IN (SELECT value FROM json_each(?2))",
    )
    .bind(consumer)
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    // `WHERE true`: SQLite's grammar needs a clause between `SELECT ... FROM` and the upsert.
    sqlx::query(
        "INSERT INTO inbox (consumer, message_id, processed_at) \
         SELECT ?1, value, ?2 FROM json_each(?3) WHERE true ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(Utc::now())
    .bind(&ids)
    .execute(&mut *conn)
    .await?;
    let before: HashSet<&str> = before.iter().map(String::as_str).collect();
    let mut first = HashSet::with_capacity(message_ids.len());
    Ok(message_ids
        .iter()
        .map(|id| !before.contains(id) && first.insert(*id))
        .collect())
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
