//! The index of approved routes kept in a file between runs (`serve --index-cache`, by
//! default beside a SQLite ledger): a start reads it and matches only the approvals recorded
//! after it, and gets the index that matching every approval again gets; a file it cannot
//! trust (made for another network, from another ledger, truncated, not a cache at all) is
//! ignored with the reason, and the index built from the ledger as without it. Real SQLite
//! ledger files, real `oscar serve` processes, generated applications on the shipped
//! Helsinki network, restrictions on its real roads.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod recheck_common;
mod server_common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oscar::Reviewer;
use oscar::ledger::{Ledger, LedgerError, NewRecord, SqliteLedger};
use oscar::restrictions::{CachedIndex, affected_among, affected_indexed, approved_index, approved_index_cached};
use oscar::review::Verdict;
use oscar::route_index::cache;
use oscar::routes::Closure;
use recheck_common::{applications, restrictions};
use serde_json::{Value, json};
use server_common::{Oscar, temp_dir};

const RECORDED: &str = "2026-11-20T00:00:00.000000Z";

/// Approved applications and restrictions on the shipped network, with the reviewer that
/// serves them.
struct Fixture {
    reviewer: Reviewer,
    apps: Vec<Value>,
    closures: Vec<Closure>,
}

fn fixture(count: usize) -> Fixture {
    let reviewer = Reviewer::with_defaults().unwrap();
    let network = &reviewer.routes().unwrap().network;
    let apps = applications(network, count, 7);
    // Valid for up to two months: many of them meet a permit.
    let closures = restrictions(network, 40, 3, |rng| 1 + rng.below(60) as i64);
    Fixture { reviewer, apps, closures }
}

impl Fixture {
    /// The application ids of `apps` that `closure` affects, by the full scan (every
    /// application read and matched again).
    fn affected(&self, apps: &[Value], closure: &Closure) -> Vec<String> {
        let approved: Vec<(String, String)> =
            apps.iter().map(|a| (a["application_id"].as_str().unwrap().to_string(), a.to_string())).collect();
        affected_among(&self.reviewer, closure, approved.iter().map(|(id, json)| (id.as_str(), json.as_str())))
            .into_iter()
            .map(|a| a.application_id)
            .collect()
    }

    /// What `index` answers for each restriction, application ids.
    fn answers(&self, index: &oscar::route_index::RouteIndex) -> Vec<Vec<String>> {
        self.closures
            .iter()
            .map(|c| {
                affected_indexed(&self.reviewer, index, c).found.into_iter().map(|(_, a)| a.application_id).collect()
            })
            .collect()
    }
}

/// A new ledger file `name` in `dir` with `apps` approved at `recorded_at`.
fn ledger_with(dir: &Path, name: &str, apps: &[Value], recorded_at: &str) -> PathBuf {
    let path = dir.join(name);
    drop(SqliteLedger::create(&path, false).unwrap());
    record(&path, apps, recorded_at);
    path
}

/// Appends `apps` as approved reviews recorded at `recorded_at` to the ledger at `path`,
/// each after an escalated review of it (which the index skips).
fn record(path: &Path, apps: &[Value], recorded_at: &str) {
    let ledger = reopened(path);
    for app in apps {
        let id = app["application_id"].as_str().unwrap();
        for (verdict, id) in [(Verdict::Escalate, format!("{id}-escalated")), (Verdict::Approve, id.to_string())] {
            let mut app = app.clone();
            app["application_id"] = json!(id);
            let application = oscar::ledger::canonical_json(&app);
            let record = NewRecord {
                application_id: id,
                content_hash: oscar::ledger::content_hash(&application),
                application,
                review: "{}".into(),
                verdict,
                caller: "test".into(),
                recorded_at: recorded_at.into(),
            };
            ledger.append(record).wait().unwrap();
        }
    }
}

/// The ledger at `path`, opened for writing just after this test closed it. Other tests in
/// this binary start `oscar serve` processes, and a child holds a copy of the writer's lock
/// descriptor from its fork until its exec: the lock may still be held for that moment
/// after the ledger is closed (seen once in a clean-clone run). Only that is waited out.
fn reopened(path: &Path) -> SqliteLedger {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match SqliteLedger::open(path, false) {
            Err(LedgerError::Locked(_)) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            opened => return opened.unwrap(),
        }
    }
}

fn started(ledger: &Path, reviewer: &Reviewer, cache: &Path) -> CachedIndex {
    let ledger = reopened(ledger);
    approved_index_cached(&ledger, reviewer, cache).unwrap()
}

