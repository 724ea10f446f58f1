//! The default ledger: one SQLite file (bundled SQLite, WAL journal), append-only tables
//! guarded by triggers, one writer thread so the chain is written in order, a few read
//! connections beside it.

use std::cell::RefCell;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, Type, ValueRef};
use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, ErrorCode, MAIN_DB, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use tokio::sync::oneshot;
use zstd::zstd_safe;

use super::decisions::{self, Decided, DecisionChecker, NewDecision, StoredDecision};
use super::library::{self, ArchivedPart, Part, Refusal, StoredRefusal};
use super::{
    Appended, Broken, ChainChecker, GENESIS, HashScheme, Ledger, LedgerError, NewRecord, Pending, Query, Record,
    StoredRestriction, VerifyReport,
};
use crate::review::Verdict;

/// A verdict is stored as its word; a word that is not one is a damaged record.
impl ToSql for Verdict {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Verdict {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let word = value.as_str()?;
        let unknown = || FromSqlError::Other(format!("`{word}` is not a verdict (`approve` or `escalate`)").into());
        Verdict::parse(word).ok_or_else(unknown)
    }
}

/// The tables every ledger file has ([`create_tables`]).
const TABLES: &str = "
CREATE TABLE IF NOT EXISTS reviews (
    seq            INTEGER PRIMARY KEY,
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
CREATE INDEX IF NOT EXISTS reviews_by_verdict ON reviews (verdict, seq);
CREATE TABLE IF NOT EXISTS restrictions (
    seq          INTEGER PRIMARY KEY,
    restriction  TEXT NOT NULL,
    caller       TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
);
";

/// The table of a file's compression dictionary, one row, from version 3 on.
const DICTIONARY_TABLE: &str = "
CREATE TABLE IF NOT EXISTS dictionary (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    bytes BLOB NOT NULL
);
";

/// Triggers that refuse to change or delete what `table` holds.
fn append_only(table: &str) -> String {
    ["UPDATE", "DELETE"]
        .map(|op| {
            format!(
                "CREATE TRIGGER IF NOT EXISTS {table}_no_{} BEFORE {op} ON {table}
                    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;",
                op.to_lowercase()
            )
        })
        .concat()
}

/// Creates what is missing of the tables every file has, guarded by their triggers.
fn create_tables(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(TABLES)?;
    conn.execute_batch(&append_only("reviews"))?;
    conn.execute_batch(&append_only("restrictions"))?;
    conn.execute_batch(library::TABLES)?;
    library::TABLE_NAMES.iter().try_for_each(|table| conn.execute_batch(&append_only(table)))?;
    conn.execute_batch(decisions::TABLE)?;
    conn.execute_batch(&append_only("decisions"))
}

const COLUMNS: &str =
    "seq, application_id, content_hash, application, review, verdict, caller, recorded_at, prev_hash, hash";

/// Where the file's records end, as its writer left them.
#[derive(Debug, Clone, PartialEq)]
struct Tip {
    /// Sequence number of the last review (0 for none).
    seq: i64,
    /// Its hash ([`GENESIS`] for none).
    hash: String,
    /// Sequence number of the last restriction (0 for none).
    restriction: i64,
}

impl Tip {
    /// Where the file's records end now.
    fn of(conn: &Connection) -> rusqlite::Result<Tip> {
        let (seq, hash) = conn
            .prepare_cached("SELECT seq, hash FROM reviews ORDER BY seq DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or((0, GENESIS.to_string()));
        let restriction = conn
            .prepare_cached("SELECT seq FROM restrictions ORDER BY seq DESC LIMIT 1")?
            .query_row([], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        Ok(Tip { seq, hash, restriction })
    }

    /// Whether the file still ends where this writer left it; another process's write moves
    /// the end (the lock keeps other oscar servers out, not every program).
    fn still_ends(&self, conn: &Connection) -> Result<(), String> {
        let now = Tip::of(conn).map_err(|e| format!("cannot read where the ledger ends: {e}"))?;
        if (now.seq, now.restriction) != (self.seq, self.restriction) {
            return Err(format!(
                "another process wrote to the ledger file (it ends at review {} and restriction {}, this \
                 server wrote up to {} and {}); what this server holds of it is stale",
                now.seq, now.restriction, self.seq, self.restriction
            ));
        }
        Ok(())
    }
}

/// Where a writer job's answer goes: a thread blocked on a channel, or a task awaiting.
enum Reply<T> {
    Thread(mpsc::SyncSender<Result<T, LedgerError>>),
    Task(oneshot::Sender<Result<T, LedgerError>>),
}

impl<T> Reply<T> {
    /// Sends the answer; a caller that stopped waiting is ignored.
    fn send(self, answer: Result<T, LedgerError>) {
        match self {
            Reply::Thread(s) => drop(s.send(answer)),
            Reply::Task(s) => drop(s.send(answer)),
        }
    }

    /// Answers that the job was not done because the ledger cannot take writes, and why.
    fn refuse(self, why: &str) {
        self.send(Err(LedgerError::Unavailable(why.to_string())));
    }
}

/// Work for the writer thread.
enum Job {
    Append(NewRecord, Prepared, Reply<Appended>),
    Restriction { restriction: String, caller: String, recorded_at: String, reply: Reply<i64> },
    Ping(Reply<()>),
    Refusal(Refusal, Reply<i64>),
    Decision(NewDecision, Reply<Decided>),
}

/// What the caller's thread computes for an append, so that the writer need not.
struct Prepared {
    /// The application as stored, where the file compresses it ([`Codec::prepare`]).
    application: Option<Vec<u8>>,
    /// The review as stored ([`Codec::compress`]).
    review: Vec<u8>,
    /// [`HashScheme::review_digest`] of the review.
    digest: String,
    /// The application's carrier, which the library files it under.
    carrier: Option<String>,
}

/// Most jobs committed in one transaction.
const MAX_BATCH: usize = 64;

/// The SQLite ledger.
///
/// One writer thread owns the write connection and commits whatever jobs are queued in one
/// transaction (group commit): under load a commit's fixed cost (B-tree and index pages,
/// WAL frame headers) is paid once per batch instead of once per review, and nobody holds
/// a lock while SQLite works. Callers block until their job is committed, so `append` still
/// returns only once the record is durable. Reads use a few read-only connections of their
/// own ([`Readers`]; WAL readers never wait for the writer).
///
/// A writing ledger holds an exclusive lock on `FILE.lock` for its lifetime
/// ([`lock_file`]), and after every commit checks that its files are still the ones at
/// their paths ([`Files`]); see [`Health`] for what it does when not.
pub struct SqliteLedger {
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
    readers: Readers,
    format: Format,
    /// Removed on drop ([`SqliteLedger::temporary`]).
    temporary: Option<PathBuf>,
    /// The writer's lock; released when dropped, after every connection has closed (fields
    /// drop after [`Drop::drop`]). `None` for a read-only ledger.
    _lock: Option<File>,
}

impl Drop for SqliteLedger {
    fn drop(&mut self) {
        // The readers close first, so that the writer's connection is the file's last: SQLite
        // then checkpoints and removes the WAL, which a read-only connection cannot.
        self.readers.close();
        // Closing the queue lets the writer finish what is queued and stop.
        drop(self.jobs.take());
        if let Some(w) = self.writer.take()
            && w.join().is_err()
        {
            tracing::error!("the ledger writer panicked");
        }
        if let Some(path) = &self.temporary {
            for suffix in ["", "-wal", "-shm", ".lock"] {
                let _ = std::fs::remove_file(with_suffix(path, suffix));
            }
        }
    }
}

/// A file beside the database: SQLite's `-wal` and `-shm`, the writer's `.lock`.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// WAL pages (4 KiB) written since the last checkpoint after which the writer copies the
/// WAL into the database file (SQLite then starts the WAL over). Each such checkpoint syncs
/// what it copies, and the commits queued meanwhile wait: small and frequent keeps each
/// wait short. Measured with `oscar loadtest --concurrency 64` on this machine: 1,000 pages
/// (SQLite's default) p99 36-44 ms; 256 pages 30-34 ms; 64 pages 24-26 ms, at the same
/// throughput; a background checkpointing thread made no difference at 64. Later, with
/// compressed reviews: 16, 256 and 1,024 pages no better than 64 (1,024 worse). With
/// records of ~0.5 KB a commit rewrites the same few pages, which a checkpoint copies and
/// syncs once however often they were committed: 256 pages took the writer thread from ~38
/// to ~34 µs of CPU a review (1 review thread, 64 clients, six alternated runs), at the
/// same p99.
///
/// The writer checkpoints itself, after answering the batch whose commit filled the WAL:
/// SQLite's automatic checkpoint runs inside the commit, so that batch's callers waited for
/// two syncs their records did not need.
const WRITER_CHECKPOINT_PAGES: i32 = 256;

/// What a new file takes as its compression dictionary: the shipped examples' applications
/// and reviews as the ledger stores them (made by `scripts/ledger-dictionary.sh`).
const DICTIONARY: &[u8] = include_bytes!("dictionary.jsonl");

/// zstd's level for [`Codec::Dictionary`]. Measured on 300 reviews of the load mix with this
/// file's dictionary: level 1 ~19 µs and 475 bytes a record (application and review); level
/// 2 23 µs and 494 bytes; level -1 20 µs and 1,268 bytes.
const ZSTD_LEVEL: i32 = 1;

/// The most bytes a stored value may claim to expand to; a larger claim is damage, and
/// believing it would allocate that much.
const MAX_STORED_TEXT: u64 = 64 << 20;

/// How a file stores applications and reviews; fixed when the file is made.
///
/// Every stored byte is written twice (the WAL, then the database file at a checkpoint) and
/// synced at the checkpoint, during which the writer commits nothing, so the bytes a record
/// takes are the writer's main cost. Reviews are ~17 KB of JSON, mostly the same titles,
/// legal bases and field names from one review to the next. LZ4 alone made a record (review
/// and application) ~7.5 KB; zstd against a dictionary of sample records makes it ~0.5 KB,
/// in less CPU (a prepared dictionary is hashed once, not per call as LZ4's is). The record
/// hash covers the text, so the stored form never changes what a record verifies as.
#[derive(Clone)]
enum Codec {
    /// Files before version 3: the application as TEXT, the review LZ4-compressed (or TEXT,
    /// in records written before compression).
    Plain,
    /// Version 3: the application and the review zstd-compressed against the file's own
    /// dictionary, stored in the file so that it reads without this build's sample.
    Dictionary(Arc<Dictionary>),
}

/// A file's dictionary, prepared once for compressing and decompressing.
struct Dictionary {
    encoder: zstd::dict::EncoderDictionary<'static>,
    decoder: zstd::dict::DecoderDictionary<'static>,
}

impl Dictionary {
    fn new(bytes: &[u8]) -> Dictionary {
        Dictionary {
            encoder: zstd::dict::EncoderDictionary::copy(bytes, ZSTD_LEVEL),
            decoder: zstd::dict::DecoderDictionary::copy(bytes),
        }
    }
}

type CodecError = Box<dyn std::error::Error + Send + Sync>;

impl Codec {
    /// The stored form of `text` ([`Codec::Plain`]: LZ4, the size prepended).
    fn compress(&self, text: &str) -> Result<Vec<u8>, CodecError> {
        Ok(match self {
            Codec::Plain => lz4_flex::compress_prepend_size(text.as_bytes()),
            Codec::Dictionary(d) => with_context(&COMPRESSOR, |cctx| {
                let mut out = Vec::with_capacity(zstd_safe::compress_bound(text.len()));
                cctx.compress_using_cdict(&mut out, text.as_bytes(), d.encoder.as_cdict()).map(|_| out)
            })?,
        })
    }

    fn prepare(&self, scheme: HashScheme, r: &NewRecord) -> Result<Prepared, CodecError> {
        Ok(Prepared {
            application: match self {
                Codec::Plain => None,
                Codec::Dictionary(_) => Some(self.compress(&r.application)?),
            },
            review: self.compress(&r.review)?,
            digest: scheme.review_digest(&r.review),
            carrier: library::carrier_of(&r.application),
        })
    }

    /// Column `idx` as text: TEXT as stored, a BLOB decompressed ([`Codec::compress`]).
    fn text(&self, row: &Row<'_>, idx: usize) -> rusqlite::Result<String> {
        match row.get_ref(idx)? {
            ValueRef::Blob(b) => {
                self.decompress(b).map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Blob, e))
            }
            _ => row.get(idx),
        }
    }

    fn decompress(&self, stored: &[u8]) -> Result<String, CodecError> {
        let text = match self {
            Codec::Plain => {
                let (size, block) = lz4_flex::block::uncompressed_size(stored)?;
                // An LZ4 block expands at most ~255 times.
                check_claim(size as u64, block.len() as u64 * 255)?;
                lz4_flex::block::decompress(block, size)?
            }
            Codec::Dictionary(d) => {
                let size = zstd_safe::get_frame_content_size(stored)
                    .map_err(|_| "not a zstd frame")?
                    .ok_or("the zstd frame does not give its size")?;
                check_claim(size, MAX_STORED_TEXT)?;
                with_context(&DECOMPRESSOR, |dctx| {
                    let mut out = Vec::with_capacity(size as usize);
                    dctx.decompress_using_ddict(&mut out, stored, d.decoder.as_ddict()).map(|_| out)
                })?
            }
        };
        Ok(String::from_utf8(text)?)
    }

    fn record(&self, row: &Row<'_>) -> rusqlite::Result<Record> {
        Ok(Record {
            seq: row.get(0)?,
            entry: NewRecord {
                application_id: row.get(1)?,
                content_hash: row.get(2)?,
                application: self.text(row, 3)?,
                review: self.text(row, 4)?,
                verdict: row.get(5)?,
                caller: row.get(6)?,
                recorded_at: row.get(7)?,
            },
            prev_hash: row.get(8)?,
            hash: row.get(9)?,
        })
    }
}

thread_local! {
    // One context a thread, made once: making one per call cost ~1.6 % of the server's CPU
    // under load, mostly zstd's `cpuid` probe, which a virtual machine traps.
    static COMPRESSOR: RefCell<Option<zstd_safe::CCtx<'static>>> = RefCell::new(zstd_safe::CCtx::try_create());
    static DECOMPRESSOR: RefCell<Option<zstd_safe::DCtx<'static>>> = RefCell::new(zstd_safe::DCtx::try_create());
}

/// Runs `work` with this thread's zstd context; zstd's error codes named.
fn with_context<C: 'static>(
    context: &'static std::thread::LocalKey<RefCell<Option<C>>>,
    work: impl FnOnce(&mut C) -> Result<Vec<u8>, usize>,
) -> Result<Vec<u8>, CodecError> {
    context.with_borrow_mut(|c| {
        let c = c.as_mut().ok_or("zstd could not make a context")?;
        work(c).map_err(|code| zstd_safe::get_error_name(code).into())
    })
}

