//! Restrictions looked up while matching: per way, per node and at points of segments
//! (bridges found above a road, GeoJSON restrictions), each ready to be reported as a
//! [`RestrictionHit`], and an index of the segments of every restricted way.

use super::stored::{Stored, StoredWay, TagRestriction};
use super::{RouteNetwork, SegRef};
use crate::routes::access::Direction;
use crate::routes::project::{Projection, segment_intersection};
use crate::routes::values::ParsedValue;
use crate::routes::{HitTag, RestrictionHit, RestrictionKind};
use rstar::primitives::{GeomWithData, Line};
use rstar::{AABB, RTree, RTreeObject};
use rustc_hash::FxHashMap as HashMap;

/// A restriction ready to be reported when the route meets its owner.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HitTemplate {
    pub kind: RestrictionKind,
    pub limit: Option<f64>,
    pub tag: HitTag,
    pub raw: String,
    pub source: String,
    /// Applies only when travelling the way in this direction; `None`: always.
    pub direction: Option<Direction>,
}

impl HitTemplate {
    /// Whether the restriction applies to travel in `dir`.
    pub(crate) fn applies(&self, dir: Direction) -> bool {
        self.direction.is_none_or(|d| d == dir)
    }

    /// The restriction as met at `ll` (`[lon, lat]`), `km` along the route.
    pub(crate) fn at(&self, ll: [f64; 2], km: f64) -> RestrictionHit {
        RestrictionHit {
            kind: self.kind,
            limit: self.limit,
            tag: self.tag.clone(),
            raw: self.raw.clone(),
            source: self.source.clone(),
            lon: ll[0],
            lat: ll[1],
            km,
        }
    }
}

/// A segment in the index of restricted segments.
type RestrictedSeg = GeomWithData<Line<[f64; 2]>, SegRef>;

/// The restrictions of a network, by where the route meets them.
pub(super) struct Restrictions {
    /// Per way, its own restrictions.
    way: Vec<Vec<HitTemplate>>,
    node: HashMap<u32, Vec<HitTemplate>>,
    /// Hits at a point of a segment: (fraction, template).
    seg: HashMap<SegRef, Vec<(f64, HitTemplate)>>,
    /// Per node, whether `node` has an entry (spares the lookup on the hot path).
    node_flags: Vec<bool>,
    /// Per way, whether any of its segments has an entry in `seg`.
    way_flags: Vec<bool>,
    /// Segments of ways that carry a restriction (on the way, a node or a structure
    /// above), for the search of other readings of a route.
    restricted: RTree<RestrictedSeg>,
}

impl Restrictions {
    /// The restrictions of a validated network whose nodes lie at `xy` (projected with
    /// `proj`).
    pub(super) fn new(stored: &Stored, xy: &[[f64; 2]], proj: Projection) -> Restrictions {
        let way = stored.ways.iter().map(way_templates).collect();
        let mut node: HashMap<u32, Vec<HitTemplate>> = HashMap::default();
        for nr in &stored.node_restrictions {
            let source = format!("osm:node/{}", stored.nodes[nr.node as usize].id);
            if let Some(t) = template(&nr.restriction, &source, false) {
                node.entry(nr.node).or_default().push(t);
            }
        }
        let mut seg = bridges_above(stored, xy, proj);
        for e in &stored.extras {
            for a in &e.attached {
                let t = HitTemplate {
                    kind: e.kind,
                    limit: e.limit,
                    tag: HitTag::Key(e.key.clone()),
                    raw: e.raw.clone(),
                    source: format!("geojson:{}", e.id),
                    direction: None,
                };
                // A line restriction applies where the route enters it on the segment.
                seg.entry((a.way, a.seg)).or_default().push((a.from.min(a.to), t));
            }
        }
        let mut node_flags = vec![false; xy.len()];
        for &n in node.keys() {
            node_flags[n as usize] = true;
        }
        let mut way_flags = vec![false; stored.ways.len()];
        for &(w, _) in seg.keys() {
            way_flags[w as usize] = true;
        }
        let mut out = Restrictions { way, node, seg, node_flags, way_flags, restricted: RTree::new() };
        out.restricted = out.restricted_segments(stored, xy);
        out
    }

