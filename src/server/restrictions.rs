//! `/v1/restrictions`: temporary restrictions (closures, works, lowered limits) added at run
//! time; what they are and which permits they affect is [`crate::restrictions`].
//!
//! A new restriction is stored in the ledger, joins the closures of every later review (the
//! reviewer is rebuilt, so the routes version changes), and the answer lists the approved
//! reviews whose matched route meets it during their schedule: the permits to re-check.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Read, Require, Restrict};
use super::error::ApiError;
use super::reviews::{location, next_cursor, now_rfc3339, page_of};
use crate::restrictions::{self, Affected, Restriction};

/// An approved review that a restriction affects, and where its review is.
#[derive(Debug, Serialize, ToSchema)]
pub struct AffectedReview {
    /// Where its review is.
    pub href: String,
    /// Where and when the restriction meets it.
    #[serde(flatten)]
    pub affected: Affected,
}

/// The answer to a new restriction.
#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    /// The restriction as stored.
    pub restriction: Restriction,
    /// Approved reviews whose route and schedule it affects.
    pub affected: Vec<AffectedReview>,
    /// Approved reviews checked.
    pub checked: usize,
}

/// A stored restriction.
#[derive(Debug, Serialize, ToSchema)]
pub struct Listed {
    /// The restriction.
    pub restriction: Restriction,
    /// Who added it.
    pub caller: String,
    /// When.
    pub recorded_at: String,
}

/// Add a temporary restriction; the answer lists the approved reviews it affects.
#[utoipa::path(
    post,
    path = "/v1/restrictions",
    tag = "restrictions",
    request_body = Restriction,
    responses(
        (status = 201, description = "Stored; later reviews take it into account", body = Created),
        (status = 400, description = "Malformed JSON", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A restriction with this id exists", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid restriction", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The ledger cannot record now (`/problems/ledger-unavailable`): nothing was stored", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["restrict"]))
)]
pub async fn create(
    allowed: Require<Restrict>,
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = super::error::body_bytes(body, state.limits.body_bytes)?;
    let (restriction, closure) =
        restrictions::parse(&crate::application::read_json(&body)?).map_err(ApiError::Invalid)?;
    let _guard = state.restrict_lock.lock().await;
    let st = Arc::clone(&state);
    let created = tokio::task::spawn_blocking(move || -> Result<Created, ApiError> {
        let closures = restrictions::joined(st.ledger.as_ref(), &closure)?
            .ok_or_else(|| ApiError::Conflict(format!("a restriction with id `{}` exists", restriction.id)))?;
        let built = st.closures_with(&closures)?;
        let text = serde_json::to_string(&restriction).map_err(|e| ApiError::Internal(e.to_string()))?;
        st.ledger.add_restriction(&text, allowed.caller(), &now_rfc3339())?;
        st.swap_reviewer(built.reviewer)?;
        let reviewer = st.reviewer()?;
        let restrictions::Rechecked { affected, checked } = st.affected_by(&reviewer, &closure)?;
        tracing::info!(id = %restriction.id, affected = affected.len(), checked, "restriction added");
        let affected = affected
            .into_iter()
            .map(|affected| AffectedReview { href: location(&affected.application_id), affected })
            .collect();
        Ok(Created { restriction, affected, checked })
    })
    .await??;
    Ok((StatusCode::CREATED, axum::Json(created)).into_response())
}

/// Paging of the restriction list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<usize>,
    /// `next` from the previous page.
    pub cursor: Option<String>,
}

/// A page of restrictions.
#[derive(Debug, Serialize, ToSchema)]
pub struct RestrictionPage {
    /// The restrictions, in the order added.
    pub items: Vec<Listed>,
    /// Cursor of the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The temporary restrictions, in the order added, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/restrictions",
    tag = "restrictions",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of restrictions", body = RestrictionPage),
        (status = 400, description = "Bad paging", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
pub async fn list(
    _allowed: Require<Read>,
    State(state): State<Arc<AppState>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let (limit, after_seq) = page_of(q.limit, q.cursor.as_deref())?;
    let st = Arc::clone(&state);
    let mut stored =
        tokio::task::spawn_blocking(move || st.ledger.restrictions_after(after_seq.unwrap_or(0), limit + 1)).await??;
    let next = next_cursor(&mut stored, limit, |s| s.seq);
    // One that no longer reads fails the page, as it fails every review (see `crate::restrictions`).
    let items = stored
        .into_iter()
        .map(|s| {
            let (restriction, _) =
                restrictions::read(&s).map_err(|e| restrictions::RestrictionError::Unreadable(vec![e]))?;
            Ok(Listed { restriction, caller: s.caller, recorded_at: s.recorded_at })
        })
        .collect::<Result<Vec<Listed>, ApiError>>()?;
    Ok(axum::Json(RestrictionPage { items, next }).into_response())
}
