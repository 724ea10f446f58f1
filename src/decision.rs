//! A reviewer's decision on an escalated case, and the case's status that decisions make.
//!
//! A decision is approve, approve with conditions (standard conditions of the rulebook, their
//! values editable, or free text), refuse, or request information from the applicant. A
//! refusal must state the findings of fact, the evidence each rests on, and the reasons (as
//! HVNL s172 requires of a refusal); anything missing is a field error with its pointer.

// On the request path an index out of range is a panic: use `get`, iterators or patterns.
#![deny(clippy::indexing_slicing)]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::application::FieldError;
use crate::review::Verdict;
use crate::rulebook::StandardCondition;

/// What a reviewer decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// The permit is granted as applied for.
    Approve,
    /// Granted on the conditions listed.
    ApproveWithConditions,
    /// Refused, on the findings and reasons given.
    Refuse,
    /// The applicant is asked for information; the case waits.
    RequestInformation,
}

impl DecisionKind {
    /// Every kind, in the order the decision form lists them.
    pub const ALL: [DecisionKind; 4] = [
        DecisionKind::Approve,
        DecisionKind::ApproveWithConditions,
        DecisionKind::Refuse,
        DecisionKind::RequestInformation,
    ];

    /// The word used in JSON and the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Approve => "approve",
            DecisionKind::ApproveWithConditions => "approve_with_conditions",
            DecisionKind::Refuse => "refuse",
            DecisionKind::RequestInformation => "request_information",
        }
    }

    /// The kind written as a word, if it is one.
    pub fn parse(word: &str) -> Option<DecisionKind> {
        DecisionKind::ALL.into_iter().find(|k| k.as_str() == word)
    }

    /// Whether the decision closes the case (everything but a request for information).
    pub fn is_final(self) -> bool {
        self != DecisionKind::RequestInformation
    }
}

/// A condition of an approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Condition {
    /// The rulebook's standard condition, if it is one; absent for free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The values filled into a standard condition.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
    /// The condition as issued (a standard condition with its values filled in).
    pub text: String,
}

/// A finding of fact and the evidence it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Finding {
    /// The fact found.
    pub fact: String,
    /// What it rests on: item ids, record or restriction ids, documents.
    pub evidence: Vec<String>,
}

/// A decision as recorded (the body of `POST /v1/reviews/{id}/decisions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    /// What was decided.
    pub kind: DecisionKind,
    /// `approve_with_conditions`: at least one; `{"id", "values"}` for a standard condition
    /// of the rulebook, `{"text"}` for free text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// `refuse`: the findings of fact, each with its evidence; at least one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// `refuse`: the reasons for refusing.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reasons: String,
    /// `request_information`: what the applicant is asked for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub information: String,
    /// Any kind: a note for the file.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// oscar approved it; no person needs to decide.
    AutoApproved,
    /// Escalated and waiting for a reviewer.
    Open,
    /// Information was requested from the applicant; the clock stopped then.
    Waiting,
    /// A reviewer approved or refused it.
    Decided,
}

impl CaseStatus {
    /// The word used in JSON and the queue's filter.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::AutoApproved => "auto_approved",
            CaseStatus::Open => "open",
            CaseStatus::Waiting => "waiting",
            CaseStatus::Decided => "decided",
        }
    }

    /// The status written as a word, if it is one.
    pub fn parse(word: &str) -> Option<CaseStatus> {
        [CaseStatus::AutoApproved, CaseStatus::Open, CaseStatus::Waiting, CaseStatus::Decided]
            .into_iter()
            .find(|s| s.as_str() == word)
    }

    /// The status of a case with this verdict after these decisions, in order.
    pub fn of(verdict: Verdict, decisions: impl IntoIterator<Item = DecisionKind>) -> CaseStatus {
        match (verdict, decisions.into_iter().last()) {
            (Verdict::Approve, _) => CaseStatus::AutoApproved,
            (Verdict::Escalate, None) => CaseStatus::Open,
            (Verdict::Escalate, Some(DecisionKind::RequestInformation)) => CaseStatus::Waiting,
            (Verdict::Escalate, Some(_)) => CaseStatus::Decided,
        }
    }
}

/// Why a decision cannot be recorded on a case as it stands.
pub fn refused_on(status: CaseStatus) -> Option<&'static str> {
    match status {
        CaseStatus::AutoApproved => Some("oscar approved this case; only escalated cases take a reviewer's decision"),
        CaseStatus::Decided => Some("this case is already decided; a decision, once recorded, stands"),
        CaseStatus::Open | CaseStatus::Waiting => None,
    }
}

