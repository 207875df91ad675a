//! Image bytes on the object store bucket `reprint_images`, keyed by content hash.
//!
//! The object name is the SHA-256 of the bytes in lowercase hex, so an image is stored once
//! however often it is uploaded or re-ordered: a re-order sends only the hash (seed 000,
//! claims 7 and 16).
//!
//! Bytes are streamed in and out in chunks (128 KiB by default); a whole image is never held
//! in memory. [`Images::put`] reads an `AsyncRead` once, hashing as it goes, and publishes the
//! chunks as it reads them; only at the end, when the hash is known, does it write the object's
//! metadata (the object becomes visible then). It speaks the object store's wire format itself
//! (chunks on `$O.<bucket>.C.<nuid>`, metadata on `$O.<bucket>.M.<base64url(name)>`, the
//! layout async-nats and the Go client use) rather than calling `ObjectStore::put`, because
//! that one needs the name before the bytes and leaves orphaned chunks behind when the read
//! fails. Here, whatever goes wrong (a read error, a size over the limit, a hash that is not
//! the expected one, the object already stored) the chunks of this upload are purged and no
//! metadata is written. The metadata is written with `Nats-Expected-Last-Subject-Sequence`, so
//! of two concurrent uploads of the same image exactly one becomes the object.
//!
//! Reading ([`Images::get`]) uses direct gets (`$JS.API.DIRECT.GET`, the bucket has
//! `allow_direct`): the metadata record, then the chunks one by one, each answered by whichever
//! replica has it. No consumer is created, so a read needs neither the stream's leader nor
//! JetStream's meta leader: on a cluster that has just lost a node (both being elected again
//! for seconds) images are still read. async-nats' `Object` reader creates an ordered consumer
//! per read and stalls until then. The SHA-256 of the bytes is checked against the name at
//! the end; a replica that has not caught up with a just-written image is asked again, and a
//! record none of the replicas has is looked up on the leader before "not found" is said.

use std::collections::VecDeque;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::header::{NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, NATS_ROLLUP};
use async_nats::jetstream::{
    self,
    context::{PublishAckFuture, PublishErrorKind},
    object_store::ObjectStore,
    stream::{self, DirectGetErrorKind, DiscardPolicy, LastRawMessageErrorKind, StorageType},
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::Stream;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::BusError;

/// The object store bucket of image bytes.
pub const BUCKET: &str = "reprint_images";

/// Settings of the image bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageStoreSettings {
    /// Replicas (1 locally, 3 on a cluster).
    pub replicas: usize,
    /// Largest image accepted, in bytes.
    pub max_object_size: u64,
    /// Size of one chunk message (must stay under the server's max payload, 1 MiB default).
    pub chunk_size: usize,
    /// Chunks published but not yet acknowledged, at most (bounds memory: this times
    /// `chunk_size`).
    pub chunks_in_flight: usize,
    /// Size limit of the whole bucket in bytes, -1 for none.
    pub max_bucket_bytes: i64,
}

impl Default for ImageStoreSettings {
    fn default() -> Self {
        ImageStoreSettings {
            replicas: 1,
            max_object_size: 200 * 1024 * 1024,
            chunk_size: 128 * 1024,
            chunks_in_flight: 8,
            max_bucket_bytes: -1,
        }
    }
}

/// The result of [`Images::put`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    /// SHA-256 of the bytes, lowercase hex: the object's name.
    pub hash: String,
    /// Size in bytes.
    pub size: u64,
    /// False when the image was already stored (nothing new was kept).
    pub uploaded: bool,
}

