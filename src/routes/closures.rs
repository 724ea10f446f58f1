//! Temporary closures (works, events) with validity periods, from GeoJSON.
//!
//! Each feature: properties `id`, `reason`, `valid_from`, `valid_until` (RFC 3339), and
//! a `Point` or `LineString` geometry. Whether a closure is active during a schedule is
//! the caller's decision (R5); here we only find the closures the matched route meets.

use crate::routes::geojson::parse_features;
use crate::routes::project::{Projection, project_on_segment, runs_along};
use crate::routes::{RouteMatch, RoutesError};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

/// A closure meets the route where the route passes within this distance, metres.
pub const CLOSURE_M: f64 = 15.0;

/// A temporary closure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closure {
    /// Identifier from the source.
    pub id: String,
    /// Why the road is closed.
    pub reason: String,
    /// Start of validity.
    pub valid_from: DateTime<FixedOffset>,
    /// End of validity.
    pub valid_until: DateTime<FixedOffset>,
    /// `[lon, lat]` points; one for a point closure.
    pub geometry: Vec<[f64; 2]>,
}

/// A closure met by a matched route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosureHit {
    /// Closure id.
    pub id: String,
    /// Why the road is closed.
    pub reason: String,
    /// Start of validity.
    pub valid_from: DateTime<FixedOffset>,
    /// End of validity.
    pub valid_until: DateTime<FixedOffset>,
    /// Longitude where the route meets it.
    pub lon: f64,
    /// Latitude where the route meets it.
    pub lat: f64,
    /// Kilometres along the matched route.
    pub km: f64,
}

/// Loads closures from a GeoJSON FeatureCollection; every problem is reported at once.
pub fn load_closures(path: &Path) -> Result<Vec<Closure>, RoutesError> {
    let text = std::fs::read_to_string(path).map_err(|source| RoutesError::Io { path: path.to_path_buf(), source })?;
    closures_from_str(path, &text)
}

/// Parses closures from GeoJSON text; `path` only labels errors.
pub fn closures_from_str(path: &Path, text: &str) -> Result<Vec<Closure>, RoutesError> {
    let features = parse_features(path, text)?;
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for f in features {
        let text = |k: &str| f.properties.get(k).and_then(Value::as_str);
        let time = |k: &str, problems: &mut Vec<String>| match text(k).map(DateTime::parse_from_rfc3339) {
            Some(Ok(t)) => Some(t),
            _ => {
                problems.push(format!("closure `{}`: `{k}` must be an RFC 3339 date-time", f.id));
                None
            }
        };
        let reason = text("reason").map(str::to_string);
        if reason.is_none() {
            problems.push(format!("closure `{}`: `reason` is missing", f.id));
        }
        let (from, until) = (time("valid_from", &mut problems), time("valid_until", &mut problems));
        if let (Some(reason), Some(valid_from), Some(valid_until)) = (reason, from, until) {
            if valid_until < valid_from {
                problems.push(format!("closure `{}`: `valid_until` is before `valid_from`", f.id));
                continue;
            }
            out.push(Closure { id: f.id, reason, valid_from, valid_until, geometry: f.geometry });
        }
    }
    if problems.is_empty() { Ok(out) } else { Err(RoutesError::GeoJson { path: path.to_path_buf(), problems }) }
}

/// The closures the matched route meets, ordered by km: a point closure within
/// [`CLOSURE_M`] of the matched path, a line closure running along it (a closed road
/// that the route only crosses is not met). Validity is not checked here.
pub fn closures_on_route(m: &RouteMatch, closures: &[Closure]) -> Vec<ClosureHit> {
    let mut out = Vec::new();
    for c in closures {
        let Some(&centre) = c.geometry.first() else {
            continue;
        };
        let proj = Projection::new(centre);
        let line: Vec<[f64; 2]> = c.geometry.iter().map(|&p| proj.to_xy(p)).collect();
        let mut best: Option<(f64, [f64; 2])> = None;
        for s in &m.segments {
            let (a, b) = (proj.to_xy(s.from), proj.to_xy(s.to));
            let met = if let [p] = line.as_slice() {
                let (t, d) = project_on_segment(*p, a, b);
                (d <= CLOSURE_M).then_some(t)
            } else {
                runs_along(a, b, &line, CLOSURE_M).then_some(0.0)
            };
            if let Some(t) = met {
                let km = s.from_km + (s.to_km - s.from_km) * t;
                let ll = [s.from[0] + (s.to[0] - s.from[0]) * t, s.from[1] + (s.to[1] - s.from[1]) * t];
                best = Some((km, ll));
                break;
            }
        }
        if let Some((km, ll)) = best {
            out.push(ClosureHit {
                id: c.id.clone(),
                reason: c.reason.clone(),
                valid_from: c.valid_from,
                valid_until: c.valid_until,
                lon: ll[0],
                lat: ll[1],
                km,
            });
        }
    }
    out.sort_by(|a, b| a.km.total_cmp(&b.km));
    out
}
