//! Evaluation of the route items R2–R4 on real roads: routes built from graph edges, so the
//! ways travelled are known exactly, redrawn as another map would draw them, reviewed by
//! oscar and compared with the truth.
//!
//! The truth generator is plain graph code over the ways of the network ([`RouteGraph`]): it
//! walks directed edges (one-way streets respected, access ignored, so that routes do use
//! restricted roads) and collects the restrictions of every way, segment and node it
//! passes. The matcher is not used for the truth. Both the truth and oscar's match go
//! through the same item checks, so a difference is the matcher's (or its caller's) doing.
//!
//! Tooling, not runtime: the service never calls this module.

use crate::application::Application;
use crate::checks::{self, Context};
use crate::registry::Registry;
use crate::review::Status;
use crate::rng::SplitMix64;
use crate::routes::access::Direction;
use crate::routes::{
    HitTag, NetworkFindings, RestrictionHit, RestrictionKind, RouteMatch, RouteNetwork, TravelledWay, WayView,
};
use crate::rulebook::Rulebook;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

const M_PER_DEG_LAT: f64 = 111_195.0;

/// Metres east / north to degrees at latitude `p[1]`.
pub fn offset(p: [f64; 2], east_m: f64, north_m: f64) -> [f64; 2] {
    [p[0] + east_m / (M_PER_DEG_LAT * p[1].to_radians().cos()), p[1] + north_m / M_PER_DEG_LAT]
}

/// Approximate distance in metres between two `[lon, lat]` points. Inlined: the
/// benches call it in their brute-force baseline loops from another crate.
#[inline]
pub fn metres(a: [f64; 2], b: [f64; 2]) -> f64 {
    let k = a[1].to_radians().cos();
    ((a[0] - b[0]) * k * M_PER_DEG_LAT).hypot((a[1] - b[1]) * M_PER_DEG_LAT)
}

/// Redraws a polyline the way another map would: resampled every `step_m` (with
/// jitter) from a random point within the first half step, shifted by a constant offset,
/// plus a slow sinusoidal drift and small noise, and its last point. Original vertices are
/// never kept.
pub fn perturb(line: &[[f64; 2]], rng: &mut SplitMix64, offset_m: f64, drift_m: f64, step_m: f64) -> Vec<[f64; 2]> {
    redraw_from(line, rng, offset_m, drift_m, step_m, false)
}

/// [`perturb`], starting at the line's first point (as a permit's route starts at its
/// origin) when `from_start`.
fn redraw_from(
    line: &[[f64; 2]],
    rng: &mut SplitMix64,
    offset_m: f64,
    drift_m: f64,
    step_m: f64,
    from_start: bool,
) -> Vec<[f64; 2]> {
    let angle = rng.uniform(0.0, std::f64::consts::TAU);
    let (ox, oy) = (offset_m * angle.cos(), offset_m * angle.sin());
    let phase = rng.uniform(0.0, std::f64::consts::TAU);
    let mut out = Vec::new();
    let mut walked = 0.0;
    let mut next = if from_start { 0.0 } else { rng.uniform(0.0, step_m * 0.5) };
    for w in line.windows(2) {
        let len = metres(w[0], w[1]);
        while next < walked + len {
            let t = (next - walked) / len;
            let p = [w[0][0] + (w[1][0] - w[0][0]) * t, w[0][1] + (w[1][1] - w[0][1]) * t];
            let drift = drift_m * (next / 400.0 + phase).sin();
            let q = offset(p, ox + drift + rng.uniform(-1.0, 1.0), oy + drift * 0.5 + rng.uniform(-1.0, 1.0));
            out.push(q);
            next += step_m * rng.uniform(0.6, 1.4);
        }
        walked += len;
    }
    if let Some(&last) = line.last() {
        out.push(offset(last, ox + rng.uniform(-1.0, 1.0), oy + rng.uniform(-1.0, 1.0)));
    }
    out
}

/// One directed edge of the truth graph: a way segment travelled in one direction.
#[derive(Debug, Clone, Copy)]
struct GraphEdge {
    from: i64,
    to: i64,
    /// Index of the way in [`RouteNetwork::ways`].
    way: usize,
    /// Segment index within the way.
    seg: usize,
    dir: Direction,
    len: f64,
}

impl GraphEdge {
    /// Position, within its way, of the node the edge leaves (`end` false) or reaches.
    fn pos(&self, end: bool) -> usize {
        if (self.dir == Direction::Forward) == end { self.seg + 1 } else { self.seg }
    }
}

/// The network's ways as a directed graph of OSM nodes, for building routes whose
/// travelled ways are known.
pub struct RouteGraph {
    ways: Vec<WayView>,
    edges: Vec<GraphEdge>,
    out: HashMap<i64, Vec<usize>>,
    into: HashMap<i64, Vec<usize>>,
}

