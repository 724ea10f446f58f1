//! The soak test: load, clients that stall in their headers, a registry outage and a
//! `kill -9` of the server, all at once; no review acknowledged with `201` is lost, the
//! chain stays intact, and while the registry is away reviews escalate instead of passing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod server_common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use server_common::{Oscar, example, free_port, init_ledger, temp_dir};

/// Reviews acknowledged with `201`, with the body of the answer.
type Acked = Arc<Mutex<Vec<(String, Value)>>>;

fn serve_args<'a>(ledger: &'a str, registry: &'a str) -> Vec<&'a str> {
    vec![
        "serve",
        "--no-auth",
        "--trust-submitted-at",
        "--ledger",
        ledger,
        "--registry-url",
        registry,
        "--registry-timeout-ms",
        "200",
        "--registry-retries",
        "0",
        "--registry-breaker-pause-ms",
        "300",
        "--header-timeout-ms",
        "500",
    ]
}

/// Clients that keep `n` connections open with half a request header each, opening a new
/// one whenever the server closes one, until `stop`; counts in `opened`.
fn stall(address: String, n: usize, opened: Arc<AtomicUsize>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            // Still open while reading would block; closed (or answered) otherwise.
            held.retain(|c| matches!(c.peek(&mut [0u8; 1]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock));
            while held.len() < n {
                let Ok(mut c) = TcpStream::connect(&address) else { break };
                let _ = c.write_all(b"POST /v1/reviews HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le");
                c.set_nonblocking(true).unwrap();
                held.push(c);
                opened.fetch_add(1, Ordering::Relaxed);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_stalled_clients_registry_outage_and_kill_9_lose_nothing() {
    let dir = temp_dir("soak");
    let ledger = dir.join("ledger.sqlite");
    let ledger_arg = ledger.to_str().unwrap().to_string();
    init_ledger(&ledger);
    let registry_port = free_port();
    let registry_url = format!("http://127.0.0.1:{registry_port}");
    let registry_args = ["registry-serve", "registry-demo"];
    let mut registry = Oscar::start_at(registry_port, &registry_args, "/v1/version");
    let port = free_port();
    let args = serve_args(&ledger_arg, &registry_url);
    let mut server = Oscar::start_at(port, &args, "/readyz");
    let url = server.url();

    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicUsize::new(0));
    let stalled = stall(format!("127.0.0.1:{port}"), 32, Arc::clone(&opened), Arc::clone(&stop));
    let acked: Acked = Arc::default();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut loaders = Vec::new();
    for w in 0..6 {
        let (client, url, acked, stop) = (client.clone(), url.clone(), Arc::clone(&acked), Arc::clone(&stop));
        loaders.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("SOAK-{w}-{n}");
                n += 1;
                match client.post(format!("{url}/v1/reviews")).json(&example(&id)).send().await {
                    Ok(resp) if resp.status().as_u16() == 201 => {
                        let review: Value = resp.json().await.unwrap();
                        acked.lock().unwrap().push((id, review));
                    }
                    // Refused while the server is away or starting: not acknowledged.
                    Ok(resp) => assert!(resp.status().is_server_error(), "{id}: {}", resp.status()),
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }));
    }
    let acked_now = || acked.lock().unwrap().len();
    let wait_for = |n: usize| {
        let acked = Arc::clone(&acked);
        async move {
            for _ in 0..600 {
                if acked.lock().unwrap().len() >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("fewer than {n} reviews acknowledged in 30 s");
        }
    };

    // Served with 32 stalled connections held open the whole time, which the server cuts
    // off (so they are opened again) while it runs.
    wait_for(100).await;
    for _ in 0..100 {
        if opened.load(Ordering::Relaxed) > 32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(opened.load(Ordering::Relaxed) > 32, "the server never closed a stalled connection");
    // The registry goes away; then the server is killed and started again, so nothing of
    // the registry is cached.
    registry.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.kill();
    let before_restart = acked_now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let server = Oscar::start_at(port, &args, "/readyz");
    wait_for(before_restart + 60).await;
    let during_outage = acked_now();
    // The registry is back.
    let registry = Oscar::start_at(registry_port, &registry_args, "/v1/version");
    wait_for(during_outage + 60).await;
    stop.store(true, Ordering::Relaxed);
    for l in loaders {
        l.await.unwrap();
    }
    stalled.join().unwrap();
    drop(registry);

    // Every acknowledged review is stored as answered.
    let acked = acked.lock().unwrap().clone();
    for (id, review) in &acked {
        let resp = client.get(format!("{url}/v1/reviews/{id}")).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "acknowledged review {id} is missing");
        let mut stored = resp.json::<Value>().await.unwrap();
        stored.as_object_mut().unwrap().remove("case");
        assert_eq!(&stored, review, "{id} is stored otherwise than answered");
    }
    // Unknown is never approved, and the outage showed: some reviews escalated because the
    // registry could not answer, others (before and after) were approved.
    let unverified = |r: &Value| r["items"].as_array().unwrap().iter().any(|i| i["status"] == "unverified");
    assert!(acked.iter().all(|(_, r)| !unverified(r) || r["verdict"] == "escalate"));
    let outage = acked
        .iter()
        .filter(|(_, r)| {
            r["reasons"].as_array().unwrap().iter().any(|m| m.as_str().unwrap().contains("registry could not answer"))
        })
        .count();
    assert!(outage > 0, "no review met the outage");
    assert!(acked.iter().any(|(_, r)| r["verdict"] == "approve"));
    drop(server);

    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_oscar"))
        .args(["ledger", "verify", "--ledger", &ledger_arg, "--json"])
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
    let report: Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert!(report["records"].as_u64().unwrap() >= acked.len() as u64);
    let _ = std::fs::remove_dir_all(&dir);
}
