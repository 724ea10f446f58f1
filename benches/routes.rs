//! Match + restriction lookup on the shipped Helsinki network, against a brute-force
//! nearest-segment matcher (the "plain proximity" baseline) in the same run; the search
//! for a legal alternative route (A*, restrictions filtered at query time) on the shipped
//! network and the largest extract in `../shared/data/osm`, against plain Dijkstra.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::type_complexity)]

#[path = "../tests/routes_common/mod.rs"]
mod routes_common;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use oscar::routes::{LegalPath, RestrictionHit, RestrictionKind, RouteNetwork, Search, WayView};
use routes_common::{Graph, Rng, helsinki_dir, metres, osm_extracts, perturb};
use std::hint::black_box;

/// Brute force: nearest segment of every way for each vertex, then that way's tags.
fn brute_force(ways: &[WayView], route: &[[f64; 2]]) -> usize {
    let mut hits = 0;
    for &p in route {
        let mut best = (f64::MAX, 0usize);
        for (i, w) in ways.iter().enumerate() {
            for s in w.coords.windows(2) {
                let d = metres(p, s[0]).min(metres(p, s[1]));
                if d < best.0 {
                    best = (d, i);
                }
            }
        }
        hits += ways[best.1].tags.len();
    }
    hits
}

fn bench(c: &mut Criterion) {
    let net = RouteNetwork::load(&helsinki_dir()).expect("shipped network");
    let graph = Graph::new(&net);
    let ways: Vec<WayView> = net.ways().collect();
    let mut rng = Rng::new(7);
    let ok = |w: &WayView| !w.tunnel && w.highway != "service";
    let walk = loop {
        if let Some(w) = graph.walk(&mut rng, 3000.0, &ok)
            && w.ways.iter().map(|x| x.1).sum::<f64>() > 2000.0
        {
            break w;
        }
    };
    let len: f64 = walk.ways.iter().map(|x| x.1).sum();
    let mut group = c.benchmark_group("match a route through central Helsinki");
    group.sample_size(20);
    for n in [100usize, 1_000, 10_000] {
        let route = perturb(&walk.line, &mut Rng::new(n as u64), 5.0, 3.0, len / n as f64);
        let expected = net.match_route(&route);
        assert!(!expected.ways.is_empty(), "{:?}", expected.problems);
        group.bench_with_input(BenchmarkId::new(format!("hmm {:.1} km", len / 1000.0), route.len()), &route, |b, r| {
            b.iter(|| {
                let m = net.match_route(black_box(r));
                assert_eq!(m.ways.len(), expected.ways.len());
                m
            })
        });
        if n <= 1_000 {
            group.bench_with_input(BenchmarkId::new("brute-force nearest segment", route.len()), &route, |b, r| {
                b.iter(|| brute_force(&ways, black_box(r)))
            });
        }
    }
    group.finish();
}

/// What a 4.3 m high, 53.5 t load may pass, as R2-R4 judge it for the example application:
/// height limits from 4.4 m (with the margin), weight limits from 53.5 t, no access
/// restriction, no structure of unknown clearance or rating (both above the legal figures).
fn example_load_passes(h: &RestrictionHit) -> bool {
    match h.kind {
        RestrictionKind::MaxHeight => h.limit.is_some_and(|l| l >= 4.4),
        RestrictionKind::MaxWeight | RestrictionKind::MaxAxleLoad => h.limit.is_some_and(|l| l >= 53_500.0),
        RestrictionKind::MaxWidth => h.limit.is_some_and(|l| l >= 3.2),
        RestrictionKind::MaxLength => h.limit.is_some_and(|l| l >= 22.0),
        RestrictionKind::Access | RestrictionKind::ClearanceUnknown | RestrictionKind::RatingUnknown => false,
    }
}

/// The longest legal route among seeded random node pairs (up to 50 km): its ends and length.
fn longest_pair(net: &RouteNetwork, barred: &oscar::routes::Barred) -> ([f64; 2], [f64; 2], f64) {
    let nodes: Vec<[f64; 2]> = net.ways().flat_map(|w| w.coords).collect();
    let mut rng = Rng::new(16);
    let mut best = (nodes[0], nodes[0], 0.0);
    for _ in 0..300 {
        let (a, b) = (*rng.pick(&nodes), *rng.pick(&nodes));
        if let LegalPath::Found(p) = net.legal_path(a, b, barred, Search::AStar)
            && p.length_m > best.2
            && p.length_m <= 50_000.0
        {
            best = (a, b, p.length_m);
        }
    }
    best
}

fn alternative(c: &mut Criterion) {
    let mut networks = vec![("helsinki (shipped)".to_string(), RouteNetwork::load(&helsinki_dir()).expect("shipped"))];
    let largest =
        osm_extracts().and_then(|v| v.into_iter().max_by_key(|p| std::fs::metadata(p).map_or(0, |m| m.len())));
    if let Some(pbf) = largest {
        let name = pbf.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        networks.push((name, oscar::tooling::route_eval::load_extract(&pbf).expect("largest extract")));
    }
    let mut group = c.benchmark_group("alternative route search");
    group.sample_size(20);
    for (name, net) in &networks {
        group.bench_function(BenchmarkId::new("bar restrictions for one vehicle", name), |b| {
            b.iter(|| net.barred(example_load_passes, &[]))
        });
        let barred = net.barred(example_load_passes, &[]);
        let (from, to, length) = longest_pair(net, &barred);
        for (label, search) in [("A*", Search::AStar), ("plain Dijkstra", Search::Dijkstra)] {
            let id = BenchmarkId::new(format!("{label} {:.1} km", length / 1000.0), name);
            group.bench_function(id, |b| {
                b.iter(|| {
                    let LegalPath::Found(p) = net.legal_path(black_box(from), black_box(to), &barred, search) else {
                        panic!("the pair is connected")
                    };
                    assert!((p.length_m - length).abs() < 1e-6);
                    p
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench, alternative);
criterion_main!(benches);
