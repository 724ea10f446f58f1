//! Evaluation-only anomalies: each takes a normal sample and plants one kind of error a
//! seasoned reviewer would find odd. Never used for training.

use chrono::Duration;

use super::generator::{Roads, Sample, SplitMix64, normal_sample};

/// The kinds of planted anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnomalyKind {
    /// Tonnes typed where kilograms are expected (cargo mass or one axle load ÷ 1000).
    MassUnitSlip,
    /// A cargo dimension in the wrong unit (÷ 10 or ÷ 1000, e.g. mm read as m the wrong way).
    LengthUnitSlip,
    /// Cargo length and width swapped.
    SwappedDimensions,
    /// Cargo mass 3-8 times off its bounding box, with the weights made consistent with it.
    ImplausibleDensity,
    /// A quarter to a half of the load moved from some carrying axles onto others, same sum.
    LopsidedAxles,
    /// 700-3000 km a day: the schedule cannot cover the route.
    ImpossibleSchedule,
    /// Two small deviations, each inside every rule's tolerance.
    SubtleWithinTolerance,
}

/// Every kind, in report order.
pub const ANOMALY_KINDS: [AnomalyKind; 7] = [
    AnomalyKind::MassUnitSlip,
    AnomalyKind::LengthUnitSlip,
    AnomalyKind::SwappedDimensions,
    AnomalyKind::ImplausibleDensity,
    AnomalyKind::LopsidedAxles,
    AnomalyKind::ImpossibleSchedule,
    AnomalyKind::SubtleWithinTolerance,
];

impl AnomalyKind {
    /// Stable name used in reports and the CSV dump.
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::MassUnitSlip => "mass_unit_slip",
            AnomalyKind::LengthUnitSlip => "length_unit_slip",
            AnomalyKind::SwappedDimensions => "swapped_dimensions",
            AnomalyKind::ImplausibleDensity => "implausible_density",
            AnomalyKind::LopsidedAxles => "lopsided_axles",
            AnomalyKind::ImpossibleSchedule => "impossible_schedule",
            AnomalyKind::SubtleWithinTolerance => "subtle_within_tolerance",
        }
    }
}

/// `n` anomalies of one kind from `seed`, planted in normal samples whose routes are on
/// `roads` (or synthetic without).
pub fn anomalous_samples(kind: AnomalyKind, seed: u64, n: usize, roads: Option<&Roads>) -> Vec<Sample> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|i| {
            let mut s = normal_sample(&mut rng, i, roads);
            plant(kind, &mut s, &mut rng);
            s.app.application_id = format!("ANOM-{}-{i:06}", kind.name());
            s
        })
        .collect()
}

