//! Re-checking the approved permits when a restriction is added: the R-tree of approved
//! routes (`oscar::route_index`) with 250,000 approved permits, each candidate decided from
//! what the index keeps of it (travel days, vehicle measures, matched path as the network's
//! way and segment numbers), against, in the same run, the two paths it replaced: the same
//! candidates read and matched again (the index as it was before it kept paths), and the full
//! scan (every approved application read and compared, the ones near it matched again) on the
//! first 10,000 of them, 2,000 on the larger network (the scan grows with the permits:
//! multiply by 25 or 125 for 250,000). And what indexing one approval costs: an entry made
//! from the review's own match, against the stored application parsed and matched again.
//!
//! The permits: 5,000 applications from `oscar gen` (trips between places of the network,
//! redrawn as another map would) approved 50 times each over 2026, each time with its own id
//! and travel days (its route matched once), on two real networks: the shipped central
//! Helsinki (1 × 1.7 km: every permit of the year in one district, the worst case) and the
//! largest extract in `../shared/data/osm` (Heidelberg and its region, about 100 km across).
//! Where a candidate is matched again its application is written out as JSON first, standing
//! in for reading it from the ledger. The restrictions: points and short stretches on real
//! roads, half of them on a road a permit uses, closed or under lowered limits, valid for one
//! to three days.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code: failing loudly is the point

#[path = "../tests/recheck_common/mod.rs"]
mod recheck_common;
#[path = "../tests/routes_common/mod.rs"]
mod routes_common;

use std::hint::black_box;
use std::time::Instant;

use chrono::{Duration, NaiveDate};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use oscar::Reviewer;
use oscar::checks::LoweredMeasures;
use oscar::registry::JsonlRegistry;
use oscar::restrictions::{Affected, affected_among, affected_indexed, approved_route};
use oscar::rng::SplitMix64;
use oscar::route_index::{ApprovedRoute, RouteIndex, Travel};
use oscar::routes::{Closure, RouteData, RouteNetwork};
use oscar::rulebook::LoadedRulebook;
use recheck_common::{applications, restrictions};
use serde_json::{Value, json};

const ROUTES: usize = 5_000;
const PERMITS: usize = 250_000;
/// Permits the full scan reads on the shipped network, and on the larger one.
const SCANNED: [usize; 2] = [10_000, 2_000];

/// The approved permits on one network, their index and the restrictions to add.
struct Scenario {
    reviewer: Reviewer,
    apps: Vec<Value>,
    /// By ledger position from 1: application, first and last travel day.
    permits: Vec<(usize, NaiveDate, NaiveDate)>,
    index: RouteIndex,
    closures: Vec<Closure>,
    /// Permits the full scan reads.
    scanned: usize,
}

