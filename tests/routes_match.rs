//! Map matching on real roads of the shipped Helsinki network: routes built from known
//! way sequences, redrawn as another map would draw them (seeded), must match back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::type_complexity)]

mod routes_common;

use oscar::routes::{MatchProblemKind, RouteMatch, RouteNetwork};
use routes_common::{Graph, Rng, helsinki_dir, perturb};
use std::collections::HashMap;

fn helsinki() -> RouteNetwork {
    RouteNetwork::load(&helsinki_dir()).expect("shipped network")
}

/// The match has no problem and runs on way `way` alone.
fn assert_on_alone(m: &RouteMatch, way: i64) {
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert!(m.ways.iter().all(|w| w.way_id == way), "{:?}", m.ways);
}

/// The match of `drawn` has no problem and keeps off `way`, and the restriction from
/// `source` (on `way` or a node of it) is another reading.
fn assert_read_instead(net: &RouteNetwork, drawn: &[[f64; 2]], way: i64, source: &str) {
    let m = net.match_route(drawn);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert!(m.ways.iter().all(|w| w.way_id != way), "{:?}", m.ways);
    assert!(m.possible.iter().any(|p| p.hit.source == source), "{:?}", m.possible);
}

/// The match of `drawn` has no problem, runs on `way`, and meets the restriction from
/// `source` on its path.
fn assert_on_path(net: &RouteNetwork, drawn: &[[f64; 2]], way: i64, source: &str) {
    let m = net.match_route(drawn);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert!(m.ways.iter().any(|w| w.way_id == way), "{:?}", m.ways);
    assert_eq!(met(&m, source), Met::OnPath, "{:?} {:?}", m.hits, m.possible);
}

/// Where a match meets a restriction.
#[derive(Debug, PartialEq)]
enum Met {
    OnPath,
    Reading,
    No,
}

/// Where `m` meets the restriction from `source`: on its path, as another reading, or not.
fn met(m: &RouteMatch, source: &str) -> Met {
    if m.hits.iter().any(|h| h.source == source) {
        Met::OnPath
    } else if m.possible.iter().any(|p| p.hit.source == source) {
        Met::Reading
    } else {
        Met::No
    }
}

/// `drawn` matches without problem onto way `on`, and no other reading runs via way `via`.
fn assert_not_read_via(net: &RouteNetwork, drawn: &[[f64; 2]], on: i64, via: i64) {
    let m = net.match_route(drawn);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert!(m.ways.iter().any(|w| w.way_id == on), "{:?}", m.ways);
    assert!(m.possible.iter().all(|p| p.via_way_id != via), "{:?}", m.possible);
}

/// Share of length on the right ways: sum over ways of min(true, matched) metres,
/// divided by the larger of the two totals.
fn overlap(truth: &[(i64, f64)], m: &RouteMatch) -> f64 {
    let mut t: HashMap<i64, f64> = HashMap::new();
    for (id, len) in truth {
        *t.entry(*id).or_default() += len;
    }
    let mut g: HashMap<i64, f64> = HashMap::new();
    for w in &m.ways {
        *g.entry(w.way_id).or_default() += (w.to_km - w.from_km) * 1000.0;
    }
    let common: f64 = t.iter().map(|(id, len)| len.min(g.get(id).copied().unwrap_or(0.0))).sum();
    let (tt, gt): (f64, f64) = (t.values().sum(), g.values().sum());
    common / tt.max(gt)
}

/// The true ways longer than 40 m appear in the matched sequence, in order.
fn in_order(truth: &[(i64, f64)], m: &RouteMatch) -> bool {
    let matched: Vec<i64> = m.ways.iter().map(|w| w.way_id).collect();
    let mut i = 0;
    for (id, len) in truth {
        if *len < 40.0 {
            continue;
        }
        match matched[i..].iter().position(|x| x == id) {
            Some(p) => i += p,
            None => return false,
        }
    }
    true
}

#[test]
fn perturbed_routes_match_the_ways_they_were_built_from() {
    let net = helsinki();
    let graph = Graph::new(&net);
    let mut rng = Rng::new(20_261_120);
    let ok = |w: &oscar::routes::WayView| !w.tunnel && w.highway != "service" && w.tags.is_empty();
    let mut scores = Vec::new();
    let mut out_of_order = Vec::new();
    let mut below = 0;
    let mut runs = 0;
    while runs < 200 {
        let Some(walk) = graph.walk(&mut rng, 1500.0, &ok) else {
            continue;
        };
        let length: f64 = walk.ways.iter().map(|w| w.1).sum();
        if length < 400.0 {
            continue;
        }
        runs += 1;
        let offset_m = rng.uniform(2.0, 10.0);
        let step_m = rng.uniform(5.0, 20.0);
        let route = perturb(&walk.line, &mut rng, offset_m, 3.0, step_m);
        let m = net.match_route(&route);
        let o = overlap(&walk.ways, &m);
        scores.push(o);
        let detail = format!(
            "run {runs}: overlap {o:.3}, offset {offset_m:.1} m, step {step_m:.1} m\ntruth {:?}\nmatched {:?}\nproblems {:?}",
            walk.ways.iter().map(|w| (w.0, w.1.round())).collect::<Vec<_>>(),
            m.ways.iter().map(|w| (w.way_id, ((w.to_km - w.from_km) * 1000.0).round())).collect::<Vec<_>>(),
            m.problems
        );
        assert!(o >= 0.88, "{detail}");
        if o < 0.95 {
            below += 1;
        }
        if !in_order(&walk.ways, &m) {
            out_of_order.push(detail);
        }
        assert!(m.confidence >= 0.8, "run {runs}: confidence {} {:?}", m.confidence, m.problems);
        assert!(m.problems.is_empty(), "run {runs}: {:?}", m.problems);
        assert!((m.length_m - length).abs() < 0.1 * length + 30.0, "run {runs}: {} vs {length}", m.length_m);
    }
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    println!(
        "mean overlap {mean:.4} over {} routes; {} with a way of 40 m or more swapped",
        scores.len(),
        out_of_order.len()
    );
    for d in &out_of_order {
        println!("{d}");
    }
    // Known hard case: one-way forks whose branches run 10-17 m apart for ~50 m
    // (Erottajankatu primary vs primary_link) can be swapped; allow 2 % of runs.
    assert!(mean >= 0.98, "mean overlap {mean}");
    // A hairpin drawn 4-5 m off beside a parallel road may be matched onto it (0.898 in
    // one run); few runs go below 0.95 (7 of 200, 8 before the sampling kept turns).
    assert!(below <= 8, "{below} runs below 0.95 overlap");
    assert!(out_of_order.len() <= 4, "{}", out_of_order.join("\n\n"));
}

#[test]
fn bad_input_gives_problems_not_panics() {
    let net = helsinki();
    let m = net.match_route(&[]);
    assert_eq!(m.problems[0].kind, MatchProblemKind::InvalidGeometry);
    let m = net.match_route(&[[f64::NAN, 60.17], [24.94, 60.17]]);
    assert_eq!(m.problems[0].kind, MatchProblemKind::InvalidGeometry);
    // Far outside the extract (Tallinn).
    let m = net.match_route(&[[24.75, 59.43], [24.76, 59.44]]);
    assert_eq!(m.problems[0].kind, MatchProblemKind::OutsideCoverage);
    assert!(m.confidence == 0.0 && m.hits.is_empty());
}

/// A two-way way that closes on itself (a ring road round a yard: Baltimore's
/// `osm:way/5994984`, 324 m) is followed through the node that closes it: along the way the
/// two sides of that node are its whole length apart, on the road one step. The drawing is
/// the evaluation's redrawing of a walk round it, which once broke with "no connected road".
#[test]
fn a_ring_road_is_followed_through_the_node_that_closes_it() {
    let Some(net) = routes_common::network("baltimore.osm.pbf") else { return };
    let drawn: [[f64; 2]; 45] = [
        [-76.5454495, 39.2605839],
        [-76.5453621, 39.2605540],
        [-76.5453767, 39.2605590],
        [-76.5453115, 39.2605571],
        [-76.5452564, 39.2605628],
        [-76.5451881, 39.2606016],
        [-76.5451972, 39.2605964],
        [-76.5451328, 39.2606244],
        [-76.5451005, 39.2606685],
        [-76.5450548, 39.2606954],
        [-76.5450640, 39.2606899],
        [-76.5450070, 39.2607712],
        [-76.5450023, 39.2608185],
        [-76.5450183, 39.2608698],
        [-76.5450690, 39.2609248],
        [-76.5451468, 39.2609589],
        [-76.5451377, 39.2609549],
        [-76.5452145, 39.2610018],
        [-76.5452671, 39.2610426],
        [-76.5452516, 39.2610305],
        [-76.5453333, 39.2610611],
        [-76.5454170, 39.2611154],
        [-76.5454882, 39.2611423],
        [-76.5455627, 39.2611713],
        [-76.5456166, 39.2611984],
        [-76.5457163, 39.2612338],
        [-76.5457720, 39.2612594],
        [-76.5458317, 39.2612877],
        [-76.5458973, 39.2613121],
        [-76.5459462, 39.2613252],
        [-76.5460331, 39.2613532],
        [-76.5460907, 39.2613619],
        [-76.5461829, 39.2613667],
        [-76.5462380, 39.2613768],
        [-76.5463033, 39.2613770],
        [-76.5463889, 39.2613768],
        [-76.5463610, 39.2613768],
        [-76.5464089, 39.2613285],
        [-76.5464017, 39.2612540],
        [-76.5463751, 39.2612015],
        [-76.5463568, 39.2611720],
        [-76.5462837, 39.2611020],
        [-76.5462510, 39.2610642],
        [-76.5462545, 39.2610683],
        [-76.5462726, 39.2610353],
    ];
    let m = net.match_route(&drawn);
    assert!(m.problems.iter().all(|p| p.kind != MatchProblemKind::Gap), "{:?}", m.problems);
    assert!(m.ways.iter().all(|w| w.way_id == 5994984), "{:?}", m.ways);
    // The walk is 240 m; the long way round the ring would add most of its 324 m.
    assert!((200.0..280.0).contains(&m.length_m), "{} m", m.length_m);
}

/// A drawing that turns off a street into a driveway whose road distance from the last
/// sample on the street is just beyond the tight detour bound (Heidelberg's Akademiestraße,
/// then Plöck, then the gated driveway `osm:way/35988871`; the evaluation's redrawing).
/// The street 27 m off the drawing was reachable within the bound; the driveway 4 m off it
/// won only once searched further. It was matched as a U-turn in the street, `unverified`,
/// and never met the gate.
#[test]
fn a_driveway_just_beyond_the_tight_bound_is_followed() {
    let Some(net) = routes_common::network("bus.osm.pbf") else { return };
    let drawn: [[f64; 2]; 8] = [
        [8.6975850, 49.4104783],
        [8.6977300, 49.4101295],
        [8.6978144, 49.4098760],
        [8.6979571, 49.4095220],
        [8.6980410, 49.4092148],
        [8.6983238, 49.4091383],
        [8.6983689, 49.4094842],
        [8.6983667, 49.4095769],
    ];
    let m = net.match_route(&drawn);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    let ways: Vec<i64> = m.ways.iter().map(|w| w.way_id).collect();
    assert_eq!(ways, [14193661, 83188868, 35988871]);
    assert!(m.hits.iter().any(|h| h.raw == "lift_gate"), "{:?}", m.hits);
}

/// The last 80 m of the evaluation's Monaco route 352 (seed 4) along a straight street
/// (`osm:way/176321052`), drawn a few metres off it: the drawing's offset is known only
/// across the street, so the route ends somewhere along the street from where the drawing
/// does moved back by it, not at the covered way `osm:way/166856549` 8 m across from there,
/// which lay within the uncertainty of the end as drawn and was read (before).
#[test]
fn a_structure_across_the_road_from_the_end_moved_back_by_the_offset_is_not_read() {
    let Some(net) = routes_common::network("monaco.osm.pbf") else { return };
    let drawn = [
        [7.4250641, 43.7437447],
        [7.4251085, 43.7437638],
        [7.4251258, 43.7437865],
        [7.4251834, 43.7437937],
        [7.4252092, 43.7438098],
        [7.4252484, 43.7438254],
        [7.4252800, 43.7438384],
        [7.4253055, 43.7438469],
        [7.4253489, 43.7438560],
        [7.4253812, 43.7438795],
        [7.4254186, 43.7438767],
        [7.4254443, 43.7438830],
        [7.4254868, 43.7439005],
        [7.4255298, 43.7439203],
        [7.4255648, 43.7439220],
        [7.4255849, 43.7439254],
        [7.4256181, 43.7439361],
        [7.4256667, 43.7439604],
        [7.4256974, 43.7439818],
        [7.4257376, 43.7439833],
        [7.4257809, 43.7440114],
        [7.4258338, 43.7440165],
        [7.4258708, 43.7440431],
        [7.4258930, 43.7440590],
        [7.4259262, 43.7440617],
        [7.4259373, 43.7440791],
    ];
    assert_not_read_via(&net, &drawn, 176321052, 166856549);
}

/// The first 140 m of the evaluation's Baltimore route 207 (seed 3): from a junction south
/// along a primary street. Where the drawing's start moved back by its offset lies, the
/// primary road east (`osm:way/188567738`) starts too; a reading that started there, ran
/// 100 m east under a bridge (`osm:way/49650196`) and came back the same way to the
/// junction explained the start as well as the match and was read (before). A reading
/// that has passed the piece's far node before it enters it turns back on itself: not one.
#[test]
fn a_reading_that_turns_back_on_itself_to_the_path_is_not_read() {
    let Some(net) = routes_common::network("baltimore.osm.pbf") else { return };
    let drawn = [
        [-76.5631168, 39.2970812],
        [-76.5631104, 39.2968529],
        [-76.5630953, 39.2966657],
        [-76.5630771, 39.2964579],
        [-76.5630805, 39.2962446],
        [-76.5630471, 39.2959994],
        [-76.5632515, 39.2958255],
    ];
    assert_not_read_via(&net, &drawn, 6007962, 188567738);
}

