//! The edges of an order's life end to end (issue 12), the services as processes on a private
//! nats-server:
//!
//! 1. The operator starts printing, then rejects: the job leaves the printer's hot folder (or,
//!    where the station took it, is voided), and the home user's order ends `rejected` with the
//!    operator's reason.
//! 2. A home user cancels before printing: downloading the image with its history (XMP and ZIP)
//!    lists no print of that order.
//! 3. A quote and a submit with `rotate 45` or a quantity of 1000 are refused by the gateway in
//!    the lab's own words (`check_order`), and the lab never receives the order.
//! 4. A redelivered or reordered message takes effect once: copies of `OrderPlaced`,
//!    `CollectionRecorded`, `StatementIssued`, `DeliveryDispatched` and a late status published
//!    straight to JetStream under new message ids change nothing; a cancellation that overtakes
//!    its order opens nothing at the lab.

use std::path::{Path, PathBuf};
use std::time::Instant;

use async_nats::jetstream;
use bytes::Bytes;
use reprint_bus::streams::{
    ConsumerSettings, STREAM_COUNTER, STREAM_LAB, STREAM_STATUS, durable_consumer_for,
    status_consumer_for,
};
use reprint_bus::subjects::{self, SiteId, SiteKind};
use reprint_domain::PrintSize;
use reprint_domain::protocol::{Customer, PlacedItem};
use reprint_e2e::flows::{
    fig1, lab_print_and_dispatch, order_view, place_internet_order, wait_for_slip, wait_for_stage,
};
use reprint_e2e::media::photo_jpeg;
use reprint_e2e::{COUNTER, Client, LAB, Network, eventually, stage_counts, step, wait_for};
use serde_json::{Value, json};

const GATEWAY: &str = "gw-1";
const HANAKO: (&str, &str, &str) = ("hanako@example.jp", "Hanako Yamada", "03-1234-5678");

// ------------------------------------------------------------------ helpers

/// The job folder of lab reception `number` for L prints in the printer `minilab-1`.
fn job_folder(net: &Network, number: &str) -> PathBuf {
    net.dir
        .path()
        .join("lab-a/hot/minilab-1")
        .join(format!("{number}-L"))
}

/// The names of the files and folders in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every reception of the lab (all states) for `order`.
async fn lab_receptions_of(op: &Client, order: &str) -> Vec<Value> {
    let (s, groups) = op.get("/api/v1/receptions").await;
    assert_eq!(s, 200, "{groups}");
    groups
        .as_array()
        .expect("the lab's queues")
        .iter()
        .flat_map(|g| g["receptions"].as_array().cloned().unwrap_or_default())
        .filter(|r| r["order_id"] == order)
        .collect()
}

/// The reception numbers an image's download lists as prints: plain (its XMP) and as the ZIP
/// container.
async fn printed_as(user: &Client, image: &str) -> (Vec<String>, Vec<String>) {
    let get = |path: String| async move {
        let r = user
            .http
            .get(format!("{}{path}", user.base))
            .send()
            .await
            .expect("download");
        assert_eq!(r.status(), 200, "{path}");
        r.bytes().await.expect("download bytes").to_vec()
    };
    let plain = get(format!("/api/v1/images/{image}")).await;
    let xmp = reprint_media::history::xmp::read_history(&plain).expect("the image's XMP");
    let zip = get(format!("/api/v1/images/{image}?format=zip")).await;
    let container = reprint_media::history::container::read_container(
        std::io::Cursor::new(zip),
        &reprint_media::Limits::default(),
    )
    .expect("the ZIP container");
    let numbers = |h: reprint_media::PrintHistory| {
        h.entries
            .into_iter()
            .map(|r| r.reception_number)
            .collect::<Vec<_>>()
    };
    (numbers(xmp), numbers(container.history))
}

async fn jetstream_of(net: &Network) -> jetstream::Context {
    let client = async_nats::connect(&net.nats_url)
        .await
        .expect("connect to the nats-server");
    jetstream::new(client)
}

