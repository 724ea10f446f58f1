//! The ledger on PostgreSQL, for several replicas sharing one chain: the same tables as the
//! SQLite file, append-only by triggers, written by one writer thread per process whose
//! batches take a lock in the database, so that every replica's batch extends the chain
//! where the last one (of any replica) ended.
//!
//! The [`Ledger`] trait is synchronous and is called from inside tokio; the blocking
//! `postgres` client runs a runtime of its own and must not be called there, so every
//! connection lives on a thread of its own (the writer, a few readers) and callers wait for
//! their answer on a channel, as they do for the SQLite writer.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use postgres::{Client, Config, GenericClient, IsolationLevel, NoTls, Row, Statement};
use tokio::sync::oneshot;

use super::decisions::{self, Decided, DecisionChecker, NewDecision, StoredDecision};
use super::library::{self, ArchivedPart, Part, Refusal, StoredRefusal};
use super::{
    Appended, Broken, ChainChecker, GENESIS, HashScheme, Ledger, LedgerError, NewRecord, Pending, Query, Record,
    StoredRestriction, VerifyReport,
};
use crate::decision::CaseStatus;
use crate::review::Verdict;

/// The version of the tables this build writes, in `oscar_ledger`.
const SCHEMA_VERSION: i32 = 1;

/// The tables of a ledger database. Applications and reviews are stored as text:
/// PostgreSQL compresses large values itself (TOAST), and records are hashed with
/// [`HashScheme::Digests`].
const TABLES: &str = "
CREATE TABLE oscar_ledger (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
CREATE TABLE reviews (
    seq            BIGINT PRIMARY KEY,
    application_id TEXT NOT NULL UNIQUE,
    content_hash   TEXT NOT NULL,
    application    TEXT NOT NULL,
    review         TEXT NOT NULL,
    verdict        TEXT NOT NULL,
    caller         TEXT NOT NULL,
    recorded_at    TEXT NOT NULL,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL
);
CREATE INDEX reviews_by_verdict ON reviews (verdict, seq);
CREATE TABLE restrictions (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    restriction TEXT NOT NULL,
    caller      TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE TABLE library (
    seq  BIGINT PRIMARY KEY,
    uscc TEXT NOT NULL
);
CREATE INDEX library_by_carrier ON library (uscc, seq);
CREATE TABLE refusals (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    application_id TEXT,
    uscc           TEXT,
    pointers       TEXT NOT NULL,
    caller         TEXT NOT NULL,
    recorded_at    TEXT NOT NULL
);
CREATE TABLE decisions (
    seq            BIGINT PRIMARY KEY,
    application_id TEXT NOT NULL,
    kind           TEXT NOT NULL,
    decision       TEXT NOT NULL,
    caller         TEXT NOT NULL,
    recorded_at    TEXT NOT NULL,
    review_hash    TEXT NOT NULL,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL
);
CREATE INDEX decisions_by_application ON decisions (application_id, seq);
CREATE FUNCTION oscar_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'the ledger is append-only'; END
$$;
";

/// Every table, each guarded by [`append_only`].
const TABLE_NAMES: [&str; 6] = ["oscar_ledger", "reviews", "restrictions", "library", "refusals", "decisions"];

/// Triggers that refuse to change, delete or empty what `table` holds.
fn append_only(table: &str) -> String {
    format!(
        "CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION oscar_append_only();
         CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION oscar_append_only();"
    )
}

/// The advisory lock every writing transaction takes first: one batch at a time, across
/// all replicas, extends the chains. Released by the commit, or by the server when the
/// connection drops (a replica killed mid-batch holds nothing).
const CHAIN_LOCK: i64 = 0x6f73_6361_725f_6c67;

/// Most jobs committed in one transaction.
const MAX_BATCH: usize = 64;

/// Read connections, each on a thread of its own.
const READERS: usize = 4;

/// How long a connection attempt may take before the ledger answers that it is unavailable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Rows read at a time by `verify`.
const PAGE: i64 = 1_000;

const DECISION_COLUMNS: &str = "seq, application_id, kind, decision, caller, recorded_at, review_hash, prev_hash, hash";

/// The PostgreSQL ledger.
///
/// Each process has one writer thread that commits whatever jobs are queued in one
/// transaction (group commit, as [`super::SqliteLedger`] does); the transaction first takes
/// [`CHAIN_LOCK`], then reads where the chain ends, so replicas take turns and every batch
/// extends the chain its predecessor left. A job is answered after the commit returned
/// (`synchronous_commit` on: the record is on the database's disk). When the database
/// cannot be reached, calls answer [`LedgerError::Unavailable`] and the next call connects
/// again.
pub struct PostgresLedger {
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
    reads: Option<mpsc::Sender<Read>>,
    readers: Vec<JoinHandle<()>>,
}

impl Drop for PostgresLedger {
    fn drop(&mut self) {
        // Closing the queues lets the threads finish what is queued and stop.
        drop((self.jobs.take(), self.reads.take()));
        for thread in self.writer.take().into_iter().chain(self.readers.drain(..)) {
            if thread.join().is_err() {
                tracing::error!("a ledger thread panicked");
            }
        }
    }
}

/// Whether `location` names a PostgreSQL database rather than a file.
pub fn is_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// The URL without its password, for messages and the log.
pub fn shown(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    match authority.rsplit_once('@').and_then(|(userinfo, _)| userinfo.split_once(':')) {
        Some((user, password)) => {
            format!("{scheme}://{user}:***{}", &rest[user.len() + 1 + password.len()..])
        }
        None => url.to_string(),
    }
}

/// One connection and the statements prepared on it.
struct Session {
    client: Client,
    statements: HashMap<String, Statement>,
}

/// A connection that is made again when it was lost.
struct Connection {
    config: Config,
    session: Option<Session>,
}

impl Connection {
    fn new(url: &str, options: &str) -> Result<Connection, LedgerError> {
        let mut config = Config::from_str(url).map_err(|e| {
            LedgerError::NotALedger(
                PathBuf::from(shown(url)),
                format!("not a PostgreSQL URL: {}", super::postgres_text(&e)),
            )
        })?;
        let options = format!("{} {options}", config.get_options().unwrap_or_default());
        config.options(options.trim()).connect_timeout(CONNECT_TIMEOUT).application_name("oscar");
        Ok(Connection { config, session: None })
    }

    /// Runs `work` on the connection, connecting first if there is none. A connection lost
    /// meanwhile is dropped (the next call connects again) and the work answers
    /// [`LedgerError::Unavailable`].
    fn run<T>(&mut self, work: impl FnOnce(&mut Session) -> Result<T, LedgerError>) -> Result<T, LedgerError> {
        let session = match self.session.take() {
            Some(session) if !session.client.is_closed() => session,
            _ => {
                Session { client: self.config.connect(NoTls).map_err(|e| unavailable(&e))?, statements: HashMap::new() }
            }
        };
        let session = self.session.insert(session);
        let result = work(session);
        let closed = session.client.is_closed();
        match result {
            Err(LedgerError::Postgres(e)) if closed || lost(&e) => {
                self.session = None;
                Err(unavailable(&e))
            }
            other => other,
        }
    }
}

impl Connection {
    /// Like [`Connection::run`], and once more on a new connection when the one it found
    /// had been lost since its last use (the database restarted meanwhile) and `harmless`
    /// says the failed attempt stored nothing.
    fn run_again<T>(
        &mut self,
        mut work: impl FnMut(&mut Session) -> Result<T, LedgerError>,
        harmless: impl Fn() -> bool,
    ) -> Result<T, LedgerError> {
        let reused = self.session.is_some();
        match self.run(&mut work) {
            Err(LedgerError::Unavailable(_)) if reused && harmless() => self.run(work),
            other => other,
        }
    }
}

/// Whether an error says the connection (or the server behind it) is gone, rather than
/// that a statement failed: the connection classes of SQLSTATE (08), the server shutting
/// down or refusing for now (57P, 53), or no answer from the server at all.
fn lost(e: &postgres::Error) -> bool {
    match e.code() {
        Some(code) => ["08", "57P", "53"].iter().any(|class| code.code().starts_with(class)),
        None => e.is_closed() || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

fn unavailable(e: &postgres::Error) -> LedgerError {
    LedgerError::Unavailable(format!("the ledger database cannot be reached: {}", super::postgres_text(e)))
}

/// The statement for `sql` on this connection, prepared once.
fn statement(
    client: &mut impl GenericClient,
    statements: &mut HashMap<String, Statement>,
    sql: &str,
) -> Result<Statement, postgres::Error> {
    if let Some(s) = statements.get(sql) {
        return Ok(s.clone());
    }
    let s = client.prepare(sql)?;
    statements.insert(sql.to_string(), s.clone());
    Ok(s)
}

/// Where an answer goes: a task's oneshot or a thread's channel.
type Reply<T> = Box<dyn FnOnce(Result<T, LedgerError>) + Send>;

/// The writer's transaction, as a job sees it.
struct Batch<'a> {
    tx: postgres::Transaction<'a>,
    statements: &'a mut HashMap<String, Statement>,
    /// Where the review chain ends: sequence number and hash.
    tip: (i64, String),
}

impl Batch<'_> {
    fn query(&mut self, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<Vec<Row>, LedgerError> {
        let s = statement(&mut self.tx, self.statements, sql)?;
        Ok(self.tx.query(&s, params)?)
    }

    fn query_opt(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Option<Row>, LedgerError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// A job for the writer: done inside the batch's transaction (again, alone, if the batch
/// fails for another job), answered once the transaction committed or failed.
trait Work: Send {
    /// Does the work; an error of the database spoils the transaction.
    fn run(&mut self, batch: &mut Batch<'_>) -> Result<(), LedgerError>;
    /// Answers with the result, or with `failed` when the transaction did not commit.
    fn answer(self: Box<Self>, failed: Option<&LedgerError>);
}

struct Task<T, F> {
    work: F,
    result: Option<Result<T, LedgerError>>,
    reply: Reply<T>,
}

impl<T: Send, F: FnMut(&mut Batch<'_>) -> Result<T, LedgerError> + Send> Work for Task<T, F> {
    fn run(&mut self, batch: &mut Batch<'_>) -> Result<(), LedgerError> {
        match (self.work)(batch) {
            Err(e @ LedgerError::Postgres(_)) => Err(e),
            // Found in the data, not by the database (an unreadable record): the job's answer.
            result => {
                self.result = Some(result);
                Ok(())
            }
        }
    }

    fn answer(self: Box<Self>, failed: Option<&LedgerError>) {
        let answer = match (failed, self.result) {
            (Some(e), _) => Err(same_error(e)),
            (None, Some(result)) => result,
            (None, None) => Err(LedgerError::Writer("the write was not done".into())),
        };
        (self.reply)(answer);
    }
}

/// An error to answer to each job of a failed batch.
fn same_error(e: &LedgerError) -> LedgerError {
    match e {
        LedgerError::Unavailable(why) => LedgerError::Unavailable(why.clone()),
        e => LedgerError::Writer(e.to_string()),
    }
}

type Job = Box<dyn Work>;

/// A read for a reader thread.
type Read = Box<dyn FnOnce(&mut Connection) + Send>;

/// The writer thread's state.
struct Writer {
    conn: Connection,
}

impl Writer {
    /// Takes what is queued (up to [`MAX_BATCH`]), does it in one transaction, commits,
    /// answers. Ends when every sender is gone and the queue is empty.
    fn run(mut self, queue: &mpsc::Receiver<Job>) {
        while let Some(mut batch) = super::next_batch(queue, MAX_BATCH) {
            match self.write(&mut batch) {
                Ok(()) => batch.into_iter().for_each(|job| job.answer(None)),
                Err(e @ LedgerError::Unavailable(_)) => {
                    tracing::error!("the ledger cannot take writes: {e}");
                    batch.into_iter().for_each(|job| job.answer(Some(&e)));
                }
                // A statement failed: each job again on its own, so that one job's fault is
                // answered to it alone.
                Err(_) if batch.len() > 1 => {
                    for mut job in batch {
                        let failed = self.write(std::slice::from_mut(&mut job)).err();
                        job.answer(failed.as_ref());
                    }
                }
                Err(e) => batch.into_iter().for_each(|job| job.answer(Some(&e))),
            }
        }
    }

    /// Does `jobs` in one transaction under [`CHAIN_LOCK`] and commits.
    fn write(&mut self, jobs: &mut [Job]) -> Result<(), LedgerError> {
        // Until the commit is sent a lost connection has stored nothing: tried again.
        let committing = std::cell::Cell::new(false);
        let work = |session: &mut Session| {
            let mut tx = session.client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CHAIN_LOCK])?;
            let tip = match tx.query_opt("SELECT seq, hash FROM reviews ORDER BY seq DESC LIMIT 1", &[])? {
                Some(row) => (row.try_get(0)?, row.try_get(1)?),
                None => (0, GENESIS.to_string()),
            };
            let mut batch = Batch { tx, statements: &mut session.statements, tip };
            for job in jobs.iter_mut() {
                job.run(&mut batch)?;
            }
            committing.set(true);
            batch.tx.commit()?;
            Ok(())
        };
        self.conn.run_again(work, || !committing.get())
    }
}

/// A reader thread: takes reads from the shared queue until it closes.
fn read_loop(mut conn: Connection, queue: &Mutex<mpsc::Receiver<Read>>) {
    loop {
        let next = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        match next {
            Ok(read) => read(&mut conn),
            Err(_) => return,
        }
    }
}

/// Connection options of a writing ledger: `full_sync` off lets a commit return before the
/// database flushed it (it survives a crash of oscar, not of the database server).
fn writing_options(full_sync: bool) -> &'static str {
    if full_sync { "" } else { "-c synchronous_commit=off" }
}

impl PostgresLedger {
    /// Makes the ledger's tables in the database at `url` (`oscar ledger init`); refuses a
    /// database that has them already.
    pub fn create(url: &str) -> Result<(), LedgerError> {
        let mut conn = Connection::new(url, "")?;
        conn.run(|session| {
            let mut tx = session.client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CHAIN_LOCK])?;
            let found: Option<String> = tx.query_one("SELECT to_regclass('reviews')::text", &[])?.try_get(0)?;
            if found.is_some() {
                return Err(LedgerError::Exists(PathBuf::from(shown(url))));
            }
            tx.batch_execute(TABLES)?;
            for table in TABLE_NAMES {
                tx.batch_execute(&append_only(table))?;
            }
            tx.execute("INSERT INTO oscar_ledger (id, version) VALUES (1, $1)", &[&SCHEMA_VERSION])?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Opens the ledger in the database at `url` for writing; several processes may (each
    /// batch takes [`CHAIN_LOCK`]). A database without the tables is refused, never made a
    /// ledger. See [`writing_options`] for `full_sync`.
    pub fn open(url: &str, full_sync: bool) -> Result<PostgresLedger, LedgerError> {
        let mut ledger = Self::reading(url)?;
        let mut conn = Connection::new(url, writing_options(full_sync))?;
        conn.run(|session| check_tables(&mut session.client, url))?;
        let writer = Writer { conn };
        let (jobs, queue) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || writer.run(&queue))
            .map_err(|e| LedgerError::Writer(format!("cannot start the writer thread: {e}")))?;
        ledger.jobs = Some(jobs);
        ledger.writer = Some(writer);
        Ok(ledger)
    }

    /// Opens the ledger at `url` for reading only (`verify`, `replay`): every transaction is
    /// read-only, and appends are refused.
    pub fn open_read_only(url: &str) -> Result<PostgresLedger, LedgerError> {
        Self::reading(url)
    }

    fn reading(url: &str) -> Result<PostgresLedger, LedgerError> {
        let mut conn = Connection::new(url, "-c default_transaction_read_only=on")?;
        conn.run(|session| check_tables(&mut session.client, url))?;
        let (reads, queue) = mpsc::channel::<Read>();
        let queue = Arc::new(Mutex::new(queue));
        let mut readers = Vec::with_capacity(READERS);
        let mut first = Some(conn);
        for n in 0..READERS {
            let conn = match first.take() {
                Some(conn) => conn,
                None => Connection::new(url, "-c default_transaction_read_only=on")?,
            };
            let queue = Arc::clone(&queue);
            let thread = std::thread::Builder::new()
                .name(format!("ledger-reader-{n}"))
                .spawn(move || read_loop(conn, &queue))
                .map_err(|e| LedgerError::Writer(format!("cannot start a reader thread: {e}")))?;
            readers.push(thread);
        }
        Ok(PostgresLedger { jobs: None, writer: None, reads: Some(reads), readers })
    }

    /// Queues `work` for the writer; `reply` takes its answer.
    fn queue<T: Send + 'static>(
        &self,
        work: impl FnMut(&mut Batch<'_>) -> Result<T, LedgerError> + Send + 'static,
        reply: Reply<T>,
    ) -> Result<(), LedgerError> {
        let jobs = self.jobs.as_ref().ok_or_else(|| LedgerError::Writer("the ledger is open read-only".into()))?;
        jobs.send(Box::new(Task { work, result: None, reply })).map_err(|_| gone("writer"))
    }

    /// Queues `work` for the writer; the answer comes when it committed.
    fn pending<T: Send + 'static>(
        &self,
        work: impl FnMut(&mut Batch<'_>) -> Result<T, LedgerError> + Send + 'static,
    ) -> Pending<T> {
        let (reply, answer) = oneshot::channel();
        match self.queue(work, Box::new(move |r| drop(reply.send(r)))) {
            Ok(()) => Pending::new(answer),
            Err(e) => Pending::failed(e),
        }
    }

    /// Queues `work` for the writer and waits for its answer on this thread.
    fn submit<T: Send + 'static>(
        &self,
        work: impl FnMut(&mut Batch<'_>) -> Result<T, LedgerError> + Send + 'static,
    ) -> Result<T, LedgerError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.queue(work, Box::new(move |r| drop(reply.send(r))))?;
        answer.recv().map_err(|_| gone("writer"))?
    }

    /// Runs `work` on a reader's connection and waits for its answer.
    fn read<T: Send + 'static>(
        &self,
        work: impl FnMut(&mut Session) -> Result<T, LedgerError> + Send + 'static,
    ) -> Result<T, LedgerError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let reads = self.reads.as_ref().ok_or_else(|| gone("reader"))?;
        let read = move |conn: &mut Connection| drop(reply.send(conn.run_again(work, || true)));
        reads.send(Box::new(read)).map_err(|_| gone("reader"))?;
        answer.recv().map_err(|_| gone("reader"))?
    }

    /// Runs the statement `sql` on a reader and decodes each row with `decode`.
    fn rows<T: Send + 'static>(
        &self,
        sql: String,
        params: Vec<Box<dyn postgres::types::ToSql + Sync + Send>>,
        decode: fn(&Row) -> Result<T, LedgerError>,
    ) -> Result<Vec<T>, LedgerError> {
        self.read(move |session| {
            let s = statement(&mut session.client, &mut session.statements, &sql)?;
            let params: Vec<&(dyn postgres::types::ToSql + Sync)> =
                params.iter().map(|p| p.as_ref() as &(dyn postgres::types::ToSql + Sync)).collect();
            session.client.query(&s, &params)?.iter().map(decode).collect()
        })
    }
}

