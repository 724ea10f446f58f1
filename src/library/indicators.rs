//! The service indicators authorities are scored on, computed from the ledger's records
//! alone, so anyone holding the ledger file gets the same figures.
//!
//! Each review record gives one [`ReviewFacts`] (its verdict, the items it escalated on,
//! the machine decision time it recorded, whether it reused archived data, whether the
//! registry answered) and each stored refusal one [`RefusalFacts`], each reviewer's decision
//! one [`DecisionFacts`]; [`Indicators::compute`] sums them over a window. [`Cache`] keeps the facts read so far, so a scrape of
//! `/metrics` reads only the records added since the last one.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::Provenance;
use super::decision_time::{ClassDecisionTime, DecisionFacts, Escalated, StoredDetermination, nearest_rank};
use crate::checks::REGISTRY_UNANSWERED;
use crate::ledger::{Ledger, LedgerError, Query, Record, StoredRefusal};
use crate::review::{Reason, Status, Verdict};

/// Records read from the ledger at a time.
const PAGE: usize = 500;

/// What the indicators take from one review record.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewFacts {
    /// The application.
    pub application_id: String,
    /// When it was recorded, RFC 3339 UTC.
    pub recorded_at: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// The item of each reason to escalate (`None` for a reason about the case as a whole).
    pub reasons: Vec<Option<crate::review::ItemId>>,
    /// The machine decision time it recorded, ms; `None` in records from before it was kept.
    pub machine_decision_ms: Option<f64>,
    /// Whether it renewed, amended or took parts from the library.
    pub reused: bool,
    /// Whether every registry lookup was answered (no item unverified because the registry
    /// could not answer).
    pub registry_answered: bool,
    /// For an escalated review: its class, deadline and submission time.
    pub escalated: Option<Escalated>,
}

/// The part of a stored review the indicators read.
#[derive(Deserialize)]
struct StoredReview {
    reasons: Vec<Reason>,
    items: Vec<StoredItem>,
    #[serde(default)]
    provenance: Provenance,
    #[serde(default)]
    machine_decision_ms: Option<f64>,
    jurisdiction: String,
    determination: StoredDetermination,
}

#[derive(Deserialize)]
struct StoredItem {
    status: Status,
    message: String,
}

impl ReviewFacts {
    /// The facts of a record.
    pub fn of(r: &Record) -> Result<ReviewFacts, LedgerError> {
        let review: StoredReview = serde_json::from_str(&r.entry.review)
            .map_err(|e| LedgerError::Corrupt { seq: r.seq, message: format!("stored review: {e}") })?;
        let escalated = match r.entry.verdict {
            Verdict::Escalate => Some(Escalated::of(r, review.jurisdiction, review.determination)?),
            Verdict::Approve => None,
        };
        Ok(ReviewFacts {
            application_id: r.entry.application_id.clone(),
            recorded_at: r.entry.recorded_at.clone(),
            verdict: r.entry.verdict,
            reasons: review.reasons.iter().map(Reason::item).collect(),
            machine_decision_ms: review.machine_decision_ms,
            reused: !review.provenance.is_empty(),
            registry_answered: !review
                .items
                .iter()
                .any(|i| i.status == Status::Unverified && i.message.contains(REGISTRY_UNANSWERED)),
            escalated,
        })
    }
}

/// What the indicators take from one stored refusal.
#[derive(Debug, Clone, PartialEq)]
pub struct RefusalFacts {
    /// The application, when its id could be read.
    pub application_id: Option<String>,
    /// When it was refused, RFC 3339 UTC.
    pub recorded_at: String,
}

impl RefusalFacts {
    /// The facts of a stored refusal.
    pub fn of(r: &StoredRefusal) -> RefusalFacts {
        RefusalFacts { application_id: r.refusal.application_id.clone(), recorded_at: r.refusal.recorded_at.clone() }
    }
}

/// The facts of a whole ledger, read in order.
#[derive(Debug, Default)]
pub struct Facts {
    /// One per review record, in ledger order.
    pub reviews: Vec<ReviewFacts>,
    /// One per refusal, in ledger order.
    pub refusals: Vec<RefusalFacts>,
    /// One per reviewer's decision, in ledger order.
    pub decisions: Vec<DecisionFacts>,
    after_review: i64,
    after_refusal: i64,
    after_decision: i64,
}

