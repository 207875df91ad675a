//! The album (`/album`): every photo the user keeps here, newest first, with its thumbnail and
//! its earlier prints ("printed before": where, when, how it was recognised); select several to
//! order, edit each (crop to the size's aspect, rotate, with a preview of what the lab prints),
//! download the original with its print history, delete. The order form under it: labs and
//! counters by name, address, opening hours and charges, a size guide in millimetres and
//! inches with the lab's prices, a running total, the quote's lines, placing the order.
//!
//! The page is rendered here (maud, `reprint_ui` words); its scripts are `album.js` (album and
//! order form) and `album_editor.js` (the editor), served from this module's routes
//! (`/album/album.js`, `/album/editor.js`; the CSP allows this origin's scripts). They talk to
//! `/api/v1` like any client; the album's own operations (the draft order for uploads and
//! quotes, delete, the edit preview) are `crate::api::album`.
//!
//! Element ids the browser tests rely on: `#files`, `#progress` (one `.upload` per file with
//! its `progress` and an `em` that says `done`), `#orderform`, `#items` (one `tr` per selected
//! photo), `#lab`, `#counter`, `#quote`, `#quoted`, `#place`.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, PreEscaped, html};
use reprint_domain::PrintSize;
use serde_json::{Value, json};

use super::{Viewer, render_with};
use crate::api;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/album", get(album))
        .route("/album/album.js", get(album_js))
        .route("/album/editor.js", get(editor_js))
}

const ALBUM_JS: &str = include_str!("album.js");
const EDITOR_JS: &str = include_str!("album_editor.js");

