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

    /// Every way within `radius` of `p` (projected metres) with its closest segment,
    /// nearest first, into `out`.
    pub(crate) fn candidates_near(&self, p: [f64; 2], radius: f64, out: &mut Vec<Candidate>) {
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
