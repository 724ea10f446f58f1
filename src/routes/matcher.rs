//! HMM map matching in the spirit of Newson & Krumm (2009).
//!
//! The declared route is thinned to samples at least [`MIN_STEP_M`] apart (points are
//! inserted on stretches longer than [`SAMPLE_STEP_M`]). Each sample gets candidate
//! positions on nearby road segments from the network's segment grid: the closest
//! segment of each way, the [`MAX_CANDIDATES`] nearest within [`SEARCH_RADIUS_M`].
//! Emission: Gaussian in the distance from sample to candidate, weighted by the length
//! of route the sample stands for (so the evidence does not depend on the thinning).
//! Transition: exponential in the difference between the network distance of two
//! candidates (bounded Dijkstra on the directed graph, one-way streets respected) and
//! the straight distance between the two samples, plus a one-off cost for entering a
//! service road. Viterbi picks the most likely sequence; roads that are parallel, merely
//! crossed at an intersection or at another level (no shared node) lose because reaching
//! them costs a detour.
//! Samples without candidates, or transitions with no path, break the chain and are
//! reported.
//!
//! Speed: candidates come from a uniform grid with cells about the search radius (a few
//! array lookups, where an R-tree descent costs several times more); candidates below
//! the beam of their layer are not expanded; moves along one way are scored without a
//! search; one Dijkstra per previous candidate settles all next candidates at once and
//! only as far as a path could still improve a candidate's score (a tight detour bound
//! first, the wide one only where nothing connects); the Dijkstra arrays live in a
//! thread-local scratch reused between calls.

use crate::routes::access::Direction;
use crate::routes::alternatives::PathIndex;
use crate::routes::network::RouteNetwork;
use crate::routes::project::{dist, lerp, project_on_segment_2};
use crate::routes::{MatchProblem, MatchProblemKind, MatchedSegment, RouteMatch, TravelledWay};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Largest spacing of the samples taken along the declared route, metres.
pub const SAMPLE_STEP_M: f64 = 35.0;
/// Vertices of the declared route closer than this to the previous sample are skipped.
pub const MIN_STEP_M: f64 = 30.0;
/// Length of route whose distance to the road counts as one Gaussian observation.
const EVIDENCE_STEP_M: f64 = 10.0;
/// Radius of the candidate search around a sample, metres.
pub const SEARCH_RADIUS_M: f64 = 45.0;
/// Standard deviation of the offset between the declared route and OSM, metres.
const SIGMA_M: f64 = 8.0;
/// Scale of the exponential transition model, metres of detour.
const BETA_M: f64 = 8.0;
/// Log-probability penalty for entering a `highway=service` road.
const SERVICE_ENTRY_PENALTY: f64 = 2.0;
/// Candidates kept per sample.
const MAX_CANDIDATES: usize = 6;
/// Radius of the first, cheaper candidate search around a sample, metres.
const NEAR_RADIUS_M: f64 = 30.0;
/// Roads this much further than the nearest one are not candidates worth a full-radius
/// search, metres: with [`SIGMA_M`] = 8 m, a road beyond [`NEAR_RADIUS_M`] scores at
/// least 6 (log-probability) per observation below one within 10 m.
const FAR_MARGIN_M: f64 = 20.0;
/// Samples further than this from the matched road lower the confidence, metres.
const NEAR_M: f64 = 25.0;
/// Backward movement on a one-way road tolerated as drawing noise, metres.
const NOISE_BACK_M: f64 = 6.0;
/// U-turns shorter than this are matching artefacts and removed, metres.
const MAX_ARTEFACT_UTURN_M: f64 = 30.0;
/// Candidates this far (log-probability) below the best of their sample are dropped.
const BEAM: f64 = 8.0;
/// Detour (log-probability, in units of [`BETA_M`]) searched first between two samples.
const TIGHT_DETOUR: f64 = 6.0;
/// Matched and declared lengths this close agree fully, metres: about one drawing step
/// cut at each end or corner...
const LENGTH_TOLERANCE_M: f64 = 25.0;
/// ...but at most this share of the longer: a route of 60 m has no room to cut 25 m,
/// and a short drawing that the match follows only partly must not pass as a good match.
const LENGTH_TOLERANCE_SHARE: f64 = 0.25;
/// Below this the match is reported as low confidence.
const LOW_CONFIDENCE: f64 = 0.8;

/// The Viterbi lattice of the chain being built, stored flat (no allocation per step):
/// layer `l` is sample `sample[l]` with candidates, scores and back pointers (indices
/// into layer `l - 1`) at `start[l]..start[l + 1]`.
struct Lattice {
    sample: Vec<usize>,
    start: Vec<usize>,
    cands: Vec<Candidate>,
    scores: Vec<f64>,
    back: Vec<usize>,
}