/// Refuses a stored value's claimed size above `most`.
fn check_claim(size: u64, most: u64) -> Result<(), CodecError> {
    if size > most {
        return Err(format!("stored value claims {size} bytes, more than {most} possible").into());
    }
    Ok(())
}

fn connect(path: &Path, flags: OpenFlags) -> Result<Connection, LedgerError> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

/// Takes the writer's lock: an exclusive lock on `FILE.lock`, held while the ledger is open.
///
/// Why this lock and not another: SQLite's `locking_mode = EXCLUSIVE` would also shut out
/// this process's own read connections, and `ledger verify` or `replay` of a serving
/// ledger; a lock on the database file itself is unsafe beside SQLite's (closing any
/// descriptor of a file drops every POSIX lock the process holds on it, SQLite's included,
/// and on NFS Linux emulates `flock` with those same locks). A separate file with `flock`
/// (`File::try_lock`) has neither problem, and the kernel drops the lock when the process
/// ends however it ends, so a `kill -9` leaves no stale lock. The file stays after a clean
/// stop: removing it would race with a server starting.
fn lock_file(path: &Path) -> Result<File, LedgerError> {
    let lock_path = with_suffix(path, ".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| LedgerError::File(lock_path.clone(), e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(LedgerError::Locked(path.to_path_buf())),
        Err(TryLockError::Error(e)) => Err(LedgerError::File(lock_path, e)),
    }
}

