//! The SOAP 1.1 binding of `/api/v1` (seed 000 claims 24, 25, 27: "a request/response model in a
//! SOAP layer using XML over HTTP"), for kiosks and order stations that speak SOAP: one endpoint,
//! `POST /soap/v1`, document/literal, and its WSDL at `GET /soap/v1?wsdl` (a static WSDL 1.1
//! with its XSD, `reprint.wsdl`). See `docs/soap.md`.
//!
//! The binding only translates: each operation calls the handler of `/api/v1` it stands for
//! (`crate::api`, `crate::upload`) with the same extractor values the JSON route would build,
//! so every rule and check (ownership, reservation, upload limits, the order check,
//! idempotency) is the JSON API's, and so are the answers.
//!
//! An image comes in `UploadImage` as `xs:base64Binary` in the envelope (what zeep sends), or
//! as an MTOM/XOP part (`multipart/related`, `mtom_parts`) its `xop:Include` names.
//!
//! Authentication is the JSON API's: the session cookie of `POST /api/v1/session`, and on every
//! operation that changes something the `X-CSRF-Token` header that came with the log-in.
//!
//! Faults and HTTP status. SOAP 1.1 (section 6.2) sends every fault with HTTP 500; this
//! project never answers a client's mistake with a 5xx (a 5xx says "our fault, retry", and
//! monitors page on it). So: a `soap:Client` fault (or `VersionMismatch`, `MustUnderstand`)
//! carries the 4xx the JSON API answers for the same mistake (400 for an envelope that is not
//! well-formed or not of this binding's shape, 401, 403, 404, 409, 413, 422, 429), and a
//! `soap:Server` fault 500 or 503. The fault body is the same in every case, and SOAP clients
//! read it whatever the status (zeep raises its `Fault` for any status with a fault body).
//! The fault's `detail` holds the problem's stable `type` and its status.

mod ops;
pub mod xml;

use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use reprint_service::Problem;
use tokio::sync::Semaphore;

use crate::error::AppError;
use crate::state::AppState;
use xml::El;

/// The binding's target namespace (the WSDL's and the XSD's).
pub const NS: &str = "urn:reprint:soap:v1";
/// SOAP 1.1's envelope namespace.
pub const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.2's, answered with a `VersionMismatch` fault.
const SOAP12_ENV: &str = "http://www.w3.org/2003/05/soap-envelope";
/// The endpoint.
pub const PATH: &str = "/soap/v1";
/// The WSDL, with `REPRINT_SOAP_ADDRESS` standing for the endpoint's URL.
const WSDL: &str = include_str!("reprint.wsdl");

/// `POST /soap/v1` and `GET /soap/v1?wsdl`. The body is read by the endpoint itself, bounded by
/// [`body_limit`] (the JSON API's body limit plus an image in base64).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(PATH, get(wsdl).post(endpoint))
        .layer(DefaultBodyLimit::disable())
}

/// A SOAP fault with the HTTP status it is sent with (see the module's documentation).
#[derive(Debug)]
pub struct Fault {
    pub status: StatusCode,
    /// `Client`, `Server`, `VersionMismatch` or `MustUnderstand` (in the envelope namespace).
    pub code: &'static str,
    /// The problem's stable type (`malformed_envelope`, `no_reservation`, ...).
    pub kind: String,
    pub message: String,
    retry_after: Option<HeaderValue>,
}

impl Fault {
    /// A client's mistake in the message itself: 400.
    pub fn client(kind: &str, message: impl Into<String>) -> Fault {
        Fault::new(StatusCode::BAD_REQUEST, "Client", kind, message)
    }

    fn new(
        status: StatusCode,
        code: &'static str,
        kind: &str,
        message: impl Into<String>,
    ) -> Fault {
        Fault {
            status,
            code,
            kind: kind.to_string(),
            message: message.into(),
            retry_after: None,
        }
    }

    /// The JSON API's problem as a fault: the same status, type and words.
    pub fn from_problem(p: Problem) -> Fault {
        let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let code = if status.is_server_error() {
            "Server"
        } else {
            "Client"
        };
        Fault::new(status, code, &p.kind, p.detail)
    }

    fn body(&self) -> String {
        let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
        format!(
            "<soap:Fault><faultcode>soap:{}</faultcode><faultstring xml:lang=\"en\">{}</faultstring>\
             <detail><problem xmlns=\"{NS}\"><type>{}</type><status>{}</status></problem></detail></soap:Fault>",
            self.code,
            esc(&self.message),
            esc(&self.kind),
            self.status.as_u16()
        )
    }
}

impl From<AppError> for Fault {
    fn from(e: AppError) -> Fault {
        Fault::from_problem(e.problem())
    }
}

impl IntoResponse for Fault {
    fn into_response(self) -> Response {
        let mut r = (self.status, envelope(&self.body())).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, xml_type());
        if let Some(v) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

fn xml_type() -> HeaderValue {
    HeaderValue::from_static("text/xml; charset=utf-8")
}

fn envelope(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<soap:Envelope xmlns:soap=\"{SOAP_ENV}\"><soap:Body>{body}</soap:Body></soap:Envelope>\n"
    )
}

