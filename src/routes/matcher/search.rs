//! The bounded search between two samples' candidates: one Dijkstra on the directed graph
//! (one-way streets respected) from a candidate of one sample settles every candidate
//! of the next at once, only as far as a path could still matter to one of them; the
//! same search, with a single target, yields the pieces of the chosen path. Its arrays
//! live in a scratch reused between calls.

use super::path::Piece;
use super::{MAX_CANDIDATES, NOISE_BACK_M};
use crate::routes::network::{Candidate, RouteNetwork};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

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
    pub(super) settled: u64,
}

const NO_PARENT: u32 = u32::MAX;
/// No node: a target not reached.
const NO_NODE: u32 = u32::MAX;

/// Nodes the searches of one match may settle: a floor plus an allowance per km of declared
/// route. Routes on the evaluation's real extracts settle 210 per km (median), 3,400 at most;
/// one drawn to zigzag or to jump between far vertices would settle without end and hold a
/// review thread for seconds. Counted in nodes, not time, so that a replay is identical.
pub(super) const WORK: Work = Work { floor: 200_000, per_km: 20_000 };

/// How many nodes one match may settle.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Work {
    pub(super) floor: u64,
    pub(super) per_km: u64,
}

impl Work {
    pub(super) fn budget(self, declared_m: f64) -> u64 {
        self.floor + (declared_m / 1000.0) as u64 * self.per_km
    }
}

thread_local! {
    pub(super) static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::new(0));
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
    pub(super) fn fit(&mut self, nodes: usize) {
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

/// An entry node of a target still to be reached through the graph: node, remaining
/// distance from it to the target, target index.
type Entry = (u32, f64, usize);

/// The candidates a search goes to, with their entry nodes ([`RouteNetwork::entries`],
/// computed once per layer) and the longest path that could still matter to each.
#[derive(Clone, Copy)]
pub(super) struct Targets<'a> {
    pub cands: &'a [Candidate],
    pub entries: &'a [[(u32, f64); 2]],
    pub limits: &'a [f64],
}

impl Targets<'_> {
    /// The longest path that could matter to any target.
    pub(super) fn bound(&self) -> f64 {
        self.limits.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }
}

