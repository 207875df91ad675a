//! Fig. 1 end to end with the lab and the gateway on PostgreSQL (the counter on its embedded
//! SQLite, as a counter terminal runs).

use std::time::Instant;

use reprint_e2e::flows::{basic_after_discount, fig1};
use reprint_e2e::media::photo_jpeg;
use reprint_e2e::{Network, Options, TestPostgres, step};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fig1_with_the_lab_and_the_gateway_on_postgres() {
    let t0 = Instant::now();
    let lab_db = TestPostgres::create().await;
    let gateway_db = TestPostgres::create().await;
    let net = Network::start_with(Options {
        lab_store_url: Some(lab_db.url.clone()),
        gateway_store_url: Some(gateway_db.url.clone()),
        ..Options::default()
    })
    .await;
    step(t0, "network up on PostgreSQL");
    let user = net
        .home_user("hanako@example.jp", "Hanako Yamada", "03-1234-5678")
        .await;
    let done = fig1(
        &net,
        &user,
        &[("beach.jpg", photo_jpeg(1, 1600, 1200, 90))],
        2,
    )
    .await;
    assert_eq!(done.lab_reception, "B0000001");
    assert_eq!(basic_after_discount(&done.lab_charge), 250);
    assert_eq!(done.pickup["amount_due"], 250 + 60 + 250, "{}", done.pickup);
    assert_eq!(done.ledger[2], (310, 310, 310, 0));
    // The stores really are the PostgreSQL databases.
    assert!(
        std::fs::read_dir(net.dir.path().join("lab-a"))
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().ends_with(".sqlite")),
        "no SQLite file for the lab"
    );
    assert!(
        !net.dir.path().join("gateway/gateway.sqlite").exists(),
        "no SQLite file for the gateway"
    );
    drop(net);
    drop((lab_db, gateway_db));
    step(t0, "Fig. 1 on PostgreSQL done");
}
