//! The Postgres backend: every function runs on a connection, in or out of a transaction.

use std::borrow::Borrow;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::codec;
use crate::error::{Error, Result, VersionConflict, unique_violation};
use crate::types::{
    Checkpoint, ExpectedVersion, NewEvent, OutboxMessage, ParkedMessage, ParkedRecord,
    PendingMessage, RecordedEvent, Snapshot,
};

/// One stored row of an append: which input event it was and where it landed.
pub(crate) struct Inserted {
    pub index: usize,
    pub position: i64,
    pub tx_id: i64,
    pub version: u64,
    pub recorded_at: DateTime<Utc>,
}

/// What the backend append did.
pub(crate) struct Outcome {
    pub stream_version: u64,
    pub inserted: Vec<Inserted>,
}

const INSERT_EXACT: &str = "\
INSERT INTO events (stream_id, version, event_id, event_type, schema_version, payload, metadata)
SELECT $1, $7 + e.ord, e.id, e.ty, e.sv, e.pl, e.md
FROM UNNEST($2::uuid[], $3::text[], $4::int4[], $5::bytea[], $6::text[])
     WITH ORDINALITY AS e(id, ty, sv, pl, md, ord)
WHERE NOT EXISTS (SELECT 1 FROM events WHERE event_id = ANY($2::uuid[]))
  AND COALESCE((SELECT MAX(version) FROM events WHERE stream_id = $1), 0) = $7
RETURNING position, tx_id::text::int8, version, recorded_at";

const INSERT_ANY: &str = "\
INSERT INTO events (stream_id, version, event_id, event_type, schema_version, payload, metadata)
SELECT $1, c.v + e.ord, e.id, e.ty, e.sv, e.pl, e.md
FROM (SELECT COALESCE(MAX(version), 0) AS v FROM events WHERE stream_id = $1) AS c,
     UNNEST($2::uuid[], $3::text[], $4::int4[], $5::bytea[], $6::text[])
     WITH ORDINALITY AS e(id, ty, sv, pl, md, ord)
WHERE NOT EXISTS (SELECT 1 FROM events WHERE event_id = ANY($2::uuid[]))
RETURNING position, tx_id::text::int8, version, recorded_at";

/// Single-event forms of the two statements above (no arrays to build or unnest). A lost race
/// for the version inserts nothing instead of raising, so the caller's transaction stays
/// usable: the append then reports the conflict (exact) or tries again (any). Batches cannot
/// do this, as a partly skipped batch would leave a gap.
const INSERT_ONE_EXACT: &str = "\
INSERT INTO events (stream_id, version, event_id, event_type, schema_version, payload, metadata)
SELECT $1, $7 + 1, $2, $3, $4, $5, $6
WHERE NOT EXISTS (SELECT 1 FROM events WHERE event_id = $2)
  AND COALESCE((SELECT MAX(version) FROM events WHERE stream_id = $1), 0) = $7
ON CONFLICT ON CONSTRAINT events_stream_version DO NOTHING
RETURNING position, tx_id::text::int8, version, recorded_at";

const INSERT_ONE_ANY: &str = "\
INSERT INTO events (stream_id, version, event_id, event_type, schema_version, payload, metadata)
SELECT $1, COALESCE((SELECT MAX(version) FROM events WHERE stream_id = $1), 0) + 1,
       $2, $3, $4, $5, $6
WHERE NOT EXISTS (SELECT 1 FROM events WHERE event_id = $2)
ON CONFLICT ON CONSTRAINT events_stream_version DO NOTHING
RETURNING position, tx_id::text::int8, version, recorded_at";

const EVENT_COLUMNS: &str = "position, tx_id::text::int8 AS tx_id, stream_id, version, event_id, \
     event_type, schema_version, payload, metadata, recorded_at";

type Returned = (i64, i64, i64, DateTime<Utc>);

