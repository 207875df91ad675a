//! Every metric name in the alert rules (`deploy/prometheus/alerts.yml`) and the Grafana
//! dashboard (`deploy/grafana/reprint.json`) is one that a running service exports (issue 17):
//! the lab, the counter and the gateway run as processes, do a little work (a walk-in order
//! at the counter that the lab receives, a sign-up at the gateway), and their /metrics are
//! read. The health metrics the rules watch on every site (lag, outbox, parked messages,
//! pruning, HTTP answers) must be on each of the three.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use reprint_e2e::media::{photo_jpeg, zip_of};
use reprint_e2e::{Client, LAB, Network, step, workspace_root};

/// Every `reprint_...` name written in `text` (PromQL in YAML or JSON).
fn used_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("reprint_") {
        let start = i + at;
        let before = start.checked_sub(1).map(|b| bytes[b]);
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        if !before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
            out.insert(text[start..end].to_string());
        }
        i = end;
    }
    out
}

/// The sample names of a Prometheus text exposition (`reprint_append_seconds_bucket`, ...).
fn exposed(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

fn deploy(path: &str) -> String {
    let p = workspace_root().join("deploy").join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// What the rules must watch on every service (issue 17: a consumer lagging, an outbox
/// growing, parked messages, prune failures; and the 5xx answers).
const ON_EVERY_SERVICE: [&str; 6] = [
    "reprint_consumer_lag",
    "reprint_outbox_backlog",
    "reprint_parked_messages",
    "reprint_store_prune_failures_total",
    "reprint_store_pruned_total",
    "reprint_http_requests_total",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_name_of_the_rules_and_the_dashboard_is_exported_by_a_running_service() {
    let t0 = Instant::now();
    let rules = deploy("prometheus/alerts.yml");
    let dashboard: serde_json::Value =
        serde_json::from_str(&deploy("grafana/reprint.json")).expect("the dashboard is JSON");
    let queries: Vec<String> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_string))
        .collect();
    assert!(queries.len() >= 8, "the dashboard's queries: {queries:?}");
    let mut used = used_names(&rules);
    used.extend(used_names(&queries.join("\n")));
    for name in ON_EVERY_SERVICE {
        assert!(used.contains(name), "deploy/ watches {name}: {used:?}");
    }
    // The "outbox growing" alert is on the gauge a counter offline raises (tests/ops_offline.rs).
    let growing = &rules[rules.find("alert: ReprintOutboxGrowing").expect("the rule")..];
    let expr = growing.lines().find(|l| l.contains("expr:")).unwrap();
    assert!(expr.contains("reprint_outbox_backlog"), "{expr}");

    let net = Network::start().await;
    step(t0, "network up");
    // A little work: a walk-in order at the counter (the lab receives it), a sign-up.
    let staff = net.counter_staff().await;
    let card = zip_of(&[("DCIM/100CANON/IMG_0001.JPG", photo_jpeg(7, 640, 480, 85))]);
    let form = reqwest::multipart::Form::new()
        .text("name", "Taro Suzuki")
        .text("telephone", "090-1111-2222")
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
    assert_eq!(s, 201, "{slip}");
    let _ = net
        .home_user("hanako@example.jp", "Hanako Yamada", "03-1234-5678")
        .await;

    // Each service's names, read again until every name used is exported somewhere and each
    // service exports the health metrics (a consumer's lag appears once it has run).
    let services = [
        ("lab", Client::new(&net.lab.base())),
        ("counter", Client::new(&net.counter.base())),
        ("gateway", Client::new(&net.gateway.base())),
    ];
    let deadline = Instant::now() + Duration::from_secs(45);
    let (names, missing) = loop {
        let mut names: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for (service, client) in &services {
            let (s, _, body) = client.get_bytes("/metrics").await;
            assert_eq!(s, 200, "{service} /metrics");
            let text = String::from_utf8(body).expect("UTF-8");
            assert!(
                text.contains(&format!("service=\"{service}\"")),
                "{service}'s series carry service=\"{service}\""
            );
            names.insert(service, exposed(&text));
        }
        let mut missing: Vec<String> = used
            .iter()
            .filter(|n| !names.values().any(|s| s.contains(*n)))
            .map(|n| format!("{n} (no service)"))
            .collect();
        for (service, set) in &names {
            missing.extend(
                ON_EVERY_SERVICE
                    .iter()
                    .filter(|n| !set.contains(**n))
                    .map(|n| format!("{n} (not on the {service})")),
            );
        }
        if missing.is_empty() || Instant::now() > deadline {
            break (names, missing);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        missing.is_empty(),
        "metric names used in deploy/ that the running services do not export: {missing:?}; \
         exported: {names:?}"
    );
    step(
        t0,
        &format!("{} names used in deploy/, all exported", used.len()),
    );
}
