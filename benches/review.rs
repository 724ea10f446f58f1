//! A full review of the SPEC example (registry lookups, 21 items, decision; no road network)
//! against two baselines measured in the same run: JSON deserialisation alone, and
//! deserialisation plus validation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use oscar::Reviewer;
use oscar::application::Application;
use oscar::review::Verdict;

fn bench(c: &mut Criterion) {
    let json = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/spec-example.json"))
        .expect("examples/spec-example.json");
    let reviewer = Reviewer::with_defaults().expect("shipped defaults load");
    let mut group = c.benchmark_group("SPEC example (6 axles, 2-vertex route)");
    group.bench_function("baseline: deserialise only", |b| {
        b.iter(|| {
            let app: Application = serde_json::from_str(black_box(&json)).expect("valid");
            assert_eq!(app.vehicle.axles.len(), 6);
        })
    });
    group.bench_function("parse + validate", |b| {
        b.iter(|| {
            let app = reviewer.parse(black_box(&json)).expect("valid");
            assert_eq!(app.vehicle.axles.len(), 6);
        })
    });
    group.bench_function("full review from JSON", |b| {
        b.iter(|| {
            let review = reviewer.review_json(black_box(&json)).expect("valid");
            assert_eq!(review.verdict, Verdict::Escalate);
            assert_eq!(review.items.len(), 21);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
