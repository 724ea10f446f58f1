//! Bad input gets every problem, each with a JSON Pointer and a plain message; the CLI
//! reports them and exits 2.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use oscar::Reviewer;
use serde_json::{Value, json};

fn spec_example() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/spec-example.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn errors(app: &Value) -> Vec<(String, String)> {
    let reviewer = Reviewer::with_defaults().unwrap();
    match reviewer.review_json(&app.to_string()) {
        Ok(r) => panic!("expected errors, got a review with verdict {:?}", r.verdict),
        Err(e) => e.into_iter().map(|e| (e.pointer, e.message)).collect(),
    }
}

fn pointers(app: &Value) -> Vec<String> {
    errors(app).into_iter().map(|(p, _)| p).collect()
}

#[test]
fn malformed_json_is_one_clear_error() {
    let reviewer = Reviewer::with_defaults().unwrap();
    let e = reviewer.review_json("{\"application_id\": ").unwrap_err();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].pointer, "");
    assert!(e[0].message.starts_with("not valid JSON: EOF while parsing"), "{}", e[0].message);
}

#[test]
fn type_errors_in_several_sections_are_all_reported() {
    let mut app = spec_example();
    app["loaded"]["gross_mass_kg"] = json!("53.5 t");
    app["schedule"]["start"] = json!("1 December");
    app["drivers"][0]["id_number"] = json!(370811);
    app["extra"] = json!(1);
    let e = errors(&app);
    let got: Vec<&str> = e.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(got, ["/extra", "/drivers/0/id_number", "/loaded/gross_mass_kg", "/schedule/start"], "{e:#?}");
    assert_eq!(e[2].1, "wrong type: string \"53.5 t\", expected a number");
    assert_eq!(e[0].1, "is not a field of the application form");
}

#[test]
fn domain_problems_are_all_reported_with_exact_messages() {
    let mut app = spec_example();
    app["agent"]["id_number"] = json!("370802199001011231");
    app["carrier"]["uscc"] = json!("91370800MA3C5Q8K45");
    app["vehicle"]["units"][1]["plate"] = json!("鲁H67890");
    app["vehicle"]["axles"][2]["load_kg"] = json!(-10000);
    app["vehicle"]["axles"][5]["spacing_to_next_m"] = json!(1.3);
    app["schedule"]["end"] = json!("2026-11-30");
    app["route"]["geometry"]["coordinates"] = json!([[116.58, 135.41]]);
    app["cargo"]["height_m"] = json!(4.5);
    let e = errors(&app);
    let expected = [
        (
            "/agent/id_number",
            "ID number `3708************31` check character `1` does not match the first 17 digits (GB 11643)",
        ),
        ("/cargo/height_m", "`4.5` m is not less than the loaded height `4.3` m: the cargo sits on a deck"),
        ("/carrier/uscc", "credit code `91370800MA3C5Q8K45` check character is `5`, expected `4` (GB 32100)"),
        ("/route/geometry/coordinates", "must have between 2 and 100000 entries or characters"),
        (
            "/route/geometry/coordinates",
            "position 0 `[116.58, 135.41]` is not a [lon, lat] in degrees (lon -180..180, lat -90..90)",
        ),
        ("/schedule/end", "`2026-11-30` is before the start `2026-12-01`"),
        ("/vehicle/axles/2/load_kg", "must be between 0.0 and 60000.0 (and above the lower bound), got -10000.0"),
        ("/vehicle/axles/5/spacing_to_next_m", "must be null on the last axle"),
        ("/vehicle/units/1/plate", "plate `鲁H67890` is not a trailer plate but the unit is a trailer"),
    ];
    let got: Vec<(&str, &str)> = e.iter().map(|(p, m)| (p.as_str(), m.as_str())).collect();
    assert_eq!(got, expected);
}

#[test]
fn structural_rules_point_at_the_field() {
    let mut app = spec_example();
    app["vehicle"]["units"] =
        json!([{ "plate": "鲁H6789挂", "role": "trailer" }, { "plate": null, "role": "tractor" }]);
    app["jurisdiction"] = json!("XX");
    let p = pointers(&app);
    assert!(p.contains(&"/jurisdiction".to_string()), "{p:?}");
    assert!(p.contains(&"/vehicle/units/0/role".to_string()), "{p:?}");
    assert!(p.contains(&"/vehicle/units/1/role".to_string()), "{p:?}");
    assert!(p.contains(&"/vehicle/units/1/vin".to_string()), "{p:?}");
}

#[test]
fn cli_exit_codes_and_json_shape() {
    let bin = env!("CARGO_BIN_EXE_oscar");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/spec-example.json");
    let out = std::process::Command::new(bin).args(["review", example, "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "the SPEC example escalates without road data");
    let review: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "application_id",
        "verdict",
        "over_limit",
        "permit_class",
        "matters",
        "items",
        "anomaly",
        "reasons",
        "versions",
    ] {
        assert!(review.get(key).is_some(), "missing {key}");
    }
    assert_eq!(review["items"].as_array().unwrap().len(), 21);
    assert!(review["versions"]["rulebook"].as_str().unwrap().starts_with("sha256:"));

    let dir = std::env::temp_dir().join(format!("oscar-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"application_id\": 5}").unwrap();
    let out = std::process::Command::new(bin).args(["review", bad.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/application_id: wrong type: integer `5`, expected text"), "{stderr}");

    let out = std::process::Command::new(bin)
        .args(["review", example, "--registry", dir.join("missing").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("companies.jsonl: cannot read"));
    std::fs::remove_dir_all(&dir).unwrap();
}