/// Reads a decision from its JSON, against the rulebook's standard conditions; every
/// problem with its JSON Pointer.
pub fn parse(value: &Value, standard: &[StandardCondition]) -> Result<Decision, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(body) = value.as_object() else {
        return Err(vec![FieldError::new("", "a decision is a JSON object")]);
    };
    const FIELDS: [&str; 6] = ["kind", "conditions", "findings", "reasons", "information", "note"];
    for key in body.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        errors.push(FieldError::new(format!("/{key}"), format!("unknown field; the fields are {}", FIELDS.join(", "))));
    }
    let kind = match body.get("kind").and_then(Value::as_str).and_then(DecisionKind::parse) {
        Some(kind) => kind,
        None => {
            let words: Vec<&str> = DecisionKind::ALL.iter().map(|k| k.as_str()).collect();
            errors.push(FieldError::new("/kind", format!("must be one of {}", words.join(", "))));
            return Err(errors);
        }
    };
    let mut text = |field: &str, required: bool| -> String {
        let found = match body.get(field) {
            None => String::new(),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(_) => {
                errors.push(FieldError::new(format!("/{field}"), "must be text"));
                return String::new();
            }
        };
        if required && found.is_empty() {
            errors.push(FieldError::new(format!("/{field}"), format!("`{}` requires it", kind.as_str())));
        }
        found
    };
    let reasons = text("reasons", kind == DecisionKind::Refuse);
    let information = text("information", kind == DecisionKind::RequestInformation);
    let note = text("note", false);
    let conditions = conditions(body, kind, standard, &mut errors);
    let findings = findings(body, kind, &mut errors);
    for (field, allowed, given) in [
        ("reasons", DecisionKind::Refuse, !reasons.is_empty()),
        ("information", DecisionKind::RequestInformation, !information.is_empty()),
    ] {
        if given && kind != allowed {
            errors.push(FieldError::new(format!("/{field}"), format!("only `{}` takes it", allowed.as_str())));
        }
    }
    if errors.is_empty() {
        Ok(Decision { kind, conditions, findings, reasons, information, note })
    } else {
        Err(errors)
    }
}

/// The array at `field`: absent is empty; anything else than an array is an error.
fn array<'v>(body: &'v Map<String, Value>, field: &str, errors: &mut Vec<FieldError>) -> &'v [Value] {
    match body.get(field) {
        None => &[],
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.push(FieldError::new(format!("/{field}"), "must be an array"));
            &[]
        }
    }
}

/// The non-empty text at `value[key]`, or an error at `pointer/key`.
fn required_text(value: &Value, pointer: &str, key: &str, errors: &mut Vec<FieldError>) -> String {
    match value.get(key).and_then(Value::as_str).map(str::trim) {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => {
            errors.push(FieldError::new(format!("{pointer}/{key}"), "must be non-empty text"));
            String::new()
        }
    }
}

fn conditions(
    body: &Map<String, Value>,
    kind: DecisionKind,
    standard: &[StandardCondition],
    errors: &mut Vec<FieldError>,
) -> Vec<Condition> {
    let items = array(body, "conditions", errors);
    match (kind, items.is_empty()) {
        (DecisionKind::ApproveWithConditions, true) => {
            errors.push(FieldError::new("/conditions", "`approve_with_conditions` requires at least one condition"));
        }
        (DecisionKind::ApproveWithConditions, false) | (_, true) => {}
        (_, false) => errors.push(FieldError::new("/conditions", "only `approve_with_conditions` takes conditions")),
    }
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| condition(item, &format!("/conditions/{i}"), standard, errors))
        .collect()
}

