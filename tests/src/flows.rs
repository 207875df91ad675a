//! The steps of the two flows as the people involved take them, through the services' HTTP
//! APIs: the home user on the gateway, the operator on the lab's console API, the staff on the
//! counter's API. Each step checks what that person would see.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{COUNTER, Client, LAB, Network, step, timeline_stages, wait_for};

/// What a home user's order left behind.
#[derive(Debug, Clone)]
pub struct Placed {
    pub order: String,
    /// The image ids (SHA-256) of the uploaded photos.
    pub images: Vec<String>,
    /// The quote of both sites (`QuoteView`), when asked for.
    pub quote: Option<Value>,
}

/// The home user makes an order, reserves storage, uploads `photos`, optionally asks for the
/// quote, and submits it for `LAB` with pickup at `COUNTER`, `quantity` L prints of each photo.
pub async fn place_internet_order(
    user: &Client,
    photos: &[(&str, Vec<u8>)],
    quantity: u32,
    with_quote: bool,
) -> Placed {
    let (s, created) = user.post("/api/v1/orders", &json!({})).await;
    assert_eq!(s, 201, "new order: {created}");
    let order = created["order"].as_str().expect("order id").to_string();
    let bytes: usize = photos.iter().map(|(_, b)| b.len()).sum();
    let (s, r) = user
        .put(
            &format!("/api/v1/orders/{order}/storage"),
            &json!({"bytes": bytes + 1024}),
        )
        .await;
    assert_eq!(s, 200, "reserve storage: {r}");
    let mut images = Vec::new();
    for (name, bytes) in photos {
        let (s, up) = user
            .put_bytes(
                &format!("/api/v1/orders/{order}/images?name={name}"),
                bytes.clone(),
            )
            .await;
        assert_eq!(s, 201, "upload {name}: {up}");
        images.push(up["image"].as_str().expect("image id").to_string());
    }
    let req = json!({
        "lab": LAB,
        "counter": COUNTER,
        "items": images
            .iter()
            .map(|i| json!({"image": i, "size": "L", "quantity": quantity}))
            .collect::<Vec<_>>(),
    });
    let quote = if with_quote {
        let (s, q) = user
            .post(&format!("/api/v1/orders/{order}/quote"), &req)
            .await;
        assert_eq!(s, 200, "quote: {q}");
        Some(q)
    } else {
        None
    };
    let key = format!("submit-{order}");
    let (s, v) = user
        .post_with(
            &format!("/api/v1/orders/{order}/submit"),
            &req,
            &[("Idempotency-Key", &key)],
        )
        .await;
    assert_eq!(s, 200, "submit: {v}");
    assert_eq!(v["stage"], "placed", "{v}");
    Placed {
        order,
        images,
        quote,
    }
}

/// The order as the user sees it on the gateway.
pub async fn order_view(user: &Client, order: &str) -> Value {
    let (s, v) = user.get(&format!("/api/v1/orders/{order}")).await;
    assert_eq!(s, 200, "order {order}: {v}");
    v
}

/// Waits until the gateway shows the lab's slip of the order; returns the order view.
pub async fn wait_for_slip(user: &Client, order: &str, secs: u64) -> Value {
    let path = format!("/api/v1/orders/{order}");
    wait_for(
        &format!("the slip of {order} on the gateway"),
        secs,
        || async {
            let (_, v) = user.get(&path).await;
            let found = v["slip"]["reception"]["number"]
                .is_string()
                .then(|| v.clone());
            (found, v)
        },
    )
    .await
}

/// Waits until the order's timeline on the gateway contains `stage`.
pub async fn wait_for_stage(user: &Client, order: &str, stage: &str, secs: u64) -> Value {
    let path = format!("/api/v1/orders/{order}");
    wait_for(&format!("stage {stage} of {order}"), secs, || async {
        let (_, v) = user.get(&path).await;
        let found = timeline_stages(&v)
            .iter()
            .any(|s| s == stage)
            .then(|| v.clone());
        (
            found,
            json!({"stage": v["stage"], "timeline": v["timeline"]}),
        )
    })
    .await
}

/// Waits until the lab shows reception `number` (in any state); returns it.
pub async fn wait_for_lab_reception(op: &Client, number: &str, secs: u64) -> Value {
    let path = format!("/api/v1/receptions/{number}");
    wait_for(&format!("reception {number} at the lab"), secs, || async {
        let (s, v) = op.get(&path).await;
        ((s == 200).then(|| v.clone()), v)
    })
    .await
}

