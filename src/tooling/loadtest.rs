//! `oscar loadtest`: concurrent clients send a mix of real applications (the examples and
//! the golden cases, each with a fresh `application_id`) to `POST /v1/reviews` for a fixed
//! time and report throughput, latency percentiles and errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Base URL of the service, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// Concurrent clients.
    pub concurrency: usize,
    /// How long to send.
    pub duration: Duration,
    /// Bearer key, if the service needs one.
    pub api_key: Option<String>,
    /// Directories with full applications (`*.json`).
    pub examples: PathBuf,
    /// Directory with golden cases (`base` + `patch`).
    pub cases: PathBuf,
    /// Prefix of the generated application ids (unique per run).
    pub id_prefix: String,
}

/// The measurement.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// Applications in the mix.
    pub mix: usize,
    /// Concurrent clients.
    pub concurrency: usize,
    /// Seconds measured.
    pub seconds: f64,
    /// Requests answered (any status).
    pub requests: u64,
    /// `201` answers per second.
    pub reviews_per_s: f64,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Transport errors (no HTTP answer).
    pub transport_errors: u64,
    /// Latency percentiles, milliseconds.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

/// Why the load test could not run.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The applications could not be read.
    #[error("cannot read {0}: {1}")]
    Read(String, String),
    /// No application found.
    #[error("no application found in {0}")]
    Empty(String),
    /// Bad options.
    #[error("{0}")]
    Options(String),
}

fn json_files(dir: &Path) -> Result<Vec<(String, Value)>, LoadError> {
    let read_err = |e: std::io::Error| LoadError::Read(dir.display().to_string(), e.to_string());
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text =
                std::fs::read_to_string(&p).map_err(|e| LoadError::Read(p.display().to_string(), e.to_string()))?;
            let v = serde_json::from_str(&text).map_err(|e| LoadError::Read(p.display().to_string(), e.to_string()))?;
            let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            Ok((stem, v))
        })
        .collect()
}

/// The mix: every example, and every golden case applied to its base example.
pub fn load_mix(examples: &Path, cases: &Path) -> Result<Vec<Value>, LoadError> {
    let bases: BTreeMap<String, Value> = json_files(examples)?.into_iter().collect();
    let mut mix: Vec<Value> = bases.values().cloned().collect();
    if cases.is_dir() {
        for (_, case) in json_files(cases)? {
            let (Some(base), Some(patch)) = (case.get("base").and_then(Value::as_str), case.get("patch")) else {
                continue;
            };
            if let Some(b) = bases.get(base) {
                let mut app = b.clone();
                crate::application::merge_patch(&mut app, patch);
                mix.push(app);
            }
        }
    }
    if mix.is_empty() {
        return Err(LoadError::Empty(examples.display().to_string()));
    }
    Ok(mix)
}

fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    f64::from(sorted[idx.min(sorted.len() - 1)]) / 1000.0
}

struct Worker {
    latencies_us: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
}

/// Runs the load and measures it. Requests stop at the deadline; each client's loop is
/// bounded by it.
pub async fn run(opts: LoadOptions) -> Result<LoadReport, LoadError> {
    if opts.concurrency == 0 || opts.concurrency > 4096 {
        return Err(LoadError::Options("--concurrency must be 1 to 4096".into()));
    }
    let mix = load_mix(&opts.examples, &opts.cases)?;
    // Pre-serialise each application with a placeholder id, so the clients only splice ids.
    let bodies: Arc<Vec<(String, String)>> = Arc::new(
        mix.iter()
            .map(|app| {
                let mut app = app.clone();
                if let Some(o) = app.as_object_mut() {
                    o.insert("application_id".into(), Value::String("@@ID@@".into()));
                }
                let text = app.to_string();
                let (a, b) = text.split_once("\"@@ID@@\"").unwrap_or((&text, ""));
                (a.to_string(), b.to_string())
            })
            .collect(),
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| LoadError::Options(format!("cannot build the HTTP client: {e}")))?;
    let endpoint = format!("{}/v1/reviews", opts.url.trim_end_matches('/'));
    let start = Instant::now();
    let deadline = start + opts.duration;
    let mut tasks = Vec::new();
    for w in 0..opts.concurrency {
        let (client, endpoint, bodies, key, prefix) =
            (client.clone(), endpoint.clone(), Arc::clone(&bodies), opts.api_key.clone(), opts.id_prefix.clone());
        tasks.push(tokio::spawn(async move {
            let mut me = Worker { latencies_us: Vec::new(), statuses: BTreeMap::new(), transport_errors: 0 };
            let mut n: usize = 0;
            while Instant::now() < deadline {
                let (a, b) = &bodies[(w + n * 7) % bodies.len()];
                let body = format!("{a}\"{prefix}-{w}-{n}\"{b}");
                n += 1;
                let mut req = client.post(&endpoint).header("content-type", "application/json").body(body);
                if let Some(k) = &key {
                    req = req.bearer_auth(k);
                }
                let t = Instant::now();
                match req.send().await {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let _ = resp.bytes().await;
                        me.latencies_us.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                        *me.statuses.entry(status).or_default() += 1;
                    }
                    Err(_) => me.transport_errors += 1,
                }
            }
            me
        }));
    }
    let mut latencies = Vec::new();
    let mut statuses = BTreeMap::new();
    let mut transport_errors = 0;
    for t in tasks {
        if let Ok(w) = t.await {
            latencies.extend(w.latencies_us);
            for (s, n) in w.statuses {
                *statuses.entry(s).or_default() += n;
            }
            transport_errors += w.transport_errors;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let created = statuses.get(&201).copied().unwrap_or(0);
    Ok(LoadReport {
        mix: bodies.len(),
        concurrency: opts.concurrency,
        seconds,
        requests: latencies.len() as u64,
        reviews_per_s: created as f64 / seconds,
        statuses,
        transport_errors,
        p50_ms: percentile(&latencies, 0.50),
        p95_ms: percentile(&latencies, 0.95),
        p99_ms: percentile(&latencies, 0.99),
        max_ms: latencies.last().map_or(0.0, |m| f64::from(*m) / 1000.0),
    })
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} clients, {:.1} s, mix of {} applications", self.concurrency, self.seconds, self.mix)?;
        writeln!(f, "requests      {}", self.requests)?;
        writeln!(f, "reviews/s     {:.0} (201 answers)", self.reviews_per_s)?;
        writeln!(
            f,
            "latency ms    p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}",
            self.p50_ms, self.p95_ms, self.p99_ms, self.max_ms
        )?;
        let statuses: Vec<String> = self.statuses.iter().map(|(s, n)| format!("{s}: {n}")).collect();
        writeln!(f, "statuses      {}", statuses.join(", "))?;
        write!(f, "transport errors {}", self.transport_errors)
    }
}
