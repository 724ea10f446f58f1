//! Bulk review of a JSON Lines file of applications (`oscar batch`; `oscar gen` in the tooling
//! writes such files).
//!
//! Every non-blank input line gives exactly one output line, in input order: the review as
//! `oscar review --json` gives it (one line, compact), or for a line that cannot be reviewed
//! a [`BadLine`] with its line number and the field errors. Reviews are judged against the
//! application's own `submitted_at`, so the output depends only on the input and the data
//! loaded, never on the number of threads or the time of the run.
//!
//! Because the output is written in input order, an interrupted run leaves the results of a
//! prefix of the input, perhaps with a half-written last line. [`run`] on the same files
//! drops that half line, checks that every complete result belongs to the input line at its
//! place (an output written from another input is refused, never appended to), skips those
//! lines and reviews the rest: the finished file is byte for byte what an uninterrupted run
//! writes.
//!
//! Parallelism: the worker threads share one [`Reviewer`] and take input lines in turn from
//! one reader, parse and review them, and send the results to the calling thread, which
//! writes them in input order. A worker takes no line more than a window ahead of the last
//! one written, so a slow review holds back at most that many finished results in memory.
//!
//! Tooling, not runtime: the service never calls this module.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Read, Write};
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Reviewer;
use crate::application::{FieldError, JsonError, read_json};
use crate::review::{Review, Status, Verdict};

/// Longest input line read, bytes: the most `oscar review` reads of one application.
pub const LINE_LIMIT_BYTES: usize = 16 << 20;
/// Default seed of [`generate`](crate::tooling::samples::generate).
pub const GEN_SEED: u64 = 20_261_129;
/// Results a worker may be ahead of the writer, per thread: bounds the memory held for
/// results waiting on a slower one before them.
const WINDOW_PER_THREAD: u64 = 64;
/// Bad lines listed in the summary's text (all of them are in the output).
const BAD_LINES_SHOWN: usize = 20;

/// Why a batch stopped.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The input could not be read.
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    /// The output could not be read, truncated or written.
    #[error("cannot write {0}: {1}")]
    Write(String, std::io::Error),
    /// A review could not be written as JSON.
    #[error("cannot write a review as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The output file is the input file.
    #[error("the output {0} is the input file; give another --out")]
    SameFile(String),
    /// A complete line of an existing output is not a result of `oscar batch`.
    #[error(
        "{path} line {line} is not a result of `oscar batch` ({reason}); \
         nothing was written: move the file away, or cut it before that line to resume"
    )]
    Corrupt {
        /// The output file.
        path: String,
        /// Its line number.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// An existing output was written from another input.
    #[error(
        "{out} was not written from {input}: its line {out_line} is the result for {found}, \
         but the application at that place is {expected} (line {in_line}); nothing was written"
    )]
    Mismatch {
        /// The output file.
        out: String,
        /// The input file.
        input: String,
        /// The line of the output.
        out_line: u64,
        /// The line of the input at the same place.
        in_line: u64,
        /// What the input line is.
        expected: String,
        /// What the output line is for.
        found: String,
    },
    /// An existing output holds more results than the input has applications.
    #[error("{out} holds {results} results but {input} has only {lines} applications; nothing was written")]
    Longer {
        /// The output file.
        out: String,
        /// The input file.
        input: String,
        /// Results in the output.
        results: u64,
        /// Non-blank lines in the input.
        lines: u64,
    },
}

/// The output line of an input line that could not be reviewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BadLine {
    /// Line number in the input, from 1.
    pub line: u64,
    /// The line's `application_id`, where it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    /// Every problem, each at its JSON Pointer in the line's document.
    pub errors: Vec<FieldError>,
}

/// What a batch found, over the whole output (results kept from an interrupted run
/// included).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Results in the output: reviews plus bad lines.
    pub results: u64,
    /// Results that were already in the output and were kept.
    pub resumed: u64,
    /// Applications reviewed by this run.
    pub reviewed_now: u64,
    /// Reviews by verdict.
    pub approve: u64,
    /// Reviews escalated.
    pub escalate: u64,
    /// Reviews in which each item failed, by item id.
    pub failing: BTreeMap<String, u64>,
    /// Reviews in which each item was unverified, by item id.
    pub unverified: BTreeMap<String, u64>,
    /// The lines that could not be reviewed, in input order.
    pub bad: Vec<BadLine>,
    /// Worker threads.
    pub threads: usize,
    /// Time spent on the input (not on loading the reviewer).
    pub elapsed: Duration,
}

