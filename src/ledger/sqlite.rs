//! The default ledger: one SQLite file (bundled SQLite, WAL journal), append-only tables
//! guarded by triggers, one connection behind a mutex so the chain is written in order.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{
    Appended, ChainChecker, GENESIS, Ledger, LedgerError, NewRecord, Query, Record, StoredRestriction, VerifyReport,
    record_hash,
};

const SCHEMA: &str = "
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
CREATE TRIGGER IF NOT EXISTS reviews_no_update BEFORE UPDATE ON reviews
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS reviews_no_delete BEFORE DELETE ON reviews
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TABLE IF NOT EXISTS restrictions (
    seq          INTEGER PRIMARY KEY,
    restriction  TEXT NOT NULL,
    caller       TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS restrictions_no_update BEFORE UPDATE ON restrictions
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS restrictions_no_delete BEFORE DELETE ON restrictions
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
";

const COLUMNS: &str =
    "seq, application_id, content_hash, application, review, verdict, caller, recorded_at, prev_hash, hash";

struct Inner {
    conn: Connection,
    /// Sequence number and hash of the last record.
    // INVARIANT: equals the last row of `reviews`; only `append` writes rows, under the mutex.
    last: (i64, String),
}

/// The SQLite ledger.
pub struct SqliteLedger {
    inner: Mutex<Inner>,
    /// Tells the background checkpointer to stop.
    stop: Arc<AtomicBool>,
}

impl Drop for SqliteLedger {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// How often the background thread copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

fn record(row: &Row<'_>) -> rusqlite::Result<Record> {
    Ok(Record {
        seq: row.get(0)?,
        application_id: row.get(1)?,
        content_hash: row.get(2)?,
        application: row.get(3)?,
        review: row.get(4)?,
        verdict: row.get(5)?,
        caller: row.get(6)?,
        recorded_at: row.get(7)?,
        prev_hash: row.get(8)?,
        hash: row.get(9)?,
    })
}

impl SqliteLedger {
    /// Opens (creating if needed) a ledger file. With `full_sync` every commit is flushed to
    /// the disk (survives power loss); without it a commit survives a crash of the process
    /// (WAL, `synchronous = NORMAL`) but the last commits may be lost on power loss.
    ///
    /// A background thread with its own connection runs a passive checkpoint every
    /// [`CHECKPOINT_EVERY`] until the ledger is dropped, so the writer's automatic
    /// checkpoints (which keep the WAL bounded) find little left to copy and sync.
    pub fn open(path: &Path, full_sync: bool) -> Result<SqliteLedger, LedgerError> {
        let conn = Connection::open(path)?;
        let ledger = Self::init(conn, full_sync)?;
        let checkpointer = Connection::open(path)?;
        checkpointer.busy_timeout(Duration::from_secs(5))?;
        let stop = Arc::clone(&ledger.stop);
        let spawned = std::thread::Builder::new().name("ledger-checkpoint".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(CHECKPOINT_EVERY);
                // PASSIVE never blocks the writer; it copies most of the WAL into the file
                // (and syncs it) off the writer's path, so that the writer's own automatic
                // checkpoint, which lets the WAL restart, has little left to do.
                if let Err(e) = checkpointer.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "ledger checkpoint failed");
                }
            }
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no background checkpoint thread: the writer checkpoints alone");
        }
        Ok(ledger)
    }

    /// An in-memory ledger, for tests.
    pub fn in_memory() -> Result<SqliteLedger, LedgerError> {
        Self::init(Connection::open_in_memory()?, false)
    }

    fn init(conn: Connection, full_sync: bool) -> Result<SqliteLedger, LedgerError> {
        conn.busy_timeout(Duration::from_secs(5))?;
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", if full_sync { "FULL" } else { "NORMAL" })?;
        conn.execute_batch(SCHEMA)?;
        let last = conn
            .query_row("SELECT seq, hash FROM reviews ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or((0, GENESIS.to_string()));
        Ok(SqliteLedger { inner: Mutex::new(Inner { conn, last }), stop: Arc::default() })
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, LedgerError> {
        self.inner.lock().map_err(|_| LedgerError::Poisoned)
    }
}

fn get(conn: &Connection, application_id: &str) -> Result<Option<Record>, LedgerError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM reviews WHERE application_id = ?1"))?;
    Ok(stmt.query_row([application_id], record).optional()?)
}