/// A route built by walking the graph.
#[derive(Debug, Clone)]
pub struct Walk {
    /// What the walk was built to pass through (`random`, `access`, `weight`, ...).
    pub case: &'static str,
    /// The exact polyline, `[lon, lat]`.
    pub line: Vec<[f64; 2]>,
    /// Edges travelled, in order.
    edges: Vec<usize>,
}

impl RouteGraph {
    /// The graph of `net`'s ways.
    pub fn new(net: &RouteNetwork) -> RouteGraph {
        let ways: Vec<WayView> = net.ways().collect();
        let mut g = RouteGraph { ways, edges: Vec::new(), out: HashMap::new(), into: HashMap::new() };
        for (wi, w) in g.ways.iter().enumerate() {
            for k in 0..w.node_ids.len().saturating_sub(1) {
                let len = metres(w.coords[k], w.coords[k + 1]);
                let (a, b) = (w.node_ids[k], w.node_ids[k + 1]);
                if w.oneway >= 0 {
                    g.edges.push(GraphEdge { from: a, to: b, way: wi, seg: k, dir: Direction::Forward, len });
                }
                if w.oneway <= 0 {
                    g.edges.push(GraphEdge { from: b, to: a, way: wi, seg: k, dir: Direction::Backward, len });
                }
            }
        }
        for (i, e) in g.edges.iter().enumerate() {
            g.out.entry(e.from).or_default().push(i);
            g.into.entry(e.to).or_default().push(i);
        }
        g
    }

    /// Extends a walk from edge `from` (forward: out of its end; backward: into its
    /// start) for about `target_m`, never revisiting a node, staying on the same way
    /// where it can with probability 0.7.
    fn extend(
        &self,
        rng: &mut SplitMix64,
        from: usize,
        target_m: f64,
        forward: bool,
        seen: &mut HashSet<i64>,
    ) -> Vec<usize> {
        let mut out = Vec::new();
        let mut cur = from;
        let mut total = 0.0;
        while total < target_m {
            let e = self.edges[cur];
            let (at, list) = if forward { (e.to, &self.out) } else { (e.from, &self.into) };
            let far = |i: &usize| if forward { self.edges[*i].to } else { self.edges[*i].from };
            let options: Vec<usize> =
                list.get(&at).into_iter().flatten().copied().filter(|i| !seen.contains(&far(i))).collect();
            if options.is_empty() {
                break;
            }
            let same: Vec<usize> = options.iter().copied().filter(|&i| self.edges[i].way == e.way).collect();
            let next = if !same.is_empty() && rng.chance(0.7) { *rng.pick(&same) } else { *rng.pick(&options) };
            seen.insert(far(&next));
            total += self.edges[next].len;
            out.push(next);
            cur = next;
        }
        out
    }

    /// A walk through edge `through`: about `before_m` leading into it and `after_m`
    /// leading on.
    fn walk_through(
        &self,
        rng: &mut SplitMix64,
        case: &'static str,
        through: usize,
        before_m: f64,
        after_m: f64,
    ) -> Walk {
        let e = self.edges[through];
        let mut seen: HashSet<i64> = [e.from, e.to].into_iter().collect();
        let mut edges = self.extend(rng, through, before_m, false, &mut seen);
        edges.reverse();
        edges.push(through);
        edges.extend(self.extend(rng, through, after_m, true, &mut seen));
        let line = self.line(&edges);
        Walk { case, line, edges }
    }

    fn length(&self, walk: &Walk) -> f64 {
        walk.edges.iter().map(|&i| self.edges[i].len).sum()
    }

    fn coord(&self, e: &GraphEdge, end: bool) -> [f64; 2] {
        self.ways[e.way].coords[e.pos(end)]
    }

    fn line(&self, edges: &[usize]) -> Vec<[f64; 2]> {
        let mut line: Vec<[f64; 2]> = edges.first().map(|&i| self.coord(&self.edges[i], false)).into_iter().collect();
        line.extend(edges.iter().map(|&i| self.coord(&self.edges[i], true)));
        line
    }

