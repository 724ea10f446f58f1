//! The bounded search between two samples' states (a candidate and the direction of
//! travel along its way there): one Dijkstra on the directed graph (one-way streets
//! respected) from a state of one sample settles every state of the next at once, only
//! as far as a path could still matter to one of them; the same search, with a single
//! target, yields the pieces of the chosen path. A path that turns back in the street
//! (not at a dead end) costs [`UTURN_M`] more. Its arrays live in a scratch reused
//! between calls.

use super::path::Piece;
use super::{MAX_STATES, NOISE_BACK_M, UTURN_M};
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

/// A candidate and the direction the route travels along its way there: the HMM's state.
/// A path that arrives one way and leaves the other turns in the street, which a long
/// vehicle cannot do; with the direction in the state, the match sees and prices it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct State {
    pub c: Candidate,
    /// Towards the way's last node.
    pub forward: bool,
}

/// The drawing runs clearly along a segment where the cosine of the angle between them
/// is above this (45 degrees).
const CLEAR_COS: f64 = 0.7;

/// Where a search reached a target: the entry node of its segment and the edge it
/// arrived by (`NO_PARENT` for the start's own segment).
type Via = (u32, u32);

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

/// The entry node of a target still to be reached through the graph: node, remaining
/// distance from it to the target, target index.
type Entry = (u32, f64, usize);

/// The states a search goes to, with their entry nodes ([`RouteNetwork::entry`],
/// computed once per layer) and the longest path that could still matter to each.
#[derive(Clone, Copy)]
pub(super) struct Targets<'a> {
    pub states: &'a [State],
    pub entries: &'a [(u32, f64)],
    pub limits: &'a [f64],
}

impl Targets<'_> {
    /// The longest path that could matter to any target.
    pub(super) fn bound(&self) -> f64 {
        self.limits.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }
}

impl RouteNetwork {
    /// The states of a candidate: one per direction its way may be travelled in, but only
    /// the one that goes the drawing's way where the drawing runs clearly along or against
    /// the segment (`drawn`: its direction there; none at a turn back or a single point).
    /// A state that travels against a drawing that plainly goes on never wins, and each
    /// costs a search.
    pub(super) fn states_of(&self, c: Candidate, drawn: Option<[f64; 2]>, out: &mut Vec<State>) {
        let ow = self.oneway(c.way);
        let along = drawn.map_or(0.0, |d| {
            let (u, v) = self.seg_nodes(c.way, c.seg);
            let (a, b) = (self.node_xy(u), self.node_xy(v));
            let s = [b[0] - a[0], b[1] - a[1]];
            (d[0] * s[0] + d[1] * s[1]) / (d[0].hypot(d[1]) * s[0].hypot(s[1])).max(f64::MIN_POSITIVE)
        });
        if ow >= 0 && along > -CLEAR_COS {
            out.push(State { c, forward: true });
        }
        if ow <= 0 && along < CLEAR_COS {
            out.push(State { c, forward: false });
        }
    }

    /// Distance along one way between two states on it: ahead in the direction of
    /// travel (or a backward step small enough to be drawing noise), or with a U-turn in
    /// the street where the directions differ.
    pub(super) fn same_way(&self, a: &State, b: &State) -> Option<f64> {
        if a.c.way != b.c.way {
            return None;
        }
        let d = self.way_offset(b.c.way, b.c.seg, b.c.frac) - self.way_offset(a.c.way, a.c.seg, a.c.frac);
        if a.forward != b.forward {
            return Some(d.abs() + UTURN_M);
        }
        let ahead = if a.forward { d } else { -d };
        (ahead >= -NOISE_BACK_M).then_some(ahead.abs())
    }

    /// Where Dijkstra starts from `a`: the end of its segment ahead, and on a two-way way
    /// the end behind, past a U-turn in the street.
    fn seeds(&self, a: &State) -> [Option<(u32, f64)>; 2] {
        let (u, v) = self.seg_nodes(a.c.way, a.c.seg);
        let len = self.seg_len(a.c.way, a.c.seg);
        let to_v = (1.0 - a.c.frac) * len;
        let (ahead, behind) = if a.forward { ((v, to_v), (u, len - to_v)) } else { ((u, len - to_v), (v, to_v)) };
        [Some(ahead), (self.oneway(a.c.way) == 0).then_some((behind.0, behind.1 + UTURN_M))]
    }

    /// The entry node of `b`'s segment in its direction, with the remaining distance to `b`.
    pub(super) fn entry(&self, b: &State) -> (u32, f64) {
        let (u, v) = self.seg_nodes(b.c.way, b.c.seg);
        let len = self.seg_len(b.c.way, b.c.seg);
        if b.forward { (u, b.c.frac * len) } else { (v, (1.0 - b.c.frac) * len) }
    }

