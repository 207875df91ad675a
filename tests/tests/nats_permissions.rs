//! `deploy/nats/users.conf` as shipped (the file itself is the server's configuration; ports
//! and the JetStream store come from the command line): every service runs logged in as its
//! own NATS user, and a user cannot read another site's inbox or publish what is another
//! site's to say.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures::StreamExt;
use reprint_bus::objects::{ImageStoreSettings, Images};
use reprint_bus::subjects::{self, SiteId, SiteKind};
use reprint_bus::{ProvisionSettings, streams};
use reprint_e2e::flows::fig1;
use reprint_e2e::media::photo_jpeg;
use reprint_e2e::nats_users::{self, password, server_env};
use reprint_e2e::{NatsServer, Network, Options, step, workspace_root};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

fn users_conf() -> PathBuf {
    workspace_root().join("deploy/nats/users.conf")
}

/// nats-server with the shipped users.conf and the test's passwords, checked to be the one
/// listening on its port.
///
/// The test kit picks two free ports (client and monitor) and frees them before nats-server
/// binds them; in between another test's server, or a service binding port 0, may take one.
/// nats-server then stops with "address already in use", but the kit's readiness check (a TCP
/// connect) is answered by whoever holds the port, and the services talk NATS to, say, an HTTP
/// monitor until the lab gives up: "lab could not reach its NATS server for 30 s" (the flake
/// this test once had). The server's own log says whether it listens; if not, fresh ports.
fn server() -> NatsServer {
    let env = server_env();
    let mut failed = Vec::new();
    for _ in 0..5 {
        let nats = NatsServer::start_with_config(&users_conf(), &env);
        match listening(&nats) {
            Ok(()) => return nats,
            Err(log) => failed.push(log),
        }
    }
    panic!(
        "nats-server did not start on its own ports in 5 attempts:\n{}",
        failed.join("\n---\n")
    );
}