    /// The match the walk truly is: ways in order and every restriction met (the way's own
    /// on entering it, structures above each segment, each node passed between two
    /// segments).
    pub fn truth(&self, net: &RouteNetwork, walk: &Walk) -> RouteMatch {
        let mut m = RouteMatch { confidence: 1.0, ..RouteMatch::default() };
        let mut prev: Option<GraphEdge> = None;
        for &i in &walk.edges {
            let e = self.edges[i];
            let km = m.length_m / 1000.0;
            if prev.is_some() {
                m.hits.extend(net.node_restrictions(e.way, e.pos(false)));
            }
            if prev.is_none_or(|p| p.way != e.way) {
                let w = &self.ways[e.way];
                m.hits.extend(net.way_restrictions(e.way, e.dir));
                m.ways.push(TravelledWay {
                    way_id: w.way_id,
                    name: w.name.clone(),
                    highway: w.highway.clone(),
                    from_km: km,
                    to_km: km,
                });
            }
            m.hits.extend(net.segment_restrictions(e.way, e.seg));
            m.length_m += e.len;
            if let Some(last) = m.ways.last_mut() {
                last.to_km = m.length_m / 1000.0;
            }
            prev = Some(e);
        }
        m.declared_length_m = m.length_m;
        m
    }

    /// Edges through which a route meets a restriction, by the case they stand for.
    fn targets(&self, net: &RouteNetwork) -> BTreeMap<&'static str, Vec<usize>> {
        let mut out: BTreeMap<&'static str, Vec<usize>> = BTreeMap::new();
        for (i, e) in self.edges.iter().enumerate() {
            let own = net.way_restrictions(e.way, e.dir);
            let above = net.segment_restrictions(e.way, e.seg);
            let node = net.node_restrictions(e.way, e.pos(true));
            for h in own.iter().chain(&above) {
                out.entry(case_of(h)).or_default().push(i);
            }
            if !node.is_empty() && self.out.get(&e.to).is_some_and(|o| !o.is_empty()) {
                out.entry("node").or_default().push(i);
            }
        }
        for v in out.values_mut() {
            v.dedup();
        }
        out
    }
}

/// The case a restriction stands for in the evaluation's table.
fn case_of(h: &RestrictionHit) -> &'static str {
    match h.kind {
        RestrictionKind::Access => "access",
        RestrictionKind::MaxWeight | RestrictionKind::MaxAxleLoad | RestrictionKind::RatingUnknown => "weight",
        RestrictionKind::MaxHeight | RestrictionKind::ClearanceUnknown if h.tag == HitTag::BridgeAbove => {
            "under bridge"
        }
        RestrictionKind::MaxHeight | RestrictionKind::ClearanceUnknown => "height",
        RestrictionKind::MaxWidth | RestrictionKind::MaxLength => "size",
    }
}

/// Shortest route evaluated, metres.
const MIN_ROUTE_M: f64 = 80.0;

/// The items evaluated.
pub const ITEMS: [&str; 3] = ["R2", "R3", "R4"];

/// Settings of one evaluation run.
#[derive(Debug, Clone, Copy)]
pub struct EvalOptions {
    /// Routes per extract through a restricted element (spread over the cases).
    pub restricted: usize,
    /// Random routes per extract.
    pub random: usize,
    /// Seed of the walks and drawings.
    pub seed: u64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions { restricted: 300, random: 200, seed: 20_261_129 }
    }
}

/// The outcome of one route.
#[derive(Debug, Clone, Serialize)]
pub struct RouteResult {
    /// Extract (network) name.
    pub extract: String,
    /// Route number within the extract.
    pub route: usize,
    /// What the route was built to pass through.
    pub case: &'static str,
    /// The route as drawn, `[lon, lat]`.
    pub drawn: Vec<[f64; 2]>,
    /// OSM way ids travelled, in order.
    pub truth_ways: Vec<i64>,
    /// Per item: `clean` or `restricted`.
    pub truth: BTreeMap<&'static str, &'static str>,
    /// Per item: oscar's status.
    pub oscar: BTreeMap<&'static str, Status>,
    /// Matching time, microseconds.
    pub oscar_us: f64,
    /// OSM way ids oscar matched, in order.
    pub oscar_matched_ways: Vec<i64>,
    /// Length of the route travelled, metres.
    pub truth_m: f64,
    /// Length of oscar's matched path, metres.
    pub oscar_m: f64,
    /// Why the truth is restricted, item by item.
    pub truth_notes: Vec<String>,
    /// Why oscar did not pass, item by item.
    pub notes: Vec<String>,
}

impl RouteResult {
    /// Items oscar passed although the truth is restricted.
    pub fn misses(&self) -> Vec<&'static str> {
        ITEMS.into_iter().filter(|i| self.truth[i] == "restricted" && passes(self.oscar[i])).collect()
    }

    /// Items oscar did not pass although the truth is clean.
    pub fn false_alarms(&self) -> Vec<&'static str> {
        ITEMS.into_iter().filter(|i| self.truth[i] == "clean" && !passes(self.oscar[i])).collect()
    }
}

fn passes(s: Status) -> bool {
    matches!(s, Status::Pass | Status::NotApplicable)
}

