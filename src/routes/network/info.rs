//! What a loaded network holds, for `oscar routes-info`, the import report, maps and
//! tests: counts of ways and restriction tags, and read-only views of the ways.

use super::RouteNetwork;
use super::stored::{FORMAT_VERSION, Stored};
use crate::routes::values::ParsedValue;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

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

impl RouteNetwork {
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
            segments_under_bridges: self.segments_under_bridges(),
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