/// Whether the server says it is ready and listening on its client port; its log otherwise.
fn listening(nats: &NatsServer) -> Result<(), String> {
    let on_port = format!(
        "Listening for client connections on 127.0.0.1:{}",
        nats.port
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = nats.log_text();
        if log.contains(&on_port) && log.contains("Server is ready") {
            return Ok(());
        }
        if log.contains("[FTL]") || Instant::now() > deadline {
            return Err(log);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn violations(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("Violation") || l.contains("Authorization Error"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fig1_runs_with_every_service_logged_in_as_its_own_user() {
    let t0 = Instant::now();
    let nats = server();
    let env = |svc: &str, user: &str| {
        [
            (format!("REPRINT_{svc}__NATS__USER"), user.to_string()),
            (
                format!("REPRINT_{svc}__NATS__PASSWORD"),
                password(user).to_string(),
            ),
        ]
    };
    let mut all = Vec::new();
    all.extend(env("LAB", "lab-a"));
    all.extend(env("COUNTER", "counter-ginza"));
    all.extend(env("GATEWAY", "gw-1"));
    let net = Network::start_with(Options {
        nats_url: Some(nats.url.clone()),
        env: all,
        ..Options::default()
    })
    .await;
    step(t0, "network up, every service logged in");
    let user = net
        .home_user("hanako@example.jp", "Hanako Yamada", "03-1234-5678")
        .await;
    let done = fig1(
        &net,
        &user,
        &[("beach.jpg", photo_jpeg(1, 800, 600, 90))],
        1,
    )
    .await;
    assert_eq!(done.lab_reception, "B0000001");
    assert_eq!(done.receipt["method"], "cash");
    step(t0, "Fig. 1 collected and settled");

    // Every user really logged in as itself, and nothing the services did was refused.
    let log = nats.log_text();
    assert!(
        violations(&log).is_empty(),
        "users.conf refused something the services do:\n{}",
        violations(&log).join("\n")
    );
    for svc in [&net.lab, &net.counter, &net.gateway] {
        let tail = svc.log_tail(400);
        assert!(
            !tail.contains(password("lab-a"))
                && !tail.contains(password("counter-ginza"))
                && !tail.contains(password("gw-1")),
            "{} logged a NATS password",
            svc.name
        );
    }
    let port = nats.monitor_port.expect("monitoring port");
    let (users, connz) = nats_users::connected_users(port).await;
    for u in ["lab-a", "counter-ginza", "gw-1"] {
        assert!(
            users.iter().any(|c| c == u),
            "{u} not connected as itself: {connz}"
        );
    }
    drop(net);
}

/// A raw client logged in as `user` with the services' inbox prefix, and the server errors
/// it is told about.
async fn login(
    nats: &NatsServer,
    user: &str,
) -> (
    async_nats::Client,
    jetstream::Context,
    mpsc::UnboundedReceiver<String>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::with_user_and_password(
        user.to_string(),
        password(user).to_string(),
    )
    .custom_inbox_prefix(reprint_bus::connect::site_inbox_prefix(user))
    .request_timeout(Some(Duration::from_secs(2)))
    .event_callback(move |e| {
        let tx = tx.clone();
        async move {
            if let async_nats::Event::ServerError(e) = e {
                let _ = tx.send(e.to_string());
            }
        }
    })
    .connect(&nats.url)
    .await
    .unwrap_or_else(|e| panic!("{user} cannot log in: {e}"));
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(2))
        .build(client.clone());
    (client, js, rx)
}

/// Waits for the server to tell the client that `what` was refused.
async fn refused(rx: &mut mpsc::UnboundedReceiver<String>, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(e)) => {
                if e.to_lowercase().contains("permissions violation") && e.contains(what) {
                    return;
                }
                seen.push(e);
            }
            _ => panic!("no permissions violation for {what}; the server said {seen:?}"),
        }
    }
}

/// One message from `consumer`, or `None` within a second.
async fn pull_one(consumer: &jetstream::consumer::PullConsumer) -> Option<jetstream::Message> {
    let mut batch = consumer
        .fetch()
        .max_messages(1)
        .expires(Duration::from_secs(1))
        .messages()
        .await
        .ok()?;
    batch.next().await.and_then(Result::ok)
}

fn site(s: &str) -> SiteId {
    SiteId::parse(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_reads_only_its_own_inbox_and_speaks_only_for_itself() {
    let nats = server();
    let (_, lab_js, mut lab_err) = login(&nats, "lab-a").await;
    let (ginza, ginza_js, mut ginza_err) = login(&nats, "counter-ginza").await;
    let (_, shibuya_js, _) = login(&nats, "counter-shibuya").await;
    // A wrong password does not get in at all.
    let wrong = async_nats::ConnectOptions::with_user_and_password(
        "counter-ginza".into(),
        "not-the-password".into(),
    )
    .connect(&nats.url)
    .await;
    assert!(wrong.is_err(), "a wrong password was let in");

    // Each site provisions the backbone and its own inbox consumer, as the services do.
    reprint_bus::provision(&lab_js, &ProvisionSettings::default())
        .await
        .expect("lab-a provisions the backbone");
    reprint_bus::provision(&ginza_js, &ProvisionSettings::default())
        .await
        .expect("counter-ginza provisions the backbone");
    let lab_inbox = streams::ensure_consumer(
        &lab_js,
        &streams::durable_consumer_for(&site("lab-a"), SiteKind::Lab),
    )
    .await
    .expect("lab-a's own inbox consumer");
    let ginza_inbox = streams::ensure_consumer(
        &ginza_js,
        &streams::durable_consumer_for(&site("counter-ginza"), SiteKind::Counter),
    )
    .await
    .expect("counter-ginza's own inbox consumer");
    let shibuya_inbox = streams::ensure_consumer(
        &shibuya_js,
        &streams::durable_consumer_for(&site("counter-shibuya"), SiteKind::Counter),
    )
    .await
    .expect("counter-shibuya's own inbox consumer");

    // The lab dispatches to both counters; a counter forwards an order to lab-a and to lab-b.
    for counter in ["counter-ginza", "counter-shibuya"] {
        lab_js
            .publish(
                subjects::delivery_dispatched(&site(counter)),
                format!("delivery for {counter}").into(),
            )
            .await
            .expect("publish")
            .await
            .expect("the lab may dispatch to a counter");
    }
    for lab in ["lab-a", "lab-b"] {
        ginza_js
            .publish(
                subjects::order_placed(&site(lab)),
                format!("order for {lab}").into(),
            )
            .await
            .expect("publish")
            .await
            .expect("a counter may place an order at a lab");
    }

    // Own work goes: each reads its own inbox.
    let m = pull_one(&ginza_inbox).await.expect("ginza's delivery");
    assert_eq!(&m.payload[..], b"delivery for counter-ginza");
    m.ack().await.expect("ginza acks its own delivery");
    let m = pull_one(&lab_inbox).await.expect("lab-a's order");
    assert_eq!(&m.payload[..], b"order for lab-a");
    m.ack().await.expect("lab-a acks its own order");

    // counter-ginza cannot read counter-shibuya's deliveries:
    // - not by a subscription to its inbox subject or to its replies,
    let _sub = ginza
        .subscribe("reprint.v1.counter.counter-shibuya.>")
        .await
        .expect("subscribe is sent");
    refused(&mut ginza_err, "reprint.v1.counter.counter-shibuya.>").await;
    let _sub = ginza
        .subscribe("_INBOX.>")
        .await
        .expect("subscribe is sent");
    refused(&mut ginza_err, "_INBOX.>").await;
    let _sub = ginza
        .subscribe("_INBOX.counter-shibuya.>")
        .await
        .expect("subscribe is sent");
    refused(&mut ginza_err, "_INBOX.counter-shibuya.>").await;
    // - not through shibuya's consumer,
    let next = "$JS.API.CONSUMER.MSG.NEXT.REPRINT_COUNTER.counter-counter-shibuya-inbox";
    assert!(
        ginza.request(next, "1".into()).await.is_err(),
        "ginza pulled from shibuya's consumer"
    );
    refused(&mut ginza_err, next).await;
    // - not with a consumer of its own on shibuya's subjects (any name, or its own name),
    assert!(
        streams::ensure_consumer(
            &ginza_js,
            &streams::durable_consumer_for(&site("counter-shibuya"), SiteKind::Counter),
        )
        .await
        .is_err(),
        "ginza created a consumer on shibuya's inbox"
    );
    refused(&mut ginza_err, "counter-counter-shibuya-inbox").await;
    let mut own_name = streams::durable_consumer_for(&site("counter-ginza"), SiteKind::Counter);
    own_name.config.filter_subject = "reprint.v1.counter.counter-shibuya.>".to_string();
    assert!(
        streams::ensure_consumer(&ginza_js, &own_name)
            .await
            .is_err(),
        "ginza re-pointed its own consumer at shibuya's inbox"
    );
    refused(&mut ginza_err, "reprint.v1.counter.counter-shibuya.>").await;
    let old_api = "$JS.API.CONSUMER.DURABLE.CREATE.REPRINT_COUNTER.counter-counter-ginza-inbox";
    assert!(ginza.request(old_api, "{}".into()).await.is_err());
    refused(&mut ginza_err, old_api).await;
    // - not by reading the stream directly.
    let direct = "$JS.API.DIRECT.GET.REPRINT_COUNTER";
    assert!(ginza.request(direct, r#"{"seq":1}"#.into()).await.is_err());
    refused(&mut ginza_err, direct).await;
    let get = "$JS.API.STREAM.MSG.GET.REPRINT_COUNTER";
    assert!(ginza.request(get, r#"{"seq":1}"#.into()).await.is_err());
    refused(&mut ginza_err, get).await;
    // And shibuya still gets its delivery, untouched.
    let m = pull_one(&shibuya_inbox).await.expect("shibuya's delivery");
    assert_eq!(&m.payload[..], b"delivery for counter-shibuya");

    // counter-ginza cannot publish as the lab: no delivery, no slip, no rejection in a
    // counter's inbox, no slip to a gateway.
    for subject in [
        subjects::delivery_dispatched(&site("counter-shibuya")),
        subjects::delivery_dispatched(&site("counter-ginza")),
        subjects::reception_recorded(&subjects::Address::counter(site("counter-shibuya"))).unwrap(),
        subjects::order_rejected(&subjects::Address::gateway(site("gw-1"))).unwrap(),
    ] {
        let ack = ginza_js
            .publish(subject.clone(), "forged".into())
            .await
            .expect("publish is sent")
            .await;
        assert!(ack.is_err(), "ginza published {subject} as the lab");
        refused(&mut ginza_err, &subject).await;
    }
    let mut info = lab_js
        .get_stream(streams::STREAM_COUNTER)
        .await
        .expect("REPRINT_COUNTER");
    assert_eq!(
        info.info().await.expect("stream info").state.messages,
        2,
        "only the lab's two deliveries are in the counters' stream"
    );

    // lab-a cannot read lab-b's orders.
    assert!(
        streams::ensure_consumer(
            &lab_js,
            &streams::durable_consumer_for(&site("lab-b"), SiteKind::Lab),
        )
        .await
        .is_err(),
        "lab-a created a consumer on lab-b's inbox"
    );
    refused(&mut lab_err, "lab-lab-b-inbox").await;
    let mut own_name = streams::durable_consumer_for(&site("lab-a"), SiteKind::Lab);
    own_name.config.filter_subject = "reprint.v1.lab.lab-b.>".to_string();
    assert!(streams::ensure_consumer(&lab_js, &own_name).await.is_err());
    refused(&mut lab_err, "reprint.v1.lab.lab-b.>").await;
    let lab_client = lab_js.client();
    let _sub = lab_client
        .subscribe("reprint.v1.lab.lab-b.>")
        .await
        .expect("subscribe is sent");
    refused(&mut lab_err, "reprint.v1.lab.lab-b.>").await;
    let direct = "$JS.API.DIRECT.GET.REPRINT_LAB";
    assert!(
        lab_client
            .request(direct, r#"{"seq":2}"#.into())
            .await
            .is_err()
    );
    refused(&mut lab_err, direct).await;
    // Nor place orders at a lab as if it were a counter or the gateway.
    let ack = lab_js
        .publish(subjects::order_placed(&site("lab-b")), "forged".into())
        .await
        .expect("publish is sent")
        .await;
    assert!(ack.is_err(), "lab-a placed an order at lab-b");
    refused(&mut lab_err, "reprint.v1.lab.lab-b.order.placed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_tells_only_its_own_statuses_and_only_intake_sites_write_images() {
    let nats = server();
    let (_, lab_js, mut lab_err) = login(&nats, "lab-a").await;
    let (_, ginza_js, mut ginza_err) = login(&nats, "counter-ginza").await;
    let (_, gw_js, _) = login(&nats, "gw-1").await;
    reprint_bus::provision(&lab_js, &ProvisionSettings::default())
        .await
        .expect("lab-a provisions the backbone");
    let order = subjects::OrderId::parse("0193f0e2-7a1b-7000-8000-00000000beef").unwrap();

    // Statuses. The lab tells its own order's status, the counter its own part of the order.
    let as_lab = subjects::status(&site("lab-a"), &order);
    lab_js
        .publish(as_lab.clone(), "printing, said by lab-a".into())
        .await
        .expect("publish is sent")
        .await
        .expect("the lab may tell the status of its orders");
    let as_ginza = subjects::status(&site("counter-ginza"), &order);
    ginza_js
        .publish(as_ginza.clone(), "collected, said by counter-ginza".into())
        .await
        .expect("publish is sent")
        .await
        .expect("a counter may tell a status under its own name");
    // A counter cannot say anything as the lab (or as the gateway), nor on the sender-less
    // subject of old.
    for forged in [
        as_lab.clone(),
        subjects::status(&site("gw-1"), &order),
        format!("{}.status.{order}", subjects::PREFIX),
    ] {
        let ack = ginza_js
            .publish(forged.clone(), "printed, forged by counter-ginza".into())
            .await
            .expect("publish is sent")
            .await;
        assert!(ack.is_err(), "counter-ginza published {forged}");
        refused(&mut ginza_err, &forged).await;
    }
    // Nor can the lab speak for the counter.
    let ack = lab_js
        .publish(as_ginza.clone(), "collected, forged by lab-a".into())
        .await
        .expect("publish is sent")
        .await;
    assert!(ack.is_err(), "lab-a published {as_ginza}");
    refused(&mut lab_err, &as_ginza).await;
    // The gateway's status consumer (the filter it runs with) has exactly the two true ones.
    let statuses = streams::ensure_consumer(
        &gw_js,
        &streams::status_consumer_for(&site("gw-1"), &streams::ConsumerSettings::default()),
    )
    .await
    .expect("gw-1's status consumer");
    let mut seen = Vec::new();
    while let Some(m) = pull_one(&statuses).await {
        seen.push((
            m.subject.to_string(),
            String::from_utf8_lossy(&m.payload).into_owned(),
        ));
        m.ack().await.expect("gw-1 acks a status");
    }
    assert_eq!(
        seen,
        [
            (as_lab.clone(), "printing, said by lab-a".to_string()),
            (
                as_ginza.clone(),
                "collected, said by counter-ginza".to_string()
            ),
        ]
    );

    // Images. The counter (intake) and the gateway (uploads) write the bucket; the lab reads.
    let counter_images = Images::open(&ginza_js, ImageStoreSettings::default())
        .await
        .expect("counter-ginza opens the image bucket");
    let photo = b"the bytes of a photo handed in at the counter".to_vec();
    let stored = counter_images
        .put(&photo[..], None)
        .await
        .expect("a counter stores the images it takes in");
    let gw_images = Images::open(&gw_js, ImageStoreSettings::default())
        .await
        .expect("gw-1 opens the image bucket");
    gw_images
        .put(&b"the bytes of a photo uploaded on the web"[..], None)
        .await
        .expect("the gateway stores the images users upload");
    let lab_images = Images::open(&lab_js, ImageStoreSettings::default())
        .await
        .expect("lab-a opens the image bucket");
    let mut read = Vec::new();
    lab_images
        .get(&stored.hash)
        .await
        .expect("the lab finds the counter's image")
        .read_to_end(&mut read)
        .await
        .expect("the lab reads the counter's image");
    assert_eq!(read, photo);
    // The lab cannot write: no new image, and no new metadata over the counter's.
    assert!(
        lab_images
            .put(&b"bytes the lab made up"[..], None)
            .await
            .is_err(),
        "lab-a wrote an image"
    );
    refused(&mut lab_err, "$O.reprint_images.C.").await;
    let meta = "$O.reprint_images.M.forged";
    let ack = lab_js
        .publish(meta, "{}".into())
        .await
        .expect("publish is sent")
        .await;
    assert!(ack.is_err(), "lab-a wrote image metadata");
    refused(&mut lab_err, meta).await;
    let mut read = Vec::new();
    lab_images
        .get(&stored.hash)
        .await
        .expect("the counter's image is still there")
        .read_to_end(&mut read)
        .await
        .expect("and reads as stored");
    assert_eq!(read, photo);
}
