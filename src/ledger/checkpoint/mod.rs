//! Signed checkpoints of the ledger and proofs that a review is in it.
//!
//! A checkpoint signs (origin, tree size, root) in the transparency-log checkpoint format
//! (C2SP `tlog-checkpoint`, as Sigstore's Rekor v2 and Go's checksum database write it),
//! where the root is the RFC 6962 Merkle tree hash over the ledger's record hashes in
//! sequence order. Signing the chain's head hash alone would also pin the history, but
//! proving one record against it takes every record after it; against a Merkle root it
//! takes ⌈log₂ n⌉ hashes ([`merkle`]). Everything here reads the ledger through the
//! [`Ledger`] trait only, so it works on every backend.

mod merkle;
mod note;

use std::io::Write as _;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

pub use merkle::{Frontier, Hash, inclusion_path, leaf_hash, node_hash, root, root_from_inclusion};
pub use note::{KeyError, NoteError, SigningKey, VerifierKey};

use super::{HashScheme, Ledger, LedgerError, Query, Record, content_hash};
use crate::digest;

/// The `format` of the proofs [`prove`] writes.
pub const PROOF_FORMAT: &str = "oscar-inclusion-proof/1";
/// Records read from the ledger at a time.
const PAGE: usize = 1000;
/// Longest the checkpointer waits between two looks at the ledger.
const POLL: Duration = Duration::from_millis(200);

/// Errors of checkpoints and proofs.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A key file is not a key of the kind expected.
    #[error("{}: {}", .0.display(), .1)]
    Key(PathBuf, KeyError),
    /// A file or directory could not be read or written.
    #[error("{}: {}", .0.display(), .1)]
    Io(PathBuf, std::io::Error),
    /// A checkpoint is not valid, or does not match the ledger.
    #[error("checkpoint {}: {}", .0.display(), .1)]
    Checkpoint(PathBuf, String),
    /// A record cannot be a leaf.
    #[error("ledger record {0}: {1}")]
    Record(i64, String),
    /// No review of this application id.
    #[error("no review of application `{0}` in the ledger")]
    NotFound(String),
}

/// A signed statement of the ledger's first `size` records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log it belongs to: the signing key's name.
    pub origin: String,
    /// Records covered, from the first.
    pub size: u64,
    /// RFC 6962 root over their record hashes.
    pub root: Hash,
}

impl Checkpoint {
    /// The signed text: origin, size in decimal and root in base64, a line each.
    pub fn text(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, BASE64.encode(self.root))
    }

    /// The checkpoint of `note` if `key` signed it.
    pub fn open(note: &str, key: &VerifierKey) -> Result<Checkpoint, String> {
        let text = key.open(note).map_err(|e| e.to_string())?;
        let mut lines = text.lines();
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next()) else {
            return Err("the signed text lacks its origin, size or root line".into());
        };
        let size = size.parse().map_err(|_| format!("size `{size}` is not a number"))?;
        let root = BASE64
            .decode(root)
            .ok()
            .and_then(|r| Hash::try_from(r).ok())
            .ok_or_else(|| format!("root `{root}` is not a base64 SHA-256 hash"))?;
        Ok(Checkpoint { origin: origin.to_string(), size, root })
    }
}

/// The leaf of a record: its hash's 32 bytes (the `sha256:` hex of [`Record::hash`]).
pub fn record_leaf(r: &Record) -> Result<Hash, CheckpointError> {
    hash_of_hex(r.hash.strip_prefix("sha256:").unwrap_or(""))
        .map(|h| leaf_hash(&h))
        .ok_or_else(|| CheckpointError::Record(r.seq, format!("hash `{}` is not `sha256:` and 64 hex digits", r.hash)))
}

