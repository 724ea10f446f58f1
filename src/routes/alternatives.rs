//! Other readings of a drawn route: restricted roads it may have used instead of the
//! matched path.
//!
//! A drawing is offset from OSM by metres, so where a restricted piece of road runs
//! within that uncertainty of the route and joins the matched path on both sides (a slip
//! lane, a bus-only link, a lay-by, the first or last metres of the route), the drawing
//! cannot tell the two apart, however the matcher chose. Such a piece is reported as a
//! possible hit, never silently dropped: the checks make it `unverified` where the vehicle
//! would not be allowed on it.
//!
//! A piece qualifies when (1) it lies within [`UNCERTAINTY_M`] of the drawing, (2) from it
//! the network leads back to the matched path (or to where the drawing starts) and on to
//! a later point of it (or to where the drawing ends), staying within that distance of the
//! drawing, (3) that path is about as long as the matched path or the drawing between
//! those points, (4) it strays from the drawing little more than the matched path does
//! there, and (5) where the roads around the stretch tell the drawing's offset, it fits the
//! drawing moved back by it about as well as the matched path. A street crossed at an
//! intersection fails (2) or (4) (it leaves the drawing), a parallel street with no link
//! nearby fails (2), a bridge over or a road under the route fails (2) unless ramps join
//! them right there, lanes a few metres beside the road drawn fail (5). The fit also
//! places the route's ends, and reads a loop a sparse drawing cuts short.

use crate::routes::access::Direction;
use crate::routes::matcher::{HeapItem, Piece, Sample};
use crate::routes::network::{HitTemplate, RouteNetwork, SegRef};
use crate::routes::project::{dist, lerp, project_on_segment, project_on_segment_2, segment_intersection};
use crate::routes::{PossibleHit, RestrictionHit, TravelledWay};
use rstar::Envelope;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::cell::{OnceCell, RefCell};
use std::collections::BinaryHeap;
use std::collections::hash_map::Entry;
use std::ops::Range;
use std::rc::Rc;

/// Samples whose surroundings one tree query covers.
const SAMPLES_PER_QUERY: usize = 8;

/// How far from the drawing a road may lie and still be the one drawn, metres: the
/// offset of another map's drawing (up to about 10 m) plus drift and noise.
pub const UNCERTAINTY_M: f64 = 20.0;
/// A reading starts or ends where the drawing does only within this distance of the
/// drawing's start or end, metres: the offset of another map's drawing...
const END_M: f64 = 12.0;
/// ...and, unless it ends in a dead end, at most this much further from it than the
/// matched path's start or end (or than the drawing typically runs from the path there,
/// where that is further)...
const END_SLACK_M: f64 = 3.0;
/// ...or this much on a road that forks from the matched path within [`END_M`] of it and
/// goes on in the drawing's direction there: the drawing's offset cannot tell such branches
/// apart (a road it crosses, turns from or runs beside is another matter)...
const END_SLACK_AHEAD_M: f64 = 5.0;
/// ...or this much on a road beside the one the path ends on (within [`BESIDE_COS`] of its
/// heading there): across two roads side by side, which of them the drawn end lies nearer
/// is its offset across them at that point, drift included, while the distance the drawing
/// typically runs from the path averages the drift away. Below [`END_SLACK_AHEAD_M`].
const END_SLACK_BESIDE_M: f64 = 4.0;
/// A road runs beside another where the cosine of the angle between them is above this
/// (about 25 degrees).
const BESIDE_COS: f64 = 0.9;
/// A matched path that runs on past a node by at most this much ends at that node for a
/// reading that leaves it there, metres: the drawing's end sampled a metre or two into the
/// other branch of a fork.
const END_SLIVER_M: f64 = 2.5;
/// How far along the network the search goes from a restricted piece back to the path
/// before it and on to the path after it, metres.
const MAX_LINK_M: f64 = 300.0;
/// A path through the piece "explains the drawing almost as well" when its length is
/// within this many metres of the matched path between the same points (or within
/// [`LENGTH_SLACK_SHARE`] of it, whichever is larger)...
const LENGTH_SLACK_M: f64 = 8.0;
/// ...(the share)...
const LENGTH_SLACK_SHARE: f64 = 0.2;
/// ...or of the drawing where the reading is the longer and the drawing goes where the
/// matched path does not: a drawing thinned to a few points cuts the corners of what it
/// draws, of a tight loop (a car-park ramp, a turning loop) by a third.
const LONGER_SLACK_SHARE: f64 = 0.5;
/// ...and it strays from the drawing at most this much further than the matched path
/// does there, metres. Cutting or going round a corner beside the drawing differs by
/// more (a route that turns at an intersection is not read as using the street ahead).
const STRAY_SLACK_M: f64 = 8.0;
/// A reading shorter than the matched path between the same two nodes that lies this
/// near it all along (nodes and midpoints) is as likely as the path whatever their lengths:
/// as far as a drawing's drift and noise move a vertex (3 m and 1 m in the evaluation).
const SHORTCUT_NEAR_M: f64 = 4.0;
/// A restriction this near the drawing...
const SPUR_NEAR_M: f64 = 8.0;
/// ...where the drawing runs this far from the matched path may be on the route, metres.
const SPUR_OFF_M: f64 = 15.0;
/// A vertex moved back by the drawing's offset lies this far off the matched path at
/// least to be the tip of a loop the sampling cut, metres (see [`RouteNetwork::shifted_tip`])...
const TIP_OFF_M: f64 = 8.0;
/// ...with its offset measured on the drawing this far either side of it and beyond.
const TIP_MARGIN_M: f64 = 20.0;

/// A longer reading may go round the corner of a step of the drawing this long or longer,
/// however little of it lies between where the drawing passes the reading's ends (see
/// [`Drawing::longest_part`]): a shorter step turns within the drawing's offset, which
/// [`LENGTH_SLACK_M`] allows for, metres.
const CORNER_STEP_M: f64 = 20.0;

/// The drawing's typical distance from the matched path near an end is taken over this
/// much of it, metres.
const TYPICAL_WINDOW_M: f64 = 200.0;

/// How far either side of a reading the drawing's steps tell how much road one step may
/// stand for, metres.
const STEP_WINDOW_M: f64 = 200.0;

/// Beyond the end of the matched path, a road goes on in the direction of travel when
/// it turns by at most 60 degrees (the cosine).
const MIN_STRAIGHT_COS: f64 = 0.5;
/// How far along the roads from the matched path's end a short restricted way at the
/// drawn end is looked for, metres.
const SHORT_WAY_REACH_M: f64 = 40.0;
/// A way's line turns back on itself where the cosine of its turn is below this (more than
/// about 155°).
const FOLD_COS: f64 = -0.9;

/// Where a drawing ends (or starts), for the roads a route may travel just beyond.
struct EndArea {
    /// The drawing's end.
    at: [f64; 2],
    /// How near it a road must lie: about as near as the matched path's end, metres.
    radius: f64,
    /// The direction of travel where the matched path ends (any length).
    heading: [f64; 2],
}

/// The matched path as the search needs it: where it passes each node and which
/// segments it travels.
#[derive(Default)]
pub(crate) struct PathIndex {
    /// Node index -> km along the matched route where the path first passes it.
    pub nodes: HashMap<u32, f64>,
    /// Positions of the path's nodes in travel order (so by km), with their km.
    pub points: Vec<(f64, [f64; 2])>,
    /// Segments travelled.
    pub segs: HashSet<SegRef>,
    /// The first and the last piece of the path.
    pub ends: [Option<Piece>; 2],
}

/// Where a search from a restricted piece joins the matched path, or the drawing's end.
#[derive(Debug, Clone)]
struct Joint {
    /// The node of the matched path, or `None` where the drawing starts (ends) near it.
    node: Option<u32>,
    /// Metres along the network from the piece (negative: the part of the piece the
    /// reading skips because the drawing starts or ends on it).
    dist: f64,
    /// The nodes between, nearest to the piece first, the joint last (in
    /// [`Joints::chains`]).
    chain: Range<usize>,
    /// For `None`: how far the joint lies from the drawing's end, metres.
    off: f64,
}

/// What the searches of one match share: the drawing, the matched path, what it already
/// meets, and the searches done so far (neighbouring pieces start from the same nodes).
struct Search<'a> {
    drawing: Drawing,
    path: &'a PathIndex,
    /// How far each of the path's points (in `path.points` order) lies from the drawing;
    /// NaN until first needed.
    path_away: Vec<f64>,
    ways: &'a [TravelledWay],
    /// The joints [`RouteNetwork::reach_path`] found.
    joints: RefCell<Joints>,
    /// The drawing seen from the nodes the searches meet.
    nodes: NodeCache,
    /// The node map and heap of [`RouteNetwork::reach_path`], kept between its calls.
    reach: RefCell<(Reached, BinaryHeap<HeapItem>)>,
    /// A reading's nodes, its points and the matched stretch's points, kept between
    /// readings: a match weighs hundreds of them.
    chain_buf: Vec<u32>,
    reading_buf: Vec<[f64; 2]>,
    matched_buf: Vec<[f64; 2]>,
}

/// Every joint a match's searches found, in one list (a search's in one run), and their
/// chains' nodes in another: hundreds of small lists would each be an allocation.
#[derive(Default)]
struct Joints {
    list: Vec<Joint>,
    chains: Vec<u32>,
    /// (start node, forward) -> the run of `list` found from it.
    by_start: HashMap<(u32, bool), Range<usize>>,
}

/// A restriction met on a piece: where, and how far along the piece (from its first node
/// in the direction of travel, 0 to 1; `None` for the whole way's).
type PieceHit<'n> = (&'n HitTemplate, [f64; 2], Option<f64>);

/// Node -> (distance, the node it was reached from).
type Reached = HashMap<u32, (f64, u32)>;

impl Search<'_> {
    /// How far node `n` (at `xy`) lies from the drawing, computed once per match.
    fn node_away(&self, n: u32, xy: [f64; 2]) -> f64 {
        self.nodes.at(&self.drawing, n, xy).0
    }
}

/// The drawing seen from network nodes, each computed once per match: pieces and searches
/// meet the same nodes.
#[derive(Default)]
struct NodeCache {
    /// Node -> its [`Drawing::project`]ion.
    at: RefCell<HashMap<u32, (f64, f64)>>,
    /// Node -> its [`Drawing::passes`], for the readings that start or end at it.
    passes: RefCell<HashMap<u32, Rc<[f64]>>>,
    /// (node, next node) -> how far the midpoint between them lies from the drawing: the
    /// readings through neighbouring pieces share their links.
    mids: RefCell<HashMap<(u32, u32), f64>>,
    /// For the drawing's start and end: how far along it they project and where it
    /// passes them, for every reading that starts or ends there.
    ends: [OnceCell<(f64, Rc<[f64]>)>; 2],
}

impl NodeCache {
    /// [`Drawing::project`] of node `n` (at `xy`).
    fn at(&self, drawing: &Drawing, n: u32, xy: [f64; 2]) -> (f64, f64) {
        *self.at.borrow_mut().entry(n).or_insert_with(|| drawing.project(xy))
    }

    /// [`Drawing::passes`] of node `n` (at `xy`).
    fn passes(&self, drawing: &Drawing, n: u32, xy: [f64; 2]) -> Rc<[f64]> {
        Rc::clone(self.passes.borrow_mut().entry(n).or_insert_with(|| drawing.passes(xy).into()))
    }

    /// [`Drawing::away`] of the midpoint from node `a` (at `xy[0]`) to `b` (at `xy[1]`).
    fn mid_away(&self, drawing: &Drawing, (a, b): (u32, u32), xy: [[f64; 2]; 2]) -> f64 {
        *self.mids.borrow_mut().entry((a, b)).or_insert_with(|| drawing.away(lerp(xy[0], xy[1], 0.5)))
    }

    /// How far along the drawing its start (`k` 0) or end (1) projects, and where the
    /// drawing passes it.
    fn end(&self, drawing: &Drawing, k: usize) -> (f64, Rc<[f64]>) {
        let (along, passes) = self.ends[k].get_or_init(|| {
            let at = drawing.ends[k];
            (drawing.project(at).1, drawing.passes(at).into())
        });
        (*along, Rc::clone(passes))
    }
}

/// Whether `t` is among `hits` already (same source and tag).
fn among<'h>(mut hits: impl Iterator<Item = &'h RestrictionHit>, t: &HitTemplate) -> bool {
    hits.any(|h| h.source == t.source && h.tag == t.tag)
}