fn rebuilt(ledger: &Path, reviewer: &Reviewer) -> oscar::route_index::RouteIndex {
    approved_index(&reopened(ledger), reviewer).unwrap()
}

/// A start with a cache written by the start before gets the index that matching every
/// approval gets, matching only the approvals recorded since.
#[test]
fn a_start_from_the_cache_gets_the_index_matching_every_approval_gets() {
    let f = fixture(120);
    let dir = temp_dir("index-cache-lib");
    let (first, later) = f.apps.split_at(80);
    let ledger = ledger_with(&dir, "ledger.sqlite", first, RECORDED);
    let path = dir.join("ledger.sqlite.route-index");

    let made = started(&ledger, &f.reviewer, &path);
    assert!(made.ignored.as_deref().is_some_and(|why| why.contains("no index cache")), "{:?}", made.ignored);
    assert_eq!((made.from_cache, made.matched), (0, 80));
    // The last approved review: the 80th, each after its escalated one.
    assert_eq!(made.stamp.as_ref().map(|s| s.seq), Some(160));

    let again = started(&ledger, &f.reviewer, &path);
    assert_eq!((again.ignored, again.from_cache, again.matched), (None, 80, 0));
    let matched = rebuilt(&ledger, &f.reviewer);
    assert_eq!(again.index, matched);
    assert_eq!(f.answers(&again.index), f.answers(&matched));

    record(&ledger, later, RECORDED);
    let grown = started(&ledger, &f.reviewer, &path);
    assert_eq!((grown.ignored, grown.from_cache, grown.matched), (None, 80, 40));
    let matched = rebuilt(&ledger, &f.reviewer);
    assert_eq!(grown.index, matched);
    let answers = f.answers(&grown.index);
    assert_eq!(answers, f.answers(&matched));
    let scan: Vec<Vec<String>> = f.closures.iter().map(|c| f.affected(&f.apps, c)).collect();
    assert_eq!(answers, scan);
    assert!(answers.iter().flatten().count() >= 10, "too few affected permits to compare: {answers:?}");
    // The start wrote the grown index: the next one matches nothing.
    let next = started(&ledger, &f.reviewer, &path);
    assert_eq!((next.from_cache, next.matched), (120, 0));
}

/// Each cache a start cannot trust is ignored with its reason, and the index is the one
/// matching every approval gets; the start writes a good cache in its place, except over a
/// file that is not a cache at all, which it leaves as it is.
#[test]
fn a_cache_that_cannot_be_trusted_is_ignored_and_rebuilt() {
    let f = fixture(30);
    let dir = temp_dir("index-cache-untrusted");
    let ledger = ledger_with(&dir, "ledger.sqlite", &f.apps, RECORDED);
    let path = dir.join("cache");
    let good = {
        started(&ledger, &f.reviewer, &path);
        std::fs::read(&path).unwrap()
    };
    let matched = rebuilt(&ledger, &f.reviewer);
    // The good cache's stamp changed, over no permits: one taken for good would lack them all.
    let restamped = |change: &dyn Fn(&mut cache::Stamp)| {
        std::fs::write(&path, &good).unwrap();
        let (mut stamp, _) = cache::load(&path).unwrap();
        change(&mut stamp);
        cache::save(&path, &oscar::route_index::RouteIndex::default(), &stamp).unwrap();
    };
    let written = |bytes: &[u8]| std::fs::write(&path, bytes).unwrap();
    let mut flipped = good.clone();
    *flipped.last_mut().unwrap() ^= 1;
    let mut format = good.clone();
    format[8] = 9;
    let other_ledger = ledger_with(&dir, "other.sqlite", &f.apps, "2026-11-21T00:00:00.000000Z");
    let short_ledger = ledger_with(&dir, "short.sqlite", &f.apps[..10], RECORDED);
    let cases: [(&str, &dyn Fn(), &Path); 9] = [
        ("network `sha256:another`", &|| restamped(&|s| s.made_for.network = "sha256:another".into()), &ledger),
        ("made for rulebooks", &|| restamped(&|s| s.made_for.rulebooks.push("sha256:another".into())), &ledger),
        ("another oscar build", &|| restamped(&|s| s.made_for.build = "oscar 0.0.1".into()), &ledger),
        ("truncated", &|| written(&good[..good.len() - 100]), &ledger),
        ("does not hash", &|| written(&flipped), &ledger),
        ("format 9", &|| written(&format), &ledger),
        ("not an index cache", &|| written(b"SQLite format 3\0 and so on, for a while longer"), &ledger),
        ("another or a rewritten ledger", &|| written(&good), &other_ledger),
        ("which this ledger does not have", &|| written(&good), &short_ledger),
    ];
    for (reason, make, on) in cases {
        make();
        let start = started(on, &f.reviewer, &path);
        let why = start.ignored.unwrap_or_else(|| panic!("{reason}: the cache was used"));
        assert!(why.contains(reason), "{reason}: {why}");
        assert_eq!(start.from_cache, 0, "{reason}");
        assert_eq!(start.index, rebuilt(on, &f.reviewer), "{reason}");
        if on == ledger {
            assert_eq!(f.answers(&start.index), f.answers(&matched), "{reason}");
        }
        if reason == "not an index cache" {
            // Never replaced: it may be the ledger, named by mistake.
            assert!(std::fs::read(&path).unwrap().starts_with(b"SQLite format 3"));
        } else {
            // A good cache in its place.
            assert_eq!(started(on, &f.reviewer, &path).ignored, None, "{reason}");
        }
    }
}

