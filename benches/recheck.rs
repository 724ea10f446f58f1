//! Re-checking the approved permits when a restriction is added: the R-tree of approved
//! routes (`oscar::route_index`) with 250,000 approved permits, against the full scan it
//! replaced (every approved application read and compared, the ones near it matched
//! again) on 10,000 of them in the same run (the scan grows with the permits: multiply
//! by 25 for 250,000).
//!
//! The permits: 5,000 applications from `oscar gen` (trips on the shipped Helsinki
//! network, 2.5 km on average, redrawn as another map would) approved 50 times each over
//! 2026, each time with its own id and travel days (its route matched once). A candidate's
//! application is written out as JSON when it is checked, standing in for reading it from
//! the ledger. The restrictions: points and short stretches on real roads of the network,
//! closed or under lowered limits, valid for one to three days.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code: failing loudly is the point

#[path = "../tests/recheck_common/mod.rs"]
mod recheck_common;

use std::hint::black_box;
use std::time::Instant;

use chrono::{Duration, NaiveDate};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use oscar::Reviewer;
use oscar::restrictions::{Affected, affected_among};
use oscar::rng::SplitMix64;
use oscar::route_index::{Pieces, RouteIndex};
use oscar::routes::Closure;
use recheck_common::{applications, restrictions};
use serde_json::{Value, json};

const ROUTES: usize = 5_000;
const PERMITS: usize = 250_000;
const SCANNED: usize = 10_000;

/// The approved permits: which generated application each is, and its travel days.
struct Permits {
    apps: Vec<Value>,
    /// By ledger position from 1: application, first and last travel day.
    permits: Vec<(usize, NaiveDate, NaiveDate)>,
}

impl Permits {
    /// The permit recorded at `seq` as the ledger would hold it: id and JSON.
    fn read(&self, seq: i64) -> (String, String) {
        let (app, start, end) = self.permits[usize::try_from(seq - 1).unwrap()];
        let mut v = self.apps[app].clone();
        let id = format!("P-{seq:06}");
        v["application_id"] = json!(id);
        v["schedule"]["start"] = json!(start);
        v["schedule"]["end"] = json!(end);
        (id, v.to_string())
    }

    /// What a restriction affects among `candidates` (ledger positions).
    fn affected(&self, reviewer: &Reviewer, closure: &Closure, candidates: impl Iterator<Item = i64>) -> Vec<Affected> {
        let read: Vec<(String, String)> = candidates.map(|seq| self.read(seq)).collect();
        affected_among(reviewer, closure, read.iter().map(|(id, json)| (id.as_str(), json.as_str())))
    }
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or("VmRSS: 0 kB");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn bench(c: &mut Criterion) {
    let reviewer = Reviewer::with_defaults().unwrap();
    let network = &reviewer.routes().unwrap().network;
    let apps = applications(network, ROUTES, 20_261_130);
    let mut rng = SplitMix64::new(7);
    let year = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let mut permits = Permits { apps, permits: Vec::with_capacity(PERMITS) };
    let (mut pieces, mut segments) = (Vec::with_capacity(PERMITS), 0);
    let started = Instant::now();
    for (a, app) in permits.apps.iter().enumerate() {
        let parsed = reviewer.parse(&app.to_string()).unwrap();
        let matched = network.match_route(&parsed.route.geometry.coordinates);
        segments += matched.segments.len();
        let days = parsed.schedule.end - parsed.schedule.start;
        for _ in 0..PERMITS / ROUTES {
            let start = year + Duration::days(rng.below(365) as i64);
            let seq = permits.permits.len() as i64 + 1;
            permits.permits.push((a, start, start + days));
            pieces.push((seq, Pieces::new(&format!("P-{seq:06}"), start, start + days, &matched)));
        }
    }
    let matched_in = started.elapsed();
    let before = rss_kib();
    let started = Instant::now();
    let index = RouteIndex::new(pieces);
    let built_in = started.elapsed();
    let memory_mib = rss_kib().saturating_sub(before) as f64 / 1024.0;
    let closures = restrictions(network, 50, 3, |rng| 1 + rng.below(3) as i64);

    // What each restriction affects, found through the index; on the first 10,000 permits,
    // the same as the full scan finds.
    let expected: Vec<Vec<Affected>> = closures
        .iter()
        .map(|c| permits.affected(&reviewer, c, index.candidates(c).into_iter().map(|(seq, _)| seq)))
        .collect();
    let candidates: usize = closures.iter().map(|c| index.candidates(c).len()).sum();
    let found: usize = expected.iter().map(Vec::len).sum();
    let scan = |c: &Closure| permits.affected(&reviewer, c, 1..=SCANNED as i64);
    for (c, all) in closures.iter().zip(&expected).take(5) {
        let first: Vec<&str> = all
            .iter()
            .map(|a| a.application_id.as_str())
            .filter(|id| id[2..].parse::<usize>().unwrap() <= SCANNED)
            .collect();
        let scanned: Vec<String> = scan(c).into_iter().map(|a| a.application_id).collect();
        assert_eq!(first, scanned, "{}", c.id);
    }
    eprintln!(
        "{PERMITS} approved permits on {ROUTES} routes ({:.0} matched segments a route): matched in {:.1} s, \
         indexed in {:.1} s, index {memory_mib:.0} MiB; {} restrictions: {:.1} candidates and {:.1} affected \
         permits each",
        segments as f64 / ROUTES as f64,
        matched_in.as_secs_f64(),
        built_in.as_secs_f64(),
        closures.len(),
        candidates as f64 / closures.len() as f64,
        found as f64 / closures.len() as f64
    );

    let mut group = c.benchmark_group("re-check a new restriction");
    group.sample_size(20);
    let mut next = 0;
    group.bench_function(BenchmarkId::new("R-tree of approved routes", PERMITS), |b| {
        b.iter(|| {
            let k = next % closures.len();
            next += 1;
            let c = &closures[k];
            let found = permits.affected(&reviewer, c, index.candidates(black_box(c)).into_iter().map(|(seq, _)| seq));
            assert_eq!(found.len(), expected[k].len());
            found
        })
    });
    group.sample_size(10);
    let mut next = 0;
    group.bench_function(BenchmarkId::new("baseline: full scan", SCANNED), |b| {
        b.iter(|| {
            next += 1;
            scan(black_box(&closures[next % closures.len()]))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