impl RouteNetwork {
    /// Restricted pieces the drawing may have used instead of the matched path, with the
    /// restrictions on them that the matched path does not already meet.
    pub(crate) fn possible_hits(
        &self,
        coords: &[[f64; 2]],
        samples: &[Sample],
        path: &PathIndex,
        ways: &[TravelledWay],
        met: &[RestrictionHit],
    ) -> Vec<PossibleHit> {
        let mut out: Vec<PossibleHit> = Vec::new();
        if !self.has_restricted() || samples.is_empty() {
            return out;
        }
        let mut seen: HashSet<SegRef> = HashSet::default();
        // The restrictions on each piece, kept between pieces.
        let mut hits: Vec<PieceHit> = Vec::new();
        // Built only once a restricted piece is near.
        let mut search: Option<Search> = None;
        let ends = [samples[0].xy, samples[samples.len() - 1].xy];
        // A reading may start (end) where the drawing does only if it lies about as near
        // the drawn start (end) as the matched path's start (end), or as the drawing runs
        // from the path there: a drawing that runs 6 m off the path but happens to end 1 m
        // from it gives no sign that the route ends on it rather than on a road 6 m away.
        let gap = [0, 1].map(|k| self.path_end(path, k).map_or(0.0, |at| dist(ends[k], at)));
        let off = [0, 1].map(|k| gap[k].max(self.typical_away(coords, path, k)));
        let [radius, ahead, beside] =
            [END_SLACK_M, END_SLACK_AHEAD_M, END_SLACK_BESIDE_M].map(|slack| off.map(|d| (d + slack).min(END_M)));
        let reach = UNCERTAINTY_M + crate::routes::matcher::SAMPLE_STEP_M / 2.0;
        let near_sample = |s: &Sample| {
            rstar::AABB::from_corners([s.xy[0] - reach, s.xy[1] - reach], [s.xy[0] + reach, s.xy[1] + reach])
        };
        // Distances are taken to the drawing as drawn: the samples skip vertices.
        let new_search = || {
            let line: Vec<[f64; 2]> = coords.iter().map(|&c| self.to_xy(c)).collect();
            let drawing = Drawing::new(&line, ends, gap, radius, ahead, beside);
            let path_away = vec![f64::NAN; path.points.len()];
            Search {
                drawing,
                path,
                path_away,
                ways,
                joints: RefCell::default(),
                nodes: NodeCache::default(),
                reach: RefCell::default(),
                chain_buf: Vec::new(),
                reading_buf: Vec::new(),
                matched_buf: Vec::new(),
            }
        };
        // The restricted segments near each sample, in sample order: one tree query per
        // group of samples (a query's cost is mostly the walk down the tree), each segment
        // taken at the first sample it is near, in the tree's order there.
        let mut found: Vec<(usize, SegRef)> = Vec::new();
        let mut envs: Vec<rstar::AABB<[f64; 2]>> = Vec::with_capacity(SAMPLES_PER_QUERY);
        for group in samples.chunks(SAMPLES_PER_QUERY) {
            envs.clear();
            envs.extend(group.iter().map(near_sample));
            let all = envs.iter().fold(envs[0], |a, e| a.merged(e));
            found.clear();
            for (env, seg) in self.restricted_in(&all) {
                if let Some(i) = envs.iter().position(|e| e.intersects(&env)) {
                    found.push((i, seg));
                }
            }
            found.sort_by_key(|&(i, _)| i);
            for &(_, seg) in &found {
                if path.segs.contains(&seg) || !seen.insert(seg) {
                    continue;
                }
                let search = search.get_or_insert_with(new_search);
                let near_node = |n: u32| search.node_away(n, self.node_xy(n)) <= UNCERTAINTY_M;
                let (u, v) = self.seg_nodes(seg.0, seg.1);
                let mid_away = || search.nodes.mid_away(&search.drawing, (u, v), [self.node_xy(u), self.node_xy(v)]);
                if !(near_node(u) || mid_away() <= UNCERTAINTY_M || near_node(v)) {
                    continue;
                }
                let ow = self.oneway(seg.0);
                for (dir, from, to) in [(Direction::Forward, u, v), (Direction::Backward, v, u)] {
                    let allowed = if dir == Direction::Forward { ow >= 0 } else { ow <= 0 };
                    if !allowed {
                        continue;
                    }
                    self.piece_hits(seg, dir, from, to, path, &mut hits);
                    hits.retain(|(t, ..)| !among(met.iter(), t));
                    if hits.is_empty() {
                        continue;
                    }
                    let mut found = self.through(search, &hits, seg, from, to);
                    found.extend(self.off_path(search, &hits, seg, [from, to]));
                    for p in found {
                        if !out.iter().any(|o| o.hit.source == p.hit.source && o.hit.tag == p.hit.tag) {
                            out.push(p);
                        }
                    }
                }
            }
        }
        let shifted_end = |k: usize| search.get_or_insert_with(new_search).drawing.shifted_end(k, &path.points);
        self.beyond_ends(coords, path, met, radius, shifted_end, &mut out);
        out.sort_by(|a, b| a.hit.km.total_cmp(&b.hit.km));
        out
    }

    /// The restrictions `fresh` on segment `seg` next to where the drawing goes far from
    /// the matched path: the drawing reaches them and the match does not go there (a spur
    /// the sampling thinned away), whatever way joins them to the path.
    /// Also where the drawing starts (ends) far from the path, before it first nears it
    /// (after it last leaves it): read at the route's start (end).
    fn off_path(&self, search: &Search, fresh: &[PieceHit], seg: SegRef, ends: [u32; 2]) -> Vec<PossibleHit> {
        let path = search.path;
        let mut out = Vec::new();
        let near_path = |p: [f64; 2]| self.segment_within(p, SPUR_OFF_M, |s| path.segs.contains(&s));
        let tip = self.shifted_tip(search, ends);
        for &(t, at, _) in fresh.iter() {
            // Most restrictions lie at the piece's ends, whose projections the search has.
            let end = ends.into_iter().find(|&n| self.node_xy(n) == at);
            let (d, along) =
                end.map_or_else(|| search.drawing.project(at), |n| search.nodes.at(&search.drawing, n, at));
            let spur = (d <= SPUR_NEAR_M).then(|| (along, search.drawing.point_at(along)));
            let Some((along, q)) = spur.filter(|&(_, q)| !near_path(q)).or(tip) else { continue };
            // Where the drawing comes to the path on one side only, it starts (ends) off
            // it and the match leaves its first (last) metres unexplained: a loop round a
            // yard at the start that the sampling thinned away, the match starting where
            // the drawing first nears it. The route may start (end) there. Where it never
            // comes near the path, the match explains none of it: the ends' rules judge.
            let k = search.drawing.cum.partition_point(|&c| c <= along);
            let line = &search.drawing.line;
            let before = line[..k].iter().rev().any(|&p| near_path(p));
            let after = line[k..].iter().any(|&p| near_path(p));
            let nearest = || path.points.iter().min_by(|a, b| dist(a.1, q).total_cmp(&dist(b.1, q))).map(|p| p.0);
            let km = match (before, after) {
                (true, true) => nearest(),
                (false, true) => Some(0.0),
                (true, false) => path.points.last().map(|p| p.0),
                (false, false) => None,
            };
            let Some(km) = km else { continue };
            out.push(PossibleHit {
                hit: t.at(self.to_lonlat(at), km),
                via_way_id: self.way_id(seg.0),
                instead_of: Vec::new(),
                from_km: km,
                to_km: km,
            });
        }
        out
    }

