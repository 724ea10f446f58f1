//! A registry served over HTTP (for example by `oscar registry-serve DIR`).
//!
//! `GET {base}/v1/{companies|people|vehicles|vehicles-by-vin|authorizations}/{key}` answers
//! `200` with the record or `404` when there is none; `GET {base}/v1/version` answers
//! `{"version": "..."}`. Each call has its own timeout and is retried a bounded number of
//! times with exponential backoff; answers are cached for a short time; after several
//! lookups in a row find the registry down, the client stops asking for a pause (circuit
//! breaker). An outage, a slow answer or a malformed one becomes [`Lookup::Unavailable`],
//! so the items that needed the record are unverified and the application escalates: a
//! registry problem never passes. A record whose key (credit code, ID number, plate, VIN,
//! reference) is not the one asked for is a malformed answer.
//!
//! The [`Registry`] trait is synchronous; calls are driven on a Tokio runtime through its
//! [`Handle`], so they must come from a thread that is not itself running async code
//! (a `spawn_blocking` thread or a plain thread).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;

use super::{AuthorizationRecord, CompanyRecord, Lookup, PersonRecord, Registry, VehicleRecord};
use crate::ids::mask_id_numbers;

/// Tuning of the remote client.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// Timeout of one HTTP call.
    pub call_timeout: Duration,
    /// Retries after the first try (so `retries + 1` calls at most).
    pub retries: u32,
    /// Backoff before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// How long an answer (record or not-found) is reused.
    pub cache_ttl: Duration,
    /// Most cached answers; the cache is emptied when full.
    pub cache_capacity: usize,
    /// Lookups in a row that end unavailable before the client stops asking for a while
    /// (0: never stops).
    pub breaker_failures: u32,
    /// How long the client stops asking; then one lookup tries again.
    pub breaker_pause: Duration,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            call_timeout: Duration::from_millis(250),
            retries: 2,
            backoff: Duration::from_millis(20),
            cache_ttl: Duration::from_secs(30),
            cache_capacity: 10_000,
            breaker_failures: 5,
            breaker_pause: Duration::from_secs(5),
        }
    }
}

/// The answer of `/v1/version`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionAnswer {
    /// Version of the registry data.
    pub version: String,
}

#[derive(Clone)]
enum Cached {
    Company(Lookup<CompanyRecord>),
    Person(Lookup<PersonRecord>),
    Vehicle(Lookup<VehicleRecord>),
    Authorization(Lookup<AuthorizationRecord>),
    Version(String),
}

