//! The 21 items: one function per item, in one list ([`ITEMS`]), grouped by category.
//!
//! Every item reads the validated application, the records fetched for it, the rulebook and
//! the determination, and writes a [`Findings`]; none does I/O.

// On the request path an index out of range is a panic: use `get`, iterators or patterns.
#![deny(clippy::indexing_slicing)]

mod axle_groups;
mod cargo;
mod company;
mod people;
mod route;
mod vehicle;

pub use route::{
    LoweredMeasures, MATCH_AT, NO_RESTRICTIONS, NO_ROAD_NETWORK, UNMATCHED_PARTS, closure_bars, lowered_comparisons,
    may_pass, place,
};

use chrono::{Datelike, NaiveDate};
use serde_json::Value;

use crate::application::Application;
use crate::determination::Determination;
use crate::ids::mask_id;
use crate::registry::{Lookup, References};
use crate::review::{Category, Check, Evidence, ItemId, ItemResult, Status};
use crate::routes::RouteFindings;
use crate::rulebook::Rulebook;

/// Everything an item may read.
pub struct Context<'a> {
    /// The validated application.
    pub app: &'a Application,
    /// Records fetched for it.
    pub refs: &'a References,
    /// The rulebook of its jurisdiction.
    pub rules: &'a Rulebook,
    /// Over-limit determination and class.
    pub det: &'a Determination,
    /// What the route met on the road network.
    pub route: &'a RouteFindings,
}

impl Context<'_> {
    /// The day validity is judged from: the submission date.
    pub fn submitted(&self) -> NaiveDate {
        self.app.submitted_at.date_naive()
    }
    /// Documents must stay valid through the last travel day.
    pub fn through(&self) -> NaiveDate {
        self.app.schedule.end
    }
}

/// One of the 21 items.
pub struct ItemDef {
    /// Stable id.
    pub id: ItemId,
    /// Category.
    pub category: Category,
    /// Short name.
    pub title: &'static str,
    /// The check.
    pub run: fn(&Context) -> Findings,
}

/// How an item's message begins where a registry lookup ended unavailable (an outage, not
/// a missing record); the registry-availability indicator counts reviews by it.
pub const REGISTRY_UNANSWERED: &str = "the registry could not answer";

/// The 21 items in report order, one line each.
#[rustfmt::skip]
pub const ITEMS: [ItemDef; 21] = [
    ItemDef { id: ItemId::P1, category: Category::People, title: "agent authorised", run: people::p1_agent },
    ItemDef { id: ItemId::P2, category: Category::People, title: "driver qualified", run: people::p2_driver_qualified },
    ItemDef { id: ItemId::P3, category: Category::People, title: "driver record", run: people::p3_driver_record },
    ItemDef { id: ItemId::P4, category: Category::People, title: "escort adequate", run: people::p4_escort },
    ItemDef { id: ItemId::C1, category: Category::Company, title: "business licence", run: company::c1_business_licence },
    ItemDef { id: ItemId::C2, category: Category::Company, title: "transport licence", run: company::c2_transport_licence },
    ItemDef { id: ItemId::C3, category: Category::Company, title: "credit standing", run: company::c3_credit },
    ItemDef { id: ItemId::C4, category: Category::Company, title: "liability insurance", run: company::c4_insurance },
    ItemDef { id: ItemId::V1, category: Category::Vehicle, title: "registration", run: vehicle::v1_registration },
    ItemDef { id: ItemId::V2, category: Category::Vehicle, title: "inspection", run: vehicle::v2_inspection },
    ItemDef { id: ItemId::V3, category: Category::Vehicle, title: "transport certificate", run: vehicle::v3_certificate },
    ItemDef { id: ItemId::V4, category: Category::Vehicle, title: "declared specs", run: vehicle::v4_declared_specs },
    ItemDef { id: ItemId::V5, category: Category::Vehicle, title: "axle loads", run: vehicle::v5_axle_loads },
    ItemDef { id: ItemId::R1, category: Category::Route, title: "route geometry", run: route::r1_geometry },
    ItemDef { id: ItemId::R2, category: Category::Route, title: "clearance", run: route::r2_clearance },
    ItemDef { id: ItemId::R3, category: Category::Route, title: "load capacity", run: route::r3_load_capacity },
    ItemDef { id: ItemId::R4, category: Category::Route, title: "width, length, access", run: route::r4_access },
    ItemDef { id: ItemId::R5, category: Category::Route, title: "time windows", run: route::r5_time_windows },
    ItemDef { id: ItemId::G1, category: Category::Cargo, title: "indivisible cargo", run: cargo::g1_indivisible },
    ItemDef { id: ItemId::G2, category: Category::Cargo, title: "dimensions consistent", run: cargo::g2_dimensions },
    ItemDef { id: ItemId::G3, category: Category::Cargo, title: "cargo mass plausible", run: cargo::g3_mass },
];

