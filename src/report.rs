//! The readable text report of a review, for the reviewer who decides an escalated case:
//! the verdict and a summary first, then the reasons grouped by their root cause with what
//! to check next, then the items, a compliant alternative route where one was searched for;
//! the full evidence only on request.

use std::fmt::Write as _;

use crate::alternative::{Alternative, Outcome};
use crate::checks::{MATCH_AT, NO_RESTRICTIONS, NO_ROAD_NETWORK, UNMATCHED_PARTS};
use crate::determination::{Dimension, Matter};
use crate::review::{Category, ItemId, ItemResult, Review, Status, Verdict};

/// The language of the report's labels (the items' findings stay as the checks wrote them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Chinese (简体中文).
    Zh,
}

impl Lang {
    /// The language a locale asks for (`LC_ALL`, `LC_MESSAGES`, `LANG`, the first one set):
    /// Chinese for `zh…`, English otherwise.
    pub fn from_locale(lookup: impl Fn(&str) -> Option<String>) -> Lang {
        let locale = ["LC_ALL", "LC_MESSAGES", "LANG"].iter().find_map(|k| lookup(k).filter(|v| !v.is_empty()));
        if locale.is_some_and(|l| l.starts_with("zh")) { Lang::Zh } else { Lang::En }
    }
}

/// How much the report shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Language of the labels.
    pub lang: Lang,
    /// Every item's full finding, checks, records and legal basis, and the versions in full.
    pub verbose: bool,
}

/// Checks of the route items that fail only because the route is not on the road data.
const OFF_ROAD_DATA: [&str; 3] = [UNMATCHED_PARTS, NO_RESTRICTIONS, NO_ROAD_NETWORK];

/// Whether an item is unverified only because (part of) the route is not on the road data.
fn off_road_data(item: &ItemResult) -> bool {
    item.category == Category::Route
        && item.status == Status::Unverified
        && item
            .evidence
            .checks
            .iter()
            .filter(|c| matches!(c.status, Status::Fail | Status::Unverified))
            .all(|c| OFF_ROAD_DATA.contains(&c.what.as_str()) || c.what.starts_with(MATCH_AT))
}

/// One reason to escalate: what is wrong, the items it covers, what to check next.
struct Reason {
    text: String,
    items: Vec<ItemId>,
    next: String,
}

/// The reasons to escalate, one per root cause.
fn reasons(r: &Review, lang: Lang) -> Vec<Reason> {
    let mut out = Vec::new();
    let off: Vec<&ItemResult> = r.items.iter().filter(|i| off_road_data(i)).collect();
    if !off.is_empty() {
        let ids: Vec<ItemId> = off.iter().map(|i| i.id).collect();
        // The first place the route leaves the road data, from R1's evidence.
        let place =
            off.iter().flat_map(|i| &i.evidence.checks).find_map(|c| c.what.strip_prefix(MATCH_AT)).map(str::to_string);
        let span = id_span(&ids);
        let (text, next) = match lang {
            Lang::En => (
                format!(
                    "The route lies outside the road data oscar has, in whole or in part: {span} could not be checked{}.",
                    place.map_or_else(String::new, |p| format!(" (first place off the road data: {p})"))
                ),
                "check the route by hand (clearances, bridges, access, closures), or load road data for this area: \
                 `oscar import-osm EXTRACT.osm.pbf --out DIR`, then review with `--routes DIR`."
                    .to_string(),
            ),
            Lang::Zh => (
                format!(
                    "路线全部或部分不在 oscar 现有的道路数据范围内：{span} 无法核实{}。",
                    place.map_or_else(String::new, |p| format!("（首个超出道路数据的位置：{p}）"))
                ),
                "人工核查路线（净空、桥梁、通行权限、封闭），或导入该地区的道路数据：\
                 `oscar import-osm EXTRACT.osm.pbf --out DIR`，再以 `--routes DIR` 审查。"
                    .to_string(),
            ),
        };
        out.push(Reason { text, items: ids, next });
    }
    for item in r.items.iter().filter(|i| matches!(i.status, Status::Fail | Status::Unverified) && !off_road_data(i)) {
        let next = match (item.status, lang) {
            (Status::Fail, Lang::En) => {
                "confirm the finding against the record or limit named; as declared, the application breaks this rule."
            }
            (_, Lang::En) => "the fact could not be proven from the data oscar has: check it by hand at its source.",
            (Status::Fail, Lang::Zh) => "对照所列记录或限值确认该结论；按申报内容，申请不符合此项规定。",
            (_, Lang::Zh) => "现有数据无法证明此项：请到数据来源人工核实。",
        };
        out.push(Reason {
            text: format!(
                "{} {} — {}: {}",
                item.id,
                item_title(item, lang),
                status_word(item.status, lang),
                item.message
            ),
            items: vec![item.id],
            next: next.to_string(),
        });
    }
    // Reasons that are no item's: the class, the envelope, the anomaly score.
    for reason in r.reasons.iter().filter(|reason| reason.item().is_none()) {
        let next = match lang {
            Lang::En => "a reviewer decides this case; the determination and the anomaly contributors below say why.",
            Lang::Zh => "此案由审核人员决定；原因见下方的超限认定和异常特征。",
        };
        out.push(Reason { text: reason.to_string(), items: Vec::new(), next: next.to_string() });
    }
    out
}