fn gone(what: &str) -> LedgerError {
    LedgerError::Writer(format!("the ledger {what} has stopped"))
}

/// Refuses a database without the ledger's tables, or with tables of another version.
fn check_tables(client: &mut Client, url: &str) -> Result<(), LedgerError> {
    let row = client.query_one("SELECT to_regclass('oscar_ledger')::text, to_regclass('reviews')::text", &[])?;
    let (ledger, reviews): (Option<String>, Option<String>) = (row.try_get(0)?, row.try_get(1)?);
    match (ledger, reviews) {
        (Some(_), _) => {}
        (None, None) => return Err(LedgerError::Missing(PathBuf::from(shown(url)))),
        (None, Some(_)) => {
            return Err(LedgerError::NotALedger(PathBuf::from(shown(url)), "it has no `oscar_ledger` table".into()));
        }
    }
    let version: Option<i32> =
        client.query_opt("SELECT version FROM oscar_ledger WHERE id = 1", &[])?.map(|r| r.get(0));
    match version {
        Some(SCHEMA_VERSION) => Ok(()),
        Some(v) => Err(LedgerError::Version(i64::from(v))),
        None => Err(LedgerError::Damaged("its `oscar_ledger` row is missing".into())),
    }
}

const COLUMNS: &str =
    "seq, application_id, content_hash, application, review, verdict, caller, recorded_at, prev_hash, hash";

