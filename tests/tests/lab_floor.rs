//! The lab's floor end to end (issue 16), each service a separate process on a private
//! nats-server with SQLite stores: ten receptions (walk-in cards at the counter and internet
//! orders from the gateway) on two printers and two sizes; one batch start per printer and size
//! writes every job into the hot folders; the station's done markers finish them; one dispatch
//! to the counter with its packing list; the counter (with `check_in_parcels` on) checks the
//! parcel in by the list's code; items (4)/(5) of the internet order; the search by the
//! counter's slip number.

use std::path::{Path, PathBuf};
use std::time::Instant;

use reprint_e2e::flows::{counter_wait_ready, lab_queue, place_internet_order, wait_for_stage};
use reprint_e2e::media::{card_with_print_order, photo_jpeg};
use reprint_e2e::{COUNTER, Client, LAB, Network, Options, step, wait_for};
use serde_json::{Value, json};

/// The CSRF token of a console page's first form.
fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no csrf field: {page}"))
        .to_string()
}

/// A console page (HTML), without following redirects.
async fn console(http: &reqwest::Client, base: &str, path: &str) -> (u16, String, Option<String>) {
    let r = http.get(format!("{base}{path}")).send().await.unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(str::to_string);
    (status, r.text().await.unwrap(), location)
}

