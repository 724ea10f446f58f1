//! The indicators page (`/workbench/indicators`): every figure of `GET /v1/indicators` in
//! plain words, with small SVG charts drawn here, over a window chosen in a form.

use std::fmt::Write as _;

use chrono::NaiveDate;

use super::esc;
use crate::library::decision_time::ClassDecisionTime;
use crate::library::indicators::Indicators;

/// Width of every chart's drawing, SVG units.
const WIDTH: f64 = 640.0;
/// Room for the labels left of horizontal bars.
const LABEL: f64 = 230.0;
/// Height of one horizontal bar's row.
const ROW: f64 = 24.0;

/// The window form, filled with what was asked, and the error about it, if any.
pub fn form(h: &mut String, from: &str, to: &str, error: Option<&str>) {
    let _ = write!(
        h,
        "<h1>Service indicators <span lang=\"zh\">服务指标</span></h1>\
         <form class=\"filters\" id=\"window\" method=\"get\" action=\"/workbench/indicators\" aria-label=\"Window\">\
         <label>From (included) <span lang=\"zh\">起</span> <input name=\"from\" id=\"from\" value=\"{}\" placeholder=\"YYYY-MM-DD\"></label>\
         <label>To (not included) <span lang=\"zh\">止</span> <input name=\"to\" id=\"to\" value=\"{}\" placeholder=\"YYYY-MM-DD\"></label>\
         <button type=\"submit\" id=\"show\">Show <span lang=\"zh\">显示</span></button></form>",
        esc(from),
        esc(to)
    );
    if let Some(e) = error {
        let _ = write!(h, "<p class=\"fail\" id=\"window-error\" role=\"alert\">{}</p>", esc(e));
    }
}

/// The figures and charts of `ind`.
pub fn figures(h: &mut String, ind: &Indicators) {
    let window = match (&ind.from, &ind.to) {
        (None, None) => "the whole ledger".to_string(),
        (from, to) => format!(
            "records from {} to {} (not included)",
            from.as_deref().unwrap_or("the first"),
            to.as_deref().unwrap_or("the last")
        ),
    };
    let _ = write!(
        h,
        "<p class=\"note\" id=\"window-words\">Over {}; cases undecided and overdue are counted as of {}. \
         Every figure is computed from the ledger's records, as <code>GET /v1/indicators</code> answers it.</p>",
        esc(&window),
        esc(&ind.as_of)
    );
    received(h, ind);
    shares(h, ind);
    machine(h, ind);
    reviewers(h, ind);
    reasons(h, ind);
}

/// A share as a percentage, or a dash without a denominator.
fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "—".to_string(), |s| format!("{:.1} %", s * 100.0))
}

fn received(h: &mut String, ind: &Indicators) {
    let _ = write!(
        h,
        "<section id=\"received\"><h2>Applications received <span lang=\"zh\">受理量</span></h2>\
         <p><strong id=\"applications-received\">{}</strong> application(s) received: {} reviewed and recorded, \
         {} refused for form errors.</p>",
        ind.applications_received, ind.reviewed, ind.refused_for_form_errors
    );
    // Every day from the first to the last, so that a day without applications shows as a gap.
    let first = ind.applications_by_day.keys().next().and_then(|d| day(d));
    let Some((first, last)) = first.zip(ind.applications_by_day.keys().last().and_then(|d| day(d))) else {
        h.push_str("<p class=\"note\">No applications in this window.</p></section>");
        return;
    };
    let days: Vec<(NaiveDate, u64)> = first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|d| (d, ind.applications_by_day.get(&d.to_string()).copied().unwrap_or(0)))
        .collect();
    let top = days.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1) as f64;
    let (height, base) = (140.0, 120.0);
    // A bar's room: the width shared out, but never wider than a finger's.
    let step = ((WIDTH - 40.0) / days.len() as f64).min(28.0);
    let _ = write!(
        h,
        "<svg class=\"chart\" id=\"chart-per-day\" role=\"img\" aria-labelledby=\"chart-per-day-title\" \
         viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" height=\"{height}\">\
         <title id=\"chart-per-day-title\">Applications received per day, {first} to {last}</title>\
         <line x1=\"36\" y1=\"{base}\" x2=\"{WIDTH}\" y2=\"{base}\" stroke=\"#888\"/>\
         <text x=\"32\" y=\"14\" text-anchor=\"end\" font-size=\"11\">{top}</text>\
         <text x=\"32\" y=\"{base}\" text-anchor=\"end\" font-size=\"11\">0</text>"
    );
    for (i, (d, n)) in days.iter().enumerate() {
        let bar = (*n as f64 / top) * (base - 10.0);
        let _ = write!(
            h,
            "<rect class=\"bar\" data-day=\"{d}\" data-count=\"{n}\" x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{bar:.2}\" fill=\"#2456a6\">\
             <title>{d}: {n}</title></rect>",
            40.0 + i as f64 * step + step * 0.1,
            base - bar,
            step * 0.8,
        );
    }
    let _ = write!(h, "<text x=\"40\" y=\"{}\" font-size=\"11\">{first}</text>", base + 16.0);
    if last != first {
        // Far enough right of the first day's label not to cover it.
        let x = (40.0 + days.len() as f64 * step).max(200.0);
        let _ =
            write!(h, "<text x=\"{x:.2}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{last}</text>", base + 16.0);
    }
    h.push_str("</svg></section>");
}

