//! OpenStreetMap PBF import: the drivable network, its restrictions and overhead bridges.
//!
//! Two passes over the extract: ways first (to learn which nodes matter), then nodes
//! (positions and node tags). Memory is proportional to the road network, not the file.

use crate::routes::RestrictionKind;
use crate::routes::RoutesError;
use crate::routes::access::{self, BUS_ONLY_HIGHWAYS, Direction};
use crate::routes::network::{
    self, KeyCount, NodeRestriction, Stored, StoredNode, StoredWay, Structure, TagRestriction,
};
use crate::routes::values::{ParsedValue, parse_layer, parse_length_m, parse_mass_kg};
use osmpbf::{Element, ElementReader};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// `highway=*` values imported as drivable roads (cars and trucks may use them unless
/// an access tag says otherwise, which is then reported).
pub const DRIVABLE_HIGHWAYS: [&str; 15] = [
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "road",
];

/// How a limit key's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    Length,
    Mass,
}

/// Limit keys read on network ways and their nodes, each also as `KEY:forward` and
/// `KEY:backward` on ways. Access keys follow OSM's hierarchy ([`access`]).
pub const LIMIT_KEYS: [&str; 10] = [
    "maxheight",
    "maxheight:physical",
    "maxweight",
    "maxweight:hgv",
    "maxweightrating",
    "maxweightrating:hgv",
    "maxaxleload",
    "maxwidth",
    "maxwidth:physical",
    "maxlength",
];

fn limit_kind(key: &str) -> (RestrictionKind, ValueKind) {
    match key.split(':').next() {
        Some("maxheight") => (RestrictionKind::MaxHeight, ValueKind::Length),
        Some("maxweight" | "maxweightrating") => (RestrictionKind::MaxWeight, ValueKind::Mass),
        Some("maxaxleload") => (RestrictionKind::MaxAxleLoad, ValueKind::Mass),
        Some("maxwidth") => (RestrictionKind::MaxWidth, ValueKind::Length),
        _ => (RestrictionKind::MaxLength, ValueKind::Length),
    }
}

/// `barrier=*` values that do not stop a vehicle on the carriageway.
const PASSABLE_BARRIERS: [&str; 6] = ["no", "toll_booth", "border_control", "cattle_grid", "entrance", "kerb"];

/// A value that could not be parsed: kept verbatim in the network and reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnparsedValue {
    /// `osm:way/<id>` or `osm:node/<id>`.
    pub source: String,
    /// The tag key.
    pub key: String,
    /// The value as written.
    pub raw: String,
}

/// What an import produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// The input file.
    pub source: PathBuf,
    /// The network directory written.
    pub out: PathBuf,
    /// `sha256:<hex>` of the network written.
    pub version: String,
    /// Nodes stored.
    pub nodes: usize,
    /// Drivable OSM ways stored (a way cut by the extract border counts once).
    pub ways: usize,
    /// Non-drivable bridges stored as possible overhead structures.
    pub structures: usize,
    /// Way node references missing from the extract (ways are split there).
    pub missing_nodes: usize,
    /// Restrictions imported from GeoJSON by this run.
    pub geojson_added: usize,
    /// GeoJSON features that could not be attached to the network (id and reason).
    pub geojson_unattached: Vec<String>,
    /// Restriction keys and how their values parsed.
    pub restrictions: BTreeMap<String, KeyCount>,
    /// Every value that could not be parsed (including `layer`).
    pub unparsed: Vec<UnparsedValue>,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "imported {} into {} ({})", self.source.display(), self.out.display(), self.version)?;
        writeln!(f, "  nodes {}, drivable ways {}, other bridges {}", self.nodes, self.ways, self.structures)?;
        if self.missing_nodes > 0 {
            writeln!(f, "  {} way node references missing from the extract", self.missing_nodes)?;
        }
        if self.geojson_added > 0 || !self.geojson_unattached.is_empty() {
            writeln!(f, "  geojson restrictions added {}", self.geojson_added)?;
            for u in &self.geojson_unattached {
                writeln!(f, "    not attached: {u}")?;
            }
        }
        crate::routes::network::write_key_counts(f, &self.restrictions)?;
        writeln!(f, "  unparsed values: {}", self.unparsed.len())?;
        for u in &self.unparsed {
            writeln!(f, "    {} {}={:?}", u.source, u.key, u.raw)?;
        }
        Ok(())
    }
}

