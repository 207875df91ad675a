//! The user's orders: the history (`/orders`, newest first, drafts left out), an order's status
//! (`/orders/{id}`: the whole way from placed to collected, the prints, the amount due at the
//! counter, where and when to collect, cancel while the order allows it, updated live), its
//! reception slip (`/orders/{id}/slip`, the seed's S307: printable on one A4 page and readable
//! on a phone, with a QR code of the reception number) and ordering it again through a quote
//! and a confirmation (`/orders/{id}/reorder`).
//!
//! Live updates without phantom lines: the page shows the order as the server read it, with
//! the count of its timeline entries (`data-version`). The events stream
//! (`/api/v1/orders/{id}/events`) says the count with every event (and resends the current one
//! on connect); only a count the page does not show yet makes it fetch the status section
//! again (`/orders/{id}/live`), rendered by the server from the recorded timeline: every line
//! once, with the time the site recorded, never the browser's clock.

use std::time::Duration;

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use maud::{Markup, PreEscaped, html};
use reprint_bus::directory::{OpeningHours, SiteAnnouncement, days_of};
use reprint_domain::protocol::Stage;
use reprint_domain::web_order::{self, ItemRecord, WebStage};
use reprint_domain::{Charge, ChargeLine, LineKind, Money, PrintSize};
use reprint_eventstore::sql::Arg;
use reprint_ui::{Lang, t_with};
use serde::Deserialize;
use serde_json::Value;

use super::{Viewer, render_with};
use crate::api::{self, ItemRequest, OrderRequest, OrderView, QuoteView};
use crate::auth::User;
use crate::db;
use crate::error::AppError;
use crate::state::AppState;

mod send_on;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/orders", get(history))
        .route("/orders/{id}", get(status_page))
        .route("/orders/{id}/live", get(live))
        .route("/orders/{id}/slip", get(slip))
        .route("/orders/{id}/cancel", axum::routing::post(cancel))
        .route("/orders/{id}/reorder", get(reorder_page).post(reorder))
        .route(
            "/orders/{id}/send-on",
            get(send_on::page).post(send_on::confirm),
        )
}

/// The way of an order, as the progress line shows it.
const WAY: [Stage; 6] = [
    Stage::Placed,
    Stage::Received,
    Stage::Printing,
    Stage::Dispatched,
    Stage::ReadyForPickup,
    Stage::Collected,
];

/// How long a page waits for the sites' quote (an estimate of the amount due) before it shows
/// the page without it.
const QUOTE_WAIT: Duration = Duration::from_secs(3);

const STYLE: &str = "\
.muted{color:#555}.stage{font-size:1.35rem;font-weight:700;margin:.5rem 0}\
.notice{border-left:4px solid #b3261e;background:#fdecea;padding:8px 12px}\
.progress{list-style:none;padding:0;margin:16px 0;display:grid;gap:4px}\
.progress li{display:flex;gap:10px;align-items:baseline;color:#666}\
.progress li::before{content:'';flex:none;width:14px;height:14px;border-radius:50%;border:2px solid #888;transform:translateY(2px)}\
.progress li.done{color:#1b1b1b}.progress li.done::before{background:#1d6b34;border-color:#1d6b34}\
.progress li[aria-current=step]{font-weight:700}.progress time{margin-left:auto;font-weight:400;color:#555;white-space:nowrap}\
.actions{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start;margin:16px 0}\
.button{display:inline-flex;align-items:center;text-decoration:none;min-height:44px}\
a.button{color:#fff}\
.quiet,a.quiet{background:#fff;color:#143d59}\
details.cancel summary{display:inline-flex;align-items:center;min-height:44px;padding:0 16px;border:1px solid #b3261e;color:#b3261e;border-radius:6px;cursor:pointer;list-style:none}\
details.cancel summary::-webkit-details-marker{display:none}\
details.cancel[open] summary{margin-bottom:8px}.danger{background:#b3261e;border-color:#b3261e}\
.items{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:12px}\
.items li{background:#fff;border:1px solid #ddd;border-radius:8px;padding:8px}\
.items img{display:block;width:100%;aspect-ratio:3/2;object-fit:cover;border-radius:4px;background:#eee}\
.items .name{font-weight:600}\
.charge td:last-child,.charge th:last-child{text-align:right;white-space:nowrap}\
.charge .discount td{color:#1d6b34}.charge .why{display:block;color:#555;font-size:.9em}\
.charge caption{text-align:left;font-weight:600;padding:8px 0 0}\
.total{font-size:1.2rem;font-weight:700;display:flex;justify-content:space-between;gap:8px;border-top:2px solid #1b1b1b;padding-top:8px}\
.log{padding-left:1.2rem}.log time{color:#555;margin-right:8px;white-space:nowrap}\
.orders{list-style:none;padding:0;display:grid;gap:12px}\
.orders>li{background:#fff;border:1px solid #ddd;border-radius:8px;padding:12px}\
.orders h2{font-size:1.1rem;margin:0 0 4px}.orders p{margin:4px 0}\
.badge{display:inline-block;padding:2px 8px;border-radius:12px;background:#e7eef4;color:#143d59;font-size:.9rem}\
.badge.end{background:#fdecea;color:#8c1d18}.badge.ok{background:#e3f1e6;color:#1d6b34}\
address{font-style:normal}\
";

const SLIP_STYLE: &str = "\
.slip{background:#fff;border:1px solid #ccc;border-radius:8px;padding:16px;max-width:720px}\
.slip h1{margin-top:0}.slip .number{font-size:2rem;font-weight:700;letter-spacing:.05em;margin:0}\
.slip .top{display:flex;flex-wrap:wrap;gap:16px;align-items:center;justify-content:space-between}\
.slip .qr svg{display:block;width:160px;height:160px}\
.slip dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:16px 0}\
.slip dt{color:#555}.slip dd{margin:0}\
@page{size:A4;margin:14mm}\
@media print{header,footer,.noprint,.skip{display:none!important}body{background:#fff;font-size:10.5pt;line-height:1.35}\
main{max-width:none;padding:0}.slip{border:none;padding:0;max-width:none}\
.slip h1{font-size:17pt;margin:0 0 4px}.slip h2{font-size:12.5pt;margin:10px 0 4px}.slip h3{font-size:11pt;margin:6px 0 2px}\
.slip .number{font-size:24pt}.slip .qr svg{width:34mm;height:34mm}.slip dl{margin:8px 0}.slip p{margin:4px 0}\
.slip .hours{margin:2px 0;padding-left:1.2em}.charge td{padding:3px 6px}.total{font-size:12pt;padding-top:4px}\
.items{grid-template-columns:repeat(5,1fr);gap:6px}.items li{padding:4px;font-size:9pt}\
.slip table,.slip .items li{break-inside:avoid}}\
";

