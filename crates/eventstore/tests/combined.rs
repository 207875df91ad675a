//! Appends of their own that arrive together on Postgres go to the database in one write
//! (see the store's `combine`): each still gets its own outcome, by its own rules.

use std::sync::Arc;

use reprint_eventstore::{ExpectedVersion, Metadata, NewEvent, Store};
use reprint_testkit::TestPostgres;
use tokio::sync::Barrier;
use uuid::Uuid;

fn event(n: u8) -> NewEvent {
    NewEvent {
        event_id: Uuid::now_v7(),
        event_type: "test.counted".into(),
        schema_version: 1,
        payload: vec![n],
        metadata: Metadata::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_written_together_keep_each_its_own_outcome() {
    let db = TestPostgres::create().await;
    let store = Store::open(&db.url).await.expect("open store");
    let stored = event(0);
    store
        .append(
            "old",
            ExpectedVersion::NoStream,
            std::slice::from_ref(&stored),
        )
        .await
        .expect("first append");

    // Rounds of 40 appends released at once: 20 to streams of their own (all stored), 10 racing
    // for version 1 of one stream (exactly one stored, the others conflicts), 10 appending
    // the stored event again (no-ops).
    for round in 0..5u8 {
        let barrier = Arc::new(Barrier::new(40));
        let mut tasks = Vec::new();
        for i in 0..40u8 {
            let (store, barrier, stored) = (store.clone(), barrier.clone(), stored.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                match i {
                    0..20 => {
                        let stream = format!("own-{round}-{i}");
                        let e = [event(i)];
                        (
                            "own",
                            store.append(&stream, ExpectedVersion::NoStream, &e).await,
                        )
                    }
                    20..30 => {
                        let stream = format!("race-{round}");
                        let e = [event(i)];
                        (
                            "race",
                            store.append(&stream, ExpectedVersion::NoStream, &e).await,
                        )
                    }
                    _ => {
                        let e = [stored];
                        (
                            "again",
                            store.append("old", ExpectedVersion::NoStream, &e).await,
                        )
                    }
                }
            }));
        }
        let (mut own, mut won, mut lost, mut noop) = (0, 0, 0, 0);
        for t in tasks {
            match t.await.expect("task") {
                ("own", Ok(r)) if r.stream_version == 1 && r.positions.len() == 1 => own += 1,
                ("race", Ok(r)) if r.positions.len() == 1 => won += 1,
                ("race", Err(e)) if e.is_conflict() => lost += 1,
                ("again", Ok(r)) if r.is_noop() => noop += 1,
                (what, r) => panic!("{what}: unexpected {r:?}"),
            }
        }
        assert_eq!((own, won, lost, noop), (20, 1, 9, 10), "round {round}");
        let race = store
            .read_stream(&format!("race-{round}"), 1, 10)
            .await
            .unwrap();
        assert_eq!(race.len(), 1);
    }
    assert_eq!(store.read_stream("old", 1, 10).await.unwrap().len(), 1);
}
