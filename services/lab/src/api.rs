//! The JSON API under `/api/v1`: the same things the console pages do (queue, receptions with
//! their individual user files, production actions, search, ledger per delivery counter), for
//! a program. Described by the OpenAPI document at `/api/v1/openapi.json`. Log in at
//! `POST /api/v1/login`; every `POST` carries the session's `X-CSRF-Token` header.
//!
//! The queue, the search, a reception's view and the production actions are here, and the
//! pages ([`crate::web`]) show the same.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use reprint_domain::file::UserFile;
use reprint_domain::protocol::OrderPlaced;
use reprint_domain::{ReceptionNumber, RegistrationNumber, Telephone};
use reprint_service::problem::Json;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::auth::{Operator, check_csrf, log_in};
use crate::db::{self, LogRow, ProductionRow};
use crate::error::{LabError, LabResult};
use crate::production;
use crate::settlement::{self, LedgerLine};
use crate::state::Lab;

/// The production states, in order, as the queue shows them.
pub const STATES: [&str; 8] = [
    "received",
    "printing",
    "printed",
    "dispatched",
    "collected",
    "settled",
    "rejected",
    "cancelled",
];

/// The API's routes (the state is given by [`crate::http::router`]).
pub fn routes() -> Router<Lab> {
    Router::new()
        .route("/api/v1/login", post(api_login))
        .route("/api/v1/session", get(api_session))
        .route("/api/v1/receptions", get(api_queue))
        .route("/api/v1/receptions/{number}", get(api_reception))
        .route("/api/v1/receptions/{number}/{action}", post(api_action))
        .route("/api/v1/search", get(api_search))
        .route("/api/v1/ledger", get(api_ledger))
        .route("/api/v1/openapi.json", get(openapi_json))
}

// ---------------------------------------------------------------- actions

pub async fn run_action(
    lab: &Lab,
    number: &str,
    action: &str,
    reason: Option<&str>,
    who: &str,
) -> LabResult<ProductionRow> {
    let actor = format!("operator {who}");
    match action {
        "start-printing" => production::start_printing(lab, number, &actor).await,
        "finished" => production::finished(lab, number, &actor).await,
        "dispatch" => production::dispatch(lab, number, &actor).await,
        "reject" => production::reject(lab, number, reason.unwrap_or(""), &actor).await,
        other => Err(LabError::NotFound(format!("no action {other:?}"))),
    }
}

/// The longest search the lab runs (a name, a number: far shorter).
pub const SEARCH_MAX_CHARS: usize = 100;

/// A reception the search found: its production row, the customer's name and, for an order a
/// counter sent, the counter's own reception number (its slip).
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    #[serde(flatten)]
    pub production: ProductionRow,
    /// The customer's name as the order gave it.
    pub customer: String,
    /// The counter's reception number on its slip (`X0000003`), for an order a counter sent.
    pub counter_reception: Option<String>,
}

/// Receptions found by `q`, as the console's search finds them: this lab's reception number,
/// a registration number or a telephone number exactly; else the counter's reception number
/// (its slip, exactly, any case) or a part of the customer's name (any case). The newest first
/// for the last two, at most 200.
pub async fn search(lab: &Lab, q: &str) -> LabResult<Vec<SearchHit>> {
    let q = q.trim();
    if q.is_empty() {
        return Ok(vec![]);
    }
    if q.chars().count() > SEARCH_MAX_CHARS {
        return Err(LabError::BadRequest(format!(
            "a search of at most {SEARCH_MAX_CHARS} characters (a reception or registration \
             number, a telephone number or a name)"
        )));
    }
    let rules = lab.rules();
    let upper = q.to_ascii_uppercase();
    let mut tx = lab.store.begin().await?;
    let mut rows = if let Ok(n) = ReceptionNumber::parse(&rules.reception_number, &upper) {
        db::production_by_reception(&mut tx, n.as_str())
            .await?
            .into_iter()
            .collect()
    } else if let Ok(n) = RegistrationNumber::parse(&rules.registration_number, &upper) {
        db::production_by_registration(&mut tx, n.as_str()).await?
    } else if let Ok(t) = Telephone::parse(q) {
        let found = reprint_site::index::receptions_by_telephone(&mut tx, t.as_str()).await?;
        let mut rows = Vec::new();
        for r in found {
            if let Some(row) = db::production_by_reception(&mut tx, &r.reception_number).await? {
                rows.push(row);
            }
        }
        rows
    } else {
        vec![]
    };
    if rows.is_empty() {
        // The counter's slip number and the name are in the order as it came, not in a column:
        // the receptions whose order mentions `q`, then the exact test on the typed order.
        let lower = q.to_lowercase();
        rows = db::production_mentioning(&mut tx, q, 200)
            .await?
            .into_iter()
            .filter(|r| {
                let Ok(o) = serde_json::from_str::<OrderPlaced>(&r.order_json) else {
                    return false;
                };
                o.counter_extract
                    .as_ref()
                    .is_some_and(|e| e.reception.number.as_str().eq_ignore_ascii_case(q))
                    || o.customer.name.to_lowercase().contains(&lower)
            })
            .collect();
    }
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|production| {
            let order: Option<OrderPlaced> = serde_json::from_str(&production.order_json).ok();
            SearchHit {
                customer: order
                    .as_ref()
                    .map(|o| o.customer.name.clone())
                    .unwrap_or_default(),
                counter_reception: order
                    .as_ref()
                    .and_then(|o| o.counter_extract.as_ref())
                    .map(|e| e.reception.number.as_str().to_string()),
                production,
            }
        })
        .collect())
}

