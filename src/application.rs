//! The unified application form (SPEC "input contract"): serde types, parsing that reports
//! every problem with a JSON Pointer, and validation with `validator` plus domain checks.
//!
//! Units are in field names; coordinates are `[lon, lat]` WGS84.

// On the request path an index out of range is a panic: use `get`, iterators or patterns.
#![deny(clippy::indexing_slicing)]

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use serde_json::map::Entry;
use validator::{Validate, ValidationError, ValidationErrors, ValidationErrorsKind};

use crate::ids;
use crate::rulebook::{Formats, IdScheme, PlateScheme};

/// One permit application as a permit platform sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// The platform's reference, unique per application.
    #[validate(length(min = 1, max = 64), custom(function = "check_reference"))]
    pub application_id: String,
    /// Rulebook to apply, e.g. `CN` or `US`.
    #[validate(length(min = 2, max = 8))]
    pub jurisdiction: String,
    /// When the platform received the application; validity is judged against it.
    pub submitted_at: DateTime<FixedOffset>,
    /// The transport company.
    #[validate(nested)]
    pub carrier: Carrier,
    /// The person submitting on the carrier's behalf.
    #[validate(nested)]
    pub agent: Agent,
    /// Drivers of the combination.
    #[validate(length(min = 1, max = 6), nested)]
    pub drivers: Vec<Person>,
    /// Escort vehicles and personnel, when any travel with the load.
    #[serde(default)]
    #[validate(nested)]
    pub escort: Option<Escort>,
    /// The combination: units and axles.
    #[validate(nested)]
    pub vehicle: Vehicle,
    /// What is carried.
    #[validate(nested)]
    pub cargo: Cargo,
    /// Dimensions and mass of vehicle and cargo together.
    #[validate(nested)]
    pub loaded: Loaded,
    /// The declared route.
    #[validate(nested)]
    pub route: Route,
    /// When the trips take place.
    #[validate(nested)]
    pub schedule: Schedule,
}

/// The carrier company.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Carrier {
    /// Registered name.
    #[validate(length(min = 1, max = 200))]
    pub name: String,
    /// Unified social credit code (GB 32100 in CN).
    #[validate(length(min = 1, max = 32))]
    pub uscc: String,
    /// Road transport operating licence number.
    #[validate(length(min = 1, max = 64))]
    pub transport_license_no: String,
}

/// The agent who files the application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// Full name.
    #[validate(length(min = 1, max = 100))]
    pub name: String,
    /// Resident ID number.
    #[validate(length(min = 1, max = 32))]
    pub id_number: String,
    /// Reference of the carrier's power of attorney.
    #[validate(length(min = 1, max = 64))]
    pub authorization_ref: String,
}

/// A driver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// Full name.
    #[validate(length(min = 1, max = 100))]
    pub name: String,
    /// Resident ID number.
    #[validate(length(min = 1, max = 32))]
    pub id_number: String,
}

/// Escort vehicles and personnel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Escort {
    /// Plates of the escort cars.
    #[validate(length(max = 10))]
    pub vehicle_plates: Vec<String>,
    /// ID numbers of the escort personnel.
    #[validate(length(max = 20))]
    pub personnel_id_numbers: Vec<String>,
}

/// The combination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Vehicle {
    /// Units from front to back.
    #[validate(length(min = 1, max = 6), nested)]
    pub units: Vec<Unit>,
    /// Axles (axle lines of a modular trailer) from front to back, over all units.
    #[validate(length(min = 2, max = 80), nested)]
    pub axles: Vec<Axle>,
}

/// What a unit is in the combination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnitRole {
    /// Tractor of an articulated combination.
    Tractor,
    /// Semi-trailer, full trailer or modular trailer.
    Trailer,
    /// Rigid truck.
    Truck,
}

impl UnitRole {
    /// The word used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitRole::Tractor => "tractor",
            UnitRole::Trailer => "trailer",
            UnitRole::Truck => "truck",
        }
    }
}

/// One unit of the combination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Unit {
    /// Registered plate; `null` when the unit has none yet and needs a temporary pass.
    pub plate: Option<String>,
    /// Role in the combination.
    pub role: UnitRole,
    /// Vehicle identification number; required when there is no plate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(length(min = 17, max = 17))]
    pub vin: Option<String>,
    /// Declared number of axles (axle lines), compared with the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(range(min = 1, max = 40))]
    pub axles: Option<u32>,
    /// Declared curb mass, compared with the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(range(exclusive_min = 0.0, max = 300000.0))]
    pub curb_mass_kg: Option<f64>,
}