/// The value of `key` among an element's tags.
pub(crate) fn tag<'a>(tags: &[(&'a str, &'a str)], key: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// Parses the restriction tags of one element: limits (directional ones where `ways` is
/// true) and heavy-vehicle access, per direction on ways, for either direction on nodes.
fn restrictions(
    tags: &[(&str, &str)],
    source: &str,
    way: bool,
    unparsed: &mut Vec<UnparsedValue>,
) -> Vec<TagRestriction> {
    let mut out = Vec::new();
    let directions: &[Option<Direction>] =
        if way { &[None, Some(Direction::Forward), Some(Direction::Backward)] } else { &[None] };
    for base in LIMIT_KEYS {
        let (kind, vk) = limit_kind(base);
        for &direction in directions {
            let key = match direction {
                None => base.to_string(),
                Some(d) => format!("{base}:{d}"),
            };
            let Some(raw) = tag(tags, &key) else { continue };
            let value = match vk {
                ValueKind::Length => parse_length_m(raw),
                ValueKind::Mass => parse_mass_kg(raw),
            };
            if value == ParsedValue::Unparsed {
                unparsed.push(UnparsedValue { source: source.to_string(), key: key.clone(), raw: raw.to_string() });
            }
            out.push(TagRestriction { kind, key, raw: raw.to_string(), value: Some(value), direction });
        }
    }
    let access_rule = |d: Option<Direction>| {
        access::hgv_access(tags, d).map(|a| TagRestriction {
            kind: RestrictionKind::Access,
            key: a.key,
            raw: a.raw,
            value: None,
            direction: d,
        })
    };
    if way {
        let (forward, backward) = (access_rule(Some(Direction::Forward)), access_rule(Some(Direction::Backward)));
        match (forward, backward) {
            (Some(f), Some(b)) if f.key == b.key && f.raw == b.raw => out.push(TagRestriction { direction: None, ..f }),
            (f, b) => out.extend(f.into_iter().chain(b)),
        }
    } else {
        out.extend(access_rule(None));
    }
    out
}

/// The barrier on a node, if it can stop the vehicle.
fn barrier(tags: &[(&str, &str)], height_known: bool) -> Option<TagRestriction> {
    let raw = tag(tags, "barrier")?;
    if PASSABLE_BARRIERS.contains(&raw) {
        return None;
    }
    if access::opens_barrier(tags) {
        return None;
    }
    let kind = if raw == "height_restrictor" {
        if height_known {
            return None;
        }
        RestrictionKind::ClearanceUnknown
    } else {
        RestrictionKind::Access
    };
    Some(TagRestriction { kind, key: "barrier".to_string(), raw: raw.to_string(), value: None, direction: None })
}

/// A drivable way as read in pass 1, before node positions are known.
struct RawWay {
    way: StoredWay,
    refs: Vec<i64>,
}

/// Is this a road of the network: drivable, or for buses only (kept so that a route
/// drawn along it is matched onto it and fails)?
pub(crate) fn is_road(tags: &[(&str, &str)]) -> bool {
    tag(tags, "highway").is_some_and(|h| DRIVABLE_HIGHWAYS.contains(&h) || BUS_ONLY_HIGHWAYS.contains(&h))
        && tag(tags, "area") != Some("yes")
}

fn oneway(tags: &[(&str, &str)], highway: &str) -> i8 {
    match tag(tags, "oneway") {
        Some("yes" | "true" | "1") => 1,
        Some("-1" | "reverse") => -1,
        // `reversible` / `alternating`: either direction at some time.
        Some(_) => 0,
        None => {
            let roundabout = matches!(tag(tags, "junction"), Some("roundabout" | "circular"));
            i8::from(roundabout || highway == "motorway" || highway == "motorway_link")
        }
    }
}