fn day(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// One bar of a horizontal bar chart.
struct Bar {
    /// Shown left of the bar.
    label: String,
    /// Its length, in the chart's unit.
    value: f64,
    /// Shown right of the bar.
    text: String,
    /// `data-…` attributes that name it for tests and scripts.
    data: String,
}

/// A horizontal bar chart `id` titled `title`, its scale from 0 to `top`.
fn hbars(h: &mut String, id: &str, title: &str, bars: &[Bar], top: f64) {
    let height = ROW * bars.len() as f64 + 8.0;
    let _ = write!(
        h,
        "<svg class=\"chart\" id=\"{id}\" role=\"img\" aria-labelledby=\"{id}-title\" viewBox=\"0 0 {WIDTH} {height}\" \
         width=\"{WIDTH}\" height=\"{height}\"><title id=\"{id}-title\">{}</title>",
        esc(title)
    );
    let room = WIDTH - LABEL - 90.0;
    for (i, b) in bars.iter().enumerate() {
        let y = 4.0 + i as f64 * ROW;
        let length = if top > 0.0 { (b.value / top).clamp(0.0, 1.0) * room } else { 0.0 };
        let _ = write!(
            h,
            "<g class=\"row\"><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"12\">{}</text>\
             <rect class=\"bar\" {} x=\"{LABEL}\" y=\"{:.1}\" width=\"{length:.2}\" height=\"{:.1}\" fill=\"#2456a6\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{}</text></g>",
            LABEL - 6.0,
            y + ROW * 0.65,
            esc(&b.label),
            b.data,
            y + 3.0,
            ROW - 6.0,
            LABEL + length + 6.0,
            y + ROW * 0.65,
            esc(&b.text),
        );
    }
    h.push_str("</svg>");
}

fn shares(h: &mut String, ind: &Indicators) {
    let _ = write!(
        h,
        "<section id=\"shares\"><h2>Shares <span lang=\"zh\">比率</span></h2><ul>\
         <li>Auto-approved: <strong id=\"auto-approved-share\">{}</strong> ({} of {} reviews approved by oscar without a reviewer).</li>\
         <li>First submissions refused for form errors (data quality): <strong>{}</strong> ({} of {} applications whose first submission falls in the window).</li>\
         <li>Reusing archived data (renewals, amendments, library parts): <strong>{}</strong> ({} of {} reviews).</li>\
         <li>Registry availability: <strong>{}</strong> ({} of {} reviews had every registry lookup answered).</li></ul>",
        percent(ind.auto_approved_share),
        ind.auto_approved,
        ind.reviewed,
        percent(ind.first_submission_refused_share),
        ind.first_submissions_refused,
        ind.first_submissions,
        percent(ind.reuse_share),
        ind.reusing,
        ind.reviewed,
        percent(ind.registry_availability),
        ind.registry_answered,
        ind.reviewed,
    );
    let bars: Vec<Bar> = [
        ("auto_approved_share", "auto-approved", ind.auto_approved_share),
        ("first_submission_refused_share", "first submissions refused", ind.first_submission_refused_share),
        ("reuse_share", "reusing archived data", ind.reuse_share),
        ("registry_availability", "registry availability", ind.registry_availability),
    ]
    .into_iter()
    .map(|(name, label, share)| Bar {
        label: label.into(),
        value: share.unwrap_or(0.0),
        text: percent(share),
        data: format!("data-share=\"{name}\" data-value=\"{}\"", share.map_or_else(String::new, |s| s.to_string())),
    })
    .collect();
    hbars(h, "chart-shares", "Shares, 0 to 100 %", &bars, 1.0);
    h.push_str("</section>");
}

fn machine(h: &mut String, ind: &Indicators) {
    h.push_str("<section id=\"machine\"><h2>Machine decision time <span lang=\"zh\">系统审查用时</span></h2>");
    let Some(t) = &ind.machine_decision_time else {
        h.push_str("<p class=\"note\">No review in this window recorded its machine decision time.</p></section>");
        return;
    };
    let _ = write!(
        h,
        "<p>Over {} review(s), oscar took a median of <strong>{:.1} ms</strong> from receiving an application to its verdict; \
         95 % took at most {:.1} ms, the slowest {:.1} ms.</p>",
        t.reviews, t.median_ms, t.p95_ms, t.max_ms
    );
    let bars: Vec<Bar> = [("median", t.median_ms), ("95th percentile", t.p95_ms), ("maximum", t.max_ms)]
        .into_iter()
        .map(|(label, ms)| Bar {
            label: label.into(),
            value: ms,
            text: format!("{ms:.1} ms"),
            data: format!("data-quantile=\"{label}\" data-value=\"{ms}\""),
        })
        .collect();
    hbars(h, "chart-machine", "Machine decision time, ms", &bars, t.max_ms);
    h.push_str("</section>");
}

/// How a class's group is named: jurisdiction, class and the deadline that applies; `short`
/// for a chart's label column.
fn group_label(c: &ClassDecisionTime, short: bool) -> String {
    let (cross, own, days_word, none) = if short {
        ("cross", "own", "d", "not over-limit")
    } else {
        ("cross-province", "own province", "working days", "not over-limit: no statutory deadline")
    };
    match (c.permit_class, c.deadline_working_days) {
        (Some(class), Some(days)) => format!(
            "{} class {class}{} {}{} {days} {days_word}",
            c.jurisdiction,
            if short { " ·" } else { "," },
            if c.cross_province == Some(true) { cross } else { own },
            if short { " ·" } else { ":" },
        ),
        _ => format!("{} {none}", c.jurisdiction),
    }
}

fn reviewers(h: &mut String, ind: &Indicators) {
    h.push_str(
        "<section id=\"reviewers\"><h2>Reviewer decision time against the statutory deadline \
         <span lang=\"zh\">人工审核用时与法定期限</span></h2>\
         <p>For escalated applications: working days (Monday to Friday, from the day after submission) from submission \
         to the reviewer's final decision, for decisions recorded in the window; in time means on or before the due date \
         the review recorded. Time waiting for information from the applicant is counted in.</p>",
    );
    if ind.reviewer_decision_time.is_empty() {
        h.push_str("<p class=\"note\">No escalated application was decided in this window or is waiting for a decision.</p></section>");
        return;
    }
    h.push_str(
        "<table class=\"queue\" id=\"reviewer-table\"><thead><tr><th scope=\"col\">Class and deadline</th>\
         <th scope=\"col\">Decided</th><th scope=\"col\">In time</th><th scope=\"col\">Median</th><th scope=\"col\">95th percentile</th>\
         <th scope=\"col\">Maximum</th><th scope=\"col\">Undecided now</th><th scope=\"col\">Overdue now</th></tr></thead><tbody>",
    );
    let dash = |v: Option<u32>| v.map_or_else(|| "—".to_string(), |d| format!("{d} d"));
    for c in &ind.reviewer_decision_time {
        let days = c.decision_working_days.as_ref();
        let _ = write!(
            h,
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{} ({})</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num{}\">{}</td></tr>",
            esc(&group_label(c, false)),
            c.decided,
            c.decided_in_time,
            percent(c.in_time_share),
            dash(days.map(|d| d.median)),
            dash(days.map(|d| d.p95)),
            dash(days.map(|d| d.max)),
            c.undecided_now,
            if c.overdue_now > 0 { " fail" } else { "" },
            c.overdue_now,
        );
    }
    h.push_str("</tbody></table>");
    reviewer_chart(h, &ind.reviewer_decision_time);
    h.push_str("</section>");
}

/// Per class: the maximum, 95th percentile and median decision time as nested bars, and
/// the deadline as a red line across them.
fn reviewer_chart(h: &mut String, classes: &[ClassDecisionTime]) {
    let top = classes
        .iter()
        .flat_map(|c| [c.decision_working_days.as_ref().map_or(0, |d| d.max), c.deadline_working_days.unwrap_or(0)])
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let room = WIDTH - LABEL - 60.0;
    let x = |days: u32| LABEL + f64::from(days) / top * room;
    let height = ROW * 1.5 * classes.len() as f64 + 40.0;
    let _ = write!(
        h,
        "<svg class=\"chart\" id=\"chart-reviewers\" role=\"img\" aria-labelledby=\"chart-reviewers-title\" \
         viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" height=\"{height}\">\
         <title id=\"chart-reviewers-title\">Reviewer decision time per class, working days: median (dark), \
         95th percentile and maximum (lighter), statutory deadline (red line)</title>"
    );
    for (i, c) in classes.iter().enumerate() {
        let y = 4.0 + i as f64 * ROW * 1.5;
        let _ = write!(
            h,
            "<g class=\"class\" data-class=\"{}\" data-deadline=\"{}\" data-decided=\"{}\">\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"12\">{}</text>",
            c.permit_class.map_or_else(|| "none".to_string(), |k| k.to_string()),
            c.deadline_working_days.map_or_else(String::new, |d| d.to_string()),
            c.decided,
            LABEL - 6.0,
            y + ROW * 0.65,
            esc(&group_label(c, true)),
        );
        if let Some(d) = &c.decision_working_days {
            for (name, days, fill) in
                [("max", d.max, "#c7d2fe"), ("p95", d.p95, "#818cf8"), ("median", d.median, "#17324d")]
            {
                let _ = write!(
                    h,
                    "<rect class=\"{name}\" data-days=\"{days}\" x=\"{LABEL}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{:.1}\" fill=\"{fill}\">\
                     <title>{name}: {days} working day(s)</title></rect>",
                    y + 3.0,
                    x(days) - LABEL,
                    ROW - 6.0,
                );
            }
        }
        if let Some(days) = c.deadline_working_days {
            let _ = write!(
                h,
                "<line class=\"deadline\" data-days=\"{days}\" x1=\"{0:.2}\" x2=\"{0:.2}\" y1=\"{1:.1}\" y2=\"{2:.1}\" stroke=\"#b00020\" stroke-width=\"2\">\
                 <title>deadline: {days} working days</title></line>",
                x(days),
                y,
                y + ROW,
            );
        }
        h.push_str("</g>");
    }
    let _ = write!(
        h,
        "<text x=\"{LABEL}\" y=\"{0:.1}\" font-size=\"11\">0</text><text x=\"{1:.1}\" y=\"{0:.1}\" font-size=\"11\" text-anchor=\"end\">{2} working days</text>\
         <text x=\"8\" y=\"{3:.1}\" font-size=\"11\">dark: median · middle: 95th percentile · light: maximum · red line: the deadline</text></svg>",
        height - 20.0,
        x(top as u32),
        top,
        height - 4.0,
    );
}

fn reasons(h: &mut String, ind: &Indicators) {
    h.push_str("<section id=\"reasons\"><h2>Escalation reasons by item <span lang=\"zh\">转人工原因</span></h2>");
    if ind.escalation_reasons.is_empty() {
        h.push_str("<p class=\"note\">No review in this window escalated.</p></section>");
        return;
    }
    h.push_str(
        "<p>How often each item was a reason to escalate (a review may have several); <em>case</em> is a reason about \
         the case as a whole: the class outside the auto-approve envelope, not over-limit, or an unusual anomaly score.</p>",
    );
    let top = ind.escalation_reasons.values().copied().max().unwrap_or(1) as f64;
    let bars: Vec<Bar> = ind
        .escalation_reasons
        .iter()
        .map(|(item, n)| Bar {
            label: item.clone(),
            value: *n as f64,
            text: n.to_string(),
            data: format!("data-item=\"{}\" data-count=\"{n}\"", esc(item)),
        })
        .collect();
    hbars(h, "chart-reasons", "Reasons to escalate, by item", &bars, top);
    h.push_str("</section>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::indicators::Facts;

    #[test]
    fn a_day_without_applications_is_a_gap_in_the_bars() {
        let mut ind = Indicators::compute(&Facts::default(), None, None, chrono::Utc::now());
        let mut h = String::new();
        received(&mut h, &ind);
        assert!(h.contains("No applications in this window") && !h.contains("<svg"), "{h}");
        ind.applications_by_day = [("2026-11-20".to_string(), 2), ("2026-11-23".to_string(), 1)].into();
        let mut h = String::new();
        received(&mut h, &ind);
        let bars: Vec<&str> = h.split("data-count=\"").skip(1).filter_map(|b| b.split('"').next()).collect();
        assert_eq!(bars, ["2", "0", "0", "1"]);
        assert!(h.contains(">2026-11-20</text>") && h.contains(">2026-11-23</text>"), "{h}");
    }
}
