//! Reference registries: companies, people, vehicles and authorizations.
//!
//! A [`Registry`] answers lookups by key; [`fetch`] gathers every record one application
//! needs into [`References`] before any check runs, so the checks themselves are pure.

mod jsonl;
mod remote;

pub use jsonl::{FILES, JsonlRegistry, LoadError};
pub use remote::{RemoteError, RemoteOptions, RemoteRegistry, VersionAnswer};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::application::Application;

/// A company record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompanyRecord {
    /// Unified social credit code.
    pub uscc: String,
    /// Registered name.
    pub name: String,
    /// Registration status.
    pub status: CompanyStatus,
    /// Business licence expiry; `null` = no expiry.
    pub business_license_expires: Option<NaiveDate>,
    /// Road transport operating licence.
    pub transport_license: Option<TransportLicense>,
    /// End of a ban on over-limit transport, if any.
    pub banned_until: Option<NaiveDate>,
    /// Over-limit violations in the last 12 months.
    pub overlimit_violations_12m: u32,
    /// Third-party liability insurance.
    pub liability_insurance: Option<Insurance>,
}

/// Company status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompanyStatus {
    /// Trading.
    Active,
    /// Temporarily suspended.
    Suspended,
    /// Licence revoked.
    Revoked,
    /// Removed from the register.
    Deregistered,
}

/// A road transport operating licence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransportLicense {
    /// Licence number.
    pub number: String,
    /// Business scope, e.g. `large_cargo`.
    pub scope: Vec<String>,
    /// Expiry; `null` = none.
    pub expires: Option<NaiveDate>,
}

/// Liability insurance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Insurance {
    /// Cover in CNY.
    pub cover_cny: f64,
    /// Expiry; `null` = none.
    pub expires: Option<NaiveDate>,
}

/// A person record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonRecord {
    /// Resident ID number.
    pub id_number: String,
    /// Full name.
    pub name: String,
    /// Driving licence.
    pub driving_licence: Option<DrivingLicence>,
    /// Professional qualifications.
    pub qualifications: Vec<Qualification>,
    /// Points in the current cycle.
    pub violation_points: u32,
    /// End of a driving ban, if any.
    pub banned_until: Option<NaiveDate>,
}

/// A driving licence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrivingLicence {
    /// Class, e.g. `A2`.
    pub class: String,
    /// Expiry; `null` = none.
    pub expires: Option<NaiveDate>,
}

/// A professional qualification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Qualification {
    /// `freight_driver` or `large_cargo_escort`.
    pub kind: String,
    /// Certificate number.
    pub number: String,
    /// Expiry; `null` = none.
    pub expires: Option<NaiveDate>,
}

/// A vehicle record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VehicleRecord {
    /// Plate.
    pub plate: String,
    /// Vehicle identification number.
    pub vin: String,
    /// Kind of vehicle.
    pub kind: VehicleKind,
    /// Owner's credit code.
    pub owner_uscc: String,
    /// Registration status.
    pub status: VehicleStatus,
    /// Trailer type; `null` for powered vehicles.
    pub trailer_type: Option<TrailerType>,
    /// Number of axles (axle lines).
    pub axles: u32,
    /// Curb mass.
    pub curb_mass_kg: f64,
    /// Registered length.
    pub length_m: f64,
    /// Registered width.
    pub width_m: f64,
    /// Registered height.
    pub height_m: f64,
    /// Periodic inspection valid until.
    pub inspection_expires: Option<NaiveDate>,
    /// Road transport certificate.
    pub transport_certificate: Option<Certificate>,
}

/// Kind of vehicle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VehicleKind {
    /// Tractor unit.
    Tractor,
    /// Trailer.
    Trailer,
    /// Rigid truck.
    Truck,
    /// Escort car.
    EscortCar,
}

/// Registration status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VehicleStatus {
    /// Registered and usable.
    Registered,
    /// Registration suspended.
    Suspended,
    /// Scrapped.
    Scrapped,
}

