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