/// Runs every item, in [`ITEMS`] order.
pub fn run_all(ctx: &Context) -> Vec<ItemResult> {
    ITEMS.iter().map(|def| run(def, ctx)).collect()
}

/// Runs one item.
pub fn run(def: &ItemDef, ctx: &Context) -> ItemResult {
    (def.run)(ctx).finish(def)
}

/// What one item found: its comparisons, the records it used and its legal basis.
#[derive(Debug, Default)]
pub struct Findings {
    checks: Vec<(Check, String)>,
    refs: Vec<String>,
    basis: String,
    not_applicable: Option<String>,
}

/// Formats a value for a message: numbers without needless decimals.
/// A value as findings write it: numbers to three decimals at most, `none` for null.
pub fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), |f| format!("{}", (f * 1000.0).round() / 1000.0)),
        Value::Null => "none".into(),
        other => other.to_string(),
    }
}

/// A value a comparison reads: a place on a number line, and how the evidence shows it.
pub trait Measure: Copy {
    /// Its place on the line the comparison is made on.
    fn position(self) -> f64;
    /// The value as the evidence shows it.
    fn json(self) -> Value;
}

impl Measure for f64 {
    fn position(self) -> f64 {
        self
    }
    fn json(self) -> Value {
        self.into()
    }
}

impl Measure for u32 {
    fn position(self) -> f64 {
        f64::from(self)
    }
    fn json(self) -> Value {
        self.into()
    }
}

impl Measure for i64 {
    fn position(self) -> f64 {
        // Day counts: far inside the integers an f64 holds exactly.
        self as f64
    }
    fn json(self) -> Value {
        self.into()
    }
}

impl Measure for NaiveDate {
    fn position(self) -> f64 {
        f64::from(self.num_days_from_ce())
    }
    fn json(self) -> Value {
        self.to_string().into()
    }
}

/// When a document expires; none means it does not, which is later than any date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry(pub Option<NaiveDate>);

impl Measure for Expiry {
    fn position(self) -> f64 {
        self.0.map_or(f64::INFINITY, Measure::position)
    }
    fn json(self) -> Value {
        self.0.map_or(Value::Null, Measure::json)
    }
}

/// Where an observed value must lie to pass, as the evidence records it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound<T> {
    /// At most the limit (plus the slack).
    AtMost(T),
    /// At least the limit (less the slack).
    AtLeast(T),
    /// Within the slack of the target either way; with no slack, equal to it.
    Near(T),
    /// From the low to the high end, both included.
    Between(T, T),
}

impl<T: Measure> Bound<T> {
    /// Whether `observed` passes, `slack` allowed beyond the limit. A value that is not a
    /// number passes nothing.
    pub fn admits(self, observed: T, slack: f64) -> bool {
        let o = observed.position();
        match self {
            Bound::AtMost(limit) => o <= limit.position() + slack,
            Bound::AtLeast(limit) => o + slack >= limit.position(),
            Bound::Near(target) => (o - target.position()).abs() <= slack,
            Bound::Between(low, high) => low.position() <= o && o <= high.position(),
        }
    }

