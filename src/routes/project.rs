//! Local equirectangular projection: metres east / north of a network's centre.
//!
//! Accurate to well under 0.5 % within ~100 km of the centre, which is enough for
//! candidate search and distances between nearby points.

const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Projection centred on one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Projection {
    lon0: f64,
    lat0: f64,
    kx: f64,
    ky: f64,
}

impl Projection {
    /// Centred on `[lon, lat]`.
    pub(crate) fn new(centre: [f64; 2]) -> Projection {
        let ky = EARTH_RADIUS_M.to_radians();
        Projection { lon0: centre[0], lat0: centre[1], kx: ky * centre[1].to_radians().cos(), ky }
    }

    /// `[lon, lat]` to `[x, y]` metres.
    pub(crate) fn to_xy(self, p: [f64; 2]) -> [f64; 2] {
        [(p[0] - self.lon0) * self.kx, (p[1] - self.lat0) * self.ky]
    }

    /// `[x, y]` metres to `[lon, lat]`.
    pub(crate) fn to_lonlat(self, p: [f64; 2]) -> [f64; 2] {
        [p[0] / self.kx + self.lon0, p[1] / self.ky + self.lat0]
    }
}

/// Euclidean distance in metres.
pub(crate) fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    // Not `hypot`: coordinates are metres near the centre, far from overflow, and
    // `sqrt` is several times faster on the matcher's hot path.
    let (dx, dy) = (a[0] - b[0], a[1] - b[1]);
    (dx * dx + dy * dy).sqrt()
}

/// Closest point of segment `a`–`b` to `p`: (fraction along the segment, distance).
pub(crate) fn project_on_segment(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> (f64, f64) {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    let q = lerp(a, b, t);
    (t, dist(p, q))
}

/// Like [`project_on_segment`], with the squared distance (no square root).
pub(crate) fn project_on_segment_2(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> (f64, f64) {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    let (ex, ey) = (a[0] + dx * t - p[0], a[1] + dy * t - p[1]);
    (t, ex * ex + ey * ey)
}

/// Point at fraction `t` of segment `a`–`b`.
pub(crate) fn lerp(a: [f64; 2], b: [f64; 2], t: f64) -> [f64; 2] {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]
}

/// Intersection of segments `p1`–`p2` and `q1`–`q2` as fractions along each, if they
/// cross (touching at an end counts).
pub(crate) fn segment_intersection(p1: [f64; 2], p2: [f64; 2], q1: [f64; 2], q2: [f64; 2]) -> Option<(f64, f64)> {
    let r = [p2[0] - p1[0], p2[1] - p1[1]];
    let s = [q2[0] - q1[0], q2[1] - q1[1]];
    let denom = r[0] * s[1] - r[1] * s[0];
    if denom.abs() < 1e-12 {
        return None;
    }
    let qp = [q1[0] - p1[0], q1[1] - p1[1]];
    let t = (qp[0] * s[1] - qp[1] * s[0]) / denom;
    let u = (qp[0] * r[1] - qp[1] * r[0]) / denom;
    ((0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&u)).then_some((t, u))
}

/// Whether segment `a`–`b` runs along the polyline: its midpoint lies within `tol`
/// metres of it and it is roughly parallel to the nearest part (within ~25 degrees).
/// A road that only crosses the line fails the second test.
pub(crate) fn runs_along(a: [f64; 2], b: [f64; 2], line: &[[f64; 2]], tol: f64) -> bool {
    let mid = lerp(a, b, 0.5);
    let Some(w) = line
        .windows(2)
        .min_by(|x, y| project_on_segment(mid, x[0], x[1]).1.total_cmp(&project_on_segment(mid, y[0], y[1]).1))
    else {
        return false;
    };
    if project_on_segment(mid, w[0], w[1]).1 > tol {
        return false;
    }
    let (u, v) = ([b[0] - a[0], b[1] - a[1]], [w[1][0] - w[0][0], w[1][1] - w[0][1]]);
    let (lu, lv) = (u[0].hypot(u[1]), v[0].hypot(v[1]));
    lu > 0.0 && lv > 0.0 && ((u[0] * v[0] + u[1] * v[1]) / (lu * lv)).abs() >= 0.9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_scale() {
        let p = Projection::new([24.94, 60.17]);
        let xy = p.to_xy([24.95, 60.18]);
        let back = p.to_lonlat(xy);
        assert!((back[0] - 24.95).abs() < 1e-12 && (back[1] - 60.18).abs() < 1e-12);
        // 0.01 degree of latitude is about 1112 m everywhere.
        assert!((xy[1] - 1111.95).abs() < 1.0, "{xy:?}");
    }

    #[test]
    fn crossing() {
        let hit = segment_intersection([0.0, 0.0], [2.0, 0.0], [1.0, -1.0], [1.0, 1.0]);
        assert_eq!(hit, Some((0.5, 0.5)));
        assert_eq!(segment_intersection([0.0, 0.0], [2.0, 0.0], [3.0, -1.0], [3.0, 1.0]), None);
    }
}
