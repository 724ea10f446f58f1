//! The shortest drivable path between two places on the network: what a route's declared
//! length is compared with (the anomaly model's detour feature), how training routes are
//! built from real roads, and the search behind a compliant alternative route
//! ([`super::legal`]). One-way roads are driven only their way; which other roads a search
//! may use is a filter applied at query time ([`Roads`]): the plain shortest path uses every
//! road (a permit route may use restricted roads; items R2-R4 judge that).

use rustc_hash::FxHashMap as HashMap;
use std::collections::BinaryHeap;

use super::access::Direction;
use super::matcher::HeapItem;
use super::network::{Edge, RouteNetwork};
use super::project::{dist, project_on_segment_2};

/// An end further than this from every road has no shortest path, metres.
pub const SNAP_M: f64 = 100.0;

/// The search gives up beyond this many times the straight-line distance (plus
/// [`SEARCH_SLACK_M`]): such a place is, for a permit route, unreachable.
const SEARCH_FACTOR: f64 = 4.0;
/// Added to the search bound so that short trips around a block are still found, metres.
const SEARCH_SLACK_M: f64 = 5_000.0;
/// The search gives up after settling this many nodes, so that one review on a
/// country-sized network costs at most a few tens of milliseconds; the path is then unknown.
pub const MAX_SETTLED: usize = 250_000;

/// A shortest path: its length and its polyline.
#[derive(Debug, Clone, PartialEq)]
pub struct ShortestPath {
    /// Length along the network, metres.
    pub length_m: f64,
    /// The path from the road point nearest the start to the one nearest the end,
    /// `[lon, lat]`.
    pub line: Vec<[f64; 2]>,
}

/// How a search orders the nodes it settles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Search {
    /// Plain Dijkstra: nearest node first (the baseline the route benchmark compares with).
    Dijkstra,
    /// A*: nearest by distance travelled plus the straight line to the end, which never
    /// overestimates (every edge is a straight segment of the same projection), so the
    /// path is as short as Dijkstra's while far fewer nodes are settled.
    AStar,
}

/// A place snapped onto the network: segment and fraction along it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snap {
    pub way: u32,
    pub seg: u32,
    pub frac: f64,
}

/// Which roads a search may use, asked at query time.
pub(crate) trait Roads {
    /// Whether segment `seg` of way `way` may be travelled in `dir` (one-way streets are
    /// the graph's business, not the filter's).
    fn segment(&self, way: u32, seg: u32, dir: Direction) -> bool;
    /// Whether node `n` may be passed.
    fn node(&self, n: u32) -> bool;
    /// Whether edge `e` may be travelled and the node it leads to passed.
    fn edge(&self, net: &RouteNetwork, e: &Edge) -> bool {
        self.segment(e.way, e.seg, net.direction(e)) && self.node(e.to)
    }
}

/// Every road: the plain shortest path.
struct AnyRoad;

impl Roads for AnyRoad {
    fn segment(&self, _: u32, _: u32, _: Direction) -> bool {
        true
    }
    fn node(&self, _: u32) -> bool {
        true
    }
    fn edge(&self, _: &RouteNetwork, _: &Edge) -> bool {
        true
    }
}

/// Both ends of a search: the snapped places, the nodes it may leave from and arrive at
/// with the metres between each and its place, and the path along one shared segment.
pub(crate) struct Ends {
    pub a: Snap,
    pub b: Snap,
    /// Length of the path along the one segment both places lie on, where allowed.
    pub direct: Option<f64>,
    /// (node, metres from the start place to it).
    pub starts: Vec<(u32, f64)>,
    /// (node, metres from it to the end place).
    pub ends: Vec<(u32, f64)>,
    /// The end place, projected.
    pub target: [f64; 2],
    /// The search gives up beyond this length, metres.
    pub bound: f64,
}

/// A path found: its length and the nodes it passes (none along one segment).
pub(crate) type Found = (f64, Vec<u32>);

impl RouteNetwork {
    /// Length of the shortest drivable path between the roads nearest `from` and `to`
    /// (`[lon, lat]`), metres; `None` when an end is more than [`SNAP_M`] from every road, no
    /// path exists within four times the straight line plus 5 km, or the search settles more
    /// than [`MAX_SETTLED`] nodes first.
    pub fn shortest_path_m(&self, from: [f64; 2], to: [f64; 2]) -> Option<f64> {
        self.shortest_path(from, to).map(|p| p.length_m)
    }

