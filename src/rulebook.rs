//! Rulebooks: `rules/<jurisdiction>.toml` turned into a typed, validated [`Rulebook`].
//!
//! Quantities are written with their unit as in the legal source (`"4 m"`, `"80000 lb"`,
//! `"8 ft 6 in"`) and converted to metres and kilograms here. Loading reports every problem
//! at once and refuses a rulebook with any.

use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{digest, units};

/// The rulebooks shipped inside the binary.
pub const EMBEDDED: [(&str, &str); 2] =
    [("rules/cn.toml", include_str!("../rules/cn.toml")), ("rules/us.toml", include_str!("../rules/us.toml"))];

/// Why a rulebook was refused.
#[derive(Debug, thiserror::Error)]
pub enum RulebookError {
    /// The file could not be read.
    #[error("cannot read rulebook {path}: {source}")]
    Read {
        /// File path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Syntax or type errors, or failed validation: every problem, one per line.
    #[error("rulebook {path} is invalid:\n  {}", problems.join("\n  "))]
    Invalid {
        /// File path.
        path: String,
        /// Each problem, prefixed by its TOML key path.
        problems: Vec<String>,
    },
}

/// A quantity as written with its unit, of the kind `K` says: a [`Length`] is read in
/// metres, a [`Mass`] in kilograms, so a field declared as one cannot be loaded as the other.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity<K> {
    raw: String,
    si: Result<(f64, Dim), String>,
    kind: PhantomData<K>,
}

/// A length, in metres.
pub type Length = Quantity<Metres>;
/// A mass, in kilograms.
pub type Mass = Quantity<Kilograms>;

/// What a [`Quantity`] measures.
pub trait Kind {
    /// Its dimension.
    const DIM: Dim;
}

/// The kind of a [`Length`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metres;

/// The kind of a [`Mass`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kilograms;

impl Kind for Metres {
    const DIM: Dim = Dim::Length;
}

impl Kind for Kilograms {
    const DIM: Dim = Dim::Mass;
}

/// What a quantity measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    /// Metres.
    Length,
    /// Kilograms.
    Mass,
}

impl<K: Kind> Quantity<K> {
    /// Parses `"4 m"`, `"2.55 m"`, `"8 ft 6 in"`, `"49000 kg"`, `"7.5 t"`, `"80000 lb"`.
    pub fn parse(raw: &str) -> Quantity<K> {
        Quantity { raw: raw.to_string(), si: parse_quantity(raw), kind: PhantomData }
    }

    /// The value in metres (a [`Length`]) or kilograms (a [`Mass`]). Only meaningful on a
    /// validated rulebook, which refuses quantities that do not parse or are of the other kind.
    pub fn si(&self) -> f64 {
        // INVARIANT: validation rejects unparsed quantities, so NaN never reaches a check.
        self.si.as_ref().map(|(v, _)| *v).unwrap_or(f64::NAN)
    }

    /// The text as written in the rulebook.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    fn check(&self, path: &str, problems: &mut Vec<String>) {
        let dim = K::DIM;
        match &self.si {
            Err(e) => problems.push(format!("{path}: `{}` {e}", self.raw)),
            Ok((_, d)) if *d != dim => problems.push(format!("{path}: `{}` must be a {}", self.raw, dim_word(dim))),
            Ok((v, _)) if *v <= 0.0 => problems.push(format!("{path}: `{}` must be positive", self.raw)),
            Ok(_) => {}
        }
    }
}

fn dim_word(d: Dim) -> &'static str {
    match d {
        Dim::Length => "length (m, km, mi, mm, ft, in)",
        Dim::Mass => "mass (kg, t, lb)",
    }
}

