//! R1-R5: the route's geometry and what it meets on the road network.
//!
//! The matcher reports every restriction the vehicle actually meets (travelled ways, passed
//! nodes, structures overhead); these items compare them with the loaded vehicle.

use chrono::{DateTime, Datelike, FixedOffset};

use super::{Bound, Context, Findings};
use crate::application::Application;
use crate::routes::access::{AccessClass, classify_tag};
use crate::routes::{LoweredLimits, NetworkFindings, RestrictionHit, RestrictionKind};

const NO_NETWORK: &str = "no road network is loaded, so restrictions along the route cannot be checked";

/// What the route checks that fail only for want of road data are called; the report groups
/// them into one reason by these names.
pub const NO_ROAD_NETWORK: &str = "road network";
/// See [`NO_ROAD_NETWORK`].
pub const NO_RESTRICTIONS: &str = "restrictions along the route";
/// See [`NO_ROAD_NETWORK`].
pub const UNMATCHED_PARTS: &str = "unmatched parts of the route";
/// The start of the name of a check for a place that could not be matched, followed by the
/// place: `[lon, lat], km n`.
pub const MATCH_AT: &str = "match at ";

/// R1: valid line without gaps, matched onto the covered road network with confidence.
pub fn r1_geometry(ctx: &Context) -> Findings {
    let r = &ctx.rules.route;
    let mut f = Findings::new(format!(
        "{}: vertices at most {} apart; matched onto the road network (HMM map matching)",
        r.basis, r.max_vertex_gap
    ));
    let route = ctx.route;
    f.check("route length").at("/route/geometry/coordinates").fact(
        (route.length_m / 1000.0 * 1000.0).round() / 1000.0,
        true,
        format!(
            "the declared route is `{:.1}` km long with {} vertices",
            route.length_m / 1000.0,
            ctx.app.route.geometry.coordinates.len()
        ),
    );
    for gap in &route.gaps {
        let [lon, lat] = gap.at;
        f.check(format!("gap after vertex {} at [{lon:.5}, {lat:.5}], km {:.2}", gap.vertex, gap.km))
            .at(format!("/route/geometry/coordinates/{}", gap.vertex))
            .unit("m")
            .at_most(gap.length_m.round(), r.max_vertex_gap.si());
    }
    let Some(net) = &route.network else {
        f.unverified(NO_ROAD_NETWORK, format!("{NO_NETWORK}: the route cannot be matched"));
        return f;
    };
    f.refer(net.version.clone());
    let m = &net.matched;
    for p in &m.problems {
        f.unverified(
            &format!("{MATCH_AT}[{:.5}, {:.5}], km {:.2}", p.lon, p.lat, p.km),
            format!("{} ([{:.5}, {:.5}])", p.message, p.lon, p.lat),
        );
    }
    if m.problems.is_empty() {
        f.fact(
            "match confidence",
            (m.confidence * 1000.0).round() / 1000.0,
            true,
            format!(
                "matched onto {} ways ({:.1} km) with confidence `{:.2}`",
                m.ways.len(),
                m.length_m / 1000.0,
                m.confidence
            ),
        );
    }
    f
}

/// The match, or why restrictions cannot be judged: no network, or parts not matched (their
/// restrictions are unknown, so nothing there can pass).
fn matched<'a>(ctx: &'a Context, f: &mut Findings) -> Option<&'a NetworkFindings> {
    let Some(net) = &ctx.route.network else {
        f.unverified(NO_RESTRICTIONS, NO_NETWORK.to_string());
        return None;
    };
    f.refer(net.version.clone());
    if let Some(first) = net.matched.problems.first() {
        f.unverified(
            UNMATCHED_PARTS,
            format!(
                "{} part(s) of the route could not be matched (first at km {:.2}: {}), so restrictions there are unknown",
                net.matched.problems.len(),
                first.km,
                first.message
            ),
        );
    }
    Some(net)
}

