//! The inline read model of a site's files: lookups a request needs right after a command.
//! Written in the append's transaction by [`UserIndex`]; read in the caller's transaction.

use futures::future::BoxFuture;
use reprint_domain::file::{self, normalise_name};
use reprint_eventstore::{Conn, Projection, RecordedEvent, Store, Transaction};
use sqlx::Row;

use crate::stored::FileEvent;

const STREAM_PREFIX: &str = "user-file-";

/// DDL for both backends (plain SQL both understand).
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS site_user_files (
        registration_number TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        name_key TEXT NOT NULL,
        telephone TEXT NOT NULL,
        registered_at TEXT NOT NULL
    )",
    "CREATE UNIQUE INDEX IF NOT EXISTS site_user_files_identity ON site_user_files (telephone, name_key)",
    "CREATE TABLE IF NOT EXISTS site_receptions (
        reception_number TEXT PRIMARY KEY,
        registration_number TEXT NOT NULL,
        order_id TEXT NOT NULL UNIQUE,
        telephone TEXT NOT NULL,
        name TEXT NOT NULL,
        partner TEXT NOT NULL,
        state TEXT NOT NULL,
        received_at TEXT NOT NULL,
        total_minor BIGINT NOT NULL,
        partner_total_minor BIGINT,
        currency TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS site_receptions_telephone ON site_receptions (telephone)",
    "CREATE INDEX IF NOT EXISTS site_receptions_state ON site_receptions (state, received_at)",
];

/// A file as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub registration_number: String,
    pub name: String,
    pub telephone: String,
}

/// A reception as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceptionRow {
    pub reception_number: String,
    pub registration_number: String,
    pub order_id: String,
    pub name: String,
    pub telephone: String,
    pub partner: String,
    pub state: String,
    pub received_at: String,
    pub total_minor: i64,
    pub partner_total_minor: Option<i64>,
    pub currency: String,
}

/// The inline projection; register it on the store with `Store::with_projection`.
pub struct UserIndex;

impl UserIndex {
    /// Creates the index tables (idempotent).
    pub async fn migrate(store: &Store) -> Result<(), reprint_eventstore::Error> {
        let mut tx = store.begin().await?;
        for ddl in SCHEMA {
            exec(tx.conn(), ddl, &[]).await?;
        }
        tx.commit().await
    }
}

impl Projection for UserIndex {
    fn name(&self) -> &'static str {
        "site_user_index"
    }

    fn apply<'a>(
        &'a self,
        mut conn: Conn<'a>,
        events: &'a [RecordedEvent],
    ) -> BoxFuture<'a, reprint_eventstore::Result<()>> {
        Box::pin(async move {
            for e in events {
                let Some(registration) = e.stream_id.strip_prefix(STREAM_PREFIX) else {
                    continue;
                };
                let FileEvent(event) = e.decode::<FileEvent>()?;
                apply_one(&mut conn, registration, &event).await?;
            }
            Ok(())
        })
    }
}

/// A shorter-lived handle on the same connection.
fn reborrow<'b>(c: &'b mut Conn<'_>) -> Conn<'b> {
    match c {
        Conn::Postgres(p) => Conn::Postgres(p),
        Conn::Sqlite(s) => Conn::Sqlite(s),
    }
}

