//! `oscar registry-serve DIR`: a JSON Lines registry served over HTTP, the protocol that
//! [`crate::registry::RemoteRegistry`] speaks. A delay can be set to simulate a slow
//! registry in tests.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::registry::{Lookup, Registry, VersionAnswer};

struct RegistryState {
    registry: Box<dyn Registry>,
    delay: Duration,
}

/// The registry router: `/v1/{companies,people,vehicles,vehicles-by-vin,authorizations}/{key}`
/// and `/v1/version`; each answer waits `delay` first.
pub fn registry_app(registry: Box<dyn Registry>, delay: Duration) -> Router {
    let state = Arc::new(RegistryState { registry, delay });
    Router::new().route("/v1/version", get(version)).route("/v1/{kind}/{key}", get(record)).with_state(state)
}

async fn version(State(s): State<Arc<RegistryState>>) -> Response {
    tokio::time::sleep(s.delay).await;
    axum::Json(VersionAnswer { version: s.registry.version() }).into_response()
}

fn answer<T: Serialize>(l: Lookup<T>) -> Response {
    match l {
        Lookup::Found(r) => axum::Json(r).into_response(),
        Lookup::Missing => (StatusCode::NOT_FOUND, "no such record").into_response(),
        Lookup::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable").into_response(),
    }
}

async fn record(State(s): State<Arc<RegistryState>>, Path((kind, key)): Path<(String, String)>) -> Response {
    tokio::time::sleep(s.delay).await;
    let r = s.registry.as_ref();
    match kind.as_str() {
        "companies" => answer(r.company(&key)),
        "people" => answer(r.person(&key)),
        "vehicles" => answer(r.vehicle(&key)),
        "vehicles-by-vin" => answer(r.vehicle_by_vin(&key)),
        "authorizations" => answer(r.authorization(&key)),
        _ => (StatusCode::NOT_FOUND, "no such registry").into_response(),
    }
}