/// A row of [`COLUMNS`]; what cannot be read, as text.
fn record(row: &Row) -> Result<Record, String> {
    let text = |i: usize| row.try_get::<_, String>(i).map_err(|e| super::postgres_text(&e));
    let word = text(5)?;
    let verdict =
        Verdict::parse(&word).ok_or_else(|| format!("`{word}` is not a verdict (`approve` or `escalate`)"))?;
    Ok(Record {
        seq: row.try_get(0).map_err(|e| super::postgres_text(&e))?,
        entry: NewRecord {
            application_id: text(1)?,
            content_hash: text(2)?,
            application: text(3)?,
            review: text(4)?,
            verdict,
            caller: text(6)?,
            recorded_at: text(7)?,
        },
        prev_hash: text(8)?,
        hash: text(9)?,
    })
}

/// A record, read for a caller: one that cannot be read is damage.
fn stored_record(row: &Row) -> Result<Record, LedgerError> {
    record(row).map_err(|message| LedgerError::Corrupt { seq: row.try_get(0).unwrap_or_default(), message })
}

/// A row of [`DECISION_COLUMNS`].
fn decision(row: &Row) -> Result<StoredDecision, LedgerError> {
    let seq: i64 = row.try_get(0)?;
    decisions::from_columns(
        seq,
        |i| row.try_get(i).map_err(LedgerError::from),
        |message| LedgerError::Corrupt { seq, message },
    )
}

