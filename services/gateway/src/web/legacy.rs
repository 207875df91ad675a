//! Pages not yet moved into the shared layout (`super::render`, maud): each moves to its own
//! module, and this one goes.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;

#[allow(unused_imports)]
use super::*;
use crate::api;
use crate::auth::{MaybeUser, User};
use crate::error::AppError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/album", get(album))
        .route("/orders", get(history))
        .route("/orders/{id}", get(order_page))
        .route("/orders/{id}/slip", get(slip))
}

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;padding:0 1rem 2rem;max-width:52rem;margin:auto;line-height:1.4}
nav{display:flex;gap:1rem;padding:.8rem 0;border-bottom:1px solid #ddd;margin-bottom:1rem;flex-wrap:wrap}
input,select,button{font-size:1rem;padding:.45rem;margin:.2rem 0;max-width:100%}
label{display:block;margin:.4rem 0}.drop{border:3px dashed #999;padding:2rem;text-align:center;border-radius:.6rem}
.drop.over{background:#eef}.thumbs{display:grid;grid-template-columns:repeat(auto-fill,minmax(9rem,1fr));gap:.6rem}
.thumbs figure{margin:0;border:1px solid #ddd;padding:.3rem;border-radius:.4rem}.thumbs img{width:100%}
progress{width:100%}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eee;padding:.3rem;text-align:left}
.warn{color:#a40}.tl li.done{font-weight:bold}.err{color:#b00}@media print{nav,.noprint{display:none}}";

fn page(title: &str, user: Option<&User>, state: &AppState, body: &str) -> Html<String> {
    let (nav, csrf) = match user {
        Some(u) => {
            let csrf = u.session.csrf_token(&state.key);
            let ops = if u.is_ops() {
                "<a href=\"/ops\">Ops</a>"
            } else {
                ""
            };
            (
                format!(
                    "<a href=\"/album\">Album</a><a href=\"/orders\">Orders</a>{ops}\
                     <form method=\"post\" action=\"/logout\" style=\"display:inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button>Log out</button></form>",
                    esc(&csrf)
                ),
                csrf,
            )
        }
        None => (
            "<a href=\"/login\">Log in</a><a href=\"/signup\">Sign up</a>".to_string(),
            String::new(),
        ),
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"csrf\" content=\"{}\"><title>{} · reprint</title><style>{STYLE}</style></head>\
         <body><nav><strong>reprint</strong>{nav}</nav><main>{body}</main></body></html>",
        esc(&csrf),
        esc(title)
    ))
}

fn need_user(who: Option<User>) -> Result<User, Box<Response>> {
    who.ok_or_else(|| Box::new(Redirect::to("/login").into_response()))
}

const ALBUM_JS: &str = r#"
const csrf = document.querySelector('meta[name=csrf]').content;
const H = {'x-csrf-token': csrf, 'content-type': 'application/json'};
const $ = (s) => document.querySelector(s);
let order = null, uploaded = [];
async function api(method, path, body) {
  const r = await fetch(path, {method, headers: H, body: body ? JSON.stringify(body) : undefined});
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.detail || r.statusText);
  return j;
}
function put(file, url, bar) {
  return new Promise((ok, fail) => {
    const x = new XMLHttpRequest();
    x.open('PUT', url); x.setRequestHeader('x-csrf-token', csrf);
    x.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = e.loaded / e.total; };
    x.onload = () => { const j = JSON.parse(x.responseText || '{}'); x.status < 300 ? ok(j) : fail(new Error(j.detail || x.status)); };
    x.onerror = () => fail(new Error('network error'));
    x.send(file);
  });
}
async function upload(files) {
  files = [...files]; if (!files.length) return;
  try {
    if (!order) order = (await api('POST', '/api/v1/orders')).order;
    const need = files.reduce((n, f) => n + f.size, 0) + uploaded.reduce((n, u) => n + u.bytes, 0);
    await api('PUT', `/api/v1/orders/${order}/storage`, {bytes: need});
  } catch (e) { $('#msg').textContent = e.message; return; }
  await Promise.all(files.map(async (f) => {
    const row = document.createElement('div');
    row.className = 'upload';
    row.innerHTML = `<span></span> <progress max="1" value="0"></progress> <em></em>`;
    row.querySelector('span').textContent = f.name;
    $('#progress').append(row);
    try {
      const u = await put(f, `/api/v1/orders/${order}/images?name=${encodeURIComponent(f.name)}`, row.querySelector('progress'));
      row.querySelector('em').textContent = 'done'; uploaded.push(u); renderItems();
    } catch (e) { row.querySelector('em').textContent = e.message; row.querySelector('em').className = 'err'; }
  }));
}
const SIZES = ['L','2L','KG','DSC','Hagaki','Square','4x6','5x7','8x10'];
function renderItems() {
  $('#items').innerHTML = '';
  for (const u of uploaded) {
    const tr = document.createElement('tr');
    tr.innerHTML = `<td></td><td><select>${SIZES.map(s => `<option>${s}</option>`).join('')}</select> <span class="warn"></span></td><td><input type="number" min="1" max="1000" value="1" style="width:4rem"></td>`;
    tr.firstChild.textContent = u.name; tr.dataset.image = u.image; tr.dataset.w = u.width; tr.dataset.h = u.height;
    const sel = tr.querySelector('select'), warn = tr.querySelector('.warn');
    sel.onchange = () => { const need = {L:[1051,1500],'2L':[1500,2102],KG:[1205,1795],DSC:[1051,1406],Hagaki:[1181,1748],Square:[1051,1051],'4x6':[1200,1800],'5x7':[1500,2100],'8x10':[2400,3000]}[sel.value];
      const s = Math.min(u.width, u.height), l = Math.max(u.width, u.height);
      warn.textContent = (s < need[0] || l < need[1]) ? 'too few pixels for this size' : ''; };
    sel.onchange();
    $('#items').append(tr);
  }
  $('#orderform').hidden = uploaded.length === 0;
}
function request() {
  return {lab: $('#lab').value, counter: $('#counter').value,
    items: [...document.querySelectorAll('#items tr')].map(tr => ({image: tr.dataset.image, size: tr.querySelector('select').value, quantity: +tr.querySelector('input').value}))};
}
const esc = (t) => String(t ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
function lines(q) {
  const c = q.charge, m = (a) => `${esc(a.minor)} ${esc(a.currency)}`;
  const ready = q.estimated_finish ? `<p>Ready about ${esc(new Date(q.estimated_finish).toLocaleString())}</p>` : '';
  return `<h3>${esc(q.site)} (${esc(q.site_kind)})</h3><table>${c.lines.map(l => `<tr><td>${esc(l.description)}</td><td>${m(l.amount)}</td></tr>`).join('')}<tr><th>total</th><th>${m(c.total)}</th></tr></table>${ready}`;
}
$('#quote').onclick = async () => {
  try { const q = await api('POST', `/api/v1/orders/${order}/quote`, request());
    $('#quoted').innerHTML = lines(q.lab) + lines(q.counter) + (q.total ? `<p><strong>To pay at the counter: ${esc(q.total.minor)} ${esc(q.total.currency)}</strong></p>` : '');
  } catch (e) { $('#quoted').textContent = e.message; }
};
$('#place').onclick = async () => {
  try { const r = await fetch(`/api/v1/orders/${order}/submit`, {method: 'POST', headers: {...H, 'idempotency-key': order}, body: JSON.stringify(request())});
    const j = await r.json(); if (!r.ok) throw new Error(j.detail); location.href = `/orders/${order}`;
  } catch (e) { $('#quoted').textContent = e.message; }
};
const drop = $('#drop');
drop.ondragover = (e) => { e.preventDefault(); drop.classList.add('over'); };
drop.ondragleave = () => drop.classList.remove('over');
drop.ondrop = (e) => { e.preventDefault(); drop.classList.remove('over'); upload(e.dataTransfer.files); };
$('#files').onchange = (e) => upload(e.target.files);
"#;

async fn album(State(state): State<AppState>, MaybeUser(who): MaybeUser) -> Response {
    let user = match need_user(who) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let images = api::images_of(&state, &user).await.unwrap_or_default();
    let sites = api::list_sites(&state).await.unwrap_or_default();
    let options = |kind: &str| -> String {
        sites
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| {
                format!(
                    "<option value=\"{}\">{} — {}{}</option>",
                    esc(&s.id),
                    esc(&s.name),
                    esc(&s.address),
                    if s.stale { " (offline?)" } else { "" }
                )
            })
            .collect()
    };
    let thumbs: String = images
        .iter()
        .map(|i| {
            format!(
                "<figure><img loading=\"lazy\" alt=\"{n}\" src=\"/api/v1/images/{id}/thumbnail\"><figcaption>{n}<br>{w}×{h}</figcaption></figure>",
                n = esc(&i.name),
                id = esc(&i.image),
                w = i.width,
                h = i.height
            )
        })
        .collect();
    let body = format!(
        "<h1>Album</h1><div id=\"drop\" class=\"drop\">Drop photos here or <input id=\"files\" type=\"file\" accept=\"image/*\" multiple></div>\
         <p id=\"msg\" class=\"err\"></p><div id=\"progress\"></div>\
         <section id=\"orderform\" hidden><h2>Order prints</h2>\
         <label>Lab <select id=\"lab\">{}</select></label><label>Delivery counter <select id=\"counter\">{}</select></label>\
         <table><thead><tr><th>Image</th><th>Size</th><th>Quantity</th></tr></thead><tbody id=\"items\"></tbody></table>\
         <button id=\"quote\" type=\"button\">Quote</button> <button id=\"place\" type=\"button\">Place order</button><div id=\"quoted\"></div></section>\
         <h2>Your photos</h2><div class=\"thumbs\">{thumbs}</div><script>{ALBUM_JS}</script>",
        options("lab"),
        options("counter")
    );
    page("Album", Some(&user), &state, &body).into_response()
}

async fn history(State(state): State<AppState>, MaybeUser(who): MaybeUser) -> Response {
    let user = match need_user(who) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let orders = api::list_orders_of(&state, &user).await.unwrap_or_default();
    let rows: String = orders
        .iter()
        .map(|o| {
            let again = if o.stage != "draft" {
                format!("<button class=\"reorder\" data-order=\"{}\">Re-order</button>", esc(&o.order))
            } else {
                String::new()
            };
            format!(
                "<tr><td><a href=\"/orders/{id}\">{short}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{again}</td></tr>",
                esc(&o.created_at[..o.created_at.len().min(16)]),
                esc(&o.stage),
                o.items,
                id = esc(&o.order),
                short = esc(&o.order[..8.min(o.order.len())])
            )
        })
        .collect();
    let js = "const csrf=document.querySelector('meta[name=csrf]').content;\
      document.querySelectorAll('.reorder').forEach(b=>b.onclick=async()=>{const r=await fetch(`/api/v1/orders/${b.dataset.order}/reorder`,{method:'POST',headers:{'x-csrf-token':csrf}});\
      const j=await r.json();if(r.ok)location.href=`/orders/${j.order}`;else alert(j.detail);});";
    let body = format!(
        "<h1>Your orders</h1><table><tr><th>Order</th><th>Placed</th><th>Stage</th><th>Items</th><th></th></tr>{rows}</table><script>{js}</script>"
    );
    page("Orders", Some(&user), &state, &body).into_response()
}

const STAGES: [(&str, &str); 6] = [
    ("placed", "Placed"),
    ("received", "Received at the lab"),
    ("printing", "Printing"),
    ("dispatched", "Dispatched"),
    ("ready_for_pickup", "Ready at the counter"),
    ("collected", "Collected"),
];

async fn order_page(
    State(state): State<AppState>,
    MaybeUser(who): MaybeUser,
    Path(id): Path<String>,
) -> Response {
    let user = match need_user(who) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let view = match api::order_view(&state, &user, &id).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let steps: String = STAGES
        .iter()
        .map(|(k, label)| {
            let done = view.timeline.iter().any(|t| t.stage == *k);
            format!(
                "<li data-stage=\"{k}\" class=\"{}\">{label}</li>",
                if done { "done" } else { "" }
            )
        })
        .collect();
    let log: String = view
        .timeline
        .iter()
        .map(|t| {
            format!(
                "<li>{} — {} ({}) {}</li>",
                esc(&t.at),
                esc(&t.stage),
                esc(&t.site),
                esc(&t.detail)
            )
        })
        .collect();
    let slip = if view.slip.is_some() {
        format!(
            "<p><a href=\"/orders/{}/slip\">Print the slip</a> to show at the counter.</p>",
            esc(&view.order)
        )
    } else {
        String::new()
    };
    let js = format!(
        "const es=new EventSource('/api/v1/orders/{id}/events');es.addEventListener('stage',e=>{{const d=JSON.parse(e.data);\
         document.getElementById('stage').textContent=d.stage;const li=document.querySelector(`li[data-stage=\"${{d.stage}}\"]`);if(li)li.className='done';\
         const l=document.createElement('li');l.textContent=new Date().toISOString()+' — '+d.stage+' '+(d.detail||'');document.getElementById('log').append(l);}});",
        id = esc(&view.order)
    );
    let body = format!(
        "<h1>Order {short}</h1><p>Stage: <strong id=\"stage\">{stage}</strong></p><ol class=\"tl\">{steps}</ol>{slip}\
         <p>Lab: {lab} · Counter: {counter}</p><h2>History</h2><ul id=\"log\">{log}</ul><script>{js}</script>",
        short = esc(&view.order[..8.min(view.order.len())]),
        stage = esc(&view.stage),
        lab = esc(view.lab.as_deref().unwrap_or("-")),
        counter = esc(view.counter.as_deref().unwrap_or("-")),
    );
    page("Order", Some(&user), &state, &body).into_response()
}

async fn slip(
    State(state): State<AppState>,
    MaybeUser(who): MaybeUser,
    Path(id): Path<String>,
) -> Response {
    let user = match need_user(who) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let view = match api::order_view(&state, &user, &id).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let Some(slip) = view.slip else {
        return AppError::NotFound("slip (the lab has not received the order yet)".into())
            .into_response();
    };
    let get = |p: &str| {
        slip.pointer(p)
            .and_then(|v| v.as_str())
            .unwrap_or("-")
            .to_string()
    };
    let lines: String = slip
        .pointer("/reception/charge/lines")
        .and_then(|v| v.as_array())
        .map(|ls| {
            ls.iter()
                .map(|l| {
                    format!(
                        "<tr><td>{}</td><td>{} {}</td></tr>",
                        esc(l["description"].as_str().unwrap_or("")),
                        l["amount"]["minor"],
                        esc(l["amount"]["currency"].as_str().unwrap_or(""))
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>Reception slip</h1><table><tr><th>Lab</th><td>{}</td></tr><tr><th>Reception No.</th><td>{}</td></tr>\
         <tr><th>Registration No.</th><td>{}</td></tr><tr><th>Name</th><td>{}</td></tr><tr><th>Received</th><td>{}</td></tr>\
         <tr><th>Delivery counter</th><td>{}</td></tr></table><h2>Lab charge</h2><table>{lines}</table>\
         <p class=\"noprint\"><button onclick=\"print()\">Print</button></p>",
        esc(&get("/from_site")),
        esc(&get("/reception/number")),
        esc(&get("/registration_number")),
        esc(&get("/name")),
        esc(&get("/reception/received_at")),
        esc(&get("/reception/partner")),
    );
    page("Slip", Some(&user), &state, &body).into_response()
}
