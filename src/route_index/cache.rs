//! The index of approved routes kept in a file between runs of the service, so that a start
//! matches only the approvals recorded since the file was written instead of every approved
//! route in the ledger.
//!
//! The file is derived and disposable: the ledger stays the evidence, and a file that is
//! missing, damaged, of another format, or made for another oscar build, network, rulebooks
//! or ledger is ignored (the caller says why) and the index built from the ledger as without
//! it. What it was made for is its [`Stamp`]; whether the ledger still has the record the
//! stamp names is the caller's to check (`restrictions::approved_index_cached`).
//!
//! Layout: [`MAGIC`], the format version (`u32`, little-endian), the body's length (`u64`),
//! the SHA-256 of the body, then the body: the stamp, the network versions and each permit
//! with its boxes, in `postcard`. Written whole to a file beside it and renamed over it, so
//! that a reader sees the old file or the new one, never a part.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Permit, RouteIndex};

/// The first bytes of an index cache.
pub const MAGIC: &[u8; 8] = b"oscarRIX";

/// The format this oscar writes and reads; any other is ignored.
pub const FORMAT: u32 = 1;

/// Bytes before the body: magic, format, body length, body hash.
const HEAD: usize = 8 + 4 + 8 + 32;

/// What an index was made with; a cache is used only where each of these still holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MadeFor {
    /// The oscar build that matched the routes ([`build`]): another matcher may match them
    /// otherwise.
    pub build: String,
    /// Version of the network the routes were matched on, or `none`.
    pub network: String,
    /// Hashes of the rulebooks loaded, sorted (the kept measures carry a rulebook's
    /// clearance margin; without a rulebook every lowered limit counts).
    pub rulebooks: Vec<String>,
}

impl MadeFor {
    /// What differs between `self` (a cache's) and `now` (the service's), in words; `None`
    /// where nothing does.
    pub fn differs(&self, now: &MadeFor) -> Option<String> {
        if self.build != now.build {
            Some(format!("it was written by another oscar build (`{}`, this is `{}`)", self.build, now.build))
        } else if self.network != now.network {
            Some(format!("it was made for network `{}`, the one loaded is `{}`", self.network, now.network))
        } else if self.rulebooks != now.rulebooks {
            Some(format!("it was made for rulebooks {:?}, the ones loaded are {:?}", self.rulebooks, now.rulebooks))
        } else {
            None
        }
    }
}

/// A cache's stamp: what it was made with, and the last ledger record it covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stamp {
    /// Build, network and rulebooks.
    pub made_for: MadeFor,
    /// Position of the last approved review covered: every approved review up to it is in
    /// the cache (as far as it reads and matches); 0 for none.
    pub seq: i64,
    /// That record's hash ([`crate::ledger::Record::hash`]): the record, and through the
    /// chain every one before it, is the one the cache was made from while the ledger's
    /// record at `seq` still has it.
    pub hash: String,
}

/// Why a cache cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// No file there.
    #[error("there is no index cache at {} yet", .0.display())]
    Missing(PathBuf),
    /// The file cannot be read.
    #[error("cannot read {}: {}", .0.display(), .1)]
    Read(PathBuf, std::io::Error),
    /// The file does not start as an index cache does.
    #[error("{} is not an index cache (its first bytes)", .0.display())]
    NotACache(PathBuf),
    /// Another format version.
    #[error("{} is in index cache format {}, this oscar reads format {FORMAT}", .0.display(), .1)]
    Format(PathBuf, u32),
    /// Truncated, or its body does not hash to what its head says, or does not decode.
    #[error("{} is damaged: {}", .0.display(), .1)]
    Damaged(PathBuf, String),
    /// A file that is not an index cache is where the cache would be written: it is left as
    /// it is (a mistyped `--index-cache` must never replace the ledger or anything else).
    #[error("{} is not an index cache, so it is left as it is: name another file for the index cache", .0.display())]
    NotOurs(PathBuf),
    /// The index holds permits matched on another network than the stamp names.
    #[error("the index holds permits matched on network {0}, not on the one it would be stamped with")]
    OtherNetwork(String),
    /// The file cannot be written.
    #[error("cannot write {}: {}", .0.display(), .1)]
    Write(PathBuf, std::io::Error),
    /// The index cannot be encoded.
    #[error("cannot encode the index: {0}")]
    Encode(String),
}

/// A permit's boxes as the tree keeps them.
type Boxes = Vec<([f64; 3], [f64; 3])>;

/// The body as written: borrowed from the index.
#[derive(Serialize)]
struct BodyOut<'a> {
    stamp: &'a Stamp,
    networks: &'a [String],
    permits: Vec<(&'a Permit, Boxes)>,
}