/// True for 64 lowercase hexadecimal digits.
pub fn is_content_hash(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Lower-cases and checks a content hash given by a caller.
pub fn parse_content_hash(s: &str) -> Result<String, BusError> {
    let lower = s.trim().to_ascii_lowercase();
    if is_content_hash(&lower) {
        Ok(lower)
    } else {
        Err(BusError::Invalid {
            what: "content hash",
            reason: format!("{s:?} is not 64 hexadecimal digits (SHA-256)"),
        })
    }
}

/// The object metadata record, as async-nats' `ObjectInfo` and the Go client write it.
#[derive(Debug, Serialize, Deserialize)]
struct MetaRecord {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    options: Option<MetaOptions>,
    bucket: String,
    #[serde(default)]
    nuid: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    chunks: u64,
    #[serde(default, rename = "mtime")]
    modified: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    digest: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct MetaOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_chunk_size: Option<usize>,
}

/// The image bucket.
#[derive(Clone)]
pub struct Images {
    js: jetstream::Context,
    store: ObjectStore,
    stream: stream::Stream,
    settings: ImageStoreSettings,
}

impl std::fmt::Debug for Images {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Images")
            .field("bucket", &BUCKET)
            .field("settings", &self.settings)
            .finish()
    }
}

fn stream_name() -> String {
    format!("OBJ_{BUCKET}")
}

fn meta_subject(name: &str) -> String {
    format!("$O.{BUCKET}.M.{}", URL_SAFE.encode(name))
}

impl Images {
    /// Creates the bucket or updates it to `settings` (file storage); idempotent.
    ///
    /// The stream is provisioned with the configuration async-nats' `create_object_store`
    /// uses, through create-or-update so that a second start is a no-op.
    pub async fn open(
        js: &jetstream::Context,
        settings: ImageStoreSettings,
    ) -> Result<Images, BusError> {
        if settings.chunk_size == 0 || settings.chunks_in_flight == 0 {
            return Err(BusError::Invalid {
                what: "image store settings",
                reason: "chunk_size and chunks_in_flight must be positive".to_string(),
            });
        }
        let config = stream::Config {
            name: stream_name(),
            description: Some("reprint: image bytes by SHA-256".to_string()),
            subjects: vec![format!("$O.{BUCKET}.C.>"), format!("$O.{BUCKET}.M.>")],
            max_bytes: settings.max_bucket_bytes,
            max_messages: -1,
            max_messages_per_subject: -1,
            max_consumers: -1,
            storage: StorageType::File,
            num_replicas: settings.replicas.max(1),
            discard: DiscardPolicy::New,
            allow_rollup: true,
            allow_direct: true,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        };
        let deadline = tokio::time::Instant::now() + crate::streams::READY_WITHIN;
        crate::streams::create_or_update_stream_patiently(js, config, deadline)
            .await
            .map_err(|e| BusError::nats(format!("create or update object store {BUCKET}"), e))?;
        let store = js
            .get_object_store(BUCKET)
            .await
            .map_err(|e| BusError::nats(format!("open object store {BUCKET}"), e))?;
        let stream = js
            .get_stream(stream_name())
            .await
            .map_err(|e| BusError::nats(format!("open stream {}", stream_name()), e))?;
        Ok(Images {
            js: js.clone(),
            store,
            stream,
            settings,
        })
    }

    /// The settings in use.
    pub fn settings(&self) -> &ImageStoreSettings {
        &self.settings
    }

    /// Size in bytes of a stored image, `None` when it is not stored.
    pub async fn size(&self, hash: &str) -> Result<Option<u64>, BusError> {
        let hash = parse_content_hash(hash)?;
        Ok(self.meta(&hash).await?.map(|m| m.size))
    }

    /// True when the image is stored.
    pub async fn exists(&self, hash: &str) -> Result<bool, BusError> {
        Ok(self.size(hash).await?.is_some())
    }

