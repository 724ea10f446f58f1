//! Reviewer decision time against the statutory deadline, per permit class: for escalated
//! applications, the working days from submission to the reviewer's final decision, whether
//! that decision came by the due date the review recorded, and the cases still undecided and
//! past that date at an instant.
//!
//! Working days are counted as the law counts them and as the deadline itself was computed
//! ([`crate::determination::add_working_days`]): Monday to Friday, from the day after
//! submission, on dates in the submission's own time zone. The due date is the one the review
//! recorded (its `determination.deadline`), never recomputed here.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::decision::{CaseStatus, DecisionKind};
use crate::determination::{Deadline, working_days_between};
use crate::ledger::{LedgerError, Record, StoredDecision};
use crate::review::Verdict;

/// What the decision time takes from an escalated review record.
#[derive(Debug, Clone, PartialEq)]
pub struct Escalated {
    /// The rulebook applied.
    pub jurisdiction: String,
    /// Its permit class; `None` when not over-limit.
    pub permit_class: Option<u8>,
    /// The statutory deadline the review recorded; `None` without a class.
    pub deadline: Option<Deadline>,
    /// When the application was submitted (its `submitted_at`).
    pub submitted_at: DateTime<FixedOffset>,
}

/// The parts of a stored review the decision time reads.
#[derive(Deserialize)]
pub(super) struct StoredDetermination {
    permit_class: Option<u8>,
    deadline: Option<Deadline>,
}

#[derive(Deserialize)]
struct StoredApplication {
    submitted_at: DateTime<FixedOffset>,
}

impl Escalated {
    /// The facts of an escalated record whose review has `jurisdiction` and `determination`.
    pub(super) fn of(
        r: &Record,
        jurisdiction: String,
        determination: StoredDetermination,
    ) -> Result<Escalated, LedgerError> {
        let application: StoredApplication = serde_json::from_str(&r.entry.application)
            .map_err(|e| LedgerError::Corrupt { seq: r.seq, message: format!("stored application: {e}") })?;
        Ok(Escalated {
            jurisdiction,
            permit_class: determination.permit_class,
            deadline: determination.deadline,
            submitted_at: application.submitted_at,
        })
    }

    /// The day of `at` where the application was submitted: the day the law counts.
    fn day(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(self.submitted_at.offset()).date_naive()
    }
}

/// What the decision time takes from one reviewer's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionFacts {
    /// The application decided.
    pub application_id: String,
    /// What was decided.
    pub kind: DecisionKind,
    /// When it was recorded, RFC 3339 UTC as the ledger writes it.
    pub recorded_at: String,
    /// The same instant, read.
    at: DateTime<Utc>,
}

impl DecisionFacts {
    /// The facts of a stored decision.
    pub fn of(d: &StoredDecision) -> Result<DecisionFacts, LedgerError> {
        let at = DateTime::parse_from_rfc3339(&d.entry.recorded_at)
            .map_err(|e| LedgerError::Corrupt { seq: d.seq, message: format!("decision time: {e}") })?;
        Ok(DecisionFacts {
            application_id: d.entry.application_id.clone(),
            kind: d.entry.kind,
            recorded_at: d.entry.recorded_at.clone(),
            at: at.with_timezone(&Utc),
        })
    }
}

/// Median, 95th percentile and maximum of the decision time, working days (nearest rank).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WorkingDays {
    /// Median.
    pub median: u32,
    /// 95th percentile.
    pub p95: u32,
    /// Maximum.
    pub max: u32,
}

/// Reviewer decision time of one permit class, in one jurisdiction, under one deadline.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ClassDecisionTime {
    /// The rulebook.
    pub jurisdiction: String,
    /// The permit class; `null` for escalated applications that are not over-limit, which
    /// have no statutory deadline.
    pub permit_class: Option<u8>,
    /// Whether the cross-province decision time applies; `null` without a deadline.
    pub cross_province: Option<bool>,
    /// The statutory decision time, working days; `null` without a deadline.
    pub deadline_working_days: Option<u32>,
    /// Final decisions (approve, approve with conditions, refuse) recorded in the window.
    pub decided: u64,
    /// Those recorded on or before the due date.
    pub decided_in_time: u64,
    /// `decided_in_time / decided`; `null` without decisions or without a deadline.
    pub in_time_share: Option<f64>,
    /// Working days from submission to the final decision; `null` without decisions.
    pub decision_working_days: Option<WorkingDays>,
    /// Escalated applications recorded before `as_of` and not finally decided then (open,
    /// or waiting for information).
    pub undecided_now: u64,
    /// Those past their due date at `as_of`: an open case by the day of `as_of`, a case
    /// waiting for information by the day its clock stopped.
    pub overdue_now: u64,
}

/// The nearest-rank `q` quantile of `sorted` (ascending): the smallest value with at least
/// `q` of the values at or below it.
pub(super) fn nearest_rank<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    let n = sorted.len() as f64;
    sorted.get(((q * n).ceil() as usize).saturating_sub(1)).copied()
}

/// A group: jurisdiction, permit class, and whether the cross-province time applies and how
/// many working days it gives (`None` without a deadline).
type Group<'a> = (&'a str, Option<u8>, Option<bool>, Option<u32>);

/// What one group gathers while the cases are read.
#[derive(Default)]
struct Tally {
    days: Vec<u32>,
    in_time: u64,
    undecided: u64,
    overdue: u64,
}