/// Appends a review inside the writer's transaction; the id check sees every replica's
/// records, since the transaction holds [`CHAIN_LOCK`].
///
/// A new id takes one round trip, the insert giving way to a stored id and filing the review
/// under its carrier in the same statement: the batch holds the lock meanwhile, so the
/// round trips a review makes are the part of its cost that replicas cannot share.
fn append(batch: &mut Batch<'_>, r: &NewRecord, digest: &str, carrier: Option<&str>) -> Result<Appended, LedgerError> {
    let seq = batch.tip.0 + 1;
    let prev_hash = batch.tip.1.clone();
    let hash = HashScheme::Digests.record_hash(seq, &prev_hash, r, digest);
    let sql = format!(
        "WITH new AS (
             INSERT INTO reviews ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (application_id) DO NOTHING RETURNING seq
         ), filed AS (
             INSERT INTO library (seq, uscc) SELECT seq, $11::text FROM new WHERE $11::text IS NOT NULL
         )
         SELECT count(*) FROM new"
    );
    let params: [&(dyn postgres::types::ToSql + Sync); 11] = [
        &seq,
        &r.application_id,
        &r.content_hash,
        &r.application,
        &r.review,
        &r.verdict.as_str(),
        &r.caller,
        &r.recorded_at,
        &prev_hash,
        &hash,
        &carrier,
    ];
    let stored: Option<i64> = batch.query_opt(&sql, &params)?.map(|row| row.try_get(0)).transpose()?;
    if stored == Some(1) {
        batch.tip = (seq, hash.clone());
        return Ok(Appended::New(Record { seq, entry: r.clone(), prev_hash, hash }));
    }
    let sql = format!("SELECT {COLUMNS} FROM reviews WHERE application_id = $1");
    let row = batch.query_opt(&sql, &[&r.application_id])?;
    let existing = stored_record(&row.ok_or_else(|| LedgerError::Writer("the insert stored nothing".into()))?)?;
    Ok(if existing.entry.content_hash == r.content_hash {
        Appended::Existing(existing)
    } else {
        Appended::Conflict(existing)
    })
}