async fn apply_one(
    conn: &mut Conn<'_>,
    registration: &str,
    event: &file::Event,
) -> reprint_eventstore::Result<()> {
    use file::Event as E;
    match event {
        E::Registered { user } => {
            exec(
                reborrow(conn),
                "INSERT INTO site_user_files (registration_number, name, name_key, telephone, registered_at) VALUES ($1, $2, $3, $4, $5)",
                &[V::T(registration.into()), V::T(user.name.clone()), V::T(normalise_name(&user.name)), V::T(user.telephone.as_str().into()), V::T(user.registered_at.to_rfc3339())],
            )
            .await
        }
        E::ContactChanged { name, telephone, .. } => {
            exec(
                reborrow(conn),
                "UPDATE site_user_files SET name = $2, name_key = $3, telephone = $4 WHERE registration_number = $1",
                &[V::T(registration.into()), V::T(name.clone()), V::T(normalise_name(name)), V::T(telephone.as_str().into())],
            )
            .await?;
            exec(
                reborrow(conn),
                "UPDATE site_receptions SET name = $2, telephone = $3 WHERE registration_number = $1",
                &[V::T(registration.into()), V::T(name.clone()), V::T(telephone.as_str().into())],
            )
            .await
        }
        E::ReceptionOpened { reception } => {
            let user = user_by_number_conn(reborrow(conn), registration).await?;
            let (name, telephone) = user.map(|u| (u.name, u.telephone)).unwrap_or_default();
            exec(
                reborrow(conn),
                "INSERT INTO site_receptions (reception_number, registration_number, order_id, telephone, name, partner, state, received_at, total_minor, currency) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9)",
                &[
                    V::T(reception.number.to_string()),
                    V::T(registration.into()),
                    V::T(reception.order.to_string()),
                    V::T(telephone),
                    V::T(name),
                    V::T(reception.partner.to_string()),
                    V::T(reception.received_at.to_rfc3339()),
                    V::I(reception.charge.total.minor),
                    V::T(reception.charge.total.currency.to_string()),
                ],
            )
            .await
        }
        E::PartnerAmountsFilledIn { number, charge } => {
            exec(reborrow(conn), "UPDATE site_receptions SET partner_total_minor = $2 WHERE reception_number = $1", &[V::T(number.to_string()), V::I(charge.total.minor)]).await
        }
        E::Collected { number, .. } => {
            exec(reborrow(conn), "UPDATE site_receptions SET state = 'collected' WHERE reception_number = $1", &[V::T(number.to_string())]).await
        }
        E::ReceptionCancelled { number, .. } => {
            exec(reborrow(conn), "UPDATE site_receptions SET state = 'cancelled' WHERE reception_number = $1", &[V::T(number.to_string())]).await
        }
    }
}

/// A bind value.
#[derive(Debug, Clone)]
pub(crate) enum V {
    T(String),
    I(i64),
}

fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

pub(crate) async fn exec(conn: Conn<'_>, sql: &str, args: &[V]) -> reprint_eventstore::Result<()> {
    match conn {
        Conn::Postgres(c) => {
            let mut q = sqlx::query(sql);
            for a in args {
                q = match a {
                    V::T(s) => q.bind(s.clone()),
                    V::I(i) => q.bind(*i),
                };
            }
            q.execute(&mut *c).await?;
        }
        Conn::Sqlite(c) => {
            let sql = sqlite_sql(sql);
            let mut q = sqlx::query(&sql);
            for a in args {
                q = match a {
                    V::T(s) => q.bind(s.clone()),
                    V::I(i) => q.bind(*i),
                };
            }
            q.execute(&mut *c).await?;
        }
    }
    Ok(())
}

macro_rules! fetch_rows {
    ($conn:expr, $sql:expr, $args:expr, $map:expr) => {{
        let args: &[V] = $args;
        match $conn {
            Conn::Postgres(c) => {
                let mut q = sqlx::query($sql);
                for a in args {
                    q = match a {
                        V::T(s) => q.bind(s.clone()),
                        V::I(i) => q.bind(*i),
                    };
                }
                let rows = q.fetch_all(&mut *c).await?;
                rows.iter()
                    .map(|r| $map(r))
                    .collect::<Result<Vec<_>, sqlx::Error>>()?
            }
            Conn::Sqlite(c) => {
                let sql = sqlite_sql($sql);
                let mut q = sqlx::query(&sql);
                for a in args {
                    q = match a {
                        V::T(s) => q.bind(s.clone()),
                        V::I(i) => q.bind(*i),
                    };
                }
                let rows = q.fetch_all(&mut *c).await?;
                rows.iter()
                    .map(|r| $map(r))
                    .collect::<Result<Vec<_>, sqlx::Error>>()?
            }
        }
    }};
}

fn user_row<R: Row>(r: &R) -> Result<UserRow, sqlx::Error>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
{
    Ok(UserRow {
        registration_number: r.try_get("registration_number")?,
        name: r.try_get("name")?,
        telephone: r.try_get("telephone")?,
    })
}

