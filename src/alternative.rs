//! A compliant alternative route, proposed when the declared one fails R2-R4 or cannot be
//! proven to pass them.
//!
//! Each restriction of the network is judged by the same code as R2-R4 ([`checks::may_pass`]:
//! a limit the loaded vehicle exceeds, an access ban or condition, a structure of unknown
//! clearance or rating above the legal dimensions — unknown is avoided, not trusted), each
//! closure by the same code as R5 ([`checks::closure_bars`]); the shortest route between the
//! same ends over what is left is then reviewed by R1-R5 as if declared, and proposed only
//! when every one passes. It never changes the verdict. Where no legal route exists, the
//! restrictions that cut the ends apart are named.

use serde::{Deserialize, Serialize};

use crate::application::LineString;
use crate::checks::{self, Context, ITEMS, closure_bars, may_pass};
use crate::review::{Category, ItemId, ItemResult, Status};
use crate::routes::{self, Closure, LegalPath, RestrictionHit, RouteData, Search, ShortestPath, Side};

/// The items whose failure (or `unverified`) asks for an alternative.
const TRIGGERS: [ItemId; 3] = [ItemId::R2, ItemId::R3, ItemId::R4];
/// A route whose re-check reads it onto a restricted road beside it is searched again at
/// most this many times, without the ways along which it was misread.
const RETRIES: usize = 2;
/// At most this many binding restrictions are named in the message (all are listed).
const NAMED: usize = 5;

/// What the search for an alternative route found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A route this vehicle may legally use, which passes R1-R5.
    Proposed,
    /// The shortest legal route did not pass R1-R5 when reviewed, so none is proposed.
    NotProposed,
    /// No route between the ends is open to this vehicle; `binding` says what closes them off.
    NoLegalRoute,
    /// None found within the search limits, or an end is off the road network.
    NotFound,
}

/// A restriction that keeps every legal route from the ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Binding {
    /// Where it comes from: `osm:way/123`, `osm:node/456`, `geojson:<id>`, `closure:<id>`.
    pub id: String,
    /// The restriction as written, `maxheight=3.8`; the closure's reason for a closure.
    pub restriction: String,
    /// Where it applies, `[lon, lat]` (none for a closure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<[f64; 2]>,
}

/// One route item as reviewed on the alternative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Recheck {
    /// `R1` .. `R5`.
    pub id: ItemId,
    /// Its status on the alternative.
    pub status: Status,
    /// Its message on the alternative.
    pub message: String,
}

/// The alternative route of a review whose declared route fails R2-R4 (or is unverified).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Alternative {
    /// What the search found.
    pub outcome: Outcome,
    /// In plain words, for a reviewer.
    pub message: String,
    /// The route, from the road point nearest the declared start to the one nearest its end
    /// (`proposed` and `not_proposed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geometry: Option<LineString>,
    /// Its length along the network, metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length_m: Option<f64>,
    /// Its length minus the declared route's, metres (negative: shorter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detour_m: Option<f64>,
    /// Restrictions and closures on the declared route that this vehicle may not pass (or
    /// that could not be proven passable), which the alternative does not meet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub avoids: Vec<String>,
    /// Where no legal route exists: the restrictions on the border of the smaller region
    /// reachable from one end; lifting them would open it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binding: Vec<Binding>,
    /// R1-R5 as reviewed on the alternative.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recheck: Vec<Recheck>,
}

impl Alternative {
    fn bare(outcome: Outcome, message: String) -> Alternative {
        Alternative {
            outcome,
            message,
            geometry: None,
            length_m: None,
            detour_m: None,
            avoids: Vec::new(),
            binding: Vec::new(),
            recheck: Vec::new(),
        }
    }
}

/// The alternative route for a review whose items are `items`: `None` when R2-R4 all pass
/// or do not apply.
pub fn propose(ctx: &Context, items: &[ItemResult], data: &RouteData) -> Option<Alternative> {
    let wanted =
        items.iter().any(|i| TRIGGERS.contains(&i.id) && matches!(i.status, Status::Fail | Status::Unverified));
    if !wanted {
        return None;
    }
    let coords = &ctx.app.route.geometry.coordinates;
    let (&from, &to) = (coords.first()?, coords.last()?);
    let closures: Vec<&Closure> =
        data.closures.iter().filter(|c| closure_bars(ctx, c.valid_from, c.valid_until, c.limits.as_ref())).collect();
    let mut barred = data.network.barred(|h| may_pass(ctx, h), &closures);
    let mut first: Option<Alternative> = None;
    for _ in 0..=RETRIES {
        let other = match data.network.legal_path(from, to, &barred, Search::AStar) {
            LegalPath::Found(path) => {
                let (alt, misread) = recheck(ctx, data, path);
                if alt.outcome == Outcome::Proposed {
                    return Some(alt);
                }
                first.get_or_insert(alt);
                if misread.is_empty() {
                    break;
                }
                barred.bar_ways(&data.network, &misread);
                continue;
            }
            // A search steered away from a misread route that finds nothing: the first
            // route found and why it was not proposed say more.
            _ if first.is_some() => break,
            LegalPath::Cut { side, restrictions, closures } => no_legal_route(side, &restrictions, &closures, data),
            LegalPath::OffNetwork => Alternative::bare(
                Outcome::NotFound,
                format!(
                    "no alternative route: an end of the declared route is more than {} m from every road",
                    routes::SNAP_M
                ),
            ),
            LegalPath::NotFound => Alternative::bare(
                Outcome::NotFound,
                format!(
                    "no route this vehicle may legally use was found within the search limits (four times the straight line plus 5 km, {} nodes)",
                    routes::MAX_SETTLED
                ),
            ),
        };
        return Some(other);
    }
    first
}