/// One axle, or one axle line of a hydraulic modular trailer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Axle {
    /// Load on this axle when loaded.
    #[validate(range(exclusive_min = 0.0, max = 60000.0))]
    pub load_kg: f64,
    /// Distance to the next axle; `null` on the last one.
    #[validate(range(min = 0.3, max = 40.0))]
    pub spacing_to_next_m: Option<f64>,
    /// Tyres on this axle (2 single, 4 dual, 8 on a modular axle line).
    #[validate(range(min = 2, max = 16))]
    pub tyres: u32,
    /// Whether the axle is driven; an undeclared axle counts as not driven.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drive: Option<bool>,
}

/// The cargo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cargo {
    /// What it is, in the applicant's words.
    #[validate(length(min = 1, max = 200))]
    pub description: String,
    /// Category from the rulebook's list, e.g. `transformer`.
    #[validate(length(min = 1, max = 64))]
    pub category: String,
    /// Declared indivisible (cannot be dismantled without destroying its use).
    pub indivisible: bool,
    /// Cargo mass.
    #[validate(range(exclusive_min = 0.0, max = 3000000.0))]
    pub mass_kg: f64,
    /// Cargo bounding box.
    #[validate(range(exclusive_min = 0.0, max = 150.0))]
    pub length_m: f64,
    /// Cargo bounding box.
    #[validate(range(exclusive_min = 0.0, max = 20.0))]
    pub width_m: f64,
    /// Cargo bounding box.
    #[validate(range(exclusive_min = 0.0, max = 12.0))]
    pub height_m: f64,
}

/// Vehicle and cargo together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Loaded {
    /// Overall length.
    #[validate(range(min = 2.0, max = 150.0))]
    pub length_m: f64,
    /// Overall width.
    #[validate(range(min = 1.0, max = 20.0))]
    pub width_m: f64,
    /// Height from the ground.
    #[validate(range(min = 1.0, max = 12.0))]
    pub height_m: f64,
    /// Gross combination mass.
    #[validate(range(min = 1000.0, max = 5000000.0))]
    pub gross_mass_kg: f64,
}

/// The declared route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Where the trip starts, in words.
    #[validate(length(min = 1, max = 200))]
    pub origin: String,
    /// Where the trip ends, in words.
    #[validate(length(min = 1, max = 200))]
    pub destination: String,
    /// The path as the platform's map draws it.
    #[validate(nested)]
    pub geometry: LineString,
    /// Whether the route uses urban roads (needs the urban-road approval).
    #[serde(default)]
    pub urban_roads: bool,
    /// Whether the route crosses a provincial (state) border; sets the statutory deadline.
    #[serde(default)]
    pub cross_province: bool,
}

/// A GeoJSON LineString.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineString {
    /// Must be `LineString`.
    #[serde(rename = "type")]
    #[validate(custom(function = "check_linestring_type"))]
    pub kind: String,
    /// `[lon, lat]` positions.
    #[validate(length(min = 2, max = 100000), custom(function = "check_positions"))]
    pub coordinates: Vec<[f64; 2]>,
}

/// When the trips take place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// First travel day.
    pub start: NaiveDate,
    /// Last travel day.
    pub end: NaiveDate,
    /// Number of trips.
    #[validate(range(min = 1, max = 1000))]
    pub trips: u32,
}

/// One problem with the input, located by a JSON Pointer (RFC 6901).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
pub struct FieldError {
    /// Where, e.g. `/vehicle/axles/2/load_kg`.
    pub pointer: String,
    /// What is wrong, in plain language.
    pub message: String,
}

impl FieldError {
    pub(crate) fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { pointer: pointer.into(), message: message.into() }
    }

    /// The jurisdiction has no rulebook loaded.
    pub(crate) fn no_rulebook(jurisdiction: &str) -> Self {
        FieldError::new("/jurisdiction", format!("no rulebook is loaded for `{jurisdiction}`"))
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.pointer.is_empty() { "(document)" } else { &self.pointer };
        write!(f, "{at}: {}", self.message)
    }
}

/// Why a document could not be read as JSON.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// The bytes are not UTF-8 text; the offset of the first that is not.
    #[error("not UTF-8 text: the byte at offset {0} is not UTF-8 (JSON must be UTF-8)")]
    NotUtf8(usize),
    /// Not well-formed JSON.
    #[error("not valid JSON: {0}")]
    Malformed(serde_json::Error),
    /// Well-formed JSON that gives a key more than once in one object: each such key.
    #[error("{} key(s) appear more than once in their object", .0.len())]
    Duplicates(Vec<FieldError>),
}