/// The stage of an order as the gateway records it.
fn web_stage(view: &OrderView) -> WebStage {
    WebStage::parse(&view.stage).unwrap_or_default()
}

/// A site of the directory, if it announced itself.
async fn site(state: &AppState, id: Option<&str>) -> Option<SiteAnnouncement> {
    let sid = reprint_bus::subjects::SiteId::parse(id?).ok()?;
    match state.directory.get(&sid).await {
        Ok(e) => e.map(|e| e.site),
        Err(e) => {
            tracing::warn!(site = %sid, error = %e, "site directory not read");
            None
        }
    }
}

fn site_name(s: &Option<SiteAnnouncement>, id: Option<&str>) -> String {
    s.as_ref()
        .map(|s| s.name.clone())
        .or_else(|| id.map(str::to_string))
        .unwrap_or_default()
}

fn parse_time(at: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(at)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// What the slip (the lab's reception record) says, read leniently.
struct SlipFacts {
    reception: Option<String>,
    registration: Option<String>,
    name: Option<String>,
    received_at: Option<DateTime<Utc>>,
    ready_by: Option<DateTime<Utc>>,
    lab_charge: Option<Charge>,
}

impl SlipFacts {
    fn of(slip: Option<&Value>) -> Option<SlipFacts> {
        let slip = slip?;
        let text = |p: &str| {
            slip.pointer(p)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        Some(SlipFacts {
            reception: text("/reception/number"),
            registration: text("/registration_number"),
            name: text("/name"),
            received_at: text("/reception/received_at").and_then(|t| parse_time(&t)),
            ready_by: text("/reception/estimated_finish").and_then(|t| parse_time(&t)),
            lab_charge: slip
                .pointer("/reception/charge")
                .and_then(|c| serde_json::from_value(c.clone()).ok()),
        })
    }
}

/// The amount due at the counter: the lab's charge and the counter's, each with its lines.
struct Amount {
    lab: Option<Charge>,
    counter: Option<Charge>,
    total: Option<Money>,
    /// A quote of now, not yet the counter's own figure.
    estimate: bool,
}

/// Everything a page of one order shows.
struct Facts {
    view: OrderView,
    stage: WebStage,
    items: Vec<ItemRecord>,
    lab: Option<SiteAnnouncement>,
    counter: Option<SiteAnnouncement>,
    slip: Option<SlipFacts>,
    tz: chrono_tz::Tz,
    cancellable: bool,
    /// The lab's digital copy was ordered with the prints (`web_order::Submitted`).
    digital_copy: bool,
}

impl Facts {
    async fn load(state: &AppState, user: &User, id: &str) -> Result<Facts, AppError> {
        let view = api::order_view(state, user, id).await?;
        let stage = web_stage(&view);
        let items: Vec<ItemRecord> = serde_json::from_value(view.items.clone()).unwrap_or_default();
        let (lab, counter) = tokio::join!(
            site(state, view.lab.as_deref()),
            site(state, view.counter.as_deref())
        );
        // Times in the zone of the counter the prints are collected at (else the lab's, else the
        // gateway's).
        let tz = counter
            .as_ref()
            .or(lab.as_ref())
            .and_then(|s| s.time_zone.parse::<chrono_tz::Tz>().ok())
            .unwrap_or(state.config.web.time_zone);
        // Whether the order may still be cancelled: the domain's decider, asked without acting.
        let loaded = state.load_order(&view.order).await;
        let digital_copy = loaded
            .as_ref()
            .ok()
            .and_then(|l| l.state.submitted.as_ref())
            .is_some_and(|s| s.digital_copy);
        let cancellable = loaded.is_ok_and(|loaded| {
            let ask = web_order::Command::Cancel {
                reason: String::new(),
                at: state.clock.now(),
            };
            web_order::decide(&loaded.state, ask).is_ok_and(|events| !events.is_empty())
        }) && stage != WebStage::Draft;
        let slip = SlipFacts::of(view.slip.as_ref());
        Ok(Facts {
            view,
            stage,
            items,
            lab,
            counter,
            slip,
            tz,
            cancellable,
            digital_copy,
        })
    }

    fn ended(&self) -> Option<Stage> {
        match self.stage {
            WebStage::At(s @ (Stage::Cancelled | Stage::Rejected)) => Some(s),
            _ => None,
        }
    }

    fn reached(&self, stage: Stage) -> bool {
        self.view.timeline.iter().any(|t| t.stage == stage.as_str())
    }

    /// The first time the order reached `stage`, by the site that recorded it.
    fn when(&self, stage: Stage) -> Option<DateTime<Utc>> {
        self.view
            .timeline
            .iter()
            .find(|t| t.stage == stage.as_str())
            .and_then(|t| parse_time(&t.at))
    }

    fn lab_name(&self) -> String {
        site_name(&self.lab, self.view.lab.as_deref())
    }

    fn counter_name(&self) -> String {
        site_name(&self.counter, self.view.counter.as_deref())
    }

    /// The version of the order the page shows: the count of its timeline entries (every
    /// status, the slip's and a cancellation each add one).
    fn version(&self) -> usize {
        self.view.timeline.len()
    }

    /// The counter's amount due (lab's charge then its own, `ready_for_pickup`), when it came.
    fn counters_due(&self) -> Option<Charge> {
        if !self.reached(Stage::ReadyForPickup) {
            return None;
        }
        let due: Charge = self
            .view
            .charge
            .as_ref()
            .and_then(|c| serde_json::from_value(c.clone()).ok())?;
        let lab_lines = self
            .slip
            .as_ref()
            .and_then(|s| s.lab_charge.as_ref())
            .map_or(0, |c| c.lines.len());
        (due.lines.len() > lab_lines).then_some(due)
    }

    /// The amount due at the counter: the counter's own figure once the prints are there, else
    /// the lab's charge (from its slip) and a quote of the rest.
    async fn amount(&self, state: &AppState, user: &User) -> Amount {
        let lab = self.slip.as_ref().and_then(|s| s.lab_charge.clone());
        if let Some(due) = self.counters_due() {
            let split = lab.as_ref().map_or(0, |l| l.lines.len());
            let counter_lines: Vec<ChargeLine> = due.lines[split..].to_vec();
            let counter = lab.as_ref().and_then(|l| {
                Money::sum(
                    due.total.currency,
                    counter_lines.iter().map(|line| &line.amount),
                )
                .ok()
                .filter(|sum| l.total.checked_add(*sum).ok() == Some(due.total))
                .map(|total| Charge {
                    lines: counter_lines.clone(),
                    total,
                })
            });
            return match counter {
                Some(counter) => Amount {
                    lab,
                    counter: Some(counter),
                    total: Some(due.total),
                    estimate: false,
                },
                // The lab's part unknown here: the counter's lines as they came, whole.
                None => Amount {
                    lab: None,
                    counter: Some(due.clone()),
                    total: Some(due.total),
                    estimate: false,
                },
            };
        }
        let quotable = matches!(
            self.stage,
            WebStage::At(Stage::Placed | Stage::Received | Stage::Printing)
                | WebStage::At(Stage::Printed | Stage::Dispatched)
        );
        let quote = if quotable {
            quote(state, user, &self.view, &self.items, self.digital_copy)
                .await
                .ok()
        } else {
            None
        };
        let counter = quote.as_ref().map(|q| q.counter.charge.clone());
        let lab = lab.or_else(|| quote.as_ref().map(|q| q.lab.charge.clone()));
        let total = match (&lab, &counter) {
            (Some(l), Some(c)) => reprint_domain::amount_due(l, c).ok(),
            _ => None,
        };
        Amount {
            lab,
            counter,
            total,
            estimate: true,
        }
    }
}

/// The sites' quote for `items` of `view`, as the order form asks it (the same check and the
/// same registration numbers), within [`QUOTE_WAIT`].
async fn quote(
    state: &AppState,
    user: &User,
    view: &OrderView,
    items: &[ItemRecord],
    digital_copy: bool,
) -> Result<QuoteView, AppError> {
    let (Some(lab), Some(counter)) = (view.lab.clone(), view.counter.clone()) else {
        return Err(AppError::conflict(
            "not_placed",
            "the order was never placed",
        ));
    };
    let req = OrderRequest {
        lab,
        counter,
        items: items
            .iter()
            .map(|i| ItemRequest {
                image: i.image.clone(),
                size: i.size.clone(),
                quantity: i.quantity,
                edits: i
                    .edits
                    .as_deref()
                    .and_then(|e| serde_json::from_str(e).ok()),
            })
            .collect(),
        idempotency_key: None,
        digital_copy,
        source_profiles: Vec::new(),
    };
    let asked = api::quote(
        State(state.clone()),
        user.clone(),
        Path(view.order.clone()),
        reprint_service::problem::Json(req),
    );
    match tokio::time::timeout(QUOTE_WAIT, asked).await {
        Ok(r) => r.map(|q| q.0),
        Err(_) => Err(AppError::Unavailable(
            "the lab or the counter did not answer in time".into(),
        )),
    }
}

// ---------- words ----------

fn size_words(lang: Lang, code: &str) -> String {
    match PrintSize::parse(code) {
        Ok(size) => {
            let key = format!("orders-size-{}", size.code());
            if reprint_ui::has_message(lang, &key) || reprint_ui::has_message(Lang::En, &key) {
                reprint_ui::t(lang, &key)
            } else {
                let (w, h) = size.millimetres();
                format!("{} ({w} × {h} mm)", size.code())
            }
        }
        Err(_) => code.to_string(),
    }
}

fn date_words(lang: Lang, date: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    match lang {
        Lang::En => date.format("%-d %b %Y").to_string(),
        Lang::Ja => format!("{}年{}月{}日", date.year(), date.month(), date.day()),
    }
}

/// Why a discount was given, in the reader's words, from the domain's reason ("previous order
/// here on 2026-11-18, within 7 days"); `None` when it says something else.
fn why_words(lang: Lang, description: &str) -> Option<String> {
    let reason = description.split_once(": ").map(|(_, r)| r)?;
    let date = reason
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .find_map(|w| chrono::NaiveDate::parse_from_str(w, "%Y-%m-%d").ok())?;
    let key = if reason.starts_with("previous order") {
        "orders-why-previous"
    } else if reason.starts_with("first order") {
        "orders-why-first"
    } else if reason.starts_with("registered here") {
        "orders-why-registered"
    } else if reason.contains(" printed here on ") {
        "orders-why-printed"
    } else {
        return None;
    };
    Some(t_with(
        lang,
        key,
        &[("date", date_words(lang, date).into())],
    ))
}

/// One line of a charge in the reader's words.
fn line_words(
    lang: Lang,
    charge: &Charge,
    line: &ChargeLine,
    names: &[(String, String)],
) -> (String, Option<String>) {
    let image_name = |image: &str| {
        names
            .iter()
            .find(|(id, _)| id == image)
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    };
    let of_words = |index: usize| match charge.lines.get(index).map(|l| &l.kind) {
        Some(LineKind::BasicCharge) => reprint_ui::t(lang, "orders-line-basic"),
        Some(LineKind::Prints {
            image,
            size,
            quantity,
            ..
        }) => t_with(
            lang,
            "orders-line-prints",
            &[
                ("name", image_name(&image.to_string()).into()),
                ("size", size_words(lang, size.code()).into()),
                ("count", (*quantity).into()),
            ],
        ),
        _ => String::new(),
    };
    match &line.kind {
        LineKind::BasicCharge => (reprint_ui::t(lang, "orders-line-basic"), None),
        LineKind::DigitalCopy => (reprint_ui::t(lang, "digital-line"), None),
        LineKind::Prints { .. } => {
            let index = charge
                .lines
                .iter()
                .position(|l| std::ptr::eq(l, line))
                .unwrap_or(0);
            (of_words(index), None)
        }
        LineKind::Discount { of, percent } => {
            let what = of_words(*of);
            let words = if percent.get() == 100 {
                t_with(lang, "orders-line-waived", &[("what", what.into())])
            } else {
                t_with(
                    lang,
                    "orders-line-discount",
                    &[("what", what.into()), ("percent", percent.get().into())],
                )
            };
            (words, why_words(lang, &line.description))
        }
    }
}

fn hours_markup(lang: Lang, hours: &[OpeningHours]) -> Markup {
    let day = |d: u8| {
        let key = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][usize::from(d.min(6))];
        reprint_ui::t(lang, &format!("orders-days-{key}"))
    };
    let days_words = |days: &str| -> String {
        match days_of(days) {
            Some(d) if d.len() == 7 => reprint_ui::t(lang, "orders-days-every"),
            Some(d) => {
                // Runs of consecutive days as ranges: Mon–Fri, Sat, Sun.
                let mut parts: Vec<String> = Vec::new();
                let mut i = 0;
                while i < d.len() {
                    let mut j = i;
                    while j + 1 < d.len() && d[j + 1] == d[j] + 1 {
                        j += 1;
                    }
                    parts.push(if j > i + 1 {
                        format!("{}–{}", day(d[i]), day(d[j]))
                    } else if j == i + 1 {
                        format!("{}, {}", day(d[i]), day(d[j]))
                    } else {
                        day(d[i])
                    });
                    i = j + 1;
                }
                parts.join(", ")
            }
            None => days.to_string(),
        }
    };
    html! {
        @if !hours.is_empty() {
            h3 { (reprint_ui::t(lang, "orders-hours")) }
            ul.hours {
                @for h in hours {
                    li { (t_with(lang, "orders-hours-line", &[
                        ("days", days_words(&h.days).into()),
                        ("opens", h.opens.clone().into()),
                        ("closes", h.closes.clone().into()),
                    ])) }
                }
            }
        }
    }
}

fn charge_table(lang: Lang, caption: &str, charge: &Charge, names: &[(String, String)]) -> Markup {
    html! {
        table.charge {
            caption { (caption) }
            @for line in &charge.lines {
                @let (words, why) = line_words(lang, charge, line, names);
                tr class=[matches!(line.kind, LineKind::Discount { .. }).then_some("discount")] {
                    td { (words) @if let Some(why) = why { span.why { (t_with(lang, "orders-why", &[("why", why.into())])) } } }
                    td { (reprint_ui::money(lang, line.amount)) }
                }
            }
        }
    }
}

fn amount_markup(viewer: &Viewer, f: &Facts, a: &Amount) -> Markup {
    let lang = viewer.lang;
    let names: Vec<(String, String)> = f
        .items
        .iter()
        .map(|i| (i.image.clone(), i.name.clone()))
        .collect();
    let site_caption = |key: &str, name: String| t_with(lang, key, &[("site", name.into())]);
    html! {
        section.amount aria-labelledby="amount-h" {
            h2 #amount-h { (viewer.t(if a.estimate { "orders-amount-estimate" } else { "orders-amount" })) }
            @if a.lab.is_none() && a.counter.is_none() {
                p { (viewer.t("orders-amount-unknown")) }
            }
            @if let Some(lab) = &a.lab {
                (charge_table(lang, &site_caption("orders-at-lab", f.lab_name()), lab, &names))
            }
            @if let Some(counter) = &a.counter {
                (charge_table(lang, &site_caption("orders-at-counter", f.counter_name()), counter, &names))
            }
            @if let Some(total) = a.total {
                p.total #amount-due { span { (viewer.t("orders-total")) } span { (reprint_ui::money(lang, total)) } }
            }
            @if a.estimate && a.counter.is_some() {
                p.muted { (viewer.t("orders-estimate-note")) }
            }
        }
    }
}

fn items_markup(viewer: &Viewer, items: &[ItemRecord]) -> Markup {
    html! {
        @if !items.is_empty() {
            section aria-labelledby="items-h" {
                h2 #items-h { (viewer.t("orders-items")) }
                ul.items {
                    @for i in items {
                        li {
                            img src={ "/api/v1/images/" (i.image) "/thumbnail" } alt=(i.name) loading="lazy" width="150" height="100";
                            div.name { (i.name) }
                            div { (size_words(viewer.lang, &i.size)) }
                            div { (t_with(viewer.lang, "orders-copies", &[("count", i.quantity.into())])) }
                        }
                    }
                }
            }
        }
    }
}

fn place_markup(viewer: &Viewer, f: &Facts) -> Markup {
    html! {
        @if f.view.counter.is_some() {
            section aria-labelledby="pickup-h" {
                h2 #pickup-h { (viewer.t("orders-pickup")) }
                p { strong { (f.counter_name()) } }
                @if let Some(c) = &f.counter {
                    address { (c.address) }
                    (hours_markup(viewer.lang, &c.opening_hours))
                }
                @if f.view.lab.is_some() {
                    p.muted { (viewer.t("orders-lab")) ": " (f.lab_name()) }
                }
            }
        }
    }
}

/// A timeline entry in words for a person (never the sites' internal detail, except a lab's
/// reason for not accepting the order, which is written for the customer).
fn event_words(viewer: &Viewer, f: &Facts, entry: &api::TimelineEntry) -> (String, Option<String>) {
    let lab = f.lab_name();
    let counter = f.counter_name();
    let with = |key: &str, args: &[(&'static str, String)]| {
        let mut args = args.iter();
        match (args.next(), args.next()) {
            (Some((k1, v1)), Some((k2, v2))) => t_with(
                viewer.lang,
                key,
                &[(*k1, v1.clone().into()), (*k2, v2.clone().into())],
            ),
            (Some((k1, v1)), None) => t_with(viewer.lang, key, &[(*k1, v1.clone().into())]),
            _ => viewer.t(key),
        }
    };
    match web_order::stage_of(&entry.stage) {
        Some(Stage::Placed) => (viewer.t("orders-event-placed"), None),
        Some(Stage::Received) => match f.slip.as_ref().and_then(|s| s.reception.clone()) {
            Some(number) => (
                with(
                    "orders-event-received-number",
                    &[("lab", lab), ("number", number)],
                ),
                None,
            ),
            None => (with("orders-event-received", &[("lab", lab)]), None),
        },
        Some(Stage::Printing) => (with("orders-event-printing", &[("lab", lab)]), None),
        // A counter with its own printer prints the order itself (seed 004, Figs. 8/9 (4)/(5)).
        Some(Stage::Printed) if f.view.counter.as_deref() == Some(entry.site.as_str()) => (
            with("orders-event-printed-at", &[("counter", counter)]),
            None,
        ),
        Some(Stage::Printed) => (viewer.t("orders-event-printed"), None),
        Some(Stage::Dispatched) => (
            with(
                "orders-event-dispatched",
                &[("lab", lab), ("counter", counter)],
            ),
            None,
        ),
        Some(Stage::ReadyForPickup) => (with("orders-event-ready", &[("counter", counter)]), None),
        Some(Stage::Collected) => (
            with("orders-event-collected", &[("counter", counter)]),
            None,
        ),
        Some(Stage::Settled) => (viewer.t("orders-event-settled"), None),
        Some(Stage::Rejected) => {
            let reason = entry
                .detail
                .split_once(": ")
                .map(|(_, r)| r.to_string())
                .filter(|r| !r.trim().is_empty());
            (with("orders-event-rejected", &[("lab", lab)]), reason)
        }
        Some(Stage::Cancelled) if entry.site == "gateway" => {
            (viewer.t("orders-event-cancelled-by-you"), None)
        }
        Some(Stage::Cancelled) => (viewer.t("orders-event-cancelled"), None),
        None => (entry.stage.replace('_', " "), None),
    }
}

fn stage_words(viewer: &Viewer, stage: WebStage) -> String {
    match stage {
        WebStage::Draft => viewer.t("orders-draft"),
        WebStage::At(s) => reprint_ui::stage(viewer.lang, s),
    }
}

fn time_in(viewer: &Viewer, tz: chrono_tz::Tz, at: DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)) { (reprint_ui::local_time(viewer.lang, tz, at)) } }
}