impl Lattice {
    /// Sized for `layers` layers of full candidate lists: growing five vectors step by
    /// step cost dozens of reallocations per match.
    fn new(layers: usize) -> Lattice {
        let n = layers * MAX_CANDIDATES;
        let mut start = Vec::with_capacity(layers + 1);
        start.push(0);
        Lattice {
            sample: Vec::with_capacity(layers),
            start,
            cands: Vec::with_capacity(n),
            scores: Vec::with_capacity(n),
            back: Vec::with_capacity(n),
        }
    }

    /// The last layer: sample index, candidates, scores.
    fn last(&self) -> Option<(usize, &[Candidate], &[f64])> {
        let l = self.sample.len().checked_sub(1)?;
        let r = self.start[l]..self.start[l + 1];
        Some((self.sample[l], &self.cands[r.clone()], &self.scores[r]))
    }

    /// Appends a layer; `back` is empty at the start of a chain.
    fn push(&mut self, sample: usize, cands: &[Candidate], scores: &[f64], back: &[usize]) {
        self.sample.push(sample);
        self.cands.extend_from_slice(cands);
        self.scores.extend_from_slice(scores);
        if back.len() == cands.len() {
            self.back.extend_from_slice(back);
        } else {
            self.back.extend(std::iter::repeat_n(0, cands.len()));
        }
        self.start.push(self.cands.len());
    }

    /// Backtracks the best path into a chain of (sample index, chosen candidate) and
    /// empties the lattice.
    fn finish(&mut self, chains: &mut Vec<Vec<(usize, Candidate)>>) {
        if let Some((_, _, scores)) = self.last() {
            let mut best = 0;
            for (i, s) in scores.iter().enumerate() {
                if *s > scores[best] {
                    best = i;
                }
            }
            let layers = self.sample.len();
            let mut chain = Vec::with_capacity(layers);
            for l in (0..layers).rev() {
                let at = self.start[l] + best;
                chain.push((self.sample[l], self.cands[at]));
                best = self.back[at];
            }
            chain.reverse();
            chains.push(chain);
        }
        self.sample.clear();
        self.start.truncate(1);
        self.cands.clear();
        self.scores.clear();
        self.back.clear();
    }
}

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
pub(crate) struct Sample {
    pub xy: [f64; 2],
    pub lonlat: [f64; 2],
    pub km: f64,
}

#[derive(Clone, Copy, PartialEq)]
pub(crate) struct HeapItem(pub f64, pub u32);
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
    /// Edges of the last path found, reused between calls.
    path: Vec<u32>,
    /// Nodes settled since the match began.
    settled: u64,
}

const NO_PARENT: u32 = u32::MAX;

/// Nodes the searches of one match may settle: a floor plus an allowance per km of declared
/// route. Routes on the evaluation's real extracts settle 210 per km (median), 3,400 at most;
/// one drawn to zigzag or to jump between far vertices would settle without end and hold a
/// review thread for seconds. Counted in nodes, not time, so that a replay is identical.
const WORK: Work = Work { floor: 200_000, per_km: 20_000 };

/// How many nodes one match may settle.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Work {
    floor: u64,
    per_km: u64,
}

impl Work {
    fn budget(self, declared_m: f64) -> u64 {
        self.floor + (declared_m / 1000.0) as u64 * self.per_km
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::new(0));
}

impl Scratch {
    pub(crate) fn new(nodes: usize) -> Scratch {
        Scratch {
            dist: vec![0.0; nodes],
            parent: vec![0; nodes],
            stamp: vec![0; nodes],
            run: 0,
            heap: BinaryHeap::new(),
            path: Vec::new(),
            settled: 0,
        }
    }

