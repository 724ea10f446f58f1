//! The traps where buffer and proximity queries fail, on real places found
//! programmatically in real data, with perturbed (seeded) routes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::type_complexity)]

mod routes_common;

use oscar::routes::{RestrictionKind, RouteMatch, RouteNetwork, WayView};
use routes_common::{Graph, Rng, helsinki_dir, metres, network, perturb};
use std::collections::HashSet;

fn helsinki() -> RouteNetwork {
    RouteNetwork::load(&helsinki_dir()).expect("shipped network")
}

fn heidelberg() -> Option<RouteNetwork> {
    network("heidelberg-ors.osm.pbf")
}

fn length(coords: &[[f64; 2]]) -> f64 {
    coords.windows(2).map(|w| metres(w[0], w[1])).sum()
}

/// The way's coordinates in a drivable direction.
fn drivable(w: &WayView) -> Vec<[f64; 2]> {
    let mut c = w.coords.clone();
    if w.oneway < 0 {
        c.reverse();
    }
    c
}

/// Whether the match meets the way: travels it, reports a restriction of it, or names it
/// as a road the route may have used instead.
fn meets(m: &RouteMatch, way_id: i64) -> bool {
    let src = format!("osm:way/{way_id}");
    m.ways.iter().any(|w| w.way_id == way_id)
        || m.hits.iter().any(|h| h.source == src)
        || m.possible.iter().any(|p| p.via_way_id == way_id || p.hit.source == src)
}

fn has_limit(w: &WayView, keys: &[&str]) -> bool {
    w.tags.iter().any(|(k, v)| keys.contains(&k.as_str()) && v.parse::<f64>().is_ok())
}

/// Exact distance from `p` to a polyline, metres (local flat approximation at `p`).
fn to_line(p: [f64; 2], line: &[[f64; 2]]) -> f64 {
    let k = p[1].to_radians().cos() * 111_195.0;
    let xy = |q: [f64; 2]| [(q[0] - p[0]) * k, (q[1] - p[1]) * 111_195.0];
    let mut best = f64::MAX;
    for w in line.windows(2) {
        let (a, b) = (xy(w[0]), xy(w[1]));
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let l2 = dx * dx + dy * dy;
        let t = if l2 > 0.0 { (-(a[0] * dx + a[1] * dy) / l2).clamp(0.0, 1.0) } else { 0.0 };
        best = best.min((a[0] + dx * t).hypot(a[1] + dy * t));
    }
    best
}

const SEEDS: [u64; 5] = [1, 2, 3, 4, 5];

/// Distances closer than this are a tie: the drawing does not tell the ways apart.
const TIE_M: f64 = 1.0;

/// Whether a drawn route lies nearer to (or as near as, within [`TIE_M`]) some other
/// drivable way, drivable in the drawn direction there, than to the way `w` it was
/// drawn from at most of its vertices. Such
/// a drawing is, to any matcher, a drawing of that other way: it happens where a one-way
/// carriageway forks into two branches a few metres apart that run side by side
/// (Heidelberg's Czernyring, the Speyerer Straße bridge and its parallel service ramps)
/// and the seeded 5 m offset points toward the other branch.
fn drawn_nearer_another_way(net: &RouteNetwork, g: &Graph, drawn: &[[f64; 2]], w: &WayView) -> bool {
    let nearer = drawn
        .windows(2)
        .filter(|pq| {
            let (p, q) = (pq[0], pq[1]);
            let own = to_line(p, &w.coords);
            net.ways_near(p, own + TIE_M).iter().any(|&(id, d)| {
                id != w.way_id
                    && d < own + TIE_M
                    && g.ways.iter().filter(|o| o.way_id == id).any(|o| same_direction(o, p, q))
            })
        })
        .count();
    nearer * 2 > drawn.len() - 1
}