/// Records a decision inside the writer's transaction, after checking, in the same
/// transaction, that the case takes it.
fn decide(batch: &mut Batch<'_>, d: &NewDecision) -> Result<Decided, LedgerError> {
    let Some(review) =
        batch.query_opt("SELECT hash, verdict FROM reviews WHERE application_id = $1", &[&d.application_id])?
    else {
        return Ok(Decided::NoReview);
    };
    let (review_hash, word): (String, String) = (review.try_get(0)?, review.try_get(1)?);
    let verdict = Verdict::parse(&word).ok_or_else(|| LedgerError::Corrupt {
        seq: 0,
        message: format!("the review of `{}` has the verdict `{word}`", d.application_id),
    })?;
    let sql = format!("SELECT {DECISION_COLUMNS} FROM decisions WHERE application_id = $1 ORDER BY seq");
    let earlier = batch.query(&sql, &[&d.application_id])?.iter().map(decision).collect::<Result<Vec<_>, _>>()?;
    let status = CaseStatus::of(verdict, earlier.into_iter().map(|s| s.entry.kind));
    if crate::decision::refused_on(status).is_some() {
        return Ok(Decided::Refused(status));
    }
    let (last_seq, prev_hash) =
        match batch.query_opt("SELECT seq, hash FROM decisions ORDER BY seq DESC LIMIT 1", &[])? {
            Some(row) => (row.try_get::<_, i64>(0)?, row.try_get::<_, String>(1)?),
            None => (0, GENESIS.to_string()),
        };
    let seq = last_seq + 1;
    let hash = decisions::decision_hash(seq, &prev_hash, &review_hash, d);
    let sql = format!("INSERT INTO decisions ({DECISION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
    batch.query(
        &sql,
        &[
            &seq,
            &d.application_id,
            &d.kind.as_str(),
            &d.decision,
            &d.caller,
            &d.recorded_at,
            &review_hash,
            &prev_hash,
            &hash,
        ],
    )?;
    Ok(Decided::New(StoredDecision { seq, entry: d.clone(), review_hash, prev_hash, hash }))
}

/// What the database's catalogue shows wrong: the unique constraint on
/// `reviews.application_id` missing, or a table's append-only triggers dropped or disabled.
fn storage_problems(client: &mut impl GenericClient) -> Result<Vec<String>, LedgerError> {
    let mut problems = Vec::new();
    let unique: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
             WHERE i.indrelid = 'reviews'::regclass AND i.indisunique AND i.indisvalid AND i.indnatts = 1
               AND a.attname = 'application_id'",
            &[],
        )?
        .try_get(0)?;
    if unique == 0 {
        problems.push("the unique index on `reviews.application_id` is missing".into());
    }
    for table in TABLE_NAMES {
        let guards: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass($1) AND NOT tgisinternal
                   AND tgenabled <> 'D' AND tgfoid = 'oscar_append_only'::regproc",
                &[&table],
            )?
            .try_get(0)?;
        if guards < 2 {
            problems.push(format!("the append-only triggers of `{table}` are missing or disabled"));
        }
    }
    Ok(problems)
}