/// The last 280 m of the evaluation's Monaco route 35 (seed 14), which ends on the slip
/// road `osm:way/4229327` past the footbridge above it (`osm:way/157447735`), while the
/// match ends on the parallel road 8 m south. The drawing's end moved back by its offset
/// lies on the slip road 5 m short of the footbridge: a route that ends there may pass what
/// lies within the end's noise beyond it, as at the matched path's own end.
#[test]
fn a_reading_that_ends_on_a_piece_passes_what_lies_just_beyond_the_end_moved_back() {
    let Some(net) = routes_common::network("monaco.osm.pbf") else { return };
    let drawn = [
        [7.4194098, 43.7380780],
        [7.4193766, 43.7381072],
        [7.4193611, 43.7381336],
        [7.4193177, 43.7381700],
        [7.4192712, 43.7381966],
        [7.4192378, 43.7382113],
        [7.4192241, 43.7382570],
        [7.4191910, 43.7383002],
        [7.4191745, 43.7383430],
        [7.4191497, 43.7383794],
        [7.4191687, 43.7384219],
        [7.4191889, 43.7384610],
        [7.4192278, 43.7384910],
        [7.4192601, 43.7385062],
        [7.4192895, 43.7385531],
        [7.4193404, 43.7385834],
        [7.4193858, 43.7386291],
        [7.4194209, 43.7386522],
        [7.4194579, 43.7386881],
        [7.4195204, 43.7387185],
        [7.4195540, 43.7387413],
        [7.4195984, 43.7387499],
        [7.4196471, 43.7387550],
        [7.4195969, 43.7387579],
        [7.4195359, 43.7387559],
        [7.4194717, 43.7387488],
        [7.4194359, 43.7387498],
        [7.4193705, 43.7387276],
        [7.4193079, 43.7387060],
        [7.4192788, 43.7386857],
        [7.4192648, 43.7386470],
        [7.4192372, 43.7386363],
        [7.4192097, 43.7386021],
        [7.4191926, 43.7385923],
        [7.4191491, 43.7385702],
        [7.4191158, 43.7385384],
        [7.4190968, 43.7384951],
        [7.4190710, 43.7384730],
        [7.4190549, 43.7384430],
        [7.4190325, 43.7384057],
        [7.4189886, 43.7383616],
        [7.4189744, 43.7383215],
        [7.4189614, 43.7382968],
        [7.4189503, 43.7382461],
        [7.4189322, 43.7381997],
        [7.4189466, 43.7381653],
        [7.4189475, 43.7381427],
        [7.4189749, 43.7380833],
        [7.4189946, 43.7380518],
        [7.4190057, 43.7380119],
        [7.4190183, 43.7379669],
        [7.4190195, 43.7379480],
        [7.4190347, 43.7379291],
        [7.4190874, 43.7378855],
        [7.4191118, 43.7378563],
        [7.4191450, 43.7378175],
        [7.4191723, 43.7378038],
        [7.4192384, 43.7377687],
        [7.4192731, 43.7377540],
        [7.4193398, 43.7377378],
        [7.4193862, 43.7377250],
        [7.4194355, 43.7376983],
        [7.4194908, 43.7376792],
        [7.4195317, 43.7376925],
    ];
    assert_read_instead(&net, &drawn, 4229327, "osm:way/157447735");
}

/// A drawing down one leg of a hairpin of Monaco's Route Militaire (`osm:way/167587651`,
/// one way folded many times) and round the bend onto the next leg (the evaluation's
/// redrawing) follows the bend: each pass of the way near a sample is a candidate, where
/// only the nearest segment of the way was, which put the samples on the second leg back
/// onto the first, as a U-turn.
#[test]
fn a_hairpin_of_one_way_is_followed_round_its_bend() {
    let Some(net) = routes_common::network("monaco.osm.pbf") else { return };
    let drawn: [[f64; 2]; 40] = [
        [7.4164628, 43.7666619],
        [7.4165453, 43.7666202],
        [7.4165847, 43.7665920],
        [7.4166324, 43.7665372],
        [7.4166837, 43.7665059],
        [7.4167328, 43.7664559],
        [7.4167735, 43.7664203],
        [7.4168254, 43.7663939],
        [7.4168515, 43.7663561],
        [7.4169165, 43.7663070],
        [7.4169498, 43.7662688],
        [7.4169972, 43.7662155],
        [7.4170340, 43.7661976],
        [7.4170851, 43.7661426],
        [7.4171099, 43.7660889],
        [7.4171464, 43.7660346],
        [7.4172051, 43.7659789],
        [7.4172273, 43.7659341],
        [7.4172542, 43.7658883],
        [7.4172798, 43.7658339],
        [7.4173519, 43.7657775],
        [7.4173901, 43.7657420],
        [7.4174474, 43.7657204],
        [7.4175026, 43.7657345],
        [7.4175327, 43.7657685],
        [7.4175513, 43.7658022],
        [7.4175317, 43.7658380],
        [7.4175102, 43.7658610],
        [7.4174762, 43.7658878],
        [7.4173885, 43.7659325],
        [7.4173452, 43.7659611],
        [7.4173059, 43.7659866],
        [7.4172667, 43.7660507],
        [7.4172410, 43.7661018],
        [7.4171816, 43.7661641],
        [7.4171612, 43.7662161],
        [7.4171203, 43.7662988],
        [7.4171012, 43.7663299],
        [7.4170675, 43.7663860],
        [7.4170839, 43.7664070],
    ];
    let m = net.match_route(&drawn);
    assert_on_alone(&m, 167587651);
    // Down to the bend and up the next leg is 227 m; turning on the first leg was 179 m.
    assert!((205.0..260.0).contains(&m.length_m), "{} m", m.length_m);
}

/// A drawing every 20-30 m up one of Monaco's switchbacks (`osm:way/194837514`) round a
/// hairpin whose legs lie 15 m apart 40 m along the way: the vertex before the bend lies
/// 8 m from its leg and 7 m from the leg after it. Only the way's nearest segment was a
/// candidate, so the match put it on the leg after, came back, and reported a U-turn no
/// long vehicle can make (every route item `unverified`). Both legs are candidates now.
#[test]
fn a_hairpin_whose_legs_lie_close_is_followed_round_its_bend() {
    let Some(net) = routes_common::network("monaco.osm.pbf") else { return };
    let drawn = [
        [7.3976198, 43.7673856],
        [7.3977729, 43.7672949],
        [7.3980043, 43.7671022],
        [7.3982731, 43.7668847],
        [7.3983386, 43.7666820],
        [7.3983443, 43.7664728],
        [7.3985000, 43.7662121],
        [7.3983050, 43.7662011],
        [7.3980583, 43.7661558],
        [7.3981758, 43.7659225],
        [7.3984124, 43.7659119],
        [7.3987102, 43.7660043],
        [7.3989273, 43.7659724],
        [7.3987045, 43.7658305],
    ];
    let m = net.match_route(&drawn);
    assert_on_alone(&m, 194837514);
    // The drawing is 305 m long, the way travelled about 330 m.
    assert!((300.0..350.0).contains(&m.length_m), "{} m", m.length_m);
}

/// A drawing that starts on a Baltimore service road's last metres past a bollard
/// (`osm:way/198501568`, bollard `osm:node/2086293859`, the evaluation's route 326): the
/// reading that starts where the drawing does, on the segment beyond the bollard, does
/// not pass it, so the bollard is no possible hit (before, every restriction on the
/// segment's nodes was). Drawn from the far side of the bollard, the route meets it.
#[test]
fn a_reading_that_starts_past_a_bollard_does_not_meet_it() {
    let Some(net) = routes_common::network("baltimore.osm.pbf") else { return };
    let mut drawn = vec![
        [-76.5493766, 39.2793904],
        [-76.5496356, 39.2790690],
        [-76.5499036, 39.2787557],
        [-76.5502142, 39.2783829],
        [-76.5502132, 39.2781743],
        [-76.5501685, 39.2778791],
        [-76.5502750, 39.2776037],
        [-76.5504614, 39.2774625],
        [-76.5505760, 39.2770857],
    ];
    let bollard = |m: &oscar::routes::RouteMatch| {
        m.hits.iter().chain(m.possible.iter().map(|p| &p.hit)).any(|h| h.raw == "bollard")
    };
    let m = net.match_route(&drawn);
    assert!(!bollard(&m), "{:?}", m.possible);
    drawn.insert(0, [-76.5489300, 39.2791700]);
    assert!(bollard(&net.match_route(&drawn)));
}

/// A drawing of a few points that starts on the last metres of a private driveway in
/// Heidelberg (`osm:way/123531485`, off Am Mühlwald; the evaluation's route 472) and cuts
/// across to the street: the drawing's offset, told by the street beyond, moves its start
/// onto the driveway, so the driveway is a possible start (before, the route passed).
/// Started on the street 10 m on, the drawing does not touch the driveway.
#[test]
fn a_start_on_a_driveway_is_told_by_the_drawings_offset() {
    let Some(net) = routes_common::network("heidelberg-ors.osm.pbf") else { return };
    let mut drawn = vec![
        [8.8265543, 49.3950054],
        [8.8268022, 49.3950397],
        [8.8270911, 49.3949484],
        [8.8275906, 49.3947647],
        [8.8281187, 49.3945721],
        [8.8285219, 49.3943020],
        [8.8286106, 49.3942185],
    ];
    let driveway = |m: &oscar::routes::RouteMatch| m.possible.iter().any(|p| p.via_way_id == 123531485);
    let m = net.match_route(&drawn);
    assert!(m.ways.iter().all(|w| w.way_id != 123531485), "{:?}", m.ways);
    assert!(driveway(&m), "{:?}", m.possible);
    drawn[0] = [8.8266900, 49.3950504];
    let m = net.match_route(&drawn);
    assert!(!driveway(&m), "{:?}", m.possible);
}

/// A drawing that ends where its route turns 5 m into a parking aisle off Neue
/// Schlossstraße in Heidelberg (`osm:way/162549213`, `maxheight=1.80`; the evaluation's
/// bus route 466), its end drawn 8 m back along the street: the street is straight, so only
/// the drawing's offset across it is known, and moved back by that the drawn end lies 5 m
/// off the street beside the aisle, which runs there from the street: the aisle is a
/// possible end (before, the route passed). Ended on the street, it is not.
#[test]
fn an_end_off_a_straight_street_is_read_on_the_aisle_beside_it() {
    let Some(net) = routes_common::network("bus.osm.pbf") else { return };
    let mut drawn = vec![
        [8.7099194, 49.4099381],
        [8.7100960, 49.4100081],
        [8.7102823, 49.4101038],
        [8.7104825, 49.4102149],
        [8.7106080, 49.4102919],
        [8.7107542, 49.4103849],
        [8.7108833, 49.4104723],
        [8.7110773, 49.4105712],
        [8.7112424, 49.4106348],
        [8.7114865, 49.4106184],
        [8.7116798, 49.4106961],
        [8.7118618, 49.4107710],
        [8.7120966, 49.4108839],
        [8.7120942, 49.4109232],
    ];
    let aisle = |m: &oscar::routes::RouteMatch| m.possible.iter().any(|p| p.via_way_id == 162549213);
    let m = net.match_route(&drawn);
    assert!(m.ways.iter().all(|w| w.way_id != 162549213), "{:?}", m.ways);
    assert!(aisle(&m), "{:?}", m.possible);
    let last = drawn.len() - 1;
    drawn[last] = [8.7121322, 49.4108868];
    let m = net.match_route(&drawn);
    assert!(!aisle(&m), "{:?}", m.possible);
}

/// A drawing that starts between the entry and the exit of a 38 m one-way loop into a
/// car park's entrance in Helsinki (`osm:way/27572905`, `tunnel=yes` of unknown clearance;
/// the evaluation's route 59), with no vertex on the loop, and goes south along the street
/// the loop leaves onto (and back past the start 80 m later). Moved back by the drawing's
/// offset, the start lies about as near the loop as the street: the loop is a possible start
/// (before, the fit ran to where the drawing passes the loop's exit again, 85 m on, and the
/// route passed). Started 8 m down the street, it is not. Drawn twice as densely as the
/// evaluation drew it: with its 28-39 m steps the loop may also lie between two vertices
/// (see `a_loop_two_vertices_at_its_mouth_hide_is_read`), which is not what this tells.
#[test]
fn a_start_as_near_a_car_park_loop_as_the_street_may_be_on_it() {
    let net = helsinki();
    let mut drawn = vec![
        [24.9395958, 60.1709313],
        [24.9395529, 60.1709174],
        [24.9397268, 60.1706119],
        [24.9398456, 60.1708594],
        [24.9396885, 60.1709804],
        [24.9392769, 60.1709884],
        [24.9387266, 60.1709628],
        [24.9380214, 60.1709116],
        [24.9376065, 60.1708893],
        [24.9373932, 60.1711370],
        [24.9373453, 60.1713921],
        [24.9372832, 60.1715856],
        [24.9372487, 60.1717609],
        [24.9371971, 60.1719384],
        [24.9376101, 60.1720134],
        [24.9380477, 60.1719174],
        [24.9380930, 60.1717583],
        [24.9380770, 60.1717534],
    ];
    let loop_way = |m: &RouteMatch| m.possible.iter().any(|p| p.via_way_id == 27572905);
    let m = net.match_route(&densified(&drawn));
    assert!(m.ways.iter().all(|w| w.way_id != 27572905), "{:?}", m.ways);
    assert!(loop_way(&m), "{:?}", m.possible);
    drawn.remove(1);
    drawn[0] = [24.9396020, 60.1708593];
    let m = net.match_route(&densified(&drawn));
    assert!(!loop_way(&m), "{:?}", m.possible);
}

