//! HMM map matching in the spirit of Newson & Krumm (2009).
//!
//! The declared route is resampled every [`SAMPLE_STEP_M`] metres. Each sample gets
//! candidate positions on nearby road segments from the `rstar` index (the closest
//! segment of each way within [`SEARCH_RADIUS_M`]). Emission: Gaussian in the distance
//! from sample to candidate. Transition: exponential in the difference between the
//! network distance of two candidates (bounded Dijkstra on the directed graph, one-way
//! streets respected) and the straight distance between the two samples. Viterbi picks
//! the most likely sequence; roads that are parallel, merely crossed at an intersection
//! or at another level (no shared node) lose because reaching them costs a detour.
//! Samples without candidates, or transitions with no path, break the chain and are
//! reported.

use crate::routes::network::{HitTemplate, RouteNetwork};
use crate::routes::project::{dist, lerp, project_on_segment};
use crate::routes::{MatchProblem, MatchProblemKind, MatchedSegment, RestrictionHit, RouteMatch, TravelledWay};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Largest spacing of the samples taken along the declared route, metres.
pub const SAMPLE_STEP_M: f64 = 25.0;
/// Vertices of the declared route closer than this to the previous sample are skipped.
pub const MIN_STEP_M: f64 = 10.0;
/// Radius of the candidate search around a sample, metres.
pub const SEARCH_RADIUS_M: f64 = 45.0;
/// Standard deviation of the offset between the declared route and OSM, metres.
const SIGMA_M: f64 = 8.0;
/// Scale of the exponential transition model, metres of detour.
const BETA_M: f64 = 8.0;
/// Log-probability penalty per sample matched on a `highway=service` road.
const SERVICE_PENALTY: f64 = 1.0;
/// Candidates kept per sample.
const MAX_CANDIDATES: usize = 12;
/// Samples further than this from the matched road lower the confidence, metres.
const NEAR_M: f64 = 25.0;
/// Backward movement on a one-way road tolerated as drawing noise, metres.
const NOISE_BACK_M: f64 = 6.0;
/// U-turns shorter than this are matching artefacts and removed, metres.
const MAX_ARTEFACT_UTURN_M: f64 = 30.0;
/// Candidates this far (log-probability) below the best of their sample are dropped.
const BEAM: f64 = 40.0;
/// Below this the match is reported as low confidence.
const LOW_CONFIDENCE: f64 = 0.8;

/// One Viterbi step: sample index, candidates, scores, back pointers.
type Layer = (usize, Vec<Candidate>, Vec<f64>, Vec<usize>);

/// A candidate position on a segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    pub way: u32,
    pub seg: u32,
    pub frac: f64,
    pub dist: f64,
}

/// A stretch of the matched path on one segment, from fraction `f0` to `f1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Piece {
    pub way: u32,
    pub seg: u32,
    pub f0: f64,
    pub f1: f64,
}

/// A sample of the declared route.
struct Sample {
    xy: [f64; 2],
    lonlat: [f64; 2],
    km: f64,
}

#[derive(Clone, Copy, PartialEq)]
struct HeapItem(f64, u32);
impl Eq for HeapItem {}
impl PartialOrd for HeapItem {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeapItem {
    // Reversed: BinaryHeap is a max-heap and Dijkstra needs the smallest distance.
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(other.1.cmp(&self.1))
    }
}

/// Reusable Dijkstra state; `stamp` marks which entries belong to the current run so
/// nothing is cleared between runs.
pub(crate) struct Scratch {
    dist: Vec<f64>,
    parent: Vec<u32>,
    stamp: Vec<u32>,
    run: u32,
    heap: BinaryHeap<HeapItem>,
}

const NO_PARENT: u32 = u32::MAX;

impl Scratch {
    pub(crate) fn new(nodes: usize) -> Scratch {
        Scratch {
            dist: vec![0.0; nodes],
            parent: vec![0; nodes],
            stamp: vec![0; nodes],
            run: 0,
            heap: BinaryHeap::new(),
        }
    }

    fn start(&mut self) {
        self.run = self.run.wrapping_add(1);
        if self.run == 0 {
            self.stamp.iter_mut().for_each(|s| *s = 0);
            self.run = 1;
        }
        self.heap.clear();
    }

