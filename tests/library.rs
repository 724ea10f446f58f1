//! The carrier library over HTTP, against a real server on 127.0.0.1 and a real SQLite
//! ledger: archiving, reuse by reference, renewals and amendments, and re-verification of
//! what is reused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod server_common;

use oscar::ledger::{Ledger as _, Part, SqliteLedger};
use oscar::server::auth::{ApiKeys, Auth};
use oscar::setup::ReviewerConfig;
use serde_json::{Value, json};
use server_common::{Served, example, recorded_applications, serve_in_process, temp_dir};

const KEY: &str = "library-key-0123456789abcdef";
const USCC: &str = "91370800MA3C5Q8K44";

async fn serve() -> Served {
    let keys = ApiKeys::parse("test", &format!("platform {KEY} *")).unwrap();
    serve_in_process(ReviewerConfig::default(), Auth::Keys(keys), recorded_applications()).await
}

/// `POST url` with the test key: status and body.
async fn post(url: &str, body: &Value) -> (u16, Value) {
    let resp = reqwest::Client::new().post(url).bearer_auth(KEY).json(body).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn get(url: &str) -> (u16, Value) {
    let resp = reqwest::Client::new().get(url).bearer_auth(KEY).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn item<'a>(review: &'a Value, id: &str) -> &'a Value {
    review["items"].as_array().unwrap().iter().find(|i| i["id"] == id).unwrap()
}

/// Every part of `from` by reference, with a new id.
fn by_reference(id: &str, from: &str) -> Value {
    let mut app = example(id);
    for part in ["agent", "drivers", "escort", "vehicle", "route"] {
        app[part] = json!({ "ref": from });
    }
    app
}