fn layer(tags: &[(&str, &str)], default: i8, source: &str, unparsed: &mut Vec<UnparsedValue>) -> i8 {
    match tag(tags, "layer") {
        None => default,
        Some(raw) => parse_layer(raw).unwrap_or_else(|| {
            unparsed.push(UnparsedValue { source: source.to_string(), key: "layer".to_string(), raw: raw.to_string() });
            default
        }),
    }
}

fn sha256_file(path: &Path) -> Result<String, RoutesError> {
    let io = |source| RoutesError::Io { path: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(crate::digest::hex(hasher.finalize()))
}

/// Imports an OSM PBF extract into the network directory `out` (`out/network.bin`),
/// replacing any network there (GeoJSON restrictions must be imported again).
pub fn import_osm(pbf: &Path, out: &Path) -> Result<ImportReport, RoutesError> {
    let pbf_err = |e: osmpbf::Error| RoutesError::Pbf { path: pbf.to_path_buf(), message: e.to_string() };
    let source_sha256 = sha256_file(pbf)?;
    let mut unparsed = Vec::new();

    // Pass 1: ways.
    let mut raw_ways: Vec<RawWay> = Vec::new();
    let mut raw_structures: Vec<(Structure, Vec<i64>)> = Vec::new();
    ElementReader::from_path(pbf)
        .map_err(pbf_err)?
        .for_each(|el| {
            let Element::Way(w) = el else { return };
            let tags: Vec<(&str, &str)> = w.tags().collect();
            let source = format!("osm:way/{}", w.id());
            let bridge = tag(&tags, "bridge").filter(|v| *v != "no");
            if is_road(&tags) {
                let highway = tag(&tags, "highway").unwrap_or_default().to_string();
                let tunnel = match (tag(&tags, "tunnel"), tag(&tags, "covered")) {
                    (Some(t), _) if t != "no" => Some(format!("tunnel={t}")),
                    (_, Some("yes")) => Some("covered=yes".to_string()),
                    _ => None,
                };
                let default_layer = if bridge.is_some() {
                    1
                } else if tunnel.is_some() {
                    -1
                } else {
                    0
                };
                raw_ways.push(RawWay {
                    way: StoredWay {
                        id: w.id(),
                        name: tag(&tags, "name").map(str::to_string),
                        oneway: oneway(&tags, &highway),
                        highway,
                        layer: layer(&tags, default_layer, &source, &mut unparsed),
                        bridge: bridge.map(|b| format!("bridge={b}")),
                        tunnel,
                        nodes: Vec::new(),
                        restrictions: restrictions(&tags, &source, true, &mut unparsed),
                    },
                    refs: w.refs().collect(),
                });
            } else if let Some(b) = bridge {
                let what = ["railway", "highway", "waterway", "man_made", "aerialway"]
                    .iter()
                    .find_map(|k| tag(&tags, k).map(|v| format!("{k}={v} ")))
                    .unwrap_or_default();
                raw_structures.push((
                    Structure {
                        id: w.id(),
                        tags: format!("{what}bridge={b}"),
                        layer: layer(&tags, 1, &source, &mut unparsed),
                        coords: Vec::new(),
                    },
                    w.refs().collect(),
                ));
            }
        })
        .map_err(pbf_err)?;
    if raw_ways.is_empty() {
        return Err(RoutesError::EmptyNetwork { path: pbf.to_path_buf() });
    }

    // Pass 2: node positions and node tags. `true`: the node is on a drivable way.
    let mut wanted: HashMap<i64, bool> = HashMap::new();
    for rw in &raw_ways {
        for &r in &rw.refs {
            wanted.insert(r, true);
        }
    }
    for (_, refs) in &raw_structures {
        for &r in refs {
            wanted.entry(r).or_insert(false);
        }
    }
    let mut positions: HashMap<i64, [i32; 2]> = HashMap::with_capacity(wanted.len());
    let mut node_tags: HashMap<i64, Vec<TagRestriction>> = HashMap::new();
    let mut node_unparsed: Vec<(i64, UnparsedValue)> = Vec::new();
    let mut visit = |id: i64, lon_e7: i32, lat_e7: i32, tags: &[(&str, &str)]| {
        let Some(&on_road) = wanted.get(&id) else {
            return;
        };
        positions.insert(id, [lon_e7, lat_e7]);
        if !on_road || tags.is_empty() {
            return;
        }
        let source = format!("osm:node/{id}");
        let mut local = Vec::new();
        let mut rs = restrictions(tags, &source, false, &mut local);
        let height_known =
            rs.iter().any(|r| r.kind == RestrictionKind::MaxHeight && matches!(r.value, Some(ParsedValue::Limit(_))));
        rs.extend(barrier(tags, height_known));
        node_unparsed.extend(local.into_iter().map(|u| (id, u)));
        if !rs.is_empty() {
            node_tags.insert(id, rs);
        }
    };
    ElementReader::from_path(pbf)
        .map_err(pbf_err)?
        .for_each(|el| match el {
            Element::Node(n) => {
                let tags: Vec<(&str, &str)> = n.tags().collect();
                visit(n.id(), n.decimicro_lon(), n.decimicro_lat(), &tags);
            }
            Element::DenseNode(n) => {
                let tags: Vec<(&str, &str)> = n.tags().collect();
                visit(n.id(), n.decimicro_lon(), n.decimicro_lat(), &tags);
            }
            _ => {}
        })
        .map_err(pbf_err)?;

    // Assemble: index nodes in order of first use; split ways where a node is missing.
    let mut index: HashMap<i64, u32> = HashMap::new();
    let mut nodes: Vec<StoredNode> = Vec::new();
    let mut ways: Vec<StoredWay> = Vec::new();
    let mut missing_nodes = 0;
    for rw in raw_ways {
        let mut piece: Vec<u32> = Vec::new();
        let flush = |piece: &mut Vec<u32>, ways: &mut Vec<StoredWay>| {
            if piece.len() >= 2 {
                let mut w = rw.way.clone();
                w.nodes = std::mem::take(piece);
                ways.push(w);
            } else {
                piece.clear();
            }
        };
        for r in &rw.refs {
            let Some(&[lon_e7, lat_e7]) = positions.get(r) else {
                missing_nodes += 1;
                flush(&mut piece, &mut ways);
                continue;
            };
            let i = *index.entry(*r).or_insert_with(|| {
                nodes.push(StoredNode { id: *r, lon_e7, lat_e7 });
                (nodes.len() - 1) as u32
            });
            // A repeated node in a row (bad data) would make a zero-length segment.
            if piece.last() != Some(&i) {
                piece.push(i);
            }
        }
        flush(&mut piece, &mut ways);
    }
    let mut node_restrictions: Vec<NodeRestriction> = Vec::new();
    for (id, rs) in node_tags {
        if let Some(&node) = index.get(&id) {
            node_restrictions.extend(rs.into_iter().map(|restriction| NodeRestriction { node, restriction }));
        }
    }
    // Deterministic order so that the same extract always hashes the same.
    node_restrictions.sort_by(|a, b| (a.node, &a.restriction.key).cmp(&(b.node, &b.restriction.key)));
    node_unparsed.sort_by(|a, b| (a.0, &a.1.key).cmp(&(b.0, &b.1.key)));
    unparsed.extend(node_unparsed.into_iter().filter(|(id, _)| index.contains_key(id)).map(|(_, u)| u));
    let structures: Vec<Structure> = raw_structures
        .into_iter()
        .filter_map(|(mut s, refs)| {
            s.coords = refs.iter().filter_map(|r| positions.get(r).copied()).collect();
            (s.coords.len() >= 2).then_some(s)
        })
        .collect();

    let stored = Stored {
        source: pbf.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        source_sha256,
        nodes,
        ways,
        node_restrictions,
        structures,
        extras: Vec::new(),
    };
    network::write(out, &stored)?;
    let (_, sha) = network::read(out)?;
    Ok(ImportReport {
        source: pbf.to_path_buf(),
        out: out.to_path_buf(),
        version: format!("sha256:{sha}"),
        nodes: stored.nodes.len(),
        ways: network::distinct_ways(&stored),
        structures: stored.structures.len(),
        missing_nodes,
        geojson_added: 0,
        geojson_unattached: Vec::new(),
        restrictions: network::key_counts(&stored),
        unparsed,
    })
}