    fn get(&self, n: u32) -> f64 {
        if self.stamp[n as usize] == self.run { self.dist[n as usize] } else { f64::INFINITY }
    }

    fn relax(&mut self, n: u32, d: f64, parent: u32) {
        if d < self.get(n) {
            self.stamp[n as usize] = self.run;
            self.dist[n as usize] = d;
            self.parent[n as usize] = parent;
            self.heap.push(HeapItem(d, n));
        }
    }
}

impl RouteNetwork {
    fn seg_nodes(&self, way: u32, seg: u32) -> (u32, u32) {
        // INVARIANT: validated at load: every (way, seg) from the index or the graph
        // exists and its node indices are in range.
        let nodes = &self.stored.ways[way as usize].nodes;
        (nodes[seg as usize], nodes[seg as usize + 1])
    }

    fn seg_len(&self, way: u32, seg: u32) -> f64 {
        let c = &self.cum[way as usize];
        c[seg as usize + 1] - c[seg as usize]
    }

    fn oneway(&self, way: u32) -> i8 {
        self.stored.ways[way as usize].oneway
    }

    fn position(&self, c: &Candidate) -> f64 {
        self.cum[c.way as usize][c.seg as usize] + c.frac * self.seg_len(c.way, c.seg)
    }

    pub(crate) fn point_xy(&self, way: u32, seg: u32, frac: f64) -> [f64; 2] {
        let (a, b) = self.seg_nodes(way, seg);
        lerp(self.xy[a as usize], self.xy[b as usize], frac)
    }

    /// Log-probability of observing a sample at a candidate: Gaussian in the distance,
    /// with a small prior against service roads (driveways, parking aisles), which
    /// often run a few metres beside a street and are rarely a permit route.
    fn emission(&self, c: &Candidate) -> f64 {
        let prior = if self.stored.ways[c.way as usize].highway == "service" { SERVICE_PENALTY } else { 0.0 };
        -0.5 * (c.dist / SIGMA_M).powi(2) - prior
    }

    /// Candidates around `p`: the closest segment of each way within the radius.
    pub(crate) fn candidates(&self, p: [f64; 2], radius: f64) -> Vec<Candidate> {
        let mut out = self.candidates_all(p, radius);
        out.truncate(MAX_CANDIDATES);
        out
    }

    fn candidates_all(&self, p: [f64; 2], radius: f64) -> Vec<Candidate> {
        let mut out: Vec<Candidate> = Vec::new();
        for item in self.tree.locate_within_distance(p, radius * radius) {
            let (way, seg) = item.data;
            let line = item.geom();
            let (frac, d) = project_on_segment(p, line.from, line.to);
            match out.iter_mut().find(|c| c.way == way) {
                Some(c) if c.dist <= d => {}
                Some(c) => *c = Candidate { way, seg, frac, dist: d },
                None => out.push(Candidate { way, seg, frac, dist: d }),
            }
        }
        out.sort_by(|a, b| a.dist.total_cmp(&b.dist).then(a.way.cmp(&b.way)));
        out
    }

    /// Drivable ways within `radius_m` metres of `lonlat` (`[lon, lat]`), from the
    /// spatial index: OSM way id and distance in metres, nearest first.
    pub fn ways_near(&self, lonlat: [f64; 2], radius_m: f64) -> Vec<(i64, f64)> {
        let mut out: Vec<(i64, f64)> = Vec::new();
        for c in self.candidates_all(self.proj.to_xy(lonlat), radius_m) {
            let id = self.stored.ways[c.way as usize].id;
            if !out.iter().any(|(w, _)| *w == id) {
                out.push((id, c.dist));
            }
        }
        out
    }

    /// Distance along one way between two candidates on it, if the way's direction
    /// allows (or the backward step is small enough to be drawing noise).
    fn same_way(&self, a: &Candidate, b: &Candidate) -> Option<f64> {
        if a.way != b.way {
            return None;
        }
        let d = self.position(b) - self.position(a);
        let ow = self.oneway(a.way);
        if (d >= 0.0 && ow >= 0) || (d <= 0.0 && ow <= 0) || d.abs() <= NOISE_BACK_M { Some(d.abs()) } else { None }
    }