/// The recorded application of `id`, parsed.
fn recorded(s: &Served, id: &str) -> Value {
    serde_json::from_str(&s.ledger.get(id).unwrap().unwrap().entry.application).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_application_a_reference_a_renewal_and_an_amendment() {
    let s = serve().await;
    let (status, first) = post(&format!("{}/v1/reviews", s.url), &example("LIB-1")).await;
    assert_eq!((status, first["verdict"].as_str()), (201, Some("approve")), "{first}");
    assert!(first.get("provenance").is_none(), "nothing was reused: {first}");

    // The library lists each part once, from LIB-1, ID numbers masked.
    let (status, library) = get(&format!("{}/v1/carriers/{USCC}/library", s.url)).await;
    assert_eq!(status, 200);
    let listed: Vec<(&str, &str)> = library["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["part"].as_str().unwrap(), e["ref"].as_str().unwrap()))
        .collect();
    let parts = ["agent", "drivers", "escort", "vehicle", "route"];
    assert_eq!(listed, parts.map(|p| (p, "LIB-1")));
    let text = library.to_string();
    for id_number in ["37080219900101123X", "37081119850505231X", "370811199003032313"] {
        assert!(!text.contains(id_number), "{id_number} unmasked in {text}");
    }
    assert_eq!(library["items"][0]["content"]["id_number"], "3708************3X");

    // By reference: expanded before review, recorded expanded, reused parts listed.
    let (status, second) = post(&format!("{}/v1/reviews", s.url), &by_reference("LIB-2", "LIB-1")).await;
    assert_eq!((status, second["verdict"].as_str()), (201, Some("approve")), "{second}");
    let reused: Vec<(&str, &str)> = second["provenance"]["reused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["part"].as_str().unwrap(), r["from"].as_str().unwrap()))
        .collect();
    assert_eq!(reused, parts.map(|p| (p, "LIB-1")));
    let mut expected = recorded(&s, "LIB-1");
    expected["application_id"] = json!("LIB-2");
    assert_eq!(recorded(&s, "LIB-2"), expected, "the expanded application is what is recorded");
    let (_, stored) = get(&format!("{}/v1/reviews/LIB-2", s.url)).await;
    assert_eq!(stored["provenance"], second["provenance"]);
    assert!(stored["machine_decision_ms"].as_f64().unwrap() > 0.0);
    // Replay reviews the recorded (expanded) application: the same review.
    let reviewer = tokio::task::spawn_blocking(|| oscar::Reviewer::with_defaults().unwrap()).await.unwrap();
    let replayed = oscar::ledger::replay(s.ledger.as_ref(), &reviewer, "LIB-2").unwrap().unwrap();
    assert!(replayed.identical, "{replayed:?}");

    // A renewal past the tractor's inspection (demo registry: until 2027-08-31): the reused
    // vehicle is checked again as of the new schedule, and fails V2.
    let renewal = json!({"application_id": "LIB-3", "submitted_at": "2026-11-21T09:30:00+08:00",
        "schedule": {"start": "2027-09-01", "end": "2027-09-05", "trips": 1}});
    let (status, third) = post(&format!("{}/v1/reviews/LIB-2/renewals", s.url), &renewal).await;
    assert_eq!(status, 201, "{third}");
    assert_eq!(third["provenance"], json!({"renews": "LIB-2"}));
    assert_eq!(third["verdict"], "escalate");
    let v2 = item(&third, "V2");
    assert_eq!(v2["status"], "fail", "{v2}");
    assert!(v2["message"].as_str().unwrap().contains("2027-08-31"), "{v2}");
    let renewed = recorded(&s, "LIB-3");
    assert_eq!(renewed["schedule"], renewal["schedule"]);
    assert_eq!(renewed["vehicle"], expected["vehicle"]);

    // An amendment: another tractor unit, by merge patch; the rest is LIB-1's.
    let mut units = expected["vehicle"]["units"].clone();
    units[0]["plate"] = json!("鲁H12346");
    let patch = json!({"application_id": "LIB-4", "submitted_at": "2026-11-21T10:00:00+08:00",
        "vehicle": {"units": units}});
    let (status, fourth) = post(&format!("{}/v1/reviews/LIB-1/amendments", s.url), &patch).await;
    assert_eq!(status, 201, "{fourth}");
    assert_eq!(fourth["provenance"], json!({"amends": "LIB-1"}));
    let amended = recorded(&s, "LIB-4");
    assert_eq!(amended["vehicle"]["units"][0]["plate"], "鲁H12346");
    assert_eq!(amended["vehicle"]["axles"], expected["vehicle"]["axles"]);
    assert_eq!(amended["route"], expected["route"]);
    let refs = item(&fourth, "V2")["refs"].to_string();
    assert!(refs.contains("鲁H12346") && !refs.contains("鲁H12345"), "the new tractor is the one checked: {refs}");

    // The library now holds both tractors' combinations; the repeated parts stay one entry.
    let (_, library) = get(&format!("{}/v1/carriers/{USCC}/library", s.url)).await;
    let vehicles: Vec<&Value> =
        library["items"].as_array().unwrap().iter().filter(|e| e["part"] == "vehicle").collect();
    assert_eq!(vehicles.len(), 2);
    assert_eq!(vehicles[0]["ref"], "LIB-4");
    assert_eq!(vehicles[1]["applications"], json!(["LIB-1", "LIB-2", "LIB-3"]));
    let (_, other) = get(&format!("{}/v1/carriers/913708000000000011/library", s.url)).await;
    assert_eq!(other["items"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_to_other_carriers_or_to_nothing_are_refused() {
    let s = serve().await;
    assert_eq!(post(&format!("{}/v1/reviews", s.url), &example("OWN-1")).await.0, 201);

    // Another carrier naming OWN-1's vehicle: 403, nothing recorded.
    let mut foreign = example("FOREIGN-1");
    foreign["carrier"]["uscc"] = json!("913708000000000112");
    foreign["vehicle"] = json!({"ref": "OWN-1"});
    let (status, problem) = post(&format!("{}/v1/reviews", s.url), &foreign).await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(problem["type"], "/problems/foreign-reference");
    assert!(!problem["detail"].as_str().unwrap().contains(USCC), "the other carrier is not named: {problem}");
    assert!(s.ledger.get("FOREIGN-1").unwrap().is_none());

    // Missing and malformed references: field errors at their pointers, recorded as refusals.
    let mut missing = example("MISSING-1");
    missing["route"] = json!({"ref": "NO-SUCH-APPLICATION"});
    missing["drivers"] = json!({"ref": 5});
    missing["escort"] = json!({"ref": "OWN-1", "vehicle_plates": []});
    let (status, problem) = post(&format!("{}/v1/reviews", s.url), &missing).await;
    assert_eq!(status, 422, "{problem}");
    let pointers: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/drivers/ref", "/escort", "/route/ref"]);
    let refusals = s.ledger.refusals_after(0, 10).unwrap();
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].refusal.application_id.as_deref(), Some("MISSING-1"));
    assert_eq!(refusals[0].refusal.pointers, pointers);

    // A reference to a part the application did not have: nothing archived.
    let mut bare = example("BARE-1");
    bare.as_object_mut().unwrap().remove("escort");
    assert_eq!(post(&format!("{}/v1/reviews", s.url), &bare).await.0, 201);
    assert!(s.ledger.archived("BARE-1", Part::Escort).unwrap().is_none());
    let mut escort = example("ESCORT-1");
    escort["escort"] = json!({"ref": "BARE-1"});
    let (status, problem) = post(&format!("{}/v1/reviews", s.url), &escort).await;
    assert_eq!((status, problem["errors"][0]["pointer"].as_str()), (422, Some("/escort/ref")), "{problem}");

    // Renewals and amendments: of nothing (404), beyond a schedule (422), moving carrier (403).
    let renewal = json!({"application_id": "R-1", "submitted_at": "2026-11-21T09:30:00+08:00",
        "schedule": {"start": "2026-12-07", "end": "2026-12-09", "trips": 1}});
    assert_eq!(post(&format!("{}/v1/reviews/NOPE/renewals", s.url), &renewal).await.0, 404);
    assert_eq!(post(&format!("{}/v1/reviews/OWN-1/copies", s.url), &renewal).await.0, 404);
    let mut wider = renewal.clone();
    wider["cargo"] = json!({"mass_kg": 1});
    let (status, problem) = post(&format!("{}/v1/reviews/OWN-1/renewals", s.url), &wider).await;
    assert_eq!((status, problem["errors"][0]["pointer"].as_str()), (422, Some("/cargo")), "{problem}");
    let moved = json!({"application_id": "A-1", "submitted_at": "2026-11-21T09:30:00+08:00",
        "carrier": {"uscc": "913708000000000112"}});
    assert_eq!(post(&format!("{}/v1/reviews/OWN-1/amendments", s.url), &moved).await.0, 403);
    // An amendment that breaks the form points into the amended application.
    let broken = json!({"application_id": "A-2", "submitted_at": "2026-11-21T09:30:00+08:00",
        "loaded": {"gross_mass_kg": -1}});
    let (status, problem) = post(&format!("{}/v1/reviews/OWN-1/amendments", s.url), &broken).await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem["errors"].as_array().unwrap().iter().any(|e| e["pointer"] == "/loaded/gross_mass_kg"), "{problem}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restriction_added_since_is_found_on_a_reused_route() {
    let s = serve().await;
    let first = example("ROUTE-1");
    assert_eq!(post(&format!("{}/v1/reviews", s.url), &first).await.1["verdict"], "approve");
    let on_route = first["route"]["geometry"]["coordinates"][3].clone();
    let works = json!({"id": "W-LIB", "kind": "works", "reason": "resurfacing",
        "valid_from": "2026-12-01T00:00:00+02:00", "valid_until": "2026-12-06T00:00:00+02:00",
        "geometry": {"type": "Point", "coordinates": on_route}});
    assert_eq!(post(&format!("{}/v1/restrictions", s.url), &works).await.0, 201);

    let mut second = example("ROUTE-2");
    second["route"] = json!({"ref": "ROUTE-1"});
    let (status, review) = post(&format!("{}/v1/reviews", s.url), &second).await;
    assert_eq!(status, 201, "{review}");
    assert_eq!(review["verdict"], "escalate");
    let found = review["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["status"] == "fail" && i["refs"].to_string().contains("W-LIB"));
    assert!(found, "no item fails on the new restriction: {review}");
}

#[test]
fn a_ledger_from_before_the_library_fills_it_at_open() {
    let dir = temp_dir("library-catch-up");
    let path = dir.join("ledger.sqlite");
    let reviewer = oscar::Reviewer::with_defaults().unwrap();
    {
        let ledger = SqliteLedger::create(&path, false).unwrap();
        let app = example("OLD-1");
        let review = reviewer.review_value(&app).unwrap();
        let application = oscar::ledger::canonical_json(&app);
        let record = oscar::ledger::NewRecord {
            application_id: "OLD-1".into(),
            content_hash: oscar::ledger::content_hash(&application),
            application,
            review: serde_json::to_string(&review).unwrap(),
            verdict: review.verdict,
            caller: "test".into(),
            recorded_at: "2026-11-20T01:30:00.000000Z".into(),
        };
        let _ = ledger.append(record).wait().unwrap();
    }
    // As a file from before the library: its table empty.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("DROP TRIGGER library_no_delete; DELETE FROM library;").unwrap();
    drop(conn);
    let ledger = SqliteLedger::open(&path, false).unwrap();
    let mut parts: Vec<Part> = ledger.library(USCC).unwrap().into_iter().map(|p| p.part).collect();
    parts.sort();
    assert_eq!(parts, Part::ALL);
    assert!(ledger.verify().unwrap().intact());
    drop(ledger);
    let _ = std::fs::remove_dir_all(&dir);
}
