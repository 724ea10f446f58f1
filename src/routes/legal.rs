//! The shortest route a loaded vehicle may legally use, or the restrictions that keep it
//! from reaching its destination at all.
//!
//! The caller judges each restriction once ([`RouteNetwork::barred`]: a height limit below
//! the loaded height plus margin, an access ban, a structure of unknown clearance above the
//! legal height, ...) and names the closures in force; the search then leaves out every
//! segment and node that carries one, at query time ([`RouteNetwork::legal_path`]). Where
//! no path is left, both ends' reachable regions are grown in turn until one is exhausted:
//! the barred roads on the border of that smaller region are the binding restrictions (lift
//! them and the region opens). The network stores no turn restrictions, so none is applied.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::access::Direction;
use super::closures::CLOSURE_M;
use super::closures::Closure;
use super::network::{Edge, HitTemplate, RouteNetwork, SegRef};
use super::shortest::{Ends, MAX_SETTLED, Roads, Search, ShortestPath};
use super::{RestrictionHit, RestrictionKind};

/// A way barred in its forward direction...
const FORWARD: u8 = 1;
/// ...in its backward direction...
const BACKWARD: u8 = 2;
/// ...or on some of its segments (see [`Barred::segs`] and [`Barred::closed`]).
const SEGMENTS: u8 = 4;

/// What one vehicle may not use on one network, built once per query.
pub struct Barred {
    /// Per way, [`FORWARD`] | [`BACKWARD`] | [`SEGMENTS`].
    ways: Vec<u8>,
    /// Nodes that carry a restriction refused.
    nodes: HashSet<u32>,
    /// Segments with a restriction refused (a structure above, a GeoJSON restriction).
    segs: HashSet<SegRef>,
    /// Segments a closure in force meets, with the closures' ids.
    closed: HashMap<SegRef, Vec<String>>,
    /// Restrictions refused: kind, tag and value as written (what the judgement reads).
    refused: HashSet<(RestrictionKind, String, String)>,
}

fn bit(dir: Direction) -> u8 {
    match dir {
        Direction::Forward => FORWARD,
        Direction::Backward => BACKWARD,
    }
}

impl Roads for Barred {
    fn segment(&self, way: u32, seg: u32, dir: Direction) -> bool {
        let bits = self.ways[way as usize];
        bits & bit(dir) == 0
            && (bits & SEGMENTS == 0 || !(self.segs.contains(&(way, seg)) || self.closed.contains_key(&(way, seg))))
    }

    fn node(&self, n: u32) -> bool {
        !self.nodes.contains(&n)
    }

    fn edge(&self, net: &RouteNetwork, e: &Edge) -> bool {
        // Most ways carry nothing refused: no need to work out the direction.
        (self.ways[e.way as usize] == 0 || self.segment(e.way, e.seg, net.direction(e)))
            && (!net.node_restricted(e.to) || self.node(e.to))
    }
}

/// Whether `allows` refuses template `t`, asked once per distinct kind, tag and value.
fn refused<'a>(
    judged: &mut HashMap<(RestrictionKind, &'a str, &'a str), bool>,
    allows: &mut impl FnMut(&RestrictionHit) -> bool,
    t: &'a HitTemplate,
) -> bool {
    *judged.entry((t.kind, t.tag.as_str(), t.raw.as_str())).or_insert_with(|| !allows(&t.at([0.0, 0.0], 0.0)))
}

impl Barred {
    /// Also bars the ways with OSM ids `ids`, both directions (to steer a search away from
    /// where a route was misread); they are not named as binding restrictions.
    pub fn bar_ways(&mut self, net: &RouteNetwork, ids: &[i64]) {
        for (slot, way) in self.ways.iter_mut().zip(0u32..) {
            if ids.contains(&net.way_id(way)) {
                *slot |= FORWARD | BACKWARD;
            }
        }
    }

    fn refuses(&self, t: &HitTemplate) -> bool {
        self.refused.contains(&(t.kind, t.tag.as_str().to_string(), t.raw.clone()))
    }
}

/// Which end of a route a region grows from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The first point of the route.
    Origin,
    /// The last point of the route.
    Destination,
}