/// Trailer type, which sets the axle-load refusal limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrailerType {
    /// Flatbed or low-bed semi-trailer.
    Ordinary,
    /// Hydraulic modular trailer (axle lines).
    HydraulicModular,
}

/// A road transport certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    /// Certificate number.
    pub number: String,
    /// Expiry; `null` = none.
    pub expires: Option<NaiveDate>,
}

/// A power of attorney from a carrier to an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationRecord {
    /// Reference quoted in applications.
    pub reference: String,
    /// The agent's ID number.
    pub agent_id_number: String,
    /// The carrier's credit code.
    pub carrier_uscc: String,
    /// First valid day.
    pub valid_from: NaiveDate,
    /// Last valid day; `null` = until revoked.
    pub valid_until: Option<NaiveDate>,
}

/// The outcome of one lookup. `Missing` and `Unavailable` both make an item unverified.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", content = "record", rename_all = "snake_case")]
pub enum Lookup<T> {
    /// The record.
    Found(T),
    /// No record with this key.
    Missing,
    /// The registry could not answer (outage, timeout, bad answer).
    Unavailable(String),
}

impl<T> Lookup<T> {
    /// The record, if found.
    pub fn found(&self) -> Option<&T> {
        match self {
            Lookup::Found(t) => Some(t),
            _ => None,
        }
    }
}

/// A source of reference records.
pub trait Registry: Send + Sync {
    /// Company by credit code.
    fn company(&self, uscc: &str) -> Lookup<CompanyRecord>;
    /// Person by ID number.
    fn person(&self, id_number: &str) -> Lookup<PersonRecord>;
    /// Vehicle by plate.
    fn vehicle(&self, plate: &str) -> Lookup<VehicleRecord>;
    /// Vehicle by VIN, for units that have no plate yet.
    fn vehicle_by_vin(&self, vin: &str) -> Lookup<VehicleRecord>;
    /// Authorization by reference.
    fn authorization(&self, reference: &str) -> Lookup<AuthorizationRecord>;
    /// Version of the data, recorded in every review.
    fn version(&self) -> String;
}

/// Every record one application refers to.
#[derive(Debug, Clone, Serialize)]
pub struct References {
    /// The carrier.
    pub carrier: Lookup<CompanyRecord>,
    /// The agent's authorization.
    pub authorization: Lookup<AuthorizationRecord>,
    /// One per driver, in order.
    pub drivers: Vec<Lookup<PersonRecord>>,
    /// One per unit, in order; by plate, or by VIN where the unit has no plate.
    pub units: Vec<Lookup<VehicleRecord>>,
    /// One per escort vehicle plate.
    pub escort_vehicles: Vec<Lookup<VehicleRecord>>,
    /// One per escort person.
    pub escort_people: Vec<Lookup<PersonRecord>>,
}

/// Looks up every record the application refers to.
pub fn fetch(app: &Application, registry: &dyn Registry) -> References {
    let escort = app.escort.as_ref();
    References {
        carrier: registry.company(&app.carrier.uscc),
        authorization: registry.authorization(&app.agent.authorization_ref),
        drivers: app.drivers.iter().map(|d| registry.person(&d.id_number)).collect(),
        units: app
            .vehicle
            .units
            .iter()
            .map(|u| match (&u.plate, &u.vin) {
                (Some(plate), _) => registry.vehicle(plate),
                (None, Some(vin)) => registry.vehicle_by_vin(vin),
                (None, None) => Lookup::Missing,
            })
            .collect(),
        escort_vehicles: escort
            .map(|e| e.vehicle_plates.iter().map(|p| registry.vehicle(p)).collect())
            .unwrap_or_default(),
        escort_people: escort
            .map(|e| e.personnel_id_numbers.iter().map(|id| registry.person(id)).collect())
            .unwrap_or_default(),
    }
}
