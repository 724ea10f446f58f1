//! `/v1/restrictions`: temporary restrictions (closures, works, lowered limits) added at run
//! time.
//!
//! A new restriction is stored in the ledger, joins the closures of every later review (the
//! reviewer is rebuilt, so the routes version changes), and the answer lists the approved
//! reviews whose matched route meets it during their schedule: the permits to re-check.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::reviews::{location, next_cursor, now_rfc3339, page_of};
use crate::Reviewer;
use crate::application::FieldError;
use crate::checks::lowered_comparisons;
use crate::ledger::Ledger;
use crate::routes::{Closure, LoweredLimits, closures_on_route};

/// Approved reviews are re-checked in pages of this size.
const PAGE: usize = 500;

/// Longest `reason`: a sentence for a reviewer, not a document (it is echoed in every
/// answer that lists the restriction).
const MAX_REASON_CHARS: usize = 500;
/// Most points of a restriction's geometry: a closed stretch of road, not a region.
const MAX_GEOMETRY_POINTS: usize = 2_000;

/// A temporary restriction as submitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Restriction {
    /// Unique id, letters, digits and `- _ .`.
    pub id: String,
    /// `closure` (the road is closed to the transport while valid), `lowered_limit` (the
    /// road stays open under `limits`) or `works` (closed, or open under `limits` if given).
    pub kind: String,
    /// Why, in plain words.
    pub reason: String,
    /// Start of validity, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub valid_from: DateTime<FixedOffset>,
    /// End of validity, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub valid_until: DateTime<FixedOffset>,
    /// GeoJSON `Point` or `LineString`, `[lon, lat]` WGS84.
    #[schema(value_type = Object)]
    pub geometry: Value,
    /// The limits in force while valid (`lowered_limit`, or `works` that leave the road open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LoweredLimits>,
}

/// An approved review that a restriction affects.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Affected {
    /// The application.
    pub application_id: String,
    /// Where its review is.
    pub href: String,
    /// First travel day.
    #[schema(value_type = String, format = Date)]
    pub schedule_start: NaiveDate,
    /// Last travel day.
    #[schema(value_type = String, format = Date)]
    pub schedule_end: NaiveDate,
    /// Kilometres along the matched route where it meets the restriction.
    pub km: f64,
    /// `[lon, lat]` where it meets it.
    pub at: [f64; 2],
}

/// The answer to a new restriction.
#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    /// The restriction as stored.
    pub restriction: Restriction,
    /// Approved reviews whose route and schedule it affects.
    pub affected: Vec<Affected>,
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

fn point(v: &Value) -> Option<[f64; 2]> {
    match v.as_array()?.as_slice() {
        [lon, lat] => {
            let (lon, lat) = (lon.as_f64()?, lat.as_f64()?);
            crate::units::is_lon_lat(lon, lat).then_some([lon, lat])
        }
        _ => None,
    }
}

