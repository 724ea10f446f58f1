//! A generator of realistic applications for `oscar batch` and load (`oscar gen`).

use std::io::Write;
use std::num::NonZeroUsize;

use crate::rng::SplitMix64;
use crate::routes::RouteNetwork;
use crate::tooling::anomaly::generator::{Roads, normal_sample};

/// Applications [`generate`] makes before writing them; each thread makes a share of them.
const GEN_ROUND: usize = 1024;

/// Writes `count` realistic applications with routes on the roads of `network`, one JSON
/// document a line, ids `GEN-000000` on, made on `threads` threads; the same seed gives the
/// same bytes whatever the number of threads. They come from the anomaly model's generator
/// of normal applications: real cargo, rigs and axle loads, and a trip between two places
/// of the network (shortest path, or a short detour through a third place) redrawn as
/// another map would draw it.
pub fn generate(
    network: &RouteNetwork,
    count: usize,
    seed: u64,
    threads: NonZeroUsize,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let roads = Roads::new(network);
    let make = |index: usize| {
        // A generator of its own for each application, so that any thread can make it.
        let mut rng = SplitMix64::new(SplitMix64::new(seed ^ index as u64).next_u64());
        serde_json::to_string(&normal_sample(&mut rng, index, Some(&roads)).app)
    };
    for start in (0..count).step_by(GEN_ROUND) {
        let mut lines: Vec<serde_json::Result<String>> = Vec::new();
        lines.resize_with(GEN_ROUND.min(count - start), || Ok(String::new()));
        let share = lines.len().div_ceil(threads.get());
        std::thread::scope(|scope| {
            for (part, slots) in lines.chunks_mut(share).enumerate() {
                scope.spawn(move || {
                    for (k, slot) in slots.iter_mut().enumerate() {
                        *slot = make(start + part * share + k);
                    }
                });
            }
        });
        for line in lines {
            out.write_all(line?.as_bytes())?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()
}
