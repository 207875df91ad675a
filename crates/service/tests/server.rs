//! The shared HTTP server against real TCP clients: a client that sends its request head or
//! its body too slowly is cut off (and holds nothing), every answer carries the security
//! headers, handlers see the peer's address, and shutdown lets a request in hand finish.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use reprint_service::metrics::Metrics;
use reprint_service::server::{self, Timeouts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SHORT: Timeouts = Timeouts {
    header_read: Duration::from_secs(1),
    body_idle: Duration::from_secs(1),
};

async fn start() -> (SocketAddr, reprint_service::shutdown::ShutdownTrigger) {
    let app = Router::new()
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route("/echo", post(|body: String| async move { body }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                "finished"
            }),
        );
    let app = server::layers(app, Metrics::new("test"), SHORT);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (trigger, shutdown) = reprint_service::shutdown::channel();
    tokio::spawn(server::serve(listener, app, SHORT, shutdown));
    (addr, trigger)
}

/// Reads until the server closes the connection (or 15 s pass: then the test fails).
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut all = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut all)).await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&all).to_string()
}

#[tokio::test]
async fn a_client_that_never_finishes_its_request_head_is_disconnected() {
    let (addr, _stop) = start().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    // Nothing more is sent: the server closes the connection after its header time-out.
    read_to_close(&mut stream).await;
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_answered_408() {
    let (addr, _stop) = start().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b")
        .await
        .unwrap();
    let answer = read_to_close(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_handlers_see_the_peer() {
    let (addr, _stop) = start().await;
    let r = reqwest::get(format!("http://{addr}/peer")).await.unwrap();
    let h = r.headers().clone();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert_eq!(h["x-frame-options"], "DENY");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let peer: SocketAddr = r.text().await.unwrap().parse().unwrap();
    assert!(peer.ip().is_loopback());
    // Also on an answer the router made up (no such route).
    let r = reqwest::get(format!("http://{addr}/nowhere"))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn shutdown_lets_the_request_in_hand_finish() {
    let (addr, stop) = start().await;
    let slow = tokio::spawn(reqwest::get(format!("http://{addr}/slow")));
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.trigger();
    let r = slow.await.unwrap().unwrap();
    assert_eq!(r.text().await.unwrap(), "finished");
    // And no new connection is taken.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(reqwest::get(format!("http://{addr}/peer")).await.is_err());
}
