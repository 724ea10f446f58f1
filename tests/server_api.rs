//! Router tests: every endpoint through `app(state)` with `tower::ServiceExt::oneshot`, an
//! in-memory ledger and the shipped data.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod server_common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use oscar::ledger::{Ledger, SqliteLedger};
use oscar::server::auth::{ApiKeys, Auth};
use oscar::server::{AppState, Limits, app};
use oscar::setup::ReviewerConfig;
use serde_json::{Value, json};
use server_common::recorded_applications;
use tower::ServiceExt;

const SUBMIT_KEY: &str = "platform-key-0123456789";
const READ_KEY: &str = "reviewer-key-0123456789";
const OPS_KEY: &str = "ops-key-0123456789abcd";

fn state_with(auth: Auth, limits: Limits) -> (Arc<AppState>, Arc<dyn Ledger>) {
    let ledger: Arc<dyn Ledger> = Arc::new(SqliteLedger::temporary().unwrap());
    let state =
        AppState::from_config(ReviewerConfig::default(), Arc::clone(&ledger), auth, limits, None, None).unwrap();
    (Arc::new(state), ledger)
}

fn open_state() -> (Arc<AppState>, Arc<dyn Ledger>) {
    state_with(Auth::Disabled, recorded_applications())
}

fn keyed_state() -> (Arc<AppState>, Arc<dyn Ledger>) {
    let keys = format!("platform {SUBMIT_KEY} submit,read\nreviewer {READ_KEY} read\nops {OPS_KEY} *");
    state_with(Auth::Keys(ApiKeys::parse("test", &keys).unwrap()), recorded_applications())
}

fn example() -> Value {
    serde_json::from_str(&std::fs::read_to_string("examples/helsinki-example.json").unwrap()).unwrap()
}

fn with_id(mut app: Value, id: &str) -> Value {
    app["application_id"] = json!(id);
    app
}

struct Answer {
    status: StatusCode,
    content_type: String,
    location: Option<String>,
    text: String,
    headers: axum::http::HeaderMap,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

async fn call(state: &Arc<AppState>, method: &str, uri: &str, body: Option<String>, key: Option<&str>) -> Answer {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(k) = key {
        req = req.header(header::AUTHORIZATION, format!("Bearer {k}"));
    }
    let req =
        req.header(header::CONTENT_TYPE, "application/json").body(body.map_or_else(Body::empty, Body::from)).unwrap();
    let resp = app(Arc::clone(state)).oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let content_type = headers.get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let location = headers.get(header::LOCATION).map(|v| v.to_str().unwrap().to_string());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Answer { status, content_type, location, text: String::from_utf8(bytes.to_vec()).unwrap(), headers }
}

async fn post(state: &Arc<AppState>, uri: &str, body: &Value, key: Option<&str>) -> Answer {
    call(state, "POST", uri, Some(body.to_string()), key).await
}

#[tokio::test]
async fn review_is_created_recorded_and_idempotent() {
    let (state, ledger) = open_state();
    let app = with_id(example(), "T-1");
    let a = post(&state, "/v1/reviews", &app, None).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.location.as_deref(), Some("/v1/reviews/T-1"));
    assert_eq!(a.content_type, "application/json");
    assert!(a.headers.contains_key("x-request-id"));
    let review = a.json();
    assert_eq!(review["application_id"], "T-1");
    assert_eq!(review["verdict"], "approve");
    assert_eq!(review["items"].as_array().unwrap().len(), 21);

    // Stored before the answer, with the caller.
    let record = ledger.get("T-1").unwrap().unwrap();
    assert_eq!(record.entry.caller, "anonymous");
    assert_eq!(serde_json::from_str::<Value>(&record.entry.review).unwrap(), review);

