//! End-to-end tests against real servers on 127.0.0.1: the service over HTTP with reqwest,
//! graceful shutdown, and the remote registry (`oscar registry-serve` as a child process)
//! through outage, slowness and malformed answers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod server_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use oscar::registry::RemoteOptions;
use oscar::server::auth::{ApiKeys, Auth};
use oscar::setup::{RegistrySource, ReviewerConfig};
use serde_json::Value;
use server_common::{Oscar, Served, example, recorded_applications, serve_in_process};

const KEY: &str = "e2e-key-0123456789abcdef";

/// Serves `config` in this process on an ephemeral port, with the test key.
async fn serve(config: ReviewerConfig) -> Served {
    serve_in_process(
        config,
        Auth::Keys(ApiKeys::parse("test", &format!("e2e {KEY} *")).unwrap()),
        recorded_applications(),
    )
    .await
}

fn remote(url: &str, call_timeout_ms: u64, retries: u32) -> ReviewerConfig {
    ReviewerConfig {
        registry: RegistrySource::Url(
            url.to_string(),
            RemoteOptions {
                call_timeout: Duration::from_millis(call_timeout_ms),
                retries,
                backoff: Duration::from_millis(10),
                cache_ttl: Duration::ZERO,
                cache_capacity: 100,
                ..RemoteOptions::default()
            },
        ),
        ..ReviewerConfig::default()
    }
}

async fn submit(url: &str, app: &Value) -> (u16, Value, Option<String>) {
    let resp =
        reqwest::Client::new().post(format!("{url}/v1/reviews")).bearer_auth(KEY).json(app).send().await.unwrap();
    let status = resp.status().as_u16();
    let location = resp.headers().get("location").map(|v| v.to_str().unwrap().to_string());
    (status, resp.json().await.unwrap(), location)
}

fn status_of<'a>(review: &'a Value, item: &str) -> &'a str {
    review["items"].as_array().unwrap().iter().find(|i| i["id"] == item).unwrap()["status"].as_str().unwrap()
}

/// The registry items that must not pass when the registry cannot answer.
const REGISTRY_ITEMS: [&str; 4] = ["P1", "C1", "C2", "V1"];

