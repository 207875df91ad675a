//! Request/reply on core NATS for what needs an answer now (a site's quote, catalog, locale),
//! with typed JSON bodies and time-outs.
//!
//! Every reply body is an [`RpcReply`]: `{"ok": <T>}` or `{"err": {"code": …, "message": …}}`.
//! A caller of [`request_json`] tells apart:
//! - [`BusError::NoResponders`]: nobody serves the subject (the site is offline or does not
//!   offer the method) — known at once, without waiting for the time-out;
//! - [`BusError::TimedOut`]: a server exists but did not answer in time;
//! - [`BusError::Remote`]: the server answered with an error.
//!
//! A server binds with [`RpcServer::bind`] (queue group, so that one instance of a site answers
//! each request), then [`RpcServer::serve`]s a handler until shutdown, at most
//! `max_in_flight` requests at a time; requests in flight at shutdown are answered first.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::{Client, HeaderMap, Message, RequestErrorKind, Subscriber};
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::error::BusError;
use crate::trace::TraceContext;

/// An error answered by a server: a short machine-readable code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct RpcError {
    /// e.g. `bad_request`, `unknown_size`, `internal`.
    pub code: String,
    /// For people.
    pub message: String,
}

impl RpcError {
    /// An error with the given code and message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> RpcError {
        RpcError {
            code: code.into(),
            message: message.into(),
        }
    }

    /// The request body could not be read.
    pub fn bad_request(message: impl Into<String>) -> RpcError {
        RpcError::new("bad_request", message)
    }

    /// The server failed (details in its log, not in the reply).
    pub fn internal(message: impl Into<String>) -> RpcError {
        RpcError::new("internal", message)
    }
}

/// The body of every reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RpcReply<T> {
    /// The answer.
    Ok(T),
    /// The server's error.
    Err(RpcError),
}

impl<T> From<Result<T, RpcError>> for RpcReply<T> {
    fn from(r: Result<T, RpcError>) -> Self {
        match r {
            Ok(v) => RpcReply::Ok(v),
            Err(e) => RpcReply::Err(e),
        }
    }
}

/// Sends `req` as JSON to `subject` and waits at most `timeout` for a typed reply.
pub async fn request_json<Req, Resp>(
    client: &Client,
    subject: &str,
    req: &Req,
    timeout: Duration,
) -> Result<Resp, BusError>
where
    Req: Serialize + ?Sized,
    Resp: DeserializeOwned,
{
    request_json_with_headers(client, subject, None, req, timeout).await
}

/// As [`request_json`], with headers (e.g. a trace context from [`TraceContext::to_headers`]).
pub async fn request_json_with_headers<Req, Resp>(
    client: &Client,
    subject: &str,
    headers: Option<HeaderMap>,
    req: &Req,
    timeout: Duration,
) -> Result<Resp, BusError>
where
    Req: Serialize + ?Sized,
    Resp: DeserializeOwned,
{
    let body = serde_json::to_vec(req).map_err(|source| BusError::Json {
        subject: subject.to_string(),
        source,
    })?;
    let mut request = async_nats::Request::new()
        .payload(Bytes::from(body))
        .timeout(Some(timeout));
    if let Some(h) = headers {
        request = request.headers(h);
    }
    let reply = client
        .send_request(subject.to_string(), request)
        .await
        .map_err(|e| match e.kind() {
            RequestErrorKind::NoResponders => BusError::NoResponders {
                subject: subject.to_string(),
            },
            RequestErrorKind::TimedOut => BusError::TimedOut {
                subject: subject.to_string(),
                timeout,
            },
            _ => BusError::nats(format!("request on {subject}"), e),
        })?;
    let reply: RpcReply<Resp> =
        serde_json::from_slice(&reply.payload).map_err(|source| BusError::Json {
            subject: subject.to_string(),
            source,
        })?;
    match reply {
        RpcReply::Ok(v) => Ok(v),
        RpcReply::Err(RpcError { code, message }) => Err(BusError::Remote { code, message }),
    }
}

/// What a handler knows about the request besides its body.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The subject it came in on.
    pub subject: String,
    /// Its headers.
    pub headers: Option<HeaderMap>,
    /// Its trace context (a new trace when it carried none).
    pub trace: TraceContext,
}

/// A subscription on a request subject, in a queue group, ready to serve.
#[derive(Debug)]
pub struct RpcServer {
    client: Client,
    subject: String,
    subscriber: Subscriber,
    max_in_flight: usize,
}