    /// Makes room for a network of `nodes` nodes. Entries of earlier runs stay stamped
    /// with older run numbers, so they read as unset.
    fn fit(&mut self, nodes: usize) {
        if self.dist.len() < nodes {
            self.dist.resize(nodes, 0.0);
            self.parent.resize(nodes, 0);
            self.stamp.resize(nodes, 0);
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

    // Inlined: called for every edge scanned, and the call costs as much as the test.
    #[inline(always)]
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
    pub(crate) fn seg_nodes(&self, way: u32, seg: u32) -> (u32, u32) {
        // INVARIANT: validated at load: every (way, seg) from the index or the graph
        // exists and its node indices are in range.
        let nodes = &self.stored.ways[way as usize].nodes;
        (nodes[seg as usize], nodes[seg as usize + 1])
    }

    /// The node at fraction `f` of piece `p`'s segment, if `f` is one of its ends.
    pub(crate) fn node_at(&self, p: &Piece, f: f64) -> Option<u32> {
        let (u, v) = self.seg_nodes(p.way, p.seg);
        if f <= 0.0 {
            Some(u)
        } else if f >= 1.0 {
            Some(v)
        } else {
            None
        }
    }

    pub(crate) fn seg_len(&self, way: u32, seg: u32) -> f64 {
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

    /// Log-probability of observing a sample at a candidate: Gaussian in the distance.
    fn emission(&self, c: &Candidate) -> f64 {
        -0.5 * (c.dist / SIGMA_M).powi(2)
    }

    /// A small prior against entering a service road (driveway, parking aisle), which
    /// often runs a few metres beside a street and is rarely a permit route: paid once
    /// per entry (`from` is `None` at the start of a chain), not per sample, so that a
    /// service road the route clearly follows (closer at every sample) still wins.
    fn entry_cost(&self, from: Option<u32>, to: u32) -> f64 {
        if self.service[to as usize] && from.is_none_or(|f| !self.service[f as usize]) {
            SERVICE_ENTRY_PENALTY
        } else {
            0.0
        }
    }

    /// Scores of the first sample of a chain.
    fn chain_start(&self, cands: &[Candidate], emissions: &[f64]) -> Vec<f64> {
        cands.iter().zip(emissions).map(|(c, e)| e - self.entry_cost(None, c.way)).collect()
    }

    /// Candidates around `p` into `out`: the closest segment of each way within
    /// [`SEARCH_RADIUS_M`], nearest first, at most [`MAX_CANDIDATES`]. The grid is
    /// queried within [`NEAR_RADIUS_M`] first (query cost grows with the area): where
    /// that finds a road within `NEAR_RADIUS_M - FAR_MARGIN_M`, roads beyond
    /// `NEAR_RADIUS_M` are at least [`FAR_MARGIN_M`] further than it and cannot compete
    /// (their emission is far below the beam); elsewhere the full radius is searched.
    fn candidates_into(&self, p: [f64; 2], out: &mut Vec<Candidate>) {
        self.candidates_all(p, NEAR_RADIUS_M, out);
        let near = NEAR_RADIUS_M - FAR_MARGIN_M;
        if out.first().is_none_or(|c| c.dist > near) {
            self.candidates_all(p, SEARCH_RADIUS_M, out);
        }
        out.truncate(MAX_CANDIDATES);
    }

    /// Every way within `radius` of `p` with its closest segment, nearest first.
    fn candidates_all(&self, p: [f64; 2], radius: f64, out: &mut Vec<Candidate>) {
        out.clear();
        let r2 = radius * radius;
        self.grid.for_each_near(p, radius, |s| {
            let (frac, d2) = project_on_segment_2(p, s.a, s.b);
            if d2 <= r2 {
                push_closest(out, Candidate { way: s.id.0, seg: s.id.1, frac, dist: d2 });
            }
        });
        finish_candidates(out);
    }

    /// Drivable ways within `radius_m` metres of `lonlat` (`[lon, lat]`), from the
    /// spatial index: OSM way id and distance in metres, nearest first.
    pub fn ways_near(&self, lonlat: [f64; 2], radius_m: f64) -> Vec<(i64, f64)> {
        let mut out: Vec<(i64, f64)> = Vec::new();
        let mut cands = Vec::new();
        self.candidates_all(self.proj.to_xy(lonlat), radius_m, &mut cands);
        for c in cands {
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

    /// Network distances from `a` to each of `targets` into `out`, `INFINITY` beyond the
    /// target's entry in `limits` (the longest path that could still matter to it). One
    /// bounded Dijkstra settles every target at once; it stops as soon as no target can
    /// improve. `entries` are the targets' [`Self::entries`], computed once per layer.
    fn distances(
        &self,
        a: &Candidate,
        targets: &[Candidate],
        entries: &[[(u32, f64); 2]],
        limits: &[f64],
        s: &mut Scratch,
        out: &mut Vec<f64>,
    ) {
        let bound = limits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        out.clear();
        out.extend(targets.iter().map(|b| self.same_way(a, b).unwrap_or(f64::INFINITY)));
        // Entry nodes of the targets still to be reached through the graph.
        let mut flat = [(u32::MAX, 0.0, 0usize); 2 * MAX_CANDIDATES];
        let mut nflat = 0;
        for (j, b) in targets.iter().enumerate().take(MAX_CANDIDATES) {
            if (b.way != a.way || out[j].is_infinite()) && limits[j] >= 0.0 {
                for &(node, extra) in &entries[j] {
                    if extra.is_finite() {
                        flat[nflat] = (node, extra, j);
                        nflat += 1;
                    }
                }
            }
        }
        let flat = &flat[..nflat];
        // One bit per entry node (by its low bits): most settled nodes are no entry, and
        // this test spares the scan of `flat` for them.
        let mask = flat.iter().fold(0u64, |m, &(node, _, _)| m | 1 << (node % 64));
        // Distance beyond which no pending target can improve.
        let need = |out: &[f64]| flat.iter().map(|&(_, _, j)| out[j].min(limits[j])).fold(f64::NEG_INFINITY, f64::max);
        let mut open_to = need(out);
        if !flat.is_empty() {
            s.start();
            self.seed(a, s);
            while let Some(HeapItem(d, n)) = s.heap.pop() {
                if d > s.get(n) {
                    continue;
                }
                s.settled += 1;
                if mask >> (n % 64) & 1 == 1 {
                    for &(node, extra, j) in flat {
                        if node == n && d + extra < out[j] {
                            out[j] = d + extra;
                        }
                    }
                    open_to = need(out);
                }
                if d >= open_to || d > bound {
                    break;
                }
                // INVARIANT: `first` has one entry per node plus one.
                let (lo, hi) = (self.first[n as usize] as usize, self.first[n as usize + 1] as usize);
                let reach = open_to.min(bound);
                for (ei, e) in self.edges[lo..hi].iter().enumerate() {
                    if d + e.len <= reach {
                        s.relax(e.to, d + e.len, (lo + ei) as u32);
                    }
                }
            }
        }
        for (b, limit) in out.iter_mut().zip(limits) {
            // A select, not a branch: which targets were reached is unpredictable.
            *b = if *b > bound.min(*limit) { f64::INFINITY } else { *b };
        }
    }

    /// The pieces travelled from `a` to `b`, following the same rule as [`Self::distances`].
    /// Appends them to `pieces`.
    fn path(&self, a: &Candidate, b: &Candidate, bound: f64, s: &mut Scratch, pieces: &mut Vec<Piece>) {
        if self.same_way(a, b).is_some() {
            self.along_way(a, b, pieces);
            return;
        }
        s.start();
        self.seed(a, s);
        let targets = self.entries(b);
        let mut best = (f64::INFINITY, u32::MAX);
        while let Some(HeapItem(d, n)) = s.heap.pop() {
            if d > s.get(n) {
                continue;
            }
            s.settled += 1;
            if d > bound || d >= best.0 {
                break;
            }
            for (node, extra) in targets {
                if node == n && d + extra < best.0 {
                    best = (d + extra, n);
                }
            }
            let (lo, hi) = (self.first[n as usize] as usize, self.first[n as usize + 1] as usize);
            let reach = bound.min(best.0);
            for ei in lo..hi {
                let e = self.edges[ei];
                if d + e.len <= reach {
                    s.relax(e.to, d + e.len, ei as u32);
                }
            }
        }
        if best.1 == u32::MAX {
            return;
        }
        // Walk parents back from the entry node of b's segment.
        let mut edges = std::mem::take(&mut s.path);
        edges.clear();
        let mut n = best.1;
        while s.stamp[n as usize] == s.run && s.parent[n as usize] != NO_PARENT {
            let ei = s.parent[n as usize];
            edges.push(ei);
            let e = self.edges[ei as usize];
            let (u, v) = self.seg_nodes(e.way, e.seg);
            n = if e.to == v { u } else { v };
        }
        edges.reverse();
        let (u0, _) = self.seg_nodes(a.way, a.seg);
        let exit = if edges.is_empty() {
            best.1
        } else {
            let e = self.edges[edges[0] as usize];
            let (u, v) = self.seg_nodes(e.way, e.seg);
            if e.to == v { u } else { v }
        };
        pieces.push(Piece { way: a.way, seg: a.seg, f0: a.frac, f1: if exit == u0 { 0.0 } else { 1.0 } });
        for &ei in &edges {
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
        s.path = edges;
    }

    /// Pieces along one way from `a` to `b`, appended to `out`.
    fn along_way(&self, a: &Candidate, b: &Candidate, out: &mut Vec<Piece>) {
        let way = a.way;
        let forward = (b.seg, b.frac) >= (a.seg, a.frac);
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
    }

    /// Matches a declared route (`[lon, lat]` WGS84 vertices) onto the network and
    /// reports the ways travelled and every restriction met. Never panics; bad input
    /// gives an empty match with problems.
    pub fn match_route(&self, coords: &[[f64; 2]]) -> RouteMatch {
        // One scratch per thread, reused between calls (and grown for a larger network);
        // a fresh one if it is in use already or the thread is shutting down.
        let nodes = self.xy.len();
        SCRATCH
            .try_with(|cell| {
                let mut scratch = cell.try_borrow_mut().ok()?;
                scratch.fit(nodes);
                Some(self.match_route_with(coords, &mut scratch, WORK))
            })
            .ok()
            .flatten()
            .unwrap_or_else(|| self.match_route_with(coords, &mut Scratch::new(nodes), WORK))
    }

    pub(crate) fn match_route_with(&self, coords: &[[f64; 2]], scratch: &mut Scratch, work: Work) -> RouteMatch {
        let mut problems = Vec::new();
        let valid = coords.len() >= 2 && coords.iter().all(|&[lon, lat]| crate::units::is_lon_lat(lon, lat));
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
        scratch.settled = 0;
        let budget = work.budget(declared_m);

        // Viterbi over chains of samples that have candidates and connect.
        let mut chains: Vec<Vec<(usize, Candidate)>> = Vec::new();
        let mut lattice = Lattice::new(samples.len());
        let mut cands: Vec<Candidate> = Vec::with_capacity(16);
        let mut emissions: Vec<f64> = Vec::new();
        let mut scores: Vec<f64> = Vec::new();
        let mut back: Vec<usize> = Vec::new();
        let mut last_kind: Option<MatchProblemKind> = None;
        let mut entries: Vec<[(u32, f64); 2]> = Vec::new();
        let mut ds: Vec<f64> = Vec::new();
        let mut limits: Vec<f64> = Vec::new();
        let mut order: Vec<usize> = Vec::new();
        for (i, smp) in samples.iter().enumerate() {
            if scratch.settled > budget {
                problems.push(problem_at(
                    MatchProblemKind::WorkLimit,
                    smp,
                    format!(
                        "matching stopped at km {:.2}: following this drawing on the road network takes more work than one review may spend, so the rest of the route is unchecked",
                        smp.km
                    ),
                ));
                break;
            }
            let inside = smp.xy[0] >= self.bbox[0] - SEARCH_RADIUS_M
                && smp.xy[1] >= self.bbox[1] - SEARCH_RADIUS_M
                && smp.xy[0] <= self.bbox[2] + SEARCH_RADIUS_M
                && smp.xy[1] <= self.bbox[3] + SEARCH_RADIUS_M;
            cands.clear();
            if inside {
                self.candidates_into(smp.xy, &mut cands);
            }
            if cands.is_empty() {
                let kind = if inside { MatchProblemKind::OffNetwork } else { MatchProblemKind::OutsideCoverage };
                if last_kind != Some(kind) {
                    problems.push(problem(kind, smp));
                }
                last_kind = Some(kind);
                lattice.finish(&mut chains);
                continue;
            }
            last_kind = None;

            // Each sample stands for the stretch of route since the previous one, so its
            // evidence counts in proportion (the result does not depend on thinning).
            let weight = if i == 0 { 1.0 } else { (samples[i].km - samples[i - 1].km) * 1000.0 / EVIDENCE_STEP_M };
            emissions.clear();
            emissions.extend(cands.iter().map(|c| weight * self.emission(c)));
            let Some((pi, prev, prev_scores)) = lattice.last() else {
                let start = self.chain_start(&cands, &emissions);
                lattice.push(i, &cands, &start, &[]);
                continue;
            };
            let straight = dist(samples[pi].xy, smp.xy);
            entries.clear();
            entries.extend(cands.iter().map(|b| self.entries(b)));
            let top = prev_scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            scores.clear();
            scores.resize(cands.len(), f64::NEG_INFINITY);
            back.clear();
            back.resize(cands.len(), 0);
            // A tight bound first (a detour costing more than TIGHT_DETOUR in
            // log-probability is never the best path when the road connects normally);
            // the wide bound only where nothing connects within it.
            for wide in [false, true] {
                let cap =
                    if wide { 2.0 * straight + 2.0 * SEARCH_RADIUS_M + 30.0 } else { straight + TIGHT_DETOUR * BETA_M };
                order.clear();
                // The wide pass, only run where nothing connected, tries every candidate.
                let beam = if wide { f64::INFINITY } else { BEAM };
                order.extend((0..prev.len()).filter(|&ai| prev_scores[ai] >= top - beam));
                order.sort_by(|&x, &y| prev_scores[y].total_cmp(&prev_scores[x]));
                // Moves along one way need no search: score them first, so that the
                // searches below know what they have to beat.
                for &ai in &order {
                    for (bi, b) in cands.iter().enumerate() {
                        if let Some(d) = self.same_way(&prev[ai], b).filter(|&d| d <= cap) {
                            let s = prev_scores[ai] - (d - straight).abs() / BETA_M + emissions[bi]
                                - self.entry_cost(Some(prev[ai].way), cands[bi].way);
                            if s > scores[bi] {
                                scores[bi] = s;
                                back[bi] = ai;
                            }
                        }
                    }
                }
                for &ai in &order {
                    // Longest path to each target that could still beat its best score
                    // (Viterbi keeps the maximum, so longer paths cannot matter) and keep
                    // it within the beam of this layer's best (else it is dropped anyway).
                    let floor = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max) - BEAM;
                    limits.clear();
                    limits.extend(
                        emissions
                            .iter()
                            .zip(&scores)
                            .map(|(e, best)| (straight + BETA_M * (prev_scores[ai] + e - best.max(floor))).min(cap)),
                    );
                    let bound = limits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    if bound < 0.0 {
                        continue;
                    }
                    self.distances(&prev[ai], &cands, &entries, &limits, scratch, &mut ds);
                    for (bi, d) in ds.iter().enumerate() {
                        if d.is_finite() {
                            let s = prev_scores[ai] - (d - straight).abs() / BETA_M + emissions[bi]
                                - self.entry_cost(Some(prev[ai].way), cands[bi].way);
                            if s > scores[bi] {
                                scores[bi] = s;
                                back[bi] = ai;
                            }
                        }
                    }
                }
                if scores.iter().any(|s| s.is_finite()) {
                    break;
                }
            }
            if scores.iter().all(|s| s.is_infinite()) {
                problems.push(problem_at(
                    MatchProblemKind::Gap,
                    smp,
                    format!(
                        "the route cannot be followed on the road network near km {:.2} (no connected road in the drawn direction)",
                        smp.km
                    ),
                ));
                lattice.finish(&mut chains);
                let start = self.chain_start(&cands, &emissions);
                lattice.push(i, &cands, &start, &[]);
                continue;
            }
            lattice.push(i, &cands, &scores, &back);
        }
        lattice.finish(&mut chains);

        // Pieces of every chain, with artefact U-turns removed.
        let mut all: Vec<Vec<Piece>> = Vec::new();
        let mut matched_declared_m = 0.0;
        let mut near = 0usize;
        let mut total = 0usize;
        let mut worst: Option<(f64, usize)> = None;
        let mut u_turns: Vec<MatchProblem> = Vec::new();
        for chain in &chains {
            let mut pieces = Vec::new();
            for w in chain.windows(2) {
                let (ia, a) = w[0];
                let (ib, b) = w[1];
                let straight = dist(samples[ia].xy, samples[ib].xy);
                let bound = 2.0 * straight + 2.0 * SEARCH_RADIUS_M + 30.0;
                self.path(&a, &b, bound, scratch, &mut pieces);
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
            let (pieces, turns) = self.turn_around(cancel_uturns(self, pieces));
            for turn in turns {
                let at = chain
                    .iter()
                    .map(|&(i, _)| &samples[i])
                    .min_by(|a, b| dist(a.xy, turn).total_cmp(&dist(b.xy, turn)));
                if let Some(at) = at {
                    u_turns.push(problem_at(
                        MatchProblemKind::LowConfidence,
                        at,
                        format!(
                            "the matched path turns back on itself near km {:.2}, where a long vehicle cannot turn and no way round lies within {} m: the drawing may return along another road nearby, whose restrictions are unknown",
                            at.km,
                            crate::routes::turns::MAX_LOOP_M
                        ),
                    ));
                }
            }
            all.push(pieces);
        }
        let (mut m, path) = self.report(&all);
        m.possible = self.possible_hits(coords, &samples, &path, &m.ways, &m.hits);
        m.problems = problems;
        m.problems.append(&mut u_turns);
        m.declared_length_m = declared_m;
        let coverage = if declared_m > 0.0 { (matched_declared_m / declared_m).min(1.0) } else { 0.0 };
        let closeness = if total > 0 { near as f64 / total as f64 } else { 0.0 };
        // A drawing cuts corners and starts and ends a little off the road: lengths
        // within LENGTH_TOLERANCE_M of each other agree.
        let ratio = if m.length_m > 0.0 && matched_declared_m > 0.0 {
            let longer = m.length_m.max(matched_declared_m);
            let tolerance = LENGTH_TOLERANCE_M.min(LENGTH_TOLERANCE_SHARE * longer);
            ((m.length_m.min(matched_declared_m) + tolerance) / longer).min(1.0)
        } else {
            0.0
        };
        m.confidence = (coverage * closeness * ratio).clamp(0.0, 1.0);
        if m.confidence < LOW_CONFIDENCE {
            let at = worst.map_or(&samples[0], |(_, i)| &samples[i]);
            m.problems.push(problem_at(
                MatchProblemKind::LowConfidence,
                at,
                format!(
                    "the route matches the road network with confidence {:.2} only ({:.0}% of its length matched, {:.0}% of points within {NEAR_M} m of the matched road); the worst point is here",
                    m.confidence,
                    coverage * 100.0,
                    closeness * 100.0
                ),
            ));
        }
        m.problems.sort_by(|a, b| a.km.total_cmp(&b.km));
        m
    }

    /// Samples of the declared route: its own vertices (they carry its shape), skipping
    /// those closer than [`MIN_STEP_M`] to the previous sample, plus points inserted
    /// on stretches longer than [`SAMPLE_STEP_M`]. The last vertex is always kept.
    fn resample(&self, coords: &[[f64; 2]]) -> Vec<Sample> {
        // Thinning keeps far fewer samples than a densely drawn route has vertices: size
        // by length, not by vertex count (a 10,000-vertex route would otherwise allocate
        // 400 kB per call).
        let mut out: Vec<Sample> = Vec::with_capacity(64);
        for (i, &c) in coords.iter().enumerate() {
            let p = self.proj.to_xy(c);
            let Some(prev) = out.last() else {
                out.push(Sample { xy: p, lonlat: c, km: 0.0 });
                continue;
            };
            let (dx, dy) = (p[0] - prev.xy[0], p[1] - prev.xy[1]);
            let gap2 = dx * dx + dy * dy;
            let is_last = i + 1 == coords.len();
            if gap2 < MIN_STEP_M * MIN_STEP_M && !is_last {
                continue;
            }
            // Distances are measured along the samples, not along every vertex: a
            // densely drawn line's jitter would otherwise inflate its length.
            let gap = gap2.sqrt();
            let (from, from_km) = (prev.xy, prev.km);
            let km = from_km + gap / 1000.0;
            // Long stretch: interpolate so that no two samples are far apart.
            let n = (gap / SAMPLE_STEP_M).ceil().max(1.0) as usize;
            for k in 1..n {
                let t = k as f64 / n as f64;
                let xy = lerp(from, p, t);
                out.push(Sample { xy, lonlat: self.proj.to_lonlat(xy), km: from_km + (km - from_km) * t });
            }
            out.push(Sample { xy: p, lonlat: c, km });
        }
        out
    }

    /// Builds ways, segments and restriction hits from the matched pieces, and the index
    /// of the path's nodes and segments.
    fn report(&self, chains: &[Vec<Piece>]) -> (RouteMatch, PathIndex) {
        let mut path = PathIndex::default();
        let mut ways: Vec<TravelledWay> = Vec::new();
        let mut segments = Vec::with_capacity(chains.iter().map(Vec::len).sum());
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
                if let Some(q) = prev
                    && let Some(n) = self.node_at(&q, q.f1)
                    && self.node_flags[n as usize]
                    && let Some(ts) = self.node_hits.get(&n)
                {
                    let ll = self.lonlat(n);
                    hits.extend(ts.iter().map(|t| t.at(ll, km)));
                }
                let new_way = prev.is_none_or(|q| q.way != p.way);
                if new_way {
                    let ll = self.proj.to_lonlat(a);
                    let dir = if p.f1 >= p.f0 { Direction::Forward } else { Direction::Backward };
                    hits.extend(self.way_hits[p.way as usize].iter().filter(|t| t.applies(dir)).map(|t| t.at(ll, km)));
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
                if self.way_flags[p.way as usize]
                    && let Some(sh) = self.seg_hits.get(&(p.way, p.seg))
                {
                    let (lo, hi) = (p.f0.min(p.f1), p.f0.max(p.f1));
                    for (f, t) in sh {
                        if (lo..=hi).contains(f) && hi > lo {
                            let at = km + self.seg_len(p.way, p.seg) * (f - p.f0).abs() / 1000.0;
                            let ll = self.proj.to_lonlat(self.point_xy(p.way, p.seg, *f));
                            hits.push(t.at(ll, at));
                        }
                    }
                }
                for (f, at) in [(p.f0, km), (p.f1, km + len / 1000.0)] {
                    if let Some(n) = self.node_at(p, f) {
                        path.nodes.entry(n).or_insert(at);
                        path.points.push((at, self.xy[n as usize]));
                    }
                }
                path.segs.insert((p.way, p.seg));
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
        // The path starts and ends inside a segment: the node behind its start and the
        // node beyond its end are where another reading can join it at its ends.
        let first = chains.iter().find_map(|c| c.first());
        let last = chains.iter().rev().find_map(|c| c.last());
        path.ends = [first.copied(), last.copied()];
        for (piece, at, behind) in [(first, 0.0, true), (last, km, false)] {
            if let Some(p) = piece {
                let (u, v) = self.seg_nodes(p.way, p.seg);
                let forward = p.f1 >= p.f0;
                let n = if forward == behind { u } else { v };
                if let std::collections::hash_map::Entry::Vacant(e) = path.nodes.entry(n) {
                    e.insert(at);
                    let point = (at, self.xy[n as usize]);
                    if behind { path.points.insert(0, point) } else { path.points.push(point) }
                }
            }
        }
        hits.sort_by(|a, b| a.km.total_cmp(&b.km));
        let mut m = empty_match(Vec::new(), 0.0);
        m.length_m = segments.iter().map(|s| (s.to_km - s.from_km) * 1000.0).sum();
        m.ways = ways;
        m.hits = hits;
        m.segments = segments;
        (m, path)
    }
}

fn problem(kind: MatchProblemKind, s: &Sample) -> MatchProblem {
    let message = match kind {
        MatchProblemKind::OutsideCoverage => {
            format!("the route leaves the area covered by the road data at km {:.2}", s.km)
        }
        _ => format!("no drivable road within {SEARCH_RADIUS_M} m of the route at km {:.2}", s.km),
    };
    problem_at(kind, s, message)
}

/// A problem located at sample `s`.
fn problem_at(kind: MatchProblemKind, s: &Sample, message: String) -> MatchProblem {
    MatchProblem { kind, lon: s.lonlat[0], lat: s.lonlat[1], km: s.km, message }
}

fn empty_match(problems: Vec<MatchProblem>, declared_length_m: f64) -> RouteMatch {
    RouteMatch { declared_length_m, problems, ..RouteMatch::default() }
}

/// Removes short back-and-forth movements (a candidate on a side road at an
/// intersection, noise on a one-way road): they are matching artefacts, and keeping them
/// would report the side road's restrictions. At most [`MAX_ARTEFACT_UTURN_M`] are undone
/// in a row, so a real turn back (or a return along a road beside the outward one,
/// matched onto the outward one) is kept, however short its segments.
fn cancel_uturns(net: &RouteNetwork, pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
    // Metres undone since the last piece kept as it came.
    let mut undone = 0.0;
    'next: for mut cur in pieces {
        // Whether `cur` undid part of the path: then it was not kept as it came, and
        // what it undid still counts against the next reversal.
        let mut reversed = false;
        while let Some(top) = out.last().copied() {
            if top.way != cur.way || top.seg != cur.seg {
                break;
            }
            let reverses = (top.f1 - top.f0) * (cur.f1 - cur.f0) < 0.0;
            let back = net.seg_len(cur.way, cur.seg) * (cur.f1 - cur.f0).abs().min((top.f1 - top.f0).abs());
            if reverses && undone + back > MAX_ARTEFACT_UTURN_M {
                break;
            }
            if reverses {
                undone += back;
                reversed = true;
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
        if !reversed && out.last().is_none_or(|top| top.way != cur.way || top.seg != cur.seg) {
            undone = 0.0;
        }
        if (cur.f1 - cur.f0).abs() >= 1e-9 {
            out.push(cur);
        }
    }
    out
}

/// Keeps the closest segment of each way; `c.dist` is a squared distance here. Of two
/// segments at exactly the same distance (both ends of a shared node) the first of the
/// way wins, so that the result does not depend on the order the index visits them in.
fn push_closest(out: &mut Vec<Candidate>, c: Candidate) {
    match out.iter_mut().find(|o| o.way == c.way) {
        Some(o) if (o.dist, o.seg) <= (c.dist, c.seg) => {}
        Some(o) => *o = c,
        None => out.push(c),
    }
}

/// Turns squared distances into distances and sorts nearest first.
fn finish_candidates(out: &mut [Candidate]) {
    for c in out.iter_mut() {
        c.dist = c.dist.sqrt();
    }
    out.sort_by(|a, b| a.dist.total_cmp(&b.dist).then(a.way.cmp(&b.way)));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Back and forth between two points 1.4 km apart across central Helsinki: every step a
    /// wide search.
    fn jumping() -> Vec<[f64; 2]> {
        (0..300).map(|i| if i % 2 == 0 { [24.9370606, 60.164352] } else { [24.95, 60.17] }).collect()
    }

    #[test]
    fn a_match_stops_where_its_work_budget_runs_out() {
        let data = crate::embedded_routes().unwrap();
        let net = &data.network;
        let route = jumping();
        let spent = net.match_route_with(&route, &mut Scratch::new(net.xy.len()), Work { floor: 20_000, per_km: 0 });
        let stops: Vec<&MatchProblem> =
            spent.problems.iter().filter(|p| p.kind == MatchProblemKind::WorkLimit).collect();
        assert_eq!(stops.len(), 1, "{:?}", spent.problems);
        assert!(stops[0].km > 0.0 && stops[0].km < spent.declared_length_m / 1000.0, "{:?}", stops[0]);
        // The shipped budget is far above what this drawing needs.
        let full = net.match_route(&route);
        assert!(full.problems.iter().all(|p| p.kind != MatchProblemKind::WorkLimit), "{:?}", full.problems);
        assert!(full.length_m > spent.length_m);
    }
}
