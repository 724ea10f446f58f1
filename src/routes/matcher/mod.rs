//! HMM map matching in the spirit of Newson & Krumm (2009).
//!
//! The declared route is thinned to samples at least [`MIN_STEP_M`] apart (points are
//! inserted on stretches longer than [`SAMPLE_STEP_M`]). Each sample gets candidate
//! positions on nearby road segments from the network's segment grid: the closest
//! segment of each way, the [`MAX_CANDIDATES`] nearest within [`SEARCH_RADIUS_M`].
//! Emission: Gaussian in the distance from sample to candidate, weighted by the length
//! of route the sample stands for (so the evidence does not depend on the thinning).
//! Transition: exponential in the difference between the network distance of two
//! candidates (bounded Dijkstra on the directed graph, one-way streets respected) and
//! the straight distance between the two samples, plus a one-off cost for entering a
//! service road. Viterbi picks the most likely sequence; roads that are parallel, merely
//! crossed at an intersection or at another level (no shared node) lose because reaching
//! them costs a detour.
//! Where no transition has a path, the step is tried from every road within the radius,
//! then from up to a dozen samples back, then again after the chain's recent layers are
//! scored without the beam (a road beside the one drawn nearer may have fallen out of it);
//! samples without candidates, or steps none of these connect, break the chain and are
//! reported.
//!
//! Speed: candidates come from a uniform grid with cells about the search radius (a few
//! array lookups, where an R-tree descent costs several times more); candidates below
//! the beam of their layer are not expanded; moves along one way are scored without a
//! search; one Dijkstra per previous candidate settles all next candidates at once and
//! only as far as a path could still improve a candidate's score (a tight detour bound
//! first, the wide one only where nothing connects or a candidate left out could still win
//! the layer); the Dijkstra arrays live in a thread-local scratch reused between calls.
//!
//! By job: `candidates` (samples and their candidates), `viterbi` (scores and the
//! lattice), `search` (the bounded search between candidates), `path` (the matched
//! path and what it meets); this file ties them together and scores the match.

mod candidates;
mod path;
mod search;
mod viterbi;

pub(crate) use candidates::Sample;
pub use path::MatchedPath;
pub(crate) use path::Piece;
pub(crate) use search::HeapItem;

use crate::routes::network::RouteNetwork;
use crate::routes::project::dist;
use crate::routes::{MatchProblem, MatchProblemKind, RouteMatch};
use path::cancel_uturns;
use search::{SCRATCH, Scratch, WORK, Work};

