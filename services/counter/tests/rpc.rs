//! The counter's request/reply servers (quote, catalog, locale) and its entry in the site
//! directory, on a real nats-server and SQLite.

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::*;
use reprint_bus::BusError;
use reprint_bus::directory::Directory;
use reprint_bus::subjects::{RpcMethod, SiteId as BusSite, SiteKind as BusKind};
use reprint_domain::charge::LineKind;
use reprint_domain::protocol::{CatalogReply, LocaleReply, QuoteReply};
use reprint_domain::{Currency, Money, SiteKind, SiteRules};
use reprint_testkit::NatsServer;
use serde_json::json;

fn yen(v: i64) -> Money {
    Money::new(v, Currency::JPY)
}

fn remote(e: BusError) -> (String, String) {
    match e {
        BusError::Remote { code, message } => (code, message),
        other => panic!("expected an error reply, got {other:?}"),
    }
}

#[tokio::test]
async fn quote_catalog_and_locale_answer_by_the_counters_own_rules() {
    let nats = NatsServer::start();
    let counter = spawn(&nats.url, None, "").await;
    let client = async_nats::connect(&nats.url).await.unwrap();

    // A new customer: the basic charge, nothing else (the counter prices no prints).
    let q: QuoteReply = counter_rpc(
        &client,
        RpcMethod::Quote,
        &quote_request("New Customer", "03-1111-2222", 2, Utc::now()),
    )
    .await
    .unwrap();
    assert_eq!(q.site.as_str(), "counter-ginza");
    assert_eq!(q.site_kind, SiteKind::Counter);
    assert_eq!(q.estimated_finish, None);
    assert_eq!(q.charge.total, yen(250), "{:?}", q.charge);
    assert_eq!(q.charge.lines.len(), 1, "{:?}", q.charge);
    assert_eq!(q.charge.lines[0].kind, LineKind::BasicCharge);

    // A walk-in order here, then a quote over the network for the same customer with the
    // registration number of their file here: basic charge waived, and the line says why
    // (Fig. 9). By name and telephone alone the quote tells nothing of the file (issue 13).
    let form = customer_fields(
        reqwest::multipart::Form::new(),
        "Returning Customer",
        "03-3333-4444",
    )
    .part("images", image_part("IMG_0001.JPG", jpeg(1)));
    let (s, slip) = counter.intake(form).await;
    assert_eq!(s, 201, "{slip}");
    let stranger: QuoteReply = counter_rpc(
        &client,
        RpcMethod::Quote,
        &quote_request("Returning Customer", "03-3333-4444", 1, Utc::now()),
    )
    .await
    .unwrap();
    assert_eq!(stranger.charge.total, yen(250), "{:?}", stranger.charge);
    assert!(
        stranger
            .charge
            .lines
            .iter()
            .all(|l| !l.description.contains("previous order")),
        "{:?}",
        stranger.charge
    );
    let registration = slip["registration_number"].as_str().expect("registration");
    let mut own = quote_request("Returning Customer", "03-3333-4444", 1, Utc::now());
    own["customer"]["registration_number"] = json!(registration);
    let q: QuoteReply = counter_rpc(&client, RpcMethod::Quote, &own).await.unwrap();
    assert_eq!(q.charge.total, yen(0), "{:?}", q.charge);
    let discount = q
        .charge
        .lines
        .iter()
        .find(|l| matches!(l.kind, LineKind::Discount { .. }))
        .expect("a discount line");
    assert_eq!(discount.amount, yen(-250));
    assert!(
        discount.description.contains("waived")
            && discount.description.contains("previous order here"),
        "{}",
        discount.description
    );
    // The quote recorded nothing: the same customer is still found once, with one reception.
    let (s, found) = counter.get("/api/v1/pickups/X0000001").await;
    assert_eq!(s, 200, "{found}");
    let (s, none) = counter.get("/api/v1/pickups/X0000002").await;
    assert_eq!(s, 404, "{none}");

    // Bad requests: each a clear error reply.
    let mut body = quote_request("A", "03-1111-2222", 1, Utc::now());
    body["items"][0]["size"] = json!("XL");
    let (code, message) = remote(
        counter_rpc::<QuoteReply>(&client, RpcMethod::Quote, &body)
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "unknown_size");
    assert!(
        message.contains("XL") && message.contains("2L"),
        "{message}"
    );

    let body = quote_request("A", "call me maybe", 1, Utc::now());
    let (code, message) = remote(
        counter_rpc::<QuoteReply>(&client, RpcMethod::Quote, &body)
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "bad_request");
    assert!(
        message.contains("telephone") && message.contains("call me maybe"),
        "{message}"
    );

    let body = quote_request("A", "03-1111-2222", 0, Utc::now());
    let (code, message) = remote(
        counter_rpc::<QuoteReply>(&client, RpcMethod::Quote, &body)
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "bad_request");
    // The one order check's words, as the gateway and the lab say them.
    assert_eq!(message, "an order needs at least one print");

    let (code, message) = remote(
        counter_rpc::<QuoteReply>(&client, RpcMethod::Quote, &json!({"hello": 1}))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "bad_request");
    assert!(message.contains("customer"), "{message}");

    // The catalog and the locale.
    let rules = SiteRules::demo_counter(reprint_domain::SiteId::parse("counter-ginza").unwrap());
    let c: CatalogReply = counter_rpc(&client, RpcMethod::Catalog, &json!({}))
        .await
        .unwrap();
    assert_eq!(c.site.as_str(), "counter-ginza");
    assert_eq!(c.site_kind, SiteKind::Counter);
    assert_eq!(c.name, "Ginza mini-lab");
    assert_eq!(c.basic_charge, yen(250));
    assert!(c.products.is_empty(), "{:?}", c.products);
    assert!(c.icc_profiles.is_empty());
    assert_eq!(c.policy_summary, rules.policy.summary());
    assert!(c.policy_summary.contains("free"), "{}", c.policy_summary);

    let l: LocaleReply = counter_rpc(&client, RpcMethod::Locale, &json!({}))
        .await
        .unwrap();
    assert_eq!(l.site.as_str(), "counter-ginza");
    assert_eq!(l.currency, Currency::JPY);
    assert_eq!(l.time_zone, "Asia/Tokyo");
    assert_eq!(l.language, "ja");
    assert!(l.sizes.is_empty(), "{:?}", l.sizes);
}

