//! The shortest drivable path between two places on the network: what a route's declared
//! length is compared with (the anomaly model's detour feature), and how training routes
//! are built from real roads. One-way roads are driven only their way; access tags are not
//! considered (a permit route may use restricted roads; items R2-R4 judge that).

use rustc_hash::FxHashMap as HashMap;
use std::collections::BinaryHeap;

use super::matcher::HeapItem;
use super::network::RouteNetwork;
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

/// A place snapped onto the network: segment and fraction along it.
#[derive(Debug, Clone, Copy)]
struct Snap {
    way: u32,
    seg: u32,
    frac: f64,
}

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
        let (a, b) = (self.snap(from)?, self.snap(to)?);
        let point = |s: Snap| self.to_lonlat(self.point_xy(s.way, s.seg, s.frac));
        let oneway = |s: Snap| self.oneway(s.way);
        let len = |s: Snap| self.seg_len(s.way, s.seg);
        // Along one segment, where its direction allows.
        let mut best: Option<(f64, Option<u32>)> = None;
        if (a.way, a.seg) == (b.way, b.seg) {
            let forward = b.frac >= a.frac && oneway(a) >= 0;
            let backward = b.frac <= a.frac && oneway(a) <= 0;
            if forward || backward {
                best = Some(((b.frac - a.frac).abs() * len(a), None));
            }
        }
        let (u, v) = self.seg_nodes(a.way, a.seg);
        let mut starts = Vec::with_capacity(2);
        if oneway(a) >= 0 {
            starts.push((v, (1.0 - a.frac) * len(a)));
        }
        if oneway(a) <= 0 {
            starts.push((u, a.frac * len(a)));
        }
        let (p, q) = self.seg_nodes(b.way, b.seg);
        let mut ends = Vec::with_capacity(2);
        if oneway(b) >= 0 {
            ends.push((p, b.frac * len(b)));
        }
        if oneway(b) <= 0 {
            ends.push((q, (1.0 - b.frac) * len(b)));
        }
        let bound = SEARCH_FACTOR * dist(self.to_xy(from), self.to_xy(to)) + SEARCH_SLACK_M;
        // Settled distance and the node reached from, per node; sparse, so a search in a
        // large network costs what it explores.
        let mut reached: HashMap<u32, (f64, u32)> = HashMap::default();
        let mut heap = BinaryHeap::new();
        for &(n, d) in &starts {
            if reached.get(&n).is_none_or(|r| d < r.0) {
                reached.insert(n, (d, u32::MAX));
                heap.push(HeapItem(d, n));
            }
        }
        let mut settled = 0;
        while let Some(HeapItem(d, n)) = heap.pop() {
            if reached.get(&n).is_some_and(|r| d > r.0) {
                continue;
            }
            if d > bound || best.is_some_and(|(b, _)| d >= b) {
                break;
            }
            settled += 1;
            if settled > MAX_SETTLED {
                return None;
            }
            for &(end, extra) in &ends {
                if end == n && best.is_none_or(|(b, _)| d + extra < b) {
                    best = Some((d + extra, Some(n)));
                }
            }
            for (_, e) in self.edges_from(n) {
                let next = d + e.len;
                if reached.get(&e.to).is_none_or(|r| next < r.0) {
                    reached.insert(e.to, (next, n));
                    heap.push(HeapItem(next, e.to));
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
        let mut line = vec![point(a)];
        line.extend(nodes.into_iter().map(|n| self.lonlat(n)));
        line.push(point(b));
        Some(ShortestPath { length_m, line })
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
