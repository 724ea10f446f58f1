//! R1-R5: the route's geometry and what it meets on the road network.
//!
//! The matcher reports every restriction the vehicle actually meets (travelled ways, passed
//! nodes, structures overhead); these items compare them with the loaded vehicle.

use chrono::Datelike;

use super::{Context, Findings};
use crate::application::Application;
use crate::routes::{LoweredLimits, NetworkFindings, RestrictionHit, RestrictionKind};

const NO_NETWORK: &str = "no road network is loaded, so restrictions along the route cannot be checked";

/// R1: valid line without gaps, matched onto the covered road network with confidence.
pub fn r1_geometry(ctx: &Context) -> Findings {
    let r = &ctx.rules.route;
    let mut f = Findings::new(format!(
        "{}: vertices at most {} apart; matched onto the road network (HMM map matching)",
        r.basis, r.max_vertex_gap
    ));
    let route = ctx.route;
    f.fact(
        "route length",
        (route.length_m / 1000.0 * 1000.0).round() / 1000.0,
        true,
        format!(
            "the declared route is `{:.1}` km long with {} vertices",
            route.length_m / 1000.0,
            ctx.app.route.geometry.coordinates.len()
        ),
    );
    f.at("/route/geometry/coordinates");
    for gap in &route.gaps {
        f.at_most(
            &format!("gap after vertex {} at [{:.5}, {:.5}], km {:.2}", gap.vertex, gap.at[0], gap.at[1], gap.km),
            gap.length_m.round(),
            r.max_vertex_gap.si(),
            "m",
        );
        f.at(format!("/route/geometry/coordinates/{}", gap.vertex));
    }
    let Some(net) = &route.network else {
        f.unverified("road network", format!("{NO_NETWORK}: the route cannot be matched"));
        return f;
    };
    f.refer(net.version.clone());
    let m = &net.matched;
    for p in &m.problems {
        f.unverified(
            &format!("match at [{:.5}, {:.5}], km {:.2}", p.lon, p.lat, p.km),
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
        f.unverified("restrictions along the route", NO_NETWORK.to_string());
        return None;
    };
    f.refer(net.version.clone());
    if let Some(first) = net.matched.problems.first() {
        f.unverified(
            "unmatched parts of the route",
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

fn place(h: &RestrictionHit) -> String {
    format!("`{}={}` on {} at [{:.5}, {:.5}], km {:.2}", h.tag, h.raw, h.source, h.lon, h.lat, h.km)
}

/// Compares a numeric limit with the vehicle; an unparsed limit is unverified.
fn limit_check(f: &mut Findings, h: &RestrictionHit, what: &str, observed: f64, unit: &str) {
    f.refer(h.source.clone());
    match h.limit {
        Some(limit) => f.at_most(&format!("{what} at {}", place(h)), observed, limit, unit),
        None => f.unverified(what, format!("the {what} limit {} could not be read", place(h))),
    }
}

fn hits(net: &NetworkFindings, kinds: &[RestrictionKind]) -> usize {
    net.matched.hits.iter().filter(|h| kinds.contains(&h.kind)).count()
}

fn none_met(f: &mut Findings, net: &NetworkFindings, what: &str) {
    f.fact(
        what,
        0,
        true,
        format!(
            "no {what} along the {:.1} km matched route ({} ways)",
            net.matched.length_m / 1000.0,
            net.matched.ways.len()
        ),
    );
}

/// R2: loaded height plus margin under every clearance met; unknown clearances overhead
/// are unverified for a load above the legal height.
pub fn r2_clearance(ctx: &Context) -> Findings {
    let margin = &ctx.rules.route.height_margin;
    let mut f = Findings::new(format!(
        "posted and physical clearances (OSM maxheight) with a `{margin}` margin ({}); {}",
        ctx.rules.route.basis, ctx.rules.overlimit.basis
    ));
    let Some(net) = matched(ctx, &mut f) else { return f };
    let needed = ctx.app.loaded.height_m + margin.si();
    let legal = ctx.rules.overlimit.max_height.si();
    for h in &net.matched.hits {
        match h.kind {
            RestrictionKind::MaxHeight => limit_check(&mut f, h, "loaded height + margin", needed, "m"),
            RestrictionKind::ClearanceUnknown => {
                f.refer(h.source.clone());
                let height = ctx.app.loaded.height_m;
                if height <= legal {
                    f.compare(
                        &format!("unknown clearance at {}", place(h)),
                        height,
                        legal,
                        Some("m"),
                        true,
                        format!("a structure of unknown clearance ({}) is passed at the legal height", place(h)),
                    );
                } else {
                    f.unverified(
                        "unknown clearance",
                        format!("a structure of unknown clearance ({}) is passed `{height}` m high, above the legal `{legal}` m", place(h)),
                    );
                }
            }
            _ => {}
        }
    }
    if hits(net, &[RestrictionKind::MaxHeight, RestrictionKind::ClearanceUnknown]) == 0 {
        none_met(&mut f, net, "height restriction");
    }
    f
}

/// R3: gross mass and axle loads under every weight limit met; unrated bridges are
/// unverified above the legal mass.
pub fn r3_load_capacity(ctx: &Context) -> Findings {
    let mut f = Findings::new(
        "posted weight and axle-load limits (OSM maxweight, maxaxleload); bridges without a rating".to_string(),
    );
    let Some(net) = matched(ctx, &mut f) else { return f };
    let gross = ctx.app.loaded.gross_mass_kg;
    let heaviest = ctx.app.vehicle.axles.iter().map(|a| a.load_kg).fold(0.0, f64::max);
    let legal = ctx.det.legal_gross_kg;
    for h in &net.matched.hits {
        match h.kind {
            RestrictionKind::MaxWeight => limit_check(&mut f, h, "gross mass", gross, "kg"),
            RestrictionKind::MaxAxleLoad => limit_check(&mut f, h, "heaviest axle", heaviest, "kg"),
            RestrictionKind::RatingUnknown => {
                f.refer(h.source.clone());
                if gross <= legal {
                    f.compare(
                        &format!("unrated bridge at {}", place(h)),
                        gross,
                        legal,
                        Some("kg"),
                        true,
                        format!("an unrated bridge ({}) is crossed within the legal mass", place(h)),
                    );
                } else {
                    f.unverified(
                        "unrated bridge",
                        format!("a bridge without a weight rating ({}) is crossed at `{gross}` kg, above the legal `{legal}` kg", place(h)),
                    );
                }
            }
            _ => {}
        }
    }
    if hits(net, &[RestrictionKind::MaxWeight, RestrictionKind::MaxAxleLoad, RestrictionKind::RatingUnknown]) == 0 {
        none_met(&mut f, net, "weight restriction");
    }
    f
}

/// R4: width and length limits and heavy-vehicle access bans met.
pub fn r4_access(ctx: &Context) -> Findings {
    let mut f = Findings::new(
        "posted width and length limits and goods-vehicle bans (OSM maxwidth, maxlength, hgv, access, barrier)"
            .to_string(),
    );
    let Some(net) = matched(ctx, &mut f) else { return f };
    let l = &ctx.app.loaded;
    for h in &net.matched.hits {
        match h.kind {
            RestrictionKind::MaxWidth => limit_check(&mut f, h, "loaded width", l.width_m, "m"),
            RestrictionKind::MaxLength => limit_check(&mut f, h, "loaded length", l.length_m, "m"),
            RestrictionKind::Access => {
                f.refer(h.source.clone());
                // Destination / delivery / time-conditional access may be legitimate for this
                // trip; a person decides. Anything else bars heavy vehicles.
                let judged = ["destination", "delivery", "customers", "agricultural"].contains(&h.raw.as_str())
                    || h.tag.contains("conditional");
                if judged {
                    f.unverified("conditional access", format!("heavy-vehicle access is conditional: {}", place(h)));
                } else {
                    f.fact("access", h.raw.as_str(), false, format!("heavy vehicles are barred: {}", place(h)));
                }
            }
            _ => {}
        }
    }
    if hits(net, &[RestrictionKind::MaxWidth, RestrictionKind::MaxLength, RestrictionKind::Access]) == 0 {
        none_met(&mut f, net, "width, length or access restriction");
    }
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
    f.compare(
        "allowed travel days in the schedule",
        travel_days,
        1,
        Some("days"),
        travel_days >= 1,
        if forbidden.is_empty() {
            format!("every day from `{}` to `{}` is an allowed travel day", s.start, s.end)
        } else {
            format!("{travel_days} allowed travel day(s); no travel on {}", forbidden.join(", "))
        },
    );
    f.at("/schedule");
    let Some(net) = matched(ctx, &mut f) else { return f };
    let margin = ctx.rules.route.height_margin.si();
    for c in &net.closures {
        f.refer(format!("closure:{}", c.id));
        let active = c.valid_from.date_naive() <= s.end && c.valid_until.date_naive() >= s.start;
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

/// The loaded vehicle against each lowered limit that is set: what, observed, limit, unit.
/// Height carries the rulebook's clearance margin, as for a posted clearance (R2).
pub fn lowered_comparisons(
    app: &Application,
    height_margin_m: f64,
    limits: &LoweredLimits,
) -> Vec<(&'static str, f64, f64, &'static str)> {
    let l = &app.loaded;
    let heaviest = app.vehicle.axles.iter().map(|a| a.load_kg).fold(0.0, f64::max);
    [
        (limits.max_height_m, "loaded height + margin", l.height_m + height_margin_m, "m"),
        (limits.max_width_m, "loaded width", l.width_m, "m"),
        (limits.max_length_m, "loaded length", l.length_m, "m"),
        (limits.max_weight_kg, "gross mass", l.gross_mass_kg, "kg"),
        (limits.max_axle_load_kg, "heaviest axle", heaviest, "kg"),
    ]
    .into_iter()
    .filter_map(|(limit, what, observed, unit)| limit.map(|limit| (what, observed, limit, unit)))
    .collect()
}
