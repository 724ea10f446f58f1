//! Operations endpoints: health, readiness, metrics, the OpenAPI document and the published
//! auto-approve envelope.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::AppState;
use super::error::ApiError;
use crate::ledger::LedgerError;

/// A short status answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// `ok`.
    pub status: String,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive", body = Status)))]
pub async fn healthz() -> Json<Status> {
    Json(Status { status: "ok".into() })
}

/// The readiness answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// `ready`.
    pub status: String,
    /// `keys`, or `disabled` when the service runs without authentication (`--no-auth`).
    pub auth: String,
}

/// Readiness: rulebooks, routes and registry loaded and valid, the ledger taking writes;
/// says whether authentication is disabled.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 503, description = "Not ready", body = super::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn readyz(State(state): State<Arc<AppState>>) -> Result<Json<Ready>, ApiError> {
    if !state.ready.load(Ordering::SeqCst) {
        return Err(ApiError::NotReady("starting or shutting down".into()));
    }
    let st = Arc::clone(&state);
    tokio::task::spawn_blocking(move || st.ledger.ping()).await?.map_err(|e| match e {
        LedgerError::Unavailable(_) => ApiError::NotReady(e.to_string()),
        _ => ApiError::NotReady("the ledger is unreachable".into()),
    })?;
    let reviewer = state.reviewer()?;
    if reviewer.rulebooks().is_empty() || reviewer.routes().is_none() {
        return Err(ApiError::NotReady("rulebooks or road data missing".into()));
    }
    Ok(Json(Ready { status: "ready".into(), auth: state.auth.mode().into() }))
}

/// Prometheus metrics: reviews by verdict, item outcomes, latency histogram, registry errors,
/// and the service indicators over the whole ledger (`oscar_indicator_*`).
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut text = state.metrics.render();
    // The indicators over the whole ledger; one that cannot be read leaves them out.
    match super::indicators::computed(&state, None, None).await {
        Ok(indicators) => text.push_str(&indicators.prometheus()),
        Err(e) => tracing::warn!(error = %e, "the indicators could not be computed for /metrics"),
    }
    let mut resp = text.into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    resp
}

/// The OpenAPI 3.1 document of this service, generated from the code.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI document", body = Object)))]
pub async fn openapi() -> Response {
    let mut resp = super::openapi::ApiDoc::openapi().to_json().unwrap_or_default().into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// The published auto-approve envelope of one rulebook.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnvelopeEntry {
    /// Jurisdiction.
    pub jurisdiction: String,
    /// The legal instruments the rulebook encodes.
    pub name: String,
    /// Edition.
    pub edition: String,
    /// `sha256:` of the rulebook text.
    pub rulebook: String,
    /// Permit classes approved without a person.
    pub auto_approve_classes: Vec<u8>,
    /// Basis of the envelope.
    pub basis: String,
}

/// The auto-approve envelope of each loaded rulebook: everything outside it escalates.
#[utoipa::path(get, path = "/v1/envelope", tag = "operations", responses((status = 200, description = "One entry per rulebook", body = [EnvelopeEntry])))]
pub async fn envelope(State(state): State<Arc<AppState>>) -> Result<Json<Vec<EnvelopeEntry>>, ApiError> {
    let reviewer = state.reviewer()?;
    Ok(Json(
        reviewer
            .rulebooks()
            .iter()
            .map(|b| EnvelopeEntry {
                jurisdiction: b.rules.rulebook.jurisdiction.clone(),
                name: b.rules.rulebook.name.clone(),
                edition: b.rules.rulebook.edition.clone(),
                rulebook: b.hash.clone(),
                auto_approve_classes: b.rules.envelope.auto_approve_classes.clone(),
                basis: b.rules.envelope.basis.clone(),
            })
            .collect(),
    ))
}