    // Same content again (keys in another order): the stored review, 200.
    let reordered: Value = serde_json::from_str(&{
        let mut m: Vec<(String, Value)> = app.as_object().unwrap().clone().into_iter().collect();
        m.reverse();
        let obj: serde_json::Map<String, Value> = m.into_iter().collect();
        Value::Object(obj).to_string()
    })
    .unwrap();
    let again = post(&state, "/v1/reviews", &reordered, None).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json(), review);

    // Same id, different content: 409 problem.
    let mut changed = app.clone();
    changed["schedule"]["trips"] = json!(2);
    let conflict = post(&state, "/v1/reviews", &changed, None).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert_eq!(conflict.content_type, "application/problem+json");
    assert_eq!(conflict.json()["status"], 409);

    let got = call(&state, "GET", "/v1/reviews/T-1", None, None).await;
    assert_eq!(got.status, StatusCode::OK);
    // The review as answered, with the case's status and decisions beside it.
    let mut got = got.json();
    assert_eq!(got["case"], json!({"status": "auto_approved", "decisions": []}));
    got.as_object_mut().unwrap().remove("case");
    assert_eq!(got, review);
    let missing = call(&state, "GET", "/v1/reviews/NOPE", None, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.content_type, "application/problem+json");
    assert_eq!(ledger.verify().unwrap().records, 1);
}

#[tokio::test]
async fn bad_input_is_a_problem_document() {
    let (state, ledger) = open_state();
    let malformed = call(&state, "POST", "/v1/reviews", Some("{\"application_id\": ".into()), None).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.content_type, "application/problem+json");
    assert_eq!(malformed.json()["type"], "/problems/bad-request");

    let not_object = call(&state, "POST", "/v1/reviews", Some("[1, 2]".into()), None).await;
    assert_eq!(not_object.status, StatusCode::BAD_REQUEST);

    let mut app = with_id(example(), "T-bad");
    app["loaded"]["height_m"] = json!(-4.3);
    app["vehicle"]["axles"][1]["load_kg"] = json!("ten tonnes");
    app["carrier"]["uscc"] = json!("91370800MA3C5Q8K45");
    let invalid = post(&state, "/v1/reviews", &app, None).await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", invalid.text);
    assert_eq!(invalid.content_type, "application/problem+json");
    let problem = invalid.json();
    let pointers: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert!(pointers.contains(&"/vehicle/axles/1/load_kg"), "{pointers:?}");
    assert!(problem["errors"].as_array().unwrap().iter().all(|e| e["message"].as_str().is_some_and(|m| !m.is_empty())));
    // Nothing is recorded for invalid input.
    assert_eq!(ledger.verify().unwrap().records, 0);

    let wrong_method = call(&state, "DELETE", "/v1/reviews", None, None).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.content_type, "application/problem+json");

    let unknown = call(&state, "GET", "/v2/nothing", None, None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.content_type, "application/problem+json");
}

#[tokio::test]
async fn receipt_refuses_a_backdated_submission() {
    // The live default: `submitted_at` within 5 minutes of the service's clock.
    let (state, ledger) = state_with(Auth::Disabled, Limits::default());
    // Backdated by months, so that an authorization expired since would still be judged valid.
    let backdated = with_id(example(), "T-backdated");
    assert!(backdated["submitted_at"].as_str().unwrap().starts_with("2026-"));
    let mut backdated = backdated;
    backdated["submitted_at"] = json!("2026-05-01T09:00:00+08:00");
    backdated["schedule"]["start"] = json!("2026-05-02");
    backdated["schedule"]["end"] = json!("2026-05-03");
    let a = post(&state, "/v1/reviews", &backdated, None).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    let errors = a.json()["errors"].clone();
    assert_eq!(errors[0]["pointer"], "/submitted_at", "{errors}");
    assert!(errors[0]["message"].as_str().unwrap().contains("before the service received"), "{errors}");
    // Dated ahead of the clock is refused the same way, with every other error alongside.
    let mut ahead = with_id(example(), "T-ahead");
    let in_an_hour = chrono::Utc::now() + chrono::TimeDelta::hours(1);
    ahead["submitted_at"] = json!(in_an_hour.to_rfc3339());
    ahead["loaded"]["height_m"] = json!(-1);
    let a = post(&state, "/v1/reviews", &ahead, None).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    let pointers: Vec<Value> = a.json()["errors"].as_array().unwrap().iter().map(|e| e["pointer"].clone()).collect();
    assert!(
        pointers.contains(&json!("/submitted_at")) && pointers.contains(&json!("/loaded/height_m")),
        "{pointers:?}"
    );
    assert_eq!(ledger.verify().unwrap().records, 0, "nothing refused is recorded");

    // Submitted now: reviewed, and the ledger records when the service received it.
    let mut live = with_id(example(), "T-live");
    let now = chrono::Utc::now();
    live["submitted_at"] = json!(now.to_rfc3339());
    live["schedule"]["start"] = json!((now + chrono::TimeDelta::days(1)).date_naive().to_string());
    live["schedule"]["end"] = json!((now + chrono::TimeDelta::days(2)).date_naive().to_string());
    let a = post(&state, "/v1/reviews", &live, None).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let recorded = ledger.get("T-live").unwrap().unwrap().entry.recorded_at;
    let recorded = chrono::DateTime::parse_from_rfc3339(&recorded).unwrap();
    assert!((recorded.signed_duration_since(now)).num_seconds().abs() < 5, "{recorded} vs {now}");
}