/// The WSDL, its `soap:address` the gateway's public URL (`[http].public_url`), else the URL
/// this request came to.
async fn wsdl(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let base = match &state.config.http.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| {
                    !h.is_empty()
                        && h.chars()
                            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
                })
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    };
    let doc = WSDL.replace("REPRINT_SOAP_ADDRESS", &format!("{base}{PATH}"));
    ([(header::CONTENT_TYPE, xml_type())], doc).into_response()
}

/// Largest request: the JSON API's body limit for the envelope, plus an image of the largest
/// size an upload takes (`[storage].max_image_bytes`) in base64, with a line break every 76
/// characters.
pub fn body_limit(state: &AppState) -> usize {
    let image = usize::try_from(state.config.storage.max_image_bytes).unwrap_or(usize::MAX);
    state
        .config
        .http
        .max_body_bytes
        .saturating_add(image.div_ceil(3).saturating_mul(4))
        .saturating_add(image / 38)
}

/// Bodies larger than the JSON API's limit (or of unknown length) are read one at a time per
/// upload permit of the gateway (`[storage].concurrent_uploads`): at most that many images in
/// base64 are held in memory at once.
fn big_bodies(state: &AppState) -> &'static Semaphore {
    static GATE: OnceLock<Semaphore> = OnceLock::new();
    GATE.get_or_init(|| Semaphore::new(state.config.storage.concurrent_uploads.max(1)))
}

async fn endpoint(State(state): State<AppState>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    match handle(&state, &mut parts, body).await {
        Ok(reply) => {
            let mut r = (StatusCode::OK, envelope(&reply)).into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, xml_type());
            r
        }
        Err(f) => {
            if f.status.is_server_error() {
                tracing::warn!(kind = %f.kind, status = %f.status, "SOAP Server fault");
            }
            f.into_response()
        }
    }
}

async fn handle(
    state: &AppState,
    parts: &mut axum::http::request::Parts,
    body: Body,
) -> Result<String, Fault> {
    let raw_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let content_type = raw_type.to_ascii_lowercase();
    let mut params = content_type.split(';').map(str::trim);
    let media = params.next().unwrap_or("");
    let mtom = media == "multipart/related";
    if media == "application/soap+xml" {
        return Err(Fault::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "VersionMismatch",
            "version_mismatch",
            "this endpoint speaks SOAP 1.1: send the envelope as text/xml",
        ));
    }
    if !mtom && media != "text/xml" && media != "application/xml" {
        return Err(Fault::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Client",
            "unsupported_media_type",
            format!(
                "send the SOAP 1.1 envelope as text/xml (or MTOM, multipart/related), not {:?}",
                if media.is_empty() { "nothing" } else { media }
            ),
        ));
    }
    if let Some(cs) = params.find_map(|p| p.strip_prefix("charset=")) {
        let cs = cs.trim_matches('"');
        if cs != "utf-8" && cs != "us-ascii" {
            return Err(Fault::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Client",
                "unsupported_media_type",
                format!("send the envelope in UTF-8, not {cs}"),
            ));
        }
    }

    let limit = body_limit(state);
    let length = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if length.is_some_and(|n| n > limit as u64) {
        return Err(too_large(state, limit));
    }
    let small = length.is_some_and(|n| n <= state.config.http.max_body_bytes as u64);
    let _permit = if small {
        None
    } else {
        Some(
            big_bodies(state)
                .acquire()
                .await
                .map_err(|e| Fault::from(AppError::internal(e)))?,
        )
    };
    let bytes = read_bounded(state, body, limit).await?;
    let (bytes, attachments) = if mtom {
        mtom_parts(&raw_type, bytes).await?
    } else {
        (bytes::Bytes::from(bytes), Attachments::new())
    };
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        Fault::client(
            "malformed_envelope",
            format!("the envelope is not UTF-8: {e}"),
        )
    })?;
    let root = xml::parse(text).map_err(|e| Fault::client("malformed_envelope", e))?;
    let op = operation(&root)?;
    ops::dispatch(state, parts, op, &attachments).await
}

/// The binary parts of an MTOM/XOP request by Content-ID (without its angle brackets).
pub type Attachments = std::collections::HashMap<String, bytes::Bytes>;

/// At most this many parts in an MTOM request (an envelope and one image is what the binding
/// takes; a few more are tolerated).
const MAX_PARTS: usize = 16;