fn script(body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn album_js() -> Response {
    script(ALBUM_JS)
}

async fn editor_js() -> Response {
    script(EDITOR_JS)
}

/// The effective resolution below which the lab warns its operator (the lab's render:
/// `reprint_media::render::PrintSpec::new(..).min_dpi`): below it the user confirms.
pub fn minimum_dpi() -> u32 {
    reprint_media::render::PrintSpec::new(reprint_media::render::PrintSize::L, 300).min_dpi
}

/// The resolution a print is made at by the lab's printers (what "enough pixels" means).
pub const GOOD_DPI: u32 = 300;

/// `89`, `101.6`: millimetres as people write them.
fn mm(um: u32) -> String {
    trim(f64::from(um) / 1000.0)
}

/// `3.5`, `5`: inches to a tenth.
fn inches(um: u32) -> String {
    trim((f64::from(um) / 25_400.0 * 10.0).round() / 10.0)
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// A print size for people: `L`, `89 x 127 mm`, `3.5 x 5 in`.
pub fn size_words(size: PrintSize) -> (String, String) {
    let (s, l) = size.micrometres();
    (
        format!("{} x {} mm", mm(s), mm(l)),
        format!("{} x {} in", inches(s), inches(l)),
    )
}

/// The words the scripts need, in the viewer's language.
const SCRIPT_WORDS: &[&str] = &[
    "album-done",
    "album-proof-note",
    "album-uploading",
    "album-upload-failed",
    "album-no-reservation",
    "album-edit",
    "album-remove",
    "album-quantity",
    "album-size",
    "album-dpi",
    "album-dpi-low",
    "album-dpi-confirm",
    "album-dpi-ok",
    "album-estimate",
    "album-estimate-note",
    "album-to-pay",
    "album-ready-about",
    "album-line-basic",
    "album-line-prints",
    "index-print-line",
    "index-print-price",
    "album-line-discount",
    "album-not-printed",
    "album-basic-charge",
    "album-per-print",
    "album-hours",
    "album-no-hours",
    "album-policy",
    "album-offline",
    "album-catalog-unavailable",
    "album-confirm-low",
    "album-delete-confirm",
    "album-deleted",
    "album-placing",
    "album-nothing-selected",
    "album-selected",
    "album-edited",
    "album-rotated",
    "album-day-mon",
    "album-day-tue",
    "album-day-wed",
    "album-day-thu",
    "album-day-fri",
    "album-day-sat",
    "album-day-sun",
    "album-photo",
    "album-uploaded-now",
    "digital-line",
    "digital-choose-price",
];

/// The arguments of the scripts' words (filled in by the scripts).
const SCRIPT_ARGS: &[&str] = &[
    "dpi", "min", "count", "amount", "time", "size", "name", "price", "percent", "deg", "paper",
];

/// JSON inside `<script type="application/json">`: `<` written as `\u003c`, so nothing in it
/// ends the element.
fn json_island(v: &Value) -> PreEscaped<String> {
    PreEscaped(
        v.to_string()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026"),
    )
}

/// A site of the directory for the page: by name, never by id alone.
fn site_json(
    e: &reprint_bus::directory::DirectoryEntry,
    now: chrono::DateTime<chrono::Utc>,
) -> Value {
    let raw = serde_json::to_value(&e.site).unwrap_or(Value::Null);
    json!({
        "id": e.site.id.to_string(),
        "name": e.site.name,
        "address": e.site.address,
        "tz": e.site.time_zone,
        "currency": e.site.currency,
        "sizes": e.site.sizes,
        "prices": raw.get("prices").cloned().unwrap_or(Value::Null),
        // Opening hours, where the site announces them (older announcements do not).
        "hours": raw.get("opening_hours").cloned().unwrap_or_else(|| json!([])),
        "policy": e.site.policy_summary,
        "stale": e.site.is_stale(now),
    })
}

async fn album(State(state): State<AppState>, viewer: Viewer) -> Response {
    let user = match viewer.need_user() {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let photos = match api::images_of(&state, user).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let entries = state.directory.list().await.unwrap_or_default();
    let now = state.clock.now();
    let site_names: std::collections::HashMap<String, String> = entries
        .iter()
        .map(|e| (e.site.id.to_string(), e.site.name.clone()))
        .collect();
    let of_kind =
        |k: reprint_bus::subjects::SiteKind| -> Vec<&reprint_bus::directory::DirectoryEntry> {
            let mut v: Vec<_> = entries.iter().filter(|e| e.site.kind == k).collect();
            v.sort_by(|a, b| a.site.name.cmp(&b.site.name));
            v
        };
    let labs = of_kind(reprint_bus::subjects::SiteKind::Lab);
    let counters = of_kind(reprint_bus::subjects::SiteKind::Counter);
    // The sizes each photo may be printed at: the index print is not one of them (one sheet of
    // every photo per order, offered once below the lines: `#index`).
    let sizes: Vec<Value> = PrintSize::ALL
        .iter()
        .filter(|s| **s != PrintSize::Index)
        .map(|s| {
            let (metric, imperial) = size_words(*s);
            let (short_um, long_um) = s.micrometres();
            let (need_s, need_l) = s.pixels_at(GOOD_DPI);
            json!({
                "code": s.code(), "mm": metric, "in": imperial,
                "short_in": f64::from(short_um) / 25_400.0, "long_in": f64::from(long_um) / 25_400.0,
                "need": [need_s, need_l],
            })
        })
        .collect();
    // Each argument stays a placeholder `{$name}` that the script fills in.
    let placeholders: Vec<_> = SCRIPT_ARGS
        .iter()
        .map(|a| (*a, format!("{{${a}}}").into()))
        .collect();
    let words: serde_json::Map<String, Value> = SCRIPT_WORDS
        .iter()
        .map(|k| {
            let text = reprint_ui::t_with(viewer.lang, k, placeholders.as_slice());
            (k.to_string(), Value::String(text))
        })
        .collect();
    let data = json!({
        "lang": viewer.lang.tag(),
        "minDpi": minimum_dpi(),
        "goodDpi": GOOD_DPI,
        "photos": photos.iter().map(|p| json!({
            "image": p.image, "name": p.name, "w": p.width, "h": p.height, "bytes": p.bytes,
        })).collect::<Vec<_>>(),
        "sizes": sizes,
        "labs": labs.iter().map(|e| site_json(e, now)).collect::<Vec<_>>(),
        "counters": counters.iter().map(|e| site_json(e, now)).collect::<Vec<_>>(),
        "words": words,
    });
    let title = viewer.t("album-title");
    let how = |p: &api::PrintedBefore| -> String {
        match p.how.as_str() {
            "same_image" => viewer.t("album-how-same"),
            "perceptual_hash" => viewer.t("album-how-phash"),
            _ => viewer.t("album-how-embedded"),
        }
    };
    let when = |at: &str| -> String {
        if at.len() == 10 {
            at.to_string() // a date of an embedded record
        } else {
            viewer.time_str(at)
        }
    };
    let site_name = |id: &str| -> String {
        site_names
            .get(id)
            .cloned()
            .unwrap_or_else(|| viewer.t("album-other-lab"))
    };
    let head = html! {
        style { (PreEscaped(STYLE)) }
        script src="/album/album.js" defer {}
        script src="/album/editor.js" defer {}
    };
    let content: Markup = html! {
        h1 { (title) }
        script #album-data type="application/json" { (json_island(&data)) }
        section.add aria-labelledby="add-heading" {
            h2 #add-heading .visually-hidden { (viewer.t("album-add")) }
            div #drop .drop {
                input #files type="file" accept="image/jpeg,image/png,image/tiff,image/webp,image/*" multiple;
                label.button for="files" { (viewer.t("album-add")) }
                p.hint { (viewer.t("album-drop-hint")) }
            }
            p #msg .err role="alert" {}
            div #progress aria-live="polite" {}
        }
        section #orderform hidden aria-labelledby="order-heading" {
            h2 #order-heading { (viewer.t("album-order")) }
            div.sites {
                div.site {
                    label for="lab" { (viewer.t("album-lab")) }
                    select #lab {
                        @for e in &labs {
                            option value=(e.site.id.to_string()) { (e.site.name) }
                        }
                    }
                    div #lab-info .info {}
                }
                div.site {
                    label for="counter" { (viewer.t("album-counter")) }
                    select #counter {
                        @for e in &counters {
                            option value=(e.site.id.to_string()) { (e.site.name) }
                        }
                    }
                    div #counter-info .info {}
                }
            }
            details #size-guide {
                summary { (viewer.t("album-size-guide")) }
                div.scroll {
                    table {
                        thead { tr {
                            th scope="col" { (viewer.t("album-size")) }
                            th scope="col" { (viewer.t("album-size-mm")) }
                            th scope="col" { (viewer.t("album-size-in")) }
                            th scope="col" { (viewer.t("album-size-price")) }
                            th scope="col" { (viewer.t("album-size-pixels")) }
                        } }
                        tbody #size-rows {
                            @for s in PrintSize::ALL {
                                @let (metric, imperial) = size_words(s);
                                @let (ns, nl) = s.pixels_at(GOOD_DPI);
                                tr data-size=(s.code()) {
                                    th scope="row" { (s.code()) }
                                    td { (metric) }
                                    td { (imperial) }
                                    td.price { "—" }
                                    td { (nl) " x " (ns) }
                                }
                            }
                        }
                    }
                }
            }
            div.scroll {
                table.items {
                    caption.visually-hidden { (viewer.t("album-selected-photos")) }
                    thead { tr {
                        th scope="col" { (viewer.t("album-photo")) }
                        th scope="col" { (viewer.t("album-size")) }
                        th scope="col" { (viewer.t("album-quantity")) }
                        th scope="col" { span.visually-hidden { (viewer.t("album-actions")) } }
                    } }
                    tbody #items {}
                }
            }
            // The index print (one sheet of every photo of the order, numbered), once per order,
            // shown by the script when the lab prints it.
            div #index hidden {
                label for="index-print" {
                    input #index-print type="checkbox";
                    span { (viewer.t("index-print-choose")) " " span #index-price {} }
                }
            }
            // The lab's digital copy, shown by the script when the lab's catalog lists it.
            div #digital hidden {
                label for="digital-copy" {
                    input #digital-copy type="checkbox";
                    span { (viewer.t("digital-choose")) " " span #digital-price {} }
                }
            }
            p #total aria-live="polite" {}
            div.actions {
                button #quote type="button" { (viewer.t("album-quote")) }
                button #place type="button" disabled { (viewer.t("album-place")) }
            }
            div #quoted aria-live="polite" {}
        }
        section aria-labelledby="photos-heading" {
            div.bar {
                h2 #photos-heading { (viewer.t("album-photos")) " " span #count { "(" (photos.len()) ")" } }
                p #selected-count aria-live="polite" {}
            }
            @if photos.is_empty() {
                p #empty { (viewer.t("album-empty")) }
            }
            ul #grid .grid {
                @for p in &photos {
                    li.card data-image=(p.image) {
                        label.pick {
                            input.pick-box type="checkbox" value=(p.image) aria-label={ (viewer.t("album-select")) " " (p.name) };
                            img loading="lazy" alt=(p.name) width="160" height="120"
                                src={ "/api/v1/images/" (p.image) "/thumbnail" };
                        }
                        div.caption {
                            p.name title=(p.name) { (p.name) }
                            p.meta {
                                (p.width) " x " (p.height) " · " (viewer.time_str(&p.uploaded_at))
                            }
                            @if !p.printed.is_empty() {
                                details.printed {
                                    summary { span.badge { (viewer.t("album-printed-before")) } }
                                    ul {
                                        @for r in &p.printed {
                                            li {
                                                (site_name(&r.lab)) ", " (when(&r.at))
                                                " · " (viewer.t("album-reception")) " " (r.reception)
                                                br;
                                                small { (how(r)) }
                                            }
                                        }
                                    }
                                }
                            }
                            div.card-actions {
                                a.button.quiet href={ "/api/v1/images/" (p.image) } download=(p.name)
                                    aria-label={ (viewer.t("album-download")) " " (p.name) } { (viewer.t("album-download")) }
                                a.button.quiet href={ "/api/v1/images/" (p.image) "?format=zip" } download
                                    aria-label={ (viewer.t("album-download-zip")) " " (p.name) } { "ZIP" }
                                button.quiet.delete type="button" data-image=(p.image) data-name=(p.name)
                                    aria-label={ (viewer.t("album-delete")) " " (p.name) } { (viewer.t("album-delete")) }
                            }
                        }
                    }
                }
            }
        }
        dialog #confirm aria-labelledby="confirm-text" {
            p #confirm-text {}
            div.actions {
                button #confirm-yes type="button" { (viewer.t("album-delete")) }
                button #confirm-no .quiet type="button" { (viewer.t("album-keep")) }
            }
        }
        dialog #editor aria-labelledby="editor-title" {
            h2 #editor-title { (viewer.t("album-editor")) }
            p #editor-name .name {}
            div.editor {
                div.stage {
                    canvas #crop width="480" height="360" aria-label=(viewer.t("album-crop-area")) {}
                    p.hint { (viewer.t("album-drag-hint")) }
                }
                div.controls {
                    div.row {
                        button #rot-left .quiet type="button" aria-label=(viewer.t("album-rotate-left")) { "⟲" }
                        button #rot-right .quiet type="button" aria-label=(viewer.t("album-rotate-right")) { "⟳" }
                        label for="ed-size" .visually-hidden { (viewer.t("album-size")) }
                        select #ed-size {}
                    }
                    label for="zoom" { (viewer.t("album-zoom")) }
                    input #zoom type="range" min="1" max="3" step="0.05" value="1";
                    p #ed-dpi aria-live="polite" {}
                    h3 { (viewer.t("album-preview")) }
                    img #preview alt=(viewer.t("album-preview-alt")) width="320" height="220";
                    label #proof-row .proof hidden {
                        input #ed-proof type="checkbox";
                        " " (viewer.t("album-proof"))
                    }
                    p #proof-note .hint aria-live="polite" {}
                    div.actions {
                        button #ed-done type="button" { (viewer.t("album-edit-done")) }
                        button #ed-reset .quiet type="button" { (viewer.t("album-edit-reset")) }
                        button #ed-cancel .quiet type="button" { (viewer.t("album-edit-cancel")) }
                    }
                }
            }
        }
    };
    render_with(&state, &viewer, &title, Some(head), content)
}

