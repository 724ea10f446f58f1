//! Authentication of `oscar serve` (a child process on 127.0.0.1) never fails open: a key
//! source without a key, or no key at all, stops it; running without keys needs `--no-auth`
//! (or `OSCAR_NO_AUTH=1`), which is logged and reported by `/readyz`.

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

async fn submit(server: &Oscar, id: &str, key: Option<&str>) -> u16 {
    let mut req = reqwest::Client::new().post(format!("{}/v1/reviews", server.url())).json(&example(id));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    req.send().await.unwrap().status().as_u16()
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