pub async fn queue(lab: &Lab, state: Option<&str>) -> LabResult<Vec<(String, Vec<ProductionRow>)>> {
    let states: Vec<&str> = match state {
        Some(s) if STATES.contains(&s) => vec![s],
        Some(s) => {
            return Err(LabError::BadRequest(format!(
                "no state {s:?}; one of {}",
                STATES.join(", ")
            )));
        }
        None => STATES.to_vec(),
    };
    let mut tx = lab.store.begin().await?;
    let mut out = Vec::new();
    for s in states {
        out.push((
            s.to_string(),
            db::production_by_state(&mut tx, s, 200).await?,
        ));
    }
    tx.commit().await?;
    Ok(out)
}

/// One reception with its individual user file.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceptionView {
    pub production: ProductionRow,
    pub log: Vec<LogRow>,
    /// The individual user file: the user id area and the reception contents area (Figs. 6, 7).
    #[schema(value_type = Object)]
    pub file: UserFile,
}

pub async fn reception_view(lab: &Lab, number: &str) -> LabResult<ReceptionView> {
    let upper = number.to_ascii_uppercase();
    let (loaded, _) = production::reception_of(lab, &upper).await?;
    let mut tx = lab.store.begin().await?;
    let production = db::production_by_reception(&mut tx, &upper)
        .await?
        .ok_or_else(|| LabError::NotFound(format!("no reception {upper} at this lab")))?;
    let log = db::production_log(&mut tx, &production.order_id).await?;
    tx.commit().await?;
    Ok(ReceptionView {
        production,
        log,
        file: loaded.file,
    })
}

// ---------------------------------------------------------------- JSON API

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(max_length = 200)]
    pub name: String,
    #[schema(max_length = 200)]
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub user: String,
    /// Send it as `X-CSRF-Token` with every POST.
    pub csrf_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RejectRequest {
    pub reason: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StateQuery {
    /// received, printing, printed, dispatched, collected, settled, rejected or cancelled.
    #[param(
        pattern = "^(received|printing|printed|dispatched|collected|settled|rejected|cancelled)$"
    )]
    pub state: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// This lab's reception number, a registration number, a telephone number, the counter's
    /// reception number (its slip) or a part of the customer's name; at most 100 characters.
    #[param(max_length = 100)]
    pub q: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueGroup {
    pub state: String,
    pub receptions: Vec<ProductionRow>,
}

/// Log in; the session cookie is set and the CSRF token returned.
#[utoipa::path(post, path = "/api/v1/login", request_body = LoginRequest,
    responses((status = 200, body = SessionView), (status = 401, description = "wrong name or password")))]
async fn api_login(
    State(lab): State<Lab>,
    handle: reprint_service::session::Handle,
    reprint_service::auth::Source(source): reprint_service::auth::Source,
    Json(req): Json<LoginRequest>,
) -> LabResult<Json<SessionView>> {
    let session = log_in(&lab, &handle, &source, &req.name, &req.password).await?;
    Ok(Json(SessionView {
        user: session.user.clone(),
        csrf_token: session.csrf_token(&lab.session_key),
    }))
}

/// Who is logged in, and the CSRF token of the session.
#[utoipa::path(get, path = "/api/v1/session", responses((status = 200, body = SessionView)))]
async fn api_session(State(lab): State<Lab>, Operator(s): Operator) -> Json<SessionView> {
    Json(SessionView {
        user: s.user.clone(),
        csrf_token: s.csrf_token(&lab.session_key),
    })
}

