//! The ledger on PostgreSQL, with real `oscar serve` processes and a real server: the one
//! `.ci/run` starts (`OSCAR_TEST_POSTGRES`, the URL of a database the tests may make others
//! from; `OSCAR_TEST_POSTGRES_CTL`, its `pg_ctl`). Each test makes a database of its own.
//! Without them the tests say so loudly and pass, except under `CI=true`, where they fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod server_common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use server_common::{Oscar, example};
use tokio::sync::RwLock;

/// Taken for writing by the test that stops the server, for reading by every other (tokio's
/// lock: it is held across awaits, and a failed test poisons nothing).
static SERVER: RwLock<()> = RwLock::const_new(());

/// The test server's URL, or `None` (said loudly; a failure under `CI=true`).
fn test_server() -> Option<String> {
    let url = std::env::var("OSCAR_TEST_POSTGRES").ok().filter(|u| !u.is_empty());
    if url.is_none() {
        let why = "OSCAR_TEST_POSTGRES is not set: the PostgreSQL ledger tests did NOT run (`.ci/run` starts a \
                   server and sets it)";
        eprintln!("\n*** {why} ***\n");
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "{why}");
    }
    url
}

/// Runs `sql` on the database at `url`, on a thread of its own (the blocking client must
/// not run inside the test's runtime); the error as text.
fn sql(url: &str, sql: &str) -> Result<(), String> {
    let (url, sql) = (url.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).map_err(|e| e.to_string())?;
        client.batch_execute(&sql).map_err(|e| format!("{e}: {:?}", e.as_db_error().map(|d| d.message().to_string())))
    })
    .join()
    .unwrap()
}

