//! The inline projection: keeps the lookup tables of [`crate::db`] in step with the gateway's
//! streams, in the same transaction as the append (a request sees its own command at once).

use futures::future::BoxFuture;
use reprint_eventstore::sql::{Arg, exec, fetch_optional};
use reprint_eventstore::{Conn, Projection, RecordedEvent};

use reprint_domain::protocol::Stage;
use reprint_domain::web_order::{ENDS, WebStage};

use crate::events::{AccountEvent, ImageEvent, OrderEvent};
use crate::orders::StoredOrderEvent;

pub struct Lookups;

/// [`WebStage::rank`] in SQL, of the column `stage` (an unknown word ranks as a draft), written
/// from the domain's typed stages.
pub fn stage_rank_sql() -> String {
    let whens: String = WebStage::ALL
        .iter()
        .map(|s| format!("WHEN '{}' THEN {} ", s.as_str(), s.rank()))
        .collect();
    format!("CASE stage {whens}ELSE 0 END")
}

/// A status moves an order's stage only forward: [`WebStage::moves_to`] in SQL (`$2` the
/// status's stage, `$6` its rank), so the projection agrees with the decider's state.
static STAGE_CHANGED_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let ends = ENDS
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let rank = stage_rank_sql();
    let moves = format!("(stage = $2 OR (stage NOT IN ({ends}) AND {rank} <= $6))");
    format!(
        "UPDATE gw_orders SET stage = CASE WHEN {moves} THEN $2 ELSE stage END,
         detail = CASE WHEN {moves} THEN $3 ELSE detail END,
         charge_json = COALESCE($4, charge_json), updated_ms = $5 WHERE id = $1"
    )
});

fn word(stage: WebStage) -> Arg {
    Arg::Text(stage.as_str().to_string())
}

fn reborrow<'b>(c: &'b mut Conn<'_>) -> Conn<'b> {
    match c {
        Conn::Postgres(p) => Conn::Postgres(p),
        Conn::Sqlite(s) => Conn::Sqlite(s),
    }
}

fn codec_err(e: reprint_eventstore::CodecError) -> reprint_eventstore::Error {
    reprint_eventstore::Error::from(e)
}

impl Projection for Lookups {
    fn name(&self) -> &'static str {
        "gateway-lookups"
    }

    fn apply<'a>(
        &'a self,
        mut conn: Conn<'a>,
        events: &'a [RecordedEvent],
    ) -> BoxFuture<'a, reprint_eventstore::Result<()>> {
        Box::pin(async move {
            for e in events {
                if let Some(account) = e.stream_id.strip_prefix("gw-account-") {
                    let ev: AccountEvent = e.decode().map_err(codec_err)?;
                    account_event(reborrow(&mut conn), account, &ev).await?;
                } else if e.stream_id.starts_with("gw-image-") {
                    let ev: ImageEvent = e.decode().map_err(codec_err)?;
                    image_event(reborrow(&mut conn), &ev).await?;
                } else if let Some(order) = e.stream_id.strip_prefix("gw-order-") {
                    let ev = e.decode::<StoredOrderEvent>().map_err(codec_err)?.0;
                    order_event(&mut conn, order, e.position, &ev).await?;
                }
            }
            Ok(())
        })
    }
}

async fn account_event(
    conn: Conn<'_>,
    account: &str,
    ev: &AccountEvent,
) -> reprint_eventstore::Result<()> {
    match ev {
        AccountEvent::SignedUp {
            account: _,
            email,
            name,
            telephone,
            address,
            password_hash,
            role,
            at_ms,
        } => {
            exec(
                conn,
                "INSERT INTO gw_accounts (id, email, name, telephone, address, password_hash, role, created_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    Arg::Text(account.to_string()),
                    Arg::Text(email.clone()),
                    Arg::Text(name.clone()),
                    Arg::Text(telephone.clone()),
                    Arg::from(address.clone()),
                    Arg::Text(password_hash.clone()),
                    Arg::Text(role.clone()),
                    Arg::Int(*at_ms),
                ],
            )
            .await?;
        }
        AccountEvent::RegistrationRecorded { site, number, .. } => {
            exec(
                conn,
                "INSERT INTO gw_registrations (account, site, number) VALUES ($1, $2, $3)
                 ON CONFLICT (account, site) DO UPDATE SET number = excluded.number",
                &[
                    Arg::Text(account.to_string()),
                    Arg::Text(site.clone()),
                    Arg::Text(number.clone()),
                ],
            )
            .await?;
        }
    }
    Ok(())
}