#[tokio::test]
async fn body_limit_gives_413() {
    let (state, _) = state_with(Auth::Disabled, Limits { body_bytes: 1024, ..recorded_applications() });
    let a = post(&state, "/v1/reviews", &with_id(example(), "T-big"), None).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.text);
    assert_eq!(a.content_type, "application/problem+json");
}

#[tokio::test]
async fn timeout_is_a_503_problem() {
    let (state, ledger) =
        state_with(Auth::Disabled, Limits { request_timeout: Duration::from_millis(100), ..recorded_applications() });
    // A client that sends half a body and stalls.
    let chunks = futures_stall(b"{\"application_id\": \"T-slow\"".to_vec());
    let req = Request::builder()
        .method("POST")
        .uri("/v1/reviews")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(chunks))
        .unwrap();
    let resp = app(Arc::clone(&state)).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let problem: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(problem["type"], "/problems/timeout");
    assert_eq!(ledger.verify().unwrap().records, 0);
}

/// A body stream that yields `first` and then never ends.
fn futures_stall(first: Vec<u8>) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send {
    struct Stall(Option<Vec<u8>>);
    impl futures_core::Stream for Stall {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            match self.0.take() {
                Some(b) => std::task::Poll::Ready(Some(Ok(b))),
                None => std::task::Poll::Pending,
            }
        }
    }
    Stall(Some(first))
}