/// The messages stored on `subject` in `stream` (payload as JSON, stream sequence).
async fn stored(js: &jetstream::Context, stream: &str, subject: &str) -> Vec<(Value, Bytes)> {
    let stream = js.get_stream(stream).await.expect("the stream");
    let mut out = Vec::new();
    // (async-nats 0.51: `get_first_raw_message_by_subject(subject, seq)` is the first message
    // on `subject` from sequence `seq` on.)
    let mut from = 1;
    while let Ok(m) = stream.get_first_raw_message_by_subject(subject, from).await {
        let v: Value = serde_json::from_slice(&m.payload).unwrap_or(Value::Null);
        out.push((v, m.payload.clone()));
        from = m.sequence + 1;
    }
    out
}

/// The one message stored on `subject` in `stream` about `order` that `pick` chooses.
async fn stored_one(
    js: &jetstream::Context,
    stream: &str,
    subject: &str,
    order: &str,
    pick: impl Fn(&Value) -> bool,
) -> Bytes {
    let all = stored(js, stream, subject).await;
    let mine: Vec<&(Value, Bytes)> = all
        .iter()
        .filter(|(v, _)| v["order"] == order && pick(v))
        .collect();
    assert_eq!(mine.len(), 1, "one such message on {subject}: {all:?}");
    mine[0].1.clone()
}

/// Publishes `payload` to `subject` under the message id `id` (as a relay would redeliver it,
/// or a second sender would send a copy); returns its stream sequence.
async fn publish(js: &jetstream::Context, subject: &str, payload: Bytes, id: &str) -> u64 {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", id);
    headers.insert("Content-Type", "application/json");
    let ack = js
        .publish_with_headers(subject.to_string(), headers, payload)
        .await
        .expect("publish")
        .await
        .expect("the stream's ack");
    assert!(!ack.duplicate, "{id} is a new message id");
    ack.sequence
}

/// Waits until the durable consumer `consumer` of `stream` has acknowledged (handled, committed)
/// everything up to stream sequence `seq`.
async fn wait_handled(js: &jetstream::Context, stream: &str, consumer: &str, seq: u64) {
    let stream = js.get_stream(stream).await.expect("the stream");
    eventually(&format!("{consumer} handled up to {seq}"), 30, || async {
        stream
            .consumer_info(consumer)
            .await
            .is_ok_and(|i| i.ack_floor.stream_sequence >= seq && i.num_ack_pending == 0)
    })
    .await;
}

/// The counter's arrivals (ready, awaiting, notices) for `order`.
async fn counter_arrivals_of(staff: &Client, order: &str) -> Vec<Value> {
    let (s, a) = staff.get("/api/v1/arrivals").await;
    assert_eq!(s, 200, "{a}");
    ["ready", "awaiting", "notices"]
        .iter()
        .flat_map(|k| a[*k].as_array().cloned().unwrap_or_default())
        .filter(|o| o["order"] == order)
        .collect()
}

fn site(id: &str) -> SiteId {
    SiteId::parse(id).expect("a site id")
}