/// Checks a restriction; every problem with its JSON Pointer.
pub fn validate(r: &Restriction) -> Result<Closure, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut err = |p: &str, m: String| errors.push(FieldError { pointer: p.into(), message: m });
    if r.id.is_empty() || r.id.len() > 64 || !r.id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        err("/id", "must be 1 to 64 letters, digits or `- _ .`".into());
    }
    match (r.kind.as_str(), &r.limits) {
        ("closure", Some(_)) => err("/limits", "a closure closes the road; use `lowered_limit` to set limits".into()),
        ("lowered_limit", None) => err("/limits", "a lowered limit needs `limits`".into()),
        ("closure" | "works" | "lowered_limit", _) => {}
        (other, _) => err("/kind", format!("must be `closure`, `works` or `lowered_limit`, found `{other}`")),
    }
    if let Some(limits) = &r.limits {
        if limits.is_empty() {
            err("/limits", format!("set at least one of {}", limits.named().map(|(n, _)| format!("`{n}`")).join(", ")));
        }
        for (name, value) in limits.named() {
            if value.is_some_and(|v| !(v > 0.0 && v.is_finite())) {
                err(&format!("/limits/{name}"), "must be a positive number".into());
            }
        }
    }
    if r.reason.trim().is_empty() {
        err("/reason", "must not be empty".into());
    }
    if r.reason.chars().count() > MAX_REASON_CHARS {
        err("/reason", format!("must be at most {MAX_REASON_CHARS} characters"));
    }
    if let Some(extra) =
        r.geometry.as_object().and_then(|g| g.keys().find(|k| !["type", "coordinates"].contains(&k.as_str())))
    {
        err(&format!("/geometry/{extra}"), "is not a member of a GeoJSON `Point` or `LineString` here".into());
    }
    if r.geometry.get("coordinates").and_then(Value::as_array).is_some_and(|c| c.len() > MAX_GEOMETRY_POINTS) {
        err("/geometry/coordinates", format!("must have at most {MAX_GEOMETRY_POINTS} points"));
    }
    if r.valid_until < r.valid_from {
        err("/valid_until", "must not be before `valid_from`".into());
    }
    let coords = r.geometry.get("coordinates");
    let geometry: Vec<[f64; 2]> = match r.geometry.get("type").and_then(Value::as_str) {
        Some("Point") => match coords.and_then(point) {
            Some(p) => vec![p],
            None => {
                err("/geometry/coordinates", "must be `[lon, lat]` in degrees".into());
                Vec::new()
            }
        },
        Some("LineString") => {
            let list = coords.and_then(Value::as_array).cloned().unwrap_or_default();
            let pts: Vec<Option<[f64; 2]>> = list.iter().map(point).collect();
            if pts.len() < 2 {
                err("/geometry/coordinates", "a LineString needs at least two `[lon, lat]` points".into());
            }
            for (i, p) in pts.iter().enumerate() {
                if p.is_none() {
                    err(&format!("/geometry/coordinates/{i}"), "must be `[lon, lat]` in degrees".into());
                }
            }
            pts.into_iter().flatten().collect()
        }
        _ => {
            err("/geometry/type", "must be `Point` or `LineString`".into());
            Vec::new()
        }
    };
    if errors.is_empty() {
        Ok(Closure {
            id: format!("temporary:{}", r.id),
            reason: format!("{}: {}", r.kind, r.reason),
            valid_from: r.valid_from,
            valid_until: r.valid_until,
            geometry,
            limits: r.limits,
        })
    } else {
        Err(errors)
    }
}

/// The closures of every restriction stored in the ledger.
pub fn stored_closures(ledger: &dyn Ledger) -> Result<Vec<Closure>, super::StartError> {
    ledger
        .restrictions()?
        .into_iter()
        .map(|s| {
            let r: Restriction = serde_json::from_str(&s.restriction)
                .map_err(|e| super::StartError::Restriction(s.seq, e.to_string()))?;
            validate(&r).map_err(|e| super::StartError::Restriction(s.seq, format!("{} problem(s)", e.len())))
        })
        .collect()
}

