//! Server-side sessions for every service, written once: the [`tower_sessions`] layer (the
//! cookie, id cycling at log-in, expiry) over a session table in the service's own store
//! (PostgreSQL or SQLite, through [`reprint_eventstore::sql`]).
//!
//! The cookie holds only a random 128-bit session id; who is logged in lives in the table, so
//! logging out ([`end`]) or changing a password ([`end_all`]) ends the session for good: the
//! old cookie finds nothing. A session lasts its time to live from the log-in (the cookie's
//! `Max-Age` and the row's `expires_ms`), is `HttpOnly`, `SameSite=Lax`, and `Secure` when the
//! service is reached over https ([`crate::config::HttpSection::cookies_secure`]).
//!
//! Why our own store and not `tower-sessions-sqlx-store`: that crate has one store per
//! database with its own pool, while a service here runs on either database through one
//! [`Store`] (on SQLite, one writer for everything). A row is written only when a session is
//! created (at log-in): `save` updates an existing row and never brings back one that a
//! log-out deleted meanwhile.

use std::fmt;

use axum::http::request::Parts;
use reprint_eventstore::sql::{self, Arg};
use reprint_eventstore::{Conn, Store};
use tower_sessions::cookie::SameSite;
use tower_sessions::cookie::time::{Duration, OffsetDateTime};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::auth::{SESSION_COOKIE, Session};

/// The request's session handle (put there by [`layer`]).
pub use tower_sessions::Session as Handle;

/// The layer [`layer`] makes.
pub type Layer = SessionManagerLayer<SqlSessionStore>;

/// Where the logged-in [`Session`] is kept in the session's data.
const LOGIN: &str = "login";

/// The session table; run by [`migrate`] beside the service's own tables.
pub const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS svc_sessions (
        id TEXT PRIMARY KEY, account TEXT, data TEXT NOT NULL, expires_ms BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS svc_sessions_account ON svc_sessions (account)",
    "CREATE INDEX IF NOT EXISTS svc_sessions_expires ON svc_sessions (expires_ms)",
];

/// Creates the session table if it is not there.
pub async fn migrate(store: &Store) -> reprint_eventstore::Result<()> {
    sql::migrate(store, SCHEMA).await
}

/// A session could not be read or written (the store failed).
#[derive(Debug, thiserror::Error)]
#[error("session store: {0}")]
pub struct SessionError(String);

fn store_error(e: impl fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn expiry_ms(record: &Record) -> i64 {
    (record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The account a record belongs to (for [`end_all`]).
fn account_of(record: &Record) -> Option<String> {
    record
        .data
        .get(LOGIN)
        .and_then(|v| v.get("user"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// The session store over a service's [`Store`].
#[derive(Clone)]
pub struct SqlSessionStore {
    store: Store,
}

impl fmt::Debug for SqlSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlSessionStore").finish_non_exhaustive()
    }
}

impl SqlSessionStore {
    pub fn new(store: Store) -> SqlSessionStore {
        SqlSessionStore { store }
    }

    async fn write(&self, query: &str, args: &[Arg]) -> Result<u64, session_store::Error> {
        let mut tx = self.store.begin().await.map_err(store_error)?;
        let n = sql::exec(tx.conn(), query, args)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(n)
    }

    async fn read(&self, id: &str) -> Result<Option<(String, i64)>, session_store::Error> {
        let args = [Arg::Text(id.to_string()), Arg::Int(now_ms())];
        let query = "SELECT data, expires_ms FROM svc_sessions WHERE id = $1 AND expires_ms > $2";
        if let Some(pool) = self.store.postgres_pool() {
            let mut c = pool.acquire().await.map_err(store_error)?;
            return sql::fetch_optional(Conn::Postgres(&mut c), query, &args)
                .await
                .map_err(store_error);
        }
        if let Some(pool) = self.store.sqlite_reader_pool() {
            let mut c = pool.acquire().await.map_err(store_error)?;
            return sql::fetch_optional(Conn::Sqlite(&mut c), query, &args)
                .await
                .map_err(store_error);
        }
        Err(store_error("the store has no read pool"))
    }

    /// Deletes the sessions that have expired (called at every log-in, so the table holds
    /// about the sessions of one time to live).
    pub async fn delete_expired(&self) -> Result<u64, session_store::Error> {
        self.write(
            "DELETE FROM svc_sessions WHERE expires_ms <= $1",
            &[Arg::Int(now_ms())],
        )
        .await
    }
}

fn encode(record: &Record) -> Result<String, session_store::Error> {
    serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))
}

#[async_trait::async_trait]
impl SessionStore for SqlSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let data = encode(record)?;
        // A fresh random 128-bit id collides with nothing in practice; if it ever does, the
        // insert does nothing and another id is drawn.
        for _ in 0..8 {
            let n = self
                .write(
                    "INSERT INTO svc_sessions (id, account, data, expires_ms) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (id) DO NOTHING",
                    &[
                        Arg::Text(record.id.to_string()),
                        Arg::OptText(account_of(record)),
                        Arg::Text(data.clone()),
                        Arg::Int(expiry_ms(record)),
                    ],
                )
                .await?;
            if n == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
        Err(store_error("no free session id"))
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        // Only an existing row: a session that a log-out deleted stays deleted.
        self.write(
            "UPDATE svc_sessions SET account = $2, data = $3, expires_ms = $4 WHERE id = $1",
            &[
                Arg::Text(record.id.to_string()),
                Arg::OptText(account_of(record)),
                Arg::Text(encode(record)?),
                Arg::Int(expiry_ms(record)),
            ],
        )
        .await?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let Some((data, expires_ms)) = self.read(&id.to_string()).await? else {
            return Ok(None);
        };
        let data =
            serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(expires_ms) * 1_000_000)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.write(
            "DELETE FROM svc_sessions WHERE id = $1",
            &[Arg::Text(id.to_string())],
        )
        .await?;
        Ok(())
    }
}

