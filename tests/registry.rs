//! The JSON Lines registry: the shipped demo is reproducible, any directory in the SPEC
//! format works, and bad files are refused with every problem located.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::path::{Path, PathBuf};
use std::process::Command;

use oscar::registry::{JsonlRegistry, Lookup, Registry};

const BIN: &str = env!("CARGO_BIN_EXE_oscar");

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oscar-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("registry-demo")
}

#[test]
fn shipped_demo_registry_is_what_the_generator_makes() {
    let dir = temp("demo");
    let out = Command::new(BIN).args(["demo-registry", "--out", dir.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for name in ["companies.jsonl", "people.jsonl", "vehicles.jsonl", "authorizations.jsonl", "README.md"] {
        let made = std::fs::read_to_string(dir.join(name)).unwrap();
        let shipped = std::fs::read_to_string(shipped().join(name)).unwrap();
        assert!(made == shipped, "registry-demo/{name} differs from `oscar demo-registry`; regenerate it");
    }
    let other = temp("demo-seed");
    Command::new(BIN).args(["demo-registry", "--out", other.to_str().unwrap(), "--seed", "7"]).output().unwrap();
    assert_ne!(
        std::fs::read_to_string(other.join("people.jsonl")).unwrap(),
        std::fs::read_to_string(dir.join("people.jsonl")).unwrap(),
        "the seed must matter"
    );
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(other).unwrap();
}

#[test]
fn demo_identifiers_carry_valid_check_digits() {
    let text = std::fs::read_to_string(shipped().join("people.jsonl")).unwrap();
    let mut checked = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = v["id_number"].as_str().unwrap();
        if !id.starts_with("TX-") {
            assert_eq!(oscar::ids::check_id_number(id), Ok(()), "{id}");
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
    let text = std::fs::read_to_string(shipped().join("companies.jsonl")).unwrap();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let uscc = v["uscc"].as_str().unwrap();
        if !uscc.starts_with("USDOT") {
            assert_eq!(oscar::ids::check_uscc(uscc), Ok(()), "{uscc}");
        }
    }
}

#[test]
fn any_directory_in_the_spec_format_is_used() {
    let dir = temp("custom");
    for name in ["companies.jsonl", "people.jsonl", "vehicles.jsonl", "authorizations.jsonl"] {
        std::fs::copy(shipped().join(name), dir.join(name)).unwrap();
    }
    // Drop the SPEC carrier's authorization: P1 must become unverified.
    let auths = std::fs::read_to_string(dir.join("authorizations.jsonl")).unwrap();
    let kept: String = auths.lines().filter(|l| !l.contains("\"AUTH-77\"")).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("authorizations.jsonl"), kept).unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/spec-example.json");
    let out =
        Command::new(BIN).args(["review", example, "--json", "--registry", dir.to_str().unwrap()]).output().unwrap();
    let review: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(review["items"][0]["id"], "P1");
    assert_eq!(review["items"][0]["status"], "unverified");
    assert_eq!(review["items"][0]["message"], "no authorization record for `AUTH-77` in the registry");
    let reg = JsonlRegistry::load(&dir).unwrap();
    assert!(matches!(reg.authorization("AUTH-77"), Lookup::Missing));
    assert!(matches!(reg.company("91370800MA3C5Q8K44"), Lookup::Found(_)));
    assert_ne!(reg.version(), JsonlRegistry::embedded_demo().unwrap().version(), "the version follows the data");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_lines_and_duplicates_are_all_reported_with_file_and_line() {
    let dir = temp("bad");
    for name in ["companies.jsonl", "people.jsonl", "vehicles.jsonl", "authorizations.jsonl"] {
        std::fs::copy(shipped().join(name), dir.join(name)).unwrap();
    }
    let people = std::fs::read_to_string(dir.join("people.jsonl")).unwrap();
    let first = people.lines().next().unwrap().to_string();
    std::fs::write(dir.join("people.jsonl"), format!("{people}{first}\n{{\"id_number\": 5}}\n")).unwrap();
    let n = people.lines().count();
    let err = JsonlRegistry::load(&dir).unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
    assert!(
        err.problems[0]
            .starts_with(&format!("people.jsonl:{}: duplicate key `37080219900101123X` (first on line 1)", n + 1)),
        "{err}"
    );
    assert!(err.problems[1].starts_with(&format!("people.jsonl:{}: invalid type: integer `5`", n + 2)), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_rules_file_replaces_the_shipped_rulebook_and_bad_rules_are_refused() {
    let dir = temp("rules");
    let cn = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/cn.toml")).unwrap();
    let stricter = cn.replace("ordinary_max_any = \"13000 kg\"", "ordinary_max_any = \"9500 kg\"");
    std::fs::write(dir.join("strict.toml"), &stricter).unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/spec-example.json");
    let out = Command::new(BIN)
        .args(["review", example, "--json", "--rules", dir.join("strict.toml").to_str().unwrap()])
        .output()
        .unwrap();
    let review: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let v5 = review["items"].as_array().unwrap().iter().find(|i| i["id"] == "V5").unwrap();
    assert_eq!(v5["status"], "fail");
    assert_eq!(v5["message"], "heaviest axle (ordinary trailer) `10000` kg exceeds the limit `9500` kg");

    std::fs::write(
        dir.join("bad.toml"),
        cn.replace("max_length = \"18.1 m\"", "max_length = \"18.1\"").replace("[\"Mon\"", "[\"Monday\""),
    )
    .unwrap();
    let out = Command::new(BIN).args(["check-rules", dir.join("bad.toml").to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("overlimit.max_length: `18.1` needs a number and a unit"), "{stderr}");
    assert!(stderr.contains("time_windows.allowed_weekdays: `Monday` is not one of"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}
