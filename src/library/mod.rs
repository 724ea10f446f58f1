//! Submit once, reuse afterwards: the carrier library as applicants see it, references to it
//! in a new application, and renewals and amendments of a recorded application.
//!
//! An application may name, instead of its `agent`, `drivers`, `escort`, `vehicle` or
//! `route`, the application that part was archived from: `"vehicle": {"ref": "JN-2026-000123"}`.
//! [`expand`] replaces each reference by the archived part before anything else reads the
//! application, so validation, the review, the ledger's hash and replay all see the
//! expanded application; nothing reused is trusted, it is reviewed in full as of the new
//! submission and schedule. [`derive`] makes a renewal or an amendment from a recorded
//! application and the request (a JSON merge patch, RFC 7396). [`Provenance`] says, in the
//! recorded review, what was reused from where.
//!
//! [`indicators`] computes the service indicators from the ledger's records.

// On the request path an index out of range is a panic: use `get`, iterators or patterns.
#![deny(clippy::indexing_slicing)]

pub mod decision_time;
pub mod indicators;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::application::{FieldError, merge_patch};
use crate::ids::mask_id;
use crate::ledger::{ArchivedPart, Ledger, LedgerError, Part};
use crate::review::Review;

/// Why an application could not be assembled from the library.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// A reference or the request is malformed or names nothing archived; every problem with
    /// its JSON Pointer.
    #[error("invalid input: {} problem(s)", .0.len())]
    Invalid(Vec<FieldError>),
    /// A reference to another carrier's data, or an amendment that changes the carrier.
    #[error("{0}")]
    Foreign(String),
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// One part taken from the library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reuse {
    /// Which part.
    pub part: Part,
    /// The application it was archived from.
    pub from: String,
}

/// How an application was assembled: what it renews or amends, and the parts it reused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Provenance {
    /// The application this one renews (a new schedule), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renews: Option<String>,
    /// The application this one amends (a merge patch), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amends: Option<String>,
    /// Parts taken from the library by reference, in form order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reused: Vec<Reuse>,
}

impl Provenance {
    /// Nothing was renewed, amended or reused.
    pub fn is_empty(&self) -> bool {
        self.renews.is_none() && self.amends.is_none() && self.reused.is_empty()
    }
}

/// A review as the service records and answers it: the review, how its application was
/// assembled, and how long the machine took to decide.
#[derive(Debug, Serialize)]
pub struct Recorded<'a> {
    /// The review.
    #[serde(flatten)]
    pub review: &'a Review,
    /// What was renewed, amended or reused; absent when nothing was.
    #[serde(skip_serializing_if = "Provenance::is_empty")]
    pub provenance: &'a Provenance,
    /// Milliseconds from the request's arrival to the decision (before the ledger write).
    pub machine_decision_ms: f64,
}

fn field_error(pointer: String, message: String) -> FieldError {
    FieldError { pointer, message }
}

/// The carrier's credit code of an application, if it has a readable one.
pub fn uscc_of(application: &Value) -> Option<&str> {
    application.pointer("/carrier/uscc").and_then(Value::as_str)
}

/// The id a part of `application` refers to, if the part is a reference
/// (`{"ref": "<application id>"}`), or the problem with it.
fn reference(application: &Value, part: Part) -> Option<Result<String, FieldError>> {
    let object = application.get(part.as_str())?.as_object()?;
    let target = object.get("ref")?;
    let at = format!("/{}", part.as_str());
    Some(if object.len() > 1 {
        Err(field_error(at, "a reference stands alone: `ref` and nothing else".into()))
    } else {
        match target.as_str() {
            Some(id) if !id.is_empty() => Ok(id.to_string()),
            _ => Err(field_error(format!("{at}/ref"), "must be the id of a recorded application".into())),
        }
    })
}

