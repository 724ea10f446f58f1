//! The case page's route map: inline SVG drawn from the loaded road network, with the
//! surrounding roads, the declared route, the matched path, and a numbered marker for every
//! restriction the route meets; a list of them with the distance along the route.
//!
//! A marker shows what the review recorded for its restriction: the check that names the
//! restriction's place ([`crate::checks::place`]) gives its result, observed value and limit.
//! Results differ by shape and text as well as colour: ✘ a square for fail, ? a diamond for
//! unverified, ✔ a circle for pass.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::super::AppState;
use super::super::error::ApiError;
use super::case::Event;
use super::{CaseFile, esc};
use crate::Reviewer;
use crate::checks::{place, show};
use crate::review::{Check, ItemId, ItemResult, Status};
use crate::routes::{ClosureHit, NetworkFindings, RestrictionHit, RestrictionKind, closures_on_route};

/// Metres per degree of latitude (and of longitude at the equator).
const M_PER_DEG: f64 = 111_320.0;

/// A restriction met, as the map and its list show it.
struct Marker {
    /// 1-based, as labelled on the map.
    n: usize,
    /// Where the route meets it, `[lon, lat]`, and how far along, km.
    at: [f64; 2],
    km: f64,
    /// What it is (`maxheight=3.8`, `closure WORKS-7`) and where it comes from.
    what: String,
    source: String,
    /// The limit as written, where the review has no check naming it.
    raw: String,
    item: ItemId,
    status: Status,
    /// The review's check for it, where one names it.
    check: Option<Check>,
}

impl Marker {
    /// `observed 4.4 m, limit 3.8 m`, the fact observed where there is no limit (a closure's
    /// validity), or what is known without a check.
    fn figures(&self) -> String {
        let Some(c) = &self.check else { return self.raw.clone() };
        let unit = c.unit.as_deref().unwrap_or_default();
        match &c.limit {
            Some(l) => format!("observed {} {unit}, limit {} {unit}", show(&c.observed), show(l)),
            None => show(&c.observed),
        }
    }
}

/// The item that judges a kind of restriction.
fn item_of(kind: RestrictionKind) -> ItemId {
    match kind {
        RestrictionKind::MaxHeight | RestrictionKind::ClearanceUnknown => ItemId::R2,
        RestrictionKind::MaxWeight | RestrictionKind::MaxAxleLoad | RestrictionKind::RatingUnknown => ItemId::R3,
        RestrictionKind::MaxWidth | RestrictionKind::MaxLength | RestrictionKind::Access => ItemId::R4,
    }
}

/// What the review recorded for a hit: the check naming its place; else, where the item's
/// message names it (a barred road, an unknown or unreadable limit), fail for a barred road
/// and unverified otherwise; unverified where the review says nothing of it.
fn judged(items: &[ItemResult], hit: &RestrictionHit) -> (ItemId, Status, Option<Check>) {
    let id = item_of(hit.kind);
    let at = place(hit);
    let Some(item) = items.iter().find(|i| i.id == id) else { return (id, Status::Unverified, None) };
    if let Some(c) = item.evidence.checks.iter().find(|c| c.what.contains(&at)) {
        return (id, c.status, Some(c.clone()));
    }
    let status = if item.message.contains(&format!("barred: {at}")) { Status::Fail } else { Status::Unverified };
    (id, status, None)
}

/// A temporary closure or lowered limit on the route, as R5 judged it: its check in the
/// review (the worst, for lowered limits compared one by one); one added after the review has
/// none and is unverified for this case.
fn closure_marker(items: &[ItemResult], c: &ClosureHit) -> Marker {
    let (closed, under) = (format!("closure `{}`", c.id), format!("under `{}`", c.id));
    let check = items
        .iter()
        .find(|i| i.id == ItemId::R5)
        .into_iter()
        .flat_map(|i| &i.evidence.checks)
        .filter(|k| k.what == closed || k.what.contains(&under))
        .max_by_key(|k| k.status)
        .cloned();
    let raw =
        if check.is_some() { String::new() } else { "added after the review: not judged for this case".to_string() };
    Marker {
        n: 0,
        at: [c.lon, c.lat],
        km: c.km,
        what: format!("{} {} ({})", if c.limits.is_some() { "lowered limits" } else { "closure" }, c.id, c.reason),
        source: format!("closure:{}", c.id),
        raw,
        item: ItemId::R5,
        status: check.as_ref().map_or(Status::Unverified, |k| k.status),
        check,
    }
}

/// A case's route drawn on the road network loaded now.
pub struct Drawn {
    route: Vec<[f64; 2]>,
    found: NetworkFindings,
    markers: Vec<Marker>,
    roads: Vec<(String, Vec<[f64; 2]>)>,
    /// The road data the review used, where it is not the one drawn.
    reviewed_on: Option<String>,
}

