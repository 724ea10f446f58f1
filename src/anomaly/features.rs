//! Features: physical ratios and consistency measures of one application, with the registry
//! records it refers to. Each feature has a name, a unit and a meaning ([`FEATURES`]).
//!
//! Ratios that span orders of magnitude are natural logarithms (unit `ln …`), so a unit
//! slip (×1000) is a shift of 6.9 rather than an outlier that swamps everything else.
//! Where registry data is missing the feature is marked missing: the model then uses the
//! training mean for it, leaves it out of the score, and the block says so.

use crate::application::{Application, UnitRole};
use crate::registry::{References, TrailerType};

use super::generator::{CARGO_KINDS, CargoKind, cargo_kind};

/// How a feature is shown to a reviewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// The value as is.
    Plain,
    /// The feature is `ln x`; show `x`.
    Exp,
}

/// Name, unit and meaning of one feature.
#[derive(Debug, Clone, Copy)]
pub struct FeatureInfo {
    /// Stable name, stored in `anomaly.json`.
    pub name: &'static str,
    /// Unit of the stored value.
    pub unit: &'static str,
    /// Unit of the value shown to reviewers (after [`Display`]).
    pub shown_unit: &'static str,
    /// How to show it.
    pub display: Display,
    /// What it measures, in plain words (used in explanations).
    pub meaning: &'static str,
}

const fn f(
    name: &'static str,
    unit: &'static str,
    shown_unit: &'static str,
    display: Display,
    meaning: &'static str,
) -> FeatureInfo {
    FeatureInfo { name, unit, shown_unit, display, meaning }
}

/// Number of features.
pub const N_FEATURES: usize = 30;

/// The features, in vector order.
pub const FEATURES: [FeatureInfo; N_FEATURES] = [
    f(
        "cargo_density_vs_category",
        "ln ratio",
        "× typical",
        Display::Exp,
        "cargo density over its bounding box, relative to its category's typical density",
    ),
    f(
        "cargo_mass_vs_category",
        "ln ratio",
        "× typical",
        Display::Exp,
        "cargo mass relative to its category's typical mass",
    ),
    f(
        "cargo_slenderness_vs_category",
        "ln ratio",
        "× typical",
        Display::Exp,
        "cargo length over width, relative to its category's typical shape",
    ),
    f("cargo_height_over_width", "ln ratio", "ratio", Display::Exp, "cargo height over cargo width"),
    f(
        "category_typical_density",
        "ln kg/m³",
        "kg/m³",
        Display::Exp,
        "the cargo category's typical density (category encoding)",
    ),
    f("category_typical_mass", "ln kg", "kg", Display::Exp, "the cargo category's typical mass (category encoding)"),
    f(
        "category_typical_slenderness",
        "ln ratio",
        "ratio",
        Display::Exp,
        "the cargo category's typical length over width (category encoding)",
    ),
    f(
        "hydraulic_modular",
        "0 or 1",
        "(1 = yes)",
        Display::Plain,
        "whether the last unit is a hydraulic modular trailer on record",
    ),
    f("rigid_truck", "0 or 1", "(1 = yes)", Display::Plain, "whether the combination is a single rigid truck"),
    f("cargo_share_of_gross", "fraction", "fraction", Display::Plain, "cargo mass as a share of the gross mass"),
    f(
        "mass_balance_residual",
        "fraction of gross",
        "fraction of gross",
        Display::Plain,
        "gross mass minus curb mass minus cargo mass, as a share of the gross mass",
    ),
    f(
        "axle_sum_vs_gross",
        "fraction of gross",
        "fraction of gross",
        Display::Plain,
        "sum of the axle loads minus the gross mass, as a share of the gross mass",
    ),
    f("curb_share", "fraction", "fraction", Display::Plain, "curb mass of the units as a share of the gross mass"),
    f("mean_axle_load", "t", "t", Display::Plain, "gross mass per axle (axle line)"),
    f(
        "trailer_axle_load_spread",
        "coefficient of variation",
        "coefficient of variation",
        Display::Plain,
        "spread of the loads on the carrying axles (trailer axles, or a truck's rear axles)",
    ),
    f("max_axle_over_mean", "ratio", "ratio", Display::Plain, "heaviest axle load over the mean axle load"),
    f("steer_axle_share", "fraction", "fraction", Display::Plain, "front axle load as a share of the axle-load sum"),
    f("load_per_tyre", "t", "t", Display::Plain, "gross mass per tyre"),
    f("gross_per_wheelbase", "t/m", "t/m", Display::Plain, "gross mass per metre between the first and the last axle"),
    f(
        "axle_count_mismatch",
        "axles",
        "axles",
        Display::Plain,
        "declared axles minus the axles the units have on record",
    ),
    f("deck_height", "m", "m", Display::Plain, "loaded height minus cargo height (the deck the cargo sits on)"),
    f("deck_vs_trailer_height", "m", "m", Display::Plain, "deck height minus the last unit's registered height"),
    f("overhang", "m", "m", Display::Plain, "cargo length minus the last unit's registered length"),
    f(
        "loaded_length_minus_cargo",
        "m",
        "m",
        Display::Plain,
        "loaded length minus cargo length (the vehicle ahead of and around the cargo)",
    ),
    f("width_excess", "m", "m", Display::Plain, "loaded width minus the wider of the cargo and the widest unit"),
    f(
        "route_detour_ratio",
        "ratio",
        "ratio",
        Display::Plain,
        "route length over the straight-line distance between its ends",
    ),
    f(
        "km_per_scheduled_day",
        "km/day",
        "km/day",
        Display::Plain,
        "route length times trips over the days in the schedule",
    ),
    f("route_length", "ln km", "km", Display::Exp, "route length"),
    f(
        "escort_vehicle_margin",
        "vehicles",
        "vehicles",
        Display::Plain,
        "escort vehicles declared minus the CN default requirement for the loaded size",
    ),
    f("escort_people_per_vehicle", "people", "people", Display::Plain, "escort personnel per escort vehicle"),
];