/// Largest spacing of the samples taken along the declared route, metres: a drawing with a
/// vertex every 40 m (a router's export) is matched from its own vertices.
pub const SAMPLE_STEP_M: f64 = 40.0;
/// Vertices of the declared route closer than this to the previous sample are skipped.
pub const MIN_STEP_M: f64 = 30.0;
/// A skipped vertex at least this far from the last sample and this far off the straight
/// line from it to a later vertex is where the drawing turns and becomes a sample, metres:
/// above the drift of a drawing (up to 10 m), below [`MIN_STEP_M`].
pub const TURN_BACK_M: f64 = 12.0;
/// Length of route whose distance to the road counts as one Gaussian observation.
const EVIDENCE_STEP_M: f64 = 10.0;
/// Radius of the candidate search around a sample, metres.
pub const SEARCH_RADIUS_M: f64 = 45.0;
/// Standard deviation of the offset between the declared route and OSM, metres.
const SIGMA_M: f64 = 8.0;
/// Scale of the exponential transition model, metres of detour.
const BETA_M: f64 = 8.0;
/// Log-probability penalty for entering a `highway=service` road.
const SERVICE_ENTRY_PENALTY: f64 = 2.0;
/// Candidates kept per sample.
const MAX_CANDIDATES: usize = 6;
/// States per sample: a candidate in each direction of travel.
const MAX_STATES: usize = 2 * MAX_CANDIDATES;
/// What a U-turn in the street (not at a dead end) adds to a path, metres: a long vehicle
/// cannot turn there, so a way round up to this much longer (a loop, a block) explains a
/// drawing that comes back better. Above [`BEAM`] in units of [`BETA_M`], so that a state
/// reached only by turning drops out of the beam where another is reached without.
const UTURN_M: f64 = 80.0;
/// Radius of the first, cheaper candidate search around a sample, metres.
const NEAR_RADIUS_M: f64 = 30.0;
/// Roads this much further than the nearest one are not candidates worth a full-radius
/// search, metres: with [`SIGMA_M`] = 8 m, a road beyond [`NEAR_RADIUS_M`] scores at
/// least 6 (log-probability) per observation below one within 10 m.
const FAR_MARGIN_M: f64 = 20.0;
/// Samples further than this from the matched road lower the confidence, metres.
const NEAR_M: f64 = 25.0;
/// Backward movement on a one-way road tolerated as drawing noise, metres.
const NOISE_BACK_M: f64 = 6.0;
/// U-turns shorter than this are matching artefacts and removed from the path, metres: a
/// sample's candidate a little past the junction where the route turned (a drawing cuts or
/// overshoots a corner by its offset) makes the path go on and come back. The match's score
/// pays [`UTURN_M`] for it like any turn in the street; no vehicle drives it. A turn at a
/// dead end is kept.
const MAX_ARTEFACT_UTURN_M: f64 = 30.0;
/// Candidates this far (log-probability) below the best of their sample are dropped.
const BEAM: f64 = 8.0;
/// Detour (log-probability, in units of [`BETA_M`]) searched first between two samples.
const TIGHT_DETOUR: f64 = 6.0;
/// Matched and declared lengths this close agree fully, metres: about one drawing step
/// cut at each end or corner...
const LENGTH_TOLERANCE_M: f64 = 25.0;
/// ...but at most this share of the longer: a route of 60 m has no room to cut 25 m,
/// and a short drawing that the match follows only partly must not pass as a good match.
const LENGTH_TOLERANCE_SHARE: f64 = 0.25;
/// Below this the match is reported as low confidence.
const LOW_CONFIDENCE: f64 = 0.8;

/// The longest road distance searched between two samples `straight` metres apart,
/// metres: where nothing connects within the tight bound, and for the chosen path.
fn wide_bound(straight: f64) -> f64 {
    2.0 * straight + 2.0 * SEARCH_RADIUS_M + 30.0
}

impl RouteNetwork {
    /// Matches a declared route (`[lon, lat]` WGS84 vertices) onto the network and
    /// reports the ways travelled and every restriction met. Never panics; bad input
    /// gives an empty match with problems.
    pub fn match_route(&self, coords: &[[f64; 2]]) -> RouteMatch {
        // One scratch per thread, reused between calls (and grown for a larger network);
        // a fresh one if it is in use already or the thread is shutting down.
        let nodes = self.node_count();
        SCRATCH
            .try_with(|cell| {
                let mut scratch = cell.try_borrow_mut().ok()?;
                scratch.fit(nodes);
                Some(self.match_route_with(coords, &mut scratch, WORK))
            })
            .ok()
            .flatten()
            .unwrap_or_else(|| self.match_route_with(coords, &mut Scratch::new(nodes), WORK))
    }

