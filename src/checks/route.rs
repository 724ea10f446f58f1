//! R1-R5: the route's geometry and what it meets on the road network.

use chrono::Datelike;

use super::{Context, Findings};

const NO_NETWORK: &str = "no road network is loaded, so restrictions along the route cannot be checked";

/// R1: valid line without gaps, matched onto the covered road network.
pub fn r1_geometry(ctx: &Context) -> Findings {
    let r = &ctx.rules.route;
    let mut f = Findings::new(format!("{}: vertices at most {} apart", r.basis, r.max_vertex_gap));
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
    match &route.network {
        None => f.unverified("road network", format!("{NO_NETWORK}: the route cannot be matched")),
        Some(version) => f.refer(version.clone()),
    }
    f
}

fn network_item(ctx: &Context, basis: String) -> Findings {
    let mut f = Findings::new(basis);
    if ctx.route.network.is_none() {
        f.unverified("restrictions along the route", NO_NETWORK.to_string());
    }
    f
}

/// R2: loaded height plus margin under every clearance met.
pub fn r2_clearance(ctx: &Context) -> Findings {
    let margin = &ctx.rules.route.height_margin;
    network_item(
        ctx,
        format!("posted and physical clearances (OSM maxheight) with a `{margin}` margin; {}", ctx.rules.route.basis),
    )
}

/// R3: gross mass and axle loads under every weight limit met.
pub fn r3_load_capacity(ctx: &Context) -> Findings {
    network_item(ctx, "posted weight and axle-load limits (OSM maxweight, maxaxleload); unrated bridges".into())
}

/// R4: width, length and access restrictions met.
pub fn r4_access(ctx: &Context) -> Findings {
    network_item(ctx, "posted width and length limits and goods-vehicle bans (OSM maxwidth, maxlength, hgv)".into())
}

/// R5: schedule inside the allowed travel days; no active closure on the route.
pub fn r5_time_windows(ctx: &Context) -> Findings {
    let tw = &ctx.rules.time_windows;
    let mut f = network_item(ctx, tw.basis.clone());
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
    f
}
