//! Golden cases: `tests/cases/*.json` each hold a base application (from `examples/`), an
//! RFC 7396 merge patch, and the expected verdict, class, item statuses and messages.
//! Every mismatch of every case is reported at once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::collections::BTreeMap;
use std::path::Path;

use oscar::Reviewer;
use oscar::determination::Matter;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    description: String,
    base: String,
    patch: Value,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    verdict: String,
    permit_class: Option<u8>,
    items: BTreeMap<String, String>,
    #[serde(default)]
    messages: BTreeMap<String, String>,
    #[serde(default)]
    matters: Option<Vec<Matter>>,
    /// A phrase one of the reasons must contain.
    #[serde(default)]
    reason_contains: Option<String>,
}

fn load_cases() -> Vec<(String, Case)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut cases: Vec<(String, Case)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let case: Case = serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.file_stem().unwrap().to_string_lossy().into_owned(), case)
        })
        .collect();
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    cases
}

fn application(case: &Case) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{}.json", case.base));
    let mut app: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    oscar::application::merge_patch(&mut app, &case.patch);
    app.to_string()
}

#[test]
fn golden_cases() {
    let reviewer = Reviewer::with_defaults().unwrap();
    let cases = load_cases();
    assert!(cases.len() >= 40, "expected the full set of golden cases, found {}", cases.len());
    let mut problems = Vec::new();
    for (name, case) in &cases {
        let review = match reviewer.review_json(&application(case)) {
            Ok(r) => r,
            Err(errors) => {
                problems.push(format!("{name}: invalid application: {errors:?}"));
                continue;
            }
        };
        let verdict = serde_json::to_value(review.verdict).unwrap();
        if verdict != case.expect.verdict.as_str() {
            problems.push(format!("{name}: verdict {verdict}, expected {}", case.expect.verdict));
        }
        if review.permit_class != case.expect.permit_class {
            problems.push(format!("{name}: class {:?}, expected {:?}", review.permit_class, case.expect.permit_class));
        }
        if let Some(m) = &case.expect.matters
            && &review.matters != m
        {
            problems.push(format!("{name}: matters {:?}, expected {m:?}", review.matters));
        }
        assert_eq!(review.items.len(), 21);
        for item in &review.items {
            let expected = case.expect.items.get(item.id.as_str()).map_or("pass", String::as_str);
            if item.status.as_str() != expected {
                problems.push(format!(
                    "{name}: {} is {} ({}), expected {expected}",
                    item.id,
                    item.status.as_str(),
                    item.message
                ));
            }
            if let Some(msg) = case.expect.messages.get(item.id.as_str())
                && &item.message != msg
            {
                problems
                    .push(format!("{name}: {} message\n    got      {}\n    expected {msg}", item.id, item.message));
            }
        }
        if let Some(phrase) = &case.expect.reason_contains
            && !review.reasons.iter().any(|r| r.as_str().contains(phrase.as_str()))
        {
            problems.push(format!("{name}: no reason contains `{phrase}`: {:?}", review.reasons));
        }
        let escalates = case.expect.verdict == "escalate";
        if escalates == review.reasons.is_empty() {
            problems.push(format!("{name}: reasons {:?} do not fit the verdict", review.reasons));
        }
        assert!(!case.description.is_empty(), "{name} needs a description");
    }
    assert!(problems.is_empty(), "{} mismatch(es):\n{}", problems.len(), problems.join("\n"));
}

/// A case fails each of the 21 items, one leaves each registry unverified, and every class
/// of the envelope has a clean approval.
#[test]
fn every_item_has_a_failing_case_and_every_registry_an_unverified_one() {
    let cases = load_cases();
    let with = |status: &str, id: &str| cases.iter().any(|(_, c)| c.expect.items.get(id).is_some_and(|s| s == status));
    let missing: Vec<&str> =
        oscar::checks::ITEMS.iter().map(|i| i.id.as_str()).filter(|id| !with("fail", id)).collect();
    assert!(missing.is_empty(), "no golden case fails {missing:?}");
    // One unverified per registry: authorizations (P1), people (P2), companies (C1), vehicles (V1).
    for id in ["P1", "P2", "C1", "V1"] {
        assert!(with("unverified", id), "no golden case leaves {id} unverified");
    }
    for class in [Some(1), Some(2), Some(3), None] {
        assert!(cases.iter().any(|(_, c)| c.expect.permit_class == class), "no case of class {class:?}");
    }
    for class in [1, 2] {
        let approved = |c: &Case| c.expect.permit_class == Some(class) && c.expect.verdict == "approve";
        assert!(cases.iter().any(|(_, c)| approved(c)), "no clean approval of class {class}");
    }
}