/// `oscar serve --ledger FILE` with the log (info) sent to `log`.
fn serve(ledger: &Path, log: &Path, extra: &[&str]) -> Oscar {
    let mut args = vec!["serve", "--ledger", ledger.to_str().unwrap(), "--no-auth"];
    args.extend_from_slice(extra);
    Oscar::start_with(&args, "/healthz", &[("RUST_LOG", "info")], std::fs::File::create(log).unwrap())
}

/// The log line that says how the index was made.
fn index_line(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap();
    text.lines().find(|l| l.contains("index of approved routes ready")).unwrap_or_else(|| panic!("{text}")).to_string()
}

/// The restriction `closure` as submitted, with id `id`.
fn submitted(closure: &Closure, id: &str) -> Value {
    let geometry = match closure.geometry.as_slice() {
        [point] => json!({"type": "Point", "coordinates": point}),
        line => json!({"type": "LineString", "coordinates": line}),
    };
    let mut r = json!({
        "id": id,
        "kind": if closure.limits.is_some() { "lowered_limit" } else { "closure" },
        "reason": "test",
        "valid_from": closure.valid_from.to_rfc3339(),
        "valid_until": closure.valid_until.to_rfc3339(),
        "geometry": geometry,
    });
    if let Some(limits) = &closure.limits {
        r["limits"] = serde_json::to_value(limits).unwrap();
    }
    r
}

/// Adds to `server` the restrictions `picked` (ids tagged `tag`) and checks that the
/// approvals each affects are `expected` (its re-check answer).
fn rechecks(server: &Oscar, f: &Fixture, picked: &[usize], expected: &[Vec<String>], tag: &str) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for &k in picked {
        let body = submitted(&f.closures[k], &format!("{tag}-{k}"));
        let answer: Value = rt.block_on(async {
            let resp = reqwest::Client::new()
                .post(format!("{}/v1/restrictions", server.url()))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 201, "{tag}-{k}");
            resp.json().await.unwrap()
        });
        let ids: Vec<&str> =
            answer["affected"].as_array().unwrap().iter().map(|a| a["application_id"].as_str().unwrap()).collect();
        assert_eq!(ids, expected[k], "{tag}-{k}");
    }
}

