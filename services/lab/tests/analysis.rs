//! The lab's user analysis page (issue 16): a known set of orders through the lab's real
//! intake (nats-server, SQLite), then the figures on `/analysis`, its charts' axes and values,
//! and each table's CSV row for row against the page.

#[path = "common/browser.rs"]
#[allow(dead_code)]
mod browser;
mod common;

use chrono::{DateTime, Utc};
use reprint_domain::extract::{Sharing, extract};
use reprint_domain::file::{self, Route};
use reprint_domain::protocol::{OrderPlaced, ReceptionRecorded, Sender};
use reprint_domain::*;

use common::*;

/// Places `order` at `at` (the lab's clock too) and returns the lab's registration number.
async fn place_at(lab: &Running, peer: &Peer, mut order: OrderPlaced, at: DateTime<Utc>) -> String {
    lab.lab.clock.set(at);
    order.placed_at = at;
    if let Some(d) = order.data_receive.as_mut() {
        d.start = at;
        d.finish = at + chrono::Duration::seconds(20);
    }
    let mut inbox = peer.subscribe("reprint.v1.>").await;
    peer.place(&order).await;
    let r: ReceptionRecorded = next(&mut inbox, "reception.recorded", |r: &ReceptionRecorded| {
        r.order == order.order
    })
    .await;
    r.extract.registration_number.as_str().to_string()
}

/// The counter's whole file of a walk-in customer (an affiliated counter): X0001003 on Nov 20
/// printed by another lab (lab-b, 3 prints, ¥250), X0001004 on Nov 25 sent here (2 prints, ¥250).
fn whole_counter_file(order: OrderId, image: ImageId) -> reprint_domain::extract::FileExtract {
    let rules = SiteRules::demo_counter(site(COUNTER));
    let reception =
        |n: u64, at: DateTime<Utc>, lab: &str, prints: u32, order: OrderId| file::Reception {
            number: ReceptionNumber::new(&rules.reception_number, n).unwrap(),
            order,
            route: Route::CounterMedium,
            received_at: at,
            data_receive: None,
            partner: site(lab),
            items: vec![OrderItem {
                image,
                name: "DSC_0001.JPG".into(),
                size: PrintSize::L,
                quantity: prints,
            }],
            charge: Charge {
                lines: vec![],
                total: Money::new(250, Currency::JPY),
            },
            partner_charge: None,
            estimated_finish: None,
            state: file::ReceptionState::Open,
        };
    let f = file::UserFile {
        user: Some(file::UserIdArea {
            registration_number: RegistrationNumber::new(&rules.registration_number, 31).unwrap(),
            name: "Jiro Sato".into(),
            telephone: Telephone::parse("03-5555-0003").unwrap(),
            address: None,
            email: None,
            registered_at: tokyo(2026, 11, 20, 9),
        }),
        receptions: vec![
            reception(1003, tokyo(2026, 11, 20, 9), "lab-b", 3, order_id(9)),
            reception(1004, tokyo(2026, 11, 25, 9), LAB, 2, order),
        ],
        other_counters: Default::default(),
    };
    let number = f.receptions[1].number.clone();
    extract(
        &f,
        &site(COUNTER),
        SiteKind::Counter,
        &number,
        Sharing::WholeFile,
    )
    .unwrap()
}

/// The cells of the page's table `id`, row by row (header row first), as text.
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
                cells.push(unescape(&rest[body_start..body_start + close]));
                rest = &rest[body_start + close + 4..];
            }
            cells
        })
        .filter(|cells| !cells.is_empty())
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
}

/// Only letters and digits: `¥1,250` and `1250` compare equal, so do `2026-11-16` and the same.
fn key(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).collect()
}

fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let text = text.strip_prefix('\u{feff}').expect("a byte order mark");
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut cells = Vec::new();
            let mut cur = String::new();
            let mut quoted = false;
            let mut chars = l.chars().peekable();
            while let Some(c) = chars.next() {
                match (c, quoted) {
                    ('"', true) if chars.peek() == Some(&'"') => {
                        cur.push('"');
                        chars.next();
                    }
                    ('"', _) => quoted = !quoted,
                    (',', false) => cells.push(std::mem::take(&mut cur)),
                    _ => cur.push(c),
                }
            }
            cells.push(cur);
            cells
        })
        .collect()
}

