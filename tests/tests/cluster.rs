//! Fig. 1 with NATS as a 3-node cluster and replicated streams (the lab, the counter and the
//! gateway with `nats.replicas = 3`); one node is killed mid-flow and the order still goes
//! through, once. The three nodes run the shipped `deploy/nats/cluster-node*.conf` (ports and
//! store substituted) with the shipped users.conf: every service and test client logs in as its
//! own NATS user.

use std::time::{Duration, Instant};

use reprint_e2e::cluster::NatsCluster;
use reprint_e2e::flows::{
    collect_in_cash, counter_wait_ready, lab_print_and_dispatch, ledger, place_internet_order,
    wait_for_slip, wait_for_stage,
};
use reprint_e2e::media::photo_jpeg;
use reprint_e2e::nats_users;
use reprint_e2e::{Network, Options, stage_counts, step, wait_for};
use serde_json::json;

async fn clustered_network(cluster: &NatsCluster) -> Network {
    Network::start_with(Options {
        nats_url: Some(cluster.url()),
        replicas: Some(3),
        env: nats_users::service_env(),
        ..Options::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fig1_on_a_three_node_cluster_survives_a_node_killed_mid_flow() {
    let t0 = Instant::now();
    let mut cluster = NatsCluster::start().await;
    step(t0, "3-node cluster up");
    let net = clustered_network(&cluster).await;
    step(t0, "network up");
    // Every stream and bucket replicated on all three nodes.
    let mut streams = Vec::new();
    for i in 0..3 {
        streams.extend(cluster.stream_replicas(i).await);
    }
    streams.sort();
    streams.dedup();
    eprintln!("streams (name, replicas): {streams:?}");
    let single: Vec<_> = streams.iter().filter(|(_, r)| *r < 3).collect();
    assert!(
        single.is_empty(),
        "streams with fewer than 3 replicas: {single:?}"
    );
    let op = net.lab_operator().await;
    let staff = net.counter_staff().await;
    let user = net
        .home_user("hanako@example.jp", "Hanako Yamada", "03-1234-5678")
        .await;

    let placed = place_internet_order(
        &user,
        &[("beach.jpg", photo_jpeg(1, 1600, 1200, 90))],
        2,
        true,
    )
    .await;
    let view = wait_for_slip(&user, &placed.order, 30).await;
    let lab_number = view["slip"]["reception"]["number"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(lab_number, "B0000001");
    let lab_total = view["slip"]["reception"]["charge"]["total"]["minor"]
        .as_i64()
        .unwrap();
    step(t0, "lab reception on the slip");

    // A node dies mid-flow. The waits below allow for the elections that follow on a loaded
    // 2-core machine (streams and consumers led from the lost node elect new leaders, JetStream
    // its meta leader): they take seconds, and more under load.
    cluster.kill(0);
    step(t0, "node n1 killed (SIGKILL)");

    lab_print_and_dispatch(&op, &lab_number).await;
    let pickup = counter_wait_ready(&staff, &lab_number, 90).await;
    assert_eq!(pickup["amount_due"], lab_total + 250, "{pickup}");
    step(t0, "ready at the counter");
    let number = pickup["order"]["reception_number"].as_str().unwrap();
    collect_in_cash(&staff, number, lab_total + 250).await;
    wait_for_stage(&user, &placed.order, "collected", 90).await;
    // The lab's statuses and the counter's reach the gateway each from its own outbox: after a
    // stream's leader change the lab's relay may still be retrying (printing, printed,
    // dispatched) when the counter's "collected" is in. Wait for the whole timeline, then
    // count: each stage once, however late.
    let path = format!("/api/v1/orders/{}", placed.order);
    let whole = [
        "received",
        "printing",
        "printed",
        "dispatched",
        "ready_for_pickup",
        "collected",
    ];
    let order = wait_for("the order's whole timeline at the gateway", 90, || async {
        let (_, v) = user.get(&path).await;
        let counts = stage_counts(&v);
        let complete = whole.iter().all(|s| counts.contains_key(*s));
        (complete.then(|| v.clone()), json!({ "stages": counts }))
    })
    .await;
    let counts = stage_counts(&order);
    // "received" is on the gateway's timeline twice by design, from two messages: the lab's
    // slip (ReceptionRecorded, to the gateway's inbox) and the lab's StatusChanged(received)
    // (the status stream); a redelivery with an effect would make it three.
    let received: Vec<&serde_json::Value> = order["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["stage"] == "received")
        .collect();
    assert_eq!(
        received.len(),
        2,
        "received once from the slip and once from the status: {received:?}"
    );
    for stage in [
        "printing",
        "printed",
        "dispatched",
        "ready_for_pickup",
        "collected",
    ] {
        assert_eq!(counts.get(stage), Some(&1), "{stage} once: {counts:?}");
    }
    reprint_e2e::flows::settle_by_statement(&staff, &op).await;
    let settled = wait_for("the settlement at the lab", 90, || async {
        let l = ledger(&op).await;
        ((l.2 == lab_total).then_some(l), json!(format!("{l:?}")))
    })
    .await;
    assert_eq!(settled, (lab_total, lab_total, lab_total, 0));
    step(t0, "collected and settled with one node down");

    cluster.start_again(0).await;
    step(t0, "node n1 back");
}

/// A service starting before its new cluster has formed (two nodes of three up, no meta leader
/// yet: JetStream unavailable) waits for JetStream to place its 3-replica streams instead of
/// exiting: provisioning goes through once the third node is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_waits_for_a_cluster_still_forming() {
    use reprint_bus::connect::connect_and_wait;
    use reprint_bus::streams::{StreamSettings, provision_streams};

    let mut cluster = NatsCluster::start_partly(2).await;
    let conn = connect_and_wait(
        &nats_users::connect_as(cluster.node_url(0), "lab-a"),
        Duration::from_secs(10),
    )
    .await
    .expect("connect to n1");
    let provisioning = tokio::spawn(async move {
        let started = Instant::now();
        let result = provision_streams(&conn.jetstream, &StreamSettings::clustered()).await;
        (result, started.elapsed())
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !provisioning.is_finished(),
        "3 replicas placed, or given up, with two nodes of three"
    );
    cluster.start_again(2).await;
    let (result, took) = tokio::time::timeout(Duration::from_secs(60), provisioning)
        .await
        .expect("provisioning ends within 60 s of the third node's start")
        .expect("provisioning task");
    let infos = result.expect("streams provisioned once the third node is there");
    assert!(took >= Duration::from_secs(2), "took {took:?}");
    for info in &infos {
        assert_eq!(info.config.num_replicas, 3, "{}", info.config.name);
    }
    let mut streams = cluster.stream_replicas(2).await;
    streams.retain(|(name, _)| name.starts_with("REPRINT_"));
    assert_eq!(streams.len(), infos.len(), "{streams:?}");
}

/// Image bytes are read by direct gets that any replica answers, so an image stays readable
/// with its stream's leader killed and no quorum left to elect another (one node of three):
/// a lab starting to print during a NATS failover gets its images at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_is_read_from_the_one_replica_left_without_a_leader() {
    use reprint_bus::connect::connect_and_wait;
    use reprint_bus::objects::{ImageStoreSettings, Images};
    use tokio::io::AsyncReadExt;

    let mut cluster = NatsCluster::start().await;
    let conn = connect_and_wait(
        &nats_users::connect_as(cluster.url(), "gw-1"),
        Duration::from_secs(10),
    )
    .await
    .expect("connect");
    let images = Images::open(
        &conn.jetstream,
        ImageStoreSettings {
            replicas: 3,
            ..Default::default()
        },
    )
    .await
    .expect("image bucket");
    let photo = photo_jpeg(7, 1600, 1200, 90);
    // A bucket just made on a cluster still settling may not yet be known to the server that
    // takes the first chunk ("chunk ack ... StreamNotFound"): the upload is tried again, as
    // a client would, for a few seconds.
    let stored = wait_for("the first upload to the new bucket", 15, || async {
        match images.put(&photo[..], None).await {
            Ok(stored) => (Some(stored), json!(null)),
            Err(e) => (None, json!(e.to_string())),
        }
    })
    .await;
    let leader = wait_for("the image stream's leader", 30, || async {
        let l = cluster.stream_leader(0, "OBJ_reprint_images").await;
        (l, json!(null))
    })
    .await;
    let survivor = (leader + 1) % 3;
    for i in 0..3 {
        if i != survivor {
            cluster.kill(i);
        }
    }
    // One node of three elects no leader, for the stream or for JetStream: a read that needs
    // either (async-nats' `Object` creates a consumer) never succeeds here. The client first
    // has to find the one node left, which takes a moment.
    let t = Instant::now();
    let back = loop {
        let attempt = async {
            let mut reader = images.get(&stored.hash).await.map_err(|e| e.to_string())?;
            let mut back = Vec::new();
            reader
                .read_to_end(&mut back)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(back)
        };
        match attempt.await {
            Ok(b) => break b,
            Err(e) => {
                eprintln!("{:.1} s: {e}", t.elapsed().as_secs_f64());
                assert!(
                    t.elapsed() < Duration::from_secs(30),
                    "the image not read from the node left within 30 s"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    assert!(back == photo, "the bytes read back are the bytes stored");
}
