//! A full review of the SPEC example (registry lookups, 21 items, decision) without route
//! matching, against two baselines measured in the same run — JSON deserialisation alone,
//! and deserialisation plus validation — and the same review with map matching on the
//! Helsinki example (a 0.4 km, 21-vertex route along Bulevardi).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code: failing loudly is the point

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use oscar::Reviewer;
use oscar::application::Application;
use oscar::registry::JsonlRegistry;
use oscar::review::Verdict;
use oscar::rulebook::LoadedRulebook;

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{}/examples/{name}.json", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn bench(c: &mut Criterion) {
    let spec = read("spec-example");
    let helsinki = read("helsinki-example");
    let no_routes =
        Reviewer::new(LoadedRulebook::embedded().unwrap(), Box::new(JsonlRegistry::embedded_demo().unwrap()), None);
    let defaults = Reviewer::with_defaults().unwrap();
    let mut group = c.benchmark_group("review");
    group.bench_function("baseline: deserialise the SPEC example", |b| {
        b.iter(|| {
            let app: Application = serde_json::from_str(black_box(&spec)).unwrap();
            assert_eq!(app.vehicle.axles.len(), 6);
        })
    });
    group.bench_function("parse + validate the SPEC example", |b| {
        b.iter(|| {
            let app = no_routes.parse(black_box(&spec)).unwrap();
            assert_eq!(app.vehicle.axles.len(), 6);
        })
    });
    group.bench_function("full review of the SPEC example, no road network, no model", |b| {
        b.iter(|| {
            let review = no_routes.review_json(black_box(&spec)).unwrap();
            assert_eq!(review.verdict, Verdict::Escalate);
            assert_eq!(review.items.len(), 21);
        })
    });
    group.bench_function("full review with map matching and anomaly model, 0.4 km along Bulevardi, Helsinki", |b| {
        b.iter(|| {
            let review = defaults.review_json(black_box(&helsinki)).unwrap();
            assert_eq!(review.verdict, Verdict::Approve);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
