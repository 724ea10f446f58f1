//! Replaying a recorded review: the recorded application is reviewed again with the data
//! loaded now, and the result is compared with the recorded one.

use serde::Serialize;

use super::{Ledger, LedgerError};
use crate::Reviewer;
use crate::review::{ItemId, Review, Verdict, Versions};

/// One version that differs between the recorded review and now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionDiff {
    /// `oscar`, `rulebook`, `registry`, `routes` or `model`.
    pub name: String,
    /// As recorded.
    pub recorded: String,
    /// As loaded now.
    pub now: String,
}

/// One item whose status changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemDiff {
    /// Item id.
    pub id: ItemId,
    /// Status as recorded.
    pub recorded: String,
    /// Status now.
    pub now: String,
}

/// The outcome of a replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayReport {
    /// The application.
    pub application_id: String,
    /// Whether the new review equals the recorded one in every field.
    pub identical: bool,
    /// Verdict as recorded.
    pub recorded_verdict: Verdict,
    /// Verdict now; `None` when the recorded application is no longer valid.
    pub verdict_now: Option<Verdict>,
    /// Versions that differ between then and now (empty when the same data is loaded).
    pub versions: Vec<VersionDiff>,
    /// Items whose status changed.
    pub items: Vec<ItemDiff>,
    /// Field errors, when the recorded application no longer validates.
    pub errors: Vec<String>,
}

fn version_diffs(then: &Versions, now: &Versions) -> Vec<VersionDiff> {
    let pairs = [
        ("oscar", &then.oscar, &now.oscar),
        ("rulebook", &then.rulebook, &now.rulebook),
        ("registry", &then.registry, &now.registry),
        ("routes", &then.routes, &now.routes),
        ("model", &then.model, &now.model),
    ];
    pairs
        .into_iter()
        .filter(|(_, a, b)| a != b)
        .map(|(name, a, b)| VersionDiff { name: name.into(), recorded: a.clone(), now: b.clone() })
        .collect()
}

/// Replays the review of `application_id`; `Ok(None)` when it is not in the ledger.
pub fn replay(
    ledger: &dyn Ledger,
    reviewer: &Reviewer,
    application_id: &str,
) -> Result<Option<ReplayReport>, LedgerError> {
    let Some(record) = ledger.get(application_id)? else {
        return Ok(None);
    };
    let recorded: Review = serde_json::from_str(&record.entry.review)
        .map_err(|e| LedgerError::Corrupt { seq: record.seq, message: format!("stored review: {e}") })?;
    let mut report = ReplayReport {
        application_id: record.entry.application_id.clone(),
        identical: false,
        recorded_verdict: record.entry.verdict,
        verdict_now: None,
        versions: Vec::new(),
        items: Vec::new(),
        errors: Vec::new(),
    };
    match reviewer.review_json(&record.entry.application) {
        Ok(now) => {
            report.identical = now == recorded;
            report.verdict_now = Some(now.verdict);
            report.versions = version_diffs(&recorded.versions, &now.versions);
            report.items = recorded
                .items
                .iter()
                .filter_map(|then| {
                    let now_status = now.items.iter().find(|i| i.id == then.id).map_or("absent", |i| i.status.as_str());
                    (now_status != then.status.as_str()).then(|| ItemDiff {
                        id: then.id,
                        recorded: then.status.as_str().into(),
                        now: now_status.into(),
                    })
                })
                .collect();
        }
        Err(errors) => report.errors = errors.iter().map(ToString::to_string).collect(),
    }
    Ok(Some(report))
}
