//! Ops sees a counter offline (issue 17): the counter's link to NATS is cut (a TCP proxy
//! between the counter and the nats-server, the lab and the gateway keep theirs); it takes
//! walk-in orders all the same and its outbox backlog grows on its /metrics; the gateway's
//! /ops shows it red, with the backlog it said at its last heartbeat and when that was; once
//! the link is back the backlog drains to 0 and /ops shows it green with that 0.

use std::time::Instant;

use reprint_e2e::flows::pause;
use reprint_e2e::leaf::LinkProxy;
use reprint_e2e::media::{photo_jpeg, zip_of};
use reprint_e2e::{COUNTER, Client, LAB, NatsServer, Network, Options, step, wait_for};
use serde_json::json;

/// `reprint_outbox_backlog` on the counter's /metrics (the sum over its series).
async fn counter_backlog(counter: &Client) -> Option<i64> {
    let (s, _, body) = counter.get_bytes("/metrics").await;
    assert_eq!(s, 200, "the counter's /metrics");
    let text = String::from_utf8(body).unwrap();
    let values: Vec<i64> = text
        .lines()
        .filter(|l| l.starts_with("reprint_outbox_backlog{"))
        .filter_map(|l| l.rsplit_once(' ')?.1.trim().parse::<f64>().ok())
        .map(|v| v as i64)
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// The counter's row of the health table on /ops: (data-health, data-backlog, the row's text).
async fn ops_row(ops: &Client, site: &str) -> Option<(String, String, String)> {
    let (s, _, body) = ops.get_bytes("/ops").await;
    assert_eq!(s, 200, "/ops for the ops account");
    let html = String::from_utf8(body).unwrap();
    let at = html.find(&format!("<tr data-site=\"{site}\""))?;
    let row = &html[at..];
    let row = &row[..row.find("</tr>")?];
    let attr = |name: &str| -> String {
        let key = format!("{name}=\"");
        row.find(&key)
            .map(|i| {
                let rest = &row[i + key.len()..];
                rest[..rest.find('"').unwrap_or(0)].to_string()
            })
            .unwrap_or_default()
    };
    Some((attr("data-health"), attr("data-backlog"), row.to_string()))
}

async fn walk_in(staff: &Client, n: u64) -> String {
    let card = zip_of(&[(
        "DCIM/100CANON/IMG_0001.JPG",
        photo_jpeg(300 + n as u32, 640, 480, 85),
    )]);
    let form = reqwest::multipart::Form::new()
        .text("name", format!("Walk-in {n}"))
        .text("telephone", format!("090-1111-22{n:02}"))
        .text("lab", LAB)
        .text("size", "L")
        .text("quantity", "1")
        .part(
            "medium",
            reqwest::multipart::Part::bytes(card)
                .file_name("card.zip")
                .mime_str("application/zip")
                .unwrap(),
        );
    let (s, slip) = staff.post_multipart("/api/v1/intake", form).await;
    assert_eq!(s, 201, "a walk-in order with the link cut: {slip}");
    slip["order"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_offline_shows_red_with_its_backlog_and_green_once_it_drained() {
    let t0 = Instant::now();
    let nats = NatsServer::start();
    // The TCP proxy the leaf-node test cuts its line with.
    let mut link = LinkProxy::start(nats.port).await;
    let net = Network::start_with(Options {
        nats_url: Some(nats.url.clone()),
        // The counter (only) reaches NATS through the link; the others ignore the variable.
        env: vec![(
            "REPRINT_COUNTER__NATS__URL".into(),
            format!("nats://127.0.0.1:{}", link.port),
        )],
        ..Options::default()
    })
    .await;
    let ops = net
        .home_user("ops@reprint.example", "On Call", "03-0000-0000")
        .await;
    // The pages in English for the checks of their words below.
    let (s, _, _) = ops.get_bytes("/language?to=en&back=/ops").await;
    assert_eq!(s, 200, "/language");
    let staff = net.counter_staff().await;
    let counter = Client::new(&net.counter.base());
    wait_for(
        "the counter green on /ops with nothing waiting",
        30,
        || async {
            let row = ops_row(&ops, COUNTER).await;
            let ok = row
                .as_ref()
                .is_some_and(|(h, b, _)| h == "h-good" && b == "0");
            (ok.then_some(()), json!(row.map(|r| (r.0, r.1))))
        },
    )
    .await;
    step(t0, "network up, the counter green on /ops");

    link.cut().await;
    step(t0, "the counter's link to NATS cut");
    let mut orders = Vec::new();
    let mut seen = Vec::new();
    for n in 1..=3 {
        orders.push(walk_in(&staff, n).await);
        // The gauge is read from the store every 5 s: wait for it to say this order's status.
        let now = wait_for("the backlog gauge counting the walk-in", 20, || async {
            let b = counter_backlog(&counter).await;
            let grown = b.filter(|b| *b >= n as i64 && seen.last().is_none_or(|l| *b > *l));
            (grown, json!(b))
        })
        .await;
        seen.push(now);
    }
    assert!(
        seen.windows(2).all(|w| w[1] > w[0]),
        "the backlog grows with each walk-in: {seen:?}"
    );
    step(t0, &format!("3 walk-ins taken offline, backlog {seen:?}"));

    // Its heartbeats stop reaching the directory: red within 3 missed beats of 2 s, with the
    // backlog said at its last heartbeat and when that was.
    let (health, backlog, row) = wait_for("the counter red on /ops", 30, || async {
        let row = ops_row(&ops, COUNTER).await;
        (
            row.clone().filter(|(h, _, _)| h == "h-down"),
            json!(row.map(|r| (r.0, r.1))),
        )
    })
    .await;
    assert_eq!(health, "h-down");
    let last_known: i64 = backlog.parse().expect("a backlog figure");
    assert!(
        last_known < *seen.last().unwrap(),
        "the last heartbeat's backlog ({last_known}), from before the walk-ins: {row}"
    );
    assert!(row.contains("at its last heartbeat"), "said as such: {row}");
    assert!(row.contains(" ago"), "when it was last heard from: {row}");
    let (s, _, body) = ops.get_bytes("/ops").await;
    assert_eq!(s, 200);
    let html = String::from_utf8(body).unwrap();
    assert!(
        html.contains("1 site silent") || html.contains("One site silent"),
        "the summary counts it"
    );
    if let Some((lab, _, _)) = ops_row(&ops, LAB).await {
        assert_eq!(lab, "h-good", "the lab keeps its link");
    }
    step(t0, "red on /ops with its last known backlog");
    pause(1000).await;

    link.restore().await;
    step(t0, "link mended");
    wait_for("the counter's outbox drained", 60, || async {
        let b = counter_backlog(&counter).await;
        ((b == Some(0)).then_some(()), json!(b))
    })
    .await;
    let (health, backlog, _) = wait_for("the counter green on /ops, 0 waiting", 30, || async {
        let row = ops_row(&ops, COUNTER).await;
        (
            row.clone().filter(|(h, b, _)| h == "h-good" && b == "0"),
            json!(row.map(|r| (r.0, r.1))),
        )
    })
    .await;
    assert_eq!((health.as_str(), backlog.as_str()), ("h-good", "0"));
    step(t0, "drained, green on /ops");
    // What it held while offline reached the gateway: each walk-in's status.
    for order in &orders {
        wait_for("the walk-in's timeline on /ops", 30, || async {
            let (s, _, _) = ops.get_bytes(&format!("/ops/orders/{order}")).await;
            ((s == 200).then_some(()), json!(s))
        })
        .await;
    }
    drop(net);
    drop(link);
    drop(nats);
}