/// Refuses a path that holds no ledger before SQLite sees it (SQLite takes a missing or
/// empty file for a new database). Only the metadata is read: a descriptor of the database
/// opened and closed here would drop SQLite's locks on it ([`lock_file`]).
fn check_ledger_file(path: &Path) -> Result<(), LedgerError> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(LedgerError::Missing(path.to_path_buf())),
        Err(e) => return Err(LedgerError::File(path.to_path_buf(), e)),
    };
    let why = if !meta.is_file() {
        "it is not a regular file"
    } else if meta.len() == 0 {
        "it is empty (0 bytes)"
    } else {
        return Ok(());
    };
    Err(LedgerError::NotALedger(path.to_path_buf(), why.into()))
}

/// Refuses a database without the ledger's table, or a file that is no database at all.
fn check_tables(conn: &Connection, path: &Path) -> Result<(), LedgerError> {
    let not_a_ledger = |why: &str| LedgerError::NotALedger(path.to_path_buf(), why.into());
    match conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'reviews'", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(1) => Ok(()),
        Ok(_) => Err(not_a_ledger("it has no `reviews` table")),
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::NotADatabase => {
            Err(not_a_ledger("it is not a SQLite database"))
        }
        Err(e) => Err(e.into()),
    }
}

/// A file's device and inode.
#[cfg(unix)]
fn file_id(path: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).map(|m| (m.dev(), m.ino()))
}

/// Whether the file exists (other systems keep an open file from being removed).
#[cfg(not(unix))]
fn file_id(path: &Path) -> std::io::Result<(u64, u64)> {
    std::fs::metadata(path).map(|_| (0, 0))
}

/// The files a writing ledger holds open, as their paths named them when it opened them:
/// the database, its WAL (SQLite keeps it while any connection is open) and the lock.
///
/// A commit is answered only after they are found unchanged: a file removed (or replaced
/// by another) while in use takes every later commit with it, and the next start would
/// find no ledger or another one. A `stat` each is a few microseconds a batch.
struct Files(Vec<(&'static str, PathBuf, (u64, u64))>);

impl Files {
    fn held(path: &Path) -> Result<Files, LedgerError> {
        let mut held = Vec::new();
        for (what, suffix) in [("ledger file", ""), ("ledger's WAL file", "-wal"), ("ledger's lock file", ".lock")] {
            let path = with_suffix(path, suffix);
            let id = file_id(&path).map_err(|e| LedgerError::File(path.clone(), e))?;
            held.push((what, path, id));
        }
        Ok(Files(held))
    }

    /// Why the files are no longer the ones held, if they are not.
    fn check(&self) -> Result<(), String> {
        for (what, path, id) in &self.0 {
            if file_id(path).ok().as_ref() != Some(id) {
                return Err(format!("the {what} was removed or replaced while in use; nothing more is written"));
            }
        }
        Ok(())
    }
}

/// Most read connections of a ledger.
const MAX_READERS: usize = 4;

/// What a read is: a lookup by key is short, a scan (the queue, restrictions, `verify`)
/// may take long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    Lookup,
    Scan,
}

/// The read connections, read-only, one per core from 2 to [`MAX_READERS`].
///
/// A scan never takes the last idle connection, so a lookup by id (`GET /v1/reviews/{id}`)
/// waits only for other lookups, never behind queue scans: with one connection for every
/// read, slow scans made a lookup wait 0.5-0.7 s.
struct Readers {
    idle: Mutex<Vec<Connection>>,
    returned: Condvar,
}

impl Readers {
    fn open(path: &Path) -> Result<Readers, LedgerError> {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        let idle = (0..cores.clamp(2, MAX_READERS))
            .map(|_| connect(path, OpenFlags::SQLITE_OPEN_READ_ONLY))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Readers { idle: Mutex::new(idle), returned: Condvar::new() })
    }

    /// Runs `work` on an idle connection, waiting for one if needed.
    fn with<T>(
        &self,
        read: Read,
        work: impl FnOnce(&mut Connection) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let keep = usize::from(read == Read::Scan);
        let idle = self.idle.lock().map_err(|_| LedgerError::Poisoned)?;
        let mut idle = self.returned.wait_while(idle, |idle| idle.len() <= keep).map_err(|_| LedgerError::Poisoned)?;
        // INVARIANT: `wait_while` left more than `keep` (>= 0) connections.
        let mut lent = Lent { readers: self, conn: idle.pop() };
        drop(idle);
        lent.conn.as_mut().map_or(Err(LedgerError::Poisoned), work)
    }

    /// Closes every connection; only when the ledger is dropped (nothing is lent then).
    fn close(&mut self) {
        if let Ok(idle) = self.idle.get_mut() {
            idle.clear();
        }
    }
}

/// A connection lent by [`Readers::with`], given back when dropped (a panic included).
struct Lent<'a> {
    readers: &'a Readers,
    conn: Option<Connection>,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let (Some(conn), Ok(mut idle)) = (self.conn.take(), self.readers.idle.lock()) {
            idle.push(conn);
            // All: a lookup may wait where a woken scan would not go on.
            self.readers.returned.notify_all();
        }
    }
}

/// What the WAL hook saw: the WAL's size after the last commit that wrote to it, and
/// whether one did since the writer last looked.
#[derive(Default)]
struct WalReport {
    pages: AtomicI32,
    wrote: AtomicBool,
}

impl SqliteLedger {
    /// Makes a new ledger at `path` and opens it for writing (`oscar ledger init`); refuses
    /// a path where anything is. See [`SqliteLedger::open`] for `full_sync`.
    pub fn create(path: &Path, full_sync: bool) -> Result<SqliteLedger, LedgerError> {
        Self::writing(path, full_sync, true)
    }

    /// Opens the ledger at `path` for writing, as its one writer: another process that has
    /// it open for writing makes this fail ([`LedgerError::Locked`]). A missing, empty or
    /// foreign file is refused, never made a ledger. With `full_sync` every commit is
    /// flushed to the disk (survives power loss); without it a commit survives a crash of
    /// the process (WAL, `synchronous = NORMAL`) but the last commits may be lost on power
    /// loss.
    pub fn open(path: &Path, full_sync: bool) -> Result<SqliteLedger, LedgerError> {
        Self::writing(path, full_sync, false)
    }

    /// Opens the ledger at `path` for reading only (`verify`, `replay`): no lock, so a
    /// server may be writing it meanwhile, and no write to the file, ever (SQLite may add
    /// an empty `-wal` and `-shm` beside it, as every reader of a WAL file does). Appends
    /// are refused.
    pub fn open_read_only(path: &Path) -> Result<SqliteLedger, LedgerError> {
        check_ledger_file(path)?;
        let readers = Readers::open(path)?;
        let format = readers.with(Read::Lookup, |conn| {
            check_tables(conn, path)?;
            Format::read(conn)
        })?;
        Ok(SqliteLedger { jobs: None, writer: None, readers, format, temporary: None, _lock: None })
    }

