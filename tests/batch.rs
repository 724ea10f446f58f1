//! `oscar batch` and `oscar gen` as a user runs them (the real binary): the output does not
//! depend on the number of threads and matches `oscar review --json`, bad lines are
//! reported with their line numbers without stopping the run, an interrupted run (killed,
//! or its output cut anywhere) completes to the same bytes, and `gen` is reproducible.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod server_common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use server_common::{example, temp_dir};

fn oscar(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oscar"));
    // Set, so that oscar does not re-run itself: a kill then reaches the batch itself.
    cmd.args(args).env("RAYON_NUM_THREADS", "1");
    cmd
}

fn run(args: &[&str]) -> Output {
    oscar(args).output().unwrap()
}

fn gen_file(path: &Path, count: usize, seed: u64) -> Vec<u8> {
    let out =
        run(&["gen", "--count", &count.to_string(), "--seed", &seed.to_string(), "--out", path.to_str().unwrap()]);
    assert!(out.status.success(), "gen failed: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::read(path).unwrap()
}

/// `oscar batch IN --out OUT --threads N`: exit code, summary without its timing line.
fn batch(input: &Path, out: &Path, threads: usize) -> (Option<i32>, String) {
    let (i, o, t) = (input.to_str().unwrap(), out.to_str().unwrap(), threads.to_string());
    let output = run(&["batch", i, "--out", o, "--threads", &t]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    let summary = stdout.lines().filter(|l| !l.starts_with("reviewed ")).collect::<Vec<_>>().join("\n");
    assert!(output.status.code() != Some(3), "batch failed: {}", String::from_utf8_lossy(&output.stderr));
    (output.status.code(), summary)
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Generated applications with two bad lines and a duplicate among them: every kind of result.
fn mixed_input(dir: &Path) -> std::path::PathBuf {
    let generated = gen_file(&dir.join("gen.jsonl"), 12, 5);
    let mut text = String::from_utf8(generated).unwrap();
    let first = text.lines().next().unwrap().to_string();
    text.insert_str(0, "{\"application_id\": \"BROKEN\",\n  \n");
    text.push_str(&first);
    text.push('\n');
    let mut missing = example("BATCH-NO-CARRIER");
    missing.as_object_mut().unwrap().remove("carrier");
    text.push_str(&format!("{missing}\n"));
    let input = dir.join("mixed.jsonl");
    std::fs::write(&input, text).unwrap();
    input
}

#[test]
fn gen_with_one_seed_writes_the_same_file_on_any_threads_and_every_application_parses() {
    let dir = temp_dir("batch-gen");
    let a = gen_file(&dir.join("a.jsonl"), 25, 42);
    let b = gen_file(&dir.join("b.jsonl"), 25, 42);
    assert_eq!(a, b, "the same seed gave different files");
    assert_ne!(a, gen_file(&dir.join("c.jsonl"), 25, 43), "another seed gave the same file");
    let one_thread = run(&["gen", "--count", "25", "--seed", "42", "--threads", "1"]);
    assert_eq!(one_thread.stdout, a, "gen on one thread to standard output differs from gen --out");

    let reviewer = oscar::Reviewer::with_defaults().unwrap();
    let text = String::from_utf8(a).unwrap();
    assert_eq!(text.lines().count(), 25);
    for (n, line) in text.lines().enumerate() {
        let app = reviewer.parse(line).unwrap_or_else(|e| panic!("generated line {} is invalid: {e:?}", n + 1));
        assert_eq!(app.application_id, format!("GEN-{n:06}"));
        let network = reviewer.routes().unwrap().analyse(&app.route.geometry.coordinates);
        let on_roads = !network.matched.ways.is_empty() && network.matched.confidence > 0.5;
        assert!(on_roads, "line {} has a route off the roads: {:?}", n + 1, network.matched.problems);
    }
}

#[test]
fn one_thread_and_four_threads_write_the_same_bytes_as_review_json() {
    let dir = temp_dir("batch-threads");
    let input = dir.join("in.jsonl");
    let mut text = String::from_utf8(gen_file(&input, 60, 9)).unwrap();
    text.push_str(&format!("{}\n", example("BATCH-HELSINKI")));
    std::fs::write(&input, &text).unwrap();

    let (one, four) = (dir.join("one.jsonl"), dir.join("four.jsonl"));
    let (code, summary_one) = batch(&input, &one, 1);
    assert_eq!(code, Some(0), "{summary_one}");
    let (_, summary_four) = batch(&input, &four, 4);
    assert_eq!(std::fs::read(&one).unwrap(), std::fs::read(&four).unwrap(), "--threads 1 and 4 differ");
    assert_eq!(summary_one, summary_four);
    assert!(summary_one.starts_with("61 results: 61 reviews, 0 bad lines"), "{summary_one}");

    let results = lines(&one);
    assert_eq!(results.len(), 61);
    for (n, line) in text.lines().enumerate() {
        let id = serde_json::from_str::<Value>(line).unwrap()["application_id"].clone();
        assert_eq!(results[n]["application_id"], id, "result {} is not in input order", n + 1);
    }
    let written = std::fs::read_to_string(&one).unwrap();
    for n in [0, 60] {
        let app = dir.join("app.json");
        std::fs::write(&app, text.lines().nth(n).unwrap()).unwrap();
        let review = run(&["review", "--json", app.to_str().unwrap()]);
        let review = compact(&String::from_utf8(review.stdout).unwrap());
        assert_eq!(review, written.lines().nth(n).unwrap(), "line {}", n + 1);
    }
}

/// Pretty-printed JSON without the whitespace between its tokens.
fn compact(pretty: &str) -> String {
    let (mut out, mut in_string, mut escaped) = (String::new(), false, false);
    for c in pretty.chars() {
        if in_string {
            (escaped, in_string) = (c == '\\' && !escaped, in_string && (c != '"' || escaped));
        } else if c.is_whitespace() {
            continue;
        } else {
            in_string = c == '"';
        }
        out.push(c);
    }
    out
}

#[test]
fn bad_lines_are_reported_with_their_line_numbers_and_the_run_goes_on() {
    let dir = temp_dir("batch-bad");
    let input = mixed_input(&dir);
    let out = dir.join("out.jsonl");
    let (code, summary) = batch(&input, &out, 2);
    assert_eq!(code, Some(2), "bad lines must give exit 2: {summary}");

    let results = lines(&out);
    // Line 1 is cut JSON, 2 is blank; lines 3-14 are GEN-000000..11, 15 repeats line 3's id.
    assert_eq!(results.len(), 15, "one result per non-blank line");
    assert_eq!(results[0]["line"], 1);
    assert_eq!(results[0]["errors"][0]["pointer"], "");
    assert!(results[0]["errors"][0]["message"].as_str().unwrap().contains("not valid JSON"));
    for (n, result) in results[1..13].iter().enumerate() {
        assert_eq!(result["application_id"], format!("GEN-{n:06}"));
        assert!(result["verdict"].is_string(), "GEN-{n:06} was not reviewed: {result}");
    }
    assert_eq!(
        results[13],
        json!({ "line": 15, "application_id": "GEN-000000", "errors": [
            { "pointer": "/application_id", "message": "`GEN-000000` is already the id of line 3" }
        ]})
    );
    assert_eq!(results[14]["line"], 16);
    assert_eq!(results[14]["application_id"], "BATCH-NO-CARRIER");
    assert_eq!(results[14]["errors"][0]["pointer"], "/carrier");

    assert!(summary.starts_with("15 results: 12 reviews, 3 bad lines"), "{summary}");
    for expected in [
        "bad line 1: (document): not valid JSON",
        "bad line 15: /application_id: `GEN-000000`",
        "bad line 16: /carrier",
    ] {
        assert!(summary.contains(expected), "`{expected}` not in the summary:\n{summary}");
    }
}

#[test]
fn an_output_cut_anywhere_is_completed_to_the_same_bytes() {
    let dir = temp_dir("batch-cut");
    let input = mixed_input(&dir);
    let whole = dir.join("whole.jsonl");
    let (_, summary) = batch(&input, &whole, 2);
    let expected = std::fs::read(&whole).unwrap();
    let newlines: Vec<usize> = expected.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i).collect();
    // Nothing, mid-line (half the first result, inside the fifth), just before and after a
    // newline, and all but the last newline.
    let cuts = [0, newlines[0] / 2, newlines[3] + 100, newlines[6], newlines[6] + 1, expected.len() - 1];
    for cut in cuts {
        let out = dir.join(format!("cut-{cut}.jsonl"));
        std::fs::write(&out, &expected[..cut]).unwrap();
        let (code, resumed) = batch(&input, &out, 3);
        assert_eq!(code, Some(2));
        assert!(std::fs::read(&out).unwrap() == expected, "cut at byte {cut}: the completed output differs");
        let kept = newlines.iter().filter(|&&n| n < cut).count();
        let (counts, resumed_counts) =
            (summary.replacen("(0 kept", "", 1), resumed.replacen(&format!("({kept} kept"), "", 1));
        assert_eq!(counts, resumed_counts, "cut at byte {cut}: the summary differs");
    }
}

#[test]
fn a_batch_killed_mid_run_completes_to_the_same_bytes() {
    let dir = temp_dir("batch-kill");
    let input = dir.join("in.jsonl");
    gen_file(&input, 400, 11);
    let whole = dir.join("whole.jsonl");
    assert_eq!(batch(&input, &whole, 2).0, Some(0));

    let out = dir.join("killed.jsonl");
    let mut child = oscar(&["batch", input.to_str().unwrap(), "--out", out.to_str().unwrap(), "--threads", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::fs::metadata(&out).map_or(0, |m| m.len()) == 0 {
        assert!(started.elapsed() < Duration::from_secs(120), "the batch wrote nothing");
        assert!(child.try_wait().unwrap().is_none(), "the batch ended before it could be killed");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let left = std::fs::read(&out).unwrap();
    let expected = std::fs::read(&whole).unwrap();
    assert!(left.len() < expected.len(), "the batch finished before the kill");
    assert!(expected.starts_with(&left), "a killed batch left something else than a prefix");

    assert_eq!(batch(&input, &out, 2).0, Some(0));
    assert!(std::fs::read(&out).unwrap() == expected, "the resumed output differs from an uninterrupted run");
}

#[test]
fn an_output_of_another_input_or_a_damaged_one_is_refused_and_left_alone() {
    let dir = temp_dir("batch-refuse");
    let (input, other) = (dir.join("in.jsonl"), dir.join("other.jsonl"));
    gen_file(&input, 3, 1);
    gen_file(&other, 3, 2);
    std::fs::write(&other, std::fs::read_to_string(&other).unwrap().replace("GEN-", "OTHER-")).unwrap();
    let out = dir.join("out.jsonl");
    assert_eq!(batch(&other, &out, 1).0, Some(0));
    let before = std::fs::read(&out).unwrap();

    let refused = |input: &Path, out: &Path, expected: &str| {
        let output = run(&["batch", input.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(3));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "`{expected}` not in: {stderr}");
    };
    refused(
        &input,
        &out,
        "line 1 is the result for application `OTHER-000000`, but the application at that place is application `GEN-000000` (line 1)",
    );
    assert_eq!(std::fs::read(&out).unwrap(), before);

    let mut damaged = before.clone();
    let second = damaged.iter().position(|b| *b == b'\n').unwrap() + 1;
    damaged[second] = b'#';
    std::fs::write(&out, &damaged).unwrap();
    refused(&other, &out, "out.jsonl line 2 is not a result of `oscar batch` (not JSON: ");
    assert_eq!(std::fs::read(&out).unwrap(), damaged);

    let short = dir.join("short.jsonl");
    std::fs::write(&short, std::fs::read_to_string(&other).unwrap().lines().take(2).collect::<Vec<_>>().join("\n"))
        .unwrap();
    std::fs::write(&out, &before).unwrap();
    refused(&short, &out, "holds 3 results but");
    assert_eq!(std::fs::read(&out).unwrap(), before);

    refused(&input, &input, "is the input file");
    assert_eq!(lines(&input).len(), 3);
}