/// Runs `sql` (rows after `$1`, at most `$2`, in sequence order, the sequence number first)
/// a page at a time, giving each row to `check` until it finds the chain broken there.
fn first_broken(
    client: &mut impl GenericClient,
    sql: &str,
    mut check: impl FnMut(&Row) -> Result<Option<Broken>, LedgerError>,
) -> Result<Option<Broken>, LedgerError> {
    let mut after = 0_i64;
    loop {
        let rows = client.query(sql, &[&after, &PAGE])?;
        for row in &rows {
            if let Some(broken) = check(row)? {
                return Ok(Some(broken));
            }
            after = row.try_get(0)?;
        }
        if (rows.len() as i64) < PAGE {
            return Ok(None);
        }
    }
}

/// Walks the chain from the genesis; the first broken record, if any.
fn walk(client: &mut impl GenericClient, checker: &mut ChainChecker) -> Result<Option<Broken>, LedgerError> {
    let sql = format!("SELECT {COLUMNS} FROM reviews WHERE seq > $1 ORDER BY seq LIMIT $2");
    first_broken(client, &sql, |row| {
        Ok(match record(row) {
            Ok(r) => checker.push(&r),
            Err(why) => Some(checker.unreadable(row.try_get(0)?, row.try_get(1).unwrap_or_default(), &why)),
        })
    })
}

