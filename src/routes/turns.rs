//! Where the matched path turns back on itself.
//!
//! A drawing that goes out and comes back (to a depot, round a block, to turn round) is
//! matched as a U-turn in the street when its return lies within the matching
//! uncertainty of its way out. A long vehicle does not turn in the street: it goes round
//! a turning loop, a block or a roundabout, and the restrictions there are on its route.
//! So a U-turn is replaced by the shortest way round that rejoins the path behind it;
//! where there is none nearby, it is reported and the route items are `unverified`.

use crate::routes::matcher::{HeapItem, Piece};
use crate::routes::network::RouteNetwork;
use rustc_hash::FxHashMap as HashMap;
use std::collections::BinaryHeap;

/// The longest way round that replaces a U-turn, metres: a turning loop, a roundabout
/// or a small block. A longer loop would show in the drawing.
pub(crate) const MAX_LOOP_M: f64 = 400.0;

impl RouteNetwork {
    /// The path with each U-turn replaced by the shortest way round within
    /// [`MAX_LOOP_M`], and the points (projected) of the U-turns left where there is none.
    /// A U-turn at a dead end (a yard, a turning place) stays.
    pub(crate) fn turn_around(&self, mut pieces: Vec<Piece>) -> (Vec<Piece>, Vec<[f64; 2]>) {
        let mut left = Vec::new();
        let mut i = 0;
        while i + 1 < pieces.len() {
            let (p, q) = (pieces[i], pieces[i + 1]);
            if !p.reversed_by(&q) || self.node_at(&p, p.f1).is_some_and(|n| self.dead_end(n)) {
                i += 1;
                continue;
            }
            match self.way_round(&pieces, i) {
                Some((loop_pieces, rejoin)) => {
                    let forward = p.f1 > p.f0;
                    let extended = Piece { f1: if forward { 1.0 } else { 0.0 }, ..p };
                    let added = loop_pieces.len();
                    let mut spliced = Vec::with_capacity(pieces.len() + added);
                    spliced.extend_from_slice(&pieces[..i]);
                    spliced.push(extended);
                    spliced.extend(loop_pieces);
                    spliced.extend_from_slice(&pieces[rejoin..]);
                    pieces = spliced;
                    i += added + 1;
                }
                None => {
                    left.push(self.point_xy(p.way, p.seg, p.f1));
                    i += 1;
                }
            }
        }
        (pieces, left)
    }

    /// The shortest way round from where piece `i` turns back to a node where a later
    /// piece starts, not back along the same segment: the pieces of the loop and the
    /// index of the piece it rejoins.
    fn way_round(&self, pieces: &[Piece], i: usize) -> Option<(Vec<Piece>, usize)> {
        let p = pieces[i];
        let (u, v) = self.seg_nodes(p.way, p.seg);
        let forward = p.f1 > p.f0;
        let ahead = if forward { v } else { u };
        let start = self.seg_len(p.way, p.seg) * if forward { 1.0 - p.f1 } else { p.f1 };
        // Nodes where a piece of the way back starts -> the first such piece.
        let mut targets: HashMap<u32, usize> = HashMap::default();
        let mut back_m = 0.0;
        for (k, r) in pieces.iter().enumerate().skip(i + 1) {
            if back_m > MAX_LOOP_M {
                break;
            }
            if k > i + 1
                && let Some(n) = self.node_at(r, r.f0)
            {
                targets.entry(n).or_insert(k);
            }
            back_m += self.seg_len(r.way, r.seg) * (r.f1 - r.f0).abs();
        }
        // Node -> (distance, edge index it was reached by).
        let mut seen: HashMap<u32, (f64, Option<u32>)> = HashMap::default();
        let mut heap = BinaryHeap::new();
        seen.insert(ahead, (start, None));
        heap.push(HeapItem(start, ahead));
        while let Some(HeapItem(d, n)) = heap.pop() {
            if seen.get(&n).is_some_and(|&(best, _)| d > best) {
                continue;
            }
            if let Some(&rejoin) = targets.get(&n)
                && n != ahead
            {
                return Some((self.loop_pieces(&seen, n), rejoin));
            }
            for (ei, &e) in self.edges_from(n) {
                let nd = d + e.len;
                let same_segment = e.way == p.way && e.seg == p.seg;
                if same_segment || nd > MAX_LOOP_M || seen.get(&e.to).is_some_and(|&(best, _)| best <= nd) {
                    continue;
                }
                seen.insert(e.to, (nd, Some(ei)));
                heap.push(HeapItem(nd, e.to));
            }
        }
        None
    }

