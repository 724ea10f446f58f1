//! Ledger replay: a recorded review replays identically with the same data, and reports
//! which versions and items differ when the data changed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod server_common;

use std::sync::Arc;

use oscar::ledger::{Ledger, SqliteLedger, replay};
use oscar::server::{RegistrySource, ReviewerConfig};
use serde_json::Value;
use server_common::{example, recorded_applications, temp_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_is_identical_and_reports_changed_data() {
    let dir = temp_dir("replay");
    let ledger: Arc<dyn Ledger> = Arc::new(SqliteLedger::create(&dir.join("l.sqlite"), false).unwrap());
    let state = oscar::server::AppState::from_config(
        ReviewerConfig::default(),
        Arc::clone(&ledger),
        oscar::server::auth::Auth::Disabled,
        recorded_applications(),
        None,
    )
    .unwrap();
    let app = oscar::server::app(Arc::new(state));
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
    assert_eq!(report.recorded_verdict, "approve");
    assert_eq!(report.verdict_now.as_deref(), Some("escalate"));
    let names: Vec<&str> = report.versions.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["registry"]);
    assert!(report.items.iter().any(|i| i.id == "C1" && i.recorded == "pass" && i.now == "fail"), "{report:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
