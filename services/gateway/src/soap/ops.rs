//! The operations: each reads its element, calls the `/api/v1` handler it stands for with the
//! values the JSON route would extract, and writes the handler's answer as the response element
//! of `reprint.wsdl`. A refusal of the handler is its problem as a fault (`Fault::from`).

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use base64::Engine;
use reprint_service::Problem;
use reprint_service::problem::Json;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::xml::{El, Out};
use super::{Attachments, Fault, NS};
use crate::api::{self, OrderCreated, OrderRequest, OrderView, StorageRequest};
use crate::auth::{CSRF_HEADER, User};
use crate::error::AppError;
use crate::state::AppState;
use crate::upload::{self, UploadQuery, Uploaded};

/// Runs operation `op` (an element of the binding's namespace) and answers its response element.
pub async fn dispatch(
    state: &AppState,
    parts: &mut Parts,
    op: &El<'_>,
    attachments: &Attachments,
) -> Result<String, Fault> {
    let s = || State(state.clone());
    match op.name.as_str() {
        // GET /api/v1/sites
        "ListSites" => {
            only(op, &[])?;
            let sites = api::list_sites(state).await?;
            let mut o = Out::new(NS, "ListSitesResponse");
            for v in sites {
                o.open("site")
                    .leaf("id", &v.id)
                    .leaf("kind", &v.kind)
                    .leaf("name", &v.name)
                    .leaf("address", &v.address)
                    .leaf("timeZone", &v.time_zone)
                    .leaf("currency", &v.currency);
                for size in &v.sizes {
                    o.leaf("size", size);
                }
                for p in &v.icc_profiles {
                    o.leaf("iccProfile", p);
                }
                o.leaf("policySummary", &v.policy_summary)
                    .leaf("stale", v.stale)
                    .close("site");
            }
            Ok(o.finish("ListSitesResponse"))
        }
        // GET /api/v1/sites/{id}/catalog: the list of services (claim 25).
        "GetCatalog" => {
            only(op, &["site"])?;
            let site = required(op, "site")?;
            let c = as_value(api::site_catalog(s(), Path(site)).await?.0)?;
            let mut o = Out::new(NS, "GetCatalogResponse");
            o.leaf("site", text(&c["site"]))
                .leaf("siteKind", text(&c["site_kind"]))
                .leaf("name", text(&c["name"]));
            money(&mut o, "basicCharge", &c["basic_charge"]);
            for p in c["products"].as_array().into_iter().flatten() {
                o.open("product")
                    .leaf("code", text(&p["code"]))
                    .leaf("description", text(&p["description"]))
                    .opt("size", (!p["size"].is_null()).then(|| text(&p["size"])));
                money(&mut o, "unitPrice", &p["unit_price"]);
                o.close("product");
            }
            for p in profile_names(&c["icc_profiles"]) {
                o.leaf("iccProfile", p);
            }
            o.leaf("policySummary", text(&c["policy_summary"]));
            Ok(o.finish("GetCatalogResponse"))
        }
        // GET /api/v1/sites/{id}/locale (claims 12, 25).
        "GetLocale" => {
            only(op, &["site"])?;
            let site = required(op, "site")?;
            let l = as_value(api::site_locale(s(), Path(site)).await?.0)?;
            let mut o = Out::new(NS, "GetLocaleResponse");
            o.leaf("site", text(&l["site"]))
                .leaf("currency", text(&l["currency"]))
                .leaf("language", text(&l["language"]))
                .leaf("timeZone", text(&l["time_zone"]));
            for size in l["sizes"].as_array().into_iter().flatten() {
                o.leaf("size", text(size));
            }
            Ok(o.finish("GetLocaleResponse"))
        }
        // The ICC profiles of the site's catalog (claim 25, "ICC profile support").
        "GetIccProfiles" => {
            only(op, &["site"])?;
            let site = required(op, "site")?;
            let c = as_value(api::site_catalog(s(), Path(site)).await?.0)?;
            let mut o = Out::new(NS, "GetIccProfilesResponse");
            o.leaf("site", text(&c["site"]));
            for p in profile_names(&c["icc_profiles"]) {
                o.leaf("iccProfile", p);
            }
            for p in c["printer_profiles"].as_array().into_iter().flatten() {
                o.open("printerProfile")
                    .leaf("name", text(&p["name"]))
                    .leaf("description", text(&p["description"]))
                    .leaf("printer", text(&p["printer"]))
                    .opt("paper", p["paper"].as_str());
                for size in p["sizes"].as_array().into_iter().flatten() {
                    o.leaf("size", text(size));
                }
                o.opt("icc", p["icc"].as_str()).close("printerProfile");
            }
            Ok(o.finish("GetIccProfilesResponse"))
        }
        // POST /api/v1/orders: the order identifier (claims 26 a-c, 27).
        "CreateOrder" => {
            only(op, &["idempotencyKey"])?;
            let user = user(state, parts, true).await?;
            let headers = key_header(optional(op, "idempotencyKey")?)?;
            let created: OrderCreated = reply(api::create_order(s(), user, headers).await?).await?;
            let mut o = Out::new(NS, "CreateOrderResponse");
            o.leaf("order", &created.order)
                .leaf("statusUrl", &created.status_url);
            Ok(o.finish("CreateOrderResponse"))
        }
        // PUT /api/v1/orders/{id}/storage: the storage size requirement (claims 9, 26 d-e).
        "ReserveStorage" => {
            only(op, &["order", "bytes"])?;
            let user = user(state, parts, true).await?;
            let order = required(op, "order")?;
            let bytes = number(op, "bytes")?;
            let r = api::reserve_storage(s(), user, Path(order), Json(StorageRequest { bytes }))
                .await?
                .0;
            let mut o = Out::new(NS, "ReserveStorageResponse");
            o.leaf("order", &r.order)
                .leaf("reserved", r.reserved)
                .leaf("used", r.used)
                .leaf("remaining", r.remaining)
                .leaf("expiresAt", &r.expires_at);
            Ok(o.finish("ReserveStorageResponse"))
        }
        // PUT /api/v1/orders/{id}/images: one image, its bytes as base64Binary (claim 27).
        "UploadImage" => {
            only(op, &["order", "name", "data"])?;
            let user = user(state, parts, true).await?;
            let order = required(op, "order")?;
            let name = optional(op, "name")?;
            let data = image_data(op, attachments)?;
            let up: Uploaded = reply(
                upload::upload(
                    s(),
                    user,
                    Path(order),
                    Query(UploadQuery { name }),
                    Body::from(data),
                )
                .await?,
            )
            .await?;
            let mut o = Out::new(NS, "UploadImageResponse");
            o.leaf("image", &up.image)
                .leaf("name", &up.name)
                .leaf("bytes", up.bytes)
                .leaf("width", up.width)
                .leaf("height", up.height)
                .leaf("format", &up.format)
                .leaf("storedNow", up.stored_now)
                .leaf("remaining", up.remaining);
            Ok(o.finish("UploadImageResponse"))
        }
        // POST /api/v1/orders/{id}/submit: the order request.
        "SubmitOrder" => {
            only(
                op,
                &[
                    "order",
                    "lab",
                    "counter",
                    "item",
                    "sourceProfile",
                    "digitalCopy",
                    "idempotencyKey",
                ],
            )?;
            let user = user(state, parts, true).await?;
            let order = required(op, "order")?;
            // Built as the JSON route's body is read, so that fields the JSON API adds later
            // take their defaults here too.
            let mut body = serde_json::Map::new();
            body.insert("lab".into(), json!(required(op, "lab")?));
            body.insert("counter".into(), json!(required(op, "counter")?));
            body.insert("items".into(), Value::Array(item_values(op)?));
            body.insert("source_profiles".into(), Value::Array(source_profiles(op)?));
            if let Some(k) = optional(op, "idempotencyKey")? {
                body.insert("idempotency_key".into(), json!(k));
            }
            if let Some(d) = boolean(op, "digitalCopy")? {
                body.insert("digital_copy".into(), json!(d));
            }
            let req: OrderRequest = serde_json::from_value(Value::Object(body))
                .map_err(|e| AppError::Unprocessable(format!("the order request: {e}")))?;
            let view: OrderView =
                reply(api::submit(s(), user, Path(order), HeaderMap::new(), Json(req)).await?)
                    .await?;
            Ok(status_reply("SubmitOrderResponse", &view))
        }
        // GET /api/v1/orders/{id}: the status of the order (claims 10, 25, 28).
        "GetOrderStatus" => {
            only(op, &["order"])?;
            let user = user(state, parts, false).await?;
            let order = required(op, "order")?;
            let view = api::get_order(s(), user, Path(order)).await?.0;
            Ok(status_reply("GetOrderStatusResponse", &view))
        }
        // POST /api/v1/orders/{id}/reorder: re-order by reference (claims 7, 15 g, 16).
        "ReorderOrder" => {
            only(
                op,
                &[
                    "order",
                    "lab",
                    "counter",
                    "item",
                    "digitalCopy",
                    "idempotencyKey",
                ],
            )?;
            let user = user(state, parts, true).await?;
            let order = required(op, "order")?;
            let headers = key_header(optional(op, "idempotencyKey")?)?;
            let mut body = serde_json::Map::new();
            if let Some(lab) = optional(op, "lab")? {
                body.insert("lab".into(), json!(lab));
            }
            if let Some(counter) = optional(op, "counter")? {
                body.insert("counter".into(), json!(counter));
            }
            if let Some(d) = boolean(op, "digitalCopy")? {
                body.insert("digital_copy".into(), json!(d));
            }
            let items = item_values(op)?;
            if !items.is_empty() {
                body.insert("items".into(), Value::Array(items));
            }
            let body = serde_json::to_vec(&Value::Object(body)).map_err(AppError::internal)?;
            let view: OrderView =
                reply(api::reorder(s(), user, Path(order), headers, body.into()).await?).await?;
            Ok(status_reply("ReorderOrderResponse", &view))
        }
        _ => Err(Fault::client(
            "unknown_operation",
            format!(
                "{} is not an operation of this endpoint; the WSDL at {}?wsdl lists them",
                op.qname(),
                super::PATH
            ),
        )),
    }
}

