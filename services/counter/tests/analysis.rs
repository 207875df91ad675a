//! The counter's user analysis (issue 16) of its own individual user files, on a real NATS and
//! a real SQLite store: a walk-in customer twice (19 days apart, within the counter's month:
//! its basic charge waived) and another once; the page's figures and the CSV of the tiers.

mod common;

use chrono::{TimeZone, Utc};
use common::*;
use reprint_testkit::NatsServer;

/// The cells of the page's table `id` row by row (header row first), as text.
fn page_table(html: &str, id: &str) -> Vec<Vec<String>> {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id}"));
    let end = start + html[start..].find("</table>").unwrap();
    html[start..end]
        .split("<tr")
        .skip(1)
        .map(|row| {
            let mut cells = Vec::new();
            let mut rest = row;
            while let Some(open) = rest.find("<t") {
                let after = &rest[open + 2..];
                if !(after.starts_with('h') || after.starts_with('d')) {
                    rest = after;
                    continue;
                }
                let body_start = open + 2 + after.find('>').unwrap() + 1;
                let close = rest[body_start..].find("</t").unwrap();
                cells.push(rest[body_start..body_start + close].to_string());
                rest = &rest[body_start + close + 4..];
            }
            cells
        })
        .filter(|cells| !cells.is_empty())
        .collect()
}

#[tokio::test]
async fn the_counters_user_analysis() {
    let nats = NatsServer::start();
    let _lab = LabPeer::start(&nats.url).await;
    let counter = spawn(&nats.url, None, "").await;
    let tokyo = |m: u32, d: u32| {
        chrono_tz::Asia::Tokyo
            .with_ymd_and_hms(2026, m, d, 11, 0, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    };
    for (at, name, phone, seed) in [
        (tokyo(11, 1), "Hanako Yamada", "03-1234-5678", 1),
        (tokyo(11, 3), "Jiro Sato", "03-5555-0003", 2),
        (tokyo(11, 20), "Hanako Yamada", "03-1234-5678", 3),
    ] {
        counter.counter.clock.set(at);
        let card = zip_of(&[("DCIM/100CANON/IMG_0001.JPG", jpeg(seed))]);
        let form = customer_fields(reqwest::multipart::Form::new(), name, phone)
            .part("medium", zip_part(card));
        let (s, slip) = counter.intake(form).await;
        assert_eq!(s, 201, "{slip}");
    }

    let page = counter
        .http
        .get(format!(
            "{}/analysis?from=2026-11-01&to=2026-11-30",
            counter.base
        ))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("href=\"/analysis\""), "the nav links to it");
    let summary = page_table(&page, "analysis-summary");
    let figure = |name: &str| summary.iter().find(|r| r[0] == name).unwrap()[1].clone();
    assert_eq!(figure("Customers"), "2");
    assert_eq!(figure("New"), "2");
    assert_eq!(figure("Orders"), "3");
    let tiers = page_table(&page, "analysis-tiers");
    assert_eq!(
        tiers[1..].to_vec(),
        vec![
            vec!["First order here", "–", "2", "–", "–", "0", "¥0"],
            vec!["Within 1 month", "100 %", "1", "19", "19", "1", "¥250"],
            vec!["Later", "–", "0", "–", "–", "0", "¥0"],
        ]
    );
    let labs = page_table(&page, "analysis-sites");
    assert_eq!(labs[1][1], "lab-a");
    assert_eq!(labs[1][3], "3", "three orders to lab-a: {labs:?}");
    assert!(page.contains("id=\"chart-tiers\""));

    let csv = counter
        .http
        .get(format!(
            "{}/analysis/tiers.csv?from=2026-11-01&to=2026-11-30",
            counter.base
        ))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let csv = csv.text().await.unwrap();
    assert!(
        csv.contains("Within 1 month,100 %,1,19,19,1,250\r\n"),
        "{csv}"
    );
    let bad = counter
        .http
        .get(format!("{}/analysis?from=someday", counter.base))
        .send()
        .await
        .unwrap();
    // The counter's word for a wrong field of a form: 422, with the words on the page.
    assert_eq!(bad.status(), 422);
    let bad = bad.text().await.unwrap();
    assert!(
        bad.contains("year-month-day") || bad.contains("年-月-日"),
        "{bad}"
    );
}
