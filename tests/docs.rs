//! The documentation matches the code: every endpoint in `docs/api.md` is in the OpenAPI
//! document with the statuses it names (and the other way round), every field of the
//! application's JSON Schema is in `docs/application.md`, and `oscar --help` gives each
//! command a purpose and shows examples.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::collections::BTreeSet;

use serde_json::Value;
use utoipa::OpenApi;

/// Statuses the service's layers answer for any request of a kind (413 and 415 for bodies),
/// which `docs/api.md` names per endpoint but the OpenAPI document does not repeat.
const LAYER_STATUSES: [u16; 2] = [413, 415];
/// Statuses the OpenAPI document names for every authenticated endpoint, which
/// `docs/api.md` explains once above its table.
const AUTH_STATUSES: [u16; 2] = [401, 403];

/// `(METHOD, path, statuses)` of each row of the endpoint table in `docs/api.md`.
fn documented() -> Vec<(String, String, BTreeSet<u16>)> {
    let text = std::fs::read_to_string("docs/api.md").unwrap();
    let table = text.split("## Endpoints").nth(1).unwrap().split("\n## ").next().unwrap();
    table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let unquote = |c: &str| c.trim_matches('`').to_string();
            let statuses = cells[3].split(',').map(|s| s.trim().parse::<u16>().unwrap()).collect();
            (unquote(cells[1]), unquote(cells[2]), statuses)
        })
        .collect()
}

fn openapi() -> Value {
    serde_json::from_str(&oscar::server::openapi::ApiDoc::openapi().to_json().unwrap()).unwrap()
}

/// `(METHOD, path) -> statuses` of the OpenAPI document.
fn published() -> Vec<(String, String, BTreeSet<u16>)> {
    let doc = openapi();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let statuses = op["responses"].as_object().unwrap().keys().map(|s| s.parse::<u16>().unwrap()).collect();
            out.push((method.to_uppercase(), path.clone(), statuses));
        }
    }
    out
}

#[test]
fn every_documented_endpoint_is_in_the_openapi_document_and_back() {
    let documented = documented();
    let published = published();
    assert!(documented.len() >= 10, "the table of docs/api.md was not read: {documented:?}");
    for (method, path, statuses) in &documented {
        let found = published.iter().find(|(m, p, _)| m == method && p == path);
        let Some((_, _, declared)) = found else {
            panic!("docs/api.md documents `{method} {path}`, which the OpenAPI document does not have");
        };
        let missing: Vec<_> =
            statuses.iter().filter(|s| !declared.contains(s) && !LAYER_STATUSES.contains(s)).collect();
        assert!(
            missing.is_empty(),
            "`{method} {path}`: documented statuses {missing:?} are not in the OpenAPI document"
        );
        let undocumented: Vec<_> =
            declared.iter().filter(|s| !statuses.contains(s) && !AUTH_STATUSES.contains(s)).collect();
        assert!(undocumented.is_empty(), "`{method} {path}`: statuses {undocumented:?} are not in docs/api.md");
    }
    for (method, path, _) in &published {
        assert!(
            documented.iter().any(|(m, p, _)| m == method && p == path),
            "`{method} {path}` is in the OpenAPI document but not in docs/api.md"
        );
    }
}

#[test]
fn help_names_each_command_with_its_purpose_and_shows_examples() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oscar")).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let commands = help.split("Commands:").nth(1).unwrap().split("Options:").next().unwrap();
    for line in commands.lines().filter(|l| !l.trim().is_empty()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(words.len() >= 3, "a command without its purpose: `{line}`");
    }
    assert!(help.contains("Examples:") && help.contains("oscar review examples/helsinki-example.json"), "{help}");
}

/// The property names of a JSON Schema and of every schema it refers to, with their path.
fn properties(doc: &Value, schema: &Value, path: &str, out: &mut Vec<(String, String)>) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        return properties(doc, &doc["components"]["schemas"][name], path, out);
    }
    for nested in ["items", "oneOf", "anyOf", "allOf"] {
        match &schema[nested] {
            Value::Array(list) => list.iter().for_each(|s| properties(doc, s, path, out)),
            Value::Null => {}
            one => properties(doc, one, &format!("{path}[]"), out),
        }
    }
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        let here = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
        out.push((name.clone(), here.clone()));
        properties(doc, property, &here, out);
    }
}

#[test]
fn every_field_of_the_application_schema_is_in_the_form_documentation() {
    let doc = openapi();
    let mut fields = Vec::new();
    properties(&doc, &doc["components"]["schemas"]["Application"], "", &mut fields);
    assert!(fields.len() > 40, "the schema was not walked: {fields:?}");
    let text = std::fs::read_to_string("docs/application.md").unwrap();
    // Every word inside backticks: `vehicle.units[].vin` names `vehicle`, `units` and `vin`.
    let words: BTreeSet<&str> = text
        .split('`')
        .skip(1)
        .step_by(2)
        .flat_map(|code| code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .collect();
    let missing: Vec<&String> =
        fields.iter().filter(|(name, _)| !words.contains(name.as_str())).map(|f| &f.1).collect();
    assert!(missing.is_empty(), "fields of the Application schema missing from docs/application.md: {missing:?}");
}