/// The last 30 vertices of a drawing in Heidelberg that runs about 9 m west of its roads
/// (the evaluation's route 140 of seed 250): it goes to the end of a street, then east and
/// north along a service road to a gate (`osm:node/2549915967`) and the private way past it
/// (`osm:way/248141669`), which run 9 m east of the street and parallel to it: moved west by
/// the offset, the service road lies on the street, and the match ends on the street where
/// the drawing does. The reading along the service road strays 10 m from the drawing, where
/// the matched path strays 1 m, and the limit was that plus 8 m (the route passed): the
/// drawing lies that far from the roads it follows, so the limit is measured from its
/// offset, and the gate is a possible reading. Ended where it turns north, it is not.
#[test]
fn a_reading_may_stray_from_the_drawing_by_the_drawings_offset() {
    let Some(net) = routes_common::network("heidelberg-ors.osm.pbf") else { return };
    let mut drawn = vec![
        [8.7987735, 49.3840264],
        [8.7987435, 49.3839814],
        [8.7987281, 49.3839594],
        [8.7987337, 49.3839170],
        [8.7987097, 49.3838881],
        [8.7987129, 49.3838317],
        [8.7986741, 49.3837919],
        [8.7986658, 49.3837721],
        [8.7986669, 49.3837338],
        [8.7986520, 49.3837054],
        [8.7986461, 49.3836661],
        [8.7986568, 49.3836303],
        [8.7986403, 49.3835652],
        [8.7986436, 49.3835421],
        [8.7986549, 49.3835060],
        [8.7986469, 49.3834564],
        [8.7986342, 49.3834297],
        [8.7986421, 49.3834035],
        [8.7986353, 49.3833608],
        [8.7986388, 49.3833289],
        [8.7986288, 49.3833028],
        [8.7986623, 49.3832725],
        [8.7987308, 49.3832784],
        [8.7987770, 49.3832829],
        [8.7987617, 49.3833304],
        [8.7987491, 49.3833697],
        [8.7987419, 49.3834215],
        [8.7987462, 49.3834744],
        [8.7987434, 49.3835209],
        [8.7987932, 49.3835571],
    ];
    let gate = |m: &RouteMatch| m.possible.iter().any(|p| p.hit.source == "osm:node/2549915967");
    let m = net.match_route(&drawn);
    assert!(m.ways.iter().all(|w| w.way_id != 248141669), "{:?}", m.ways);
    assert!(gate(&m), "{:?}", m.possible);
    drawn.truncate(drawn.len() - 9);
    let m = net.match_route(&drawn);
    assert!(!gate(&m), "{:?}", m.possible);
}

/// The first 40 vertices of a drawing in Helsinki whose route starts on the service road
/// `osm:way/30259740` (`vehicle=no`) where it merges into the street the match starts on,
/// 9 m north of it (the evaluation's route 469 of seed 245): the drawn start lies on the
/// street, 8 m from the service road, beyond the start's radius, and the service road has no
/// way back to the matched path before it; moved back by the drawing's offset (measured
/// where the route turns north) the start lies on the service road. The search for readings
/// stopped before the offset was asked (the route passed). Started 30 m on, past the merge,
/// the service road is not read.
#[test]
fn a_start_the_offset_moves_onto_a_merging_road_is_read_there() {
    let net = helsinki();
    let drawn = vec![
        [24.9439246, 60.1703618],
        [24.9440418, 60.1703321],
        [24.9441022, 60.1703198],
        [24.9441950, 60.1703302],
        [24.9443025, 60.1703272],
        [24.9443766, 60.1703362],
        [24.9444730, 60.1703559],
        [24.9445402, 60.1703763],
        [24.9446108, 60.1703899],
        [24.9447275, 60.1704284],
        [24.9446821, 60.1704134],
        [24.9448195, 60.1704525],
        [24.9449244, 60.1704864],
        [24.9450094, 60.1705120],
        [24.9449795, 60.1705030],
        [24.9450732, 60.1705343],
        [24.9451358, 60.1705718],
        [24.9451482, 60.1706334],
        [24.9451279, 60.1706799],
        [24.9451546, 60.1707041],
        [24.9451385, 60.1707510],
        [24.9451429, 60.1707854],
        [24.9451186, 60.1708356],
        [24.9451080, 60.1709078],
        [24.9451234, 60.1709492],
        [24.9451181, 60.1709974],
        [24.9451051, 60.1710582],
        [24.9450829, 60.1710869],
        [24.9451108, 60.1711416],
        [24.9450862, 60.1711766],
        [24.9450913, 60.1712262],
        [24.9450697, 60.1712656],
        [24.9450761, 60.1713304],
        [24.9450596, 60.1713541],
        [24.9450638, 60.1713481],
        [24.9450644, 60.1714049],
        [24.9450802, 60.1714568],
        [24.9450649, 60.1715070],
        [24.9450505, 60.1715426],
        [24.9450359, 60.1716056],
    ];
    let merge = |m: &RouteMatch| m.possible.iter().any(|p| p.via_way_id == 30259740);
    let m = net.match_route(&drawn);
    assert!(m.ways.iter().all(|w| w.way_id != 30259740), "{:?}", m.ways);
    assert!(merge(&m), "{:?}", m.possible);
    let m = net.match_route(&drawn[6..]);
    assert!(!merge(&m), "{:?}", m.possible);
}

/// A drawing every 30-40 m down Monaco's tunnel street (`osm:way/120062663`) to the
/// roundabout under it, round that and up the 6 m private spur (`osm:way/201009267`,
/// `access=private`) to its dead end. Its last step cuts the roundabout, and no reading
/// round it is short enough; the spur's far node is 4.5 m from the drawn end, but its
/// near one is not within the end's radius, so it was not a short way lying at the end and
/// the route passed. A route that ends on a spur may end anywhere along it: a spur whose
/// dead end lies within the end's radius is read. Ended a step earlier, it is not.
#[test]
fn a_spur_whose_dead_end_lies_at_the_drawn_end_is_read() {
    let Some(net) = routes_common::network("monaco.osm.pbf") else { return };
    let drawn = [
        [7.4203275, 43.7371904],
        [7.4200390, 43.7368369],
        [7.4198312, 43.7366763],
        [7.4194639, 43.7363390],
        [7.4190130, 43.7360196],
        [7.4186554, 43.7357929],
        [7.4182661, 43.7355563],
        [7.4181558, 43.7351791],
        [7.4181244, 43.7349052],
        [7.4181264, 43.7346837],
        [7.4180655, 43.7344553],
        [7.4181543, 43.7344886],
    ];
    assert_read_instead(&net, &drawn, 201009267, "osm:way/201009267");
    assert_not_read_via(&net, &drawn[..11], 120062663, 201009267);
}

/// A drawing of nine points in Monaco that starts round a small one-way service loop (its
/// first side under a roof, `osm:way/251469193`, `covered=yes`) and then goes north-west.
/// The loop's four points lie within 30 m of the start, so the sampling thins them away
/// and the match starts where the drawing first comes near the street, 16 m from the drawn
/// start: the roofed side, 4 m from the drawing, was read by no rule (a spur off the path
/// needs the drawing to come back to the path on both sides) and the route passed. The
/// drawing's unexplained start was then read as another reading; now the sampling keeps
/// the loop's far corner (it stands more than 12 m off the line to the next sample), and
/// the match goes round the roofed side itself. Drawn from where it nears the street, the
/// loop is no reading.
#[test]
fn a_loop_the_drawing_starts_round_before_it_nears_the_match_is_read() {
    let Some(net) = routes_common::network("monaco.osm.pbf") else { return };
    let drawn = [
        [7.3914116, 43.7450840],
        [7.3916411, 43.7452217],
        [7.3916549, 43.7450370],
        [7.3913926, 43.7449303],
        [7.3912049, 43.7450830],
        [7.3909939, 43.7454022],
        [7.3910095, 43.7458178],
        [7.3909501, 43.7456428],
        [7.3909909, 43.7456593],
    ];
    assert_on_path(&net, &drawn, 251469193, "osm:way/251469193");
    assert_not_read_via(&net, &drawn[4..], 201154197, 251469193);
}

/// A drawing of ten points on the bus extract that starts beside a service loop under a
/// street (`osm:way/14197792`, `tunnel=yes`, about 20 m across, joined to the street 23 m
/// east of where the match starts) and goes west. The route starts on the loop, goes round
/// it and onto the street; the drawing's steps (12-36 m) show nothing of it. The loop was
/// read only if it lay wholly within the start's radius or had a dead end there, and the
/// route passed. A node of it lies 5 m from the drawn start, within the start's radius:
/// the route may start there. Drawn from the third point, west of the loop, it is not read.
#[test]
fn a_covered_loop_a_node_of_which_lies_at_the_drawn_start_is_read() {
    let Some(net) = routes_common::network("bus.osm.pbf") else { return };
    let drawn = [
        [8.6998232, 49.4119553],
        [8.6998777, 49.4120513],
        [8.6993784, 49.4120140],
        [8.6992218, 49.4122205],
        [8.6993412, 49.4123892],
        [8.6988790, 49.4123840],
        [8.6985434, 49.4123177],
        [8.6982518, 49.4122444],
        [8.6988231, 49.4122859],
        [8.6990410, 49.4123328],
    ];
    assert_read_instead(&net, &drawn, 14197792, "osm:way/14197792");
    assert_not_read_via(&net, &drawn[2..], 38098360, 14197792);
}

/// A drawing of thirteen points in Monaco, 20-40 m apart, north up a one-way street and on
/// north. The route leaves the street 4 m before a junction round a service loop with a
/// lift gate (`osm:way/161748261`, the gate `osm:node/1737114782`), 14 m out and back onto
/// the cross street 17 m on: 46 m of road for the 21 m the match takes, between two of the
/// drawing's points. A longer reading was allowed what one bend off a step adds (for a
/// stray of 10 m over a 21 m step, 8 m) and the loop passed; out and back it adds twice
/// its stray. A road beside the path (a one-way service road 8 m beside a Paris street,
/// `osm:way/555199446`, `access=no`, about as long as the street it runs along) is no loop
/// and is still not read.
#[test]
fn a_loop_between_two_points_of_the_drawing_is_read_and_a_road_beside_it_is_not() {
    if let Some(net) = routes_common::network("monaco.osm.pbf") {
        let drawn = [
            [7.4294214, 43.7394626],
            [7.4293618, 43.7397398],
            [7.4293483, 43.7400590],
            [7.4290901, 43.7403479],
            [7.4287090, 43.7404659],
            [7.4282667, 43.7404328],
            [7.4283447, 43.7407207],
            [7.4287052, 43.7410674],
            [7.4289155, 43.7413260],
            [7.4289971, 43.7415232],
            [7.4289820, 43.7416984],
            [7.4290019, 43.7421201],
            [7.4289792, 43.7421932],
        ];
        assert_read_instead(&net, &drawn, 161748261, "osm:node/1737114782");
    }
    let Some(net) = routes_common::network("paris_bss.osm.pbf") else { return };
    let drawn = [
        [2.3529445, 48.8604554],
        [2.3528880, 48.8602029],
        [2.3526739, 48.8598141],
        [2.3525247, 48.8595216],
        [2.3523666, 48.8592477],
        [2.3521594, 48.8588773],
        [2.3520093, 48.8585914],
        [2.3517727, 48.8581431],
        [2.3515612, 48.8577651],
        [2.3515055, 48.8576272],
    ];
    assert_not_read_via(&net, &drawn, 20859602, 555199446);
}

/// The evaluation's Helsinki route 245 (seed 481): it starts in the service tunnel
/// `osm:way/34573416` (`maxheight=2.5`, `maxweight=12`, `access=destination`) and ends in
/// `osm:way/29050024` below it, 170 m all under streets; the match takes the streets above,
/// 5-10 m away, and joins the tunnels nowhere. The reading from the drawn start to the
/// drawn end along the tunnels was judged by where the drawing starts moved back by its
/// offset from the streets, which put the route's start on a street, and the route passed.
#[test]
fn a_reading_of_the_whole_route_is_not_judged_by_the_offset_from_the_path_it_replaces() {
    let net = helsinki();
    let drawn = [
        [24.9393603, 60.1676666],
        [24.9394793, 60.1675124],
        [24.9396779, 60.1673338],
        [24.9398230, 60.1672206],
        [24.9400091, 60.1671015],
        [24.9400489, 60.1669084],
        [24.9397497, 60.1667989],
        [24.9395304, 60.1667311],
        [24.9392885, 60.1666319],
        [24.9390074, 60.1665514],
        [24.9388983, 60.1665037],
    ];
    assert_read_instead(&net, &drawn, 34573416, "osm:way/34573416");
}

/// The evaluation's Helsinki route 122 (seed 489): south along a street, then along the
/// service lane 12 m west of it (`osm:way/232041537` and `27327906`, `maxheight=2.2`,
/// `maxweight=4.5`), whose line runs 13 m out to its `maxheight` node
/// (`osm:node/1380961129`) and back; the match keeps to the street. The fold made the lane's
/// reading 25 m longer than the drawing, past what a cut reading may be, and the route
/// passed; no route drives a line drawn out to a sign's node and back, so the fold's length
/// is not counted.
#[test]
fn a_way_line_folded_out_to_a_restricted_node_does_not_lengthen_its_reading() {
    let net = helsinki();
    let drawn = [
        [24.9494839, 60.1667173],
        [24.9496549, 60.1665824],
        [24.9496726, 60.1662014],
        [24.9497263, 60.1658688],
        [24.9495359, 60.1655375],
        [24.9495588, 60.1653097],
        [24.9495659, 60.1651418],
        [24.9498367, 60.1647744],
        [24.9495091, 60.1645452],
        [24.9491106, 60.1645185],
        [24.9487179, 60.1645111],
    ];
    assert_read_instead(&net, &drawn, 27327906, "osm:node/1380961129");
}

/// The evaluation's Helsinki route 277 (seed 813): it starts on the same service lane, 12 m
/// west of the street, and the drawing runs between the two. The lane's reading was as long
/// as the drawing, but its fold out to `osm:node/1380961129` lies 18 m from the drawing, past
/// how far a reading may stray there (17 m), and R2 and R3 passed. No drawing shows the fold:
/// it is not weighed for the stray, and the lane is read.
#[test]
fn a_way_line_folded_out_to_a_restricted_node_is_not_weighed_for_the_stray() {
    let drawn = [
        [24.9495680, 60.1654282],
        [24.9495823, 60.1651919],
        [24.9496120, 60.1651371],
        [24.9496669, 60.1649243],
        [24.9498718, 60.1646830],
        [24.9494173, 60.1644802],
        [24.9493944, 60.1643086],
        [24.9493716, 60.1641488],
    ];
    assert_read_instead(&helsinki(), &drawn, 27327906, "osm:way/27327906");
}