/// What the search for a legal route found.
#[derive(Debug, Clone, PartialEq)]
pub enum LegalPath {
    /// The shortest path that uses nothing barred.
    Found(ShortestPath),
    /// An end is more than [`super::SNAP_M`] from every road.
    OffNetwork,
    /// No legal path: every road out of (into) the region reachable from `side` is barred
    /// by one of `restrictions` or `closures`.
    Cut {
        /// The end whose region is the smaller one.
        side: Side,
        /// The restrictions on the region's border, located where they apply.
        restrictions: Vec<RestrictionHit>,
        /// Ids of the closures on the region's border.
        closures: Vec<String>,
    },
    /// Not found within the search limits (four times the straight line plus 5 km, or
    /// [`MAX_SETTLED`] nodes), and neither end's region could be explored to its border.
    NotFound,
}

/// What closes a region off: restrictions located where they apply, and closure ids.
#[derive(Default)]
struct Border {
    hits: Vec<RestrictionHit>,
    closures: Vec<String>,
}

/// One region grown from an end: nodes reached and nodes still to expand.
struct Region {
    seen: HashSet<u32>,
    todo: Vec<u32>,
}

impl Region {
    fn new(nodes: impl Iterator<Item = u32>) -> Region {
        let seen: HashSet<u32> = nodes.collect();
        Region { todo: seen.iter().copied().collect(), seen }
    }
}

impl RouteNetwork {
    /// What a vehicle may not use: every restriction `allows` refuses (asked once per
    /// distinct kind, tag and value) and every segment one of `closures` meets.
    pub fn barred(&self, mut allows: impl FnMut(&RestrictionHit) -> bool, closures: &[&Closure]) -> Barred {
        let mut judged: HashMap<(RestrictionKind, &str, &str), bool> = HashMap::default();
        let mut refuses = |t| refused(&mut judged, &mut allows, t);
        let mut ways = vec![0u8; self.way_count()];
        for (w, list) in self.all_way_hits() {
            for t in list {
                if refuses(t)
                    && let Some(slot) = ways.get_mut(w as usize)
                {
                    *slot |= t.direction.map_or(FORWARD | BACKWARD, bit);
                }
            }
        }
        // Every template is judged (no short cut), so that the border of a region can name
        // each one refused.
        let mut nodes = HashSet::default();
        for (n, list) in self.all_node_hits() {
            if list.iter().map(&mut refuses).collect::<Vec<bool>>().contains(&true) {
                nodes.insert(n);
            }
        }
        let mut segs = HashSet::default();
        for (seg, list) in self.all_seg_hits() {
            if list.iter().map(|(_, t)| refuses(t)).collect::<Vec<bool>>().contains(&true) {
                segs.insert(seg);
                if let Some(slot) = ways.get_mut(seg.0 as usize) {
                    *slot |= SEGMENTS;
                }
            }
        }
        let mut closed: HashMap<SegRef, Vec<String>> = HashMap::default();
        for c in closures {
            let Some(shape) = c.shape() else { continue };
            let pts: Vec<[f64; 2]> = c.geometry.iter().map(|&p| self.to_xy(p)).collect();
            let lo = pts.iter().fold([f64::MAX; 2], |m, p| [m[0].min(p[0]), m[1].min(p[1])]);
            let hi = pts.iter().fold([f64::MIN; 2], |m, p| [m[0].max(p[0]), m[1].max(p[1])]);
            let (lo, hi) = ([lo[0] - CLOSURE_M, lo[1] - CLOSURE_M], [hi[0] + CLOSURE_M, hi[1] + CLOSURE_M]);
            for ((way, seg), _, _) in self.segments_in(lo, hi) {
                let (a, b) = self.seg_nodes(way, seg);
                if shape.meets(self.lonlat(a), self.lonlat(b)).is_some() {
                    closed.entry((way, seg)).or_default().push(c.id.clone());
                    ways[way as usize] |= SEGMENTS;
                }
            }
        }
        let refused = judged
            .into_iter()
            .filter(|(_, refused)| *refused)
            .map(|((kind, tag, raw), _)| (kind, tag.to_string(), raw.to_string()))
            .collect();
        Barred { ways, nodes, segs, closed, refused }
    }