/// What the evaluation needs to run the item checks: an application (its vehicle is the
/// one evaluated; its route is replaced), its rulebook and its registry records.
pub struct Bench<'a> {
    app: &'a Application,
    rules: &'a Rulebook,
    refs: crate::registry::References,
    det: crate::determination::Determination,
}

impl<'a> Bench<'a> {
    /// Fetches the application's records and determination once.
    pub fn new(app: &'a Application, rules: &'a Rulebook, registry: &dyn Registry) -> Bench<'a> {
        let refs = crate::registry::fetch(app, registry);
        let det = crate::determination::determine(app, rules);
        Bench { app, rules, refs, det }
    }

    /// Statuses of R2–R4 for the application with the route drawn as `drawn` and matched
    /// as `matched`, and the messages of those that do not pass.
    pub fn statuses(&self, drawn: &[[f64; 2]], matched: RouteMatch) -> (BTreeMap<&'static str, Status>, Vec<String>) {
        let mut route = crate::routes::analyse_geometry(drawn, self.rules.route.max_vertex_gap.si());
        route.network = Some(NetworkFindings { version: String::new(), matched, closures: Vec::new() });
        let ctx = Context { app: self.app, refs: &self.refs, rules: self.rules, det: &self.det, route: &route };
        let mut out = BTreeMap::new();
        let mut notes = Vec::new();
        for def in checks::ITEMS.iter().filter(|d| ITEMS.contains(&d.id.as_str())) {
            let r = checks::run(def, &ctx);
            if !passes(r.status) {
                notes.push(format!("{} {:?}: {}", def.id, r.status, r.message));
            }
            out.insert(def.id.as_str(), r.status);
        }
        (out, notes)
    }

    /// Items a route meeting `hits` (and nothing else) would not pass.
    fn restricted_by(&self, hits: Vec<RestrictionHit>) -> Vec<&'static str> {
        if hits.is_empty() {
            return Vec::new();
        }
        let m = RouteMatch { hits, ..RouteMatch::default() };
        let (statuses, _) = self.statuses(&[], m);
        statuses.into_iter().filter(|(_, s)| !passes(*s)).map(|(i, _)| i).collect()
    }
}

/// Ways and nodes (OSM ids) that make each item restricted for the bench's vehicle, for
/// comparing other matchers from the way and node ids they return.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RestrictedIds {
    /// Item -> way ids.
    pub ways: BTreeMap<&'static str, Vec<i64>>,
    /// Item -> node ids.
    pub nodes: BTreeMap<&'static str, Vec<i64>>,
}

/// Every way and node of `net` that restricts the bench's vehicle, by item.
pub fn restricted_ids(net: &RouteNetwork, bench: &Bench) -> RestrictedIds {
    let mut out = RestrictedIds::default();
    for (wi, w) in net.ways().enumerate() {
        let mut hits = net.way_restrictions(wi, Direction::Forward);
        hits.extend(net.way_restrictions(wi, Direction::Backward));
        for seg in 0..w.node_ids.len().saturating_sub(1) {
            hits.extend(net.segment_restrictions(wi, seg));
        }
        for item in bench.restricted_by(hits) {
            let list = out.ways.entry(item).or_default();
            if !list.contains(&w.way_id) {
                list.push(w.way_id);
            }
        }
        for (pos, id) in w.node_ids.iter().enumerate() {
            for item in bench.restricted_by(net.node_restrictions(wi, pos)) {
                let list = out.nodes.entry(item).or_default();
                if !list.contains(id) {
                    list.push(*id);
                }
            }
        }
    }
    out
}

