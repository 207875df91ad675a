//! One JSON problem body (RFC 9457) for every error a service answers: a client's mistake is a
//! 4xx with a clear `detail`, never a 500 and never a panic.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// `application/problem+json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A stable machine-readable code, e.g. `not_found`, `invalid_body`, `conflict`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: kind.to_string(),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::CONFLICT, "conflict", detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn unprocessable(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", detail)
    }

    pub fn too_large(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }

    /// A fault of ours: logged in full, answered without internals.
    pub fn internal(log: impl std::fmt::Display) -> Problem {
        tracing::error!(error = %log, "internal error");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side; it has been logged",
        )
    }

    /// A refusal of the domain (`reprint_domain::Refuses`), in the one mapping every service
    /// uses: a wrong value 422, something not there 404, not possible now 409. The detail is the
    /// domain's own words, the same at the gateway, the counter and the lab.
    pub fn refused(e: &(impl reprint_domain::Refuses + ?Sized)) -> Problem {
        use reprint_domain::Refusal;
        match e.refusal() {
            Refusal::Invalid => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "refused", e.to_string())
            }
            Refusal::NotFound => Problem::not_found(e.to_string()),
            Refusal::Conflict => Problem::conflict(e.to_string()),
        }
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}

impl From<axum::extract::rejection::JsonRejection> for Problem {
    /// A JSON body of the wrong shape, type or size: 4xx with serde's words.
    fn from(r: axum::extract::rejection::JsonRejection) -> Problem {
        use axum::extract::rejection::JsonRejection as J;
        match r {
            J::JsonDataError(e) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                e.body_text(),
            ),
            J::JsonSyntaxError(e) => {
                Problem::new(StatusCode::BAD_REQUEST, "invalid_json", e.body_text())
            }
            J::MissingJsonContentType(e) => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content_type",
                e.body_text(),
            ),
            J::BytesRejection(e) => Problem::new(e.status(), "body", e.body_text()),
            other => Problem::new(other.status(), "invalid_body", other.body_text()),
        }
    }
}

impl From<axum::extract::rejection::FormRejection> for Problem {
    fn from(r: axum::extract::rejection::FormRejection) -> Problem {
        Problem::new(r.status(), "invalid_form", r.body_text())
    }
}

impl From<axum::extract::rejection::QueryRejection> for Problem {
    fn from(r: axum::extract::rejection::QueryRejection) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "invalid_query", r.body_text())
    }
}

impl From<axum::extract::rejection::PathRejection> for Problem {
    fn from(r: axum::extract::rejection::PathRejection) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not_found", r.body_text())
    }
}

/// `Json<T>` whose rejection is a [`Problem`]: use it as the extractor in handlers.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(Problem))]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// The refusals every JSON API operation may answer before or beside its own (the extractors
/// and layers in front of the handlers), declared in an OpenAPI document so that it tells the
/// truth about them (issue 13): an operation declares only what is its own (404 for its
/// resource, 409 for its state, 503 when it asks a site ...), and this adds, where missing:
///
/// - 400: a request that does not parse (JSON syntax, a query or header) - every operation;
/// - 401: not logged in - every operation except those of the public paths given (log-in,
///   sign-up), whose operations that change state answer 429 for too many attempts instead;
/// - 403: no or a wrong `X-CSRF-Token` - every operation that changes state (POST, PUT, PATCH,
///   DELETE);
/// - 404: no such resource, or not this user's - every path with a parameter;
/// - 413, 415, 422: a body over the limit, of another content type, or of the wrong shape -
///   every operation with a request body.
///
/// Used as `#[openapi(modifiers(&DeclareRefusals(&["/api/v1/login"])))]`.
pub struct DeclareRefusals(pub &'static [&'static str]);

impl DeclareRefusals {
    /// `(status, description)` of the refusals an operation may answer.
    pub fn of(
        &self,
        path: &str,
        changes_state: bool,
        has_body: bool,
    ) -> Vec<(&'static str, &'static str)> {
        let mut out = vec![(
            "400",
            "the request does not parse (JSON syntax, a query parameter or a header)",
        )];
        if !self.0.contains(&path) {
            out.push(("401", "not logged in"));
        } else if changes_state {
            out.push(("429", "too many attempts; wait a minute"));
        }
        if changes_state {
            out.push(("403", "no or a wrong X-CSRF-Token header"));
        }
        if path.contains('{') {
            out.push(("404", "no such resource (or not this account's)"));
        }
        if has_body {
            out.push(("413", "the body is over the size limit"));
            out.push(("415", "the body is not of the content type documented"));
            out.push((
                "422",
                "the body parses but a field is missing, of the wrong type or invalid",
            ));
        }
        out
    }
}

impl utoipa::Modify for DeclareRefusals {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, ResponseBuilder};
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (&mut item.get, false),
                (&mut item.head, false),
                (&mut item.options, false),
                (&mut item.trace, false),
                (&mut item.post, true),
                (&mut item.put, true),
                (&mut item.patch, true),
                (&mut item.delete, true),
            ];
            for (operation, changes_state) in operations {
                let Some(op) = operation.as_mut() else {
                    continue;
                };
                for (status, description) in self.of(path, changes_state, op.request_body.is_some())
                {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| {
                            RefOr::T(ResponseBuilder::new().description(description).build())
                        });
                }
            }
        }
    }
}