    /// The shortest path from the road nearest `from` to the road nearest `to` (`[lon, lat]`)
    /// that uses nothing `barred`, searched as `search` says; where there is none, the
    /// restrictions that cut the ends apart.
    pub fn legal_path(&self, from: [f64; 2], to: [f64; 2], barred: &Barred, search: Search) -> LegalPath {
        let Some(ends) = self.ends(from, to, barred) else { return LegalPath::OffNetwork };
        match self.path_between(&ends, barred, search) {
            Some(found) => LegalPath::Found(self.polyline(&ends, found)),
            None => self.cut(&ends, barred),
        }
    }

    /// Grows the regions reachable from the origin and able to reach the destination in
    /// turn; the first exhausted one names the restrictions on its border.
    fn cut(&self, ends: &Ends, barred: &Barred) -> LegalPath {
        let mut regions = [
            Region::new(ends.starts.iter().map(|s| s.0)),
            Region::new(ends.ends.iter().map(|e| e.0).filter(|&n| barred.node(n))),
        ];
        if regions[0].seen.iter().any(|n| regions[1].seen.contains(n)) {
            return LegalPath::NotFound;
        }
        let mut steps = 0;
        let side = loop {
            if let Some(i) = (0..2).find(|&i| regions[i].todo.is_empty()) {
                break if i == 0 { Side::Origin } else { Side::Destination };
            }
            steps += 1;
            if steps > MAX_SETTLED {
                return LegalPath::NotFound;
            }
            for i in 0..2 {
                let Some(n) = regions[i].todo.pop() else { continue };
                for (m, e, dir) in self.neighbours(n, i == 1) {
                    if regions[i].seen.contains(&m) || !(barred.segment(e.way, e.seg, dir) && barred.node(m)) {
                        continue;
                    }
                    // The regions meet: a legal path exists, beyond the search's limits.
                    if regions[1 - i].seen.contains(&m) {
                        return LegalPath::NotFound;
                    }
                    regions[i].seen.insert(m);
                    regions[i].todo.push(m);
                }
            }
        };
        let region = &regions[usize::from(side == Side::Destination)];
        let mut border = Border::default();
        let mut add = |way: u32, seg: u32, dir: Direction, node: Option<u32>| {
            self.refusals(barred, (way, seg), dir, node, &mut border)
        };
        // The end's own segment, where it is barred or leads to a barred node.
        let (snap, own) = match side {
            Side::Origin => (ends.a, self.seg_nodes(ends.a.way, ends.a.seg)),
            Side::Destination => (ends.b, self.seg_nodes(ends.b.way, ends.b.seg)),
        };
        let (fwd_node, bwd_node) = if side == Side::Origin { (own.1, own.0) } else { (own.0, own.1) };
        add(snap.way, snap.seg, Direction::Forward, Some(fwd_node));
        add(snap.way, snap.seg, Direction::Backward, Some(bwd_node));
        for &n in &region.seen {
            for (m, e, dir) in self.neighbours(n, side == Side::Destination) {
                if !region.seen.contains(&m) {
                    add(e.way, e.seg, dir, Some(m));
                }
            }
        }
        let Border { mut hits, mut closures } = border;
        hits.sort_by(|a, b| (&a.source, a.tag.as_str(), &a.raw).cmp(&(&b.source, b.tag.as_str(), &b.raw)));
        hits.dedup_by(|a, b| (&a.source, &a.tag, &a.raw) == (&b.source, &b.tag, &b.raw));
        closures.sort();
        closures.dedup();
        LegalPath::Cut { side, restrictions: hits, closures }
    }