    /// The limit as the evidence shows it: a range as `[low, high]`.
    fn json(self) -> Value {
        match self {
            Bound::AtMost(limit) | Bound::AtLeast(limit) | Bound::Near(limit) => limit.json(),
            Bound::Between(low, high) => Value::Array(vec![low.json(), high.json()]),
        }
    }
}

/// One check being recorded: what it reads, where and in which unit, given up front; then
/// how it ends ([`Probe::compare`], [`Probe::fact`], ...), which records it.
#[must_use = "a check is recorded only when it ends"]
pub struct Probe<'f> {
    findings: &'f mut Findings,
    what: String,
    location: Option<String>,
    unit: Option<&'static str>,
    slack: f64,
    decimals: Option<i32>,
}

impl Probe<'_> {
    /// The application field the observed value comes from, as a JSON Pointer.
    pub fn at(mut self, pointer: impl Into<String>) -> Self {
        self.location = Some(pointer.into());
        self
    }

    /// The unit of the observed value and the limit.
    pub fn unit(mut self, unit: &'static str) -> Self {
        self.unit = Some(unit);
        self
    }

    /// How far beyond the limit still passes (declared against registered values).
    pub fn slack(mut self, slack: f64) -> Self {
        self.slack = slack;
        self
    }

    /// Shows the observed value rounded to `decimals` places; the status reads it unrounded.
    pub fn rounded(mut self, decimals: i32) -> Self {
        self.decimals = Some(decimals);
        self
    }

    fn record(self, observed: Value, limit: Option<Value>, status: Status, message: String) {
        let check = Check {
            what: self.what,
            observed,
            limit,
            unit: self.unit.map(str::to_string),
            status,
            location: self.location,
        };
        self.findings.checks.push((check, message));
    }

    /// Compares the observed value with its bound: the status follows from the two and the
    /// slack; `message(passes)` says what was found.
    pub fn compare<T: Measure>(self, observed: T, bound: Bound<T>, message: impl FnOnce(bool) -> String) {
        let passes = bound.admits(observed, self.slack);
        let shown = match self.decimals {
            Some(d) => {
                let scale = 10f64.powi(d);
                Value::from((observed.position() * scale).round() / scale)
            }
            None => observed.json(),
        };
        self.record(shown, Some(bound.json()), status(passes), message(passes));
    }

    /// A value that must not exceed its limit, with the message every such check has.
    pub fn at_most(self, observed: f64, limit: f64) {
        let (what, unit) = (self.what.clone(), self.unit.unwrap_or_default());
        self.compare(observed, Bound::AtMost(limit), |passes| {
            format!(
                "{what} `{}` {unit} {} the limit `{}` {unit}",
                show(&observed.into()),
                if passes { "is within" } else { "exceeds" },
                show(&limit.into())
            )
        });
    }

    /// Text that must be the text expected.
    pub fn same(self, observed: &str, expected: &str, message: impl FnOnce(bool) -> String) {
        let passes = observed == expected;
        self.record(observed.into(), Some(expected.into()), status(passes), message(passes));
    }

    /// Declared text that must be the text expected once spaces around it are removed; it is
    /// shown as declared.
    pub fn same_trimmed(self, observed: &str, expected: &str, message: impl FnOnce(bool) -> String) {
        let passes = observed.trim() == expected;
        self.record(observed.into(), Some(expected.into()), status(passes), message(passes));
    }

    /// An ID number that must be the one expected: compared whole, shown masked.
    pub fn same_id(self, observed: &str, expected: &str, message: impl FnOnce(bool) -> String) {
        let passes = observed == expected;
        self.record(mask_id(observed).into(), Some(mask_id(expected).into()), status(passes), message(passes));
    }

    /// Text that must be one of `allowed`; the limit shows them joined with `or`.
    pub fn one_of(self, observed: &str, allowed: &[String], message: impl FnOnce(bool) -> String) {
        let passes = allowed.iter().any(|a| a == observed);
        self.record(observed.into(), Some(allowed.join(" or ").into()), status(passes), message(passes));
    }

    /// No ban in force on `from`: passes when there is none, or it ended before that day.
    pub fn not_banned(self, until: Option<NaiveDate>, from: NaiveDate, message: impl FnOnce(bool) -> String) {
        let passes = until.is_none_or(|b| b < from);
        let observed = until.map_or(Value::Null, Measure::json);
        self.record(observed, Some(format!("before {from}").into()), status(passes), message(passes));
    }

    /// A fact that is not a comparison: it passes or fails as the caller found, with no limit.
    pub fn fact(self, observed: impl Into<Value>, passes: bool, message: String) {
        self.record(observed.into(), None, status(passes), message);
    }

    /// Something that could not be checked.
    pub fn unverified(self, message: String) {
        self.record(Value::Null, None, Status::Unverified, message);
    }
}

