//! E-mail notices of an order's life (issue 14): when the lab has received the order (its
//! reception number and the slip's link), when the prints are ready for pickup (the counter,
//! its address, the amount due) and when the lab rejected or cancelled it; in the account's
//! language (its choice, else the site's `[web].locale`).
//!
//! Sent with `lettre`: to the SMTP server of `[mail].smtp_url`, else as `.eml` files into
//! `[mail].folder`.
//!
//! **Once per order and kind, across restarts.** The task reads the orders' stages (the read
//! model `gw_orders`, decoupled from the projection that writes it) and owes a notice to every
//! order whose stage reached `received` (or later, before pickup), `ready_for_pickup`,
//! `rejected` or `cancelled` (by a site, not by the person) with no row in `gw_notices` yet;
//! the row (primary key order and kind) is written first, so a status that arrives twice, or a
//! second scan, finds it and sends nothing. A row is taken by a lease (`next_ms` moved ahead
//! in one UPDATE) before sending and marked `sent` after: two gateways on one database never
//! send the same notice, and a notice whose sending failed is tried again with back-off up to
//! `[mail].max_attempts`. The one window left is a crash between the server's acceptance and
//! the `sent` mark: then the notice goes out again after the lease (at least once, never lost).
//! Orders that reached their stage more than `[mail].max_age_secs` ago get no notice.

use std::time::Duration;

use fluent_templates::fluent_bundle::FluentValue;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, SinglePart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use reprint_domain::Money;
use reprint_eventstore::sql::{Arg, exec};
use reprint_service::shutdown::Shutdown;
use reprint_ui::{Lang, t_with};
use serde_json::Value;

use crate::db;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// What a notice tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Received,
    Ready,
    Rejected,
    Cancelled,
}

impl Kind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Received => "received",
            Kind::Ready => "ready",
            Kind::Rejected => "rejected",
            Kind::Cancelled => "cancelled",
        }
    }

    pub fn parse(word: &str) -> Option<Kind> {
        [Kind::Received, Kind::Ready, Kind::Rejected, Kind::Cancelled]
            .into_iter()
            .find(|k| k.as_str() == word)
    }
}

/// The notice an order's stage calls for (`CASE` of the owed-notice query).
const KIND_OF_STAGE: &str = "CASE o.stage WHEN 'ready_for_pickup' THEN 'ready' \
     WHEN 'rejected' THEN 'rejected' WHEN 'cancelled' THEN 'cancelled' ELSE 'received' END";

/// Stages that call for a notice: after the lab's reception and before pickup, or an end.
const NOTICE_STAGES: &str =
    "'received', 'printing', 'printed', 'dispatched', 'ready_for_pickup', 'rejected', 'cancelled'";

/// Where notices go.
enum Outlet {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Folder(AsyncFileTransport<Tokio1Executor>),
}

impl Outlet {
    fn new(state: &AppState) -> anyhow::Result<Outlet> {
        let mail = &state.config.mail;
        match &mail.smtp_url {
            Some(url) => Ok(Outlet::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("[mail] smtp_url: {e}"))?
                    .timeout(Some(Duration::from_secs(20)))
                    .build(),
            )),
            None => {
                std::fs::create_dir_all(&mail.folder)
                    .map_err(|e| anyhow::anyhow!("[mail] folder {}: {e}", mail.folder.display()))?;
                Ok(Outlet::Folder(AsyncFileTransport::<Tokio1Executor>::new(
                    &mail.folder,
                )))
            }
        }
    }

    async fn send(&self, message: Message) -> Result<(), String> {
        match self {
            Outlet::Smtp(t) => t.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
            Outlet::Folder(t) => t.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
        }
    }
}