    /// The shortest drivable path itself (see [`RouteNetwork::shortest_path_m`]).
    pub fn shortest_path(&self, from: [f64; 2], to: [f64; 2]) -> Option<ShortestPath> {
        let ends = self.ends(from, to, &AnyRoad)?;
        let found = self.path_between(&ends, &AnyRoad, Search::Dijkstra)?;
        Some(self.polyline(&ends, found))
    }

    /// The direction edge `e` travels its way in.
    pub(crate) fn direction(&self, e: &Edge) -> Direction {
        if self.seg_nodes(e.way, e.seg).1 == e.to { Direction::Forward } else { Direction::Backward }
    }

    /// Snaps both places and finds where a search over `roads` may leave and arrive;
    /// `None` when a place is more than [`SNAP_M`] from every road.
    pub(crate) fn ends(&self, from: [f64; 2], to: [f64; 2], roads: &impl Roads) -> Option<Ends> {
        let (a, b) = (self.snap(from)?, self.snap(to)?);
        let oneway = |s: Snap| self.oneway(s.way);
        let len = |s: Snap| self.seg_len(s.way, s.seg);
        let along = |s: Snap, dir| roads.segment(s.way, s.seg, dir);
        let forward = |s: Snap| oneway(s) >= 0 && along(s, Direction::Forward);
        let backward = |s: Snap| oneway(s) <= 0 && along(s, Direction::Backward);
        // Along one segment, where its direction allows.
        let mut direct = None;
        if (a.way, a.seg) == (b.way, b.seg) && ((b.frac >= a.frac && forward(a)) || (b.frac <= a.frac && backward(a))) {
            direct = Some((b.frac - a.frac).abs() * len(a));
        }
        let (u, v) = self.seg_nodes(a.way, a.seg);
        let mut starts = Vec::with_capacity(2);
        if forward(a) && roads.node(v) {
            starts.push((v, (1.0 - a.frac) * len(a)));
        }
        if backward(a) && roads.node(u) {
            starts.push((u, a.frac * len(a)));
        }
        let (p, q) = self.seg_nodes(b.way, b.seg);
        let mut ends = Vec::with_capacity(2);
        if forward(b) {
            ends.push((p, b.frac * len(b)));
        }
        if backward(b) {
            ends.push((q, (1.0 - b.frac) * len(b)));
        }
        let bound = SEARCH_FACTOR * dist(self.to_xy(from), self.to_xy(to)) + SEARCH_SLACK_M;
        let target = self.point_xy(b.way, b.seg, b.frac);
        Some(Ends { a, b, direct, starts, ends, target, bound })
    }

    /// The shortest path between `ends` over `roads`, ordered as `search` says; `None`
    /// when there is none within the bound or more than [`MAX_SETTLED`] nodes are settled.
    pub(crate) fn path_between(&self, ends: &Ends, roads: &impl Roads, search: Search) -> Option<Found> {
        // Lower bound of the metres left from a node to the end (A*), 0 for Dijkstra.
        let rest = |n: u32| match search {
            Search::Dijkstra => 0.0,
            Search::AStar => dist(self.node_xy(n), ends.target),
        };
        let mut best: Option<(f64, Option<u32>)> = ends.direct.map(|d| (d, None));
        // Settled distance and the node reached from, per node; sparse, so a search in a
        // large network costs what it explores.
        let mut reached: HashMap<u32, (f64, u32)> = HashMap::default();
        let mut heap = BinaryHeap::new();
        for &(n, d) in &ends.starts {
            if reached.get(&n).is_none_or(|r| d < r.0) {
                reached.insert(n, (d, u32::MAX));
                heap.push(HeapItem(d + rest(n), n));
            }
        }
        let mut settled = 0;
        while let Some(HeapItem(key, n)) = heap.pop() {
            let Some(&(d, _)) = reached.get(&n) else { continue };
            if key > d + rest(n) {
                continue;
            }
            // `key` is a lower bound of every path through `n`.
            if key > ends.bound || best.is_some_and(|(b, _)| key >= b) {
                break;
            }
            settled += 1;
            if settled > MAX_SETTLED {
                return None;
            }
            for &(end, extra) in &ends.ends {
                if end == n && best.is_none_or(|(b, _)| d + extra < b) {
                    best = Some((d + extra, Some(n)));
                }
            }
            for (_, e) in self.edges_from(n) {
                let next = d + e.len;
                if reached.get(&e.to).is_none_or(|r| next < r.0) && roads.edge(self, e) {
                    reached.insert(e.to, (next, n));
                    heap.push(HeapItem(next + rest(e.to), e.to));
                }
            }
        }
        let (length_m, last) = best?;
        let mut nodes = Vec::new();
        let mut at = last;
        while let Some(n) = at {
            nodes.push(n);
            at = reached.get(&n).map(|r| r.1).filter(|p| *p != u32::MAX);
        }
        nodes.reverse();
        Some((length_m, nodes))
    }