impl Scenario {
    fn new(name: &str, network: RouteNetwork, scanned: usize) -> Scenario {
        let reviewer = Reviewer::new(
            LoadedRulebook::embedded().unwrap(),
            Box::new(JsonlRegistry::embedded_demo().unwrap()),
            Some(RouteData::new(network, Vec::new(), "")),
        );
        let network = &reviewer.routes().unwrap().network;
        let apps = applications(network, ROUTES, 20_261_130);
        let mut rng = SplitMix64::new(7);
        let year = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let (mut segments, mut km) = (0, 0.0);
        let started = Instant::now();
        let travels: Vec<Travel> = apps
            .iter()
            .map(|app| {
                let parsed = reviewer.parse(&app.to_string()).unwrap();
                let matched = network.match_route(&parsed.route.geometry.coordinates);
                (segments, km) = (segments + matched.segments.len(), km + matched.length_m / 1000.0);
                let book = reviewer.rulebook(&parsed.jurisdiction).unwrap();
                let measures = LoweredMeasures::of(&parsed, book.rules.route.height_margin.si());
                Travel::new(&parsed, Some(measures), matched, network.version())
            })
            .collect();
        let matched_in = started.elapsed();
        let before = rss_kib();
        let started = Instant::now();
        let mut permits = Vec::new();
        let mut index = RouteIndex::default();
        for (a, mut travel) in travels.into_iter().enumerate() {
            let days = travel.end - travel.start;
            for _ in 0..PERMITS / ROUTES {
                travel.start = year + Duration::days(rng.below(365) as i64);
                travel.end = travel.start + days;
                let seq = permits.len() as i64 + 1;
                permits.push((a, travel.start, travel.end));
                index.insert(seq, ApprovedRoute::new(&format!("P-{seq:06}"), &travel));
            }
        }
        let built_in = started.elapsed();
        let memory_mib = rss_kib().saturating_sub(before) as f64 / 1024.0;
        let mut closures = restrictions(network, 50, 3, |rng| 1 + rng.below(3) as i64);
        // Half on a road a permit uses (a vertex of its drawn route): on a wide network most
        // roads carry no permit at all.
        for closure in closures.iter_mut().step_by(2) {
            let route = apps[rng.below(ROUTES as u64) as usize]["route"]["geometry"]["coordinates"].as_array().unwrap();
            let at = &route[rng.below(route.len() as u64) as usize];
            closure.geometry = vec![[at[0].as_f64().unwrap(), at[1].as_f64().unwrap()]];
        }
        eprintln!(
            "{name}: {PERMITS} approved permits on {ROUTES} routes ({:.1} km, {:.0} matched segments a route): \
             matched in {:.1} s, indexed in {:.1} s, index {memory_mib:.0} MiB",
            km / ROUTES as f64,
            segments as f64 / ROUTES as f64,
            matched_in.as_secs_f64(),
            built_in.as_secs_f64(),
        );
        Scenario { reviewer, apps, permits, index, closures, scanned }
    }

    /// The permit recorded at `seq` as the ledger would hold it: id and JSON.
    fn read(&self, seq: i64) -> (String, String) {
        let (app, start, end) = self.permits[usize::try_from(seq - 1).unwrap()];
        let mut v = self.apps[app].clone();
        let id = format!("P-{seq:06}");
        v["application_id"] = json!(id);
        v["schedule"]["start"] = json!(start);
        v["schedule"]["end"] = json!(end);
        // Submitted the day before it travels (a schedule may not start before it).
        v["submitted_at"] = json!(format!("{}T12:00:00Z", start - Duration::days(1)));
        (id, v.to_string())
    }

    /// What a restriction affects among `candidates` (ledger positions).
    fn affected(&self, closure: &Closure, candidates: impl Iterator<Item = i64>) -> Vec<Affected> {
        let read: Vec<(String, String)> = candidates.map(|seq| self.read(seq)).collect();
        affected_among(&self.reviewer, closure, read.iter().map(|(id, json)| (id.as_str(), json.as_str())))
    }

    /// Through the index, each candidate decided from what it keeps.
    fn indexed(&self, closure: &Closure) -> Vec<Affected> {
        let found = affected_indexed(&self.reviewer, &self.index, closure);
        assert!(found.stale.is_empty());
        found.found.into_iter().map(|(_, a)| a).collect()
    }

    /// Through the index, each candidate read and matched again (before the index kept paths).
    fn rematched(&self, closure: &Closure) -> Vec<Affected> {
        self.affected(closure, self.index.candidates(closure).into_iter().map(|p| p.seq))
    }

    /// The full scan of the first `scanned` permits.
    fn scan(&self, closure: &Closure) -> Vec<Affected> {
        self.affected(closure, 1..=self.scanned as i64)
    }
}

