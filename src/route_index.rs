//! Where and when the approved permits travel: an R-tree over pieces of their matched routes
//! and their schedules, so that a new restriction finds the permits it may affect without
//! matching every approved route again ([`crate::restrictions::affected`]).
//!
//! Each leaf is a box in three dimensions: longitude and latitude around a run of up to
//! [`PIECE_SEGMENTS`] consecutive segments of the matched path, and the travel days of the
//! schedule. A restriction asks for the boxes that meet its geometry, widened by
//! [`NEAR_M`], during its validity; the permits behind them are the candidates. The index
//! only narrows: each candidate is then decided as the full scan decides it, from what the
//! index keeps of it (its travel days, the vehicle's measures that lowered limits apply to,
//! and its matched path in the network's numbers, [`MatchedPath`]) instead of reading and
//! matching its application again.

use std::cmp::Ordering;

use chrono::{Datelike, NaiveDate};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use crate::application::Application;
use crate::checks::LoweredMeasures;
use crate::routes::{Closure, MatchedPath, RouteMatch};

pub mod cache;

/// Consecutive matched segments behind one leaf: fewer make more, tighter boxes.
pub const PIECE_SEGMENTS: usize = 16;

/// How far from a restriction's geometry a piece of route is still a candidate, metres:
/// twice the 15 m within which a restriction meets the matched route (`closures_on_route`:
/// a point within 15 m of the path, or a line whose midpoint lies within 15 m of it), so
/// that rounding in the degrees-to-metres conversion can never drop a permit it meets.
pub const NEAR_M: f64 = 30.0;

/// Fewest metres in a degree of latitude (the projection uses 111,195 m), so that margins
/// in degrees are never too narrow.
const METRES_PER_DEGREE: f64 = 110_000.0;

type Leaf = GeomWithData<Rectangle<[f64; 3]>, u32>;

/// What a review hands over of an approved application for the index: its travel days,
/// the measures lowered limits are compared with, and its route as the review matched it.
#[derive(Debug, Clone)]
pub struct Travel {
    /// First travel day.
    pub start: NaiveDate,
    /// Last travel day.
    pub end: NaiveDate,
    /// The loaded vehicle's measures; `None` where its jurisdiction has no rulebook (then
    /// every lowered limit counts, as the full scan counts it).
    pub measures: Option<LoweredMeasures>,
    /// The route as the network matched it.
    pub matched: RouteMatch,
    /// Version of that network (its numbers are that network's).
    pub network: String,
}

impl Travel {
    /// The travel of `app` with its vehicle's `measures`, its route matched as `matched` on
    /// the network of version `network`.
    pub fn new(app: &Application, measures: Option<LoweredMeasures>, matched: RouteMatch, network: &str) -> Travel {
        Travel { start: app.schedule.start, end: app.schedule.end, measures, matched, network: network.to_string() }
    }
}

/// An approved permit as the index keeps it, made before it has its place in the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovedRoute {
    permit: Permit,
    network: String,
    boxes: Vec<([f64; 3], [f64; 3])>,
}

impl ApprovedRoute {
    /// The approved application `application_id` travelling as `travel`; an empty match
    /// gives no box (no restriction can meet it).
    pub fn new(application_id: &str, travel: &Travel) -> ApprovedRoute {
        let days = [day(travel.start), day(travel.end)];
        let boxes = travel
            .matched
            .segments
            .chunks(PIECE_SEGMENTS)
            .map(|run| {
                let (mut lo, mut hi) =
                    ([f64::INFINITY, f64::INFINITY, days[0]], [f64::NEG_INFINITY, f64::NEG_INFINITY, days[1]]);
                for p in run.iter().flat_map(|s| [s.from, s.to]) {
                    for k in 0..2 {
                        lo[k] = lo[k].min(p[k]);
                        hi[k] = hi[k].max(p[k]);
                    }
                }
                (lo, hi)
            })
            .collect();
        let permit = Permit {
            seq: 0,
            application_id: application_id.into(),
            start: travel.start,
            end: travel.end,
            measures: travel.measures,
            path: travel.matched.path.clone(),
            network: 0,
        };
        ApprovedRoute { permit, network: travel.network.clone(), boxes }
    }
}

/// An approved permit in the index.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Permit {
    /// Its ledger position.
    pub seq: i64,
    /// Its application.
    pub application_id: Box<str>,
    /// First travel day.
    pub start: NaiveDate,
    /// Last travel day.
    pub end: NaiveDate,
    /// What lowered limits are compared with ([`Travel::measures`]).
    pub measures: Option<LoweredMeasures>,
    /// Its matched path.
    pub path: MatchedPath,
    /// The network it was matched on, by its number in [`RouteIndex`].
    network: u16,
}

/// The approved permits by where and when they travel.
#[derive(Default, Debug)]
pub struct RouteIndex {
    tree: RTree<Leaf>,
    /// Each permit, by its number in the tree.
    permits: Vec<Permit>,
    /// The versions of the networks the permits were matched on (one, unless the network
    /// changed while the service ran).
    networks: Vec<String>,
}