fn parse_quantity(raw: &str) -> Result<(f64, Dim), String> {
    let tokens: Vec<&str> = raw.split_whitespace().collect();
    if tokens.is_empty() || !tokens.len().is_multiple_of(2) {
        return Err("needs a number and a unit, e.g. `4 m` or `8 ft 6 in`".into());
    }
    let mut total = 0.0;
    let mut dim = None;
    for pair in tokens.chunks(2) {
        // Rust reads `NaN`, `inf` and `1e400` (as infinity) as numbers; no limit is any of them.
        let n: f64 = pair[0].parse().map_err(|_| format!("`{}` is not a number", pair[0]))?;
        if !n.is_finite() {
            return Err(format!("`{}` is not a finite number", pair[0]));
        }
        if n.is_sign_negative() {
            return Err(format!("`{}` is negative", pair[0]));
        }
        let (factor, d) = match pair[1] {
            "m" => (1.0, Dim::Length),
            "km" => (units::METRES_PER_KILOMETRE, Dim::Length),
            "mi" => (units::METRES_PER_MILE, Dim::Length),
            "mm" => (units::METRES_PER_MILLIMETRE, Dim::Length),
            "cm" => (units::METRES_PER_CENTIMETRE, Dim::Length),
            "ft" => (units::METRES_PER_FOOT, Dim::Length),
            "in" => (units::METRES_PER_INCH, Dim::Length),
            "kg" => (1.0, Dim::Mass),
            "t" => (units::KG_PER_TONNE, Dim::Mass),
            "lb" => (units::KG_PER_POUND, Dim::Mass),
            u => return Err(format!("has unknown unit `{u}` (m, km, mi, mm, cm, ft, in, kg, t, lb)")),
        };
        if dim.is_some_and(|x| x != d) {
            return Err("mixes lengths and masses".into());
        }
        dim = Some(d);
        total += n * factor;
    }
    if !total.is_finite() {
        return Err("is too large".into());
    }
    dim.map(|d| (total, d)).ok_or_else(|| "is empty".into())
}

impl<'de, K: Kind> Deserialize<'de> for Quantity<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Quantity::parse(&String::deserialize(d)?))
    }
}

impl<K> Serialize for Quantity<K> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl<K> fmt::Display for Quantity<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// A validated rulebook.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rulebook {
    /// Identity of the rulebook.
    pub rulebook: Meta,
    /// Identifier formats checked at input validation.
    pub formats: Formats,
    /// When a vehicle is over-limit.
    pub overlimit: Overlimit,
    /// CN-style refusal limits on average and maximum axle loads.
    #[serde(default)]
    pub axle_refusal: Option<AxleRefusal>,
    /// US-style single and tandem axle limits.
    #[serde(default)]
    pub axle_groups: Option<AxleGroups>,
    /// The FHWA bridge formula over every axle group.
    #[serde(default)]
    pub bridge_formula: Option<BridgeFormula>,
    /// Permit classes, in increasing order.
    pub classes: Vec<PermitClass>,
    /// Driver requirements.
    pub drivers: Drivers,
    /// When escorts are required.
    #[serde(default)]
    pub escort: Vec<EscortRule>,
    /// The qualification escort personnel hold.
    pub escort_qualification: EscortQualification,
    /// Carrier requirements.
    pub carrier: CarrierRules,
    /// Liability insurance minimums, where the jurisdiction sets any.
    #[serde(default)]
    pub insurance: Option<Insurance>,
    /// Tolerances for declared vs registered values.
    pub tolerances: Tolerances,
    /// Cargo rules and categories.
    pub cargo: CargoRules,
    /// Route rules.
    pub route: RouteRules,
    /// Allowed travel days.
    pub time_windows: TimeWindows,
    /// The auto-approve envelope.
    pub envelope: Envelope,
    /// The standard conditions a reviewer may attach to an approval.
    #[serde(default)]
    pub conditions: Vec<StandardCondition>,
}

/// Identity of a rulebook.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Jurisdiction code matched against the application's `jurisdiction`.
    pub jurisdiction: String,
    /// The legal instruments it encodes.
    pub name: String,
    /// Edition of this file.
    pub edition: String,
}

/// Identifier formats of a jurisdiction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Formats {
    /// Personal ID numbers.
    pub person_id: IdScheme,
    /// Company identifiers.
    pub company_id: IdScheme,
    /// Vehicle plates.
    pub plate: PlateScheme,
}

/// How identifiers are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdScheme {
    /// GB 11643 resident ID numbers.
    Gb11643,
    /// GB 32100 unified social credit codes.
    Gb32100,
    /// No check beyond being non-empty.
    None,
}