async fn insert(
    conn: &mut PgConnection,
    stream_id: &str,
    expected: ExpectedVersion,
    events: &[NewEvent],
    pending: &[usize],
) -> std::result::Result<Vec<Returned>, sqlx::Error> {
    if let [i] = pending {
        let e = &events[*i];
        let md = codec::metadata_to_json(&e.metadata).map_err(|e| sqlx::Error::Encode(e.into()))?;
        let sql = match expected.exact() {
            Some(_) => INSERT_ONE_EXACT,
            None => INSERT_ONE_ANY,
        };
        let mut q = sqlx::query_as::<_, Returned>(sql)
            .bind(stream_id)
            .bind(e.event_id)
            .bind(&e.event_type)
            .bind(e.schema_version as i32)
            .bind(&e.payload)
            .bind(md);
        if let Some(v) = expected.exact() {
            q = q.bind(v as i64);
        }
        return q.fetch_all(&mut *conn).await;
    }
    let mut ids = Vec::with_capacity(pending.len());
    let mut types = Vec::with_capacity(pending.len());
    let mut versions = Vec::with_capacity(pending.len());
    let mut payloads = Vec::with_capacity(pending.len());
    let mut metadata = Vec::with_capacity(pending.len());
    for &i in pending {
        let e = &events[i];
        ids.push(e.event_id);
        types.push(e.event_type.as_str());
        versions.push(e.schema_version as i32);
        payloads.push(e.payload.as_slice());
        metadata
            .push(codec::metadata_to_json(&e.metadata).map_err(|e| sqlx::Error::Encode(e.into()))?);
    }
    let sql = match expected.exact() {
        Some(_) => INSERT_EXACT,
        None => INSERT_ANY,
    };
    let mut q = sqlx::query_as::<_, Returned>(sql)
        .bind(stream_id)
        .bind(ids)
        .bind(types)
        .bind(versions)
        .bind(payloads)
        .bind(metadata);
    if let Some(v) = expected.exact() {
        q = q.bind(v as i64);
    }
    q.fetch_all(&mut *conn).await
}

/// Appends `events` to `stream_id`. Event ids already stored are skipped; when none is left
/// the append is a no-op. `in_tx` says whether the connection is inside a transaction the
/// caller owns: there a unique violation has aborted the transaction and is returned as a
/// conflict or concurrent duplicate; outside one (autocommit) it is retried here.
pub(crate) async fn append(
    conn: &mut PgConnection,
    stream_id: &str,
    expected: ExpectedVersion,
    events: &[NewEvent],
    in_tx: bool,
) -> Result<Outcome> {
    let mut pending: Vec<usize> = (0..events.len()).collect();
    if pending.is_empty() {
        return Ok(Outcome {
            stream_version: stream_version(conn, stream_id).await?,
            inserted: Vec::new(),
        });
    }
    if in_tx && expected == ExpectedVersion::Any && events.len() > 1 {
        // Writers that append "after whatever is there" queue up per stream instead of
        // racing for the same version (a lost race would abort the caller's transaction).
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(stream_id)
            .execute(&mut *conn)
            .await?;
    }
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        match insert(conn, stream_id, expected, events, &pending).await {
            Ok(rows) if !rows.is_empty() => {
                let first = rows.iter().map(|r| r.2).min().unwrap_or(0);
                let mut inserted = Vec::with_capacity(rows.len());
                let mut last = 0u64;
                for (position, tx_id, version, recorded_at) in rows {
                    let offset = usize::try_from(version - first)
                        .map_err(|_| Error::Corrupt(format!("version {version} < {first}")))?;
                    let index = *pending.get(offset).ok_or_else(|| {
                        Error::Corrupt(format!("append returned unexpected version {version}"))
                    })?;
                    last = last.max(version as u64);
                    inserted.push(Inserted {
                        index,
                        position,
                        tx_id,
                        version: version as u64,
                        recorded_at,
                    });
                }
                inserted.sort_by_key(|i| i.version);
                return Ok(Outcome {
                    stream_version: last,
                    inserted,
                });
            }
            Ok(_) => {
                // Nothing stored: some event ids are already there, or the version is off.
                let ids: Vec<Uuid> = pending.iter().map(|&i| events[i].event_id).collect();
                let stored: Vec<Uuid> =
                    sqlx::query_scalar("SELECT event_id FROM events WHERE event_id = ANY($1)")
                        .bind(&ids)
                        .fetch_all(&mut *conn)
                        .await?;
                if !stored.is_empty() {
                    pending.retain(|&i| !stored.contains(&events[i].event_id));
                    if pending.is_empty() {
                        return Ok(Outcome {
                            stream_version: stream_version(conn, stream_id).await?,
                            inserted: Vec::new(),
                        });
                    }
                    continue;
                }
                if expected == ExpectedVersion::Any && attempts < 64 {
                    // A single event lost the race for its version: take the next one.
                    continue;
                }
                let actual = stream_version(conn, stream_id).await?;
                return Err(VersionConflict {
                    stream_id: stream_id.to_string(),
                    expected,
                    actual: Some(actual),
                }
                .into());
            }
            Err(e) => {
                let Some(constraint) = unique_violation(&e) else {
                    return Err(e.into());
                };
                let on_event_id = constraint.contains("events_event_id");
                // Each lost race means another writer committed, so this ends.
                if !in_tx && attempts < 64 && (on_event_id || expected == ExpectedVersion::Any) {
                    // A concurrent writer committed first; the next attempt sees its rows.
                    continue;
                }
                if on_event_id {
                    return Err(Error::ConcurrentDuplicate {
                        what: "event id",
                        id: pending
                            .iter()
                            .map(|&i| events[i].event_id.to_string())
                            .collect::<Vec<_>>()
                            .join(","),
                    });
                }
                let actual = if in_tx {
                    None
                } else {
                    Some(stream_version(conn, stream_id).await?)
                };
                return Err(VersionConflict {
                    stream_id: stream_id.to_string(),
                    expected,
                    actual,
                }
                .into());
            }
        }
    }
}