impl Facts {
    /// Reads the records added to `ledger` since the last call.
    pub fn refresh(&mut self, ledger: &dyn Ledger) -> Result<(), LedgerError> {
        loop {
            let page = ledger.list(&Query { after_seq: Some(self.after_review), limit: PAGE, ..Query::default() })?;
            for r in &page {
                self.reviews.push(ReviewFacts::of(r)?);
                self.after_review = r.seq;
            }
            if page.len() < PAGE {
                break;
            }
        }
        loop {
            let page = ledger.refusals_after(self.after_refusal, PAGE)?;
            for r in &page {
                self.refusals.push(RefusalFacts::of(r));
                self.after_refusal = r.seq;
            }
            if page.len() < PAGE {
                break;
            }
        }
        loop {
            let page = ledger.decisions_after(self.after_decision, PAGE)?;
            for d in &page {
                self.decisions.push(DecisionFacts::of(d)?);
                self.after_decision = d.seq;
            }
            if page.len() < PAGE {
                return Ok(());
            }
        }
    }
}

/// The facts of the service's ledger, kept between requests.
#[derive(Debug, Default)]
pub struct Cache(Mutex<Facts>);

impl Cache {
    /// The facts, brought up to date with `ledger`; blocks (reads the ledger).
    pub fn current(&self, ledger: &dyn Ledger) -> Result<MutexGuard<'_, Facts>, LedgerError> {
        let mut facts = self.0.lock().map_err(|_| LedgerError::Poisoned)?;
        facts.refresh(ledger)?;
        Ok(facts)
    }
}

/// Median, 95th percentile and maximum of the machine decision time (nearest rank).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Spread {
    /// Reviews that recorded the time.
    pub reviews: u64,
    /// Median, ms.
    pub median_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// Maximum, ms.
    pub max_ms: f64,
}

impl Spread {
    fn of(mut times: Vec<f64>) -> Option<Spread> {
        times.sort_by(f64::total_cmp);
        let rank = |q: f64| nearest_rank(&times, q);
        Some(Spread { reviews: times.len() as u64, median_ms: rank(0.5)?, p95_ms: rank(0.95)?, max_ms: rank(1.0)? })
    }
}

/// The service indicators over a window of recording times.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Indicators {
    /// Start of the window (RFC 3339 UTC, included); absent: from the first record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// End of the window (RFC 3339 UTC, excluded); absent: to the last record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The instant the cases undecided and overdue "now" are judged at (RFC 3339 UTC): `to`,
    /// or the time of the request.
    pub as_of: String,
    /// Applications received: reviewed plus refused for form errors.
    pub applications_received: u64,
    /// Applications received by day of recording (`YYYY-MM-DD`, UTC); days without any are
    /// left out.
    pub applications_by_day: BTreeMap<String, u64>,
    /// Applications reviewed and recorded.
    pub reviewed: u64,
    /// Applications refused for form errors (`422`).
    pub refused_for_form_errors: u64,
    /// Reviews that approved.
    pub auto_approved: u64,
    /// `auto_approved / reviewed`; `null` without reviews.
    pub auto_approved_share: Option<f64>,
    /// Machine decision time of the reviews that recorded it; `null` when none did.
    pub machine_decision_time: Option<Spread>,
    /// Reviewer decision time against the statutory deadline, per jurisdiction, permit class
    /// and deadline: final decisions recorded in the window, and the escalated cases
    /// undecided and overdue at `as_of`.
    pub reviewer_decision_time: Vec<ClassDecisionTime>,
    /// Reasons to escalate, by item id (`case` for the case as a whole: class, envelope,
    /// anomaly score).
    pub escalation_reasons: BTreeMap<String, u64>,
    /// Applications whose first submission (by id) falls in the window; a refusal with no
    /// readable id counts as one.
    pub first_submissions: u64,
    /// Those whose first submission was refused for form errors.
    pub first_submissions_refused: u64,
    /// `first_submissions_refused / first_submissions`; `null` without first submissions.
    pub first_submission_refused_share: Option<f64>,
    /// Reviews that renewed, amended or reused archived data.
    pub reusing: u64,
    /// `reusing / reviewed`; `null` without reviews.
    pub reuse_share: Option<f64>,
    /// Reviews in which the registry answered every lookup.
    pub registry_answered: u64,
    /// `registry_answered / reviewed`; `null` without reviews.
    pub registry_availability: Option<f64>,
}

