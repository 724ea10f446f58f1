//! `/v1/reviews/{id}/renewals` and `/v1/reviews/{id}/amendments`: a new application made
//! from a recorded one, linked to it and reviewed in full.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::Value;

use super::AppState;
use super::auth::{Require, Submit};
use super::error::ApiError;
use super::reviews::{Arrival, review_and_record};
use crate::library::{self, Derivation};

/// Renew a recorded application with a new schedule.
///
/// The body names the new application's `application_id`, its `submitted_at` and the new
/// `schedule`, nothing else. Everything else is the recorded application's, reviewed again
/// in full against the registries and road data of now; the review's `provenance.renews`
/// names the recorded application.
#[utoipa::path(
    post,
    path = "/v1/reviews/{id}/renewals",
    tag = "reviews",
    params(("id" = String, Path, description = "application_id of the recorded application")),
    request_body(content = Object, description = "`application_id`, `submitted_at`, `schedule`", content_type = "application/json"),
    responses(
        (status = 201, description = "Reviewed and recorded; `Location` names the review", body = crate::review::Review,
            headers(("Location" = String, description = "/v1/reviews/{id}"))),
        (status = 200, description = "Already reviewed with the same content: the stored review", body = crate::review::Review),
        (status = 400, description = "Malformed JSON", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API key", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Key lacks `submit`, or a reference names another carrier's data", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No review with this id", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The new id was already reviewed with different content", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid request or renewed application: every field error with its JSON Pointer", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The ledger cannot record now: nothing was stored", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["submit"]))
)]
pub async fn renew(
    allowed: Require<Submit>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    derive(&allowed, &state, id, body, Derivation::Renewal).await
}

/// Amend a recorded application with a JSON merge patch (RFC 7396).
///
/// The body is a merge patch of the recorded application that names at least a new
/// `application_id` and `submitted_at` (e.g. another tractor unit in `vehicle`); a part may
/// be replaced by a reference to the library. The carrier cannot change. The amended
/// application is reviewed in full; the review's `provenance.amends` names the recorded one.
#[utoipa::path(
    post,
    path = "/v1/reviews/{id}/amendments",
    tag = "reviews",
    params(("id" = String, Path, description = "application_id of the recorded application")),
    request_body(content = Object, description = "A JSON merge patch of the recorded application", content_type = "application/json"),
    responses(
        (status = 201, description = "Reviewed and recorded; `Location` names the review", body = crate::review::Review,
            headers(("Location" = String, description = "/v1/reviews/{id}"))),
        (status = 200, description = "Already reviewed with the same content: the stored review", body = crate::review::Review),
        (status = 400, description = "Malformed JSON", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API key", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Key lacks `submit`, the patch changes the carrier, or a reference names another carrier's data", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No review with this id", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The new id was already reviewed with different content", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid patch or amended application: every field error with its JSON Pointer", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The ledger cannot record now: nothing was stored", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["submit"]))
)]
pub async fn amend(
    allowed: Require<Submit>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    derive(&allowed, &state, id, body, Derivation::Amendment).await
}

/// Reviews and records the application that `how` makes of the recorded application `id`
/// and the request body.
async fn derive(
    allowed: &Require<Submit>,
    state: &Arc<AppState>,
    id: String,
    body: Result<Bytes, BytesRejection>,
    how: Derivation,
) -> Result<Response, ApiError> {
    let arrival = Arrival::now(allowed.caller());
    let body = super::error::body_bytes(body, state.limits.body_bytes)?;
    review_and_record(state, arrival, body, move |request, ledger| {
        let base = ledger.get(&id)?.ok_or_else(|| ApiError::NotFound(format!("no review of application `{id}`")))?;
        let recorded: Value = serde_json::from_str(&base.entry.application)
            .map_err(|e| ApiError::Internal(format!("recorded application `{id}`: {e}")))?;
        let mut application = library::derive(&recorded, &id, &request, how)?;
        let reused = library::expand(&mut application, ledger)?;
        Ok((application, how.provenance(&id, reused)))
    })
    .await
}
