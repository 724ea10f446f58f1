//! The service's start with many approved permits in its ledger: the index of approved routes
//! made by matching every approved application again (the start without an index cache),
//! against the same index read from the cache file (`serve --index-cache`), in the same run.
//!
//! The ledger: a real SQLite ledger file under `target/bench-startup/` with
//! `OSCAR_STARTUP_PERMITS` approved reviews (default 250,000): 5,000 applications from
//! `oscar gen` on the shipped central Helsinki network, each approved 50 times over 2026
//! with its own id and travel days (as `benches/recheck.rs` makes them). Timed, each once
//! (a start is one run): the index matched from the ledger; the first start with a cache
//! (matched, then written); the next start (read from the cache); a start after 1,000 more
//! approvals (read, the 1,000 matched, written). The bench asserts that the index read
//! from the cache is the one matched from the ledger.
//!
//! `cargo bench --bench startup` (release build); `OSCAR_STARTUP_PERMITS=20000` for a short run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code: failing loudly is the point

#[path = "../tests/recheck_common/mod.rs"]
mod recheck_common;

use std::path::Path;
use std::time::Instant;

use chrono::{Duration, NaiveDate};
use oscar::Reviewer;
use oscar::ledger::{Ledger, NewRecord, SqliteLedger};
use oscar::restrictions::{approved_index, approved_index_cached};
use oscar::review::Verdict;
use oscar::rng::SplitMix64;
use recheck_common::applications;
use serde_json::{Value, json};

const ROUTES: usize = 5_000;
const LATER: usize = 1_000;

/// Appends approvals `first..first + count` (1-based), each a generated application with
/// its own id and travel days, a thousand at a time.
fn approve(ledger: &SqliteLedger, apps: &[Value], first: usize, count: usize, rng: &mut SplitMix64) {
    let year = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let numbers: Vec<usize> = (first..first + count).collect();
    for part in numbers.chunks(1_000) {
        let pending: Vec<_> = part
            .iter()
            .map(|&n| {
                let mut v = apps[n % apps.len()].clone();
                let days = |d: &Value| NaiveDate::parse_from_str(d.as_str().unwrap(), "%Y-%m-%d").unwrap();
                let length = days(&v["schedule"]["end"]) - days(&v["schedule"]["start"]);
                let start = year + Duration::days(rng.below(365) as i64);
                let id = format!("P-{n:07}");
                v["application_id"] = json!(id);
                v["schedule"]["start"] = json!(start);
                v["schedule"]["end"] = json!(start + length);
                // Submitted the day before it travels (a schedule may not start before it).
                v["submitted_at"] = json!(format!("{}T12:00:00Z", start - Duration::days(1)));
                let application = oscar::ledger::canonical_json(&v);
                ledger.append(NewRecord {
                    application_id: id,
                    content_hash: oscar::ledger::content_hash(&application),
                    application,
                    review: "{}".into(),
                    verdict: Verdict::Approve,
                    caller: "bench".into(),
                    recorded_at: "2026-11-30T00:00:00.000000Z".into(),
                })
            })
            .collect();
        for p in pending {
            p.wait().unwrap();
        }
    }
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    eprintln!("{what}: {:.2} s", started.elapsed().as_secs_f64());
    out
}

fn main() {
    let permits: usize = std::env::var("OSCAR_STARTUP_PERMITS").ok().and_then(|n| n.parse().ok()).unwrap_or(250_000);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-startup");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (path, cache) = (dir.join("ledger.sqlite"), dir.join("ledger.sqlite.route-index"));
    let reviewer = Reviewer::with_defaults().unwrap();
    let apps = applications(&reviewer.routes().unwrap().network, ROUTES, 20_261_130);
    let mut rng = SplitMix64::new(7);
    let ledger = SqliteLedger::create(&path, false).unwrap();
    timed(&format!("ledger of {permits} approvals written"), || approve(&ledger, &apps, 1, permits, &mut rng));
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    eprintln!("{permits} approved permits on {ROUTES} routes, shipped Helsinki network, {threads} threads");

    let matched = timed("baseline, no cache: every approval matched", || approved_index(&ledger, &reviewer).unwrap());
    assert_eq!(matched.len(), permits);
    let first = timed("first start with a cache: every approval matched, the cache written", || {
        approved_index_cached(&ledger, &reviewer, &cache).unwrap()
    });
    assert_eq!((first.from_cache, first.matched), (0, permits));
    let size = std::fs::metadata(&cache).unwrap().len();
    eprintln!(
        "cache file: {:.1} MiB, {:.0} bytes a permit",
        size as f64 / (1 << 20) as f64,
        size as f64 / permits as f64
    );
    let next = timed("next start: read from the cache", || approved_index_cached(&ledger, &reviewer, &cache).unwrap());
    assert_eq!((next.ignored.as_deref(), next.from_cache, next.matched), (None, permits, 0));
    assert!(next.index == matched, "the index read from the cache is not the one matched");

    approve(&ledger, &apps, permits + 1, LATER, &mut rng);
    let later = timed(&format!("start after {LATER} more approvals: read, {LATER} matched, written"), || {
        approved_index_cached(&ledger, &reviewer, &cache).unwrap()
    });
    assert_eq!((later.from_cache, later.matched), (permits, LATER));
}