impl Drawn {
    /// The map of a case, or why none can be drawn (no road data loaded, or an application
    /// that no longer reads under the rulebook loaded now).
    pub fn of(reviewer: &Reviewer, cf: &CaseFile) -> Result<Drawn, &'static str> {
        let routes = reviewer.routes().ok_or("no road data is loaded, so the route cannot be drawn")?;
        let app = reviewer
            .parse(&cf.record.entry.application)
            .map_err(|_| "the application does not read under the rulebook loaded now, so its route cannot be drawn")?;
        let route = app.route.geometry.coordinates;
        let found = routes.analyse(&route);
        let markers = found
            .matched
            .hits
            .iter()
            .enumerate()
            .map(|(i, hit)| {
                let (item, status, check) = judged(&cf.review.items, hit);
                let raw = format!("limit {}", if hit.raw.is_empty() { "unknown" } else { &hit.raw });
                let what = format!("{}={}", hit.tag, hit.raw);
                Marker {
                    n: i + 1,
                    at: [hit.lon, hit.lat],
                    km: hit.km,
                    what,
                    source: hit.source.clone(),
                    raw,
                    item,
                    status,
                    check,
                }
            })
            .chain(found.closures.iter().map(|c| closure_marker(&cf.review.items, c)))
            .enumerate()
            .map(|(i, m)| Marker { n: i + 1, ..m })
            .collect();
        let (min, max) = bounds(route.iter().chain(found.matched.segments.iter().flat_map(|s| [&s.from, &s.to])));
        let roads = routes
            .network
            .ways()
            .filter(|w| w.coords.iter().any(|p| (min[0]..=max[0]).contains(&p[0]) && (min[1]..=max[1]).contains(&p[1])))
            .map(|w| (w.highway, w.coords))
            .collect();
        let reviewed_on = (cf.review.versions.routes != routes.version).then(|| cf.review.versions.routes.clone());
        Ok(Drawn { route, found, markers, roads, reviewed_on })
    }

    /// The map section: the SVG, its legend and the list of restrictions met.
    pub fn section(&self, h: &mut String) {
        let (min, max) =
            bounds(self.route.iter().chain(self.found.matched.segments.iter().flat_map(|s| [&s.from, &s.to])));
        let view = View::new(min, max);
        h.push_str("<section id=\"map-section\"><h2>Route <span lang=\"zh\">路线图</span></h2>");
        if let Some(then) = &self.reviewed_on {
            let _ = write!(
                h,
                "<p class=\"note\">Drawn on the road data loaded now; the review used <code>{}</code>.</p>",
                esc(then)
            );
        }
        let _ = write!(
            h,
            "<div class=\"map-tools no-print\"><button type=\"button\" data-zoom=\"in\" aria-label=\"Zoom in\">+</button>\
             <button type=\"button\" data-zoom=\"out\" aria-label=\"Zoom out\">−</button><button type=\"button\" data-zoom=\"reset\">Reset</button>\
             <span>drag to pan, wheel or +/− to zoom; arrow keys pan when the map has focus</span></div>\
             <svg id=\"map\" class=\"map\" viewBox=\"0 0 {:.0} {:.0}\" data-viewbox=\"0 0 {:.0} {:.0}\" tabindex=\"0\" role=\"img\" \
             aria-label=\"Map of the declared route, the matched path and {} restriction(s) met\" xmlns=\"http://www.w3.org/2000/svg\">",
            view.w,
            view.h,
            view.w,
            view.h,
            self.markers.len()
        );
        h.push_str("<g class=\"roads\">");
        for (highway, coords) in &self.roads {
            let _ = write!(h, "<polyline class=\"road {}\" points=\"{}\"/>", esc(highway), view.points(coords));
        }
        h.push_str("</g>");
        let _ = write!(
            h,
            "<polyline class=\"declared\" points=\"{}\"><title>declared route</title></polyline>",
            view.points(&self.route)
        );
        let mut d = String::new();
        let mut last: Option<[f64; 2]> = None;
        for s in &self.found.matched.segments {
            let (a, b) = (view.xy(s.from), view.xy(s.to));
            if last != Some(s.from) {
                let _ = write!(d, "M{:.1} {:.1}", a[0], a[1]);
            }
            let _ = write!(d, "L{:.1} {:.1}", b[0], b[1]);
            last = Some(s.to);
        }
        let _ = write!(h, "<path class=\"matched\" d=\"{d}\"><title>matched path</title></path>");
        let r = view.w.max(view.h) / 70.0;
        // A marker whose box (shape and label) would cover one placed before it moves down
        // until it is clear, joined to its place by a line.
        let mut placed: Vec<[f64; 4]> = Vec::new();
        for m in &self.markers {
            let [x, at_y] = view.xy(m.at);
            let width = if m.status == Status::Pass {
                2.0 * r
            } else {
                2.6 * r + 0.62 * 1.1 * r * (m.figures().chars().count() + 12) as f64
            };
            let covers = |y: f64| {
                placed.iter().any(|p| x - r < p[2] && p[0] < x - r + width && y - 1.3 * r < p[3] && p[1] < y + 1.3 * r)
            };
            let k = (0..200).find(|k| !covers(at_y + f64::from(*k) * 2.6 * r)).unwrap_or(0);
            let y = at_y + f64::from(k) * 2.6 * r;
            placed.push([x - r, y - 1.3 * r, x - r + width, y + 1.3 * r]);
            if k > 0 {
                let _ =
                    write!(h, "<line class=\"leader\" x1=\"{x:.1}\" y1=\"{at_y:.1}\" x2=\"{x:.1}\" y2=\"{y:.1}\"/>");
            }
            let shape = match m.status {
                Status::Fail => format!(
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>",
                    x - r,
                    y - r,
                    2.0 * r,
                    2.0 * r
                ),
                Status::Pass | Status::NotApplicable => format!("<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r:.1}\"/>"),
                Status::Unverified => format!(
                    "<polygon points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\"/>",
                    x,
                    y - 1.3 * r,
                    x + 1.3 * r,
                    y,
                    x,
                    y + 1.3 * r,
                    x - 1.3 * r,
                    y
                ),
            };
            let label = if m.status == Status::Pass {
                String::new()
            } else {
                format!(
                    "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" font-size=\"{:.1}\">{} {}: {}</text>",
                    x + 1.6 * r,
                    y + 0.4 * r,
                    1.1 * r,
                    m.item,
                    esc(m.status.mark()),
                    esc(&m.figures())
                )
            };
            let _ = write!(
                h,
                "<g class=\"marker {status}\" id=\"m-{n}\" data-item=\"{item}\" data-status=\"{status}\" data-source=\"{source}\">{shape}\
                 <text class=\"n\" x=\"{x:.1}\" y=\"{ny:.1}\" font-size=\"{r:.1}\" text-anchor=\"middle\">{n}</text>{label}\
                 <title>{n}. {item} {mark}: {tag} — {figures}</title></g>",
                status = m.status.as_str(),
                n = m.n,
                item = m.item,
                source = esc(&m.source),
                ny = y + 0.35 * r,
                mark = esc(m.status.mark()),
                tag = esc(&m.what),
                figures = esc(&m.figures()),
            );
        }
        view.furniture(h);
        h.push_str("</svg>");
        legend(h);
        restrictions_list(h, &self.markers);
        h.push_str("</section>");
    }
}

