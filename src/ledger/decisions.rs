//! Reviewers' decisions, stored beside the machine reviews they decide.
//!
//! Decisions form a chain of their own, append-only like the reviews (`decisions` table,
//! guarded by the same triggers), and each decision's hash also covers the hash of the review
//! record it decides: a decision is bound to the review chain at that record, so changing the
//! review, the decision, or the order of decisions breaks [`Ledger::verify`](super::Ledger::verify).
//! The review chain itself is untouched: `ledger replay` reproduces a review as before.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Broken, GENESIS, LedgerError, broken_link};
use crate::decision::{CaseStatus, DecisionKind};
use crate::digest;
use crate::review::Verdict;

/// The table of decisions ([`super::sqlite`] makes it with the others).
pub(super) const TABLE: &str = "
CREATE TABLE IF NOT EXISTS decisions (
    seq            INTEGER PRIMARY KEY,
    application_id TEXT NOT NULL,
    kind           TEXT NOT NULL,
    decision       TEXT NOT NULL,
    caller         TEXT NOT NULL,
    recorded_at    TEXT NOT NULL,
    review_hash    TEXT NOT NULL,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_by_application ON decisions (application_id, seq);
";

const COLUMNS: &str = "seq, application_id, kind, decision, caller, recorded_at, review_hash, prev_hash, hash";

/// A decision to record: the fields its hash covers, besides its position and anchors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDecision {
    /// The application decided.
    pub application_id: String,
    /// What was decided.
    pub kind: DecisionKind,
    /// The decision ([`crate::decision::Decision`]), canonical JSON.
    pub decision: String,
    /// Who decided (API key name).
    pub caller: String,
    /// When it was recorded, RFC 3339 UTC.
    pub recorded_at: String,
}

/// A recorded decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredDecision {
    /// Position among decisions, from 1.
    pub seq: i64,
    /// What was recorded.
    #[serde(flatten)]
    pub entry: NewDecision,
    /// Hash of the review record decided.
    pub review_hash: String,
    /// Hash of the previous decision ([`GENESIS`] for the first).
    pub prev_hash: String,
    /// Hash of this decision ([`decision_hash`]).
    pub hash: String,
}

/// What [`super::Ledger::decide`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Decided {
    /// Recorded.
    New(StoredDecision),
    /// No review of this application is recorded; nothing was stored.
    NoReview,
    /// The case takes no decision as it stands (see [`crate::decision::refused_on`]);
    /// nothing was stored.
    Refused(CaseStatus),
}

/// `sha256:` of a decision at `seq` after `prev_hash`, deciding the review whose record hash
/// is `review_hash`; fields length-prefixed, and the scheme named so that no decision hashes
/// like a review record.
pub fn decision_hash(seq: i64, prev_hash: &str, review_hash: &str, d: &NewDecision) -> String {
    let mut h = Sha256::new();
    h.update(b"oscar-ledger-decision");
    h.update(seq.to_le_bytes());
    for field in [prev_hash, review_hash, &d.application_id, d.kind.as_str(), &d.decision, &d.caller, &d.recorded_at] {
        h.update((field.len() as u64).to_le_bytes());
        h.update(field.as_bytes());
    }
    digest::tagged(h.finalize())
}

/// Walks the decisions from the genesis, each against the review record it decides.
#[derive(Debug)]
pub struct DecisionChecker {
    prev: String,
    count: i64,
}

impl Default for DecisionChecker {
    fn default() -> Self {
        DecisionChecker { prev: GENESIS.to_string(), count: 0 }
    }
}

impl DecisionChecker {
    /// Checks the next decision; `review_hash` is the hash of the application's review record
    /// now (`None`: no record). Returns the problem if it breaks the chain.
    pub fn push(&mut self, d: &StoredDecision, review_hash: Option<&str>) -> Option<Broken> {
        self.count += 1;
        let broken =
            |problem: String| Some(Broken { seq: d.seq, application_id: d.entry.application_id.clone(), problem });
        let expected = decision_hash(d.seq, &d.prev_hash, &d.review_hash, &d.entry);
        if let Some(problem) =
            broken_link("decision", (d.seq, self.count), (&d.prev_hash, &self.prev), (&d.hash, &expected))
        {
            return broken(problem);
        }
        match review_hash {
            None => return broken("it decides a review the ledger does not hold".into()),
            Some(now) if now != d.review_hash => {
                return broken(format!("it decided the review record `{}`, the record is now `{now}`", d.review_hash));
            }
            Some(_) => {}
        }
        self.prev = d.hash.clone();
        None
    }

