//! The ledger against a hostile operator: its file removed while serving, writes that fail,
//! a damaged index, a file that is no ledger, `verify` on a crashed ledger, and a second
//! server on the same file. Real `oscar` processes and real SQLite files.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod server_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use oscar::ledger::{Appended, Ledger, SqliteLedger};
use serde_json::Value;
use server_common::{Oscar, example, free_port, init_ledger, record, run_to_exit, temp_dir};

/// `oscar serve --ledger PATH` on a free port, expected to refuse to start.
fn serve_refused(ledger: &str) -> (i32, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let (code, _, stderr) = run_to_exit(&["serve", "--no-auth", "--ledger", ledger, "--addr", &addr]);
    (code, stderr)
}

/// Status and JSON body of `POST /v1/reviews` with the Helsinki example under `id`.
async fn post(client: &reqwest::Client, server: &Oscar, id: &str) -> (u16, Value, String) {
    let resp = client.post(format!("{}/v1/reviews", server.url())).json(&example(id)).send().await.unwrap();
    answer(resp).await
}

/// Status and JSON body of `GET PATH`.
async fn get(client: &reqwest::Client, server: &Oscar, path: &str) -> (u16, Value, String) {
    answer(client.get(format!("{}{path}", server.url())).send().await.unwrap()).await
}

/// Status, JSON body (null if none) and content type of an answer.
async fn answer(resp: reqwest::Response) -> (u16, Value, String) {
    let status = resp.status().as_u16();
    let kind = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body, kind)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap()
}