/// The approved reviews whose matched route meets `closure` during their schedule (for
/// lowered limits: and whose vehicle exceeds one of them).
pub fn affected(
    ledger: &dyn Ledger,
    reviewer: &Reviewer,
    closure: &Closure,
) -> Result<(Vec<Affected>, usize), ApiError> {
    let Some(routes) = reviewer.routes() else {
        return Ok((Vec::new(), 0));
    };
    let (mut out, mut checked, mut after) = (Vec::new(), 0, 0);
    let (cmin, cmax) = bbox(&closure.geometry);
    // Roughly 300 m in degrees: a route further than that from the closure cannot meet it.
    let margin = 0.003 / closure.geometry.first().map_or(1.0, |p| p[1].to_radians().cos().max(0.1));
    loop {
        let page = ledger.by_verdict(crate::review::Verdict::Approve, after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for record in &page {
            checked += 1;
            let Ok(app) = reviewer.parse(&record.entry.application) else { continue };
            let s = &app.schedule;
            if closure.valid_from.date_naive() > s.end || closure.valid_until.date_naive() < s.start {
                continue;
            }
            let coords = &app.route.geometry.coordinates;
            let (rmin, rmax) = bbox(coords);
            if rmax[0] + margin < cmin[0]
                || rmin[0] - margin > cmax[0]
                || rmax[1] + margin < cmin[1]
                || rmin[1] - margin > cmax[1]
            {
                continue;
            }
            // Lowered limits affect only the vehicles they are below.
            if let (Some(limits), Some(book)) = (&closure.limits, reviewer.rulebook(&app.jurisdiction)) {
                let margin = book.rules.route.height_margin.si();
                if lowered_comparisons(&app, margin, limits).iter().all(|(_, observed, limit, _)| observed <= limit) {
                    continue;
                }
            }
            let matched = routes.network.match_route(coords);
            if let Some(hit) = closures_on_route(&matched, std::slice::from_ref(closure)).first() {
                out.push(Affected {
                    application_id: record.entry.application_id.clone(),
                    href: location(&record.entry.application_id),
                    schedule_start: s.start,
                    schedule_end: s.end,
                    km: hit.km,
                    at: [hit.lon, hit.lat],
                });
            }
        }
        if page.len() < PAGE {
            break;
        }
    }
    Ok((out, checked))
}

fn bbox(points: &[[f64; 2]]) -> ([f64; 2], [f64; 2]) {
    let mut min = [f64::INFINITY; 2];
    let mut max = [f64::NEG_INFINITY; 2];
    for p in points {
        for k in 0..2 {
            min[k] = min[k].min(p[k]);
            max[k] = max[k].max(p[k]);
        }
    }
    (min, max)
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
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(Caller(caller)): Extension<Caller>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = super::error::body_bytes(body, state.limits.body_bytes)?;
    let value = crate::application::read_json(&body)?;
    let restriction: Restriction = serde_json::from_value(value).map_err(|e| {
        ApiError::Invalid(vec![FieldError { pointer: String::new(), message: format!("not a restriction: {e}") }])
    })?;
    let closure = validate(&restriction).map_err(ApiError::Invalid)?;
    let _guard = state.restrict_lock.lock().await;
    let st = Arc::clone(&state);
    let created = tokio::task::spawn_blocking(move || -> Result<Created, ApiError> {
        let mut closures = stored_closures(st.ledger.as_ref()).map_err(|e| ApiError::Internal(e.to_string()))?;
        if closures.iter().any(|c| c.id == closure.id) {
            return Err(ApiError::Conflict(format!("a restriction with id `{}` exists", restriction.id)));
        }
        closures.push(closure.clone());
        let built = st.closures_with(&closures)?;
        let text = serde_json::to_string(&restriction).map_err(|e| ApiError::Internal(e.to_string()))?;
        st.ledger.add_restriction(&text, &caller, &now_rfc3339())?;
        st.swap_reviewer(built.reviewer)?;
        let reviewer = st.reviewer()?;
        let (affected, checked) = affected(st.ledger.as_ref(), &reviewer, &closure)?;
        tracing::info!(id = %restriction.id, affected = affected.len(), checked, "restriction added");
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
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let (limit, after_seq) = page_of(q.limit, q.cursor.as_deref())?;
    let st = Arc::clone(&state);
    let mut stored =
        tokio::task::spawn_blocking(move || st.ledger.restrictions_after(after_seq.unwrap_or(0), limit + 1)).await??;
    let next = next_cursor(&mut stored, limit, |s| s.seq);
    let items: Vec<Listed> = stored
        .into_iter()
        .filter_map(|s| {
            serde_json::from_str(&s.restriction).ok().map(|restriction| Listed {
                restriction,
                caller: s.caller,
                recorded_at: s.recorded_at,
            })
        })
        .collect();
    Ok(axum::Json(RestrictionPage { items, next }).into_response())
}
