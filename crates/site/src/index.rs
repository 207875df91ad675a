//! The inline read model of a site's files: lookups a request needs right after a command.
//! Written in the append's transaction by [`UserIndex`]; read in the caller's transaction.

use futures::future::BoxFuture;
use reprint_domain::file::{self, normalise_name};
use reprint_eventstore::sql::{self, Arg as V};
use reprint_eventstore::{Conn, Projection, RecordedEvent, Store, Transaction};

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
    // Not unique: a web user is never found by name and telephone (crate documentation,
    // "Identity at a site"), so two files may share them; the old unique index goes.
    "DROP INDEX IF EXISTS site_user_files_identity",
    "CREATE INDEX IF NOT EXISTS site_user_files_by_identity ON site_user_files (telephone, name_key)",
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
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRow {
    pub registration_number: String,
    pub name: String,
    pub telephone: String,
}

/// A reception as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
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
        sql::migrate(store, SCHEMA).await
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

async fn run(conn: Conn<'_>, statement: &str, args: &[V]) -> reprint_eventstore::Result<()> {
    sql::exec(conn, statement, args).await?;
    Ok(())
}

async fn apply_one(
    conn: &mut Conn<'_>,
    registration: &str,
    event: &file::Event,
) -> reprint_eventstore::Result<()> {
    use file::Event as E;
    match event {
        E::Registered { user } => {
            run(
                reborrow(conn),
                "INSERT INTO site_user_files (registration_number, name, name_key, telephone, registered_at) VALUES ($1, $2, $3, $4, $5)",
                &[V::Text(registration.into()), V::Text(user.name.clone()), V::Text(normalise_name(&user.name)), V::Text(user.telephone.as_str().into()), V::Text(user.registered_at.to_rfc3339())],
            )
            .await
        }
        E::ContactChanged { name, telephone, .. } => {
            run(
                reborrow(conn),
                "UPDATE site_user_files SET name = $2, name_key = $3, telephone = $4 WHERE registration_number = $1",
                &[V::Text(registration.into()), V::Text(name.clone()), V::Text(normalise_name(name)), V::Text(telephone.as_str().into())],
            )
            .await?;
            run(
                reborrow(conn),
                "UPDATE site_receptions SET name = $2, telephone = $3 WHERE registration_number = $1",
                &[V::Text(registration.into()), V::Text(name.clone()), V::Text(telephone.as_str().into())],
            )
            .await
        }
        E::ReceptionOpened { reception } => {
            let user = user_by_number_conn(reborrow(conn), registration).await?;
            let (name, telephone) = user.map(|u| (u.name, u.telephone)).unwrap_or_default();
            run(
                reborrow(conn),
                "INSERT INTO site_receptions (reception_number, registration_number, order_id, telephone, name, partner, state, received_at, total_minor, currency) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9)",
                &[
                    V::Text(reception.number.to_string()),
                    V::Text(registration.into()),
                    V::Text(reception.order.to_string()),
                    V::Text(telephone),
                    V::Text(name),
                    V::Text(reception.partner.to_string()),
                    V::Text(reception.received_at.to_rfc3339()),
                    V::Int(reception.charge.total.minor),
                    V::Text(reception.charge.total.currency.to_string()),
                ],
            )
            .await
        }
        E::PartnerAmountsFilledIn { number, charge } => {
            run(reborrow(conn), "UPDATE site_receptions SET partner_total_minor = $2 WHERE reception_number = $1", &[V::Text(number.to_string()), V::Int(charge.total.minor)]).await
        }
        E::Collected { number, .. } => {
            run(reborrow(conn), "UPDATE site_receptions SET state = 'collected' WHERE reception_number = $1", &[V::Text(number.to_string())]).await
        }
        E::ReceptionAmended { number, charge, .. } => {
            run(reborrow(conn), "UPDATE site_receptions SET total_minor = $2 WHERE reception_number = $1", &[V::Text(number.to_string()), V::Int(charge.total.minor)]).await
        }
        E::OtherCounterRecorded { number, charge, .. } => {
            run(reborrow(conn), "UPDATE site_receptions SET total_minor = $2 WHERE reception_number = $1", &[V::Text(number.to_string()), V::Int(charge.total.minor)]).await
        }
        E::ReceptionCancelled { number, .. } => {
            run(reborrow(conn), "UPDATE site_receptions SET state = 'cancelled' WHERE reception_number = $1", &[V::Text(number.to_string())]).await
        }
    }
}

