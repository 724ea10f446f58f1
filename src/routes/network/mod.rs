//! The road network as the matcher sees it: one module per job behind a small API.
//!
//! - `stored`: the file format (`network.bin`), reading, writing and validation;
//! - this file: the loaded network, its routing graph and the graph API (nodes, segments,
//!   their geometry and length, adjacency);
//! - `index`: spatial lookups (candidates near a point, nearest segment, segments in a box)
//!   over a uniform grid (`grid`) and an R-tree;
//! - `restrictions`: what the route meets on a way, a node or a segment, including
//!   bridges found above a road;
//! - `info`: counts and read-only views for `oscar routes-info`, maps and tests.
//!
//! The fields of [`RouteNetwork`] are private to this module: the matcher, the shortest
//! path and the search of other readings use the API only.

mod grid;
mod index;
mod info;
mod restrictions;
mod stored;

pub(crate) use index::Candidate;
pub use info::{KeyCount, NetworkInfo, WayView};
pub(crate) use info::{distinct_ways, key_counts, write_key_counts};
pub(crate) use restrictions::HitTemplate;
pub(crate) use stored::{
    Attachment, ExtraRestriction, FILE_NAME, NodeRestriction, Stored, StoredNode, StoredWay, Structure, TagRestriction,
    read, validate, write,
};

use crate::routes::RoutesError;
use crate::routes::project::{Projection, dist, lerp};
use grid::{GridSeg, SegGrid};
use restrictions::Restrictions;
use rstar::RTree;
use rstar::primitives::{CachedEnvelope, GeomWithData, Line};
use std::path::Path;
use stored::decode;

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

/// The edges of one node, with their ids (see [`RouteNetwork::edge`]).
pub(crate) type Edges<'a> = std::iter::Zip<std::ops::Range<u32>, std::slice::Iter<'a, Edge>>;

/// The road network, loaded and indexed, ready for matching. Immutable and `Sync`:
/// share one instance between threads.
pub struct RouteNetwork {
    version: String,
    stored: Stored,
    proj: Projection,
    /// Projected node positions, metres.
    xy: Vec<[f64; 2]>,
    /// Per way, cumulative length at each node, metres.
    cum: Vec<Vec<f64>>,
    /// Per way, whether it is `highway=service`.
    service: Vec<bool>,
    /// CSR adjacency: edges of node `i` are `edges[first[i]..first[i + 1]]`.
    first: Vec<u32>,
    edges: Vec<Edge>,
    /// The same graph reversed: edges into node `i` are `redges[rfirst[i]..rfirst[i + 1]]`,
    /// each with `to` naming the node it comes from.
    rfirst: Vec<u32>,
    redges: Vec<Edge>,
    /// Segments, with their envelopes cached (queries test envelopes far more often
    /// than segments).
    tree: RTree<CachedEnvelope<GeomWithData<Line<[f64; 2]>, SegRef>>>,
    /// The same segments in a uniform grid, for the matcher's many small queries.
    grid: SegGrid,
    /// Covered area in projected metres: min x, min y, max x, max y.
    bbox: [f64; 4],
    restrictions: Restrictions,
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