// ---------- the status page ----------

#[derive(Deserialize, Default)]
struct StatusQuery {
    #[serde(default)]
    cancel: Option<String>,
}

/// The part of the status page that changes as the order moves on (served alone to the page's
/// script by `/orders/{id}/live`).
fn live_markup(viewer: &Viewer, f: &Facts, a: &Amount, csrf: &str, refused: bool) -> Markup {
    let current = f.stage;
    let ended = f.ended();
    let show_slip = f.slip.is_some() && ended.is_none();
    html! {
        p.stage #stage role="status" data-stage=(current.as_str()) { (stage_words(viewer, current)) }
        @if refused {
            p.notice #cancel-refused { (viewer.t("orders-cancel-refused")) }
        }
        @match ended {
            Some(Stage::Cancelled) => { p.notice #ended { (viewer.t("orders-ended-cancelled")) } }
            Some(_) => {
                p.notice #ended { (viewer.t("orders-ended-rejected")) }
                @if let Some(reason) = f.view.timeline.iter().rev().find(|t| t.stage == "rejected").and_then(|t| event_words(viewer, f, t).1) {
                    p { (t_with(viewer.lang, "orders-ended-reason", &[("reason", reason.into())])) }
                }
            }
            None => {}
        }
        @if ended.is_none() && current != WebStage::Draft {
            ol.progress aria-label=(viewer.t("orders-progress")) {
                @for (i, step) in WAY.iter().enumerate() {
                    @let done = f.reached(*step) || WebStage::At(*step).rank() <= current.rank();
                    @let is_current = done && WAY.get(i + 1).is_none_or(|next| !(f.reached(*next) || WebStage::At(*next).rank() <= current.rank()));
                    li.done[done] data-stage=(step.as_str()) aria-current=[is_current.then_some("step")] {
                        span { (reprint_ui::stage(viewer.lang, *step)) }
                        @if let Some(at) = f.when(*step) { (time_in(viewer, f.tz, at)) }
                    }
                }
            }
            @if let Some(ready) = f.slip.as_ref().and_then(|s| s.ready_by).filter(|_| !f.reached(Stage::ReadyForPickup)) {
                p #ready-by { (t_with(viewer.lang, "orders-ready-by", &[("time", reprint_ui::local_time(viewer.lang, f.tz, ready).into())])) }
            }
        }
        @if show_slip || f.cancellable || current != WebStage::Draft {
            div.actions {
                @if show_slip {
                    a.button #print-slip href={ "/orders/" (f.view.order) "/slip" } { (viewer.t("orders-print-slip")) }
                }
                // Images sent on (claims 5, 6, 15 f-g): from any submitted order.
                @if current != WebStage::Draft {
                    a.button.quiet #send-on href={ "/orders/" (f.view.order) "/send-on" } { (viewer.t("send-on-title")) }
                }
                @if f.cancellable {
                    details.cancel {
                        summary #cancel { (viewer.t("orders-cancel")) }
                        form method="post" action={ "/orders/" (f.view.order) "/cancel" } {
                            p { (viewer.t("orders-cancel-confirm")) }
                            input type="hidden" name="csrf" value=(csrf);
                            button.danger #cancel-yes { (viewer.t("orders-cancel-yes")) }
                        }
                    }
                }
            }
            @if show_slip { p.muted { (viewer.t("orders-slip-hint")) } }
        }
        @if f.digital_copy && ended.is_none() && current != WebStage::Draft {
            @if crate::api::digital::ready(current) == crate::api::digital::Readiness::Ready {
                div.actions {
                    a.button #digital-copy href={ "/api/v1/orders/" (f.view.order) "/digital-copy" } download { (viewer.t("digital-download")) }
                }
                p.muted { (viewer.t("digital-download-hint")) }
            } @else {
                p.muted #digital-copy-later { (viewer.t("digital-later")) }
            }
        }
        @if ended.is_none() && current != WebStage::Draft {
            (amount_markup(viewer, f, a))
        }
        (items_markup(viewer, &f.items))
        @if ended.is_none() { (place_markup(viewer, f)) }
        @if !f.view.timeline.is_empty() {
            section aria-labelledby="log-h" {
                h2 #log-h { (viewer.t("orders-history")) }
                ol.log #log {
                    @for entry in &f.view.timeline {
                        @let (words, reason) = event_words(viewer, f, entry);
                        li {
                            @if let Some(at) = parse_time(&entry.at) { (time_in(viewer, f.tz, at)) }
                            (words)
                            @if let Some(reason) = reason { " " (t_with(viewer.lang, "orders-ended-reason", &[("reason", reason.into())])) }
                        }
                    }
                }
            }
        }
    }
}