    fn writing(path: &Path, full_sync: bool, new: bool) -> Result<SqliteLedger, LedgerError> {
        if !new {
            // Before the lock, which would leave a lock file beside a path that has no ledger.
            check_ledger_file(path)?;
        }
        let lock = lock_file(path)?;
        let flags = if new {
            if std::fs::symlink_metadata(path).is_ok() {
                return Err(LedgerError::Exists(path.to_path_buf()));
            }
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
        };
        let mut conn = connect(path, flags)?;
        if !new {
            check_tables(&conn, path)?;
        }
        // SQLite opens a file it may not write read-only, without an error.
        if conn.is_readonly(MAIN_DB)? {
            return Err(LedgerError::ReadOnly(path.to_path_buf()));
        }
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", if full_sync { "FULL" } else { "NORMAL" })?;
        let format = Format::of(&mut conn)?;
        let tip = Tip::of(&conn)?;
        let files = Files::held(path)?;
        let readers = Readers::open(path)?;
        // Replaces the automatic checkpoint; the hook is told the WAL's size after each commit.
        let wal = Arc::new(WalReport::default());
        let report = Arc::clone(&wal);
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, n: i32| {
            report.pages.store(n, Ordering::Relaxed);
            report.wrote.store(true, Ordering::Relaxed);
            Ok(())
        }))?;
        let (jobs, queue) = mpsc::channel();
        let writer = Writer {
            conn,
            path: path.to_path_buf(),
            format: format.clone(),
            tip,
            files,
            health: Health::Sound,
            wal,
            checkpointed_at: 0,
        };
        let writer = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || writer.run(&queue))
            .map_err(|e| LedgerError::Writer(format!("cannot start the writer thread: {e}")))?;
        Ok(SqliteLedger { jobs: Some(jobs), writer: Some(writer), readers, format, temporary: None, _lock: Some(lock) })
    }

    /// A ledger in a fresh file under the system's temporary directory, removed when the
    /// ledger is dropped; for tests.
    pub fn temporary() -> Result<SqliteLedger, LedgerError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!("oscar-ledger-{}-{}.sqlite", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(name);
        let mut ledger = Self::create(&path, false)?;
        ledger.temporary = Some(path);
        Ok(ledger)
    }

    /// Queues a job for the writer.
    fn queue(&self, job: Job) -> Result<(), LedgerError> {
        let jobs = self.jobs.as_ref().ok_or_else(|| LedgerError::Writer("the ledger is open read-only".into()))?;
        jobs.send(job).map_err(|_| writer_gone())
    }

    /// Queues a job for the writer and waits for its answer.
    fn submit<T>(&self, job: impl FnOnce(Reply<T>) -> Job) -> Result<T, LedgerError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.queue(job(Reply::Thread(reply)))?;
        answer.recv().map_err(|_| writer_gone())?
    }
}

fn writer_gone() -> LedgerError {
    LedgerError::Writer("the ledger writer has stopped".into())
}

fn get(conn: &Connection, codec: &Codec, application_id: &str) -> Result<Option<Record>, LedgerError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM reviews WHERE application_id = ?1"))?;
    Ok(stmt.query_row([application_id], |row| codec.record(row)).optional()?)
}

/// A job done inside the open transaction, waiting for the commit to answer.
enum Done {
    Append(Result<Appended, LedgerError>, Reply<Appended>),
    Restriction(Result<i64, LedgerError>, Reply<i64>),
    Ping(Reply<()>),
    Decision(Result<Decided, LedgerError>, Reply<Decided>),
}

/// `PRAGMA user_version` of a ledger whose records are hashed with [`HashScheme::Digests`]
/// and stored with [`Codec::Plain`]; files from before it (0) keep [`HashScheme::Fields`].
const DIGESTS_VERSION: i64 = 2;

/// `PRAGMA user_version` of a ledger hashed with [`HashScheme::Digests`] and stored with
/// [`Codec::Dictionary`].
const DICTIONARY_VERSION: i64 = 3;

/// How a file's records are hashed and stored.
#[derive(Clone)]
struct Format {
    scheme: HashScheme,
    codec: Codec,
}

impl Format {
    /// The writer's view of the file's format: a file without records takes the current
    /// one (version 3, with this build's [`DICTIONARY`]). One transaction, so that a file
    /// never has the version without its dictionary.
    fn of(conn: &mut Connection) -> Result<Format, LedgerError> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        create_tables(&tx)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let empty = tx.query_row("SELECT NOT EXISTS (SELECT 1 FROM reviews)", [], |r| r.get::<_, bool>(0))?;
        if matches!(version, 0 | DIGESTS_VERSION) && empty {
            tx.execute_batch(DICTIONARY_TABLE)?;
            tx.execute_batch(&append_only("dictionary"))?;
            tx.execute("INSERT INTO dictionary (id, bytes) VALUES (1, ?1)", [DICTIONARY])?;
            tx.pragma_update(None, "user_version", DICTIONARY_VERSION)?;
        }
        let format = Format::read(&tx)?;
        library::catch_up(&tx, |row| Ok((row.get(0)?, format.codec.text(row, 1)?)))?;
        tx.commit()?;
        Ok(format)
    }

    /// The file's format, read from its version; writes nothing.
    fn read(conn: &Connection) -> Result<Format, LedgerError> {
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let (scheme, codec) = match version {
            DICTIONARY_VERSION => {
                let dictionary: Option<Vec<u8>> =
                    conn.query_row("SELECT bytes FROM dictionary WHERE id = 1", [], |r| r.get(0)).optional()?;
                let dictionary = dictionary.ok_or_else(|| LedgerError::Damaged("its dictionary is missing".into()))?;
                (HashScheme::Digests, Codec::Dictionary(Arc::new(Dictionary::new(&dictionary))))
            }
            DIGESTS_VERSION => (HashScheme::Digests, Codec::Plain),
            0 => (HashScheme::Fields, Codec::Plain),
            _ => return Err(LedgerError::Version(version)),
        };
        Ok(Format { scheme, codec })
    }
}

/// Whether the writer can take writes.
#[derive(Debug, Clone, PartialEq)]
enum Health {
    /// Writes reach the file.
    Sound,
    /// The last write failed (a full disk, an I/O error): writes are still tried, none is
    /// answered as stored unless its commit succeeded, and the first commit that stores a
    /// record makes the ledger sound again. Pings answer the failure meanwhile: a small
    /// write may fit where a record does not, so none is tried as a probe.
    Failing(String),
    /// The file written is no longer the ledger at its path (removed, replaced) or another
    /// process wrote to it: nothing more is written, until a restart.
    Lost(String),
}

impl Health {
    fn why(&self) -> Option<&str> {
        match self {
            Health::Sound => None,
            Health::Failing(why) | Health::Lost(why) => Some(why),
        }
    }
}

/// The writer thread's state.
struct Writer {
    conn: Connection,
    /// The database's path, for the log.
    path: PathBuf,
    format: Format,
    tip: Tip,
    files: Files,
    health: Health,
    wal: Arc<WalReport>,
    /// The WAL's size at the last checkpoint.
    checkpointed_at: i32,
}

impl Writer {
    /// Takes what is queued (up to [`MAX_BATCH`]), does it in one transaction, commits,
    /// answers. Ends when every sender is gone and the queue is empty.
    fn run(mut self, queue: &mpsc::Receiver<Job>) {
        while let Some(batch) = super::next_batch(queue, MAX_BATCH) {
            self.write(batch);
            if !matches!(self.health, Health::Lost(_)) {
                self.checkpoint();
            }
        }
    }