/// The evaluation's Helsinki route 416 (seed 776): south along the street beside that
/// lane, drawn 6-7 m west of the street, towards the lane. The lane's reading is 19 m
/// longer than the street there, more than a reading may be; but a longer reading may go
/// round the corner of a long step of the drawing as deep as it strays, and the fold strays
/// far: with that room it was read, and R2 and R3 went unverified. Not weighed, the fold
/// makes no room: the reading is judged by its fit, and the drawing moved back by its
/// offset runs nearer the street.
#[test]
fn a_way_line_folded_out_to_a_restricted_node_makes_no_room_for_a_longer_reading() {
    let drawn = [
        [24.9494391, 60.1666533],
        [24.9494751, 60.1664087],
        [24.9495318, 60.1660566],
        [24.9495404, 60.1658259],
        [24.9495931, 60.1654502],
        [24.9495916, 60.1651732],
        [24.9496514, 60.1648686],
        [24.9496495, 60.1646644],
        [24.9496855, 60.1644667],
        [24.9497539, 60.1641438],
    ];
    let net = helsinki();
    assert_not_read_via(&net, &drawn, 60753079, 232041537);
    assert_not_read_via(&net, &drawn, 60753079, 27327906);
}

/// The evaluation's Paris route 487 (seed 770): south-west along the one-way secondary
/// `osm:way/20859602`, drawn 5 m east of it; the service road `osm:way/555199446` (one way,
/// `access=no`) runs about 6 m west of it. Along a straight road only the drawing's offset
/// across it is known, so the service road's reading was not judged by its fit, and R4
/// went unverified. Moved back by that offset, and by any offset along the road the fit
/// accepts, the drawing runs nearer the secondary road: the service road is not read.
#[test]
fn a_road_beside_a_straight_road_that_fits_worse_at_every_offset_along_it_is_not_read() {
    let Some(net) = routes_common::network("paris_bss.osm.pbf") else { return };
    let drawn = [
        [2.3527182, 48.8593027],
        [2.3524297, 48.8589420],
        [2.3521706, 48.8585973],
        [2.3520495, 48.8583897],
        [2.3519105, 48.8581215],
        [2.3518018, 48.8579290],
        [2.3516301, 48.8576381],
        [2.3515967, 48.8575355],
    ];
    assert_not_read_via(&net, &drawn, 20859602, 555199446);
}

/// A drawing every 20-45 m north-east along Helsinki's service tunnels and back: the
/// route starts on `osm:way/34573416` (`maxweight=12`, `maxheight=2.5`), turns back at its
/// end and returns on the tunnel beside it; the match takes the one-way pair 7 m away. The
/// drawing turns 21 m short of the route's turn, and a reading was not measured beyond
/// 20 m of the drawing, so it strayed too far whatever its limit (half the 48 m step
/// there). Measured as far as the limit, it is read.
#[test]
fn a_reading_that_turns_beyond_the_uncertainty_is_measured_to_its_stray_limit() {
    let net = helsinki();
    let drawn = [
        [24.9394870, 60.1677687],
        [24.9399108, 60.1679584],
        [24.9402774, 60.1680980],
        [24.9405215, 60.1681668],
        [24.9397997, 60.1679210],
        [24.9391091, 60.1676654],
        [24.9386195, 60.1674965],
        [24.9380366, 60.1672990],
        [24.9376874, 60.1671840],
        [24.9370492, 60.1669667],
        [24.9364863, 60.1667807],
        [24.9359291, 60.1665912],
        [24.9355759, 60.1664627],
        [24.9353254, 60.1663677],
    ];
    let m = net.match_route(&drawn);
    assert!(m.ways.iter().all(|w| w.way_id != 34573416), "{:?}", m.ways);
    assert!(
        m.possible.iter().any(|p| p.via_way_id == 34573416 && p.hit.tag.as_str() == "maxweight"),
        "{:?}",
        m.possible
    );
    let m = net.match_route(&densified(&drawn));
    assert!(m.possible.iter().all(|p| p.via_way_id != 34573416), "{:?}", m.possible);
}

/// `drawn` with a vertex added halfway along each step.
fn densified(drawn: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let mut out: Vec<[f64; 2]> =
        drawn.windows(2).flat_map(|w| [w[0], [(w[0][0] + w[1][0]) / 2.0, (w[0][1] + w[1][1]) / 2.0]]).collect();
    out.extend(drawn.last());
    out
}

/// A drawing every 20-40 m past a small block in Heidelberg whose west side is a service
/// road closed by a chain and a bollard (`osm:way/222965356`, `osm:node/2319361871`,
/// 2319093199; the evaluation's bus route 37 of seed 288): the route goes up that side and
/// along the block's top, 41 m of road where the one-way east side the match takes is 29 m.
/// Two vertices lie near the block's corners, none on the west side, and its far corner
/// lies 15 m from the drawing, more than half the steps there (before, the route passed):
/// but the drawing's steps nearby are up to 32 m, and a step may stand for that much road,
/// so the side is a possible reading. Drawn twice as densely, no step hides it.
#[test]
fn a_loop_two_vertices_at_its_mouth_hide_is_read() {
    let Some(net) = routes_common::network("bus.osm.pbf") else { return };
    let drawn = vec![
        [8.6958924, 49.4069552],
        [8.6962364, 49.4070601],
        [8.6964340, 49.4071179],
        [8.6967317, 49.4071881],
        [8.6969483, 49.4072539],
        [8.6972086, 49.4073165],
        [8.6974978, 49.4074012],
        [8.6977960, 49.4074884],
        [8.6981138, 49.4075809],
        [8.6983096, 49.4076430],
        [8.6985349, 49.4076874],
        [8.6988725, 49.4077944],
        [8.6992651, 49.4079065],
        [8.6995898, 49.4080034],
        [8.6999540, 49.4081243],
        [8.7002267, 49.4082090],
        [8.7004430, 49.4082868],
        [8.7007431, 49.4083513],
        [8.7011475, 49.4084407],
        [8.7014621, 49.4084850],
        [8.7016714, 49.4085208],
        [8.7018612, 49.4085440],
        [8.7022259, 49.4085956],
        [8.7026048, 49.4086491],
        [8.7026090, 49.4088602],
        [8.7027807, 49.4088757],
        [8.7025415, 49.4089454],
        [8.7021053, 49.4089415],
        [8.7019070, 49.4089143],
        [8.7015414, 49.4088566],
        [8.7012751, 49.4088265],
        [8.7009919, 49.4087613],
        [8.7006557, 49.4087115],
    ];
    let side = |m: &RouteMatch| m.possible.iter().any(|p| p.via_way_id == 222965356);
    let m = net.match_route(&drawn);
    assert!(m.ways.iter().all(|w| w.way_id != 222965356), "{:?}", m.ways);
    assert!(side(&m), "{:?}", m.possible);
    let m = net.match_route(&densified(&drawn));
    assert!(!side(&m), "{:?}", m.possible);
}

/// A drawing of a few points that goes round Monaco's private Place du Casino
/// (`osm:way/161752645`, 161752633; the evaluation's route 456) where the matched path
/// takes Avenue de Monte-Carlo beside it: the drawing's chords cut the loop to 35 m of
/// its 61 m, more than the length checks allow, but its second vertex lies on the square
/// and 15 m off the avenue, so the square was a possible reading (before, the route
/// passed). The sampling now keeps that vertex (it stands more than 12 m off the line
/// between the samples around it), and the match goes round the square. With that vertex
/// on the avenue, the square is neither on the path nor a reading.
#[test]
fn a_loop_a_sparse_drawing_cuts_short_is_read_by_its_vertices() {
    let Some(net) = routes_common::network("monaco.osm.pbf") else { return };
    let mut drawn = vec![
        [7.4277409, 43.7389385],
        [7.4275306, 43.7391227],
        [7.4278658, 43.7393350],
        [7.4276465, 43.7395168],
        [7.4273599, 43.7396392],
        [7.4269556, 43.7398424],
        [7.4267136, 43.7399759],
        [7.4264674, 43.7401136],
        [7.4260938, 43.7403132],
        [7.4256801, 43.7405063],
        [7.4258482, 43.7407607],
        [7.4261261, 43.7410235],
        [7.4264482, 43.7412467],
        [7.4267008, 43.7414487],
        [7.4268304, 43.7416433],
        [7.4267537, 43.7415283],
    ];
    assert_on_path(&net, &drawn, 161752645, "osm:way/161752645");
    drawn[1] = [7.4277400, 43.7390700];
    let m = net.match_route(&drawn);
    assert!(m.ways.iter().any(|w| w.way_id == 161752632), "{:?}", m.ways);
    assert_eq!(met(&m, "osm:way/161752645"), Met::No, "{:?} {:?}", m.hits, m.possible);
}

/// The match of `drawn` meets the car-park loop's tunnel on Untere Neckarstraße,
/// Heidelberg (`osm:way/14197792`) as `expected`, and not at all once the vertices
/// `shown_by` that show the loop are left out.
fn assert_car_park_loop_read(
    net: &RouteNetwork,
    mut drawn: Vec<[f64; 2]>,
    shown_by: std::ops::Range<usize>,
    expected: Met,
) {
    let m = net.match_route(&drawn);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert_eq!(met(&m, "osm:way/14197792"), expected, "{:?} {:?}", m.ways, m.possible);
    drawn.drain(shown_by);
    let m = net.match_route(&drawn);
    assert_eq!(met(&m, "osm:way/14197792"), Met::No, "{:?} {:?}", m.ways, m.possible);
}

/// The evaluation's bus route 101 (seed 1) on Untere Neckarstraße, Heidelberg: the route
/// leaves the one-way street into a car park's one-way loop through a tunnel of unknown
/// clearance (`osm:way/14197792`, 76 m) and rejoins the street 13 m on. Drawn with two
/// vertices round it, the drawing steps back along the street between them, which no
/// segment shows by itself: the drawing passes the loop's exit twice, and the stretch
/// between those passes fits the loop far better than the street, so the tunnel was a
/// possible reading (before, the drawing was taken to pass the exit once and the route
/// passed). The sampling now keeps the vertex where the drawing steps back (it stands more
/// than 12 m off the line between the samples around it), and the match goes round the
/// loop. Drawn straight along the street, the tunnel is neither.
#[test]
fn a_car_park_loop_the_drawing_steps_back_round_is_read() {
    let Some(net) = routes_common::network("bus.osm.pbf") else { return };
    let drawn = vec![
        [8.7009768, 49.4122262],
        [8.7004313, 49.4121031],
        [8.6999551, 49.4119981],
        [8.7000977, 49.4120640],
        [8.6997310, 49.4120345],
        [8.6993871, 49.4121750],
        [8.6992648, 49.4124315],
        [8.6987270, 49.4123414],
        [8.6983999, 49.4122675],
        [8.6987698, 49.4122697],
        [8.6991856, 49.4123434],
    ];
    assert_car_park_loop_read(&net, drawn, 2..4, Met::OnPath);
}

/// The evaluation's Helsinki route 379: along a street past the mouth of a way behind a
/// gate (`osm:node/3227951595`, `maxheight=2.6`, `access=private`), with the second vertex
/// 8 m back at the junction (drawing noise). The drawing passes the junction twice, and
/// out along that way and back is about as long as the drawing between; but the street
/// explains the vertex at the junction just as well, so it is not a possible reading
/// (before, fitting it no worse was enough).
#[test]
fn a_vertex_stepped_back_at_a_junction_is_not_a_way_out_and_back() {
    let net = helsinki();
    let mut drawn = vec![
        [24.9417248, 60.1675002],
        [24.9411173, 60.1672864],
        [24.9412518, 60.1673337],
        [24.9406423, 60.1671207],
        [24.9400324, 60.1669100],
        [24.9396115, 60.1667673],
        [24.9391203, 60.1670222],
        [24.9392558, 60.1669519],
        [24.9385498, 60.1668872],
        [24.9383002, 60.1666713],
        [24.9383894, 60.1663539],
        [24.9383683, 60.1664290],
        [24.9378714, 60.1662018],
        [24.9375554, 60.1664335],
        [24.9372771, 60.1666131],
        [24.9371116, 60.1667931],
    ];
    let m = net.match_route(&drawn);
    assert!(m.possible.iter().all(|p| p.hit.source != "osm:node/3227951595"), "{:?}", m.possible);
    // Without the vertex stepped back the drawing passes the junction once: the same.
    drawn.remove(2);
    let m = net.match_route(&drawn);
    assert!(m.possible.iter().all(|p| p.hit.source != "osm:node/3227951595"), "{:?}", m.possible);
}

/// The evaluation's Liechtenstein route 20: along Essanestrasse and into Böschfeldweg
/// (`osm:way/109810667`), the drawing ending 4.5 m before the bollard that closes it
/// (`osm:node/1256051214`; beyond it only a footway goes on). No road goes on through the
/// bollard, so a route that reaches it ends there and does not pass it: it is no possible
/// hit (before, every node at the matched path's outer end was). A gate on a passage that
/// goes on still is (`loops_spurs_a_gate_and_a_fork_at_the_end_are_not_read_past`).
#[test]
fn a_bollard_that_closes_a_dead_end_is_not_read_past_the_end() {
    let Some(net) = routes_common::network("liechtenstein-latest.osm.pbf") else { return };
    let drawn = [
        [9.5255551, 47.2084463],
        [9.5251620, 47.2085691],
        [9.5249254, 47.2086536],
        [9.5247273, 47.2087282],
        [9.5245176, 47.2087973],
        [9.5241097, 47.2089296],
        [9.5238099, 47.2090376],
        [9.5234918, 47.2090675],
        [9.5234180, 47.2087917],
        [9.5234278, 47.2087543],
    ];
    let m = net.match_route(&drawn);
    assert_eq!(m.ways.last().map(|w| w.way_id), Some(109810667), "{:?}", m.ways);
    let bollard = |p: &oscar::routes::PossibleHit| p.hit.source == "osm:node/1256051214";
    assert!(!m.possible.iter().any(bollard), "{:?}", m.possible);
    assert!(m.hits.iter().all(|h| h.source != "osm:node/1256051214"), "{:?}", m.hits);
}

