//! The crash test: `oscar serve` as a child process is killed with SIGKILL in the middle of
//! a load; after a restart, `oscar ledger verify` passes and every review acknowledged
//! with `201` is in the ledger.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod server_common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use server_common::{Oscar, example, init_ledger, temp_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_load_loses_no_acknowledged_review() {
    let dir = temp_dir("crash");
    let ledger = dir.join("ledger.sqlite");
    let ledger_arg = ledger.to_str().unwrap().to_string();
    init_ledger(&ledger);
    let mut server = Oscar::start(&["serve", "--no-auth", "--trust-submitted-at", "--ledger", &ledger_arg], "/readyz");
    let url = server.url();

    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut clients = Vec::new();
    for w in 0..16 {
        let (client, url, acked, stop) = (client.clone(), url.clone(), Arc::clone(&acked), Arc::clone(&stop));
        clients.push(tokio::spawn(async move {
            // Bounded: at most 5,000 requests per client, and it stops at the first failure.
            for n in 0..5_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let id = format!("CRASH-{w}-{n}");
                match client.post(format!("{url}/v1/reviews")).json(&example(&id)).send().await {
                    Ok(resp) if resp.status().as_u16() == 201 => {
                        // Acknowledged once the status line arrived.
                        acked.lock().unwrap().push(id);
                    }
                    Ok(resp) => panic!("unexpected status {} for {id}", resp.status()),
                    Err(_) => break,
                }
            }
        }));
    }
    // Kill once a few hundred reviews are acknowledged (or after 30 s at most).
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().len() < 300 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 100, "only {} reviews acknowledged before the kill", acked.len());

    // The chain is intact after the crash.
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_oscar"))
        .args(["ledger", "verify", "--ledger", &ledger_arg])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "ledger verify failed: {out}");
    assert!(out.contains("chain intact"), "{out}");

    // Restarted, the service has every acknowledged review and continues the chain.
    let restarted = Oscar::start(&["serve", "--no-auth", "--trust-submitted-at", "--ledger", &ledger_arg], "/readyz");
    for id in &acked {
        let resp = client.get(format!("{}/v1/reviews/{id}", restarted.url())).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "acknowledged review {id} is missing after the crash");
    }
    let resp =
        client.post(format!("{}/v1/reviews", restarted.url())).json(&example("AFTER-CRASH")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    drop(restarted);
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_oscar"))
        .args(["ledger", "verify", "--ledger", &ledger_arg, "--json"])
        .output()
        .unwrap();
    assert!(verify.status.success());
    let report: serde_json::Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert!(report["records"].as_i64().unwrap() > acked.len() as i64);
    assert!(report["first_broken"].is_null());
    let _ = std::fs::remove_dir_all(&dir);
}