fn reception_row<R: Row>(r: &R) -> Result<ReceptionRow, sqlx::Error>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<i64>: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
{
    Ok(ReceptionRow {
        reception_number: r.try_get("reception_number")?,
        registration_number: r.try_get("registration_number")?,
        order_id: r.try_get("order_id")?,
        name: r.try_get("name")?,
        telephone: r.try_get("telephone")?,
        partner: r.try_get("partner")?,
        state: r.try_get("state")?,
        received_at: r.try_get("received_at")?,
        total_minor: r.try_get("total_minor")?,
        partner_total_minor: r.try_get("partner_total_minor")?,
        currency: r.try_get("currency")?,
    })
}

const USER_COLS: &str = "SELECT registration_number, name, telephone FROM site_user_files";
const RECEPTION_COLS: &str = "SELECT reception_number, registration_number, order_id, name, telephone, partner, state, received_at, total_minor, partner_total_minor, currency FROM site_receptions";

async fn user_by_number_conn(
    conn: Conn<'_>,
    number: &str,
) -> reprint_eventstore::Result<Option<UserRow>> {
    let sql = format!("{USER_COLS} WHERE registration_number = $1");
    let rows: Vec<UserRow> = fetch_rows!(conn, &sql, &[V::T(number.into())], user_row);
    Ok(rows.into_iter().next())
}

/// The file with this registration number.
pub async fn user_by_number(
    tx: &mut Transaction,
    number: &str,
) -> reprint_eventstore::Result<Option<UserRow>> {
    user_by_number_conn(tx.conn(), number).await
}

/// The file of this (normalised) name and telephone.
pub async fn user_by_name_and_telephone(
    tx: &mut Transaction,
    name_key: &str,
    telephone: &str,
) -> reprint_eventstore::Result<Option<UserRow>> {
    let sql = format!("{USER_COLS} WHERE telephone = $1 AND name_key = $2");
    let rows: Vec<UserRow> = fetch_rows!(
        tx.conn(),
        &sql,
        &[V::T(telephone.into()), V::T(name_key.into())],
        user_row
    );
    Ok(rows.into_iter().next())
}

/// Files with this telephone number (one per name).
pub async fn users_by_telephone(
    tx: &mut Transaction,
    telephone: &str,
) -> reprint_eventstore::Result<Vec<UserRow>> {
    let sql = format!("{USER_COLS} WHERE telephone = $1 ORDER BY registration_number");
    Ok(fetch_rows!(
        tx.conn(),
        &sql,
        &[V::T(telephone.into())],
        user_row
    ))
}

pub async fn reception_by_number(
    tx: &mut Transaction,
    number: &str,
) -> reprint_eventstore::Result<Option<ReceptionRow>> {
    let sql = format!("{RECEPTION_COLS} WHERE reception_number = $1");
    let rows: Vec<ReceptionRow> =
        fetch_rows!(tx.conn(), &sql, &[V::T(number.into())], reception_row);
    Ok(rows.into_iter().next())
}

pub async fn reception_by_order(
    tx: &mut Transaction,
    order: &str,
) -> reprint_eventstore::Result<Option<ReceptionRow>> {
    let sql = format!("{RECEPTION_COLS} WHERE order_id = $1");
    let rows: Vec<ReceptionRow> =
        fetch_rows!(tx.conn(), &sql, &[V::T(order.into())], reception_row);
    Ok(rows.into_iter().next())
}

/// Receptions of files with this telephone number, newest first.
pub async fn receptions_by_telephone(
    tx: &mut Transaction,
    telephone: &str,
) -> reprint_eventstore::Result<Vec<ReceptionRow>> {
    let sql = format!("{RECEPTION_COLS} WHERE telephone = $1 ORDER BY received_at DESC");
    Ok(fetch_rows!(
        tx.conn(),
        &sql,
        &[V::T(telephone.into())],
        reception_row
    ))
}

/// Receptions in a state (`open`, `collected`, `cancelled`), oldest first.
pub async fn receptions_by_state(
    tx: &mut Transaction,
    state: &str,
    limit: i64,
) -> reprint_eventstore::Result<Vec<ReceptionRow>> {
    let sql = format!("{RECEPTION_COLS} WHERE state = $1 ORDER BY received_at LIMIT $2");
    Ok(fetch_rows!(
        tx.conn(),
        &sql,
        &[V::T(state.into()), V::I(limit)],
        reception_row
    ))
}
