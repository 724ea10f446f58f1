//! Importer tests on every OSM extract in `shared/data/osm`: counts checked against an
//! independent, deliberately simple pass over the same file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::type_complexity)]

mod routes_common;

use oscar::routes::{RouteNetwork, RoutesError, import_osm};
use osmpbf::{Element, ElementReader};
use routes_common::{helsinki_dir, osm_extracts, temp_dir};
use std::collections::{BTreeMap, HashMap, HashSet};

// The road classes and limit keys are the importer's definition; what is checked
// independently is the counting over the raw PBF.
const DRIVABLE: [&str; 15] = oscar::routes::DRIVABLE_HIGHWAYS;
const BUS_ONLY: [&str; 2] = oscar::routes::access::BUS_ONLY_HIGHWAYS;
const LIMIT_KEYS: [&str; 10] = oscar::routes::LIMIT_KEYS;

/// A limit key as the importer reads it on ways: plain or for one direction.
fn is_limit_key(k: &str, on_way: bool) -> bool {
    let base = if on_way { k.trim_end_matches(":forward").trim_end_matches(":backward") } else { k };
    LIMIT_KEYS.contains(&base)
}

/// A key of the access hierarchy, plain, directional or conditional.
fn is_access_key(k: &str) -> bool {
    oscar::routes::access::HIERARCHY.contains(&k.split(':').next().unwrap_or_default())
}

/// Independent counts: (distinct drivable ways, key -> (on ways, on nodes)).
fn independent_count(path: &std::path::Path) -> (usize, BTreeMap<String, (usize, usize)>) {
    let mut present: HashSet<i64> = HashSet::new();
    let mut node_tags: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    let mut ways: Vec<(Vec<i64>, Vec<(String, String)>)> = Vec::new();
    ElementReader::from_path(path)
        .expect("open")
        .for_each(|el| {
            let (id, tags): (i64, Vec<(String, String)>) = match el {
                Element::Node(n) => (n.id(), n.tags().map(|(k, v)| (k.into(), v.into())).collect()),
                Element::DenseNode(n) => (n.id(), n.tags().map(|(k, v)| (k.into(), v.into())).collect()),
                Element::Way(w) => {
                    let tags: Vec<(String, String)> = w.tags().map(|(k, v)| (k.into(), v.into())).collect();
                    let get = |k: &str| tags.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
                    let road = |h: &str| DRIVABLE.contains(&h) || BUS_ONLY.contains(&h);
                    if get("highway").is_some_and(road) && get("area") != Some("yes") {
                        ways.push((w.refs().collect(), tags.clone()));
                    }
                    return;
                }
                Element::Relation(_) => return,
            };
            present.insert(id);
            if !tags.is_empty() {
                node_tags.insert(id, tags);
            }
        })
        .expect("read");
    let mut out: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut on_road: HashSet<i64> = HashSet::new();
    let mut n_ways = 0;
    for (refs, tags) in &ways {
        if refs.iter().filter(|r| present.contains(r)).count() < 2 {
            continue;
        }
        n_ways += 1;
        on_road.extend(refs.iter().copied().filter(|r| present.contains(r)));
        for (k, _) in tags {
            if is_limit_key(k, true) || is_access_key(k) {
                out.entry(k.clone()).or_default().0 += 1;
            }
        }
        let get = |key: &str| tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        if get("highway").is_some_and(|h| BUS_ONLY.contains(&h)) && !tags.iter().any(|(k, _)| is_access_key(k)) {
            out.entry("highway".to_string()).or_default().0 += 1;
        }
    }
    for id in &on_road {
        for (k, _) in node_tags.get(id).into_iter().flatten() {
            if is_limit_key(k, false) || is_access_key(k) {
                out.entry(k.clone()).or_default().1 += 1;
            }
        }
    }
    (n_ways, out)
}

