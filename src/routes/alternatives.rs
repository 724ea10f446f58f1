//! Other readings of a drawn route: restricted roads it may have used instead of the
//! matched path.
//!
//! A drawing is offset from OSM by metres, so where a restricted piece of road runs
//! within that uncertainty of the route and joins the matched path at both ends (a slip
//! lane, a bus-only link, a lay-by), the drawing cannot tell the two apart, however the
//! matcher chose. Such a piece is reported as a possible hit, never silently dropped:
//! the checks make it `unverified` where the vehicle would not be allowed on it.
//!
//! A piece qualifies when (1) it lies within [`UNCERTAINTY_M`] of the drawing, (2) from it
//! the network leads back to the matched path and on to a later point of it, staying
//! within that distance of the drawing, and (3) the path through it is about as long as
//! the matched path between those points. A street crossed at an intersection fails (2)
//! (it leaves the drawing), a parallel street with no link nearby fails (2), a bridge
//! over or a road under the route fails (2) unless ramps join them right there.

use crate::routes::access::Direction;
use crate::routes::matcher::Sample;
use crate::routes::network::{HitTemplate, RouteNetwork, SegRef};
use crate::routes::project::{dist, lerp, project_on_segment};
use crate::routes::{PossibleHit, RestrictionHit, TravelledWay};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, HashSet};

/// How far from the drawing a road may lie and still be the one drawn, metres: the
/// offset of another map's drawing (up to about 10 m) plus drift and noise.
pub const UNCERTAINTY_M: f64 = 20.0;
/// How far along the network the search goes from a restricted piece back to the path
/// before it and on to the path after it, metres.
const MAX_LINK_M: f64 = 300.0;
/// A path through the piece "explains the drawing almost as well" when its length is
/// within this many metres of the matched path between the same points (or within
/// [`LENGTH_SLACK_SHARE`] of it, whichever is larger)...
const LENGTH_SLACK_M: f64 = 10.0;
/// ...(the share)...
const LENGTH_SLACK_SHARE: f64 = 0.2;
/// ...and it strays from the drawing at most this much further than the matched path
/// does there, metres. Cutting or going round a corner beside the drawing differs by
/// more (a route that turns at an intersection is not read as using the street ahead).
const STRAY_SLACK_M: f64 = 8.0;

/// The matched path as the search needs it: where it passes each node and which
/// segments it travels.
#[derive(Default)]
pub(crate) struct PathIndex {
    /// Node index -> km along the matched route where the path first passes it.
    pub nodes: HashMap<u32, f64>,
    /// Positions of the path's nodes in travel order, with their km.
    pub points: Vec<(f64, [f64; 2])>,
    /// Segments travelled.
    pub segs: HashSet<SegRef>,
}

#[derive(Clone, Copy, PartialEq)]
struct Item(f64, u32);
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Item {
    // Reversed: BinaryHeap is a max-heap and the search needs the nearest node.
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(other.1.cmp(&self.1))
    }
}

impl RouteNetwork {
    /// Restricted pieces the drawing may have used instead of the matched path, with the
    /// restrictions on them that the matched path does not already meet.
    pub(crate) fn possible_hits(
        &self,
        samples: &[Sample],
        path: &PathIndex,
        ways: &[TravelledWay],
        met: &[RestrictionHit],
    ) -> Vec<PossibleHit> {
        let mut out: Vec<PossibleHit> = Vec::new();
        if self.restricted.size() == 0 || samples.is_empty() {
            return out;
        }
        let mut seen: HashSet<SegRef> = HashSet::new();
        let reach = UNCERTAINTY_M + crate::routes::matcher::SAMPLE_STEP_M / 2.0;
        for (i, s) in samples.iter().enumerate() {
            let env = rstar::AABB::from_corners([s.xy[0] - reach, s.xy[1] - reach], [s.xy[0] + reach, s.xy[1] + reach]);
            for item in self.restricted.locate_in_envelope_intersecting(&env) {
                let seg = item.data;
                if path.segs.contains(&seg) || !seen.insert(seg) {
                    continue;
                }
                let near = |p: [f64; 2]| drawing_distance(samples, i, p) <= UNCERTAINTY_M;
                let away = |p: [f64; 2]| drawing_distance(samples, i, p);
                let (u, v) = self.seg_nodes(seg.0, seg.1);
                let mid = lerp(self.xy[u as usize], self.xy[v as usize], 0.5);
                if !(near(self.xy[u as usize]) || near(mid) || near(self.xy[v as usize])) {
                    continue;
                }
                let ow = self.stored.ways[seg.0 as usize].oneway;
                for (dir, from, to) in [(Direction::Forward, u, v), (Direction::Backward, v, u)] {
                    let allowed = if dir == Direction::Forward { ow >= 0 } else { ow <= 0 };
                    if !allowed {
                        continue;
                    }
                    if let Some(p) = self.through(seg, dir, from, to, path, &away, ways, met)
                        && !out.iter().any(|o| o.hit.source == p.hit.source && o.hit.tag == p.hit.tag)
                    {
                        out.push(p);
                    }
                }
            }
        }
        out.sort_by(|a, b| a.hit.km.total_cmp(&b.hit.km));
        out
    }