/// The session layer of a service: the `reprint_session` cookie (`HttpOnly`, `SameSite=Lax`,
/// `Path=/`, `Secure` when `secure`), sessions that last `ttl_secs` from the log-in.
pub fn layer(store: Store, secure: bool, ttl_secs: i64) -> Layer {
    SessionManagerLayer::new(SqlSessionStore::new(store))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(Duration::seconds(ttl_secs.max(60))))
}

/// The request's session handle, if the service runs [`layer`].
pub fn handle(parts: &Parts) -> Option<Handle> {
    parts.extensions.get::<Handle>().cloned()
}

/// Who is logged in on this session, if anyone.
pub async fn current(handle: &Handle) -> Result<Option<Session>, SessionError> {
    handle
        .get::<Session>(LOGIN)
        .await
        .map_err(|e| SessionError(e.to_string()))
}

/// Who is logged in on the request's session, if anyone (no layer: nobody).
pub async fn from_parts(parts: &Parts) -> Result<Option<Session>, SessionError> {
    match handle(parts) {
        Some(h) => current(&h).await,
        None => {
            tracing::error!("no session layer on this router: nobody can log in");
            Ok(None)
        }
    }
}

/// Logs `session` in on this handle: a new session id (a cookie planted before the log-in
/// is worth nothing after it), stored when the response goes out.
pub async fn begin(handle: &Handle, session: &Session) -> Result<(), SessionError> {
    let err = |e: tower_sessions::session::Error| SessionError(e.to_string());
    handle.cycle_id().await.map_err(err)?;
    handle.insert(LOGIN, session).await.map_err(err)?;
    Ok(())
}

/// Logs out: the session's row is deleted and the cookie cleared.
pub async fn end(handle: &Handle) -> Result<(), SessionError> {
    handle
        .flush()
        .await
        .map_err(|e| SessionError(e.to_string()))
}

/// Ends every session of `user` (after a password change, or to lock someone out).
pub async fn end_all(store: &Store, user: &str) -> Result<u64, SessionError> {
    SqlSessionStore::new(store.clone())
        .write(
            "DELETE FROM svc_sessions WHERE account = $1",
            &[Arg::Text(user.to_string())],
        )
        .await
        .map_err(|e| SessionError(e.to_string()))
}

/// Deletes expired sessions; errors are logged (the next log-in tries again).
pub async fn prune(store: &Store) {
    if let Err(e) = SqlSessionStore::new(store.clone()).delete_expired().await {
        tracing::warn!(error = %e, "deleting expired sessions");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn round_trip(store: Store) {
        migrate(&store).await.unwrap();
        migrate(&store).await.expect("migrating twice is fine");
        let sessions = SqlSessionStore::new(store.clone());
        let login = Session::new("hanako", "user", 0, 60);
        let mut record = Record {
            id: Id::default(),
            data: [(LOGIN.to_string(), serde_json::to_value(&login).unwrap())].into(),
            expiry_date: OffsetDateTime::now_utc() + Duration::hours(1),
        };
        sessions.create(&mut record).await.unwrap();
        let loaded = sessions.load(&record.id).await.unwrap().expect("stored");
        assert_eq!(loaded.data, record.data);
        sessions.delete(&record.id).await.unwrap();
        assert!(sessions.load(&record.id).await.unwrap().is_none());
        sessions.save(&record).await.unwrap();
        assert!(
            sessions.load(&record.id).await.unwrap().is_none(),
            "a save never brings back a session that was ended"
        );

        // Every session of one account ends at once; others stay.
        let mut a = record.clone();
        a.id = Id::default();
        sessions.create(&mut a).await.unwrap();
        let mut b = record.clone();
        b.id = Id::default();
        sessions.create(&mut b).await.unwrap();
        let mut other = record.clone();
        other.id = Id::default();
        other.data = [(
            LOGIN.to_string(),
            serde_json::to_value(Session::new("taro", "user", 0, 60)).unwrap(),
        )]
        .into();
        sessions.create(&mut other).await.unwrap();
        assert_eq!(end_all(&store, "hanako").await.unwrap(), 2);
        assert!(sessions.load(&a.id).await.unwrap().is_none());
        assert!(sessions.load(&other.id).await.unwrap().is_some());

        // An expired session is not found, and pruning deletes it.
        let mut old = record.clone();
        old.id = Id::default();
        old.expiry_date = OffsetDateTime::now_utc() - Duration::seconds(1);
        sessions.create(&mut old).await.unwrap();
        assert!(sessions.load(&old.id).await.unwrap().is_none());
        assert_eq!(sessions.delete_expired().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn sessions_live_in_the_store_on_sqlite() {
        let db = reprint_testkit::TestSqlite::create();
        round_trip(Store::open(&db.url).await.unwrap()).await;
    }

    #[tokio::test]
    async fn sessions_live_in_the_store_on_postgres() {
        let db = reprint_testkit::TestPostgres::create().await;
        round_trip(Store::open(&db.url).await.unwrap()).await;
    }
}