/// A file's bytes and modification time.
fn snapshot(path: &Path) -> (Vec<u8>, SystemTime) {
    (std::fs::read(path).unwrap(), std::fs::metadata(path).unwrap().modified().unwrap())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_removed_while_serving_stops_writes_and_readiness_and_is_never_made_again() {
    let dir = temp_dir("hardening-removed");
    let ledger = dir.join("ledger.sqlite");
    let arg = ledger.to_str().unwrap();
    init_ledger(&ledger);
    let server = Oscar::start(&["serve", "--no-auth", "--trust-submitted-at", "--ledger", arg], "/readyz");
    let client = client();
    assert_eq!(post(&client, &server, "RM-1").await.0, 201);

    std::fs::remove_file(&ledger).unwrap();
    // Nothing is acknowledged that no restart would find again.
    for id in ["RM-2", "RM-3"] {
        let (status, problem, kind) = post(&client, &server, id).await;
        assert_eq!(status, 503, "{problem}");
        assert_eq!(kind, "application/problem+json");
        assert_eq!(problem["type"], "/problems/ledger-unavailable");
        assert!(problem["detail"].as_str().unwrap().contains("ledger file was removed or replaced"), "{problem}");
    }
    let (status, problem, _) = get(&client, &server, "/readyz").await;
    assert_eq!(status, 503);
    assert!(problem["detail"].as_str().unwrap().contains("ledger file was removed or replaced"), "{problem}");
    drop(server);

    // Restarted, it refuses and says how to make a ledger, instead of making an empty one.
    let (code, stderr) = serve_refused(arg);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains(&format!("no ledger at {arg}")), "{stderr}");
    assert!(stderr.contains(&format!("oscar ledger init --ledger {arg}")), "{stderr}");
    assert!(!ledger.exists(), "serve made a file at {arg}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The largest file the server under test may write, KiB: above the new ledger file
/// (~76 KiB, read only) and SQLite's shared-memory file (32 KiB), room for a few commits
/// in the WAL (~14 KiB each), far below the WAL's checkpoint size (256 KiB).
const FILE_SIZE_LIMIT_KIB: u32 = 100;

/// A write that fails for real, as root too (where `chmod` stops nothing): the server runs
/// with a file-size limit (`ulimit -f`, SIGXFSZ ignored), so once the WAL reaches it every
/// commit fails as on a full disk. Raising the limit (`prlimit`) is freeing space.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_writes_answer_503_and_readiness_503_until_a_write_succeeds() {
    let dir = temp_dir("hardening-full");
    let ledger = dir.join("ledger.sqlite");
    let arg = ledger.to_str().unwrap();
    init_ledger(&ledger);
    let mut limited = Command::new("bash");
    limited.args([
        "-c",
        &format!("trap '' XFSZ; ulimit -S -f {FILE_SIZE_LIMIT_KIB}; exec \"$0\" \"$@\""),
        env!("CARGO_BIN_EXE_oscar"),
        "serve",
        "--no-auth",
        "--trust-submitted-at",
        "--ledger",
        arg,
    ]);
    let server = Oscar::spawn(limited, "/readyz");
    let client = client();

    let mut acked = Vec::new();
    let refused = loop {
        let id = format!("FULL-{}", acked.len());
        let (status, body, kind) = post(&client, &server, &id).await;
        match status {
            201 => acked.push(id),
            _ => break (status, body, kind),
        }
        assert!(acked.len() < 60, "the writes never failed");
    };
    assert!(!acked.is_empty(), "the first write failed already");
    let (status, problem, kind) = refused;
    assert_eq!(status, 503, "{problem}");
    assert_eq!(kind, "application/problem+json");
    assert_eq!(problem["type"], "/problems/ledger-unavailable");
    let (status, problem, _) = get(&client, &server, "/readyz").await;
    assert_eq!(status, 503);
    assert!(problem["detail"].as_str().unwrap().contains("commit failed"), "{problem}");
    // Still refused, and readiness stays down, however often asked.
    for n in 0..3 {
        assert_eq!(post(&client, &server, &format!("FULL-AGAIN-{n}")).await.0, 503);
        assert_eq!(get(&client, &server, "/readyz").await.0, 503);
    }
    for id in &acked {
        assert_eq!(get(&client, &server, &format!("/v1/reviews/{id}")).await.0, 200, "{id}");
    }

    // Space again: the next write succeeds and readiness comes back.
    let pid = server.child.id().to_string();
    let raised = Command::new("prlimit").args(["--pid", &pid, "--fsize=unlimited:"]).status().unwrap();
    assert!(raised.success());
    assert_eq!(post(&client, &server, "FULL-AFTER").await.0, 201);
    assert_eq!(get(&client, &server, "/readyz").await.0, 200);
    drop(server);
    let (code, stdout, stderr) = run_to_exit(&["ledger", "verify", "--ledger", arg, "--json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["records"], acked.len() + 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn verify_finds_a_damaged_application_id_index() {
    let dir = temp_dir("hardening-index");
    let ledger = dir.join("ledger.sqlite");
    let arg = ledger.to_str().unwrap();
    {
        let writer = SqliteLedger::create(&ledger, false).unwrap();
        for i in 1..=9 {
            assert!(matches!(writer.append(record(&format!("IDX-{i}0"), "x")).wait().unwrap(), Appended::New(_)));
        }
    }
    // Closed, the writer copied the WAL into the file and removed it: every page is in the file.
    assert!(!with_suffix(&ledger, "-wal").exists());

    // One byte of the index page changes `IDX-50` into `IDX-51` (still in order, so lookups
    // run as usual, and miss).
    let (root, page_size): (i64, i64) = {
        let conn = rusqlite::Connection::open_with_flags(&ledger, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let root = conn
            .query_row("SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_reviews_1'", [], |r| r.get(0))
            .unwrap();
        (root, conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap())
    };
    let mut bytes = std::fs::read(&ledger).unwrap();
    let (root, page_size) = (usize::try_from(root).unwrap(), usize::try_from(page_size).unwrap());
    let page = &mut bytes[(root - 1) * page_size..root * page_size];
    let at = page.windows(6).position(|w| w == b"IDX-50").expect("the id in the index page");
    page[at + 5] = b'1';
    std::fs::write(&ledger, &bytes).unwrap();

    // The damage seen in the field: an acknowledged review is no longer found by its id.
    let reader = SqliteLedger::open_read_only(&ledger).unwrap();
    assert!(reader.get("IDX-40").unwrap().is_some());
    assert!(reader.get("IDX-50").unwrap().is_none());
    drop(reader);

    let (code, stdout, stderr) = run_to_exit(&["ledger", "verify", "--ledger", arg]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("the file is damaged"), "{stdout}");
    assert!(stdout.contains("sqlite_autoindex_reviews_1"), "{stdout}");
    assert!(!stdout.contains("chain intact"), "{stdout}");
    let (code, stdout, _) = run_to_exit(&["ledger", "verify", "--ledger", arg, "--json"]);
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert!(!report["storage_problems"].as_array().unwrap().is_empty(), "{report}");
    // The chain itself is whole: only the index lies.
    assert_eq!((report["records"].as_i64(), &report["first_broken"]), (Some(9), &Value::Null));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn verify_and_serve_refuse_what_is_no_ledger_and_leave_it_as_it_was() {
    let dir = temp_dir("hardening-foreign");
    let other = dir.join("other.sqlite");
    rusqlite::Connection::open(&other).unwrap().execute_batch("CREATE TABLE notes (text TEXT);").unwrap();
    let files: [(&str, Option<&[u8]>, &str); 3] = [
        ("empty.sqlite", Some(b""), "it is empty (0 bytes)"),
        ("notes.sqlite", Some(b"not a ledger\n"), "it is not a SQLite database"),
        ("other.sqlite", None, "it has no `reviews` table"),
    ];
    for (name, content, why) in files {
        let path = dir.join(name);
        if let Some(content) = content {
            std::fs::write(&path, content).unwrap();
        }
        let arg = path.to_str().unwrap();
        let before = snapshot(&path);
        let (code, _, stderr) = run_to_exit(&["ledger", "verify", "--ledger", arg]);
        assert_eq!(code, 3, "{stderr}");
        assert!(stderr.contains(&format!("{arg} is not an oscar ledger: {why}")), "{stderr}");
        let (code, stderr) = serve_refused(arg);
        assert_eq!(code, 3, "{stderr}");
        assert!(stderr.contains(&format!("{arg} is not an oscar ledger: {why}")), "{stderr}");
        assert_eq!(snapshot(&path), before, "{name} was changed");
    }
    // Nothing was made beside the empty file, not even SQLite's files or the writer's lock.
    for suffix in ["-wal", "-shm", ".lock"] {
        assert!(!with_suffix(&dir.join("empty.sqlite"), suffix).exists(), "{suffix}");
    }
    let missing = dir.join("missing.sqlite");
    let (code, _, stderr) = run_to_exit(&["ledger", "verify", "--ledger", missing.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(stderr.contains("no ledger at"), "{stderr}");
    assert!(!missing.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_writes_nothing_even_to_a_crashed_ledger() {
    let dir = temp_dir("hardening-readonly");
    let ledger = dir.join("ledger.sqlite");
    let arg = ledger.to_str().unwrap();
    init_ledger(&ledger);
    let mut server = Oscar::start(&["serve", "--no-auth", "--trust-submitted-at", "--ledger", arg], "/readyz");
    let client = client();
    for n in 0..12 {
        assert_eq!(post(&client, &server, &format!("RO-{n}")).await.0, 201);
    }
    // Killed, the server leaves its last commits in the WAL, which a writer would copy into
    // the file (and remove) when it closes.
    server.kill();
    let wal = with_suffix(&ledger, "-wal");
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    let before = [snapshot(&ledger), snapshot(&wal)];
    for format in [None, Some("--json")] {
        let mut args = vec!["ledger", "verify", "--ledger", arg];
        args.extend(format);
        let (code, stdout, stderr) = run_to_exit(&args);
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(stdout.contains("12"), "{stdout}");
    }
    assert!([snapshot(&ledger), snapshot(&wal)] == before, "verify changed the ledger or its WAL");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_ledger_is_refused_at_start() {
    let dir = temp_dir("hardening-second");
    let ledger = dir.join("ledger.sqlite");
    let arg = ledger.to_str().unwrap();
    init_ledger(&ledger);
    let first = Oscar::start(&["serve", "--no-auth", "--trust-submitted-at", "--ledger", arg], "/readyz");
    let client = client();
    assert_eq!(post(&client, &first, "TWO-1").await.0, 201);

    let (code, stderr) = serve_refused(arg);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains(&format!("ledger {arg} is in use by another process")), "{stderr}");
    let (code, _, stderr) = run_to_exit(&["ledger", "init", "--ledger", arg]);
    assert_eq!(code, 3, "{stderr}");
    // Readers are not writers: verify runs beside the server.
    let (code, stdout, _) = run_to_exit(&["ledger", "verify", "--ledger", arg]);
    assert_eq!(code, 0, "{stdout}");

    // The first goes on as before.
    assert_eq!(post(&client, &first, "TWO-2").await.0, 201);
    assert_eq!(get(&client, &first, "/readyz").await.0, 200);
    let _ = std::fs::remove_dir_all(&dir);
}