impl Summary {
    fn count_review(&mut self, review: &Review) {
        match review.verdict {
            Verdict::Approve => self.approve += 1,
            Verdict::Escalate => self.escalate += 1,
        }
        for item in &review.items {
            let counts = match item.status {
                Status::Fail => &mut self.failing,
                Status::Unverified => &mut self.unverified,
                Status::Pass | Status::NotApplicable => continue,
            };
            *counts.entry(item.id.to_string()).or_default() += 1;
        }
    }

    /// Applications reviewed by this run per second.
    pub fn rate(&self) -> f64 {
        self.reviewed_now as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Item counts, most frequent first: `R3 120, V2 40`.
fn by_count(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    let mut sorted: Vec<_> = counts.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    sorted.iter().map(|(id, n)| format!("{id} {n}")).collect::<Vec<_>>().join(", ")
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let reviews = self.approve + self.escalate;
        writeln!(
            f,
            "{} results: {reviews} reviews, {} bad lines ({} kept from an earlier run)",
            self.results,
            self.bad.len(),
            self.resumed
        )?;
        writeln!(f, "verdicts: approve {}, escalate {}", self.approve, self.escalate)?;
        writeln!(f, "failing items: {}", by_count(&self.failing))?;
        writeln!(f, "unverified items: {}", by_count(&self.unverified))?;
        for bad in self.bad.iter().take(BAD_LINES_SHOWN) {
            let first = bad.errors.first().map_or_else(String::new, ToString::to_string);
            let more = bad.errors.len().saturating_sub(1);
            let more = if more > 0 { format!(" (and {more} more)") } else { String::new() };
            writeln!(f, "bad line {}: {first}{more}", bad.line)?;
        }
        if self.bad.len() > BAD_LINES_SHOWN {
            writeln!(f, "... and {} more bad lines (all are in the output)", self.bad.len() - BAD_LINES_SHOWN)?;
        }
        writeln!(
            f,
            "reviewed {} applications in {:.2} s: {:.0} reviews/s on {} thread{}",
            self.reviewed_now,
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.threads,
            if self.threads == 1 { "" } else { "s" }
        )
    }
}

/// One line of an existing output.
#[derive(Deserialize)]
#[serde(untagged)]
enum OutRecord {
    Bad(BadLine),
    Review(Box<Review>),
}

/// What a complete line of an existing output is for.
enum Kept {
    /// A review of the application with this id.
    Review(String),
    /// A bad line of the input: its number and the id read from it, if any.
    Bad(u64, Option<String>),
}

/// The complete results of an existing output and where they end.
struct Prior {
    kept: Vec<Kept>,
    summary: Summary,
    /// Bytes of complete lines; a half-written line after them is cut off.
    end: u64,
}

/// Reads what an interrupted run left in `path` (nothing where there is no file).
fn read_prior(path: &Path) -> Result<Prior, BatchError> {
    let label = || path.display().to_string();
    let mut prior = Prior { kept: Vec::new(), summary: Summary::default(), end: 0 };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(prior),
        Err(e) => return Err(BatchError::Write(label(), e)),
    };
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(|e| BatchError::Write(label(), e))?;
        // A last line without its newline was cut by an interruption; it is written again.
        if n == 0 || line.last() != Some(&b'\n') {
            return Ok(prior);
        }
        let corrupt = |reason: String| BatchError::Corrupt { path: label(), line: prior.kept.len() as u64 + 1, reason };
        let value = serde_json::from_slice::<Value>(&line).map_err(|e| corrupt(format!("not JSON: {e}")))?;
        let record = serde_json::from_value::<OutRecord>(value)
            .map_err(|_| corrupt("neither a review nor a bad line".into()))?;
        prior.kept.push(match record {
            OutRecord::Review(review) => {
                prior.summary.count_review(&review);
                Kept::Review(review.application_id)
            }
            OutRecord::Bad(bad) => {
                let kept = Kept::Bad(bad.line, bad.application_id.clone());
                prior.summary.bad.push(bad);
                kept
            }
        });
        prior.end += n as u64;
    }
}