/// The feature vector of one application.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// Values in [`FEATURES`] order; finite.
    pub values: [f64; N_FEATURES],
    /// Which values could not be computed (registry data missing); the model treats them as
    /// typical and leaves them out of the score.
    pub missing: [bool; N_FEATURES],
    /// What was substituted and why, in plain words.
    pub notes: Vec<String>,
}

impl Features {
    /// The value of a feature by name.
    pub fn get(&self, name: &str) -> Option<f64> {
        FEATURES.iter().position(|f| f.name == name).map(|i| self.values[i])
    }
}

/// Index of a feature by name.
pub fn index_of(name: &str) -> Option<usize> {
    FEATURES.iter().position(|f| f.name == name)
}

/// Natural log that stays finite: the validated form never has non-positive values here,
/// but features must not panic or produce NaN on anything.
fn ln(x: f64) -> f64 {
    if x.is_finite() && x > 1e-12 { x.ln() } else { 1e-12f64.ln() }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b.abs() > 1e-12 { a / b } else { 0.0 }
}

/// Great-circle distance (km) between two `[lon, lat]` positions.
pub fn haversine_km(a: [f64; 2], b: [f64; 2]) -> f64 {
    crate::routes::distance_m(a, b) / 1000.0
}

/// Length of a `[lon, lat]` polyline (km).
pub fn path_km(coords: &[[f64; 2]]) -> f64 {
    crate::routes::path_length_m(coords) / 1000.0
}

/// The CN rulebook's default escort requirement (vehicles, people) for a loaded size:
/// class 3 (higher than 4.5 m, wider than 3.75 m, longer than 28 m or heavier than 100 t)
/// one car and two people; wider than 3.75 m two cars. A consistency measure only: item P4
/// checks the real rule from the rulebook.
pub fn escort_requirement(height_m: f64, width_m: f64, length_m: f64, gross_kg: f64) -> (u32, u32) {
    let class3 = height_m > 4.5 || width_m > 3.75 || length_m > 28.0 || gross_kg > 100_000.0;
    match (class3, width_m > 3.75) {
        (_, true) => (2, 2),
        (true, false) => (1, 2),
        _ => (0, 0),
    }
}

/// The typical values a category is compared with; an unknown category is compared with the
/// middle of all known ones.
fn typical(kind: Option<&CargoKind>) -> (f64, f64, f64) {
    match kind {
        Some(k) => (k.typical_density(), k.typical_mass(), k.typical_slenderness()),
        None => {
            let n = CARGO_KINDS.len() as f64;
            let geo = |g: fn(&CargoKind) -> f64| (CARGO_KINDS.iter().map(|k| g(k).ln()).sum::<f64>() / n).exp();
            (geo(CargoKind::typical_density), geo(CargoKind::typical_mass), geo(CargoKind::typical_slenderness))
        }
    }
}