/// The logged-in user, as the JSON API finds them (the session cookie); with `csrf`, also the
/// `X-CSRF-Token` header the JSON API asks of every request that changes something.
async fn user(state: &AppState, parts: &mut Parts, csrf: bool) -> Result<User, Fault> {
    let user = User::from_request_parts(parts, state).await?;
    if csrf {
        let token = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !user.session.check_csrf(&state.key, token) {
            return Err(AppError::Forbidden(
                "missing or wrong X-CSRF-Token header (it comes with the log-in)".into(),
            )
            .into());
        }
    }
    Ok(user)
}

/// A handler's response read back: its JSON body when it succeeded, else its problem as a fault
/// (with its `Retry-After`, as for a request whose twin is in flight).
async fn reply<T: DeserializeOwned>(r: Response) -> Result<T, Fault> {
    let status = r.status();
    let retry_after = r.headers().get(axum::http::header::RETRY_AFTER).cloned();
    // The handlers answer small JSON documents; 16 MiB bounds a surprise.
    let bytes = axum::body::to_bytes(r.into_body(), 16 << 20)
        .await
        .map_err(AppError::internal)?;
    if status.is_success() {
        return Ok(serde_json::from_slice(&bytes).map_err(AppError::internal)?);
    }
    let p: Problem = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        Problem::new(
            status,
            "error",
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    });
    let mut f = Fault::from_problem(p);
    f.retry_after = retry_after;
    Err(f)
}