    /// Counts the next decision as broken because it could not be read.
    pub fn unreadable(&mut self, seq: i64, application_id: String, why: &dyn std::fmt::Display) -> Broken {
        self.count += 1;
        Broken { seq, application_id, problem: format!("cannot be read: {why}") }
    }

    /// Decisions checked so far.
    pub fn count(&self) -> i64 {
        self.count
    }
}

fn decision(row: &Row<'_>) -> rusqlite::Result<StoredDecision> {
    let unknown =
        |message: String| rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, message.into());
    from_columns(row.get(0)?, |i| row.get(i), unknown)
}

/// A decision from its columns in the order of `COLUMNS`: `seq`, then the text columns
/// (1 to 8) as `text` reads them; a kind that is none `unknown` makes an error of.
pub(super) fn from_columns<E>(
    seq: i64,
    text: impl Fn(usize) -> Result<String, E>,
    unknown: impl FnOnce(String) -> E,
) -> Result<StoredDecision, E> {
    let word = text(2)?;
    let Some(kind) = DecisionKind::parse(&word) else { return Err(unknown(format!("`{word}` is no decision"))) };
    Ok(StoredDecision {
        seq,
        entry: NewDecision {
            application_id: text(1)?,
            kind,
            decision: text(3)?,
            caller: text(4)?,
            recorded_at: text(5)?,
        },
        review_hash: text(6)?,
        prev_hash: text(7)?,
        hash: text(8)?,
    })
}

/// Whether the file has the table: one not opened for writing since decisions came has none.
fn has_table(conn: &Connection) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'decisions'")?
        .query_row([], |r| r.get::<_, i64>(0))
        .map(|n| n == 1)
}

/// The decisions on one application, in order.
pub(super) fn of(conn: &Connection, application_id: &str) -> Result<Vec<StoredDecision>, LedgerError> {
    if !has_table(conn)? {
        return Ok(Vec::new());
    }
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM decisions WHERE application_id = ?1 ORDER BY seq"))?;
    Ok(stmt.query_map([application_id], decision)?.collect::<Result<Vec<_>, _>>()?)
}

/// Decisions above `after_seq`, at most `limit`, in order.
pub(super) fn after(conn: &Connection, after_seq: i64, limit: usize) -> Result<Vec<StoredDecision>, LedgerError> {
    if !has_table(conn)? {
        return Ok(Vec::new());
    }
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM decisions WHERE seq > ?1 ORDER BY seq LIMIT ?2"))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    Ok(stmt.query_map(params![after_seq, limit], decision)?.collect::<Result<Vec<_>, _>>()?)
}

