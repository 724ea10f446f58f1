//! The service subcommands of the CLI (`serve`, `registry-serve`, `ledger`, `loadtest`):
//! wiring only; the work is in `oscar::server`, `oscar::ledger` and `oscar::tooling::loadtest`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use oscar::ledger::Ledger;
use oscar::ledger::checkpoint::{
    CheckpointDir, CheckpointError, CheckpointOptions, Checkpointer, KeyError, Proof, SigningKey, VerifierKey,
};
use oscar::registry::{JsonlRegistry, RemoteOptions};
use oscar::server::auth::{ApiKeys, Auth};
use oscar::server::{AppState, Limits};
use oscar::setup::{RegistrySource, ReviewerConfig};

use crate::ServeArgs;

/// Errors of the service subcommands.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Start(#[from] oscar::server::StartError),
    #[error(transparent)]
    Config(#[from] oscar::setup::ConfigError),
    #[error(transparent)]
    Restrictions(#[from] oscar::restrictions::RestrictionError),
    #[error(transparent)]
    Keys(#[from] oscar::server::auth::KeysError),
    #[error("{0}")]
    Auth(&'static str),
    #[error(transparent)]
    Ledger(#[from] oscar::ledger::LedgerError),
    #[error(transparent)]
    Load(#[from] oscar::tooling::loadtest::LoadError),
    #[error(transparent)]
    Registry(#[from] oscar::registry::LoadError),
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot serve on {0}: {1}")]
    Io(String, std::io::Error),
    #[error("cannot print JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("no review of application `{0}` in the ledger")]
    NotFound(String),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A checkpoint setting that cannot be used, with the flag that gave it.
    #[error("{0}: {1}")]
    Flag(&'static str, CheckpointError),
}

/// The key in the file `path`, given with `flag`, read by `parse`.
fn read_key<K>(path: &Path, flag: &'static str, parse: fn(&str) -> Result<K, KeyError>) -> Result<K, ServiceError> {
    let fail = |e| ServiceError::Flag(flag, e);
    let text = std::fs::read_to_string(path).map_err(|e| fail(CheckpointError::Io(path.to_path_buf(), e)))?;
    parse(&text).map_err(|e| fail(CheckpointError::Key(path.to_path_buf(), e)))
}

/// The checkpointer of `serve`, started on the directory and key its flags give.
fn start_checkpoints(
    ledger: &Arc<dyn Ledger>,
    dir: &Path,
    key: &Path,
    options: CheckpointOptions,
) -> Result<Checkpointer, ServiceError> {
    let key = read_key(key, "--checkpoint-key", SigningKey::parse)?;
    let flag = |e| ServiceError::Flag("--checkpoint-dir", e);
    let dir = CheckpointDir::create(dir).map_err(flag)?;
    Checkpointer::start(Arc::clone(ledger), dir, key, options).map_err(flag)
}

fn runtime() -> Result<tokio::runtime::Runtime, ServiceError> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(ServiceError::Runtime)
}

/// How `serve` authenticates: the keys of the file or of `OSCAR_API_KEYS` (one source; a
/// source without a key is refused), or none when `--no-auth` asks for it and no key is
/// given. Anything else stops the server: it never falls back to running open.
fn auth(file: Option<&Path>, no_auth: bool) -> Result<Auth, ServiceError> {
    let inline = match std::env::var("OSCAR_API_KEYS") {
        Ok(text) => Some(text),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(_)) => return Err(ServiceError::Auth("OSCAR_API_KEYS is not UTF-8 text")),
    };
    match (file, inline, no_auth) {
        (None, None, true) => Ok(Auth::Disabled),
        (Some(_), _, true) | (_, Some(_), true) => {
            Err(ServiceError::Auth("`--no-auth` (OSCAR_NO_AUTH) and API keys are both given; choose one"))
        }
        (Some(_), Some(_), false) => Err(ServiceError::Auth(
            "API keys are given both in a file (--api-keys, OSCAR_API_KEYS_FILE) and in OSCAR_API_KEYS; give them in one place",
        )),
        (Some(f), None, false) => Ok(Auth::Keys(ApiKeys::from_file(f)?)),
        (None, Some(text), false) => Ok(Auth::Keys(ApiKeys::parse("OSCAR_API_KEYS", &text)?)),
        (None, None, false) => Err(ServiceError::Auth(
            "no API keys: give --api-keys FILE (or OSCAR_API_KEYS_FILE, or the keys in OSCAR_API_KEYS), \
             or --no-auth to run without authentication",
        )),
    }
}

/// Where `serve` keeps the index of approved routes between runs: the file given, else
/// `LEDGER.route-index` beside a SQLite ledger; none for a PostgreSQL ledger unless given
/// (replicas sharing it each keep their own file).
fn index_cache(given: Option<PathBuf>, ledger: &Path) -> Option<PathBuf> {
    given.or_else(|| {
        oscar::ledger::postgres_url(ledger).is_none().then(|| {
            let mut beside = ledger.as_os_str().to_owned();
            beside.push(".route-index");
            PathBuf::from(beside)
        })
    })
}

/// `oscar serve`.
pub fn serve(args: ServeArgs) -> Result<u8, ServiceError> {
    oscar::server::log::init(args.log_format);
    let rt = runtime()?;
    rt.block_on(async move {
        let registry = match (args.registry, args.registry_url) {
            (_, Some(url)) => RegistrySource::Url(
                url,
                RemoteOptions {
                    call_timeout: Duration::from_millis(args.registry_timeout_ms),
                    retries: args.registry_retries,
                    breaker_failures: args.registry_breaker_failures,
                    breaker_pause: Duration::from_millis(args.registry_breaker_pause_ms),
                    ..RemoteOptions::default()
                },
            ),
            (Some(dir), None) => RegistrySource::Dir(dir),
            (None, None) => RegistrySource::Embedded,
        };
        let config = ReviewerConfig {
            registry,
            rules: args.rules,
            routes: args.routes,
            closures: args.closures,
            model: args.model,
        };
        let auth = auth(args.api_keys.as_deref(), args.no_auth)?;
        let limits = Limits {
            body_bytes: args.body_limit,
            request_timeout: Duration::from_millis(args.request_timeout_ms),
            header_timeout: Duration::from_millis(args.header_timeout_ms),
            max_clock_skew: (!args.trust_submitted_at)
                .then(|| chrono::TimeDelta::seconds(i64::from(args.max_clock_skew_s))),
            ..Limits::default()
        };
        let limits = Limits { concurrent_reviews: args.review_threads.unwrap_or(limits.concurrent_reviews), ..limits };
        let ledger_path = args.ledger.clone();
        let index_cache = index_cache(args.index_cache, &args.ledger);
        let full_sync = args.ledger_sync == crate::LedgerSync::Full;
        let handle = tokio::runtime::Handle::current();
        let checkpoints = args.checkpoint_dir.zip(args.checkpoint_key);
        let options = CheckpointOptions {
            every: args.checkpoint_every,
            interval: Duration::from_secs(args.checkpoint_seconds.get()),
        };
        let (state, checkpointer) = tokio::task::spawn_blocking(move || -> Result<_, ServiceError> {
            let ledger: Arc<dyn Ledger> = Arc::from(oscar::ledger::open(&ledger_path, full_sync)?);
            let checkpointer =
                checkpoints.map(|(dir, key)| start_checkpoints(&ledger, &dir, &key, options)).transpose()?;
            let state = AppState::from_config(config, ledger, auth, limits, Some(&handle), index_cache)?;
            Ok((state, checkpointer))
        })
        .await
        .map_err(|e| ServiceError::Runtime(std::io::Error::other(e.to_string())))??;
        let task = checkpointer.map(Checkpointer::spawn).transpose().map_err(ServiceError::Runtime)?;
        tracing::info!(ledger = %oscar::ledger::shown(&args.ledger), "reviewer and ledger ready");
        oscar::server::serve(args.addr, Arc::new(state), oscar::server::shutdown_signal()).await?;
        if let Some(task) = task {
            // The head signed once more on the way out.
            tokio::task::spawn_blocking(move || task.finish())
                .await
                .map_err(|e| ServiceError::Runtime(std::io::Error::other(e.to_string())))?;
        }
        Ok(0)
    })
}

/// `oscar registry-serve DIR`.
pub fn registry_serve(dir: &Path, addr: SocketAddr, delay_ms: u64) -> Result<u8, ServiceError> {
    oscar::server::log::init(oscar::server::log::LogFormat::Text);
    let registry = JsonlRegistry::load(dir)?;
    let rt = runtime()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| ServiceError::Io(addr.to_string(), e))?;
        tracing::info!(%addr, "registry listening");
        let app = oscar::server::registry::registry_app(Box::new(registry), Duration::from_millis(delay_ms));
        axum::serve(listener, app)
            .with_graceful_shutdown(oscar::server::shutdown_signal())
            .await
            .map_err(|e| ServiceError::Io(addr.to_string(), e))?;
        Ok(0)
    })
}

/// `oscar ledger init`.
pub fn ledger_init(path: &Path) -> Result<u8, ServiceError> {
    oscar::ledger::create(path)?;
    println!("{}: new empty ledger", oscar::ledger::shown(path));
    Ok(0)
}

/// `oscar ledger verify`: read-only, so it may run beside a server writing the file.
/// `checkpoints` (directory, public key) also checks the chain against them.
pub fn ledger_verify(path: &Path, json: bool, checkpoints: Option<(&Path, &Path)>) -> Result<u8, ServiceError> {
    let ledger = oscar::ledger::open_read_only(path)?;
    let report = ledger.verify()?;
    let checked = match checkpoints {
        Some((dir, key)) => {
            let key = read_key(key, "--public-key", VerifierKey::parse)?;
            let dir = CheckpointDir::open(dir).map_err(|e| ServiceError::Flag("--checkpoints", e))?;
            let first_broken = report.first_broken.as_ref().map(|b| b.seq);
            Some(oscar::ledger::checkpoint::verify_checkpoints(&*ledger, &dir, &key, first_broken)?.0)
        }
        None => None,
    };
    if json {
        let mut value = serde_json::to_value(&report)?;
        if let (Some(checked), Some(object)) = (&checked, value.as_object_mut()) {
            object.insert("checkpoints".into(), serde_json::to_value(checked)?);
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        let file = oscar::ledger::shown(path);
        if !report.storage_problems.is_empty() {
            let by = if oscar::ledger::postgres_url(path).is_some() { "the database" } else { "SQLite" };
            println!("{file}: the file is damaged ({} problem(s) found by {by}):", report.storage_problems.len());
            for p in &report.storage_problems {
                println!("  {p}");
            }
        }
        match (&report.first_broken, report.storage_problems.is_empty()) {
            (None, true) => println!("{file}: {} record(s), chain intact", report.records),
            (None, false) => println!("{file}: {} record(s), chain unbroken in a damaged file", report.records),
            (Some(b), _) => {
                println!("{file}: chain broken at record {} (application `{}`): {}", b.seq, b.application_id, b.problem)
            }
        }
        match &report.first_broken_decision {
            None => println!("{file}: {} decision(s), each bound to the review it decides", report.decisions),
            Some(b) => println!(
                "{file}: decisions broken at decision {} (application `{}`): {}",
                b.seq, b.application_id, b.problem
            ),
        }
        if let Some(c) = &checked {
            for p in &c.problems {
                println!("{file}: checkpoint {}: {}", p.file.display(), p.problem);
            }
            if c.problems.is_empty() {
                println!("{file}: {} checkpoint(s) valid, the first {} record(s) match them", c.checkpoints, c.covered);
            }
        }
    }
    let checkpoints_hold = checked.is_none_or(|c| c.problems.is_empty());
    Ok(u8::from(!(report.intact() && checkpoints_hold)))
}

/// Writes `text` to a new file at `path` (never over one) with the Unix permissions `mode`.
fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), ServiceError> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let io = |e| ServiceError::Flag("--out", CheckpointError::Io(path.to_path_buf(), e));
    let mut file = options.open(path).map_err(io)?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(io)
}

/// `oscar ledger keygen --out FILE`: FILE private (0600), FILE.pub public.
pub fn ledger_keygen(out: &Path, name: &str) -> Result<u8, ServiceError> {
    let key =
        SigningKey::generate(name).map_err(|e| ServiceError::Flag("--name", CheckpointError::Key(out.into(), e)))?;
    let public = key.verifier().to_text();
    let mut public_path = out.as_os_str().to_owned();
    public_path.push(".pub");
    let public_path = PathBuf::from(public_path);
    write_new(out, &format!("{}\n", key.to_text()), 0o600)?;
    if let Err(e) = write_new(&public_path, &format!("{public}\n"), 0o644) {
        // A FILE.pub already there belongs to another key: no private key is left without its own.
        let _ = std::fs::remove_file(out);
        return Err(e);
    }
    eprintln!("wrote the private key to {} and the public key to {}", out.display(), public_path.display());
    println!("{public}");
    Ok(0)
}

/// `oscar ledger prove ID` against the checkpoint `file`, else the latest in `dir`.
pub fn ledger_prove(
    path: &Path,
    id: &str,
    file: Option<&Path>,
    dir: Option<&Path>,
    key: &Path,
) -> Result<u8, ServiceError> {
    let key = read_key(key, "--public-key", VerifierKey::parse)?;
    let flag = |flag, path: &Path, e| ServiceError::Flag(flag, CheckpointError::Io(path.to_path_buf(), e));
    let none = || std::io::Error::new(std::io::ErrorKind::NotFound, "no checkpoint");
    let (file, note) = match (file, dir) {
        (Some(file), _) => {
            (file.to_path_buf(), std::fs::read_to_string(file).map_err(|e| flag("--checkpoint", file, e))?)
        }
        (None, Some(dir)) => CheckpointDir::open(dir)
            .and_then(|d| d.latest())
            .map_err(|e| ServiceError::Flag("--checkpoints", e))?
            .ok_or_else(|| flag("--checkpoints", dir, none()))?,
        (None, None) => return Err(flag("--checkpoints", Path::new(""), none())),
    };
    let ledger = oscar::ledger::open_read_only(path)?;
    let proof = oscar::ledger::checkpoint::prove(&*ledger, id, &file, &note, &key)?;
    println!("{}", serde_json::to_string_pretty(&proof)?);
    Ok(0)
}

/// `oscar ledger check-proof FILE`: no database.
pub fn ledger_check_proof(file: &Path, key: &Path) -> Result<u8, ServiceError> {
    let key = read_key(key, "--public-key", VerifierKey::parse)?;
    let text = std::fs::read_to_string(file).map_err(|e| CheckpointError::Io(file.to_path_buf(), e))?;
    let checked = serde_json::from_str::<Proof>(&text)
        .map_err(|e| format!("not a proof: {e}"))
        .and_then(|proof| oscar::ledger::checkpoint::check_proof(&proof, &key).map_err(|e| e.to_string()));
    match checked {
        Ok(p) => {
            println!(
                "{}: valid: application `{}` ({}) is record {} of the {} that `{}` signed",
                file.display(),
                p.application_id,
                p.verdict,
                p.seq,
                p.tree_size,
                p.origin
            );
            Ok(0)
        }
        Err(why) => {
            println!("{}: INVALID: {why}", file.display());
            Ok(1)
        }
    }
}

/// `oscar ledger replay ID`: the reviewer is built from the given data plus the
/// restrictions recorded before the review.
pub fn ledger_replay(path: &Path, id: &str, config: &ReviewerConfig, json: bool) -> Result<u8, ServiceError> {
    let ledger = oscar::ledger::open_read_only(path)?;
    let record = ledger.get(id)?.ok_or_else(|| ServiceError::NotFound(id.to_string()))?;
    let extra = oscar::restrictions::stored_closures(ledger.as_ref(), Some(&record.entry.recorded_at))?;
    let built = config.build(&extra, None)?;
    let report = oscar::ledger::replay(ledger.as_ref(), &built.reviewer, id)?
        .ok_or_else(|| ServiceError::NotFound(id.to_string()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let now = report.verdict_now.map_or("invalid now", oscar::review::Verdict::as_str);
        if report.identical {
            println!("{id}: identical to the recorded review ({})", report.recorded_verdict);
        } else {
            println!("{id}: DIFFERENT — recorded {}, now {now}", report.recorded_verdict);
        }
        for v in &report.versions {
            println!("  {} differs: recorded {}, now {}", v.name, v.recorded, v.now);
        }
        for i in &report.items {
            println!("  {}: recorded {}, now {}", i.id, i.recorded, i.now);
        }
        for e in &report.errors {
            println!("  {e}");
        }
    }
    Ok(u8::from(!report.identical))
}

/// `oscar loadtest`.
pub fn loadtest(opts: oscar::tooling::loadtest::LoadOptions, json: bool) -> Result<u8, ServiceError> {
    let rt = runtime()?;
    let report = rt.block_on(oscar::tooling::loadtest::run(opts))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(0)
}
