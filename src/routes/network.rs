//! Stored network format, loading with validation, derived indexes, version and info.
//!
//! On disk a network is one file, `network.bin`: the 8-byte magic `OSCARNET`, the format
//! version as a little-endian `u32`, then the [`Stored`] value encoded with `postcard`.
//! The version string is the SHA-256 of the whole file, so any change of data or format
//! changes `versions.routes`.

use crate::routes::RoutesError;
use crate::routes::access::Direction;
use crate::routes::grid::{GridSeg, SegGrid};
use crate::routes::project::{Projection, dist, segment_intersection};
use crate::routes::values::ParsedValue;
use crate::routes::{RestrictionHit, RestrictionKind};
use rstar::RTree;
use rstar::primitives::{CachedEnvelope, GeomWithData, Line};
use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
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

/// A restriction ready to be reported when the route meets its owner.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HitTemplate {
    pub kind: RestrictionKind,
    pub limit: Option<f64>,
    pub tag: String,
    pub raw: String,
    pub source: String,
    /// Applies only when travelling the way in this direction; `None`: always.
    pub direction: Option<Direction>,
}

impl HitTemplate {
    /// Whether the restriction applies to travel in `dir`.
    pub(crate) fn applies(&self, dir: Direction) -> bool {
        self.direction.is_none_or(|d| d == dir)
    }

    /// The restriction as met at `ll` (`[lon, lat]`), `km` along the route.
    pub(crate) fn at(&self, ll: [f64; 2], km: f64) -> RestrictionHit {
        RestrictionHit {
            kind: self.kind,
            limit: self.limit,
            tag: self.tag.clone(),
            raw: self.raw.clone(),
            source: self.source.clone(),
            lon: ll[0],
            lat: ll[1],
            km,
        }
    }
}

/// A directed edge of the routing graph: one way segment in one direction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Edge {
    pub to: u32,
    pub way: u32,
    pub seg: u32,
    pub len: f64,
}

/// Identifies one segment: way index and segment index within the way.
pub(crate) type SegRef = (u32, u32);

/// The road network, loaded and indexed, ready for matching. Immutable and `Sync`:
/// share one instance between threads.
pub struct RouteNetwork {
    pub(crate) version: String,
    pub(crate) stored: Stored,
    pub(crate) proj: Projection,
    /// Projected node positions, metres.
    pub(crate) xy: Vec<[f64; 2]>,
    /// Per way, cumulative length at each node, metres.
    pub(crate) cum: Vec<Vec<f64>>,
    /// Per way, whether it is `highway=service`.
    pub(crate) service: Vec<bool>,
    /// CSR adjacency: edges of node `i` are `edges[first[i]..first[i + 1]]`.
    pub(crate) first: Vec<u32>,
    pub(crate) edges: Vec<Edge>,
    /// The same graph reversed: edges into node `i` are `redges[rfirst[i]..rfirst[i + 1]]`,
    /// each with `to` naming the node it comes from.
    pub(crate) rfirst: Vec<u32>,
    pub(crate) redges: Vec<Edge>,
    /// Segments of ways that carry a restriction (on the way, a node or a structure
    /// above), for the search of other readings of a route.
    pub(crate) restricted: RTree<GeomWithData<Line<[f64; 2]>, SegRef>>,
    /// Segments, with their envelopes cached (queries test envelopes far more often
    /// than segments).
    pub(crate) tree: RTree<CachedEnvelope<GeomWithData<Line<[f64; 2]>, SegRef>>>,
    /// The same segments in a uniform grid, for the matcher's many small queries.
    pub(crate) grid: SegGrid,
    /// Covered area in projected metres: min x, min y, max x, max y.
    pub(crate) bbox: [f64; 4],
    pub(crate) way_hits: Vec<Vec<HitTemplate>>,
    pub(crate) node_hits: HashMap<u32, Vec<HitTemplate>>,
    /// Hits at a point of a segment: (fraction, template).
    pub(crate) seg_hits: HashMap<SegRef, Vec<(f64, HitTemplate)>>,
    /// Per node, whether `node_hits` has an entry (spares the lookup on the hot path).
    pub(crate) node_flags: Vec<bool>,
    /// Per way, whether any of its segments has an entry in `seg_hits`.
    pub(crate) way_flags: Vec<bool>,
}