fn legend(h: &mut String) {
    h.push_str(
        "<p class=\"legend\"><span class=\"key declared\">- - declared route <span lang=\"zh\">申报路线</span></span> \
         <span class=\"key matched\">━ matched path <span lang=\"zh\">匹配路径</span></span> \
         <span class=\"key fail\">■ ✘ fail <span lang=\"zh\">不通过</span></span> \
         <span class=\"key unverified\">◆ ? unverified <span lang=\"zh\">无法核实</span></span> \
         <span class=\"key pass\">● ✔ pass <span lang=\"zh\">通过</span></span></p>",
    );
}

fn restrictions_list(h: &mut String, markers: &[Marker]) {
    let _ = write!(h, "<h3>Restrictions met <span lang=\"zh\">途经限制</span> ({})</h3>", markers.len());
    if markers.is_empty() {
        h.push_str("<p>The matched route meets no restriction in the road data.</p>");
        return;
    }
    h.push_str("<ol class=\"met\" id=\"met\">");
    for m in markers {
        let _ = write!(
            h,
            "<li class=\"{0}\" data-status=\"{0}\" data-item=\"{1}\"><a href=\"#m-{2}\" data-marker=\"m-{2}\">\
             <span class=\"km\">km {3:.2}</span> {1} {4}: <code>{5}</code> on {6} — {7}</a></li>",
            m.status.as_str(),
            m.item,
            m.n,
            m.km,
            esc(m.status.mark()),
            esc(&m.what),
            esc(&m.source),
            esc(&m.figures()),
        );
    }
    h.push_str("</ol>");
}

