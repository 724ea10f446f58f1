//! Features: physical ratios and consistency measures of one application, with the registry
//! records it refers to. Each feature has a name, a unit and a meaning ([`FEATURES`]).
//!
//! Ratios that span orders of magnitude are natural logarithms (unit `ln …`), so a unit
//! slip (×1000) is a shift of 6.9 rather than an outlier that swamps everything else.
//! Where registry data is missing the feature is marked missing: the model then uses the
//! training mean for it, leaves it out of the score, and the block says so.
//!
//! Route features are relative to the road network, from the match the review already
//! makes ([`route_facts`]): declared length over the shortest drivable path, share on
//! minor roads, turn-backs. A route not matched has them missing and `route_on_network`
//! 0, so the model knows they are unknown rather than typical.

use crate::application::{Application, UnitRole};
use crate::registry::{References, TrailerType};
use crate::routes::{MatchProblemKind, RouteMatch, RouteNetwork, distance_m};

use super::cargo_kinds::{CARGO_KINDS, CargoKind, cargo_kind};

/// How a feature is shown to a reviewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// The value as is.
    Plain,
    /// The feature is `ln x`; show `x`.
    Exp,
    /// The feature is `ln (1 + x)`; show `x`.
    Ln1p,
}

/// Every feature, in vector order: code names a feature by this type, so a misspelt name is
/// a compile error rather than a value silently left at 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// `cargo_density_vs_category`.
    CargoDensityVsCategory,
    /// `cargo_mass_vs_category`.
    CargoMassVsCategory,
    /// `cargo_slenderness_vs_category`.
    CargoSlendernessVsCategory,
    /// `cargo_height_over_width`.
    CargoHeightOverWidth,
    /// `category_typical_density`.
    CategoryTypicalDensity,
    /// `category_typical_mass`.
    CategoryTypicalMass,
    /// `category_typical_slenderness`.
    CategoryTypicalSlenderness,
    /// `hydraulic_modular`.
    HydraulicModular,
    /// `rigid_truck`.
    RigidTruck,
    /// `cargo_share_of_gross`.
    CargoShareOfGross,
    /// `mass_balance_residual`.
    MassBalanceResidual,
    /// `axle_sum_vs_gross`.
    AxleSumVsGross,
    /// `curb_share`.
    CurbShare,
    /// `mean_axle_load`.
    MeanAxleLoad,
    /// `trailer_axle_load_spread`.
    TrailerAxleLoadSpread,
    /// `max_axle_over_mean`.
    MaxAxleOverMean,
    /// `steer_axle_share`.
    SteerAxleShare,
    /// `load_per_tyre`.
    LoadPerTyre,
    /// `gross_per_wheelbase`.
    GrossPerWheelbase,
    /// `axle_count_mismatch`.
    AxleCountMismatch,
    /// `deck_height`.
    DeckHeight,
    /// `deck_vs_trailer_height`.
    DeckVsTrailerHeight,
    /// `overhang`.
    Overhang,
    /// `loaded_length_minus_cargo`.
    LoadedLengthMinusCargo,
    /// `width_excess`.
    WidthExcess,
    /// `route_on_network`.
    RouteOnNetwork,
    /// `route_vs_shortest_path`.
    RouteVsShortestPath,
    /// `minor_road_share`.
    MinorRoadShare,
    /// `direction_reversals`.
    DirectionReversals,
    /// `km_per_scheduled_day`.
    KmPerScheduledDay,
    /// `escort_vehicle_margin`.
    EscortVehicleMargin,
    /// `escort_people_per_vehicle`.
    EscortPeoplePerVehicle,
}

/// Name, unit, meaning and what to check of one feature.
#[derive(Debug, Clone, Copy)]
pub struct FeatureInfo {
    /// The feature; its position in [`FEATURES`] (checked at compile time).
    pub id: Feature,
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
    /// What a reviewer should check when it stands out.
    pub check: &'static str,
}

const fn f(
    id: Feature,
    name: &'static str,
    (unit, shown_unit): (&'static str, &'static str),
    display: Display,
    meaning: &'static str,
    check: &'static str,
) -> FeatureInfo {
    FeatureInfo { id, name, unit, shown_unit, display, meaning, check }
}

/// Number of features.
pub const N_FEATURES: usize = 32;