/// `R1–R5` for a run of consecutive ids of one letter, else the ids listed.
fn id_span(ids: &[ItemId]) -> String {
    let number = |id: ItemId| id.as_str().get(1..).and_then(|n| n.parse::<u32>().ok());
    let letter = |id: ItemId| id.as_str().get(..1);
    let consecutive = ids.windows(2).all(|w| match w {
        [a, b] => letter(*a) == letter(*b) && number(*a).zip(number(*b)).is_some_and(|(a, b)| b == a + 1),
        _ => false,
    });
    match (ids.first(), ids.last()) {
        (Some(first), Some(last)) if consecutive && ids.len() > 2 => format!("{first}–{last}"),
        _ => ids.iter().map(|id| id.as_str()).collect::<Vec<_>>().join(", "),
    }
}

/// Renders a review for a person, in English and without the full evidence.
pub fn render(r: &Review) -> String {
    render_with(r, Options::default())
}

/// Renders a review for a person: verdict and summary, reasons by root cause, the
/// determination, the items, the alternative route, the anomaly score, the versions.
pub fn render_with(r: &Review, opts: Options) -> String {
    let lang = opts.lang;
    let zh = lang == Lang::Zh;
    let mut s = String::new();
    let reasons = reasons(r, lang);
    let verdict = match (r.verdict, zh) {
        (Verdict::Approve, false) => "APPROVE",
        (Verdict::Escalate, false) => "ESCALATE — a reviewer decides",
        (Verdict::Approve, true) => "自动核准",
        (Verdict::Escalate, true) => "转人工审核",
    };
    let _ =
        writeln!(s, "{} {} ({})", if zh { "oscar 审查" } else { "oscar review of" }, r.application_id, r.jurisdiction);
    let _ = writeln!(s, "{}: {verdict}\n", if zh { "结论" } else { "verdict" });
    let _ = writeln!(s, "{}\n", wrap(&summary(r, reasons.len(), lang), 96));

    if !reasons.is_empty() {
        let _ = writeln!(s, "{}", if zh { "转人工审核的原因：" } else { "Why it escalates:" });
        for (n, reason) in reasons.iter().enumerate() {
            let _ = writeln!(s, "  {}. {}", n + 1, reason.text);
            let _ = writeln!(s, "     {}{}", if zh { "下一步：" } else { "what to check: " }, reason.next);
        }
        s.push('\n');
    }

    let d = &r.determination;
    let _ = writeln!(s, "{}", if zh { "超限认定" } else { "Determination" });
    let class = d.permit_class.map_or_else(|| (if zh { "无" } else { "none" }).to_string(), |c| c.to_string());
    let matters: Vec<&str> = r.matters.iter().map(|m| matter(*m, lang)).collect();
    let _ = writeln!(
        s,
        "  {}: {}   {}: {class}   {}: {}",
        if zh { "超限" } else { "over-limit" },
        match (d.over_limit, zh) {
            (true, false) => "yes",
            (false, false) => "no",
            (true, true) => "是",
            (false, true) => "否",
        },
        if zh { "许可类别" } else { "permit class" },
        if zh { "事项" } else { "matters" },
        if matters.is_empty() { "-".to_string() } else { matters.join(", ") }
    );
    for e in &d.exceeded {
        let _ = writeln!(s, "  {}: {} {} > {} {}", dimension(e.dimension, lang), e.observed, e.unit, e.limit, e.unit);
    }
    if let Some(dl) = &d.deadline {
        let _ = match lang {
            Lang::En => writeln!(
                s,
                "  statutory decision by {} ({} working days{})",
                dl.due,
                dl.working_days,
                if dl.cross_province { ", cross-province" } else { "" }
            ),
            Lang::Zh => writeln!(
                s,
                "  法定办结期限 {}（{} 个工作日{}）",
                dl.due,
                dl.working_days,
                if dl.cross_province { "，跨省" } else { "" }
            ),
        };
    }
    if opts.verbose {
        for note in &d.notes {
            let _ = writeln!(s, "  note: {note}");
        }
        let _ = writeln!(s, "  basis: {}", d.basis);
    }

    let mut current: Option<Category> = None;
    for item in &r.items {
        if current != Some(item.category) {
            current = Some(item.category);
            let _ = writeln!(s, "\n{}", category(item.category, lang));
        }
        let mark = match item.status {
            Status::Pass => "✔",
            Status::NotApplicable => "–",
            Status::Unverified => "?",
            Status::Fail => "✘",
        };
        let word = status_word(item.status, lang);
        let head =
            format!("  {} {mark} {word}{} {}", item.id, " ".repeat(10 - columns(word).min(10)), item_title(item, lang));
        let grouped = reasons.iter().position(|g| g.items.len() > 1 && g.items.contains(&item.id));
        match grouped {
            Some(n) if !opts.verbose => {
                let _ = writeln!(s, "{head}: {} {}", if zh { "见原因" } else { "see reason" }, n + 1);
            }
            _ if opts.verbose || !matches!(item.status, Status::Pass | Status::NotApplicable) => {
                let _ = writeln!(s, "{head}: {}", short_hashes(&item.message));
            }
            _ => {
                let _ = writeln!(s, "{head}");
            }
        }
        if opts.verbose {
            for c in &item.evidence.checks {
                let limit = c.limit.as_ref().map_or_else(String::new, |l| format!(" / {l}"));
                let unit = c.unit.as_deref().map_or_else(String::new, |u| format!(" {u}"));
                let observed = if c.observed.is_null() { String::new() } else { format!(": {}", c.observed) };
                let _ = writeln!(s, "       {} {}{observed}{limit}{unit}", c.status.as_str(), c.what);
            }
            let _ = writeln!(s, "       basis: {}", item.basis);
            if !item.refs.is_empty() {
                let refs: Vec<String> = item.refs.iter().map(|x| short_hashes(x)).collect();
                let _ = writeln!(s, "       records: {}", refs.join(", "));
            }
        }
    }

    if let Some(alt) = &r.alternative {
        alternative(&mut s, alt, lang);
    }

    if let Some(a) = &r.anomaly {
        let above = a.score >= a.threshold;
        let _ = match lang {
            Lang::En => writeln!(
                s,
                "\nHow unusual the application looks: {:.2}, {} the level that escalates ({:.2})",
                a.score,
                if above { "at or above" } else { "below" },
                a.threshold
            ),
            Lang::Zh => writeln!(
                s,
                "\n申请的异常程度：{:.2}，{}转人工审核的阈值（{:.2}）",
                a.score,
                if above { "达到或超过" } else { "低于" },
                a.threshold
            ),
        };
        if above || opts.verbose {
            for c in &a.contributors {
                let _ = writeln!(s, "  - {c}");
            }
        }
    }

    let v = &r.versions;
    let _ = writeln!(
        s,
        "\n{}: oscar {} · rulebook {} · registry {} · routes {} · model {}",
        if zh { "版本" } else { "versions" },
        v.oscar,
        short_hashes(&v.rulebook),
        short_hashes(&v.registry),
        short_hashes(&v.routes),
        short_hashes(&v.model)
    );
    s
}

