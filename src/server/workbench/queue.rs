//! The queue page: escalated cases, most urgent first by their statutory due date.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{NaiveDate, Utc};
use serde::Deserialize;

use super::super::AppState;
use super::super::error::ApiError;
use super::super::reviews::percent_encode;
use super::{CaseFile, case_href, esc};
use crate::decision::CaseStatus;
use crate::ledger::StoredDecision;
use crate::report::{Lang, matter};
use crate::review::{ItemId, Status, Verdict};

/// Cases a page shows.
pub const PAGE: usize = 25;

/// Records and decisions read from the ledger at a time.
const SCAN: usize = 500;

/// The queue's filters, from the query string.
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    /// `open`, `waiting`, `decided`, or `all`; empty: open and waiting.
    pub status: Option<String>,
    /// Only cases where this item fails or is unverified.
    pub item: Option<String>,
    /// Only this permit class.
    pub class: Option<String>,
    /// Only cases reviewed on or after this day (`YYYY-MM-DD`).
    pub since: Option<String>,
    /// Page, from 1.
    pub page: Option<usize>,
}

/// What the filters select, checked.
struct Selection {
    statuses: Vec<CaseStatus>,
    item: Option<ItemId>,
    class: Option<u8>,
    since: Option<NaiveDate>,
    page: usize,
}

impl Filters {
    fn selection(&self) -> Result<Selection, ApiError> {
        let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
        let statuses = match given(&self.status).as_deref() {
            None => vec![CaseStatus::Open, CaseStatus::Waiting],
            Some("all") => vec![CaseStatus::Open, CaseStatus::Waiting, CaseStatus::Decided],
            Some(word) => match CaseStatus::parse(word).filter(|s| *s != CaseStatus::AutoApproved) {
                Some(s) => vec![s],
                None => {
                    return Err(ApiError::BadRequest(format!(
                        "`status` must be open, waiting, decided or all, found `{word}`"
                    )));
                }
            },
        };
        let item = given(&self.item)
            .map(|i| {
                ItemId::parse(&i)
                    .ok_or_else(|| ApiError::BadRequest(format!("`item` must be an item id (P1 .. G3), found `{i}`")))
            })
            .transpose()?;
        let class = given(&self.class)
            .map(|c| {
                c.parse::<u8>()
                    .map_err(|_| ApiError::BadRequest(format!("`class` must be a class number, found `{c}`")))
            })
            .transpose()?;
        let since = given(&self.since)
            .map(|d| {
                NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                    .map_err(|_| ApiError::BadRequest(format!("`since` must be a date YYYY-MM-DD, found `{d}`")))
            })
            .transpose()?;
        Ok(Selection { statuses, item, class, since, page: self.page.unwrap_or(1).max(1) })
    }
}

impl Selection {
    fn keeps(&self, c: &CaseFile) -> bool {
        self.statuses.contains(&c.case.status)
            && self.item.is_none_or(|id| c.review.items.iter().any(|i| i.id == id && flagged(i.status)))
            && self.class.is_none_or(|class| c.review.permit_class == Some(class))
            && self
                .since
                .is_none_or(|d| c.record.entry.recorded_at.as_str() >= d.format("%Y-%m-%d").to_string().as_str())
    }
}

fn flagged(status: Status) -> bool {
    matches!(status, Status::Fail | Status::Unverified)
}

/// Every escalated case that the selection keeps, most urgent first (due date, then the
/// order they came in; no due date last).
fn cases(state: &AppState, selection: &Selection) -> Result<Vec<CaseFile>, ApiError> {
    let mut decisions: BTreeMap<String, Vec<StoredDecision>> = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = state.ledger.decisions_after(after, SCAN)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        let full = page.len() == SCAN;
        for d in page {
            decisions.entry(d.entry.application_id.clone()).or_default().push(d);
        }
        if !full {
            break;
        }
    }
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = state.ledger.by_verdict(Verdict::Escalate, after, SCAN)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        let full = page.len() == SCAN;
        for record in page {
            let decided = decisions.get(&record.entry.application_id).map_or(&[][..], Vec::as_slice);
            let case = CaseFile::read(record, decided)?;
            if selection.keeps(&case) {
                out.push(case);
            }
        }
        if !full {
            break;
        }
    }
    out.sort_by_key(|c| (c.due().is_none(), c.due(), c.record.seq));
    Ok(out)
}