impl Findings {
    /// Starts an item's findings with its legal basis.
    pub fn new(basis: impl Into<String>) -> Findings {
        Findings { basis: basis.into(), ..Findings::default() }
    }

    /// The item does not apply, and why.
    pub fn not_applicable(mut self, why: impl Into<String>) -> Findings {
        self.not_applicable = Some(why.into());
        self
    }

    /// Records a reference record or restriction used.
    pub fn refer(&mut self, key: impl Into<String>) {
        let key = key.into();
        if !self.refs.contains(&key) {
            self.refs.push(key);
        }
    }

    /// Starts a check of `what`; it is recorded when it ends.
    pub fn check(&mut self, what: impl Into<String>) -> Probe<'_> {
        Probe { findings: self, what: what.into(), location: None, unit: None, slack: 0.0, decimals: None }
    }

    /// A value that must not exceed its limit, in `unit`, read from no single field.
    pub fn at_most(&mut self, what: &str, observed: f64, limit: f64, unit: &'static str) {
        self.check(what).unit(unit).at_most(observed, limit);
    }

    /// A fact that passes or fails as the caller found, with no limit.
    pub fn fact(&mut self, what: &str, observed: impl Into<Value>, passes: bool, message: String) {
        self.check(what).fact(observed, passes, message);
    }

    /// Something that could not be checked.
    pub fn unverified(&mut self, what: &str, message: String) {
        self.check(what).unverified(message);
    }

    /// A document valid through `needed` (`None` expiry = does not expire).
    pub fn valid_through(&mut self, what: &str, expires: Option<NaiveDate>, needed: NaiveDate) {
        let bound = Bound::AtLeast(Expiry(Some(needed)));
        self.check(what).compare(Expiry(expires), bound, |passes| match expires {
            None => format!("{what} does not expire"),
            Some(e) if passes => format!("{what} is valid until `{e}`, through `{needed}`"),
            Some(e) => format!("{what} expires `{e}`, before `{needed}`"),
        });
    }

    /// Unwraps a lookup, recording the key as a reference, or records why it cannot be used.
    /// `key` is shown as given: a person's ID number comes masked (`ids::mask_id`).
    pub fn record<'r, T>(&mut self, what: &str, key: &str, lookup: &'r Lookup<T>) -> Option<&'r T> {
        match lookup {
            Lookup::Found(r) => {
                self.refer(key);
                Some(r)
            }
            Lookup::Missing => {
                self.unverified(what, format!("no {what} record for `{key}` in the registry"));
                None
            }
            Lookup::Unavailable(why) => {
                self.unverified(what, format!("{REGISTRY_UNANSWERED} for {what} `{key}`: {why}"));
                None
            }
        }
    }

    fn finish(self, def: &ItemDef) -> ItemResult {
        let worst = self.checks.iter().map(|(c, _)| c.status).max();
        let (status, message) = match (&self.not_applicable, worst) {
            (Some(why), _) => (Status::NotApplicable, why.clone()),
            // INVARIANT: every item records at least one check or says why it does not apply.
            (None, None) => (Status::Unverified, "nothing could be checked".to_string()),
            (None, Some(worst)) => {
                let quoted: Vec<&str> =
                    self.checks.iter().filter(|(c, _)| c.status == worst).map(|(_, m)| m.as_str()).collect();
                (worst, quote(&quoted))
            }
        };
        let (checks, omitted_checks) = keep_worst(self.checks.into_iter().map(|(c, _)| c).collect());
        let mut refs = self.refs;
        let omitted_refs = refs.len().saturating_sub(MAX_KEPT);
        refs.truncate(MAX_KEPT);
        ItemResult {
            id: def.id,
            category: def.category,
            title: def.title.into(),
            status,
            message,
            evidence: Evidence { checks, omitted_checks, omitted_refs },
            refs,
            basis: self.basis,
        }
    }
}