    /// Index of the segments of every way that carries a restriction: on the way itself,
    /// on one of its nodes, or on a structure above one of its segments.
    fn restricted_segments(&self, stored: &Stored, xy: &[[f64; 2]]) -> RTree<RestrictedSeg> {
        let mut out = Vec::new();
        for (wi, w) in stored.ways.iter().enumerate() {
            let bears =
                !self.way[wi].is_empty() || self.way_flags[wi] || w.nodes.iter().any(|&n| self.node_flags[n as usize]);
            if bears {
                for (si, pair) in w.nodes.windows(2).enumerate() {
                    let line = Line::new(xy[pair[0] as usize], xy[pair[1] as usize]);
                    out.push(GeomWithData::new(line, (wi as u32, si as u32)));
                }
            }
        }
        RTree::bulk_load(out)
    }
}

impl RouteNetwork {
    /// The restrictions of way `way` itself, for either direction (see
    /// [`HitTemplate::applies`]).
    #[inline]
    pub(crate) fn way_hits(&self, way: u32) -> &[HitTemplate] {
        self.restrictions.way.get(way as usize).map_or(&[], Vec::as_slice)
    }

    /// The restrictions on node `n`.
    #[inline]
    pub(crate) fn node_hits(&self, n: u32) -> &[HitTemplate] {
        let r = &self.restrictions;
        if r.node_flags.get(n as usize).is_some_and(|&f| f) { r.node.get(&n).map_or(&[], Vec::as_slice) } else { &[] }
    }

    /// The restrictions at points of segment `seg` of way `way`: (fraction from its first
    /// node, restriction).
    #[inline]
    pub(crate) fn seg_hits(&self, way: u32, seg: u32) -> &[(f64, HitTemplate)] {
        let r = &self.restrictions;
        if r.way_flags.get(way as usize).is_some_and(|&f| f) {
            r.seg.get(&(way, seg)).map_or(&[], Vec::as_slice)
        } else {
            &[]
        }
    }

    /// Every way with restrictions of its own: (way, restrictions).
    pub(crate) fn all_way_hits(&self) -> impl Iterator<Item = (u32, &[HitTemplate])> + '_ {
        (0u32..).zip(self.restrictions.way.iter().map(Vec::as_slice)).filter(|(_, l)| !l.is_empty())
    }

    /// Every restricted node: (node, restrictions).
    pub(crate) fn all_node_hits(&self) -> impl Iterator<Item = (u32, &[HitTemplate])> + '_ {
        self.restrictions.node.iter().map(|(n, l)| (*n, l.as_slice()))
    }

    /// Every segment with restrictions at points of it: (segment, restrictions).
    pub(crate) fn all_seg_hits(&self) -> impl Iterator<Item = (SegRef, &[(f64, HitTemplate)])> + '_ {
        self.restrictions.seg.iter().map(|(s, l)| (*s, l.as_slice()))
    }

    /// Whether node `n` carries a restriction.
    #[inline]
    pub(crate) fn node_restricted(&self, n: u32) -> bool {
        self.restrictions.node_flags.get(n as usize).is_some_and(|&f| f)
    }

    /// Whether any way carries a restriction.
    pub(crate) fn has_restricted(&self) -> bool {
        self.restrictions.restricted.size() > 0
    }

    /// Segments of restricted ways whose envelope meets `env` (projected metres), with
    /// that envelope.
    pub(crate) fn restricted_in(&self, env: &AABB<[f64; 2]>) -> impl Iterator<Item = (AABB<[f64; 2]>, SegRef)> + '_ {
        self.restrictions.restricted.locate_in_envelope_intersecting(env).map(|item| (item.envelope(), item.data))
    }

    /// Every place where a bridge passes over a drivable way whose clearance is not
    /// tagged: (OSM id of the way below, source of the bridge, `[lon, lat]`).
    pub fn bridges_over_roads(&self) -> Vec<(i64, String, [f64; 2])> {
        let mut out: Vec<(i64, String, [f64; 2])> = Vec::new();
        for (&(way, seg), list) in &self.restrictions.seg {
            for (f, t) in list.iter().filter(|(_, t)| t.tag == HitTag::BridgeAbove) {
                let ll = self.to_lonlat(self.point_xy(way, seg, *f));
                out.push((self.way_id(way), t.source.clone(), ll));
            }
        }
        out.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)).then(a.2[0].total_cmp(&b.2[0])));
        out
    }

    /// Road segments with a bridge crossing above them.
    pub(super) fn segments_under_bridges(&self) -> usize {
        self.restrictions.seg.values().filter(|v| v.iter().any(|(_, h)| h.tag == HitTag::BridgeAbove)).count()
    }

    /// Restrictions of the way at `way` (its index in [`Self::ways`]) that apply to travel
    /// in `dir`, located at its first node. For evaluations that know the ways travelled.
    pub fn way_restrictions(&self, way: usize, dir: Direction) -> Vec<RestrictionHit> {
        let Some(w) = self.stored.ways.get(way) else { return Vec::new() };
        let ll = self.lonlat(w.nodes[0]);
        self.restrictions.way[way].iter().filter(|t| t.applies(dir)).map(|t| t.at(ll, 0.0)).collect()
    }

    /// Restrictions on segment `seg` of the way at `way` (structures above, GeoJSON
    /// restrictions attached to it), located where they apply.
    pub fn segment_restrictions(&self, way: usize, seg: usize) -> Vec<RestrictionHit> {
        let key = (way as u32, seg as u32);
        self.restrictions
            .seg
            .get(&key)
            .into_iter()
            .flatten()
            .map(|(f, t)| t.at(self.to_lonlat(self.point_xy(key.0, key.1, *f)), 0.0))
            .collect()
    }

    /// Restrictions on the node at position `pos` of the way at `way`.
    pub fn node_restrictions(&self, way: usize, pos: usize) -> Vec<RestrictionHit> {
        let Some(&n) = self.stored.ways.get(way).and_then(|w| w.nodes.get(pos)) else { return Vec::new() };
        let ll = self.lonlat(n);
        self.restrictions.node.get(&n).into_iter().flatten().map(|t| t.at(ll, 0.0)).collect()
    }
}

