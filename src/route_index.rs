//! Where and when the approved permits travel: an R-tree over pieces of their matched routes
//! and their schedules, so that a new restriction finds the permits it may affect without
//! matching every approved route again ([`crate::restrictions::affected`]).
//!
//! Each leaf is a box in three dimensions: longitude and latitude around a run of up to
//! [`PIECE_SEGMENTS`] consecutive segments of the matched path, and the travel days of the
//! schedule. A restriction asks for the boxes that meet its geometry, widened by
//! [`NEAR_M`], during its validity; the permits behind them are the candidates, each then
//! checked in full as before. The index only narrows: it never decides.

use chrono::{Datelike, NaiveDate};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use crate::routes::{Closure, RouteMatch};

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

/// An approved permit's pieces, made before it has its place in the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct Pieces {
    application_id: String,
    boxes: Vec<([f64; 3], [f64; 3])>,
}

impl Pieces {
    /// The pieces of `matched` (the approved route as the network matches it) on the days
    /// `start..=end`; an empty match gives none.
    pub fn new(application_id: &str, start: NaiveDate, end: NaiveDate, matched: &RouteMatch) -> Pieces {
        let days = [day(start), day(end)];
        let boxes = matched
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
        Pieces { application_id: application_id.to_string(), boxes }
    }
}

/// The approved permits by where and when they travel.
#[derive(Default)]
pub struct RouteIndex {
    tree: RTree<Leaf>,
    /// Ledger position and application id of each permit, by its number in the tree.
    permits: Vec<(i64, String)>,
}

impl RouteIndex {
    /// An index of `permits`: the ledger position of each and its pieces.
    pub fn new(permits: Vec<(i64, Pieces)>) -> RouteIndex {
        let mut index = RouteIndex::default();
        for (seq, pieces) in permits {
            index.insert(seq, pieces);
        }
        index
    }

    /// Adds a permit recorded at `seq`.
    pub fn insert(&mut self, seq: i64, pieces: Pieces) {
        // INVARIANT: fewer than 2^32 permits (a ledger of approved reviews, not a log).
        let number = u32::try_from(self.permits.len()).unwrap_or(u32::MAX);
        self.permits.push((seq, pieces.application_id));
        // One at a time, never `RTree::bulk_load`: in three dimensions its tree can have
        // leaves at different depths, and a later insertion into it then panics inside rstar
        // 0.12 (found by this module's differential test).
        for (lo, hi) in pieces.boxes {
            self.tree.insert(GeomWithData::new(Rectangle::from_corners(lo, hi), number));
        }
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
    /// validity, as (ledger position, application id), in ledger order.
    pub fn candidates(&self, closure: &Closure) -> Vec<(i64, String)> {
        let Some(envelope) = envelope(closure) else { return Vec::new() };
        let mut numbers: Vec<u32> =
            self.tree.locate_in_envelope_intersecting(&envelope).map(|leaf| leaf.data).collect();
        numbers.sort_unstable();
        numbers.dedup();
        let mut out: Vec<(i64, String)> =
            numbers.into_iter().filter_map(|n| self.permits.get(n as usize)).cloned().collect();
        out.sort_unstable_by_key(|c| c.0);
        out
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