/// How plates are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlateScheme {
    /// GA 36 Chinese plates.
    Cn,
    /// No check beyond being non-empty.
    None,
}

/// Over-limit thresholds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlimit {
    /// Legal basis.
    pub basis: String,
    /// Height from the ground.
    pub max_height: Length,
    /// Width.
    pub max_width: Length,
    /// Length.
    pub max_length: Length,
    /// Gross mass limits by axle count and combination.
    #[serde(default)]
    pub gross: Vec<GrossLimit>,
    /// Lower limit for 6+ axle combinations whose tractor has a single drive axle.
    #[serde(default)]
    pub single_drive_six_axle_limit: Option<Mass>,
    /// A flat gross limit (US), applied together with the bridge formula.
    #[serde(default)]
    pub max_gross: Option<Mass>,
}

/// Rigid truck or articulated / drawbar combination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combination {
    /// A truck alone.
    Rigid,
    /// Tractor or truck with trailers.
    Articulated,
}

/// Gross limit for an axle count; the largest count applies to all longer combinations.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrossLimit {
    /// Number of axles.
    pub axles: u32,
    /// Kind of combination.
    pub combination: Combination,
    /// Gross mass limit.
    pub limit: Mass,
}

/// CN refusal limits (Order 62 art. 19).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AxleRefusal {
    /// Legal basis.
    pub basis: String,
    /// Ordinary trailer combination: average axle load.
    pub ordinary_max_average: Mass,
    /// Ordinary trailer combination: any axle.
    pub ordinary_max_any: Mass,
    /// Hydraulic modular trailer: average per axle line.
    pub modular_max_average_per_line: Mass,
    /// Hydraulic modular trailer: any axle line.
    pub modular_max_per_line: Mass,
}

/// US single and tandem limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AxleGroups {
    /// Legal basis.
    pub basis: String,
    /// Axles closer than this are one single axle.
    pub single_max_spread: Length,
    /// Two axles up to this far apart are a tandem.
    pub tandem_max_spread: Length,
    /// Single axle limit.
    pub single: Mass,
    /// Tandem limit.
    pub tandem: Mass,
}

/// W = coefficient · (L·N/(N−1) + per_axle·N + constant), L in feet, rounded to `round_to`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeFormula {
    /// Legal basis.
    pub basis: String,
    /// The 500 lb coefficient.
    pub coefficient: Mass,
    /// The 12 in 12N.
    pub per_axle: f64,
    /// The 36.
    pub constant: f64,
    /// Rounding step of the result.
    pub round_to: Mass,
    /// Two consecutive tandems at least this long may carry a tandem limit each.
    pub tandem_pair_exception_length: Length,
}

/// One permit class and its thresholds; a class without thresholds takes everything beyond.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermitClass {
    /// Class number, 1-based.
    pub class: u8,
    /// Legal basis.
    pub basis: String,
    /// Maximum loaded height.
    #[serde(default)]
    pub max_height: Option<Length>,
    /// Maximum loaded width.
    #[serde(default)]
    pub max_width: Option<Length>,
    /// Maximum loaded length.
    #[serde(default)]
    pub max_length: Option<Length>,
    /// Maximum gross mass.
    #[serde(default)]
    pub max_gross: Option<Mass>,
    /// Gross mass and axle loads must stay within the over-limit thresholds.
    #[serde(default)]
    pub mass_within_legal: bool,
    /// Statutory decision time in working days.
    pub processing_days: u32,
    /// The same across provincial (state) borders.
    pub processing_days_cross_province: u32,
}

/// Driver requirements.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drivers {
    /// Legal basis.
    pub basis: String,
    /// Licence classes allowed for a tractor-trailer.
    pub licence_classes_articulated: Vec<String>,
    /// Licence classes allowed for a rigid truck.
    pub licence_classes_rigid: Vec<String>,
    /// Most violation points a driver may have.
    pub max_violation_points: u32,
    /// Qualification kind a driver needs.
    pub qualification: String,
}