/// Compressed adjacency of `(from, edge)` pairs over `nodes` nodes: the edges of node `i`
/// are `edges[first[i]..first[i + 1]]`.
fn csr(mut directed: Vec<(u32, Edge)>, nodes: usize) -> (Vec<u32>, Vec<Edge>) {
    directed.sort_by_key(|(from, _)| *from);
    let mut first = vec![0u32; nodes + 1];
    for (from, _) in &directed {
        first[*from as usize + 1] += 1;
    }
    for i in 0..nodes {
        first[i + 1] += first[i];
    }
    (first, directed.into_iter().map(|(_, e)| e).collect())
}

/// A read-only view of one drivable way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WayView {
    /// OSM way id.
    pub way_id: i64,
    /// `name` tag.
    pub name: Option<String>,
    /// `highway` class.
    pub highway: String,
    /// 1: one-way along the node order, -1: against it, 0: both directions.
    pub oneway: i8,
    /// Effective layer (tag, else 1 for bridges, -1 for tunnels, else 0).
    pub layer: i8,
    /// Whether the way is a bridge.
    pub bridge: bool,
    /// Whether the way is a tunnel or covered.
    pub tunnel: bool,
    /// OSM node ids in order.
    pub node_ids: Vec<i64>,
    /// Node positions `[lon, lat]` in order.
    pub coords: Vec<[f64; 2]>,
    /// Restriction tags kept: key and raw value.
    pub tags: Vec<(String, String)>,
}

/// How many times a restriction key was found and how its values parsed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCount {
    /// Drivable ways carrying the key.
    pub on_ways: usize,
    /// Nodes of drivable ways carrying the key.
    pub on_nodes: usize,
    /// Values parsed into a numeric limit.
    pub limits: usize,
    /// `default`, `below_default` or `none`.
    pub words: usize,
    /// Values that could not be parsed (kept verbatim, reported as unknown limits).
    pub unparsed: usize,
}

/// Counts describing a loaded network, for `oscar routes-info DIR`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkInfo {
    /// `sha256:<hex>` of the stored file.
    pub version: String,
    /// Source extract file name.
    pub source: String,
    /// SHA-256 of the source extract.
    pub source_sha256: String,
    /// Stored format version.
    pub format_version: u32,
    /// Nodes of drivable ways.
    pub nodes: usize,
    /// Drivable OSM ways (a way cut by the extract border counts once).
    pub ways: usize,
    /// Total length of drivable ways, kilometres.
    pub road_km: f64,
    /// One-way ways.
    pub oneway_ways: usize,
    /// Drivable ways that are bridges.
    pub bridges: usize,
    /// Drivable ways that are tunnels or covered.
    pub tunnels: usize,
    /// Non-drivable bridges kept as possible overhead structures.
    pub overhead_structures: usize,
    /// Road segments with a bridge crossing above them.
    pub segments_under_bridges: usize,
    /// Restriction keys (`maxheight`, `hgv`, `barrier`, ...) and how they parsed.
    pub restrictions: BTreeMap<String, KeyCount>,
    /// Restrictions imported from GeoJSON.
    pub geojson_restrictions: usize,
    /// Covered area: west, south, east, north (degrees).
    pub bbox: [f64; 4],
}

impl fmt::Display for NetworkInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "route network {}", self.version)?;
        writeln!(f, "  source           {} (sha256:{})", self.source, self.source_sha256)?;
        writeln!(f, "  format           {}", self.format_version)?;
        writeln!(
            f,
            "  area             west {:.5} south {:.5} east {:.5} north {:.5}",
            self.bbox[0], self.bbox[1], self.bbox[2], self.bbox[3]
        )?;
        writeln!(f, "  nodes            {}", self.nodes)?;
        writeln!(f, "  ways             {} ({:.1} km)", self.ways, self.road_km)?;
        writeln!(f, "  one-way ways     {}", self.oneway_ways)?;
        writeln!(f, "  bridges          {}", self.bridges)?;
        writeln!(f, "  tunnels/covered  {}", self.tunnels)?;
        writeln!(f, "  other bridges    {}", self.overhead_structures)?;
        writeln!(f, "  segments under a bridge {}", self.segments_under_bridges)?;
        writeln!(f, "  geojson restrictions {}", self.geojson_restrictions)?;
        write_key_counts(f, &self.restrictions)
    }
}