fn assert_unverified_by_registry(review: &Value, why: &str) {
    assert_eq!(review["verdict"], "escalate");
    for item in REGISTRY_ITEMS {
        assert_eq!(status_of(review, item), "unverified", "{item} in {review}");
    }
    let reasons = review["reasons"].as_array().unwrap();
    assert!(reasons.iter().any(|r| r.as_str().unwrap().contains(why)), "no reason mentions `{why}`: {reasons:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_over_http() {
    let s = serve(ReviewerConfig::default()).await;
    let (status, review, location) = submit(&s.url, &example("E2E-1")).await;
    assert_eq!(status, 201);
    assert_eq!(review["verdict"], "approve");
    let location = location.unwrap();
    let client = reqwest::Client::new();
    let got = client.get(format!("{}{location}", s.url)).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(got.status().as_u16(), 200);
    // The review as answered, with its case (oscar approved it) beside it.
    let mut got = got.json::<Value>().await.unwrap();
    assert_eq!(got.as_object_mut().unwrap().remove("case").unwrap()["status"], "auto_approved");
    assert_eq!(got, review);
    let (again, _, _) = submit(&s.url, &example("E2E-1")).await;
    assert_eq!(again, 200);
    let unauth = client.post(format!("{}/v1/reviews", s.url)).json(&example("E2E-2")).send().await.unwrap();
    assert_eq!(unauth.status().as_u16(), 401);
    assert_eq!(unauth.headers()["content-type"], "application/problem+json");
    assert_eq!(s.ledger.verify().unwrap().records, 1);
    s.stop.unwrap().send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), s.task).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_registry_answers_then_outage_escalates() {
    let mut registry = Oscar::start(&["registry-serve", "registry-demo"], "/v1/version");
    let s = serve(remote(&registry.url(), 500, 1)).await;
    let (status, review, _) = submit(&s.url, &example("REM-1")).await;
    assert_eq!(status, 201);
    assert_eq!(review["verdict"], "approve", "{review}");
    let local = oscar::registry::JsonlRegistry::embedded_demo().unwrap();
    use oscar::registry::Registry as _;
    assert_eq!(review["versions"]["registry"], format!("remote:{}", local.version()));

    // The registry goes away: the same application (new id) cannot be verified.
    registry.kill();
    let started = Instant::now();
    let (status, review, _) = submit(&s.url, &example("REM-2")).await;
    assert_eq!(status, 201);
    assert_unverified_by_registry(&review, "cannot be reached");
    assert!(started.elapsed() < Duration::from_secs(5), "outage took {:?}", started.elapsed());
    let metrics = reqwest::get(format!("{}/metrics", s.url)).await.unwrap().text().await.unwrap();
    let errors: u64 =
        metrics.lines().find_map(|l| l.strip_prefix("oscar_registry_errors_total ")).unwrap().parse().unwrap();
    assert!(errors > 0, "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_registry_times_out_and_escalates() {
    let _registry = Oscar::start(&["registry-serve", "registry-demo", "--delay-ms", "600"], "/v1/version");
    let s = serve(remote(&_registry.url(), 100, 1)).await;
    let started = Instant::now();
    let (status, review, _) = submit(&s.url, &example("SLOW-1")).await;
    assert_eq!(status, 201);
    assert_unverified_by_registry(&review, "did not answer in time");
    // Every lookup gave up after two tries of 100 ms, not after the registry's 600 ms.
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_registry_answers_are_unverified() {
    use axum::routing::get;
    // A registry that answers 200 with records of the wrong shape.
    let bad = axum::Router::new()
        .route("/v1/version", get(|| async { axum::Json(serde_json::json!({"version": "bad-1"})) }))
        .route("/v1/{kind}/{key}", get(|| async { axum::Json(serde_json::json!({"uscc": 42, "surprise": true})) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let bad_task = tokio::spawn(async move { axum::serve(listener, bad).await.unwrap() });
    let s = serve(remote(&url, 500, 2)).await;
    let (status, review, _) = submit(&s.url, &example("BAD-1")).await;
    assert_eq!(status, 201);
    assert_unverified_by_registry(&review, "malformed record");
    assert_eq!(review["versions"]["registry"], "remote:bad-1");
    bad_task.abort();
}

/// A registry that answers some keys with the record of another key, and every other key
/// truthfully from the demo registry.
struct Swapping {
    demo: oscar::registry::JsonlRegistry,
    /// (asked, answered with the record of).
    swaps: Vec<(&'static str, &'static str)>,
}

impl Swapping {
    fn key<'a>(&self, asked: &'a str) -> &'a str {
        self.swaps.iter().find(|(a, _)| *a == asked).map_or(asked, |(_, answered)| answered)
    }
}

impl oscar::registry::Registry for Swapping {
    fn company(&self, uscc: &str) -> oscar::registry::Lookup<oscar::registry::CompanyRecord> {
        self.demo.company(self.key(uscc))
    }
    fn person(&self, id_number: &str) -> oscar::registry::Lookup<oscar::registry::PersonRecord> {
        self.demo.person(self.key(id_number))
    }
    fn vehicle(&self, plate: &str) -> oscar::registry::Lookup<oscar::registry::VehicleRecord> {
        self.demo.vehicle(self.key(plate))
    }
    fn vehicle_by_vin(&self, vin: &str) -> oscar::registry::Lookup<oscar::registry::VehicleRecord> {
        self.demo.vehicle_by_vin(self.key(vin))
    }
    fn authorization(&self, reference: &str) -> oscar::registry::Lookup<oscar::registry::AuthorizationRecord> {
        self.demo.authorization(self.key(reference))
    }
    fn version(&self) -> String {
        self.demo.version()
    }
}

/// Serves `swaps` over HTTP with the registry protocol (`oscar registry-serve`'s router) on
/// an ephemeral port; returns its URL.
async fn swapping_registry(swaps: Vec<(&'static str, &'static str)>) -> (String, tokio::task::JoinHandle<()>) {
    let demo = oscar::registry::JsonlRegistry::embedded_demo().unwrap();
    let app = oscar::server::registry::registry_app(Box::new(Swapping { demo, swaps }), Duration::ZERO);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (url, tokio::spawn(async move { axum::serve(listener, app).await.unwrap() }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_for_another_key_is_a_malformed_answer() {
    use oscar::registry::{Lookup, Registry as _, RemoteRegistry};
    // Every key asked for below is answered with a real record of another key.
    let swaps = vec![
        ("91370800MA3C5Q8K44", "913708000000000011"),
        ("37081119850505231X", "370811199003032313"),
        ("鲁H12345", "鲁H6789挂"),
        ("LZZ5BLSJ000000001", "LZZ5BLSJ000000002"),
        ("AUTH-77", "AUTH-OTHER-AGENT"),
    ];
    let (url, task) = swapping_registry(swaps).await;
    let options = RemoteOptions { retries: 0, cache_ttl: Duration::ZERO, ..RemoteOptions::default() };
    let registry = Arc::new(RemoteRegistry::new(&url, options, tokio::runtime::Handle::current()).unwrap());
    let r = Arc::clone(&registry);
    // The registry trait blocks: call it from a blocking thread.
    let (asked, own_found) = tokio::task::spawn_blocking(move || {
        fn reason<T: std::fmt::Debug>(l: Lookup<T>) -> String {
            match l {
                Lookup::Unavailable(why) => why,
                other => panic!("not unavailable: {other:?}"),
            }
        }
        let asked = [
            ("uscc", reason(r.company("91370800MA3C5Q8K44"))),
            ("id_number", reason(r.person("37081119850505231X"))),
            ("plate", reason(r.vehicle("鲁H12345"))),
            ("vin", reason(r.vehicle_by_vin("LZZ5BLSJ000000001"))),
            ("reference", reason(r.authorization("AUTH-77"))),
        ];
        // A key that is answered with its own record is found.
        let own = r.person("370811199003032313");
        (asked, matches!(own, Lookup::Found(p) if p.id_number == "370811199003032313"))
    })
    .await
    .unwrap();
    for (field, why) in &asked {
        let expected =
            format!("the registry answered with a malformed record (its `{field}` is not the one asked for)");
        assert!(why.contains(&expected), "{field}: {why}");
        // Neither ID number is quoted.
        assert!(!why.contains("37081119850505231X") && !why.contains("370811199003032313"), "{why}");
    }
    assert!(own_found);
    // Each counts as a registry error, like any malformed answer.
    assert_eq!(registry.error_counter().load(std::sync::atomic::Ordering::SeqCst), 5);
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_persons_record_does_not_approve_an_unregistered_escort() {
    // The escort person is not registered; the registry answers with a qualified escort's record.
    const UNREGISTERED: &str = "110101199003077571";
    let (url, task) = swapping_registry(vec![(UNREGISTERED, "370811199003032313")]).await;
    let s = serve(remote(&url, 500, 0)).await;
    let mut app = example("SWAP-1");
    app["escort"]["personnel_id_numbers"] = serde_json::json!([UNREGISTERED]);
    let (status, review, _) = submit(&s.url, &app).await;
    assert_eq!(status, 201);
    assert_eq!(review["verdict"], "escalate", "{review}");
    assert_eq!(status_of(&review, "P4"), "unverified", "{review}");
    let reasons = review["reasons"].as_array().unwrap();
    assert!(
        reasons.iter().any(|r| r.as_str().unwrap().contains("its `id_number` is not the one asked for")),
        "{reasons:?}"
    );
    // Only P4 needed that record.
    for item in REGISTRY_ITEMS {
        assert_eq!(status_of(&review, item), "pass", "{item} in {review}");
    }
    let metrics = reqwest::get(format!("{}/metrics", s.url)).await.unwrap().text().await.unwrap();
    assert!(metrics.lines().any(|l| l == "oscar_registry_errors_total 1"), "{metrics}");
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_breaker_stops_asking_a_failing_registry_then_tries_again() {
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::routing::get;
    use oscar::registry::{Lookup, Registry as _, RemoteRegistry};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    // A registry that fails with 503 while `down`, and counts the calls it gets.
    let down = Arc::new(AtomicBool::new(true));
    let calls = Arc::new(AtomicU64::new(0));
    let (d, c) = (Arc::clone(&down), Arc::clone(&calls));
    let flaky = axum::Router::new().route(
        "/v1/{kind}/{key}",
        get(move |Path((_kind, _key)): Path<(String, String)>| async move {
            c.fetch_add(1, Ordering::SeqCst);
            if d.load(Ordering::SeqCst) { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::NOT_FOUND }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let flaky_task = tokio::spawn(async move { axum::serve(listener, flaky).await.unwrap() });
    let options = RemoteOptions {
        retries: 0,
        cache_ttl: Duration::ZERO,
        breaker_failures: 3,
        breaker_pause: Duration::from_millis(300),
        ..RemoteOptions::default()
    };
    let registry = Arc::new(RemoteRegistry::new(&url, options, tokio::runtime::Handle::current()).unwrap());
    // The registry trait blocks: call it from a blocking thread.
    let lookup = |registry: &Arc<RemoteRegistry>| {
        let r = Arc::clone(registry);
        tokio::task::spawn_blocking(move || r.authorization("AUTH-1"))
    };
    for _ in 0..3 {
        let answer = lookup(&registry).await.unwrap();
        assert!(matches!(&answer, Lookup::Unavailable(m) if m.contains("HTTP 503")), "{answer:?}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // Three in a row: the next lookup is refused without a call, naming the last problem.
    let refused = lookup(&registry).await.unwrap();
    assert!(
        matches!(&refused, Lookup::Unavailable(m) if m.contains("3 lookups in a row failed (last: the registry answered HTTP 503")),
        "{refused:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(registry.error_counter().load(Ordering::SeqCst), 4);
    // Back up (it knows no such authorization): after the pause the client asks again, and
    // the answer closes the breaker.
    down.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(400)).await;
    for expected_calls in [4, 5] {
        let answer = lookup(&registry).await.unwrap();
        assert!(matches!(answer, Lookup::Missing), "{answer:?}");
        assert_eq!(calls.load(Ordering::SeqCst), expected_calls);
    }
    flaky_task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_the_review_in_flight() {
    // A slow (300 ms per lookup) but working registry keeps the review in flight.
    let _registry = Oscar::start(&["registry-serve", "registry-demo", "--delay-ms", "300"], "/v1/version");
    let s = serve(remote(&_registry.url(), 2000, 0)).await;
    let url = s.url.clone();
    let in_flight = tokio::spawn(async move { submit(&url, &example("GS-1")).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    s.stop.unwrap().send(()).unwrap();
    let (status, review, _) = tokio::time::timeout(Duration::from_secs(30), in_flight).await.unwrap().unwrap();
    assert_eq!(status, 201);
    assert_eq!(review["verdict"], "approve", "{review}");
    tokio::time::timeout(Duration::from_secs(10), s.task).await.unwrap().unwrap();
    assert!(s.ledger.get("GS-1").unwrap().is_some());
}
