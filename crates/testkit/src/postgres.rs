//! A fresh PostgreSQL database per test, dropped when the handle is dropped.

use sqlx::{Connection, Executor, PgConnection};

/// The server every test database is created on.
pub fn admin_url() -> String {
    std::env::var("REPRINT_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A database made for one test: `url` points at it. Dropping the handle drops the database
/// (best effort, on a separate thread so that it works from inside and outside a runtime).
pub struct TestPostgres {
    pub url: String,
    pub name: String,
    admin: String,
}

impl TestPostgres {
    /// Creates `reprint_test_<uuid>` on the server of [`admin_url`].
    ///
    /// # Panics
    /// When the server cannot be reached, with what the test needs in the message.
    pub async fn create() -> TestPostgres {
        let admin = admin_url();
        let name = format!("reprint_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "tests need PostgreSQL at {admin} (set REPRINT_TEST_PG, or run scripts/test, \
                 which starts or installs it): {e}"
            )
        });
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
        let url = match admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("REPRINT_TEST_PG must end in /<database>: {admin}"),
        };
        TestPostgres { url, name, admin }
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(_) => return,
            };
            rt.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&admin).await {
                    let _ = conn
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
                }
            });
        })
        .join();
    }
}
