//! Spatial lookups on the network's segments: the candidates near a point (from the
//! uniform grid, for the matcher's many small queries), the nearest segment and the
//! segments in a box (from the R-tree, for one-off snapping and GeoJSON attachment).

use super::{RouteNetwork, SegRef};
use crate::routes::project::project_on_segment_2;
use rstar::{AABB, PointDistance};

/// A position on a segment near a point: where a route's sample may lie on that road.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    pub way: u32,
    pub seg: u32,
    /// Fraction along the segment from its first node.
    pub frac: f64,
    /// Distance from the point, metres.
    pub dist: f64,
}

/// Two closest points of one way are distinct passes only if the way between them is at
/// least this long, metres...
const PASS_APART_M: f64 = 30.0;
/// ...and this many times the straight line between them.
const PASS_DETOUR: f64 = 3.0;

/// The segment nearest a point.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NearestSegment {
    pub seg: SegRef,
    /// Its first and last point, projected metres.
    pub a: [f64; 2],
    pub b: [f64; 2],
    /// Squared distance from the point, square metres.
    pub dist_2: f64,
}

impl RouteNetwork {
    /// Whether `xy` (projected metres) lies within `margin_m` of the covered area.
    #[inline]
    pub(crate) fn covers(&self, xy: [f64; 2], margin_m: f64) -> bool {
        xy[0] >= self.bbox[0] - margin_m
            && xy[1] >= self.bbox[1] - margin_m
            && xy[0] <= self.bbox[2] + margin_m
            && xy[1] <= self.bbox[3] + margin_m
    }

    /// Every pass of a way within `radius` of `p` (projected metres), nearest first, into
    /// `out`: the closest segment of each stretch of the way that comes near `p` and
    /// goes away again ([`Self::keep_passes`]).
    pub(crate) fn candidates_near(&self, p: [f64; 2], radius: f64, out: &mut Vec<Candidate>) {
        out.clear();
        let r2 = radius * radius;
        self.grid.for_each_near(p, radius, |s| {
            let (frac, d2) = project_on_segment_2(p, s.a, s.b);
            if d2 <= r2 {
                out.push(Candidate { way: s.id.0, seg: s.id.1, frac, dist: d2 });
            }
        });
        self.keep_passes(out);
        finish_candidates(out);
    }

    /// Keeps, of the segments of each way in `out`, the closest of each pass near the
    /// point: a segment nearer than the one before it on the way and no further than the
    /// one after it (a neighbour outside the search counts as infinitely far). A straight
    /// or bending way has one; a hairpin, a U-shaped service road or a way that leaves and
    /// comes back has one per pass, and the route may be on either: keeping only the
    /// nearest segment of the way would put a sample on the wrong leg.
    fn keep_passes(&self, out: &mut Vec<Candidate>) {
        out.sort_unstable_by_key(|c| (c.way, c.seg));
        let n = out.len();
        let mut keep = 0;
        let mut i = 0;
        while i < n {
            let way = out[i].way;
            let end = i + out[i..].iter().take_while(|c| c.way == way).count();
            let first = keep;
            for k in i..end {
                let c = out[k];
                let (left, right) = (self.neighbour(out, i..end, k, false), self.neighbour(out, i..end, k, true));
                if left.is_none_or(|l| c.dist < l) && right.is_none_or(|r| c.dist <= r) {
                    out[keep] = c;
                    keep += 1;
                }
            }
            keep = first + self.distinct_passes(&mut out[first..keep]);
            i = end;
        }
        out.truncate(keep);
    }

    /// Of one way's closest segments `passes`, those of distinct passes moved to the front,
    /// nearest first; how many. A second pass counts where going along the way from one
    /// to the other is far longer than the straight line between them (a hairpin, a
    /// loop): on a bend the two are one pass, and a second candidate there only costs
    /// searches.
    fn distinct_passes(&self, passes: &mut [Candidate]) -> usize {
        if passes.len() < 2 {
            return passes.len();
        }
        passes.sort_unstable_by(|a, b| a.dist.total_cmp(&b.dist));
        let at = |c: &Candidate| (self.way_offset(c.way, c.seg, c.frac), self.point_xy(c.way, c.seg, c.frac));
        let mut kept = 1;
        for k in 1..passes.len() {
            let (along, xy) = at(&passes[k]);
            let apart = passes[..kept].iter().all(|o| {
                let (o_along, o_xy) = at(o);
                (along - o_along).abs() >= PASS_APART_M.max(PASS_DETOUR * crate::routes::project::dist(xy, o_xy))
            });
            if apart {
                passes.swap(kept, k);
                kept += 1;
            }
        }
        kept
    }

    /// Squared distance of the segment before (`after` false) or after segment `k` on its
    /// way, among `out[way]` (one way's segments in order; a closed way's first and last
    /// segment are neighbours).
    fn neighbour(&self, out: &[Candidate], way: std::ops::Range<usize>, k: usize, after: bool) -> Option<f64> {
        let c = out[k];
        let (start, end) = self.seg_nodes(c.way, c.seg);
        let joins = |o: &Candidate| {
            let (a, b) = self.seg_nodes(o.way, o.seg);
            if after { a == end } else { b == start }
        };
        let next =
            if after { (k + 1 < way.end).then_some(k + 1) } else { k.checked_sub(1).filter(|&j| j >= way.start) };
        let wrap = if after { way.start } else { way.end - 1 };
        [next, Some(wrap)].into_iter().flatten().map(|j| &out[j]).find(|o| o.seg != c.seg && joins(o)).map(|o| o.dist)
    }

    /// Drivable ways within `radius_m` metres of `lonlat` (`[lon, lat]`), from the
    /// spatial index: OSM way id and distance in metres, nearest first.
    pub fn ways_near(&self, lonlat: [f64; 2], radius_m: f64) -> Vec<(i64, f64)> {
        let mut out: Vec<(i64, f64)> = Vec::new();
        let mut cands = Vec::new();
        self.candidates_near(self.to_xy(lonlat), radius_m, &mut cands);
        for c in cands {
            let id = self.way_id(c.way);
            if !out.iter().any(|(w, _)| *w == id) {
                out.push((id, c.dist));
            }
        }
        out
    }

    /// The segment nearest `xy` (projected metres); `None` for a network without one.
    pub(crate) fn nearest_segment(&self, xy: [f64; 2]) -> Option<NearestSegment> {
        let nearest = self.tree.nearest_neighbor(&xy)?;
        let line = nearest.geom();
        Some(NearestSegment { seg: nearest.data, a: line.from, b: line.to, dist_2: nearest.distance_2(&xy) })
    }

    /// Segments whose envelope meets the box from `lo` to `hi` (projected metres): id,
    /// first and last point.
    pub(crate) fn segments_in(
        &self,
        lo: [f64; 2],
        hi: [f64; 2],
    ) -> impl Iterator<Item = (SegRef, [f64; 2], [f64; 2])> + '_ {
        self.tree.locate_in_envelope_intersecting(&AABB::from_corners(lo, hi)).map(|item| {
            let line = item.geom();
            (item.data, line.from, line.to)
        })
    }
}

/// Turns squared distances into distances and sorts nearest first.
fn finish_candidates(out: &mut [Candidate]) {
    for c in out.iter_mut() {
        c.dist = c.dist.sqrt();
    }
    out.sort_by(|a, b| a.dist.total_cmp(&b.dist).then(a.way.cmp(&b.way)));
}