pub(super) fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl Indicators {
    /// The indicators of `facts` recorded at or after `from` and before `to` (RFC 3339 UTC
    /// with microseconds, as the ledger records times); the cases undecided and overdue are
    /// judged at `to`, or at `now` without one.
    pub fn compute(facts: &Facts, from: Option<&str>, to: Option<&str>, now: DateTime<Utc>) -> Indicators {
        let inside = |at: &str| from.is_none_or(|f| at >= f) && to.is_none_or(|t| at < t);
        let as_of = to.and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map_or(now, |t| t.with_timezone(&Utc));
        let as_of_text = as_of.to_rfc3339_opts(SecondsFormat::Micros, true);
        let reviews: Vec<&ReviewFacts> = facts.reviews.iter().filter(|r| inside(&r.recorded_at)).collect();
        let count = |keep: &dyn Fn(&ReviewFacts) -> bool| reviews.iter().filter(|r| keep(r)).count() as u64;
        let reviewed = reviews.len() as u64;
        let refused = facts.refusals.iter().filter(|r| inside(&r.recorded_at)).count() as u64;
        let auto_approved = count(&|r| r.verdict == Verdict::Approve);
        let reusing = count(&|r| r.reused);
        let registry_answered = count(&|r| r.registry_answered);
        let mut escalation_reasons = BTreeMap::new();
        for item in reviews.iter().flat_map(|r| &r.reasons) {
            *escalation_reasons.entry(item.map_or("case", |i| i.as_str()).to_string()).or_insert(0) += 1;
        }
        let (first_submissions, first_submissions_refused) = first_submissions(facts, &inside);
        let mut applications_by_day = BTreeMap::new();
        let received = reviews.iter().map(|r| &r.recorded_at).chain(facts.refusals.iter().map(|r| &r.recorded_at));
        for at in received.filter(|at| inside(at)) {
            *applications_by_day.entry(at.get(..10).unwrap_or(at).to_string()).or_insert(0) += 1;
        }
        let escalated = facts
            .reviews
            .iter()
            .filter_map(|r| r.escalated.as_ref().map(|e| (r.application_id.as_str(), r.recorded_at.as_str(), e)));
        let reviewer_decision_time =
            super::decision_time::per_class(escalated, &facts.decisions, &inside, (&as_of_text, as_of));
        Indicators {
            from: from.map(str::to_string),
            to: to.map(str::to_string),
            as_of: as_of_text,
            applications_received: reviewed + refused,
            applications_by_day,
            reviewed,
            refused_for_form_errors: refused,
            auto_approved,
            auto_approved_share: share(auto_approved, reviewed),
            machine_decision_time: Spread::of(reviews.iter().filter_map(|r| r.machine_decision_ms).collect()),
            reviewer_decision_time,
            escalation_reasons,
            first_submissions,
            first_submissions_refused,
            first_submission_refused_share: share(first_submissions_refused, first_submissions),
            reusing,
            reuse_share: share(reusing, reviewed),
            registry_answered,
            registry_availability: share(registry_answered, reviewed),
        }
    }

    /// The indicators as Prometheus gauges (`oscar_indicator_*`); a share without a
    /// denominator is left out.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let mut gauge = |name: &str, help: &str, values: &[(String, Option<f64>)]| {
            let _ = writeln!(out, "# HELP oscar_indicator_{name} {help}\n# TYPE oscar_indicator_{name} gauge");
            for (labels, value) in values {
                if let Some(v) = value {
                    let _ = writeln!(out, "oscar_indicator_{name}{labels} {v}");
                }
            }
        };
        let one = |v: f64| [(String::new(), Some(v))];
        gauge(
            "applications_received",
            "Applications received (reviewed or refused), from the ledger.",
            &one(self.applications_received as f64),
        );
        gauge("auto_approved_share", "Share of reviews that approved.", &[(String::new(), self.auto_approved_share)]);
        let time = self.machine_decision_time.as_ref();
        gauge(
            "machine_decision_ms",
            "Machine decision time, ms: median, 95th percentile, maximum.",
            &[
                ("{quantile=\"0.5\"}".into(), time.map(|t| t.median_ms)),
                ("{quantile=\"0.95\"}".into(), time.map(|t| t.p95_ms)),
                ("{quantile=\"1\"}".into(), time.map(|t| t.max_ms)),
            ],
        );
        let classes: Vec<(String, &ClassDecisionTime)> = self
            .reviewer_decision_time
            .iter()
            .map(|c| {
                let word = |v: Option<String>| v.unwrap_or_else(|| "none".into());
                let labels = format!(
                    "jurisdiction=\"{}\",class=\"{}\",cross_province=\"{}\",deadline_working_days=\"{}\"",
                    c.jurisdiction.replace(['"', '\\', '\n'], "_"),
                    word(c.permit_class.map(|k| k.to_string())),
                    word(c.cross_province.map(|x| x.to_string())),
                    word(c.deadline_working_days.map(|d| d.to_string())),
                );
                (labels, c)
            })
            .collect();
        let per_class = |figure: &dyn Fn(&ClassDecisionTime) -> Option<f64>| -> Vec<(String, Option<f64>)> {
            classes.iter().map(|(labels, c)| (format!("{{{labels}}}"), figure(c))).collect()
        };
        gauge(
            "reviewer_decided",
            "Escalated applications finally decided by a reviewer, per class and deadline.",
            &per_class(&|c| Some(c.decided as f64)),
        );
        gauge(
            "reviewer_in_time_share",
            "Share of reviewer decisions made by the statutory due date, per class and deadline.",
            &per_class(&|c| c.in_time_share),
        );
        let quantiles: Vec<(String, Option<f64>)> = classes
            .iter()
            .flat_map(|(labels, c)| {
                let days = c.decision_working_days.as_ref();
                [("0.5", days.map(|d| d.median)), ("0.95", days.map(|d| d.p95)), ("1", days.map(|d| d.max))]
                    .map(|(q, v)| (format!("{{{labels},quantile=\"{q}\"}}"), v.map(f64::from)))
            })
            .collect();
        gauge(
            "reviewer_decision_working_days",
            "Reviewer decision time, working days from submission: median, 95th percentile, maximum.",
            &quantiles,
        );
        gauge(
            "reviewer_overdue_now",
            "Escalated applications undecided and past their statutory due date now, per class and deadline.",
            &per_class(&|c| Some(c.overdue_now as f64)),
        );
        let reasons: Vec<(String, Option<f64>)> =
            self.escalation_reasons.iter().map(|(item, n)| (format!("{{item=\"{item}\"}}"), Some(*n as f64))).collect();
        gauge("escalation_reasons", "Reasons to escalate, by item.", &reasons);
        gauge(
            "first_submission_refused_share",
            "Share of first submissions refused for form errors.",
            &[(String::new(), self.first_submission_refused_share)],
        );
        gauge("reuse_share", "Share of reviews that reused archived data.", &[(String::new(), self.reuse_share)]);
        gauge(
            "registry_availability",
            "Share of reviews in which the registry answered every lookup.",
            &[(String::new(), self.registry_availability)],
        );
        out
    }
}