    /// [`Self::match_route`] with a given scratch and work budget.
    pub(crate) fn match_route_with(&self, coords: &[[f64; 2]], scratch: &mut Scratch, work: Work) -> RouteMatch {
        let mut problems = Vec::new();
        let valid = coords.len() >= 2 && coords.iter().all(|&[lon, lat]| crate::units::is_lon_lat(lon, lat));
        if !valid {
            let first = coords.first().copied().unwrap_or([0.0, 0.0]);
            problems.push(MatchProblem {
                kind: MatchProblemKind::InvalidGeometry,
                lon: first[0],
                lat: first[1],
                km: 0.0,
                message: "the route needs at least two points with valid longitude and latitude".into(),
            });
            return empty_match(problems, 0.0);
        }
        let (samples, drawn_m) = self.resample(coords);
        let declared_m = samples.last().map_or(0.0, |s| s.km * 1000.0);
        scratch.settled = 0;
        let mut skipped = Vec::new();
        let chains = self.viterbi(&samples, scratch, work.budget(declared_m), &mut problems, &mut skipped);

        // Pieces of every chain, with artefact U-turns removed.
        let mut all: Vec<Vec<Piece>> = Vec::new();
        let mut matched_declared_m = 0.0;
        let mut near = 0usize;
        let mut total = 0usize;
        let mut worst: Option<(f64, usize)> = None;
        let mut u_turns: Vec<MatchProblem> = Vec::new();
        for chain in &chains {
            let mut pieces = Vec::with_capacity(2 * chain.len());
            for w in chain.windows(2) {
                let (ia, a) = w[0];
                let (ib, b) = w[1];
                let straight = dist(samples[ia].xy, samples[ib].xy);
                self.path(&a, &b, wide_bound(straight), scratch, &mut pieces);
            }
            // The samples the chain runs between.
            let span = chain.first().zip(chain.last()).map(|(a, b)| a.0..b.0);
            if let Some(r) = &span {
                matched_declared_m += (samples[r.end].km - samples[r.start].km) * 1000.0;
            }
            for &(i, c) in chain {
                total += 1;
                if c.c.dist <= NEAR_M {
                    near += 1;
                }
                if worst.is_none_or(|(d, _)| c.c.dist > d) {
                    worst = Some((c.c.dist, i));
                }
            }
            let (pieces, turns) = self.turn_around(cancel_uturns(self, pieces));
            if let Some(r) = &span {
                for s in skipped.iter().filter(|&s| r.contains(s)).map(|&s| &samples[s]) {
                    let off = pieces.iter().map(|p| self.piece_distance(p, s.xy)).fold(f64::INFINITY, f64::min);
                    if off > NEAR_M {
                        // Low confidence, as for any sample far from the matched road: the
                        // path found is a road round, and the drawing may take another.
                        problems.push(problem_at(
                            MatchProblemKind::LowConfidence,
                            s,
                            format!(
                                "the drawing near km {:.2} lies {off:.0} m from the matched path and no road near it goes on: the route may take another way there, whose restrictions are unknown",
                                s.km
                            ),
                        ));
                    }
                }
            }
            for turn in turns {
                let at = chain
                    .iter()
                    .map(|&(i, _)| &samples[i])
                    .min_by(|a, b| dist(a.xy, turn).total_cmp(&dist(b.xy, turn)));
                if let Some(at) = at {
                    u_turns.push(problem_at(
                        MatchProblemKind::LowConfidence,
                        at,
                        format!(
                            "the matched path turns back on itself near km {:.2}, where a long vehicle cannot turn and no way round lies within {} m: the drawing may return along another road nearby, whose restrictions are unknown",
                            at.km,
                            crate::routes::turns::MAX_LOOP_M
                        ),
                    ));
                }
            }
            all.push(pieces);
        }
        let (mut m, path) = self.report(&all);
        m.possible = self.possible_hits(coords, &samples, &path, &m.ways, &m.hits);
        m.problems = problems;
        m.problems.append(&mut u_turns);
        m.declared_length_m = declared_m;
        let coverage = if declared_m > 0.0 { (matched_declared_m / declared_m).min(1.0) } else { 0.0 };
        let closeness = if total > 0 { near as f64 / total as f64 } else { 0.0 };
        // A drawing cuts corners and starts and ends a little off the road: lengths
        // within LENGTH_TOLERANCE_M of each other agree. Thinned to samples it cuts
        // more corners (a winding road drawn every 20 m, sampled every 30 m), while its
        // every vertex adds the drawing's jitter: a matched length between the two agrees.
        let stretch = if declared_m > 0.0 { (drawn_m / declared_m).max(1.0) } else { 1.0 };
        let ratio = length_agreement(m.length_m, matched_declared_m, matched_declared_m * stretch);
        m.confidence = (coverage * closeness * ratio).clamp(0.0, 1.0);
        if m.confidence < LOW_CONFIDENCE {
            let at = worst.map_or(&samples[0], |(_, i)| &samples[i]);
            m.problems.push(problem_at(
                MatchProblemKind::LowConfidence,
                at,
                format!(
                    "the route matches the road network with confidence {:.2} only ({:.0}% of its length matched, {:.0}% of points within {NEAR_M} m of the matched road); the worst point is here",
                    m.confidence,
                    coverage * 100.0,
                    closeness * 100.0
                ),
            ));
        }
        m.problems.sort_by(|a, b| a.km.total_cmp(&b.km));
        m
    }
}