/// The features, in vector order.
pub const FEATURES: [FeatureInfo; N_FEATURES] = [
    f(
        Feature::CargoDensityVsCategory,
        "cargo_density_vs_category",
        ("ln ratio", "× typical"),
        Display::Exp,
        "cargo density over its bounding box, relative to its category's typical density",
        "check the cargo mass and dimensions against the manufacturer's data sheet (kilograms and metres, not tonnes or millimetres)",
    ),
    f(
        Feature::CargoMassVsCategory,
        "cargo_mass_vs_category",
        ("ln ratio", "× typical"),
        Display::Exp,
        "cargo mass relative to its category's typical mass",
        "check the cargo mass against the data sheet and that it is in kilograms",
    ),
    f(
        Feature::CargoSlendernessVsCategory,
        "cargo_slenderness_vs_category",
        ("ln ratio", "× typical"),
        Display::Exp,
        "cargo length over width, relative to its category's typical shape",
        "check that cargo length and width are not swapped or in another unit",
    ),
    f(
        Feature::CargoHeightOverWidth,
        "cargo_height_over_width",
        ("ln ratio", "ratio"),
        Display::Exp,
        "cargo height over cargo width",
        "check cargo height and width (order and unit)",
    ),
    f(
        Feature::CategoryTypicalDensity,
        "category_typical_density",
        ("ln kg/m³", "kg/m³"),
        Display::Exp,
        "the cargo category's typical density (category encoding)",
        "check that the declared cargo category is the right one",
    ),
    f(
        Feature::CategoryTypicalMass,
        "category_typical_mass",
        ("ln kg", "kg"),
        Display::Exp,
        "the cargo category's typical mass (category encoding)",
        "check that the declared cargo category is the right one",
    ),
    f(
        Feature::CategoryTypicalSlenderness,
        "category_typical_slenderness",
        ("ln ratio", "ratio"),
        Display::Exp,
        "the cargo category's typical length over width (category encoding)",
        "check that the declared cargo category is the right one",
    ),
    f(
        Feature::HydraulicModular,
        "hydraulic_modular",
        ("0 or 1", "(1 = yes)"),
        Display::Plain,
        "whether the last unit is a hydraulic modular trailer on record",
        "check that the trailer on record suits this cargo",
    ),
    f(
        Feature::RigidTruck,
        "rigid_truck",
        ("0 or 1", "(1 = yes)"),
        Display::Plain,
        "whether the combination is a single rigid truck",
        "check that the combination declared suits this cargo",
    ),
    f(
        Feature::CargoShareOfGross,
        "cargo_share_of_gross",
        ("fraction", "fraction"),
        Display::Plain,
        "cargo mass as a share of the gross mass",
        "check the cargo mass and the gross mass on the weighing slip",
    ),
    f(
        Feature::MassBalanceResidual,
        "mass_balance_residual",
        ("fraction of gross", "fraction of gross"),
        Display::Plain,
        "gross mass minus curb mass minus cargo mass, as a share of the gross mass",
        "check that gross mass = curb masses + cargo mass on the weighing slip",
    ),
    f(
        Feature::AxleSumVsGross,
        "axle_sum_vs_gross",
        ("fraction of gross", "fraction of gross"),
        Display::Plain,
        "sum of the axle loads minus the gross mass, as a share of the gross mass",
        "check that the axle loads add up to the gross mass (a load in tonnes, a missed axle)",
    ),
    f(
        Feature::CurbShare,
        "curb_share",
        ("fraction", "fraction"),
        Display::Plain,
        "curb mass of the units as a share of the gross mass",
        "check the units' curb masses on the form and on record",
    ),
    f(
        Feature::MeanAxleLoad,
        "mean_axle_load",
        ("t", "t"),
        Display::Plain,
        "gross mass per axle (axle line)",
        "check the gross mass and the number of axles",
    ),
    f(
        Feature::TrailerAxleLoadSpread,
        "trailer_axle_load_spread",
        ("coefficient of variation", "coefficient of variation"),
        Display::Plain,
        "spread of the loads on the carrying axles (trailer axles, or a truck's rear axles)",
        "check the weighing slip: the carrying axles should share the load about evenly",
    ),
    f(
        Feature::MaxAxleOverMean,
        "max_axle_over_mean",
        ("ratio", "ratio"),
        Display::Plain,
        "heaviest axle load over the mean axle load",
        "check the heaviest axle's load on the weighing slip",
    ),
    f(
        Feature::SteerAxleShare,
        "steer_axle_share",
        ("fraction", "fraction"),
        Display::Plain,
        "front axle load as a share of the axle-load sum",
        "check the front axle load on the weighing slip",
    ),
    f(
        Feature::LoadPerTyre,
        "load_per_tyre",
        ("t", "t"),
        Display::Plain,
        "gross mass per tyre",
        "check the tyre count of each axle",
    ),
    f(
        Feature::GrossPerWheelbase,
        "gross_per_wheelbase",
        ("t/m", "t/m"),
        Display::Plain,
        "gross mass per metre between the first and the last axle",
        "check the axle spacings",
    ),
    f(
        Feature::AxleCountMismatch,
        "axle_count_mismatch",
        ("axles", "axles"),
        Display::Plain,
        "declared axles minus the axles the units have on record",
        "check the axles declared against the units' registry records",
    ),
    f(
        Feature::DeckHeight,
        "deck_height",
        ("m", "m"),
        Display::Plain,
        "loaded height minus cargo height (the deck the cargo sits on)",
        "check the loaded height and the cargo height",
    ),
    f(
        Feature::DeckVsTrailerHeight,
        "deck_vs_trailer_height",
        ("m", "m"),
        Display::Plain,
        "deck height minus the last unit's registered height",
        "check the loaded height against the trailer's registered deck height",
    ),
    f(
        Feature::Overhang,
        "overhang",
        ("m", "m"),
        Display::Plain,
        "cargo length minus the last unit's registered length",
        "check the cargo length against the trailer's registered length (overhang, extension)",
    ),
    f(
        Feature::LoadedLengthMinusCargo,
        "loaded_length_minus_cargo",
        ("m", "m"),
        Display::Plain,
        "loaded length minus cargo length (the vehicle ahead of and around the cargo)",
        "check the loaded length and the cargo length",
    ),
    f(
        Feature::WidthExcess,
        "width_excess",
        ("m", "m"),
        Display::Plain,
        "loaded width minus the wider of the cargo and the widest unit",
        "check the loaded width against the cargo's and the vehicle's widths",
    ),
    f(
        Feature::RouteOnNetwork,
        "route_on_network",
        ("0 or 1", "(1 = yes)"),
        Display::Plain,
        "whether the route was matched on the road network (0: its road features are unknown)",
        "check the drawn route where it leaves the road network",
    ),
    f(
        Feature::RouteVsShortestPath,
        "route_vs_shortest_path",
        ("ln ratio", "× the shortest path"),
        Display::Exp,
        "declared route length over the shortest drivable path between its ends",
        "confirm the detour is intended (a structure or restriction avoided) and not a drawing error",
    ),
    f(
        Feature::MinorRoadShare,
        "minor_road_share",
        ("fraction", "fraction"),
        Display::Plain,
        "share of the matched route on residential, service and unclassified roads",
        "confirm the load needs these minor roads (site access) and that they can carry it",
    ),
    f(
        Feature::DirectionReversals,
        "direction_reversals",
        ("ln (1 + turns)", "turns"),
        Display::Ln1p,
        "times the matched route turns back on itself",
        "check the drawing for back-and-forth pieces and that any turn-around is feasible for the combination",
    ),
    f(
        Feature::KmPerScheduledDay,
        "km_per_scheduled_day",
        ("km/day", "km/day"),
        Display::Plain,
        "route length times trips over the days in the schedule (under 100 km/day counts as 100: a slow schedule is never odd)",
        "check that the schedule's dates and trips can cover the route",
    ),
    f(
        Feature::EscortVehicleMargin,
        "escort_vehicle_margin",
        ("vehicles", "vehicles"),
        Display::Plain,
        "escort vehicles declared minus the CN default requirement for the loaded size",
        "check the escorts against the requirement for the loaded size",
    ),
    f(
        Feature::EscortPeoplePerVehicle,
        "escort_people_per_vehicle",
        ("people", "people"),
        Display::Plain,
        "escort personnel per escort vehicle",
        "check the escort personnel per escort vehicle",
    ),
];