/// Records a decision inside the writer's transaction, after checking, in the same
/// transaction, that the case takes it.
pub(super) fn insert(tx: &Transaction<'_>, d: NewDecision) -> Result<Decided, LedgerError> {
    let review: Option<(String, Verdict)> = tx
        .prepare_cached("SELECT hash, verdict FROM reviews WHERE application_id = ?1")?
        .query_row([&d.application_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((review_hash, verdict)) = review else { return Ok(Decided::NoReview) };
    let status = CaseStatus::of(verdict, of(tx, &d.application_id)?.into_iter().map(|s| s.entry.kind));
    if crate::decision::refused_on(status).is_some() {
        return Ok(Decided::Refused(status));
    }
    let (last_seq, prev_hash) = tx
        .prepare_cached("SELECT seq, hash FROM decisions ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .optional()?
        .unwrap_or((0, GENESIS.to_string()));
    let seq = last_seq + 1;
    let hash = decision_hash(seq, &prev_hash, &review_hash, &d);
    tx.prepare_cached(&format!("INSERT INTO decisions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"))?
        .execute(params![
            seq,
            d.application_id,
            d.kind.as_str(),
            d.decision,
            d.caller,
            d.recorded_at,
            review_hash,
            prev_hash,
            hash
        ])?;
    Ok(Decided::New(StoredDecision { seq, entry: d, review_hash, prev_hash, hash }))
}

/// Walks every decision against the review records; the first broken one, if any.
pub(super) fn walk(conn: &Connection, checker: &mut DecisionChecker) -> Result<Option<Broken>, LedgerError> {
    if !has_table(conn)? {
        return Ok(None);
    }
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM decisions ORDER BY seq"))?;
    let mut review = conn.prepare("SELECT hash FROM reviews WHERE application_id = ?1")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let broken = match decision(row) {
            Ok(d) => {
                let now: Option<String> = review.query_row([&d.entry.application_id], |r| r.get(0)).optional()?;
                checker.push(&d, now.as_deref())
            }
            Err(e) => Some(checker.unreadable(row.get(0)?, row.get(1)?, &e)),
        };
        if broken.is_some() {
            return Ok(broken);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{Appended, Ledger, NewRecord, SqliteLedger, canonical_json, content_hash};

    fn review(id: &str, verdict: Verdict) -> NewRecord {
        let application = canonical_json(&serde_json::json!({ "id": id }));
        NewRecord {
            application_id: id.into(),
            content_hash: content_hash(&application),
            application,
            review: "{}".into(),
            verdict,
            caller: "test".into(),
            recorded_at: "2026-01-01T00:00:00.000000Z".into(),
        }
    }

    fn decision(id: &str, kind: DecisionKind) -> NewDecision {
        NewDecision {
            application_id: id.into(),
            kind,
            decision: format!("{{\"kind\":\"{}\"}}", kind.as_str()),
            caller: "reviewer".into(),
            recorded_at: "2026-01-02T00:00:00.000000Z".into(),
        }
    }

    #[test]
    fn decisions_chain_to_their_review_and_tampering_is_found() {
        let dir = std::env::temp_dir().join(format!("oscar-decisions-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("l.sqlite");
        let l = SqliteLedger::create(&path, false).unwrap();
        for (id, verdict) in [("D1", Verdict::Escalate), ("D2", Verdict::Escalate), ("D3", Verdict::Approve)] {
            assert!(matches!(l.append(review(id, verdict)).wait().unwrap(), Appended::New(_)));
        }
        let d1 = l.get("D1").unwrap().unwrap();
        let Decided::New(first) = l.decide(decision("D1", DecisionKind::RequestInformation)).unwrap() else {
            panic!("not recorded")
        };
        assert_eq!((first.seq, first.review_hash.as_str(), first.prev_hash.as_str()), (1, d1.hash.as_str(), GENESIS));
        assert!(matches!(l.decide(decision("D1", DecisionKind::Refuse)).unwrap(), Decided::New(d) if d.seq == 2));
        assert!(matches!(l.decide(decision("D2", DecisionKind::Approve)).unwrap(), Decided::New(d) if d.seq == 3));
        // A decided case, a case oscar approved and an unknown one take no decision.
        assert_eq!(l.decide(decision("D1", DecisionKind::Approve)).unwrap(), Decided::Refused(CaseStatus::Decided));
        assert_eq!(l.decide(decision("D3", DecisionKind::Refuse)).unwrap(), Decided::Refused(CaseStatus::AutoApproved));
        assert_eq!(l.decide(decision("D9", DecisionKind::Refuse)).unwrap(), Decided::NoReview);
        let kinds: Vec<DecisionKind> = l.decisions("D1").unwrap().into_iter().map(|d| d.entry.kind).collect();
        assert_eq!(kinds, [DecisionKind::RequestInformation, DecisionKind::Refuse]);
        assert_eq!(l.decisions_after(1, 10).unwrap().len(), 2);
        let report = l.verify().unwrap();
        assert!(report.intact() && report.decisions == 3 && report.records == 3, "{report:?}");
        // The table is append-only; a forced edit of a decision is found there ...
        let conn = Connection::open(&path).unwrap();
        assert!(conn.execute("UPDATE decisions SET kind = 'approve' WHERE seq = 2", []).is_err());
        conn.execute_batch("DROP TRIGGER decisions_no_update; UPDATE decisions SET decision = '{}' WHERE seq = 2;")
            .unwrap();
        let report = l.verify().unwrap();
        let broken = report.first_broken_decision.as_ref().unwrap();
        assert_eq!((broken.seq, broken.application_id.as_str()), (2, "D1"), "{report:?}");
        assert!(!report.intact() && report.first_broken.is_none());
        // ... and so is a review record swapped under the decisions that decided it.
        let (dir2, path2) = (dir.join("b"), dir.join("b").join("l.sqlite"));
        std::fs::create_dir_all(&dir2).unwrap();
        let l2 = SqliteLedger::create(&path2, false).unwrap();
        assert!(matches!(l2.append(review("E1", Verdict::Escalate)).wait().unwrap(), Appended::New(_)));
        assert!(matches!(l2.decide(decision("E1", DecisionKind::Approve)).unwrap(), Decided::New(_)));
        let conn2 = Connection::open(&path2).unwrap();
        conn2
            .execute_batch("DROP TRIGGER reviews_no_update; UPDATE reviews SET hash = 'sha256:00' WHERE seq = 1;")
            .unwrap();
        let report = l2.verify().unwrap();
        assert!(report.first_broken.is_some(), "{report:?}");
        let broken = report.first_broken_decision.unwrap();
        assert!(broken.problem.contains("the record is now `sha256:00`"), "{}", broken.problem);
        drop((l, l2));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
