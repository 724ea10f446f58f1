//! Point and line restrictions from GeoJSON (a structure inventory, for instance).
//!
//! Each feature needs a string or number `id` and at least one of the properties
//! `max_height_m`, `max_width_m`, `max_length_m`, `max_weight_kg`, `max_axle_load_kg`
//! (positive numbers) or `access` (a word such as `no`). The geometry is a `Point` or a
//! `LineString` in `[lon, lat]`. Points are attached to the nearest road segment within
//! [`ATTACH_M`]; lines to every road segment running along them. Restrictions are then
//! met only by routes that travel those segments, never by a road crossing nearby.

use crate::routes::import::ImportReport;
use crate::routes::network::{self, Attachment, ExtraRestriction, RouteNetwork};
use crate::routes::project::{project_on_segment, runs_along};
use crate::routes::{RestrictionKind, RoutesError};
use serde_json::{Map, Value};
use std::path::Path;

/// Largest distance between a GeoJSON restriction and the road it is attached to, metres.
pub const ATTACH_M: f64 = 15.0;

const LIMIT_PROPERTIES: [(&str, RestrictionKind); 5] = [
    ("max_height_m", RestrictionKind::MaxHeight),
    ("max_width_m", RestrictionKind::MaxWidth),
    ("max_length_m", RestrictionKind::MaxLength),
    ("max_weight_kg", RestrictionKind::MaxWeight),
    ("max_axle_load_kg", RestrictionKind::MaxAxleLoad),
];

/// One parsed GeoJSON feature.
pub(crate) struct Feature {
    pub id: String,
    pub properties: Map<String, Value>,
    /// `[lon, lat]` points; one for a `Point`.
    pub geometry: Vec<[f64; 2]>,
}

fn position(v: &Value) -> Option<[f64; 2]> {
    let a = v.as_array()?;
    let (lon, lat) = (a.first()?.as_f64()?, a.get(1)?.as_f64()?);
    crate::units::is_lon_lat(lon, lat).then_some([lon, lat])
}

/// Reads a FeatureCollection of Point / LineString features with an `id` property;
/// every problem is reported at once.
pub(crate) fn read_features(path: &Path) -> Result<Vec<Feature>, RoutesError> {
    let text = std::fs::read_to_string(path).map_err(|source| RoutesError::Io { path: path.to_path_buf(), source })?;
    parse_features(path, &text)
}

/// Parses GeoJSON text; `path` only labels errors.
pub(crate) fn parse_features(path: &Path, text: &str) -> Result<Vec<Feature>, RoutesError> {
    let fail = |problems| RoutesError::GeoJson { path: path.to_path_buf(), problems };
    let root: Value = serde_json::from_str(text).map_err(|e| fail(vec![e.to_string()]))?;
    let Some(list) = root.get("features").and_then(Value::as_array) else {
        return Err(fail(vec!["expected a FeatureCollection with a `features` array".into()]));
    };
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for (i, f) in list.iter().enumerate() {
        let at = format!("/features/{i}");
        let properties = f.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
        let id = match properties.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                problems.push(format!("{at}/properties/id: missing (a string or number)"));
                continue;
            }
        };
        let geom = f.get("geometry");
        let kind = geom.and_then(|g| g.get("type")).and_then(Value::as_str);
        let coords = geom.and_then(|g| g.get("coordinates"));
        let geometry = match (kind, coords) {
            (Some("Point"), Some(c)) => position(c).map(|p| vec![p]),
            (Some("LineString"), Some(Value::Array(cs))) if cs.len() >= 2 => {
                cs.iter().map(position).collect::<Option<Vec<_>>>()
            }
            _ => None,
        };
        let Some(geometry) = geometry else {
            problems.push(format!(
                "{at}/geometry: feature `{id}` needs a Point or a LineString of at least two [lon, lat] positions"
            ));
            continue;
        };
        if out.iter().any(|o: &Feature| o.id == id) {
            problems.push(format!("{at}/properties/id: `{id}` is used twice"));
            continue;
        }
        out.push(Feature { id, properties, geometry });
    }
    if problems.is_empty() { Ok(out) } else { Err(fail(problems)) }
}

