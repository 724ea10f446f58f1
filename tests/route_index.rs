//! The index of approved routes against the full scan it replaces: on generated permits on
//! the shipped Helsinki network and restrictions on its real roads, the permits a new
//! restriction affects are the same, found among far fewer candidates and decided from what
//! the index keeps of each permit, without matching it again; and an approval is indexed
//! from its review's own match, giving the entry that matching it again would.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod recheck_common;

use oscar::Reviewer;
use oscar::restrictions::{Affected, affected_among, affected_indexed, approved_route};
use oscar::route_index::{ApprovedRoute, RouteIndex};
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
    let entries: Vec<(i64, _)> =
        approved.iter().zip(1..).map(|((id, json), seq)| (seq, approved_route(&reviewer, id, json).unwrap())).collect();
    // Built at once (the service's start) and one permit at a time (its approvals).
    let (first, rest) = entries.split_at(entries.len() / 2);
    let mut grown = RouteIndex::new(first.to_vec());
    for (seq, p) in rest {
        grown.insert(*seq, p.clone());
    }
    let index = RouteIndex::new(entries);
    assert_eq!((index.len(), grown.len()), (approved.len(), approved.len()));

    // Validity from a day to two months: up to a sixth of the permits travel meanwhile.
    let closures = restrictions(network, 60, 5, |rng| 1 + rng.below(60) as i64);
    let (mut found, mut candidates, mut limited) = (0, 0, 0);
    for closure in &closures {
        let scan = affected_among(&reviewer, closure, approved.iter().map(|(id, json)| (id.as_str(), json.as_str())));
        let indexed = affected_indexed(&reviewer, &index, closure);
        assert!(indexed.stale.is_empty(), "{}: {:?}", closure.id, indexed.stale);
        let seqs: Vec<i64> = indexed.found.iter().map(|(seq, _)| *seq).collect();
        assert!(seqs.is_sorted(), "{}: not in ledger order", closure.id);
        let indexed: Vec<Affected> = indexed.found.into_iter().map(|(_, a)| a).collect();
        assert_eq!(as_json(&indexed), as_json(&scan), "{}", closure.id);
        let from_grown: Vec<Affected> =
            affected_indexed(&reviewer, &grown, closure).found.into_iter().map(|(_, a)| a).collect();
        assert_eq!(as_json(&from_grown), as_json(&scan), "{}", closure.id);
        found += scan.len();
        candidates += index.candidates(closure).len();
        limited += usize::from(closure.limits.is_some() && !scan.is_empty());
    }
    eprintln!(
        "{} restrictions, {} permits: {found} affected, {candidates} candidates checked instead of {}",
        closures.len(),
        approved.len(),
        closures.len() * approved.len()
    );
    assert!(found >= 20, "too few affected permits to compare: {found}");
    assert!(limited >= 1, "no lowered limit affected a permit: the vehicle's kept measures were not compared");
    assert!(candidates <= 3 * found, "the index narrows little: {candidates} candidates for {found} affected");
}

/// The reviewer hands its own match to the service, which indexes the approval from it: the
/// entry is the one that matching the stored application again gives (what the service did
/// before), travel days, vehicle measures and path alike.
#[test]
fn an_approval_is_indexed_from_its_reviews_own_match() {
    let reviewer = Reviewer::with_defaults().unwrap();
    let network = &reviewer.routes().unwrap().network;
    let mut with_path = 0;
    for app in applications(network, 40, 23) {
        let id = app["application_id"].as_str().unwrap();
        let (review, travel) = reviewer.review_with_travel(&app, None).unwrap();
        let travel = travel.expect("a reviewer with a network hands its match over");
        // The match handed over is the review's: its path carries the review's segments.
        let given_back: Option<Vec<_>> = network.segments_of(&travel.matched.path).collect();
        assert_eq!(given_back.as_ref(), Some(&travel.matched.segments), "{id}");
        with_path += usize::from(!travel.matched.segments.is_empty());
        let handed = ApprovedRoute::new(&review.application_id, &travel);
        assert_eq!(Some(handed), approved_route(&reviewer, id, &app.to_string()), "{id}");
    }
    assert!(with_path >= 30, "too few matched routes: {with_path}");
}

/// The compact path gives back the very segments of the match, across gaps, turns and
/// partly travelled segments, for every generated route.
#[test]
fn a_kept_path_gives_back_the_matched_segments() {
    let reviewer = Reviewer::with_defaults().unwrap();
    let network = &reviewer.routes().unwrap().network;
    let mut pieces = 0;
    for app in applications(network, 300, 29) {
        let coords: Vec<[f64; 2]> = serde_json::from_value(app["route"]["geometry"]["coordinates"].clone()).unwrap();
        let matched = network.match_route(&coords);
        let given_back: Option<Vec<_>> = network.segments_of(&matched.path).collect();
        assert_eq!(given_back, Some(matched.segments.clone()), "{}", app["application_id"]);
        pieces += matched.segments.len();
    }
    assert!(pieces > 3_000, "{pieces}");
}

/// A permit indexed on another network than the reviewer's (its data changed while the
/// service ran) is never decided from its kept path, whose numbers are that network's: it
/// comes back to be read from the ledger and matched again.
#[test]
fn a_permit_matched_on_another_network_is_not_decided_from_its_path() {
    let reviewer = Reviewer::with_defaults().unwrap();
    let network = &reviewer.routes().unwrap().network;
    let app = applications(network, 1, 31).remove(0);
    let (_, travel) = reviewer.review_with_travel(&app, None).unwrap();
    let mut travel = travel.unwrap();
    let on_route = travel.matched.segments[travel.matched.segments.len() / 2].from;
    let closure = restrictions(network, 1, 3, |_| 400)
        .into_iter()
        .map(|c| oscar::routes::Closure { geometry: vec![on_route], limits: None, ..c })
        .next()
        .unwrap();
    travel.start = closure.valid_from.date_naive();
    travel.end = travel.start;
    let here = ApprovedRoute::new("A-1", &travel);
    travel.network = "sha256:another".into();
    let elsewhere = ApprovedRoute::new("A-2", &travel);
    let index = RouteIndex::new(vec![(1, here), (2, elsewhere)]);
    let found = affected_indexed(&reviewer, &index, &closure);
    assert_eq!(found.checked, 2);
    let found_ids: Vec<&str> = found.found.iter().map(|(_, a)| a.application_id.as_str()).collect();
    assert_eq!(found_ids, ["A-1"]);
    assert_eq!(found.stale, [(2, "A-2".to_string())]);
}