        let restrictions = Restrictions::new(&stored, &xy, proj);
        let service = stored.ways.iter().map(|w| w.highway == "service").collect();
        RouteNetwork {
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
            tree,
            grid,
            bbox,
            restrictions,
        }
    }

    /// `sha256:<hex>` of the stored network file; goes into `versions.routes`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Number of nodes; node indices are `0..node_count()`.
    pub(crate) fn node_count(&self) -> usize {
        self.xy.len()
    }

    /// Projected position of node `n`, metres.
    #[inline]
    pub(crate) fn node_xy(&self, n: u32) -> [f64; 2] {
        self.xy[n as usize]
    }

    /// Position of node `n`, `[lon, lat]`.
    pub(crate) fn lonlat(&self, n: u32) -> [f64; 2] {
        self.stored.nodes[n as usize].lonlat()
    }

    /// `[lon, lat]` projected to metres.
    #[inline]
    pub(crate) fn to_xy(&self, lonlat: [f64; 2]) -> [f64; 2] {
        self.proj.to_xy(lonlat)
    }

    /// Projected metres back to `[lon, lat]`.
    #[inline]
    pub(crate) fn to_lonlat(&self, xy: [f64; 2]) -> [f64; 2] {
        self.proj.to_lonlat(xy)
    }

    /// How many ways the network has (way indexes are `0..way_count()`).
    pub(crate) fn way_count(&self) -> usize {
        self.stored.ways.len()
    }

    /// OSM id of way `way`.
    pub(crate) fn way_id(&self, way: u32) -> i64 {
        self.stored.ways[way as usize].id
    }

    /// `name` of way `way`.
    pub(crate) fn way_name(&self, way: u32) -> Option<&str> {
        self.stored.ways[way as usize].name.as_deref()
    }

    /// `highway` class of way `way`.
    pub(crate) fn highway(&self, way: u32) -> &str {
        &self.stored.ways[way as usize].highway
    }

    /// 1: way `way` is one-way along its node order; -1: against it; 0: both directions.
    #[inline]
    pub(crate) fn oneway(&self, way: u32) -> i8 {
        self.stored.ways[way as usize].oneway
    }

    /// Whether way `way` is `highway=service`.
    #[inline]
    pub(crate) fn is_service(&self, way: u32) -> bool {
        self.service[way as usize]
    }

    /// The nodes at the ends of segment `seg` of way `way`, in the way's order.
    #[inline]
    pub(crate) fn seg_nodes(&self, way: u32, seg: u32) -> (u32, u32) {
        // INVARIANT: validated at load: every (way, seg) from the index or the graph
        // exists and its node indices are in range.
        let nodes = &self.stored.ways[way as usize].nodes;
        (nodes[seg as usize], nodes[seg as usize + 1])
    }

    /// The nodes of way `way`, in its order.
    pub(crate) fn way_nodes(&self, way: u32) -> &[u32] {
        &self.stored.ways[way as usize].nodes
    }

    /// Whether way `way` exists and has a segment `seg`.
    pub(crate) fn has_segment(&self, way: u32, seg: u32) -> bool {
        self.stored.ways.get(way as usize).is_some_and(|w| (seg as usize) + 1 < w.nodes.len())
    }

    /// Length of segment `seg` of way `way`, metres.
    #[inline]
    pub(crate) fn seg_len(&self, way: u32, seg: u32) -> f64 {
        let c = &self.cum[way as usize];
        c[seg as usize + 1] - c[seg as usize]
    }

    /// Metres along way `way` from its first node to fraction `frac` of segment `seg`.
    #[inline]
    pub(crate) fn way_offset(&self, way: u32, seg: u32, frac: f64) -> f64 {
        self.cum[way as usize][seg as usize] + frac * self.seg_len(way, seg)
    }

    /// The point at fraction `frac` of segment `seg` of way `way`, projected metres.
    #[inline]
    pub(crate) fn point_xy(&self, way: u32, seg: u32, frac: f64) -> [f64; 2] {
        let (a, b) = self.seg_nodes(way, seg);
        lerp(self.xy[a as usize], self.xy[b as usize], frac)
    }

    /// The edges leaving node `n` (travel allowed from it), with their ids.
    #[inline]
    pub(crate) fn edges_from(&self, n: u32) -> Edges<'_> {
        // INVARIANT: `first` has one entry per node plus one.
        let (lo, hi) = (self.first[n as usize], self.first[n as usize + 1]);
        (lo..hi).zip(&self.edges[lo as usize..hi as usize])
    }

    /// The edges into node `n`, each with `to` naming the node it comes from, with their
    /// ids in the reversed graph.
    #[inline]
    pub(crate) fn edges_into(&self, n: u32) -> Edges<'_> {
        // INVARIANT: `rfirst` has one entry per node plus one.
        let (lo, hi) = (self.rfirst[n as usize], self.rfirst[n as usize + 1]);
        (lo..hi).zip(&self.redges[lo as usize..hi as usize])
    }

    /// The edge with id `id` (from [`Self::edges_from`]).
    #[inline]
    pub(crate) fn edge(&self, id: u32) -> Edge {
        self.edges[id as usize]
    }

    /// The node edge `e` leaves.
    #[inline]
    pub(crate) fn edge_start(&self, e: Edge) -> u32 {
        let (u, v) = self.seg_nodes(e.way, e.seg);
        if e.to == v { u } else { v }
    }
}
