//! The index of approved routes against the full scan it replaces: on generated permits on
//! the shipped Helsinki network and restrictions on its real roads, the permits a new
//! restriction affects are the same, found among far fewer candidates.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod recheck_common;

use oscar::Reviewer;
use oscar::restrictions::{Affected, affected_among, approved_pieces};
use oscar::route_index::RouteIndex;
use recheck_common::{applications, restrictions};

fn as_json(found: &[Affected]) -> serde_json::Value {
    serde_json::to_value(found).unwrap()
}

#[test]
fn the_index_finds_what_the_full_scan_finds() {
    let reviewer = Reviewer::with_defaults().unwrap();
    let network = &reviewer.routes().unwrap().network;
    let approved: Vec<(String, String)> = applications(network, 1000, 11)
        .into_iter()
        .map(|a| (a["application_id"].as_str().unwrap().to_string(), a.to_string()))
        .collect();
    let pieces: Vec<(i64, _)> = approved
        .iter()
        .zip(1..)
        .map(|((id, json), seq)| (seq, approved_pieces(&reviewer, id, json).unwrap()))
        .collect();
    // Built at once (the service's start) and one permit at a time (its approvals).
    let (first, rest) = pieces.split_at(pieces.len() / 2);
    let mut grown = RouteIndex::new(first.to_vec());
    for (seq, p) in rest {
        grown.insert(*seq, p.clone());
    }
    let index = RouteIndex::new(pieces);
    assert_eq!((index.len(), grown.len()), (approved.len(), approved.len()));

    let by_seq = |seq: i64| {
        let (id, json) = &approved[usize::try_from(seq - 1).unwrap()];
        (id.as_str(), json.as_str())
    };
    // Validity from a day to two months: up to a sixth of the permits travel meanwhile.
    let closures = restrictions(network, 60, 5, |rng| 1 + rng.below(60) as i64);
    let (mut found, mut candidates) = (0, 0);
    for closure in &closures {
        let scan = affected_among(&reviewer, closure, approved.iter().map(|(id, json)| (id.as_str(), json.as_str())));
        let near = index.candidates(closure);
        assert_eq!(grown.candidates(closure), near, "{}", closure.id);
        let indexed = affected_among(&reviewer, closure, near.iter().map(|(seq, _)| by_seq(*seq)));
        assert_eq!(as_json(&indexed), as_json(&scan), "{}", closure.id);
        found += scan.len();
        candidates += near.len();
    }
    eprintln!(
        "{} restrictions, {} permits: {found} affected, {candidates} candidates checked instead of {}",
        closures.len(),
        approved.len(),
        closures.len() * approved.len()
    );
    assert!(found >= 20, "too few affected permits to compare: {found}");
    assert!(candidates <= 3 * found, "the index narrows little: {candidates} candidates for {found} affected");
}