fn as_value(v: impl serde::Serialize) -> Result<Value, Fault> {
    Ok(serde_json::to_value(v).map_err(AppError::internal)?)
}

/// A JSON scalar as text (a string without its quotes).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn money(o: &mut Out, name: &str, m: &Value) {
    o.open(name)
        .leaf("minor", m["minor"].as_i64().unwrap_or(0))
        .leaf("currency", text(&m["currency"]))
        .close(name);
}

/// The names of a catalog's ICC profiles (names, or profiles described by a `name`).
fn profile_names(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|p| match p {
            Value::Object(o) => o.get("name").map(text).unwrap_or_else(|| p.to_string()),
            other => text(other),
        })
        .collect()
}

/// `<name>` holding the order's status (`OrderStatus` of the XSD).
fn status_reply(name: &str, v: &OrderView) -> String {
    let mut o = Out::new(NS, name);
    o.open("status")
        .leaf("order", &v.order)
        .leaf("stage", &v.stage)
        .leaf("completed", v.completed)
        .leaf("createdAt", &v.created_at)
        .opt("lab", v.lab.as_ref())
        .opt("counter", v.counter.as_ref())
        .leaf("reserved", v.reserved)
        .leaf("used", v.used)
        .opt("reservationExpiresAt", v.reservation_expires_at.as_ref());
    for i in &v.images {
        o.open("image")
            .leaf("image", &i.image)
            .leaf("name", &i.name)
            .leaf("bytes", i.bytes)
            .close("image");
    }
    for i in v.items.as_array().into_iter().flatten() {
        o.open("item")
            .leaf("image", text(&i["image"]))
            .leaf("size", text(&i["size"]))
            .leaf("quantity", i["quantity"].as_u64().unwrap_or(0))
            .opt("edits", i["edits"].as_str())
            .close("item");
    }
    for t in &v.timeline {
        o.open("timelineEntry")
            .leaf("stage", &t.stage)
            .leaf("site", &t.site)
            .leaf("detail", &t.detail)
            .leaf("at", &t.at)
            .close("timelineEntry");
    }
    o.opt("detail", v.detail.as_ref());
    if let Some(slip) = &v.slip {
        o.opt(
            "labReception",
            slip.pointer("/reception/number").and_then(Value::as_str),
        );
        if let Some(total) = slip.pointer("/reception/charge/total") {
            money(&mut o, "labCharge", total);
        }
    }
    o.opt("reorderOf", v.reorder_of.as_ref());
    o.close("status");
    o.finish(name)
}

