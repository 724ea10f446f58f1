//! Ledger replay: a recorded review replays identically with the same data, and reports
//! which versions and items differ when the data changed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod server_common;

use std::sync::Arc;

use oscar::ledger::{Ledger, SqliteLedger, replay};
use oscar::review::{ItemId, Verdict};
use oscar::setup::{RegistrySource, ReviewerConfig};
use serde_json::Value;
use server_common::{example, recorded_applications, temp_dir};

/// The service over `ledger` with the shipped data and no authentication.
fn open_app(ledger: &Arc<dyn Ledger>) -> axum::Router {
    let state = oscar::server::AppState::from_config(
        ReviewerConfig::default(),
        Arc::clone(ledger),
        oscar::server::auth::Auth::Disabled,
        recorded_applications(),
        None,
        None,
    )
    .unwrap();
    oscar::server::app(Arc::new(state))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_is_identical_and_reports_changed_data() {
    let dir = temp_dir("replay");
    let ledger: Arc<dyn Ledger> = Arc::new(SqliteLedger::create(&dir.join("l.sqlite"), false).unwrap());
    let app = open_app(&ledger);
    let body = example("REPLAY-1").to_string();
    let req = axum::http::Request::post("/v1/reviews")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body))
        .unwrap();
    let resp = tower::ServiceExt::oneshot(app, req).await.unwrap();
    assert_eq!(resp.status().as_u16(), 201);

    let same = ReviewerConfig::default().build(&[], None).unwrap().reviewer;
    let report = replay(ledger.as_ref(), &same, "REPLAY-1").unwrap().unwrap();
    assert!(report.identical, "{report:?}");
    assert!(report.versions.is_empty());
    assert!(replay(ledger.as_ref(), &same, "NOPE").unwrap().is_none());

    // The carrier is suspended in a changed copy of the registry.
    let reg = dir.join("registry");
    oscar::tooling::demo_registry::write_demo(&reg, oscar::tooling::demo_registry::SEED).unwrap();
    let uscc = example("x")["carrier"]["uscc"].as_str().unwrap().to_string();
    let companies = std::fs::read_to_string(reg.join("companies.jsonl")).unwrap();
    let changed: Vec<String> = companies
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if v["uscc"] == uscc.as_str() {
                v["status"] = "suspended".into();
            }
            v.to_string()
        })
        .collect();
    std::fs::write(reg.join("companies.jsonl"), changed.join("\n") + "\n").unwrap();
    let config = ReviewerConfig { registry: RegistrySource::Dir(reg), ..ReviewerConfig::default() };
    let other = config.build(&[], None).unwrap().reviewer;
    let report = replay(ledger.as_ref(), &other, "REPLAY-1").unwrap().unwrap();
    assert!(!report.identical);
    assert_eq!(report.recorded_verdict, Verdict::Approve);
    assert_eq!(report.verdict_now, Some(Verdict::Escalate));
    let names: Vec<&str> = report.versions.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["registry"]);
    assert!(report.items.iter().any(|i| i.id == ItemId::C1 && i.recorded == "pass" && i.now == "fail"), "{report:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A restriction as an older version might have stored it: valid then, unreadable now
/// (`change` makes it so).
fn stored_restriction(id: &str, change: impl FnOnce(&mut Value)) -> String {
    let mut r = serde_json::json!({"id": id, "kind": "closure", "reason": "event",
        "valid_from": "2026-12-01T00:00:00Z", "valid_until": "2026-12-31T00:00:00Z",
        "geometry": {"type": "Point", "coordinates": [24.90, 60.20]}});
    change(&mut r);
    r.to_string()
}

/// A stored restriction that no longer reads is never skipped: the service refuses to
/// start naming it and its problem, its restriction list and a new restriction fail
/// (nothing stored), and `ledger replay` of a review recorded after it refuses, while a
/// review recorded before it still replays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_restriction_that_no_longer_reads_is_never_skipped() {
    let dir = temp_dir("unreadable-restriction");
    let path = dir.join("l.sqlite");
    let ledger: Arc<dyn Ledger> = Arc::new(SqliteLedger::create(&path, false).unwrap());
    let app = open_app(&ledger);
    let call = |method: &str, uri: &str, body: String| {
        let req = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body))
            .unwrap();
        tower::ServiceExt::oneshot(app.clone(), req)
    };
    assert_eq!(call("POST", "/v1/reviews", example("UNREAD-1").to_string()).await.unwrap().status(), 201);

    // Stored after the review by a version that knew a `severity` field.
    let unknown_field = stored_restriction("W-sev", |r| r["severity"] = "high".into());
    ledger.add_restriction(&unknown_field, "ops", "2999-01-01T00:00:00.000000Z").unwrap();
    let listed = call("GET", "/v1/restrictions", String::new()).await.unwrap();
    assert_eq!(listed.status(), 500, "the list must not leave it out");
    let new = stored_restriction("W-new", |_| {});
    assert_eq!(call("POST", "/v1/restrictions", new).await.unwrap().status(), 500);
    assert_eq!(ledger.restrictions().unwrap().len(), 1, "nothing stored");

    let replay = |id: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_oscar"))
            .args(["ledger", "replay", id, "--ledger", path.to_str().unwrap()])
            .env("RAYON_NUM_THREADS", "1")
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    // Recorded after the review: not one it used, so the replay is unaffected.
    let (code, text) = replay("UNREAD-1");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("identical"), "{text}");

    // One recorded before the review, with a reason longer than is accepted now.
    let long_reason = stored_restriction("W-long", |r| r["reason"] = "x".repeat(600).into());
    ledger.add_restriction(&long_reason, "ops", "2000-01-01T00:00:00.000000Z").unwrap();
    let (code, text) = replay("UNREAD-1");
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("`W-long`") && text.contains("/reason: must be at most 500 characters"), "{text}");
    drop(app);
    drop(ledger);

    // The service does not start over them, and names each and why.
    let (code, stderr) = server_common::refused(&["serve", "--no-auth", "--ledger", path.to_str().unwrap()], &[]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("`W-sev`") && stderr.contains("/severity: unknown field `severity`"), "{stderr}");
    assert!(stderr.contains("`W-long`") && stderr.contains("/reason: must be at most"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