    /// Seeds Dijkstra with the ends of `a`'s segment reachable from it.
    fn seed(&self, a: &Candidate, s: &mut Scratch) {
        let (u, v) = self.seg_nodes(a.way, a.seg);
        let len = self.seg_len(a.way, a.seg);
        let ow = self.oneway(a.way);
        if ow >= 0 {
            s.relax(v, (1.0 - a.frac) * len, NO_PARENT);
        }
        if ow <= 0 {
            s.relax(u, a.frac * len, NO_PARENT);
        }
    }

    /// Entry nodes of `b`'s segment with the remaining distance to `b`.
    fn entries(&self, b: &Candidate) -> [(u32, f64); 2] {
        let (u, v) = self.seg_nodes(b.way, b.seg);
        let len = self.seg_len(b.way, b.seg);
        let ow = self.oneway(b.way);
        [
            (u, if ow >= 0 { b.frac * len } else { f64::INFINITY }),
            (v, if ow <= 0 { (1.0 - b.frac) * len } else { f64::INFINITY }),
        ]
    }

    /// Network distances from `a` to each of `targets`, `INFINITY` beyond `bound`.
    fn distances(&self, a: &Candidate, targets: &[Candidate], bound: f64, s: &mut Scratch) -> Vec<f64> {
        let mut best: Vec<f64> = targets.iter().map(|b| self.same_way(a, b).unwrap_or(f64::INFINITY)).collect();
        let pending: Vec<usize> =
            (0..targets.len()).filter(|&j| targets[j].way != a.way || best[j].is_infinite()).collect();
        if pending.is_empty() {
            return best;
        }
        let entries: Vec<[(u32, f64); 2]> = pending.iter().map(|&j| self.entries(&targets[j])).collect();
        s.start();
        self.seed(a, s);
        while let Some(HeapItem(d, n)) = s.heap.pop() {
            if d > s.get(n) {
                continue;
            }
            if d > bound {
                break;
            }
            let mut open = false;
            for (k, &j) in pending.iter().enumerate() {
                for (node, extra) in entries[k] {
                    if node == n && d + extra < best[j] {
                        best[j] = d + extra;
                    }
                }
                if best[j] > d {
                    open = true;
                }
            }
            if !open {
                break;
            }
            // INVARIANT: `first` has one entry per node plus one.
            let (lo, hi) = (self.first[n as usize] as usize, self.first[n as usize + 1] as usize);
            for ei in lo..hi {
                let e = self.edges[ei];
                s.relax(e.to, d + e.len, ei as u32);
            }
        }
        for b in &mut best {
            if *b > bound {
                *b = f64::INFINITY;
            }
        }
        best
    }

    /// The pieces travelled from `a` to `b`, following the same rule as [`Self::distances`].
    fn path(&self, a: &Candidate, b: &Candidate, bound: f64, s: &mut Scratch) -> Vec<Piece> {
        if self.same_way(a, b).is_some() {
            return self.along_way(a, b);
        }
        s.start();
        self.seed(a, s);
        let targets = self.entries(b);
        let mut best = (f64::INFINITY, u32::MAX);
        while let Some(HeapItem(d, n)) = s.heap.pop() {
            if d > s.get(n) {
                continue;
            }
            if d > bound || d >= best.0 {
                break;
            }
            for (node, extra) in targets {
                if node == n && d + extra < best.0 {
                    best = (d + extra, n);
                }
            }
            let (lo, hi) = (self.first[n as usize] as usize, self.first[n as usize + 1] as usize);
            for ei in lo..hi {
                let e = self.edges[ei];
                s.relax(e.to, d + e.len, ei as u32);
            }
        }
        if best.1 == u32::MAX {
            return Vec::new();
        }
        // Walk parents back from the entry node of b's segment.
        let mut edges = Vec::new();
        let mut n = best.1;
        while s.stamp[n as usize] == s.run && s.parent[n as usize] != NO_PARENT {
            let ei = s.parent[n as usize];
            edges.push(ei);
            let e = self.edges[ei as usize];
            let (u, v) = self.seg_nodes(e.way, e.seg);
            n = if e.to == v { u } else { v };
        }
        edges.reverse();
        let mut pieces = Vec::with_capacity(edges.len() + 2);
        let (u0, _) = self.seg_nodes(a.way, a.seg);
        let exit = if edges.is_empty() {
            best.1
        } else {
            let e = self.edges[edges[0] as usize];
            let (u, v) = self.seg_nodes(e.way, e.seg);
            if e.to == v { u } else { v }
        };
        pieces.push(Piece { way: a.way, seg: a.seg, f0: a.frac, f1: if exit == u0 { 0.0 } else { 1.0 } });
        for ei in edges {
            let e = self.edges[ei as usize];
            let (_, v) = self.seg_nodes(e.way, e.seg);
            let fwd = e.to == v;
            pieces.push(Piece {
                way: e.way,
                seg: e.seg,
                f0: if fwd { 0.0 } else { 1.0 },
                f1: if fwd { 1.0 } else { 0.0 },
            });
        }
        let (ub, _) = self.seg_nodes(b.way, b.seg);
        pieces.push(Piece { way: b.way, seg: b.seg, f0: if best.1 == ub { 0.0 } else { 1.0 }, f1: b.frac });
        pieces
    }