/// The queue page's body.
pub fn render(state: &AppState, filters: &Filters) -> Result<String, ApiError> {
    let selection = filters.selection()?;
    let all = cases(state, &selection)?;
    let pages = all.len().div_ceil(PAGE).max(1);
    let today = Utc::now().date_naive();
    let mut h = String::new();
    let _ = write!(h, "<h1>Queue <span lang=\"zh\">审核队列</span></h1>");
    h.push_str(
        "<p class=\"links\"><a id=\"indicators-link\" href=\"/workbench/indicators\">Service indicators \
         <span lang=\"zh\">服务指标</span></a>: applications, shares, decision times against the statutory deadlines</p>",
    );
    filter_form(&mut h, filters);
    let _ = write!(
        h,
        "<p class=\"count\" id=\"count\">{} case(s), most urgent first by statutory due date; page {} of {pages}</p>",
        all.len(),
        selection.page.min(pages)
    );
    h.push_str(
        "<table class=\"queue\" id=\"queue\"><thead><tr><th scope=\"col\">Due <span lang=\"zh\">期限</span></th>\
         <th scope=\"col\">Days left <span lang=\"zh\">剩余天数</span></th><th scope=\"col\">Application <span lang=\"zh\">申请</span></th>\
         <th scope=\"col\">Carrier <span lang=\"zh\">承运人</span></th><th scope=\"col\">Class <span lang=\"zh\">类别</span></th>\
         <th scope=\"col\">Matters <span lang=\"zh\">事项</span></th><th scope=\"col\">Items failing / unverified <span lang=\"zh\">未通过/无法核实</span></th>\
         <th scope=\"col\">Anomaly <span lang=\"zh\">异常分</span></th><th scope=\"col\">Status <span lang=\"zh\">状态</span></th></tr></thead><tbody>",
    );
    for c in all.iter().skip((selection.page.min(pages) - 1) * PAGE).take(PAGE) {
        row(&mut h, c, today);
    }
    h.push_str("</tbody></table>");
    paging(&mut h, filters, selection.page.min(pages), pages);
    Ok(h)
}

fn row(h: &mut String, c: &CaseFile, today: NaiveDate) {
    let id = &c.record.entry.application_id;
    let due = c.due().map_or_else(|| "—".to_string(), |d| d.to_string());
    let days = c.days_left(today).map_or_else(|| "—".to_string(), |d| d.to_string());
    let urgent = c.days_left(today).is_some_and(|d| d <= 2) && c.case.status != CaseStatus::Decided;
    let items: Vec<String> = c
        .review
        .items
        .iter()
        .filter(|i| flagged(i.status))
        .map(|i| {
            format!(
                "<span class=\"tag {}\" title=\"{}\">{} {}</span>",
                i.status.as_str(),
                esc(&i.title),
                i.id,
                esc(i.status.mark())
            )
        })
        .collect();
    let matters: Vec<&str> = c.review.matters.iter().map(|m| matter(*m, Lang::En)).collect();
    let anomaly = c.review.anomaly.as_ref().map_or_else(|| "—".to_string(), |a| format!("{:.3}", a.score));
    let _ = write!(
        h,
        "<tr data-id=\"{}\" data-due=\"{due}\" data-status=\"{}\"{}><td>{due}</td><td class=\"num\">{days}</td>\
         <td><a href=\"{}\">{}</a></td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{anomaly}</td>\
         <td><span class=\"status {}\">{}</span></td></tr>",
        esc(id),
        c.case.status.as_str(),
        if urgent { " class=\"urgent\"" } else { "" },
        esc(&case_href(id)),
        esc(id),
        esc(c.text("/carrier/name")),
        c.review.permit_class.map_or_else(|| "—".to_string(), |k| k.to_string()),
        esc(&matters.join(", ")),
        items.join(" "),
        c.case.status.as_str(),
        c.case.status.as_str().replace('_', " "),
    );
}

fn filter_form(h: &mut String, f: &Filters) {
    let current = |v: &Option<String>| v.clone().unwrap_or_default();
    let option = |value: &str, label: &str, selected: &str| {
        format!(
            "<option value=\"{}\"{}>{}</option>",
            esc(value),
            if value == selected { " selected" } else { "" },
            esc(label)
        )
    };
    let status = current(&f.status);
    let statuses: String = [
        ("", "open and waiting"),
        ("open", "open"),
        ("waiting", "waiting for information"),
        ("decided", "decided"),
        ("all", "all"),
    ]
    .iter()
    .map(|(v, l)| option(v, l, &status))
    .collect();
    let item = current(&f.item);
    let items: String = std::iter::once(option("", "any", &item))
        .chain(ItemId::ALL.iter().map(|i| option(i.as_str(), i.as_str(), &item)))
        .collect();
    let _ = write!(
        h,
        "<form class=\"filters\" method=\"get\" action=\"/\" aria-label=\"Filters\">\
         <label>Status <span lang=\"zh\">状态</span> <select name=\"status\">{statuses}</select></label>\
         <label>Item <span lang=\"zh\">审查项</span> <select name=\"item\">{items}</select></label>\
         <label>Class <span lang=\"zh\">类别</span> <input name=\"class\" size=\"3\" inputmode=\"numeric\" value=\"{}\"></label>\
         <label>Reviewed since <span lang=\"zh\">审查日期起</span> <input type=\"date\" name=\"since\" value=\"{}\"></label>\
         <button type=\"submit\">Filter <span lang=\"zh\">筛选</span></button></form>",
        esc(&current(&f.class)),
        esc(&current(&f.since)),
    );
}

fn paging(h: &mut String, f: &Filters, page: usize, pages: usize) {
    let link = |to: usize, label: &str| {
        let mut q = String::new();
        for (k, v) in [("status", &f.status), ("item", &f.item), ("class", &f.class), ("since", &f.since)] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                let _ = write!(q, "{k}={}&", percent_encode(v));
            }
        }
        format!("<a href=\"/?{}page={to}\">{label}</a>", esc(&q))
    };
    h.push_str("<nav class=\"pages\" aria-label=\"Pages\">");
    if page > 1 {
        h.push_str(&link(page - 1, "← previous"));
    }
    let _ = write!(h, " <span>page {page} of {pages}</span> ");
    if page < pages {
        h.push_str(&link(page + 1, "next →"));
    }
    h.push_str("</nav>");
}