/// The plainest form of a single-event append at an exact version, for an append that is its
/// own transaction: no look-up of the event id and no `ON CONFLICT` (a stored event id or a
/// lost version race raises, which aborts nothing outside a transaction).
const INSERT_ONE_EXACT_AUTOCOMMIT: &str = "\
INSERT INTO events (stream_id, version, event_id, event_type, schema_version, payload, metadata)
SELECT $1, $7 + 1, $2, $3, $4, $5, $6
WHERE COALESCE((SELECT MAX(version) FROM events WHERE stream_id = $1), 0) = $7
RETURNING position";

/// One event at an exact version, outside a transaction, in one round trip. `None` when the
/// statement stored nothing (version off, event id stored, a concurrent writer first): then
/// [`append`] works out which, with its rules.
pub(crate) async fn append_one_exact(
    conn: &mut PgConnection,
    stream_id: &str,
    expected: u64,
    e: &NewEvent,
) -> Result<Option<i64>> {
    let md = codec::metadata_to_json(&e.metadata)?;
    let r: std::result::Result<Option<i64>, sqlx::Error> =
        sqlx::query_scalar(INSERT_ONE_EXACT_AUTOCOMMIT)
            .bind(stream_id)
            .bind(e.event_id)
            .bind(&e.event_type)
            .bind(e.schema_version as i32)
            .bind(&e.payload)
            .bind(md)
            .bind(expected as i64)
            .fetch_optional(&mut *conn)
            .await;
    match r {
        Ok(position) => Ok(position),
        Err(e) if unique_violation(&e).is_some() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Several appends of one unit of work (see `Transaction::append_deferred`).
pub(crate) struct Deferred {
    pub stream_id: String,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
}

/// All events of a set of appends, to any streams, in one statement: each stream's version is
/// read once, every event of an exact append is checked against it, and either every event is
/// stored or none is (no error raised, so the caller's transaction stays usable).
const INSERT_MANY: &str = "\
WITH e AS (
    SELECT * FROM UNNEST($1::text[], $2::int8[], $3::uuid[], $4::text[], $5::int4[],
                         $6::bytea[], $7::text[])
        WITH ORDINALITY AS e(stream_id, expected, id, ty, sv, pl, md, ord)
), b AS (
    SELECT s.stream_id,
           COALESCE((SELECT MAX(version) FROM events v WHERE v.stream_id = s.stream_id), 0) AS base
    FROM (SELECT DISTINCT stream_id FROM e) AS s
), n AS (
    SELECT e.*, b.base + row_number() OVER (PARTITION BY e.stream_id ORDER BY e.ord) AS version
    FROM e JOIN b ON b.stream_id = e.stream_id
)
INSERT INTO events (stream_id, version, event_id, event_type, schema_version, payload, metadata)
SELECT n.stream_id, n.version, n.id, n.ty, n.sv, n.pl, n.md FROM n
WHERE NOT EXISTS (SELECT 1 FROM events WHERE event_id = ANY($3::uuid[]))
  AND NOT EXISTS (SELECT 1 FROM n AS c WHERE c.expected >= 0 AND c.expected <> c.version - 1)
ORDER BY n.ord
RETURNING event_id, position, tx_id::text::int8, version, recorded_at";

/// Runs `appends` in the caller's transaction, in order, with the outcome of each. The common
/// case (new event ids, versions as expected) is one statement for all of them; anything else
/// (a stored event id, a version off, an event id twice in the set) goes through [`append`]
/// one by one, with its rules and errors.
pub(crate) async fn append_many(
    conn: &mut PgConnection,
    appends: &[Deferred],
) -> Result<Vec<Outcome>> {
    match insert_many(conn, appends).await? {
        Many::Stored(outcomes) => return Ok(outcomes),
        Many::NotApplied => {}
        Many::Raced(e) => return Err(e),
    }
    let mut outcomes = Vec::with_capacity(appends.len());
    for d in appends {
        outcomes.push(append(conn, &d.stream_id, d.expected, &d.events, true).await?);
    }
    Ok(outcomes)
}

/// What one statement for a set of appends did.
pub(crate) enum Many {
    /// Every event stored: the outcome of each append, in order.
    Stored(Vec<Outcome>),
    /// Nothing stored and nothing raised: not the plain case (fewer than two appends, an empty
    /// one, an event id twice, a stored event id, a version off).
    NotApplied,
    /// A concurrent writer stored one of the ids or versions first (the statement raised: in
    /// a transaction, that transaction is aborted).
    Raced(Error),
}

/// All events of `appends` in one statement ([`INSERT_MANY`]), all or nothing.
pub(crate) async fn insert_many<D: std::borrow::Borrow<Deferred>>(
    conn: &mut PgConnection,
    appends: &[D],
) -> Result<Many> {
    let appends: Vec<&Deferred> = appends.iter().map(Borrow::borrow).collect();
    let appends = appends.as_slice();
    let total: usize = appends.iter().map(|a| a.events.len()).sum();
    let mut ids = Vec::with_capacity(total);
    let mut seen = std::collections::HashMap::with_capacity(total);
    if appends.len() < 2 || appends.iter().any(|a| a.events.is_empty()) {
        return Ok(Many::NotApplied);
    }
    for (a, d) in appends.iter().enumerate() {
        for (i, e) in d.events.iter().enumerate() {
            if seen.insert(e.event_id, (a, i)).is_some() {
                return Ok(Many::NotApplied);
            }
            ids.push(e.event_id);
        }
    }
    let mut streams = Vec::with_capacity(total);
    let mut expected = Vec::with_capacity(total);
    let mut types = Vec::with_capacity(total);
    let mut versions = Vec::with_capacity(total);
    let mut payloads = Vec::with_capacity(total);
    let mut metadata = Vec::with_capacity(total);
    for d in appends {
        for (i, e) in d.events.iter().enumerate() {
            streams.push(d.stream_id.as_str());
            expected.push(match d.expected.exact() {
                Some(v) => (v + i as u64) as i64,
                None => -1,
            });
            types.push(e.event_type.as_str());
            versions.push(e.schema_version as i32);
            payloads.push(e.payload.as_slice());
            metadata.push(codec::metadata_to_json(&e.metadata)?);
        }
    }
    let rows: Vec<(Uuid, i64, i64, i64, DateTime<Utc>)> = match sqlx::query_as(INSERT_MANY)
        .bind(streams)
        .bind(expected)
        .bind(&ids)
        .bind(types)
        .bind(versions)
        .bind(payloads)
        .bind(metadata)
        .fetch_all(&mut *conn)
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            let Some(constraint) = unique_violation(&e) else {
                return Err(e.into());
            };
            // A concurrent transaction stored one of these ids or versions first; this
            // transaction is aborted.
            if constraint.contains("events_event_id") {
                return Ok(Many::Raced(Error::ConcurrentDuplicate {
                    what: "event id",
                    id: ids
                        .iter()
                        .map(Uuid::to_string)
                        .collect::<Vec<_>>()
                        .join(","),
                }));
            }
            return Ok(Many::Raced(
                VersionConflict {
                    stream_id: appends
                        .iter()
                        .map(|a| a.stream_id.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                    expected: appends.first().map_or(ExpectedVersion::Any, |a| a.expected),
                    actual: None,
                }
                .into(),
            ));
        }
    };
    if rows.is_empty() {
        // Nothing stored (all or nothing).
        return Ok(Many::NotApplied);
    }
    if rows.len() != total {
        return Err(Error::Corrupt(format!(
            "batched append stored {} of {total} events",
            rows.len()
        )));
    }
    let mut outcomes: Vec<Outcome> = appends
        .iter()
        .map(|d| Outcome {
            stream_version: 0,
            inserted: Vec::with_capacity(d.events.len()),
        })
        .collect();
    for (event_id, position, tx_id, version, recorded_at) in rows {
        let &(a, index) = seen
            .get(&event_id)
            .ok_or_else(|| Error::Corrupt(format!("append returned unknown event {event_id}")))?;
        let out = &mut outcomes[a];
        out.stream_version = out.stream_version.max(version as u64);
        out.inserted.push(Inserted {
            index,
            position,
            tx_id,
            version: version as u64,
            recorded_at,
        });
    }
    for out in &mut outcomes {
        out.inserted.sort_by_key(|i| i.version);
    }
    Ok(Many::Stored(outcomes))
}

