//! `/v1/indicators`: the service indicators, computed from the ledger.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::auth::{Read, Require};
use super::error::ApiError;
use super::reviews::parse_since;
use crate::library::indicators::Indicators;

/// The window of the indicators.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Window {
    /// Records at or after this instant (RFC 3339) or day (`YYYY-MM-DD`, UTC); default: the first.
    pub from: Option<String>,
    /// Records before this instant (RFC 3339) or day (`YYYY-MM-DD`, UTC); default: after the
    /// last. The cases undecided and overdue "now" are judged at it (default: the request's time).
    pub to: Option<String>,
}

/// The service indicators over a window of recording times: applications received (also
/// by day), auto-approved share, machine decision time, reviewer decision time against the
/// statutory deadline per permit class, escalation reasons by item, first submissions
/// refused for form errors, reuse of archived data, registry availability.
/// Computed from the ledger's records only, so they can be recomputed from the ledger file.
#[utoipa::path(
    get,
    path = "/v1/indicators",
    tag = "operations",
    params(Window),
    responses(
        (status = 200, description = "The indicators", body = Indicators),
        (status = 400, description = "Bad `from` or `to`", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
pub async fn indicators(
    _allowed: Require<Read>,
    State(state): State<Arc<AppState>>,
    query: Result<Query<Window>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(w) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let (from, to) = w.bounds()?;
    Ok(Json(computed(&state, from, to).await?).into_response())
}

impl Window {
    /// `from` and `to` as the ledger writes times; a bad one is a `400` naming its field.
    pub(super) fn bounds(&self) -> Result<(Option<String>, Option<String>), ApiError> {
        let read = |name: &str, value: &Option<String>| {
            value
                .as_deref()
                .map(|v| {
                    parse_since(v).map_err(|_| {
                        ApiError::BadRequest(format!(
                            "`{name}` must be an RFC 3339 date-time or a YYYY-MM-DD date, found `{v}`"
                        ))
                    })
                })
                .transpose()
        };
        Ok((read("from", &self.from)?, read("to", &self.to)?))
    }
}

/// The indicators of the service's ledger over `from..to`.
pub(super) async fn computed(
    state: &Arc<AppState>,
    from: Option<String>,
    to: Option<String>,
) -> Result<Indicators, ApiError> {
    let st = Arc::clone(state);
    let indicators = tokio::task::spawn_blocking(move || {
        let facts = st.indicators.current(st.ledger.as_ref())?;
        Ok::<_, ApiError>(Indicators::compute(&facts, from.as_deref(), to.as_deref(), chrono::Utc::now()))
    })
    .await??;
    Ok(indicators)
}
