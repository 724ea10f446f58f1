//! What the HMM observes: samples taken along the declared route, and for each the
//! candidate positions on nearby roads.

use super::{FAR_MARGIN_M, MAX_CANDIDATES, MIN_STEP_M, NEAR_RADIUS_M, SAMPLE_STEP_M, SEARCH_RADIUS_M, TURN_BACK_M};
use crate::routes::UNCERTAINTY_M;
use crate::routes::network::{Candidate, RouteNetwork};
use crate::routes::project::{dist, lerp, project_on_segment_2};

/// A sample of the declared route.
pub(crate) struct Sample {
    pub xy: [f64; 2],
    pub lonlat: [f64; 2],
    pub km: f64,
    /// How far the drawing strays off the line from the previous sample to this one
    /// (its skipped vertices), metres.
    pub cut: f64,
}

impl RouteNetwork {
    /// Candidates around `p` into `out`: the closest segment of each way within
    /// [`SEARCH_RADIUS_M`], nearest first, at most [`MAX_CANDIDATES`]. The grid is
    /// queried within [`NEAR_RADIUS_M`] first (query cost grows with the area): where
    /// that finds a road within `NEAR_RADIUS_M - FAR_MARGIN_M`, roads beyond
    /// `NEAR_RADIUS_M` are at least [`FAR_MARGIN_M`] further than it and cannot compete
    /// (their emission is far below the beam); elsewhere the full radius is searched.
    pub(super) fn candidates_into(&self, p: [f64; 2], out: &mut Vec<Candidate>) {
        self.candidates_near(p, NEAR_RADIUS_M, out);
        let near = NEAR_RADIUS_M - FAR_MARGIN_M;
        if out.first().is_none_or(|c| c.dist > near) {
            self.candidates_near(p, SEARCH_RADIUS_M, out);
        }
        out.truncate(MAX_CANDIDATES);
    }

    /// Samples of the declared route: its own vertices (they carry its shape), skipping
    /// those closer than [`MIN_STEP_M`] to the previous sample, plus points inserted
    /// on stretches longer than [`SAMPLE_STEP_M`]. The last vertex is always kept, and so
    /// is the tip of a stretch that goes out and comes back within [`MIN_STEP_M`] (a
    /// spur into a yard, a car park or a turning loop): thinned away, the match would
    /// never go there, and nothing on it would be checked. So is the skipped vertex that
    /// lies furthest off the line between two samples, where it lies [`UNCERTAINTY_M`] or
    /// more off it (round a sharp corner): that line cuts across the corner, and a road
    /// that does too (a service road) would fit the samples better than the roads drawn
    /// round it. With them, the drawing's length along every vertex, metres (the samples'
    /// own length cuts its corners).
    pub(super) fn resample(&self, coords: &[[f64; 2]]) -> (Vec<Sample>, f64) {
        // Thinning keeps far fewer samples than a densely drawn route has vertices: size
        // by length, not by vertex count (a 10,000-vertex route would otherwise allocate
        // 400 kB per call).
        let mut out: Vec<Sample> = Vec::with_capacity(64);
        // The skipped vertex furthest from the last sample: its index and squared distance.
        let mut tip: Option<(usize, f64)> = None;
        // The first vertex skipped since the last sample.
        let mut skipped = 0;
        let mut vertex: Option<[f64; 2]> = None;
        let mut drawn_m = 0.0;
        // The skipped vertex furthest off the line from sample `from` to `p`, and how far.
        let furthest = |from: usize, to: usize, a: [f64; 2], p: [f64; 2]| {
            (from..to)
                .map(|k| (k, project_on_segment_2(self.to_xy(coords[k]), a, p).1.sqrt()))
                .max_by(|x, y| x.1.total_cmp(&y.1))
        };
        let sample_at = |k: usize, from: &Sample, cut: f64| {
            let xy = self.to_xy(coords[k]);
            Sample { xy, lonlat: coords[k], km: from.km + dist(from.xy, xy) / 1000.0, cut }
        };
        for (i, &c) in coords.iter().enumerate() {
            let p = self.to_xy(c);
            drawn_m += vertex.map_or(0.0, |v| dist(v, p));
            vertex = Some(p);
            let Some(prev) = out.last() else {
                out.push(Sample { xy: p, lonlat: c, km: 0.0, cut: 0.0 });
                skipped = i + 1;
                continue;
            };
            let mut gap2 = dist2(prev.xy, p);
            let is_last = i + 1 == coords.len();
            if let Some((k, tip2)) = tip
                && tip2.sqrt() - gap2.sqrt() >= TURN_BACK_M
            {
                let cut = furthest(skipped, k, prev.xy, self.to_xy(coords[k])).map_or(0.0, |f| f.1);
                let s = sample_at(k, prev, cut);
                gap2 = dist2(s.xy, p);
                out.push(s);
                (tip, skipped) = (None, k + 1);
            }
            if gap2 < MIN_STEP_M * MIN_STEP_M && !is_last {
                if gap2 >= TURN_BACK_M * TURN_BACK_M && tip.is_none_or(|t| gap2 > t.1) {
                    tip = Some((i, gap2));
                }
                continue;
            }
            tip = None;
            // The corners the line from the last sample to this vertex cuts, each taken as
            // a sample (every skipped vertex lies within `MIN_STEP_M` of the sample before
            // it, so no points are inserted up to them).
            let mut cut = 0.0;
            while let Some(prev) = out.last() {
                let Some((k, off)) = furthest(skipped, i, prev.xy, p) else { break };
                if off < UNCERTAINTY_M {
                    cut = off;
                    break;
                }
                let before = furthest(skipped, k, prev.xy, self.to_xy(coords[k])).map_or(0.0, |f| f.1);
                out.push(sample_at(k, prev, before));
                skipped = k + 1;
            }
            skipped = i + 1;
            let Some(prev) = out.last() else { continue };
            // Distances are measured along the samples, not along every vertex: a
            // densely drawn line's jitter would otherwise inflate its length.
            let gap = dist(prev.xy, p);
            let (from, from_km) = (prev.xy, prev.km);
            let km = from_km + gap / 1000.0;
            // Long stretch: interpolate so that no two samples are far apart.
            let n = (gap / SAMPLE_STEP_M).ceil().max(1.0) as usize;
            for k in 1..n {
                let t = k as f64 / n as f64;
                let xy = lerp(from, p, t);
                out.push(Sample { xy, lonlat: self.to_lonlat(xy), km: from_km + (km - from_km) * t, cut });
            }
            out.push(Sample { xy: p, lonlat: c, km, cut });
        }
        (out, drawn_m)
    }
}

/// Squared distance between two points, metres².
fn dist2(a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    dx * dx + dy * dy
}