impl JsonError {
    /// The problem as field errors: the duplicated keys, or one error for the whole document.
    pub fn field_errors(self) -> Vec<FieldError> {
        match self {
            JsonError::Duplicates(errors) => errors,
            other => vec![FieldError::new("", other.to_string())],
        }
    }
}

/// Reads a JSON document the way every input of oscar is read: UTF-8 only, a leading
/// byte-order mark skipped (editors on Windows write one), and a key given twice in one
/// object refused with its pointer (serde_json would silently keep the last, so what is
/// reviewed could differ from what a person reading the document sees first).
pub fn read_json(bytes: &[u8]) -> Result<Value, JsonError> {
    let text = std::str::from_utf8(bytes).map_err(|e| JsonError::NotUtf8(e.valid_up_to()))?;
    value_from_str(text)
}

/// [`read_json`] for text. One pass that builds the tree as `serde_json::from_str` does, with
/// the same one map lookup per key; a pointer is spelled out only for a duplicate.
fn value_from_str(text: &str) -> Result<Value, JsonError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut duplicates = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let value = ValueAt { at: &At::Root, duplicates: &mut duplicates }
        .deserialize(&mut de)
        .and_then(|value| de.end().map(|()| value))
        .map_err(JsonError::Malformed)?;
    if duplicates.is_empty() {
        Ok(value)
    } else {
        duplicates.sort();
        duplicates.dedup();
        Err(JsonError::Duplicates(duplicates))
    }
}

/// Where a value sits: a chain of borrowed steps up to the root, walked only to name a
/// duplicate key, so reading allocates nothing for it.
enum At<'a> {
    Root,
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    fn pointer(&self) -> String {
        match self {
            At::Root => String::new(),
            At::Key(up, key) => format!("{}/{}", up.pointer(), escape(key)),
            At::Index(up, i) => format!("{}/{i}", up.pointer()),
        }
    }
}

/// Builds a [`Value`] at a place in the document, noting every key given twice.
struct ValueAt<'a, 'e> {
    at: &'a At<'a>,
    duplicates: &'e mut Vec<FieldError>,
}

impl<'de> DeserializeSeed<'de> for ValueAt<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueAt<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let ValueAt { at, duplicates } = self;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ValueAt { at: &At::Index(at, items.len()), duplicates })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let ValueAt { at, duplicates } = self;
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            match object.entry(key) {
                Entry::Vacant(slot) => {
                    let value = map.next_value_seed(ValueAt { at: &At::Key(at, slot.key()), duplicates })?;
                    slot.insert(value);
                }
                Entry::Occupied(first) => {
                    let pointer = At::Key(at, first.key()).pointer();
                    duplicates.push(FieldError::new(pointer, "appears more than once in its object"));
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(object))
    }
}

/// Parses JSON text into an application, reporting every type error of every section and
/// then every validation problem. `formats_for` gives the identifier formats of a
/// jurisdiction, or `None` when no rulebook exists for it.
pub fn parse(json: &str, formats_for: impl Fn(&str) -> Option<Formats>) -> Result<Application, Vec<FieldError>> {
    // Well-formed input takes the direct path (serde's derived structs refuse a field given
    // twice, so a duplicate key never passes it); only a failure pays for the
    // section-by-section pass that finds every problem.
    let app = match serde_json::from_str::<Application>(json) {
        Ok(app) => app,
        Err(_) => from_value(&value_from_str(json).map_err(JsonError::field_errors)?, &formats_for)?,
    };
    checked(app, formats_for)
}

/// [`parse`] for a document already parsed as JSON (the service keeps the value to hash
/// its canonical form, so the text is not parsed twice).
pub fn parse_value(
    value: &serde_json::Value,
    formats_for: impl Fn(&str) -> Option<Formats>,
) -> Result<Application, Vec<FieldError>> {
    let app = match Application::deserialize(value) {
        Ok(app) => app,
        Err(_) => from_value(value, &formats_for)?,
    };
    checked(app, formats_for)
}

fn checked(app: Application, formats_for: impl Fn(&str) -> Option<Formats>) -> Result<Application, Vec<FieldError>> {
    let mut errors = validate(&app, formats_for);
    if errors.is_empty() {
        Ok(app)
    } else {
        errors.sort();
        errors.dedup();
        Err(errors)
    }
}

const SECTIONS: [&str; 12] = [
    "application_id",
    "jurisdiction",
    "submitted_at",
    "carrier",
    "agent",
    "drivers",
    "escort",
    "vehicle",
    "cargo",
    "loaded",
    "route",
    "schedule",
];