    /// The polyline of a path found between `ends`.
    pub(crate) fn polyline(&self, ends: &Ends, (length_m, nodes): Found) -> ShortestPath {
        let point = |s: Snap| self.to_lonlat(self.point_xy(s.way, s.seg, s.frac));
        let mut line = vec![point(ends.a)];
        line.extend(nodes.into_iter().map(|n| self.lonlat(n)));
        line.push(point(ends.b));
        ShortestPath { length_m, line }
    }

    /// The segment nearest a place, within [`SNAP_M`].
    fn snap(&self, p: [f64; 2]) -> Option<Snap> {
        let xy = self.to_xy(p);
        let nearest = self.nearest_segment(xy)?;
        if nearest.dist_2 > SNAP_M * SNAP_M {
            return None;
        }
        let (way, seg) = nearest.seg;
        let (frac, _) = project_on_segment_2(xy, nearest.a, nearest.b);
        Some(Snap { way, seg, frac })
    }
}

#[cfg(test)]
mod tests {
    use crate::routes::{RouteNetwork, path_length_m};

    fn helsinki() -> RouteNetwork {
        // INVARIANT (test): the shipped network loads; other tests check it in detail.
        match crate::embedded_routes() {
            Ok(r) => r.network,
            Err(e) => panic!("{e}"),
        }
    }

    /// Differential check against plain Dijkstra over every node: the same length from
    /// node to node, and the polyline is as long as the length it reports.
    #[test]
    fn node_to_node_lengths_match_a_full_dijkstra() {
        let net = helsinki();
        let n = net.node_count();
        let mut rng = crate::rng::SplitMix64::new(5);
        let mut found = 0;
        for _ in 0..20 {
            let (s, t) = (rng.below(n as u64) as u32, rng.below(n as u64) as u32);
            let mut d = vec![f64::INFINITY; n];
            d[s as usize] = 0.0;
            let mut done = vec![false; n];
            for _ in 0..n {
                let Some(u) = (0..n).filter(|i| !done[*i]).min_by(|a, b| d[*a].total_cmp(&d[*b])) else { break };
                if !d[u].is_finite() {
                    break;
                }
                done[u] = true;
                for (_, e) in net.edges_from(u as u32) {
                    d[e.to as usize] = d[e.to as usize].min(d[u] + e.len);
                }
            }
            let ours = net.shortest_path(net.lonlat(s), net.lonlat(t));
            let reference = d[t as usize];
            match ours {
                Some(p) => {
                    found += 1;
                    assert!((p.length_m - reference).abs() < 0.5, "{s}->{t}: {} vs {reference}", p.length_m);
                    let drawn = path_length_m(&p.line);
                    assert!((drawn - p.length_m).abs() < 0.01 * p.length_m + 2.0, "{drawn} vs {}", p.length_m);
                }
                // Unreachable, or beyond the search bound (never shorter than the bound).
                None => assert!(reference.is_infinite() || reference > 5_000.0, "{s}->{t}: {reference}"),
            }
        }
        assert!(found >= 10, "only {found} of 20 pairs connected");
    }

    #[test]
    fn one_way_roads_are_driven_only_their_way() {
        let net = helsinki();
        let Some((wi, w)) = net.ways().enumerate().find(|(_, w)| w.oneway == 1 && w.node_ids.len() >= 3) else {
            panic!("Helsinki has one-way streets")
        };
        let wi = wi as u32;
        let along = net.point_xy(wi, 0, 0.2);
        let ahead = net.point_xy(wi, 1, 0.8);
        let (a, b) = (net.to_lonlat(along), net.to_lonlat(ahead));
        let with = net.shortest_path_m(a, b).unwrap_or(f64::INFINITY);
        let against = net.shortest_path_m(b, a).unwrap_or(f64::INFINITY);
        assert!(with < against, "with the one-way {with} m, against it {against} m (way {})", w.way_id);
    }

    #[test]
    fn a_place_far_from_every_road_has_no_shortest_path() {
        let net = helsinki();
        let node = net.lonlat(0);
        assert_eq!(net.shortest_path_m(node, [116.58, 35.41]), None);
    }
}
