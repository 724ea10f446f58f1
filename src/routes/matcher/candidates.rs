//! What the HMM observes: samples taken along the declared route, and for each the
//! candidate positions on nearby roads.

use super::{FAR_MARGIN_M, MAX_CANDIDATES, MIN_STEP_M, NEAR_RADIUS_M, SAMPLE_STEP_M, SEARCH_RADIUS_M, TURN_BACK_M};
use crate::routes::network::{Candidate, RouteNetwork};
use crate::routes::project::{dist, lerp, project_on_segment};

/// A sample of the declared route.
pub(crate) struct Sample {
    pub xy: [f64; 2],
    pub lonlat: [f64; 2],
    pub km: f64,
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
    /// is a skipped vertex (the one furthest from the last sample) that stands
    /// [`TURN_BACK_M`] off the straight line from the last sample to a later vertex, where
    /// the drawing turns back or sharply aside: the tip of a spur into a yard, a car park
    /// or a turning loop, a hairpin, a corner a sparse drawing turns. Thinned away, the
    /// match would cut across to where the drawing goes on and never go there, and nothing
    /// there would be checked (kept only where the drawing came back that far towards the
    /// last sample, a loop round a car park's tunnel, a gate on a spur and Monaco's
    /// hairpins were thinned away). At the drawing's end, where no later vertex follows,
    /// the skipped vertex kept is the one furthest off the line to the last vertex: a
    /// drawing that ends round a loop comes back near its furthest point (Monaco's turning
    /// loop with a lift gate, ended beside its mouth, was matched as a stop short of it).
    /// With them, the drawing's length along every vertex, metres (the samples' own length
    /// cuts its corners).
    pub(super) fn resample(&self, coords: &[[f64; 2]]) -> (Vec<Sample>, f64) {
        // Thinning keeps far fewer samples than a densely drawn route has vertices: size
        // by length, not by vertex count (a 10,000-vertex route would otherwise allocate
        // 400 kB per call).
        let mut out: Vec<Sample> = Vec::with_capacity(64);
        // The skipped vertex furthest from the last sample: its index, position and
        // squared distance.
        let mut tip: Option<(usize, [f64; 2], f64)> = None;
        // The vertex the last sample stands on.
        let mut last_i = 0;
        let mut vertex: Option<[f64; 2]> = None;
        let mut drawn_m = 0.0;
        for (i, &c) in coords.iter().enumerate() {
            let p = self.to_xy(c);
            drawn_m += vertex.map_or(0.0, |v| dist(v, p));
            vertex = Some(p);
            let Some(prev) = out.last() else {
                out.push(Sample { xy: p, lonlat: c, km: 0.0 });
                continue;
            };
            let mut gap2 = dist2(prev.xy, p);
            let is_last = i + 1 == coords.len();
            // At the end no later vertex shows where the drawing went: of the vertices
            // skipped since the last sample, the one furthest off the line to the end.
            if is_last && tip.is_some() {
                tip = (last_i + 1..i)
                    .map(|j| {
                        let v = self.to_xy(coords[j]);
                        (j, v, project_on_segment(v, prev.xy, p).1)
                    })
                    .max_by(|a, b| a.2.total_cmp(&b.2))
                    .map(|(j, v, _)| (j, v, dist2(prev.xy, v)));
            }
            if let Some((tip_i, tip_xy, tip2)) = tip
                && project_on_segment(tip_xy, prev.xy, p).1 >= TURN_BACK_M
            {
                out.push(Sample { xy: tip_xy, lonlat: coords[tip_i], km: prev.km + tip2.sqrt() / 1000.0 });
                last_i = tip_i;
                tip = None;
                gap2 = dist2(tip_xy, p);
            }
            if gap2 < MIN_STEP_M * MIN_STEP_M && !is_last {
                if gap2 >= TURN_BACK_M * TURN_BACK_M && tip.is_none_or(|t| gap2 > t.2) {
                    tip = Some((i, p, gap2));
                }
                continue;
            }
            tip = None;
            let Some(prev) = out.last() else { continue };
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
                out.push(Sample { xy, lonlat: self.to_lonlat(xy), km: from_km + (km - from_km) * t });
            }
            out.push(Sample { xy: p, lonlat: c, km });
            last_i = i;
        }
        (out, drawn_m)
    }
}

/// Squared distance between two points, metres².
fn dist2(a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    dx * dx + dy * dy
}
