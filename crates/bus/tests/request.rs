//! Request/reply against a real nats-server: no responder, time-out, error reply, success.

use std::time::Duration;

use reprint_bus::BusError;
use reprint_bus::connect::{ConnectSettings, Connection, connect_and_wait};
use reprint_bus::request::{RequestContext, RpcError, RpcServer, request_json};
use reprint_bus::subjects::{self, RpcMethod, SiteId};
use reprint_bus::trace::TraceContext;
use reprint_testkit::NatsServer;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct QuoteRequest {
    size: String,
    prints: u32,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Quote {
    total_minor: i64,
    trace_id: String,
}

async fn conn(server: &NatsServer) -> Connection {
    connect_and_wait(
        &ConnectSettings::new(&server.url, "test-request"),
        Duration::from_secs(10),
    )
    .await
    .expect("connect")
}

async fn quote(req: QuoteRequest, ctx: RequestContext) -> Result<Quote, RpcError> {
    match req.size.as_str() {
        "L" => Ok(Quote {
            total_minor: 500 + 30 * i64::from(req.prints),
            trace_id: ctx.trace.trace_id_hex(),
        }),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            Err(RpcError::internal("too late anyway"))
        }
        other => Err(RpcError::new("unknown_size", format!("no size {other}"))),
    }
}

#[tokio::test]
async fn no_responder_timeout_error_and_success_are_told_apart() {
    let server = NatsServer::start();
    let c = conn(&server).await;
    let lab = SiteId::parse("lab-a").unwrap();
    let subject = subjects::rpc(&lab, RpcMethod::Quote);
    let t = Duration::from_secs(5);
    let short = Duration::from_millis(500);

    // Nobody serves it yet: no responders, quickly.
    let started = std::time::Instant::now();
    let err = request_json::<_, Quote>(
        &c.client,
        &subject,
        &QuoteRequest {
            size: "L".into(),
            prints: 1,
        },
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, BusError::NoResponders { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));

    let server_conn = conn(&server).await;
    let rpc = RpcServer::bind(
        &server_conn.client,
        &subject,
        &subjects::rpc_queue_group(&lab, RpcMethod::Quote),
    )
    .await
    .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(rpc.serve(quote, async {
        let _ = stop_rx.await;
    }));

    // Success, with the caller's trace id reaching the handler.
    let trace = TraceContext::new_root();
    let ok: Quote = reprint_bus::request::request_json_with_headers(
        &c.client,
        &subject,
        Some(trace.child().to_headers()),
        &QuoteRequest {
            size: "L".into(),
            prints: 2,
        },
        t,
    )
    .await
    .unwrap();
    assert_eq!(ok.total_minor, 560);
    assert_eq!(ok.trace_id, trace.trace_id_hex());

    // A remote error.
    let err = request_json::<_, Quote>(
        &c.client,
        &subject,
        &QuoteRequest {
            size: "XL".into(),
            prints: 1,
        },
        t,
    )
    .await
    .unwrap_err();
    match err {
        BusError::Remote { code, message } => {
            assert_eq!(code, "unknown_size");
            assert!(message.contains("XL"));
        }
        other => panic!("expected a remote error, got {other:?}"),
    }

    // An unreadable body is a remote bad_request, not a hang.
    let err = request_json::<_, Quote>(&c.client, &subject, &"not a quote", t)
        .await
        .unwrap_err();
    assert!(
        matches!(err, BusError::Remote { ref code, .. } if code == "bad_request"),
        "{err:?}"
    );

    // A responder that is too slow: time-out.
    let err = request_json::<_, Quote>(
        &c.client,
        &subject,
        &QuoteRequest {
            size: "slow".into(),
            prints: 1,
        },
        short,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, BusError::TimedOut { .. }), "{err:?}");
    assert!(err.is_transient());

    // Shutdown: the server stops, and the subject has no responders again.
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("server stops")
        .unwrap()
        .unwrap();
    let err = request_json::<_, Quote>(
        &c.client,
        &subject,
        &QuoteRequest {
            size: "L".into(),
            prints: 1,
        },
        t,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, BusError::NoResponders { .. }), "{err:?}");
}

#[tokio::test]
async fn a_queue_group_answers_each_request_once() {
    let server = NatsServer::start();
    let c = conn(&server).await;
    let lab = SiteId::parse("lab-q").unwrap();
    let subject = subjects::rpc(&lab, RpcMethod::Catalog);
    let group = subjects::rpc_queue_group(&lab, RpcMethod::Catalog);
    let mut handles = vec![];
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    for i in 0..2u32 {
        let rpc = RpcServer::bind(&c.client, &subject, &group).await.unwrap();
        let mut stop = stop_tx.subscribe();
        handles.push(tokio::spawn(rpc.serve(
            move |_: (), _ctx| async move { Ok::<u32, RpcError>(i) },
            async move {
                let _ = stop.recv().await;
            },
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let who: u32 = request_json(&c.client, &subject, &(), Duration::from_secs(2))
            .await
            .unwrap();
        seen.insert(who);
    }
    assert!(!seen.is_empty());
    stop_tx.send(()).unwrap();
    for h in handles {
        h.await.unwrap().unwrap();
    }
}