/// Deserialises section by section so that one bad section does not hide the others, and
/// checks what could be read: a type error or an unknown field never hides the problems of
/// the sections that did parse (a bad check digit, a schedule out of order).
fn from_value(
    value: &serde_json::Value,
    formats_for: &impl Fn(&str) -> Option<Formats>,
) -> Result<Application, Vec<FieldError>> {
    let serde_json::Value::Object(map) = value else {
        return Err(vec![FieldError::new("", "must be a JSON object")]);
    };
    let mut errors: Vec<FieldError> = map
        .keys()
        .filter(|k| !SECTIONS.contains(&k.as_str()))
        .map(|k| FieldError::new(format!("/{}", escape(k)), "is not a field of the application form"))
        .collect();
    let e = &mut errors;
    let application_id = required::<String>(map, "application_id", e);
    let jurisdiction = required::<String>(map, "jurisdiction", e);
    let submitted_at = required::<DateTime<FixedOffset>>(map, "submitted_at", e);
    let carrier = required::<Carrier>(map, "carrier", e);
    let agent = required::<Agent>(map, "agent", e);
    let drivers = required::<Vec<Person>>(map, "drivers", e);
    let escort = map.get("escort").map_or(Some(None), |v| read_section::<Option<Escort>>("escort", v, e));
    let vehicle = required::<Vehicle>(map, "vehicle", e);
    let cargo = required::<Cargo>(map, "cargo", e);
    let loaded = required::<Loaded>(map, "loaded", e);
    let route = required::<Route>(map, "route", e);
    let schedule = required::<Schedule>(map, "schedule", e);
    let unread: Vec<&str> = [
        ("application_id", application_id.is_none()),
        ("jurisdiction", jurisdiction.is_none()),
        ("submitted_at", submitted_at.is_none()),
        ("carrier", carrier.is_none()),
        ("agent", agent.is_none()),
        ("drivers", drivers.is_none()),
        ("escort", escort.is_none()),
        ("vehicle", vehicle.is_none()),
        ("cargo", cargo.is_none()),
        ("loaded", loaded.is_none()),
        ("route", route.is_none()),
        ("schedule", schedule.is_none()),
    ]
    .into_iter()
    .filter_map(|(name, missing)| missing.then_some(name))
    .collect();
    // A section that could not be read stands in with values no check across sections
    // objects to (the earliest submission, the largest loaded size); what the checks say
    // about the stand-ins themselves is dropped below.
    let app = Application {
        application_id: application_id.unwrap_or_default(),
        // No jurisdiction, no identifier formats: check digits are not guessed.
        jurisdiction: jurisdiction.unwrap_or_default(),
        submitted_at: submitted_at.unwrap_or(DateTime::<chrono::Utc>::MIN_UTC.fixed_offset()),
        carrier: carrier.unwrap_or_else(|| Carrier {
            name: String::new(),
            uscc: String::new(),
            transport_license_no: String::new(),
        }),
        agent: agent.unwrap_or_else(|| Agent {
            name: String::new(),
            id_number: String::new(),
            authorization_ref: String::new(),
        }),
        drivers: drivers.unwrap_or_default(),
        escort: escort.flatten(),
        vehicle: vehicle.unwrap_or_else(|| Vehicle { units: Vec::new(), axles: Vec::new() }),
        cargo: cargo.unwrap_or_else(|| Cargo {
            description: String::new(),
            category: String::new(),
            indivisible: false,
            mass_kg: 0.0,
            length_m: 0.0,
            width_m: 0.0,
            height_m: 0.0,
        }),
        loaded: loaded.unwrap_or(Loaded {
            length_m: f64::MAX,
            width_m: f64::MAX,
            height_m: f64::MAX,
            gross_mass_kg: f64::MAX,
        }),
        route: route.unwrap_or_else(|| Route {
            origin: String::new(),
            destination: String::new(),
            geometry: LineString { kind: String::new(), coordinates: Vec::new() },
            urban_roads: false,
            cross_province: false,
        }),
        schedule: schedule.unwrap_or(Schedule { start: NaiveDate::MAX, end: NaiveDate::MAX, trips: 1 }),
    };
    if errors.is_empty() {
        return Ok(app);
    }
    let under = |pointer: &str, name: &str| {
        pointer
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(name))
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    let mut checks = validate(&app, formats_for);
    checks.retain(|e| !unread.iter().any(|name| under(&e.pointer, name)));
    checks.sort();
    errors.extend(checks);
    errors.dedup();
    Err(errors)
}

/// A section that must be present, read as far as it can be (see [`read_section`]).
fn required<T: DeserializeOwned>(
    map: &serde_json::Map<String, serde_json::Value>,
    name: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    match map.get(name) {
        Some(value) => read_section(name, value, errors),
        None => {
            errors.push(FieldError::new(format!("/{name}"), "is required"));
            None
        }
    }
}