/// An input line: its number and its bytes, or `None` when it is longer than
/// [`LINE_LIMIT_BYTES`].
type InputLine = (u64, Option<Vec<u8>>);

/// The non-blank lines of the input, read by the workers in turn.
struct Feed<R> {
    reader: R,
    /// Lines read so far, blank ones included.
    line_no: u64,
    /// Non-blank lines handed out so far.
    next: u64,
    /// Results written so far; no worker takes a line a window or more beyond it.
    written: u64,
    /// Set when the input ends or fails, or the writer stops early.
    stopped: bool,
    /// Why the input could not be read to its end.
    error: Option<std::io::Error>,
}

impl<R: BufRead> Feed<R> {
    fn new(reader: R) -> Feed<R> {
        Feed { reader, line_no: 0, next: 0, written: 0, stopped: false, error: None }
    }

    /// The next non-blank line, or `None` at the end of the input.
    fn read_line(&mut self) -> std::io::Result<Option<InputLine>> {
        loop {
            let mut buf = Vec::new();
            let n = (&mut self.reader).take(LINE_LIMIT_BYTES as u64 + 1).read_until(b'\n', &mut buf)?;
            if n == 0 {
                return Ok(None);
            }
            self.line_no += 1;
            if buf.len() > LINE_LIMIT_BYTES && buf.last() != Some(&b'\n') {
                self.skip_rest_of_line()?;
                return Ok(Some((self.line_no, None)));
            }
            if !buf.iter().all(u8::is_ascii_whitespace) {
                return Ok(Some((self.line_no, Some(buf))));
            }
        }
    }

    fn skip_rest_of_line(&mut self) -> std::io::Result<()> {
        loop {
            let available = self.reader.fill_buf()?;
            if available.is_empty() {
                return Ok(());
            }
            match available.iter().position(|&b| b == b'\n') {
                Some(at) => {
                    self.reader.consume(at + 1);
                    return Ok(());
                }
                None => {
                    let all = available.len();
                    self.reader.consume(all);
                }
            }
        }
    }
}

/// The line's document and its `application_id` where it has one, or why it is not one.
fn read_line_json(bytes: Option<&[u8]>) -> Result<(Value, Option<String>), Vec<FieldError>> {
    let Some(bytes) = bytes else {
        let message =
            format!("is longer than {} MiB, the most `oscar batch` reads of one line", LINE_LIMIT_BYTES >> 20);
        return Err(vec![FieldError { pointer: String::new(), message }]);
    };
    let value = read_json(bytes).map_err(JsonError::field_errors)?;
    let id = value.get("application_id").and_then(Value::as_str).map(str::to_owned);
    Ok((value, id))
}

/// What a worker made of one input line.
enum Outcome {
    /// Reviewed: the review's output line and the review for the summary.
    Reviewed(String, Box<Review>),
    /// Not reviewable: the id where it could be read, and why.
    Bad(Option<String>, Vec<FieldError>),
}

fn review_line(reviewer: &Reviewer, bytes: Option<&[u8]>) -> Result<Outcome, serde_json::Error> {
    let (value, id) = match read_line_json(bytes) {
        Ok(read) => read,
        Err(errors) => return Ok(Outcome::Bad(None, errors)),
    };
    match reviewer.review_value(&value) {
        Ok(review) => Ok(Outcome::Reviewed(serde_json::to_string(&review)?, Box::new(review))),
        Err(errors) => Ok(Outcome::Bad(id, errors)),
    }
}

/// A worker's result: the line's place among the non-blank lines, its number, the outcome.
type Done = (u64, u64, Result<Outcome, serde_json::Error>);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A worker that panicked leaves the feed consistent: every field is set in one step.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Takes lines from the feed, reviews them and sends the results to the writer, until the
/// input ends or the writer stops.
fn work<R: BufRead>(
    reviewer: &Reviewer,
    feed: &Mutex<Feed<R>>,
    turn: &Condvar,
    window: u64,
    results: mpsc::Sender<Done>,
) {
    loop {
        let (index, (line_no, bytes)) = {
            let mut f = lock(feed);
            while !f.stopped && f.next >= f.written + window {
                f = turn.wait(f).unwrap_or_else(PoisonError::into_inner);
            }
            if f.stopped {
                return;
            }
            match f.read_line() {
                Ok(Some(line)) => {
                    f.next += 1;
                    (f.next - 1, line)
                }
                end => {
                    f.error = end.err();
                    f.stopped = true;
                    turn.notify_all();
                    return;
                }
            }
        };
        if results.send((index, line_no, review_line(reviewer, bytes.as_deref()))).is_err() {
            return;
        }
    }
}

