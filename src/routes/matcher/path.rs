//! The matched path: the pieces of road travelled, cleaned of matching artefacts, and
//! what they add up to: ways travelled, restrictions met, matched segments, and the
//! index of the path's nodes that the search of other readings starts from.

use super::MAX_ARTEFACT_UTURN_M;
use super::empty_match;
use crate::routes::access::Direction;
use crate::routes::alternatives::PathIndex;
use crate::routes::network::{Edge, RouteNetwork};
use crate::routes::project::{dist, project_on_segment};
use crate::routes::{MatchedSegment, RouteMatch, TravelledWay};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

/// A stretch of the matched path on one segment, from fraction `f0` to `f1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Piece {
    pub way: u32,
    pub seg: u32,
    pub f0: f64,
    pub f1: f64,
}

impl Piece {
    /// Whether `next` goes back along the same segment the way this piece came.
    pub(crate) fn reversed_by(&self, next: &Piece) -> bool {
        self.way == next.way && self.seg == next.seg && (self.f1 - self.f0) * (next.f1 - next.f0) < 0.0
    }
}

impl RouteNetwork {
    /// Distance from `xy` (projected metres) to piece `p`, metres.
    pub(super) fn piece_distance(&self, p: &Piece, xy: [f64; 2]) -> f64 {
        project_on_segment(xy, self.point_xy(p.way, p.seg, p.f0), self.point_xy(p.way, p.seg, p.f1)).1
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

    /// The whole segment edge `e` travels, as a piece in its direction.
    pub(crate) fn edge_piece(&self, e: Edge) -> Piece {
        let forward = self.direction(&e) == Direction::Forward;
        Piece { way: e.way, seg: e.seg, f0: if forward { 0.0 } else { 1.0 }, f1: if forward { 1.0 } else { 0.0 } }
    }

    /// Builds ways, segments and restriction hits from the matched pieces, and the index
    /// of the path's nodes and segments.
    pub(super) fn report(&self, chains: &[Vec<Piece>]) -> (RouteMatch, PathIndex) {
        let pieces = chains.iter().map(Vec::len).sum();
        // Sized once: grown piece by piece, rehashing cost a long route a tenth of its match.
        let mut path = PathIndex {
            nodes: HashMap::with_capacity_and_hasher(pieces + 2, Default::default()),
            points: Vec::with_capacity(2 * pieces + 2),
            segs: HashSet::with_capacity_and_hasher(pieces, Default::default()),
            ends: [None; 2],
        };
        let mut ways: Vec<TravelledWay> = Vec::new();
        let mut segments = Vec::with_capacity(pieces);
        let mut hits = Vec::new();
        let mut walk = Walk::default();
        for pieces in chains {
            let mut prev: Option<Piece> = None;
            for (i, p) in pieces.iter().enumerate() {
                let segment = walk.step(self, p, i == 0);
                let (km, way_id) = (segment.from_km, segment.way_id);
                // Node passed between two pieces.
                if let Some(q) = prev
                    && let Some(n) = self.node_at(&q, q.f1)
                {
                    let ts = self.node_hits(n);
                    if !ts.is_empty() {
                        let ll = self.lonlat(n);
                        hits.extend(ts.iter().map(|t| t.at(ll, km)));
                    }
                }
                let new_way = prev.is_none_or(|q| q.way != p.way);
                if new_way {
                    let ll = segment.from;
                    let dir = if p.f1 >= p.f0 { Direction::Forward } else { Direction::Backward };
                    hits.extend(self.way_hits(p.way).iter().filter(|t| t.applies(dir)).map(|t| t.at(ll, km)));
                    match ways.last_mut() {
                        Some(last) if last.way_id == way_id && prev.is_some() => {}
                        _ => ways.push(TravelledWay {
                            way_id,
                            name: self.way_name(p.way).map(str::to_string),
                            highway: self.highway(p.way).to_string(),
                            from_km: km,
                            to_km: km,
                        }),
                    }
                }
                let (lo, hi) = (p.f0.min(p.f1), p.f0.max(p.f1));
                for (f, t) in self.seg_hits(p.way, p.seg) {
                    if (lo..=hi).contains(f) && hi > lo {
                        let at = km + self.seg_len(p.way, p.seg) * (f - p.f0).abs() / 1000.0;
                        let ll = self.to_lonlat(self.point_xy(p.way, p.seg, *f));
                        hits.push(t.at(ll, at));
                    }
                }
                for (f, at) in [(p.f0, km), (p.f1, segment.to_km)] {
                    if let Some(n) = self.node_at(p, f) {
                        path.nodes.entry(n).or_insert(at);
                        path.points.push((at, self.node_xy(n)));
                    }
                }
                path.segs.insert((p.way, p.seg));
                if let Some(last) = ways.last_mut() {
                    last.to_km = segment.to_km;
                }
                segments.push(segment);
                prev = Some(*p);
            }
        }
        let km = walk.km;
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
                    let point = (at, self.node_xy(n));
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
        m.path = MatchedPath::new(chains);
        (m, path)
    }

    /// The matched segments of `path`, as [`RouteMatch::segments`] had them when it was
    /// matched on this network, one at a time as asked for; `None` in place of one that names
    /// a segment this network lacks (a path matched on another network).
    pub fn segments_of<'a>(&'a self, path: &'a MatchedPath) -> impl Iterator<Item = Option<MatchedSegment>> + 'a {
        let mut walk = Walk::default();
        path.pieces()
            .map(move |(starts_chain, p)| self.has_segment(p.way, p.seg).then(|| walk.step(self, &p, starts_chain)))
    }
}

/// How far along the matched path a walk over its pieces has come.
#[derive(Default)]
struct Walk {
    /// Kilometres so far.
    km: f64,
    /// Where the last piece ended, projected metres.
    end: Option<[f64; 2]>,
}

impl Walk {
    /// The segment of piece `p`, the first of its chain where `starts_chain`, and the walk
    /// past it: the one computation of a segment's place and kilometres, so that a path
    /// kept compact ([`MatchedPath`]) gives back the very segments of its match.
    fn step(&mut self, net: &RouteNetwork, p: &Piece, starts_chain: bool) -> MatchedSegment {
        let a = net.point_xy(p.way, p.seg, p.f0);
        let b = net.point_xy(p.way, p.seg, p.f1);
        if let (true, Some(end)) = (starts_chain, self.end) {
            // Across a gap: count the straight distance so km stays comparable.
            self.km += dist(end, a) / 1000.0;
        }
        let len = net.seg_len(p.way, p.seg) * (p.f1 - p.f0).abs();
        let from_km = self.km;
        self.km += len / 1000.0;
        self.end = Some(b);
        MatchedSegment {
            way_id: net.way_id(p.way),
            from: net.to_lonlat(a),
            to: net.to_lonlat(b),
            from_km,
            to_km: from_km + len / 1000.0,
        }
    }
}

/// A run of the matched path: `count` whole segments of one way from segment `seg` on,
/// forward (`count > 0`) or backward (`count < 0`), or one piece of segment `seg`
/// (`count == 0`) whose fractions are the next in [`MatchedPath::fractions`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
struct Run {
    way: u32,
    seg: u32,
    count: i32,
}

/// The matched path kept compact: the network's way and segment numbers, runs of whole
/// segments along one way as one entry, so that its segments can be had again from the
/// network ([`RouteNetwork::segments_of`]) without matching the route again. About 12 bytes
/// a way travelled, against 56 a segment as [`MatchedSegment`]s. Serialised only with the
/// version of the network it was matched on (the numbers are that network's).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MatchedPath {
    runs: Box<[Run]>,
    /// `f0, f1` of each piece that is not a whole segment, in order.
    fractions: Box<[[f64; 2]]>,
    /// Where each chain after the first starts in `runs` (a gap lies before it).
    chains: Box<[u32]>,
}