    /// Pieces along one way from `a` to `b`.
    fn along_way(&self, a: &Candidate, b: &Candidate) -> Vec<Piece> {
        let way = a.way;
        let forward = (b.seg, b.frac) >= (a.seg, a.frac);
        let mut out = Vec::new();
        if a.seg == b.seg {
            out.push(Piece { way, seg: a.seg, f0: a.frac, f1: b.frac });
        } else if forward {
            out.push(Piece { way, seg: a.seg, f0: a.frac, f1: 1.0 });
            for seg in a.seg + 1..b.seg {
                out.push(Piece { way, seg, f0: 0.0, f1: 1.0 });
            }
            out.push(Piece { way, seg: b.seg, f0: 0.0, f1: b.frac });
        } else {
            out.push(Piece { way, seg: a.seg, f0: a.frac, f1: 0.0 });
            for seg in (b.seg + 1..a.seg).rev() {
                out.push(Piece { way, seg, f0: 1.0, f1: 0.0 });
            }
            out.push(Piece { way, seg: b.seg, f0: 1.0, f1: b.frac });
        }
        out
    }

    /// Matches a declared route (`[lon, lat]` WGS84 vertices) onto the network and
    /// reports the ways travelled and every restriction met. Never panics; bad input
    /// gives an empty match with problems.
    pub fn match_route(&self, coords: &[[f64; 2]]) -> RouteMatch {
        let mut scratch = Scratch::new(self.xy.len());
        self.match_route_with(coords, &mut scratch)
    }

