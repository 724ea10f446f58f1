//! The case page: verdict and reasons first, then the route map, the 21 items with their
//! evidence, the determination, the anomaly contributors, the timeline, the versions, and the
//! decision form (which posts to the decisions API).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::super::AppState;
use super::super::error::ApiError;
use super::super::reviews::location;
use super::{CaseFile, esc};
use crate::checks::show;
use crate::decision::{CaseStatus, DecisionKind, refused_on};
use crate::report::{Lang, category, item_title, matter, status_word};
use crate::review::{Category, Check, ItemResult, Status, Verdict};
use crate::rulebook::StandardCondition;

/// The case page's body, or 404.
pub fn render(state: &AppState, id: &str) -> Result<String, ApiError> {
    let record = state.ledger.get(id)?.ok_or_else(|| ApiError::NotFound(format!("no review of application `{id}`")))?;
    let decisions = state.ledger.decisions(id)?;
    let cf = CaseFile::read(record, &decisions)?;
    let reviewer = state.reviewer()?;
    let map = super::map::Drawn::of(&reviewer, &cf);
    let restrictions = super::map::restrictions_met_later(state, &cf, map.as_ref().ok())?;
    let mut h = String::with_capacity(64 << 10);
    head(&mut h, &cf);
    match &map {
        Ok(drawn) => drawn.section(&mut h),
        Err(why) => {
            let _ = write!(
                h,
                "<section id=\"map-section\"><h2>Route <span lang=\"zh\">路线图</span></h2><p class=\"note\">No map: {why}.</p></section>"
            );
        }
    }
    items(&mut h, &cf);
    determination(&mut h, &cf);
    anomaly(&mut h, &cf);
    timeline(&mut h, &cf, &restrictions);
    versions(&mut h, &cf);
    let standard = reviewer.rulebook(&cf.review.jurisdiction).map_or(&[][..], |b| b.rules.conditions.as_slice());
    form(&mut h, &cf, standard);
    Ok(h)
}

fn head(h: &mut String, cf: &CaseFile) {
    let r = &cf.review;
    let id = &r.application_id;
    let (verdict, verdict_zh) = match r.verdict {
        Verdict::Approve => ("approved by oscar", "自动批准"),
        Verdict::Escalate => ("escalated to a reviewer", "转人工审核"),
    };
    let status = cf.case.status;
    let _ = write!(
        h,
        "<article class=\"case\" data-id=\"{}\" data-status=\"{}\"><h1>{} <small>{}</small></h1>\
         <p class=\"verdict {}\" id=\"verdict\"><strong>Verdict <span lang=\"zh\">结论</span>: {verdict} <span lang=\"zh\">{verdict_zh}</span></strong>\
         · case <span class=\"status {}\" id=\"case-status\">{}</span>",
        esc(id),
        status.as_str(),
        esc(id),
        esc(cf.text("/carrier/name")),
        r.verdict.as_str(),
        status.as_str(),
        status.as_str().replace('_', " "),
    );
    if let Some(d) = &r.determination.deadline {
        let days = cf.days_left(Utc::now().date_naive()).unwrap_or_default();
        let _ = write!(
            h,
            " · due <span lang=\"zh\">法定期限</span> <time datetime=\"{0}\" id=\"due\">{0}</time> ({days} day(s) left{1})",
            d.due,
            cf.case
                .clock_stopped_at
                .as_deref()
                .map_or_else(String::new, |at| format!("; clock stopped {} while information is awaited", esc(at)))
        );
    }
    if matches!(status, CaseStatus::Open | CaseStatus::Waiting) {
        h.push_str(" · <a href=\"#decide\" class=\"no-print\">decide</a>");
    }
    h.push_str("</p>");
    if !r.reasons.is_empty() {
        h.push_str("<section id=\"reasons\"><h2>Why it escalated <span lang=\"zh\">转人工审核的原因</span></h2><ol>");
        for reason in &r.reasons {
            let anchor = reason.item().map_or_else(String::new, |i| format!(" data-item=\"{i}\""));
            let _ = write!(h, "<li{anchor}>{}</li>", esc(reason.as_str()));
        }
        h.push_str("</ol></section>");
    }
    for d in &cf.case.decisions {
        let _ = write!(
            h,
            "<p class=\"decided {}\">Decision <span lang=\"zh\">决定</span>: <strong>{}</strong> by {} at {}</p>",
            d.decision.kind.as_str(),
            kind_label(d.decision.kind),
            esc(&d.caller),
            esc(&d.recorded_at)
        );
    }
}