pub(crate) async fn stream_version(conn: &mut PgConnection, stream_id: &str) -> Result<u64> {
    let v: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = $1")
            .bind(stream_id)
            .fetch_one(&mut *conn)
            .await?;
    Ok(v as u64)
}

fn event_from_row(row: &PgRow) -> Result<RecordedEvent> {
    let metadata: String = row.try_get("metadata")?;
    Ok(RecordedEvent {
        position: row.try_get("position")?,
        tx_id: row.try_get("tx_id")?,
        stream_id: row.try_get("stream_id")?,
        version: row.try_get::<i64, _>("version")? as u64,
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("event_type")?,
        schema_version: row.try_get::<i32, _>("schema_version")? as u32,
        payload: row.try_get("payload")?,
        metadata: codec::metadata_from_json(&metadata)?,
        recorded_at: row.try_get("recorded_at")?,
    })
}

pub(crate) async fn read_stream(
    conn: &mut PgConnection,
    stream_id: &str,
    from_version: u64,
    limit: usize,
) -> Result<Vec<RecordedEvent>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 AND version >= $2 \
         ORDER BY version LIMIT $3"
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
    conn: &mut PgConnection,
    after: Checkpoint,
    limit: usize,
) -> Result<Vec<RecordedEvent>> {
    // Rows of a transaction older than the oldest one still in flight can no longer appear
    // or change, so reading in (tx_id, position) order below that horizon never passes a row
    // that commits later.
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events \
         WHERE (tx_id, position) > ($1::int8::text::xid8, $2) \
           AND tx_id < pg_snapshot_xmin(pg_current_snapshot()) \
         ORDER BY tx_id, position LIMIT $3"
    );
    let rows = sqlx::query(&sql)
        .bind(after.tx_id)
        .bind(after.position)
        .bind(clamp_limit(limit))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(event_from_row).collect()
}

