//! Findings and the decision: [`ItemResult`], [`Review`] and the one pure [`decide`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::determination::Determination;
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
    pub id: String,
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
    pub matters: Vec<String>,
    /// The over-limit determination with the statutory deadline.
    pub determination: Determination,
    /// The 21 items, in id order.
    pub items: Vec<ItemResult>,
    /// The anomaly model's opinion, when a model is loaded.
    pub anomaly: Option<AnomalyBlock>,
    /// Why it escalated; empty when approved.
    pub reasons: Vec<String>,
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
    pub reasons: Vec<String>,
}

/// Approve only when every item passes or does not apply, the anomaly score is under its
/// threshold, the vehicle needs an over-limit permit, and its class is inside the envelope.
pub fn decide(
    items: &[ItemResult],
    determination: &Determination,
    anomaly: Option<&AnomalyBlock>,
    envelope: &Envelope,
) -> Decision {
    let mut reasons: Vec<String> = items
        .iter()
        .filter(|i| matches!(i.status, Status::Fail | Status::Unverified))
        .map(|i| format!("{} {} {}: {}", i.id, i.title, i.status.as_str(), i.message))
        .collect();
    match determination.permit_class {
        None => reasons.push(
            "not over-limit: the vehicle is within the legal limits, so no over-limit permit is needed; \
             a reviewer should confirm what is being applied for"
                .into(),
        ),
        Some(class) if !envelope.auto_approve_classes.contains(&class) => reasons.push(format!(
            "class {class} is outside the auto-approve envelope (classes {:?}): {}",
            envelope.auto_approve_classes, envelope.basis
        )),
        Some(_) => {}
    }
    if let Some(a) = anomaly
        && a.score >= a.threshold
    {
        reasons.push(format!(
            "anomaly score {:.3} is at or above the threshold {:.3}: {}",
            a.score,
            a.threshold,
            a.contributors.join("; ")
        ));
    }
    let verdict = if reasons.is_empty() { Verdict::Approve } else { Verdict::Escalate };
    Decision { verdict, reasons }
}