/// The reviewer decision time per class: final decisions recorded in the window (`inside`),
/// and the cases undecided and overdue at `as_of`, over the escalated `reviews` (the whole
/// ledger, any recording time) and their `decisions` (in ledger order).
pub(super) fn per_class<'a>(
    reviews: impl Iterator<Item = (&'a str, &'a str, &'a Escalated)>,
    decisions: &[DecisionFacts],
    inside: &dyn Fn(&str) -> bool,
    as_of: (&str, DateTime<Utc>),
) -> Vec<ClassDecisionTime> {
    let mut by_case: HashMap<&str, Vec<&DecisionFacts>> = HashMap::new();
    for d in decisions {
        by_case.entry(&d.application_id).or_default().push(d);
    }
    let mut groups: BTreeMap<Group<'_>, Tally> = BTreeMap::new();
    for (id, recorded_at, e) in reviews {
        let decided = by_case.get(id).map_or(&[][..], Vec::as_slice);
        let key = (
            e.jurisdiction.as_str(),
            e.permit_class,
            e.deadline.as_ref().map(|d| d.cross_province),
            e.deadline.as_ref().map(|d| d.working_days),
        );
        // A decided case takes no further decision, so its final decision is its last.
        if let Some(last) = decided.iter().find(|d| d.kind.is_final()).filter(|d| inside(&d.recorded_at)) {
            let day = e.day(last.at);
            let tally = groups.entry(key).or_default();
            tally.days.push(working_days_between(e.submitted_at.date_naive(), day));
            tally.in_time += u64::from(e.deadline.as_ref().is_some_and(|d| day <= d.due));
        }
        if recorded_at >= as_of.0 {
            continue;
        }
        let before: Vec<&DecisionFacts> =
            decided.iter().copied().filter(|d| d.recorded_at.as_str() < as_of.0).collect();
        let clock = match CaseStatus::of(Verdict::Escalate, before.iter().map(|d| d.kind)) {
            CaseStatus::Open => as_of.1,
            CaseStatus::Waiting => before.last().map_or(as_of.1, |d| d.at),
            CaseStatus::Decided | CaseStatus::AutoApproved => continue,
        };
        let tally = groups.entry(key).or_default();
        tally.undecided += 1;
        tally.overdue += u64::from(e.deadline.as_ref().is_some_and(|d| e.day(clock) > d.due));
    }
    groups
        .into_iter()
        .map(|((jurisdiction, permit_class, cross_province, deadline_working_days), mut t)| {
            t.days.sort_unstable();
            let decided = t.days.len() as u64;
            ClassDecisionTime {
                jurisdiction: jurisdiction.to_string(),
                permit_class,
                cross_province,
                deadline_working_days,
                decided,
                decided_in_time: t.in_time,
                in_time_share: deadline_working_days.and(super::indicators::share(t.in_time, decided)),
                decision_working_days: nearest_rank(&t.days, 0.5)
                    .zip(nearest_rank(&t.days, 0.95))
                    .zip(nearest_rank(&t.days, 1.0))
                    .map(|((median, p95), max)| WorkingDays { median, p95, max }),
                undecided_now: t.undecided,
                overdue_now: t.overdue,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(id: &str, kind: DecisionKind, at: &str) -> DecisionFacts {
        let parsed = DateTime::parse_from_rfc3339(at).map(|t| t.with_timezone(&Utc)).unwrap_or_default();
        DecisionFacts { application_id: id.into(), kind, recorded_at: at.into(), at: parsed }
    }

    #[test]
    fn the_day_of_a_decision_is_the_day_where_the_application_was_submitted() {
        let due = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap_or_default();
        let escalated = Escalated {
            jurisdiction: "CN".into(),
            permit_class: Some(2),
            deadline: Some(Deadline { working_days: 5, due, cross_province: false }),
            submitted_at: DateTime::parse_from_rfc3339("2026-11-20T09:30:00+08:00").unwrap_or_default(),
        };
        let reviews =
            [("A", "2026-11-20T01:30:00.000000Z", &escalated), ("B", "2026-11-20T01:30:00.000000Z", &escalated)];
        // 23:00 on the due day in Beijing is in time; 01:00 the next day (still the 27th in
        // UTC) is not, though no working day has passed since.
        let decisions = [
            decision("A", DecisionKind::RequestInformation, "2026-11-23T02:00:00.000000Z"),
            decision("A", DecisionKind::Approve, "2026-11-27T15:00:00.000000Z"),
            decision("B", DecisionKind::Refuse, "2026-11-27T17:00:00.000000Z"),
        ];
        let as_of = "2026-12-01T00:00:00.000000Z";
        let at = DateTime::parse_from_rfc3339(as_of).map(|t| t.with_timezone(&Utc)).unwrap_or_default();
        let found = per_class(reviews.into_iter(), &decisions, &|_| true, (as_of, at));
        let [class] = found.as_slice() else { panic!("{found:?}") };
        assert_eq!((class.decided, class.decided_in_time, class.in_time_share), (2, 1, Some(0.5)));
        assert_eq!(class.decision_working_days, Some(WorkingDays { median: 5, p95: 5, max: 5 }));
        // At 22:00 on the due day in Beijing, A waits (its clock stopped on the 23rd) and B
        // is open, neither overdue; at midnight A is decided and B is overdue.
        let then = |instant: &str| {
            let at = DateTime::parse_from_rfc3339(instant).map(|t| t.with_timezone(&Utc)).unwrap_or_default();
            let found = per_class(reviews.into_iter(), &decisions, &|t| t < instant, (instant, at));
            found.first().map(|c| (c.decided, c.undecided_now, c.overdue_now))
        };
        assert_eq!(then("2026-11-27T14:00:00.000000Z"), Some((0, 2, 0)));
        assert_eq!(then("2026-11-27T16:00:00.000000Z"), Some((1, 1, 1)));
    }
}