#[test]
fn every_extract_imports_with_independently_checked_counts() {
    let Some(extracts) = osm_extracts() else {
        return;
    };
    for pbf in extracts {
        let name = pbf.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let dir = temp_dir(&format!("import-{name}"));
        let report = import_osm(&pbf, &dir).unwrap_or_else(|e| panic!("{name}: {e}"));
        let net = RouteNetwork::load(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
        let info = net.info();
        assert_eq!(report.version, net.version(), "{name}");
        assert!(net.version().starts_with("sha256:") && net.version().len() == 71, "{name}");
        let (ways, counts) = independent_count(&pbf);
        assert_eq!(info.ways, ways, "{name}: drivable ways");
        assert!(info.nodes > info.ways && info.road_km > 1.0, "{name}: {info}");
        for (key, (on_ways, on_nodes)) in &counts {
            let got = info.restrictions.get(key).copied().unwrap_or_default();
            if is_limit_key(key, true) || key == "highway" {
                // Every limit is kept, and every bus-only road without access tags is barred.
                assert_eq!((got.on_ways, got.on_nodes), (*on_ways, *on_nodes), "{name}: {key}");
            } else {
                // An access key is kept where it decides and restricts: never more often
                // than it is written.
                assert!(got.on_ways <= *on_ways && got.on_nodes <= *on_nodes, "{name}: {key}: {got:?}");
            }
        }
        let unparsed_total: usize = info.restrictions.values().map(|c| c.unparsed).sum();
        let reported = report.unparsed.iter().filter(|u| u.key != "layer").count();
        assert_eq!(unparsed_total, reported, "{name}: every unparsed value is reported");
        for (key, c) in &info.restrictions {
            if is_limit_key(key, true) {
                assert_eq!(c.limits + c.words + c.unparsed, c.on_ways + c.on_nodes, "{name}: {key}");
            } else if key != "barrier" {
                assert!(counts.contains_key(key), "{name}: {key} counted only by the importer");
            }
        }
        println!("{info}");
        println!("{report}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn import_is_deterministic() {
    let Some(extracts) = osm_extracts() else {
        return;
    };
    let Some(pbf) = extracts.iter().min_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)) else {
        return;
    };
    let (a, b) = (temp_dir("det-a"), temp_dir("det-b"));
    let ra = import_osm(pbf, &a).expect("import a");
    let rb = import_osm(pbf, &b).expect("import b");
    assert_eq!(ra.version, rb.version);
}

#[test]
fn shipped_network_loads_and_reports() {
    let net = RouteNetwork::load(&helsinki_dir()).expect("shipped network loads");
    let info = net.info();
    let text = info.to_string();
    assert!(text.contains("Helsinki.osm.pbf"), "{text}");
    assert!(info.ways > 500 && info.tunnels > 10, "{text}");
    assert!(info.restrictions.get("maxheight").is_some_and(|c| c.limits >= 15), "{text}");
    let json = serde_json::to_value(&info).expect("serialisable");
    assert_eq!(json["version"], net.version());
}

#[test]
fn corrupt_or_missing_network_is_refused() {
    let dir = temp_dir("corrupt");
    match RouteNetwork::load(&dir) {
        Err(RoutesError::Io { .. }) => {}
        other => panic!("expected an I/O error, got {:?}", other.err()),
    }
    std::fs::write(dir.join("network.bin"), b"NOTANET!\x01\0\0\0").expect("write");
    let err = RouteNetwork::load(&dir).err().expect("bad magic refused").to_string();
    assert!(err.contains("bad magic"), "{err}");
    let mut bytes = std::fs::read(helsinki_dir().join("network.bin")).expect("read shipped");
    bytes[8] = 99;
    std::fs::write(dir.join("network.bin"), &bytes).expect("write");
    let err = RouteNetwork::load(&dir).err().expect("other format refused").to_string();
    assert!(err.contains("format version 99"), "{err}");
    bytes[8] = 1;
    bytes.truncate(bytes.len() / 2);
    std::fs::write(dir.join("network.bin"), &bytes).expect("write");
    let err = RouteNetwork::load(&dir).err().expect("truncated refused").to_string();
    assert!(err.contains("corrupt"), "{err}");
}

#[test]
fn missing_extract_is_an_error_not_a_panic() {
    let dir = temp_dir("missing");
    let err = import_osm(&dir.join("nope.osm.pbf"), &dir).expect_err("error");
    assert!(err.to_string().contains("nope.osm.pbf"), "{err}");
}