/// Computes the features of an application with its registry records.
///
/// Missing registry data never panics: a unit without a record falls back to the values
/// declared on the form where there are some; otherwise the features that need it are
/// marked missing and a note says which and why.
pub fn features(app: &Application, refs: &References) -> Features {
    let mut v = [0.0; N_FEATURES];
    let mut missing = [false; N_FEATURES];
    let mut notes = Vec::new();
    let mut set = |name: &str, value: Option<f64>, v: &mut [f64; N_FEATURES]| {
        if let Some(i) = index_of(name) {
            match value.filter(|x| x.is_finite()) {
                Some(x) => v[i] = x,
                None => missing[i] = true,
            }
        }
    };

    let c = &app.cargo;
    let l = &app.loaded;
    let kind = cargo_kind(&c.category);
    if kind.is_none() {
        notes.push(format!(
            "cargo category `{}` is not one the model was trained on: compared with the middle of all categories",
            c.category
        ));
    }
    let (rho_t, mass_t, slender_t) = typical(kind);
    let volume = c.length_m * c.width_m * c.height_m;
    set("cargo_density_vs_category", Some(ln(ratio(c.mass_kg, volume) / rho_t)), &mut v);
    set("cargo_mass_vs_category", Some(ln(c.mass_kg / mass_t)), &mut v);
    set("cargo_slenderness_vs_category", Some(ln(ratio(c.length_m, c.width_m) / slender_t)), &mut v);
    set("cargo_height_over_width", Some(ln(ratio(c.height_m, c.width_m))), &mut v);
    set("category_typical_density", Some(ln(rho_t)), &mut v);
    set("category_typical_mass", Some(ln(mass_t)), &mut v);
    set("category_typical_slenderness", Some(ln(slender_t)), &mut v);

    let units = &app.vehicle.units;
    let records: Vec<_> = (0..units.len()).map(|i| refs.units.get(i).and_then(|r| r.found())).collect();
    let rigid = units.len() == 1 && units.first().map(|u| u.role) == Some(UnitRole::Truck);
    set("rigid_truck", Some(f64::from(u8::from(rigid))), &mut v);
    match records.last().copied().flatten() {
        Some(r) => set(
            "hydraulic_modular",
            Some(f64::from(u8::from(r.trailer_type == Some(TrailerType::HydraulicModular)))),
            &mut v,
        ),
        None => {
            set("hydraulic_modular", None, &mut v);
            notes.push("the last unit has no registry record: its trailer type is unknown".into());
        }
    }

    let gross = l.gross_mass_kg;
    set("cargo_share_of_gross", Some(ratio(c.mass_kg, gross)), &mut v);

    // Curb mass per unit: declared on the form, else the registry's.
    let curbs: Option<f64> =
        units.iter().zip(&records).map(|(u, r)| u.curb_mass_kg.or(r.map(|r| r.curb_mass_kg))).sum();
    match curbs {
        Some(curb) => {
            set("mass_balance_residual", Some(ratio(gross - curb - c.mass_kg, gross)), &mut v);
            set("curb_share", Some(ratio(curb, gross)), &mut v);
        }
        None => {
            set("mass_balance_residual", None, &mut v);
            set("curb_share", None, &mut v);
            notes.push(
                "a unit's curb mass is neither declared nor on record: mass balance and curb share taken as typical"
                    .into(),
            );
        }
    }

    let axles = &app.vehicle.axles;
    let loads: Vec<f64> = axles.iter().map(|a| a.load_kg).collect();
    let n = loads.len().max(1) as f64;
    let sum: f64 = loads.iter().sum();
    let mean = sum / n;
    set("axle_sum_vs_gross", Some(ratio(sum - gross, gross)), &mut v);
    set("mean_axle_load", Some(gross / n / 1000.0), &mut v);
    set("max_axle_over_mean", Some(ratio(loads.iter().copied().fold(0.0, f64::max), mean)), &mut v);
    set("steer_axle_share", Some(ratio(loads.first().copied().unwrap_or(0.0), sum)), &mut v);
    let tyres: u32 = axles.iter().map(|a| a.tyres).sum();
    set("load_per_tyre", Some(ratio(gross, f64::from(tyres)) / 1000.0), &mut v);
    let wheelbase: f64 = axles.iter().filter_map(|a| a.spacing_to_next_m).sum();
    set("gross_per_wheelbase", Some(ratio(gross, wheelbase) / 1000.0), &mut v);

    // The carrying axles: the last unit's, by its axle count; a rigid truck's rear axles.
    let last_axles = units.last().zip(records.last()).and_then(|(u, r)| u.axles.or(r.map(|r| r.axles)));
    let carrying: Option<&[f64]> = match (units.len(), units.first().map(|u| u.role), last_axles) {
        (1, Some(UnitRole::Truck), _) => loads.get(loads.len().saturating_sub(2)..),
        (_, _, Some(k)) if (k as usize) <= loads.len() && k >= 2 => loads.get(loads.len() - k as usize..),
        _ => None,
    };
    match carrying {
        Some(c) => {
            let m = c.iter().sum::<f64>() / c.len() as f64;
            let var = c.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / c.len() as f64;
            set("trailer_axle_load_spread", Some(ratio(var.sqrt(), m)), &mut v);
        }
        None => {
            set("trailer_axle_load_spread", None, &mut v);
            notes
                .push("the last unit's axle count is unknown: the spread of its axle loads is taken as typical".into());
        }
    }

    let registered_axles: Option<u32> = units.iter().zip(&records).map(|(u, r)| u.axles.or(r.map(|r| r.axles))).sum();
    match registered_axles {
        Some(k) => set("axle_count_mismatch", Some(axles.len() as f64 - f64::from(k)), &mut v),
        None => {
            set("axle_count_mismatch", None, &mut v);
            notes.push("a unit's axle count is neither declared nor on record: axle count taken as consistent".into());
        }
    }

    let deck = l.height_m - c.height_m;
    set("deck_height", Some(deck), &mut v);
    let last = records.last().copied().flatten();
    match last {
        Some(r) => {
            set("deck_vs_trailer_height", Some(deck - r.height_m), &mut v);
            set("overhang", Some(c.length_m - r.length_m), &mut v);
        }
        None => {
            set("deck_vs_trailer_height", None, &mut v);
            set("overhang", None, &mut v);
            notes.push(
                "the last unit has no registry record: deck height against the trailer and overhang taken as typical"
                    .into(),
            );
        }
    }
    set("loaded_length_minus_cargo", Some(l.length_m - c.length_m), &mut v);
    let widest_unit = records.iter().flatten().map(|r| r.width_m).fold(0.0, f64::max);
    if records.iter().any(Option::is_none) {
        notes.push("not every unit has a registry record: width excess uses the units on record".into());
    }
    set("width_excess", Some(l.width_m - c.width_m.max(widest_unit)), &mut v);

    let coords = &app.route.geometry.coordinates;
    let route_km = path_km(coords);
    let chord = match (coords.first(), coords.last()) {
        (Some(a), Some(b)) => haversine_km(*a, *b),
        _ => 0.0,
    };
    // A loop (ends under 100 m apart) has no meaningful straight line: report it as missing.
    set("route_detour_ratio", (chord > 0.1).then(|| route_km / chord), &mut v);
    if chord <= 0.1 {
        notes.push("the route starts and ends at the same place: detour ratio not assessed".into());
    }
    let s = &app.schedule;
    let days = ((s.end - s.start).num_days() + 1).max(1) as f64;
    set("km_per_scheduled_day", Some(route_km * f64::from(s.trips) / days), &mut v);
    set("route_length", Some(ln(route_km)), &mut v);

    let (req_v, _) = escort_requirement(l.height_m, l.width_m, l.length_m, gross);
    let (ev, ep) =
        app.escort.as_ref().map(|e| (e.vehicle_plates.len(), e.personnel_id_numbers.len())).unwrap_or((0, 0));
    set("escort_vehicle_margin", Some(ev as f64 - f64::from(req_v)), &mut v);
    set("escort_people_per_vehicle", Some(ep as f64 / ev.max(1) as f64), &mut v);

    Features { values: v, missing, notes }
}
