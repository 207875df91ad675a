//! Postgres migrations applied to a database that already has data: a store of migration 1
//! with unsent outbox rows keeps them unsent (and no more) once opened by the current code.

use reprint_eventstore::Store;
use reprint_testkit::TestPostgres;

#[tokio::test]
async fn unsent_outbox_rows_survive_the_move_to_outbox_pending() {
    let db = TestPostgres::create().await;
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    // The database as migration 1 left it, with three rows of which the second was sent.
    sqlx::raw_sql(include_str!("../migrations/pg/0001_events.sql"))
        .execute(&pool)
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE reprint_eventstore_migrations (version BIGINT PRIMARY KEY, \
         applied_at TIMESTAMPTZ NOT NULL DEFAULT now());
         INSERT INTO reprint_eventstore_migrations (version) VALUES (1);
         INSERT INTO outbox (message_id, subject, payload) VALUES
             ('m1', 's', '\\x01'), ('m2', 's', '\\x02'), ('m3', 's', '\\x03');
         UPDATE outbox SET sent_at = now() WHERE message_id = 'm2';",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let store = Store::open(&db.url).await.unwrap();
    assert_eq!(store.unsent_count().await.unwrap(), 2);
    let pending = store.pending_outbox(0, 10).await.unwrap();
    let ids: Vec<&str> = pending
        .iter()
        .map(|p| p.message.message_id.as_str())
        .collect();
    assert_eq!(ids, ["m1", "m3"]);
    assert_eq!(pending[0].message.payload, [1]);
    store.mark_sent(&[pending[0].id]).await.unwrap();
    let pending = store.pending_outbox(0, 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].message.message_id, "m3");
    // Opening again applies nothing twice.
    store.close().await;
    let store = Store::open(&db.url).await.unwrap();
    assert_eq!(store.unsent_count().await.unwrap(), 1);
    store.close().await;
}
