//! The in-process baseline of the service overhead: one full review (parse, validate,
//! registry, 21 items with map matching, the anomaly model, decide) of each application in
//! `oscar loadtest`'s mix (the examples and the golden cases), as `POST /v1/reviews` does
//! it without HTTP and the ledger. `scripts/bench/all.sh` divides the time of one pass by
//! the number of applications (printed) and sets it beside the server's CPU per request.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code: failing loudly is the point

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use oscar::setup::ReviewerConfig;
use oscar::tooling::loadtest::load_mix;

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mix = load_mix(&root.join("examples"), &root.join("tests/cases")).unwrap();
    // The reviewer `oscar serve` builds with its defaults.
    let reviewer = ReviewerConfig::default().build(&[], None).unwrap().reviewer;
    let reviewed = mix.iter().filter(|app| reviewer.review_value(app).is_ok()).count();
    eprintln!("loadtest mix: {} applications, {reviewed} reviewable", mix.len());
    c.bench_function("review the loadtest mix in-process, one pass", |b| {
        b.iter(|| {
            let ok = mix.iter().filter(|app| reviewer.review_value(black_box(app)).is_ok()).count();
            assert_eq!(ok, reviewed);
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