/// Replaces every reference in `application` by the part archived from the application it
/// names; what was reused, in form order. A reference to another carrier's part is
/// [`LibraryError::Foreign`]; one that names nothing archived is a field error at its `ref`.
pub fn expand(application: &mut Value, ledger: &dyn Ledger) -> Result<Vec<Reuse>, LibraryError> {
    let mut reused = Vec::new();
    let mut errors = Vec::new();
    let mut found = Vec::new();
    for part in Part::ALL {
        match reference(application, part) {
            None => {}
            Some(Err(e)) => errors.push(e),
            Some(Ok(id)) => match ledger.archived(&id, part)? {
                None => errors.push(field_error(
                    format!("/{}/ref", part.as_str()),
                    format!("no `{}` is archived from application `{id}`", part.as_str()),
                )),
                Some(archived) => found.push(archived),
            },
        }
    }
    if !found.is_empty() && uscc_of(application).is_none() {
        errors.push(field_error("/carrier/uscc".into(), "a reference needs the carrier's credit code".into()));
    }
    if let Some(foreign) = found.iter().find(|a| uscc_of(application).is_some_and(|uscc| uscc != a.uscc)) {
        return Err(LibraryError::Foreign(format!(
            "the `{}` of application `{}` belongs to another carrier: an application may reuse only its own \
             carrier's library",
            foreign.part.as_str(),
            foreign.application_id
        )));
    }
    if !errors.is_empty() {
        return Err(LibraryError::Invalid(errors));
    }
    for archived in found {
        let content: Value = serde_json::from_str(&archived.content).map_err(|e| LedgerError::Corrupt {
            seq: archived.seq,
            message: format!("archived `{}`: {e}", archived.part.as_str()),
        })?;
        if let Some(slot) = application.get_mut(archived.part.as_str()) {
            *slot = content;
        }
        reused.push(Reuse { part: archived.part, from: archived.application_id });
    }
    Ok(reused)
}

/// What a new application is made from a recorded one by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derivation {
    /// A new schedule: the request names `application_id`, `submitted_at` and `schedule`.
    Renewal,
    /// A JSON merge patch (RFC 7396) of the recorded application, naming at least a new
    /// `application_id` and `submitted_at`.
    Amendment,
}

impl Derivation {
    fn name(self) -> &'static str {
        match self {
            Derivation::Renewal => "renewal",
            Derivation::Amendment => "amendment",
        }
    }

    /// The provenance of an application derived from `base_id`.
    pub fn provenance(self, base_id: &str, reused: Vec<Reuse>) -> Provenance {
        let base = Some(base_id.to_string());
        match self {
            Derivation::Renewal => Provenance { renews: base, reused, ..Provenance::default() },
            Derivation::Amendment => Provenance { amends: base, reused, ..Provenance::default() },
        }
    }
}

/// Fields a renewal may name.
const RENEWAL_FIELDS: [&str; 3] = ["application_id", "submitted_at", "schedule"];

/// The application that `request` makes of the recorded application `base` (whose id is
/// `base_id`). The request must name a new `application_id` and a `submitted_at`; a renewal
/// names a `schedule` and nothing else. A part the request replaces by a reference is
/// replaced whole (merged, the reference would sit beside the recorded fields). The
/// carrier stays the recorded application's: a request that changes its credit code is
/// [`LibraryError::Foreign`].
pub fn derive(base: &Value, base_id: &str, request: &Value, how: Derivation) -> Result<Value, LibraryError> {
    let mut errors = Vec::new();
    let Some(fields) = request.as_object() else {
        return Err(LibraryError::Invalid(vec![field_error(String::new(), "must be a JSON object".into())]));
    };
    if how == Derivation::Renewal {
        for key in fields.keys().filter(|k| !RENEWAL_FIELDS.contains(&k.as_str())) {
            errors.push(field_error(
                format!("/{}", key.replace('~', "~0").replace('/', "~1")),
                "a renewal changes only `application_id`, `submitted_at` and `schedule`: use an amendment".into(),
            ));
        }
    }
    let required: &[&str] = match how {
        Derivation::Renewal => &RENEWAL_FIELDS,
        Derivation::Amendment => &["application_id", "submitted_at"],
    };
    for key in required.iter().filter(|k| fields.get(**k).is_none_or(Value::is_null)) {
        errors.push(field_error(format!("/{key}"), format!("a {} must name its own `{key}`", how.name())));
    }
    if fields.get("application_id").and_then(Value::as_str) == Some(base_id) {
        errors.push(field_error(
            "/application_id".into(),
            format!("is the id of the application this {} derives from: name a new one", how.name()),
        ));
    }
    if !errors.is_empty() {
        return Err(LibraryError::Invalid(errors));
    }
    let mut derived = base.clone();
    for part in Part::ALL.into_iter().filter(|p| reference(request, *p).is_some()) {
        if let Some(slot) = derived.get_mut(part.as_str()) {
            *slot = Value::Null;
        }
    }
    merge_patch(&mut derived, request);
    if uscc_of(&derived) != uscc_of(base) {
        return Err(LibraryError::Foreign(format!(
            "an {} keeps the carrier of application `{base_id}`: its credit code cannot change",
            how.name()
        )));
    }
    Ok(derived)
}

/// One entry of a carrier's library: a part as archived, ID numbers masked, with the
/// applications it was recorded in.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LibraryEntry {
    /// Which part.
    pub part: Part,
    /// The latest application it was recorded in: what a new application names as `ref`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Every application it was recorded in, in ledger order.
    pub applications: Vec<String>,
    /// When it was last recorded, RFC 3339 UTC.
    pub recorded_at: String,
    /// The part as recorded, ID numbers masked.
    #[schema(value_type = Object)]
    pub content: Value,
}

