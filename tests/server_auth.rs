//! Authentication of `oscar serve` (a child process on 127.0.0.1) never fails open: a key
//! source without a key, or no key at all, stops it; running without keys needs `--no-auth`
//! (or `OSCAR_NO_AUTH=1`), which is logged and reported by `/readyz`; every route needs the
//! permission it declares.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod server_common;

use std::process::Stdio;

use serde_json::Value;
use server_common::{Oscar, example, init_ledger, refused, temp_dir};

/// Exit code of a setup error.
const EXIT_SETUP: i32 = 3;
const KEY: &str = "auth-test-key-0123456789";

#[test]
fn serve_refuses_to_start_without_a_key_unless_told_to() {
    let dir = temp_dir("auth-refused");
    let ledger = dir.join("ledger.sqlite");
    // A ledger that exists, so that only the keys can be the reason for refusing.
    init_ledger(&ledger);
    let ledger = ledger.to_str().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let empty = file("empty", "");
    let comments = file("comments", "# ops keys go here\n\n   # none yet\n");
    let good = file("good", &format!("ops {KEY} *\n"));
    let refuses = |args: &[&str], env: &[(&str, &str)], why: &str| {
        let args: Vec<&str> = ["serve", "--ledger", ledger].iter().chain(args).copied().collect();
        let (code, stderr) = refused(&args, env);
        assert_eq!(code, Some(EXIT_SETUP), "{args:?} {env:?}: {stderr}");
        assert!(stderr.contains(why), "{args:?} {env:?}: `{why}` not in {stderr}");
        assert!(!stderr.contains(KEY), "the error quotes a key: {stderr}");
    };
    let keys = format!("ops {KEY} *");
    let no_keys = "holds no key (only blank lines or comments)";
    refuses(&[], &[], "no API keys: give --api-keys FILE");
    refuses(&["--api-keys", &empty], &[], no_keys);
    refuses(&["--api-keys", &comments], &[], no_keys);
    refuses(&[], &[("OSCAR_API_KEYS_FILE", &comments)], no_keys);
    refuses(&[], &[("OSCAR_API_KEYS", "")], no_keys);
    refuses(&[], &[("OSCAR_API_KEYS", " ; # nobody ;")], no_keys);
    refuses(&["--no-auth", "--api-keys", &good], &[], "`--no-auth` (OSCAR_NO_AUTH) and API keys are both given");
    refuses(&[], &[("OSCAR_NO_AUTH", "1"), ("OSCAR_API_KEYS", &keys)], "are both given");
    refuses(&["--api-keys", &good], &[("OSCAR_API_KEYS", &keys)], "give them in one place");
    let _ = std::fs::remove_dir_all(&dir);
}

async fn ready(server: &Oscar) -> Value {
    reqwest::get(format!("{}/readyz", server.url())).await.unwrap().json().await.unwrap()
}

/// The status of `METHOD path` (an `{id}` in it filled in) with `body` and `key`.
async fn status_of(server: &Oscar, method: &str, path: &str, body: Option<&Value>, key: Option<&str>) -> u16 {
    let url = format!("{}{}", server.url(), path.replace("{id}", "NO-SUCH-APPLICATION"));
    let mut req = reqwest::Client::new().request(method.parse().unwrap(), url);
    if let Some(body) = body {
        req = req.json(body);
    }
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    req.send().await.unwrap().status().as_u16()
}

