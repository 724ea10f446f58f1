//! No whole ID number of a person leaves the service: every golden case and a set of
//! invalid variants go through real servers (`oscar serve` on 127.0.0.1, one with the demo
//! registry and one whose registry cannot be reached), and every body they answer — reviews,
//! the queue, problem documents — and their log are scanned for ID numbers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod server_common;

use std::path::Path;

use serde_json::{Value, json};
use server_common::{Oscar, example, free_port, init_ledger, temp_dir};

/// Every 18-character resident ID number (17 digits, then a digit or `X`) in `text`.
fn id_numbers_in(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .windows(18)
        .filter(|w| w[..17].iter().all(char::is_ascii_digit) && (w[17].is_ascii_digit() || "Xx".contains(w[17])))
        .map(|w| w.iter().collect())
        .collect()
}

/// Credit codes of digits only look like ID numbers: those of the demo registry's records and
/// of the carriers the applications name.
fn company_codes(apps: &[Value]) -> Vec<String> {
    let registry = Path::new(env!("CARGO_MANIFEST_DIR")).join("registry-demo");
    let mut codes: Vec<String> =
        apps.iter().filter_map(|a| a.pointer("/carrier/uscc")?.as_str().map(str::to_string)).collect();
    for file in ["companies.jsonl", "vehicles.jsonl", "authorizations.jsonl"] {
        for line in std::fs::read_to_string(registry.join(file)).unwrap().lines() {
            let record: Value = serde_json::from_str(line).unwrap();
            for field in ["uscc", "owner_uscc", "carrier_uscc"] {
                codes.extend(record.get(field).and_then(Value::as_str).map(str::to_string));
            }
        }
    }
    codes
}

/// The ID numbers of the people an application names.
fn people(app: &Value) -> Vec<String> {
    let mut ids = vec![app.pointer("/agent/id_number")];
    let list = |p: &str| app.pointer(p).and_then(Value::as_array).cloned().unwrap_or_default();
    let drivers = list("/drivers");
    ids.extend(drivers.iter().map(|d| d.get("id_number")));
    let escort = list("/escort/personnel_id_numbers");
    ids.extend(escort.iter().map(Some));
    ids.into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
}

/// The golden cases, each applied to its base example, with the case name as id.
fn golden_applications() -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let case: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            let base =
                Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{}.json", case["base"].as_str().unwrap()));
            let mut app: Value = serde_json::from_str(&std::fs::read_to_string(base).unwrap()).unwrap();
            oscar::application::merge_patch(&mut app, &case["patch"]);
            app["application_id"] = json!(format!("PRIV-{}", p.file_stem().unwrap().to_string_lossy()));
            app
        })
        .collect()
}

/// Invalid variants of the example that name ID numbers in every way a client can: a wrong
/// check character, a birth date that is no date, an ID number as a JSON number, one in a
/// field of another type, one as a field name, and a body that is not JSON.
fn invalid_bodies() -> Vec<String> {
    let variant = |id: &str, patch: Value| {
        let mut app = example(id);
        oscar::application::merge_patch(&mut app, &patch);
        app.to_string()
    };
    vec![
        variant("BAD-check", json!({"agent": {"id_number": "370802199001011231"}})),
        variant("BAD-birth", json!({"drivers": [{"name": "李明", "id_number": "37081119851305231X"}]})),
        variant("BAD-escort", json!({"escort": {"personnel_id_numbers": ["370811199003032314"]}})),
        variant("BAD-number", json!({"drivers": [{"name": "李明", "id_number": 370811199003032313_u64}]})),
        variant("BAD-type", json!({"schedule": {"trips": "37080219900101123X"}})),
        variant("BAD-field", json!({"agent": {"370811199003032313": "x"}})),
        r#"{"application_id": "BAD-json", "agent": {"id_number": "37080219900101123X""#.to_string(),
    ]
}

