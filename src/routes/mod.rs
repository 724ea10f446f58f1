//! Road network, restrictions and map matching for route items R1–R5.
//!
//! Data flows one way: an OpenStreetMap extract (plus optional GeoJSON restrictions) is
//! imported once into a compact, versioned file ([`import_osm`], [`import_geojson`]);
//! [`RouteNetwork::load`] validates it and builds the spatial indexes and the routing graph;
//! [`RouteNetwork::match_route`] matches a declared route (drawn on another map) onto the
//! network with an HMM / Viterbi matcher and reports the ways travelled and every
//! restriction the vehicle actually meets. Comparing limits with the vehicle is the
//! caller's job.
//!
//! Units: metres, kilograms, kilometres along the route; coordinates `[lon, lat]` WGS84.

pub mod access;
mod alternatives;
mod closures;
mod findings;
mod geojson;
mod import;
mod legal;
mod matcher;
mod network;
mod project;
mod shortest;
mod turns;
pub mod values;

pub use alternatives::UNCERTAINTY_M;
pub use closures::{
    Closure, ClosureHit, LoweredLimits, closure_met, closures_from_str, closures_on_route, load_closures,
};
pub use findings::{Gap, NetworkFindings, RouteData, RouteFindings, analyse_geometry, distance_m, path_length_m};
pub use geojson::import_geojson;
pub use import::{DRIVABLE_HIGHWAYS, ImportReport, LIMIT_KEYS, UnparsedValue, import_osm};
pub use legal::{Barred, LegalPath, Side};
pub use matcher::MatchedPath;
pub use network::{KeyCount, NetworkInfo, RouteNetwork, WayView};
pub use shortest::{MAX_SETTLED, SNAP_M, Search, ShortestPath};

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Errors of the routes layer. Messages name the file and the problem, never Rust types.
#[derive(Debug, thiserror::Error)]
pub enum RoutesError {
    /// A file could not be read or written.
    #[error("cannot access `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The OSM PBF extract could not be decoded.
    #[error("cannot read OSM extract `{path}`: {message}")]
    Pbf {
        /// The extract.
        path: PathBuf,
        /// What the decoder said.
        message: String,
    },
    /// A GeoJSON file is malformed; every problem found is listed.
    #[error("invalid GeoJSON `{path}`: {}", .problems.join("; "))]
    GeoJson {
        /// The file.
        path: PathBuf,
        /// One line per problem.
        problems: Vec<String>,
    },
    /// The stored network is missing, from another format version, or inconsistent;
    /// every problem found is listed.
    #[error("invalid route network `{path}`: {}", .problems.join("; "))]
    InvalidNetwork {
        /// The network file.
        path: PathBuf,
        /// One line per problem.
        problems: Vec<String>,
    },
    /// The extract holds no drivable road.
    #[error("`{path}` contains no drivable road")]
    EmptyNetwork {
        /// The extract.
        path: PathBuf,
    },
}

/// What a restriction limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestrictionKind {
    /// Height limit, metres (`maxheight`, `maxheight:physical`).
    MaxHeight,
    /// Gross mass limit, kilograms (`maxweight`, `maxweight:hgv`).
    MaxWeight,
    /// Axle load limit, kilograms (`maxaxleload`).
    MaxAxleLoad,
    /// Width limit, metres (`maxwidth`, `maxwidth:physical`).
    MaxWidth,
    /// Length limit, metres (`maxlength`).
    MaxLength,
    /// Access ban or condition for heavy vehicles (`hgv=no`, `access=private`,
    /// `hgv:conditional`, blocking barriers); `raw` says which.
    Access,
    /// A structure overhead (bridge above the path, tunnel, covered passage,
    /// `maxheight=default`) whose clearance is not known.
    ClearanceUnknown,
    /// A bridge on the path with no known weight rating.
    RatingUnknown,
}

/// Where a restriction comes from: a tag or property as written, or a bridge found above
/// the road by its geometry (no tag on the road says so). Written as the key, or
/// `bridge above`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum HitTag {
    /// The OSM key or GeoJSON property, e.g. `maxheight:physical`, `barrier`, `bridge`,
    /// `max_height_m`.
    Key(String),
    /// A bridge (a road, railway, footbridge, ...) crossing above the road at a higher
    /// layer without a junction there; its clearance is unknown unless the road below
    /// carries a numeric `maxheight`.
    BridgeAbove,
}

/// How [`HitTag::BridgeAbove`] is written.
const BRIDGE_ABOVE: &str = "bridge above";

impl HitTag {
    /// The tag as written: the key, or `bridge above`.
    pub fn as_str(&self) -> &str {
        match self {
            HitTag::Key(key) => key,
            HitTag::BridgeAbove => BRIDGE_ABOVE,
        }
    }
}

impl From<String> for HitTag {
    fn from(s: String) -> HitTag {
        if s == BRIDGE_ABOVE { HitTag::BridgeAbove } else { HitTag::Key(s) }
    }
}