    /// The first restriction on segment `seg` travelled in `dir` (from node `from` to `to`)
    /// that a path joining the matched path before and after it would meet, if such a
    /// path explains the drawing almost as well as the matched one.
    #[allow(clippy::too_many_arguments)]
    fn through(
        &self,
        seg: SegRef,
        dir: Direction,
        from: u32,
        to: u32,
        path: &PathIndex,
        away: &dyn Fn([f64; 2]) -> f64,
        ways: &[TravelledWay],
        met: &[RestrictionHit],
    ) -> Option<PossibleHit> {
        let hits = self.piece_hits(seg, dir, from, to, path);
        let fresh: Vec<&HitTemplate> = hits
            .iter()
            .map(|(t, _)| *t)
            .filter(|t| !met.iter().any(|h| h.source == t.source && h.tag == t.tag))
            .collect();
        if fresh.is_empty() {
            return None;
        }
        let near = |p: [f64; 2]| away(p) <= UNCERTAINTY_M;
        let before = self.reach_path(from, false, path, &near);
        let after = self.reach_path(to, true, path, &near);
        let len = self.seg_len(seg.0, seg.1);
        let mut best: Option<(f64, f64, f64)> = None;
        for (n, dn, back) in &before {
            for (m, dm, ahead) in &after {
                let (kn, km) = (path.nodes[n], path.nodes[m]);
                let matched = (km - kn) * 1000.0;
                if matched <= 1.0 {
                    continue;
                }
                let miss = (dn + len + dm - matched).abs();
                if miss > LENGTH_SLACK_M.max(LENGTH_SLACK_SHARE * matched) || best.is_some_and(|b| miss >= b.0) {
                    continue;
                }
                // How far each reading strays from the drawing: the matched path's nodes
                // between the two points, and the other reading's nodes and midpoints.
                let matched_stray = path
                    .points
                    .iter()
                    .filter(|(k, _)| (kn..=km).contains(k))
                    .map(|(_, p)| away(*p))
                    .fold(0.0, f64::max);
                let nodes: Vec<u32> = back.iter().rev().chain([&from, &to]).chain(ahead).copied().collect();
                let other_stray = nodes
                    .windows(2)
                    .flat_map(|w| {
                        let (a, b) = (self.xy[w[0] as usize], self.xy[w[1] as usize]);
                        [a, lerp(a, b, 0.5), b]
                    })
                    .map(away)
                    .fold(0.0, f64::max);
                if other_stray <= matched_stray + STRAY_SLACK_M {
                    best = Some((miss, kn, km));
                }
            }
        }
        let (_, from_km, to_km) = best?;
        let t = fresh[0];
        let at = hits.iter().find(|(h, _)| std::ptr::eq(*h, t)).map_or(self.xy[from as usize], |(_, p)| *p);
        let ll = self.proj.to_lonlat(at);
        let mut instead_of: Vec<i64> = Vec::new();
        for w in ways.iter().filter(|w| w.to_km > from_km && w.from_km < to_km) {
            if !instead_of.contains(&w.way_id) {
                instead_of.push(w.way_id);
            }
        }
        Some(PossibleHit {
            hit: RestrictionHit {
                kind: t.kind,
                limit: t.limit,
                tag: t.tag.clone(),
                raw: t.raw.clone(),
                source: t.source.clone(),
                lon: ll[0],
                lat: ll[1],
                km: from_km,
            },
            via_way_id: self.stored.ways[seg.0 as usize].id,
            instead_of,
            from_km,
            to_km,
        })
    }