/// Adds `bytes` (negative: takes them) to the gateway's stored total (`gw_stored_bytes`).
async fn count_stored(conn: Conn<'_>, account: &str, bytes: i64) -> reprint_eventstore::Result<()> {
    exec(
        conn,
        "UPDATE gw_stored_bytes SET bytes = bytes + $2 WHERE shard = $1",
        &[
            Arg::Int(crate::db::stored_bytes_shard(account)),
            Arg::Int(bytes),
        ],
    )
    .await?;
    Ok(())
}

async fn image_event(mut conn: Conn<'_>, ev: &ImageEvent) -> reprint_eventstore::Result<()> {
    if let ImageEvent::Deleted { account, image, .. } = ev {
        let args = [Arg::Text(account.clone()), Arg::Text(image.clone())];
        let gone: Option<(i64,)> = fetch_optional(
            reborrow(&mut conn),
            "DELETE FROM gw_images WHERE account = $1 AND image = $2 RETURNING bytes",
            &args,
        )
        .await?;
        if let Some((bytes,)) = gone {
            count_stored(conn, account, -bytes).await?;
        }
        return Ok(());
    }
    let ImageEvent::Uploaded {
        account,
        image,
        name,
        bytes,
        width,
        height,
        format,
        phash,
        at_ms,
        ..
    } = ev
    else {
        return Ok(());
    };
    let bytes = i64::try_from(*bytes).unwrap_or(i64::MAX);
    let added = exec(
        reborrow(&mut conn),
        "INSERT INTO gw_images (account, image, name, bytes, width, height, format, phash, created_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (account, image) DO NOTHING",
        &[
            Arg::Text(account.clone()),
            Arg::Text(image.clone()),
            Arg::Text(name.clone()),
            Arg::Int(bytes),
            Arg::Int(i64::from(*width)),
            Arg::Int(i64::from(*height)),
            Arg::Text(format.clone()),
            Arg::from(phash.clone()),
            Arg::Int(*at_ms),
        ],
    )
    .await?;
    if added == 1 {
        count_stored(conn, account, bytes).await?;
    }
    Ok(())
}