    /// What entering `b`'s segment at node `n`, arrived at along segment `by`, adds:
    /// [`UTURN_M`] where `by` is that segment (the path turns back at `n`), unless `n`
    /// is a dead end (where turning round is what a vehicle does).
    fn turn_cost(&self, by: (u32, u32), b: &State, n: u32) -> f64 {
        if by == (b.c.way, b.c.seg) && !self.dead_end(n) { UTURN_M } else { 0.0 }
    }

    /// Network distances from `a` to each target into `out`, `INFINITY` beyond the
    /// target's limit. One bounded search settles every target at once (see
    /// [`Self::search`]).
    pub(super) fn distances(&self, a: &State, targets: Targets, s: &mut Scratch, out: &mut Vec<f64>) {
        let bound = targets.bound();
        out.clear();
        out.extend(targets.states.iter().map(|b| self.same_way(a, b).unwrap_or(f64::INFINITY)));
        let mut via = [(NO_NODE, NO_PARENT); MAX_STATES];
        self.search(a, targets, bound, s, out, &mut via);
        for (b, limit) in out.iter_mut().zip(targets.limits) {
            // A select, not a branch: which targets were reached is unpredictable.
            *b = if *b > bound.min(*limit) { f64::INFINITY } else { *b };
        }
    }

    /// The bounded Dijkstra from `a`: lowers `out[j]` to the network distance to target
    /// `j` where the road reaches it (along `a`'s own way counts as given in `out`), and
    /// sets `via[j]` to where it was reached. A target counts as reached by every edge
    /// into its entry node, not only the shortest: a path round a loop back to the node
    /// it left is how a vehicle turns, where the shortest arrival would turn in the street.
    /// It settles nodes no further than `bound` (the largest limit) and stops as soon as no
    /// target can improve (its distance is known, or beyond its limit); a target with a
    /// negative limit is not searched.
    // Inlined into both callers: out of line, a match costs about 1 % more instructions
    // (callgrind).
    #[inline(always)]
    fn search(&self, a: &State, targets: Targets, bound: f64, s: &mut Scratch, out: &mut [f64], via: &mut [Via]) {
        let Targets { states, entries, limits } = targets;
        // Entry nodes of the targets still to be reached through the graph.
        let mut flat: [Entry; MAX_STATES] = [(u32::MAX, 0.0, 0usize); MAX_STATES];
        let mut nflat = 0;
        for (j, b) in states.iter().enumerate().take(MAX_STATES) {
            // Along `a`'s own way counts as given unless it is too long to matter (then
            // the road may still reach `b` the other way: round a ring road through the
            // node that closes it, or a one-way way's start from its end) or turns in the
            // street (a way round may be dearer, but a vehicle can drive it).
            let given = b.c.way == a.c.way && b.forward == a.forward && out[j] <= limits[j];
            if !given && limits[j] >= 0.0 {
                flat[nflat] = (entries[j].0, entries[j].1, j);
                nflat += 1;
            }
        }
        let flat = &flat[..nflat];
        if flat.is_empty() {
            return;
        }
        // One bit per entry node (by its low bits): most nodes reached are no entry, and
        // this test spares the scan of `flat` for them.
        let mask = flat.iter().fold(0u64, |m, &(node, _, _)| m | 1 << (node % 64));
        // Distance beyond which no pending target can improve.
        let need = |out: &[f64]| flat.iter().map(|&(_, _, j)| out[j].min(limits[j])).fold(f64::NEG_INFINITY, f64::max);
        // Reaching node `n` at distance `d` along segment `by` (by edge `edge`).
        let mut arrive = |out: &mut [f64], n: u32, d: f64, by: (u32, u32), edge: u32| {
            if mask >> (n % 64) & 1 == 0 {
                return false;
            }
            let mut better = false;
            for &(node, extra, j) in flat {
                if node == n && d + extra < out[j] {
                    let total = d + extra + self.turn_cost(by, &states[j], n);
                    if total < out[j] {
                        out[j] = total;
                        via[j] = (n, edge);
                        better = true;
                    }
                }
            }
            better
        };
        s.start();
        let own = (a.c.way, a.c.seg);
        let seeds = self.seeds(a);
        for &(n, d) in seeds.iter().flatten() {
            s.relax(n, d, NO_PARENT);
            arrive(out, n, d, own, NO_PARENT);
        }
        let mut open_to = need(out);
        while let Some(HeapItem(d, n)) = s.heap.pop() {
            if d > s.get(n) {
                continue;
            }
            s.settled += 1;
            if d > bound || d >= open_to {
                break;
            }
            let reach = open_to.min(bound);
            // Back along the segment the search came by is a turn in the street (from
            // where it starts, the seed behind prices that); at a dead end it is the way on.
            let came = match s.parent[n as usize] {
                NO_PARENT => own,
                pe => {
                    let e = self.edge(pe);
                    (e.way, e.seg)
                }
            };
            for (ei, e) in self.edges_from(n) {
                if (e.way, e.seg) == came && !self.dead_end(n) {
                    continue;
                }
                let nd = d + e.len;
                if arrive(out, e.to, nd, (e.way, e.seg), ei) {
                    open_to = need(out);
                }
                if nd <= reach {
                    s.relax(e.to, nd, ei);
                }
            }
        }
    }

