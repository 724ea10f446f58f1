//! The text report of `oscar review` as a reviewer reads it: the verdict and a summary
//! first, one reason per root cause with what to check, short version ids, Chinese labels
//! on request, the full evidence only with `--verbose`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

/// `oscar review ARGS` (English unless the arguments say otherwise): its exit code and report.
fn review(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oscar"))
        .arg("review")
        .args(args)
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .output()
        .unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap())
}

/// Whether the text holds a run of 64 hex characters (a whole SHA-256).
fn has_whole_hash(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_hexdigit()).any(|run| run.len() >= 64)
}

#[test]
fn a_route_outside_the_road_data_is_one_reason_with_what_to_check() {
    let (code, report) = review(&["examples/spec-example.json"]);
    assert_eq!(code, 1, "{report}");
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines[1], "verdict: ESCALATE — a reviewer decides");
    let summary = report.split("\n\n").nth(1).unwrap().replace('\n', " ");
    assert!(summary.contains("for the 1 reason(s) below") && summary.contains("5 could not be checked"), "{report}");
    let why = report.find("Why it escalates:").unwrap();
    assert!(why < report.find("Determination").unwrap() && why < report.find("\nRoute\n").unwrap(), "{report}");
    let reasons: Vec<&&str> = lines.iter().filter(|l| l.trim_start().starts_with(char::is_numeric)).collect();
    assert_eq!(reasons.len(), 1, "one root cause, one reason:\n{report}");
    assert!(
        reasons[0].contains("outside the road data") && reasons[0].contains("R1–R5 could not be checked"),
        "{report}"
    );
    assert!(
        report.contains("what to check: check the route by hand") && report.contains("oscar import-osm"),
        "{report}"
    );
    for id in ["R1", "R2", "R3", "R4", "R5"] {
        assert!(
            lines.iter().any(|l| l.starts_with(&format!("  {id} ?")) && l.ends_with("see reason 1")),
            "{id}:\n{report}"
        );
    }
    assert!(!has_whole_hash(&report), "a whole hash in the report:\n{report}");
    let versions = lines.iter().find(|l| l.starts_with("versions: ")).unwrap();
    let rulebook = versions.split("rulebook ").nth(1).unwrap().split(' ').next().unwrap();
    assert!(rulebook.len() == 12 && rulebook.chars().all(|c| c.is_ascii_hexdigit()), "{versions}");
    for jargon in ["HMM", "confidence", "leaves the area covered"] {
        assert!(!report.contains(jargon), "`{jargon}` in the report:\n{report}");
    }
}

#[test]
fn an_approval_says_so_first_and_lists_no_reasons() {
    let (code, report) = review(&["examples/helsinki-example.json"]);
    assert_eq!(code, 0, "{report}");
    assert!(report.lines().nth(1) == Some("verdict: APPROVE"), "{report}");
    assert!(report.contains("oscar approves this application"), "{report}");
    assert!(!report.contains("Why it escalates"), "{report}");
}

#[test]
fn lang_zh_labels_the_items_statuses_and_verdict_in_chinese() {
    let (code, report) = review(&["examples/spec-example.json", "--lang", "zh"]);
    assert_eq!(code, 1);
    assert!(report.contains("结论: 转人工审核"), "{report}");
    for label in
        ["经办人授权", "驾驶人资格", "营业执照", "道路运输证", "路线几何", "净空高度", "通行时段", "货物质量合理性"]
    {
        assert!(report.contains(label), "`{label}` missing:\n{report}");
    }
    for label in ["人员", "企业资质", "车辆", "路线", "货物", "通过", "无法核实", "转人工审核的原因", "下一步"]
    {
        assert!(report.contains(label), "`{label}` missing:\n{report}");
    }
    assert!(!report.contains("agent authorised") && !report.contains("unverified"), "{report}");
    // The locale chooses Chinese when no --lang is given.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oscar"))
        .args(["review", "examples/spec-example.json"])
        .env("LANG", "zh_CN.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .output()
        .unwrap();
    assert!(String::from_utf8(out.stdout).unwrap().contains("结论: 转人工审核"));
}

#[test]
fn verbose_shows_the_full_evidence_with_short_version_ids() {
    let (_, report) = review(&["examples/spec-example.json", "--verbose"]);
    assert!(report.contains("the route leaves the area covered by the road data"), "{report}");
    assert!(report.contains("unverified match at [116.58000, 35.41000]"), "{report}");
    assert!(report.contains("basis: Order 62 art. 3"), "{report}");
    assert!(report.contains("records: AUTH-77"), "{report}");
    assert!(!has_whole_hash(&report), "a whole hash in the verbose report:\n{report}");
}