/// Writes the results in input order and counts them.
struct Writer<'a> {
    out: BufWriter<File>,
    label: &'a str,
    /// The input line where each application id first appeared.
    first_line: HashMap<String, u64>,
    summary: Summary,
    /// Place of the next result to write among the non-blank input lines.
    next: u64,
    /// Results that arrived before one in front of them.
    pending: BTreeMap<u64, (u64, Outcome)>,
    bar: ProgressBar,
}

impl Writer<'_> {
    fn receive<R>(
        &mut self,
        results: mpsc::Receiver<Done>,
        feed: &Mutex<Feed<R>>,
        turn: &Condvar,
    ) -> Result<(), BatchError> {
        for (index, line, outcome) in results {
            self.pending.insert(index, (line, outcome?));
            while let Some((line, outcome)) = self.pending.remove(&self.next) {
                self.write(line, outcome)?;
                self.next += 1;
            }
            lock(feed).written = self.next;
            turn.notify_all();
        }
        self.out.flush().map_err(|e| BatchError::Write(self.label.into(), e))
    }

    fn write(&mut self, line: u64, outcome: Outcome) -> Result<(), BatchError> {
        let text = match outcome {
            Outcome::Reviewed(text, review) => match self.duplicate(&review.application_id, line) {
                None => {
                    self.summary.count_review(&review);
                    self.summary.reviewed_now += 1;
                    text
                }
                Some(duplicate) => {
                    self.bad(BadLine { line, application_id: Some(review.application_id), errors: vec![duplicate] })?
                }
            },
            Outcome::Bad(id, mut errors) => {
                errors.extend(id.as_deref().and_then(|id| self.duplicate(id, line)));
                self.bad(BadLine { line, application_id: id, errors })?
            }
        };
        let write = |out: &mut BufWriter<File>| out.write_all(text.as_bytes()).and_then(|()| out.write_all(b"\n"));
        write(&mut self.out).map_err(|e| BatchError::Write(self.label.into(), e))?;
        self.summary.results += 1;
        self.bar.inc(1);
        Ok(())
    }

    /// The error for an id that an earlier line already has; otherwise the id is noted.
    fn duplicate(&mut self, id: &str, line: u64) -> Option<FieldError> {
        match self.first_line.entry(id.to_owned()) {
            Entry::Vacant(slot) => {
                slot.insert(line);
                None
            }
            Entry::Occupied(first) => Some(FieldError {
                pointer: "/application_id".into(),
                message: format!("`{id}` is already the id of line {}", first.get()),
            }),
        }
    }

    fn bad(&mut self, bad: BadLine) -> Result<String, serde_json::Error> {
        let text = serde_json::to_string(&bad)?;
        self.summary.bad.push(bad);
        Ok(text)
    }
}

/// Reads the input lines whose results an earlier run left in the output, checking that
/// each result belongs to its line, and notes their ids.
fn check_prior<R: BufRead>(
    feed: &mut Feed<R>,
    prior: &Prior,
    first_line: &mut HashMap<String, u64>,
    input: &str,
    out: &str,
) -> Result<(), BatchError> {
    for (place, kept) in prior.kept.iter().enumerate() {
        let Some((line, bytes)) = feed.read_line().map_err(|e| BatchError::Read(input.into(), e))? else {
            let (results, lines) = (prior.kept.len() as u64, place as u64);
            return Err(BatchError::Longer { out: out.into(), input: input.into(), results, lines });
        };
        let id = read_line_json(bytes.as_deref()).ok().and_then(|(_, id)| id);
        let (matches, found, kept_id) = match kept {
            Kept::Review(found) => (id.as_ref() == Some(found), format!("application `{found}`"), Some(found)),
            Kept::Bad(bad, found) => (*bad == line && *found == id, format!("bad line {bad}"), found.as_ref()),
        };
        if !matches {
            let expected = id.map_or_else(|| "a line without a readable id".into(), |id| format!("application `{id}`"));
            let (out, input, out_line) = (out.into(), input.into(), place as u64 + 1);
            return Err(BatchError::Mismatch { out, input, out_line, in_line: line, expected, found });
        }
        if let Some(id) = kept_id {
            first_line.entry(id.clone()).or_insert(line);
        }
        feed.next += 1;
    }
    feed.written = feed.next;
    Ok(())
}