    /// Does a batch in one transaction and answers each job: with its result once the
    /// commit reached the file, which is still the ledger at its path; else refused.
    fn write(&mut self, batch: Vec<Job>) {
        if let Health::Lost(why) = &self.health {
            return batch.into_iter().for_each(|job| job.refuse(why));
        }
        // IMMEDIATE takes the write lock up front, so a checkpoint holding it makes the
        // writer wait (busy timeout) instead of failing on a stale read snapshot.
        let tx = match self.conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => {
                let why = set_health(&mut self.health, &self.path, Health::Failing(format!("cannot begin: {e}")));
                return batch.into_iter().for_each(|job| job.refuse(&why));
            }
        };
        if let Err(why) = self.tip.still_ends(&tx) {
            drop(tx);
            let why = set_health(&mut self.health, &self.path, Health::Lost(why));
            return batch.into_iter().for_each(|job| job.refuse(&why));
        }
        let before = self.tip.clone();
        let mut jobs = batch.into_iter();
        let mut done = Vec::with_capacity(jobs.len());
        // A failed statement can make SQLite roll the whole transaction back (a full disk, an
        // I/O error); the jobs after it would then each commit on their own.
        while !tx.is_autocommit()
            && let Some(job) = jobs.next()
        {
            done.push(run_job(&tx, &self.format, &mut self.tip, job));
        }
        self.wal.wrote.store(false, Ordering::Relaxed);
        let committed = if tx.is_autocommit() {
            Err("a write failed and SQLite rolled the batch back".to_string())
        } else {
            tx.commit().map_err(|e| format!("commit failed: {e}"))
        };
        let failed = match committed {
            Err(why) => {
                self.tip = before;
                Some(set_health(&mut self.health, &self.path, Health::Failing(why)))
            }
            Ok(()) => match self.files.check() {
                Err(why) => Some(set_health(&mut self.health, &self.path, Health::Lost(why))),
                Ok(()) => {
                    // A commit that stored nothing (pings, ids already stored) says nothing.
                    if self.wal.wrote.load(Ordering::Relaxed) {
                        set_health(&mut self.health, &self.path, Health::Sound);
                    }
                    None
                }
            },
        };
        let unsound = self.health.why();
        for d in done {
            d.answer(failed.as_deref(), unsound);
        }
        jobs.for_each(|job| job.refuse(failed.as_deref().unwrap_or_default()));
    }

    /// Copies the WAL into the database once it has grown [`WRITER_CHECKPOINT_PAGES`].
    fn checkpoint(&mut self) {
        // Counted from the last checkpoint, not from the WAL's start: when a reader kept
        // SQLite from starting the WAL over, its size stays above the mark, and checkpointing
        // after every commit then synced a few pages at a time.
        let pages = self.wal.pages.load(Ordering::Relaxed);
        if pages < self.checkpointed_at {
            self.checkpointed_at = 0;
        }
        if pages - self.checkpointed_at >= WRITER_CHECKPOINT_PAGES {
            // Passive: a reader on an old snapshot only delays part of the copy.
            if let Err(e) = self.conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE) {
                tracing::warn!(error = %e, "ledger checkpoint failed");
            }
            self.checkpointed_at = pages;
        }
    }
}

/// Moves `health` to `to`, logging a change; returns the reason (empty when sound).
fn set_health(health: &mut Health, path: &Path, to: Health) -> String {
    if *health != to {
        match to.why() {
            None => tracing::info!(ledger = %path.display(), "the ledger takes writes again"),
            Some(why) => tracing::error!(ledger = %path.display(), "the ledger cannot take writes: {why}"),
        }
    }
    *health = to;
    health.why().unwrap_or_default().to_string()
}

/// Does one job inside the writer's transaction.
fn run_job(tx: &rusqlite::Transaction<'_>, format: &Format, tip: &mut Tip, job: Job) -> Done {
    match job {
        Job::Append(r, prepared, reply) => Done::Append(append(tx, format, tip, r, &prepared), reply),
        Job::Restriction { restriction, caller, recorded_at, reply } => {
            let stored = tx
                .execute(
                    "INSERT INTO restrictions (restriction, caller, recorded_at) VALUES (?1, ?2, ?3)",
                    params![restriction, caller, recorded_at],
                )
                .map(|_| tx.last_insert_rowid())
                .map_err(LedgerError::from);
            if let Ok(seq) = stored {
                tip.restriction = seq;
            }
            Done::Restriction(stored, reply)
        }
        Job::Ping(reply) => Done::Ping(reply),
        // Answered as a restriction is: its sequence number.
        Job::Refusal(refusal, reply) => Done::Restriction(library::add_refusal(tx, &refusal), reply),
        Job::Decision(d, reply) => Done::Decision(decisions::insert(tx, d), reply),
    }
}

impl Job {
    /// Answers with `why` without doing the job.
    fn refuse(self, why: &str) {
        match self {
            Job::Append(_, _, reply) => reply.refuse(why),
            Job::Restriction { reply, .. } => reply.refuse(why),
            Job::Ping(reply) => reply.refuse(why),
            Job::Refusal(_, reply) => reply.refuse(why),
            Job::Decision(_, reply) => reply.refuse(why),
        }
    }
}

impl Done {
    /// Sends the job's result, or `failed` when its commit did not reach the ledger; a ping
    /// answers `unsound` when writes fail.
    fn answer(self, failed: Option<&str>, unsound: Option<&str>) {
        match (self, failed) {
            (Done::Append(r, reply), None) => reply.send(r),
            (Done::Restriction(r, reply), None) => reply.send(r),
            (Done::Ping(reply), None) => match unsound {
                None => reply.send(Ok(())),
                Some(why) => reply.refuse(why),
            },
            (Done::Append(_, reply), Some(why)) => reply.refuse(why),
            (Done::Restriction(_, reply), Some(why)) => reply.refuse(why),
            (Done::Ping(reply), Some(why)) => reply.refuse(why),
            (Done::Decision(r, reply), None) => reply.send(r),
            (Done::Decision(_, reply), Some(why)) => reply.refuse(why),
        }
    }
}

/// Appends one review inside the writer's transaction; the id check sees the records of
/// the same batch.
fn append(
    tx: &rusqlite::Transaction<'_>,
    format: &Format,
    tip: &mut Tip,
    r: NewRecord,
    prepared: &Prepared,
) -> Result<Appended, LedgerError> {
    if let Some(existing) = get(tx, &format.codec, &r.application_id)? {
        return Ok(if existing.entry.content_hash == r.content_hash {
            Appended::Existing(existing)
        } else {
            Appended::Conflict(existing)
        });
    }
    let seq = tip.seq + 1;
    let prev_hash = tip.hash.clone();
    let hash = format.scheme.record_hash(seq, &prev_hash, &r, &prepared.digest);
    let application: &dyn ToSql = match &prepared.application {
        Some(stored) => stored,
        None => &r.application,
    };
    tx.prepare_cached(&format!("INSERT INTO reviews ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"))?
        .execute(params![
            seq,
            r.application_id,
            r.content_hash,
            application,
            prepared.review,
            r.verdict,
            r.caller,
            r.recorded_at,
            prev_hash,
            hash
        ])?;
    (tip.seq, tip.hash) = (seq, hash.clone());
    if let Some(uscc) = &prepared.carrier {
        library::store(tx, seq, uscc)?;
    }
    Ok(Appended::New(Record { seq, entry: r, prev_hash, hash }))
}

/// What SQLite finds wrong with the file: `PRAGMA integrity_check` (its pages, and every
/// index against its table: an entry missing from the `application_id` index is how a
/// stored review comes to answer 404 and its id to take other content), and whether that
/// unique index is there at all (without it there is nothing to compare, and ids are no
/// longer kept unique).
fn storage_problems(conn: &Connection) -> Result<Vec<String>, LedgerError> {
    let checked = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut stmt| stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>());
    let mut problems = match checked {
        Ok(found) => found.into_iter().filter(|p| p != "ok").collect(),
        // Damage that keeps the check from running is a finding too.
        Err(rusqlite::Error::SqliteFailure(e, message)) if e.code == ErrorCode::DatabaseCorrupt => {
            vec![message.unwrap_or_else(|| e.to_string())]
        }
        Err(e) => return Err(e.into()),
    };
    let unique: i64 = conn.query_row(
        "SELECT count(*) FROM pragma_index_list('reviews') AS i
         WHERE i.\"unique\" AND (SELECT group_concat(name) FROM pragma_index_info(i.name)) = 'application_id'",
        [],
        |r| r.get(0),
    )?;
    if unique == 0 {
        problems.push("the unique index on `reviews.application_id` is missing".into());
    }
    Ok(problems)
}

