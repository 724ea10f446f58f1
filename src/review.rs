//! Findings and the decision: [`ItemResult`], [`Review`] and the one pure [`decide`].

// On the request path an index out of range is a panic: use `get`, iterators or patterns.
#![deny(clippy::indexing_slicing)]

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::determination::{Determination, Matter};
use crate::rulebook::Envelope;

/// How an item ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Proven compliant.
    Pass,
    /// The item does not apply to this application.
    NotApplicable,
    /// Could not be proven: reference data missing or unavailable.
    Unverified,
    /// Proven non-compliant.
    Fail,
}

impl Status {
    /// The mark shown in the text report.
    pub fn mark(self) -> &'static str {
        match self {
            Status::Pass => "✔ pass",
            Status::NotApplicable => "– n/a",
            Status::Unverified => "? unverified",
            Status::Fail => "✘ fail",
        }
    }

    /// The word used in JSON and reasons.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::NotApplicable => "not_applicable",
            Status::Unverified => "unverified",
            Status::Fail => "fail",
        }
    }
}

/// The stable id of one of the 21 items, as written in JSON (`P1` .. `G3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum ItemId {
    /// Agent authorised.
    P1,
    /// Driver qualified.
    P2,
    /// Driver record.
    P3,
    /// Escort adequate.
    P4,
    /// Business licence.
    C1,
    /// Transport licence.
    C2,
    /// Credit standing.
    C3,
    /// Liability insurance.
    C4,
    /// Registration.
    V1,
    /// Inspection.
    V2,
    /// Transport certificate.
    V3,
    /// Declared specs.
    V4,
    /// Axle loads.
    V5,
    /// Route geometry.
    R1,
    /// Clearance.
    R2,
    /// Load capacity.
    R3,
    /// Width, length, access.
    R4,
    /// Time windows.
    R5,
    /// Indivisible cargo.
    G1,
    /// Dimensions consistent.
    G2,
    /// Cargo mass plausible.
    G3,
}

impl ItemId {
    /// The 21 ids in report order.
    pub const ALL: [ItemId; 21] = [
        ItemId::P1,
        ItemId::P2,
        ItemId::P3,
        ItemId::P4,
        ItemId::C1,
        ItemId::C2,
        ItemId::C3,
        ItemId::C4,
        ItemId::V1,
        ItemId::V2,
        ItemId::V3,
        ItemId::V4,
        ItemId::V5,
        ItemId::R1,
        ItemId::R2,
        ItemId::R3,
        ItemId::R4,
        ItemId::R5,
        ItemId::G1,
        ItemId::G2,
        ItemId::G3,
    ];

    /// The id as written in JSON and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemId::P1 => "P1",
            ItemId::P2 => "P2",
            ItemId::P3 => "P3",
            ItemId::P4 => "P4",
            ItemId::C1 => "C1",
            ItemId::C2 => "C2",
            ItemId::C3 => "C3",
            ItemId::C4 => "C4",
            ItemId::V1 => "V1",
            ItemId::V2 => "V2",
            ItemId::V3 => "V3",
            ItemId::V4 => "V4",
            ItemId::V5 => "V5",
            ItemId::R1 => "R1",
            ItemId::R2 => "R2",
            ItemId::R3 => "R3",
            ItemId::R4 => "R4",
            ItemId::R5 => "R5",
            ItemId::G1 => "G1",
            ItemId::G2 => "G2",
            ItemId::G3 => "G3",
        }
    }

    /// The id written as text, if it is one of the 21.
    pub fn parse(text: &str) -> Option<ItemId> {
        ItemId::ALL.into_iter().find(|id| id.as_str() == text)
    }
}

impl std::fmt::Display for ItemId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The five categories of the 21 items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// P1-P4.
    People,
    /// C1-C4.
    Company,
    /// V1-V5.
    Vehicle,
    /// R1-R5.
    Route,
    /// G1-G3.
    Cargo,
}

impl Category {
    /// Heading in the text report.
    pub fn title(self) -> &'static str {
        match self {
            Category::People => "People",
            Category::Company => "Company qualification",
            Category::Vehicle => "Vehicle",
            Category::Route => "Route",
            Category::Cargo => "Cargo",
        }
    }
}

/// One comparison made by an item: what was observed against which limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Check {
    /// What was compared, in plain words.
    pub what: String,
    /// The observed value.
    pub observed: Value,
    /// The limit or expected value, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<Value>,
    /// Unit of observed and limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Outcome of this comparison.
    pub status: Status,
    /// JSON Pointer into the application, where the observed value came from one field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// Evidence of one item: every comparison it made.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Evidence {
    /// The comparisons, in the order they were made (the worst first when some were left out).
    pub checks: Vec<Check>,
    /// Comparisons left out of `checks` to keep the answer readable.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_checks: usize,
    /// Records left out of the item's `refs` to keep the answer readable.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_refs: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The result of one of the 21 items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ItemResult {
    /// Stable id, `P1` .. `G3`.
    pub id: ItemId,
    /// Category.
    pub category: Category,
    /// Short name of the item.
    pub title: String,
    /// Outcome.
    pub status: Status,
    /// Plain-language summary.
    pub message: String,
    /// Every comparison made.
    pub evidence: Evidence,
    /// Reference records and restrictions used (registry keys, restriction ids).
    pub refs: Vec<String>,
    /// Legal basis.
    pub basis: String,
}

/// Approve or escalate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every item passes and the case is inside the envelope.
    Approve,
    /// A person must look at it; `reasons` say why.
    Escalate,
}