    /// Stores the bytes of `reader`, streaming. With `expected` (a SHA-256 hex the caller
    /// already knows) an image that is already stored is not read at all, and bytes that hash
    /// differently are refused ([`BusError::HashMismatch`]). Without it the hash is computed
    /// while uploading, and an upload of an image that turns out to be stored already is
    /// discarded.
    pub async fn put<R>(&self, reader: R, expected: Option<&str>) -> Result<StoredImage, BusError>
    where
        R: AsyncRead + Unpin,
    {
        let expected = expected.map(parse_content_hash).transpose()?;
        if let Some(hash) = &expected
            && let Some(size) = self.size(hash).await?
        {
            tracing::debug!(%hash, "image already stored, upload skipped");
            return Ok(StoredImage {
                hash: hash.clone(),
                size,
                uploaded: false,
            });
        }
        let nuid = uuid::Uuid::new_v4().simple().to_string();
        let chunk_subject = format!("$O.{BUCKET}.C.{nuid}");
        match self
            .upload(reader, expected.as_deref(), &nuid, &chunk_subject)
            .await
        {
            Ok(stored) => {
                if !stored.uploaded {
                    self.purge_chunks(&chunk_subject).await;
                }
                Ok(stored)
            }
            Err(e) => {
                self.purge_chunks(&chunk_subject).await;
                Err(e)
            }
        }
    }

    async fn purge_chunks(&self, chunk_subject: &str) {
        if let Err(e) = self.stream.purge().filter(chunk_subject).await {
            tracing::warn!(subject = %chunk_subject, error = %e, "could not purge chunks of a discarded upload");
        }
    }

    async fn upload<R>(
        &self,
        mut reader: R,
        expected: Option<&str>,
        nuid: &str,
        chunk_subject: &str,
    ) -> Result<StoredImage, BusError>
    where
        R: AsyncRead + Unpin,
    {
        let chunk_size = self.settings.chunk_size;
        let mut buf = vec![0u8; chunk_size];
        let mut sha = Sha256::new();
        let mut size: u64 = 0;
        let mut chunks: u64 = 0;
        let mut acks: VecDeque<PublishAckFuture> = VecDeque::new();
        loop {
            let mut filled = 0;
            while filled < chunk_size {
                let n = match reader.read(&mut buf[filled..]).await {
                    Ok(n) => n,
                    Err(e) => {
                        drain(&mut acks).await;
                        return Err(e.into());
                    }
                };
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                break;
            }
            size += filled as u64;
            if size > self.settings.max_object_size {
                drain(&mut acks).await;
                return Err(BusError::TooLarge {
                    limit: self.settings.max_object_size,
                });
            }
            sha.update(&buf[..filled]);
            chunks += 1;
            let ack = match self
                .js
                .publish(
                    chunk_subject.to_string(),
                    Bytes::copy_from_slice(&buf[..filled]),
                )
                .await
            {
                Ok(ack) => ack,
                Err(e) => {
                    drain(&mut acks).await;
                    return Err(BusError::nats(format!("publish chunk of {BUCKET}"), e));
                }
            };
            acks.push_back(ack);
            if acks.len() >= self.settings.chunks_in_flight
                && let Some(ack) = acks.pop_front()
            {
                ack.await
                    .map_err(|e| BusError::nats(format!("chunk ack of {BUCKET}"), e))?;
            }
            if filled < chunk_size {
                break; // end of input reached while filling this chunk
            }
        }
        while let Some(ack) = acks.pop_front() {
            ack.await
                .map_err(|e| BusError::nats(format!("chunk ack of {BUCKET}"), e))?;
        }
        let digest = sha.finalize();
        let hash = hex::encode(digest);
        if let Some(expected) = expected
            && expected != hash
        {
            return Err(BusError::HashMismatch {
                expected: expected.to_string(),
                actual: hash,
            });
        }

        // Is it there already (or was it deleted: then the next version follows that record)?
        let subject = meta_subject(&hash);
        let last_seq = match self.stream.get_last_raw_message_by_subject(&subject).await {
            Ok(msg) => {
                let meta: MetaRecord =
                    serde_json::from_slice(&msg.payload).map_err(|source| BusError::Json {
                        subject: subject.clone(),
                        source,
                    })?;
                if !meta.deleted {
                    return Ok(StoredImage {
                        hash,
                        size: meta.size,
                        uploaded: false,
                    });
                }
                msg.sequence
            }
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => 0,
            Err(e) => return Err(BusError::nats(format!("look up {BUCKET}/{hash}"), e)),
        };

        let meta = MetaRecord {
            name: hash.clone(),
            description: None,
            options: Some(MetaOptions {
                max_chunk_size: Some(chunk_size),
            }),
            bucket: BUCKET.to_string(),
            nuid: nuid.to_string(),
            size,
            chunks,
            modified: Some(Utc::now()),
            digest: Some(format!("SHA-256={}", URL_SAFE.encode(digest))),
            deleted: false,
        };
        let body = serde_json::to_vec(&meta).map_err(|source| BusError::Json {
            subject: subject.clone(),
            source,
        })?;
        let mut headers = HeaderMap::new();
        headers.insert(NATS_ROLLUP, "sub");
        headers.insert(
            NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
            last_seq.to_string().as_str(),
        );
        let published = match self
            .js
            .publish_with_headers(subject.clone(), headers, Bytes::from(body))
            .await
        {
            Ok(ack) => ack.await,
            Err(e) => {
                return Err(BusError::nats(
                    format!("publish metadata of {BUCKET}/{hash}"),
                    e,
                ));
            }
        };
        match published {
            Ok(_) => Ok(StoredImage {
                hash,
                size,
                uploaded: true,
            }),
            // Another upload of the same image won the race: it is stored, ours is discarded.
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => Ok(StoredImage {
                hash,
                size,
                uploaded: false,
            }),
            Err(e) => Err(BusError::nats(
                format!("metadata ack of {BUCKET}/{hash}"),
                e,
            )),
        }
    }