/// The lab's queue in `state`.
pub async fn lab_queue(op: &Client, state: &str) -> Vec<Value> {
    let (s, v) = op.get(&format!("/api/v1/receptions?state={state}")).await;
    assert_eq!(s, 200, "queue: {v}");
    v[0]["receptions"].as_array().cloned().unwrap_or_default()
}

/// The operator prints, marks finished and dispatches reception `number`.
pub async fn lab_print_and_dispatch(op: &Client, number: &str) {
    for (action, state) in [
        ("start-printing", "printing"),
        ("finished", "printed"),
        ("dispatch", "dispatched"),
    ] {
        let (s, row) = op
            .post(
                &format!("/api/v1/receptions/{number}/{action}"),
                &Value::Null,
            )
            .await;
        assert_eq!(s, 200, "{action} {number}: {row}");
        assert_eq!(row["state"], state, "{action} {number}: {row}");
    }
}

/// The lab's ledger line for `COUNTER`: (charged, collected, paid, owed); zeros when absent.
pub async fn ledger(op: &Client) -> (i64, i64, i64, i64) {
    let (s, v) = op.get("/api/v1/ledger").await;
    assert_eq!(s, 200, "ledger: {v}");
    let line = v
        .as_array()
        .and_then(|a| a.iter().find(|l| l["counter"] == COUNTER).cloned())
        .unwrap_or(Value::Null);
    let n = |k: &str| line[k].as_i64().unwrap_or(0);
    (n("charged"), n("collected"), n("paid"), n("owed"))
}

/// Counter staff search by `q` (a slip number, the lab's or theirs) until the order is ready;
/// returns the pickup view.
pub async fn counter_wait_ready(staff: &Client, q: &str, secs: u64) -> Value {
    wait_for(&format!("{q} ready at the counter"), secs, || async {
        let (s, found) = staff.get(&format!("/api/v1/pickups?q={q}")).await;
        if s != 200 {
            return (None, found);
        }
        let Some(number) = found[0]["reception_number"].as_str() else {
            return (None, found);
        };
        let (_, view) = staff.get(&format!("/api/v1/pickups/{number}")).await;
        let ready = view["order"]["state"] == "ready_for_pickup" && view["can_collect"] == true;
        (ready.then(|| view.clone()), view)
    })
    .await
}

/// Staff take one cash payment of the amount due and hand the prints over.
pub async fn collect_in_cash(staff: &Client, reception: &str, amount_due: i64) -> Value {
    let (s, receipt) = staff
        .post(
            &format!("/api/v1/pickups/{reception}/collect"),
            &json!({"method": "cash", "tendered": amount_due}),
        )
        .await;
    assert_eq!(s, 200, "collect {reception}: {receipt}");
    receipt
}

/// Issue 15: the lab's share is settled by statement, not at hand-over. The counter's
/// statements up to today are sent (its day close) and each is confirmed at the lab.
pub async fn settle_by_statement(staff: &Client, op: &Client) {
    let (s, issued) = staff.post("/api/v1/statements", &json!({})).await;
    assert_eq!(s, 200, "the counter's statements: {issued}");
    for id in issued["issued"].as_array().cloned().unwrap_or_default() {
        let id = id.as_str().unwrap_or_default().to_string();
        wait_for(&format!("statement {id} at the lab"), 30, || async {
            let (_, list) = op.get("/api/v1/statements").await;
            let found = list
                .as_array()
                .and_then(|a| a.iter().find(|x| x["statement"] == id.as_str()).cloned());
            (found, list)
        })
        .await;
        let (s, v) = op
            .post(&format!("/api/v1/statements/{id}/confirm"), &json!({}))
            .await;
        assert_eq!(s, 200, "the lab confirms statement {id}: {v}");
    }
}