/// The smallest box around `points`, with a margin (15 %, at least ~150 m).
fn bounds<'p>(points: impl Iterator<Item = &'p [f64; 2]>) -> ([f64; 2], [f64; 2]) {
    let (mut min, mut max) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for p in points {
        min = [min[0].min(p[0]), min[1].min(p[1])];
        max = [max[0].max(p[0]), max[1].max(p[1])];
    }
    if !min[0].is_finite() {
        return ([0.0; 2], [0.0; 2]);
    }
    let margin = |span: f64| (span * 0.15).max(0.0015);
    let (mx, my) = (margin(max[0] - min[0]), margin(max[1] - min[1]));
    ([min[0] - mx, min[1] - my], [max[0] + mx, max[1] + my])
}

/// An equirectangular projection of the box onto metres, north up.
struct View {
    west: f64,
    north: f64,
    kx: f64,
    w: f64,
    h: f64,
}

impl View {
    fn new(min: [f64; 2], max: [f64; 2]) -> View {
        let kx = ((min[1] + max[1]) / 2.0).to_radians().cos() * M_PER_DEG;
        View {
            west: min[0],
            north: max[1],
            kx,
            w: ((max[0] - min[0]) * kx).max(1.0),
            h: ((max[1] - min[1]) * M_PER_DEG).max(1.0),
        }
    }

    fn xy(&self, p: [f64; 2]) -> [f64; 2] {
        [(p[0] - self.west) * self.kx, (self.north - p[1]) * M_PER_DEG]
    }

    fn points(&self, coords: &[[f64; 2]]) -> String {
        let mut out = String::with_capacity(coords.len() * 14);
        for p in coords {
            let [x, y] = self.xy(*p);
            let _ = write!(out, "{x:.1},{y:.1} ");
        }
        out
    }

    /// Scale bar, north arrow and attribution.
    fn furniture(&self, h: &mut String) {
        let target = self.w / 4.0;
        let magnitude = 10f64.powf(target.log10().floor());
        let length = [5.0, 2.0, 1.0].into_iter().map(|k| k * magnitude).find(|l| *l <= target).unwrap_or(magnitude);
        let label = if length >= 1000.0 { format!("{} km", length / 1000.0) } else { format!("{length} m") };
        let u = self.w.max(self.h) / 50.0;
        let (x, y) = (u, self.h - u);
        let _ = write!(
            h,
            "<g class=\"furniture\"><g class=\"scale\"><rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{length:.1}\" height=\"{:.1}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"{:.1}\">{label}</text></g>\
             <g class=\"north\"><path d=\"M{:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{:.1}\" text-anchor=\"middle\">N</text></g>\
             <text class=\"attribution\" x=\"{:.1}\" y=\"{:.1}\" font-size=\"{:.1}\" text-anchor=\"end\">© OpenStreetMap contributors</text></g>",
            y - u * 0.3,
            u * 0.3,
            y - u * 0.6,
            u * 0.9,
            self.w - 2.0 * u,
            u * 1.5,
            self.w - 1.5 * u,
            u * 3.0,
            self.w - 2.5 * u,
            u * 3.0,
            self.w - 2.0 * u,
            u * 1.3,
            u * 0.9,
            self.w - u * 0.5,
            self.h - u * 0.5,
            u * 0.7,
        );
    }
}

/// Restrictions added to the ledger after the review whose closure the case's matched
/// route meets during its schedule: timeline events.
pub fn restrictions_met_later(state: &AppState, cf: &CaseFile, drawn: Option<&Drawn>) -> Result<Vec<Event>, ApiError> {
    let Some(drawn) = drawn else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for stored in state.ledger.restrictions()? {
        if stored.recorded_at <= cf.record.entry.recorded_at {
            continue;
        }
        let (restriction, closure) = crate::restrictions::read(&stored)
            .map_err(|e| ApiError::Internal(format!("stored restriction {} does not read: {e:?}", stored.seq)))?;
        // Dates as written (`YYYY-MM-DD`) compare as text.
        let (start, end) = (cf.text("/schedule/start"), cf.text("/schedule/end"));
        if closure.valid_from.date_naive().to_string().as_str() > end
            || closure.valid_until.date_naive().to_string().as_str() < start
        {
            continue;
        }
        let Some(hit) = closures_on_route(&drawn.found.matched, std::slice::from_ref(&closure)).into_iter().next()
        else {
            continue;
        };
        let Ok(at) = DateTime::parse_from_rfc3339(&stored.recorded_at) else { continue };
        out.push(Event {
            at: at.with_timezone(&Utc),
            what: format!(
                "restriction added that the route meets 新增途经限制: <code>{}</code> ({}), {}, at km {:.2}, valid {} to {}",
                esc(&restriction.id),
                esc(&restriction.kind),
                esc(&restriction.reason),
                hit.km,
                restriction.valid_from,
                restriction.valid_until
            ),
            kind: "restriction",
        });
    }
    Ok(out)
}
