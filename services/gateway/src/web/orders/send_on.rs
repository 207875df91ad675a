//! "Send these photos on" (seed 000, claims 5, 6 and 15 f-g) from a submitted order's page:
//! `/orders/{id}/send-on`. The person chooses where (another lab, for another size or product,
//! the lab that printed them, or a counter with its own printer: the site directory says who
//! prints what), then the photos, sizes and copies, sees the sites' quote and confirms; the new
//! order's page says it was sent on from the first. Nothing is uploaded again.
//!
//! Three steps of one page, plain forms without script: `?` (where), `?to=<site>` (the photos),
//! `?to=<site>&step=quote&pick=<image>&size-<image>=<size>&qty-<image>=<n>[&index=1]` (the
//! quote and the confirmation). What is sent on and where is decided by the API's own code
//! (`crate::api::send_on::resolve`), the quote by the API's quote (the one order check), and the
//! confirmation posts to the API's send-on with the page's idempotency key: the page says what
//! the API would do, in words.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, PreEscaped, html};
use reprint_bus::directory::SiteAnnouncement;
use reprint_bus::subjects::SiteKind as BusKind;
use reprint_domain::PrintSize;
use reprint_domain::web_order::{ItemRecord, WebStage};
use reprint_ui::t_with;
use serde_json::{Value, json};

use super::{
    Amount, Facts, STYLE, amount_markup, form_refused, idempotency_headers, new_order_page,
    parse_time, place_markup, site, size_words,
};
use crate::api::send_on::{Resolved, SendOnRequest, resolve};
use crate::api::{self, ItemRequest, OrderRequest, QuoteView};
use crate::auth::User;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{Viewer, render_with};

const SEND_STYLE: &str = "\
.sites{list-style:none;padding:0;margin:0;display:grid;gap:8px}\
.sites label,.photos label.pick,.index-print label{display:flex;gap:12px;align-items:flex-start;background:#fff;border:1px solid #ddd;border-radius:8px;padding:8px 12px;cursor:pointer}\
.sites input,.photos input[type=checkbox],.index-print input{width:44px;height:44px;margin:0;flex:none}\
.sites .what{display:block;color:#555}.sites strong{display:block}\
fieldset{border:none;padding:0;margin:0 0 16px}legend{font-weight:600;margin-bottom:8px}\
.photos{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,300px),1fr));gap:12px}\
.photos>li{background:#fff;border:1px solid #ddd;border-radius:8px;padding:8px;display:grid;gap:8px}\
.photos label.pick{border:none;padding:0;align-items:center}\
.photos img{width:96px;height:64px;object-fit:cover;border-radius:4px;background:#eee;flex:none}\
.photos .name{flex:1;min-width:0;overflow-wrap:break-word;align-self:center}\
.photos .choice{display:grid;grid-template-columns:1fr 6rem;gap:8px}.photos .choice label{display:grid;gap:2px;font-size:.9rem}\
.photos select,.photos input[type=number]{width:100%}\
.index-print{margin:16px 0}\
";

/// Where the photos can go: the labs of the directory (any size they print), and the counters
/// with their own printer (the first order's lab makes the order for them, so the sizes both
/// print). Stale sites are left out: they would not answer the quote.
struct Place {
    site: SiteAnnouncement,
    sizes: Vec<PrintSize>,
    /// The lab that made the first order.
    first_lab: bool,
}

fn sizes_of(codes: &[String]) -> Vec<PrintSize> {
    codes
        .iter()
        .filter_map(|c| PrintSize::parse(c).ok())
        .collect()
}

