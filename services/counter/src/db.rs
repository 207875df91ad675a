//! The counter's own tables, beside the event store's and the user index (same database, same
//! transactions): what staff look at (orders and their arrival, notices of rejection), the
//! payments taken, the settlements sent, and the orders held back until their images are in
//! the object store. Plain SQL both SQLite and Postgres understand.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use reprint_eventstore::{Conn, Store, Transaction};
use sqlx::{Column, Row as _};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS counter_orders (
        order_id TEXT PRIMARY KEY,
        reception_number TEXT NOT NULL UNIQUE,
        registration_number TEXT NOT NULL,
        route TEXT NOT NULL,
        lab TEXT NOT NULL,
        customer_name TEXT NOT NULL,
        telephone TEXT NOT NULL,
        state TEXT NOT NULL,
        received_at TEXT NOT NULL,
        expected_ready TEXT,
        lab_reception TEXT,
        lab_estimated_finish TEXT,
        arrived_at TEXT,
        notice TEXT,
        updated_at TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS counter_orders_lab_reception ON counter_orders (lab_reception)",
    "CREATE INDEX IF NOT EXISTS counter_orders_state ON counter_orders (state, updated_at)",
    "CREATE TABLE IF NOT EXISTS counter_payments (
        order_id TEXT PRIMARY KEY,
        reception_number TEXT NOT NULL,
        lab TEXT NOT NULL,
        collected_at TEXT NOT NULL,
        local_date TEXT NOT NULL,
        method TEXT NOT NULL,
        tendered BIGINT NOT NULL,
        change_given BIGINT NOT NULL,
        lab_charge BIGINT NOT NULL,
        counter_charge BIGINT NOT NULL,
        total BIGINT NOT NULL,
        currency TEXT NOT NULL,
        staff TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS counter_payments_date ON counter_payments (local_date)",
    "CREATE TABLE IF NOT EXISTS counter_settlements (
        settlement_id TEXT PRIMARY KEY,
        order_id TEXT NOT NULL UNIQUE,
        lab TEXT NOT NULL,
        amount BIGINT NOT NULL,
        currency TEXT NOT NULL,
        at TEXT NOT NULL,
        local_date TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS counter_held_orders (
        order_id TEXT PRIMARY KEY,
        message_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        payload TEXT NOT NULL,
        images TEXT NOT NULL,
        created_at TEXT NOT NULL
    )",
];

/// Creates the tables (idempotent).
pub async fn migrate(store: &Store) -> Result<(), reprint_eventstore::Error> {
    let mut tx = store.begin().await?;
    for ddl in SCHEMA {
        exec(&mut tx, ddl, &[]).await?;
    }
    tx.commit().await
}

/// A time as stored: RFC 3339 UTC with microseconds (sorts as text).
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A bind value.
#[derive(Debug, Clone)]
pub enum V {
    T(String),
    I(i64),
    /// A NULL text.
    Null,
}

impl From<&str> for V {
    fn from(s: &str) -> V {
        V::T(s.to_string())
    }
}
impl From<String> for V {
    fn from(s: String) -> V {
        V::T(s)
    }
}
impl From<i64> for V {
    fn from(i: i64) -> V {
        V::I(i)
    }
}
impl From<Option<String>> for V {
    fn from(s: Option<String>) -> V {
        s.map(V::T).unwrap_or(V::Null)
    }
}

/// A value read.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    T(Option<String>),
    I(Option<i64>),
}

/// A row read, by column name.
#[derive(Debug, Clone, Default)]
pub struct Row(HashMap<String, Cell>);

impl Row {
    pub fn text(&self, name: &str) -> Option<String> {
        match self.0.get(name) {
            Some(Cell::T(s)) => s.clone(),
            Some(Cell::I(i)) => i.map(|i| i.to_string()),
            None => None,
        }
    }

    pub fn str(&self, name: &str) -> String {
        self.text(name).unwrap_or_default()
    }

    pub fn int(&self, name: &str) -> i64 {
        match self.0.get(name) {
            Some(Cell::I(Some(i))) => *i,
            Some(Cell::T(Some(s))) => s.parse().unwrap_or(0),
            _ => 0,
        }
    }
}

fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

macro_rules! bind_all {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                V::T(s) => q.bind(s.clone()),
                V::I(i) => q.bind(*i),
                V::Null => q.bind(Option::<String>::None),
            };
        }
        q
    }};
}

/// Runs a statement; returns the rows affected.
pub async fn exec(
    tx: &mut Transaction,
    sql: &str,
    args: &[V],
) -> Result<u64, reprint_eventstore::Error> {
    let n = match tx.conn() {
        Conn::Postgres(c) => bind_all!(sqlx::query(sql), args)
            .execute(&mut *c)
            .await
            .map_err(reprint_eventstore::Error::from)?
            .rows_affected(),
        Conn::Sqlite(c) => {
            let sql = sqlite_sql(sql);
            bind_all!(sqlx::query(&sql), args)
                .execute(&mut *c)
                .await
                .map_err(reprint_eventstore::Error::from)?
                .rows_affected()
        }
    };
    Ok(n)
}

/// Runs a query; returns its rows.
pub async fn fetch(
    tx: &mut Transaction,
    sql: &str,
    args: &[V],
) -> Result<Vec<Row>, reprint_eventstore::Error> {
    let rows = match tx.conn() {
        Conn::Postgres(c) => {
            let rows = bind_all!(sqlx::query(sql), args)
                .fetch_all(&mut *c)
                .await
                .map_err(reprint_eventstore::Error::from)?;
            rows.iter()
                .map(|r| {
                    let mut m = HashMap::new();
                    for col in r.columns() {
                        let name = col.name();
                        let cell = match r.try_get::<Option<String>, _>(name) {
                            Ok(s) => Cell::T(s),
                            Err(_) => Cell::I(r.try_get::<Option<i64>, _>(name).unwrap_or(None)),
                        };
                        m.insert(name.to_string(), cell);
                    }
                    Row(m)
                })
                .collect()
        }
        Conn::Sqlite(c) => {
            let sql = sqlite_sql(sql);
            let rows = bind_all!(sqlx::query(&sql), args)
                .fetch_all(&mut *c)
                .await
                .map_err(reprint_eventstore::Error::from)?;
            rows.iter()
                .map(|r| {
                    let mut m = HashMap::new();
                    for col in r.columns() {
                        let name = col.name();
                        let cell = match r.try_get::<Option<i64>, _>(name) {
                            Ok(i) => Cell::I(i),
                            Err(_) => Cell::T(r.try_get::<Option<String>, _>(name).unwrap_or(None)),
                        };
                        m.insert(name.to_string(), cell);
                    }
                    Row(m)
                })
                .collect()
        }
    };
    Ok(rows)
}

pub async fn fetch_one(
    tx: &mut Transaction,
    sql: &str,
    args: &[V],
) -> Result<Option<Row>, reprint_eventstore::Error> {
    Ok(fetch(tx, sql, args).await?.into_iter().next())
}