    /// The nodes next to `n` with the edge between and its direction along its way: those
    /// reachable from `n`, or (`backward`) those `n` is reachable from.
    pub(crate) fn neighbours(&self, n: u32, backward: bool) -> impl Iterator<Item = (u32, &Edge, Direction)> + '_ {
        let edges = if backward { self.edges_into(n) } else { self.edges_from(n) };
        edges.map(move |(_, e)| {
            // A reversed edge names the node it comes from; its direction is the original's.
            let dir = if backward { self.direction(&Edge { to: n, ..*e }) } else { self.direction(e) };
            (e.to, e, dir)
        })
    }

    /// Adds to `border` the refused restrictions and closures on segment `seg` of `way`
    /// travelled in `dir` and on `node` (where the piece leads).
    fn refusals(&self, barred: &Barred, (way, seg): SegRef, dir: Direction, node: Option<u32>, border: &mut Border) {
        let oneway = self.oneway(way);
        if (oneway == 1 && dir == Direction::Backward) || (oneway == -1 && dir == Direction::Forward) {
            return;
        }
        let mid = self.to_lonlat(self.point_xy(way, seg, 0.5));
        let on_way = self.way_hits(way).iter().filter(|t| t.applies(dir) && barred.refuses(t));
        border.hits.extend(on_way.map(|t| t.at(mid, 0.0)));
        for (f, t) in self.seg_hits(way, seg).iter().filter(|(_, t)| barred.refuses(t)) {
            border.hits.push(t.at(self.to_lonlat(self.point_xy(way, seg, *f)), 0.0));
        }
        if let Some(n) = node {
            let list = self.node_hits(n);
            border.hits.extend(list.iter().filter(|t| barred.refuses(t)).map(|t| t.at(self.lonlat(n), 0.0)));
        }
        border.closures.extend(barred.closed.get(&(way, seg)).into_iter().flatten().cloned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::path_length_m;

    fn helsinki() -> crate::routes::RouteData {
        // INVARIANT (test): the shipped network loads; other tests check it in detail.
        match crate::embedded_routes() {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    /// With nothing barred, A* and plain Dijkstra find paths as long as the plain shortest
    /// path, on seeded random pairs.
    #[test]
    fn a_star_and_dijkstra_agree_with_the_shortest_path() {
        let net = helsinki().network;
        let open = net.barred(|_| true, &[]);
        let mut rng = crate::rng::SplitMix64::new(11);
        let mut found = 0;
        for _ in 0..60 {
            let n = net.node_count() as u64;
            let (a, b) = (net.lonlat(rng.below(n) as u32), net.lonlat(rng.below(n) as u32));
            let plain = net.shortest_path(a, b);
            let lengths: Vec<Option<f64>> = [Search::AStar, Search::Dijkstra]
                .into_iter()
                .map(|s| match net.legal_path(a, b, &open, s) {
                    LegalPath::Found(p) => Some(p.length_m),
                    _ => None,
                })
                .collect();
            if let Some(p) = &plain {
                found += 1;
                for l in &lengths {
                    assert!(l.is_some_and(|l| (l - p.length_m).abs() < 1e-6), "{l:?} vs {}", p.length_m);
                }
            }
        }
        assert!(found >= 30, "only {found} pairs connected");
    }

    /// A closure in force bars the roads it meets: the path found goes round it, and where
    /// every road from the origin is closed, the closure is named.
    #[test]
    fn a_closure_bars_its_road() {
        let data = helsinki();
        let net = &data.network;
        let open = net.barred(|_| true, &[]);
        let mut rng = crate::rng::SplitMix64::new(3);
        let mut checked = 0;
        while checked < 5 {
            let n = net.node_count() as u64;
            let (a, b) = (net.lonlat(rng.below(n) as u32), net.lonlat(rng.below(n) as u32));
            let LegalPath::Found(p) = net.legal_path(a, b, &open, Search::AStar) else { continue };
            if p.line.len() < 6 || p.length_m < 500.0 {
                continue;
            }
            let k = p.line.len() / 2;
            let at = [(p.line[k][0] + p.line[k + 1][0]) / 2.0, (p.line[k][1] + p.line[k + 1][1]) / 2.0];
            let Some(template) = data.closures.first() else { panic!("the shipped closures file has one") };
            let closure = Closure { geometry: vec![at], limits: None, ..template.clone() };
            let barred = net.barred(|_| true, &[&closure]);
            let Some(shape) = closure.shape() else { panic!("a point closure has a shape") };
            match net.legal_path(a, b, &barred, Search::AStar) {
                LegalPath::Found(q) => {
                    assert!(q.length_m >= p.length_m - 1e-6);
                    assert!(q.line.windows(2).all(|w| shape.meets(w[0], w[1]).is_none()), "{:?}", q.line);
                    assert!((path_length_m(&q.line) - q.length_m).abs() < 0.01 * q.length_m + 2.0);
                }
                LegalPath::Cut { closures, .. } => assert_eq!(closures, std::slice::from_ref(&closure.id)),
                other => panic!("{other:?}"),
            }
            checked += 1;
        }
    }
}
