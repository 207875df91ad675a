//! The SQLite backend. Writes go through one connection in `BEGIN IMMEDIATE` transactions,
//! so there is one writer at a time and position order is commit order.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use crate::codec;
use crate::error::{Result, VersionConflict};
use crate::pg::{Inserted, Outcome};
use crate::types::{
    Checkpoint, ExpectedVersion, NewEvent, OutboxMessage, ParkedMessage, ParkedRecord,
    PendingMessage, RecordedEvent, Snapshot,
};

/// Appends inside the caller's write transaction (see [`crate::pg::append`] for the rules).
pub(crate) async fn append(
    conn: &mut SqliteConnection,
    stream_id: &str,
    expected: ExpectedVersion,
    events: &[NewEvent],
) -> Result<Outcome> {
    let mut pending = Vec::with_capacity(events.len());
    for (i, e) in events.iter().enumerate() {
        let stored: Option<i64> = sqlx::query_scalar("SELECT 1 FROM events WHERE event_id = ?")
            .bind(e.event_id)
            .fetch_optional(&mut *conn)
            .await?;
        if stored.is_none() {
            pending.push(i);
        }
    }
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
    let now = Utc::now();
    let mut inserted = Vec::with_capacity(pending.len());
    let mut version = current;
    for index in pending {
        let e = &events[index];
        version += 1;
        let position: i64 = sqlx::query_scalar(
            "INSERT INTO events (stream_id, version, event_id, event_type, schema_version, \
             payload, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING position",
        )
        .bind(stream_id)
        .bind(version as i64)
        .bind(e.event_id)
        .bind(&e.event_type)
        .bind(e.schema_version as i64)
        .bind(&e.payload)
        .bind(codec::metadata_to_json(&e.metadata)?)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        inserted.push(Inserted {
            index,
            position,
            tx_id: 0,
            version,
            recorded_at: now,
        });
    }
    Ok(Outcome {
        stream_version: version,
        inserted,
    })
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

pub(crate) async fn enqueue(conn: &mut SqliteConnection, messages: &[OutboxMessage]) -> Result<()> {
    let now = Utc::now();
    for m in messages {
        sqlx::query(
            "INSERT INTO outbox (message_id, subject, payload, headers, created_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING",
        )
        .bind(&m.message_id)
        .bind(&m.subject)
        .bind(&m.payload)
        .bind(codec::headers_to_json(&m.headers)?)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
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

pub(crate) async fn inbox_record(
    conn: &mut SqliteConnection,
    consumer: &str,
    message_ids: &[&str],
) -> Result<Vec<bool>> {
    let now = Utc::now();
    let mut out = Vec::with_capacity(message_ids.len());
    for id in message_ids {
        let done = sqlx::query(
            "INSERT INTO inbox (consumer, message_id, processed_at) VALUES (?, ?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind(consumer)
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        out.push(done.rows_affected() == 1);
    }
    Ok(out)
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