/// Reviews `path` with R1-R5 as if it were the declared route; proposed only when all pass.
/// Also returns the OSM ids of the ways of the route along which the matcher found another
/// reading onto a road this vehicle may not use (to steer the next search away from them).
fn recheck(ctx: &Context, data: &RouteData, path: ShortestPath) -> (Alternative, Vec<i64>) {
    let mut app = ctx.app.clone();
    app.route.geometry.coordinates = path.line;
    let coords = &app.route.geometry.coordinates;
    let mut route = routes::analyse_geometry(coords, ctx.rules.route.max_vertex_gap.si());
    route.network = Some(data.analyse(coords));
    let alt = Context { app: &app, refs: ctx.refs, rules: ctx.rules, det: ctx.det, route: &route };
    let results: Vec<ItemResult> =
        ITEMS.iter().filter(|d| d.category == Category::Route).map(|d| checks::run(d, &alt)).collect();
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !matches!(r.status, Status::Pass | Status::NotApplicable))
        .map(|r| format!("{} {}: {}", r.id, r.status.as_str(), r.message))
        .collect();
    let misread: Vec<i64> = route
        .network
        .iter()
        .flat_map(|n| &n.matched.possible)
        .filter(|p| !may_pass(&alt, &p.hit))
        .flat_map(|p| p.instead_of.iter().copied())
        .collect();
    let avoids = avoided(ctx);
    let km = path.length_m / 1000.0;
    let detour_m = path.length_m - ctx.route.length_m;
    let (outcome, message) = if failed.is_empty() {
        (
            Outcome::Proposed,
            format!(
                "a route of `{km:.1}` km between the same ends ({:+.1} km against the declared route) avoids {} and passes R1-R5; resubmit with it to use it",
                detour_m / 1000.0,
                if avoids.is_empty() { "what the declared route meets".to_string() } else { avoids.join(", ") }
            ),
        )
    } else {
        (
            Outcome::NotProposed,
            format!(
                "the shortest route this vehicle may legally use (`{km:.1}` km) did not pass the same checks, so none is proposed: {}",
                failed.join("; ")
            ),
        )
    };
    let alternative = Alternative {
        outcome,
        message,
        geometry: Some(LineString { kind: "LineString".into(), coordinates: app.route.geometry.coordinates.clone() }),
        length_m: Some((path.length_m * 10.0).round() / 10.0),
        detour_m: Some((detour_m * 10.0).round() / 10.0),
        avoids: if failed.is_empty() { avoids } else { Vec::new() },
        binding: Vec::new(),
        recheck: results.into_iter().map(|r| Recheck { id: r.id, status: r.status, message: r.message }).collect(),
    };
    (alternative, misread)
}

/// The restrictions and closures of the declared route that this vehicle may not pass.
fn avoided(ctx: &Context) -> Vec<String> {
    let Some(net) = &ctx.route.network else { return Vec::new() };
    let m = &net.matched;
    let hits = m.hits.iter().chain(m.possible.iter().map(|p| &p.hit));
    let mut out: Vec<String> = hits.filter(|h| !may_pass(ctx, h)).map(|h| h.source.clone()).collect();
    out.extend(
        net.closures
            .iter()
            .filter(|c| closure_bars(ctx, c.valid_from, c.valid_until, c.limits.as_ref()))
            .map(|c| format!("closure:{}", c.id)),
    );
    let mut seen = std::collections::HashSet::new();
    out.retain(|id| seen.insert(id.clone()));
    out
}

/// No legal route: names the restrictions on the border of the smaller region.
fn no_legal_route(side: Side, restrictions: &[RestrictionHit], closures: &[String], data: &RouteData) -> Alternative {
    let mut binding: Vec<Binding> = restrictions
        .iter()
        .map(|h| Binding {
            id: h.source.clone(),
            restriction: format!("{}={}", h.tag, h.raw),
            at: Some([h.lon, h.lat]),
        })
        .collect();
    binding.extend(closures.iter().map(|id| Binding {
        id: format!("closure:{id}"),
        restriction: data.closures.iter().find(|c| &c.id == id).map_or_else(String::new, |c| c.reason.clone()),
        at: None,
    }));
    let mut named: Vec<String> = binding
        .iter()
        .take(NAMED)
        .map(|b| match b.at {
            Some(at) => format!("`{}` ({}) at [{:.5}, {:.5}]", b.restriction, b.id, at[0], at[1]),
            None => format!("{} ({})", b.id, b.restriction),
        })
        .collect();
    if binding.len() > NAMED {
        named.push(format!("{} more", binding.len() - NAMED));
    }
    let end = match side {
        Side::Origin => "every road out of the origin",
        Side::Destination => "every road into the destination",
    };
    let message = if binding.is_empty() {
        format!(
            "no route between the same ends is open to this vehicle: {end} is a one-way or dead end, no restriction involved"
        )
    } else {
        format!("no route between the same ends is open to this vehicle: {end} passes {}", named.join(", "))
    };
    Alternative { binding, ..Alternative::bare(Outcome::NoLegalRoute, message) }
}