    /// Restrictions met travelling segment `seg` in `dir`, with where: the way's own (for
    /// that direction), structures above it, and its end nodes that are not on the path.
    fn piece_hits(
        &self,
        seg: SegRef,
        dir: Direction,
        from: u32,
        to: u32,
        path: &PathIndex,
    ) -> Vec<(&HitTemplate, [f64; 2])> {
        let mut out: Vec<(&HitTemplate, [f64; 2])> = Vec::new();
        let start = self.xy[from as usize];
        out.extend(self.way_hits[seg.0 as usize].iter().filter(|t| t.applies(dir)).map(|t| (t, start)));
        if let Some(sh) = self.seg_hits.get(&seg) {
            out.extend(sh.iter().map(|(f, t)| (t, self.point_xy(seg.0, seg.1, *f))));
        }
        for n in [from, to] {
            if !path.nodes.contains_key(&n)
                && let Some(ts) = self.node_hits.get(&n)
            {
                out.extend(ts.iter().map(|t| (t, self.xy[n as usize])));
            }
        }
        out
    }

    /// Nodes of the matched path reachable from `start` (`forward`) or leading to it
    /// (backward) within [`MAX_LINK_M`] along roads near the drawing: each with the
    /// distance and the nodes between (nearest to `start` first, the path node last);
    /// the search stops at the first path node of each branch.
    fn reach_path(
        &self,
        start: u32,
        forward: bool,
        path: &PathIndex,
        near: &dyn Fn([f64; 2]) -> bool,
    ) -> Vec<(u32, f64, Vec<u32>)> {
        let mut out = Vec::new();
        // Node -> (distance, the node it was reached from).
        let mut seen: HashMap<u32, (f64, u32)> = HashMap::new();
        let mut heap = BinaryHeap::new();
        seen.insert(start, (0.0, start));
        heap.push(Item(0.0, start));
        let (first, edges) = if forward { (&self.first, &self.edges) } else { (&self.rfirst, &self.redges) };
        while let Some(Item(d, n)) = heap.pop() {
            if seen.get(&n).is_some_and(|&(best, _)| d > best) {
                continue;
            }
            if path.nodes.contains_key(&n) {
                let mut chain = vec![n];
                let mut at = n;
                while at != start {
                    at = seen[&at].1;
                    if at != start {
                        chain.push(at);
                    }
                }
                chain.reverse();
                out.push((n, d, chain));
                continue;
            }
            // INVARIANT: `first` / `rfirst` have one entry per node plus one.
            for e in &edges[first[n as usize] as usize..first[n as usize + 1] as usize] {
                let nd = d + e.len;
                if nd > MAX_LINK_M || seen.get(&e.to).is_some_and(|&(best, _)| best <= nd) {
                    continue;
                }
                if !path.nodes.contains_key(&e.to) && !near(self.xy[e.to as usize]) {
                    continue;
                }
                seen.insert(e.to, (nd, n));
                heap.push(Item(nd, e.to));
            }
        }
        out
    }
}

/// Distance from `p` to the drawing near sample `i` (the samples within [`MAX_LINK_M`]
/// plus the search reach on either side), metres.
fn drawing_distance(samples: &[Sample], i: usize, p: [f64; 2]) -> f64 {
    let span = ((MAX_LINK_M + UNCERTAINTY_M) / crate::routes::matcher::MIN_STEP_M).ceil() as usize + 1;
    let lo = i.saturating_sub(span);
    let hi = (i + span).min(samples.len() - 1);
    if lo == hi {
        return dist(samples[lo].xy, p);
    }
    samples[lo..=hi].windows(2).map(|w| project_on_segment(p, w[0].xy, w[1].xy).1).fold(f64::INFINITY, f64::min)
}
