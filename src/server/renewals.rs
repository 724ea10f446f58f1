//! `/v1/reviews/{id}/renewals` and `/v1/reviews/{id}/amendments`: a new application made
//! from a recorded one, linked to it and reviewed in full (one handler: they differ only in
//! how the request makes the new application, [`Derivation`]).

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

/// Renew or amend a recorded application: a new application, linked to it and reviewed in
/// full against the registries and road data of now.
///
/// A renewal (`/renewals`) names the new application's `application_id`, its `submitted_at`
/// and the new `schedule`, nothing else; the review's `provenance.renews` names the recorded
/// application. An amendment (`/amendments`) is a JSON merge patch (RFC 7396) of the recorded
/// application that names at least a new `application_id` and `submitted_at` (e.g. another
/// tractor unit in `vehicle`; a part may be replaced by a library reference); the carrier
/// cannot change; `provenance.amends` names the recorded application.
#[utoipa::path(
    post,
    path = "/v1/reviews/{id}/{derivation}",
    tag = "reviews",
    params(
        ("id" = String, Path, description = "application_id of the recorded application"),
        ("derivation" = String, Path, description = "`renewals` or `amendments`"),
    ),
    request_body(content = Object, description = "A renewal's `application_id`, `submitted_at` and `schedule`, or an amendment's merge patch", content_type = "application/json"),
    responses(
        (status = 201, description = "Reviewed and recorded; `Location` names the review", body = crate::review::Review,
            headers(("Location" = String, description = "/v1/reviews/{id}"))),
        (status = 200, description = "Already reviewed with the same content: the stored review", body = crate::review::Review),
        (status = 400, description = "Malformed JSON", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API key", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Key lacks `submit`, an amendment changes the carrier, or a reference names another carrier's data", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No review with this id, or neither `renewals` nor `amendments`", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The new id was already reviewed with different content", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid request or derived application: every field error with its JSON Pointer", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The ledger cannot record now: nothing was stored", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["submit"]))
)]
pub async fn derive(
    allowed: Require<Submit>,
    State(state): State<Arc<AppState>>,
    Path((id, derivation)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let how = match derivation.as_str() {
        "renewals" => Derivation::Renewal,
        "amendments" => Derivation::Amendment,
        _ => return Err(ApiError::NotFound("no such resource".into())),
    };
    let arrival = Arrival::now(allowed.caller());
    let body = super::error::body_bytes(body, state.limits.body_bytes)?;
    review_and_record(&state, arrival, body, move |request, ledger| {
        let base = ledger.get(&id)?.ok_or_else(|| ApiError::NotFound(format!("no review of application `{id}`")))?;
        let recorded: Value = serde_json::from_str(&base.entry.application)
            .map_err(|e| ApiError::Internal(format!("recorded application `{id}`: {e}")))?;
        let mut application = library::derive(&recorded, &id, &request, how)?;
        let reused = library::expand(&mut application, ledger)?;
        Ok((application, how.provenance(&id, reused)))
    })
    .await
}