/// 32 bytes from 64 hex digits.
fn hash_of_hex(hex: &str) -> Option<Hash> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Calls `f` with each record after the first `after`, in order, up to the `upto`-th (the
/// end when `None`), a page at a time; a gap in the sequence is an error.
fn each_record(
    ledger: &dyn Ledger,
    after: u64,
    upto: Option<u64>,
    mut f: impl FnMut(&Record) -> Result<(), CheckpointError>,
) -> Result<u64, CheckpointError> {
    let mut at = after;
    loop {
        let want = upto.map_or(PAGE, |u| PAGE.min(usize::try_from(u.saturating_sub(at)).unwrap_or(PAGE)));
        if want == 0 {
            return Ok(at);
        }
        let query = Query { after_seq: Some(i64::try_from(at).unwrap_or(i64::MAX)), limit: want, ..Query::default() };
        let page = ledger.list(&query)?;
        if page.is_empty() {
            return Ok(at);
        }
        for r in &page {
            if u64::try_from(r.seq).ok() != Some(at + 1) {
                return Err(CheckpointError::Record(r.seq, format!("follows record {at}: the sequence has a gap")));
            }
            f(r)?;
            at += 1;
        }
    }
}

/// The directory of checkpoint files, one per checkpoint, never overwritten.
#[derive(Debug, Clone)]
pub struct CheckpointDir {
    path: PathBuf,
}

impl CheckpointDir {
    /// An existing, readable directory.
    pub fn open(path: &Path) -> Result<CheckpointDir, CheckpointError> {
        std::fs::read_dir(path).map_err(|e| CheckpointError::Io(path.to_path_buf(), e))?;
        Ok(CheckpointDir { path: path.to_path_buf() })
    }

    /// The directory, made if missing.
    pub fn create(path: &Path) -> Result<CheckpointDir, CheckpointError> {
        std::fs::create_dir_all(path).map_err(|e| CheckpointError::Io(path.to_path_buf(), e))?;
        CheckpointDir::open(path)
    }

    /// The file of the checkpoint of `size` records; zero-padded so names sort by size.
    fn file(&self, size: u64) -> PathBuf {
        self.path.join(format!("checkpoint-{size:020}.txt"))
    }

    /// Every checkpoint file and its text, smallest size first.
    pub fn notes(&self) -> Result<Vec<(PathBuf, String)>, CheckpointError> {
        let io = |e| CheckpointError::Io(self.path.clone(), e);
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&self.path).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with("checkpoint-") && name.ends_with(".txt") {
                let text = std::fs::read_to_string(&path).map_err(|e| CheckpointError::Io(path.clone(), e))?;
                files.push((path, text));
            }
        }
        files.sort();
        Ok(files)
    }

    /// The checkpoint file of the largest size, if any.
    pub fn latest(&self) -> Result<Option<(PathBuf, String)>, CheckpointError> {
        Ok(self.notes()?.pop())
    }

    /// Writes a new checkpoint file (flushed to the disk); one already there with the same
    /// text is kept (signatures are deterministic, so a replica signing the same head
    /// writes the same bytes), one with other text is an error: nothing is overwritten.
    pub fn write(&self, size: u64, note: &str) -> Result<PathBuf, CheckpointError> {
        let path = self.file(size);
        let io = |e| CheckpointError::Io(path.clone(), e);
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut file) => {
                file.write_all(note.as_bytes()).and_then(|()| file.sync_all()).map_err(io)?;
                Ok(path)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if std::fs::read_to_string(&path).map_err(io)? == note {
                    Ok(path)
                } else {
                    Err(CheckpointError::Checkpoint(path, "already exists with other content".into()))
                }
            }
            Err(e) => Err(io(e)),
        }
    }
}

/// A checkpoint file found wrong.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckpointProblem {
    /// The file.
    pub file: PathBuf,
    /// What is wrong.
    pub problem: String,
}

/// The outcome of checking the ledger against its checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckpointReport {
    /// Checkpoint files read.
    pub checkpoints: usize,
    /// Records in the ledger.
    pub records: u64,
    /// Records covered by the largest valid checkpoint.
    pub covered: u64,
    /// The checkpoints that are invalid or do not match the ledger, smallest first.
    pub problems: Vec<CheckpointProblem>,
}

