//! Bad input gets every problem, each with a JSON Pointer and a plain message; the CLI
//! reports them and exits 2.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod server_common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

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

const TWICE: &str = "appears more than once in its object";

/// `text` with a value put before the first `"key":`, so that the key appears twice in its
/// object (the first value differs from the one kept by a reader that takes the last).
fn repeat_key(text: &str, key: &str, first: &str) -> String {
    let at = format!("\"{key}\":");
    assert!(text.contains(&at), "`{key}` is not in the document");
    text.replacen(&at, &format!("{at}{first},{at}"), 1)
}

/// The SPEC example with `application_id` and the first unit's `plate` each given twice.
fn spec_with_duplicate_keys() -> String {
    let text = repeat_key(&spec_example().to_string(), "application_id", "\"JN-OTHER\"");
    repeat_key(&text, "plate", "null")
}

fn review_file(path: &std::path::Path, json: bool) -> Output {
    let mut args = vec!["review", path.to_str().unwrap()];
    if json {
        args.push("--json");
    }
    Command::new(env!("CARGO_BIN_EXE_oscar")).args(args).output().unwrap()
}

#[test]
fn duplicate_keys_are_refused_with_their_pointers() {
    let reviewer = Reviewer::with_defaults().unwrap();
    let errors = reviewer.review_json(&spec_with_duplicate_keys()).unwrap_err();
    let got: Vec<(&str, &str)> = errors.iter().map(|e| (e.pointer.as_str(), e.message.as_str())).collect();
    assert_eq!(got, [("/application_id", TWICE), ("/vehicle/units/0/plate", TWICE)]);

    let dir = server_common::temp_dir("input-duplicates");
    let file = dir.join("duplicates.json");
    std::fs::write(&file, spec_with_duplicate_keys()).unwrap();
    let out = review_file(&file, true);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        printed,
        json!({"errors": [
            {"pointer": "/application_id", "message": TWICE},
            {"pointer": "/vehicle/units/0/plate", "message": TWICE},
        ]})
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let with_bom = format!("\u{feff}{}", spec_example());
    let reviewer = Reviewer::with_defaults().unwrap();
    assert!(reviewer.review_json(&with_bom).is_ok(), "a leading byte-order mark is not part of the document");

    let dir = server_common::temp_dir("input-bom");
    let file = dir.join("bom.json");
    std::fs::write(&file, &with_bom).unwrap();
    let out = review_file(&file, false);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn non_utf8_input_is_invalid_input_with_exit_2() {
    let dir = server_common::temp_dir("input-latin1");
    let file = dir.join("latin1.json");
    // `{"application_id": "JN-é"}` written in Latin-1: é is the single byte 0xE9.
    std::fs::write(&file, b"{\"application_id\": \"JN-\xe9\"}").unwrap();
    let out = review_file(&file, false);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("(document): not UTF-8 text: the byte at offset 23 is not UTF-8 (JSON must be UTF-8)"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `oscar review` on an endless input stops at its limit, quickly, with exit 2.
#[cfg(unix)]
#[test]
fn endless_input_is_refused_at_the_limit() {
    for (arg, stdin) in [("/dev/zero", Stdio::null()), ("-", Stdio::from(std::fs::File::open("/dev/zero").unwrap()))] {
        let child = Command::new(env!("CARGO_BIN_EXE_oscar"))
            .args(["review", arg])
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = server_common::output_within(child, Duration::from_secs(30), || false)
            .unwrap_or_else(|| panic!("`oscar review {arg}` on /dev/zero still runs after 30 s"));
        assert_eq!(out.status.code(), Some(2), "{arg}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("(document): is larger than 16 MiB, the most `oscar review` reads"), "{stderr}");
    }
}

#[test]
fn check_rules_refuses_quantities_that_are_not_finite() {
    let dir = server_common::temp_dir("input-rules");
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/cn.toml")).unwrap();
    // Class 2's height: with `inf m` a load of any height would be a class 2 load.
    let class_2_height = "class = 2\nbasis = \"Order 62 art. 14(2)\"\nmax_height = \"4.5 m\"";
    assert!(shipped.contains(class_2_height));
    for (value, why) in [
        ("NaN m", "`NaN` is not a finite number"),
        ("inf m", "`inf` is not a finite number"),
        ("1e400 m", "`1e400` is not a finite number"),
        ("1e308 t", "is too large"),
    ] {
        let file = dir.join("cn.toml");
        let edited = class_2_height.replace("4.5 m", value);
        std::fs::write(&file, shipped.replace(class_2_height, &edited)).unwrap();
        let out =
            Command::new(env!("CARGO_BIN_EXE_oscar")).args(["check-rules", file.to_str().unwrap()]).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let file_named = format!("rulebook {} is invalid", file.display());
        assert!(stderr.contains(&file_named), "{stderr}");
        assert!(stderr.contains(&format!("classes[1].max_height: `{value}` {why}")), "{stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The service reads a body as the CLI reads a file: duplicate keys are field errors (422),
/// a byte-order mark is skipped, and bytes that are not UTF-8 are a malformed request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_reads_json_as_the_cli_does() {
    let dir = server_common::temp_dir("input-server");
    let ledger = dir.join("ledger.sqlite");
    server_common::init_ledger(&ledger);
    let server = server_common::Oscar::start(
        &["serve", "--no-auth", "--trust-submitted-at", "--ledger", ledger.to_str().unwrap()],
        "/readyz",
    );
    let client = reqwest::Client::new();
    let post = |body: Vec<u8>| {
        client.post(format!("{}/v1/reviews", server.url())).header("content-type", "application/json").body(body).send()
    };

    let example = server_common::example("BOM-1").to_string();
    let answer = post(repeat_key(&example, "plate", "\"ABC-123\"").into_bytes()).await.unwrap();
    assert_eq!(answer.status().as_u16(), 422);
    let problem: Value = answer.json().await.unwrap();
    assert_eq!(problem["errors"], json!([{"pointer": "/vehicle/units/0/plate", "message": TWICE}]), "{problem}");

    let answer = post(format!("\u{feff}{example}").into_bytes()).await.unwrap();
    assert_eq!(answer.status().as_u16(), 201, "{}", answer.text().await.unwrap());

    let answer = post(b"{\"application_id\": \"\xff\"}".to_vec()).await.unwrap();
    assert_eq!(answer.status().as_u16(), 400);
    let problem: Value = answer.json().await.unwrap();
    assert_eq!(
        problem["detail"],
        "the body is not UTF-8 text: the byte at offset 20 is not UTF-8 (JSON must be UTF-8)"
    );
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_type_error_and_an_unknown_field_hide_no_check_digit_error() {
    let mut app = spec_example();
    app["loaded"]["width_m"] = json!("wide");
    app["cargo"]["colour"] = json!("red");
    app["cargo"]["shape"] = json!("box");
    app["agent"]["id_number"] = json!("370802199001011230");
    app["carrier"]["uscc"] = json!("91370800MA3C5Q8K40");
    let want = ["/cargo/colour", "/cargo/shape", "/loaded/width_m", "/agent/id_number", "/carrier/uscc"];
    // The text entry point (`oscar review`) and the parsed-value one (the service) alike.
    let reviewer = Reviewer::with_defaults().unwrap();
    let from_value = reviewer.review_value(&app).err().unwrap();
    for errors in [errors(&app), from_value.into_iter().map(|e| (e.pointer, e.message)).collect()] {
        let got: Vec<&str> = errors.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(got, want, "{errors:#?}");
        assert!(errors[3].1.contains("check character `0` does not match"), "{errors:#?}");
        assert!(errors[4].1.contains("expected `4` (GB 32100)"), "{errors:#?}");
    }
}