    /// A vertex of the drawing that, moved back by the drawing's offset from the matched
    /// path there, lies on the piece from node `ends[0]` to `ends[1]` and well off the
    /// path: how far along the drawing, and where moved back. The tip of a loop the
    /// sampling cut (a car park's ramp that leaves the street and comes back beside where
    /// it left) lies off the path only by the offset.
    fn shifted_tip(&self, search: &Search, ends: [u32; 2]) -> Option<(f64, [f64; 2])> {
        let drawing = &search.drawing;
        let [a, b] = ends.map(|n| self.node_xy(n));
        let along = ends.map(|n| search.nodes.at(drawing, n, self.node_xy(n))).map(|(d, along)| (d.is_finite(), along));
        let (lo, hi) = along
            .iter()
            .filter(|x| x.0)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| (lo.min(x.1), hi.max(x.1)));
        if lo > hi {
            return None;
        }
        // Near its ends the drawing's offset is what the ends' rules weigh.
        let total = drawing.cum.last().copied().unwrap_or(0.0);
        let first = drawing.cum.partition_point(|&c| c < (lo - UNCERTAINTY_M).max(SHIFTED_END_SKIP_M));
        let last = drawing.cum.partition_point(|&c| c <= (hi + UNCERTAINTY_M).min(total - SHIFTED_END_SKIP_M));
        // A short drawing's ends leave no stretch between them (`last` before `first`).
        let bends = drawing.bends();
        let (first, last) = (bends.partition_point(|&k| k < first), bends.partition_point(|&k| k < last));
        bends[first..last.max(first)].iter().find_map(|&k| {
            // No offset the fit accepts moves a vertex further than this onto the piece.
            let (at, v) = (drawing.cum[k], drawing.line[k]);
            if project_on_segment_2(v, a, b).1 > SHIFT_REACH_M.powi(2) {
                return None;
            }
            let (o, _) = drawing.offset_around(&search.path.points, at - TIP_MARGIN_M, at + TIP_MARGIN_M)?;
            let v = [v[0] - o[0], v[1] - o[1]];
            let tip = project_on_segment_2(v, a, b).1 <= SHIFTED_END_M * SHIFTED_END_M
                && !self.segment_within(v, TIP_OFF_M, |s| search.path.segs.contains(&s));
            tip.then_some((at, v))
        })
    }

    /// Restrictions on the first and last matched segments just outside the matched
    /// path (a bridge above, a GeoJSON point, the node at the segment's outer end) within
    /// [`UNCERTAINTY_M`] of where the drawing starts or ends: the route may start or end
    /// beyond them.
    fn beyond_ends(
        &self,
        coords: &[[f64; 2]],
        path: &PathIndex,
        met: &[RestrictionHit],
        radius: [f64; 2],
        mut shifted_end: impl FnMut(usize) -> ShiftedEnd,
        out: &mut Vec<PossibleHit>,
    ) {
        let total_km = path.points.last().map_or(0.0, |p| p.0);
        let (Some(&first), Some(&last)) = (coords.first(), coords.last()) else { return };
        let mut near_end = Vec::new();
        for (k, end, km) in [(0, first, 0.0), (1, last, total_km)] {
            let Some(p) = path.ends[k] else { continue };
            let (start, radius) = (k == 0, radius[k]);
            let end = self.to_xy(end);
            let forward = p.f1 >= p.f0;
            // Where the path leaves the segment at this end, and whether the outside lies
            // towards the segment's first node.
            let (edge, below) = if start { (p.f0, forward) } else { (p.f1, !forward) };
            let (u, v) = self.seg_nodes(p.way, p.seg);
            let outer = if below { u } else { v };
            let mut found: Vec<(&HitTemplate, [f64; 2])> = Vec::new();
            for (f, t) in self.seg_hits(p.way, p.seg) {
                if (below && *f < edge) || (!below && *f > edge) {
                    found.push((t, self.point_xy(p.way, p.seg, *f)));
                }
            }
            // Also where the path ends right at it: a drawing that ends at a gate may
            // stop before it or go through.
            let at = self.node_xy(outer);
            found.extend(self.passed_node_hits(outer).iter().map(|t| (t, at)));
            let via = self.way_id(p.way);
            let mut found: Vec<(&HitTemplate, [f64; 2], i64)> = found.into_iter().map(|(t, at)| (t, at, via)).collect();
            if dist(self.node_xy(outer), end) <= END_M {
                let heading = self.path_heading(path, k).unwrap_or([0.0; 2]);
                self.past_end(outer, start, EndArea { at: end, radius, heading }, path, &mut found);
            }
            self.short_ways_at_end(path, (k, outer), end, radius, &mut found);
            found.retain(|&(t, at, _)| dist(at, end) <= UNCERTAINTY_M && !among(met.iter(), t));
            // Where the drawing's offset is known at this end, the route starts (ends) where
            // the drawing does moved back by it: on the matched path there, it passes none
            // of what lies beyond the path further than [`PAST_END_M`] from there (the
            // offset is measured only where something is left to judge).
            if !found.is_empty()
                && let Some((c, known)) = shifted_end(k)
            {
                let reach = (END_M + MAX_SHIFT_M) / 1000.0;
                let (lo, hi) = if start { (0.0, reach) } else { (total_km - reach, total_km) };
                self.points_to_end(path, k, lo, hi, &mut near_end);
                match known {
                    Known::Both => {
                        if line_away_2(&near_end, c) <= SHIFTED_END_M * SHIFTED_END_M {
                            found.retain(|&(_, at, _)| dist(at, c) <= PAST_END_M);
                        }
                    }
                    // Where only the offset across the road is known, the route starts (ends)
                    // somewhere along that road from there, as far as the offset may reach.
                    Known::Across(n) => {
                        if let Some(line) = self.end_line(path, k, c, n, MAX_SHIFT_M)
                            && near_end.windows(2).any(|w| segments_apart(line, [w[0], w[1]]).1 <= SHIFTED_END_M)
                        {
                            found.retain(|&(_, at, _)| project_on_segment(at, line[0], line[1]).1 <= PAST_END_M);
                        }
                    }
                }
            }
            for (t, at, via_way_id) in found {
                if !among(out.iter().map(|o| &o.hit), t) {
                    out.push(PossibleHit {
                        hit: t.at(self.to_lonlat(at), km),
                        via_way_id,
                        instead_of: Vec::new(),
                        from_km: km,
                        to_km: km,
                    });
                }
            }
        }
    }

    /// Restrictions on the roads a route may travel beyond node `from` (before it, for
    /// the `start`) when it truly ends (starts) near where the drawing does: each road
    /// entered (left) at a node within [`END_M`] of the end, up to [`END_M`] beyond
    /// `from`, that lies about as near the end as the matched path does and goes on in
    /// the direction of travel (a drawing that stops at a junction gives no sign of a
    /// turn, but one that stops a few metres short of the road ahead cannot be told from
    /// it), with the restricted way it lies on.
    fn past_end<'n>(
        &'n self,
        from: u32,
        start: bool,
        area: EndArea,
        path: &PathIndex,
        found: &mut Vec<(&'n HitTemplate, [f64; 2], i64)>,
    ) {
        let EndArea { at: end, radius, heading } = area;
        let mut seen: HashMap<u32, f64> = HashMap::default();
        let mut heap = BinaryHeap::new();
        seen.insert(from, 0.0);
        heap.push(HeapItem(0.0, from));
        while let Some(HeapItem(d, n)) = heap.pop() {
            if seen.get(&n).is_some_and(|&best| d > best) || dist(self.node_xy(n), end) > END_M {
                continue;
            }
            for (next, e, dir) in self.neighbours(n, start) {
                if path.segs.contains(&(e.way, e.seg)) {
                    continue;
                }
                let (u, v) = self.seg_nodes(e.way, e.seg);
                let nd = d + e.len;
                if nd <= END_M && seen.get(&next).is_none_or(|&best| nd < best) {
                    seen.insert(next, nd);
                    heap.push(HeapItem(nd, next));
                }
                let (a, b) = (self.node_xy(n), self.node_xy(next));
                let travel = if start { [a[0] - b[0], a[1] - b[1]] } else { [b[0] - a[0], b[1] - a[1]] };
                let along = travel[0] * heading[0] + travel[1] * heading[1];
                let straight = along >= MIN_STRAIGHT_COS * travel[0].hypot(travel[1]) * heading[0].hypot(heading[1]);
                if !straight || project_on_segment(end, self.node_xy(u), self.node_xy(v)).1 > radius {
                    continue;
                }
                self.segment_met((e.way, e.seg), dir, a, (next, b), found);
            }
        }
    }

    /// What a route meets on segment `seg` travelled in `dir`: the way's own restrictions
    /// (placed at `way_at`), those at points of the segment, and those on node `passed` (at
    /// its position), with the way's OSM id.
    fn segment_met<'n>(
        &'n self,
        (way, seg): SegRef,
        dir: Direction,
        way_at: [f64; 2],
        (passed, passed_at): (u32, [f64; 2]),
        found: &mut Vec<(&'n HitTemplate, [f64; 2], i64)>,
    ) {
        let via = self.way_id(way);
        found.extend(self.way_hits(way).iter().filter(|t| t.applies(dir)).map(|t| (t, way_at, via)));
        for (f, t) in self.seg_hits(way, seg) {
            found.push((t, self.point_xy(way, seg, *f), via));
        }
        found.extend(self.passed_node_hits(passed).iter().map(|t| (t, passed_at, via)));
    }

    /// Restricted ways lying wholly within `radius` of the drawn end (start) `k` at `end`,
    /// or with a dead end there, reached along the roads from the matched path's last
    /// (first) metres or from `outer` beyond it: a drawn end cannot tell a route that ends
    /// on such a way (a short ramp off a small roundabout) from one that ends on the path.
    /// So is a segment reached whose far node lies there: the route may end (start) at that
    /// node, a few metres of road from the path (a covered loop under the street it starts
    /// from, smaller than the drawing's steps).
    fn short_ways_at_end<'n>(
        &'n self,
        path: &PathIndex,
        (k, outer): (usize, u32),
        end: [f64; 2],
        radius: f64,
        found: &mut Vec<(&'n HitTemplate, [f64; 2], i64)>,
    ) {
        let env = rstar::AABB::from_corners([end[0] - radius, end[1] - radius], [end[0] + radius, end[1] + radius]);
        if self.restricted_in(&env).next().is_none() {
            return;
        }
        let start = k == 0;
        let end_km = if start { 0.0 } else { path.points.last().map_or(0.0, |p| p.0) };
        // Each node reached with the segment it was reached by: a route does not turn back
        // along it.
        let mut seen: HashMap<u32, (f64, Option<SegRef>)> = HashMap::default();
        let mut heap = BinaryHeap::new();
        let near_end = path.nodes.iter().filter(|&(_, &km)| (km - end_km).abs() * 1000.0 <= SHORT_WAY_REACH_M);
        for n in near_end.map(|(&n, _)| n).chain([outer]) {
            seen.insert(n, (0.0, None));
            heap.push(HeapItem(0.0, n));
        }
        // Also a spur whose dead end lies within the radius: a route that ends on a spur may end
        // anywhere along it, and at the tip the drawn end cannot tell it from the path.
        let at_end = |n: &u32| dist(self.node_xy(*n), end) <= radius;
        let inside = |w: u32| {
            let nodes = self.way_nodes(w);
            nodes.iter().all(at_end)
                || [nodes.first(), nodes.last()].into_iter().flatten().any(|n| self.dead_end(*n) && at_end(n))
        };
        while let Some(HeapItem(d, n)) = heap.pop() {
            let Some(&(best, came)) = seen.get(&n) else { continue };
            if d > best {
                continue;
            }
            for (next, e, dir) in self.neighbours(n, start) {
                let seg = (e.way, e.seg);
                if path.segs.contains(&seg) || came == Some(seg) {
                    continue;
                }
                let nd = d + e.len;
                if nd <= SHORT_WAY_REACH_M && seen.get(&next).is_none_or(|&(best, _)| nd < best) {
                    seen.insert(next, (nd, Some(seg)));
                    heap.push(HeapItem(nd, next));
                }
                // The route passes node `n` onto the segment and may end anywhere on it: it
                // passes `next` only if it goes on from there. Kept only for a way inside, or
                // where the route may end at `next` off the path (one that ends on the path
                // there is the path's reading).
                let kept = found.len();
                self.segment_met(seg, dir, self.node_xy(next), (n, self.node_xy(n)), found);
                let ends_off = || at_end(&next) && !path.nodes.contains_key(&next);
                if found.len() > kept && !inside(e.way) && !ends_off() {
                    found.truncate(kept);
                }
            }
        }
    }

    /// The restrictions on segment `seg` travelled from node `from` to `to`
    /// that the matched path does not meet, if a path through the segment explains the
    /// drawing almost as well as the matched one: it joins the matched path (or starts or
    /// ends where the drawing does) before and after the segment, about as long and
    /// straying from the drawing little more than the matched path does there. `fresh`:
    /// the piece's restrictions the matched path does not meet ([`Self::piece_hits`]).
    fn through(&self, search: &mut Search, fresh: &[PieceHit], seg: SegRef, from: u32, to: u32) -> Vec<PossibleHit> {
        let path = search.path;
        let (a, b) = (self.node_xy(from), self.node_xy(to));
        let before = self.joints(search, from, false);
        // With no way back to the path, nor the drawing's start on the piece (see
        // `on_piece`; `radius_ahead` is never below the other radii) or near enough to it
        // that the start moved back by the drawing's offset may lie on it (see below), no
        // reading passes it: the search on from its far end is not needed.
        let start_reach = search.drawing.radius_ahead[0].max(SHIFT_REACH_M);
        if before.is_empty() && project_on_segment(search.drawing.ends[0], a, b).1 > start_reach {
            return Vec::new();
        }
        let after = self.joints(search, to, true);
        let Search { drawing, path_away, nodes, joints, chain_buf, reading_buf, matched_buf, .. } = search;
        let joints = joints.borrow();
        let (found, chains) = ([&joints.list[before], &joints.list[after]], &joints.chains);
        let node_away = |n: u32| nodes.at(drawing, n, self.node_xy(n)).0;
        let mid_away = |a: u32, b: u32| nodes.mid_away(drawing, (a, b), [self.node_xy(a), self.node_xy(b)]);
        // How far along the drawing it passes nearest node `j` (for none, the drawing's
        // start (`k` 0) or end (1)).
        let along = |k: usize, j: Option<u32>| {
            j.map_or_else(|| nodes.end(drawing, k).0, |j| nodes.at(drawing, j, self.node_xy(j)).1)
        };
        // Where the drawing passes node `j` (for none, its start or end).
        let passes = |k: usize, j: Option<u32>| -> Rc<[f64]> {
            j.map_or_else(|| nodes.end(drawing, k).1, |j| nodes.passes(drawing, j, self.node_xy(j)))
        };
        // The drawing may start or end on the segment itself: the reading then covers
        // only the part of it beyond the end's projection.
        let len = self.seg_len(seg.0, seg.1);
        // Where the drawing's start and end project on the piece: (fraction, distance).
        let ends_on = [0, 1].map(|k| project_on_segment(drawing.ends[k], a, b));
        let on_piece = [0, 1].map(|k| {
            let (t, d) = ends_on[k];
            // A road that forks from the path just before the drawn end (not one beside it
            // all along) may be read as where it ends a little further away.
            let forks =
                || found[1 - k].iter().any(|j| j.node.is_some_and(|n| dist(self.node_xy(n), drawing.ends[k]) <= END_M));
            let beside = || {
                d <= drawing.radius_beside[k]
                    && self.along_path_end(path, k, a, b).is_some_and(|l| l >= BESIDE_COS * len)
            };
            let near = d <= drawing.radius[k]
                || (d <= drawing.radius_ahead[k] && drawing.goes_on(k, a, b) && forks())
                || beside();
            // Projected past the piece's far end, the reading would cover none of it: a
            // route that ends at a junction gives no sign of a turn there (see `past_end`
            // for the road that goes on). Projected before its near end where that node is
            // on the matched path, it is the reading from (to) that node, judged as such.
            let (inside, near_node) = if k == 0 { (t < 1.0, from) } else { (t > 0.0, to) };
            let at_near_node = if k == 0 { t <= 0.0 } else { t >= 1.0 };
            let covers = inside && !(at_near_node && path.nodes.contains_key(&near_node));
            // Also where the search on from the piece reaches the drawn end (a dead end
            // there): a route that ends on a short spur may end anywhere along it, and the
            // drawn end may lie at its near end, further from its far end than the path.
            (near && covers).then(|| {
                let skipped = if k == 0 { t * len } else { (1.0 - t) * len };
                Joint { node: None, dist: -skipped, chain: 0..0, off: 0.0 }
            })
        });
        let [before, after] = [0, 1].map(|k| found[k].iter().chain(&on_piece[k]));
        let away = |p: [f64; 2]| drawing.away(p);
        let total_km = path.points.last().map_or(0.0, |p| p.0);
        // (How far the length is off, km of the reading's ends on the matched path, the part
        // of the piece it covers.)
        let mut best: Option<(f64, f64, f64, [f64; 2])> = None;
        // Where along the drawing it passes the piece nearest, metres (none beyond
        // [`UNCERTAINTY_M`]): looked for once, by the first reading round a loop that asks.
        let piece_pass: OnceCell<Option<f64>> = OnceCell::new();
        for jn in before {
            for jm in after.clone() {
                let (n, m) = (jn.node, jm.node);
                // Whether the reading starts (ends) on the piece, where the drawing does.
                let on = [(0, jn), (1, jm)].map(|(k, j)| on_piece[k].as_ref().is_some_and(|o| std::ptr::eq(o, j)));
                // A reading that starts or ends where the drawing does covers the matched
                // path from its start or to its end.
                let kn = n.map_or(0.0, |n| path.nodes[&n]);
                let km = m.map_or(total_km, |m| path.nodes[&m]);
                let (lo, hi) = (kn.min(km), kn.max(km));
                let matched = (km - kn) * 1000.0;
                // Compared with the matched path and with the drawing between the two
                // points: where the drawing goes round a loop the matched path cuts (or
                // rejoins it behind), the loop explains the drawing better. A reading that
                // ends near (not at) an end of the drawing may differ by that distance.
                // The other reading's nodes, from where it leaves the path (or starts) to
                // where it rejoins it (or ends).
                let chain = &mut *chain_buf;
                chain.clear();
                chain
                    .extend(chains[jn.chain.clone()].iter().rev().chain([&from, &to]).chain(&chains[jm.chain.clone()]));
                // Where a way's line folds back to a restricted node no other road meets (a
                // sign's node pulled aside and the line drawn out to it and back), no route
                // drives the fold and no drawing shows it.
                let folds: f64 = chain.windows(3).map(|w| self.fold(w[0], w[1], w[2])).sum();
                let other = jn.dist + len + jm.dist - folds;
                // Where the drawing passes the two points nearest.
                let (mut from_m, mut to_m) = (along(0, n), along(1, m));
                // How far the reading's length lies outside what `reference` allows; a
                // longer one may also go round the corner a long step of the drawing cuts
                // (`room`).
                let outside = |reference: f64, longer_share: f64, room: f64| {
                    if reference <= 1.0 {
                        return f64::INFINITY;
                    }
                    let (share, room) =
                        if other > reference { (longer_share, room) } else { (LENGTH_SLACK_SHARE, 0.0) };
                    let allowed = LENGTH_SLACK_M.max(share * reference) + room;
                    ((other - reference).abs() - jn.off - jm.off).max(0.0) - allowed
                };
                let vs_matched = |room: f64| {
                    if n.is_some() && m.is_some() { outside(matched, LENGTH_SLACK_SHARE, room) } else { f64::INFINITY }
                };
                // A reading that adds road before the path's first node (after its last)
                // where the drawing adds none tells only where it starts (ends): it is
                // compared with the straight line from the drawn start (end) to the path,
                // if it starts (ends) no further from the drawn start (end) than the path.
                let from_end = |k: usize, j: &Joint, node: u32, at_end: bool| {
                    let off = if on[k] { ends_on[k].1 } else { j.off };
                    let span = dist(drawing.ends[k], self.node_xy(node));
                    (at_end && off <= span).then_some(span)
                };
                // A path that runs on past its first (last) node by no more than the end's
                // noise (a metre into the other branch of a fork) ends there for this.
                let sliver = END_SLIVER_M / 1000.0;
                let span = match (n, m) {
                    (None, Some(m)) => from_end(0, jn, m, km <= sliver),
                    (Some(n), None) => from_end(1, jm, n, kn >= total_km - sliver),
                    _ => None,
                };
                // A drawing longer than the matched path goes where the match does not:
                // there the reading may be longer than the drawing by its cut corners.
                let vs_drawn = |drawn: f64, room: f64| {
                    let drawn = span.filter(|_| drawn <= 1.0).unwrap_or(drawn);
                    let cut = if drawn > matched + LENGTH_SLACK_M { LONGER_SLACK_SHARE } else { LENGTH_SLACK_SHARE };
                    outside(drawn, cut, room)
                };
                // The other reading's points: each node, the midpoint to the next, the next
                // (less the first node and midpoint where it starts where the drawing does,
                // and the last midpoint and node where it ends there).
                let skip_start = if n.is_none() { 2 } else { 0 };
                let skip_end = if m.is_none() { 2 } else { 0 };
                let points = skip_start..(3 * chain.len().saturating_sub(1)).saturating_sub(skip_end);
                // A fold's node and the midpoints out to it (see `folds`) are weighed neither
                // for the stray nor for the fit: no drawing shows it.
                let folded =
                    |j: usize| j > 0 && j + 1 < chain.len() && self.fold(chain[j - 1], chain[j], chain[j + 1]) > 0.0;
                let stray_at = |i: usize| {
                    let (j, a, b) = (i / 3, chain[i / 3], chain[i / 3 + 1]);
                    match i % 3 {
                        0 if folded(j) => 0.0,
                        0 => node_away(a),
                        1 if folded(j) || folded(j + 1) => 0.0,
                        1 => mid_away(a, b),
                        _ if folded(j + 1) => 0.0,
                        _ => node_away(b),
                    }
                };
                // Where point `i` of the other reading lies.
                let point_at = |i: usize| {
                    let (a, b) = (self.node_xy(chain[i / 3]), self.node_xy(chain[i / 3 + 1]));
                    [a, lerp(a, b, 0.5), b][i % 3]
                };
                let miss_with = |room: f64| vs_matched(room).min(vs_drawn(to_m - from_m, room));
                let mut miss = miss_with(0.0);
                // A longer reading may go round the corner a long step of the drawing cuts:
                // one bend as far off the step as the reading strays makes it that much
                // longer (the stray is looked for only where the length needs it). The step
                // may reach beyond where the drawing passes the reading's ends (a corner
                // just past a junction); the bend is over its part between them. A loop off
                // the path and back (more than twice the road it stands for) goes out that
                // far and comes back: twice as long as the stray, not a bend's corner.
                if miss > 0.0 && drawing.steps_over(from_m, to_m, false).any(|(a, b)| b - a >= CORNER_STEP_M) {
                    let step = drawing.longest_part(from_m, to_m);
                    let out_and_back = n.is_some() && m.is_some() && matched > 0.0 && other > LOOP_SHARE * matched;
                    let bend = |depth: f64| {
                        if out_and_back { 2.0 * depth } else { 2.0 * (step * step / 4.0 + depth * depth).sqrt() - step }
                    };
                    if miss <= bend(step / 2.0) {
                        let depth = points.clone().map(stray_at).fold(0.0, f64::max).min(step / 2.0);
                        miss = miss_with(bend(depth));
                    }
                }
                // A shortcut that runs within a drawing's drift and noise of the matched path
                // all the way (a U-turn's link inside the corner the path takes) is not told
                // from it by length: another map's offset moves a U-turn's drawn tip along
                // the road and stretches or shrinks what it draws round it.
                if miss > 0.0 && n.is_some() && m.is_some() && other < matched && {
                    matched_points(path, points_between(path, lo, hi), matched_buf);
                    points.clone().all(|i| line_away_2(matched_buf, point_at(i)) <= SHORTCUT_NEAR_M.powi(2))
                } {
                    miss = 0.0;
                }
                // Round a loop the drawing between the two points is not the stretch read.
                let looped = miss > 0.0;
                if looped {
                    // Where the drawing passes the same place twice (round a loop), the
                    // stretch round the loop; looked for only here, it costs a few queries.
                    if let Some((ka, kb)) = stretch(&passes(0, n), &passes(1, m), to_m - from_m, other) {
                        let round = vs_drawn(kb - ka, 0.0);
                        if round < miss {
                            (miss, from_m, to_m) = (round, ka, kb);
                        }
                    }
                    // A drawing of a few points round a loop may never come back near
                    // enough to where the loop rejoins the path to count as passing it
                    // again: the stretch from where it comes nearest the reading's first
                    // point before it passes the piece to where it comes nearest its last
                    // point after, if the drawing there has gone towards the piece.
                    let pass = || {
                        let (away, at) = drawing.project(lerp(a, b, 0.5));
                        away.is_finite().then_some(at)
                    };
                    // (The matched path as far either side as the stretch is long.)
                    let mut towards_piece = |at_piece: f64, stretch_m: f64| {
                        let q = drawing.point_at(at_piece);
                        let reach = stretch_m / 1000.0;
                        matched_points(path, points_between(path, kn - reach, km + reach), matched_buf);
                        project_on_segment_2(q, a, b).1.sqrt() + LOOP_SIDE_M < line_away_2(matched_buf, q).sqrt()
                    };
                    if let (Some(n), Some(m)) = (n, m)
                        && matched > 0.0
                        && let Some(at_piece) = *piece_pass.get_or_init(pass)
                        && let Some(ka) = drawing.nearest_over(self.node_xy(n), 0.0, at_piece)
                        && let Some(kb) = drawing.nearest_over(self.node_xy(m), at_piece, f64::INFINITY)
                        && kb > ka
                        && other > kb - ka
                        && towards_piece(at_piece, kb - ka)
                    {
                        let round = vs_drawn(kb - ka, 0.0);
                        if round < miss {
                            (miss, from_m, to_m) = (round, ka, kb);
                        }
                    }
                    // A loop no wider than the drawing's offset: the drawing passes its
                    // mouth once, nearest where it comes back, so it passes where the
                    // reading rejoins the path no later than where it leaves it. The
                    // stretch it draws of the loop is then where it runs nearest the
                    // reading's nodes, and the reading, still cut, is judged by its fit
                    // there (Monaco's turning loop with a lift gate at a route's end).
                    if n.is_some() && m.is_some() && miss > 0.0 && to_m <= from_m {
                        let (ka, kb) = chain.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &j| {
                            let (d, at) = nodes.at(drawing, j, self.node_xy(j));
                            if d.is_finite() { (lo.min(at), hi.max(at)) } else { (lo, hi) }
                        });
                        if kb > ka {
                            (from_m, to_m) = (ka, kb);
                        }
                    }
                }
                // A drawing of a few points cuts a loop's corners by more than the length
                // allows: the reading may still fit its vertices far better. Across a loop
                // off the matched path and back onto it (a car-park ramp) it may cut by far.
                let cut = miss > 0.0;
                let loop_cut = n.is_some() && m.is_some() && other > (to_m - from_m).max(LOOP_SHARE * matched);
                if miss > if loop_cut { MAX_LOOP_CUT_M } else { MAX_CUT_M } {
                    continue;
                }
                if best.is_some_and(|b| miss >= b.0) {
                    continue;
                }
                // How far each reading strays from the drawing: the matched path's nodes
                // between the two points, and the other reading's nodes and midpoints
                // (from where the drawing starts, to where it ends, at the route's ends).
                let stretch_at = points_between(path, lo, hi);
                let mut matched_stray: f64 = 0.0;
                for (d, (_, p)) in path_away[stretch_at.clone()].iter_mut().zip(&path.points[stretch_at.clone()]) {
                    if d.is_nan() {
                        *d = away(*p);
                    }
                    matched_stray = matched_stray.max(*d);
                }
                // Where the reading starts (ends) where the drawing does, the matched path
                // strays from the drawing at least by how far it starts (ends) from there:
                // a path that leaves the drawing's first metres unexplained is no yardstick.
                let end_gap = [(0, n), (1, m)]
                    .iter()
                    .filter(|(_, end)| end.is_none())
                    .map(|&(k, _)| drawing.gap[k])
                    .fold(0.0, f64::max);
                matched_stray = matched_stray.max(end_gap);
                // A road between two vertices of the drawing lies within half the road
                // between them of one of them (plus the offset): a sparse drawing cannot
                // show a detour of that depth, nor rule it out. How much road a step stands
                // for is not known where it cuts a loop short (two vertices near the loop's
                // mouth): as much as the longest step drawn nearby. Not so before the drawn
                // start or after the drawn end, where no step hides anything.
                let window = if n.is_some() && m.is_some() { STEP_WINDOW_M } else { 0.0 };
                let steps = drawing.longest_step(from_m - window, to_m + window);
                // Where the rest of the drawing tells its offset from the roads, the drawing
                // moved back by it must run about as near the reading as the matched path:
                // a road beside the one drawn fails, however far the drawing is offset.
                let offset = (from_m < to_m).then(|| drawing.offset_around(&path.points, from_m, to_m)).flatten();
                // A drawing that runs that far from the roads it follows may stray that far
                // from the reading too, wherever the matched path lies nearer it.
                let offset_m = offset.map_or(0.0, |(o, _)| o[0].hypot(o[1]));
                let limit = (matched_stray.max(offset_m) + STRAY_SLACK_M).max(steps / 2.0);
                // Distances beyond the uncertainty are measured only where the limit
                // reaches past it (a drawing that turns a half step short of the route).
                let strays_within = |i: usize| {
                    let d = stray_at(i);
                    d <= limit || (d.is_infinite() && limit > UNCERTAINTY_M && drawing.away_wide(point_at(i)) <= limit)
                };
                // It strays too far as soon as one point does.
                if !points.clone().all(strays_within) {
                    continue;
                }
                // A reading that leaves and rejoins the path at one place (along a dead end
                // and back, round a loop): the path only passes that place, but a drawing
                // that steps back along the road passes it twice as well, so the reading is
                // compared with the path within that length either side of the place, and
                // must fit the drawing better (a vertex at the junction fits both alike).
                // One the drawing cuts short must fit it far better than the place itself.
                let one_place = hi <= lo && !cut;
                // A reading the drawing cuts short is judged by the fit alone; where the rest
                // of the drawing does not tell its offset, a loop off the path and back by
                // the drawing as drawn (its vertices off the path towards the loop), but
                // not a road beside the path (the offset may lie towards it); so is a reading
                // from (to) where the drawing starts (ends) further from the matched path's
                // start (end) than another map's offset: the path leaves that end unexplained.
                let fit_offset = offset.map(|(o, _)| o).or((cut && (loop_cut || end_gap > END_M)).then_some([0.0; 2]));
                let detour = loop_cut && matched > 1.0;
                let worse = fit_offset.map(|o| {
                    reading_buf.clear();
                    reading_buf.extend((0..chain.len()).filter(|&j| !folded(j)).map(|j| self.node_xy(chain[j])));
                    let at = if one_place {
                        let either_side = (to_m - from_m) / 1000.0;
                        points_between(path, lo - either_side, hi + either_side)
                    } else {
                        stretch_at.clone()
                    };
                    matched_points(path, at, matched_buf);
                    let within = drawing.worse_fit(reading_buf, matched_buf, o, from_m, to_m);
                    // A drawing of a few points may show a detour it cuts short only by a
                    // vertex just outside the stretch (past where it passes the junction the
                    // detour rejoins at, by the detour's far side): the vertices either side
                    // are weighed too, each against the path with the detour and without
                    // it, both running on past the stretch as far as the vertex lies.
                    if !(cut && detour) {
                        return within;
                    }
                    let outside = drawing.vertices_outside(from_m, to_m);
                    let beyond = outside.iter().flatten().map(|&c| (from_m - c).max(c - to_m)).reduce(f64::max);
                    let Some(beyond) = beyond else { return within };
                    let reach = (beyond + UNCERTAINTY_M) / 1000.0;
                    matched_points(path, points_between(path, lo - reach, lo), matched_buf);
                    reading_buf.splice(0..0, matched_buf.iter().copied());
                    matched_points(path, points_between(path, hi, hi + reach), matched_buf);
                    reading_buf.extend(matched_buf.iter().copied());
                    matched_points(path, points_between(path, lo - reach, hi + reach), matched_buf);
                    let fit_at = |c: f64| drawing.worse_fit(reading_buf, matched_buf, o, c, c);
                    within + outside.into_iter().flatten().map(fit_at).sum::<f64>()
                });
                // A detour that rejoins the path further on needs less: see `DETOUR_FIT_M2`.
                let needed = if detour { DETOUR_FIT_M2 } else { CUT_FIT_M2 };
                if cut && worse.is_none_or(|w| w > -needed) {
                    continue;
                }
                // Round a loop the stretch compared is the drawing's own excursion: where
                // only the offset across the road is known, a reading that explains it no
                // better than the road (a vertex that steps back along it) fails too.
                // Elsewhere, where only the offset across the road is known (a straight
                // road), a reading fails that fits worse whatever the offset along the road
                // within what the fit accepts: a road beside the one drawn.
                let allowed = if looped && one_place { -WORSE_FIT_M2 } else { WORSE_FIT_M2 };
                let fits_along = |o: [f64; 2], across: [f64; 2]| {
                    (-ALONG_TRIES..=ALONG_TRIES).any(|i| {
                        let s = f64::from(i) * MAX_SHIFT_M / f64::from(ALONG_TRIES);
                        let o = [o[0] - s * across[1], o[1] + s * across[0]];
                        o[0].hypot(o[1]) <= MAX_SHIFT_M
                            && drawing.worse_fit(reading_buf, matched_buf, o, from_m, to_m) <= allowed
                    })
                };
                if let (Some((o, known)), Some(w)) = (offset, worse)
                    && w > allowed
                    && match known {
                        Known::Both => true,
                        Known::Across(_) if looped => true,
                        Known::Across(across) => !fits_along(o, across),
                    }
                {
                    continue;
                }
                // Where the drawing's offset is known at an end the reading starts (ends) on
                // the piece, the route starts (ends) where the drawing does moved back by it:
                // the reading must start (end) there, on the piece and more than the
                // drawing's noise from where it joins the path (a route that starts at a
                // junction, drawn a map's offset down the restricted road leaving it). Where
                // only the offset across the road the path starts (ends) on is known, it
                // starts (ends) somewhere along that road from there: where the piece crosses
                // it, unless the piece runs along it too.
                let shifted_off = |k: usize, rest: f64| {
                    let Some(shifted) = drawing.shifted_end(k, &path.points) else { return false };
                    if shifted.1 != Known::Both
                        && self.along_path_end(path, k, a, b).is_none_or(|l| l > ACROSS_END_COS * len)
                    {
                        return false;
                    }
                    let Some((t, d)) = self.shifted_end_on(path, k, shifted, [a, b]) else { return false };
                    d > SHIFTED_END_M || rest + len * if k == 0 { 1.0 - t } else { t } <= SHIFTED_END_M
                };
                // A reading from the drawn start to the drawn end leaves none of the matched
                // path to measure that offset from: measured from the path it stands in for
                // (a street above the service tunnel the whole route runs in), it says
                // nothing against it.
                let whole = n.is_none() && m.is_none();
                if !whole && ((on[0] && shifted_off(0, jm.dist)) || (on[1] && shifted_off(1, jn.dist))) {
                    continue;
                }
                // A reading that starts or ends on the piece covers only part of it.
                let part = [if on[0] { ends_on[0].0 } else { 0.0 }, if on[1] { ends_on[1].0 } else { 1.0 }];
                best = Some((miss, lo, hi, part));
            }
        }
        // Where the drawing's offset is known at its start (end), the route starts (ends)
        // where the drawing does moved back by it: on the piece, if that lies on it and
        // the piece fits the drawing moved back at least as well as the matched path there
        // (the drawing cannot tell them apart: the last metres of a driveway a drawing of
        // a few points cuts across, a car-park loop at the start). Where only the
        // offset across the road is known (a straight road), the route starts (ends)
        // somewhere along the road from there: on the piece, if that lies off the matched
        // path and the piece runs there from it (a parking aisle turned into at the end).
        if best.is_none() {
            for k in [0, 1] {
                // The drawn end is at most the largest offset from where the route ends.
                if project_on_segment_2(drawing.ends[k], a, b).1 > SHIFT_REACH_M.powi(2) {
                    continue;
                }
                let Some(shifted @ (c, known)) = drawing.shifted_end(k, &path.points) else { continue };
                let Some((t, d)) = self.shifted_end_on(path, k, shifted, [a, b]) else { continue };
                if d > SHIFTED_END_M {
                    continue;
                }
                // Not one that has passed the piece's far node before it enters the piece:
                // that reading turns back on itself there and ends where it has been.
                let far = if k == 0 { from } else { to };
                let joint = found[1 - k]
                    .iter()
                    .filter(|j| !chains[j.chain.clone()].contains(&far))
                    .filter_map(|j| j.node.map(|n| (n, j)))
                    .min_by(|x, y| x.1.dist.total_cmp(&y.1.dist));
                let Some((node, joint)) = joint else { continue };
                let at = path.nodes[&node];
                let (lo, hi) = if k == 0 { (0.0, at) } else { (at, total_km) };
                self.points_to_end(path, k, lo, hi, matched_buf);
                let ends_here = if known == Known::Both {
                    // From the drawing's end to where it first (last) passes the joint:
                    // where it passes it nearest may be round a loop, far from this end.
                    let passed = passes(k, Some(node));
                    let (from_m, to_m) = if k == 0 {
                        let start = along(0, None);
                        (start, passed.iter().copied().find(|&m| m >= start).unwrap_or_else(|| along(1, Some(node))))
                    } else {
                        let end = along(1, None);
                        (passed.iter().copied().rev().find(|&m| m <= end).unwrap_or_else(|| along(0, Some(node))), end)
                    };
                    // Where the drawing round that stretch does not tell the offset (it turns
                    // right after the end), the offset the end was placed by.
                    let offset = drawing.offset_around(&path.points, from_m, to_m);
                    let Some((o, Known::Both)) = offset.or_else(|| drawing.end_offset(k, &path.points)) else {
                        continue;
                    };
                    let chain = chains[joint.chain.clone()].iter().map(|&n| self.node_xy(n));
                    let end_at = lerp(a, b, t);
                    reading_buf.clear();
                    if k == 0 {
                        reading_buf.extend([end_at, b].into_iter().chain(chain));
                    } else {
                        reading_buf.extend(chain.rev().chain([a, end_at]));
                    }
                    drawing.worse_fit(reading_buf, matched_buf, o, from_m, to_m) <= 0.0
                } else {
                    // How far the route runs from where it ends on the piece to the path.
                    let beyond = joint.dist + len * if k == 0 { 1.0 - t } else { t };
                    beyond <= END_M && line_away_2(matched_buf, c) > OFF_ROAD_END_M * OFF_ROAD_END_M
                };
                if ends_here {
                    // It passes what lies on the piece within the end's noise beyond there.
                    let past = PAST_END_M / len;
                    best = Some((0.0, lo, hi, if k == 0 { [t - past, 1.0] } else { [0.0, t + past] }));
                    break;
                }
            }
        }
        let Some((_, from_km, to_km, part)) = best else { return Vec::new() };
        let mut instead_of: Vec<i64> = Vec::new();
        for w in search.ways.iter().filter(|w| w.to_km > from_km && w.from_km < to_km) {
            if !instead_of.contains(&w.way_id) {
                instead_of.push(w.way_id);
            }
        }
        let via_way_id = self.way_id(seg.0);
        fresh
            .iter()
            .filter(|(_, _, along)| along.is_none_or(|f| (part[0]..=part[1]).contains(&f)))
            .map(|(t, at, _)| PossibleHit {
                hit: t.at(self.to_lonlat(*at), from_km),
                via_way_id,
                instead_of: instead_of.clone(),
                from_km,
                to_km,
            })
            .collect()
    }

    /// Restrictions met travelling segment `seg` in `dir`, with where (see [`PieceHit`]):
    /// the way's own (for that direction), structures above it, and its end nodes that are
    /// not on the path, where a route can pass them: a reading that reaches a dead end's
    /// last node ends there, as the matched path and the truth do.
    fn piece_hits<'n>(
        &'n self,
        seg: SegRef,
        dir: Direction,
        from: u32,
        to: u32,
        path: &PathIndex,
        out: &mut Vec<PieceHit<'n>>,
    ) {
        out.clear();
        let start = self.node_xy(from);
        out.extend(self.way_hits(seg.0).iter().filter(|t| t.applies(dir)).map(|t| (t, start, None)));
        let forward = self.seg_nodes(seg.0, seg.1).0 == from;
        for (f, t) in self.seg_hits(seg.0, seg.1) {
            out.push((t, self.point_xy(seg.0, seg.1, *f), Some(if forward { *f } else { 1.0 - f })));
        }
        for (n, along) in [(from, 0.0), (to, 1.0)] {
            if !path.nodes.contains_key(&n) {
                out.extend(self.passed_node_hits(n).iter().map(|t| (t, self.node_xy(n), Some(along))));
            }
        }
    }

    /// The joints of [`Self::reach_path`] from `start` (their run of [`Joints::list`]),
    /// searched once per match.
    fn joints(&self, search: &Search, start: u32, forward: bool) -> Range<usize> {
        if let Some(found) = search.joints.borrow().by_start.get(&(start, forward)) {
            return found.clone();
        }
        let mut joints = search.joints.borrow_mut();
        let first = joints.list.len();
        self.reach_path(start, forward, search, &mut joints);
        let found = first..joints.list.len();
        joints.by_start.insert((start, forward), found.clone());
        found
    }

    /// Where a path from `start` (`forward`) or to it (backward) joins the matched path
    /// within [`MAX_LINK_M`] along roads within [`UNCERTAINTY_M`] of the drawing: a node
    /// of the path, or the first node near where the drawing ends (starts) — within the
    /// drawing's end radius, or within [`END_M`] for a dead end. The search stops at the
    /// first path node of each branch.
    fn reach_path(&self, start: u32, forward: bool, search: &Search, out: &mut Joints) {
        let (drawing, path) = (&search.drawing, search.path);
        let (end, radius) =
            if forward { (drawing.ends[1], drawing.radius[1]) } else { (drawing.ends[0], drawing.radius[0]) };
        let mut reach = search.reach.borrow_mut();
        let (seen, heap) = &mut *reach;
        seen.clear();
        heap.clear();
        seen.insert(start, (0.0, start));
        heap.push(HeapItem(0.0, start));
        let chain = |seen: &Reached, n: u32, chains: &mut Vec<u32>| {
            let first = chains.len();
            let mut at = n;
            while at != start {
                chains.push(at);
                at = seen[&at].1;
            }
            chains[first..].reverse();
            first..chains.len()
        };
        let mut found_end = false;
        while let Some(HeapItem(d, n)) = heap.pop() {
            if seen.get(&n).is_some_and(|&(best, _)| d > best) {
                continue;
            }
            if path.nodes.contains_key(&n) {
                let chain = chain(seen, n, &mut out.chains);
                out.list.push(Joint { node: Some(n), dist: d, chain, off: 0.0 });
                continue;
            }
            // A dead end near where the drawing ends is a place a route may end at (a
            // yard, a driveway), wherever the matched path ends.
            let to_end = dist(self.node_xy(n), end);
            if !found_end && (to_end <= radius || (to_end <= END_M && self.dead_end(n))) {
                found_end = true;
                let chain = chain(seen, n, &mut out.chains);
                out.list.push(Joint { node: None, dist: d, chain, off: to_end });
            }
            let next = if forward { self.edges_from(n) } else { self.edges_into(n) };
            for (_, e) in next {
                let nd = d + e.len;
                if nd > MAX_LINK_M {
                    continue;
                }
                // One lookup for the test and the update.
                match seen.entry(e.to) {
                    Entry::Occupied(slot) if slot.get().0 <= nd => continue,
                    slot => {
                        if !path.nodes.contains_key(&e.to) && search.node_away(e.to, self.node_xy(e.to)) > UNCERTAINTY_M
                        {
                            continue;
                        }
                        slot.insert_entry((nd, n));
                    }
                }
                heap.push(HeapItem(nd, e.to));
            }
        }
    }

    /// How far segment `a`–`b` runs along the direction of travel where the matched path
    /// starts (`k` 0) or ends (1), either way, metres (its length where it runs straight
    /// along it, none straight across).
    fn along_path_end(&self, path: &PathIndex, k: usize, a: [f64; 2], b: [f64; 2]) -> Option<f64> {
        let u = self.path_heading(path, k)?;
        Some(((b[0] - a[0]) * u[0] + (b[1] - a[1]) * u[1]).abs())
    }

    /// The direction of travel where the matched path starts (`k` 0) or ends (1), of unit
    /// length.
    fn path_heading(&self, path: &PathIndex, k: usize) -> Option<[f64; 2]> {
        let p = path.ends[k]?;
        let (u, v) = self.seg_nodes(p.way, p.seg);
        let (a, b) = if p.f1 >= p.f0 { (self.node_xy(u), self.node_xy(v)) } else { (self.node_xy(v), self.node_xy(u)) };
        let len = dist(a, b);
        (len > 0.0).then(|| [(b[0] - a[0]) / len, (b[1] - a[1]) / len])
    }

    /// How far the drawing typically runs from the matched path near its start (`k` 0)
    /// or end (1): the median distance of its vertices (at least [`DRAWING_STEP_M`] apart)
    /// within [`TYPICAL_WINDOW_M`] of that end from the path's first (last) 1.5 times
    /// that, metres.
    fn typical_away(&self, coords: &[[f64; 2]], path: &PathIndex, k: usize) -> f64 {
        let total = path.points.last().map_or(0.0, |p| p.0);
        let reach = 1.5 * TYPICAL_WINDOW_M / 1000.0;
        let (lo, hi) = if k == 0 { (0.0, reach) } else { (total - reach, total) };
        let mut line = Vec::new();
        self.points_to_end(path, k, lo, hi, &mut line);
        if line.is_empty() {
            return 0.0;
        }
        let n = coords.len();
        let (mut along, mut last) = (0.0, None);
        let mut away: Vec<f64> = Vec::new();
        for i in 0..n {
            let v = self.to_xy(coords[if k == 0 { i } else { n - 1 - i }]);
            let step = last.map(|l| dist(l, v));
            // Thinned as the drawing is (a dense drawing costs no more).
            if step.is_some_and(|s| s < DRAWING_STEP_M) {
                continue;
            }
            along += step.unwrap_or(0.0);
            if along > TYPICAL_WINDOW_M {
                break;
            }
            last = Some(v);
            away.push(line_away_2(&line, v));
        }
        if away.is_empty() {
            return 0.0;
        }
        let mid = away.len() / 2;
        away.select_nth_unstable_by(mid, f64::total_cmp).1.sqrt()
    }

    /// The matched path's points from `lo` to `hi` km (see [`matched_points`]) into `out`,
    /// with the partial piece at its start (`k` 0) or end (1).
    fn points_to_end(&self, path: &PathIndex, k: usize, lo: f64, hi: f64, out: &mut Vec<[f64; 2]>) {
        matched_points(path, points_between(path, lo, hi), out);
        if let Some(end) = self.path_end(path, k) {
            if k == 0 { out.insert(0, end) } else { out.push(end) }
        }
    }

    /// Where on segment `seg` a route that starts (`k` 0) or ends (1) where the drawing does
    /// moved back by its offset (`shifted`, see [`Drawing::shifted_end`]) comes nearest it:
    /// (fraction along it, distance). Where only the offset across the road is known, the
    /// route starts (ends) somewhere along the road the path starts (ends) on from there.
    fn shifted_end_on(
        &self,
        path: &PathIndex,
        k: usize,
        (c, known): ([f64; 2], Known),
        seg: [[f64; 2]; 2],
    ) -> Option<(f64, f64)> {
        match known {
            Known::Both => Some(project_on_segment(c, seg[0], seg[1])),
            Known::Across(n) => Some(segments_apart(self.end_line(path, k, c, n, END_M)?, seg)),
        }
    }

    /// Where a route that starts (`k` 0) or ends (1) where the drawing does moved back by
    /// the offset `c` across the road the path starts (ends) on (`n`, its direction across)
    /// may start (end): along that road up to `reach` metres either way of `c`.
    fn end_line(&self, path: &PathIndex, k: usize, c: [f64; 2], n: [f64; 2], reach: f64) -> Option<[[f64; 2]; 2]> {
        let u = self.path_heading(path, k)?;
        // Measured across roads that cross the one the path ends on (round a corner before
        // the end), the offset says nothing about where across that road the drawing ends.
        if (n[0] * u[0] + n[1] * u[1]).abs() > ACROSS_END_COS {
            return None;
        }
        Some([[c[0] - reach * u[0], c[1] - reach * u[1]], [c[0] + reach * u[0], c[1] + reach * u[1]]])
    }

    /// Where the matched path starts (`k` 0) or ends (1).
    fn path_end(&self, path: &PathIndex, k: usize) -> Option<[f64; 2]> {
        path.ends[k].map(|p| self.point_xy(p.way, p.seg, if k == 0 { p.f0 } else { p.f1 }))
    }

    /// How much longer the road from node `a` through `p` to `b` is than the straight line
    /// from `a` to `b`, where it turns back at `p` (by more than [`FOLD_COS`]), `p` carries a
    /// restriction and no other road meets it; none elsewhere.
    fn fold(&self, a: u32, p: u32, b: u32) -> f64 {
        // Every node of every reading weighed comes here: the flag lookup first, as few
        // nodes carry a restriction.
        if self.node_hits(p).is_empty() {
            return 0.0;
        }
        let [xa, xp, xb] = [a, p, b].map(|n| self.node_xy(n));
        let (u, v) = ([xp[0] - xa[0], xp[1] - xa[1]], [xb[0] - xp[0], xb[1] - xp[1]]);
        let (lu, lv) = (dist(xa, xp), dist(xp, xb));
        if lu * lv == 0.0 || u[0] * v[0] + u[1] * v[1] > FOLD_COS * lu * lv {
            return 0.0;
        }
        if self.adjacent(p).any(|n| n != a && n != b) {
            return 0.0;
        }
        lu + lv - dist(xa, xb)
    }

    /// The nodes a road joins to node `n`, either way (one as often as roads join it).
    fn adjacent(&self, n: u32) -> impl Iterator<Item = u32> + '_ {
        self.edges_from(n).chain(self.edges_into(n)).map(|(_, e)| e.to)
    }

    /// Whether node `n` has a single neighbour on the network.
    pub(crate) fn dead_end(&self, n: u32) -> bool {
        let mut next = self.adjacent(n);
        let Some(one) = next.next() else { return true };
        next.all(|m| m == one)
    }

    /// The restrictions at node `n` that a route reaching it passes: none where no road goes
    /// on from it (a bollard closing a dead end), as a route that reaches it ends there.
    fn passed_node_hits(&self, n: u32) -> &[HitTemplate] {
        if self.dead_end(n) { &[] } else { self.node_hits(n) }
    }
}