// ------------------------------------------------------------------ 1. reject while printing

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_rejected_while_printing_leaves_the_hot_folder_and_the_user_sees_the_reason() {
    let t0 = Instant::now();
    let net = Network::start().await;
    let op = net.lab_operator().await;
    let user = net.home_user(HANAKO.0, HANAKO.1, HANAKO.2).await;
    step(t0, "network up");

    // Two orders on to printing: their jobs are in the printer's hot folder.
    let mut orders = Vec::new();
    for seed in [11, 12] {
        let placed = place_internet_order(
            &user,
            &[("IMG.jpg", photo_jpeg(seed, 1200, 900, 85))],
            1,
            false,
        )
        .await;
        let view = wait_for_slip(&user, &placed.order, 30).await;
        let number = view["slip"]["reception"]["number"]
            .as_str()
            .unwrap()
            .to_string();
        let (s, row) = op
            .post(
                &format!("/api/v1/receptions/{number}/start-printing"),
                &Value::Null,
            )
            .await;
        assert_eq!(s, 200, "start printing {number}: {row}");
        assert_eq!(row["state"], "printing", "{row}");
        // A print worker writes the job after the start returned.
        let job = job_folder(&net, &number);
        let expected = vec![
            format!("{number}-01.JPG"),
            "MISC".to_string(),
            "ticket.json".to_string(),
        ];
        wait_for(
            &format!("the job of {number} in the hot folder"),
            30,
            || async {
                let names = names_in(&job);
                ((names == expected).then_some(()), json!(names))
            },
        )
        .await;
        assert!(job.join("MISC/AUTPRINT.MRK").is_file(), "{}", job.display());
        // While it stands, the order is a print in the image's history.
        let (xmp, zip) = printed_as(&user, &placed.images[0]).await;
        assert_eq!(xmp, [number.as_str()], "printing: a print (XMP)");
        assert_eq!(zip, [number.as_str()], "printing: a print (ZIP)");
        orders.push((placed, number));
    }
    let (first, first_number) = &orders[0];
    let (second, second_number) = &orders[1];
    step(t0, "two orders printing");

    // The station has taken the second job (its marker), not the first.
    let taken = job_folder(&net, second_number);
    std::fs::write(taken.join("TAKEN"), b"").unwrap();

    let reasons = [
        (first_number, "the image is damaged"),
        (second_number, "the customer called"),
    ];
    for (number, reason) in reasons {
        let (s, row) = op
            .post(
                &format!("/api/v1/receptions/{number}/reject"),
                &json!({ "reason": reason }),
            )
            .await;
        assert_eq!(s, 200, "reject {number}: {row}");
    }
    step(t0, "both rejected by the operator");

    // The job not taken leaves the hot folder: no print station prints a rejected order.
    let gone = job_folder(&net, first_number);
    eventually(
        &format!("{} removed from the hot folder", gone.display()),
        20,
        || async { !gone.exists() },
    )
    .await;
    // The job taken is voided with the reason; its prints are for the operator to take out.
    let void = wait_for("the VOID marker of the taken job", 20, || async {
        let text = std::fs::read_to_string(taken.join("VOID")).ok();
        (text, json!(names_in(&taken)))
    })
    .await;
    assert!(void.contains("the customer called"), "{void}");
    assert!(
        taken.join(format!("{second_number}-01.JPG")).is_file(),
        "a taken job stays, voided: {:?}",
        names_in(&taken)
    );
    step(t0, "the jobs withdrawn");

    // The home user's orders end rejected with the operator's words.
    for ((placed, number), (_, reason)) in orders.iter().zip(reasons) {
        let view = wait_for_stage(&user, &placed.order, "rejected", 30).await;
        assert_eq!(view["stage"], "rejected", "{view}");
        assert!(
            view["detail"].as_str().unwrap_or_default().contains(reason),
            "the operator's reason: {view}"
        );
        let rec = op.get(&format!("/api/v1/receptions/{number}")).await.1;
        assert_eq!(rec["production"]["state"], "rejected", "{rec}");
        // A rejected order made no print: the image's history does not list it.
        let (xmp, zip) = printed_as(&user, &placed.images[0]).await;
        assert!(
            xmp.is_empty() && zip.is_empty(),
            "no print: {xmp:?} {zip:?}"
        );
    }
    assert_ne!(first.order, second.order);
    step(t0, "the user sees both rejected with the reasons");
}