/// Taro: first seen Oct 1 (before the period), back Nov 19 (49 days: later than a month).
/// Hanako (Fig. 7): Nov 18, Nov 21 (within a week: ¥250 off), Dec 10 reprinting the photo of
/// Nov 18 (19 days after Nov 21, within a month: ¥125 off). Jiro: a walk-in at the affiliated
/// counter on Nov 25, whose whole file comes with the order.
async fn known_orders(lab: &Running, peer: &Peer) {
    let photo = peer.upload(41).await;

    // Taro: first seen Oct 1 (before the period), back Nov 19 (49 days: later than a month).
    let taro = |image| {
        let mut o = internet_order(image, PrintSize::L, tokyo(2026, 10, 1, 10));
        o.order = order_id(2);
        o.customer.name = "Taro Suzuki".into();
        o.customer.telephone = "03-5555-0002".into();
        o
    };
    let taro_reg = place_at(
        lab,
        peer,
        taro(peer.upload(42).await),
        tokyo(2026, 10, 1, 10),
    )
    .await;
    // Hanako (Fig. 7): Nov 18, Nov 21 (within a week: ¥250 off), Dec 10 reprinting the
    // photo of Nov 18 (19 days after Nov 21, within a month: ¥125 off).
    let hanako_reg = place_at(
        lab,
        peer,
        internet_order(photo, PrintSize::L, tokyo(2026, 11, 18, 10)),
        tokyo(2026, 11, 18, 10),
    )
    .await;
    let mut again = taro(peer.upload(43).await);
    again.order = order_id(3);
    again.customer.registration_number = Some(taro_reg.clone());
    place_at(lab, peer, again, tokyo(2026, 11, 19, 10)).await;
    let mut second = internet_order(peer.upload(44).await, PrintSize::L, tokyo(2026, 11, 21, 10));
    second.customer.registration_number = Some(hanako_reg.clone());
    place_at(lab, peer, second, tokyo(2026, 11, 21, 10)).await;
    // Jiro: a walk-in at the affiliated counter, whose whole file comes with the order.
    let mut walk_in = internet_order(peer.upload(45).await, PrintSize::L, tokyo(2026, 11, 25, 10));
    walk_in.route = Route::CounterMedium;
    walk_in.sender = Sender::Counter(site(COUNTER));
    walk_in.data_receive = None;
    walk_in.customer.name = "Jiro Sato".into();
    walk_in.customer.telephone = "03-5555-0003".into();
    walk_in.items[0].quantity = 2;
    walk_in.counter_extract = Some(whole_counter_file(walk_in.order, photo));
    place_at(lab, peer, walk_in, tokyo(2026, 11, 25, 10)).await;
    let mut third = internet_order(photo, PrintSize::L, tokyo(2026, 12, 10, 10));
    third.items[0].quantity = 4;
    third.customer.registration_number = Some(hanako_reg.clone());
    place_at(lab, peer, third, tokyo(2026, 12, 10, 10)).await;
}