impl Feature {
    /// Whether the feature's surprise counts in the score. A condition — the category's
    /// encoding, the kind of combination, whether the route is on the network — tells the
    /// model what to compare the others with: an input, never odd in itself. (Scored, the
    /// category's encoding stood first in explanations as "`2.52`, typical `2.52`–`2.52`"
    /// whenever another feature threw the reconstruction off.)
    pub fn scored(self) -> bool {
        !matches!(
            self,
            Feature::CategoryTypicalDensity
                | Feature::CategoryTypicalMass
                | Feature::CategoryTypicalSlenderness
                | Feature::HydraulicModular
                | Feature::RigidTruck
                | Feature::RouteOnNetwork
        )
    }
}

/// Below this pace a schedule is simply generous; the pace feature counts it as this, so
/// that a short city route over a week looks like any other slow schedule (km/day).
pub const SLOW_PACE_KM_DAY: f64 = 100.0;

// INVARIANT: each feature sits at its own index, so `values[feature as usize]` is its value.
const _: () = {
    let mut i = 0;
    while i < N_FEATURES {
        assert!(FEATURES[i].id as usize == i, "FEATURES is not in `Feature` order");
        i += 1;
    }
};

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
    /// The cargo category, where the model knows it; with [`Features::combination`] it
    /// picks the comparable applications whose typical ranges an explanation quotes.
    pub category: Option<&'static str>,
}