impl MatchedPath {
    fn new(chains: &[Vec<Piece>]) -> MatchedPath {
        let (mut runs, mut fractions, mut starts) = (Vec::<Run>::new(), Vec::new(), Vec::new());
        for pieces in chains.iter().filter(|c| !c.is_empty()) {
            if !runs.is_empty() {
                starts.push(u32::try_from(runs.len()).unwrap_or(u32::MAX));
            }
            let chain_start = runs.len();
            for p in pieces {
                // Whole segments are exactly 0 to 1 or 1 to 0 (`edge_piece`); anything else
                // keeps its fractions.
                let step = if p.f0 == 0.0 && p.f1 == 1.0 {
                    1
                } else if p.f0 == 1.0 && p.f1 == 0.0 {
                    -1
                } else {
                    0
                };
                let last = runs.get_mut(chain_start..).and_then(<[Run]>::last_mut);
                match last {
                    // The next whole segment of the same way, in the same direction.
                    Some(r)
                        if step != 0
                            && r.way == p.way
                            && r.count.signum() == step
                            && i64::from(r.seg) + i64::from(r.count) == i64::from(p.seg)
                            && r.count.abs() < i32::MAX =>
                    {
                        r.count += step;
                    }
                    _ => {
                        runs.push(Run { way: p.way, seg: p.seg, count: step });
                        if step == 0 {
                            fractions.push([p.f0, p.f1]);
                        }
                    }
                }
            }
        }
        MatchedPath { runs: runs.into(), fractions: fractions.into(), chains: starts.into() }
    }

    /// The pieces in order, each with whether it starts a chain.
    fn pieces(&self) -> impl Iterator<Item = (bool, Piece)> + '_ {
        let mut fractions = self.fractions.iter();
        self.runs.iter().enumerate().flat_map(move |(i, r)| {
            let starts_chain = i == 0 || self.chains.contains(&u32::try_from(i).unwrap_or(u32::MAX));
            let part = (r.count == 0).then(|| {
                let [f0, f1] = fractions.next().copied().unwrap_or_default();
                Piece { way: r.way, seg: r.seg, f0, f1 }
            });
            let whole = (0..r.count.unsigned_abs()).map(move |k| {
                let (seg, f0) = if r.count > 0 { (r.seg.wrapping_add(k), 0.0) } else { (r.seg.wrapping_sub(k), 1.0) };
                Piece { way: r.way, seg, f0, f1: 1.0 - f0 }
            });
            part.into_iter().chain(whole).enumerate().map(move |(k, p)| (starts_chain && k == 0, p))
        })
    }
}

/// Removes short back-and-forth movements (a candidate a little past the junction where
/// the route turned, noise a few metres back along a way): they are matching artefacts. At
/// most [`MAX_ARTEFACT_UTURN_M`] are undone in a row, and never a turn at a dead end, so a
/// real turn back (or a return along a road beside the outward one, matched onto the
/// outward one) is kept, however short its segments: undone, a turn at the end of a short
/// spur would move to a node where no vehicle can turn.
pub(super) fn cancel_uturns(net: &RouteNetwork, pieces: Vec<Piece>) -> Vec<Piece> {
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
            let reverses = top.reversed_by(&cur);
            let back = net.seg_len(cur.way, cur.seg) * (cur.f1 - cur.f0).abs().min((top.f1 - top.f0).abs());
            if reverses
                && (undone + back > MAX_ARTEFACT_UTURN_M || net.node_at(&top, top.f1).is_some_and(|n| net.dead_end(n)))
            {
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