/// An escort requirement triggered by class or width.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscortRule {
    /// Legal basis.
    pub basis: String,
    /// Applies from this class on.
    #[serde(default)]
    pub min_class: Option<u8>,
    /// Applies above this loaded width.
    #[serde(default)]
    pub min_width: Option<Length>,
    /// Escort vehicles required.
    pub vehicles: u32,
    /// Escort personnel required.
    pub personnel: u32,
    /// Whether the numbers come from the legal text.
    #[serde(default = "yes")]
    pub verified: bool,
}

fn yes() -> bool {
    true
}

/// The qualification escort personnel hold.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscortQualification {
    /// Qualification kind in the people registry.
    pub kind: String,
}

/// Carrier requirements.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarrierRules {
    /// Legal basis.
    pub basis: String,
    /// Most over-limit violations allowed in 12 months.
    pub max_overlimit_violations_12m: u32,
    /// Transport licence scope required.
    pub required_scope: String,
}

/// Liability insurance minimums.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Insurance {
    /// Legal basis.
    pub basis: String,
    /// Whether the numbers come from the legal text.
    #[serde(default = "yes")]
    pub verified: bool,
    /// Minimum cover (registry currency) for class 1, 2, 3, ...
    pub min_cover_by_class: Vec<f64>,
}

/// Tolerances.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tolerances {
    /// Axle loads vs gross mass, as a share.
    pub axle_sum_share: f64,
    /// Curb + cargo vs gross mass, as a share.
    pub mass_balance_share: f64,
    /// Curb + cargo vs gross mass, at least this.
    pub mass_balance_min: Mass,
    /// Declared vs registered dimensions.
    pub dimension: Length,
}

/// Cargo rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CargoRules {
    /// Legal basis for indivisibility.
    pub basis: String,
    /// Lowest possible deck height.
    pub min_deck_height: Length,
    /// Largest overhang accepted without review.
    pub max_overhang: Length,
    /// Basis of the overhang value.
    pub overhang_basis: String,
    /// Known categories.
    pub categories: Vec<CargoCategory>,
}

/// A cargo category with plausible ranges.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CargoCategory {
    /// Category name used in applications.
    pub name: String,
    /// Whether loads of this category are indivisible.
    pub indivisible: bool,
    /// Plausible bounding-box density, kg/m³, [low, high].
    pub density_kg_m3: [f64; 2],
    /// Plausible mass, [low, high].
    pub mass: [Mass; 2],
}

/// Route rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRules {
    /// Basis.
    pub basis: String,
    /// Largest distance between consecutive vertices.
    pub max_vertex_gap: Length,
    /// Most vertices a declared route may have.
    pub max_vertices: usize,
    /// Longest a declared route may be, along its vertices.
    pub max_length: Length,
    /// Clearance margin above the loaded height.
    pub height_margin: Length,
}

/// Allowed travel days.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindows {
    /// Legal basis.
    pub basis: String,
    /// `Mon` .. `Sun`.
    pub allowed_weekdays: Vec<String>,
}

/// The auto-approve envelope.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// Basis.
    pub basis: String,
    /// Classes that may be approved without a person.
    pub auto_approve_classes: Vec<u8>,
}

/// A standard condition of approval: its text, with `{name}` where a value goes, and the
/// values' defaults, which the reviewer may change on the decision form.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandardCondition {
    /// Stable id, as recorded with a decision (`escort`).
    pub id: String,
    /// Short name, English.
    pub title: String,
    /// Short name, Chinese.
    pub title_zh: String,
    /// The condition as issued; `{name}` is replaced by the value `name`.
    pub text: String,
    /// Every value the text names, with its default.
    #[serde(default)]
    pub values: std::collections::BTreeMap<String, String>,
}

impl StandardCondition {
    /// The text with `values` filled in (a value not given keeps its default).
    pub fn render(&self, values: &std::collections::BTreeMap<String, String>) -> String {
        self.values.iter().fold(self.text.clone(), |text, (name, default)| {
            text.replace(&format!("{{{name}}}"), values.get(name).unwrap_or(default))
        })
    }

    /// The names between braces in the text.
    fn placeholders(&self) -> BTreeSet<&str> {
        self.text.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name)).collect()
    }
}

/// A rulebook with the hash of its source text.
#[derive(Debug, Clone)]
pub struct LoadedRulebook {
    /// The rules.
    pub rules: Rulebook,
    /// `sha256:<hex>` of the TOML text.
    pub hash: String,
}