/// How far before and after a stretch of the drawing its offset is measured, metres:
/// another map's offset changes little over that distance...
const SHIFT_WINDOW_M: f64 = 200.0;
/// ...leaving out this much next to the stretch, metres, and taking a vertex at most every
/// [`SHIFT_STEP_M`] (a dense drawing's vertices tell no more).
const SHIFT_MARGIN_M: f64 = 10.0;
/// See [`SHIFT_MARGIN_M`].
const SHIFT_STEP_M: f64 = 10.0;
/// The offset is known along the road too only where the matched road turns: the smaller
/// eigenvalue of the mean of the roads' normals' outer products at the vertices at least
/// this (half of them at 40 degrees from the others).
const MIN_SPREAD: f64 = 0.1;
/// The vertices lie off the roads by one offset within this much (root mean square),
/// metres; more, and the matched roads there are not the ones drawn.
const MAX_SHIFT_RMS_M: f64 = 2.0;
/// The largest offset taken for another map's, metres.
const MAX_SHIFT_M: f64 = 15.0;
/// A reading explains the drawing moved back by its offset worse than the matched path
/// by at most this much (the sum over the vertices of the difference of their squared
/// distances to the two, square metres): one vertex 4.5 m further from it, or two 3.2 m,
/// where the drawing's noise and the drift of its offset make one or two metres.
const WORSE_FIT_M2: f64 = 20.0;
/// Where only the offset across a road is known, the offset along it is tried from
/// -[`MAX_SHIFT_M`] to [`MAX_SHIFT_M`] in steps of `MAX_SHIFT_M / ALONG_TRIES` (2.5 m, the
/// drawing's noise, as [`SHIFTED_END_M`]).
const ALONG_TRIES: i32 = 6;
/// A route starts (ends) on a piece where the drawing's start (end) moved back by its
/// offset lies this near it, metres: the drawing's noise.
const SHIFTED_END_M: f64 = 2.5;
/// The furthest a drawn end (or a vertex where the drawing turns) moved back by an offset
/// the fit accepts can come to lie on a piece, metres.
const SHIFT_REACH_M: f64 = MAX_SHIFT_M + SHIFTED_END_M;
/// A reading longer than the length checks allow by up to this much, metres...
const MAX_CUT_M: f64 = 20.0;
/// ...or, for a loop off the matched path and back onto it (see [`LOOP_SHARE`]) that is
/// longer than the drawing between, by up to this much (a 76 m car-park ramp loop drawn as
/// a dip of one vertex)...
const MAX_LOOP_CUT_M: f64 = 50.0;
/// ...is one where it fits the drawing moved back by its offset better than the matched
/// path by this much, square metres (one vertex 6 m off the path and 2.5 m off the loop).
const CUT_FIT_M2: f64 = 30.0;
/// ...or by this much for such a loop that leaves the matched path at one junction and
/// rejoins it at another further on (a detour round a junction's corner, not a dead end
/// and back): one vertex 3 m off the path and on the loop. Drawings that follow the path
/// past such a loop fit it at most 0.1 m² better (over the evaluation's seeds); one that
/// took it, drawn sparsely, may show it by one vertex a few metres off the path, 14–19 m²
/// better.
const DETOUR_FIT_M2: f64 = 8.0;
/// A reading off the matched path and back is a loop where it is at least this many times
/// as long as the path between its ends (not a road beside the path).
const LOOP_SHARE: f64 = 2.0;
/// Where only the offset across the roads before an end of the drawing is known, it tells
/// where across the road the path ends on only where those roads run within 45 degrees of
/// it (the cosine between their normal and that road).
const ACROSS_END_COS: f64 = std::f64::consts::FRAC_1_SQRT_2;
/// Where only the offset across the road is known at an end of the drawing, the route may
/// end off the matched path only where the drawing's end moved back by it lies this far
/// from it, metres: more than the drift of the offset and the noise.
const OFF_ROAD_END_M: f64 = 3.5;
/// Where the drawing's end moved back by its offset lies on the matched path, the route
/// passes what lies beyond the path's end only within this distance of it, metres: that
/// end's noise and the drift of the offset since it was measured, [`SHIFTED_END_M`] each
/// (at 2.5 m in all, a bridge 3 m past a route's end in Monaco was missed).
const PAST_END_M: f64 = 2.0 * SHIFTED_END_M;
/// The offset at the drawing's ends is measured beyond its first (last) this many metres.
const SHIFTED_END_SKIP_M: f64 = 30.0;
/// A vertex's nearest point on the matched path is looked for this far along the path
/// either side of where it lies along the drawing (scaled to the path's length), metres...
const FOOT_REACH_M: f64 = 40.0;
/// ...and this far where none lies within [`UNCERTAINTY_M`] there: the drawing cuts
/// corners the path goes round.
const FOOT_REACH_WIDE_M: f64 = 160.0;