#[tokio::test]
async fn the_counter_is_in_the_directory_with_a_fresh_heartbeat_until_it_stops() {
    let nats = NatsServer::start();
    let counter = spawn_edited(&nats.url, None, "", |t| {
        t.replace("[nats]\n", "[nats]\nheartbeat_secs = 1\n")
    })
    .await;
    let client = async_nats::connect(&nats.url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let id = BusSite::parse("counter-ginza").unwrap();

    // The entry appears once the link is up.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (directory, first) = loop {
        if let Ok(d) = Directory::open(&js, 1).await
            && let Ok(Some(e)) = d.get(&id).await
        {
            break (d, e);
        }
        assert!(
            Instant::now() < deadline,
            "the counter never announced itself"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let site = &first.site;
    assert_eq!(site.kind, BusKind::Counter);
    assert_eq!(site.name, "Ginza mini-lab");
    assert_eq!(site.address, "1-2-3 Ginza");
    assert_eq!(site.time_zone, "Asia/Tokyo");
    assert_eq!(site.currency, "JPY");
    assert!(site.sizes.is_empty(), "{:?}", site.sizes);
    assert_eq!(site.prices.len(), 1, "{:?}", site.prices);
    assert_eq!(site.prices[0].item, "basic");
    assert_eq!(site.prices[0].amount_minor, 250);
    assert_eq!(
        site.policy_summary,
        counter.counter.rules().policy.summary()
    );
    assert_eq!(site.heartbeat_interval_secs, 1);
    assert!(!site.is_stale(Utc::now()));
    assert!(
        (Utc::now() - site.last_heartbeat).num_seconds() < 5,
        "fresh: {}",
        site.last_heartbeat
    );

    // It beats: a later entry, with a later heartbeat.
    let deadline = Instant::now() + Duration::from_secs(10);
    let later = loop {
        let e = directory.get(&id).await.unwrap().unwrap();
        if e.revision > first.revision {
            break e;
        }
        assert!(Instant::now() < deadline, "no second heartbeat");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(later.site.last_heartbeat > first.site.last_heartbeat);

    // On shutdown the heartbeat stops (the entry stays, to go stale) and the RPC subjects
    // have no responders.
    counter.trigger.trigger();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stopped = directory.get(&id).await.unwrap().expect("the entry stays");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let still = directory.get(&id).await.unwrap().unwrap();
    assert_eq!(still.revision, stopped.revision, "no beat after shutdown");
    let err = reprint_bus::request::request_json::<_, CatalogReply>(
        &async_nats::connect(&nats.url).await.unwrap(),
        &reprint_bus::subjects::rpc(&id, RpcMethod::Catalog),
        &json!({}),
        Duration::from_secs(2),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, BusError::NoResponders { .. }), "{err:?}");
}