fn condition(
    item: &Value,
    at: &str,
    standard: &[StandardCondition],
    errors: &mut Vec<FieldError>,
) -> Option<Condition> {
    let Some(id) = item.get("id") else {
        return Some(Condition { id: None, values: BTreeMap::new(), text: required_text(item, at, "text", errors) });
    };
    let ids: Vec<&str> = standard.iter().map(|c| c.id.as_str()).collect();
    let Some(found) = id.as_str().and_then(|id| standard.iter().find(|c| c.id == id)) else {
        errors.push(FieldError::new(
            format!("{at}/id"),
            format!("not a standard condition; the rulebook has {}", ids.join(", ")),
        ));
        return None;
    };
    if item.get("text").is_some() {
        errors.push(FieldError::new(format!("{at}/text"), "a standard condition takes `values`, not `text`"));
    }
    let mut values = BTreeMap::new();
    for (name, value) in item.get("values").and_then(Value::as_object).into_iter().flatten() {
        let pointer = format!("{at}/values/{name}");
        match value.as_str().map(str::trim) {
            _ if !found.values.contains_key(name) => errors.push(FieldError::new(
                pointer,
                format!(
                    "`{}` has no such value; it has {}",
                    found.id,
                    found.values.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            )),
            Some(v) if !v.is_empty() => drop(values.insert(name.clone(), v.to_string())),
            _ => errors.push(FieldError::new(pointer, "must be non-empty text")),
        }
    }
    // Values not given keep the rulebook's defaults, recorded as issued.
    for (name, default) in &found.values {
        values.entry(name.clone()).or_insert_with(|| default.clone());
    }
    let text = found.render(&values);
    Some(Condition { id: Some(found.id.clone()), values, text })
}

fn findings(body: &Map<String, Value>, kind: DecisionKind, errors: &mut Vec<FieldError>) -> Vec<Finding> {
    let items = array(body, "findings", errors);
    match (kind, items.is_empty()) {
        (DecisionKind::Refuse, true) => errors.push(FieldError::new(
            "/findings",
            "a refusal must state the findings of fact, each with the evidence it rests on",
        )),
        (DecisionKind::Refuse, false) | (_, true) => {}
        (_, false) => errors.push(FieldError::new("/findings", "only `refuse` takes findings")),
    }
    let mut found = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("/findings/{i}");
        let fact = required_text(item, &at, "fact", errors);
        let evidence: Vec<String> = item
            .get("evidence")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_string)
            .collect();
        if evidence.is_empty() {
            errors.push(FieldError::new(
                format!("{at}/evidence"),
                "name the evidence the finding rests on (at least one)",
            ));
        }
        found.push(Finding { fact, evidence });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn standard() -> Vec<StandardCondition> {
        let book = crate::rulebook::LoadedRulebook::embedded().unwrap();
        book[0].rules.conditions.clone()
    }

    fn pointers(r: Result<Decision, Vec<FieldError>>) -> Vec<String> {
        r.unwrap_err().into_iter().map(|e| e.pointer).collect()
    }

    #[test]
    fn a_refusal_needs_findings_with_evidence_and_reasons() {
        assert_eq!(pointers(parse(&json!({"kind": "refuse"}), &standard())), ["/reasons", "/findings"]);
        let partial =
            json!({"kind": "refuse", "reasons": "too high", "findings": [{"fact": "4.6 m loaded", "evidence": []}]});
        assert_eq!(pointers(parse(&partial, &standard())), ["/findings/0/evidence"]);
        let whole = json!({"kind": "refuse", "reasons": "too high",
            "findings": [{"fact": "4.6 m loaded", "evidence": ["R2", "way/123"]}]});
        let d = parse(&whole, &standard()).unwrap();
        assert_eq!(d.findings[0].evidence, ["R2", "way/123"]);
    }

    #[test]
    fn standard_conditions_take_their_values_and_defaults() {
        let body = json!({"kind": "approve_with_conditions", "conditions": [
            {"id": "escort", "values": {"vehicles": "2"}}, {"id": "travel_hours"}, {"text": "Carry the permit."}]});
        let d = parse(&body, &standard()).unwrap();
        assert_eq!(d.conditions[0].text, "Travel with 2 escort vehicle(s), one ahead of the load.");
        assert_eq!(d.conditions[1].text, "Travel only between 22:00 and 06:00 local time.");
        assert_eq!(d.conditions[2], Condition { id: None, values: BTreeMap::new(), text: "Carry the permit.".into() });
        let bad = json!({"kind": "approve_with_conditions", "conditions": [
            {"id": "ferry"}, {"id": "escort", "values": {"boats": "1"}}, {"text": " "}]});
        assert_eq!(
            pointers(parse(&bad, &standard())),
            ["/conditions/0/id", "/conditions/1/values/boats", "/conditions/2/text"]
        );
        assert_eq!(pointers(parse(&json!({"kind": "approve_with_conditions"}), &standard())), ["/conditions"]);
    }

    #[test]
    fn fields_of_another_kind_and_unknown_ones_are_refused() {
        let body = json!({"kind": "approve", "findings": [{"fact": "x", "evidence": ["y"]}], "reason": "typo"});
        assert_eq!(pointers(parse(&body, &standard())), ["/reason", "/findings"]);
        assert_eq!(pointers(parse(&json!({"kind": "maybe"}), &standard())), ["/kind"]);
        assert_eq!(pointers(parse(&json!({"kind": "request_information"}), &standard())), ["/information"]);
    }

    #[test]
    fn a_rulebook_condition_must_name_exactly_its_values_and_have_a_unique_id() {
        let (path, text) = crate::rulebook::EMBEDDED[0];
        let broken = text
            .replace("values = { vehicles = \"1\" }", "values = { vehicle = \"1\" }")
            .replace("id = \"travel_hours\"", "id = \"escort\"");
        let problems = match crate::rulebook::LoadedRulebook::from_toml(path, &broken) {
            Err(crate::rulebook::RulebookError::Invalid { problems, .. }) => problems,
            other => panic!("not refused: {other:?}"),
        };
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("conditions[0].values: the text names {\"vehicles\"}"), "{problems:?}");
        assert!(problems[1].starts_with("conditions[1].id: `escort` must be non-empty and unique"), "{problems:?}");
    }

    #[test]
    fn the_status_follows_the_last_decision() {
        use DecisionKind::*;
        assert_eq!(CaseStatus::of(Verdict::Approve, []), CaseStatus::AutoApproved);
        assert_eq!(CaseStatus::of(Verdict::Escalate, []), CaseStatus::Open);
        assert_eq!(CaseStatus::of(Verdict::Escalate, [RequestInformation]), CaseStatus::Waiting);
        assert_eq!(CaseStatus::of(Verdict::Escalate, [RequestInformation, Refuse]), CaseStatus::Decided);
        assert!(refused_on(CaseStatus::Decided).is_some() && refused_on(CaseStatus::Waiting).is_none());
    }
}