/// Reads one section, reporting its problems at their pointers: every unknown field is
/// reported and set aside so the rest of the section is still read (and checked), and a
/// type error ends it (`None`).
fn read_section<T: DeserializeOwned>(name: &str, value: &serde_json::Value, errors: &mut Vec<FieldError>) -> Option<T> {
    let mut value = std::borrow::Cow::Borrowed(value);
    loop {
        let (pointer, message) = match typed_at(value.as_ref()) {
            Ok(section) => return Some(section),
            Err(err) => err,
        };
        errors.push(FieldError::new(format!("/{name}{pointer}"), plain_serde_message(&message)));
        // Each pass removes one key, so this ends.
        if !message.starts_with("unknown field") || !remove_at(value.to_mut(), &pointer) {
            return None;
        }
    }
}

/// Reads `value` as a `T`, or the JSON Pointer (relative to `value`) and serde's message of
/// the first problem.
pub(crate) fn typed_at<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let pointer = err
            .path()
            .iter()
            .filter_map(|seg| match seg {
                serde_path_to_error::Segment::Seq { index } => Some(format!("/{index}")),
                serde_path_to_error::Segment::Map { key } | serde_path_to_error::Segment::Enum { variant: key } => {
                    Some(format!("/{}", escape(key)))
                }
                serde_path_to_error::Segment::Unknown => None,
            })
            .collect();
        (pointer, err.into_inner().to_string())
    })
}

/// Removes the member at a JSON Pointer; whether there was one.
fn remove_at(value: &mut serde_json::Value, pointer: &str) -> bool {
    let Some((parent, key)) = pointer.rsplit_once('/') else { return false };
    let key = key.replace("~1", "/").replace("~0", "~");
    value.pointer_mut(parent).and_then(serde_json::Value::as_object_mut).is_some_and(|o| o.remove(&key).is_some())
}

/// serde_json's messages name Rust types (`expected struct Axle`, `expected u32`); reviewers
/// and integrators should not see those, so each is said in JSON's words.
pub(crate) fn plain_serde_message(msg: &str) -> String {
    let msg = msg.split(" at line ").next().unwrap_or(msg);
    if msg.starts_with("data did not match any variant of untagged enum") {
        return "matches none of the accepted forms".into();
    }
    // serde reads an array as an object's fields in order; an array is not what is asked for.
    if msg.starts_with("invalid length") && msg.contains("expected struct") {
        return "wrong type: array, expected an object".into();
    }
    let msg = msg
        .replace("invalid length 1, expected an array of length 2", "a position needs [lon, lat]")
        .replace("invalid type: ", "wrong type: ")
        .replace("unknown variant", "unknown value")
        .replace("type: sequence", "type: array")
        .replace("type: map", "type: object")
        .replace("expected a sequence", "expected an array")
        .replace("expected a map", "expected an object")
        .replace("expected a string", "expected text")
        .replace("expected a boolean", "expected true or false")
        .replace("a tuple of size", "an array of length")
        .replace("tuple struct ", "struct ")
        .replace("unit struct ", "struct ")
        .replace("struct variant ", "struct ");
    let mut out: Vec<String> = Vec::new();
    let mut words = msg.split(' ');
    while let Some(word) = words.next() {
        let (core, punctuation) = word.split_at(word.trim_end_matches([',', ';', ':']).len());
        let plain = match core {
            // The name of a Rust type follows: it is dropped, its punctuation kept.
            "struct" | "enum" => {
                let name = words.next().unwrap_or("");
                let (_, punctuation) = name.split_at(name.trim_end_matches([',', ';', ':']).len());
                let plain = if core == "struct" { "an object" } else { "one of the accepted values" };
                out.push(format!("{plain}{punctuation}"));
                continue;
            }
            "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => {
                "a whole number"
            }
            "f32" | "f64" => "a number",
            _ => core,
        };
        out.push(format!("{plain}{punctuation}"));
    }
    out.join(" ")
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn check_reference(id: &str) -> Result<(), ValidationError> {
    if id.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
        Ok(())
    } else {
        Err(ValidationError::new("reference").with_message("may contain only letters, digits and `- _ . /`".into()))
    }
}

fn check_linestring_type(kind: &str) -> Result<(), ValidationError> {
    if kind == "LineString" {
        Ok(())
    } else {
        Err(ValidationError::new("geometry_type").with_message(format!("must be `LineString`, found `{kind}`").into()))
    }
}