/// The service writes the cache beside its SQLite ledger at start and at a graceful stop;
/// the next start reads it, matches only the approvals recorded since, and answers
/// re-checks as matching every approval does. A cache from another ledger, or a truncated
/// one, is ignored with the reason in the log, and the answers are the same.
#[test]
fn serve_keeps_the_index_between_runs_and_ignores_a_cache_it_cannot_trust() {
    let f = fixture(60);
    let dir = temp_dir("index-cache-serve");
    let (first, later) = f.apps.split_at(40);
    let ledger = ledger_with(&dir, "ledger.sqlite", first, RECORDED);
    let cache_file = dir.join("ledger.sqlite.route-index");
    let log = dir.join("serve.log");
    let expected: Vec<Vec<String>> = f.closures.iter().map(|c| f.affected(&f.apps, c)).collect();
    let expected_first: Vec<Vec<String>> = f.closures.iter().map(|c| f.affected(first, c)).collect();
    // Restrictions that affect permits of both halves, and one that affects none.
    let mut picked: Vec<usize> =
        (0..f.closures.len()).filter(|&k| expected[k].len() > expected_first[k].len()).collect();
    picked.truncate(3);
    picked.extend((0..f.closures.len()).find(|&k| expected[k].is_empty()));
    assert!(picked.len() >= 3, "too few restrictions meet the permits: {expected:?}");

    // First start: no cache yet; it is written once the index is made.
    let mut server = serve(&ledger, &log, &[]);
    let line = index_line(&log);
    assert!(line.contains("from_cache=0") && line.contains("matched=40"), "{line}");
    assert!(std::fs::read_to_string(&log).unwrap().contains("no index cache at"));
    assert!(cache_file.exists());
    rechecks(&server, &f, &picked, &expected_first, "first");
    server.terminate();

    // Approvals recorded while no server ran: matched at the next start, after the cache.
    record(&ledger, later, RECORDED);
    let mut server = serve(&ledger, &log, &[]);
    let line = index_line(&log);
    assert!(line.contains("from_cache=40") && line.contains("matched=20"), "{line}");
    rechecks(&server, &f, &picked, &expected, "second");
    server.terminate();

    // A cache given by flag, taken from another ledger with the same applications.
    let other = ledger_with(&dir, "other.sqlite", &f.apps, "2026-11-21T00:00:00.000000Z");
    let given = dir.join("given.route-index");
    std::fs::copy(&cache_file, &given).unwrap();
    let mut server = serve(&other, &log, &["--index-cache", given.to_str().unwrap()]);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("another or a rewritten ledger"), "{text}");
    assert!(index_line(&log).contains("from_cache=0"), "{text}");
    rechecks(&server, &f, &picked, &expected, "other");
    server.terminate();

    // A truncated cache.
    let bytes = std::fs::read(&cache_file).unwrap();
    std::fs::write(&cache_file, &bytes[..bytes.len() / 2]).unwrap();
    let mut server = serve(&ledger, &log, &[]);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("truncated"), "{text}");
    assert!(index_line(&log).contains("from_cache=0"), "{text}");
    rechecks(&server, &f, &picked, &expected, "truncated");
    server.terminate();
    // Rewritten whole at that start.
    assert_eq!(cache::load(&cache_file).unwrap().0.seq, 120);
}

/// Approvals the service makes are in the cache it writes at a graceful stop: the next
/// start matches none of them.
#[test]
fn approvals_made_while_serving_are_in_the_cache_written_at_stop() {
    let dir = temp_dir("index-cache-stop");
    let ledger = dir.join("ledger.sqlite");
    drop(SqliteLedger::create(&ledger, false).unwrap());
    let log = dir.join("serve.log");
    let mut server = serve(&ledger, &log, &["--trust-submitted-at"]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let approved = rt.block_on(async {
        let mut approved = 0;
        for k in 0..3 {
            let app = server_common::example(&format!("STOP-{k}"));
            let resp =
                reqwest::Client::new().post(format!("{}/v1/reviews", server.url())).json(&app).send().await.unwrap();
            assert!(resp.status().is_success(), "{}", resp.status());
            let review: Value = resp.json().await.unwrap();
            approved += usize::from(review["verdict"] == "approve");
        }
        approved
    });
    assert_eq!(approved, 3, "the Helsinki example is approved");
    server.terminate();
    let (stamp, index) = cache::load(&dir.join("ledger.sqlite.route-index")).unwrap();
    assert_eq!((index.len(), stamp.seq), (3, 3));
    let _server = serve(&ledger, &log, &[]);
    let line = index_line(&log);
    assert!(line.contains("from_cache=3") && line.contains("matched=0"), "{line}");
}

/// `--index-cache` naming the ledger itself by mistake: the file is not a cache, so it is
/// neither read as one nor replaced; the ledger stays intact.
#[test]
fn a_cache_named_over_the_ledger_leaves_the_ledger_as_it_is() {
    let f = fixture(5);
    let dir = temp_dir("index-cache-over-ledger");
    let ledger = ledger_with(&dir, "ledger.sqlite", &f.apps, RECORDED);
    let log = dir.join("serve.log");
    let mut server = serve(&ledger, &log, &["--index-cache", ledger.to_str().unwrap()]);
    assert!(index_line(&log).contains("matched=5"));
    server.terminate();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("is not an index cache, so it is left as it is"), "{text}");
    let (code, out, err) = server_common::run_to_exit(&["ledger", "verify", "--ledger", ledger.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("10 record(s)"), "{out}");
}