/// The album's own style: phone first (cards two to a row on a phone), long names cut with an
/// ellipsis inside their card, every control at least 44 px.
const STYLE: &str = "\
.visually-hidden{position:absolute!important;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}\
.drop{position:relative;border:3px dashed #8a8a8a;border-radius:10px;padding:16px;text-align:center;background:#fff}\
.drop input[type=file]{position:absolute;inset:0;width:100%;height:100%;opacity:0;cursor:pointer}\
.drop.over{background:#e8f0fb}\
.drop:focus-within label{outline:3px solid #f0a500;outline-offset:2px}\
.hint{color:#555;font-size:.9em;margin:.4em 0}\
.err{color:#a00}.err:empty{display:none}\
.button{display:inline-flex;align-items:center;justify-content:center;text-decoration:none}\
.quiet{background:#fff;color:#143d59}\
a.button.quiet{border:1px solid #143d59;border-radius:6px;padding:0 12px;min-height:44px;min-width:44px}\
.upload{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,2fr) auto;gap:8px;align-items:center;margin:4px 0}\
.upload span{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}\
.upload progress{width:100%}\
.bar{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:baseline;justify-content:space-between}\
.grid{list-style:none;padding:0;margin:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:12px}\
.card{min-width:0;background:#fff;border:1px solid #ccc;border-radius:8px;overflow:hidden;display:flex;flex-direction:column}\
.card.selected{outline:3px solid #143d59}\
.pick{position:relative;display:block;cursor:pointer;background:#eee}\
.pick img{display:block;width:100%;height:140px;object-fit:cover}\
.pick input{position:absolute;top:4px;left:4px;width:44px;height:44px;margin:0;accent-color:#143d59}\
.caption{padding:6px 8px;min-width:0;display:flex;flex-direction:column;gap:4px;flex:1}\
.caption p{margin:0}\
.name{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-weight:600}\
.meta{color:#555;font-size:.85em}\
.badge{display:inline-block;background:#fff3cd;color:#5c4400;border:1px solid #d9b650;border-radius:12px;padding:0 8px;font-size:.85em;font-weight:600}\
.printed summary{min-height:44px;display:flex;align-items:center;cursor:pointer}\
.printed ul{margin:0;padding-left:16px;font-size:.85em}\
.card-actions{display:flex;flex-wrap:wrap;gap:6px;margin-top:auto}\
.card-actions .button,.card-actions button{padding:0 10px}\
.sites{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:12px}\
.site select{width:100%}\
.info{font-size:.9em;color:#333;margin-top:4px}.info p{margin:2px 0}\
#size-guide summary{display:list-item;padding:10px 0;min-height:44px;cursor:pointer;font-weight:600}\
table.items td{vertical-align:middle}\
.scroll{position:relative}\
@media (max-width:600px){table.items thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}\
table.items,table.items tbody,table.items tr,table.items td{display:block;width:100%}\
table.items tr{border-bottom:1px solid #ddd;padding:8px 0}table.items td{border:0;padding:4px 0}\
.items .thumb{max-width:100%}}\
.items .thumb{display:flex;gap:8px;align-items:center;min-width:0;max-width:220px}\
.items .thumb img{width:56px;height:56px;object-fit:cover;border-radius:4px;flex:none}\
.items .thumb span{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}\
.items input[type=number]{width:5.5em}\
.items .dpi{display:block;font-size:.85em;color:#555}\
.items .dpi.low{color:#a00;font-weight:600}\
.items label.ok{display:flex;gap:6px;align-items:center;font-size:.85em}\
.items label.ok input{width:44px;height:44px;margin:0}\
.row-actions{display:flex;gap:6px;flex-wrap:wrap}\
.actions{display:flex;flex-wrap:wrap;gap:8px;margin:12px 0}\
#total{font-weight:600}\
#digital label,#index label{display:flex;gap:10px;align-items:center;min-height:44px;margin:8px 0}\
#digital input,#index input{width:44px;height:44px;margin:0;flex:none}\
#quoted table{margin:8px 0}#quoted td.amount,#quoted th.amount{text-align:right;white-space:nowrap}\
#quoted .discount{color:#1a6b1a}#quoted .kind{font-weight:600}\
#quoted .due{font-size:1.15em}\
dialog{max-width:min(960px,calc(100vw - 16px));width:100%;border:1px solid #888;border-radius:10px;padding:12px}\
dialog::backdrop{background:rgba(0,0,0,.5)}\
.editor{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:12px}\
@media (max-width:700px){.editor{grid-template-columns:minmax(0,1fr)}}\
.stage canvas{display:block;margin:0 auto;max-width:100%;max-height:55vh;width:auto;height:auto;touch-action:none;background:#333;border-radius:6px;cursor:move}\
.controls .row{display:flex;gap:8px;flex-wrap:wrap;align-items:center}\
.controls input[type=range]{width:100%}\
#preview{display:block;width:auto;height:auto;max-width:100%;max-height:320px;background:#eee;border:1px solid #ccc}\
label.proof{display:flex;gap:6px;align-items:center;margin:.5em 0 0}label.proof[hidden]{display:none}\
label.proof input{width:44px;height:44px;margin:0;flex:none;accent-color:#143d59}\
#ed-dpi.low{color:#a00;font-weight:600}\
";
