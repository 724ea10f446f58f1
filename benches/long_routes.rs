//! Long routes: matching, the full review (with the anomaly model, as the service runs it),
//! and the review's stages one by one (parse + validate, registry, matching, model, items
//! and decision), of routes of about 10, 100 and 500 km drawn as another map would (5 m
//! offset, 3 m drift, a vertex every 40 m), on the largest network at hand, with a 1.5 km
//! route across the shipped Helsinki network as the short route and same-run baseline.
//!
//! The largest network is the scale test of `scripts/bench/scale_network.py` (the real
//! extracts side by side, joined by made-up trunk roads; not a real network) imported into
//! the directory `OSCAR_SCALE_NETWORK`; without it, the largest real extract in
//! `../shared/data/osm` (whose longest routes are shorter). Printed before the timings:
//! each route's length, vertices, and the peak memory one match adds (VmHWM, reset before).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code: failing loudly is the point

#[path = "../tests/routes_common/mod.rs"]
mod routes_common;

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BenchmarkGroup, BenchmarkId, Criterion, criterion_group, criterion_main};
use oscar::Reviewer;
use oscar::anomaly::{AnomalyModel, features, route_facts};
use oscar::checks::{Context, run_all};
use oscar::determination::determine;
use oscar::registry::{JsonlRegistry, fetch};
use oscar::review::decide;
use oscar::rng::SplitMix64;
use oscar::routes::analyse_geometry;
use oscar::routes::{RouteData, RouteNetwork};
use oscar::rulebook::LoadedRulebook;
use oscar::tooling::route_eval::{load_extract, perturb};
use routes_common::{helsinki_dir, osm_extracts};
use serde_json::{Value, json};

const LAT: f64 = 60.17;

fn status_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with(key)).unwrap_or("x 0 kB");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// Peak memory `work` adds, MiB: the high-water mark is reset first (Linux `clear_refs`).
fn peak_mib<T>(work: impl FnOnce() -> T) -> (T, f64) {
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = status_kib("VmRSS:");
    let out = work();
    let peak = if reset { status_kib("VmHWM:").saturating_sub(before) as f64 / 1024.0 } else { f64::NAN };
    (out, peak)
}

/// The largest network: the scale test, or the largest real extract.
fn largest() -> (String, RouteNetwork) {
    if let Some(dir) = std::env::var_os("OSCAR_SCALE_NETWORK").map(PathBuf::from) {
        return ("scale test (made-up trunk roads)".into(), RouteNetwork::load(&dir).expect("scale network"));
    }
    let pbf = osm_extracts()
        .and_then(|v| v.into_iter().max_by_key(|p| std::fs::metadata(p).map_or(0, |m| m.len())))
        .expect("an extract in ../shared/data/osm");
    (pbf.file_name().unwrap().to_string_lossy().into_owned(), load_extract(&pbf).expect("largest extract"))
}

/// A road path of 70 to 115 % of `km` eastwards from near the west end of the network:
/// shortest paths between roads nearest to points that far apart, the first that fits.
fn path_of(net: &RouteNetwork, km: f64) -> Option<Vec<[f64; 2]>> {
    let nodes: Vec<[f64; 2]> = net.ways().flat_map(|w| w.coords).collect();
    let m_per_lon = 111_195.0 * LAT.to_radians().cos();
    let west = nodes.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
    let at = |east_m: f64| {
        let lon = west + east_m / m_per_lon;
        *nodes.iter().min_by(|a, b| (a[0] - lon).abs().total_cmp(&(b[0] - lon).abs())).unwrap()
    };
    for start_m in [100.0, 2_000.0, 10_000.0, 20_000.0] {
        for straight in [0.9, 0.8, 0.7, 0.6, 0.5] {
            let (from, to) = (at(start_m), at(start_m + straight * km * 1000.0));
            if let Some(p) = net.shortest_path(from, to)
                && (0.7 * km..=1.15 * km).contains(&(p.length_m / 1000.0))
            {
                return Some(p.line);
            }
        }
    }
    None
}

/// The scale test's long routes: about 100 km (from the first made-up trunk road across the
/// second city onto the second) and 500 km (from the first trunk road to the fifth), as
/// shortest paths; none on a network without them.
fn trunk_paths(net: &RouteNetwork) -> Vec<(f64, Vec<[f64; 2]>)> {
    let mut trunks: Vec<Vec<[f64; 2]>> = net
        .ways()
        .filter(|w| w.name.as_deref().is_some_and(|n| n.starts_with("scale-test trunk")))
        .map(|w| w.coords)
        .collect();
    trunks.sort_by(|a, b| a[0][0].total_cmp(&b[0][0]));
    let along = |k: usize, t: f64| trunks.get(k).map(|c| c[((c.len() - 1) as f64 * t) as usize]);
    [(100.0, (0, 0.5), (1, 0.45)), (500.0, (0, 0.05), (4, 0.95))]
        .into_iter()
        .filter_map(|(km, a, b)| {
            let p = net.shortest_path(along(a.0, a.1)?, along(b.0, b.1)?)?;
            Some((km, p.line))
        })
        .collect()
}

fn length_km(line: &[[f64; 2]]) -> f64 {
    oscar::routes::path_length_m(line) / 1000.0
}

