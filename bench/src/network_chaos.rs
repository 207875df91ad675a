//! The books after `reprint-bench network --chaos`: every order in exactly one final state,
//! each stage once on its timeline, one reception per order at each site, and the lab's
//! ledger per counter balancing with its receptions and with the counter's payments and
//! settlements. Read from the gateway's API and the lab's and the counter's stores. Also the
//! kills per part and the longest wait an order had because of them ([`Chaos::waits`]); a part
//! the run never killed is a problem too.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Instant;

use reprint_e2e::Network;
use serde_json::Value;

use crate::chaos::{Chaos, Db};
use crate::network::SeenSummary;
use crate::report::Report;

/// (order_id, reception_number, counter, state, charge_minor)
type Reception = (String, String, String, String, i64);
/// (entry_id, counter, order_id, kind, amount_minor)
type Entry = (String, String, String, String, i64);

async fn sqlite(path: &std::path::Path) -> anyhow::Result<sqlx::SqlitePool> {
    let opts =
        sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .read_only(true);
    Ok(sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await?)
}

const RECEPTIONS: &str =
    "SELECT order_id, reception_number, counter, state, charge_minor FROM lab_receptions";
const LEDGER: &str = "SELECT entry_id, counter, order_id, kind, amount_minor FROM lab_ledger";

async fn lab_books(
    net: &Network,
    lab_db: Option<&Db>,
) -> anyhow::Result<(Vec<Reception>, Vec<Entry>)> {
    Ok(match lab_db {
        Some(db) => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&db.url)
                .await?;
            let r = sqlx::query_as(RECEPTIONS).fetch_all(&pool).await?;
            let l = sqlx::query_as(LEDGER).fetch_all(&pool).await?;
            pool.close().await;
            (r, l)
        }
        None => {
            let pool = sqlite(&net.dir.path().join("lab-a/lab.sqlite")).await?;
            let r = sqlx::query_as(RECEPTIONS).fetch_all(&pool).await?;
            let l = sqlx::query_as(LEDGER).fetch_all(&pool).await?;
            pool.close().await;
            (r, l)
        }
    })
}