/// Checks every checkpoint in `dir`: signed by `key`, of `key`'s log, and signing the root
/// of the ledger's first `size` records. `first_broken` is the first record whose chain
/// link is broken (from [`Ledger::verify`]): a checkpoint covering it cannot vouch for the
/// records. Returns the report and the tree of the whole ledger as read.
pub fn verify_checkpoints(
    ledger: &dyn Ledger,
    dir: &CheckpointDir,
    key: &VerifierKey,
    first_broken: Option<i64>,
) -> Result<(CheckpointReport, Frontier), CheckpointError> {
    let notes = dir.notes()?;
    let mut problems = Vec::new();
    let mut valid = Vec::new();
    for (file, note) in &notes {
        match Checkpoint::open(note, key) {
            Err(problem) => problems.push(CheckpointProblem { file: file.clone(), problem }),
            Ok(c) if c.origin != key.name() => problems.push(CheckpointProblem {
                file: file.clone(),
                problem: format!("is a checkpoint of the log `{}`, not of `{}`", c.origin, key.name()),
            }),
            Ok(c) => valid.push((file.clone(), c)),
        }
    }
    valid.sort_by_key(|(_, c)| c.size);
    let covered = valid.last().map_or(0, |(_, c)| c.size);
    let mut pending = valid.into_iter().peekable();
    let mut tree = Frontier::new();
    let mut check = |tree: &Frontier, problems: &mut Vec<CheckpointProblem>| {
        while let Some((file, c)) = pending.next_if(|(_, c)| c.size <= tree.size()) {
            let problem = if c.root != tree.root() {
                format!(
                    "signs root {} over {} records, the ledger's first {} records hash to {}: the history was rewritten",
                    BASE64.encode(c.root),
                    c.size,
                    c.size,
                    BASE64.encode(tree.root())
                )
            } else if let Some(seq) = first_broken.filter(|&s| u64::try_from(s).is_ok_and(|s| s <= c.size)) {
                format!("covers record {seq}, where the hash chain is broken")
            } else {
                continue;
            };
            problems.push(CheckpointProblem { file, problem });
        }
    };
    check(&tree, &mut problems);
    let records = each_record(ledger, 0, None, |r| {
        tree.push(record_leaf(r)?);
        check(&tree, &mut problems);
        Ok(())
    })?;
    for (file, c) in pending {
        let problem = format!("signs {} records, the ledger has {records}: records were removed", c.size);
        problems.push(CheckpointProblem { file, problem });
    }
    let report = CheckpointReport { checkpoints: notes.len(), records, covered, problems };
    Ok((report, tree))
}

/// When the server signs the head.
#[derive(Debug, Clone, Copy)]
pub struct CheckpointOptions {
    /// At every multiple of this many records.
    pub every: NonZeroU64,
    /// And when this long has passed since the last checkpoint and records came since.
    pub interval: Duration,
}

/// Signs the ledger's head into a [`CheckpointDir`] as records come.
pub struct Checkpointer {
    ledger: Arc<dyn Ledger>,
    dir: CheckpointDir,
    key: SigningKey,
    options: CheckpointOptions,
    tree: Frontier,
    signed: u64,
    signed_at: Instant,
}

impl Checkpointer {
    /// Checks the checkpoints already in `dir` against the ledger and refuses a ledger that
    /// does not match them (its history rewritten while the server was down): signing on
    /// would vouch for the rewrite. Then signs the head.
    pub fn start(
        ledger: Arc<dyn Ledger>,
        dir: CheckpointDir,
        key: SigningKey,
        options: CheckpointOptions,
    ) -> Result<Checkpointer, CheckpointError> {
        let (report, tree) = verify_checkpoints(ledger.as_ref(), &dir, &key.verifier(), None)?;
        if let Some(p) = report.problems.into_iter().next() {
            return Err(CheckpointError::Checkpoint(p.file, p.problem));
        }
        let mut me = Checkpointer { ledger, dir, key, options, tree, signed: 0, signed_at: Instant::now() };
        me.sign()?;
        Ok(me)
    }

    /// Records covered by the last checkpoint written.
    pub fn signed(&self) -> u64 {
        self.signed
    }

    /// Signs the head as read so far.
    fn sign(&mut self) -> Result<(), CheckpointError> {
        let c = Checkpoint { origin: self.key.name().to_string(), size: self.tree.size(), root: self.tree.root() };
        self.dir.write(c.size, &self.key.sign(&c.text()))?;
        self.signed = c.size;
        self.signed_at = Instant::now();
        Ok(())
    }