#[tokio::test]
async fn user_analysis_of_the_labs_files_with_charts_and_csv() {
    let rig = Rig::new(false).await;
    let lab = Running::start(rig.config(), Some(tokyo(2026, 10, 1, 10))).await;
    let peer = Peer::connect(&rig.nats.url).await;
    known_orders(&lab, &peer).await;

    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = anon.get(lab.url("/analysis")).send().await.unwrap();
    assert_eq!(r.status(), 303, "an operator's page");
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    log_in(&http, &lab).await;
    let query = "?from=2026-11-16&to=2026-12-13";
    let r = http
        .get(lab.url(&format!("/analysis{query}")))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    std::fs::write(
        std::env::temp_dir().join("reprint-lab-analysis.html"),
        &page,
    )
    .ok();
    assert!(
        page.contains("href=\"/analysis\""),
        "the console links to it"
    );

    let summary = page_table(&page, "analysis-summary");
    let figure = |name: &str| {
        summary
            .iter()
            .find(|r| r[0] == name)
            .unwrap_or_else(|| panic!("{name} in {summary:?}"))[1]
            .clone()
    };
    assert_eq!(figure("Customers"), "3");
    assert_eq!(figure("New"), "2", "Hanako and Jiro");
    assert_eq!(figure("Returning"), "1", "Taro, first seen on Oct 1");
    assert_eq!(figure("Orders"), "5");
    assert_eq!(figure("Reprinted photos"), "1", "Hanako's photo of Nov 18");
    assert_eq!(figure("Reprinted prints"), "4");

    let weeks = page_table(&page, "analysis-weeks");
    assert_eq!(
        weeks[1..].to_vec(),
        vec![
            vec!["2026-11-16", "1", "1", "3"],
            vec!["2026-11-23", "1", "0", "1"],
            vec!["2026-11-30", "0", "0", "0"],
            vec!["2026-12-07", "0", "1", "1"],
        ]
    );
    let orders = page_table(&page, "analysis-orders");
    assert_eq!(
        orders[1..]
            .iter()
            .map(|r| r[1].as_str())
            .collect::<Vec<_>>(),
        vec!["2", "0", "1", "0", "0"],
        "two customers ordered once, Hanako three times"
    );
    let tiers = page_table(&page, "analysis-tiers");
    assert_eq!(
        tiers[1..].to_vec(),
        vec![
            vec!["First order here", "–", "2", "–", "–", "0", "¥0"],
            vec!["Within 7 days", "100 %", "1", "3", "3", "1", "¥250"],
            vec!["Within 1 month", "50 %", "1", "19", "19", "1", "¥125"],
            vec!["Later", "–", "1", "49", "49", "0", "¥0"],
        ]
    );
    let sites = page_table(&page, "analysis-sites");
    assert_eq!(
        sites[1..].to_vec(),
        vec![
            vec!["counter-ginza", "lab-a (this lab)", "1", "1", "2", "¥250"],
            vec!["counter-ginza", "lab-b", "1", "1", "3", "¥250"],
        ],
        "the affiliated counter's customer also uses lab-b"
    );

    // The charts (crates/ui/src/chart.rs): drawn for a desk and a phone, each named and
    // described by its table; the tiers chart has one bar per tier, each with its value.
    for (chart, table) in [
        ("chart-weeks", "analysis-weeks"),
        ("chart-orders", "analysis-orders"),
        ("chart-tiers", "analysis-tiers"),
    ] {
        let start = page.find(&format!("id=\"{chart}\"")).expect(chart);
        let figure = &page[start..start + page[start..].find("</figure>").unwrap()];
        assert_eq!(figure.matches("role=\"img\"").count(), 2, "{chart}");
        assert!(
            figure.contains(&format!("aria-describedby=\"{table}\"")),
            "{chart}"
        );
        assert!(figure.contains("<rect"), "{chart}: bars");
    }
    let tiers = &page[page.find("id=\"chart-tiers-wide\"").unwrap()..];
    let tiers = &tiers[..tiers.find("</svg>").unwrap()];
    assert_eq!(
        tiers.matches("fill=\"#1F5F99\"").count(),
        4,
        "a bar per tier"
    );
    let texts: Vec<&str> = tiers
        .split("</text>")
        .filter_map(|s| s.rsplit_once('>').map(|(_, t)| t.trim()))
        .collect();
    for tier in ["Within 7 days", "2"] {
        assert!(texts.contains(&tier), "{tier}: {texts:?}");
    }
    assert_eq!(
        texts.iter().filter(|t| **t == "1").count(),
        4,
        "three values of 1 and a tick: {texts:?}"
    );

    // Each table's CSV is the page's table.
    for name in ["summary", "weeks", "orders", "tiers", "sites"] {
        let r = http
            .get(lab.url(&format!("/analysis/{name}.csv{query}")))
            .header("accept-language", "en")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let csv = parse_csv(&r.text().await.unwrap());
        let table = page_table(&page, &format!("analysis-{name}"));
        let keys = |rows: &[Vec<String>]| -> Vec<Vec<String>> {
            rows.iter()
                .map(|r| r.iter().map(|c| key(c)).collect())
                .collect()
        };
        assert_eq!(keys(&csv), keys(&table), "{name}.csv matches the page");
    }
    let tiers_csv = http
        .get(lab.url(&format!("/analysis/tiers.csv{query}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        tiers_csv.contains(",250\r\n"),
        "amounts as plain numbers: {tiers_csv}"
    );

    // A period in the other order, a date that is none, and a table that is none.
    for (path, status) in [
        ("/analysis?from=2026-12-13&to=2026-11-16", 400),
        ("/analysis?from=2026-13-01", 400),
        ("/analysis/nothing.csv", 404),
        ("/analysis/weeks.csv?to=tomorrow", 400),
    ] {
        let r = http.get(lab.url(path)).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
    }
    // Japanese words.
    let ja = http
        .get(lab.url(&format!("/analysis{query}")))
        .header("accept-language", "ja")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ja.contains("利用者分析") && ja.contains("7日以内"));
    lab.stop().await;
}

/// The page in Chromium at 1280 x 800 and on a phone (390 x 844): it fits, its targets are
/// 44 px, axe-core finds no serious violation, and the charts are drawn with their values.
#[tokio::test]
async fn the_analysis_page_in_a_browser() {
    if !browser::chromium_installed() {
        eprintln!("chromium not installed: browser check skipped");
        return;
    }
    let rig = Rig::new(false).await;
    let lab = Running::start(rig.config(), Some(tokyo(2026, 10, 1, 10))).await;
    let peer = Peer::connect(&rig.nats.url).await;
    known_orders(&lab, &peer).await;

    let dir = tempfile::tempdir().unwrap();
    let chrome = browser::Browser::launch(dir.path()).await;
    let mut page = chrome.page().await;
    page.call("Page.enable", serde_json::json!({})).await;
    page.set_viewport(1280, 800).await;
    page.goto(&lab.url("/login")).await;
    page.fill("#name", "operator").await;
    page.fill("#password", "change-me").await;
    page.eval("document.querySelector('form[action=\"/login\"]').submit(), true")
        .await;
    page.wait_for(
        "the queue after log-in",
        "location.pathname === '/' && document.readyState === 'complete'",
    )
    .await;
    page.click("a[href=\"/analysis\"]").await;
    page.wait_for(
        "the analysis page",
        "location.pathname === '/analysis' && document.readyState === 'complete'",
    )
    .await;
    // The period filter.
    page.fill("input[name=from]", "2026-11-16").await;
    page.fill("input[name=to]", "2026-12-13").await;
    page.eval("document.querySelector('form[action=\"/analysis\"]').submit(), true")
        .await;
    page.wait_for(
        "the chosen period",
        "location.search.includes('from=2026-11-16') && document.readyState === 'complete' && document.querySelector('#chart-tiers') !== null",
    )
    .await;
    let drawn = page
        .eval(
            "['chart-weeks','chart-orders','chart-tiers'].map(id => { const r = document.getElementById(id).getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height), document.querySelectorAll('#' + id + ' rect').length]; })",
        )
        .await;
    eprintln!("charts (width, height, rects) at 1280 x 800: {drawn}");
    for c in drawn.as_array().unwrap() {
        assert!(
            c[0].as_i64().unwrap() >= 300 && c[1].as_i64().unwrap() >= 120,
            "{drawn}"
        );
        assert!(c[2].as_i64().unwrap() >= 1, "{drawn}");
    }
    // Drawn, not only present: the desk's drawing shown, its four bars and its words laid out.
    let drawn_tiers = page
        .eval(
            "(() => { const s = document.querySelector('#chart-tiers svg.wide'); const shown = [...s.querySelectorAll('text')].filter(e => { const b = e.getBBox(); return b.width > 0 && b.height > 0; }).length; return [getComputedStyle(s).display, s.querySelectorAll('rect[fill=\"#1F5F99\"]').length, shown >= 8]; })()",
        )
        .await;
    assert_eq!(
        drawn_tiers,
        serde_json::json!(["block", 4, true]),
        "the tiers chart drawn"
    );
    page.assert_fits("analysis at 1280").await;
    let small = page.small_touch_targets().await;
    assert!(small.is_empty(), "targets under 44 px: {small:?}");
    page.assert_accessible("analysis").await;
    page.screenshot("lab-analysis-1280").await;
    for chart in ["chart-weeks", "chart-tiers"] {
        page.eval(&format!(
            "document.getElementById('{chart}').scrollIntoView(), true"
        ))
        .await;
        page.screenshot(&format!("lab-analysis-1280-{chart}")).await;
    }
    page.set_viewport(390, 844).await;
    page.assert_fits("analysis at 390").await;
    let narrow = page
        .eval("getComputedStyle(document.querySelector('#chart-tiers svg.narrow')).display")
        .await;
    assert_eq!(narrow, serde_json::json!("block"), "the phone's drawing");
    page.screenshot("lab-analysis-390").await;
    page.eval("document.getElementById('chart-tiers').scrollIntoView(), true")
        .await;
    page.screenshot("lab-analysis-390-chart-tiers").await;
    chrome.close(&mut page).await;
    lab.stop().await;
}