fn application(route: &[[f64; 2]]) -> Value {
    let text = std::fs::read_to_string(format!("{}/examples/helsinki-example.json", env!("CARGO_MANIFEST_DIR")));
    let mut app: Value = serde_json::from_str(&text.unwrap()).unwrap();
    app["route"]["geometry"]["coordinates"] = json!(route);
    app
}

fn reviewer(net: RouteNetwork) -> Reviewer {
    Reviewer::new(
        LoadedRulebook::embedded().unwrap(),
        Box::new(JsonlRegistry::embedded_demo().unwrap()),
        Some(RouteData::new(net, Vec::new(), "")),
    )
    .with_model(AnomalyModel::embedded().unwrap())
}

/// The review's stages one by one, as `Reviewer::review_value` runs them, each on the
/// previous stages' results: parse + validate (from the JSON text), registry lookups,
/// matching (with the closures on the route), the anomaly model (the route's facts on the
/// network, the features, the score), and the items with the decision (and the alternative
/// route where an item fails).
fn stages(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, r: &Reviewer, app: &Value, label: &str) {
    let text = app.to_string();
    let registry = JsonlRegistry::embedded_demo().unwrap();
    let model = AnomalyModel::embedded().unwrap();
    let data = r.routes().unwrap();
    let parsed = r.parse(&text).unwrap();
    let book = r.rulebook(&parsed.jurisdiction).unwrap();
    let coords = &parsed.route.geometry.coordinates;
    let refs = fetch(&parsed, &registry);
    let mut route = analyse_geometry(coords, book.rules.route.max_vertex_gap.si());
    route.network = Some(data.analyse(coords));
    let matched = &route.network.as_ref().unwrap().matched;
    let anomaly = model.score(&features(&parsed, &refs, route_facts(&data.network, matched).as_ref()));
    let id = |stage: &str| BenchmarkId::new(format!("stage {stage}"), label);
    group.bench_function(id("parse + validate"), |b| b.iter(|| r.parse(black_box(&text)).unwrap()));
    group.bench_function(id("registry"), |b| b.iter(|| fetch(black_box(&parsed), &registry)));
    group.bench_function(id("matching"), |b| b.iter(|| data.analyse(black_box(coords))));
    group.bench_function(id("model"), |b| {
        b.iter(|| {
            let facts = route_facts(&data.network, black_box(matched));
            model.score(&features(&parsed, &refs, facts.as_ref()))
        })
    });
    group.bench_function(id("items and decision"), |b| {
        b.iter(|| {
            let det = determine(black_box(&parsed), &book.rules);
            let ctx = Context { app: &parsed, refs: &refs, rules: &book.rules, det: &det, route: &route };
            let items = run_all(&ctx);
            let decision = decide(&items, &det, Some(&anomaly), &book.rules.envelope);
            let alternative = oscar::alternative::propose(&ctx, &items, data);
            (decision, alternative)
        })
    });
}

fn bench(c: &mut Criterion) {
    let (name, net) = largest();
    let mut routes = Vec::new();
    let helsinki = RouteNetwork::load(&helsinki_dir()).expect("shipped network");
    if let Some(line) = path_of(&helsinki, 1.5) {
        routes.push(("baseline: shipped Helsinki".to_string(), 1.5, line));
    }
    let long = path_of(&net, 10.0).map(|line| (10.0, line)).into_iter().chain(trunk_paths(&net));
    routes.extend(long.map(|(km, line)| (name.clone(), km, line)));
    let reviewers = [reviewer(helsinki), reviewer(net)];
    let mut group = c.benchmark_group("long routes");
    group.sample_size(10);
    for (network, _, line) in &routes {
        let r = &reviewers[usize::from(!network.starts_with("baseline"))];
        let net = &r.routes().unwrap().network;
        let drawn = perturb(line, &mut SplitMix64::new(3), 5.0, 3.0, 40.0);
        let (matched, peak) = peak_mib(|| net.match_route(&drawn));
        let km = length_km(line);
        eprintln!(
            "{network}: {km:.1} km road path, drawn with {} vertices: matched {:.1} km, confidence {:.2}, {} problems, \
             peak memory of one match +{peak:.1} MiB",
            drawn.len(),
            matched.length_m / 1000.0,
            matched.confidence,
            matched.problems.len()
        );
        // Monaco's hairpins read as a route turning back now and then: reported, not fatal.
        assert!(matched.confidence > 0.8, "{:?}", matched.problems.first());
        let label = format!("{km:.1} km, {network}");
        group.bench_function(BenchmarkId::new("match", &label), |b| {
            b.iter(|| {
                let m = net.match_route(black_box(&drawn));
                assert_eq!(m.ways.len(), matched.ways.len());
                m
            })
        });
        let app = application(&drawn);
        let review = r.review_value(&app).unwrap();
        eprintln!("{network}: full review of the {km:.1} km route: {:?}", review.verdict);
        group.bench_function(BenchmarkId::new("full review", &label), |b| {
            b.iter(|| {
                let again = r.review_value(black_box(&app)).unwrap();
                assert_eq!(again.verdict, review.verdict);
                again
            })
        });
        stages(&mut group, r, &app, &label);
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