fn check_positions(coords: &[[f64; 2]]) -> Result<(), ValidationError> {
    for (i, [lon, lat]) in coords.iter().enumerate() {
        if !crate::units::is_lon_lat(*lon, *lat) {
            return Err(ValidationError::new("position").with_message(
                format!("position {i} `[{lon}, {lat}]` is not a [lon, lat] in degrees (lon -180..180, lat -90..90)")
                    .into(),
            ));
        }
    }
    if coords.iter().zip(coords.iter().skip(1)).all(|(a, b)| a == b) {
        return Err(ValidationError::new("degenerate")
            .with_message("all positions are the same point: the route has no length".into()));
    }
    Ok(())
}

/// Every validation problem: the `validator` attributes, then the domain rules that need
/// several fields or the jurisdiction's identifier formats.
pub fn validate(app: &Application, formats_for: impl Fn(&str) -> Option<Formats>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Err(e) = app.validate() {
        flatten(&e, String::new(), &mut errors);
    }
    match formats_for(&app.jurisdiction) {
        Some(formats) => check_identifiers(app, &formats, &mut errors),
        None => errors.push(FieldError::no_rulebook(&app.jurisdiction)),
    }
    check_consistency(app, &mut errors);
    errors
}

fn flatten(errors: &ValidationErrors, prefix: String, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let path = format!("{prefix}/{field}");
        match kind {
            ValidationErrorsKind::Field(list) => {
                out.extend(list.iter().map(|e| FieldError::new(path.clone(), describe(e))));
            }
            ValidationErrorsKind::Struct(inner) => flatten(inner, path, out),
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    flatten(inner, format!("{path}/{i}"), out);
                }
            }
        }
    }
}

fn describe(e: &ValidationError) -> String {
    if let Some(m) = &e.message {
        return m.to_string();
    }
    let p = |k: &str| e.params.get(k).map(|v| v.to_string());
    match e.code.as_ref() {
        "range" => {
            let bound = match (p("min").or(p("exclusive_min")), p("max")) {
                (Some(lo), Some(hi)) => format!("between {lo} and {hi}"),
                (Some(lo), None) => format!("at least {lo}"),
                (None, Some(hi)) => format!("at most {hi}"),
                (None, None) => "in range".into(),
            };
            let strict = if p("exclusive_min").is_some() { " (and above the lower bound)" } else { "" };
            format!("must be {bound}{strict}, got {}", p("value").unwrap_or_default())
        }
        "length" => match (p("min"), p("max"), p("equal")) {
            (_, _, Some(n)) => format!("must have exactly {n} characters"),
            (Some(lo), Some(hi), _) => format!("must have between {lo} and {hi} entries or characters"),
            (Some(lo), None, _) => format!("must have at least {lo} entries or characters"),
            (None, Some(hi), _) => format!("must have at most {hi} entries or characters"),
            _ => "has the wrong length".into(),
        },
        code => format!("is not valid ({code})"),
    }
}

fn check_identifiers(app: &Application, formats: &Formats, out: &mut Vec<FieldError>) {
    let person = |pointer: String, id: &str, out: &mut Vec<FieldError>| {
        if formats.person_id == IdScheme::Gb11643
            && let Err(m) = ids::check_id_number(id)
        {
            out.push(FieldError::new(pointer, format!("ID number `{}` {m}", ids::mask_id(id))));
        }
    };
    person("/agent/id_number".into(), &app.agent.id_number, out);
    for (i, d) in app.drivers.iter().enumerate() {
        person(format!("/drivers/{i}/id_number"), &d.id_number, out);
    }
    if formats.company_id == IdScheme::Gb32100
        && let Err(m) = ids::check_uscc(&app.carrier.uscc)
    {
        out.push(FieldError::new("/carrier/uscc", format!("credit code `{}` {m}", app.carrier.uscc)));
    }
    let plate = |pointer: String, plate: &str, out: &mut Vec<FieldError>| -> Option<ids::PlateKind> {
        if formats.plate != PlateScheme::Cn {
            return None;
        }
        ids::check_cn_plate(plate).map_err(|m| out.push(FieldError::new(pointer, format!("plate `{plate}` {m}")))).ok()
    };
    for (i, unit) in app.vehicle.units.iter().enumerate() {
        let Some(p) = &unit.plate else { continue };
        let kind = plate(format!("/vehicle/units/{i}/plate"), p, out);
        let trailer_plate = kind == Some(ids::PlateKind::Trailer);
        if kind.is_some() && trailer_plate != (unit.role == UnitRole::Trailer) {
            out.push(FieldError::new(
                format!("/vehicle/units/{i}/plate"),
                format!(
                    "plate `{p}` is {} trailer plate but the unit is a {}",
                    if trailer_plate { "a" } else { "not a" },
                    unit.role.as_str()
                ),
            ));
        }
    }
    if let Some(escort) = &app.escort {
        for (i, p) in escort.vehicle_plates.iter().enumerate() {
            plate(format!("/escort/vehicle_plates/{i}"), p, out);
        }
        for (i, id) in escort.personnel_id_numbers.iter().enumerate() {
            person(format!("/escort/personnel_id_numbers/{i}"), id, out);
        }
    }
}