/// Sends the notices owed, until shutdown: at every order update the gateway announces and at
/// least every `[mail].interval_ms`. A store or mail fault is logged and tried again later.
pub async fn run(state: AppState, shutdown: Shutdown) {
    if !state.config.mail.enabled {
        return;
    }
    let outlet = match Outlet::new(&state) {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "e-mail notices are off");
            return;
        }
    };
    match &state.config.mail.smtp_url {
        Some(_) => tracing::info!("e-mail notices go to the SMTP server of [mail] smtp_url"),
        None => tracing::info!(
            folder = %state.config.mail.folder.display(),
            "e-mail notices are written as .eml files"
        ),
    }
    let mut updates = state.updates.subscribe();
    let every = Duration::from_millis(state.config.mail.interval_ms.max(100));
    loop {
        if let Err(e) = pass(&state, &outlet).await {
            tracing::warn!(error = %e, "e-mail notices: will try again");
        }
        tokio::select! {
            _ = shutdown.clone().wait() => return,
            _ = tokio::time::sleep(every) => {}
            _ = updates.recv() => {
                // A little later, so one burst of updates is one pass.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// One pass: writes a row for every notice owed, then sends those due.
async fn pass(state: &AppState, outlet: &Outlet) -> AppResult<()> {
    owe(state).await?;
    let now = state.now_ms();
    let due: Vec<(String, String)> = db::fetch(
        &state.store,
        "SELECT order_id, kind FROM gw_notices WHERE state = 'pending' AND next_ms <= $1
         ORDER BY next_ms LIMIT 50",
        &[Arg::Int(now)],
    )
    .await?;
    for (order, kind) in due {
        let Some(kind) = Kind::parse(&kind) else {
            continue;
        };
        if !take(state, &order, kind).await? {
            continue; // another gateway has it
        }
        let outcome = match compose(state, &order, kind).await {
            Ok(Some(message)) => outlet.send(message).await,
            Ok(None) => {
                finish(state, &order, kind, "skipped", None).await?;
                continue;
            }
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(()) => {
                tracing::info!(order = %order, kind = kind.as_str(), "e-mail notice sent");
                finish(state, &order, kind, "sent", None).await?;
            }
            Err(e) => failed(state, &order, kind, &e).await?,
        }
    }
    Ok(())
}

async fn write(state: &AppState, query: &str, args: &[Arg]) -> AppResult<u64> {
    let mut tx = state.store.begin().await?;
    let n = exec(tx.conn(), query, args).await?;
    tx.commit().await?;
    Ok(n)
}

/// Writes a `pending` row for every order owed a notice (none for an order that already has
/// the row of its stage's kind).
async fn owe(state: &AppState) -> AppResult<u64> {
    let now = state.now_ms();
    let since = now - state.config.mail.max_age_secs.max(0) * 1000;
    let query = format!(
        "INSERT INTO gw_notices (order_id, kind, account, state, attempts, next_ms, created_ms)
         SELECT o.id, {KIND_OF_STAGE}, o.account, 'pending', 0, $1, $1 FROM gw_orders o
         WHERE o.stage IN ({NOTICE_STAGES}) AND o.updated_ms > $2
         AND NOT EXISTS (SELECT 1 FROM gw_notices n WHERE n.order_id = o.id AND n.kind = {KIND_OF_STAGE})
         ON CONFLICT (order_id, kind) DO NOTHING"
    );
    write(state, &query, &[Arg::Int(now), Arg::Int(since)]).await
}

/// Takes the notice for a minute (its lease); false when another sender holds it.
async fn take(state: &AppState, order: &str, kind: Kind) -> AppResult<bool> {
    let now = state.now_ms();
    let n = write(
        state,
        "UPDATE gw_notices SET next_ms = $3, attempts = attempts + 1
         WHERE order_id = $1 AND kind = $2 AND state = 'pending' AND next_ms <= $4",
        &[
            Arg::Text(order.to_string()),
            Arg::Text(kind.as_str().to_string()),
            Arg::Int(now + 60_000),
            Arg::Int(now),
        ],
    )
    .await?;
    Ok(n == 1)
}

async fn finish(
    state: &AppState,
    order: &str,
    kind: Kind,
    outcome: &str,
    error: Option<&str>,
) -> AppResult<()> {
    write(
        state,
        "UPDATE gw_notices SET state = $3, sent_ms = $4, error = $5 WHERE order_id = $1 AND kind = $2",
        &[
            Arg::Text(order.to_string()),
            Arg::Text(kind.as_str().to_string()),
            Arg::Text(outcome.to_string()),
            Arg::Int(state.now_ms()),
            Arg::from(error),
        ],
    )
    .await?;
    Ok(())
}

/// A failed attempt: tried again after 5 s, 10 s, 20 s ... (at most 10 minutes), given up
/// after `[mail].max_attempts`.
async fn failed(state: &AppState, order: &str, kind: Kind, error: &str) -> AppResult<()> {
    let attempts: i64 = db::fetch_one::<(i64,)>(
        &state.store,
        "SELECT attempts FROM gw_notices WHERE order_id = $1 AND kind = $2",
        &[
            Arg::Text(order.to_string()),
            Arg::Text(kind.as_str().to_string()),
        ],
    )
    .await?
    .map_or(1, |(a,)| a);
    if attempts >= state.config.mail.max_attempts {
        tracing::error!(order = %order, kind = kind.as_str(), attempts, error, "e-mail notice given up");
        return finish(state, order, kind, "failed", Some(error)).await;
    }
    let wait = (5_000i64 << attempts.clamp(0, 7)).min(600_000);
    tracing::warn!(order = %order, kind = kind.as_str(), attempts, error, "e-mail notice not sent; trying again");
    write(
        state,
        "UPDATE gw_notices SET next_ms = $3, error = $4 WHERE order_id = $1 AND kind = $2",
        &[
            Arg::Text(order.to_string()),
            Arg::Text(kind.as_str().to_string()),
            Arg::Int(state.now_ms() + wait),
            Arg::Text(error.to_string()),
        ],
    )
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    account: String,
    lab: Option<String>,
    counter: Option<String>,
    slip_json: Option<String>,
    charge_json: Option<String>,
    detail: Option<String>,
}

/// The e-mail of `kind` for `order`, or `None` when none is owed after all (a cancellation
/// the person made themselves).
async fn compose(state: &AppState, order: &str, kind: Kind) -> AppResult<Option<Message>> {
    let o: OrderRow = db::fetch_one(
        &state.store,
        "SELECT account, lab, counter, slip_json, charge_json, detail FROM gw_orders WHERE id = $1",
        &[Arg::Text(order.to_string())],
    )
    .await?
    .ok_or_else(|| AppError::NotFound(format!("order {order}")))?;
    if kind == Kind::Cancelled {
        // The person's own cancellation (a timeline entry of the gateway; the lab's echo of it
        // follows) needs no e-mail: they know.
        let own: Option<(i64,)> = db::fetch_one(
            &state.store,
            "SELECT position FROM gw_timeline WHERE order_id = $1 AND stage = 'cancelled'
             AND site IN ('gateway', $2) LIMIT 1",
            &[
                Arg::Text(order.to_string()),
                Arg::Text(state.config.gateway_id.clone()),
            ],
        )
        .await?;
        if own.is_some() {
            return Ok(None);
        }
    }
    let (email, name): (String, String) = db::fetch_one(
        &state.store,
        "SELECT email, name FROM gw_accounts WHERE id = $1",
        &[Arg::Text(o.account.clone())],
    )
    .await?
    .ok_or_else(|| AppError::NotFound(format!("account of order {order}")))?;
    let lang = crate::auth::account_language(state, &o.account)
        .await?
        .or_else(|| Lang::from_tag(&state.config.web.locale))
        .unwrap_or(Lang::Ja);
    let sites = crate::api::list_sites(state).await.unwrap_or_default();
    let site_name = |id: &Option<String>| -> (String, String) {
        let id = id.clone().unwrap_or_default();
        match sites.iter().find(|s| s.id == id) {
            Some(s) => (s.name.clone(), s.address.clone()),
            None => (id, String::new()),
        }
    };
    let (lab, _) = site_name(&o.lab);
    let (counter, counter_address) = site_name(&o.counter);
    let slip: Value = o
        .slip_json
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null);
    let reception = slip
        .pointer("/reception/number")
        .and_then(Value::as_str)
        .unwrap_or("-")
        .to_string();
    let ready_by = slip
        .pointer("/reception/estimated_finish")
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| {
            reprint_ui::local_time(
                lang,
                state.config.web.time_zone,
                t.with_timezone(&chrono::Utc),
            )
        });
    let due: Option<Money> = o
        .charge_json
        .as_deref()
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
        .and_then(|c| serde_json::from_value(c.get("total")?.clone()).ok());
    let base = public_base(state);
    let link = |path: String| format!("{base}{path}");
    let w = |key: &str, args: &[(&'static str, String)]| {
        let args: Vec<(&'static str, FluentValue<'static>)> = args
            .iter()
            .map(|(k, v)| (*k, FluentValue::from(v.clone())))
            .collect();
        t_with(lang, key, &args)
    };
    let reason = o.detail.clone().unwrap_or_default();
    let mut lines = vec![
        w("notice-greeting", &[("name", name.clone())]),
        String::new(),
    ];
    let subject = match kind {
        Kind::Received => {
            lines.push(w(
                "notice-received-lead",
                &[("lab", lab.clone()), ("reception", reception.clone())],
            ));
            if let Some(when) = &ready_by {
                lines.push(w(
                    "notice-ready-by",
                    &[("when", when.clone()), ("counter", counter.clone())],
                ));
            }
            lines.push(String::new());
            lines.push(w(
                "notice-slip",
                &[("link", link(format!("/orders/{order}/slip")))],
            ));
            w(
                "notice-received-subject",
                &[("reception", reception.clone())],
            )
        }
        Kind::Ready => {
            lines.push(w("notice-ready-lead", &[]));
            lines.push(String::new());
            lines.push(w("notice-counter", &[("counter", counter.clone())]));
            if !counter_address.is_empty() {
                lines.push(w(
                    "notice-counter-address",
                    &[("address", counter_address.clone())],
                ));
            }
            if let Some(m) = due {
                lines.push(w(
                    "notice-amount-due",
                    &[("amount", reprint_ui::money(lang, m))],
                ));
            }
            lines.push(w("notice-reception", &[("reception", reception.clone())]));
            lines.push(w(
                "notice-slip",
                &[("link", link(format!("/orders/{order}/slip")))],
            ));
            w("notice-ready-subject", &[("counter", counter.clone())])
        }
        Kind::Rejected => {
            lines.push(w(
                "notice-rejected-lead",
                &[("lab", lab.clone()), ("reason", reason.clone())],
            ));
            lines.push(w("notice-nothing-due", &[]));
            w("notice-rejected-subject", &[])
        }
        Kind::Cancelled => {
            let by = if o.counter.is_some() && reason.contains(&counter) {
                counter.clone()
            } else {
                lab.clone()
            };
            lines.push(w(
                "notice-cancelled-lead",
                &[("site", by), ("reason", reason.clone())],
            ));
            lines.push(w("notice-nothing-due", &[]));
            w("notice-cancelled-subject", &[])
        }
    };
    lines.push(w(
        "notice-order",
        &[("link", link(format!("/orders/{order}")))],
    ));
    lines.push(String::new());
    lines.push("-- ".into());
    lines.push(w("notice-footer", &[("link", link("/account".into()))]));
    let body = lines.join("\r\n") + "\r\n";

    let from: Mailbox = state
        .config
        .mail
        .from
        .parse()
        .map_err(|e| AppError::internal(format!("[mail] from: {e}")))?;
    let to = Mailbox::new(
        Some(name),
        email
            .parse()
            .map_err(|e| AppError::internal(format!("the account's e-mail address: {e}")))?,
    );
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .message_id(Some(format!(
            "<{order}.{}@{}>",
            kind.as_str(),
            state.config.gateway_id
        )))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Content-Language"),
            lang.tag().to_string(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Reprint-Order"),
            order.to_string(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Reprint-Notice"),
            kind.as_str().to_string(),
        ))
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .header(ContentTransferEncoding::Base64)
                .body(body),
        )
        .map_err(AppError::internal)?;
    Ok(Some(message))
}

/// Where the links of the e-mails start: `[http].public_url`, else the gateway's address.
fn public_base(state: &AppState) -> String {
    match &state.config.http.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => format!("http://{}", state.config.http_address()),
    }
}
