//! The readable text report of a review.

use std::fmt::Write as _;

use crate::review::{Category, Review, Status, Verdict};

/// Renders a review for a person: determination, items by category, reasons, versions.
pub fn render(r: &Review) -> String {
    let mut s = String::new();
    let verdict = match r.verdict {
        Verdict::Approve => "APPROVE",
        Verdict::Escalate => "ESCALATE",
    };
    let _ = writeln!(s, "oscar review of {} ({})", r.application_id, r.jurisdiction);
    let _ = writeln!(s, "verdict: {verdict}");
    let d = &r.determination;
    let class = d.permit_class.map_or_else(|| "none".to_string(), |c| c.to_string());
    let _ = writeln!(
        s,
        "over-limit: {}   permit class: {class}   matters: {}",
        if d.over_limit { "yes" } else { "no" },
        if r.matters.is_empty() { "none".to_string() } else { r.matters.join(", ") }
    );
    for e in &d.exceeded {
        let _ = writeln!(s, "  exceeds {}: {} {} > {:.2} {}", e.dimension, e.observed, e.unit, e.limit, e.unit);
    }
    for note in &d.notes {
        let _ = writeln!(s, "  note: {note}");
    }
    if let Some(dl) = &d.deadline {
        let _ = writeln!(
            s,
            "statutory decision by {} ({} working days{})",
            dl.due,
            dl.working_days,
            if dl.cross_province { ", cross-province" } else { "" }
        );
    }
    let _ = writeln!(s, "basis: {}", d.basis);
    let mut current: Option<Category> = None;
    for item in &r.items {
        if current != Some(item.category) {
            current = Some(item.category);
            let _ = writeln!(s, "\n{}", item.category.title());
        }
        let _ = writeln!(s, "  {} {:<13} {}: {}", item.id, item.status.mark(), item.title, item.message);
        if matches!(item.status, Status::Fail | Status::Unverified) {
            let _ = writeln!(s, "       basis: {}", item.basis);
        }
        if !item.refs.is_empty() {
            let _ = writeln!(s, "       records: {}", item.refs.join(", "));
        }
    }
    if let Some(a) = &r.anomaly {
        let _ = writeln!(
            s,
            "\nanomaly score {:.3} (threshold {:.3}){}",
            a.score,
            a.threshold,
            if a.contributors.is_empty() { String::new() } else { format!(": {}", a.contributors.join("; ")) }
        );
    }
    if r.reasons.is_empty() {
        let _ = writeln!(s, "\napproved: every item passes or does not apply, inside the auto-approve envelope");
    } else {
        let _ = writeln!(s, "\nescalated because:");
        for reason in &r.reasons {
            let _ = writeln!(s, "  - {reason}");
        }
    }
    let v = &r.versions;
    let _ = writeln!(
        s,
        "\nversions: oscar {} | rulebook {} | registry {} | routes {} | model {}",
        v.oscar,
        short(&v.rulebook),
        short(&v.registry),
        short(&v.routes),
        short(&v.model)
    );
    s
}

fn short(version: &str) -> &str {
    version.get(..19).unwrap_or(version)
}