    pub(crate) fn match_route_with(&self, coords: &[[f64; 2]], scratch: &mut Scratch) -> RouteMatch {
        let mut problems = Vec::new();
        let valid = coords.len() >= 2
            && coords.iter().all(|c| c[0].is_finite() && c[1].is_finite() && c[0].abs() <= 180.0 && c[1].abs() <= 90.0);
        if !valid {
            let first = coords.first().copied().unwrap_or([0.0, 0.0]);
            problems.push(MatchProblem {
                kind: MatchProblemKind::InvalidGeometry,
                lon: first[0],
                lat: first[1],
                km: 0.0,
                message: "the route needs at least two points with valid longitude and latitude".into(),
            });
            return empty_match(problems, 0.0);
        }
        let samples = self.resample(coords);
        let declared_m = samples.last().map_or(0.0, |s| s.km * 1000.0);

        // Viterbi over chains of samples that have candidates and connect.
        let mut chains: Vec<Vec<(usize, Candidate)>> = Vec::new();
        let mut layers: Vec<Layer> = Vec::new();
        let mut last_kind: Option<MatchProblemKind> = None;
        for (i, smp) in samples.iter().enumerate() {
            let inside = smp.xy[0] >= self.bbox[0] - SEARCH_RADIUS_M
                && smp.xy[1] >= self.bbox[1] - SEARCH_RADIUS_M
                && smp.xy[0] <= self.bbox[2] + SEARCH_RADIUS_M
                && smp.xy[1] <= self.bbox[3] + SEARCH_RADIUS_M;
            let cands = if inside { self.candidates(smp.xy, SEARCH_RADIUS_M) } else { Vec::new() };
            if cands.is_empty() {
                let kind = if inside { MatchProblemKind::OffNetwork } else { MatchProblemKind::OutsideCoverage };
                if last_kind != Some(kind) {
                    problems.push(problem(kind, smp));
                }
                last_kind = Some(kind);
                finish_chain(&mut layers, &mut chains);
                continue;
            }
            last_kind = None;
            let emissions: Vec<f64> = cands.iter().map(|c| self.emission(c)).collect();
            let Some((pi, prev, prev_scores, _)) = layers.last() else {
                layers.push((i, cands, emissions, Vec::new()));
                continue;
            };
            let straight = dist(samples[*pi].xy, smp.xy);
            let bound = 2.0 * straight + 2.0 * SEARCH_RADIUS_M + 30.0;
            let top = prev_scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut scores = vec![f64::NEG_INFINITY; cands.len()];
            let mut back = vec![0usize; cands.len()];
            for (ai, a) in prev.iter().enumerate() {
                if prev_scores[ai] < top - BEAM {
                    continue;
                }
                let ds = self.distances(a, &cands, bound, scratch);
                for (bi, d) in ds.iter().enumerate() {
                    if d.is_finite() {
                        let s = prev_scores[ai] - (d - straight).abs() / BETA_M + emissions[bi];
                        if s > scores[bi] {
                            scores[bi] = s;
                            back[bi] = ai;
                        }
                    }
                }
            }
            if scores.iter().all(|s| s.is_infinite()) {
                problems.push(MatchProblem {
                    kind: MatchProblemKind::Gap,
                    lon: smp.lonlat[0],
                    lat: smp.lonlat[1],
                    km: smp.km,
                    message: format!(
                        "the route cannot be followed on the road network near km {:.2} (no connected road in the drawn direction)",
                        smp.km
                    ),
                });
                finish_chain(&mut layers, &mut chains);
                layers.push((i, cands, emissions, Vec::new()));
                continue;
            }
            layers.push((i, cands, scores, back));
        }
        finish_chain(&mut layers, &mut chains);

        // Pieces of every chain, with artefact U-turns removed.
        let mut all: Vec<Vec<Piece>> = Vec::new();
        let mut matched_declared_m = 0.0;
        let mut near = 0usize;
        let mut total = 0usize;
        let mut worst: Option<(f64, usize)> = None;
        for chain in &chains {
            let mut pieces = Vec::new();
            for w in chain.windows(2) {
                let (ia, a) = w[0];
                let (ib, b) = w[1];
                let straight = dist(samples[ia].xy, samples[ib].xy);
                let bound = 2.0 * straight + 2.0 * SEARCH_RADIUS_M + 30.0;
                pieces.extend(self.path(&a, &b, bound, scratch));
            }
            if let (Some((i0, _)), Some((i1, _))) = (chain.first(), chain.last()) {
                matched_declared_m += (samples[*i1].km - samples[*i0].km) * 1000.0;
            }
            for &(i, c) in chain {
                total += 1;
                if c.dist <= NEAR_M {
                    near += 1;
                }
                if worst.is_none_or(|(d, _)| c.dist > d) {
                    worst = Some((c.dist, i));
                }
            }
            all.push(cancel_uturns(self, pieces));
        }
        let mut m = self.report(&all);
        m.problems = problems;
        m.declared_length_m = declared_m;
        let coverage = if declared_m > 0.0 { (matched_declared_m / declared_m).min(1.0) } else { 0.0 };
        let closeness = if total > 0 { near as f64 / total as f64 } else { 0.0 };
        let ratio = if m.length_m > 0.0 && matched_declared_m > 0.0 {
            m.length_m.min(matched_declared_m) / m.length_m.max(matched_declared_m)
        } else {
            0.0
        };
        m.confidence = (coverage * closeness * ratio).clamp(0.0, 1.0);
        if m.confidence < LOW_CONFIDENCE {
            let at = worst.map_or(&samples[0], |(_, i)| &samples[i]);
            m.problems.push(MatchProblem {
                kind: MatchProblemKind::LowConfidence,
                lon: at.lonlat[0],
                lat: at.lonlat[1],
                km: at.km,
                message: format!(
                    "the route matches the road network with confidence {:.2} only ({:.0}% of its length matched, {:.0}% of points within {NEAR_M} m of the matched road); the worst point is here",
                    m.confidence,
                    coverage * 100.0,
                    closeness * 100.0
                ),
            });
        }
        m.problems.sort_by(|a, b| a.km.total_cmp(&b.km));
        m
    }