fn title_of(viewer: &Viewer, f: &Facts) -> String {
    match f.slip.as_ref().and_then(|s| s.reception.clone()) {
        Some(number) => t_with(
            viewer.lang,
            "orders-reception",
            &[("number", number.into())],
        ),
        None => viewer.t("orders-status-title"),
    }
}

/// The status page's live updates: on an event whose `seq` the page does not show yet, the
/// status section again from the server (one fetch at a time, one more if events came
/// meanwhile). `es` is the page's event source (the browser tests wait for it to open).
const LIVE_JS: &str = r#"var es;
(function () {
  const live = document.getElementById('live');
  const id = live.dataset.order;
  let busy = false, again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const r = await fetch('/orders/' + id + '/live', {headers: {accept: 'text/html'}});
      const v = r.headers.get('x-order-version');
      if (r.ok && v !== live.dataset.version) {
        live.innerHTML = await r.text();
        live.dataset.version = v;
      }
    } catch (e) {
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }
  if (live.dataset.final !== '1' && window.EventSource) {
    es = new EventSource('/api/v1/orders/' + id + '/events');
    es.addEventListener('stage', (e) => {
      let d = {};
      try { d = JSON.parse(e.data); } catch (x) {}
      if (String(d.seq) !== live.dataset.version) refresh();
    });
  }
})();"#;