impl RouteIndex {
    /// An index of `permits`: the ledger position of each and what is kept of it.
    pub fn new(permits: Vec<(i64, ApprovedRoute)>) -> RouteIndex {
        let mut index = RouteIndex::default();
        for (seq, approved) in permits {
            index.insert(seq, approved);
        }
        index
    }

    /// Adds a permit recorded at `seq`.
    pub fn insert(&mut self, seq: i64, approved: ApprovedRoute) {
        let network = match self.networks.iter().position(|n| *n == approved.network) {
            Some(n) => n,
            None => {
                self.networks.push(approved.network);
                self.networks.len() - 1
            }
        };
        // INVARIANT: fewer than 2^16 networks (one a start of the service or a change of its data).
        let network = u16::try_from(network).unwrap_or(u16::MAX);
        self.push(Permit { seq, network, ..approved.permit }, approved.boxes);
    }

    /// Adds `permit`, its network already among [`RouteIndex::networks`], with its boxes.
    fn push(&mut self, permit: Permit, boxes: Vec<([f64; 3], [f64; 3])>) {
        // INVARIANT: fewer than 2^32 permits (a ledger of approved reviews, not a log).
        let number = u32::try_from(self.permits.len()).unwrap_or(u32::MAX);
        self.permits.push(permit);
        // One at a time, never `RTree::bulk_load`: in three dimensions its tree can have
        // leaves at different depths, and a later insertion into it then panics inside rstar
        // 0.12 (found by this module's differential test).
        for (lo, hi) in boxes {
            self.tree.insert(GeomWithData::new(Rectangle::from_corners(lo, hi), number));
        }
    }

    /// The ledger positions above `after` of the permits indexed.
    pub fn seqs_after(&self, after: i64) -> rustc_hash::FxHashSet<i64> {
        self.permits.iter().map(|p| p.seq).filter(|&seq| seq > after).collect()
    }

    /// The versions of the networks the permits were matched on.
    pub fn networks(&self) -> &[String] {
        &self.networks
    }

    /// Each permit's boxes, in the order of the permits, each permit's sorted by corners.
    fn boxes(&self) -> Vec<Vec<([f64; 3], [f64; 3])>> {
        let mut out = vec![Vec::new(); self.permits.len()];
        for leaf in &self.tree {
            if let Some(boxes) = out.get_mut(leaf.data as usize) {
                boxes.push((leaf.geom().lower(), leaf.geom().upper()));
            }
        }
        for boxes in &mut out {
            boxes.sort_by(|a, b| {
                let corners = |&(lo, hi): &([f64; 3], [f64; 3])| lo.into_iter().chain(hi);
                corners(a).zip(corners(b)).map(|(x, y)| x.total_cmp(&y)).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
            });
        }
        out
    }

    /// Permits indexed.
    pub fn len(&self) -> usize {
        self.permits.len()
    }

    /// Whether no permit is indexed.
    pub fn is_empty(&self) -> bool {
        self.permits.is_empty()
    }

    /// The permits whose matched route comes within [`NEAR_M`] of `closure` on a day of its
    /// validity, in ledger order.
    pub fn candidates(&self, closure: &Closure) -> Vec<&Permit> {
        let Some(envelope) = envelope(closure) else { return Vec::new() };
        let mut numbers: Vec<u32> =
            self.tree.locate_in_envelope_intersecting(&envelope).map(|leaf| leaf.data).collect();
        numbers.sort_unstable();
        numbers.dedup();
        let mut out: Vec<&Permit> = numbers.into_iter().filter_map(|n| self.permits.get(n as usize)).collect();
        out.sort_unstable_by_key(|p| p.seq);
        out
    }

    /// The version of the network `permit` was matched on.
    pub fn network_of(&self, permit: &Permit) -> Option<&str> {
        self.networks.get(usize::from(permit.network)).map(String::as_str)
    }
}

/// The same permits, matched on the same networks, with the same boxes (the tree's shape,
/// which depends on the order of insertion, aside).
impl PartialEq for RouteIndex {
    fn eq(&self, other: &RouteIndex) -> bool {
        self.networks == other.networks && self.permits == other.permits && self.boxes() == other.boxes()
    }
}

fn day(date: NaiveDate) -> f64 {
    f64::from(date.num_days_from_ce())
}

/// The box a restriction asks about: its geometry widened by [`NEAR_M`], over the days of
/// its validity; `None` without geometry.
fn envelope(closure: &Closure) -> Option<AABB<[f64; 3]>> {
    let first = closure.geometry.first()?;
    let (mut lo, mut hi) = (*first, *first);
    for p in &closure.geometry {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    let dlat = NEAR_M / METRES_PER_DEGREE;
    // A degree of longitude is shortest at the latitude furthest from the equator.
    let widest = (lo[1].abs().max(hi[1].abs()) + dlat).min(89.0);
    let dlon = dlat / widest.to_radians().cos();
    Some(AABB::from_corners(
        [lo[0] - dlon, lo[1] - dlat, day(closure.valid_from.date_naive())],
        [hi[0] + dlon, hi[1] + dlat, day(closure.valid_until.date_naive())],
    ))
}