/// The parts of an MTOM/XOP request (`multipart/related`, SOAP 1.1 binding of XOP): the root
/// part (the one the `start` parameter names, else the first) is the envelope, the others are
/// what its `xop:Include` elements refer to, by Content-ID.
async fn mtom_parts(
    content_type: &str,
    body: Vec<u8>,
) -> Result<(bytes::Bytes, Attachments), Fault> {
    let bad = |what: String| Fault::client("malformed_envelope", what);
    // multer's own parse_boundary takes multipart/form-data only.
    let boundary = param(content_type, "boundary")
        .filter(|b| !b.is_empty())
        .ok_or_else(|| bad("a multipart/related request needs its boundary parameter".into()))?;
    let start = param(content_type, "start").map(|s| content_id(&s));
    let body = bytes::Bytes::from(body);
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut root = None;
    let mut attachments = Attachments::new();
    let mut count = 0;
    while let Some(part) = multipart
        .next_field()
        .await
        .map_err(|e| bad(format!("the multipart/related body: {e}")))?
    {
        count += 1;
        if count > MAX_PARTS {
            return Err(bad(format!("more than {MAX_PARTS} parts in one request")));
        }
        let id = part
            .headers()
            .get("content-id")
            .and_then(|v| v.to_str().ok())
            .map(content_id);
        let data = part
            .bytes()
            .await
            .map_err(|e| bad(format!("the multipart/related body: {e}")))?;
        let is_root = root.is_none()
            && match &start {
                Some(s) => id.as_ref() == Some(s),
                None => true,
            };
        if is_root {
            root = Some(data);
        } else if let Some(id) = id {
            attachments.insert(id, data);
        }
    }
    let root = root
        .ok_or_else(|| bad("no root part (the envelope) in the multipart/related body".into()))?;
    Ok((root, attachments))
}

/// Parameter `name` of a Content-Type (its value without quotes).
fn param(content_type: &str, name: &str) -> Option<String> {
    content_type
        .split(';')
        .skip(1)
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
}

/// A Content-ID without its angle brackets (`<photo@kiosk>` is `photo@kiosk`).
fn content_id(v: &str) -> String {
    v.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

/// The request's bytes, at most `limit` of them: more is a Client fault (413) as soon as the
/// limit is passed (a body sent in chunks, without a length; a declared length over the limit
/// is refused before reading); a body that stops before its end a Client fault (400).
async fn read_bounded(state: &AppState, body: Body, limit: usize) -> Result<Vec<u8>, Fault> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            Fault::client(
                "body_cut_short",
                format!("the request stopped before its end ({e}); nothing was kept"),
            )
        })?;
        if bytes.len() + chunk.len() > limit {
            return Err(too_large(state, limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// 413: the request is over [`body_limit`].
fn too_large(state: &AppState, limit: usize) -> Fault {
    Fault::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Client",
        "too_large",
        format!(
            "the request is larger than {limit} bytes (one image of at most {} bytes a request); nothing was kept",
            state.config.storage.max_image_bytes
        ),
    )
}

/// The one operation element in the Body of a SOAP 1.1 envelope.
fn operation<'e, 'a>(root: &'e El<'a>) -> Result<&'e El<'a>, Fault> {
    if !root.is(SOAP_ENV, "Envelope") {
        if root.is(SOAP12_ENV, "Envelope") {
            return Err(Fault::new(
                StatusCode::BAD_REQUEST,
                "VersionMismatch",
                "version_mismatch",
                "this endpoint speaks SOAP 1.1 (envelope namespace http://schemas.xmlsoap.org/soap/envelope/)",
            ));
        }
        return Err(Fault::client(
            "malformed_envelope",
            format!(
                "the root element must be {{{SOAP_ENV}}}Envelope, not {}",
                root.qname()
            ),
        ));
    }
    let mut header = None;
    let mut body = None;
    for c in &root.children {
        match c.name.as_str() {
            "Header" if c.ns.as_deref() == Some(SOAP_ENV) && header.is_none() && body.is_none() => {
                header = Some(c)
            }
            "Body" if c.ns.as_deref() == Some(SOAP_ENV) && body.is_none() => body = Some(c),
            _ => {
                return Err(Fault::client(
                    "malformed_envelope",
                    format!(
                        "the Envelope holds an optional Header and then one Body, not {}",
                        c.qname()
                    ),
                ));
            }
        }
    }
    if let Some(h) = header {
        // No header entry is understood here (the session cookie is the authentication).
        if let Some(e) = h
            .children
            .iter()
            .find(|e| matches!(e.attr("mustUnderstand"), Some("1" | "true")))
        {
            return Err(Fault::new(
                StatusCode::BAD_REQUEST,
                "MustUnderstand",
                "must_understand",
                format!(
                    "the header entry {} is not understood here; this endpoint understands no header entries",
                    e.qname()
                ),
            ));
        }
    }
    let body =
        body.ok_or_else(|| Fault::client("malformed_envelope", "the Envelope has no Body"))?;
    match body.children.as_slice() {
        [op] if op.ns.as_deref() == Some(NS) => Ok(op),
        [op] => Err(Fault::client(
            "unknown_operation",
            format!(
                "{} is not an operation of this endpoint; the WSDL at {PATH}?wsdl lists them (namespace {NS})",
                op.qname()
            ),
        )),
        _ => Err(Fault::client(
            "malformed_envelope",
            "the Body must hold exactly one operation element",
        )),
    }
}