/// Whether a restriction's value parsed into a number.
fn is_numeric(r: &TagRestriction) -> bool {
    matches!(r.value, Some(ParsedValue::Limit(_)))
}

/// What a restriction tag means for the vehicle (`None`: nothing to report).
fn template(r: &TagRestriction, source: &str, bridge: bool) -> Option<HitTemplate> {
    let (kind, limit) = match (r.kind, r.value) {
        (_, Some(ParsedValue::NoLimit)) => return None,
        (kind, Some(ParsedValue::Limit(v))) => (kind, Some(v)),
        // No sign on a structure: clearance unknown, whatever the legal height is.
        (RestrictionKind::MaxHeight, Some(ParsedValue::Default | ParsedValue::BelowDefault)) => {
            (RestrictionKind::ClearanceUnknown, None)
        }
        (RestrictionKind::MaxWeight, Some(ParsedValue::Default | ParsedValue::BelowDefault)) if bridge => {
            (RestrictionKind::RatingUnknown, None)
        }
        (kind, _) => (kind, None),
    };
    Some(HitTemplate {
        kind,
        limit,
        tag: HitTag::Key(r.key.clone()),
        raw: r.raw.clone(),
        source: source.to_string(),
        direction: r.direction,
    })
}

fn way_templates(w: &StoredWay) -> Vec<HitTemplate> {
    let source = format!("osm:way/{}", w.id);
    let mut out: Vec<HitTemplate> =
        w.restrictions.iter().filter_map(|r| template(r, &source, w.bridge.is_some())).collect();
    let height_known = w.restrictions.iter().any(|r| r.kind == RestrictionKind::MaxHeight && is_numeric(r));
    let has_clearance_unknown = out.iter().any(|h| h.kind == RestrictionKind::ClearanceUnknown);
    if let Some(t) = &w.tunnel
        && !height_known
        && !has_clearance_unknown
    {
        out.push(tag_template(RestrictionKind::ClearanceUnknown, t, &source));
    }
    // `maxweight=none` counts as rated: it says there is no limit.
    let rated = w.restrictions.iter().any(|r| {
        r.kind == RestrictionKind::MaxWeight && matches!(r.value, Some(ParsedValue::Limit(_) | ParsedValue::NoLimit))
    });
    let has_rating_unknown = out.iter().any(|h| h.kind == RestrictionKind::RatingUnknown);
    if let Some(b) = &w.bridge
        && !rated
        && !has_rating_unknown
    {
        out.push(tag_template(RestrictionKind::RatingUnknown, b, &source));
    }
    out
}