fn big(n: u64) -> Arg {
    Arg::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

async fn order_event(
    conn: &mut Conn<'_>,
    order: &str,
    position: i64,
    ev: &OrderEvent,
) -> reprint_eventstore::Result<()> {
    let id = Arg::Text(order.to_string());
    match ev {
        OrderEvent::Requested { account, at_ms } => {
            exec(
                reborrow(conn),
                "INSERT INTO gw_orders (id, account, created_ms, stage, updated_ms) VALUES ($1, $2, $3, $4, $3)",
                &[
                    id,
                    Arg::Text(account.clone()),
                    Arg::Int(*at_ms),
                    word(WebStage::Draft),
                ],
            )
            .await?;
        }
        OrderEvent::StorageReserved {
            bytes,
            expires_ms,
            at_ms,
        } => {
            exec(
                reborrow(conn),
                "UPDATE gw_orders SET reserved = $2, expires_ms = $3, updated_ms = $4 WHERE id = $1",
                &[id, big(*bytes), Arg::Int(*expires_ms), Arg::Int(*at_ms)],
            )
            .await?;
        }
        OrderEvent::ImageAttached {
            image,
            name,
            bytes,
            at_ms,
        } => {
            exec(
                reborrow(conn),
                "UPDATE gw_orders SET used = used + $2, updated_ms = $3 WHERE id = $1",
                &[id.clone(), big(*bytes), Arg::Int(*at_ms)],
            )
            .await?;
            exec(
                reborrow(conn),
                "INSERT INTO gw_order_images (order_id, image, name, bytes) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (order_id, image) DO NOTHING",
                &[
                    id,
                    Arg::Text(image.clone()),
                    Arg::Text(name.clone()),
                    big(*bytes),
                ],
            )
            .await?;
        }
        OrderEvent::Submitted {
            lab,
            counter,
            items,
            idempotency_key,
            reorder_of,
            at_ms,
        } => {
            let items_json = serde_json::to_string(items).unwrap_or_else(|_| "[]".into());
            exec(
                reborrow(conn),
                "UPDATE gw_orders SET stage = $8, lab = $2, counter = $3, submitted_ms = $4,
                 idem_key = $5, items_json = $6, reorder_of = $7, updated_ms = $4 WHERE id = $1",
                &[
                    id.clone(),
                    Arg::Text(lab.clone()),
                    Arg::Text(counter.clone()),
                    Arg::Int(*at_ms),
                    Arg::Text(idempotency_key.clone()),
                    Arg::Text(items_json),
                    Arg::from(reorder_of.clone()),
                    word(WebStage::At(Stage::Placed)),
                ],
            )
            .await?;
            timeline(
                conn,
                order,
                position,
                Stage::Placed.as_str(),
                "gateway",
                "order placed",
                *at_ms,
            )
            .await?;
        }
        OrderEvent::StageChanged {
            stage,
            site,
            detail,
            charge_json,
            at_ms,
        } => {
            // The stage moves only forward (`WebStage::moves_to`, the same rule in SQL);
            // its detail goes with it. The timeline keeps every status as it came.
            exec(
                reborrow(conn),
                &STAGE_CHANGED_SQL,
                &[
                    id,
                    word(WebStage::At(*stage)),
                    Arg::Text(detail.clone()),
                    Arg::from(charge_json.clone()),
                    Arg::Int(*at_ms),
                    Arg::Int(WebStage::At(*stage).rank()),
                ],
            )
            .await?;
            // The lab's charge changed before the prints left (it left an image out): the
            // slip shows the reception as the lab's file now has it.
            if let Some(charge) = charge_json.as_deref().filter(|_| is_labs_charge(*stage)) {
                amend_slip(conn, order, charge).await?;
            }
            timeline(conn, order, position, stage.as_str(), site, detail, *at_ms).await?;
        }
        OrderEvent::SlipRecorded {
            extract_json,
            at_ms,
            ..
        } => {
            // Statuses and the slip travel apart: a charge the lab amended before its slip came
            // here (the order still at the lab, so `charge_json` is the lab's) is the slip's.
            let row: Option<(Option<String>, String)> = fetch_optional(
                reborrow(conn),
                "SELECT charge_json, stage FROM gw_orders WHERE id = $1",
                std::slice::from_ref(&id),
            )
            .await?;
            let slip = match row {
                Some((Some(charge), stage))
                    if WebStage::parse(&stage)
                        .is_some_and(|s| matches!(s, WebStage::At(s) if is_labs_charge(s))) =>
                {
                    with_charge(extract_json, &charge).unwrap_or_else(|| extract_json.clone())
                }
                _ => extract_json.clone(),
            };
            exec(
                reborrow(conn),
                "UPDATE gw_orders SET slip_json = $2, updated_ms = $3 WHERE id = $1",
                &[id, Arg::Text(slip), Arg::Int(*at_ms)],
            )
            .await?;
        }
        // Read from the order's own events (`WebOrder::submitted`), not from a row.
        OrderEvent::DigitalCopyOrdered { .. } | OrderEvent::SourceProfilesGiven { .. } => {}
        OrderEvent::Cancelled { reason, at_ms } => {
            exec(
                reborrow(conn),
                "UPDATE gw_orders SET stage = $4, detail = $2, updated_ms = $3 WHERE id = $1",
                &[
                    id,
                    Arg::Text(reason.clone()),
                    Arg::Int(*at_ms),
                    word(WebStage::At(Stage::Cancelled)),
                ],
            )
            .await?;
            timeline(
                conn,
                order,
                position,
                Stage::Cancelled.as_str(),
                "gateway",
                reason,
                *at_ms,
            )
            .await?;
        }
    }
    Ok(())
}

/// Whether a status at `stage` that carries a charge carries the lab's (the order is at the
/// lab, or just left it); from `ready_for_pickup` on it is the counter's amount due.
fn is_labs_charge(stage: Stage) -> bool {
    matches!(
        stage,
        Stage::Received | Stage::Printing | Stage::Printed | Stage::Dispatched
    )
}

/// The slip (the lab's file extract) with its reception's charge replaced by `charge`; `None`
/// when either is not JSON of that shape (the slip is kept as it came).
fn with_charge(slip_json: &str, charge_json: &str) -> Option<String> {
    let mut slip: serde_json::Value = serde_json::from_str(slip_json).ok()?;
    let charge: serde_json::Value = serde_json::from_str(charge_json).ok()?;
    if !charge
        .get("total")
        .is_some_and(serde_json::Value::is_object)
    {
        return None;
    }
    *slip.pointer_mut("/reception/charge")? = charge;
    serde_json::to_string(&slip).ok()
}

/// Replaces the charge on the order's slip, if it has one yet.
async fn amend_slip(
    conn: &mut Conn<'_>,
    order: &str,
    charge: &str,
) -> reprint_eventstore::Result<()> {
    let row: Option<(Option<String>,)> = fetch_optional(
        reborrow(conn),
        "SELECT slip_json FROM gw_orders WHERE id = $1",
        &[Arg::Text(order.to_string())],
    )
    .await?;
    let Some(slip) = row.and_then(|(s,)| s).and_then(|s| with_charge(&s, charge)) else {
        return Ok(());
    };
    exec(
        reborrow(conn),
        "UPDATE gw_orders SET slip_json = $2 WHERE id = $1",
        &[Arg::Text(order.to_string()), Arg::Text(slip)],
    )
    .await?;
    Ok(())
}

async fn timeline(
    conn: &mut Conn<'_>,
    order: &str,
    position: i64,
    stage: &str,
    site: &str,
    detail: &str,
    at_ms: i64,
) -> reprint_eventstore::Result<()> {
    exec(
        reborrow(conn),
        "INSERT INTO gw_timeline (order_id, position, stage, site, detail, at_ms) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (order_id, position) DO NOTHING",
        &[
            Arg::Text(order.to_string()),
            Arg::Int(position),
            Arg::Text(stage.to_string()),
            Arg::Text(site.to_string()),
            Arg::Text(detail.to_string()),
            Arg::Int(at_ms),
        ],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_rank_is_the_deciders_rank_as_the_table_always_had_it() {
        // The CASE the projection wrote before the stages were typed: the same ranks.
        let before = "CASE stage WHEN 'draft' THEN 0 WHEN 'placed' THEN 1 \
             WHEN 'received' THEN 2 WHEN 'printing' THEN 3 WHEN 'printed' THEN 4 WHEN 'dispatched' THEN 5 \
             WHEN 'ready_for_pickup' THEN 6 WHEN 'collected' THEN 7 WHEN 'settled' THEN 8 \
             WHEN 'rejected' THEN 9 WHEN 'cancelled' THEN 9 ELSE 0 END";
        assert_eq!(stage_rank_sql(), before);
        for s in WebStage::ALL {
            assert!(stage_rank_sql().contains(&format!("WHEN '{s}' THEN {} ", s.rank())));
        }
        assert!(STAGE_CHANGED_SQL.contains("stage NOT IN ('rejected', 'cancelled')"));
    }
}