/// Walks the decisions, each against the review record it decides now.
fn walk_decisions(
    client: &mut impl GenericClient,
    checker: &mut DecisionChecker,
) -> Result<Option<Broken>, LedgerError> {
    let sql = format!(
        "SELECT d.{}, r.hash FROM decisions d LEFT JOIN reviews r ON r.application_id = d.application_id
         WHERE d.seq > $1 ORDER BY d.seq LIMIT $2",
        DECISION_COLUMNS.replace(", ", ", d.")
    );
    first_broken(client, &sql, |row| {
        Ok(match decision(row) {
            Ok(d) => checker.push(&d, row.try_get::<_, Option<String>>(9)?.as_deref()),
            Err(e) => Some(checker.unreadable(row.try_get(0)?, row.try_get(1).unwrap_or_default(), &e)),
        })
    })
}

fn restriction(r: &Row) -> Result<StoredRestriction, LedgerError> {
    Ok(StoredRestriction {
        seq: r.try_get(0)?,
        restriction: r.try_get(1)?,
        caller: r.try_get(2)?,
        recorded_at: r.try_get(3)?,
    })
}

fn refusal(r: &Row) -> Result<StoredRefusal, LedgerError> {
    library::stored_refusal(
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        &r.try_get::<_, String>(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
    )
}

fn archived_parts(r: &Row) -> Result<Vec<ArchivedPart>, LedgerError> {
    Ok(library::parts(
        r.try_get(0)?,
        &r.try_get::<_, String>(1)?,
        &r.try_get::<_, String>(2)?,
        &r.try_get::<_, String>(3)?,
        &r.try_get::<_, String>(4)?,
    ))
}

/// `limit` as a SQL parameter.
fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl Ledger for PostgresLedger {
    fn append(&self, r: NewRecord) -> Pending<Appended> {
        // On the caller's thread: the writer is the one serial stage.
        let digest = HashScheme::Digests.review_digest(&r.review);
        let carrier = library::carrier_of(&r.application);
        self.pending(move |batch| append(batch, &r, &digest, carrier.as_deref()))
    }

    fn get(&self, application_id: &str) -> Result<Option<Record>, LedgerError> {
        let sql = format!("SELECT {COLUMNS} FROM reviews WHERE application_id = $1");
        Ok(self.rows(sql, vec![Box::new(application_id.to_string())], stored_record)?.pop())
    }

    fn list(&self, q: &Query) -> Result<Vec<Record>, LedgerError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM reviews
             WHERE ($1::text IS NULL OR verdict = $1) AND ($2::text IS NULL OR recorded_at >= $2) AND seq > $3
             ORDER BY seq LIMIT $4"
        );
        let params: Vec<Box<dyn postgres::types::ToSql + Sync + Send>> = vec![
            Box::new(q.verdict.map(Verdict::as_str)),
            Box::new(q.since.clone()),
            Box::new(q.after_seq.unwrap_or(0)),
            Box::new(limit(q.limit)),
        ];
        self.rows(sql, params, stored_record)
    }

    fn by_verdict(&self, verdict: Verdict, after_seq: i64, limit: usize) -> Result<Vec<Record>, LedgerError> {
        self.list(&Query { verdict: Some(verdict), since: None, after_seq: Some(after_seq), limit })
    }

    fn verify(&self) -> Result<VerifyReport, LedgerError> {
        self.read(|session| {
            // One snapshot: the database is checked as of one instant while replicas append.
            let mut tx = session
                .client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let storage_problems = storage_problems(&mut tx)?;
            let mut checker = ChainChecker::new(HashScheme::Digests);
            let first_broken = walk(&mut tx, &mut checker)?;
            let mut decided = DecisionChecker::default();
            let first_broken_decision = walk_decisions(&mut tx, &mut decided)?;
            tx.commit()?;
            Ok(VerifyReport::of(storage_problems, (&checker, first_broken), (&decided, first_broken_decision)))
        })
    }

    fn add_restriction(&self, restriction: &str, caller: &str, recorded_at: &str) -> Result<i64, LedgerError> {
        let (restriction, caller, recorded_at) = (restriction.to_string(), caller.to_string(), recorded_at.to_string());
        self.submit(move |batch| {
            let row = batch.query_opt(
                "INSERT INTO restrictions (restriction, caller, recorded_at) VALUES ($1, $2, $3) RETURNING seq",
                &[&restriction, &caller, &recorded_at],
            )?;
            row.map_or(Err(LedgerError::Writer("the insert returned no sequence number".into())), |r| Ok(r.try_get(0)?))
        })
    }

    fn restrictions_after(&self, after_seq: i64, n: usize) -> Result<Vec<StoredRestriction>, LedgerError> {
        let sql = "SELECT seq, restriction, caller, recorded_at FROM restrictions WHERE seq > $1 ORDER BY seq LIMIT $2";
        self.rows(sql.into(), vec![Box::new(after_seq), Box::new(limit(n))], restriction)
    }

    fn ping(&self) -> Result<(), LedgerError> {
        self.submit(|_| Ok(()))
    }

    fn library(&self, uscc: &str) -> Result<Vec<ArchivedPart>, LedgerError> {
        let sql = format!("{} WHERE l.uscc = $1 ORDER BY l.seq", library::FILED);
        Ok(self.rows(sql, vec![Box::new(uscc.to_string())], archived_parts)?.into_iter().flatten().collect())
    }

    fn archived(&self, application_id: &str, part: Part) -> Result<Option<ArchivedPart>, LedgerError> {
        let sql = format!("{} WHERE r.application_id = $1", library::FILED);
        let parts = self.rows(sql, vec![Box::new(application_id.to_string())], archived_parts)?;
        Ok(parts.into_iter().flatten().find(|p| p.part == part))
    }

    fn add_refusal(&self, refusal: Refusal) -> Pending<i64> {
        self.pending(move |batch| {
            let pointers = serde_json::to_string(&refusal.pointers).map_err(|e| LedgerError::Codec(e.to_string()))?;
            let row = batch.query_opt(
                "INSERT INTO refusals (application_id, uscc, pointers, caller, recorded_at)
                 VALUES ($1, $2, $3, $4, $5) RETURNING seq",
                &[&refusal.application_id, &refusal.uscc, &pointers, &refusal.caller, &refusal.recorded_at],
            )?;
            row.map_or(Err(LedgerError::Writer("the insert returned no sequence number".into())), |r| Ok(r.try_get(0)?))
        })
    }

    fn refusals_after(&self, after_seq: i64, n: usize) -> Result<Vec<StoredRefusal>, LedgerError> {
        let sql = "SELECT seq, application_id, uscc, pointers, caller, recorded_at FROM refusals
                   WHERE seq > $1 ORDER BY seq LIMIT $2";
        self.rows(sql.into(), vec![Box::new(after_seq), Box::new(limit(n))], refusal)
    }

    fn decide(&self, d: NewDecision) -> Result<Decided, LedgerError> {
        self.submit(move |batch| decide(batch, &d))
    }

    fn decisions(&self, application_id: &str) -> Result<Vec<StoredDecision>, LedgerError> {
        let sql = format!("SELECT {DECISION_COLUMNS} FROM decisions WHERE application_id = $1 ORDER BY seq");
        self.rows(sql, vec![Box::new(application_id.to_string())], decision)
    }

    fn decisions_after(&self, after_seq: i64, n: usize) -> Result<Vec<StoredDecision>, LedgerError> {
        let sql = format!("SELECT {DECISION_COLUMNS} FROM decisions WHERE seq > $1 ORDER BY seq LIMIT $2");
        self.rows(sql, vec![Box::new(after_seq), Box::new(limit(n))], decision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_files_and_shown_without_their_password() {
        assert!(is_url("postgres://u@h/db") && is_url("postgresql://h/db"));
        assert!(!is_url("oscar-ledger.sqlite") && !is_url("/var/lib/postgres://x"));
        assert_eq!(shown("postgres://oscar:s3cret@db:5432/ledger"), "postgres://oscar:***@db:5432/ledger");
        assert_eq!(shown("postgres://oscar@db/ledger"), "postgres://oscar@db/ledger");
        assert_eq!(shown("postgresql://db/ledger?user=a"), "postgresql://db/ledger?user=a");
    }
}
