//! Services log in to NATS with a `.creds` file (`nats.creds_file`): the decentralised
//! authentication of a NATS operator, its account and one user JWT per service, as `nsc` makes
//! them (here made by the test, `reprint_e2e::creds`). A client without credentials is refused;
//! Fig. 1 goes through with every service logged in as its own user.

use std::time::Instant;

use reprint_e2e::creds::Operator;
use reprint_e2e::flows::fig1;
use reprint_e2e::media::photo_jpeg;
use reprint_e2e::nats_users;
use reprint_e2e::{NatsServer, Network, Options, step};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fig1_runs_with_every_service_logged_in_by_its_creds_file() {
    let t0 = Instant::now();
    let operator = Operator::new();
    let nats = NatsServer::start_with_config(&operator.server_config(), &[]);

    // The server is in operator mode: no credentials, no connection.
    let anonymous = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .max_reconnects(Some(1))
        .connect(nats.url.as_str())
        .await;
    let refused = match &anonymous {
        Err(_) => true,
        Ok(client) => client.flush().await.is_err(),
    };
    assert!(
        refused,
        "an anonymous client was let in; the server says:\n{}",
        nats.log_text()
    );

    let mut env = Vec::new();
    let mut keys = Vec::new();
    for (svc, user) in [
        ("LAB", "lab-a"),
        ("COUNTER", "counter-ginza"),
        ("GATEWAY", "gw-1"),
    ] {
        let (creds, key) = operator.user_creds(user);
        keys.push((user, key));
        env.push((
            format!("REPRINT_{svc}__NATS__CREDS_FILE"),
            creds.display().to_string(),
        ));
    }
    let net = Network::start_with(Options {
        nats_url: Some(nats.url.clone()),
        env,
        ..Options::default()
    })
    .await;
    step(t0, "network up on an operator-mode server");
    let user = net
        .home_user("hanako@example.jp", "Hanako Yamada", "03-1234-5678")
        .await;
    let done = fig1(
        &net,
        &user,
        &[("beach.jpg", photo_jpeg(2, 800, 600, 90))],
        1,
    )
    .await;
    assert_eq!(done.receipt["method"], "cash");
    step(t0, "Fig. 1 collected and settled");

    // Each service is connected as the user of its own creds file.
    let port = nats.monitor_port.expect("monitoring port");
    let (users, connz) = nats_users::connected_users(port).await;
    for (user, key) in &keys {
        assert!(
            users.contains(key),
            "no connection of user {user} ({key}): {connz}"
        );
    }
    for svc in [&net.lab, &net.counter, &net.gateway] {
        assert!(
            !svc.log_tail(400).contains("SUA"),
            "{} logged a user seed",
            svc.name
        );
    }
    drop(net);
}
