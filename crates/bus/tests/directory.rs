//! The site directory on a real nats-server: announce, get, list, watch, heartbeat, stale.

use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use reprint_bus::connect::{ConnectSettings, Connection, connect_and_wait};
use reprint_bus::directory::{Directory, DirectoryChange, PriceLine, SiteAnnouncement};
use reprint_bus::subjects::{SiteId, SiteKind};
use reprint_testkit::NatsServer;

async fn conn(server: &NatsServer) -> Connection {
    connect_and_wait(
        &ConnectSettings::new(&server.url, "test-directory"),
        Duration::from_secs(10),
    )
    .await
    .expect("connect")
}

fn site(id: &str, kind: SiteKind) -> SiteAnnouncement {
    SiteAnnouncement {
        id: SiteId::parse(id).unwrap(),
        kind,
        name: format!("Site {id}"),
        address: "1-2-3 Ginza, Tokyo".into(),
        time_zone: "Asia/Tokyo".into(),
        currency: "JPY".into(),
        sizes: vec!["L".into(), "2L".into()],
        prices: vec![
            PriceLine {
                item: "basic".into(),
                amount_minor: 250,
            },
            PriceLine {
                item: "L".into(),
                amount_minor: 30,
            },
        ],
        policy_summary: "basic charge free within 7 days of the previous order".into(),
        icc_profiles: vec!["Frontier-Lustre".into()],
        last_heartbeat: Utc::now(),
        heartbeat_interval_secs: 10,
        version: "0.1.0".into(),
        opening_hours: vec![],
        health: None,
        printer: None,
        transport_hours: Default::default(),
    }
}

#[tokio::test]
async fn announce_get_list_and_open_twice() {
    let server = NatsServer::start();
    let c = conn(&server).await;
    let dir = Directory::open(&c.jetstream, 1).await.unwrap();
    let _again = Directory::open(&c.jetstream, 1).await.unwrap();

    let lab = site("lab-a", SiteKind::Lab);
    let counter = site("c-1", SiteKind::Counter);
    let stored = dir.announce(&lab).await.unwrap();
    dir.announce(&counter).await.unwrap();

    let got = dir.get(&lab.id).await.unwrap().unwrap();
    assert_eq!(got, stored);
    assert_eq!(got.site.prices, lab.prices);
    assert!(
        dir.get(&SiteId::parse("nobody").unwrap())
            .await
            .unwrap()
            .is_none()
    );

    let all = dir.list().await.unwrap();
    let ids: Vec<_> = all.iter().map(|e| e.site.id.as_str()).collect();
    assert_eq!(ids, vec!["c-1", "lab-a"]);

    dir.withdraw(&counter.id).await.unwrap();
    assert!(dir.get(&counter.id).await.unwrap().is_none());
    assert_eq!(dir.list().await.unwrap().len(), 1);
}

async fn next<S: futures::Stream + Unpin>(changes: &mut S) -> S::Item {
    tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .expect("a change within 5 s")
        .expect("stream open")
}

#[tokio::test]
async fn watch_sees_current_entries_then_changes() {
    let server = NatsServer::start();
    let c = conn(&server).await;
    let dir = Directory::open(&c.jetstream, 1).await.unwrap();
    dir.announce(&site("lab-a", SiteKind::Lab)).await.unwrap();

    let mut changes = Box::pin(dir.watch().await.unwrap());
    match next(&mut changes).await.unwrap() {
        DirectoryChange::Announced(e) => assert_eq!(e.site.id.as_str(), "lab-a"),
        other => panic!("{other:?}"),
    }
    dir.announce(&site("c-9", SiteKind::Counter)).await.unwrap();
    match next(&mut changes).await.unwrap() {
        DirectoryChange::Announced(e) => {
            assert_eq!(e.site.id.as_str(), "c-9");
            assert_eq!(e.site.kind, SiteKind::Counter);
        }
        other => panic!("{other:?}"),
    }
    dir.withdraw(&SiteId::parse("lab-a").unwrap())
        .await
        .unwrap();
    assert_eq!(
        next(&mut changes).await.unwrap(),
        DirectoryChange::Withdrawn("lab-a".into())
    );
}

#[tokio::test]
async fn heartbeat_keeps_the_entry_fresh_and_stale_is_judged_by_interval() {
    let server = NatsServer::start();
    let c = conn(&server).await;
    let dir = Directory::open(&c.jetstream, 1).await.unwrap();
    let mut ann = site("c-hb", SiteKind::Counter);
    ann.last_heartbeat = Utc::now() - chrono::Duration::hours(1);
    assert!(
        ann.is_stale(Utc::now()),
        "an hour-old heartbeat at 10 s is stale"
    );

    let hb = dir.start_heartbeat(ann.clone(), Duration::from_secs(1));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let first = loop {
        if let Some(e) = dir.get(&ann.id).await.unwrap() {
            break e;
        }
        assert!(std::time::Instant::now() < deadline, "announced at once");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(first.site.heartbeat_interval_secs, 1);
    assert!(!first.site.is_stale(Utc::now()));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let later = dir.get(&ann.id).await.unwrap().unwrap();
    assert!(later.revision > first.revision, "heartbeat wrote again");
    assert!(later.site.last_heartbeat > first.site.last_heartbeat);

    // An update goes out at once and later beats keep it.
    hb.update(|s| s.prices[1].amount_minor = 35).await.unwrap();
    assert_eq!(
        dir.get(&ann.id).await.unwrap().unwrap().site.prices[1].amount_minor,
        35
    );

    // Stopped: the entry stays but turns stale after 3 missed beats.
    hb.stop(false).await.unwrap();
    let last = dir.get(&ann.id).await.unwrap().unwrap();
    assert!(
        !last
            .site
            .is_stale(last.site.last_heartbeat + chrono::Duration::seconds(3))
    );
    assert!(
        last.site
            .is_stale(last.site.last_heartbeat + chrono::Duration::seconds(4))
    );
    assert_eq!(last.site.prices[1].amount_minor, 35);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        dir.get(&ann.id).await.unwrap().unwrap().revision,
        last.revision
    );
}