impl Verdict {
    /// The word used in JSON, the ledger and the queue.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Escalate => "escalate",
        }
    }

    /// The verdict written as a word, if it is one.
    pub fn parse(word: &str) -> Option<Verdict> {
        [Verdict::Approve, Verdict::Escalate].into_iter().find(|v| v.as_str() == word)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason to escalate, as one line for a person; it knows which item, if any, it is for.
///
/// In JSON it is the line alone: the item is the line's first word, so a stored review
/// reads back into the same value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reason {
    item: Option<ItemId>,
    line: String,
}

impl Reason {
    /// An item that failed or could not be verified.
    pub fn for_item(i: &ItemResult) -> Reason {
        Reason { item: Some(i.id), line: format!("{} {} {}: {}", i.id, i.title, i.status.as_str(), i.message) }
    }

    /// A reason about the case as a whole: its class, the envelope, the anomaly score.
    pub fn for_case(line: String) -> Reason {
        Reason { item: None, line }
    }

    /// The item this reason is for, if any.
    pub fn item(&self) -> Option<ItemId> {
        self.item
    }

    /// The line.
    pub fn as_str(&self) -> &str {
        &self.line
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.line)
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.line)
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let line = String::deserialize(d)?;
        // A case reason starts with a plain word (`class`, `anomaly`, `not`), never an id.
        let item = line.split_once(' ').and_then(|(first, _)| ItemId::parse(first));
        Ok(Reason { item, line })
    }
}

/// The anomaly model's opinion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AnomalyBlock {
    /// Score; higher is more unusual.
    pub score: f64,
    /// Calibrated threshold; at or above it the case escalates.
    pub threshold: f64,
    /// The features that made it unusual, in plain words.
    pub contributors: Vec<String>,
}

/// The versions of everything a review used, so it can be replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Versions {
    /// oscar itself.
    pub oscar: String,
    /// Hash of the rulebook text.
    pub rulebook: String,
    /// Version of the registry data.
    pub registry: String,
    /// Version of the route data, or `none`.
    pub routes: String,
    /// Version of the anomaly model, or `none`.
    pub model: String,
}

/// A complete review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Review {
    /// From the application.
    pub application_id: String,
    /// The rulebook applied.
    pub jurisdiction: String,
    /// Approve or escalate.
    pub verdict: Verdict,
    /// Whether the vehicle is over-limit at all.
    pub over_limit: bool,
    /// Permit class, when over-limit.
    pub permit_class: Option<u8>,
    /// The approvals this application needs.
    pub matters: Vec<Matter>,
    /// The over-limit determination with the statutory deadline.
    pub determination: Determination,
    /// The 21 items, in id order.
    pub items: Vec<ItemResult>,
    /// The anomaly model's opinion, when a model is loaded.
    pub anomaly: Option<AnomalyBlock>,
    /// Why it escalated; empty when approved.
    #[schema(value_type = Vec<String>)]
    pub reasons: Vec<Reason>,
    /// Where R2-R4 fail or are unverified (and road data is loaded): a compliant
    /// alternative route, or why there is none. Never changes the verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternative: Option<crate::alternative::Alternative>,
    /// What was used.
    pub versions: Versions,
}

/// The decision and the reasons for it, built together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Approve or escalate.
    pub verdict: Verdict,
    /// One line per reason to escalate.
    pub reasons: Vec<Reason>,
}

/// Approve only when every item passes or does not apply, the anomaly score is under its
/// threshold, the vehicle needs an over-limit permit, and its class is inside the envelope.
pub fn decide(
    items: &[ItemResult],
    determination: &Determination,
    anomaly: Option<&AnomalyBlock>,
    envelope: &Envelope,
) -> Decision {
    let mut reasons: Vec<Reason> =
        items.iter().filter(|i| matches!(i.status, Status::Fail | Status::Unverified)).map(Reason::for_item).collect();
    match determination.permit_class {
        None => reasons.push(Reason::for_case(
            "not over-limit: the vehicle is within the legal limits, so no over-limit permit is needed; \
             a reviewer should confirm what is being applied for"
                .into(),
        )),
        Some(class) if !envelope.auto_approve_classes.contains(&class) => reasons.push(Reason::for_case(format!(
            "class {class} is outside the auto-approve envelope (classes {:?}): {}",
            envelope.auto_approve_classes, envelope.basis
        ))),
        Some(_) => {}
    }
    if let Some(a) = anomaly
        && a.score >= a.threshold
    {
        reasons.push(Reason::for_case(format!(
            "anomaly score {:.3} is at or above the threshold {:.3}: {}",
            a.score,
            a.threshold,
            a.contributors.join("; ")
        )));
    }
    let verdict = if reasons.is_empty() { Verdict::Approve } else { Verdict::Escalate };
    Decision { verdict, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_reads_back_as_written_and_knows_its_item() {
        let item = ItemResult {
            id: ItemId::C3,
            category: Category::Company,
            title: "credit standing".into(),
            status: Status::Fail,
            message: "`4` over-limit violations in 12 months; the limit is `3`".into(),
            evidence: Evidence::default(),
            refs: Vec::new(),
            basis: String::new(),
        };
        let reasons = vec![
            Reason::for_item(&item),
            Reason::for_case("class 3 is outside the auto-approve envelope (classes [1, 2]): basis".into()),
            Reason::for_case("anomaly score 5.000 is at or above the threshold 4.000: P1 spread".into()),
        ];
        let json = serde_json::to_string(&reasons).unwrap();
        assert!(json.starts_with(r#"["C3 credit standing fail: `4` over-limit"#), "{json}");
        let back: Vec<Reason> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, reasons);
        assert_eq!(back.iter().map(Reason::item).collect::<Vec<_>>(), [Some(ItemId::C3), None, None]);
    }
}
