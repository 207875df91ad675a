//! The operator leaves one image of an order out on the console (issue 16): the sender hears
//! why in words, printing writes only the other image, and leaving out the last image rejects
//! the order.

mod common;

use reprint_domain::protocol::{
    OrderPlaced, OrderRejected, ReceptionRecorded, RejectCode, Stage, StatusChanged,
};
use reprint_domain::*;

use common::*;

fn two_images(first: ImageId, second: ImageId, at: chrono::DateTime<chrono::Utc>) -> OrderPlaced {
    let mut order = internet_order(first, PrintSize::L, at);
    let mut other = order.items[0].clone();
    other.image = second;
    other.name = "IMG_0002.JPG".into();
    other.quantity = 3;
    order.items.push(other);
    order
}

/// The console's CSRF token, from the reception's page.
async fn page_token(http: &reqwest::Client, lab: &Running, number: &str) -> (String, String) {
    let page = http
        .get(lab.url(&format!("/receptions/{number}")))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    let token = page[at..at + page[at..].find('"').unwrap()].to_string();
    (token, page)
}

async fn reject_on_console(
    http: &reqwest::Client,
    lab: &Running,
    number: &str,
    image: ImageId,
    why: &str,
    text: &str,
) -> (reqwest::StatusCode, String) {
    let (token, _) = page_token(http, lab, number).await;
    let r = http
        .post(lab.url(&format!(
            "/receptions/{number}/images/{}/reject",
            image.to_hex()
        )))
        .header("accept-language", "en")
        .form(&[
            ("csrf", token.as_str()),
            ("why", why),
            ("text", text),
            ("confirm", "yes"),
        ])
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.text().await.unwrap())
}

#[tokio::test]
async fn the_operator_leaves_one_image_out_and_the_last_one_rejects_the_order() {
    let rig = Rig::new(false).await;
    let at = tokyo(2026, 11, 18, 10);
    let lab = Running::start(rig.config(), Some(at)).await;
    let peer = Peer::connect(&rig.nats.url).await;
    let mut replies = peer.subscribe("reprint.v1.gateway.gw-1.>").await;
    let mut status = peer.subscribe("reprint.v1.status.>").await;
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let csrf = log_in(&http, &lab).await;
    let hot = rig.dir.path().join("hot/minilab-1");

    let (a, b) = (peer.upload(31).await, peer.upload(32).await);
    let order = two_images(a, b, at);
    peer.place(&order).await;
    let r: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == order.order,
    )
    .await;
    let number = r.extract.reception.number.as_str().to_string();
    let full = r.extract.reception.charge.clone();

    // The page offers to leave each image out, with a reason picker and a confirmation.
    let (_, page) = page_token(&http, &lab, &number).await;
    assert!(
        page.contains(&format!("/images/{}/reject", a.to_hex()))
            && page.contains(&format!("/images/{}/reject", b.to_hex()))
            && page.contains("resolution is too low")
            && page.contains("type=\"checkbox\""),
        "{page}"
    );

    // Not confirmed, or no reason: refused in words, nothing happens.
    let (token, _) = page_token(&http, &lab, &number).await;
    let r = http
        .post(lab.url(&format!(
            "/receptions/{number}/images/{}/reject",
            a.to_hex()
        )))
        .header("accept-language", "en")
        .form(&[("csrf", token.as_str()), ("why", "resolution")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (code, body) = reject_on_console(&http, &lab, &number, a, "other", "  ").await;
    assert_eq!(code, 400, "{body}");

    // Leave the first image out: the sender hears why, in words.
    let (code, body) = reject_on_console(&http, &lab, &number, a, "resolution", "").await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("Not printed"), "{body}");
    let s: StatusChanged = next(&mut status, "", |s: &StatusChanged| {
        s.order == order.order && s.detail.contains("IMG_0001.JPG")
    })
    .await;
    assert_eq!(s.stage, Stage::Received);
    assert!(
        s.detail
            .contains("The image's resolution is too low for this print size."),
        "{}",
        s.detail
    );
    // It carries the amended charge: the rejected image's prints are gone, the rest stays.
    let amended = s.charge.clone().expect("the amended charge");
    let prints_of = |c: &Charge, i: ImageId| -> Vec<i64> {
        c.lines
            .iter()
            .filter(|l| matches!(l.kind, LineKind::Prints { image, .. } if image == i))
            .map(|l| l.amount.minor)
            .collect()
    };
    assert!(prints_of(&amended, a).is_empty(), "{amended:?}");
    assert_eq!(prints_of(&amended, b), prints_of(&full, b));
    assert_eq!(amended.basic_charge(), full.basic_charge());
    assert_eq!(
        amended.total.minor,
        full.total.minor - prints_of(&full, a).iter().sum::<i64>(),
        "{full:?} -> {amended:?}"
    );
    eprintln!("charge {} -> {}", full.total, amended.total);
    // The lab's file says so too (its page's charge).
    let (_, page) = page_token(&http, &lab, &number).await;
    assert!(!page.contains("print of IMG_0001.JPG"), "{page}");
    // Twice is once.
    let (code, _) = reject_on_console(&http, &lab, &number, a, "resolution", "").await;
    assert_eq!(code, 200);

    // Printing writes only the other image's job.
    let row = act(&http, &lab, &csrf, &number, "start-printing").await;
    assert_eq!(row["state"], "printing");
    let job = hot.join(format!("{number}-L"));
    written(std::slice::from_ref(&job)).await;
    let jpgs: Vec<_> = list(&job)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "JPG"))
        .collect();
    assert_eq!(jpgs.len(), 1, "{jpgs:?}");
    let ticket = std::fs::read_to_string(job.join("ticket.json")).unwrap();
    assert!(
        ticket.contains("IMG_0002.JPG") && !ticket.contains("IMG_0001.JPG"),
        "{ticket}"
    );

    // A second order: leaving out its last image rejects the order.
    let (c, d) = (peer.upload(33).await, peer.upload(34).await);
    let order = two_images(c, d, at);
    peer.place(&order).await;
    let r: ReceptionRecorded = next(
        &mut replies,
        "reception.recorded",
        |r: &ReceptionRecorded| r.order == order.order,
    )
    .await;
    let number = r.extract.reception.number.as_str().to_string();
    let (code, _) = reject_on_console(&http, &lab, &number, c, "damaged", "").await;
    assert_eq!(code, 200);
    let (_, page) = page_token(&http, &lab, &number).await;
    assert!(page.contains("last image to print"), "{page}");
    let (code, body) = reject_on_console(
        &http,
        &lab,
        &number,
        d,
        "other",
        "the photo is of a banknote",
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let rej: OrderRejected = next(&mut replies, "order.rejected", |r: &OrderRejected| {
        r.order == order.order
    })
    .await;
    assert_eq!(rej.code, RejectCode::ByOperator);
    assert!(
        rej.reason.contains("the photo is of a banknote"),
        "{}",
        rej.reason
    );
    let mut tx = lab.lab.store.begin().await.unwrap();
    let row = reprint_lab::db::production_by_reception(&mut tx, &number)
        .await
        .unwrap()
        .unwrap();
    drop(tx);
    assert_eq!(row.state, "rejected");
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