/// Evaluates one network: `opts.restricted` routes through restricted elements (cycling
/// over the cases the network has) and `opts.random` random routes, each redrawn and
/// reviewed.
pub fn evaluate_network(name: &str, net: &RouteNetwork, bench: &Bench, opts: EvalOptions) -> Vec<RouteResult> {
    let g = RouteGraph::new(net);
    // Each network gets its own stream, the same whichever others run.
    let mut rng = SplitMix64::new(name.bytes().fold(opts.seed, |h, b| h.rotate_left(5) ^ u64::from(b)));
    let targets = g.targets(net);
    let cases: Vec<(&&str, &Vec<usize>)> = targets.iter().filter(|(_, v)| !v.is_empty()).collect();
    let mut walks = Vec::new();
    for k in 0..opts.restricted {
        let Some((case, list)) = cases.get(k % cases.len().max(1)) else { break };
        // A route of a few metres (a dead end on both sides) is no route: try another.
        for _ in 0..20 {
            let through = *rng.pick(list);
            let (before, after) = (rng.uniform(60.0, 400.0), rng.uniform(60.0, 600.0));
            let walk = g.walk_through(&mut rng, case, through, before, after);
            if g.length(&walk) >= MIN_ROUTE_M {
                walks.push(walk);
                break;
            }
        }
    }
    let mut tries = 0;
    while walks.len() < opts.restricted + opts.random && tries < 20 * opts.random.max(1) {
        tries += 1;
        let start = rng.below(g.edges.len() as u64) as usize;
        let length = rng.uniform(300.0, 1500.0);
        let w = g.walk_through(&mut rng, "random", start, 0.0, length);
        if g.length(&w) >= 200.0 {
            walks.push(w);
        }
    }
    let mut out = Vec::with_capacity(walks.len());
    for (route, walk) in walks.into_iter().enumerate() {
        let truth_match = g.truth(net, &walk);
        let truth_ways: Vec<i64> = truth_match.ways.iter().map(|w| w.way_id).collect();
        let truth_m = truth_match.length_m;
        let (truth_status, truth_notes) = bench.statuses(&walk.line, truth_match);
        let drawn = redraw(&walk.line, &mut rng);
        let started = std::time::Instant::now();
        let matched = net.match_route(&drawn);
        let oscar_us = started.elapsed().as_secs_f64() * 1e6;
        let oscar_matched_ways = matched.ways.iter().map(|w| w.way_id).collect();
        let oscar_m = matched.length_m;
        let (oscar, notes) = bench.statuses(&drawn, matched);
        let truth = truth_status.iter().map(|(k, s)| (*k, if passes(*s) { "clean" } else { "restricted" })).collect();
        out.push(RouteResult {
            extract: name.to_string(),
            route,
            case: walk.case,
            drawn,
            truth_ways,
            truth,
            oscar,
            oscar_us,
            oscar_matched_ways,
            truth_m,
            oscar_m,
            truth_notes,
            notes,
        });
    }
    out
}

/// Redraws a route as another map would: an offset of 2-8 m with 3 m of drift and 1 m of
/// noise, drawn every 5-40 m; one route in five densely (every 3-5 m), one in ten with a
/// few backtracking vertices.
pub fn redraw(line: &[[f64; 2]], rng: &mut SplitMix64) -> Vec<[f64; 2]> {
    let offset_m = rng.uniform(2.0, 8.0);
    let step = if rng.chance(0.2) { rng.uniform(3.0, 5.0) } else { rng.uniform(5.0, 40.0) };
    let mut drawn = redraw_from(line, rng, offset_m, 3.0, step, true);
    if rng.chance(0.1) && drawn.len() > 4 {
        // A vertex drawn a few metres back along the line, as a careless click does.
        let mut out = Vec::with_capacity(drawn.len() + drawn.len() / 8);
        for (i, p) in drawn.iter().enumerate() {
            out.push(*p);
            if i > 0 && i + 1 < drawn.len() && rng.chance(0.12) {
                let q = drawn[i - 1];
                let t = rng.uniform(0.1, 0.4);
                out.push([p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t]);
            }
        }
        drawn = out;
    }
    drawn
}

/// Counts of one table row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Counts {
    /// Routes.
    pub routes: usize,
    /// Route items judged (routes × items).
    pub items: usize,
    /// Items whose truth is restricted.
    pub restricted: usize,
    /// Truth restricted, oscar passed.
    pub misses: usize,
    /// Truth clean, oscar failed or unverified.
    pub false_alarms: usize,
}

impl Counts {
    fn merge(&mut self, other: &Counts) {
        self.routes += other.routes;
        self.items += other.items;
        self.restricted += other.restricted;
        self.misses += other.misses;
        self.false_alarms += other.false_alarms;
    }

    fn add(&mut self, r: &RouteResult, items: &[&'static str]) {
        self.routes += 1;
        self.items += items.len();
        self.restricted += items.iter().filter(|i| r.truth[*i] == "restricted").count();
        self.misses += r.misses().iter().filter(|i| items.contains(i)).count();
        self.false_alarms += r.false_alarms().iter().filter(|i| items.contains(i)).count();
    }

    /// False alarms as a share of the route items.
    pub fn false_alarm_rate(&self) -> f64 {
        if self.items == 0 { 0.0 } else { self.false_alarms as f64 / self.items as f64 }
    }
}

/// The table of an evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Per (extract, item), and per (extract, `all`) for items R2–R4 together.
    pub by_item: BTreeMap<(String, &'static str), Counts>,
    /// Per case, items R2–R4 together.
    pub by_case: BTreeMap<&'static str, Counts>,
    /// Everything.
    pub total: Counts,
}

impl Summary {
    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &Summary) {
        for (key, c) in &other.by_item {
            self.by_item.entry(key.clone()).or_default().merge(c);
        }
        for (case, c) in &other.by_case {
            self.by_case.entry(case).or_default().merge(c);
        }
        self.total.merge(&other.total);
    }
}