impl Ledger for SqliteLedger {
    fn append(&self, r: NewRecord) -> Result<Appended, LedgerError> {
        let mut inner = self.lock()?;
        if let Some(existing) = get(&inner.conn, &r.application_id)? {
            return Ok(if existing.content_hash == r.content_hash {
                Appended::Existing(existing)
            } else {
                Appended::Conflict(existing)
            });
        }
        let seq = inner.last.0 + 1;
        let prev_hash = inner.last.1.clone();
        let hash = record_hash(seq, &prev_hash, &r);
        {
            let mut stmt = inner.conn.prepare_cached(&format!(
                "INSERT INTO reviews ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ))?;
            stmt.execute(params![
                seq,
                r.application_id,
                r.content_hash,
                r.application,
                r.review,
                r.verdict,
                r.caller,
                r.recorded_at,
                prev_hash,
                hash
            ])?;
        }
        inner.last = (seq, hash.clone());
        Ok(Appended::New(Record {
            seq,
            application_id: r.application_id,
            content_hash: r.content_hash,
            application: r.application,
            review: r.review,
            verdict: r.verdict,
            caller: r.caller,
            recorded_at: r.recorded_at,
            prev_hash,
            hash,
        }))
    }

    fn get(&self, application_id: &str) -> Result<Option<Record>, LedgerError> {
        get(&self.lock()?.conn, application_id)
    }

    fn list(&self, q: &Query) -> Result<Vec<Record>, LedgerError> {
        let inner = self.lock()?;
        let mut stmt = inner.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM reviews
             WHERE (?1 IS NULL OR verdict = ?1) AND (?2 IS NULL OR recorded_at >= ?2) AND seq > ?3
             ORDER BY seq LIMIT ?4"
        ))?;
        let rows = stmt.query_map(
            params![q.verdict, q.since, q.after_seq.unwrap_or(0), i64::try_from(q.limit).unwrap_or(i64::MAX)],
            record,
        )?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn by_verdict(&self, verdict: &str, after_seq: i64, limit: usize) -> Result<Vec<Record>, LedgerError> {
        self.list(&Query { verdict: Some(verdict.to_string()), since: None, after_seq: Some(after_seq), limit })
    }

    fn verify(&self) -> Result<VerifyReport, LedgerError> {
        let inner = self.lock()?;
        let mut checker = ChainChecker::default();
        let mut stmt = inner.conn.prepare(&format!("SELECT {COLUMNS} FROM reviews ORDER BY seq"))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let r = record(row)?;
            if let Some(b) = checker.push(&r) {
                return Ok(VerifyReport { records: checker.count(), first_broken: Some(b) });
            }
        }
        Ok(VerifyReport { records: checker.count(), first_broken: None })
    }

    fn add_restriction(&self, restriction: &str, caller: &str, recorded_at: &str) -> Result<i64, LedgerError> {
        let inner = self.lock()?;
        inner.conn.execute(
            "INSERT INTO restrictions (restriction, caller, recorded_at) VALUES (?1, ?2, ?3)",
            params![restriction, caller, recorded_at],
        )?;
        Ok(inner.conn.last_insert_rowid())
    }

    fn restrictions(&self) -> Result<Vec<StoredRestriction>, LedgerError> {
        let inner = self.lock()?;
        let mut stmt =
            inner.conn.prepare("SELECT seq, restriction, caller, recorded_at FROM restrictions ORDER BY seq")?;
        let rows = stmt.query_map([], |r| {
            Ok(StoredRestriction { seq: r.get(0)?, restriction: r.get(1)?, caller: r.get(2)?, recorded_at: r.get(3)? })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn ping(&self) -> Result<(), LedgerError> {
        let inner = self.lock()?;
        let _one: i64 = inner.conn.query_row("SELECT 1", [], |r| r.get(0))?;
        Ok(())
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
            verdict: "approve".into(),
            caller: "test".into(),
            recorded_at: "2026-01-01T00:00:00.000000Z".into(),
        }
    }

    #[test]
    fn appends_chain_and_detect_tampering() {
        let dir = std::env::temp_dir().join(format!("oscar-ledger-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("l.sqlite");
        {
            let l = SqliteLedger::open(&path, false).unwrap();
            for i in 0..5 {
                assert!(matches!(l.append(new(&format!("A{i}"), "x")).unwrap(), Appended::New(_)));
            }
            assert!(matches!(l.append(new("A1", "x")).unwrap(), Appended::Existing(_)));
            assert!(matches!(l.append(new("A1", "y")).unwrap(), Appended::Conflict(_)));
            assert_eq!(l.verify().unwrap(), VerifyReport { records: 5, first_broken: None });
        }
        // Reopening continues the chain.
        let l = SqliteLedger::open(&path, false).unwrap();
        assert!(matches!(l.append(new("A5", "x")).unwrap(), Appended::New(r) if r.seq == 6));
        assert!(l.verify().unwrap().first_broken.is_none());
        // Updates are refused by the triggers ...
        let conn = Connection::open(&path).unwrap();
        assert!(conn.execute("UPDATE reviews SET verdict = 'escalate' WHERE seq = 3", []).is_err());
        // ... and a forced edit is found.
        conn.execute_batch("DROP TRIGGER reviews_no_update; UPDATE reviews SET verdict = 'escalate' WHERE seq = 3;")
            .unwrap();
        let report = l.verify().unwrap();
        let broken = report.first_broken.unwrap();
        assert_eq!((broken.seq, broken.application_id.as_str()), (3, "A2"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
