//! Cost of the anomaly model inside a review: feature extraction, and inference (plain loops
//! over the weights) at batch 1, 32 and 256.
//!
//! ```text
//! cargo bench --bench anomaly
//! ```

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use oscar::anomaly::{AnomalyModel, Features, features};
use oscar::tooling::anomaly::generator::{Sample, normal_samples};

fn bench(c: &mut Criterion) {
    let Ok(model) = AnomalyModel::embedded() else {
        eprintln!("the shipped model does not load; run `oscar train` first");
        return;
    };
    let samples: Vec<Sample> = normal_samples(99, 256);
    let feats: Vec<Features> = samples.iter().map(|s| s.features()).collect();
    let threshold = model.config().threshold;

    let mut g = c.benchmark_group("anomaly");
    g.bench_function("features of one generated tractor + trailer application", |b| {
        let s = &samples[0];
        b.iter(|| {
            let f = features(black_box(&s.app), black_box(&s.refs), black_box(s.route.as_ref()));
            assert!(f.values.iter().all(|v| v.is_finite()));
            f
        })
    });
    g.bench_function("features + score, one application (batch 1)", |b| {
        let s = &samples[1];
        b.iter(|| {
            let block = model.score(&features(black_box(&s.app), black_box(&s.refs), black_box(s.route.as_ref())));
            assert!(block.score.is_finite() && block.threshold == threshold);
            block
        })
    });
    for n in [1usize, 32, 256] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("score_batch of precomputed features", n), &n, |b, &n| {
            b.iter(|| {
                let blocks = model.score_batch(black_box(&feats[..n]));
                assert_eq!(blocks.len(), n);
                blocks
            })
        });
        g.bench_with_input(BenchmarkId::new("raw scores only (no explanation)", n), &n, |b, &n| {
            b.iter(|| {
                let scores = model.raw_scores(black_box(&feats[..n])).map(|s| s.len());
                assert_eq!(scores.ok(), Some(n));
            })
        });
        g.bench_with_input(BenchmarkId::new("features + score_batch", n), &n, |b, &n| {
            b.iter(|| {
                let fs: Vec<Features> = samples[..n].iter().map(|s| s.features()).collect();
                let blocks = model.score_batch(black_box(&fs));
                assert_eq!(blocks.len(), n);
                blocks
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