/// Counts per extract and item, per case, and in all.
pub fn summarise(results: &[RouteResult]) -> Summary {
    let mut s = Summary::default();
    for r in results {
        for item in ITEMS {
            s.by_item.entry((r.extract.clone(), item)).or_default().add(r, &[item]);
        }
        s.by_item.entry((r.extract.clone(), "all")).or_default().add(r, &ITEMS);
        s.by_case.entry(r.case).or_default().add(r, &ITEMS);
        s.total.add(r, &ITEMS);
    }
    s
}

/// The evaluation as a plain-text report.
pub fn render(results: &[RouteResult]) -> String {
    let Summary { by_item, by_case, total } = summarise(results);
    let mut s = String::new();
    let _ = writeln!(s, "route items on real roads: truth from the ways travelled, oscar from the redrawn route");
    let _ = writeln!(
        s,
        "{:<28} {:<4} {:>6} {:>10} {:>6} {:>12} {:>7}",
        "extract", "item", "routes", "restricted", "misses", "false alarms", "rate"
    );
    let row = |s: &mut String, a: &str, b: &str, c: &Counts| {
        let _ = writeln!(
            s,
            "{a:<28} {b:<4} {:>6} {:>10} {:>6} {:>12} {:>6.1}%",
            c.routes,
            c.restricted,
            c.misses,
            c.false_alarms,
            100.0 * c.false_alarm_rate()
        );
    };
    for ((extract, item), c) in &by_item {
        row(&mut s, extract, item, c);
    }
    let _ = writeln!(s, "\nby case (items R2-R4 together):");
    for (case, c) in &by_case {
        row(&mut s, case, "all", c);
    }
    row(&mut s, "all", "all", &total);
    let mut times: Vec<f64> = results.iter().map(|r| r.oscar_us).collect();
    times.sort_by(f64::total_cmp);
    if let Some(median) = times.get(times.len() / 2) {
        let _ = writeln!(s, "\nmedian matching time {:.0} µs per route", median);
    }
    for r in results.iter().filter(|r| !r.misses().is_empty()) {
        let _ = writeln!(
            s,
            "\nMISS {} route {} ({}): {:?}\n  truth {:?}\n  matched {:?}",
            r.extract,
            r.route,
            r.case,
            r.misses(),
            r.truth_ways,
            r.oscar_matched_ways
        );
    }
    s
}

/// The evaluation over several seeds ([`run_seeds`]) as a plain-text report: per seed
/// the misses, the false alarms and the extract with the highest false-alarm rate; per
/// extract over all seeds its misses, false alarms and highest rate; then every miss.
pub fn render_seeds(runs: &[SeedRun]) -> String {
    let mut s = String::new();
    let _ =
        writeln!(s, "route items on real roads over {} seeds: misses and false alarms (share of items)", runs.len());
    let _ = writeln!(s, "{:<10} {:>6} {:>12} {:>6}  highest extract", "seed", "misses", "false alarms", "rate");
    // Per extract: all seeds together, and its highest rate with the seed.
    let mut extracts: BTreeMap<String, (Counts, f64, u64)> = BTreeMap::new();
    let mut all = Counts::default();
    for SeedRun { seed, summary, .. } in runs {
        let per_extract = summary.by_item.iter().filter(|((_, item), _)| *item == "all");
        let mut highest: Option<(&str, f64)> = None;
        for ((extract, _), c) in per_extract {
            let rate = c.false_alarm_rate();
            let entry = extracts.entry(extract.clone()).or_insert((Counts::default(), -1.0, *seed));
            entry.0.merge(c);
            if rate > entry.1 {
                (entry.1, entry.2) = (rate, *seed);
            }
            if highest.is_none_or(|(_, r)| rate > r) {
                highest = Some((extract, rate));
            }
        }
        let t = &summary.total;
        all.merge(t);
        let (name, rate) = highest.unwrap_or(("-", 0.0));
        counts_line(&mut s, &seed.to_string(), 10, t, &format!("  {name} {:.1}%", 100.0 * rate));
    }
    counts_line(&mut s, "all", 10, &all, "");
    let _ = writeln!(s, "\n{:<28} {:>6} {:>12} {:>6}  highest (seed)", "extract", "misses", "false alarms", "rate");
    for (extract, (c, highest, seed)) in &extracts {
        counts_line(&mut s, extract, 28, c, &format!("  {:.1}% ({seed})", 100.0 * highest));
    }
    let _ = writeln!(s);
    for SeedRun { seed, missed, .. } in runs {
        for r in missed {
            let misses = r.misses();
            let _ = writeln!(s, "MISS seed {seed} {} route {} ({}): {misses:?}", r.extract, r.route, r.case);
            // What the truth found on the missed items, so a large run can be sorted by cause.
            for note in r.truth_notes.iter().filter(|n| misses.iter().any(|i| n.starts_with(i))) {
                let _ = writeln!(s, "  {note}");
            }
        }
    }
    s
}