/// A bar on standard error when it is a terminal: done / total, rate, time left.
fn progress_bar(total: impl FnOnce() -> Result<u64, BatchError>, done: u64) -> Result<ProgressBar, BatchError> {
    if !std::io::stderr().is_terminal() {
        return Ok(ProgressBar::hidden());
    }
    let bar = ProgressBar::with_draw_target(Some(total()?), ProgressDrawTarget::hidden());
    let style = ProgressStyle::with_template("{wide_bar} {pos}/{len} applications, {rate}/s, ETA {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0}", state.per_sec());
        });
    bar.set_style(style);
    // Counted, then forgotten by the rate: lines kept from an earlier run took no time now.
    bar.set_position(done);
    bar.tick();
    bar.reset_eta();
    bar.set_draw_target(ProgressDrawTarget::stderr());
    Ok(bar)
}

/// Reviews every non-blank line of `input` on `threads` threads and writes one result a
/// line to `out`, in input order (see the module documentation); an `out` left by an
/// interrupted run is completed, not started again.
pub fn run(reviewer: &Reviewer, input: &Path, out: &Path, threads: NonZeroUsize) -> Result<Summary, BatchError> {
    let (in_label, out_label) = (input.display().to_string(), out.display().to_string());
    if let (Ok(a), Ok(b)) = (input.canonicalize(), out.canonicalize())
        && a == b
    {
        return Err(BatchError::SameFile(out_label));
    }
    let open_input = || {
        let file = File::open(input).map_err(|e| BatchError::Read(in_label.clone(), e))?;
        Ok::<_, BatchError>(Feed::new(BufReader::with_capacity(1 << 20, file)))
    };
    let mut feed = open_input()?;
    let prior = read_prior(out)?;
    let started = Instant::now();
    let mut first_line = HashMap::new();
    check_prior(&mut feed, &prior, &mut first_line, &in_label, &out_label)?;
    let write_error = |e| BatchError::Write(out_label.clone(), e);
    let file = OpenOptions::new().create(true).append(true).open(out).map_err(write_error)?;
    // Cuts a line half-written by an interruption.
    file.set_len(prior.end).map_err(write_error)?;
    let count = || {
        let mut lines = open_input()?;
        let mut n = 0;
        while lines.read_line().map_err(|e| BatchError::Read(in_label.clone(), e))?.is_some() {
            n += 1;
        }
        Ok(n)
    };
    let kept = prior.kept.len() as u64;
    let mut writer = Writer {
        out: BufWriter::with_capacity(1 << 20, file),
        label: &out_label,
        first_line,
        summary: Summary { results: kept, resumed: kept, threads: threads.get(), ..prior.summary },
        next: kept,
        pending: BTreeMap::new(),
        bar: progress_bar(count, kept)?,
    };
    let feed = Mutex::new(feed);
    let turn = Condvar::new();
    let window = threads.get() as u64 * WINDOW_PER_THREAD;
    let (send, results) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..threads.get() {
            let send = send.clone();
            scope.spawn(|| work(reviewer, &feed, &turn, window, send));
        }
        drop(send);
        let written = writer.receive(results, &feed, &turn);
        if written.is_err() {
            lock(&feed).stopped = true;
            turn.notify_all();
        }
        written
    })?;
    writer.bar.finish_and_clear();
    if let Some(e) = feed.into_inner().unwrap_or_else(PoisonError::into_inner).error {
        return Err(BatchError::Read(in_label, e));
    }
    writer.summary.elapsed = started.elapsed();
    Ok(writer.summary)
}
