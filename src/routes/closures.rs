//! Temporary restrictions (works, events) with validity periods, from GeoJSON: closures, or
//! limits lowered for a while.
//!
//! Each feature: properties `id`, `reason`, `valid_from`, `valid_until` (RFC 3339), and
//! a `Point` or `LineString` geometry. With any of `max_height_m`, `max_width_m`,
//! `max_length_m`, `max_weight_kg`, `max_axle_load_kg` the road stays open under those limits;
//! without, it is closed to the transport. Whether a restriction is active during a
//! schedule, and whether the vehicle exceeds it, is the caller's decision (R5); here we only
//! find the restrictions the matched route meets.

use crate::routes::geojson::parse_features;
use crate::routes::project::{Projection, project_on_segment, runs_along};
use crate::routes::{MatchedSegment, RouteMatch, RoutesError};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

/// A closure meets the route where the route passes within this distance, metres.
pub const CLOSURE_M: f64 = 15.0;

/// Limits lowered for a while (works on a bridge, a temporary scaffold); metres and
/// kilograms, each optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoweredLimits {
    /// Clearance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_height_m: Option<f64>,
    /// Width.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_width_m: Option<f64>,
    /// Length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length_m: Option<f64>,
    /// Gross mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_weight_kg: Option<f64>,
    /// Load on any axle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_axle_load_kg: Option<f64>,
}

impl LoweredLimits {
    /// Each limit with its property name.
    pub fn named(&self) -> [(&'static str, Option<f64>); 5] {
        [
            ("max_height_m", self.max_height_m),
            ("max_width_m", self.max_width_m),
            ("max_length_m", self.max_length_m),
            ("max_weight_kg", self.max_weight_kg),
            ("max_axle_load_kg", self.max_axle_load_kg),
        ]
    }

    /// The limits read by property name.
    fn from_values(mut value: impl FnMut(&str) -> Option<f64>) -> LoweredLimits {
        LoweredLimits {
            max_height_m: value("max_height_m"),
            max_width_m: value("max_width_m"),
            max_length_m: value("max_length_m"),
            max_weight_kg: value("max_weight_kg"),
            max_axle_load_kg: value("max_axle_load_kg"),
        }
    }

    /// No limit set.
    pub fn is_empty(&self) -> bool {
        self.named().iter().all(|(_, v)| v.is_none())
    }
}

/// A temporary closure, or lowered limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closure {
    /// Identifier from the source.
    pub id: String,
    /// Why the road is closed or limited.
    pub reason: String,
    /// Start of validity.
    pub valid_from: DateTime<FixedOffset>,
    /// End of validity.
    pub valid_until: DateTime<FixedOffset>,
    /// `[lon, lat]` points; one for a point closure.
    pub geometry: Vec<[f64; 2]>,
    /// The limits in force instead of a closure; `None`: closed to the transport.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LoweredLimits>,
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
    /// The limits in force instead of a closure; `None`: closed to the transport.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LoweredLimits>,
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
        let limits = LoweredLimits::from_values(|k| match f.properties.get(k) {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_f64() {
                Some(x) if x > 0.0 && x.is_finite() => Some(x),
                _ => {
                    problems.push(format!("closure `{}`: `{k}` must be a positive number, found `{v}`", f.id));
                    None
                }
            },
        });
        if let (Some(reason), Some(valid_from), Some(valid_until)) = (reason, from, until) {
            if valid_until < valid_from {
                problems.push(format!("closure `{}`: `valid_until` is before `valid_from`", f.id));
                continue;
            }
            let limits = (!limits.is_empty()).then_some(limits);
            out.push(Closure { id: f.id, reason, valid_from, valid_until, geometry: f.geometry, limits });
        }
    }
    if problems.is_empty() { Ok(out) } else { Err(RoutesError::GeoJson { path: path.to_path_buf(), problems }) }
}

