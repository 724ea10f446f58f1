//! What the ledger keeps beside its chain of reviews: the carrier library and the refusals.
//!
//! The library holds, per carrier (USCC), the parts of every recorded application that a
//! later application may reuse by reference ([`Part`]), each with the application it came
//! from. It files each review under its carrier in the same transaction as the review, and
//! the parts are read from the application the review's record hashes, so the library can
//! always be rebuilt from the chain: a writer that opens a file whose library lags behind
//! its reviews (a file from before the library) fills it in first ([`catch_up`]).
//!
//! Refusals are the applications answered `422` (form errors): nothing of them is reviewed
//! or chained, but the share of first submissions refused is an indicator, so each refusal
//! is stored (append-only) before the answer, like a review.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, Row, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{LedgerError, canonical_json};

/// A part of an application that the library archives and a later application may reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// `agent`: the person filing and the power of attorney.
    Agent,
    /// `drivers`: the list of drivers.
    Drivers,
    /// `escort`: escort cars and personnel.
    Escort,
    /// `vehicle`: the combination, units and axles.
    Vehicle,
    /// `route`: the declared route.
    Route,
}

impl Part {
    /// Every part, in the order of the application form.
    pub const ALL: [Part; 5] = [Part::Agent, Part::Drivers, Part::Escort, Part::Vehicle, Part::Route];

    /// The part's field name in the application.
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Agent => "agent",
            Part::Drivers => "drivers",
            Part::Escort => "escort",
            Part::Vehicle => "vehicle",
            Part::Route => "route",
        }
    }

    /// The part of a field name.
    pub fn parse(word: &str) -> Option<Part> {
        Part::ALL.into_iter().find(|p| p.as_str() == word)
    }
}

impl ToSql for Part {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Part {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let word = value.as_str()?;
        Part::parse(word).ok_or_else(|| FromSqlError::Other(format!("`{word}` is not a library part").into()))
    }
}

/// One archived part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchivedPart {
    /// Sequence number of the review it was recorded with.
    pub seq: i64,
    /// The application it came from.
    pub application_id: String,
    /// The carrier's credit code.
    pub uscc: String,
    /// Which part.
    pub part: Part,
    /// The part as recorded, canonical JSON.
    pub content: String,
    /// When the review was recorded, RFC 3339 UTC.
    pub recorded_at: String,
}

/// An application refused for form errors, to store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    /// The application's id, when one could be read.
    pub application_id: Option<String>,
    /// The carrier's credit code, when one could be read.
    pub uscc: Option<String>,
    /// Where the problems were (JSON Pointers), without the messages, which may quote input.
    pub pointers: Vec<String>,
    /// Who submitted it (API key name).
    pub caller: String,
    /// When it was refused, RFC 3339 UTC.
    pub recorded_at: String,
}

/// A stored refusal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRefusal {
    /// Position, from 1.
    pub seq: i64,
    /// What was stored.
    #[serde(flatten)]
    pub refusal: Refusal,
}

/// The carrier of an application's canonical JSON; `None` for text that is no application
/// with a carrier (the ledger's own tests store such records). Read without building the
/// whole tree: it runs for every append.
pub(super) fn carrier_of(application: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Carrier {
        uscc: String,
    }
    #[derive(Deserialize)]
    struct WithCarrier {
        carrier: Carrier,
    }
    serde_json::from_str::<WithCarrier>(application).ok().map(|a| a.carrier.uscc)
}

/// Each part `application` (canonical JSON) has, as canonical JSON.
fn parts_of(application: &str) -> Vec<(Part, String)> {
    let Ok(value) = serde_json::from_str::<Value>(application) else { return Vec::new() };
    Part::ALL
        .into_iter()
        .filter_map(|p| value.get(p.as_str()).filter(|v| !v.is_null()).map(|v| (p, canonical_json(v))))
        .collect()
}

