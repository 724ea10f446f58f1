//! Match + restriction lookup on the shipped Helsinki network, against a brute-force
//! nearest-segment matcher (the "plain proximity" baseline) in the same run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::type_complexity)]

#[path = "../tests/routes_common/mod.rs"]
mod routes_common;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use oscar::routes::{RouteNetwork, WayView};
use routes_common::{Graph, Rng, helsinki_dir, metres, perturb};
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

criterion_group!(benches, bench);
criterion_main!(benches);