/// The closures the matched route meets, ordered by km: a point closure within
/// [`CLOSURE_M`] of the matched path, a line closure running along it (a closed road
/// that the route only crosses is not met). Validity is not checked here.
pub fn closures_on_route(m: &RouteMatch, closures: &[Closure]) -> Vec<ClosureHit> {
    let mut out: Vec<ClosureHit> = closures.iter().filter_map(|c| closure_met(c, &m.segments)).collect();
    out.sort_by(|a, b| a.km.total_cmp(&b.km));
    out
}

/// Where closure `c` first meets the matched path given segment by segment, as
/// [`closures_on_route`] finds it; the segments after that one are not asked for.
pub fn closure_met<S: std::borrow::Borrow<MatchedSegment>>(
    c: &Closure,
    segments: impl IntoIterator<Item = S>,
) -> Option<ClosureHit> {
    let shape = c.shape()?;
    let (s, t) = segments.into_iter().find_map(|s| shape.meets(s.borrow().from, s.borrow().to).map(|t| (s, t)))?;
    let s = s.borrow();
    let km = s.from_km + (s.to_km - s.from_km) * t;
    let ll = [s.from[0] + (s.to[0] - s.from[0]) * t, s.from[1] + (s.to[1] - s.from[1]) * t];
    Some(ClosureHit {
        id: c.id.clone(),
        reason: c.reason.clone(),
        valid_from: c.valid_from,
        valid_until: c.valid_until,
        lon: ll[0],
        lat: ll[1],
        km,
        limits: c.limits,
    })
}

/// A closure's geometry in a projection centred on it, to test pieces of road against.
pub(crate) struct ClosureShape {
    proj: Projection,
    line: Vec<[f64; 2]>,
}

impl Closure {
    /// Its shape; `None` without geometry.
    pub(crate) fn shape(&self) -> Option<ClosureShape> {
        let proj = Projection::new(*self.geometry.first()?);
        Some(ClosureShape { proj, line: self.geometry.iter().map(|&p| proj.to_xy(p)).collect() })
    }
}

impl ClosureShape {
    /// Whether the piece of road `from`-`to` (`[lon, lat]`) meets the closure, and where
    /// (fraction along it): a point within [`CLOSURE_M`], or a line running along it.
    pub(crate) fn meets(&self, from: [f64; 2], to: [f64; 2]) -> Option<f64> {
        let (a, b) = (self.proj.to_xy(from), self.proj.to_xy(to));
        if let [p] = self.line.as_slice() {
            let (t, d) = project_on_segment(*p, a, b);
            (d <= CLOSURE_M).then_some(t)
        } else {
            runs_along(a, b, &self.line, CLOSURE_M).then_some(0.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feature(id: &str, extra: &str) -> String {
        format!(
            r#"{{"type": "Feature", "geometry": {{"type": "Point", "coordinates": [24.93, 60.16]}},
                "properties": {{"id": "{id}", "reason": "works", "valid_from": "2026-12-01T00:00:00Z",
                "valid_until": "2026-12-02T00:00:00Z"{extra}}}}}"#
        )
    }

    fn parse(features: &[String]) -> Result<Vec<Closure>, RoutesError> {
        let text = format!(r#"{{"type": "FeatureCollection", "features": [{}]}}"#, features.join(","));
        closures_from_str(Path::new("test.geojson"), &text)
    }

    #[test]
    fn limits_make_a_lowered_limit_and_bad_ones_are_reported() {
        let parsed =
            parse(&[feature("c", ""), feature("l", r#", "max_height_m": 3.9, "max_weight_kg": 30000"#)]).unwrap();
        assert_eq!(parsed[0].limits, None);
        let limits = parsed[1].limits.unwrap();
        assert_eq!((limits.max_height_m, limits.max_weight_kg, limits.max_width_m), (Some(3.9), Some(30000.0), None));
        let Err(RoutesError::GeoJson { problems, .. }) =
            parse(&[feature("b", r#", "max_width_m": "narrow", "max_length_m": -2"#)])
        else {
            panic!("bad limits were accepted");
        };
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("`max_width_m` must be a positive number"), "{problems:?}");
    }
}
