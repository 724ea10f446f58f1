//! Bearer API keys with per-caller permissions.
//!
//! Key file (and the `OSCAR_API_KEYS` variable, entries separated by `;` or newlines): one
//! key per line, `NAME KEY PERMISSIONS`, permissions comma-separated from `submit` (POST
//! reviews), `read` (GET reviews and restrictions), `restrict` (POST restrictions), `decide`
//! (record a reviewer's decision on a case), or `*` for all. `#` starts a comment. The name is the caller identity recorded in the ledger.
//!
//! Authentication fails closed: a key list with no key is refused, and running without keys
//! is the explicit [`Auth::Disabled`], never an empty list.
//!
//! Each route declares the permission it needs next to its handler: the handler takes a
//! [`Require`] of that permission ([`Submit`], [`Read`], [`Restrict`]), and runs only for a
//! caller whose key holds it. Nothing is derived from the path, so a new route needs what
//! its handler names (`tests/server_auth.rs` checks every route of the OpenAPI document with
//! a key of each permission).

use std::marker::PhantomData;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Submit applications for review.
    Submit,
    /// Read reviews, the queue and restrictions.
    Read,
    /// Add temporary restrictions.
    Restrict,
    /// Record reviewers' decisions on escalated cases.
    Decide,
}

impl Scope {
    /// The word used in key files and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Submit => "submit",
            Scope::Read => "read",
            Scope::Restrict => "restrict",
            Scope::Decide => "decide",
        }
    }
}

/// A permission a route can need, as a type, so that a handler names it in its signature.
pub trait Permission: Send + Sync + 'static {
    /// The scope a key must hold.
    const SCOPE: Scope;
}

/// Submitting applications for review ([`Scope::Submit`]).
#[derive(Debug)]
pub struct Submit;
/// Reading reviews, the queue and restrictions ([`Scope::Read`]).
#[derive(Debug)]
pub struct Read;
/// Adding temporary restrictions ([`Scope::Restrict`]).
#[derive(Debug)]
pub struct Restrict;
/// Recording reviewers' decisions ([`Scope::Decide`]).
#[derive(Debug)]
pub struct Decide;

impl Permission for Submit {
    const SCOPE: Scope = Scope::Submit;
}
impl Permission for Read {
    const SCOPE: Scope = Scope::Read;
}
impl Permission for Restrict {
    const SCOPE: Scope = Scope::Restrict;
}
impl Permission for Decide {
    const SCOPE: Scope = Scope::Decide;
}

/// A caller allowed to do `P`. A handler that takes one declares that its route needs `P`:
/// without a known key the request is answered `401`, with a key lacking `P` `403`, before
/// the handler runs or its body is read. Under [`Auth::Disabled`] the caller is `anonymous`.
#[derive(Debug)]
pub struct Require<P: Permission> {
    caller: String,
    permission: PhantomData<P>,
}

impl<P: Permission> Require<P> {
    /// The caller's name, as recorded in the ledger.
    pub fn caller(&self) -> &str {
        &self.caller
    }
}

impl<P: Permission> FromRequestParts<Arc<AppState>> for Require<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let caller = state.auth.permit(parts.headers.get(header::AUTHORIZATION), P::SCOPE)?;
        tracing::Span::current().record("caller", caller.as_str());
        if let Some(slot) = parts.extensions.get::<CallerSlot>() {
            let _ = slot.0.set(caller.clone());
        }
        Ok(Require { caller, permission: PhantomData })
    }
}

/// Where a route's permission check leaves the caller's name for the request log; the
/// request layer puts one in every request. Empty where no key was checked.
#[derive(Debug, Clone, Default)]
pub struct CallerSlot(Arc<OnceLock<String>>);

impl CallerSlot {
    /// The caller, once a permission check has found one.
    pub fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

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

    /// The name of the caller presenting `authorization` (`Bearer KEY`) if its key holds
    /// `scope`; `anonymous` when authentication is disabled.
    fn permit(&self, authorization: Option<&HeaderValue>, scope: Scope) -> Result<String, ApiError> {
        let Auth::Keys(keys) = self else { return Ok("anonymous".to_string()) };
        let presented = authorization
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        let (name, scopes) = keys.check(presented.trim()).ok_or(ApiError::Unauthorized)?;
        if !scopes.contains(&scope) {
            return Err(ApiError::Forbidden { caller: name.to_string(), scope: scope.as_str() });
        }
        Ok(name.to_string())
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
                    "*" => list.extend([Scope::Submit, Scope::Read, Scope::Restrict, Scope::Decide]),
                    "submit" => list.push(Scope::Submit),
                    "read" => list.push(Scope::Read),
                    "restrict" => list.push(Scope::Restrict),
                    "decide" => list.push(Scope::Decide),
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
        assert_eq!(keys.check("k-ops-0123456789abc").map(|k| k.1.len()), Some(4));
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