impl RpcServer {
    /// Subscribes to `subject` in `queue_group` (see [`crate::subjects::rpc_queue_group`]) and
    /// waits for a round trip to the server, so that requests sent by anyone after this
    /// returns reach the server.
    pub async fn bind(
        client: &Client,
        subject: &str,
        queue_group: &str,
    ) -> Result<RpcServer, BusError> {
        let subscriber = client
            .queue_subscribe(subject.to_string(), queue_group.to_string())
            .await
            .map_err(|e| BusError::nats(format!("subscribe to {subject}"), e))?;
        sync_with_server(client).await?;
        Ok(RpcServer {
            client: client.clone(),
            subject: subject.to_string(),
            subscriber,
            max_in_flight: 64,
        })
    }

    /// Sets how many requests are handled at the same time (default 64).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// Serves `handler` until `shutdown` completes (or the connection closes), then stops
    /// taking requests and waits for those in flight.
    pub async fn serve<Req, Resp, H, Fut>(
        mut self,
        handler: H,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), BusError>
    where
        Req: DeserializeOwned + Send + 'static,
        Resp: Serialize + Send + 'static,
        H: Fn(Req, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Resp, RpcError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let permits = Arc::new(Semaphore::new(self.max_in_flight));
        let mut tasks = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let message = tokio::select! {
                _ = &mut shutdown => break,
                m = self.subscriber.next() => match m {
                    Some(m) => m,
                    None => break,
                },
            };
            // Reap finished tasks so the set does not grow.
            while tasks.try_join_next().is_some() {}
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break; // the semaphore is never closed; defensive.
            };
            let client = self.client.clone();
            let handler = handler.clone();
            tasks.spawn(async move {
                handle_one(client, message, handler.as_ref()).await;
                drop(permit);
            });
        }
        if let Err(e) = self.subscriber.unsubscribe().await {
            tracing::debug!(subject = %self.subject, error = %e, "unsubscribe at shutdown");
        }
        while tasks.join_next().await.is_some() {}
        let _ = self.client.flush().await;
        Ok(())
    }
}

/// Waits until the server has processed everything this client sent so far (a SUB above
/// all). `Client::flush` only flushes the socket; the server handles a connection's protocol
/// in order, so the answer to a request on a subject nobody listens to (an immediate "no
/// responders" status) proves that earlier commands were processed.
pub async fn sync_with_server(client: &Client) -> Result<(), BusError> {
    let probe = client.new_inbox();
    let request = async_nats::Request::new().timeout(Some(Duration::from_secs(10)));
    match client.send_request(probe.clone(), request).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == RequestErrorKind::NoResponders => Ok(()),
        Err(e) => Err(BusError::nats(
            format!("round trip to the server ({probe})"),
            e,
        )),
    }
}

async fn handle_one<Req, Resp, H, Fut>(client: Client, message: Message, handler: &H)
where
    Req: DeserializeOwned,
    Resp: Serialize,
    H: Fn(Req, RequestContext) -> Fut,
    Fut: Future<Output = Result<Resp, RpcError>>,
{
    let incoming = match message.headers.as_ref().map(TraceContext::extract) {
        Some(Ok(Some(ctx))) => Some(ctx),
        Some(Err(e)) => {
            tracing::debug!(error = %e, "ignoring malformed trace context, starting a new trace");
            None
        }
        _ => None,
    };
    let span = match &incoming {
        Some(ctx) => ctx.span(message.subject.as_str()),
        None => TraceContext::root_span(message.subject.as_str()),
    };
    let trace = incoming
        .or_else(|| span.in_scope(TraceContext::current))
        .unwrap_or_else(TraceContext::new_root);
    async move {
        let Some(reply_to) = message.reply.clone() else {
            tracing::warn!(subject = %message.subject, "request without a reply subject, ignored");
            return;
        };
        let result = match serde_json::from_slice::<Req>(&message.payload) {
            Ok(req) => {
                let ctx = RequestContext {
                    subject: message.subject.to_string(),
                    headers: message.headers.clone(),
                    trace: trace.clone(),
                };
                handler(req, ctx).await
            }
            Err(e) => Err(RpcError::bad_request(format!(
                "unreadable request body: {e}"
            ))),
        };
        if let Err(e) = &result {
            tracing::info!(code = %e.code, message = %e.message, "request answered with an error");
        }
        let body = match serde_json::to_vec(&RpcReply::from(result)) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "reply could not be encoded");
                // Encoding this fixed shape cannot fail.
                serde_json::to_vec(&RpcReply::<()>::Err(RpcError::internal(
                    "reply could not be encoded",
                )))
                .unwrap_or_default()
            }
        };
        let headers = TraceContext::outgoing(Some(&trace)).to_headers();
        if let Err(e) = client
            .publish_with_headers(reply_to, headers, Bytes::from(body))
            .await
        {
            tracing::warn!(error = %e, "reply could not be sent");
        }
    }
    .instrument(span)
    .await
}