fn clamp_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

pub(crate) async fn enqueue(conn: &mut PgConnection, messages: &[OutboxMessage]) -> Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(messages.len());
    let mut subjects = Vec::with_capacity(messages.len());
    let mut payloads = Vec::with_capacity(messages.len());
    let mut headers = Vec::with_capacity(messages.len());
    for m in messages {
        ids.push(m.message_id.as_str());
        subjects.push(m.subject.as_str());
        payloads.push(m.payload.as_slice());
        headers.push(codec::headers_to_json(&m.headers)?);
    }
    sqlx::query(
        "WITH o AS (\
           INSERT INTO outbox (message_id, subject, payload, headers) \
           SELECT * FROM UNNEST($1::text[], $2::text[], $3::bytea[], $4::text[]) \
           ON CONFLICT (message_id) DO NOTHING RETURNING id) \
         INSERT INTO outbox_pending (id) SELECT id FROM o",
    )
    .bind(ids)
    .bind(subjects)
    .bind(payloads)
    .bind(headers)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn pending(
    conn: &mut PgConnection,
    after_id: i64,
    limit: usize,
) -> Result<Vec<PendingMessage>> {
    let rows = sqlx::query(
        "SELECT id, message_id, subject, payload, headers FROM outbox \
         WHERE id = ANY(ARRAY(SELECT id FROM outbox_pending WHERE id > $1 ORDER BY id LIMIT $2)) \
         ORDER BY id",
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

/// Marks outbox rows sent, in one statement that is its own transaction (autocommit). The
/// commit does not wait for the WAL flush (`set_config(..., true)` lasts until the end of the
/// statement's implicit transaction, its commit included): should the server crash before the
/// flush, the rows are published again, which JetStream's duplicate window and the consumers'
/// inboxes make harmless (as a relay crash before mark-sent).
pub(crate) async fn mark_sent(conn: &mut PgConnection, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "DELETE FROM outbox_pending WHERE id = ANY($1) \
         AND (SELECT set_config('synchronous_commit', 'off', true)) = 'off'",
    )
    .bind(ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes up to `limit` outbox rows created before `before` and no longer pending.
pub(crate) async fn prune_sent_outbox(
    conn: &mut PgConnection,
    before: chrono::DateTime<chrono::Utc>,
    limit: u64,
) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM outbox WHERE id IN (SELECT o.id FROM outbox o WHERE o.created_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM outbox_pending p WHERE p.id = o.id) LIMIT $2)",
    )
    .bind(before)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes up to `limit` inbox records processed before `before`.
pub(crate) async fn prune_inbox(
    conn: &mut PgConnection,
    before: chrono::DateTime<chrono::Utc>,
    limit: u64,
) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM inbox WHERE (consumer, message_id) IN (SELECT consumer, message_id \
         FROM inbox WHERE processed_at < $1 LIMIT $2)",
    )
    .bind(before)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