/// Walks the chain from the genesis; the first broken record, if any.
fn walk(conn: &Connection, format: &Format, checker: &mut ChainChecker) -> Result<Option<Broken>, LedgerError> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM reviews ORDER BY seq"))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        // A record that cannot be read (a damaged value or dictionary) breaks the chain there.
        let broken = match format.codec.record(row) {
            Ok(r) => checker.push(&r),
            Err(e) => Some(checker.unreadable(row.get(0)?, row.get(1)?, &e)),
        };
        if broken.is_some() {
            return Ok(broken);
        }
    }
    Ok(None)
}

impl Ledger for SqliteLedger {
    fn append(&self, r: NewRecord) -> Pending<Appended> {
        let (reply, answer) = oneshot::channel();
        // On the caller's thread: the writer is the one serial stage.
        let prepared = match self.format.codec.prepare(self.format.scheme, &r) {
            Ok(p) => p,
            Err(e) => return Pending::failed(LedgerError::Codec(e.to_string())),
        };
        match self.queue(Job::Append(r, prepared, Reply::Task(reply))) {
            Ok(()) => Pending::new(answer),
            Err(e) => Pending::failed(e),
        }
    }

    fn get(&self, application_id: &str) -> Result<Option<Record>, LedgerError> {
        self.readers.with(Read::Lookup, |conn| get(conn, &self.format.codec, application_id))
    }