fn count_value(c: &mut KeyCount, v: Option<ParsedValue>) {
    match v {
        Some(ParsedValue::Limit(_)) => c.limits += 1,
        Some(ParsedValue::Default | ParsedValue::BelowDefault | ParsedValue::NoLimit) => c.words += 1,
        Some(ParsedValue::Unparsed) => c.unparsed += 1,
        None => {}
    }
}

/// Number of distinct OSM ways (pieces of one way are stored next to each other).
pub(crate) fn distinct_ways(s: &Stored) -> usize {
    s.ways.iter().enumerate().filter(|(i, w)| *i == 0 || s.ways[i - 1].id != w.id).count()
}

/// Restriction tag counts of a stored network.
pub(crate) fn key_counts(s: &Stored) -> BTreeMap<String, KeyCount> {
    let mut out: BTreeMap<String, KeyCount> = BTreeMap::new();
    let mut prev_id = None;
    for w in &s.ways {
        // A way cut by the extract border is stored in consecutive pieces: count it once.
        if prev_id == Some(w.id) {
            continue;
        }
        prev_id = Some(w.id);
        for r in &w.restrictions {
            let c = out.entry(r.key.clone()).or_default();
            c.on_ways += 1;
            count_value(c, r.value);
        }
    }
    for nr in &s.node_restrictions {
        let c = out.entry(nr.restriction.key.clone()).or_default();
        c.on_nodes += 1;
        count_value(c, nr.restriction.value);
    }
    out
}

/// Effective layer of a structure, from the `layer` tag or its kind.
fn is_numeric(r: &TagRestriction) -> bool {
    matches!(r.value, Some(ParsedValue::Limit(_)))
}

/// What a restriction tag means for the vehicle (`None`: nothing to report).
fn template(r: &TagRestriction, source: &str, bridge: bool) -> Option<HitTemplate> {
    let (kind, limit) = match (r.kind, r.value) {
        (_, Some(ParsedValue::NoLimit)) => return None,
        (kind, Some(ParsedValue::Limit(v))) => (kind, Some(v)),
        // No sign on a structure: clearance unknown, whatever the legal height is.
        (RestrictionKind::MaxHeight, Some(ParsedValue::Default | ParsedValue::BelowDefault)) => {
            (RestrictionKind::ClearanceUnknown, None)
        }
        (RestrictionKind::MaxWeight, Some(ParsedValue::Default | ParsedValue::BelowDefault)) if bridge => {
            (RestrictionKind::RatingUnknown, None)
        }
        (kind, _) => (kind, None),
    };
    Some(HitTemplate {
        kind,
        limit,
        tag: r.key.clone(),
        raw: r.raw.clone(),
        source: source.to_string(),
        direction: r.direction,
    })
}

fn way_templates(w: &StoredWay) -> Vec<HitTemplate> {
    let source = format!("osm:way/{}", w.id);
    let mut out: Vec<HitTemplate> =
        w.restrictions.iter().filter_map(|r| template(r, &source, w.bridge.is_some())).collect();
    let height_known = w.restrictions.iter().any(|r| r.kind == RestrictionKind::MaxHeight && is_numeric(r));
    let has_clearance_unknown = out.iter().any(|h| h.kind == RestrictionKind::ClearanceUnknown);
    if let Some(t) = &w.tunnel
        && !height_known
        && !has_clearance_unknown
    {
        out.push(tag_template(RestrictionKind::ClearanceUnknown, t, &source));
    }
    // `maxweight=none` counts as rated: it says there is no limit.
    let rated = w.restrictions.iter().any(|r| {
        r.kind == RestrictionKind::MaxWeight && matches!(r.value, Some(ParsedValue::Limit(_) | ParsedValue::NoLimit))
    });
    let has_rating_unknown = out.iter().any(|h| h.kind == RestrictionKind::RatingUnknown);
    if let Some(b) = &w.bridge
        && !rated
        && !has_rating_unknown
    {
        out.push(tag_template(RestrictionKind::RatingUnknown, b, &source));
    }
    out
}