pub(crate) async fn unsent_count(conn: &mut PgConnection) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox_pending")
        .fetch_one(&mut *conn)
        .await?;
    Ok(n as u64)
}

pub(crate) async fn inbox_record(
    conn: &mut PgConnection,
    consumer: &str,
    message_ids: &[&str],
) -> Result<Vec<bool>> {
    if message_ids.is_empty() {
        return Ok(Vec::new());
    }
    let new: Vec<String> = sqlx::query_scalar(
        "INSERT INTO inbox (consumer, message_id) SELECT $1, m FROM UNNEST($2::text[]) AS m \
         ON CONFLICT DO NOTHING RETURNING message_id",
    )
    .bind(consumer)
    .bind(message_ids)
    .fetch_all(&mut *conn)
    .await?;
    Ok(first_occurrences(message_ids, &new))
}

/// `true` at the first occurrence of each id that is in `new`.
pub(crate) fn first_occurrences(ids: &[&str], new: &[String]) -> Vec<bool> {
    let mut fresh: std::collections::HashSet<&str> = new.iter().map(String::as_str).collect();
    ids.iter().map(|id| fresh.remove(id)).collect()
}

pub(crate) async fn inbox_contains(
    conn: &mut PgConnection,
    consumer: &str,
    message_id: &str,
) -> Result<bool> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM inbox WHERE consumer = $1 AND message_id = $2")
            .bind(consumer)
            .bind(message_id)
            .fetch_one(&mut *conn)
            .await?;
    Ok(n > 0)
}

pub(crate) async fn park(conn: &mut PgConnection, m: &ParkedMessage) -> Result<()> {
    sqlx::query(
        "INSERT INTO parked_messages \
         (consumer, message_id, subject, payload, headers, deliveries, reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&m.consumer)
    .bind(&m.message_id)
    .bind(&m.subject)
    .bind(&m.payload)
    .bind(codec::headers_to_json(&m.headers)?)
    .bind(m.deliveries as i64)
    .bind(&m.reason)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn parked(conn: &mut PgConnection, consumer: &str) -> Result<Vec<ParkedRecord>> {
    let rows = sqlx::query(
        "SELECT id, consumer, message_id, subject, payload, headers, deliveries, reason, \
         parked_at FROM parked_messages WHERE consumer = $1 ORDER BY id",
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
                parked_at: r.try_get("parked_at")?,
            })
        })
        .collect()
}

pub(crate) async fn save_snapshot(
    conn: &mut PgConnection,
    stream_id: &str,
    s: &Snapshot,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO snapshots (stream_id, version, schema_version, payload) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, \
           schema_version = excluded.schema_version, payload = excluded.payload, \
           taken_at = now() \
         WHERE snapshots.version <= excluded.version",
    )
    .bind(stream_id)
    .bind(s.version as i64)
    .bind(s.schema_version as i32)
    .bind(&s.payload)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn load_snapshot(
    conn: &mut PgConnection,
    stream_id: &str,
) -> Result<Option<Snapshot>> {
    let row: Option<(i64, i32, Vec<u8>)> = sqlx::query_as(
        "SELECT version, schema_version, payload FROM snapshots WHERE stream_id = $1",
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
