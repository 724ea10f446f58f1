//! Signed checkpoints of the ledger: a server signing them under load, `ledger verify`
//! checking the chain against them, proofs that a review is in the log checked offline, and
//! a rewritten, tampered or truncated history or a wrong key found. Real `oscar` processes,
//! real SQLite files, real keys.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod server_common;

use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oscar::ledger::checkpoint::{
    CheckpointDir, CheckpointOptions, Checkpointer, Proof, SigningKey, VerifierKey, check_proof,
};
use oscar::ledger::{HashScheme, Ledger, SqliteLedger};
use server_common::{Oscar, example, init_ledger, record, refused, run_to_exit, temp_dir};

/// The name of the test log.
const ORIGIN: &str = "checkpoints.test/oscar";

/// `oscar ledger keygen` into `dir/NAME`: the private and public key files.
fn keygen(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(name);
    let (code, stdout, stderr) = run_to_exit(&["ledger", "keygen", "--out", s(&key), "--name", ORIGIN]);
    assert_eq!(code, 0, "{stderr}");
    let public = dir.join(format!("{name}.pub"));
    assert_eq!(std::fs::read_to_string(&public).unwrap().trim(), stdout.trim(), "the public key is printed");
    (key, public)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The checkpoint file of `size` records in `dir`.
fn checkpoint_file(dir: &Path, size: u64) -> PathBuf {
    dir.join(format!("checkpoint-{size:020}.txt"))
}

/// Waits (at most 20 s) until the checkpoint of `size` records is in `dir`.
fn wait_for_checkpoint(dir: &Path, size: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !checkpoint_file(dir, size).exists() {
        assert!(Instant::now() < deadline, "no checkpoint of {size} records in {}", dir.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_under_load_signs_checkpoints_that_verify_and_prove_reviews_offline() {
    let dir = temp_dir("ckpt-serve");
    let (key, public) = keygen(&dir, "key");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the private key is readable by its owner only");
    let (ledger, checkpoints) = (dir.join("ledger.sqlite"), dir.join("checkpoints"));
    init_ledger(&ledger);
    let args = [
        "serve",
        "--no-auth",
        "--trust-submitted-at",
        "--ledger",
        s(&ledger),
        "--checkpoint-dir",
        s(&checkpoints),
        "--checkpoint-key",
        s(&key),
        "--checkpoint-every",
        "10",
        "--checkpoint-seconds",
        "3600",
    ];
    let mut server = Oscar::start(&args, "/healthz");
    let url = server.url();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    // 63 reviews from 8 clients at once.
    let clients = (0..8).map(|c| {
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move {
            for i in (c..63).step_by(8) {
                let resp = client.post(format!("{url}/v1/reviews")).json(&example(&format!("CK-{i}"))).send().await;
                assert_eq!(resp.unwrap().status().as_u16(), 201);
            }
        })
    });
    for c in clients.collect::<Vec<_>>() {
        c.await.unwrap();
    }
    for size in (10..=60).step_by(10) {
        wait_for_checkpoint(&checkpoints, size);
    }
    assert!(!checkpoint_file(&checkpoints, 63).exists(), "63 is no multiple of 10 and the hour has not passed");
    // Read-only beside the running server.
    let verify =
        ["ledger", "verify", "--ledger", s(&ledger), "--checkpoints", s(&checkpoints), "--public-key", s(&public)];
    let (code, stdout, stderr) = run_to_exit(&verify);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // A graceful stop signs the head.
    let stopped = std::process::Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status();
    assert!(stopped.unwrap().success());
    assert!(server.child.wait().unwrap().success());
    wait_for_checkpoint(&checkpoints, 63);
    let (code, stdout, stderr) = run_to_exit(&verify);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("8 checkpoint(s) valid, the first 63 record(s) match them"), "{stdout}");

    // A proof against the latest checkpoint, checked with no database.
    let (code, proof_text, stderr) = run_to_exit(&[
        "ledger",
        "prove",
        "CK-4",
        "--ledger",
        s(&ledger),
        "--checkpoints",
        s(&checkpoints),
        "--public-key",
        s(&public),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let proof: Proof = serde_json::from_str(&proof_text).unwrap();
    assert_eq!((proof.tree_size, proof.audit_path.len()), (63, 6), "⌈log2 63⌉ hashes");
    assert_eq!(proof.record.entry.application_id, "CK-4");
    let proof_file = dir.join("proof.json");
    std::fs::write(&proof_file, &proof_text).unwrap();
    std::fs::rename(&ledger, dir.join("elsewhere.sqlite")).unwrap();
    let check = |file: &Path, key: &Path| run_to_exit(&["ledger", "check-proof", s(file), "--public-key", s(key)]);
    let (code, stdout, _) = check(&proof_file, &public);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("valid: application `CK-4`"), "{stdout}");

    // One byte of the file changed: a digit of the first audit path hash.
    let first = &proof.audit_path[0];
    let at = proof_text.find(first.as_str()).unwrap() + first.find(|c: char| c.is_ascii_digit()).unwrap();
    let mut bytes = proof_text.clone().into_bytes();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    let bent = dir.join("bent.json");
    std::fs::write(&bent, bytes).unwrap();
    let (code, stdout, _) = check(&bent, &public);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("INVALID: the audit path does not lead"), "{stdout}");

    // Another key of the same name: neither the proof nor the checkpoints hold.
    let (_, other) = keygen(&dir, "other");
    let (code, stdout, _) = check(&proof_file, &other);
    assert_eq!(code, 1, "{stdout}");
    std::fs::rename(dir.join("elsewhere.sqlite"), &ledger).unwrap();
    let wrong =
        ["ledger", "verify", "--ledger", s(&ledger), "--checkpoints", s(&checkpoints), "--public-key", s(&other)];
    let (code, stdout, _) = run_to_exit(&wrong);
    assert_eq!(code, 1, "{stdout}");
    let named = checkpoint_file(&checkpoints, 63).display().to_string();
    assert!(stdout.contains(&format!("checkpoint {named}: not signed by the key")), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A ledger of `n` small records in `dir`, signed at every 4th record and at the head by a
/// new key: (ledger, checkpoint directory, private key file, public key file).
fn signed_ledger(dir: &Path, n: usize) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    let path = dir.join("ledger.sqlite");
    let ledger: Arc<dyn Ledger> = Arc::new(SqliteLedger::create(&path, false).unwrap());
    let key = SigningKey::generate(ORIGIN).unwrap();
    let (private, public) = (dir.join("key"), dir.join("key.pub"));
    std::fs::write(&private, key.to_text()).unwrap();
    std::fs::write(&public, key.verifier().to_text()).unwrap();
    let checkpoints = dir.join("checkpoints");
    let options = CheckpointOptions { every: NonZeroU64::new(4).unwrap(), interval: Duration::from_secs(3600) };
    let mut signer =
        Checkpointer::start(Arc::clone(&ledger), CheckpointDir::create(&checkpoints).unwrap(), key, options).unwrap();
    for i in 1..=n {
        ledger.append(record(&format!("T-{i}"), "x")).wait().unwrap();
    }
    signer.tick(true).unwrap();
    assert_eq!(signer.signed(), n as u64);
    (path, checkpoints, private, public)
}

/// `oscar ledger verify` with the checkpoints: exit code and standard output.
fn verify(ledger: &Path, checkpoints: &Path, public: &Path) -> (i32, String) {
    let args = ["ledger", "verify", "--ledger", s(ledger), "--checkpoints", s(checkpoints), "--public-key", s(public)];
    let (code, stdout, stderr) = run_to_exit(&args);
    (code, format!("{stdout}{stderr}"))
}

/// `oscar serve` with checkpoints in `checkpoints` signed by `key`, expected to refuse to
/// start: its exit code and standard error.
fn serve_refused(ledger: &Path, checkpoints: &Path, key: &Path) -> (Option<i32>, String) {
    let args =
        ["serve", "--no-auth", "--ledger", s(ledger), "--checkpoint-dir", s(checkpoints), "--checkpoint-key", s(key)];
    refused(&args, &[])
}

/// Runs SQL on the ledger file as someone bypassing oscar.
fn tamper(ledger: &Path, sql: &str) {
    rusqlite::Connection::open(ledger).unwrap().execute_batch(sql).unwrap();
}

/// Which checkpoints of `sizes` the report names, with what.
fn named(report: &str, checkpoints: &Path, sizes: &[u64], what: &str) -> bool {
    sizes.iter().all(|&n| report.contains(&format!("checkpoint {}: {what}", checkpoint_file(checkpoints, n).display())))
}

#[test]
fn a_history_rewritten_with_a_consistent_chain_fails_naming_the_checkpoints_and_stops_the_server() {
    let dir = temp_dir("ckpt-rewrite");
    let (ledger, checkpoints, private, public) = signed_ledger(&dir, 10);
    assert_eq!(verify(&ledger, &checkpoints, &public).0, 0);
    // Record 6's caller changed and every hash from it on recomputed: the chain is intact.
    let records = SqliteLedger::open_read_only(&ledger)
        .unwrap()
        .list(&oscar::ledger::Query { limit: 100, ..Default::default() })
        .unwrap();
    let mut sql = String::from("DROP TRIGGER reviews_no_update;");
    let mut prev = records[4].hash.clone();
    for r in &records[5..] {
        let mut entry = r.entry.clone();
        entry.caller = if r.seq == 6 { "someone-else".into() } else { entry.caller };
        let scheme = HashScheme::Digests;
        let hash = scheme.record_hash(r.seq, &prev, &entry, &scheme.review_digest(&entry.review));
        sql += &format!(
            "UPDATE reviews SET caller = '{}', prev_hash = '{prev}', hash = '{hash}' WHERE seq = {};",
            entry.caller, r.seq
        );
        prev = hash;
    }
    tamper(&ledger, &sql);
    let (code, report) = verify(&ledger, &checkpoints, &public);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("10 record(s), chain intact"), "the rewrite is consistent: {report}");
    assert!(named(&report, &checkpoints, &[8, 10], "signs root"), "{report}");
    assert!(report.contains("the history was rewritten"), "{report}");
    assert!(!named(&report, &checkpoints, &[4], ""), "record 6 is not under checkpoint 4: {report}");
    // A server does not go on signing the rewritten history.
    let (code, stderr) = serve_refused(&ledger, &checkpoints, &private);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("--checkpoint-dir: checkpoint") && stderr.contains("the history was rewritten"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_tampered_record_and_a_truncated_ledger_fail_naming_the_checkpoints() {
    let dir = temp_dir("ckpt-tamper");
    let (ledger, checkpoints, _, public) = signed_ledger(&dir, 10);
    tamper(&ledger, "DROP TRIGGER reviews_no_update; UPDATE reviews SET caller = 'someone-else' WHERE seq = 6;");
    let (code, report) = verify(&ledger, &checkpoints, &public);
    assert_eq!(code, 1, "{report}");
    assert!(named(&report, &checkpoints, &[8, 10], "covers record 6, where the hash chain is broken"), "{report}");
    assert!(!named(&report, &checkpoints, &[4], ""), "{report}");

    let dir = temp_dir("ckpt-truncate");
    let (ledger, checkpoints, _, public) = signed_ledger(&dir, 10);
    tamper(&ledger, "DROP TRIGGER reviews_no_delete; DELETE FROM reviews WHERE seq > 8;");
    let (code, report) = verify(&ledger, &checkpoints, &public);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("8 record(s), chain intact"), "{report}");
    assert!(
        named(&report, &checkpoints, &[10], "signs 10 records, the ledger has 8: records were removed"),
        "{report}"
    );
    assert!(!named(&report, &checkpoints, &[8], ""), "{report}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A change made to a proof.
type Change = fn(&mut Proof);

/// Changes the first ASCII digit of `text` to another one.
fn bump(text: &str) -> String {
    let at = text.find(|c: char| c.is_ascii_digit()).unwrap();
    let digit = text.as_bytes()[at] - b'0';
    format!("{}{}{}", &text[..at], (digit + 1) % 10, &text[at + 1..])
}

#[test]
fn a_proof_with_any_one_field_changed_does_not_hold() {
    let dir = temp_dir("ckpt-proof");
    let (ledger, checkpoints, _, public) = signed_ledger(&dir, 13);
    let key = VerifierKey::parse(&std::fs::read_to_string(&public).unwrap()).unwrap();
    let store = SqliteLedger::open_read_only(&ledger).unwrap();
    let file = checkpoint_file(&checkpoints, 13);
    let note = std::fs::read_to_string(&file).unwrap();
    for seq in 1..=13 {
        let proof = oscar::ledger::checkpoint::prove(&store, &format!("T-{seq}"), &file, &note, &key).unwrap();
        assert_eq!(check_proof(&proof, &key).unwrap().seq, seq);
    }
    let proof = oscar::ledger::checkpoint::prove(&store, "T-5", &file, &note, &key).unwrap();
    let changes: Vec<(&str, Change)> = vec![
        ("application", |p| p.record.entry.application = bump(&p.record.entry.application)),
        ("review", |p| p.record.entry.review = p.record.entry.review.replace('{', "[")),
        ("recorded_at", |p| p.record.entry.recorded_at = bump(&p.record.entry.recorded_at)),
        ("content_hash", |p| p.record.entry.content_hash = bump(&p.record.entry.content_hash)),
        ("verdict", |p| p.record.entry.verdict = oscar::review::Verdict::Escalate),
        ("prev_hash", |p| p.record.prev_hash = bump(&p.record.prev_hash)),
        ("hash", |p| p.record.hash = bump(&p.record.hash)),
        ("seq", |p| p.record.seq += 1),
        ("hash_scheme", |p| p.hash_scheme = HashScheme::Fields),
        ("leaf_hash", |p| p.leaf_hash = bump(&p.leaf_hash)),
        ("leaf_index", |p| p.leaf_index += 1),
        ("tree_size", |p| p.tree_size += 1),
        ("audit_path", |p| p.audit_path[2] = bump(&p.audit_path[2])),
        ("checkpoint", |p| p.checkpoint = bump(&p.checkpoint)),
        ("public_key", |p| p.public_key = bump(&p.public_key)),
    ];
    for (field, change) in changes {
        let mut bent = proof.clone();
        change(&mut bent);
        assert_ne!(bent, proof, "{field} unchanged");
        assert!(check_proof(&bent, &key).is_err(), "a proof with its {field} changed holds");
    }
    // A checkpoint before the record proves nothing about it.
    let early = checkpoint_file(&checkpoints, 4);
    let early_note = std::fs::read_to_string(&early).unwrap();
    let err = oscar::ledger::checkpoint::prove(&store, "T-5", &early, &early_note, &key).unwrap_err();
    assert!(err.to_string().contains("signs 4 records, the review is record 5"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_key_file_or_checkpoint_directory_is_refused_naming_the_flag() {
    let dir = temp_dir("ckpt-flags");
    let ledger = dir.join("ledger.sqlite");
    init_ledger(&ledger);
    let (key, public) = keygen(&dir, "key");
    let (private_text, public_text) =
        (std::fs::read_to_string(&key).unwrap(), std::fs::read_to_string(&public).unwrap());
    let (code, _, stderr) = run_to_exit(&["ledger", "keygen", "--out", s(&key)]);
    assert_eq!(code, 3);
    assert!(stderr.contains(&format!("--out: {}: File exists", key.display())), "{stderr}");
    std::fs::rename(&key, dir.join("moved")).unwrap();
    let (code, _, stderr) = run_to_exit(&["ledger", "keygen", "--out", s(&key)]);
    assert_eq!(code, 3);
    assert!(stderr.contains(&format!("--out: {}: File exists", public.display())), "{stderr}");
    assert!(!key.exists(), "no private key is left beside another key's public key");
    std::fs::rename(dir.join("moved"), &key).unwrap();
    assert_eq!(std::fs::read_to_string(&key).unwrap(), private_text);
    assert_eq!(std::fs::read_to_string(&public).unwrap(), public_text);
    let garbage = dir.join("garbage");
    std::fs::write(&garbage, "not a key\n").unwrap();
    let serve = |dir_arg: &Path, key_arg: &Path| serve_refused(&ledger, dir_arg, key_arg);
    let (code, stderr) = serve(&dir.join("checkpoints"), &garbage);
    assert_eq!(code, Some(3));
    assert!(stderr.contains(&format!("--checkpoint-key: {}: not a private key", garbage.display())), "{stderr}");
    let (code, stderr) = serve(&dir.join("checkpoints"), &public);
    assert_eq!(code, Some(3));
    assert!(stderr.contains("--checkpoint-key"), "{stderr}");
    let under_a_file = garbage.join("checkpoints");
    let (code, stderr) = serve(&under_a_file, &key);
    assert_eq!(code, Some(3));
    assert!(stderr.contains(&format!("--checkpoint-dir: {}", under_a_file.display())), "{stderr}");
    let (code, stderr) = refused(&["serve", "--no-auth", "--ledger", s(&ledger), "--checkpoint-dir", s(&dir)], &[]);
    assert_eq!(code, Some(2), "a directory without a key is a usage error: {stderr}");

    let (code, report) = verify(&ledger, &dir.join("missing"), &public);
    assert_eq!(code, 3);
    assert!(report.contains("--checkpoints:"), "{report}");
    let (code, report) = verify(&ledger, &dir, &key);
    assert_eq!(code, 3);
    assert!(report.contains("--public-key:") && report.contains("private key"), "{report}");
    let empty = dir.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let prove =
        ["ledger", "prove", "X-1", "--ledger", s(&ledger), "--checkpoints", s(&empty), "--public-key", s(&public)];
    let (code, _, stderr) = run_to_exit(&prove);
    assert_eq!(code, 3);
    assert!(stderr.contains(&format!("--checkpoints: {}: no checkpoint", empty.display())), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