/// The tables, each append-only (`append_only` makes the triggers). The library is an index
/// of the chain by carrier: the parts themselves are read from the recorded application, so
/// an append writes a few dozen bytes more, not a second copy of the application.
pub(super) const TABLES: &str = "
CREATE TABLE IF NOT EXISTS library (
    seq  INTEGER PRIMARY KEY,
    uscc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS library_by_carrier ON library (uscc, seq);
CREATE TABLE IF NOT EXISTS refusals (
    seq            INTEGER PRIMARY KEY,
    application_id TEXT,
    uscc           TEXT,
    pointers       TEXT NOT NULL,
    caller         TEXT NOT NULL,
    recorded_at    TEXT NOT NULL
);
";

/// The tables of this module, for `append_only`.
pub(super) const TABLE_NAMES: [&str; 2] = ["library", "refusals"];

/// Files the review at `seq` under its carrier, inside the writer's transaction.
pub(super) fn store(conn: &Connection, seq: i64, uscc: &str) -> Result<(), LedgerError> {
    conn.prepare_cached("INSERT OR IGNORE INTO library (seq, uscc) VALUES (?1, ?2)")?.execute(params![seq, uscc])?;
    Ok(())
}

/// Files the reviews recorded after the library's last one; `decode` reads a row of `seq,
/// application`. Returns how many reviews were read.
pub(super) fn catch_up(
    conn: &Connection,
    decode: impl Fn(&Row<'_>) -> rusqlite::Result<(i64, String)>,
) -> Result<usize, LedgerError> {
    let mut stmt = conn.prepare(
        "SELECT seq, application FROM reviews
         WHERE seq > (SELECT coalesce(max(seq), 0) FROM library) ORDER BY seq",
    )?;
    let mut read = 0;
    for row in stmt.query_map([], decode)? {
        let (seq, application) = row?;
        if let Some(uscc) = carrier_of(&application) {
            store(conn, seq, &uscc)?;
        }
        read += 1;
    }
    Ok(read)
}

/// Reads a row of `seq, application_id, uscc, application, recorded_at`; `decode` gives the
/// text of the application column.
type Decode<'d> = &'d dyn Fn(&Row<'_>, usize) -> rusqlite::Result<String>;

pub(super) const FILED: &str = "SELECT r.seq, r.application_id, l.uscc, r.application, r.recorded_at
     FROM library l JOIN reviews r ON r.seq = l.seq";

/// The archived parts of the rows `stmt` selects ([`FILED`]), `keep` of each application.
fn archived(
    stmt: &mut rusqlite::CachedStatement<'_>,
    params: impl rusqlite::Params,
    decode: Decode<'_>,
    keep: impl Fn(Part) -> bool,
) -> Result<Vec<ArchivedPart>, LedgerError> {
    let rows = stmt.query_map(params, |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?, decode(row, 3)?, row.get(4)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, application_id, uscc, application, recorded_at): (i64, String, String, String, String) = row?;
        out.extend(parts(seq, &application_id, &uscc, &application, &recorded_at).into_iter().filter(|p| keep(p.part)));
    }
    Ok(out)
}

/// The parts of the application recorded at `seq`, as archived for its carrier `uscc`.
pub(super) fn parts(
    seq: i64,
    application_id: &str,
    uscc: &str,
    application: &str,
    recorded_at: &str,
) -> Vec<ArchivedPart> {
    parts_of(application)
        .into_iter()
        .map(|(part, content)| ArchivedPart {
            seq,
            application_id: application_id.to_string(),
            uscc: uscc.to_string(),
            part,
            content,
            recorded_at: recorded_at.to_string(),
        })
        .collect()
}

/// Every part archived for `uscc`, in sequence order.
pub(super) fn of_carrier(conn: &Connection, uscc: &str, decode: Decode<'_>) -> Result<Vec<ArchivedPart>, LedgerError> {
    let mut stmt = conn.prepare_cached(&format!("{FILED} WHERE l.uscc = ?1 ORDER BY l.seq"))?;
    archived(&mut stmt, [uscc], decode, |_| true)
}

/// The part `part` archived from `application_id`.
pub(super) fn one(
    conn: &Connection,
    application_id: &str,
    part: Part,
    decode: Decode<'_>,
) -> Result<Option<ArchivedPart>, LedgerError> {
    let mut stmt = conn.prepare_cached(&format!("{FILED} WHERE r.application_id = ?1"))?;
    Ok(archived(&mut stmt, [application_id], decode, |p| p == part)?.pop())
}

/// Stores a refusal inside the writer's transaction; its sequence number.
pub(super) fn add_refusal(conn: &Connection, r: &Refusal) -> Result<i64, LedgerError> {
    let pointers = serde_json::to_string(&r.pointers).map_err(|e| LedgerError::Codec(e.to_string()))?;
    conn.prepare_cached(
        "INSERT INTO refusals (application_id, uscc, pointers, caller, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![r.application_id, r.uscc, pointers, r.caller, r.recorded_at])?;
    Ok(conn.last_insert_rowid())
}

/// Refusals above `after_seq`, at most `limit`, in order.
pub(super) fn refusals_after(
    conn: &Connection,
    after_seq: i64,
    limit: usize,
) -> Result<Vec<StoredRefusal>, LedgerError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, application_id, uscc, pointers, caller, recorded_at FROM refusals
         WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after_seq, i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
        let seq: i64 = row.get(0)?;
        let pointers: String = row.get(3)?;
        Ok((seq, row.get(1)?, row.get(2)?, pointers, row.get(4)?, row.get(5)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, application_id, uscc, pointers, caller, recorded_at) = row?;
        out.push(stored_refusal(seq, application_id, uscc, &pointers, caller, recorded_at)?);
    }
    Ok(out)
}

/// A stored refusal from its columns; `pointers` is the JSON list as stored.
pub(super) fn stored_refusal(
    seq: i64,
    application_id: Option<String>,
    uscc: Option<String>,
    pointers: &str,
    caller: String,
    recorded_at: String,
) -> Result<StoredRefusal, LedgerError> {
    let pointers = serde_json::from_str(pointers)
        .map_err(|e| LedgerError::Corrupt { seq, message: format!("refusal pointers: {e}") })?;
    Ok(StoredRefusal { seq, refusal: Refusal { application_id, uscc, pointers, caller, recorded_at } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_and_carrier_are_read_from_the_application() {
        let app = canonical_json(&serde_json::json!({
            "carrier": {"uscc": "91370800MA3C5Q8K44"}, "agent": {"name": "A"}, "drivers": [{"name": "D"}],
            "escort": null, "vehicle": {"units": []}, "route": {"origin": "o"}, "cargo": {}
        }));
        assert_eq!(carrier_of(&app).as_deref(), Some("91370800MA3C5Q8K44"));
        let parts: Vec<Part> = parts_of(&app).into_iter().map(|(p, _)| p).collect();
        assert_eq!(parts, [Part::Agent, Part::Drivers, Part::Vehicle, Part::Route]);
        assert_eq!(carrier_of(r#"{"id":"x"}"#), None);
        assert!(Part::ALL.into_iter().all(|p| Part::parse(p.as_str()) == Some(p)));
    }
}