impl RouteNetwork {
    /// Distance along one way between two candidates on it, if the way's direction
    /// allows (or the backward step is small enough to be drawing noise).
    pub(super) fn same_way(&self, a: &Candidate, b: &Candidate) -> Option<f64> {
        if a.way != b.way {
            return None;
        }
        let d = self.way_offset(b.way, b.seg, b.frac) - self.way_offset(a.way, a.seg, a.frac);
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
    pub(super) fn entries(&self, b: &Candidate) -> [(u32, f64); 2] {
        let (u, v) = self.seg_nodes(b.way, b.seg);
        let len = self.seg_len(b.way, b.seg);
        let ow = self.oneway(b.way);
        [
            (u, if ow >= 0 { b.frac * len } else { f64::INFINITY }),
            (v, if ow <= 0 { (1.0 - b.frac) * len } else { f64::INFINITY }),
        ]
    }

    /// Network distances from `a` to each target into `out`, `INFINITY` beyond the
    /// target's limit. One bounded search settles every target at once (see
    /// [`Self::search`]).
    pub(super) fn distances(&self, a: &Candidate, targets: Targets, s: &mut Scratch, out: &mut Vec<f64>) {
        let bound = targets.bound();
        out.clear();
        out.extend(targets.cands.iter().map(|b| self.same_way(a, b).unwrap_or(f64::INFINITY)));
        let mut via = [NO_NODE; MAX_CANDIDATES];
        self.search(a, targets, bound, s, out, &mut via);
        for (b, limit) in out.iter_mut().zip(targets.limits) {
            // A select, not a branch: which targets were reached is unpredictable.
            *b = if *b > bound.min(*limit) { f64::INFINITY } else { *b };
        }
    }

    /// The bounded Dijkstra from `a`: lowers `out[j]` to the network distance to target
    /// `j` where the road reaches it (along `a`'s own way counts as given in `out`), and
    /// sets `via[j]` to the entry node it was reached through. It settles nodes no
    /// further than `bound` (the largest limit) and stops as soon as no target can
    /// improve (its distance is known, or beyond its limit); a target with a negative
    /// limit is not searched.
    // Inlined into both callers: out of line, a match costs about 1 % more instructions
    // (callgrind).
    #[inline(always)]
    fn search(&self, a: &Candidate, targets: Targets, bound: f64, s: &mut Scratch, out: &mut [f64], via: &mut [u32]) {
        let Targets { cands, entries, limits } = targets;
        // Entry nodes of the targets still to be reached through the graph.
        let mut flat: [Entry; 2 * MAX_CANDIDATES] = [(u32::MAX, 0.0, 0usize); 2 * MAX_CANDIDATES];
        let mut nflat = 0;
        for (j, b) in cands.iter().enumerate().take(MAX_CANDIDATES) {
            // Along `a`'s own way counts as given unless it is too long to matter: then
            // the road may still reach `b` the other way (round a ring road through the
            // node that closes it, or a one-way way's start from its end).
            if (b.way != a.way || out[j] > limits[j]) && limits[j] >= 0.0 {
                for &(node, extra) in &entries[j] {
                    if extra.is_finite() {
                        flat[nflat] = (node, extra, j);
                        nflat += 1;
                    }
                }
            }
        }
        let flat = &flat[..nflat];
        if flat.is_empty() {
            return;
        }
        // One bit per entry node (by its low bits): most settled nodes are no entry, and
        // this test spares the scan of `flat` for them.
        let mask = flat.iter().fold(0u64, |m, &(node, _, _)| m | 1 << (node % 64));
        // Distance beyond which no pending target can improve.
        let need = |out: &[f64]| flat.iter().map(|&(_, _, j)| out[j].min(limits[j])).fold(f64::NEG_INFINITY, f64::max);
        let mut open_to = need(out);
        s.start();
        self.seed(a, s);
        while let Some(HeapItem(d, n)) = s.heap.pop() {
            if d > s.get(n) {
                continue;
            }
            s.settled += 1;
            if d > bound {
                break;
            }
            if mask >> (n % 64) & 1 == 1 {
                for &(node, extra, j) in flat {
                    if node == n && d + extra < out[j] {
                        out[j] = d + extra;
                        via[j] = n;
                    }
                }
                open_to = need(out);
            }
            if d >= open_to {
                break;
            }
            let reach = open_to.min(bound);
            for (ei, e) in self.edges_from(n) {
                if d + e.len <= reach {
                    s.relax(e.to, d + e.len, ei);
                }
            }
        }
    }

    /// The pieces travelled from `a` to `b`, the shortest path no longer than `bound`
    /// found by the same search as [`Self::distances`]. Appends them to `pieces`.
    pub(super) fn path(&self, a: &Candidate, b: &Candidate, bound: f64, s: &mut Scratch, pieces: &mut Vec<Piece>) {
        let along = self.same_way(a, b);
        let mut via = [NO_NODE];
        let targets = Targets { cands: std::slice::from_ref(b), entries: &[self.entries(b)], limits: &[bound] };
        self.search(a, targets, bound, s, &mut [along.unwrap_or(f64::INFINITY)], &mut via);
        let [entry] = via;
        if entry == NO_NODE {
            if along.is_some() {
                self.along_way(a, b, pieces);
            }
            return;
        }
        // Walk parents back from the entry node of b's segment.
        let mut edges = std::mem::take(&mut s.path);
        edges.clear();
        let mut n = entry;
        while s.stamp[n as usize] == s.run && s.parent[n as usize] != NO_PARENT {
            let ei = s.parent[n as usize];
            edges.push(ei);
            n = self.edge_start(self.edge(ei));
        }
        edges.reverse();
        let (u0, _) = self.seg_nodes(a.way, a.seg);
        let exit = edges.first().map_or(entry, |&ei| self.edge_start(self.edge(ei)));
        pieces.push(Piece { way: a.way, seg: a.seg, f0: a.frac, f1: if exit == u0 { 0.0 } else { 1.0 } });
        pieces.extend(edges.iter().map(|&ei| self.edge_piece(self.edge(ei))));
        let (ub, _) = self.seg_nodes(b.way, b.seg);
        pieces.push(Piece { way: b.way, seg: b.seg, f0: if entry == ub { 0.0 } else { 1.0 }, f1: b.frac });
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
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The search scores a move and yields its path in one piece of code: the pieces of
    /// the path are exactly as long as the distance the move was scored with, on real
    /// roads (one-way streets, moves along one way and between ways).
    #[test]
    fn the_path_found_is_as_long_as_the_distance_scored() {
        let data = crate::embedded_routes().unwrap();
        let net = &data.network;
        let mut rng = crate::rng::SplitMix64::new(11);
        let mut s = Scratch::new(net.node_count());
        let (mut from, mut to, mut ds) = (Vec::new(), Vec::new(), Vec::new());
        let mut checked = 0;
        for _ in 0..300 {
            let p = net.node_xy(rng.below(net.node_count() as u64) as u32);
            let q = [p[0] + rng.uniform(-150.0, 150.0), p[1] + rng.uniform(-150.0, 150.0)];
            net.candidates_near(p, 20.0, &mut from);
            net.candidates_near(q, 45.0, &mut to);
            to.truncate(MAX_CANDIDATES);
            let Some(a) = from.first() else { continue };
            let entries: Vec<[(u32, f64); 2]> = to.iter().map(|b| net.entries(b)).collect();
            let bound = 600.0;
            let limits = vec![bound; to.len()];
            net.distances(a, Targets { cands: &to, entries: &entries, limits: &limits }, &mut s, &mut ds);
            for (b, d) in to.iter().zip(&ds).filter(|(_, d)| d.is_finite()) {
                let mut pieces = Vec::new();
                net.path(a, b, bound, &mut s, &mut pieces);
                let walked: f64 = pieces.iter().map(|p| net.seg_len(p.way, p.seg) * (p.f1 - p.f0).abs()).sum();
                assert!((walked - d).abs() < 1e-6, "{a:?} -> {b:?}: path {walked} m, scored {d} m");
                checked += 1;
            }
        }
        assert!(checked > 300, "only {checked} moves connected");
    }
}