async fn places(state: &AppState, first_lab: Option<&SiteAnnouncement>) -> Vec<Place> {
    let now = state.clock.now();
    let entries = match state.directory.list().await {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "site directory not read");
            return Vec::new();
        }
    };
    let lab_sizes = first_lab.map(|l| sizes_of(&l.sizes)).unwrap_or_default();
    let mut out: Vec<Place> = entries
        .into_iter()
        .filter(|e| !e.site.is_stale(now))
        .filter_map(|e| match e.site.kind {
            BusKind::Lab => Some(Place {
                sizes: sizes_of(&e.site.sizes),
                first_lab: first_lab.is_some_and(|l| l.id == e.site.id),
                site: e.site,
            }),
            BusKind::Counter => {
                let printer = e.site.printer.as_ref()?;
                let sizes: Vec<PrintSize> = sizes_of(&printer.sizes)
                    .into_iter()
                    .filter(|s| lab_sizes.contains(s))
                    .collect();
                (!sizes.is_empty()).then_some(Place {
                    sizes,
                    first_lab: false,
                    site: e.site,
                })
            }
            _ => None,
        })
        .collect();
    // Labs first, the one that printed them first of all, then by name.
    out.sort_by(|a, b| {
        (a.site.kind != BusKind::Lab, !a.first_lab, &a.site.name).cmp(&(
            b.site.kind != BusKind::Lab,
            !b.first_lab,
            &b.site.name,
        ))
    });
    out
}

/// The page's query: `to`, `step`, `pick` (repeated), `size-<image>`, `qty-<image>`, `index`.
struct Choice {
    to: Option<String>,
    quote: bool,
    picks: Vec<String>,
    sizes: Vec<(String, String)>,
    quantities: Vec<(String, String)>,
    index: bool,
}

impl Choice {
    fn of(pairs: &[(String, String)]) -> Choice {
        let one = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        let prefixed = |p: &str| {
            pairs
                .iter()
                .filter_map(|(k, v)| k.strip_prefix(p).map(|i| (i.to_string(), v.clone())))
                .collect::<Vec<_>>()
        };
        Choice {
            to: one("to").filter(|t| !t.is_empty()),
            quote: one("step").as_deref() == Some("quote"),
            picks: pairs
                .iter()
                .filter(|(k, _)| k == "pick")
                .map(|(_, v)| v.clone())
                .collect(),
            sizes: prefixed("size-"),
            quantities: prefixed("qty-"),
            index: one("index").as_deref() == Some("1"),
        }
    }

    fn size_of(&self, image: &str) -> Option<&str> {
        self.sizes
            .iter()
            .find(|(i, _)| i == image)
            .map(|(_, s)| s.as_str())
    }

    fn quantity_of(&self, image: &str) -> Option<u32> {
        self.quantities
            .iter()
            .find(|(i, _)| i == image)
            .and_then(|(_, q)| q.trim().parse().ok())
    }
}

/// Each image of the first order once (its first print line), as the photo step offers it.
fn photos_of(items: &[ItemRecord]) -> Vec<&ItemRecord> {
    let mut out: Vec<&ItemRecord> = Vec::new();
    for i in items {
        if i.size != PrintSize::Index.code() && !out.iter().any(|o| o.image == i.image) {
            out.push(i);
        }
    }
    // An image named only by an index line is a photo of the order too.
    for i in items {
        if !out.iter().any(|o| o.image == i.image) {
            out.push(i);
        }
    }
    out
}

/// The lines the person chose, as the API takes them: each picked photo at its size and count
/// with the first order's edits, then the index print (one sheet of every photo) when asked.
fn chosen_items(c: &Choice, photos: &[&ItemRecord]) -> Vec<ItemRequest> {
    let mut items: Vec<ItemRequest> = photos
        .iter()
        .filter(|p| c.picks.contains(&p.image))
        .map(|p| ItemRequest {
            image: p.image.clone(),
            size: c.size_of(&p.image).unwrap_or(&p.size).to_string(),
            quantity: c.quantity_of(&p.image).unwrap_or(p.quantity),
            edits: p
                .edits
                .as_deref()
                .and_then(|e| serde_json::from_str(e).ok()),
        })
        .collect();
    if c.index
        && let Some(first) = items.first().map(|i| i.image.clone())
    {
        items.push(ItemRequest {
            image: first,
            size: PrintSize::Index.code().to_string(),
            quantity: 1,
            edits: None,
        });
    }
    items
}

fn items_json(items: &[ItemRequest]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|i| json!({"image": i.image, "size": i.size, "quantity": i.quantity, "edits": i.edits}))
            .collect(),
    )
}

/// `GET /orders/{id}/send-on`.
pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let user = match viewer.need_user() {
        Ok(u) => u.clone(),
        Err(r) => return *r,
    };
    render_page(&state, &viewer, &user, &id, &Choice::of(&pairs), None).await
}