// ------------------------------------------------------------------ 2. cancel, then download

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_cancelled_before_printing_is_no_print_in_the_downloaded_history() {
    let t0 = Instant::now();
    let net = Network::start().await;
    let op = net.lab_operator().await;
    let user = net.home_user(HANAKO.0, HANAKO.1, HANAKO.2).await;
    let photo = photo_jpeg(21, 1200, 900, 88);

    // The photo printed once, dispatched to the counter.
    let printed = place_internet_order(&user, &[("IMG.jpg", photo.clone())], 1, false).await;
    let view = wait_for_slip(&user, &printed.order, 30).await;
    let printed_number = view["slip"]["reception"]["number"]
        .as_str()
        .unwrap()
        .to_string();
    lab_print_and_dispatch(&op, &printed_number).await;
    step(t0, "printed once");

    // The same photo ordered again, received by the lab, then cancelled before printing.
    let again = place_internet_order(&user, &[("IMG.jpg", photo)], 2, false).await;
    assert_eq!(again.images, printed.images, "the same image (SHA-256)");
    let view = wait_for_slip(&user, &again.order, 30).await;
    let cancelled_number = view["slip"]["reception"]["number"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(cancelled_number, printed_number);
    let image = &printed.images[0];
    let (xmp, zip) = printed_as(&user, image).await;
    assert_eq!(
        (xmp.len(), zip.len()),
        (2, 2),
        "both orders are prints until one is cancelled: {xmp:?} {zip:?}"
    );
    let (s, c) = user
        .post(
            &format!("/api/v1/orders/{}/cancel", again.order),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200, "cancel: {c}");
    assert_eq!(c["stage"], "cancelled", "{c}");
    // The lab takes it out of its queue.
    wait_for("the lab's reception cancelled", 30, || async {
        let (_, rec) = op
            .get(&format!("/api/v1/receptions/{cancelled_number}"))
            .await;
        let done = rec["production"]["state"] == "cancelled";
        (done.then_some(()), rec)
    })
    .await;
    step(t0, "cancelled before printing");

    let (xmp, zip) = printed_as(&user, image).await;
    assert_eq!(
        xmp,
        [printed_number.as_str()],
        "the cancelled order is no print (XMP)"
    );
    assert_eq!(
        zip,
        [printed_number.as_str()],
        "the cancelled order is no print (ZIP)"
    );
    let view = order_view(&user, &again.order).await;
    assert_eq!(view["stage"], "cancelled", "{view}");
    step(t0, "the download lists the print only");
}

// ------------------------------------------------------------------ 3. refused at the door

/// What `check_order` says of one line of Hanako's order (the lab's words).
fn check_order_words(image: &str, quantity: u32, edits: Option<&Value>) -> String {
    let customer = Customer {
        name: HANAKO.1.into(),
        telephone: HANAKO.2.into(),
        address: Some("1-2-3 Ginza, Chuo-ku, Tokyo".into()),
        email: Some(HANAKO.0.into()),
        registration_number: None,
    };
    let item = PlacedItem {
        image: reprint_domain::ImageId::parse(image).expect("an image id"),
        name: "IMG.jpg".into(),
        size: PrintSize::parse("L").unwrap(),
        quantity,
        edits: edits.map(Value::to_string),
        perceptual_hash: None,
        history: vec![],
    };
    let sizes = [PrintSize::parse("L").unwrap()];
    reprint_domain::check_order(&customer, &[item], &sizes[..])
        .expect_err("check_order refuses it")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_and_a_submit_the_lab_would_refuse_are_refused_by_the_gateway_in_its_words() {
    let t0 = Instant::now();
    let net = Network::start().await;
    let op = net.lab_operator().await;
    let user = net.home_user(HANAKO.0, HANAKO.1, HANAKO.2).await;
    let js = jetstream_of(&net).await;

    // A draft with one uploaded photo.
    let photo = photo_jpeg(31, 1200, 900, 85);
    let (s, created) = user.post("/api/v1/orders", &json!({})).await;
    assert_eq!(s, 201, "{created}");
    let draft = created["order"].as_str().unwrap().to_string();
    let (s, r) = user
        .put(
            &format!("/api/v1/orders/{draft}/storage"),
            &json!({"bytes": photo.len() + 1024}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let (s, up) = user
        .put_bytes(
            &format!("/api/v1/orders/{draft}/images?name=IMG.jpg"),
            photo,
        )
        .await;
    assert_eq!(s, 201, "{up}");
    let image = up["image"].as_str().unwrap().to_string();

    let rotate45 = json!([{"op": "rotate", "degrees": 45}]);
    let cases = [
        (
            json!({"image": image, "size": "L", "quantity": 1, "edits": rotate45}),
            check_order_words(&image, 1, Some(&rotate45)),
        ),
        (
            json!({"image": image, "size": "L", "quantity": 1000}),
            check_order_words(&image, 1000, None),
        ),
    ];
    assert_eq!(
        cases[0].1,
        "edits of IMG.jpg: rotation must be 90, 180 or 270, not 45"
    );
    assert_eq!(cases[1].1, "1000 x L of IMG.jpg: a quantity is 1 to 999");
    for (i, (item, words)) in cases.iter().enumerate() {
        let req = json!({"lab": LAB, "counter": COUNTER, "items": [item]});
        let (s, b) = user
            .post(&format!("/api/v1/orders/{draft}/quote"), &req)
            .await;
        assert_eq!(s, 422, "quote {item}: {b}");
        assert_eq!(b["detail"], *words, "quote {item}: {b}");
        let key = format!("refused-{i}");
        let (s, b) = user
            .post_with(
                &format!("/api/v1/orders/{draft}/submit"),
                &req,
                &[("Idempotency-Key", &key)],
            )
            .await;
        assert_eq!(s, 422, "submit {item}: {b}");
        assert_eq!(b["detail"], *words, "submit {item}: {b}");
    }
    let view = order_view(&user, &draft).await;
    assert_eq!(view["stage"], "draft", "nothing placed: {view}");
    step(t0, "rotate 45 and 1000 prints refused at quote and submit");

    // A good order placed after them reaches the lab; the refused one never did.
    let good = place_internet_order(
        &user,
        &[("OTHER.jpg", photo_jpeg(32, 1200, 900, 85))],
        999,
        true,
    )
    .await;
    wait_for_slip(&user, &good.order, 30).await;
    let placed = stored(&js, STREAM_LAB, &subjects::order_placed(&site(LAB))).await;
    let ids: Vec<&Value> = placed.iter().map(|(v, _)| &v["order"]).collect();
    assert_eq!(
        ids,
        [&json!(good.order)],
        "the lab's inbox got the good order only"
    );
    assert!(lab_receptions_of(&op, &draft).await.is_empty());
    assert_eq!(lab_receptions_of(&op, &good.order).await.len(), 1);
    // The draft can still be placed, right-angled.
    let ok = json!({"lab": LAB, "counter": COUNTER, "items": [
        {"image": image, "size": "L", "quantity": 1, "edits": [{"op": "rotate", "degrees": 90}]}
    ]});
    let (s, q) = user
        .post(&format!("/api/v1/orders/{draft}/quote"), &ok)
        .await;
    assert_eq!(s, 200, "a right angle is quoted: {q}");
    step(t0, "the lab never received the refused order");
}

// ------------------------------------------------------------------ 4. once, whatever comes again

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_and_reordered_messages_take_effect_once() {
    let t0 = Instant::now();
    let net = Network::start().await;
    let op = net.lab_operator().await;
    let staff = net.counter_staff().await;
    let user = net.home_user(HANAKO.0, HANAKO.1, HANAKO.2).await;
    let js = jetstream_of(&net).await;
    let done = fig1(
        &net,
        &user,
        &[("IMG.jpg", photo_jpeg(41, 1200, 900, 85))],
        2,
    )
    .await;
    let order = done.placed.order.clone();
    let lab_total = done.lab_charge["total"]["minor"].as_i64().unwrap();
    wait_for_stage(&user, &order, "settled", 30).await;
    step(t0, "Fig. 1 done and settled");

    // What everyone shows before the copies.
    let receptions_before = lab_receptions_of(&op, &order).await;
    assert_eq!(receptions_before.len(), 1, "{receptions_before:?}");
    let rec_before = op
        .get(&format!("/api/v1/receptions/{}", done.lab_reception))
        .await
        .1;
    let ledger_before = reprint_e2e::flows::ledger(&op).await;
    assert_eq!(ledger_before, (lab_total, lab_total, lab_total, 0));
    let gw_before = order_view(&user, &order).await;
    assert_eq!(gw_before["stage"], "settled", "{gw_before}");
    let counter_number = done.pickup["order"]["reception_number"]
        .as_str()
        .unwrap()
        .to_string();
    let arrivals_before = counter_arrivals_of(&staff, &order).await;
    let pickup_before = staff
        .get(&format!("/api/v1/pickups/{counter_number}"))
        .await
        .1;

    // The messages as they were stored.
    let lab = site(LAB);
    let order_id = subjects::OrderId::parse(&order).unwrap();
    let placed = stored_one(
        &js,
        STREAM_LAB,
        &subjects::order_placed(&lab),
        &order,
        |_| true,
    )
    .await;
    let collected = stored_one(
        &js,
        STREAM_LAB,
        &subjects::collection_recorded(&lab),
        &order,
        |_| true,
    )
    .await;
    // The lab's share is settled by a statement of the counter's (issue 15): the one listing
    // this order.
    let settled = stored(&js, STREAM_LAB, &subjects::statement_issued(&lab))
        .await
        .into_iter()
        .find(|(v, _)| {
            v["lines"]
                .as_array()
                .is_some_and(|l| l.iter().any(|x| x["order"] == order.as_str()))
        })
        .map(|(_, b)| b)
        .expect("the statement listing the order");
    let dispatched = stored_one(
        &js,
        STREAM_COUNTER,
        &subjects::delivery_dispatched(&site(COUNTER)),
        &order,
        |_| true,
    )
    .await;
    let received = stored_one(
        &js,
        STREAM_STATUS,
        &subjects::status(&lab, &order_id),
        &order,
        |v| v["stage"] == "received",
    )
    .await;

    // Copies under new message ids: the order again (after it was settled: reordered), the
    // collection and the statement twice each, the delivery again, a late `received`.
    let mut lab_seq = 0;
    for (subject, payload, id) in [
        (subjects::order_placed(&lab), &placed, "copy-placed-1"),
        (
            subjects::collection_recorded(&lab),
            &collected,
            "copy-collected-1",
        ),
        (subjects::statement_issued(&lab), &settled, "copy-settled-1"),
        (subjects::statement_issued(&lab), &settled, "copy-settled-2"),
        (
            subjects::collection_recorded(&lab),
            &collected,
            "copy-collected-2",
        ),
    ] {
        lab_seq = publish(&js, &subject, payload.clone(), id).await;
    }
    let counter_seq = publish(
        &js,
        &subjects::delivery_dispatched(&site(COUNTER)),
        dispatched,
        "copy-dispatched-1",
    )
    .await;
    let status_seq = publish(
        &js,
        &subjects::status(&lab, &order_id),
        received,
        "copy-received-1",
    )
    .await;
    let lab_inbox = durable_consumer_for(&lab, SiteKind::Lab);
    let counter_inbox = durable_consumer_for(&site(COUNTER), SiteKind::Counter);
    let gw_status = status_consumer_for(&site(GATEWAY), &ConsumerSettings::default());
    wait_handled(&js, STREAM_LAB, lab_inbox.name(), lab_seq).await;
    wait_handled(&js, STREAM_COUNTER, counter_inbox.name(), counter_seq).await;
    wait_handled(&js, STREAM_STATUS, gw_status.name(), status_seq).await;
    step(
        t0,
        "the copies handled by the lab, the counter and the gateway",
    );

    // The lab: one reception, as it was; charged, collected and paid once.
    let receptions = lab_receptions_of(&op, &order).await;
    assert_eq!(receptions, receptions_before, "one reception at the lab");
    let rec = op
        .get(&format!("/api/v1/receptions/{}", done.lab_reception))
        .await
        .1;
    assert_eq!(
        rec["production"]["state"], rec_before["production"]["state"],
        "{rec}"
    );
    assert_eq!(
        reprint_e2e::flows::ledger(&op).await,
        ledger_before,
        "the ledger moves once"
    );
    // The counter: one order, still collected.
    let (_, found) = staff
        .get(&format!("/api/v1/pickups?q={}", done.lab_reception))
        .await;
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    let arrivals = counter_arrivals_of(&staff, &order).await;
    assert_eq!(arrivals, arrivals_before, "nothing to hand over again");
    let pickup = staff
        .get(&format!("/api/v1/pickups/{counter_number}"))
        .await
        .1;
    assert_eq!(
        pickup["order"]["state"], pickup_before["order"]["state"],
        "{pickup}"
    );
    assert_eq!(pickup["can_collect"], false, "{pickup}");
    // The gateway: still settled, every later stage once.
    let gw = order_view(&user, &order).await;
    assert_eq!(
        gw["stage"], "settled",
        "a late status moves nothing back: {gw}"
    );
    let (before, after) = (stage_counts(&gw_before), stage_counts(&gw));
    for stage in ["dispatched", "ready_for_pickup", "collected", "settled"] {
        assert_eq!(after.get(stage), Some(&1), "{stage}: {after:?}");
        assert_eq!(after.get(stage), before.get(stage), "{stage}");
    }
    step(t0, "everything took effect once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_that_overtakes_its_order_opens_nothing_at_the_lab() {
    let t0 = Instant::now();
    let net = Network::start().await;
    let op = net.lab_operator().await;
    let user = net.home_user(HANAKO.0, HANAKO.1, HANAKO.2).await;
    let js = jetstream_of(&net).await;
    let lab = site(LAB);

    // A real order (B0000001), whose message is the model of the one that is overtaken.
    let first = place_internet_order(
        &user,
        &[("IMG.jpg", photo_jpeg(51, 1200, 900, 85))],
        1,
        false,
    )
    .await;
    let view = wait_for_slip(&user, &first.order, 30).await;
    assert_eq!(view["slip"]["reception"]["number"], "B0000001", "{view}");
    let model = stored_one(
        &js,
        STREAM_LAB,
        &subjects::order_placed(&lab),
        &first.order,
        |_| true,
    )
    .await;

    // Another order of the same sender: its cancellation arrives first, then the order itself
    // (twice: a redelivery).
    let late = uuid::Uuid::now_v7().to_string();
    let mut order: Value = serde_json::from_slice(&model).unwrap();
    order["order"] = json!(late);
    let cancel = json!({
        "order": late, "lab": LAB, "reason": "cancelled by the user",
        "at": chrono::Utc::now().to_rfc3339(),
    });
    let order = Bytes::from(serde_json::to_vec(&order).unwrap());
    publish(
        &js,
        &subjects::order_cancelled(&lab),
        Bytes::from(serde_json::to_vec(&cancel).unwrap()),
        "early-cancel-1",
    )
    .await;
    publish(
        &js,
        &subjects::order_placed(&lab),
        order.clone(),
        "late-order-1",
    )
    .await;
    let seq = publish(&js, &subjects::order_placed(&lab), order, "late-order-2").await;
    let lab_inbox = durable_consumer_for(&lab, SiteKind::Lab);
    wait_handled(&js, STREAM_LAB, lab_inbox.name(), seq).await;
    step(t0, "cancellation, order and its copy handled");

    // The lab opened nothing: no reception, no number used; it said the order is cancelled.
    assert!(
        lab_receptions_of(&op, &late).await.is_empty(),
        "no reception for an order cancelled before it arrived"
    );
    let late_id = subjects::OrderId::parse(&late).unwrap();
    let statuses = stored(&js, STREAM_STATUS, &subjects::status(&lab, &late_id)).await;
    let stages: Vec<&Value> = statuses.iter().map(|(v, _)| &v["stage"]).collect();
    assert_eq!(stages, [&json!("cancelled")], "{statuses:?}");
    let next = place_internet_order(
        &user,
        &[("NEXT.jpg", photo_jpeg(52, 1200, 900, 85))],
        1,
        false,
    )
    .await;
    let view = wait_for_slip(&user, &next.order, 30).await;
    assert_eq!(
        view["slip"]["reception"]["number"], "B0000002",
        "the next order takes the next number: {view}"
    );
    let (_, rec) = op.get("/api/v1/receptions/B0000001").await;
    assert_eq!(rec["production"]["state"], "received", "{rec}");
    step(t0, "nothing opened for the overtaken order");
}