/// Why a remote registry client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The base URL does not parse or cannot carry paths.
    #[error("invalid registry URL `{0}`")]
    Url(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// One kind of lookup: its path under `/v1/`, and the record field it is keyed by, which
/// must equal the key asked for.
struct Kind<T> {
    path: &'static str,
    field: &'static str,
    key_of: fn(&T) -> &str,
}

const COMPANIES: Kind<CompanyRecord> = Kind { path: "companies", field: "uscc", key_of: |r| &r.uscc };
const PEOPLE: Kind<PersonRecord> = Kind { path: "people", field: "id_number", key_of: |r| &r.id_number };
const VEHICLES: Kind<VehicleRecord> = Kind { path: "vehicles", field: "plate", key_of: |r| &r.plate };
const VEHICLES_BY_VIN: Kind<VehicleRecord> = Kind { path: "vehicles-by-vin", field: "vin", key_of: |r| &r.vin };
const AUTHORIZATIONS: Kind<AuthorizationRecord> =
    Kind { path: "authorizations", field: "reference", key_of: |r| &r.reference };

/// Cached answers by (kind, key), with the time they were fetched.
type Cache = HashMap<(&'static str, String), (Instant, Cached)>;

/// Lookups failing in a row, and until when the client stops asking (a circuit breaker):
/// while the registry is down every review would otherwise wait for timeouts and retries
/// on each of its lookups, holding a review slot that whole time.
#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    last_problem: String,
    paused_until: Option<Instant>,
}

/// Why a call gave no answer, and whether the registry looks down (unreachable, slow or
/// failing) rather than answering badly.
struct Failure {
    problem: String,
    down: bool,
}

/// A registry client over HTTP.
pub struct RemoteRegistry {
    base: reqwest::Url,
    client: reqwest::Client,
    handle: Handle,
    options: RemoteOptions,
    cache: Mutex<Cache>,
    breaker: Mutex<Breaker>,
    errors: Arc<AtomicU64>,
}

impl RemoteRegistry {
    /// A client for the registry at `base` (e.g. `http://127.0.0.1:9000`), driving its
    /// calls on the runtime behind `handle`.
    pub fn new(base: &str, options: RemoteOptions, handle: Handle) -> Result<RemoteRegistry, RemoteError> {
        let base = reqwest::Url::parse(base).map_err(|_| RemoteError::Url(base.to_string()))?;
        if base.cannot_be_a_base() {
            return Err(RemoteError::Url(base.to_string()));
        }
        let client = reqwest::Client::builder()
            .timeout(options.call_timeout)
            .connect_timeout(options.call_timeout)
            .build()
            .map_err(|e| RemoteError::Client(e.to_string()))?;
        Ok(RemoteRegistry {
            base,
            client,
            handle,
            options,
            cache: Mutex::new(HashMap::new()),
            breaker: Mutex::default(),
            errors: Arc::default(),
        })
    }

    /// Lookups that ended unavailable since start (shared, for metrics).
    pub fn error_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.errors)
    }

    fn url(&self, kind: &str, key: Option<&str>) -> Option<reqwest::Url> {
        let mut url = self.base.clone();
        {
            let mut segs = url.path_segments_mut().ok()?;
            segs.pop_if_empty().push("v1").push(kind);
            if let Some(k) = key {
                segs.push(k);
            }
        }
        Some(url)
    }

    /// One GET with retries: `Ok(Some(T))` found, `Ok(None)` not found, `Err` unavailable.
    async fn get<T: DeserializeOwned>(&self, url: reqwest::Url) -> Result<Option<T>, Failure> {
        let mut delay = self.options.backoff;
        let mut last = String::new();
        for attempt in 0..=self.options.retries {
            if attempt > 0 {
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
            }
            match self.client.get(url.clone()).send().await {
                Ok(resp) if resp.status() == reqwest::StatusCode::NOT_FOUND => return Ok(None),
                Ok(resp) if resp.status().is_success() => match resp.bytes().await {
                    // A malformed answer is not retried: the same server would say the same.
                    Ok(body) => {
                        return serde_json::from_slice::<T>(&body).map(Some).map_err(|e| Failure {
                            // The parser may quote the record, ID numbers included.
                            problem: mask_id_numbers(&format!("the registry answered with a malformed record ({e})"))
                                .into_owned(),
                            down: false,
                        });
                    }
                    Err(e) => last = describe(&e),
                },
                Ok(resp) => last = format!("the registry answered HTTP {}", resp.status().as_u16()),
                Err(e) => last = describe(&e),
            }
        }
        Err(Failure { problem: format!("{last} after {} tries", self.options.retries + 1), down: true })
    }

    fn cached(&self, kind: &'static str, key: &str) -> Option<Cached> {
        let cache = self.cache.lock().ok()?;
        let (at, value) = cache.get(&(kind, key.to_string()))?;
        (at.elapsed() < self.options.cache_ttl).then(|| value.clone())
    }

    fn remember(&self, kind: &'static str, key: &str, value: Cached) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= self.options.cache_capacity {
                cache.clear();
            }
            cache.insert((kind, key.to_string()), (Instant::now(), value));
        }
    }

    /// One GET through the breaker: refused at once while it is open, and counted. A record
    /// that `accept` refuses is a malformed answer. An unavailable answer is counted in the
    /// error metric.
    fn call<T: DeserializeOwned>(
        &self,
        url: reqwest::Url,
        accept: impl Fn(&T) -> Result<(), String>,
    ) -> Result<Option<T>, String> {
        if let Some(refusal) = self.paused() {
            self.errors.fetch_add(1, Ordering::Relaxed);
            return Err(refusal);
        }
        let answer = match self.handle.block_on(self.get::<T>(url)) {
            Ok(Some(record)) => {
                accept(&record).map(|()| Some(record)).map_err(|problem| Failure { problem, down: false })
            }
            other => other,
        };
        if let Ok(mut b) = self.breaker.lock() {
            match &answer {
                // A malformed answer came back quickly: nothing to wait for, no reason to pause.
                Ok(_) | Err(Failure { down: false, .. }) => *b = Breaker::default(),
                Err(Failure { problem, down: true }) => {
                    b.failures = b.failures.saturating_add(1);
                    b.last_problem.clone_from(problem);
                    if self.options.breaker_failures > 0 && b.failures >= self.options.breaker_failures {
                        b.paused_until = Some(Instant::now() + self.options.breaker_pause);
                    }
                }
            }
        }
        answer.map_err(|f| {
            self.errors.fetch_add(1, Ordering::Relaxed);
            f.problem
        })
    }

    /// Why the client does not ask now, while the breaker is open.
    fn paused(&self) -> Option<String> {
        let b = self.breaker.lock().ok()?;
        let left = b.paused_until?.checked_duration_since(Instant::now())?;
        Some(format!(
            "{} lookups in a row failed (last: {}); not asked again for {} ms",
            b.failures,
            b.last_problem,
            left.as_millis()
        ))
    }

    fn lookup<T: DeserializeOwned>(&self, kind: &Kind<T>, key: &str) -> Lookup<T> {
        let Some(url) = self.url(kind.path, Some(key)) else {
            return Lookup::Unavailable("the registry URL cannot carry a key".into());
        };
        // Neither key is quoted: either may be a person's ID number.
        let same_key = |record: &T| {
            if (kind.key_of)(record) == key {
                Ok(())
            } else {
                Err(format!(
                    "the registry answered with a malformed record (its `{}` is not the one asked for)",
                    kind.field
                ))
            }
        };
        match self.call(url, same_key) {
            Ok(Some(r)) => Lookup::Found(r),
            Ok(None) => Lookup::Missing,
            Err(e) => Lookup::Unavailable(format!("registry `{}` unavailable: {e}", self.base)),
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the registry did not answer in time".into()
    } else if e.is_connect() {
        "the registry cannot be reached".into()
    } else {
        "the registry call failed".into()
    }
}

