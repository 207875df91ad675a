//! Appends of their own ([`crate::Store::append`]) on Postgres, combined: appends that arrive
//! while others are being written wait for the next write and go to the database together, in
//! one statement and one commit, instead of one round trip and one commit each.
//!
//! The rules of each append are kept: the combined statement checks every exact version and
//! stores all events or none ([`pg::insert_many`]), so the appends are as atomic and as
//! checked as alone (together they are even atomic as a whole). When it does not apply (an
//! event id already stored, a version off, a concurrent writer first), each append of that
//! write is run on its own, as it would have been, and gets its own result or error. With one
//! writer, or appends further apart than a write takes, every write holds one append: nothing
//! waits for company.
//!
//! The writes run in tasks of their own (at most [`WRITERS`] at a time), so an append whose
//! caller gives up still either happens or not as a whole, and never takes others with it.

use std::sync::{Arc, Mutex};

use sqlx::PgPool;
use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::pg::{self, Deferred, Many, Outcome};
use crate::types::{ExpectedVersion, NewEvent};

/// Writes in flight at a time. One: PostgreSQL flushes its WAL one commit group at a time, so
/// a second write in flight only waits for the flush after the first one's, holding the appends
/// that would have joined it; measured with 32 writers, one writer that lets its callers come
/// back ([`GATHER_YIELDS`]) stored about twice what two writers without that did.
const WRITERS: usize = 1;

/// Most turns of the scheduler a writer gives the callers of its last write to come back with
/// their next appends before it writes again.
const GATHER_YIELDS: usize = 16;

/// Most appends in one write.
const MOST: usize = 256;

struct Request {
    append: Deferred,
    reply: oneshot::Sender<Result<Outcome>>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Request>,
    writers: usize,
}

/// The shared queue of a store's appends.
#[derive(Clone)]
pub(crate) struct Combiner {
    pool: PgPool,
    queue: Arc<Mutex<Queue>>,
}

impl Combiner {
    pub(crate) fn new(pool: PgPool) -> Combiner {
        Combiner {
            pool,
            queue: Arc::new(Mutex::new(Queue::default())),
        }
    }

    /// Appends `events` to `stream_id` (rules of [`pg::append`] outside a transaction).
    pub(crate) async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<Outcome> {
        let (reply, answer) = oneshot::channel();
        let request = Request {
            append: Deferred {
                stream_id: stream_id.to_string(),
                expected,
                events: events.to_vec(),
            },
            reply,
        };
        let start = {
            // A poisoned lock only means a writer panicked between two lines that keep the
            // queue consistent (push, count); the queue is still usable.
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.waiting.push(request);
            let start = q.writers < WRITERS;
            if start {
                q.writers += 1;
            }
            start
        };
        if start {
            let this = self.clone();
            tokio::spawn(async move { this.write().await });
        }
        // The writer always answers; a writer task that died (a panic) drops the sender.
        answer
            .await
            .unwrap_or_else(|_| Err(Error::Database(sqlx::Error::WorkerCrashed)))
    }

    /// Takes what is waiting and writes it, until nothing is.
    async fn write(self) {
        loop {
            let batch: Vec<Request> = {
                let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                if q.waiting.is_empty() {
                    q.writers -= 1;
                    return;
                }
                let n = q.waiting.len().min(MOST);
                q.waiting.drain(..n).collect()
            };
            let results = self.write_batch(&batch).await;
            let k = batch.len();
            for (r, out) in batch.into_iter().zip(results) {
                // The caller may have gone: its append is done (or not) all the same.
                let _ = r.reply.send(out);
            }
            if k > 1 {
                self.gather(k).await;
            }
        }
    }

    /// After a write of `k` appends, lets their callers (just answered) come back with their
    /// next appends before the next write starts, so that they share it instead of each
    /// missing it by a moment and waiting a whole commit: at most [`GATHER_YIELDS`] turns of
    /// the scheduler, no timer (a writer alone never waits, as its write held one append).
    async fn gather(&self, k: usize) {
        for _ in 0..GATHER_YIELDS {
            if self
                .queue
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .waiting
                .len()
                >= k
            {
                return;
            }
            tokio::task::yield_now().await;
        }
    }

    async fn write_batch(&self, batch: &[Request]) -> Vec<Result<Outcome>> {
        let mut conn = match self.pool.acquire().await {
            Ok(c) => c,
            Err(e) => {
                let e = Error::from(e);
                return batch.iter().map(|_| Err(clone_error(&e))).collect();
            }
        };
        if batch.len() > 1 {
            let appends: Vec<&Deferred> = batch.iter().map(|r| &r.append).collect();
            match pg::insert_many(&mut conn, &appends).await {
                Ok(Many::Stored(outcomes)) => return outcomes.into_iter().map(Ok).collect(),
                // Not the plain case, or a concurrent writer first (outside a transaction a
                // failed statement aborts nothing): each on its own below.
                Ok(Many::NotApplied) | Ok(Many::Raced(_)) => {}
                Err(e) => {
                    if !e.is_retryable() {
                        return batch.iter().map(|_| Err(clone_error(&e))).collect();
                    }
                }
            }
        }
        let mut results = Vec::with_capacity(batch.len());
        for r in batch {
            results.push(alone(&mut conn, &r.append).await);
        }
        results
    }
}

/// One append on its own: a single event at an exact version in its plainest statement, else
/// the general append.
async fn alone(conn: &mut sqlx::PgConnection, d: &Deferred) -> Result<Outcome> {
    if let ([event], Some(v)) = (d.events.as_slice(), d.expected.exact())
        && let Some(position) = pg::append_one_exact(conn, &d.stream_id, v, event).await?
    {
        return Ok(Outcome {
            stream_version: v + 1,
            inserted: vec![pg::Inserted {
                index: 0,
                position,
                tx_id: 0,
                version: v + 1,
                recorded_at: chrono::Utc::now(),
            }],
        });
    }
    pg::append(conn, &d.stream_id, d.expected, &d.events, false).await
}

/// The same error for every append of a write that failed as a whole (the database away).
fn clone_error(e: &Error) -> Error {
    match e {
        Error::Database(sqlx::Error::PoolTimedOut) => Error::Database(sqlx::Error::PoolTimedOut),
        Error::Database(sqlx::Error::PoolClosed) => Error::Database(sqlx::Error::PoolClosed),
        other => Error::Database(sqlx::Error::Io(std::io::Error::other(other.to_string()))),
    }
}