/// Applications whose first submission falls in the window, and how many of those were
/// refused for form errors there: each id's earliest event over the whole ledger (a
/// refusal before a review of the same time counts first).
fn first_submissions(facts: &Facts, inside: &dyn Fn(&str) -> bool) -> (u64, u64) {
    let mut first: HashMap<&str, (&str, bool)> = HashMap::new();
    let (mut total, mut refused) = (0, 0);
    for r in &facts.refusals {
        match &r.application_id {
            Some(id) => {
                let earliest = first.entry(id).or_insert((&r.recorded_at, true));
                if r.recorded_at.as_str() < earliest.0 {
                    *earliest = (&r.recorded_at, true);
                }
            }
            None if inside(&r.recorded_at) => (total, refused) = (total + 1, refused + 1),
            None => {}
        }
    }
    for r in &facts.reviews {
        let earliest = first.entry(&r.application_id).or_insert((&r.recorded_at, false));
        if r.recorded_at.as_str() < earliest.0 {
            *earliest = (&r.recorded_at, false);
        }
    }
    for (at, was_refused) in first.values() {
        if inside(at) {
            total += 1;
            refused += u64::from(*was_refused);
        }
    }
    (total, refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let spread = Spread::of((1..=20).rev().map(f64::from).collect());
        assert_eq!(spread, Some(Spread { reviews: 20, median_ms: 10.0, p95_ms: 19.0, max_ms: 20.0 }));
        assert_eq!(Spread::of(Vec::new()), None);
        assert_eq!(Spread::of(vec![3.0]).map(|s| (s.median_ms, s.p95_ms)), Some((3.0, 3.0)));
    }
}