/// The body as read.
#[derive(Deserialize)]
struct BodyIn {
    stamp: Stamp,
    networks: Vec<String>,
    permits: Vec<(Permit, Boxes)>,
}

/// This oscar build: its version and its executable's size and modification time, so
/// that a rebuilt binary (a changed matcher) never reads a cache an older one wrote;
/// `None` where the executable cannot be looked at (then no cache is used).
pub fn build() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let meta = std::fs::metadata(exe).ok()?;
    let modified = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(format!(
        "{} {} bytes {}.{:09}",
        env!("CARGO_PKG_VERSION"),
        meta.len(),
        modified.as_secs(),
        modified.subsec_nanos()
    ))
}

/// Writes `index` stamped `stamp` to `path`, through a file beside it renamed over it.
/// Refused where the index holds a permit matched on another network than the stamp's, or
/// where a file at `path` is not an index cache (one that starts otherwise than [`MAGIC`]).
pub fn save(path: &Path, index: &RouteIndex, stamp: &Stamp) -> Result<(), CacheError> {
    if !replaceable(path) {
        return Err(CacheError::NotOurs(path.to_path_buf()));
    }
    if let Some(other) = index.networks.iter().find(|n| **n != stamp.made_for.network) {
        return Err(CacheError::OtherNetwork(other.clone()));
    }
    let boxes = index.boxes();
    let body = BodyOut { stamp, networks: &index.networks, permits: index.permits.iter().zip(boxes).collect() };
    let body = postcard::to_stdvec(&body).map_err(|e| CacheError::Encode(e.to_string()))?;
    let mut bytes = Vec::with_capacity(HEAD + body.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT.to_le_bytes());
    bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&Sha256::digest(&body));
    bytes.extend_from_slice(&body);
    let name = path.file_name().map_or_else(|| "index".into(), |n| n.to_string_lossy().into_owned());
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::File::create(&temporary)
        .and_then(|mut file| {
            file.write_all(&bytes)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        CacheError::Write(path.to_path_buf(), e)
    })
}

/// Whether the file at `path` may be replaced by a cache: none there (or none that can be
/// read: writing then fails with the reason), an empty one, or one that starts as a cache.
fn replaceable(path: &Path) -> bool {
    use std::io::Read;
    let Ok(file) = std::fs::File::open(path) else { return true };
    let mut head = Vec::with_capacity(MAGIC.len());
    match file.take(MAGIC.len() as u64).read_to_end(&mut head) {
        Ok(_) => MAGIC.starts_with(&head),
        Err(_) => false,
    }
}

/// Reads the index at `path` and its stamp; the stamp is not checked here.
pub fn load(path: &Path) -> Result<(Stamp, RouteIndex), CacheError> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => CacheError::Missing(path.to_path_buf()),
        _ => CacheError::Read(path.to_path_buf(), e),
    })?;
    let damaged = |why: String| CacheError::Damaged(path.to_path_buf(), why);
    let (magic, rest) = bytes.split_at_checked(MAGIC.len()).ok_or_else(|| CacheError::NotACache(path.to_path_buf()))?;
    if magic != MAGIC {
        return Err(CacheError::NotACache(path.to_path_buf()));
    }
    let (format, rest) = rest.split_first_chunk::<4>().ok_or_else(|| damaged("it ends in its head".into()))?;
    let format = u32::from_le_bytes(*format);
    if format != FORMAT {
        return Err(CacheError::Format(path.to_path_buf(), format));
    }
    let (length, rest) = rest.split_first_chunk::<8>().ok_or_else(|| damaged("it ends in its head".into()))?;
    let (hash, body) = rest.split_first_chunk::<32>().ok_or_else(|| damaged("it ends in its head".into()))?;
    let length = u64::from_le_bytes(*length);
    if body.len() as u64 != length {
        return Err(damaged(format!("its body is {} bytes, its head says {length} (truncated?)", body.len())));
    }
    if Sha256::digest(body).as_slice() != hash {
        return Err(damaged("its body does not hash to what its head says".into()));
    }
    let body: BodyIn = postcard::from_bytes(body).map_err(|e| damaged(format!("its body does not decode: {e}")))?;
    let networks = body.networks.len();
    let mut index = RouteIndex { networks: body.networks, ..RouteIndex::default() };
    for (permit, boxes) in body.permits {
        if usize::from(permit.network) >= networks {
            return Err(damaged(format!("permit {} names network {} of {networks}", permit.seq, permit.network)));
        }
        index.push(permit, boxes);
    }
    Ok((body.stamp, index))
}