/// Whether way `o` can be driven, near `p`, in the direction from `p` to `q` (within
/// 45 degrees).
fn same_direction(o: &WayView, p: [f64; 2], q: [f64; 2]) -> bool {
    let Some(s) = o.coords.windows(2).min_by(|a, b| to_line(p, a).total_cmp(&to_line(p, b))) else {
        return false;
    };
    let turn = |h: f64| {
        (h - heading(p, q) + 3.0 * std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI
    };
    let along = turn(heading(s[0], s[1])).abs() < std::f64::consts::FRAC_PI_4;
    let against = turn(heading(s[1], s[0])).abs() < std::f64::consts::FRAC_PI_4;
    (along && o.oneway >= 0) || (against && o.oneway <= 0)
}

/// Ways of `g` leading into node `x` (coords ending at x) and out of it (starting at x),
/// in drivable directions: (way index, coords).
fn around(g: &Graph, x: i64, skip: i64) -> (Vec<(usize, Vec<[f64; 2]>)>, Vec<(usize, Vec<[f64; 2]>)>) {
    let (mut ins, mut outs) = (Vec::new(), Vec::new());
    for &(wi, k) in g.at.get(&x).into_iter().flatten() {
        let w = &g.ways[wi];
        if w.way_id == skip || w.tunnel {
            continue;
        }
        let n = w.coords.len();
        let rev = |v: &[[f64; 2]]| v.iter().rev().copied().collect::<Vec<_>>();
        if w.oneway >= 0 && k > 0 {
            ins.push((wi, w.coords[..=k].to_vec()));
        }
        if w.oneway <= 0 && k + 1 < n {
            ins.push((wi, rev(&w.coords[k..])));
        }
        if w.oneway >= 0 && k + 1 < n {
            outs.push((wi, w.coords[k..].to_vec()));
        }
        if w.oneway <= 0 && k > 0 {
            outs.push((wi, rev(&w.coords[..=k])));
        }
    }
    (ins, outs)
}

fn heading(a: [f64; 2], b: [f64; 2]) -> f64 {
    ((b[1] - a[1]) * 111_195.0).atan2((b[0] - a[0]) * 111_195.0 * a[1].to_radians().cos())
}

#[test]
fn crossing_a_height_limited_street_at_an_intersection() {
    let net = helsinki();
    let g = Graph::new(&net);
    let mut places = 0;
    let keys = ["maxheight", "maxweight", "maxlength", "maxaxleload"];
    for r in g.ways.iter().filter(|w| has_limit(w, &keys) && !w.tunnel) {
        for x in [r.node_ids[0], r.node_ids[r.node_ids.len() - 1]] {
            let (ins, outs) = around(&g, x, r.way_id);
            for (ai, a) in &ins {
                for (bi, b) in &outs {
                    let (ha, hb) = (heading(a[a.len() - 2], a[a.len() - 1]), heading(b[0], b[1]));
                    let turn =
                        (hb - ha + 3.0 * std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI;
                    // Straight on through the intersection, at least 15 m each side.
                    if turn.abs() > 0.8 || length(a) < 15.0 || length(b) < 15.0 {
                        continue;
                    }
                    let mut route = a.clone();
                    route.extend_from_slice(&b[1..]);
                    places += 1;
                    for seed in SEEDS {
                        let drawn = perturb(&route, &mut Rng::new(seed), 5.0, 2.0, 12.0);
                        let m = net.match_route(&drawn);
                        assert!(
                            !meets(&m, r.way_id),
                            "route along ways {} and {} crossing the end of way {} (maxheight) met it: {:?} {:?} {:?}",
                            g.ways[*ai].way_id,
                            g.ways[*bi].way_id,
                            r.way_id,
                            m.ways,
                            m.hits,
                            m.possible
                        );
                    }
                }
            }
        }
    }
    println!("{places} intersections with a height-limited side street");
    assert!(places >= 2, "too few test places: {places}");
}

#[test]
fn driving_a_road_parallel_to_a_weight_limited_one() {
    let net = helsinki();
    let g = Graph::new(&net);
    let mut places = 0;
    for w in g.ways.iter().filter(|w| has_limit(w, &["maxweight"]) && length(&w.coords) >= 20.0) {
        for p in &g.ways {
            if p.way_id == w.way_id || p.tunnel || length(&p.coords) < 40.0 {
                continue;
            }
            if p.node_ids.iter().any(|n| w.node_ids.contains(n)) {
                continue;
            }
            // A limited way that begins within a drawing's end uncertainty (12 m) of where the
            // road driven starts or ends is not beside the route but may be its first or
            // last metres: that route may use it (`unverified`), which is not this trap.
            let (first, last) = (p.coords[0], p.coords[p.coords.len() - 1]);
            if w.coords.iter().any(|&c| metres(c, first) <= 12.0 || metres(c, last) <= 12.0) {
                continue;
            }
            // Most vertices (60 %) of the limited way lie within 30 m of the road driven (beside it,
            // or below it in a tunnel), with no node in common.
            let d: Vec<f64> = w.coords.iter().map(|&c| to_line(c, &p.coords)).collect();
            if d.iter().filter(|&&x| x <= 30.0).count() * 10 < d.len() * 6 {
                continue;
            }
            places += 1;
            for seed in SEEDS {
                let drawn = perturb(&drivable(p), &mut Rng::new(seed), 5.0, 2.0, 12.0);
                let m = net.match_route(&drawn);
                assert!(
                    !meets(&m, w.way_id),
                    "route along way {} met the parallel weight-limited way {}: {:?} {:?} {:?}",
                    p.way_id,
                    w.way_id,
                    m.ways,
                    m.hits,
                    m.possible
                );
            }
        }
    }
    println!("{places} roads parallel to a weight-limited way");
    assert!(places >= 1, "no test place found");
}

/// Bridges (drivable) and the ways they cross without a shared node.
fn bridge_crossings(g: &Graph) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (bi, b) in g.ways.iter().enumerate().filter(|(_, b)| b.bridge) {
        for (ui, u) in g.ways.iter().enumerate() {
            if ui == bi || u.layer >= b.layer || u.node_ids.iter().any(|n| b.node_ids.contains(n)) {
                continue;
            }
            let crosses = b.coords.windows(2).any(|s| {
                u.coords.windows(2).any(|t| {
                    let d = |a: [f64; 2], b: [f64; 2], c: [f64; 2]| {
                        (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
                    };
                    d(s[0], s[1], t[0]) * d(s[0], s[1], t[1]) < 0.0 && d(t[0], t[1], s[0]) * d(t[0], t[1], s[1]) < 0.0
                })
            });
            if crosses {
                out.push((bi, ui));
            }
        }
    }
    out
}

#[test]
fn driving_over_a_bridge_above_a_height_limited_road() {
    let Some(net) = heidelberg() else { return };
    let g = Graph::new(&net);
    let crossings = bridge_crossings(&g);
    // Heidelberg has no height-limited road under a drivable bridge, so every road
    // below a bridge stands in: the route over the bridge must not meet it at all.
    let limited: Vec<&(usize, usize)> = crossings.iter().collect();
    let mut tested = 0;
    // Distinct drawings (bridge, seed): a bridge over several roads is drawn the same
    // way for each of them.
    let (mut draws, mut ambiguous) = (HashSet::new(), HashSet::new());
    for &&(bi, ui) in &limited {
        let (b, u) = (&g.ways[bi], &g.ways[ui]);
        if length(&b.coords) < 40.0 {
            continue;
        }
        tested += 1;
        for seed in SEEDS {
            let drawn = perturb(&drivable(b), &mut Rng::new(seed), 5.0, 2.0, 12.0);
            // A drawing nearer to a parallel branch than to the bridge along most of its
            // length cannot be told from a drawing of that branch (see
            // `drawn_nearer_another_way`); it is counted, not asserted.
            if drawn_nearer_another_way(&net, &g, &drawn, b) {
                ambiguous.insert((b.way_id, seed));
                continue;
            }
            draws.insert((b.way_id, seed));
            let m = net.match_route(&drawn);
            assert!(
                m.ways.iter().any(|w| w.way_id == b.way_id),
                "bridge {} (seed {seed}) not matched: {:?}",
                b.way_id,
                m.ways
            );
            assert!(
                !meets(&m, u.way_id),
                "route over bridge {} met the height-limited road {} below: {:?}",
                b.way_id,
                u.way_id,
                m.hits
            );
            assert!(
                !m.hits
                    .iter()
                    .any(|h| h.kind == RestrictionKind::MaxHeight && h.source == format!("osm:way/{}", u.way_id))
            );
        }
    }
    println!(
        "{tested} bridges over height-limited roads ({} crossings in all), {} drawings matched, ambiguous drawings skipped: {ambiguous:?}",
        crossings.len(),
        draws.len()
    );
    assert!(tested >= 1, "no bridge over a height-limited road found");
    // Ambiguous drawings are the exception, not the rule.
    assert!(ambiguous.len() * 4 <= draws.len(), "{} ambiguous of {}", ambiguous.len(), draws.len() + ambiguous.len());
}

#[test]
fn passing_under_a_bridge_of_unknown_clearance() {
    let Some(net) = heidelberg() else { return };
    let g = Graph::new(&net);
    let mut tested = 0;
    // Distinct drawings (way, seed): a way under several bridges is drawn the same way
    // for each of them.
    let (mut draws, mut ambiguous) = (HashSet::new(), HashSet::new());
    for (under, bridge, at) in net.bridges_over_roads() {
        let Some(u) = g.ways.iter().find(|w| w.way_id == under) else {
            continue;
        };
        // Long enough to match, with the bridge away from the ends.
        if u.tunnel || u.highway == "service" || length(&u.coords) < 80.0 {
            continue;
        }
        if metres(at, u.coords[0]) < 30.0 || metres(at, u.coords[u.coords.len() - 1]) < 30.0 {
            continue;
        }
        tested += 1;
        for seed in SEEDS {
            let drawn = perturb(&drivable(u), &mut Rng::new(seed), 5.0, 2.0, 12.0);
            // E.g. way 25040615, one branch of the one-way Czernyring, runs 8-13 m
            // beside the other branch for its whole length; seeds 1 and 2 shift the
            // drawing onto that branch (nearer to it at 25 of 30 vertices). Counted,
            // not asserted (see `drawn_nearer_another_way`).
            if drawn_nearer_another_way(&net, &g, &drawn, u) {
                ambiguous.insert((under, seed));
                continue;
            }
            draws.insert((under, seed));
            let m = net.match_route(&drawn);
            let hit = m.hits.iter().find(|h| h.kind == RestrictionKind::ClearanceUnknown && h.source == bridge);
            assert!(
                hit.is_some_and(|h| metres([h.lon, h.lat], at) < 1.0 && h.limit.is_none()),
                "route along way {under} (seed {seed}) under {bridge} at {at:?}: {:?} {:?} {:?}",
                m.hits,
                m.ways,
                m.problems
            );
        }
        if tested >= 15 {
            break;
        }
    }
    println!(
        "{tested} roads under bridges of unknown clearance, {} drawings matched, ambiguous drawings skipped: {ambiguous:?}",
        draws.len()
    );
    assert!(tested >= 5, "too few test places: {tested}");
    // Ambiguous drawings are the exception, not the rule.
    assert!(ambiguous.len() * 4 <= draws.len(), "{} ambiguous of {}", ambiguous.len(), draws.len() + ambiguous.len());
}

/// Whether the match meets the restriction on `source`, on the path or as another reading.
fn meets_source(m: &RouteMatch, source: &str) -> bool {
    m.hits.iter().any(|h| h.source == source) || m.possible.iter().any(|p| p.hit.source == source)
}

/// Drawings (as the evaluation redrew them from real walks) whose restricted piece the
/// matcher once read past: a car-park ramp loop drawn with a few points (Heidelberg,
/// Untere Neckarstraße: its tunnel `osm:way/14197792`); a route that starts in a car-park
/// tunnel and goes 27 m out and back before it leaves (`osm:way/318715747`); a route that
/// ends at a gate in a covered passage (Paris, `osm:node/3396853740`); a route that ends
/// 11 m past a fork, 4 m from one branch and 8 m from the other, `vehicle=destination`
/// (Heidelberg, Schlossberg `osm:way/133616229`).
#[test]
fn loops_spurs_a_gate_and_a_fork_at_the_end_are_not_read_past() {
    let cases: [(&str, &[[f64; 2]], &str); 4] = [
        (
            "heidelberg-ors.osm.pbf",
            &[
                [8.7019568, 49.4127683],
                [8.7017863, 49.4127544],
                [8.7016250, 49.4127197],
                [8.7014120, 49.4126914],
                [8.7013448, 49.4125931],
                [8.7013805, 49.4124881],
                [8.7014016, 49.4123851],
                [8.7013361, 49.4122857],
                [8.7011408, 49.4122525],
                [8.7008954, 49.4122147],
                [8.7006757, 49.4121612],
                [8.7004457, 49.4121109],
                [8.7002774, 49.4120971],
                [8.7000943, 49.4120867],
                [8.6999457, 49.4120813],
                [8.6998585, 49.4120162],
                [8.6999584, 49.4119545],
                [8.7001070, 49.4120233],
                [8.6998795, 49.4120423],
                [8.6997569, 49.4120321],
                [8.6994894, 49.4120152],
                [8.6993346, 49.4120449],
                [8.6992655, 49.4121569],
                [8.6992240, 49.4123077],
            ],
            "osm:way/14197792",
        ),
        (
            "heidelberg-ors.osm.pbf",
            &[
                [8.6694668, 49.4093450],
                [8.6698191, 49.4092528],
                [8.6696605, 49.4092174],
                [8.6693171, 49.4092564],
                [8.6688089, 49.4093315],
                [8.6682212, 49.4092709],
                [8.6681973, 49.4089230],
                [8.6682223, 49.4085409],
                [8.6677909, 49.4083116],
                [8.6672826, 49.4083593],
                [8.6668544, 49.4084182],
            ],
            "osm:way/318715747",
        ),
        (
            "paris_bss.osm.pbf",
            &[
                [2.3804906, 48.8691521],
                [2.3801743, 48.8694022],
                [2.3798699, 48.8696486],
                [2.3795772, 48.8698716],
                [2.3797857, 48.8699955],
            ],
            "osm:node/3396853740",
        ),
        (
            "bus.osm.pbf",
            &[
                [8.7104962, 49.4093922],
                [8.7107844, 49.4094617],
                [8.7109414, 49.4095181],
                [8.7111515, 49.4095975],
                [8.7113367, 49.4096568],
                [8.7115222, 49.4097325],
                [8.7114848, 49.4097172],
                [8.7116245, 49.4097666],
                [8.7118496, 49.4098031],
                [8.7120176, 49.4098409],
                [8.7122681, 49.4098794],
                [8.7125519, 49.4099228],
                [8.7124567, 49.4099082],
                [8.7127419, 49.4099537],
                [8.7129579, 49.4099751],
                [8.7129230, 49.4099716],
                [8.7131283, 49.4098861],
                [8.7129251, 49.4098051],
                [8.7126541, 49.4098055],
                [8.7127453, 49.4098053],
                [8.7123917, 49.4097342],
                [8.7122546, 49.4096894],
                [8.7120971, 49.4096093],
                [8.7119293, 49.4094906],
                [8.7118492, 49.4093949],
                [8.7118693, 49.4094189],
                [8.7117412, 49.4093668],
                [8.7116427, 49.4093484],
            ],
            "osm:way/133616229",
        ),
    ];
    let mut nets: std::collections::BTreeMap<&str, Option<RouteNetwork>> = Default::default();
    for (pbf, drawn, source) in cases {
        let Some(net) = nets.entry(pbf).or_insert_with(|| network(pbf)) else { continue };
        let m = net.match_route(drawn);
        assert!(meets_source(&m, source), "{pbf}: {source} not met: {:?} {:?}", m.ways, m.possible);
    }
}

#[test]
fn tunnel_without_clearance_and_bridge_without_rating_are_reported() {
    let net = helsinki();
    let g = Graph::new(&net);
    let tunnel = g
        .ways
        .iter()
        .find(|w| w.tunnel && !has_limit(w, &["maxheight"]) && length(&w.coords) >= 60.0)
        .expect("an unsigned tunnel in Helsinki");
    let m = net.match_route(&drivable(tunnel));
    let src = format!("osm:way/{}", tunnel.way_id);
    assert!(m.hits.iter().any(|h| h.kind == RestrictionKind::ClearanceUnknown && h.source == src), "{:?}", m.hits);
    let bridge = g.ways.iter().find(|w| w.bridge).expect("Pitkäsilta");
    let m = net.match_route(&perturb(&drivable(bridge), &mut Rng::new(7), 4.0, 1.0, 10.0));
    let src = format!("osm:way/{}", bridge.way_id);
    assert!(m.hits.iter().any(|h| h.kind == RestrictionKind::RatingUnknown && h.source == src), "{:?}", m.hits);
}

#[test]
fn index_agrees_with_brute_force() {
    let net = helsinki();
    let ways: Vec<WayView> = net.ways().collect();
    let info = net.info();
    let mut rng = Rng::new(42);
    for _ in 0..300 {
        let p = [rng.uniform(info.bbox[0], info.bbox[2]), rng.uniform(info.bbox[1], info.bbox[3])];
        let radius = rng.uniform(5.0, 60.0);
        let got = net.ways_near(p, radius);
        // Brute force: every segment of every way.
        let mut want: Vec<(i64, f64)> = Vec::new();
        for w in &ways {
            let d = to_line(p, &w.coords);
            match want.iter_mut().find(|(id, _)| *id == w.way_id) {
                Some(e) => e.1 = e.1.min(d),
                None => want.push((w.way_id, d)),
            }
        }
        for (id, d) in &want {
            let found = got.iter().find(|(g, _)| g == id);
            if *d < radius - 0.5 {
                let f = found.unwrap_or_else(|| panic!("way {id} at {d:.2} m missed within {radius:.1} m of {p:?}"));
                assert!((f.1 - d).abs() < 0.5, "way {id}: index {:.2} vs brute {d:.2}", f.1);
            } else if *d > radius + 0.5 {
                assert!(found.is_none(), "way {id} at {d:.2} m reported within {radius:.1} m");
            }
        }
    }
}
