//! US-style axle limits: single and tandem axles, and the FHWA bridge formula applied to
//! every group of consecutive axles. Part of V5.

use super::{Context, Findings};

use crate::units::{KG_PER_POUND as LB, METRES_PER_FOOT as FT};

/// Distance of each axle from the first, metres.
fn positions(ctx: &Context) -> Vec<f64> {
    let mut at = 0.0;
    ctx.app
        .vehicle
        .axles
        .iter()
        .map(|a| {
            let here = at;
            at += a.spacing_to_next_m.unwrap_or(0.0);
            here
        })
        .collect()
}

/// The bridge-formula limit in kg for `n` axles spread over `length_m`.
pub fn bridge_limit_kg(b: &crate::rulebook::BridgeFormula, n: usize, length_m: f64) -> f64 {
    let n_f = n as f64;
    let l_ft = length_m / FT;
    let coefficient_lb = b.coefficient.si() / LB;
    let raw_lb = coefficient_lb * (l_ft * n_f / (n_f - 1.0) + b.per_axle * n_f + b.constant);
    let step_lb = b.round_to.si() / LB;
    (raw_lb / step_lb).round() * step_lb * LB
}

/// Checks single and tandem limits and the bridge formula.
#[expect(
    clippy::indexing_slicing,
    reason = "every index is an axle's, below `axles.len()`, and `positions` has one entry per axle"
)]
pub fn federal_limits(ctx: &Context, f: &mut Findings) {
    let axles = &ctx.app.vehicle.axles;
    let pos = positions(ctx);
    let load = |i: usize, j: usize| axles[i..=j].iter().map(|a| a.load_kg).sum::<f64>();
    if let Some(g) = &ctx.rules.axle_groups {
        // Axles closer than the single spread are one axle; clusters linked by gaps up to the
        // tandem spread form a run: one cluster is a single, two a tandem, more a tridem
        // that only the bridge formula governs.
        let mut clusters: Vec<(usize, usize)> = Vec::new();
        for i in 0..axles.len() {
            match clusters.last_mut() {
                Some((_, end)) if pos[i] - pos[*end] <= g.single_max_spread.si() => *end = i,
                _ => clusters.push((i, i)),
            }
        }
        let mut runs: Vec<Vec<(usize, usize)>> = Vec::new();
        for c in clusters {
            match runs.last_mut() {
                Some(run) if run.last().is_some_and(|p| pos[c.0] - pos[p.1] <= g.tandem_max_spread.si()) => run.push(c),
                _ => runs.push(vec![c]),
            }
        }
        for run in runs {
            let (first, last) = (run[0].0, run[run.len() - 1].1);
            let (what, limit) = match run.len() {
                1 => (format!("single axle {}", first + 1), g.single.si()),
                2 => (format!("tandem axles {}-{}", first + 1, last + 1), g.tandem.si()),
                _ => continue,
            };
            f.at_most(&what, load(first, last), limit, "kg");
        }
    }
    let Some(b) = &ctx.rules.bridge_formula else { return };
    let mut worst: Option<(f64, usize, usize, f64)> = None;
    let mut failures = 0;
    for i in 0..axles.len() {
        for j in i + 1..axles.len() {
            let n = j - i + 1;
            let length = pos[j] - pos[i];
            let mut limit = bridge_limit_kg(b, n, length);
            if n == 4
                && length >= b.tandem_pair_exception_length.si()
                && let Some(g) = &ctx.rules.axle_groups
            {
                limit = limit.max(2.0 * g.tandem.si());
            }
            let observed = load(i, j);
            let ratio = observed / limit;
            if ratio > 1.0 && failures < 5 {
                failures += 1;
                f.at_most(
                    &format!("bridge formula, axles {}-{} ({:.1} ft)", i + 1, j + 1, length / FT),
                    observed,
                    limit,
                    "kg",
                );
            }
            if worst.is_none_or(|w| ratio > w.0) {
                worst = Some((ratio, i, j, limit));
            }
        }
    }
    if let (0, Some((_, i, j, limit))) = (failures, worst) {
        let length = pos[j] - pos[i];
        f.at_most(
            &format!("bridge formula, tightest group axles {}-{} ({:.1} ft)", i + 1, j + 1, length / FT),
            load(i, j),
            limit,
            "kg",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rulebook::LoadedRulebook;

    #[test]
    fn bridge_formula_matches_fhwa_table() {
        let books = LoadedRulebook::embedded().unwrap();
        let us = books.iter().find(|b| b.rules.rulebook.jurisdiction == "US").unwrap();
        let b = us.rules.bridge_formula.as_ref().unwrap();
        // FHWA bridge formula table: 2 axles 4 ft -> 34,000 lb; 5 axles 51 ft -> 80,000 lb;
        // 3 axles 10 ft -> 43,500 lb; 5 axles 36 ft -> 70,500 lb (rounded to 500 lb).
        for (n, ft, lb) in [(2, 4.0, 34_000.0), (5, 51.0, 80_000.0), (3, 10.0, 43_500.0), (5, 36.0, 70_500.0)] {
            let got = bridge_limit_kg(b, n, ft * FT) / LB;
            assert!((got - lb).abs() < 1.0, "{n} axles {ft} ft: {got} lb, FHWA {lb} lb");
        }
    }
}