/// Every body a client can get from `server` after submitting `apps` and `bad`.
async fn answers(server: &Oscar, apps: &[Value], bad: &[String]) -> Vec<(String, u16, String)> {
    let client = reqwest::Client::new();
    let url = server.url();
    let mut out = Vec::new();
    let keep = |what: String, resp: reqwest::Response| async move {
        let status = resp.status().as_u16();
        (what, status, resp.text().await.unwrap())
    };
    let post = |body: String| {
        client.post(format!("{url}/v1/reviews")).header("content-type", "application/json").body(body).send()
    };
    for app in apps {
        let id = app["application_id"].as_str().unwrap();
        out.push(keep(format!("POST {id}"), post(app.to_string()).await.unwrap()).await);
        out.push(keep(format!("GET {id}"), client.get(format!("{url}/v1/reviews/{id}")).send().await.unwrap()).await);
    }
    // The same id with other content: a conflict.
    let mut changed = apps[0].clone();
    changed["schedule"]["trips"] = json!(7);
    out.push(keep("POST conflict".into(), post(changed.to_string()).await.unwrap()).await);
    for body in bad {
        out.push(keep("POST invalid".into(), post(body.clone()).await.unwrap()).await);
    }
    let mut cursor = String::new();
    loop {
        let page = keep(
            format!("GET queue {cursor}"),
            client.get(format!("{url}/v1/reviews?limit=20{cursor}")).send().await.unwrap(),
        )
        .await;
        let next = serde_json::from_str::<Value>(&page.2).unwrap()["next"].as_str().map(str::to_string);
        out.push(page);
        match next {
            Some(n) => cursor = format!("&cursor={n}"),
            None => break,
        }
    }
    for path in ["/v1/reviews?verdict=escalate&limit=200", "/v1/restrictions", "/readyz", "/metrics"] {
        out.push(keep(format!("GET {path}"), client.get(format!("{url}{path}")).send().await.unwrap()).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_and_no_log_line_carries_a_whole_id_number() {
    let dir = temp_dir("privacy");
    let apps = golden_applications();
    let bad = invalid_bodies();
    let mut known: Vec<String> = apps.iter().flat_map(people).collect();
    known.extend(bad.iter().flat_map(|b| id_numbers_in(b)));
    known.sort();
    known.dedup();
    assert!(known.len() > 10 && known.iter().any(|id| id.starts_with("TX-")), "{known:?}");
    let companies = company_codes(&apps);

    let unreachable = format!("http://127.0.0.1:{}", free_port());
    let setups: [(&str, Vec<&str>); 2] =
        [("demo", vec![]), ("down", vec!["--registry-url", &unreachable, "--registry-retries", "0"])];
    let mut leaks = Vec::new();
    let mut statuses = Vec::new();
    for (name, extra) in setups {
        let ledger = dir.join(format!("{name}.sqlite"));
        init_ledger(&ledger);
        let log = dir.join(format!("{name}.log"));
        let mut args = vec!["serve", "--no-auth", "--trust-submitted-at", "--ledger", ledger.to_str().unwrap()];
        args.extend(extra);
        let server =
            Oscar::start_with(&args, "/readyz", &[("RUST_LOG", "debug")], std::fs::File::create(&log).unwrap());
        let mut texts = answers(&server, &apps, &bad).await;
        drop(server);
        texts.push(("log".into(), 0, std::fs::read_to_string(&log).unwrap()));
        // The log was written, and the lookups of people were answered or failed as set up.
        let all: String = texts.iter().map(|t| t.2.as_str()).collect();
        assert!(all.contains("oscar listening"), "{name}: no log");
        let person = if name == "demo" { "no driver record for `1101" } else { "could not answer for driver `3708" };
        assert!(all.contains(person), "{name}: no answer contains `{person}`");
        for (what, status, text) in &texts {
            statuses.push(*status);
            let mut found: Vec<String> = id_numbers_in(text).into_iter().filter(|n| !companies.contains(n)).collect();
            found.extend(known.iter().filter(|id| text.contains(id.as_str())).cloned());
            found.sort();
            found.dedup();
            if !found.is_empty() {
                leaks.push(format!("{name}: {what} ({status}) shows {found:?}"));
            }
        }
    }
    // The scan covered reviews, a conflict, 422s and a 400.
    for status in [200, 201, 400, 409, 422] {
        assert!(statuses.contains(&status), "no answer with status {status}: {statuses:?}");
    }
    assert!(leaks.is_empty(), "{} answer(s) with whole ID numbers:\n{}", leaks.len(), leaks.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}
