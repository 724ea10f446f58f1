//! The reviewer's workbench against a real `oscar serve` on 127.0.0.1 with a real ledger
//! file: decisions through the API (validated, recorded with who and when, shown with the
//! review, covered by `ledger verify`), the queue page and the case page.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod server_common;
mod workbench_common;

use std::process::{Command, Stdio};

use serde_json::{Value, json};
use server_common::{Oscar, init_ledger, temp_dir};
use workbench_common::{BY_DUE, ids_in, submit_all};

const REVIEWER: &str = "ana-key-0123456789abcdef";
const READER: &str = "read-key-0123456789abcdef";
const PLATFORM: &str = "platform-key-0123456789ab";

/// A server with keys: `ana` reads and decides, `viewer` only reads, `platform` submits and
/// adds restrictions.
fn server(ledger: &str) -> Oscar {
    let keys = format!("ana {REVIEWER} read,decide;viewer {READER} read;platform {PLATFORM} submit,restrict");
    Oscar::start_with(
        &["serve", "--trust-submitted-at", "--ledger", ledger],
        "/readyz",
        &[("OSCAR_API_KEYS", &keys)],
        Stdio::null(),
    )
}

/// A fresh directory named `name` with a ledger, a server on it, and the cases submitted.
async fn serving(name: &str) -> (std::path::PathBuf, Oscar) {
    let dir = temp_dir(name);
    let ledger = dir.join("ledger.sqlite");
    init_ledger(&ledger);
    let s = server(ledger.to_str().unwrap());
    submit_all(&reqwest::Client::new(), &s.url(), Some(PLATFORM)).await;
    (dir, s)
}

async fn post(server: &Oscar, path: &str, key: &str, body: &Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", server.url()))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn decide(server: &Oscar, id: &str, key: &str, body: Value) -> (u16, Value) {
    post(server, &format!("/v1/reviews/{id}/decisions"), key, &body).await
}