/// The evaluation's Helsinki route 262 (seed 3): west along Pohjoisranta's service roads,
/// ending where the service way `osm:way/45571454` meets the private gate
/// (`osm:node/1371624200`) at its first node, the last node the network has there. The
/// matched path stops 11 m short, on `osm:way/123177417`, and a reading along the last
/// metres of `osm:way/45571454` ended at the gate, so it was read as passed (R4
/// `unverified`). No road goes on through the gate, so a route that reaches it ends there,
/// as the matched path's own end nodes and the truth's are judged: it is no possible hit.
#[test]
fn a_gate_that_closes_a_dead_end_is_not_passed_by_a_reading_that_ends_at_it() {
    let net = helsinki();
    let drawn = [
        [24.9510920, 60.1758469],
        [24.9503687, 60.1757967],
        [24.9496304, 60.1757606],
        [24.9489956, 60.1758124],
        [24.9483647, 60.1758523],
        [24.9478136, 60.1759165],
        [24.9473919, 60.1759453],
        [24.9467326, 60.1760214],
        [24.9464483, 60.1759981],
        [24.9464344, 60.1759749],
    ];
    let m = net.match_route(&drawn);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    let gate = |source: &str| source == "osm:node/1371624200";
    assert!(!m.possible.iter().any(|p| gate(&p.hit.source)), "{:?}", m.possible);
    assert!(!m.hits.iter().any(|h| gate(&h.source)), "{:?}", m.hits);
}

/// The evaluation's Helsinki route 101 (seed 1): it starts with a step back and forth at
/// the east end of the tunnel road `osm:way/609208694` and runs east. A reading that starts
/// where the drawing does on `osm:way/166170097` (`hgv=destination`) and rejoins the matched
/// path stays within the drawing's uncertainty, but the drawing's offset is known at its
/// start (the roads turn there): the drawing's start moved back by it lies off that way, so
/// the route does not start on it (drawn to its eighth point). Drawn to its end, the
/// reading runs on the surface road above the tunnels to the drawn end and replaces the
/// whole path, the offset's yardstick: it is read (see
/// `a_reading_of_the_whole_route_is_not_judged_by_the_offset_from_the_path_it_replaces`).
#[test]
fn a_start_the_drawings_offset_puts_off_the_piece_is_not_read_on_it() {
    let net = helsinki();
    let drawn = [
        [24.9433509, 60.1689130],
        [24.9429955, 60.1689499],
        [24.9431586, 60.1687928],
        [24.9434688, 60.1689045],
        [24.9441052, 60.1689038],
        [24.9447728, 60.1689195],
        [24.9453799, 60.1689449],
        [24.9457183, 60.1688628],
        [24.9457214, 60.1690475],
        [24.9455158, 60.1689562],
    ];
    assert_not_read_via(&net, &drawn[..8], 609208694, 166170097);
    assert_read_instead(&net, &drawn, 166170097, "osm:way/166170097");
}

/// The evaluation's Helsinki route 408 (evaluation's seed): it starts at the junction of
/// `osm:way/45150440` with the closed way `osm:way/28583926` (`access=no`) and runs
/// straight south-east; the drawing starts a map's offset from the junction, and a reading
/// from there along the closed way to the junction fitted the drawing as well as the path
/// (R4 `unverified`). Only the offset across the road is known (the road runs straight), but
/// the closed way crosses the road's line: moved back by that offset, the drawing starts
/// on the closed way no further than the drawing's noise from the junction, or off it, so
/// the route uses none of it.
#[test]
fn a_start_the_offset_across_the_road_puts_at_the_junction_is_not_read_on_the_road_crossing_it() {
    let net = helsinki();
    let drawn = [
        [24.9383031, 60.1698641],
        [24.9385076, 60.1697426],
        [24.9387509, 60.1695892],
        [24.9390051, 60.1694258],
        [24.9392193, 60.1692695],
        [24.9394844, 60.1691042],
        [24.9396560, 60.1689932],
        [24.9397977, 60.1689144],
        [24.9400397, 60.1687558],
        [24.9402937, 60.1685736],
        [24.9405126, 60.1684435],
        [24.9406806, 60.1683081],
        [24.9408391, 60.1681973],
        [24.9410957, 60.1680332],
        [24.9413209, 60.1678511],
        [24.9415140, 60.1677411],
        [24.9417297, 60.1675715],
        [24.9419016, 60.1674928],
        [24.9420263, 60.1673991],
        [24.9422677, 60.1672373],
        [24.9424432, 60.1670905],
    ];
    let m = net.match_route(&drawn);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert!(m.ways.iter().any(|w| w.way_id == 45150440), "{:?}", m.ways);
    assert!(m.possible.iter().all(|p| p.via_way_id != 28583926), "{:?}", m.possible);
}

/// The evaluation's Helsinki route 371 (seed 1): it starts on `osm:way/37289254` at the
/// junction where `osm:way/7973163` (`maxlength=12`) ends, heading on the way that road
/// would go, so the road behind the start was read as where the route may come from (R4
/// `unverified`). The drawing's offset is known at its start (the roads turn after it):
/// moved back by it, the drawing starts on the matched path, more than the drawing's noise
/// from the junction, so the route does not come from beyond it.
#[test]
fn a_start_the_drawings_offset_puts_on_the_path_is_not_read_past_the_paths_start() {
    let net = helsinki();
    let drawn = [
        [24.9514410, 60.1647466],
        [24.9523664, 60.1647651],
        [24.9527053, 60.1649860],
        [24.9526204, 60.1653058],
        [24.9524691, 60.1657149],
        [24.9524577, 60.1659701],
        [24.9524164, 60.1662760],
        [24.9526421, 60.1665444],
        [24.9529898, 60.1664331],
        [24.9530716, 60.1661567],
    ];
    let m = net.match_route(&drawn);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert!(m.ways.iter().any(|w| w.way_id == 37289254), "{:?}", m.ways);
    assert!(m.possible.iter().all(|p| p.via_way_id != 7973163), "{:?}", m.possible);
}

/// The evaluation's Helsinki route 282 (seed 3), thinned along Eteläesplanadi: east along
/// it, south down Fabianinkatu and 6 m east into the way behind a private gate
/// (`osm:node/1943395886` on `osm:way/183917373`), ending 6 m short of the gate. The
/// drawing's offset from the roads is measured on the esplanade, which runs straight and
/// across Fabianinkatu, where the matched path ends: it tells where along Fabianinkatu the
/// drawing ends, not where across, so it moves the end onto no road beside it and the gate
/// is no possible end (before, the end moved by it read the way through the gate). Where
/// the offset is measured along the street the path ends on, it does
/// (`an_end_off_a_straight_street_is_read_on_the_aisle_beside_it`).
#[test]
fn an_offset_measured_round_a_corner_does_not_move_the_end_across_the_road() {
    let net = helsinki();
    let drawn = [
        [24.9467702, 60.1670961],
        [24.9469373, 60.1671143],
        [24.9470184, 60.1671050],
        [24.9472447, 60.1671179],
        [24.9474118, 60.1671143],
        [24.9475395, 60.1671251],
        [24.9475853, 60.1671204],
        [24.9477466, 60.1671320],
        [24.9478243, 60.1671213],
        [24.9479626, 60.1671233],
        [24.9481246, 60.1671363],
        [24.9482531, 60.1671371],
        [24.9483873, 60.1671386],
        [24.9485821, 60.1671413],
        [24.9487680, 60.1671462],
        [24.9488980, 60.1671414],
        [24.9490406, 60.1671439],
        [24.9490962, 60.1671549],
        [24.9492541, 60.1671505],
        [24.9493937, 60.1671598],
        [24.9494122, 60.1671286],
        [24.9494214, 60.1670852],
        [24.9494143, 60.1670514],
        [24.9494315, 60.1670028],
        [24.9494095, 60.1669685],
        [24.9494407, 60.1669312],
        [24.9494170, 60.1668862],
        [24.9494217, 60.1668513],
        [24.9494358, 60.1667921],
        [24.9494305, 60.1668144],
        [24.9494494, 60.1667660],
        [24.9494686, 60.1667212],
        [24.9495762, 60.1667250],
        [24.9496336, 60.1667453],
    ];
    let m = net.match_route(&drawn);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert!(m.possible.iter().all(|p| p.hit.source != "osm:node/1943395886"), "{:?}", m.possible);
}

/// The evaluation's Helsinki route 77 (seed 1): it starts inside the tunnel
/// `osm:way/442872038`, comes out onto the service way 209289330 and turns right at once,
/// then west along Bulevardi and north up Fredrikinkatu; thinned to 10 vertices, the first
/// 10 m off the tunnel's mouth. Moved back by the drawing's offset (known both ways: the
/// route turns) the start lies on the tunnel, but the drawing passes the service way's
/// corner nearest at that same first vertex, so the stretch in doubt is empty and no
/// offset was measured off it: the tunnel was no possible start and R2 passed (before). The
/// offset that placed the start decides there.
#[test]
fn a_start_placed_in_a_tunnel_mouth_just_before_a_corner_is_read() {
    let net = helsinki();
    let drawn = [
        [24.9390513, 60.1646271],
        [24.9385158, 60.1648330],
        [24.9378609, 60.1646655],
        [24.9375180, 60.1645475],
        [24.9369081, 60.1643240],
        [24.9365957, 60.1645044],
        [24.9361378, 60.1648359],
        [24.9358803, 60.1650170],
        [24.9355300, 60.1652754],
        [24.9353860, 60.1653954],
    ];
    let m = net.match_route(&drawn);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert_eq!(m.ways.first().map(|w| w.way_id), Some(209289330), "{:?}", m.ways);
    let tunnel = |p: &oscar::routes::PossibleHit| p.hit.source == "osm:way/442872038" && p.hit.raw == "yes";
    assert!(m.possible.iter().any(tunnel), "{:?}", m.possible);
}

/// The evaluation's bus route 102 (seed 2): south through Heidelberg's Friedrich-Ebert-Platz
/// and back north up its one-way western side, ending on the car-park ramp
/// `osm:way/62293899` (`maxheight=2.1`), which forks from that side 3 m beside it. The
/// drawing's last vertex happens to lie nearer the matched street than the ramp, but the
/// drawing runs further from the path than that before it: by the end's own distance the
/// ramp was no possible end (before) and R2 passed a vehicle 4.4 m high.
#[test]
fn an_end_drawn_nearer_the_path_than_the_drawing_runs_may_lie_on_the_road_beside_it() {
    let Some(net) = routes_common::network("bus.osm.pbf") else { return };
    let drawn = [
        [8.6983585, 49.4095443],
        [8.6985236, 49.4091691],
        [8.6986837, 49.4088595],
        [8.6987691, 49.4085030],
        [8.6985097, 49.4083194],
        [8.6984180, 49.4084121],
        [8.6983681, 49.4084612],
    ];
    let m = net.match_route(&drawn);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert_eq!(m.ways.last().map(|w| w.way_id), Some(14193663), "{:?}", m.ways);
    let ramp = |p: &oscar::routes::PossibleHit| p.hit.source == "osm:way/62293899" && p.hit.raw == "2.1";
    assert!(m.possible.iter().any(ramp), "{:?}", m.possible);
}

/// The evaluation's bus route 26 (seed 3): along Untere Neckarstraße in Heidelberg and
/// round the 76 m car-park ramp loop off it (the tunnel `osm:way/14197792`, rejoining the
/// street 13 m on), drawn with one vertex 8 m off the street where the loop runs and the
/// street on either side, 20 m of drawing between where it passes the loop's ends. The loop
/// is far longer than that stretch (the drawing cuts across it) but fits the vertex better
/// than the street, so it was a possible reading (before, a loop cut by more than 20 m
/// beyond the length check was never one). The sampling now keeps that vertex (more than
/// 12 m off the line between the samples around it), and the match goes round the loop.
/// Without that vertex the tunnel is neither.
#[test]
fn a_car_park_loop_a_sparse_drawing_cuts_across_is_read_by_its_vertex() {
    let Some(net) = routes_common::network("bus.osm.pbf") else { return };
    let drawn = vec![
        [8.7020728, 49.4127532],
        [8.7017038, 49.4126970],
        [8.7014246, 49.4126611],
        [8.7014442, 49.4124819],
        [8.7013822, 49.4122636],
        [8.7008860, 49.4121732],
        [8.7005937, 49.4121038],
        [8.7000998, 49.4120760],
        [8.7002136, 49.4119779],
        [8.6998469, 49.4120159],
        [8.6995535, 49.4120014],
        [8.6993270, 49.4123602],
        [8.6990469, 49.4123861],
        [8.6989521, 49.4123794],
    ];
    assert_car_park_loop_read(&net, drawn, 8..9, Met::OnPath);
}

/// The evaluation's bus route 101 (seed 5): the same car-park loop drawn with one vertex
/// where its tunnel turns back east, 10 m south of the street moved back by the drawing's
/// offset (the drawing runs 5-6 m north of the roads here) but only 5 m from the street as
/// drawn, and the drawing cuts across the rest of the loop. Moved back, the vertex lies on
/// the tunnel and well off the street, so the tunnel is a possible reading (before, R2
/// passed on a route through a tunnel of unknown clearance). Without that vertex and the
/// next it is not (without the tip alone, the drawing from the vertex before it to the one
/// after runs along the loop's entry, 10 m from the street: a loop the drawing goes into,
/// see `a_loop_a_sparse_drawing_goes_into_but_never_seems_to_leave_is_read_round`).
#[test]
fn a_loop_whose_tip_lies_off_the_path_only_by_the_offset_is_read() {
    let Some(net) = routes_common::network("bus.osm.pbf") else { return };
    let drawn = vec![
        [8.7024657, 49.4128789],
        [8.7021208, 49.4128287],
        [8.7017021, 49.4127556],
        [8.7012959, 49.4126242],
        [8.7013546, 49.4123239],
        [8.7011246, 49.4122770],
        [8.7011975, 49.4122919],
        [8.7008446, 49.4122233],
        [8.7004813, 49.4121513],
        [8.7000037, 49.4120962],
        [8.6999392, 49.4119837],
        [8.6998694, 49.4120495],
        [8.6994957, 49.4120535],
        [8.6993462, 49.4122607],
        [8.6994078, 49.4124316],
        [8.6991159, 49.4124267],
        [8.6988814, 49.4124180],
        [8.6989192, 49.4124194],
        [8.6984974, 49.4123847],
        [8.6982222, 49.4123624],
    ];
    assert_car_park_loop_read(&net, drawn, 10..12, Met::Reading);
}

