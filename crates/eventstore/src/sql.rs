//! A service's own tables beside the event store, in the same transactions, on both backends:
//! plain SQL that PostgreSQL and SQLite both understand, with `$1`, `$2` ... placeholders
//! (sqlx's SQLite driver reads them as numbered parameters too).
//!
//! ```ignore
//! use reprint_eventstore::sql::{self, Arg};
//! sql::exec(tx.conn(), "UPDATE t SET state = $2 WHERE id = $1", &[id.into(), "done".into()]).await?;
//! let rows: Vec<MyRow> = sql::fetch(tx.conn(), "SELECT a, b FROM t WHERE a = $1", &[a.into()]).await?;
//! ```

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, Row};

use crate::store::{Conn, Store};

/// A value bound to a placeholder.
///
/// A NULL keeps its type ([`Arg::OptText`], [`Arg::OptInt`]): PostgreSQL fixes a placeholder's
/// type when sqlx first prepares (and caches) a statement on a connection, so binding an
/// untyped text NULL one time and an integer the next would send the integer's 8 binary bytes
/// as text ("invalid byte sequence for encoding UTF8: 0x00").
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(String),
    Int(i64),
    /// A text value or a text NULL.
    OptText(Option<String>),
    /// An integer value or an integer NULL.
    OptInt(Option<i64>),
    /// A text NULL (same as `OptText(None)`).
    Null,
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Text(s.to_string())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Text(s)
    }
}

impl From<&String> for Arg {
    fn from(s: &String) -> Arg {
        Arg::Text(s.clone())
    }
}

impl From<i64> for Arg {
    fn from(i: i64) -> Arg {
        Arg::Int(i)
    }
}

impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Arg {
        Arg::OptText(v)
    }
}

impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Arg {
        Arg::OptText(v.map(str::to_string))
    }
}

impl From<Option<&String>> for Arg {
    fn from(v: Option<&String>) -> Arg {
        Arg::OptText(v.cloned())
    }
}

impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Arg {
        Arg::OptInt(v)
    }
}

/// A time as the tables store it: RFC 3339 in UTC with microseconds (sorts as text).
pub fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Reads a time written by [`ts`] (or any RFC 3339 time).
pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

macro_rules! bind_all {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::Text(s) => q.bind(s.clone()),
                Arg::Int(i) => q.bind(*i),
                Arg::OptText(v) => q.bind(v.clone()),
                Arg::OptInt(v) => q.bind(*v),
                Arg::Null => q.bind(None::<String>),
            };
        }
        q
    }};
}

/// Runs a statement in the transaction of `conn`; returns the rows affected.
pub async fn exec(conn: Conn<'_>, sql: &str, args: &[Arg]) -> Result<u64, sqlx::Error> {
    Ok(match conn {
        Conn::Postgres(c) => bind_all!(sqlx::query(sql), args)
            .execute(&mut *c)
            .await?
            .rows_affected(),
        Conn::Sqlite(c) => bind_all!(sqlx::query(sql), args)
            .execute(&mut *c)
            .await?
            .rows_affected(),
    })
}

/// Fetches rows as `T` (a `sqlx::FromRow` for both backends, e.g. `#[derive(FromRow)]` over
/// `String`, `i64`, `Option<..>` fields).
pub async fn fetch<T>(conn: Conn<'_>, sql: &str, args: &[Arg]) -> Result<Vec<T>, sqlx::Error>
where
    T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin,
{
    Ok(match conn {
        Conn::Postgres(c) => {
            bind_all!(sqlx::query_as::<_, T>(sql), args)
                .fetch_all(&mut *c)
                .await?
        }
        Conn::Sqlite(c) => {
            bind_all!(sqlx::query_as::<_, T>(sql), args)
                .fetch_all(&mut *c)
                .await?
        }
    })
}

/// The first row as `T`, if any.
pub async fn fetch_optional<T>(
    conn: Conn<'_>,
    sql: &str,
    args: &[Arg],
) -> Result<Option<T>, sqlx::Error>
where
    T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin,
{
    Ok(match conn {
        Conn::Postgres(c) => {
            bind_all!(sqlx::query_as::<_, T>(sql), args)
                .fetch_optional(&mut *c)
                .await?
        }
        Conn::Sqlite(c) => {
            bind_all!(sqlx::query_as::<_, T>(sql), args)
                .fetch_optional(&mut *c)
                .await?
        }
    })
}

/// One integer of the first row (a count, a sum), 0 when there is no row or it is NULL.
pub async fn scalar_i64(conn: Conn<'_>, sql: &str, args: &[Arg]) -> Result<i64, sqlx::Error> {
    Ok(match conn {
        Conn::Postgres(c) => bind_all!(sqlx::query(sql), args)
            .fetch_optional(&mut *c)
            .await?
            .map(|r| r.try_get::<Option<i64>, _>(0))
            .transpose()?
            .flatten()
            .unwrap_or(0),
        Conn::Sqlite(c) => bind_all!(sqlx::query(sql), args)
            .fetch_optional(&mut *c)
            .await?
            .map(|r| r.try_get::<Option<i64>, _>(0))
            .transpose()?
            .flatten()
            .unwrap_or(0),
    })
}

/// Runs DDL statements (`CREATE TABLE IF NOT EXISTS ...`) in one transaction: a service's
/// migration of its own tables.
pub async fn migrate(store: &Store, statements: &[&str]) -> crate::Result<()> {
    let mut tx = store.begin().await?;
    for ddl in statements {
        exec(tx.conn(), ddl, &[]).await?;
    }
    tx.commit().await
}
