//! Bearer API keys with per-caller permissions.
//!
//! Key file (and the `OSCAR_API_KEYS` variable, entries separated by `;` or newlines): one
//! key per line, `NAME KEY PERMISSIONS`, permissions comma-separated from `submit` (POST
//! reviews), `read` (GET reviews and restrictions), `restrict` (POST restrictions), or `*`
//! for all. `#` starts a comment. The name is the caller identity recorded in the ledger.
//!
//! Authentication fails closed: a key list with no key is refused, and running without keys
//! is the explicit [`Auth::Disabled`], never an empty list.

use std::path::Path;

use sha2::{Digest, Sha256};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Submit applications for review.
    Submit,
    /// Read reviews, the queue and restrictions.
    Read,
    /// Add temporary restrictions.
    Restrict,
}

impl Scope {
    /// The word used in key files and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Submit => "submit",
            Scope::Read => "read",
            Scope::Restrict => "restrict",
        }
    }
}

/// The authenticated caller, available to handlers as a request extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub String);

#[derive(Debug, Clone)]
struct Key {
    name: String,
    digest: [u8; 32],
    scopes: Vec<Scope>,
}

/// The configured keys; never empty.
#[derive(Debug, Clone)]
pub struct ApiKeys {
    keys: Vec<Key>,
}

/// How callers are authenticated.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Every `/v1/reviews` and `/v1/restrictions` request needs one of these keys.
    Keys(ApiKeys),
    /// No authentication (`oscar serve --no-auth`): every caller is `anonymous` and may do
    /// everything. Only ever chosen explicitly.
    Disabled,
}

impl Auth {
    /// `keys` or `disabled`, as `/readyz` reports it.
    pub fn mode(&self) -> &'static str {
        match self {
            Auth::Keys(_) => "keys",
            Auth::Disabled => "disabled",
        }
    }
}

/// Why a key list was refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid API key list {source_name}: {}", problems.join("; "))]
pub struct KeysError {
    /// File or variable.
    pub source_name: String,
    /// One entry per bad line (keys themselves are never quoted).
    pub problems: Vec<String>,
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl ApiKeys {
    /// Parses a key list; every bad line is reported, and a list without any key is refused.
    pub fn parse(source_name: &str, text: &str) -> Result<ApiKeys, KeysError> {
        let mut keys = Vec::new();
        let mut problems = Vec::new();
        for (i, line) in text.split(['\n', ';']).enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            let [name, key, scopes] = parts.as_slice() else {
                problems.push(format!("entry {}: expected `NAME KEY PERMISSIONS`", i + 1));
                continue;
            };
            if key.len() < 16 {
                problems.push(format!("entry {} (`{name}`): the key must be at least 16 characters", i + 1));
                continue;
            }
            let mut list = Vec::new();
            for s in scopes.split(',') {
                match s {
                    "*" => list.extend([Scope::Submit, Scope::Read, Scope::Restrict]),
                    "submit" => list.push(Scope::Submit),
                    "read" => list.push(Scope::Read),
                    "restrict" => list.push(Scope::Restrict),
                    other => problems.push(format!("entry {} (`{name}`): unknown permission `{other}`", i + 1)),
                }
            }
            keys.push(Key { name: (*name).to_string(), digest: digest(key), scopes: list });
        }
        if keys.is_empty() && problems.is_empty() {
            problems.push(
                "it holds no key (only blank lines or comments); add a `NAME KEY PERMISSIONS` entry, \
                 or start with `--no-auth` to run without authentication"
                    .into(),
            );
        }
        if problems.is_empty() {
            Ok(ApiKeys { keys })
        } else {
            Err(KeysError { source_name: source_name.to_string(), problems })
        }
    }

    /// Reads a key file.
    pub fn from_file(path: &Path) -> Result<ApiKeys, KeysError> {
        let text = std::fs::read_to_string(path).map_err(|e| KeysError {
            source_name: path.display().to_string(),
            problems: vec![format!("cannot read: {e}")],
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// The caller name and scopes of a presented key. Digests are compared in full for every
    /// key, so timing does not reveal how much of a key matched.
    pub fn check(&self, presented: &str) -> Option<(&str, &[Scope])> {
        let d = digest(presented);
        let mut found = None;
        for k in &self.keys {
            let same = k.digest.iter().zip(d.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
            if same {
                found = Some((k.name.as_str(), k.scopes.as_slice()));
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks_keys() {
        let keys = ApiKeys::parse(
            "test",
            "platform k-0123456789abcdef submit,read # the platform\n; ops k-ops-0123456789abc *",
        )
        .unwrap();
        assert_eq!(keys.check("k-0123456789abcdef"), Some(("platform", &[Scope::Submit, Scope::Read][..])));
        assert_eq!(keys.check("k-ops-0123456789abc").map(|k| k.1.len()), Some(3));
        assert_eq!(keys.check("nope"), None);
        let err = ApiKeys::parse("test", "a short read\nb k-0123456789abcdef fly").unwrap_err();
        assert_eq!(err.problems.len(), 2);
    }

    #[test]
    fn a_list_without_keys_is_refused() {
        for text in ["", "  \n\n", "# only a comment\n   # and another", ";;", "; # x ;"] {
            let err = ApiKeys::parse("OSCAR_API_KEYS", text).unwrap_err();
            assert!(err.to_string().contains("holds no key"), "{text:?}: {err}");
            assert!(err.to_string().contains("--no-auth"), "{err}");
        }
    }
}