/// One row of [`render_seeds`]: `label` (padded to `width`), the misses, the false alarms
/// and their rate, then `tail`.
fn counts_line(s: &mut String, label: &str, width: usize, c: &Counts, tail: &str) {
    let rate = 100.0 * c.false_alarm_rate();
    let _ = writeln!(s, "{label:<width$} {:>6} {:>12} {rate:>5.1}%{tail}", c.misses, c.false_alarms);
}

/// The seeds `--seeds` names.
#[derive(Debug, Clone, PartialEq)]
pub struct Seeds(pub Vec<u64>);

/// The seeds `--seeds` names: an inclusive range (`1-24`) or a list (`3,8,10`).
pub fn parse_seeds(text: &str) -> Result<Seeds, String> {
    let number = |t: &str| {
        t.trim().parse::<u64>().map_err(|_| format!("`{}` is not a seed (a whole number of 0 or more)", t.trim()))
    };
    let seeds: Vec<u64> = match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (number(a)?, number(b)?);
            if a > b {
                return Err(format!("the range `{text}` runs backwards: write the lower seed first"));
            }
            if b - a >= MAX_SEEDS {
                return Err(format!("the range `{text}` has more than {MAX_SEEDS} seeds"));
            }
            (a..=b).collect()
        }
        None => text.split(',').map(number).collect::<Result<_, _>>()?,
    };
    if seeds.len() as u64 > MAX_SEEDS {
        return Err(format!("`{text}` names more than {MAX_SEEDS} seeds"));
    }
    Ok(Seeds(seeds))
}

/// Seeds one `--seeds` may name: a thousand take about six minutes here (2 cores).
const MAX_SEEDS: u64 = 1000;

/// The application whose vehicle the evaluation reviews: the shipped Helsinki example
/// (53.5 t gross, 4.3 m high, 3.2 m wide, 22 m long), its route replaced by each walk.
const EXAMPLE: &str = include_str!("../../examples/helsinki-example.json");

/// Why an evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The shipped data or an extract was refused.
    #[error(transparent)]
    Setup(#[from] crate::SetupError),
    /// A file could not be read or written.
    #[error("cannot access `{0}`: {1}")]
    Io(String, std::io::Error),
    /// The shipped example application did not validate.
    #[error("the shipped example application is invalid: {0}")]
    Example(String),
}

/// Imports an `.osm.pbf` extract into a temporary directory and loads it.
pub fn load_extract(pbf: &std::path::Path) -> Result<RouteNetwork, crate::routes::RoutesError> {
    // One directory per call: two threads importing the same extract must not remove
    // each other's files (the test suite's threads did).
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = pbf.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("oscar-eval-{}-{call}-{name}", std::process::id()));
    crate::routes::import_osm(pbf, &dir)?;
    let net = RouteNetwork::load(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    net
}

/// Evaluates the shipped Helsinki network and every `.osm.pbf` extract in `osm_dir`
/// (imported into a temporary directory each), in file-name order. With `dump`, writes
/// one JSON line per extract (its restricted way and node ids by item, and its file) and
/// one per route, for `scripts/matchers/compare.py`.
pub fn run(
    osm_dir: Option<&std::path::Path>,
    opts: EvalOptions,
    dump: Option<&std::path::Path>,
) -> Result<Vec<RouteResult>, EvalError> {
    let mut dump_file = match dump {
        Some(path) => Some(std::fs::File::create(path).map_err(|e| EvalError::Io(path.display().to_string(), e))?),
        None => None,
    };
    let mut results = Vec::new();
    each_network(osm_dir, |name, pbf, net, bench| {
        let routes = evaluate_network(name, net, bench, opts);
        if let (Some(file), Some(path)) = (dump_file.as_mut(), dump) {
            let ids = restricted_ids(net, bench);
            let head = serde_json::json!({
                "kind": "extract",
                "extract": name,
                "pbf": pbf.and_then(|p| std::fs::canonicalize(p).ok()),
                "restricted_ways": ids.ways,
                "restricted_nodes": ids.nodes,
            });
            let io = |e| EvalError::Io(path.display().to_string(), e);
            use std::io::Write as _;
            writeln!(file, "{head}").map_err(io)?;
            for r in &routes {
                let mut line = serde_json::to_value(r).map_err(|e| io(e.into()))?;
                line["kind"] = "route".into();
                writeln!(file, "{line}").map_err(io)?;
            }
        }
        results.extend(routes);
        Ok(())
    })?;
    Ok(results)
}