impl Features {
    /// The value of a feature, `None` where it is missing.
    pub fn get(&self, feature: Feature) -> Option<f64> {
        let i = feature as usize;
        (!self.missing[i]).then_some(self.values[i])
    }

    /// The kind of combination, in plain words, where the records tell it.
    pub fn combination(&self) -> Option<&'static str> {
        match (self.get(Feature::RigidTruck), self.get(Feature::HydraulicModular)) {
            (Some(r), _) if r > 0.5 => Some("rigid truck"),
            (_, Some(h)) if h > 0.5 => Some("hydraulic modular trailer"),
            (_, Some(_)) => Some("semi-trailer"),
            _ => None,
        }
    }
}

/// Highway classes counted as minor roads.
pub const MINOR_HIGHWAYS: [&str; 3] = ["residential", "service", "unclassified"];
/// A match below this confidence (or with any problem other than low confidence) is not
/// used: its road features are unknown.
pub const MIN_MATCH_CONFIDENCE: f64 = 0.5;
/// Ends closer than this have no meaningful shortest path (a round trip), metres.
const LOOP_M: f64 = 100.0;
/// The shortest path a ratio is taken over is at least this long, so that a few metres of
/// drawing at the ends of a short route do not read as a detour, metres.
const SHORTEST_FLOOR_M: f64 = 200.0;
/// Consecutive pieces of the matched path turning by more than this turn back, degrees.
const REVERSAL_DEG: f64 = 150.0;
/// Pieces shorter than this have no reliable direction, metres.
const MIN_PIECE_M: f64 = 1.0;

/// What the road network says about a matched route.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouteFacts {
    /// Declared length over the shortest drivable path between the matched ends; `None`
    /// for a round trip or ends the network does not connect.
    pub vs_shortest: Option<f64>,
    /// Share of the matched length on [`MINOR_HIGHWAYS`].
    pub minor_share: f64,
    /// Times the matched path turns back on itself.
    pub reversals: f64,
}

/// The road facts of a match, or `None` where the route was not matched with confidence
/// (outside the network, off it, across a gap, or doubtful).
pub fn route_facts(net: &RouteNetwork, m: &RouteMatch) -> Option<RouteFacts> {
    let clean = m.problems.iter().all(|p| p.kind == MatchProblemKind::LowConfidence);
    let (first, last) = (m.segments.first()?, m.segments.last()?);
    if !clean || m.confidence < MIN_MATCH_CONFIDENCE || m.length_m <= 0.0 {
        return None;
    }
    let vs_shortest = if distance_m(first.from, last.to) < LOOP_M {
        None
    } else {
        net.shortest_path_m(first.from, last.to).map(|d| m.declared_length_m / d.max(SHORTEST_FLOOR_M))
    };
    let minor_km: f64 =
        m.ways.iter().filter(|w| MINOR_HIGHWAYS.contains(&w.highway.as_str())).map(|w| w.to_km - w.from_km).sum();
    let heading = |a: [f64; 2], b: [f64; 2]| {
        let k = a[1].to_radians().cos();
        ((b[0] - a[0]) * k, b[1] - a[1])
    };
    let pieces: Vec<(f64, f64)> = m
        .segments
        .iter()
        .filter(|s| (s.to_km - s.from_km) * 1000.0 >= MIN_PIECE_M)
        .map(|s| heading(s.from, s.to))
        .collect();
    let cos_limit = REVERSAL_DEG.to_radians().cos();
    let reversals = pieces
        .windows(2)
        .filter(|w| {
            let ((ax, ay), (bx, by)) = (w[0], w[1]);
            (ax * bx + ay * by) < cos_limit * ax.hypot(ay) * bx.hypot(by)
        })
        .count();
    Some(RouteFacts {
        vs_shortest,
        minor_share: (minor_km * 1000.0 / m.length_m).clamp(0.0, 1.0),
        reversals: reversals as f64,
    })
}