    /// Samples of the declared route: its own vertices (they carry its shape), skipping
    /// those closer than [`MIN_STEP_M`] to the previous sample, plus points inserted
    /// on stretches longer than [`SAMPLE_STEP_M`]. The last vertex is always kept.
    fn resample(&self, coords: &[[f64; 2]]) -> Vec<Sample> {
        let pts: Vec<[f64; 2]> = coords.iter().map(|&c| self.proj.to_xy(c)).collect();
        let mut out: Vec<Sample> = Vec::with_capacity(pts.len());
        let mut walked = 0.0;
        let mut last_km = 0.0;
        for (i, &p) in pts.iter().enumerate() {
            if i > 0 {
                walked += dist(pts[i - 1], p);
            }
            let Some(prev) = out.last() else {
                out.push(Sample { xy: p, lonlat: self.proj.to_lonlat(p), km: 0.0 });
                continue;
            };
            let gap = dist(prev.xy, p);
            let is_last = i + 1 == pts.len();
            if gap < MIN_STEP_M && !is_last {
                continue;
            }
            // Long stretch: interpolate so that no two samples are far apart.
            let n = (gap / SAMPLE_STEP_M).ceil().max(1.0) as usize;
            let (from, from_km) = (prev.xy, last_km);
            let km = walked / 1000.0;
            for k in 1..n {
                let t = k as f64 / n as f64;
                let xy = lerp(from, p, t);
                out.push(Sample { xy, lonlat: self.proj.to_lonlat(xy), km: from_km + (km - from_km) * t });
            }
            out.push(Sample { xy: p, lonlat: self.proj.to_lonlat(p), km });
            last_km = km;
        }
        out
    }

    /// Builds ways, segments and restriction hits from the matched pieces.
    fn report(&self, chains: &[Vec<Piece>]) -> RouteMatch {
        let mut ways: Vec<TravelledWay> = Vec::new();
        let mut segments = Vec::new();
        let mut hits = Vec::new();
        let mut km = 0.0;
        let mut prev_end: Option<[f64; 2]> = None;
        for pieces in chains {
            let mut prev: Option<Piece> = None;
            if let (Some(end), Some(p)) = (prev_end, pieces.first()) {
                // Across a gap: count the straight distance so km stays comparable.
                km += dist(end, self.point_xy(p.way, p.seg, p.f0)) / 1000.0;
            }
            for p in pieces {
                let len = self.seg_len(p.way, p.seg) * (p.f1 - p.f0).abs();
                let w = &self.stored.ways[p.way as usize];
                let a = self.point_xy(p.way, p.seg, p.f0);
                let b = self.point_xy(p.way, p.seg, p.f1);
                // Node passed between two pieces.
                if let Some(q) = prev {
                    let (u, v) = self.seg_nodes(q.way, q.seg);
                    let node = if q.f1 >= 1.0 {
                        Some(v)
                    } else if q.f1 <= 0.0 {
                        Some(u)
                    } else {
                        None
                    };
                    if let Some(n) = node
                        && let Some(ts) = self.node_hits.get(&n)
                    {
                        let ll = self.lonlat(n);
                        hits.extend(ts.iter().map(|t| hit(t, ll, km)));
                    }
                }
                let new_way = prev.is_none_or(|q| q.way != p.way);
                if new_way {
                    let ll = self.proj.to_lonlat(a);
                    hits.extend(self.way_hits[p.way as usize].iter().map(|t| hit(t, ll, km)));
                    match ways.last_mut() {
                        Some(last) if last.way_id == w.id && prev.is_some() => {}
                        _ => ways.push(TravelledWay {
                            way_id: w.id,
                            name: w.name.clone(),
                            highway: w.highway.clone(),
                            from_km: km,
                            to_km: km,
                        }),
                    }
                }
                if let Some(sh) = self.seg_hits.get(&(p.way, p.seg)) {
                    let (lo, hi) = (p.f0.min(p.f1), p.f0.max(p.f1));
                    for (f, t) in sh {
                        if (lo..=hi).contains(f) && hi > lo {
                            let at = km + self.seg_len(p.way, p.seg) * (f - p.f0).abs() / 1000.0;
                            let ll = self.proj.to_lonlat(self.point_xy(p.way, p.seg, *f));
                            hits.push(hit(t, ll, at));
                        }
                    }
                }
                segments.push(MatchedSegment {
                    way_id: w.id,
                    from: self.proj.to_lonlat(a),
                    to: self.proj.to_lonlat(b),
                    from_km: km,
                    to_km: km + len / 1000.0,
                });
                km += len / 1000.0;
                if let Some(last) = ways.last_mut() {
                    last.to_km = km;
                }
                prev = Some(*p);
                prev_end = Some(b);
            }
        }
        hits.sort_by(|a, b| a.km.total_cmp(&b.km));
        let mut m = empty_match(Vec::new(), 0.0);
        m.length_m = segments.iter().map(|s| (s.to_km - s.from_km) * 1000.0).sum();
        m.ways = ways;
        m.hits = hits;
        m.segments = segments;
        m
    }
}