/// The alternative route: what the search found, its message, and its length and detour
/// or the restrictions that bind.
fn alternative(s: &mut String, alt: &Alternative, lang: Lang) {
    let zh = lang == Lang::Zh;
    let outcome = match (alt.outcome, zh) {
        (Outcome::Proposed, false) => "proposed",
        (Outcome::NotProposed, false) => "none proposed",
        (Outcome::NoLegalRoute, false) => "no legal route",
        (Outcome::NotFound, false) => "none found",
        (Outcome::Proposed, true) => "已提出",
        (Outcome::NotProposed, true) => "未提出",
        (Outcome::NoLegalRoute, true) => "无合法路线",
        (Outcome::NotFound, true) => "未找到",
    };
    let _ = writeln!(
        s,
        "
{}{outcome}",
        if zh { "替代路线：" } else { "Alternative route: " }
    );
    let _ = writeln!(s, "  {}", wrap(&short_hashes(&alt.message), 94).replace('\n', "\n  "));
    if let (Outcome::Proposed, Some(km), Some(detour), Some(g)) =
        (alt.outcome, alt.length_m.map(|m| m / 1000.0), alt.detour_m.map(|m| m / 1000.0), &alt.geometry)
    {
        let points = g.coordinates.len();
        let _ = match lang {
            Lang::En => writeln!(
                s,
                "  {km:.1} km ({detour:+.1} km against the declared route), {points} points: `alternative.geometry` in `--json`"
            ),
            Lang::Zh => writeln!(
                s,
                "  {km:.1} 公里（较申报路线 {detour:+.1} 公里），{points} 个点：见 `--json` 的 `alternative.geometry`"
            ),
        };
    }
}

