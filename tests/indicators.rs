//! The service indicators over HTTP against a real server on 127.0.0.1, recomputed here
//! independently from the ledger's records.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod server_common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Datelike, Duration as Days, NaiveDate, SecondsFormat, Utc, Weekday};
use oscar::decision::DecisionKind;
use oscar::ledger::{Query, Record, StoredDecision, StoredRefusal};
use oscar::registry::RemoteOptions;
use oscar::review::Verdict;
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

/// Every review record, refusal and reviewer's decision of the ledger.
struct Rows {
    records: Vec<Record>,
    refusals: Vec<StoredRefusal>,
    decisions: Vec<StoredDecision>,
}

fn rows(s: &Served) -> Rows {
    Rows {
        records: s.ledger.list(&Query { limit: 10_000, ..Query::default() }).unwrap(),
        refusals: s.ledger.refusals_after(0, 10_000).unwrap(),
        decisions: s.ledger.decisions_after(0, 10_000).unwrap(),
    }
}

fn share(part: usize, whole: usize) -> Value {
    if whole == 0 { Value::Null } else { json!(part as f64 / whole as f64) }
}

/// The indicators of the records and refusals with `recorded_at` in `from..to`, and of the
/// cases as they stood at `as_of`, computed here from the rows alone.
fn recompute(rows: &Rows, from: &str, to: &str, as_of: &str) -> Value {
    let Rows { records, refusals, decisions } = rows;
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
    let mut by_day: BTreeMap<&str, u64> = BTreeMap::new();
    let received = records.iter().map(|r| &r.entry.recorded_at).chain(refusals.iter().map(|r| &r.refusal.recorded_at));
    for at in received.filter(|at| inside(at)) {
        *by_day.entry(&at[..10]).or_default() += 1;
    }
    json!({
        "as_of": as_of,
        "applications_received": reviews.len() + refused,
        "applications_by_day": by_day,
        "reviewed": reviews.len(),
        "refused_for_form_errors": refused,
        "auto_approved": approved,
        "auto_approved_share": share(approved, reviews.len()),
        "machine_decision_time": if times.is_empty() { Value::Null } else {
            json!({"reviews": times.len(), "median_ms": rank(0.5), "p95_ms": rank(0.95), "max_ms": rank(1.0)})
        },
        "reviewer_decision_time": reviewer_decision_time(records, decisions, &inside, as_of),
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

/// Monday to Friday after `from` up to and including `to`, one day at a time.
fn working_days(from: NaiveDate, to: NaiveDate) -> u32 {
    from.iter_days()
        .skip(1)
        .take_while(|d| *d <= to)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .count() as u32
}

/// Reviewer decision time per jurisdiction, class and deadline, from the rows: final
/// decisions recorded `inside` the window; escalated cases recorded before `as_of`, not
/// finally decided then, and past their recorded due date on the day of `as_of` (or of the
/// request for information that stopped their clock), that day taken where they were submitted.
fn reviewer_decision_time(
    records: &[Record],
    decisions: &[StoredDecision],
    inside: &dyn Fn(&str) -> bool,
    as_of: &str,
) -> Value {
    type Key = (String, Option<u64>, Option<bool>, Option<u64>);
    let mut groups: BTreeMap<Key, (Vec<u32>, u64, u64, u64)> = BTreeMap::new();
    for r in records.iter().filter(|r| r.entry.verdict == Verdict::Escalate) {
        let review: Value = serde_json::from_str(&r.entry.review).unwrap();
        let application: Value = serde_json::from_str(&r.entry.application).unwrap();
        let submitted = DateTime::parse_from_rfc3339(application["submitted_at"].as_str().unwrap()).unwrap();
        let local_day =
            |at: &str| DateTime::parse_from_rfc3339(at).unwrap().with_timezone(submitted.offset()).date_naive();
        let deadline = &review["determination"]["deadline"];
        let due = deadline["due"].as_str().map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap());
        let key = (
            review["jurisdiction"].as_str().unwrap().to_string(),
            review["determination"]["permit_class"].as_u64(),
            deadline["cross_province"].as_bool(),
            deadline["working_days"].as_u64(),
        );
        let mine: Vec<&StoredDecision> =
            decisions.iter().filter(|d| d.entry.application_id == r.entry.application_id).collect();
        let last = mine.iter().find(|d| d.entry.kind != DecisionKind::RequestInformation);
        let group = groups.entry(key).or_default();
        if let Some(d) = last.filter(|d| inside(&d.entry.recorded_at)) {
            let day = local_day(&d.entry.recorded_at);
            group.0.push(working_days(submitted.date_naive(), day));
            group.1 += u64::from(due.is_some_and(|due| day <= due));
        }
        if r.entry.recorded_at.as_str() < as_of && last.is_none_or(|d| d.entry.recorded_at.as_str() >= as_of) {
            group.2 += 1;
            let stopped = mine
                .iter()
                .rfind(|d| d.entry.recorded_at.as_str() < as_of)
                .map_or(as_of, |d| d.entry.recorded_at.as_str());
            group.3 += u64::from(due.is_some_and(|due| local_day(stopped) > due));
        }
    }
    let rows: Vec<Value> = groups
        .into_iter()
        .filter(|(_, (days, _, undecided, _))| !days.is_empty() || *undecided > 0)
        .map(|((jurisdiction, class, cross, deadline), (mut days, in_time, undecided, overdue))| {
            days.sort();
            let rank = |q: f64| days[((q * days.len() as f64).ceil() as usize).max(1) - 1];
            json!({
                "jurisdiction": jurisdiction, "permit_class": class, "cross_province": cross,
                "deadline_working_days": deadline, "decided": days.len(), "decided_in_time": in_time,
                "in_time_share": if deadline.is_some() { share(in_time as usize, days.len()) } else { Value::Null },
                "decision_working_days": if days.is_empty() { Value::Null } else {
                    json!({"median": rank(0.5), "p95": rank(0.95), "max": rank(1.0)})
                },
                "undecided_now": undecided, "overdue_now": overdue,
            })
        })
        .collect();
    json!(rows)
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
    let rows = rows(&s);
    let expected = recompute(&rows, "", "~", all["as_of"].as_str().unwrap());
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
    let from = &rows.records[2].entry.recorded_at;
    let window = indicators(&s, &format!("?from={from}&to=2999-01-01")).await;
    assert_eq!(window["from"], json!(from));
    let to = "2999-01-01T00:00:00.000000Z";
    assert_eq!(figures(window.clone()), recompute(&rows, from, to, to));
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
    let as_of = answer["as_of"].as_str().unwrap().to_string();
    assert_eq!(figures(answer), recompute(&rows(&s), "", "~", &as_of));
}

/// The Helsinki example (class 2) submitted at `submitted`, with a plate no registry knows
/// (so it escalates), scheduled a week after today.
fn escalated(id: &str, submitted: DateTime<Utc>, cross_province: bool) -> Value {
    let china = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let mut app = example(id);
    app["submitted_at"] = json!(submitted.with_timezone(&china).to_rfc3339_opts(SecondsFormat::Secs, false));
    app["vehicle"]["units"][0]["plate"] = json!("鲁H99999");
    app["route"]["cross_province"] = json!(cross_province);
    let start = Utc::now().with_timezone(&china).date_naive() + Days::days(7);
    app["schedule"] = json!({"start": start.to_string(), "end": (start + Days::days(2)).to_string(), "trips": 1});
    app
}

/// `data-NAME` of every element of `html` that has `data-MARKER`, in order.
fn data(html: &str, marker: &str, name: &str) -> Vec<String> {
    html.split('<')
        .filter(|tag| tag.contains(&format!(" data-{marker}=\"")))
        .map(|tag| tag.split(&format!(" data-{name}=\"")).nth(1).unwrap().split('"').next().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewer_decision_time_is_measured_against_the_statutory_deadline() {
    let s = serve(ReviewerConfig::default()).await;
    let (now, long_ago) = (Utc::now(), Utc::now() - Days::days(60));
    for (id, submitted, cross) in [
        ("RDT-FAST", now, false),
        ("RDT-LATE", long_ago, false),
        ("RDT-OPEN-OLD", long_ago, false),
        ("RDT-WAIT-OLD", long_ago, false),
        ("RDT-OPEN-NEW", now, false),
        ("RDT-CROSS", now, true),
    ] {
        assert_eq!(post(&s, "/v1/reviews", escalated(id, submitted, cross).to_string()).await, 201, "{id}");
    }
    let before_decisions = indicators(&s, "").await["as_of"].as_str().unwrap().to_string();
    let refusal = json!({"kind": "refuse", "reasons": "The tractor unit is not registered.",
        "findings": [{"fact": "No registration of plate 鲁H99999.", "evidence": ["V1"]}]});
    for (id, decision) in [
        ("RDT-FAST", json!({"kind": "approve"})),
        ("RDT-LATE", refusal),
        ("RDT-WAIT-OLD", json!({"kind": "request_information", "information": "The registration certificate."})),
        ("RDT-CROSS", json!({"kind": "approve"})),
    ] {
        assert_eq!(post(&s, &format!("/v1/reviews/{id}/decisions"), decision.to_string()).await, 201, "{id}");
    }

    let all = indicators(&s, "").await;
    let rows = rows(&s);
    assert_eq!(figures(all.clone()), recompute(&rows, "", "~", all["as_of"].as_str().unwrap()));
    // What the scenario makes them: own province (5 working days) and cross-province (10).
    let china = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let late = working_days(long_ago.with_timezone(&china).date_naive(), Utc::now().with_timezone(&china).date_naive());
    assert!(late > 20, "{late}");
    assert_eq!(
        all["reviewer_decision_time"],
        json!([
            {"jurisdiction": "CN", "permit_class": 2, "cross_province": false, "deadline_working_days": 5,
             "decided": 2, "decided_in_time": 1, "in_time_share": 0.5,
             "decision_working_days": {"median": 0, "p95": late, "max": late},
             "undecided_now": 3, "overdue_now": 2},
            {"jurisdiction": "CN", "permit_class": 2, "cross_province": true, "deadline_working_days": 10,
             "decided": 1, "decided_in_time": 1, "in_time_share": 1.0,
             "decision_working_days": {"median": 0, "p95": 0, "max": 0},
             "undecided_now": 0, "overdue_now": 0},
        ])
    );
    // As the cases stood before any decision: nothing decided, the three old ones overdue.
    let then = indicators(&s, &format!("?to={before_decisions}")).await;
    assert_eq!(figures(then.clone()), recompute(&rows, "", &before_decisions, &before_decisions));
    let own = &then["reviewer_decision_time"][0];
    assert_eq!((&own["decided"], &own["undecided_now"], &own["overdue_now"]), (&json!(0), &json!(5), &json!(3)));

    // The same on /metrics.
    let (_, metrics) = get(&s, "/metrics").await;
    let own = "jurisdiction=\"CN\",class=\"2\",cross_province=\"false\",deadline_working_days=\"5\"";
    assert!(metrics.contains(&format!("oscar_indicator_reviewer_overdue_now{{{own}}} 2\n")), "{metrics}");
    assert!(metrics.contains(&format!("oscar_indicator_reviewer_in_time_share{{{own}}} 0.5\n")), "{metrics}");
    assert!(
        metrics.contains(&format!("oscar_indicator_reviewer_decision_working_days{{{own},quantile=\"1\"}} {late}\n"))
    );

    // The workbench page draws the endpoint's figures, behind the pages' sign-in.
    let (queue_status, queue) = get(&s, "/").await;
    assert_eq!(queue_status, 200);
    assert!(queue.contains("href=\"/workbench/indicators\""), "{queue}");
    let anonymous = reqwest::get(format!("{}/workbench/indicators", s.url)).await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let (status, page) = get(&s, "/workbench/indicators?from=&to=").await;
    assert_eq!(status, 200, "{page}");
    let days = all["applications_by_day"].as_object().unwrap();
    let drawn: Vec<String> = data(&page, "day", "day");
    assert_eq!(drawn, days.keys().cloned().collect::<Vec<_>>(), "the reviews were all recorded today");
    let counts: Vec<u64> = data(&page, "day", "count").iter().map(|n| n.parse().unwrap()).collect();
    assert_eq!(counts.iter().sum::<u64>(), all["applications_received"].as_u64().unwrap());
    let reasons: Vec<(String, u64)> = data(&page, "item", "item")
        .into_iter()
        .zip(data(&page, "item", "count").iter().map(|n| n.parse().unwrap()))
        .collect();
    let expected: Vec<(String, u64)> =
        all["escalation_reasons"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap())).collect();
    assert_eq!(reasons, expected);
    assert_eq!(data(&page, "deadline", "deadline"), ["5", "10"]);
    assert_eq!(data(&page, "deadline", "decided"), ["2", "1"]);
    assert!(page.contains("<line class=\"deadline\" data-days=\"5\""), "{page}");
    let shown: f64 = data(&page, "share", "value")[0].parse().unwrap();
    assert_eq!(Some(shown), all["auto_approved_share"].as_f64());
    // A bad date is said on the page, next to the form, and the answer is no 500.
    let (status, page) = get(&s, "/workbench/indicators?from=yesterday&to=2026-12-01").await;
    assert_eq!(status, 400);
    assert!(
        page.contains("id=\"window-error\"")
            && page.contains("`from` must be an RFC 3339 date-time or a YYYY-MM-DD date, found `yesterday`"),
        "{page}"
    );
    assert!(page.contains("value=\"yesterday\"") && page.contains("value=\"2026-12-01\""), "{page}");
}
