//! The one place where errors become HTTP answers: `application/problem+json` (RFC 9457).
//! 5xx bodies are generic; their cause goes to the log only.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::application::{FieldError, JsonError};
use crate::ids::mask_id_numbers;

/// The media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Errors of the HTTP layer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON, or a query parameter is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The application (or restriction) is invalid; every problem with its JSON Pointer.
    #[error("invalid input: {} problem(s)", .0.len())]
    Invalid(Vec<FieldError>),
    /// No or unknown API key.
    #[error("missing or unknown API key")]
    Unauthorized,
    /// The key is known but may not do this.
    #[error("the API key `{caller}` lacks the `{scope}` permission")]
    Forbidden {
        /// Key name.
        caller: String,
        /// The permission needed.
        scope: &'static str,
    },
    /// A reference to another carrier's archived data.
    #[error("{0}")]
    ForeignReference(String),
    /// No such resource.
    #[error("{0}")]
    NotFound(String),
    /// The resource exists but not with this method.
    #[error("method not allowed on this resource")]
    MethodNotAllowed,
    /// Same id, different content.
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than allowed.
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    /// The body is not declared as JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The request took longer than allowed.
    #[error("the request took longer than {0} ms")]
    Timeout(u128),
    /// Not ready (data not loaded, ledger unreachable).
    #[error("not ready: {0}")]
    NotReady(String),
    /// The ledger cannot take writes now (its file gone, a full disk); nothing was stored.
    #[error("nothing was recorded: {0}")]
    LedgerUnavailable(String),
    /// A fault of the service; the detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A problem document (RFC 9457) with the field errors of invalid input.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Problem type, a relative URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What happened in this case.
    pub detail: String,
    /// Every field error, with a JSON Pointer into the submitted document.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

/// One field error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    /// JSON Pointer (RFC 6901) into the submitted document; empty for the whole document.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Malformed request"),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-input", "Invalid input"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Authentication required"),
            ApiError::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden", "Not permitted"),
            ApiError::ForeignReference(_) => (StatusCode::FORBIDDEN, "foreign-reference", "Another carrier's data"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too-large", "Request body too large"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported media type")
            }
            ApiError::Timeout(_) => (StatusCode::SERVICE_UNAVAILABLE, "timeout", "Request timed out"),
            ApiError::NotReady(_) => (StatusCode::SERVICE_UNAVAILABLE, "not-ready", "Not ready"),
            ApiError::LedgerUnavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "ledger-unavailable", "The ledger cannot record now")
            }
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        }
    }

    /// The problem document this error is answered with. Messages and pointers may quote
    /// input verbatim (a parser's type error, an unknown field's name); every ID number in
    /// them is masked here.
    pub fn problem(&self) -> Problem {
        let (status, slug, title) = self.parts();
        let detail = match self {
            ApiError::Internal(_) => "the service could not complete the request; it has been logged".to_string(),
            ApiError::Invalid(errors) => format!("the input has {} problem(s); see `errors`", errors.len()),
            other => mask_id_numbers(&other.to_string()).into_owned(),
        };
        let errors = match self {
            ApiError::Invalid(errors) => errors
                .iter()
                .map(|e| ProblemField {
                    pointer: mask_id_numbers(&e.pointer).into_owned(),
                    message: mask_id_numbers(&e.message).into_owned(),
                })
                .collect(),
            _ => Vec::new(),
        };
        Problem { kind: format!("/problems/{slug}"), title: title.into(), status: status.as_u16(), detail, errors }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %mask_id_numbers(&self.to_string()), "request failed");
        }
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if matches!(self, ApiError::Unauthorized) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

impl From<crate::ledger::LedgerError> for ApiError {
    fn from(e: crate::ledger::LedgerError) -> Self {
        match e {
            crate::ledger::LedgerError::Unavailable(why) => ApiError::LedgerUnavailable(why),
            e => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<crate::restrictions::RestrictionError> for ApiError {
    fn from(e: crate::restrictions::RestrictionError) -> Self {
        match e {
            crate::restrictions::RestrictionError::Ledger(e) => e.into(),
            // A fault of the stored data, not of the request: logged in full, answered 500.
            e @ (crate::restrictions::RestrictionError::Unreadable(_)
            | crate::restrictions::RestrictionError::Indexing(_)) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<crate::library::LibraryError> for ApiError {
    fn from(e: crate::library::LibraryError) -> Self {
        match e {
            crate::library::LibraryError::Invalid(errors) => ApiError::Invalid(errors),
            crate::library::LibraryError::Foreign(why) => ApiError::ForeignReference(why),
            crate::library::LibraryError::Ledger(e) => e.into(),
        }
    }
}

impl From<JsonError> for ApiError {
    fn from(e: JsonError) -> Self {
        match e {
            JsonError::Duplicates(errors) => ApiError::Invalid(errors),
            other => ApiError::BadRequest(format!("the body is {other}")),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::Internal(format!("review task failed: {e}"))
    }
}

/// The request body, or the problem it is: 413 over the limit, 400 otherwise. Both handlers
/// that take a body use this one mapping.
pub fn body_bytes(
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
    limit_bytes: usize,
) -> Result<axum::body::Bytes, ApiError> {
    body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(limit_bytes),
        _ => ApiError::BadRequest(e.body_text()),
    })
}