/// The restrictions one feature declares.
fn restrictions_of(f: &Feature, problems: &mut Vec<String>) -> Vec<(RestrictionKind, String, String, Option<f64>)> {
    let mut out = Vec::new();
    for (key, kind) in LIMIT_PROPERTIES {
        let Some(v) = f.properties.get(key) else {
            continue;
        };
        match v.as_f64() {
            Some(x) if x.is_finite() && x > 0.0 => out.push((kind, key.to_string(), v.to_string(), Some(x))),
            _ => problems.push(format!("feature `{}`: `{key}` must be a positive number, got `{v}`", f.id)),
        }
    }
    if let Some(v) = f.properties.get("access") {
        match v.as_str() {
            Some(s) if !crate::routes::access::classify(s).grants() => {
                out.push((RestrictionKind::Access, "access".to_string(), s.to_string(), None))
            }
            Some(_) => {}
            None => problems.push(format!("feature `{}`: `access` must be a string", f.id)),
        }
    }
    if out.is_empty() && !f.properties.contains_key("access") {
        problems.push(format!(
            "feature `{}`: no restriction property (max_height_m, max_width_m, max_length_m, max_weight_kg, max_axle_load_kg, access)",
            f.id
        ));
    }
    out
}

/// Network segments a feature applies to.
fn attach(net: &RouteNetwork, geometry: &[[f64; 2]]) -> Vec<Attachment> {
    let line: Vec<[f64; 2]> = geometry.iter().map(|&p| net.to_xy(p)).collect();
    if let [p] = line.as_slice() {
        return net
            .nearest_segment(*p)
            .map(|nearest| {
                let (way, seg) = nearest.seg;
                let (f, d) = project_on_segment(*p, nearest.a, nearest.b);
                (d <= ATTACH_M).then_some(Attachment { way, seg, from: f, to: f })
            })
            .into_iter()
            .flatten()
            .collect();
    }
    let mut out = Vec::new();
    let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
    for p in &line {
        lo = [lo[0].min(p[0]) - ATTACH_M, lo[1].min(p[1]) - ATTACH_M];
        hi = [hi[0].max(p[0]) + ATTACH_M, hi[1].max(p[1]) + ATTACH_M];
    }
    for ((way, seg), a, b) in net.segments_in(lo, hi) {
        if runs_along(a, b, &line, ATTACH_M) {
            out.push(Attachment { way, seg, from: 0.0, to: 1.0 });
        }
    }
    out.sort_by_key(|a| (a.way, a.seg));
    out
}

/// Adds the point / line restrictions of a GeoJSON file to the network in `out`,
/// replacing restrictions with the same ids imported before. Every malformed feature
/// is reported at once and nothing is written then.
pub fn import_geojson(geojson: &Path, out: &Path) -> Result<ImportReport, RoutesError> {
    let features = read_features(geojson)?;
    let (mut stored, sha) = network::read(out)?;
    let problems = network::validate(&stored);
    if !problems.is_empty() {
        return Err(RoutesError::InvalidNetwork { path: out.join(network::FILE_NAME), problems });
    }
    let net = RouteNetwork::build(stored.clone(), sha);
    let mut problems = Vec::new();
    let mut added = Vec::new();
    let mut unattached = Vec::new();
    for f in &features {
        let rs = restrictions_of(f, &mut problems);
        let attached = attach(&net, &f.geometry);
        if attached.is_empty() && !rs.is_empty() {
            unattached.push(format!("{} (no road within {ATTACH_M} m running along it)", f.id));
        }
        for (kind, key, raw, limit) in rs {
            added.push(ExtraRestriction {
                id: f.id.clone(),
                kind,
                key,
                raw,
                limit,
                geometry: f.geometry.clone(),
                attached: attached.clone(),
            });
        }
    }
    if !problems.is_empty() {
        return Err(RoutesError::GeoJson { path: geojson.to_path_buf(), problems });
    }
    stored.extras.retain(|e| !features.iter().any(|f| f.id == e.id));
    let geojson_added = added.len();
    stored.extras.extend(added);
    network::write(out, &stored)?;
    let (_, sha) = network::read(out)?;
    Ok(ImportReport {
        source: geojson.to_path_buf(),
        out: out.to_path_buf(),
        version: format!("sha256:{sha}"),
        nodes: stored.nodes.len(),
        ways: network::distinct_ways(&stored),
        structures: stored.structures.len(),
        missing_nodes: 0,
        geojson_added,
        geojson_unattached: unattached,
        restrictions: network::key_counts(&stored),
        unparsed: Vec::new(),
    })
}