    /// Reads the records appended since the last look, signing at every multiple of
    /// `every`, then the head if `interval` has passed (or `now` is set) and it is unsigned.
    pub fn tick(&mut self, now: bool) -> Result<(), CheckpointError> {
        let ledger = Arc::clone(&self.ledger);
        let every = self.options.every.get();
        each_record(ledger.as_ref(), self.tree.size(), None, |r| {
            self.tree.push(record_leaf(r)?);
            if self.tree.size().is_multiple_of(every) { self.sign() } else { Ok(()) }
        })?;
        if self.tree.size() > self.signed && (now || self.signed_at.elapsed() >= self.options.interval) {
            self.sign()?;
        }
        Ok(())
    }

    /// Runs [`Checkpointer::tick`] on a thread of its own until the task is finished.
    pub fn spawn(mut self) -> std::io::Result<CheckpointTask> {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let poll = self.options.interval.min(POLL);
        let thread = std::thread::Builder::new().name("oscar-checkpoints".into()).spawn(move || {
            loop {
                let last = !matches!(stopped.recv_timeout(poll), Err(std::sync::mpsc::RecvTimeoutError::Timeout));
                // A failed checkpoint stops no review; it is logged and tried again.
                if let Err(e) = self.tick(last) {
                    tracing::error!(error = %e, "cannot write a checkpoint of the ledger");
                }
                if last {
                    break;
                }
            }
        })?;
        Ok(CheckpointTask { stop, thread })
    }
}

/// A running [`Checkpointer`].
pub struct CheckpointTask {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl CheckpointTask {
    /// Signs the head one last time and stops.
    pub fn finish(self) {
        drop(self.stop);
        if self.thread.join().is_err() {
            tracing::error!("the checkpoint thread panicked");
        }
    }
}

/// What a third party needs to check, without the database, that a review is in the log
/// up to a signed checkpoint. The algorithm is in `docs/ledger.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proof {
    /// [`PROOF_FORMAT`].
    pub format: String,
    /// How the record's hash is computed from its fields.
    pub hash_scheme: HashScheme,
    /// The stored record: every field its hash covers, and the hash.
    pub record: Record,
    /// Its leaf: RFC 6962 leaf hash of the record hash's 32 bytes, hex.
    pub leaf_hash: String,
    /// Its position in the tree, from 0 (`seq - 1`).
    pub leaf_index: u64,
    /// Leaves of the tree the checkpoint signs.
    pub tree_size: u64,
    /// The audit path from the leaf's sibling up, hex.
    pub audit_path: Vec<String>,
    /// The signed checkpoint (a signed note).
    pub checkpoint: String,
    /// The public key that signed it.
    pub public_key: String,
}

/// The scheme under which the record's hash is its content's, if one is.
fn scheme_of(r: &Record) -> Option<HashScheme> {
    [HashScheme::Digests, HashScheme::Fields]
        .into_iter()
        .find(|s| s.record_hash(r.seq, &r.prev_hash, &r.entry, &s.review_digest(&r.entry.review)) == r.hash)
}

/// The proof that the review of `application_id` is among the records signed by the
/// checkpoint `note` (read from `file`); the checkpoint must be signed by `key` and match
/// the ledger.
pub fn prove(
    ledger: &dyn Ledger,
    application_id: &str,
    file: &Path,
    note: &str,
    key: &VerifierKey,
) -> Result<Proof, CheckpointError> {
    let invalid = |why: String| CheckpointError::Checkpoint(file.to_path_buf(), why);
    let c = Checkpoint::open(note, key).map_err(invalid)?;
    let record = ledger.get(application_id)?.ok_or_else(|| CheckpointError::NotFound(application_id.to_string()))?;
    let index = u64::try_from(record.seq - 1).map_err(|_| CheckpointError::Record(record.seq, "no position".into()))?;
    if index >= c.size {
        return Err(invalid(format!(
            "signs {} records, the review is record {}: wait for a later checkpoint",
            c.size, record.seq
        )));
    }
    let hash_scheme = scheme_of(&record).ok_or_else(|| {
        CheckpointError::Record(record.seq, "its hash is not its content's: the record was altered".into())
    })?;
    let mut leaves = Vec::new();
    let read = each_record(ledger, 0, Some(c.size), |r| {
        leaves.push(record_leaf(r)?);
        Ok(())
    })?;
    if read != c.size || root(&leaves) != c.root {
        return Err(invalid(format!("does not match the ledger's first {} records (it has {read})", c.size)));
    }
    let position = usize::try_from(index).unwrap_or(usize::MAX);
    let path = inclusion_path(&leaves, position).ok_or_else(|| invalid("has no such leaf".into()))?;
    Ok(Proof {
        format: PROOF_FORMAT.to_string(),
        hash_scheme,
        leaf_hash: digest::hex(leaves[position]),
        record,
        leaf_index: index,
        tree_size: c.size,
        audit_path: path.iter().map(digest::hex).collect(),
        checkpoint: note.to_string(),
        public_key: key.to_text(),
    })
}

