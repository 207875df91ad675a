//! A service's own tables through `reprint_eventstore::sql`, on both backends.

use reprint_eventstore::Store;
use reprint_eventstore::sql::{self, Arg};
use reprint_testkit::{TestPostgres, TestSqlite};

async fn a_placeholder_may_be_null_then_an_integer(url: &str) {
    let store = Store::open(url).await.unwrap();
    sql::migrate(
        &store,
        &["CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY, n BIGINT)"],
    )
    .await
    .unwrap();
    // The same statement, first with a NULL, then with integers: PostgreSQL keeps the type the
    // statement was first prepared with on that connection, so the NULL must be typed.
    for (id, n) in [
        ("a", None),
        ("b", Some(5_i64)),
        ("c", None),
        ("d", Some(-7)),
    ] {
        let mut tx = store.begin().await.unwrap();
        sql::exec(
            tx.conn(),
            "INSERT INTO t (id, n) VALUES ($1, $2)",
            &[id.into(), n.into()],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let mut tx = store.begin().await.unwrap();
    let sum = sql::scalar_i64(tx.conn(), "SELECT CAST(SUM(n) AS BIGINT) FROM t", &[])
        .await
        .unwrap();
    assert_eq!(sum, -2);
    let rows: Vec<(String, Option<i64>)> =
        sql::fetch(tx.conn(), "SELECT id, n FROM t ORDER BY id", &[])
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![
            ("a".into(), None),
            ("b".into(), Some(5)),
            ("c".into(), None),
            ("d".into(), Some(-7))
        ]
    );
    let none: Option<String> = None;
    let found: Option<(String,)> =
        sql::fetch_optional(tx.conn(), "SELECT id FROM t WHERE id = $1", &[none.into()])
            .await
            .unwrap();
    assert_eq!(found, None);
    assert!(matches!(Arg::from(Some(3_i64)), Arg::OptInt(Some(3))));
}

#[tokio::test]
async fn postgres_a_placeholder_may_be_null_then_an_integer() {
    let db = TestPostgres::create().await;
    a_placeholder_may_be_null_then_an_integer(&db.url).await;
}

#[tokio::test]
async fn sqlite_a_placeholder_may_be_null_then_an_integer() {
    let db = TestSqlite::create();
    a_placeholder_may_be_null_then_an_integer(&db.url).await;
}