/// One paragraph: the verdict in words, the determination, the count of items by status.
fn summary(r: &Review, reasons: usize, lang: Lang) -> String {
    let count = |st: Status| r.items.iter().filter(|i| i.status == st).count();
    let (pass, fail, unverified, na) =
        (count(Status::Pass), count(Status::Fail), count(Status::Unverified), count(Status::NotApplicable));
    let d = &r.determination;
    let exceeded: Vec<String> =
        d.exceeded.iter().map(|e| format!("{} {} {}", dimension(e.dimension, lang), e.observed, e.unit)).collect();
    let matters: Vec<&str> = r.matters.iter().map(|m| matter(*m, lang)).collect();
    match lang {
        Lang::En => {
            let verdict = match r.verdict {
                Verdict::Approve => "oscar approves this application: every item passes or does not apply, the permit \
                                     class is inside the auto-approve envelope and nothing about it looks unusual."
                    .to_string(),
                Verdict::Escalate => format!(
                    "oscar cannot approve this application on its own; a reviewer decides, for the {reasons} reason(s) below."
                ),
            };
            let load = match d.permit_class {
                Some(class) => format!(
                    "The load is over the legal limits ({}) and needs a class {class} permit ({}).",
                    exceeded.join(", "),
                    matters.join(", ")
                ),
                None => "The load is within the legal limits, so no over-limit permit is needed.".to_string(),
            };
            format!(
                "{verdict} {load} Of the 21 items, {pass} pass, {fail} fail, {unverified} could not be checked and {na} do not apply."
            )
        }
        Lang::Zh => {
            let verdict = match r.verdict {
                Verdict::Approve => {
                    "oscar 自动核准此申请：各项均通过或不适用，许可类别在自动核准范围内，且无异常。".to_string()
                }
                Verdict::Escalate => format!("oscar 无法自动核准此申请，需由审核人员决定，原因共 {reasons} 条，见下。"),
            };
            let load = match d.permit_class {
                Some(class) => format!(
                    "车货超过法定限值（{}），需办理第 {class} 类许可（{}）。",
                    exceeded.join("，"),
                    matters.join("，")
                ),
                None => "车货未超过法定限值，无需办理超限运输许可。".to_string(),
            };
            format!(
                "{verdict}{load}21 项核查中，{pass} 项通过，{fail} 项不通过，{unverified} 项无法核实，{na} 项不适用。"
            )
        }
    }
}

/// The text broken at spaces into lines of at most `width` characters (a longer word
/// keeps its own line).
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / width);
    let mut line = 0;
    for word in text.split(' ') {
        let len = word.chars().count();
        if line > 0 && line + 1 + len > width {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += len;
    }
    out
}

/// `sha256:` followed by 64 hex characters shortened to its first 12 hex characters.
fn short_hashes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("sha256:") {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        let hex = &from["sha256:".len()..];
        let len = hex.bytes().take_while(u8::is_ascii_hexdigit).count();
        if len == 64 {
            out.push_str(&hex[..12]);
            rest = &hex[64..];
        } else {
            out.push_str("sha256:");
            rest = hex;
        }
    }
    out.push_str(rest);
    out
}

/// Terminal columns of a label: a CJK character takes two.
fn columns(text: &str) -> usize {
    text.chars().map(|c| if c >= '\u{2e80}' { 2 } else { 1 }).sum()
}

/// A status in words.
pub fn status_word(status: Status, lang: Lang) -> &'static str {
    match (status, lang) {
        (Status::Pass, Lang::En) => "pass",
        (Status::Fail, Lang::En) => "fail",
        (Status::Unverified, Lang::En) => "unverified",
        (Status::NotApplicable, Lang::En) => "n/a",
        (Status::Pass, Lang::Zh) => "通过",
        (Status::Fail, Lang::Zh) => "不通过",
        (Status::Unverified, Lang::Zh) => "无法核实",
        (Status::NotApplicable, Lang::Zh) => "不适用",
    }
}

