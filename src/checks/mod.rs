//! The 21 items: one function per item, in one list ([`ITEMS`]), grouped by category.
//!
//! Every item reads the validated application, the records fetched for it, the rulebook and
//! the determination, and writes a [`Findings`]; none does I/O.

mod axle_groups;
mod cargo;
mod company;
mod people;
mod route;
mod vehicle;

pub use route::{closure_bars, lowered_comparisons, may_pass};

use chrono::NaiveDate;
use serde_json::Value;

use crate::application::Application;
use crate::determination::Determination;
use crate::registry::{Lookup, References};
use crate::review::{Category, Check, Evidence, ItemResult, Status};
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
    pub id: &'static str,
    /// Category.
    pub category: Category,
    /// Short name.
    pub title: &'static str,
    /// The check.
    pub run: fn(&Context) -> Findings,
}

/// The 21 items in report order.
pub const ITEMS: [ItemDef; 21] = [
    ItemDef { id: "P1", category: Category::People, title: "agent authorised", run: people::p1_agent },
    ItemDef { id: "P2", category: Category::People, title: "driver qualified", run: people::p2_driver_qualified },
    ItemDef { id: "P3", category: Category::People, title: "driver record", run: people::p3_driver_record },
    ItemDef { id: "P4", category: Category::People, title: "escort adequate", run: people::p4_escort },
    ItemDef { id: "C1", category: Category::Company, title: "business licence", run: company::c1_business_licence },
    ItemDef { id: "C2", category: Category::Company, title: "transport licence", run: company::c2_transport_licence },
    ItemDef { id: "C3", category: Category::Company, title: "credit standing", run: company::c3_credit },
    ItemDef { id: "C4", category: Category::Company, title: "liability insurance", run: company::c4_insurance },
    ItemDef { id: "V1", category: Category::Vehicle, title: "registration", run: vehicle::v1_registration },
    ItemDef { id: "V2", category: Category::Vehicle, title: "inspection", run: vehicle::v2_inspection },
    ItemDef { id: "V3", category: Category::Vehicle, title: "transport certificate", run: vehicle::v3_certificate },
    ItemDef { id: "V4", category: Category::Vehicle, title: "declared specs", run: vehicle::v4_declared_specs },
    ItemDef { id: "V5", category: Category::Vehicle, title: "axle loads", run: vehicle::v5_axle_loads },
    ItemDef { id: "R1", category: Category::Route, title: "route geometry", run: route::r1_geometry },
    ItemDef { id: "R2", category: Category::Route, title: "clearance", run: route::r2_clearance },
    ItemDef { id: "R3", category: Category::Route, title: "load capacity", run: route::r3_load_capacity },
    ItemDef { id: "R4", category: Category::Route, title: "width, length, access", run: route::r4_access },
    ItemDef { id: "R5", category: Category::Route, title: "time windows", run: route::r5_time_windows },
    ItemDef { id: "G1", category: Category::Cargo, title: "indivisible cargo", run: cargo::g1_indivisible },
    ItemDef { id: "G2", category: Category::Cargo, title: "dimensions consistent", run: cargo::g2_dimensions },
    ItemDef { id: "G3", category: Category::Cargo, title: "cargo mass plausible", run: cargo::g3_mass },
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
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), |f| format!("{}", (f * 1000.0).round() / 1000.0)),
        Value::Null => "none".into(),
        other => other.to_string(),
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

    fn push(&mut self, check: Check, message: String) {
        self.checks.push((check, message));
    }

    /// A numeric comparison `observed <= limit` (or the given outcome), with its unit.
    pub fn at_most(&mut self, what: &str, observed: f64, limit: f64, unit: &str) {
        let ok = observed <= limit;
        let message = format!(
            "{what} `{}` {unit} {} the limit `{}` {unit}",
            show(&observed.into()),
            if ok { "is within" } else { "exceeds" },
            show(&limit.into())
        );
        self.push(
            Check {
                what: what.into(),
                observed: observed.into(),
                limit: Some(limit.into()),
                unit: Some(unit.into()),
                status: status(ok),
                location: None,
            },
            message,
        );
    }

    /// A comparison with a custom outcome and message.
    pub fn compare(
        &mut self,
        what: &str,
        observed: impl Into<Value>,
        limit: impl Into<Value>,
        unit: Option<&str>,
        ok: bool,
        message: String,
    ) {
        self.push(
            Check {
                what: what.into(),
                observed: observed.into(),
                limit: Some(limit.into()),
                unit: unit.map(str::to_string),
                status: status(ok),
                location: None,
            },
            message,
        );
    }

    /// A fact that passes or fails with no numeric limit.
    pub fn fact(&mut self, what: &str, observed: impl Into<Value>, ok: bool, message: String) {
        self.push(
            Check {
                what: what.into(),
                observed: observed.into(),
                limit: None,
                unit: None,
                status: status(ok),
                location: None,
            },
            message,
        );
    }

    /// Something that could not be checked.
    pub fn unverified(&mut self, what: &str, message: String) {
        self.push(
            Check {
                what: what.into(),
                observed: Value::Null,
                limit: None,
                unit: None,
                status: Status::Unverified,
                location: None,
            },
            message,
        );
    }

    /// Points the last check at the application field it read.
    pub fn at(&mut self, pointer: impl Into<String>) {
        if let Some((check, _)) = self.checks.last_mut() {
            check.location = Some(pointer.into());
        }
    }

    /// A document valid through `needed` (`None` expiry = does not expire).
    pub fn valid_through(&mut self, what: &str, expires: Option<NaiveDate>, needed: NaiveDate) {
        let ok = expires.is_none_or(|e| e >= needed);
        let observed = expires.map_or(Value::Null, |e| e.to_string().into());
        let message = match expires {
            None => format!("{what} does not expire"),
            Some(e) if ok => format!("{what} is valid until `{e}`, through `{needed}`"),
            Some(e) => format!("{what} expires `{e}`, before `{needed}`"),
        };
        self.compare(what, observed, needed.to_string(), None, ok, message);
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
                self.unverified(what, format!("the registry could not answer for {what} `{key}`: {why}"));
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
            id: def.id.into(),
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
    use super::*;

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