// ---- Reading an operation's element (the XSD's shapes; a wrong one is a Client fault).

/// Every child of `op` is one of `allowed`, in the binding's namespace.
fn only(op: &El<'_>, allowed: &[&str]) -> Result<(), Fault> {
    for c in &op.children {
        if c.ns.as_deref() != Some(NS) || !allowed.contains(&c.name.as_str()) {
            let expected = if allowed.is_empty() {
                "no elements".to_string()
            } else {
                allowed
                    .iter()
                    .map(|a| format!("{{{NS}}}{a}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(Fault::client(
                "unexpected_element",
                format!(
                    "{} is not expected in {}; it holds {expected}",
                    c.qname(),
                    op.qname()
                ),
            ));
        }
    }
    Ok(())
}

fn missing(op: &El<'_>, name: &str) -> Fault {
    Fault::client(
        "missing_element",
        format!("{} needs the element {{{NS}}}{name}", op.qname()),
    )
}

/// The text of the child `name` (at most one, with no elements inside).
fn field<'e, 'a>(op: &'e El<'a>, name: &str) -> Result<Option<&'e str>, Fault> {
    let mut found = op.children.iter().filter(|c| c.is(NS, name));
    let Some(el) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() {
        return Err(Fault::client(
            "unexpected_element",
            format!("{{{NS}}}{name} comes at most once in {}", op.qname()),
        ));
    }
    if let Some(c) = el.children.first() {
        return Err(Fault::client(
            "unexpected_element",
            format!(
                "{} is not expected in {}, which holds text",
                c.qname(),
                el.qname()
            ),
        ));
    }
    Ok(Some(&el.text))
}

fn optional(op: &El<'_>, name: &str) -> Result<Option<String>, Fault> {
    Ok(field(op, name)?.map(|t| t.trim().to_string()))
}

fn required(op: &El<'_>, name: &str) -> Result<String, Fault> {
    optional(op, name)?.ok_or_else(|| missing(op, name))
}

fn number<T: std::str::FromStr>(op: &El<'_>, name: &str) -> Result<T, Fault> {
    let t = required(op, name)?;
    t.parse().map_err(|_| {
        Fault::client(
            "invalid_value",
            format!("{{{NS}}}{name} must be a whole number of 0 or more, not {t:?}"),
        )
    })
}

/// An `xs:boolean`: true, false, 1 or 0.
fn boolean(op: &El<'_>, name: &str) -> Result<Option<bool>, Fault> {
    match optional(op, name)?.as_deref() {
        None => Ok(None),
        Some("true" | "1") => Ok(Some(true)),
        Some("false" | "0") => Ok(Some(false)),
        Some(other) => Err(Fault::client(
            "invalid_value",
            format!("{{{NS}}}{name} must be true or false, not {other:?}"),
        )),
    }
}