/// Natural log that stays finite: the validated form never has non-positive values here,
/// but features must not panic or produce NaN on anything.
fn ln(x: f64) -> f64 {
    if x.is_finite() && x > 1e-12 { x.ln() } else { 1e-12f64.ln() }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b.abs() > 1e-12 { a / b } else { 0.0 }
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
pub fn features(app: &Application, refs: &References, route: Option<&RouteFacts>) -> Features {
    let mut v = [0.0; N_FEATURES];
    let mut missing = [false; N_FEATURES];
    let mut notes = Vec::new();
    let mut set = |feature: Feature, value: Option<f64>, v: &mut [f64; N_FEATURES]| {
        let i = feature as usize;
        match value.filter(|x| x.is_finite()) {
            Some(x) => v[i] = x,
            None => missing[i] = true,
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
    set(Feature::CargoDensityVsCategory, Some(ln(ratio(c.mass_kg, volume) / rho_t)), &mut v);
    set(Feature::CargoMassVsCategory, Some(ln(c.mass_kg / mass_t)), &mut v);
    set(Feature::CargoSlendernessVsCategory, Some(ln(ratio(c.length_m, c.width_m) / slender_t)), &mut v);
    set(Feature::CargoHeightOverWidth, Some(ln(ratio(c.height_m, c.width_m))), &mut v);
    set(Feature::CategoryTypicalDensity, Some(ln(rho_t)), &mut v);
    set(Feature::CategoryTypicalMass, Some(ln(mass_t)), &mut v);
    set(Feature::CategoryTypicalSlenderness, Some(ln(slender_t)), &mut v);

    let units = &app.vehicle.units;
    let records: Vec<_> = (0..units.len()).map(|i| refs.units.get(i).and_then(|r| r.found())).collect();
    let rigid = units.len() == 1 && units.first().map(|u| u.role) == Some(UnitRole::Truck);
    set(Feature::RigidTruck, Some(f64::from(u8::from(rigid))), &mut v);
    match records.last().copied().flatten() {
        Some(r) => set(
            Feature::HydraulicModular,
            Some(f64::from(u8::from(r.trailer_type == Some(TrailerType::HydraulicModular)))),
            &mut v,
        ),
        None => {
            set(Feature::HydraulicModular, None, &mut v);
            notes.push("the last unit has no registry record: its trailer type is unknown".into());
        }
    }

    let gross = l.gross_mass_kg;
    set(Feature::CargoShareOfGross, Some(ratio(c.mass_kg, gross)), &mut v);

    // Curb mass per unit: declared on the form, else the registry's.
    let curbs: Option<f64> =
        units.iter().zip(&records).map(|(u, r)| u.curb_mass_kg.or(r.map(|r| r.curb_mass_kg))).sum();
    match curbs {
        Some(curb) => {
            set(Feature::MassBalanceResidual, Some(ratio(gross - curb - c.mass_kg, gross)), &mut v);
            set(Feature::CurbShare, Some(ratio(curb, gross)), &mut v);
        }
        None => {
            set(Feature::MassBalanceResidual, None, &mut v);
            set(Feature::CurbShare, None, &mut v);
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
    set(Feature::AxleSumVsGross, Some(ratio(sum - gross, gross)), &mut v);
    set(Feature::MeanAxleLoad, Some(gross / n / 1000.0), &mut v);
    set(Feature::MaxAxleOverMean, Some(ratio(loads.iter().copied().fold(0.0, f64::max), mean)), &mut v);
    set(Feature::SteerAxleShare, Some(ratio(loads.first().copied().unwrap_or(0.0), sum)), &mut v);
    let tyres: u32 = axles.iter().map(|a| a.tyres).sum();
    set(Feature::LoadPerTyre, Some(ratio(gross, f64::from(tyres)) / 1000.0), &mut v);
    let wheelbase: f64 = axles.iter().filter_map(|a| a.spacing_to_next_m).sum();
    set(Feature::GrossPerWheelbase, Some(ratio(gross, wheelbase) / 1000.0), &mut v);

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
            set(Feature::TrailerAxleLoadSpread, Some(ratio(var.sqrt(), m)), &mut v);
        }
        None => {
            set(Feature::TrailerAxleLoadSpread, None, &mut v);
            notes
                .push("the last unit's axle count is unknown: the spread of its axle loads is taken as typical".into());
        }
    }

    let registered_axles: Option<u32> = units.iter().zip(&records).map(|(u, r)| u.axles.or(r.map(|r| r.axles))).sum();
    match registered_axles {
        Some(k) => set(Feature::AxleCountMismatch, Some(axles.len() as f64 - f64::from(k)), &mut v),
        None => {
            set(Feature::AxleCountMismatch, None, &mut v);
            notes.push("a unit's axle count is neither declared nor on record: axle count taken as consistent".into());
        }
    }

    let deck = l.height_m - c.height_m;
    set(Feature::DeckHeight, Some(deck), &mut v);
    let last = records.last().copied().flatten();
    match last {
        Some(r) => {
            set(Feature::DeckVsTrailerHeight, Some(deck - r.height_m), &mut v);
            set(Feature::Overhang, Some(c.length_m - r.length_m), &mut v);
        }
        None => {
            set(Feature::DeckVsTrailerHeight, None, &mut v);
            set(Feature::Overhang, None, &mut v);
            notes.push(
                "the last unit has no registry record: deck height against the trailer and overhang taken as typical"
                    .into(),
            );
        }
    }
    set(Feature::LoadedLengthMinusCargo, Some(l.length_m - c.length_m), &mut v);
    let widest_unit = records.iter().flatten().map(|r| r.width_m).fold(0.0, f64::max);
    if records.iter().any(Option::is_none) {
        notes.push("not every unit has a registry record: width excess uses the units on record".into());
    }
    set(Feature::WidthExcess, Some(l.width_m - c.width_m.max(widest_unit)), &mut v);

    // Road features come from the match on the network; where there is none they are
    // unknown, the indicator says so, and nothing is guessed.
    set(Feature::RouteOnNetwork, Some(f64::from(u8::from(route.is_some()))), &mut v);
    match route {
        Some(r) => {
            set(Feature::RouteVsShortestPath, r.vs_shortest.map(ln), &mut v);
            if r.vs_shortest.is_none() {
                notes.push(
                    "the route ends where it starts, or its ends are not connected on the road network: its length \
                     against the shortest path is not assessed"
                        .into(),
                );
            }
            set(Feature::MinorRoadShare, Some(r.minor_share), &mut v);
            // On a log scale: a second turn-back is less news than the first.
            set(Feature::DirectionReversals, Some(r.reversals.ln_1p()), &mut v);
        }
        None => {
            set(Feature::RouteVsShortestPath, None, &mut v);
            set(Feature::MinorRoadShare, None, &mut v);
            set(Feature::DirectionReversals, None, &mut v);
            notes.push(
                "the route was not matched on the road network: its detour, minor-road share and turn-backs are unknown"
                    .into(),
            );
        }
    }
    let route_km = path_km(&app.route.geometry.coordinates);
    let s = &app.schedule;
    let days = ((s.end - s.start).num_days() + 1).max(1) as f64;
    let pace = route_km * f64::from(s.trips) / days;
    set(Feature::KmPerScheduledDay, Some(pace.max(SLOW_PACE_KM_DAY)), &mut v);

    let (req_v, _) = escort_requirement(l.height_m, l.width_m, l.length_m, gross);
    let (ev, ep) =
        app.escort.as_ref().map(|e| (e.vehicle_plates.len(), e.personnel_id_numbers.len())).unwrap_or((0, 0));
    set(Feature::EscortVehicleMargin, Some(ev as f64 - f64::from(req_v)), &mut v);
    set(Feature::EscortPeoplePerVehicle, Some(ep as f64 / ev.max(1) as f64), &mut v);

    Features { values: v, missing, notes, category: kind.map(|k| k.name) }
}