/// One seed of [`run_seeds`]: the table of its routes and the routes it missed.
#[derive(Debug, Clone, Default)]
pub struct SeedRun {
    /// The seed.
    pub seed: u64,
    /// What [`summarise`] makes of the routes [`run`] gives for this seed.
    pub summary: Summary,
    /// The routes with a missed item, in the order [`run`] gives them.
    pub missed: Vec<RouteResult>,
}

/// [`run`] for each of `seeds` (without a dump), each seed's routes as that seed alone
/// gives them, kept as their table and their misses (a seed's routes take about 9 MB):
/// the extracts are imported once and the seeds shared out over the cores.
pub fn run_seeds(
    osm_dir: Option<&std::path::Path>,
    opts: EvalOptions,
    seeds: &[u64],
) -> Result<Vec<SeedRun>, EvalError> {
    let mut out: Vec<SeedRun> = seeds.iter().map(|&seed| SeedRun { seed, ..SeedRun::default() }).collect();
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get).min(seeds.len());
    each_network(osm_dir, |name, _, net, bench| {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let done: Vec<(usize, Summary, Vec<RouteResult>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(&seed) = seeds.get(k) else { break mine };
                            let routes = evaluate_network(name, net, bench, EvalOptions { seed, ..opts });
                            let missed = routes.iter().filter(|r| !r.misses().is_empty()).cloned().collect();
                            mine.push((k, summarise(&routes), missed));
                        }
                    })
                })
                .collect();
            // A worker that panicked has lost its seeds: that is a bug to see, not to hide.
            handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
        });
        for (k, summary, missed) in done {
            out[k].summary.merge(&summary);
            out[k].missed.extend(missed);
        }
        Ok(())
    })?;
    Ok(out)
}

/// Calls `each` with every network evaluated (the shipped one, then each extract in
/// `osm_dir` in file-name order): its name, its file, the network and the review bench.
fn each_network(
    osm_dir: Option<&std::path::Path>,
    mut each: impl FnMut(&str, Option<&std::path::Path>, &RouteNetwork, &Bench) -> Result<(), EvalError>,
) -> Result<(), EvalError> {
    let books = crate::rulebook::LoadedRulebook::embedded().map_err(crate::SetupError::from)?;
    let app = crate::application::parse(EXAMPLE, |j| {
        books.iter().find(|b| b.rules.rulebook.jurisdiction == j).map(|b| b.rules.formats)
    })
    .map_err(|e| EvalError::Example(e.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))?;
    let Some(book) = books.iter().find(|b| b.rules.rulebook.jurisdiction == app.jurisdiction) else {
        return Err(EvalError::Example(format!("no rulebook for `{}`", app.jurisdiction)));
    };
    let registry = crate::registry::JsonlRegistry::embedded_demo().map_err(crate::SetupError::from)?;
    let bench = Bench::new(&app, &book.rules, &registry);
    let mut networks: Vec<(String, Option<std::path::PathBuf>)> = vec![("helsinki (shipped)".to_string(), None)];
    if let Some(dir) = osm_dir {
        let io = |e| EvalError::Io(dir.display().to_string(), e);
        let mut pbfs: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".osm.pbf"))
            .collect();
        pbfs.sort();
        networks.extend(
            pbfs.into_iter()
                .map(|p| (p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), Some(p))),
        );
    }
    for (name, pbf) in networks {
        let net = match &pbf {
            None => crate::embedded_routes().map_err(crate::SetupError::from)?.network,
            Some(path) => load_extract(path).map_err(crate::SetupError::from)?,
        };
        each(&name, pbf.as_deref(), &net, &bench)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_a_range_or_a_list_and_anything_else_is_refused_with_the_reason() {
        assert_eq!(parse_seeds("1-4"), Ok(Seeds(vec![1, 2, 3, 4])));
        assert_eq!(parse_seeds("7"), Ok(Seeds(vec![7])));
        assert_eq!(parse_seeds("3, 8,10"), Ok(Seeds(vec![3, 8, 10])));
        let refused = |text: &str, why: &str| {
            let err = parse_seeds(text).expect_err(text);
            assert!(err.contains(why), "{text}: {err}");
        };
        refused("4-1", "runs backwards");
        refused("1,x", "`x` is not a seed");
        refused("-3", "`` is not a seed");
        refused("", "`` is not a seed");
        refused("0-1000", "more than 1000 seeds");
    }
}