    fn list(&self, q: &Query) -> Result<Vec<Record>, LedgerError> {
        self.readers.with(Read::Scan, |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM reviews
                 WHERE (?1 IS NULL OR verdict = ?1) AND (?2 IS NULL OR recorded_at >= ?2) AND seq > ?3
                 ORDER BY seq LIMIT ?4"
            ))?;
            let rows = stmt.query_map(
                params![q.verdict, q.since, q.after_seq.unwrap_or(0), i64::try_from(q.limit).unwrap_or(i64::MAX)],
                |row| self.format.codec.record(row),
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn by_verdict(&self, verdict: Verdict, after_seq: i64, limit: usize) -> Result<Vec<Record>, LedgerError> {
        self.list(&Query { verdict: Some(verdict), since: None, after_seq: Some(after_seq), limit })
    }

    fn verify(&self) -> Result<VerifyReport, LedgerError> {
        self.readers.with(Read::Scan, |conn| {
            // One read transaction: the file is checked as of one instant while appends go on.
            let tx = conn.transaction()?;
            let mut storage_problems = storage_problems(&tx)?;
            let mut checker = ChainChecker::new(self.format.scheme);
            let first_broken = match walk(&tx, &self.format, &mut checker) {
                Ok(broken) => broken,
                // Damage the integrity check found may stop the walk; it is reported there.
                Err(e) if !storage_problems.is_empty() => {
                    storage_problems.push(format!("the chain cannot be read past record {}: {e}", checker.count()));
                    None
                }
                Err(e) => return Err(e),
            };
            let mut decided = DecisionChecker::default();
            let first_broken_decision = decisions::walk(&tx, &mut decided)?;
            Ok(VerifyReport::of(storage_problems, (&checker, first_broken), (&decided, first_broken_decision)))
        })
    }

    fn add_restriction(&self, restriction: &str, caller: &str, recorded_at: &str) -> Result<i64, LedgerError> {
        let (restriction, caller, recorded_at) = (restriction.to_string(), caller.to_string(), recorded_at.to_string());
        self.submit(|reply| Job::Restriction { restriction, caller, recorded_at, reply })
    }

    fn restrictions_after(&self, after_seq: i64, limit: usize) -> Result<Vec<StoredRestriction>, LedgerError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers.with(Read::Scan, |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, restriction, caller, recorded_at FROM restrictions WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(rusqlite::params![after_seq, limit], |r| {
                Ok(StoredRestriction {
                    seq: r.get(0)?,
                    restriction: r.get(1)?,
                    caller: r.get(2)?,
                    recorded_at: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn ping(&self) -> Result<(), LedgerError> {
        self.submit(Job::Ping)
    }

    fn library(&self, uscc: &str) -> Result<Vec<ArchivedPart>, LedgerError> {
        self.readers
            .with(Read::Scan, |conn| library::of_carrier(conn, uscc, &|row, idx| self.format.codec.text(row, idx)))
    }

    fn archived(&self, application_id: &str, part: Part) -> Result<Option<ArchivedPart>, LedgerError> {
        let decode = |row: &Row<'_>, idx| self.format.codec.text(row, idx);
        self.readers.with(Read::Lookup, |conn| library::one(conn, application_id, part, &decode))
    }

    fn add_refusal(&self, refusal: Refusal) -> Pending<i64> {
        let (reply, answer) = oneshot::channel();
        match self.queue(Job::Refusal(refusal, Reply::Task(reply))) {
            Ok(()) => Pending::new(answer),
            Err(e) => Pending::failed(e),
        }
    }

    fn refusals_after(&self, after_seq: i64, limit: usize) -> Result<Vec<StoredRefusal>, LedgerError> {
        self.readers.with(Read::Scan, |conn| library::refusals_after(conn, after_seq, limit))
    }

    fn decide(&self, decision: NewDecision) -> Result<Decided, LedgerError> {
        self.submit(|reply| Job::Decision(decision, reply))
    }

    fn decisions(&self, application_id: &str) -> Result<Vec<StoredDecision>, LedgerError> {
        self.readers.with(Read::Lookup, |conn| decisions::of(conn, application_id))
    }

    fn decisions_after(&self, after_seq: i64, limit: usize) -> Result<Vec<StoredDecision>, LedgerError> {
        self.readers.with(Read::Scan, |conn| decisions::after(conn, after_seq, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{canonical_json, content_hash};

    fn new(id: &str, body: &str) -> NewRecord {
        let canonical = canonical_json(&serde_json::json!({ "id": id, "body": body }));
        NewRecord {
            application_id: id.into(),
            content_hash: content_hash(&canonical),
            application: canonical,
            review: "{}".into(),
            verdict: Verdict::Approve,
            caller: "test".into(),
            recorded_at: "2026-01-01T00:00:00.000000Z".into(),
        }
    }

    /// The report on a sound file whose chain of `records` is unbroken.
    fn intact(records: i64) -> VerifyReport {
        VerifyReport {
            storage_problems: Vec::new(),
            records,
            first_broken: None,
            decisions: 0,
            first_broken_decision: None,
        }
    }

    /// A fresh directory for one test, and the ledger path in it.
    fn fresh_dir(tag: &str) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("oscar-ledger-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("l.sqlite");
        (dir, path)
    }

    /// Inserts a record as an earlier version wrote it: the application as TEXT, the review
    /// as `review` (TEXT, or an LZ4 BLOB).
    fn insert_old(conn: &Connection, seq: i64, r: &NewRecord, review: &dyn ToSql, prev_hash: &str, hash: &str) {
        conn.execute(
            &format!("INSERT INTO reviews ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
            params![
                seq,
                r.application_id,
                r.content_hash,
                r.application,
                review,
                r.verdict,
                r.caller,
                r.recorded_at,
                prev_hash,
                hash
            ],
        )
        .unwrap();
    }

    #[test]
    fn appends_chain_and_detect_tampering() {
        let (dir, path) = fresh_dir("unit");
        {
            let l = SqliteLedger::create(&path, false).unwrap();
            for i in 0..5 {
                assert!(matches!(l.append(new(&format!("A{i}"), "x")).wait().unwrap(), Appended::New(_)));
            }
            assert!(matches!(l.append(new("A1", "x")).wait().unwrap(), Appended::Existing(_)));
            assert!(matches!(l.append(new("A1", "y")).wait().unwrap(), Appended::Conflict(_)));
            assert_eq!(l.verify().unwrap(), intact(5));
        }
        // Reopening continues the chain.
        let l = SqliteLedger::open(&path, false).unwrap();
        assert!(matches!(l.append(new("A5", "x")).wait().unwrap(), Appended::New(r) if r.seq == 6));
        assert!(l.verify().unwrap().first_broken.is_none());
        // Updates are refused by the triggers ...
        let conn = Connection::open(&path).unwrap();
        assert!(conn.execute("UPDATE reviews SET verdict = 'escalate' WHERE seq = 3", []).is_err());
        // ... and a forced edit is found: of the review (covered by its digest) ...
        conn.execute_batch("DROP TRIGGER reviews_no_update; UPDATE reviews SET review = '{\"x\":1}' WHERE seq = 4;")
            .unwrap();
        let broken = l.verify().unwrap().first_broken.unwrap();
        assert_eq!((broken.seq, broken.application_id.as_str()), (4, "A3"));
        // ... or of another field.
        conn.execute("UPDATE reviews SET verdict = 'escalate' WHERE seq = 3", []).unwrap();
        let report = l.verify().unwrap();
        let broken = report.first_broken.unwrap();
        assert_eq!((broken.seq, broken.application_id.as_str()), (3, "A2"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_stored_word_that_is_no_verdict_breaks_the_chain_there() {
        let (dir, path) = fresh_dir("verdict");
        let l = SqliteLedger::create(&path, false).unwrap();
        for i in 0..3 {
            assert!(matches!(l.append(new(&format!("V{i}"), "x")).wait().unwrap(), Appended::New(_)));
        }
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("DROP TRIGGER reviews_no_update; UPDATE reviews SET verdict = 'approved' WHERE seq = 2;")
            .unwrap();
        let broken = l.verify().unwrap().first_broken.unwrap();
        assert_eq!((broken.seq, broken.application_id.as_str()), (2, "V1"));
        assert!(broken.problem.contains("`approved` is not a verdict"), "{}", broken.problem);
        assert!(l.get("V1").is_err(), "a record with no verdict is not handed out");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_writer_checkpoints_so_the_wal_stays_small() {
        let l = SqliteLedger::temporary().unwrap();
        let wal = with_suffix(l.temporary.as_deref().unwrap(), "-wal");
        // 300 reviews of 20 KB that LZ4 cannot shrink (seeded noise): about 6 MB through the WAL.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut noise = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'a' + (state % 26) as u8)
        };
        for i in 0..300 {
            let review = format!("{{\"text\":\"{}\"}}", (0..20_000).map(|_| noise()).collect::<String>());
            let r = NewRecord { review, ..new(&format!("W{i}"), "x") };
            assert!(matches!(l.append(r).wait().unwrap(), Appended::New(_)));
        }
        let size = std::fs::metadata(&wal).unwrap().len();
        // The pages between two checkpoints, and the commit that crossed the mark, at most.
        let most = 2 * 4096 * WRITER_CHECKPOINT_PAGES as u64;
        assert!(size < most, "the WAL grew to {size} bytes, more than {most}");
        assert_eq!(l.verify().unwrap(), intact(300));
    }

    /// The stored type and size of a record's application and review.
    fn stored(conn: &Connection, seq: i64) -> [(String, i64); 2] {
        conn.query_row(
            "SELECT typeof(application), length(application), typeof(review), length(review) FROM reviews WHERE seq = ?1",
            [seq],
            |r| Ok([(r.get(0)?, r.get(1)?), (r.get(2)?, r.get(3)?)]),
        )
        .unwrap()
    }

    /// A review like the sample's, with other ids and figures.
    fn sample_like_review() -> String {
        let sample = std::str::from_utf8(DICTIONARY).unwrap();
        let review = sample.lines().last().unwrap();
        review.replace("JN-2026-000124", "JN-2026-731002").replace('3', "7").replace("pass", "fail")
    }

    #[test]
    fn a_new_file_compresses_against_its_own_dictionary() {
        let (dir, path) = fresh_dir("dict");
        let review = sample_like_review();
        let application = canonical_json(&serde_json::json!({ "id": "D1", "cargo": "transformer 220 kV" }));
        let r = NewRecord {
            review: review.clone(),
            content_hash: content_hash(&application),
            application,
            ..new("D1", "")
        };
        {
            let l = SqliteLedger::create(&path, false).unwrap();
            assert!(matches!(l.append(r.clone()).wait().unwrap(), Appended::New(_)));
        }
        let conn = Connection::open(&path).unwrap();
        assert_eq!(conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap(), DICTIONARY_VERSION);
        let [(app_type, _), (review_type, review_len)] = stored(&conn, 1);
        assert_eq!((app_type.as_str(), review_type.as_str()), ("blob", "blob"));
        let alone = Codec::Plain.compress(&review).unwrap().len() as i64;
        assert!(review_len * 5 < review.len() as i64, "{review_len} bytes stored for {} of JSON", review.len());
        assert!(review_len * 2 < alone, "{review_len} bytes against the dictionary, {alone} without");
        // It reads back as written, and the file keeps its dictionary when this build's changes.
        let l = SqliteLedger::open(&path, false).unwrap();
        assert_eq!(l.get("D1").unwrap().unwrap().entry, r);
        assert_eq!(l.verify().unwrap(), intact(1));
        drop(l);
        // The dictionary cannot be changed through SQL; forced, the change breaks the first
        // record it touches.
        assert!(conn.execute("UPDATE dictionary SET bytes = x'00'", []).is_err());
        conn.execute_batch("DROP TRIGGER dictionary_no_update; UPDATE dictionary SET bytes = zeroblob(length(bytes));")
            .unwrap();
        let damaged = SqliteLedger::open_read_only(&path).unwrap();
        let broken = damaged.verify().unwrap().first_broken.unwrap();
        assert_eq!((broken.seq, broken.application_id.as_str()), (1, "D1"));
        // A version-3 file without its dictionary is refused at open.
        conn.execute_batch("DROP TRIGGER dictionary_no_delete; DELETE FROM dictionary;").unwrap();
        let missing = SqliteLedger::open(&path, false).err().unwrap();
        assert!(matches!(missing, LedgerError::Damaged(_)), "{missing}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_from_before_the_dictionary_keeps_its_format() {
        let (dir, path) = fresh_dir("lz4");
        let review = sample_like_review();
        // A version-2 file: the application as TEXT, the review as LZ4 on its own or, in
        // records from before compression, as TEXT.
        let conn = Connection::open(&path).unwrap();
        create_tables(&conn).unwrap();
        conn.pragma_update(None, "user_version", DIGESTS_VERSION).unwrap();
        let mut prev = GENESIS.to_string();
        let lz4 = Codec::Plain.compress(&review).unwrap();
        for (seq, stored) in [(1, &lz4 as &dyn ToSql), (2, &review)] {
            let r = NewRecord { review: review.clone(), ..new(&format!("Z{seq}"), "x") };
            let hash = HashScheme::Digests.record_hash(seq, &prev, &r, &HashScheme::Digests.review_digest(&r.review));
            insert_old(&conn, seq, &r, stored, &prev, &hash);
            prev = hash;
        }
        let l = SqliteLedger::open(&path, false).unwrap();
        for id in ["Z1", "Z2"] {
            assert_eq!(l.get(id).unwrap().unwrap().entry.review, review);
        }
        assert!(matches!(l.append(new("Z3", "z")).wait().unwrap(), Appended::New(r) if r.seq == 3));
        assert_eq!(l.verify().unwrap(), intact(3));
        // New records are stored as the file's older ones.
        assert_eq!(stored(&conn, 3).map(|(kind, _)| kind), ["text", "blob"]);
        assert_eq!(conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap(), DIGESTS_VERSION);
        // A damaged size is an error, not a 4 GiB allocation (LZ4's prefix) or one of 2^56
        // bytes (a zstd frame header's content size).
        let codec = Codec::Dictionary(Arc::new(Dictionary::new(DICTIONARY)));
        for (codec, stored, claim) in
            [(&Codec::Plain, "x'ffffffff00'", 4294967295_u64), (&codec, "x'28b52ffde0ffffffffffffff00'", (1 << 56) - 1)]
        {
            let damaged = conn.query_row(&format!("SELECT {stored}"), [], |r| codec.text(r, 0)).err().unwrap();
            assert!(damaged.to_string().contains(&format!("claims {claim} bytes")), "{damaged}");
        }
        // An empty version-2 file (made by the build before) takes the dictionary.
        let (empty_dir, empty) = fresh_dir("lz4-empty");
        let conn = Connection::open(&empty).unwrap();
        create_tables(&conn).unwrap();
        conn.pragma_update(None, "user_version", DIGESTS_VERSION).unwrap();
        assert!(matches!(SqliteLedger::open(&empty, false).unwrap().format.codec, Codec::Dictionary(_)));
        for d in [dir, empty_dir] {
            let _ = std::fs::remove_dir_all(&d);
        }
    }

    #[test]
    fn a_ledger_hashed_field_by_field_keeps_its_scheme() {
        let (dir, path) = fresh_dir("fields");
        // A file as written before the digests scheme: user_version 0, hashes over every field.
        let first = new("F1", "x");
        let hash = HashScheme::Fields.record_hash(1, GENESIS, &first, "");
        let conn = Connection::open(&path).unwrap();
        create_tables(&conn).unwrap();
        insert_old(&conn, 1, &first, &first.review, GENESIS, &hash);
        let l = SqliteLedger::open(&path, false).unwrap();
        assert_eq!(l.format.scheme, HashScheme::Fields);
        let Appended::New(second) = l.append(new("F2", "y")).wait().unwrap() else { panic!("not appended") };
        assert_eq!(second.hash, HashScheme::Fields.record_hash(2, &hash, &second.entry, ""));
        assert_eq!(l.verify().unwrap(), intact(2));
        // The schemes differ, so a record is checked by its file's scheme only.
        let digest = HashScheme::Digests.review_digest(&second.entry.review);
        assert_ne!(second.hash, HashScheme::Digests.record_hash(2, &hash, &second.entry, &digest));
        drop(l);
        let fresh = SqliteLedger::temporary().unwrap();
        assert_eq!(fresh.format.scheme, HashScheme::Digests);
        // A version this build does not know is refused, not guessed.
        conn.pragma_update(None, "user_version", 9).unwrap();
        assert!(matches!(SqliteLedger::open(&path, false), Err(LedgerError::Version(9))));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_writer_opens_only_a_ledger_and_alone() {
        let (dir, path) = fresh_dir("refusals");
        let lock = with_suffix(&path, ".lock");
        // A missing file is not made, nor its lock.
        assert!(matches!(SqliteLedger::open(&path, false), Err(LedgerError::Missing(p)) if p == path));
        assert!(!path.exists() && !lock.exists());
        // An empty file is not a new database to fill.
        std::fs::write(&path, b"").unwrap();
        let empty = SqliteLedger::open(&path, false).err().unwrap();
        assert_eq!(empty.to_string(), format!("{} is not an oscar ledger: it is empty (0 bytes)", path.display()));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        assert!(matches!(SqliteLedger::create(&path, false), Err(LedgerError::Exists(_))));
        std::fs::remove_file(&path).unwrap();
        // Made on request; then one writer at a time, in this process as in another.
        let first = SqliteLedger::create(&path, false).unwrap();
        assert!(matches!(SqliteLedger::open(&path, false), Err(LedgerError::Locked(_))));
        let reader = SqliteLedger::open_read_only(&path).unwrap();
        assert_eq!(reader.verify().unwrap(), intact(0));
        assert!(matches!(reader.append(new("R1", "x")).wait(), Err(LedgerError::Writer(_))));
        drop(first);
        assert!(matches!(
            SqliteLedger::open(&path, false).unwrap().append(new("R1", "x")).wait(),
            Ok(Appended::New(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_write_by_another_process_stops_the_writer() {
        let l = SqliteLedger::temporary().unwrap();
        assert!(matches!(l.append(new("E1", "x")).wait().unwrap(), Appended::New(_)));
        // A restriction added behind the server's back (`sqlite3` by hand, another program):
        // the server's reviews would not take it into account, and its chain tip may be stale.
        let other = Connection::open(l.temporary.as_deref().unwrap()).unwrap();
        other
            .execute("INSERT INTO restrictions (restriction, caller, recorded_at) VALUES ('{}', 'sqlite3', 'now')", [])
            .unwrap();
        let refused = l.append(new("E2", "x")).wait().err().unwrap();
        assert!(
            matches!(&refused, LedgerError::Unavailable(why) if why.contains("another process wrote")),
            "{refused}"
        );
        assert!(matches!(l.ping(), Err(LedgerError::Unavailable(_))));
        assert!(matches!(l.add_restriction("{}", "test", "now"), Err(LedgerError::Unavailable(_))));
        let count = |table: &str| other.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap();
        assert_eq!((count("reviews"), count("restrictions")), (1_i64, 1_i64));
    }

    #[test]
    fn a_scan_never_takes_the_last_reader() {
        let l = SqliteLedger::temporary().unwrap();
        assert!(matches!(l.append(new("S1", "x")).wait().unwrap(), Appended::New(_)));
        let readers = l.readers.idle.lock().unwrap().len();
        assert!(readers >= 2);
        // Slow scans on every connection a scan may take, held until `release`.
        let (held, release) = (&std::sync::Barrier::new(readers), &std::sync::Barrier::new(readers));
        let l = &l;
        std::thread::scope(|s| {
            for _ in 1..readers {
                s.spawn(move || {
                    l.readers.with(Read::Scan, |_| {
                        held.wait();
                        release.wait();
                        Ok(())
                    })
                });
            }
            held.wait();
            let (lookup, looked_up) = mpsc::channel();
            s.spawn(move || lookup.send(l.get("S1").map(|r| r.is_some())));
            let (scan, scanned) = mpsc::channel();
            s.spawn(move || scan.send(l.list(&Query { limit: 10, ..Query::default() }).map(|r| r.len())));
            let found = looked_up.recv_timeout(Duration::from_secs(10));
            let waited = scanned.recv_timeout(Duration::from_millis(300));
            release.wait();
            // A lookup is answered while scans hold the other connections; another scan waits.
            assert!(matches!(found, Ok(Ok(true))), "the lookup waited behind scans: {found:?}");
            assert!(waited.is_err(), "a scan took the last connection");
            assert!(matches!(scanned.recv_timeout(Duration::from_secs(10)), Ok(Ok(1))));
        });
    }

    #[test]
    fn concurrent_appends_form_one_chain_and_one_record_per_id() {
        let l = Arc::new(SqliteLedger::temporary().unwrap());
        // 8 threads x 50 appends; every id is submitted twice (by two threads) at once, so
        // duplicates meet inside one batch as well as across batches.
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let l = Arc::clone(&l);
                std::thread::spawn(move || {
                    (0..50)
                        .map(|i| {
                            matches!(l.append(new(&format!("C{}-{i}", t / 2), "x")).wait().unwrap(), Appended::New(_))
                        })
                        .filter(|&created| created)
                        .count()
                })
            })
            .collect();
        let created: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(created, 200);
        assert_eq!(l.verify().unwrap(), intact(200));
        assert_eq!(l.list(&Query { limit: 1000, ..Query::default() }).unwrap().len(), 200);
    }
}