/// `?cancel=refused` after a cancel that came too late.
async fn status_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<StatusQuery>,
) -> Response {
    let user = match viewer.need_user() {
        Ok(u) => u.clone(),
        Err(r) => return *r,
    };
    let f = match Facts::load(&state, &user, &id).await {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let a = f.amount(&state, &user).await;
    let csrf = user.session.csrf_token(&state.key);
    let refused = q.cancel.as_deref() == Some("refused");
    let title = title_of(&viewer, &f);
    let final_stage = f.ended().is_some() || f.stage.is_completed();
    let origin = send_on::origin_markup(&state, &viewer, &user, &f).await;
    let content = html! {
        h1 { (title) }
        @if let Some(origin) = origin { (origin) }
        p.muted {
            (t_with(viewer.lang, "orders-placed-on", &[("time", f.view.timeline.first().and_then(|t| parse_time(&t.at)).or_else(|| parse_time(&f.view.created_at)).map(|t| reprint_ui::local_time(viewer.lang, f.tz, t)).unwrap_or_default().into())]))
            @if !final_stage { " · " (viewer.t("orders-live-note")) }
        }
        div #live data-order=(f.view.order) data-version=(f.version()) data-final=(if final_stage { "1" } else { "0" }) aria-live="polite" {
            (live_markup(&viewer, &f, &a, &csrf, refused))
        }
        // The script is the page's own text (no user data in it).
        script { (PreEscaped(LIVE_JS)) }
    };
    render_with(
        &state,
        &viewer,
        &title,
        Some(html! { style { (PreEscaped(STYLE)) } }),
        content,
    )
}