/// The queue by production state.
#[utoipa::path(get, path = "/api/v1/receptions", params(StateQuery),
    responses((status = 200, body = Vec<QueueGroup>)))]
async fn api_queue(
    State(lab): State<Lab>,
    _op: Operator,
    query: Result<Query<StateQuery>, axum::extract::rejection::QueryRejection>,
) -> LabResult<Json<Vec<QueueGroup>>> {
    let Query(q) = query.map_err(|e| LabError::BadRequest(e.body_text()))?;
    let groups = queue(&lab, q.state.as_deref()).await?;
    Ok(Json(
        groups
            .into_iter()
            .map(|(state, receptions)| QueueGroup { state, receptions })
            .collect(),
    ))
}

/// One reception with its individual user file.
#[utoipa::path(get, path = "/api/v1/receptions/{number}",
    params(("number" = String, Path, description = "reception number, e.g. B0000456")),
    responses((status = 200, body = ReceptionView), (status = 404)))]
async fn api_reception(
    State(lab): State<Lab>,
    _op: Operator,
    Path(number): Path<String>,
) -> LabResult<Json<ReceptionView>> {
    Ok(Json(reception_view(&lab, &number).await?))
}

/// An action on a reception: `start-printing`, `finished`, `dispatch` or `reject` (body
/// `{"reason": ...}`). Needs the `X-CSRF-Token` header.
#[utoipa::path(post, path = "/api/v1/receptions/{number}/{action}",
    params(("number" = String, Path), ("action" = String, Path, description = "start-printing, finished, dispatch or reject")),
    request_body(content = Option<RejectRequest>, description = "for reject: the reason"),
    responses((status = 200, body = ProductionRow), (status = 403, description = "no CSRF token"), (status = 409, description = "wrong state")))]
async fn api_action(
    State(lab): State<Lab>,
    Operator(s): Operator,
    Path((number, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> LabResult<Json<ProductionRow>> {
    let token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    check_csrf(&lab, &s, token)?;
    let reason = if action == "reject" {
        let r: RejectRequest = serde_json::from_slice(&body)
            .map_err(|e| LabError::BadRequest(format!("body: {e}")))?;
        Some(r.reason)
    } else {
        None
    };
    let row = run_action(
        &lab,
        &number.to_ascii_uppercase(),
        &action,
        reason.as_deref(),
        &s.user,
    )
    .await?;
    Ok(Json(row))
}

/// Search as the console does: by this lab's reception number, registration number,
/// telephone, the counter's reception number (its slip) or the customer's name.
#[utoipa::path(get, path = "/api/v1/search", params(SearchQuery),
    responses((status = 200, body = Vec<SearchHit>),
        (status = 400, description = "no `q`, or longer than 100 characters")))]
async fn api_search(
    State(lab): State<Lab>,
    _op: Operator,
    query: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> LabResult<Json<Vec<SearchHit>>> {
    let Query(q) = query.map_err(|e| LabError::BadRequest(e.body_text()))?;
    Ok(Json(search(&lab, &q.q).await?))
}

/// The ledger per delivery counter.
#[utoipa::path(get, path = "/api/v1/ledger", responses((status = 200, body = Vec<LedgerLine>)))]
async fn api_ledger(State(lab): State<Lab>, _op: Operator) -> LabResult<Json<Vec<LedgerLine>>> {
    Ok(Json(settlement::ledger(&lab).await?))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "reprint-lab",
        description = "The lab's operator API: queue, receptions with their individual user files, production actions, search, ledger per delivery counter."
    ),
    paths(
        api_login,
        api_session,
        api_queue,
        api_reception,
        api_action,
        api_search,
        api_ledger
    ),
    components(schemas(
        LoginRequest,
        SessionView,
        RejectRequest,
        QueueGroup,
        SearchHit,
        ReceptionView,
        ProductionRow,
        LogRow,
        LedgerLine
    )),
    // The refusals in front of every handler (400, 401, 403, 404, 413, 415, 422; issue 13).
    modifiers(&REFUSALS)
)]
pub struct ApiDoc;

/// The refusals in front of every handler; log-in needs no session.
const REFUSALS: reprint_service::problem::DeclareRefusals =
    reprint_service::problem::DeclareRefusals(&["/api/v1/login"]);

async fn openapi_json(_op: Operator) -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}