/// Times `how` on the restrictions in turn from the `next`, checking each answer against
/// the `expected` one.
fn answers(
    b: &mut criterion::Bencher,
    s: &Scenario,
    expected: &[Vec<Affected>],
    next: &mut usize,
    how: fn(&Scenario, &Closure) -> Vec<Affected>,
) {
    b.iter(|| {
        let k = *next % s.closures.len();
        *next += 1;
        let found = how(s, black_box(&s.closures[k]));
        assert_eq!(found.len(), expected[k].len());
        found
    })
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or("VmRSS: 0 kB");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn bench(c: &mut Criterion) {
    let mut networks =
        vec![("helsinki (shipped)".to_string(), RouteNetwork::load(&routes_common::helsinki_dir()).unwrap())];
    let largest = routes_common::osm_extracts()
        .and_then(|v| v.into_iter().max_by_key(|p| std::fs::metadata(p).map_or(0, |m| m.len())));
    if let Some(pbf) = largest {
        let name = pbf.file_name().unwrap().to_string_lossy().into_owned();
        networks.push((name, oscar::tooling::route_eval::load_extract(&pbf).unwrap()));
    }
    let mut group = c.benchmark_group("re-check a new restriction");
    for ((name, network), scanned) in networks.into_iter().zip(SCANNED) {
        let s = Scenario::new(&name, network, scanned);
        let expected: Vec<Vec<Affected>> = s.closures.iter().map(|c| s.indexed(c)).collect();
        let candidates: usize = s.closures.iter().map(|c| s.index.candidates(c).len()).sum();
        let found: usize = expected.iter().map(Vec::len).sum();
        // On the permits the full scan reads, the index finds what it finds, and on all of
        // them what matching the candidates again finds.
        for (c, all) in s.closures.iter().zip(&expected).take(6) {
            let json = |found: &[Affected]| serde_json::to_string(found).unwrap();
            assert_eq!(json(all), json(&s.rematched(c)), "{}", c.id);
            let first: Vec<&str> = all
                .iter()
                .map(|a| a.application_id.as_str())
                .filter(|id| id[2..].parse::<usize>().unwrap() <= scanned)
                .collect();
            let scanned: Vec<String> = s.scan(c).into_iter().map(|a| a.application_id).collect();
            assert_eq!(first, scanned, "{}", c.id);
        }
        let n = s.closures.len() as f64;
        eprintln!(
            "{name}: {} restrictions: {:.1} candidates checked and {:.1} permits affected each",
            s.closures.len(),
            candidates as f64 / n,
            found as f64 / n
        );
        group.sample_size(20);
        let mut next = 0;
        group.bench_function(BenchmarkId::new(format!("R-tree of approved routes, {PERMITS}"), &name), |b| {
            answers(b, &s, &expected, &mut next, Scenario::indexed)
        });
        group.bench_function(BenchmarkId::new(format!("R-tree query alone, {PERMITS}"), &name), |b| {
            b.iter(|| {
                next += 1;
                s.index.candidates(black_box(&s.closures[next % s.closures.len()]))
            })
        });
        group.sample_size(10);
        group.bench_function(BenchmarkId::new(format!("baseline: candidates matched again, {PERMITS}"), &name), |b| {
            answers(b, &s, &expected, &mut next, Scenario::rematched)
        });
        group.bench_function(BenchmarkId::new(format!("baseline: full scan, {scanned}"), &name), |b| {
            b.iter(|| {
                next += 1;
                s.scan(black_box(&s.closures[next % s.closures.len()]))
            })
        });
        // What one approval adds: its entry from the review's match, against matching the
        // stored application again (what the service did before).
        let (id, json) = s.read(1);
        group.sample_size(20);
        group.bench_function(BenchmarkId::new("index an approval: from the review's match", &name), |b| {
            let travel = s.reviewer.review_with_travel(&serde_json::from_str(&json).unwrap(), None);
            let travel = travel.unwrap().1.unwrap();
            b.iter(|| ApprovedRoute::new(black_box(&id), &travel))
        });
        group.bench_function(BenchmarkId::new("baseline: index an approval by matching it again", &name), |b| {
            b.iter(|| approved_route(&s.reviewer, &id, black_box(&json)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