const USER_COLS: &str = "SELECT registration_number, name, telephone FROM site_user_files";
const RECEPTION_COLS: &str = "SELECT reception_number, registration_number, order_id, name, telephone, partner, state, received_at, total_minor, partner_total_minor, currency FROM site_receptions";

async fn user_by_number_conn(
    conn: Conn<'_>,
    number: &str,
) -> reprint_eventstore::Result<Option<UserRow>> {
    let q = format!("{USER_COLS} WHERE registration_number = $1");
    Ok(sql::fetch_optional(conn, &q, &[number.into()]).await?)
}

/// The file with this registration number.
pub async fn user_by_number(
    tx: &mut Transaction,
    number: &str,
) -> reprint_eventstore::Result<Option<UserRow>> {
    user_by_number_conn(tx.conn(), number).await
}

/// The file of this (normalised) name and telephone; of several (one person registered in
/// person, others from afar under the same name and telephone), the first registered.
pub async fn user_by_name_and_telephone(
    tx: &mut Transaction,
    name_key: &str,
    telephone: &str,
) -> reprint_eventstore::Result<Option<UserRow>> {
    let q = format!(
        "{USER_COLS} WHERE telephone = $1 AND name_key = $2 ORDER BY registration_number LIMIT 1"
    );
    Ok(sql::fetch_optional(tx.conn(), &q, &[telephone.into(), name_key.into()]).await?)
}

/// Files with this telephone number (one per name).
pub async fn users_by_telephone(
    tx: &mut Transaction,
    telephone: &str,
) -> reprint_eventstore::Result<Vec<UserRow>> {
    let q = format!("{USER_COLS} WHERE telephone = $1 ORDER BY registration_number");
    Ok(sql::fetch(tx.conn(), &q, &[telephone.into()]).await?)
}

pub async fn reception_by_number(
    tx: &mut Transaction,
    number: &str,
) -> reprint_eventstore::Result<Option<ReceptionRow>> {
    let q = format!("{RECEPTION_COLS} WHERE reception_number = $1");
    Ok(sql::fetch_optional(tx.conn(), &q, &[number.into()]).await?)
}

pub async fn reception_by_order(
    tx: &mut Transaction,
    order: &str,
) -> reprint_eventstore::Result<Option<ReceptionRow>> {
    let q = format!("{RECEPTION_COLS} WHERE order_id = $1");
    Ok(sql::fetch_optional(tx.conn(), &q, &[order.into()]).await?)
}

/// Receptions of files with this telephone number, newest first.
pub async fn receptions_by_telephone(
    tx: &mut Transaction,
    telephone: &str,
) -> reprint_eventstore::Result<Vec<ReceptionRow>> {
    let q = format!("{RECEPTION_COLS} WHERE telephone = $1 ORDER BY received_at DESC");
    Ok(sql::fetch(tx.conn(), &q, &[telephone.into()]).await?)
}

/// Receptions in a state (`open`, `collected`, `cancelled`), oldest first.
pub async fn receptions_by_state(
    tx: &mut Transaction,
    state: &str,
    limit: i64,
) -> reprint_eventstore::Result<Vec<ReceptionRow>> {
    let q = format!("{RECEPTION_COLS} WHERE state = $1 ORDER BY received_at LIMIT $2");
    Ok(sql::fetch(tx.conn(), &q, &[state.into(), limit.into()]).await?)
}
