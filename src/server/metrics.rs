//! Counters and the latency histogram, rendered as Prometheus text.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::checks::ITEMS;
use crate::review::{Review, Status, Verdict};

/// Item outcomes in the order of each item's counters.
const STATUSES: [Status; 4] = [Status::Pass, Status::NotApplicable, Status::Unverified, Status::Fail];

/// What the metrics count of one review. It is taken on the thread that built the review so
/// that the review is freed there too: mimalloc frees another thread's blocks on a slower
/// path, which cost ~4 % of the server's CPU under load.
#[derive(Debug, Clone)]
pub struct Tally {
    verdict: Verdict,
    /// Indexes into [`ITEMS`] and [`STATUSES`].
    items: Vec<(usize, usize)>,
}

impl Tally {
    /// The verdict and each item's outcome. Every item of a review comes from [`ITEMS`].
    pub fn of(review: &Review) -> Tally {
        let items = review
            .items
            .iter()
            .filter_map(|i| {
                let item = ITEMS.iter().position(|d| d.id == i.id)?;
                let status = STATUSES.iter().position(|s| *s == i.status)?;
                Some((item, status))
            })
            .collect();
        Tally { verdict: review.verdict, items }
    }
}

/// Upper bounds of the review latency buckets, seconds.
const BUCKETS: [f64; 12] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

/// The service's metrics.
#[derive(Default)]
pub struct Metrics {
    approve: AtomicU64,
    escalate: AtomicU64,
    invalid: AtomicU64,
    /// Per item of [`ITEMS`], per status of [`STATUSES`].
    items: [[AtomicU64; STATUSES.len()]; ITEMS.len()],
    buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
    responses: Mutex<BTreeMap<u16, u64>>,
    /// Remote registry lookups that ended unavailable (shared with the registry client).
    pub registry_errors: Mutex<Option<Arc<AtomicU64>>>,
}

impl Metrics {
    /// Counts one review and the time it took (review + ledger write).
    pub fn review(&self, tally: &Tally, took: Duration) {
        match tally.verdict {
            Verdict::Approve => self.approve.fetch_add(1, Ordering::Relaxed),
            Verdict::Escalate => self.escalate.fetch_add(1, Ordering::Relaxed),
        };
        for &(item, status) in &tally.items {
            // `Tally::of` took both indexes from these very arrays, so each is found.
            if let Some(count) = self.items.get(item).and_then(|counts| counts.get(status)) {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        let secs = took.as_secs_f64();
        for (b, upper) in self.buckets.iter().zip(BUCKETS) {
            if secs <= upper {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Counts one application refused as invalid.
    pub fn invalid(&self) {
        self.invalid.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one HTTP response.
    pub fn response(&self, status: u16) {
        if let Ok(mut r) = self.responses.lock() {
            *r.entry(status).or_default() += 1;
        }
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        out.push_str("# HELP oscar_reviews_total Reviews answered, by verdict.\n# TYPE oscar_reviews_total counter\n");
        let _ = writeln!(out, "oscar_reviews_total{{verdict=\"approve\"}} {}", load(&self.approve));
        let _ = writeln!(out, "oscar_reviews_total{{verdict=\"escalate\"}} {}", load(&self.escalate));
        out.push_str(
            "# HELP oscar_invalid_applications_total Applications refused with field errors.\n\
             # TYPE oscar_invalid_applications_total counter\n",
        );
        let _ = writeln!(out, "oscar_invalid_applications_total {}", load(&self.invalid));
        out.push_str(
            "# HELP oscar_review_items_total Item outcomes, by item and status.\n# TYPE oscar_review_items_total counter\n",
        );
        for (def, counts) in ITEMS.iter().zip(&self.items) {
            for (status, n) in STATUSES.iter().zip(counts.iter().map(load)).filter(|(_, n)| *n > 0) {
                let (id, status) = (def.id, status.as_str());
                let _ = writeln!(out, "oscar_review_items_total{{item=\"{id}\",status=\"{status}\"}} {n}");
            }
        }
        out.push_str(
            "# HELP oscar_review_duration_seconds Time to review and record one application.\n\
             # TYPE oscar_review_duration_seconds histogram\n",
        );
        for (b, upper) in self.buckets.iter().zip(BUCKETS) {
            let _ = writeln!(out, "oscar_review_duration_seconds_bucket{{le=\"{upper}\"}} {}", load(b));
        }
        let count = load(&self.latency_count);
        let _ = writeln!(out, "oscar_review_duration_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "oscar_review_duration_seconds_sum {}", load(&self.latency_sum_us) as f64 / 1e6);
        let _ = writeln!(out, "oscar_review_duration_seconds_count {count}");
        out.push_str(
            "# HELP oscar_registry_errors_total Registry lookups that ended unavailable.\n\
             # TYPE oscar_registry_errors_total counter\n",
        );
        let registry = self.registry_errors.lock().ok().and_then(|r| r.as_ref().map(|a| load(a))).unwrap_or(0);
        let _ = writeln!(out, "oscar_registry_errors_total {registry}");
        out.push_str(
            "# HELP oscar_http_responses_total HTTP responses, by status.\n# TYPE oscar_http_responses_total counter\n",
        );
        if let Ok(r) = self.responses.lock() {
            for (status, n) in r.iter() {
                let _ = writeln!(out, "oscar_http_responses_total{{status=\"{status}\"}} {n}");
            }
        }
        out
    }
}