/// Plants an anomaly of `kind` into a sample.
pub fn plant(kind: AnomalyKind, s: &mut Sample, rng: &mut SplitMix64) {
    let app = &mut s.app;
    match kind {
        AnomalyKind::MassUnitSlip => {
            if rng.chance(0.5) {
                app.cargo.mass_kg /= 1000.0;
            } else {
                let n = app.vehicle.axles.len() as u32;
                let i = rng.int(0, n - 1) as usize;
                app.vehicle.axles[i].load_kg /= 1000.0;
            }
        }
        AnomalyKind::LengthUnitSlip => {
            let factor = if rng.chance(0.5) { 10.0 } else { 1000.0 };
            match rng.int(0, 2) {
                0 => app.cargo.length_m /= factor,
                1 => app.cargo.width_m /= factor,
                _ => app.cargo.height_m /= factor,
            }
        }
        AnomalyKind::SwappedDimensions => {
            let c = &mut app.cargo;
            std::mem::swap(&mut c.length_m, &mut c.width_m);
        }
        AnomalyKind::ImplausibleDensity => {
            let factor = if rng.chance(0.5) { rng.uniform(3.0, 8.0) } else { 1.0 / rng.uniform(3.0, 8.0) };
            let old = app.cargo.mass_kg;
            let new = old * factor;
            let delta = new - old;
            // Keep the weights consistent: gross and axle loads carry the changed mass.
            let gross = app.loaded.gross_mass_kg;
            let scale = (gross + delta) / gross;
            app.cargo.mass_kg = new;
            app.loaded.gross_mass_kg = gross + delta;
            for a in &mut app.vehicle.axles {
                a.load_kg *= scale;
            }
        }
        AnomalyKind::LopsidedAxles => {
            let axles = &mut app.vehicle.axles;
            let n = axles.len();
            // The carrying axles are the last unit's (a truck's rear two); move load from
            // their front half to their back half (or the reverse).
            let last = s.refs.units.last().and_then(|l| l.found()).map_or(2, |r| r.axles as usize);
            let carried = if app.vehicle.units.len() == 1 { 2 } else { last };
            let start = n.saturating_sub(carried.clamp(2, n));
            let carrying = n - start;
            let half = carrying / 2;
            let share = rng.uniform(0.25, 0.5);
            let forward = rng.chance(0.5);
            let (from, to): (Vec<usize>, Vec<usize>) = if forward {
                ((start..start + half).collect(), (start + half..n).collect())
            } else {
                ((start + half..n).collect(), (start..start + half).collect())
            };
            let mut moved = 0.0;
            for &i in &from {
                let m = axles[i].load_kg * share;
                axles[i].load_kg -= m;
                moved += m;
            }
            let per = moved / to.len().max(1) as f64;
            for &i in &to {
                axles[i].load_kg += per;
            }
        }
        AnomalyKind::ImpossibleSchedule => {
            let target = rng.uniform(700.0, 3000.0);
            let km = crate::anomaly::features::path_km(&app.route.geometry.coordinates) * f64::from(app.schedule.trips);
            if km < target {
                // Stretch the route around its start until one day cannot cover it.
                let stretch = target / km.max(0.1) * rng.uniform(1.0, 2.0);
                let coords = &mut app.route.geometry.coordinates;
                let o = coords.first().copied().unwrap_or_default();
                for p in coords.iter_mut() {
                    p[0] = (o[0] + (p[0] - o[0]) * stretch).clamp(-180.0, 180.0);
                    p[1] = (o[1] + (p[1] - o[1]) * stretch).clamp(-90.0, 90.0);
                }
                // The stretched drawing leaves the roads: the service would not match it.
                s.route = None;
            }
            let km = crate::anomaly::features::path_km(&app.route.geometry.coordinates) * f64::from(app.schedule.trips);
            let days = (km / target).floor().max(1.0) as i64;
            app.schedule.end = app.schedule.start + Duration::days(days - 1);
        }
        AnomalyKind::SubtleWithinTolerance => {
            // Two of five deviations that every rule tolerates (axle sum ±3 %, mass balance
            // ±5 %, loaded height above cargo + 0.3 m deck, steer axle under any limit, a
            // feasible but very fast schedule).
            let first = rng.int(0, 4);
            let second = (first + rng.int(1, 4)) % 5;
            for which in [first, second] {
                subtle(which, s, rng);
            }
        }
    }
}

fn subtle(which: u32, s: &mut Sample, rng: &mut SplitMix64) {
    let app = &mut s.app;
    match which {
        0 => {
            let k = 1.0 + rng.uniform(0.02, 0.029) * if rng.chance(0.5) { 1.0 } else { -1.0 };
            for a in &mut app.vehicle.axles {
                a.load_kg *= k;
            }
        }
        1 => {
            let gross = app.loaded.gross_mass_kg;
            let off = gross * rng.uniform(0.03, 0.048) * if rng.chance(0.5) { 1.0 } else { -1.0 };
            app.cargo.mass_kg = (app.cargo.mass_kg + off).max(100.0);
        }
        2 => {
            // Loaded height under-declared: the deck shrinks, but stays at least 0.3 m.
            let deck = app.loaded.height_m - app.cargo.height_m;
            let cut = rng.uniform(0.3, 0.6).min(deck - 0.3).max(0.0);
            app.loaded.height_m -= cut;
        }
        3 => {
            // Front axle unusually light (load moved to the others).
            let axles = &mut app.vehicle.axles;
            let n = axles.len();
            let moved = axles[0].load_kg * rng.uniform(0.3, 0.45);
            axles[0].load_kg -= moved;
            for a in axles.iter_mut().skip(1) {
                a.load_kg += moved / (n - 1) as f64;
            }
        }
        _ => {
            let km = crate::anomaly::features::path_km(&app.route.geometry.coordinates) * f64::from(app.schedule.trips);
            let target = rng.uniform(380.0, 550.0);
            let days = (km / target).floor().max(1.0) as i64;
            app.schedule.end = app.schedule.start + Duration::days(days - 1);
        }
    }
}