fn hit(t: &HitTemplate, ll: [f64; 2], km: f64) -> RestrictionHit {
    RestrictionHit {
        kind: t.kind,
        limit: t.limit,
        tag: t.tag.clone(),
        raw: t.raw.clone(),
        source: t.source.clone(),
        lon: ll[0],
        lat: ll[1],
        km,
    }
}

fn problem(kind: MatchProblemKind, s: &Sample) -> MatchProblem {
    let message = match kind {
        MatchProblemKind::OutsideCoverage => {
            format!("the route leaves the area covered by the road data at km {:.2}", s.km)
        }
        _ => format!("no drivable road within {SEARCH_RADIUS_M} m of the route at km {:.2}", s.km),
    };
    MatchProblem { kind, lon: s.lonlat[0], lat: s.lonlat[1], km: s.km, message }
}

fn empty_match(problems: Vec<MatchProblem>, declared_length_m: f64) -> RouteMatch {
    RouteMatch {
        length_m: 0.0,
        declared_length_m,
        confidence: 0.0,
        problems,
        ways: Vec::new(),
        hits: Vec::new(),
        segments: Vec::new(),
    }
}

/// Backtracks the Viterbi layers into a chain of (sample index, chosen candidate).
fn finish_chain(layers: &mut Vec<Layer>, chains: &mut Vec<Vec<(usize, Candidate)>>) {
    let Some((_, _, scores, _)) = layers.last() else {
        return;
    };
    let mut best = 0;
    for (i, s) in scores.iter().enumerate() {
        if *s > scores[best] {
            best = i;
        }
    }
    let mut chain = Vec::with_capacity(layers.len());
    for (i, cands, _, back) in layers.iter().rev() {
        chain.push((*i, cands[best]));
        if let Some(&b) = back.get(best) {
            best = b;
        }
    }
    chain.reverse();
    chains.push(chain);
    layers.clear();
}

/// Removes short back-and-forth movements on one segment (a candidate on a side road
/// at an intersection, noise on a one-way road): they are matching artefacts, and
/// keeping them would report the side road's restrictions.
fn cancel_uturns(net: &RouteNetwork, pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
    'next: for mut cur in pieces {
        while let Some(top) = out.last().copied() {
            if top.way != cur.way || top.seg != cur.seg {
                break;
            }
            let reverses = (top.f1 - top.f0) * (cur.f1 - cur.f0) < 0.0;
            let back = (cur.f1 - cur.f0).abs().min((top.f1 - top.f0).abs());
            if reverses && net.seg_len(cur.way, cur.seg) * back > MAX_ARTEFACT_UTURN_M {
                break;
            }
            // Consecutive pieces on one segment are continuous: merge them.
            out.pop();
            cur = Piece { f0: top.f0, ..cur };
            if (cur.f1 - cur.f0).abs() < 1e-9 {
                // Back where the excursion began: it vanishes; the piece that led into
                // it may meet its own reversal with the next piece.
                continue 'next;
            }
        }
        if (cur.f1 - cur.f0).abs() >= 1e-9 {
            out.push(cur);
        }
    }
    out
}