/// Sum of the amounts of `charge` lines (the gateway's JSON of a `Charge`).
pub fn line_amounts(charge: &Value) -> Vec<(String, i64)> {
    charge["lines"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| {
                    (
                        l["description"].as_str().unwrap_or_default().to_string(),
                        l["amount"]["minor"]
                            .as_i64()
                            .or_else(|| l["amount"].as_i64())
                            .unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The basic charge after its discount: the basic-charge line plus the discount lines that
/// reduce it (a `Charge` as JSON: lines with `kind` = "basic_charge" / {"discount": {"of"}}).
pub fn basic_after_discount(charge: &Value) -> i64 {
    let lines = charge["lines"].as_array().cloned().unwrap_or_default();
    let mut total = 0;
    for l in &lines {
        let amount = l["amount"]["minor"].as_i64().unwrap_or(0);
        if l["kind"] == "basic_charge" {
            total += amount;
        } else if let Some(of) = l["kind"]["discount"]["of"].as_u64()
            && lines
                .get(of as usize)
                .is_some_and(|b| b["kind"] == "basic_charge")
        {
            total += amount;
        }
    }
    total
}

/// The outcome of one Fig. 1 order.
#[derive(Debug, Clone)]
pub struct Fig1 {
    pub placed: Placed,
    /// The lab's reception number (the slip).
    pub lab_reception: String,
    /// The lab's charge on the slip (a `Charge` as JSON).
    pub lab_charge: Value,
    /// The counter's pickup view when the order was ready.
    pub pickup: Value,
    pub receipt: Value,
    /// The order on the gateway at the end.
    pub order: Value,
    /// The lab's ledger for the counter: before the order, after dispatch, after collection.
    pub ledger: [(i64, i64, i64, i64); 3],
}

/// Fig. 1 from the upload to the collection, every site by its own policy; checks what holds
/// for every such order (the amount due is the lab's charge plus the counter's, one payment,
/// the timeline reaches `collected`, the ledger moves by the lab's charge).
pub async fn fig1(net: &Network, user: &Client, photos: &[(&str, Vec<u8>)], quantity: u32) -> Fig1 {
    fig1_checked(net, user, photos, quantity, true).await
}

/// As [`fig1`]; `quote_is_charge`: whether to require that each site charges what it quoted.
pub async fn fig1_checked(
    net: &Network,
    user: &Client,
    photos: &[(&str, Vec<u8>)],
    quantity: u32,
    quote_is_charge: bool,
) -> Fig1 {
    let t0 = Instant::now();
    let op = net.lab_operator().await;
    let staff = net.counter_staff().await;
    let before = ledger(&op).await;

    let placed = place_internet_order(user, photos, quantity, true).await;
    let quote = placed.quote.clone().expect("quote");
    assert!(
        !line_amounts(&quote["lab"]["charge"]).is_empty()
            && !line_amounts(&quote["counter"]["charge"]).is_empty(),
        "the quote explains both sites' charges: {quote}"
    );
    step(t0, "ordered on the gateway");

    let view = wait_for_slip(user, &placed.order, 30).await;
    let slip = view["slip"].clone();
    let lab_reception = slip["reception"]["number"].as_str().unwrap().to_string();
    let lab_charge = slip["reception"]["charge"].clone();
    let lab_total = lab_charge["total"]["minor"].as_i64().expect("lab total");
    if quote_is_charge {
        assert_eq!(
            quote["lab"]["charge"]["total"], lab_charge["total"],
            "the lab charges what it quoted: {quote} / {lab_charge}"
        );
    }
    let lines_sum: i64 = line_amounts(&lab_charge).iter().map(|(_, a)| a).sum();
    assert_eq!(lines_sum, lab_total, "the lines add up: {lab_charge}");
    step(t0, &format!("lab reception {lab_reception} on the slip"));

    let rec = wait_for_lab_reception(&op, &lab_reception, 10).await;
    assert_eq!(rec["production"]["state"], "received", "{rec}");
    assert_eq!(rec["production"]["order_id"], placed.order, "{rec}");
    lab_print_and_dispatch(&op, &lab_reception).await;
    let after_dispatch = ledger(&op).await;
    assert_eq!(
        after_dispatch.0 - before.0,
        lab_total,
        "the lab charges the counter its share at dispatch: {after_dispatch:?}"
    );
    assert_eq!(
        (after_dispatch.0 - after_dispatch.2) - (before.0 - before.2),
        lab_total,
        "the counter owes the lab's charge until it settles: {after_dispatch:?}"
    );
    step(t0, "lab printed and dispatched");

    let pickup = counter_wait_ready(&staff, &lab_reception, 30).await;
    let counter_total = pickup["counter_charge"]["total"].as_i64().unwrap();
    assert_eq!(pickup["lab_charge"]["total"], lab_total, "{pickup}");
    assert_eq!(
        pickup["amount_due"].as_i64(),
        Some(lab_total + counter_total),
        "amount due = lab charge + counter charge: {pickup}"
    );
    if quote_is_charge {
        assert_eq!(
            quote["counter"]["charge"]["total"]["minor"].as_i64(),
            Some(counter_total),
            "the counter charges what it quoted: {quote} / {pickup}"
        );
    }
    assert_eq!(pickup["order"]["lab_reception"], lab_reception.as_str());
    step(t0, "ready at the counter");

    let number = pickup["order"]["reception_number"]
        .as_str()
        .unwrap()
        .to_string();
    let receipt = collect_in_cash(&staff, &number, lab_total + counter_total).await;
    assert_eq!(
        receipt["amount_due"],
        lab_total + counter_total,
        "{receipt}"
    );
    assert_eq!(receipt["lab_charge"], lab_total, "{receipt}");
    assert_eq!(receipt["counter_charge"], counter_total, "{receipt}");
    assert_eq!(receipt["change"], 0, "{receipt}");
    // Once collected it cannot be collected again.
    let (s, again) = staff
        .post(
            &format!("/api/v1/pickups/{number}/collect"),
            &json!({"method": "cash", "tendered": lab_total + counter_total}),
        )
        .await;
    assert_eq!(s, 409, "a second collection is refused: {again}");
    step(t0, "collected with one payment");

    let order = wait_for_stage(user, &placed.order, "collected", 30).await;
    let stages = timeline_stages(&order);
    for want in [
        "placed",
        "received",
        "printing",
        "printed",
        "dispatched",
        "ready_for_pickup",
        "collected",
    ] {
        assert!(
            stages.iter().any(|s| s == want),
            "{want} on the timeline: {stages:?}"
        );
    }
    settle_by_statement(&staff, &op).await;
    let after_collection = wait_for("the settlement in the lab's ledger", 30, || async {
        let l = ledger(&op).await;
        let done = l.2 - before.2 == lab_total && l.1 - before.1 == lab_total;
        (done.then_some(l), json!(format!("{l:?}")))
    })
    .await;
    assert_eq!(after_collection.3, before.3, "nothing owed after settling");
    assert_eq!(after_collection.0, after_dispatch.0, "charged once");
    step(t0, "settled in the lab's ledger");
    let (_, rec) = op.get(&format!("/api/v1/receptions/{lab_reception}")).await;
    assert!(
        ["collected", "settled"].contains(&rec["production"]["state"].as_str().unwrap_or("")),
        "the lab's reception follows: {rec}"
    );
    Fig1 {
        placed,
        lab_reception,
        lab_charge,
        pickup,
        receipt,
        order,
        ledger: [before, after_dispatch, after_collection],
    }
}

/// A short pause (for letting consumers run when nothing can be observed).
pub async fn pause(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Starts another lab of the network as a process (images sent on to a second lab):
/// `deploy/local/lab-a.toml` as `site`, named `name`, with its own registration and reception
/// number prefixes, data directory, hot folders, port and log under the network's directory, on
/// the network's NATS; returns it healthy once the gateway's site directory lists it.
pub async fn start_lab(
    net: &Network,
    site: &str,
    name: &str,
    prefixes: (&str, &str),
) -> crate::Service {
    use crate::{path_str, read_toml, set, workspace_root, write_toml};
    let root = net.dir.path();
    let dir = root.join(site);
    std::fs::create_dir_all(&dir).unwrap();
    let port = reprint_testkit::nats::free_port();
    let mut table = read_toml(&workspace_root().join("deploy/local/lab-a.toml"));
    set(&mut table, &["data_dir"], path_str(&dir));
    set(&mut table, &["site", "site"], site);
    set(&mut table, &["site", "name"], name);
    set(
        &mut table,
        &["site", "registration_number", "prefix"],
        prefixes.0,
    );
    set(
        &mut table,
        &["site", "reception_number", "prefix"],
        prefixes.1,
    );
    set(
        &mut table,
        &["http", "address"],
        format!("127.0.0.1:{port}"),
    );
    set(&mut table, &["production", "done_marker_poll_ms"], 500);
    if let Some(toml::Value::Array(printers)) = table.get_mut("printers") {
        for p in printers.iter_mut() {
            let t = p.as_table_mut().expect("[[printers]]");
            let printer = t["name"].as_str().expect("printer name").to_string();
            t.insert(
                "hot_folder".into(),
                path_str(&dir.join("hot").join(printer)).into(),
            );
        }
    }
    let config = root.join(format!("{site}.toml"));
    write_toml(&config, &table);
    let mut service = crate::Service {
        name: site.to_string(),
        binary: crate::binaries().join("reprint-lab"),
        config,
        env: vec![("REPRINT_LAB__NATS__URL".to_string(), net.nats_url.clone())],
        log: root.join(format!("{site}.log")),
        port,
        child: None,
    };
    service.start().await;
    net.wait_for_sites(&[site]).await;
    service
}

/// The operator logged in to the console API of `lab` (another lab than the network's own).
pub async fn operator_of(lab: &crate::Service) -> Client {
    let mut c = Client::new(&lab.base());
    let (s, v) = c
        .post(
            "/api/v1/login",
            &json!({"name": crate::LAB_OPERATOR.0, "password": crate::LAB_OPERATOR.1}),
        )
        .await;
    assert_eq!(s, 200, "log-in at {}: {v}", lab.name);
    c.csrf = v["csrf_token"].as_str().map(str::to_string);
    c
}
