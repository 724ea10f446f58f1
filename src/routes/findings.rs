//! Measures of the declared route itself: length and gaps between vertices.

use geo::{Distance, Haversine, Point};
use serde::Serialize;

use super::{Closure, ClosureHit, RouteMatch, RouteNetwork, closures_on_route};

/// Two consecutive vertices further apart than the rulebook allows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gap {
    /// Index of the first vertex.
    pub vertex: usize,
    /// Distance to the next vertex, metres.
    pub length_m: f64,
    /// Where the gap starts, `[lon, lat]`.
    pub at: [f64; 2],
    /// Distance along the route where it starts, km.
    pub km: f64,
}

/// What R1-R5 know about the route.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteFindings {
    /// Length along the declared vertices, metres.
    pub length_m: f64,
    /// Straight-line distance from origin to destination, metres.
    pub direct_m: f64,
    /// Gaps longer than the rulebook's maximum.
    pub gaps: Vec<Gap>,
    /// The match onto the road network, `None` when none is loaded.
    pub network: Option<NetworkFindings>,
}

/// What the route met on the road network.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkFindings {
    /// Version of the road network and closures used.
    pub version: String,
    /// The match: ways travelled, restrictions met, problems.
    pub matched: RouteMatch,
    /// Temporary closures on the matched path (active or not).
    pub closures: Vec<ClosureHit>,
}

/// A road network with its temporary closures, as the reviewer uses them.
pub struct RouteData {
    /// The road network.
    pub network: RouteNetwork,
    /// Temporary closures.
    pub closures: Vec<Closure>,
    /// `network version + closures hash`, recorded in every review.
    pub version: String,
}

impl RouteData {
    /// Bundles a network and closures; `closures_text` is hashed into the version.
    pub fn new(network: RouteNetwork, closures: Vec<Closure>, closures_text: &str) -> RouteData {
        let version =
            format!("{}+closures:{}", network.version(), crate::digest::sha256_tagged(closures_text.as_bytes()));
        RouteData { network, closures, version }
    }

    /// Matches a route and finds the closures on it.
    pub fn analyse(&self, coords: &[[f64; 2]]) -> NetworkFindings {
        let matched = self.network.match_route(coords);
        let closures = closures_on_route(&matched, &self.closures);
        NetworkFindings { version: self.version.clone(), matched, closures }
    }
}

/// Great-circle distance between two `[lon, lat]` positions, metres.
pub fn distance_m(a: [f64; 2], b: [f64; 2]) -> f64 {
    Haversine.distance(Point::new(a[0], a[1]), Point::new(b[0], b[1]))
}

/// Length of a `[lon, lat]` polyline, metres.
pub fn path_length_m(coords: &[[f64; 2]]) -> f64 {
    coords.windows(2).map(|w| distance_m(w[0], w[1])).sum()
}

/// Measures the declared geometry against the largest allowed vertex gap.
pub fn analyse_geometry(coords: &[[f64; 2]], max_gap_m: f64) -> RouteFindings {
    let mut length_m = 0.0;
    let mut gaps = Vec::new();
    for (i, w) in coords.windows(2).enumerate() {
        let d = distance_m(w[0], w[1]);
        if d > max_gap_m {
            gaps.push(Gap { vertex: i, length_m: d, at: w[0], km: length_m / 1000.0 });
        }
        length_m += d;
    }
    let direct_m = match (coords.first(), coords.last()) {
        (Some(a), Some(b)) => distance_m(*a, *b),
        _ => 0.0,
    };
    RouteFindings { length_m, direct_m, gaps, network: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_found_where_they_are() {
        // 0.01 degree of latitude is about 1.11 km; 0.05 about 5.6 km.
        let coords = [[116.58, 35.41], [116.58, 35.42], [116.58, 35.47], [116.58, 35.48]];
        let r = analyse_geometry(&coords, 2000.0);
        assert_eq!(r.gaps.len(), 1);
        assert_eq!(r.gaps[0].vertex, 1);
        assert!((r.gaps[0].length_m - 5560.0).abs() < 20.0, "{}", r.gaps[0].length_m);
        assert!((r.gaps[0].km - 1.112).abs() < 0.01);
        assert!((r.length_m - 7784.0).abs() < 30.0, "{}", r.length_m);
    }
}
