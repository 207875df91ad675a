//! Image bytes on the object store of a real nats-server.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::StreamExt;
use reprint_bus::BusError;
use reprint_bus::connect::{ConnectSettings, Connection, connect_and_wait};
use reprint_bus::objects::{ImageStoreSettings, Images};
use reprint_testkit::NatsServer;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

async fn conn(server: &NatsServer) -> Connection {
    connect_and_wait(
        &ConnectSettings::new(&server.url, "test-objects"),
        Duration::from_secs(10),
    )
    .await
    .expect("connect")
}

/// `len` pseudo-random bytes made on the fly (never all in memory).
struct Generated {
    state: u64,
    left: u64,
}

impl Generated {
    fn new(seed: u64, len: u64) -> Self {
        Generated {
            state: seed | 1,
            left: len,
        }
    }
}

impl AsyncRead for Generated {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        // Odd read sizes, to exercise chunk filling.
        let n = (buf.remaining() as u64).min(self.left).min(50_001) as usize;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            out.push(self.state as u8);
        }
        self.left -= n as u64;
        buf.put_slice(&out);
        Poll::Ready(Ok(()))
    }
}

/// A reader that fails the test if read.
struct MustNotRead;
impl AsyncRead for MustNotRead {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        panic!("an image already stored must not be read again");
    }
}

async fn hash_of(mut r: impl AsyncRead + Unpin) -> (String, u64) {
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut n_total = 0u64;
    loop {
        let n = r.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        n_total += n as u64;
        sha.update(&buf[..n]);
    }
    (hex::encode(sha.finalize()), n_total)
}

async fn stored_messages(c: &Connection) -> u64 {
    let mut s = c.jetstream.get_stream("OBJ_reprint_images").await.unwrap();
    s.info().await.unwrap().state.messages
}