/// The job folders of a printer's hot folder (complete ones: not `.tmp-...`).
fn jobs(hot: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(hot)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A walk-in card at the counter for `size`; the counter's slip number.
async fn walk_in(staff: &Client, name: &str, telephone: &str, size: &str) -> (String, String) {
    let form = reqwest::multipart::Form::new()
        .text("name", name.to_string())
        .text("telephone", telephone.to_string())
        .text("lab", LAB)
        .text("size", size.to_string())
        .part(
            "medium",
            reqwest::multipart::Part::bytes(card_with_print_order())
                .file_name("card.zip")
                .mime_str("application/zip")
                .unwrap(),
        );
    let (s, slip) = staff.post_multipart("/api/v1/intake", form).await;
    assert_eq!(s, 201, "intake: {slip}");
    (
        slip["order"].as_str().unwrap().to_string(),
        slip["reception_number"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_receptions_two_printers_one_dispatch_checked_in_by_the_packing_list() {
    let t0 = Instant::now();
    let net = Network::start_with(Options {
        env: vec![(
            "REPRINT_COUNTER__CHECK_IN_PARCELS".to_string(),
            "true".to_string(),
        )],
        ..Options::default()
    })
    .await;
    step(t0, "network up (the counter checks parcels in)");
    let staff = net.counter_staff().await;
    let op = net.lab_operator().await;
    let lab = net.lab.base();

    // Ten receptions: eight walk-in cards (four L, four 5x7) and two internet orders (L).
    let mut orders: Vec<(String, &str, Option<String>)> = Vec::new(); // order, size, slip
    for i in 0..8u32 {
        let size = if i % 2 == 0 { "L" } else { "5x7" };
        let (order, slip) = walk_in(
            &staff,
            &format!("Customer {i}"),
            &format!("090-2000-00{i:02}"),
            size,
        )
        .await;
        orders.push((order, size, Some(slip)));
    }
    let mut internet = Vec::new();
    for (i, email) in ["hanako@example.jp", "jiro@example.jp"].iter().enumerate() {
        let user = net
            .home_user(
                email,
                &format!("Web User {i}"),
                &format!("03-3000-00{i:02}"),
            )
            .await;
        let photo = photo_jpeg(10 + i as u32, 1600, 1200, 90);
        let placed = place_internet_order(&user, &[("beach.jpg", photo)], 1, false).await;
        orders.push((placed.order.clone(), "L", None));
        internet.push((user, placed.order));
    }
    step(t0, "ten orders placed");

    // Each at the lab, waiting: its reception number.
    let numbers: Vec<String> = wait_for("ten receptions at the lab", 60, || async {
        let rows = lab_queue(&op, "received").await;
        let found: Vec<String> = orders
            .iter()
            .filter_map(|(o, _, _)| {
                rows.iter()
                    .find(|r| r["order_id"] == o.as_str())
                    .and_then(|r| r["reception_number"].as_str())
                    .map(str::to_string)
            })
            .collect();
        ((found.len() == orders.len()).then_some(found), json!(rows))
    })
    .await;
    step(t0, "ten receptions at the lab");

    // The console: the operator logs in (the API's session is the console's).
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .post(format!("{lab}/api/v1/login"))
        .json(
            &json!({"name": reprint_e2e::LAB_OPERATOR.0, "password": reprint_e2e::LAB_OPERATOR.1}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "log-in");
    let (s, queue, _) = console(&http, &lab, "/").await;
    assert_eq!(s, 200, "{queue}");
    for n in &numbers {
        assert!(
            queue.contains(&format!("data-reception=\"{n}\"")),
            "{n}: {queue}"
        );
    }

    // One batch start per printer and size.
    let hot = net.dir.path().join("lab-a").join("hot");
    let want = |size: &str| -> Vec<String> {
        let mut w: Vec<String> = orders
            .iter()
            .zip(&numbers)
            .filter(|((_, s, _), _)| *s == size)
            .map(|(_, n)| format!("{n}-{size}"))
            .collect();
        w.sort();
        w
    };
    for (printer, size) in [("minilab-1", "L"), ("large-1", "5x7")] {
        let csrf = csrf_of(&console(&http, &lab, "/").await.1);
        let r = http
            .post(format!("{lab}/batch/start"))
            .header("accept-language", "en")
            .form(&[
                ("csrf", csrf.as_str()),
                ("printer", printer),
                ("size", size),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let done = r.text().await.unwrap();
        let count = want(size).len();
        assert!(
            done.contains(&format!("{count} orders started on {printer}")),
            "{done}"
        );
    }
    // Rendering may go on after the start answered: wait for every job folder to appear.
    let folders: Vec<PathBuf> = wait_for("every job in the hot folders", 120, || async {
        let (l, big) = (jobs(&hot.join("minilab-1")), jobs(&hot.join("large-1")));
        let all_there = l == want("L") && big == want("5x7");
        let done = all_there.then(|| {
            l.iter()
                .map(|j| hot.join("minilab-1").join(j))
                .chain(big.iter().map(|j| hot.join("large-1").join(j)))
                .collect()
        });
        (done, json!({"minilab-1": l, "large-1": big}))
    })
    .await;
    assert_eq!(folders.len(), 10);
    for f in &folders {
        assert!(
            f.join("MISC").join("AUTPRINT.MRK").is_file() && f.join("ticket.json").is_file(),
            "a whole job: {}",
            f.display()
        );
    }
    step(t0, "two batch starts wrote ten jobs");

    // The station finishes them: a DONE file in each job folder.
    for f in &folders {
        std::fs::write(f.join("DONE"), b"").unwrap();
    }
    wait_for("ten receptions printed", 60, || async {
        let rows = lab_queue(&op, "printed").await;
        let n = numbers
            .iter()
            .filter(|n| rows.iter().any(|r| r["reception_number"] == n.as_str()))
            .count();
        ((n == numbers.len()).then_some(()), json!(rows))
    })
    .await;
    step(t0, "done markers finished them");

    // One dispatch to the counter, and its packing list.
    let (_, dispatch, _) = console(&http, &lab, "/dispatch").await;
    assert_eq!(dispatch.matches("name=\"r\"").count(), 10, "{dispatch}");
    let mut form: Vec<(&str, &str)> = vec![("csrf", "")];
    let csrf = csrf_of(&dispatch);
    form[0].1 = csrf.as_str();
    for n in &numbers {
        form.push(("r", n.as_str()));
    }
    let r = http
        .post(format!("{lab}/dispatch/{COUNTER}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    let (s, list, _) = console(&http, &lab, &to).await;
    assert_eq!(s, 200, "{list}");
    let code = list
        .split("REPRINT-PARCEL|")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .map(|s| format!("REPRINT-PARCEL|{s}"))
        .unwrap_or_else(|| panic!("the list's code: {list}"));
    let parts: Vec<&str> = code.split('|').collect();
    assert_eq!(&parts[..3], ["REPRINT-PARCEL", LAB, COUNTER], "{code}");
    let mut listed: Vec<&str> = parts[3].split(',').collect();
    listed.sort();
    let mut sorted: Vec<&str> = numbers.iter().map(String::as_str).collect();
    sorted.sort();
    assert_eq!(listed, sorted, "every reception on the list's code");
    for (_, _, slip) in &orders {
        if let Some(slip) = slip {
            assert!(list.contains(slip.as_str()), "{slip} on the list: {list}");
        }
    }
    assert!(list.contains("<svg"), "the code drawn: {list}");
    step(t0, "dispatched with the packing list");

    // At the counter the parcel waits until staff check it in, by the list's code.
    // Every order waits "sent by the lab" (arrived) until its parcel is checked in.
    for (_, _, slip) in &orders {
        if let Some(slip) = slip {
            wait_for(&format!("{slip} sent by the lab"), 60, || async {
                let (_, v) = staff.get(&format!("/api/v1/pickups/{slip}")).await;
                ((v["order"]["state"] == "arrived").then_some(()), v)
            })
            .await;
        }
    }
    for (user, order) in &internet {
        let v = reprint_e2e::flows::order_view(user, order).await;
        assert_ne!(
            v["stage"], "ready_for_pickup",
            "not before the check-in: {v}"
        );
    }
    // One scan of the packing list's code checks the whole parcel in (tried again until the
    // lab's dispatch of every reception on it has reached the counter).
    let staff_csrf = staff.csrf.clone().unwrap_or_default();
    wait_for("the parcel checked in by its packing list", 60, || async {
        let r = staff
            .http
            .post(format!("{}/arrivals/check-in", staff.base))
            .form(&[("csrf", staff_csrf.as_str()), ("label", code.as_str())])
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap_or_default();
        (
            (status < 400).then_some(()),
            json!({"status": status, "body": body}),
        )
    })
    .await;
    for (_, _, slip) in &orders {
        if let Some(slip) = slip {
            counter_wait_ready(&staff, slip, 30).await;
        }
    }
    for (user, order) in &internet {
        wait_for_stage(user, order, "ready_for_pickup", 60).await;
    }
    step(t0, "the parcel checked in: every order ready");

    // Items (4) and (5) of an internet order: when the lab started and finished its data.
    let web_number = &numbers[8];
    let (s, view) = op.get(&format!("/api/v1/receptions/{web_number}")).await;
    assert_eq!(s, 200, "{view}");
    let reception = view["file"]["receptions"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["number"] == web_number.as_str()))
        .cloned()
        .unwrap_or(Value::Null);
    let start = reception["data_receive"]["start"]
        .as_str()
        .unwrap_or_default();
    let finish = reception["data_receive"]["finish"]
        .as_str()
        .unwrap_or_default();
    assert!(
        !start.is_empty() && !finish.is_empty() && start <= finish,
        "items (4)/(5): {reception}"
    );
    let (_, page, _) = console(&http, &lab, &format!("/receptions/{web_number}")).await;
    assert!(
        page.contains("data-item=\"4\">") && !page.contains("data-item=\"4\"></td>"),
        "item (4) on the reception page: {page}"
    );
    // A walk-in card has no items (4)/(5): its data came on a medium.
    let (_, card) = op.get(&format!("/api/v1/receptions/{}", numbers[0])).await;
    let card_reception = card["file"]["receptions"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["number"] == numbers[0].as_str()))
        .cloned()
        .unwrap_or(Value::Null);
    assert!(card_reception["data_receive"].is_null(), "{card_reception}");

    // The search by the counter's slip number: the API and the console's scanner field.
    let slip = orders[3].2.clone().unwrap();
    let (s, found) = op.get(&format!("/api/v1/search?q={slip}")).await;
    assert_eq!(s, 200, "{found}");
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found[0]["reception_number"], numbers[3].as_str(), "{found}");
    assert_eq!(found[0]["counter_reception"], slip.as_str(), "{found}");
    let (s, _, to) = console(
        &http,
        &lab,
        &format!("/search?q={}", slip.to_ascii_lowercase()),
    )
    .await;
    assert_eq!(s, 303);
    assert_eq!(
        to.as_deref(),
        Some(format!("/receptions/{}", numbers[3]).as_str())
    );
    step(t0, "items (4)/(5) and the search by the counter's slip");
}