/// `GET /orders/{id}/live`: the status section alone, with its version in `X-Order-Version`.
async fn live(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let Some(user) = viewer.user.clone() else {
        return AppError::Unauthorized("log in to see this order".into()).into_response();
    };
    let f = match Facts::load(&state, &user, &id).await {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let a = f.amount(&state, &user).await;
    let csrf = user.session.csrf_token(&state.key);
    let mut res = Html(live_markup(&viewer, &f, &a, &csrf, false).into_string()).into_response();
    if let Ok(v) = HeaderValue::from_str(&f.version().to_string()) {
        res.headers_mut().insert("x-order-version", v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
}

fn form_refused() -> Response {
    AppError::Forbidden(
        "this form has expired or came from another site; open the page again".into(),
    )
    .into_response()
}

/// `POST /orders/{id}/cancel` (the status page's confirmed cancel button): the API's cancel,
/// then the status page again.
async fn cancel(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let user = match viewer.need_user() {
        Ok(u) => u.clone(),
        Err(r) => return *r,
    };
    let token = form.map(|Form(f)| f.csrf).unwrap_or_default();
    if !user.session.check_csrf(&state.key, &token) {
        return form_refused();
    }
    match api::cancel(State(state.clone()), user, Path(id.clone())).await {
        Ok(_) => Redirect::to(&format!("/orders/{id}")).into_response(),
        Err(e) if e.problem().status == 409 => {
            Redirect::to(&format!("/orders/{id}?cancel=refused")).into_response()
        }
        Err(e) => e.into_response(),
    }
}

// ---------- the slip ----------

fn qr_svg(data: &str) -> Option<String> {
    qrcode::QrCode::new(data.as_bytes()).ok().map(|code| {
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(160, 160)
            .quiet_zone(true)
            .build()
    })
}

async fn slip(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let user = match viewer.need_user() {
        Ok(u) => u.clone(),
        Err(r) => return *r,
    };
    let f = match Facts::load(&state, &user, &id).await {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let title = viewer.t("orders-slip-title");
    let back = html! { p { a.button.quiet href={ "/orders/" (f.view.order) } { (viewer.t("orders-slip-back")) } } };
    let (Some(s), None) = (&f.slip, f.ended()) else {
        let why = if f.ended().is_some() {
            "orders-slip-ended"
        } else {
            "orders-slip-none"
        };
        let mut res = render_with(
            &state,
            &viewer,
            &title,
            None,
            html! { h1 { (title) } p #no-slip { (viewer.t(why)) } (back) },
        );
        *res.status_mut() = if f.ended().is_some() {
            StatusCode::GONE
        } else {
            StatusCode::NOT_FOUND
        };
        return res;
    };
    let a = f.amount(&state, &user).await;
    let number = s.reception.clone().unwrap_or_default();
    let qr = qr_svg(&number);
    let content = html! {
        article.slip {
            h1 { (title) }
            div.top {
                div {
                    p.muted { (viewer.t("orders-slip-reception")) }
                    p.number #reception { (number) }
                }
                @if let Some(svg) = qr {
                    // The QR code's SVG is the qrcode crate's own output, of the number alone.
                    div.qr role="img" aria-label=(t_with(viewer.lang, "orders-slip-qr", &[("number", number.clone().into())])) {
                        (PreEscaped(svg))
                    }
                }
            }
            dl {
                @if let Some(r) = &s.registration { dt { (viewer.t("orders-slip-registration")) } dd #registration { (r) } }
                @if let Some(n) = &s.name { dt { (viewer.t("orders-slip-name")) } dd { (n) } }
                @if let Some(at) = s.received_at { dt { (viewer.t("orders-slip-received")) } dd { (time_in(&viewer, f.tz, at)) } }
                @if let Some(at) = s.ready_by { dt { (viewer.t("orders-slip-ready")) } dd #ready-by { (time_in(&viewer, f.tz, at)) } }
                dt { (viewer.t("orders-lab")) } dd { (f.lab_name()) }
            }
            (place_markup(&viewer, &f))
            (amount_markup(&viewer, &f, &a))
            (items_markup(&viewer, &f.items))
            p.noprint.actions {
                button type="button" onclick="print()" #print { (viewer.t("orders-slip-print")) }
                a.button.quiet href={ "/orders/" (f.view.order) } { (viewer.t("orders-slip-back")) }
            }
        }
    };
    render_with(
        &state,
        &viewer,
        &title,
        Some(html! { style { (PreEscaped(STYLE)) (PreEscaped(SLIP_STYLE)) } }),
        content,
    )
}

// ---------- the history ----------

/// An order as the history lists it (`gw_orders`).
#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    stage: String,
    created_ms: i64,
    submitted_ms: Option<i64>,
    items_json: Option<String>,
    slip_json: Option<String>,
    charge_json: Option<String>,
}

/// The end of an order id people can tell apart: a UUID v7 starts with its time, so orders
/// placed close together share their first digits; the last twelve are random.
fn short_id(id: &str) -> String {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    hex[hex.len().saturating_sub(12)..].to_string()
}

async fn history(State(state): State<AppState>, viewer: Viewer) -> Response {
    let user = match viewer.need_user() {
        Ok(u) => u.clone(),
        Err(r) => return *r,
    };
    let rows: Vec<Row> = match db::fetch(
        &state.store,
        "SELECT id, stage, created_ms, submitted_ms, items_json, slip_json, charge_json
         FROM gw_orders WHERE account = $1 AND stage <> 'draft'
         ORDER BY COALESCE(submitted_ms, created_ms) DESC, id DESC LIMIT 500",
        &[Arg::Text(user.id.clone())],
    )
    .await
    {
        Ok(rows) => rows,
        Err(e) => return e.into_response(),
    };
    let lang = viewer.lang;
    let tz = state.config.web.time_zone;
    let title = viewer.t("orders-title");
    let content = html! {
        h1 { (title) }
        @if rows.is_empty() {
            p { (viewer.t("orders-none")) }
            p { a.button href="/album" { (viewer.t("orders-go-album")) } }
        }
        ul.orders #orders {
            @for r in &rows {
                @let stage = WebStage::parse(&r.stage).unwrap_or_default();
                @let slip: Option<Value> = r.slip_json.as_deref().and_then(|s| serde_json::from_str(s).ok());
                @let facts = SlipFacts::of(slip.as_ref());
                @let items: Vec<ItemRecord> = r.items_json.as_deref().and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
                @let prints: u32 = items.iter().map(|i| i.quantity).sum();
                @let due: Option<Charge> = r.charge_json.as_deref().and_then(|s| serde_json::from_str(s).ok())
                    .filter(|_| stage.rank() >= WebStage::At(Stage::ReadyForPickup).rank() && !stage.is_end());
                @let lab_charge = facts.as_ref().and_then(|f| f.lab_charge.clone());
                @let placed = r.submitted_ms.unwrap_or(r.created_ms);
                @let name = match facts.as_ref().and_then(|f| f.reception.clone()) {
                    Some(n) => t_with(lang, "orders-reception", &[("number", n.into())]),
                    None => t_with(lang, "orders-order-id", &[("id", short_id(&r.id).into())]),
                };
                li data-order=(r.id) {
                    h2 { a href={ "/orders/" (r.id) } { (name) } }
                    p {
                        span.badge.end[stage.is_end()].ok[stage.is_completed()] { (stage_words(&viewer, stage)) }
                    }
                    p.muted {
                        @if let Some(at) = DateTime::from_timestamp_millis(placed) {
                            (t_with(lang, "orders-placed-on", &[("time", reprint_ui::local_time(lang, tz, at).into())]))
                        }
                        " · " (t_with(lang, "prints", &[("count", prints.into())]))
                    }
                    @if !stage.is_end() {
                        @if let Some(due) = &due {
                            p { (t_with(lang, "orders-amount-due", &[("amount", reprint_ui::money(lang, due.total).into())])) }
                        } @else if let Some(lab) = &lab_charge {
                            p { (t_with(lang, "orders-amount-lab", &[("amount", reprint_ui::money(lang, lab.total).into())])) }
                        }
                    }
                    div.actions {
                        a.button.quiet href={ "/orders/" (r.id) } { (viewer.t("orders-details")) }
                        a.button.reorder href={ "/orders/" (r.id) "/reorder" } { (viewer.t("orders-again")) }
                    }
                }
            }
        }
    };
    render_with(
        &state,
        &viewer,
        &title,
        Some(html! { style { (PreEscaped(STYLE)) } }),
        content,
    )
}

// ---------- ordering again ----------

async fn reorder_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let user = match viewer.need_user() {
        Ok(u) => u.clone(),
        Err(r) => return *r,
    };
    reorder_confirmation(&state, &viewer, &user, &id, None).await
}

/// The confirmation page of a re-order: the items, the sites and the quote, and the button
/// that places it (with an idempotency key of this page: a second press is the same order).
async fn reorder_confirmation(
    state: &AppState,
    viewer: &Viewer,
    user: &User,
    id: &str,
    error: Option<String>,
) -> Response {
    let f = match Facts::load(state, user, id).await {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let title = viewer.t("orders-reorder-title");
    let placed = f.stage != WebStage::Draft && f.view.lab.is_some();
    let quoted = if placed {
        Some(quote(state, user, &f.view, &f.items, f.digital_copy).await)
    } else {
        None
    };
    let csrf = user.session.csrf_token(&state.key);
    let key = uuid::Uuid::new_v4().to_string();
    let content = html! {
        h1 { (title) }
        @if let Some(e) = &error { p.notice #reorder-error role="alert" { (e) } }
        @if !placed {
            p.notice { (t_with(viewer.lang, "orders-reorder-unavailable", &[("reason", viewer.t("orders-reorder-not-placed").into())])) }
        } @else {
            p { (viewer.t("orders-reorder-lead")) }
            (items_markup(viewer, &f.items))
            (place_markup(viewer, &f))
            @match &quoted {
                Some(Ok(q)) => {
                    (amount_markup(viewer, &f, &Amount {
                        lab: Some(q.lab.charge.clone()),
                        counter: Some(q.counter.charge.clone()),
                        total: q.total,
                        estimate: false,
                    }))
                    @if let Some(ready) = q.lab.estimated_finish.as_deref().and_then(parse_time) {
                        p { (t_with(viewer.lang, "orders-ready-by", &[("time", reprint_ui::local_time(viewer.lang, f.tz, ready).into())])) }
                    }
                    form.actions method="post" action={ "/orders/" (f.view.order) "/reorder" } {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="key" value=(key);
                        button #confirm-reorder { (viewer.t("orders-reorder-confirm")) }
                        a.button.quiet href="/orders" { (viewer.t("orders-reorder-cancel")) }
                    }
                }
                Some(Err(e)) => {
                    p.notice #no-quote { (t_with(viewer.lang, "orders-reorder-no-quote", &[("reason", e.problem().detail.into())])) }
                    p { a.button.quiet href="/orders" { (viewer.t("orders-reorder-cancel")) } }
                }
                None => {}
            }
        }
    };
    render_with(
        state,
        viewer,
        &title,
        Some(html! { style { (PreEscaped(STYLE)) } }),
        content,
    )
}

/// `POST /orders/{id}/reorder` (the confirmation's button): the API's re-order with the page's
/// idempotency key, then the new order's status page.
async fn reorder(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
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
    let placed = api::reorder(
        State(state.clone()),
        user.clone(),
        Path(id.clone()),
        headers,
        axum::body::Bytes::new(),
    )
    .await;
    let error = match new_order_page(placed, "the order's page could not be found").await {
        Ok(page) => return page,
        Err(words) => words,
    };
    let mut res = reorder_confirmation(&state, &viewer, &user, &id, Some(error)).await;
    if res.status().is_success() {
        *res.status_mut() = StatusCode::CONFLICT;
    }
    res
}

/// The `Idempotency-Key` header of a confirmation form's key, so that a confirmation sent twice
/// makes one order (none when the form has no key or it cannot be a header value: the API then
/// says so in words).
fn idempotency_headers(key: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(key)
        && !key.is_empty()
    {
        headers.insert("idempotency-key", v);
    }
    headers
}

/// What the API answered a confirmation that makes a new order (re-order, send-on): a redirect
/// to the new order's page, or the words to show on the form (the problem's detail; `lost` when
/// the answer names no order).
async fn new_order_page(
    answer: Result<Response, AppError>,
    lost: &str,
) -> Result<Response, String> {
    let ok = match &answer {
        Ok(res) => res.status().is_success(),
        Err(_) => false,
    };
    let res = answer.map_err(|e| e.problem().detail)?;
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    if !ok {
        return Err(body
            .as_ref()
            .and_then(|b| b["detail"].as_str())
            .unwrap_or("please try again in a moment")
            .to_string());
    }
    match body.as_ref().and_then(|b| b["order"].as_str()) {
        Some(new) => Ok(Redirect::to(&format!("/orders/{new}")).into_response()),
        None => Err(lost.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_are_the_random_end_of_the_uuid() {
        assert_eq!(
            short_id("01a23aec-0b1c-7d2e-8f30-123456789abc"),
            "123456789abc"
        );
        assert_ne!(
            short_id("01a23aec-0b1c-7d2e-8f30-123456789abc"),
            short_id("01a23aec-0b1c-7d2e-8f30-cba987654321")
        );
    }

    #[test]
    fn discount_reasons_read_in_each_language() {
        let d = "basic charge waived: previous order here on 2026-11-18, within 7 days";
        assert_eq!(
            why_words(Lang::En, d).as_deref(),
            Some("your previous order here was on 18 Nov 2026")
        );
        assert_eq!(
            why_words(Lang::Ja, d).as_deref(),
            Some("前回のご注文 2026年11月18日")
        );
        assert_eq!(why_words(Lang::En, "something else"), None);
    }

    #[test]
    fn sizes_read_as_words() {
        assert_eq!(size_words(Lang::En, "L"), "L (89 × 127 mm)");
        assert_eq!(size_words(Lang::Ja, "Hagaki"), "はがき（100 × 148 mm）");
        assert_eq!(size_words(Lang::En, "XL"), "XL");
    }
}