#[tokio::test]
async fn api_keys_401_403_and_caller_recorded() {
    let (state, ledger) = keyed_state();
    let app = with_id(example(), "T-auth");
    let none = post(&state, "/v1/reviews", &app, None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.headers.get(header::WWW_AUTHENTICATE).unwrap(), "Bearer");
    assert_eq!(none.content_type, "application/problem+json");
    let wrong = post(&state, "/v1/reviews", &app, Some("not-a-key-at-all-xxxx")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let read_only = post(&state, "/v1/reviews", &app, Some(READ_KEY)).await;
    assert_eq!(read_only.status, StatusCode::FORBIDDEN);
    assert!(read_only.json()["detail"].as_str().unwrap().contains("submit"));
    assert_eq!(ledger.verify().unwrap().records, 0);

    let ok = post(&state, "/v1/reviews", &app, Some(SUBMIT_KEY)).await;
    assert_eq!(ok.status, StatusCode::CREATED);
    assert_eq!(ledger.get("T-auth").unwrap().unwrap().entry.caller, "platform");
    assert_eq!(call(&state, "GET", "/v1/reviews/T-auth", None, Some(READ_KEY)).await.status, StatusCode::OK);
    assert_eq!(call(&state, "GET", "/v1/reviews/T-auth", None, None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&state, "GET", "/v1/reviews", None, Some(READ_KEY)).await.status, StatusCode::OK);

    let restriction = json!({"id": "R-auth", "kind": "closure", "reason": "test",
        "valid_from": "2026-12-01T00:00:00Z", "valid_until": "2026-12-02T00:00:00Z",
        "geometry": {"type": "Point", "coordinates": [24.94, 60.17]}});
    assert_eq!(post(&state, "/v1/restrictions", &restriction, Some(SUBMIT_KEY)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(post(&state, "/v1/restrictions", &restriction, Some(OPS_KEY)).await.status, StatusCode::CREATED);

    // Operations endpoints are open.
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json", "/v1/envelope"] {
        assert_eq!(call(&state, "GET", path, None, None).await.status, StatusCode::OK, "{path}");
    }
    assert_eq!(call(&state, "GET", "/readyz", None, None).await.json()["auth"], "keys");
}

#[tokio::test]
async fn queue_filters_paginates_and_masks() {
    let (state, _) = open_state();
    let base = example();
    for i in 0..5 {
        let mut app = with_id(base.clone(), &format!("Q-{i}"));
        if i % 2 == 1 {
            // Divisible cargo: G1 fails, so it escalates.
            app["cargo"]["indivisible"] = json!(false);
        }
        let a = post(&state, "/v1/reviews", &app, None).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    }
    let all = call(&state, "GET", "/v1/reviews?limit=2", None, None).await.json();
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let next = all["next"].as_str().unwrap().to_string();
    let page2 = call(&state, "GET", &format!("/v1/reviews?limit=2&cursor={next}"), None, None).await.json();
    assert_eq!(page2["items"][0]["application_id"], "Q-2");

    let escalated = call(&state, "GET", "/v1/reviews?verdict=escalate&limit=50", None, None).await;
    assert_eq!(escalated.status, StatusCode::OK);
    let page = escalated.json();
    let ids: Vec<&str> =
        page["items"].as_array().unwrap().iter().map(|e| e["application_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["Q-1", "Q-3"]);
    assert!(page.get("next").is_none());
    assert!(!page["items"][0]["reasons"].as_array().unwrap().is_empty());
    // ID numbers are masked in the queue.
    let agent_id = base["agent"]["id_number"].as_str().unwrap();
    assert!(!escalated.text.contains(agent_id));
    assert!(page["items"][0]["agent_id_number"].as_str().unwrap().contains("****"));

    let since_future = call(&state, "GET", "/v1/reviews?since=2999-01-01", None, None).await.json();
    assert!(since_future["items"].as_array().unwrap().is_empty());
    assert_eq!(call(&state, "GET", "/v1/reviews?verdict=reject", None, None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(call(&state, "GET", "/v1/reviews?limit=0", None, None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(call(&state, "GET", "/v1/reviews?since=yesterday", None, None).await.status, StatusCode::BAD_REQUEST);
}

/// A closure along a line of `points` points far from the example's route.
fn far_line(points: usize) -> Value {
    let coordinates: Vec<[f64; 2]> = (0..points).map(|i| [24.90 + 0.01 * i as f64 / points as f64, 60.20]).collect();
    json!({"id": "W-far", "kind": "closure", "reason": "event",
        "valid_from": "2026-12-01T00:00:00Z", "valid_until": "2026-12-31T00:00:00Z",
        "geometry": {"type": "LineString", "coordinates": coordinates}})
}

#[tokio::test]
async fn restriction_lists_affected_approved_reviews_and_applies_to_new_ones() {
    let (state, _) = open_state();
    let app = with_id(example(), "R-1");
    assert_eq!(post(&state, "/v1/reviews", &app, None).await.json()["verdict"], "approve");
    // A second approved review whose schedule is outside the restriction's validity.
    let mut later = with_id(example(), "R-2");
    later["schedule"] = json!({"start": "2026-12-14", "end": "2026-12-18", "trips": 1});
    assert_eq!(post(&state, "/v1/reviews", &later, None).await.json()["verdict"], "approve");

    let on_route = app["route"]["geometry"]["coordinates"][1].clone();
    let restriction = json!({"id": "W-1", "kind": "works", "reason": "resurfacing",
        "valid_from": "2026-12-02T00:00:00+02:00", "valid_until": "2026-12-03T00:00:00+02:00",
        "geometry": {"type": "Point", "coordinates": on_route}});
    let created = post(&state, "/v1/restrictions", &restriction, None).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let body = created.json();
    // Only R-1 travels there during the works: R-2 is not even a candidate to check.
    assert_eq!(body["checked"], 1);
    let affected: Vec<&str> =
        body["affected"].as_array().unwrap().iter().map(|a| a["application_id"].as_str().unwrap()).collect();
    assert_eq!(affected, ["R-1"]);

    // Far away: affects nothing.
    let far = post(&state, "/v1/restrictions", &far_line(2), None).await.json();
    assert!(far["affected"].as_array().unwrap().is_empty());

    assert_eq!(post(&state, "/v1/restrictions", &restriction, None).await.status, StatusCode::CONFLICT);
    let bad = json!({"id": "x y", "kind": "lowered", "reason": "", "valid_from": "2026-12-03T00:00:00Z",
        "valid_until": "2026-12-02T00:00:00Z", "geometry": {"type": "Polygon", "coordinates": []}});
    let bad = post(&state, "/v1/restrictions", &bad, None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["errors"].as_array().unwrap().len(), 5);

    let listed = call(&state, "GET", "/v1/restrictions", None, None).await.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    assert!(listed.get("next").is_none());
    // A page at a time.
    let first = call(&state, "GET", "/v1/restrictions?limit=1", None, None).await.json();
    assert_eq!(first["items"][0]["restriction"]["id"], "W-1");
    let cursor = first["next"].as_str().unwrap();
    let second = call(&state, "GET", &format!("/v1/restrictions?limit=1&cursor={cursor}"), None, None).await.json();
    assert_eq!(second["items"][0]["restriction"]["id"], "W-far");
    assert!(second.get("next").is_none(), "{second}");
    assert_eq!(call(&state, "GET", "/v1/restrictions?limit=500", None, None).await.status, StatusCode::BAD_REQUEST);

    // Junk is not stored to be echoed back to every caller.
    let mut junk = restriction.clone();
    junk["id"] = json!("W-junk");
    junk["reason"] = json!("x".repeat(900_000 / 2));
    junk["geometry"]["padding"] = json!("y".repeat(1000));
    let answer = call(&state, "POST", "/v1/restrictions", Some(junk.to_string()), None).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", &answer.text[..200.min(answer.text.len())]);
    let pointers: Vec<Value> =
        answer.json()["errors"].as_array().unwrap().iter().map(|e| e["pointer"].clone()).collect();
    assert_eq!(pointers, [json!("/reason"), json!("/geometry/padding")]);
    // A key given twice is refused with its pointer, as for applications.
    let twice = r#"{"id": "W-twice", "id": "W-other", "kind": "closure", "reason": "event",
        "valid_from": "2026-12-01T00:00:00Z", "valid_until": "2026-12-31T00:00:00Z",
        "geometry": {"type": "Point", "coordinates": [24.90, 60.20]}}"#;
    let answer = call(&state, "POST", "/v1/restrictions", Some(twice.into()), None).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", answer.text);
    assert_eq!(answer.json()["errors"][0]["pointer"], "/id", "{}", answer.text);
    let mut long_line = far_line(3000);
    long_line["id"] = json!("W-long");
    let answer = post(&state, "/v1/restrictions", &long_line, None).await;
    assert_eq!(answer.json()["errors"][0]["pointer"], "/geometry/coordinates", "{}", answer.text);

    // A new review of the same route now meets the works during its schedule.
    let again = post(&state, "/v1/reviews", &with_id(example(), "R-3"), None).await.json();
    assert_eq!(again["verdict"], "escalate");
    let r5 = again["items"].as_array().unwrap().iter().find(|i| i["id"] == "R5").unwrap();
    assert_eq!(r5["status"], "fail");
    assert!(r5["refs"].as_array().unwrap().iter().any(|r| r == "closure:temporary:W-1"));
}

/// The index of approved routes is filled from the ledger at start: a service started over
/// a ledger with an approved review finds it for a new restriction, and one approved since
/// then too.
#[tokio::test]
async fn approved_reviews_stored_before_the_start_are_found_for_a_new_restriction() {
    let (first, ledger) = open_state();
    let app = with_id(example(), "S-1");
    assert_eq!(post(&first, "/v1/reviews", &app, None).await.json()["verdict"], "approve");
    let started = AppState::from_config(
        ReviewerConfig::default(),
        Arc::clone(&ledger),
        Auth::Disabled,
        recorded_applications(),
        None,
        None,
    )
    .unwrap();
    let started = Arc::new(started);
    assert_eq!(post(&started, "/v1/reviews", &with_id(example(), "S-2"), None).await.json()["verdict"], "approve");
    let on_route = app["route"]["geometry"]["coordinates"][1].clone();
    let restriction = json!({"id": "W-start", "kind": "closure", "reason": "event",
        "valid_from": "2026-12-02T00:00:00+02:00", "valid_until": "2026-12-02T12:00:00+02:00",
        "geometry": {"type": "Point", "coordinates": on_route}});
    let body = post(&started, "/v1/restrictions", &restriction, None).await.json();
    let affected: Vec<&str> =
        body["affected"].as_array().unwrap().iter().map(|a| a["application_id"].as_str().unwrap()).collect();
    assert_eq!(affected, ["S-1", "S-2"], "{body}");
}

#[tokio::test]
async fn lowered_limits_affect_only_the_vehicles_above_them() {
    let (state, _) = open_state();
    // The example: 53.5 t gross, 4.3 m high, approved.
    let app = with_id(example(), "L-1");
    assert_eq!(post(&state, "/v1/reviews", &app, None).await.json()["verdict"], "approve");
    let on_route = app["route"]["geometry"]["coordinates"][2].clone();
    let lowered = |id: &str, limits: Value| {
        json!({"id": id, "kind": "lowered_limit", "reason": "bridge repairs",
            "valid_from": "2026-12-01T00:00:00+02:00", "valid_until": "2026-12-10T00:00:00+02:00",
            "geometry": {"type": "Point", "coordinates": on_route.clone()}, "limits": limits})
    };
    // 60 t and 5 m: the vehicle is within both, nothing to re-check.
    let above = post(
        &state,
        "/v1/restrictions",
        &lowered("LL-high", json!({"max_weight_kg": 60000, "max_height_m": 5.0})),
        None,
    )
    .await;
    assert_eq!(above.status, StatusCode::CREATED, "{}", above.text);
    assert!(above.json()["affected"].as_array().unwrap().is_empty());
    // 40 t: the approved review must be re-checked.
    let below =
        post(&state, "/v1/restrictions", &lowered("LL-40t", json!({"max_weight_kg": 40000})), None).await.json();
    let affected: Vec<&str> =
        below["affected"].as_array().unwrap().iter().map(|a| a["application_id"].as_str().unwrap()).collect();
    assert_eq!(affected, ["L-1"]);

    // A new review meets both: R5 passes the first and fails the second, with the numbers.
    let again = post(&state, "/v1/reviews", &with_id(example(), "L-2"), None).await.json();
    assert_eq!(again["verdict"], "escalate");
    let r5 = again["items"].as_array().unwrap().iter().find(|i| i["id"] == "R5").unwrap();
    assert_eq!(r5["status"], "fail");
    let checks = r5["evidence"]["checks"].as_array().unwrap();
    let failing: Vec<(&str, &Value, &Value)> = checks
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| (c["what"].as_str().unwrap(), &c["observed"], &c["limit"]))
        .collect();
    assert_eq!(failing.len(), 1, "{checks:?}");
    assert!(failing[0].0.starts_with("gross mass under `temporary:LL-40t`"), "{failing:?}");
    assert_eq!((failing[0].1.as_f64(), failing[0].2.as_f64()), (Some(53500.0), Some(40000.0)));
    assert!(
        checks.iter().any(|c| c["what"]
            .as_str()
            .unwrap()
            .starts_with("loaded height + margin under `temporary:LL-high`")
            && c["status"] == "pass")
    );

    // Malformed lowered limits are refused field by field.
    for (bad, pointer) in [
        (
            json!({"id": "X1", "kind": "lowered_limit", "reason": "r", "valid_from": "2026-12-01T00:00:00Z",
            "valid_until": "2026-12-02T00:00:00Z", "geometry": {"type": "Point", "coordinates": [24.93, 60.16]}}),
            "/limits",
        ),
        (lowered("X2", json!({"max_width_m": -3})), "/limits/max_width_m"),
        (lowered("X3", json!({})), "/limits"),
    ] {
        let answer = post(&state, "/v1/restrictions", &bad, None).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", answer.text);
        assert_eq!(answer.json()["errors"][0]["pointer"], pointer, "{}", answer.text);
    }
    let mut closure_with_limits = lowered("X4", json!({"max_weight_kg": 1000}));
    closure_with_limits["kind"] = json!("closure");
    assert_eq!(
        post(&state, "/v1/restrictions", &closure_with_limits, None).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn operations_endpoints() {
    let (state, _) = open_state();
    assert_eq!(call(&state, "GET", "/healthz", None, None).await.json()["status"], "ok");
    let ready = call(&state, "GET", "/readyz", None, None).await.json();
    assert_eq!(ready, json!({"status": "ready", "auth": "disabled"}));
    state.set_ready(false);
    let not_ready = call(&state, "GET", "/readyz", None, None).await;
    assert_eq!(not_ready.status, StatusCode::SERVICE_UNAVAILABLE);
    state.set_ready(true);

    post(&state, "/v1/reviews", &with_id(example(), "M-1"), None).await;
    let metrics = call(&state, "GET", "/metrics", None, None).await;
    assert!(metrics.content_type.starts_with("text/plain"));
    for line in [
        "oscar_reviews_total{verdict=\"approve\"} 1",
        "oscar_review_items_total{item=\"V5\",status=\"pass\"} 1",
        "oscar_review_duration_seconds_count 1",
        "oscar_registry_errors_total 0",
    ] {
        assert!(metrics.text.contains(line), "missing `{line}` in\n{}", metrics.text);
    }

    let doc = call(&state, "GET", "/openapi.json", None, None).await.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in
        ["/v1/reviews", "/v1/reviews/{id}", "/v1/restrictions", "/v1/envelope", "/healthz", "/readyz", "/metrics"]
    {
        assert!(doc["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
    }
    assert!(doc["paths"]["/v1/reviews"]["post"]["responses"].get("422").is_some());
    // Bodies are typed: the form and the review are described field by field.
    let body = &doc["paths"]["/v1/reviews"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(body["$ref"], "#/components/schemas/Application");
    let schemas = &doc["components"]["schemas"];
    for (schema, field) in
        [("Application", "route"), ("Review", "items"), ("ItemResult", "evidence"), ("Axle", "load_kg")]
    {
        assert!(
            schemas[schema]["properties"].get(field).is_some(),
            "{schema}.{field} missing from the OpenAPI document"
        );
    }

    let envelope = call(&state, "GET", "/v1/envelope", None, None).await.json();
    let cn = envelope.as_array().unwrap().iter().find(|e| e["jurisdiction"] == "CN").unwrap();
    assert_eq!(cn["auto_approve_classes"], json!([1, 2]));
}

/// The pointer of every value inside `doc` (not the document itself).
fn pointers(doc: &Value, at: &str, out: &mut Vec<String>) {
    let children: Vec<(String, &Value)> = match doc {
        Value::Object(m) => m.iter().map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v)).collect(),
        Value::Array(a) => a.iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect(),
        _ => Vec::new(),
    };
    for (key, value) in children {
        let pointer = format!("{at}/{key}");
        out.push(pointer.clone());
        pointers(value, &pointer, out);
    }
}

/// `doc` with one value replaced by one of another JSON type, for every value and type.
fn wrong_types(doc: &Value) -> Vec<(String, Value)> {
    let mut all = Vec::new();
    pointers(doc, "", &mut all);
    let kind = |v: &Value| std::mem::discriminant(v);
    let mut out = Vec::new();
    for pointer in all {
        for other in [json!(-7), json!(2.5), json!("seven"), json!([7]), json!({"seven": 7}), json!(true), json!(null)]
        {
            let mut changed = doc.clone();
            let slot = changed.pointer_mut(&pointer).unwrap();
            if kind(slot) != kind(&other) || slot.is_number() {
                *slot = other;
                out.push((pointer.clone(), changed));
            }
        }
    }
    out
}

/// Words of Rust in a message meant for people (quoted input set aside): a primitive's
/// name, serde's `struct`, `enum`, `variant` or `identifier`, or a capitalised name other
/// than the GeoJSON and format names the messages use.
fn rust_words(message: &str) -> Vec<String> {
    const RUST: [&str; 20] = [
        "u8",
        "u16",
        "u32",
        "u64",
        "u128",
        "usize",
        "i8",
        "i16",
        "i32",
        "i64",
        "i128",
        "isize",
        "f32",
        "f64",
        "struct",
        "enum",
        "variant",
        "identifier",
        "Option",
        "Vec",
    ];
    const PLAIN: [&str; 6] = ["JSON", "GeoJSON", "LineString", "Point", "RFC", "UTF"];
    let mut unquoted = String::new();
    let mut quote = None;
    for c in message.chars() {
        match quote {
            None if c == '`' || c == '"' => quote = Some(c),
            None => unquoted.push(c),
            Some(q) if q == c => quote = None,
            Some(_) => {}
        }
    }
    unquoted
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| RUST.contains(w) || (w.starts_with(char::is_uppercase) && !PLAIN.contains(w)))
        .map(str::to_string)
        .collect()
}

/// No problem document names a Rust type: each JSON endpoint gets its document with every
/// value in turn of every other JSON type, and each answer is a 4xx whose detail and field
/// messages speak of JSON (objects, arrays, numbers, text), pointing at the field.
#[tokio::test]
async fn bad_bodies_get_messages_without_rust_types() {
    let (state, _) = open_state();
    let restriction = json!({"id": "T-types", "kind": "lowered_limit", "reason": "bridge repairs",
        "valid_from": "2026-12-01T00:00:00Z", "valid_until": "2026-12-31T00:00:00Z",
        "geometry": {"type": "LineString", "coordinates": [[24.90, 60.20], [24.91, 60.20]]},
        "limits": {"max_weight_kg": 40000}});
    // What serde says unaided is caught.
    for raw in ["wrong type: integer `7`, expected an object Carrier", "expected u32", "unknown variant `x`"] {
        assert!(!rust_words(raw).is_empty(), "{raw}");
    }
    let (mut seen, mut rusty) = (0, std::collections::BTreeSet::new());
    for (uri, doc) in [("/v1/reviews", with_id(example(), "T-types")), ("/v1/restrictions", restriction)] {
        for (pointer, bad) in wrong_types(&doc) {
            let answer = post(&state, uri, &bad, None).await;
            if answer.status.is_success() || answer.status == StatusCode::CONFLICT {
                continue; // a value of any type is accepted there (or was, once)
            }
            assert!(
                answer.status.is_client_error(),
                "{uri} {pointer} = {}: {}",
                bad.pointer(&pointer).unwrap(),
                answer.text
            );
            let problem = answer.json();
            let errors = problem["errors"].as_array().cloned().unwrap_or_default();
            let messages = std::iter::once(&problem["detail"]).chain(errors.iter().map(|e| &e["message"]));
            for message in messages.filter_map(Value::as_str) {
                let words = rust_words(message);
                if !words.is_empty() {
                    rusty.insert(format!("{uri} {pointer}: `{message}` names {words:?}"));
                }
            }
            // A value of another type is pointed at where it is, above it (a section read at
            // once) or inside it; another number, or a null where a field is optional, may
            // break a rule between fields instead.
            let near = |p: &str| !p.is_empty() && (pointer.starts_with(p) || p.starts_with(&pointer));
            let loose =
                doc.pointer(&pointer).is_some_and(Value::is_number) || bad.pointer(&pointer) == Some(&Value::Null);
            assert!(
                loose || errors.iter().filter_map(|e| e["pointer"].as_str()).any(near),
                "{uri} {pointer}: {errors:?}"
            );
            seen += 1;
        }
    }
    assert!(
        rusty.is_empty(),
        "{} messages name Rust types:\n{}",
        rusty.len(),
        rusty.into_iter().collect::<Vec<_>>().join("\n")
    );
    assert!(seen > 500, "{seen} bad bodies");
}
