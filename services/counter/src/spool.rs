//! Image bytes waiting for the object store. Walk-in orders are taken whether or not the link
//! to NATS is up: the images go to a local spool directory (content-addressed: the file name is
//! the SHA-256), and the placed order is *held* in `counter_held_orders` in the same transaction
//! as the reception. The forwarder, whenever the link is up, uploads an order's images and only
//! then moves its `OrderPlaced` into the outbox, in one transaction: the lab never sees an order
//! whose image is missing, and the outbox relay stays the only publisher.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reprint_bus::objects::Images;
use reprint_eventstore::OutboxMessage;
use tokio::sync::Notify;

use reprint_eventstore::sql::{self, Arg};

use crate::db::HeldRow;
use crate::error::{CounterError, Result};
use crate::state::Counter;

/// The spool directory.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    /// Opens the spool; what an intake interrupted by a crash left staged is removed.
    pub fn open(dir: PathBuf) -> Result<Spool> {
        std::fs::create_dir_all(&dir)?;
        let spool = Spool { dir };
        let staging = spool.staging();
        if staging.exists() {
            std::fs::remove_dir_all(&staging)?;
        }
        std::fs::create_dir_all(&staging)?;
        Ok(spool)
    }

    /// Where a medium being taken in is written as it arrives and as its images are checked
    /// (on the spool's disk, so that a checked image moves into the spool by a link).
    pub fn staging(&self) -> PathBuf {
        self.dir.join(".staging")
    }

    /// Where the cards held between the intake's steps keep their images (`crate::held`); not
    /// cleared at the start, unlike the staging directory.
    pub fn held_dir(&self) -> PathBuf {
        self.dir.join(".held")
    }

    pub fn path(&self, hash: &str) -> PathBuf {
        self.dir.join(hash)
    }

    /// Writes the bytes of image `hash` (once: the name is the content's hash), atomically.
    pub async fn put(&self, hash: &str, bytes: &[u8]) -> Result<()> {
        let path = self.path(hash);
        if tokio::fs::try_exists(&path).await? {
            return Ok(());
        }
        let tmp = self
            .dir
            .join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, &path).await?;
        Ok(())
    }

    /// Puts the staged file `from` into the spool as image `hash` (linked where the disk allows,
    /// else copied), atomically; `from` stays where it is.
    pub async fn put_file(&self, hash: &str, from: &std::path::Path) -> Result<()> {
        let path = self.path(hash);
        if tokio::fs::try_exists(&path).await? {
            return Ok(());
        }
        let tmp = self
            .dir
            .join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
        if tokio::fs::hard_link(from, &tmp).await.is_err() {
            tokio::fs::copy(from, &tmp).await?;
        }
        tokio::fs::rename(&tmp, &path).await?;
        Ok(())
    }

    pub async fn remove(&self, hash: &str) {
        if let Err(e) = tokio::fs::remove_file(self.path(hash)).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%hash, error = %e, "cannot remove a spooled image");
        }
    }

    /// Spooled files (for tests and the terminal's status line).
    pub fn count(&self) -> usize {
        std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .count()
            })
            .unwrap_or(0)
    }
}

/// Orders held for their images, oldest first.
pub async fn held_count(counter: &Counter) -> Result<i64> {
    let mut tx = counter.store.begin().await?;
    let n = sql::scalar_i64(tx.conn(), "SELECT COUNT(*) FROM counter_held_orders", &[]).await?;
    tx.commit().await?;
    Ok(n)
}

/// Uploads the images of every held order and moves its message into the outbox. Returns how
/// many orders were forwarded; stops at the first failure (the link went down), keeping order.
pub async fn forward_held(counter: &Counter, images: &Images) -> Result<usize> {
    let mut tx = counter.store.begin().await?;
    let held: Vec<HeldRow> = sql::fetch(
        tx.conn(),
        "SELECT order_id, message_id, subject, payload, images FROM counter_held_orders ORDER BY created_at, order_id",
        &[],
    )
    .await?;
    tx.commit().await?;
    let mut forwarded = 0;
    for row in held {
        let hashes: Vec<String> = row.images.split_whitespace().map(str::to_string).collect();
        for hash in &hashes {
            let path = counter.spool.path(hash);
            match tokio::fs::File::open(&path).await {
                Ok(file) => {
                    images.put(file, Some(hash)).await.map_err(|e| {
                        CounterError::Internal(format!("upload of image {hash}: {e}"))
                    })?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // Forwarded before by another order, or lost: the store must have it.
                    let stored = images
                        .exists(hash)
                        .await
                        .map_err(|e| CounterError::Internal(format!("image {hash}: {e}")))?;
                    if !stored {
                        return Err(CounterError::Internal(format!(
                            "image {hash} of order {} is neither spooled nor in the object store",
                            row.order_id
                        )));
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        let mut tx = counter.store.begin().await?;
        // The order goes on in the trace of its intake.
        let trace = crate::db::order_trace(&mut tx, &row.order_id)
            .await?
            .map(|ctx| ctx.traceparent());
        tx.enqueue(&[OutboxMessage {
            message_id: row.message_id.clone(),
            subject: row.subject.clone(),
            payload: row.payload.clone().into_bytes(),
            headers: reprint_bus::message::headers(
                reprint_bus::subjects::Topic::OrderPlaced.suffix(),
                trace.as_deref(),
            ),
        }])
        .await?;
        sql::exec(
            tx.conn(),
            "DELETE FROM counter_held_orders WHERE order_id = $1",
            &[Arg::from(&row.order_id)],
        )
        .await?;
        // Images still needed by another held order stay in the spool.
        let still: Vec<String> =
            sql::fetch::<(String,)>(tx.conn(), "SELECT images FROM counter_held_orders", &[])
                .await?
                .iter()
                .flat_map(|(images,)| images.split_whitespace().map(str::to_string))
                .collect();
        tx.commit().await?;
        counter.relay.wake();
        for hash in hashes.iter().filter(|h| !still.contains(h)) {
            counter.spool.remove(hash).await;
        }
        forwarded += 1;
    }
    Ok(forwarded)
}

/// Runs the forwarder until `shutdown`: on a wake-up or every second.
pub async fn run_forwarder(
    counter: Arc<Counter>,
    images: Images,
    wake: Arc<Notify>,
    shutdown: reprint_service::shutdown::Shutdown,
) {
    let stop = shutdown.clone().wait();
    tokio::pin!(stop);
    loop {
        let wait = match forward_held(&counter, &images).await {
            Ok(n) => {
                if n > 0 {
                    tracing::info!(orders = n, "held walk-in orders forwarded to their labs");
                }
                Duration::from_secs(1)
            }
            Err(e) => {
                tracing::warn!(error = %e, "forwarding held orders failed; retrying");
                Duration::from_millis(500)
            }
        };
        tokio::select! {
            _ = &mut stop => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