/// The evaluation's Monaco route 236 (seed 3): along Avenue des Spélugues, then north up
/// Avenue des Citronniers and round the driveway loop off it through a lift gate
/// (`osm:node/1737114782` on `osm:way/161748261`, 50 m where the street takes 20 m), drawn
/// with one vertex 10 m east of the street on the loop. The roads here do not tell the
/// drawing's offset, so the loop the drawing cuts short is judged by its fit to the drawing
/// as drawn: the vertex fits it far better than the street, so it is a possible reading
/// (before, no cut reading was one without an offset). Without that vertex the loop lies
/// between two points of the drawing 46 m apart, which cannot rule out a loop 14 m out and
/// back: it is read as well (see
/// `a_loop_between_two_points_of_the_drawing_is_read_and_a_road_beside_it_is_not`).
#[test]
fn a_loop_cut_short_where_the_offset_is_unknown_is_read_by_the_drawing_as_drawn() {
    let Some(net) = routes_common::network("monaco.osm.pbf") else { return };
    let mut drawn = vec![
        [7.4294200, 43.7405787],
        [7.4297716, 43.7403674],
        [7.4298319, 43.7401557],
        [7.4295944, 43.7401250],
        [7.4293667, 43.7404280],
        [7.4291232, 43.7406936],
        [7.4290885, 43.7408970],
        [7.4288547, 43.7412013],
        [7.4290129, 43.7413302],
        [7.4289032, 43.7416137],
        [7.4289065, 43.7418098],
        [7.4289659, 43.7421911],
        [7.4290907, 43.7424881],
        [7.4291197, 43.7426645],
    ];
    let gate = |m: &RouteMatch| m.possible.iter().any(|p| p.hit.source == "osm:node/1737114782");
    let m = net.match_route(&drawn);
    assert!(m.ways.iter().all(|w| w.way_id != 161748261), "{:?}", m.ways);
    assert!(gate(&m), "{:?}", m.possible);
    drawn.remove(8);
    let m = net.match_route(&drawn);
    assert!(gate(&m), "{:?}", m.possible);
}

/// The evaluation's Paris route 78 (seed 3), its first 10 vertices: it starts in the short
/// tunnel `osm:way/58884560` behind a gate (`osm:node/330989384`), comes out through it onto
/// Rue Saint-Maur and goes on round the block. The drawing starts 12 m from the matched
/// path's first node and 7 m from the tunnel, so it may start in the tunnel, but the
/// drawing between its start and that node is nothing, and a reading compared with
/// nothing was never plausible (before): R2 and R4 passed. Where the drawing adds no
/// length before the path, the reading is compared with the straight line from the drawn
/// start to the path, if it starts no further from the drawn start than the path does.
#[test]
fn a_start_nearer_a_gated_stub_than_the_path_may_lie_on_the_stub() {
    let Some(net) = routes_common::network("paris_bss.osm.pbf") else { return };
    let drawn = [
        [2.3801271, 48.8623247],
        [2.3797824, 48.8625093],
        [2.3795219, 48.8627802],
        [2.3790923, 48.8630388],
        [2.3792516, 48.8629430],
        [2.3787558, 48.8628831],
        [2.3788841, 48.8629424],
        [2.3789210, 48.8625532],
        [2.3792769, 48.8621931],
        [2.3796434, 48.8618381],
    ];
    let m = net.match_route(&drawn);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert_eq!(m.ways.first().map(|w| w.way_id), Some(23695693), "{:?}", m.ways);
    let gate = |p: &oscar::routes::PossibleHit| p.hit.source == "osm:node/330989384";
    let tunnel = |p: &oscar::routes::PossibleHit| p.hit.source == "osm:way/58884560" && p.hit.raw == "yes";
    assert!(m.possible.iter().any(gate) && m.possible.iter().any(tunnel), "{:?}", m.possible);
}

/// The evaluation's Monaco route 187 (seed 3), its first 14 vertices: it starts 2.7 m from
/// the matched path's first node on the primary road `osm:way/212764300`, where the way
/// `osm:way/220547073` (access-restricted) leaves it. A reading along that way starts 6.8 m
/// from the drawn start, further than the path does, so it does not explain the start
/// better and is no possible start (the counterpart of
/// `a_start_nearer_a_gated_stub_than_the_path_may_lie_on_the_stub`). Drawn to its tenth
/// vertex it ends in a bend whose corner the sampling of a drawing's end now keeps; the
/// match round that corner runs further from the drawing (typically 5.5 m, not 3.4 m),
/// which widens how far from the drawn start a reading may start (8.5 m, not 6.4 m), and
/// the stub was read. Drawn on past the bend, as the route goes, the match does not.
#[test]
fn a_start_nearer_the_path_than_a_stub_off_its_first_node_is_not_read_on_the_stub() {
    let Some(net) = routes_common::network("monaco.osm.pbf") else { return };
    let drawn = [
        [7.4123001, 43.7281088],
        [7.4122530, 43.7281185],
        [7.4122037, 43.7281203],
        [7.4121655, 43.7281132],
        [7.4120905, 43.7280783],
        [7.4120658, 43.7280506],
        [7.4120359, 43.7279962],
        [7.4120517, 43.7279505],
        [7.4120812, 43.7279202],
        [7.4121095, 43.7278967],
        [7.4121433, 43.7278809],
        [7.4122241, 43.7278690],
        [7.4122684, 43.7278727],
        [7.4123102, 43.7278787],
    ];
    let m = net.match_route(&drawn);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert_eq!(m.ways.first().map(|w| w.way_id), Some(212764300), "{:?}", m.ways);
    assert!(m.possible.iter().all(|p| p.via_way_id != 220547073), "{:?}", m.possible);
}

/// The evaluation's Heidelberg route 187 (seed 5): it starts at the far end of the covered
/// service way `osm:way/320006329` (`covered=yes`, clearance unknown), which bends 13 m west
/// of the drawing on its way down to the street `osm:way/25040133`; the drawing cuts that
/// bend with one segment. The matched path starts on the street 24 m from the drawn start,
/// and the reading along the covered way strayed 8.4 m further from the drawing than the
/// path's first node, so it was no reading and R2 passed. The path strays from the drawing
/// at least by how far it starts from the drawn start, so the covered way became a possible
/// reading. The sampling now keeps the drawing's second vertex (it stands more than 12 m off
/// the line between the samples around it), and the match starts on the covered way.
#[test]
fn a_path_that_starts_far_from_the_drawn_start_does_not_rule_out_the_road_drawn_there() {
    let Some(net) = routes_common::network("heidelberg-ors.osm.pbf") else { return };
    let drawn = [[8.6918551, 49.4064737], [8.6917818, 49.4062241], [8.6922997, 49.4063043], [8.6924421, 49.4063296]];
    let m = net.match_route(&drawn);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert_eq!(m.ways.first().map(|w| w.way_id), Some(320006329), "{:?}", m.ways);
    assert_eq!(met(&m, "osm:way/320006329"), Met::OnPath, "{:?} {:?}", m.ways, m.possible);
}

/// The evaluation's Paris route 101 (seed 5), its first 12 vertices: it starts in the
/// service tunnel `osm:way/112622679` and reaches the primary road round a U, drawn with
/// its first vertex at the tunnel's mouth; the matched path starts on the primary road
/// `osm:way/31779316` 21 m from the drawn start. The reading through the tunnel is longer
/// than the drawing by more than the length checks allow, and the roads there do not tell
/// the drawing's offset, so it was never judged by its fit and R2 passed. Where the path
/// starts further from the drawn start than another map's offset, such a reading is judged
/// by the drawing as drawn, and the tunnel fits its first vertex far better. (The matched
/// path now starts on the service road `osm:way/61285150` at the U's corner, a sample
/// since the corner stands more than 12 m off the line between its neighbours.)
#[test]
fn a_start_the_matched_path_leaves_unexplained_is_read_by_the_drawing_as_drawn() {
    let Some(net) = routes_common::network("paris_bss.osm.pbf") else { return };
    let drawn = [
        [2.3626878, 48.8692208],
        [2.3622934, 48.8692007],
        [2.3625728, 48.8688264],
        [2.3627513, 48.8686045],
        [2.3627611, 48.8683550],
        [2.3623084, 48.8680017],
        [2.3619168, 48.8679982],
        [2.3613715, 48.8680772],
        [2.3610000, 48.8681341],
        [2.3606386, 48.8681895],
        [2.3600851, 48.8682700],
        [2.3595227, 48.8683479],
    ];
    let m = net.match_route(&drawn);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert_eq!(m.ways.first().map(|w| w.way_id), Some(61285150), "{:?}", m.ways);
    assert_eq!(met(&m, "osm:way/112622679"), Met::Reading, "{:?} {:?}", m.ways, m.possible);
}

/// The evaluation's bus route 132 (seed 5): in Heidelberg it leaves the service road
/// `osm:way/311592001` round a 51 m rectangle of service roads and back onto it (down
/// `osm:way/222965356` through a chain and a bollard, `osm:node/2319361871` and
/// `osm:node/2319093199`), drawn with vertices 17-36 m apart. The matched path stays on the
/// service road; the rectangle's far corner lay more than 8 m further from the drawing than
/// the path, so it was no reading and R4 passed. A road between two vertices lies within half
/// the step between them of one of them, so a drawing this sparse cannot rule the rectangle
/// out: it became a possible reading. The sampling now keeps the vertex where the drawing
/// turns back (it stands more than 12 m off the line between the samples around it), and
/// the match goes round the rectangle through the chain and the bollard.
#[test]
fn a_detour_between_sparse_vertices_is_read_as_far_as_half_their_step() {
    let Some(net) = routes_common::network("bus.osm.pbf") else { return };
    let drawn = [
        [8.7020024, 49.4088334],
        [8.7024895, 49.4088112],
        [8.7026030, 49.4086469],
        [8.7026660, 49.4088866],
        [8.7024147, 49.4089132],
        [8.7021762, 49.4089215],
        [8.7019056, 49.4089008],
        [8.7014154, 49.4088333],
        [8.7011242, 49.4087795],
        [8.7007086, 49.4087125],
    ];
    assert_on_path(&net, &drawn, 222965356, "osm:node/2319093199");
}

/// A drawing with a vertex at a junction and the next 27 m on, across the corner of the
/// block: the service road through the bollards (north, then east) is 10 m longer than
/// the street the match takes (east, then north), as much as one bend the step cuts may
/// add, so the drawing cannot tell them apart.
#[test]
fn a_reading_round_the_corner_a_long_step_cuts_may_be_longer_than_the_match() {
    let Some(net) = routes_common::network("bus.osm.pbf") else { return };
    let drawn = [
        [8.7003730, 49.4082472],
        [8.7007942, 49.4083529],
        [8.7012530, 49.4084368],
        [8.7017693, 49.4085020],
        [8.7024485, 49.4085991],
        [8.7026529, 49.4088026],
        [8.7022821, 49.4088968],
        [8.7015643, 49.4088343],
        [8.7009469, 49.4087366],
        [8.7005680, 49.4086649],
    ];
    assert_read_instead(&net, &drawn, 222965356, "osm:node/2319093199");
}

/// The evaluation's Heidelberg route 472 (seed 16): along the slip road north-west, round
/// the 24 m loop of two service roads signed `access=no` (`osm:way/246248020` and
/// `osm:way/204334506`) where the slip road takes 8 m. The drawing steps 35 m past it and
/// its one vertex there lies on the loop, 5 m off the slip road: 16 m² better, short of
/// what a loop the drawing cuts must fit better by, so R4 passed (before). A detour that
/// rejoins the path further on needs less than a dead end and back.
#[test]
fn a_detour_round_a_corner_the_drawing_cuts_is_read_by_its_one_vertex_on_it() {
    let Some(net) = routes_common::network("heidelberg-ors.osm.pbf") else { return };
    let drawn = [
        [8.6809112, 49.4016752],
        [8.6805879, 49.4016623],
        [8.6801914, 49.4019191],
        [8.6799139, 49.4021448],
        [8.6794732, 49.4024388],
    ];
    assert_read_instead(&net, &drawn, 246248020, "osm:way/246248020");
}

/// The evaluation's Heidelberg route 264 (seed 4): west along Kurfürsten-Anlage, then 8 m
/// further west and back north-east along the bus link `osm:way/229361282` (`access=no`)
/// onto the street north, where the match turns north at once: 33 m against 23 m. The
/// drawing steps 24 m across the corner, but the drawing passes the two junctions 19 m
/// apart, so the part of that step between them was too short to count as one that cuts a
/// corner, and R4 passed (before). The whole step counts; the bend is over its part.
#[test]
fn a_long_step_that_reaches_past_a_junction_still_cuts_the_corner_there() {
    let Some(net) = routes_common::network("heidelberg-ors.osm.pbf") else { return };
    let drawn = [
        [8.6790521, 49.4080633],
        [8.6788140, 49.4079381],
        [8.6783433, 49.4079449],
        [8.6780046, 49.4079485],
        [8.6776733, 49.4079543],
        [8.6770681, 49.4079590],
        [8.6768920, 49.4081437],
        [8.6768922, 49.4085509],
        [8.6768667, 49.4088678],
    ];
    assert_read_instead(&net, &drawn, 229361282, "osm:way/229361282");
}

/// The evaluation's Helsinki route 144 (seed 7) round the courtyard under `maxheight=2.2`
/// (`osm:way/27327906`), a 107 m loop the drawing cuts to about 72 m: its vertex at the
/// courtyard's corner lies only 2 m off the line between its neighbours, not a bend of 4 m,
/// so its offset was never fitted and R2 and R3 passed (before); moved back by the offset it
/// lies on the courtyard's way, 12 m off the matched street.
#[test]
fn a_loops_tip_the_drawing_barely_turns_at_is_read() {
    let drawn = [
        [24.9491770, 60.1655871],
        [24.9497053, 60.1656099],
        [24.9497509, 60.1654686],
        [24.9495905, 60.1653422],
        [24.9496233, 60.1651920],
        [24.9495984, 60.1651230],
        [24.9496690, 60.1648897],
        [24.9498624, 60.1646478],
    ];
    assert_read_instead(&helsinki(), &drawn, 27327906, "osm:way/27327906");
}

