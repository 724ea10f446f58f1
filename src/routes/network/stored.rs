//! The stored network format: one file, `network.bin`, holding the 8-byte magic
//! `OSCARNET`, the format version as a little-endian `u32`, then the [`Stored`] value
//! encoded with `postcard`; writing, reading and validating it.
//!
//! The version string is the SHA-256 of the whole file, so any change of data or format
//! changes `versions.routes`.

use crate::routes::RestrictionKind;
use crate::routes::RoutesError;
use crate::routes::access::Direction;
use crate::routes::values::ParsedValue;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Name of the network file inside a network directory.
pub(crate) const FILE_NAME: &str = "network.bin";
const MAGIC: &[u8; 8] = b"OSCARNET";
/// Bumped whenever [`Stored`] or the meaning of a field changes.
pub(crate) const FORMAT_VERSION: u32 = 2;

/// The whole stored network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Stored {
    /// File name of the source extract.
    pub source: String,
    /// SHA-256 of the source extract.
    pub source_sha256: String,
    /// Every node used by a drivable way.
    pub nodes: Vec<StoredNode>,
    /// Drivable ways.
    pub ways: Vec<StoredWay>,
    /// Restrictions tagged on nodes of drivable ways.
    pub node_restrictions: Vec<NodeRestriction>,
    /// Non-drivable bridges (railways, footbridges, ...) that may pass over a road.
    pub structures: Vec<Structure>,
    /// Restrictions imported from GeoJSON, attached to network segments.
    pub extras: Vec<ExtraRestriction>,
}

/// A node: OSM id and position in 1e-7 degrees (OSM's own precision).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoredNode {
    pub id: i64,
    pub lon_e7: i32,
    pub lat_e7: i32,
}

impl StoredNode {
    pub(crate) fn lonlat(&self) -> [f64; 2] {
        [f64::from(self.lon_e7) * 1e-7, f64::from(self.lat_e7) * 1e-7]
    }
}

/// A drivable way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoredWay {
    pub id: i64,
    pub name: Option<String>,
    pub highway: String,
    /// 1: only along the node order; -1: only against it; 0: both.
    pub oneway: i8,
    /// Effective layer: the `layer` tag, else 1 on bridges, -1 in tunnels, else 0.
    pub layer: i8,
    /// `bridge=*` as written (`bridge=yes`), if a bridge.
    pub bridge: Option<String>,
    /// `tunnel=*` or `covered=yes` as written, if covered.
    pub tunnel: Option<String>,
    /// Indices into [`Stored::nodes`].
    pub nodes: Vec<u32>,
    pub restrictions: Vec<TagRestriction>,
}

/// One restriction tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TagRestriction {
    pub kind: RestrictionKind,
    pub key: String,
    pub raw: String,
    /// Parsed value for limits; `None` for access values and barriers.
    pub value: Option<ParsedValue>,
    /// The direction of travel along the way it applies to; `None`: both (and on nodes).
    pub direction: Option<Direction>,
}

/// A restriction on a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct NodeRestriction {
    pub node: u32,
    pub restriction: TagRestriction,
}

/// A non-drivable bridge, kept only to find bridges above roads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Structure {
    pub id: i64,
    /// Identifying tags as written, e.g. `railway=rail bridge=yes`.
    pub tags: String,
    pub layer: i8,
    /// Positions in 1e-7 degrees, `[lon, lat]`.
    pub coords: Vec<[i32; 2]>,
}

/// A restriction from GeoJSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ExtraRestriction {
    pub id: String,
    pub kind: RestrictionKind,
    /// The property name, e.g. `max_height_m`.
    pub key: String,
    pub raw: String,
    pub limit: Option<f64>,
    /// `[lon, lat]` points of the feature (one for a point).
    pub geometry: Vec<[f64; 2]>,
    /// Network segments it applies to.
    pub attached: Vec<Attachment>,
}

/// Part of one network segment, as fractions from its first node.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Attachment {
    pub way: u32,
    pub seg: u32,
    pub from: f64,
    pub to: f64,
}