/// The `item` lines as the JSON API's items: image, size, quantity and an optional edit list
/// (JSON text in the element).
fn item_values(op: &El<'_>) -> Result<Vec<Value>, Fault> {
    op.children
        .iter()
        .filter(|c| c.is(NS, "item"))
        .map(|item| {
            only(item, &["image", "size", "quantity", "edits"])?;
            let mut v = json!({
                "image": required(item, "image")?,
                "size": required(item, "size")?,
                "quantity": number::<u64>(item, "quantity")?,
            });
            if let Some(e) = optional(item, "edits")? {
                let edits: Value = serde_json::from_str(&e).map_err(|err| {
                    Fault::client(
                        "invalid_value",
                        format!("{{{NS}}}edits must be an edit list in JSON: {err}"),
                    )
                })?;
                v["edits"] = edits;
            }
            Ok(v)
        })
        .collect()
}

/// The `sourceProfile` elements as the JSON API's `source_profiles`: `{"image", "profile":
/// {"named": ...}}` or `{"image", "profile": {"icc": "<base64>"}}` (the order check decodes
/// and checks the profile).
fn source_profiles(op: &El<'_>) -> Result<Vec<Value>, Fault> {
    op.children
        .iter()
        .filter(|c| c.is(NS, "sourceProfile"))
        .map(|sp| {
            only(sp, &["image", "named", "icc"])?;
            let profile = match (optional(sp, "named")?, field(sp, "icc")?) {
                (Some(name), None) => json!({"named": name}),
                (None, Some(icc)) => {
                    let icc: String = icc.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                    json!({"icc": icc})
                }
                _ => {
                    return Err(Fault::client(
                        "invalid_value",
                        format!("{{{NS}}}sourceProfile holds one of named or icc"),
                    ));
                }
            };
            Ok(json!({"image": required(sp, "image")?, "profile": profile}))
        })
        .collect()
}

/// The `Idempotency-Key` header the JSON API reads, from the element of that name.
fn key_header(key: Option<String>) -> Result<HeaderMap, Fault> {
    let mut h = HeaderMap::new();
    if let Some(k) = key {
        let v = HeaderValue::from_str(&k).map_err(|_| {
            AppError::BadRequest(
                "the idempotency key must be 1 to 200 visible ASCII characters".into(),
            )
        })?;
        h.insert("idempotency-key", v);
    }
    Ok(h)
}

/// XOP's namespace (`xop:Include`).
const XOP: &str = "http://www.w3.org/2004/08/xop/include";

/// The image of `UploadImage`: its `data` in base64, or, in an MTOM request, the part its
/// `xop:Include` refers to (`href="cid:..."`).
fn image_data(op: &El<'_>, attachments: &Attachments) -> Result<bytes::Bytes, Fault> {
    let mut found = op.children.iter().filter(|c| c.is(NS, "data"));
    let data = found.next().ok_or_else(|| missing(op, "data"))?;
    if found.next().is_some() {
        return Err(Fault::client(
            "unexpected_element",
            format!("{{{NS}}}data comes at most once in {}", op.qname()),
        ));
    }
    match data.children.as_slice() {
        [] => Ok(decode_base64(&data.text)?.into()),
        [include] if include.is(XOP, "Include") => {
            let href = include.attr("href").unwrap_or_default();
            let cid = href.strip_prefix("cid:").ok_or_else(|| {
                Fault::client(
                    "invalid_value",
                    format!("an xop:Include refers to a part by href=\"cid:...\", not {href:?}"),
                )
            })?;
            let cid = percent_encoding::percent_decode_str(cid).decode_utf8_lossy();
            attachments.get(cid.as_ref()).cloned().ok_or_else(|| {
                Fault::client(
                    "missing_attachment",
                    format!("no part with Content-ID <{cid}> in this request"),
                )
            })
        }
        [other, ..] => Err(Fault::client(
            "unexpected_element",
            format!(
                "{} is not expected in {}; it holds the image in base64, or an xop:Include",
                other.qname(),
                data.qname()
            ),
        )),
    }
}

/// An `xs:base64Binary` (whitespace allowed between the characters, as XML Schema says).
fn decode_base64(text: &str) -> Result<Vec<u8>, Fault> {
    let e = base64::engine::general_purpose::STANDARD;
    let decoded = if text.bytes().any(|b| b.is_ascii_whitespace()) {
        let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        e.decode(clean)
    } else {
        e.decode(text)
    };
    decoded.map_err(|err| {
        Fault::client(
            "invalid_value",
            format!("{{{NS}}}data must be the image's bytes in base64: {err}"),
        )
    })
}