impl Serialize for HitTag {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for HitTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A restriction the vehicle meets along the matched route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestrictionHit {
    /// What is limited.
    pub kind: RestrictionKind,
    /// The limit in metres or kilograms; `None` where unknown (unparsed value, `default`,
    /// `below_default`, access bans, unknown clearance or rating).
    pub limit: Option<f64>,
    /// The tag or property it comes from, e.g. `maxheight:physical`, `barrier`,
    /// `bridge`, `max_height_m`, or a bridge found above the road.
    pub tag: HitTag,
    /// The value as written in the source, e.g. `12'6"`.
    pub raw: String,
    /// Where it comes from: `osm:way/123`, `osm:node/456`, `geojson:<id>`.
    pub source: String,
    /// Longitude of the place where the route meets it, WGS84.
    pub lon: f64,
    /// Latitude of the place where the route meets it, WGS84.
    pub lat: f64,
    /// Kilometres along the matched route.
    pub km: f64,
}

/// A restriction on a road the route may have used instead of the matched path: the
/// drawing lies within the matching uncertainty of both, and a path through the
/// restricted road joins the matched path before and after it at about the same length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PossibleHit {
    /// The restriction; `km` is where the other reading leaves the matched path.
    pub hit: RestrictionHit,
    /// OSM way id of the restricted road the route may use.
    pub via_way_id: i64,
    /// OSM way ids of the matched path between where the other reading leaves and
    /// rejoins it.
    pub instead_of: Vec<i64>,
    /// Kilometres along the matched route where the other reading leaves it.
    pub from_km: f64,
    /// Kilometres along the matched route where the other reading rejoins it.
    pub to_km: f64,
}

/// One way travelled, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TravelledWay {
    /// OSM way id.
    pub way_id: i64,
    /// `name` tag, if any.
    pub name: Option<String>,
    /// `highway` class.
    pub highway: String,
    /// Kilometres along the matched route where the way is entered.
    pub from_km: f64,
    /// Kilometres along the matched route where the way is left.
    pub to_km: f64,
}

/// A piece of the matched path on one segment of one way, for geometric post-processing
/// (closures) by the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchedSegment {
    /// OSM way id.
    pub way_id: i64,
    /// Start of the piece, `[lon, lat]`.
    pub from: [f64; 2],
    /// End of the piece, `[lon, lat]`.
    pub to: [f64; 2],
    /// Kilometres along the matched route at `from`.
    pub from_km: f64,
    /// Kilometres along the matched route at `to`.
    pub to_km: f64,
}

/// What kind of matching problem was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchProblemKind {
    /// The route has fewer than two usable points or invalid coordinates.
    InvalidGeometry,
    /// A point lies outside the area covered by the road data.
    OutsideCoverage,
    /// A point lies inside the covered area but far from any drivable road.
    OffNetwork,
    /// Consecutive points cannot be connected along the network (missing link, wrong
    /// direction on a one-way road, or a jump).
    Gap,
    /// The route matched, but poorly.
    LowConfidence,
    /// Matching stopped: the drawing needed more search than one review may spend.
    WorkLimit,
}

/// A place where the route could not be matched with confidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchProblem {
    /// What went wrong.
    pub kind: MatchProblemKind,
    /// Longitude, WGS84.
    pub lon: f64,
    /// Latitude, WGS84.
    pub lat: f64,
    /// Kilometres along the *declared* route (the input line).
    pub km: f64,
    /// Plain-language description for a reviewer.
    pub message: String,
}

/// The result of matching a declared route onto the network.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteMatch {
    /// Length of the matched path, metres.
    pub length_m: f64,
    /// Length of the declared route, metres.
    pub declared_length_m: f64,
    /// Match confidence in `0..=1`: the share of the declared route's length that was
    /// matched (not off-network, outside coverage or across a gap), times the share of
    /// matched sample points lying within 25 m of the matched road, times the ratio of
    /// the shorter (plus 25 m, what a drawing cuts at corners and ends) to the longer of
    /// matched and declared length over the matched parts.
    /// 1 means every sample lies close to one connected path of about the same length.
    pub confidence: f64,
    /// Where matching failed or was doubtful; empty for a clean match.
    pub problems: Vec<MatchProblem>,
    /// Ways travelled, in order (a way entered twice appears twice).
    pub ways: Vec<TravelledWay>,
    /// Every restriction the vehicle meets, ordered by km.
    pub hits: Vec<RestrictionHit>,
    /// Restrictions on roads the route may have used instead (see [`PossibleHit`]),
    /// ordered by km: a reviewer decides which reading is right.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub possible: Vec<PossibleHit>,
    /// The matched path, piece by piece.
    pub segments: Vec<MatchedSegment>,
    /// The same path in the network's own numbers, compact, to have `segments` again
    /// without matching ([`RouteNetwork::segments_of`]); not serialised.
    #[serde(skip)]
    pub path: MatchedPath,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A bridge above is a type inside and reads as before outside: `bridge above` in
    /// JSON, read back as the type; a key stays a key.
    #[test]
    fn a_bridge_above_is_a_type_written_as_before() {
        for (tag, written) in [(HitTag::BridgeAbove, "bridge above"), (HitTag::Key("maxheight".into()), "maxheight")] {
            let hit = RestrictionHit {
                kind: RestrictionKind::ClearanceUnknown,
                limit: None,
                tag: tag.clone(),
                raw: "railway=rail bridge=yes layer=1".into(),
                source: "osm:way/1".into(),
                lon: 24.9,
                lat: 60.2,
                km: 0.5,
            };
            let json = serde_json::to_value(&hit).unwrap();
            assert_eq!(json["tag"], written);
            assert_eq!(tag.to_string(), written);
            let back: RestrictionHit = serde_json::from_value(json).unwrap();
            assert_eq!(back.tag, tag);
        }
    }
}