/// A template from a `key=value` string such as `bridge=yes`.
fn tag_template(kind: RestrictionKind, tag_value: &str, source: &str) -> HitTemplate {
    let (tag, raw) = tag_value.split_once('=').unwrap_or((tag_value, ""));
    HitTemplate {
        kind,
        limit: None,
        tag: HitTag::Key(tag.to_string()),
        raw: raw.to_string(),
        source: source.to_string(),
        direction: None,
    }
}

/// An overhead structure segment for the bridge-above search.
struct OverSeg {
    source: String,
    tags: String,
    layer: i8,
    /// Way index when the structure is a drivable way (to skip the way itself).
    way: Option<u32>,
    a: [f64; 2],
    b: [f64; 2],
}

/// Segments with a bridge (drivable or not) crossing above them at a higher layer
/// without sharing a node there. Roads whose own `maxheight` is a number are
/// skipped: that number is the clearance under the bridge.
fn bridges_above(stored: &Stored, xy: &[[f64; 2]], proj: Projection) -> HashMap<SegRef, Vec<(f64, HitTemplate)>> {
    let mut over = Vec::new();
    for (wi, w) in stored.ways.iter().enumerate() {
        if let Some(b) = &w.bridge {
            for pair in w.nodes.windows(2) {
                over.push(OverSeg {
                    source: format!("osm:way/{}", w.id),
                    tags: format!("highway={} {b}", w.highway),
                    layer: w.layer,
                    way: Some(wi as u32),
                    a: xy[pair[0] as usize],
                    b: xy[pair[1] as usize],
                });
            }
        }
    }
    for st in &stored.structures {
        let pts: Vec<[f64; 2]> =
            st.coords.iter().map(|c| proj.to_xy([f64::from(c[0]) * 1e-7, f64::from(c[1]) * 1e-7])).collect();
        for pair in pts.windows(2) {
            over.push(OverSeg {
                source: format!("osm:way/{}", st.id),
                tags: st.tags.clone(),
                layer: st.layer,
                way: None,
                a: pair[0],
                b: pair[1],
            });
        }
    }
    let items: Vec<GeomWithData<Line<[f64; 2]>, usize>> =
        over.iter().enumerate().map(|(i, o)| GeomWithData::new(Line::new(o.a, o.b), i)).collect();
    let over_tree = RTree::bulk_load(items);
    let mut out: HashMap<SegRef, Vec<(f64, HitTemplate)>> = HashMap::default();
    for (wi, w) in stored.ways.iter().enumerate() {
        let height_known = w.restrictions.iter().any(|r| r.kind == RestrictionKind::MaxHeight && is_numeric(r));
        if height_known {
            continue;
        }
        for (si, pair) in w.nodes.windows(2).enumerate() {
            let (a, b) = (xy[pair[0] as usize], xy[pair[1] as usize]);
            let env = rstar::AABB::from_corners([a[0].min(b[0]), a[1].min(b[1])], [a[0].max(b[0]), a[1].max(b[1])]);
            for item in over_tree.locate_in_envelope_intersecting(&env) {
                let o = &over[item.data];
                if o.way == Some(wi as u32) || o.layer <= w.layer {
                    continue;
                }
                // A road above a tunnel is the tunnel's own roof, reported as such.
                if w.tunnel.is_some() && o.way.is_some() {
                    continue;
                }
                let Some((t, u)) = segment_intersection(a, b, o.a, o.b) else {
                    continue;
                };
                // Touching at a shared end point is a junction, not an overpass.
                let ends = |x: f64| !(1e-6..=1.0 - 1e-6).contains(&x);
                if ends(t) && ends(u) {
                    continue;
                }
                let entry = out.entry((wi as u32, si as u32)).or_default();
                if entry.iter().any(|(_, h)| h.source == o.source) {
                    continue;
                }
                entry.push((
                    t,
                    HitTemplate {
                        kind: RestrictionKind::ClearanceUnknown,
                        limit: None,
                        tag: HitTag::BridgeAbove,
                        raw: format!("{} layer={}", o.tags, o.layer),
                        source: o.source.clone(),
                        direction: None,
                    },
                ));
            }
        }
    }
    out
}
