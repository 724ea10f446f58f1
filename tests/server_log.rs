//! The log of a real `oscar serve` (a child process on 127.0.0.1, its standard output a
//! file, so not a terminal): plain text without colour codes, or JSON lines on request, and
//! one INFO line per request with its id, caller, method, path, status, latency and verdict.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod server_common;

use serde_json::Value;
use server_common::{Oscar, example, init_ledger, temp_dir};

/// Serves with `extra` arguments at the default log level (the helpers set WARN), submits the Helsinki example
/// and asks for a review that does not exist; returns the log.
async fn log_of(name: &str, extra: &[&str]) -> String {
    let dir = temp_dir(name);
    let ledger = dir.join("ledger.sqlite");
    init_ledger(&ledger);
    let log = dir.join("oscar.log");
    let mut args = vec!["serve", "--no-auth", "--trust-submitted-at", "--ledger", ledger.to_str().unwrap()];
    args.extend(extra);
    let server =
        Oscar::start_with(&args, "/readyz", &[("RUST_LOG", "oscar=info,warn")], std::fs::File::create(&log).unwrap());
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{}/v1/reviews", server.url()))
        .header("x-request-id", "log-test-1")
        .json(&example("LOG-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let missing = client.get(format!("{}/v1/reviews/NOPE", server.url())).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    drop(server);
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    text
}

#[tokio::test]
async fn the_text_log_has_no_colour_codes_and_one_line_per_request() {
    let log = log_of("log-text", &[]).await;
    assert!(!log.contains('\u{1b}'), "colour codes in a log that is not a terminal:\n{log}");
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(" INFO request ") && l.contains(" path=/v1/")).collect();
    assert_eq!(lines.len(), 2, "{log}");
    for want in [
        "id=log-test-1",
        "caller=anonymous",
        "method=POST",
        "path=/v1/reviews ",
        "status=201",
        "latency_ms=",
        "verdict=\"approve\"",
    ] {
        assert!(lines[0].contains(want), "`{want}` missing from {}", lines[0]);
    }
    assert!(lines[1].contains("status=404") && lines[1].contains("path=/v1/reviews/NOPE"), "{}", lines[1]);
    assert!(!lines[1].contains("verdict"), "{}", lines[1]);
    // The Helsinki example's agent: never whole in the log.
    assert!(!log.contains("37080219900101123X"), "{log}");
}

#[tokio::test]
async fn log_format_json_writes_one_object_a_line() {
    let log = log_of("log-json", &["--log-format", "json"]).await;
    let lines: Vec<Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(lines.iter().any(|l| l["message"] == "oscar listening"), "{log}");
    let requests: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request" && l["path"] != "/readyz").collect();
    assert_eq!(requests.len(), 2, "{log}");
    let created = requests[0];
    assert_eq!(created["level"], "INFO");
    assert_eq!(created["id"], "log-test-1");
    assert_eq!(created["caller"], "anonymous");
    assert_eq!(created["method"], "POST");
    assert_eq!(created["path"], "/v1/reviews");
    assert_eq!(created["status"], 201);
    assert_eq!(created["verdict"], "approve");
    assert!(created["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{created}");
    assert_eq!(requests[1]["status"], 404);
    assert!(requests[1].get("verdict").is_none(), "{}", requests[1]);
}