/// Where the matched path's points from `lo` to `hi` km lie in `path.points`.
fn points_between(path: &PathIndex, lo: f64, hi: f64) -> Range<usize> {
    path.points.partition_point(|p| p.0 < lo)..path.points.partition_point(|p| p.0 <= hi)
}

/// The matched path's points `at` (see [`points_between`]) into `out`, each once (a node
/// ends one piece and starts the next).
fn matched_points(path: &PathIndex, at: Range<usize>, out: &mut Vec<[f64; 2]>) {
    out.clear();
    out.extend(path.points[at].iter().map(|p| p.1));
    out.dedup();
}

/// How near segments `p` and `q` come: (fraction along `q` where they do, distance).
fn segments_apart(p: [[f64; 2]; 2], q: [[f64; 2]; 2]) -> (f64, f64) {
    if let Some((_, u)) = segment_intersection(p[0], p[1], q[0], q[1]) {
        return (u, 0.0);
    }
    let on_q = [project_on_segment(p[0], q[0], q[1]), project_on_segment(p[1], q[0], q[1])];
    let on_p = [(0.0, project_on_segment(q[0], p[0], p[1]).1), (1.0, project_on_segment(q[1], p[0], p[1]).1)];
    on_q.into_iter().chain(on_p).min_by(|x, y| x.1.total_cmp(&y.1)).unwrap_or((0.0, f64::INFINITY))
}