/// A category's heading.
pub fn category(c: Category, lang: Lang) -> &'static str {
    match (c, lang) {
        (_, Lang::En) => c.title(),
        (Category::People, Lang::Zh) => "人员",
        (Category::Company, Lang::Zh) => "企业资质",
        (Category::Vehicle, Lang::Zh) => "车辆",
        (Category::Route, Lang::Zh) => "路线",
        (Category::Cargo, Lang::Zh) => "货物",
    }
}

/// The item's title; in Chinese from the item id.
pub fn item_title(item: &ItemResult, lang: Lang) -> &str {
    if lang == Lang::En {
        return &item.title;
    }
    match item.id {
        ItemId::P1 => "经办人授权",
        ItemId::P2 => "驾驶人资格",
        ItemId::P3 => "驾驶人违法记录",
        ItemId::P4 => "护送配备",
        ItemId::C1 => "营业执照",
        ItemId::C2 => "道路运输经营许可",
        ItemId::C3 => "信用状况",
        ItemId::C4 => "承运人责任保险",
        ItemId::V1 => "车辆登记",
        ItemId::V2 => "车辆检验",
        ItemId::V3 => "道路运输证",
        ItemId::V4 => "申报参数",
        ItemId::V5 => "轴荷",
        ItemId::R1 => "路线几何",
        ItemId::R2 => "净空高度",
        ItemId::R3 => "承载能力",
        ItemId::R4 => "宽度、长度与通行权限",
        ItemId::R5 => "通行时段",
        ItemId::G1 => "不可解体货物",
        ItemId::G2 => "尺寸一致性",
        ItemId::G3 => "货物质量合理性",
    }
}

/// A matter's name.
pub fn matter(m: Matter, lang: Lang) -> &'static str {
    match (m, lang) {
        (Matter::HighwayOverlimit, Lang::En) => "highway over-limit transport permit",
        (Matter::UrbanRoad, Lang::En) => "urban-road approval",
        (Matter::TemporaryPass, Lang::En) => "temporary vehicle pass",
        (Matter::HighwayOverlimit, Lang::Zh) => "公路超限运输许可",
        (Matter::UrbanRoad, Lang::Zh) => "特殊车辆在城市道路上行驶审批",
        (Matter::TemporaryPass, Lang::Zh) => "机动车临时通行牌证核发",
    }
}

fn dimension(d: Dimension, lang: Lang) -> &'static str {
    match (d, lang) {
        (Dimension::Height, Lang::En) => "height",
        (Dimension::Width, Lang::En) => "width",
        (Dimension::Length, Lang::En) => "length",
        (Dimension::GrossMass, Lang::En) => "gross mass",
        (Dimension::Height, Lang::Zh) => "高度",
        (Dimension::Width, Lang::Zh) => "宽度",
        (Dimension::Length, Lang::Zh) => "长度",
        (Dimension::GrossMass, Lang::Zh) => "总质量",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_shortened_to_twelve_hex_characters() {
        let h = "a".repeat(64);
        assert_eq!(short_hashes(&format!("sha256:{h}+closures:sha256:{h}")), "aaaaaaaaaaaa+closures:aaaaaaaaaaaa");
        assert_eq!(short_hashes("sha256:abc and text"), "sha256:abc and text");
    }

    #[test]
    fn summaries_wrap_at_spaces() {
        assert_eq!(wrap("aa bb cc dd", 5), "aa bb\ncc dd");
        assert_eq!(wrap("a looooooong word", 4), "a\nlooooooong\nword");
    }

    #[test]
    fn runs_of_item_ids_are_spanned() {
        let ids = |v: &[&str]| v.iter().filter_map(|s| ItemId::parse(s)).collect::<Vec<_>>();
        assert_eq!(id_span(&ids(&["R1", "R2", "R3", "R4", "R5"])), "R1–R5");
        assert_eq!(id_span(&ids(&["R2", "R4"])), "R2, R4");
        assert_eq!(id_span(&ids(&["R2", "R3"])), "R2, R3");
    }

    #[test]
    fn the_locale_chooses_the_language() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(Lang::from_locale(env(&[("LANG", "zh_CN.UTF-8")])), Lang::Zh);
        assert_eq!(Lang::from_locale(env(&[("LC_ALL", "en_US.UTF-8"), ("LANG", "zh_CN.UTF-8")])), Lang::En);
        assert_eq!(Lang::from_locale(env(&[])), Lang::En);
    }
}
