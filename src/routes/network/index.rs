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
/// ...and this many times the straight line between them: a hairpin's legs may lie 15 m
/// apart 40 m along the way (at three times, the drawing's vertex on the leg 1 m further
/// had no candidate there and was matched onto the other leg, as a U-turn).
const PASS_DETOUR: f64 = 1.5;

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

    /// The closest segment of each way within `radius` of `p` (projected metres), and of
    /// a second pass of the way where it comes near `p` twice (a hairpin, a U-shaped
    /// service road, a way that leaves and comes back: the route may be on either leg, and
    /// keeping only the nearest would put a sample on the wrong one), nearest first, into
    /// `out`.
    pub(crate) fn candidates_near(&self, p: [f64; 2], radius: f64, out: &mut Vec<Candidate>) {
        out.clear();
        let r2 = radius * radius;
        self.grid.for_each_near(p, radius, |s| {
            let (frac, d2) = project_on_segment_2(p, s.a, s.b);
            if d2 <= r2 {
                out.push(Candidate { way: s.id.0, seg: s.id.1, frac, dist: d2 });
            }
        });
        // Nearest of each way to the front (`out[..ways]`), then the nearest of each way's
        // second pass after them; no sort: a query finds a few dozen segments of a few ways.
        let ways = gather_nearest(out, 0, |_, _| true);
        let passes = gather_nearest(out, ways, |c, out| {
            out[..ways].iter().find(|h| h.way == c.way).is_some_and(|h| self.distinct_passes(h, c))
        });
        out.truncate(passes);
        finish_candidates(out);
    }

    /// Whether a segment that `wanted` accepts lies within `radius` of `p` (projected
    /// metres).
    pub(crate) fn segment_within(&self, p: [f64; 2], radius: f64, wanted: impl Fn(SegRef) -> bool) -> bool {
        let (r2, mut found) = (radius * radius, false);
        self.grid.for_each_near(p, radius, |s| {
            found = found || (project_on_segment_2(p, s.a, s.b).1 < r2 && wanted(s.id));
        });
        found
    }

    /// Whether `a` and `b` on one way lie on distinct passes of it: going along the way from
    /// one to the other is far longer than the straight line between them (a hairpin, a
    /// loop). On a bend they are one pass, and a second candidate there only costs searches.
    fn distinct_passes(&self, a: &Candidate, b: &Candidate) -> bool {
        if a.seg.abs_diff(b.seg) < 2 {
            return false;
        }
        let along = (self.way_offset(a.way, a.seg, a.frac) - self.way_offset(b.way, b.seg, b.frac)).abs();
        let straight =
            crate::routes::project::dist(self.point_xy(a.way, a.seg, a.frac), self.point_xy(b.way, b.seg, b.frac));
        along >= PASS_APART_M.max(PASS_DETOUR * straight)
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

/// Moves the nearest segment of each way among `out[from..]` that `wanted` accepts to
/// `out[from..]`'s front (ties to the way's first segment, so that the result does not
/// depend on the order the index visits them in); returns where they end. The others stay
/// behind them.
fn gather_nearest(out: &mut [Candidate], from: usize, wanted: impl Fn(&Candidate, &[Candidate]) -> bool) -> usize {
    let mut end = from;
    for i in from..out.len() {
        let c = out[i];
        if !wanted(&c, out) {
            continue;
        }
        match (from..end).find(|&j| out[j].way == c.way) {
            Some(j) if (out[j].dist, out[j].seg) <= (c.dist, c.seg) => {}
            Some(j) => out.swap(j, i),
            None => {
                out.swap(end, i);
                end += 1;
            }
        }
    }
    end
}

/// Turns squared distances into distances and sorts nearest first.
fn finish_candidates(out: &mut [Candidate]) {
    for c in out.iter_mut() {
        c.dist = c.dist.sqrt();
    }
    out.sort_by(|a, b| a.dist.total_cmp(&b.dist).then(a.way.cmp(&b.way)));
}