/// What a valid proof establishes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proven {
    /// The log.
    pub origin: String,
    /// Records its checkpoint signs.
    pub tree_size: u64,
    /// The record's position.
    pub seq: i64,
    /// The application.
    pub application_id: String,
    /// The review's verdict.
    pub verdict: crate::review::Verdict,
}

/// Why a proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProofError(String);

/// Checks a proof offline against the public key `key`: every step of `docs/ledger.md`.
pub fn check_proof(proof: &Proof, key: &VerifierKey) -> Result<Proven, ProofError> {
    let fail = |why: String| Err(ProofError(why));
    if proof.format != PROOF_FORMAT {
        return fail(format!("format `{}` is not `{PROOF_FORMAT}`", proof.format));
    }
    if proof.public_key != key.to_text() {
        return fail(format!("the proof names the key `{}`, not the one given", proof.public_key));
    }
    let c = Checkpoint::open(&proof.checkpoint, key).map_err(|e| ProofError(format!("checkpoint: {e}")))?;
    let r = &proof.record;
    if c.size != proof.tree_size {
        return fail(format!("tree_size is {}, the checkpoint signs {}", proof.tree_size, c.size));
    }
    if i64::try_from(proof.leaf_index).ok().and_then(|i| i.checked_add(1)) != Some(r.seq) {
        return fail(format!("leaf_index {} is not the record's seq {} less one", proof.leaf_index, r.seq));
    }
    if content_hash(&r.entry.application) != r.entry.content_hash {
        return fail("the application does not hash to its content_hash".into());
    }
    let scheme = proof.hash_scheme;
    let hash = scheme.record_hash(r.seq, &r.prev_hash, &r.entry, &scheme.review_digest(&r.entry.review));
    if hash != r.hash {
        return fail(format!("the record's fields hash to `{hash}`, not to its hash `{}`", r.hash));
    }
    let leaf = record_leaf(r).map_err(|e| ProofError(e.to_string()))?;
    if digest::hex(leaf) != proof.leaf_hash {
        return fail("leaf_hash is not the leaf hash of the record's hash".into());
    }
    let path = proof
        .audit_path
        .iter()
        .map(|h| hash_of_hex(h).ok_or_else(|| ProofError(format!("audit path entry `{h}` is not 64 hex digits"))))
        .collect::<Result<Vec<_>, _>>()?;
    if root_from_inclusion(&leaf, proof.leaf_index, proof.tree_size, &path) != Some(c.root) {
        return fail("the audit path does not lead from the leaf to the checkpoint's root".into());
    }
    Ok(Proven {
        origin: c.origin,
        tree_size: c.size,
        seq: r.seq,
        application_id: r.entry.application_id.clone(),
        verdict: r.entry.verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_file_is_never_overwritten() {
        let path = std::env::temp_dir().join(format!("oscar-ckpt-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        let dir = CheckpointDir::create(&path).unwrap();
        let written = dir.write(7, "first\n").unwrap();
        assert_eq!(dir.write(7, "first\n").unwrap(), written, "the same text again is kept");
        let err = dir.write(7, "other\n").unwrap_err();
        assert!(err.to_string().contains("already exists with other content"), "{err}");
        assert_eq!(std::fs::read_to_string(&written).unwrap(), "first\n");
        assert_eq!(dir.latest().unwrap(), Some((written, "first\n".to_string())));
        let _ = std::fs::remove_dir_all(&path);
    }
}