/// How a check names the restriction it judged; the workbench's route map finds a marker's
/// check in the review by it.
pub fn place(h: &RestrictionHit) -> String {
    format!("`{}={}` on {} at [{:.5}, {:.5}], km {:.2}", h.tag, h.raw, h.source, h.lon, h.lat, h.km)
}

/// What one restriction means for the loaded vehicle.
enum Outcome {
    /// A numeric limit: passes when `observed <= limit`.
    Limit { what: &'static str, observed: f64, limit: f64, unit: &'static str },
    /// A limit whose value could not be read.
    Unreadable { what: &'static str },
    /// A structure of unknown clearance or rating, passed within the legal dimension.
    WithinLegal { what: &'static str, observed: f64, legal: f64, unit: &'static str, message: String },
    /// The vehicle may not pass.
    Barred { raw: String, message: String },
    /// Could not be proven either way: (what, message).
    Unknown { what: &'static str, message: String },
}

impl Outcome {
    /// Whether the vehicle provably may pass.
    fn passes(&self) -> bool {
        match self {
            Outcome::Limit { observed, limit, .. } => observed <= limit,
            Outcome::WithinLegal { .. } => true,
            Outcome::Unreadable { .. } | Outcome::Barred { .. } | Outcome::Unknown { .. } => false,
        }
    }

    /// Records the outcome of a restriction the matched route meets.
    fn record(self, f: &mut Findings, h: &RestrictionHit) {
        f.refer(h.source.clone());
        match self {
            Outcome::Limit { what, observed, limit, unit } => {
                f.at_most(&format!("{what} at {}", place(h)), observed, limit, unit)
            }
            Outcome::Unreadable { what } => {
                f.unverified(what, format!("the {what} limit {} could not be read", place(h)))
            }
            Outcome::WithinLegal { what, observed, legal, unit, message } => f
                .check(format!("{what} at {}", place(h)))
                .unit(unit)
                .compare(observed, Bound::AtMost(legal), |_| message),
            Outcome::Barred { raw, message } => f.fact("access", raw.as_str(), false, message),
            Outcome::Unknown { what, message } => f.unverified(what, message),
        }
    }

    /// What keeps the vehicle from passing, in words, for a reading the route may use.
    fn describe(&self, h: &RestrictionHit) -> String {
        match self {
            Outcome::Limit { what, observed, limit, unit } => {
                // As findings show numbers: a height plus its margin reads 4.4, not 4.3999999999999995.
                let [observed, limit] = [*observed, *limit].map(|v| super::show(&serde_json::Value::from(v)));
                format!("{what} `{observed}` {unit} exceeds the limit `{limit}` {unit} ({})", place(h))
            }
            Outcome::Unreadable { what } => format!("the {what} limit {} could not be read", place(h)),
            Outcome::WithinLegal { message, .. }
            | Outcome::Barred { message, .. }
            | Outcome::Unknown { message, .. } => message.clone(),
        }
    }
}

/// Which restriction kinds an item judges.
const HEIGHT: &[RestrictionKind] = &[RestrictionKind::MaxHeight, RestrictionKind::ClearanceUnknown];
const WEIGHT: &[RestrictionKind] =
    &[RestrictionKind::MaxWeight, RestrictionKind::MaxAxleLoad, RestrictionKind::RatingUnknown];
const SIZE_AND_ACCESS: &[RestrictionKind] =
    &[RestrictionKind::MaxWidth, RestrictionKind::MaxLength, RestrictionKind::Access];

/// What restriction `h` means for the loaded vehicle of `ctx`.
fn assess(ctx: &Context, h: &RestrictionHit) -> Outcome {
    let l = &ctx.app.loaded;
    let limit = |what, observed, unit| match h.limit {
        Some(limit) => Outcome::Limit { what, observed, limit, unit },
        None => Outcome::Unreadable { what },
    };
    match h.kind {
        RestrictionKind::MaxHeight => {
            limit("loaded height + margin", l.height_m + ctx.rules.route.height_margin.si(), "m")
        }
        RestrictionKind::MaxWeight => limit("gross mass", l.gross_mass_kg, "kg"),
        RestrictionKind::MaxAxleLoad => limit("heaviest axle", heaviest_axle(ctx.app), "kg"),
        RestrictionKind::MaxWidth => limit("loaded width", l.width_m, "m"),
        RestrictionKind::MaxLength => limit("loaded length", l.length_m, "m"),
        RestrictionKind::ClearanceUnknown => {
            let legal = ctx.rules.overlimit.max_height.si();
            unknown_structure("unknown clearance", l.height_m, legal, "m", |within| {
                if within {
                    format!("a structure of unknown clearance ({}) is passed at the legal height", place(h))
                } else {
                    format!(
                        "a structure of unknown clearance ({}) is passed `{}` m high, above the legal `{legal}` m",
                        place(h),
                        l.height_m
                    )
                }
            })
        }
        RestrictionKind::RatingUnknown => {
            let legal = ctx.det.legal_gross_kg;
            unknown_structure("unrated bridge", l.gross_mass_kg, legal, "kg", |within| {
                if within {
                    format!("an unrated bridge ({}) is crossed within the legal mass", place(h))
                } else {
                    format!(
                        "a bridge without a weight rating ({}) is crossed at `{}` kg, above the legal `{legal}` kg",
                        place(h),
                        l.gross_mass_kg
                    )
                }
            })
        }
        // Destination / delivery / private / time-conditional access may be legitimate
        // for this trip, and a value oscar cannot read may be anything: a person decides.
        RestrictionKind::Access => match classify_tag(h.tag.as_str(), &h.raw) {
            AccessClass::Barred => {
                Outcome::Barred { raw: h.raw.clone(), message: format!("heavy vehicles are barred: {}", place(h)) }
            }
            AccessClass::Person => Outcome::Unknown {
                what: "conditional access",
                message: format!("heavy-vehicle access is conditional: {}", place(h)),
            },
            // A stored restriction never grants; if one did, it is not proven to.
            AccessClass::Unreadable | AccessClass::Granted => Outcome::Unknown {
                what: "unreadable access",
                message: format!("heavy-vehicle access cannot be read, so a person decides: {}", place(h)),
            },
        },
    }
}

/// A structure whose clearance or rating is unknown: passed within the legal dimension
/// (a public road carries a vehicle of legal size), else unverified; `message(within)`
/// says which.
fn unknown_structure(
    what: &'static str,
    observed: f64,
    legal: f64,
    unit: &'static str,
    message: impl FnOnce(bool) -> String,
) -> Outcome {
    if observed <= legal {
        Outcome::WithinLegal { what, observed, legal, unit, message: message(true) }
    } else {
        Outcome::Unknown { what, message: message(false) }
    }
}

fn heaviest_axle(app: &Application) -> f64 {
    app.vehicle.axles.iter().map(|a| a.load_kg).fold(0.0, f64::max)
}

/// Judges every restriction of `kinds` the matched route meets, and every one on a road
/// the route may have used instead: those the vehicle would not provably pass are
/// unverified, naming both readings.
fn judge(ctx: &Context, f: &mut Findings, kinds: &[RestrictionKind], what: &str) {
    let Some(net) = matched(ctx, f) else { return };
    let m = &net.matched;
    for h in m.hits.iter().filter(|h| kinds.contains(&h.kind)) {
        assess(ctx, h).record(f, h);
    }
    for p in m.possible.iter().filter(|p| kinds.contains(&p.hit.kind)) {
        let outcome = assess(ctx, &p.hit);
        if outcome.passes() {
            continue;
        }
        f.refer(p.hit.source.clone());
        let instead: Vec<String> = p.instead_of.iter().map(|id| format!("osm:way/{id}")).collect();
        f.unverified(
            "another reading of the route",
            format!(
                "between km {:.2} and {:.2} the drawn route may use osm:way/{} instead of the matched {}, and there {}; a person decides which reading is right",
                p.from_km,
                p.to_km,
                p.via_way_id,
                if instead.is_empty() { "path".to_string() } else { instead.join(", ") },
                outcome.describe(&p.hit)
            ),
        );
    }
    if !m.hits.iter().any(|h| kinds.contains(&h.kind)) {
        f.fact(
            what,
            0,
            true,
            format!("no {what} along the {:.1} km matched route ({} ways)", m.length_m / 1000.0, m.ways.len()),
        );
    }
}

/// R2: loaded height plus margin under every clearance met; unknown clearances overhead
/// are unverified for a load above the legal height.
pub fn r2_clearance(ctx: &Context) -> Findings {
    let margin = &ctx.rules.route.height_margin;
    let mut f = Findings::new(format!(
        "posted and physical clearances (OSM maxheight) with a `{margin}` margin ({}); {}",
        ctx.rules.route.basis, ctx.rules.overlimit.basis
    ));
    judge(ctx, &mut f, HEIGHT, "height restriction");
    f
}

/// R3: gross mass and axle loads under every weight limit met; unrated bridges are
/// unverified above the legal mass.
pub fn r3_load_capacity(ctx: &Context) -> Findings {
    let mut f = Findings::new(
        "posted weight and axle-load limits (OSM maxweight, maxweightrating, maxaxleload); bridges without a rating"
            .to_string(),
    );
    judge(ctx, &mut f, WEIGHT, "weight restriction");
    f
}

/// R4: width and length limits and heavy-vehicle access met.
pub fn r4_access(ctx: &Context) -> Findings {
    let mut f = Findings::new(
        "posted width and length limits and heavy-goods-vehicle access (OSM maxwidth, maxlength, and the access hierarchy access, vehicle, motor_vehicle, goods, hgv; barriers)"
            .to_string(),
    );
    judge(ctx, &mut f, SIZE_AND_ACCESS, "width, length or access restriction");
    f
}

/// R5: schedule inside the allowed travel days; no closure on the route active during it,
/// and the vehicle within every lowered limit active during it.
pub fn r5_time_windows(ctx: &Context) -> Findings {
    let tw = &ctx.rules.time_windows;
    let mut f = Findings::new(format!("{}; temporary closures", tw.basis));
    let s = &ctx.app.schedule;
    let forbidden: Vec<String> = s
        .start
        .iter_days()
        .take_while(|d| *d <= s.end)
        .filter(|d| !tw.allowed_weekdays.iter().any(|w| w == &d.weekday().to_string()))
        .map(|d| format!("{d} ({})", d.weekday()))
        .collect();
    // A schedule is a window: travel must be possible on some day, and days outside the
    // allowed ones are simply not travel days.
    let travel_days = (s.end - s.start).num_days() + 1 - forbidden.len() as i64;
    f.check("allowed travel days in the schedule").at("/schedule").unit("days").compare(
        travel_days,
        Bound::AtLeast(1),
        |_| {
            if forbidden.is_empty() {
                format!("every day from `{}` to `{}` is an allowed travel day", s.start, s.end)
            } else {
                format!("{travel_days} allowed travel day(s); no travel on {}", forbidden.join(", "))
            }
        },
    );
    let Some(net) = matched(ctx, &mut f) else { return f };
    let margin = ctx.rules.route.height_margin.si();
    for c in &net.closures {
        f.refer(format!("closure:{}", c.id));
        let active = active_during(ctx, c.valid_from, c.valid_until);
        let place = format!("[{:.5}, {:.5}], km {:.2}", c.lon, c.lat, c.km);
        match (&c.limits, active) {
            (Some(limits), true) => {
                for (what, observed, limit, unit) in lowered_comparisons(ctx.app, margin, limits) {
                    f.at_most(
                        &format!(
                            "{what} under `{}` ({}) at {place}, valid {} to {}",
                            c.id, c.reason, c.valid_from, c.valid_until
                        ),
                        observed,
                        limit,
                        unit,
                    );
                }
            }
            _ => f.fact(
                &format!("closure `{}`", c.id),
                format!("{} .. {}", c.valid_from, c.valid_until),
                !active,
                format!(
                    "{} `{}` ({}) at {place}, valid {} to {}: {}",
                    if c.limits.is_some() { "lowered limits" } else { "closure" },
                    c.id,
                    c.reason,
                    c.valid_from,
                    c.valid_until,
                    if active { "active during the schedule" } else { "not active during the schedule" }
                ),
            ),
        }
    }
    f
}

/// Whether a closure valid from `from` to `until` is in force on some day of the schedule.
fn active_during(ctx: &Context, from: DateTime<FixedOffset>, until: DateTime<FixedOffset>) -> bool {
    from.date_naive() <= ctx.app.schedule.end && until.date_naive() >= ctx.app.schedule.start
}

/// Whether a closure (`limits` `None`) or lowered limits valid from `from` to `until` keep
/// the loaded vehicle of `ctx` off its road during the schedule: what R5 fails.
pub fn closure_bars(
    ctx: &Context,
    from: DateTime<FixedOffset>,
    until: DateTime<FixedOffset>,
    limits: Option<&LoweredLimits>,
) -> bool {
    let margin = ctx.rules.route.height_margin.si();
    active_during(ctx, from, until)
        && limits.is_none_or(|l| {
            lowered_comparisons(ctx.app, margin, l).iter().any(|(_, observed, limit, _)| observed > limit)
        })
}

/// Whether R2-R4 pass the loaded vehicle of `ctx` through restriction `h`: what a compliant
/// alternative route may meet.
pub fn may_pass(ctx: &Context, h: &RestrictionHit) -> bool {
    assess(ctx, h).passes()
}

/// The loaded vehicle against each lowered limit that is set: what, observed, limit, unit.
/// Height carries the rulebook's clearance margin, as for a posted clearance (R2).
pub fn lowered_comparisons(
    app: &Application,
    height_margin_m: f64,
    limits: &LoweredLimits,
) -> Vec<(&'static str, f64, f64, &'static str)> {
    LoweredMeasures::of(app, height_margin_m).against(limits)
}

/// What lowered limits are compared with: the loaded height plus the rulebook's clearance
/// margin, the loaded width and length, the gross mass and the heaviest axle, in the order
/// of [`LoweredLimits::named`]; kept apart from the application so that an approved permit
/// can be checked against a new limit without it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoweredMeasures([f64; 5]);

impl LoweredMeasures {
    /// The measures of `app`'s loaded vehicle, with `height_margin_m` on its height.
    pub fn of(app: &Application, height_margin_m: f64) -> LoweredMeasures {
        let l = &app.loaded;
        LoweredMeasures([l.height_m + height_margin_m, l.width_m, l.length_m, l.gross_mass_kg, heaviest_axle(app)])
    }

    /// Each limit that is set against its measure: what, observed, limit, unit.
    pub fn against(&self, limits: &LoweredLimits) -> Vec<(&'static str, f64, f64, &'static str)> {
        let [height, width, length, gross, axle] = self.0;
        [
            (limits.max_height_m, "loaded height + margin", height, "m"),
            (limits.max_width_m, "loaded width", width, "m"),
            (limits.max_length_m, "loaded length", length, "m"),
            (limits.max_weight_kg, "gross mass", gross, "kg"),
            (limits.max_axle_load_kg, "heaviest axle", axle, "kg"),
        ]
        .into_iter()
        .filter_map(|(limit, what, observed, unit)| limit.map(|limit| (what, observed, limit, unit)))
        .collect()
    }
}