/// A decision kind for people, English and Chinese.
fn kind_label(kind: DecisionKind) -> &'static str {
    match kind {
        DecisionKind::Approve => "approved 批准",
        DecisionKind::ApproveWithConditions => "approved with conditions 附条件批准",
        DecisionKind::Refuse => "refused 不予许可",
        DecisionKind::RequestInformation => "information requested 要求补充材料",
    }
}

/// The mark of a status: a symbol and words, never colour alone.
fn mark(status: Status) -> String {
    format!(
        "<span class=\"mark {}\">{} <span lang=\"zh\">{}</span></span>",
        status.as_str(),
        esc(status.mark()),
        status_word(status, Lang::Zh)
    )
}

fn items(h: &mut String, cf: &CaseFile) {
    h.push_str("<section id=\"items\"><h2>The 21 items <span lang=\"zh\">审查项目</span></h2>");
    for cat in [Category::People, Category::Company, Category::Vehicle, Category::Route, Category::Cargo] {
        let _ = write!(
            h,
            "<section class=\"category\"><h3>{} <span lang=\"zh\">{}</span></h3><table class=\"items\"><thead><tr>\
             <th scope=\"col\">Item <span lang=\"zh\">项目</span></th><th scope=\"col\">Result <span lang=\"zh\">结果</span></th>\
             <th scope=\"col\">Finding and evidence <span lang=\"zh\">结论与证据</span></th></tr></thead><tbody>",
            category(cat, Lang::En),
            category(cat, Lang::Zh)
        );
        for item in cf.review.items.iter().filter(|i| i.category == cat) {
            item_row(h, item);
        }
        h.push_str("</tbody></table></section>");
    }
    h.push_str("</section>");
}

fn item_row(h: &mut String, i: &ItemResult) {
    let _ = write!(
        h,
        "<tr class=\"item {0}\" id=\"item-{1}\" data-item=\"{1}\" data-status=\"{0}\"><th scope=\"row\">{1} {2}<br><span lang=\"zh\">{3}</span></th>\
         <td>{4}</td><td><p>{5}</p>",
        i.status.as_str(),
        i.id,
        esc(item_title(i, Lang::En)),
        esc(item_title(i, Lang::Zh)),
        mark(i.status),
        esc(&i.message)
    );
    if !i.evidence.checks.is_empty() {
        h.push_str(
            "<table class=\"evidence\"><thead><tr><th scope=\"col\">Compared</th><th scope=\"col\">Observed</th>\
             <th scope=\"col\">Limit</th><th scope=\"col\">Result</th><th scope=\"col\">Field</th></tr></thead><tbody>",
        );
        for c in &i.evidence.checks {
            check_row(h, c);
        }
        h.push_str("</tbody></table>");
        if i.evidence.omitted_checks > 0 {
            let _ = write!(h, "<p class=\"note\">{} more comparison(s) left out.</p>", i.evidence.omitted_checks);
        }
    }
    if !i.refs.is_empty() {
        let refs: Vec<String> = i.refs.iter().map(|r| format!("<code>{}</code>", esc(r))).collect();
        let _ = write!(
            h,
            "<p class=\"refs\">Records and restrictions used <span lang=\"zh\">所用记录</span>: {}</p>",
            refs.join(", ")
        );
    }
    let _ =
        write!(h, "<p class=\"basis\">Legal basis <span lang=\"zh\">法律依据</span>: {}</p></td></tr>", esc(&i.basis));
}

fn check_row(h: &mut String, c: &Check) {
    let unit = c.unit.as_deref().map_or_else(String::new, |u| format!(" {}", esc(u)));
    let value = |v: &serde_json::Value| esc(&show(v));
    let _ = write!(
        h,
        "<tr class=\"{}\"><td>{}</td><td>{}{unit}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        c.status.as_str(),
        esc(&c.what),
        value(&c.observed),
        c.limit.as_ref().map_or_else(|| "—".to_string(), |l| format!("{}{unit}", value(l))),
        mark(c.status),
        c.location.as_deref().map_or_else(|| "—".to_string(), |p| format!("<code>{}</code>", esc(p))),
    );
}

