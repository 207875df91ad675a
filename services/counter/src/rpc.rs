//! What the counter answers any client at once on core NATS (`reprint.v1.rpc.<counter>.<method>`),
//! as a lab does: a **quote** of the counter's own charge by its own policy and its own file of
//! the customer (read only: nothing is recorded), its **catalog** (the basic charge, the
//! discount policy in words) and its **locale**; and its entry in the site directory.
//!
//! A quote is asked over the network (by the gateway, for a web user), with nobody in front of
//! staff: the customer's file is found by the registration number the request carries (the one
//! the gateway holds for the account at this counter) and by nothing else
//! (`reprint_site::Identification::of_quote`), so a name and telephone never tell whether or
//! when someone ordered here.
//!
//! A bad request (an unknown print size, a bad telephone number, no prints) is answered with an
//! [`RpcError`] whose message is written for the person who asked; only our own faults are
//! `internal`, with the details in the log.

use reprint_bus::directory::SiteAnnouncement;
use reprint_bus::request::RpcError;
use reprint_domain::protocol::{CatalogReply, LocaleReply, QuoteReply, QuoteRequest};
use reprint_domain::{DomainError, PrintSize, SiteKind};
use reprint_service::storefront::Storefront;
use reprint_site::Identification;

use crate::error::CounterError;
use crate::state::Counter;

fn known_sizes() -> String {
    PrintSize::ALL
        .iter()
        .map(|s| s.code())
        .collect::<Vec<_>>()
        .join(", ")
}

fn rpc_error(e: CounterError) -> RpcError {
    match e {
        CounterError::Domain(DomainError::UnknownSize { size }) => RpcError::new(
            "unknown_size",
            format!("this counter does not take size {size}"),
        ),
        CounterError::Domain(DomainError::EmptyOrder) => {
            RpcError::bad_request("the quote request names no prints (items is empty)")
        }
        CounterError::Domain(d) => RpcError::bad_request(d.to_string()),
        CounterError::Order(e) => RpcError::bad_request(e.to_string()),
        CounterError::Invalid(m) => RpcError::bad_request(m),
        other => {
            tracing::warn!(error = %other, "quote failed");
            RpcError::internal("the counter could not quote now; try again")
        }
    }
}

/// Reads a quote request from its JSON, telling an unknown print size apart from any other
/// unreadable body (a size is a closed set, so serde alone would only say "invalid value").
pub fn read_quote_request(body: serde_json::Value) -> Result<QuoteRequest, RpcError> {
    if let Some(items) = body.get("items").and_then(|i| i.as_array()) {
        for item in items {
            if let Some(size) = item.get("size").and_then(|s| s.as_str())
                && PrintSize::parse(size).is_err()
            {
                return Err(RpcError::new(
                    "unknown_size",
                    format!(
                        "size {size:?} is not a print size (one of {})",
                        known_sizes()
                    ),
                ));
            }
        }
    }
    serde_json::from_value(body)
        .map_err(|e| RpcError::bad_request(format!("unreadable quote request: {e}")))
}

/// The counter's charge for this customer and these prints now.
pub async fn quote(counter: &Counter, body: serde_json::Value) -> Result<QuoteReply, RpcError> {
    let req = read_quote_request(body)?;
    quote_inner(counter, req).await.map_err(rpc_error)
}

async fn quote_inner(counter: &Counter, mut req: QuoteRequest) -> Result<QuoteReply, CounterError> {
    // The one order check (customer, quantities, edits) in the words every door uses; the
    // sizes are the lab's to price, and this counter's own price list is asked below.
    reprint_domain::check_order(&req.customer, &req.items, &|_| true)?;
    // No evidence besides the file: intake and deliveries charge by the file alone, and a
    // quote must say what the counter will charge.
    for item in &mut req.items {
        item.history.clear();
    }
    // Read only: nothing is written, and the transaction is rolled back. From afar: by the
    // registration number only, as the delivery of the order will find the file.
    let mut tx = counter.store.begin().await?;
    let charge = counter
        .files
        .quote_as(&mut tx, &req, Identification::of_quote())
        .await?;
    tx.rollback().await?;
    Ok(QuoteReply {
        site: counter.rules().site.clone(),
        site_kind: SiteKind::Counter,
        charge,
        estimated_finish: None,
    })
}

/// The sizes the counter prices itself (none for a counter that charges the basic charge only:
/// its labs price the prints).
pub fn sizes(counter: &Counter) -> Vec<PrintSize> {
    counter.rules().prices.prints.keys().copied().collect()
}

/// The counter as the network sees it (`reprint_service::storefront`).
fn storefront(counter: &Counter) -> Storefront<'_> {
    Storefront {
        rules: counter.rules(),
        kind: SiteKind::Counter,
        name: &counter.config.name,
        address: &counter.config.address,
        sizes: sizes(counter),
        made: "made by a partner lab",
        // The digital copy on the media its writer burns (`crate::writer`), priced as prints.
        extras: counter
            .rules()
            .prices
            .media
            .iter()
            .map(|(m, price)| reprint_service::storefront::Extra {
                code: format!("digital-copy:{}", m.code()),
                description: format!(
                    "digital copy {}, written at the counter from the card: the originals with \
                     their print history",
                    m.words()
                ),
                price: *price,
            })
            .collect(),
        icc_profiles: vec![],
        heartbeat_secs: counter.config.nats.heartbeat_secs,
        opening_hours: counter.config.opening_hours.clone(),
    }
}

pub fn catalog(counter: &Counter) -> CatalogReply {
    storefront(counter).catalog()
}

pub fn locale(counter: &Counter) -> LocaleReply {
    storefront(counter).locale()
}

/// The counter's entry in the site directory.
pub fn announcement(counter: &Counter) -> Result<SiteAnnouncement, CounterError> {
    storefront(counter)
        .announcement(counter.clock.now())
        .map(|a| crate::own_printer::announce(counter, a))
        .map(|a| crate::elsewhere::announce(counter, a))
        .map_err(|e| CounterError::Config(format!("site id: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_size_is_named() {
        let body = serde_json::json!({
            "customer": {"name": "A", "telephone": "03-1234-5678", "address": null,
                         "email": null, "registration_number": null},
            "items": [{"size": "XL"}],
            "at": "2026-01-01T00:00:00Z",
        });
        let e = read_quote_request(body).unwrap_err();
        assert_eq!(e.code, "unknown_size");
        assert!(
            e.message.contains("\"XL\"") && e.message.contains("2L"),
            "{e}"
        );
    }

    #[test]
    fn other_bad_bodies_are_bad_requests() {
        let e = read_quote_request(serde_json::json!({"items": []})).unwrap_err();
        assert_eq!(e.code, "bad_request");
        assert!(e.message.contains("customer"), "{e}");
    }
}
