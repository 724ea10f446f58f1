//! The route items through the command line: other networks (`import-osm`, `--routes`),
//! structure inventories (`import-geojson`) and temporary closures (`--closures`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod routes_common;

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_oscar");

fn example() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/helsinki-example.json").display().to_string()
}

fn review(extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["review".to_string(), example(), "--json".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = Command::new(BIN).args(&args).output().unwrap();
    let code = out.status.code().unwrap();
    assert!(code <= 1, "{}", String::from_utf8_lossy(&out.stderr));
    (code, serde_json::from_slice(&out.stdout).unwrap())
}

fn item<'a>(review: &'a Value, id: &str) -> &'a Value {
    review["items"].as_array().unwrap().iter().find(|i| i["id"] == id).unwrap()
}

#[test]
fn the_shipped_example_is_approved_on_the_embedded_network() {
    let (code, r) = review(&[]);
    assert_eq!(code, 0, "{:#?}", r["reasons"]);
    assert_eq!(r["verdict"], "approve");
    assert!(r["versions"]["routes"].as_str().unwrap().starts_with("sha256:81a7bb78"), "{}", r["versions"]["routes"]);
}

#[test]
fn an_active_closure_on_the_route_fails_r5_and_an_expired_one_does_not() {
    let dir = routes_common::temp_dir("closures");
    let closure = |from: &str, until: &str| {
        json!({"type": "FeatureCollection", "features": [{
            "type": "Feature",
            "properties": {"id": "HEL-2026-771", "reason": "water main works", "valid_from": from, "valid_until": until},
            "geometry": {"type": "Point", "coordinates": [24.93955, 60.16521]}
        }]})
    };
    let active = dir.join("active.geojson");
    std::fs::write(&active, closure("2026-12-02T07:00:00+02:00", "2026-12-03T18:00:00+02:00").to_string()).unwrap();
    let (code, r) = review(&["--closures", active.to_str().unwrap()]);
    assert_eq!(code, 1);
    let r5 = item(&r, "R5");
    assert_eq!(r5["status"], "fail", "{r5:#}");
    assert!(
        r5["message"].as_str().unwrap().starts_with("closure `HEL-2026-771` (water main works) at [24.939"),
        "{}",
        r5["message"]
    );
    assert!(r5["refs"].as_array().unwrap().contains(&json!("closure:HEL-2026-771")));

    let expired = dir.join("expired.geojson");
    std::fs::write(&expired, closure("2026-11-01T07:00:00+02:00", "2026-11-30T18:00:00+02:00").to_string()).unwrap();
    let (code, r) = review(&["--closures", expired.to_str().unwrap()]);
    assert_eq!(item(&r, "R5")["status"], "pass");
    assert_eq!(code, 0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_structure_inventory_restriction_applies_only_on_its_road() {
    let dir = routes_common::temp_dir("inventory");
    std::fs::copy(routes_common::helsinki_dir().join("network.bin"), dir.join("network.bin")).unwrap();
    let inventory = dir.join("structures.geojson");
    let feature = |id: &str, at: [f64; 2]| json!({"type": "Feature", "properties": {"id": id, "max_height_m": 4.0}, "geometry": {"type": "Point", "coordinates": at}});
    // One low structure on Bulevardi, one on Lönnrotinkatu, the parallel street 100 m north.
    std::fs::write(
        &inventory,
        json!({"type": "FeatureCollection", "features": [
            feature("SIGN-1", [24.94098, 60.16571]),
            feature("SIGN-2", [24.93940, 60.16669]),
        ]})
        .to_string(),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["import-geojson", inventory.to_str().unwrap(), "--out", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (code, r) = review(&["--routes", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    let r2 = item(&r, "R2");
    assert_eq!(r2["status"], "fail", "{r2:#}");
    assert_eq!(
        r2["refs"].as_array().unwrap().iter().filter(|x| x.as_str().unwrap().starts_with("geojson:")).count(),
        1,
        "{r2:#}"
    );
    assert!(r2["message"].as_str().unwrap().contains("geojson:SIGN-1"), "{}", r2["message"]);
    assert_ne!(r["versions"]["routes"].as_str().unwrap().get(..15), Some("sha256:81a7bb78"), "a new network version");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn another_extract_imports_and_a_route_outside_it_is_unverified() {
    let Some(pbf) = routes_common::extract("monaco.osm.pbf") else { return };
    let dir = routes_common::temp_dir("monaco");
    let out =
        Command::new(BIN).args(["import-osm", pbf.to_str().unwrap(), "--out", dir.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let info = Command::new(BIN).args(["routes-info", dir.to_str().unwrap()]).output().unwrap();
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(text.contains("monaco.osm.pbf") && text.contains("ways"), "{text}");
    let (code, r) = review(&["--routes", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    let r1 = item(&r, "R1");
    assert_eq!(r1["status"], "unverified");
    assert!(
        r1["message"]
            .as_str()
            .unwrap()
            .starts_with("the route leaves the area covered by the road data at km 0.00 ([24.93736, 60.16445])"),
        "{}",
        r1["message"]
    );
    for id in ["R2", "R3", "R4", "R5"] {
        assert_eq!(item(&r, id)["status"], "unverified", "{id}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_road_data_is_refused_at_start() {
    let dir = routes_common::temp_dir("bad-network");
    std::fs::write(dir.join("network.bin"), b"OSCARNET garbage").unwrap();
    let out = Command::new(BIN).args(["review", &example(), "--routes", dir.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid route network"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.join("closures.geojson"), r#"{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": "X"}, "geometry": {"type": "Point", "coordinates": [24.9, 60.1]}}]}"#).unwrap();
    let out = Command::new(BIN)
        .args(["review", &example(), "--closures", dir.join("closures.geojson").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("closure `X`: `reason` is missing") && stderr.contains("`valid_from` must be"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A route that may pass under a 2.2 m limit on another reading (the route evaluation's
/// Helsinki route 191, seed 11: it goes round a block, and the passage `osm:way/232041537`
/// the truth takes lies beside the matched street) names the loaded height plus margin as
/// the findings show numbers, `4.4` m, not the float sum `4.3999999999999995`.
#[test]
fn another_reading_names_the_height_with_its_margin_as_a_person_reads_it() {
    let drawn = json!([
        [24.9480030, 60.1649060],
        [24.9479407, 60.1652567],
        [24.9479128, 60.1655616],
        [24.9484526, 60.1656212],
        [24.9491993, 60.1656412],
        [24.9496422, 60.1656567],
        [24.9495830, 60.1654833],
        [24.9495019, 60.1652005],
        [24.9495834, 60.1650424],
        [24.9498372, 60.1648210],
        [24.9498300, 60.1646604],
        [24.9498753, 60.1643582],
        [24.9499186, 60.1641706]
    ]);
    let mut app: Value = serde_json::from_str(&std::fs::read_to_string(example()).unwrap()).unwrap();
    app["route"]["geometry"]["coordinates"] = drawn;
    let file = routes_common::temp_dir("reading-height").join("app.json");
    std::fs::write(&file, app.to_string()).unwrap();
    let out = Command::new(BIN).args(["review", file.to_str().unwrap(), "--json"]).output().unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let r2 = item(&r, "R2")["message"].as_str().unwrap().to_string();
    assert!(r2.contains("may use osm:way/232041537"), "{r2}");
    assert!(r2.contains("loaded height + margin `4.4` m exceeds the limit `2.2` m"), "{r2}");
}
