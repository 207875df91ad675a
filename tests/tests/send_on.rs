//! Images sent on (seed 000, claims 5, 6, 15 f-g): an order printed at lab A is sent on to a
//! second lab for another product without uploading the images again; lab B receives the same
//! images (the same content hashes in its file and its job's ticket), charged by its own
//! price list; the user's photos show each image printed before at lab A, then at lab B too.

use std::time::Instant;

use reprint_e2e::flows::{
    lab_print_and_dispatch, operator_of, order_view, place_internet_order, start_lab,
    wait_for_lab_reception, wait_for_slip,
};
use reprint_e2e::media::photo_jpeg;
use reprint_e2e::{Network, step, wait_for};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_printed_at_one_lab_is_sent_on_to_another_without_uploading_again() {
    let t0 = Instant::now();
    let net = Network::start().await;
    let user = net
        .home_user("sachiko@example.jp", "Sachiko Ito", "03-5555-0101")
        .await;
    let photos = [
        ("harbour.jpg", photo_jpeg(11, 1600, 1200, 90)),
        ("temple.jpg", photo_jpeg(12, 1200, 1600, 90)),
    ];
    let first = place_internet_order(&user, &photos, 1, false).await;
    let slip = wait_for_slip(&user, &first.order, 30).await["slip"].clone();
    let at_a = slip["reception"]["number"].as_str().unwrap().to_string();
    let op_a = net.lab_operator().await;
    wait_for_lab_reception(&op_a, &at_a, 10).await;
    lab_print_and_dispatch(&op_a, &at_a).await;
    step(t0, &format!("printed at lab-a as {at_a}"));

    let lab_b = start_lab(&net, "lab-b", "B Corporation's laboratory", ("P", "Q")).await;
    step(t0, "lab-b up and in the site directory");
    let (_, before) = user.get("/api/v1/images").await;
    let uploads = before.as_array().map(Vec::len);

    // An image that is not the order's is refused, in words.
    let stranger = "0".repeat(64);
    let (s, v) = user
        .post(
            &format!("/api/v1/orders/{}/send-on", first.order),
            &json!({"to": "lab-b", "items": [{"image": stranger, "size": "2L", "quantity": 1}]}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert!(v.to_string().contains("not an image of order"), "{v}");

    // Sent on to lab-b as 2L prints: no bytes sent.
    let req = json!({
        "to": "lab-b",
        "items": first.images.iter()
            .map(|i| json!({"image": i, "size": "2L", "quantity": 1}))
            .collect::<Vec<_>>(),
    });
    let path = format!("/api/v1/orders/{}/send-on", first.order);
    let key = [("Idempotency-Key", "send-on-1")];
    let (s, sent) = user.post_with(&path, &req, &key).await;
    assert_eq!(s, 201, "send on: {sent}");
    assert_eq!(sent["lab"], "lab-b", "{sent}");
    assert_eq!(sent["reorder_of"], first.order.as_str(), "{sent}");
    assert_eq!(sent["used"], 0, "nothing uploaded for it: {sent}");
    let second = sent["order"].as_str().unwrap().to_string();
    assert_ne!(second, first.order);
    // The same key again answers the same order.
    let (s, again) = user.post_with(&path, &req, &key).await;
    assert_eq!(s, 201, "{again}");
    assert_eq!(again["order"], second.as_str(), "{again}");
    let (_, after) = user.get("/api/v1/images").await;
    assert_eq!(
        after.as_array().map(Vec::len),
        uploads,
        "no new upload: {after}"
    );
    step(t0, &format!("sent on as {second}"));

    // lab-b received it: its reception, its slip back on the gateway.
    let slip_b = wait_for_slip(&user, &second, 30).await["slip"].clone();
    let at_b = slip_b["reception"]["number"].as_str().unwrap().to_string();
    assert!(
        at_b.starts_with('Q'),
        "lab-b's own reception number: {slip_b}"
    );
    let op_b = operator_of(&lab_b).await;
    let rec = wait_for_lab_reception(&op_b, &at_b, 10).await;
    assert_eq!(rec["production"]["order_id"], second.as_str(), "{rec}");
    // Its file of the user holds the reception with the same images, by content hash.
    let receptions = rec["file"]["receptions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let there = receptions
        .iter()
        .find(|r| r["number"] == at_b.as_str())
        .unwrap_or_else(|| panic!("reception {at_b} in lab-b's file: {rec}"));
    let received: Vec<&str> = there["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["image"].as_str()).collect())
        .unwrap_or_default();
    let sent_images: Vec<&str> = first.images.iter().map(String::as_str).collect();
    assert_eq!(
        received, sent_images,
        "the same images by content hash: {there}"
    );
    // lab-b charges by its own list: its basic charge and two 2L prints, no repeat discount of
    // lab-a's (a discount is each site's own).
    let charge = &slip_b["reception"]["charge"];
    assert_eq!(charge["total"]["minor"], 250 + 2 * 80, "{charge}");
    step(t0, &format!("received at lab-b as {at_b}"));

    // lab-b prints them: the job in its own hot folder names the same images.
    let (s, row) = op_b
        .post(
            &format!("/api/v1/receptions/{at_b}/start-printing"),
            &Value::Null,
        )
        .await;
    assert_eq!(s, 200, "{row}");
    let ticket = net
        .dir
        .path()
        .join("lab-b/hot/minilab-1")
        .join(format!("{at_b}-2L"))
        .join("ticket.json");
    let ticket: Value = wait_for("lab-b's 2L job in its hot folder", 60, || async {
        let found = std::fs::read(&ticket)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        (found.clone(), json!(ticket.display().to_string()))
    })
    .await;
    let printed: Vec<&str> = ticket["files"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["image"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(printed, sent_images, "{ticket}");

    // The user's photos show both prints: lab-a's and now lab-b's.
    let images = wait_for("both prints in the user's photo list", 30, || async {
        let (_, v) = user.get("/api/v1/images").await;
        let both = v.as_array().is_some_and(|a| {
            a.iter().all(|i| {
                let before = i["printed"].as_array().cloned().unwrap_or_default();
                before.iter().any(|p| p["lab"] == "lab-a")
                    && before.iter().any(|p| p["lab"] == "lab-b")
            })
        });
        (both.then(|| v.clone()), v)
    })
    .await;
    assert_eq!(images.as_array().map(Vec::len), Some(2), "{images}");
    let view = order_view(&user, &second).await;
    assert_eq!(view["reorder_of"], first.order.as_str(), "{view}");
    step(t0, "sent on and printed at lab-b");
}

/// A counter's hot folder: the job folders (`<reception>-<size>`) with their tickets.
fn tickets_in(hot: &std::path::Path) -> Vec<Value> {
    std::fs::read_dir(hot)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read(e.path().join("ticket.json")).ok())
                .filter_map(|b| serde_json::from_slice::<Value>(&b).ok())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_sent_on_to_a_counter_that_prints_it_on_its_own_printer() {
    let t0 = Instant::now();
    let net = Network::start().await;
    let user = net
        .home_user("akiko@example.jp", "Akiko Mori", "03-7777-0101")
        .await;
    let photos = [
        ("river.jpg", photo_jpeg(21, 1600, 1200, 90)),
        ("garden.jpg", photo_jpeg(22, 1200, 1600, 90)),
    ];
    let first = place_internet_order(&user, &photos, 1, false).await;
    wait_for_slip(&user, &first.order, 30).await;
    step(t0, "ordered at lab-a for counter-ginza");

    // counter-shibuya with its own printer.
    let printer = tempfile::tempdir().unwrap();
    let hot = printer.path().join("hot");
    let env = |k: &str, v: &str| (format!("REPRINT_COUNTER__PRINTER__{k}"), v.to_string());
    let _shibuya = net
        .start_counter(
            "counter-shibuya",
            vec![
                env("NAME", "Shibuya QSS"),
                env("HOT_FOLDER", &hot.display().to_string()),
                env("SIZES", r#"["L", "2L", "Index"]"#),
            ],
        )
        .await;
    net.wait_for_sites(&["counter-shibuya"]).await;
    step(t0, "counter-shibuya up with its printer");

    // Naming another delivery counter beside a counter is refused in words.
    let path = format!("/api/v1/orders/{}/send-on", first.order);
    let (s, v) = user
        .post(
            &path,
            &json!({"to": "counter-shibuya", "counter": "counter-ginza"}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    // Its prints and an index print of both.
    let items = json!([
        {"image": first.images[0], "size": "L", "quantity": 1},
        {"image": first.images[1], "size": "L", "quantity": 1},
        {"image": first.images[0], "size": "Index", "quantity": 1},
    ]);
    let (s, sent) = user
        .post(&path, &json!({"to": "counter-shibuya", "items": items}))
        .await;
    assert_eq!(s, 201, "send on: {sent}");
    assert_eq!(
        sent["lab"], "lab-a",
        "made by the first order's lab: {sent}"
    );
    assert_eq!(sent["counter"], "counter-shibuya", "{sent}");
    assert_eq!(sent["used"], 0, "nothing uploaded for it: {sent}");

    // The lab sends it as print data; the counter prints the same images on its printer.
    let tickets = wait_for("the job in counter-shibuya's hot folder", 60, || async {
        let t = tickets_in(&hot);
        let files: usize = t
            .iter()
            .map(|t| t["files"].as_array().map_or(0, Vec::len))
            .sum();
        ((files == 3).then(|| t.clone()), json!(t))
    })
    .await;
    let files: Vec<Value> = tickets
        .iter()
        .flat_map(|t| t["files"].as_array().cloned().unwrap_or_default())
        .collect();
    assert!(
        files
            .iter()
            .any(|f| f["name"] == "index print of 2 images" && f["quantity"] == 1),
        "the counter prints the index print's sheet too: {files:?}"
    );
    let mut printed: Vec<String> = files
        .iter()
        .filter_map(|f| {
            f["image"]
                .as_str()
                .filter(|i| !i.is_empty())
                .map(str::to_string)
        })
        .collect();
    printed.sort();
    let mut sent_images = first.images.clone();
    sent_images.sort();
    assert_eq!(
        printed, sent_images,
        "the same images by content hash: {tickets:?}"
    );
    step(t0, "printed at counter-shibuya from the images sent on");
}