/// Squared distance from `p` to the polyline `line`, looking at every segment, square
/// metres; a line of one point (a path that stays at a node) is that point.
fn line_away_2(line: &[[f64; 2]], p: [f64; 2]) -> f64 {
    if let [only] = line {
        let d = dist(*only, p);
        return d * d;
    }
    line.windows(2).map(|w| project_on_segment_2(p, w[0], w[1]).1).fold(f64::INFINITY, f64::min)
}

/// The drawing (projected declared vertices, thinned to [`DRAWING_STEP_M`]) with a grid of
/// its segments, so that distance queries cost a few lookups however dense it is, and
/// where the drawing starts and ends.
struct Drawing {
    line: Vec<[f64; 2]>,
    /// Length of `line` up to each vertex, metres.
    cum: Vec<f64>,
    /// Cell -> the range of `in_cells` listing the segments (`line[k]`–`line[k + 1]`)
    /// passing through it.
    cells: HashMap<(i64, i64), (u32, u32)>,
    /// Segment indices, cell by cell.
    in_cells: Vec<u32>,
    ends: [[f64; 2]; 2],
    /// How near its start (end) a reading must start (end) to start (end) where the
    /// drawing does, metres...
    radius: [f64; 2],
    /// ...on a road that goes on in the drawing's direction there ([`END_SLACK_AHEAD_M`])...
    radius_ahead: [f64; 2],
    /// ...on a road beside the one the path ends on ([`END_SLACK_BESIDE_M`]).
    radius_beside: [f64; 2],
    /// How far the matched path starts (ends) from where the drawing does, metres.
    gap: [f64; 2],
    /// The drawing's direction of travel over its first and last [`END_M`].
    heading: [[f64; 2]; 2],
    /// [`Drawing::shifted_end`]s, found once.
    shifted_ends: [OnceCell<ShiftedEnd>; 2],
    /// [`Drawing::foot`] of each vertex, once found.
    feet: RefCell<Vec<Option<Option<Foot>>>>,
    /// [`Drawing::bends`], once found.
    bends: OnceCell<Vec<usize>>,
    /// [`Drawing::offset_around`] by stretch (its ends' bits), once found.
    offsets: RefCell<HashMap<(u64, u64), Offset>>,
}

/// The drawing's offset from the matched path, and in which directions it is known (see
/// [`Drawing::offset_around`]).
type Offset = Option<([f64; 2], Known)>;

/// Where the route starts (ends) by the drawing's offset, and in which directions the
/// offset is known there (see [`Drawing::shifted_end`]).
type ShiftedEnd = Option<([f64; 2], Known)>;

/// In which directions a drawing's offset from the roads is known.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Known {
    /// Both ways: the roads it was measured on turn.
    Both,
    /// Only across the roads it was measured on, which run straight: their normal, of
    /// unit length.
    Across([f64; 2]),
}

/// Where a vertex of the drawing comes nearest the matched path: on the segment from `a`
/// to `b`, at fraction `t`.
#[derive(Debug, Clone, Copy)]
struct Foot {
    a: [f64; 2],
    b: [f64; 2],
    t: f64,
}

/// Vertices of the drawing closer than this to the previous one are skipped, metres...
const DRAWING_STEP_M: f64 = 5.0;
/// ...unless they lie further than this off the line from it to the next vertex: the tip
/// of a short excursion (round a courtyard loop and back) is the one sign of where the
/// route went, metres.
const DRAWING_BEND_M: f64 = 4.0;
/// A vertex may be the tip of a loop the sampling cut (see [`RouteNetwork::shifted_tip`])
/// where it lies this far or more off the line between its neighbours, metres: a drawing
/// that runs almost straight across a courtyard's corner turns there by 2 m. Fitting the
/// offset at every vertex near a restricted piece costs a fifth more a match; most
/// vertices on a straight road lie nearer their neighbours' line.
const TIP_BEND_M: f64 = 1.8;
/// A drawing passes a point again once it has gone this much further from it and come
/// this much nearer again, metres: more than its jitter.
const REVISIT_M: f64 = 5.0;
/// Where the drawing passes a loop off the matched path without passing where it rejoins
/// the path again, it lies this much nearer the loop than the path for the stretch round it
/// to count (see `through`), metres: drift moves a drawing along beside the road it
/// follows, rarely this far towards a loop beside it.
const LOOP_SIDE_M: f64 = 5.0;

fn cell(p: [f64; 2]) -> (i64, i64) {
    (floor(p[0] / UNCERTAINTY_M), floor(p[1] / UNCERTAINTY_M))
}

/// `x.floor()` as an integer, inline: `f64::floor` is a call into the maths library on
/// the baseline x86-64 target, and a distance query takes nine cells.
fn floor(x: f64) -> i64 {
    let t = x as i64;
    t - i64::from(t as f64 > x)
}

/// The grid cells segment `a`–`b` passes through, column by column: memory in proportion
/// to its length (the cells of its bounding box would be millions for one vertex typed a
/// degree off).
fn segment_cells(a: [f64; 2], b: [f64; 2], mut cell_at: impl FnMut((i64, i64))) {
    let (ca, cb) = (cell(a), cell(b));
    let (left, right) = if a[0] <= b[0] { (a, b) } else { (b, a) };
    let dx = right[0] - left[0];
    for x in ca.0.min(cb.0)..=ca.0.max(cb.0) {
        // Where the segment enters and leaves this column (all of it when vertical).
        let x0 = (x as f64 * UNCERTAINTY_M).max(left[0]);
        let x1 = ((x + 1) as f64 * UNCERTAINTY_M).min(right[0]);
        let (y0, y1) = if dx > 0.0 {
            let y_at = |xx: f64| left[1] + (right[1] - left[1]) * (xx - left[0]) / dx;
            (y_at(x0), y_at(x1))
        } else {
            (left[1], right[1])
        };
        // A hair wider, so that rounding never drops a cell the segment only touches.
        let lo = cell([x0, y0.min(y1) - 1e-6]).1.max(ca.1.min(cb.1));
        let hi = cell([x0, y0.max(y1) + 1e-6]).1.min(ca.1.max(cb.1));
        for y in lo..=hi {
            cell_at((x, y));
        }
    }
}

impl Drawing {
    /// The longest step between two vertices of the drawing over `from_m`..`to_m`, counting
    /// a step that only touches the stretch at a vertex, metres.
    fn longest_step(&self, from_m: f64, to_m: f64) -> f64 {
        self.steps_over(from_m, to_m, true).map(|(a, b)| b - a).fold(0.0, f64::max)
    }

    /// The longest part of one step of the drawing over `from_m`..`to_m`, metres.
    fn longest_part(&self, from_m: f64, to_m: f64) -> f64 {
        self.steps_over(from_m, to_m, false).map(|(a, b)| b.min(to_m) - a.max(from_m)).fold(0.0, f64::max)
    }