/// How well a matched length agrees with the declared one, which lies between `short`
/// (along the samples) and `long` (along every vertex): 1 within the band, widened by
/// the tolerance, falling in proportion outside it; 0 where either is nothing.
fn length_agreement(matched: f64, short: f64, long: f64) -> f64 {
    if matched <= 0.0 || short <= 0.0 {
        return 0.0;
    }
    let declared = matched.clamp(short, long);
    let longer = matched.max(declared);
    let tolerance = LENGTH_TOLERANCE_M.min(LENGTH_TOLERANCE_SHARE * longer);
    ((matched.min(declared) + tolerance) / longer).min(1.0)
}

fn problem(kind: MatchProblemKind, s: &Sample) -> MatchProblem {
    let message = match kind {
        MatchProblemKind::OutsideCoverage => {
            format!("the route leaves the area covered by the road data at km {:.2}", s.km)
        }
        _ => format!("no drivable road within {SEARCH_RADIUS_M} m of the route at km {:.2}", s.km),
    };
    problem_at(kind, s, message)
}

/// A problem located at sample `s`.
fn problem_at(kind: MatchProblemKind, s: &Sample, message: String) -> MatchProblem {
    MatchProblem { kind, lon: s.lonlat[0], lat: s.lonlat[1], km: s.km, message }
}