impl LoadedRulebook {
    /// Parses and validates TOML text; `path` only labels errors.
    pub fn from_toml(path: &str, text: &str) -> Result<LoadedRulebook, RulebookError> {
        let invalid = |problems| RulebookError::Invalid { path: path.to_string(), problems };
        let rules: Rulebook = toml::from_str(text).map_err(|e| invalid(vec![e.to_string()]))?;
        let problems = rules.problems();
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        let hash = digest::sha256_tagged(text.as_bytes());
        Ok(LoadedRulebook { rules, hash })
    }

    /// Reads and validates a rulebook file.
    pub fn from_file(path: &std::path::Path) -> Result<LoadedRulebook, RulebookError> {
        let label = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| RulebookError::Read { path: label.clone(), source })?;
        Self::from_toml(&label, &text)
    }

    /// The rulebooks compiled into the binary.
    pub fn embedded() -> Result<Vec<LoadedRulebook>, RulebookError> {
        EMBEDDED.iter().map(|(path, text)| Self::from_toml(path, text)).collect()
    }
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

impl Rulebook {
    /// Every problem in the rulebook, each prefixed by its key path.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let o = &self.overlimit;
        o.max_height.check("overlimit.max_height", &mut p);
        o.max_width.check("overlimit.max_width", &mut p);
        o.max_length.check("overlimit.max_length", &mut p);
        for (i, g) in o.gross.iter().enumerate() {
            g.limit.check(&format!("overlimit.gross[{i}].limit"), &mut p);
            if g.axles < 2 {
                p.push(format!("overlimit.gross[{i}].axles: a vehicle has at least 2 axles"));
            }
        }
        if let Some(q) = &o.single_drive_six_axle_limit {
            q.check("overlimit.single_drive_six_axle_limit", &mut p);
        }
        if let Some(q) = &o.max_gross {
            q.check("overlimit.max_gross", &mut p);
        }
        if o.gross.is_empty() && o.max_gross.is_none() {
            p.push("overlimit: needs a `gross` table or a `max_gross`".into());
        }
        if let Some(a) = &self.axle_refusal {
            a.ordinary_max_average.check("axle_refusal.ordinary_max_average", &mut p);
            a.ordinary_max_any.check("axle_refusal.ordinary_max_any", &mut p);
            a.modular_max_average_per_line.check("axle_refusal.modular_max_average_per_line", &mut p);
            a.modular_max_per_line.check("axle_refusal.modular_max_per_line", &mut p);
        }
        if let Some(a) = &self.axle_groups {
            a.single_max_spread.check("axle_groups.single_max_spread", &mut p);
            a.tandem_max_spread.check("axle_groups.tandem_max_spread", &mut p);
            a.single.check("axle_groups.single", &mut p);
            a.tandem.check("axle_groups.tandem", &mut p);
        }
        if let Some(b) = &self.bridge_formula {
            b.coefficient.check("bridge_formula.coefficient", &mut p);
            b.round_to.check("bridge_formula.round_to", &mut p);
            b.tandem_pair_exception_length.check("bridge_formula.tandem_pair_exception_length", &mut p);
            for (name, term) in [("per_axle", b.per_axle), ("constant", b.constant)] {
                if !term.is_finite() {
                    p.push(format!("bridge_formula.{name}: `{term}` is not a finite number"));
                }
            }
        }
        if self.axle_refusal.is_none() && self.axle_groups.is_none() && self.bridge_formula.is_none() {
            p.push("axle limits: needs `axle_refusal`, `axle_groups` or `bridge_formula`".into());
        }
        self.class_problems(&mut p);
        for (i, e) in self.escort.iter().enumerate() {
            if let Some(w) = &e.min_width {
                w.check(&format!("escort[{i}].min_width"), &mut p);
            }
            if e.min_class.is_none() && e.min_width.is_none() {
                p.push(format!("escort[{i}]: needs `min_class` or `min_width`"));
            }
        }
        if let Some(ins) = &self.insurance {
            if ins.min_cover_by_class.len() != self.classes.len() {
                p.push(format!(
                    "insurance.min_cover_by_class: has {} values for {} classes",
                    ins.min_cover_by_class.len(),
                    self.classes.len()
                ));
            }
            for (i, cover) in ins.min_cover_by_class.iter().enumerate() {
                if !(cover.is_finite() && *cover >= 0.0) {
                    p.push(format!(
                        "insurance.min_cover_by_class[{i}]: `{cover}` must be a finite amount of at least 0"
                    ));
                }
            }
        }
        let t = &self.tolerances;
        for (name, share) in [("axle_sum_share", t.axle_sum_share), ("mass_balance_share", t.mass_balance_share)] {
            if !(0.0..0.5).contains(&share) {
                p.push(format!("tolerances.{name}: `{share}` must be a share between 0 and 0.5"));
            }
        }
        t.mass_balance_min.check("tolerances.mass_balance_min", &mut p);
        t.dimension.check("tolerances.dimension", &mut p);
        self.cargo_problems(&mut p);
        condition_problems(&self.conditions, &mut p);
        self.route.max_vertex_gap.check("route.max_vertex_gap", &mut p);
        self.route.max_length.check("route.max_length", &mut p);
        if self.route.max_vertices < 2 {
            p.push(format!("route.max_vertices: `{}` must be at least 2", self.route.max_vertices));
        }
        self.route.height_margin.check("route.height_margin", &mut p);
        for d in &self.time_windows.allowed_weekdays {
            if !WEEKDAYS.contains(&d.as_str()) {
                p.push(format!("time_windows.allowed_weekdays: `{d}` is not one of {}", WEEKDAYS.join(", ")));
            }
        }
        p
    }

    fn class_problems(&self, p: &mut Vec<String>) {
        if self.classes.is_empty() {
            p.push("classes: at least one permit class is needed".into());
        }
        for (i, c) in self.classes.iter().enumerate() {
            if usize::from(c.class) != i + 1 {
                p.push(format!("classes[{i}].class: expected {}, found {}", i + 1, c.class));
            }
            let key = |f: &str| format!("classes[{i}].{f}");
            for (f, q) in [("max_height", &c.max_height), ("max_width", &c.max_width), ("max_length", &c.max_length)] {
                if let Some(q) = q {
                    q.check(&key(f), p);
                }
            }
            if let Some(q) = &c.max_gross {
                q.check(&key("max_gross"), p);
            }
        }
        if let Some(last) = self.classes.last()
            && (last.max_height.is_some()
                || last.max_width.is_some()
                || last.max_length.is_some()
                || last.max_gross.is_some())
        {
            p.push("classes: the last class must have no thresholds (it takes everything beyond)".into());
        }
        for c in &self.envelope.auto_approve_classes {
            if !self.classes.iter().any(|k| k.class == *c) {
                p.push(format!("envelope.auto_approve_classes: class {c} is not defined"));
            }
        }
    }

    fn cargo_problems(&self, p: &mut Vec<String>) {
        let c = &self.cargo;
        c.min_deck_height.check("cargo.min_deck_height", p);
        c.max_overhang.check("cargo.max_overhang", p);
        let mut seen = BTreeSet::new();
        for (i, cat) in c.categories.iter().enumerate() {
            if !seen.insert(cat.name.as_str()) {
                p.push(format!("cargo.categories[{i}].name: `{}` appears twice", cat.name));
            }
            let [lo, hi] = cat.density_kg_m3;
            if !(lo > 0.0 && lo < hi && hi.is_finite()) {
                p.push(format!(
                    "cargo.categories[{i}].density_kg_m3: needs 0 < low < high, both finite, found [{lo}, {hi}]"
                ));
            }
            cat.mass[0].check(&format!("cargo.categories[{i}].mass[0]"), p);
            cat.mass[1].check(&format!("cargo.categories[{i}].mass[1]"), p);
        }
    }

    /// The category named, if the rulebook knows it.
    pub fn category(&self, name: &str) -> Option<&CargoCategory> {
        self.cargo.categories.iter().find(|c| c.name == name)
    }
}