    /// Where each step of the drawing over `from_m`..`to_m` starts and ends along it, metres;
    /// with `touching`, also the steps that only touch it at a vertex.
    fn steps_over(&self, from_m: f64, to_m: f64, touching: bool) -> impl Iterator<Item = (f64, f64)> + '_ {
        let first = self.cum.partition_point(|&c| c < from_m || (!touching && c == from_m)).saturating_sub(1);
        let last = self.cum.partition_point(|&c| c < to_m || (touching && c == to_m));
        let last = last.min(self.cum.len().saturating_sub(1));
        self.cum.get(first..=last).unwrap_or_default().windows(2).map(|w| (w[0], w[1]))
    }

    fn new(
        points: &[[f64; 2]],
        ends: [[f64; 2]; 2],
        gap: [f64; 2],
        radius: [f64; 2],
        radius_ahead: [f64; 2],
        radius_beside: [f64; 2],
    ) -> Drawing {
        let mut line: Vec<[f64; 2]> = Vec::with_capacity(points.len());
        for (k, &p) in points.iter().enumerate() {
            let keep = match (line.last(), points.get(k + 1)) {
                (Some(&q), Some(&next)) => {
                    dist(q, p) >= DRAWING_STEP_M || project_on_segment(p, q, next).1 > DRAWING_BEND_M
                }
                _ => true,
            };
            if keep {
                line.push(p);
            }
        }
        let mut cum = Vec::with_capacity(line.len());
        let mut pairs: Vec<((i64, i64), u32)> = Vec::with_capacity(2 * line.len());
        let mut acc = 0.0;
        for k in 0..line.len() {
            if k > 0 {
                acc += dist(line[k - 1], line[k]);
                segment_cells(line[k - 1], line[k], |c| pairs.push((c, k as u32 - 1)));
            }
            cum.push(acc);
        }
        // Grouped by cell, and within a cell in drawing order (the order the pairs come
        // in), by counting: sorting the pairs cost a long drawing more than its queries.
        // First each cell's count, then its range, then the range filled from its start.
        let mut cells: HashMap<(i64, i64), (u32, u32)> =
            HashMap::with_capacity_and_hasher(pairs.len(), Default::default());
        for &(c, _) in &pairs {
            cells.entry(c).or_insert((0, 0)).1 += 1;
        }
        let mut next = 0;
        for range in cells.values_mut() {
            let count = range.1;
            *range = (next, next);
            next += count;
        }
        let mut in_cells = vec![0; pairs.len()];
        for &(c, k) in &pairs {
            // INVARIANT: every pair's cell was counted above, so the lookup finds it.
            if let Some(range) = cells.get_mut(&c) {
                in_cells[range.1 as usize] = k;
                range.1 += 1;
            }
        }
        let (first, last) = (line[0], line[line.len() - 1]);
        let ahead = line[cum.partition_point(|&c| c < END_M).min(line.len() - 1)];
        let behind = line[cum.partition_point(|&c| c <= acc - END_M).saturating_sub(1)];
        let heading = [[ahead[0] - first[0], ahead[1] - first[1]], [last[0] - behind[0], last[1] - behind[1]]];
        Drawing {
            line,
            cum,
            cells,
            in_cells,
            ends,
            radius,
            radius_ahead,
            radius_beside,
            gap,
            heading,
            shifted_ends: Default::default(),
            feet: RefCell::default(),
            bends: OnceCell::new(),
            offsets: RefCell::default(),
        }
    }

    /// Whether travelling from `a` to `b` goes on in the drawing's direction at its start
    /// (`k` 0) or end (1): turning by at most 60 degrees.
    fn goes_on(&self, k: usize, a: [f64; 2], b: [f64; 2]) -> bool {
        let (h, t) = (self.heading[k], [b[0] - a[0], b[1] - a[1]]);
        let along = h[0] * t[0] + h[1] * t[1];
        along > 0.0 && along >= MIN_STRAIGHT_COS * h[0].hypot(h[1]) * t[0].hypot(t[1])
    }

    /// Each segment of the drawing in the grid cells around `p`: how far `p` lies from it
    /// and where along the drawing it passes nearest, metres.
    fn near_segments(&self, p: [f64; 2], each: impl FnMut(usize, f64, f64)) {
        self.segments_around::<1>(p, each);
    }

    /// [`Drawing::near_segments`] over the cells within `CELLS` of `p`'s.
    fn segments_around<const CELLS: i64>(&self, p: [f64; 2], mut each: impl FnMut(usize, f64, f64)) {
        let (cx, cy) = cell(p);
        // Half-open ranges: an inclusive range's end test is a measurable part of this
        // hot loop.
        for x in cx - CELLS..cx + CELLS + 1 {
            for y in cy - CELLS..cy + CELLS + 1 {
                let Some(&(lo, hi)) = self.cells.get(&(x, y)) else { continue };
                for &k in &self.in_cells[lo as usize..hi as usize] {
                    let k = k as usize;
                    let (frac, d) = project_on_segment(p, self.line[k], self.line[k + 1]);
                    each(k, d, self.cum[k] + frac * (self.cum[k + 1] - self.cum[k]));
                }
            }
        }
    }

    /// Vertices where the drawing may turn: those lying [`TIP_BEND_M`] or more off the
    /// line between their neighbours, in order; found once.
    fn bends(&self) -> &[usize] {
        self.bends.get_or_init(|| {
            let line = &self.line;
            (1..line.len().saturating_sub(1))
                .filter(|&k| project_on_segment_2(line[k], line[k - 1], line[k + 1]).1 >= TIP_BEND_M * TIP_BEND_M)
                .collect()
        })
    }

    /// The point `along` metres along the drawing.
    fn point_at(&self, along: f64) -> [f64; 2] {
        if let [only] = self.line.as_slice() {
            return *only;
        }
        // The step that holds `along`: from vertex `k - 1` to `k`.
        let k = self.cum.partition_point(|&c| c <= along).clamp(1, self.line.len() - 1);
        let len = self.cum[k] - self.cum[k - 1];
        lerp(
            self.line[k - 1],
            self.line[k],
            if len > 0.0 { ((along - self.cum[k - 1]) / len).clamp(0.0, 1.0) } else { 0.0 },
        )
    }

    /// Distance from `p` to the drawing and how far along it `p` projects, metres; the
    /// distance is exact within [`UNCERTAINTY_M`] and infinite beyond.
    fn project(&self, p: [f64; 2]) -> (f64, f64) {
        self.project_within::<1>(p)
    }

    /// [`Drawing::project`] over the grid cells within `CELLS` of `p`'s: the distance is
    /// exact within `CELLS` times [`UNCERTAINTY_M`] and infinite beyond.
    fn project_within<const CELLS: i64>(&self, p: [f64; 2]) -> (f64, f64) {
        if let [only] = self.line.as_slice() {
            return (dist(*only, p), 0.0);
        }
        let mut best = (f64::INFINITY, 0.0);
        self.segments_around::<CELLS>(p, |_, d, along| {
            if d < best.0 {
                best = (d, along);
            }
        });
        if best.0 > CELLS as f64 * UNCERTAINTY_M { (f64::INFINITY, best.1) } else { best }
    }

    /// The drawing's offset from the matched path (`points`, by km) around the stretch
    /// from `lo` to `hi` metres along the drawing, from its vertices within
    /// [`SHIFT_WINDOW_M`] of it: least squares over each vertex's offset across the road
    /// nearest it, and whether it is known both ways (where the roads there do not turn
    /// enough, only the part across them is, and the part along them is taken as none).
    /// `None` where one offset does not explain them.
    fn offset_around(&self, points: &[(f64, [f64; 2])], lo: f64, hi: f64) -> Offset {
        // Neighbouring pieces of one reading ask for the same stretch.
        let key = (lo.to_bits(), hi.to_bits());
        if let Some(&found) = self.offsets.borrow().get(&key) {
            return found;
        }
        let found = self.fit_offset(points, lo, hi);
        self.offsets.borrow_mut().insert(key, found);
        found
    }

    /// [`Self::offset_around`], computed.
    fn fit_offset(&self, points: &[(f64, [f64; 2])], lo: f64, hi: f64) -> Offset {
        let first = self.cum.partition_point(|&c| c < lo - SHIFT_WINDOW_M);
        let last = self.cum.partition_point(|&c| c <= hi + SHIFT_WINDOW_M);
        let (mut xx, mut xy, mut yy, mut bx, mut by, mut squares, mut count) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        let mut taken = f64::NEG_INFINITY;
        for k in first..last {
            let along = self.cum[k];
            if (along >= lo - SHIFT_MARGIN_M && along <= hi + SHIFT_MARGIN_M) || along < taken + SHIFT_STEP_M {
                continue;
            }
            taken = along;
            // At a node the direction across the road is not known.
            let Some(Foot { a, b, t, .. }) = self.foot(k, points) else { continue };
            if t <= 0.0 || t >= 1.0 {
                continue;
            }
            let v = self.line[k];
            let len = dist(a, b);
            let [nx, ny] = [(a[1] - b[1]) / len, (b[0] - a[0]) / len];
            let foot = lerp(a, b, t);
            let across = nx * (v[0] - foot[0]) + ny * (v[1] - foot[1]);
            xx += nx * nx;
            xy += nx * ny;
            yy += ny * ny;
            bx += nx * across;
            by += ny * across;
            squares += across * across;
            count += 1.0;
        }
        if count < 3.0 {
            return None;
        }
        let det = xx * yy - xy * xy;
        let (trace, det_mean) = ((xx + yy) / count, det / (count * count));
        let smaller = trace / 2.0 - (trace * trace / 4.0 - det_mean).max(0.0).sqrt();
        // Along a straight road only the offset across it (the normals' principal axis):
        // the part along it is taken as none (ridge).
        let (known, ridge) = if smaller >= MIN_SPREAD {
            (Known::Both, 0.0)
        } else {
            let axis = 0.5 * (2.0 * xy).atan2(xx - yy);
            (Known::Across([axis.cos(), axis.sin()]), MIN_SPREAD * count)
        };
        let (rx, ry) = (xx + ridge, yy + ridge);
        let det = rx * ry - xy * xy;
        let o = [(ry * bx - xy * by) / det, (rx * by - xy * bx) / det];
        let left =
            squares - 2.0 * (o[0] * bx + o[1] * by) + o[0] * (xx * o[0] + xy * o[1]) + o[1] * (xy * o[0] + yy * o[1]);
        let rms = (left.max(0.0) / count).sqrt();
        (o[0].hypot(o[1]) <= MAX_SHIFT_M && rms <= MAX_SHIFT_RMS_M).then_some((o, known))
    }

    /// Where the route starts (`k` 0) or ends (1) by the drawing's offset from the matched
    /// path (`points`) there: the drawing's end moved back by it (only across the road
    /// where the road runs straight, see [`Self::offset_around`]).
    fn shifted_end(&self, k: usize, points: &[(f64, [f64; 2])]) -> ShiftedEnd {
        *self.shifted_ends[k].get_or_init(|| {
            let i = if k == 0 { 0 } else { self.line.len() - 1 };
            let (o, known) = self.end_offset(k, points)?;
            Some(([self.line[i][0] - o[0], self.line[i][1] - o[1]], known))
        })
    }

    /// The drawing's offset from the matched path (`points`) at its start (`k` 0) or end
    /// (1), measured off its last metres: the matched path's are what is in doubt.
    fn end_offset(&self, k: usize, points: &[(f64, [f64; 2])]) -> Offset {
        let total = self.cum.last().copied().unwrap_or(0.0);
        let (lo, hi) = if k == 0 { (0.0, SHIFTED_END_SKIP_M) } else { (total - SHIFTED_END_SKIP_M, total) };
        self.offset_around(points, lo, hi)
    }

    /// Where vertex `k` comes nearest the matched path (`points`, by km), within
    /// [`UNCERTAINTY_M`]: looked for among the path's points about as far along it as the
    /// vertex is along the drawing, once per match.
    fn foot(&self, k: usize, points: &[(f64, [f64; 2])]) -> Option<Foot> {
        if let Some(found) = self.feet.borrow().get(k).copied().flatten() {
            return found;
        }
        let total = self.cum.last().copied().unwrap_or(0.0);
        let scale = points.last().map_or(0.0, |p| p.0 * 1000.0) / total.max(1.0);
        let at = self.cum[k] * scale / 1000.0;
        let v = self.line[k];
        // A short window first; where the drawing's length and the path's differ more
        // locally (a cut corner, a loop), a wider one.
        let best = [FOOT_REACH_M, FOOT_REACH_WIDE_M].into_iter().find_map(|reach| {
            let reach = reach / 1000.0;
            let p0 = points.partition_point(|p| p.0 < at - reach);
            let p1 = points.partition_point(|p| p.0 <= at + reach).max(p0);
            let mut best: Option<(f64, Foot)> = None;
            // With the segments that reach into the window from either side. Squared
            // distances: this is most of the fit's cost.
            for w in points[p0.saturating_sub(1)..(p1 + 1).min(points.len())].windows(2) {
                let (a, b) = (w[0].1, w[1].1);
                let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
                // The path lists a node at the end of one piece and the start of the next.
                if dx * dx + dy * dy < 1.0 {
                    continue;
                }
                let (t, d2) = project_on_segment_2(v, a, b);
                if d2 <= UNCERTAINTY_M * UNCERTAINTY_M && best.is_none_or(|(best, _)| d2 < best) {
                    best = Some((d2, Foot { a, b, t }));
                }
            }
            best.map(|(_, foot)| foot)
        });
        let mut feet = self.feet.borrow_mut();
        if feet.len() < self.line.len() {
            feet.resize(self.line.len(), None);
        }
        feet[k] = Some(best);
        best
    }

    /// Where along the drawing its last vertex before `from_m` and its first after `to_m`
    /// lie, metres (none before its start or after its end).
    fn vertices_outside(&self, from_m: f64, to_m: f64) -> [Option<f64>; 2] {
        let over = self.vertices_over(from_m, to_m);
        [over.start.checked_sub(1).map(|k| self.cum[k]), self.cum.get(over.end).copied()]
    }

    /// The drawing's vertices from `from_m` to `to_m` metres along it.
    fn vertices_over(&self, from_m: f64, to_m: f64) -> Range<usize> {
        let lo = self.cum.partition_point(|&c| c < from_m);
        lo..self.cum.partition_point(|&c| c <= to_m).max(lo)
    }

    /// How much worse `line` explains the drawing's vertices from `from_m` to `to_m`
    /// metres along it, moved back by `offset`, than `reference` does: the sum over them
    /// of the difference of their squared distances to the two, square metres.
    fn worse_fit(&self, line: &[[f64; 2]], reference: &[[f64; 2]], offset: [f64; 2], from_m: f64, to_m: f64) -> f64 {
        self.line[self.vertices_over(from_m, to_m)]
            .iter()
            .map(|v| {
                let v = [v[0] - offset[0], v[1] - offset[1]];
                line_away_2(line, v) - line_away_2(reference, v)
            })
            .sum()
    }

    /// Where along the drawing it comes nearest `p` (within [`UNCERTAINTY_M`]) over
    /// `lo`..`hi` metres, metres.
    fn nearest_over(&self, p: [f64; 2], lo: f64, hi: f64) -> Option<f64> {
        let mut best: Option<(f64, f64)> = None;
        self.near_segments(p, |_, d, along| {
            if d <= UNCERTAINTY_M && (lo..=hi).contains(&along) && best.is_none_or(|b| d < b.0) {
                best = Some((d, along));
            }
        });
        best.map(|b| b.1)
    }

    /// Distance from `p` to the drawing, metres, as far as twice [`UNCERTAINTY_M`]
    /// (infinite beyond).
    fn away_wide(&self, p: [f64; 2]) -> f64 {
        self.project_within::<2>(p).0
    }

    /// Distance from `p` to the drawing, metres (infinite beyond [`UNCERTAINTY_M`]).
    fn away(&self, p: [f64; 2]) -> f64 {
        self.project(p).0
    }

    /// Where along the drawing it passes `p` within [`UNCERTAINTY_M`], metres: once per
    /// visit, where it comes nearest (it leaves when it goes [`REVISIT_M`] further than
    /// that, and comes back when it comes [`REVISIT_M`] nearer again).
    fn passes(&self, p: [f64; 2]) -> Vec<f64> {
        // (segment, distance, along), in drawing order.
        let mut near: Vec<(usize, f64, f64)> = Vec::new();
        self.near_segments(p, |k, d, along| {
            if d <= UNCERTAINTY_M {
                near.push((k, d, along));
            }
        });
        // A segment is listed once per grid cell it crosses.
        near.sort_by_key(|n| n.0);
        near.dedup_by_key(|n| n.0);
        let mut visits = Visits { out: Vec::new(), nearest: None, away: f64::INFINITY };
        let mut last: Option<usize> = None;
        for &(k, d, along) in &near {
            match last {
                // The drawing went beyond the uncertainty and came back.
                Some(l) if l + 1 != k => visits.leave(),
                // The vertex between two near segments: a drawing of a few points goes out
                // and back (round a loop) between its vertices, not within a segment.
                Some(_) => visits.see(dist(p, self.line[k]), self.cum[k]),
                None => {}
            }
            last = Some(k);
            visits.see(d, along);
        }
        visits.leave();
        visits.out
    }
}