fn determination(h: &mut String, cf: &CaseFile) {
    let d = &cf.review.determination;
    let _ = write!(
        h,
        "<section id=\"determination\"><h2>Determination <span lang=\"zh\">超限认定</span></h2><dl>\
         <dt>Over-limit <span lang=\"zh\">超限</span></dt><dd>{}</dd>",
        if d.over_limit { "yes 是" } else { "no 否" }
    );
    if !d.exceeded.is_empty() {
        h.push_str("<dt>Thresholds exceeded <span lang=\"zh\">超出的限值</span></dt><dd><ul>");
        for e in &d.exceeded {
            let _ = write!(
                h,
                "<li>{}: {} {} over the limit {} {}</li>",
                esc(&format!("{:?}", e.dimension).to_lowercase()),
                e.observed,
                esc(&e.unit),
                e.limit,
                esc(&e.unit)
            );
        }
        h.push_str("</ul></dd>");
    }
    let matters: Vec<String> = d
        .matters
        .iter()
        .map(|m| format!("{} <span lang=\"zh\">{}</span>", matter(*m, Lang::En), matter(*m, Lang::Zh)))
        .collect();
    let _ = write!(
        h,
        "<dt>Legal gross mass <span lang=\"zh\">法定总质量</span></dt><dd>{} kg</dd>\
         <dt>Permit class <span lang=\"zh\">许可类别</span></dt><dd>{}</dd><dt>Matters <span lang=\"zh\">事项</span></dt><dd>{}</dd>",
        d.legal_gross_kg,
        d.permit_class.map_or_else(|| "none 无".to_string(), |c| c.to_string()),
        matters.join("; ")
    );
    if let Some(deadline) = &d.deadline {
        let _ = write!(
            h,
            "<dt>Statutory deadline <span lang=\"zh\">法定办理期限</span></dt><dd>{} working days, due {}{}</dd>",
            deadline.working_days,
            deadline.due,
            if deadline.cross_province { " (cross-province)" } else { "" }
        );
    }
    for n in &d.notes {
        let _ = write!(h, "<dt>Note</dt><dd>{}</dd>", esc(n));
    }
    let _ =
        write!(h, "<dt>Legal basis <span lang=\"zh\">法律依据</span></dt><dd>{}</dd></dl></section>", esc(&d.basis));
}

fn anomaly(h: &mut String, cf: &CaseFile) {
    h.push_str("<section id=\"anomaly\"><h2>Anomaly <span lang=\"zh\">异常检测</span></h2>");
    match &cf.review.anomaly {
        None => h.push_str("<p>No anomaly model was loaded for this review.</p>"),
        Some(a) => {
            let _ = write!(
                h,
                "<p>Score {:.3} against the threshold {:.3}{}.</p><ul>",
                a.score,
                a.threshold,
                if a.score >= a.threshold { " — at or above it" } else { "" }
            );
            for c in &a.contributors {
                let _ = write!(h, "<li>{}</li>", esc(c));
            }
            h.push_str("</ul>");
        }
    }
    h.push_str("</section>");
}

/// One event of the case's timeline.
pub struct Event {
    /// When.
    pub at: DateTime<Utc>,
    /// What, for people (HTML-escaped already).
    pub what: String,
    /// The kind, for styling and tests: `submitted`, `reviewed`, `restriction`, or a decision kind.
    pub kind: &'static str,
}

fn timeline(h: &mut String, cf: &CaseFile, restrictions: &[Event]) {
    let parse = |t: &str| DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&Utc));
    let mut events = Vec::new();
    if let Some(at) = parse(cf.text("/submitted_at")) {
        events.push(Event { at, what: "submitted by the applicant 申请提交".into(), kind: "submitted" });
    }
    if let Some(at) = parse(&cf.record.entry.recorded_at) {
        events.push(Event {
            at,
            what: format!(
                "reviewed by oscar 机器审查: {} (received from {})",
                cf.review.verdict.as_str(),
                esc(&cf.record.entry.caller)
            ),
            kind: "reviewed",
        });
    }
    for d in &cf.case.decisions {
        let Some(at) = parse(&d.recorded_at) else { continue };
        let mut what = format!("{} by {}", kind_label(d.decision.kind), esc(&d.caller));
        let details: Vec<String> = d
            .decision
            .conditions
            .iter()
            .map(|c| format!("condition: {}", esc(&c.text)))
            .chain(
                d.decision
                    .findings
                    .iter()
                    .map(|f| format!("finding: {} (evidence: {})", esc(&f.fact), esc(&f.evidence.join(", ")))),
            )
            .chain(
                [
                    ("reasons", &d.decision.reasons),
                    ("information requested", &d.decision.information),
                    ("note", &d.decision.note),
                ]
                .into_iter()
                .filter(|(_, t)| !t.is_empty())
                .map(|(label, t)| format!("{label}: {}", esc(t))),
            )
            .collect();
        if !details.is_empty() {
            let _ = write!(what, "<ul>{}</ul>", details.iter().map(|d| format!("<li>{d}</li>")).collect::<String>());
        }
        events.push(Event { at, what, kind: d.decision.kind.as_str() });
    }
    events.extend(restrictions.iter().map(|e| Event { at: e.at, what: e.what.clone(), kind: e.kind }));
    events.sort_by_key(|e| e.at);
    h.push_str("<section id=\"timeline\"><h2>Timeline <span lang=\"zh\">办理经过</span></h2><ol class=\"timeline\">");
    for e in &events {
        let _ = write!(
            h,
            "<li class=\"event {0}\" data-kind=\"{0}\"><time datetime=\"{1}\">{2}</time> {3}</li>",
            e.kind,
            e.at.to_rfc3339(),
            e.at.format("%Y-%m-%d %H:%M UTC"),
            e.what
        );
    }
    h.push_str("</ol></section>");
}

