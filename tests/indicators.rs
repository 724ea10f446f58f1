//! The service indicators over HTTP against a real server on 127.0.0.1, recomputed here
//! independently from the ledger's records.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod server_common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use oscar::ledger::{Query, Record, StoredRefusal};
use oscar::registry::RemoteOptions;
use oscar::server::auth::{ApiKeys, Auth};
use oscar::setup::{RegistrySource, ReviewerConfig};
use serde_json::{Value, json};
use server_common::{Served, example, free_port, recorded_applications, serve_in_process};

const KEY: &str = "indicators-key-0123456789abcdef";

async fn serve(config: ReviewerConfig) -> Served {
    let keys = ApiKeys::parse("test", &format!("ops {KEY} *")).unwrap();
    serve_in_process(config, Auth::Keys(keys), recorded_applications()).await
}

async fn post(s: &Served, path: &str, body: String) -> u16 {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", s.url))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    resp.status().as_u16()
}

async fn get(s: &Served, path: &str) -> (u16, String) {
    let resp = reqwest::Client::new().get(format!("{}{path}", s.url)).bearer_auth(KEY).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn indicators(s: &Served, query: &str) -> Value {
    let (status, text) = get(s, &format!("/v1/indicators{query}")).await;
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// Every review record and refusal of the ledger.
fn rows(s: &Served) -> (Vec<Record>, Vec<StoredRefusal>) {
    let records = s.ledger.list(&Query { limit: 10_000, ..Query::default() }).unwrap();
    (records, s.ledger.refusals_after(0, 10_000).unwrap())
}

fn share(part: usize, whole: usize) -> Value {
    if whole == 0 { Value::Null } else { json!(part as f64 / whole as f64) }
}

/// The indicators of the records and refusals with `recorded_at` in `from..to`, computed
/// here from the rows alone.
fn recompute(records: &[Record], refusals: &[StoredRefusal], from: &str, to: &str) -> Value {
    let inside = |at: &str| at >= from && at < to;
    let reviews: Vec<Value> = records
        .iter()
        .filter(|r| inside(&r.entry.recorded_at))
        .map(|r| serde_json::from_str(&r.entry.review).unwrap())
        .collect();
    let refused = refusals.iter().filter(|r| inside(&r.refusal.recorded_at)).count();
    let approved = reviews.iter().filter(|r| r["verdict"] == "approve").count();
    let mut times: Vec<f64> = reviews.iter().map(|r| r["machine_decision_ms"].as_f64().unwrap()).collect();
    times.sort_by(f64::total_cmp);
    let rank = |q: f64| times[((q * times.len() as f64).ceil() as usize).max(1) - 1];
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for line in reviews.iter().flat_map(|r| r["reasons"].as_array().unwrap()) {
        let first = line.as_str().unwrap().split(' ').next().unwrap();
        let item = first.len() == 2 && first.as_bytes()[1].is_ascii_digit();
        *reasons.entry(if item { first.to_string() } else { "case".into() }).or_default() += 1;
    }
    let reusing = reviews.iter().filter(|r| r.get("provenance").is_some()).count();
    let answered = reviews
        .iter()
        .filter(|r| {
            !r["items"].as_array().unwrap().iter().any(|i| {
                i["status"] == "unverified" && i["message"].as_str().unwrap().contains("the registry could not answer")
            })
        })
        .count();
    // Each id's first event over the whole ledger; a refusal without an id is its own.
    let mut events: Vec<(&str, Option<&str>, bool)> =
        refusals.iter().map(|r| (r.refusal.recorded_at.as_str(), r.refusal.application_id.as_deref(), true)).collect();
    events.extend(records.iter().map(|r| (r.entry.recorded_at.as_str(), Some(r.entry.application_id.as_str()), false)));
    events.sort_by(|a, b| a.0.cmp(b.0).then(b.2.cmp(&a.2)));
    let mut seen = BTreeSet::new();
    let firsts: Vec<bool> = events
        .into_iter()
        .filter(|(_, id, _)| id.is_none_or(|id| seen.insert(id)))
        .filter(|(at, _, _)| inside(at))
        .map(|(_, _, was_refused)| was_refused)
        .collect();
    let first_refused = firsts.iter().filter(|r| **r).count();
    json!({
        "applications_received": reviews.len() + refused,
        "reviewed": reviews.len(),
        "refused_for_form_errors": refused,
        "auto_approved": approved,
        "auto_approved_share": share(approved, reviews.len()),
        "machine_decision_time": if times.is_empty() { Value::Null } else {
            json!({"reviews": times.len(), "median_ms": rank(0.5), "p95_ms": rank(0.95), "max_ms": rank(1.0)})
        },
        "escalation_reasons": reasons,
        "first_submissions": firsts.len(),
        "first_submissions_refused": first_refused,
        "first_submission_refused_share": share(first_refused, firsts.len()),
        "reusing": reusing,
        "reuse_share": share(reusing, reviews.len()),
        "registry_answered": answered,
        "registry_availability": share(answered, reviews.len()),
    })
}

/// The answer without its window.
fn figures(mut answer: Value) -> Value {
    let o = answer.as_object_mut().unwrap();
    o.remove("from");
    o.remove("to");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indicators_are_recomputed_from_the_ledger_rows() {
    let s = serve(ReviewerConfig::default()).await;
    assert_eq!(post(&s, "/v1/reviews", example("IND-1").to_string()).await, 201);
    let mut unknown = example("IND-2");
    unknown["vehicle"]["units"][0]["plate"] = json!("鲁H99999");
    assert_eq!(post(&s, "/v1/reviews", unknown.to_string()).await, 201);
    let mut reused = example("IND-3");
    reused["vehicle"] = json!({"ref": "IND-1"});
    assert_eq!(post(&s, "/v1/reviews", reused.to_string()).await, 201);
    // Refused on its first submission, then accepted: one first submission, refused.
    let mut invalid = example("IND-4");
    invalid["loaded"]["gross_mass_kg"] = json!(-1);
    assert_eq!(post(&s, "/v1/reviews", invalid.to_string()).await, 422);
    assert_eq!(post(&s, "/v1/reviews", example("IND-4").to_string()).await, 201);
    // No id to read: a first submission of its own.
    assert_eq!(post(&s, "/v1/reviews", r#"{"a": 1, "a": 2}"#.into()).await, 422);
    let renewal = json!({"application_id": "IND-5", "submitted_at": "2026-11-21T09:30:00+08:00",
        "schedule": {"start": "2026-12-07", "end": "2026-12-09", "trips": 1}});
    assert_eq!(post(&s, "/v1/reviews/IND-1/renewals", renewal.to_string()).await, 201);

    let all = indicators(&s, "").await;
    let (records, refusals) = rows(&s);
    let expected = recompute(&records, &refusals, "", "~");
    assert_eq!(figures(all.clone()), expected);
    // What the scenario makes them, so the recomputation cannot agree by accident.
    assert_eq!(
        (&all["applications_received"], &all["reviewed"], &all["refused_for_form_errors"]),
        (&json!(7), &json!(5), &json!(2))
    );
    assert_eq!((&all["first_submissions"], &all["first_submissions_refused"]), (&json!(6), &json!(2)));
    assert_eq!((&all["reusing"], &all["registry_availability"]), (&json!(2), &json!(1.0)));
    assert_eq!(all["machine_decision_time"]["reviews"], 5);
    assert!(all["escalation_reasons"]["V1"].as_u64().unwrap() >= 1, "{all}");

    // A window from IND-3's record on: IND-1 and IND-2 are left out, and IND-4's first
    // submission (its refusal) is inside.
    let from = &records[2].entry.recorded_at;
    let window = indicators(&s, &format!("?from={from}&to=2999-01-01")).await;
    assert_eq!(window["from"], json!(from));
    assert_eq!(figures(window.clone()), recompute(&records, &refusals, from, "2999-01-01T00:00:00.000000Z"));
    assert_eq!(window["reviewed"], 3);
    let empty = indicators(&s, "?from=2999-01-01").await;
    assert_eq!((&empty["applications_received"], &empty["auto_approved_share"]), (&json!(0), &Value::Null));
    assert_eq!(get(&s, "/v1/indicators?from=yesterday").await.0, 400);

    // The same figures on /metrics, over the whole ledger.
    let (_, metrics) = get(&s, "/metrics").await;
    assert!(metrics.contains("oscar_indicator_applications_received 7\n"), "{metrics}");
    let median = all["machine_decision_time"]["median_ms"].as_f64().unwrap();
    assert!(metrics.contains(&format!("oscar_indicator_machine_decision_ms{{quantile=\"0.5\"}} {median}\n")));
    assert!(metrics.contains(&format!("oscar_indicator_reuse_share {}\n", 2.0 / 5.0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_cannot_answer_lowers_its_availability() {
    let config = ReviewerConfig {
        registry: RegistrySource::Url(
            format!("http://127.0.0.1:{}", free_port()),
            RemoteOptions {
                call_timeout: Duration::from_millis(200),
                retries: 0,
                cache_ttl: Duration::ZERO,
                ..RemoteOptions::default()
            },
        ),
        ..ReviewerConfig::default()
    };
    let s = serve(config).await;
    assert_eq!(post(&s, "/v1/reviews", example("DOWN-1").to_string()).await, 201);
    let answer = indicators(&s, "").await;
    assert_eq!((&answer["registry_answered"], &answer["registry_availability"]), (&json!(0), &json!(0.0)));
    let (records, refusals) = rows(&s);
    assert_eq!(figures(answer), recompute(&records, &refusals, "", "~"));
}