/// The visits [`Drawing::passes`] finds so far.
struct Visits {
    /// Where along the drawing each finished visit came nearest, metres.
    out: Vec<f64>,
    /// In a visit: its nearest (distance, along) so far.
    nearest: Option<(f64, f64)>,
    /// Between visits: the furthest distance since the last one left.
    away: f64,
}

impl Visits {
    /// The drawing `along` metres from its start lies `d` from the point.
    fn see(&mut self, d: f64, along: f64) {
        match self.nearest {
            Some((best, _)) if d < best => self.nearest = Some((d, along)),
            Some((best, at)) if d >= best + REVISIT_M => {
                self.out.push(at);
                self.nearest = None;
                self.away = d;
            }
            Some(_) => {}
            None if d <= self.away - REVISIT_M => self.nearest = Some((d, along)),
            None => self.away = self.away.max(d),
        }
    }

    /// The drawing is beyond the uncertainty: a visit in progress ends.
    fn leave(&mut self) {
        self.out.extend(self.nearest.take().map(|n| n.1));
        self.away = f64::INFINITY;
    }
}

/// The stretch of the drawing from one of its passes `at_a` of a point to one of its
/// later passes `at_b` of another ([`Drawing::passes`]) whose length is nearest `length`,
/// if nearer than `nearest` (between the nearest passes): where the drawing goes round a
/// loop and passes a point twice, the stretch round the loop is the one to compare a loop
/// with. Metres along the drawing.
fn stretch(at_a: &[f64], at_b: &[f64], nearest: f64, length: f64) -> Option<(f64, f64)> {
    let mut best = None;
    let mut off = (nearest - length).abs();
    for &ka in at_a {
        for &kb in at_b.iter().filter(|&&kb| kb > ka) {
            if (kb - ka - length).abs() < off {
                off = (kb - ka - length).abs();
                best = Some((ka, kb));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_finds_what_every_segment_would() {
        // Seeded: segments of every direction and length, short and long.
        let mut state = 20261129u64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..50 {
            let mut line = vec![[0.0, 0.0]];
            for _ in 0..20 {
                let last = line[line.len() - 1];
                let reach = if next() < 0.2 { 2000.0 } else { 60.0 };
                line.push([last[0] + (next() - 0.5) * reach, last[1] + (next() - 0.5) * reach]);
            }
            let drawing = Drawing::new(&line, [line[0], line[line.len() - 1]], [0.0; 2], [0.0; 2], [0.0; 2], [0.0; 2]);
            for _ in 0..200 {
                let k = (next() * (line.len() - 1) as f64) as usize;
                let on = lerp(line[k], line[k + 1], next());
                let p = [on[0] + (next() - 0.5) * 50.0, on[1] + (next() - 0.5) * 50.0];
                // Against the line as the drawing keeps it (thinned).
                let exact = line_away_2(&drawing.line, p).sqrt();
                let found = drawing.away(p);
                if exact <= UNCERTAINTY_M {
                    assert!((found - exact).abs() < 1e-9, "{p:?}: {found} vs {exact}");
                } else {
                    assert!(found.is_infinite(), "{p:?}: {found} vs {exact}");
                }
            }
        }
    }

    /// A drawing of the path `corners` (by km), a vertex every 10 m, moved by `offset` on
    /// the first `bend` metres and by `offset_after` beyond, with up to 0.5 m of noise.
    fn drawn_along(
        corners: &[[f64; 2]],
        offset: [f64; 2],
        bend: f64,
        offset_after: [f64; 2],
    ) -> (Drawing, Vec<(f64, [f64; 2])>) {
        let mut points = Vec::new();
        let mut km = 0.0;
        for (k, &c) in corners.iter().enumerate() {
            if k > 0 {
                km += dist(corners[k - 1], c) / 1000.0;
            }
            points.push((km, c));
        }
        let mut line = Vec::new();
        let mut walked = 0.0;
        for w in corners.windows(2) {
            let len = dist(w[0], w[1]);
            let mut at = 0.0;
            while at < len {
                let p = lerp(w[0], w[1], at / len);
                let o = if walked + at < bend { offset } else { offset_after };
                let noise = [0.5, -0.5, 0.0][line.len() % 3];
                line.push([p[0] + o[0] + noise, p[1] + o[1] - noise]);
                at += 10.0;
            }
            walked += len;
        }
        let ends = [line[0], line[line.len() - 1]];
        (Drawing::new(&line, ends, [0.0; 2], [0.0; 2], [0.0; 2], [0.0; 2]), points)
    }

    #[test]
    fn the_offset_is_known_both_ways_where_the_road_turns_and_only_there() {
        let bend = [[0.0, 0.0], [200.0, 0.0], [200.0, 200.0]];
        let (drawing, path) = drawn_along(&bend, [3.0, -4.0], 200.0, [3.0, -4.0]);
        let (o, known) = drawing.offset_around(&path, 190.0, 210.0).expect("one offset");
        assert!(known == Known::Both && dist(o, [3.0, -4.0]) < 0.5, "{o:?}");
        // Along a straight road only the offset across it is known.
        let straight = [[0.0, 0.0], [400.0, 0.0]];
        let (drawing, path) = drawn_along(&straight, [3.0, -4.0], 400.0, [3.0, -4.0]);
        let (o, known) = drawing.offset_around(&path, 190.0, 210.0).expect("one offset");
        // ...known across it: the road's normal, either way round.
        let Known::Across(across) = known else { panic!("known both ways on a straight road") };
        assert!(across[0].abs() < 1e-6 && (across[1].abs() - 1.0).abs() < 1e-6, "{across:?}");
        assert!((o[1] + 4.0).abs() < 0.5 && o[0].abs() < 0.5, "{o:?}");
        // Half a leg drawn 8 m across the road from the other half: the path is not the
        // road drawn along one of them, and no offset is taken.
        let (drawing, path) = drawn_along(&bend, [3.0, -4.0], 100.0, [3.0, 4.0]);
        assert_eq!(drawing.offset_around(&path, 190.0, 210.0), None);
    }

    #[test]
    fn a_road_beside_the_drawing_moved_back_fits_it_worse() {
        let (drawing, _) = drawn_along(&[[0.0, 0.0], [200.0, 0.0]], [0.0, 6.0], 200.0, [0.0, 6.0]);
        let (road, beside) = ([[0.0, 0.0], [200.0, 0.0]], [[0.0, 5.0], [200.0, 5.0]]);
        // Moved back by its offset the drawing lies on the road, 5 m from the one beside it.
        let worse = drawing.worse_fit(&beside, &road, [0.0, 6.0], 50.0, 150.0);
        assert!(worse > 10.0 * 20.0, "{worse}");
        assert!(drawing.worse_fit(&road, &beside, [0.0, 6.0], 50.0, 150.0) < 0.0);
        // Not moved back, it lies nearer the road beside: the offset is what decides.
        assert!(drawing.worse_fit(&beside, &road, [0.0, 0.0], 50.0, 150.0) < 0.0);
    }

    #[test]
    fn the_longest_step_is_taken_over_the_steps_a_stretch_touches() {
        let line = [[0.0, 0.0], [10.0, 0.0], [40.0, 0.0], [50.0, 0.0]];
        let drawing = Drawing::new(&line, [line[0], line[3]], [0.0; 2], [0.0; 2], [0.0; 2], [0.0; 2]);
        for ((from, to), step) in
            [((12.0, 13.0), 30.0), ((0.0, 5.0), 10.0), ((40.0, 40.0), 30.0), ((41.0, 100.0), 10.0), ((5.0, 45.0), 30.0)]
        {
            assert_eq!(drawing.longest_step(from, to), step, "{from}..{to}");
        }
    }

    #[test]
    fn the_longest_part_of_a_step_is_what_the_stretch_covers_of_it() {
        let line = [[0.0, 0.0], [10.0, 0.0], [40.0, 0.0], [50.0, 0.0]];
        let drawing = Drawing::new(&line, [line[0], line[3]], [0.0; 2], [0.0; 2], [0.0; 2], [0.0; 2]);
        for ((from, to), part) in
            [((12.0, 13.0), 1.0), ((0.0, 5.0), 5.0), ((10.0, 40.0), 30.0), ((5.0, 45.0), 30.0), ((38.0, 100.0), 10.0)]
        {
            assert_eq!(drawing.longest_part(from, to), part, "{from}..{to}");
        }
        // A stretch that only touches a step has none of it.
        assert_eq!(drawing.longest_part(40.0, 40.0), 0.0);
    }

    #[test]
    fn a_vertex_closer_than_a_step_is_kept_where_the_drawing_bends_there() {
        // Steps of 1 to 4.7 m, one to a vertex 4.2 m off the line and back: of the close
        // vertices only that one is kept (the last always is).
        let line = [[0.0, 0.0], [1.0, 0.0], [2.0, 4.2], [3.0, 0.0], [8.0, 0.0]];
        let drawing = Drawing::new(&line, [line[0], line[4]], [0.0; 2], [0.0; 2], [0.0; 2], [0.0; 2]);
        assert_eq!(drawing.line, vec![[0.0, 0.0], [2.0, 4.2], [8.0, 0.0]]);
    }

    #[test]
    fn each_cell_lists_the_segments_through_it_in_drawing_order() {
        // A drawing that crosses itself: cells hold segments from far apart along it.
        let line = [[0.0, 0.0], [100.0, 0.0], [100.0, 100.0], [50.0, -50.0], [0.0, 100.0], [130.0, 30.0]];
        let drawing = Drawing::new(&line, [line[0], line[line.len() - 1]], [0.0; 2], [0.0; 2], [0.0; 2], [0.0; 2]);
        for (&c, &(lo, hi)) in &drawing.cells {
            let mut through: Vec<u32> = Vec::new();
            for (k, w) in drawing.line.windows(2).enumerate() {
                segment_cells(w[0], w[1], |d| through.extend((d == c).then_some(k as u32)));
            }
            assert_eq!(&drawing.in_cells[lo as usize..hi as usize], through.as_slice(), "cell {c:?}");
        }
        let listed: usize = drawing.cells.values().map(|&(lo, hi)| (hi - lo) as usize).sum();
        assert_eq!(listed, drawing.in_cells.len());
    }

    #[test]
    fn a_drawing_that_steps_out_and_back_between_vertices_passes_twice() {
        // Along x, past the point at 50 m to a vertex 14 m beyond it and back to 3 m
        // from it: two passes, though every segment comes within 3 m of it.
        let line = [[0.0, 0.0], [64.0, 0.0], [53.0, 1.0], [0.0, 30.0]];
        let drawing = Drawing::new(&line, [line[0], line[3]], [0.0; 2], [0.0; 2], [0.0; 2], [0.0; 2]);
        let passes = drawing.passes([50.0, 0.0]);
        assert_eq!(passes.len(), 2, "{passes:?}");
        assert!((passes[0] - 50.0).abs() < 1e-6 && passes[1] > 64.0, "{passes:?}");
        // Stepping 4 m beyond it is jitter: one pass.
        let line = [[0.0, 0.0], [54.0, 0.0], [51.0, 1.0], [0.0, 30.0]];
        let drawing = Drawing::new(&line, [line[0], line[3]], [0.0; 2], [0.0; 2], [0.0; 2], [0.0; 2]);
        assert_eq!(drawing.passes([50.0, 0.0]).len(), 1);
    }

    #[test]
    fn a_path_that_stays_at_a_node_is_that_point() {
        assert_eq!(line_away_2(&[[3.0, 4.0]], [0.0, 0.0]), 25.0);
        assert_eq!(line_away_2(&[], [0.0, 0.0]), f64::INFINITY);
    }

    #[test]
    fn floor_rounds_down_on_both_sides_of_zero() {
        for x in [-41.5, -40.0, -0.25, 0.0, 0.25, 19.999, 20.0, 1e9 + 0.5] {
            assert_eq!(floor(x), x.floor() as i64, "{x}");
        }
    }

    #[test]
    fn a_long_segment_takes_cells_along_it_not_its_box() {
        // About a degree each way, as one vertex typed wrong.
        let line = [[0.0, 0.0], [111_000.0, -111_000.0]];
        let drawing = Drawing::new(&line, [line[0], line[1]], [0.0; 2], [0.0; 2], [0.0; 2], [0.0; 2]);
        let along = 111_000.0 * 2f64.sqrt() / UNCERTAINTY_M;
        assert!((drawing.in_cells.len() as f64) < 3.0 * along, "{} cells", drawing.in_cells.len());
        assert_eq!(drawing.away([55_500.0, -55_500.0]), 0.0);
    }
}