async fn submit(server: &Oscar, id: &str, key: Option<&str>) -> u16 {
    status_of(server, "POST", "/v1/reviews", Some(&example(id)), key).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_auth_must_be_asked_for_and_is_reported() {
    let dir = temp_dir("auth-modes");
    let ledger = dir.join("ledger.sqlite");
    init_ledger(&ledger);
    let ledger = ledger.to_str().unwrap();
    let log = dir.join("serve.log");

    // Asked for with the flag: open, logged loudly, reported by /readyz.
    let open = Oscar::start_with(
        &["serve", "--no-auth", "--trust-submitted-at", "--ledger", ledger],
        "/readyz",
        &[],
        std::fs::File::create(&log).unwrap(),
    );
    assert_eq!(ready(&open).await, serde_json::json!({"status": "ready", "auth": "disabled"}));
    assert_eq!(submit(&open, "AUTH-OPEN-1", None).await, 201);
    drop(open);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("WARN") && logged.contains("AUTHENTICATION IS DISABLED"), "{logged}");

    // Asked for with the variable.
    let open = Oscar::start_with(&["serve", "--ledger", ledger], "/readyz", &[("OSCAR_NO_AUTH", "1")], Stdio::null());
    assert_eq!(ready(&open).await["auth"], "disabled");
    drop(open);

    // Keys inline: a key is needed.
    let keys = format!("ops {KEY} *");
    let keyed = Oscar::start_with(
        &["serve", "--trust-submitted-at", "--ledger", ledger],
        "/readyz",
        &[("OSCAR_API_KEYS", &keys)],
        Stdio::null(),
    );
    assert_eq!(ready(&keyed).await["auth"], "keys");
    assert_eq!(submit(&keyed, "AUTH-KEYED-1", None).await, 401);
    assert_eq!(submit(&keyed, "AUTH-KEYED-1", Some(KEY)).await, 201);
    drop(keyed);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A key for each permission, named after it.
const PERMISSION_KEYS: [(&str, &str); 4] = [
    ("submit", "submit-key-0123456789"),
    ("read", "read-key-0123456789ab"),
    ("restrict", "restrict-key-0123456789"),
    ("decide", "decide-key-0123456789"),
];

/// The status of `METHOD path` with `key`, and an empty JSON object as the body of a `POST`.
async fn status_with(server: &Oscar, method: &str, path: &str, key: Option<&str>) -> u16 {
    let body = (method == "POST").then(|| serde_json::json!({}));
    status_of(server, method, path, body.as_ref(), key).await
}

/// Every operation of the OpenAPI document either declares the one permission it needs (as
/// the scope of its `bearer` requirement) or is one of the open operations endpoints; on a
/// real server, a key holding that permission gets past authentication and a key of each
/// other permission is refused with `403`. A route whose handler takes no permission (or
/// another one than it declares) fails here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_needs_the_permission_it_declares() {
    let dir = temp_dir("auth-permissions");
    let ledger = dir.join("ledger.sqlite");
    init_ledger(&ledger);
    let keys: Vec<String> = PERMISSION_KEYS.iter().map(|(p, k)| format!("{p} {k} {p}")).collect();
    let server = Oscar::start_with(
        &["serve", "--trust-submitted-at", "--ledger", ledger.to_str().unwrap()],
        "/readyz",
        &[("OSCAR_API_KEYS", &keys.join(";"))],
        Stdio::null(),
    );
    let doc: Value = reqwest::get(format!("{}/openapi.json", server.url())).await.unwrap().json().await.unwrap();
    let open = ["/healthz", "/readyz", "/metrics", "/openapi.json", "/v1/envelope"];
    let mut checked = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method = method.to_uppercase();
            let declared: Vec<&str> = op["security"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["bearer"].as_array())
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if op.get("security").is_none() {
                assert!(open.contains(&path.as_str()), "`{method} {path}` declares no permission");
                assert!(![401, 403].contains(&status_with(&server, &method, path, None).await), "{method} {path}");
                continue;
            }
            let [needed] = declared.as_slice() else {
                panic!("`{method} {path}` must declare exactly one permission, declares {declared:?}")
            };
            assert_eq!(status_with(&server, &method, path, None).await, 401, "{method} {path} without a key");
            for (permission, key) in PERMISSION_KEYS {
                let status = status_with(&server, &method, path, Some(key)).await;
                if permission == *needed {
                    assert!(![401, 403].contains(&status), "{method} {path} with `{permission}`: {status}");
                } else {
                    assert_eq!(status, 403, "{method} {path} needs `{needed}`, yet a `{permission}` key got {status}");
                }
            }
            checked.push(format!("{method} {path} {needed}"));
        }
    }
    checked.sort();
    assert_eq!(
        checked,
        [
            "GET /v1/carriers/{uscc}/library read",
            "GET /v1/indicators read",
            "GET /v1/restrictions read",
            "GET /v1/reviews read",
            "GET /v1/reviews/{id} read",
            "POST /v1/restrictions restrict",
            "POST /v1/reviews submit",
            "POST /v1/reviews/{id}/decisions decide",
            "POST /v1/reviews/{id}/{derivation} submit",
        ]
    );
    // Each permission does what it names, and its key's name is the caller recorded.
    let key = |permission: &str| PERMISSION_KEYS.iter().find(|(p, _)| *p == permission).map(|(_, k)| *k);
    assert_eq!(submit(&server, "AUTH-PERM-1", key("submit")).await, 201);
    assert_eq!(status_of(&server, "GET", "/v1/reviews/AUTH-PERM-1", None, key("read")).await, 200);
    let restriction = serde_json::json!({"id": "AUTH-R-1", "kind": "closure", "reason": "test",
        "valid_from": "2026-12-01T00:00:00Z", "valid_until": "2026-12-02T00:00:00Z",
        "geometry": {"type": "Point", "coordinates": [24.94, 60.17]}});
    assert_eq!(status_of(&server, "POST", "/v1/restrictions", Some(&restriction), key("restrict")).await, 201);
    // Nothing else was stored by the refused or invalid requests.
    drop(server);
    let stored = oscar::ledger::SqliteLedger::open_read_only(&ledger).unwrap();
    assert_eq!(oscar::ledger::Ledger::verify(&stored).unwrap().records, 1);
    assert_eq!(oscar::ledger::Ledger::get(&stored, "AUTH-PERM-1").unwrap().unwrap().entry.caller, "submit");
    let restrictions = oscar::ledger::Ledger::restrictions(&stored).unwrap();
    assert_eq!(restrictions.iter().map(|r| r.caller.as_str()).collect::<Vec<_>>(), ["restrict"]);
    let _ = std::fs::remove_dir_all(&dir);
}
