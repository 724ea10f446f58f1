//! The JSON Lines registry: `companies.jsonl`, `people.jsonl`, `vehicles.jsonl` and
//! `authorizations.jsonl` in one directory, loaded into memory and indexed by key.

use std::collections::HashMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::{AuthorizationRecord, CompanyRecord, Lookup, PersonRecord, Registry, VehicleRecord};

/// Why a registry directory could not be loaded: every bad line, with `file:line`.
#[derive(Debug, thiserror::Error)]
#[error("registry {dir} has {} problem(s):\n  {}", problems.len(), problems.join("\n  "))]
pub struct LoadError {
    /// The directory.
    pub dir: String,
    /// One entry per problem.
    pub problems: Vec<String>,
}

/// An in-memory registry loaded from JSON Lines files.
#[derive(Debug, Default)]
pub struct JsonlRegistry {
    companies: HashMap<String, CompanyRecord>,
    people: HashMap<String, PersonRecord>,
    vehicles: HashMap<String, VehicleRecord>,
    vins: HashMap<String, String>,
    authorizations: HashMap<String, AuthorizationRecord>,
    version: String,
}

/// File names in a registry directory.
pub const FILES: [&str; 4] = ["companies.jsonl", "people.jsonl", "vehicles.jsonl", "authorizations.jsonl"];

/// The shipped demo registry (`registry-demo/`, which `oscar demo-registry` writes), in
/// [`FILES`] order.
const EMBEDDED_DEMO: [&str; 4] = [
    include_str!("../../registry-demo/companies.jsonl"),
    include_str!("../../registry-demo/people.jsonl"),
    include_str!("../../registry-demo/vehicles.jsonl"),
    include_str!("../../registry-demo/authorizations.jsonl"),
];

impl JsonlRegistry {
    /// Loads a registry directory; refuses it whole if any line is bad or any key repeats.
    pub fn load(dir: &Path) -> Result<JsonlRegistry, LoadError> {
        let mut problems = Vec::new();
        let texts = FILES.map(|name| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).unwrap_or_else(|e| {
                problems.push(format!("{}: cannot read: {e}", path.display()));
                String::new()
            })
        });
        Self::from_texts(&dir.display().to_string(), &texts.each_ref().map(String::as_str), problems)
    }

    /// The demo registry compiled into the binary.
    pub fn embedded_demo() -> Result<JsonlRegistry, LoadError> {
        Self::from_texts("(embedded demo registry)", &EMBEDDED_DEMO, Vec::new())
    }

    /// Builds a registry from the four files' texts, in [`FILES`] order.
    fn from_texts(dir: &str, texts: &[&str; 4], mut problems: Vec<String>) -> Result<JsonlRegistry, LoadError> {
        let mut hasher = Sha256::new();
        for (name, text) in FILES.iter().zip(texts) {
            hasher.update(name.as_bytes());
            hasher.update(text.as_bytes());
        }
        let mut reg = JsonlRegistry {
            companies: index(texts[0], FILES[0], |r: &CompanyRecord| r.uscc.clone(), &mut problems),
            people: index(texts[1], FILES[1], |r: &PersonRecord| r.id_number.clone(), &mut problems),
            vehicles: index(texts[2], FILES[2], |r: &VehicleRecord| r.plate.clone(), &mut problems),
            authorizations: index(texts[3], FILES[3], |r: &AuthorizationRecord| r.reference.clone(), &mut problems),
            version: crate::digest::tagged(hasher.finalize()),
            ..JsonlRegistry::default()
        };
        for v in reg.vehicles.values() {
            if let Some(other) = reg.vins.insert(v.vin.clone(), v.plate.clone()) {
                problems.push(format!("{}: VIN `{}` is on both `{other}` and `{}`", FILES[2], v.vin, v.plate));
            }
        }
        if problems.is_empty() {
            Ok(reg)
        } else {
            problems.sort();
            Err(LoadError { dir: dir.to_string(), problems })
        }
    }
}

fn index<T: DeserializeOwned>(
    text: &str,
    file: &str,
    key: impl Fn(&T) -> String,
    problems: &mut Vec<String>,
) -> HashMap<String, T> {
    let mut map = HashMap::new();
    let mut first_line = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<T>(line) {
            Ok(record) => {
                let k = key(&record);
                if let Some(first) = first_line.insert(k.clone(), n) {
                    problems.push(format!("{file}:{n}: duplicate key `{k}` (first on line {first})"));
                } else {
                    map.insert(k, record);
                }
            }
            Err(e) => problems.push(format!("{file}:{n}: {e}")),
        }
    }
    map
}

fn lookup<T: Clone>(map: &HashMap<String, T>, key: &str) -> Lookup<T> {
    map.get(key).cloned().map_or(Lookup::Missing, Lookup::Found)
}

impl Registry for JsonlRegistry {
    fn company(&self, uscc: &str) -> Lookup<CompanyRecord> {
        lookup(&self.companies, uscc)
    }
    fn person(&self, id_number: &str) -> Lookup<PersonRecord> {
        lookup(&self.people, id_number)
    }
    fn vehicle(&self, plate: &str) -> Lookup<VehicleRecord> {
        lookup(&self.vehicles, plate)
    }
    fn vehicle_by_vin(&self, vin: &str) -> Lookup<VehicleRecord> {
        self.vins.get(vin).map_or(Lookup::Missing, |plate| lookup(&self.vehicles, plate))
    }
    fn authorization(&self, reference: &str) -> Lookup<AuthorizationRecord> {
        lookup(&self.authorizations, reference)
    }
    fn version(&self) -> String {
        self.version.clone()
    }
}