/// Checks and prints the counts, pushes the kill and wait figures to `report`; false when
/// something is lost or doubled, or a part was never killed.
#[allow(clippy::too_many_arguments)]
pub async fn check(
    net: &Network,
    views: &BTreeMap<String, Value>,
    placed: &[String],
    seen: &SeenSummary,
    lab_db: Option<&Db>,
    chaos: &Chaos,
    report: &mut Report,
    t0: Instant,
) -> anyhow::Result<bool> {
    let mut problems: Vec<String> = Vec::new();
    let say = |s: &str| eprintln!("chaos [{:>7.2} s] {s}", t0.elapsed().as_secs_f64());
    say(&format!(
        "kills per part: {:?}; the people saw placed {}, dispatched {}, collected {}, rejected {}, placement failures {}",
        chaos.kills(),
        seen.placed,
        seen.dispatched,
        seen.collected,
        seen.rejected,
        seen.failed
    ));
    for n in &chaos.notes {
        say(n);
    }
    let spared = chaos.spared();
    if !spared.is_empty() {
        problems.push(format!(
            "never killed (the flow ended before their turn; more --orders or a shorter --chaos-every): {spared:?}"
        ));
    }
    chaos.waits(views, report, &say);

    // The gateway: one final state per order, each stage once.
    let mut finals: BTreeMap<String, usize> = BTreeMap::new();
    let mut doubled_stages = 0;
    let mut missing: BTreeMap<&str, usize> = BTreeMap::new();
    for order in placed {
        let v = views.get(order).cloned().unwrap_or(Value::Null);
        let counts = reprint_e2e::stage_counts(&v);
        let done = counts.contains_key("collected") || counts.contains_key("settled");
        let final_: Vec<&str> = [
            ("collected+settled", done),
            ("rejected", counts.contains_key("rejected")),
            ("cancelled", counts.contains_key("cancelled")),
        ]
        .into_iter()
        .filter_map(|(s, on)| on.then_some(s))
        .collect();
        // A finished order passed every stage: each on its timeline.
        if done {
            for stage in crate::network::CHAOS_STAGES {
                if !counts.contains_key(stage) {
                    *missing.entry(stage).or_insert(0) += 1;
                    problems.push(format!(
                        "order {order}: no {stage} on its timeline (stage {}): {counts:?}",
                        v["stage"]
                    ));
                }
            }
        }
        let key = if final_.is_empty() {
            format!("none (stage {})", v["stage"])
        } else {
            final_.join("+")
        };
        if final_.len() != 1 {
            problems.push(format!(
                "order {order}: final states {key}; timeline {counts:?}"
            ));
        }
        *finals.entry(key).or_insert(0) += 1;
        for (stage, n) in &counts {
            // `received` is on the timeline twice by design: the slip and the lab's status.
            let allowed = if stage == "received" { 2 } else { 1 };
            if *n > allowed {
                doubled_stages += 1;
                problems.push(format!(
                    "order {order}: stage {stage} {n} times on its timeline"
                ));
            }
        }
    }
    say(&format!(
        "gateway: {} orders checked, final states {finals:?}, stages doubled on timelines {doubled_stages}, stages missing {missing:?}",
        placed.len()
    ));

    // The lab: one reception per order; the ledger per counter.
    let (receptions, ledger) = lab_books(net, lab_db).await?;
    let mut by_order: BTreeMap<&str, usize> = BTreeMap::new();
    let mut numbers: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &receptions {
        *by_order.entry(r.0.as_str()).or_insert(0) += 1;
        *numbers.entry(r.1.as_str()).or_insert(0) += 1;
    }
    let placed_set: std::collections::HashSet<&str> = placed.iter().map(String::as_str).collect();
    let lost_at_lab = placed
        .iter()
        .filter(|o| !by_order.contains_key(o.as_str()))
        .count();
    let extra_at_lab = by_order.keys().filter(|o| !placed_set.contains(*o)).count();
    let doubled_at_lab = by_order.values().filter(|n| **n > 1).count()
        + numbers.values().filter(|n| **n > 1).count();
    let mut states: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &receptions {
        *states.entry(r.3.as_str()).or_insert(0) += 1;
    }
    say(&format!(
        "lab: {} receptions for {} orders placed; lost {lost_at_lab}, not placed by the bench {extra_at_lab}, doubled {doubled_at_lab}; states {states:?}",
        receptions.len(),
        placed.len()
    ));
    if lost_at_lab + doubled_at_lab > 0 {
        problems.push(format!(
            "lab: {lost_at_lab} orders without a reception, {doubled_at_lab} doubled"
        ));
    }
    let mut per_entry: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut sums: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for e in &ledger {
        *per_entry.entry((e.2.as_str(), e.3.as_str())).or_insert(0) += 1;
        *sums.entry((e.1.as_str(), e.3.as_str())).or_insert(0) += e.4;
    }
    let doubled_entries: Vec<_> = per_entry.iter().filter(|(_, n)| **n > 1).collect();
    for ((order, kind), n) in doubled_entries.iter().take(10) {
        problems.push(format!("lab ledger: {kind} of order {order} {n} times"));
    }
    let mut dispatched_charges: BTreeMap<&str, i64> = BTreeMap::new();
    let mut collected_charges: BTreeMap<&str, i64> = BTreeMap::new();
    let mut settled_charges: BTreeMap<&str, i64> = BTreeMap::new();
    for r in &receptions {
        if ["dispatched", "collected", "settled"].contains(&r.3.as_str()) {
            *dispatched_charges.entry(r.2.as_str()).or_insert(0) += r.4;
        }
        if ["collected", "settled"].contains(&r.3.as_str()) {
            *collected_charges.entry(r.2.as_str()).or_insert(0) += r.4;
        }
        if r.3 == "settled" {
            *settled_charges.entry(r.2.as_str()).or_insert(0) += r.4;
        }
    }
    let counters: std::collections::BTreeSet<&str> =
        receptions.iter().map(|r| r.2.as_str()).collect();
    for c in counters {
        let get = |k: &str| sums.get(&(c, k)).copied().unwrap_or(0);
        let (charged, collected, paid) = (get("charged"), get("collected"), get("paid"));
        let want_charged = dispatched_charges.get(c).copied().unwrap_or(0);
        let want_paid = settled_charges.get(c).copied().unwrap_or(0);
        let want_collected = collected_charges.get(c).copied().unwrap_or(0);
        say(&format!(
            "lab ledger {c}: charged {charged} (lab charges of dispatched receptions {want_charged}), collected {collected} (of collected receptions {want_collected}), paid {paid} (of settled receptions {want_paid}), owed {} (paid by the counter's periodic statement)",
            collected - paid
        ));
        if charged != want_charged {
            problems.push(format!(
                "lab ledger {c}: charged {charged} != {want_charged} dispatched"
            ));
        }
        // The counter pays by periodic statement (issue 15): what it collected stays owed
        // until the lab confirms one, so paid follows the settled receptions, not collected.
        if paid != want_paid || collected != want_collected {
            problems.push(format!(
                "lab ledger {c}: collected {collected} (receptions {want_collected}), paid {paid} (settled receptions {want_paid})"
            ));
        }
    }
    say(&format!(
        "lab ledger: {} entries, {} (order, kind) pairs doubled",
        ledger.len(),
        doubled_entries.len()
    ));

    // The counter: one order row per order, one payment, one settlement.
    let pool = sqlite(&net.dir.path().join("counter-ginza/counter.sqlite")).await?;
    let orders: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT order_id, state, lab_reception FROM counter_orders")
            .fetch_all(&pool)
            .await?;
    let payments: Vec<(String, i64)> =
        sqlx::query_as("SELECT order_id, lab_charge FROM counter_payments")
            .fetch_all(&pool)
            .await?;
    let settlements: Vec<(String, i64)> =
        sqlx::query_as("SELECT order_id, amount FROM counter_settlements")
            .fetch_all(&pool)
            .await?;
    pool.close().await;
    let lab_numbers: BTreeMap<&str, &str> = receptions
        .iter()
        .map(|r| (r.0.as_str(), r.1.as_str()))
        .collect();
    let mismatched = orders
        .iter()
        .filter(|o| {
            o.2.as_deref()
                .is_some_and(|n| lab_numbers.get(o.0.as_str()).is_some_and(|l| *l != n))
        })
        .count();
    let lost_at_counter = placed
        .iter()
        .filter(|p| !orders.iter().any(|o| &o.0 == *p))
        .count();
    let mut cstates: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &orders {
        *cstates.entry(o.1.as_str()).or_insert(0) += 1;
    }
    let paid_lab: i64 = payments.iter().map(|p| p.1).sum();
    let settled: i64 = settlements.iter().map(|p| p.1).sum();
    let lab_collected: i64 = sums
        .iter()
        .filter(|((c, k), _)| *c == reprint_e2e::COUNTER && *k == "collected")
        .map(|(_, v)| v)
        .sum();
    say(&format!(
        "counter: {} orders (states {cstates:?}), lost {lost_at_counter}, lab reception differs {mismatched}; {} payments (lab share {paid_lab}), {} settlements ({settled}); lab ledger collected {lab_collected}",
        orders.len(),
        payments.len(),
        settlements.len()
    ));
    if lost_at_counter + mismatched > 0 {
        problems.push(format!(
            "counter: {lost_at_counter} orders lost, {mismatched} with another lab reception"
        ));
    }
    let lab_paid: i64 = sums
        .iter()
        .filter(|((c, k), _)| *c == reprint_e2e::COUNTER && *k == "paid")
        .map(|(_, v)| v)
        .sum();
    if paid_lab != lab_collected || settled != lab_paid {
        problems.push(format!(
            "counter: lab shares taken {paid_lab}, the lab's ledger collected {lab_collected}; settled {settled}, the lab's ledger paid {lab_paid}"
        ));
    }

    if problems.is_empty() {
        say("the books balance: nothing lost, nothing doubled");
        Ok(true)
    } else {
        // Keep the services' logs for the diagnosis (the network's directory goes with it).
        let kept = std::env::temp_dir().join(format!(
            "reprint-network-chaos-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S")
        ));
        if std::fs::create_dir_all(&kept).is_ok() {
            for e in std::fs::read_dir(net.dir.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                if e.file_name().to_string_lossy().ends_with(".log") {
                    let _ = std::fs::copy(e.path(), kept.join(e.file_name()));
                }
            }
            chaos.keep_logs(&kept);
            say(&format!("service logs kept in {}", kept.display()));
        }
        say(&format!("{} problems:", problems.len()));
        for p in problems.iter().take(40) {
            say(&format!("  {p}"));
        }
        Ok(false)
    }
}
