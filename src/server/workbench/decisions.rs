//! `POST /v1/reviews/{id}/decisions`: a reviewer's decision on an escalated case, and the
//! `case` block (status and decisions) that `GET /v1/reviews/{id}` adds to the review.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::super::AppState;
use super::super::auth::{Decide, Require};
use super::super::error::ApiError;
use super::super::reviews::now_rfc3339;
use crate::decision::{CaseStatus, Decision, DecisionKind, refused_on};
use crate::ids::mask_id_numbers;
use crate::ledger::{self, Decided, NewDecision, Record, StoredDecision};

/// One recorded decision, as shown with the review.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DecisionView {
    /// Position among the ledger's decisions.
    pub seq: i64,
    /// The decision.
    #[serde(flatten)]
    pub decision: Decision,
    /// Who decided (the API key's name).
    pub caller: String,
    /// When, RFC 3339 UTC.
    pub recorded_at: String,
    /// The decision's hash in the ledger.
    pub hash: String,
}

/// Where a case stands and what reviewers decided, in order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Case {
    /// `auto_approved`, `open`, `waiting` (information requested) or `decided`.
    pub status: CaseStatus,
    /// While waiting: when information was requested, the moment the statutory clock stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_stopped_at: Option<String>,
    /// Every decision, in order.
    pub decisions: Vec<DecisionView>,
}

impl Case {
    /// The case of a review `record` after its `decisions`; a stored decision that does not
    /// read is an error, never left out.
    pub fn of(record: &Record, decisions: &[StoredDecision]) -> Result<Case, ApiError> {
        let views = decisions
            .iter()
            .map(|d| {
                let decision: Decision = serde_json::from_str(&d.entry.decision)
                    .map_err(|e| ApiError::Internal(format!("decision {} does not read: {e}", d.seq)))?;
                let decision = masked(decision);
                Ok(DecisionView {
                    seq: d.seq,
                    decision,
                    caller: d.entry.caller.clone(),
                    recorded_at: d.entry.recorded_at.clone(),
                    hash: d.hash.clone(),
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let status = CaseStatus::of(record.entry.verdict, views.iter().map(|v| v.decision.kind));
        let clock_stopped_at = views
            .last()
            .filter(|_| status == CaseStatus::Waiting)
            .filter(|v| v.decision.kind == DecisionKind::RequestInformation)
            .map(|v| v.recorded_at.clone());
        Ok(Case { status, clock_stopped_at, decisions: views })
    }

    /// The review's JSON with this case added under `case`.
    pub fn joined_to(&self, review: &str) -> Result<String, ApiError> {
        let mut value: Value = serde_json::from_str(review)
            .map_err(|e| ApiError::Internal(format!("stored review does not read: {e}")))?;
        let case = serde_json::to_value(self).map_err(|e| ApiError::Internal(e.to_string()))?;
        if let Some(object) = value.as_object_mut() {
            object.insert("case".into(), case);
        }
        serde_json::to_string(&value).map_err(|e| ApiError::Internal(e.to_string()))
    }
}

/// A decision as shown: every ID number a reviewer wrote into its text masked (the ledger
/// keeps it as written), as everything else the service answers.
fn masked(mut d: Decision) -> Decision {
    let mask = |text: &mut String| *text = mask_id_numbers(text).into_owned();
    for c in &mut d.conditions {
        mask(&mut c.text);
        c.values.values_mut().for_each(mask);
    }
    for f in &mut d.findings {
        mask(&mut f.fact);
        f.evidence.iter_mut().for_each(mask);
    }
    for text in [&mut d.reasons, &mut d.information, &mut d.note] {
        mask(text);
    }
    d
}

/// Record a reviewer's decision on an escalated case.
///
/// `kind` is `approve`, `approve_with_conditions` (with `conditions`: a standard condition
/// of the rulebook as `{"id", "values"}`, or `{"text"}`), `refuse` (with `findings`, each a
/// `fact` and the `evidence` it rests on, and `reasons`) or `request_information` (with
/// `information`; the case then waits). The caller (the API key's name) and the time are
/// recorded with it in the ledger. Answers the case as it now stands.
#[utoipa::path(
    post,
    path = "/v1/reviews/{id}/decisions",
    tag = "reviews",
    params(("id" = String, Path, description = "application_id")),
    request_body(content = Decision, description = "The decision", content_type = "application/json"),
    responses(
        (status = 201, description = "Recorded; the case as it now stands", body = Case),
        (status = 400, description = "Malformed JSON", body = super::super::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No review with this id", body = super::super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The case takes no decision: oscar approved it, or it is already decided", body = super::super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid decision: every field error with its JSON Pointer (a refusal without findings, evidence or reasons)", body = super::super::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The ledger cannot record now: nothing was stored", body = super::super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["decide"]))
)]
pub async fn create(
    allowed: Require<Decide>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = super::super::error::body_bytes(body, state.limits.body_bytes)?;
    let value = crate::application::read_json(&body)?;
    let caller = allowed.caller().to_string();
    let case = tokio::task::spawn_blocking(move || record(&state, &id, &value, caller)).await??;
    let body = serde_json::to_string(&case).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((StatusCode::CREATED, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Validates the decision against the case's rulebook and records it; the case after it.
fn record(state: &AppState, id: &str, value: &Value, caller: String) -> Result<Case, ApiError> {
    let not_found = || ApiError::NotFound(format!("no review of application `{id}`"));
    let review = state.ledger.get(id)?.ok_or_else(not_found)?;
    let jurisdiction: Value = serde_json::from_str(&review.entry.review)
        .map_err(|e| ApiError::Internal(format!("stored review does not read: {e}")))?;
    let reviewer = state.reviewer()?;
    let standard = jurisdiction
        .get("jurisdiction")
        .and_then(Value::as_str)
        .and_then(|j| reviewer.rulebook(j))
        .map_or(&[][..], |b| b.rules.conditions.as_slice());
    let decision = crate::decision::parse(value, standard).map_err(ApiError::Invalid)?;
    let canonical = serde_json::to_value(&decision).map_err(|e| ApiError::Internal(e.to_string()))?;
    let new = NewDecision {
        application_id: id.to_string(),
        kind: decision.kind,
        decision: ledger::canonical_json(&canonical),
        caller,
        recorded_at: now_rfc3339(),
    };
    match state.ledger.decide(new)? {
        Decided::New(_) => Case::of(&review, &state.ledger.decisions(id)?),
        Decided::NoReview => Err(not_found()),
        Decided::Refused(status) => Err(ApiError::Conflict(format!(
            "{}: application `{id}` is {}",
            refused_on(status).unwrap_or("the case takes no decision now"),
            status.as_str()
        ))),
    }
}