fn check_consistency(app: &Application, out: &mut Vec<FieldError>) {
    let units = &app.vehicle.units;
    for (i, unit) in units.iter().enumerate() {
        if unit.plate.is_none() && unit.vin.is_none() {
            out.push(FieldError::new(format!("/vehicle/units/{i}/vin"), "is required when the unit has no plate"));
        }
    }
    match units.first().map(|u| u.role) {
        Some(UnitRole::Trailer) => out.push(FieldError::new(
            "/vehicle/units/0/role",
            "the first unit must be a tractor or a truck, not a trailer",
        )),
        Some(UnitRole::Tractor) if units.len() == 1 => {
            out.push(FieldError::new("/vehicle/units", "a tractor needs at least one trailer"))
        }
        _ => {}
    }
    for (i, unit) in units.iter().enumerate().skip(1) {
        if unit.role != UnitRole::Trailer {
            out.push(FieldError::new(
                format!("/vehicle/units/{i}/role"),
                format!("only the first unit can be a {}; units behind it are trailers", unit.role.as_str()),
            ));
        }
    }
    let axles = &app.vehicle.axles;
    let last = axles.len().saturating_sub(1);
    for (i, axle) in axles.iter().enumerate() {
        match (i == last, axle.spacing_to_next_m) {
            (true, Some(_)) => out.push(FieldError::new(
                format!("/vehicle/axles/{i}/spacing_to_next_m"),
                "must be null on the last axle",
            )),
            (false, None) => out.push(FieldError::new(
                format!("/vehicle/axles/{i}/spacing_to_next_m"),
                "is required: the distance to the next axle",
            )),
            _ => {}
        }
    }
    let s = &app.schedule;
    if s.end < s.start {
        out.push(FieldError::new("/schedule/end", format!("`{}` is before the start `{}`", s.end, s.start)));
    }
    let submitted = app.submitted_at.date_naive();
    if s.start < submitted {
        out.push(FieldError::new(
            "/schedule/start",
            format!("`{}` is before the application was submitted (`{submitted}`)", s.start),
        ));
    }
    if (s.end - s.start).num_days() > 366 {
        out.push(FieldError::new("/schedule/end", "a schedule may span at most one year"));
    }
    let c = &app.cargo;
    let l = &app.loaded;
    if c.mass_kg >= l.gross_mass_kg {
        out.push(FieldError::new(
            "/cargo/mass_kg",
            format!("`{}` kg is not less than the gross mass `{}` kg", c.mass_kg, l.gross_mass_kg),
        ));
    }
    if c.height_m >= l.height_m {
        out.push(FieldError::new(
            "/cargo/height_m",
            format!(
                "`{}` m is not less than the loaded height `{}` m: the cargo sits on a deck",
                c.height_m, l.height_m
            ),
        ));
    }
}