async fn get(server: &Oscar, path: &str, key: &str) -> (u16, String) {
    let resp = reqwest::Client::new().get(format!("{}{path}", server.url())).bearer_auth(key).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn oscar(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_oscar")).args(args).env("RAYON_NUM_THREADS", "1").output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn pointers(problem: &Value) -> Vec<&str> {
    problem["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_are_validated_recorded_shown_and_verified() {
    let (dir, s) = serving("workbench-decisions").await;
    let ledger_path = dir.join("ledger.sqlite");
    let ledger = ledger_path.to_str().unwrap();

    // A refusal without findings is refused, pointing at the field; nothing is stored.
    let reasons = "the load cannot cross the 25 t bridge";
    let (status, problem) = decide(&s, "WB-EARLY", REVIEWER, json!({"kind": "refuse", "reasons": reasons})).await;
    assert_eq!((status, pointers(&problem)), (422, vec!["/findings"]), "{problem}");
    let (status, problem) = decide(
        &s,
        "WB-EARLY",
        REVIEWER,
        json!({"kind": "refuse", "reasons": reasons, "findings": [{"fact": "53.5 t on a 25 t road", "evidence": []}]}),
    )
    .await;
    assert_eq!((status, pointers(&problem)), (422, vec!["/findings/0/evidence"]), "{problem}");
    // The `decide` permission is needed.
    let refusal = json!({"kind": "refuse", "reasons": reasons,
        "findings": [{"fact": "53.5 t declared on roads signed 25 t", "evidence": ["R3", "osm:way/25264802"]}],
        "note": "driver 370802198001011234 called"});
    assert_eq!(decide(&s, "WB-EARLY", READER, refusal.clone()).await.0, 403);
    // With findings, evidence and reasons it is recorded, with who decided.
    let (status, case) = decide(&s, "WB-EARLY", REVIEWER, refusal.clone()).await;
    assert_eq!(status, 201, "{case}");
    assert_eq!(case["status"], "decided");
    assert_eq!(case["decisions"][0]["caller"], "ana");
    assert_eq!(case["decisions"][0]["findings"], refusal["findings"]);
    // An ID number written into a decision is masked wherever it is shown.
    assert_eq!(case["decisions"][0]["note"], "driver 3708************34 called");
    // A decided case, a case oscar approved and an unknown one take no decision.
    assert_eq!(decide(&s, "WB-EARLY", REVIEWER, json!({"kind": "approve"})).await.0, 409);
    assert_eq!(decide(&s, "WB-CLEAN", REVIEWER, json!({"kind": "approve"})).await.0, 409);
    assert_eq!(decide(&s, "NO-SUCH", REVIEWER, json!({"kind": "approve"})).await.0, 404);

    // Information requested: the case waits and the clock stop is noted; then an approval
    // with a standard condition (its value edited) and free text.
    let ask = json!({"kind": "request_information", "information": "the bridge survey for osm:way/317360906"});
    let (status, case) = decide(&s, "WB-TUNNEL", REVIEWER, ask).await;
    assert_eq!((status, &case["status"]), (201, &json!("waiting")), "{case}");
    assert!(case["clock_stopped_at"].as_str().unwrap().ends_with('Z'));
    let approve = json!({"kind": "approve_with_conditions",
        "conditions": [{"id": "escort", "values": {"vehicles": "2"}}, {"text": "Police escort through the tunnel."}]});
    let (status, case) = decide(&s, "WB-TUNNEL", REVIEWER, approve).await;
    assert_eq!((status, &case["status"]), (201, &json!("decided")), "{case}");
    assert_eq!(
        case["decisions"][1]["conditions"][0]["text"],
        "Travel with 2 escort vehicle(s), one ahead of the load."
    );

    // The review shows its case; the review itself is as recorded.
    let (status, body) = get(&s, "/v1/reviews/WB-TUNNEL", READER).await;
    let review: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status, 200);
    assert_eq!(review["verdict"], "escalate");
    let kinds: Vec<&str> =
        review["case"]["decisions"].as_array().unwrap().iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["request_information", "approve_with_conditions"]);
    drop(s);

    // `ledger verify` covers the decisions; `ledger replay` still reproduces the review.
    let (ok, out) = oscar(&["ledger", "verify", "--ledger", ledger]);
    assert!(ok && out.contains("4 record(s), chain intact") && out.contains("3 decision(s)"), "{out}");
    let (ok, out) = oscar(&["ledger", "replay", "WB-TUNNEL", "--ledger", ledger]);
    assert!(ok && out.contains("identical to the recorded review"), "{out}");
    // A decision changed behind oscar's back is found.
    let conn = rusqlite::Connection::open(&ledger_path).unwrap();
    conn.execute_batch(
        "DROP TRIGGER decisions_no_update; UPDATE decisions SET kind = 'approve', decision = '{\"kind\":\"approve\"}' WHERE seq = 1;",
    )
    .unwrap();
    drop(conn);
    let (ok, out) = oscar(&["ledger", "verify", "--ledger", ledger]);
    assert!(!ok && out.contains("decisions broken at decision 1 (application `WB-EARLY`)"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_puts_the_most_urgent_first_and_keeps_decided_cases_findable() {
    let (dir, s) = serving("workbench-queue").await;

    let (status, page) = get(&s, "/", READER).await;
    assert_eq!(status, 200);
    assert_eq!(ids_in(&page, "<tbody>"), BY_DUE, "escalated cases by due date; the approved one is not queued");
    assert!(page.contains("R2 ✘ fail") && page.contains("济宁通达大件运输有限公司"), "{page}");
    // Filters: by item, and by status once one case is decided.
    assert_eq!(ids_in(&get(&s, "/?item=R2", READER).await.1, "<tbody>"), ["WB-TUNNEL"]);
    assert_eq!(decide(&s, "WB-TUNNEL", REVIEWER, json!({"kind": "approve"})).await.0, 201);
    assert_eq!(ids_in(&get(&s, "/", READER).await.1, "<tbody>"), ["WB-EARLY", "WB-LATE"]);
    assert_eq!(ids_in(&get(&s, "/?status=decided", READER).await.1, "<tbody>"), ["WB-TUNNEL"]);
    assert_eq!(ids_in(&get(&s, "/?status=all&class=2", READER).await.1, "<tbody>"), BY_DUE);
    assert!(ids_in(&get(&s, "/?class=3", READER).await.1, "<tbody>").is_empty());
    assert!(ids_in(&get(&s, "/?since=2099-01-01", READER).await.1, "<tbody>").is_empty());
    // A bad filter says which.
    let (status, problem) = get(&s, "/?item=Z9", READER).await;
    assert!(status == 400 && problem.contains("`item`"), "{status} {problem}");
    // The pages need a key that reads: without one they answer the sign-in page; the key may
    // come as the cookie that page sets.
    let with_cookie = |key: &str| {
        let cookie = format!("theme=dark; oscar_key={}", key.replace('-', "%2D"));
        reqwest::Client::new().get(format!("{}/", s.url())).header("cookie", cookie).send()
    };
    let signed_out = reqwest::get(format!("{}/", s.url())).await.unwrap();
    assert_eq!(signed_out.status().as_u16(), 401);
    assert!(signed_out.text().await.unwrap().contains("<form id=\"sign-in\">"));
    assert_eq!(with_cookie(READER).await.unwrap().status().as_u16(), 200);
    let not_a_reader = with_cookie(PLATFORM).await.unwrap();
    assert_eq!(not_a_reader.status().as_u16(), 403);
    assert!(not_a_reader.text().await.unwrap().contains("lacks the `read` permission"));
    // The API never takes the cookie.
    let api =
        reqwest::Client::new().get(format!("{}/v1/reviews", s.url())).header("cookie", format!("oscar_key={READER}"));
    assert_eq!(api.send().await.unwrap().status().as_u16(), 401);
    // Pages of 25: with 27 cases open, the second page holds the last two, filters kept.
    for n in 0..25 {
        let id = format!("WB-MORE-{n:02}");
        let app = workbench_common::case(&id, "r3-weight-limit", "2026-11-26T09:30:00+08:00");
        assert_eq!(post(&s, "/v1/reviews", PLATFORM, &app).await.0, 201, "{id}");
    }
    let first = get(&s, "/?status=open", READER).await.1;
    assert_eq!(ids_in(&first, "<tbody>").len(), 25);
    assert!(first.contains("<a href=\"/?status=open&amp;page=2\">next →</a>"), "{first}");
    let second = ids_in(&get(&s, "/?status=open&page=2", READER).await.1, "<tbody>");
    // Due 2026-12-03, after WB-EARLY and WB-LATE; among themselves in the order they came.
    assert_eq!(second, ["WB-MORE-23", "WB-MORE-24"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_case_page_shows_items_map_and_timeline_as_the_review_says() {
    let (dir, s) = serving("workbench-case").await;
    // A closure on the tunnel during the trip, added after the review.
    let closure = json!({"id": "WB-CLOSURE", "kind": "closure", "reason": "tunnel inspection",
        "valid_from": "2026-12-02T00:00:00Z", "valid_until": "2026-12-03T00:00:00Z",
        "geometry": {"type": "Point", "coordinates": [24.93617, 60.16938]}});
    assert_eq!(post(&s, "/v1/restrictions", PLATFORM, &closure).await.0, 201);

    let review: Value = serde_json::from_str(&get(&s, "/v1/reviews/WB-TUNNEL", READER).await.1).unwrap();
    let (status, page) = get(&s, "/reviews/WB-TUNNEL", READER).await;
    assert_eq!(status, 200);
    // Verdict and reasons come first.
    let at = |needle: &str| page.find(needle).unwrap_or_else(|| panic!("`{needle}` not on the page"));
    assert!(at("id=\"verdict\"") < at("id=\"reasons\"") && at("id=\"reasons\"") < at("id=\"items\""));
    // Every item with its status mark and both labels; the failing ones as in the review.
    let items = review["items"].as_array().unwrap();
    for item in items {
        let row = format!(
            "id=\"item-{}\" data-item=\"{}\" data-status=\"{}\"",
            item["id"].as_str().unwrap(),
            item["id"].as_str().unwrap(),
            item["status"].as_str().unwrap()
        );
        assert!(page.contains(&format!("<tr class=\"item {}\" {row}", item["status"].as_str().unwrap())), "{row}");
    }
    assert!(page.contains("R2 clearance<br><span lang=\"zh\">净空高度</span>"));
    assert!(page.contains("✘ fail <span lang=\"zh\">不通过</span>"));
    // Map markers: one per restriction the review judged on the route, each with its result.
    let mut judged: Vec<(String, String)> = items
        .iter()
        .filter(|i| ["R2", "R3", "R4"].contains(&i["id"].as_str().unwrap()))
        .flat_map(|i| {
            i["evidence"]["checks"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["what"].as_str().unwrap().contains(" on osm:"))
                .map(move |c| (i["id"].as_str().unwrap().to_string(), c["status"].as_str().unwrap().to_string()))
        })
        .collect();
    let markers: Vec<(String, String)> = page
        .split("<g class=\"marker ")
        .skip(1)
        .map(|m| {
            let attr =
                |name: &str| m.split(&format!("{name}=\"")).nth(1).unwrap().split('"').next().unwrap().to_string();
            (attr("data-item"), attr("data-status"))
        })
        .collect();
    // The closure added after the review is on the map too, not judged for this case.
    judged.push(("R5".into(), "unverified".into()));
    assert_eq!(markers.len(), 11);
    let mut sorted = (judged.clone(), markers.clone());
    sorted.0.sort();
    sorted.1.sort();
    assert_eq!(sorted.0, sorted.1, "markers {markers:?} against the review's checks {judged:?}");
    for needle in [
        "© OpenStreetMap contributors",
        "class=\"north\"",
        "class=\"scale\"",
        "km 0.01</span> R3 ✘ fail",
        "closure temporary:WB-CLOSURE (closure: tunnel inspection)</code> on closure:temporary:WB-CLOSURE — added after the review",
    ] {
        assert!(page.contains(needle), "`{needle}` not on the page");
    }
    // The timeline: submitted, reviewed, then the closure added that the route meets.
    let kinds = ids_in(&page.replace("data-kind=", "data-id="), "id=\"timeline\"");
    assert_eq!(kinds, ["submitted", "reviewed", "restriction"]);
    assert!(page.contains("<code>WB-CLOSURE</code>"));
    // A case reviewed while the closure is known: R5 fails on it, and its marker says so.
    let after = workbench_common::case("WB-AFTER", "r2-r4-service-tunnel", "2026-11-20T09:30:00+08:00");
    assert_eq!(post(&s, "/v1/reviews", PLATFORM, &after).await.0, 201);
    let page_after = get(&s, "/reviews/WB-AFTER", READER).await.1;
    assert!(page_after.contains("data-item=\"R5\" data-status=\"fail\" data-source=\"closure:temporary:WB-CLOSURE\""));
    // The decision form posts to the decisions API; a decided case shows no form.
    assert!(page.contains("data-action=\"/v1/reviews/WB-TUNNEL/decisions\""));
    assert_eq!(decide(&s, "WB-TUNNEL", REVIEWER, json!({"kind": "approve"})).await.0, 201);
    let page = get(&s, "/reviews/WB-TUNNEL", READER).await.1;
    assert!(!page.contains("id=\"decision\"") && page.contains("already decided"));
    assert_eq!(get(&s, "/reviews/NO-SUCH", READER).await.0, 404);
    let _ = std::fs::remove_dir_all(&dir);
}