/// Comparisons kept as evidence, and records kept as refs, per item; messages quote fewer.
/// A route drawn to zigzag across a city met thousands of restrictions, and one line for
/// each made a 1.5 MB answer that helps no reviewer.
const MAX_KEPT: usize = 50;
const MAX_QUOTED: usize = 10;

/// The messages joined, at most [`MAX_QUOTED`] of them, then how many more there are.
fn quote(messages: &[&str]) -> String {
    let mut text = messages.iter().take(MAX_QUOTED).copied().collect::<Vec<_>>().join("; ");
    if messages.len() > MAX_QUOTED {
        text.push_str(&format!("; and {} more like these", messages.len() - MAX_QUOTED));
    }
    text
}

/// At most [`MAX_KEPT`] checks, the worst first when some must go, and how many went.
fn keep_worst(mut checks: Vec<Check>) -> (Vec<Check>, usize) {
    let omitted = checks.len().saturating_sub(MAX_KEPT);
    if omitted > 0 {
        // Stable: within a status the order they were made in stays.
        checks.sort_by_key(|c| std::cmp::Reverse(c.status));
        checks.truncate(MAX_KEPT);
    }
    (checks, omitted)
}

/// The serde name of an enum value (`scrapped`, `escort_car`), as users see it in JSON.
pub fn word(v: impl serde::Serialize) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn status(ok: bool) -> Status {
    if ok { Status::Pass } else { Status::Fail }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The one check `record` makes, and its message.
    fn only(record: impl FnOnce(&mut Findings)) -> (Check, String) {
        let mut f = Findings::new("basis");
        record(&mut f);
        assert_eq!(f.checks.len(), 1);
        f.checks.remove(0)
    }

    proptest! {
        /// Whatever the values, direction and slack, a comparison's status is what its
        /// observed value and limit say, its message agrees, and its pointer is the one given.
        #[test]
        fn a_comparisons_status_agrees_with_its_evidence(
            observed in -1e6f64..1e6,
            limit in -1e6f64..1e6,
            width in 0f64..1e3,
            slack in prop_oneof![Just(0.0), 0f64..10.0],
            direction in 0u8..4,
        ) {
            let bound = match direction {
                0 => Bound::AtMost(limit),
                1 => Bound::AtLeast(limit),
                2 => Bound::Near(limit),
                _ => Bound::Between(limit, limit + width),
            };
            let (check, message) = only(|f| {
                f.check("x").at("/loaded/width_m").unit("m").slack(slack).compare(observed, bound, |p| p.to_string())
            });
            let number = |v: &Value| v.as_f64().unwrap();
            let (seen, wanted) = (number(&check.observed), check.limit.clone().unwrap());
            let passes = match (direction, &wanted) {
                (0, l) => seen <= number(l) + slack,
                (1, l) => seen + slack >= number(l),
                (2, l) => (seen - number(l)).abs() <= slack,
                (_, Value::Array(range)) => number(&range[0]) <= seen && seen <= number(&range[1]),
                _ => unreachable!("a range is recorded as [low, high]"),
            };
            prop_assert_eq!(check.status, if passes { Status::Pass } else { Status::Fail });
            prop_assert_eq!(message, passes.to_string());
            prop_assert_eq!(check.location.as_deref(), Some("/loaded/width_m"));
            prop_assert_eq!(check.unit.as_deref(), Some("m"));
        }

        /// The message of a limit says `within` exactly when the check passes.
        #[test]
        fn an_at_most_message_agrees_with_its_status(observed in 0f64..100.0, limit in 0f64..100.0) {
            let (check, message) = only(|f| f.at_most("loaded width", observed, limit, "m"));
            prop_assert_eq!(check.status == Status::Pass, observed <= limit);
            prop_assert_eq!(message.contains("is within"), observed <= limit);
            prop_assert_eq!(message.contains("exceeds"), observed > limit);
        }
    }

    #[test]
    fn dates_ids_and_bans_compute_their_own_status() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let (never, _) = only(|f| f.valid_through("licence", None, day(20)));
        assert_eq!((never.status, never.observed, never.limit), (Status::Pass, Value::Null, Some("2026-11-20".into())));
        let (on_the_day, _) = only(|f| f.valid_through("licence", Some(day(20)), day(20)));
        assert_eq!(on_the_day.status, Status::Pass);
        let (lapsed, message) = only(|f| f.valid_through("licence", Some(day(19)), day(20)));
        assert_eq!(
            (lapsed.status, message.as_str()),
            (Status::Fail, "licence expires `2026-11-19`, before `2026-11-20`")
        );
        let (ended, _) = only(|f| f.check("ban").not_banned(Some(day(19)), day(20), |_| String::new()));
        assert_eq!((ended.status, ended.limit), (Status::Pass, Some("before 2026-11-20".into())));
        let (banned, _) = only(|f| f.check("ban").not_banned(Some(day(20)), day(20), |_| String::new()));
        assert_eq!(banned.status, Status::Fail);
        // Two ID numbers that mask alike are still different people.
        let (other, _) =
            only(|f| f.check("agent").same_id("370802199001011234", "370802199001019934", |_| String::new()));
        assert_eq!((other.status, &other.observed), (Status::Fail, &other.limit.clone().unwrap()));
    }

    #[test]
    fn item_ids_are_the_items_in_order_and_written_as_in_json() {
        assert_eq!(ITEMS.map(|d| d.id), ItemId::ALL);
        for id in ItemId::ALL {
            assert_eq!(serde_json::to_value(id).unwrap(), id.as_str());
            assert_eq!(ItemId::parse(id.as_str()), Some(id));
        }
        assert_eq!(ItemId::parse("P5"), None);
    }

    #[test]
    fn an_item_with_thousands_of_findings_keeps_the_worst_and_counts_the_rest() {
        let mut f = Findings::new("basis");
        for i in 0..3000 {
            f.at_most(&format!("limit {i}"), if i % 3 == 0 { 2.0 } else { 1.0 }, 1.5, "m");
            f.refer(format!("osm:way/{i}"));
        }
        let item = f.finish(&ITEMS[14]);
        assert_eq!(item.status, Status::Fail);
        assert_eq!(item.message.matches("exceeds").count(), MAX_QUOTED);
        assert!(item.message.ends_with("; and 990 more like these"), "{}", item.message);
        assert_eq!(item.evidence.checks.len(), MAX_KEPT);
        assert!(item.evidence.checks.iter().all(|c| c.status == Status::Fail));
        assert_eq!(item.evidence.checks[1].what, "limit 3", "the order within a status stays");
        assert_eq!(item.evidence.omitted_checks, 3000 - MAX_KEPT);
        assert_eq!((item.refs.len(), item.evidence.omitted_refs), (MAX_KEPT, 3000 - MAX_KEPT));
    }
}