/// A new, empty database on the test server, named for the test; its URL.
fn fresh_database(server: &str, tag: &str) -> String {
    let name = format!("oscar_{tag}_{}", std::process::id());
    sql(server, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).unwrap();
    sql(server, &format!("CREATE DATABASE {name}")).unwrap();
    let (base, _) = server.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// `oscar ARGS`: whether it succeeded, and its standard output and error.
fn oscar(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_oscar")).args(args).env("RAYON_NUM_THREADS", "1").output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// A new ledger in a new database; its URL.
fn new_ledger(server: &str, tag: &str) -> String {
    let url = fresh_database(server, tag);
    let (ok, out) = oscar(&["ledger", "init", "--ledger", &url]);
    assert!(ok, "ledger init: {out}");
    url
}

/// `oscar serve` on the ledger at `url`.
fn replica(url: &str) -> Oscar {
    Oscar::start(&["serve", "--no-auth", "--trust-submitted-at", "--ledger", url], "/readyz")
}

/// `ledger verify --json` of the ledger at `url`.
fn verify(url: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_oscar"))
        .args(["ledger", "verify", "--json", "--ledger", url])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

/// `ledger verify --json` of the ledger at `url`, which must be intact.
fn assert_intact(url: &str) -> Value {
    let report = verify(url);
    assert!(report["first_broken"].is_null() && report["storage_problems"] == serde_json::json!([]), "{report}");
    report
}

/// Asserts that the replica at `base` answers each of `ids` from the ledger.
async fn assert_stored(client: &reqwest::Client, base: &str, ids: &[String]) {
    for id in ids {
        let resp = client.get(format!("{base}/v1/reviews/{id}")).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "acknowledged review {id} is not in the ledger");
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

/// POSTs the example as `id` to `base`; the status (0 when no answer came).
async fn submit(client: &reqwest::Client, base: &str, id: &str) -> u16 {
    match client.post(format!("{base}/v1/reviews")).json(&example(id)).send().await {
        Ok(resp) => resp.status().as_u16(),
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_writing_at_once_form_one_chain_with_one_record_per_id() {
    let Some(server) = test_server() else { return };
    let _shared = SERVER.read().await;
    let url = new_ledger(&server, "two");
    let (a, b) = (replica(&url), replica(&url));
    let bases = [a.url(), b.url()];
    let client = client();
    let statuses: Arc<Mutex<Vec<(String, u16)>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..8 {
        let (client, bases, statuses) = (client.clone(), bases.clone(), Arc::clone(&statuses));
        writers.push(tokio::spawn(async move {
            for n in 0..25 {
                // Every id once to each replica: one stores it, the other finds it stored.
                let id = format!("TWO-{w}-{n}");
                let (first, second) = (&bases[(w + n) % 2], &bases[(w + n + 1) % 2]);
                let (x, y) = tokio::join!(submit(&client, first, &id), submit(&client, second, &id));
                statuses.lock().unwrap().extend([(id.clone(), x), (id, y)]);
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let statuses = statuses.lock().unwrap().clone();
    for pair in statuses.chunks(2) {
        let mut codes = [pair[0].1, pair[1].1];
        codes.sort_unstable();
        assert_eq!(codes, [200, 201], "{} answered {codes:?}", pair[0].0);
    }
    // Other content under a stored id is a conflict on either replica.
    let mut other = example("TWO-0-0");
    other["cargo"]["description"] = "something else".into();
    for base in &bases {
        let resp = client.post(format!("{base}/v1/reviews")).json(&other).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 409);
    }
    let report = assert_intact(&url);
    assert_eq!(report["records"], 200, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_of_one_replica_under_load_loses_no_acknowledged_review() {
    let Some(server) = test_server() else { return };
    let _shared = SERVER.read().await;
    let url = new_ledger(&server, "kill");
    let (mut a, b) = (replica(&url), replica(&url));
    let bases = [a.url(), b.url()];
    let client = client();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..12 {
        let (client, base, acked, stop) = (client.clone(), bases[w % 2].clone(), Arc::clone(&acked), Arc::clone(&stop));
        writers.push(tokio::spawn(async move {
            for n in 0..2_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let id = format!("KILL-{w}-{n}");
                match submit(&client, &base, &id).await {
                    201 => acked.lock().unwrap().push(id),
                    // The killed replica stops answering; its clients stop.
                    0 => break,
                    status => panic!("unexpected status {status} for {id}"),
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.kill();
    // The other replica goes on alone for a moment.
    let at_kill = acked.lock().unwrap().len();
    while acked.lock().unwrap().len() < at_kill + 50 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 250, "only {} reviews acknowledged", acked.len());
    assert_stored(&client, &bases[1], &acked).await;
    let report = assert_intact(&url);
    assert!(report["records"].as_u64().unwrap() >= acked.len() as u64, "{report}");
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_database_down_under_load_answers_503_and_the_replicas_recover_by_themselves() {
    let Some(server) = test_server() else { return };
    let Some(ctl) = std::env::var("OSCAR_TEST_POSTGRES_CTL").ok().filter(|c| !c.is_empty()) else {
        let why = "OSCAR_TEST_POSTGRES_CTL is not set: the database outage test did NOT run";
        eprintln!("\n*** {why} ***\n");
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "{why}");
        return;
    };
    let pg_ctl = |action: &str| {
        let out = Command::new("sh").arg("-c").arg(format!("{ctl} {action}")).output().unwrap();
        assert!(out.status.success(), "pg_ctl {action}: {}", String::from_utf8_lossy(&out.stderr));
    };
    // Alone: the other tests' servers would see the outage too.
    let _alone = SERVER.write().await;
    let url = new_ledger(&server, "outage");
    let (a, b) = (replica(&url), replica(&url));
    let bases = [a.url(), b.url()];
    let client = client();
    let next = Arc::new(AtomicUsize::new(0));
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let refused = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..6 {
        let (client, base) = (client.clone(), bases[w % 2].clone());
        let (next, acked, refused, stop) =
            (Arc::clone(&next), Arc::clone(&acked), Arc::clone(&refused), Arc::clone(&stop));
        writers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let id = format!("DOWN-{}", next.fetch_add(1, Ordering::Relaxed));
                let resp = client.post(format!("{base}/v1/reviews")).json(&example(&id)).send().await.unwrap();
                match resp.status().as_u16() {
                    201 => acked.lock().unwrap().push(id),
                    503 => {
                        let kind = resp.headers()["content-type"].to_str().unwrap().to_string();
                        let body: Value = resp.json().await.unwrap();
                        assert_eq!(kind, "application/problem+json");
                        assert!(body["type"].as_str().unwrap().ends_with("/ledger-unavailable"), "{body}");
                        refused.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    status => panic!("unexpected status {status} for {id}"),
                }
            }
        }));
    }
    let wait_for = |what: &'static str, done: Box<dyn Fn() -> bool + Send>| async move {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let a1 = Arc::clone(&acked);
    wait_for("reviews before the outage", Box::new(move || a1.lock().unwrap().len() >= 50)).await;
    pg_ctl("stop -m fast");
    let r1 = Arc::clone(&refused);
    wait_for("503s while the database is down", Box::new(move || r1.load(Ordering::Relaxed) >= 20)).await;
    // Readiness says so too, on both replicas.
    for base in &bases {
        let resp = client.get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 503);
    }
    let during = acked.lock().unwrap().len();
    pg_ctl("start");
    let a2 = Arc::clone(&acked);
    wait_for("reviews after the restart", Box::new(move || a2.lock().unwrap().len() >= during + 50)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    for base in &bases {
        let resp = client.get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
    }
    let acked = acked.lock().unwrap().clone();
    assert_stored(&client, &bases[0], &acked).await;
    assert_intact(&url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_and_replay_work_on_postgres_and_a_tampered_row_is_found() {
    let Some(server) = test_server() else { return };
    let _shared = SERVER.read().await;
    let url = new_ledger(&server, "tamper");
    // A second init is refused; a database without a ledger is not made one by `serve`.
    let (ok, out) = oscar(&["ledger", "init", "--ledger", &url]);
    assert!(!ok && out.contains("already exists"), "{out}");
    let bare = fresh_database(&server, "bare");
    let (code, err) = server_common::refused(&["serve", "--no-auth", "--ledger", &bare], &[]);
    assert!(code != Some(0) && err.contains("oscar ledger init"), "{err}");

    let s = replica(&url);
    let client = client();
    for id in ["PG-1", "PG-2", "PG-3"] {
        assert_eq!(submit(&client, &s.url(), id).await, 201);
    }
    drop(s);
    let (ok, out) = oscar(&["ledger", "verify", "--ledger", &url]);
    assert!(ok && out.contains("3 record(s), chain intact"), "{out}");
    let (ok, out) = oscar(&["ledger", "replay", "PG-2", "--ledger", &url]);
    assert!(ok && out.contains("identical to the recorded review"), "{out}");

    // The database refuses changes itself, whoever asks ...
    for change in
        ["UPDATE reviews SET caller = 'mallory' WHERE seq = 2", "DELETE FROM reviews", "TRUNCATE reviews CASCADE"]
    {
        let refused = sql(&url, change).unwrap_err();
        assert!(refused.contains("append-only"), "{change}: {refused}");
    }
    // ... and a superuser who drops the guard and edits a row is found.
    sql(&url, "DROP TRIGGER reviews_no_change ON reviews; UPDATE reviews SET caller = 'mallory' WHERE seq = 2")
        .unwrap();
    let report = verify(&url);
    assert_eq!(report["first_broken"]["seq"], 2, "{report}");
    let problems = report["storage_problems"].to_string();
    assert!(problems.contains("append-only triggers of `reviews`"), "{report}");
    let (ok, out) = oscar(&["ledger", "verify", "--ledger", &url]);
    assert!(!ok && out.contains("chain broken at record 2 (application `PG-2`)"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_of_a_postgres_ledger_verify_prove_and_find_a_rewritten_row() {
    let Some(server) = test_server() else { return };
    let _shared = SERVER.read().await;
    let url = new_ledger(&server, "checkpoints");
    let dir = server_common::temp_dir("pg-checkpoints");
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let (key, public, checkpoints) = (path("key"), path("key.pub"), path("checkpoints"));
    let (ok, out) = oscar(&["ledger", "keygen", "--out", &key, "--name", "pg.test/oscar"]);
    assert!(ok, "{out}");
    let s = Oscar::start(
        &[
            "serve",
            "--no-auth",
            "--trust-submitted-at",
            "--ledger",
            &url,
            "--checkpoint-dir",
            &checkpoints,
            "--checkpoint-key",
            &key,
            "--checkpoint-every",
            "2",
        ],
        "/readyz",
    );
    let client = client();
    for i in 1..=5 {
        assert_eq!(submit(&client, &s.url(), &format!("PG-C-{i}")).await, 201);
    }
    let signed = dir.join("checkpoints").join(format!("checkpoint-{:020}.txt", 4));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !signed.exists() {
        assert!(Instant::now() < deadline, "no checkpoint of 4 records in {checkpoints}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(s);

    let verify = ["ledger", "verify", "--ledger", &url, "--checkpoints", &checkpoints, "--public-key", &public];
    let (ok, out) = oscar(&verify);
    assert!(ok && out.contains("checkpoint(s) valid"), "{out}");
    let (ok, proof) =
        oscar(&["ledger", "prove", "PG-C-3", "--ledger", &url, "--checkpoints", &checkpoints, "--public-key", &public]);
    assert!(ok, "{proof}");
    std::fs::write(dir.join("proof.json"), &proof).unwrap();
    let (ok, out) = oscar(&["ledger", "check-proof", &path("proof.json"), "--public-key", &public]);
    assert!(ok, "{out}");

    // A superuser who drops the guard and rewrites a signed row is named by the checkpoints.
    sql(&url, "DROP TRIGGER reviews_no_change ON reviews; UPDATE reviews SET caller = 'mallory' WHERE seq = 3")
        .unwrap();
    let (ok, out) = oscar(&verify);
    assert!(!ok && out.contains("checkpoint-00000000000000000004"), "{out}");
}

/// The index of approved routes kept in a file, which a PostgreSQL ledger needs named
/// (`--index-cache`): written at a graceful stop with the approvals made meanwhile, read at
/// the next start, which matches none of them; a row rewritten in the database after it was
/// written makes the next start ignore it and match every approval again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_cache_of_a_postgres_ledger_is_read_at_start_and_a_rewritten_row_voids_it() {
    let Some(server) = test_server() else { return };
    let _shared = SERVER.read().await;
    let url = new_ledger(&server, "index_cache");
    let dir = server_common::temp_dir("pg-index-cache");
    let (cache, log) = (dir.join("index"), dir.join("serve.log"));
    let serve = || {
        let args =
            ["serve", "--no-auth", "--trust-submitted-at", "--ledger", &url, "--index-cache", cache.to_str().unwrap()];
        Oscar::start_with(&args, "/readyz", &[("RUST_LOG", "info")], std::fs::File::create(&log).unwrap())
    };
    let logged = || std::fs::read_to_string(&log).unwrap();
    let mut s = serve();
    let client = client();
    for i in 1..=3 {
        assert_eq!(submit(&client, &s.url(), &format!("PG-I-{i}")).await, 201);
    }
    s.terminate();
    assert!(logged().contains("permits=3 up_to_record=3"), "{}", logged());

    let s = serve();
    assert!(logged().contains("from_cache=3 matched=0"), "{}", logged());
    drop(s);

    sql(&url, "DROP TRIGGER reviews_no_change ON reviews; UPDATE reviews SET hash = 'sha256:rewritten' WHERE seq = 3")
        .unwrap();
    let _s = serve();
    let text = logged();
    assert!(text.contains("another or a rewritten ledger") && text.contains("from_cache=0 matched=3"), "{text}");
}