#[tokio::test]
async fn an_image_is_stored_once_and_read_back_equal() {
    let server = NatsServer::start();
    let c = conn(&server).await;
    let images = Images::open(&c.jetstream, ImageStoreSettings::default())
        .await
        .unwrap();
    let _again = Images::open(&c.jetstream, ImageStoreSettings::default())
        .await
        .unwrap();

    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let hash = hex::encode(Sha256::digest(&data));

    let first = images.put(&data[..], None).await.unwrap();
    assert_eq!(first.hash, hash);
    assert_eq!(first.size, 300_000);
    assert!(first.uploaded);
    let after_first = stored_messages(&c).await;

    // Same bytes again without a hash: uploaded, found stored, discarded.
    let second = images.put(&data[..], None).await.unwrap();
    assert_eq!(second.hash, hash);
    assert!(!second.uploaded);
    assert_eq!(
        stored_messages(&c).await,
        after_first,
        "no second copy kept"
    );

    // With the hash: not even read.
    let third = images.put(MustNotRead, Some(&hash)).await.unwrap();
    assert!(!third.uploaded);
    assert_eq!(third.size, 300_000);

    assert!(images.exists(&hash).await.unwrap());
    assert_eq!(images.size(&hash).await.unwrap(), Some(300_000));

    let mut back = vec![];
    images
        .get(&hash)
        .await
        .unwrap()
        .read_to_end(&mut back)
        .await
        .unwrap();
    assert_eq!(back, data);

    let mut streamed = vec![];
    let mut stream = Box::pin(images.get_stream(&hash).await.unwrap());
    while let Some(chunk) = stream.next().await {
        streamed.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(streamed, data);

    // async-nats' own object store API reads the same object.
    let store = c
        .jetstream
        .get_object_store("reprint_images")
        .await
        .unwrap();
    let mut via_lib = vec![];
    store
        .get(&hash)
        .await
        .unwrap()
        .read_to_end(&mut via_lib)
        .await
        .unwrap();
    assert_eq!(via_lib, data);

    // Deleted, then stored again.
    images.delete(&hash).await.unwrap();
    assert!(!images.exists(&hash).await.unwrap());
    assert!(images.put(&data[..], Some(&hash)).await.unwrap().uploaded);
    assert!(images.exists(&hash).await.unwrap());
}

#[tokio::test]
async fn wrong_expected_hash_is_refused_and_nothing_kept() {
    let server = NatsServer::start();
    let c = conn(&server).await;
    let images = Images::open(&c.jetstream, ImageStoreSettings::default())
        .await
        .unwrap();
    let before = stored_messages(&c).await;
    let data = vec![7u8; 400_000];
    let wrong = "0".repeat(64);
    let err = images.put(&data[..], Some(&wrong)).await.unwrap_err();
    match err {
        BusError::HashMismatch { expected, actual } => {
            assert_eq!(expected, wrong);
            assert_eq!(actual, hex::encode(Sha256::digest(&data)));
            assert!(!images.exists(&actual).await.unwrap());
        }
        other => panic!("expected a hash mismatch, got {other:?}"),
    }
    assert!(!images.exists(&wrong).await.unwrap());
    assert_eq!(stored_messages(&c).await, before, "chunks purged");

    assert!(matches!(
        images.put(&data[..], Some("not-a-hash")).await,
        Err(BusError::Invalid { .. })
    ));
    assert!(matches!(
        images.get(&"a".repeat(64)).await,
        Err(BusError::NotFound { .. })
    ));
}

#[tokio::test]
async fn too_large_is_refused() {
    let server = NatsServer::start();
    let c = conn(&server).await;
    let images = Images::open(
        &c.jetstream,
        ImageStoreSettings {
            max_object_size: 1_000_000,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let err = images
        .put(Generated::new(1, 1_000_001), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, BusError::TooLarge { limit: 1_000_000 }),
        "{err:?}"
    );
    assert_eq!(stored_messages(&c).await, 0, "chunks purged");
    assert!(
        images
            .put(Generated::new(1, 1_000_000), None)
            .await
            .unwrap()
            .uploaded
    );
}

#[tokio::test]
async fn a_30_mb_image_round_trips_streamed() {
    let server = NatsServer::start();
    let c = conn(&server).await;
    let images = Images::open(&c.jetstream, ImageStoreSettings::default())
        .await
        .unwrap();
    const LEN: u64 = 30 * 1024 * 1024;
    let (expected, _) = hash_of(Generated::new(42, LEN)).await;
    let stored = images
        .put(Generated::new(42, LEN), Some(&expected))
        .await
        .unwrap();
    assert_eq!(stored.size, LEN);
    assert!(stored.uploaded);
    let (back, n) = hash_of(images.get(&expected).await.unwrap()).await;
    assert_eq!(n, LEN);
    assert_eq!(back, expected);
}

#[tokio::test]
async fn concurrent_uploads_of_one_image_keep_one_copy() {
    let server = NatsServer::start();
    let c = conn(&server).await;
    let images = Images::open(&c.jetstream, ImageStoreSettings::default())
        .await
        .unwrap();
    let mut tasks = vec![];
    for _ in 0..4 {
        let images = images.clone();
        tasks.push(tokio::spawn(async move {
            images
                .put(Generated::new(9, 2_000_000), None)
                .await
                .unwrap()
        }));
    }
    let mut uploaded = 0;
    let mut hashes = std::collections::BTreeSet::new();
    for t in tasks {
        let s = t.await.unwrap();
        uploaded += usize::from(s.uploaded);
        hashes.insert(s.hash);
    }
    assert_eq!(hashes.len(), 1);
    assert_eq!(uploaded, 1, "exactly one upload becomes the object");
    let chunks = 2_000_000u64.div_ceil(128 * 1024);
    assert_eq!(
        stored_messages(&c).await,
        chunks + 1,
        "one copy of chunks plus metadata"
    );
}

/// Bytes that do not hash to the name they are read under are refused at the end of the read
/// (`InvalidData`), not handed on as the image: here a metadata record for one name points at
/// the chunks of another image.
#[tokio::test]
async fn bytes_that_do_not_match_the_name_fail_the_read() {
    let server = NatsServer::start();
    let c = conn(&server).await;
    let images = Images::open(&c.jetstream, ImageStoreSettings::default())
        .await
        .unwrap();
    let stored = images.put(Generated::new(7, 300_000), None).await.unwrap();
    let stream = c.jetstream.get_stream("OBJ_reprint_images").await.unwrap();
    let meta_subject = |name: &str| {
        use base64::Engine as _;
        format!(
            "$O.reprint_images.M.{}",
            base64::engine::general_purpose::URL_SAFE.encode(name)
        )
    };
    let record = stream
        .get_last_raw_message_by_subject(&meta_subject(&stored.hash))
        .await
        .unwrap();
    let mut meta: serde_json::Value = serde_json::from_slice(&record.payload).unwrap();
    let forged = "b".repeat(64);
    meta["name"] = forged.clone().into();
    c.jetstream
        .publish(
            meta_subject(&forged),
            serde_json::to_vec(&meta).unwrap().into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();

    assert_eq!(images.size(&forged).await.unwrap(), Some(300_000));
    let mut reader = images.get(&forged).await.unwrap();
    let mut bytes = Vec::new();
    let err = reader.read_to_end(&mut bytes).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
    assert!(err.to_string().contains(&stored.hash), "{err}");
    // The real one still reads back whole.
    let (back, n) = hash_of(images.get(&stored.hash).await.unwrap()).await;
    assert_eq!((back, n), (stored.hash, 300_000));
}
