//! `/v1/carriers/{uscc}/library`: what a carrier's recorded applications archived for reuse.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::auth::{Read, Require};
use super::error::ApiError;
use crate::library::{self, LibraryEntry};

/// A carrier's library.
#[derive(Debug, Serialize, ToSchema)]
pub struct Library {
    /// The carrier's credit code.
    pub uscc: String,
    /// Each archived part, ID numbers masked: form order, then latest first.
    pub items: Vec<LibraryEntry>,
}

/// The carrier library: the agent, drivers, escort, vehicle combinations and routes of the
/// carrier's recorded applications, each with the applications it came from. A new
/// application reuses one by naming its `ref`. A carrier with nothing recorded has an empty
/// library.
#[utoipa::path(
    get,
    path = "/v1/carriers/{uscc}/library",
    tag = "library",
    params(("uscc" = String, Path, description = "The carrier's unified social credit code")),
    responses(
        (status = 200, description = "The carrier's library, ID numbers masked", body = Library),
    ),
    security(("bearer" = ["read"]))
)]
pub async fn library(
    _allowed: Require<Read>,
    State(state): State<Arc<AppState>>,
    Path(uscc): Path<String>,
) -> Result<Response, ApiError> {
    let st = Arc::clone(&state);
    let lookup = uscc.clone();
    let parts = tokio::task::spawn_blocking(move || st.ledger.library(&lookup)).await??;
    Ok(Json(Library { uscc, items: library::entries(parts) }).into_response())
}