    /// Opens a stored image for reading, as an `AsyncRead` that fetches chunks as it goes and
    /// fails with `InvalidData` if the bytes do not match the stored digest.
    pub async fn get(&self, hash: &str) -> Result<ImageReader, BusError> {
        let hash = parse_content_hash(hash)?;
        let meta = self.meta(&hash).await?.ok_or_else(|| BusError::NotFound {
            what: format!("image {hash}"),
        })?;
        let size = meta.size;
        let chunks = ChunkReader {
            stream: self.stream.clone(),
            subject: format!("$O.{BUCKET}.C.{}", meta.nuid),
            next_sequence: None,
            chunks: meta.chunks,
            remaining: meta.chunks,
            read: 0,
            size: meta.size,
            hasher: Sha256::new(),
            hash,
        };
        let chunks = futures::stream::try_unfold(chunks, |mut r| async move {
            let chunk = r.next_chunk().await?;
            Ok(chunk.map(|c| (c, r)))
        });
        Ok(ImageReader {
            inner: tokio_util::io::StreamReader::new(Box::pin(chunks)),
            size,
        })
    }

    /// The current metadata record of `hash`, `None` when it is not stored (or deleted).
    /// Asked of any replica first; "no such record" is confirmed with the stream's leader,
    /// since a replica that has not caught up with a just-written image has none yet.
    async fn meta(&self, hash: &str) -> Result<Option<MetaRecord>, BusError> {
        let subject = meta_subject(hash);
        let payload = match self.stream.direct_get_last_for_subject(&subject).await {
            Ok(msg) => msg.payload,
            Err(e) if e.kind() == DirectGetErrorKind::NotFound => {
                match self.stream.get_last_raw_message_by_subject(&subject).await {
                    Ok(msg) => msg.payload,
                    Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => {
                        return Ok(None);
                    }
                    Err(e) => return Err(BusError::nats(format!("look up {BUCKET}/{hash}"), e)),
                }
            }
            Err(e) => return Err(BusError::nats(format!("look up {BUCKET}/{hash}"), e)),
        };
        let meta: MetaRecord = serde_json::from_slice(&payload)
            .map_err(|source| BusError::Json { subject, source })?;
        Ok((!meta.deleted).then_some(meta))
    }