fn versions(h: &mut String, cf: &CaseFile) {
    let v = &cf.review.versions;
    let _ = write!(
        h,
        "<section id=\"versions\"><h2>Versions used <span lang=\"zh\">所用版本</span></h2><dl class=\"versions\">\
         <dt>oscar</dt><dd><code>{}</code></dd><dt>rulebook</dt><dd><code>{}</code></dd><dt>registry</dt><dd><code>{}</code></dd>\
         <dt>routes</dt><dd><code>{}</code></dd><dt>model</dt><dd><code>{}</code></dd><dt>ledger record</dt><dd><code>{}</code></dd></dl></section>",
        esc(&v.oscar),
        esc(&v.rulebook),
        esc(&v.registry),
        esc(&v.routes),
        esc(&v.model),
        esc(&cf.record.hash)
    );
}

fn form(h: &mut String, cf: &CaseFile, standard: &[StandardCondition]) {
    if let Some(why) = refused_on(cf.case.status) {
        let _ = write!(h, "<section id=\"decide\" class=\"no-print\"><p>{}.</p></section></article>", esc(why));
        return;
    }
    let action = format!("{}/decisions", location(&cf.review.application_id));
    let _ = write!(
        h,
        "<section id=\"decide\" class=\"no-print\"><h2>Decision <span lang=\"zh\">审核决定</span></h2>\
         <form id=\"decision\" data-action=\"{}\" novalidate><fieldset><legend>Decide <span lang=\"zh\">决定</span></legend>",
        esc(&action)
    );
    for kind in DecisionKind::ALL {
        let _ = write!(
            h,
            "<label><input type=\"radio\" name=\"kind\" value=\"{0}\" id=\"kind-{0}\"> {1}</label>",
            kind.as_str(),
            kind_label(kind)
        );
    }
    h.push_str("</fieldset><fieldset data-for=\"approve_with_conditions\" hidden><legend>Conditions <span lang=\"zh\">附加条件</span></legend>");
    for c in standard {
        let _ = write!(
            h,
            "<div class=\"condition\"><label><input type=\"checkbox\" name=\"condition\" value=\"{0}\" id=\"condition-{0}\"> {1} <span lang=\"zh\">{2}</span></label> <span class=\"text\">{3}</span>",
            esc(&c.id),
            esc(&c.title),
            esc(&c.title_zh),
            esc(&c.text)
        );
        for (name, default) in &c.values {
            let _ = write!(
                h,
                " <label>{0} <input data-condition=\"{1}\" data-value=\"{0}\" value=\"{2}\"></label>",
                esc(name),
                esc(&c.id),
                esc(default)
            );
        }
        h.push_str("</div>");
    }
    h.push_str(
        "<label>Other condition, free text <span lang=\"zh\">其他条件</span><textarea name=\"free_condition\" id=\"free-condition\" rows=\"2\"></textarea></label></fieldset>\
         <fieldset data-for=\"refuse\" hidden><legend>Findings of fact, evidence and reasons <span lang=\"zh\">事实认定、证据与理由</span></legend>\
         <div id=\"findings\"><div class=\"finding\"><label>Finding of fact <span lang=\"zh\">认定事实</span><textarea name=\"fact\" rows=\"2\"></textarea></label>\
         <label>Evidence it rests on, one per line (item ids, record or restriction ids, documents) <span lang=\"zh\">证据</span><textarea name=\"evidence\" rows=\"2\"></textarea></label></div></div>\
         <button type=\"button\" id=\"add-finding\">Add a finding <span lang=\"zh\">增加认定</span></button>\
         <label>Reasons <span lang=\"zh\">理由</span><textarea name=\"reasons\" id=\"reasons-text\" rows=\"3\"></textarea></label></fieldset>\
         <fieldset data-for=\"request_information\" hidden><legend>Information requested <span lang=\"zh\">要求补充的材料</span></legend>\
         <label>What the applicant must provide (the statutory clock stops until it arrives)<textarea name=\"information\" id=\"information\" rows=\"3\"></textarea></label></fieldset>\
         <label>Note for the file <span lang=\"zh\">备注</span><textarea name=\"note\" rows=\"2\"></textarea></label>\
         <button type=\"submit\" id=\"record\">Record the decision <span lang=\"zh\">记录决定</span></button>\
         <div id=\"decision-errors\" role=\"alert\" aria-live=\"assertive\"></div></form></section></article>",
    );
}