async fn render_page(
    state: &AppState,
    viewer: &Viewer,
    user: &User,
    id: &str,
    c: &Choice,
    error: Option<String>,
) -> Response {
    let f = match Facts::load(state, user, id).await {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let title = viewer.t("send-on-title");
    let submitted = f.stage != WebStage::Draft && f.view.lab.is_some();
    let places = if submitted {
        places(state, f.lab.as_ref()).await
    } else {
        Vec::new()
    };
    let place =
        c.to.as_deref()
            .and_then(|to| places.iter().find(|p| p.site.id.as_str() == to));
    let photos = photos_of(&f.items);
    let quoted = match (place, c.quote) {
        (Some(place), true) => Some(quote(viewer.lang, state, user, &f, place, c, &photos).await),
        _ => None,
    };
    let lang = viewer.lang;
    let back =
        html! { a.button.quiet href={ "/orders/" (f.view.order) } { (viewer.t("send-on-back")) } };
    let content = html! {
        h1 { (title) }
        @if let Some(e) = &error { p.notice #send-on-error role="alert" { (e) } }
        @if !submitted {
            p.notice { (viewer.t("send-on-not-placed")) }
            p { (back) }
        } @else {
            p { (viewer.t("send-on-lead")) }
            // Step 1: where.
            form method="get" action={ "/orders/" (f.view.order) "/send-on#photos-h" } {
                fieldset {
                    legend { (viewer.t("send-on-where")) }
                    @if places.is_empty() { p #no-places { (viewer.t("send-on-nowhere")) } }
                    ul.sites {
                        @for p in &places {
                            @let sid = p.site.id.to_string();
                            li {
                                label for={ "to-" (sid) } {
                                    input type="radio" name="to" id={ "to-" (sid) } value=(sid) checked[place.is_some_and(|q| q.site.id == p.site.id)] required;
                                    span {
                                        strong { (p.site.name) }
                                        span.what {
                                            @if p.site.kind == BusKind::Lab {
                                                @if p.first_lab { (viewer.t("send-on-lab-first")) } @else { (viewer.t("send-on-lab")) }
                                            } @else {
                                                (t_with(lang, "send-on-counter", &[("lab", f.lab_name().into())]))
                                            }
                                        }
                                        span.what { (p.site.address) }
                                        span.what { (t_with(lang, "send-on-prints", &[("sizes", p.sizes.iter().filter(|s| **s != PrintSize::Index).map(|s| size_words(lang, s.code())).collect::<Vec<_>>().join(", ").into())])) }
                                        @if p.sizes.contains(&PrintSize::Index) {
                                            span.what { (viewer.t("send-on-has-index")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if !places.is_empty() {
                    div.actions {
                        button #choose-site { (viewer.t("send-on-choose-site")) }
                        (back)
                    }
                }
            }
            // Step 2: the photos, sizes and copies.
            @if let Some(place) = place {
                @let offered: Vec<PrintSize> = place.sizes.iter().copied().filter(|s| *s != PrintSize::Index).collect();
                form #photos-form method="get" action={ "/orders/" (f.view.order) "/send-on#quote" } {
                    input type="hidden" name="to" value=(place.site.id.to_string());
                    input type="hidden" name="step" value="quote";
                    h2 #photos-h { (t_with(lang, "send-on-photos", &[("site", place.site.name.clone().into())])) }
                    ul.photos aria-labelledby="photos-h" {
                        @for p in &photos {
                            @let picked = if c.quote { c.picks.contains(&p.image) } else { true };
                            @let size = c.size_of(&p.image).map(str::to_string)
                                .filter(|s| offered.iter().any(|o| o.code() == s))
                                .or_else(|| offered.iter().find(|o| o.code() == p.size).map(|o| o.code().to_string()))
                                .or_else(|| offered.first().map(|o| o.code().to_string()))
                                .unwrap_or_default();
                            @let qty = c.quantity_of(&p.image).unwrap_or(p.quantity);
                            li data-image=(p.image) {
                                label.pick {
                                    input type="checkbox" name="pick" value=(p.image) checked[picked] aria-label=(t_with(lang, "send-on-pick", &[("name", p.name.clone().into())]));
                                    img src={ "/api/v1/images/" (p.image) "/thumbnail" } alt="" width="96" height="64" loading="lazy";
                                    span.name { (p.name) }
                                }
                                div.choice {
                                    label {
                                        span { (viewer.t("send-on-size")) }
                                        select name={ "size-" (p.image) } {
                                            @for s in &offered {
                                                option value=(s.code()) selected[s.code() == size] { (size_words(lang, s.code())) }
                                            }
                                        }
                                    }
                                    label {
                                        span { (viewer.t("send-on-copies")) }
                                        input type="number" name={ "qty-" (p.image) } min="1" max="999" value=(qty) inputmode="numeric";
                                    }
                                }
                            }
                        }
                    }
                    @if place.sizes.contains(&PrintSize::Index) {
                        div.index-print {
                            label for="index" {
                                input #index type="checkbox" name="index" value="1" checked[c.index];
                                span { (viewer.t("send-on-index")) span.muted { " " (viewer.t("send-on-index-what")) } }
                            }
                        }
                    }
                    div.actions {
                        button #see-price { (viewer.t("send-on-see-price")) }
                    }
                }
                // Step 3: the quote and the confirmation.
                @match &quoted {
                    Some(Ok((q, resolved, facts))) => {
                        section #quote aria-labelledby="quote-h" {
                            h2 #quote-h { (viewer.t("send-on-quote")) }
                            (place_markup(viewer, facts))
                            (amount_markup(viewer, facts, &Amount {
                                lab: Some(q.lab.charge.clone()),
                                counter: Some(q.counter.charge.clone()),
                                total: q.total,
                                estimate: false,
                            }))
                            @if let Some(ready) = q.lab.estimated_finish.as_deref().and_then(parse_time) {
                                p { (t_with(lang, "orders-ready-by", &[("time", reprint_ui::local_time(lang, facts.tz, ready).into())])) }
                            }
                            form.actions method="post" action={ "/orders/" (f.view.order) "/send-on" } {
                                input type="hidden" name="csrf" value=(user.session.csrf_token(&state.key));
                                input type="hidden" name="key" value=(uuid::Uuid::new_v4().to_string());
                                input type="hidden" name="to" value=(place.site.id.to_string());
                                input type="hidden" name="items" value=(items_json(&resolved.items).to_string());
                                button #confirm-send-on { (viewer.t("send-on-confirm")) }
                                (back)
                            }
                        }
                    }
                    Some(Err(e)) => {
                        div #quote {
                            p.notice #no-quote role="alert" { (t_with(lang, "send-on-no-quote", &[("reason", e.clone().into())])) }
                        }
                    }
                    None => {}
                }
            }
        }
    };
    render_with(
        state,
        viewer,
        &title,
        Some(html! { style { (PreEscaped(STYLE)) (PreEscaped(SEND_STYLE)) } }),
        content,
    )
}

/// The quote of what the person chose: resolved by the API's send-on (where, which lines),
/// quoted by the API's quote (the one order check, both sites' charges); a refusal in the
/// API's words.
async fn quote(
    lang: reprint_ui::Lang,
    state: &AppState,
    user: &User,
    f: &Facts,
    place: &Place,
    c: &Choice,
    photos: &[&ItemRecord],
) -> Result<(QuoteView, Resolved, Facts), String> {
    let items = chosen_items(c, photos);
    if items.is_empty() {
        return Err(reprint_ui::t(lang, "send-on-none-picked"));
    }
    let loaded = state
        .load_order(&f.view.order)
        .await
        .map_err(|e| e.problem().detail)?;
    let prev = loaded
        .state
        .reorderable()
        .map_err(|e| AppError::from(e).problem().detail)?
        .clone();
    let req = SendOnRequest {
        to: place.site.id.to_string(),
        counter: None,
        items: Some(items),
    };
    let resolved = resolve(state, &prev, &f.view.order, req)
        .await
        .map_err(|e| e.problem().detail)?;
    let asked = api::quote(
        State(state.clone()),
        user.clone(),
        Path(f.view.order.clone()),
        reprint_service::problem::Json(OrderRequest {
            lab: resolved.lab.clone(),
            counter: resolved.counter.clone(),
            items: resolved.items.clone(),
            idempotency_key: None,
            digital_copy: false,
            source_profiles: Vec::new(),
        }),
    );
    let q = match tokio::time::timeout(super::QUOTE_WAIT, asked).await {
        Ok(r) => r.map(|q| q.0).map_err(|e| e.problem().detail)?,
        Err(_) => return Err("the lab or the counter did not answer in time".into()),
    };
    // The new order as the page shows it: its lab, its counter, its lines with the photos' names.
    let (lab, counter) = tokio::join!(
        site(state, Some(&resolved.lab)),
        site(state, Some(&resolved.counter))
    );
    let mut view = f.view.clone();
    view.lab = Some(resolved.lab.clone());
    view.counter = Some(resolved.counter.clone());
    let items = resolved
        .items
        .iter()
        .map(|i| ItemRecord {
            image: i.image.clone(),
            name: photos
                .iter()
                .find(|p| p.image == i.image)
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            size: i.size.clone(),
            quantity: i.quantity,
            edits: None,
        })
        .collect();
    let tz = counter
        .as_ref()
        .or(lab.as_ref())
        .and_then(|s| s.time_zone.parse::<chrono_tz::Tz>().ok())
        .unwrap_or(f.tz);
    let facts = Facts {
        view,
        stage: f.stage,
        items,
        lab,
        counter,
        slip: None,
        tz,
        cancellable: false,
        digital_copy: false,
    };
    Ok((q, resolved, facts))
}

#[derive(serde::Deserialize)]
pub(super) struct SendOnForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    items: String,
}

/// `POST /orders/{id}/send-on` (the confirmation's button): the API's send-on with the page's
/// idempotency key (a second press is the same new order), then the new order's page.
pub(super) async fn confirm(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    form: Result<Form<SendOnForm>, FormRejection>,
) -> Response {
    let user = match viewer.need_user() {
        Ok(u) => u.clone(),
        Err(r) => return *r,
    };
    let Ok(Form(form)) = form else {
        return form_refused();
    };
    if !user.session.check_csrf(&state.key, &form.csrf) {
        return form_refused();
    }
    let headers = idempotency_headers(&form.key);
    let items: Value = serde_json::from_str(&form.items).unwrap_or(Value::Null);
    let body = json!({"to": form.to, "items": items});
    let sent = api::send_on::send_on(
        State(state.clone()),
        user.clone(),
        Path(id.clone()),
        headers,
        axum::body::Bytes::from(body.to_string()),
    )
    .await;
    let error = match new_order_page(sent, "the new order's page could not be found").await {
        Ok(page) => return page,
        Err(words) => words,
    };
    let c = Choice {
        to: Some(form.to.clone()).filter(|t| !t.is_empty()),
        quote: false,
        picks: Vec::new(),
        sizes: Vec::new(),
        quantities: Vec::new(),
        index: false,
    };
    let mut res = render_page(&state, &viewer, &user, &id, &c, Some(error)).await;
    if res.status().is_success() {
        *res.status_mut() = StatusCode::CONFLICT;
    }
    res
}

/// What the new order's page says of the order it came from: sent on (to another lab or
/// counter) or ordered again (the same lab and counter), with a link to it.
pub(super) async fn origin_markup(
    state: &AppState,
    viewer: &Viewer,
    user: &User,
    f: &Facts,
) -> Option<Markup> {
    let from = f.view.reorder_of.as_deref()?;
    let first = api::order_view(state, user, from).await.ok()?;
    let same = first.lab == f.view.lab && first.counter == f.view.counter;
    let name = match super::SlipFacts::of(first.slip.as_ref()).and_then(|s| s.reception) {
        Some(n) => t_with(viewer.lang, "orders-reception", &[("number", n.into())]),
        None => t_with(
            viewer.lang,
            "orders-order-id",
            &[("id", super::short_id(from).into())],
        ),
    };
    let key = if same {
        "send-on-reordered-from"
    } else {
        "send-on-sent-from"
    };
    Some(html! {
        p #origin {
            (viewer.t(key)) " "
            a href={ "/orders/" (from) } { (name) }
        }
    })
}