fn empty_match(problems: Vec<MatchProblem>, declared_length_m: f64) -> RouteMatch {
    RouteMatch { declared_length_m, problems, ..RouteMatch::default() }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Back and forth between two points 1.4 km apart across central Helsinki: every step a
    /// wide search.
    fn jumping() -> Vec<[f64; 2]> {
        (0..300).map(|i| if i % 2 == 0 { [24.9370606, 60.164352] } else { [24.95, 60.17] }).collect()
    }

    /// A winding street in central Helsinki (from the route evaluation, drawn every 10 to
    /// 45 m with a few metres of drift): thinned to samples the drawing is 20 % shorter
    /// than the street, along its vertices it is not. The match follows the street and
    /// agrees with the drawing (it scored 0.78 when only the samples counted).
    #[test]
    fn a_winding_drawing_thinned_to_samples_matches_with_full_confidence() {
        let data = crate::embedded_routes().unwrap();
        let drawn = [
            [24.9429509, 60.1722331],
            [24.9425923, 60.1722343],
            [24.942378, 60.1724375],
            [24.9427919, 60.1725196],
            [24.9428227, 60.1726675],
            [24.9424503, 60.1726398],
            [24.9426252, 60.1728524],
            [24.943255, 60.1728717],
            [24.9439707, 60.172907],
            [24.9442582, 60.1727101],
            [24.9443027, 60.1724586],
            [24.9443108, 60.1722125],
            [24.9443597, 60.1719258],
            [24.9439519, 60.1718243],
            [24.9438178, 60.1718326],
        ];
        let m = data.network.match_route(&drawn);
        assert!(m.confidence >= LOW_CONFIDENCE, "confidence {} {:?}", m.confidence, m.problems);
        assert!(m.problems.is_empty(), "{:?}", m.problems);
    }

    /// The sampling keeps a vertex where the drawing turns back or sharply aside within
    /// [`MIN_STEP_M`] (a hairpin: 25 m out, back 12 m beside the way out), not one on a
    /// straight stretch. Before, it kept the tip only where the drawing came back
    /// [`TURN_BACK_M`] nearer the last sample, which the hairpin's return never does.
    #[test]
    fn the_sampling_keeps_where_the_drawing_turns_not_a_straight_stretch() {
        let data = crate::embedded_routes().unwrap();
        let net = &data.network;
        let o = net.to_xy([24.94, 60.17]);
        let drawing = |metres: &[[f64; 2]]| -> Vec<[f64; 2]> {
            metres.iter().map(|m| net.to_lonlat([o[0] + m[0], o[1] + m[1]])).collect()
        };
        let sampled = |metres: &[[f64; 2]]| -> Vec<[i64; 2]> {
            let (samples, _) = net.resample(&drawing(metres));
            samples.iter().map(|s| [(s.xy[0] - o[0]).round() as i64, (s.xy[1] - o[1]).round() as i64]).collect()
        };
        let straight: Vec<[f64; 2]> = (0..=6).map(|i| [10.0 * f64::from(i), 0.0]).collect();
        assert_eq!(sampled(&straight), [[0, 0], [30, 0], [60, 0]]);
        let hairpin = [[0.0, 0.0], [10.0, 0.0], [20.0, 0.0], [25.0, 0.0], [15.0, 10.0], [5.0, 14.0], [-5.0, 14.0]];
        assert_eq!(sampled(&hairpin), [[0, 0], [25, 0], [-5, 14]]);
        // A drawing that ends round a loop beside its furthest point: that point lies 8 m
        // from the line to the end, the loop's far side 15 m.
        let loop_end = [[0.0, 0.0], [10.0, -5.0], [12.0, -14.0], [6.0, -22.0], [-2.0, -24.0], [-4.0, -16.0]];
        assert_eq!(sampled(&loop_end), [[0, 0], [12, -14], [-4, -16]]);
    }

    /// A matched length agrees anywhere between the drawing's length along its samples and
    /// along its vertices, and less the further outside that band it falls.
    #[test]
    fn a_matched_length_agrees_within_the_band_of_the_drawing() {
        assert_eq!(length_agreement(450.0, 400.0, 500.0), 1.0);
        assert_eq!(length_agreement(420.0, 400.0, 400.0), 1.0, "within the tolerance");
        assert!(length_agreement(700.0, 400.0, 500.0) < LOW_CONFIDENCE, "far longer than the drawing");
        assert!(length_agreement(250.0, 400.0, 500.0) < LOW_CONFIDENCE, "far shorter than the drawing");
        assert!(length_agreement(700.0, 400.0, 500.0) < length_agreement(600.0, 400.0, 500.0));
        assert_eq!(length_agreement(0.0, 400.0, 500.0), 0.0);
        assert_eq!(length_agreement(100.0, 0.0, 0.0), 0.0);
    }

    #[test]
    fn a_match_stops_where_its_work_budget_runs_out() {
        let data = crate::embedded_routes().unwrap();
        let net = &data.network;
        let route = jumping();
        let spent =
            net.match_route_with(&route, &mut Scratch::new(net.node_count()), Work { floor: 20_000, per_km: 0 });
        let stops: Vec<&MatchProblem> =
            spent.problems.iter().filter(|p| p.kind == MatchProblemKind::WorkLimit).collect();
        assert_eq!(stops.len(), 1, "{:?}", spent.problems);
        assert!(stops[0].km > 0.0 && stops[0].km < spent.declared_length_m / 1000.0, "{:?}", stops[0]);
        // The shipped budget is far above what this drawing needs.
        let full = net.match_route(&route);
        assert!(full.problems.iter().all(|p| p.kind != MatchProblemKind::WorkLimit), "{:?}", full.problems);
        assert!(full.length_m > spent.length_m);
    }

    /// A drawing round a car park's one-way loop and back out along its two-way access
    /// (Helsinki, `osm:way/43997241`, 43997242, 43997238; the evaluation's redrawing) is
    /// matched round the loop: with the direction of travel in the state, turning in the
    /// street costs a long vehicle's way round, and the loop is that way. Before, the match
    /// turned in the access road and reported a U-turn.
    #[test]
    fn a_drawing_round_a_one_way_loop_is_matched_round_it_not_as_a_u_turn() {
        let data = crate::embedded_routes().unwrap();
        let drawn = [
            [24.9391703, 60.1676870],
            [24.9395458, 60.1678324],
            [24.9399674, 60.1679679],
            [24.9404627, 60.1682039],
            [24.9401877, 60.1681617],
            [24.9397394, 60.1679915],
            [24.9394088, 60.1678810],
            [24.9390353, 60.1677419],
            [24.9384923, 60.1675157],
            [24.9378692, 60.1673121],
            [24.9373602, 60.1671350],
            [24.9370780, 60.1670362],
            [24.9364997, 60.1668284],
            [24.9358907, 60.1666217],
            [24.9354919, 60.1665040],
            [24.9352153, 60.1663966],
        ];
        let m = data.network.match_route(&drawn);
        assert!(m.problems.is_empty(), "{:?}", m.problems);
        let ways: Vec<i64> = m.ways.iter().map(|w| w.way_id).collect();
        assert!(ways.contains(&43997241) && ways.contains(&43997242), "{ways:?}");
        assert!(m.length_m > 430.0, "the loop is 460 m round: {} m", m.length_m);
    }

    /// Helsinki's Simonkatu (one-way, `osm:way/28583925`, 34001455, 30287785) and the bus
    /// and tram lanes beside it (`access=no`, `osm:way/316509069`), 4.5 m apart, drawn
    /// along Simonkatu 9 m off (the evaluation's route 349). The drawing's offset, told by
    /// the streets before and after it, moves it back onto Simonkatu: the bus lanes are no
    /// reading of it. Drawn along the bus lanes instead, they are. Before, both drawings
    /// were read as possibly using the bus lanes.
    #[test]
    fn the_drawings_offset_tells_a_street_from_the_bus_lanes_beside_it() {
        let data = crate::embedded_routes().unwrap();
        let mut drawn = [
            [24.9356115, 60.1707112],
            [24.9361702, 60.1708842],
            [24.9366287, 60.1709348],
            [24.9369196, 60.1707724],
            [24.9371400, 60.1706560],
            [24.9374779, 60.1704203],
            [24.9376416, 60.1702959],
            [24.9379251, 60.1701118],
            [24.9381443, 60.1699503],
            [24.9379716, 60.1697674],
            [24.9376361, 60.1696513],
            [24.9371449, 60.1694688],
            [24.9366017, 60.1692677],
            [24.9360469, 60.1690748],
            [24.9355745, 60.1688995],
            [24.9353274, 60.1688284],
            [24.9351855, 60.1690185],
        ];
        let bus_lanes = |m: &crate::routes::RouteMatch| {
            m.possible.iter().any(|p| p.via_way_id == 316509069) || m.ways.iter().any(|w| w.way_id == 316509069)
        };
        let m = data.network.match_route(&drawn);
        assert!(m.ways.iter().any(|w| w.way_id == 34001455), "{:?}", m.ways);
        assert!(!bus_lanes(&m), "{:?}", m.possible);
        // The same vertices along Simonkatu moved onto the bus lanes (2.8 m east, 3.6 m
        // south).
        for p in &mut drawn[9..14] {
            *p = [p[0] + 0.000051, p[1] - 0.000032];
        }
        assert!(bus_lanes(&data.network.match_route(&drawn)));
    }
}