/// Ids must be unique and the text must name exactly the values given.
fn condition_problems(conditions: &[StandardCondition], p: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    for (i, c) in conditions.iter().enumerate() {
        if c.id.trim().is_empty() || !seen.insert(c.id.as_str()) {
            p.push(format!("conditions[{i}].id: `{}` must be non-empty and unique", c.id));
        }
        let named = c.placeholders();
        let given: BTreeSet<&str> = c.values.keys().map(String::as_str).collect();
        if named != given {
            p.push(format!(
                "conditions[{i}].values: the text names {named:?}, the values are {given:?}; they must be the same"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_convert_to_si() {
        let close = |raw: &str, got: f64, want: f64| {
            assert!((got - want).abs() < 1e-6, "{raw}: {got} != {want}");
        };
        for (raw, want) in [("4 m", 4.0), ("8 ft 6 in", 2.5908), ("40 in", 1.016)] {
            close(raw, Length::parse(raw).si(), want);
        }
        for (raw, want) in [("80000 lb", 36287.3896), ("7.5 t", 7500.0)] {
            close(raw, Mass::parse(raw).si(), want);
        }
        assert!(Length::parse("4").si().is_nan());
        assert!(Length::parse("4 furlongs").si().is_nan());
        assert!(Length::parse("4 m 3 kg").si().is_nan());
    }

    #[test]
    fn non_finite_negative_and_overflowing_quantities_are_refused() {
        for (raw, why) in [
            ("NaN m", "`NaN` is not a finite number"),
            ("inf m", "`inf` is not a finite number"),
            ("-infinity m", "`-infinity` is not a finite number"),
            ("1e400 m", "`1e400` is not a finite number"),
            ("1e308 t", "is too large"),
            ("1e308 m 1e308 m", "is too large"),
            ("8 ft -6 in", "`-6` is negative"),
        ] {
            assert_eq!(Length::parse(raw).si, Err(why.to_string()), "{raw}");
        }
    }

    #[test]
    fn plain_numbers_that_are_not_finite_are_refused() {
        let cn = EMBEDDED[0]
            .1
            .replace("min_cover_by_class = [1000000, 2000000, 5000000]", "min_cover_by_class = [nan, -1, inf]");
        let us = EMBEDDED[1].1.replace("per_axle = 12", "per_axle = inf").replace("constant = 36", "constant = nan");
        let problems = |path: &str, text: &str| match LoadedRulebook::from_toml(path, text) {
            Err(RulebookError::Invalid { problems, .. }) => problems,
            other => unreachable!("the edited rulebook must be refused, got {other:?}"),
        };
        assert_eq!(
            problems("cn", &cn),
            [
                "insurance.min_cover_by_class[0]: `NaN` must be a finite amount of at least 0",
                "insurance.min_cover_by_class[1]: `-1` must be a finite amount of at least 0",
                "insurance.min_cover_by_class[2]: `inf` must be a finite amount of at least 0",
            ]
        );
        assert_eq!(
            problems("us", &us),
            [
                "bridge_formula.per_axle: `inf` is not a finite number",
                "bridge_formula.constant: `NaN` is not a finite number",
            ]
        );
        let density = EMBEDDED[0].1.replacen("density_kg_m3 = [", "density_kg_m3 = [1, inf] #", 1);
        let found = problems("cn", &density);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].ends_with("needs 0 < low < high, both finite, found [1, inf]"), "{found:?}");
    }

    #[test]
    fn shipped_rulebooks_load() {
        let books = LoadedRulebook::embedded().map_err(|e| e.to_string());
        assert_eq!(books.map(|b| b.len()), Ok(2));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = EMBEDDED[0]
            .1
            .replace("max_height = \"4 m\"", "max_height = \"4 kg\"")
            .replace("max_width = \"2.55 m\"", "max_width = \"wide\"")
            .replace("auto_approve_classes = [1, 2]", "auto_approve_classes = [1, 7]");
        let Err(RulebookError::Invalid { problems, .. }) = LoadedRulebook::from_toml("cn", &text) else {
            unreachable!("the edited rulebook must be refused")
        };
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].starts_with("overlimit.max_height: `4 kg` must be a length"));
        assert!(problems[1].starts_with("overlimit.max_width: `wide`"));
        assert!(problems[2].contains("class 7 is not defined"));
    }
}
