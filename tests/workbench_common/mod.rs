//! Cases for the workbench tests: the Helsinki example on routes that escalate, submitted on
//! different days so that their statutory due dates differ.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;

/// The Helsinki example with the route of golden case `case` (`tests/cases/CASE.json`), the
/// id `id` and the submission time `submitted_at`.
pub fn case(id: &str, case: &str, submitted_at: &str) -> Value {
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("tests/cases/{case}.json")).unwrap()).unwrap();
    let mut app = crate::server_common::example(id);
    oscar::application::merge_patch(&mut app, &golden["patch"]);
    app["submitted_at"] = submitted_at.into();
    app
}

/// Three escalated cases, submitted out of their due-date order, and one that oscar
/// approves: `(id, application)`.
pub fn cases() -> Vec<(&'static str, Value)> {
    vec![
        ("WB-LATE", case("WB-LATE", "r3-weight-limit", "2026-11-24T09:30:00+08:00")),
        ("WB-TUNNEL", case("WB-TUNNEL", "r2-r4-service-tunnel", "2026-11-20T09:30:00+08:00")),
        ("WB-EARLY", case("WB-EARLY", "r3-weight-limit", "2026-11-18T09:30:00+08:00")),
        ("WB-CLEAN", crate::server_common::example("WB-CLEAN")),
    ]
}

/// The ids of the escalated cases, most urgent (earliest due) first.
pub const BY_DUE: [&str; 3] = ["WB-EARLY", "WB-TUNNEL", "WB-LATE"];

/// Submits every case to `url`; panics unless each is recorded.
pub async fn submit_all(client: &reqwest::Client, url: &str, key: Option<&str>) {
    for (id, app) in cases() {
        let mut req = client.post(format!("{url}/v1/reviews")).json(&app);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let status = req.send().await.unwrap().status().as_u16();
        assert_eq!(status, 201, "{id}");
    }
}

/// The ids in `data-id="..."` attributes of `html`, in order, within the element that
/// starts at `from`.
pub fn ids_in(html: &str, from: &str) -> Vec<String> {
    let start = html.find(from).unwrap_or_else(|| panic!("`{from}` not in the page"));
    html[start..].split("data-id=\"").skip(1).map(|s| s.split('"').next().unwrap().to_string()).collect()
}