/// RFC 7396 JSON merge patch: objects merge recursively, `null` removes, anything else
/// replaces. Derives applications from a base (the golden cases, the load generator's mix).
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    let serde_json::Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = serde_json::Value::Object(serde_json::Map::new());
    }
    if let serde_json::Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(serde_json::Value::Null), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_top_level_fields_and_missing_sections_are_all_reported() {
        let errors = from_value(&serde_json::json!({"applicaton_id": "x", "jurisdiction": 5}), &|_: &str| None)
            .err()
            .unwrap_or_default();
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert!(pointers.contains(&"/applicaton_id"));
        assert!(pointers.contains(&"/application_id"));
        assert!(pointers.contains(&"/jurisdiction"));
        assert!(pointers.contains(&"/schedule"));
        assert!(!pointers.contains(&"/escort"), "escort is optional");
    }

    fn duplicates(text: &str) -> Vec<String> {
        match value_from_str(text) {
            Err(JsonError::Duplicates(errors)) => errors.into_iter().map(|e| e.pointer).collect(),
            other => unreachable!("expected duplicate keys, got {other:?}"),
        }
    }

    #[test]
    fn every_duplicate_key_is_named_by_its_pointer() {
        assert_eq!(duplicates(r#"{"a": 1, "a": 2}"#), ["/a"]);
        assert_eq!(
            duplicates(r#"{"a": [0, {"b": {"c": 1, "c": 1}}], "x": {"y/z~": 1, "y/z~": 2}}"#),
            ["/a/1/b/c", "/x/y~1z~0"]
        );
        assert_eq!(duplicates(r#"{"a": 1, "a": 2, "a": 3}"#), ["/a"], "one problem per key");
        assert_eq!(duplicates(r#"{"a": {"b": 1}, "a": {"b": 2, "b": 3}}"#), ["/a"], "a repeat's own value is skipped");
    }

    #[test]
    fn reading_builds_the_tree_serde_json_builds() {
        let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
        for entry in std::fs::read_dir(examples).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let ours = read_json(text.as_bytes()).map_err(|e| e.to_string());
            let theirs = serde_json::from_str::<Value>(&text).map_err(|e| e.to_string());
            assert_eq!(ours, theirs, "{}", entry.path().display());
        }
        let scalars = r#"[null, true, -1, 18446744073709551615, 0.5, -2.5e-3, "\u00e9\n", {}, []]"#;
        assert_eq!(read_json(scalars.as_bytes()).ok(), serde_json::from_str::<Value>(scalars).ok());
        for bad in ["", "{", "[1,]", "{} {}", "1e400", "\u{feff}\u{feff}{}"] {
            assert!(matches!(read_json(bad.as_bytes()), Err(JsonError::Malformed(_))), "{bad:?}");
        }
        assert_eq!(read_json("\u{feff}{}".as_bytes()).ok(), Some(serde_json::json!({})));
        assert!(matches!(read_json(b"[\"\xc3\x28\"]"), Err(JsonError::NotUtf8(2))));
    }

    #[test]
    fn type_errors_point_inside_sections() {
        let mut errors = Vec::new();
        let vehicle = read_section::<Vehicle>(
            "vehicle",
            &serde_json::json!({
                "units": [{"plate": "鲁H12345", "role": "tractor"}],
                "axles": [{"load_kg": "heavy", "spacing_to_next_m": null, "tyres": 2}]
            }),
            &mut errors,
        );
        assert!(vehicle.is_none());
        let err = errors.pop().unwrap_or_else(|| FieldError::new("none", "none"));
        assert_eq!(err.pointer, "/vehicle/axles/0/load_kg");
        assert!(err.message.contains("expected a number"), "{}", err.message);
    }
}

/// When the service received an application, and how far the platform's `submitted_at` may
/// be from it. Validity is judged against `submitted_at`, so a backdated one would approve
/// an authorization that has already expired; the service refuses one that is further from
/// its own clock than `max_skew`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The service's clock when the request arrived.
    pub at: DateTime<chrono::Utc>,
    /// Largest accepted distance between `submitted_at` and `at`, either way.
    pub max_skew: chrono::TimeDelta,
}

impl Receipt {
    /// The problem with `value`'s `submitted_at`, if it is readable and too far from the
    /// receipt; an unreadable one is reported by parsing.
    pub fn check(&self, value: &serde_json::Value) -> Option<FieldError> {
        let submitted = value.get("submitted_at")?.as_str()?;
        let submitted = DateTime::parse_from_rfc3339(submitted).ok()?;
        let skew = submitted.signed_duration_since(self.at);
        (skew.abs() > self.max_skew).then(|| {
            let received = self.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let (side, by) = if skew < chrono::TimeDelta::zero() { ("before", -skew) } else { ("after", skew) };
            FieldError::new(
                "/submitted_at",
                format!(
                    "`{submitted}` is {} s {side} the service received the application (`{received}`); at most {} s is accepted",
                    by.num_seconds(),
                    self.max_skew.num_seconds()
                ),
            )
        })
    }
}

/// A declared route larger than the rulebook allows: refused as input rather than matched,
/// since matching it would hold a review thread that others wait for.
pub(crate) fn route_size_problems(
    vertices: usize,
    length_m: f64,
    rules: &crate::rulebook::RouteRules,
) -> Vec<FieldError> {
    let mut out = Vec::new();
    if vertices > rules.max_vertices {
        out.push(FieldError::new(
            "/route/geometry/coordinates",
            format!("has `{vertices}` vertices; at most `{}` are accepted", rules.max_vertices),
        ));
    }
    if length_m > rules.max_length.si() {
        out.push(FieldError::new(
            "/route/geometry/coordinates",
            format!("is `{:.1}` km long; at most `{}` is accepted", length_m / 1000.0, rules.max_length.raw()),
        ));
    }
    out
}