macro_rules! cached_lookup {
    ($self:ident, $kind:ident, $key:ident, $variant:ident) => {{
        if let Some(Cached::$variant(hit)) = $self.cached($kind.path, $key) {
            return hit;
        }
        let answer = $self.lookup(&$kind, $key);
        if !matches!(answer, Lookup::Unavailable(_)) {
            $self.remember($kind.path, $key, Cached::$variant(answer.clone()));
        }
        answer
    }};
}

impl Registry for RemoteRegistry {
    fn company(&self, uscc: &str) -> Lookup<CompanyRecord> {
        cached_lookup!(self, COMPANIES, uscc, Company)
    }
    fn person(&self, id_number: &str) -> Lookup<PersonRecord> {
        cached_lookup!(self, PEOPLE, id_number, Person)
    }
    fn vehicle(&self, plate: &str) -> Lookup<VehicleRecord> {
        cached_lookup!(self, VEHICLES, plate, Vehicle)
    }
    fn vehicle_by_vin(&self, vin: &str) -> Lookup<VehicleRecord> {
        cached_lookup!(self, VEHICLES_BY_VIN, vin, Vehicle)
    }
    fn authorization(&self, reference: &str) -> Lookup<AuthorizationRecord> {
        cached_lookup!(self, AUTHORIZATIONS, reference, Authorization)
    }
    fn version(&self) -> String {
        if let Some(Cached::Version(v)) = self.cached("version", "") {
            return v;
        }
        match self.url("version", None).map(|url| self.call::<VersionAnswer>(url, |_| Ok(()))) {
            Some(Ok(Some(v))) => {
                let v = format!("remote:{}", v.version);
                self.remember("version", "", Cached::Version(v.clone()));
                v
            }
            _ => format!("remote:{} (version unavailable)", self.base),
        }
    }
}