    /// A stored image as a stream of byte chunks (e.g. an HTTP response body).
    pub async fn get_stream(
        &self,
        hash: &str,
    ) -> Result<impl Stream<Item = std::io::Result<Bytes>> + Send + use<>, BusError> {
        let object = self.get(hash).await?;
        Ok(tokio_util::io::ReaderStream::with_capacity(
            object,
            self.settings.chunk_size,
        ))
    }

    /// Copies a stored image into `writer`; returns the number of bytes.
    pub async fn copy_to<W>(&self, hash: &str, writer: &mut W) -> Result<u64, BusError>
    where
        W: tokio::io::AsyncWrite + Unpin,
    {
        let mut object = self.get(hash).await?;
        Ok(tokio::io::copy(&mut object, writer).await?)
    }

    /// Deletes a stored image (its chunks are purged).
    pub async fn delete(&self, hash: &str) -> Result<(), BusError> {
        let hash = parse_content_hash(hash)?;
        self.store
            .delete(&hash)
            .await
            .map_err(|e| BusError::nats(format!("delete {BUCKET}/{hash}"), e))
    }
}

/// A stored image being read (see [`Images::get`]).
pub struct ImageReader {
    inner: tokio_util::io::StreamReader<
        std::pin::Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>,
        Bytes,
    >,
    size: u64,
}

impl ImageReader {
    /// The image's size in bytes, as its metadata gives it.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl AsyncRead for ImageReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

/// How often a chunk a replica does not have yet is asked for again (50 ms apart): the
/// metadata is written after every chunk, so a replica that lacks one is only behind.
const CHUNK_ASKS: u32 = 40;

struct ChunkReader {
    stream: stream::Stream,
    subject: String,
    next_sequence: Option<u64>,
    chunks: u64,
    remaining: u64,
    read: u64,
    size: u64,
    hasher: Sha256,
    hash: String,
}

impl ChunkReader {
    /// The next chunk, or `None` after the last one once size and digest are checked.
    async fn next_chunk(&mut self) -> std::io::Result<Option<Bytes>> {
        use std::io::{Error, ErrorKind};
        if self.remaining == 0 {
            let digest = hex::encode(std::mem::take(&mut self.hasher).finalize());
            if self.read != self.size || digest != self.hash {
                return Err(Error::new(
                    ErrorKind::InvalidData,
                    format!(
                        "image {}: read {} bytes hashing to {digest}, the record says {} bytes",
                        self.hash, self.read, self.size
                    ),
                ));
            }
            return Ok(None);
        }
        let mut asks = 0;
        let msg = loop {
            match self
                .stream
                .direct_get_next_for_subject(self.subject.as_str(), self.next_sequence)
                .await
            {
                Ok(msg) => break msg,
                Err(e) if e.kind() == DirectGetErrorKind::NotFound && asks < CHUNK_ASKS => {
                    asks += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => {
                    let kind = match e.kind() {
                        DirectGetErrorKind::TimedOut => ErrorKind::TimedOut,
                        DirectGetErrorKind::NotFound => ErrorKind::UnexpectedEof,
                        _ => ErrorKind::Other,
                    };
                    return Err(Error::new(
                        kind,
                        format!(
                            "image {}: chunk {} of {}: {e}",
                            self.hash,
                            self.chunks - self.remaining + 1,
                            self.chunks
                        ),
                    ));
                }
            }
        };
        self.next_sequence = Some(msg.sequence + 1);
        self.remaining -= 1;
        self.read += msg.payload.len() as u64;
        if self.read > self.size {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "image {}: more bytes than the {} its record says",
                    self.hash, self.size
                ),
            ));
        }
        self.hasher.update(&msg.payload);
        Ok(Some(msg.payload))
    }
}

/// Waits for the chunks still in flight of an upload that is being given up, so that the
/// caller's purge of its chunk subject removes them all (a chunk acknowledged after the purge
/// would stay in the bucket for ever).
async fn drain(acks: &mut VecDeque<PublishAckFuture>) {
    while let Some(ack) = acks.pop_front() {
        let _ = ack.await;
    }
}