    /// The pieces travelled from `a` to `b`, the shortest path no longer than `bound`
    /// found by the same search as [`Self::distances`]. Appends them to `pieces`.
    pub(super) fn path(&self, a: &State, b: &State, bound: f64, s: &mut Scratch, pieces: &mut Vec<Piece>) {
        let along = self.same_way(a, b);
        let mut via = [(NO_NODE, NO_PARENT)];
        let targets = Targets { states: std::slice::from_ref(b), entries: &[self.entry(b)], limits: &[bound] };
        self.search(a, targets, bound, s, &mut [along.unwrap_or(f64::INFINITY)], &mut via);
        let [(entry, last)] = via;
        if entry == NO_NODE {
            if along.is_some() {
                self.along_way(&a.c, &b.c, pieces);
            }
            return;
        }
        // Walk parents back from the edge into b's segment.
        let mut edges = std::mem::take(&mut s.path);
        edges.clear();
        let mut n = entry;
        if last != NO_PARENT {
            edges.push(last);
            n = self.edge_start(self.edge(last));
            while s.stamp[n as usize] == s.run && s.parent[n as usize] != NO_PARENT {
                let ei = s.parent[n as usize];
                edges.push(ei);
                n = self.edge_start(self.edge(ei));
            }
        }
        edges.reverse();
        let (a, b) = (&a.c, &b.c);
        let (u0, _) = self.seg_nodes(a.way, a.seg);
        pieces.push(Piece { way: a.way, seg: a.seg, f0: a.frac, f1: if n == u0 { 0.0 } else { 1.0 } });
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
    /// the path are exactly as long as the distance the move was scored with, plus
    /// [`UTURN_M`] for each turn in the street, on real roads (one-way streets, moves along
    /// one way and between ways, in both directions of travel).
    #[test]
    fn the_path_found_is_as_long_as_the_distance_scored() {
        let data = crate::embedded_routes().unwrap();
        let net = &data.network;
        let mut rng = crate::rng::SplitMix64::new(11);
        let mut s = Scratch::new(net.node_count());
        let (mut from, mut to, mut ds) = (Vec::new(), Vec::new(), Vec::new());
        let (mut starts, mut targets) = (Vec::new(), Vec::new());
        let mut checked = [0; 3];
        for _ in 0..300 {
            let p = net.node_xy(rng.below(net.node_count() as u64) as u32);
            let q = [p[0] + rng.uniform(-150.0, 150.0), p[1] + rng.uniform(-150.0, 150.0)];
            net.candidates_near(p, 20.0, &mut from);
            net.candidates_near(q, 45.0, &mut to);
            to.truncate(super::super::MAX_CANDIDATES);
            let Some(&a) = from.first() else { continue };
            starts.clear();
            net.states_of(a, None, &mut starts);
            targets.clear();
            to.iter().for_each(|&b| net.states_of(b, None, &mut targets));
            let entries: Vec<(u32, f64)> = targets.iter().map(|b| net.entry(b)).collect();
            let bound = 600.0;
            let limits = vec![bound; targets.len()];
            for a in &starts {
                net.distances(a, Targets { states: &targets, entries: &entries, limits: &limits }, &mut s, &mut ds);
                for (b, d) in targets.iter().zip(&ds).filter(|(_, d)| d.is_finite()) {
                    let mut pieces = Vec::new();
                    net.path(a, b, bound, &mut s, &mut pieces);
                    let walked: f64 = pieces.iter().map(|p| net.seg_len(p.way, p.seg) * (p.f1 - p.f0).abs()).sum();
                    let turns = (d - walked) / UTURN_M;
                    assert!(
                        (turns - turns.round()).abs() < 1e-6 && (0.0..=2.0).contains(&turns.round()),
                        "{a:?} -> {b:?}: path {walked} m, scored {d} m"
                    );
                    checked[turns.round() as usize] += 1;
                }
            }
        }
        assert!(checked[0] > 300 && checked[1] > 30, "moves connected without and with a U-turn: {checked:?}");
    }
}