/// A drawing that steps round a courtyard loop and back within a few metres: the loop's
/// far end is its one sign, kept however close the vertices around it lie (the
/// courtyard's way and its turning point are signed 2.2 m high; the street beside it 12 m
/// away is not).
#[test]
fn the_tip_of_a_short_excursion_is_kept_when_the_drawing_is_thinned() {
    let net = helsinki();
    let drawn = [
        [24.9498370, 60.1656865],
        [24.9498457, 60.1656944],
        [24.9498271, 60.1656582],
        [24.9498444, 60.1656371],
        [24.9498443, 60.1656030],
        [24.9498242, 60.1655770],
        [24.9497919, 60.1655692],
        [24.9497439, 60.1655644],
        [24.9496645, 60.1655478],
        [24.9496499, 60.1655133],
        [24.9496261, 60.1654896],
        [24.9496353, 60.1654698],
        [24.9496337, 60.1654732],
        [24.9496211, 60.1654260],
        [24.9496579, 60.1653812],
        [24.9496618, 60.1653562],
        [24.9496428, 60.1653118],
        [24.9496583, 60.1652861],
        [24.9496153, 60.1652593],
        [24.9494984, 60.1652479],
        [24.9494238, 60.1652387],
        [24.9494268, 60.1652395],
        [24.9495328, 60.1652322],
        [24.9495959, 60.1652207],
        [24.9496600, 60.1652112],
        [24.9496788, 60.1651766],
        [24.9496836, 60.1651583],
        [24.9496693, 60.1651073],
        [24.9496878, 60.1650685],
        [24.9496849, 60.1650265],
        [24.9497049, 60.1649958],
        [24.9497386, 60.1649922],
        [24.9497762, 60.1649705],
        [24.9498038, 60.1649764],
        [24.9498874, 60.1649697],
        [24.9498937, 60.1649263],
        [24.9499198, 60.1648799],
        [24.9499002, 60.1648516],
        [24.9499249, 60.1648293],
        [24.9499018, 60.1648049],
        [24.9499317, 60.1647637],
        [24.9499248, 60.1647732],
        [24.9499136, 60.1647267],
        [24.9499375, 60.1647006],
    ];
    let m = net.match_route(&drawn);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    let courtyard = |p: &oscar::routes::PossibleHit| p.hit.source == "osm:node/1380961129";
    assert!(m.possible.iter().any(courtyard), "{:?}", m.possible);
}

/// The evaluation's Heidelberg route 206 (seed 12): it starts round a loop of service roads
/// through the gate `osm:node/2801781079` and onto the primary road; drawn with four
/// vertices, the second 15 m north, 4.5 m from the gate, and the third 27 m back south past
/// the first. The sampling kept a turning point only where the drawing comes back nearer
/// the last sample, so the match took the primary road alone, 23 m from that vertex, and
/// the gate passed; then a restriction next to where the drawing goes far from the path and
/// comes back was made another reading. Now the sampling keeps every vertex that stands
/// more than 12 m off the line between the samples around it, and the match goes round the
/// loop through the gate.
#[test]
fn a_gate_on_a_spur_the_sampling_once_thinned_away_is_on_the_matched_path() {
    let Some(net) = routes_common::network("heidelberg-ors.osm.pbf") else { return };
    let drawn = [[8.6721683, 49.3973237], [8.6721623, 49.3974603], [8.6721898, 49.3972171], [8.6718946, 49.3970676]];
    assert_on_path(&net, &drawn, 275534963, "osm:node/2801781079");
}

/// A drawing along Helsinki's service tunnels under the city centre (`osm:way/609208670`
/// into `609208671`; the evaluation's route 245 of seed 2, vertices 100 to 149), where
/// thirteen roads lie within the search radius of one sample: the tunnel the route goes on
/// along was the seventh nearest, past the six candidates a sample keeps, and none of
/// those connected, so the match broke ("no connected road in the drawn direction"). Where
/// nothing connects, every road within the radius is tried before the chain breaks.
#[test]
fn a_tunnel_beyond_the_nearest_few_roads_is_followed_where_nothing_nearer_connects() {
    let drawn: [[f64; 2]; 50] = [
        [24.9485422, 60.1702152],
        [24.9486038, 60.1702262],
        [24.9486764, 60.1702284],
        [24.9487142, 60.1702294],
        [24.9487848, 60.1702259],
        [24.9488660, 60.1702237],
        [24.9489082, 60.1702229],
        [24.9489568, 60.1701967],
        [24.9489512, 60.1701725],
        [24.9489739, 60.1701419],
        [24.9489823, 60.1701129],
        [24.9490139, 60.1700778],
        [24.9490347, 60.1700586],
        [24.9490666, 60.1700205],
        [24.9491005, 60.1699979],
        [24.9490890, 60.1699673],
        [24.9490725, 60.1699458],
        [24.9490816, 60.1698942],
        [24.9490876, 60.1698594],
        [24.9490814, 60.1697998],
        [24.9490978, 60.1697871],
        [24.9490941, 60.1697370],
        [24.9491078, 60.1696971],
        [24.9491114, 60.1696656],
        [24.9491018, 60.1696330],
        [24.9491148, 60.1696021],
        [24.9491288, 60.1695808],
        [24.9491251, 60.1695387],
        [24.9491356, 60.1695118],
        [24.9491183, 60.1694756],
        [24.9491064, 60.1694490],
        [24.9491259, 60.1694290],
        [24.9491297, 60.1693952],
        [24.9491421, 60.1693524],
        [24.9491430, 60.1693371],
        [24.9491355, 60.1693095],
        [24.9491474, 60.1692670],
        [24.9491417, 60.1692136],
        [24.9491281, 60.1691988],
        [24.9491301, 60.1691686],
        [24.9491294, 60.1691313],
        [24.9491509, 60.1690991],
        [24.9491613, 60.1690797],
        [24.9491711, 60.1690464],
        [24.9491674, 60.1690154],
        [24.9491560, 60.1689834],
        [24.9491609, 60.1689626],
        [24.9491660, 60.1689251],
        [24.9492029, 60.1689024],
        [24.9491967, 60.1688694],
    ];
    let m = helsinki().match_route(&drawn);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    let ways: Vec<i64> = m.ways.iter().map(|w| w.way_id).collect();
    assert_eq!(ways, [609208662, 609208669, 609208670, 609208671]);
}

/// A drawing from a car park's one-way loop into the service tunnel beside it (Helsinki,
/// `osm:way/43997241` into `609208699`; the evaluation's route 96): the match had taken
/// the loop's other side, and the sample before the tunnel held only roads 41-45 m off, from
/// which the tunnel cannot be reached: the chain broke there. Samples whose every state
/// leads nowhere are left out (up to three), and the chain goes on from the last one that
/// connects: the match is the route's own ways.
#[test]
fn a_chain_goes_on_past_samples_whose_every_road_leads_nowhere() {
    let drawn: [[f64; 2]; 16] = [
        [24.9389874, 60.1675912],
        [24.9393849, 60.1676869],
        [24.9397375, 60.1678306],
        [24.9401539, 60.1679668],
        [24.9405476, 60.1681063],
        [24.9407247, 60.1682797],
        [24.9409251, 60.1684581],
        [24.9412120, 60.1686580],
        [24.9414829, 60.1687503],
        [24.9420374, 60.1688300],
        [24.9423705, 60.1688337],
        [24.9426311, 60.1688276],
        [24.9428937, 60.1687983],
        [24.9432807, 60.1688091],
        [24.9431761, 60.1689267],
        [24.9429530, 60.1688696],
    ];
    let m = helsinki().match_route(&drawn);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    let ways: Vec<i64> = m.ways.iter().map(|w| w.way_id).collect();
    assert_eq!(ways, [43997241, 609208699, 609208694]);
}

/// A sparse drawing of six points that swings 25-35 m west into a yard (Helsinki, by
/// `osm:way/51707747`; the evaluation's route 104 of seed 9) off the streets the path
/// takes: the samples there connect to nothing that goes on, and left out, the path found
/// around them passes far from them. A sample left out must lie within 25 m of the path
/// found around it (as the match's confidence asks of every sample); these do not, so the
/// match is reported as low confidence there and the route items are not passed.
#[test]
fn samples_left_out_far_from_the_path_found_around_them_break_the_match() {
    let drawn = [
        [24.9365238, 60.1688820],
        [24.9361626, 60.1690157],
        [24.9356045, 60.1691885],
        [24.9360313, 60.1693947],
        [24.9365381, 60.1695765],
        [24.9367520, 60.1696467],
    ];
    let m = helsinki().match_route(&drawn);
    let strays: Vec<f64> = m
        .problems
        .iter()
        .filter(|p| {
            p.kind == MatchProblemKind::LowConfidence && p.message.contains("from the matched path and no road")
        })
        .map(|p| p.km)
        .collect();
    assert!(!strays.is_empty() && strays.iter().all(|km| (0.04..0.1).contains(km)), "{:?}", m.problems);
}

/// The sparse drawing this rule was first found on (Helsinki, the evaluation's route 22 of
/// seed 7): its last samples swing 25-34 m east of the service road `osm:way/33733444`,
/// then connected to nothing, and left out, the path found around them passed far from
/// them. The sampling now keeps the vertices where the drawing turns (more than 12 m off
/// the line between the samples around them), and the match follows the route's true ways
/// through the gate `osm:node/385752799`.
#[test]
fn a_sparse_drawing_that_turns_between_samples_is_matched_along_its_turns() {
    let drawn: [[f64; 2]; 10] = [
        [24.9433107, 60.1738688],
        [24.9433656, 60.1735020],
        [24.9434162, 60.1732113],
        [24.9434841, 60.1729976],
        [24.9430850, 60.1729364],
        [24.9426503, 60.1729097],
        [24.9429140, 60.1727212],
        [24.9430314, 60.1724217],
        [24.9425052, 60.1723559],
        [24.9425066, 60.1725714],
    ];
    let m = helsinki().match_route(&drawn);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    let ways: Vec<i64> = m.ways.iter().map(|w| w.way_id).collect();
    assert_eq!(ways, [127807455, 127807461, 127807457, 16758504, 581884062, 33733444]);
    assert_eq!(met(&m, "osm:node/385752799"), Met::OnPath, "{:?}", m.hits);
}

/// The evaluation's Monaco route 199 (seed 757): from the tunnel `osm:way/161752642` it
/// goes round the turning loop `osm:way/161748261` (a lift gate on `osm:node/1737114782`)
/// and ends on the street beside the loop's mouth, drawn about 8 m east of the roads. Its
/// last 14 vertices lie within one sampling step of the last sample; the one furthest from
/// that sample stood 10.4 m off the line to the end, so none was kept, and the match went
/// half-way round the loop and stopped, short of the gate (R4 passed). At a drawing's end
/// the sampling keeps the skipped vertex furthest off that line (12.7 m): the match goes
/// round the loop through the gate.
#[test]
fn a_drawing_that_ends_round_a_loop_is_matched_round_it() {
    let Some(net) = routes_common::network("monaco.osm.pbf") else { return };
    let drawn: [[f64; 2]; 22] = [
        [7.4288120, 43.7416430],
        [7.4288508, 43.7416625],
        [7.4289301, 43.7416481],
        [7.4289688, 43.7416472],
        [7.4290016, 43.7416402],
        [7.4290102, 43.7415780],
        [7.4290024, 43.7415462],
        [7.4290106, 43.7415238],
        [7.4290023, 43.7414930],
        [7.4290528, 43.7414903],
        [7.4291177, 43.7414963],
        [7.4291380, 43.7414631],
        [7.4291506, 43.7414137],
        [7.4291348, 43.7413554],
        [7.4291211, 43.7413254],
        [7.4290799, 43.7413128],
        [7.4290392, 43.7413090],
        [7.4290088, 43.7413161],
        [7.4289808, 43.7413453],
        [7.4289795, 43.7413637],
        [7.4290060, 43.7414087],
        [7.4290051, 43.7414095],
    ];
    assert_on_path(&net, &drawn, 161748259, "osm:node/1737114782");
}

/// The evaluation's Monaco route 8 (seed 730), its last 23 vertices: down the street
/// `osm:way/25179329`, round the turning loop `osm:way/161748261` (a lift gate on
/// `osm:node/1737114782`) and back up the street to end beside the loop's mouth. The loop
/// is 15 m across and the drawing runs 4-9 m off it, so the drawing never goes 5 m further
/// from the mouth than where it first passes it: it passes the mouth once, where it comes
/// back. The match goes down the street to where the loop rejoins it; the loop, read from
/// the mouth to there, was compared with the drawing between the two places it passes
/// nearest, which come in the wrong order (nothing), and R4 passed. Compared where the
/// drawing passes nearest the loop's own nodes, it fits the drawing's loop far better than
/// the street: another reading.
#[test]
fn a_loop_whose_mouth_the_drawing_passes_once_is_read_where_it_passes_the_loop() {
    let Some(net) = routes_common::network("monaco.osm.pbf") else { return };
    let drawn: [[f64; 2]; 23] = [
        [7.4289503, 43.7418468],
        [7.4289629, 43.7418015],
        [7.4289536, 43.7417708],
        [7.4289443, 43.7417370],
        [7.4289483, 43.7416872],
        [7.4289570, 43.7416632],
        [7.4289585, 43.7416233],
        [7.4289480, 43.7415918],
        [7.4289731, 43.7415623],
        [7.4290125, 43.7415645],
        [7.4290566, 43.7415488],
        [7.4290772, 43.7415146],
        [7.4290911, 43.7414769],
        [7.4290926, 43.7414567],
        [7.4290740, 43.7414242],
        [7.4290457, 43.7413921],
        [7.4290079, 43.7413701],
        [7.4289455, 43.7413683],
        [7.4289152, 43.7413832],
        [7.4289153, 43.7413985],
        [7.4289248, 43.7414476],
        [7.4289467, 43.7414642],
        [7.4289369, 43.7414740],
    ];
    let m = net.match_route(&drawn);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert!(m.ways.iter().all(|w| w.way_id == 25179329), "{:?}", m.ways);
    assert_eq!(met(&m, "osm:node/1737114782"), Met::Reading, "{:?} {:?}", m.hits, m.possible);
}