    /// The pieces of the search's path to `n`, in travel order.
    fn loop_pieces(&self, seen: &HashMap<u32, (f64, Option<u32>)>, n: u32) -> Vec<Piece> {
        let mut out = Vec::new();
        let mut at = n;
        while let Some(&(_, Some(ei))) = seen.get(&at) {
            let e = self.edge(ei);
            out.push(self.edge_piece(e));
            at = self.edge_start(e);
        }
        out.reverse();
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::routes::RouteNetwork;
    use crate::routes::project::dist;

    /// The shipped Helsinki network.
    fn helsinki() -> RouteNetwork {
        RouteNetwork::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("routes-data/helsinki")).unwrap()
    }

    /// Bulevardi (two-way) from the shipped example, `n` vertices from its start.
    fn bulevardi(n: usize) -> Vec<[f64; 2]> {
        (0..n).map(|k| [24.9373588 + 0.0002953 * k as f64, 60.164454 + 0.000104 * k as f64]).collect()
    }

    /// A drawing that goes out along a street and comes back keeps its whole length:
    /// the match never folds the way out and the way back into nothing (each short
    /// reversal removed as an artefact in turn), and it never turns in the street
    /// without saying so (at a dead end, where vehicles turn, it may).
    #[test]
    fn a_drawing_that_comes_back_keeps_its_length_and_never_turns_silently() {
        let net = helsinki();
        let out = bulevardi(12);
        let mut line = out.clone();
        // Back 12 m to the side, as another map draws the other direction.
        line.extend(out.iter().rev().map(|c| [c[0] - 0.00006, c[1] + 0.00009]));
        let m = net.match_route(&line);
        assert!(
            m.length_m >= 0.7 * m.declared_length_m,
            "the way back vanished: {} of {} m",
            m.length_m,
            m.declared_length_m
        );
        let dead_end_at = |p: [f64; 2]| {
            let xy = net.to_xy(p);
            (0..net.node_count() as u32).any(|n| dist(net.node_xy(n), xy) < 0.01 && net.dead_end(n))
        };
        let turns_in_street =
            m.segments.windows(2).any(|w| w[0].way_id == w[1].way_id && w[0].from == w[1].to && !dead_end_at(w[0].to));
        let reported = m.problems.iter().any(|p| p.message.contains("turns back on itself"));
        assert!(!turns_in_street || reported, "a U-turn in the street, unreported: {:?}", m.segments);
    }

    /// Bulevardi west of the example's start is signed `maxlength=12` (osm:way/333061573):
    /// a drawing that starts at the junction may start on it, one 30 m further on may not.
    #[test]
    fn a_route_may_start_on_the_restricted_road_just_behind_its_first_point() {
        let net = helsinki();
        let on = |m: &crate::routes::RouteMatch| m.possible.iter().any(|p| p.hit.source == "osm:way/333061573");
        let mut at_junction = vec![[24.9370606, 60.164352]];
        at_junction.extend(bulevardi(10));
        assert!(on(&net.match_route(&at_junction)), "{:?}", net.match_route(&at_junction).possible);
        let further = bulevardi(12);
        assert!(!on(&net.match_route(&further[1..])), "{:?}", net.match_route(&further[1..]).possible);
    }
}
