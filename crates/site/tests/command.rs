//! The one command path on a real store, SQLite and Postgres: a decision queued in the
//! transaction (`decide_and_defer`) is what a read of the same transaction sees and what the
//! commit stores, and a decision made on a stale read conflicts at the commit, storing nothing.

use chrono::{TimeZone, Utc};
use reprint_domain::ImageId;
use reprint_domain::decider::ProductionDecider;
use reprint_domain::production::Command;
use reprint_eventstore::Store;
use reprint_site::command::{self, Loaded};
use reprint_testkit::{TestPostgres, TestSqlite};

const STREAM: &str = "production-order-1";

fn receive() -> Command {
    Command::Receive {
        images: vec![ImageId::of_bytes(b"beach")],
        at: Utc
            .with_ymd_and_hms(2026, 12, 5, 9, 30, 0)
            .single()
            .unwrap(),
    }
}

async fn deferred_decisions(url: &str) {
    let store = Store::open(url).await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let mut loaded = command::load::<ProductionDecider>(&mut tx, STREAM)
        .await
        .unwrap();
    assert_eq!(loaded.version, 0);
    let events = command::decide_and_defer(&mut tx, &mut loaded, receive()).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(loaded.version, 1);
    // The same transaction reads what it queued.
    let again = command::load::<ProductionDecider>(&mut tx, STREAM)
        .await
        .unwrap();
    assert_eq!(again.version, 1);
    assert_eq!(again.state, loaded.state);
    tx.commit().await.unwrap();

    // A decision on the stream as it was before (version 0) conflicts when the queue is
    // written at the commit, and nothing of it is stored.
    let mut tx = store.begin().await.unwrap();
    let mut stale = Loaded::<ProductionDecider>::new_stream(STREAM);
    command::decide_and_defer(&mut tx, &mut stale, receive()).unwrap();
    let err = tx.commit().await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let stored = store.read_stream(STREAM, 1, 10).await.unwrap();
    assert_eq!(stored.len(), 1);
}

#[tokio::test]
async fn a_deferred_decision_is_read_back_and_a_stale_one_conflicts_on_sqlite() {
    let db = TestSqlite::create();
    deferred_decisions(&db.url).await;
}

#[tokio::test]
async fn a_deferred_decision_is_read_back_and_a_stale_one_conflicts_on_postgres() {
    let db = TestPostgres::create().await;
    deferred_decisions(&db.url).await;
}