/// A drawing along Baltimore's `osm:way/225367485` (one way; the evaluation's route 148 of
/// seed 3, built under a bridge), offset onto the one-way `osm:way/6005060` 6-8 m beside it
/// for its first 300 m: the match followed the nearer road, and the true one, 8 m off at
/// every sample, fell out of the beam after six samples. Where the two part, the drawing
/// lies on the true road, which nothing on the near one reaches: the chain broke. Up to
/// twelve samples are left out, so the chain goes on from the last sample at which the true
/// road was still held, and the match is the route's own way.
#[test]
fn a_chain_goes_back_to_where_the_road_it_needs_was_still_held() {
    let Some(net) = routes_common::network("baltimore.osm.pbf") else { return };
    let drawn: [[f64; 2]; 33] = [
        [-76.6066726, 39.2672371],
        [-76.6068056, 39.2672345],
        [-76.6069183, 39.2672294],
        [-76.6071240, 39.2672082],
        [-76.6072862, 39.2672091],
        [-76.6074904, 39.2671917],
        [-76.6076138, 39.2671818],
        [-76.6078191, 39.2671751],
        [-76.6079910, 39.2671637],
        [-76.6082297, 39.2671471],
        [-76.6083379, 39.2671407],
        [-76.6085723, 39.2671318],
        [-76.6087445, 39.2671209],
        [-76.6089347, 39.2671174],
        [-76.6090469, 39.2670990],
        [-76.6091725, 39.2671026],
        [-76.6094080, 39.2670868],
        [-76.6096114, 39.2670843],
        [-76.6098188, 39.2670858],
        [-76.6099313, 39.2670747],
        [-76.6100647, 39.2670780],
        [-76.6102074, 39.2670471],
        [-76.6104102, 39.2669901],
        [-76.6106009, 39.2669258],
        [-76.6107385, 39.2668789],
        [-76.6108703, 39.2668318],
        [-76.6110872, 39.2667462],
        [-76.6111718, 39.2667132],
        [-76.6113657, 39.2666356],
        [-76.6114772, 39.2665949],
        [-76.6116072, 39.2665631],
        [-76.6117964, 39.2665247],
        [-76.6119810, 39.2664939],
    ];
    let m = net.match_route(&drawn);
    assert_on_alone(&m, 225367485);
}

/// Baltimore 4 of seed 11 (vertices 20-63): the drawing runs a few metres nearer the
/// two-way `osm:way/225367485` than the one-way `osm:way/6005060` the route takes, for
/// longer than a chain may leave samples out, so the one-way falls out of the beam; where
/// the two part only it goes on. The chain's recent layers are scored again without a
/// beam instead of breaking ("cannot be followed").
#[test]
fn a_road_that_fell_out_of_the_beam_long_before_the_roads_part_is_taken_up_again() {
    let Some(net) = routes_common::network("baltimore.osm.pbf") else { return };
    let drawn: [[f64; 2]; 44] = [
        [-76.6048290, 39.2671945],
        [-76.6051204, 39.2672067],
        [-76.6052857, 39.2671910],
        [-76.6054742, 39.2671878],
        [-76.6057470, 39.2671799],
        [-76.6059266, 39.2671881],
        [-76.6058866, 39.2671863],
        [-76.6061689, 39.2671725],
        [-76.6064367, 39.2671634],
        [-76.6066745, 39.2671367],
        [-76.6068504, 39.2671359],
        [-76.6071454, 39.2671136],
        [-76.6072935, 39.2671117],
        [-76.6075301, 39.2671064],
        [-76.6077041, 39.2671002],
        [-76.6078557, 39.2670813],
        [-76.6080205, 39.2670796],
        [-76.6082212, 39.2670603],
        [-76.6083975, 39.2670618],
        [-76.6083660, 39.2670616],
        [-76.6086756, 39.2670494],
        [-76.6088527, 39.2670414],
        [-76.6090384, 39.2670202],
        [-76.6092028, 39.2670227],
        [-76.6093793, 39.2670022],
        [-76.6095394, 39.2670122],
        [-76.6097960, 39.2669943],
        [-76.6100041, 39.2669758],
        [-76.6101868, 39.2669750],
        [-76.6101419, 39.2669752],
        [-76.6104765, 39.2669515],
        [-76.6106667, 39.2669488],
        [-76.6108666, 39.2669457],
        [-76.6110663, 39.2669301],
        [-76.6112268, 39.2669242],
        [-76.6114515, 39.2669037],
        [-76.6117084, 39.2668980],
        [-76.6119419, 39.2668865],
        [-76.6122088, 39.2668802],
        [-76.6123821, 39.2668730],
        [-76.6126022, 39.2668573],
        [-76.6127453, 39.2668449],
        [-76.6126902, 39.2668497],
        [-76.6127342, 39.2668547],
    ];
    let m = net.match_route(&drawn);
    assert_on_alone(&m, 6005060);
}

/// The last 170 m of the evaluation's Helsinki route 439 (seed 8), which ends in the service
/// tunnel `osm:way/609208671` (`tunnel=yes`, clearance unknown) where it runs 5 m beside the
/// street the match ends on (`osm:way/74307865`, `75384651`, `36730333`). The drawn end lies
/// 5.3 m from the tunnel and 1.9 m from the street; a reading ends where the drawing does
/// within 4.9 m of it (the drawing runs 1.9 m from the path there, plus 3 m), and R2 passed
/// (before). Across two roads side by side that difference is the drift of the drawing's
/// offset: 5.9 m on a road beside the one the match ends on.
#[test]
fn a_road_beside_the_one_the_match_ends_on_is_read_a_little_further_from_the_drawn_end() {
    let net = helsinki();
    let drawn = [
        [24.9494553, 60.1673247],
        [24.9494451, 60.1674724],
        [24.9494310, 60.1677367],
        [24.9494147, 60.1680483],
        [24.9494357, 60.1683051],
        [24.9494080, 60.1686148],
        [24.9493774, 60.1687839],
        [24.9493150, 60.1688330],
    ];
    assert_read_instead(&net, &drawn, 609208671, "osm:way/609208671");
}

/// The evaluation's Paris route 191 (seed 25): 92 m that end on the 9 m dead-end spur
/// `osm:way/29712414` (`maxweight=3.5`) forking from a living street. The drawn end lies at
/// the fork, 1 m from the spur and 9 m from its far end; the match ends 1 m into the other
/// branch. Read by neither half alone (before, R3 passed): a reading may end on the spur
/// where the drawing does although the search on from it also reaches the drawn end at its
/// dead end, and a path 1 m past the fork ends at the fork for a reading that leaves it
/// there. Six of 24 fresh seeds missed this spur so.
#[test]
fn a_route_that_ends_just_into_a_short_restricted_spur_is_read_there() {
    let Some(net) = routes_common::network("paris_bss.osm.pbf") else { return };
    let drawn = [
        [2.3524922, 48.8692979],
        [2.3525240, 48.8693575],
        [2.3525502, 48.8693934],
        [2.3525837, 48.8694539],
        [2.3526115, 48.8695273],
        [2.3526403, 48.8695752],
        [2.3526244, 48.8696195],
        [2.3525432, 48.8696544],
        [2.3524749, 48.8696755],
        [2.3523835, 48.8697000],
        [2.3523182, 48.8697130],
        [2.3522471, 48.8697210],
        [2.3521633, 48.8697413],
        [2.3520600, 48.8697616],
        [2.3519757, 48.8697467],
        [2.3519466, 48.8697259],
    ];
    assert_read_instead(&net, &drawn, 29712414, "osm:way/29712414");
}

/// Part of the evaluation's bus route 186 (seed 111), which leaves the street
/// `osm:way/14194535` for 77 m round a small loop, the last part in a tunnel
/// (`osm:way/14197792`, `tunnel=yes`, clearance unknown), and rejoins the street 13 m on.
/// The drawing has one vertex in the loop, 11 m off the street and 2 m off the tunnel; it
/// never comes back within 4 m of where the loop rejoins the street, so it was not seen
/// to pass there twice, the drawing between was taken as 13 m against 77 m, and R2 passed
/// (before). Three of 48 fresh seeds missed this loop so. The sampling now keeps that
/// vertex (it stands more than 12 m off the line between the samples around it), and the
/// match goes round the loop.
#[test]
fn a_loop_a_sparse_drawing_goes_into_but_never_seems_to_leave_is_read_round() {
    let Some(net) = routes_common::network("bus.osm.pbf") else { return };
    let drawn = [
        [8.7022402, 49.4127714],
        [8.7017620, 49.4126980],
        [8.7014148, 49.4126505],
        [8.7013880, 49.4124605],
        [8.7012677, 49.4122394],
        [8.7007673, 49.4121264],
        [8.7002167, 49.4120555],
        [8.6999113, 49.4120398],
        [8.7000700, 49.4119268],
        [8.6997376, 49.4119810],
        [8.6993833, 49.4119791],
        [8.6992688, 49.4122543],
        [8.6993154, 49.4123825],
        [8.6990383, 49.4123528],
        [8.6986321, 49.4122778],
    ];
    assert_on_path(&net, &drawn, 14197792, "osm:way/14197792");
}

/// Part of the evaluation's bus route 419 (seed 97), which stays on the street
/// `osm:way/14194535` past the loop of the test above. Its drawing passes the loop 2 m from
/// the tunnel but 3 m from the street: drift beside the street, not a turn towards the
/// loop, and the loop is not read round (it was, in a first try of the rule above that did
/// not ask where the drawing lies).
#[test]
fn a_drawing_that_drifts_beside_a_loop_is_not_read_round_it() {
    let Some(net) = routes_common::network("bus.osm.pbf") else { return };
    let drawn = [
        [8.7011619, 49.4127061],
        [8.7013880, 49.4124340],
        [8.7009406, 49.4122674],
        [8.7005398, 49.4121794],
        [8.6999578, 49.4120959],
        [8.6994511, 49.4120702],
        [8.6992580, 49.4123114],
        [8.6988229, 49.4124398],
    ];
    assert_not_read_via(&net, &drawn, 14194535, 14197792);
}

/// The end of the evaluation's Monaco route 295 (seed 206), which goes round a small
/// roundabout (`osm:way/120113155`, about 12 m across) and ends on the 6 m private ramp
/// leaving it (`osm:way/201009267`, `access=private`, a tunnel). The drawing, about 5 m
/// off, goes round the roundabout and ends 4 m from the ramp's far end; the match leaves
/// the roundabout by the street beside the ramp. The whole ramp lies within the drawn end's
/// uncertainty: the route may end on it, and R4 passed (before) a way it may use.
#[test]
fn a_short_restricted_way_wholly_inside_the_drawn_end_is_read() {
    let Some(net) = routes_common::network("monaco.osm.pbf") else { return };
    let drawn = [
        [7.4182709, 43.7348361],
        [7.4182409, 43.7347461],
        [7.4182232, 43.7346753],
        [7.4182095, 43.7345606],
        [7.4181844, 43.7344873],
        [7.4181340, 43.7344182],
        [7.4181840, 43.7343643],
        [7.4182845, 43.7343912],
        [7.4183011, 43.7344707],
        [7.4182491, 43.7344772],
    ];
    assert_read_instead(&net, &drawn, 201009267, "osm:way/201009267");
}

/// The end of the evaluation's Helsinki route 490 (seed 194), which ends at a gate
/// (`osm:node/2092164259`, `barrier=gate`) at the end of the short way `osm:way/199191050`
/// but does not go through it: a route that may end on a short way passes the nodes it
/// goes on from, not the one it may stop at.
#[test]
fn a_gate_where_a_short_way_at_the_drawn_end_stops_is_not_passed() {
    let net = helsinki();
    let drawn = [
        [24.9466672, 60.1720388],
        [24.9461917, 60.1720226],
        [24.9458179, 60.1720109],
        [24.9455838, 60.1719955],
        [24.9451286, 60.1719875],
        [24.9451021, 60.1722122],
        [24.9450803, 60.1723723],
        [24.9450555, 60.1725072],
        [24.9450664, 60.1726654],
        [24.9451122, 60.1727307],
    ];
    let m = net.match_route(&drawn);
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert!(m.possible.iter().all(|p| p.hit.source != "osm:node/2092164259"), "{:?}", m.possible);
}

/// Four points of the evaluation's Monaco route 296 (seed 890), which goes up the one-way
/// street `osm:way/161748259`, round the service loop `osm:way/161748261` through its lift
/// gate (`osm:node/1737114782`) and back onto the street 17 m on. The second point lies at
/// the loop's mouth and the third by its far side, 9 m off the street; the drawing passes
/// where the loop rejoins the street before it. The stretch the loop was compared over
/// held the second point alone, which fits loop and street alike, so the gate passed (R4).
/// The points either side of that stretch are weighed too: the third fits the loop.
#[test]
fn a_detour_a_sparse_drawing_cuts_short_is_read_by_the_point_just_past_it() {
    let Some(net) = routes_common::network("monaco.osm.pbf") else { return };
    let drawn = [[7.4290416, 43.7410796], [7.4289166, 43.741336], [7.4290305, 43.7415157], [7.42894, 43.7417809]];
    assert_read_instead(&net, &drawn, 161748261, "osm:node/1737114782");
}

/// Nine points of the evaluation's Helsinki route 394 (seed 2018), which comes down one
/// carriageway of a primary road, turns on the 10 m link `osm:way/655405463`
/// (`maxlength=12`) and goes back up the other. The match takes the 21 m corner beside the
/// link (`osm:way/655405465`, `25522292`), never more than 3.5 m from it; the link, 11 m
/// shorter, was outside the length allowed and passed (R4). The drawing, 7 m off the roads,
/// draws the U-turn's tip by one point and cannot tell the two apart: the link is read.
#[test]
fn a_shortcut_within_a_drawings_drift_of_the_path_is_read_whatever_its_length() {
    let net = helsinki();
    let drawn = [
        [24.9423076, 60.167322],
        [24.9425126, 60.167175],
        [24.9428841, 60.1669425],
        [24.9431575, 60.1667673],
        [24.9435498, 60.1666815],
        [24.9434553, 60.1668606],
        [24.9431813, 60.1670236],
        [24.9429453, 60.1671831],
        [24.9427512, 60.1673185],
    ];
    assert_read_instead(&net, &drawn, 655405463, "osm:way/655405463");
}