/// Encodes a network into the file format.
pub(crate) fn encode(stored: &Stored) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(12);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    let body = postcard::to_stdvec(stored).map_err(|e| e.to_string())?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes the file format (header checks only; see [`validate`]).
pub(crate) fn decode(bytes: &[u8]) -> Result<Stored, String> {
    let Some((magic, rest)) = bytes.split_first_chunk::<8>() else {
        return Err("file is too short to be a route network".into());
    };
    if magic != MAGIC {
        return Err("not a route network file (bad magic)".into());
    }
    let Some((version, body)) = rest.split_first_chunk::<4>() else {
        return Err("file is too short to be a route network".into());
    };
    let version = u32::from_le_bytes(*version);
    if version != FORMAT_VERSION {
        return Err(format!(
            "format version {version} is not supported (expected {FORMAT_VERSION}); re-import the extract"
        ));
    }
    postcard::from_bytes(body).map_err(|e| format!("corrupt network data: {e}"))
}

/// Writes `network.bin` into `dir`, creating the directory.
pub(crate) fn write(dir: &Path, stored: &Stored) -> Result<(), RoutesError> {
    let io = |source| RoutesError::Io { path: dir.to_path_buf(), source };
    std::fs::create_dir_all(dir).map_err(io)?;
    let bytes =
        encode(stored).map_err(|m| RoutesError::InvalidNetwork { path: dir.join(FILE_NAME), problems: vec![m] })?;
    let path = dir.join(FILE_NAME);
    std::fs::write(&path, bytes).map_err(|source| RoutesError::Io { path, source })
}

/// Reads and decodes `network.bin` from `dir`, returning it with its bytes' SHA-256.
pub(crate) fn read(dir: &Path) -> Result<(Stored, String), RoutesError> {
    let path = dir.join(FILE_NAME);
    let bytes = std::fs::read(&path).map_err(|source| RoutesError::Io { path: path.clone(), source })?;
    let stored = decode(&bytes).map_err(|m| RoutesError::InvalidNetwork { path: path.clone(), problems: vec![m] })?;
    Ok((stored, crate::digest::sha256_hex(&bytes)))
}

fn valid_e7(lon: i32, lat: i32) -> bool {
    (-1_800_000_000..=1_800_000_000).contains(&lon) && (-900_000_000..=900_000_000).contains(&lat)
}

/// Checks every invariant the matcher relies on; returns every problem found.
pub(crate) fn validate(s: &Stored) -> Vec<String> {
    let mut problems = Vec::new();
    let n = s.nodes.len();
    if s.ways.is_empty() {
        problems.push("no drivable ways".to_string());
    }
    for node in &s.nodes {
        if !valid_e7(node.lon_e7, node.lat_e7) {
            problems.push(format!("node {} has coordinates out of range", node.id));
        }
    }
    let check_restriction = |r: &TagRestriction, owner: &str, problems: &mut Vec<String>| {
        if let Some(ParsedValue::Limit(v)) = r.value
            && !(v.is_finite() && v > 0.0)
        {
            problems.push(format!("{owner}: {} has invalid limit {v}", r.key));
        }
    };
    for way in &s.ways {
        let owner = format!("way {}", way.id);
        if way.nodes.len() < 2 {
            problems.push(format!("{owner} has fewer than 2 nodes"));
        }
        if way.nodes.iter().any(|&i| i as usize >= n) {
            problems.push(format!("{owner} refers to a missing node"));
        }
        if !(-1..=1).contains(&way.oneway) {
            problems.push(format!("{owner} has invalid oneway {}", way.oneway));
        }
        for r in &way.restrictions {
            check_restriction(r, &owner, &mut problems);
        }
    }
    for nr in &s.node_restrictions {
        if nr.node as usize >= n {
            problems.push(format!("node restriction {} refers to a missing node", nr.restriction.key));
        } else {
            check_restriction(&nr.restriction, &format!("node index {}", nr.node), &mut problems);
        }
    }
    for st in &s.structures {
        if st.coords.len() < 2 || st.coords.iter().any(|c| !valid_e7(c[0], c[1])) {
            problems.push(format!("structure way {} has invalid geometry", st.id));
        }
    }
    for e in &s.extras {
        if e.limit.is_some_and(|v| !(v.is_finite() && v > 0.0)) {
            problems.push(format!("geojson restriction {} has an invalid limit", e.id));
        }
        for a in &e.attached {
            let seg_ok = s.ways.get(a.way as usize).is_some_and(|w| (a.seg as usize) + 1 < w.nodes.len());
            let frac_ok = (0.0..=1.0).contains(&a.from) && (0.0..=1.0).contains(&a.to);
            if !seg_ok || !frac_ok {
                problems.push(format!("geojson restriction {} is attached to a missing segment", e.id));
            }
        }
    }
    problems
}