/// A template from a `key=value` string such as `bridge=yes`.
fn tag_template(kind: RestrictionKind, tag_value: &str, source: &str) -> HitTemplate {
    let (tag, raw) = tag_value.split_once('=').unwrap_or((tag_value, ""));
    HitTemplate {
        kind,
        limit: None,
        tag: tag.to_string(),
        raw: raw.to_string(),
        source: source.to_string(),
        direction: None,
    }
}

/// An overhead structure segment for the bridge-above search.
struct OverSeg {
    source: String,
    tags: String,
    layer: i8,
    /// Way index when the structure is a drivable way (to skip the way itself).
    way: Option<u32>,
    a: [f64; 2],
    b: [f64; 2],
}

impl RouteNetwork {
    /// Loads and validates the network in `dir` (the file `network.bin`), reporting every
    /// problem found, and builds the spatial index and routing graph.
    pub fn load(dir: &Path) -> Result<RouteNetwork, RoutesError> {
        let path = dir.join(FILE_NAME);
        let bytes = std::fs::read(&path).map_err(|source| RoutesError::Io { path: path.clone(), source })?;
        Self::from_bytes(&path, &bytes)
    }

    /// Decodes and validates a network from the bytes of a `network.bin`; `path` only
    /// labels errors. Used for the network embedded in the binary.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<RouteNetwork, RoutesError> {
        let invalid = |problems| RoutesError::InvalidNetwork { path: path.to_path_buf(), problems };
        let stored = decode(bytes).map_err(|m| invalid(vec![m]))?;
        let problems = validate(&stored);
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        Ok(RouteNetwork::build(stored, crate::digest::sha256_tagged(bytes)))
    }

    /// Builds the in-memory indexes of a validated network.
    pub(crate) fn build(stored: Stored, version: String) -> RouteNetwork {
        let lonlat: Vec<[f64; 2]> = stored.nodes.iter().map(StoredNode::lonlat).collect();
        let mut ll = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        for p in &lonlat {
            ll = [ll[0].min(p[0]), ll[1].min(p[1]), ll[2].max(p[0]), ll[3].max(p[1])];
        }
        let centre = if lonlat.is_empty() { [0.0, 0.0] } else { [(ll[0] + ll[2]) / 2.0, (ll[1] + ll[3]) / 2.0] };
        let proj = Projection::new(centre);
        let xy: Vec<[f64; 2]> = lonlat.iter().map(|&p| proj.to_xy(p)).collect();
        let lo = proj.to_xy([ll[0], ll[1]]);
        let hi = proj.to_xy([ll[2], ll[3]]);
        let bbox = [lo[0], lo[1], hi[0], hi[1]];

        let mut cum = Vec::with_capacity(stored.ways.len());
        let mut segs = Vec::new();
        let mut directed: Vec<(u32, Edge)> = Vec::new();
        for (wi, w) in stored.ways.iter().enumerate() {
            let wi = wi as u32;
            let mut c = Vec::with_capacity(w.nodes.len());
            let mut acc = 0.0;
            c.push(0.0);
            for (si, pair) in w.nodes.windows(2).enumerate() {
                let (a, b) = (pair[0], pair[1]);
                let len = dist(xy[a as usize], xy[b as usize]);
                acc += len;
                c.push(acc);
                let seg = si as u32;
                segs.push(CachedEnvelope::new(GeomWithData::new(Line::new(xy[a as usize], xy[b as usize]), (wi, seg))));
                if w.oneway >= 0 {
                    directed.push((a, Edge { to: b, way: wi, seg, len }));
                }
                if w.oneway <= 0 {
                    directed.push((b, Edge { to: a, way: wi, seg, len }));
                }
            }
            cum.push(c);
        }
        let reversed: Vec<(u32, Edge)> = directed.iter().map(|&(from, e)| (e.to, Edge { to: from, ..e })).collect();
        let (first, edges) = csr(directed, xy.len());
        let (rfirst, redges) = csr(reversed, xy.len());
        let grid_segs: Vec<GridSeg> =
            segs.iter().map(|s| GridSeg { a: s.geom().from, b: s.geom().to, id: s.data }).collect();
        let grid = SegGrid::new(&grid_segs, bbox);
        let tree = RTree::bulk_load(segs);

        let way_hits = stored.ways.iter().map(way_templates).collect();
        let mut node_hits: HashMap<u32, Vec<HitTemplate>> = HashMap::default();
        for nr in &stored.node_restrictions {
            let source = format!("osm:node/{}", stored.nodes[nr.node as usize].id);
            if let Some(t) = template(&nr.restriction, &source, false) {
                node_hits.entry(nr.node).or_default().push(t);
            }
        }
        let service = stored.ways.iter().map(|w| w.highway == "service").collect();
        let mut net = RouteNetwork {
            version,
            service,
            stored,
            proj,
            xy,
            cum,
            first,
            edges,
            rfirst,
            redges,
            restricted: RTree::new(),
            tree,
            grid,
            bbox,
            way_hits,
            node_hits,
            seg_hits: HashMap::default(),
            node_flags: Vec::new(),
            way_flags: Vec::new(),
        };
        net.seg_hits = net.bridges_above();
        for e in &net.stored.extras {
            for a in &e.attached {
                let t = HitTemplate {
                    kind: e.kind,
                    limit: e.limit,
                    tag: e.key.clone(),
                    raw: e.raw.clone(),
                    source: format!("geojson:{}", e.id),
                    direction: None,
                };
                // A line restriction applies where the route enters it on the segment.
                net.seg_hits.entry((a.way, a.seg)).or_default().push((a.from.min(a.to), t));
            }
        }
        net.node_flags = vec![false; net.xy.len()];
        for &n in net.node_hits.keys() {
            net.node_flags[n as usize] = true;
        }
        net.way_flags = vec![false; net.stored.ways.len()];
        for &(w, _) in net.seg_hits.keys() {
            net.way_flags[w as usize] = true;
        }
        net.restricted = net.restricted_segments();
        net
    }

    /// Index of the segments of every way that carries a restriction: on the way itself,
    /// on one of its nodes, or on a structure above one of its segments.
    fn restricted_segments(&self) -> RTree<GeomWithData<Line<[f64; 2]>, SegRef>> {
        let mut out = Vec::new();
        for (wi, w) in self.stored.ways.iter().enumerate() {
            let bears = !self.way_hits[wi].is_empty()
                || self.way_flags[wi]
                || w.nodes.iter().any(|&n| self.node_flags[n as usize]);
            if bears {
                for (si, pair) in w.nodes.windows(2).enumerate() {
                    let line = Line::new(self.xy[pair[0] as usize], self.xy[pair[1] as usize]);
                    out.push(GeomWithData::new(line, (wi as u32, si as u32)));
                }
            }
        }
        RTree::bulk_load(out)
    }

    /// Segments with a bridge (drivable or not) crossing above them at a higher layer
    /// without sharing a node there. Roads whose own `maxheight` is a number are
    /// skipped: that number is the clearance under the bridge.
    fn bridges_above(&self) -> HashMap<SegRef, Vec<(f64, HitTemplate)>> {
        let mut over = Vec::new();
        for (wi, w) in self.stored.ways.iter().enumerate() {
            if let Some(b) = &w.bridge {
                for pair in w.nodes.windows(2) {
                    over.push(OverSeg {
                        source: format!("osm:way/{}", w.id),
                        tags: format!("highway={} {b}", w.highway),
                        layer: w.layer,
                        way: Some(wi as u32),
                        a: self.xy[pair[0] as usize],
                        b: self.xy[pair[1] as usize],
                    });
                }
            }
        }
        for st in &self.stored.structures {
            let pts: Vec<[f64; 2]> =
                st.coords.iter().map(|c| self.proj.to_xy([f64::from(c[0]) * 1e-7, f64::from(c[1]) * 1e-7])).collect();
            for pair in pts.windows(2) {
                over.push(OverSeg {
                    source: format!("osm:way/{}", st.id),
                    tags: st.tags.clone(),
                    layer: st.layer,
                    way: None,
                    a: pair[0],
                    b: pair[1],
                });
            }
        }
        let items: Vec<GeomWithData<Line<[f64; 2]>, usize>> =
            over.iter().enumerate().map(|(i, o)| GeomWithData::new(Line::new(o.a, o.b), i)).collect();
        let over_tree = RTree::bulk_load(items);
        let mut out: HashMap<SegRef, Vec<(f64, HitTemplate)>> = HashMap::default();
        for (wi, w) in self.stored.ways.iter().enumerate() {
            let height_known = w.restrictions.iter().any(|r| r.kind == RestrictionKind::MaxHeight && is_numeric(r));
            if height_known {
                continue;
            }
            for (si, pair) in w.nodes.windows(2).enumerate() {
                let (a, b) = (self.xy[pair[0] as usize], self.xy[pair[1] as usize]);
                let env = rstar::AABB::from_corners([a[0].min(b[0]), a[1].min(b[1])], [a[0].max(b[0]), a[1].max(b[1])]);
                for item in over_tree.locate_in_envelope_intersecting(&env) {
                    let o = &over[item.data];
                    if o.way == Some(wi as u32) || o.layer <= w.layer {
                        continue;
                    }
                    // A road above a tunnel is the tunnel's own roof, reported as such.
                    if w.tunnel.is_some() && o.way.is_some() {
                        continue;
                    }
                    let Some((t, u)) = segment_intersection(a, b, o.a, o.b) else {
                        continue;
                    };
                    // Touching at a shared end point is a junction, not an overpass.
                    let ends = |x: f64| !(1e-6..=1.0 - 1e-6).contains(&x);
                    if ends(t) && ends(u) {
                        continue;
                    }
                    let entry = out.entry((wi as u32, si as u32)).or_default();
                    if entry.iter().any(|(_, h)| h.source == o.source) {
                        continue;
                    }
                    entry.push((
                        t,
                        HitTemplate {
                            kind: RestrictionKind::ClearanceUnknown,
                            limit: None,
                            tag: "bridge above".to_string(),
                            raw: format!("{} layer={}", o.tags, o.layer),
                            source: o.source.clone(),
                            direction: None,
                        },
                    ));
                }
            }
        }
        out
    }

    /// `sha256:<hex>` of the stored network file; goes into `versions.routes`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Counts for `oscar routes-info DIR`.
    pub fn info(&self) -> NetworkInfo {
        let s = &self.stored;
        let mut ll = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        for n in &s.nodes {
            let p = n.lonlat();
            ll = [ll[0].min(p[0]), ll[1].min(p[1]), ll[2].max(p[0]), ll[3].max(p[1])];
        }
        NetworkInfo {
            version: self.version.clone(),
            source: s.source.clone(),
            source_sha256: s.source_sha256.clone(),
            format_version: FORMAT_VERSION,
            nodes: s.nodes.len(),
            ways: distinct_ways(s),
            road_km: self.cum.iter().filter_map(|c| c.last()).sum::<f64>() / 1000.0,
            oneway_ways: s.ways.iter().filter(|w| w.oneway != 0).count(),
            bridges: s.ways.iter().filter(|w| w.bridge.is_some()).count(),
            tunnels: s.ways.iter().filter(|w| w.tunnel.is_some()).count(),
            overhead_structures: s.structures.len(),
            segments_under_bridges: self
                .seg_hits
                .values()
                .filter(|v| v.iter().any(|(_, h)| h.tag == "bridge above"))
                .count(),
            restrictions: key_counts(s),
            geojson_restrictions: s.extras.len(),
            bbox: ll,
        }
    }

    /// Read-only views of the drivable ways, in stored order (a way cut by the extract
    /// border appears once per piece). For maps and tests.
    pub fn ways(&self) -> impl Iterator<Item = WayView> + '_ {
        self.stored.ways.iter().map(|w| WayView {
            way_id: w.id,
            name: w.name.clone(),
            highway: w.highway.clone(),
            oneway: w.oneway,
            layer: w.layer,
            bridge: w.bridge.is_some(),
            tunnel: w.tunnel.is_some(),
            node_ids: w.nodes.iter().map(|&n| self.stored.nodes[n as usize].id).collect(),
            coords: w.nodes.iter().map(|&n| self.lonlat(n)).collect(),
            tags: w.restrictions.iter().map(|r| (r.key.clone(), r.raw.clone())).collect(),
        })
    }

    /// Restriction tags on nodes: OSM node id, `[lon, lat]`, key, raw value.
    pub fn node_tags(&self) -> Vec<(i64, [f64; 2], String, String)> {
        self.stored
            .node_restrictions
            .iter()
            .map(|nr| {
                let n = &self.stored.nodes[nr.node as usize];
                (n.id, n.lonlat(), nr.restriction.key.clone(), nr.restriction.raw.clone())
            })
            .collect()
    }

    /// Every place where a bridge passes over a drivable way whose clearance is not
    /// tagged: (OSM id of the way below, source of the bridge, `[lon, lat]`).
    pub fn bridges_over_roads(&self) -> Vec<(i64, String, [f64; 2])> {
        let mut out: Vec<(i64, String, [f64; 2])> = Vec::new();
        for (&(way, seg), list) in &self.seg_hits {
            for (f, t) in list.iter().filter(|(_, t)| t.tag == "bridge above") {
                let ll = self.proj.to_lonlat(self.point_xy(way, seg, *f));
                out.push((self.stored.ways[way as usize].id, t.source.clone(), ll));
            }
        }
        out.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)).then(a.2[0].total_cmp(&b.2[0])));
        out
    }

    /// Restrictions of the way at `way` (its index in [`Self::ways`]) that apply to travel
    /// in `dir`, located at its first node. For evaluations that know the ways travelled.
    pub fn way_restrictions(&self, way: usize, dir: Direction) -> Vec<RestrictionHit> {
        let Some(w) = self.stored.ways.get(way) else { return Vec::new() };
        let ll = self.lonlat(w.nodes[0]);
        self.way_hits[way].iter().filter(|t| t.applies(dir)).map(|t| t.at(ll, 0.0)).collect()
    }

    /// Restrictions on segment `seg` of the way at `way` (structures above, GeoJSON
    /// restrictions attached to it), located where they apply.
    pub fn segment_restrictions(&self, way: usize, seg: usize) -> Vec<RestrictionHit> {
        let key = (way as u32, seg as u32);
        self.seg_hits
            .get(&key)
            .into_iter()
            .flatten()
            .map(|(f, t)| t.at(self.proj.to_lonlat(self.point_xy(key.0, key.1, *f)), 0.0))
            .collect()
    }

    /// Restrictions on the node at position `pos` of the way at `way`.
    pub fn node_restrictions(&self, way: usize, pos: usize) -> Vec<RestrictionHit> {
        let Some(&n) = self.stored.ways.get(way).and_then(|w| w.nodes.get(pos)) else { return Vec::new() };
        let ll = self.lonlat(n);
        self.node_hits.get(&n).into_iter().flatten().map(|t| t.at(ll, 0.0)).collect()
    }

    /// Position of node `i`, `[lon, lat]`.
    pub(crate) fn lonlat(&self, node: u32) -> [f64; 2] {
        self.stored.nodes[node as usize].lonlat()
    }
}

/// The table of restriction keys shared by `routes-info` and the import report.
pub(crate) fn write_key_counts<'a>(
    f: &mut std::fmt::Formatter<'_>,
    counts: impl IntoIterator<Item = (&'a String, &'a KeyCount)>,
) -> std::fmt::Result {
    writeln!(f, "  restriction tags (ways / nodes; limits / words / unparsed):")?;
    for (key, c) in counts {
        writeln!(
            f,
            "    {key:<20} {:>5} / {:<5} {:>5} / {} / {}",
            c.on_ways, c.on_nodes, c.limits, c.words, c.unparsed
        )?;
    }
    Ok(())
}
