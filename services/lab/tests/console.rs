//! The lab's operator console and JSON API in process: log-in, sessions and CSRF tokens on the
//! pages and the API, the OpenAPI document.

mod common;

use reprint_domain::protocol::{OrderPlaced, OrderRejected, ReceptionRecorded, RejectCode};
use reprint_domain::*;

use common::*;

// ------------------------------------------------------------------ console

#[tokio::test]
async fn the_console_needs_a_log_in_and_csrf_tokens() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let image = peer.upload(7).await;
    let order = internet_order(image, PrintSize::L, at);
    peer.place(&order).await;
    let _: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == order.order,
    )
    .await;

    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(
            anon.get(lab.url(path)).send().await.unwrap().status(),
            200,
            "{path}"
        );
    }
    let r = anon.get(lab.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    for path in [
        "/api/v1/receptions",
        "/api/v1/openapi.json",
        "/api/v1/ledger",
        "/api/v1/receptions/B0000001",
    ] {
        assert_eq!(
            anon.get(lab.url(path)).send().await.unwrap().status(),
            401,
            "{path}"
        );
    }
    let r = anon
        .post(lab.url("/login"))
        .form(&[("name", "operator"), ("password", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "a log-in form without this browser's token"
    );

    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The log-in form carries this browser's pre-log-in token (log-in CSRF).
    let form = http
        .get(lab.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = form.find("name=\"csrf\" value=\"").unwrap() + 19;
    let token = form[at..at + form[at..].find('"').unwrap()].to_string();
    let r = http
        .post(lab.url("/login"))
        .form(&[
            ("csrf", token.as_str()),
            ("name", "operator"),
            ("password", "change-me"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = http
        .get(lab.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("B0000001"), "{page}");
    // The lab's own language (Tokyo: Japanese) unless the browser asks for English.
    let page = http
        .get(lab.url("/receptions/B0000001"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("利用者識別エリア")
            && page.contains("受付内容エリア")
            && page.contains("A0000001"),
        "{page}"
    );
    let page = http
        .get(lab.url("/receptions/B0000001"))
        .header("accept-language", "en-GB,en;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("User ID area")
            && page.contains("Reception contents area")
            && page.contains("A0000001"),
        "{page}"
    );
    assert!(page.contains("Hanako Yamada") && page.contains("basic charge per order"));
    // A form without the CSRF token is refused, and nothing happens.
    let r = http
        .post(lab.url("/receptions/B0000001/start-printing"))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .post(lab.url("/receptions/B0000001/start-printing"))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .post(lab.url("/api/v1/receptions/B0000001/start-printing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let q: serde_json::Value = http
        .get(lab.url("/api/v1/receptions?state=received"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(q[0]["receptions"][0]["reception_number"], "B0000001");
    // Search by reception, registration and telephone.
    for q in ["b0000001", "A0000001", "03-1234-5678"] {
        let found: serde_json::Value = http
            .get(lab.url(&format!("/api/v1/search?q={q}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(found.as_array().map(|a| a.len()), Some(1), "{q}: {found}");
    }
    // Reject with a reason through the console form: the sender hears it.
    let page = http
        .get(lab.url("/receptions/B0000001"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = http
        .post(lab.url("/receptions/B0000001/reject"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("reason", "the card is unreadable"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let rej: OrderRejected = next(&mut replies, "order.rejected", |r: &OrderRejected| {
        r.order == order.order
    })
    .await;
    assert_eq!(rej.code, RejectCode::ByOperator);
    assert!(rej.reason.contains("unreadable"));
    // Bad input is a 4xx, never a 500.
    for (path, code) in [
        ("/api/v1/receptions?state=bogus", 400),
        ("/api/v1/receptions/ZZZ", 404),
        ("/receptions/%FF", 400),
    ] {
        assert_eq!(
            http.get(lab.url(path)).send().await.unwrap().status(),
            code,
            "{path}"
        );
    }
    let spec: serde_json::Value = http
        .get(lab.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["paths"]["/api/v1/receptions/{number}/{action}"].is_object());
    lab.stop().await;
}

// ------------------------------------------------------------------ the production floor

/// The CSRF token of a page's first form.
fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no CSRF field in {page}"))
        .to_string()
}

async fn page(http: &reqwest::Client, lab: &Running, path: &str) -> (u16, String) {
    let r = http
        .get(lab.url(path))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Four orders: two internet L (one with too few pixels and no data times from its sender),
/// one a counter sent for L (its slip X0001004), one internet 5x7 on the large printer.
pub async fn four_orders(peer: &Peer, at: chrono::DateTime<chrono::Utc>) -> Vec<OrderPlaced> {
    let mut inbox = peer.subscribe("reprint.v1.>").await;
    let small =
        reprint_media::synthetic::jpeg(&reprint_media::synthetic::photo(3, 320, 240), 85).unwrap();
    let tiny = peer.upload_bytes(&small).await;
    let mut o1 = internet_order(tiny, PrintSize::L, at);
    o1.data_receive = None;
    let o2 = internet_order(peer.upload(21).await, PrintSize::L, at);
    let mut o3 = internet_order(peer.upload(22).await, PrintSize::L, at);
    o3.route = file::Route::CounterMedium;
    o3.sender = protocol::Sender::Counter(site(COUNTER));
    o3.data_receive = None;
    o3.counter_extract = Some(counter_extract(at, o3.order));
    let o4 = internet_order(peer.upload(23).await, PrintSize::In5x7, at);
    let mut placed = Vec::new();
    for o in [o1, o2, o3, o4] {
        peer.place(&o).await;
        let _: ReceptionRecorded =
            next(&mut inbox, "reception.recorded", |r: &ReceptionRecorded| {
                r.order == o.order
            })
            .await;
        placed.push(o);
    }
    placed
}

#[tokio::test]
async fn queue_batch_start_search_by_the_counters_slip_and_a_packing_list() {
    production_floor(false).await;
}

#[tokio::test]
async fn queue_batch_start_search_by_the_counters_slip_and_a_packing_list_on_postgres() {
    production_floor(true).await;
}

async fn production_floor(pg: bool) {
    let rig = Rig::new(pg).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    four_orders(&peer, at).await;
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    log_in(&http, &lab).await;

    // The queue: every reception waiting, a batch start per printer and size, counts.
    let (s, queue) = page(&http, &lab, "/").await;
    assert_eq!(s, 200);
    for n in ["B0000001", "B0000002", "B0000003", "B0000004"] {
        assert!(
            queue.contains(&format!("data-reception=\"{n}\"")),
            "{n}: {queue}"
        );
    }
    assert!(queue.contains("Waiting (4)"), "{queue}");
    assert!(
        queue.contains("minilab-1, L (89 × 127 mm): start 3 orders (6 prints)"),
        "{queue}"
    );
    assert!(queue.contains("large-1, 5x7"), "{queue}");
    assert!(
        queue.contains("X0001004"),
        "the counter's slip number on its card"
    );
    assert!(queue.contains("width=device-width"));
    // Filters: the counter's orders only; the live part is the same markup.
    let (_, counter_only) = page(&http, &lab, "/queue/live?route=counter_medium").await;
    assert!(counter_only.contains("data-reception=\"B0000003\""));
    assert!(
        !counter_only.contains("data-reception=\"B0000001\""),
        "{counter_only}"
    );
    let (_, large) = page(&http, &lab, "/?printer=large-1").await;
    assert!(large.contains("data-reception=\"B0000004\""));
    assert!(!large.contains("data-reception=\"B0000002\""));

    // Items (4) and (5) for the internet order whose sender gave no times; the sender's own
    // times where it gave them; none for the counter's medium.
    let view: serde_json::Value = http
        .get(lab.url("/api/v1/receptions/B0000001"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mine = view["file"]["receptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["number"] == "B0000001")
        .unwrap();
    assert!(mine["data_receive"]["start"].is_string(), "{mine}");
    assert!(mine["data_receive"]["finish"].is_string(), "{mine}");
    let (_, b1) = page(&http, &lab, "/receptions/B0000001").await;
    assert!(
        b1.contains("<td data-item=\"4\">18 Nov 2026, 10:00</td>")
            && b1.contains("<td data-item=\"5\">18 Nov 2026, 10:00</td>"),
        "{b1}"
    );
    // The preflight where the operator decides: 320 px on 127 mm is 64 dpi.
    assert!(b1.contains("64 dpi on paper, 150 wanted"), "{b1}");
    let (_, b2) = page(&http, &lab, "/receptions/B0000002").await;
    assert!(!b2.contains("dpi on paper"), "enough pixels: no warning");
    let thumb = http
        .get(lab.url("/receptions/B0000001/prints/0"))
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.status(), 200);
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");
    assert_eq!(&thumb.bytes().await.unwrap()[..2], &[0xFF, 0xD8]);
    assert_eq!(
        http.get(lab.url("/receptions/B0000001/prints/9"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // Search: the counter's slip number opens the reception; a name lists every order.
    let r = http
        .get(lab.url("/search?q=x0001004"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/receptions/B0000003");
    let (_, by_name) = page(&http, &lab, "/search?q=hanako").await;
    assert!(by_name.contains("4 receptions found"), "{by_name}");
    let (_, nothing) = page(&http, &lab, "/search?q=%25_").await;
    assert!(nothing.contains("Nothing found"), "{nothing}");
    // The JSON API's search finds the same, with the customer and the counter's slip number.
    let api_search = |q: &str| {
        let r = http.get(lab.url(&format!("/api/v1/search?q={q}"))).send();
        async move {
            let r = r.await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (s, slip) = api_search("x0001004").await;
    assert_eq!(s, 200, "{slip}");
    let slip = slip.as_array().unwrap();
    assert_eq!(slip.len(), 1, "{slip:?}");
    assert_eq!(slip[0]["reception_number"], "B0000003");
    assert_eq!(slip[0]["counter_reception"], "X0001004");
    assert_eq!(slip[0]["route"], "counter_medium");
    let (_, by_name) = api_search("HANAKO").await;
    assert_eq!(by_name.as_array().unwrap().len(), 4, "{by_name}");
    assert!(
        by_name
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["customer"].as_str().unwrap().contains("Hanako")),
        "{by_name}"
    );
    let (_, by_telephone) = api_search("03-1234-5678").await;
    assert!(
        by_telephone
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|f| f["customer"] == "Hanako Yamada")),
        "{by_telephone}"
    );
    let (_, none) = api_search("%25_").await;
    assert_eq!(none, serde_json::json!([]));
    let (s, long) = api_search(&"x".repeat(101)).await;
    assert_eq!(s, 400, "{long}");
    let spec: serde_json::Value = http
        .get(lab.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hit = &spec["components"]["schemas"]["SearchHit"];
    assert!(
        hit.to_string().contains("counter_reception") && hit.to_string().contains("customer"),
        "{hit}"
    );
    assert!(
        spec["paths"]["/api/v1/search"]["get"]["parameters"][0]["description"]
            .as_str()
            .is_some_and(|d| d.contains("slip")),
        "{}",
        spec["paths"]["/api/v1/search"]
    );

    // One batch start of minilab-1 and L writes every job of it, and nothing on large-1.
    let csrf = csrf_of(&queue);
    let r = http
        .post(lab.url("/batch/start"))
        .header("accept-language", "en")
        .form(&[
            ("csrf", csrf.as_str()),
            ("printer", "minilab-1"),
            ("size", "L"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let done = r.text().await.unwrap();
    assert!(done.contains("3 orders started on minilab-1"), "{done}");
    let hot = rig.dir.path().join("hot/minilab-1");
    written(&[1, 2, 3].map(|n| hot.join(format!("B000000{n}-L")))).await;
    assert_eq!(
        list(&hot),
        vec![
            hot.join("B0000001-L"),
            hot.join("B0000002-L"),
            hot.join("B0000003-L")
        ]
    );
    assert!(list(&rig.dir.path().join("hot/large-1")).is_empty());
    // Printer status from the hot folder's markers.
    std::fs::write(hot.join("B0000001-L").join("TAKEN"), b"").unwrap();
    let (_, printers) = page(&http, &lab, "/printers").await;
    for want in [
        "<td data-jobs=\"lab-job-waiting\">2</td>",
        "<td data-jobs=\"lab-job-taken\">1</td>",
        "<td data-jobs=\"lab-job-done\">0</td>",
        "rated 600 prints an hour",
    ] {
        assert!(printers.contains(want), "{want}: {printers}");
    }
    // Without the token nothing starts.
    let r = http
        .post(lab.url("/batch/start"))
        .form(&[("printer", "large-1"), ("size", "5x7")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(list(&rig.dir.path().join("hot/large-1")).is_empty());

    // The station finishes them; the dispatch page lists them for the counter.
    for n in ["B0000001", "B0000002", "B0000003"] {
        std::fs::write(hot.join(format!("{n}-L")).join("DONE"), b"").unwrap();
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let dispatch = loop {
        let (_, d) = page(&http, &lab, "/dispatch").await;
        if d.matches("name=\"r\"").count() == 3 {
            break d;
        }
        assert!(tokio::time::Instant::now() < deadline, "{d}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let (_, printers) = page(&http, &lab, "/printers").await;
    assert!(
        printers.contains("<td data-jobs=\"lab-job-done\">3</td>"),
        "{printers}"
    );
    let csrf = csrf_of(&dispatch);
    let r = http
        .post(lab.url("/dispatch/counter-ginza"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("r", "B0000001"),
            ("r", "B0000002"),
            ("r", "B0000003"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        to,
        "/packing-list?counter=counter-ginza&r=B0000001,B0000002,B0000003"
    );
    let (s, list_page) = page(&http, &lab, &to).await;
    assert_eq!(s, 200);
    for want in [
        "B0000001",
        "B0000003",
        "X0001004",
        "Hanako Yamada",
        "<svg",
        "REPRINT-PARCEL|lab-a|counter-ginza|B0000001,B0000002,B0000003",
    ] {
        assert!(list_page.contains(want), "{want}: {list_page}");
    }
    let q: serde_json::Value = http
        .get(lab.url("/api/v1/receptions?state=dispatched"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(q[0]["receptions"].as_array().map(|a| a.len()), Some(3));

    // Reprint evidence: the same photo (by perceptual hash, other bytes) printed here before
    // for the same registration is shown where the operator decides.
    let mut inbox = peer.subscribe("reprint.v1.>").await;
    let mut first = internet_order(peer.upload(41).await, PrintSize::L, at);
    first.items[0].perceptual_hash = Some(0x0F0F_F0F0_1234_5678);
    first.customer.registration_number = Some("A0000001".into());
    let mut again = internet_order(peer.upload(42).await, PrintSize::L, at);
    again.items[0].perceptual_hash = Some(0x0F0F_F0F0_1234_5679);
    again.items[0].name = "renamed.jpg".into();
    again.customer.registration_number = Some("A0000001".into());
    for o in [&first, &again] {
        peer.place(o).await;
        let _: ReceptionRecorded =
            next(&mut inbox, "reception.recorded", |r: &ReceptionRecorded| {
                r.order == o.order
            })
            .await;
    }
    let (_, b5) = page(&http, &lab, "/receptions/B0000005").await;
    assert!(!b5.contains("Printed here before"), "{b5}");
    let (_, b6) = page(&http, &lab, "/receptions/B0000006").await;
    assert!(
        b6.contains("Printed here before")
            && b6.contains("the same photo was printed here on 2026-11-18 (reception B0000005)"),
        "{b6}"
    );
    lab.stop().await;
}

/// Waits (30 s at most) for the print workers to write job folders `dirs` (printing starts at
/// once; rendering follows beside it).
async fn written(dirs: &[std::path::PathBuf]) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while !dirs.iter().all(|d| d.exists()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{dirs:?} not written within 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}