/// The library of one carrier from its archived parts (in ledger order): the same part
/// recorded again with the same content is one entry; entries in form order, then by when
/// they were last recorded, latest first.
pub fn entries(parts: Vec<ArchivedPart>) -> Vec<LibraryEntry> {
    let mut grouped: BTreeMap<(Part, String), LibraryEntry> = BTreeMap::new();
    for a in parts {
        let entry = grouped.entry((a.part, a.content)).or_insert_with_key(|(part, content)| LibraryEntry {
            part: *part,
            reference: String::new(),
            applications: Vec::new(),
            recorded_at: String::new(),
            content: masked(*part, serde_json::from_str(content).unwrap_or(Value::Null)),
        });
        entry.reference.clone_from(&a.application_id);
        entry.recorded_at = a.recorded_at;
        entry.applications.push(a.application_id);
    }
    let mut out: Vec<LibraryEntry> = grouped.into_values().collect();
    out.sort_by(|a, b| a.part.cmp(&b.part).then_with(|| b.recorded_at.cmp(&a.recorded_at)));
    out
}

/// A part with every person's ID number masked ([`mask_id`]).
fn masked(part: Part, mut content: Value) -> Value {
    let mask = |v: &mut Value| {
        if let Some(id) = v.as_str() {
            *v = Value::String(mask_id(id));
        }
    };
    match part {
        Part::Agent => content.get_mut("id_number").into_iter().for_each(mask),
        Part::Drivers => {
            content.as_array_mut().into_iter().flatten().filter_map(|d| d.get_mut("id_number")).for_each(mask)
        }
        Part::Escort => {
            content.get_mut("personnel_id_numbers").and_then(Value::as_array_mut).into_iter().flatten().for_each(mask)
        }
        Part::Vehicle | Part::Route => {}
    }
    content
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_renewal_names_a_new_id_and_schedule_only() {
        let base = json!({"application_id": "A", "carrier": {"uscc": "U"}, "schedule": {"trips": 1}});
        let ok = derive(
            &base,
            "A",
            &json!({"application_id": "B", "submitted_at": "t", "schedule": {"trips": 2}}),
            Derivation::Renewal,
        );
        assert!(matches!(ok, Ok(v) if v["schedule"]["trips"] == 2 && v["application_id"] == "B"));
        let bad = derive(&base, "A", &json!({"application_id": "A", "cargo": {}}), Derivation::Renewal);
        let Err(LibraryError::Invalid(errors)) = bad else { unreachable!("{bad:?}") };
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/cargo", "/submitted_at", "/schedule", "/application_id"]);
        let moved = derive(
            &base,
            "A",
            &json!({"application_id": "B", "submitted_at": "t", "carrier": {"uscc": "V"}}),
            Derivation::Amendment,
        );
        assert!(matches!(moved, Err(LibraryError::Foreign(_))));
    }

    #[test]
    fn an_amendment_replaces_a_part_named_by_reference_whole() {
        let base = json!({"application_id": "A", "carrier": {"uscc": "U"}, "vehicle": {"units": [1], "axles": [2]}});
        let request = json!({"application_id": "B", "submitted_at": "t", "vehicle": {"ref": "Z"}});
        let derived = derive(&base, "A", &request, Derivation::Amendment).ok();
        assert_eq!(derived.map(|d| d["vehicle"].clone()), Some(json!({"ref": "Z"})));
    }

    #[test]
    fn library_entries_merge_repeats_and_mask_id_numbers() {
        let part = |seq: i64, id: &str, part: Part, content: Value| ArchivedPart {
            seq,
            application_id: id.into(),
            uscc: "U".into(),
            part,
            content: content.to_string(),
            recorded_at: format!("2026-11-0{seq}"),
        };
        let drivers = json!([{"name": "D", "id_number": "37081119850505231X"}]);
        let listed = entries(vec![
            part(1, "A", Part::Drivers, drivers.clone()),
            part(1, "A", Part::Vehicle, json!({"units": 1})),
            part(2, "B", Part::Drivers, drivers),
            part(3, "C", Part::Vehicle, json!({"units": 2})),
        ]);
        let summary: Vec<(Part, &str, usize)> =
            listed.iter().map(|e| (e.part, e.reference.as_str(), e.applications.len())).collect();
        assert_eq!(summary, [(Part::Drivers, "B", 2), (Part::Vehicle, "C", 1), (Part::Vehicle, "A", 1)]);
        assert_eq!(
            listed.first().map(|e| e.content.clone()),
            Some(json!([{"name": "D", "id_number": "3708************1X"}]))
        );
    }
}
