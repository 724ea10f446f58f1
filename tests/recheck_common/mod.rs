//! Approved permits and new restrictions for the re-check tests and bench: applications
//! from `oscar gen` (trips between places of the shipped Helsinki network, redrawn as
//! another map would draw them, schedules over 2026) and restrictions on its real roads.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::num::NonZeroUsize;

use chrono::{DateTime, Duration, FixedOffset};
use oscar::rng::SplitMix64;
use oscar::routes::{Closure, LoweredLimits, RouteNetwork};
use serde_json::Value;

/// `count` generated applications (seeded), as JSON.
pub fn applications(network: &RouteNetwork, count: usize, seed: u64) -> Vec<Value> {
    let mut out = Vec::new();
    let threads = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
    oscar::tooling::samples::generate(network, count, seed, threads, &mut out).unwrap();
    String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// `count` restrictions on real roads of `network` (seeded): a point on a road or a
/// stretch of two or three of its vertices, closed or (one in four) under lowered limits,
/// valid from a day of 2026 for `days` whole days (`days(rng)`).
pub fn restrictions(
    network: &RouteNetwork,
    count: usize,
    seed: u64,
    mut days: impl FnMut(&mut SplitMix64) -> i64,
) -> Vec<Closure> {
    let ways: Vec<Vec<[f64; 2]>> = network.ways().filter(|w| w.coords.len() >= 3).map(|w| w.coords).collect();
    let mut rng = SplitMix64::new(seed);
    let year: DateTime<FixedOffset> = DateTime::parse_from_rfc3339("2026-01-01T00:00:00+02:00").unwrap();
    (0..count)
        .map(|i| {
            let way = rng.pick(&ways);
            let at = rng.below(way.len() as u64 - 2) as usize;
            let geometry =
                if rng.chance(0.5) { vec![way[at]] } else { way[at..at + 2 + usize::from(rng.chance(0.5))].to_vec() };
            let valid_from = year + Duration::days(rng.below(360) as i64);
            let limits = rng.chance(0.25).then(|| LoweredLimits {
                max_weight_kg: Some(rng.uniform(30_000.0, 80_000.0)),
                max_height_m: Some(rng.uniform(3.8, 5.0)),
                ..LoweredLimits::default()
            });
            Closure {
                id: format!("temporary:T-{i}"),
                reason: "works: test".into(),
                valid_from,
                valid_until: valid_from + Duration::days(days(&mut rng)),
                geometry,
                limits,
            }
        })
        .collect()
}
